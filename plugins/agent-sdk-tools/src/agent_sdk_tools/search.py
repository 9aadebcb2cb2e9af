"""``web_search``: search the web (DuckDuckGo through the ``ddgs`` package) and return results.

Every call goes through the result cache (``search_cache``), then the rate limiter
(``search_rate_limit``), then the circuit breaker of the search service (``search_breaker``),
then the search itself, bounded by ``search_timeout_s``: offline, a call fails within that
time with a transient :class:`~agent_sdk.errors.ToolError` that says the service could not be
reached; it never hangs.

``ddgs`` is synchronous; the search runs in a worker thread and the call stops waiting at the
deadline (the ``ddgs`` client is given the same timeout, so the thread ends soon after too).
The search function is a constructor seam: ``WebSearch(config, search=my_function)`` uses
another backend (tests, a self-hosted engine) with the same caching, limits and errors.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from agent_sdk.errors import CircuitOpenError
from agent_sdk.errors import TimeoutError as AgentTimeoutError
from agent_sdk.kinds.tool import Tool, ToolContext
from agent_sdk.reliability.breaker import CircuitBreaker
from agent_sdk.reliability.cache import ResultCache, cache_key
from agent_sdk.reliability.ratelimit import RateLimiter, create_rate_limiter
from agent_sdk_tools._common import PerLoop, tool_error
from agent_sdk_tools.config import ToolsConfig

__all__ = ["SearchFunction", "SearchUnavailable", "WebSearch", "ddgs_search"]

SearchFunction = Callable[[str, int, str, str | None, ToolsConfig], list[dict[str, Any]]]
"""``search(query, max_results, region, timelimit, config) -> results``, run in a thread.

Each result is a dict with ``title``, ``url`` and ``snippet`` (strings). An empty list means
no results. Raise :class:`SearchUnavailable` when the service cannot be reached or refuses.
"""


class SearchUnavailable(Exception):
    """The search service could not be reached or refused the query (transient).

    Args:
        message: what happened.
        rate_limited: the service said the client searches too often.
    """

    def __init__(self, message: str, *, rate_limited: bool = False) -> None:
        super().__init__(message)
        self.rate_limited = rate_limited


def ddgs_search(
    query: str, max_results: int, region: str, timelimit: str | None, config: ToolsConfig
) -> list[dict[str, Any]]:
    """The default :data:`SearchFunction`: a text search with :class:`ddgs.DDGS`.

    Raises:
        SearchUnavailable: ``ddgs`` failed (network, rate limit, timeout, blocked).
    """
    from ddgs import DDGS
    from ddgs.exceptions import DDGSException, RatelimitException

    client = DDGS(proxy=config.search_proxy, timeout=max(1, math.ceil(config.search_timeout_s)))
    try:
        raw = client.text(
            query,
            region=region,
            safesearch="moderate",
            timelimit=timelimit,
            max_results=max_results,
            backend=config.search_backend,
        )
    except RatelimitException as error:
        raise SearchUnavailable(str(error), rate_limited=True) from error
    except DDGSException as error:
        if str(error) == "No results found.":
            return []
        raise SearchUnavailable(str(error)) from error
    return [
        {
            "title": str(item.get("title") or ""),
            "url": str(item.get("href") or item.get("url") or ""),
            "snippet": str(item.get("body") or item.get("snippet") or ""),
        }
        for item in raw
    ]


class WebSearch(Tool):
    """Search the web and return titles, URLs and snippets."""

    name = "web_search"
    description = (
        "Search the web (DuckDuckGo) and return the top results, each with title, url and "
        "snippet. Use http_fetch to read a result's page."
    )
    side_effects = False
    Config = ToolsConfig
    config: ToolsConfig

    class Arguments(BaseModel):
        """Arguments of ``web_search``."""

        model_config = ConfigDict(extra="forbid")

        query: str = Field(min_length=1, max_length=500, description="What to search for.")
        max_results: int | None = Field(
            default=None,
            ge=1,
            description="Most results to return; null: the configured cap "
            "(search_max_results), which is also the upper bound.",
        )
        region: str | None = Field(
            default=None,
            max_length=10,
            description="Region code such as 'us-en', 'uk-en', 'de-de'; null: the configured "
            "default (search_region).",
        )
        timelimit: Literal["d", "w", "m", "y"] | None = Field(
            default=None,
            description="Only results from the last day, week, month or year; null: any time.",
        )

    def __init__(
        self, config: ToolsConfig | None = None, *, search: SearchFunction | None = None
    ) -> None:
        super().__init__(config)
        self._search: SearchFunction = search or ddgs_search
        self._cache = ResultCache(self.config.search_cache, name="tools:web_search")
        self._limiter: PerLoop[RateLimiter] = PerLoop()
        self._breaker = CircuitBreaker.from_policy("tools:web_search", self.config.search_breaker)

    @property
    def breaker(self) -> CircuitBreaker:
        """The circuit breaker of the search service."""
        return self._breaker

    def cache_stats(self) -> dict[str, Any]:
        """The result cache's counters (see :meth:`ResultCache.stats`)."""
        return self._cache.stats()

    async def run(self, args: WebSearch.Arguments, ctx: ToolContext) -> dict[str, Any]:
        cap = self.config.search_max_results
        count = min(args.max_results or cap, cap)
        region = args.region or self.config.search_region
        query = " ".join(args.query.split())
        payload = {
            "query": query,
            "max_results": count,
            "region": region,
            "timelimit": args.timelimit,
            "backend": self.config.search_backend,
        }
        key = cache_key("tools:web_search", payload)
        results = await self._cache.get_or_call(
            key, self._guarded, query, count, region, args.timelimit
        )
        return {"query": query, "results": [dict(r) for r in results]}

    async def _guarded(
        self, query: str, count: int, region: str, timelimit: str | None
    ) -> list[dict[str, Any]]:
        timeout_s = self.config.search_timeout_s
        limiter = self._limiter.get() or self._limiter.set(
            create_rate_limiter(self.config.search_rate_limit, key="tools:web_search")
        )
        try:
            await limiter.acquire(timeout_s=timeout_s)
        except AgentTimeoutError as error:
            raise tool_error(
                f"web_search: rate limit (search_rate_limit) left no capacity within {timeout_s}s",
                hint="search less often, or raise search_rate_limit in [plugins.tools]",
                transient=True,
            ) from error
        try:
            return await self._breaker.call(self._search_once, query, count, region, timelimit)
        except CircuitOpenError as error:
            raise tool_error(
                "web_search: the search service failed repeatedly; its circuit breaker is "
                f"open for {error.retry_after:.1f}s more",
                hint="try again later; see search_breaker in [plugins.tools]",
                transient=True,
            ) from None

    async def _search_once(
        self, query: str, count: int, region: str, timelimit: str | None
    ) -> list[dict[str, Any]]:
        timeout_s = self.config.search_timeout_s
        backend = self.config.search_backend
        try:
            async with asyncio.timeout(timeout_s):
                results = await asyncio.to_thread(
                    self._search, query, count, region, timelimit, self.config
                )
        except TimeoutError:
            raise tool_error(
                f"web_search: the search service ({backend}) did not answer within "
                f"{timeout_s}s (search_timeout_s)",
                hint="check the network (or search_proxy / DDGS_PROXY); retry later",
                transient=True,
            ) from None
        except SearchUnavailable as error:
            if error.rate_limited:
                raise tool_error(
                    f"web_search: the search service ({backend}) rate-limited this client: {error}",
                    hint="search less often (search_rate_limit) and retry later",
                    transient=True,
                ) from None
            raise tool_error(
                f"web_search: cannot reach the search service ({backend}): {error}",
                hint="check the network connection (or search_proxy / DDGS_PROXY in the "
                "environment); offline, web_search cannot work",
                transient=True,
            ) from None
        return results[:count]
