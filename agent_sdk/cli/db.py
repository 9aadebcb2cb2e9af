"""``agent-sdk db backup PATH`` / ``agent-sdk db restore PATH`` / ``agent-sdk db purge``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from agent_sdk.cli._output import config_option


@click.group()
def db() -> None:
    """Back up, restore and prune the configured storage backend."""


def _with_spinner(message: str, config_path: Path | None, fn: Any) -> Any:
    from agent_sdk.cli._output import stderr_console
    from agent_sdk.cli.runs import with_storage

    with stderr_console().status(message):
        return with_storage(config_path, fn)


@db.command()
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@config_option
def backup(path: Path, config_path: Path | None) -> None:
    """Write a consistent copy of the store to PATH while it stays online."""
    _with_spinner(f"backing up to {path}", config_path, lambda s: s.backup(path))
    click.echo(f"backed up to {path}")


@db.command()
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@config_option
@click.confirmation_option(prompt="Replace the store's contents with the backup?")
def restore(path: Path, config_path: Path | None) -> None:
    """Replace the store's contents with the backup at PATH (validated first)."""
    _with_spinner(f"restoring from {path}", config_path, lambda s: s.restore(path))
    click.echo(f"restored from {path}")


@db.command()
@config_option
@click.option(
    "--older-than-days", type=float, required=True, help="Delete finished runs older than this."
)
def purge(config_path: Path | None, older_than_days: float) -> None:
    """Delete finished runs (with their tasks, steps and events) older than N days."""
    count = _with_spinner(
        "purging", config_path, lambda s: s.purge(older_than_s=older_than_days * 86400)
    )
    click.echo(f"deleted {count} run(s)")
