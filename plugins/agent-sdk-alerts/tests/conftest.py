"""Real local servers for the alert sinks' tests: an HTTP receiver (stdlib ``http.server``) and
SMTP servers (``aiosmtpd``, with STARTTLS on a certificate made by ``trustme``), plus a
structlog capture. Everything listens on 127.0.0.1 and is torn down after each test."""

from __future__ import annotations

import io
import json
import logging
import socket
import ssl
import threading
from collections import deque
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import structlog

from agent_sdk.kinds.alerts import Alert
from agent_sdk.secrets import REDACTOR


class Received:
    """One request the receiver got."""

    def __init__(self, path: str, headers: dict[str, str], body: bytes) -> None:
        self.path = path
        self.headers = headers
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """An HTTP server answering POSTs with scripted statuses (200 once the script is used up)."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.statuses: deque[tuple[int, dict[str, str]]] = deque()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                receiver.requests.append(
                    Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
                status, headers = receiver.statuses.popleft() if receiver.statuses else (200, {})
                reply = b"ok" if status < 300 else f"status {status}".encode()
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def script(self, *statuses: int | tuple[int, dict[str, str]]) -> None:
        """Answer the next requests with these statuses (optionally with headers)."""
        for item in statuses:
            self.statuses.append(item if isinstance(item, tuple) else (item, {}))


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A running :class:`Receiver` on 127.0.0.1 (random port)."""
    server = Receiver()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture
def alert() -> Alert:
    """A ``run_failed`` alert."""
    return Alert(
        rule="run_failed",
        severity="error",
        title="run run_1 of workflow 'nightly' failed",
        message="task 'fetch' failed: HTTP 500 from <api> & co",
        run_id="run_1",
        task_id="fetch",
        labels={"workflow": "nightly"},
        dedup_key="run_1",
        created_at=1_700_000_000.0,
    )


@pytest.fixture(autouse=True)
def clean_redactor() -> Iterator[None]:
    """Secrets resolved by one test are not masked in the next."""
    REDACTOR.clear()
    yield
    REDACTOR.clear()


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    """structlog configured to write JSON lines (debug and up) into the returned buffer."""
    from agent_sdk.logging import configure_logging

    structlog.reset_defaults()
    out = io.StringIO()
    configure_logging("json", "debug", stream=out)
    yield out
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()
    logging.captureWarnings(False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def unused_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on (at the time of the call)."""
    return free_port()


class Inbox:
    """aiosmtpd handler keeping every message, and what the authenticator saw."""

    def __init__(self, login: str = "", password: str = "") -> None:
        self.envelopes: list[Any] = []
        self.auth: list[tuple[str, str, bool]] = []  # (mechanism, login, over TLS)
        self._login = login
        self._password = password

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> Any:
        from aiosmtpd.smtp import AuthResult

        login = data.login.decode()
        ok = login == self._login and data.password.decode() == self._password
        self.auth.append((mechanism, login, session.ssl is not None))
        return AuthResult(success=ok, handled=False)

    def message(self, index: int = 0) -> Any:
        from email import message_from_bytes, policy

        return message_from_bytes(self.envelopes[index].original_content, policy=policy.default)


class SmtpServer:
    """A running aiosmtpd server: ``host``, ``port``, ``inbox``, ``ca_file`` (TLS only)."""

    def __init__(self, inbox: Inbox, port: int, ca_file: Path | None) -> None:
        self.host = "127.0.0.1"
        self.port = port
        self.inbox = inbox
        self.ca_file = ca_file


@pytest.fixture
def smtp_factory(tmp_path: Path) -> Iterator[Callable[..., SmtpServer]]:
    """``smtp_factory(starttls=False, login="", password="", exclude=()) -> SmtpServer``.

    With *starttls*, the server offers STARTTLS on a certificate for 127.0.0.1 issued by a
    fresh test CA (its PEM is ``ca_file``), requires it, and accepts AUTH only over TLS with
    *login*/*password*; *exclude* removes AUTH mechanisms (``"LOGIN"``, ``"PLAIN"``).
    """
    from aiosmtpd.controller import Controller

    controllers: list[Any] = []

    def make(
        *,
        starttls: bool = False,
        login: str = "",
        password: str = "",
        exclude: tuple[str, ...] = (),
    ) -> SmtpServer:
        inbox = Inbox(login, password)
        kwargs: dict[str, Any] = {}
        ca_file = None
        if starttls:
            import trustme

            ca = trustme.CA()
            cert = ca.issue_cert("127.0.0.1", "localhost")
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            cert.configure_cert(context)
            ca_file = tmp_path / f"ca-{len(controllers)}.pem"
            ca.cert_pem.write_to_path(str(ca_file))
            kwargs.update(tls_context=context, require_starttls=True, auth_require_tls=True)
        if login:
            kwargs.update(authenticator=inbox.authenticate, auth_exclude_mechanism=list(exclude))
        port = free_port()
        controller = Controller(inbox, hostname="127.0.0.1", port=port, **kwargs)
        controller.start()
        controllers.append(controller)
        return SmtpServer(inbox, port, ca_file)

    yield make
    for controller in controllers:
        controller.stop()
