"""Hook implementations of the ``sqlite`` plugin (the ``agent_sdk`` entry point targets this).

Light on purpose: the storage module (and :mod:`sqlite3`) is imported only when the registry
is built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent_sdk import hookimpl

if TYPE_CHECKING:
    from agent_sdk.kinds.storage import StorageBackend


@hookimpl
def agent_sdk_register_storage_backends() -> list[type[StorageBackend]]:
    """Register :class:`~agent_sdk_sqlite.storage.SQLiteStorage` as storage ``sqlite``."""
    from agent_sdk_sqlite.storage import SQLiteStorage

    return [SQLiteStorage]
