"""The ``slack`` sink: post each alert to a Slack incoming webhook (``{"text", "blocks"}``).

The webhook URL is itself the credential (anyone holding it can post to the channel), so it is
a secret reference, and messages and logs never show it.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from agent_sdk.kinds.alerts import Alert, AlertSink
from agent_sdk_alerts._secrets import SecretCache
from agent_sdk_alerts.config import AlertsConfig
from agent_sdk_alerts.errors import AlertDeliveryError
from agent_sdk_alerts.payload import alert_payload, iso_time

__all__ = ["SlackSink", "slack_payload"]

SEVERITY_EMOJI = {
    "info": ":information_source:",
    "warning": ":warning:",
    "error": ":x:",
    "critical": ":rotating_light:",
}

# Slack's limits: header text 150 characters, section text 3000, a field 2000, 10 fields.
_HEADER_MAX, _TEXT_MAX, _FIELD_MAX, _FIELDS_MAX = 150, 3000, 2000, 10


def _escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def slack_payload(alert: Alert) -> dict[str, Any]:
    """The incoming-webhook message for *alert*: fallback ``text`` plus Block Kit ``blocks``.

    Blocks: a header (emoji + title), the message (when there is one), the details as fields
    (rule, severity, run, task, labels) and a context line with the time.
    """
    data = alert_payload(alert)
    emoji = SEVERITY_EMOJI.get(str(data["severity"]), ":bell:")
    title = str(data["title"])
    severity = str(data["severity"])
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": _clip(f"{emoji} {title}", _HEADER_MAX)},
        }
    ]
    if data["message"]:
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": _clip(_escape(str(data["message"])), _TEXT_MAX)},
            }
        )
    details = [("Rule", str(data["rule"])), ("Severity", severity)]
    if data["run_id"]:
        details.append(("Run", str(data["run_id"])))
    if data["task_id"]:
        details.append(("Task", str(data["task_id"])))
    details += [(str(k), str(v)) for k, v in sorted(data["labels"].items())]
    blocks.append(
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": _clip(f"*{_escape(k)}*\n{_escape(v)}", _FIELD_MAX)}
                for k, v in details[:_FIELDS_MAX]
            ],
        }
    )
    blocks.append(
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": f"agent-sdk alert at {iso_time(float(data['created_at']))}",
                }
            ],
        }
    )
    return {"text": f"{emoji} [{severity.upper()}] {_escape(title)}", "blocks": blocks}


class SlackSink(AlertSink):
    """Posts each alert to the Slack incoming webhook in ``slack_webhook_url`` (a secret)."""

    name: ClassVar[str] = "slack"
    description: ClassVar[str] = "Post each alert to a Slack channel (incoming webhook)."
    Config = AlertsConfig

    def __init__(self, config: AlertsConfig | None = None) -> None:
        super().__init__(config)
        self._url = SecretCache()

    async def send(self, alert: Alert) -> None:
        from agent_sdk_alerts._http import post_json

        config: AlertsConfig = self.config
        if config.slack_webhook_url is None:
            raise AlertDeliveryError(
                "slack sink: slack_webhook_url is not set",
                hint='set slack_webhook_url = { env = "SLACK_WEBHOOK_URL" } in [plugins.alerts]',
            )
        url = await self._url.get(
            config.slack_webhook_url, where="plugins.alerts.slack_webhook_url"
        )
        if not url.startswith(("https://", "http://")):
            raise AlertDeliveryError(
                f"slack sink: the secret {config.slack_webhook_url.describe()} does not hold "
                "an http(s) URL",
                hint="store the incoming-webhook URL Slack gave you (https://hooks.slack.com/...)",
            )
        body = json.dumps(slack_payload(alert), ensure_ascii=False).encode("utf-8")
        await post_json(
            url,
            body,
            what="Slack incoming webhook POST",
            sink=self.name,
            policy=config.delivery_retry,
            timeout_s=config.delivery_timeout_s,
        )
