"""Overhead of the reliability wrappers on the happy path (no failures, no waits).

Run: ``.venv/bin/python benchmarks/bench_reliability.py``. Prints microseconds per call;
asserts nothing about time (house style 21).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from agent_sdk.reliability.breaker import CircuitBreaker
from agent_sdk.reliability.cache import CachePolicy, ResultCache, cache_key
from agent_sdk.reliability.ratelimit import LocalRateLimiter, RateLimitPolicy
from agent_sdk.reliability.retry import Retrier, RetryPolicy

N = 20_000


async def noop() -> int:
    return 1


async def measure(label: str, body: Callable[[], Awaitable[object]]) -> None:
    for _ in range(200):  # warm up
        await body()
    started = time.perf_counter()
    for _ in range(N):
        await body()
    per_call_us = (time.perf_counter() - started) / N * 1e6
    print(f"{label:<36} {per_call_us:8.2f} µs/call")


async def main() -> None:
    breaker = CircuitBreaker("bench")
    retrier = Retrier(RetryPolicy())
    limiter = LocalRateLimiter(RateLimitPolicy(rate=10**9, per_s=1))
    cache = ResultCache(CachePolicy(enabled=True))
    key = cache_key("tool:bench", {"q": "x", "k": 5})
    await cache.get_or_call(key, noop)

    async def in_breaker_block() -> None:
        async with breaker:
            await noop()

    await measure("bare await", noop)
    await measure("breaker.call", lambda: breaker.call(noop))
    await measure("async with breaker", in_breaker_block)
    await measure("retrier.call (stamina)", lambda: retrier.call(noop))
    await measure("local limiter acquire", limiter.acquire)
    await measure("cache hit (get_or_call)", lambda: cache.get_or_call(key, noop))
    started = time.perf_counter()
    for i in range(N):
        cache_key("tool:bench", {"q": "x", "k": i, "opts": {"lang": "en"}})
    print(
        f"{'cache_key (small dict)':<36} {(time.perf_counter() - started) / N * 1e6:8.2f} µs/call"
    )


if __name__ == "__main__":
    asyncio.run(main())
