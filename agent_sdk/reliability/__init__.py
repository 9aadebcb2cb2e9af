"""Reliability for calls to models, tools and services: retry, circuit breaker, rate limit, cache.

Thin layers over well-kept libraries where one exists -- retries over :mod:`stamina`, rate
limits over :mod:`aiolimiter` (in process) and :mod:`limits` (Redis), caches over
:mod:`cachetools` -- and our own circuit breaker, which is the product:

* :mod:`~agent_sdk.reliability.retry`: :class:`RetryPolicy`, :class:`Retrier`,
  :func:`call_with_retry` -- backoff with jitter on transient errors, honouring Retry-After.
* :mod:`~agent_sdk.reliability.breaker`: :class:`CircuitBreaker`, :class:`BreakerRegistry`,
  :class:`BreakerPolicy`.
* :mod:`~agent_sdk.reliability.ratelimit`: :class:`RateLimitPolicy`,
  :func:`create_rate_limiter`, :class:`LocalRateLimiter`, :class:`RedisRateLimiter`.
* :mod:`~agent_sdk.reliability.cache`: :class:`CachePolicy`, :class:`ResultCache`,
  :func:`cache_key`.

Importing this package imports none of them: each name below is loaded from its module on
first access, so ``import agent_sdk.reliability`` stays cheap (and ``import agent_sdk`` does
not import it at all).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agent_sdk.reliability.breaker import (
        BreakerPolicy,
        BreakerRegistry,
        BreakerState,
        CircuitBreaker,
        is_counted_failure,
    )
    from agent_sdk.reliability.cache import CachePolicy, ResultCache, cache_key
    from agent_sdk.reliability.ratelimit import (
        LocalRateLimiter,
        RateLimiter,
        RateLimitPolicy,
        RedisRateLimiter,
        create_rate_limiter,
    )
    from agent_sdk.reliability.retry import (
        Retrier,
        RetryPolicy,
        call_with_retry,
        call_with_retry_sync,
        is_transient,
    )

_EXPORTS = {
    "BreakerPolicy": "breaker",
    "BreakerRegistry": "breaker",
    "BreakerState": "breaker",
    "CircuitBreaker": "breaker",
    "is_counted_failure": "breaker",
    "CachePolicy": "cache",
    "ResultCache": "cache",
    "cache_key": "cache",
    "LocalRateLimiter": "ratelimit",
    "RateLimitPolicy": "ratelimit",
    "RateLimiter": "ratelimit",
    "RedisRateLimiter": "ratelimit",
    "create_rate_limiter": "ratelimit",
    "Retrier": "retry",
    "RetryPolicy": "retry",
    "call_with_retry": "retry",
    "call_with_retry_sync": "retry",
    "is_transient": "retry",
}

__all__ = [
    "BreakerPolicy",
    "BreakerRegistry",
    "BreakerState",
    "CachePolicy",
    "CircuitBreaker",
    "LocalRateLimiter",
    "RateLimitPolicy",
    "RateLimiter",
    "RedisRateLimiter",
    "ResultCache",
    "Retrier",
    "RetryPolicy",
    "cache_key",
    "call_with_retry",
    "call_with_retry_sync",
    "create_rate_limiter",
    "is_counted_failure",
    "is_transient",
]


def __getattr__(name: str) -> Any:
    """Load *name* from its submodule on first access (PEP 562)."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
