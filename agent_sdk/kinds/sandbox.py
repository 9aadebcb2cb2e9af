"""Sandboxes: run untrusted code (Python, shell) submitted by agents, contained.

A sandbox never falls back to running code unconfined: if the isolation it is configured for is
not available, :meth:`Sandbox.probe` and :meth:`Sandbox.execute` raise
:class:`~agent_sdk.errors.SandboxUnavailableError`. Code that runs and fails is a *result*
(non-zero :attr:`ExecutionResult.exit_code`), not an error.
"""

from __future__ import annotations

from abc import abstractmethod
from pathlib import Path
from typing import Any, ClassVar, Literal

import attrs

from agent_sdk.kinds.base import Component, Kind

__all__ = ["ExecutionRequest", "ExecutionResult", "Sandbox"]

Language = Literal["python", "bash"]


@attrs.frozen
class ExecutionRequest:
    """One piece of code to run.

    Attributes:
        code: the program text.
        language: ``"python"`` or ``"bash"``.
        timeout_s: wall-clock limit in seconds; the whole process tree is killed after it.
        workspace: an existing directory to use as the (read-write) workspace and keep
            afterwards; ``None`` for a fresh temporary one, removed afterwards.
        env: extra environment variables (names must pass the sandbox's allowlist).
        stdin: bytes fed to the program's standard input.
        mounts: host directories exposed **read-only** inside the sandbox: mount point (an
            absolute path such as ``"/project"``) → host path. For code that must read a
            project (an audit) without being able to change it.
    """

    code: str
    language: Language = "python"
    timeout_s: float = 30.0
    workspace: Path | None = None
    env: dict[str, str] = attrs.field(factory=dict)
    stdin: bytes = b""
    mounts: dict[str, Path] = attrs.field(factory=dict)


@attrs.frozen
class ExecutionResult:
    """What happened when code ran.

    Attributes:
        exit_code: the program's exit status (negative: killed by that signal; ``None`` if it
            never started).
        stdout: captured standard output (decoded UTF-8, capped; see ``stdout_truncated``).
        stderr: captured standard error (same cap).
        timed_out: the wall-clock limit was hit.
        killed: why the sandbox killed it (``"timeout"``, ``"output limit"``...), or ``None``.
        isolation: what was applied (namespaces, seccomp, rlimits...), for audit.
        duration_s: wall-clock seconds from start to reaping.
        stdout_truncated: output beyond the byte cap was dropped.
        stderr_truncated: likewise for stderr.
        artifacts: workspace-relative paths of regular files left in the workspace.
    """

    exit_code: int | None
    stdout: str
    stderr: str
    timed_out: bool = False
    killed: str | None = None
    isolation: dict[str, Any] = attrs.field(factory=dict)
    duration_s: float = 0.0
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    artifacts: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict of every attribute."""
        return attrs.asdict(
            self,
            recurse=True,
            value_serializer=lambda _i, _a, v: list(v) if isinstance(v, tuple) else v,
        )


class Sandbox(Component):
    """Base class of sandboxes (registered by ``agent_sdk_register_sandboxes``)."""

    kind: ClassVar[Kind] = "sandbox"

    @abstractmethod
    def probe(self) -> dict[str, Any]:
        """Check, once, that the configured isolation works on this machine.

        Returns:
            What is available (e.g. ``{"user_namespaces": True, "seccomp": True}``).

        Raises:
            SandboxUnavailableError: the isolation is not available; the message says why and
                how to fix it (e.g. which package to install).
        """

    @abstractmethod
    async def execute(self, request: ExecutionRequest) -> ExecutionResult:
        """Run *request* contained, enforcing its limits.

        Raises:
            SandboxUnavailableError: isolation is not available (never runs unconfined).
            SandboxError: the sandbox itself failed (not the code).
        """
