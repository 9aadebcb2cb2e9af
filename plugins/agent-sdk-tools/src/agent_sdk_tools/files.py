"""``read_file``, ``write_file`` and ``list_dir``: file access confined to one workspace root.

The root is ``[plugins.tools] workspace_root`` if set, else the run's workspace
(:attr:`~agent_sdk.kinds.tool.ToolContext.workspace`). A path argument is relative to the root
(an absolute path is accepted only if it lies inside it). A path is refused with a
:class:`~agent_sdk.errors.ToolError` when

* it leaves the root lexically (``../secret``, ``/etc/passwd``);
* resolving its symlinks leaves the root (a link in the workspace pointing outside, as the
  file itself or as any directory on the way).

Symlinks that stay inside the root are followed. The check is not only made on path strings:
the file is then opened one component at a time from a descriptor of the root, each with
``O_NOFOLLOW`` (and ``O_DIRECTORY`` for directories), along the *resolved* path. A symlink
swapped in after the check (by code running concurrently in the workspace) makes the open
fail instead of escaping. FIFOs, sockets and devices are neither read nor written.

POSIX only (``dir_fd`` and ``O_NOFOLLOW``).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import errno
import os
import stat
from collections import deque
from pathlib import Path
from typing import Any, ClassVar, Literal

import attrs
from pydantic import BaseModel, ConfigDict, Field

from agent_sdk.kinds.tool import Tool, ToolContext
from agent_sdk_tools._common import tool_error
from agent_sdk_tools.config import ToolsConfig

__all__ = ["ListDir", "ReadFile", "Workspace", "WriteFile", "resolve_workspace"]

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
_NOFOLLOW = os.O_NOFOLLOW
_ROOT_HINT = (
    "use a path relative to the workspace root (e.g. 'notes/todo.txt'), without '..' "
    "components that leave it"
)


@attrs.frozen
class Workspace:
    """The directory file tools are confined to.

    Attributes:
        root: the root with every symlink resolved (what paths are checked against).
        given: the root as configured, made absolute (absolute path arguments may use it).
        source: where the root came from, for messages.
    """

    root: str
    given: str
    source: str

    def confine(self, path: str) -> Target:
        """Check *path* and return where it leads inside the root.

        Raises:
            ToolError: *path* is empty of meaning (NUL byte), leaves the root, or leads out
                of it through a symlink.
        """
        if "\x00" in path:
            raise tool_error(f"path {path!r} contains a NUL byte", hint=_ROOT_HINT)
        lexical = os.path.normpath(os.path.join(self.root, path or "."))
        if not _within(lexical, self.root):
            given = os.path.normpath(os.path.join(self.given, path or "."))
            if not _within(given, self.given):
                raise tool_error(
                    f"path {path!r} is outside the workspace {self.given!r} ({self.source})",
                    hint=_ROOT_HINT,
                )
            lexical = self.root + given[len(self.given) :]
        resolved = os.path.realpath(lexical)
        if not _within(resolved, self.root):
            raise tool_error(
                f"path {path!r} leads outside the workspace {self.given!r} through a symlink "
                f"(it resolves to {resolved!r})",
                hint="symlinks in the workspace may only point inside it; use the real path "
                "of a file inside the workspace",
            )
        rel = os.path.relpath(resolved, self.root)
        parts = () if rel == "." else tuple(rel.split(os.sep))
        return Target(self, parts)


@attrs.frozen
class Target:
    """A checked path: its components below the root, symlinks already resolved."""

    workspace: Workspace
    parts: tuple[str, ...]

    @property
    def shown(self) -> str:
        """The workspace-relative POSIX path (``"."`` for the root)."""
        return "/".join(self.parts) or "."

    def open_dir(self, parts: tuple[str, ...] | None = None, *, create: bool = False) -> int:
        """Open the directory *parts* (default: this target) component by component.

        Each component is opened relative to its parent's descriptor with ``O_NOFOLLOW``, so
        no symlink is followed, whatever was checked before. Missing directories are made if
        *create*.

        Returns:
            A descriptor of the directory (the caller closes it).

        Raises:
            OSError: as :func:`os.open` (``ELOOP``/``ENOTDIR`` for a symlink on the way).
        """
        fd = os.open(self.workspace.root, _DIR_FLAGS)
        try:
            for part in self.parts if parts is None else parts:
                try:
                    child = os.open(part, _DIR_FLAGS | _NOFOLLOW, dir_fd=fd)
                except FileNotFoundError:
                    if not create:
                        raise
                    with contextlib.suppress(FileExistsError):  # made concurrently
                        os.mkdir(part, 0o777, dir_fd=fd)
                    child = os.open(part, _DIR_FLAGS | _NOFOLLOW, dir_fd=fd)
                os.close(fd)
                fd = child
        except BaseException:
            os.close(fd)
            raise
        return fd

    def fail(self, error: OSError, doing: str) -> Exception:
        """Turn an :class:`OSError` met while *doing* into a :class:`ToolError`."""
        where = f"{doing} {self.shown!r}"
        if error.errno == errno.ELOOP:
            return tool_error(
                f"{where}: a symlink appeared on the path while it was opened",
                hint="symlinks in the workspace may only point inside it; retry",
            )
        if isinstance(error, FileNotFoundError):
            return tool_error(
                f"{where}: no such file or directory in the workspace",
                hint="list_dir shows what exists",
            )
        if isinstance(error, NotADirectoryError):
            return tool_error(
                f"{where}: a component of the path is not a directory (or was replaced by "
                "a symlink while it was opened)"
            )
        if isinstance(error, IsADirectoryError):
            return tool_error(f"{where}: is a directory", hint="use list_dir for directories")
        if isinstance(error, FileExistsError):
            return tool_error(
                f"{where}: the file already exists",
                hint="use mode 'overwrite' or 'append' to change an existing file",
            )
        if isinstance(error, PermissionError):
            return tool_error(f"{where}: permission denied")
        return tool_error(f"{where}: {error.strerror or error}")


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def resolve_workspace(config: ToolsConfig, ctx: ToolContext) -> Workspace:
    """The workspace of a call: ``workspace_root`` if configured, else ``ctx.workspace``.

    Raises:
        ToolError: neither is set, or the root is not an existing directory.
    """
    if config.workspace_root:
        root = Path(config.workspace_root).expanduser()
        source = "[plugins.tools] workspace_root"
    elif ctx.workspace is not None:
        root = Path(ctx.workspace)
        source = "the run's workspace"
    else:
        raise tool_error(
            "no workspace: file tools need a workspace root and none is configured",
            hint="set workspace_root in [plugins.tools], or call the tool inside a run "
            "(its workspace is [runtime] workspace, default the current directory)",
        )
    given = os.path.abspath(root)
    real = os.path.realpath(given)
    if not os.path.isdir(real):
        raise tool_error(
            f"workspace root {given!r} ({source}) is not an existing directory",
            hint="create the directory, or point workspace_root in [plugins.tools] at one",
        )
    return Workspace(root=real, given=given, source=source)


# --- read_file -----------------------------------------------------------------------------


class ReadFile(Tool):
    """Read a file of the workspace, as UTF-8 text or base64, up to a byte cap."""

    name = "read_file"
    description = (
        "Read a file in the workspace. Returns its content (UTF-8 text, or base64 for "
        "binary files), its total size and whether the content was truncated at the size cap; "
        "read on from `offset` to get the rest."
    )
    side_effects = False
    Config = ToolsConfig
    config: ToolsConfig

    class Arguments(BaseModel):
        """Arguments of ``read_file``."""

        model_config = ConfigDict(extra="forbid")

        path: str = Field(
            description="File path relative to the workspace root, e.g. 'src/main.py'."
        )
        offset: int = Field(
            default=0, ge=0, description="Byte offset to start reading at (0: the start)."
        )
        max_bytes: int | None = Field(
            default=None,
            ge=1,
            description="Most bytes to return; null: the configured cap (max_read_bytes), "
            "which is also the upper bound.",
        )
        encoding: Literal["utf-8", "base64"] = Field(
            default="utf-8",
            description="'utf-8' for text; 'base64' for binary files (content is base64).",
        )

    async def run(self, args: ReadFile.Arguments, ctx: ToolContext) -> dict[str, Any]:
        target = resolve_workspace(self.config, ctx).confine(args.path)
        if not target.parts:
            raise tool_error(
                f"read {args.path!r}: is the workspace root, a directory",
                hint="use list_dir for directories",
            )
        limit = min(args.max_bytes or self.config.max_read_bytes, self.config.max_read_bytes)
        data, size, more = await asyncio.to_thread(self._read, target, args.offset, limit)
        result: dict[str, Any] = {
            "path": target.shown,
            "size_bytes": size,
            "offset": args.offset,
            "bytes_read": len(data),
            "truncated": more,
            "encoding": args.encoding,
        }
        if args.encoding == "base64":
            result["content"] = base64.b64encode(data).decode("ascii")
            return result
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as error:
            # A cut at the cap may split one multi-byte character: drop that partial tail.
            if more and error.start >= len(data) - 3 and error.reason == "unexpected end of data":
                data = data[: error.start]
                text = data.decode("utf-8")
                result["bytes_read"] = len(data)
            else:
                raise tool_error(
                    f"read {target.shown!r}: not UTF-8 text (invalid byte at offset "
                    f"{args.offset + error.start})",
                    hint="pass encoding = 'base64' to read binary files",
                ) from None
        result["content"] = text
        return result

    @staticmethod
    def _read(target: Target, offset: int, limit: int) -> tuple[bytes, int, bool]:
        dir_fd = fd = -1
        try:
            dir_fd = target.open_dir(target.parts[:-1])
            # O_NONBLOCK: opening a FIFO must not block; it is refused just below.
            fd = os.open(
                target.parts[-1],
                os.O_RDONLY | _NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK,
                dir_fd=dir_fd,
            )
            info = os.fstat(fd)
            if stat.S_ISDIR(info.st_mode):
                raise IsADirectoryError(errno.EISDIR, "is a directory")
            if not stat.S_ISREG(info.st_mode):
                raise tool_error(f"read {target.shown!r}: not a regular file")
            os.lseek(fd, offset, os.SEEK_SET)
            chunks: list[bytes] = []
            remaining = limit
            while remaining > 0:
                chunk = os.read(fd, min(remaining, 1 << 20))
                if not chunk:
                    break
                chunks.append(chunk)
                remaining -= len(chunk)
            more = remaining == 0 and bool(os.read(fd, 1))
            return b"".join(chunks), info.st_size, more
        except OSError as error:
            raise target.fail(error, "read") from None
        finally:
            for descriptor in (fd, dir_fd):
                if descriptor >= 0:
                    os.close(descriptor)


# --- write_file ----------------------------------------------------------------------------


class WriteFile(Tool):
    """Write (create, overwrite or append to) a file of the workspace, up to a byte cap."""

    name = "write_file"
    description = (
        "Write a file in the workspace: create it, overwrite it or append to it. Missing "
        "parent directories are created. Content is UTF-8 text, or base64 for binary data."
    )
    side_effects = True
    Config = ToolsConfig
    config: ToolsConfig

    class Arguments(BaseModel):
        """Arguments of ``write_file``."""

        model_config = ConfigDict(extra="forbid")

        path: str = Field(
            min_length=1,
            description="File path relative to the workspace root, e.g. 'out/report.md'.",
        )
        content: str = Field(description="What to write (text, or base64 if encoding='base64').")
        mode: Literal["overwrite", "append", "create"] = Field(
            default="overwrite",
            description="'overwrite' replaces the file, 'append' adds to its end, 'create' "
            "fails if the file exists. Each creates a missing file.",
        )
        encoding: Literal["utf-8", "base64"] = Field(
            default="utf-8", description="How content is encoded: 'utf-8' text or 'base64'."
        )
        create_dirs: bool = Field(default=True, description="Create missing parent directories.")

    _MODE_FLAGS: ClassVar[dict[str, int]] = {
        "overwrite": os.O_TRUNC,
        "append": os.O_APPEND,
        "create": os.O_EXCL,
    }

    async def run(self, args: WriteFile.Arguments, ctx: ToolContext) -> dict[str, Any]:
        target = resolve_workspace(self.config, ctx).confine(args.path)
        if not target.parts:
            raise tool_error(f"write {args.path!r}: is the workspace root, a directory")
        if args.encoding == "base64":
            try:
                data = base64.b64decode(args.content, validate=True)
            except (binascii.Error, ValueError) as error:
                raise tool_error(
                    f"write {target.shown!r}: content is not valid base64: {error}"
                ) from None
        else:
            data = args.content.encode("utf-8")
        cap = self.config.max_write_bytes
        if len(data) > cap:
            raise tool_error(
                f"write {target.shown!r}: content is {len(data)} bytes, more than the "
                f"{cap}-byte cap (max_write_bytes); nothing was written",
                hint="write it in parts with mode 'append', or raise max_write_bytes in "
                "[plugins.tools]",
            )
        created = await asyncio.to_thread(
            self._write, target, data, self._MODE_FLAGS[args.mode], args.create_dirs
        )
        return {
            "path": target.shown,
            "bytes_written": len(data),
            "mode": args.mode,
            "created": created,
        }

    @staticmethod
    def _write(target: Target, data: bytes, mode_flag: int, create_dirs: bool) -> bool:
        dir_fd = fd = -1
        name = target.parts[-1]
        try:
            dir_fd = target.open_dir(target.parts[:-1], create=create_dirs)
            try:
                info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            except FileNotFoundError:
                existed = False
            else:
                existed = True
                if stat.S_ISDIR(info.st_mode):
                    raise IsADirectoryError(errno.EISDIR, "is a directory")
                if not stat.S_ISREG(info.st_mode) and not stat.S_ISLNK(info.st_mode):
                    raise tool_error(f"write {target.shown!r}: not a regular file")
            flags = os.O_WRONLY | os.O_CREAT | _NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
            fd = os.open(name, flags | mode_flag, 0o666, dir_fd=dir_fd)
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise tool_error(f"write {target.shown!r}: not a regular file")
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            return not existed
        except OSError as error:
            raise target.fail(error, "write") from None
        finally:
            for descriptor in (fd, dir_fd):
                if descriptor >= 0:
                    os.close(descriptor)


# --- list_dir ------------------------------------------------------------------------------


class ListDir(Tool):
    """List a directory of the workspace (optionally recursively), up to an entry cap."""

    name = "list_dir"
    description = (
        "List a directory in the workspace: each entry's name (relative to the listed "
        "directory), type ('file', 'dir', 'symlink' or 'other') and size in bytes. Symlinks "
        "are listed, not followed. Recursive listings go breadth-first and stop at the "
        "entry cap (the result then says truncated)."
    )
    side_effects = False
    Config = ToolsConfig
    config: ToolsConfig

    class Arguments(BaseModel):
        """Arguments of ``list_dir``."""

        model_config = ConfigDict(extra="forbid")

        path: str = Field(
            default=".", description="Directory relative to the workspace root ('.': the root)."
        )
        recursive: bool = Field(default=False, description="Also list every subdirectory.")
        max_entries: int | None = Field(
            default=None,
            ge=1,
            description="Most entries to return; null: the configured cap (list_max_entries), "
            "which is also the upper bound.",
        )

    async def run(self, args: ListDir.Arguments, ctx: ToolContext) -> dict[str, Any]:
        target = resolve_workspace(self.config, ctx).confine(args.path)
        limit = min(args.max_entries or self.config.list_max_entries, self.config.list_max_entries)
        entries, truncated = await asyncio.to_thread(self._list, target, args.recursive, limit)
        return {"path": target.shown, "entries": entries, "truncated": truncated}

    @staticmethod
    def _list(target: Target, recursive: bool, limit: int) -> tuple[list[dict[str, Any]], bool]:
        entries: list[dict[str, Any]] = []
        pending: deque[tuple[str, ...]] = deque([()])
        while pending:
            below = pending.popleft()
            try:
                fd = target.open_dir(target.parts + below)
            except OSError as error:
                if below:  # a subdirectory vanished or was swapped: skip it
                    continue
                raise target.fail(error, "list") from None
            try:
                with os.scandir(fd) as scan:
                    children = sorted(scan, key=lambda entry: entry.name)
                for child in children:
                    if len(entries) >= limit:
                        return entries, True
                    try:
                        info = child.stat(follow_symlinks=False)
                    except OSError:
                        continue  # removed while listing
                    kind = _kind(info.st_mode)
                    name = "/".join((*below, child.name))
                    entries.append(
                        {
                            "name": name,
                            "type": kind,
                            "size": info.st_size if kind == "file" else None,
                        }
                    )
                    if recursive and kind == "dir":
                        pending.append((*below, child.name))
            finally:
                os.close(fd)
        return entries, False


def _kind(mode: int) -> str:
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISLNK(mode):
        return "symlink"
    return "other"
