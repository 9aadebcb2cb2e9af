"""An alert sink that appends each alert, as one JSON line, to a file a log shipper tails.

The kernel decides *when* to alert (the rules, deduplication and rate limits of ``[alerts]``)
and masks registered secrets before a sink sees the alert; a sink only delivers.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Literal

from pydantic import Field

from agent_sdk import hookimpl
from agent_sdk.errors import AgentSDKError
from agent_sdk.kinds.alerts import Alert, AlertSink
from agent_sdk.kinds.base import EmptyConfig


class JsonLinesSink(AlertSink):
    name = "jsonl"
    description = "Append each alert as one JSON line to a file."

    class Config(EmptyConfig):
        path: str = Field("agent-sdk-alerts.jsonl", description="The file alerts are added to.")
        min_severity: Literal["info", "warning", "error", "critical"] = Field(
            "warning", description="Drop alerts below this: info, warning, error or critical."
        )

    async def send(self, alert: Alert) -> None:
        order = ["info", "warning", "error", "critical"]
        if order.index(alert.severity) < order.index(self.config.min_severity):
            return
        line = json.dumps(alert.to_dict(), sort_keys=True) + "\n"
        try:
            await asyncio.to_thread(_append, Path(self.config.path), line)
        except OSError as exc:
            error = AgentSDKError(
                f"alert sink {self.name!r}: cannot write {self.config.path}: {exc.strerror}",
                hint="check that the directory exists and is writable",
            )
            error.transient = True  # a full disk or a moved mount may come back
            raise error from None


def _append(path: Path, line: str) -> None:
    with path.open("a", encoding="utf-8") as handle:
        handle.write(line)


@hookimpl
def agent_sdk_register_alert_sinks() -> list[type[AlertSink]]:
    return [JsonLinesSink]
