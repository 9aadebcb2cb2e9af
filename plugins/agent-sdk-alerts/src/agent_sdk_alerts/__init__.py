"""agent-sdk-alerts: alert sinks ``log``, ``webhook``, ``slack`` and ``email``.

The alert *rules* (run failed, task failed, circuit opened, error rate; deduplication and rate
limits) are the kernel's (``[alerts]``); these sinks deliver what the rules fire. Name them in
``[alerts] sinks = [...]`` and configure them in ``[plugins.alerts]``.

The ``agent_sdk`` entry point targets :mod:`agent_sdk_alerts.hooks`; the sinks (and ``httpx``,
``smtplib``) are imported only when the registry is built or an alert is sent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["__version__", "sign", "verify_signature"]

if TYPE_CHECKING:
    from agent_sdk_alerts.webhook import sign, verify_signature


def __getattr__(name: str) -> Any:
    if name in ("sign", "verify_signature"):
        from agent_sdk_alerts import webhook

        return getattr(webhook, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
