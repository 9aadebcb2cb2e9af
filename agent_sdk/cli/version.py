"""``agent-sdk version``."""

from __future__ import annotations

import platform

import click

from agent_sdk import __version__


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
def version(as_json: bool) -> None:
    """Print the agent-sdk version (and, with --json, Python's and pluggy's)."""
    if as_json:
        import pluggy

        from agent_sdk.cli._output import print_json

        print_json(
            {
                "agent_sdk": __version__,
                "python": platform.python_version(),
                "pluggy": pluggy.__version__,
            }
        )
        return
    click.echo(f"agent-sdk {__version__}")
