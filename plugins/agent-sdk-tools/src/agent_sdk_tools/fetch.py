"""``http_fetch``: GET a web page or text resource and return it as text.

Every call goes, in order, through

1. the URL check: ``http``/``https`` only, host allowed by ``http_allow_domains`` and not
   denied by ``http_deny_domains`` (a rule covers the domain and its subdomains; deny wins);
2. the result cache (``http_cache``; a hit costs nothing else);
3. the rate limiter (``http_rate_limit``, one budget for all hosts);
4. the host's circuit breaker (``http_breaker``, one per host, at most
   :attr:`HttpFetch.MAX_BREAKERS` kept, least recently used first out);
5. the request, streamed: the download stops at ``http_max_bytes``; redirects are followed by
   hand (at most ``http_max_redirects``) so that every hop passes the URL check too.

The whole call is bounded by ``http_timeout_s``. Connection errors, timeouts, 5xx and 429
answers are transient :class:`~agent_sdk.errors.ToolError` (counted by the host's breaker);
other 4xx answers are non-transient ones. HTML is turned into text by
:func:`agent_sdk_tools.html_text.html_to_text`.

A client is made per call (``httpx.AsyncClient``), sharing one SSL context per tool instance:
building the context is what is slow (~30 ms); a client over a ready context costs ~0.15 ms,
and nothing is left open between calls for the runtime to close (tools have no close hook).
"""

from __future__ import annotations

import asyncio
import codecs
import re
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from agent_sdk.errors import CircuitOpenError, ToolError
from agent_sdk.errors import TimeoutError as AgentTimeoutError
from agent_sdk.kinds.tool import Tool, ToolContext
from agent_sdk.reliability.breaker import BreakerState, CircuitBreaker
from agent_sdk.reliability.cache import ResultCache, cache_key
from agent_sdk.reliability.ratelimit import RateLimiter, create_rate_limiter
from agent_sdk_tools._common import PerLoop, tool_error
from agent_sdk_tools.config import ToolsConfig

if TYPE_CHECKING:
    import ssl

    import httpx

__all__ = ["HttpFetch", "domain_matches", "host_policy_error"]

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_TEXT_SUBTYPES = ("json", "xml", "javascript", "ecmascript", "csv", "yaml", "toml", "markdown")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)


def domain_matches(host: str, domain: str) -> bool:
    """``True`` if *host* is *domain* or one of its subdomains (both normalized)."""
    return host == domain or host.endswith("." + domain)


def host_policy_error(host: str, allow: tuple[str, ...], deny: tuple[str, ...]) -> str | None:
    """Why *host* may not be fetched under the allow/deny lists, or ``None`` if it may.

    Deny wins over allow; an empty allow list allows every host not denied.
    """
    denied = next((d for d in deny if domain_matches(host, d)), None)
    if denied is not None:
        return f"host {host!r} is denied by http_deny_domains ({denied!r})"
    if allow and not any(domain_matches(host, a) for a in allow):
        return f"host {host!r} is not in http_allow_domains ({', '.join(allow)})"
    return None


class _Redirect(Exception):
    """A redirect answer (internal): where to go next."""

    def __init__(self, location: str, status: int) -> None:
        super().__init__(location)
        self.location = location
        self.status = status


class HttpFetch(Tool):
    """Fetch a URL with GET and return its content as text (HTML converted to plain text)."""

    name = "http_fetch"
    description = (
        "Fetch a web page or text resource (HTTP GET) and return its content as text: HTML is "
        "converted to readable plain text (format 'text') or returned as markup ('raw'). "
        "Large bodies are truncated at a size cap (the result says so)."
    )
    side_effects = False
    Config = ToolsConfig
    config: ToolsConfig

    MAX_BREAKERS = 256
    """Per-host breakers kept; the least recently used one (a closed one first) goes beyond."""

    class Arguments(BaseModel):
        """Arguments of ``http_fetch``."""

        model_config = ConfigDict(extra="forbid")

        url: str = Field(
            min_length=1,
            max_length=8192,
            description="Absolute http:// or https:// URL to fetch.",
        )
        format: Literal["text", "raw"] = Field(
            default="text",
            description="'text': HTML converted to plain text (other text types as they are); "
            "'raw': the body as sent (markup kept).",
        )
        max_bytes: int | None = Field(
            default=None,
            ge=1,
            description="Most body bytes to download; null: the configured cap "
            "(http_max_bytes), which is also the upper bound.",
        )

    def __init__(self, config: ToolsConfig | None = None) -> None:
        super().__init__(config)
        self._cache = ResultCache(self.config.http_cache, name="tools:http_fetch")
        self._limiter: PerLoop[RateLimiter] = PerLoop()
        self._breakers: OrderedDict[str, CircuitBreaker] = OrderedDict()
        self._breakers_lock = threading.Lock()
        self._ssl: ssl.SSLContext | None = None

    # --- shared state ----------------------------------------------------------------------

    def breaker(self, host: str) -> CircuitBreaker:
        """The circuit breaker of *host* (``http:<host>``), created on first use."""
        with self._breakers_lock:
            breaker = self._breakers.get(host)
            if breaker is not None:
                self._breakers.move_to_end(host)
                return breaker
            if len(self._breakers) >= self.MAX_BREAKERS:
                closed = next(
                    (h for h, b in self._breakers.items() if b.state is BreakerState.CLOSED),
                    next(iter(self._breakers)),
                )
                del self._breakers[closed]
            breaker = CircuitBreaker.from_policy(f"http:{host}", self.config.http_breaker)
            self._breakers[host] = breaker
            return breaker

    def cache_stats(self) -> dict[str, Any]:
        """The result cache's counters (see :meth:`ResultCache.stats`)."""
        return self._cache.stats()

    def _rate_limiter(self) -> RateLimiter:
        limiter = self._limiter.get()
        if limiter is None:
            limiter = self._limiter.set(
                create_rate_limiter(self.config.http_rate_limit, key="tools:http_fetch")
            )
        return limiter

    def _ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            import httpx

            self._ssl = httpx.create_ssl_context()
        return self._ssl

    # --- the call --------------------------------------------------------------------------

    async def run(self, args: HttpFetch.Arguments, ctx: ToolContext) -> dict[str, Any]:
        url = self._checked_url(args.url)
        limit = min(args.max_bytes or self.config.http_max_bytes, self.config.http_max_bytes)
        key = cache_key("tools:http_fetch", {"url": str(url), "format": args.format, "max": limit})
        result = await self._cache.get_or_call(key, self._fetch, url, args.format, limit)
        return dict(result)

    def _checked_url(self, raw: str, *, redirected_from: str | None = None) -> httpx.URL:
        import httpx

        via = f" (redirected from {redirected_from})" if redirected_from else ""
        try:
            url = httpx.URL(raw)
        except httpx.InvalidURL as error:
            raise tool_error(f"http_fetch: invalid URL {raw!r}{via}: {error}") from None
        if url.scheme not in {"http", "https"}:
            raise tool_error(
                f"http_fetch: URL {raw!r}{via} has scheme {url.scheme!r}; only http and https "
                "are fetched",
                hint="pass an absolute http:// or https:// URL",
            )
        host = url.raw_host.decode("ascii", "replace").lower().rstrip(".")
        if not host:
            raise tool_error(f"http_fetch: URL {raw!r}{via} has no host")
        problem = host_policy_error(
            host, self.config.http_allow_domains, self.config.http_deny_domains
        )
        if problem is not None:
            raise tool_error(
                f"http_fetch: {raw!r}{via} refused: {problem}",
                hint="fetch another host, or change http_allow_domains / http_deny_domains "
                "in [plugins.tools]",
            )
        return url

    async def _fetch(self, url: httpx.URL, fmt: str, limit: int) -> dict[str, Any]:
        import httpx

        timeout_s = self.config.http_timeout_s
        try:
            await self._rate_limiter().acquire(timeout_s=timeout_s)
        except AgentTimeoutError as error:
            raise tool_error(
                f"http_fetch: rate limit (http_rate_limit) left no capacity within {timeout_s}s",
                hint="make fewer requests, or raise http_rate_limit in [plugins.tools]",
                transient=True,
            ) from error
        deadline = asyncio.get_running_loop().time() + timeout_s
        async with httpx.AsyncClient(
            verify=self._ssl_context(),
            timeout=httpx.Timeout(timeout_s),
            follow_redirects=False,
            headers={"User-Agent": self.config.http_user_agent},
        ) as client:
            current = url
            for _hop in range(self.config.http_max_redirects + 1):
                host = current.raw_host.decode("ascii", "replace").lower().rstrip(".")
                breaker = self.breaker(host)
                try:
                    return await breaker.call(
                        self._request, client, current, fmt, limit, deadline, timeout_s
                    )
                except _Redirect as redirect:
                    try:
                        target = str(current.join(redirect.location))
                    except httpx.InvalidURL as error:
                        raise tool_error(
                            f"http_fetch: {current} redirected to an invalid URL "
                            f"{redirect.location!r}: {error}"
                        ) from None
                    current = self._checked_url(target, redirected_from=str(current))
                except CircuitOpenError as error:
                    raise tool_error(
                        f"http_fetch: {host!r} failed repeatedly (connection errors, timeouts "
                        f"or 5xx); its circuit breaker is open for {error.retry_after:.1f}s more",
                        hint="try again later or another source; see http_breaker in "
                        "[plugins.tools]",
                        transient=True,
                    ) from None
        raise tool_error(
            f"http_fetch: {url} redirected more than {self.config.http_max_redirects} times",
            hint="fetch the final URL directly, or raise http_max_redirects in [plugins.tools]",
        )

    async def _request(
        self,
        client: httpx.AsyncClient,
        url: httpx.URL,
        fmt: str,
        limit: int,
        deadline: float,
        timeout_s: float,
    ) -> dict[str, Any]:
        import httpx

        try:
            async with (
                asyncio.timeout_at(deadline),
                client.stream("GET", url) as response,
            ):
                status = response.status_code
                if status in _REDIRECTS and "location" in response.headers:
                    raise _Redirect(response.headers["location"], status)
                if status >= 500 or status == 429:
                    retry_after = response.headers.get("retry-after")
                    raise tool_error(
                        f"http_fetch: {url} answered {status} {response.reason_phrase}",
                        hint="the server failed or is overloaded; retry later"
                        + (f" (Retry-After: {retry_after})" if retry_after else ""),
                        transient=True,
                    )
                if status >= 400:
                    raise tool_error(
                        f"http_fetch: {url} answered {status} {response.reason_phrase}",
                        hint="check the URL" if status in {404, 410} else None,
                    )
                content_type = response.headers.get("content-type", "")
                mime = content_type.split(";", 1)[0].strip().lower()
                if mime and not _is_text(mime):
                    raise tool_error(
                        f"http_fetch: {url} is {mime!r}, not text; nothing was downloaded",
                        hint="http_fetch returns text (HTML, JSON, XML, plain text...)",
                    )
                body, truncated = await _read_capped(response, limit)
                charset = response.charset_encoding
        except (ToolError, _Redirect):
            raise
        except (TimeoutError, httpx.TimeoutException):
            raise tool_error(
                f"http_fetch: {url} did not answer within {timeout_s}s (http_timeout_s)",
                hint="retry later, or raise http_timeout_s in [plugins.tools]",
                transient=True,
            ) from None
        except httpx.TransportError as error:
            raise tool_error(
                f"http_fetch: cannot reach {url}: {type(error).__name__}: {error}",
                hint="check the host name and the network; retry later",
                transient=True,
            ) from None
        except httpx.HTTPError as error:
            raise tool_error(f"http_fetch: {url}: {type(error).__name__}: {error}") from None
        is_html = mime in {"text/html", "application/xhtml+xml"} or (
            not mime and body.lstrip()[:15].lower().startswith((b"<!doctype html", b"<html"))
        )
        text = body.decode(_charset(charset, body if is_html else b""), errors="replace")
        title: str | None = None
        if is_html and fmt == "text":
            from agent_sdk_tools.html_text import html_to_text

            title, text = html_to_text(text)
        return {
            "url": str(url),
            "status": status,
            "content_type": mime or None,
            "title": title,
            "content": text,
            "bytes": len(body),
            "truncated": truncated,
        }


def _is_text(mime: str) -> bool:
    main, _, sub = mime.partition("/")
    return main == "text" or any(sub.endswith(s) for s in _TEXT_SUBTYPES) or sub == "x-ndjson"


def _charset(declared: str | None, html: bytes) -> str:
    """The codec for the body: the declared charset, a ``<meta charset>``, else UTF-8."""
    candidates = [declared]
    if html and declared is None:
        match = _META_CHARSET.search(html[:4096])
        if match:
            candidates.append(match.group(1).decode("ascii"))
    for name in candidates:
        if name:
            try:
                return codecs.lookup(name).name
            except LookupError:
                continue
    return "utf-8"


async def _read_capped(response: httpx.Response, limit: int) -> tuple[bytes, bool]:
    """Read at most *limit* (decoded) body bytes; ``(body, truncated)``. Stops the download."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        if size + len(chunk) > limit:
            chunks.append(chunk[: limit - size])
            return b"".join(chunks), True
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks), False
