"""``agent-sdk plugins list``: what is installed, what it provides, what failed and why."""

from __future__ import annotations

import click

from agent_sdk.cli._output import EXIT_OK, exit_with, print_json


@click.group()
def plugins() -> None:
    """Inspect installed plugins."""


@plugins.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list (one object per plugin).")
def list_plugins(as_json: bool) -> None:
    """List builtin and installed plugins: distribution, version, status, what each provides.

    Status is loaded, failed (with the error) or blocked (disabled or not in the
    AGENT_SDK_LOAD_PLUGINS allowlist). Conflicting component names are listed after the table.
    Respects [plugins] disabled in the configuration file when one is found.
    """
    from agent_sdk.config import find_config_file, read_toml
    from agent_sdk.plugins import get_plugin_manager

    found = find_config_file()
    disabled = []
    if found is not None:
        section = read_toml(found).get("plugins") or {}
        disabled = [d for d in section.get("disabled", []) if isinstance(d, str)]
    pm = get_plugin_manager(disabled=disabled)
    registry = pm.registry(tolerate_conflicts=True)
    records = list(pm.records.values())
    if as_json:
        print_json([r.to_dict() for r in records])
        exit_with(EXIT_OK)
        return
    from rich.markup import escape
    from rich.table import Table

    from agent_sdk.cli._output import stdout_console

    table = Table(title="agent-sdk plugins", show_lines=False)
    for column in ("name", "distribution", "version", "status", "provides"):
        table.add_column(column)
    colours = {"loaded": "green", "failed": "red", "blocked": "yellow"}
    for r in records:
        provides = ", ".join(
            f"{kind}:{n}" for kind, names in sorted(r.components.items()) for n in names
        )
        status = f"[{colours[r.status]}]{r.status}[/]"
        if r.error:
            status += f"\n{escape(r.error)}"
        table.add_row(r.name, r.distribution or "-", r.version or "-", status, provides or "-")
    console = stdout_console()
    console.print(table)
    for conflict in registry.conflicts:
        console.print(f"[red]conflict:[/] {escape(str(conflict))}")
