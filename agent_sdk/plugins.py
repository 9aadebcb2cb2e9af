"""The plugin manager: builtins, entry-point discovery, policy, and the component registry.

There is no global plugin manager (house style 7): :func:`get_plugin_manager` builds one per
application, in this order:

1. add the hook specifications (:mod:`agent_sdk.hookspecs`);
2. apply blocks (``[plugins] disabled``, ``AGENT_SDK_DISABLE_PLUGINS``);
3. register the builtin plugins (modules shipped in the kernel);
4. load the ``agent_sdk`` entry-point group, each entry point in its own ``try`` block,
   honouring the ``AGENT_SDK_LOAD_PLUGINS`` allowlist;
5. ``check_pending()``: a hook implementation that matches no spec is an error.

A plugin that fails to import or to register is *reported, not fatal*: it is unregistered,
recorded with status ``"failed"`` (entry point, distribution, version, error), a
``plugin_load_failed`` warning is logged, and ``agent-sdk plugins list`` shows it.
``AGENT_SDK_STRICT_PLUGINS=1`` turns that into a :class:`~agent_sdk.errors.PluginLoadError`.

The :class:`Registry` maps ``(kind, name)`` to the component class a plugin registered. Two
plugins registering the same name for one kind is a
:class:`~agent_sdk.errors.DuplicateComponentError` naming both distributions.
"""

from __future__ import annotations

import importlib
import inspect
import os
import types
from collections.abc import Iterable, Mapping
from importlib import metadata
from typing import Any, Literal

import attrs
import pluggy

from agent_sdk import PROJECT_NAME, hookspecs
from agent_sdk.errors import (
    DuplicateComponentError,
    PluginError,
    PluginLoadError,
    UnknownComponentError,
)
from agent_sdk.kinds.base import KINDS, Component, Kind, validate_component_name

__all__ = [
    "BUILTIN_PLUGINS",
    "ENTRY_POINT_GROUP",
    "REGISTRATION_HOOKS",
    "AgentSDKPluginManager",
    "ComponentEntry",
    "PluginPolicy",
    "PluginRecord",
    "Registry",
    "get_plugin_manager",
]

ENTRY_POINT_GROUP = PROJECT_NAME
"""The one entry-point group plugins register under: ``[project.entry-points.agent_sdk]``."""

BUILTIN_PLUGINS: dict[str, str] = {
    "scripted": "agent_sdk.testing.scripted",
    "tracing": "agent_sdk.observability.tracing:TracingPlugin",
    "metrics": "agent_sdk.observability.metrics:MetricsPlugin",
}
"""Plugins shipped inside the kernel: plugin name → ``"module"`` (the module is registered as
the plugin) or ``"module:factory"`` (``factory()`` is called once per plugin manager and its
result registered, so a plugin with per-application state gets one instance per app)."""

REGISTRATION_HOOKS: dict[Kind, str] = {
    "model": "agent_sdk_register_model_providers",
    "tool": "agent_sdk_register_tools",
    "agent": "agent_sdk_register_agents",
    "storage": "agent_sdk_register_storage_backends",
    "sandbox": "agent_sdk_register_sandboxes",
    "alert_sink": "agent_sdk_register_alert_sinks",
}
"""Kind → the hook that registers components of that kind."""

RESERVED_PLUGIN_NAMES = frozenset({"disabled"})
"""Names no plugin may take (they are keys of the ``[plugins]`` table itself)."""

Status = Literal["loaded", "failed", "blocked"]
Source = Literal["builtin", "entry_point", "registered"]


def _kind_base(kind: Kind) -> type[Component]:
    from agent_sdk.kinds.agent import Agent
    from agent_sdk.kinds.alerts import AlertSink
    from agent_sdk.kinds.model import ModelProvider
    from agent_sdk.kinds.sandbox import Sandbox
    from agent_sdk.kinds.storage import StorageBackend
    from agent_sdk.kinds.tool import Tool

    bases: dict[Kind, type[Component]] = {
        "model": ModelProvider,
        "tool": Tool,
        "agent": Agent,
        "storage": StorageBackend,
        "sandbox": Sandbox,
        "alert_sink": AlertSink,
    }
    return bases[kind]


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def _split_names(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


@attrs.define
class PluginPolicy:
    """Which plugins may load, and how strictly.

    Attributes:
        strict: a broken plugin raises instead of being reported (``AGENT_SDK_STRICT_PLUGINS``).
        allowlist: entry-point names allowed to load; ``None`` = all. From
            ``AGENT_SDK_LOAD_PLUGINS=a,b`` (an empty value allows none). Builtins are not
            affected; block them by name.
        disabled: plugin names never registered (``[plugins] disabled`` plus
            ``AGENT_SDK_DISABLE_PLUGINS=a,b``).
        modules: importable modules registered as plugins without being installed as
            distributions (``AGENT_SDK_PLUGIN_MODULES=pkg.hooks,other``, or ``agent-sdk -p``):
            for project-local plugins and tests. The plugin's name is the module name.
    """

    strict: bool = False
    allowlist: frozenset[str] | None = None
    disabled: frozenset[str] = frozenset()
    modules: tuple[str, ...] = ()

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, *, disabled: Iterable[str] = ()
    ) -> PluginPolicy:
        """Build the policy from environment variables plus the config's ``disabled`` list."""
        env = os.environ if env is None else env
        allow_raw = env.get("AGENT_SDK_LOAD_PLUGINS")
        allowlist = None if allow_raw is None else frozenset(_split_names(allow_raw))
        blocked = set(disabled) | set(_split_names(env.get("AGENT_SDK_DISABLE_PLUGINS", "")))
        return cls(
            strict=_truthy(env.get("AGENT_SDK_STRICT_PLUGINS")),
            allowlist=allowlist,
            disabled=frozenset(blocked),
            modules=tuple(_split_names(env.get("AGENT_SDK_PLUGIN_MODULES", ""))),
        )


@attrs.define
class PluginRecord:
    """What the plugin manager knows about one plugin.

    Attributes:
        name: the plugin's name (entry-point name, or builtin name).
        source: ``"builtin"``, ``"entry_point"`` or ``"registered"`` (added at run time).
        status: ``"loaded"``, ``"failed"`` or ``"blocked"``.
        module: the object reference (``pkg.hooks``) or module name.
        distribution: the distribution declaring the entry point (``None`` for builtins).
        version: that distribution's version.
        error: why it failed or is blocked, or ``None``.
        components: kind → names it registered (filled when the registry is built).
    """

    name: str
    source: Source
    status: Status
    module: str = ""
    distribution: str | None = None
    version: str | None = None
    error: str | None = None
    components: dict[str, list[str]] = attrs.field(factory=dict)

    def describe(self) -> str:
        """``"name (distribution version)"``, for messages."""
        if self.distribution:
            return f"{self.name} ({self.distribution} {self.version})"
        return f"{self.name} ({self.source})"

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form, as printed by ``agent-sdk plugins list --json``."""
        return attrs.asdict(self)


@attrs.frozen
class ComponentEntry:
    """One registered component: its ``kind``, ``name``, class ``cls`` and owning ``plugin``."""

    kind: Kind
    name: str
    cls: type[Component]
    plugin: str


class Registry:
    """Components by kind and name, with the plugin that registered each.

    Build it with :meth:`AgentSDKPluginManager.registry`; it is rebuilt when plugins are
    registered or unregistered.
    """

    def __init__(
        self,
        entries: Iterable[ComponentEntry],
        records: Mapping[str, PluginRecord],
        conflicts: Iterable[DuplicateComponentError] = (),
    ) -> None:
        self.settings_models: dict[str, list[type[Any]]] = {}
        self._by_kind: dict[Kind, dict[str, ComponentEntry]] = {k: {} for k in KINDS}
        for entry in entries:
            self._by_kind[entry.kind][entry.name] = entry
        self._records = records
        self.conflicts: list[DuplicateComponentError] = list(conflicts)

    def names(self, kind: Kind) -> list[str]:
        """Sorted names registered for *kind*."""
        return sorted(self._by_kind[kind])

    def entries(self, kind: Kind | None = None) -> list[ComponentEntry]:
        """Entries of one kind (or all), sorted by kind then name."""
        kinds = KINDS if kind is None else (kind,)
        return [self._by_kind[k][n] for k in kinds for n in sorted(self._by_kind[k])]

    def entry(self, kind: Kind, name: str) -> ComponentEntry:
        """Return the entry for ``(kind, name)``.

        Raises:
            UnknownComponentError: nothing of that kind has that name; the message lists the
                names that exist.
        """
        try:
            return self._by_kind[kind][name]
        except KeyError:
            known = ", ".join(self.names(kind)) or "none"
            raise UnknownComponentError(
                f"no {kind.replace('_', ' ')} named {name!r} is registered (registered: {known})",
                hint="install the plugin that provides it, or check `agent-sdk plugins list` "
                "for a plugin that failed to load",
            ) from None

    def get(self, kind: Kind, name: str) -> type[Component]:
        """Return the component class for ``(kind, name)``; see :meth:`entry` for errors."""
        return self.entry(kind, name).cls

    def plugin_components(self, plugin: str) -> list[ComponentEntry]:
        """The components a plugin registered."""
        return [e for e in self.entries() if e.plugin == plugin]

    def plugin_schema(self, plugin: str) -> dict[str, Any]:
        """The JSON Schema of the plugin's ``[plugins.<plugin>]`` table.

        It is the union of the ``Config`` fields of every component the plugin registered
        (components of one plugin usually share one ``Config``); unknown keys are rejected.

        Raises:
            PluginError: two components of the plugin define one field differently.
        """
        from agent_sdk.config import merge_config_schemas

        comps = self.plugin_components(plugin)
        models = [(f"{c.kind}:{c.name}", c.cls.Config) for c in comps]
        models += [(f"settings:{m.__name__}", m) for m in self.settings_models.get(plugin, [])]
        return merge_config_schemas(plugin, models)

    def check(self) -> None:
        """Raise the first :class:`~agent_sdk.errors.DuplicateComponentError`, if any."""
        if self.conflicts:
            raise self.conflicts[0]


class AgentSDKPluginManager(pluggy.PluginManager):
    """A :class:`pluggy.PluginManager` that records every plugin's fate and builds the registry.

    Attributes:
        policy: the :class:`PluginPolicy` it was built with.
        records: plugin name → :class:`PluginRecord`, in load order.
    """

    def __init__(self, policy: PluginPolicy | None = None) -> None:
        super().__init__(PROJECT_NAME)
        self.policy = policy or PluginPolicy()
        self.records: dict[str, PluginRecord] = {}
        self._registry: Registry | None = None
        self.add_hookspecs(hookspecs)

    # --- registration --------------------------------------------------------------------

    def register(self, plugin: object, name: str | None = None) -> str | None:
        """Register *plugin* (a module or object with hook implementations).

        Also records it (source ``"registered"`` unless already recorded) and invalidates the
        registry. See :meth:`pluggy.PluginManager.register` for the semantics.
        """
        plugin_name = super().register(plugin, name)
        if plugin_name is not None:
            existing = self.records.get(plugin_name)
            if existing is None or existing.status != "loaded":
                self.records[plugin_name] = PluginRecord(
                    name=plugin_name,
                    source="registered",
                    status="loaded",
                    module=getattr(plugin, "__name__", type(plugin).__name__),
                )
            self._registry = None
        return plugin_name

    def unregister(self, plugin: object | None = None, name: str | None = None) -> Any:
        """Unregister a plugin and drop its record if it was registered at run time."""
        resolved = name or (self.get_name(plugin) if plugin is not None else None)
        result = super().unregister(plugin, name)
        record = self.records.get(resolved) if resolved else None
        if record is not None:
            if record.source == "registered":
                del self.records[record.name]
            elif record.status == "loaded":
                record.status, record.error = "blocked", "unregistered at run time"
        self._registry = None
        return result

    def _fail(
        self,
        record: PluginRecord,
        error: BaseException | str,
        *,
        key: str | None = None,
        hint: str | None = None,
    ) -> None:
        """Record *record* as failed (under *key*, default its name), warn, or raise if strict.

        A *key* other than the record's name keeps the plugin already registered under that
        name (and its record) untouched: used when an entry point's name is already taken.
        """
        message = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        record.status = "failed"
        record.error = message
        key = key or record.name
        self.records[key] = record
        if key == record.name and self.get_plugin(record.name) is not None:
            super().unregister(name=record.name)
        hint = hint or (
            f"fix or uninstall {record.distribution or record.module}, or block it with "
            f"AGENT_SDK_DISABLE_PLUGINS={record.name}"
        )
        if self.policy.strict:
            raise PluginLoadError(
                f"plugin {record.describe()} failed to load: {message}",
                entry_point=record.name,
                distribution=record.distribution,
                version=record.version,
                hint=hint,
            ) from (error if isinstance(error, BaseException) else None)
        from agent_sdk.logging import get_logger

        get_logger(__name__).warning(
            "plugin_load_failed",
            plugin=record.name,
            distribution=record.distribution,
            version=record.version,
            error=message,
            hint=hint + " (AGENT_SDK_STRICT_PLUGINS=1 makes this fatal)",
        )

    def _register_checked(self, plugin: object, record: PluginRecord) -> None:
        """Register one plugin; on any failure record it as failed and leave nothing behind."""
        if record.name in RESERVED_PLUGIN_NAMES:
            self._fail(
                record,
                f"the plugin name {record.name!r} is reserved",
                hint=f"rename the entry point in {record.distribution or record.module}",
            )
            return
        existing = self.records.get(record.name)
        if existing is not None and existing.status == "loaded":
            self._fail(
                record,
                f"plugin name {record.name!r} is already taken by {existing.describe()}",
                key=f"{record.name}@{record.distribution or record.module}",
                hint=f"rename the entry point or uninstall {record.distribution or record.module}"
                f" (blocking {record.name!r} by name would block {existing.describe()} too)",
            )
            return
        try:
            super().register(plugin, name=record.name)
        except Exception as exc:  # noqa: BLE001 - isolate a plugin/tool failure
            self._fail(record, exc)
            return
        implemented: set[str] = set()
        unknown: list[str] = []
        for caller in self.get_hookcallers(plugin) or []:
            for impl in caller.get_hookimpls():
                if impl.plugin is plugin:
                    implemented.add(caller.name)
                    if caller.spec is None:
                        unknown.append(caller.name)
        if unknown:
            self._fail(
                record,
                f"implements unknown hook(s) {sorted(unknown)}; the known hooks are listed "
                "in agent_sdk.hookspecs (check the spelling)",
            )
            return
        unmarked = sorted(
            name
            for name in dir(plugin)
            if name.startswith("agent_sdk_")
            and name not in implemented
            and callable(getattr(plugin, name, None))
        )
        if unmarked:
            self._fail(
                record,
                f"function(s) {unmarked} look like hook implementations but are not marked; "
                "decorate them with @agent_sdk.hookimpl",
            )
            return
        record.status = "loaded"
        self.records[record.name] = record
        self._registry = None

    def load_builtins(self) -> None:
        """Register the kernel's builtin plugins (:data:`BUILTIN_PLUGINS`) not blocked."""
        from agent_sdk import __version__

        for name, module_name in BUILTIN_PLUGINS.items():
            record = PluginRecord(
                name=name,
                source="builtin",
                status="loaded",
                module=module_name,
                distribution="agent-sdk",
                version=__version__,
            )
            if name in self.policy.disabled:
                self._block(record, "disabled by configuration or AGENT_SDK_DISABLE_PLUGINS")
                continue
            try:
                module_path, _, factory = module_name.partition(":")
                module = importlib.import_module(module_path)
                plugin = getattr(module, factory)() if factory else module
            except Exception as exc:  # noqa: BLE001 - isolate a plugin/tool failure
                self._fail(record, exc)
                continue
            self._register_checked(plugin, record)

    def load_modules(self) -> None:
        """Register the policy's extra plugin modules (``AGENT_SDK_PLUGIN_MODULES``)."""
        for module_name in self.policy.modules:
            record = PluginRecord(
                name=module_name, source="registered", status="loaded", module=module_name
            )
            if module_name in self.policy.disabled:
                self._block(record, "disabled by configuration or AGENT_SDK_DISABLE_PLUGINS")
                continue
            try:
                module = importlib.import_module(module_name)
            except Exception as exc:  # noqa: BLE001 - isolate a plugin/tool failure
                self._fail(record, exc, hint=f"check that {module_name!r} is importable (sys.path)")
                continue
            self._register_checked(module, record)

    def _block(self, record: PluginRecord, reason: str) -> None:
        record.status = "blocked"
        record.error = reason
        self.records[record.name] = record
        self.set_blocked(record.name)

    def load_entrypoints(self, group: str = ENTRY_POINT_GROUP) -> int:
        """Import and register every entry point of *group* the policy allows.

        Returns:
            The number of plugins loaded.

        Raises:
            PluginLoadError: in strict mode, for the first plugin that fails.
        """
        loaded = 0
        for ep in sorted(metadata.entry_points(group=group), key=lambda e: e.name):
            dist = getattr(ep, "dist", None)
            record = PluginRecord(
                name=ep.name,
                source="entry_point",
                status="loaded",
                module=ep.value,
                distribution=dist.metadata["Name"] if dist is not None else None,
                version=dist.version if dist is not None else None,
            )
            if ep.name in self.policy.disabled:
                self._block(record, "disabled by configuration or AGENT_SDK_DISABLE_PLUGINS")
                continue
            if self.policy.allowlist is not None and ep.name not in self.policy.allowlist:
                record.status = "blocked"
                record.error = "not in the AGENT_SDK_LOAD_PLUGINS allowlist"
                self.records.setdefault(ep.name, record)
                continue
            try:
                plugin = ep.load()
            except Exception as exc:  # noqa: BLE001 - isolate a plugin/tool failure
                self._fail(record, exc)
                continue
            self._register_checked(plugin, record)
            loaded += record.status == "loaded"
        return loaded

    # --- registry ------------------------------------------------------------------------

    def registry(self, *, tolerate_conflicts: bool = False) -> Registry:
        """Build (once) and return the component registry.

        Each plugin's registration hooks are called separately (through a pluggy subset hook
        caller holding only that plugin, so its own wrappers apply), so every component is
        attributed to its plugin and a
        plugin whose registration raises or returns something invalid is reported as failed
        without taking the others down.

        Args:
            tolerate_conflicts: return a registry even when two plugins registered one name
                (``plugins list`` uses this to show the conflict).

        Raises:
            DuplicateComponentError: two plugins registered one ``(kind, name)``.
            PluginLoadError: in strict mode, a plugin's registration failed.
        """
        if self._registry is None:
            self._registry = self._build_registry()
        if not tolerate_conflicts:
            self._registry.check()
        return self._registry

    def _build_registry(self) -> Registry:
        from pydantic import BaseModel

        entries: dict[tuple[Kind, str], ComponentEntry] = {}
        conflicts: list[DuplicateComponentError] = []
        settings: dict[str, list[type[Any]]] = {}
        for plugin_name, plugin in list(self.list_name_plugin()):
            record = self.records.get(plugin_name)
            if record is None or record.status != "loaded":
                continue
            others = [p for p in self.get_plugins() if p is not plugin]
            found: list[ComponentEntry] = []
            try:
                for kind, hook_name in REGISTRATION_HOOKS.items():
                    caller = self.subset_hook_caller(hook_name, remove_plugins=others)
                    for result in caller():
                        found.extend(self._validate_components(plugin_name, kind, result))
                caller = self.subset_hook_caller(
                    "agent_sdk_register_settings", remove_plugins=others
                )
                models = [m for result in caller() for m in (result or [])]
                for model in models:
                    if not (isinstance(model, type) and issubclass(model, BaseModel)):
                        raise PluginError(
                            f"plugin {plugin_name!r}: agent_sdk_register_settings returned "
                            f"{model!r}; expected pydantic model classes"
                        )
                if models:
                    settings[plugin_name] = models
            except Exception as exc:  # noqa: BLE001 - isolate a plugin/tool failure
                self._fail(record, exc)
                continue
            record.components = {}
            seen_here: set[tuple[Kind, str]] = set()
            duplicate: ComponentEntry | None = None
            for entry in found:
                if (entry.kind, entry.name) in seen_here:
                    duplicate = entry
                    break
                seen_here.add((entry.kind, entry.name))
            if duplicate is not None:
                self._fail(
                    record,
                    f"registers two {duplicate.kind.replace('_', ' ')}s named {duplicate.name!r}; "
                    "names must be unique per kind",
                )
                continue
            for entry in found:
                record.components.setdefault(entry.kind, []).append(entry.name)
                key = (entry.kind, entry.name)
                if key in entries and entries[key].plugin != plugin_name:
                    first = self.records[entries[key].plugin]
                    conflicts.append(
                        DuplicateComponentError(
                            f"two plugins register a {entry.kind.replace('_', ' ')} named "
                            f"{entry.name!r}: {first.describe()} and {record.describe()}",
                            hint=f"uninstall one, or block one with "
                            f"AGENT_SDK_DISABLE_PLUGINS={first.name} (or {record.name}) or "
                            f'[plugins] disabled = ["{record.name}"]',
                        )
                    )
                    continue
                entries[key] = entry
        registry = Registry(entries.values(), self.records, conflicts)
        registry.settings_models = settings
        return registry

    @staticmethod
    def _validate_components(plugin: str, kind: Kind, result: Any) -> list[ComponentEntry]:
        from pydantic import BaseModel

        hook = REGISTRATION_HOOKS[kind]
        if result is None:
            return []
        if not isinstance(result, list | tuple):
            raise PluginError(
                f"plugin {plugin!r}: {hook} must return a list of classes, "
                f"found {type(result).__name__}"
            )
        base = _kind_base(kind)
        out = []
        for item in result:
            if not (isinstance(item, type) and issubclass(item, base)):
                raise PluginError(
                    f"plugin {plugin!r}: {hook} returned {item!r}; expected a subclass of "
                    f"{base.__module__}.{base.__qualname__}",
                    hint="return the class itself, not an instance",
                )
            problem = validate_component_name(getattr(item, "name", None))
            if problem:
                raise PluginError(f"plugin {plugin!r}: {item.__qualname__}: {problem}")
            if inspect.isabstract(item):
                missing = ", ".join(sorted(getattr(item, "__abstractmethods__", ())))
                raise PluginError(
                    f"plugin {plugin!r}: {item.__qualname__} does not implement {missing}",
                    hint=f"implement every abstract method of {base.__qualname__}",
                )
            config = getattr(item, "Config", None)
            if not (isinstance(config, type) and issubclass(config, BaseModel)):
                raise PluginError(
                    f"plugin {plugin!r}: {item.__qualname__}.Config must be a pydantic model"
                )
            out.append(ComponentEntry(kind=kind, name=item.name, cls=item, plugin=plugin))
        return out


def get_plugin_manager(
    *,
    policy: PluginPolicy | None = None,
    disabled: Iterable[str] = (),
    load_entrypoints: bool = True,
    load_builtins: bool = True,
    env: Mapping[str, str] | None = None,
) -> AgentSDKPluginManager:
    """Build a plugin manager for one application.

    Args:
        policy: explicit policy; by default built from *env* and *disabled*.
        disabled: plugin names to block (the config file's ``[plugins] disabled``).
        load_entrypoints: load the ``agent_sdk`` entry-point group (tests pass ``False`` so
            they never pick up whatever happens to be installed).
        load_builtins: register the kernel's builtin plugins.
        env: environment to read the ``AGENT_SDK_*`` plugin variables from (default
            ``os.environ``).

    Returns:
        The plugin manager, with ``check_pending()`` done.

    Raises:
        PluginLoadError: in strict mode, when a plugin fails to load.
    """
    pm = AgentSDKPluginManager(policy or PluginPolicy.from_env(env, disabled=disabled))
    if load_builtins:
        pm.load_builtins()
    if load_entrypoints:
        pm.load_entrypoints()
    pm.load_modules()
    pm.check_pending()
    return pm


def module_plugin(name: str, **hooks: Any) -> types.ModuleType:
    """Build an in-memory plugin module from hook functions (handy in tests and notebooks).

    Example::

        pm.register(module_plugin("mine", agent_sdk_register_tools=lambda: [Echo]))

    Hooks are marked with :data:`agent_sdk.hookimpl` for you.
    """
    from agent_sdk import hookimpl

    module = types.ModuleType(name)
    for hook_name, fn in hooks.items():
        fn.__name__ = hook_name
        setattr(module, hook_name, hookimpl(fn))
    return module
