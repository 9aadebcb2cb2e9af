"""Hook implementations of the tools plugin (the target of its ``agent_sdk`` entry point).

Every agent-sdk application imports this module at start-up, so keep it light: import
``agent_sdk`` and this package's component modules only, and import vendor SDKs inside the
components that use them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent_sdk import hookimpl

if TYPE_CHECKING:
    from agent_sdk.kinds.tool import Tool


@hookimpl
def agent_sdk_register_tools() -> list[type[Tool]]:
    """Register this plugin's tools."""
    from agent_sdk_tools.tools import Echo

    return [Echo]
