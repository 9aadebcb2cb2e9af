"""pytest fixtures for agent-sdk and for code built on it.

Loaded automatically (the ``agent-sdk`` distribution declares a ``pytest11`` entry point), so
any project with agent-sdk installed gets these fixtures:

``plugin_manager``
    An :class:`~agent_sdk.plugins.AgentSDKPluginManager` with the builtin plugins only: entry
    points are not loaded and ``AGENT_SDK_*`` environment variables are ignored, so a test
    never depends on whatever plugins happen to be installed.
``register_plugin``
    ``register_plugin(plugin=None, name=None, **hooks) -> str``: register a module or object
    (or hook functions given as keywords) into ``plugin_manager``; unregistered at teardown.
``make_config``
    ``make_config(toml_text | dict | Path = "", *, env=None) -> Config``: load and validate a
    configuration against ``plugin_manager``'s plugins.
``scripted_model``
    ``scripted_model(*responses, model="scripted") -> ScriptedModel``; at teardown of a passing
    test, fails if a scripted response was never used.

The module imports nothing heavy at collection time; fixtures import the SDK lazily.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from agent_sdk.config import Config
    from agent_sdk.plugins import AgentSDKPluginManager
    from agent_sdk.testing.scripted import ScriptedModel, ScriptItem

__all__ = ["make_config", "plugin_manager", "register_plugin", "scripted_model"]

_CALL_FAILED = pytest.StashKey[bool]()


def pytest_configure(config: pytest.Config) -> None:
    """Declare the ``services`` marker (so ``--strict-markers`` projects can use it)."""
    config.addinivalue_line(
        "markers",
        "services: needs real external services (PostgreSQL, Redis...); see "
        "agent_sdk.testing.services.require_service",
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Remember whether the test body failed (``scripted_model`` checks only passing tests)."""
    report = yield
    if call.when == "call" and report.failed:
        item.stash[_CALL_FAILED] = True
    return report


@pytest.fixture
def plugin_manager() -> AgentSDKPluginManager:
    """A plugin manager with the builtin plugins only (no entry points, empty environment).

    Returns:
        A fresh :class:`~agent_sdk.plugins.AgentSDKPluginManager` per test.
    """
    from agent_sdk.plugins import get_plugin_manager

    return get_plugin_manager(load_entrypoints=False, env={})


@pytest.fixture
def register_plugin(plugin_manager: AgentSDKPluginManager) -> Iterator[Callable[..., str]]:
    """Register plugins into ``plugin_manager`` for one test; each is unregistered at teardown.

    The fixture's value is ``register_plugin(plugin=None, name=None, **hooks) -> str``:

    * ``plugin``: a module, class or object with ``@hookimpl`` functions; or
    * ``**hooks``: hook functions by hook name (marked for you), e.g.
      ``register_plugin(agent_sdk_register_tools=lambda: [Echo])``;
    * ``name``: the plugin name (default: pluggy's, or ``test-plugin-<n>`` for ``**hooks``).

    It returns the name the plugin was registered under.

    Raises:
        PluginError: the name is blocked or taken, nothing was given, or the plugin
            implements a hook that does not exist (misspelled).
    """
    from pluggy import PluginValidationError

    from agent_sdk.errors import PluginError
    from agent_sdk.plugins import module_plugin

    registered: list[str] = []

    def register(plugin: object | None = None, name: str | None = None, **hooks: Any) -> str:
        if plugin is None and not hooks:
            raise PluginError("register_plugin needs a plugin object or hook functions")
        if plugin is not None and hooks:
            raise PluginError("register_plugin takes a plugin object or hook functions, not both")
        if plugin is None:
            name = name or f"test-plugin-{len(registered) + 1}"
            plugin = module_plugin(name, **hooks)
        try:
            plugin_name = plugin_manager.register(plugin, name)
        except ValueError as exc:  # pluggy: name or object already registered
            raise PluginError(f"cannot register plugin {name or plugin!r}: {exc}") from None
        except PluginValidationError as exc:
            raise PluginError(f"cannot register plugin {name or plugin!r}: {exc}") from None
        if plugin_name is None:
            raise PluginError(
                f"cannot register plugin {name!r}: that name is blocked in this plugin manager"
            )
        registered.append(plugin_name)
        try:
            plugin_manager.check_pending()
        except PluginValidationError as exc:
            plugin_manager.unregister(name=plugin_name)
            registered.remove(plugin_name)
            raise PluginError(
                f"plugin {plugin_name!r} implements a hook that does not exist: {exc}",
                hint="check the spelling against agent_sdk.hookspecs",
            ) from None
        return plugin_name

    yield register
    for plugin_name in reversed(registered):
        if plugin_manager.get_plugin(plugin_name) is not None:
            plugin_manager.unregister(name=plugin_name)


@pytest.fixture
def make_config(plugin_manager: AgentSDKPluginManager) -> Callable[..., Config]:
    """Build validated configurations against ``plugin_manager``'s plugins.

    The fixture's value is ``make_config(source="", *, env=None) -> Config`` where *source*
    is TOML text (``str``), parsed data (a mapping) or a file (``pathlib.Path``), and *env* the
    environment for ``AGENT_SDK__*`` overrides (default: empty, never ``os.environ``).

    Raises:
        ConfigError: the configuration is invalid (every problem listed).
    """
    from agent_sdk.config import load_config

    def make(
        source: str | Mapping[str, Any] | Path = "", *, env: Mapping[str, str] | None = None
    ) -> Config:
        environment: Mapping[str, str] = {} if env is None else env
        if isinstance(source, Path):
            return load_config(source, env=environment, pm=plugin_manager)
        if isinstance(source, str):
            return load_config(text=source, env=environment, pm=plugin_manager)
        return load_config(data=source, env=environment, pm=plugin_manager, source="<data>")

    return make


@pytest.fixture
def scripted_model(request: pytest.FixtureRequest) -> Iterator[Callable[..., ScriptedModel]]:
    """Make :class:`~agent_sdk.testing.scripted.ScriptedModel` instances for one test.

    The fixture's value is ``scripted_model(*responses, model="scripted") -> ScriptedModel``
    (see :meth:`~agent_sdk.testing.scripted.ScriptedModel.from_responses` for what a response
    may be). When the test passes, teardown calls ``assert_all_used()`` on each model made,
    so a script the code never consumed fails the test.
    """
    from agent_sdk.testing.scripted import ScriptedModel

    made: list[ScriptedModel] = []

    def make(*responses: ScriptItem, model: str = "scripted") -> ScriptedModel:
        instance = ScriptedModel.from_responses(responses, model=model)
        made.append(instance)
        return instance

    yield make
    if not request.node.stash.get(_CALL_FAILED, False):
        for instance in made:
            instance.assert_all_used()
