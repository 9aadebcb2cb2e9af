"""The ``tracing`` builtin: real runs through the engine, spans captured in memory."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from agent_sdk import hookimpl
from agent_sdk.app import App
from agent_sdk.errors import AgentSDKError, ConfigError
from agent_sdk.kinds.agent import Agent, AgentResult
from agent_sdk.kinds.tool import tool
from agent_sdk.messages import Message, ModelRequest
from agent_sdk.observability.tracing import TracingPlugin, get_tracing
from agent_sdk.plugins import AgentSDKPluginManager, get_plugin_manager, module_plugin
from agent_sdk.runtime.engine import Engine
from agent_sdk.runtime.loop import render_input, run_tool_loop
from agent_sdk.testing.memory import MemoryStorage

SECRET = "sekrit-value-123"
GATE: dict[str, Any] = {"block": False, "blocked": None}


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@tool
def boom(reason: str) -> str:
    """Always fails."""
    raise ValueError(f"boom: {reason}")


@tool
def echo(text: str, api_key: str = "") -> str:
    """Return the text."""
    return f"echo {text}"


class Loop(Agent):
    name = "loop"

    async def run(self, task_input: Any, ctx: Any) -> AgentResult:
        return await run_tool_loop(
            ctx, [Message.system("be brief"), Message.user(render_input(task_input))]
        )


class Gated(Agent):
    """One model call, its tool calls, then (while GATE["block"]) waits to be interrupted."""

    name = "gated"

    async def run(self, task_input: Any, ctx: Any) -> AgentResult:
        response = await ctx.call_model(
            ModelRequest(messages=(Message.user(str(task_input)),), tools=tuple(ctx.tool_specs()))
        )
        results = await ctx.call_tools(list(response.message.tool_calls))
        if GATE["block"]:
            GATE["blocked"].set()
            await asyncio.Event().wait()
        return AgentResult(output=results[0].data)


COMPONENTS = module_plugin(
    "tracing-test-components",
    agent_sdk_register_tools=lambda: [add, boom, echo],
    agent_sdk_register_agents=lambda: [Loop, Gated],
)

CALC = """
[plugins.tracing]
exporter = "memory"
[models.default]
provider = "scripted"

[[models.default.responses]]
tool_calls = [ { name = "add", arguments = { a = 1, b = 2 } } ]
usage = { input_tokens = 11, output_tokens = 7 }
[[models.default.responses]]
content = "3"
usage = { input_tokens = 20, output_tokens = 1 }
[agents.calc]
type = "loop"
tools = ["add"]
[workflows.w]
[[workflows.w.tasks]]
id = "sum"
agent = "calc"
input = "add 1 and 2"
[[workflows.w.tasks]]
id = "direct"
tool = "add"
args = { a = 5, b = 6 }
"""


def build_app(pm: AgentSDKPluginManager, toml: str) -> App:
    from agent_sdk.config import load_config

    if pm.get_plugin("tracing-test-components") is None:
        pm.register(COMPONENTS, "tracing-test-components")
    return App(load_config(text=toml, env={}, pm=pm), pm, {})


@pytest.fixture
def started() -> Iterator[Callable[[str], App]]:
    """``started(toml) -> App``: a fresh plugin manager + app, started; shut down at teardown."""
    apps: list[App] = []

    def make(toml: str) -> App:
        app = build_app(get_plugin_manager(load_entrypoints=False, env={}), toml)
        app.startup()
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.shutdown()


def run(app: App, workflow: str = "w", **kwargs: Any) -> Any:
    async def go() -> Any:
        return await Engine(app, MemoryStorage()).run(workflow, **kwargs)

    return asyncio.run(go())


def spans_of(app: App) -> list[Any]:
    plugin = get_tracing(app.pm)
    assert plugin is not None
    return plugin.finished_spans()


def by_name(spans: list[Any], name: str) -> list[Any]:
    return [s for s in spans if s.name == name]


def one(spans: list[Any], name: str) -> Any:
    found = by_name(spans, name)
    assert len(found) == 1, f"{name!r}: {[s.name for s in spans]}"
    return found[0]


def test_spans_form_a_run_task_call_tree(started: Callable[[str], App]) -> None:
    app = started(CALC)
    result = run(app)
    assert result.ok
    spans = spans_of(app)
    workflow = one(spans, "invoke_workflow w")
    agent_task = one(spans, "invoke_agent calc")
    tool_task = one(spans, "task direct")
    chats = by_name(spans, "chat default")
    tools = by_name(spans, "execute_tool add")
    assert len(chats) == 2
    assert len(tools) == 2

    assert workflow.parent is None
    assert {s.context.trace_id for s in spans} == {workflow.context.trace_id}
    assert agent_task.parent.span_id == workflow.context.span_id
    assert tool_task.parent.span_id == workflow.context.span_id
    for chat in chats:
        assert chat.parent.span_id == agent_task.context.span_id
    parents = {t.attributes["agent_sdk.task_id"]: t.parent.span_id for t in tools}
    assert parents == {"sum": agent_task.context.span_id, "direct": tool_task.context.span_id}
    assert get_tracing(app.pm).open_spans == 0  # type: ignore[union-attr]


def test_spans_carry_genai_attributes_and_token_usage(started: Callable[[str], App]) -> None:
    from opentelemetry.trace import SpanKind, StatusCode

    app = started(CALC)
    result = run(app)
    spans = spans_of(app)
    first, second = sorted(
        by_name(spans, "chat default"), key=lambda s: s.attributes["agent_sdk.model_call_index"]
    )
    assert first.kind is SpanKind.CLIENT
    assert dict(first.attributes) == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "scripted",
        "gen_ai.request.model": "default",
        "gen_ai.response.model": "scripted",
        "gen_ai.response.finish_reasons": ("tool_calls",),
        "gen_ai.usage.input_tokens": 11,
        "gen_ai.usage.output_tokens": 7,
        "agent_sdk.model": "default",
        "agent_sdk.model_call_index": 0,
        "agent_sdk.run_id": result.run_id,
        "agent_sdk.task_id": "sum",
    }
    assert second.attributes["gen_ai.usage.input_tokens"] == 20
    assert second.attributes["gen_ai.response.finish_reasons"] == ("stop",)

    tool_span = next(s for s in by_name(spans, "execute_tool add") if s.parent is not None)
    call = next(
        s for s in by_name(spans, "execute_tool add") if s.attributes["agent_sdk.task_id"] == "sum"
    )
    assert call.attributes["gen_ai.operation.name"] == "execute_tool"
    assert call.attributes["gen_ai.tool.name"] == "add"
    assert call.attributes["gen_ai.tool.call.id"] == "call_1"
    assert call.attributes["agent_sdk.replayed"] is False
    assert tool_span.status.status_code is StatusCode.UNSET

    workflow = one(spans, "invoke_workflow w")
    assert workflow.attributes["gen_ai.operation.name"] == "invoke_workflow"
    assert workflow.attributes["agent_sdk.workflow"] == "w"
    assert workflow.attributes["agent_sdk.run_id"] == result.run_id
    assert workflow.attributes["agent_sdk.status"] == "succeeded"
    task = one(spans, "invoke_agent calc")
    assert task.attributes["gen_ai.operation.name"] == "invoke_agent"
    assert task.attributes["gen_ai.agent.name"] == "calc"
    assert task.attributes["agent_sdk.task_id"] == "sum"
    assert task.attributes["agent_sdk.attempt"] == 1
    assert workflow.resource.attributes["service.name"] == "agent-sdk"


def test_failing_tool_marks_its_span_and_task_as_errors(started: Callable[[str], App]) -> None:
    from opentelemetry.trace import StatusCode

    app = started(
        """
[plugins.tracing]
exporter = "memory"
[workflows.w]
[[workflows.w.tasks]]
id = "fail"
tool = "boom"
args = { reason = "disk full" }
"""
    )
    result = run(app)
    assert result.status == "failed"
    spans = spans_of(app)
    call = one(spans, "execute_tool boom")
    assert call.status.status_code is StatusCode.ERROR
    assert "disk full" in call.status.description
    assert call.attributes["error.type"] == "ValueError"  # the tool's structured error type
    assert [e.name for e in call.events] == ["exception"]
    task = one(spans, "task fail")
    assert task.status.status_code is StatusCode.ERROR
    assert task.attributes["error.type"] == "ToolError"
    workflow = one(spans, "invoke_workflow w")
    assert workflow.status.status_code is StatusCode.ERROR
    assert workflow.attributes["agent_sdk.status"] == "failed"


def test_failing_model_call_marks_its_span_as_error(started: Callable[[str], App]) -> None:
    from opentelemetry.trace import StatusCode

    app = started(
        """
[plugins.tracing]
exporter = "memory"
[models.default]
provider = "scripted"
responses = [ { error = { type = "provider", message = "quota exhausted" } } ]
[agents.calc]
type = "loop"
tools = ["add"]
[workflows.w]
[[workflows.w.tasks]]
id = "sum"
agent = "calc"
input = "add"
"""
    )
    assert run(app).status == "failed"
    spans = spans_of(app)
    chat = one(spans, "chat default")
    assert chat.status.status_code is StatusCode.ERROR
    assert chat.attributes["error.type"] == "ModelProviderError"
    assert "quota exhausted" in chat.status.description
    assert "gen_ai.usage.input_tokens" not in chat.attributes
    assert one(spans, "invoke_agent calc").status.status_code is StatusCode.ERROR


def test_resumed_run_marks_replayed_tool_calls(started: Callable[[str], App]) -> None:
    app = started(
        """
[plugins.tracing]
exporter = "memory"
[models.default]
provider = "scripted"
responses = [ { tool_calls = [ { name = "add", arguments = { a = 2, b = 2 } } ] } ]
[agents.gate]
type = "gated"
tools = ["add"]
[workflows.w]
[[workflows.w.tasks]]
id = "g"
agent = "gate"
input = "go"
"""
    )
    storage = MemoryStorage()

    async def interrupt_then_resume() -> Any:
        GATE["block"], GATE["blocked"] = True, asyncio.Event()
        running = asyncio.create_task(Engine(app, storage).run("w", run_id="run_gated"))
        await asyncio.wait_for(GATE["blocked"].wait(), 5)
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
        GATE["block"] = False
        return await Engine(app, storage).resume("run_gated")

    try:
        result = asyncio.run(interrupt_then_resume())
    finally:
        GATE["block"] = False
    assert result.ok
    assert result.outputs == {"g": 4}
    spans = spans_of(app)
    executed, replayed = by_name(spans, "execute_tool add")
    assert executed.attributes["agent_sdk.replayed"] is False
    assert replayed.attributes["agent_sdk.replayed"] is True
    assert replayed.start_time == pytest.approx(replayed.end_time, abs=5_000_000)
    first_run, resumed_run = by_name(spans, "invoke_workflow w")
    assert first_run.attributes["agent_sdk.status"] == "cancelled"
    assert resumed_run.attributes["agent_sdk.resumed"] is True
    # the interrupted task's after-hook reports it cancelled; its span ends in error
    interrupted, resumed_task = by_name(spans, "invoke_agent gate")
    assert interrupted.attributes["agent_sdk.status"] == "cancelled"
    assert interrupted.end_time is not None
    assert interrupted.parent.span_id == first_run.context.span_id
    assert replayed.parent.span_id == resumed_task.context.span_id
    assert resumed_task.parent.span_id == resumed_run.context.span_id
    assert len(by_name(spans, "chat default")) == 1  # the model call was replayed: no hook


def test_planted_secret_never_reaches_any_span(
    started: Callable[[str], App], clean_redactor: Any
) -> None:
    from agent_sdk.secrets import resolve

    assert resolve({"env": "X"}, env={"X": SECRET}) == SECRET
    app = started(
        f"""
[plugins.tracing]
exporter = "memory"
capture_content = true
[models.default]
provider = "scripted"
[[models.default.responses]]
tool_calls = [
  {{ name = "echo", arguments = {{ text = "{SECRET}", api_key = "unregistered-cred-42" }} }},
  {{ name = "boom", arguments = {{ reason = "leaked {SECRET}" }} }},
]
[[models.default.responses]]
content = "the secret is {SECRET}"
[agents.leaky]
type = "loop"
tools = ["echo", "boom"]
[workflows.w]
input = {{ password = "{SECRET}", note = "{SECRET}" }}
[[workflows.w.tasks]]
id = "leak"
agent = "leaky"
input = "use {SECRET}"
"""
    )
    assert run(app).ok
    spans = spans_of(app)
    dumped = "\n".join(span.to_json() for span in spans)
    assert SECRET not in dumped
    assert "unregistered-cred-42" not in dumped  # under a sensitive key: masked
    assert "***" in dumped
    # content was recorded (opt-in), just masked
    echo_span = one(spans, "execute_tool echo")
    assert json.loads(echo_span.attributes["gen_ai.tool.call.arguments"]) == {
        "text": "***",
        "api_key": "***",
    }
    assert "echo ***" in echo_span.attributes["gen_ai.tool.call.result"]
    assert "the secret is ***" in dumped


def test_content_is_not_recorded_by_default(started: Callable[[str], App]) -> None:
    app = started(CALC)
    assert run(app).ok
    dumped = "\n".join(span.to_json() for span in spans_of(app))
    assert "add 1 and 2" not in dumped  # the prompt
    assert "be brief" not in dumped
    assert "gen_ai.input.messages" not in dumped
    assert "gen_ai.tool.call.arguments" not in dumped


def test_call_span_refused_by_a_guardrail_ends_with_the_guardrail_error(
    started: Callable[[str], App],
) -> None:
    class Guardrail:
        @hookimpl(trylast=True)  # runs after tracing started the span
        def agent_sdk_before_model_call(self) -> None:
            raise AgentSDKError("blocked by policy")

    app = started(CALC)
    app.pm.register(Guardrail(), "guardrail")
    result = run(app, "w")
    assert result.status == "failed"
    spans = spans_of(app)
    chat = one(spans, "chat default")
    assert chat.attributes["error.type"] == "AgentSDKError"
    assert chat.status.status_code.name == "ERROR"
    assert chat.end_time is not None
    assert get_tracing(app.pm).open_spans == 0  # type: ignore[union-attr]


def test_open_spans_are_bounded(started: Callable[[str], App]) -> None:
    from agent_sdk.events import ToolCallInfo
    from agent_sdk.messages import ToolCall

    app = started('[plugins.tracing]\nexporter = "memory"\nmax_open_spans = 2\n')
    for i in range(3):
        call = ToolCallInfo("run_x", "t", ToolCall(id=f"c{i}", name="add"))
        app.pm.hook.agent_sdk_before_tool_call(call=call)
    plugin = get_tracing(app.pm)
    assert plugin is not None
    assert plugin.open_spans == 2
    (evicted,) = plugin.finished_spans()
    assert evicted.attributes["gen_ai.tool.call.id"] == "c0"
    assert evicted.attributes["agent_sdk.incomplete"] is True


def test_two_apps_keep_separate_providers_and_spans(started: Callable[[str], App]) -> None:
    from opentelemetry import trace

    first, second = started(CALC), started(CALC)
    assert run(first).ok
    one_plugin, other_plugin = get_tracing(first.pm), get_tracing(second.pm)
    assert one_plugin is not None
    assert other_plugin is not None
    assert one_plugin is not other_plugin
    assert one_plugin.provider is not other_plugin.provider
    assert len(one_plugin.finished_spans()) == 7
    assert other_plugin.finished_spans() == []
    assert trace.get_tracer_provider() is not one_plugin.provider  # global left alone


def test_shutdown_flushes_and_stops_recording(started: Callable[[str], App]) -> None:
    app = started(CALC)
    plugin = get_tracing(app.pm)
    assert plugin is not None
    assert plugin.enabled
    app.shutdown()
    assert not plugin.enabled
    assert plugin.provider is None
    assert run(app).ok  # hooks are no-ops now
    assert plugin.finished_spans() == []


def test_unknown_setting_is_a_config_error() -> None:
    pm = get_plugin_manager(load_entrypoints=False, env={})
    with pytest.raises(ConfigError, match=r"plugins\.tracing"):
        build_app(pm, '[plugins.tracing]\nexporter = "memory"\nexportr = "x"\n')
    with pytest.raises(ConfigError, match="exporter"):
        build_app(pm, '[plugins.tracing]\nexporter = "jaeger"\n')


def test_missing_opentelemetry_is_a_config_error_with_the_pip_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry.sdk.trace", None)  # import fails
    pm = get_plugin_manager(load_entrypoints=False, env={})
    with pytest.raises(ConfigError) as info:
        build_app(pm, '[plugins.tracing]\nexporter = "console"\n')
    issue = info.value.issues[0]
    assert issue.key_path == "plugins.tracing.exporter"
    assert issue.hint is not None
    assert "pip install 'agent-sdk[otel]'" in issue.hint


def test_missing_otlp_exporter_is_a_config_error_naming_the_package(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    module = "opentelemetry.exporter.otlp.proto.grpc.trace_exporter"
    monkeypatch.setitem(sys.modules, module, None)
    pm = get_plugin_manager(load_entrypoints=False, env={})
    with pytest.raises(ConfigError) as info:
        build_app(pm, '[plugins.tracing]\nexporter = "otlp"\nprotocol = "grpc"\n')
    assert info.value.issues[0].hint == "pip install opentelemetry-exporter-otlp-proto-grpc"


def test_builtin_is_one_instance_per_plugin_manager() -> None:
    first = get_plugin_manager(load_entrypoints=False, env={})
    second = get_plugin_manager(load_entrypoints=False, env={})
    assert isinstance(first.get_plugin("tracing"), TracingPlugin)
    assert first.get_plugin("tracing") is not second.get_plugin("tracing")
    assert first.records["tracing"].source == "builtin"


def test_tracing_off_by_default_never_imports_opentelemetry() -> None:
    script = textwrap.dedent(
        """
        import asyncio, sys
        from agent_sdk.app import App
        from agent_sdk.config import load_config
        from agent_sdk.observability.tracing import get_tracing
        from agent_sdk.plugins import get_plugin_manager
        from agent_sdk.runtime.engine import Engine
        from agent_sdk.testing.memory import MemoryStorage

        pm = get_plugin_manager(load_entrypoints=False, env={})
        text = '''
        [models.default]
        provider = "scripted"
        responses = [ { content = "hi" } ]
        [agents.a]
        type = "x"
        [workflows.w]
        [[workflows.w.tasks]]
        id = "t"
        agent = "a"
        '''
        from agent_sdk.kinds.agent import Agent, AgentResult
        from agent_sdk.plugins import module_plugin
        from agent_sdk.messages import Message, ModelRequest

        class X(Agent):
            name = "x"
            async def run(self, task_input, ctx):
                r = await ctx.call_model(ModelRequest(messages=(Message.user("hi"),)))
                return AgentResult(output=r.message.content)

        pm.register(module_plugin("comp", agent_sdk_register_agents=lambda: [X]), "comp")
        app = App(load_config(text=text, env={}, pm=pm), pm, {})
        app.startup()
        result = asyncio.run(Engine(app, MemoryStorage()).run("w"))
        app.shutdown()
        assert result.ok, result.error
        assert get_tracing(pm) is not None and not get_tracing(pm).enabled
        print(sorted(m for m in sys.modules if m.startswith("opentelemetry")))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
