"""Tests of the sqlite storage backend: conformance, migrations, durability, backup/restore."""

from __future__ import annotations

import asyncio
import re
import signal
import sqlite3
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from agent_sdk_sqlite import hooks, migrations
from agent_sdk_sqlite.storage import _FINISHED_SQL, SQLiteStorage
from pydantic import ValidationError

from agent_sdk.errors import StorageError
from agent_sdk.kinds.storage import (
    TERMINAL_RUN_STATES,
    AlertRecord,
    EventRecord,
    RunRecord,
    StepRecord,
    StorageBackend,
    TaskRecord,
)
from agent_sdk.plugins import get_plugin_manager
from agent_sdk.secrets import REDACTOR
from agent_sdk.testing.conformance.storage import StorageConformance

# --- conformance -----------------------------------------------------------------------


class TestSQLiteConformance(StorageConformance):
    """The default configuration: a file, every call on the worker thread."""

    supports_backup = True

    async def make_storage(self, location: Path) -> StorageBackend:
        return SQLiteStorage(SQLiteStorage.Config(path=str(location / "store.db")))


class TestSQLiteInlineConformance(StorageConformance):
    """``mode = "inline"``: reads and writes on the event loop's thread."""

    supports_backup = True

    async def make_storage(self, location: Path) -> StorageBackend:
        return SQLiteStorage(SQLiteStorage.Config(path=str(location / "store.db"), mode="inline"))


class TestSQLiteMemoryConformance(StorageConformance):
    """``path = ":memory:"``: everything but persistence."""

    persistent = False
    supports_backup = True

    async def make_storage(self, location: Path) -> StorageBackend:
        return SQLiteStorage(SQLiteStorage.Config(path=":memory:"))


# --- helpers ---------------------------------------------------------------------------


def make(path: Path, **settings: Any) -> SQLiteStorage:
    return SQLiteStorage(SQLiteStorage.Config(path=str(path), **settings))


async def opened(path: Path, **settings: Any) -> SQLiteStorage:
    store = make(path, **settings)
    await store.open()
    return store


def connect(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(str(path), isolation_level=None)


def table_names(conn: sqlite3.Connection) -> set[str]:
    rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {row[0] for row in rows}


def count_in_files(directory: Path, needle: bytes) -> int:
    """How often *needle* occurs in the files of *directory* (database, WAL...)."""
    return sum(p.read_bytes().count(needle) for p in directory.iterdir() if p.is_file())


def make_m001_store(path: Path) -> None:
    """A file as the first released version left it: only m001, with some data."""
    conn = connect(path)
    try:
        migrations.migrate(conn, str(path), migrations.MIGRATIONS[:1])
        conn.execute(
            "INSERT INTO runs VALUES ('old-run', 'wf', 'succeeded', '{\"q\":1}', '{}', "
            "'\"done\"', NULL, '{\"input_tokens\":3}', 100.0, 200.0)"
        )
        conn.execute(
            "INSERT INTO tasks VALUES ('old-run', 't1', 'succeeded', 1, '\"out\"', NULL, "
            "100.0, 150.0)"
        )
        conn.execute(
            "INSERT INTO steps VALUES ('old-run', 1, 't1', 't1#1:model:0', 'model_response', "
            '\'{"text":"hi"}\', 120.0)'
        )
        conn.execute("INSERT INTO events VALUES ('old-run', 1, 'task_started', 't1', '{}', 110.0)")
    finally:
        conn.close()


# --- plugin shape ----------------------------------------------------------------------


def test_plugin_registers_sqlite_as_a_storage_backend() -> None:
    pm = get_plugin_manager(load_entrypoints=False, load_builtins=False)
    pm.register(hooks, name="sqlite")
    assert pm.registry().get("storage", "sqlite") is SQLiteStorage


def test_config_rejects_unknown_keys_and_describes_every_field() -> None:
    with pytest.raises(ValidationError):
        SQLiteStorage.Config.model_validate({"path": "x.db", "jurnal": "wal"})
    schema = SQLiteStorage.config_schema()
    assert schema["additionalProperties"] is False
    assert set(schema["properties"]) == {
        "path",
        "mode",
        "synchronous",
        "busy_timeout_s",
        "retention_days",
    }
    for name, prop in schema["properties"].items():
        assert prop.get("description"), f"{name} has no description"


def test_finished_sql_matches_the_terminal_run_states() -> None:
    assert all(f"'{state}'" in _FINISHED_SQL for state in TERMINAL_RUN_STATES)
    assert _FINISHED_SQL.count("'") == 2 * len(TERMINAL_RUN_STATES)


# --- migrations ------------------------------------------------------------------------


def test_migration_names_are_ordered_and_unique() -> None:
    names = [m.__name__ for m in migrations.MIGRATIONS]
    assert names == sorted(names)
    assert len(set(names)) == len(names)
    assert all(name[0] == "m" and name[1:4].isdigit() for name in names)


async def test_blank_database_is_migrated_to_the_latest_schema(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    store = await opened(path)
    await store.close()
    conn = connect(path)
    try:
        assert migrations.applied_migrations(conn) == [m.__name__ for m in migrations.MIGRATIONS]
        assert table_names(conn) >= migrations.REQUIRED_TABLES
    finally:
        conn.close()


async def test_store_at_m001_is_migrated_on_open_and_keeps_its_data(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    make_m001_store(path)
    store = await opened(path)
    try:
        run = await store.get_run("old-run")
        assert run == RunRecord(
            id="old-run",
            workflow="wf",
            status="succeeded",
            input={"q": 1},
            definition={},
            output="done",
            usage={"input_tokens": 3},
            created_at=100.0,
            updated_at=200.0,
        )
        assert [t.output for t in await store.list_tasks("old-run")] == ["out"]
        [step] = await store.get_steps("old-run", task_id="t1")
        assert (step.key, step.seq, step.data) == ("t1#1:model:0", 1, {"text": "hi"})
        assert [e.type for e in await store.list_events("old-run")] == ["task_started"]
        next_step = await store.append_step(
            StepRecord(run_id="old-run", task_id="t1", key="t1#1:model:1", type="x")
        )
        assert next_step.seq == 2
    finally:
        await store.close()
    conn = connect(path)
    try:
        assert migrations.applied_migrations(conn) == [m.__name__ for m in migrations.MIGRATIONS]
        indices = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
        assert "runs_status_created" in indices
    finally:
        conn.close()


async def test_reopening_applies_no_migration_twice(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    for _ in range(3):
        store = await opened(path)
        await store.close()
    conn = connect(path)
    try:
        count = conn.execute("SELECT COUNT(*) FROM migrations").fetchone()[0]
        assert count == len(migrations.MIGRATIONS)
        assert migrations.migrate(conn, str(path)) == []
    finally:
        conn.close()


def test_a_failing_migration_leaves_the_file_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "store.db"

    def m002_broken(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE half_done (x)")
        conn.execute("THIS IS NOT SQL")

    conn = connect(path)
    try:
        with pytest.raises(sqlite3.Error):
            migrations.migrate(conn, str(path), [migrations.m001_initial, m002_broken])
        assert table_names(conn) == set()
        assert not conn.in_transaction
    finally:
        conn.close()


async def test_database_of_another_application_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = connect(path)
    conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY)")
    conn.close()
    with pytest.raises(StorageError, match="not an agent-sdk store") as info:
        await opened(path)
    assert str(path) in str(info.value)
    conn = connect(path)
    try:
        assert table_names(conn) == {"customers"}
    finally:
        conn.close()


async def test_database_migrated_by_a_newer_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    await (await opened(path)).close()
    conn = connect(path)
    conn.execute("INSERT INTO migrations VALUES ('m999_from_the_future', 1.0)")
    conn.close()
    with pytest.raises(StorageError, match="newer agent-sdk-sqlite") as info:
        await opened(path)
    assert "m999_from_the_future" in str(info.value)


# --- file settings ---------------------------------------------------------------------


async def test_file_uses_wal_foreign_keys_and_the_query_indices(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    store = await opened(path)
    try:
        conn = connect(path)
        try:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            indices = {
                (row[0], row[1])
                for row in conn.execute(
                    "SELECT tbl_name, name FROM sqlite_master WHERE type = 'index'"
                )
            }
            for expected in [
                ("runs", "runs_created"),
                ("runs", "runs_status_created"),
                ("runs", "runs_workflow_created"),
                ("runs", "runs_finished_updated"),
                ("steps", "steps_run_key"),
                ("steps", "steps_run_task_seq"),
                ("alerts", "alerts_created"),
                ("alerts", "alerts_run_created"),
            ]:
                assert expected in indices
            unique = {row[1]: row[2] for row in conn.execute("PRAGMA index_list(steps)")}
            assert unique["steps_run_key"] == 1
            cols = [row[2] for row in conn.execute("PRAGMA index_info(steps_run_key)")]
            assert cols == ["run_id", "key"]
            fks = {
                row[2]
                for t in ("tasks", "steps", "events")
                for row in conn.execute(f"PRAGMA foreign_key_list({t})")
            }
            assert fks == {"runs"}
            plan = " ".join(
                str(row[3])
                for row in conn.execute(
                    "EXPLAIN QUERY PLAN SELECT * FROM runs WHERE status = ? "
                    "ORDER BY created_at DESC LIMIT 5",
                    ("running",),
                )
            )
            assert "runs_status_created" in plan
        finally:
            conn.close()
        await store.create_run(RunRecord(id="r", workflow="wf"))
        with pytest.raises(StorageError, match="no run 'ghost'"):
            await store.save_task(TaskRecord(run_id="ghost", task_id="t"))
    finally:
        await store.close()


async def test_missing_parent_directories_are_created(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "store.db"
    store = await opened(path)
    await store.close()
    assert path.is_file()
    assert store.path == path


async def test_sqlite_errors_become_storage_errors_naming_the_file_with_a_hint(
    tmp_path: Path,
) -> None:
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StorageError) as info:
        await opened(garbage)
    assert str(garbage) in str(info.value)
    assert info.value.hint
    assert "not SQLite" in info.value.hint

    directory = tmp_path / "a-directory"
    directory.mkdir()
    with pytest.raises(StorageError) as info:
        await opened(directory)
    assert str(directory) in str(info.value)
    assert info.value.hint


async def test_calls_before_open_or_after_close_raise_storage_error(tmp_path: Path) -> None:
    store = make(tmp_path / "store.db")
    with pytest.raises(StorageError, match="not open"):
        await store.get_run("r")
    await store.open()
    await store.close()
    with pytest.raises(StorageError, match="not open"):
        await store.create_run(RunRecord(id="r", workflow="wf"))


async def test_close_stops_the_worker_thread(tmp_path: Path) -> None:
    def workers() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t.name.startswith("agent-sdk-sqlite:")]

    before = len(workers())
    store = await opened(tmp_path / "store.db")
    assert len(workers()) == before + 1
    await store.close()
    assert len(workers()) == before


async def test_lock_held_by_another_process_fails_after_busy_timeout(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    store = await opened(path, busy_timeout_s=0.2)
    other = connect(path)
    try:
        other.execute("BEGIN IMMEDIATE")
        started = time.monotonic()
        with pytest.raises(StorageError) as info:
            await store.create_run(RunRecord(id="r", workflow="wf"))
        assert time.monotonic() - started >= 0.15
        assert info.value.hint
        assert "busy_timeout_s" in info.value.hint
        other.execute("ROLLBACK")
        await store.create_run(RunRecord(id="r", workflow="wf"))
    finally:
        other.close()
        await store.close()


@pytest.mark.parametrize("mode", ["thread", "inline"])
async def test_a_write_waiting_for_another_process_does_not_block_the_event_loop(
    tmp_path: Path, mode: str
) -> None:
    path = tmp_path / "store.db"
    store = await opened(path, mode=mode)
    other = connect(path)
    try:
        other.execute("BEGIN IMMEDIATE")
        write = asyncio.create_task(store.create_run(RunRecord(id="r", workflow="wf")))
        ticks = 0
        for _ in range(20):
            await asyncio.sleep(0.005)
            ticks += 1
        assert ticks == 20
        assert not write.done()
        other.execute("ROLLBACK")
        await asyncio.wait_for(write, timeout=10)
        assert await store.get_run("r") is not None
    finally:
        other.close()
        await store.close()


async def test_the_checkpointer_keeps_the_wal_small_in_the_background(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    store = await opened(path, mode="inline")
    try:
        await store.create_run(RunRecord(id="r", workflow="wf"))
        blob = "x" * 4000
        for i in range(1500):  # about 6 MB of WAL, more than the 4 MB threshold
            await store.append_step(
                StepRecord(run_id="r", task_id="t", key=f"k{i}", type="x", data=blob)
            )
        checkpointer = store._engine.checkpointer if store._engine else None  # internals
        assert checkpointer is not None
        checkpointer.wake()
        for _ in range(200):
            if checkpointer.checkpoints:
                break
            await asyncio.sleep(0.05)
        assert checkpointer.checkpoints >= 1
        assert len(await store.get_steps("r")) == 1500
    finally:
        await store.close()


@pytest.mark.parametrize(("mode", "writes_on_loop_thread"), [("thread", False), ("inline", True)])
async def test_mode_decides_which_thread_runs_the_writes(
    tmp_path: Path, mode: str, writes_on_loop_thread: bool
) -> None:
    store = await opened(tmp_path / "store.db", mode=mode)
    threads: dict[str, set[int]] = {"write": set(), "read": set()}

    def trace(statement: str) -> None:
        verb = statement.split(None, 1)[0].upper()
        if verb in ("BEGIN", "INSERT", "UPDATE", "DELETE", "COMMIT"):
            threads["write"].add(threading.get_ident())
        elif verb == "SELECT":
            threads["read"].add(threading.get_ident())

    try:
        assert store._engine is not None  # internals: trace where statements run
        assert store._engine.conn is not None
        store._engine.conn.set_trace_callback(trace)
        await store.create_run(RunRecord(id="r", workflow="wf"))
        await store.get_run("r")
        store._engine.conn.set_trace_callback(None)
    finally:
        await store.close()
    assert (threads["write"] == {threading.get_ident()}) is writes_on_loop_thread
    assert threading.get_ident() not in threads["read"]


def test_inline_mode_with_synchronous_full_is_a_config_error() -> None:
    with pytest.raises(ValidationError, match="fsync on the event loop"):
        SQLiteStorage.Config(mode="inline", synchronous="full")


# --- transactions ----------------------------------------------------------------------


async def test_a_failing_call_in_a_group_commit_does_not_fail_its_neighbours(
    tmp_path: Path,
) -> None:
    store = await opened(tmp_path / "store.db")
    try:
        await store.create_run(RunRecord(id="dup", workflow="wf", input="original"))
        results = await asyncio.gather(
            *(store.create_run(RunRecord(id=f"r{i}", workflow="wf")) for i in range(10)),
            store.create_run(RunRecord(id="dup", workflow="wf", input="second")),
            *(store.create_run(RunRecord(id=f"s{i}", workflow="wf")) for i in range(10)),
            return_exceptions=True,
        )
        errors = [r for r in results if isinstance(r, BaseException)]
        assert len(errors) == 1
        assert isinstance(errors[0], StorageError)
        assert "already exists" in str(errors[0])
        assert len(await store.list_runs(limit=100)) == 21
        dup = await store.get_run("dup")
        assert dup is not None
        assert dup.input == "original"
    finally:
        await store.close()


async def test_unknown_run_or_status_is_a_storage_error(tmp_path: Path) -> None:
    store = await opened(tmp_path / "store.db")
    try:
        with pytest.raises(StorageError, match="no run 'ghost'"):
            await store.append_step(StepRecord(run_id="ghost", task_id="t", key="k", type="x"))
        with pytest.raises(StorageError, match="no run 'ghost'"):
            await store.append_events([EventRecord(run_id="ghost", type="e")])
        await store.create_run(RunRecord(id="r", workflow="wf"))
        with pytest.raises(StorageError, match="unknown status 'succeded'"):
            await store.update_run("r", status="succeded")
    finally:
        await store.close()


async def test_error_dicts_alert_text_and_event_data_are_redacted_before_writing(
    tmp_path: Path,
) -> None:
    secret = "sqlite-test-secret-4c1e9a"
    REDACTOR.add(secret)
    path = tmp_path / "store.db"
    store = await opened(path)
    try:
        error = {"type": "ToolError", "message": f"auth failed with {secret}", "hint": None}
        await store.create_run(RunRecord(id="r", workflow="wf", error=error))
        await store.update_run("r", error=error)
        await store.save_task(TaskRecord(run_id="r", task_id="t", error=error))
        await store.append_events([EventRecord(run_id="r", type="e", data={"msg": secret})])
        alert = await store.save_alert(
            AlertRecord(rule="r", severity="error", title=f"t {secret}", message=secret)
        )
        await store.append_step(
            StepRecord(run_id="r", task_id="t", key="k", type="x", data={"raw": secret})
        )
        assert secret not in alert.title + alert.message
    finally:
        await store.close()
    assert count_in_files(tmp_path, secret.encode()) == 1  # only the step journal keeps it


# --- retention -------------------------------------------------------------------------


async def test_retention_days_purges_old_finished_runs_when_the_store_opens(
    tmp_path: Path,
) -> None:
    path = tmp_path / "store.db"
    store = await opened(path)
    old = time.time() - 40 * 86400
    await store.create_run(
        RunRecord(id="old", workflow="wf", status="succeeded", created_at=old, updated_at=old)
    )
    await store.create_run(RunRecord(id="recent", workflow="wf", status="succeeded"))
    await store.save_alert(AlertRecord(rule="r", severity="info", title="old", created_at=old))
    await store.close()
    store = await opened(path, retention_days=30)
    try:
        assert [r.id for r in await store.list_runs()] == ["recent"]
        assert await store.list_alerts() == []
    finally:
        await store.close()


async def test_purge_rejects_a_negative_age(tmp_path: Path) -> None:
    store = await opened(tmp_path / "store.db")
    try:
        with pytest.raises(StorageError, match="older_than_s"):
            await store.purge(older_than_s=-1)
    finally:
        await store.close()


# --- backup and restore ----------------------------------------------------------------


async def test_backup_taken_while_writing_is_a_consistent_single_file_database(
    tmp_path: Path,
) -> None:
    store = await opened(tmp_path / "store.db")
    backup = tmp_path / "backups" / "b.db"
    backup.parent.mkdir()
    try:
        await store.create_run(RunRecord(id="r", workflow="wf"))

        async def writer() -> None:
            for i in range(200):
                await store.append_step(StepRecord(run_id="r", task_id="t", key=f"k{i}", type="x"))

        await asyncio.gather(writer(), store.backup(backup))
    finally:
        await store.close()
    assert sorted(p.name for p in backup.parent.iterdir()) == ["b.db"]
    conn = sqlite3.connect(f"file:{backup}?mode=ro", uri=True)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        seqs = [row[0] for row in conn.execute("SELECT seq FROM steps ORDER BY seq")]
        assert seqs == list(range(1, len(seqs) + 1))
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()


async def test_restore_keeps_wal_mode_and_migrates_an_older_backup(tmp_path: Path) -> None:
    old_backup = tmp_path / "m001-backup.db"
    make_m001_store(old_backup)
    path = tmp_path / "store.db"
    store = await opened(path)
    try:
        await store.create_run(RunRecord(id="current", workflow="wf"))
        await store.restore(old_backup)
        assert [r.id for r in await store.list_runs()] == ["old-run"]
        await store.create_run(RunRecord(id="after", workflow="wf"))
    finally:
        await store.close()
    conn = connect(path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert migrations.applied_migrations(conn) == [m.__name__ for m in migrations.MIGRATIONS]
    finally:
        conn.close()


async def test_restore_refuses_a_sqlite_file_that_is_not_an_agent_sdk_store(
    tmp_path: Path,
) -> None:
    other = tmp_path / "someone-elses.db"
    conn = connect(other)
    conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY)")
    conn.close()
    empty = tmp_path / "empty.db"
    connect(empty).execute("VACUUM").connection.close()
    store = await opened(tmp_path / "store.db")
    try:
        await store.create_run(RunRecord(id="kept", workflow="wf"))
        with pytest.raises(StorageError, match=re.escape("someone-elses.db")):
            await store.restore(other)
        with pytest.raises(StorageError, match=re.escape("empty.db")):
            await store.restore(empty)
        assert [r.id for r in await store.list_runs()] == ["kept"]
    finally:
        await store.close()


async def test_restore_refuses_a_backup_from_a_newer_version(tmp_path: Path) -> None:
    backup = tmp_path / "future-backup.db"
    source = await opened(tmp_path / "source.db")
    await source.backup(backup)
    await source.close()
    conn = connect(backup)
    conn.execute("INSERT INTO migrations VALUES ('m999_from_the_future', 1.0)")
    conn.close()
    store = await opened(tmp_path / "store.db")
    try:
        with pytest.raises(StorageError, match=re.escape("future-backup.db")):
            await store.restore(backup)
    finally:
        await store.close()


# --- durability ------------------------------------------------------------------------

WRITER = r"""
import asyncio, sys
from agent_sdk.kinds.storage import RunRecord, StepRecord
from agent_sdk_sqlite.storage import SQLiteStorage

async def main() -> None:
    store = SQLiteStorage(SQLiteStorage.Config(path=sys.argv[1], mode=sys.argv[2]))
    await store.open()
    await store.create_run(RunRecord(id="r", workflow="wf"))
    n = 0
    while True:
        # one sequential append, then a burst of concurrent ones (group commit)
        batch = [StepRecord(run_id="r", task_id="t", key=f"k{n + i}", type="x",
                            data={"n": n + i}) for i in range(1 if n % 2 else 8)]
        n += len(batch)
        for step in await asyncio.gather(*(store.append_step(s) for s in batch)):
            print(step.seq, step.key, flush=True)

asyncio.run(main())
"""


@pytest.mark.parametrize("mode", ["thread", "inline"])
async def test_every_step_reported_appended_survives_sigkill_of_the_writer(
    tmp_path: Path, mode: str
) -> None:
    path = tmp_path / "store.db"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        WRITER,
        str(path),
        mode,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    printed: list[tuple[int, str]] = []
    try:
        async with asyncio.timeout(60):
            while len(printed) < 300:
                line = await proc.stdout.readline()
                if not line:
                    pytest.fail((await proc.stderr.read()).decode())
                seq, key = line.split()
                printed.append((int(seq), key.decode()))
        proc.send_signal(signal.SIGKILL)
        rest, _ = await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    for line in rest.splitlines():
        parts = line.split()
        if len(parts) == 2:  # a line cut by the kill was never fully reported
            printed.append((int(parts[0]), parts[1].decode()))
    assert proc.returncode == -signal.SIGKILL
    store = await opened(path)
    try:
        stored = {s.key: s.seq for s in await store.get_steps("r")}
    finally:
        await store.close()
    missing = [(seq, key) for seq, key in printed if stored.get(key) != seq]
    assert missing == []
    assert sorted(stored.values()) == list(range(1, len(stored) + 1))
