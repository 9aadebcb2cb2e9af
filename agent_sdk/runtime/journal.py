"""Write-ahead journal and replay, over any storage backend.

Every step of a run is written to storage *before* the next step starts. Each step has an
idempotency key, unique within the run::

    <task_id>#<attempt>:model:<n>          the n-th model response of that task attempt
    <task_id>#<attempt>:tool:<id>          the result of the tool call with that id
    <task_id>#<attempt>:task_tool          the result of a deterministic tool task

A resumed run loads the journal once and *replays* recorded steps instead of executing them
again: the agent code runs again from the start of the interrupted attempt, but each model call
and tool call whose result is recorded returns that result. Completed tool calls are therefore
never executed twice. A tool call that was running when the process died has no recorded
result: the replayed model response requests it again and it is executed again with the same
idempotency key (``services["idempotency_key"]`` of its
:class:`~agent_sdk.kinds.tool.ToolContext`), so a tool with external effects can deduplicate.
"""

from __future__ import annotations

import time
from typing import Any

from agent_sdk.kinds.storage import EventRecord, StepRecord, StorageBackend
from agent_sdk.secrets import REDACTOR

__all__ = ["EventLog", "Journal", "step_key"]


def step_key(task_id: str, attempt: int, kind: str, ident: str | int = "") -> str:
    """Build a journal key, e.g. ``step_key("review", 1, "model", 0) == "review#1:model:0"``."""
    key = f"{task_id}#{attempt}:{kind}"
    return f"{key}:{ident}" if ident != "" else key


class Journal:
    """The recorded steps of one run, and the way to add more.

    Args:
        storage: an opened backend.
        run_id: the run.
        recorded: steps already in storage (from :meth:`load`); empty for a new run.
    """

    def __init__(
        self, storage: StorageBackend, run_id: str, recorded: dict[str, StepRecord] | None = None
    ) -> None:
        self.storage = storage
        self.run_id = run_id
        self._recorded = recorded or {}
        self.replayed = 0
        self.written = 0

    @classmethod
    async def load(cls, storage: StorageBackend, run_id: str) -> Journal:
        """Read every recorded step of *run_id* (one query) for replay."""
        steps = await storage.get_steps(run_id)
        return cls(storage, run_id, {s.key: s for s in steps})

    def get(self, key: str) -> StepRecord | None:
        """The recorded step for *key*, or ``None``; counts a replay when found."""
        step = self._recorded.get(key)
        if step is not None:
            self.replayed += 1
        return step

    def count(self, type: str) -> int:
        """How many recorded steps have *type* (e.g. ``"tool_result"``)."""
        return sum(1 for step in self._recorded.values() if step.type == type)

    def usage(self) -> dict[str, int]:
        """``{"input_tokens", "output_tokens"}`` summed over every recorded model response."""
        totals = {"input_tokens": 0, "output_tokens": 0}
        for step in self._recorded.values():
            if step.type == "model_response" and isinstance(step.data, dict):
                usage = step.data.get("usage") or {}
                totals["input_tokens"] += int(usage.get("input_tokens", 0))
                totals["output_tokens"] += int(usage.get("output_tokens", 0))
        return totals

    async def record(self, task_id: str, key: str, type: str, data: Any) -> StepRecord:
        """Durably append a step, then remember it. Returns the stored step.

        Raises:
            StorageError: the write failed; the caller must not proceed to the next step.
        """
        step = await self.storage.append_step(
            StepRecord(
                run_id=self.run_id,
                task_id=task_id,
                key=key,
                type=type,
                data=REDACTOR.redact_secrets(data),  # secrets never rest in the journal
            )
        )
        self._recorded[key] = step
        self.written += 1
        return step


class EventLog:
    """A run's timeline, buffered and written in batches.

    Events are for people (``agent-sdk runs events``), not for resuming, so they are written in
    one transaction per batch: when :attr:`max_buffer` events are pending, when a task fails
    for good, and when the run ends. At most :attr:`max_buffer` events are held in memory; a
    crash loses at most the unflushed tail of the timeline, never a journal step.
    """

    max_buffer = 128

    def __init__(self, storage: StorageBackend, run_id: str) -> None:
        self.storage = storage
        self.run_id = run_id
        self._pending: list[EventRecord] = []

    async def emit(self, type: str, task_id: str = "", /, **data: Any) -> None:
        """Add an event (``type`` is snake_case, e.g. ``"task_started"``); flush if full."""
        self._pending.append(
            EventRecord(
                run_id=self.run_id, type=type, task_id=task_id, data=data, created_at=time.time()
            )
        )
        if len(self._pending) >= self.max_buffer:
            await self.flush()

    async def flush(self) -> None:
        """Write pending events in one batch."""
        if self._pending:
            batch, self._pending = self._pending, []
            await self.storage.append_events(batch)
