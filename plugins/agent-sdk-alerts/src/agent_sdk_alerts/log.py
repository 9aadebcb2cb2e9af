"""The ``log`` sink: each alert becomes a structlog event named ``alert``."""

from __future__ import annotations

from typing import ClassVar

from agent_sdk.kinds.alerts import Alert, AlertSink
from agent_sdk.logging import get_logger
from agent_sdk_alerts.config import AlertsConfig
from agent_sdk_alerts.payload import alert_payload

__all__ = ["LogSink"]

_LEVEL_OF_SEVERITY = {
    "info": "info",
    "warning": "warning",
    "error": "error",
    "critical": "critical",
}


class LogSink(AlertSink):
    """Logs ``alert`` with the alert's fields, at its severity (or ``log_level``)."""

    name: ClassVar[str] = "log"
    description: ClassVar[str] = "Log each alert as a structlog event named `alert`."
    Config = AlertsConfig

    async def send(self, alert: Alert) -> None:
        config: AlertsConfig = self.config
        level = config.log_level or _LEVEL_OF_SEVERITY.get(alert.severity, "error")
        log = get_logger("agent_sdk_alerts")
        getattr(log, level)("alert", **alert_payload(alert))
