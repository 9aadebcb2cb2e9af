"""Rate limiting: a token bucket in this process, or a budget shared through Redis.

One interface, :class:`RateLimiter`, two implementations:

* :class:`LocalRateLimiter` -- a leaky/token bucket from :mod:`aiolimiter`, for one process
  and one event loop. ``rate`` units per ``per_s`` seconds, with up to ``burst`` at once.
* :class:`RedisRateLimiter` -- a window kept in Redis by the :mod:`limits` library
  (``limits.aio``, redis-py client), so every process and host using the same Redis, key and
  policy draws from one budget. Needs the ``agent-sdk[redis]`` extra.

Build either from configuration with :func:`create_rate_limiter`::

    limiter = create_rate_limiter(RateLimitPolicy(rate=60, per_s=60), key="model:openai")
    await limiter.acquire()            # waits for capacity
    if await limiter.try_acquire(5):   # takes 5 units only if available now
        ...
    await limiter.aclose()

``cost`` is in whatever unit the policy counts: requests, or tokens for a token budget.
"""

from __future__ import annotations

import asyncio
import builtins
import random
import time
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Literal, Protocol, TypeVar, runtime_checkable
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, model_validator

from agent_sdk.errors import ConfigError, StorageError
from agent_sdk.errors import TimeoutError as AgentTimeoutError
from agent_sdk.logging import get_logger

if TYPE_CHECKING:
    from aiolimiter import AsyncLimiter
    from limits import RateLimitItem
    from limits.aio.strategies import RateLimiter as LimitsStrategy
    from redis.asyncio import ConnectionPool

__all__ = [
    "LocalRateLimiter",
    "RateLimitPolicy",
    "RateLimiter",
    "RedisRateLimiter",
    "create_rate_limiter",
]

R = TypeVar("R")

Strategy = Literal["moving-window", "sliding-window-counter", "fixed-window"]


class RateLimitPolicy(BaseModel):
    """A rate limit, embedded in TOML configuration (``extra="forbid"``).

    ``rate`` units are allowed per ``per_s`` seconds. With ``backend = "local"`` up to
    ``burst`` units (default ``rate``) may be taken at once, refilled at ``rate / per_s`` per
    second. With ``backend = "redis"`` at most ``rate`` units are taken in any window of
    ``per_s`` seconds (``per_s`` a whole number; ``burst`` not supported).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    rate: int = Field(default=10, ge=1, description="Units (requests, tokens) allowed per period.")
    per_s: float = Field(
        default=1.0, gt=0, description="Length of the period in seconds (whole for redis)."
    )
    burst: int | None = Field(
        default=None,
        ge=1,
        description="Local backend only: most units available at once; null: same as rate.",
    )
    backend: Literal["local", "redis"] = Field(
        default="local",
        description="local: this process only; redis: one budget shared through Redis.",
    )
    redis_url: str = Field(
        default="redis://127.0.0.1:6379/0",
        description="Redis backend: redis:// or rediss:// URL of the server holding the budget.",
    )
    redis_key_prefix: str = Field(
        default="agent-sdk:ratelimit",
        min_length=1,
        description="Redis backend: prefix of every key this limiter writes.",
    )
    strategy: Strategy = Field(
        default="moving-window",
        description=(
            "Redis backend: moving-window (exact), sliding-window-counter (approximate, "
            "cheaper) or fixed-window (cheapest, allows 2x rate across a window edge)."
        ),
    )
    redis_timeout_s: float = Field(
        default=2.0, gt=0, description="Redis backend: connect and command timeout in seconds."
    )
    fail_open: bool = Field(
        default=False,
        description=(
            "Redis backend: if Redis cannot be reached, allow the call (and log a warning) "
            "instead of raising StorageError."
        ),
    )

    @model_validator(mode="after")
    def _check_backend(self) -> RateLimitPolicy:
        if self.backend == "redis":
            if self.burst is not None:
                raise ValueError("burst is only supported by backend 'local'; remove it")
            if self.per_s != int(self.per_s):
                raise ValueError(
                    f"backend 'redis' needs per_s in whole seconds, found {self.per_s}; "
                    "scale rate and per_s together (e.g. rate=5, per_s=1 instead of 2.5 per 0.5)"
                )
            scheme = urlsplit(self.redis_url).scheme
            if scheme not in {"redis", "rediss", "unix"}:
                raise ValueError(
                    f"redis_url must start with redis://, rediss:// or unix://, found {scheme!r}"
                )
        return self

    @property
    def capacity(self) -> int:
        """Most units one call can ever take: ``burst`` (local) or ``rate``."""
        return self.burst if self.burst is not None else self.rate


@runtime_checkable
class RateLimiter(Protocol):
    """What every rate limiter offers. ``cost`` is in the policy's units, ``>= 1`` and at most
    the policy's capacity (else :class:`~agent_sdk.errors.ConfigError`)."""

    async def acquire(self, cost: int = 1, *, timeout_s: float | None = None) -> None:
        """Take *cost* units, waiting as long as needed (or *timeout_s* seconds at most).

        Raises:
            TimeoutError: (agent-sdk's) no capacity within *timeout_s*.
            ConfigError: *cost* can never be satisfied under the policy.
        """
        ...

    async def try_acquire(self, cost: int = 1) -> bool:
        """Take *cost* units if available now; ``True`` if taken, ``False`` if not (no wait)."""
        ...

    async def aclose(self) -> None:
        """Release connections; the limiter must not be used afterwards."""
        ...


def _check_cost(cost: int, policy: RateLimitPolicy, where: str) -> None:
    if not 1 <= cost <= policy.capacity:
        raise ConfigError(
            f"{where}: cost {cost} can never be acquired; expected 1..{policy.capacity} "
            f"(rate={policy.rate} per {policy.per_s}s, burst={policy.burst})",
            hint="raise the limit's rate/burst, or split the call into smaller costs",
        )


class LocalRateLimiter:
    """In-process token bucket over :class:`aiolimiter.AsyncLimiter`. Memory: one bucket plus
    one queue entry per task currently waiting.

    Waiters are served in order of cost then arrival; :meth:`try_acquire` does not queue. Like
    aiolimiter, an instance belongs to one event loop: create one per loop.

    Args:
        policy: the limit (its ``backend`` is not checked, so a redis policy can be
            enforced locally in tests or as a fallback).
        key: a name for logs and errors, e.g. ``"model:openai"``.
    """

    def __init__(self, policy: RateLimitPolicy, key: str = "default") -> None:
        from aiolimiter import AsyncLimiter

        self.policy = policy
        self.key = key
        capacity = policy.capacity
        # Bucket of `capacity` units draining at rate/per_s units per second.
        self._limiter: AsyncLimiter = AsyncLimiter(capacity, capacity * policy.per_s / policy.rate)

    def __repr__(self) -> str:
        return f"LocalRateLimiter({self.key!r}, rate={self.policy.rate}/{self.policy.per_s}s)"

    async def acquire(self, cost: int = 1, *, timeout_s: float | None = None) -> None:
        """See :meth:`RateLimiter.acquire`."""
        _check_cost(cost, self.policy, f"rate limit {self.key!r}")
        try:
            async with asyncio.timeout(timeout_s):
                await self._limiter.acquire(cost)
        except builtins.TimeoutError as error:
            raise AgentTimeoutError(
                f"rate limit {self.key!r}: no capacity for cost {cost} within {timeout_s}s",
                hint="raise the timeout or the rate, or reduce concurrency",
            ) from error

    async def try_acquire(self, cost: int = 1) -> bool:
        """See :meth:`RateLimiter.try_acquire`."""
        _check_cost(cost, self.policy, f"rate limit {self.key!r}")
        if not self._limiter.has_capacity(cost):
            return False
        # With capacity available, AsyncLimiter.acquire takes it without suspending, so no
        # other task can take it between the check and here.
        await self._limiter.acquire(cost)
        return True

    async def aclose(self) -> None:
        """Nothing to release; present for the :class:`RateLimiter` protocol."""


class RedisRateLimiter:
    """A rate limit shared by every process using the same Redis, key and policy, kept by the
    :mod:`limits` library (``limits.aio`` strategies over ``RedisStorage``, redis-py client).
    Memory here: a connection pool of at most :attr:`MAX_CONNECTIONS` connections.

    The Redis key is ``{redis_key_prefix}:LIMITER/{key}/{rate}/{per_s}/second``: limiters
    with a different policy for the same *key* keep separate budgets. Window timestamps come
    from each client's clock, so keep hosts NTP-synchronised.

    Args:
        policy: the limit; its ``redis_*`` and ``strategy`` fields are used.
        key: what is limited, e.g. ``"model:openai"``; the part of the Redis key that
            instances must share.

    Raises:
        ConfigError: the ``limits``/``redis`` packages are missing (install
            ``agent-sdk[redis]``).
    """

    MAX_CONNECTIONS = 16
    """Connections per limiter; more concurrent callers wait for one."""
    _POLL_MIN_S = 0.005

    def __init__(self, policy: RateLimitPolicy, key: str = "default") -> None:
        try:
            import redis.asyncio as aioredis
            from limits import RateLimitItemPerSecond
            from limits.aio import strategies
            from limits.aio.storage import RedisStorage
        except ImportError as error:
            raise ConfigError(
                f"rate limit {key!r} uses backend 'redis' but {error.name!r} is not installed",
                hint="pip install 'agent-sdk[redis]', or set backend = 'local'",
            ) from error
        self.policy = policy
        self.key = key
        self._where = f"rate limit {key!r} at {_safe_url(policy.redis_url)}"
        # Blocking pool: past max_connections, callers wait for a free connection (up to
        # redis_timeout_s) instead of failing with "Too many connections".
        self._pool: ConnectionPool = aioredis.BlockingConnectionPool.from_url(
            policy.redis_url,
            max_connections=self.MAX_CONNECTIONS,
            timeout=policy.redis_timeout_s,
            socket_timeout=policy.redis_timeout_s,
            socket_connect_timeout=policy.redis_timeout_s,
        )
        storage = RedisStorage(
            "async+redis://",
            implementation="redispy",
            key_prefix=policy.redis_key_prefix,
            wrap_exceptions=True,
            # limits types **options as scalars, but its redis-py bridge pops connection_pool
            # and hands it to redis.asyncio.Redis; owning the pool lets aclose() close it.
            connection_pool=self._pool,  # type: ignore[arg-type]
        )
        self._strategy: LimitsStrategy
        if policy.strategy == "moving-window":
            self._strategy = strategies.MovingWindowRateLimiter(storage)
        elif policy.strategy == "sliding-window-counter":
            self._strategy = strategies.SlidingWindowCounterRateLimiter(storage)
        else:
            self._strategy = strategies.FixedWindowRateLimiter(storage)
        self._item: RateLimitItem = RateLimitItemPerSecond(policy.rate, int(policy.per_s))

    def __repr__(self) -> str:
        return f"RedisRateLimiter({self.key!r}, rate={self.policy.rate}/{self.policy.per_s}s)"

    async def acquire(self, cost: int = 1, *, timeout_s: float | None = None) -> None:
        """See :meth:`RateLimiter.acquire`. Polls Redis, sleeping until the window frees room
        (plus up to 5% jitter, so waiters on many hosts do not return together).

        Raises:
            StorageError: Redis failed and the policy is not ``fail_open``.
        """
        _check_cost(cost, self.policy, self._where)
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            if await self._hit(cost):
                return
            wait = await self._wait_s()
            if deadline is not None and time.monotonic() + wait > deadline:
                raise AgentTimeoutError(
                    f"{self._where}: no capacity for cost {cost} within {timeout_s}s",
                    hint="raise the timeout or the rate, or reduce concurrency",
                )
            await asyncio.sleep(wait)

    async def try_acquire(self, cost: int = 1) -> bool:
        """See :meth:`RateLimiter.try_acquire`.

        Raises:
            StorageError: Redis failed and the policy is not ``fail_open``.
        """
        _check_cost(cost, self.policy, self._where)
        return await self._hit(cost)

    async def reset(self) -> None:
        """Delete this limit's state in Redis (its budget becomes full again everywhere)."""
        await self._guard(self._strategy.clear(self._item, self.key), default=None)

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._pool.aclose()

    async def _hit(self, cost: int) -> bool:
        return await self._guard(self._strategy.hit(self._item, self.key, cost=cost), default=True)

    async def _wait_s(self) -> float:
        stats = await self._guard(self._strategy.get_window_stats(self._item, self.key), None)
        per_s = self.policy.per_s
        if stats is None:
            return per_s
        wait = min(max(stats.reset_time - time.time(), self._POLL_MIN_S), per_s)
        return wait + random.uniform(0, wait * 0.05)  # jitter, not security

    async def _guard(self, awaitable: Awaitable[R], default: R) -> R:
        """Await a limits call; map storage failures to StorageError, or *default* if failing
        open."""
        from limits.errors import StorageError as LimitsStorageError

        try:
            return await awaitable
        except LimitsStorageError as error:
            cause = error.storage_error
            if self.policy.fail_open:
                get_logger(__name__).warning(
                    "rate_limit_backend_failed", key=self.key, error=repr(cause), fail_open=True
                )
                return default
            raise StorageError(
                f"{self._where}: Redis failed: {type(cause).__name__}: {cause}",
                hint="check that Redis is running and redis_url is right, or set "
                "fail_open = true to allow calls while it is down",
            ) from error


def create_rate_limiter(policy: RateLimitPolicy, key: str = "default") -> RateLimiter:
    """Build the limiter for *policy*'s backend.

    Args:
        policy: the limit.
        key: what is limited, e.g. ``"model:openai"``.

    Returns:
        a :class:`LocalRateLimiter` or :class:`RedisRateLimiter`.

    Raises:
        ConfigError: backend ``redis`` without the ``agent-sdk[redis]`` extra.
    """
    if policy.backend == "redis":
        return RedisRateLimiter(policy, key)
    return LocalRateLimiter(policy, key)


def _safe_url(url: str) -> str:
    """*url* without user and password, for messages."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"
