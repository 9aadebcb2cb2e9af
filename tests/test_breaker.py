"""Circuit breaker: transitions, half-open admission, concurrency, callbacks, registry."""

from __future__ import annotations

import asyncio
import random
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from pydantic import ValidationError

from agent_sdk.errors import AgentSDKError, CircuitOpenError, ToolError, TransientError
from agent_sdk.reliability.breaker import (
    BreakerPolicy,
    BreakerRegistry,
    BreakerState,
    CircuitBreaker,
    is_counted_failure,
)

CLOSED, OPEN, HALF_OPEN = BreakerState.CLOSED, BreakerState.OPEN, BreakerState.HALF_OPEN
LEGAL = {(CLOSED, OPEN), (OPEN, HALF_OPEN), (HALF_OPEN, CLOSED), (HALF_OPEN, OPEN)}


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Transitions:
    def __init__(self) -> None:
        self.seen: list[tuple[str, BreakerState, BreakerState]] = []
        self.lock = threading.Lock()

    def __call__(self, name: str, old: BreakerState, new: BreakerState) -> None:
        with self.lock:
            self.seen.append((name, old, new))


async def ok() -> str:
    return "ok"


async def fail(error: BaseException | None = None) -> str:
    raise error or TransientError("503")


async def fail_times(breaker: CircuitBreaker, n: int) -> None:
    for _ in range(n):
        with pytest.raises(TransientError):
            await breaker.call(fail)


def make(
    clock: FakeClock,
    *,
    failure_threshold: int = 3,
    half_open_max_calls: int = 1,
    failure_window_s: float | None = None,
) -> tuple[CircuitBreaker, Transitions]:
    """A breaker named model:test (recovery 10 s) on *clock*, and its recorded transitions."""
    seen = Transitions()
    breaker = CircuitBreaker(
        "model:test",
        failure_threshold=failure_threshold,
        recovery_timeout_s=10.0,
        half_open_max_calls=half_open_max_calls,
        failure_window_s=failure_window_s,
        on_state_change=seen,
        clock=clock,
    )
    return breaker, seen


async def test_opens_after_threshold_consecutive_failures_and_rejects_fast() -> None:
    clock = FakeClock()
    breaker, seen = make(clock)
    await fail_times(breaker, 2)
    assert breaker.state is CLOSED
    await fail_times(breaker, 1)
    assert breaker.state is OPEN

    called = False

    async def guarded() -> None:
        nonlocal called
        called = True

    clock.advance(4.0)
    with pytest.raises(CircuitOpenError) as caught:
        await breaker.call(guarded)
    assert not called
    assert caught.value.name == "model:test"
    assert caught.value.retry_after == pytest.approx(6.0)
    assert seen.seen == [("model:test", CLOSED, OPEN)]


async def test_success_resets_consecutive_count() -> None:
    breaker, _ = make(FakeClock())
    for _ in range(5):
        await fail_times(breaker, 2)
        assert await breaker.call(ok) == "ok"
    assert breaker.state is CLOSED
    assert breaker.snapshot()["failures"] == 0


async def test_half_open_success_closes_and_failure_reopens() -> None:
    clock = FakeClock()
    breaker, seen = make(clock)
    await fail_times(breaker, 3)
    clock.advance(10.0)
    assert breaker.state is HALF_OPEN
    await fail_times(breaker, 1)  # the trial fails
    assert breaker.state is OPEN
    clock.advance(9.9)
    with pytest.raises(CircuitOpenError):
        await breaker.call(ok)
    clock.advance(0.1)
    assert await breaker.call(ok) == "ok"  # the trial succeeds
    assert breaker.state is CLOSED
    assert [(old, new) for _, old, new in seen.seen] == [
        (CLOSED, OPEN),
        (OPEN, HALF_OPEN),
        (HALF_OPEN, OPEN),
        (OPEN, HALF_OPEN),
        (HALF_OPEN, CLOSED),
    ]


async def test_half_open_admits_only_max_concurrent_trial_calls() -> None:
    clock = FakeClock()
    breaker, _ = make(clock, half_open_max_calls=3)
    await fail_times(breaker, 3)
    clock.advance(10.0)

    release = asyncio.Event()
    running = 0
    peak = 0

    async def slow_trial() -> str:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await release.wait()
        running -= 1
        return "ok"

    async def attempt() -> str:
        return await breaker.call(slow_trial)

    tasks = [asyncio.create_task(attempt()) for _ in range(20)]
    await asyncio.sleep(0.01)
    assert breaker.snapshot()["half_open_in_flight"] == 3
    release.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert results.count("ok") == 3
    rejected = [r for r in results if isinstance(r, CircuitOpenError)]
    assert len(rejected) == 17
    assert all(0 < r.retry_after <= 1.0 for r in rejected)
    assert peak == 3
    assert breaker.state is CLOSED


async def test_non_counted_errors_do_not_trip_it() -> None:
    breaker, seen = make(FakeClock())
    for error in [ValueError("bug"), ToolError("bad args"), KeyError("x")] * 3:
        with pytest.raises(type(error)):
            await breaker.call(fail, error)
    assert breaker.state is CLOSED
    assert seen.seen == []
    snap = breaker.snapshot()
    assert snap["failures"] == 0
    assert snap["failures_total"] == 0
    assert snap["successes"] == 9  # the dependency answered


async def test_cancellation_releases_trial_slot_without_deciding() -> None:
    clock = FakeClock()
    breaker, _ = make(clock)
    await fail_times(breaker, 3)
    clock.advance(10.0)
    task = asyncio.create_task(breaker.call(asyncio.sleep, 60))
    await asyncio.sleep(0)
    assert breaker.snapshot()["half_open_in_flight"] == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert breaker.state is HALF_OPEN
    assert breaker.snapshot()["half_open_in_flight"] == 0
    assert await breaker.call(ok) == "ok"
    assert breaker.state is CLOSED


async def test_custom_predicate_decides_what_counts() -> None:
    breaker = CircuitBreaker(
        "tool:x",
        failure_threshold=2,
        is_failure=lambda e: isinstance(e, ToolError),
        clock=FakeClock(),
    )
    for _ in range(3):
        with pytest.raises(TransientError):
            await breaker.call(fail)
    assert breaker.state is CLOSED
    for _ in range(2):
        with pytest.raises(ToolError):
            await breaker.call(fail, ToolError("down"))
    assert breaker.state is OPEN


async def test_window_mode_opens_on_failures_within_window_despite_successes() -> None:
    clock = FakeClock()
    breaker, _ = make(clock, failure_window_s=5.0)
    for _ in range(2):
        await fail_times(breaker, 1)
        await breaker.call(ok)
        clock.advance(1.0)
    assert breaker.state is CLOSED
    await fail_times(breaker, 1)
    assert breaker.state is OPEN

    breaker, _ = make(clock, failure_window_s=5.0)
    for _ in range(6):
        await fail_times(breaker, 1)
        clock.advance(3.0)  # never 3 failures within 5 s
    assert breaker.state is CLOSED


async def test_stale_outcome_of_call_admitted_before_opening_is_ignored() -> None:
    clock = FakeClock()
    breaker, _ = make(clock)
    release = asyncio.Event()

    async def slow() -> str:
        await release.wait()
        return "ok"

    slow_task = asyncio.create_task(breaker.call(slow))
    await asyncio.sleep(0)
    await fail_times(breaker, 3)
    clock.advance(10.0)
    assert breaker.state is HALF_OPEN
    release.set()
    assert await slow_task == "ok"
    assert breaker.state is HALF_OPEN  # the old success did not close it


async def test_context_managers_guard_async_and_sync_blocks() -> None:
    clock = FakeClock()
    breaker, _ = make(clock, failure_threshold=2)
    for _ in range(2):
        with pytest.raises(TransientError):
            async with breaker:
                raise TransientError("503")
    with pytest.raises(CircuitOpenError):
        async with breaker:
            pytest.fail("must not run")
    clock.advance(10.0)
    async with breaker:  # the half-open trial
        pass
    assert breaker.state is CLOSED

    async def nested() -> None:
        async with breaker:  # nested blocks each record their own outcome
            async with breaker:
                pass
            raise TransientError("503")

    with pytest.raises(TransientError):
        await nested()
    assert breaker.snapshot()["failures"] == 1
    with pytest.raises(ConnectionError), breaker:  # sync block; the second counted failure
        raise ConnectionError("reset")
    assert breaker.state is OPEN


async def test_async_with_in_many_tasks_records_each_task_own_outcome() -> None:
    clock = FakeClock()
    breaker, seen = make(clock, failure_threshold=1000)

    async def worker(i: int) -> None:
        async with breaker:
            await asyncio.sleep(0.001 * (i % 5))  # interleave enters and exits
            if i % 3 == 0:
                raise TransientError("503")

    results = await asyncio.gather(*(worker(i) for i in range(60)), return_exceptions=True)
    snap = breaker.snapshot()
    assert sum(isinstance(r, TransientError) for r in results) == 20
    assert (snap["calls"], snap["successes"], snap["failures_total"]) == (60, 40, 20)
    assert seen.seen == []


def test_sync_call_and_thread_safety_under_hammering() -> None:
    seen = Transitions()
    breaker = CircuitBreaker(
        "svc",
        failure_threshold=3,
        recovery_timeout_s=0.001,
        half_open_max_calls=2,
        on_state_change=seen,
    )
    rng = random.Random(1)
    plan = [rng.random() < 0.4 for _ in range(4000)]
    outcomes = {"ok": 0, "failed": 0, "rejected": 0}
    lock = threading.Lock()

    def work(should_fail: bool) -> None:
        def fn() -> str:
            if should_fail:
                raise TransientError("503")
            return "ok"

        try:
            breaker.call_sync(fn)
            key = "ok"
        except TransientError:
            key = "failed"
        except CircuitOpenError:
            key = "rejected"
        with lock:
            outcomes[key] += 1

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible to provoke races
    try:
        with ThreadPoolExecutor(max_workers=16) as pool:
            list(pool.map(work, plan))
    finally:
        sys.setswitchinterval(interval)

    snap = breaker.snapshot()
    assert sum(outcomes.values()) == len(plan)
    assert snap["calls"] + snap["rejections"] == len(plan)
    assert snap["successes"] == outcomes["ok"]
    assert snap["failures_total"] == outcomes["failed"]
    assert snap["rejections"] == outcomes["rejected"]
    assert 0 <= snap["half_open_in_flight"] <= 2
    assert seen.seen, "expected some transitions"
    assert all((old, new) in LEGAL for _, old, new in seen.seen)


async def test_callback_errors_are_logged_not_raised() -> None:
    def broken(name: str, old: BreakerState, new: BreakerState) -> None:
        raise RuntimeError("pager down")

    clock = FakeClock()
    breaker = CircuitBreaker("x", failure_threshold=1, on_state_change=broken, clock=clock)
    with pytest.raises(TransientError):  # the call's own error, not the callback's
        await breaker.call(fail)
    assert breaker.state is OPEN


async def test_snapshot_and_reset() -> None:
    clock = FakeClock()
    breaker, seen = make(clock)
    await fail_times(breaker, 3)
    clock.advance(2.5)
    snap = breaker.snapshot()
    assert snap["name"] == "model:test"
    assert snap["state"] == "open"
    assert snap["failures"] == 3
    assert snap["retry_after"] == pytest.approx(7.5)
    assert isinstance(snap["opened_at"], float)
    breaker.reset()
    snap = breaker.snapshot()
    assert (snap["state"], snap["failures"], snap["opened_at"], snap["retry_after"]) == (
        "closed",
        0,
        None,
        0.0,
    )
    assert seen.seen[-1][1:] == (OPEN, CLOSED)


def test_default_predicate_counts_transient_timeouts_and_connection_errors() -> None:
    from agent_sdk.errors import TimeoutError as AgentTimeout

    assert is_counted_failure(TransientError("503"))
    assert is_counted_failure(AgentTimeout("slow"))
    assert is_counted_failure(TimeoutError())
    assert is_counted_failure(ConnectionResetError())
    assert not is_counted_failure(ToolError("bad"))
    assert not is_counted_failure(ValueError())


def test_registry_shares_config_and_lists_snapshots() -> None:
    seen = Transitions()
    registry = BreakerRegistry(
        BreakerPolicy(failure_threshold=1),
        overrides={"tool:slow": BreakerPolicy(failure_threshold=9)},
        on_state_change=seen,
        max_breakers=3,
    )
    a = registry.get("model:b")
    assert registry.get("model:b") is a
    registry.get("model:a")
    assert registry.get("tool:slow").failure_threshold == 9
    assert a.failure_threshold == 1
    with pytest.raises(TransientError):
        a.call_sync(lambda: (_ for _ in ()).throw(TransientError("503")))
    assert seen.seen == [("model:b", CLOSED, OPEN)]
    assert [s["name"] for s in registry.snapshots()] == ["model:a", "model:b", "tool:slow"]
    assert [s["state"] for s in registry.snapshots()] == ["closed", "open", "closed"]
    assert "model:a" in registry
    assert len(registry) == 3
    with pytest.raises(AgentSDKError, match="registry is full"):
        registry.get("per-request-123")


def test_policy_validation() -> None:
    with pytest.raises(ValidationError):
        BreakerPolicy.model_validate({"failure_threshold": 0})
    with pytest.raises(ValidationError, match="extra"):
        BreakerPolicy.model_validate({"threshold": 3})
    with pytest.raises(ValueError, match="failure_threshold"):
        CircuitBreaker("x", failure_threshold=0)
