"""The ``email`` sink against real local SMTP servers (aiosmtpd): plain, STARTTLS + AUTH."""

from __future__ import annotations

from typing import Any

import pytest
from agent_sdk_alerts.config import AlertsConfig
from agent_sdk_alerts.errors import AlertDeliveryError
from agent_sdk_alerts.smtp import EmailSink
from pydantic import ValidationError

from agent_sdk.kinds.alerts import Alert
from agent_sdk.reliability.retry import RetryPolicy
from agent_sdk.secrets import SecretRef

PASSWORD = "s3cr3t-smtp-passw0rd"
NO_RETRY = RetryPolicy(attempts=1)


def email_config(server: Any, **settings: Any) -> AlertsConfig:
    values: dict[str, Any] = {
        "smtp_host": server.host,
        "smtp_port": server.port,
        "email_from": "agent-sdk@example.org",
        "email_to": ["oncall@example.org", "team@example.org"],
        "delivery_retry": NO_RETRY,
        "delivery_timeout_s": 5,
    }
    values.update(settings)
    return AlertsConfig(**values)


async def test_plain_smtp_delivers_the_alert_with_its_headers_and_body(
    smtp_factory: Any, alert: Alert
) -> None:
    server = smtp_factory()
    config = email_config(server, smtp_security="none", email_from="Agents <agent-sdk@example.org>")
    await EmailSink(config).send(alert)
    (envelope,) = server.inbox.envelopes
    assert envelope.mail_from == "agent-sdk@example.org"
    assert envelope.rcpt_tos == ["oncall@example.org", "team@example.org"]
    message = server.inbox.message()
    assert message["Subject"] == "[agent-sdk] [ERROR] run run_1 of workflow 'nightly' failed"
    assert message["From"] == "Agents <agent-sdk@example.org>"
    assert message["To"] == "oncall@example.org, team@example.org"
    assert message["X-Agent-SDK-Rule"] == "run_failed"
    assert message["X-Agent-SDK-Severity"] == "error"
    assert message["X-Agent-SDK-Run-Id"] == "run_1"
    assert message["Message-ID"].endswith("@example.org>")
    body = message.get_content()
    assert "task 'fetch' failed: HTTP 500 from <api> & co" in body
    assert "rule: run_failed" in body
    assert "run: run_1" in body
    assert "workflow: nightly" in body
    assert "time: 2023-11-14T22:13:20Z" in body


@pytest.mark.parametrize(("mechanism", "excluded"), [("LOGIN", ("PLAIN",)), ("PLAIN", ("LOGIN",))])
async def test_starttls_with_auth_delivers_over_a_verified_tls_connection(
    smtp_factory: Any,
    alert: Alert,
    monkeypatch: pytest.MonkeyPatch,
    mechanism: str,
    excluded: tuple[str, ...],
) -> None:
    server = smtp_factory(starttls=True, login="alerts", password=PASSWORD, exclude=excluded)
    monkeypatch.setenv("TEST_SMTP_PASSWORD", PASSWORD)
    config = email_config(
        server,
        smtp_username="alerts",
        smtp_password=SecretRef(env="TEST_SMTP_PASSWORD"),
        smtp_ca_file=str(server.ca_file),
    )
    await EmailSink(config).send(alert)
    assert server.inbox.auth == [(mechanism, "alerts", True)]
    assert len(server.inbox.envelopes) == 1
    assert "run_1" in server.inbox.message()["Subject"]


async def test_a_wrong_password_fails_without_retry_and_never_shows_the_password(
    smtp_factory: Any, alert: Alert, monkeypatch: pytest.MonkeyPatch, logs: Any
) -> None:
    # one mechanism only: smtplib itself tries each advertised mechanism once per session
    server = smtp_factory(starttls=True, login="alerts", password=PASSWORD, exclude=("LOGIN",))
    monkeypatch.setenv("TEST_SMTP_PASSWORD", "wrong-" + PASSWORD)
    config = email_config(
        server,
        smtp_username="alerts",
        smtp_password=SecretRef(env="TEST_SMTP_PASSWORD"),
        smtp_ca_file=str(server.ca_file),
        delivery_retry=RetryPolicy(attempts=3, initial_s=0, jitter_s=0),
    )
    with pytest.raises(AlertDeliveryError) as caught:
        await EmailSink(config).send(alert)
    error = caught.value
    assert (error.status, error.transient) == (535, False)
    assert "authentication as 'alerts' failed" in str(error)
    assert len(server.inbox.auth) == 1, "an authentication failure is not retried"
    assert server.inbox.envelopes == []
    for text in (str(error), repr(error.to_dict()), logs.getvalue()):
        assert PASSWORD not in text


async def test_an_untrusted_server_certificate_is_refused(smtp_factory: Any, alert: Alert) -> None:
    server = smtp_factory(starttls=True)
    with pytest.raises(AlertDeliveryError, match="TLS certificate is not trusted") as caught:
        await EmailSink(email_config(server)).send(alert)
    assert "smtp_ca_file" in (caught.value.hint or "")
    assert server.inbox.envelopes == []


async def test_starttls_is_never_skipped_when_the_server_lacks_it(
    smtp_factory: Any, alert: Alert
) -> None:
    server = smtp_factory()
    with pytest.raises(AlertDeliveryError, match="does not offer STARTTLS"):
        await EmailSink(email_config(server)).send(alert)
    assert server.inbox.envelopes == []


async def test_a_closed_port_is_a_transient_failure(alert: Alert, unused_port: int) -> None:
    config = AlertsConfig(
        smtp_host="127.0.0.1",
        smtp_port=unused_port,
        email_from="a@example.org",
        email_to=["b@example.org"],
        delivery_retry=NO_RETRY,
    )
    with pytest.raises(AlertDeliveryError) as caught:
        await EmailSink(config).send(alert)
    assert caught.value.transient


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"smtp_username": "u"}, "go together"),
        ({"smtp_password": {"env": "P"}}, "go together"),
        (
            {"smtp_username": "u", "smtp_password": {"env": "P"}, "smtp_security": "none"},
            "never sent over an unencrypted connection",
        ),
    ],
)
def test_smtp_credentials_settings_are_checked(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        AlertsConfig.model_validate(settings)


def test_default_smtp_ports_follow_the_security_mode() -> None:
    assert AlertsConfig().smtp_port_or_default() == 587
    assert AlertsConfig(smtp_security="tls").smtp_port_or_default() == 465
    assert AlertsConfig(smtp_security="none").smtp_port_or_default() == 25
    assert AlertsConfig(smtp_port=2525).smtp_port_or_default() == 2525
