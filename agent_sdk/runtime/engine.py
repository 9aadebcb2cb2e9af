"""The workflow engine: runs a DAG of tasks durably, and resumes what a crash interrupted.

A run, step by step:

1. the run is created in storage with the workflow definition it runs (a resume runs *that*,
   even if the file changed since);
2. tasks whose dependencies all succeeded become *ready*; ready tasks start in priority order
   (higher first, then declaration order), at most ``concurrency`` at once;
3. each task attempt is recorded (``running``, attempt number) before it starts, runs under its
   ``timeout_s``, and is recorded (``succeeded`` + output, or ``failed`` + error) when it ends;
   transient failures are retried ``retries`` times with backoff (``[runtime.task_retry]``);
4. a failed task either fails the run at once (``fail_fast``: running tasks are cancelled and
   recorded as such) or lets independent branches finish (``continue``: its dependents are
   ``skipped``);
5. the whole run is bounded by the workflow's ``timeout_s``, and stops within
   ``[runtime] cancel_poll_s`` when ``agent-sdk cancel RUN_ID`` marks it cancelled in storage.

Resuming (:meth:`Engine.resume`) reloads the run's journal: succeeded tasks keep their stored
outputs and are not run again; a task that was running or was cancelled (crash, Ctrl-C,
``agent-sdk cancel``) continues the *same* attempt, replaying every recorded model response and
tool result, so no completed tool call is executed twice; a failed task gets a new attempt.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import json
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

import attrs

from agent_sdk.errors import (
    AgentSDKError,
    CancelledError,
    StorageError,
    ToolError,
    WorkflowError,
    WorkflowValidationError,
)
from agent_sdk.errors import TimeoutError as AgentTimeoutError
from agent_sdk.events import Outcome, RunInfo, TaskInfo
from agent_sdk.kinds.agent import Agent
from agent_sdk.kinds.storage import TERMINAL_RUN_STATES, RunRecord, StorageBackend, TaskRecord
from agent_sdk.logging import bind_context, get_logger
from agent_sdk.runtime.alerts import AlertManager
from agent_sdk.runtime.context import Services, TaskContext
from agent_sdk.runtime.journal import EventLog, Journal
from agent_sdk.runtime.workflow import TaskDef, WorkflowDef, resolve_references
from agent_sdk.secrets import REDACTOR

if TYPE_CHECKING:
    from agent_sdk.app import App

__all__ = ["Engine", "RunResult", "new_run_id"]

RunEnd = Literal["succeeded", "failed", "cancelled"]

log = get_logger(__name__)


def _metadata_if_used(value: Any, state: _RunState) -> dict[str, Any] | None:
    """``state.metadata()`` only when *value* mentions ``${run`` (it is O(tasks) to build)."""
    return state.metadata() if "${run" in json.dumps(value, default=str) else None


def _resolve_setting(value: str, run_input: Any) -> Any:
    """Resolve a run-level setting (workspace, mounts): references in the input's own values
    are resolved too (an input default like ``path = "${package.pluggy}"``), two levels deep."""
    resolved = resolve_references(value, run_input, {})
    if isinstance(resolved, str) and "${" in resolved:
        resolved = resolve_references(resolved, run_input, {})
    return resolved


def new_run_id() -> str:
    """A new run id: ``run_`` + 20 hex characters, time-ordered (sorts by creation)."""
    return f"run_{time.time_ns() // 1_000_000:011x}{uuid.uuid4().hex[:9]}"


def _error_dict(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, AgentSDKError):
        return exc.to_dict()
    from agent_sdk.secrets import REDACTOR

    return {
        "type": type(exc).__name__,
        "message": REDACTOR.redact(str(exc)),
        "hint": None,
        "transient": False,
    }


@attrs.define
class RunResult:
    """How a run ended.

    Attributes:
        run_id: the run.
        workflow: the workflow's name.
        status: ``succeeded``, ``failed`` or ``cancelled``.
        outputs: task id → output, for tasks that succeeded.
        tasks: task id → final :class:`TaskRecord`.
        error: the run's error (``AgentSDKError.to_dict()``), or ``None``.
        usage: ``{"input_tokens", "output_tokens"}`` summed over the run's model calls.
        duration_s: wall-clock seconds of this execution (not counting earlier ones).
        replayed_steps: journal steps replayed instead of executed (resumes only).
    """

    run_id: str
    workflow: str
    status: str
    outputs: dict[str, Any]
    tasks: dict[str, TaskRecord]
    error: dict[str, Any] | None = None
    usage: dict[str, int] = attrs.field(factory=dict)
    duration_s: float = 0.0
    replayed_steps: int = 0

    @property
    def ok(self) -> bool:
        """``True`` if the run succeeded."""
        return self.status == "succeeded"


class _RunState:
    def __init__(
        self, run: RunRecord, workflow: WorkflowDef, journal: Journal, events: EventLog
    ) -> None:
        self.run = run
        self.workflow = workflow
        self.journal = journal
        self.events = events
        self.workspace: Path | None = None
        self.mounts: dict[str, Path] = {}
        self.info = RunInfo(run.id, workflow.name, run.input, resumed=False)
        self.tasks: dict[str, TaskRecord] = {}
        self.outputs: dict[str, Any] = {}
        self.cancel_reason: str | None = None

    def metadata(self) -> dict[str, Any]:
        """What ``${run...}`` references see: id, workflow, created_at, usage, tasks,
        tool_calls (the journal's tool results so far)."""
        tasks = {}
        for task_id, record in self.tasks.items():
            duration = (
                round(record.finished_at - record.started_at, 6)
                if record.finished_at and record.started_at
                else None
            )
            tasks[task_id] = {
                "status": record.status,
                "attempt": record.attempt,
                "duration_s": duration,
            }
        return {
            "id": self.run.id,
            "workflow": self.workflow.name,
            "created_at": self.run.created_at,
            "usage": self.usage(),
            "tasks": tasks,
            "tool_calls": self.journal.count("tool_result"),
        }

    def usage(self) -> dict[str, int]:
        """Tokens of every model response in the journal (all attempts, all executions)."""
        return self.journal.usage()


class Engine:
    """Runs workflows on one :class:`~agent_sdk.app.App` and storage backend.

    Args:
        app: the configured application.
        storage: an *opened* storage backend; default: the configured one, opened on first use
            (and closed by :meth:`aclose`).
        workspace: tools' workspace directory (default ``[runtime] workspace`` or the cwd).

    Use as ``async with Engine(app) as engine: result = await engine.run(workflow, input)``.
    """

    def __init__(
        self, app: App, storage: StorageBackend | None = None, *, workspace: Path | None = None
    ) -> None:
        self.app = app
        self.settings = app.config.runtime
        self._storage = storage
        self._owns_storage = storage is None
        self.services = Services(app, self.settings)
        ws = workspace or (Path(self.settings.workspace) if self.settings.workspace else None)
        self.workspace = (ws or Path.cwd()).resolve()
        self._agents: dict[str, Agent] = {}
        self._alerts: AlertManager | None = None
        self._active: dict[str, _RunState] = {}
        self._background: set[asyncio.Task[Any]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._started_app = False
        self._slots: asyncio.Semaphore | None = None
        self.services.breaker_listeners.append(self._on_breaker_change)
        from agent_sdk.observability.metrics import get_metrics

        metrics = get_metrics(app.pm)
        if metrics is not None:
            self.services.breaker_listeners.append(metrics.breaker_listener)

    async def __aenter__(self) -> Engine:
        self._started_app = not self.app._started
        self.app.startup()
        await self.storage()
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            await self.aclose()
        finally:
            if self._started_app:
                self.app.shutdown()

    async def storage(self) -> StorageBackend:
        """The storage backend, opened (the configured one unless one was given)."""
        if self._storage is None:
            created = self.app.create("storage", self.app.config.storage.backend, where="storage")
            assert isinstance(created, StorageBackend)
            await created.open()
            self._storage = created
        return self._storage

    async def alerts(self) -> AlertManager:
        """The alert manager (rules from ``[alerts]``), created on first use."""
        if self._alerts is None:
            self._alerts = AlertManager(self.app, await self.storage(), self.app.config.alerts)
        return self._alerts

    def _on_breaker_change(self, name: str, old: str, new: str) -> None:
        # called synchronously by the breaker, possibly from a worker thread
        loop = self._loop
        if loop is None or loop.is_closed():
            return

        def schedule() -> None:
            task = loop.create_task(self._record_breaker_change(name, old, new))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

        loop.call_soon_threadsafe(schedule)

    async def _record_breaker_change(self, name: str, old: str, new: str) -> None:
        try:
            for state in list(self._active.values()):
                await state.events.emit("circuit_breaker_changed", breaker=name, old=old, new=new)
            run_id = next(iter(self._active), "")
            await (await self.alerts()).circuit_changed(name, old, new, run_id=run_id)
        except Exception as exc:  # noqa: BLE001 - alerting must never break a run
            log.warning("breaker_alert_failed", breaker=name, error=str(exc))

    async def aclose(self) -> None:
        """Close model providers, limiters and (if the engine opened it) storage."""
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        if self._alerts is not None:
            await self._alerts.drain()
        await self.services.aclose()
        if self._owns_storage and self._storage is not None:
            await self._storage.close()
            self._storage = None

    # --- public API ----------------------------------------------------------------------

    async def run(
        self,
        workflow: WorkflowDef | str,
        input: Any = None,
        *,
        run_id: str | None = None,
    ) -> RunResult:
        """Start a new run of *workflow* and wait for it to end.

        Args:
            workflow: a definition, or the name of a ``[workflows.<name>]`` table.
            input: the run input; a mapping is merged over the workflow's default ``input``.
            run_id: use this id (default: a new time-ordered one).

        Returns:
            The :class:`RunResult` (a failed run is a result, not an exception).

        Raises:
            WorkflowValidationError: the workflow or its references are invalid (nothing stored).
            StorageError: the journal could not be written.
            asyncio.CancelledError: the caller cancelled (Ctrl-C); the run is recorded as
                cancelled and can be resumed.
        """
        wf = self.app.config.workflow(workflow) if isinstance(workflow, str) else workflow
        self.check_components(wf)
        async with self._run_slot():
            return await self._start(wf, input, run_id)

    @contextlib.asynccontextmanager
    async def _run_slot(self) -> AsyncIterator[None]:
        """Hold one of ``max_active_runs`` slots; wait for one (backpressure) or refuse after
        ``run_queue_timeout_s`` with nothing stored."""
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.settings.max_active_runs)
        try:
            async with asyncio.timeout(self.settings.run_queue_timeout_s):
                await self._slots.acquire()
        except TimeoutError:
            raise WorkflowError(
                f"the engine is busy: {self.settings.max_active_runs} runs are active and no "
                f"slot freed within {self.settings.run_queue_timeout_s}s",
                hint="retry later, or raise [runtime] max_active_runs / run_queue_timeout_s",
            ) from None
        try:
            yield
        finally:
            self._slots.release()

    async def _start(self, wf: WorkflowDef, input: Any, run_id: str | None) -> RunResult:
        run_input = wf.input
        if isinstance(wf.input, Mapping) and isinstance(input, Mapping):
            run_input = {**wf.input, **input}
        elif input is not None:
            run_input = input
        workspace = self._run_workspace(wf, run_input)  # checked before anything is stored
        mounts = self._run_mounts(wf, run_input)
        storage = await self.storage()
        now = time.time()
        run = RunRecord(
            id=run_id or new_run_id(),
            workflow=wf.name,
            status="running",
            input=run_input,
            definition=wf.to_json(),
            created_at=now,
            updated_at=now,
        )
        await storage.create_run(run)
        state = _RunState(run, wf, Journal(storage, run.id), EventLog(storage, run.id))
        state.workspace = workspace
        state.mounts = mounts
        return await self._execute(state)

    async def resume(self, run_id: str, *, force: bool = False) -> RunResult:
        """Finish a run that crashed, was interrupted, cancelled or failed.

        A run still ``running`` whose heartbeat (``updated_at``, refreshed every
        ``cancel_poll_s``) is recent is being executed by another process; resuming it would
        run its tasks twice, so it is refused unless *force*.

        Raises:
            WorkflowError: unknown run id, the run already succeeded, or it looks alive.
        """
        storage = await self.storage()
        run = await storage.get_run(run_id)
        if run is None:
            raise WorkflowError(
                f"no run with id {run_id!r}", hint="list runs with `agent-sdk runs list`"
            )
        if run.status == "succeeded":
            raise WorkflowError(f"run {run_id} already succeeded; nothing to resume")
        stale_after = 3 * self.settings.cancel_poll_s + 2.0
        age = time.time() - run.updated_at
        if run.status == "running" and age < stale_after and not force:
            raise WorkflowError(
                f"run {run_id} looks alive: another process updated it {age:.1f}s ago",
                hint=f"wait {stale_after - age:.0f}s for it to go stale, cancel it with "
                f"`agent-sdk cancel {run_id}`, or pass --force if that process is gone",
            )
        wf = WorkflowDef.model_validate(run.definition)
        self.check_components(wf)
        workspace = self._run_workspace(wf, run.input)
        async with self._run_slot():
            return await self._resume(run, wf, workspace)

    async def _resume(self, run: RunRecord, wf: WorkflowDef, workspace: Path) -> RunResult:
        storage = await self.storage()
        run_id = run.id
        journal = await Journal.load(storage, run_id)
        state = _RunState(run, wf, journal, EventLog(storage, run_id))
        state.workspace = workspace
        state.mounts = self._run_mounts(wf, state.run.input)
        state.info = RunInfo(run.id, wf.name, run.input, resumed=True)
        for record in await storage.list_tasks(run_id):
            state.tasks[record.task_id] = record
            if record.status == "succeeded":
                state.outputs[record.task_id] = record.output
        await storage.update_run(run_id, status="running", error=None)
        return await self._execute(state)

    async def cancel(self, run_id: str, reason: str = "cancelled by user") -> bool:
        """Mark a run cancelled in storage; a process running it stops within ``cancel_poll_s``.

        Returns:
            ``True`` if the run was active and is now marked cancelled; ``False`` if it had
            already ended.

        Raises:
            WorkflowError: unknown run id.
        """
        storage = await self.storage()
        run = await storage.get_run(run_id)
        if run is None:
            raise WorkflowError(
                f"no run with id {run_id!r}", hint="list runs with `agent-sdk runs list`"
            )
        if run.status in TERMINAL_RUN_STATES:
            return False
        error = CancelledError(reason, hint=f"resume it with `agent-sdk resume {run_id}`").to_dict()
        await storage.update_run(run_id, status="cancelled", error=error)
        now = time.time()
        for task in await storage.list_tasks(run_id):
            if task.status in ("pending", "running"):
                task.status, task.error, task.finished_at = "cancelled", error, now
                await storage.save_task(task)
        return True

    def check_components(self, workflow: WorkflowDef) -> None:
        """Check that every agent, model and tool the workflow names is available.

        Raises:
            UnknownComponentError: naming the task and the missing component.
        """
        registry = self.app.registry
        for task in workflow.tasks:
            if task.tool is not None:
                registry.entry("tool", task.tool)
            else:
                section = self.app.config.agent(task.target)
                registry.entry("agent", section.type)
                for tool in section.tools or []:
                    registry.entry("tool", tool)

    # --- execution -----------------------------------------------------------------------

    async def _execute(self, state: _RunState) -> RunResult:
        storage = await self.storage()
        self._loop = asyncio.get_running_loop()
        self._active[state.run.id] = state
        started = time.perf_counter()
        wf = state.workflow
        hook = self.app.pm.hook
        status = "succeeded"
        error: dict[str, Any] | None = None
        with bind_context(run_id=state.run.id):
            await state.events.emit(
                "run_resumed" if state.info.resumed else "run_started", workflow=wf.name
            )
            hook.agent_sdk_before_run(run=state.info)
            watcher = asyncio.create_task(self._watch_cancel(state, asyncio.current_task()))
            try:
                async with asyncio.timeout(wf.timeout_s):
                    failed = await self._schedule(state)
                if failed:
                    status = "failed"
                    first = state.tasks[failed[0]]
                    error = WorkflowError(
                        f"task(s) {', '.join(failed)} failed; first error: "
                        f"{(first.error or {}).get('message')}"
                    ).to_dict()
            except TimeoutError:
                status = "failed"
                error = AgentTimeoutError(
                    f"workflow {wf.name!r} exceeded its timeout_s = {wf.timeout_s}",
                    hint=f"raise timeout_s in [workflows.{wf.name}] or resume the run",
                ).to_dict()
                await self._cancel_open_tasks(state, error)
            except asyncio.CancelledError:
                status = "cancelled"
                reason = state.cancel_reason or "interrupted"
                error = CancelledError(
                    reason, hint=f"resume it with `agent-sdk resume {state.run.id}`"
                ).to_dict()
                await self._cancel_open_tasks(state, error)
                await self._finish(state, storage, status, error, started)
                if state.cancel_reason is None:
                    raise  # the caller cancelled us (Ctrl-C): propagate after recording
            except Exception as exc:
                # e.g. a StorageError: record what we can, tell the hooks, then re-raise
                status = "failed"
                error = _error_dict(exc)
                await self._cancel_open_tasks(state, error, best_effort=True)
                await self._finish(state, storage, status, error, started, best_effort=True)
                raise
            finally:
                watcher.cancel()
                self._active.pop(state.run.id, None)
            if status != "cancelled":
                await self._finish(state, storage, status, error, started)
            if status == "failed":
                await (await self.alerts()).run_failed(
                    state.run.id, wf.name, str((error or {}).get("message", ""))
                )
        return RunResult(
            run_id=state.run.id,
            workflow=wf.name,
            status=status,
            outputs=dict(state.outputs),
            tasks=dict(state.tasks),
            error=error,
            usage=state.usage(),
            duration_s=time.perf_counter() - started,
            replayed_steps=state.journal.replayed,
        )

    async def _finish(
        self,
        state: _RunState,
        storage: StorageBackend,
        status: str,
        error: dict[str, Any] | None,
        started: float,
        *,
        best_effort: bool = False,
    ) -> None:
        output = REDACTOR.redact_secrets(dict(state.outputs)) if status == "succeeded" else None
        try:
            await storage.update_run(
                state.run.id, status=status, output=output, error=error, usage=state.usage()
            )
            await state.events.emit(
                "run_finished", status=status, error=(error or {}).get("message")
            )
            await state.events.flush()
        except Exception as exc:
            if not best_effort:
                raise
            log.error("run_finish_not_recorded", run_id=state.run.id, error=str(exc))
        outcome = Outcome(
            cast(RunEnd, status),
            output=output,
            error=error,
            duration_s=time.perf_counter() - started,
        )
        self.app.pm.hook.agent_sdk_after_run(run=state.info, outcome=outcome)

    async def _watch_cancel(self, state: _RunState, main: asyncio.Task[Any] | None) -> None:
        storage = await self.storage()
        while True:
            await asyncio.sleep(self.settings.cancel_poll_s)
            run = await storage.get_run(state.run.id)
            if run is not None and run.status == "cancelled" and main is not None:
                state.cancel_reason = (run.error or {}).get("message") or "cancelled"
                main.cancel()
                return
            await storage.update_run(state.run.id)  # heartbeat: touches updated_at only

    async def _cancel_open_tasks(
        self, state: _RunState, error: dict[str, Any], *, best_effort: bool = False
    ) -> None:
        storage = await self.storage()
        now = time.time()
        for task_id, record in state.tasks.items():
            if record.status == "running":
                record.status, record.error, record.finished_at = "cancelled", error, now
                try:
                    await storage.save_task(record)
                    await state.events.emit("task_cancelled", task_id, reason=error.get("message"))
                except Exception as exc:
                    if not best_effort:
                        raise
                    log.error("task_cancel_not_recorded", task_id=task_id, error=str(exc))

    async def _schedule(self, state: _RunState) -> list[str]:
        """Run tasks until none is ready or running. Returns the ids of failed tasks."""
        wf = state.workflow
        order = {t.id: i for i, t in enumerate(wf.tasks)}
        status = {
            t.id: (state.tasks[t.id].status if t.id in state.tasks else "pending") for t in wf.tasks
        }
        for task_id, st in status.items():
            if st != "succeeded":
                status[task_id] = "pending"  # failed/cancelled/running/skipped get another go
        ready: list[tuple[int, int, str]] = []
        by_id = {t.id: t for t in wf.tasks}
        dependents: dict[str, list[str]] = {t.id: [] for t in wf.tasks}
        waiting_on: dict[str, int] = {}  # pending task -> dependencies not yet succeeded
        for task in wf.tasks:
            for dep in task.depends_on:
                dependents[dep].append(task.id)
            waiting_on[task.id] = sum(1 for d in task.depends_on if status[d] != "succeeded")

        def make_ready(task_id: str) -> None:
            task = by_id[task_id]
            heapq.heappush(ready, (-task.priority, order[task_id], task_id))

        for task in wf.tasks:  # O(tasks + edges) per run, not per completion
            if status[task.id] == "pending" and waiting_on[task.id] == 0:
                make_ready(task.id)

        running: dict[str, asyncio.Task[None]] = {}
        failed: list[str] = []
        concurrency = wf.concurrency or self.settings.concurrency
        try:
            while ready or running:
                while ready and len(running) < concurrency:
                    _, _, task_id = heapq.heappop(ready)
                    status[task_id] = "running"
                    running[task_id] = asyncio.create_task(
                        self._run_task(state, by_id[task_id]), name=f"task:{task_id}"
                    )
                done, _ = await asyncio.wait(running.values(), return_when=asyncio.FIRST_COMPLETED)
                for fut in done:
                    task_id = fut.get_name().removeprefix("task:")
                    del running[task_id]
                    exc = fut.exception()
                    if exc is not None:
                        raise exc  # storage failure etc.: stop the run, nothing half-recorded
                    status[task_id] = state.tasks[task_id].status
                    if status[task_id] == "succeeded":
                        for dependent in dependents[task_id]:
                            waiting_on[dependent] -= 1
                            if waiting_on[dependent] == 0 and status[dependent] == "pending":
                                make_ready(dependent)
                    else:
                        failed.append(task_id)
                        if wf.failure_policy == "fail_fast":
                            for other in running.values():
                                other.cancel()
                            await asyncio.gather(*running.values(), return_exceptions=True)
                            running.clear()
                            ready.clear()
                            await self._mark_unrun(
                                state,
                                status,
                                "cancelled",
                                f"cancelled: task {task_id!r} failed (fail_fast)",
                            )
                            return failed
                        for dependent in wf.descendants(task_id):
                            if status[dependent] == "pending":
                                status[dependent] = "skipped"
                                await self._save_task(
                                    state,
                                    TaskRecord(
                                        run_id=state.run.id,
                                        task_id=dependent,
                                        status="skipped",
                                        error={
                                            "type": "WorkflowError",
                                            "message": f"skipped: dependency {task_id!r} failed",
                                            "hint": None,
                                            "transient": False,
                                        },
                                    ),
                                )
        finally:
            for fut in running.values():
                fut.cancel()
            if running:
                await asyncio.gather(*running.values(), return_exceptions=True)
        return failed

    async def _mark_unrun(
        self, state: _RunState, status: Mapping[str, str], new: str, message: str
    ) -> None:
        error = {"type": "CancelledError", "message": message, "hint": None, "transient": False}
        for task_id, st in status.items():
            record = state.tasks.get(task_id)
            if st == "pending" or (record is not None and record.status == "running"):
                await self._save_task(
                    state,
                    TaskRecord(
                        run_id=state.run.id,
                        task_id=task_id,
                        status=new,  # type: ignore[arg-type]
                        attempt=record.attempt if record else 0,
                        error=error,
                        finished_at=time.time(),
                    ),
                )

    async def _save_task(self, state: _RunState, record: TaskRecord) -> None:
        if record.output is not None:
            record.output = REDACTOR.redact_secrets(record.output)  # secrets never rest in storage
        state.tasks[record.task_id] = record
        storage = await self.storage()
        await storage.save_task(record)

    async def _run_task(self, state: _RunState, task: TaskDef) -> None:
        previous = state.tasks.get(task.id)
        # a task interrupted while running continues the same attempt (journal replay)
        attempt = (
            previous.attempt
            if previous is not None
            and previous.status in ("running", "cancelled")
            and previous.attempt
            else (previous.attempt + 1 if previous else 1)
        )
        first_attempt = attempt
        with bind_context(task_id=task.id):
            while True:
                info = TaskInfo(state.run.id, task.id, task.type, task.target, attempt)
                record = TaskRecord(
                    run_id=state.run.id,
                    task_id=task.id,
                    status="running",
                    attempt=attempt,
                    started_at=time.time(),
                )
                await self._save_task(state, record)
                await state.events.emit(
                    "task_started", task.id, attempt=attempt, type=task.type, target=task.target
                )
                self.app.pm.hook.agent_sdk_before_task(run=state.info, task=info)
                started = time.perf_counter()
                try:
                    timeout = task.timeout_s or self.settings.task_timeout_s
                    try:
                        async with asyncio.timeout(timeout):
                            output = await self._execute_task(state, task, attempt)
                    except TimeoutError:
                        raise AgentTimeoutError(
                            f"task {task.id!r} exceeded its timeout_s = {timeout} "
                            f"(attempt {attempt})",
                            hint=f"raise timeout_s of task {task.id!r}",
                        ) from None
                except asyncio.CancelledError:
                    record.status, record.finished_at = "cancelled", time.time()
                    record.error = CancelledError(state.cancel_reason or "task cancelled").to_dict()
                    try:
                        await self._save_task(state, record)
                    finally:
                        self.app.pm.hook.agent_sdk_after_task(
                            run=state.info,
                            task=info,
                            outcome=Outcome(
                                "cancelled",
                                error=record.error,
                                duration_s=time.perf_counter() - started,
                            ),
                        )
                    raise
                except Exception as exc:
                    if isinstance(exc, StorageError):
                        self.app.pm.hook.agent_sdk_after_task(
                            run=state.info,
                            task=info,
                            outcome=Outcome(
                                "failed",
                                error=exc.to_dict(),
                                duration_s=time.perf_counter() - started,
                            ),
                        )
                        raise  # the journal is broken: stop the run, do not record over it
                    error = _error_dict(exc)
                    record.status, record.error, record.finished_at = "failed", error, time.time()
                    await self._save_task(state, record)
                    duration = time.perf_counter() - started
                    await state.events.emit(
                        "task_failed",
                        task.id,
                        attempt=attempt,
                        error=error.get("message"),
                        error_type=error.get("type"),
                    )
                    self.app.pm.hook.agent_sdk_after_task(
                        run=state.info,
                        task=info,
                        outcome=Outcome("failed", error=error, duration_s=duration),
                    )
                    retryable = bool(error.get("transient")) or isinstance(exc, AgentTimeoutError)
                    final = not (retryable and attempt - first_attempt < task.retries)
                    alerts = await self.alerts()
                    if final:
                        message = str(error.get("message", ""))
                        await alerts.task_finished(state.run.id, task.id, ok=False, message=message)
                    else:
                        alerts.note_attempt(ok=False)
                    if not final:
                        wait = self.settings.task_retry.backoff_s(attempt - first_attempt + 1)
                        retry_after = getattr(exc, "retry_after", None)
                        if retry_after:
                            wait = max(wait, float(retry_after))
                        await state.events.emit(
                            "task_retry_scheduled",
                            task.id,
                            attempt=attempt + 1,
                            wait_s=round(wait, 3),
                        )
                        await asyncio.sleep(wait)
                        attempt += 1
                        continue
                    await state.events.flush()
                    return
                record.status, record.output, record.finished_at = "succeeded", output, time.time()
                await self._save_task(state, record)
                await (await self.alerts()).task_finished(state.run.id, task.id, ok=True)
                state.outputs[task.id] = output
                duration = time.perf_counter() - started
                await state.events.emit(
                    "task_succeeded", task.id, attempt=attempt, duration_s=round(duration, 6)
                )
                self.app.pm.hook.agent_sdk_after_task(
                    run=state.info,
                    task=info,
                    outcome=Outcome("succeeded", output=output, duration_s=duration),
                )
                return

    def _agent(self, type_name: str, section: Any) -> Agent:
        key = section.name or type_name
        agent = self._agents.get(key)
        if agent is None:
            created = self.app.create("agent", type_name, section.options, where=f"agents.{key}")
            assert isinstance(created, Agent)
            agent = self._agents[key] = created
        return agent

    async def _execute_task(self, state: _RunState, task: TaskDef, attempt: int) -> Any:
        if task.tool is not None:
            args = resolve_references(
                task.args, state.run.input, state.outputs, _metadata_if_used(task.args, state)
            )
            ctx = TaskContext(
                self.services,
                state.journal,
                state.events,
                run_id=state.run.id,
                task_id=task.id,
                attempt=attempt,
                workspace=state.workspace or self.workspace,
                mounts=state.mounts,
            )
            result = await ctx.run_tool_task(task.tool, args)
            if not result.ok:
                err = result.error or {}
                failure = ToolError(
                    f"tool {task.tool!r} failed: {err.get('message')}", hint=err.get("hint")
                )
                failure.transient = bool(err.get("transient"))
                raise failure
            return result.data
        section = self.app.config.agent(task.target)
        agent = self._agent(section.type, section)
        task_input = resolve_references(
            task.input, state.run.input, state.outputs, _metadata_if_used(task.input, state)
        )
        ctx = TaskContext(
            self.services,
            state.journal,
            state.events,
            run_id=state.run.id,
            task_id=task.id,
            attempt=attempt,
            agent=section,
            workspace=state.workspace or self.workspace,
            mounts=state.mounts,
        )
        agent_result = await agent.run(task_input, ctx)
        return agent_result.output

    def _run_mounts(self, workflow: WorkflowDef, run_input: Any) -> dict[str, Path]:
        """Resolve the workflow's read-only mounts for one run (checked before it is stored).

        Raises:
            WorkflowValidationError: a mount point is not absolute or a host path is missing.
        """
        mounts: dict[str, Path] = {}
        source = Path(self.app.config.source)
        base = source.parent if source.is_file() else Path.cwd()
        for point, raw in workflow.mounts.items():
            if not point.startswith("/") or point == "/":
                raise WorkflowValidationError(
                    f"workflow {workflow.name!r}: mount point {point!r} must be an absolute "
                    "path below / (e.g. /project)"
                )
            path = Path(str(_resolve_setting(raw, run_input))).expanduser()
            path = path if path.is_absolute() else base / path
            if not path.exists():
                raise WorkflowValidationError(
                    f"workflow {workflow.name!r}: mount {point} -> {str(path)!r} does not exist",
                    hint="pass an existing path in the run input (e.g. --set path=...)",
                )
            mounts[point] = path.resolve()
        return mounts

    def _run_workspace(self, workflow: WorkflowDef, run_input: Any) -> Path:
        """The run's workspace: the workflow's ``workspace`` (references resolved), else the
        engine's. Raises WorkflowValidationError if it is not an existing directory."""
        if not workflow.workspace:
            return self.workspace
        resolved = _resolve_setting(workflow.workspace, run_input)
        path = Path(str(resolved)).expanduser()
        if not path.is_absolute():
            path = self.workspace / path
        if not path.is_dir():
            raise WorkflowValidationError(
                f"workflow {workflow.name!r}: workspace {str(path)!r} is not a directory",
                hint="pass an existing directory, e.g. --set path=/path/to/project",
            )
        return path.resolve()
