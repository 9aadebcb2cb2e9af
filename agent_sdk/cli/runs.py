"""``agent-sdk runs list|show|events``: what ran, and the timeline of one run."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import attrs
import click

from agent_sdk.cli._output import EXIT_FAILURE, config_option, exit_with, print_json

T = TypeVar("T")


def with_storage(config_path: Path | None, fn: Callable[[Any], Awaitable[T]]) -> T:
    """Open the configured storage backend, run ``fn(storage)``, close it."""
    from agent_sdk.app import load_app
    from agent_sdk.kinds.storage import StorageBackend

    app = load_app(config_path)

    async def go() -> T:
        storage = app.create("storage", app.config.storage.backend, where="storage")
        assert isinstance(storage, StorageBackend)
        await storage.open()
        try:
            return await fn(storage)
        finally:
            await storage.close()

    return asyncio.run(go())


def when(ts: float | None) -> str:
    """Unix seconds → ``YYYY-MM-DD HH:MM:SS`` (UTC), ``-`` for none."""
    if not ts:
        return "-"
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


@click.group()
def runs() -> None:
    """List runs and inspect one run's tasks and timeline."""


@runs.command("list")
@config_option
@click.option("--limit", default=20, show_default=True, help="Newest runs to show.")
@click.option("--status", default=None, help="Only runs with this status.")
@click.option("--workflow", default=None, help="Only runs of this workflow.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
def list_runs(
    config_path: Path | None, limit: int, status: str | None, workflow: str | None, as_json: bool
) -> None:
    """List runs, newest first."""
    records = with_storage(
        config_path, lambda s: s.list_runs(limit=limit, status=status, workflow=workflow)
    )
    if as_json:
        print_json([attrs.asdict(r) for r in records])
        return
    from rich.table import Table

    from agent_sdk.cli._output import stdout_console

    table = Table(title="runs")
    table.add_column("run id", no_wrap=True)
    for column in ("workflow", "status", "created (UTC)", "tokens in/out"):
        table.add_column(column, no_wrap=True)
    for r in records:
        table.add_row(
            r.id,
            r.workflow,
            r.status,
            when(r.created_at),
            f"{r.usage.get('input_tokens', 0)}/{r.usage.get('output_tokens', 0)}",
        )
    stdout_console().print(table)


@runs.command("show")
@click.argument("run_id")
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print run, tasks and events as JSON.")
def show_run(run_id: str, config_path: Path | None, as_json: bool) -> None:
    """Show RUN_ID: status, each task, and the timeline (--json adds input and outputs)."""

    async def load(storage: Any) -> tuple[Any, list[Any], list[Any], list[Any]]:
        return (
            await storage.get_run(run_id),
            await storage.list_tasks(run_id),
            await storage.list_events(run_id),
            await storage.get_steps(run_id),
        )

    run, tasks, events, steps = with_storage(config_path, load)
    if run is None:
        click.echo(f"error: no run with id {run_id!r}", err=True)
        exit_with(EXIT_FAILURE)
        return
    if as_json:
        print_json(
            {
                "run": attrs.asdict(run),
                "tasks": [attrs.asdict(t) for t in tasks],
                "events": [attrs.asdict(e) for e in events],
                "steps": len(steps),
            }
        )
        return
    from rich.table import Table

    from agent_sdk.cli._output import stdout_console

    console = stdout_console()
    console.print(f"[bold]{run.id}[/] workflow [bold]{run.workflow}[/]: {run.status}")
    console.print(
        f"created {when(run.created_at)} · updated {when(run.updated_at)} · "
        f"{len(steps)} journal steps"
    )
    if run.error:
        console.print(f"[red]error:[/] {run.error.get('message')}")
    table = Table(title="tasks")
    for column in ("task", "status", "attempt", "started", "finished"):
        table.add_column(column)
    for t in tasks:
        table.add_row(t.task_id, t.status, str(t.attempt), when(t.started_at), when(t.finished_at))
    console.print(table)
    _print_events(events)


def _print_events(events: list[Any]) -> None:
    from rich.table import Table

    from agent_sdk.cli._output import stdout_console

    table = Table(title="timeline")
    for column in ("#", "time (UTC)", "task", "event", "details"):
        table.add_column(column)
    for e in events:
        details = ", ".join(f"{k}={v}" for k, v in e.data.items() if v is not None)
        table.add_row(str(e.seq), when(e.created_at), e.task_id or "-", e.type, details[:100])
    stdout_console().print(table)


@runs.command("events")
@click.argument("run_id")
@config_option
@click.option("--after", "after_seq", default=0, help="Only events after this sequence number.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
def run_events(run_id: str, config_path: Path | None, after_seq: int, as_json: bool) -> None:
    """Print the timeline of RUN_ID (task starts/ends, model and tool calls, breakers)."""
    events = with_storage(config_path, lambda s: s.list_events(run_id, after_seq=after_seq))
    if as_json:
        print_json([attrs.asdict(e) for e in events])
        return
    _print_events(events)
