"""The ``webhook`` sink against a real local HTTP server."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import pytest
from agent_sdk_alerts.config import AlertsConfig
from agent_sdk_alerts.errors import AlertDeliveryError
from agent_sdk_alerts.webhook import WebhookSink, sign, verify_signature

from agent_sdk.errors import SecretError
from agent_sdk.kinds.alerts import Alert
from agent_sdk.secrets import SecretRef

SECRET = "whsec-0123456789abcdef"


@pytest.fixture
def make_sink(monkeypatch: pytest.MonkeyPatch) -> Any:
    from agent_sdk.reliability.retry import RetryPolicy

    monkeypatch.setenv("TEST_WEBHOOK_SECRET", SECRET)

    def make(url: str, *, signed: bool = True, attempts: int = 3) -> WebhookSink:
        config = AlertsConfig(
            webhook_url=url,
            webhook_secret=SecretRef(env="TEST_WEBHOOK_SECRET") if signed else None,
            delivery_retry=RetryPolicy(attempts=attempts, initial_s=0, jitter_s=0),
            delivery_timeout_s=5,
        )
        return WebhookSink(config)

    return make


async def test_webhook_posts_the_alert_json_signed_with_the_secret(
    receiver: Any, make_sink: Any, alert: Alert
) -> None:
    await make_sink(receiver.url + "/hooks/alerts").send(alert)
    (request,) = receiver.requests
    assert request.path == "/hooks/alerts"
    assert request.headers["content-type"] == "application/json"
    assert request.json() == alert.to_dict()
    timestamp = request.headers["x-agent-sdk-timestamp"]
    signature = request.headers["x-agent-sdk-signature"]
    assert abs(int(timestamp) - time.time()) < 60
    assert verify_signature(SECRET, request.body, timestamp, signature)
    # the documented recipe, spelled out: HMAC-SHA256 over b"<timestamp>." + raw body
    expected = hmac.new(
        SECRET.encode(), timestamp.encode() + b"." + request.body, hashlib.sha256
    ).hexdigest()
    assert signature == f"sha256={expected}"
    assert len(request.headers["x-agent-sdk-delivery"]) == 32


async def test_webhook_retries_after_a_503_then_succeeds(
    receiver: Any, make_sink: Any, alert: Alert
) -> None:
    receiver.script(503)
    await make_sink(receiver.url).send(alert)
    first, second = receiver.requests
    assert first.body == second.body
    assert first.headers["x-agent-sdk-delivery"] == second.headers["x-agent-sdk-delivery"]
    assert verify_signature(
        SECRET,
        second.body,
        second.headers["x-agent-sdk-timestamp"],
        second.headers["x-agent-sdk-signature"],
    )


async def test_webhook_honours_retry_after_of_a_429(
    receiver: Any, make_sink: Any, alert: Alert
) -> None:
    receiver.script((429, {"Retry-After": "0.2"}))
    started = time.monotonic()
    await make_sink(receiver.url).send(alert)
    assert len(receiver.requests) == 2
    assert time.monotonic() - started >= 0.2


async def test_webhook_does_not_retry_a_400(receiver: Any, make_sink: Any, alert: Alert) -> None:
    receiver.script(400)
    with pytest.raises(AlertDeliveryError) as caught:
        await make_sink(receiver.url + "/in?token=abc").send(alert)
    assert len(receiver.requests) == 1
    error = caught.value
    assert (error.status, error.transient) == (400, False)
    assert f"webhook POST {receiver.url}/in: HTTP 400" in str(error)
    assert "token=abc" not in str(error), "query strings may hold credentials"


async def test_webhook_gives_up_after_its_attempts_with_a_transient_error(
    receiver: Any, make_sink: Any, alert: Alert
) -> None:
    receiver.script(503, 502, 500)
    with pytest.raises(AlertDeliveryError) as caught:
        await make_sink(receiver.url, attempts=3).send(alert)
    assert len(receiver.requests) == 3
    assert caught.value.transient
    assert caught.value.status == 500


async def test_an_unreachable_receiver_is_a_transient_failure(
    make_sink: Any, alert: Alert, unused_port: int
) -> None:
    with pytest.raises(AlertDeliveryError) as caught:
        await make_sink(f"http://127.0.0.1:{unused_port}/", attempts=2).send(alert)
    assert caught.value.transient
    assert "ConnectError" in str(caught.value)


async def test_without_a_secret_the_request_is_not_signed(
    receiver: Any, make_sink: Any, alert: Alert
) -> None:
    await make_sink(receiver.url, signed=False).send(alert)
    (request,) = receiver.requests
    assert "x-agent-sdk-signature" not in request.headers
    assert "x-agent-sdk-timestamp" in request.headers


async def test_an_unset_secret_variable_is_reported_and_nothing_is_sent(
    receiver: Any, make_sink: Any, alert: Alert, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TEST_WEBHOOK_SECRET")
    with pytest.raises(SecretError, match="env:TEST_WEBHOOK_SECRET"):
        await make_sink(receiver.url).send(alert)
    assert receiver.requests == []


async def test_registered_secrets_in_the_alert_are_masked_in_the_body(
    receiver: Any, make_sink: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agent_sdk.secrets import resolve

    monkeypatch.setenv("DB_PASSWORD", "hunter2-very-secret")
    password = resolve({"env": "DB_PASSWORD"})
    leaked = Alert(
        rule="task_failed", severity="warning", title="t", message=f"login {password} refused"
    )
    await make_sink(receiver.url).send(leaked)
    (request,) = receiver.requests
    assert password.encode() not in request.body
    assert request.json()["message"] == "login *** refused"


def test_verify_signature_rejects_tampering_replays_and_wrong_secrets() -> None:
    body = json.dumps({"rule": "run_failed"}).encode()
    now = 1_700_000_000
    timestamp = str(now)
    signature = sign(SECRET, timestamp, body)
    assert verify_signature(SECRET, body, timestamp, signature, now=now + 10)
    assert not verify_signature(SECRET, body + b" ", timestamp, signature, now=now)
    assert not verify_signature("other-secret", body, timestamp, signature, now=now)
    assert not verify_signature(SECRET, body, timestamp, signature, now=now + 301), "replay"
    assert not verify_signature(SECRET, body, str(now + 1), signature, now=now), "timestamp changed"
    assert not verify_signature(SECRET, body, None, signature)
    assert not verify_signature(SECRET, body, "soon", signature)
