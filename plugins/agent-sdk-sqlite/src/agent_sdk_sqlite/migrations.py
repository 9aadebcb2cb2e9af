"""Ordered schema migrations of the SQLite store.

Each migration is a function ``mNNN_<what>(conn)`` that issues plain SQL statements. They run
in the order of :data:`MIGRATIONS`, and each applied migration is recorded in the
``migrations`` table (``name``, ``applied_at``). :func:`migrate` applies the pending ones in a
single ``BEGIN IMMEDIATE`` transaction, so two processes opening one file at once do not
both migrate it, and a failure leaves the file as it was.

Rules for adding one:

* append a new function (``m003_...``) to :data:`MIGRATIONS`; never edit or reorder an
  applied migration, since existing files record it by name;
* one statement per ``conn.execute`` call (``executescript`` would commit the transaction);
* add a test that opens a file created at the previous migration and checks its data survives.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence

from agent_sdk.errors import StorageError

__all__ = [
    "MIGRATIONS",
    "REQUIRED_TABLES",
    "Migration",
    "applied_migrations",
    "check_store",
    "m001_initial",
    "m002_query_and_retention_indices",
    "migrate",
]

Migration = Callable[[sqlite3.Connection], None]


def m001_initial(conn: sqlite3.Connection) -> None:
    """Tables for runs, tasks, the step journal, the event timeline and alerts.

    JSON values are stored as TEXT (``json.dumps``); times are REAL Unix seconds. Children
    reference their run with ``ON DELETE CASCADE``, so deleting a run deletes its tasks, steps
    and events. ``(run_id, key)`` is unique in ``steps``: the journal's idempotency key.
    """
    conn.execute(
        """
        CREATE TABLE runs (
            id TEXT PRIMARY KEY,
            workflow TEXT NOT NULL,
            status TEXT NOT NULL,
            input TEXT NOT NULL,
            definition TEXT NOT NULL,
            output TEXT NOT NULL,
            error TEXT,
            usage TEXT NOT NULL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        )
        """
    )
    conn.execute(
        """
        CREATE TABLE tasks (
            run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            task_id TEXT NOT NULL,
            status TEXT NOT NULL,
            attempt INTEGER NOT NULL,
            output TEXT NOT NULL,
            error TEXT,
            started_at REAL,
            finished_at REAL,
            PRIMARY KEY (run_id, task_id)
        ) WITHOUT ROWID
        """
    )
    conn.execute(
        """
        CREATE TABLE steps (
            run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            seq INTEGER NOT NULL,
            task_id TEXT NOT NULL,
            key TEXT NOT NULL,
            type TEXT NOT NULL,
            data TEXT NOT NULL,
            created_at REAL NOT NULL,
            PRIMARY KEY (run_id, seq)
        ) WITHOUT ROWID
        """
    )
    conn.execute("CREATE UNIQUE INDEX steps_run_key ON steps (run_id, key)")
    conn.execute(
        """
        CREATE TABLE events (
            run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            seq INTEGER NOT NULL,
            type TEXT NOT NULL,
            task_id TEXT NOT NULL,
            data TEXT NOT NULL,
            created_at REAL NOT NULL,
            PRIMARY KEY (run_id, seq)
        ) WITHOUT ROWID
        """
    )
    conn.execute(
        """
        CREATE TABLE alerts (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            rule TEXT NOT NULL,
            severity TEXT NOT NULL,
            title TEXT NOT NULL,
            message TEXT NOT NULL,
            run_id TEXT NOT NULL,
            data TEXT NOT NULL,
            created_at REAL NOT NULL
        )
        """
    )


def m002_query_and_retention_indices(conn: sqlite3.Connection) -> None:
    """Indices for the listing queries and for retention.

    ``list_runs`` (newest first, by status, by workflow), ``get_steps`` of one task,
    ``list_alerts`` (newest first, by run) and ``purge`` (finished runs by last update,
    alerts by age).
    """
    conn.execute("CREATE INDEX runs_created ON runs (created_at)")
    conn.execute("CREATE INDEX runs_status_created ON runs (status, created_at)")
    conn.execute("CREATE INDEX runs_workflow_created ON runs (workflow, created_at)")
    conn.execute(
        "CREATE INDEX runs_finished_updated ON runs (updated_at) "
        "WHERE status IN ('succeeded', 'failed', 'cancelled')"
    )
    conn.execute("CREATE INDEX steps_run_task_seq ON steps (run_id, task_id, seq)")
    conn.execute("CREATE INDEX alerts_created ON alerts (created_at)")
    conn.execute("CREATE INDEX alerts_run_created ON alerts (run_id, created_at)")


MIGRATIONS: tuple[Migration, ...] = (m001_initial, m002_query_and_retention_indices)
"""Every migration, in the order they are applied."""

REQUIRED_TABLES = frozenset({"migrations", "runs", "tasks", "steps", "events", "alerts"})
"""Tables an agent-sdk SQLite store has once migrated."""


def _tables(conn: sqlite3.Connection) -> set[str]:
    rows = conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    ).fetchall()
    return {str(row[0]) for row in rows}


def applied_migrations(conn: sqlite3.Connection) -> list[str]:
    """Names recorded in the ``migrations`` table, in the order applied (``[]`` if none)."""
    if "migrations" not in _tables(conn):
        return []
    rows = conn.execute("SELECT name FROM migrations ORDER BY applied_at, rowid").fetchall()
    return [str(row[0]) for row in rows]


def check_store(
    conn: sqlite3.Connection, where: str, migrations: Sequence[Migration] = MIGRATIONS
) -> list[str]:
    """Check that *conn* holds an agent-sdk store (or nothing) this code can open.

    Args:
        conn: an open connection.
        where: the file, for messages.
        migrations: the migrations this code knows.

    Returns:
        The applied migration names (``[]`` for a blank database).

    Raises:
        StorageError: the database holds other tables but no agent-sdk ``migrations``
            record, or it records a migration this version does not know (written by a newer
            agent-sdk-sqlite).
    """
    tables = _tables(conn)
    if not tables:
        return []
    done = applied_migrations(conn)
    if MIGRATIONS[0].__name__ not in done:
        raise StorageError(
            f"{where} is a SQLite database but not an agent-sdk store (tables: "
            f"{', '.join(sorted(tables))}; no {MIGRATIONS[0].__name__!r} in a migrations table)",
            hint="point plugins.sqlite.path at a new file or at a file agent-sdk created",
        )
    known = {m.__name__ for m in migrations}
    unknown = [name for name in done if name not in known]
    if unknown:
        raise StorageError(
            f"{where} was migrated by a newer agent-sdk-sqlite (unknown migrations: "
            f"{', '.join(unknown)})",
            hint="upgrade agent-sdk-sqlite, or restore a backup taken with this version",
        )
    return done


def migrate(
    conn: sqlite3.Connection, where: str, migrations: Sequence[Migration] = MIGRATIONS
) -> list[str]:
    """Apply the pending *migrations* in one transaction and record each one.

    Idempotent: migrations already recorded are skipped. *conn* must be in autocommit mode
    (``isolation_level=None``) with no transaction open.

    Args:
        conn: the connection.
        where: the file, for messages.
        migrations: the migrations to bring the store to (default: all of them).

    Returns:
        The names of the migrations applied now (``[]`` if the store was up to date).

    Raises:
        StorageError: see :func:`check_store`.
        sqlite3.Error: a statement failed; nothing was changed.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        done = set(check_store(conn, where, migrations))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS migrations "
            "(name TEXT PRIMARY KEY, applied_at REAL NOT NULL)"
        )
        applied: list[str] = []
        for migration in migrations:
            name = migration.__name__
            if name in done:
                continue
            migration(conn)
            conn.execute(
                "INSERT INTO migrations (name, applied_at) VALUES (?, ?)", (name, time.time())
            )
            applied.append(name)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return applied
