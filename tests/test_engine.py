"""The workflow engine: scheduling, limits, failure handling, cancellation, resume."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest

from agent_sdk import hookimpl
from agent_sdk.app import App
from agent_sdk.config import Config
from agent_sdk.errors import (
    ConfigError,
    ToolError,
    UnknownComponentError,
    WorkflowError,
    WorkflowValidationError,
)
from agent_sdk.kinds.agent import Agent, AgentContext, AgentResult
from agent_sdk.kinds.tool import ToolContext, tool
from agent_sdk.messages import Message
from agent_sdk.plugins import AgentSDKPluginManager
from agent_sdk.runtime.engine import Engine
from agent_sdk.runtime.loop import render_input, run_tool_loop
from agent_sdk.runtime.workflow import WorkflowDef
from agent_sdk.testing.memory import MemoryStorage

TIMELINE: list[tuple[str, str, float]] = []
FLAKY: dict[str, int] = {}
CALLS: list[str] = []


@tool(threaded=False)
async def sleep(label: str, seconds: float = 0.0) -> str:
    """Sleep, recording start and end."""
    TIMELINE.append(("start", label, time.perf_counter()))
    await asyncio.sleep(seconds)
    TIMELINE.append(("end", label, time.perf_counter()))
    CALLS.append(label)
    return label


@tool(threaded=False)
def flaky(key: str, failures: int, transient: bool = True) -> str:
    """Fail `failures` times, then succeed."""
    FLAKY[key] = FLAKY.get(key, 0) + 1
    if FLAKY[key] <= failures:
        error = ToolError(f"{key} failure {FLAKY[key]}")
        error.transient = transient
        raise error
    return f"{key} ok after {FLAKY[key]}"


@tool(threaded=False)
def add(a: int, b: int, ctx: ToolContext) -> int:
    """Add two integers."""
    CALLS.append(f"add:{ctx.call_id}")
    return a + b


class Loop(Agent):
    name = "loop"

    async def run(self, task_input: Any, ctx: AgentContext) -> AgentResult:
        return await run_tool_loop(ctx, [Message.user(render_input(task_input))])


@pytest.fixture(autouse=True)
def _reset() -> None:
    TIMELINE.clear()
    FLAKY.clear()
    CALLS.clear()


@pytest.fixture
def app_factory(
    plugin_manager: AgentSDKPluginManager,
    register_plugin: Callable[..., str],
    make_config: Callable[..., Config],
) -> Callable[[str], App]:
    register_plugin(
        agent_sdk_register_tools=lambda: [sleep, flaky, add],
        agent_sdk_register_agents=lambda: [Loop],
    )

    def make(toml: str) -> App:
        fast = """
[runtime.task_retry]
initial_s = 0.01
jitter_s = 0
[runtime.model_retry]
initial_s = 0.01
jitter_s = 0
"""
        return App(make_config(fast + toml), plugin_manager, {})

    return make


async def run(app: App, workflow: str = "w", storage: MemoryStorage | None = None) -> Any:
    storage = storage or MemoryStorage()
    async with Engine(app, storage) as engine:
        return await engine.run(workflow)


def span(label: str) -> tuple[float, float]:
    start = next(t for kind, name, t in TIMELINE if kind == "start" and name == label)
    end = next(t for kind, name, t in TIMELINE if kind == "end" and name == label)
    return start, end


async def test_task_starts_only_after_all_its_dependencies_succeeded(app_factory: Any) -> None:
    app = app_factory(
        """
[workflows.w]
[[workflows.w.tasks]]
id = "a"
tool = "sleep"
args = { label = "a", seconds = 0.02 }
[[workflows.w.tasks]]
id = "b"
tool = "sleep"
args = { label = "b", seconds = 0.1 }
depends_on = ["a"]
[[workflows.w.tasks]]
id = "c"
tool = "sleep"
args = { label = "c", seconds = 0.05 }
depends_on = ["a"]
[[workflows.w.tasks]]
id = "d"
tool = "sleep"
args = { label = "${tasks.b.output}+${tasks.c.output}" }
depends_on = ["b", "c"]
"""
    )
    result = await run(app)
    assert result.status == "succeeded"
    assert result.outputs["d"] == "b+c"
    a, b, c, d = span("a"), span("b"), span("c"), span("b+c")
    assert b[0] >= a[1]
    assert c[0] >= a[1]
    assert d[0] >= max(b[1], c[1])
    overlap = min(b[1], c[1]) - max(b[0], c[0])
    assert overlap > 0, "independent branches b and c should run at the same time"


def test_dependency_cycle_is_rejected_at_validation_naming_the_cycle(app_factory: Any) -> None:
    with pytest.raises(ConfigError) as info:
        app_factory(
            """
[workflows.w]
[[workflows.w.tasks]]
id = "a"
tool = "sleep"
args = { label = "a" }
depends_on = ["c"]
[[workflows.w.tasks]]
id = "b"
tool = "sleep"
args = { label = "b" }
depends_on = ["a"]
[[workflows.w.tasks]]
id = "c"
tool = "sleep"
args = { label = "c" }
depends_on = ["b"]
"""
        )
    assert "dependency cycle: a -> c -> b -> a" in str(info.value)


def test_unknown_dependency_and_reference_to_non_ancestor_are_rejected(app_factory: Any) -> None:
    with pytest.raises(ConfigError) as info:
        app_factory(
            """
[workflows.w]
[[workflows.w.tasks]]
id = "a"
tool = "sleep"
args = { label = "${tasks.b.output}" }
depends_on = ["nope"]
[[workflows.w.tasks]]
id = "b"
tool = "sleep"
args = { label = "b" }
"""
        )
    text = str(info.value)
    assert "workflows.w.tasks[0].depends_on" in text
    assert "unknown task 'nope'" in text


async def test_workflow_naming_an_unknown_tool_is_rejected_before_anything_is_stored(
    app_factory: Any,
) -> None:
    app = app_factory("")
    storage = MemoryStorage()
    workflow = WorkflowDef.from_mapping("py", {"tasks": [{"id": "x", "tool": "no_such_tool"}]})
    async with Engine(app, storage) as engine:
        with pytest.raises(UnknownComponentError, match="no tool named 'no_such_tool'"):
            await engine.run(workflow)
    assert await storage.list_runs() == []
    assert storage.writes == 0


def test_self_dependency_is_rejected() -> None:
    with pytest.raises(WorkflowValidationError, match="depends on itself"):
        WorkflowDef.from_mapping("bad", {"tasks": [{"id": "x", "tool": "t", "depends_on": ["x"]}]})


async def test_task_timeout_is_enforced_and_recorded(app_factory: Any) -> None:
    app = app_factory(
        """
[workflows.w]
[[workflows.w.tasks]]
id = "slow"
tool = "sleep"
args = { label = "slow", seconds = 5 }
timeout_s = 0.2
"""
    )
    started = time.perf_counter()
    result = await run(app)
    assert time.perf_counter() - started < 2
    assert result.status == "failed"
    assert result.tasks["slow"].status == "failed"
    assert result.tasks["slow"].error["type"] == "TimeoutError"
    assert "timeout_s = 0.2" in result.tasks["slow"].error["message"]


async def test_workflow_timeout_fails_the_run_and_cancels_running_tasks(app_factory: Any) -> None:
    app = app_factory(
        """
[workflows.w]
timeout_s = 0.2
[[workflows.w.tasks]]
id = "slow"
tool = "sleep"
args = { label = "slow", seconds = 5 }
[[workflows.w.tasks]]
id = "after"
tool = "sleep"
args = { label = "after" }
depends_on = ["slow"]
"""
    )
    started = time.perf_counter()
    result = await run(app)
    assert time.perf_counter() - started < 2
    assert result.status == "failed"
    assert result.error["type"] == "TimeoutError"
    assert result.tasks["slow"].status == "cancelled"
    assert "after" not in CALLS


async def test_transient_failure_is_retried_and_permanent_is_not(app_factory: Any) -> None:
    app = app_factory(
        """
[workflows.w]
failure_policy = "continue"
[[workflows.w.tasks]]
id = "transient"
tool = "flaky"
args = { key = "t", failures = 2 }
retries = 2
[[workflows.w.tasks]]
id = "permanent"
tool = "flaky"
args = { key = "p", failures = 5, transient = false }
retries = 3
"""
    )
    result = await run(app)
    assert result.tasks["transient"].status == "succeeded"
    assert result.tasks["transient"].attempt == 3
    assert result.outputs["transient"] == "t ok after 3"
    assert result.tasks["permanent"].status == "failed"
    assert FLAKY["p"] == 1, "a non-transient failure must not be retried"


async def test_transient_failure_gives_up_after_its_retries(app_factory: Any) -> None:
    app = app_factory(
        """
[workflows.w]
[[workflows.w.tasks]]
id = "t"
tool = "flaky"
args = { key = "t", failures = 10 }
retries = 2
"""
    )
    result = await run(app)
    assert result.status == "failed"
    assert FLAKY["t"] == 3


async def test_model_transient_errors_are_retried_and_provider_errors_are_not(
    app_factory: Any,
) -> None:
    app = app_factory(
        """
[models.default]
provider = "scripted"
responses = [
  { error = { type = "transient", message = "503" } },
  { error = { type = "rate_limit", message = "429", retry_after = 0.05 } },
  { content = "recovered" },
  { error = { type = "provider", message = "bad request" } },
]
[agents.a]
type = "loop"
[workflows.w]
failure_policy = "continue"
[[workflows.w.tasks]]
id = "ok"
agent = "a"
input = "hi"
[[workflows.w.tasks]]
id = "bad"
agent = "a"
input = "hi"
depends_on = ["ok"]
"""
    )
    started = time.perf_counter()
    result = await run(app)
    assert result.tasks["ok"].status == "succeeded"
    assert result.outputs["ok"] == "recovered"
    assert time.perf_counter() - started >= 0.05, "Retry-After must be honoured"
    assert result.tasks["bad"].status == "failed"
    assert result.tasks["bad"].error["type"] == "ModelProviderError"


async def test_fail_fast_cancels_running_siblings_and_skips_the_rest(app_factory: Any) -> None:
    app = app_factory(
        """
[workflows.w]
[[workflows.w.tasks]]
id = "boom"
tool = "flaky"
args = { key = "b", failures = 1, transient = false }
[[workflows.w.tasks]]
id = "long"
tool = "sleep"
args = { label = "long", seconds = 5 }
[[workflows.w.tasks]]
id = "after"
tool = "sleep"
args = { label = "after" }
depends_on = ["long"]
"""
    )
    started = time.perf_counter()
    result = await run(app)
    assert time.perf_counter() - started < 2
    assert result.status == "failed"
    assert result.tasks["long"].status == "cancelled"
    assert result.tasks["after"].status == "cancelled"
    assert "boom" in result.error["message"]


async def test_continue_policy_finishes_independent_branches_and_skips_dependents(
    app_factory: Any,
) -> None:
    app = app_factory(
        """
[workflows.w]
failure_policy = "continue"
[[workflows.w.tasks]]
id = "boom"
tool = "flaky"
args = { key = "b", failures = 1, transient = false }
[[workflows.w.tasks]]
id = "child"
tool = "sleep"
args = { label = "child" }
depends_on = ["boom"]
[[workflows.w.tasks]]
id = "other"
tool = "sleep"
args = { label = "other", seconds = 0.05 }
"""
    )
    result = await run(app)
    assert result.status == "failed"
    assert result.tasks["other"].status == "succeeded"
    assert result.tasks["child"].status == "skipped"
    assert "child" not in CALLS


async def test_priority_orders_ready_tasks_and_concurrency_is_respected(app_factory: Any) -> None:
    app = app_factory(
        """
[workflows.w]
concurrency = 1
[[workflows.w.tasks]]
id = "low"
tool = "sleep"
args = { label = "low", seconds = 0.01 }
priority = 1
[[workflows.w.tasks]]
id = "high"
tool = "sleep"
args = { label = "high", seconds = 0.01 }
priority = 10
[[workflows.w.tasks]]
id = "mid"
tool = "sleep"
args = { label = "mid", seconds = 0.01 }
priority = 5
"""
    )
    result = await run(app)
    assert result.ok
    assert CALLS == ["high", "mid", "low"]


async def test_no_more_than_concurrency_tasks_run_at_once(app_factory: Any) -> None:
    tasks = "\n".join(
        f"""
[[workflows.w.tasks]]
id = "t{i}"
tool = "sleep"
args = {{ label = "t{i}", seconds = 0.03 }}"""
        for i in range(6)
    )
    app = app_factory(f"[workflows.w]\nconcurrency = 2\n{tasks}")
    result = await run(app)
    assert result.ok
    running = peak = 0
    for kind, _, _ in sorted(TIMELINE, key=lambda e: (e[2], e[0] == "start")):
        running += 1 if kind == "start" else -1
        peak = max(peak, running)
    assert peak == 2


async def test_cancel_through_storage_stops_the_run_and_resume_finishes_it(
    app_factory: Any,
) -> None:
    app = app_factory(
        """
[runtime]
cancel_poll_s = 0.05
[workflows.w]
[[workflows.w.tasks]]
id = "first"
tool = "sleep"
args = { label = "first" }
[[workflows.w.tasks]]
id = "slow"
tool = "sleep"
args = { label = "slow", seconds = 0.6 }
depends_on = ["first"]
"""
    )
    storage = MemoryStorage()
    async with Engine(app, storage) as engine:
        running = asyncio.create_task(engine.run("w", run_id="run_cancel_me"))
        while not any(e[1] == "slow" for e in TIMELINE):
            await asyncio.sleep(0.01)
        assert await Engine(app, storage).cancel("run_cancel_me")
        result = await running
        assert result.status == "cancelled"
        assert result.tasks["slow"].status == "cancelled"
        assert (await storage.get_run("run_cancel_me")).status == "cancelled"
        resumed = await engine.resume("run_cancel_me")
    assert resumed.status == "succeeded"
    assert CALLS.count("first") == 1, "a succeeded task is not run again on resume"


async def test_caller_cancellation_is_recorded_and_resume_replays_completed_tool_calls(
    app_factory: Any,
) -> None:
    app = app_factory(
        """
[models.default]
provider = "scripted"
responses = [
  { tool_calls = [ { id = "c1", name = "add", arguments = { a = 1, b = 2 } } ] },
  { tool_calls = [ { id = "c2", name = "sleep", arguments = { label = "wait", seconds = 5 } } ] },
  { content = "finished" },
]
[agents.a]
type = "loop"
[workflows.w]
[[workflows.w.tasks]]
id = "t"
agent = "a"
input = "go"
"""
    )
    storage = MemoryStorage()
    async with Engine(app, storage) as engine:
        running = asyncio.create_task(engine.run("w", run_id="run_ctrl_c"))
        while not any(e[1] == "wait" for e in TIMELINE):
            await asyncio.sleep(0.01)
        running.cancel()  # what Ctrl-C does to the CLI's main task
        with pytest.raises(asyncio.CancelledError):
            await running
    assert (await storage.get_run("run_ctrl_c")).status == "cancelled"
    assert CALLS == ["add:c1"]
    # the scripted model has one response left: resuming must replay the first two calls
    async with Engine(app, storage) as engine:
        model = engine.services.model("default")
        model._steps = model._steps[2:]  # type: ignore[attr-defined]
        model._index = 0  # type: ignore[attr-defined]
        resumed = await engine.resume("run_ctrl_c")
    assert resumed.status == "succeeded", resumed.error
    assert resumed.outputs["t"] == "finished"
    assert CALLS.count("add:c1") == 1, "a completed tool call ran again"
    assert resumed.replayed_steps >= 2


async def test_agent_limits_fail_the_task_with_a_budget_error(app_factory: Any) -> None:
    loop_forever = ", ".join(
        f'{{ tool_calls = [ {{ name = "add", arguments = {{ a = {i}, b = 1 }} }} ] }}'
        for i in range(5)
    )
    app = app_factory(
        f"""
[models.default]
provider = "scripted"
responses = [ {loop_forever} ]
[agents.a]
type = "loop"
max_turns = 3
[workflows.w]
[[workflows.w.tasks]]
id = "t"
agent = "a"
input = "go"
"""
    )
    result = await run(app)
    assert result.tasks["t"].status == "failed"
    assert result.tasks["t"].error["type"] == "BudgetExceededError"
    assert "max_turns = 3" in result.tasks["t"].error["message"]


async def test_token_budget_is_enforced(app_factory: Any) -> None:
    app = app_factory(
        """
[models.default]
provider = "scripted"
responses = [ { content = "a long answer", usage = { input_tokens = 80, output_tokens = 40 } } ]
[agents.a]
type = "loop"
token_budget = 100
[workflows.w]
[[workflows.w.tasks]]
id = "t"
agent = "a"
input = "go"
"""
    )
    result = await run(app)
    assert result.tasks["t"].error["type"] == "BudgetExceededError"
    assert "token budget 100" in result.tasks["t"].error["message"]


async def test_invalid_tool_arguments_go_back_to_the_model_which_can_correct(
    app_factory: Any,
) -> None:
    app = app_factory(
        """
[models.default]
provider = "scripted"
responses = [
  { tool_calls = [ { name = "add", arguments = { a = "one", b = 2 } } ] },
  { tool_calls = [ { name = "add", arguments = { a = 1, b = 2 } } ], expect = { last_role = "tool", last_message_contains = "invalid arguments" } },
  { content = "3" },
]
[agents.a]
type = "loop"
[workflows.w]
[[workflows.w.tasks]]
id = "t"
agent = "a"
input = "add"
"""
    )
    result = await run(app)
    assert result.ok, result.tasks["t"].error
    assert len([c for c in CALLS if c.startswith("add:")]) == 1


async def test_parallel_tool_calls_run_concurrently_and_results_keep_request_order(
    app_factory: Any,
) -> None:
    app = app_factory(
        """
[models.default]
provider = "scripted"
responses = [
  { tool_calls = [
      { name = "sleep", arguments = { label = "slow", seconds = 0.2 } },
      { name = "sleep", arguments = { label = "fast", seconds = 0.01 } },
  ] },
  { content = "both", expect = { last_message_contains = "fast" } },
]
[agents.a]
type = "loop"
[workflows.w]
[[workflows.w.tasks]]
id = "t"
agent = "a"
input = "go"
"""
    )
    storage = MemoryStorage()
    result = await run(app, storage=storage)
    assert result.ok
    slow, fast = span("slow"), span("fast")
    assert fast[0] < slow[1], "the two calls should overlap"
    steps = [s for s in await storage.get_steps(result.run_id) if s.type == "tool_result"]
    assert {s.data["data"] for s in steps} == {"slow", "fast"}


async def test_breaker_opens_after_transient_tool_failures_and_raises_an_alert(
    app_factory: Any,
) -> None:
    calls = ", ".join(
        '{ tool_calls = [ { name = "flaky", arguments = { key = "dep", failures = 99 } } ] }'
        for _ in range(3)
    )
    app = app_factory(
        f"""
[runtime.breaker]
failure_threshold = 2
recovery_timeout_s = 60
[models.default]
provider = "scripted"
responses = [ {calls}, {{ content = "gave up" }} ]
[agents.a]
type = "loop"
[workflows.w]
[[workflows.w.tasks]]
id = "t"
agent = "a"
input = "go"
"""
    )
    storage = MemoryStorage()
    async with Engine(app, storage) as engine:
        result = await engine.run("w")
        assert engine.services.breakers.get("tool:flaky").state == "open"
    assert result.ok
    assert FLAKY["dep"] == 2, "the third call must be rejected by the open breaker"
    tool_results = [
        s.data for s in await storage.get_steps(result.run_id) if s.type == "tool_result"
    ]
    assert tool_results[-1]["error"]["type"] == "CircuitOpenError"
    alerts = await storage.list_alerts()
    assert [a.rule for a in alerts] == ["circuit_opened"]
    events = [e.type for e in await storage.list_events(result.run_id)]
    assert "circuit_breaker_changed" in events


async def test_rate_limit_spaces_model_calls(app_factory: Any) -> None:
    app = app_factory(
        """
[runtime.rate_limits."model:default"]
rate = 1
per_s = 0.1
burst = 1
[models.default]
provider = "scripted"
responses = [ { content = "1" }, { content = "2" }, { content = "3" }, { content = "4" } ]
[agents.a]
type = "loop"
[workflows.w]
[[workflows.w.tasks]]
id = "a"
agent = "a"
input = "x"
[[workflows.w.tasks]]
id = "b"
agent = "a"
input = "x"
[[workflows.w.tasks]]
id = "c"
agent = "a"
input = "x"
[[workflows.w.tasks]]
id = "d"
agent = "a"
input = "x"
"""
    )
    started = time.perf_counter()
    result = await run(app)
    assert result.ok
    assert time.perf_counter() - started >= 0.25


async def test_run_failure_raises_a_stored_alert_and_a_persisted_timeline(
    app_factory: Any,
) -> None:
    app = app_factory(
        """
[workflows.w]
[[workflows.w.tasks]]
id = "boom"
tool = "flaky"
args = { key = "b", failures = 1, transient = false }
"""
    )
    storage = MemoryStorage()
    result = await run(app, storage=storage)
    assert result.status == "failed"
    assert [a.rule for a in await storage.list_alerts()] == ["run_failed"]
    events = [e.type for e in await storage.list_events(result.run_id)]
    assert events[0] == "run_started"
    assert "task_failed" in events
    assert events[-1] == "run_finished"


async def test_hooks_fire_around_run_task_model_and_tool_calls(
    app_factory: Any, register_plugin: Callable[..., str]
) -> None:
    seen: list[str] = []

    class Recorder:
        @hookimpl
        def agent_sdk_before_run(self, run: Any) -> None:
            seen.append("before_run")

        @hookimpl
        def agent_sdk_after_run(self, run: Any, outcome: Any) -> None:
            seen.append(f"after_run:{outcome.status}")

        @hookimpl
        def agent_sdk_before_task(self, task: Any) -> None:
            seen.append(f"before_task:{task.task_id}")

        @hookimpl
        def agent_sdk_after_task(self, task: Any, outcome: Any) -> None:
            seen.append(f"after_task:{task.task_id}:{outcome.status}")

        @hookimpl
        def agent_sdk_before_model_call(self, call: Any) -> None:
            seen.append(f"before_model:{call.index}")

        @hookimpl
        def agent_sdk_after_model_call(self, call: Any, response: Any, error: Any) -> None:
            seen.append(f"after_model:{call.index}")

        @hookimpl
        def agent_sdk_before_tool_call(self, call: Any) -> None:
            seen.append(f"before_tool:{call.call.name}")

        @hookimpl
        def agent_sdk_after_tool_call(self, call: Any, result: Any) -> None:
            seen.append(f"after_tool:{call.call.name}:{result.ok}")

    register_plugin(Recorder(), name="recorder")
    app = app_factory(
        """
[models.default]
provider = "scripted"
responses = [
  { tool_calls = [ { name = "add", arguments = { a = 1, b = 2 } } ] },
  { content = "3" },
]
[agents.a]
type = "loop"
[workflows.w]
[[workflows.w.tasks]]
id = "t"
agent = "a"
input = "go"
"""
    )
    assert (await run(app)).ok
    assert seen == [
        "before_run",
        "before_task:t",
        "before_model:0",
        "after_model:0",
        "before_tool:add",
        "after_tool:add:True",
        "before_model:1",
        "after_model:1",
        "after_task:t:succeeded",
        "after_run:succeeded",
    ]


async def test_a_guardrail_hook_can_refuse_a_tool_call(
    app_factory: Any, register_plugin: Callable[..., str]
) -> None:
    class Guard:
        @hookimpl
        def agent_sdk_before_tool_call(self, call: Any) -> None:
            if call.call.name == "add":
                raise ToolError("add is not allowed here")

    register_plugin(Guard(), name="guard")
    app = app_factory(
        """
[models.default]
provider = "scripted"
responses = [
  { tool_calls = [ { name = "add", arguments = { a = 1, b = 2 } } ] },
  { content = "refused", expect = { last_message_contains = "not allowed" } },
]
[agents.a]
type = "loop"
[workflows.w]
[[workflows.w.tasks]]
id = "t"
agent = "a"
input = "go"
"""
    )
    result = await run(app)
    assert result.ok
    assert CALLS == []


async def test_unresolvable_reference_fails_the_task_with_a_clear_message(app_factory: Any) -> None:
    app = app_factory(
        """
[workflows.w]
[[workflows.w.tasks]]
id = "a"
tool = "sleep"
args = { label = "a" }
[[workflows.w.tasks]]
id = "b"
tool = "sleep"
args = { label = "${tasks.a.output.missing}" }
depends_on = ["a"]
"""
    )
    result = await run(app)
    assert result.tasks["b"].status == "failed"
    assert "cannot be resolved" in result.tasks["b"].error["message"]


async def test_workflow_workspace_comes_from_the_run_input_and_is_checked_first(
    app_factory: Any, tmp_path: Any, register_plugin: Callable[..., str]
) -> None:
    seen: list[Any] = []

    @tool(threaded=False)
    def where(ctx: ToolContext) -> str:
        """Report the workspace."""
        seen.append(ctx.workspace)
        return str(ctx.workspace)

    register_plugin(agent_sdk_register_tools=lambda: [where], name="where-plugin")
    app = app_factory(
        """
[workflows.w]
workspace = "${input.path}"
[[workflows.w.tasks]]
id = "t"
tool = "where"
"""
    )
    storage = MemoryStorage()
    async with Engine(app, storage) as engine:
        result = await engine.run("w", {"path": str(tmp_path)})
        assert result.outputs["t"] == str(tmp_path.resolve())
        with pytest.raises(WorkflowValidationError, match="is not a directory"):
            await engine.run("w", {"path": str(tmp_path / "missing")})
    assert len(await storage.list_runs()) == 1, "a rejected run must store nothing"


async def test_run_references_and_mounts_reach_tools(
    app_factory: Any, tmp_path: Any, register_plugin: Callable[..., str]
) -> None:
    seen: dict[str, Any] = {}

    @tool(threaded=False)
    def inspect_run(meta: dict[str, Any], ctx: ToolContext) -> str:
        """Record what the tool was given."""
        seen["meta"] = meta
        seen["mounts"] = ctx.services.get("mounts")
        return "ok"

    register_plugin(agent_sdk_register_tools=lambda: [inspect_run], name="inspect-plugin")
    app = app_factory(
        """
[workflows.w]
mounts = { "/project" = "${input.path}" }
[[workflows.w.tasks]]
id = "a"
tool = "sleep"
args = { label = "a" }
[[workflows.w.tasks]]
id = "b"
tool = "inspect_run"
args = { meta = "${run}" }
depends_on = ["a"]
"""
    )
    async with Engine(app, MemoryStorage()) as engine:
        result = await engine.run("w", {"path": str(tmp_path)})
        assert result.ok, result.error
        with pytest.raises(WorkflowValidationError, match="does not exist"):
            await engine.run("w", {"path": str(tmp_path / "nope")})
    meta = seen["meta"]
    assert meta["id"] == result.run_id
    assert meta["workflow"] == "w"
    assert meta["tasks"]["a"]["status"] == "succeeded"
    assert meta["tasks"]["a"]["duration_s"] >= 0
    assert meta["tool_calls"] == 1
    assert seen["mounts"] == {"/project": tmp_path.resolve()}


def test_an_unknown_alert_sink_is_a_config_error(app_factory: Any) -> None:
    with pytest.raises(ConfigError, match=r"alerts\.sinks\[0\].*no alert sink named 'pager'"):
        app_factory('[alerts]\nsinks = ["pager"]\n')


async def test_a_failing_alert_sink_never_breaks_the_run(
    app_factory: Any, register_plugin: Callable[..., str]
) -> None:
    from agent_sdk.kinds.alerts import Alert, AlertSink

    class Broken(AlertSink):
        name = "broken"

        async def send(self, alert: Alert) -> None:
            raise ToolError("receiver is down")

    register_plugin(agent_sdk_register_alert_sinks=lambda: [Broken], name="broken-sink")
    app = app_factory(
        """
[alerts]
sinks = ["broken"]
[workflows.w]
[[workflows.w.tasks]]
id = "boom"
tool = "flaky"
args = { key = "b", failures = 1, transient = false }
"""
    )
    storage = MemoryStorage()
    result = await run(app, storage=storage)
    assert result.status == "failed"
    [alert] = await storage.list_alerts()
    assert alert.rule == "run_failed"
    assert alert.data["deliveries"]["broken"].startswith("failed: receiver is down")


async def test_a_busy_engine_queues_runs_and_refuses_after_the_queue_timeout(
    app_factory: Any,
) -> None:
    app = app_factory(
        """
[runtime]
max_active_runs = 1
run_queue_timeout_s = 0.1
[workflows.w]
[[workflows.w.tasks]]
id = "slow"
tool = "sleep"
args = { label = "slow", seconds = 0.4 }
"""
    )
    storage = MemoryStorage()
    async with Engine(app, storage) as engine:
        first = asyncio.create_task(engine.run("w"))
        await asyncio.sleep(0.05)
        with pytest.raises(WorkflowError, match="the engine is busy"):
            await engine.run("w")
        assert (await first).ok
        assert len(await storage.list_runs()) == 1, "the refused run stored nothing"
        assert (await engine.run("w")).ok, "a slot is free again"


async def test_tool_cache_reuses_results_of_side_effect_free_tools_only(
    app_factory: Any, register_plugin: Callable[..., str]
) -> None:
    counts: dict[str, int] = {"pure": 0, "effect": 0}

    @tool(threaded=False, side_effects=False)
    def pure(x: int) -> int:
        """A pure function."""
        counts["pure"] += 1
        return x * 2

    @tool(threaded=False)
    def effect(x: int) -> int:
        """Has side effects."""
        counts["effect"] += 1
        return x

    register_plugin(agent_sdk_register_tools=lambda: [pure, effect], name="cache-tools")
    tasks = "\n".join(
        f'[[workflows.w.tasks]]\nid = "{name}{i}"\ntool = "{name}"\nargs = {{ x = 3 }}\n'
        + (f'depends_on = ["{name}{i - 1}"]\n' if i else "")
        for name in ("pure", "effect")
        for i in range(3)
    )
    app = app_factory(f"[runtime.tool_cache]\nenabled = true\n[workflows.w]\n{tasks}")
    result = await run(app)
    assert result.ok
    assert [result.outputs[f"pure{i}"] for i in range(3)] == [6, 6, 6]
    assert counts == {"pure": 1, "effect": 3}


async def test_model_cache_answers_a_repeated_request_without_calling_the_model(
    app_factory: Any,
) -> None:
    app = app_factory(
        """
[runtime.model_cache]
enabled = true
[models.default]
provider = "scripted"
responses = [ { content = "only one answer is scripted" } ]
[agents.a]
type = "loop"
[workflows.w]
[[workflows.w.tasks]]
id = "first"
agent = "a"
input = "same question"
[[workflows.w.tasks]]
id = "second"
agent = "a"
input = "same question"
depends_on = ["first"]
"""
    )
    storage = MemoryStorage()
    result = await run(app, storage=storage)
    assert result.ok, result.error
    assert result.outputs == {
        "first": "only one answer is scripted",
        "second": "only one answer is scripted",
    }
    steps = [s for s in await storage.get_steps(result.run_id) if s.type == "model_response"]
    assert len(steps) == 2, "a cached answer is still journaled for its task"
