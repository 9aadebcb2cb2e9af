"""An optional result cache for tool and model calls, keyed by their inputs.

Keys are :func:`cache_key`: the SHA-256 of the canonical JSON of ``(namespace, input)``
(``sort_keys=True``, compact separators), so equal inputs give equal keys whatever their dict
order. Entries live in a :class:`cachetools.TTLCache` bounded three ways: age (``ttl_s``),
count (``max_entries``) and total size (``max_bytes``, each value weighed by the length of
its JSON form); the least recently used entry goes first.

:meth:`ResultCache.get_or_call` coalesces concurrent calls for the same key in one event loop
("single flight"): one call runs, the others wait for its result. Errors are never cached.

Cached values are returned as stored, not copied: treat them as immutable. Caching a model
call makes its (non-deterministic) answer repeat, which is why :class:`CachePolicy` is off by
default.

Example::

    cache = ResultCache(CachePolicy(enabled=True, ttl_s=600), name="tool:web_search")
    key = cache_key("tool:web_search", {"query": query, "top_k": 5})
    result = await cache.get_or_call(key, search, query, top_k=5)
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple, ParamSpec, TypeVar, cast

from cachetools import TTLCache
from pydantic import BaseModel, ConfigDict, Field

from agent_sdk.errors import AgentSDKError

__all__ = ["CachePolicy", "ResultCache", "cache_key", "canonical_json"]

P = ParamSpec("P")
T = TypeVar("T")


class CachePolicy(BaseModel):
    """Result cache settings, embedded in TOML configuration (``extra="forbid"``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(
        default=False, description="Cache results; off by default (model answers would repeat)."
    )
    ttl_s: float = Field(
        default=300.0, gt=0, description="Seconds an entry is served after it was stored."
    )
    max_entries: int = Field(
        default=1024, ge=1, le=1_000_000, description="Most entries kept; LRU evicted beyond."
    )
    max_bytes: int = Field(
        default=32 * 1024 * 1024,
        ge=1,
        description=(
            "Most bytes kept, each value weighed by the length of its JSON form; LRU evicted "
            "beyond. A value larger than this is not cached."
        ),
    )


def _json_default(value: object) -> object:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, set | frozenset):
        return sorted(value, key=repr)
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


def canonical_json(value: object) -> str:
    """Return *value* as canonical JSON: keys sorted, no whitespace, UTF-8 kept as is.

    Pydantic models are dumped in JSON mode, sets sorted; tuples become lists.

    Raises:
        AgentSDKError: *value* holds something JSON cannot represent (an object, bytes...).
    """
    try:
        return json.dumps(
            value,
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
            default=_json_default,
        )
    except (TypeError, ValueError) as error:
        raise AgentSDKError(
            f"cannot build a cache key: {error}",
            hint="pass JSON-compatible inputs (dict, list, str, number, bool, None, "
            "pydantic models), or disable the cache for this call",
        ) from error


def cache_key(namespace: str, payload: object) -> str:
    """Return the cache key (64 hex characters) of *payload* under *namespace*.

    Args:
        namespace: what is called, e.g. ``"tool:web_search"`` or ``"model:openai:gpt-4o"``;
            the same input to two tools gives two keys.
        payload: the call's input, JSON-compatible (see :func:`canonical_json`).

    Raises:
        AgentSDKError: *payload* is not JSON-serialisable.
    """
    text = canonical_json([namespace, payload])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _sizeof(value: object) -> int:
    """Approximate size of a cached value in bytes: the length of its JSON form (``repr`` for
    what JSON cannot show), at least 1."""
    try:
        text = json.dumps(value, separators=(",", ":"), default=_json_default)
    except (TypeError, ValueError):
        text = repr(value)
    return max(1, len(text.encode("utf-8")))


class _Entry(NamedTuple):
    value: Any
    size: int


class _Store(TTLCache[str, _Entry]):
    """TTLCache weighing entries by byte size and counting evictions (``popitem`` is what
    cachetools calls to make room)."""

    evictions = 0

    def popitem(self) -> tuple[str, _Entry]:
        item = super().popitem()
        self.evictions += 1
        return item


class ResultCache:
    """A bounded TTL+LRU cache of call results with hit/miss counters.

    Bounds: at most ``max_entries`` entries and ``max_bytes`` bytes (JSON length of the
    values), each kept at most ``ttl_s`` seconds; plus one in-flight record per key being
    computed by :meth:`get_or_call`. :meth:`get`, :meth:`set` and friends are thread-safe;
    :meth:`get_or_call` coalesces concurrent calls within one event loop.

    Args:
        policy: the settings; with ``enabled = False`` nothing is stored and
            :meth:`get_or_call` always calls.
        name: shown in :meth:`stats`, e.g. ``"tool:web_search"``.
        timer: clock in seconds for expiry (default :func:`time.monotonic`).
    """

    def __init__(
        self,
        policy: CachePolicy | None = None,
        *,
        name: str = "cache",
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self.policy = policy or CachePolicy()
        self.name = name
        self._lock = threading.Lock()
        self._store = _Store(
            maxsize=self.policy.max_bytes,
            ttl=self.policy.ttl_s,
            timer=timer,
            getsizeof=lambda entry: entry.size,
        )
        self._inflight: dict[str, tuple[asyncio.AbstractEventLoop, asyncio.Future[Any]]] = {}
        self._hits = 0
        self._misses = 0
        self._coalesced = 0
        self._rejected = 0

    def __repr__(self) -> str:
        return f"ResultCache({self.name!r}, enabled={self.policy.enabled})"

    @property
    def enabled(self) -> bool:
        """Whether the policy enables caching."""
        return self.policy.enabled

    def get(self, key: str, default: Any = None) -> Any:
        """Return the live value stored under *key* (counting a hit), else *default* (a miss)."""
        found, value = self._lookup(key)
        return value if found else default

    def set(self, key: str, value: Any) -> bool:
        """Store *value* under *key*, evicting least recently used entries to stay in bounds.

        Returns:
            ``True`` if stored; ``False`` if caching is disabled or the value alone exceeds
            ``max_bytes``.
        """
        if not self.policy.enabled:
            return False
        size = _sizeof(value)
        with self._lock:
            if size > self.policy.max_bytes:
                self._rejected += 1
                return False
            self._store[key] = _Entry(value, size)
            while len(self._store) > self.policy.max_entries:
                self._store.popitem()
        return True

    def invalidate(self, key: str) -> None:
        """Remove *key* if present."""
        with self._lock:
            self._store.pop(key, None)

    def clear(self) -> None:
        """Remove every entry (counters are kept)."""
        with self._lock:
            self._store.clear()

    def __len__(self) -> int:
        """Number of live entries."""
        with self._lock:
            return len(self._store)

    def stats(self) -> dict[str, Any]:
        """Counters as a JSON-serialisable dict: ``name``, ``enabled``, ``entries``, ``bytes``,
        ``hits``, ``misses``, ``coalesced`` (calls that waited for another's result),
        ``evictions`` (entries dropped for room, not expiry), ``rejected`` (values too large)."""
        with self._lock:
            return {
                "name": self.name,
                "enabled": self.policy.enabled,
                "entries": len(self._store),
                "bytes": int(self._store.currsize),
                "hits": self._hits,
                "misses": self._misses,
                "coalesced": self._coalesced,
                "evictions": self._store.evictions,
                "rejected": self._rejected,
            }

    async def get_or_call(
        self, key: str, fn: Callable[P, Awaitable[T]], /, *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Return the cached value for *key*, or await ``fn(*args, **kwargs)``, cache and return
        its result.

        Concurrent calls for the same key in the same event loop share one call of *fn*; if it
        raises, each of them gets that error and nothing is cached. If the call's own caller
        is cancelled, one of the waiters takes over.

        Args:
            key: from :func:`cache_key` (the caller decides which inputs matter).
            fn: the coroutine function producing the value.

        Raises:
            Exception: whatever *fn* raises (every coalesced caller gets the same error).
        """
        if not self.policy.enabled:
            return await fn(*args, **kwargs)
        loop = asyncio.get_running_loop()
        while True:
            found, value = self._lookup(key)
            if found:
                return cast(T, value)  # stored by an earlier call for this key
            with self._lock:
                flight = self._inflight.get(key)
                if flight is None or flight[0] is not loop:
                    future: asyncio.Future[Any] = loop.create_future()
                    if flight is None:
                        self._inflight[key] = (loop, future)
                    leader = True
                else:
                    future = flight[1]
                    self._coalesced += 1
                    leader = False
            if leader:
                return await self._lead(key, future, fn, *args, **kwargs)
            outcome = await asyncio.shield(future)
            if outcome is not _TAKE_OVER:
                return cast(T, outcome)
            # The leader was cancelled before finishing: try again (hit, follow or lead).

    async def _lead(
        self,
        key: str,
        future: asyncio.Future[Any],
        fn: Callable[P, Awaitable[T]],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        try:
            result = await fn(*args, **kwargs)
        except Exception as error:
            self._finish(key, future, error=error)
            raise
        except BaseException:
            self._finish(key, future, result=_TAKE_OVER)
            raise
        self.set(key, result)
        self._finish(key, future, result=result)
        return result

    def _finish(
        self,
        key: str,
        future: asyncio.Future[Any],
        *,
        result: Any = None,
        error: BaseException | None = None,
    ) -> None:
        with self._lock:
            flight = self._inflight.get(key)
            if flight is not None and flight[1] is future:
                del self._inflight[key]
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
            # Mark it retrieved: with no waiters asyncio would log "exception never retrieved".
            future.exception()
        else:
            future.set_result(result)

    def _lookup(self, key: str) -> tuple[bool, Any]:
        if not self.policy.enabled:
            return False, None
        with self._lock:
            entry = self._store.get(key)
            if entry is None:
                self._misses += 1
                return False, None
            self._hits += 1
            return True, entry.value


_TAKE_OVER: Any = object()
"""Result given to waiters when the leading call was cancelled: one of them must lead."""
