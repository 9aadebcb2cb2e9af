"""Structured logging: renderers, level filtering, bound context ids, default configuration."""

from __future__ import annotations

import asyncio
import io
import json
import sys

import pytest
import structlog

from agent_sdk.logging import bind_context, configure_logging, get_logger

pytestmark = pytest.mark.usefixtures("fresh_structlog")


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def events(out: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_json_format_writes_one_json_object_per_event() -> None:
    out = io.StringIO()
    configure_logging("json", "info", stream=out)
    get_logger("agent_sdk.demo", component="x").info("tool_call_finished", tool="add", ms=3)
    get_logger().warning("second_event")
    first, second = events(out)
    assert first["event"] == "tool_call_finished"
    assert (first["level"], first["logger"], first["component"]) == ("info", "agent_sdk.demo", "x")
    assert (first["tool"], first["ms"]) == ("add", 3)
    assert str(first["timestamp"]).endswith("Z")
    assert second["event"] == "second_event"
    assert "logger" not in second


def test_console_format_is_human_readable_not_json() -> None:
    out = io.StringIO()
    configure_logging("console", "info", stream=out)
    get_logger().info("tool_call_finished", tool="add")
    text = out.getvalue()
    assert "tool_call_finished" in text
    assert "tool" in text
    assert "add" in text
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)
    assert "\x1b[" not in text  # no colours when the stream is not a terminal


@pytest.mark.parametrize(("stream", "is_json"), [(io.StringIO(), True), (FakeTTY(), False)])
def test_auto_format_is_console_on_a_terminal_and_json_otherwise(
    stream: io.StringIO, is_json: bool
) -> None:
    configure_logging("auto", "info", stream=stream)
    get_logger().info("hello")
    line = stream.getvalue().strip()
    assert line.startswith("{") is is_json


def test_level_filters_lower_events() -> None:
    out = io.StringIO()
    configure_logging("json", "warning", stream=out)
    log = get_logger()
    log.debug("d")
    log.info("i")
    log.warning("w")
    log.error("e")
    assert [e["event"] for e in events(out)] == ["w", "e"]


def test_level_name_is_case_insensitive() -> None:
    out = io.StringIO()
    configure_logging("json", "DEBUG", stream=out)
    get_logger().debug("d")
    assert [e["event"] for e in events(out)] == ["d"]


@pytest.mark.parametrize(
    ("fmt", "level", "message"),
    [("json", "verbose", "log level must be one of"), ("xml", "info", "log format must be")],
)
def test_invalid_level_or_format_is_a_value_error(fmt: str, level: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        configure_logging(fmt, level, stream=io.StringIO())  # type: ignore[arg-type]


def test_bound_ids_appear_on_events_inside_the_block_only() -> None:
    out = io.StringIO()
    configure_logging("json", "info", stream=out)
    log = get_logger()
    with bind_context(run_id="run-1", task_id="task-a", request_id=None):
        log.info("inside")
        with bind_context(task_id="task-b"):
            log.info("nested")
        log.info("inside_again")
    log.info("outside")
    by_event = {e["event"]: e for e in events(out)}
    assert (by_event["inside"]["run_id"], by_event["inside"]["task_id"]) == ("run-1", "task-a")
    assert "request_id" not in by_event["inside"]
    assert by_event["nested"]["task_id"] == "task-b"
    assert by_event["inside_again"]["task_id"] == "task-a"
    assert "run_id" not in by_event["outside"]
    assert "task_id" not in by_event["outside"]


async def test_bound_ids_follow_asyncio_tasks_created_inside_the_block() -> None:
    out = io.StringIO()
    configure_logging("json", "info", stream=out)
    log = get_logger()
    go = asyncio.Event()

    async def work(label: str) -> None:
        await go.wait()
        log.info(label)

    before = asyncio.create_task(work("task_created_before"))
    with bind_context(run_id="run-7", task_id="t1"):
        inside = asyncio.create_task(work("task_created_inside"))
        go.set()
        await asyncio.gather(before, inside)
    by_event = {e["event"]: e for e in events(out)}
    assert by_event["task_created_inside"]["run_id"] == "run-7"
    assert by_event["task_created_inside"]["task_id"] == "t1"
    assert "run_id" not in by_event["task_created_before"]


def test_get_logger_installs_a_warning_level_default_when_unconfigured(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert not structlog.is_configured()
    log = get_logger("agent_sdk.x")
    log.info("quiet_info")
    assert structlog.is_configured()
    log.warning("loud_warning")
    captured = capsys.readouterr()
    assert "loud_warning" in captured.err
    assert "quiet_info" not in captured.err
    assert captured.out == ""


def test_get_logger_keeps_a_configuration_the_user_installed() -> None:
    seen: list[dict[str, object]] = []

    def capture(_logger: object, _method: str, event_dict: dict[str, object]) -> str:
        seen.append(dict(event_dict))
        return ""

    structlog.configure(processors=[capture], logger_factory=structlog.ReturnLoggerFactory())
    get_logger("mine").info("kept")
    assert structlog.get_config()["processors"] == [capture]
    assert seen == [{"event": "kept", "logger": "mine"}]


def test_default_stream_follows_a_replaced_stderr(monkeypatch: pytest.MonkeyPatch) -> None:
    configure_logging("json", "info")
    first, second = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stderr", first)
    get_logger().info("one")
    monkeypatch.setattr(sys, "stderr", second)
    get_logger().info("two")
    assert [e["event"] for e in events(first)] == ["one"]
    assert [e["event"] for e in events(second)] == ["two"]


def test_a_logger_created_before_configure_logging_follows_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    early = get_logger("agent_sdk.early")  # like a module-level logger, created at import
    early.warning("before")
    configure_logging("json", "info")
    early.info("after", detail=1)
    lines = [line for line in capsys.readouterr().err.splitlines() if "after" in line]
    assert len(lines) == 1
    assert json.loads(lines[0])["detail"] == 1
