"""The *shape* of a sandbox plugin. This one does NOT isolate anything.

It runs the code as an ordinary child process: same user, same files, same network as the
caller. It does what any sandbox must also do (a wall-clock limit that kills the whole process
group, capped output, a fresh or given workspace, artifacts that never follow symlinks), and it
refuses to run at all unless its settings say, in so many words, that there is no isolation.
The sandbox conformance suite fails it, as it should: code it runs can read host files and
reach the host's network. A real sandbox adds the isolation (namespaces, seccomp, a separate
uid, resource limits) inside ``execute`` and passes the whole suite; see the ``bwrap`` plugin.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from pydantic import Field

from agent_sdk import hookimpl
from agent_sdk.errors import SandboxUnavailableError
from agent_sdk.kinds.base import EmptyConfig
from agent_sdk.kinds.sandbox import ExecutionRequest, ExecutionResult, Sandbox


class LocalProcessSandbox(Sandbox):
    name = "local-process"
    description = "NOT ISOLATED: runs code as a plain child process (tests of trusted code only)."

    class Config(EmptyConfig):
        acknowledge_no_isolation: bool = Field(
            False,
            description="Must be true to use this sandbox: code runs with your user, your "
            "files and your network. Leave it false anywhere untrusted code may run.",
        )
        default_timeout_s: float = Field(30.0, gt=0, description="For requests without one.")
        output_limit_bytes: int = Field(
            1024 * 1024, ge=1024, description="Bytes kept of stdout and of stderr each."
        )

    def probe(self) -> dict[str, Any]:
        if not self.config.acknowledge_no_isolation:
            raise SandboxUnavailableError(
                f"sandbox {self.name!r} does not isolate code, and its settings do not say "
                "that this is acceptable",
                hint='use the bwrap sandbox ([sandbox] backend = "bwrap"); set '
                "acknowledge_no_isolation = true only where every program is trusted",
            )
        return {"isolated": False}

    async def execute(self, request: ExecutionRequest) -> ExecutionResult:
        self.probe()  # never runs anything unless acknowledged
        started = time.perf_counter()
        program_dir = Path(tempfile.mkdtemp(prefix="agent-sdk-program-"))
        fresh = request.workspace is None
        workspace = Path(tempfile.mkdtemp(prefix="agent-sdk-ws-")) if fresh else request.workspace
        assert workspace is not None
        try:
            program = program_dir / ("main.sh" if request.language == "bash" else "main.py")
            program.write_text(request.code, encoding="utf-8")
            if request.language == "bash":
                argv = ["bash", str(program)]
            else:
                argv = [sys.executable, "-I", str(program)]
            result = await self._run(argv, workspace, request)
            artifacts = tuple(_regular_files(workspace))
        finally:
            shutil.rmtree(program_dir, ignore_errors=True)
            if fresh:
                shutil.rmtree(workspace, ignore_errors=True)
        return ExecutionResult(
            **result,
            artifacts=artifacts,
            duration_s=time.perf_counter() - started,
            isolation={"isolated": False, "namespaces": [], "seccomp": False, "network": "host"},
        )

    async def _run(self, argv: list[str], cwd: Path, request: ExecutionRequest) -> dict[str, Any]:
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": str(cwd)}
        process = await asyncio.create_subprocess_exec(
            *argv,
            cwd=cwd,
            env={**env, **request.env},
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,  # one process group, killed as a whole
        )
        killed: list[str] = []

        def overflow() -> None:
            killed.append("output limit")
            _kill_group(process.pid)

        limit = self.config.output_limit_bytes
        assert process.stdout is not None
        assert process.stderr is not None
        readers = [
            asyncio.create_task(_read(process.stdout, limit, overflow)),
            asyncio.create_task(_read(process.stderr, limit, overflow)),
        ]
        feeder = asyncio.create_task(_feed(process, request.stdin))
        timeout = request.timeout_s if request.timeout_s > 0 else self.config.default_timeout_s
        try:
            await asyncio.wait_for(process.wait(), timeout)
        except TimeoutError:
            killed.insert(0, "timeout")
        finally:
            _kill_group(process.pid)  # also what the program left running in its group
            await process.wait()
            feeder.cancel()
            _, late = await asyncio.wait(readers, timeout=2.0)
            for reader in late:
                reader.cancel()
        (stdout, out_cut), (stderr, err_cut) = [
            r.result() if r.done() and not r.cancelled() else (b"", True) for r in readers
        ]
        return {
            "exit_code": process.returncode,
            "stdout": stdout.decode("utf-8", errors="replace"),
            "stderr": stderr.decode("utf-8", errors="replace"),
            "timed_out": bool(killed) and killed[0] == "timeout",
            "killed": killed[0] if killed else None,
            "stdout_truncated": out_cut,
            "stderr_truncated": err_cut,
        }


async def _read(stream: asyncio.StreamReader, limit: int, overflow: Any) -> tuple[bytes, bool]:
    data = bytearray()
    while chunk := await stream.read(65536):
        if len(data) + len(chunk) > limit:
            data += chunk[: limit - len(data)]
            overflow()
            return bytes(data), True
        data += chunk
    return bytes(data), False


async def _feed(process: asyncio.subprocess.Process, data: bytes) -> None:
    assert process.stdin is not None
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        if data:
            process.stdin.write(data)
            await process.stdin.drain()
        process.stdin.close()


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _regular_files(root: Path) -> list[str]:
    found = []
    for directory, _dirs, files in os.walk(root):  # does not follow symlinked directories
        for name in files:
            path = Path(directory, name)
            if path.is_file() and not path.is_symlink():
                found.append(path.relative_to(root).as_posix())
    return sorted(found)


@hookimpl
def agent_sdk_register_sandboxes() -> list[type[Sandbox]]:
    return [LocalProcessSandbox]
