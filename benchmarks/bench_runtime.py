"""Runtime overhead with every step durable: agent runs, sequential workflows, task throughput.

Run: ``python benchmarks/bench_runtime.py [--runs N] [--storage sqlite|memory]``. Prints numbers,
asserts nothing (house style 21). No LLM: a deterministic in-process model answers instantly,
so what is measured is agent-sdk's own cost (engine, journal, hooks, storage).

* **agent run**: one workflow run of one agent task making 2 model calls and 1 tool call;
  every model response, tool call and tool result journaled before the next step, plus the
  run/task records and the event timeline. Target: <= 0.5 ms per run.
* **20-task sequential workflow**: 20 tool tasks, each depending on the previous one.
* **durable task throughput**: one workflow of N independent tool tasks (concurrency 64):
  tasks/s with each task's state and result durable. Target: >= 5,000 tasks/s.

For comparison (measured on this machine, per the project's issue): simonw/llm with SQLite
logging 4.7 ms per call, LangGraph with a checkpointer 4.0 ms, pydantic-ai 4-5 ms without
durability.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from agent_sdk.app import App
from agent_sdk.config import load_config
from agent_sdk.kinds.agent import Agent, AgentContext, AgentResult
from agent_sdk.kinds.model import ModelProvider
from agent_sdk.kinds.storage import StorageBackend
from agent_sdk.kinds.tool import tool
from agent_sdk.messages import Message, ModelRequest, ModelResponse, ToolCall, Usage
from agent_sdk.plugins import get_plugin_manager, module_plugin
from agent_sdk.runtime.engine import Engine
from agent_sdk.runtime.loop import render_input, run_tool_loop
from agent_sdk.runtime.workflow import WorkflowDef
from agent_sdk.testing.memory import MemoryStorage

BENCH_ENV: dict[str, str] = {}


class InstantModel(ModelProvider):
    """First call asks for the tool; after a tool result, answers."""

    name = "instant"

    async def complete(self, request: ModelRequest) -> ModelResponse:
        if request.messages[-1].role == "tool":
            message = Message.assistant("the sum is 3")
        else:
            message = Message.assistant(
                tool_calls=(ToolCall(id="call_1", name="add", arguments={"a": 1, "b": 2}),)
            )
        return ModelResponse(message=message, usage=Usage(input_tokens=20, output_tokens=5))


@tool(threaded=False, side_effects=False)
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


class Loop(Agent):
    name = "loop"

    async def run(self, task_input: Any, ctx: AgentContext) -> AgentResult:
        return await run_tool_loop(ctx, [Message.user(render_input(task_input))])


def make_app(tmp: Path, mode: str) -> App:
    pm = get_plugin_manager(load_entrypoints=False, env=BENCH_ENV)
    pm.register(
        module_plugin(
            "bench",
            agent_sdk_register_model_providers=lambda: [InstantModel],
            agent_sdk_register_tools=lambda: [add],
            agent_sdk_register_agents=lambda: [Loop],
        )
    )
    try:
        from agent_sdk_sqlite import hooks as sqlite_hooks

        pm.register(sqlite_hooks, name="sqlite")
    except ImportError:
        pass
    text = f"""
[plugins.sqlite]
path = "{tmp / "bench.db"}"
mode = "{mode if mode != "-" else "thread"}"
[models.default]
provider = "instant"
[agents.calc]
type = "loop"
tools = ["add"]
[runtime]
cancel_poll_s = 60
"""
    if "sqlite" not in pm.records:
        text = text.split("[models.default]", 1)[1]
        text = "[models.default]" + text
    return App(load_config(text=text, env={}, pm=pm), pm, {})


async def open_storage(app: App, kind: str) -> StorageBackend:
    if kind == "memory":
        return MemoryStorage()
    storage = app.create("storage", "sqlite")
    assert isinstance(storage, StorageBackend)
    await storage.open()
    return storage


def agent_workflow() -> WorkflowDef:
    return WorkflowDef.from_mapping(
        "agent", {"tasks": [{"id": "t", "agent": "calc", "input": "1+2"}]}
    )


def chain_workflow(n: int) -> WorkflowDef:
    tasks = [{"id": "t0", "tool": "add", "args": {"a": 0, "b": 1}}]
    for i in range(1, n):
        tasks.append(
            {
                "id": f"t{i}",
                "tool": "add",
                "args": {"a": f"${{tasks.t{i - 1}.output}}", "b": 1},
                "depends_on": [f"t{i - 1}"],
            }
        )
    return WorkflowDef.from_mapping("chain", {"tasks": tasks})


def fan_workflow(n: int) -> WorkflowDef:
    tasks = [{"id": f"t{i}", "tool": "add", "args": {"a": i, "b": 1}} for i in range(n)]
    return WorkflowDef.from_mapping("fan", {"tasks": tasks, "concurrency": 64})


async def measure(kind: str, mode: str, runs: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        app = make_app(Path(tmp), mode)
        storage = await open_storage(app, kind)
        try:
            async with Engine(app, storage) as engine:
                agent, chain, fan = agent_workflow(), chain_workflow(20), fan_workflow(2000)
                for _ in range(20):  # warm up: imports, instances, statement caches
                    await engine.run(agent)
                times = []
                for _ in range(runs):
                    started = time.perf_counter()
                    result = await engine.run(agent)
                    times.append(time.perf_counter() - started)
                    assert result.ok, result.error
                chain_times = []
                for _ in range(max(runs // 20, 5)):
                    started = time.perf_counter()
                    result = await engine.run(chain)
                    chain_times.append(time.perf_counter() - started)
                    assert result.ok, result.error
                    assert result.outputs["t19"] == 20
                started = time.perf_counter()
                result = await engine.run(fan)
                fan_s = time.perf_counter() - started
                assert result.ok, result.error
        finally:
            await storage.close()
    return {
        "agent_run_ms_median": statistics.median(times) * 1000,
        "agent_run_ms_p90": sorted(times)[int(len(times) * 0.9)] * 1000,
        "chain20_ms_median": statistics.median(chain_times) * 1000,
        "chain20_tasks_per_s": 20 / statistics.median(chain_times),
        "fan2000_tasks_per_s": 2000 / fan_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=300)
    args = parser.parse_args()
    configs = [("memory", "-")]
    try:
        import agent_sdk_sqlite  # noqa: F401

        configs += [("sqlite", "thread"), ("sqlite", "inline")]
    except ImportError:
        print("agent-sdk-sqlite not installed: measuring the in-memory store only")
    print(
        f"{'storage':<16} {'agent run ms':>13} {'p90':>7} {'chain20 ms':>11} "
        f"{'chain tasks/s':>14} {'fan tasks/s':>12}"
    )
    for kind, mode in configs:
        r = asyncio.run(measure(kind, mode, args.runs))
        label = kind if mode == "-" else f"{kind}/{mode}"
        print(
            f"{label:<16} {r['agent_run_ms_median']:>13.3f} {r['agent_run_ms_p90']:>7.3f} "
            f"{r['chain20_ms_median']:>11.2f} {r['chain20_tasks_per_s']:>14.0f} "
            f"{r['fan2000_tasks_per_s']:>12.0f}"
        )
    print("targets: agent run <= 0.5 ms durable; >= 5,000 durable tasks/s")


if __name__ == "__main__":
    main()
