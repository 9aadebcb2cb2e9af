"""Alert sinks: deliver an :class:`Alert` somewhere a human will see it (log, webhook, Slack...).

Alert *rules* (which events raise alerts, deduplication, rate limits) live in the runtime; a
sink only delivers. A sink raises :class:`~agent_sdk.errors.AgentSDKError` on a failed delivery
(marked ``transient`` when a retry may succeed); the kernel logs it and carries on.
"""

from __future__ import annotations

import time
from abc import abstractmethod
from typing import Any, ClassVar, Literal

import attrs

from agent_sdk.kinds.base import Component, Kind

__all__ = ["Alert", "AlertSink", "Severity"]

Severity = Literal["info", "warning", "error", "critical"]


@attrs.frozen
class Alert:
    """Something a human should know about.

    Attributes:
        rule: the rule that raised it (e.g. ``"run_failed"``, ``"circuit_opened"``).
        severity: ``info``, ``warning``, ``error`` or ``critical``.
        title: one line.
        message: details (registered secrets are masked by the kernel before any sink, hook
            or storage sees the alert).
        run_id: the run concerned, or ``""``.
        task_id: the task concerned, or ``""``.
        labels: extra key/values (workflow, tool, breaker...).
        dedup_key: alerts with the same key within a rule's window are sent once.
        created_at: Unix time in seconds.
    """

    rule: str
    severity: Severity
    title: str
    message: str = ""
    run_id: str = ""
    task_id: str = ""
    labels: dict[str, str] = attrs.field(factory=dict)
    dedup_key: str = ""
    created_at: float = attrs.field(factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict of every attribute."""
        return attrs.asdict(self)


class AlertSink(Component):
    """Base class of alert sinks (registered by ``agent_sdk_register_alert_sinks``)."""

    kind: ClassVar[Kind] = "alert_sink"

    @abstractmethod
    async def send(self, alert: Alert) -> None:
        """Deliver *alert*.

        Raises:
            AgentSDKError: delivery failed (``transient=True`` if a retry may succeed).
        """
