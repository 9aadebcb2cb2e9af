"""``agent-sdk sandbox run FILE``: run one file through the configured sandbox.

Prints one JSON object (``exit_code``, ``stdout``, ``stderr``, ``timed_out``, ``killed``,
``isolation``, ``duration_s``, plus ``stdout_truncated``, ``stderr_truncated`` and
``artifacts``) and exits with the *program's* status, so the command composes in scripts:

* the program's exit code when it exited (0 included);
* 124 when the sandbox's wall-clock timeout killed it (as ``timeout(1)`` does);
* 128+N when it died of signal N (the sandbox killed it for output or a quota, or a limit
  such as CPU time did);
* when nothing ran (stdout is then empty and the error is on stderr): 2 for usage or
  configuration errors (bad options, an unknown ``--sandbox``, an invalid configuration
  file), 1 when the sandbox is unavailable here (``SandboxUnavailableError``: the message
  says what is missing and how to fix it) or refused the request (``SandboxError``, e.g. a
  workspace its uid cannot write).
"""

from __future__ import annotations

from pathlib import Path
from typing import IO, Any

import click

from agent_sdk.cli._output import (
    EXIT_INVALID,
    config_option,
    exit_with,
    print_json,
    report_error,
)

EXIT_TIMEOUT = 124


@click.group()
def sandbox() -> None:
    """Run code through the configured sandbox."""


@sandbox.command("run")
@click.argument("file", type=click.File("r", encoding="utf-8"), metavar="FILE|-")
@click.option(
    "--sandbox",
    "sandbox_name",
    default=None,
    metavar="NAME",
    help="Registered sandbox to use (default: [sandbox] backend).",
)
@click.option(
    "--language",
    type=click.Choice(["python", "bash"]),
    default=None,
    help="Language of FILE (default: bash for *.sh, else python).",
)
@click.option(
    "--timeout",
    "timeout_s",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    metavar="SECONDS",
    help="Wall-clock limit (default: the sandbox's default_timeout_s, else 30).",
)
@click.option(
    "--workspace",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Existing directory to use as the workspace, kept afterwards (default: a fresh one).",
)
@config_option
def run(
    file: IO[str],
    sandbox_name: str | None,
    language: str | None,
    timeout_s: float | None,
    workspace: Path | None,
    config_path: Path | None,
) -> None:
    """Run FILE (or - for standard input) in the sandbox and print the result as JSON."""
    import asyncio

    from agent_sdk.app import load_app
    from agent_sdk.errors import UnknownComponentError
    from agent_sdk.kinds.sandbox import ExecutionRequest, Sandbox

    code = file.read()
    if language is None:
        language = "bash" if file.name.endswith(".sh") else "python"
    app = load_app(config_path)
    name = sandbox_name or app.config.sandbox.backend
    try:
        box = app.create("sandbox", name, where="sandbox")
    except UnknownComponentError as exc:  # a usage error (--sandbox or [sandbox] backend)
        report_error(exc)
        exit_with(EXIT_INVALID)
        return
    assert isinstance(box, Sandbox)
    box.probe()
    if timeout_s is None:
        timeout_s = float(getattr(box.config, "default_timeout_s", 30.0))
    request = ExecutionRequest(
        code=code,
        language=language,  # type: ignore[arg-type]
        timeout_s=timeout_s,
        workspace=workspace.resolve() if workspace is not None else None,
    )
    result = asyncio.run(box.execute(request))
    data: dict[str, Any] = result.to_dict()
    print_json(data)
    exit_with(_exit_status(result.exit_code, result.timed_out))


def _exit_status(exit_code: int | None, timed_out: bool) -> int:
    if timed_out:
        return EXIT_TIMEOUT
    if exit_code is None:
        return 1
    if exit_code < 0:
        return 128 - exit_code
    return exit_code & 0xFF
