"""The plugin manager and registry with in-memory plugins, and the testing fixtures around them.

Entry-point discovery of real installed distributions is tested in ``test_entrypoints.py``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import pytest

from agent_sdk import hookimpl
from agent_sdk.config import build_component_config
from agent_sdk.errors import (
    AgentSDKError,
    ConfigError,
    DuplicateComponentError,
    PluginError,
    UnknownComponentError,
)
from agent_sdk.kinds.base import EmptyConfig
from agent_sdk.kinds.model import ModelProvider
from agent_sdk.kinds.tool import Tool, tool
from agent_sdk.messages import Message, ModelRequest, ModelResponse
from agent_sdk.plugins import (
    BUILTIN_PLUGINS,
    AgentSDKPluginManager,
    PluginPolicy,
    get_plugin_manager,
)
from agent_sdk.testing.scripted import ScriptedModel

pytest_plugins = ["pytester"]


@tool(threaded=False)
def echo(text: str) -> str:
    """Repeat the text."""
    return text


@tool(name="echo", threaded=False)
def other_echo(text: str) -> str:
    """Repeat the text twice."""
    return text * 2


class Upper(ModelProvider):
    name: ClassVar[str] = "upper"

    async def complete(self, request: ModelRequest) -> ModelResponse:
        return ModelResponse(
            message=Message.assistant((request.messages[-1].content or "").upper())
        )


# --- the plugin_manager fixture -----------------------------------------------------------


def test_plugin_manager_fixture_has_builtins_only(plugin_manager: AgentSDKPluginManager) -> None:
    assert {name: r.source for name, r in plugin_manager.records.items()} == dict.fromkeys(
        BUILTIN_PLUGINS, "builtin"
    )
    assert plugin_manager.registry().names("model") == ["scripted"]
    assert plugin_manager.policy == PluginPolicy()


def test_plugin_manager_fixture_ignores_the_process_environment(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENT_SDK_DISABLE_PLUGINS", "scripted")
    monkeypatch.setenv("AGENT_SDK_STRICT_PLUGINS", "1")
    monkeypatch.setenv("AGENT_SDK_LOAD_PLUGINS", "")
    pytester.makepyfile(
        """
        def test_env(plugin_manager):
            assert plugin_manager.records["scripted"].status == "loaded"
            assert not plugin_manager.policy.strict
            assert plugin_manager.policy.allowlist is None
        """
    )

    pytester.runpytest("-p", "no:cacheprovider", "-p", "no:asyncio").assert_outcomes(passed=1)


# --- register_plugin ----------------------------------------------------------------------


def test_register_plugin_with_hook_keywords_adds_its_components(
    plugin_manager: AgentSDKPluginManager, register_plugin: Any
) -> None:
    name = register_plugin(agent_sdk_register_tools=lambda: [echo], name="mine")

    assert name == "mine"
    assert plugin_manager.records["mine"].source == "registered"
    assert plugin_manager.registry().get("tool", "echo") is echo
    assert plugin_manager.records["mine"].components == {"tool": ["echo"]}


def test_register_plugin_accepts_an_object_with_hookimpls(
    plugin_manager: AgentSDKPluginManager, register_plugin: Any
) -> None:
    class Plugin:
        @hookimpl
        def agent_sdk_register_model_providers(self) -> list[type[ModelProvider]]:
            return [Upper]

    name = register_plugin(Plugin())

    assert plugin_manager.registry().entry("model", "upper").plugin == name


def test_register_plugin_names_anonymous_hook_plugins_uniquely(register_plugin: Any) -> None:
    first = register_plugin(agent_sdk_register_tools=lambda: [echo])
    second = register_plugin(agent_sdk_register_model_providers=lambda: [Upper])

    assert (first, second) == ("test-plugin-1", "test-plugin-2")


def test_register_plugin_unregisters_at_teardown(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.fixture
        def watched(plugin_manager):
            yield plugin_manager
            # torn down after register_plugin, which the test requested later
            assert plugin_manager.get_plugin("mine") is None
            assert "mine" not in plugin_manager.records
            assert plugin_manager.registry().names("tool") == []

        def test_registers(watched, register_plugin):
            register_plugin(agent_sdk_register_tools=lambda: [], name="mine")
            assert watched.get_plugin("mine") is not None
        """
    )

    pytester.runpytest("-p", "no:cacheprovider", "-p", "no:asyncio").assert_outcomes(passed=1)


def test_register_plugin_rejects_a_misspelled_hook(
    plugin_manager: AgentSDKPluginManager, register_plugin: Any
) -> None:
    with pytest.raises(PluginError, match="agent_sdk_register_tool"):
        register_plugin(agent_sdk_register_tool=lambda: [echo], name="typo")

    assert plugin_manager.get_plugin("typo") is None
    plugin_manager.check_pending()


def test_register_plugin_refuses_a_taken_name(register_plugin: Any) -> None:
    with pytest.raises(PluginError, match="scripted"):
        register_plugin(agent_sdk_register_tools=lambda: [echo], name="scripted")


def test_register_plugin_refuses_a_blocked_name(
    plugin_manager: AgentSDKPluginManager, register_plugin: Any
) -> None:
    plugin_manager.set_blocked("nope")

    with pytest.raises(PluginError, match="'nope': that name is blocked"):
        register_plugin(agent_sdk_register_tools=lambda: [echo], name="nope")


def test_register_plugin_needs_a_plugin_or_hooks(register_plugin: Any) -> None:
    with pytest.raises(PluginError, match="needs a plugin object or hook functions"):
        register_plugin()


# --- registry validation ------------------------------------------------------------------


def test_registration_hook_returning_an_instance_fails_the_plugin(
    plugin_manager: AgentSDKPluginManager, register_plugin: Any
) -> None:
    register_plugin(agent_sdk_register_tools=lambda: [echo()], name="instance")

    registry = plugin_manager.registry()

    record = plugin_manager.records["instance"]
    assert record.status == "failed"
    assert record.error is not None
    assert "returned <echo_tool tool:echo>; expected a subclass of" in record.error
    assert "return the class itself, not an instance" in record.error
    assert registry.names("tool") == []
    assert plugin_manager.get_plugin("instance") is None


def test_registration_hook_returning_a_non_list_fails_the_plugin(
    plugin_manager: AgentSDKPluginManager, register_plugin: Any
) -> None:
    register_plugin(agent_sdk_register_tools=lambda: echo, name="bare")

    plugin_manager.registry()

    record = plugin_manager.records["bare"]
    assert record.status == "failed"
    assert record.error is not None
    assert "must return a list of classes" in record.error


def test_component_with_an_invalid_name_fails_the_plugin(
    plugin_manager: AgentSDKPluginManager, register_plugin: Any
) -> None:
    badly_named = tool(name="Bad Name", threaded=False)(echo.function)
    register_plugin(agent_sdk_register_tools=lambda: [badly_named], name="badname")

    plugin_manager.registry()

    assert plugin_manager.records["badname"].status == "failed"
    assert "'Bad Name' must match" in (plugin_manager.records["badname"].error or "")


def test_component_without_a_pydantic_config_fails_the_plugin(
    plugin_manager: AgentSDKPluginManager, register_plugin: Any
) -> None:
    class Loose(Upper):
        name: ClassVar[str] = "loose"
        Config = dict  # type: ignore[assignment]

    register_plugin(agent_sdk_register_model_providers=lambda: [Loose], name="loose")

    plugin_manager.registry()

    assert "Config must be a pydantic model" in (plugin_manager.records["loose"].error or "")


def test_one_plugin_failing_registration_leaves_the_others(
    plugin_manager: AgentSDKPluginManager, register_plugin: Any
) -> None:
    def explode() -> list[type[Tool]]:
        raise RuntimeError("no tools today")

    register_plugin(agent_sdk_register_tools=explode, name="explodes")
    register_plugin(agent_sdk_register_tools=lambda: [echo], name="fine")

    registry = plugin_manager.registry()

    assert plugin_manager.records["explodes"].error == "RuntimeError: no tools today"
    assert registry.entry("tool", "echo").plugin == "fine"


def test_duplicate_between_two_plugins_raises_naming_both(
    plugin_manager: AgentSDKPluginManager, register_plugin: Any
) -> None:
    register_plugin(agent_sdk_register_tools=lambda: [echo], name="first")
    register_plugin(agent_sdk_register_tools=lambda: [other_echo], name="second")

    with pytest.raises(DuplicateComponentError) as caught:
        plugin_manager.registry()

    message = str(caught.value)
    assert "tool named 'echo'" in message
    assert "first (registered)" in message
    assert "second (registered)" in message
    assert "AGENT_SDK_DISABLE_PLUGINS=" in message


def test_same_name_in_two_kinds_is_not_a_duplicate(
    plugin_manager: AgentSDKPluginManager, register_plugin: Any
) -> None:
    class EchoModel(Upper):
        name: ClassVar[str] = "echo"

    register_plugin(agent_sdk_register_tools=lambda: [echo], name="tools")
    register_plugin(agent_sdk_register_model_providers=lambda: [EchoModel], name="models")

    registry = plugin_manager.registry()

    assert registry.get("tool", "echo") is echo
    assert registry.get("model", "echo") is EchoModel


def test_registry_is_rebuilt_when_plugins_change(
    plugin_manager: AgentSDKPluginManager, register_plugin: Any
) -> None:
    before = plugin_manager.registry()
    name = register_plugin(agent_sdk_register_tools=lambda: [echo])
    during = plugin_manager.registry()
    plugin_manager.unregister(name=name)

    assert before.names("tool") == []
    assert during.names("tool") == ["echo"]
    assert plugin_manager.registry().names("tool") == []


def test_unknown_component_error_lists_what_is_registered(
    plugin_manager: AgentSDKPluginManager,
) -> None:
    with pytest.raises(UnknownComponentError) as caught:
        plugin_manager.registry().get("model", "gpt-99")

    assert "no model named 'gpt-99' is registered (registered: scripted)" in str(caught.value)
    assert "agent-sdk plugins list" in str(caught.value)


def test_plugin_records_serialise_to_json(plugin_manager: AgentSDKPluginManager) -> None:
    plugin_manager.registry()

    records = json.loads(json.dumps([r.to_dict() for r in plugin_manager.records.values()]))
    [record] = [r for r in records if r["name"] == "scripted"]

    assert record == {
        "name": "scripted",
        "source": "builtin",
        "status": "loaded",
        "module": "agent_sdk.testing.scripted",
        "distribution": "agent-sdk",
        "version": record["version"],
        "error": None,
        "components": {"model": ["scripted"]},
    }


def test_all_plugin_errors_are_agent_sdk_errors() -> None:
    for error in (PluginError, DuplicateComponentError, UnknownComponentError):
        assert issubclass(error, AgentSDKError)


# --- policy -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, PluginPolicy()),
        ({"AGENT_SDK_STRICT_PLUGINS": "1"}, PluginPolicy(strict=True)),
        ({"AGENT_SDK_STRICT_PLUGINS": "Yes"}, PluginPolicy(strict=True)),
        ({"AGENT_SDK_STRICT_PLUGINS": "0"}, PluginPolicy()),
        ({"AGENT_SDK_LOAD_PLUGINS": ""}, PluginPolicy(allowlist=frozenset())),
        ({"AGENT_SDK_LOAD_PLUGINS": "a, b,,"}, PluginPolicy(allowlist=frozenset({"a", "b"}))),
        ({"AGENT_SDK_DISABLE_PLUGINS": "x,y"}, PluginPolicy(disabled=frozenset({"x", "y"}))),
    ],
)
def test_policy_is_read_from_the_environment(env: dict[str, str], expected: PluginPolicy) -> None:
    assert PluginPolicy.from_env(env) == expected


def test_policy_disabled_merges_config_and_environment() -> None:
    policy = PluginPolicy.from_env({"AGENT_SDK_DISABLE_PLUGINS": "b"}, disabled=["a"])

    assert policy.disabled == frozenset({"a", "b"})


def test_disabled_builtin_is_blocked_not_registered() -> None:
    pm = get_plugin_manager(load_entrypoints=False, disabled=["scripted"], env={})

    assert pm.records["scripted"].status == "blocked"
    assert pm.get_plugin("scripted") is None
    assert pm.registry().names("model") == []


# --- make_config --------------------------------------------------------------------------


async def test_make_config_validates_toml_against_the_plugins(make_config: Any) -> None:
    config = make_config(
        """
        [models.fake]
        provider = "scripted"
        responses = [{ content = "hello" }]
        """
    )

    options = config.models["fake"].options
    model = ScriptedModel(build_component_config(ScriptedModel, config, "scripted", options))
    response = await model.complete(ModelRequest(messages=(Message.user("hi"),)))
    assert response.message.content == "hello"


def test_make_config_reports_invalid_scripted_responses(make_config: Any) -> None:
    with pytest.raises(ConfigError) as caught:
        make_config('[models.fake]\nprovider = "scripted"\nresponses = [{ contnt = "hi" }]\n')

    assert "models.fake.responses" in str(caught.value)
    assert "contnt" in str(caught.value)


def test_make_config_reports_unknown_plugin_tables(make_config: Any) -> None:
    with pytest.raises(ConfigError, match=r"plugins\.nosuch"):
        make_config({"plugins": {"nosuch": {"a": 1}}})


def test_make_config_ignores_the_process_environment(
    make_config: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENT_SDK__LOGGING__LEVEL", "debug")

    assert make_config("").logging.level == "info"
    assert make_config("", env={"AGENT_SDK__LOGGING__LEVEL": "debug"}).logging.level == "debug"


def test_make_config_reads_a_file(make_config: Any, tmp_path: Path) -> None:
    path = tmp_path / "agent-sdk.toml"
    path.write_text('[logging]\nlevel = "error"\n')

    config = make_config(path)

    assert (config.logging.level, config.source) == ("error", str(path))


def test_make_config_sees_plugins_registered_in_the_test(
    make_config: Any, register_plugin: Any
) -> None:
    class Shouty(Upper):
        name: ClassVar[str] = "shouty"

        class Config(EmptyConfig):
            volume: int = 11

    register_plugin(agent_sdk_register_model_providers=lambda: [Shouty], name="shouty")

    assert make_config({"plugins": {"shouty": {"volume": 3}}}).plugins.settings("shouty") == {
        "volume": 3
    }
    with pytest.raises(ConfigError, match=r"plugins\.shouty\.volume"):
        make_config({"plugins": {"shouty": {"volume": "loud"}}})


# --- pytest integration -------------------------------------------------------------------


def test_services_marker_is_declared_for_strict_markers(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.services
        def test_marked():
            pass
        """
    )

    pytester.runpytest(
        "-p", "no:cacheprovider", "-p", "no:asyncio", "--strict-markers"
    ).assert_outcomes(passed=1)
