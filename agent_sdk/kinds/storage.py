"""Storage backends: the durable journal of runs, tasks, steps, events and alerts.

The runtime writes every step (model response, tool call request, tool result, task state
change) through a backend *before* the next step starts; a resumed run reads them back and
replays recorded results instead of re-executing them. A backend is "done" when the storage
conformance suite in :mod:`agent_sdk.testing.conformance` passes against it.

Rules every backend keeps:

* each method is atomic: a multi-row change is one transaction; a failed call changes nothing;
* :meth:`StorageBackend.append_step` is idempotent per ``(run_id, key)``: appending a step
  whose key is already recorded returns the recorded step and writes nothing;
* JSON values (``input``, ``output``, ``data``...) round-trip exactly;
* times are Unix seconds (float, UTC); a ``created_at``/``updated_at`` left at 0 is set to the
  current time when the record is written;
* ``seq`` counts from 1 per run, separately for steps and for events;
* event ``data``, alert ``title``/``message``/``data`` and ``error`` dicts pass through
  :meth:`agent_sdk.secrets.REDACTOR.redact_value` before they are written; step ``data`` and
  run/task ``input``/``output`` are stored as given (a resumed run replays them); the runtime
  has already masked registered secret values in them (``REDACTOR.redact_secrets``).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

import attrs

from agent_sdk.kinds.base import Component, Kind

__all__ = [
    "AlertRecord",
    "EventRecord",
    "RunRecord",
    "RunStatus",
    "StepRecord",
    "StorageBackend",
    "TaskRecord",
    "TaskStatus",
]

RunStatus = Literal["pending", "running", "succeeded", "failed", "cancelled"]
TaskStatus = Literal["pending", "running", "succeeded", "failed", "cancelled", "skipped"]

TERMINAL_RUN_STATES: frozenset[str] = frozenset({"succeeded", "failed", "cancelled"})
TERMINAL_TASK_STATES: frozenset[str] = frozenset({"succeeded", "failed", "cancelled", "skipped"})


@attrs.define
class RunRecord:
    """One run of a workflow (or of a single agent).

    Attributes:
        id: unique run id.
        workflow: the workflow's name.
        status: ``pending``, ``running``, ``succeeded``, ``failed`` or ``cancelled``.
        input: the run's input (JSON).
        definition: the workflow definition the run was started with (JSON), so a resume
            runs what was started even if the config file changed.
        output: the run's outputs (JSON) once finished.
        error: ``AgentSDKError.to_dict()`` of the failure, or ``None``.
        usage: ``{"input_tokens", "output_tokens"}`` summed over the run.
        created_at: Unix seconds.
        updated_at: Unix seconds.
    """

    id: str
    workflow: str
    status: RunStatus = "pending"
    input: Any = None
    definition: dict[str, Any] = attrs.field(factory=dict)
    output: Any = None
    error: dict[str, Any] | None = None
    usage: dict[str, int] = attrs.field(factory=dict)
    created_at: float = 0.0
    updated_at: float = 0.0


@attrs.define
class TaskRecord:
    """The state of one task of a run.

    Attributes:
        run_id: the run.
        task_id: the task's id in the workflow.
        status: ``pending``, ``running``, ``succeeded``, ``failed``, ``cancelled``, ``skipped``.
        attempt: 1 for the first try, incremented on each retry.
        output: the task's output (JSON) once succeeded.
        error: ``AgentSDKError.to_dict()`` of the failure, or ``None``.
        started_at: Unix seconds, or ``None``.
        finished_at: Unix seconds, or ``None``.
    """

    run_id: str
    task_id: str
    status: TaskStatus = "pending"
    attempt: int = 0
    output: Any = None
    error: dict[str, Any] | None = None
    started_at: float | None = None
    finished_at: float | None = None


@attrs.define
class StepRecord:
    """One journaled step (model response, tool call, tool result...).

    Attributes:
        run_id: the run.
        task_id: the task.
        key: idempotency key, unique within the run (e.g. ``"t1:model:2"``, ``"t1:tool:call_7"``).
        type: ``"model_response"``, ``"tool_call"``, ``"tool_result"``...
        data: the step's payload (JSON).
        seq: position in the run's journal, assigned by the backend (0 before it is written).
        created_at: Unix seconds.
    """

    run_id: str
    task_id: str
    key: str
    type: str
    data: Any = None
    seq: int = 0
    created_at: float = 0.0


@attrs.define
class EventRecord:
    """One entry of a run's timeline (task started, tool call finished, breaker opened...).

    Attributes:
        run_id: the run.
        type: snake_case event name, e.g. ``"task_started"``.
        task_id: the task, or ``""``.
        data: details (JSON, secrets redacted).
        seq: position in the run's timeline, assigned by the backend.
        created_at: Unix seconds.
    """

    run_id: str
    type: str
    task_id: str = ""
    data: dict[str, Any] = attrs.field(factory=dict)
    seq: int = 0
    created_at: float = 0.0


@attrs.define
class AlertRecord:
    """An alert that was raised (whether or not every sink delivered it).

    Attributes:
        id: assigned by the backend.
        rule: the rule that raised it.
        severity: ``info``, ``warning``, ``error`` or ``critical``.
        title: one line.
        message: details.
        run_id: the run concerned, or ``""``.
        data: labels and delivery results (JSON).
        created_at: Unix seconds.
    """

    rule: str
    severity: str
    title: str
    message: str = ""
    run_id: str = ""
    data: dict[str, Any] = attrs.field(factory=dict)
    id: int = 0
    created_at: float = 0.0


class StorageBackend(Component):
    """Base class of storage backends (registered by ``agent_sdk_register_storage_backends``).

    Lifecycle: :meth:`open` (connects and migrates the schema) before any other call,
    :meth:`close` once at the end. Every method raises :class:`~agent_sdk.errors.StorageError`
    on failure.
    """

    kind: ClassVar[Kind] = "storage"

    @abstractmethod
    async def open(self) -> None:
        """Connect and bring the schema up to date (ordered migrations, recorded)."""

    @abstractmethod
    async def close(self) -> None:
        """Flush and disconnect. Safe to call twice."""

    # runs ------------------------------------------------------------------------------
    @abstractmethod
    async def create_run(self, run: RunRecord) -> None:
        """Insert a new run. Raises StorageError if ``run.id`` exists."""

    @abstractmethod
    async def get_run(self, run_id: str) -> RunRecord | None:
        """Return the run, or ``None`` if unknown."""

    @abstractmethod
    async def update_run(self, run_id: str, **fields: Any) -> None:
        """Set ``status``, ``output``, ``error`` and/or ``usage`` (and ``updated_at``).

        Raises:
            StorageError: unknown run, or a field that is not updatable.
        """

    @abstractmethod
    async def list_runs(
        self, *, limit: int = 50, status: str | None = None, workflow: str | None = None
    ) -> list[RunRecord]:
        """Return up to *limit* runs, newest first, optionally filtered."""

    # tasks -----------------------------------------------------------------------------
    @abstractmethod
    async def save_task(self, task: TaskRecord) -> None:
        """Insert or replace the state of ``(task.run_id, task.task_id)``."""

    @abstractmethod
    async def list_tasks(self, run_id: str) -> list[TaskRecord]:
        """Return the run's tasks, ordered by task id."""

    # journal ---------------------------------------------------------------------------
    @abstractmethod
    async def append_step(self, step: StepRecord) -> StepRecord:
        """Append *step* to the run's journal and return it with ``seq`` and ``created_at``.

        Idempotent: if ``(step.run_id, step.key)`` is recorded, return the recorded step and
        write nothing.
        """

    @abstractmethod
    async def get_steps(self, run_id: str, task_id: str | None = None) -> list[StepRecord]:
        """Return the run's steps (optionally one task's), in ``seq`` order."""

    # events and alerts -----------------------------------------------------------------
    @abstractmethod
    async def append_events(self, events: Sequence[EventRecord]) -> None:
        """Append events to their runs' timelines (assigning ``seq``), in one transaction."""

    @abstractmethod
    async def list_events(
        self, run_id: str, *, after_seq: int = 0, limit: int | None = None
    ) -> list[EventRecord]:
        """Return the run's events with ``seq > after_seq``, in order, at most *limit*."""

    @abstractmethod
    async def save_alert(self, alert: AlertRecord) -> AlertRecord:
        """Record an alert; return it with ``id`` and ``created_at`` set."""

    @abstractmethod
    async def list_alerts(self, *, limit: int = 50, run_id: str | None = None) -> list[AlertRecord]:
        """Return up to *limit* alerts, newest first."""

    # maintenance -----------------------------------------------------------------------
    async def purge(self, *, older_than_s: float) -> int:
        """Delete finished runs (and their tasks, steps, events) older than *older_than_s*.

        Returns:
            The number of runs deleted. Default: retention unsupported, returns 0.
        """
        return 0

    async def backup(self, path: Path) -> None:
        """Write a consistent copy of the store to *path* while it stays online.

        Raises:
            StorageError: the backend does not support file backups (default).
        """
        from agent_sdk.errors import StorageError

        raise StorageError(f"storage backend {self.name!r} does not support backup to a file")

    async def restore(self, path: Path) -> None:
        """Replace the store's contents with the backup at *path* (written by :meth:`backup`).

        The file is validated first; a file that is not a backup of this kind of store is
        refused and the store is left unchanged.

        Raises:
            StorageError: the backend does not support restoring from a file (default), or
                *path* is missing or not a valid backup (the message names it).
        """
        from agent_sdk.errors import StorageError

        raise StorageError(f"storage backend {self.name!r} does not support restore from a file")
