"""Hook implementations of the ``alerts`` plugin (the target of its ``agent_sdk`` entry point).

Every agent-sdk application imports this module at start-up, so it stays light: the sinks are
imported inside the registration hook, and ``httpx``/``smtplib`` only when an alert is sent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent_sdk import hookimpl

if TYPE_CHECKING:
    from agent_sdk.config import Config
    from agent_sdk.kinds.alerts import AlertSink


@hookimpl
def agent_sdk_register_alert_sinks() -> list[type[AlertSink]]:
    """Register the ``log``, ``webhook``, ``slack`` and ``email`` sinks."""
    from agent_sdk_alerts.log import LogSink
    from agent_sdk_alerts.slack import SlackSink
    from agent_sdk_alerts.smtp import EmailSink
    from agent_sdk_alerts.webhook import WebhookSink

    return [LogSink, WebhookSink, SlackSink, EmailSink]


@hookimpl
def agent_sdk_configure(config: Config) -> None:
    """Reject missing or contradictory sink settings before any run starts."""
    from agent_sdk_alerts.config import check_settings

    check_settings(config)
