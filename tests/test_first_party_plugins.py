"""With every first-party plugin installed (tox -e py311): discovery, allowlist, plugins list."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PLUGIN_DIRS = sorted(p for p in (ROOT / "plugins").glob("agent-sdk-*") if p.is_dir())
EXPECTED = {
    "sqlite": {"storage": ["sqlite"]},
    "sandbox-bwrap": {"sandbox": ["bwrap"]},
    "llamacpp": {"model": ["llamacpp"]},
    "openai": {"model": ["openai"]},
    "anthropic": {"model": ["anthropic"]},
    "tools": {
        "tool": [
            "http_fetch",
            "list_dir",
            "python_exec",
            "read_file",
            "shell",
            "web_search",
            "write_file",
        ]
    },
    "agents": {"agent": ["code-agent", "research-agent", "tool-agent"]},
    "alerts": {"alert_sink": ["email", "log", "slack", "webhook"]},
}


def entry_point_names() -> dict[str, str]:
    names = {}
    for directory in PLUGIN_DIRS:
        project = tomllib.loads((directory / "pyproject.toml").read_text())["project"]
        [name] = project["entry-points"]["agent_sdk"]
        names[name] = project["name"]
    return names


@pytest.fixture(scope="module")
def installed() -> dict[str, str]:
    names = entry_point_names()
    found = {ep.name for ep in metadata.entry_points(group="agent_sdk")}
    missing = sorted(set(names) - found)
    if missing:
        pytest.skip(
            f"run in the env with every first-party plugin installed (tox -e py311); "
            f"not installed: {', '.join(missing)}"
        )
    return names


def plugins_list(env_extra: dict[str, str]) -> list[dict[str, object]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENT_SDK")}
    env.update(env_extra)
    done = subprocess.run(
        [sys.executable, "-m", "agent_sdk.cli", "plugins", "list", "--json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT / "docs",
        check=True,
        timeout=120,
    )
    return json.loads(done.stdout)


def test_every_first_party_plugin_is_expected_here() -> None:
    assert set(entry_point_names()) == set(EXPECTED)


def test_every_first_party_plugin_loads_with_its_components(installed: dict[str, str]) -> None:
    records = {r["name"]: r for r in plugins_list({})}
    for name, components in EXPECTED.items():
        record = records[name]
        assert record["status"] == "loaded", record
        assert record["distribution"] == installed[name]
        assert {k: sorted(v) for k, v in record["components"].items()} == components


def test_the_allowlist_loads_only_the_named_plugins(installed: dict[str, str]) -> None:
    records = {r["name"]: r for r in plugins_list({"AGENT_SDK_LOAD_PLUGINS": "sqlite,tools"})}
    loaded = {
        n for n, r in records.items() if r["status"] == "loaded" and r["source"] == "entry_point"
    }
    assert loaded == {"sqlite", "tools"}
    assert records["openai"]["status"] == "blocked"


def test_strict_mode_passes_when_every_plugin_is_healthy(installed: dict[str, str]) -> None:
    records = plugins_list({"AGENT_SDK_STRICT_PLUGINS": "1"})
    assert all(r["status"] == "loaded" for r in records), records
