"""What every sink says about an alert: the redacted JSON payload and a plain-text rendering."""

from __future__ import annotations

import json
import time
from typing import Any

from agent_sdk.kinds.alerts import Alert
from agent_sdk.secrets import REDACTOR

__all__ = ["alert_json", "alert_payload", "alert_text", "iso_time", "one_line"]


def alert_payload(alert: Alert) -> dict[str, Any]:
    """Every attribute of *alert* (:meth:`Alert.to_dict`) with registered secrets masked."""
    payload: dict[str, Any] = REDACTOR.redact_value(alert.to_dict())
    return payload


def alert_json(alert: Alert) -> bytes:
    """The webhook body: :func:`alert_payload` as compact UTF-8 JSON with sorted keys."""
    return json.dumps(
        alert_payload(alert), ensure_ascii=False, separators=(",", ":"), sort_keys=True
    ).encode("utf-8")


def iso_time(seconds: float) -> str:
    """Unix time as ISO 8601 UTC, e.g. ``2025-01-31T12:00:00Z``."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def one_line(text: str, limit: int = 200) -> str:
    """*text* on one line (no CR/LF: safe in a mail header), at most *limit* characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def alert_text(alert: Alert) -> str:
    """A plain-text rendering: title, message, then one ``key: value`` line per detail."""
    data = alert_payload(alert)
    lines = [str(data["title"]), ""]
    if data["message"]:
        lines += [str(data["message"]), ""]
    lines += [f"rule: {data['rule']}", f"severity: {data['severity']}"]
    if data["run_id"]:
        lines.append(f"run: {data['run_id']}")
    if data["task_id"]:
        lines.append(f"task: {data['task_id']}")
    lines += [f"{key}: {value}" for key, value in sorted(data["labels"].items())]
    lines.append(f"time: {iso_time(float(data['created_at']))}")
    return "\n".join(lines) + "\n"
