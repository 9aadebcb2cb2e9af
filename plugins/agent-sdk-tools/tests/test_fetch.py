"""http_fetch against a real HTTP server (stdlib ``http.server`` on 127.0.0.1, ephemeral port).

No mocks: the tool's httpx client talks TCP to the server thread, which counts requests per
path so caching, the rate limit and the circuit breaker can be observed from the outside.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from agent_sdk_tools.config import ToolsConfig
from agent_sdk_tools.fetch import HttpFetch, host_policy_error
from pydantic import ValidationError

from agent_sdk.kinds.tool import ToolContext
from agent_sdk.messages import ToolCall, ToolResult
from agent_sdk.reliability.breaker import BreakerPolicy, BreakerState
from agent_sdk.reliability.cache import CachePolicy
from agent_sdk.reliability.ratelimit import RateLimitPolicy

PAGE = b"""<!doctype html><html><head><title>Test page</title>
<script>document.write("hidden")</script><style>p { color: red }</style></head>
<body><h1>Welcome</h1><p>First <b>paragraph</b>.</p><ul><li>one</li><li>two</li></ul></body></html>"""


BIG_CHUNKS = 64 * 1024  # 64 MiB in 1 KiB chunks: more than any socket buffer holds


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes, content_type: str = "text/plain") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        self.server.hits[path] += 1
        if path == "/page":
            self._send(200, PAGE, "text/html; charset=utf-8")
        elif path == "/latin1":
            body = '<html><head><meta charset="iso-8859-1"></head><p>café</p></html>'
            self._send(200, body.encode("latin-1"), "text/html")
        elif path == "/json":
            self._send(200, b'{"a": 1}', "application/json")
        elif path == "/big":
            # streams far more than any cap used in the tests, in chunks, without a length
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            try:
                for _ in range(BIG_CHUNKS):
                    self.wfile.write(b"x" * 1024)
                    self.server.big_chunks_sent += 1
            except (BrokenPipeError, ConnectionResetError):
                pass
            finally:
                self.server.big_finished.set()
        elif path == "/slow":
            time.sleep(2.0)
            self._send(200, b"too late")
        elif path == "/503":
            self._send(503, b"unavailable")
        elif path == "/404":
            self._send(404, b"not here")
        elif path == "/image":
            self._send(200, b"\x89PNG\r\n", "image/png")
        elif path == "/redirect-local":
            self.send_response(302)
            self.send_header("Location", "/page")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif path == "/redirect-away":
            self.send_response(302)
            self.send_header("Location", f"http://127.0.0.1:{self.server.server_port}/page")
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            self._send(404, b"?")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.hits: Counter[str] = Counter()
        self.big_chunks_sent = 0
        self.big_finished = threading.Event()

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients hanging up early (size cap, timeout) is what several tests do


@pytest.fixture(scope="module")
def server() -> Iterator[_Server]:
    srv = _Server()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join()


@pytest.fixture
def base(server: _Server) -> str:
    server.hits.clear()
    return f"http://127.0.0.1:{server.server_port}"


def make(**settings: Any) -> HttpFetch:
    settings.setdefault("http_rate_limit", RateLimitPolicy(rate=1000, per_s=1.0))
    settings.setdefault("http_cache", CachePolicy(enabled=False))
    return HttpFetch(ToolsConfig(**settings))


async def fetch(tool: HttpFetch, url: str, **arguments: Any) -> ToolResult:
    call = ToolCall(id="c1", name="http_fetch", arguments={"url": url, **arguments})
    return await tool.invoke(call, ToolContext())


async def test_html_is_returned_as_text_with_its_title(base: str) -> None:
    result = await fetch(make(), f"{base}/page")
    assert result.ok, result.error
    data = result.data
    assert data["status"] == 200
    assert data["content_type"] == "text/html"
    assert data["title"] == "Test page"
    assert data["content"] == "# Welcome\n\nFirst paragraph.\n\n- one\n- two"
    assert "hidden" not in data["content"]
    assert "color" not in data["content"]
    assert data["truncated"] is False
    raw = await fetch(make(), f"{base}/page", format="raw")
    assert raw.data["content"] == PAGE.decode()


async def test_the_charset_of_a_meta_tag_is_honoured(base: str) -> None:
    result = await fetch(make(), f"{base}/latin1")
    assert result.data["content"] == "café"


async def test_other_text_types_are_returned_as_they_are(base: str) -> None:
    result = await fetch(make(), f"{base}/json")
    assert result.data["content"] == '{"a": 1}'
    assert result.data["title"] is None


async def test_binary_content_is_refused_without_downloading(base: str) -> None:
    result = await fetch(make(), f"{base}/image")
    assert not result.ok
    assert "not text" in result.error["message"]


async def test_the_download_stops_at_the_size_cap(base: str, server: _Server) -> None:
    result = await fetch(make(http_max_bytes=10_000), f"{base}/big")
    assert result.ok, result.error
    assert result.data["bytes"] == 10_000
    assert len(result.data["content"]) == 10_000
    assert result.data["truncated"] is True
    # the client hung up: the server could not push its 64 MiB
    assert await asyncio.to_thread(server.big_finished.wait, 10)
    assert server.big_chunks_sent < BIG_CHUNKS
    smaller = await fetch(make(http_max_bytes=10_000), f"{base}/big", max_bytes=100)
    assert smaller.data["bytes"] == 100


async def test_a_slow_server_times_out_as_a_transient_error(base: str) -> None:
    started = time.monotonic()
    result = await fetch(make(http_timeout_s=0.3), f"{base}/slow")
    elapsed = time.monotonic() - started
    assert not result.ok
    assert result.error["transient"] is True
    assert "did not answer within 0.3s" in result.error["message"]
    assert elapsed < 1.5


async def test_5xx_is_a_transient_error_and_4xx_is_not(base: str) -> None:
    unavailable = await fetch(make(), f"{base}/503")
    assert not unavailable.ok
    assert unavailable.error["type"] == "ToolError"
    assert unavailable.error["transient"] is True
    assert "503" in unavailable.error["message"]
    missing = await fetch(make(), f"{base}/404")
    assert not missing.ok
    assert missing.error["transient"] is False
    assert "404" in missing.error["message"]


async def test_connection_refused_is_a_transient_error() -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = await fetch(make(), f"http://127.0.0.1:{port}/")
    assert not result.ok
    assert result.error["transient"] is True
    assert "cannot reach" in result.error["message"]


async def test_only_http_and_https_urls_are_fetched() -> None:
    for url in ("file:///etc/passwd", "ftp://example.com/x", "not a url"):
        result = await fetch(make(), url)
        assert not result.ok
        assert result.error["transient"] is False


async def test_allow_list_admits_listed_hosts_only(base: str, server: _Server) -> None:
    tool = make(http_allow_domains=["localhost"])
    port = server.server_port
    allowed = await fetch(tool, f"http://localhost:{port}/page")
    assert allowed.ok, allowed.error
    refused = await fetch(tool, f"{base}/page")
    assert not refused.ok
    assert "not in http_allow_domains" in refused.error["message"]
    assert server.hits["/page"] == 1


async def test_deny_list_wins_over_the_allow_list(base: str, server: _Server) -> None:
    tool = make(http_allow_domains=["localhost", "127.0.0.1"], http_deny_domains=["localhost"])
    denied = await fetch(tool, f"http://localhost:{server.server_port}/page")
    assert not denied.ok
    assert "denied by http_deny_domains" in denied.error["message"]
    assert (await fetch(tool, f"{base}/page")).ok


def test_domain_rules_match_the_domain_and_its_subdomains_only() -> None:
    allow = ("example.com",)
    assert host_policy_error("example.com", allow, ()) is None
    assert host_policy_error("docs.example.com", allow, ()) is None
    assert host_policy_error("badexample.com", allow, ()) is not None
    assert host_policy_error("example.com.evil.net", allow, ()) is not None
    assert host_policy_error("a.b.example.com", (), ("b.example.com",)) is not None
    assert host_policy_error("example.com", (), ("b.example.com",)) is None


def test_domain_settings_are_normalized_and_urls_rejected() -> None:
    config = ToolsConfig(http_allow_domains=["*.Example.COM.", ".docs.org"])
    assert config.http_allow_domains == ("example.com", "docs.org")
    with pytest.raises(ValidationError, match="http_deny_domains"):
        ToolsConfig(http_deny_domains=["https://example.com/path"])


async def test_redirects_are_followed_and_each_hop_is_checked(base: str, server: _Server) -> None:
    port = server.server_port
    followed = await fetch(make(), f"{base}/redirect-local")
    assert followed.ok, followed.error
    assert followed.data["url"] == f"{base}/page"
    tool = make(http_allow_domains=["localhost"])
    escaped = await fetch(tool, f"http://localhost:{port}/redirect-away")
    assert not escaped.ok
    assert "redirected from" in escaped.error["message"]
    assert server.hits["/page"] == 1
    no_hops = await fetch(make(http_max_redirects=0), f"{base}/redirect-local")
    assert not no_hops.ok
    assert "redirected more than 0 times" in no_hops.error["message"]


async def test_a_repeated_get_is_served_from_the_cache(base: str, server: _Server) -> None:
    tool = make(http_cache=CachePolicy(enabled=True, ttl_s=60))
    first = await fetch(tool, f"{base}/page")
    second = await fetch(tool, f"{base}/page")
    assert first.data == second.data
    assert server.hits["/page"] == 1
    assert tool.cache_stats()["hits"] == 1
    await fetch(tool, f"{base}/page", format="raw")  # other arguments: another entry
    assert server.hits["/page"] == 2
    # errors are never cached
    await fetch(tool, f"{base}/404")
    await fetch(tool, f"{base}/404")
    assert server.hits["/404"] == 2


async def test_requests_are_spaced_by_the_rate_limit(base: str, server: _Server) -> None:
    tool = make(http_rate_limit=RateLimitPolicy(rate=1, per_s=0.2))
    started = time.monotonic()
    for _ in range(4):
        assert (await fetch(tool, f"{base}/json")).ok
    elapsed = time.monotonic() - started
    assert server.hits["/json"] == 4
    assert elapsed >= 0.55  # 3 waits of 0.2 s after the first request


async def test_the_host_breaker_opens_after_repeated_5xx(base: str, server: _Server) -> None:
    tool = make(http_breaker=BreakerPolicy(failure_threshold=3, recovery_timeout_s=60))
    for _ in range(3):
        assert (await fetch(tool, f"{base}/503")).error["transient"] is True
    assert tool.breaker("127.0.0.1").state is BreakerState.OPEN
    rejected = await fetch(tool, f"{base}/page")
    assert not rejected.ok
    assert rejected.error["transient"] is True
    assert "circuit breaker is open" in rejected.error["message"]
    assert server.hits["/503"] == 3
    assert server.hits["/page"] == 0
    # another host has its own breaker
    other = await fetch(tool, f"http://localhost:{server.server_port}/page")
    assert other.ok, other.error


async def test_4xx_answers_do_not_open_the_breaker(base: str) -> None:
    tool = make(http_breaker=BreakerPolicy(failure_threshold=2))
    for _ in range(3):
        await fetch(tool, f"{base}/404")
    assert tool.breaker("127.0.0.1").state is BreakerState.CLOSED


def test_breakers_are_bounded_per_tool_instance() -> None:
    tool = make()
    for i in range(HttpFetch.MAX_BREAKERS + 10):
        tool.breaker(f"host{i}.example")
    assert len(tool._breakers) == HttpFetch.MAX_BREAKERS
    assert "host0.example" not in tool._breakers
