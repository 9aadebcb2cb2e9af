"""Rate limits: in process (aiolimiter) and shared through Redis (limits)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable

import pytest
from pydantic import ValidationError

from agent_sdk.errors import ConfigError, StorageError
from agent_sdk.errors import TimeoutError as AgentTimeoutError
from agent_sdk.reliability.ratelimit import (
    LocalRateLimiter,
    RateLimiter,
    RateLimitPolicy,
    RedisRateLimiter,
    create_rate_limiter,
)
from agent_sdk.testing.services import require_service

REDIS_URL = "redis://127.0.0.1:6379/0"


# --- local ----------------------------------------------------------------------------


async def test_local_limiter_limits_rate_after_burst() -> None:
    # 20 per second, 2 at once: 2 immediately, then one every 50 ms.
    limiter = LocalRateLimiter(RateLimitPolicy(rate=20, per_s=1, burst=2), key="test")
    started = time.monotonic()
    for _ in range(8):
        await limiter.acquire()
    elapsed = time.monotonic() - started
    assert elapsed >= 6 * 0.05 - 0.01
    assert elapsed < 1.0


async def test_local_try_acquire_is_false_when_empty_and_true_after_refill() -> None:
    limiter = LocalRateLimiter(RateLimitPolicy(rate=50, per_s=1, burst=3))
    assert [await limiter.try_acquire() for _ in range(4)] == [True, True, True, False]
    assert not await limiter.try_acquire(2)
    await asyncio.sleep(0.05)  # 2.5 units drip back
    assert await limiter.try_acquire(2)


async def test_local_acquire_times_out_with_agent_sdk_error() -> None:
    limiter = LocalRateLimiter(RateLimitPolicy(rate=1, per_s=10))
    await limiter.acquire()
    with pytest.raises(AgentTimeoutError, match="no capacity"):
        await limiter.acquire(timeout_s=0.05)
    with pytest.raises(TimeoutError):  # also a builtin TimeoutError
        await limiter.acquire(timeout_s=0.01)


async def test_cost_above_capacity_is_a_config_error() -> None:
    limiter = LocalRateLimiter(RateLimitPolicy(rate=10, burst=4), key="model:x")
    with pytest.raises(ConfigError, match="cost 5 can never be acquired"):
        await limiter.acquire(5)
    with pytest.raises(ConfigError):
        await limiter.try_acquire(0)


def test_policy_validation_and_factory() -> None:
    with pytest.raises(ValidationError, match="extra"):
        RateLimitPolicy.model_validate({"rate": 1, "per": 1})
    with pytest.raises(ValidationError, match="burst"):
        RateLimitPolicy(backend="redis", burst=5)
    with pytest.raises(ValidationError, match="whole seconds"):
        RateLimitPolicy(backend="redis", per_s=0.5)
    with pytest.raises(ValidationError, match="redis_url"):
        RateLimitPolicy(backend="redis", redis_url="http://example.com")
    local = create_rate_limiter(RateLimitPolicy(), key="k")
    assert isinstance(local, LocalRateLimiter)
    assert isinstance(local, RateLimiter)


# --- redis ----------------------------------------------------------------------------


@pytest.fixture
async def redis_limiter() -> AsyncIterator[Callable[..., RedisRateLimiter]]:
    """Factory of RedisRateLimiters under a per-test key prefix; state and pools cleaned up."""
    require_service("Redis", "127.0.0.1", 6379)
    prefix = f"agent-sdk-test:{uuid.uuid4().hex}"
    made: list[RedisRateLimiter] = []

    def make(key: str = "shared", **policy: object) -> RedisRateLimiter:
        options: dict[str, object] = {
            "backend": "redis",
            "redis_url": REDIS_URL,
            "redis_key_prefix": prefix,
        }
        options.update(policy)
        limiter = RedisRateLimiter(RateLimitPolicy.model_validate(options), key=key)
        made.append(limiter)
        return limiter

    yield make
    for limiter in made:
        await limiter.reset()
        await limiter.aclose()


@pytest.mark.services
@pytest.mark.parametrize("strategy", ["moving-window", "sliding-window-counter", "fixed-window"])
async def test_redis_try_acquire_false_when_budget_used(
    redis_limiter: Callable[..., RedisRateLimiter], strategy: str
) -> None:
    limiter = redis_limiter(rate=3, per_s=1, strategy=strategy)
    assert [await limiter.try_acquire() for _ in range(4)] == [True, True, True, False]
    assert not await limiter.try_acquire(2)


@pytest.mark.services
async def test_two_redis_limiters_share_one_budget(
    redis_limiter: Callable[..., RedisRateLimiter],
) -> None:
    a = redis_limiter(rate=4, per_s=1)
    b = redis_limiter(rate=4, per_s=1)  # own connection pool, same key
    assert a._pool is not b._pool
    assert await a.try_acquire(2)
    assert await b.try_acquire()
    assert await a.try_acquire()
    assert not await b.try_acquire()
    assert not await a.try_acquire()
    other = redis_limiter(key="other", rate=4, per_s=1)  # another key: its own budget
    assert await other.try_acquire(4)


@pytest.mark.services
async def test_redis_acquire_waits_for_the_window_to_move(
    redis_limiter: Callable[..., RedisRateLimiter],
) -> None:
    limiter = redis_limiter(rate=2, per_s=1)  # moving window: 2 in any 1 s
    started = time.monotonic()
    await limiter.acquire()
    await limiter.acquire()
    assert time.monotonic() - started < 0.2
    await limiter.acquire()
    assert 0.95 <= time.monotonic() - started < 1.6


@pytest.mark.services
async def test_redis_acquire_timeout(redis_limiter: Callable[..., RedisRateLimiter]) -> None:
    limiter = redis_limiter(rate=1, per_s=5)
    await limiter.acquire()
    started = time.monotonic()
    with pytest.raises(AgentTimeoutError):
        await limiter.acquire(timeout_s=0.1)
    assert time.monotonic() - started < 0.5


async def test_redis_down_raises_storage_error_or_fails_open() -> None:
    policy = RateLimitPolicy(
        backend="redis", redis_url="redis://user:s3cret@127.0.0.1:1/0", redis_timeout_s=0.2
    )
    limiter = RedisRateLimiter(policy, key="down")
    try:
        with pytest.raises(StorageError, match="Redis failed") as caught:
            await limiter.try_acquire()
        assert "s3cret" not in str(caught.value)
    finally:
        await limiter.aclose()
    open_limiter = RedisRateLimiter(policy.model_copy(update={"fail_open": True}), key="down")
    try:
        assert await open_limiter.try_acquire()
        await open_limiter.acquire()
    finally:
        await open_limiter.aclose()


@pytest.mark.services
async def test_redis_limiter_serves_more_concurrent_callers_than_connections(
    redis_limiter: Callable[..., RedisRateLimiter],
) -> None:
    limiter = redis_limiter(rate=30, per_s=1)
    results = await asyncio.gather(*(limiter.try_acquire() for _ in range(50)))
    assert results.count(True) == 30
    assert results.count(False) == 20
