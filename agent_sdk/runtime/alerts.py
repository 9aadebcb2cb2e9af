"""Alert rules: decide when something deserves a human's attention, then deliver it once.

Rules (``[alerts.rules.<rule>]``) fire on runtime facts the engine reports:

* ``run_failed``: a run ended failed;
* ``task_failed``: a task failed after its retries;
* ``circuit_opened``: a circuit breaker opened (a model or tool dependency is unhealthy);
* ``error_rate``: the share of failed task attempts within ``window_s`` reached
  ``threshold`` (with at least ``min_events`` attempts in the window).

Each alert passes deduplication (same ``dedup_key`` within ``dedup_window_s`` is sent once) and
a per-rule rate limit (``max_per_hour``), so a failing loop cannot flood a channel. Then it is
stored, offered to the ``agent_sdk_alert`` hook, and delivered to every configured sink; a sink
that fails is logged and recorded in the stored alert, never raised into the run.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

import attrs
from pydantic import BaseModel, ConfigDict, Field

from agent_sdk.kinds.alerts import Alert, AlertSink
from agent_sdk.kinds.storage import AlertRecord, StorageBackend
from agent_sdk.logging import get_logger
from agent_sdk.secrets import REDACTOR

if TYPE_CHECKING:
    from agent_sdk.app import App

__all__ = ["AlertManager", "AlertRule", "AlertsSection", "ErrorRateRule"]

log = get_logger(__name__)

RuleName = Literal["run_failed", "task_failed", "circuit_opened", "error_rate"]


class AlertRule(BaseModel):
    """One rule's switches."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(True, description="Whether the rule fires at all.")
    severity: Literal["info", "warning", "error", "critical"] = Field(
        "error", description="Severity of the alerts it raises."
    )
    max_per_hour: int = Field(
        20, ge=1, description="At most this many alerts per rolling hour from this rule."
    )


class ErrorRateRule(AlertRule):
    """``error_rate``: failed share of task attempts over a window."""

    enabled: bool = Field(False, description="Whether the rule fires at all.")
    window_s: float = Field(300.0, gt=0, description="Sliding window in seconds.")
    threshold: float = Field(0.5, gt=0, le=1, description="Failed share that fires, 0-1.")
    min_events: int = Field(10, ge=1, description="Attempts needed in the window to judge.")


class AlertRules(BaseModel):
    """``[alerts.rules]``: the four rules."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    run_failed: AlertRule = Field(default=AlertRule())
    task_failed: AlertRule = Field(default=AlertRule(enabled=False, severity="warning"))
    circuit_opened: AlertRule = Field(default=AlertRule(severity="warning"))
    error_rate: ErrorRateRule = Field(default=ErrorRateRule())


class AlertsSection(BaseModel):
    """``[alerts]``: sinks, deduplication and rules."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sinks: list[str] = Field(
        default_factory=list, description="Registered alert sink names to deliver to."
    )
    dedup_window_s: float = Field(
        300.0, ge=0, description="Alerts with one dedup key within this many seconds: sent once."
    )
    rules: AlertRules = Field(default=AlertRules())


class AlertManager:
    """Applies the rules and delivers alerts for one engine.

    Args:
        app: the application (for sinks and the ``agent_sdk_alert`` hook).
        storage: where alerts are recorded.
        settings: the ``[alerts]`` section.
        clock: wall clock in seconds (tests inject one).

    Memory is bounded: at most :attr:`max_keys` dedup keys, ``max_per_hour`` timestamps per
    rule, and the error-rate window holds at most :attr:`max_window_events` attempts.
    """

    max_keys = 10_000
    max_window_events = 10_000

    def __init__(
        self,
        app: App,
        storage: StorageBackend,
        settings: AlertsSection,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.app = app
        self.storage = storage
        self.settings = settings
        self._clock = clock
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._sent: dict[str, deque[float]] = {}
        self._attempts: deque[tuple[float, bool]] = deque(maxlen=self.max_window_events)
        self._sinks: list[AlertSink] | None = None
        self._pending: set[asyncio.Task[None]] = set()
        self.suppressed = 0

    def _sink_instances(self) -> list[AlertSink]:
        if self._sinks is None:
            sinks = []
            for name in self.settings.sinks:
                try:
                    sink = self.app.create("alert_sink", name, where=f"alerts.sinks.{name}")
                except Exception as exc:  # noqa: BLE001 - a broken sink must not break the run
                    log.error("alert_sink_unavailable", sink=name, error=str(exc))
                    continue
                assert isinstance(sink, AlertSink)
                sinks.append(sink)
            self._sinks = sinks
        return self._sinks

    def rule(self, name: RuleName) -> AlertRule:
        """The settings of rule *name*."""
        rule: AlertRule = getattr(self.settings.rules, name)
        return rule

    def _admit(self, alert: Alert) -> bool:
        now = self._clock()
        key = f"{alert.rule}:{alert.dedup_key or alert.title}"
        window = self.settings.dedup_window_s
        last = self._seen.get(key)
        if last is not None and now - last < window:
            return False
        sent = self._sent.setdefault(alert.rule, deque())
        limit = self.rule(alert.rule).max_per_hour  # type: ignore[arg-type]
        while sent and now - sent[0] >= 3600:
            sent.popleft()
        if len(sent) >= limit:
            return False
        sent.append(now)
        self._seen[key] = now
        self._seen.move_to_end(key)
        while len(self._seen) > self.max_keys:
            self._seen.popitem(last=False)
        return True

    async def fire(self, alert: Alert) -> bool:
        """Deduplicate and rate limit *alert*, then deliver it in the background.

        Delivery (the ``agent_sdk_alert`` hook, every sink, then storage) runs as a tracked
        task so a slow receiver never delays the run; :meth:`drain` waits for it.

        Returns:
            ``True`` if it was admitted for delivery, ``False`` if suppressed by deduplication
            or the rule's rate limit.
        """
        if not self._admit(alert):
            self.suppressed += 1
            log.info("alert_suppressed", rule=alert.rule, dedup_key=alert.dedup_key)
            return False
        alert = attrs.evolve(
            alert,
            title=REDACTOR.redact(alert.title),
            message=REDACTOR.redact(alert.message),
            labels=REDACTOR.redact_value(alert.labels),
        )
        task = asyncio.get_running_loop().create_task(self._deliver(alert))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)
        return True

    async def drain(self, timeout_s: float = 60.0) -> None:
        """Wait (at most *timeout_s* seconds) for alerts still being delivered."""
        if self._pending:
            _, late = await asyncio.wait(set(self._pending), timeout=timeout_s)
            for task in late:
                task.cancel()
                log.warning("alert_delivery_abandoned", after_s=timeout_s)

    async def _deliver(self, alert: Alert) -> None:
        deliveries: dict[str, str] = {}
        try:
            self.app.pm.hook.agent_sdk_alert(alert=alert)
        except Exception as exc:  # noqa: BLE001 - an observer must not break alerting
            log.warning("alert_hook_failed", rule=alert.rule, error=str(exc))
        for sink in self._sink_instances():
            try:
                await sink.send(alert)
                deliveries[sink.name] = "sent"
            except Exception as exc:  # noqa: BLE001 - one broken sink must not stop the others
                deliveries[sink.name] = f"failed: {exc}"
                log.warning(
                    "alert_delivery_failed", sink=sink.name, rule=alert.rule, error=str(exc)
                )
        try:
            await self._store(alert, deliveries)
        except Exception as exc:  # noqa: BLE001 - the alert went out; only the record failed
            log.error("alert_not_recorded", rule=alert.rule, error=str(exc))

    async def _store(self, alert: Alert, deliveries: dict[str, str]) -> None:
        await self.storage.save_alert(
            AlertRecord(
                rule=alert.rule,
                severity=alert.severity,
                title=alert.title,
                message=alert.message,
                run_id=alert.run_id,
                data={"labels": alert.labels, "task_id": alert.task_id, "deliveries": deliveries},
                created_at=alert.created_at,
            )
        )

    async def run_failed(self, run_id: str, workflow: str, message: str) -> None:
        """Report that a run failed (rule ``run_failed``)."""
        rule = self.rule("run_failed")
        if rule.enabled:
            await self.fire(
                Alert(
                    rule="run_failed",
                    severity=rule.severity,
                    title=f"run {run_id} of workflow {workflow!r} failed",
                    message=message,
                    run_id=run_id,
                    labels={"workflow": workflow},
                    dedup_key=run_id,
                )
            )

    def note_attempt(self, ok: bool) -> None:
        """Record a task attempt's outcome for ``error_rate`` without judging it yet."""
        self._attempts.append((self._clock(), ok))

    async def task_finished(self, run_id: str, task_id: str, ok: bool, message: str = "") -> None:
        """Report a task's final outcome: feeds ``error_rate``; failure → ``task_failed``."""
        now = self._clock()
        self._attempts.append((now, ok))
        rate_rule = self.settings.rules.error_rate
        if rate_rule.enabled:
            while self._attempts and now - self._attempts[0][0] > rate_rule.window_s:
                self._attempts.popleft()
            total = len(self._attempts)
            failed = sum(1 for _, success in self._attempts if not success)
            if total >= rate_rule.min_events and failed / total >= rate_rule.threshold:
                await self.fire(
                    Alert(
                        rule="error_rate",
                        severity=rate_rule.severity,
                        title=f"task error rate {failed}/{total} over {rate_rule.window_s:.0f}s",
                        message=f"threshold {rate_rule.threshold:.0%}",
                        run_id=run_id,
                        dedup_key="error_rate",
                    )
                )
        rule = self.rule("task_failed")
        if not ok and rule.enabled:
            await self.fire(
                Alert(
                    rule="task_failed",
                    severity=rule.severity,
                    title=f"task {task_id!r} of run {run_id} failed",
                    message=message,
                    run_id=run_id,
                    task_id=task_id,
                    dedup_key=f"{run_id}:{task_id}",
                )
            )

    async def circuit_changed(self, name: str, old: str, new: str, run_id: str = "") -> None:
        """Report a breaker transition; opening fires ``circuit_opened``."""
        rule = self.rule("circuit_opened")
        if new == "open" and rule.enabled:
            await self.fire(
                Alert(
                    rule="circuit_opened",
                    severity=rule.severity,
                    title=f"circuit breaker {name!r} opened",
                    message=f"{name} went {old} -> {new}; calls are rejected until it half-opens",
                    run_id=run_id,
                    labels={"breaker": name, "state": new},
                    dedup_key=name,
                )
            )
