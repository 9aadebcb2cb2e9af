"""Make paths under unsearchable directories (``/root/.pyenv/...``) bindable by bubblewrap.

When agent-sdk runs as root, bubblewrap is started as the sandbox's non-root uid, and it
resolves bind sources as that uid: an interpreter under ``/root`` (mode 0700) cannot be bound.
The :class:`Stager` runs in the forked child, still root, just before ``bwrap`` is executed:
it gives the child a private mount namespace in which each unsearchable directory is covered
by a small tmpfs holding only the paths to bind (bind-mounted from descriptors opened before
the cover), then drops to the sandbox uid/gid. ``bwrap`` then runs as the direct child of
the caller, so ``--die-with-parent`` still fires when the caller dies (a staging *process*
in between would be root without ``CAP_KILL``, and its death signal could not reach the
unprivileged ``bwrap``). The host's mount table is never changed.
"""

from __future__ import annotations

import ctypes
import os
from pathlib import PurePosixPath

__all__ = ["Stager"]

_CLONE_NEWNS = 0x00020000
_MS_NOSUID = 0x2
_MS_NODEV = 0x4
_MS_BIND = 0x1000
_MS_REC = 0x4000
_MS_PRIVATE = 1 << 18


class Stager:
    """A ``preexec_fn``: private mount namespace, covers, binds, then setuid.

    Args:
        uid: the sandbox uid to switch to.
        gid: the sandbox gid to switch to (supplementary groups are dropped).
        points: directories to cover with a tmpfs (each unsearchable by *uid*).
        sources: paths under those directories to make reachable again, at the same path.
    """

    def __init__(self, uid: int, gid: int, points: list[str], sources: list[str]) -> None:
        self.uid = uid
        self.gid = gid
        kept: list[str] = []
        for source in sorted(set(sources)):
            if not any(source.startswith(k.rstrip("/") + "/") for k in kept):
                kept.append(source)  # a path under another bound one is reachable through it
        sources = kept
        self.points = [p.encode() for p in points]
        self.sources = [s.encode() for s in sources]
        self.is_dir = [os.path.isdir(s) for s in sources]
        dirs: list[str] = []
        for source in sources:
            point = next(p for p in points if source.startswith(p.rstrip("/") + "/"))
            parent = PurePosixPath(source).parent
            for directory in [*reversed(parent.parents), parent]:
                text = str(directory)
                if text.startswith(point.rstrip("/") + "/") and text not in dirs:
                    dirs.append(text)
        self.dirs = [d.encode() for d in dirs]
        # loaded here, in the parent: the child must not load libraries or import modules
        libc = ctypes.CDLL(None, use_errno=True)
        libc.unshare.argtypes = [ctypes.c_int]
        libc.mount.argtypes = [
            ctypes.c_char_p,
            ctypes.c_char_p,
            ctypes.c_char_p,
            ctypes.c_ulong,
            ctypes.c_char_p,
        ]
        self._libc = libc

    def _check(self, result: int, what: str) -> None:
        if result != 0:
            code = ctypes.get_errno()
            raise OSError(code, f"staging: {what}: {os.strerror(code)}")

    def __call__(self) -> None:
        """Run in the child (root) after fork, before exec. No imports, logging or locks."""
        libc = self._libc
        self._check(libc.unshare(_CLONE_NEWNS), "unshare(CLONE_NEWNS)")
        self._check(libc.mount(b"none", b"/", None, _MS_REC | _MS_PRIVATE, None), "make / private")
        fds = [os.open(source, os.O_PATH | os.O_CLOEXEC) for source in self.sources]
        for point in self.points:
            self._check(
                libc.mount(b"tmpfs", point, b"tmpfs", _MS_NOSUID | _MS_NODEV, b"mode=0755,size=1m"),
                f"tmpfs on {point!r}",
            )
        for directory in self.dirs:
            os.mkdir(directory, 0o755)
            os.chmod(directory, 0o755)
        for fd, source, is_dir in zip(fds, self.sources, self.is_dir, strict=True):
            if is_dir:
                os.mkdir(source, 0o755)
            else:
                os.close(os.open(source, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o644))
            link = b"/proc/self/fd/%d" % fd
            self._check(libc.mount(link, source, None, _MS_BIND | _MS_REC, None), "bind")
            os.close(fd)
        os.setgroups([])
        os.setgid(self.gid)
        os.setuid(self.uid)
