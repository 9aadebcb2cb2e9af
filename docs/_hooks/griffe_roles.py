"""Griffe extension: render the reST used in agent-sdk docstrings as Markdown.

The kernel's docstrings are Google style with a little reStructuredText, which reads well in
editors and ``help()``; mkdocstrings renders Markdown. This extension rewrites, once per
docstring:

* Sphinx roles (``:class:`~agent_sdk.x.Y```) into *optional* autorefs links: a link when the
  target is documented in these pages, plain code otherwise (an undocumented target never
  breaks the strict build);
* reST's ``Example::`` literal-block marker into a plain colon (the indented block after it is
  already a Markdown code block);
* reST *simple tables* (columns under ``=====  =====`` borders) into Markdown tables;
* a ``Returns:``/``Yields:`` section whose first line has a colon that does not follow a type
  (``The number deleted. Default: 0``) gets a leading ``": "``, so griffe takes the type from
  the signature instead of reading ``The number deleted. Default`` as the type.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE_RE = re.compile(r":(?:py:)?(?:class|func|meth|mod|data|attr|exc|obj|const):`(~?)([\w.]+)`")
_BORDER_RE = re.compile(r"^=+(?: +=+)+ *$")
_RETURNS_RE = re.compile(
    r"^(?P<head>(?:Returns|Yields):[ \t]*\n(?P<indent>[ \t]+))(?P<first>.*)$", re.M
)
_TYPE = r"[\w.]+(?:\[[\w.,| \[\]]*\])?"
_ANNOTATION_RE = re.compile(rf"\(?{_TYPE}(?: *\| *{_TYPE})*\)?")


def _replace_role(match: re.Match[str]) -> str:
    short, target = match.group(1), match.group(2)
    title = target.rsplit(".", 1)[-1] if short else target
    if "." not in target:
        return f"`{title}`"
    return f'<autoref identifier="{target}" optional><code>{title}</code></autoref>'


def _escape_pipes(text: str) -> str:
    """``|`` escaped for a Markdown table cell, outside code spans (inside, it is literal)."""
    parts = re.split(r"(``.+?``|`[^`]+`)", text)
    for i in range(0, len(parts), 2):
        parts[i] = parts[i].replace("|", "\\|")
    return "".join(parts)


def _cells(line: str, starts: list[int]) -> list[str]:
    bounds = [*starts[1:], None]
    return [_escape_pipes(line[a:b].strip()) for a, b in zip(starts, bounds, strict=True)]


def _markdown_table(border: str, header: list[str], body: list[str]) -> list[str]:
    starts = [m.start() for m in re.finditer(r"=+", border)]
    rows: list[list[str]] = []
    for line in body:
        if not line.strip():
            continue
        cells = _cells(line, starts)
        if rows and not cells[0]:  # a continuation line: the first column is empty
            rows[-1] = [f"{a} {b}".strip() for a, b in zip(rows[-1], cells, strict=True)]
        else:
            rows.append(cells)
    columns = zip(*(_cells(h, starts) for h in header), strict=True)
    titles = [" ".join(parts).strip() for parts in columns]
    lines = ["", "| " + " | ".join(titles) + " |", "|" + "---|" * len(starts)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return [*lines, ""]


def simple_tables(text: str) -> str:
    """Return *text* with each unindented reST simple table turned into a Markdown table.

    A table is a border line, header lines, the same border, body lines, and the border again.
    Anything that does not complete that shape is left as it is.
    """
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        border = lines[i]
        if not _BORDER_RE.match(border):
            out.append(border)
            i += 1
            continue
        ends = [j for j in range(i + 1, len(lines)) if lines[j].rstrip() == border.rstrip()][:2]
        if len(ends) < 2:
            out.append(border)
            i += 1
            continue
        header, body = lines[i + 1 : ends[0]], lines[ends[0] + 1 : ends[1]]
        out += _markdown_table(border, header, body)
        i = ends[1] + 1
    return "\n".join(out)


def _untyped_returns(match: re.Match[str]) -> str:
    first = match.group("first")
    before, colon, _ = first.partition(":")
    if not colon or _ANNOTATION_RE.fullmatch(before.strip()):
        return match.group(0)
    return f"{match.group('head')}: {first}"


def rewrite(text: str) -> str:
    """Return docstring *text* with roles, ``::`` markers, tables and returns converted."""
    text = _ROLE_RE.sub(_replace_role, text)
    text = re.sub(r"(?<=\S)::\n", ":\n", text)
    text = _RETURNS_RE.sub(_untyped_returns, text)
    return simple_tables(text)


class SphinxRoles(griffe.Extension):
    """Rewrite every docstring once the object tree is complete."""

    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = rewrite(obj.docstring.value)

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        # The package itself is not passed to on_object.
        self.on_object(obj=pkg)
