"""Fixtures of the agents plugin's tests: fake ``python_exec``/``web_search``/``http_fetch`` tools
and an app factory that runs the agents through the real engine with a scripted model.

The fake tools stand in for the ``agent-sdk-tools`` plugin (never imported here): they are
registered under the same names, so the agents are exercised exactly as configured in
production, through ``ctx.call_tools`` and the journal.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from agent_sdk_agents import hooks
from pydantic import BaseModel, ConfigDict

from agent_sdk.app import App
from agent_sdk.config import Config
from agent_sdk.errors import ToolError
from agent_sdk.kinds.tool import Tool, ToolContext
from agent_sdk.plugins import AgentSDKPluginManager
from agent_sdk.runtime.engine import Engine, RunResult
from agent_sdk.testing.memory import MemoryStorage


class World:
    """What the fake tools see and record (reset for every test)."""

    def __init__(self) -> None:
        self.executed: list[str] = []
        self.searches: list[dict[str, Any]] = []
        self.fetched: list[str] = []
        self.offline = False
        self.hang = False
        self.hanging = asyncio.Event()
        self.results: list[dict[str, str]] = [
            {"title": "Alpha", "url": "https://a.example/alpha", "snippet": "alpha snippet"},
            {"title": "Beta", "url": "https://b.example/beta", "snippet": "beta snippet"},
            {"title": "Gamma", "url": "https://c.example/gamma", "snippet": "gamma snippet"},
        ]
        self.pages: dict[str, str] = {
            "https://a.example/alpha": "Alpha page: the answer is 42.",
            "https://c.example/gamma": "Gamma page: corroborates 42.",
        }


WORLD = World()


class _Code(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str


class _Query(BaseModel):
    model_config = ConfigDict(extra="forbid")
    query: str
    max_results: int = 5


class _Url(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str


class FakePythonExec(Tool):
    """Pretends to run Python: ``1/0`` in the code fails, ``HANG`` blocks while ``hang`` is set."""

    name = "python_exec"
    description = "Run Python code in the sandbox."
    Arguments = _Code

    async def run(self, args: Any, ctx: ToolContext) -> Any:
        WORLD.executed.append(args.code)
        if "HANG" in args.code and WORLD.hang:
            WORLD.hanging.set()
            await asyncio.sleep(30)
        if "1/0" in args.code:
            return {
                "exit_code": 1,
                "stdout": "",
                "stderr": "Traceback (most recent call last):\nZeroDivisionError: division by zero",
                "timed_out": False,
            }
        return {"exit_code": 0, "stdout": "42\n", "stderr": "", "timed_out": False}


class FakeWebSearch(Tool):
    """Returns ``WORLD.results``; fails like a machine without network when ``offline``."""

    name = "web_search"
    description = "Search the web."
    side_effects = False
    Arguments = _Query

    async def run(self, args: Any, ctx: ToolContext) -> Any:
        WORLD.searches.append(args.model_dump())
        if WORLD.offline:
            error = ToolError(
                "cannot reach the search service: [Errno -3] Temporary failure in name resolution"
            )
            error.transient = True
            raise error
        return {"query": args.query, "results": WORLD.results[: args.max_results]}


class FakeHttpFetch(Tool):
    """Returns ``WORLD.pages[url]``; an unknown URL is an HTTP 404 error."""

    name = "http_fetch"
    description = "Fetch a web page."
    side_effects = False
    Arguments = _Url

    async def run(self, args: Any, ctx: ToolContext) -> Any:
        WORLD.fetched.append(args.url)
        if args.url not in WORLD.pages:
            raise ToolError(f"GET {args.url}: HTTP 404 Not Found")
        return {"url": args.url, "status": 200, "text": WORLD.pages[args.url]}


@pytest.fixture(autouse=True)
def world() -> World:
    """A fresh :class:`World` for each test."""
    WORLD.__init__()  # type: ignore[misc]
    return WORLD


@pytest.fixture
def app_factory(
    plugin_manager: AgentSDKPluginManager,
    register_plugin: Callable[..., str],
    make_config: Callable[..., Config],
) -> Callable[[str], App]:
    """``app_factory(toml) -> App`` with this plugin (as ``agents``) and the fake tools."""
    register_plugin(hooks, name="agents")
    register_plugin(
        name="fake-tools",
        agent_sdk_register_tools=lambda: [FakePythonExec, FakeWebSearch, FakeHttpFetch],
    )

    def make(toml: str) -> App:
        return App(make_config(toml), plugin_manager, {})

    return make


def workflow(agent: str, task_input: str = "go") -> str:
    """TOML of workflow ``w``: one task ``t`` running *agent* on *task_input*."""
    return f"""
[workflows.w]
[[workflows.w.tasks]]
id = "t"
agent = "{agent}"
input = "{task_input}"
"""


async def run_workflow(app: App, storage: MemoryStorage | None = None) -> RunResult:
    """Run workflow ``w`` to its end on *storage* (default: a fresh in-memory store)."""
    async with Engine(app, storage or MemoryStorage()) as engine:
        return await engine.run("w")


@pytest.fixture
def run() -> Callable[..., Any]:
    """``await run(app, storage=None) -> RunResult`` (workflow ``w``)."""
    return run_workflow


@pytest.fixture
def wf() -> Callable[..., str]:
    """``wf(agent, task_input="go") -> TOML`` of a one-task workflow ``w``."""
    return workflow
