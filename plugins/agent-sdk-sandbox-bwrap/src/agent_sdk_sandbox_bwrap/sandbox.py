"""The ``bwrap`` sandbox: agent-submitted Python and shell code under bubblewrap.

Per execution (see the plugin's README for the reasons and the measurements):

* every namespace unshared (user, mount, PID, network, IPC, UTS, cgroup): no network at all,
  not even the host's loopback; a new PID namespace whose init dies with ``bwrap``, and
  ``bwrap`` dies with us (``--die-with-parent``), so killing it kills every descendant,
  ``setsid`` daemons included;
* a non-root uid/gid on the *host*, not only inside the namespace: when agent-sdk runs as root,
  bubblewrap itself is started as ``uid``/``gid`` (65534 by default), so host files keep their
  meaning and ``RLIMIT_NPROC`` is enforced (the kernel exempts uid 0 from it);
* a file system built from nothing: ``/usr`` (and the ``/bin``, ``/lib``... links) and the
  interpreter's prefix read-only, a few ``/etc`` files, fresh ``/proc`` and ``/dev``,
  size-capped tmpfs ``/tmp`` and ``/dev/shm``, the workspace read-write at ``/workspace``,
  everything else absent and the root read-only;
* ``--new-session``, ``--cap-drop ALL``, ``--disable-userns``, no-new-privileges, and a
  seccomp filter (:mod:`agent_sdk_sandbox_bwrap.seccomp`);
* rlimits set by ``prlimit`` *inside* the sandbox, as the sandbox uid, before the program
  starts: CPU seconds, address space, processes, file size, open files, no core dumps;
* a wall-clock timeout, stdout/stderr read as they come with a byte cap, a workspace quota;
* no secret can reach the code: ``bwrap`` is started with a scrubbed environment (its PID 1
  inside keeps that environment, readable at ``/proc/1/environ``), the program's environment
  is an allowlist, ``bwrap``'s options travel through a memory file rather than ``argv``,
  and no file descriptor is inherited besides the ones ``bwrap`` consumes.

If bubblewrap or any of these pieces is missing, :meth:`BwrapSandbox.probe` raises
:class:`~agent_sdk.errors.SandboxUnavailableError` saying what and how to fix it, and
:meth:`BwrapSandbox.execute` refuses to run: there is no unconfined fallback.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import Field, field_validator, model_validator

from agent_sdk.errors import SandboxError, SandboxUnavailableError
from agent_sdk.kinds.base import EmptyConfig
from agent_sdk.kinds.sandbox import ExecutionRequest, ExecutionResult, Sandbox
from agent_sdk_sandbox_bwrap import _host, seccomp

if TYPE_CHECKING:
    from agent_sdk_sandbox_bwrap._staging import Stager

__all__ = ["BwrapSandbox"]

MIN_BWRAP_VERSION = (0, 8, 0)
"""``--disable-userns`` (and ``--size`` for tmpfs) arrived in bubblewrap 0.8.0."""

WORKSPACE = "/workspace"
PROGRAM_DIR = "/run/agent-sdk"
SANDBOX_PATH = "/usr/local/bin:/usr/bin:/bin"
_HOST_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
_SYSTEM_DIRS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
_ETC_FILES = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime")
_ETC_DIRS = ("/etc/alternatives",)
_RESERVED_TREES = ("/proc", "/dev", WORKSPACE, PROGRAM_DIR)
_RESERVED_PATHS = ("/tmp", "/run", "/etc", "/usr")
_INSTALL_HINT = (
    "install bubblewrap >= 0.8: `apt-get install bubblewrap` (Debian/Ubuntu), "
    "`dnf install bubblewrap` (Fedora/RHEL), `apk add bubblewrap` (Alpine); or set "
    "[plugins.sandbox-bwrap] bwrap_path to its location"
)
_USERNS_HINT = (
    "unprivileged user namespaces are disabled: on Debian `sysctl -w "
    "kernel.unprivileged_userns_clone=1`; on Ubuntu 23.10+ either `sysctl -w "
    "kernel.apparmor_restrict_unprivileged_userns=0` or an AppArmor profile allowing "
    "bwrap `userns`; everywhere `sysctl -w user.max_user_namespaces=15000`"
)
_DRAIN_AFTER_KILL_S = 2.0
_KILL_GRACE_S = 1.0
_QUOTA_POLL_S = 0.25
_KIB = 1024
_MIB = 1024 * _KIB
_GIB = 1024 * _MIB


class BwrapSandbox(Sandbox):
    """Run Python and shell code under bubblewrap with every namespace unshared.

    The default sandbox (``[sandbox] backend = "bwrap"``); settings in
    ``[plugins.sandbox-bwrap]``. Probe once (:meth:`probe`); :meth:`execute` probes on first
    use if needed and never runs code when the probe fails.
    """

    name = "bwrap"
    description = "Run code under bubblewrap: no network, read-only system, seccomp, rlimits."

    class Config(EmptyConfig):
        """``[plugins.sandbox-bwrap]`` settings."""

        bwrap_path: str = Field(
            "bwrap", description="The bubblewrap executable: a path, or a name looked up on PATH."
        )
        cpu_time_s: int = Field(
            30, ge=1, description="CPU seconds each process may use (RLIMIT_CPU; SIGXCPU)."
        )
        memory_bytes: int = Field(
            1 * _GIB,
            ge=64 * _MIB,
            description="Address space of each process in bytes (RLIMIT_AS).",
        )
        max_processes: int = Field(
            64, ge=2, description="Processes and threads the sandbox uid may run (RLIMIT_NPROC)."
        )
        max_file_size_bytes: int = Field(
            64 * _MIB, ge=_KIB, description="Largest file a process may write (RLIMIT_FSIZE)."
        )
        max_open_files: int = Field(
            256, ge=16, description="Open file descriptors per process (RLIMIT_NOFILE)."
        )
        tmp_size_bytes: int = Field(
            64 * _MIB,
            ge=_MIB,
            description="Size of the in-memory /tmp, and separately of /dev/shm, in bytes.",
        )
        workspace_quota_bytes: int = Field(
            256 * _MIB,
            ge=_MIB,
            description=(
                "Bytes one execution may add to its workspace: a fresh workspace is a tmpfs "
                "of this size; a given one is watched and the code killed past it."
            ),
        )
        output_limit_bytes: int = Field(
            1 * _MIB,
            ge=_KIB,
            description="Bytes kept of stdout and of stderr each; past it the code is killed.",
        )
        default_timeout_s: float = Field(
            30.0,
            gt=0,
            description=(
                "Wall-clock limit in seconds for `agent-sdk sandbox run` without --timeout "
                "and for requests whose timeout_s is 0 or less."
            ),
        )
        max_timeout_s: float = Field(
            600.0, gt=0, description="Upper bound in seconds on any request's timeout_s."
        )
        env_allowlist: list[str] = Field(
            default_factory=lambda: [
                "LANG",
                "LC_ALL",
                "LC_CTYPE",
                "TZ",
                "PYTHONUNBUFFERED",
                "PYTHONIOENCODING",
                "PYTHONHASHSEED",
            ],
            description=(
                "Names of variables a request may set in the code's environment "
                "(ExecutionRequest.env); a request naming any other is refused."
            ),
        )
        uid: int = Field(
            65534,
            ge=1,
            description=(
                "Non-root uid the code runs as, inside the sandbox and, when agent-sdk runs "
                "as root, on the host too."
            ),
        )
        gid: int = Field(65534, ge=1, description="Non-root gid the code runs as (like uid).")
        python: str | None = Field(
            None,
            description=(
                "Python interpreter for language 'python' (default: the real interpreter "
                "behind the running one, symlinks and shims resolved). Its prefix is "
                "bound read-only."
            ),
        )
        python_site_packages: bool = Field(
            False,
            description=(
                "Let sandboxed Python import the interpreter's site-packages (runs without "
                "-S). Off: the standard library only, and a faster start."
            ),
        )
        extra_ro_binds: list[str] = Field(
            default_factory=list,
            description=(
                "Absolute host paths also made visible, read-only, at the same path "
                "(data sets, a tool chain)."
            ),
        )

        @field_validator("env_allowlist")
        @classmethod
        def _names(cls, value: list[str]) -> list[str]:
            bad = [n for n in value if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", n)]
            if bad:
                raise ValueError(f"not environment variable names: {bad}")
            return value

        @field_validator("extra_ro_binds")
        @classmethod
        def _binds(cls, value: list[str]) -> list[str]:
            for path in value:
                normal = os.path.normpath(path)
                if not os.path.isabs(path) or normal == "/":
                    raise ValueError(f"{path!r}: expected an absolute path other than /")
                for reserved in _RESERVED_TREES:
                    if normal == reserved or normal.startswith(reserved + "/"):
                        raise ValueError(f"{path!r}: {reserved} is managed by the sandbox")
                if normal in _RESERVED_PATHS:
                    raise ValueError(f"{path!r}: {normal} is managed by the sandbox")
            return [os.path.normpath(p) for p in value]

        @model_validator(mode="after")
        def _timeouts(self) -> BwrapSandbox.Config:
            if self.default_timeout_s > self.max_timeout_s:
                raise ValueError(
                    f"default_timeout_s ({self.default_timeout_s}) exceeds max_timeout_s "
                    f"({self.max_timeout_s})"
                )
            return self

    def __init__(self, config: Config | None = None) -> None:
        super().__init__(config)
        self._plan: _Plan | None = None
        self._lock = threading.Lock()

    # --- probe ---------------------------------------------------------------------------

    def probe(self) -> dict[str, Any]:
        """Check once that bubblewrap and every isolation piece work here; cache the answer.

        Runs ``python -c pass`` through the complete sandbox (namespaces, uid, seccomp,
        rlimits, binds). A failure is not cached: fix the host and probe again.

        Raises:
            SandboxUnavailableError: what is missing, and how to fix it.
        """
        with self._lock:
            if self._plan is None:
                plan = self._make_plan()
                self._check_plan(plan)
                self._plan = plan
            return self._plan.report()

    def _make_plan(self) -> _Plan:
        cfg = self.config
        if not sys.platform.startswith("linux"):
            raise SandboxUnavailableError(
                f"the bwrap sandbox needs Linux namespaces; this is {sys.platform}",
                hint="run on Linux, or set [sandbox] backend to another sandbox",
            )
        arch = seccomp.supported_arch()
        if arch is None:
            raise SandboxUnavailableError(
                "the bwrap sandbox has no seccomp filter for this machine's architecture "
                f"({os.uname().machine}); it supports x86_64 and aarch64",
                hint="run on x86_64 or aarch64, or set [sandbox] backend to another sandbox",
            )
        bwrap = _which(cfg.bwrap_path)
        if bwrap is None:
            raise SandboxUnavailableError(
                f"bubblewrap not found: [plugins.sandbox-bwrap] bwrap_path = {cfg.bwrap_path!r} "
                "is not an executable file nor on PATH",
                hint=_INSTALL_HINT,
            )
        version = _bwrap_version(bwrap)
        if version < MIN_BWRAP_VERSION:
            found = ".".join(map(str, version)) if version else "unknown"
            raise SandboxUnavailableError(
                f"{bwrap} is bubblewrap {found}; the sandbox needs >= 0.8.0 (--disable-userns)",
                hint=_INSTALL_HINT,
            )
        prlimit = _which("prlimit", SANDBOX_PATH)
        if prlimit is None or not _visible_in_sandbox(prlimit):
            raise SandboxUnavailableError(
                "prlimit (util-linux) not found under /usr or /bin: the sandbox sets its "
                "rlimits with it",
                hint="apt-get install util-linux (Debian/Ubuntu), dnf install util-linux",
            )
        bash = _which("bash", SANDBOX_PATH)
        if bash is not None and not _visible_in_sandbox(bash):
            bash = None
        python = self._python()
        for path in cfg.extra_ro_binds:
            if not os.path.exists(path):
                raise SandboxUnavailableError(
                    f"[plugins.sandbox-bwrap] extra_ro_binds: {path} does not exist",
                    hint="create it or remove it from extra_ro_binds",
                )
        as_root = os.geteuid() == 0
        ro_binds = [(p, p) for p in python.prefixes if not _under_system_dirs(p)]
        ro_binds += [(os.path.realpath(p), p) for p in cfg.extra_ro_binds]
        plan = _Plan(
            bwrap=bwrap,
            version=version,
            arch=arch,
            seccomp_filter=seccomp.build_filter(),
            prlimit=prlimit,
            bash=bash,
            python=python,
            ro_binds=tuple(dict.fromkeys(ro_binds)),
            host_uid=cfg.uid if as_root else os.getuid(),
            host_gid=cfg.gid if as_root else os.getgid(),
            switch_user=as_root,
            system_dirs=_system_dirs(),
            python_flags=("-B", "-s") if cfg.python_site_packages else ("-B", "-s", "-S"),
        )
        return plan

    def _python(self) -> _host.PythonInstall:
        configured = self.config.python
        candidate = configured or os.path.realpath(sys.executable)
        if configured and "/" not in configured:
            candidate = _which(configured) or configured
        try:
            return _host.inspect_python(candidate)
        except (OSError, ValueError, subprocess.SubprocessError) as exc:
            where = "[plugins.sandbox-bwrap] python" if configured else "the running interpreter"
            raise SandboxUnavailableError(
                f"cannot use {candidate} ({where}) as the sandbox's Python: {exc}",
                hint="set [plugins.sandbox-bwrap] python to a Python 3 interpreter, e.g. "
                "/usr/bin/python3",
            ) from None

    def _check_plan(self, plan: _Plan) -> None:
        """Run ``python -c pass`` through the complete sandbox; raise what went wrong."""
        launch = _prepare(plan, self.config, _Job.probe())
        try:
            completed = subprocess.run(
                launch.argv,
                input=b"",
                capture_output=True,
                env=dict(_HOST_ENV),
                pass_fds=launch.pass_fds,
                close_fds=True,
                cwd="/",
                timeout=30,
                check=False,
                **launch.spawn_kwargs(),
            )
        except (OSError, subprocess.SubprocessError) as exc:
            raise SandboxUnavailableError(
                f"cannot start {plan.bwrap}: {exc}", hint=_INSTALL_HINT
            ) from None
        finally:
            launch.close_child_ends()
        status = launch.read_status()
        launch.close()
        stderr = completed.stderr.decode(errors="replace").strip()
        if status.get("exit-code") == 0 and completed.returncode == 0:
            return
        raise _probe_failure(plan, self.config, status, completed.returncode, stderr)

    async def _ready_plan(self) -> _Plan:
        if self._plan is None:
            await asyncio.to_thread(self.probe)
        assert self._plan is not None
        return self._plan

    # --- execute -------------------------------------------------------------------------

    async def execute(self, request: ExecutionRequest) -> ExecutionResult:
        """Run *request* in a fresh sandbox; see the module docstring for what is enforced.

        ``exit_code`` is the program's status; a death by signal N is ``-N`` (bubblewrap
        reports it as 128+N, so an explicit ``exit(137)`` also reads as ``-9``).

        Raises:
            SandboxUnavailableError: the probe fails (nothing runs).
            SandboxError: the request is invalid (language, an environment variable not on
                ``env_allowlist``, a workspace the sandbox uid cannot write) or bubblewrap
                failed to set the sandbox up.
        """
        plan = await self._ready_plan()
        job = _Job.from_request(plan, self.config, request)
        if job.workspace is not None:
            job.baseline_bytes = await asyncio.to_thread(_host.tree_usage_bytes, job.workspace)
        launch = _prepare(plan, self.config, job)
        started = time.monotonic()
        try:
            process = await asyncio.create_subprocess_exec(
                *launch.argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=dict(_HOST_ENV),
                pass_fds=launch.pass_fds,
                close_fds=True,
                cwd="/",
                start_new_session=True,
                **launch.spawn_kwargs(),
            )
        except (OSError, subprocess.SubprocessError) as exc:
            launch.close()
            raise SandboxError(f"cannot start {plan.bwrap}: {exc}") from exc
        finally:
            launch.close_child_ends()
        try:
            outcome = await _supervise(process, launch, job, self.config)
        finally:
            status = launch.read_status()
            launch.close()
        duration = time.monotonic() - started
        return _result(plan, self.config, job, outcome, status, duration, launch.staged)


# --- plan: what the probe found ------------------------------------------------------------


@dataclass(frozen=True)
class _Plan:
    bwrap: str
    version: tuple[int, ...]
    arch: str
    seccomp_filter: bytes
    prlimit: str
    bash: str | None
    python: _host.PythonInstall
    ro_binds: tuple[tuple[str, str], ...]
    host_uid: int
    host_gid: int
    switch_user: bool
    system_dirs: tuple[tuple[str, str, str], ...]
    python_flags: tuple[str, ...]

    @property
    def ro_sources(self) -> tuple[str, ...]:
        """Host paths bound read-only besides the system (resolved)."""
        return tuple(source for source, _ in self.ro_binds)

    def stage_points(self, sources: tuple[str, ...]) -> list[str]:
        """Directories to cover with a tmpfs so that *sources* become reachable (root only)."""
        if not self.switch_user:
            return []
        points = {_host.unreachable_ancestor(s, self.host_uid, self.host_gid) for s in sources}
        return sorted(p for p in points if p is not None)

    def report(self) -> dict[str, Any]:
        return {
            "bwrap": self.bwrap,
            "bwrap_version": ".".join(map(str, self.version)),
            "user_namespaces": True,
            "network": "none",
            "seccomp": True,
            "seccomp_arch": self.arch,
            "host_uid": self.host_uid,
            "host_gid": self.host_gid,
            "staged_paths": [s for s in self.ro_sources if self.stage_points((s,))],
            "prlimit": self.prlimit,
            "python": self.python.executable,
            "python_version": self.python.version,
            "bash": self.bash,
        }


def _which(name: str, path: str | None = None) -> str | None:
    if "/" in name:
        found = name if os.path.isfile(name) and os.access(name, os.X_OK) else None
    else:
        search = path or f"{os.environ.get('PATH', '')}:{_HOST_ENV['PATH']}"
        found = shutil.which(name, path=search)
    return os.path.realpath(found) if found else None


def _bwrap_version(bwrap: str) -> tuple[int, ...]:
    try:
        out = subprocess.run(
            [bwrap, "--version"],
            capture_output=True,
            env=dict(_HOST_ENV),
            timeout=10,
            check=False,
            stdin=subprocess.DEVNULL,
        ).stdout.decode(errors="replace")
    except (OSError, subprocess.SubprocessError) as exc:
        raise SandboxUnavailableError(f"cannot run {bwrap}: {exc}", hint=_INSTALL_HINT) from None
    match = re.search(r"(\d+)\.(\d+)\.(\d+)", out)
    return tuple(int(g) for g in match.groups()) if match else ()


def _system_dirs() -> tuple[tuple[str, str, str], ...]:
    """``(kind, source, dest)`` for /usr and the top-level /bin, /lib... of this host."""
    if not os.path.isdir("/usr"):
        raise SandboxUnavailableError("/usr is missing: nothing to run programs from")
    entries = [("ro-bind", "/usr", "/usr")]
    for path in _SYSTEM_DIRS:
        if os.path.islink(path):
            entries.append(("symlink", os.readlink(path), path))
        elif os.path.isdir(path):
            entries.append(("ro-bind", path, path))
    return tuple(entries)


def _under_system_dirs(path: str) -> bool:
    roots = ("/usr", *_SYSTEM_DIRS)
    return any(path == r or path.startswith(r + "/") for r in roots)


def _visible_in_sandbox(path: str) -> bool:
    return _under_system_dirs(os.path.realpath(path))


def _probe_failure(
    plan: _Plan, cfg: BwrapSandbox.Config, status: dict[str, Any], code: int, stderr: str
) -> SandboxUnavailableError:
    detail = stderr[-600:] or f"exit status {code}"
    if "exit-code" not in status:
        lowered = stderr.lower()
        if "unknown option" in lowered or lowered.startswith("usage:"):
            hint = _INSTALL_HINT
        elif any(
            s in lowered
            for s in (
                "namespace",
                "uid map",
                "uid_map",
                "setting up uid",
                "operation not permitted",
            )
        ):
            hint = _USERNS_HINT
        elif "can't find source path" in lowered:
            hint = (
                f"a bound path is not readable by uid {plan.host_uid}; make it readable or "
                "change [plugins.sandbox-bwrap] python / extra_ro_binds"
            )
        else:
            hint = "run the failing bwrap command by hand to see why (see the message above)"
        return SandboxUnavailableError(
            f"bubblewrap ({plan.bwrap}) cannot set up the sandbox on this machine: {detail}",
            hint=hint,
        )
    return SandboxUnavailableError(
        f"the sandbox started but {plan.python.executable} failed inside it "
        f"(exit {status.get('exit-code')}): {detail}",
        hint=f"the interpreter and its prefix must be readable by uid {cfg.uid}; set "
        "[plugins.sandbox-bwrap] python to another interpreter, e.g. /usr/bin/python3",
    )


# --- one execution -----------------------------------------------------------------------


@dataclass
class _Job:
    """One execution, validated: the program, its environment, workspace and limits."""

    code: bytes
    language: str
    env: dict[str, str]
    stdin: bytes
    timeout_s: float
    workspace: str | None
    baseline_bytes: int = 0
    mounts: tuple[tuple[str, str], ...] = ()

    @classmethod
    def probe(cls) -> _Job:
        """``pass`` in Python: exercises every piece of the sandbox."""
        return cls(b"pass\n", "python", {}, b"", 30.0, None)

    @classmethod
    def from_request(cls, plan: _Plan, cfg: BwrapSandbox.Config, request: ExecutionRequest) -> _Job:
        if request.language not in ("python", "bash"):
            raise SandboxError(
                f"language {request.language!r} is not supported; expected 'python' or 'bash'"
            )
        if request.language == "bash" and plan.bash is None:
            raise SandboxError(
                "language 'bash' needs bash under /usr or /bin; it is not installed",
                hint="apt-get install bash",
            )
        refused = sorted(set(request.env) - set(cfg.env_allowlist))
        if refused:
            raise SandboxError(
                f"environment variables not allowed in the sandbox: {', '.join(refused)} "
                f"(env_allowlist: {', '.join(cfg.env_allowlist) or 'empty'})",
                hint="add them to [plugins.sandbox-bwrap] env_allowlist if they are safe to "
                "show to the code",
            )
        for key, value in request.env.items():
            if "\0" in value:
                raise SandboxError(f"environment variable {key} contains a NUL character")
        timeout = request.timeout_s if request.timeout_s > 0 else cfg.default_timeout_s
        timeout = min(timeout, cfg.max_timeout_s)
        workspace = None
        if request.workspace is not None:
            workspace = _check_workspace(plan, str(request.workspace))
        return cls(
            code=request.code.encode(),
            language=request.language,
            env=dict(request.env),
            stdin=request.stdin,
            timeout_s=timeout,
            workspace=workspace,
            mounts=_check_mounts(request.mounts),
        )


_MOUNT_FORBIDDEN = ("/", WORKSPACE, PROGRAM_DIR, "/proc", "/dev", "/usr", *_SYSTEM_DIRS)


def _check_mounts(mounts: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """Validate the request's read-only mounts: ``((host path, mount point), ...)``.

    A mount point must be an absolute, normalised path that neither is nor lies under one the
    sandbox itself provides (/, /workspace, /proc, /dev, /usr, /bin, /lib..., /tmp, /run,
    /etc), so a mount can never shadow the system the code runs on.
    """
    checked = []
    for point, host in sorted(mounts.items()):
        point = str(point)
        normal = os.path.normpath(point)
        if not point.startswith("/") or normal != point or "\0" in point:
            raise SandboxError(
                f"mount point {point!r} must be an absolute, normalised path such as /project"
            )
        if normal in _MOUNT_FORBIDDEN or any(
            normal == root or normal.startswith(root.rstrip("/") + "/")
            for root in (*_MOUNT_FORBIDDEN[1:], *_RESERVED_PATHS)
        ):
            raise SandboxError(
                f"mount point {point} would shadow a path the sandbox provides",
                hint="mount below a new top-level directory, e.g. /project or /data",
            )
        source = os.path.realpath(str(host))
        if not os.path.exists(source):
            raise SandboxError(f"mount {point}: host path {host} does not exist")
        checked.append((source, normal))
    return tuple(checked)


def _check_workspace(plan: _Plan, given: str) -> str:
    path = os.path.realpath(given)
    if not os.path.isdir(path):
        raise SandboxError(
            f"workspace {given} is not an existing directory",
            hint="create it first, or pass no workspace for a fresh temporary one",
        )
    if plan.switch_user:
        writable = _host.can_write_dir(path, plan.host_uid, plan.host_gid)
    else:
        writable = os.access(path, os.W_OK | os.X_OK)
    if not writable:
        st = os.stat(path)
        raise SandboxError(
            f"workspace {path} is not writable by the sandbox's uid {plan.host_uid} "
            f"(owner uid {st.st_uid}, gid {st.st_gid}, mode {st.st_mode & 0o7777:o})",
            hint=f"chown -R {plan.host_uid}:{plan.host_gid} {path} (the code runs as that "
            "user), or pass no workspace for a fresh temporary one",
        )
    return path


@dataclass
class _Launch:
    """The command line and the descriptors handed to bubblewrap for one execution."""

    argv: list[str]
    pass_fds: tuple[int, ...]
    status_read_fd: int
    child_fds: list[int]
    user: int | None
    group: int | None
    stager: Stager | None = None
    staged: list[str] = field(default_factory=list)
    status_data: bytes = b""

    def spawn_kwargs(self) -> dict[str, Any]:
        """How the child becomes the sandbox uid: staged (see _staging) or plain setuid."""
        if self.stager is not None:
            return {"preexec_fn": self.stager}
        if self.user is None:
            return {}
        return {"user": self.user, "group": self.group, "extra_groups": []}

    def close_child_ends(self) -> None:
        """Close our copies of the descriptors only the child needs (after it started)."""
        for fd in self.child_fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self.child_fds = []

    def read_status(self) -> dict[str, Any]:
        """What bwrap wrote so far on ``--json-status-fd``: ``child-pid`` once the sandbox
        exists, ``exit-code`` once its program ended (absent if setup failed)."""
        if self.status_read_fd >= 0:
            os.set_blocking(self.status_read_fd, False)
            with contextlib.suppress(BlockingIOError, OSError):
                while chunk := os.read(self.status_read_fd, 65536):
                    self.status_data += chunk
        status: dict[str, Any] = {}
        decoder = json.JSONDecoder()
        text = self.status_data.decode(errors="replace")
        index = 0
        while True:
            while index < len(text) and text[index].isspace():
                index += 1
            if index >= len(text):
                break
            try:
                value, index = decoder.raw_decode(text, index)
            except ValueError:
                break
            if isinstance(value, dict):
                status.update(value)
        return status

    def close(self) -> None:
        self.close_child_ends()
        if self.status_read_fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self.status_read_fd)
            self.status_read_fd = -1


def _memfd(name: str, data: bytes) -> int:
    fd = os.memfd_create(name)
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def _etc_files(uid: int, gid: int) -> dict[str, bytes]:
    return {
        "/etc/passwd": (
            f"root:x:0:0:root:/nonexistent:/usr/sbin/nologin\n"
            f"sandbox:x:{uid}:{gid}:sandbox:{WORKSPACE}:/bin/sh\n"
        ).encode(),
        "/etc/group": f"root:x:0:\nsandbox:x:{gid}:\n".encode(),
        "/etc/hosts": b"127.0.0.1\tlocalhost sandbox\n::1\tlocalhost sandbox\n",
        "/etc/nsswitch.conf": b"passwd: files\ngroup: files\nhosts: files\n",
    }


def _rlimits(cfg: BwrapSandbox.Config) -> dict[str, int]:
    return {
        "cpu_time_s": cfg.cpu_time_s,
        "address_space_bytes": cfg.memory_bytes,
        "processes": cfg.max_processes,
        "file_size_bytes": min(cfg.max_file_size_bytes, cfg.workspace_quota_bytes),
        "open_files": cfg.max_open_files,
        "core_bytes": 0,
    }


def _prepare(plan: _Plan, cfg: BwrapSandbox.Config, job: _Job) -> _Launch:
    """Build bubblewrap's arguments and descriptors for *job*."""
    opened: list[int] = []
    try:
        return _prepare_fds(plan, cfg, job, opened)
    except BaseException:
        for fd in opened:
            with contextlib.suppress(OSError):
                os.close(fd)
        raise


def _prepare_fds(plan: _Plan, cfg: BwrapSandbox.Config, job: _Job, opened: list[int]) -> _Launch:
    def memfd(name: str, data: bytes) -> str:
        fd = _memfd(name, data)
        opened.append(fd)
        return str(fd)

    status_read, status_write = os.pipe()
    opened += [status_read, status_write]
    uid, gid = cfg.uid, cfg.gid
    args = [
        "--unshare-all",
        "--unshare-user",
        "--uid",
        str(uid),
        "--gid",
        str(gid),
        "--hostname",
        "sandbox",
        "--die-with-parent",
        "--new-session",
        "--cap-drop",
        "ALL",
        "--disable-userns",
        "--json-status-fd",
        str(status_write),
        "--seccomp",
        memfd("agent-sdk-seccomp", plan.seccomp_filter),
    ]
    for kind, source, dest in plan.system_dirs:
        args += [f"--{kind}", source, dest]
    for path in _ETC_FILES:
        args += ["--ro-bind-try", path, path]
    for path in _ETC_DIRS:
        args += ["--ro-bind-try", path, path]
    for path, content in _etc_files(uid, gid).items():
        args += ["--ro-bind-data", memfd("agent-sdk-etc", content), path]
    args += ["--proc", "/proc", "--dev", "/dev"]
    args += ["--perms", "1777", "--size", str(cfg.tmp_size_bytes), "--tmpfs", "/dev/shm"]
    args += ["--remount-ro", "/dev"]
    args += ["--perms", "1777", "--size", str(cfg.tmp_size_bytes), "--tmpfs", "/tmp"]
    if job.workspace is None:
        args += ["--perms", "0755", "--size", str(cfg.workspace_quota_bytes)]
        args += ["--tmpfs", WORKSPACE]
    else:
        args += ["--bind", job.workspace, WORKSPACE]
    for source, dest in plan.ro_binds:  # after /tmp: a path below it is bound into the tmpfs
        args += ["--ro-bind", source, dest]
    for source, dest in job.mounts:  # the request's read-only mounts (declared by a workflow)
        args += ["--ro-bind", source, dest]
    suffix = ".py" if job.language == "python" else ".sh"
    program = f"{PROGRAM_DIR}/main{suffix}"
    args += ["--ro-bind-data", memfd("agent-sdk-program", job.code), program]
    args += ["--remount-ro", "/", "--chdir", WORKSPACE, "--clearenv"]
    python_bin = os.path.dirname(plan.python.executable)
    path_var = SANDBOX_PATH if _under_system_dirs(python_bin) else f"{python_bin}:{SANDBOX_PATH}"
    env = {
        "PATH": path_var,
        "HOME": WORKSPACE,
        "TMPDIR": "/tmp",
        "LANG": "C.UTF-8",
        "USER": "sandbox",
        "LOGNAME": "sandbox",
        "PYTHONPATH": WORKSPACE,
        **job.env,
    }
    for key, value in env.items():
        args += ["--setenv", key, value]
    limits = _rlimits(cfg)
    command = [
        plan.prlimit,
        f"--cpu={limits['cpu_time_s']}:{limits['cpu_time_s'] + 1}",
        f"--as={limits['address_space_bytes']}",
        f"--nproc={limits['processes']}",
        f"--fsize={limits['file_size_bytes']}",
        f"--nofile={limits['open_files']}",
        "--core=0",
        "--",
    ]
    if job.language == "python":
        command += [plan.python.executable, *plan.python_flags, program]
    else:
        assert plan.bash is not None
        command += [plan.bash, "--noprofile", "--norc", program]
    # The options (environment values included) travel in a memory file, not in argv, which
    # host `ps` shows to every user; the command itself holds only paths and limits.
    args_fd = memfd("agent-sdk-bwrap-args", b"".join(a.encode() + b"\0" for a in args))
    inner = [plan.bwrap, "--args", args_fd, "--", *command]

    staged_sources = [
        *plan.ro_sources,
        *([job.workspace] if job.workspace else []),
        *(source for source, _ in job.mounts),
    ]
    points = plan.stage_points(tuple(staged_sources))
    staged = [
        s for s in staged_sources if _host.unreachable_ancestor(s, plan.host_uid, plan.host_gid)
    ]
    stager = None
    if points:
        # Root, and a bound path sits below a directory the sandbox uid cannot search
        # (/root/.pyenv/...): see agent_sdk_sandbox_bwrap._staging.
        from agent_sdk_sandbox_bwrap._staging import Stager

        stager = Stager(plan.host_uid, plan.host_gid, points, staged)
    child_fds = [fd for fd in opened if fd != status_read]
    return _Launch(
        argv=inner,
        pass_fds=tuple(child_fds),
        status_read_fd=status_read,
        child_fds=child_fds,
        user=plan.host_uid if plan.switch_user else None,
        group=plan.host_gid if plan.switch_user else None,
        stager=stager,
        staged=staged,
    )


@dataclass
class _Outcome:
    returncode: int | None
    stdout: bytes
    stderr: bytes
    stdout_truncated: bool
    stderr_truncated: bool
    killed: str | None
    timed_out: bool
    workspace_used_bytes: int | None


async def _supervise(
    process: asyncio.subprocess.Process, launch: _Launch, job: _Job, cfg: BwrapSandbox.Config
) -> _Outcome:
    """Feed stdin, collect capped output, enforce the timeout and quota, reap."""
    cap = cfg.output_limit_bytes
    buffers = {"stdout": bytearray(), "stderr": bytearray()}
    truncated = {"stdout": False, "stderr": False}
    killed: list[str] = []

    def kill(reason: str) -> None:
        if not killed:
            killed.append(reason)
        _kill_sandbox(process, launch)

    async def pump(name: str, stream: asyncio.StreamReader | None) -> None:
        if stream is None:
            return
        buffer = buffers[name]
        while chunk := await stream.read(65536):
            room = cap - len(buffer)
            if len(chunk) > room:
                buffer += chunk[:room]
                if not truncated[name]:
                    truncated[name] = True
                    kill("output limit")
            else:
                buffer += chunk
        # read to the end (discarding past the cap): asyncio reports the exit only once
        # every pipe is closed

    async def feed() -> None:
        if process.stdin is None:
            return
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            if job.stdin:
                process.stdin.write(job.stdin)
                await process.stdin.drain()
            process.stdin.close()

    async def watch_quota() -> None:
        assert job.workspace is not None
        limit = job.baseline_bytes + cfg.workspace_quota_bytes
        while True:
            await asyncio.sleep(_QUOTA_POLL_S)
            used = await asyncio.to_thread(_host.tree_usage_bytes, job.workspace)
            if used > limit:
                kill("workspace quota")
                return

    tasks = [
        asyncio.ensure_future(pump("stdout", process.stdout)),
        asyncio.ensure_future(pump("stderr", process.stderr)),
        asyncio.ensure_future(feed()),
    ]
    if job.workspace is not None:
        tasks.append(asyncio.ensure_future(watch_quota()))
    waiter = asyncio.ensure_future(process.wait())
    timed_out = False
    try:
        done, _ = await asyncio.wait({waiter}, timeout=job.timeout_s)
        if not done:
            timed_out = True
            kill("timeout")
        if killed:
            # the sandbox's init was killed: bwrap reaps it and exits at once
            done, _ = await asyncio.wait({waiter}, timeout=_KILL_GRACE_S)
            if not done:
                _kill_group(process)
        done, _ = await asyncio.wait({waiter}, timeout=_DRAIN_AFTER_KILL_S)
        if not done:
            # exited, but something outside the sandbox still holds a pipe: stop waiting
            _kill_group(process)
            transport = getattr(process, "_transport", None)
            if transport is not None:
                transport.close()
            await asyncio.wait({waiter}, timeout=_DRAIN_AFTER_KILL_S)
        await asyncio.wait(tasks[:2], timeout=_DRAIN_AFTER_KILL_S)
    finally:
        if process.returncode is None:
            kill("cancelled")
            _kill_group(process)
        for task in [*tasks, waiter]:
            task.cancel()
        await asyncio.gather(*tasks, waiter, return_exceptions=True)
        if process.stdin is not None:
            process.stdin.close()
    used = None
    if job.workspace is not None:
        used = await asyncio.to_thread(_host.tree_usage_bytes, job.workspace)
    return _Outcome(
        returncode=process.returncode,
        stdout=bytes(buffers["stdout"]),
        stderr=bytes(buffers["stderr"]),
        stdout_truncated=truncated["stdout"],
        stderr_truncated=truncated["stderr"],
        killed=killed[0] if killed else None,
        timed_out=timed_out,
        workspace_used_bytes=used,
    )


def _kill_sandbox(process: asyncio.subprocess.Process, launch: _Launch) -> None:
    """SIGKILL the sandbox's init (its PID namespace dies with it); bwrap then exits.

    Killing init rather than bwrap lets bwrap reap it, so nothing is left as a zombie. The
    PID comes from bwrap's status descriptor; it is checked to be bwrap's child (or
    grandchild, behind the staging bwrap) and signalled through a pidfd, so a recycled PID
    is never hit. Without it, the whole process group is killed instead.
    """
    child = launch.read_status().get("child-pid")
    if not isinstance(child, int) or process.returncode is not None:
        _kill_group(process)
        return
    try:
        pidfd = os.pidfd_open(child)
    except OSError:
        _kill_group(process)
        return
    try:
        if _descends_from(child, process.pid):
            signal.pidfd_send_signal(pidfd, signal.SIGKILL)
        else:
            _kill_group(process)
    except OSError:
        _kill_group(process)
    finally:
        os.close(pidfd)


def _descends_from(pid: int, ancestor: int, depth: int = 3) -> bool:
    for _ in range(depth):
        try:
            with open(f"/proc/{pid}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            return False
        pid = int(fields[1])
        if pid == ancestor:
            return True
    return False


def _kill_group(process: asyncio.subprocess.Process) -> None:
    """SIGKILL bwrap and its process group (``--die-with-parent`` takes the sandbox down)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        process.kill()


def _exit_code(status: dict[str, Any], outcome: _Outcome) -> int | None:
    if outcome.killed is not None:
        return -signal.SIGKILL
    code = status.get("exit-code")
    if not isinstance(code, int):
        return outcome.returncode
    if 128 < code < 128 + signal.NSIG:
        return -(code - 128)
    return code


def _result(
    plan: _Plan,
    cfg: BwrapSandbox.Config,
    job: _Job,
    outcome: _Outcome,
    status: dict[str, Any],
    duration: float,
    staged: list[str],
) -> ExecutionResult:
    stderr = outcome.stderr.decode(errors="replace")
    if outcome.killed is None and "exit-code" not in status:
        raise SandboxError(
            f"bubblewrap failed to set up the sandbox (exit {outcome.returncode}): "
            f"{stderr.strip()[-600:]}",
            hint="probe() passed earlier; check the workspace path and the host's state",
        )
    exit_code = _exit_code(status, outcome)
    killed = outcome.killed
    if killed is None and exit_code == -signal.SIGXCPU:
        killed = "cpu time limit"
    elif killed is None and exit_code == -signal.SIGXFSZ:
        killed = "file size limit"
    artifacts: tuple[str, ...] = ()
    workspace: dict[str, Any]
    if job.workspace is None:
        workspace = {"kind": "tmpfs", "quota_bytes": cfg.workspace_quota_bytes, "kept": False}
    else:
        artifacts = _host.list_regular_files(job.workspace)
        used = outcome.workspace_used_bytes or 0
        workspace = {
            "kind": "bind",
            "path": job.workspace,
            "quota_bytes": cfg.workspace_quota_bytes,
            "added_bytes": max(used - job.baseline_bytes, 0),
            "quota_exceeded": used - job.baseline_bytes > cfg.workspace_quota_bytes,
            "kept": True,
        }
    isolation = {
        "backend": "bwrap",
        "bwrap_version": ".".join(map(str, plan.version)),
        "namespaces": ["user", "mount", "pid", "network", "ipc", "uts", "cgroup"],
        "network": "none",
        "uid": cfg.uid,
        "gid": cfg.gid,
        "host_uid": plan.host_uid,
        "capabilities": [],
        "no_new_privileges": True,
        "new_session": True,
        "die_with_parent": True,
        "user_namespaces_disabled": True,
        "seccomp": {"arch": plan.arch, "denied": sorted(seccomp.DENIED_SYSCALLS)},
        "rlimits": _rlimits(cfg),
        "filesystem": {
            "read_only": [
                "/",
                "/usr",
                *(dest for _, dest in plan.ro_binds),
                *(dest for _, dest in job.mounts),
            ],
            "tmpfs_bytes": {"/tmp": cfg.tmp_size_bytes, "/dev/shm": cfg.tmp_size_bytes},
            "staged": staged,
        },
        "workspace": workspace,
        "timeout_s": job.timeout_s,
        "output_limit_bytes": cfg.output_limit_bytes,
        "env": sorted(
            {"PATH", "HOME", "TMPDIR", "LANG", "USER", "LOGNAME", "PYTHONPATH", *job.env}
        ),
        "interpreter": plan.python.executable if job.language == "python" else plan.bash,
    }
    return ExecutionResult(
        exit_code=exit_code,
        stdout=outcome.stdout.decode(errors="replace"),
        stderr=stderr,
        timed_out=outcome.timed_out,
        killed=killed,
        isolation=isolation,
        duration_s=round(duration, 6),
        stdout_truncated=outcome.stdout_truncated,
        stderr_truncated=outcome.stderr_truncated,
        artifacts=artifacts,
    )
