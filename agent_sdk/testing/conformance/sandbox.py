"""The sandbox conformance suite: the escapes every sandbox must contain, as tests.

Subclass :class:`SandboxConformance` in your sandbox's tests and implement
:meth:`~SandboxConformance.make_sandbox`; pytest collects the inherited test methods::

    from agent_sdk.testing.conformance.sandbox import SandboxConformance

    class TestMySandboxConformance(SandboxConformance):
        def make_sandbox(self):
            return MySandbox(MySandbox.Config(cpu_time_s=10))

The tests run real code through :meth:`Sandbox.execute` and attack the host from inside:

* **network**: TCP and UDP to listeners the test opens on the host's ``127.0.0.1``, the
  usual PostgreSQL (5432) and Redis (6379) ports, a host abstract Unix socket; only a
  loopback interface (or none) may exist;
* **host files**: ``/etc/shadow``, the home directory and ``~/.ssh``, the agent-sdk sources,
  world-readable canary files planted by the test; compared by hash, so a failure never
  prints a host file;
* **writes outside the workspace**: ``/``, ``/etc``, ``/usr``, ``/tmp``, the home directory,
  the test's own directory; checked from the host afterwards;
* **resources**: fork bomb, memory bomb, CPU spin, output flood; each must end within the
  request's timeout (plus :attr:`~SandboxConformance.grace_s`);
* **lifetimes**: ``setsid``/``nohup`` daemons and background children must be dead when
  ``execute`` returns, and everything must die when the *caller* is killed (checked from the
  host by a marker in the process's command line);
* **secrets**: a variable planted in the caller's environment must not appear in anything
  the code can read (``/proc/1/environ``, ``/proc/self/environ``, ``env``, every
  ``/proc/*/cmdline``), nor may request variables show in host ``argv``; a descriptor the
  caller leaked (inheritable, no ``O_CLOEXEC``) must not be open in the sandbox;
* **privileges**: not root, no capabilities, and the system calls that break out of
  containers (new user namespaces, ``ptrace``, ``keyctl``, ``mount``, ``io_uring``, ``bpf``)
  refused.

Every attempt is bounded in time, and all traffic goes to ``127.0.0.1``. The tests are
``async`` and run with pytest-asyncio (auto or strict mode). They need Linux (``/proc``) on
the host.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import json
import os
import platform
import signal
import socket
import textwrap
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from agent_sdk.errors import SandboxError
from agent_sdk.kinds.sandbox import ExecutionRequest, ExecutionResult, Sandbox

__all__ = ["SandboxConformance", "host_processes_with"]

_SECRET_VAR = "AGENT_SDK_TEST_SECRET"

# system call numbers the escape test uses (x86_64, aarch64)
_SYSCALLS: dict[str, dict[str, int]] = {
    "x86_64": {
        "unshare": 272,
        "ptrace": 101,
        "keyctl": 250,
        "mount": 165,
        "io_uring_setup": 425,
        "bpf": 321,
    },
    "aarch64": {
        "unshare": 97,
        "ptrace": 117,
        "keyctl": 219,
        "mount": 40,
        "io_uring_setup": 425,
        "bpf": 280,
    },
}


def host_processes_with(marker: str) -> list[int]:
    """PIDs of host processes whose command line contains *marker* (read from ``/proc``)."""
    found = []
    needle = marker.encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                if needle in handle.read():
                    found.append(int(entry))
        except OSError:
            continue
    return found


def _wait_until_gone(marker: str, timeout_s: float) -> list[int]:
    deadline = time.monotonic() + timeout_s
    while True:
        left = host_processes_with(marker)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


def _wait_until_present(marker: str, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not host_processes_with(marker):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _plant(path: Path, text: str, mode: int, parent_mode: int = 0o755) -> Path:
    """Write a canary file readable (or writable) by anyone: only isolation may protect it."""
    path.write_text(text)
    path.chmod(mode)
    path.parent.chmod(parent_mode)
    return path


def _entries(directory: Path, limit: int = 200) -> list[Path]:
    try:
        return sorted(directory.iterdir())[:limit]
    except OSError:
        return []


def _exists(path: str) -> bool:
    return os.path.lexists(path)


def _read(path: Path) -> str:
    return path.read_text()


def _host_file_digests(paths: list[Path]) -> dict[str, str]:
    """sha256 of each readable, non-empty regular file (first 64 KiB), by path.

    Files under ``/usr`` are left out: sandboxes show the system read-only by design (an
    agent-sdk installed there is visible, and fine).
    """
    digests: dict[str, str] = {}
    for path in paths:
        try:
            if path.resolve().is_relative_to("/usr"):
                continue
            if path.is_file() and not path.is_symlink():
                data = path.read_bytes()[:65536]
                if data:
                    digests[str(path)] = _digest(data)
        except OSError:
            continue
    return digests


class SandboxConformance(ABC):
    """Tests every sandbox must pass. Subclass it (name the subclass ``Test...``).

    Override :meth:`make_sandbox`; adjust the class attributes if your sandbox needs to.
    """

    pytestmark: ClassVar[list[pytest.MarkDecorator]] = [pytest.mark.asyncio]

    attempt_timeout_s: ClassVar[float] = 10.0
    """Wall-clock limit given to each escape attempt."""

    grace_s: ClassVar[float] = 5.0
    """How much longer than its timeout ``execute`` may take to return (kill and reap)."""

    supports_bash: ClassVar[bool] = True
    """The sandbox runs ``language="bash"``."""

    passthrough_env: ClassVar[str] = "TZ"
    """A variable name the sandbox's default allowlist passes through to the code."""

    memory_bomb_bytes: ClassVar[int] = 3 * 1024**3
    """The memory bomb tries to touch this much; the sandbox must stop it before."""

    fork_bomb_processes: ClassVar[int] = 2000
    """The fork bomb tries to hold this many processes; the sandbox must stop it before."""

    @abstractmethod
    def make_sandbox(self) -> Sandbox:
        """Return a new sandbox with its default limits (the suite calls ``probe()``)."""

    # --- fixtures and helpers -----------------------------------------------------------

    @pytest.fixture(scope="class")
    @classmethod
    def sandbox(cls) -> Sandbox:
        """One probed sandbox per test class."""
        box = cls().make_sandbox()
        box.probe()
        return box

    @pytest.fixture
    def secret(self, monkeypatch: pytest.MonkeyPatch) -> str:
        """A random secret planted in the caller's environment as ``AGENT_SDK_TEST_SECRET``."""
        value = f"secret-{uuid.uuid4().hex}"
        monkeypatch.setenv(_SECRET_VAR, value)
        return value

    @pytest.fixture
    def marker(self) -> Iterator[str]:
        """A unique string to find the sandbox's processes from the host; none may outlive
        the test (any left are killed at teardown, after the test has failed)."""
        value = f"agent-sdk-conformance-{uuid.uuid4().hex}"
        yield value
        for pid in host_processes_with(value):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)

    async def run(
        self,
        sandbox: Sandbox,
        code: str,
        *,
        language: str = "python",
        timeout_s: float | None = None,
        **fields: Any,
    ) -> ExecutionResult:
        """Execute *code*; assert ``execute`` returned within its timeout plus grace."""
        timeout = self.attempt_timeout_s if timeout_s is None else timeout_s
        request = ExecutionRequest(
            code=textwrap.dedent(code),
            language=language,  # type: ignore[arg-type]
            timeout_s=timeout,
            **fields,
        )
        started = time.monotonic()
        result = await asyncio.wait_for(sandbox.execute(request), timeout + self.grace_s + 30)
        elapsed = time.monotonic() - started
        assert elapsed <= timeout + self.grace_s, (
            f"execute took {elapsed:.1f}s with timeout_s={timeout}"
        )
        return result

    @staticmethod
    def report(result: ExecutionResult) -> dict[str, Any]:
        """The JSON object the attempt printed as its last stdout line."""
        lines = [line for line in result.stdout.splitlines() if line.strip()]
        assert lines, f"no output; exit {result.exit_code}, stderr: {result.stderr[-2000:]}"
        value = json.loads(lines[-1])
        assert isinstance(value, dict)
        return value

    # --- the basics ---------------------------------------------------------------------

    async def test_python_output_and_exit_code_are_reported(self, sandbox: Sandbox) -> None:
        result = await self.run(
            sandbox,
            """
            import sys
            print("to stdout")
            print("to stderr", file=sys.stderr)
            sys.exit(3)
            """,
        )
        assert result.exit_code == 3
        assert result.stdout == "to stdout\n"
        assert "to stderr" in result.stderr
        assert not result.timed_out
        assert result.killed is None
        assert result.isolation, "isolation must say what was applied"

    async def test_bash_runs(self, sandbox: Sandbox) -> None:
        if not self.supports_bash:
            pytest.skip("sandbox does not run bash")
        result = await self.run(sandbox, 'echo "$((6 * 7))"; exit 4', language="bash")
        assert result.stdout == "42\n"
        assert result.exit_code == 4

    async def test_stdin_is_fed_to_the_program(self, sandbox: Sandbox) -> None:
        result = await self.run(
            sandbox, "import sys; print(sys.stdin.read().upper())", stdin=b"hello"
        )
        assert result.stdout == "HELLO\n"

    async def test_a_fresh_workspace_is_the_writable_cwd_and_starts_empty(
        self, sandbox: Sandbox
    ) -> None:
        code = """
            import json, os
            before = sorted(os.listdir("."))
            with open("left-behind.txt", "w") as f:
                f.write("x")
            print(json.dumps({"before": before}))
        """
        first = await self.run(sandbox, code)
        second = await self.run(sandbox, code)
        assert first.exit_code == 0, first.stderr
        assert self.report(first)["before"] == []
        assert self.report(second)["before"] == [], "a file carried over between executions"

    async def test_a_given_workspace_is_read_write_and_kept(
        self, sandbox: Sandbox, tmp_path: Path
    ) -> None:
        workspace = self.workspace(tmp_path)
        (workspace / "input.txt").write_text("in")
        result = await self.run(
            sandbox,
            """
            import os
            os.makedirs("out", exist_ok=True)
            with open("out/result.txt", "w") as f:
                f.write(open("input.txt").read() + "+out")
            """,
            workspace=workspace,
        )
        assert result.exit_code == 0, result.stderr
        assert (workspace / "out" / "result.txt").read_text() == "in+out"
        assert set(result.artifacts) >= {"input.txt", "out/result.txt"}

    async def test_artifacts_never_follow_symlinks(self, sandbox: Sandbox, tmp_path: Path) -> None:
        workspace = self.workspace(tmp_path)
        result = await self.run(
            sandbox,
            """
            import os
            open("real.txt", "w").write("x")
            os.symlink("/etc/hostname", "to-file")
            os.symlink("/usr", "to-dir")
            os.symlink("real.txt", "to-real")
            """,
            workspace=workspace,
        )
        assert result.exit_code == 0, result.stderr
        assert list(result.artifacts) == ["real.txt"]

    @staticmethod
    def workspace(tmp_path: Path) -> Path:
        """A directory the sandboxed code can write (world-writable: the code's uid differs)."""
        path = tmp_path / "workspace"
        path.mkdir()
        path.chmod(0o777)
        tmp_path.chmod(0o755)
        return path

    # --- resources ----------------------------------------------------------------------

    async def test_a_cpu_spin_is_killed_at_the_timeout(self, sandbox: Sandbox) -> None:
        result = await self.run(sandbox, "while True: pass", timeout_s=1.5)
        assert result.timed_out
        assert result.killed == "timeout"
        assert result.exit_code != 0

    async def test_an_output_flood_is_capped_and_ended(self, sandbox: Sandbox) -> None:
        result = await self.run(
            sandbox,
            """
            import sys
            chunk = "x" * 65536
            while True:
                sys.stdout.write(chunk)
            """,
        )
        assert result.stdout_truncated
        assert not result.timed_out, "a flood must be cut by the output limit, not the timeout"
        assert len(result.stdout.encode()) <= 64 * 1024 * 1024

    async def test_a_fork_bomb_is_contained(self, sandbox: Sandbox, marker: str) -> None:
        result = await self.run(
            sandbox,
            f"""
            import json, os, shutil, time
            sleep = shutil.which("sleep")
            count = 0
            error = None
            try:
                while count < {self.fork_bomb_processes}:
                    pid = os.fork()
                    if pid == 0:
                        try:
                            os.execv(sleep, ["{marker}", "60"])
                        finally:
                            os._exit(1)
                    count += 1
            except OSError as exc:
                error = exc.strerror
            print(json.dumps({{"forked": count, "error": error}}))
            """,
        )
        report = self.report(result)
        assert report["forked"] < self.fork_bomb_processes, report
        assert _wait_until_gone(marker, 5.0) == [], "fork bomb children outlived execute"

    async def test_a_memory_bomb_is_stopped(self, sandbox: Sandbox) -> None:
        result = await self.run(
            sandbox,
            f"""
            import json
            chunks, reached, error = [], 0, None
            try:
                while reached < {self.memory_bomb_bytes}:
                    chunks.append(b"\\1" * (64 * 1024 * 1024))
                    reached += 64 * 1024 * 1024
            except MemoryError:
                error = "MemoryError"
            chunks.clear()
            print(json.dumps({{"reached": reached, "error": error}}))
            """,
        )
        if result.stdout.strip():
            report = self.report(result)
            assert report["reached"] < self.memory_bomb_bytes, report
        else:  # killed outright (OOM killer, cgroup): also contained
            assert result.exit_code != 0

    # --- lifetimes ----------------------------------------------------------------------

    async def test_setsid_and_nohup_daemons_die_when_execute_returns(
        self, sandbox: Sandbox, marker: str
    ) -> None:
        result = await self.run(
            sandbox,
            f"""
            import os, shutil, subprocess, time
            sleep = shutil.which("sleep")
            # a classic double-fork daemon in its own session
            if os.fork() == 0:
                os.setsid()
                if os.fork() == 0:
                    os.execv(sleep, ["{marker}", "120"])
                os._exit(0)
            # nohup in a new session, and a plain background child
            nohup = shutil.which("nohup")
            if nohup:
                subprocess.Popen([nohup, "bash", "-c", "exec -a {marker} sleep 120"],
                                 start_new_session=True, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
            if os.fork() == 0:
                os.execv(sleep, ["{marker}", "120"])
            time.sleep(0.5)
            print("parent exits")
            """,
        )
        assert "parent exits" in result.stdout, result.stderr
        assert _wait_until_gone(marker, 3.0) == [], "a daemon outlived execute"

    async def test_background_cpu_spinners_die_when_the_program_exits(
        self, sandbox: Sandbox, marker: str
    ) -> None:
        result = await self.run(
            sandbox,
            f"""
            import subprocess, sys, time
            for _ in range(2):
                subprocess.Popen(["bash", "-c", "exec -a {marker} bash -c 'while :; do :; done'"],
                                 start_new_session=True)
            time.sleep(0.3)
            print("left them spinning")
            """,
        )
        assert "left them spinning" in result.stdout, result.stderr
        assert _wait_until_gone(marker, 3.0) == []

    async def test_killing_its_parent_from_inside_is_harmless(self, sandbox: Sandbox) -> None:
        caller = _digest(Path("/proc/self/cmdline").read_bytes())
        result = await self.run(
            sandbox,
            f"""
            import hashlib, json, os, signal
            def cmdline(pid):
                try:
                    with open(f"/proc/{{pid}}/cmdline", "rb") as f:
                        return hashlib.sha256(f.read()).hexdigest()
                except OSError:
                    return None
            # never shoot the test runner itself: a sandbox without PID isolation fails here
            if cmdline({os.getpid()}) == "{caller}" or cmdline(os.getppid()) == "{caller}":
                print(json.dumps({{"caller_visible": True}}))
                raise SystemExit(0)
            outcome = {{"caller_visible": False}}
            for name, pid in [("parent", os.getppid()), ("init", 1)]:
                try:
                    os.kill(pid, signal.SIGKILL)
                    outcome[name] = "sent"
                except OSError as exc:
                    outcome[name] = exc.strerror
            print(json.dumps(outcome))
            """,
        )
        assert result.exit_code is not None
        if result.stdout.strip():
            assert not self.report(result)["caller_visible"], "the caller's process is visible"

    async def test_killing_the_caller_kills_everything_in_the_sandbox(
        self, sandbox: Sandbox, marker: str
    ) -> None:
        code = textwrap.dedent(
            f"""
            import os, shutil, time
            sleep = shutil.which("sleep")
            if os.fork() == 0:
                os.setsid()
                os.execv(sleep, ["{marker}", "120"])
            time.sleep(120)
            """
        )

        def start_caller() -> int:
            pid = os.fork()
            if pid == 0:  # the caller: runs the sandbox until it is killed
                try:
                    asyncio.run(sandbox.execute(ExecutionRequest(code=code, timeout_s=60)))
                finally:
                    os._exit(0)
            return pid

        caller = await asyncio.to_thread(start_caller)
        try:
            started = await asyncio.to_thread(_wait_until_present, marker, 10.0)
            assert started, "the sandboxed daemon never started"
        finally:
            os.kill(caller, signal.SIGKILL)
            await asyncio.to_thread(os.waitpid, caller, 0)
        left = await asyncio.to_thread(_wait_until_gone, marker, 5.0)
        assert left == [], "sandboxed processes outlived their killed caller"

    # --- network ------------------------------------------------------------------------

    async def test_no_network_not_even_the_hosts_loopback(self, sandbox: Sandbox) -> None:
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        abstract = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        abstract_name = f"agent-sdk-conformance-{uuid.uuid4().hex}"
        try:
            tcp.bind(("127.0.0.1", 0))
            tcp.listen(8)
            tcp.setblocking(False)
            udp.bind(("127.0.0.1", 0))
            udp.setblocking(False)
            abstract.bind("\0" + abstract_name)
            abstract.listen(8)
            abstract.setblocking(False)
            tcp_port, udp_port = tcp.getsockname()[1], udp.getsockname()[1]
            result = await self.run(
                sandbox,
                f"""
                import json, socket
                out = {{}}
                for port in ({tcp_port}, 5432, 6379, 80):
                    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                    s.settimeout(1.0)
                    try:
                        s.connect(("127.0.0.1", port))
                        out[f"tcp:{{port}}"] = "connected"
                    except OSError as exc:
                        out[f"tcp:{{port}}"] = type(exc).__name__
                    finally:
                        s.close()
                u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                try:
                    for _ in range(3):
                        u.sendto(b"escape", ("127.0.0.1", {udp_port}))
                    out["udp"] = "sent"
                except OSError as exc:
                    out["udp"] = type(exc).__name__
                a = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                a.settimeout(1.0)
                try:
                    a.connect("\\0{abstract_name}")
                    out["abstract"] = "connected"
                except OSError as exc:
                    out["abstract"] = type(exc).__name__
                try:
                    out["interfaces"] = [name for _, name in socket.if_nameindex()]
                except OSError:
                    out["interfaces"] = []
                print(json.dumps(out))
                """,
            )
            report = self.report(result)
            await asyncio.sleep(0.2)
            for key, value in report.items():
                if key.startswith("tcp:") or key == "abstract":
                    assert value != "connected", f"{key} reachable from the sandbox: {report}"
            assert set(report["interfaces"]) <= {"lo"}, report
            with pytest.raises(BlockingIOError):
                tcp.accept()
            with pytest.raises(BlockingIOError):
                udp.recvfrom(64)
            with pytest.raises(BlockingIOError):
                abstract.accept()
        finally:
            tcp.close()
            udp.close()
            abstract.close()

    # --- host files ---------------------------------------------------------------------

    async def test_host_files_cannot_be_read(self, sandbox: Sandbox, tmp_path: Path) -> None:
        import agent_sdk

        canary = _plant(tmp_path / "canary.txt", f"canary-{uuid.uuid4().hex}", 0o644)
        home = Path.home()
        targets = [
            Path("/etc/shadow"),
            Path("/etc/gshadow"),
            canary,
            Path(agent_sdk.__file__),
            Path.cwd() / "pyproject.toml",
            *_entries(home),
            *_entries(home / ".ssh"),
        ]
        digests = _host_file_digests(targets)
        assert str(canary) in digests
        result = await self.run(
            sandbox,
            f"""
            import hashlib, json, os
            targets = {json.dumps([str(t) for t in targets])}
            seen = {{}}
            for path in targets + ["/root/.ssh/id_rsa", "/root/.bash_history"]:
                try:
                    with open(path, "rb") as f:
                        data = f.read(65536)
                    if data:
                        seen[path] = hashlib.sha256(data).hexdigest()
                except OSError:
                    pass
            listed = {{}}
            for d in ["/root", "/home", {json.dumps(str(home))}, {json.dumps(str(tmp_path))}]:
                try:
                    listed[d] = sorted(os.listdir(d))
                except OSError:
                    pass
            print(json.dumps({{"seen": seen, "listed": listed}}))
            """,
        )
        report = self.report(result)
        leaked = sorted(set(report["seen"].values()) & set(digests.values()))
        assert not leaked, (
            f"the sandbox read host files: {[p for p, d in digests.items() if d in leaked]}"
        )
        assert "canary.txt" not in report["listed"].get(str(tmp_path), [])

    async def test_writes_outside_the_workspace_do_not_reach_the_host(
        self, sandbox: Sandbox, tmp_path: Path
    ) -> None:
        name = f"agent-sdk-escape-{uuid.uuid4().hex}"
        canary = _plant(tmp_path / "canary.txt", "original", 0o666, parent_mode=0o777)
        targets = [
            f"/{name}",
            f"/etc/{name}",
            f"/usr/{name}",
            f"/tmp/{name}",
            f"/var/tmp/{name}",
            f"/dev/shm/{name}",
            str(Path.home() / name),
            str(tmp_path / name),
        ]
        result = await self.run(
            sandbox,
            f"""
            import json
            out = {{}}
            for path in {json.dumps(targets)} + [{json.dumps(str(canary))}]:
                try:
                    with open(path, "w") as f:
                        f.write("escaped")
                    out[path] = "written"
                except OSError as exc:
                    out[path] = exc.strerror
            print(json.dumps(out))
            """,
        )
        self.report(result)
        written = [path for path in targets if _exists(path)]
        assert not written, f"the sandbox wrote on the host: {written}"
        assert _read(canary) == "original"

    # --- secrets ------------------------------------------------------------------------

    async def test_caller_environment_secrets_are_unreachable(
        self, sandbox: Sandbox, secret: str
    ) -> None:
        python_result = await self.run(
            sandbox,
            """
            import os
            print(dict(os.environ))
            for pid in os.listdir("/proc"):
                if pid.isdigit() or pid == "self":
                    for name in ("environ", "cmdline"):
                        try:
                            with open(f"/proc/{pid}/{name}", "rb") as f:
                                print(pid, name, f.read())
                        except OSError as exc:
                            print(pid, name, exc)
            """,
        )
        outputs = [json.dumps(python_result.to_dict())]
        assert "environ" in python_result.stdout, python_result.stderr
        if self.supports_bash:
            bash_result = await self.run(
                sandbox,
                "env; cat /proc/1/environ /proc/self/environ /proc/$$/environ; set",
                language="bash",
            )
            outputs.append(json.dumps(bash_result.to_dict()))
        for output in outputs:
            assert secret not in output, "the caller's secret reached the sandbox"

    async def test_a_variable_not_on_the_allowlist_never_reaches_the_code(
        self, sandbox: Sandbox, secret: str
    ) -> None:
        try:
            result = await self.run(
                sandbox,
                "import os; print(dict(os.environ))",
                env={_SECRET_VAR: secret},
            )
        except SandboxError:
            return  # refused: fine
        assert secret not in json.dumps(result.to_dict())

    async def test_request_variables_reach_the_code_but_not_host_argv(
        self, sandbox: Sandbox, marker: str
    ) -> None:
        value = f"value-{uuid.uuid4().hex}"
        task = asyncio.ensure_future(
            self.run(
                sandbox,
                f"""
                import os, time
                print(os.environ.get("{self.passthrough_env}"))
                time.sleep(1.5)
                """,
                env={self.passthrough_env: value},
            )
        )
        seen_in_argv: list[int] = []
        while not task.done():
            seen_in_argv += host_processes_with(value)
            await asyncio.sleep(0.05)
        result = await task
        assert result.stdout.strip() == value
        assert not seen_in_argv, "a request variable's value is visible in host process argv"

    async def test_descriptors_leaked_by_the_caller_are_not_inherited(
        self, sandbox: Sandbox, tmp_path: Path, secret: str
    ) -> None:
        leaked = tmp_path / "leaked.txt"
        leaked.write_text(secret)
        fd = os.open(leaked, os.O_RDONLY)  # then made inheritable, as if opened without CLOEXEC
        read_end, write_end = os.pipe()
        try:
            for descriptor in (fd, read_end, write_end):
                os.set_inheritable(descriptor, True)
            result = await self.run(
                sandbox,
                """
                import json, os
                open_fds, contents = [], {}
                for fd in range(3, 1024):
                    try:
                        os.fstat(fd)
                    except OSError:
                        continue
                    open_fds.append(fd)
                    try:
                        os.lseek(fd, 0, 0)
                        contents[fd] = os.read(fd, 4096).decode(errors="replace")
                    except OSError:
                        pass
                print(json.dumps({"open": open_fds, "contents": contents}))
                """,
            )
        finally:
            for descriptor in (fd, read_end, write_end):
                os.close(descriptor)
        report = self.report(result)
        assert secret not in result.stdout
        assert report["open"] == [], f"descriptors open in the sandbox: {report['open']}"

    # --- privileges ---------------------------------------------------------------------

    async def test_code_is_not_root_and_has_no_capabilities(self, sandbox: Sandbox) -> None:
        result = await self.run(
            sandbox,
            """
            import json, os
            caps = {}
            for line in open("/proc/self/status"):
                if line.startswith("Cap"):
                    key, value = line.split(":")
                    caps[key] = int(value.strip(), 16)
            print(json.dumps({"uid": os.getuid(), "euid": os.geteuid(), "caps": caps}))
            """,
        )
        report = self.report(result)
        assert report["uid"] != 0
        assert report["euid"] != 0
        assert report["caps"].get("CapEff") == 0, report
        assert report["caps"].get("CapPrm") == 0, report

    async def test_container_escape_system_calls_are_refused(self, sandbox: Sandbox) -> None:
        machine = platform.machine().lower()
        numbers = _SYSCALLS.get({"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine))
        if numbers is None:
            pytest.skip(f"no system call table for {machine}")
        result = await self.run(
            sandbox,
            f"""
            import ctypes, json
            libc = ctypes.CDLL(None, use_errno=True)
            nr = {json.dumps(numbers)}
            calls = {{
                "unshare(CLONE_NEWUSER)": (nr["unshare"], 0x10000000),
                "ptrace(PTRACE_TRACEME)": (nr["ptrace"], 0, 0, 0, 0),
                "keyctl(GET_KEYRING_ID, USER)": (nr["keyctl"], 0, -4, 0),
                "mount(tmpfs)": (nr["mount"], b"none", b"/tmp", b"tmpfs", 0, None),
                "io_uring_setup": (nr["io_uring_setup"], 1, None),
                "bpf": (nr["bpf"], 0, None, 0),
            }}
            out = {{}}
            for name, args in calls.items():
                ctypes.set_errno(0)
                rc = libc.syscall(*args)
                out[name] = [rc, ctypes.get_errno()]
            print(json.dumps(out))
            """,
        )
        report = self.report(result)
        refused = {errno.EPERM, errno.EACCES, errno.ENOSYS}
        for name, (rc, err) in report.items():
            assert rc == -1, f"{name} succeeded in the sandbox (returned {rc})"
            assert err in refused, f"{name} was not refused: errno {err} ({os.strerror(err)})"
