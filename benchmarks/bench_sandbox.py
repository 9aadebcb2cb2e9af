"""Cold start of one sandboxed execution, against a bare interpreter start.

Run: ``.venv/bin/python benchmarks/bench_sandbox.py [--runs 40] [--python /usr/bin/python3]``.

Every execution is a new sandbox (namespaces, mounts, seccomp, rlimits, a fresh tmpfs
workspace), so "cold start" is the price of each ``execute``. The target is at most 30 ms over
starting the same interpreter bare. Rows are measured round-robin (one of each per round) so
that a busy machine slows them alike; the script prints median, 10th percentile and minimum
and asserts nothing about time (house style 21).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from agent_sdk_sandbox_bwrap.sandbox import BwrapSandbox

from agent_sdk.kinds.sandbox import ExecutionRequest

TARGET_MS = 30.0


async def spawn(*argv: str) -> None:
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    await process.communicate()


async def main(runs: int, python: str | None, workspace: Path) -> None:
    box = BwrapSandbox(BwrapSandbox.Config(python=python))
    report = box.probe()
    interpreter = report["python"]
    flags = ("-B", "-s", "-S")

    async def sandboxed(code: str, language: str = "python", ws: Path | None = None) -> None:
        request = ExecutionRequest(code=code, language=language, workspace=ws)  # type: ignore[arg-type]
        result = await box.execute(request)
        if result.exit_code != 0:
            raise SystemExit(f"sandboxed run failed: {result}")

    rows: dict[str, Callable[[], Awaitable[None]]] = {
        "bare /bin/true": lambda: spawn("/bin/true"),
        "sandbox bash `true`": lambda: sandboxed("true", "bash"),
        f"bare {interpreter} {' '.join(flags)} -c pass": lambda: spawn(
            interpreter, *flags, "-c", "pass"
        ),
        "sandbox python `pass` (fresh workspace)": lambda: sandboxed("pass"),
        "sandbox python `pass` (given workspace)": lambda: sandboxed("pass", ws=workspace),
    }
    samples: dict[str, list[float]] = {label: [] for label in rows}
    for body in rows.values():  # warm up: page cache, bytecode
        await body()
    for _ in range(runs):
        for label, body in rows.items():
            started = time.perf_counter()
            await body()
            samples[label].append((time.perf_counter() - started) * 1000)

    print(f"bwrap {report['bwrap_version']}, python {report['python_version']} ({interpreter})")
    print(f"host uid {report['host_uid']}, staged paths: {report['staged_paths'] or 'none'}")
    print(f"{runs} rounds\n")
    print(f"{'':<58} {'median':>8} {'p10':>8} {'min':>8}  (ms)")
    stats: dict[str, tuple[float, float, float]] = {}
    for label, values in samples.items():
        values.sort()
        p10 = values[max(0, len(values) // 10 - 1)]
        stats[label] = (statistics.median(values), p10, values[0])
        print(f"{label:<58} {stats[label][0]:8.1f} {p10:8.1f} {values[0]:8.1f}")
    print()
    labels = list(rows)
    pairs = [(labels[1], labels[0]), (labels[3], labels[2]), (labels[4], labels[2])]
    for sandboxed_label, bare_label in pairs:
        over = [s - b for s, b in zip(stats[sandboxed_label], stats[bare_label], strict=True)]
        print(
            f"overhead of {sandboxed_label!r}: median {over[0]:.1f} ms, p10 {over[1]:.1f} ms, "
            f"min {over[2]:.1f} ms (target <= {TARGET_MS:.0f} ms)"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40, help="rounds (default 40)")
    parser.add_argument("--python", default=None, help="sandbox interpreter (default: running)")
    args = parser.parse_args()
    if sys.platform != "linux":
        raise SystemExit("the bwrap sandbox runs on Linux only")
    workspace = Path(tempfile.mkdtemp(prefix="bench-sandbox-"))
    workspace.chmod(0o777)  # the code runs as another uid when we are root
    try:
        asyncio.run(main(args.runs, args.python, workspace))
    finally:
        shutil.rmtree(workspace, ignore_errors=True)
