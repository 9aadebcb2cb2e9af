"""``agent-sdk keys set|get|list|delete NAME``: secrets in the OS keyring.

NAME is ``service/username`` (the form of a ``{ keyring = "service/username" }`` reference) or
just ``username``, meaning service ``agent-sdk``. Values are read from a hidden prompt or
standard input, never from the command line (argv is visible to other users). The keyring has
no portable way to enumerate entries, so names set through this command are also kept in an
index entry (``agent-sdk/__index__``) that ``keys list`` reads.

On a machine without a keyring backend (typical for servers and CI) every subcommand fails with
a message explaining how to use environment variable references instead; nothing hangs.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from agent_sdk.cli._output import EXIT_FAILURE, exit_with

DEFAULT_SERVICE = "agent-sdk"
INDEX_KEY = "__index__"


def _split(name: str) -> tuple[str, str]:
    service, sep, username = name.partition("/")
    if not sep:
        return DEFAULT_SERVICE, name
    if not service or not username:
        raise click.BadParameter(
            f"{name!r} must be 'service/username' or 'username'", param_hint="NAME"
        )
    return service, username


def _backend() -> Any:
    from agent_sdk.errors import SecretError
    from agent_sdk.secrets import keyring_backend_available

    available, detail = keyring_backend_available()
    if not available:
        raise SecretError(
            f"cannot use the OS keyring: {detail}",
            hint='on headless machines reference secrets from the environment ({ env = "NAME" }); '
            "or install a backend (e.g. `pip install keyrings.alt`) and select it with "
            "PYTHON_KEYRING_BACKEND",
        )
    import keyring

    return keyring


def _index(kr: Any) -> list[str]:
    from agent_sdk.secrets import _keyring_call

    raw = _keyring_call(kr.get_password, DEFAULT_SERVICE, INDEX_KEY)
    try:
        names = json.loads(raw) if raw else []
    except json.JSONDecodeError:
        names = []
    return sorted({n for n in names if isinstance(n, str)})


def _save_index(kr: Any, names: list[str]) -> None:
    from agent_sdk.secrets import _keyring_call

    _keyring_call(kr.set_password, DEFAULT_SERVICE, INDEX_KEY, json.dumps(sorted(set(names))))


@click.group()
def keys() -> None:
    """Manage secrets in the OS keyring (referenced as { keyring = "service/username" })."""


@keys.command("set")
@click.argument("name")
@click.option("--stdin", "from_stdin", is_flag=True, help="Read the value from standard input.")
def set_key(name: str, from_stdin: bool) -> None:
    """Store a secret under NAME (prompted for, hidden; or --stdin)."""
    from agent_sdk.secrets import _keyring_call

    service, username = _split(name)
    kr = _backend()
    if from_stdin or not sys.stdin.isatty():
        value = sys.stdin.read().rstrip("\r\n")
    else:
        value = click.prompt(f"value for {service}/{username}", hide_input=True)
    if not value:
        raise click.BadParameter("the secret value is empty", param_hint="value")
    _keyring_call(kr.set_password, service, username, value)
    _save_index(kr, [*_index(kr), f"{service}/{username}"])
    click.echo(
        f'stored {service}/{username}; reference it as {{ keyring = "{service}/{username}" }}',
        err=True,
    )


@keys.command("get")
@click.argument("name")
def get_key(name: str) -> None:
    """Print the secret stored under NAME (for scripts; it is never logged)."""
    from agent_sdk.secrets import _keyring_call

    service, username = _split(name)
    kr = _backend()
    value = _keyring_call(kr.get_password, service, username)
    if value is None:
        click.echo(f"error: no secret stored under {service}/{username}", err=True)
        exit_with(EXIT_FAILURE)
    click.echo(value)


@keys.command("list")
def list_keys() -> None:
    """List the names of secrets stored with `agent-sdk keys set` (never their values)."""
    kr = _backend()
    for entry in _index(kr):
        click.echo(entry)


@keys.command("delete")
@click.argument("name")
def delete_key(name: str) -> None:
    """Delete the secret stored under NAME."""
    from agent_sdk.secrets import _keyring_call

    service, username = _split(name)
    kr = _backend()
    import keyring.errors

    try:
        _keyring_call(kr.delete_password, service, username)
    except keyring.errors.PasswordDeleteError:
        click.echo(f"error: no secret stored under {service}/{username}", err=True)
        exit_with(EXIT_FAILURE)
    _save_index(kr, [n for n in _index(kr) if n != f"{service}/{username}"])
    click.echo(f"deleted {service}/{username}", err=True)
