"""Tests of the anthropic plugin against a local server speaking the Messages API wire format.

The ``server`` fixture (conftest.py) is a real HTTP server on 127.0.0.1: the provider goes
through the real ``anthropic`` SDK and its HTTP client; nothing is patched.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import socket
import subprocess
import sys
import time
import traceback
import uuid
from importlib.metadata import entry_points
from typing import Any

import pytest
from agent_sdk_anthropic import hooks
from agent_sdk_anthropic.errors import parse_retry_after
from agent_sdk_anthropic.provider import (
    INVALID_ARGUMENTS_KEY,
    AnthropicConfig,
    AnthropicProvider,
)

from agent_sdk.app import App
from agent_sdk.config import load_config
from agent_sdk.errors import (
    AgentSDKError,
    ConfigError,
    ModelProviderError,
    RateLimitError,
    SecretError,
    TransientError,
)
from agent_sdk.kinds.agent import Agent
from agent_sdk.kinds.model import StreamChunk
from agent_sdk.kinds.tool import ToolContext, tool
from agent_sdk.messages import Message, ModelRequest, ToolCall, ToolResult, ToolSpec
from agent_sdk.plugins import get_plugin_manager, module_plugin
from agent_sdk.runtime.engine import Engine
from agent_sdk.runtime.loop import render_input, run_tool_loop
from agent_sdk.testing.memory import MemoryStorage

KEY_VAR = "AGENT_SDK_TEST_ANTHROPIC_KEY"

ADD_SPEC = ToolSpec(
    name="add",
    description="Add two integers.",
    parameters={
        "type": "object",
        "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
        "required": ["a", "b"],
    },
)


@pytest.fixture
def api_key() -> str:
    """A fresh planted key: tests search every error for it."""
    return f"sk-ant-test-PLANTED-{uuid.uuid4().hex}"


@pytest.fixture
async def provider(server: Any, api_key: str) -> Any:
    model = AnthropicProvider(
        AnthropicConfig(base_url=server.base_url, model="claude-test", api_key={"env": KEY_VAR}),
        env={KEY_VAR: api_key},
    )
    yield model
    await model.aclose()


def user(text: str = "hi") -> ModelRequest:
    return ModelRequest(messages=(Message.system("be brief"), Message.user(text)))


async def failure(
    provider: AnthropicProvider, request: ModelRequest | None = None
) -> AgentSDKError:
    with pytest.raises(AgentSDKError) as info:
        await provider.complete(request or user())
    return info.value


async def drain(
    provider: AnthropicProvider, request: ModelRequest | None = None
) -> list[StreamChunk]:
    return [c async for c in provider.stream(request or user())]


def sent_key(headers: dict[str, str]) -> str | None:
    """The credential a request carried: ``x-api-key`` (documented) or a bearer token."""
    if "x-api-key" in headers:
        return headers["x-api-key"]
    auth = headers.get("authorization", "")
    return auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else None


def assert_no_key(exc: BaseException, key: str) -> None:
    """The key is in no part of the error: message, hint, str(), the whole traceback."""
    texts = [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
    if isinstance(exc, AgentSDKError):
        texts += [exc.message, exc.hint or "", json.dumps(exc.to_dict())]
    for text in texts:
        assert key not in text
        assert key[12:28] not in text  # not even a fragment


# --- plugin shape ------------------------------------------------------------------------


def test_entry_point_named_after_the_plugin_targets_the_hooks_module() -> None:
    (entry_point,) = [ep for ep in entry_points(group="agent_sdk") if ep.name == "anthropic"]
    assert entry_point.load() is hooks


def test_plugin_registers_the_anthropic_model_provider(plugin_manager, register_plugin) -> None:
    register_plugin(hooks, name="anthropic")
    assert plugin_manager.registry().get("model", "anthropic") is AnthropicProvider


def test_hooks_and_registry_do_not_import_the_anthropic_sdk() -> None:
    code = (
        "import sys\n"
        "from agent_sdk.plugins import get_plugin_manager\n"
        "import agent_sdk_anthropic.hooks as hooks\n"
        "pm = get_plugin_manager(load_entrypoints=False, env={})\n"
        "pm.register(hooks, name='anthropic')\n"
        "assert pm.registry().get('model', 'anthropic').name == 'anthropic'\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('anthropic', 'httpx', 'httpx2'))\n"
        "print(heavy)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"


# --- configuration -----------------------------------------------------------------------


def anthropic_pm() -> Any:
    pm = get_plugin_manager(load_entrypoints=False, env={})
    pm.register(hooks, name="anthropic")
    return pm


def test_config_accepts_secret_references_and_every_documented_setting() -> None:
    config = load_config(
        text="""
[plugins.anthropic]
api_key = { env = "ANTHROPIC_API_KEY" }
timeout_s = 60
headers = { "anthropic-beta" = "some-feature" }

[models.claude]
provider = "anthropic"
model = "claude-haiku-4-5"
temperature = 0.3
max_tokens = 4096
""",
        env={},
        pm=anthropic_pm(),
    )
    assert config.plugins.settings("anthropic")["api_key"] == {"env": "ANTHROPIC_API_KEY"}
    assert config.models["claude"].options["max_tokens"] == 4096


def test_a_plaintext_api_key_is_rejected_without_echoing_it() -> None:
    with pytest.raises(ConfigError) as info:
        load_config(
            text='[plugins.anthropic]\napi_key = "sk-ant-plaintext-oops-123456"\n',
            env={},
            pm=anthropic_pm(),
        )
    text = str(info.value)
    assert "plugins.anthropic.api_key" in text
    assert "sk-ant-plaintext-oops-123456" not in text
    assert '{ env = "NAME" }' in text


def test_a_plaintext_api_key_in_a_models_table_is_rejected() -> None:
    with pytest.raises(ConfigError, match=r"models\.claude\.api_key"):
        load_config(
            text='[models.claude]\nprovider = "anthropic"\napi_key = "sk-ant-plaintext"\n',
            env={},
            pm=anthropic_pm(),
        )


def test_unknown_and_invalid_settings_are_reported_with_their_key_path() -> None:
    with pytest.raises(ConfigError) as info:
        load_config(
            text="[plugins.anthropic]\nmax_token = 5\nmax_tokens = 0\ntemperature = 1.5\n",
            env={},
            pm=anthropic_pm(),
        )
    text = str(info.value)
    assert "plugins.anthropic.max_token: unknown key" in text
    assert "plugins.anthropic.max_tokens" in text
    assert "plugins.anthropic.temperature" in text


def test_config_model_forbids_unknown_keys_and_documents_every_field() -> None:
    schema = AnthropicConfig.model_json_schema()
    assert schema["additionalProperties"] is False
    assert all(prop.get("description") for prop in schema["properties"].values())


# --- requests and answers ----------------------------------------------------------------


async def test_text_answer_is_mapped_with_usage_model_and_finish_reason(
    server: Any, provider: AnthropicProvider, api_key: str
) -> None:
    server.reply(
        server.message([server.text_block("Hello!")], model="claude-test-20250101", usage=(12, 4))
    )

    response = await provider.complete(user())

    assert response.message == Message.assistant("Hello!")
    assert response.usage.input_tokens == 12
    assert response.usage.output_tokens == 4
    assert response.model == "claude-test-20250101"
    assert response.finish_reason == "stop"
    (sent,) = server.requests
    assert sent.path == "/v1/messages"
    assert sent_key(sent.headers) == api_key
    assert "anthropic-version" in sent.headers
    assert sent.body == {
        "model": "claude-test",
        "max_tokens": 1024,
        "system": "be brief",
        "messages": [{"role": "user", "content": "hi"}],
    }


async def test_sdk_retries_are_off_so_one_call_is_one_request(
    server: Any, provider: AnthropicProvider
) -> None:
    server.reply_error(529, "overloaded_error", "Overloaded")
    server.reply_text("would be the retry")
    with pytest.raises(TransientError):
        await provider.complete(user())
    assert len(server.requests) == 1


async def test_tool_use_round_trip(server: Any, provider: AnthropicProvider) -> None:
    server.reply(
        server.message(
            [
                server.text_block("Let me add those."),
                server.tool_use_block("toolu_01", "add", {"a": 1, "b": 2}),
            ],
            stop_reason="tool_use",
        )
    )
    request = ModelRequest(messages=(Message.user("add 1 and 2"),), tools=(ADD_SPEC,))

    response = await provider.complete(request)

    assert response.finish_reason == "tool_calls"
    assert response.message.content == "Let me add those."
    assert response.message.tool_calls == (
        ToolCall(id="toolu_01", name="add", arguments={"a": 1, "b": 2}),
    )
    sent = server.requests[0].body
    assert sent["tools"] == [
        {"name": "add", "description": "Add two integers.", "input_schema": ADD_SPEC.parameters}
    ]
    assert sent["tool_choice"] == {"type": "auto"}

    # the answer goes back: tool_use blocks, then the results in ONE user message
    ok = ToolResult(call_id="toolu_01", name="add", ok=True, data=3)
    failed = ToolResult(
        call_id="toolu_02", name="add", ok=False, error={"type": "ToolError", "message": "no"}
    )
    second_call = ToolCall(id="toolu_02", name="add", arguments={"a": 0, "b": 0})
    assistant = Message.assistant(
        response.message.content, (*response.message.tool_calls, second_call)
    )
    server.reply_text("3")
    follow_up = ModelRequest(
        messages=(
            Message.system("be brief"),
            *request.messages,
            assistant,
            Message.tool(ok),
            Message.tool(failed),
        ),
        tools=(ADD_SPEC,),
        tool_choice="required",
        temperature=0.5,
        max_tokens=50,
    )
    assert (await provider.complete(follow_up)).message.content == "3"
    sent = server.requests[1].body
    assert sent["system"] == "be brief"
    assert sent["messages"] == [
        {"role": "user", "content": "add 1 and 2"},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Let me add those."},
                {"type": "tool_use", "id": "toolu_01", "name": "add", "input": {"a": 1, "b": 2}},
                {"type": "tool_use", "id": "toolu_02", "name": "add", "input": {"a": 0, "b": 0}},
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_01",
                    "content": '{"ok": true, "data": 3}',
                },
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_02",
                    "content": failed.content_for_model(),
                    "is_error": True,
                },
            ],
        },
    ]
    assert sent["tool_choice"] == {"type": "any"}
    assert sent["temperature"] == 0.5
    assert sent["max_tokens"] == 50


async def test_tool_choice_none_is_sent_as_type_none(
    server: Any, provider: AnthropicProvider
) -> None:
    server.reply_text("no tools")
    await provider.complete(
        ModelRequest(messages=(Message.user("x"),), tools=(ADD_SPEC,), tool_choice="none")
    )
    assert server.requests[0].body["tool_choice"] == {"type": "none"}


@pytest.mark.parametrize(
    ("stop_reason", "expected"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("refusal", "refusal"),
    ],
)
async def test_stop_reasons_are_mapped(
    server: Any, provider: AnthropicProvider, stop_reason: str, expected: str
) -> None:
    server.reply(server.message([server.text_block("x")], stop_reason=stop_reason))
    assert (await provider.complete(user())).finish_reason == expected


async def test_cached_input_tokens_count_as_input(server: Any, provider: AnthropicProvider) -> None:
    body = server.message([server.text_block("x")], usage=(10, 2))
    body["usage"].update(cache_creation_input_tokens=100, cache_read_input_tokens=1000)
    server.reply(body)
    assert (await provider.complete(user())).usage.input_tokens == 1110


async def test_settings_are_sent_and_a_request_overrides_them(server: Any, api_key: str) -> None:
    model = AnthropicProvider(
        AnthropicConfig(
            base_url=server.base_url,
            model="configured",
            api_key={"env": KEY_VAR},
            temperature=0.1,
            max_tokens=99,
            headers={"anthropic-beta": "feature-x", "X-Gateway-Key": {"env": "GW"}},
        ),
        env={KEY_VAR: api_key, "GW": "gateway-secret-value"},
    )
    try:
        server.reply_text("a")
        server.reply_text("b")
        await model.complete(user())
        await model.complete(ModelRequest(messages=(Message.user("x"),), model="other"))
    finally:
        await model.aclose()
    first, second = server.requests
    assert first.body["model"] == "configured"
    assert first.body["temperature"] == 0.1
    assert first.body["max_tokens"] == 99
    assert first.headers["anthropic-beta"] == "feature-x"
    assert first.headers["x-gateway-key"] == "gateway-secret-value"
    assert second.body["model"] == "other"


async def test_without_api_key_no_environment_credential_is_sent(
    server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the SDK would pick this up by itself; the configuration is the only source here
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-from-the-environment")
    model = AnthropicProvider(AnthropicConfig(base_url=server.base_url))
    try:
        server.reply_text("local")
        assert (await model.complete(user())).message.content == "local"
    finally:
        await model.aclose()
    assert sent_key(server.requests[0].headers) == "no-key"
    assert "sk-ant-from-the-environment" not in json.dumps(server.requests[0].headers)


async def test_an_unset_key_variable_is_a_secret_error_naming_it(server: Any) -> None:
    model = AnthropicProvider(
        AnthropicConfig(base_url=server.base_url, api_key={"env": "NOT_SET_ANYWHERE"}), env={}
    )
    with pytest.raises(SecretError, match="env:NOT_SET_ANYWHERE"):
        await model.complete(user())
    assert server.requests == []


# --- streaming ---------------------------------------------------------------------------


async def test_streamed_text_concatenates_to_the_final_response(
    server: Any, provider: AnthropicProvider
) -> None:
    server.reply_sse(
        server.stream_events([server.text_block("Hello, streaming world")], usage=(25, 12), split=5)
    )

    chunks = await drain(provider)

    deltas = [c.text for c in chunks if c.type == "text"]
    assert len(deltas) == 5
    final = chunks[-1]
    assert final.type == "response"
    assert final.response is not None
    assert final.response.message.content == "".join(deltas) == "Hello, streaming world"
    assert final.response.usage.input_tokens == 25
    assert final.response.usage.output_tokens == 12
    assert final.response.finish_reason == "stop"
    assert final.response.model == "claude-test"
    assert server.requests[0].body["stream"] is True


async def test_streamed_tool_use_input_assembles(server: Any, provider: AnthropicProvider) -> None:
    server.reply_sse(
        server.stream_events(
            [
                server.text_block("Adding."),
                server.tool_use_block("toolu_1", "add", {"a": 1, "b": 2}),
                server.tool_use_block("toolu_2", "add", {"a": 30, "b": 40}),
            ],
            stop_reason="tool_use",
            split=3,
        )
    )

    chunks = await drain(provider, ModelRequest(messages=(Message.user("x"),), tools=(ADD_SPEC,)))

    assert "".join(c.text for c in chunks if c.type == "text") == "Adding."
    response = chunks[-1].response
    assert response is not None
    assert response.message.content == "Adding."
    assert response.message.tool_calls == (
        ToolCall(id="toolu_1", name="add", arguments={"a": 1, "b": 2}),
        ToolCall(id="toolu_2", name="add", arguments={"a": 30, "b": 40}),
    )
    assert response.finish_reason == "tool_calls"


async def test_tool_input_given_whole_at_block_start_is_kept(
    server: Any, provider: AnthropicProvider
) -> None:
    # some Anthropic-compatible servers send the input with content_block_start, no deltas
    events = server.stream_events([], stop_reason="tool_use")
    block = {"type": "tool_use", "id": "toolu_w", "name": "add", "input": {"a": 5, "b": 6}}
    events[2:2] = [
        server.event("content_block_start", index=0, content_block=block),
        server.event("content_block_stop", index=0),
    ]
    server.reply_sse(events)
    response = (await drain(provider))[-1].response
    assert response is not None
    assert response.message.tool_calls == (
        ToolCall(id="toolu_w", name="add", arguments={"a": 5, "b": 6}),
    )


async def test_streamed_invalid_tool_json_becomes_a_call_that_fails_validation(
    server: Any, provider: AnthropicProvider
) -> None:
    server.reply_sse(
        server.stream_events(
            [{"type": "tool_use", "id": "toolu_x", "name": "add", "raw_json": '{"a": 1, "b": '}],
            stop_reason="tool_use",
        )
    )
    response = (await drain(provider))[-1].response
    assert response is not None
    (call,) = response.message.tool_calls
    assert call.arguments == {INVALID_ARGUMENTS_KEY: '{"a": 1, "b": '}

    @tool
    def add(a: int, b: int) -> int:
        """Add."""
        return a + b

    result = await add().invoke(call, ToolContext())
    assert not result.ok
    assert result.error is not None
    assert result.error["type"] == "ToolValidationError"


async def test_an_overloaded_error_event_mid_stream_is_transient(
    server: Any, provider: AnthropicProvider
) -> None:
    events = server.stream_events([server.text_block("partial answer")])[:4]
    events.append(
        server.event("error", error={"type": "overloaded_error", "message": "Overloaded"})
    )
    server.reply_sse(events)
    with pytest.raises(TransientError, match="Overloaded"):
        await drain(provider)


async def test_a_rate_limit_error_event_mid_stream_is_a_rate_limit_error(
    server: Any, provider: AnthropicProvider
) -> None:
    events = server.stream_events([server.text_block("x")])[:1]
    events.append(server.event("error", error={"type": "rate_limit_error", "message": "slow"}))
    server.reply_sse(events)
    with pytest.raises(RateLimitError):
        await drain(provider)


async def test_a_stream_broken_off_midway_is_transient(
    server: Any, provider: AnthropicProvider
) -> None:
    server.reply_sse(server.stream_events([server.text_block("abcdefghijkl")]), drop_after=5)
    received: list[str] = []

    async def consume() -> None:
        async for c in provider.stream(user()):
            received.append(c.text)

    with pytest.raises(TransientError):
        await consume()
    assert "".join(received) == "abcdefgh"


async def test_stream_errors_before_the_first_event_are_mapped(
    server: Any, provider: AnthropicProvider
) -> None:
    server.reply_error(429, "rate_limit_error", "Rate limited", {"retry-after": "2"})
    with pytest.raises(RateLimitError) as info:
        await drain(provider)
    assert info.value.retry_after == 2.0


# --- errors ------------------------------------------------------------------------------


async def test_429_is_a_rate_limit_error_with_retry_after(
    server: Any, provider: AnthropicProvider
) -> None:
    server.reply_error(
        429,
        "rate_limit_error",
        "Number of request tokens has exceeded your per-minute rate limit",
        headers={"retry-after": "2"},
    )
    exc = await failure(provider)
    assert isinstance(exc, RateLimitError)
    assert exc.retry_after == 2.0
    assert exc.transient
    text = str(exc)
    assert "HTTP 429" in text
    assert "rate_limit_error" in text
    assert "req_test123" in text


async def test_retry_after_as_an_http_date(server: Any, provider: AnthropicProvider) -> None:
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    server.reply_error(429, "rate_limit_error", "slow down", headers={"retry-after": when})
    exc = await failure(provider)
    assert isinstance(exc, RateLimitError)
    assert exc.retry_after is not None
    assert 27.0 <= exc.retry_after <= 31.0


def test_retry_after_parsing() -> None:
    now = 1_700_000_000.0
    assert parse_retry_after({"retry-after": "2"}) == 2.0
    assert parse_retry_after({"retry-after": email.utils.formatdate(now + 9)}, now=now) == 9.0
    assert parse_retry_after({"retry-after": email.utils.formatdate(now - 9)}, now=now) == 0.0
    assert parse_retry_after({"retry-after": "nan"}) is None
    assert parse_retry_after({"retry-after": "later"}) is None
    assert parse_retry_after({}) is None


@pytest.mark.parametrize(
    ("status", "type_"),
    [
        (500, "api_error"),
        (529, "overloaded_error"),
        (503, "api_error"),
        (504, "timeout_error"),
        (408, "timeout_error"),
    ],
)
async def test_server_errors_and_overload_are_transient(
    server: Any, provider: AnthropicProvider, status: int, type_: str
) -> None:
    server.reply_error(status, type_, "Internal server error")
    exc = await failure(provider)
    assert type(exc) is TransientError
    assert f"HTTP {status}" in str(exc)
    assert type_ in str(exc)


async def test_529_with_retry_after_keeps_it(server: Any, provider: AnthropicProvider) -> None:
    server.reply_error(529, "overloaded_error", "Overloaded", headers={"retry-after": "7"})
    exc = await failure(provider)
    assert isinstance(exc, TransientError)
    assert exc.retry_after == 7.0
    assert "overloaded" in str(exc)


async def test_connection_refused_is_transient(closed_port: int) -> None:
    model = AnthropicProvider(AnthropicConfig(base_url=f"http://127.0.0.1:{closed_port}"))
    try:
        exc = await failure(model)
    finally:
        await model.aclose()
    assert type(exc) is TransientError
    assert f"127.0.0.1:{closed_port}" in str(exc)


async def test_a_time_out_is_transient() -> None:
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        model = AnthropicProvider(
            AnthropicConfig(base_url=f"http://127.0.0.1:{port}", timeout_s=0.3)
        )
        try:
            exc = await failure(model)
        finally:
            await model.aclose()
    assert type(exc) is TransientError
    assert "timeout_s = 0.3" in str(exc)


async def test_401_names_the_secret_reference_and_never_the_key(
    server: Any, provider: AnthropicProvider, api_key: str
) -> None:
    server.reply_error(401, "authentication_error", f"invalid x-api-key: {api_key}")
    exc = await failure(provider)
    assert type(exc) is ModelProviderError
    assert not exc.transient
    assert f"env:{KEY_VAR}" in str(exc)
    assert "HTTP 401" in str(exc)
    assert_no_key(exc, api_key)


async def test_the_key_appears_in_no_error_whatever_the_server_echoes(
    server: Any, provider: AnthropicProvider, api_key: str
) -> None:
    for status in (400, 402, 403, 404, 413, 429, 500, 529):
        server.reply_error(
            status, "invalid_request_error", f"you sent {api_key}", headers={"X-Echo": api_key}
        )
        assert_no_key(await failure(provider), api_key)
    events = server.stream_events([server.text_block("x")])[:1]
    events.append(server.event("error", error={"type": "api_error", "message": f"k {api_key}"}))
    server.reply_sse(events)
    with pytest.raises(AgentSDKError) as info:
        await drain(provider)
    assert_no_key(info.value, api_key)


@pytest.mark.parametrize(
    ("status", "type_", "words"),
    [
        (400, "invalid_request_error", "request rejected"),
        (402, "billing_error", "billing"),
        (403, "permission_error", "permission denied"),
        (404, "not_found_error", "not found"),
        (413, "request_too_large", "too large"),
    ],
)
async def test_client_errors_are_provider_errors_with_the_server_message(
    server: Any, provider: AnthropicProvider, status: int, type_: str, words: str
) -> None:
    server.reply_error(status, type_, "model: claude-test is not available")
    exc = await failure(provider)
    assert type(exc) is ModelProviderError
    assert not exc.transient
    text = str(exc)
    assert words in text
    assert f"HTTP {status}" in text
    assert type_ in text
    assert "is not available" in text
    assert exc.hint


# --- end to end --------------------------------------------------------------------------


async def test_engine_runs_a_tool_loop_agent_against_the_server(
    server: Any, api_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_VAR, api_key)
    added: list[tuple[int, int]] = []

    @tool
    def add(a: int, b: int) -> int:
        """Add two integers."""
        added.append((a, b))
        return a + b

    class Calculator(Agent):
        name = "calculator"

        async def run(self, task_input: Any, ctx: Any) -> Any:
            return await run_tool_loop(
                ctx, [Message.system("use the tools"), Message.user(render_input(task_input))]
            )

    pm = get_plugin_manager(load_entrypoints=False, env={})
    pm.register(hooks, name="anthropic")
    pm.register(
        module_plugin(
            "e2e",
            agent_sdk_register_tools=lambda: [add],
            agent_sdk_register_agents=lambda: [Calculator],
        )
    )
    config = load_config(
        text=f"""
[plugins.anthropic]
api_key = {{ env = "{KEY_VAR}" }}

[models.default]
provider = "anthropic"
base_url = "{server.base_url}"
model = "claude-test"

[agents.calc]
type = "calculator"
tools = ["add"]

[workflows.sum]
[[workflows.sum.tasks]]
id = "add"
agent = "calc"
input = "add 1 and 2"
""",
        env={},
        pm=pm,
    )
    server.reply(
        server.message(
            [server.tool_use_block("toolu_e2e", "add", {"a": 1, "b": 2})],
            stop_reason="tool_use",
            usage=(30, 10),
        )
    )
    server.reply(server.message([server.text_block("1 + 2 = 3")], usage=(45, 6)))

    async with Engine(App(config, pm, {}), MemoryStorage()) as engine:  # closes the provider
        result = await asyncio.wait_for(engine.run("sum"), 15)

    assert result.status == "succeeded", result.error
    assert result.outputs["add"] == "1 + 2 = 3"
    assert added == [(1, 2)]
    assert result.usage == {"input_tokens": 75, "output_tokens": 16}
    first, second = (r.body for r in server.requests)
    assert first["system"] == "use the tools"
    assert [t["name"] for t in first["tools"]] == ["add"]
    assert first["messages"] == [{"role": "user", "content": "add 1 and 2"}]
    (result_block,) = second["messages"][-1]["content"]
    assert result_block["type"] == "tool_result"
    assert result_block["tool_use_id"] == "toolu_e2e"
    assert json.loads(result_block["content"]) == {"ok": True, "data": 3}
    assert all(sent_key(r.headers) == api_key for r in server.requests)
