"""Storage write cost: per write, per agent run, and agent runs per second.

Run: ``python benchmarks/bench_storage.py [--runs N] [--backend sqlite]``. Prints numbers and
asserts nothing (house style 21).

What is measured, for each ``mode`` (``thread``: every call on the store's own thread;
``inline``: on the event loop's thread) and ``synchronous`` setting of the sqlite backend:

* **per write**: sequential ``append_step`` calls (await one, then the next), mean and p99;
* **agent run**: one agent run's journal written sequentially, as the runtime does it:
  ``create_run``, ``save_task`` running, 2 model responses + 1 tool call + 1 tool result
  (``append_step`` x4), ``append_events`` (3 events), ``save_task`` succeeded, ``update_run``
  succeeded = 9 writes;
* **runs/s at concurrency C**: C such agent runs in flight at once (``asyncio.gather``),
  and the writes per second that makes;
* **tasks/s**: the smallest durable task (``save_task`` running, one ``append_step``,
  ``save_task`` succeeded = 3 writes), 256 in flight;
* **loop stall**: the longest time a 1 ms ticker on the event loop was held up during the
  concurrent runs; that is what other coroutines (HTTP clients, timeouts) feel.

A baseline of raw ``sqlite3`` writes on one thread (no asyncio, no records) shows the floor.
Each configuration is measured ``--repeat`` times; the median of each number is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from agent_sdk_sqlite.storage import SQLiteStorage

from agent_sdk.kinds.storage import EventRecord, RunRecord, StepRecord, TaskRecord

WRITES_PER_RUN = 9
MESSAGE = {
    "role": "assistant",
    "content": "I will look that up." * 4,
    "tool_calls": [{"id": "call_1", "name": "search", "arguments": {"q": "agent-sdk"}}],
    "usage": {"input_tokens": 812, "output_tokens": 64},
}


async def agent_run(store: SQLiteStorage, run_id: str) -> None:
    """The 9 writes of one small agent run, each awaited before the next."""
    await store.create_run(RunRecord(id=run_id, workflow="bench", status="running", input="q"))
    await store.save_task(TaskRecord(run_id=run_id, task_id="t1", status="running", attempt=1))
    for key, type_ in [
        ("t1#1:model:0", "model_response"),
        ("t1#1:tool_call:call_1", "tool_call"),
        ("t1#1:tool:call_1", "tool_result"),
        ("t1#1:model:1", "model_response"),
    ]:
        await store.append_step(
            StepRecord(run_id=run_id, task_id="t1", key=key, type=type_, data=MESSAGE)
        )
    await store.append_events(
        [
            EventRecord(run_id=run_id, type="task_started", task_id="t1"),
            EventRecord(run_id=run_id, type="tool_call_finished", task_id="t1", data={"ms": 3}),
            EventRecord(run_id=run_id, type="task_finished", task_id="t1"),
        ]
    )
    await store.save_task(
        TaskRecord(run_id=run_id, task_id="t1", status="succeeded", attempt=1, output="done")
    )
    await store.update_run(run_id, status="succeeded", output={"t1": "done"})


async def durable_task(store: SQLiteStorage, run_id: str, task_id: str) -> None:
    """The 3 writes of the smallest durable task."""
    await store.save_task(TaskRecord(run_id=run_id, task_id=task_id, status="running"))
    await store.append_step(
        StepRecord(
            run_id=run_id,
            task_id=task_id,
            key=f"{task_id}#1:tool",
            type="tool_result",
            data={"ok": True},
        )
    )
    await store.save_task(
        TaskRecord(run_id=run_id, task_id=task_id, status="succeeded", output="done")
    )


async def loop_stall(stop: asyncio.Event) -> float:
    """Longest extra delay of a 1 ms sleep on this loop until *stop* is set (seconds)."""
    worst = 0.0
    while not stop.is_set():
        start = time.perf_counter()
        await asyncio.sleep(0.001)
        worst = max(worst, time.perf_counter() - start - 0.001)
    return worst


async def bench_config(directory: Path, runs: int, **settings: Any) -> dict[str, Any]:
    store = SQLiteStorage(SQLiteStorage.Config(path=str(directory / "bench.db"), **settings))
    await store.open()
    out: dict[str, Any] = {}
    try:
        await store.create_run(RunRecord(id="seq", workflow="bench"))
        samples = []
        for i in range(runs * WRITES_PER_RUN):
            step = StepRecord(run_id="seq", task_id="t", key=f"k{i}", type="x", data=MESSAGE)
            start = time.perf_counter()
            await store.append_step(step)
            samples.append(time.perf_counter() - start)
        samples.sort()
        out["write_mean_us"] = statistics.fmean(samples) * 1e6
        out["write_p99_us"] = samples[int(len(samples) * 0.99)] * 1e6

        run_samples = []
        for i in range(runs):
            start = time.perf_counter()
            await agent_run(store, f"run-{i}")
            run_samples.append(time.perf_counter() - start)
        run_samples.sort()
        out["run_mean_ms"] = statistics.fmean(run_samples) * 1e3
        out["run_p99_ms"] = run_samples[int(len(run_samples) * 0.99)] * 1e3

        for concurrency in (16, 256):
            stop = asyncio.Event()
            ticker = asyncio.create_task(loop_stall(stop))
            total = max(runs, concurrency * 2)
            start = time.perf_counter()
            for first in range(0, total, concurrency):
                await asyncio.gather(
                    *(
                        agent_run(store, f"c{concurrency}-{n}")
                        for n in range(first, min(total, first + concurrency))
                    )
                )
            elapsed = time.perf_counter() - start
            stop.set()
            out[f"runs_per_s_c{concurrency}"] = total / elapsed
            out[f"stall_ms_c{concurrency}"] = (await ticker) * 1e3

        await store.create_run(RunRecord(id="tasks", workflow="bench"))
        total = max(runs * 3, 512) // 256 * 256
        start = time.perf_counter()
        for first in range(0, total, 256):
            await asyncio.gather(
                *(durable_task(store, "tasks", f"t{n}") for n in range(first, first + 256))
            )
        out["tasks_per_s_c256"] = total / (time.perf_counter() - start)
    finally:
        await store.close()
    return out


def raw_sqlite_floor(directory: Path, writes: int, n: int = 0) -> float:
    """Mean seconds per committed INSERT with plain sqlite3, WAL, synchronous=NORMAL."""
    conn = sqlite3.connect(str(directory / f"raw{n}.db"), isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("CREATE TABLE t (run TEXT, seq INTEGER, data TEXT, PRIMARY KEY (run, seq))")
    payload = '{"x": 1}'
    start = time.perf_counter()
    for i in range(writes):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t VALUES (?, ?, ?)", ("r", i, payload))
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return elapsed / writes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=300, help="agent runs per measurement")
    parser.add_argument("--dir", type=Path, default=None, help="where to put the databases")
    parser.add_argument("--repeat", type=int, default=3, help="measurements per configuration")
    args = parser.parse_args()
    configs: list[dict[str, Any]] = [
        {"mode": "thread", "synchronous": "normal"},
        {"mode": "inline", "synchronous": "normal"},
        {"mode": "thread", "synchronous": "full"},
    ]
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        floors = [raw_sqlite_floor(Path(tmp), args.runs * WRITES_PER_RUN, n) for n in range(3)]
        floor = statistics.median(floors)
        print(f"raw sqlite3 floor (WAL, synchronous=NORMAL): {floor * 1e6:.1f} us per commit")
        header = (
            f"{'mode':<7}{'sync':<7}{'write us':>9}{'p99 us':>8}{'run ms':>8}{'p99 ms':>8}"
            f"{'runs/s c16':>11}{'runs/s c256':>12}{'writes/s':>10}{'tasks/s':>9}"
            f"{'stall ms c16':>13}{'c256':>7}"
        )
        print(header)
        for index, settings in enumerate(configs):
            results = []
            for attempt in range(args.repeat):
                directory = Path(tmp) / f"c{index}-{attempt}"
                directory.mkdir()
                results.append(asyncio.run(bench_config(directory, args.runs, **settings)))
            r = {key: statistics.median(res[key] for res in results) for key in results[0]}
            print(
                f"{settings['mode']:<7}{settings['synchronous']:<7}"
                f"{r['write_mean_us']:>9.1f}{r['write_p99_us']:>8.0f}"
                f"{r['run_mean_ms']:>8.3f}{r['run_p99_ms']:>8.2f}"
                f"{r['runs_per_s_c16']:>11.0f}{r['runs_per_s_c256']:>12.0f}"
                f"{r['runs_per_s_c256'] * WRITES_PER_RUN:>10.0f}{r['tasks_per_s_c256']:>9.0f}"
                f"{r['stall_ms_c16']:>13.2f}{r['stall_ms_c256']:>7.2f}"
            )
    print(
        f"run = one agent run, {WRITES_PER_RUN} sequential writes; runs/s = agent runs per "
        "second with C in flight; writes/s = at c256; tasks/s = 3-write durable tasks, 256 in "
        "flight; stall = worst delay of a 1 ms timer on the event loop"
    )


if __name__ == "__main__":
    main()
