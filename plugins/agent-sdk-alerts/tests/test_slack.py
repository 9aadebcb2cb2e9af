"""The ``slack`` sink: Block Kit payload, delivery to the URL held by a secret reference."""

from __future__ import annotations

from typing import Any

import pytest
from agent_sdk_alerts.config import AlertsConfig
from agent_sdk_alerts.errors import AlertDeliveryError
from agent_sdk_alerts.slack import SlackSink, slack_payload

from agent_sdk.kinds.alerts import Alert
from agent_sdk.reliability.retry import RetryPolicy
from agent_sdk.secrets import SecretRef


def test_slack_payload_has_fallback_text_and_blocks(alert: Alert) -> None:
    payload = slack_payload(alert)
    assert set(payload) == {"text", "blocks"}
    assert payload["text"] == ":x: [ERROR] run run_1 of workflow 'nightly' failed"
    header, message, details, context = payload["blocks"]
    assert header == {
        "type": "header",
        "text": {"type": "plain_text", "text": ":x: run run_1 of workflow 'nightly' failed"},
    }
    assert message == {
        "type": "section",
        "text": {
            "type": "mrkdwn",
            "text": "task 'fetch' failed: HTTP 500 from &lt;api&gt; &amp; co",
        },
    }
    assert details["type"] == "section"
    assert [f["text"] for f in details["fields"]] == [
        "*Rule*\nrun_failed",
        "*Severity*\nerror",
        "*Run*\nrun_1",
        "*Task*\nfetch",
        "*workflow*\nnightly",
    ]
    assert all(f["type"] == "mrkdwn" for f in details["fields"])
    assert context == {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": "agent-sdk alert at 2023-11-14T22:13:20Z"}],
    }


def test_slack_payload_respects_slack_length_limits() -> None:
    long = Alert(rule="circuit_opened", severity="warning", title="t" * 500, message="m" * 5000)
    header, message, _details, _context = slack_payload(long)["blocks"]
    assert len(header["text"]["text"]) == 150
    assert len(message["text"]["text"]) == 3000


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch) -> Any:
    def make(url: str) -> SlackSink:
        monkeypatch.setenv("TEST_SLACK_URL", url)
        return SlackSink(
            AlertsConfig(
                slack_webhook_url=SecretRef(env="TEST_SLACK_URL"),
                delivery_retry=RetryPolicy(attempts=2, initial_s=0, jitter_s=0),
            )
        )

    return make


async def test_slack_sink_posts_the_payload_to_the_url_from_the_secret(
    receiver: Any, slack: Any, alert: Alert
) -> None:
    await slack(receiver.url + "/services/T000/B000/XXXX").send(alert)
    (request,) = receiver.requests
    assert request.path == "/services/T000/B000/XXXX"
    assert request.headers["content-type"] == "application/json"
    assert request.json() == slack_payload(alert)


async def test_slack_failures_never_show_the_webhook_url(
    receiver: Any, slack: Any, alert: Alert
) -> None:
    receiver.script(404)
    with pytest.raises(AlertDeliveryError) as caught:
        await slack(receiver.url + "/services/T000/B000/SECRETPATH").send(alert)
    assert "HTTP 404" in str(caught.value)
    assert "SECRETPATH" not in str(caught.value)
    assert "SECRETPATH" not in repr(caught.value.to_dict())


async def test_a_secret_that_is_not_a_url_is_reported_without_its_value(
    slack: Any, alert: Alert
) -> None:
    with pytest.raises(AlertDeliveryError, match="env:TEST_SLACK_URL does not hold") as caught:
        await slack("xoxb-not-a-url").send(alert)
    assert "xoxb-not-a-url" not in str(caught.value)
