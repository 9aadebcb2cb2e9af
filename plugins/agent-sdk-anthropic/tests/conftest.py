"""A local Anthropic Messages API server for the tests (standard library only).

It speaks the documented wire format on ``POST /v1/messages``: JSON ``message`` objects,
``text/event-stream`` answers (``event: <type>`` + ``data: {...}`` frames: ``message_start``,
``content_block_start``, ``content_block_delta`` with ``text_delta`` / ``input_json_delta``,
``content_block_stop``, ``message_delta``, ``message_stop``, plus ``ping`` and ``error``), sent
with chunked transfer encoding, and error answers with the documented body
``{"type": "error", "error": {"type", "message"}}``. Each test scripts the answers in order;
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

MESSAGES_PATH = "/v1/messages"


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


def message(
    content: list[dict[str, Any]],
    *,
    stop_reason: str = "end_turn",
    model: str = "claude-test",
    usage: tuple[int, int] = (11, 3),
) -> dict[str, Any]:
    """A ``message`` object as the API documents it."""
    return {
        "id": "msg_test",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {"input_tokens": usage[0], "output_tokens": usage[1]},
    }


def text_block(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def tool_use_block(id_: str, name: str, input_: dict[str, Any]) -> dict[str, Any]:
    return {"type": "tool_use", "id": id_, "name": name, "input": input_}


def event(type_: str, **data: Any) -> tuple[str, dict[str, Any]]:
    """One SSE event: ``(event name, data)``; the data repeats the type, as the API does."""
    return type_, {"type": type_, **data}


def stream_events(
    blocks: list[dict[str, Any]],
    *,
    stop_reason: str = "end_turn",
    model: str = "claude-test",
    usage: tuple[int, int] = (25, 12),
    split: int = 4,
) -> list[tuple[str, dict[str, Any]]]:
    """The event sequence of a streamed message with *blocks*, text and JSON cut into pieces.

    A ``text`` block streams as ``text_delta`` events of *split* characters; a ``tool_use``
    block starts with ``input: {}`` and streams its JSON as ``input_json_delta`` fragments.
    A ``tool_use`` block may carry ``raw_json`` (str) to stream instead of ``input``.
    """
    events = [
        event(
            "message_start",
            message={
                "id": "msg_test",
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {"input_tokens": usage[0], "output_tokens": 1},
            },
        ),
        event("ping"),
    ]
    for index, block in enumerate(blocks):
        if block["type"] == "text":
            events.append(
                event(
                    "content_block_start", index=index, content_block={"type": "text", "text": ""}
                )
            )
            text = block["text"]
            for start in range(0, len(text), split):
                events.append(
                    event(
                        "content_block_delta",
                        index=index,
                        delta={"type": "text_delta", "text": text[start : start + split]},
                    )
                )
        else:
            events.append(
                event(
                    "content_block_start",
                    index=index,
                    content_block={
                        "type": "tool_use",
                        "id": block["id"],
                        "name": block["name"],
                        "input": {},
                    },
                )
            )
            raw = block.get("raw_json", json.dumps(block.get("input", {})))
            for start in range(0, len(raw), split):
                events.append(
                    event(
                        "content_block_delta",
                        index=index,
                        delta={
                            "type": "input_json_delta",
                            "partial_json": raw[start : start + split],
                        },
                    )
                )
        events.append(event("content_block_stop", index=index))
    events.append(
        event(
            "message_delta",
            delta={"stop_reason": stop_reason, "stop_sequence": None},
            usage={"output_tokens": usage[1]},
        )
    )
    events.append(event("message_stop"))
    return events


class FakeAnthropicServer:
    """The server's state: the scripted replies and the recorded requests."""

    message = staticmethod(message)
    text_block = staticmethod(text_block)
    tool_use_block = staticmethod(tool_use_block)
    event = staticmethod(event)
    stream_events = staticmethod(stream_events)

    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        self.requests: list[Recorded] = []
        self.lock = threading.Lock()
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # --- scripting -----------------------------------------------------------------------

    def reply(self, body: Any, status: int = 200, headers: dict[str, str] | None = None) -> None:
        self.replies.append(Reply(status=status, json_body=body, headers=headers or {}))

    def reply_text(
        self, text: str, *, model: str = "claude-test", usage: tuple[int, int] = (11, 3)
    ) -> None:
        self.reply(message([text_block(text)], model=model, usage=usage))

    def reply_sse(
        self, events: list[tuple[str, dict[str, Any]]], *, drop_after: int | None = None
    ) -> None:
        frames = [f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events]
        self.replies.append(Reply(sse=frames, drop_after=drop_after))

    def reply_error(
        self, status: int, type_: str, message_: str, headers: dict[str, str] | None = None
    ) -> None:
        body = {
            "type": "error",
            "error": {"type": type_, "message": message_},
            "request_id": "req_test123",
        }
        self.reply(body, status=status, headers=headers)

    def next_reply(self) -> Reply:
        with self.lock:
            if self.replies:
                return self.replies.popleft()
        return Reply(
            status=500,
            json_body={
                "type": "error",
                "error": {"type": "api_error", "message": "the test scripted no reply"},
            },
        )


def _handler(server: FakeAnthropicServer) -> type[BaseHTTPRequestHandler]:
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
                        "POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body
                    )
                )
            if self.path != MESSAGES_PATH:
                self._send_json(
                    404,
                    {
                        "type": "error",
                        "error": {"type": "not_found_error", "message": f"Not found: {self.path}"},
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
            self.send_header("request-id", "req_test123")
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def _send_sse(self, reply: Reply) -> None:
            self.send_response(reply.status)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("request-id", "req_test123")
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
def server() -> Iterator[FakeAnthropicServer]:
    """A running fake server on 127.0.0.1 (ephemeral port), stopped after the test."""
    state = FakeAnthropicServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    state.port = httpd.server_address[1]
    thread = threading.Thread(
        target=httpd.serve_forever, args=(0.02,), name="fake-anthropic", daemon=True
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
