"""The application object: configuration + plugin manager + component registry, built once.

:func:`load_app` is the single start-up path shared by the CLI, the runtime and the server::

    app = load_app("agent-sdk.toml")     # raises ConfigError/PluginLoadError before any work
    model = app.create("model", "scripted")

Order (why it matters): the raw file is read first only to learn ``[plugins] disabled``; the
plugin manager is then built with that block list (so a disabled plugin is never imported);
finally the whole configuration is validated against the core models and every loaded
plugin's schema, and ``agent_sdk_configure`` runs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from agent_sdk.config import (
    Config,
    apply_env_overrides,
    build_component_config,
    find_config_file,
    load_config,
    read_toml,
)
from agent_sdk.errors import ConfigError, ConfigIssue
from agent_sdk.kinds.base import Component, Kind
from agent_sdk.plugins import AgentSDKPluginManager, Registry, get_plugin_manager

__all__ = ["App", "load_app"]


class App:
    """One configured application.

    Attributes:
        config: the validated configuration.
        pm: its plugin manager.
        env: the environment it was built from (secret references resolve against it).
    """

    def __init__(
        self, config: Config, pm: AgentSDKPluginManager, env: Mapping[str, str] | None = None
    ) -> None:
        self.config = config
        self.pm = pm
        self.env: Mapping[str, str] = os.environ if env is None else env
        self._started = False

    @property
    def registry(self) -> Registry:
        """The component registry (raises DuplicateComponentError on a name conflict)."""
        return self.pm.registry()

    def create(
        self, kind: Kind, name: str, overrides: Mapping[str, Any] | None = None, *, where: str = ""
    ) -> Component:
        """Instantiate a registered component with its validated ``Config``.

        Args:
            kind: ``"model"``, ``"tool"``...
            name: the registered name.
            overrides: option values on top of the plugin's table.
            where: dotted key path of the overrides, for error messages.

        Raises:
            UnknownComponentError: nothing of that kind has that name.
            ConfigError: the merged settings do not validate.
        """
        entry = self.registry.entry(kind, name)
        config = build_component_config(
            entry.cls, self.config, entry.plugin, overrides, where=where
        )
        return entry.cls(config)

    def create_model(self, name: str) -> Component:
        """Instantiate the model named *name*: a ``[models.<name>]`` table, else a provider name.

        Raises:
            UnknownComponentError: neither a configured model nor a provider has that name.
        """
        section = self.config.models.get(name)
        if section is not None:
            return self.create("model", section.provider, section.options, where=f"models.{name}")
        return self.create("model", name)

    def startup(self) -> None:
        """Call ``agent_sdk_startup`` once."""
        if not self._started:
            self.pm.hook.agent_sdk_startup(config=self.config)
            self._started = True

    def shutdown(self) -> None:
        """Call ``agent_sdk_shutdown`` once, if started."""
        if self._started:
            self._started = False
            self.pm.hook.agent_sdk_shutdown(config=self.config)


def load_app(
    path: str | Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    load_entrypoints: bool = True,
    pm: AgentSDKPluginManager | None = None,
) -> App:
    """Find and read the configuration, build the plugin manager, validate everything.

    Args:
        path: configuration file (default: ``AGENT_SDK_CONFIG``, then ``./agent-sdk.toml``).
        env: environment (default ``os.environ``): overrides, plugin policy, secrets.
        load_entrypoints: load installed plugins (tests pass ``False``).
        pm: use this plugin manager instead of building one.

    Returns:
        The validated :class:`App`.

    Raises:
        ConfigError: every configuration problem, each with file and key path.
        PluginLoadError: a plugin failed to load in strict mode.
        DuplicateComponentError: reported as a ConfigError issue instead.
    """
    env = os.environ if env is None else env
    found = find_config_file(path, env=env)
    raw: dict[str, Any] = read_toml(found) if found is not None else {}
    source = str(found) if found is not None else "<defaults>"
    overridden, _ = apply_env_overrides(raw, env)
    disabled = (overridden.get("plugins") or {}).get("disabled", [])
    if not (isinstance(disabled, list) and all(isinstance(d, str) for d in disabled)):
        raise ConfigError(
            [ConfigIssue(source, "plugins.disabled", "expected a list of plugin names")]
        )
    if pm is None:
        pm = get_plugin_manager(disabled=disabled, env=env, load_entrypoints=load_entrypoints)
    config = load_config(data=raw, env=env, pm=pm, source=source)
    return App(config, pm, env)
