"""Tests of the openai plugin against a local server speaking the chat-completions wire format.

The ``server`` fixture (conftest.py) is a real HTTP server on 127.0.0.1: the provider goes
through the real ``openai`` SDK and its HTTP client; nothing is patched.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import subprocess
import sys
import time
import traceback
import uuid
from importlib.metadata import entry_points
from typing import Any

import pytest
from agent_sdk_openai import hooks
from agent_sdk_openai.errors import parse_retry_after
from agent_sdk_openai.provider import INVALID_ARGUMENTS_KEY, OpenAIConfig, OpenAIProvider

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
from agent_sdk.kinds.tool import ToolContext, tool
from agent_sdk.messages import (
    Message,
    ModelRequest,
    ModelResponse,
    ToolCall,
    ToolResult,
    ToolSpec,
)
from agent_sdk.plugins import get_plugin_manager, module_plugin
from agent_sdk.runtime.engine import Engine
from agent_sdk.runtime.loop import render_input, run_tool_loop
from agent_sdk.testing.memory import MemoryStorage

KEY_VAR = "AGENT_SDK_TEST_OPENAI_KEY"

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
    return f"sk-test-PLANTED-{uuid.uuid4().hex}"


@pytest.fixture
async def provider(server: Any, api_key: str) -> Any:
    model = OpenAIProvider(
        OpenAIConfig(base_url=server.base_url, model="gpt-test", api_key={"env": KEY_VAR}),
        env={KEY_VAR: api_key},
    )
    yield model
    await model.aclose()


def user(text: str = "hi") -> ModelRequest:
    return ModelRequest(messages=(Message.system("be brief"), Message.user(text)))


async def failure(provider: OpenAIProvider, request: ModelRequest | None = None) -> AgentSDKError:
    with pytest.raises(AgentSDKError) as info:
        await provider.complete(request or user())
    return info.value


async def drain(provider: OpenAIProvider, request: ModelRequest | None = None) -> list[Any]:
    return [c async for c in provider.stream(request or user())]


def assert_no_key(exc: BaseException, key: str) -> None:
    """The key is in no part of the error: message, hint, str(), the whole traceback."""
    texts = [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
    if isinstance(exc, AgentSDKError):
        texts += [exc.message, exc.hint or "", json.dumps(exc.to_dict())]
    for text in texts:
        assert key not in text
        assert key[8:24] not in text  # not even a fragment


# --- plugin shape ------------------------------------------------------------------------


def test_entry_point_named_after_the_plugin_targets_the_hooks_module() -> None:
    (entry_point,) = [ep for ep in entry_points(group="agent_sdk") if ep.name == "openai"]
    assert entry_point.load() is hooks


def test_plugin_registers_the_openai_model_provider(plugin_manager, register_plugin) -> None:
    register_plugin(hooks, name="openai")
    assert plugin_manager.registry().get("model", "openai") is OpenAIProvider


def test_hooks_and_registry_do_not_import_the_openai_sdk() -> None:
    code = (
        "import sys\n"
        "from agent_sdk.plugins import get_plugin_manager\n"
        "import agent_sdk_openai.hooks as hooks\n"
        "pm = get_plugin_manager(load_entrypoints=False, env={})\n"
        "pm.register(hooks, name='openai')\n"
        "assert pm.registry().get('model', 'openai').name == 'openai'\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('openai', 'httpx', 'httpx2'))\n"
        "print(heavy)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"


# --- configuration -----------------------------------------------------------------------


def openai_pm() -> Any:
    pm = get_plugin_manager(load_entrypoints=False, env={})
    pm.register(hooks, name="openai")
    return pm


def test_config_accepts_secret_references_and_every_documented_setting() -> None:
    config = load_config(
        text="""
[plugins.openai]
api_key = { env = "OPENAI_API_KEY" }
organization = "org-1"
timeout_s = 30
headers = { "X-Gateway" = "a", "X-Gateway-Key" = { env = "GATEWAY_KEY" } }

[models.local]
provider = "openai"
base_url = "http://localhost:11434/v1"
model = "llama3.2"
temperature = 0.2
max_tokens = 256
""",
        env={},
        pm=openai_pm(),
    )
    assert config.plugins.settings("openai")["api_key"] == {"env": "OPENAI_API_KEY"}
    assert config.models["local"].options["model"] == "llama3.2"


def test_a_plaintext_api_key_is_rejected_without_echoing_it() -> None:
    with pytest.raises(ConfigError) as info:
        load_config(
            text='[plugins.openai]\napi_key = "sk-plaintext-oops-1234567890"\n',
            env={},
            pm=openai_pm(),
        )
    text = str(info.value)
    assert "plugins.openai.api_key" in text
    assert "sk-plaintext-oops-1234567890" not in text
    assert '{ env = "NAME" }' in text


def test_a_plaintext_api_key_in_a_models_table_is_rejected() -> None:
    with pytest.raises(ConfigError, match=r"models\.gpt\.api_key"):
        load_config(
            text='[models.gpt]\nprovider = "openai"\napi_key = "sk-plaintext"\n',
            env={},
            pm=openai_pm(),
        )


def test_unknown_and_invalid_settings_are_reported_with_their_key_path() -> None:
    with pytest.raises(ConfigError) as info:
        load_config(
            text='[plugins.openai]\nbase_ur = "x"\ntimeout_s = -1\ntemperature = 3\n',
            env={},
            pm=openai_pm(),
        )
    text = str(info.value)
    assert "plugins.openai.base_ur: unknown key" in text
    assert "plugins.openai.timeout_s" in text
    assert "plugins.openai.temperature" in text


def test_config_model_forbids_unknown_keys_and_documents_every_field() -> None:
    schema = OpenAIConfig.model_json_schema()
    assert schema["additionalProperties"] is False
    assert all(prop.get("description") for prop in schema["properties"].values())


# --- requests and answers ----------------------------------------------------------------


async def test_text_answer_is_mapped_with_usage_model_and_finish_reason(
    server: Any, provider: OpenAIProvider, api_key: str
) -> None:
    server.reply(server.completion(content="Hello!", model="gpt-test-0613", usage=(12, 4)))

    response = await provider.complete(user())

    assert response.message == Message.assistant("Hello!")
    assert response.usage.input_tokens == 12
    assert response.usage.output_tokens == 4
    assert response.model == "gpt-test-0613"
    assert response.finish_reason == "stop"
    (sent,) = server.requests
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == f"Bearer {api_key}"
    assert sent.body["model"] == "gpt-test"
    assert sent.body["messages"] == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hi"},
    ]
    assert "tools" not in sent.body
    assert "stream" not in sent.body or sent.body["stream"] is False


async def test_sdk_retries_are_off_so_one_call_is_one_request(
    server: Any, provider: OpenAIProvider
) -> None:
    server.reply_error(500, "boom", "server_error")
    server.reply_text("would be the retry")
    with pytest.raises(TransientError):
        await provider.complete(user())
    assert len(server.requests) == 1


async def test_tool_call_round_trip(server: Any, provider: OpenAIProvider) -> None:
    server.reply(
        server.completion(
            tool_calls=[
                {
                    "id": "call_abc",
                    "type": "function",
                    "function": {"name": "add", "arguments": '{"a": 1, "b": 2}'},
                }
            ]
        )
    )
    request = ModelRequest(messages=(Message.user("add 1 and 2"),), tools=(ADD_SPEC,))

    response = await provider.complete(request)

    assert response.finish_reason == "tool_calls"
    assert response.message.content is None
    assert response.message.tool_calls == (
        ToolCall(id="call_abc", name="add", arguments={"a": 1, "b": 2}),
    )
    sent = server.requests[0].body
    assert sent["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "add",
                "description": "Add two integers.",
                "parameters": ADD_SPEC.parameters,
            },
        }
    ]
    assert sent["tool_choice"] == "auto"

    # the answer goes back: assistant tool_calls + a tool message with tool_call_id
    result = ToolResult(call_id="call_abc", name="add", ok=True, data=3)
    server.reply_text("3")
    follow_up = ModelRequest(
        messages=(*request.messages, response.message, Message.tool(result)),
        tools=(ADD_SPEC,),
        tool_choice="required",
        temperature=0.5,
        max_tokens=50,
    )
    assert (await provider.complete(follow_up)).message.content == "3"
    sent = server.requests[1].body
    assert sent["messages"][1:] == [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_abc",
                    "type": "function",
                    "function": {"name": "add", "arguments": '{"a": 1, "b": 2}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_abc", "content": '{"ok": true, "data": 3}'},
    ]
    assert sent["tool_choice"] == "required"
    assert sent["temperature"] == 0.5
    assert sent["max_tokens"] == 50


async def test_invalid_json_arguments_become_a_call_that_fails_validation(
    server: Any, provider: OpenAIProvider
) -> None:
    server.reply(
        server.completion(
            tool_calls=[
                {
                    "id": "call_bad",
                    "type": "function",
                    "function": {"name": "add", "arguments": '{"a": 1, "b": '},
                }
            ]
        )
    )
    response = await provider.complete(ModelRequest(messages=(Message.user("x"),)))
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
    assert INVALID_ARGUMENTS_KEY in result.error["message"]

    # sent back as the model wrote it
    server.reply_text("sorry")
    await provider.complete(
        ModelRequest(messages=(Message.user("x"), response.message, Message.tool(result)))
    )
    sent = server.requests[1].body["messages"][1]
    assert sent["tool_calls"][0]["function"]["arguments"] == '{"a": 1, "b": '


async def test_settings_are_sent_and_a_request_overrides_them(server: Any, api_key: str) -> None:
    model = OpenAIProvider(
        OpenAIConfig(
            base_url=server.base_url,
            model="configured",
            api_key={"env": KEY_VAR},
            organization="org-test",
            project="proj-test",
            temperature=0.1,
            max_tokens=99,
            max_tokens_param="max_completion_tokens",
            headers={"X-Trace": "t1", "X-Gateway-Key": {"env": "GW"}},
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
    assert first.body["max_completion_tokens"] == 99
    assert "max_tokens" not in first.body
    assert first.headers["openai-organization"] == "org-test"
    assert first.headers["openai-project"] == "proj-test"
    assert first.headers["x-trace"] == "t1"
    assert first.headers["x-gateway-key"] == "gateway-secret-value"
    assert second.body["model"] == "other"


def test_max_tokens_goes_in_the_field_the_server_takes() -> None:
    def field(**settings: Any) -> str:
        return OpenAIProvider(OpenAIConfig(**settings)).max_tokens_field()

    assert field() == "max_completion_tokens"  # api.openai.com
    assert field(base_url="http://localhost:11434/v1") == "max_tokens"
    assert field(max_tokens_param="max_tokens") == "max_tokens"
    assert field(base_url="http://vllm:8000/v1", max_tokens_param="max_completion_tokens") == (
        "max_completion_tokens"
    )


async def test_without_api_key_no_environment_credential_is_sent(
    server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the SDK would pick these up by itself; the configuration is the only source here
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-the-environment")
    monkeypatch.setenv("OPENAI_ORG_ID", "org-from-the-environment")
    model = OpenAIProvider(OpenAIConfig(base_url=server.base_url))
    try:
        server.reply_text("local")
        assert (await model.complete(user())).message.content == "local"
    finally:
        await model.aclose()
    sent = server.requests[0].headers
    assert sent["authorization"] == "Bearer no-key"
    assert "openai-organization" not in sent


async def test_an_unset_key_variable_is_a_secret_error_naming_it(server: Any) -> None:
    model = OpenAIProvider(
        OpenAIConfig(base_url=server.base_url, api_key={"env": "NOT_SET_ANYWHERE"}), env={}
    )
    with pytest.raises(SecretError, match="env:NOT_SET_ANYWHERE"):
        await model.complete(user())
    assert server.requests == []


# --- streaming ---------------------------------------------------------------------------


async def test_streamed_text_concatenates_to_the_final_response(
    server: Any, provider: OpenAIProvider
) -> None:
    server.reply_sse(
        [
            server.chunk({"role": "assistant", "content": ""}),
            server.chunk({"content": "Hel"}),
            server.chunk({"content": "lo, "}),
            server.chunk({"content": "world"}),
            server.chunk({}, finish_reason="stop"),
            server.chunk(choices=False, usage=(9, 5)),
        ]
    )

    chunks = [c async for c in provider.stream(user())]

    deltas = [c.text for c in chunks if c.type == "text"]
    assert deltas == ["Hel", "lo, ", "world"]
    final = chunks[-1]
    assert final.type == "response"
    assert final.response is not None
    assert final.response.message.content == "".join(deltas) == "Hello, world"
    assert final.response.usage.input_tokens == 9
    assert final.response.usage.output_tokens == 5
    assert final.response.finish_reason == "stop"
    assert final.response.model == "gpt-test"
    sent = server.requests[0].body
    assert sent["stream"] is True
    assert sent["stream_options"] == {"include_usage": True}


async def test_streamed_tool_call_arguments_assemble(server: Any, provider: OpenAIProvider) -> None:
    def call_delta(index: int, **function: str) -> dict[str, Any]:
        return {"tool_calls": [{"index": index, "function": function}]}

    server.reply_sse(
        [
            server.chunk({"role": "assistant", "content": None}),
            server.chunk(
                {
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "add", "arguments": ""},
                        }
                    ]
                }
            ),
            server.chunk(call_delta(0, arguments='{"a"')),
            server.chunk(call_delta(0, arguments=": 1, ")),
            server.chunk(call_delta(0, arguments='"b": 2}')),
            server.chunk(
                {
                    "tool_calls": [
                        {
                            "index": 1,
                            "id": "call_2",
                            "type": "function",
                            "function": {"name": "add", "arguments": '{"a": 3, "b": 4}'},
                        }
                    ]
                }
            ),
            server.chunk({}, finish_reason="tool_calls"),
            server.chunk(choices=False, usage=(20, 18)),
        ]
    )

    chunks = [c async for c in provider.stream(ModelRequest(messages=(Message.user("x"),)))]

    assert [c.type for c in chunks] == ["response"]
    response = chunks[0].response
    assert response is not None
    assert response.message.tool_calls == (
        ToolCall(id="call_1", name="add", arguments={"a": 1, "b": 2}),
        ToolCall(id="call_2", name="add", arguments={"a": 3, "b": 4}),
    )
    assert response.finish_reason == "tool_calls"
    assert response.usage.total_tokens == 38


async def test_streamed_tool_calls_without_index_are_kept_apart(
    server: Any, provider: OpenAIProvider
) -> None:
    def whole_call(id_: str, arguments: str) -> dict[str, Any]:
        function = {"name": "add", "arguments": arguments}
        return {"tool_calls": [{"id": id_, "type": "function", "function": function}]}

    server.reply_sse(
        [
            server.chunk(whole_call("call_a", '{"a": 1, "b": 2}')),
            server.chunk(whole_call("call_b", '{"a": 3, "b": 4}')),
            server.chunk({}, finish_reason="stop"),
        ]
    )
    response = (await drain(provider))[-1].response
    assert response is not None
    assert [c.arguments for c in response.message.tool_calls] == [
        {"a": 1, "b": 2},
        {"a": 3, "b": 4},
    ]
    assert response.finish_reason == "tool_calls"


async def test_stream_usage_can_be_turned_off_for_servers_that_reject_it(
    server: Any, api_key: str
) -> None:
    model = OpenAIProvider(
        OpenAIConfig(base_url=server.base_url, api_key={"env": KEY_VAR}, stream_usage=False),
        env={KEY_VAR: api_key},
    )
    server.reply_sse([server.chunk({"content": "ok"}, finish_reason="stop")])
    try:
        chunks = [c async for c in model.stream(user())]
    finally:
        await model.aclose()
    assert chunks[-1].response is not None
    assert chunks[-1].response.usage.total_tokens == 0
    assert "stream_options" not in server.requests[0].body


async def test_a_stream_broken_off_midway_is_transient(
    server: Any, provider: OpenAIProvider
) -> None:
    server.reply_sse(
        [server.chunk({"content": "partial"}), server.chunk({"content": " more"})] * 3,
        drop_after=2,
    )
    received: list[str] = []

    async def consume() -> None:
        async for c in provider.stream(user()):
            received.append(c.text)

    with pytest.raises(TransientError):
        await consume()
    assert received == ["partial", " more"]


async def test_an_error_event_inside_a_stream_is_mapped(
    server: Any, provider: OpenAIProvider
) -> None:
    server.reply_sse(
        [
            server.chunk({"content": "a"}),
            {"error": {"message": "The server had an error", "type": "server_error"}},
        ],
        done=False,
    )
    with pytest.raises(TransientError, match="server had an error"):
        await drain(provider)


async def test_stream_errors_before_the_first_chunk_are_mapped(
    server: Any, provider: OpenAIProvider
) -> None:
    server.reply_error(
        429, "Rate limit reached", "requests", "rate_limit_exceeded", {"Retry-After": "2"}
    )
    with pytest.raises(RateLimitError) as info:
        await drain(provider)
    assert info.value.retry_after == 2.0


# --- errors ------------------------------------------------------------------------------


async def test_429_is_a_rate_limit_error_with_retry_after(
    server: Any, provider: OpenAIProvider
) -> None:
    server.reply_error(
        429,
        "Rate limit reached for gpt-test on requests per min (RPM): Limit 3, Used 3.",
        "requests",
        "rate_limit_exceeded",
        headers={"Retry-After": "2"},
    )
    exc = await failure(provider)
    assert isinstance(exc, RateLimitError)
    assert exc.retry_after == 2.0
    assert exc.transient
    assert "HTTP 429" in str(exc)
    assert "Rate limit reached" in str(exc)


async def test_retry_after_as_an_http_date(server: Any, provider: OpenAIProvider) -> None:
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    server.reply_error(429, "slow down", "requests", headers={"Retry-After": when})
    exc = await failure(provider)
    assert isinstance(exc, RateLimitError)
    assert exc.retry_after is not None
    assert 27.0 <= exc.retry_after <= 31.0


def test_retry_after_parsing() -> None:
    now = 1_700_000_000.0
    date = email.utils.formatdate(now + 12, usegmt=True)
    assert parse_retry_after({"retry-after": "2"}) == 2.0
    assert parse_retry_after({"retry-after": "1.5"}) == 1.5
    assert parse_retry_after({"retry-after": date}, now=now) == 12.0
    assert parse_retry_after({"retry-after": email.utils.formatdate(now - 5)}, now=now) == 0.0
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({"retry-after": "-3"}) is None
    assert parse_retry_after({}) is None


async def test_insufficient_quota_429_is_not_retried(server: Any, provider: OpenAIProvider) -> None:
    server.reply_error(
        429, "You exceeded your current quota", "insufficient_quota", "insufficient_quota"
    )
    exc = await failure(provider)
    assert type(exc) is ModelProviderError
    assert not exc.transient
    assert "quota" in str(exc)


@pytest.mark.parametrize("status", [500, 502, 503, 504, 408])
async def test_server_errors_are_transient(
    server: Any, provider: OpenAIProvider, status: int
) -> None:
    server.reply_error(
        status, "The server had an error while processing your request.", "server_error"
    )
    exc = await failure(provider)
    assert type(exc) is TransientError
    assert f"HTTP {status}" in str(exc)


async def test_503_with_retry_after_keeps_it(server: Any, provider: OpenAIProvider) -> None:
    server.reply_error(503, "overloaded", "server_error", headers={"Retry-After": "7"})
    exc = await failure(provider)
    assert isinstance(exc, TransientError)
    assert exc.retry_after == 7.0


async def test_connection_refused_is_transient(closed_port: int) -> None:
    model = OpenAIProvider(OpenAIConfig(base_url=f"http://127.0.0.1:{closed_port}/v1"))
    try:
        exc = await failure(model)
    finally:
        await model.aclose()
    assert type(exc) is TransientError
    assert f"127.0.0.1:{closed_port}" in str(exc)


async def test_a_time_out_is_transient(server: Any) -> None:
    import socket

    # a server that accepts and never answers
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        model = OpenAIProvider(OpenAIConfig(base_url=f"http://127.0.0.1:{port}/v1", timeout_s=0.3))
        try:
            exc = await failure(model)
        finally:
            await model.aclose()
    assert type(exc) is TransientError
    assert "timeout_s = 0.3" in str(exc)


async def test_401_names_the_secret_reference_and_never_the_key(
    server: Any, provider: OpenAIProvider, api_key: str
) -> None:
    # a server that quotes the key back (OpenAI quotes part of it)
    server.reply_error(
        401,
        f"Incorrect API key provided: {api_key}. You can find your API key at ...",
        "invalid_request_error",
        "invalid_api_key",
    )
    exc = await failure(provider)
    assert type(exc) is ModelProviderError
    assert not exc.transient
    assert f"env:{KEY_VAR}" in str(exc)
    assert "HTTP 401" in str(exc)
    assert_no_key(exc, api_key)


async def test_the_key_appears_in_no_error_whatever_the_server_echoes(
    server: Any, provider: OpenAIProvider, api_key: str
) -> None:
    for status in (400, 403, 404, 422, 429, 500, 503):
        server.reply_error(
            status, f"you sent {api_key}", "invalid_request_error", headers={"X-Echo": api_key}
        )
        exc = await failure(provider)
        assert_no_key(exc, api_key)
    server.reply_sse([{"error": {"message": f"key {api_key}", "type": "server_error"}}], done=False)
    with pytest.raises(AgentSDKError) as info:
        await drain(provider)
    assert_no_key(info.value, api_key)


@pytest.mark.parametrize(
    ("status", "type_", "words"),
    [
        (400, "invalid_request_error", "request rejected"),
        (403, "permission_error", "permission denied"),
        (404, "invalid_request_error", "not found"),
        (422, "invalid_request_error", "request rejected"),
    ],
)
async def test_client_errors_are_provider_errors_with_the_server_message(
    server: Any, provider: OpenAIProvider, status: int, type_: str, words: str
) -> None:
    server.reply_error(status, "The model `gpt-test` does not exist", type_, "model_not_found")
    exc = await failure(provider)
    assert type(exc) is ModelProviderError
    assert not exc.transient
    text = str(exc)
    assert words in text
    assert f"HTTP {status}" in text
    assert "does not exist" in text
    assert "model_not_found" in text
    assert "req_test123" in text  # the request id, for support tickets
    assert exc.hint


async def test_a_wrong_base_url_says_to_check_it(server: Any, api_key: str) -> None:
    model = OpenAIProvider(
        OpenAIConfig(base_url=f"http://127.0.0.1:{server.port}", api_key={"env": KEY_VAR}),
        env={KEY_VAR: api_key},
    )
    try:
        exc = await failure(model)
    finally:
        await model.aclose()
    assert type(exc) is ModelProviderError
    assert "base_url" in (exc.hint or "")


async def test_an_answer_without_choices_is_a_provider_error(
    server: Any, provider: OpenAIProvider
) -> None:
    server.reply({"id": "x", "object": "chat.completion", "model": "m", "choices": []})
    exc = await failure(provider)
    assert type(exc) is ModelProviderError
    assert "no choices" in str(exc)


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
    pm.register(hooks, name="openai")
    pm.register(
        module_plugin(
            "e2e",
            agent_sdk_register_tools=lambda: [add],
            agent_sdk_register_agents=lambda: [Calculator],
        )
    )
    config = load_config(
        text=f"""
[models.default]
provider = "openai"
base_url = "{server.base_url}"
model = "gpt-test"
api_key = {{ env = "{KEY_VAR}" }}

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
        server.completion(
            tool_calls=[
                {
                    "id": "call_e2e",
                    "type": "function",
                    "function": {"name": "add", "arguments": '{"a": 1, "b": 2}'},
                }
            ],
            usage=(30, 10),
        )
    )
    server.reply_text("1 + 2 = 3", usage=(45, 6))

    async with Engine(App(config, pm, {}), MemoryStorage()) as engine:  # closes the provider
        result = await asyncio.wait_for(engine.run("sum"), 15)

    assert result.status == "succeeded", result.error
    assert result.outputs["add"] == "1 + 2 = 3"
    assert added == [(1, 2)]
    assert result.usage == {"input_tokens": 75, "output_tokens": 16}
    first, second = (r.body for r in server.requests)
    assert [t["function"]["name"] for t in first["tools"]] == ["add"]
    assert first["messages"][-1] == {"role": "user", "content": "add 1 and 2"}
    assert second["messages"][-1]["role"] == "tool"
    assert second["messages"][-1]["tool_call_id"] == "call_e2e"
    assert json.loads(second["messages"][-1]["content"]) == {"ok": True, "data": 3}
    assert all(r.headers["authorization"] == f"Bearer {api_key}" for r in server.requests)


def test_model_response_survives_the_journal_round_trip() -> None:
    # what the engine records and replays for a call with invalid arguments
    response = ModelResponse(
        message=Message.assistant(
            tool_calls=(ToolCall(id="c", name="add", arguments={INVALID_ARGUMENTS_KEY: "{"}),)
        ),
        finish_reason="tool_calls",
    )
    assert ModelResponse.model_validate(response.model_dump(mode="json")) == response
