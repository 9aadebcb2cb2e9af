"""Circuit breakers: stop calling a dependency that keeps failing, then probe it carefully.

A :class:`CircuitBreaker` guards one dependency (a model provider, a tool, a service)::

    closed ──(failure_threshold counted failures)──▶ open
    open ──(recovery_timeout_s elapsed)──▶ half_open
    half_open ──(a trial call succeeds)──▶ closed
    half_open ──(a trial call fails)──▶ open

* **closed**: calls pass; counted failures are tallied, either *consecutively* (a success
  resets the tally) or, with ``failure_window_s``, *within a sliding time window* (successes
  do not reset it, so a dependency failing half the time still trips the breaker).
* **open**: calls are rejected at once with :class:`~agent_sdk.errors.CircuitOpenError`,
  whose ``retry_after`` is the seconds left until the breaker half-opens (so
  :mod:`agent_sdk.reliability.retry` waits exactly that long).
* **half_open**: at most ``half_open_max_calls`` trial calls run at the same time; the others
  are rejected. The first trial outcome decides: success closes, counted failure re-opens.

Which errors count is a predicate (default :func:`is_counted_failure`: transient agent-sdk
errors, timeouts, connection errors). Any other :class:`Exception` means the dependency
*answered* (a 400, a validation error) and counts as a success; cancellation and other
:class:`BaseException` count as nothing.

A breaker is safe to share between asyncio tasks *and* threads: its state sits behind a
:class:`threading.Lock` that is never held across an ``await`` or while user code (the
predicate, callbacks, the guarded call) runs. Outcomes of calls admitted before the last
state change are ignored, so a slow call started while closed cannot close a breaker that
has since re-opened.

Usage::

    breaker = CircuitBreaker("model:openai", failure_threshold=5, recovery_timeout_s=30)
    reply = await breaker.call(provider.complete, request)
    async with breaker:            # or: with breaker: (synchronous code)
        reply = await provider.complete(request)
"""

from __future__ import annotations

import builtins
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from enum import StrEnum
from types import TracebackType
from typing import Any, ParamSpec, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from agent_sdk.errors import AgentSDKError, CircuitOpenError
from agent_sdk.logging import get_logger

__all__ = [
    "BreakerPolicy",
    "BreakerRegistry",
    "BreakerState",
    "CircuitBreaker",
    "StateChangeCallback",
    "is_counted_failure",
]

P = ParamSpec("P")
T = TypeVar("T")

_HALF_OPEN_BUSY_RETRY_S = 1.0
"""``retry_after`` (seconds, capped at ``recovery_timeout_s``) for calls rejected because every
half-open trial slot is taken: a trial is running and its outcome is usually known soon."""


class BreakerState(StrEnum):
    """The three states of a circuit breaker (values are what snapshots and metrics show)."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


StateChangeCallback = Callable[[str, BreakerState, BreakerState], None]
"""``on_state_change(name, old, new)``, called after each transition, outside the breaker's lock,
in the thread/task whose call caused it. Exceptions it raises are logged
(``breaker_callback_failed``), never raised. Under heavy concurrency two transitions that happen
almost together may be reported in either order."""


def is_counted_failure(error: BaseException) -> bool:
    """Default breaker predicate: does *error* say the dependency is unhealthy?

    ``True`` for an :class:`~agent_sdk.errors.AgentSDKError` with ``transient`` set (5xx,
    rate limits, an open downstream breaker), any :class:`TimeoutError` (ours subclasses the
    builtin) and :class:`ConnectionError`; ``False`` for everything else.
    """
    if isinstance(error, builtins.TimeoutError | ConnectionError):
        return True
    return isinstance(error, AgentSDKError) and error.transient


class BreakerPolicy(BaseModel):
    """Circuit breaker settings, embedded in TOML configuration (``extra="forbid"``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    failure_threshold: int = Field(
        default=5,
        ge=1,
        le=10_000,
        description="Counted failures that open the circuit (consecutive, or within the window).",
    )
    recovery_timeout_s: float = Field(
        default=30.0, gt=0, description="Seconds the circuit stays open before half-opening."
    )
    half_open_max_calls: int = Field(
        default=1,
        ge=1,
        le=1_000,
        description="Trial calls admitted at the same time while half-open; others are rejected.",
    )
    failure_window_s: float | None = Field(
        default=None,
        gt=0,
        description=(
            "If set, open when failure_threshold counted failures happen within this many "
            "seconds (successes do not reset the count); null: count consecutive failures."
        ),
    )


@dataclass(frozen=True, slots=True)
class _Ticket:
    """Admission of one call: the state generation it was admitted in, and if it is a trial."""

    generation: int
    trial: bool


_Transition = tuple[BreakerState, BreakerState]

# Tickets of `with breaker:` blocks active in the current context (task or thread), innermost
# last, as (id(breaker), ticket). Bounded by the nesting depth of `with` blocks.
_ACTIVE: ContextVar[tuple[tuple[int, _Ticket], ...]] = ContextVar(
    "agent_sdk_breaker_tickets", default=()
)


class CircuitBreaker:
    """A thread- and task-safe circuit breaker. Memory is bounded: a few counters, plus at most
    ``failure_threshold`` timestamps in window mode.

    Args:
        name: what it guards, e.g. ``"model:openai"`` or ``"tool:web_search"``; shown in
            errors, snapshots and metrics.
        failure_threshold: counted failures that open the circuit, ``>= 1``.
        recovery_timeout_s: seconds the circuit stays open before half-opening, ``> 0``.
        half_open_max_calls: trial calls admitted concurrently while half-open, ``>= 1``.
        failure_window_s: ``None`` to count consecutive failures; else seconds of the sliding
            window in which ``failure_threshold`` failures open the circuit.
        is_failure: ``is_failure(error) -> bool``, which exceptions count (default
            :func:`is_counted_failure`).
        on_state_change: see :data:`StateChangeCallback`.
        clock: monotonic clock in seconds (default :func:`time.monotonic`); tests inject one.

    Raises:
        ValueError: a threshold, timeout or window out of range.
    """

    def __init__(
        self,
        name: str,
        failure_threshold: int = 5,
        recovery_timeout_s: float = 30.0,
        half_open_max_calls: int = 1,
        *,
        failure_window_s: float | None = None,
        is_failure: Callable[[BaseException], bool] = is_counted_failure,
        on_state_change: StateChangeCallback | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError(f"failure_threshold must be >= 1, found {failure_threshold}")
        if recovery_timeout_s <= 0:
            raise ValueError(f"recovery_timeout_s must be > 0, found {recovery_timeout_s}")
        if half_open_max_calls < 1:
            raise ValueError(f"half_open_max_calls must be >= 1, found {half_open_max_calls}")
        if failure_window_s is not None and failure_window_s <= 0:
            raise ValueError(f"failure_window_s must be > 0 or None, found {failure_window_s}")
        self.name = name
        self.failure_threshold = failure_threshold
        self.recovery_timeout_s = recovery_timeout_s
        self.half_open_max_calls = half_open_max_calls
        self.failure_window_s = failure_window_s
        self.is_failure = is_failure
        self.on_state_change = on_state_change
        self._clock = clock
        self._lock = threading.Lock()
        # --- guarded by _lock ---
        self._state = BreakerState.CLOSED
        self._generation = 0
        self._consecutive = 0
        self._failure_times: deque[float] = deque(maxlen=failure_threshold)
        self._opened_at: float | None = None  # clock() when last opened
        self._opened_wall: float | None = None  # time.time() when last opened
        self._trials = 0
        self._calls = 0
        self._successes = 0
        self._failures = 0
        self._rejections = 0

    @classmethod
    def from_policy(
        cls,
        name: str,
        policy: BreakerPolicy,
        *,
        is_failure: Callable[[BaseException], bool] = is_counted_failure,
        on_state_change: StateChangeCallback | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> CircuitBreaker:
        """Build a breaker named *name* from a :class:`BreakerPolicy`; other arguments as the
        constructor's."""
        return cls(
            name,
            policy.failure_threshold,
            policy.recovery_timeout_s,
            policy.half_open_max_calls,
            failure_window_s=policy.failure_window_s,
            is_failure=is_failure,
            on_state_change=on_state_change,
            clock=clock,
        )

    def __repr__(self) -> str:
        return f"CircuitBreaker({self.name!r}, state={self._state.value})"

    # --- public state ------------------------------------------------------------------

    @property
    def state(self) -> BreakerState:
        """The current state; an open breaker whose recovery time has passed reports (and
        becomes) ``half_open``."""
        transitions: list[_Transition] = []
        with self._lock:
            self._refresh(self._clock(), transitions)
            state = self._state
        self._fire(transitions)
        return state

    def snapshot(self) -> dict[str, Any]:
        """Return the breaker's state as a JSON-serialisable dict, for ``agent-sdk status`` and
        metrics.

        Keys: ``name``; ``state`` (``"closed"``, ``"open"``, ``"half_open"``); ``failures``
        (counted failures toward the threshold now); ``failure_threshold``; ``opened_at``
        (Unix time in seconds the circuit last opened, or ``None`` if closed);
        ``retry_after`` (seconds until calls are admitted again, ``0.0`` unless open);
        ``half_open_in_flight`` (running trial calls); ``calls``, ``successes``,
        ``failures_total``, ``rejections`` (totals since creation).
        """
        transitions: list[_Transition] = []
        with self._lock:
            now = self._clock()
            self._refresh(now, transitions)
            snap: dict[str, Any] = {
                "name": self.name,
                "state": self._state.value,
                "failures": self._failure_count(now),
                "failure_threshold": self.failure_threshold,
                "opened_at": self._opened_wall if self._state is not BreakerState.CLOSED else None,
                "retry_after": self._remaining_open(now),
                "half_open_in_flight": self._trials,
                "calls": self._calls,
                "successes": self._successes,
                "failures_total": self._failures,
                "rejections": self._rejections,
            }
        self._fire(transitions)
        return snap

    def reset(self) -> None:
        """Force the breaker closed and clear its failure count (an operator's override).
        Calls already running are not counted when they finish."""
        transitions: list[_Transition] = []
        with self._lock:
            if self._state is not BreakerState.CLOSED:
                self._set_state(BreakerState.CLOSED, self._clock(), transitions)
            else:
                self._generation += 1
                self._clear_failures()
        self._fire(transitions)

    # --- guarding calls --------------------------------------------------------------

    async def call(self, fn: Callable[P, Awaitable[T]], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Await ``fn(*args, **kwargs)`` through the breaker.

        Returns:
            what *fn* returns.

        Raises:
            CircuitOpenError: the breaker is open (or half-open with every trial slot taken);
                *fn* is not called. ``retry_after`` says when to try again, in seconds.
            Exception: whatever *fn* raises, unchanged, after recording it.
        """
        ticket = self._admit()
        try:
            result = await fn(*args, **kwargs)
        except BaseException as error:
            self._record(ticket, error)
            raise
        self._record(ticket, None)
        return result

    def call_sync(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Call a synchronous ``fn(*args, **kwargs)`` through the breaker; returns and raises as
        :meth:`call`."""
        ticket = self._admit()
        try:
            result = fn(*args, **kwargs)
        except BaseException as error:
            self._record(ticket, error)
            raise
        self._record(ticket, None)
        return result

    def __enter__(self) -> CircuitBreaker:
        """Admit the block's call or raise :class:`~agent_sdk.errors.CircuitOpenError`."""
        ticket = self._admit()
        _ACTIVE.set((*_ACTIVE.get(), (id(self), ticket)))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Record the block's outcome; never suppresses its exception."""
        active = _ACTIVE.get()
        for index in range(len(active) - 1, -1, -1):
            if active[index][0] == id(self):
                ticket = active[index][1]
                _ACTIVE.set(active[:index] + active[index + 1 :])
                break
        else:  # pragma: no cover - only if __exit__ runs in another context than __enter__
            get_logger(__name__).warning("breaker_exit_without_enter", breaker=self.name)
            return
        self._record(ticket, exc)

    async def __aenter__(self) -> CircuitBreaker:
        """As ``__enter__`` (admission never awaits)."""
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """As ``__exit__``."""
        self.__exit__(exc_type, exc, tb)

    # --- state machine (call only with _lock held, except _admit/_record/_fire) ---------

    def _admit(self) -> _Ticket:
        transitions: list[_Transition] = []
        rejected_for: float | None = None
        with self._lock:
            now = self._clock()
            self._refresh(now, transitions)
            if self._state is BreakerState.CLOSED:
                ticket = _Ticket(self._generation, trial=False)
            elif self._state is BreakerState.HALF_OPEN and self._trials < self.half_open_max_calls:
                self._trials += 1
                ticket = _Ticket(self._generation, trial=True)
            else:
                self._rejections += 1
                rejected_for = self._remaining_open(now)
                if self._state is BreakerState.HALF_OPEN:
                    rejected_for = min(_HALF_OPEN_BUSY_RETRY_S, self.recovery_timeout_s)
            if rejected_for is None:
                self._calls += 1
        self._fire(transitions)
        if rejected_for is not None:
            raise CircuitOpenError(self.name, retry_after=rejected_for)
        return ticket

    def _classify(self, error: BaseException | None) -> bool | None:
        """``True`` success, ``False`` counted failure, ``None`` neither. Runs without the lock."""
        if error is None:
            return True
        if not isinstance(error, Exception):
            return None  # cancelled, interrupted: says nothing about the dependency
        try:
            counted = bool(self.is_failure(error))
        except Exception:  # noqa: BLE001 - isolate a plugin/tool failure
            get_logger(__name__).exception("breaker_predicate_failed", breaker=self.name)
            counted = True
        return not counted

    def _record(self, ticket: _Ticket, error: BaseException | None) -> None:
        outcome = self._classify(error)
        transitions: list[_Transition] = []
        with self._lock:
            now = self._clock()
            if outcome is True:
                self._successes += 1
            elif outcome is False:
                self._failures += 1
            if ticket.generation != self._generation:
                return  # admitted before the last transition: stale, ignore
            if ticket.trial:
                self._trials -= 1
            if self._state is BreakerState.CLOSED:
                if outcome is True and self.failure_window_s is None:
                    self._consecutive = 0
                elif outcome is False:
                    self._add_failure(now)
                    if self._failure_count(now) >= self.failure_threshold:
                        self._set_state(BreakerState.OPEN, now, transitions)
            elif self._state is BreakerState.HALF_OPEN:
                if outcome is True:
                    self._set_state(BreakerState.CLOSED, now, transitions)
                elif outcome is False:
                    self._set_state(BreakerState.OPEN, now, transitions)
        self._fire(transitions)

    def _refresh(self, now: float, transitions: list[_Transition]) -> None:
        if (
            self._state is BreakerState.OPEN
            and self._opened_at is not None
            and now - self._opened_at >= self.recovery_timeout_s
        ):
            self._set_state(BreakerState.HALF_OPEN, now, transitions)

    def _set_state(self, new: BreakerState, now: float, transitions: list[_Transition]) -> None:
        old = self._state
        self._state = new
        self._generation += 1
        self._trials = 0
        if new is BreakerState.OPEN:
            self._opened_at = now
            self._opened_wall = time.time()
        elif new is BreakerState.CLOSED:
            self._opened_at = None
            self._opened_wall = None
            self._clear_failures()
        transitions.append((old, new))

    def _add_failure(self, now: float) -> None:
        if self.failure_window_s is None:
            self._consecutive += 1
        else:
            self._failure_times.append(now)

    def _failure_count(self, now: float) -> int:
        if self.failure_window_s is None:
            return self._consecutive
        horizon = now - self.failure_window_s
        return sum(1 for t in self._failure_times if t >= horizon)

    def _clear_failures(self) -> None:
        self._consecutive = 0
        self._failure_times.clear()

    def _remaining_open(self, now: float) -> float:
        if self._state is not BreakerState.OPEN or self._opened_at is None:
            return 0.0
        return max(0.0, self._opened_at + self.recovery_timeout_s - now)

    def _fire(self, transitions: list[_Transition]) -> None:
        """Log and report transitions; called *without* the lock held."""
        for old, new in transitions:
            log = get_logger(__name__)
            level = log.warning if new is BreakerState.OPEN else log.info
            level("breaker_state_changed", breaker=self.name, old=old.value, new=new.value)
            if self.on_state_change is None:
                continue
            try:
                self.on_state_change(self.name, old, new)
            except Exception:  # alerting must never break the guarded call
                log.exception("breaker_callback_failed", breaker=self.name, new=new.value)


class BreakerRegistry:
    """Get-or-create circuit breakers by name, sharing one configuration. Thread-safe.

    Breaker names are finite (one per model provider, tool, service), so the registry refuses
    to grow past ``max_breakers`` rather than evict a breaker and forget that it is open; a
    name built from request data is a bug this catches.

    Args:
        policy: settings for every breaker (default ``BreakerPolicy()``).
        overrides: per-name policies that replace *policy* for those names.
        is_failure: the failure predicate given to every breaker.
        on_state_change: the callback given to every breaker (alerting subscribes here).
        clock: monotonic clock in seconds given to every breaker.
        max_breakers: bound on the number of breakers, ``>= 1``.
    """

    def __init__(
        self,
        policy: BreakerPolicy | None = None,
        *,
        overrides: Mapping[str, BreakerPolicy] | None = None,
        is_failure: Callable[[BaseException], bool] = is_counted_failure,
        on_state_change: StateChangeCallback | None = None,
        clock: Callable[[], float] = time.monotonic,
        max_breakers: int = 1024,
    ) -> None:
        if max_breakers < 1:
            raise ValueError(f"max_breakers must be >= 1, found {max_breakers}")
        self.policy = policy or BreakerPolicy()
        self.overrides = dict(overrides or {})
        self.is_failure = is_failure
        self.on_state_change = on_state_change
        self.max_breakers = max_breakers
        self._clock = clock
        self._lock = threading.Lock()
        self._breakers: dict[str, CircuitBreaker] = {}

    def get(self, name: str) -> CircuitBreaker:
        """Return the breaker named *name*, creating it on first use.

        Raises:
            AgentSDKError: creating it would exceed ``max_breakers``.
        """
        with self._lock:
            breaker = self._breakers.get(name)
            if breaker is not None:
                return breaker
            if len(self._breakers) >= self.max_breakers:
                raise AgentSDKError(
                    f"circuit breaker registry is full ({self.max_breakers} breakers); "
                    f"cannot create {name!r}",
                    hint="breaker names should be per provider/tool/service, not per request; "
                    "or raise max_breakers",
                )
            breaker = CircuitBreaker.from_policy(
                name,
                self.overrides.get(name, self.policy),
                is_failure=self.is_failure,
                on_state_change=self.on_state_change,
                clock=self._clock,
            )
            self._breakers[name] = breaker
            return breaker

    def __contains__(self, name: object) -> bool:
        with self._lock:
            return name in self._breakers

    def __len__(self) -> int:
        with self._lock:
            return len(self._breakers)

    def names(self) -> list[str]:
        """Names of the breakers created so far, sorted."""
        with self._lock:
            return sorted(self._breakers)

    def snapshots(self) -> list[dict[str, Any]]:
        """:meth:`CircuitBreaker.snapshot` of every breaker, sorted by name."""
        with self._lock:
            breakers = [self._breakers[name] for name in sorted(self._breakers)]
        return [breaker.snapshot() for breaker in breakers]
