"""Secret references, their resolution (env, keyring), and the redactor.

The last section plants a secret and checks every place it could leak: error messages, logs,
tool results. (``agent-sdk config show`` is checked in test_cli.py.)
"""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from pydantic import ValidationError

from agent_sdk import secrets
from agent_sdk.errors import AgentSDKError, ConfigError, ConfigIssue, SecretError, ToolError
from agent_sdk.kinds.tool import Tool, ToolContext
from agent_sdk.logging import configure_logging, get_logger
from agent_sdk.messages import ToolCall
from agent_sdk.secrets import (
    REDACTED,
    REDACTOR,
    Redactor,
    SecretRef,
    is_secret_ref,
    is_sensitive_key,
    keyring_backend_available,
    resolve,
)

PLANTED = "sk-live-PLANTED-9f8e7d6c5b4a"

pytestmark = pytest.mark.usefixtures("clean_redactor")


# --- SecretRef ---------------------------------------------------------------------------


def test_secret_ref_takes_exactly_one_of_env_or_keyring() -> None:
    assert SecretRef(env="A").describe() == "env:A"
    assert SecretRef(keyring="svc/user").describe() == "keyring:svc/user"
    with pytest.raises(ValidationError, match="exactly one"):
        SecretRef()
    with pytest.raises(ValidationError, match="exactly one"):
        SecretRef(env="A", keyring="svc/user")


def test_keyring_reference_must_be_service_slash_username() -> None:
    with pytest.raises(ValidationError):
        SecretRef(keyring="no-slash")


def test_secret_ref_rejects_unknown_keys() -> None:
    with pytest.raises(ValidationError):
        SecretRef(env="A", value="x")  # type: ignore[call-arg]


def test_is_secret_ref_recognises_references_only() -> None:
    assert is_secret_ref(SecretRef(env="A"))
    assert is_secret_ref({"env": "A"})
    assert is_secret_ref({"keyring": "s/u"})
    assert not is_secret_ref({"env": "A", "extra": 1})
    assert not is_secret_ref({"env": 3})
    assert not is_secret_ref("env:A")


# --- resolution from the environment -----------------------------------------------------


def test_env_reference_resolves_and_registers_the_value_for_redaction() -> None:
    value = resolve({"env": "ACME_KEY"}, env={"ACME_KEY": PLANTED})
    assert value == PLANTED
    assert REDACTOR.redact(f"Bearer {PLANTED}") == "Bearer ***"


def test_env_reference_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACME_KEY", PLANTED)
    assert resolve(SecretRef(env="ACME_KEY")) == PLANTED


@pytest.mark.parametrize("env", [{}, {"ACME_KEY": ""}])
def test_missing_or_empty_env_variable_names_the_reference_and_how_to_set_it(
    env: dict[str, str],
) -> None:
    with pytest.raises(SecretError) as exc:
        resolve({"env": "ACME_KEY"}, env=env, where="plugins.acme.api_key")
    text = str(exc.value)
    assert "env:ACME_KEY" in text
    assert "plugins.acme.api_key" in text
    assert "export ACME_KEY=" in text
    assert len(REDACTOR) == 0


# --- resolution from the keyring ---------------------------------------------------------


@pytest.mark.usefixtures("no_keyring")
def test_keyring_without_backend_is_not_found_with_a_hint_and_does_not_hang() -> None:
    available, detail = keyring_backend_available()
    assert available is False
    assert "no keyring backend" in detail
    started = time.monotonic()
    with pytest.raises(SecretError) as exc:
        resolve({"keyring": "acme/me"}, where="plugins.acme.api_key")
    assert time.monotonic() - started < 1
    text = str(exc.value)
    assert "keyring:acme/me" in text
    assert "not found" in text
    assert "env" in text
    assert "agent-sdk keys set acme/me" in text


def test_keyring_reference_resolves_from_a_working_backend(memory_keyring: Any) -> None:
    memory_keyring.store[("acme", "me")] = PLANTED
    assert keyring_backend_available()[0] is True
    assert resolve(SecretRef(keyring="acme/me")) == PLANTED
    assert PLANTED not in REDACTOR.redact(f"x{PLANTED}x")


def test_keyring_entry_missing_says_how_to_store_it(memory_keyring: Any) -> None:
    with pytest.raises(SecretError) as exc:
        resolve({"keyring": "acme/me"})
    assert "keyring:acme/me" in str(exc.value)
    assert "not found in the keyring" in str(exc.value)
    assert "agent-sdk keys set acme/me" in str(exc.value)


@pytest.fixture
def hanging_keyring(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """A keyring backend whose calls block until the returned event is set."""
    import keyring
    from keyring.backend import KeyringBackend

    release = threading.Event()

    class Hanging(KeyringBackend):
        priority = 1

        def get_password(self, service: str, username: str) -> str | None:
            release.wait(10)
            return None

        def set_password(self, service: str, username: str, password: str) -> None:
            release.wait(10)

        def delete_password(self, service: str, username: str) -> None:
            release.wait(10)

    previous = keyring.get_keyring()
    keyring.set_keyring(Hanging())
    monkeypatch.setattr(secrets, "KEYRING_TIMEOUT_S", 0.2)
    yield release
    release.set()
    keyring.set_keyring(previous)


def test_hanging_keyring_backend_fails_within_the_timeout(
    hanging_keyring: threading.Event,
) -> None:
    started = time.monotonic()
    with pytest.raises(SecretError) as exc:
        resolve({"keyring": "acme/me"})
    assert time.monotonic() - started < 2
    assert "keyring:acme/me" in str(exc.value)
    assert "did not answer within 0.2s" in str(exc.value)
    assert 'env = "NAME"' in str(exc.value)


def test_failing_keyring_backend_becomes_a_secret_error(memory_keyring: Any) -> None:
    from keyring.errors import KeyringLocked

    def locked(service: str, username: str) -> str:
        raise KeyringLocked("the collection is locked")

    memory_keyring.get_password = locked
    with pytest.raises(SecretError) as exc:
        resolve({"keyring": "acme/me"})
    assert "keyring:acme/me" in str(exc.value)
    assert "KeyringLocked" in str(exc.value)


# --- the redactor ------------------------------------------------------------------------


def test_redactor_masks_every_registered_value() -> None:
    redactor = Redactor()
    redactor.add("alpha-secret")
    redactor.add("beta-secret")
    assert redactor.redact("a=alpha-secret b=beta-secret c=gamma") == "a=*** b=*** c=gamma"
    assert len(redactor) == 2


def test_redactor_masks_the_longest_secret_first() -> None:
    redactor = Redactor()
    redactor.add("token-1234")
    redactor.add("token-1234-extended")
    assert redactor.redact("[token-1234-extended]") == "[***]"
    assert redactor.redact("[token-1234]") == "[***]"


def test_redactor_leaves_no_fragment_of_overlapping_secrets() -> None:
    redactor = Redactor()
    redactor.add("abcdef12")
    redactor.add("ef12ghij")
    assert redactor.redact("<abcdef12ghij>") == "<***>"
    assert redactor.redact("<ef12ghijabcdef12>") == "<***>"


def test_redactor_ignores_values_too_short_to_be_secrets() -> None:
    redactor = Redactor()
    redactor.add("abc")
    redactor.add("")
    assert len(redactor) == 0
    assert redactor.redact("abc abc") == "abc abc"


def test_redactor_escapes_regex_characters() -> None:
    redactor = Redactor()
    redactor.add("a.b*c+d")
    assert redactor.redact("a.b*c+d axbbbcd") == "*** axbbbcd"


def test_clear_forgets_registered_values() -> None:
    redactor = Redactor()
    redactor.add(PLANTED)
    redactor.clear()
    assert redactor.redact(PLANTED) == PLANTED


@pytest.mark.parametrize(
    "key",
    ["api_key", "apiKey", "X-Api-Key", "OPENAI_API_KEY", "Authorization", "password",
     "db_password", "client_secret", "access_token", "accessToken", "private_key", "Cookie",
     "session_id", "credentials"],
)  # fmt: skip
def test_sensitive_keys_are_recognised(key: str) -> None:
    assert is_sensitive_key(key)


@pytest.mark.parametrize(
    "key",
    ["max_tokens", "input_tokens", "output_tokens", "author", "bypass", "model", "keyring",
     "endpoint", "passes"],
)  # fmt: skip
def test_ordinary_keys_are_not_sensitive(key: str) -> None:
    assert not is_sensitive_key(key)


def test_redact_value_masks_sensitive_keys_and_keeps_references_visible() -> None:
    redactor = Redactor()
    redactor.add(PLANTED)
    value = {
        "api_key": "plain-text-key",
        "headers": {"Authorization": "Bearer abc", "Accept": "json"},
        "password": {"env": "DB_PASSWORD"},
        "token": SecretRef(keyring="svc/user"),
        "usage": {"input_tokens": 12, "max_tokens": 100},
        "steps": [{"note": f"used {PLANTED}"}, ("x", PLANTED)],
        "empty_secret": "",
    }
    assert redactor.redact_value(value) == {
        "api_key": REDACTED,
        "headers": {"Authorization": REDACTED, "Accept": "json"},
        "password": {"env": "DB_PASSWORD"},
        "token": SecretRef(keyring="svc/user"),
        "usage": {"input_tokens": 12, "max_tokens": 100},
        "steps": [{"note": "used ***"}, ("x", REDACTED)],
        "empty_secret": "",
    }


def test_redact_value_does_not_modify_its_input() -> None:
    value = {"api_key": "k", "nested": [{"password": "p"}]}
    Redactor().redact_value(value)
    assert value == {"api_key": "k", "nested": [{"password": "p"}]}


# --- a planted secret never leaks ---------------------------------------------------------


@pytest.fixture
def planted() -> str:
    """A secret resolved the normal way (so it is registered with the redactor)."""
    return resolve({"env": "ACME_KEY"}, env={"ACME_KEY": PLANTED})


def test_planted_secret_never_appears_in_error_text(planted: str) -> None:
    error = AgentSDKError(f"request with key {planted} failed", hint=f"rotate {planted}")
    assert planted not in str(error)
    assert "***" in str(error)
    assert planted not in json.dumps(error.to_dict())
    config_error = ConfigError([ConfigIssue("f.toml", "plugins.acme.url", f"bad {planted}")])
    assert planted not in str(config_error)


@pytest.mark.usefixtures("fresh_structlog")
def test_planted_secret_never_appears_in_logs(planted: str) -> None:
    out = io.StringIO()
    configure_logging("json", "debug", stream=out)
    log = get_logger("test")
    log.info(f"calling with {planted}", header=f"Bearer {planted}")
    log.warning("nested", payload={"items": [planted], "api_key": "another-plain-key"})
    log.error("tool_call_failed", error=RuntimeError(f"HTTP 401 for key {planted}"))
    try:
        raise ValueError(f"boom {planted}")
    except ValueError:
        log.exception("crashed")
    text = out.getvalue()
    assert planted not in text
    assert "another-plain-key" not in text
    events = [json.loads(line) for line in text.splitlines()]
    assert [e["event"] for e in events] == [
        "calling with ***",
        "nested",
        "tool_call_failed",
        "crashed",
    ]
    assert events[2]["error"] == "RuntimeError: HTTP 401 for key ***"
    assert "boom ***" in events[3]["exception"]


@pytest.mark.usefixtures("fresh_structlog")
def test_planted_secret_never_appears_in_console_logs(planted: str) -> None:
    out = io.StringIO()
    configure_logging("console", "info", stream=out)
    structlog.get_logger().info("event", key=planted, exc=KeyError(planted))
    assert "event" in out.getvalue()
    assert planted not in out.getvalue()


class Leaky(Tool):
    name = "leaky"

    async def run(self, args: Any, ctx: ToolContext) -> Any:
        raise RuntimeError(f"upstream rejected key {PLANTED}")


class LeakyExpected(Tool):
    name = "leaky_expected"

    async def run(self, args: Any, ctx: ToolContext) -> Any:
        raise ToolError(f"bad key {PLANTED}", hint=f"replace {PLANTED}")


@pytest.mark.parametrize("tool_cls", [Leaky, LeakyExpected])
async def test_planted_secret_never_appears_in_tool_result_errors(
    planted: str, tool_cls: type[Tool]
) -> None:
    result = await tool_cls().invoke(ToolCall(id="c1", name=tool_cls.name), ToolContext())
    assert result.ok is False
    assert result.error is not None
    assert "***" in result.error["message"]
    assert planted not in result.model_dump_json()


def test_registering_a_value_twice_keeps_one_entry() -> None:
    redactor = Redactor()
    redactor.add(PLANTED)
    redactor.add(PLANTED)
    assert len(redactor) == 1


def test_redact_value_survives_self_referencing_containers() -> None:
    loop: list[Any] = [PLANTED]
    loop.append(loop)
    redactor = Redactor()
    redactor.add(PLANTED)
    redacted = redactor.redact_value(loop)  # no RecursionError
    assert redacted[0] == REDACTED


def test_keyring_chainer_without_backends_counts_as_unavailable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import keyring
    from keyring.backends import chainer

    monkeypatch.setattr(chainer.ChainerBackend, "backends", property(lambda self: []))
    previous = keyring.get_keyring()
    keyring.set_keyring(chainer.ChainerBackend())
    try:
        assert keyring_backend_available()[0] is False
    finally:
        keyring.set_keyring(previous)
