"""Configuration: file discovery, TOML errors, core and plugin validation, env overrides, schema."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import jsonschema
import pytest
from pydantic import BaseModel, Field

from agent_sdk.config import (
    Config,
    build_component_config,
    find_config_file,
    full_schema,
    load_config,
    merge_config_schemas,
    read_toml,
)
from agent_sdk.errors import ConfigError, PluginError
from agent_sdk.kinds.base import EmptyConfig
from agent_sdk.kinds.model import ModelProvider
from agent_sdk.kinds.tool import Tool
from agent_sdk.plugins import AgentSDKPluginManager, get_plugin_manager, module_plugin
from agent_sdk.secrets import SecretRef

# --- an in-memory plugin "acme": a tool and a model provider sharing one Config ---------------


class RetryPolicy(EmptyConfig):
    attempts: int = Field(3, ge=1, description="How many times to try.")
    backoff: Literal["none", "linear", "exponential"] = Field(
        "exponential", description="Delay growth between attempts."
    )


class AcmeConfig(EmptyConfig):
    url: str = Field(description="Service base URL.")
    timeout_s: float = Field(10.0, description="Seconds per request.")
    mode: Literal["fast", "careful"] = Field("fast", description="Speed/quality trade-off.")
    retry: RetryPolicy = Field(default_factory=RetryPolicy, description="Retry policy.")
    api_key: SecretRef | None = Field(None, description="Service credential (a reference).")


class AcmeTool(Tool):
    name = "acme_search"
    Config = AcmeConfig

    async def run(self, args: object, ctx: object) -> str:
        return "ok"


class AcmeModel(ModelProvider):
    name = "acme"
    Config = AcmeConfig

    async def complete(self, request: object) -> object:
        raise NotImplementedError


def acme_plugin(**extra_hooks: object) -> object:
    return module_plugin(
        "acme",
        agent_sdk_register_tools=lambda: [AcmeTool],
        agent_sdk_register_model_providers=lambda: [AcmeModel],
        **extra_hooks,
    )


@pytest.fixture
def pm() -> AgentSDKPluginManager:
    """Builtins only (no entry points, no AGENT_SDK_* variables) plus the acme plugin."""
    manager = get_plugin_manager(load_entrypoints=False, env={})
    manager.register(acme_plugin(), name="acme")
    return manager


def issues_by_path(exc: pytest.ExceptionInfo[ConfigError]) -> dict[str, str]:
    return {issue.key_path: str(issue) for issue in exc.value.issues}


# --- file discovery ----------------------------------------------------------------------


def test_explicit_path_wins_over_env_and_working_directory(tmp_path: Path) -> None:
    explicit, from_env = tmp_path / "explicit.toml", tmp_path / "env.toml"
    explicit.write_text("")
    from_env.write_text("")
    (tmp_path / "agent-sdk.toml").write_text("")
    found = find_config_file(explicit, env={"AGENT_SDK_CONFIG": str(from_env)}, cwd=tmp_path)
    assert found == explicit


def test_env_variable_wins_over_working_directory(tmp_path: Path) -> None:
    from_env = tmp_path / "env.toml"
    from_env.write_text("")
    (tmp_path / "agent-sdk.toml").write_text("")
    assert find_config_file(env={"AGENT_SDK_CONFIG": str(from_env)}, cwd=tmp_path) == from_env


def test_agent_sdk_toml_in_working_directory_is_found(tmp_path: Path) -> None:
    (tmp_path / "agent-sdk.toml").write_text("")
    assert find_config_file(env={}, cwd=tmp_path) == tmp_path / "agent-sdk.toml"


def test_no_file_anywhere_means_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert find_config_file(env={}) is None
    config = load_config(env={})
    assert config.source == "<defaults>"
    assert config == Config(source="<defaults>")


def test_load_config_reads_the_discovered_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "agent-sdk.toml").write_text('[logging]\nlevel = "debug"\n')
    monkeypatch.chdir(tmp_path)
    config = load_config(env={})
    assert config.logging.level == "debug"
    assert Path(config.source).resolve() == (tmp_path / "agent-sdk.toml").resolve()


@pytest.mark.parametrize("origin", ["--config", "AGENT_SDK_CONFIG"])
def test_missing_explicit_file_is_an_error_naming_it(tmp_path: Path, origin: str) -> None:
    missing = tmp_path / "nope.toml"
    (tmp_path / "agent-sdk.toml").write_text("")  # must not be used as a fallback
    path, env = (missing, {}) if origin == "--config" else (None, {origin: str(missing)})
    with pytest.raises(ConfigError) as exc:
        find_config_file(path, env=env, cwd=tmp_path)
    assert str(missing) in str(exc.value)
    assert origin in str(exc.value)
    assert "not found" in str(exc.value)


def test_invalid_toml_error_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "agent-sdk.toml"
    path.write_text('[logging]\nlevel = "debug"\nformat = json\n')
    with pytest.raises(ConfigError) as exc:
        read_toml(path)
    assert str(path) in str(exc.value)
    assert "line 3" in str(exc.value)


def test_invalid_toml_text_names_its_source() -> None:
    with pytest.raises(ConfigError, match=r"my-source.*invalid TOML.*line 2"):
        load_config(text="a = 1\nb = \n", env={}, source="my-source")


def test_at_most_one_of_path_text_data() -> None:
    with pytest.raises(ValueError, match="at most one"):
        load_config(text="", data={}, env={})


# --- core sections -----------------------------------------------------------------------


def test_unknown_core_key_is_an_error_with_dotted_key_path() -> None:
    with pytest.raises(ConfigError) as exc:
        load_config(text='[logging]\ncolour = "red"\n', env={}, source="a.toml")
    (issue,) = exc.value.issues
    assert (issue.source, issue.key_path, issue.message) == (
        "a.toml",
        "logging.colour",
        "unknown key",
    )


def test_unknown_top_level_section_is_an_error() -> None:
    with pytest.raises(ConfigError) as exc:
        load_config(text="[loggin]\nlevel = 'debug'\n", env={})
    assert [i.key_path for i in exc.value.issues] == ["loggin"]


def test_wrong_type_says_what_was_expected_and_what_was_found() -> None:
    with pytest.raises(ConfigError) as exc:
        load_config(text='[logging]\nlevel = "loud"\n[storage]\nbackend = 5\n', env={})
    found = issues_by_path(exc)
    assert "'debug'" in found["logging.level"]
    assert "found 'loud'" in found["logging.level"]
    assert "valid string" in found["storage.backend"]
    assert "found 5" in found["storage.backend"]


def test_every_problem_is_reported_at_once(pm: AgentSDKPluginManager) -> None:
    text = """
[logging]
level = "loud"
colour = "red"

[models.fast]
provider = "no-such-provider"

[plugins.acme]
url = 3
bogus = true
"""
    with pytest.raises(ConfigError) as exc:
        load_config(text=text, env={}, pm=pm)
    assert sorted(issues_by_path(exc)) == [
        "logging.colour",
        "logging.level",
        "models.fast.provider",
        "plugins.acme.bogus",
        "plugins.acme.url",
    ]
    assert "(5 problems)" in str(exc.value)


def test_model_options_are_checked_even_when_a_core_section_is_invalid(
    pm: AgentSDKPluginManager,
) -> None:
    text = '[logging]\nlevel = "loud"\n[models.fast]\nprovider = "acme"\nurll = "x"\n'
    with pytest.raises(ConfigError) as exc:
        load_config(text=text, env={}, pm=pm)
    assert {"logging.level", "models.fast.urll"} <= set(issues_by_path(exc))


# --- [plugins.<name>] --------------------------------------------------------------------


def test_valid_plugin_table_is_accepted(pm: AgentSDKPluginManager) -> None:
    text = """
[plugins.acme]
url = "https://acme.test"
timeout_s = 2.5
mode = "careful"
retry = { attempts = 5, backoff = "linear" }
api_key = { env = "ACME_KEY" }
"""
    config = load_config(text=text, env={}, pm=pm)
    assert config.plugins.settings("acme")["retry"] == {"attempts": 5, "backoff": "linear"}
    assert config.plugins.configured() == ["acme"]


@pytest.mark.parametrize(
    ("line", "key_path", "expected"),
    [
        ("url = 3", "plugins.acme.url", "3 is not of type 'string'"),
        ('timeout_s = "soon"', "plugins.acme.timeout_s", "'soon' is not of type 'number'"),
        ('mode = "reckless"', "plugins.acme.mode", "'reckless' is not one of ['fast', 'careful']"),
        ("retry = { attempts = 0 }", "plugins.acme.retry.attempts", "less than the minimum of 1"),
        ('retry = { backoff = "x" }', "plugins.acme.retry.backoff", "'x' is not one of"),
        ('api_key = { vault = "x" }', "plugins.acme.api_key", "not valid under any"),
    ],
)
def test_plugin_table_is_validated_against_the_plugin_schema(
    pm: AgentSDKPluginManager, line: str, key_path: str, expected: str
) -> None:
    url = "" if line.startswith("url") else 'url = "https://acme.test"\n'
    text = f"[plugins.acme]\n{url}{line}\n"
    with pytest.raises(ConfigError) as exc:
        load_config(text=text, env={}, pm=pm, source="acme.toml")
    found = issues_by_path(exc)
    assert list(found) == [key_path]
    assert expected in found[key_path]
    assert found[key_path].startswith("acme.toml: ")


def test_type_error_hint_quotes_the_setting_description(pm: AgentSDKPluginManager) -> None:
    with pytest.raises(ConfigError) as exc:
        load_config(text='[plugins.acme]\nurl = "u"\ntimeout_s = "x"\n', env={}, pm=pm)
    assert exc.value.issues[0].hint == "expected: Seconds per request."


def test_missing_required_plugin_key_names_its_path(pm: AgentSDKPluginManager) -> None:
    with pytest.raises(ConfigError) as exc:
        load_config(text="[plugins.acme]\ntimeout_s = 1\n", env={}, pm=pm)
    (issue,) = exc.value.issues
    assert (issue.key_path, issue.message) == ("plugins.acme.url", "required key is missing")


def test_unknown_plugin_key_error_names_file_and_key_path_and_lists_allowed_keys(
    pm: AgentSDKPluginManager,
) -> None:
    text = '[plugins.acme]\nurl = "u"\nurl_base = "x"\nretry = { tries = 2 }\n'
    with pytest.raises(ConfigError) as exc:
        load_config(text=text, env={}, pm=pm, source="acme.toml")
    found = {i.key_path: i for i in exc.value.issues}
    assert sorted(found) == ["plugins.acme.retry.tries", "plugins.acme.url_base"]
    top = found["plugins.acme.url_base"]
    assert (top.source, top.message) == ("acme.toml", "unknown key")
    assert top.hint == "allowed keys: api_key, mode, retry, timeout_s, url"
    assert found["plugins.acme.retry.tries"].hint == "allowed keys: attempts, backoff"


def test_plaintext_secret_in_plugin_table_is_rejected_without_echoing_it(
    pm: AgentSDKPluginManager,
) -> None:
    planted = "sk-live-PLANTED-0123456789"
    with pytest.raises(ConfigError) as exc:
        load_config(text=f'[plugins.acme]\nurl = "u"\napi_key = "{planted}"\n', env={}, pm=pm)
    (issue,) = exc.value.issues
    assert issue.key_path == "plugins.acme.api_key"
    assert planted not in str(exc.value)
    assert planted not in repr(issue.to_dict())
    assert 'env = "NAME"' in (issue.hint or "")


def test_secret_ref_with_both_env_and_keyring_is_rejected_before_any_work(
    pm: AgentSDKPluginManager,
) -> None:
    text = '[plugins.acme]\nurl = "u"\napi_key = { env = "A", keyring = "svc/user" }\n'
    with pytest.raises(ConfigError) as exc:
        load_config(text=text, env={}, pm=pm)
    assert [i.key_path for i in exc.value.issues] == ["plugins.acme.api_key"]


def test_table_for_a_plugin_that_is_not_installed_is_an_error_with_a_hint(
    pm: AgentSDKPluginManager,
) -> None:
    with pytest.raises(ConfigError) as exc:
        load_config(text="[plugins.openai]\nmodel = 'x'\n", env={}, pm=pm)
    (issue,) = exc.value.issues
    assert issue.key_path == "plugins.openai"
    assert "no plugin named 'openai' is installed" in issue.message
    assert "acme" in issue.message  # lists what is installed
    assert issue.hint is not None
    assert "pip install agent-sdk-openai" in issue.hint


def test_table_of_a_blocked_plugin_is_not_validated() -> None:
    pm = get_plugin_manager(load_entrypoints=False, disabled=["scripted"], env={})
    assert pm.records["scripted"].status == "blocked"
    config = load_config(text="[plugins.scripted]\nanything = 1\n", env={}, pm=pm)
    assert config.plugins.settings("scripted") == {"anything": 1}


def test_table_of_a_failed_plugin_is_an_error(pm: AgentSDKPluginManager) -> None:
    def broken() -> list[type]:
        raise RuntimeError("registration exploded")

    pm.register(module_plugin("broken", agent_sdk_register_tools=broken), name="broken")
    with pytest.raises(ConfigError) as exc:
        load_config(text="[plugins.broken]\nx = 1\n", env={}, pm=pm)
    (issue,) = exc.value.issues
    assert issue.key_path == "plugins.broken"
    assert "failed to load" in issue.message
    assert "registration exploded" in issue.message
    assert "agent-sdk plugins list" in (issue.hint or "")


def test_plugin_tables_are_not_validated_without_a_plugin_manager() -> None:
    config = load_config(text="[plugins.whatever]\nx = 1\n", env={})
    assert config.plugins.settings("whatever") == {"x": 1}


def test_duplicate_component_names_are_a_configuration_error(
    pm: AgentSDKPluginManager,
) -> None:
    pm.register(module_plugin("copycat", agent_sdk_register_tools=lambda: [AcmeTool]))
    with pytest.raises(ConfigError) as exc:
        load_config(text="", env={}, pm=pm)
    assert "acme_search" in str(exc.value)
    assert "copycat" in str(exc.value)


def test_unknown_storage_backend_is_an_error_at_its_key(pm: AgentSDKPluginManager) -> None:
    with pytest.raises(ConfigError) as exc:
        load_config(text='[storage]\nbackend = "mongo"\n', env={}, pm=pm)
    assert [i.key_path for i in exc.value.issues] == ["storage.backend"]
    assert "'mongo'" in exc.value.issues[0].message


# --- [models.<name>] ---------------------------------------------------------------------


def test_unknown_model_provider_is_an_error_at_provider_key(pm: AgentSDKPluginManager) -> None:
    with pytest.raises(ConfigError) as exc:
        load_config(text='[models.fast]\nprovider = "gpt"\n', env={}, pm=pm)
    (issue,) = exc.value.issues
    assert issue.key_path == "models.fast.provider"
    assert "'gpt'" in issue.message
    assert "acme" in issue.message  # the registered providers are listed
    assert "scripted" in issue.message


def test_model_without_provider_is_an_error() -> None:
    with pytest.raises(ConfigError) as exc:
        load_config(text="[models.fast]\nurl = 'x'\n", env={})
    assert [i.key_path for i in exc.value.issues] == ["models.fast.provider"]


def test_model_options_are_validated_against_the_provider_config(
    pm: AgentSDKPluginManager,
) -> None:
    text = '[models.fast]\nprovider = "acme"\nurl = "u"\nmode = "turbo"\ntemperature = 1\n'
    with pytest.raises(ConfigError) as exc:
        load_config(text=text, env={}, pm=pm)
    found = issues_by_path(exc)
    assert sorted(found) == ["models.fast.mode", "models.fast.temperature"]
    assert "unknown key" in found["models.fast.temperature"]


def test_model_option_required_by_provider_may_come_from_the_plugin_table(
    pm: AgentSDKPluginManager,
) -> None:
    text = '[plugins.acme]\nurl = "https://acme.test"\n[models.fast]\nprovider = "acme"\n'
    config = load_config(text=text, env={}, pm=pm)
    assert config.models["fast"].provider == "acme"
    with pytest.raises(ConfigError) as exc:
        load_config(text='[models.fast]\nprovider = "acme"\n', env={}, pm=pm)
    assert [i.key_path for i in exc.value.issues] == ["models.fast.url"]


# --- environment overrides ---------------------------------------------------------------


def test_env_override_sets_a_core_value() -> None:
    config = load_config(
        text='[logging]\nlevel = "info"\n', env={"AGENT_SDK__LOGGING__LEVEL": "debug"}
    )
    assert config.logging.level == "debug"


def test_env_override_sets_a_nested_plugin_key(pm: AgentSDKPluginManager) -> None:
    env = {
        "AGENT_SDK__PLUGINS__ACME__URL": "https://from-env.test",
        "AGENT_SDK__PLUGINS__ACME__RETRY__ATTEMPTS": "7",
    }
    config = load_config(text='[plugins.acme]\nurl = "https://file.test"\n', env=env, pm=pm)
    assert config.plugins.settings("acme") == {
        "url": "https://from-env.test",
        "retry": {"attempts": 7},
    }


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("10", 10),
        ("2.5", 2.5),
        ("true", True),
        ('["a", "b"]', ["a", "b"]),
        ("hello world", "hello world"),
    ],
)
def test_env_override_values_are_read_as_toml_literals(raw: str, value: object) -> None:
    config = load_config(text="", env={"AGENT_SDK__PLUGINS__X__V": raw})
    assert config.plugins.settings("x") == {"v": value}


def test_env_override_of_disabled_list() -> None:
    config = load_config(text="", env={"AGENT_SDK__PLUGINS__DISABLED": '["a", "b"]'})
    assert config.plugins.disabled == ["a", "b"]


def test_error_from_env_override_names_the_variable(pm: AgentSDKPluginManager) -> None:
    env = {"AGENT_SDK__LOGGING__LEVEL": "10", "AGENT_SDK__PLUGINS__ACME__TIMEOUT_S": "soon"}
    with pytest.raises(ConfigError) as exc:
        load_config(text='[plugins.acme]\nurl = "u"\n', env=env, pm=pm, source="f.toml")
    sources = {i.key_path: i.source for i in exc.value.issues}
    assert sources == {
        "logging.level": "environment variable AGENT_SDK__LOGGING__LEVEL",
        "plugins.acme.timeout_s": "environment variable AGENT_SDK__PLUGINS__ACME__TIMEOUT_S",
    }


def test_unrelated_env_variables_are_ignored() -> None:
    env = {"AGENT_SDK_CONFIG_X": "1", "AGENT_SDK_LOAD_PLUGINS": "", "AGENT_SDK__": "x"}
    assert load_config(text="", env=env) == Config(source="<string>")


# --- agent_sdk_configure -----------------------------------------------------------------


def test_configure_hook_is_called_once_with_the_validated_config() -> None:
    calls: list[Config] = []
    pm = get_plugin_manager(load_entrypoints=False, env={})
    pm.register(acme_plugin(agent_sdk_configure=lambda config: calls.append(config)), name="acme")
    config = load_config(text='[plugins.acme]\nurl = "u"\n', env={}, pm=pm)
    assert calls == [config]
    assert calls[0].plugins.settings("acme") == {"url": "u"}


def test_configure_hook_is_not_called_for_an_invalid_config() -> None:
    calls: list[Config] = []
    pm = get_plugin_manager(load_entrypoints=False, env={})
    pm.register(acme_plugin(agent_sdk_configure=lambda config: calls.append(config)), name="acme")
    with pytest.raises(ConfigError):
        load_config(text="[plugins.acme]\n", env={}, pm=pm)
    assert calls == []


def test_config_error_raised_by_configure_hook_propagates() -> None:
    def reject(config: Config) -> None:
        if config.plugins.settings("acme").get("mode") == "careful":
            raise ConfigError("careful mode needs retry.attempts >= 2")

    pm = get_plugin_manager(load_entrypoints=False, env={})
    pm.register(acme_plugin(agent_sdk_configure=reject), name="acme")
    with pytest.raises(ConfigError, match="careful mode needs"):
        load_config(text='[plugins.acme]\nurl = "u"\nmode = "careful"\n', env={}, pm=pm)


# --- merge_config_schemas / build_component_config ---------------------------------------


def test_components_sharing_one_config_merge_into_one_table_schema() -> None:
    schema = merge_config_schemas("acme", [("tool:a", AcmeConfig), ("model:b", AcmeConfig)])
    assert schema["title"] == "[plugins.acme]"
    assert schema["additionalProperties"] is False
    assert list(schema["properties"]) == ["api_key", "mode", "retry", "timeout_s", "url"]
    assert schema["required"] == ["url"]
    assert set(schema["$defs"]) == {"RetryPolicy", "SecretRef"}


def test_disjoint_configs_merge_their_properties_and_required_keys() -> None:
    class A(EmptyConfig):
        host: str

    class B(EmptyConfig):
        port: int = 80
        user: str

    schema = merge_config_schemas("p", [("tool:a", A), ("tool:b", B)])
    assert list(schema["properties"]) == ["host", "port", "user"]
    assert schema["required"] == ["host", "user"]


def test_conflicting_field_definitions_raise_plugin_error_naming_both() -> None:
    class A(EmptyConfig):
        timeout: int = 1

    class B(EmptyConfig):
        timeout: str = "1s"

    with pytest.raises(PluginError) as exc:
        merge_config_schemas("p", [("tool:a", A), ("model:b", B)])
    assert "tool:a" in str(exc.value)
    assert "model:b" in str(exc.value)
    assert "'timeout'" in str(exc.value)


def test_conflicting_nested_type_definitions_raise_plugin_error() -> None:
    def inner_model(kind: type) -> type[BaseModel]:
        class Inner(BaseModel):
            x: kind  # type: ignore[valid-type]

        return Inner

    class A(EmptyConfig):
        inner: inner_model(int) | None = None  # type: ignore[valid-type]

    class B(EmptyConfig):
        other: inner_model(str) | None = None  # type: ignore[valid-type]

    with pytest.raises(PluginError, match="'Inner'"):
        merge_config_schemas("p", [("tool:a", A), ("tool:b", B)])


def test_plugin_with_conflicting_configs_is_reported_at_its_table(
    pm: AgentSDKPluginManager,
) -> None:
    class Other(EmptyConfig):
        url: int = 0

    class OtherTool(AcmeTool):
        name = "acme_other"
        Config = Other

    pm.unregister(name="acme")
    pm.register(
        module_plugin("acme", agent_sdk_register_tools=lambda: [AcmeTool, OtherTool]),
        name="acme",
    )
    with pytest.raises(ConfigError) as exc:
        load_config(text='[plugins.acme]\nurl = "u"\n', env={}, pm=pm)
    assert [i.key_path for i in exc.value.issues] == ["plugins.acme"]
    assert "differently" in exc.value.issues[0].message


def test_build_component_config_merges_plugin_table_and_overrides(
    pm: AgentSDKPluginManager,
) -> None:
    config = load_config(
        text='[plugins.acme]\nurl = "https://a"\ntimeout_s = 5\nmode = "careful"\n', env={}, pm=pm
    )
    built = build_component_config(AcmeModel, config, "acme", {"timeout_s": 1.5})
    assert isinstance(built, AcmeConfig)
    assert (built.url, built.timeout_s, built.mode) == ("https://a", 1.5, "careful")


def test_build_component_config_ignores_table_keys_the_component_does_not_declare() -> None:
    class Small(EmptyConfig):
        url: str = "d"

    class SmallTool(AcmeTool):
        Config = Small

    config = load_config(data={"plugins": {"acme": {"url": "x", "mode": "fast"}}}, env={})
    assert build_component_config(SmallTool, config, "acme") == Small(url="x")


def test_build_component_config_errors_carry_the_key_path() -> None:
    config = load_config(data={"plugins": {"acme": {"url": "x"}}}, env={}, source="a.toml")
    with pytest.raises(ConfigError) as exc:
        build_component_config(AcmeModel, config, "acme", {"timeout_s": "soon"}, where="models.m")
    (issue,) = exc.value.issues
    assert (issue.source, issue.key_path) == ("a.toml", "models.m.timeout_s")
    assert "found 'soon'" in issue.message
    with pytest.raises(ConfigError) as exc:
        build_component_config(AcmeModel, load_config(data={}, env={}), "acme")
    assert [i.key_path for i in exc.value.issues] == ["plugins.acme.url"]


def test_build_component_config_never_echoes_a_plaintext_secret() -> None:
    planted = "sk-live-PLANTED-abcdef"
    config = load_config(data={"plugins": {"acme": {"url": "x", "api_key": planted}}}, env={})
    with pytest.raises(ConfigError) as exc:
        build_component_config(AcmeModel, config, "acme")
    assert [i.key_path for i in exc.value.issues] == ["plugins.acme.api_key"]
    assert planted not in str(exc.value)


# --- full schema -------------------------------------------------------------------------


def test_full_schema_is_a_valid_draft_2020_12_schema(pm: AgentSDKPluginManager) -> None:
    schema = full_schema(pm)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    loaded = {name for name, record in pm.records.items() if record.status == "loaded"}
    assert {"acme", "scripted"} <= loaded
    assert set(schema["properties"]["plugins"]["properties"]) == {"disabled", *loaded}
    assert "source" not in schema["properties"]


VALID_DOCUMENT = {
    "logging": {"level": "debug", "format": "json"},
    "models": {"fast": {"provider": "acme", "url": "u"}},
    "plugins": {
        "disabled": ["x"],
        "acme": {"url": "u", "retry": {"attempts": 2}, "api_key": {"keyring": "acme/me"}},
    },
}


def test_valid_document_validates_against_full_schema(pm: AgentSDKPluginManager) -> None:
    validator = jsonschema.Draft202012Validator(full_schema(pm))
    assert list(validator.iter_errors(VALID_DOCUMENT)) == []
    load_config(data=VALID_DOCUMENT, env={}, pm=pm)  # the loader agrees


@pytest.mark.parametrize(
    "document",
    [
        {"logging": {"level": "loud"}},
        {"logging": {"colour": "red"}},
        {"plugins": {"nobody": {}}},
        {"plugins": {"acme": {"url": 3}}},
        {"plugins": {"acme": {"url": "u", "retry": {"attempts": "many"}}}},  # via $ref
        {"plugins": {"acme": {"url": "u", "retry": {"tries": 1}}}},  # via $ref
        {"plugins": {"acme": {"url": "u", "api_key": {"vault": "x"}}}},  # via $ref
        {"plugins": {"acme": {"url": "u", "api_key": {"env": "A", "keyring": "a/b"}}}},
    ],
)
def test_invalid_documents_fail_full_schema_and_the_loader(
    pm: AgentSDKPluginManager, document: dict[str, object]
) -> None:
    validator = jsonschema.Draft202012Validator(full_schema(pm))
    assert list(validator.iter_errors(document)) != []
    with pytest.raises(ConfigError):
        load_config(data=document, env={}, pm=pm)


def test_plugin_defs_are_hoisted_and_every_ref_resolves(pm: AgentSDKPluginManager) -> None:
    schema = full_schema(pm)
    assert {"acme__RetryPolicy", "acme__SecretRef"} <= set(schema["$defs"])
    refs: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                refs.append(node["$ref"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    assert {"#/$defs/acme__RetryPolicy", "#/$defs/acme__SecretRef"} <= set(refs)
    unresolved = [r for r in refs if r.removeprefix("#/$defs/") not in schema["$defs"]]
    assert unresolved == []


def test_to_toml_dict_masks_sensitive_keys_but_keeps_references(
    pm: AgentSDKPluginManager, clean_redactor: object
) -> None:
    config = load_config(data=VALID_DOCUMENT, env={}, pm=pm)
    shown = config.to_toml_dict()
    assert shown["plugins"]["acme"]["api_key"] == {"keyring": "acme/me"}
    assert "source" not in shown
    data = load_config(data={"plugins": {"x": {"password": "hunter2hunter2"}}}, env={})
    assert data.to_toml_dict()["plugins"]["x"]["password"] == "***"
    assert data.to_toml_dict(redact=False)["plugins"]["x"]["password"] == "hunter2hunter2"


def test_unreadable_config_file_is_an_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read file") as exc:
        read_toml(tmp_path)  # a directory
    assert exc.value.issues[0].source == str(tmp_path)


def test_plugins_section_and_plugin_tables_must_be_tables(pm: AgentSDKPluginManager) -> None:
    with pytest.raises(ConfigError) as exc:
        load_config(text="plugins = 3\n", env={}, pm=pm)
    assert "plugins" in {i.key_path for i in exc.value.issues}
    with pytest.raises(ConfigError) as exc:
        load_config(text="[plugins]\nacme = 3\n", env={}, pm=pm)
    (issue,) = exc.value.issues
    assert (issue.key_path, issue.message) == ("plugins.acme", "expected a table, found 3")


def test_full_schema_leaves_out_a_plugin_whose_configs_conflict(
    pm: AgentSDKPluginManager,
) -> None:
    class Other(EmptyConfig):
        url: int = 0

    class BadA(AcmeTool):
        name = "bad_a"

    class BadB(AcmeTool):
        name = "bad_b"
        Config = Other

    pm.register(module_plugin("bad", agent_sdk_register_tools=lambda: [BadA, BadB]), name="bad")
    schema = full_schema(pm)
    assert "bad" not in schema["properties"]["plugins"]["properties"]


def test_a_plain_value_where_a_secret_reference_is_expected_is_never_echoed() -> None:
    from pydantic import BaseModel, ConfigDict

    from agent_sdk.errors import ConfigError
    from agent_sdk.kinds.alerts import Alert, AlertSink
    from agent_sdk.plugins import get_plugin_manager, module_plugin
    from agent_sdk.secrets import SecretRef  # noqa: F401 - pydantic resolves the annotation here

    class HookConfig(BaseModel):
        model_config = ConfigDict(extra="forbid")
        hook_url: SecretRef | None = None

    class Sink(AlertSink):
        name = "hooky"
        Config = HookConfig

        async def send(self, alert: Alert) -> None:
            return None

    pm = get_plugin_manager(load_entrypoints=False, env={})
    pm.register(module_plugin("hooky", agent_sdk_register_alert_sinks=lambda: [Sink]))
    pasted = "https://hooks.example.invalid/T000/B000/pasted-credential-value"
    with pytest.raises(ConfigError) as info:
        load_config(text=f'[plugins.hooky]\nhook_url = "{pasted}"\n', pm=pm, env={})
    assert "plugins.hooky.hook_url" in str(info.value)
    assert "pasted-credential-value" not in str(info.value)
