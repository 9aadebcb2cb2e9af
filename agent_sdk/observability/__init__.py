"""Observability builtins: OpenTelemetry tracing and Prometheus metrics, built from the hooks.

Two builtin plugins live here, each a class instantiated once per plugin manager (so once per
application; see ``BUILTIN_PLUGINS`` in :mod:`agent_sdk.plugins`, whose ``"module:factory"``
form exists for them):

* ``tracing`` (:class:`~agent_sdk.observability.tracing.TracingPlugin`): spans for runs, tasks,
  model and tool calls following the OpenTelemetry GenAI semantic conventions; settings in
  ``[plugins.tracing]``; off (and ``opentelemetry`` never imported) unless an exporter is set.
* ``metrics`` (:class:`~agent_sdk.observability.metrics.MetricsPlugin`): Prometheus counters,
  histograms and a circuit-breaker gauge in a registry of its own; settings in
  ``[plugins.metrics]``.

Per-application state: hook implementations are methods of the plugin instance, so everything a
plugin records (spans in flight, the tracer provider, the metric registry) belongs to the one
application whose plugin manager called it. Two apps in one process share nothing. Reach an
app's instance with :func:`~agent_sdk.observability.metrics.get_metrics` /
:func:`~agent_sdk.observability.tracing.get_tracing` (``pm.get_plugin(name)`` underneath).

Importing this package (or either module) imports neither ``opentelemetry`` nor
``prometheus_client``: they are imported when the feature is actually used.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["BoundedMap"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class BoundedMap(Generic[K, V]):
    """A thread-safe insertion-ordered map that holds at most *capacity* entries.

    Used for per-call bookkeeping between a ``before`` and an ``after`` hook (a start time, an
    open span): an ``after`` hook that never comes (a crash, a path of the runtime that skips
    it) must not leak memory. Adding past the capacity evicts the oldest entry, hands it to
    *on_evict* and counts it in :attr:`evicted`.

    Args:
        capacity: maximum number of entries, ``>= 1``.
        on_evict: called as ``on_evict(key, value)`` for each evicted entry, outside the lock.
    """

    def __init__(self, capacity: int, on_evict: Callable[[K, V], None] | None = None) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, found {capacity}")
        self.capacity = capacity
        self.evicted = 0
        self._on_evict = on_evict
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def put(self, key: K, value: V) -> V | None:
        """Store *value* under *key* (as the newest entry).

        Returns:
            The value previously stored under *key*, or ``None``.
        """
        evicted: list[tuple[K, V]] = []
        with self._lock:
            previous = self._items.pop(key, None)
            self._items[key] = value
            while len(self._items) > self.capacity:
                evicted.append(self._items.popitem(last=False))
            self.evicted += len(evicted)
        if self._on_evict is not None:
            for old_key, old_value in evicted:
                self._on_evict(old_key, old_value)
        return previous

    def get(self, key: K) -> V | None:
        """The value under *key*, or ``None``."""
        return self._items.get(key)

    def pop(self, key: K) -> V | None:
        """Remove and return the value under *key*, or ``None``."""
        with self._lock:
            return self._items.pop(key, None)

    def pop_where(self, predicate: Callable[[K], bool]) -> list[tuple[K, V]]:
        """Remove and return the entries whose key satisfies *predicate*, oldest first.

        Linear in the number of entries held (the calls in flight, usually a handful).
        """
        with self._lock:
            keys = [key for key in self._items if predicate(key)]
            return [(key, self._items.pop(key)) for key in keys]

    def pop_all(self) -> list[tuple[K, V]]:
        """Remove and return every entry, oldest first."""
        return self.pop_where(lambda _key: True)
