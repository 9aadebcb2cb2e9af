"""read_file / write_file / list_dir: confinement to the workspace, caps, round trips.

Everything runs against real directories under pytest's tmp_path (no filesystem mocks).
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import pytest
from agent_sdk_tools.config import ToolsConfig
from agent_sdk_tools.files import ListDir, ReadFile, WriteFile

from agent_sdk.kinds.tool import Tool, ToolContext
from agent_sdk.messages import ToolCall, ToolResult


async def call(tool: Tool, ctx: ToolContext, **arguments: Any) -> ToolResult:
    return await tool.invoke(ToolCall(id="c1", name=tool.name, arguments=arguments), ctx)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "hello.txt").write_text("hello world\n")
    (tmp_path / "secret.txt").write_text("top secret\n")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "key.txt").write_text("outside key\n")
    return root


@pytest.fixture
def ctx(workspace: Path) -> ToolContext:
    return ToolContext(workspace=workspace)


def assert_refused(result: ToolResult, *words: str) -> None:
    assert not result.ok
    assert result.error is not None
    assert result.error["type"] == "ToolError"
    assert result.error["transient"] is False
    for word in words:
        assert word in result.error["message"]


# --- confinement -------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["../secret.txt", "sub/../../secret.txt", "../ws/../secret.txt"])
async def test_read_file_refuses_paths_that_climb_out_of_the_workspace(
    ctx: ToolContext, path: str
) -> None:
    assert_refused(await call(ReadFile(), ctx, path=path), "outside the workspace")


async def test_read_file_refuses_an_absolute_path_outside_the_workspace(
    ctx: ToolContext, workspace: Path
) -> None:
    outside = str(workspace.parent / "secret.txt")
    assert_refused(await call(ReadFile(), ctx, path=outside), "outside the workspace")
    assert_refused(await call(ReadFile(), ctx, path="/etc/passwd"), "outside the workspace")


async def test_read_file_accepts_an_absolute_path_inside_the_workspace(
    ctx: ToolContext, workspace: Path
) -> None:
    result = await call(ReadFile(), ctx, path=str(workspace / "hello.txt"))
    assert result.ok, result.error
    assert result.data["content"] == "hello world\n"
    assert result.data["path"] == "hello.txt"


async def test_read_file_refuses_a_symlinked_file_pointing_outside(
    ctx: ToolContext, workspace: Path
) -> None:
    (workspace / "link.txt").symlink_to(workspace.parent / "secret.txt")
    assert_refused(await call(ReadFile(), ctx, path="link.txt"), "through a symlink")


async def test_file_tools_refuse_a_symlinked_intermediate_directory_pointing_outside(
    ctx: ToolContext, workspace: Path
) -> None:
    (workspace / "docs").symlink_to(workspace.parent / "outside", target_is_directory=True)
    assert_refused(await call(ReadFile(), ctx, path="docs/key.txt"), "through a symlink")
    assert_refused(
        await call(WriteFile(), ctx, path="docs/planted.txt", content="x"), "through a symlink"
    )
    assert_refused(await call(ListDir(), ctx, path="docs"), "through a symlink")
    assert not (workspace.parent / "outside" / "planted.txt").exists()


async def test_write_file_refuses_a_dangling_symlink_pointing_outside(
    ctx: ToolContext, workspace: Path
) -> None:
    target = workspace.parent / "created-outside.txt"
    (workspace / "trap.txt").symlink_to(target)
    assert_refused(await call(WriteFile(), ctx, path="trap.txt", content="x"), "symlink")
    assert not target.exists()


async def test_symlinks_that_stay_inside_the_workspace_are_followed(
    ctx: ToolContext, workspace: Path
) -> None:
    (workspace / "alias.txt").symlink_to(workspace / "hello.txt")
    result = await call(ReadFile(), ctx, path="alias.txt")
    assert result.ok, result.error
    assert result.data["content"] == "hello world\n"
    assert result.data["path"] == "hello.txt"


async def test_a_nul_byte_in_a_path_is_refused(ctx: ToolContext) -> None:
    assert_refused(await call(ReadFile(), ctx, path="hello.txt\x00.png"), "NUL")


async def test_configured_workspace_root_wins_over_the_run_workspace(
    tmp_path: Path, workspace: Path
) -> None:
    other = tmp_path / "configured"
    other.mkdir()
    (other / "only-here.txt").write_text("configured root\n")
    tool = ReadFile(ToolsConfig(workspace_root=str(other)))
    result = await call(tool, ToolContext(workspace=workspace), path="only-here.txt")
    assert result.ok, result.error
    assert_refused(await call(tool, ToolContext(workspace=workspace), path="../ws/hello.txt"))


async def test_file_tools_without_any_workspace_fail_with_a_fix(tmp_path: Path) -> None:
    result = await call(ReadFile(), ToolContext(), path="x.txt")
    assert_refused(result, "no workspace")
    assert "workspace_root" in result.error["hint"]
    missing = ReadFile(ToolsConfig(workspace_root=str(tmp_path / "nope")))
    assert_refused(await call(missing, ToolContext(), path="x.txt"), "not an existing directory")


# --- caps and round trips -----------------------------------------------------------------


async def test_write_then_read_round_trips_text(ctx: ToolContext, workspace: Path) -> None:
    text = "Grüße, 世界\nline two\n"
    written = await call(WriteFile(), ctx, path="notes/today.md", content=text)
    assert written.ok, written.error
    assert written.data == {
        "path": "notes/today.md",
        "bytes_written": len(text.encode()),
        "mode": "overwrite",
        "created": True,
    }
    read = await call(ReadFile(), ctx, path="notes/today.md")
    assert read.ok, read.error
    assert read.data["content"] == text
    assert read.data["truncated"] is False
    assert (workspace / "notes" / "today.md").read_text() == text


async def test_write_modes_append_and_create(ctx: ToolContext, workspace: Path) -> None:
    assert (await call(WriteFile(), ctx, path="log.txt", content="a\n", mode="create")).ok
    assert (await call(WriteFile(), ctx, path="log.txt", content="b\n", mode="append")).ok
    assert (workspace / "log.txt").read_text() == "a\nb\n"
    again = await call(WriteFile(), ctx, path="log.txt", content="c\n", mode="create")
    assert_refused(again, "already exists")
    overwrite = await call(WriteFile(), ctx, path="log.txt", content="c\n")
    assert overwrite.ok
    assert overwrite.data["created"] is False
    assert (workspace / "log.txt").read_text() == "c\n"


async def test_binary_content_round_trips_through_base64(ctx: ToolContext) -> None:
    blob = bytes(range(256))
    encoded = base64.b64encode(blob).decode()
    assert (await call(WriteFile(), ctx, path="b.bin", content=encoded, encoding="base64")).ok
    not_text = await call(ReadFile(), ctx, path="b.bin")
    assert_refused(not_text, "not UTF-8")
    assert "base64" in not_text.error["hint"]
    read = await call(ReadFile(), ctx, path="b.bin", encoding="base64")
    assert read.ok
    assert base64.b64decode(read.data["content"]) == blob


async def test_read_file_truncates_at_the_byte_cap_and_reads_on_from_an_offset(
    workspace: Path,
) -> None:
    (workspace / "big.txt").write_text("0123456789" * 10)
    tool = ReadFile(ToolsConfig(max_read_bytes=25))
    ctx = ToolContext(workspace=workspace)
    first = await call(tool, ctx, path="big.txt")
    assert first.data["content"] == "0123456789012345678901234"
    assert first.data["truncated"] is True
    assert first.data["size_bytes"] == 100
    # asking for more than the cap still gets the cap
    assert (await call(tool, ctx, path="big.txt", max_bytes=10_000)).data["bytes_read"] == 25
    last = await call(tool, ctx, path="big.txt", offset=90)
    assert last.data["content"] == "0123456789"
    assert last.data["truncated"] is False


async def test_read_file_never_splits_a_multibyte_character_at_the_cap(workspace: Path) -> None:
    (workspace / "u.txt").write_text("ééééé")  # 10 bytes
    result = await call(
        ReadFile(ToolsConfig(max_read_bytes=5)), ToolContext(workspace=workspace), path="u.txt"
    )
    assert result.ok, result.error
    assert result.data["content"] == "éé"
    assert result.data["bytes_read"] == 4
    assert result.data["truncated"] is True


async def test_write_file_refuses_content_over_the_cap_and_writes_nothing(
    workspace: Path,
) -> None:
    tool = WriteFile(ToolsConfig(max_write_bytes=10))
    result = await call(tool, ToolContext(workspace=workspace), path="big.txt", content="x" * 11)
    assert_refused(result, "more than the 10-byte cap")
    assert not (workspace / "big.txt").exists()
    ok = await call(tool, ToolContext(workspace=workspace), path="ok.txt", content="x" * 10)
    assert ok.ok


async def test_read_file_reports_missing_files_and_directories(ctx: ToolContext) -> None:
    assert_refused(await call(ReadFile(), ctx, path="missing.txt"), "no such file")
    (Path(ctx.workspace or ".") / "adir").mkdir()
    assert_refused(await call(ReadFile(), ctx, path="adir"), "is a directory")
    assert_refused(await call(ReadFile(), ctx, path="."), "directory")


async def test_read_file_refuses_a_fifo_without_blocking(ctx: ToolContext) -> None:
    os.mkfifo(Path(ctx.workspace or ".") / "pipe")
    assert_refused(await call(ReadFile(), ctx, path="pipe"), "not a regular file")


# --- list_dir ------------------------------------------------------------------------------


@pytest.fixture
def tree(workspace: Path) -> Path:
    (workspace / "src" / "pkg").mkdir(parents=True)
    (workspace / "src" / "main.py").write_text("print(1)\n")
    (workspace / "src" / "pkg" / "mod.py").write_text("x = 1\n")
    (workspace / "escape").symlink_to(workspace.parent / "outside", target_is_directory=True)
    return workspace


async def test_list_dir_returns_name_type_and_size(ctx: ToolContext, tree: Path) -> None:
    result = await call(ListDir(), ctx)
    assert result.ok, result.error
    assert result.data["path"] == "."
    assert result.data["truncated"] is False
    assert result.data["entries"] == [
        {"name": "escape", "type": "symlink", "size": None},
        {"name": "hello.txt", "type": "file", "size": 12},
        {"name": "src", "type": "dir", "size": None},
    ]


async def test_list_dir_recursion_lists_subdirectories_but_never_follows_symlinks(
    ctx: ToolContext, tree: Path
) -> None:
    result = await call(ListDir(), ctx, recursive=True)
    names = [e["name"] for e in result.data["entries"]]
    assert names == ["escape", "hello.txt", "src", "src/main.py", "src/pkg", "src/pkg/mod.py"]
    assert not any("key.txt" in n for n in names)
    sub = await call(ListDir(), ctx, path="src", recursive=True)
    assert [e["name"] for e in sub.data["entries"]] == ["main.py", "pkg", "pkg/mod.py"]


async def test_list_dir_stops_at_the_entry_bound_and_says_so(workspace: Path) -> None:
    for i in range(30):
        (workspace / f"d{i % 3}").mkdir(exist_ok=True)
        (workspace / f"d{i % 3}" / f"f{i:02}.txt").write_text("x")
    ctx = ToolContext(workspace=workspace)
    capped = await call(ListDir(ToolsConfig(list_max_entries=7)), ctx, recursive=True)
    assert len(capped.data["entries"]) == 7
    assert capped.data["truncated"] is True
    # breadth-first: the top level comes before anything deeper
    assert [e["name"] for e in capped.data["entries"][:4]] == ["d0", "d1", "d2", "hello.txt"]
    asked = await call(ListDir(), ctx, recursive=True, max_entries=5)
    assert len(asked.data["entries"]) == 5
    assert asked.data["truncated"] is True
    full = await call(ListDir(), ctx, recursive=True)
    assert len(full.data["entries"]) == 34
    assert full.data["truncated"] is False


async def test_list_dir_of_a_file_is_an_error(ctx: ToolContext) -> None:
    assert_refused(await call(ListDir(), ctx, path="hello.txt"), "not a directory")
