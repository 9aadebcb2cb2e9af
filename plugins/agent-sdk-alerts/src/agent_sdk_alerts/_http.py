"""POST a JSON body with retries of transient failures (shared by ``webhook`` and ``slack``).

What is retried: connection errors, timeouts, HTTP 408, 425, 429 and 5xx (``Retry-After`` is
honoured, within the policy's ``retry_after_max_s``). What is not: every other status,
including 3xx (redirects are not followed: a signed alert goes only where it was configured to)
and 4xx. ``httpx`` is imported here, when the first alert is sent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from agent_sdk.logging import get_logger
from agent_sdk.reliability.retry import Retrier, RetryPolicy, parse_retry_after
from agent_sdk_alerts.errors import AlertDeliveryError

if TYPE_CHECKING:
    import httpx

__all__ = ["RETRIED_STATUSES", "post_json", "retry_after_seconds", "shown_url"]

RETRIED_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
"""HTTP statuses worth another attempt (plus any other 5xx)."""

USER_AGENT = "agent-sdk-alerts"


def shown_url(url: str) -> str:
    """*url* without credentials, query or fragment: what messages and logs may show."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def retry_after_seconds(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header value (delta-seconds or HTTP date), or
    ``None``; see :func:`agent_sdk.reliability.retry.parse_retry_after`."""
    return parse_retry_after({"retry-after": value} if value else None, now=now)


def _failure(what: str, response: httpx.Response) -> AlertDeliveryError:
    status = response.status_code
    detail = " ".join(response.text[:200].split())
    message = f"{what}: HTTP {status}" + (f" {detail}" if detail else "")
    if status in RETRIED_STATUSES or status >= 500:
        return AlertDeliveryError(
            message,
            transient=True,
            retry_after=retry_after_seconds(response.headers.get("retry-after")),
            status=status,
        )
    if 300 <= status < 400:
        hint = "redirects are not followed; configure the final URL"
    elif status in (401, 403):
        hint = "the receiver refused the request: check the URL and the signing secret"
    else:
        hint = "the receiver rejected the alert; not retried (check the URL and the receiver)"
    return AlertDeliveryError(message, status=status, hint=hint)


async def post_json(
    url: str,
    body: bytes,
    *,
    what: str,
    sink: str,
    policy: RetryPolicy,
    timeout_s: float,
    headers: Callable[[], Mapping[str, str]] = dict,
) -> int:
    """POST *body* (JSON) to *url*, retrying transient failures under *policy*.

    Args:
        url: where to post.
        body: the exact bytes sent (every attempt sends the same body).
        what: how messages name the target, e.g. ``"webhook POST https://host/path"``; never
            a secret.
        sink: the sink's name (log events).
        policy: the retry policy.
        timeout_s: seconds each attempt may take.
        headers: called before each attempt for extra headers (a fresh signature timestamp).

    Returns:
        The number of attempts made.

    Raises:
        AlertDeliveryError: the last failure, ``transient`` when retries ran out.
    """
    import httpx

    log = get_logger(__name__)
    attempts = 0

    def on_retry(attempt: int, error: BaseException, wait_s: float) -> None:
        log.info(
            "alert_delivery_retry",
            sink=sink,
            attempt=attempt,
            wait_s=round(wait_s, 3),
            error=str(error),
        )

    async with httpx.AsyncClient(timeout=timeout_s, follow_redirects=False) as client:

        async def attempt() -> None:
            nonlocal attempts
            attempts += 1
            request_headers = {
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
                **headers(),
            }
            try:
                response = await client.post(url, content=body, headers=request_headers)
            except httpx.TimeoutException:
                raise AlertDeliveryError(
                    f"{what}: no answer within {timeout_s:g}s", transient=True
                ) from None
            except httpx.TransportError as exc:
                raise AlertDeliveryError(
                    f"{what}: {type(exc).__name__}: {exc}", transient=True
                ) from None
            if not 200 <= response.status_code < 300:
                raise _failure(what, response)

        await Retrier(policy, on_retry=on_retry).call(attempt)
    return attempts
