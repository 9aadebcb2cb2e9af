"""ScriptedModel and FunctionModel: deterministic model providers for tests."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tomllib
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from pydantic import ValidationError

from agent_sdk.errors import (
    AgentSDKError,
    ModelProviderError,
    RateLimitError,
    TimeoutError,
    TransientError,
)
from agent_sdk.messages import (
    Message,
    ModelRequest,
    ModelResponse,
    ToolCall,
    ToolResult,
    ToolSpec,
    Usage,
)
from agent_sdk.plugins import AgentSDKPluginManager
from agent_sdk.testing.scripted import FunctionModel, ScriptedModel

pytest_plugins = ["pytester"]

TOML_SCRIPT = """
model = "fake-1"
responses = [
    { tool_calls = [ { name = "add", arguments = { a = 1, b = 2 } } ] },
    { content = "the sum is 3", usage = { input_tokens = 40, output_tokens = 4 } },
]
"""


def ask(text: str, *, tools: tuple[str, ...] = ()) -> ModelRequest:
    return ModelRequest(
        messages=(Message.system("be brief"), Message.user(text)),
        tools=tuple(ToolSpec(name=name) for name in tools),
    )


def tool_answer(value: Any) -> ModelRequest:
    result = ToolResult(call_id="call_1", name="add", ok=True, data=value)
    return ModelRequest(messages=(Message.user("add 1 and 2"), Message.tool(result)))


def from_config(data: dict[str, Any]) -> ScriptedModel:
    return ScriptedModel(ScriptedModel.Config.model_validate(data))


# --- scripts from configuration -----------------------------------------------------------


async def test_scripted_model_answers_in_script_order() -> None:
    model = from_config({"responses": [{"content": "one"}, {"content": "two"}]})

    first = await model.complete(ask("hi"))
    second = await model.complete(ask("again"))

    assert [first.message.content, second.message.content] == ["one", "two"]
    assert first.message.role == "assistant"
    assert (first.finish_reason, first.model) == ("stop", "scripted")
    assert model.remaining == 0


async def test_scripted_model_runs_a_script_parsed_from_toml() -> None:
    model = from_config(tomllib.loads(TOML_SCRIPT))

    call = await model.complete(ask("add 1 and 2", tools=("add",)))
    answer = await model.complete(tool_answer(3))

    assert call.message.tool_calls == (
        ToolCall(id="call_1", name="add", arguments={"a": 1, "b": 2}),
    )
    assert (call.message.content, call.finish_reason, call.model) == (None, "tool_calls", "fake-1")
    assert answer.message.content == "the sum is 3"
    assert answer.usage == Usage(input_tokens=40, output_tokens=4)
    model.assert_all_used()


async def test_tool_call_ids_are_numbered_through_the_script_unless_given() -> None:
    model = from_config(
        {
            "responses": [
                {"tool_calls": [{"name": "a"}, {"name": "b", "id": "mine"}]},
                {"tool_calls": [{"name": "c"}]},
            ]
        }
    )

    first = await model.complete(ask("x"))
    second = await model.complete(ask("y"))

    assert [c.id for c in first.message.tool_calls] == ["call_1", "mine"]
    assert [c.id for c in second.message.tool_calls] == ["call_3"]
    assert first.message.tool_calls[0].arguments == {}


async def test_usage_defaults_to_a_word_count_estimate() -> None:
    model = from_config(
        {
            "responses": [
                {
                    "content": "three words here",
                    "tool_calls": [{"name": "t", "arguments": {"a": 1}}],
                }
            ]
        }
    )

    response = await model.complete(ask("count these four words"))

    # input: "be brief" + "count these four words"; output: 3 words + 1 call + 1 argument
    assert response.usage == Usage(input_tokens=6, output_tokens=5)


def test_config_rejects_unknown_keys_and_empty_steps() -> None:
    with pytest.raises(ValidationError, match="contnt"):
        ScriptedModel.Config.model_validate({"responses": [{"contnt": "hi"}]})
    with pytest.raises(ValidationError, match="needs content, tool_calls or error"):
        ScriptedModel.Config.model_validate({"responses": [{}]})
    with pytest.raises(ValidationError, match="not both"):
        ScriptedModel.Config.model_validate(
            {"responses": [{"content": "hi", "error": {"type": "transient"}}]}
        )
    with pytest.raises(ValidationError, match="temperature"):
        ScriptedModel.Config.model_validate({"temperature": 0.5})


def test_every_config_field_is_described() -> None:
    schema = ScriptedModel.config_schema()
    objects = [schema, *schema.get("$defs", {}).values()]

    undescribed = [
        f"{obj.get('title')}.{name}"
        for obj in objects
        for name, prop in obj.get("properties", {}).items()
        if not prop.get("description")
    ]
    assert undescribed == []
    assert {"Usage", "ScriptedStep", "ScriptedToolCall"} <= set(schema["$defs"])


# --- failing loudly -----------------------------------------------------------------------


async def test_exhausted_script_raises_naming_how_many_responses_were_scripted() -> None:
    model = from_config({"responses": [{"content": "one"}, {"content": "two"}]})
    await model.complete(ask("a"))
    await model.complete(ask("b"))

    with pytest.raises(ModelProviderError) as caught:
        await model.complete(ask("one more"))

    message = str(caught.value)
    assert "call 3 but only 2 responses were scripted" in message
    assert "user: 'one more'" in message
    assert "hint: add a response to the script" in message


async def test_empty_script_fails_on_the_first_call() -> None:
    with pytest.raises(ModelProviderError, match="call 1 but only 0 responses were scripted"):
        await ScriptedModel().complete(ask("hi"))


async def test_expect_that_matches_lets_the_step_answer() -> None:
    model = from_config(
        {
            "responses": [
                {
                    "content": "ok",
                    "expect": {
                        "last_role": "user",
                        "last_message_contains": "weather",
                        "tools_offered": ["forecast"],
                    },
                }
            ]
        }
    )

    response = await model.complete(ask("what is the weather?", tools=("forecast", "clock")))

    assert response.message.content == "ok"


async def test_expect_mismatch_raises_with_expected_and_found() -> None:
    model = from_config(
        {
            "responses": [
                {
                    "content": "ok",
                    "expect": {
                        "last_role": "tool",
                        "last_message_contains": "weather",
                        "tools_offered": ["forecast", "clock"],
                    },
                }
            ]
        }
    )

    with pytest.raises(ModelProviderError) as caught:
        await model.complete(ask("what time is it?", tools=("clock",)))

    message = str(caught.value)
    assert "scripted model 'scripted' step 1" in message
    assert "last message role: expected 'tool', found 'user'" in message
    assert "expected it to contain 'weather', found 'what time is it?'" in message
    assert "expected ['forecast', 'clock'], found ['clock'] (missing ['forecast'])" in message


async def test_assert_all_used_lists_every_unused_step() -> None:
    model = ScriptedModel.from_responses(
        ["first", {"tool_calls": [{"name": "add"}]}, Message.assistant("third")]
    )
    await model.complete(ask("hi"))

    with pytest.raises(AssertionError) as caught:
        model.assert_all_used()

    message = str(caught.value)
    assert "2 of 3 scripted responses of model 'scripted' were not used" in message
    assert "step 2: tool_calls=[add]" in message
    assert "step 3: content='third'" in message


async def test_calls_records_every_request_including_failed_ones() -> None:
    model = ScriptedModel.from_responses(["only"])
    requests = [ask("a"), ask("b")]

    await model.complete(requests[0])
    with pytest.raises(ModelProviderError):
        await model.complete(requests[1])

    assert model.calls == requests


@pytest.mark.parametrize(
    ("error", "expected_type", "retry_after"),
    [
        ({"type": "transient", "message": "503"}, TransientError, None),
        ({"type": "rate_limit", "message": "429", "retry_after": 2.5}, RateLimitError, 2.5),
        ({"type": "timeout", "message": "slow"}, TimeoutError, None),
        ({"type": "provider", "message": "bad request"}, ModelProviderError, None),
    ],
)
async def test_scripted_errors_raise_the_scripted_type(
    error: dict[str, Any], expected_type: type[AgentSDKError], retry_after: float | None
) -> None:
    model = from_config({"responses": [{"error": error}, {"content": "recovered"}]})

    with pytest.raises(expected_type) as caught:
        await model.complete(ask("hi"))

    assert type(caught.value) is expected_type
    assert error["message"] in str(caught.value)
    assert getattr(caught.value, "retry_after", None) == retry_after
    assert (await model.complete(ask("hi"))).message.content == "recovered"


# --- from_responses -----------------------------------------------------------------------


async def test_from_responses_accepts_every_supported_item() -> None:
    given = ModelResponse(message=Message.assistant("as is"), model="other", finish_reason="length")
    boom = TransientError("flaky")
    model = ScriptedModel.from_responses(
        [
            "text",
            Message.assistant(tool_calls=(ToolCall(id="t1", name="add"),)),
            given,
            {"content": "from a dict", "expect": {"last_message_contains": "d"}},
            boom,
        ],
        model="fake",
    )

    text = await model.complete(ask("a"))
    calls = await model.complete(ask("b"))
    as_is = await model.complete(ask("c"))
    from_dict = await model.complete(ask("d"))
    with pytest.raises(TransientError) as caught:
        await model.complete(ask("e"))

    assert (text.message.content, text.model, text.usage.output_tokens) == ("text", "fake", 1)
    assert (calls.message.tool_calls[0].id, calls.finish_reason) == ("t1", "tool_calls")
    assert as_is is given
    assert from_dict.message.content == "from a dict"
    assert caught.value is boom


@pytest.mark.parametrize(
    ("item", "problem"),
    [
        (Message.user("hi"), "assistant message, found role 'user'"),
        (42, "found int"),
        ({"content": "hi", "usage": {"input_tokens": -1}}, "invalid step"),
    ],
)
def test_from_responses_rejects_bad_items_naming_the_step(item: Any, problem: str) -> None:
    with pytest.raises(ModelProviderError) as caught:
        ScriptedModel.from_responses(["fine", item])

    assert "step 2" in str(caught.value)
    assert problem in str(caught.value)


# --- concurrency, streaming, registration -------------------------------------------------


async def test_concurrent_async_calls_each_get_a_distinct_step() -> None:
    model = ScriptedModel.from_responses([str(i) for i in range(100)])

    responses = await asyncio.gather(*(model.complete(ask("hi")) for _ in range(100)))

    assert sorted(int(r.message.content or "") for r in responses) == list(range(100))
    model.assert_all_used()


def test_concurrent_threaded_calls_each_get_a_distinct_step() -> None:
    model = ScriptedModel.from_responses([str(i) for i in range(200)])

    def call(_: int) -> str | None:
        return asyncio.run(model.complete(ask("hi"))).message.content

    with ThreadPoolExecutor(max_workers=8) as pool:
        contents = list(pool.map(call, range(200)))

    assert sorted(int(c or "") for c in contents) == list(range(200))
    assert len(model.calls) == 200


async def test_stream_yields_the_text_then_the_response() -> None:
    model = ScriptedModel.from_responses(["streamed"])

    chunks = [chunk async for chunk in model.stream(ask("hi"))]

    assert [c.type for c in chunks] == ["text", "response"]
    assert chunks[0].text == "streamed"
    assert chunks[1].response is not None
    assert chunks[1].response.message.content == "streamed"


def test_builtin_plugin_registers_the_scripted_model_only(
    plugin_manager: AgentSDKPluginManager,
) -> None:
    registry = plugin_manager.registry()

    assert registry.get("model", "scripted") is ScriptedModel
    assert "function" not in registry.names("model")


def test_importing_the_scripted_module_does_not_import_pytest() -> None:
    code = "import sys, agent_sdk.testing.scripted; print('pytest' in sys.modules)"

    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    assert proc.stdout.strip() == "False"


# --- FunctionModel ------------------------------------------------------------------------


async def test_function_model_calls_a_sync_function_per_request() -> None:
    model = FunctionModel(lambda request: f"you said {request.messages[-1].content}")

    response = await model.complete(ask("hello"))

    assert response.message.content == "you said hello"
    assert (response.model, response.finish_reason) == ("function", "stop")
    assert response.usage == Usage(input_tokens=3, output_tokens=3)
    assert model.calls == [ask("hello")]


async def test_function_model_awaits_an_async_function() -> None:
    async def decide(request: ModelRequest) -> Message:
        await asyncio.sleep(0)
        if request.tools:
            return Message.assistant(tool_calls=(ToolCall(id="c1", name=request.tools[0].name),))
        return Message.assistant("no tools")

    model = FunctionModel(decide)

    with_tools = await model.complete(ask("x", tools=("add",)))
    without = await model.complete(ask("y"))

    assert with_tools.message.tool_calls[0].name == "add"
    assert with_tools.finish_reason == "tool_calls"
    assert without.message.content == "no tools"


async def test_function_model_returns_a_model_response_unchanged() -> None:
    given = ModelResponse(message=Message.assistant("x"), usage=Usage(input_tokens=9), model="m")

    assert await FunctionModel(lambda _: given).complete(ask("hi")) is given


async def test_function_model_rejects_an_unsupported_return_value() -> None:
    model = FunctionModel(lambda _: 42)  # type: ignore[arg-type,return-value]

    with pytest.raises(ModelProviderError, match=r"expected a ModelResponse.*found int"):
        await model.complete(ask("hi"))


async def test_function_model_lets_the_function_s_exceptions_through() -> None:
    def fails(_: ModelRequest) -> str:
        raise TransientError("try later")

    with pytest.raises(TransientError, match="try later"):
        await FunctionModel(fails).complete(ask("hi"))


def test_function_model_needs_a_callable() -> None:
    with pytest.raises(ModelProviderError, match="needs a callable"):
        FunctionModel("not a function")  # type: ignore[arg-type]


# --- the scripted_model fixture -----------------------------------------------------------


async def test_scripted_model_fixture_builds_models(scripted_model: Any) -> None:
    model = scripted_model("hi", {"content": "bye"}, model="fixture")

    assert (await model.complete(ask("a"))).model == "fixture"
    assert (await model.complete(ask("b"))).message.content == "bye"


def test_scripted_model_fixture_fails_a_passing_test_with_unused_steps(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        def test_leaves_a_step(scripted_model):
            scripted_model("never used")

        def test_fails_anyway(scripted_model):
            scripted_model("never used")
            assert False, "the test's own failure"
        """
    )

    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:asyncio")

    result.assert_outcomes(passed=1, failed=1, errors=1)
    result.stdout.fnmatch_lines(["*1 of 1 scripted responses*were not used*", "*step 1*"])
    result.stdout.fnmatch_lines(["*the test's own failure*"])
