"""The README's main job, for real: the code-audit workflow on a small real package.

Runs ``agent-sdk run --config examples/code-audit/agent-sdk.toml`` in a subprocess against the
installed ``pluggy`` sources, with the bubblewrap sandbox and the local SmolLM2 model through
llama.cpp, storing in SQLite; then checks the report's structure and the stored run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "examples" / "code-audit" / "agent-sdk.toml"
NEEDED = (
    "agent_sdk_sqlite",
    "agent_sdk_tools",
    "agent_sdk_agents",
    "agent_sdk_llamacpp",
    "agent_sdk_sandbox_bwrap",
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    for module in NEEDED:
        pytest.importorskip(module, reason="the quick start needs every first-party plugin")
    if shutil.which("bwrap") is None:
        from agent_sdk.testing.services import services_required

        if services_required():  # .ci/run installs bubblewrap
            pytest.fail("the quick start needs bubblewrap and it is not installed")
        pytest.skip("the quick start needs bubblewrap (apt-get install bubblewrap)")
    import pluggy

    target = Path(pluggy.__file__).parent
    cwd = tmp_path_factory.mktemp("audit")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENT_SDK")}
    cmd = [
        sys.executable,
        "-m",
        "agent_sdk.cli",
        "run",
        "--config",
        str(CONFIG),
        "--set",
        f"path={target}",
        "--json",
    ]
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    result = json.loads(done.stdout)
    shown = subprocess.run(
        [
            sys.executable,
            "-m",
            "agent_sdk.cli",
            "runs",
            "show",
            result["run_id"],
            "--json",
            "--config",
            str(CONFIG),
        ],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return {"result": result, "stored": json.loads(shown.stdout), "cwd": cwd, "target": target}


def test_the_audit_run_succeeds_and_every_task_is_stored_succeeded(audited: dict) -> None:
    result, stored = audited["result"], audited["stored"]
    assert result["status"] == "succeeded"
    assert stored["run"]["status"] == "succeeded"
    tasks = {t["task_id"]: t["status"] for t in stored["tasks"]}
    assert tasks == {
        name: "succeeded"
        for name in (
            "inventory",
            "check_1",
            "check_2",
            "check_3",
            "review_1",
            "review_2",
            "review_3",
            "render",
            "write_report",
        )
    }
    assert stored["run"]["usage"]["output_tokens"] > 0, "the local model really generated"
    events = [e["type"] for e in stored["events"]]
    assert events[0] == "run_started"
    assert events[-1] == "run_finished"
    assert events.count("model_call_finished") >= 3


def test_the_reviews_are_the_models_own_text(audited: dict) -> None:
    outputs = audited["result"]["outputs"]
    for task in ("review_1", "review_2", "review_3"):
        assert isinstance(outputs[task], str)
        assert outputs[task].strip(), f"{task} produced no notes"


def test_the_checks_ran_in_the_sandbox(audited: dict) -> None:
    outputs = audited["result"]["outputs"]
    for task in ("inventory", "check_1", "check_2", "check_3"):
        assert outputs[task]["sandbox"] == "bwrap"
        assert outputs[task]["exit_code"] == 0
        assert outputs[task]["json"] is not None
    inventory = outputs["inventory"]["json"]
    modules = {m["path"] for m in inventory["modules"]}
    assert "_manager.py" in modules
    batched = sorted(p for batch in inventory["batches"] for p in batch)
    assert batched == sorted(modules)


def test_the_report_has_its_sections_and_every_finding_module(audited: dict) -> None:
    report = (Path(audited["cwd"]) / "report.md").read_text(encoding="utf-8")
    for heading in (
        "# Code audit: /project",
        "## Severity counts",
        "## Findings per module",
        "## Model review notes",
        "### batch 1",
        "### batch 2",
        "### batch 3",
        "## Run",
    ):
        assert heading in report
    outputs = audited["result"]["outputs"]
    findings = [
        f for t in ("check_1", "check_2", "check_3") for f in outputs[t]["json"]["findings"]
    ]
    for module in {f["module"] for f in findings}:
        assert f"| {module} |" in report
    total = re.search(r"; (\d+) findings\.", report)
    assert total is not None
    assert int(total.group(1)) == len(findings)
    assert audited["result"]["run_id"] in report
    for task in ("inventory", "review_1"):
        assert f"| {task} | succeeded |" in report
