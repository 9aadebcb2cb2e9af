"""A storage backend that keeps every run in one JSON file.

Each write applies its change to a copy of the data, writes the whole file to a temporary
name and renames it into place, then keeps the copy: a call that fails (a value that is not
JSON, a full disk) changes nothing, on disk or in memory. Rewriting the file on every write
makes this a backend for small, single-process deployments; it shows the contract, and it
passes the storage conformance suite.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import attrs
from pydantic import Field

from agent_sdk import hookimpl
from agent_sdk.errors import StorageError
from agent_sdk.kinds.base import EmptyConfig
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

FORMAT = "agent-sdk-jsonfile/1"
UPDATABLE = frozenset({"status", "output", "error", "usage", "updated_at"})
T = TypeVar("T")
R = TypeVar("R")


def _empty() -> dict[str, Any]:
    return {"format": FORMAT, "runs": {}, "tasks": {}, "steps": {}, "events": {}, "alerts": []}


def _record(cls: type[R], data: dict[str, Any]) -> R:
    return cls(**json.loads(json.dumps(data)))  # a copy: callers may change what they get


class JsonFileStorage(StorageBackend):
    name = "jsonfile"
    description = "Every run in one JSON file, rewritten on each write (small deployments)."

    class Config(EmptyConfig):
        path: str = Field("agent-sdk.json", description="The file; relative to the cwd.")

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        self.path = Path(self.config.path)
        self._text = json.dumps(_empty())  # what is on disk
        self._data = _empty()  # the same, parsed
        self._lock = asyncio.Lock()

    # --- lifecycle and the one write path -------------------------------------------------

    async def open(self) -> None:
        if self.path.exists():
            self._data = self._read(self.path)
            self._text = json.dumps(self._data)

    async def close(self) -> None:
        return None  # every call has already written the file

    def _read(self, path: Path) -> dict[str, Any]:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise StorageError(f"{path}: no such file") from None
        except (OSError, ValueError) as exc:
            raise StorageError(f"{path} is not a {self.name} store: {exc}") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise StorageError(
                f"{path} is not a {self.name} store (expected format {FORMAT!r})",
                hint="restore only files written by `agent-sdk db backup`",
            )
        return data

    async def _commit(self, change: Callable[[dict[str, Any]], T]) -> T:
        """Apply *change* to a copy of the data; write it; keep it. All or nothing."""
        async with self._lock:
            data = json.loads(self._text)
            result = change(data)
            try:
                text = json.dumps(data, allow_nan=False)
            except (TypeError, ValueError) as exc:
                raise StorageError(f"{self.path}: a value is not JSON: {exc}") from None
            if text != self._text:  # e.g. a step that was already recorded: nothing to write
                await asyncio.to_thread(_write_atomically, self.path, text)
                self._text, self._data = text, data
            return result

    # --- runs -----------------------------------------------------------------------------

    async def create_run(self, run: RunRecord) -> None:
        def change(data: dict[str, Any]) -> None:
            if run.id in data["runs"]:
                raise StorageError(f"run {run.id!r} already exists in {self.path}")
            now = time.time()
            data["runs"][run.id] = attrs.asdict(run) | {
                "created_at": run.created_at or now,
                "updated_at": run.updated_at or now,
            }

        await self._commit(change)

    async def get_run(self, run_id: str) -> RunRecord | None:
        found = self._data["runs"].get(run_id)
        return _record(RunRecord, found) if found is not None else None

    async def update_run(self, run_id: str, **fields: Any) -> None:
        if set(fields) - UPDATABLE:
            raise StorageError(f"run fields {sorted(set(fields) - UPDATABLE)} cannot be updated")

        def change(data: dict[str, Any]) -> None:
            run = data["runs"].get(run_id)
            if run is None:
                raise StorageError(f"no run with id {run_id!r} in {self.path}")
            for key, value in fields.items():
                run[key] = REDACTOR.redact_value(value) if key == "error" else value
            run["updated_at"] = fields.get("updated_at") or time.time()  # also a heartbeat

        await self._commit(change)

    async def list_runs(
        self, *, limit: int = 50, status: str | None = None, workflow: str | None = None
    ) -> list[RunRecord]:
        runs = [
            run
            for run in self._data["runs"].values()
            if status in (None, run["status"]) and workflow in (None, run["workflow"])
        ]
        runs.sort(key=lambda run: (run["created_at"], run["id"]), reverse=True)
        return [_record(RunRecord, run) for run in runs[:limit]]

    # --- tasks ----------------------------------------------------------------------------

    async def save_task(self, task: TaskRecord) -> None:
        def change(data: dict[str, Any]) -> None:
            record = attrs.asdict(task) | {"error": REDACTOR.redact_value(task.error)}
            data["tasks"].setdefault(task.run_id, {})[task.task_id] = record

        await self._commit(change)

    async def list_tasks(self, run_id: str) -> list[TaskRecord]:
        tasks = self._data["tasks"].get(run_id, {})
        return [_record(TaskRecord, tasks[task_id]) for task_id in sorted(tasks)]

    # --- the journal ----------------------------------------------------------------------

    async def append_step(self, step: StepRecord) -> StepRecord:
        def change(data: dict[str, Any]) -> dict[str, Any]:
            steps: list[dict[str, Any]] = data["steps"].setdefault(step.run_id, [])
            for recorded in steps:
                if recorded["key"] == step.key:  # idempotent: the recorded step wins
                    return recorded
            stored = attrs.asdict(step) | {
                "seq": len(steps) + 1,
                "created_at": step.created_at or time.time(),
            }
            steps.append(stored)
            return stored

        return _record(StepRecord, await self._commit(change))

    async def get_steps(self, run_id: str, task_id: str | None = None) -> list[StepRecord]:
        steps = self._data["steps"].get(run_id, [])
        return [_record(StepRecord, s) for s in steps if task_id in (None, s["task_id"])]

    # --- events and alerts ----------------------------------------------------------------

    async def append_events(self, events: Sequence[EventRecord]) -> None:
        if not events:
            return

        def change(data: dict[str, Any]) -> None:
            for event in events:
                timeline = data["events"].setdefault(event.run_id, [])
                timeline.append(
                    attrs.asdict(event)
                    | {
                        "data": REDACTOR.redact_value(event.data),
                        "seq": len(timeline) + 1,
                        "created_at": event.created_at or time.time(),
                    }
                )

        await self._commit(change)

    async def list_events(
        self, run_id: str, *, after_seq: int = 0, limit: int | None = None
    ) -> list[EventRecord]:
        events = [e for e in self._data["events"].get(run_id, []) if e["seq"] > after_seq]
        return [_record(EventRecord, e) for e in events[:limit]]

    async def save_alert(self, alert: AlertRecord) -> AlertRecord:
        def change(data: dict[str, Any]) -> dict[str, Any]:
            alerts = data["alerts"]
            stored = attrs.asdict(alert) | {
                "id": max((a["id"] for a in alerts), default=0) + 1,
                "title": REDACTOR.redact(alert.title),
                "message": REDACTOR.redact(alert.message),
                "data": REDACTOR.redact_value(alert.data),
                "created_at": alert.created_at or time.time(),
            }
            alerts.append(stored)
            return stored

        return _record(AlertRecord, await self._commit(change))

    async def list_alerts(self, *, limit: int = 50, run_id: str | None = None) -> list[AlertRecord]:
        alerts = [a for a in self._data["alerts"] if run_id in (None, a["run_id"])]
        alerts.sort(key=lambda a: (a["created_at"], a["id"]), reverse=True)
        return [_record(AlertRecord, a) for a in alerts[:limit]]

    # --- maintenance: retention, backup, restore ------------------------------------------

    async def purge(self, *, older_than_s: float) -> int:
        cutoff = time.time() - older_than_s

        def change(data: dict[str, Any]) -> int:
            old = [
                run_id
                for run_id, run in data["runs"].items()
                if run["status"] in TERMINAL_RUN_STATES and run["updated_at"] < cutoff
            ]
            for run_id in old:
                for table in ("runs", "tasks", "steps", "events"):
                    data[table].pop(run_id, None)
            return len(old)

        return await self._commit(change)

    async def backup(self, path: Path) -> None:
        async with self._lock:
            await asyncio.to_thread(_write_atomically, Path(path), self._text)

    async def restore(self, path: Path) -> None:
        restored = self._read(Path(path))  # refuses anything that is not a backup

        def change(data: dict[str, Any]) -> None:
            data.clear()
            data.update(restored)

        await self._commit(change)


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)  # readers see the old file or the new one, never half


@hookimpl
def agent_sdk_register_storage_backends() -> list[type[StorageBackend]]:
    return [JsonFileStorage]
