"""The alerts plugin: discovery, settings checks, the ``log`` sink, and delivery from a real run."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

import pytest
from agent_sdk_alerts import hooks
from agent_sdk_alerts.config import AlertsConfig
from agent_sdk_alerts.log import LogSink
from agent_sdk_alerts.slack import SlackSink
from agent_sdk_alerts.smtp import EmailSink
from agent_sdk_alerts.webhook import WebhookSink, verify_signature

from agent_sdk.app import App
from agent_sdk.errors import ConfigError, ToolError
from agent_sdk.kinds.alerts import Alert
from agent_sdk.kinds.tool import tool
from agent_sdk.runtime.engine import Engine
from agent_sdk.testing.memory import MemoryStorage

SECRET = "whsec-e2e-0123456789"


def test_entry_point_named_after_the_plugin_targets_the_hooks_module() -> None:
    (entry_point,) = [ep for ep in entry_points(group="agent_sdk") if ep.name == "alerts"]
    assert entry_point.load() is hooks


def test_plugin_registers_the_four_sinks_sharing_one_config(
    plugin_manager: Any, register_plugin: Any
) -> None:
    register_plugin(hooks, name="alerts")
    registry = plugin_manager.registry()
    sinks = {
        name: registry.get("alert_sink", name) for name in ("log", "webhook", "slack", "email")
    }
    assert sinks == {"log": LogSink, "webhook": WebhookSink, "slack": SlackSink, "email": EmailSink}
    assert all(cls.Config is AlertsConfig for cls in sinks.values())
    assert "webhook_secret" in registry.plugin_schema("alerts")["properties"]


def test_loading_the_plugin_imports_no_http_or_smtp_library() -> None:
    code = (
        "import sys, agent_sdk_alerts.hooks as h; h.agent_sdk_register_alert_sinks(); "
        "print(sorted(m for m in ('httpx', 'smtplib', 'aiosmtpd') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --- settings ----------------------------------------------------------------------------


@pytest.fixture
def config_of(register_plugin: Any, make_config: Any) -> Callable[[str], Any]:
    register_plugin(hooks, name="alerts")
    return make_config  # type: ignore[no-any-return]


def test_plugin_table_rejects_unknown_keys(config_of: Any) -> None:
    with pytest.raises(ConfigError, match=r"plugins\.alerts\.webhook_uri: unknown key"):
        config_of('[plugins.alerts]\nwebhook_uri = "https://x.example"\n')


def test_a_plaintext_secret_is_refused_without_echoing_it(config_of: Any) -> None:
    with pytest.raises(ConfigError) as caught:
        config_of('[plugins.alerts]\nwebhook_secret = "pasted-secret-value"\n')
    assert "plugins.alerts.webhook_secret" in str(caught.value)
    assert "pasted-secret-value" not in str(caught.value)


def test_a_sink_in_use_without_its_required_settings_fails_at_start_up(config_of: Any) -> None:
    with pytest.raises(ConfigError) as caught:
        config_of('[alerts]\nsinks = ["log", "webhook", "email"]\n')
    paths = [issue.key_path for issue in caught.value.issues]
    assert paths == [
        "plugins.alerts.webhook_url",
        "plugins.alerts.smtp_host",
        "plugins.alerts.email_from",
        "plugins.alerts.email_to",
    ]
    assert "required by the 'webhook' alert sink" in str(caught.value)


def test_credentials_over_plain_smtp_fail_at_start_up(config_of: Any) -> None:
    with pytest.raises(ConfigError, match="never sent over an unencrypted connection"):
        config_of(
            '[plugins.alerts]\nsmtp_host = "mx"\nsmtp_security = "none"\n'
            'smtp_username = "u"\nsmtp_password = { env = "P" }\n'
        )


def test_complete_settings_load(config_of: Any) -> None:
    config = config_of(
        """
[alerts]
sinks = ["log", "webhook", "slack", "email"]
[plugins.alerts]
webhook_url = "https://alerts.example/in"
webhook_secret = { env = "WEBHOOK_SECRET" }
slack_webhook_url = { keyring = "agent-sdk/slack" }
smtp_host = "smtp.example.org"
smtp_username = "alerts"
smtp_password = { env = "SMTP_PASSWORD" }
email_from = "agent-sdk@example.org"
email_to = ["oncall@example.org"]
delivery_retry = { attempts = 5, initial_s = 1.0 }
"""
    )
    settings = AlertsConfig.model_validate(config.plugins.settings("alerts"))
    assert settings.delivery_retry.attempts == 5
    assert settings.smtp_port_or_default() == 587


# --- log sink ----------------------------------------------------------------------------


async def test_log_sink_emits_an_alert_event_at_the_alert_severity(logs: Any, alert: Alert) -> None:
    await LogSink().send(alert)
    await LogSink(AlertsConfig(log_level="critical")).send(alert)
    first, second = [json.loads(line) for line in logs.getvalue().splitlines()]
    assert first["event"] == "alert"
    assert first["level"] == "error"
    assert first["logger"] == "agent_sdk_alerts"
    assert (first["rule"], first["run_id"], first["task_id"]) == ("run_failed", "run_1", "fetch")
    assert first["title"] == alert.title
    assert first["message"] == alert.message
    assert first["labels"] == {"workflow": "nightly"}
    assert second["level"] == "critical"


# --- end to end through the engine ---------------------------------------------------------


@tool(threaded=False)
def explode() -> str:
    """Always fail."""
    raise ToolError("kaboom")


@pytest.fixture
def app_factory(
    plugin_manager: Any, register_plugin: Any, make_config: Any, monkeypatch: pytest.MonkeyPatch
) -> Callable[[str], App]:
    monkeypatch.setenv("TEST_WEBHOOK_SECRET", SECRET)
    register_plugin(hooks, name="alerts")
    register_plugin(name="failing-tools", agent_sdk_register_tools=lambda: [explode])

    def make(sinks_and_settings: str) -> App:
        toml = (
            sinks_and_settings
            + """
[workflows.w]
[[workflows.w.tasks]]
id = "boom"
tool = "explode"
"""
        )
        return App(make_config(toml), plugin_manager, {})

    return make


def webhook_settings(url: str, sinks: str = '["webhook"]') -> str:
    return f"""
[alerts]
sinks = {sinks}
[plugins.alerts]
webhook_url = "{url}"
webhook_secret = {{ env = "TEST_WEBHOOK_SECRET" }}
delivery_retry = {{ attempts = 2, initial_s = 0, jitter_s = 0 }}
"""


async def test_a_failed_run_delivers_one_signed_webhook_and_records_the_delivery(
    app_factory: Any, receiver: Any
) -> None:
    app = app_factory(webhook_settings(receiver.url + "/alerts"))
    storage = MemoryStorage()
    async with Engine(app, storage) as engine:
        result = await engine.run("w", run_id="run_e2e")
    assert result.status == "failed"
    (request,) = receiver.requests
    body = request.json()
    assert body["rule"] == "run_failed"
    assert body["run_id"] == "run_e2e"
    assert body["labels"] == {"workflow": "w"}
    assert "kaboom" in body["message"]
    assert verify_signature(
        SECRET,
        request.body,
        request.headers["x-agent-sdk-timestamp"],
        request.headers["x-agent-sdk-signature"],
    )
    (stored,) = await storage.list_alerts()
    assert (stored.rule, stored.run_id) == ("run_failed", "run_e2e")
    assert stored.data["deliveries"] == {"webhook": "sent"}


async def test_a_failed_delivery_is_recorded_and_logged_without_the_secret(
    app_factory: Any, receiver: Any, logs: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    receiver.script(400)
    app = app_factory(webhook_settings(receiver.url + "/alerts", '["webhook", "log"]'))
    storage = MemoryStorage()
    async with Engine(app, storage) as engine:
        result = await engine.run("w")
    assert result.status == "failed", "a broken sink never changes the run's outcome"
    assert len(receiver.requests) == 1, "a 400 is not retried"
    (stored,) = await storage.list_alerts()
    deliveries = stored.data["deliveries"]
    assert deliveries["log"] == "sent"
    assert deliveries["webhook"].startswith("failed: webhook POST")
    assert "HTTP 400" in deliveries["webhook"]
    events = [json.loads(line) for line in logs.getvalue().splitlines()]
    assert any(e["event"] == "alert" and e["rule"] == "run_failed" for e in events)
    # the kernel's module-level loggers may still write to stderr (bound at import time)
    everything_logged = logs.getvalue() + capsys.readouterr().err
    assert "alert_delivery_failed" in everything_logged
    assert SECRET not in everything_logged
    assert SECRET not in json.dumps(stored.data)
    assert SECRET.encode() not in request_bodies(receiver)


def request_bodies(receiver: Any) -> bytes:
    return b"".join(r.body + json.dumps(r.headers).encode() for r in receiver.requests)
