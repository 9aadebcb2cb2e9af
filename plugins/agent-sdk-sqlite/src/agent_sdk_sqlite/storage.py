"""The ``sqlite`` storage backend: an embedded, durable journal in one SQLite file.

Plain :mod:`sqlite3`, no ORM. The file is in WAL mode with foreign keys on; every method is one
transaction; the schema is brought up to date by :mod:`agent_sdk_sqlite.migrations` when the
store is opened.

Durability: a method returns only after its transaction is committed. With the default
``synchronous = "normal"`` a commit is in the operating system's hands when the call returns,
so it survives the *process* dying (crash, ``kill -9``) but not a power cut or kernel panic
that loses the last commits; ``synchronous = "full"`` fsyncs every commit and survives those
too, at the price of a disk flush per transaction.

Threads (see :mod:`agent_sdk_sqlite._engine`): one worker thread owns the connection. In
``mode = "thread"`` (default) every call runs there, so the event loop never waits on the disk
or on another process's lock; writes queued together are committed in one transaction. In
``mode = "inline"`` a write that can start at once runs on the calling thread (no hand-off),
anything that would wait runs on the worker. WAL checkpoints run on a thread of their own.

Redaction: the step journal and run/task ``input``/``output`` are stored exactly as given
(resuming a run replays them, so they must round-trip). ``EventRecord.data``, the ``title``,
``message`` and ``data`` of alerts, and every ``error`` dict are passed through
:meth:`agent_sdk.secrets.REDACTOR.redact_value` before they are written.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar, get_args
from urllib.parse import quote

import attrs
from pydantic import BaseModel, Field, model_validator

from agent_sdk.errors import StorageError
from agent_sdk.kinds.base import EmptyConfig
from agent_sdk.kinds.storage import (
    AlertRecord,
    EventRecord,
    RunRecord,
    RunStatus,
    StepRecord,
    StorageBackend,
    TaskRecord,
    TaskStatus,
)
from agent_sdk.secrets import REDACTOR
from agent_sdk_sqlite._engine import Checkpointer, Engine, JobKind
from agent_sdk_sqlite.migrations import REQUIRED_TABLES, check_store, migrate

__all__ = ["SQLiteStorage"]

T = TypeVar("T")

MEMORY = ":memory:"
BACKSTOP_CHECKPOINT_PAGES = 10_000
"""WAL pages after which a commit checkpoints itself (if the checkpointer fell behind)."""
JOURNAL_SIZE_LIMIT = 64 * 1024 * 1024
"""Bytes the WAL file is truncated back to after a checkpoint."""
RETENTION_CHECK_S = 3600.0
"""How often (seconds) an open store with ``retention_days`` purges old runs."""

_RUN_STATUSES = frozenset(get_args(RunStatus))
_TASK_STATUSES = frozenset(get_args(TaskStatus))
_RUN_UPDATABLE = ("status", "output", "error", "usage", "updated_at")
_FINISHED_SQL = "status IN ('succeeded', 'failed', 'cancelled')"
"""Finished runs (``TERMINAL_RUN_STATES``); must match the ``runs_finished_updated`` index."""
_SQLITE_HEADER = b"SQLite format 3\x00"

_RUN_COLUMNS = (
    "id, workflow, status, input, definition, output, error, usage, created_at, updated_at"
)
_TASK_COLUMNS = "run_id, task_id, status, attempt, output, error, started_at, finished_at"
_STEP_COLUMNS = "run_id, task_id, key, type, data, seq, created_at"
_EVENT_COLUMNS = "run_id, type, task_id, data, seq, created_at"
_ALERT_COLUMNS = "rule, severity, title, message, run_id, data, id, created_at"


def _dumps(value: Any, what: str) -> str:
    try:
        return json.dumps(value, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise StorageError(
            f"{what}: the value is not JSON ({exc})",
            hint="store only dict, list, str, int, float, bool and None; convert objects "
            "first (e.g. model.model_dump(mode='json'))",
        ) from exc


def _dumps_error(error: dict[str, Any] | None, what: str) -> str | None:
    return None if error is None else _dumps(REDACTOR.redact_value(error), what)


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _run_from_row(row: Sequence[Any]) -> RunRecord:
    return RunRecord(
        id=row[0],
        workflow=row[1],
        status=row[2],
        input=_loads(row[3]),
        definition=_loads(row[4]),
        output=_loads(row[5]),
        error=_loads(row[6]),
        usage=_loads(row[7]),
        created_at=row[8],
        updated_at=row[9],
    )


def _task_from_row(row: Sequence[Any]) -> TaskRecord:
    return TaskRecord(
        run_id=row[0],
        task_id=row[1],
        status=row[2],
        attempt=row[3],
        output=_loads(row[4]),
        error=_loads(row[5]),
        started_at=row[6],
        finished_at=row[7],
    )


def _step_from_row(row: Sequence[Any]) -> StepRecord:
    return StepRecord(
        run_id=row[0],
        task_id=row[1],
        key=row[2],
        type=row[3],
        data=_loads(row[4]),
        seq=row[5],
        created_at=row[6],
    )


def _event_from_row(row: Sequence[Any]) -> EventRecord:
    return EventRecord(
        run_id=row[0],
        type=row[1],
        task_id=row[2],
        data=_loads(row[3]),
        seq=row[4],
        created_at=row[5],
    )


def _alert_from_row(row: Sequence[Any]) -> AlertRecord:
    return AlertRecord(
        rule=row[0],
        severity=row[1],
        title=row[2],
        message=row[3],
        run_id=row[4],
        data=_loads(row[5]),
        id=row[6],
        created_at=row[7],
    )


def _is_missing_run(exc: sqlite3.IntegrityError) -> bool:
    return "FOREIGN KEY" in str(exc).upper()


def _hint_for(exc: BaseException, config: SQLiteStorage.Config) -> str:
    text = str(exc).lower()
    if "locked" in text or "busy" in text:
        return (
            f"another connection held the write lock for more than busy_timeout_s="
            f"{config.busy_timeout_s:g}; stop the other writer or raise "
            "plugins.sqlite.busy_timeout_s"
        )
    if "unable to open" in text:
        return "check that the directory exists and is writable, or change plugins.sqlite.path"
    if "readonly" in text or "read-only" in text:
        return "the file or its directory is read-only; fix its permissions"
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        return "the file is damaged or not SQLite; restore a backup or use a new path"
    if "disk" in text or "full" in text or "i/o" in text:
        return "check free disk space and the health of the disk holding the file"
    if "closed" in text:
        return "await storage.open() before using the store, and do not use it after close()"
    return "this may be a bug in agent-sdk-sqlite; please report it with the full message"


class SQLiteStorage(StorageBackend):
    """Runs, tasks, the step journal, events and alerts in one SQLite file.

    See the package README for the configuration keys, backup/restore and retention.
    """

    name: ClassVar[str] = "sqlite"
    description: ClassVar[str] = "Embedded storage in one SQLite file (WAL, durable journal)."

    class Config(EmptyConfig):
        """Settings of ``[plugins.sqlite]``."""

        path: str = Field(
            "agent-sdk.db",
            description="Database file. A relative path is relative to the working directory "
            "when the store is opened; missing parent directories are created. ':memory:' "
            "keeps everything in memory until close (tests only).",
        )
        mode: Literal["thread", "inline"] = Field(
            "thread",
            description="'thread': every call runs on one dedicated thread that owns the "
            "connection, so the event loop never waits on the disk or on a lock; writes "
            "queued together are committed together. 'inline': a write runs directly on the "
            "calling thread when it can start at once, saving the thread hand-off; the event "
            "loop is then busy for the write itself (tens of microseconds). A write that "
            "would wait for a lock, and every read, runs on the worker thread. Not allowed "
            "with synchronous = 'full'.",
        )
        synchronous: Literal["normal", "full"] = Field(
            "normal",
            description="'normal': a returned call survives a crash or kill -9 of the process "
            "(WAL, no fsync per commit). 'full': fsync every commit, so it also survives a "
            "power loss or OS crash; slower.",
        )
        busy_timeout_s: float = Field(
            5.0,
            ge=0,
            description="Seconds to wait for another process's write lock before failing.",
        )
        retention_days: float | None = Field(
            None,
            gt=0,
            description="Delete finished runs (with their tasks, steps and events) and alerts "
            "older than this many days, when the store opens and then hourly. None keeps "
            "everything.",
        )

        @model_validator(mode="after")
        def _inline_never_fsyncs_on_the_loop(self) -> SQLiteStorage.Config:
            if self.mode == "inline" and self.synchronous == "full":
                raise ValueError(
                    "mode = 'inline' with synchronous = 'full' would fsync on the event loop's "
                    "thread at every write; use mode = 'thread' with synchronous = 'full'"
                )
            return self

    def __init__(self, config: BaseModel | None = None) -> None:
        super().__init__(config)
        if not isinstance(self.config, SQLiteStorage.Config):
            self.config = SQLiteStorage.Config.model_validate(self.config.model_dump())
        self.settings: SQLiteStorage.Config = self.config
        self._engine: Engine | None = None
        self._path: Path | None = None
        self._where = self.settings.path

    @property
    def path(self) -> Path | None:
        """The database file once opened (absolute), or ``None`` for ``:memory:``."""
        return self._path

    def __repr__(self) -> str:
        return f"<SQLiteStorage {self._where}>"

    # --- plumbing ------------------------------------------------------------------------

    def _wrap(self, what: str, exc: BaseException) -> BaseException:
        if isinstance(exc, StorageError):
            return exc
        if not isinstance(exc, Exception):
            return exc
        detail = str(exc) or type(exc).__name__
        return StorageError(
            f"sqlite storage {self._where}: {what} failed: {detail}",
            hint=_hint_for(exc, self.settings),
        )

    def _require_engine(self, what: str) -> Engine:
        engine = self._engine
        if engine is None:
            raise StorageError(
                f"sqlite storage {self._where}: {what} called while the store is not open",
                hint="await storage.open() first (and do not use the store after close())",
            )
        return engine

    async def _call(self, kind: JobKind, what: str, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await self._require_engine(what).call(kind, what, fn)

    def _connect(self) -> sqlite3.Connection:
        """Open the main connection, set it up and migrate (runs on the worker thread)."""
        cfg = self.settings
        target = MEMORY if self._path is None else str(self._path)
        if self._path is not None:
            self._path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(
            target,
            timeout=cfg.busy_timeout_s,
            isolation_level=None,
            check_same_thread=False,
            cached_statements=256,
        )
        try:
            conn.execute("PRAGMA foreign_keys = ON")
            if self._path is not None:
                mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    from agent_sdk.logging import get_logger

                    get_logger(__name__).warning(
                        "sqlite_wal_unavailable", path=target, journal_mode=mode
                    )
                # The checkpointer thread keeps the WAL small; this is only the backstop.
                conn.execute(f"PRAGMA wal_autocheckpoint = {BACKSTOP_CHECKPOINT_PAGES}")
            conn.execute(f"PRAGMA synchronous = {cfg.synchronous.upper()}")
            conn.execute(f"PRAGMA journal_size_limit = {JOURNAL_SIZE_LIMIT}")
            migrate(conn, target)
            if cfg.retention_days is not None:
                self._purge_sync(conn, time.time() - cfg.retention_days * 86400.0)
            if cfg.mode == "inline":
                # a write attempted on the event loop's thread must never wait for a lock
                conn.execute("PRAGMA busy_timeout = 0")
        except BaseException:
            conn.close()
            raise
        return conn

    def _connect_checkpointer(self) -> sqlite3.Connection:
        assert self._path is not None
        conn = sqlite3.connect(
            str(self._path),
            timeout=self.settings.busy_timeout_s,
            isolation_level=None,
            check_same_thread=False,
        )
        conn.execute(f"PRAGMA synchronous = {self.settings.synchronous.upper()}")
        return conn

    def _purge_sync(self, conn: sqlite3.Connection, cutoff: float) -> int:
        conn.execute("BEGIN IMMEDIATE")
        try:
            deleted = conn.execute(
                f"DELETE FROM runs WHERE {_FINISHED_SQL} AND updated_at < ?", (cutoff,)
            ).rowcount
            conn.execute("DELETE FROM alerts WHERE created_at < ?", (cutoff,))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return int(deleted)

    def _retention(self, conn: sqlite3.Connection) -> None:
        days = self.settings.retention_days
        if days is None:
            return
        deleted = self._purge_sync(conn, time.time() - days * 86400.0)
        if deleted:
            from agent_sdk.logging import get_logger

            get_logger(__name__).info("sqlite_runs_purged", path=self._where, runs=deleted)

    # --- lifecycle -----------------------------------------------------------------------

    async def open(self) -> None:
        """Open (creating it if needed) the file, enable WAL and apply pending migrations.

        Calling it on an open store does nothing. With ``retention_days`` set, old finished
        runs are purged now and then hourly while the store stays open.

        Raises:
            StorageError: the file cannot be opened or created, is not an agent-sdk store,
                or was migrated by a newer version.
        """
        if self._engine is not None:
            return
        cfg = self.settings
        if cfg.path == MEMORY:
            self._path = None
            self._where = MEMORY
        else:
            self._path = _absolute(cfg.path)
            self._where = str(self._path)
        periodic = None
        if cfg.retention_days is not None:
            periodic = (RETENTION_CHECK_S, self._retention)
        engine = Engine(
            self._path.name if self._path else MEMORY,
            inline=cfg.mode == "inline",
            busy_timeout_ms=round(cfg.busy_timeout_s * 1000),
            wrap=self._wrap,
            periodic=periodic,
        )
        checkpointer = None
        if self._path is not None:
            checkpointer = Checkpointer(self._connect_checkpointer, self._path)
        engine.start()
        try:
            await engine.open(self._connect, checkpointer)
        except BaseException:
            await engine.close()
            raise
        self._engine = engine

    async def close(self) -> None:
        """Wait for queued calls, close the connection and stop the worker. Safe to repeat."""
        engine, self._engine = self._engine, None
        if engine is not None:
            await engine.close()

    # --- runs ----------------------------------------------------------------------------

    def _check_status(self, status: str, allowed: frozenset[str], what: str) -> None:
        if status not in allowed:
            raise StorageError(
                f"sqlite storage {self._where}: {what}: unknown status {status!r}",
                hint=f"use one of {', '.join(sorted(allowed))}",
            )

    async def create_run(self, run: RunRecord) -> None:
        """Insert *run*; ``created_at``/``updated_at`` of 0 become now.

        Raises:
            StorageError: ``run.id`` exists, a value is not JSON, or the write failed.
        """
        what = f"create_run({run.id!r})"
        self._check_status(run.status, _RUN_STATUSES, what)
        created = run.created_at or time.time()
        row = (
            run.id,
            run.workflow,
            run.status,
            _dumps(run.input, what),
            _dumps(run.definition, what),
            _dumps(run.output, what),
            _dumps_error(run.error, what),
            _dumps(run.usage, what),
            created,
            run.updated_at or created,
        )
        where = self._where

        def job(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(f"INSERT INTO runs ({_RUN_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?)", row)
            except sqlite3.IntegrityError as exc:
                raise StorageError(
                    f"sqlite storage {where}: run {run.id!r} already exists",
                    hint="start a new run with a new id, or resume the existing run",
                ) from exc

        await self._call("write", what, job)

    async def get_run(self, run_id: str) -> RunRecord | None:
        """Return the run, or ``None`` if unknown."""

        def job(conn: sqlite3.Connection) -> RunRecord | None:
            row = conn.execute(
                f"SELECT {_RUN_COLUMNS} FROM runs WHERE id = ?", (run_id,)
            ).fetchone()
            return None if row is None else _run_from_row(row)

        return await self._call("read", f"get_run({run_id!r})", job)

    async def update_run(self, run_id: str, **fields: Any) -> None:
        """Set ``status``, ``output``, ``error``, ``usage``; ``updated_at`` defaults to now.

        Raises:
            StorageError: unknown run, a field that is not updatable, an unknown status, or a
                value that is not JSON.
        """
        what = f"update_run({run_id!r})"
        unknown = sorted(set(fields) - set(_RUN_UPDATABLE))
        if unknown:
            raise StorageError(
                f"sqlite storage {self._where}: {what}: field(s) {', '.join(unknown)} cannot "
                "be updated",
                hint=f"update_run accepts {', '.join(_RUN_UPDATABLE)}",
            )
        assignments: list[str] = []
        params: list[Any] = []
        if "status" in fields:
            self._check_status(fields["status"], _RUN_STATUSES, what)
            assignments.append("status = ?")
            params.append(fields["status"])
        if "output" in fields:
            assignments.append("output = ?")
            params.append(_dumps(fields["output"], what))
        if "error" in fields:
            assignments.append("error = ?")
            params.append(_dumps_error(fields["error"], what))
        if "usage" in fields:
            assignments.append("usage = ?")
            params.append(_dumps(fields["usage"], what))
        assignments.append("updated_at = ?")
        updated_at = fields.get("updated_at") or time.time()
        if not isinstance(updated_at, int | float):
            raise StorageError(
                f"sqlite storage {self._where}: {what}: updated_at must be Unix seconds, "
                f"found {updated_at!r}"
            )
        params.append(float(updated_at))
        params.append(run_id)
        sql = f"UPDATE runs SET {', '.join(assignments)} WHERE id = ?"
        where = self._where

        def job(conn: sqlite3.Connection) -> None:
            if conn.execute(sql, params).rowcount == 0:
                raise StorageError(
                    f"sqlite storage {where}: {what}: no run {run_id!r}",
                    hint="create_run() first; list runs with `agent-sdk runs list`",
                )

        await self._call("write", what, job)

    async def list_runs(
        self, *, limit: int = 50, status: str | None = None, workflow: str | None = None
    ) -> list[RunRecord]:
        """Return up to *limit* runs, newest (``created_at``) first, optionally filtered."""
        clauses: list[str] = []
        params: list[Any] = []
        if status is not None:
            clauses.append("status = ?")
            params.append(status)
        if workflow is not None:
            clauses.append("workflow = ?")
            params.append(workflow)
        where_sql = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        params.append(max(0, limit))
        sql = (
            f"SELECT {_RUN_COLUMNS} FROM runs{where_sql} "
            "ORDER BY created_at DESC, rowid DESC LIMIT ?"
        )

        def job(conn: sqlite3.Connection) -> list[RunRecord]:
            return [_run_from_row(row) for row in conn.execute(sql, params)]

        return await self._call("read", "list_runs", job)

    # --- tasks ---------------------------------------------------------------------------

    async def save_task(self, task: TaskRecord) -> None:
        """Insert or replace the state of ``(task.run_id, task.task_id)``.

        Raises:
            StorageError: the run does not exist, an unknown status, or a value is not JSON.
        """
        what = f"save_task({task.run_id!r}, {task.task_id!r})"
        self._check_status(task.status, _TASK_STATUSES, what)
        row = (
            task.run_id,
            task.task_id,
            task.status,
            task.attempt,
            _dumps(task.output, what),
            _dumps_error(task.error, what),
            task.started_at,
            task.finished_at,
        )
        where = self._where

        def job(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(
                    f"INSERT OR REPLACE INTO tasks ({_TASK_COLUMNS}) VALUES (?,?,?,?,?,?,?,?)",
                    row,
                )
            except sqlite3.IntegrityError as exc:
                if _is_missing_run(exc):
                    raise _no_run(where, what, task.run_id) from exc
                raise

        await self._call("write", what, job)

    async def list_tasks(self, run_id: str) -> list[TaskRecord]:
        """Return the run's tasks, ordered by task id."""

        def job(conn: sqlite3.Connection) -> list[TaskRecord]:
            rows = conn.execute(
                f"SELECT {_TASK_COLUMNS} FROM tasks WHERE run_id = ? ORDER BY task_id", (run_id,)
            )
            return [_task_from_row(row) for row in rows]

        return await self._call("read", f"list_tasks({run_id!r})", job)

    # --- journal -------------------------------------------------------------------------

    async def append_step(self, step: StepRecord) -> StepRecord:
        """Append *step*; return it with ``seq`` (1, 2, ... per run) and ``created_at``.

        Idempotent per ``(run_id, key)``: a recorded key returns the recorded step unchanged
        and writes nothing. Step data is stored as given (not redacted).

        Raises:
            StorageError: the run does not exist, the data is not JSON, or the write failed.
        """
        what = f"append_step({step.run_id!r}, {step.key!r})"
        data = _dumps(step.data, what)
        created = step.created_at or time.time()
        run_id, key = step.run_id, step.key
        where = self._where

        def job(conn: sqlite3.Connection) -> StepRecord:
            seq = conn.execute(
                "SELECT COALESCE(MAX(seq), 0) + 1 FROM steps WHERE run_id = ?", (run_id,)
            ).fetchone()[0]
            try:
                inserted = conn.execute(
                    f"INSERT OR IGNORE INTO steps ({_STEP_COLUMNS}) VALUES (?,?,?,?,?,?,?)",
                    (run_id, step.task_id, key, step.type, data, seq, created),
                ).rowcount
            except sqlite3.IntegrityError as exc:
                if _is_missing_run(exc):
                    raise _no_run(where, what, run_id) from exc
                raise
            if inserted:
                return attrs.evolve(step, seq=seq, created_at=created)
            # (run_id, key) is recorded: the only constraint OR IGNORE can skip here
            row = conn.execute(
                f"SELECT {_STEP_COLUMNS} FROM steps WHERE run_id = ? AND key = ?", (run_id, key)
            ).fetchone()
            if row is None:
                raise StorageError(
                    f"sqlite storage {where}: {what}: the step was rejected (a field is None)",
                    hint="run_id, task_id, key and type must be strings",
                )
            return _step_from_row(row)

        return await self._call("write", what, job)

    async def get_steps(self, run_id: str, task_id: str | None = None) -> list[StepRecord]:
        """Return the run's steps (optionally one task's), in ``seq`` order."""
        if task_id is None:
            sql = f"SELECT {_STEP_COLUMNS} FROM steps WHERE run_id = ? ORDER BY seq"
            params: tuple[str, ...] = (run_id,)
        else:
            sql = f"SELECT {_STEP_COLUMNS} FROM steps WHERE run_id = ? AND task_id = ? ORDER BY seq"
            params = (run_id, task_id)

        def job(conn: sqlite3.Connection) -> list[StepRecord]:
            return [_step_from_row(row) for row in conn.execute(sql, params)]

        return await self._call("read", f"get_steps({run_id!r})", job)

    # --- events and alerts ---------------------------------------------------------------

    async def append_events(self, events: Sequence[EventRecord]) -> None:
        """Append events (data redacted) to their runs' timelines in one transaction.

        Raises:
            StorageError: a run does not exist or a value is not JSON; nothing is written.
        """
        if not events:
            return
        what = f"append_events({len(events)} event(s))"
        now = time.time()
        prepared = [
            (
                ev.run_id,
                ev.type,
                ev.task_id,
                _dumps(REDACTOR.redact_value(ev.data), what),
                ev.created_at or now,
            )
            for ev in events
        ]
        where = self._where

        def job(conn: sqlite3.Connection) -> None:
            next_seq: dict[str, int] = {}
            rows = []
            for run_id, type_, task_id, data, created in prepared:
                seq = next_seq.get(run_id)
                if seq is None:
                    seq = conn.execute(
                        "SELECT COALESCE(MAX(seq), 0) + 1 FROM events WHERE run_id = ?", (run_id,)
                    ).fetchone()[0]
                next_seq[run_id] = seq + 1
                rows.append((run_id, type_, task_id, data, seq, created))
            try:
                conn.executemany(
                    f"INSERT INTO events ({_EVENT_COLUMNS}) VALUES (?,?,?,?,?,?)", rows
                )
            except sqlite3.IntegrityError as exc:
                if _is_missing_run(exc):
                    missing = sorted(next_seq)
                    raise _no_run(where, what, ", ".join(missing)) from exc
                raise

        await self._call("write", what, job)

    async def list_events(
        self, run_id: str, *, after_seq: int = 0, limit: int | None = None
    ) -> list[EventRecord]:
        """Return the run's events with ``seq > after_seq``, in order, at most *limit*."""
        params = (run_id, after_seq, -1 if limit is None else max(0, limit))
        sql = (
            f"SELECT {_EVENT_COLUMNS} FROM events WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?"
        )

        def job(conn: sqlite3.Connection) -> list[EventRecord]:
            return [_event_from_row(row) for row in conn.execute(sql, params)]

        return await self._call("read", f"list_events({run_id!r})", job)

    async def save_alert(self, alert: AlertRecord) -> AlertRecord:
        """Record *alert* (title, message and data redacted); return it as stored."""
        what = f"save_alert({alert.rule!r})"
        stored = attrs.evolve(
            alert,
            title=REDACTOR.redact(alert.title),
            message=REDACTOR.redact(alert.message),
            data=REDACTOR.redact_value(alert.data),
            created_at=alert.created_at or time.time(),
        )
        row = (
            stored.rule,
            stored.severity,
            stored.title,
            stored.message,
            stored.run_id,
            _dumps(stored.data, what),
            stored.created_at,
        )

        def job(conn: sqlite3.Connection) -> int:
            cur = conn.execute(
                "INSERT INTO alerts (rule, severity, title, message, run_id, data, created_at) "
                "VALUES (?,?,?,?,?,?,?)",
                row,
            )
            return int(cur.lastrowid or 0)

        alert_id = await self._call("write", what, job)
        return attrs.evolve(stored, id=alert_id)

    async def list_alerts(self, *, limit: int = 50, run_id: str | None = None) -> list[AlertRecord]:
        """Return up to *limit* alerts, newest first, optionally one run's."""
        if run_id is None:
            sql = f"SELECT {_ALERT_COLUMNS} FROM alerts ORDER BY created_at DESC, id DESC LIMIT ?"
            params: tuple[Any, ...] = (max(0, limit),)
        else:
            sql = (
                f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE run_id = ? "
                "ORDER BY created_at DESC, id DESC LIMIT ?"
            )
            params = (run_id, max(0, limit))

        def job(conn: sqlite3.Connection) -> list[AlertRecord]:
            return [_alert_from_row(row) for row in conn.execute(sql, params)]

        return await self._call("read", "list_alerts", job)

    # --- maintenance ---------------------------------------------------------------------

    async def purge(self, *, older_than_s: float) -> int:
        """Delete finished runs last updated more than *older_than_s* seconds ago.

        Their tasks, steps and events go with them (``ON DELETE CASCADE``); alerts created
        before the same cut-off are deleted too. Runs still ``pending`` or ``running`` are
        never deleted.

        Returns:
            The number of runs deleted.
        """
        if older_than_s < 0:
            raise StorageError(
                f"sqlite storage {self._where}: purge(older_than_s={older_than_s}) needs a "
                "number of seconds >= 0"
            )
        cutoff = time.time() - older_than_s
        return await self._call("maint", "purge", lambda conn: self._purge_sync(conn, cutoff))

    async def backup(self, path: Path) -> None:
        """Write a consistent copy of the store to *path* while it stays open.

        Uses SQLite's online backup API; the copy is written next to *path* and renamed into
        place, so *path* is either the old file or a complete backup. The copy is a plain
        (non-WAL) single-file database that :meth:`restore` or any SQLite tool can open.

        Raises:
            StorageError: *path* is the live database, its directory does not exist, or the
                copy failed.
        """
        target = _absolute(path)
        what = f"backup to {target}"
        if self._path is not None and target == self._path:
            raise StorageError(
                f"sqlite storage {self._where}: cannot back up the store onto itself",
                hint="choose another file for the backup",
            )
        where = self._where

        def job(conn: sqlite3.Connection) -> None:
            if not target.parent.is_dir():
                raise StorageError(
                    f"sqlite storage {where}: {what}: directory {target.parent} does not exist",
                    hint="create the directory first",
                )
            tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
            try:
                dest = sqlite3.connect(str(tmp), isolation_level=None)
                try:
                    conn.backup(dest)
                    dest.execute("PRAGMA journal_mode = DELETE")
                finally:
                    dest.close()
                os.replace(tmp, target)
            finally:
                tmp.unlink(missing_ok=True)

        await self._call("maint", what, job)

    async def restore(self, path: Path) -> None:
        """Replace the store's whole contents with the backup at *path*, while it stays open.

        The file is checked first: it must be a SQLite database holding an agent-sdk store
        (a ``migrations`` table with ``m001_initial`` and every table of the schema), not
        written by a newer version, and pass ``PRAGMA quick_check``. The copy is one
        transaction (other connections see the old or the new contents, never a mix), and
        pending migrations are applied to it afterwards.

        Raises:
            StorageError: naming *path*, when it is missing or not a usable agent-sdk
                backup; the store is then unchanged.
        """
        source = _absolute(path)
        what = f"restore from {source}"
        if self._path is not None and source == self._path:
            raise StorageError(
                f"sqlite storage {self._where}: cannot restore the store from itself",
                hint="restore from a file written by backup()",
            )

        def job(conn: sqlite3.Connection) -> None:
            _check_backup_header(source)
            try:
                src = sqlite3.connect(f"file:{quote(str(source))}?mode=ro", uri=True)
            except sqlite3.Error as exc:
                raise _bad_backup(source, str(exc)) from exc
            try:
                _check_backup_contents(src, source)
                src.backup(conn)
            finally:
                src.close()
            if self._path is not None:
                conn.execute("PRAGMA journal_mode = WAL")
            migrate(conn, self._where)

        await self._call("maint", what, job)


def _absolute(path: str | Path) -> Path:
    """*path* with ``~`` expanded, made absolute against the working directory."""
    return Path(path).expanduser().absolute()


def _no_run(where: str, what: str, run_id: str) -> StorageError:
    return StorageError(
        f"sqlite storage {where}: {what}: no run {run_id!r}",
        hint="create_run() before writing its tasks, steps or events",
    )


def _bad_backup(source: Path, why: str) -> StorageError:
    return StorageError(
        f"cannot restore from {source}: {why}",
        hint="restore from a file written by `backup()` (agent-sdk-sqlite); the store was "
        "not changed",
    )


def _check_backup_header(source: Path) -> None:
    try:
        with source.open("rb") as fh:
            header = fh.read(len(_SQLITE_HEADER))
    except FileNotFoundError:
        raise _bad_backup(source, "no such file") from None
    except OSError as exc:
        raise _bad_backup(source, f"cannot read it ({exc})") from exc
    if header != _SQLITE_HEADER:
        raise _bad_backup(source, "it is not a SQLite database")


def _check_backup_contents(src: sqlite3.Connection, source: Path) -> None:
    try:
        applied = check_store(src, str(source))
        if not applied:
            raise _bad_backup(source, "it is an empty SQLite database, not an agent-sdk store")
        tables = {
            str(row[0]) for row in src.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
        missing = sorted(REQUIRED_TABLES - tables)
        if missing:
            raise _bad_backup(source, f"tables missing: {', '.join(missing)}")
        result = src.execute("PRAGMA quick_check").fetchone()[0]
        if result != "ok":
            raise _bad_backup(source, f"PRAGMA quick_check failed: {result}")
    except sqlite3.Error as exc:
        raise _bad_backup(source, f"not a readable SQLite database ({exc})") from exc
