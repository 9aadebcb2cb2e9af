"""python_exec / shell: through an in-test sandbox (always) and the bwrap plugin (when it works).

``LocalProcessSandbox`` runs the code as a plain subprocess: *no isolation*, test use only. It
is enough to cover the tools' logic (choosing the sandbox, limits, results as data, errors);
real containment is the bwrap sandbox's job, exercised below when it is installed and usable.
"""

from __future__ import annotations

import asyncio
import importlib
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from agent_sdk_tools import hooks
from agent_sdk_tools.config import ToolsConfig
from agent_sdk_tools.execute import PythonExec, Shell

from agent_sdk.app import App
from agent_sdk.config import load_config
from agent_sdk.errors import SandboxError, SandboxUnavailableError, UnknownComponentError
from agent_sdk.kinds.sandbox import ExecutionRequest, ExecutionResult, Sandbox
from agent_sdk.kinds.tool import Tool, ToolContext
from agent_sdk.messages import ToolCall, ToolResult
from agent_sdk.plugins import AgentSDKPluginManager, get_plugin_manager, module_plugin


class LocalProcessSandbox(Sandbox):
    """Runs code in a subprocess of the test, unconfined. Records requests and probes."""

    name = "test-local"
    requests: list[ExecutionRequest] = []
    probes = 0

    def probe(self) -> dict[str, Any]:
        type(self).probes += 1
        return {"isolation": "none (tests only)"}

    async def execute(self, request: ExecutionRequest) -> ExecutionResult:
        type(self).requests.append(request)
        argv = (
            [sys.executable, "-c", request.code]
            if request.language == "python"
            else ["bash", "-c", request.code]
        )
        with tempfile.TemporaryDirectory() as scratch:
            cwd = request.workspace or Path(scratch)
            started = time.monotonic()
            proc = await asyncio.create_subprocess_exec(
                *argv,
                cwd=cwd,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            try:
                out, err = await asyncio.wait_for(
                    proc.communicate(request.stdin), request.timeout_s
                )
                timed_out = False
            except TimeoutError:
                proc.kill()
                out, err = await proc.communicate()
                timed_out = True
        return ExecutionResult(
            exit_code=proc.returncode,
            stdout=out.decode(),
            stderr=err.decode(),
            timed_out=timed_out,
            killed="timeout" if timed_out else None,
            duration_s=time.monotonic() - started,
        )


class UnavailableSandbox(Sandbox):
    name = "test-unavailable"

    def probe(self) -> dict[str, Any]:
        raise SandboxUnavailableError(
            "user namespaces are disabled", hint="sysctl kernel.unprivileged_userns_clone=1"
        )

    async def execute(self, request: ExecutionRequest) -> ExecutionResult:
        self.probe()
        raise AssertionError("unreachable")


class BrokenSandbox(LocalProcessSandbox):
    name = "test-broken"

    async def execute(self, request: ExecutionRequest) -> ExecutionResult:
        raise SandboxError("could not create the cgroup", hint="check /sys/fs/cgroup")


@pytest.fixture(autouse=True)
def _reset_recording() -> None:
    LocalProcessSandbox.requests = []
    LocalProcessSandbox.probes = 0


async def call(tool: Tool, ctx: ToolContext | None = None, **arguments: Any) -> ToolResult:
    call = ToolCall(id="c1", name=tool.name, arguments=arguments)
    return await tool.invoke(call, ctx or ToolContext())


def make_app(backend: str, *extra_sandboxes: type[Sandbox]) -> App:
    pm = get_plugin_manager(load_entrypoints=False, env={})
    pm.register(hooks, name="tools")
    sandboxes = [LocalProcessSandbox, UnavailableSandbox, *extra_sandboxes]
    pm.register(module_plugin("test-sandboxes", agent_sdk_register_sandboxes=lambda: sandboxes))
    config = load_config(text=f'[sandbox]\nbackend = "{backend}"\n', env={}, pm=pm)
    return App(config, pm, {})


# --- results are data ----------------------------------------------------------------------


async def test_python_exec_returns_stdout_and_exit_code() -> None:
    tool = PythonExec(sandbox=LocalProcessSandbox())
    result = await call(tool, code="print(6 * 7)")
    assert result.ok, result.error
    assert result.data["exit_code"] == 0
    assert result.data["stdout"] == "42\n"
    assert result.data["stderr"] == ""
    assert result.data["timed_out"] is False
    assert result.data["sandbox"] == "test-local"
    (request,) = LocalProcessSandbox.requests
    assert request.language == "python"
    assert request.timeout_s == 30.0  # exec_timeout_s
    assert request.workspace is None  # a fresh directory by default


async def test_a_non_zero_exit_is_a_result_not_an_error() -> None:
    code = "import sys\nprint('bad input', file=sys.stderr)\nsys.exit(3)"
    result = await call(PythonExec(sandbox=LocalProcessSandbox()), code=code)
    assert result.ok
    assert result.data["exit_code"] == 3
    assert result.data["stderr"] == "bad input\n"


async def test_a_timeout_is_reported_in_the_result() -> None:
    tool = PythonExec(sandbox=LocalProcessSandbox())
    result = await call(tool, code="import time; time.sleep(10)", timeout_s=0.3)
    assert result.ok
    assert result.data["timed_out"] is True
    assert result.data["killed"] == "timeout"
    assert LocalProcessSandbox.requests[0].timeout_s == 0.3


async def test_shell_runs_bash_with_stdin() -> None:
    tool = Shell(sandbox=LocalProcessSandbox())
    result = await call(tool, command='read line; echo "got $line"; exit 2', stdin="hi\n")
    assert result.ok
    assert result.data["stdout"] == "got hi\n"
    assert result.data["exit_code"] == 2
    assert LocalProcessSandbox.requests[0].language == "bash"


async def test_a_timeout_above_the_configured_maximum_is_refused() -> None:
    tool = Shell(ToolsConfig(exec_timeout_s=1, exec_max_timeout_s=5), sandbox=LocalProcessSandbox())
    result = await call(tool, command="true", timeout_s=60)
    assert not result.ok
    assert "exec_max_timeout_s" in result.error["message"]
    assert LocalProcessSandbox.requests == []


@pytest.fixture
def real_tmp(tmp_path: Path) -> Path:
    return tmp_path.resolve()


async def test_exec_in_workspace_runs_code_in_the_workspace_root(real_tmp: Path) -> None:
    tmp_path = real_tmp
    (tmp_path / "data.txt").write_text("from the workspace\n")
    tool = PythonExec(ToolsConfig(exec_in_workspace=True), sandbox=LocalProcessSandbox())
    result = await call(
        tool, ToolContext(workspace=tmp_path), code="print(open('data.txt').read(), end='')"
    )
    assert result.data["stdout"] == "from the workspace\n"
    assert LocalProcessSandbox.requests[0].workspace == real_tmp


# --- finding the sandbox ------------------------------------------------------------------


async def test_outside_a_run_without_an_app_the_call_fails_with_the_fix() -> None:
    result = await call(PythonExec(), code="print(1)")
    assert not result.ok
    assert result.error["type"] == "ToolError"
    assert result.error["transient"] is False
    assert "no sandbox" in result.error["message"]
    assert "services={'app': app}" in result.error["hint"]


async def test_outside_a_run_the_apps_sandbox_is_built_and_probed_once() -> None:
    app = make_app("test-local")
    tool = PythonExec()
    ctx = ToolContext(services={"app": app})
    for _ in range(2):
        result = await call(tool, ctx, code="print('via app')")
        assert result.ok
        assert result.data["stdout"] == "via app\n"
    assert LocalProcessSandbox.probes == 1


async def test_an_unavailable_sandbox_becomes_a_non_transient_error_with_the_fix() -> None:
    app = make_app("test-unavailable")
    result = await call(Shell(), ToolContext(services={"app": app}), command="echo hi")
    assert not result.ok
    assert result.error["type"] == "ToolError"
    assert result.error["transient"] is False
    assert "cannot run code on this machine" in result.error["message"]
    assert "user namespaces are disabled" in result.error["message"]
    assert "sysctl kernel.unprivileged_userns_clone=1" in result.error["hint"]
    assert "never run unconfined" in result.error["hint"]
    # the same when the sandbox reports it at execution time
    direct = await call(Shell(sandbox=UnavailableSandbox()), command="echo hi")
    assert direct.error["transient"] is False
    assert "sysctl" in direct.error["hint"]


async def test_an_uninstalled_sandbox_backend_says_how_to_install_one() -> None:
    app = make_app("test-local")
    app.pm.unregister(name="test-sandboxes")  # validated at start-up, gone since
    with pytest.raises(UnknownComponentError):
        app.create("sandbox", "test-local")
    result = await call(PythonExec(), ToolContext(services={"app": app}), code="1")
    assert not result.ok
    assert "'test-local'" in result.error["message"]
    assert "not installed" in result.error["message"]
    assert "[sandbox] backend" in result.error["hint"]


async def test_a_failing_sandbox_becomes_a_tool_error() -> None:
    result = await call(PythonExec(sandbox=BrokenSandbox()), code="print(1)")
    assert not result.ok
    assert "could not create the cgroup" in result.error["message"]
    assert result.error["hint"] == "check /sys/fs/cgroup"


# --- the real bubblewrap sandbox ------------------------------------------------------------


def _bwrap_app() -> App:
    """An app whose [sandbox] backend is the bwrap plugin's sandbox, or skip the test."""
    try:
        bwrap_hooks = importlib.import_module("agent_sdk_sandbox_bwrap.hooks")
    except ImportError:
        pytest.skip("agent-sdk-sandbox-bwrap is not installed")
    pm: AgentSDKPluginManager = get_plugin_manager(load_entrypoints=False, env={})
    pm.register(hooks, name="tools")
    pm.register(bwrap_hooks, name="sandbox-bwrap")
    try:
        cls = pm.registry().get("sandbox", "bwrap")
    except UnknownComponentError:
        pytest.skip("agent-sdk-sandbox-bwrap does not register sandbox 'bwrap' (yet)")
    try:
        cls().probe()
    except SandboxUnavailableError as error:
        from agent_sdk.testing.services import services_required

        if services_required():  # CI installs bubblewrap: a broken sandbox must not pass
            pytest.fail(f"bwrap does not work on this machine: {error}")
        pytest.skip(f"bwrap does not work on this machine: {error}")
    config = load_config(text='[sandbox]\nbackend = "bwrap"\n', env={}, pm=pm)
    return App(config, pm, {})


@pytest.mark.slow
async def test_python_exec_and_shell_run_in_the_real_bwrap_sandbox() -> None:
    ctx = ToolContext(services={"app": _bwrap_app()})
    printed = await call(PythonExec(), ctx, code="print('inside bwrap')")
    assert printed.ok, printed.error
    assert printed.data["stdout"] == "inside bwrap\n"
    assert printed.data["exit_code"] == 0
    assert printed.data["sandbox"] == "bwrap"
    failed = await call(Shell(), ctx, command="echo oops >&2; exit 4")
    assert failed.ok, failed.error
    assert failed.data["exit_code"] == 4
    assert "oops" in failed.data["stderr"]
    slow = await call(PythonExec(), ctx, code="import time; time.sleep(10)", timeout_s=0.5)
    assert slow.ok, slow.error
    assert slow.data["timed_out"] is True


async def test_check_true_turns_a_failing_program_into_a_tool_error_with_stderr() -> None:
    code = "import sys\nprint('bad input', file=sys.stderr)\nsys.exit(3)"
    result = await call(PythonExec(sandbox=LocalProcessSandbox()), code=code, check=True)
    assert not result.ok
    assert result.error is not None
    assert "exit code 3" in result.error["message"]
    assert "bad input" in result.error["message"]
    passing = await call(PythonExec(sandbox=LocalProcessSandbox()), code="print(1)", check=True)
    assert passing.ok


async def test_stdout_that_is_one_json_document_is_parsed_for_references() -> None:
    tool = PythonExec(sandbox=LocalProcessSandbox())
    parsed = await call(tool, code="import json; print(json.dumps({'digest': 'x', 'n': [1]}))")
    assert parsed.data["json"] == {"digest": "x", "n": [1]}
    text = await call(tool, code="print('not json {')")
    assert text.data["json"] is None


async def test_the_runs_read_only_mounts_are_passed_to_the_sandbox(tmp_path: Path) -> None:
    ctx = ToolContext(services={"mounts": {"/project": tmp_path}})
    result = await call(PythonExec(sandbox=LocalProcessSandbox()), ctx, code="print(1)")
    assert result.ok
    (request,) = LocalProcessSandbox.requests
    assert request.mounts == {"/project": tmp_path}
