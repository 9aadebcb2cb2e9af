"""Tests of the bwrap sandbox, with real bubblewrap and real processes.

Without a working bubblewrap the sandbox tests skip (saying why), unless
``AGENT_SDK_REQUIRE_SERVICES=1`` (set by ``.ci/run``) makes that a failure.
"""

from __future__ import annotations

import ast
import asyncio
import functools
import os
import shutil
import signal
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest
from agent_sdk_sandbox_bwrap import _host, hooks, seccomp
from agent_sdk_sandbox_bwrap.sandbox import BwrapSandbox
from pydantic import ValidationError

from agent_sdk.errors import ConfigError, SandboxError, SandboxUnavailableError
from agent_sdk.kinds.sandbox import ExecutionRequest, ExecutionResult
from agent_sdk.testing.conformance.sandbox import SandboxConformance, host_processes_with
from agent_sdk.testing.services import services_required

AS_ROOT = os.geteuid() == 0
SYSTEM_PYTHON = "/usr/bin/python3"


@functools.cache
def _probe_error() -> str | None:
    try:
        BwrapSandbox().probe()
    except SandboxUnavailableError as exc:
        return str(exc)
    return None


def require_bwrap() -> None:
    """Skip (or fail, under AGENT_SDK_REQUIRE_SERVICES=1) when the sandbox cannot run here."""
    error = _probe_error()
    if error is None:
        return
    if services_required():
        pytest.fail(f"the bwrap sandbox is unavailable: {error}")
    pytest.skip(f"the bwrap sandbox is unavailable here: {error}")


def make(**settings: Any) -> BwrapSandbox:
    require_bwrap()
    return BwrapSandbox(BwrapSandbox.Config(**settings))


async def run(box: BwrapSandbox, code: str, **fields: Any) -> ExecutionResult:
    fields.setdefault("timeout_s", 20.0)
    return await box.execute(ExecutionRequest(code=code, **fields))


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory the sandbox uid can reach (pytest's tmp_path sits under a 0700 one)."""
    path = Path(tempfile.mkdtemp(prefix="agent-sdk-bwrap-test-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def sandbox_owned(path: Path) -> Path:
    """Make *path* a directory the sandbox uid may write (its owner, when we are root)."""
    path.mkdir(exist_ok=True)
    if AS_ROOT:
        os.chown(path, 65534, 65534)
    return path


def wait_for_processes(marker: str, present: bool, timeout_s: float) -> bool:
    """Wait until processes with *marker* exist (or are all gone); ``False`` on timeout."""
    deadline = time.monotonic() + timeout_s
    while bool(host_processes_with(marker)) != present:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def host_uids_of(marker: str) -> set[int]:
    """Real uids (as the host sees them) of the processes whose command line has *marker*."""
    uids = set()
    for pid in host_processes_with(marker):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        uid_line = next(line for line in status.splitlines() if line.startswith("Uid:"))
        uids.add(int(uid_line.split()[1]))
    return uids


# --- conformance -----------------------------------------------------------------------


class TestBwrapConformance(SandboxConformance):
    """The default configuration (on a root pyenv host: the staged interpreter)."""

    def make_sandbox(self) -> BwrapSandbox:
        return make()


class TestBwrapSystemPythonConformance(SandboxConformance):
    """An interpreter under /usr: bound with the system, no staging."""

    def make_sandbox(self) -> BwrapSandbox:
        if not os.path.exists(SYSTEM_PYTHON):
            pytest.skip(f"no {SYSTEM_PYTHON}")
        return make(python=SYSTEM_PYTHON)


# --- plugin and configuration ----------------------------------------------------------


def test_entry_point_named_after_the_plugin_targets_the_hooks_module() -> None:
    (entry_point,) = [ep for ep in entry_points(group="agent_sdk") if ep.name == "sandbox-bwrap"]
    assert entry_point.load() is hooks


def test_plugin_registers_the_bwrap_sandbox(plugin_manager, register_plugin) -> None:
    register_plugin(hooks, name="sandbox-bwrap")
    assert plugin_manager.registry().get("sandbox", "bwrap") is BwrapSandbox


def test_plugin_table_is_validated_against_the_sandbox_config(register_plugin, make_config) -> None:
    register_plugin(hooks, name="sandbox-bwrap")
    config = make_config("[plugins.sandbox-bwrap]\ncpu_time_s = 5\nuid = 1000\n")
    assert config.plugins.settings("sandbox-bwrap") == {"cpu_time_s": 5, "uid": 1000}
    with pytest.raises(ConfigError, match="cpu_time_sec"):
        make_config("[plugins.sandbox-bwrap]\ncpu_time_sec = 5\n")
    with pytest.raises(ConfigError, match="uid"):
        make_config("[plugins.sandbox-bwrap]\nuid = 0\n")


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"uid": 0}, "greater than or equal to 1"),
        ({"gid": 0}, "greater than or equal to 1"),
        ({"extra_ro_binds": ["relative/path"]}, "absolute path"),
        ({"extra_ro_binds": ["/"]}, "absolute path other than /"),
        ({"extra_ro_binds": ["/proc/1"]}, "managed by the sandbox"),
        ({"extra_ro_binds": ["/tmp"]}, "managed by the sandbox"),
        ({"extra_ro_binds": ["/workspace/x"]}, "managed by the sandbox"),
        ({"env_allowlist": ["NOT-A-NAME"]}, "not environment variable names"),
        ({"default_timeout_s": 100, "max_timeout_s": 10}, "exceeds max_timeout_s"),
        ({"memory_bytes": 1024}, "greater than or equal to"),
        ({"cpu_time": 5}, "Extra inputs are not permitted"),
    ],
)
def test_invalid_settings_are_rejected(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        BwrapSandbox.Config(**settings)


def test_every_setting_is_described() -> None:
    properties = BwrapSandbox.config_schema()["properties"]
    assert all(p.get("description") for p in properties.values())


# --- refusing to run -------------------------------------------------------------------


async def test_a_missing_bwrap_makes_probe_and_execute_refuse() -> None:
    box = BwrapSandbox(BwrapSandbox.Config(bwrap_path="/nonexistent/bwrap"))
    with pytest.raises(SandboxUnavailableError, match="bubblewrap not found") as info:
        box.probe()
    assert "apt-get install bubblewrap" in str(info.value)
    with pytest.raises(SandboxUnavailableError, match="bubblewrap not found"):
        await box.execute(ExecutionRequest(code="print('ran')"))


def _fake_bwrap(directory: Path, script: str) -> str:
    path = directory / "bwrap"
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(0o755)
    return str(path)


def test_an_old_bwrap_is_refused_naming_the_version(shared_dir: Path) -> None:
    fake = _fake_bwrap(shared_dir, 'echo "bubblewrap 0.4.1"\n')
    with pytest.raises(SandboxUnavailableError, match=r"0\.4\.1.*needs >= 0\.8\.0"):
        BwrapSandbox(BwrapSandbox.Config(bwrap_path=fake)).probe()


def test_a_bwrap_that_cannot_create_namespaces_is_refused_with_the_fix(shared_dir: Path) -> None:
    fake = _fake_bwrap(
        shared_dir,
        'if [ "$1" = --version ]; then echo "bubblewrap 0.8.0"; exit 0; fi\n'
        'echo "bwrap: No permissions to creating new namespace" >&2\nexit 1\n',
    )
    box = BwrapSandbox(BwrapSandbox.Config(bwrap_path=fake))
    with pytest.raises(SandboxUnavailableError, match="cannot set up the sandbox") as info:
        box.probe()
    assert "unprivileged_userns_clone" in str(info.value)


def test_an_unusable_interpreter_is_refused_naming_the_setting() -> None:
    require_bwrap()
    box = BwrapSandbox(BwrapSandbox.Config(python="/nonexistent/python3"))
    with pytest.raises(SandboxUnavailableError, match=r"\[plugins.sandbox-bwrap\] python"):
        box.probe()


def test_a_missing_extra_bind_is_refused() -> None:
    require_bwrap()
    box = BwrapSandbox(BwrapSandbox.Config(extra_ro_binds=["/nonexistent-data"]))
    with pytest.raises(SandboxUnavailableError, match="extra_ro_binds"):
        box.probe()


def test_probe_reports_what_it_found() -> None:
    report = make().probe()
    assert report["seccomp"] is True
    assert report["network"] == "none"
    assert report["python_version"].startswith("3.")
    if AS_ROOT:
        assert report["host_uid"] == 65534


# --- requests --------------------------------------------------------------------------


async def test_a_variable_outside_the_allowlist_is_refused_by_name() -> None:
    box = make()
    with pytest.raises(SandboxError, match="AWS_SECRET_ACCESS_KEY") as info:
        await run(box, "pass", env={"AWS_SECRET_ACCESS_KEY": "x", "TZ": "UTC"})
    assert "env_allowlist" in str(info.value)


async def test_allowlisted_variables_reach_the_code() -> None:
    box = make(env_allowlist=["TZ", "MY_SETTING"])
    result = await run(
        box,
        "import os; print(os.environ['TZ'], os.environ['MY_SETTING'], os.environ['HOME'])",
        env={"TZ": "UTC", "MY_SETTING": "on"},
    )
    assert result.stdout == "UTC on /workspace\n"
    assert "MY_SETTING" in result.isolation["env"]


async def test_an_unknown_language_is_refused() -> None:
    with pytest.raises(SandboxError, match="'ruby' is not supported"):
        await run(make(), "puts 1", language="ruby")


async def test_a_workspace_the_sandbox_uid_cannot_write_is_refused_with_the_fix(
    shared_dir: Path,
) -> None:
    if not AS_ROOT:
        pytest.skip("as a normal user the sandbox writes as that user")
    workspace = shared_dir / "root-owned"
    workspace.mkdir(mode=0o755)
    with pytest.raises(SandboxError, match="not writable by the sandbox's uid 65534") as info:
        await run(make(), "pass", workspace=workspace)
    assert "chown -R 65534:65534" in str(info.value)


async def test_a_missing_workspace_is_refused(shared_dir: Path) -> None:
    with pytest.raises(SandboxError, match="not an existing directory"):
        await run(make(), "pass", workspace=shared_dir / "missing")


# --- results ---------------------------------------------------------------------------


async def test_a_signal_death_is_reported_as_a_negative_exit_code() -> None:
    result = await run(make(), "kill -TERM $$", language="bash")
    assert result.exit_code == -signal.SIGTERM
    assert result.killed is None


async def test_the_timeout_kills_and_is_reported() -> None:
    started = time.monotonic()
    result = await run(make(), "import time; time.sleep(60)", timeout_s=0.5)
    assert time.monotonic() - started < 5
    assert result.timed_out
    assert result.killed == "timeout"
    assert result.exit_code == -signal.SIGKILL
    assert result.isolation["timeout_s"] == 0.5


async def test_a_request_timeout_is_capped_and_a_non_positive_one_means_the_default() -> None:
    box = make(default_timeout_s=7.0, max_timeout_s=9.0)
    assert (await run(box, "pass", timeout_s=0)).isolation["timeout_s"] == 7.0
    assert (await run(box, "pass", timeout_s=1e6)).isolation["timeout_s"] == 9.0


async def test_output_past_the_cap_is_cut_and_the_code_killed() -> None:
    box = make(output_limit_bytes=4096)
    result = await run(
        box,
        "import sys\nsys.stderr.write('e' * 100)\nsys.stderr.flush()\n"
        "while True: sys.stdout.write('x' * 1000)",
    )
    assert result.stdout == "x" * 4096
    assert result.stdout_truncated
    assert not result.stderr_truncated
    assert result.stderr == "e" * 100
    assert result.killed == "output limit"
    assert not result.timed_out


async def test_large_unread_stdin_does_not_block() -> None:
    result = await run(make(), "print('ignored stdin')", stdin=b"z" * (4 * 1024 * 1024))
    assert result.stdout == "ignored stdin\n"


async def test_artifacts_skip_symlinks_planted_by_the_host(shared_dir: Path) -> None:
    workspace = sandbox_owned(shared_dir / "ws")
    (workspace / "data").mkdir()
    (workspace / "data" / "kept.txt").write_text("k")
    (workspace / "to-usr-share").symlink_to("/usr/share")
    (workspace / "to-passwd").symlink_to("/etc/passwd")
    result = await run(make(), "open('made.txt', 'w').write('m')", workspace=workspace)
    assert result.artifacts == ("data/kept.txt", "made.txt")
    assert result.isolation["workspace"]["kept"] is True


async def test_a_deeply_nested_workspace_is_collected_without_recursion(
    shared_dir: Path,
) -> None:
    workspace = sandbox_owned(shared_dir / "ws")
    deep = "/".join(["d"] * 1200)  # deeper than Python's recursion limit
    try:
        result = await run(
            make(),
            f"mkdir -p {deep} && echo x > {deep}/deep.txt",
            language="bash",
            workspace=workspace,
        )
        assert result.exit_code == 0, result.stderr
        assert result.artifacts == (f"{deep}/deep.txt",)
        assert result.isolation["workspace"]["added_bytes"] > 0
    finally:
        await asyncio.to_thread(subprocess.run, ["rm", "-rf", str(workspace)], check=False)


async def test_cancelling_execute_kills_the_sandbox() -> None:
    marker = f"agent-sdk-cancel-{os.getpid()}-{time.monotonic_ns()}"
    task = asyncio.ensure_future(
        run(make(), f"import os, shutil\nos.execv(shutil.which('sleep'), ['{marker}', '60'])")
    )
    assert await asyncio.to_thread(wait_for_processes, marker, True, 10.0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await asyncio.to_thread(wait_for_processes, marker, False, 5.0)


async def test_executions_run_concurrently() -> None:
    box = make()
    results = await asyncio.gather(*(run(box, f"print({i} * 2)") for i in range(4)))
    assert [r.stdout for r in results] == ["0\n", "2\n", "4\n", "6\n"]


# --- each limit bites ------------------------------------------------------------------


async def test_cpu_time_limit_kills_a_spinning_process() -> None:
    started = time.monotonic()
    result = await run(make(cpu_time_s=1), "while True: pass", timeout_s=20)
    assert time.monotonic() - started < 10
    assert not result.timed_out
    assert result.exit_code == -signal.SIGXCPU
    assert result.killed == "cpu time limit"


async def test_address_space_limit_stops_allocation() -> None:
    result = await run(make(memory_bytes=128 * 1024 * 1024), "b = bytearray(512 * 1024 * 1024)")
    assert result.exit_code == 1
    assert "MemoryError" in result.stderr


async def test_process_limit_stops_forking() -> None:
    result = await run(
        make(max_processes=8),
        """
import os, time
n = 0
try:
    for _ in range(50):
        if os.fork() == 0:
            time.sleep(5)
            os._exit(0)
        n += 1
except OSError as exc:
    print(n, exc.errno)
""",
    )
    forked, error = result.stdout.split()
    assert int(forked) < 8
    assert int(error) == 11  # EAGAIN


async def test_file_size_limit_stops_a_big_write() -> None:
    result = await run(
        make(max_file_size_bytes=1024 * 1024),
        """
try:
    open('big', 'wb').write(b'x' * 2 * 1024 * 1024)
except OSError as exc:
    print(exc.errno)
""",
    )
    assert result.stdout.strip() == "27"  # EFBIG


async def test_open_files_limit_stops_opening() -> None:
    result = await run(
        make(max_open_files=32),
        """
handles = []
try:
    for _ in range(100):
        handles.append(open('/dev/null'))
except OSError as exc:
    print(len(handles), exc.errno)
""",
    )
    count, error = result.stdout.split()
    assert int(count) < 32
    assert int(error) == 24  # EMFILE


@pytest.mark.parametrize("directory", ["/tmp", "/dev/shm"])
async def test_tmp_and_shm_are_size_capped(directory: str) -> None:
    result = await run(
        make(tmp_size_bytes=1024 * 1024),
        f"""
try:
    with open('{directory}/fill', 'wb') as f:
        for _ in range(8):
            f.write(b'x' * 512 * 1024)
            f.flush()
except OSError as exc:
    print(exc.errno)
""",
    )
    assert result.stdout.strip() == "28"  # ENOSPC


async def test_a_fresh_workspace_is_a_capped_tmpfs() -> None:
    result = await run(
        make(workspace_quota_bytes=1024 * 1024),
        """
try:
    for i in range(8):
        with open(f'part{i}', 'wb') as f:
            f.write(b'x' * 512 * 1024)
except OSError as exc:
    print(i, exc.errno)
""",
    )
    written, error = result.stdout.split()
    assert int(written) <= 2
    assert int(error) == 28  # ENOSPC
    assert result.isolation["workspace"] == {
        "kind": "tmpfs",
        "quota_bytes": 1024 * 1024,
        "kept": False,
    }


async def test_a_given_workspace_over_its_quota_is_killed(shared_dir: Path) -> None:
    workspace = sandbox_owned(shared_dir / "ws")
    (workspace / "existing").write_bytes(b"y" * 2 * 1024 * 1024)  # the quota counts growth
    result = await run(
        make(workspace_quota_bytes=1024 * 1024),
        """
import time
for i in range(200):
    with open(f'part{i}', 'wb') as f:
        f.write(b'x' * 256 * 1024)
    time.sleep(0.02)
print('wrote everything')
""",
        workspace=workspace,
    )
    assert result.killed == "workspace quota"
    assert "wrote everything" not in result.stdout
    assert result.isolation["workspace"]["quota_exceeded"] is True
    assert len(list(workspace.glob("part*"))) < 60


# --- identity and view -----------------------------------------------------------------


async def test_code_runs_as_the_configured_uid_inside_and_on_the_host(shared_dir: Path) -> None:
    marker = f"agent-sdk-uid-{os.getpid()}-{time.monotonic_ns()}"
    box = make(uid=4242, gid=4343)
    task = asyncio.ensure_future(
        run(
            box,
            f"import os, shutil\nprint(os.getuid(), os.getgid(), flush=True)\n"
            f"os.spawnv(os.P_WAIT, shutil.which('sleep'), ['{marker}', '1'])",
        )
    )
    host_uids: set[int] = set()
    while not task.done():
        host_uids |= host_uids_of(marker)
        await asyncio.sleep(0.05)
    result = await task
    assert result.stdout.split() == ["4242", "4343"]
    expected = 4242 if AS_ROOT else os.getuid()
    assert host_uids == {expected}


async def test_the_sandbox_sees_only_the_system_and_its_own_paths() -> None:
    box = make()
    result = await run(
        box,
        "import os\nprint(sorted(os.listdir('/')))\n"
        "print(sorted(os.listdir('/root')) if os.path.isdir('/root') else [])",
    )
    top, root = (ast.literal_eval(line) for line in result.stdout.splitlines())
    assert set(top) <= {
        "bin", "dev", "etc", "lib", "lib32", "lib64", "libx32", "proc", "root", "run",
        "sbin", "tmp", "usr", "workspace", "opt", "home", "srv", "var",
    }  # fmt: skip
    prefixes = box.probe()["python"]
    if prefixes.startswith("/root/"):
        assert root == [prefixes.split("/")[2]]  # only the interpreter's directory
    else:
        assert root == []


async def test_extra_read_only_binds_are_visible_and_read_only(shared_dir: Path) -> None:
    data = shared_dir / "data"
    data.mkdir()
    (data / "table.csv").write_text("a,b\n")
    link = shared_dir / "data-link"
    link.symlink_to(data)
    result = await run(
        make(extra_ro_binds=[str(link)]),
        f"""
print(open('{link}/table.csv').read(), end='')
try:
    open('{link}/new.txt', 'w')
except OSError as exc:
    print(exc.errno)
""",
    )
    assert result.stdout == "a,b\n30\n"  # EROFS
    assert str(link) in result.isolation["filesystem"]["read_only"]


# --- helpers ---------------------------------------------------------------------------


def test_the_seccomp_filter_is_whole_instructions_for_supported_arches() -> None:
    for machine in ("x86_64", "aarch64", "amd64", "arm64"):
        program = seccomp.build_filter(machine)
        assert len(program) % 8 == 0
        assert len(program) // 8 < 4096  # BPF_MAXINSNS
    with pytest.raises(seccomp.SeccompUnsupportedError, match="riscv64"):
        seccomp.build_filter("riscv64")


def test_unreachable_ancestor_finds_the_outermost_unsearchable_directory(
    shared_dir: Path,
) -> None:
    closed = shared_dir / "closed"
    (closed / "inner" / "deeper").mkdir(parents=True)
    closed.chmod(0o700)
    target = str(closed / "inner" / "deeper")
    assert _host.unreachable_ancestor(target, 65534, 65534) == str(closed)
    assert _host.unreachable_ancestor(str(shared_dir / "x"), 65534, 65534) is None
    assert _host.can_reach(target, os.stat(closed).st_uid, 1)


def test_can_write_dir_follows_owner_group_other_bits(shared_dir: Path) -> None:
    directory = shared_dir / "d"
    directory.mkdir()
    directory.chmod(0o775)
    st = os.stat(directory)
    assert _host.can_write_dir(str(directory), st.st_uid + 1, st.st_gid)
    assert not _host.can_write_dir(str(directory), st.st_uid + 1, st.st_gid + 1)
    directory.chmod(0o757)
    assert _host.can_write_dir(str(directory), st.st_uid + 1, st.st_gid + 1)
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o757


async def test_read_only_mounts_are_readable_and_not_writable(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "mod.py").write_text("X = 1\n")
    project.chmod(0o755)
    tmp_path.chmod(0o755)
    sandbox = BwrapSandbox()
    code = (
        "import pathlib\n"
        "print(pathlib.Path('/project/mod.py').read_text().strip())\n"
        "try:\n"
        "    pathlib.Path('/project/new.py').write_text('y')\n"
        "    print('WROTE')\n"
        "except OSError as e:\n"
        "    print('refused', e.errno)\n"
    )
    result = await sandbox.execute(ExecutionRequest(code=code, mounts={"/project": project}))
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[0] == "X = 1"
    assert result.stdout.splitlines()[1].startswith("refused")
    assert not (project / "new.py").exists()
    assert "/project" in result.isolation["filesystem"]["read_only"]


@pytest.mark.parametrize(
    "point", ["/usr/share", "/tmp/x", "/workspace", "relative", "/etc", "/a/../b"]
)
async def test_a_mount_cannot_shadow_what_the_sandbox_provides(tmp_path: Path, point: str) -> None:
    with pytest.raises(SandboxError, match="mount point"):
        await BwrapSandbox().execute(ExecutionRequest(code="pass", mounts={point: tmp_path}))
