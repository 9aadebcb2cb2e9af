"""Griffe extension: render the Sphinx roles used in agent-sdk docstrings as cross-references.

The kernel's docstrings are Google style with Sphinx-style roles (``:class:`~agent_sdk.x.Y```),
which read well in editors and ``help()``. mkdocstrings renders Markdown, so this extension
rewrites each role into an *optional* autorefs link: a link when the target is documented in
these pages, plain code otherwise (an undocumented target never breaks the strict build).
It also turns reST's ``Example::`` literal-block marker into a plain colon.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE_RE = re.compile(r":(?:py:)?(?:class|func|meth|mod|data|attr|exc|obj|const):`(~?)([\w.]+)`")


def _replace_role(match: re.Match[str]) -> str:
    short, target = match.group(1), match.group(2)
    title = target.rsplit(".", 1)[-1] if short else target
    if "." not in target:
        return f"`{title}`"
    return f'<autoref identifier="{target}" optional><code>{title}</code></autoref>'


def rewrite(text: str) -> str:
    """Return docstring *text* with Sphinx roles and ``::`` markers converted."""
    text = _ROLE_RE.sub(_replace_role, text)
    return re.sub(r"(?<=\S)::\n", ":\n", text)


class SphinxRoles(griffe.Extension):
    """Rewrite every docstring once the object tree is complete."""

    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = rewrite(obj.docstring.value)

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        # The package itself is not passed to on_object.
        self.on_object(obj=pkg)
