"""Facts about the host the sandbox needs: who can reach which path, where Python lives.

Kept apart from :mod:`agent_sdk_sandbox_bwrap.sandbox` so the rules (which are easy to get
subtly wrong) can be tested on their own.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath

__all__ = [
    "PythonInstall",
    "can_reach",
    "can_write_dir",
    "inspect_python",
    "list_regular_files",
    "tree_usage_bytes",
    "unreachable_ancestor",
]

_EXEC = {"owner": stat.S_IXUSR, "group": stat.S_IXGRP, "other": stat.S_IXOTH}
_WRITE = {"owner": stat.S_IWUSR, "group": stat.S_IWGRP, "other": stat.S_IWOTH}


def _allowed(st: os.stat_result, uid: int, gid: int, bits: dict[str, int]) -> bool:
    """Classic Unix permission check for a process with *uid*, *gid* and no other groups."""
    if uid == 0:
        return True
    if st.st_uid == uid:
        return bool(st.st_mode & bits["owner"])
    if st.st_gid == gid:
        return bool(st.st_mode & bits["group"])
    return bool(st.st_mode & bits["other"])


def unreachable_ancestor(path: str, uid: int, gid: int) -> str | None:
    """The outermost directory on *path*'s way that *uid*/*gid* cannot search, or ``None``.

    *path* must be absolute and resolved. ``/root/.pyenv/versions/3.11`` for uid 65534 gives
    ``/root`` (mode 0700). The path itself is not checked, only the directories above it.
    """
    parts = PurePosixPath(path).parts
    current = PurePosixPath("/")
    for part in parts[1:-1]:
        current = current / part
        try:
            st = os.stat(current)
        except OSError:
            return str(current)
        if not _allowed(st, uid, gid, _EXEC):
            return str(current)
    return None


def can_reach(path: str, uid: int, gid: int) -> bool:
    """``True`` if *uid*/*gid* can search every directory above *path*."""
    return unreachable_ancestor(path, uid, gid) is None


def can_write_dir(path: str, uid: int, gid: int) -> bool:
    """``True`` if *uid*/*gid* may create files in directory *path* (ignoring its ancestors)."""
    st = os.stat(path)
    return _allowed(st, uid, gid, _WRITE) and _allowed(st, uid, gid, _EXEC)


@dataclass(frozen=True)
class PythonInstall:
    """A Python interpreter and the directories it needs.

    Attributes:
        executable: absolute path of the interpreter binary, symlinks resolved.
        version: ``"3.11.7"``.
        prefixes: ``sys.prefix`` and ``sys.base_prefix`` (one entry when equal), resolved.
    """

    executable: str
    version: str
    prefixes: tuple[str, ...]


_INSPECT = (
    "import json, os, sys, platform; print(json.dumps([os.path.realpath(sys.executable), "
    "platform.python_version(), os.path.realpath(sys.prefix), "
    "os.path.realpath(sys.base_prefix)]))"
)


def inspect_python(executable: str, timeout_s: float = 20.0) -> PythonInstall:
    """Run *executable* once (on the host, with an empty environment) to learn its prefixes.

    Raises:
        OSError: it cannot be executed.
        ValueError: it ran but did not answer like a Python interpreter.
    """
    real = os.path.realpath(executable)
    completed = subprocess.run(
        [real, "-S", "-c", _INSPECT],
        capture_output=True,
        env={"PATH": "/usr/bin:/bin"},
        timeout=timeout_s,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    try:
        exe, version, prefix, base_prefix = json.loads(completed.stdout)
    except (ValueError, TypeError) as exc:
        detail = completed.stderr.decode(errors="replace").strip()[-300:]
        raise ValueError(f"{real} did not answer like a Python interpreter: {detail}") from exc
    prefixes = tuple(dict.fromkeys([prefix, base_prefix]))
    return PythonInstall(executable=exe or real, version=version, prefixes=prefixes)


def _walk(root: str) -> Iterator[tuple[str, os.DirEntry[str]]]:
    """Every entry under *root* as ``(path relative to root, entry)``, links never followed.

    Iterative, so a deeply nested tree (the sandboxed code controls it) cannot exhaust the
    recursion limit; unreadable directories are skipped.
    """
    pending = [""]
    while pending:
        relative = pending.pop()
        try:
            with os.scandir(os.path.join(root, relative) if relative else root) as entries:
                for entry in entries:
                    path = os.path.join(relative, entry.name) if relative else entry.name
                    yield path, entry
                    with contextlib.suppress(OSError):
                        if entry.is_dir(follow_symlinks=False):
                            pending.append(path)
        except OSError:
            continue


def list_regular_files(root: str, limit: int = 10_000) -> tuple[str, ...]:
    """Paths (relative to *root*, sorted) of regular files under *root*, never following links.

    Symbolic links are neither reported nor followed, whether they point at files or
    directories; at most *limit* paths are returned.
    """
    found: list[str] = []
    for path, entry in _walk(root):
        with contextlib.suppress(OSError):
            if entry.is_file(follow_symlinks=False):
                found.append(path)
                if len(found) >= limit:
                    break
    return tuple(sorted(found))


def tree_usage_bytes(root: str) -> int:
    """Disk space used under *root* (allocated blocks), never following symbolic links."""
    total = 0
    for _, entry in _walk(root):
        with contextlib.suppress(OSError):
            total += entry.stat(follow_symlinks=False).st_blocks * 512
    return total
