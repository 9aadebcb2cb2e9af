"""``agent-sdk config validate`` and ``agent-sdk config show``."""

from __future__ import annotations

from pathlib import Path

import click

from agent_sdk.cli._output import EXIT_OK, config_option, exit_with, print_json


@click.group()
def config() -> None:
    """Validate or show the configuration."""


@config.command()
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print {valid, source, issues} as JSON.")
def validate(config_path: Path | None, as_json: bool) -> None:
    """Check the configuration file and every plugin table against its schema.

    Exits 0 when valid, 2 when invalid, listing every problem (file, key path, what was
    expected, what was found).
    """
    from agent_sdk.app import load_app
    from agent_sdk.errors import ConfigError

    try:
        app = load_app(config_path)
    except ConfigError as exc:
        if as_json:
            from agent_sdk.secrets import REDACTOR

            issues = [REDACTOR.redact_value(i.to_dict()) for i in exc.issues]
            print_json({"valid": False, "issues": issues})
            exit_with(2)
        raise
    if as_json:
        print_json({"valid": True, "source": app.config.source, "issues": []})
    else:
        click.echo(f"valid: {app.config.source}")
    exit_with(EXIT_OK)


@config.command()
@config_option
def show(config_path: Path | None) -> None:
    """Print the effective configuration (file + environment overrides + defaults) as JSON.

    Secret references are shown as references; values under sensitive keys are masked.
    """
    from agent_sdk.app import load_app

    app = load_app(config_path)
    print_json({"source": app.config.source, "config": app.config.to_toml_dict(redact=True)})
