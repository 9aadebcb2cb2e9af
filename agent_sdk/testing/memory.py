"""An in-memory storage backend for tests (yours and ours): fast, isolated, not durable.

It keeps the storage contract (idempotent steps, atomic batches, JSON round-trip through a
copy) so code tested against it behaves the same on a real backend; it passes the storage
conformance suite except for persistence across reopen (everything is gone at process exit).
Registered as nothing: construct it directly, ``MemoryStorage()``, and pass it to the engine.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from typing import Any, TypeVar

import attrs

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
from agent_sdk.secrets import REDACTOR

__all__ = ["MemoryStorage"]

_UPDATABLE = frozenset({"status", "output", "error", "usage", "updated_at"})


R = TypeVar("R", RunRecord, TaskRecord, StepRecord, EventRecord, AlertRecord)


def _clone(record: R) -> R:
    # records hold JSON values: an evolve plus JSON copies of the mutable fields is a deep copy
    changes = {
        f.name: _copy(getattr(record, f.name))
        for f in attrs.fields(type(record))
        if isinstance(getattr(record, f.name), dict | list)
    }
    return attrs.evolve(record, **changes)


def _copy(value: Any) -> Any:
    # a JSON round trip: what a real backend would give back (and no shared mutable state)
    if value is None:
        return None
    try:
        return json.loads(json.dumps(value, allow_nan=True))
    except (TypeError, ValueError) as exc:
        raise StorageError(
            f"memory storage: value is not JSON-serialisable: {exc}",
            hint="store plain JSON values (dict, list, str, int, float, bool, None)",
        ) from None


class MemoryStorage(StorageBackend):
    """Runs, tasks, steps, events and alerts in dictionaries. Bounded only by memory: for tests."""

    name = "memory"
    description = "In-memory storage for tests (not durable)."

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        self._runs: dict[str, RunRecord] = {}
        self._tasks: dict[tuple[str, str], TaskRecord] = {}
        self._steps: dict[str, list[StepRecord]] = {}
        self._step_keys: dict[tuple[str, str], StepRecord] = {}
        self._events: dict[str, list[EventRecord]] = {}
        self._alerts: list[AlertRecord] = []
        self._lock = asyncio.Lock()
        self.writes = 0

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def create_run(self, run: RunRecord) -> None:
        if run.id in self._runs:
            raise StorageError(f"run {run.id!r} already exists")
        now = time.time()
        stored = _clone(run)
        stored.input, stored.definition = _copy(run.input), _copy(run.definition) or {}
        stored.created_at = run.created_at or now
        stored.updated_at = run.updated_at or now
        self._runs[run.id] = stored
        self.writes += 1

    async def get_run(self, run_id: str) -> RunRecord | None:
        run = self._runs.get(run_id)
        return _clone(run) if run is not None else None

    async def update_run(self, run_id: str, **fields: Any) -> None:
        unknown = set(fields) - _UPDATABLE
        if unknown:
            raise StorageError(f"run fields {sorted(unknown)} cannot be updated")
        run = self._runs.get(run_id)
        if run is None:
            raise StorageError(f"no run with id {run_id!r}")
        changes: dict[str, Any] = {}
        for key, value in fields.items():  # validate every value before changing anything
            if key == "error" and value is not None:
                value = REDACTOR.redact_value(value)
            changes[key] = value if key in ("status", "updated_at") else _copy(value)
        changes.setdefault("updated_at", time.time())
        for key, value in changes.items():
            setattr(run, key, value)
        self.writes += 1

    async def list_runs(
        self, *, limit: int = 50, status: str | None = None, workflow: str | None = None
    ) -> list[RunRecord]:
        runs = [
            r
            for r in self._runs.values()
            if (status is None or r.status == status)
            and (workflow is None or r.workflow == workflow)
        ]
        runs.sort(key=lambda r: (r.created_at, r.id), reverse=True)
        return [_clone(r) for r in runs[:limit]]

    async def save_task(self, task: TaskRecord) -> None:
        stored = _clone(task)
        stored.output = _copy(task.output)
        stored.error = REDACTOR.redact_value(task.error) if task.error else None
        self._tasks[(task.run_id, task.task_id)] = stored
        self.writes += 1

    async def list_tasks(self, run_id: str) -> list[TaskRecord]:
        tasks = [t for (r, _), t in self._tasks.items() if r == run_id]
        return [_clone(t) for t in sorted(tasks, key=lambda t: t.task_id)]

    async def append_step(self, step: StepRecord) -> StepRecord:
        async with self._lock:
            existing = self._step_keys.get((step.run_id, step.key))
            if existing is not None:
                return _clone(existing)
            steps = self._steps.setdefault(step.run_id, [])
            stored = StepRecord(
                run_id=step.run_id,
                task_id=step.task_id,
                key=step.key,
                type=step.type,
                data=_copy(step.data),
                seq=len(steps) + 1,
                created_at=time.time(),
            )
            steps.append(stored)
            self._step_keys[(step.run_id, step.key)] = stored
            self.writes += 1
            return _clone(stored)

    async def get_steps(self, run_id: str, task_id: str | None = None) -> list[StepRecord]:
        steps = self._steps.get(run_id, [])
        return [_clone(s) for s in steps if task_id is None or s.task_id == task_id]

    async def append_events(self, events: Sequence[EventRecord]) -> None:
        prepared = [  # all or nothing: a bad event fails the batch before anything is added
            (event, REDACTOR.redact_value(_copy(event.data) or {})) for event in events
        ]
        for event, data in prepared:
            timeline = self._events.setdefault(event.run_id, [])
            timeline.append(
                EventRecord(
                    run_id=event.run_id,
                    type=event.type,
                    task_id=event.task_id,
                    data=data,
                    seq=len(timeline) + 1,
                    created_at=event.created_at or time.time(),
                )
            )
        self.writes += 1

    async def list_events(
        self, run_id: str, *, after_seq: int = 0, limit: int | None = None
    ) -> list[EventRecord]:
        events = [_clone(e) for e in self._events.get(run_id, []) if e.seq > after_seq]
        return events[:limit] if limit is not None else events

    async def save_alert(self, alert: AlertRecord) -> AlertRecord:
        stored = AlertRecord(
            rule=alert.rule,
            severity=alert.severity,
            title=REDACTOR.redact(alert.title),
            message=REDACTOR.redact(alert.message),
            run_id=alert.run_id,
            data=REDACTOR.redact_value(_copy(alert.data) or {}),
            id=len(self._alerts) + 1,
            created_at=alert.created_at or time.time(),
        )
        self._alerts.append(stored)
        return _clone(stored)

    async def list_alerts(self, *, limit: int = 50, run_id: str | None = None) -> list[AlertRecord]:
        alerts = [a for a in reversed(self._alerts) if run_id is None or a.run_id == run_id]
        return [_clone(a) for a in alerts[:limit]]

    async def purge(self, *, older_than_s: float) -> int:
        cutoff = time.time() - older_than_s
        old = [
            r.id
            for r in self._runs.values()
            if r.status in TERMINAL_RUN_STATES and r.updated_at < cutoff
        ]
        for run_id in old:
            del self._runs[run_id]
            for key in [k for k in self._tasks if k[0] == run_id]:
                del self._tasks[key]
            for step in self._steps.pop(run_id, []):
                self._step_keys.pop((run_id, step.key), None)
            self._events.pop(run_id, None)
        return len(old)
