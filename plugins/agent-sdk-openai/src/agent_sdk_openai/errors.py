"""Map ``openai`` SDK failures onto the agent-sdk error family.

The runtime retries :class:`~agent_sdk.errors.TransientError` (and its subclass
:class:`~agent_sdk.errors.RateLimitError`, honouring ``retry_after``) and nothing else, so the
mapping decides what is retried:

==========================================  =====================================================
failure                                     raised as
==========================================  =====================================================
HTTP 429                                    ``RateLimitError`` (``retry_after`` from the headers)
HTTP 429 ``insufficient_quota``             ``ModelProviderError`` (retrying cannot help)
HTTP 408, 409, 5xx                          ``TransientError`` (``retry_after`` when sent)
connection refused/reset, DNS, time-out     ``TransientError``
stream broken off, server error mid-stream  ``TransientError``
HTTP 401                                    ``ModelProviderError`` naming the secret reference
HTTP 400, 403, 404, 422, other 4xx          ``ModelProviderError`` with the server's message
==========================================  =====================================================

Nothing here ever puts the API key in a message: the 401 message names the *reference*
(``env:OPENAI_API_KEY``) and leaves out the server's text (OpenAI's echoes part of the key).
Errors are raised ``from None`` so that the SDK exception (whose request carries the key in
its headers) is not chained into tracebacks.

This module imports ``openai`` only inside :func:`map_openai_error`.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

from agent_sdk.errors import AgentSDKError, ModelProviderError, RateLimitError, TransientError
from agent_sdk.reliability.retry import parse_retry_after

__all__ = ["ErrorContext", "map_openai_error", "parse_retry_after"]

_MAX_SERVER_MESSAGE = 500


class ErrorContext:
    """What an error message says about *where* the call went.

    Attributes:
        provider: the component name (``"openai"``).
        model: the model asked for.
        base_url: the endpoint.
        key_ref: the API key's reference as ``env:NAME``/``keyring:...``, or ``None``.
        timeout_s: the configured time-out, seconds.
    """

    __slots__ = ("base_url", "key_ref", "model", "provider", "timeout_s")

    def __init__(
        self, provider: str, model: str, base_url: str, key_ref: str | None, timeout_s: float
    ) -> None:
        self.provider = provider
        self.model = model
        self.base_url = base_url
        self.key_ref = key_ref
        self.timeout_s = timeout_s

    @property
    def where(self) -> str:
        return f"model provider {self.provider!r} (model {self.model!r} at {self.base_url})"


def _error_fields(body: object) -> tuple[str | None, str | None, str | None]:
    """``(type, code, message)`` of an OpenAI-style error body (``{"error": {...}}`` or inner)."""
    if isinstance(body, Mapping):
        inner = body.get("error", body)
        if isinstance(inner, Mapping):
            body = inner
        elif isinstance(inner, str):  # some servers: {"error": "model not found"}
            return None, None, inner
    if not isinstance(body, Mapping):
        return None, None, body if isinstance(body, str) and body else None

    def text(key: str) -> str | None:
        value = body.get(key)
        return str(value) if value not in (None, "") else None

    return text("type"), text("code"), text("message")


def _clip(text: str) -> str:
    """Server-provided text, whitespace-collapsed, cut to a length, registered secrets masked."""
    from agent_sdk.secrets import REDACTOR

    text = REDACTOR.redact(" ".join(text.split()))
    if len(text) > _MAX_SERVER_MESSAGE:
        return text[: _MAX_SERVER_MESSAGE - 3] + "..."
    return text


def _describe(status: int | None, type_: str | None, code: str | None, message: str | None) -> str:
    parts = []
    if status is not None:
        parts.append(f"HTTP {status}")
    kinds = ", ".join(x for x in (type_, code) if x)
    if kinds:
        parts.append(f"[{kinds}]")
    head = " ".join(parts)
    if message:
        return f"{head}: {_clip(message)}" if head else _clip(message)
    return head or "no details"


def _auth_hint(ctx: ErrorContext) -> str:
    if ctx.key_ref is None:
        return (
            'no api_key is configured; set api_key = { env = "OPENAI_API_KEY" } in '
            f"[plugins.{ctx.provider}] or the [models.<name>] table"
        )
    return (
        f"check the secret reference api_key = {ctx.key_ref}: the key it holds was "
        "rejected (revoked, mistyped, or for another organization/project)"
    )


def map_status(
    status: int,
    body: object,
    headers: Mapping[str, str] | Any,
    ctx: ErrorContext,
    *,
    request_id: str | None = None,
) -> AgentSDKError:
    """Map one HTTP error response to an agent-sdk error (see the module's table)."""
    type_, code, message = _error_fields(body)
    rid = f" (request id {request_id})" if request_id else ""
    where = ctx.where
    if status == 401:
        # The server's message is left out on purpose: OpenAI's quotes part of the key.
        detail = ", ".join(x for x in (type_, code) if x)
        return ModelProviderError(
            f"{where}: authentication failed (HTTP 401{': ' + detail if detail else ''}){rid}",
            hint=_auth_hint(ctx),
        )
    text = _describe(status, type_, code, message)
    retry_after = parse_retry_after(headers)
    if status == 429:
        if code == "insufficient_quota" or type_ == "insufficient_quota":
            return ModelProviderError(
                f"{where}: quota exhausted ({text}){rid}",
                hint="retrying will not help: check the plan and billing of the account",
            )
        return RateLimitError(
            f"{where}: rate limited ({text}){rid}",
            retry_after=retry_after,
            hint="the runtime retries after retry_after seconds; lower concurrency or set "
            "[runtime.rate_limits] 'model:<name>' to stay under the limit",
        )
    if status in (408, 409) or status >= 500:
        return TransientError(
            f"{where}: server error ({text}){rid}",
            retry_after=retry_after,
            hint="a transient failure at the provider; the runtime retries it",
        )
    if status == 403:
        hint = (
            f"the key behind api_key = {ctx.key_ref} may not use model {ctx.model!r} "
            "(or the organization/project/region is not allowed)"
            if ctx.key_ref
            else f"the server refused access to model {ctx.model!r}"
        )
        return ModelProviderError(f"{where}: permission denied ({text}){rid}", hint=hint)
    if status == 404:
        return ModelProviderError(
            f"{where}: not found ({text}){rid}",
            hint=f"check the model name {ctx.model!r} and that base_url ends with the API "
            "prefix (e.g. http://localhost:11434/v1 for Ollama)",
        )
    return ModelProviderError(
        f"{where}: request rejected ({text}){rid}",
        hint="the request was invalid for this server (unsupported parameter, context too "
        "long, bad tool schema...); fix the request or the model's settings",
    )


_TRANSIENT_STREAM_TYPES = frozenset(
    {"server_error", "internal_error", "overloaded_error", "api_error", "timeout", "unavailable"}
)


def _transport_error_types() -> tuple[type[BaseException], ...]:
    """Transport errors of the HTTP libraries already loaded (``httpx2`` or, older, ``httpx``).

    Looked up in :data:`sys.modules` so nothing is imported: the SDK has loaded its own.
    """
    found: list[type[BaseException]] = []
    for module in ("httpx2", "httpx"):
        cls = getattr(sys.modules.get(module), "TransportError", None)
        if isinstance(cls, type) and issubclass(cls, BaseException):
            found.append(cls)
    return tuple(found)


def map_openai_error(exc: BaseException, ctx: ErrorContext) -> AgentSDKError | None:
    """Return the agent-sdk error for *exc*, or ``None`` if it is not an SDK/transport error.

    Args:
        exc: what the ``openai`` SDK (or its HTTP client, while a stream is read) raised.
        ctx: where the call went, for the message.
    """
    import openai

    where = ctx.where
    if isinstance(exc, openai.APIStatusError):
        return map_status(
            exc.status_code,
            exc.body,
            exc.response.headers,
            ctx,
            request_id=getattr(exc, "request_id", None),
        )
    if isinstance(exc, openai.APITimeoutError):
        return TransientError(
            f"{where}: no answer within timeout_s = {ctx.timeout_s:g} s",
            hint="the runtime retries it; raise timeout_s for long generations or slow servers",
        )
    if isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__ or exc.__context__
        reason = f"{type(cause).__name__}: {cause}" if cause else exc.message
        return TransientError(
            f"{where}: connection failed ({_clip(reason)})",
            hint=f"is the server at {ctx.base_url} running and reachable? the runtime retries",
        )
    if isinstance(exc, openai.APIResponseValidationError):
        return ModelProviderError(
            f"{where}: the server's answer does not match the chat-completions format "
            f"(HTTP {exc.status_code})",
            hint="check that base_url points at an OpenAI-compatible /v1 endpoint",
        )
    if isinstance(exc, openai.APIError):  # an error event inside a stream
        type_, code, message = _error_fields(exc.body)
        text = _describe(None, type_, code, message or exc.message)
        if (type_ or "") in _TRANSIENT_STREAM_TYPES or (code or "") in _TRANSIENT_STREAM_TYPES:
            return TransientError(
                f"{where}: the server reported an error mid-stream ({text})",
                hint="a transient failure at the provider; the runtime retries it",
            )
        return ModelProviderError(f"{where}: the server reported an error mid-stream ({text})")
    transport = _transport_error_types()
    if transport and isinstance(exc, transport):
        return TransientError(
            f"{where}: the connection failed while reading the answer "
            f"({type(exc).__name__}: {_clip(str(exc)) or 'no details'})",
            hint="the runtime retries it",
        )
    if isinstance(exc, openai.OpenAIError):
        return ModelProviderError(f"{where}: {type(exc).__name__}: {_clip(str(exc))}")
    return None
