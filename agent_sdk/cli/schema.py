"""``agent-sdk schema``: the merged JSON Schema of core sections and installed plugins."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command()
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write to this file instead of stdout.",
)
def schema(output: Path | None) -> None:
    """Print the JSON Schema (draft 2020-12) of agent-sdk.toml with every loaded plugin's table.

    The copy checked in at docs/reference/agent-sdk.schema.json covers the builtins and the
    first-party plugins only; regenerate it with the command tests/test_schema_freshness.py
    prints, AGENT_SDK_LOAD_PLUGINS=<first-party plugins> agent-sdk schema -o
    docs/reference/agent-sdk.schema.json
    """
    from agent_sdk.config import full_schema
    from agent_sdk.plugins import get_plugin_manager

    text = json.dumps(full_schema(get_plugin_manager()), indent=2, sort_keys=True) + "\n"
    if output is None:
        click.echo(text, nl=False)
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}", err=True)
