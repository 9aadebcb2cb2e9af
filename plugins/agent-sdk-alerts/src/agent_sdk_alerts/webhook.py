"""The ``webhook`` sink: POST the alert as JSON, signed with HMAC-SHA256.

Every request carries

* ``X-Agent-SDK-Timestamp``: Unix time in seconds when the attempt was signed;
* ``X-Agent-SDK-Signature``: ``sha256=`` + hex HMAC-SHA256, keyed with the secret, of the bytes
  ``<timestamp>.<body>`` (the timestamp, a dot, then the exact request body);
* ``X-Agent-SDK-Delivery``: one id per alert, the same on every retry (deduplicate with it).

Signing the timestamp with the body stops replays: a receiver rejects a request whose timestamp
is more than a few minutes old, and an attacker cannot change the timestamp without the secret.
:func:`verify_signature` is the receiver's side (the README has a standalone copy).
"""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from typing import ClassVar

from agent_sdk.kinds.alerts import Alert, AlertSink
from agent_sdk_alerts._secrets import SecretCache
from agent_sdk_alerts.config import AlertsConfig
from agent_sdk_alerts.errors import AlertDeliveryError
from agent_sdk_alerts.payload import alert_json

__all__ = [
    "DELIVERY_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "WebhookSink",
    "sign",
    "verify_signature",
]

SIGNATURE_HEADER = "X-Agent-SDK-Signature"
TIMESTAMP_HEADER = "X-Agent-SDK-Timestamp"
DELIVERY_HEADER = "X-Agent-SDK-Delivery"


def _key(secret: str | bytes) -> bytes:
    return secret.encode("utf-8") if isinstance(secret, str) else secret


def sign(secret: str | bytes, timestamp: str, body: bytes) -> str:
    """The signature header value: ``sha256=`` + hex HMAC-SHA256 of ``timestamp.body``."""
    digest = hmac.new(_key(secret), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def verify_signature(
    secret: str | bytes,
    body: bytes,
    timestamp: str | None,
    signature: str | None,
    *,
    tolerance_s: float = 300.0,
    now: float | None = None,
) -> bool:
    """``True`` if *signature* is valid for *body* and *timestamp* is recent (receiver side).

    Args:
        secret: the shared signing secret.
        body: the raw request body, exactly as received (do not re-serialise the JSON).
        timestamp: the ``X-Agent-SDK-Timestamp`` header.
        signature: the ``X-Agent-SDK-Signature`` header.
        tolerance_s: how old (or how far in the future) a timestamp may be, in seconds.
        now: the current Unix time (default: the clock).
    """
    if not timestamp or not signature:
        return False
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    current = time.time() if now is None else now
    if abs(current - sent) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


class WebhookSink(AlertSink):
    """POSTs each alert (JSON) to ``webhook_url``, signed when ``webhook_secret`` is set."""

    name: ClassVar[str] = "webhook"
    description: ClassVar[str] = "POST each alert as JSON, HMAC-SHA256 signed, with retries."
    Config = AlertsConfig

    def __init__(self, config: AlertsConfig | None = None) -> None:
        super().__init__(config)
        self._secret = SecretCache()

    async def send(self, alert: Alert) -> None:
        from agent_sdk_alerts._http import post_json, shown_url

        config: AlertsConfig = self.config
        if not config.webhook_url:
            raise AlertDeliveryError(
                "webhook sink: webhook_url is not set",
                hint="set webhook_url in [plugins.alerts]",
            )
        secret: str | None = None
        if config.webhook_secret is not None:
            secret = await self._secret.get(
                config.webhook_secret, where="plugins.alerts.webhook_secret"
            )
        body = alert_json(alert)
        delivery = uuid.uuid4().hex

        def headers() -> dict[str, str]:
            timestamp = str(int(time.time()))
            values = {DELIVERY_HEADER: delivery, TIMESTAMP_HEADER: timestamp}
            if secret is not None:
                values[SIGNATURE_HEADER] = sign(secret, timestamp, body)
            return values

        await post_json(
            config.webhook_url,
            body,
            what=f"webhook POST {shown_url(config.webhook_url)}",
            sink=self.name,
            policy=config.delivery_retry,
            timeout_s=config.delivery_timeout_s,
            headers=headers,
        )
