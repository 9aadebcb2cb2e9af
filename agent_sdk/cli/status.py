"""``agent-sdk status``: active runs, recent alerts, and circuit breakers as last recorded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import click

from agent_sdk.cli._output import config_option, print_json


@click.command()
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
def status(config_path: Path | None, as_json: bool) -> None:
    """Show running runs, recent alerts and circuit breaker states.

    Breakers live in the process running the workflow; their transitions are recorded as
    `circuit_breaker_changed` events, and this shows the latest state of each breaker found in
    the 20 most recent runs.
    """
    from agent_sdk.cli.runs import when, with_storage

    async def load(storage: Any) -> dict[str, Any]:
        running = await storage.list_runs(limit=50, status="running")
        recent = await storage.list_runs(limit=20)
        breakers: dict[str, dict[str, Any]] = {}
        for run in reversed(recent):
            for event in await storage.list_events(run.id):
                if event.type == "circuit_breaker_changed":
                    breakers[event.data.get("breaker", "?")] = {
                        "state": event.data.get("new"),
                        "since": event.created_at,
                        "run_id": run.id,
                    }
        alerts = await storage.list_alerts(limit=10)
        return {"running": running, "breakers": breakers, "alerts": alerts}

    data = with_storage(config_path, load)
    if as_json:
        print_json(
            {
                "running": [attrs.asdict(r) for r in data["running"]],
                "breakers": data["breakers"],
                "alerts": [attrs.asdict(a) for a in data["alerts"]],
            }
        )
        return
    from rich.table import Table

    from agent_sdk.cli._output import stdout_console

    console = stdout_console()
    console.print(f"[bold]running runs:[/] {len(data['running'])}")
    for r in data["running"]:
        console.print(f"  {r.id} {r.workflow} (updated {when(r.updated_at)})")
    table = Table(title="circuit breakers (last recorded state)")
    for column in ("breaker", "state", "since (UTC)", "run"):
        table.add_column(column)
    for name, info in sorted(data["breakers"].items()):
        table.add_row(name, str(info["state"]), when(info["since"]), info["run_id"])
    console.print(table if data["breakers"] else "no circuit breaker has changed state")
    if data["alerts"]:
        alerts = Table(title="recent alerts")
        for column in ("time (UTC)", "rule", "severity", "title"):
            alerts.add_column(column)
        for a in data["alerts"]:
            alerts.add_row(when(a.created_at), a.rule, a.severity, a.title)
        console.print(alerts)
