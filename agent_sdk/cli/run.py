"""``agent-sdk run``, ``agent-sdk resume`` and ``agent-sdk cancel``."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import click

from agent_sdk import hookimpl
from agent_sdk.cli._output import EXIT_FAILURE, EXIT_OK, config_option, exit_with

EXIT_INTERRUPTED = 130


def _parse_input(raw: str | None, sets: tuple[str, ...]) -> Any:
    value: Any = None
    if raw:
        text = Path(raw[1:]).read_text(encoding="utf-8") if raw.startswith("@") else raw
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = text  # plain text input for an agent
    if sets:
        if value is not None and not isinstance(value, dict):
            raise click.BadParameter("--set needs --input to be a JSON object", param_hint="--set")
        value = dict(value or {})
        for item in sets:
            key, sep, val = item.partition("=")
            if not sep or not key:
                raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--set")
            try:
                value[key] = json.loads(val)
            except json.JSONDecodeError:
                value[key] = val
    return value


class ProgressReporter:
    """A hook plugin that drives a rich progress display (one row per task) on stderr."""

    def __init__(self, progress: Any, task_ids: list[str]) -> None:
        self.progress = progress
        self.rows = {
            tid: progress.add_task(f"{tid}: waiting", total=None, start=False) for tid in task_ids
        }
        self.tokens = 0
        self.tool_calls = 0

    @hookimpl
    def agent_sdk_before_task(self, task: Any) -> None:
        row = self.rows.get(task.task_id)
        if row is not None:
            self.progress.start_task(row)
            attempt = f" (attempt {task.attempt})" if task.attempt > 1 else ""
            label = f"{task.task_id}: {task.type} {task.target}{attempt}"
            self.progress.update(row, description=label)

    @hookimpl
    def agent_sdk_after_task(self, task: Any, outcome: Any) -> None:
        row = self.rows.get(task.task_id)
        if row is not None:
            mark = {"succeeded": "[green]✓[/]", "failed": "[red]✗[/]"}.get(
                outcome.status, "[yellow]•[/]"
            )
            self.progress.update(
                row,
                description=f"{mark} {task.task_id}: {outcome.status} in {outcome.duration_s:.2f}s",
                total=1,
                completed=1,
            )

    @hookimpl
    def agent_sdk_after_model_call(self, call: Any, response: Any) -> None:
        if response is not None:
            self.tokens += response.usage.total_tokens
            row = self.rows.get(call.task_id)
            if row is not None:
                self.progress.update(
                    row, description=f"{call.task_id}: model call {call.index + 1} ({call.model})"
                )

    @hookimpl
    def agent_sdk_after_tool_call(self, call: Any, result: Any) -> None:
        self.tool_calls += 1
        row = self.rows.get(call.task_id)
        if row is not None:
            state = "replayed" if call.replayed else ("ok" if result.ok else "failed")
            self.progress.update(row, description=f"{call.task_id}: tool {call.call.name} {state}")


def _preview(value: Any, width: int = 60) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def print_summary(result: Any) -> None:
    """Print the per-task summary table and the run's one-line verdict."""
    from rich.table import Table

    from agent_sdk.cli._output import stdout_console

    table = Table(title=f"run {result.run_id} ({result.workflow})")
    for column in ("task", "status", "attempt", "duration", "output / error"):
        table.add_column(column)
    colours = {"succeeded": "green", "failed": "red", "cancelled": "yellow", "skipped": "yellow"}
    ordered = sorted(result.tasks.items(), key=lambda kv: (kv[1].started_at or float("inf"), kv[0]))
    for task_id, record in ordered:
        duration = (
            f"{record.finished_at - record.started_at:.2f}s"
            if record.finished_at and record.started_at
            else "-"
        )
        detail = (
            _preview(record.output)
            if record.status == "succeeded"
            else _preview((record.error or {}).get("message", ""))
        )
        table.add_row(
            task_id,
            f"[{colours.get(record.status, 'white')}]{record.status}[/]",
            str(record.attempt),
            duration,
            detail,
        )
    console = stdout_console()
    console.print(table)
    usage = result.usage
    colour = colours.get(result.status, "white")
    console.print(
        f"[bold {colour}]{result.status}[/] in {result.duration_s:.2f}s · tokens "
        f"{usage.get('input_tokens', 0)} in / {usage.get('output_tokens', 0)} out"
        + (f" · {result.replayed_steps} steps replayed" if result.replayed_steps else "")
    )
    if result.error:
        console.print(f"[red]error:[/] {result.error.get('message')}")
        if result.error.get("hint"):
            console.print(f"  hint: {result.error['hint']}")


async def _drive(
    app: Any, action: str, target: str, run_input: Any, show_progress: bool, force: bool = False
) -> Any:
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from agent_sdk.cli._output import stderr_console
    from agent_sdk.runtime.engine import Engine
    from agent_sdk.runtime.workflow import WorkflowDef

    async with Engine(app) as engine:
        if action == "run":
            workflow = app.config.workflow(target)
        else:
            storage = await engine.storage()
            record = await storage.get_run(target)
            if record is None:
                from agent_sdk.errors import WorkflowError

                raise WorkflowError(
                    f"no run with id {target!r}", hint="list runs with `agent-sdk runs list`"
                )
            workflow = WorkflowDef.model_validate(record.definition)
        progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=stderr_console(),
            transient=False,
            disable=not show_progress,
        )
        reporter = ProgressReporter(progress, [t.id for t in workflow.tasks])
        app.pm.register(reporter, name="agent-sdk-cli-progress")
        try:
            with progress:
                if action == "run":
                    return await engine.run(workflow, run_input, run_id=_CURRENT["run_id"])
                return await engine.resume(target, force=force)
        finally:
            app.pm.unregister(reporter)


_CURRENT: dict[str, str] = {}  # the run being executed, for the Ctrl-C message


def _execute(
    app: Any,
    action: str,
    target: str,
    run_input: Any,
    quiet: bool,
    as_json: bool,
    force: bool = False,
) -> None:
    from agent_sdk.logging import configure_logging

    ctx = click.get_current_context()
    root = ctx.find_root().obj or {}
    configure_logging(
        root.get("log_format") or app.config.logging.format,
        root.get("log_level") or app.config.logging.level,
    )
    app.startup()
    if action == "run":
        from agent_sdk.runtime.engine import new_run_id

        _CURRENT["run_id"] = new_run_id()
    try:
        result = asyncio.run(
            _drive(app, action, target, run_input, not (quiet or as_json), force=force)
        )
    except KeyboardInterrupt:
        run_id = _CURRENT.get("run_id") or target
        click.echo(
            f"\ninterrupted: run {run_id} is recorded as cancelled; finish it with "
            f"`agent-sdk resume {run_id}`",
            err=True,
        )
        exit_with(EXIT_INTERRUPTED)
        return
    finally:
        app.shutdown()
    if as_json:
        from agent_sdk.cli._output import print_json
        from agent_sdk.secrets import REDACTOR

        print_json(
            REDACTOR.redact_secrets(
                {
                    "run_id": result.run_id,
                    "workflow": result.workflow,
                    "status": result.status,
                    "outputs": result.outputs,
                    "error": result.error,
                    "usage": result.usage,
                    "duration_s": result.duration_s,
                    "replayed_steps": result.replayed_steps,
                }
            )
        )
    elif not quiet:
        print_summary(result)
    exit_with(EXIT_OK if result.ok else EXIT_FAILURE)


@click.command()
@click.argument("workflow", required=False)
@config_option
@click.option("--input", "input_", default=None, help="Run input: JSON, plain text, or @file.json.")
@click.option(
    "--set", "sets", multiple=True, metavar="KEY=VALUE", help="Set one input key (repeatable)."
)
@click.option(
    "--resume",
    "resume_unfinished",
    is_flag=True,
    help="Resume this workflow's latest unfinished run instead of starting a new one.",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress display or summary.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def run(
    workflow: str | None,
    config_path: Path | None,
    input_: str | None,
    sets: tuple[str, ...],
    resume_unfinished: bool,
    quiet: bool,
    as_json: bool,
) -> None:
    """Run WORKFLOW (a [workflows.<name>] table; optional when the file defines one).

    Exit code 0 when the run succeeded, 1 when it failed, 2 for invalid configuration,
    130 when interrupted (the run can be resumed).
    """
    from agent_sdk.app import load_app

    app = load_app(config_path)
    names = sorted(app.config.workflows)
    if workflow is None:
        if len(names) != 1:
            raise click.UsageError(
                f"name the workflow to run; defined: {', '.join(names) or 'none'}"
            )
        workflow = names[0]
    run_input = _parse_input(input_, sets)
    if resume_unfinished:
        unfinished = asyncio.run(_latest_unfinished(app, workflow))
        if unfinished is not None:
            click.echo(f"resuming {unfinished} of workflow {workflow!r}", err=True)
            _execute(app, "resume", unfinished, None, quiet, as_json)
            return
    _execute(app, "run", workflow, run_input, quiet, as_json)


async def _latest_unfinished(app: Any, workflow: str) -> str | None:
    from agent_sdk.runtime.engine import Engine

    async with Engine(app) as engine:
        storage = await engine.storage()
        runs = await storage.list_runs(limit=1, workflow=workflow)
        if runs and runs[0].status != "succeeded":
            return runs[0].id
    return None


@click.command()
@click.argument("run_id")
@config_option
@click.option("--quiet", "-q", is_flag=True, help="No progress display or summary.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--force", is_flag=True, help="Resume even if another process seems to run it.")
def resume(run_id: str, config_path: Path | None, quiet: bool, as_json: bool, force: bool) -> None:
    """Finish RUN_ID: succeeded tasks are kept, recorded model and tool results are replayed.

    No completed tool call is executed again. Exit codes as for `run`.
    """
    from agent_sdk.app import load_app

    _execute(load_app(config_path), "resume", run_id, None, quiet, as_json, force=force)


@click.command()
@click.argument("run_id")
@config_option
def cancel(run_id: str, config_path: Path | None) -> None:
    """Cancel RUN_ID: its process stops within [runtime] cancel_poll_s; it stays resumable."""
    from agent_sdk.app import load_app
    from agent_sdk.runtime.engine import Engine

    app = load_app(config_path)

    async def go() -> bool:
        async with Engine(app) as engine:
            return await engine.cancel(run_id)

    if asyncio.run(go()):
        click.echo(f"cancelled {run_id}; resume it with `agent-sdk resume {run_id}`")
    else:
        click.echo(f"{run_id} had already finished; nothing to cancel", err=True)
        exit_with(EXIT_FAILURE)
