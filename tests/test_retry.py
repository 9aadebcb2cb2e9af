"""Retry: only transient errors are retried, with backoff, Retry-After and a time budget."""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

import pytest
import stamina
from pydantic import ValidationError

from agent_sdk.errors import (
    CircuitOpenError,
    ModelProviderError,
    RateLimitError,
    ToolError,
    TransientError,
)
from agent_sdk.reliability.retry import (
    Retrier,
    RetryPolicy,
    call_with_retry,
    call_with_retry_sync,
    is_transient,
    retry_after_of,
)

FAST = RetryPolicy(attempts=3, initial_s=0.01, max_s=1.0, multiplier=2.0, jitter_s=0.0)


class Flaky:
    """Fails with the given errors in order, then returns "ok"; counts calls."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self, *args: Any, **kwargs: Any) -> str:
        self.calls += 1
        self.args = (args, kwargs)
        if self.errors:
            raise self.errors.pop(0)
        return "ok"

    def sync(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[int, BaseException, float]] = []

    def __call__(self, attempt: int, error: BaseException, wait_s: float) -> None:
        self.events.append((attempt, error, wait_s))


async def test_non_transient_error_is_not_retried() -> None:
    for error in (ValueError("bug"), ToolError("bad input"), ModelProviderError("400")):
        fn = Flaky(error)
        with pytest.raises(type(error)):
            await call_with_retry(fn, policy=FAST)
        assert fn.calls == 1


async def test_transient_error_is_retried_up_to_attempts_then_raised() -> None:
    errors = [TransientError(f"503 #{i}") for i in range(5)]
    fn = Flaky(*errors)
    record = Recorder()
    with pytest.raises(TransientError) as caught:
        await call_with_retry(fn, policy=FAST, on_retry=record)
    assert fn.calls == 3
    assert caught.value is errors[2]  # the last error, unchanged
    assert [(a, e) for a, e, _ in record.events] == [(1, errors[0]), (2, errors[1])]


async def test_success_after_failures_returns_result_and_passes_arguments() -> None:
    fn = Flaky(TransientError("503"), RateLimitError("429"))
    result = await call_with_retry(fn, 1, "two", policy=FAST, key="value")
    assert result == "ok"
    assert fn.calls == 3
    assert fn.args == ((1, "two"), {"key": "value"})


async def test_backoff_grows_exponentially_and_is_capped() -> None:
    policy = RetryPolicy(attempts=5, initial_s=0.01, max_s=0.03, multiplier=2.0, jitter_s=0.0)
    record = Recorder()
    fn = Flaky(*[TransientError("503") for _ in range(4)])
    started = time.monotonic()
    await Retrier(policy, on_retry=record).call(fn)
    elapsed = time.monotonic() - started
    waits = [w for _, _, w in record.events]
    assert waits == pytest.approx([0.01, 0.02, 0.03, 0.03])
    assert elapsed >= sum(waits) - 0.005  # the waits really happened


def test_jitter_stays_within_bounds() -> None:
    policy = RetryPolicy(initial_s=1.0, max_s=100.0, multiplier=3.0, jitter_s=0.5)
    rng = random.Random(7)
    samples = [policy.backoff_s(3, rng=rng) for _ in range(200)]
    assert all(9.0 <= s <= 9.5 for s in samples)
    assert max(samples) - min(samples) > 0.3  # it is random
    assert RetryPolicy(max_s=5.0).backoff_s(10_000) == 5.0  # no overflow


async def test_retry_after_is_honoured_instead_of_backoff() -> None:
    policy = RetryPolicy(attempts=3, initial_s=0.0, max_s=1.0, jitter_s=0.0)
    record = Recorder()
    fn = Flaky(RateLimitError("429", retry_after=0.15))
    started = time.monotonic()
    assert await Retrier(policy, on_retry=record).call(fn) == "ok"
    elapsed = time.monotonic() - started
    assert [w for _, _, w in record.events] == [pytest.approx(0.15)]
    assert elapsed >= 0.145


async def test_retry_after_from_open_circuit_is_honoured() -> None:
    record = Recorder()
    fn = Flaky(CircuitOpenError("model:x", retry_after=0.02))
    assert await Retrier(FAST, on_retry=record).call(fn) == "ok"
    assert record.events[0][2] == pytest.approx(0.02)


async def test_retry_after_longer_than_max_is_raised_at_once() -> None:
    policy = RetryPolicy(attempts=5, retry_after_max_s=1.0)
    fn = Flaky(RateLimitError("429", retry_after=30))
    started = time.monotonic()
    with pytest.raises(RateLimitError):
        await call_with_retry(fn, policy=policy)
    assert fn.calls == 1
    assert time.monotonic() - started < 0.5


async def test_wait_past_time_budget_is_not_made() -> None:
    policy = RetryPolicy(attempts=5, initial_s=0.01, jitter_s=0.0, timeout_s=0.2)
    fn = Flaky(TransientError("503"), RateLimitError("429", retry_after=0.5))
    started = time.monotonic()
    with pytest.raises(RateLimitError):
        await call_with_retry(fn, policy=policy)
    assert fn.calls == 2
    assert time.monotonic() - started < 0.2


async def test_custom_predicate_widens_what_is_retried() -> None:
    fn = Flaky(ConnectionResetError("reset"))
    result = await call_with_retry(
        fn,
        policy=FAST,
        retry_if=lambda e: is_transient(e) or isinstance(e, ConnectionError),
    )
    assert result == "ok"
    assert fn.calls == 2


async def test_cancellation_is_never_retried() -> None:
    fn = Flaky(asyncio.CancelledError())
    with pytest.raises(asyncio.CancelledError):
        await call_with_retry(fn, policy=FAST, retry_if=lambda e: True)
    assert fn.calls == 1


async def test_broken_callback_or_predicate_does_not_break_the_call() -> None:
    def boom(*_: object) -> None:
        raise RuntimeError("metrics down")

    fn = Flaky(TransientError("503"))
    assert await call_with_retry(fn, policy=FAST, on_retry=boom) == "ok"

    def bad_predicate(error: BaseException) -> bool:
        raise RuntimeError("predicate bug")

    fn = Flaky(TransientError("503"))
    with pytest.raises(TransientError):
        await call_with_retry(fn, policy=FAST, retry_if=bad_predicate)
    assert fn.calls == 1


def test_sync_variant_retries_transient_errors() -> None:
    fn = Flaky(TransientError("503"), TransientError("503"))
    record = Recorder()
    assert call_with_retry_sync(fn.sync, policy=FAST, on_retry=record) == "ok"
    assert fn.calls == 3
    assert len(record.events) == 2
    fn = Flaky(ValueError("bug"))
    with pytest.raises(ValueError, match="bug"):
        Retrier(FAST).call_sync(fn.sync)
    assert fn.calls == 1


async def test_stamina_testing_mode_removes_waits_and_caps_attempts() -> None:
    policy = RetryPolicy(attempts=5, initial_s=10.0, max_s=10.0, jitter_s=0.0)
    record = Recorder()
    fn = Flaky(RateLimitError("429", retry_after=20), TransientError("503"))
    started = time.monotonic()
    with stamina.set_testing(True, attempts=3):
        assert await Retrier(policy, on_retry=record).call(fn) == "ok"
    assert time.monotonic() - started < 0.5
    assert fn.calls == 3
    assert [w for _, _, w in record.events] == [0.0, 0.0]

    fn = Flaky(*[TransientError("503") for _ in range(5)])
    with stamina.set_testing(True, attempts=2), pytest.raises(TransientError):
        await Retrier(policy).call(fn)
    assert fn.calls == 2


def test_retry_after_of_reads_numeric_attribute_only() -> None:
    assert retry_after_of(RateLimitError("429", retry_after=3)) == 3.0
    assert retry_after_of(TransientError("503")) is None
    assert retry_after_of(ValueError()) is None

    class Weird(Exception):
        retry_after = "soon"

    assert retry_after_of(Weird()) is None


def test_policy_rejects_unknown_keys_and_bad_ranges() -> None:
    with pytest.raises(ValidationError, match="extra"):
        RetryPolicy.model_validate({"attempts": 3, "retries": 2})
    with pytest.raises(ValidationError):
        RetryPolicy(attempts=0)
    with pytest.raises(ValidationError, match="initial_s"):
        RetryPolicy(initial_s=10, max_s=1)
    schema = RetryPolicy.model_json_schema()
    assert all("description" in field for field in schema["properties"].values())


def test_parse_retry_after_reads_milliseconds_seconds_and_http_dates() -> None:
    import email.utils

    from agent_sdk.reliability.retry import parse_retry_after

    now = 1_800_000_000.0
    assert parse_retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert parse_retry_after({"retry-after": " 2 "}) == 2.0
    assert parse_retry_after({"retry-after": email.utils.formatdate(now + 30)}, now=now) == 30.0
    assert parse_retry_after({"retry-after": email.utils.formatdate(now - 30)}, now=now) == 0.0
    for bad in ("-1", "nan", "inf", "soon"):
        assert parse_retry_after({"retry-after": bad}) is None
    assert parse_retry_after({}) is None
    assert parse_retry_after(None) is None
