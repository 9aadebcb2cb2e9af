"""Start-up cost: ``import agent_sdk`` and ``agent-sdk --help``, in fresh processes.

    python benchmarks/bench_startup.py                 # median of 20 runs each
    python benchmarks/bench_startup.py --runs 50 --importtime

Each command runs in a new interpreter, *runs* times (after one warm-up run that fills the OS
file cache and writes bytecode); the median wall time is printed next to the median of a
bare ``python -c pass``, and the difference is what agent-sdk adds. Targets are printed for
comparison, never asserted (house style 21): timings depend on the machine.

``--importtime`` adds the modules that cost the most, from ``python -X importtime``.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

TARGETS_MS = {"import agent_sdk": 100.0, "agent-sdk --help": 250.0}
HELP_SNIPPET = "import sys; from agent_sdk.cli import main; sys.exit(main(['--help']))"
IMPORTTIME_RE = re.compile(r"^import time:\s+(\d+)\s+\|\s+(\d+)\s+\|(\s*)(\S+)\s*$")


def _cli_command(python: str) -> list[str] | None:
    """The installed ``agent-sdk`` script next to *python*, else ``None``."""
    candidates = [Path(python).parent / "agent-sdk", Path(python).parent / "agent-sdk.exe"]
    for candidate in candidates:
        if candidate.is_file():
            return [str(candidate), "--help"]
    found = shutil.which("agent-sdk")
    return [found, "--help"] if found else None


def _cli_importable(python: str) -> bool:
    probe = subprocess.run([python, "-c", "import agent_sdk.cli"], capture_output=True, check=False)
    return probe.returncode == 0


def time_command(argv: Sequence[str], runs: int, env: dict[str, str]) -> list[float]:
    """Wall-clock seconds of *runs* executions of *argv* (after one warm-up run)."""
    subprocess.run(argv, env=env, capture_output=True, check=True)
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(
            argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True
        )
        samples.append(time.perf_counter() - start)
    return samples


def import_offenders(
    python: str, code: str, top: int, env: dict[str, str], max_depth: int = 2
) -> list[tuple[int, int, int, str]]:
    """``(depth, self µs, cumulative µs, module)`` of the *top* costliest imports of *code*.

    Only modules imported at most *max_depth* levels below the top are listed, costliest
    (cumulative) first.
    """
    result = subprocess.run(
        [python, "-X", "importtime", "-c", code],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    rows = []
    for line in result.stderr.splitlines():
        match = IMPORTTIME_RE.match(line)
        if match:
            depth = (len(match.group(3)) - 1) // 2
            if depth <= max_depth:
                rows.append((depth, int(match.group(1)), int(match.group(2)), match.group(4)))
    return sorted(rows, key=lambda row: row[2], reverse=True)[:top]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="runs per command (default 20)")
    parser.add_argument("--python", default=sys.executable, help="interpreter to measure")
    parser.add_argument("--importtime", action="store_true", help="show the costliest imports")
    parser.add_argument("--top", type=int, default=12, help="rows of --importtime (default 12)")
    args = parser.parse_args(argv)

    # Bytecode is written during the warm-up run, as it would be after installation.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["NO_COLOR"] = "1"
    python = args.python

    print(f"python: {python}")
    print(f"runs per command: {args.runs} (median, wall clock, fresh process each)\n")
    baseline = statistics.median(time_command([python, "-c", "pass"], args.runs, env)) * 1000
    print(f"{'command':<24}{'median':>10}{'minus baseline':>16}{'target':>10}")
    print(f"{'python -c pass':<24}{baseline:>8.1f}ms{'':>16}{'':>10}")

    commands: dict[str, list[str] | None] = {
        "import agent_sdk": [python, "-c", "import agent_sdk"],
        "agent-sdk --help": _cli_command(python)
        or ([python, "-c", HELP_SNIPPET] if _cli_importable(python) else None),
    }
    for label, command in commands.items():
        target = TARGETS_MS[label]
        if command is None:
            print(f"{label:<24}{'skipped: agent_sdk.cli is not installed':>36}")
            continue
        try:
            median = statistics.median(time_command(command, args.runs, env)) * 1000
        except subprocess.CalledProcessError as exc:
            print(f"{label:<24}  failed with exit status {exc.returncode}: {' '.join(command)}")
            continue
        added = median - baseline
        verdict = "within" if added <= target else "OVER"
        print(f"{label:<24}{median:>8.1f}ms{added:>14.1f}ms{target:>8.0f}ms  ({verdict} target)")

    if args.importtime:
        for label, code in (("import agent_sdk", "import agent_sdk"), ("--help", HELP_SNIPPET)):
            rows = import_offenders(python, code, args.top, env)
            print(f"\ncostliest top-level imports of {label} (python -X importtime):")
            print(f"{'cumulative':>12}{'self':>10}  module (indented by import depth)")
            for depth, self_us, cumulative_us, module in rows:
                indent = "  " * depth
                print(f"{cumulative_us / 1000:>10.1f}ms{self_us / 1000:>8.1f}ms  {indent}{module}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
