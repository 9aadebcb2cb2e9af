"""``code-agent`` end to end: engine + MemoryStorage + scripted model + a fake ``python_exec``."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from agent_sdk_agents.code_agent import extract_code

from agent_sdk.runtime.engine import Engine
from agent_sdk.testing.memory import MemoryStorage

BROKEN = r"Let me compute it:\n```python\nprint(1/0)\n```"
FIXED = r"Fixed:\n```python\nprint(6 * 7)\n```"


def model(*responses: str) -> str:
    return (
        '[models.default]\nprovider = "scripted"\nresponses = [\n'
        + "\n".join(f"  {r}," for r in responses)
        + "\n]\n"
    )


async def test_a_failing_program_is_fixed_by_the_model_and_succeeds_on_attempt_two(
    app_factory: Any, run: Any, wf: Any, world: Any
) -> None:
    app = app_factory(
        model(
            f'{{ content = "{BROKEN}" }}',
            f'{{ content = "{FIXED}", expect = {{ last_role = "user", '
            f'last_message_contains = "ZeroDivisionError" }} }}',
        )
        + '[agents.coder]\ntype = "code-agent"\ntools = ["python_exec"]\n'
        + wf("coder", "print the answer")
    )
    result = await run(app)
    assert result.status == "succeeded", result.error
    output = result.outputs["t"]
    assert output == {
        "code": "print(6 * 7)\n",
        "stdout": "42\n",
        "stderr": "",
        "exit_code": 0,
        "attempts": 2,
        "succeeded": True,
    }
    assert world.executed == ["print(1/0)\n", "print(6 * 7)\n"]


async def test_the_failed_run_is_shown_to_the_model_with_exit_code_and_stderr(
    app_factory: Any, wf: Any
) -> None:
    app = app_factory(
        model(f'{{ content = "{BROKEN}" }}', f'{{ content = "{FIXED}" }}')
        + '[agents.coder]\ntype = "code-agent"\nsystem_prompt = "Be terse."\n'
        + wf("coder", "print the answer")
    )
    async with Engine(app, MemoryStorage()) as engine:
        await engine.run("w")
        first, second = engine.services.model("default").calls  # type: ignore[attr-defined]
    assert first.messages[0].content == "Be terse."
    assert "python_exec" in [spec.name for spec in first.tools]
    feedback = second.messages[-1].content
    assert "Attempt 1 of 3 failed: it exited with code 1" in feedback
    assert "ZeroDivisionError: division by zero" in feedback


async def test_code_agent_gives_up_after_max_attempts_with_succeeded_false(
    app_factory: Any, run: Any, wf: Any, world: Any
) -> None:
    app = app_factory(
        model(*[f'{{ content = "{BROKEN}" }}'] * 2)
        + '[agents.coder]\ntype = "code-agent"\nmax_attempts = 2\n'
        + wf("coder")
    )
    result = await run(app)
    assert result.status == "succeeded", result.error
    output = result.outputs["t"]
    assert output["succeeded"] is False
    assert output["attempts"] == 2
    assert output["exit_code"] == 1
    assert "ZeroDivisionError" in output["stderr"]
    assert len(world.executed) == 2


async def test_fail_on_give_up_fails_the_task(app_factory: Any, run: Any, wf: Any) -> None:
    app = app_factory(
        model(f'{{ content = "{BROKEN}" }}')
        + '[agents.coder]\ntype = "code-agent"\nmax_attempts = 1\nfail_on_give_up = true\n'
        + wf("coder")
    )
    result = await run(app)
    assert result.status == "failed"
    error = result.tasks["t"].error
    assert error["type"] == "ToolError"
    assert "no program succeeded in 1 attempt(s)" in error["message"]


async def test_code_sent_as_a_python_exec_tool_call_is_run_and_its_result_answered(
    app_factory: Any, run: Any, wf: Any, world: Any
) -> None:
    app = app_factory(
        model(
            '{ tool_calls = [ { id = "x1", name = "python_exec", arguments = { code = "1/0" } } ] }',
            '{ tool_calls = [ { id = "x2", name = "python_exec", arguments = { code = "print(42)" } } ], '
            'expect = { last_role = "user", last_message_contains = "exited with code 1" } }',
        )
        + '[agents.coder]\ntype = "code-agent"\n'
        + wf("coder")
    )
    result = await run(app)
    assert result.status == "succeeded", result.error
    assert result.outputs["t"]["code"] == "print(42)"
    assert result.outputs["t"]["attempts"] == 2
    assert result.outputs["t"]["succeeded"] is True
    assert world.executed == ["1/0", "print(42)"]


async def test_a_reply_without_a_program_counts_as_an_attempt_and_is_asked_again(
    app_factory: Any, run: Any, wf: Any
) -> None:
    app = app_factory(
        model(
            '{ content = "I would use Python for this." }',
            f'{{ content = "{FIXED}", expect = {{ last_message_contains = "held no program" }} }}',
        )
        + '[agents.coder]\ntype = "code-agent"\n'
        + wf("coder")
    )
    result = await run(app)
    assert result.outputs["t"]["succeeded"] is True
    assert result.outputs["t"]["attempts"] == 2


async def test_an_exec_tool_the_agent_may_not_use_fails_the_task_with_a_clear_error(
    app_factory: Any, run: Any, wf: Any
) -> None:
    app = app_factory(
        model(f'{{ content = "{FIXED}" }}')
        + '[agents.coder]\ntype = "code-agent"\ntools = ["web_search"]\n'
        + wf("coder")
    )
    result = await run(app)
    assert result.status == "failed"
    message = result.tasks["t"].error["message"]
    assert "tool 'python_exec' (setting 'exec_tool') is not available" in message


async def test_resume_after_cancellation_does_not_run_recorded_programs_again(
    app_factory: Any, world: Any
) -> None:
    app = app_factory(
        model(
            f'{{ content = "{BROKEN}" }}',
            r'{ content = "```python\n# HANG\nprint(42)\n```" }',
        )
        + '[agents.coder]\ntype = "code-agent"\n'
        + """
[workflows.w]
[[workflows.w.tasks]]
id = "t"
agent = "coder"
input = "go"
"""
    )
    storage = MemoryStorage()
    world.hang = True
    async with Engine(app, storage) as engine:
        running = asyncio.create_task(engine.run("w", run_id="run_code_resume"))
        await asyncio.wait_for(world.hanging.wait(), 10)
        running.cancel()  # what Ctrl-C does
        with pytest.raises(asyncio.CancelledError):
            await running
    assert (await storage.get_run("run_code_resume")).status == "cancelled"
    assert world.executed == ["print(1/0)\n", "# HANG\nprint(42)\n"]

    world.hang = False
    async with Engine(app, storage) as engine:
        resumed = await engine.resume("run_code_resume")
        scripted = engine.services.model("default")
    assert resumed.status == "succeeded", resumed.error
    assert resumed.outputs["t"]["succeeded"] is True
    assert resumed.outputs["t"]["attempts"] == 2
    # the failed first program ran once in all; only the interrupted one ran again
    assert world.executed.count("print(1/0)\n") == 1
    assert world.executed == ["print(1/0)\n", "# HANG\nprint(42)\n", "# HANG\nprint(42)\n"]
    assert scripted.calls == [], "both model replies were replayed from the journal"  # type: ignore[attr-defined]
    assert resumed.replayed_steps == 3


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        ("```python\nprint(1)\n```", "python", "print(1)\n"),
        ("```py\nx = 1\n```\nthen\n```python\nprint(2)\n```", "python", "print(2)\n"),
        ("```text\noutput\n```\n```\nprint(3)\n```", "python", "print(3)\n"),
        ("```python\nprint(4)\n```\n```text\n4\n```", "python", "print(4)\n"),
        ("~~~python\nprint(5)\n~~~", "python", "print(5)\n"),
        ("````python\nprint('```')\n````", "python", "print('```')\n"),
        ("```bash\necho hi\n```", "bash", "echo hi\n"),
        ("```bash\necho hi\n```", "python", None),
        ("no code here", "python", None),
        ("```python\n\n```", "python", None),
    ],
)
def test_extract_code_takes_the_last_block_in_the_language(
    text: str, language: Any, expected: str | None
) -> None:
    assert extract_code(text, language) == expected
