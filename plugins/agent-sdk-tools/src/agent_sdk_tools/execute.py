"""``python_exec`` and ``shell``: run code through the configured sandbox, never unconfined.

Which sandbox, in order:

1. the one given to the constructor (``PythonExec(config, sandbox=...)``: library use, tests);
2. inside a run, the runtime's: ``ctx.services["runtime"].sandbox()`` (``[sandbox] backend``,
   created and probed once per engine);
3. outside a run, with ``ctx.services["app"]`` given: that app's ``[sandbox] backend``,
   created and probed once per tool instance;
4. otherwise the call fails with a :class:`~agent_sdk.errors.ToolError` saying how to give it
   one. There is no fallback to running code on the host.

The program's outcome is data: a non-zero exit, a timeout or a kill by the sandbox is returned
(``exit_code``, ``stdout``, ``stderr``, ``timed_out``, ``killed``, ``duration_s``...), not
raised. What *is* raised, as a non-transient ToolError, is a sandbox that cannot run code here
(:class:`~agent_sdk.errors.SandboxUnavailableError`: the message carries the sandbox's own fix,
such as installing bubblewrap) or that is not installed at all.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from agent_sdk.errors import (
    SandboxError,
    SandboxUnavailableError,
    ToolError,
    UnknownComponentError,
)
from agent_sdk.kinds.sandbox import ExecutionRequest, Language, Sandbox
from agent_sdk.kinds.tool import Tool, ToolContext
from agent_sdk_tools._common import tool_error
from agent_sdk_tools.config import ToolsConfig
from agent_sdk_tools.files import resolve_workspace

__all__ = ["PythonExec", "Shell"]

_MAX_CODE_CHARS = 200_000
_MAX_STDIN_CHARS = 1_000_000


class _ExecTool(Tool):
    """What ``python_exec`` and ``shell`` share: finding the sandbox, running a request."""

    side_effects = True
    Config = ToolsConfig
    config: ToolsConfig
    language: ClassVar[Language]

    def __init__(
        self, config: ToolsConfig | None = None, *, sandbox: Sandbox | None = None
    ) -> None:
        super().__init__(config)
        self._given = sandbox
        self._own: Sandbox | None = None
        self._own_app: object | None = None
        self._lock = threading.Lock()

    def sandbox(self, ctx: ToolContext) -> Sandbox:
        """The sandbox this call runs in (see the module docstring for the order).

        Raises:
            ToolError: none can be had; the message says why and how to fix it.
        """
        if self._given is not None:
            return self._given
        runtime = ctx.services.get("runtime")
        app = ctx.services.get("app")
        try:
            if runtime is not None:
                sandbox = runtime.sandbox()
                assert isinstance(sandbox, Sandbox)
                return sandbox
            if app is not None:
                return self._app_sandbox(app)
        except SandboxUnavailableError as error:
            raise self._unavailable(error) from None
        except UnknownComponentError as error:
            backend = _backend_name(app if app is not None else getattr(runtime, "app", None))
            raise tool_error(
                f"{self.name}: sandbox {backend!r} ([sandbox] backend) is not installed: "
                f"{error.message}",
                hint="install it (pip install agent-sdk-sandbox-bwrap for 'bwrap'), or set "
                "[sandbox] backend to an installed sandbox",
            ) from None
        raise tool_error(
            f"{self.name}: no sandbox to run code in (called outside a run, without an app)",
            hint="call it inside a run (the engine provides [sandbox] backend), pass "
            "ToolContext(services={'app': app}), or construct the tool with sandbox=...",
        )

    def _app_sandbox(self, app: Any) -> Sandbox:
        with self._lock:
            if self._own is None or self._own_app is not app:
                created = app.create("sandbox", _backend_name(app), where="sandbox")
                assert isinstance(created, Sandbox)
                created.probe()
                self._own, self._own_app = created, app
            return self._own

    def _unavailable(self, error: SandboxUnavailableError) -> ToolError:
        fix = error.hint or (
            "install and enable the isolation the sandbox needs, or set [sandbox] backend to "
            "a sandbox that works on this machine"
        )
        return tool_error(
            f"{self.name}: the sandbox cannot run code on this machine: {error.message}",
            hint=fix + " (code is never run unconfined)",
        )

    def _timeout(self, asked: float | None) -> float:
        limit = self.config.exec_max_timeout_s
        if asked is not None and asked > limit:
            raise tool_error(
                f"{self.name}: timeout_s {asked} is more than the allowed {limit}s "
                "(exec_max_timeout_s)",
                hint=f"ask for at most {limit} seconds, or raise exec_max_timeout_s in "
                "[plugins.tools]",
            )
        return asked if asked is not None else self.config.exec_timeout_s

    async def _execute(
        self,
        code: str,
        stdin: str,
        timeout_s: float | None,
        ctx: ToolContext,
        check: bool = False,
    ) -> dict[str, Any]:
        timeout = self._timeout(timeout_s)
        workspace: Path | None = None
        if self.config.exec_in_workspace:
            workspace = Path(resolve_workspace(self.config, ctx).root)
        sandbox = self.sandbox(ctx)
        # read-only host directories the *workflow* declared for this run (never the model)
        mounts = {str(k): Path(v) for k, v in (ctx.services.get("mounts") or {}).items()}
        request = ExecutionRequest(
            code=code,
            language=self.language,
            timeout_s=timeout,
            workspace=workspace,
            stdin=stdin.encode("utf-8"),
            mounts=mounts,
        )
        try:
            result = await sandbox.execute(request)
        except SandboxUnavailableError as error:
            raise self._unavailable(error) from None
        except SandboxError as error:
            raise tool_error(
                f"{self.name}: the sandbox ({sandbox.name}) failed to run the code: "
                f"{error.message}",
                hint=error.hint,
            ) from None
        if check and (result.exit_code != 0 or result.timed_out):
            tail = result.stderr.strip().splitlines()[-5:]
            why = (
                f"timed out after {timeout}s"
                if result.timed_out
                else f"exit code {result.exit_code}"
            )
            raise tool_error(
                f"{self.name}: the program failed ({why}): " + " | ".join(tail),
                hint="check=true makes a failing program fail the call; see stderr",
            )
        data = result.to_dict()
        data["sandbox"] = sandbox.name
        data["json"] = _stdout_json(result.stdout, result.stdout_truncated)
        return data


def _stdout_json(stdout: str, truncated: bool) -> Any:
    """The program's stdout parsed as JSON when it is one complete JSON document, else None.

    Lets a workflow reference fields of a script's output (``${tasks.x.output.json.key}``).
    """
    text = stdout.strip()
    if truncated or not text or text[0] not in "[{":
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def _backend_name(app: Any) -> str:
    try:
        return str(app.config.sandbox.backend)
    except AttributeError:
        return "?"


class PythonExec(_ExecTool):
    """Run a Python program in the sandbox and return its exit code and output."""

    name = "python_exec"
    description = (
        "Run a Python 3 program in an isolated sandbox and return exit_code, stdout, stderr "
        "and whether it timed out. A failing program is a result (non-zero exit_code), not an "
        "error. Print what you want to see."
    )
    language = "python"

    class Arguments(BaseModel):
        """Arguments of ``python_exec``."""

        model_config = ConfigDict(extra="forbid")

        code: str = Field(
            min_length=1, max_length=_MAX_CODE_CHARS, description="The Python program to run."
        )
        stdin: str = Field(
            default="", max_length=_MAX_STDIN_CHARS, description="Text fed to standard input."
        )
        timeout_s: float | None = Field(
            default=None,
            gt=0,
            description="Wall-clock limit in seconds; null: the configured default "
            "(exec_timeout_s).",
        )
        check: bool = Field(
            default=False,
            description="If true, a non-zero exit or a timeout fails the call with the "
            "stderr tail (for scripted steps); if false, they are returned as data.",
        )

    async def run(self, args: PythonExec.Arguments, ctx: ToolContext) -> dict[str, Any]:
        return await self._execute(args.code, args.stdin, args.timeout_s, ctx, args.check)


class Shell(_ExecTool):
    """Run a bash command line in the sandbox and return its exit code and output."""

    name = "shell"
    description = (
        "Run a bash command (or script) in an isolated sandbox and return exit_code, stdout, "
        "stderr and whether it timed out. A failing command is a result (non-zero "
        "exit_code), not an error."
    )
    language = "bash"

    class Arguments(BaseModel):
        """Arguments of ``shell``."""

        model_config = ConfigDict(extra="forbid")

        command: str = Field(
            min_length=1,
            max_length=_MAX_CODE_CHARS,
            description="The bash command line or script to run.",
        )
        stdin: str = Field(
            default="", max_length=_MAX_STDIN_CHARS, description="Text fed to standard input."
        )
        timeout_s: float | None = Field(
            default=None,
            gt=0,
            description="Wall-clock limit in seconds; null: the configured default "
            "(exec_timeout_s).",
        )
        check: bool = Field(
            default=False,
            description="If true, a non-zero exit or a timeout fails the call with the "
            "stderr tail (for scripted steps); if false, they are returned as data.",
        )

    async def run(self, args: Shell.Arguments, ctx: ToolContext) -> dict[str, Any]:
        return await self._execute(args.command, args.stdin, args.timeout_s, ctx, args.check)
