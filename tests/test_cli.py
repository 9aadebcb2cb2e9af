"""The ``agent-sdk`` command line, run in-process through ``agent_sdk.cli.main(argv)``.

Every test runs in an empty working directory with ``AGENT_SDK_LOAD_PLUGINS=""`` (or ``=demo``),
so only the builtins and the test's own plugins take part. One test runs the installed console
script in a subprocess.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from agent_sdk import __version__
from agent_sdk.cli import main
from agent_sdk.plugins import BUILTIN_PLUGINS
from agent_sdk.secrets import REDACTOR

pytestmark = pytest.mark.usefixtures("kernel_env", "fresh_structlog", "clean_redactor")

PLANTED = "sk-live-PLANTED-0a1b2c3d4e5f"
DEMO_TABLE = '[plugins.demo]\nendpoint = "https://demo.test"\n'


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def write_config(directory: Path, text: str) -> Path:
    path = directory / "agent-sdk.toml"
    path.write_text(text, encoding="utf-8")
    return path


# --- top level ---------------------------------------------------------------------------


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_lists_every_command(capsys: pytest.CaptureFixture[str], flag: str) -> None:
    code, out, _ = run(capsys, flag)
    assert code == 0
    for command in ("config", "keys", "plugins", "schema", "version"):
        assert f"  {command} " in out
    assert "--log-format" in out


def test_subcommand_help_works(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "config", "--help")
    assert code == 0
    assert "validate" in out
    assert "show" in out


def test_unknown_command_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "frobnicate")
    assert code == 2
    assert "No such command 'frobnicate'" in err


def test_bad_option_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "--log-level", "chatty", "version")
    assert code == 2
    assert "chatty" in err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "version") == (0, f"agent-sdk {__version__}\n", "")
    code, out, _ = run(capsys, "-V")
    assert (code, __version__ in out) == (0, True)


def test_version_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "version", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["agent_sdk"] == __version__
    assert data["python"] == ".".join(map(str, sys.version_info[:3]))
    assert set(data) == {"agent_sdk", "python", "pluggy"}


# --- plugins list ------------------------------------------------------------------------

RECORD_KEYS = {
    "name",
    "source",
    "module",
    "distribution",
    "version",
    "status",
    "components",
    "error",
}


def plugins_json(capsys: pytest.CaptureFixture[str]) -> dict[str, dict[str, Any]]:
    code, out, _ = run(capsys, "plugins", "list", "--json")
    assert code == 0
    records = json.loads(out)
    assert isinstance(records, list)
    assert all(set(r) == RECORD_KEYS for r in records)
    return {r["name"]: r for r in records}


def test_plugins_list_json_shape(capsys: pytest.CaptureFixture[str], demo_plugin: str) -> None:
    records = plugins_json(capsys)
    assert records["demo"] == {
        "name": "demo",
        "source": "entry_point",
        "module": demo_plugin,
        "distribution": "agent-sdk-demo-fixture",
        "version": "1.0",
        "status": "loaded",
        "components": {"model": ["demo-model"], "tool": ["demo-tool"]},
        "error": None,
    }
    assert records["scripted"]["source"] == "builtin"
    assert records["scripted"]["components"] == {"model": ["scripted"]}


def test_plugins_list_shows_a_plugin_disabled_in_the_config_file_as_blocked(
    capsys: pytest.CaptureFixture[str], demo_plugin: str, kernel_env: Path
) -> None:
    write_config(kernel_env, '[plugins]\ndisabled = ["demo"]\n')
    demo = plugins_json(capsys)["demo"]
    assert demo["status"] == "blocked"
    assert "disabled" in demo["error"]
    assert demo_plugin not in sys.modules


def test_plugins_list_shows_env_disabled_and_not_allowlisted_plugins_as_blocked(
    capsys: pytest.CaptureFixture[str], demo_plugin: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENT_SDK_DISABLE_PLUGINS", "scripted")
    assert plugins_json(capsys)["scripted"]["status"] == "blocked"
    monkeypatch.setenv("AGENT_SDK_LOAD_PLUGINS", "")
    demo = plugins_json(capsys)["demo"]
    assert demo["status"] == "blocked"
    assert "AGENT_SDK_LOAD_PLUGINS" in demo["error"]


def test_plugins_list_reports_a_broken_plugin_and_still_exits_0(
    capsys: pytest.CaptureFixture[str],
    install_plugin: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    install_plugin("broken", "raise ImportError('vendor SDK missing')\n", dist="agent-sdk-broken")
    monkeypatch.setenv("AGENT_SDK_LOAD_PLUGINS", "broken")
    code, out, err = run(capsys, "--log-format", "json", "plugins", "list", "--json")
    assert code == 0
    (broken,) = [r for r in json.loads(out) if r["name"] == "broken"]
    assert broken["status"] == "failed"
    assert broken["distribution"] == "agent-sdk-broken"
    assert "vendor SDK missing" in broken["error"]
    warnings = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert any(
        w.get("plugin") == "broken" and w.get("distribution") == "agent-sdk-broken"
        for w in warnings
    )


def test_plugins_list_table(
    capsys: pytest.CaptureFixture[str], demo_plugin: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    code, out, _ = run(capsys, "plugins", "list")
    assert code == 0
    demo_line = next(line for line in out.splitlines() if "demo" in line and "loaded" in line)
    assert "agent-sdk-demo-fixture" in demo_line
    assert "model:demo-model" in out
    assert "tool:demo-tool" in out


def test_strict_mode_turns_a_broken_plugin_into_exit_2(
    capsys: pytest.CaptureFixture[str], install_plugin: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_plugin("broken", "raise ImportError('vendor SDK missing')\n")
    monkeypatch.setenv("AGENT_SDK_LOAD_PLUGINS", "broken")
    monkeypatch.setenv("AGENT_SDK_DISABLE_PLUGINS", ",".join(BUILTIN_PLUGINS))
    monkeypatch.setenv("AGENT_SDK_STRICT_PLUGINS", "1")
    code, out, err = run(capsys, "plugins", "list", "--json")
    assert code == 2
    assert out == ""
    assert "vendor SDK missing" in err
    assert "Traceback" not in err


# --- config validate / show --------------------------------------------------------------


def test_config_validate_valid_file_exits_0(
    capsys: pytest.CaptureFixture[str], demo_plugin: str, kernel_env: Path
) -> None:
    path = write_config(kernel_env, DEMO_TABLE)
    code, out, _ = run(capsys, "config", "validate")
    assert code == 0
    assert out.strip() == "valid: agent-sdk.toml" or out.strip() == f"valid: {path}"
    code, out, _ = run(capsys, "config", "validate", "--json")
    assert code == 0
    assert json.loads(out)["valid"] is True


INVALID = """
[logging]
level = "loud"

[models.quick]
provider = "gpt"

[plugins.demo]
timeout_s = "soon"
colour = "red"
"""
INVALID_PATHS = [
    "logging.level",
    "models.quick.provider",
    "plugins.demo.colour",
    "plugins.demo.endpoint",
    "plugins.demo.timeout_s",
]


def test_config_validate_invalid_file_exits_2_listing_every_problem(
    capsys: pytest.CaptureFixture[str], demo_plugin: str, kernel_env: Path
) -> None:
    path = write_config(kernel_env, INVALID)
    code, out, err = run(capsys, "config", "validate", "--config", str(path))
    assert code == 2
    assert out == ""
    assert "invalid configuration (5 problems)" in err
    for key_path in INVALID_PATHS:
        assert f"{path}: {key_path}: " in err
    assert "Traceback" not in err


def test_config_validate_json_lists_every_problem(
    capsys: pytest.CaptureFixture[str], demo_plugin: str, kernel_env: Path
) -> None:
    write_config(kernel_env, INVALID)
    code, out, _ = run(capsys, "config", "validate", "--json")
    assert code == 2
    data = json.loads(out)
    assert data["valid"] is False
    assert sorted(i["key_path"] for i in data["issues"]) == INVALID_PATHS
    assert all(set(i) == {"source", "key_path", "message", "hint"} for i in data["issues"])


def test_config_validate_missing_file_exits_2_naming_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    missing = tmp_path / "missing.toml"
    code, _, err = run(capsys, "config", "validate", "--config", str(missing))
    assert code == 2
    assert str(missing) in err
    assert "not found" in err


def test_config_validate_invalid_toml_names_file_and_line(
    capsys: pytest.CaptureFixture[str], kernel_env: Path
) -> None:
    path = write_config(kernel_env, "[logging]\nlevel = \n")
    code, _, err = run(capsys, "config", "validate")
    assert code == 2
    assert "agent-sdk.toml" in err
    assert "line 2" in err
    assert path.exists()


def test_config_validate_errors_never_echo_a_plaintext_secret(
    capsys: pytest.CaptureFixture[str], demo_plugin: str, kernel_env: Path
) -> None:
    write_config(kernel_env, DEMO_TABLE + f'api_key = "{PLANTED}"\n')
    for extra in ([], ["--json"]):
        code, out, err = run(capsys, "config", "validate", *extra)
        assert code == 2
        assert "plugins.demo.api_key" in out + err
        assert PLANTED not in out + err


def test_config_show_prints_effective_config_with_env_overrides(
    capsys: pytest.CaptureFixture[str],
    demo_plugin: str,
    kernel_env: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    write_config(kernel_env, DEMO_TABLE)
    monkeypatch.setenv("AGENT_SDK__PLUGINS__DEMO__TIMEOUT_S", "3")
    code, out, _ = run(capsys, "config", "show")
    assert code == 0
    shown = json.loads(out)
    assert shown["config"]["plugins"]["demo"] == {"endpoint": "https://demo.test", "timeout_s": 3}
    assert shown["config"]["logging"] == {"format": "auto", "level": "info"}


def test_config_show_redacts_secrets_and_keeps_references(
    capsys: pytest.CaptureFixture[str], demo_plugin: str, kernel_env: Path
) -> None:
    REDACTOR.add(PLANTED)  # as if resolved earlier in this process
    write_config(
        kernel_env,
        f'[plugins.demo]\nendpoint = "https://user:{PLANTED}@demo.test"\n'
        'api_key = { env = "DEMO_KEY" }\n'
        'headers = { Authorization = "Bearer never-shown-token", Accept = "json" }\n',
    )
    code, out, _ = run(capsys, "config", "show")
    assert code == 0
    assert PLANTED not in out
    assert "never-shown-token" not in out
    demo = json.loads(out)["config"]["plugins"]["demo"]
    assert demo["endpoint"] == "https://user:***@demo.test"
    assert demo["api_key"] == {"env": "DEMO_KEY"}
    assert demo["headers"] == {"Authorization": "***", "Accept": "json"}


def test_config_show_invalid_config_exits_2(
    capsys: pytest.CaptureFixture[str], kernel_env: Path
) -> None:
    write_config(kernel_env, "[logging]\nlevel = 'loud'\n")
    code, out, err = run(capsys, "config", "show")
    assert (code, out) == (2, "")
    assert "logging.level" in err


# --- schema ------------------------------------------------------------------------------


def test_schema_prints_a_valid_json_schema_including_plugin_tables(
    capsys: pytest.CaptureFixture[str], demo_plugin: str
) -> None:
    code, out, _ = run(capsys, "schema")
    assert code == 0
    schema = json.loads(out)
    jsonschema.Draft202012Validator.check_schema(schema)
    demo = schema["properties"]["plugins"]["properties"]["demo"]
    assert demo["required"] == ["endpoint"]
    validator = jsonschema.Draft202012Validator(schema)
    assert validator.is_valid({"plugins": {"demo": {"endpoint": "e", "api_key": {"env": "K"}}}})
    assert not validator.is_valid({"plugins": {"demo": {"endpoint": "e", "api_key": "plain"}}})


def test_schema_output_option_writes_the_same_text(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    _, printed, _ = run(capsys, "schema")
    target = tmp_path / "out" / "schema.json"
    code, out, err = run(capsys, "schema", "-o", str(target))
    assert (code, out) == (0, "")
    assert str(target) in err
    assert target.read_text(encoding="utf-8") == printed


# --- keys --------------------------------------------------------------------------------


def set_key(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "stdin", io.StringIO(value + "\n"))
    return run(capsys, "keys", "set", name, "--stdin")


def test_keys_set_get_list_delete_round_trip(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, memory_keyring: Any
) -> None:
    code, out, err = set_key(capsys, monkeypatch, "acme/me", PLANTED)
    assert code == 0
    assert PLANTED not in out + err
    assert '{ keyring = "acme/me" }' in err
    assert memory_keyring.store[("acme", "me")] == PLANTED
    assert set_key(capsys, monkeypatch, "plain", "value-two")[0] == 0
    assert memory_keyring.store[("agent-sdk", "plain")] == "value-two"

    assert run(capsys, "keys", "get", "acme/me") == (0, PLANTED + "\n", "")
    code, out, _ = run(capsys, "keys", "list")
    assert (code, out) == (0, "acme/me\nagent-sdk/plain\n")

    code, _, err = run(capsys, "keys", "delete", "acme/me")
    assert code == 0
    assert "deleted acme/me" in err
    assert ("acme", "me") not in memory_keyring.store
    assert run(capsys, "keys", "list")[1] == "agent-sdk/plain\n"
    code, out, err = run(capsys, "keys", "get", "acme/me")
    assert (code, out) == (1, "")
    assert "no secret stored under acme/me" in err


def test_keys_set_value_is_resolvable_as_a_keyring_reference(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, memory_keyring: Any
) -> None:
    from agent_sdk.secrets import resolve

    set_key(capsys, monkeypatch, "acme/me", PLANTED)
    assert resolve({"keyring": "acme/me"}) == PLANTED


def test_keys_delete_of_a_missing_entry_exits_1(
    capsys: pytest.CaptureFixture[str], memory_keyring: Any
) -> None:
    code, _, err = run(capsys, "keys", "delete", "acme/nobody")
    assert code == 1
    assert "no secret stored under acme/nobody" in err


@pytest.mark.parametrize(("name", "value"), [("acme/", "v"), ("/me", "v"), ("acme/me", "")])
def test_keys_set_rejects_bad_names_and_empty_values(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    memory_keyring: Any,
    name: str,
    value: str,
) -> None:
    code, _, _ = set_key(capsys, monkeypatch, name, value)
    assert code == 2
    assert memory_keyring.store == {}


def test_keys_set_on_a_terminal_prompts_with_hidden_input(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, memory_keyring: Any
) -> None:
    import click

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    prompts: list[tuple[str, bool]] = []

    def fake_prompt(text: str, hide_input: bool = False, **_: Any) -> str:
        prompts.append((text, hide_input))
        return PLANTED

    monkeypatch.setattr(sys, "stdin", Terminal())
    monkeypatch.setattr(click, "prompt", fake_prompt)
    code, out, err = run(capsys, "keys", "set", "acme/me")
    assert code == 0
    assert prompts == [("value for acme/me", True)]
    assert memory_keyring.store[("acme", "me")] == PLANTED
    assert PLANTED not in out + err


def test_keys_list_tolerates_a_corrupt_index(
    capsys: pytest.CaptureFixture[str], memory_keyring: Any
) -> None:
    memory_keyring.store[("agent-sdk", "__index__")] = "{not json"
    assert run(capsys, "keys", "list") == (0, "", "")


@pytest.mark.usefixtures("no_keyring")
@pytest.mark.parametrize("argv", [["list"], ["get", "acme/me"], ["delete", "acme/me"]])
def test_keys_without_a_backend_fail_with_a_clear_error(
    capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    code, out, err = run(capsys, "keys", *argv)
    assert (code, out) == (1, "")
    assert "cannot use the OS keyring" in err
    assert 'env = "NAME"' in err
    assert "Traceback" not in err


@pytest.mark.usefixtures("no_keyring")
def test_keys_set_without_a_backend_fails_before_reading_the_value(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    stdin = io.StringIO(PLANTED)
    monkeypatch.setattr(sys, "stdin", stdin)
    code, out, err = run(capsys, "keys", "set", "acme/me", "--stdin")
    assert (code, out) == (1, "")
    assert "cannot use the OS keyring" in err
    assert stdin.tell() == 0


# --- the console script ------------------------------------------------------------------


def test_console_script_runs(kernel_env: Path) -> None:
    script = Path(sys.executable).with_name("agent-sdk")
    if not script.exists():
        pytest.skip(f"console script not installed next to {sys.executable}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENT_SDK")}
    env["AGENT_SDK_LOAD_PLUGINS"] = ""
    result = subprocess.run(
        [str(script), "config", "validate", "--json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=kernel_env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"valid": True, "source": "<defaults>", "issues": []}
    failing = subprocess.run(
        [str(script), "frobnicate"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert failing.returncode == 2
