"""web_search: the real offline path (ddgs with no network), and caching/limits via the seam.

The machines this suite runs on have no route to the internet, so the ddgs tests exercise what
an offline agent meets; the fake search function (the constructor seam) is used only to
observe caching, the rate limit and the breaker.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from agent_sdk_tools.config import ToolsConfig
from agent_sdk_tools.search import SearchUnavailable, WebSearch

from agent_sdk.kinds.tool import ToolContext
from agent_sdk.messages import ToolCall, ToolResult
from agent_sdk.reliability.breaker import BreakerPolicy
from agent_sdk.reliability.cache import CachePolicy
from agent_sdk.reliability.ratelimit import RateLimitPolicy


async def search(tool: WebSearch, query: str, **arguments: Any) -> ToolResult:
    call = ToolCall(id="c1", name="web_search", arguments={"query": query, **arguments})
    return await tool.invoke(call, ToolContext())


def assert_fails_fast_and_clearly(result: ToolResult, elapsed: float, timeout_s: float) -> None:
    if result.ok:
        pytest.skip("this machine reached the search service; the offline path is not testable")
    assert result.error is not None
    assert result.error["type"] == "ToolError"
    assert result.error["transient"] is True
    assert "web_search" in result.error["message"]
    assert result.error["hint"]
    assert elapsed < timeout_s + 1.5, f"took {elapsed:.2f}s"


async def test_offline_search_fails_fast_with_a_clear_error() -> None:
    tool = WebSearch(ToolsConfig(search_timeout_s=3))
    started = time.monotonic()
    result = await search(tool, "agent sdk")
    assert_fails_fast_and_clearly(result, time.monotonic() - started, 3)
    assert "search service" in result.error["message"]


@pytest.fixture
def black_hole() -> Iterator[str]:
    """A TCP server that accepts connections and never answers: a proxy that hangs."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        sock.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
                accepted.append(conn)
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    sock.close()


async def test_a_search_service_that_never_answers_is_cut_off_at_the_timeout(
    black_hole: str,
) -> None:
    tool = WebSearch(ToolsConfig(search_timeout_s=1, search_proxy=black_hole))
    started = time.monotonic()
    result = await search(tool, "agent sdk")
    assert_fails_fast_and_clearly(result, time.monotonic() - started, 1)


class FakeBackend:
    """A search function recording its calls (the constructor seam)."""

    def __init__(self, fail: bool = False) -> None:
        self.calls: list[tuple[str, int, str, str | None]] = []
        self.fail = fail

    def __call__(
        self, query: str, max_results: int, region: str, timelimit: str | None, config: Any
    ) -> list[dict[str, Any]]:
        self.calls.append((query, max_results, region, timelimit))
        if self.fail:
            raise SearchUnavailable("connection refused")
        return [
            {"title": f"{query} {i}", "url": f"https://example.com/{i}", "snippet": "..."}
            for i in range(20)
        ]


def fake_tool(backend: FakeBackend, **settings: Any) -> WebSearch:
    settings.setdefault("search_rate_limit", RateLimitPolicy(rate=1000, per_s=1.0))
    return WebSearch(ToolsConfig(**settings), search=backend)


async def test_results_are_capped_and_carry_title_url_and_snippet() -> None:
    backend = FakeBackend()
    result = await search(fake_tool(backend, search_max_results=5), "python", max_results=50)
    assert result.ok, result.error
    assert len(result.data["results"]) == 5
    assert result.data["results"][0] == {
        "title": "python 0",
        "url": "https://example.com/0",
        "snippet": "...",
    }
    assert backend.calls == [("python", 5, "us-en", None)]


async def test_repeated_searches_are_served_from_the_cache() -> None:
    backend = FakeBackend()
    tool = fake_tool(backend)
    first = await search(tool, "python  asyncio")
    second = await search(tool, "python asyncio")  # same query once whitespace is collapsed
    assert first.data == second.data
    assert len(backend.calls) == 1
    await search(tool, "python asyncio", timelimit="w")
    assert len(backend.calls) == 2
    disabled = fake_tool(backend, search_cache=CachePolicy(enabled=False))
    await search(disabled, "x")
    await search(disabled, "x")
    assert len(backend.calls) == 4


async def test_searches_are_spaced_by_the_rate_limit() -> None:
    backend = FakeBackend()
    tool = fake_tool(backend, search_rate_limit=RateLimitPolicy(rate=1, per_s=0.2))
    started = time.monotonic()
    for i in range(3):
        assert (await search(tool, f"query {i}")).ok
    assert time.monotonic() - started >= 0.35  # 2 waits of 0.2 s


async def test_the_breaker_opens_after_repeated_failures() -> None:
    backend = FakeBackend(fail=True)
    tool = fake_tool(backend, search_breaker=BreakerPolicy(failure_threshold=2))
    for i in range(2):
        failed = await search(tool, f"q{i}")
        assert failed.error["transient"] is True
        assert "cannot reach the search service" in failed.error["message"]
    rejected = await search(tool, "q3")
    assert "circuit breaker is open" in rejected.error["message"]
    assert len(backend.calls) == 2
