"""``code-agent``: write a program, run it in the sandbox, read the error, fix, repeat (bounded).

Each attempt is one model reply holding a program, either in a fenced code block
(```` ```python ````) or as a call of the exec tool (``python_exec`` by default). The program
runs through ``ctx.call_tools``, so every run is journaled: a resumed task replays the runs
already made instead of executing them again. A failed run (non-zero exit code, timeout, tool
error) is shown to the model, which answers with a corrected program, until one succeeds or
``max_attempts`` replies have been used.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

import attrs
from pydantic import Field

from agent_sdk.errors import ToolError
from agent_sdk.kinds.agent import Agent, AgentContext, AgentResult
from agent_sdk.messages import Message, ModelRequest, ToolCall, ToolResult, Usage
from agent_sdk.runtime.loop import render_input
from agent_sdk_agents._common import AgentOptions, clip, require_tool

__all__ = ["CodeAgent", "ExecOutcome", "extract_code"]

Language = Literal["python", "bash"]

DEFAULT_TOOL: dict[str, str] = {"python": "python_exec", "bash": "shell"}
DEFAULT_ARGUMENT: dict[str, str] = {"python": "code", "bash": "command"}
FENCE_TAGS: dict[str, frozenset[str]] = {
    "python": frozenset({"python", "py", "python3"}),
    "bash": frozenset({"bash", "sh", "shell", "zsh"}),
}
LANGUAGE_NAMES: dict[str, str] = {"python": "Python 3", "bash": "bash"}

_FENCE_RE = re.compile(
    r"^[ \t]*(?P<fence>`{3,}|~{3,})[ \t]*(?P<tag>[^\s`]*)[^\n]*\n"  # opening fence + tag
    r"(?P<body>.*?)"
    r"^[ \t]*(?P=fence)[ \t]*$",  # the same fence closes it
    re.MULTILINE | re.DOTALL,
)


def extract_code(text: str, language: Language = "python") -> str | None:
    """The program in a model reply: the last fenced block tagged *language*.

    Falls back to the last untagged fenced block; blocks tagged with another language (say
    ``text`` or ``json`` output samples) are ignored. Returns ``None`` when there is none.
    """
    tagged: str | None = None
    untagged: str | None = None
    for match in _FENCE_RE.finditer(text):
        tag = match.group("tag").lower()
        body = match.group("body")
        if not body.strip():
            continue
        if tag in FENCE_TAGS[language]:
            tagged = body
        elif not tag:
            untagged = body
    code = tagged if tagged is not None else untagged
    return code.rstrip() + "\n" if code is not None else None


@attrs.frozen
class ExecOutcome:
    """One attempt: the program and what running it gave.

    Attributes:
        code: the program.
        stdout: its standard output.
        stderr: its standard error, or the tool's error message.
        exit_code: its exit status; ``None`` if it did not run (tool error, no program).
        timed_out: the sandbox stopped it at its time limit.
        problem: why it failed, in words, or ``""`` when it succeeded.
    """

    code: str
    stdout: str = ""
    stderr: str = ""
    exit_code: int | None = None
    timed_out: bool = False
    problem: str = ""

    @property
    def succeeded(self) -> bool:
        """The program ran to exit code 0 within its limits."""
        return not self.problem


def _outcome(code: str, result: ToolResult) -> ExecOutcome:
    """Interpret an exec tool's result (``{exit_code, stdout, stderr, timed_out...}``)."""
    if not result.ok:
        error = result.error or {}
        message = f"{error.get('type', 'ToolError')}: {error.get('message', 'the tool failed')}"
        return ExecOutcome(code, stderr=message, problem=f"the {result.name} tool failed")
    data = result.data
    if isinstance(data, Mapping):
        raw_exit = data.get("exit_code", data.get("returncode", 0))
        exit_code = (
            raw_exit if isinstance(raw_exit, int) and not isinstance(raw_exit, bool) else None
        )
        stdout = str(data.get("stdout") or "")
        stderr = str(data.get("stderr") or "")
        timed_out = bool(data.get("timed_out"))
    else:
        exit_code, stderr, timed_out = 0, "", False
        stdout = data if isinstance(data, str) else json.dumps(data, default=str)
    if timed_out:
        problem = "it was stopped at the time limit"
    elif exit_code is None:
        problem = "it did not run to completion (no exit code)"
    elif exit_code != 0:
        problem = f"it exited with code {exit_code}"
    else:
        problem = ""
    return ExecOutcome(code, stdout, stderr, exit_code, timed_out, problem)


class CodeAgent(Agent):
    """Writes code, runs it through the exec tool, and fixes it until it runs.

    Output: ``{"code", "stdout", "stderr", "exit_code", "attempts", "succeeded"}`` of the last
    attempt. Giving up after ``max_attempts`` is an output with ``succeeded = false``, or a
    failed task with ``fail_on_give_up = true``.
    """

    name: ClassVar[str] = "code-agent"
    description: ClassVar[str] = (
        "Writes a program, runs it in the sandbox via an exec tool, fixes it until it runs."
    )

    class Config(AgentOptions):
        """``code-agent`` settings (plus the shared ``system_prompt``, ``temperature``...)."""

        max_attempts: int = Field(
            3, ge=1, le=20, description="Model replies asked for a program before giving up."
        )
        language: Language = Field(
            "python", description="Language of the programs: 'python' or 'bash'."
        )
        exec_tool: str | None = Field(
            None,
            description="Tool that runs a program; unset: 'python_exec' (python) or 'shell' "
            "(bash).",
        )
        code_argument: str | None = Field(
            None,
            description="Argument of exec_tool that holds the program; unset: 'code' (python) "
            "or 'command' (bash).",
        )
        feedback_chars: int = Field(
            4000,
            ge=200,
            le=100_000,
            description="Characters of a failed run's stderr and of its stdout shown to the "
            "model (the end is kept).",
        )
        fail_on_give_up: bool = Field(
            False,
            description="Fail the task when no attempt succeeded (default: succeed with "
            "succeeded = false in the output).",
        )

    def system_prompt(self, tool: str) -> str:
        """The system prompt: the configured one, or the built-in one for the language."""
        config: CodeAgent.Config = self.config
        if config.system_prompt:
            return config.system_prompt
        lang = config.language
        return (
            f"You are a careful programmer. Write a complete, self-contained "
            f"{LANGUAGE_NAMES[lang]} program that does the task and prints its result to "
            f"standard output. Reply with the whole program in one ```{lang} fenced block, or "
            f"call the `{tool}` tool with it. It runs in a sandbox; if it fails you are shown "
            f"its exit code and output, and you reply with the complete corrected program."
        )

    async def run(self, task_input: Any, ctx: AgentContext) -> AgentResult:
        config: CodeAgent.Config = self.config
        tool = config.exec_tool or DEFAULT_TOOL[config.language]
        argument = config.code_argument or DEFAULT_ARGUMENT[config.language]
        require_tool(ctx, tool, self.name, "exec_tool")
        specs = tuple(ctx.tool_specs())
        conversation = [
            Message.system(self.system_prompt(tool)),
            Message.user(render_input(task_input)),
        ]
        usage, turns, tool_calls, attempts = Usage(), 0, 0, 0
        outcome = ExecOutcome("", problem="no attempt was made")
        while attempts < config.max_attempts:
            response = await ctx.call_model(
                ModelRequest(
                    messages=tuple(conversation),
                    tools=specs,
                    temperature=config.temperature,
                    max_tokens=config.max_tokens,
                ),
            )
            turns += 1
            usage = usage + response.usage
            reply = response.message
            conversation.append(reply)
            if reply.tool_calls:
                calls = list(reply.tool_calls)
                results = await ctx.call_tools(calls)
                tool_calls += len(calls)
                conversation += [Message.tool(result) for result in results]
                runs = [(c, r) for c, r in zip(calls, results, strict=True) if c.name == tool]
                if not runs:
                    continue  # it used other tools (read a file...): not an attempt yet
                attempts += 1
                call, result = runs[-1]
                outcome = _outcome(str(call.arguments.get(argument, "")), result)
            else:
                attempts += 1
                code = extract_code(reply.content or "", config.language)
                if code is None:
                    outcome = ExecOutcome("", problem="the reply held no program")
                else:
                    # a deterministic call id: a resumed task finds this run in the journal
                    call = ToolCall(id=f"code-{attempts}", name=tool, arguments={argument: code})
                    (result,) = await ctx.call_tools([call])
                    tool_calls += 1
                    outcome = _outcome(code, result)
            if outcome.succeeded:
                break
            if attempts < config.max_attempts:
                conversation.append(Message.user(self._feedback(outcome, attempts, tool)))
        if not outcome.succeeded and config.fail_on_give_up:
            raise ToolError(
                f"{self.name}: no program succeeded in {attempts} attempt(s); last: "
                f"{outcome.problem}",
                hint="raise max_attempts, use a stronger model, or simplify the task",
            )
        output = {
            "code": outcome.code,
            "stdout": outcome.stdout,
            "stderr": outcome.stderr,
            "exit_code": outcome.exit_code,
            "attempts": attempts,
            "succeeded": outcome.succeeded,
        }
        return AgentResult(
            output=output, messages=conversation, usage=usage, turns=turns, tool_calls=tool_calls
        )

    def _feedback(self, outcome: ExecOutcome, attempt: int, tool: str) -> str:
        config: CodeAgent.Config = self.config
        lang = config.language
        if not outcome.code:
            return (
                f"Attempt {attempt} of {config.max_attempts}: {outcome.problem}. Reply with the "
                f"complete program in one ```{lang} fenced block, or call the `{tool}` tool."
            )
        parts = [f"Attempt {attempt} of {config.max_attempts} failed: {outcome.problem}."]
        limit = config.feedback_chars
        if outcome.stderr:
            parts.append(f"stderr:\n```text\n{clip(outcome.stderr.rstrip(), limit)}\n```")
        if outcome.stdout:
            parts.append(f"stdout:\n```text\n{clip(outcome.stdout.rstrip(), limit)}\n```")
        parts.append(
            f"Fix the program and reply with the complete corrected program in one ```{lang} "
            f"fenced block, or call the `{tool}` tool with it."
        )
        return "\n\n".join(parts)
