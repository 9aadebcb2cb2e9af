"""nox sessions mirroring tox.ini, plus ``new_plugin``.

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
LINT_PATHS = ["agent_sdk", "plugins", "tests", "benchmarks", "docs", "noxfile.py"]

nox.options.error_on_missing_interpreters = True
nox.options.sessions = ["lint", "type", "docs", *(p.name for p in PLUGIN_DIRS), "tests"]


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The kernel and every plugin installed together: all tests, coverage of agent_sdk."""
    session.install("-e", ".[dev]")
    if PLUGIN_DIRS:
        session.install(*(str(p) for p in PLUGIN_DIRS))
    session.run(
        "pytest",
        "--cov=agent_sdk",
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
