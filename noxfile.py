"""nox sessions mirroring tox.ini, plus ``quickstart`` and ``new_plugin``.

    nox -s quickstart                    # .venv with everything, then the code-audit workflow
    nox -s quickstart -- --set path=DIR  # audit another project (arguments go to agent-sdk run)
    nox                                  # lint, type, docs, every agent-sdk-<name>, tests
    nox -s tests -- -k config            # arguments after -- go to pytest
    nox -s agent-sdk-sqlite              # one plugin installed alone with the kernel
    nox -s new_plugin -- my-thing        # plugins/agent-sdk-my-thing/ from the template

Unlike tox.ini, plugin sessions are found by globbing ``plugins/agent-sdk-*/``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
PLUGIN_DIRS = sorted(p for p in (ROOT / "plugins").glob("agent-sdk-*") if p.is_dir())
PYTHON = "3.11"
LINT_PATHS = ["agent_sdk", "plugins", "tests", "benchmarks", "docs", "examples", "noxfile.py"]
AUDIT_CONFIG = ROOT / "examples" / "code-audit" / "agent-sdk.toml"

nox.options.error_on_missing_interpreters = True
nox.options.sessions = ["lint", "type", "docs", *(p.name for p in PLUGIN_DIRS), "tests"]


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The kernel and every plugin installed together: all tests, coverage of agent_sdk."""
    session.install(".[dev]")
    if PLUGIN_DIRS:
        session.install(*(f"{p}[test]" for p in PLUGIN_DIRS))
    session.run(
        "pytest",
        "--cov",
        "--cov-report=term",
        "--cov-fail-under=85",
        "tests",
        "plugins",
        *session.posargs,
    )


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    session.install("ruff>=0.5")
    session.run("ruff", "check", *LINT_PATHS)
    session.run("ruff", "format", "--check", *LINT_PATHS)


@nox.session(name="type", python=PYTHON)
def type_check(session: nox.Session) -> None:
    """mypy --strict on agent_sdk/ (settings in pyproject.toml)."""
    session.install("-e", ".[dev]")
    session.run("mypy", *session.posargs)


@nox.session
def docs(session: nox.Session) -> None:
    """Build the documentation site with mkdocs --strict (into ./site)."""
    session.install("mkdocs-material>=9.5", "mkdocstrings[python]>=0.25", "ruff>=0.5")
    session.run("mkdocs", "build", "--strict", *session.posargs)


def _plugin_session(plugin_dir: Path) -> None:
    @nox.session(name=plugin_dir.name, python=PYTHON)
    def run_plugin_tests(session: nox.Session) -> None:
        session.install(".")  # the kernel first, so the plugin's agent-sdk dependency is met
        session.install(f"{plugin_dir}[test]", "pytest>=8", "pytest-asyncio>=0.24")
        session.run("pytest", str(plugin_dir / "tests"), *session.posargs)

    run_plugin_tests.__doc__ = f"{plugin_dir.name} installed alone with the kernel: its tests."


for _plugin_dir in PLUGIN_DIRS:
    _plugin_session(_plugin_dir)


@nox.session(python=False)
def new_plugin(session: nox.Session) -> None:
    """Create plugins/agent-sdk-<name>/ from plugins/_template: nox -s new_plugin -- NAME."""
    if len(session.posargs) != 1:
        session.error("usage: nox -s new_plugin -- NAME   (e.g. my-thing)")
    spec = importlib.util.spec_from_file_location(
        "_plugin_template_render", ROOT / "plugins" / "_template" / "render.py"
    )
    assert spec is not None
    assert spec.loader is not None
    render = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(render)
    code = render.main([session.posargs[0], "--root", str(ROOT)])
    if code:
        session.error(f"could not create the plugin (exit {code})")


@nox.session(python=False)
def quickstart(session: nox.Session) -> None:
    """The README's first command: install everything into ./.venv and run the code audit.

    Creates (or reuses) ``.venv`` with the kernel and every first-party plugin (the first time,
    llama-cpp-python compiles from source: about 8 minutes on 2 cores; pip caches the wheel),
    makes sure bubblewrap is there for the sandbox (installed with apt-get when running as
    root, otherwise the command to run is printed), then runs the code-audit workflow on the
    embedded defaults: SQLite storage, the local SmolLM2 model. Arguments after ``--`` go to
    ``agent-sdk run`` (e.g. ``--set path=/path/to/project``).
    """
    import os
    import shutil
    import sys

    if shutil.which("bwrap") is None:
        if os.geteuid() == 0 and shutil.which("apt-get"):
            session.log("installing bubblewrap (the sandbox's isolation) with apt-get")
            session.run("apt-get", "update", "-q", external=True)
            session.run(
                "apt-get",
                "install",
                "-y",
                "-q",
                "--no-install-recommends",
                "bubblewrap",
                external=True,
                env={"DEBIAN_FRONTEND": "noninteractive"},
            )
        else:
            session.error(
                "the sandbox needs bubblewrap: install it (e.g. `sudo apt-get install "
                "bubblewrap`) and run this again"
            )
    venv = ROOT / ".venv"
    python = venv / "bin" / "python"
    if not python.exists():
        session.run(sys.executable, "-m", "venv", str(venv), external=True)
    session.run(str(python), "-m", "pip", "install", "-q", "--upgrade", "pip", external=True)
    session.log("installing agent-sdk and its first-party plugins into .venv")
    session.run(
        str(python),
        "-m",
        "pip",
        "install",
        "-q",
        "-e",
        str(ROOT),
        *(f"-e{p}" for p in PLUGIN_DIRS),
        external=True,
    )
    session.run(
        str(venv / "bin" / "agent-sdk"),
        "run",
        "--config",
        str(AUDIT_CONFIG),
        *session.posargs,
        external=True,
    )
    session.log(
        "report.md is in the current directory; see the run with "
        "`.venv/bin/agent-sdk runs list --config examples/code-audit/agent-sdk.toml`"
    )
