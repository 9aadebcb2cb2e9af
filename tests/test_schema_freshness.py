"""The checked-in docs/reference/agent-sdk.schema.json is what `agent-sdk schema` prints.

It covers the core sections, the builtin plugins and every first-party plugin (the entry
points declared by ``plugins/agent-sdk-*/pyproject.toml``) and nothing else: the allowlist
``AGENT_SDK_LOAD_PLUGINS`` is set to exactly those names, so whatever else is installed never
leaks into the published schema.
"""

from __future__ import annotations

import json
import os
import tomllib
from importlib import metadata
from pathlib import Path

import jsonschema
import pytest

from agent_sdk.cli import main
from agent_sdk.plugins import BUILTIN_PLUGINS, ENTRY_POINT_GROUP, get_plugin_manager

ROOT = Path(__file__).resolve().parents[1]
SCHEMA_PATH = "docs/reference/agent-sdk.schema.json"
SKIP_REASON = "run in the env with every first-party plugin installed (tox -e py311)"


def first_party_plugins() -> list[str]:
    """Entry-point names declared by the plugins in this repository."""
    names: set[str] = set()
    for pyproject in ROOT.glob("plugins/agent-sdk-*/pyproject.toml"):
        project = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {})
        names.update(project.get("entry-points", {}).get(ENTRY_POINT_GROUP, {}))
    return sorted(names)


def regenerate_command(names: list[str]) -> str:
    return f"AGENT_SDK_LOAD_PLUGINS={','.join(names)} agent-sdk schema -o {SCHEMA_PATH}"


@pytest.fixture
def schema_env(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Environment of the regeneration command; skips unless every first-party plugin is here."""
    names = first_party_plugins()
    installed = {ep.name for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}
    missing = [name for name in names if name not in installed]
    if missing:
        pytest.skip(f"{SKIP_REASON}; not installed: {', '.join(missing)}")
    for var in list(os.environ):
        if var.startswith("AGENT_SDK"):
            monkeypatch.delenv(var)
    monkeypatch.setenv("AGENT_SDK_LOAD_PLUGINS", ",".join(names))
    return names


def test_checked_in_schema_is_what_agent_sdk_schema_prints(
    schema_env: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    pm = get_plugin_manager()
    expected = {*BUILTIN_PLUGINS, *schema_env}
    broken = {n: r.error for n, r in pm.records.items() if n in expected and r.status != "loaded"}
    assert broken == {}, "a builtin or first-party plugin did not load: its table would be missing"
    assert main(["schema"]) == 0
    generated = capsys.readouterr().out
    checked_in = ROOT / SCHEMA_PATH
    current = checked_in.read_text(encoding="utf-8") if checked_in.exists() else None
    if generated != current:
        pytest.fail(regenerate_command(schema_env), pytrace=False)


def test_regenerate_command_writes_what_the_freshness_test_compares(
    schema_env: list[str], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["schema"]) == 0
    printed = capsys.readouterr().out
    target = tmp_path / SCHEMA_PATH
    assert main(["schema", "-o", str(target)]) == 0
    assert target.read_text(encoding="utf-8") == printed


def test_checked_in_schema_is_a_valid_draft_2020_12_schema() -> None:
    schema = json.loads((ROOT / SCHEMA_PATH).read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    assert {"disabled", *BUILTIN_PLUGINS} <= set(schema["properties"]["plugins"]["properties"])
