"""agent-sdk-sqlite: the embedded default storage backend (``[plugins.sqlite]``).

``SQLiteStorage`` is imported on first access, so loading the plugin's entry point
(:mod:`agent_sdk_sqlite.hooks`) stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["SQLiteStorage", "__version__"]

if TYPE_CHECKING:
    from agent_sdk_sqlite.storage import SQLiteStorage


def __getattr__(name: str) -> Any:
    if name == "SQLiteStorage":
        from agent_sdk_sqlite.storage import SQLiteStorage

        return SQLiteStorage
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
