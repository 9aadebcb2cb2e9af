"""Hook implementations of the ``sandbox-bwrap`` plugin (its entry point targets this module).

Light on purpose: the sandbox module (and asyncio, subprocess...) is imported only when the
registry is built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent_sdk import hookimpl

if TYPE_CHECKING:
    from agent_sdk.kinds.sandbox import Sandbox


@hookimpl
def agent_sdk_register_sandboxes() -> list[type[Sandbox]]:
    """Register :class:`~agent_sdk_sandbox_bwrap.sandbox.BwrapSandbox` as sandbox ``bwrap``."""
    from agent_sdk_sandbox_bwrap.sandbox import BwrapSandbox

    return [BwrapSandbox]
