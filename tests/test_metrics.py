"""The ``metrics`` builtin: real runs through the engine, read back from the exposition text."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from agent_sdk.app import App
from agent_sdk.errors import ConfigError, PluginError, TransientError
from agent_sdk.kinds.agent import Agent, AgentResult
from agent_sdk.kinds.tool import tool
from agent_sdk.messages import Message, ModelRequest
from agent_sdk.observability.metrics import MetricsPlugin, get_metrics
from agent_sdk.plugins import AgentSDKPluginManager, get_plugin_manager, module_plugin
from agent_sdk.runtime.engine import Engine
from agent_sdk.runtime.loop import render_input, run_tool_loop
from agent_sdk.testing.memory import MemoryStorage

GATE: dict[str, Any] = {"block": False, "blocked": None}


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@tool
def boom() -> str:
    """Always fails."""
    raise ValueError("boom")


@tool
def flaky() -> str:
    """Fails with a transient error (counted by the circuit breaker)."""
    raise TransientError("upstream 503")


class Loop(Agent):
    name = "loop"

    async def run(self, task_input: Any, ctx: Any) -> AgentResult:
        return await run_tool_loop(ctx, [Message.user(render_input(task_input))])


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
    "metrics-test-components",
    agent_sdk_register_tools=lambda: [add, boom, flaky],
    agent_sdk_register_agents=lambda: [Loop, Gated],
)

CALC = """
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
tools = ["add", "boom"]
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

    pm.register(COMPONENTS, "metrics-test-components")
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


def run(app: App, workflow: str = "w") -> Any:
    async def go() -> Any:
        return await Engine(app, MemoryStorage()).run(workflow)

    return asyncio.run(go())


def plugin_of(app: App) -> MetricsPlugin:
    plugin = get_metrics(app.pm)
    assert plugin is not None
    return plugin


def samples(source: App | bytes) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """``{(sample name, labels): value}`` parsed from the exposition text."""
    from prometheus_client.parser import text_string_to_metric_families

    text = source if isinstance(source, bytes) else plugin_of(source).render()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text.decode())
        for s in family.samples
    }


def value(found: dict[Any, float], metric: str, **labels: str) -> float | None:
    return found.get((metric, frozenset(labels.items())))


def test_a_run_is_counted_with_durations_and_tokens(started: Callable[[str], App]) -> None:
    app = started(CALC)
    assert run(app).ok
    found = samples(app)
    assert value(found, "agent_sdk_runs_total", workflow="w", status="succeeded") == 1
    assert value(found, "agent_sdk_tasks_total", workflow="w", status="succeeded") == 2
    assert (
        value(found, "agent_sdk_task_duration_seconds_count", workflow="w", status="succeeded") == 2
    )
    calls = {"model": "default", "provider": "scripted"}
    assert value(found, "agent_sdk_model_calls_total", **calls, status="succeeded") == 2
    assert value(found, "agent_sdk_model_call_duration_seconds_count", **calls) == 2
    assert value(found, "agent_sdk_model_tokens_total", model="default", direction="input") == 31
    assert value(found, "agent_sdk_model_tokens_total", model="default", direction="output") == 8
    tool = {"tool": "add", "status": "succeeded", "replayed": "false"}
    assert value(found, "agent_sdk_tool_calls_total", **tool) == 2
    assert value(found, "agent_sdk_tool_call_duration_seconds_count", tool="add") == 2
    total = value(found, "agent_sdk_tool_call_duration_seconds_sum", tool="add")
    assert total is not None
    assert 0 < total < 5
    # ids never become labels
    assert not any("run_" in v for _, labels in found for _, v in labels)


def test_failed_tool_and_model_calls_are_counted_as_failed(started: Callable[[str], App]) -> None:
    app = started(
        """
[models.default]
provider = "scripted"
[[models.default.responses]]
error = { type = "provider", message = "quota exhausted" }
[agents.calc]
type = "loop"
tools = ["add"]
[workflows.w]
failure_policy = "continue"
[[workflows.w.tasks]]
id = "sum"
agent = "calc"
input = "go"
[[workflows.w.tasks]]
id = "fail"
tool = "boom"
"""
    )
    assert run(app).status == "failed"
    found = samples(app)
    assert value(found, "agent_sdk_runs_total", workflow="w", status="failed") == 1
    assert value(found, "agent_sdk_tasks_total", workflow="w", status="failed") == 2
    labels = {"model": "default", "provider": "scripted", "status": "failed"}
    assert value(found, "agent_sdk_model_calls_total", **labels) == 1
    tool = {"tool": "boom", "status": "failed", "replayed": "false"}
    assert value(found, "agent_sdk_tool_calls_total", **tool) == 1


def test_two_apps_in_one_process_do_not_share_metrics(started: Callable[[str], App]) -> None:
    from prometheus_client import REGISTRY, generate_latest

    first, second = started(CALC), started(CALC)
    assert run(first).ok
    assert run(first).ok
    assert run(second).ok
    assert plugin_of(first) is not plugin_of(second)
    assert plugin_of(first).registry is not plugin_of(second).registry
    runs = {"workflow": "w", "status": "succeeded"}
    assert value(samples(first), "agent_sdk_runs_total", **runs) == 2
    assert value(samples(second), "agent_sdk_runs_total", **runs) == 1
    assert b"agent_sdk_" not in generate_latest(REGISTRY)  # the global registry is untouched


def test_replayed_tool_calls_are_labelled_replayed(started: Callable[[str], App]) -> None:
    app = started(
        """
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
        assert asyncio.run(interrupt_then_resume()).ok
    finally:
        GATE["block"] = False
    found = samples(app)
    labels = {"tool": "add", "status": "succeeded"}
    assert value(found, "agent_sdk_tool_calls_total", **labels, replayed="false") == 1
    assert value(found, "agent_sdk_tool_calls_total", **labels, replayed="true") == 1
    assert value(found, "agent_sdk_tool_call_duration_seconds_count", tool="add") == 1
    assert value(found, "agent_sdk_runs_total", workflow="w", status="cancelled") == 1
    assert value(found, "agent_sdk_runs_total", workflow="w", status="succeeded") == 1
    # the replayed model call was not sent, so it is not counted
    calls = {"model": "default", "provider": "scripted", "status": "succeeded"}
    assert value(found, "agent_sdk_model_calls_total", **calls) == 1


def test_serve_answers_over_http_then_stops(started: Callable[[str], App]) -> None:
    app = started(CALC)
    assert run(app).ok
    server = plugin_of(app).serve("127.0.0.1", 0)
    try:
        assert server.port > 0
        with urllib.request.urlopen(server.url, timeout=5) as response:
            assert response.status == 200
            body = response.read()
    finally:
        server()
    runs = {"workflow": "w", "status": "succeeded"}
    assert value(samples(body), "agent_sdk_runs_total", **runs) == 1
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(server.url, timeout=2)
    server.stop()  # idempotent


def test_port_setting_serves_from_startup_to_shutdown(started: Callable[[str], App]) -> None:
    app = started("[plugins.metrics]\nport = 0\n")
    plugin = plugin_of(app)
    assert plugin.server is not None
    url = plugin.server.url
    with urllib.request.urlopen(url, timeout=5) as response:
        assert b"agent_sdk_runs_total" in response.read() or response.status == 200
    app.shutdown()
    assert plugin.server is None
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url, timeout=2)


def test_breaker_state_gauge_follows_a_real_breaker(started: Callable[[str], App]) -> None:
    from agent_sdk.reliability.breaker import BreakerState

    app = started(
        """
[runtime.breaker]
failure_threshold = 1
[workflows.w]
[[workflows.w.tasks]]
id = "f"
tool = "flaky"
"""
    )
    plugin = plugin_of(app)

    async def go() -> Any:
        engine = Engine(app, MemoryStorage())
        engine.services.breaker_listeners.append(plugin.breaker_listener)  # the engine's wiring
        return await engine.run("w")

    assert asyncio.run(go()).status == "failed"
    gauge = "agent_sdk_circuit_breaker_state"
    assert value(samples(app), gauge, name="tool:flaky") == 2  # open
    plugin.record_breaker_state("tool:flaky", BreakerState.HALF_OPEN)
    assert value(samples(app), gauge, name="tool:flaky") == 1
    plugin.record_breaker_state("model:default", 0)
    assert value(samples(app), gauge, name="model:default") == 0
    with pytest.raises(ValueError, match="unknown breaker state"):
        plugin.record_breaker_state("model:default", "ajar")


def test_label_values_are_bounded(started: Callable[[str], App]) -> None:
    from agent_sdk.events import ToolCallInfo
    from agent_sdk.messages import ToolCall, ToolResult

    app = started("[plugins.metrics]\nmax_label_values = 2\n")
    for name in ("a", "b", "invented_1", "invented_2"):
        call = ToolCallInfo("run_x", "t", ToolCall(id=name, name=name))
        result = ToolResult(call_id=name, name=name, ok=True)
        app.pm.hook.agent_sdk_before_tool_call(call=call)
        app.pm.hook.agent_sdk_after_tool_call(call=call, result=result)
    found = samples(app)
    tools = sorted(
        dict(labels)["tool"] for name, labels in found if name == "agent_sdk_tool_calls_total"
    )
    assert tools == ["_other", "a", "b"]
    assert (
        value(
            found, "agent_sdk_tool_calls_total", tool="_other", status="succeeded", replayed="false"
        )
        == 2
    )


def test_a_call_refused_by_a_guardrail_is_counted_as_an_error(
    started: Callable[[str], App],
) -> None:
    from agent_sdk import hookimpl
    from agent_sdk.errors import AgentSDKError

    class Guardrail:
        @hookimpl(trylast=True)  # runs after the metrics plugin noted the start
        def agent_sdk_before_model_call(self) -> None:
            raise AgentSDKError("blocked by policy")

    app = started(CALC)
    app.pm.register(Guardrail(), "guardrail")
    assert run(app).status == "failed"
    plugin = plugin_of(app)
    assert plugin.calls_in_flight == 0
    found = samples(app)
    assert value(found, "agent_sdk_tasks_total", workflow="w", status="failed") == 1
    # the after-hook fires for a refused call too, so it is counted with its error status
    model_calls = [dict(labels) for name, labels in found if name == "agent_sdk_model_calls_total"]
    assert model_calls
    assert all(labels.get("status") != "ok" for labels in model_calls)


def test_disabled_metrics_record_nothing(started: Callable[[str], App]) -> None:
    app = started(CALC + "\n[plugins.metrics]\nenabled = false\n")
    assert run(app).ok
    plugin = plugin_of(app)
    assert not plugin.enabled
    assert plugin.registry is None
    assert plugin.render() == b""
    with pytest.raises(PluginError, match="disabled"):
        plugin.serve()


def test_invalid_setting_is_a_config_error() -> None:
    pm = get_plugin_manager(load_entrypoints=False, env={})
    with pytest.raises(ConfigError, match=r"plugins\.metrics"):
        build_app(pm, "[plugins.metrics]\nport = 70000\n")


def test_missing_prometheus_client_is_an_error_only_when_asked_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import agent_sdk.observability.metrics as metrics_module

    monkeypatch.setattr(metrics_module, "_prometheus_installed", lambda: False)
    pm = get_plugin_manager(load_entrypoints=False, env={})
    app = build_app(pm, "")  # on by default, but optional: quietly off
    assert not plugin_of(app).enabled
    pm = get_plugin_manager(load_entrypoints=False, env={})
    with pytest.raises(ConfigError) as info:
        build_app(pm, "[plugins.metrics]\nport = 9464\n")
    assert info.value.issues[0].hint is not None
    assert "pip install 'agent-sdk[metrics]'" in info.value.issues[0].hint


def test_builtin_is_one_instance_per_plugin_manager() -> None:
    first = get_plugin_manager(load_entrypoints=False, env={})
    second = get_plugin_manager(load_entrypoints=False, env={})
    assert isinstance(first.get_plugin("metrics"), MetricsPlugin)
    assert first.get_plugin("metrics") is not second.get_plugin("metrics")


def test_loading_the_plugin_does_not_import_prometheus_client() -> None:
    script = textwrap.dedent(
        """
        import sys
        from agent_sdk.app import App
        from agent_sdk.config import load_config
        from agent_sdk.plugins import get_plugin_manager

        pm = get_plugin_manager(load_entrypoints=False, env={})
        app = App(load_config(text="", env={}, pm=pm), pm, {})
        print("prometheus_client" in sys.modules)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
