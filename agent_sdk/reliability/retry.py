"""Retry with exponential backoff and jitter, on transient errors only, honouring Retry-After.

The loop, the sleeping (asyncio or trio), the global switches and the retry instrumentation are
`stamina <https://stamina.hynek.me>`_'s; this module adds what agent-sdk needs on top:

* **what** is retried: by default only errors whose
  :attr:`~agent_sdk.errors.AgentSDKError.transient` is true
  (:class:`~agent_sdk.errors.TransientError`, :class:`~agent_sdk.errors.RateLimitError`,
  :class:`~agent_sdk.errors.CircuitOpenError`); pass ``retry_if`` to widen or narrow that;
* **how long** to wait: an error carrying ``retry_after`` (seconds, from a ``Retry-After``
  header or an open circuit breaker) is waited out instead of the exponential backoff, unless
  it asks for more than :attr:`RetryPolicy.retry_after_max_s`, in which case it is raised at
  once so the caller can reschedule;
* a **time budget** (:attr:`RetryPolicy.timeout_s`) that no wait is allowed to overrun;
* an ``on_retry(attempt, error, wait_s)`` callback for events and metrics, called *before* the
  wait, only when a retry will really happen.

Every decision is made in the backoff hook stamina calls with each failure (stamina >= 25.2
lets that hook return a float to set the wait), so stamina's own switches still apply:
``stamina.set_active(False)`` turns retries off process-wide, and under
``stamina.set_testing(True, attempts=N)`` waits are zero and at most ``min(N, attempts)``
attempts run (``on_retry`` then reports ``wait_s=0.0``).

Example::

    policy = RetryPolicy(attempts=4, initial_s=0.5, max_s=10)
    reply = await call_with_retry(provider.complete, request, policy=policy)
    # or, reusable: retrier = Retrier(policy, on_retry=record); await retrier.call(fn, request)
"""

from __future__ import annotations

import email.utils
import math
import random
import time
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Mapping
from datetime import UTC
from typing import Any, ParamSpec, TypeVar

import stamina
from pydantic import BaseModel, ConfigDict, Field, model_validator

from agent_sdk.errors import AgentSDKError
from agent_sdk.logging import get_logger

__all__ = [
    "OnRetry",
    "Retrier",
    "RetryPolicy",
    "call_with_retry",
    "call_with_retry_sync",
    "is_transient",
    "retry_after_of",
]

P = ParamSpec("P")
T = TypeVar("T")

OnRetry = Callable[[int, BaseException, float], None]
"""``on_retry(attempt, error, wait_s)``: *attempt* (1-based) failed with *error* and the next
attempt starts after *wait_s* seconds. Called before the wait; must not block. Exceptions it
raises are logged (``retry_callback_failed``) and otherwise ignored."""


def is_transient(error: BaseException) -> bool:
    """Default retry predicate: ``True`` for an :class:`AgentSDKError` whose ``transient`` is true.

    Everything else (programming errors, validation errors, cancellation) is not retried.
    Compose it to retry more, e.g.
    ``retry_if=lambda e: is_transient(e) or isinstance(e, httpx.TransportError)``.
    """
    return isinstance(error, AgentSDKError) and error.transient


def retry_after_of(error: BaseException) -> float | None:
    """Return the non-negative ``retry_after`` (seconds) an error carries, else ``None``.

    Read by attribute, so it works for :class:`~agent_sdk.errors.TransientError`,
    :class:`~agent_sdk.errors.RateLimitError`, :class:`~agent_sdk.errors.CircuitOpenError` and
    any third-party error with a numeric ``retry_after``.
    """
    value = getattr(error, "retry_after", None)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if value >= 0 else None


def parse_retry_after(
    headers: Mapping[str, str] | Any, *, now: float | None = None
) -> float | None:
    """Seconds to wait according to a response's headers, or ``None`` when it does not say.

    Reads ``retry-after-ms`` (milliseconds, sent by some APIs) first, then ``Retry-After`` in
    either of its HTTP forms: delay-seconds (``"2"``, also ``"1.5"``) or an HTTP-date
    (``"Wed, 21 Oct 2026 07:28:00 GMT"``, counted from *now*). Negative, non-finite or
    unparsable values are ignored; a date in the past means ``0.0``.

    Args:
        headers: the response headers (any mapping with case-insensitive ``get``, e.g. the
            SDK's ``httpx`` headers; a plain dict must use lower-case names).
        now: the current time as a UNIX timestamp (default: ``time.time()``).
    """
    if headers is None:
        return None
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        try:
            millis = float(raw_ms)
        except ValueError:
            millis = -1.0
        if math.isfinite(millis) and millis >= 0:
            return millis / 1000.0
    raw = headers.get("retry-after")
    if not raw:
        return None
    raw = raw.strip()
    try:
        seconds = float(raw)
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


class RetryPolicy(BaseModel):
    """How a call is retried. Embedded in TOML configuration (``extra="forbid"``: unknown keys
    are errors). All durations are seconds.

    The wait before retry *n* (1-based: the wait after the *n*-th failed attempt) is
    ``min(max_s, initial_s * multiplier ** (n - 1) + uniform(0, jitter_s))``, or, when the
    error carries ``retry_after``, ``retry_after + uniform(0, jitter_s)`` (never earlier than
    the server asked; the jitter keeps many clients told the same time from returning at once).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    attempts: int = Field(
        default=3,
        ge=1,
        le=100,
        description="Total attempts including the first; 1 disables retrying.",
    )
    initial_s: float = Field(
        default=0.5, ge=0, description="Backoff before the first retry, in seconds (before jitter)."
    )
    max_s: float = Field(
        default=30.0, gt=0, description="Upper bound of any exponential backoff wait, in seconds."
    )
    multiplier: float = Field(
        default=2.0, ge=1, description="Factor the backoff grows by after each failed attempt."
    )
    jitter_s: float = Field(
        default=1.0,
        ge=0,
        description="Maximum random seconds added to each wait (uniform in [0, jitter_s]).",
    )
    timeout_s: float | None = Field(
        default=60.0,
        gt=0,
        description=(
            "Total time budget in seconds for all attempts and waits; a retry whose wait would "
            "end after it is not made and the last error is raised. Does not cancel a running "
            "attempt. null: no budget."
        ),
    )
    retry_after_max_s: float | None = Field(
        default=60.0,
        ge=0,
        description=(
            "Longest Retry-After (seconds) that is waited out; an error asking for longer is "
            "raised at once so the caller can reschedule. null: always wait."
        ),
    )

    @model_validator(mode="after")
    def _initial_within_max(self) -> RetryPolicy:
        if self.initial_s > self.max_s:
            raise ValueError(
                f"initial_s ({self.initial_s}) must not exceed max_s ({self.max_s}); "
                "raise max_s or lower initial_s"
            )
        return self

    def backoff_s(self, attempt: int, *, rng: random.Random | None = None) -> float:
        """Exponential backoff in seconds after failed attempt *attempt* (1-based), jitter included.

        Args:
            attempt: the number of the attempt that just failed, ``>= 1``.
            rng: source of the jitter (default: the :mod:`random` module).
        """
        jitter = (rng or random).uniform(0, self.jitter_s) if self.jitter_s else 0.0
        try:
            base = self.initial_s * self.multiplier ** (max(attempt, 1) - 1)
        except OverflowError:
            return self.max_s
        return min(self.max_s, base + jitter)


class Retrier:
    """Calls functions with retries according to a :class:`RetryPolicy`. Reusable and safe to
    share between tasks and threads (each call keeps its own state).

    Args:
        policy: the policy; default ``RetryPolicy()``.
        retry_if: ``retry_if(error) -> bool``, whether *error* may be retried; default
            :func:`is_transient`. Only :class:`Exception` instances are ever retried
            (cancellation and ``KeyboardInterrupt`` propagate at once).
        on_retry: see :data:`OnRetry`.
        rng: random source for jitter (tests pass a seeded ``random.Random``).
        clock: monotonic clock in seconds for the time budget (default :func:`time.monotonic`).
    """

    def __init__(
        self,
        policy: RetryPolicy | None = None,
        *,
        retry_if: Callable[[BaseException], bool] = is_transient,
        on_retry: OnRetry | None = None,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.policy = policy or RetryPolicy()
        self.retry_if = retry_if
        self.on_retry = on_retry
        self._rng = rng
        self._clock = clock

    def __repr__(self) -> str:
        return f"Retrier({self.policy!r})"

    async def call(self, fn: Callable[P, Awaitable[T]], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Await ``fn(*args, **kwargs)``, retrying retryable failures.

        Returns:
            what *fn* returns on the first successful attempt.

        Raises:
            Exception: the last error of *fn*, unchanged, when it is not retryable, attempts
                are used up, the time budget would be overrun, or its Retry-After exceeds
                ``retry_after_max_s``.
        """
        attempts: AsyncIterable[stamina.Attempt] = stamina.retry_context(**self._stamina_kwargs())
        async for attempt in attempts:
            with attempt:
                return await fn(*args, **kwargs)
        raise AssertionError("unreachable: stamina re-raises the last error")  # pragma: no cover

    def call_sync(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Blocking variant of :meth:`call` for synchronous *fn* (sleeps with :func:`time.sleep`).

        Returns and raises as :meth:`call`.
        """
        attempts: Iterable[stamina.Attempt] = stamina.retry_context(**self._stamina_kwargs())
        for attempt in attempts:
            with attempt:
                return fn(*args, **kwargs)
        raise AssertionError("unreachable: stamina re-raises the last error")  # pragma: no cover

    def _stamina_kwargs(self) -> dict[str, Any]:
        """Arguments for :func:`stamina.retry_context`, with a fresh per-call hook."""
        policy = self.policy
        return {
            "on": self._make_hook(),
            "attempts": policy.attempts,
            # The budget is enforced by the hook (stricter than stamina's timeout, which looks
            # only at time already spent). The hook always returns the wait, so the wait_*
            # values are unused; they are passed so stamina's repr and instrumentation agree.
            "timeout": None,
            "wait_initial": policy.initial_s,
            "wait_max": policy.max_s,
            "wait_jitter": policy.jitter_s,
            "wait_exp_base": policy.multiplier,
        }

    def _make_hook(self) -> Callable[[Exception], bool | float]:
        """Return a per-call stamina backoff hook: ``False`` (raise now) or the wait in seconds."""
        policy = self.policy
        started = self._clock()
        failed = 0

        def hook(error: Exception) -> bool | float:
            nonlocal failed
            failed += 1
            if failed >= policy.attempts or not self._retryable(error):
                return False
            retry_after = retry_after_of(error)
            if retry_after is None:
                wait = policy.backoff_s(failed, rng=self._rng)
            elif policy.retry_after_max_s is not None and retry_after > policy.retry_after_max_s:
                _log_give_up("retry_after_too_long", error, retry_after, policy)
                return False
            else:
                jitter = (self._rng or random).uniform(0, policy.jitter_s) if policy.jitter_s else 0
                wait = retry_after + jitter
            if policy.timeout_s is not None and self._clock() - started + wait > policy.timeout_s:
                _log_give_up("retry_budget_exhausted", error, wait, policy)
                return False
            if self.on_retry is not None:
                self._notify(failed, error, 0.0 if stamina.is_testing() else wait)
            return float(wait)

        return hook

    def _retryable(self, error: BaseException) -> bool:
        if not isinstance(error, Exception):
            return False
        try:
            return bool(self.retry_if(error))
        except Exception:  # noqa: BLE001 - isolate a plugin/tool failure
            get_logger(__name__).exception(
                "retry_predicate_failed", error_type=type(error).__name__
            )
            return False

    def _notify(self, attempt: int, error: BaseException, wait_s: float) -> None:
        assert self.on_retry is not None
        try:
            self.on_retry(attempt, error, wait_s)
        except Exception:  # noqa: BLE001 - isolate a plugin/tool failure
            get_logger(__name__).exception("retry_callback_failed", attempt=attempt)


def _log_give_up(event: str, error: BaseException, wait_s: float, policy: RetryPolicy) -> None:
    get_logger(__name__).info(
        event,
        error_type=type(error).__name__,
        wait_s=round(wait_s, 3),
        timeout_s=policy.timeout_s,
        retry_after_max_s=policy.retry_after_max_s,
    )


async def call_with_retry(
    fn: Callable[..., Awaitable[T]],
    /,
    *args: Any,
    policy: RetryPolicy | None = None,
    on_retry: OnRetry | None = None,
    retry_if: Callable[[BaseException], bool] = is_transient,
    **kwargs: Any,
) -> T:
    """Await ``fn(*args, **kwargs)`` with retries; shorthand for
    ``Retrier(policy, on_retry=..., retry_if=...).call(fn, *args, **kwargs)``.

    ``policy``, ``on_retry`` and ``retry_if`` are taken by this function, never passed to *fn*.
    Prefer :meth:`Retrier.call` where you can: it type-checks *fn*'s arguments (this shorthand
    cannot, as a ``ParamSpec`` admits no keyword parameters of its own) and has no reserved
    names.

    Args:
        fn: the coroutine function to call.
        policy: the :class:`RetryPolicy` (default ``RetryPolicy()``).
        on_retry: see :data:`OnRetry`.
        retry_if: whether an error may be retried (default :func:`is_transient`).

    Returns and raises as :meth:`Retrier.call`.
    """
    retrier = Retrier(policy, on_retry=on_retry, retry_if=retry_if)
    return await retrier.call(fn, *args, **kwargs)


def call_with_retry_sync(
    fn: Callable[..., T],
    /,
    *args: Any,
    policy: RetryPolicy | None = None,
    on_retry: OnRetry | None = None,
    retry_if: Callable[[BaseException], bool] = is_transient,
    **kwargs: Any,
) -> T:
    """Blocking :func:`call_with_retry` for a synchronous *fn* (see :meth:`Retrier.call_sync`)."""
    retrier = Retrier(policy, on_retry=on_retry, retry_if=retry_if)
    return retrier.call_sync(fn, *args, **kwargs)
