"""Durability: a run killed with SIGKILL at any point resumes and completes, and no tool call
whose result was journaled is ever executed again.

These tests drive the real CLI in a subprocess against the real SQLite plugin, kill it with
``kill -9`` while a tool is running, and resume it with ``agent-sdk resume``.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import pytest

pytest.importorskip("agent_sdk_sqlite", reason="needs the agent-sdk-sqlite plugin installed")

PLUGIN = '''
import os, time
from pathlib import Path
from agent_sdk import hookimpl
from agent_sdk.kinds.agent import Agent
from agent_sdk.kinds.tool import ToolContext, tool
from agent_sdk.messages import Message
from agent_sdk.runtime.loop import render_input, run_tool_loop

LOG = Path(os.environ["SIDE_EFFECT_LOG"])

@tool
def effect(n: int, ctx: ToolContext) -> int:
    """A tool with an external side effect: appends a line per execution."""
    with LOG.open("a") as fh:
        fh.write(f"{ctx.task_id} {ctx.call_id} {n}\\n")
        fh.flush()
        os.fsync(fh.fileno())
    time.sleep(float(os.environ.get("EFFECT_SLEEP_S", "0.4")))
    return n * 10

class Worker(Agent):
    name = "worker"

    async def run(self, task_input, ctx):
        return await run_tool_loop(ctx, [Message.user(render_input(task_input))])

@hookimpl
def agent_sdk_register_tools():
    return [effect]

@hookimpl
def agent_sdk_register_agents():
    return [Worker]
'''


def config(db: Path) -> str:
    calls = ",\n".join(
        f'{{ tool_calls = [ {{ id = "c{i}", name = "effect", arguments = {{ n = {i} }} }} ] }}'
        for i in range(1, 5)
    )
    return textwrap.dedent(
        f"""
        [plugins.sqlite]
        path = "{db}"
        [runtime]
        cancel_poll_s = 0.2
        [models.default]
        provider = "scripted"
        responses = [
        {calls},
        {{ content = "four effects done" }},
        ]
        [agents.worker]
        type = "worker"
        tools = ["effect"]
        [workflows.durable]
        [[workflows.durable.tasks]]
        id = "work"
        agent = "worker"
        input = "call effect four times"
        [[workflows.durable.tasks]]
        id = "after"
        tool = "effect"
        args = {{ n = 99 }}
        depends_on = ["work"]
        """
    )


@pytest.fixture
def project(tmp_path: Path) -> dict[str, Path]:
    (tmp_path / "durable_plugin.py").write_text(PLUGIN)
    db = tmp_path / "runs.db"
    cfg = tmp_path / "agent-sdk.toml"
    cfg.write_text(config(db))
    return {"dir": tmp_path, "db": db, "config": cfg, "log": tmp_path / "effects.log"}


def cli(project: dict[str, Path], *args: str, **kwargs: object) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "SIDE_EFFECT_LOG": str(project["log"]),
        "AGENT_SDK_LOAD_PLUGINS": "sqlite",
        "PYTHONPATH": str(project["dir"]),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "agent_sdk.cli", "-p", "durable_plugin", *args],
        cwd=project["dir"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,  # type: ignore[arg-type]
    )


def lines(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def wait_for(predicate: object, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.02)
    raise AssertionError("condition not reached in time")


def journaled_results(db: Path) -> set[str]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT key FROM steps WHERE type = 'tool_result'").fetchall()
    return {row[0] for row in rows}


@pytest.mark.slow
@pytest.mark.parametrize("kill_after_effects", [1, 3])
def test_sigkill_mid_tool_call_then_resume_executes_no_completed_tool_call_twice(
    project: dict[str, Path], kill_after_effects: int
) -> None:
    proc = cli(project, "run", "durable", "--quiet")
    try:
        wait_for(lambda: len(lines(project["log"])) >= kill_after_effects)
        os.kill(proc.pid, signal.SIGKILL)  # while the tool sleeps: its result is not journaled
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL

    done_before_kill = journaled_results(project["db"])
    executed_before = Counter(lines(project["log"]))
    with sqlite3.connect(project["db"]) as conn:
        (run_id,) = conn.execute("SELECT id FROM runs").fetchone()

    resumed = cli(project, "resume", run_id, "--force", "--json")
    out, err = resumed.communicate(timeout=60)
    assert resumed.returncode == 0, err
    result = json.loads(out)
    assert result["status"] == "succeeded"
    assert result["outputs"] == {"work": "four effects done", "after": 990}
    assert result["replayed_steps"] >= len(done_before_kill)

    executed = Counter(lines(project["log"]))
    # every effect ran, and the whole run recorded each call's result exactly once
    assert {line.split()[2] for line in executed} == {"1", "2", "3", "4", "99"}
    # a call whose result was journaled before the kill never ran again
    for key in done_before_kill:
        call_id = key.rsplit(":", 1)[-1]
        matching = [line for line in executed if line.split()[1] == call_id]
        assert matching, (key, executed)
        assert all(executed[m] == 1 for m in matching), (key, executed)
    # only the call that was in flight at the kill may have run twice (same idempotency key)
    repeated = [line for line, count in executed.items() if count > 1]
    assert len(repeated) <= 1
    for line in repeated:
        assert executed_before[line] == 1


@pytest.mark.slow
def test_resume_refuses_a_run_whose_process_is_alive(project: dict[str, Path]) -> None:
    env_sleep = {**os.environ, "EFFECT_SLEEP_S": "5"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "agent_sdk.cli", "-p", "durable_plugin", "run", "durable", "-q"],
        cwd=project["dir"],
        env={
            **env_sleep,
            "SIDE_EFFECT_LOG": str(project["log"]),
            "AGENT_SDK_LOAD_PLUGINS": "sqlite",
            "PYTHONPATH": str(project["dir"]),
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: len(lines(project["log"])) >= 1)
        with sqlite3.connect(project["db"]) as conn:
            (run_id,) = conn.execute("SELECT id FROM runs").fetchone()
        second = cli(project, "resume", run_id)
        _, err = second.communicate(timeout=30)
        assert second.returncode == 1
        assert "looks alive" in err
        cancel = cli(project, "cancel", run_id)
        _, err = cancel.communicate(timeout=30)
        assert cancel.returncode == 0, err
        proc.wait(timeout=15)  # the running process notices the cancel and stops
        assert proc.returncode == 1
    finally:
        if proc.poll() is None:
            proc.kill()
    with sqlite3.connect(project["db"]) as conn:
        (status,) = conn.execute("SELECT status FROM runs WHERE id = ?", (run_id,)).fetchone()
    assert status == "cancelled"


@pytest.mark.slow
def test_ctrl_c_records_the_run_cancelled_and_resume_finishes_it(
    project: dict[str, Path],
) -> None:
    env = {
        **os.environ,
        "SIDE_EFFECT_LOG": str(project["log"]),
        "AGENT_SDK_LOAD_PLUGINS": "sqlite",
        "PYTHONPATH": str(project["dir"]),
        "EFFECT_SLEEP_S": "3",
    }
    # start with SIGINT at its default disposition, as a terminal's Ctrl-C finds it (a shell
    # that launches background jobs would otherwise pass SIGINT on as ignored)
    launcher = (
        "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
        "os.execv(sys.executable, [sys.executable, '-m', 'agent_sdk.cli', *sys.argv[1:]])"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", launcher, "-p", "durable_plugin", "run", "durable", "-q"],
        cwd=project["dir"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: len(lines(project["log"])) >= 2)  # second effect call is sleeping
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    with sqlite3.connect(project["db"]) as conn:
        (run_id, status) = conn.execute("SELECT id, status FROM runs").fetchone()
    assert status == "cancelled"
    assert f"agent-sdk resume {run_id}" in err

    env["EFFECT_SLEEP_S"] = "0"
    resumed = subprocess.run(
        [sys.executable, "-m", "agent_sdk.cli", "-p", "durable_plugin", "resume", run_id, "--json"],
        cwd=project["dir"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["status"] == "succeeded"
    executed = Counter(lines(project["log"]))
    first = [line for line in executed if line.split()[1] == "c1"]
    assert [executed[line] for line in first] == [1], "the completed first call ran again"
