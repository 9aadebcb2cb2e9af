"""The ``agent-sdk`` command line.

Subcommands live one group per module in this package and are imported only when invoked, so
``agent-sdk --help`` imports neither pydantic nor any plugin. Every command exits 0 on
success, 1 on a runtime failure and 2 on invalid input (bad configuration, bad arguments);
:class:`~agent_sdk.errors.AgentSDKError` messages are printed without a traceback.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from agent_sdk import __version__

__all__ = ["cli", "main"]

# name -> (module:attribute, one-line help shown by --help without importing the module)
_COMMANDS: dict[str, tuple[str, str]] = {
    "version": ("agent_sdk.cli.version:version", "Print the agent-sdk version."),
    "plugins": ("agent_sdk.cli.plugins:plugins", "Inspect installed plugins."),
    "config": ("agent_sdk.cli.config:config", "Validate or show the configuration."),
    "schema": ("agent_sdk.cli.schema:schema", "Print the JSON Schema of the configuration."),
    "keys": ("agent_sdk.cli.keys:keys", "Manage secrets in the OS keyring."),
    "run": ("agent_sdk.cli.run:run", "Run a workflow durably, with progress."),
    "resume": ("agent_sdk.cli.run:resume", "Finish an interrupted, cancelled or failed run."),
    "cancel": ("agent_sdk.cli.run:cancel", "Cancel a running run (it stays resumable)."),
    "runs": ("agent_sdk.cli.runs:runs", "List runs; show a run's tasks and timeline."),
    "status": ("agent_sdk.cli.status:status", "Running runs, breakers, recent alerts."),
    "db": ("agent_sdk.cli.db:db", "Back up, restore and prune storage."),
    "sandbox": ("agent_sdk.cli.sandbox:sandbox", "Run code through the configured sandbox."),
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def __init__(self, *args: Any, lazy: dict[str, tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self._lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self._lazy:
            target, _ = self._lazy[cmd_name]
            module_name, _, attr = target.partition(":")
            command = getattr(importlib.import_module(module_name), attr)
            assert isinstance(command, click.Command)
            return command
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, self._lazy[name][1]) for name in sorted(self._lazy)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(
    cls=LazyGroup,
    lazy=_COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, "-V", "--version", prog_name="agent-sdk")
@click.option(
    "--log-format",
    type=click.Choice(["auto", "console", "json"]),
    default=None,
    help="Log format (default: [logging] format, else console on a TTY and JSON otherwise).",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error", "critical"]),
    default=None,
    help="Minimum log level (default: [logging] level, else warning).",
)
@click.option(
    "-p",
    "--plugin",
    "plugin_modules",
    multiple=True,
    metavar="MODULE",
    help="Also register this importable module as a plugin (repeatable; like pytest -p).",
)
@click.pass_context
def cli(
    ctx: click.Context,
    log_format: str | None,
    log_level: str | None,
    plugin_modules: tuple[str, ...],
) -> None:
    """agent-sdk: build and run AI agents and multi-agent workflows.

    Configuration is read from --config, $AGENT_SDK_CONFIG or ./agent-sdk.toml.
    """
    from agent_sdk.logging import configure_logging

    configure_logging(log_format or "auto", log_level or "warning")  # type: ignore[arg-type]
    if plugin_modules:
        import os

        if "" not in sys.path and os.getcwd() not in sys.path:
            sys.path.insert(0, os.getcwd())  # like `python -m`: modules next to the config
        existing = os.environ.get("AGENT_SDK_PLUGIN_MODULES", "")
        os.environ["AGENT_SDK_PLUGIN_MODULES"] = ",".join(filter(None, [existing, *plugin_modules]))
    ctx.ensure_object(dict)
    ctx.obj["log_format"] = log_format
    ctx.obj["log_level"] = log_level


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point. Returns the exit code (also used by tests)."""
    from agent_sdk.cli._output import run_cli

    return run_cli(cli, argv if argv is not None else sys.argv[1:])
