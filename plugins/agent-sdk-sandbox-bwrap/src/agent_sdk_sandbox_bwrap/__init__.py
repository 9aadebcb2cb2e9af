"""agent-sdk-sandbox-bwrap: the default sandbox, bubblewrap (``[plugins.sandbox-bwrap]``).

``BwrapSandbox`` is imported on first access, so loading the plugin's entry point
(:mod:`agent_sdk_sandbox_bwrap.hooks`) stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["BwrapSandbox", "__version__"]

if TYPE_CHECKING:
    from agent_sdk_sandbox_bwrap.sandbox import BwrapSandbox


def __getattr__(name: str) -> Any:
    if name == "BwrapSandbox":
        from agent_sdk_sandbox_bwrap.sandbox import BwrapSandbox

        return BwrapSandbox
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
