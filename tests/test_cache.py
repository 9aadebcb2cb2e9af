"""Result cache: stable keys, hits, expiry, bounds, single flight."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from agent_sdk.errors import AgentSDKError, TransientError
from agent_sdk.reliability.cache import CachePolicy, ResultCache, cache_key, canonical_json

ON = CachePolicy(enabled=True, ttl_s=60, max_entries=100)


class FakeTimer:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Counter:
    def __init__(self, result: Any = "value") -> None:
        self.calls = 0
        self.result = result

    async def __call__(self, *args: Any) -> Any:
        self.calls += 1
        return self.result


def test_key_is_stable_and_ignores_dict_order() -> None:
    a = cache_key("tool:search", {"query": "x", "opts": {"k": 5, "lang": "en"}})
    b = cache_key("tool:search", {"opts": {"lang": "en", "k": 5}, "query": "x"})
    assert a == b
    assert len(a) == 64
    assert int(a, 16) >= 0
    assert a != cache_key("tool:other", {"query": "x", "opts": {"k": 5, "lang": "en"}})
    assert a != cache_key("tool:search", {"query": "y", "opts": {"k": 5, "lang": "en"}})
    # pinned: a change of canonical form would silently invalidate shared caches
    assert canonical_json({"b": 1, "a": [1, "é"]}) == '{"a":[1,"é"],"b":1}'


def test_key_accepts_pydantic_models_and_rejects_objects() -> None:
    class Query(BaseModel):
        text: str
        top_k: int = 5

    assert cache_key("t", Query(text="x")) == cache_key("t", {"top_k": 5, "text": "x"})
    with pytest.raises(AgentSDKError, match="cannot build a cache key"):
        cache_key("t", {"handle": object()})


async def test_hit_returns_cached_result_without_calling() -> None:
    cache = ResultCache(ON, name="tool:search")
    fn = Counter()
    key = cache_key("tool:search", {"q": 1})
    assert await cache.get_or_call(key, fn) == "value"
    assert await cache.get_or_call(key, fn) == "value"
    assert fn.calls == 1
    stats = cache.stats()
    assert (stats["hits"], stats["entries"], stats["name"]) == (1, 1, "tool:search")
    assert stats["misses"] >= 1


async def test_entries_expire_after_ttl() -> None:
    timer = FakeTimer()
    cache = ResultCache(CachePolicy(enabled=True, ttl_s=10), timer=timer)
    fn = Counter()
    await cache.get_or_call("k", fn)
    timer.now = 9.9
    await cache.get_or_call("k", fn)
    assert fn.calls == 1
    timer.now = 10.0
    await cache.get_or_call("k", fn)
    assert fn.calls == 2
    assert cache.get("missing", "default") == "default"


def test_evicts_least_recently_used_at_max_entries() -> None:
    cache = ResultCache(CachePolicy(enabled=True, max_entries=3))
    for key in "abc":
        cache.set(key, key)
    assert cache.get("a") == "a"  # a is now most recent
    cache.set("d", "d")
    assert len(cache) == 3
    assert cache.get("b") is None
    assert [cache.get(k) for k in "acd"] == ["a", "c", "d"]
    assert cache.stats()["evictions"] == 1


def test_evicts_to_stay_within_max_bytes_and_skips_oversized_values() -> None:
    cache = ResultCache(CachePolicy(enabled=True, max_entries=100, max_bytes=100))
    value = "x" * 28  # 30 bytes as JSON
    for key in "abcd":
        assert cache.set(key, value)
    stats = cache.stats()
    assert stats["bytes"] <= 100
    assert stats["entries"] == 3
    assert cache.get("a") is None
    assert not cache.set("big", "y" * 200)
    assert cache.stats()["rejected"] == 1
    assert cache.get("big") is None


async def test_disabled_cache_always_calls_and_stores_nothing() -> None:
    cache = ResultCache(CachePolicy(enabled=False))
    fn = Counter()
    await cache.get_or_call("k", fn)
    await cache.get_or_call("k", fn)
    assert fn.calls == 2
    assert not cache.set("k", 1)
    assert len(cache) == 0


async def test_concurrent_calls_for_one_key_share_a_single_call() -> None:
    cache = ResultCache(ON)
    release = asyncio.Event()
    calls = 0

    async def slow() -> str:
        nonlocal calls
        calls += 1
        await release.wait()
        return "shared"

    tasks = [asyncio.create_task(cache.get_or_call("k", slow)) for _ in range(10)]
    await asyncio.sleep(0.01)
    release.set()
    assert await asyncio.gather(*tasks) == ["shared"] * 10
    assert calls == 1
    assert cache.stats()["coalesced"] == 9


async def test_errors_reach_every_waiter_and_are_not_cached() -> None:
    cache = ResultCache(ON)
    release = asyncio.Event()
    calls = 0

    async def failing() -> str:
        nonlocal calls
        calls += 1
        await release.wait()
        raise TransientError("503")

    tasks = [asyncio.create_task(cache.get_or_call("k", failing)) for _ in range(3)]
    await asyncio.sleep(0.01)
    release.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(r, TransientError) for r in results)
    assert calls == 1
    assert len(cache) == 0
    assert await cache.get_or_call("k", Counter("later")) == "later"


async def test_cancelled_leader_hands_over_to_a_waiter() -> None:
    cache = ResultCache(ON)
    started = asyncio.Event()

    async def hang() -> str:
        started.set()
        await asyncio.sleep(60)
        return "never"

    leader = asyncio.create_task(cache.get_or_call("k", hang))
    await started.wait()
    follower = asyncio.create_task(cache.get_or_call("k", Counter("from follower")))
    await asyncio.sleep(0)
    leader.cancel()
    assert await follower == "from follower"
    with pytest.raises(asyncio.CancelledError):
        await leader
    assert cache.get("k") == "from follower"


def test_invalidate_clear_and_policy_validation() -> None:
    cache = ResultCache(ON)
    cache.set("a", 1)
    cache.set("b", 2)
    cache.invalidate("a")
    cache.invalidate("missing")
    assert cache.get("a") is None
    assert cache.get("b") == 2
    cache.clear()
    assert len(cache) == 0
    with pytest.raises(ValidationError, match="extra"):
        CachePolicy.model_validate({"enabled": True, "ttl": 5})
    with pytest.raises(ValidationError):
        CachePolicy(max_entries=0)
