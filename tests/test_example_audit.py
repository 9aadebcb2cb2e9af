"""The code-audit example's analysis script: each rule finds what it claims, and only that."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "examples" / "code-audit" / "audit.py"


@pytest.fixture(scope="module")
def audit() -> ModuleType:
    spec = importlib.util.spec_from_file_location("audit_example", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BAD = '''
"""A module full of problems."""
import functools
import os
import subprocess

CACHE = {}
SEEN = []
TRIMMED = []


def grows(key, value):
    """Adds forever."""
    CACHE[key] = value
    SEEN.append(key)
    TRIMMED.append(key)
    TRIMMED.pop(0)


@functools.lru_cache(maxsize=None)
def unbounded(x):
    """Cached forever."""
    return x


@functools.lru_cache(maxsize=128)
def bounded(x):
    """Cached with a bound."""
    return x


def risky(cmd):
    """Runs things."""
    try:
        eval(cmd)
    except:
        pass
    try:
        os.system(cmd)
    except Exception:
        pass
    subprocess.run(cmd, shell=True)
    subprocess.run(["ls"], shell=False)


def undocumented():
    return 1


def _private():
    return 2
'''

BRANCHY = (
    "def branchy(x):\n    '''Many branches.'''\n"
    + "".join(f"    if x == {i}:\n        return {i}\n" for i in range(25))
    + "    return -1\n"
)

LONG = "def long():\n    '''Long.'''\n" + "    x = 1\n" * 130 + "    return x\n"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text('"""Package."""\n')
    (root / "pkg" / "bad.py").write_text(textwrap.dedent(BAD))
    (root / "pkg" / "branchy.py").write_text('"""Branches."""\n' + BRANCHY)
    (root / "pkg" / "long.py").write_text('"""Long."""\n' + LONG)
    (root / "pkg" / "broken.py").write_text("def (:\n")
    (root / ".hidden").mkdir()
    (root / ".hidden" / "skip.py").write_text("eval('1')\n")
    return root


def findings(audit: ModuleType, root: Path) -> list[dict[str, object]]:
    result = audit.check(root, 0, 1)
    return result["findings"]


def rules_at(found: list[dict[str, object]], module: str) -> set[str]:
    return {str(f["rule"]) for f in found if f["module"] == module}


def test_each_rule_flags_its_pattern(audit: ModuleType, project: Path) -> None:
    found = findings(audit, project)
    bad = rules_at(found, "pkg/bad.py")
    assert {
        "eval-exec",
        "bare-except",
        "swallowed-exception",
        "shell-true",
        "unbounded-cache",
        "unbounded-collection",
        "missing-docstring",
    } <= bad
    messages = " ".join(str(f["message"]) for f in found if f["module"] == "pkg/bad.py")
    assert "CACHE" in messages
    assert "SEEN" in messages
    assert "TRIMMED" not in messages, "a collection that is also trimmed is bounded"
    cached = [str(f["message"]) for f in found if f["rule"] == "unbounded-cache"]
    assert [m.split()[0] for m in cached] == ["unbounded()"], "lru_cache(maxsize=128) is bounded"
    assert "undocumented()" in messages
    assert "_private()" not in messages
    shell = [f for f in found if f["rule"] == "shell-true"]
    assert len(shell) == 2, "os.system and shell=True, not shell=False"
    assert rules_at(found, "pkg/branchy.py") == {"complexity"}
    [cx] = [f for f in found if f["module"] == "pkg/branchy.py"]
    assert cx["severity"] == "high"
    assert rules_at(found, "pkg/long.py") == {"long-function"}


def test_unparsable_and_hidden_files_are_reported_or_skipped(
    audit: ModuleType, project: Path
) -> None:
    result = audit.check(project, 0, 1)
    assert result["unparsed"] == ["pkg/broken.py"]
    assert not any(".hidden" in m for m in result["modules"])


def test_inventory_batches_cover_every_module_once(audit: ModuleType, project: Path) -> None:
    inv = audit.inventory(project, 3)
    paths = [m["path"] for m in inv["modules"]]
    batched = [p for batch in inv["batches"] for p in batch]
    assert sorted(batched) == sorted(paths)
    assert len(inv["batches"]) == 3
    assert inv["totals"]["modules"] == 5
    bad = next(m for m in inv["modules"] if m["path"] == "pkg/bad.py")
    assert {f["name"] for f in bad["functions"]} >= {"grows", "risky", "undocumented"}


def test_report_renders_counts_tables_notes_and_run(audit: ModuleType, project: Path) -> None:
    data = {
        "inventory": audit.inventory(project, 2),
        "checks": [audit.check(project, i, 2) for i in range(2)],
        "reviews": {"batch 0": "Split risky() and drop eval."},
        "run": {
            "id": "run_x",
            "workflow": "audit",
            "usage": {"input_tokens": 5, "output_tokens": 7},
            "tool_calls": 3,
            "tasks": {"inventory": {"status": "succeeded", "attempt": 1, "duration_s": 0.1}},
        },
    }
    text = audit.report(data)
    for heading in (
        "# Code audit",
        "## Severity counts",
        "## Findings per module",
        "## High-severity findings",
        "## Model review notes",
        "## Run",
    ):
        assert heading in text
    assert "| pkg/bad.py |" in text
    assert "Split risky() and drop eval." in text
    assert "run_x" in text
    assert "5 in / 7 out" in text


def test_script_runs_as_a_program(project: Path) -> None:
    out = subprocess.run(
        [sys.executable, str(SCRIPT), "inventory", str(project), "--batches", "2"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert json.loads(out)["totals"]["modules"] == 5
