"""The storage conformance suite: every rule of :mod:`agent_sdk.kinds.storage`, as tests.

Subclass :class:`StorageConformance` in your backend's tests and implement
:meth:`~StorageConformance.make_storage`; pytest collects the inherited test methods::

    from agent_sdk.testing.conformance.storage import StorageConformance

    class TestMyStorageConformance(StorageConformance):
        supports_backup = True

        async def make_storage(self, location):
            return MyStorage(MyStorage.Config(path=str(location / "store.db")))

The tests are ``async`` and run with pytest-asyncio (auto or strict mode). Each test gets a
fresh ``location`` (pytest's ``tmp_path``); a backend backed by a server can derive a schema
or key prefix from it.

Capability flags (class attributes) switch off tests of optional behaviour:

* :attr:`~StorageConformance.persistent`: data survives ``close()`` and a new instance on
  the same location (``False`` for in-memory backends);
* :attr:`~StorageConformance.supports_purge`: :meth:`StorageBackend.purge` deletes runs;
* :attr:`~StorageConformance.supports_backup`: :meth:`StorageBackend.backup` and
  :meth:`StorageBackend.restore` work with files.
"""

from __future__ import annotations

import asyncio
import re
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
import pytest_asyncio

from agent_sdk.errors import StorageError
from agent_sdk.kinds.storage import (
    AlertRecord,
    EventRecord,
    RunRecord,
    StepRecord,
    StorageBackend,
    TaskRecord,
)

__all__ = ["JSON_VALUES", "StorageConformance", "assert_same_json"]

JSON_VALUES: dict[str, Any] = {
    "nested": {"a": {"b": {"c": [1, 2, {"d": None, "e": [[], {}]}]}}, "f": "", "g": {}},
    "unicode": "héllo wörld, ĳ, Ελληνικά, 日本語, 你好, emoji 🙂👍🏽, rtl שלום",
    "control characters": 'tab\t newline\n cr\r nul\x00 bell\x07 quote" backslash\\ slash/',
    "json-looking string": '{"not": "an object"} [1, 2] null',
    "floats": [0.1, 0.2 + 0.1, -1.5, 1e-300, 1.7976931348623157e308, 5e-324, 3.141592653589793],
    "integers": [0, -1, 2**31, 2**53 + 1, 2**63 - 1, -(2**63)],
    "none": None,
    "booleans": [True, False, {"t": True, "f": False}],
    "top-level list": [1, "two", 3.0, None, True, {"six": [6]}],
    "top-level string": "just a string",
    "top-level number": 42.5,
    "key order": {"z": 1, "a": 2, "m": {"y": 1, "b": 2}},
}
"""JSON values the journal must return exactly as written (by name, for test ids)."""


def assert_same_json(found: Any, expected: Any, path: str = "$") -> None:
    """Assert *found* equals *expected* with JSON types kept apart.

    Stricter than ``==``: ``True`` is not ``1``, ``1.0`` is not ``1``, and floats must be
    bit-identical (compared by ``repr``, so ``0.1 + 0.2`` must not come back as ``0.3``).
    """
    assert type(found) is type(expected), (
        f"{path}: expected {type(expected).__name__} {expected!r}, found "
        f"{type(found).__name__} {found!r}"
    )
    if isinstance(expected, dict):
        assert set(found) == set(expected), f"{path}: keys {sorted(found)} != {sorted(expected)}"
        for key, value in expected.items():
            assert_same_json(found[key], value, f"{path}.{key}")
    elif isinstance(expected, list):
        assert len(found) == len(expected), f"{path}: length {len(found)} != {len(expected)}"
        for index, (item, value) in enumerate(zip(found, expected, strict=True)):
            assert_same_json(item, value, f"{path}[{index}]")
    elif isinstance(expected, float):
        assert repr(found) == repr(expected), f"{path}: {found!r} != {expected!r}"
    else:
        assert found == expected, f"{path}: {found!r} != {expected!r}"


_UNSET: Any = object()


class _NotJSON:
    def __repr__(self) -> str:
        return "<not JSON>"


class StorageConformance(ABC):
    """Tests every storage backend must pass. Subclass it (name the subclass ``Test...``).

    Override :meth:`make_storage`; set the capability flags your backend needs.
    """

    pytestmark: ClassVar[list[pytest.MarkDecorator]] = [pytest.mark.asyncio]

    persistent: ClassVar[bool] = True
    """Data survives ``close()`` and is seen by a new instance on the same location."""

    supports_purge: ClassVar[bool] = True
    """:meth:`~agent_sdk.kinds.storage.StorageBackend.purge` deletes old finished runs."""

    supports_backup: ClassVar[bool] = False
    """``backup(path)`` and ``restore(path)`` work with files."""

    @abstractmethod
    async def make_storage(self, location: Path) -> StorageBackend:
        """Return a new, *unopened* backend keeping its data at *location*.

        Two calls with the same *location* must address the same data (the reopen test
        depends on it); different locations must not share data.
        """

    # --- fixtures and helpers -----------------------------------------------------------

    @pytest_asyncio.fixture
    async def storage(self, tmp_path: Path) -> AsyncIterator[StorageBackend]:
        """An opened backend at a fresh location, closed after the test."""
        store = await self.make_storage(tmp_path)
        await store.open()
        try:
            yield store
        finally:
            await store.close()

    @staticmethod
    async def create_run(
        storage: StorageBackend, run_id: str = "run-1", **fields: Any
    ) -> RunRecord:
        """Create a run (workflow ``"wf"`` unless given) and return the record written."""
        fields.setdefault("workflow", "wf")
        run = RunRecord(id=run_id, **fields)
        await storage.create_run(run)
        return run

    @staticmethod
    def step(run_id: str, key: str, task_id: str = "t1", data: Any = _UNSET) -> StepRecord:
        """A step of type ``"model_response"`` (data defaults to ``{"key": key}``)."""
        return StepRecord(
            run_id=run_id,
            task_id=task_id,
            key=key,
            type="model_response",
            data={"key": key} if data is _UNSET else data,
        )

    # --- lifecycle ----------------------------------------------------------------------

    async def test_close_twice_is_safe(self, tmp_path: Path) -> None:
        store = await self.make_storage(tmp_path)
        await store.open()
        await store.close()
        await store.close()

    async def test_data_survives_close_and_reopen(self, tmp_path: Path) -> None:
        if not self.persistent:
            pytest.skip("backend is not persistent")
        first = await self.make_storage(tmp_path)
        await first.open()
        try:
            await self.create_run(first, "run-1", input={"q": "kept"})
            await first.save_task(TaskRecord(run_id="run-1", task_id="t1", status="running"))
            await first.append_step(self.step("run-1", "t1#1:model:0"))
            await first.append_events([EventRecord(run_id="run-1", type="task_started")])
            await first.save_alert(AlertRecord(rule="r", severity="error", title="down"))
        finally:
            await first.close()
        second = await self.make_storage(tmp_path)
        await second.open()
        try:
            run = await second.get_run("run-1")
            assert run is not None
            assert run.input == {"q": "kept"}
            assert [t.task_id for t in await second.list_tasks("run-1")] == ["t1"]
            assert [s.key for s in await second.get_steps("run-1")] == ["t1#1:model:0"]
            assert [e.type for e in await second.list_events("run-1")] == ["task_started"]
            assert [a.title for a in await second.list_alerts()] == ["down"]
            again = await second.append_step(self.step("run-1", "t1#1:model:1"))
            assert again.seq == 2
        finally:
            await second.close()

    # --- runs ---------------------------------------------------------------------------

    async def test_create_run_then_get_run_returns_every_field(
        self, storage: StorageBackend
    ) -> None:
        run = RunRecord(
            id="run-1",
            workflow="review",
            status="running",
            input={"pr": 7, "files": ["a.py"]},
            definition={"tasks": [{"id": "t1", "agent": "reviewer"}]},
            output=None,
            error=None,
            usage={"input_tokens": 10, "output_tokens": 3},
            created_at=1_700_000_000.25,
            updated_at=1_700_000_001.5,
        )
        await storage.create_run(run)
        assert await storage.get_run("run-1") == run

    async def test_create_run_without_times_sets_them_to_now(self, storage: StorageBackend) -> None:
        before = time.time()
        await self.create_run(storage, "run-1")
        run = await storage.get_run("run-1")
        assert run is not None
        assert before - 1 <= run.created_at <= time.time() + 1
        assert run.updated_at >= run.created_at

    async def test_get_unknown_run_returns_none(self, storage: StorageBackend) -> None:
        assert await storage.get_run("nope") is None

    async def test_create_run_with_an_existing_id_raises_and_keeps_the_original(
        self, storage: StorageBackend
    ) -> None:
        original = await self.create_run(
            storage, "run-1", input="first", created_at=1.0, updated_at=2.0
        )
        with pytest.raises(StorageError):
            await storage.create_run(RunRecord(id="run-1", workflow="other", input="second"))
        assert await storage.get_run("run-1") == original

    async def test_update_run_sets_the_given_fields_and_updated_at(
        self, storage: StorageBackend
    ) -> None:
        await self.create_run(storage, "run-1", status="running", created_at=10.0, updated_at=10.0)
        before = time.time()
        error = {"type": "ToolError", "message": "boom", "hint": None, "transient": False}
        await storage.update_run(
            "run-1",
            status="failed",
            output={"partial": [1]},
            error=error,
            usage={"input_tokens": 5},
        )
        run = await storage.get_run("run-1")
        assert run is not None
        assert (run.status, run.output, run.error) == ("failed", {"partial": [1]}, error)
        assert run.usage == {"input_tokens": 5}
        assert run.created_at == 10.0
        assert run.updated_at >= before - 1
        assert run.workflow == "wf"

    async def test_update_run_accepts_an_explicit_updated_at(self, storage: StorageBackend) -> None:
        await self.create_run(storage, "run-1", created_at=10.0, updated_at=10.0)
        await storage.update_run("run-1", status="succeeded", updated_at=20.0)
        run = await storage.get_run("run-1")
        assert run is not None
        assert (run.status, run.updated_at) == ("succeeded", 20.0)

    async def test_update_unknown_run_raises_storage_error(self, storage: StorageBackend) -> None:
        with pytest.raises(StorageError):
            await storage.update_run("nope", status="succeeded")
        assert await storage.get_run("nope") is None

    async def test_update_run_with_a_field_that_is_not_updatable_raises_and_changes_nothing(
        self, storage: StorageBackend
    ) -> None:
        original = await self.create_run(storage, "run-1", created_at=5.0, updated_at=5.0)
        with pytest.raises(StorageError):
            await storage.update_run("run-1", status="succeeded", workflow="renamed")
        assert await storage.get_run("run-1") == original

    async def test_list_runs_is_newest_first_and_limited(self, storage: StorageBackend) -> None:
        for i, created in enumerate([3000.0, 1000.0, 2000.0, 4000.0]):
            await self.create_run(storage, f"run-{i}", created_at=created)
        runs = await storage.list_runs()
        assert [r.id for r in runs] == ["run-3", "run-0", "run-2", "run-1"]
        assert [r.id for r in await storage.list_runs(limit=2)] == ["run-3", "run-0"]

    async def test_list_runs_filters_by_status_and_workflow(self, storage: StorageBackend) -> None:
        await self.create_run(storage, "a", workflow="w1", status="running", created_at=1.0)
        await self.create_run(storage, "b", workflow="w1", status="succeeded", created_at=2.0)
        await self.create_run(storage, "c", workflow="w2", status="running", created_at=3.0)
        await self.create_run(storage, "d", workflow="w2", status="succeeded", created_at=4.0)
        assert [r.id for r in await storage.list_runs(status="running")] == ["c", "a"]
        assert [r.id for r in await storage.list_runs(workflow="w1")] == ["b", "a"]
        found = await storage.list_runs(status="succeeded", workflow="w2")
        assert [r.id for r in found] == ["d"]
        assert await storage.list_runs(workflow="none") == []

    # --- tasks --------------------------------------------------------------------------

    async def test_save_task_inserts_then_replaces_the_same_task(
        self, storage: StorageBackend
    ) -> None:
        await self.create_run(storage, "run-1")
        started = TaskRecord(
            run_id="run-1", task_id="t1", status="running", attempt=1, started_at=100.0
        )
        await storage.save_task(started)
        assert await storage.list_tasks("run-1") == [started]
        done = TaskRecord(
            run_id="run-1",
            task_id="t1",
            status="succeeded",
            attempt=2,
            output={"answer": 42},
            started_at=100.0,
            finished_at=101.5,
        )
        await storage.save_task(done)
        assert await storage.list_tasks("run-1") == [done]

    async def test_list_tasks_is_ordered_by_task_id_and_scoped_to_the_run(
        self, storage: StorageBackend
    ) -> None:
        await self.create_run(storage, "run-1")
        await self.create_run(storage, "run-2")
        for task_id in ["c", "a", "b"]:
            await storage.save_task(TaskRecord(run_id="run-1", task_id=task_id))
        await storage.save_task(TaskRecord(run_id="run-2", task_id="z"))
        assert [t.task_id for t in await storage.list_tasks("run-1")] == ["a", "b", "c"]
        assert [t.task_id for t in await storage.list_tasks("run-2")] == ["z"]
        assert await storage.list_tasks("unknown") == []

    async def test_task_error_round_trips(self, storage: StorageBackend) -> None:
        await self.create_run(storage, "run-1")
        error = {
            "type": "TimeoutError",
            "message": "took 30s",
            "hint": "raise timeout_s",
            "transient": False,
        }
        task = TaskRecord(run_id="run-1", task_id="t1", status="failed", error=error)
        await storage.save_task(task)
        assert await storage.list_tasks("run-1") == [task]

    # --- journal ------------------------------------------------------------------------

    async def test_append_step_assigns_increasing_seq_and_created_at(
        self, storage: StorageBackend
    ) -> None:
        await self.create_run(storage, "run-1")
        before = time.time()
        written = [await storage.append_step(self.step("run-1", f"k{i}")) for i in range(5)]
        after = time.time()
        assert [s.seq for s in written] == [1, 2, 3, 4, 5]
        for step in written:
            assert before - 1 <= step.created_at <= after + 1
        assert [s.created_at for s in written] == sorted(s.created_at for s in written)
        assert await storage.get_steps("run-1") == written

    async def test_append_step_returns_the_step_it_was_given_with_seq_set(
        self, storage: StorageBackend
    ) -> None:
        await self.create_run(storage, "run-1")
        step = StepRecord(
            run_id="run-1", task_id="t9", key="t9#1:tool:c1", type="tool_result", data={"ok": True}
        )
        written = await storage.append_step(step)
        assert (written.run_id, written.task_id, written.key, written.type, written.data) == (
            "run-1",
            "t9",
            "t9#1:tool:c1",
            "tool_result",
            {"ok": True},
        )
        assert written.seq == 1

    async def test_append_step_with_a_recorded_key_returns_the_recorded_step_and_writes_nothing(
        self, storage: StorageBackend
    ) -> None:
        await self.create_run(storage, "run-1")
        first = await storage.append_step(self.step("run-1", "t1#1:model:0", data={"v": 1}))
        await storage.append_step(self.step("run-1", "t1#1:model:1"))
        again = await storage.append_step(
            StepRecord(
                run_id="run-1", task_id="other", key="t1#1:model:0", type="tool_call", data={"v": 2}
            )
        )
        assert again == first
        steps = await storage.get_steps("run-1")
        assert [(s.key, s.seq, s.data) for s in steps] == [
            ("t1#1:model:0", 1, {"v": 1}),
            ("t1#1:model:1", 2, {"key": "t1#1:model:1"}),
        ]
        later = await storage.append_step(self.step("run-1", "t1#1:model:2"))
        assert later.seq == 3

    async def test_step_keys_and_seqs_are_per_run(self, storage: StorageBackend) -> None:
        await self.create_run(storage, "run-1")
        await self.create_run(storage, "run-2")
        a = await storage.append_step(self.step("run-1", "same", data="one"))
        b = await storage.append_step(self.step("run-2", "same", data="two"))
        assert (a.seq, a.data, b.seq, b.data) == (1, "one", 1, "two")
        assert [s.data for s in await storage.get_steps("run-2")] == ["two"]

    async def test_get_steps_is_in_seq_order_and_filters_by_task(
        self, storage: StorageBackend
    ) -> None:
        await self.create_run(storage, "run-1")
        for i, task in enumerate(["a", "b", "a", "c", "b", "a"]):
            await storage.append_step(self.step("run-1", f"{task}:{i}", task_id=task))
        every = await storage.get_steps("run-1")
        assert [s.seq for s in every] == [1, 2, 3, 4, 5, 6]
        only_a = await storage.get_steps("run-1", task_id="a")
        assert [(s.key, s.seq) for s in only_a] == [("a:0", 1), ("a:2", 3), ("a:5", 6)]
        assert await storage.get_steps("run-1", task_id="zzz") == []
        assert await storage.get_steps("unknown") == []

    async def test_concurrent_appends_get_unique_contiguous_seqs(
        self, storage: StorageBackend
    ) -> None:
        await self.create_run(storage, "run-1")
        await self.create_run(storage, "run-2")
        steps = [self.step(f"run-{1 + i % 2}", f"k{i}") for i in range(200)]
        written = await asyncio.gather(*(storage.append_step(s) for s in steps))
        for run_id in ("run-1", "run-2"):
            seqs = sorted(s.seq for s in written if s.run_id == run_id)
            assert seqs == list(range(1, 101))
            stored = await storage.get_steps(run_id)
            assert [s.seq for s in stored] == list(range(1, 101))
            assert {s.key for s in stored} == {s.key for s in steps if s.run_id == run_id}

    async def test_concurrent_appends_of_one_key_record_it_once(
        self, storage: StorageBackend
    ) -> None:
        await self.create_run(storage, "run-1")
        written = await asyncio.gather(
            *(storage.append_step(self.step("run-1", "same", data={"n": i})) for i in range(20))
        )
        assert len({(s.seq, repr(s.data)) for s in written}) == 1
        assert len(await storage.get_steps("run-1")) == 1

    @pytest.mark.parametrize("name", sorted(JSON_VALUES))
    async def test_json_values_round_trip_exactly(self, storage: StorageBackend, name: str) -> None:
        value = JSON_VALUES[name]
        await self.create_run(storage, "run-1", input=value, output=value, definition={"v": value})
        await storage.save_task(TaskRecord(run_id="run-1", task_id="t1", output=value))
        await storage.append_step(self.step("run-1", "k", data=value))
        await storage.append_events([EventRecord(run_id="run-1", type="e", data={"v": value})])
        run = await storage.get_run("run-1")
        assert run is not None
        assert_same_json(run.input, value, "run.input")
        assert_same_json(run.output, value, "run.output")
        assert_same_json(run.definition, {"v": value}, "run.definition")
        [task] = await storage.list_tasks("run-1")
        assert_same_json(task.output, value, "task.output")
        [step] = await storage.get_steps("run-1")
        assert_same_json(step.data, value, "step.data")
        [event] = await storage.list_events("run-1")
        assert_same_json(event.data, {"v": value}, "event.data")

    async def test_step_data_is_stored_as_given_not_redacted(self, storage: StorageBackend) -> None:
        await self.create_run(storage, "run-1")
        data = {"headers": {"authorization": "Bearer abc"}, "api_key": "k-123"}
        await storage.append_step(self.step("run-1", "k", data=data))
        [step] = await storage.get_steps("run-1")
        assert step.data == data

    async def test_a_value_that_is_not_json_raises_storage_error_and_writes_nothing(
        self, storage: StorageBackend
    ) -> None:
        await self.create_run(storage, "run-1")
        with pytest.raises(StorageError):
            await storage.append_step(self.step("run-1", "k", data={"x": _NotJSON()}))
        with pytest.raises(StorageError):
            await storage.create_run(RunRecord(id="run-2", workflow="wf", input=_NotJSON()))
        assert await storage.get_steps("run-1") == []
        assert await storage.get_run("run-2") is None
        step = await storage.append_step(self.step("run-1", "k"))
        assert step.seq == 1

    # --- events and alerts --------------------------------------------------------------

    async def test_append_events_assigns_seq_per_run_in_order(
        self, storage: StorageBackend
    ) -> None:
        await self.create_run(storage, "run-1")
        await self.create_run(storage, "run-2")
        await storage.append_events(
            [
                EventRecord(run_id="run-1", type="run_started", data={"n": 1}),
                EventRecord(run_id="run-2", type="run_started"),
                EventRecord(run_id="run-1", type="task_started", task_id="t1", data={"n": 2}),
            ]
        )
        await storage.append_events([EventRecord(run_id="run-1", type="task_finished")])
        events = await storage.list_events("run-1")
        assert [(e.seq, e.type, e.task_id) for e in events] == [
            (1, "run_started", ""),
            (2, "task_started", "t1"),
            (3, "task_finished", ""),
        ]
        assert [e.data for e in events] == [{"n": 1}, {"n": 2}, {}]
        assert all(e.created_at > 0 for e in events)
        assert [(e.seq, e.type) for e in await storage.list_events("run-2")] == [(1, "run_started")]

    async def test_list_events_honours_after_seq_and_limit(self, storage: StorageBackend) -> None:
        await self.create_run(storage, "run-1")
        await storage.append_events(
            [EventRecord(run_id="run-1", type=f"e{i}") for i in range(1, 11)]
        )
        assert [e.seq for e in await storage.list_events("run-1", after_seq=7)] == [8, 9, 10]
        assert [e.seq for e in await storage.list_events("run-1", limit=3)] == [1, 2, 3]
        found = await storage.list_events("run-1", after_seq=4, limit=2)
        assert [(e.seq, e.type) for e in found] == [(5, "e5"), (6, "e6")]
        assert await storage.list_events("run-1", after_seq=10) == []
        assert await storage.list_events("unknown") == []

    async def test_append_events_with_an_invalid_event_writes_none_of_the_batch(
        self, storage: StorageBackend
    ) -> None:
        await self.create_run(storage, "run-1")
        with pytest.raises(StorageError):
            await storage.append_events(
                [
                    EventRecord(run_id="run-1", type="good"),
                    EventRecord(run_id="run-1", type="bad", data={"x": _NotJSON()}),
                ]
            )
        assert await storage.list_events("run-1") == []

    async def test_append_no_events_writes_nothing(self, storage: StorageBackend) -> None:
        await self.create_run(storage, "run-1")
        await storage.append_events([])
        assert await storage.list_events("run-1") == []

    async def test_event_data_under_sensitive_keys_is_redacted(
        self, storage: StorageBackend
    ) -> None:
        await self.create_run(storage, "run-1")
        await storage.append_events(
            [
                EventRecord(
                    run_id="run-1",
                    type="model_called",
                    data={"api_key": "sk-live-123", "model": "m"},
                )
            ]
        )
        [event] = await storage.list_events("run-1")
        assert event.data == {"api_key": "***", "model": "m"}

    async def test_save_alert_assigns_id_and_created_at(self, storage: StorageBackend) -> None:
        before = time.time()
        first = await storage.save_alert(
            AlertRecord(
                rule="run_failed",
                severity="error",
                title="run failed",
                message="details",
                run_id="run-1",
                data={"labels": {"env": "prod"}},
            )
        )
        second = await storage.save_alert(AlertRecord(rule="r2", severity="info", title="t"))
        assert first.id > 0
        assert second.id != first.id
        assert before - 1 <= first.created_at <= time.time() + 1
        assert (first.rule, first.severity, first.title, first.message, first.run_id) == (
            "run_failed",
            "error",
            "run failed",
            "details",
            "run-1",
        )
        assert first.data == {"labels": {"env": "prod"}}

    async def test_list_alerts_is_newest_first_limited_and_filters_by_run(
        self, storage: StorageBackend
    ) -> None:
        for i in range(5):
            await storage.save_alert(
                AlertRecord(
                    rule="r",
                    severity="warning",
                    title=f"a{i}",
                    run_id="run-1" if i % 2 == 0 else "run-2",
                    created_at=100.0 + i,
                )
            )
        assert [a.title for a in await storage.list_alerts()] == ["a4", "a3", "a2", "a1", "a0"]
        assert [a.title for a in await storage.list_alerts(limit=2)] == ["a4", "a3"]
        assert [a.title for a in await storage.list_alerts(run_id="run-2")] == ["a3", "a1"]
        stored = await storage.list_alerts(run_id="run-1", limit=1)
        assert [(a.title, a.created_at) for a in stored] == [("a4", 104.0)]

    async def test_alert_data_under_sensitive_keys_is_redacted(
        self, storage: StorageBackend
    ) -> None:
        saved = await storage.save_alert(
            AlertRecord(rule="r", severity="error", title="t", data={"token": "abc123", "n": 1})
        )
        [alert] = await storage.list_alerts()
        assert alert.data == {"token": "***", "n": 1}
        assert saved.data == alert.data

    # --- maintenance --------------------------------------------------------------------

    async def test_purge_deletes_old_finished_runs_with_their_children_and_keeps_others(
        self, storage: StorageBackend
    ) -> None:
        if not self.supports_purge:
            pytest.skip("backend does not support purge")
        old = time.time() - 10 * 86400
        for run_id, status, when in [
            ("old-done", "succeeded", old),
            ("old-failed", "failed", old),
            ("old-running", "running", old),
            ("old-pending", "pending", old),
            ("new-done", "succeeded", time.time()),
        ]:
            await self.create_run(storage, run_id, status=status, created_at=when, updated_at=when)
            await storage.save_task(TaskRecord(run_id=run_id, task_id="t1"))
            await storage.append_step(self.step(run_id, "k"))
            await storage.append_events([EventRecord(run_id=run_id, type="e")])
        assert await storage.purge(older_than_s=86400) == 2
        for gone in ("old-done", "old-failed"):
            assert await storage.get_run(gone) is None
            assert await storage.list_tasks(gone) == []
            assert await storage.get_steps(gone) == []
            assert await storage.list_events(gone) == []
        for kept in ("old-running", "old-pending", "new-done"):
            assert await storage.get_run(kept) is not None
            assert len(await storage.get_steps(kept)) == 1
            assert len(await storage.list_events(kept)) == 1
        assert await storage.purge(older_than_s=86400) == 0

    async def test_backup_then_restore_brings_back_exactly_the_backed_up_data(
        self, storage: StorageBackend, tmp_path: Path
    ) -> None:
        if not self.supports_backup:
            pytest.skip("backend does not support file backups")
        await self.create_run(storage, "run-1", input={"q": 1})
        await storage.append_step(self.step("run-1", "k1"))
        backup = tmp_path / "backup-of-store"
        await storage.backup(backup)
        await storage.append_step(self.step("run-1", "k2"))
        await self.create_run(storage, "run-2")
        await storage.update_run("run-1", status="failed")
        await storage.restore(backup)
        run = await storage.get_run("run-1")
        assert run is not None
        assert (run.status, run.input) == ("pending", {"q": 1})
        assert [s.key for s in await storage.get_steps("run-1")] == ["k1"]
        assert await storage.get_run("run-2") is None
        written = await storage.append_step(self.step("run-1", "k2"))
        assert written.seq == 2

    async def test_restore_from_a_file_that_is_not_a_backup_raises_naming_it(
        self, storage: StorageBackend, tmp_path: Path
    ) -> None:
        if not self.supports_backup:
            pytest.skip("backend does not support file backups")
        await self.create_run(storage, "run-1")
        bogus = tmp_path / "not-a-backup.txt"
        bogus.write_text("hello, I am not a database\n" * 10)
        with pytest.raises(StorageError, match=re.escape("not-a-backup.txt")):
            await storage.restore(bogus)
        with pytest.raises(StorageError, match="missing-file"):
            await storage.restore(tmp_path / "missing-file")
        assert await storage.get_run("run-1") is not None
