"""Map ``anthropic`` SDK failures onto the agent-sdk error family.

The runtime retries :class:`~agent_sdk.errors.TransientError` (and its subclass
:class:`~agent_sdk.errors.RateLimitError`, honouring ``retry_after``) and nothing else, so the
mapping decides what is retried:

===============================================  ================================================
failure                                          raised as
===============================================  ================================================
HTTP 429 ``rate_limit_error``                    ``RateLimitError`` (``retry_after`` from headers)
HTTP 529 ``overloaded_error``, 500 ``api_error``  ``TransientError`` (``retry_after`` when sent)
HTTP 408, 409, other 5xx                         ``TransientError``
connection refused/reset, DNS, time-out          ``TransientError``
stream broken off                                ``TransientError``
``error`` event mid-stream                       by its type: ``rate_limit_error`` →
                                                 ``RateLimitError``; ``overloaded_error``,
                                                 ``api_error`` → ``TransientError``; else
                                                 ``ModelProviderError``
HTTP 401 ``authentication_error``                ``ModelProviderError`` naming the secret reference
HTTP 400, 402, 403, 404, 413, other 4xx          ``ModelProviderError`` with the server's message
===============================================  ================================================

Nothing here ever puts the API key in a message: the 401 message names the *reference*
(``env:ANTHROPIC_API_KEY``) and leaves out the server's text; other server text is passed
through the redactor. Errors are raised ``from None`` so that the SDK exception (whose request
carries the key in its headers) is not chained into tracebacks.

This module imports ``anthropic`` only inside :func:`map_anthropic_error`.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

from agent_sdk.errors import AgentSDKError, ModelProviderError, RateLimitError, TransientError
from agent_sdk.reliability.retry import parse_retry_after

__all__ = ["ErrorContext", "map_anthropic_error", "map_status", "parse_retry_after"]

_MAX_SERVER_MESSAGE = 500


class ErrorContext:
    """What an error message says about *where* the call went.

    Attributes:
        provider: the component name (``"anthropic"``).
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


def _error_fields(body: object) -> tuple[str | None, str | None]:
    """``(type, message)`` of an Anthropic error body ``{"type": "error", "error": {...}}``."""
    if isinstance(body, Mapping):
        inner = body.get("error", body)
        if isinstance(inner, Mapping):
            body = inner
        elif isinstance(inner, str):
            return None, inner
    if not isinstance(body, Mapping):
        return None, body if isinstance(body, str) and body else None
    type_ = body.get("type")
    message = body.get("message")
    return (
        str(type_) if type_ not in (None, "", "error") else None,
        str(message) if message not in (None, "") else None,
    )


def _clip(text: str) -> str:
    """Server-provided text, whitespace-collapsed, cut to a length, registered secrets masked."""
    from agent_sdk.secrets import REDACTOR

    text = REDACTOR.redact(" ".join(text.split()))
    if len(text) > _MAX_SERVER_MESSAGE:
        return text[: _MAX_SERVER_MESSAGE - 3] + "..."
    return text


def _describe(status: int | None, type_: str | None, message: str | None) -> str:
    head = " ".join(
        x for x in (f"HTTP {status}" if status else None, f"[{type_}]" if type_ else None) if x
    )
    if message:
        return f"{head}: {_clip(message)}" if head else _clip(message)
    return head or "no details"


def _auth_hint(ctx: ErrorContext) -> str:
    if ctx.key_ref is None:
        return (
            'no api_key is configured; set api_key = { env = "ANTHROPIC_API_KEY" } in '
            f"[plugins.{ctx.provider}] or the [models.<name>] table"
        )
    return (
        f"check the secret reference api_key = {ctx.key_ref}: the key it holds was "
        "rejected (revoked, mistyped, or of another workspace)"
    )


_RETRY_HINT = "a transient failure at the provider; the runtime retries it"
_RATE_HINT = (
    "the runtime retries after retry_after seconds; lower concurrency or set "
    "[runtime.rate_limits] 'model:<name>' to stay under the limit"
)


def map_status(
    status: int,
    body: object,
    headers: Mapping[str, str] | Any,
    ctx: ErrorContext,
    *,
    request_id: str | None = None,
) -> AgentSDKError:
    """Map one error response (or a streamed ``error`` event: *status* < 400) to an error."""
    type_, message = _error_fields(body)
    rid = f" (request id {request_id})" if request_id else ""
    where = ctx.where
    if status == 401 or type_ == "authentication_error":
        return ModelProviderError(
            f"{where}: authentication failed (HTTP {status}{': ' + type_ if type_ else ''}){rid}",
            hint=_auth_hint(ctx),
        )
    retry_after = parse_retry_after(headers)
    if status < 400:  # an error event inside a 200 stream: only the type says what it is
        text = _describe(None, type_, message)
        if type_ == "rate_limit_error":
            return RateLimitError(
                f"{where}: rate limited mid-stream ({text}){rid}",
                retry_after=retry_after,
                hint=_RATE_HINT,
            )
        if type_ in ("overloaded_error", "api_error", "timeout_error"):
            return TransientError(
                f"{where}: the server reported an error mid-stream ({text}){rid}",
                hint=_RETRY_HINT,
            )
        return ModelProviderError(f"{where}: the server reported an error mid-stream ({text}){rid}")
    text = _describe(status, type_, message)
    if status == 429:
        return RateLimitError(
            f"{where}: rate limited ({text}){rid}", retry_after=retry_after, hint=_RATE_HINT
        )
    if status in (408, 409) or status >= 500:
        label = "overloaded" if status == 529 or type_ == "overloaded_error" else "server error"
        return TransientError(
            f"{where}: {label} ({text}){rid}", retry_after=retry_after, hint=_RETRY_HINT
        )
    if status == 402 or type_ == "billing_error":
        return ModelProviderError(
            f"{where}: billing problem ({text}){rid}",
            hint="retrying will not help: check the plan and billing of the account",
        )
    if status == 403:
        hint = (
            f"the key behind api_key = {ctx.key_ref} may not use model {ctx.model!r}"
            if ctx.key_ref
            else f"the server refused access to model {ctx.model!r}"
        )
        return ModelProviderError(f"{where}: permission denied ({text}){rid}", hint=hint)
    if status == 404:
        return ModelProviderError(
            f"{where}: not found ({text}){rid}",
            hint=f"check the model name {ctx.model!r} and that base_url is the server's root "
            "(the SDK appends /v1/messages)",
        )
    if status == 413:
        return ModelProviderError(
            f"{where}: request too large ({text}){rid}",
            hint="shorten the conversation or the tool results",
        )
    return ModelProviderError(
        f"{where}: request rejected ({text}){rid}",
        hint="the request was invalid for this server (unsupported parameter, context too "
        "long, bad tool schema...); fix the request or the model's settings",
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


def map_anthropic_error(exc: BaseException, ctx: ErrorContext) -> AgentSDKError | None:
    """Return the agent-sdk error for *exc*, or ``None`` if it is not an SDK/transport error.

    Args:
        exc: what the ``anthropic`` SDK (or its HTTP client, while a stream is read) raised.
        ctx: where the call went, for the message.
    """
    import anthropic

    where = ctx.where
    if isinstance(exc, anthropic.APIStatusError):
        headers = exc.response.headers
        return map_status(
            exc.status_code,
            exc.body,
            headers,
            ctx,
            request_id=getattr(exc, "request_id", None) or headers.get("request-id"),
        )
    if isinstance(exc, anthropic.APITimeoutError):
        return TransientError(
            f"{where}: no answer within timeout_s = {ctx.timeout_s:g} s",
            hint="the runtime retries it; raise timeout_s for long generations",
        )
    if isinstance(exc, anthropic.APIConnectionError):
        cause = exc.__cause__ or exc.__context__
        reason = f"{type(cause).__name__}: {cause}" if cause else exc.message
        return TransientError(
            f"{where}: connection failed ({_clip(reason)})",
            hint=f"is {ctx.base_url} reachable? the runtime retries",
        )
    if isinstance(exc, anthropic.APIResponseValidationError):
        return ModelProviderError(
            f"{where}: the server's answer does not match the Messages API format "
            f"(HTTP {exc.status_code})",
            hint="check that base_url points at an Anthropic Messages API server",
        )
    transport = _transport_error_types()
    if transport and isinstance(exc, transport):
        return TransientError(
            f"{where}: the connection failed while reading the answer "
            f"({type(exc).__name__}: {_clip(str(exc)) or 'no details'})",
            hint="the runtime retries it",
        )
    if isinstance(exc, anthropic.AnthropicError):
        return ModelProviderError(f"{where}: {type(exc).__name__}: {_clip(str(exc))}")
    return None
