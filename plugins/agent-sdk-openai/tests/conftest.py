"""A local OpenAI-compatible HTTP server for the tests (standard library only).

It speaks the documented chat-completions wire format on ``POST /v1/chat/completions``: JSON
answers, ``text/event-stream`` answers (``data: {...}`` chunks, then ``data: [DONE]``, sent
with chunked transfer encoding like the real API) and error answers with the documented body
``{"error": {"message", "type", "param", "code"}}``. Each test scripts the answers in order;
the server records every request (path, headers, JSON body) so tests assert what was sent.
"""

from __future__ import annotations

import json
import socket
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

CHAT_PATH = "/v1/chat/completions"


@dataclass
class Recorded:
    """One request the server received."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class Reply:
    """One scripted answer: a JSON body, or SSE frames, with a status and headers."""

    status: int = 200
    json_body: Any = None
    sse: list[str] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    drop_after: int | None = None  # close the connection after this many SSE frames


def completion(
    *,
    content: str | None = None,
    tool_calls: list[dict[str, Any]] | None = None,
    finish_reason: str | None = None,
    model: str = "gpt-test",
    usage: tuple[int, int] = (11, 3),
) -> dict[str, Any]:
    """A ``chat.completion`` object as the API documents it."""
    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": model,
        "system_fingerprint": "fp_test",
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": finish_reason or ("tool_calls" if tool_calls else "stop"),
            }
        ],
        "usage": {
            "prompt_tokens": usage[0],
            "completion_tokens": usage[1],
            "total_tokens": usage[0] + usage[1],
        },
    }


def chunk(
    delta: dict[str, Any] | None = None,
    *,
    finish_reason: str | None = None,
    model: str = "gpt-test",
    usage: tuple[int, int] | None = None,
    choices: bool = True,
) -> dict[str, Any]:
    """A ``chat.completion.chunk`` object as the API documents it."""
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": model,
        "system_fingerprint": "fp_test",
        "choices": [
            {"index": 0, "delta": delta or {}, "logprobs": None, "finish_reason": finish_reason}
        ]
        if choices
        else [],
        "usage": None
        if usage is None
        else {"prompt_tokens": usage[0], "completion_tokens": usage[1], "total_tokens": sum(usage)},
    }


class FakeOpenAIServer:
    """The server's state: the scripted replies and the recorded requests."""

    completion = staticmethod(completion)
    chunk = staticmethod(chunk)

    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        self.requests: list[Recorded] = []
        self.lock = threading.Lock()
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    # --- scripting -----------------------------------------------------------------------

    def reply(self, body: Any, status: int = 200, headers: dict[str, str] | None = None) -> None:
        self.replies.append(Reply(status=status, json_body=body, headers=headers or {}))

    def reply_sse(
        self, chunks: list[Any], *, done: bool = True, drop_after: int | None = None
    ) -> None:
        frames = [f"data: {json.dumps(chunk)}\n\n" for chunk in chunks]
        if done:
            frames.append("data: [DONE]\n\n")
        self.replies.append(Reply(sse=frames, drop_after=drop_after))

    def reply_error(
        self,
        status: int,
        message: str,
        type_: str,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        body = {"error": {"message": message, "type": type_, "param": None, "code": code}}
        self.reply(body, status=status, headers=headers)

    def reply_text(
        self, content: str, *, model: str = "gpt-test", usage: tuple[int, int] = (11, 3)
    ) -> None:
        self.reply(completion(content=content, model=model, usage=usage))

    # --- serving -------------------------------------------------------------------------

    def next_reply(self) -> Reply:
        with self.lock:
            if self.replies:
                return self.replies.popleft()
        return Reply(
            status=500,
            json_body={
                "error": {
                    "message": "the test scripted no reply for this request",
                    "type": "server_error",
                    "param": None,
                    "code": None,
                }
            },
        )


def _handler(server: FakeOpenAIServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode("utf-8", "replace")
            with server.lock:
                server.requests.append(
                    Recorded(
                        "POST",
                        self.path,
                        {k.lower(): v for k, v in self.headers.items()},
                        body,
                    )
                )
            if self.path != CHAT_PATH:
                self._send_json(
                    404,
                    {
                        "error": {
                            "message": f"Unknown request URL: POST {self.path}",
                            "type": "invalid_request_error",
                            "param": None,
                            "code": "unknown_url",
                        }
                    },
                    {},
                )
                return
            reply = server.next_reply()
            if reply.sse is not None:
                self._send_sse(reply)
            else:
                self._send_json(reply.status, reply.json_body, reply.headers)

        def _send_json(self, status: int, body: Any, headers: dict[str, str]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("x-request-id", "req_test123")
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def _send_sse(self, reply: Reply) -> None:
            self.send_response(reply.status)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for number, frame in enumerate(reply.sse or []):
                if reply.drop_after is not None and number >= reply.drop_after:
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                data = frame.encode()
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

    return Handler


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    """A running fake server on 127.0.0.1 (ephemeral port), stopped after the test."""
    state = FakeOpenAIServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    state.port = httpd.server_address[1]
    thread = threading.Thread(
        target=httpd.serve_forever, args=(0.02,), name="fake-openai", daemon=True
    )
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


@pytest.fixture
def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
