"""Shared CLI plumbing: error reporting, exit codes, consoles, option decorators."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from agent_sdk.errors import AgentSDKError, ConfigError, PluginLoadError

F = TypeVar("F", bound=Callable[..., Any])

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_INVALID = 2


def config_option(fn: F) -> F:
    """Add ``--config PATH`` (falls back to $AGENT_SDK_CONFIG, then ./agent-sdk.toml)."""
    return click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Configuration file (default: $AGENT_SDK_CONFIG, then ./agent-sdk.toml).",
    )(fn)


def stdout_console() -> Any:
    """A rich console on stdout (imported lazily: rich is not needed for --help).

    When stdout is not a terminal (piped, captured) tables are laid out 160 columns wide
    instead of rich's 80, so ids and paths are not truncated in logs.
    """
    from rich.console import Console

    width = None if sys.stdout.isatty() else 160
    return Console(soft_wrap=True, width=width)


def stderr_console() -> Any:
    """A rich console on stderr, for messages and progress."""
    from rich.console import Console

    return Console(stderr=True, soft_wrap=True)


def print_json(data: Any) -> None:
    """Print *data* as indented JSON on stdout (plain, no colour: it is meant to be piped)."""
    click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))


def report_error(exc: AgentSDKError) -> int:
    """Print an AgentSDKError on stderr (no traceback) and return its exit code."""
    from rich.markup import escape

    from agent_sdk.secrets import REDACTOR

    console = stderr_console()
    if isinstance(exc, ConfigError):
        count = len(exc.issues)
        console.print(
            f"[bold red]error:[/] invalid configuration ({count} problem{'s' * (count != 1)})"
        )
        for issue in exc.issues:
            console.print(f"  [red]✗[/] {escape(REDACTOR.redact(str(issue)))}")
        return EXIT_INVALID
    console.print(f"[bold red]error:[/] {escape(str(exc))}")
    return EXIT_INVALID if isinstance(exc, PluginLoadError) else EXIT_FAILURE


def run_cli(group: click.Group, argv: list[str]) -> int:
    """Run *group* with *argv*; map errors to exit codes instead of tracebacks."""
    try:
        # Without standalone mode click *returns* the code of an Exit raised by a command
        # (exit_with, --help) instead of raising it; commands themselves return None.
        result = group.main(args=argv, prog_name="agent-sdk", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return EXIT_INVALID if isinstance(exc, click.UsageError) else exc.exit_code
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except AgentSDKError as exc:
        return report_error(exc)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        return 130
    return result if isinstance(result, int) and not isinstance(result, bool) else EXIT_OK


def exit_with(code: int) -> None:
    """Stop the command with *code*."""
    sys.stdout.flush()
    raise click.exceptions.Exit(code)
