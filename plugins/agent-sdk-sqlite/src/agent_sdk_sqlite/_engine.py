"""One SQLite connection, the threads around it, and the transaction rules.

The :class:`Engine` runs *jobs*: plain functions ``fn(conn) -> result`` built by
:class:`~agent_sdk_sqlite.storage.SQLiteStorage`. A job has a kind:

``write``
    runs inside ``BEGIN IMMEDIATE ... COMMIT``. On the worker, writes queued together are
    committed in one transaction (group commit); if one of them fails, the transaction is
    rolled back and each write is re-run in its own transaction, so a failed call changes
    nothing and does not take its neighbours down.
``read``
    runs outside a transaction (each read is one ``SELECT``, atomic on its own).
``maint``
    open, close, purge, backup, restore: run alone and manage their own transactions.

Threads:

* the **worker** owns the connection: in ``thread`` mode it runs every job, and the event loop
  only enqueues a job and awaits a future;
* in ``inline`` mode a write runs directly on the calling thread *if* it can start at once:
  the connection is free (non-blocking lock) and SQLite's write lock is free (busy timeout
  0 for that attempt). Otherwise (another process is writing, a checkpoint holds the lock, the
  worker is busy with a read) the write is queued to the worker, which waits for the lock
  with the configured busy timeout. Reads and maintenance always run on the worker;
* the **checkpointer** (file databases only) has its own connection and copies the WAL back
  into the database file in the background, so neither the event loop nor the worker pays
  for the fsyncs of a checkpoint. Automatic checkpoints on the main connection are only a
  backstop for when it falls behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal, TypeVar

__all__ = ["Checkpointer", "Engine", "JobKind", "is_busy"]

T = TypeVar("T")
JobKind = Literal["read", "write", "maint"]

MAX_BATCH = 512
"""Most jobs the worker takes off the queue at once (and commits together)."""


def is_busy(exc: BaseException) -> bool:
    """``True`` for SQLite's "database is locked" (``SQLITE_BUSY`` and its extended codes)."""
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF == sqlite3.SQLITE_BUSY
    return "locked" in str(exc)


class _Job:
    __slots__ = ("error", "fn", "future", "kind", "loop", "ok", "result", "what")

    def __init__(self, kind: JobKind, what: str, fn: Callable[[Any], Any]) -> None:
        self.kind = kind
        self.what = what
        self.fn = fn
        self.loop: asyncio.AbstractEventLoop | None = None
        self.future: asyncio.Future[None] | None = None
        self.ok = False
        self.result: Any = None
        self.error: BaseException | None = None


class _Stop(Exception):
    """Raised by the close job to end the worker loop after the job is delivered."""


def _settle(jobs: list[_Job]) -> None:
    for job in jobs:
        if job.future is not None and not job.future.done():
            job.future.set_result(None)


class Checkpointer:
    """Background WAL checkpoints on a connection of their own.

    Every *interval_s*, or when :meth:`wake` is called, it checks the size of the ``-wal``
    file; above *threshold_bytes* it runs a ``PASSIVE`` checkpoint (copies pages while writers
    go on) and then a ``RESTART`` one (copies the rest and lets the next writer reuse the WAL
    from the start; writers wait for it, briefly).

    Args:
        connect: opens the checkpointer's connection (called on its thread).
        path: the database file.
        threshold_bytes: WAL size that triggers a checkpoint.
        interval_s: how often to look when nobody calls :meth:`wake`.
    """

    def __init__(
        self,
        connect: Callable[[], sqlite3.Connection],
        path: Path,
        *,
        threshold_bytes: int = 4 * 1024 * 1024,
        interval_s: float = 1.0,
    ) -> None:
        self._connect = connect
        self._wal = path.with_name(path.name + "-wal")
        self._threshold = threshold_bytes
        self._interval = interval_s
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self.checkpoints = 0
        self._thread = threading.Thread(
            target=self._run, name=f"agent-sdk-sqlite-checkpoint:{path.name}", daemon=True
        )

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def wake(self) -> None:
        """Ask for a look at the WAL size now."""
        self._wake.set()

    def stop(self) -> None:
        """Stop the thread and close its connection."""
        self._stopping.set()
        self._wake.set()
        self._thread.join(timeout=30.0)

    def _run(self) -> None:
        try:
            conn = self._connect()
        except sqlite3.Error:  # the main connection reports problems with the file
            return
        try:
            while not self._stopping.is_set():
                self._wake.wait(self._interval)
                self._wake.clear()
                if self._stopping.is_set():
                    break
                try:
                    size = self._wal.stat().st_size
                except OSError:
                    continue
                if size < self._threshold:
                    continue
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    conn.execute("PRAGMA wal_checkpoint(RESTART)").fetchall()
                    self.checkpoints += 1
                except sqlite3.Error as exc:
                    if not is_busy(exc):
                        from agent_sdk.logging import get_logger

                        get_logger(__name__).warning(
                            "sqlite_checkpoint_failed", path=str(self._wal), error=str(exc)
                        )
        finally:
            conn.close()


class Engine:
    """Owns the connection, the worker thread and (for files) the checkpointer.

    Args:
        name: thread name suffix (the database file), for debuggers and ``py-spy``.
        inline: try writes on the calling thread first (see the module docstring).
        busy_timeout_ms: how long the worker waits for SQLite's write lock.
        wrap: turns an exception raised by a job into the exception the caller sees.
        periodic: ``(period_s, fn)``: the worker runs ``fn(conn)`` every *period_s* seconds
            (retention); ``None`` for nothing.
    """

    WAKE_CHECKPOINTER_EVERY = 256
    """Write transactions between two nudges of the checkpointer."""

    def __init__(
        self,
        name: str,
        *,
        inline: bool,
        busy_timeout_ms: int,
        wrap: Callable[[str, BaseException], BaseException],
        periodic: tuple[float, Callable[[sqlite3.Connection], None]] | None = None,
    ) -> None:
        self.inline = inline
        self.conn: sqlite3.Connection | None = None
        self.checkpointer: Checkpointer | None = None
        self._busy_timeout_ms = busy_timeout_ms
        self._wrap = wrap
        self._periodic = periodic
        self._next_periodic = time.monotonic() + periodic[0] if periodic else float("inf")
        self._writes = 0
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._thread = threading.Thread(
            target=self._worker, name=f"agent-sdk-sqlite:{name}", daemon=True
        )
        self._stopped = threading.Event()

    # --- caller side ---------------------------------------------------------------------

    def start(self) -> None:
        """Start the worker thread."""
        self._thread.start()

    async def open(
        self, connect: Callable[[], sqlite3.Connection], checkpointer: Checkpointer | None = None
    ) -> None:
        """Run *connect* on the worker thread, keep its connection, start *checkpointer*."""

        def attach(_conn: Any) -> None:
            self.conn = connect()

        await self._submit(_Job("maint", "open", attach))
        if checkpointer is not None:
            self.checkpointer = checkpointer
            checkpointer.start()

    async def close(self) -> None:
        """Finish the queued jobs, close the connection and stop the threads."""

        def stop(conn: sqlite3.Connection | None) -> None:
            if self.checkpointer is not None:
                self.checkpointer.stop()
            if conn is not None:
                self.conn = None
                conn.close()
            raise _Stop

        try:
            await self._submit(_Job("maint", "close", stop))
        except _Stop:
            pass
        finally:
            self._thread.join(timeout=30.0)

    async def call(self, kind: JobKind, what: str, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run *fn* as a *kind* job and return its result.

        Raises:
            BaseException: whatever ``wrap(what, error)`` returns for a failed job.
        """
        job = _Job(kind, what, fn)
        if self.inline and kind == "write" and self._try_inline(job):
            # A write that ran inline never suspended this coroutine: yield once, so that
            # many tasks writing in turn cannot hold the loop (and its timers) for long.
            await asyncio.sleep(0)
            return self._unpack(job)  # type: ignore[no-any-return]
        return await self._submit(job)  # type: ignore[no-any-return]

    def _try_inline(self, job: _Job) -> bool:
        """Run a write now on this thread if nothing would make it wait; ``True`` if it ran."""
        if not self._lock.acquire(blocking=False):
            return False
        try:
            conn = self.conn
            if conn is None:
                return False
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                if is_busy(exc):
                    return False
                job.error = exc
                return True
            self._finish_transaction(conn, job)
        finally:
            self._lock.release()
        self._count_writes(1)
        return True

    async def _submit(self, job: _Job) -> Any:
        if self._stopped.is_set():
            raise self._wrap(job.what, RuntimeError("the store is closed"))
        loop = asyncio.get_running_loop()
        job.loop = loop
        job.future = loop.create_future()
        self._queue.put(job)
        await job.future
        return self._unpack(job)

    def _unpack(self, job: _Job) -> Any:
        if job.ok:
            return job.result
        assert job.error is not None
        if isinstance(job.error, _Stop):
            raise job.error
        wrapped = self._wrap(job.what, job.error)
        if wrapped is job.error:
            raise wrapped
        raise wrapped from job.error

    def _count_writes(self, count: int) -> None:
        before = self._writes
        self._writes = before + count
        if self.checkpointer is not None and (
            before // self.WAKE_CHECKPOINTER_EVERY != self._writes // self.WAKE_CHECKPOINTER_EVERY
        ):
            self.checkpointer.wake()

    # --- worker side ---------------------------------------------------------------------

    def _worker(self) -> None:
        try:
            while True:
                timeout = None
                if self._periodic is not None:
                    timeout = max(0.0, self._next_periodic - time.monotonic())
                try:
                    first = self._queue.get(timeout=timeout)
                except queue.Empty:
                    self._run_periodic()
                    continue
                batch = [first]
                while len(batch) < MAX_BATCH:
                    try:
                        batch.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                if self._execute(batch):
                    return
                if time.monotonic() >= self._next_periodic:
                    self._run_periodic()
        finally:
            self._stopped.set()
            self._fail_queued()

    def _fail_queued(self) -> None:
        left: list[_Job] = []
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            job.error = RuntimeError("the store was closed before this call ran")
            left.append(job)
        self._deliver(left)

    def _execute(self, batch: list[_Job]) -> bool:
        """Run a batch in order; return ``True`` when the close job ran."""
        i = 0
        while i < len(batch):
            j = i + 1
            if batch[i].kind == "write":
                while j < len(batch) and batch[j].kind == "write":
                    j += 1
            segment = batch[i:j]
            with self._lock:
                self._run_segment(segment)
            self._deliver(segment)
            if isinstance(segment[0].error, _Stop):
                rest = batch[j:]
                for job in rest:
                    job.error = RuntimeError("the store was closed before this call ran")
                self._deliver(rest)
                return True
            i = j
        return False

    def _deliver(self, jobs: list[_Job]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[_Job]] = {}
        for job in jobs:
            if job.loop is not None:
                by_loop.setdefault(job.loop, []).append(job)
        for loop, mine in by_loop.items():
            # RuntimeError: the loop is closed, nobody is waiting any more
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_settle, mine)

    def _run_periodic(self) -> None:
        assert self._periodic is not None
        period, fn = self._periodic
        self._next_periodic = time.monotonic() + period
        if self.conn is None:
            return
        try:
            with self._lock, self._waiting_for_locks(self.conn):
                fn(self.conn)
        except Exception as exc:  # noqa: BLE001 - retention must not stop the worker
            from agent_sdk.logging import get_logger

            get_logger(__name__).warning("sqlite_retention_failed", error=str(exc))

    @contextlib.contextmanager
    def _waiting_for_locks(self, conn: sqlite3.Connection | None) -> Iterator[None]:
        """On the worker in inline mode: wait for SQLite's lock up to the busy timeout.

        The connection's busy timeout is 0 in inline mode (a write on the loop thread must
        never wait); the worker raises it for the jobs it runs.
        """
        if not self.inline or conn is None:
            yield
            return
        conn.execute(f"PRAGMA busy_timeout = {self._busy_timeout_ms}")
        try:
            yield
        finally:
            if self.conn is not None:
                with contextlib.suppress(sqlite3.Error):
                    self.conn.execute("PRAGMA busy_timeout = 0")

    # --- transactions (called with the lock held) ----------------------------------------

    def _run_segment(self, jobs: list[_Job]) -> None:
        conn = self.conn
        kind = jobs[0].kind
        if kind == "maint":
            with self._waiting_for_locks(conn):
                self._run_plain(conn, jobs[0])
            return
        if conn is None:
            for job in jobs:
                job.error = RuntimeError("the store is closed")
            return
        with self._waiting_for_locks(conn):
            if kind == "read":
                self._run_plain(conn, jobs[0])
            elif len(jobs) == 1:
                self._run_transaction(conn, jobs[0])
            else:
                self._run_group(conn, jobs)
        if kind == "write":
            self._count_writes(len(jobs))

    @staticmethod
    def _run_plain(conn: sqlite3.Connection | None, job: _Job) -> None:
        try:
            job.result = job.fn(conn)
            job.ok = True
        except BaseException as exc:  # noqa: BLE001 - handed to the caller by _unpack
            job.error = exc

    @staticmethod
    def _rollback(conn: sqlite3.Connection) -> None:
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):  # the connection is already broken
                conn.execute("ROLLBACK")

    def _run_transaction(self, conn: sqlite3.Connection, job: _Job) -> None:
        try:
            conn.execute("BEGIN IMMEDIATE")
        except BaseException as exc:  # noqa: BLE001 - handed to the caller by _unpack
            self._rollback(conn)
            job.error = exc
            return
        self._finish_transaction(conn, job)

    def _finish_transaction(self, conn: sqlite3.Connection, job: _Job) -> None:
        """Run *job* in the transaction just begun, then commit (or roll back)."""
        try:
            job.result = job.fn(conn)
            conn.execute("COMMIT")
            job.ok = True
        except BaseException as exc:  # noqa: BLE001 - handed to the caller by _unpack
            self._rollback(conn)
            job.result = None
            job.error = exc

    def _run_group(self, conn: sqlite3.Connection, jobs: list[_Job]) -> None:
        """Group commit: one transaction for all; on a job's failure, one transaction each."""
        try:
            conn.execute("BEGIN IMMEDIATE")
        except BaseException as exc:  # noqa: BLE001 - handed to every caller by _unpack
            self._rollback(conn)
            for job in jobs:
                job.error = exc
            return
        results: list[Any] = []
        try:
            for job in jobs:
                results.append(job.fn(conn))
        except BaseException:  # noqa: BLE001 - re-run one by one; the failing call reports it
            self._rollback(conn)
            for job in jobs:
                self._run_transaction(conn, job)
            return
        try:
            conn.execute("COMMIT")
        except BaseException as exc:  # noqa: BLE001 - handed to every caller by _unpack
            self._rollback(conn)
            for job in jobs:
                job.error = exc
            return
        for job, result in zip(jobs, results, strict=True):
            job.result = result
            job.ok = True
