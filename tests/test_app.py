"""load_app: the one start-up path (config file → plugin manager → validation → components).

The ``demo`` plugin (tests/conftest.py) is a real installed distribution discovered through its
``agent_sdk`` entry point; ``AGENT_SDK_LOAD_PLUGINS=demo`` keeps every other installed plugin out.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from agent_sdk.app import App, load_app
from agent_sdk.errors import ConfigError, UnknownComponentError
from agent_sdk.plugins import get_plugin_manager, module_plugin

DEMO_TABLE = '[plugins.demo]\nendpoint = "https://demo.test"\ntimeout_s = 5\n'


def write_config(directory: Path, text: str) -> Path:
    path = directory / "agent-sdk.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_app_loads_installed_plugin_and_validates_its_table(
    demo_plugin: str, kernel_env: Path
) -> None:
    write_config(kernel_env, DEMO_TABLE)
    app = load_app()
    assert isinstance(app, App)
    assert Path(app.config.source).name == "agent-sdk.toml"
    assert app.pm.records["demo"].status == "loaded"
    assert app.pm.records["demo"].distribution == "agent-sdk-demo-fixture"
    assert app.registry.names("tool") == ["demo-tool"]


def test_app_reports_invalid_plugin_table_before_any_work(
    demo_plugin: str, kernel_env: Path
) -> None:
    write_config(kernel_env, '[plugins.demo]\ntimeout_s = "soon"\n')
    with pytest.raises(ConfigError) as exc:
        load_app()
    assert sorted(i.key_path for i in exc.value.issues) == [
        "plugins.demo.endpoint",
        "plugins.demo.timeout_s",
    ]
    assert sys.modules[demo_plugin].EVENTS == []  # agent_sdk_configure never ran


def test_disabled_plugin_is_never_imported(demo_plugin: str, kernel_env: Path) -> None:
    write_config(kernel_env, '[plugins]\ndisabled = ["demo"]\n\n' + DEMO_TABLE + "bogus = 1\n")
    app = load_app()
    assert demo_plugin not in sys.modules
    assert app.pm.records["demo"].status == "blocked"
    assert app.registry.names("tool") == []
    # control: without the block the same file is rejected (bogus key), so it was imported
    write_config(kernel_env, DEMO_TABLE + "bogus = 1\n")
    with pytest.raises(ConfigError, match=r"plugins\.demo\.bogus"):
        load_app()
    assert demo_plugin in sys.modules


def test_plugins_can_be_disabled_from_an_env_override(
    demo_plugin: str, kernel_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENT_SDK__PLUGINS__DISABLED", '["demo"]')
    app = load_app()
    assert app.pm.records["demo"].status == "blocked"
    assert demo_plugin not in sys.modules


def test_disabled_must_be_a_list_of_names(kernel_env: Path) -> None:
    path = write_config(kernel_env, '[plugins]\ndisabled = "demo"\n')
    with pytest.raises(ConfigError) as exc:
        load_app()
    (issue,) = exc.value.issues
    assert (issue.source, issue.key_path) == (str(path), "plugins.disabled")


def test_config_file_comes_from_agent_sdk_config(
    kernel_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_config(kernel_env, '[logging]\nlevel = "error"\n')
    other = tmp_path / "elsewhere.toml"
    other.write_text('[logging]\nlevel = "debug"\n')
    monkeypatch.setenv("AGENT_SDK_CONFIG", str(other))
    assert load_app().config.logging.level == "debug"
    assert load_app(kernel_env / "agent-sdk.toml").config.logging.level == "error"


def test_create_builds_a_component_from_the_plugin_table(
    demo_plugin: str, kernel_env: Path
) -> None:
    write_config(kernel_env, DEMO_TABLE)
    app = load_app()
    tool = app.create("tool", "demo-tool")
    assert type(tool).__name__ == "DemoTool"
    assert (tool.config.endpoint, tool.config.timeout_s) == ("https://demo.test", 5.0)
    tuned = app.create("tool", "demo-tool", {"timeout_s": 1})
    assert (tuned.config.endpoint, tuned.config.timeout_s) == ("https://demo.test", 1.0)


def test_create_model_merges_plugin_table_and_model_options(
    demo_plugin: str, kernel_env: Path
) -> None:
    write_config(
        kernel_env, DEMO_TABLE + '\n[models.quick]\nprovider = "demo-model"\ntimeout_s = 2\n'
    )
    app = load_app()
    quick = app.create_model("quick")
    assert type(quick).__name__ == "DemoModel"
    assert (quick.config.endpoint, quick.config.timeout_s) == ("https://demo.test", 2.0)
    by_provider = app.create_model("demo-model")
    assert by_provider.config.timeout_s == 5.0


def test_create_model_error_names_the_models_key_path(demo_plugin: str, kernel_env: Path) -> None:
    app = load_app()
    with pytest.raises(ConfigError) as exc:
        app.create("model", "demo-model", {"endpoint": "e", "timeout_s": "x"}, where="models.quick")
    assert [i.key_path for i in exc.value.issues] == ["models.quick.timeout_s"]


def test_unknown_names_raise_unknown_component_error_listing_registered_names(
    demo_plugin: str, kernel_env: Path
) -> None:
    app = load_app()
    with pytest.raises(UnknownComponentError) as exc:
        app.create_model("gpt-9")
    assert "'gpt-9'" in str(exc.value)
    assert "demo-model" in str(exc.value)
    assert "scripted" in str(exc.value)
    with pytest.raises(UnknownComponentError, match=r"no tool named 'nope'.*demo-tool"):
        app.create("tool", "nope")


def test_builtin_scripted_model_is_available_without_entry_points(kernel_env: Path) -> None:
    write_config(kernel_env, '[models.fake]\nprovider = "scripted"\n')
    app = load_app(load_entrypoints=False)
    assert type(app.create_model("fake")).__name__ == "ScriptedModel"


def test_configure_runs_once_and_startup_shutdown_once_each(
    demo_plugin: str, kernel_env: Path
) -> None:
    write_config(kernel_env, DEMO_TABLE)
    app = load_app()
    events = sys.modules[demo_plugin].EVENTS
    assert events == [("configure", app.config)]
    app.shutdown()  # not started: nothing to release
    app.startup()
    app.startup()
    app.shutdown()
    app.shutdown()
    assert [name for name, _ in events] == ["configure", "startup", "shutdown"]
    assert all(config is app.config for _, config in events)


def test_load_app_accepts_a_prepared_plugin_manager(kernel_env: Path) -> None:
    calls: list[str] = []
    pm = get_plugin_manager(load_entrypoints=False, env={})
    pm.register(module_plugin("mine", agent_sdk_startup=lambda config: calls.append("up")))
    app = load_app(pm=pm, env={})
    assert app.pm is pm
    app.startup()
    assert calls == ["up"]


def test_load_app_uses_the_given_env_not_os_environ(
    kernel_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENT_SDK__LOGGING__LEVEL", "loud")
    app = load_app(env={"AGENT_SDK__LOGGING__LEVEL": "debug"}, load_entrypoints=False)
    assert app.config.logging.level == "debug"
    assert app.env == {"AGENT_SDK__LOGGING__LEVEL": "debug"}
