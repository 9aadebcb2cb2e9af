"""Prometheus metrics from the runtime hooks (builtin plugin ``metrics``).

On by default; settings in the configuration file::

    [plugins.metrics]
    enabled = true          # default
    port = 9464             # serve /metrics here while the app runs (default: not served)
    host = "127.0.0.1"      # default: local only

Each application has its own ``CollectorRegistry`` (never prometheus_client's global one), so
two apps in one process never share a value. The registry is created at ``agent_sdk_startup``
(or on first use); ``prometheus_client`` is imported only then, so loading the plugin stays
cheap. Without ``pip install 'agent-sdk[metrics]'`` metrics are off, silently unless
``[plugins.metrics]`` sets ``enabled`` or ``port`` (then a :class:`~agent_sdk.errors.ConfigError`
names the package).

Metrics (durations in seconds; ``status`` is ``succeeded``, ``failed`` or ``cancelled``):

=========================================  =========  ====================================
name                                       type       labels
=========================================  =========  ====================================
``agent_sdk_runs_total``                   counter    ``workflow``, ``status``
``agent_sdk_run_duration_seconds``         histogram  ``workflow``, ``status``
``agent_sdk_tasks_total``                  counter    ``workflow``, ``status`` (per attempt)
``agent_sdk_task_duration_seconds``        histogram  ``workflow``, ``status``
``agent_sdk_model_calls_total``            counter    ``model``, ``provider``, ``status``
``agent_sdk_model_call_duration_seconds``  histogram  ``model``, ``provider``
``agent_sdk_model_tokens_total``           counter    ``model``, ``direction`` (input|output)
``agent_sdk_tool_calls_total``             counter    ``tool``, ``status``, ``replayed``
``agent_sdk_tool_call_duration_seconds``   histogram  ``tool`` (executed calls only)
``agent_sdk_circuit_breaker_state``        gauge      ``name``: 0 closed, 1 half-open, 2 open
=========================================  =========  ====================================

``model`` is the configured model name (``[models.<name>]``), ``provider`` its registered
provider; replayed model calls are not counted (nothing was sent). Label cardinality is
bounded: ids never become labels, and past ``max_label_values`` distinct values of one label
(a model inventing tool names...) new values are recorded as ``_other``.

Call durations are measured with :func:`time.perf_counter` between the before- and after-hook
of each call, keyed by ``(run_id, task_id, call)`` in a bounded map (10,000 calls in flight);
a call whose after-hook never comes is forgotten when its task or run ends.

Circuit breakers have no hook: the engine reports them through the app's plugin instance::

    from agent_sdk.observability.metrics import get_metrics

    metrics = get_metrics(app.pm)
    if metrics is not None:
        services.breaker_listeners.append(metrics.breaker_listener)   # (name, old, new)
        # or, anywhere: metrics.record_breaker_state("model:default", "open")

Serving: ``[plugins.metrics] port`` starts an HTTP endpoint at startup and stops it at
shutdown; :meth:`MetricsPlugin.render` returns the exposition text for a server of your own
(e.g. ``Response(metrics.render(), media_type=metrics.content_type)``).
"""

from __future__ import annotations

import importlib.util
import threading
import time
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agent_sdk import hookimpl
from agent_sdk.errors import ConfigError, ConfigIssue, PluginError
from agent_sdk.observability import BoundedMap

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

    import pluggy
    from prometheus_client import CollectorRegistry

    from agent_sdk.config import Config
    from agent_sdk.events import ModelCallInfo, Outcome, RunInfo, TaskInfo, ToolCallInfo
    from agent_sdk.messages import ModelResponse, ToolResult

__all__ = [
    "BREAKER_STATES",
    "MetricsPlugin",
    "MetricsServer",
    "MetricsSettings",
    "get_metrics",
]

PLUGIN_NAME = "metrics"
INSTALL_METRICS = "pip install 'agent-sdk[metrics]'"
MAX_IN_FLIGHT = 10_000
"""Calls whose start time is kept at most (the oldest is dropped past it, with a warning)."""
OTHER = "_other"
"""Label value recorded for a value past ``max_label_values``."""

BREAKER_STATES: dict[str, int] = {"closed": 0, "half_open": 1, "half-open": 1, "open": 2}
"""Circuit-breaker state name → value of ``agent_sdk_circuit_breaker_state``."""

CALL_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
"""Histogram buckets (seconds) of model and tool calls."""
LONG_BUCKETS = (0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)
"""Histogram buckets (seconds) of tasks and runs."""


class MetricsSettings(BaseModel):
    """``[plugins.metrics]``: whether to record metrics and where to serve them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(True, description="Record Prometheus metrics for this application.")
    port: int | None = Field(
        None,
        ge=0,
        le=65535,
        description="Serve the metrics over HTTP on this port while the application runs "
        "(0: any free port); unset: not served.",
    )
    host: str = Field(
        "127.0.0.1", min_length=1, description="Address the metrics endpoint listens on."
    )
    max_label_values: int = Field(
        200,
        ge=1,
        description="Distinct values kept per label (model, tool, workflow...); later new "
        "values are recorded as '_other'.",
    )


class MetricsServer:
    """A running metrics endpoint; call it (or :meth:`stop`) to stop it.

    Attributes:
        host: the address it listens on.
        port: the port it listens on (the real one when 0 was asked).
        url: ``http://host:port/metrics``.
    """

    def __init__(self, server: WSGIServer, thread: threading.Thread, host: str) -> None:
        self._server = server
        self._thread = thread
        self.host = host
        self.port: int = server.server_port
        self.url = f"http://{host}:{self.port}/metrics"
        self._stopped = False

    def stop(self) -> None:
        """Stop serving and close the socket (idempotent); waits for the thread, ≤ 5 s."""
        if self._stopped:
            return
        self._stopped = True
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    __call__ = stop


class _Labels:
    """Bounds the distinct values of each label; later new values become ``_other``."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._seen: dict[str, set[str]] = {}
        self._warned: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, label: str, value: str) -> str:
        with self._lock:
            seen = self._seen.setdefault(label, set())
            if value in seen:
                return value
            if len(seen) < self.limit:
                seen.add(value)
                return value
            warn = label not in self._warned
            self._warned.add(label)
        if warn:
            _log_warning(
                "metrics_label_overflow",
                label=label,
                limit=self.limit,
                hint="later new values are recorded as '_other'; raise max_label_values in "
                "[plugins.metrics] if these values are legitimate",
            )
        return OTHER


class _Metrics:
    """The metric objects of one application, in one registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        from prometheus_client import Counter, Gauge, Histogram

        self.runs = Counter(
            "agent_sdk_runs",
            "Runs that ended, by workflow and final status.",
            ["workflow", "status"],
            registry=registry,
        )
        self.run_duration = Histogram(
            "agent_sdk_run_duration_seconds",
            "Wall-clock seconds of a run's execution (a resume counts separately).",
            ["workflow", "status"],
            registry=registry,
            buckets=LONG_BUCKETS,
        )
        self.tasks = Counter(
            "agent_sdk_tasks",
            "Task attempts that ended, by workflow and status.",
            ["workflow", "status"],
            registry=registry,
        )
        self.task_duration = Histogram(
            "agent_sdk_task_duration_seconds",
            "Wall-clock seconds of a task attempt.",
            ["workflow", "status"],
            registry=registry,
            buckets=LONG_BUCKETS,
        )
        self.model_calls = Counter(
            "agent_sdk_model_calls",
            "Model calls sent (after retries), by configured model, provider and status.",
            ["model", "provider", "status"],
            registry=registry,
        )
        self.model_duration = Histogram(
            "agent_sdk_model_call_duration_seconds",
            "Seconds from sending a model call to its response or final error (retries included).",
            ["model", "provider"],
            registry=registry,
            buckets=CALL_BUCKETS,
        )
        self.tokens = Counter(
            "agent_sdk_model_tokens",
            "Tokens reported by model responses, by configured model and direction.",
            ["model", "direction"],
            registry=registry,
        )
        self.tool_calls = Counter(
            "agent_sdk_tool_calls",
            "Tool calls that got a result, by tool, status and whether replayed from the journal.",
            ["tool", "status", "replayed"],
            registry=registry,
        )
        self.tool_duration = Histogram(
            "agent_sdk_tool_call_duration_seconds",
            "Seconds a tool call took (executed calls only).",
            ["tool"],
            registry=registry,
            buckets=CALL_BUCKETS,
        )
        self.breaker = Gauge(
            "agent_sdk_circuit_breaker_state",
            "Circuit breaker state: 0 closed, 1 half-open, 2 open.",
            ["name"],
            registry=registry,
        )


def _log_warning(event: str, **fields: Any) -> None:
    from agent_sdk.logging import get_logger

    get_logger(__name__).warning(event, **fields)


def _prometheus_installed() -> bool:
    return importlib.util.find_spec("prometheus_client") is not None


class MetricsPlugin:
    """The ``metrics`` builtin: one instance (and one registry) per plugin manager.

    Attributes:
        name: the plugin name, which is also its settings table (``[plugins.metrics]``).
        settings: the validated settings (defaults until ``agent_sdk_configure``).
        registry: this application's ``CollectorRegistry`` once created, else ``None``.
        server: the endpoint started from ``port`` while the application runs, else ``None``.
    """

    name: ClassVar[str] = PLUGIN_NAME

    def __init__(self) -> None:
        self.settings = MetricsSettings()
        self.registry: CollectorRegistry | None = None
        self.server: MetricsServer | None = None
        self._active = True
        self._metrics: _Metrics | None = None
        self._labels = _Labels(self.settings.max_label_values)
        self._starts: BoundedMap[tuple[str, ...], float] = BoundedMap(MAX_IN_FLIGHT, self._evicted)
        self._lock = threading.Lock()

    # --- public API ----------------------------------------------------------------------

    @property
    def enabled(self) -> bool:
        """``True`` if metrics are recorded (enabled and prometheus-client installed)."""
        return self._active

    @property
    def calls_in_flight(self) -> int:
        """Model and tool calls whose start time is held (before-hook seen, after-hook not)."""
        return len(self._starts)

    @property
    def content_type(self) -> str:
        """The HTTP ``Content-Type`` of :meth:`render`'s output."""
        from prometheus_client import CONTENT_TYPE_LATEST

        return str(CONTENT_TYPE_LATEST)

    def render(self) -> bytes:
        """The application's metrics in the Prometheus text exposition format.

        Returns:
            UTF-8 bytes (``b""`` when metrics are disabled).
        """
        metrics = self._ensure()
        if metrics is None or self.registry is None:
            return b""
        from prometheus_client import generate_latest

        return generate_latest(self.registry)

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> MetricsServer:
        """Serve this application's registry over HTTP (``GET /metrics``) in a daemon thread.

        Args:
            host: address to listen on.
            port: TCP port; 0 picks a free one (read it from the result's ``port``).

        Returns:
            The running :class:`MetricsServer`; call it (or its ``stop()``) to stop serving.

        Raises:
            PluginError: metrics are disabled, or the address cannot be bound.
        """
        metrics = self._ensure()
        if metrics is None or self.registry is None:
            raise PluginError(
                "metrics are disabled, so there is nothing to serve",
                hint=f"set enabled = true in [plugins.{self.name}] (and {INSTALL_METRICS})",
            )
        from prometheus_client import start_http_server

        try:
            server, thread = start_http_server(port, addr=host, registry=self.registry)
        except OSError as exc:
            raise PluginError(
                f"metrics: cannot listen on {host}:{port}: {exc}",
                hint=f"choose another port in [plugins.{self.name}] (0 picks a free one)",
            ) from None
        return MetricsServer(server, thread, host)

    def record_breaker_state(self, name: str, state: str | int) -> None:
        """Set ``agent_sdk_circuit_breaker_state{name=...}``.

        Args:
            name: the breaker's name (``model:<name>`` / ``tool:<name>``).
            state: ``"closed"``, ``"half_open"`` or ``"open"`` (a ``BreakerState`` works: it
                is a ``str``), or the gauge value 0, 1 or 2.

        Raises:
            ValueError: an unknown state.
        """
        if isinstance(state, int) and not isinstance(state, bool):
            if state not in (0, 1, 2):
                raise ValueError(f"breaker state must be 0, 1 or 2, found {state}")
            value = state
        else:
            key = str(state).lower()
            if key not in BREAKER_STATES:
                raise ValueError(
                    f"unknown breaker state {state!r}; expected closed, half_open or open"
                )
            value = BREAKER_STATES[key]
        metrics = self._ensure()
        if metrics is not None:
            metrics.breaker.labels(self._labels("breaker", name)).set(value)

    def breaker_listener(self, name: str, old: str, new: str) -> None:
        """Record a breaker transition; the signature of ``Services.breaker_listeners``.

        Args:
            name: the breaker.
            old: its previous state (ignored).
            new: its new state, as :meth:`record_breaker_state` accepts.
        """
        self.record_breaker_state(name, new)

    # --- bootstrap hooks -----------------------------------------------------------------

    @hookimpl
    def agent_sdk_register_settings(self) -> list[type[BaseModel]]:
        """Declare :class:`MetricsSettings` as the ``[plugins.metrics]`` schema."""
        return [MetricsSettings]

    @hookimpl
    def agent_sdk_configure(self, config: Config) -> None:
        """Read ``[plugins.metrics]``.

        Raises:
            ConfigError: invalid settings, or ``enabled``/``port`` set explicitly while
                prometheus-client is not installed (the message gives the ``pip install``).
        """
        self._apply(config)

    def _apply(self, config: Config) -> None:
        table = config.plugins.settings(self.name)
        try:
            settings = MetricsSettings.model_validate(table)
        except ValidationError as exc:
            raise ConfigError(
                [
                    ConfigIssue(
                        config.source,
                        ".".join(["plugins", self.name, *map(str, err["loc"])]),
                        err["msg"],
                    )
                    for err in exc.errors(include_url=False)
                ]
            ) from None
        active = settings.enabled
        if active and not _prometheus_installed():
            if "enabled" in table or settings.port is not None:
                raise ConfigError(
                    [
                        ConfigIssue(
                            config.source,
                            f"plugins.{self.name}",
                            "metrics are enabled but prometheus-client is not installed",
                            f"{INSTALL_METRICS}, or set enabled = false in [plugins.{self.name}]",
                        )
                    ]
                )
            active = False  # on by default, but optional: quietly off without the package
        with self._lock:
            self.settings = settings
            self._active = active
            self._labels.limit = settings.max_label_values

    @hookimpl
    def agent_sdk_startup(self, config: Config) -> None:
        """Create the registry and, if ``port`` is set, start serving it.

        Raises:
            PluginError: the endpoint's address cannot be bound.
        """
        self._apply(config)
        if self._ensure() is None:
            return
        if self.settings.port is not None and self.server is None:
            self.server = self.serve(self.settings.host, self.settings.port)
            from agent_sdk.logging import get_logger

            get_logger(__name__).info("metrics_server_started", url=self.server.url)

    @hookimpl
    def agent_sdk_shutdown(self) -> None:
        """Stop the endpoint started at startup (the registry and its values stay readable)."""
        server, self.server = self.server, None
        if server is not None:
            server.stop()
        self._starts.pop_all()

    # --- runtime hooks -------------------------------------------------------------------

    @hookimpl
    def agent_sdk_after_run(self, run: RunInfo, outcome: Outcome) -> None:
        """Count the run and observe its duration."""
        self._starts.pop_where(
            lambda key: key[1] == run.run_id
        )  # calls whose after-hook was missed
        metrics = self._ensure()
        if metrics is None:
            return
        workflow = self._labels("workflow", run.workflow)
        metrics.runs.labels(workflow, outcome.status).inc()
        metrics.run_duration.labels(workflow, outcome.status).observe(outcome.duration_s)

    @hookimpl
    def agent_sdk_after_task(self, run: RunInfo, task: TaskInfo, outcome: Outcome) -> None:
        """Count the task attempt and observe its duration."""
        self._starts.pop_where(lambda key: key[1] == run.run_id and key[2] == task.task_id)
        metrics = self._ensure()
        if metrics is None:
            return
        workflow = self._labels("workflow", run.workflow)
        metrics.tasks.labels(workflow, outcome.status).inc()
        metrics.task_duration.labels(workflow, outcome.status).observe(outcome.duration_s)

    @hookimpl
    def agent_sdk_before_model_call(self, call: ModelCallInfo) -> None:
        """Note when the call started."""
        if self._active:
            self._starts.put(_model_key(call), time.perf_counter())

    @hookimpl
    def agent_sdk_after_model_call(
        self, call: ModelCallInfo, response: ModelResponse | None, error: BaseException | None
    ) -> None:
        """Count the call and its tokens, observe its duration."""
        started = self._starts.pop(_model_key(call))
        metrics = self._ensure()
        if metrics is None:
            return
        model = self._labels("model", call.model)
        provider = self._labels("provider", call.provider)
        status = "succeeded" if error is None else "failed"
        metrics.model_calls.labels(model, provider, status).inc()
        if started is not None:
            metrics.model_duration.labels(model, provider).observe(time.perf_counter() - started)
        if response is not None:
            metrics.tokens.labels(model, "input").inc(response.usage.input_tokens)
            metrics.tokens.labels(model, "output").inc(response.usage.output_tokens)

    @hookimpl
    def agent_sdk_before_tool_call(self, call: ToolCallInfo) -> None:
        """Note when the call started."""
        if self._active:
            self._starts.put(_tool_key(call), time.perf_counter())

    @hookimpl
    def agent_sdk_after_tool_call(self, call: ToolCallInfo, result: ToolResult) -> None:
        """Count the call (executed or replayed) and observe an executed call's duration."""
        started = None if call.replayed else self._starts.pop(_tool_key(call))
        metrics = self._ensure()
        if metrics is None:
            return
        tool = self._labels("tool", call.call.name)
        status = "succeeded" if result.ok else "failed"
        metrics.tool_calls.labels(tool, status, "true" if call.replayed else "false").inc()
        if started is not None:
            metrics.tool_duration.labels(tool).observe(time.perf_counter() - started)

    # --- internals -----------------------------------------------------------------------

    def _ensure(self) -> _Metrics | None:
        """The metric objects, created on first use; ``None`` when metrics are off."""
        if not self._active:
            return None
        if self._metrics is not None:
            return self._metrics
        with self._lock:
            if self._metrics is None and self._active:
                try:
                    from prometheus_client import CollectorRegistry
                except ImportError:
                    self._active = False
                    return None
                registry = CollectorRegistry(auto_describe=True)
                self._metrics = _Metrics(registry)
                self.registry = registry
            return self._metrics

    def _evicted(self, key: tuple[str, ...], started: float) -> None:
        evicted = self._starts.evicted
        if evicted == 1 or evicted % 1000 == 0:
            _log_warning(
                "metrics_call_timer_evicted",
                call=key[0],
                evicted_total=evicted,
                limit=MAX_IN_FLIGHT,
                hint="more calls in flight than expected, or an after-hook is not being called",
            )


def _model_key(call: ModelCallInfo) -> tuple[str, ...]:
    return ("model", call.run_id, call.task_id, str(call.index))


def _tool_key(call: ToolCallInfo) -> tuple[str, ...]:
    return ("tool", call.run_id, call.task_id, call.call.id)


def get_metrics(pm: pluggy.PluginManager) -> MetricsPlugin | None:
    """The metrics plugin of one application (``get_metrics(app.pm)``), or ``None``.

    Returns:
        The :class:`MetricsPlugin` registered as ``metrics`` in *pm*, or ``None`` if it is
        blocked, failed or replaced by something else.
    """
    plugin = pm.get_plugin(PLUGIN_NAME)
    return plugin if isinstance(plugin, MetricsPlugin) else None
