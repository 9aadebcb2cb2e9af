"""Entry-point discovery against real installed distributions.

The distributions under ``tests/fixture_plugins/`` are built and installed (``pip install
--target``) once, into a directory cached per content hash; each test puts that directory on
``sys.path`` so :mod:`importlib.metadata` discovers their ``agent_sdk`` entry points exactly as
it would in site-packages. Every plugin manager here gets an explicit environment with an
``AGENT_SDK_LOAD_PLUGINS`` allowlist, so plugins installed in the venv never take part.

Fixture plugins (entry-point name → what it does):

* ``testgood`` (agent-sdk-testplugin-good 0.3.1): tool ``greet``, model provider ``echo``.
* ``testbroken`` (agent-sdk-testplugin-broken 0.0.1): its hooks module fails to import.
* ``testdupe`` (agent-sdk-testplugin-dupe 2.0.0): a tool also named ``greet``.
* agent-sdk-testplugin-bad 0.9.0: ``testunmarked`` (hook without ``@hookimpl``),
  ``testmisspelled`` (``agent_sdk_register_tool``), ``testinstance`` (returns an instance),
  ``testraises`` (registration raises), ``disabled`` (reserved name), ``scripted`` (the
  builtin's name).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import agent_sdk
from agent_sdk.config import load_config
from agent_sdk.errors import ConfigError, DuplicateComponentError, PluginLoadError
from agent_sdk.kinds.tool import ToolContext
from agent_sdk.messages import Message, ModelRequest, ToolCall
from agent_sdk.plugins import BUILTIN_PLUGINS, AgentSDKPluginManager, get_plugin_manager

FIXTURE_PLUGINS = Path(__file__).parent / "fixture_plugins"
ALL_TEST_PLUGINS = (
    "testgood",
    "testbroken",
    "testdupe",
    "testunmarked",
    "testmisspelled",
    "testinstance",
    "testraises",
    "disabled",
    "scripted",
)
GOOD = ("agent-sdk-testplugin-good", "0.3.1")
BROKEN = ("agent-sdk-testplugin-broken", "0.0.1")
DUPE = ("agent-sdk-testplugin-dupe", "2.0.0")
BAD = ("agent-sdk-testplugin-bad", "0.9.0")


def _fixture_digest() -> str:
    digest = hashlib.sha256(f"{sys.version}|{agent_sdk.__version__}".encode())
    for path in sorted(FIXTURE_PLUGINS.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(path.relative_to(FIXTURE_PLUGINS).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


@pytest.fixture(scope="session")
def fixture_plugins_dir() -> Path:
    """Directory holding the installed fixture distributions (built once per content hash)."""
    cache_root = Path(tempfile.gettempdir()) / "agent-sdk-fixture-plugins"
    target = cache_root / _fixture_digest()
    if (target / ".complete").exists():
        return target
    cache_root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="build-", dir=cache_root))
    command = [sys.executable, "-m", "pip", "install", "--no-deps", "--quiet"]
    command += ["--disable-pip-version-check", "--target", str(staging)]
    if importlib.util.find_spec("hatchling") is not None:
        command += ["--no-build-isolation", "--no-index"]  # fast and offline
    command += [
        str(p) for p in sorted(FIXTURE_PLUGINS.iterdir()) if (p / "pyproject.toml").exists()
    ]
    proc = subprocess.run(command, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        pytest.fail(f"installing the fixture plugins failed:\n{proc.stdout}\n{proc.stderr}")
    (staging / ".complete").touch()
    try:
        staging.rename(target)
    except OSError:  # a concurrent session installed it first
        shutil.rmtree(staging, ignore_errors=True)
    return target


@pytest.fixture
def installed(fixture_plugins_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Make the fixture distributions discoverable in this process for one test."""
    monkeypatch.syspath_prepend(str(fixture_plugins_dir))
    yield fixture_plugins_dir
    for name in [m for m in sys.modules if m.startswith("agent_sdk_testplugin_")]:
        del sys.modules[name]


@pytest.fixture
def warnings_logged(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    """Record the plugin manager's structlog warnings instead of printing them."""
    logged: list[tuple[str, dict[str, Any]]] = []

    class Recorder:
        def warning(self, event: str, **fields: Any) -> None:
            logged.append((event, fields))

    monkeypatch.setattr("agent_sdk.logging.get_logger", lambda *a, **k: Recorder())
    return logged


def load(*allowed: str, **env: str) -> AgentSDKPluginManager:
    """A plugin manager loading only the *allowed* entry points, with extra *env* variables."""
    return get_plugin_manager(env={"AGENT_SDK_LOAD_PLUGINS": ",".join(allowed), **env})


def subprocess_env(plugins_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENT_SDK")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(plugins_dir), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


# --- discovery ----------------------------------------------------------------------------


@pytest.mark.usefixtures("installed")
async def test_installed_plugin_is_discovered_through_its_entry_point() -> None:
    pm = load("testgood")

    record = pm.records["testgood"]
    assert (record.source, record.status, record.error) == ("entry_point", "loaded", None)
    assert (record.distribution, record.version) == GOOD
    assert record.module == "agent_sdk_testplugin_good.hooks"
    registry = pm.registry()
    assert record.components == {"model": ["echo"], "tool": ["greet"]}
    greet = registry.get("tool", "greet")()
    result = await greet.invoke(
        ToolCall(id="c1", name="greet", arguments={"name": "ada"}), ToolContext()
    )
    assert result.data == "hello ada"
    echo = registry.get("model", "echo")()
    response = await echo.complete(ModelRequest(messages=(Message.user("hi"),)))
    assert response.message.content == "echo: hi"


@pytest.mark.usefixtures("installed")
def test_installed_plugin_settings_are_validated_against_its_config_schema() -> None:
    pm = load("testgood")

    with pytest.raises(ConfigError) as caught:
        load_config(text='[plugins.testgood]\nprefix = 3\ncolour = "red"\n', env={}, pm=pm)

    message = str(caught.value)
    assert "plugins.testgood.prefix" in message
    assert "colour" in message


@pytest.mark.usefixtures("installed")
def test_builtins_load_alongside_entry_points() -> None:
    pm = load("testgood")

    assert pm.records["scripted"].source == "builtin"
    assert pm.registry().names("model") == ["echo", "scripted"]


# --- failures are reported, not fatal -----------------------------------------------------


@pytest.mark.usefixtures("installed")
def test_broken_plugin_is_reported_not_fatal(
    warnings_logged: list[tuple[str, dict[str, Any]]],
) -> None:
    pm = load("testgood", "testbroken")

    record = pm.records["testbroken"]
    assert record.status == "failed"
    assert (record.name, record.distribution, record.version) == ("testbroken", *BROKEN)
    assert record.error is not None
    assert "ModuleNotFoundError" in record.error
    assert "agent_sdk_testplugin_vendor_sdk_not_installed" in record.error
    assert pm.get_plugin("testbroken") is None
    assert pm.records["testgood"].status == "loaded"
    assert pm.registry().names("tool") == ["greet"]
    [(event, fields)] = warnings_logged
    assert event == "plugin_load_failed"
    assert fields["plugin"] == "testbroken"
    assert (fields["distribution"], fields["version"]) == BROKEN
    assert "AGENT_SDK_DISABLE_PLUGINS=testbroken" in fields["hint"]


@pytest.mark.usefixtures("installed")
def test_strict_mode_makes_a_broken_plugin_a_plugin_load_error() -> None:
    with pytest.raises(PluginLoadError) as caught:
        load("testgood", "testbroken", AGENT_SDK_STRICT_PLUGINS="1")

    error = caught.value
    assert (error.entry_point, error.distribution, error.version) == ("testbroken", *BROKEN)
    assert "testbroken (agent-sdk-testplugin-broken 0.0.1) failed to load" in str(error)
    assert isinstance(error.__cause__, ImportError)


@pytest.mark.usefixtures("installed")
def test_strict_mode_makes_a_failed_registration_a_plugin_load_error() -> None:
    pm = load("testinstance", AGENT_SDK_STRICT_PLUGINS="true")

    with pytest.raises(PluginLoadError) as caught:
        pm.registry()

    assert (caught.value.entry_point, caught.value.distribution) == ("testinstance", BAD[0])


@pytest.mark.usefixtures("installed")
def test_misspelled_hook_fails_the_plugin() -> None:
    pm = load("testmisspelled")

    record = pm.records["testmisspelled"]
    assert record.status == "failed"
    assert record.error is not None
    assert "agent_sdk_register_tool'" in record.error
    assert "check the spelling" in record.error
    assert pm.get_plugin("testmisspelled") is None
    pm.check_pending()


@pytest.mark.usefixtures("installed")
def test_unmarked_hook_function_fails_the_plugin() -> None:
    pm = load("testunmarked")

    record = pm.records["testunmarked"]
    assert record.status == "failed"
    assert record.error is not None
    assert "['agent_sdk_register_tools']" in record.error
    assert "@agent_sdk.hookimpl" in record.error
    assert pm.get_plugin("testunmarked") is None


@pytest.mark.usefixtures("installed")
def test_registration_returning_an_instance_fails_the_plugin_with_a_clear_message() -> None:
    pm = load("testgood", "testinstance")

    registry = pm.registry()

    record = pm.records["testinstance"]
    assert record.status == "failed"
    assert record.error is not None
    assert "agent_sdk_register_tools returned <ping_tool tool:ping>" in record.error
    assert "expected a subclass of agent_sdk.kinds.tool.Tool" in record.error
    assert "return the class itself, not an instance" in record.error
    assert pm.get_plugin("testinstance") is None
    assert registry.names("tool") == ["greet"]


@pytest.mark.usefixtures("installed")
def test_registration_hook_that_raises_fails_only_that_plugin() -> None:
    pm = load("testgood", "testraises")

    registry = pm.registry()

    assert pm.records["testraises"].status == "failed"
    assert pm.records["testraises"].error == "RuntimeError: testraises cannot list its tools"
    assert registry.names("tool") == ["greet"]


@pytest.mark.usefixtures("installed")
def test_reserved_plugin_name_is_refused() -> None:
    pm = load("disabled")

    record = pm.records["disabled"]
    assert (record.status, record.distribution) == ("failed", BAD[0])
    assert record.error is not None
    assert "reserved" in record.error
    assert pm.get_plugin("disabled") is None


@pytest.mark.usefixtures("installed")
def test_entry_point_named_like_a_builtin_fails_and_leaves_the_builtin_loaded() -> None:
    pm = load("scripted")

    assert pm.records["scripted"].source == "builtin"
    assert pm.records["scripted"].status == "loaded"
    assert pm.get_plugin("scripted") is not None
    assert pm.registry().names("model") == ["scripted"]
    [shadow] = [
        r for r in pm.records.values() if r.source == "entry_point" and r.name == "scripted"
    ]
    assert (shadow.name, shadow.status) == ("scripted", "failed")
    assert shadow.error == "plugin name 'scripted' is already taken by scripted (agent-sdk 0.1.0)"


@pytest.mark.usefixtures("installed")
def test_every_bad_plugin_is_contained_and_check_pending_passes() -> None:
    pm = load(*ALL_TEST_PLUGINS)

    pm.check_pending()
    registry = pm.registry(tolerate_conflicts=True)

    failed = sorted(r.name for r in pm.records.values() if r.status == "failed")
    assert failed == sorted(set(ALL_TEST_PLUGINS) - {"testgood", "testdupe"})
    loaded = sorted(n for n, r in pm.records.items() if r.status == "loaded")
    assert loaded == sorted([*BUILTIN_PLUGINS, "testdupe", "testgood"])
    assert sorted(name for name, _ in pm.list_name_plugin()) == loaded
    assert registry.names("model") == ["echo", "scripted"]


# --- duplicates ---------------------------------------------------------------------------


@pytest.mark.usefixtures("installed")
def test_duplicate_component_name_is_an_error_naming_both_distributions() -> None:
    pm = load("testgood", "testdupe")

    with pytest.raises(DuplicateComponentError) as caught:
        pm.registry()

    message = str(caught.value)
    assert "tool named 'greet'" in message
    assert "agent-sdk-testplugin-good 0.3.1" in message
    assert "agent-sdk-testplugin-dupe 2.0.0" in message
    assert "AGENT_SDK_DISABLE_PLUGINS=" in message


@pytest.mark.usefixtures("installed")
def test_tolerated_duplicate_keeps_one_component_and_lists_the_conflict() -> None:
    pm = load("testgood", "testdupe")

    registry = pm.registry(tolerate_conflicts=True)

    assert len(registry.conflicts) == 1
    assert registry.names("tool") == ["greet"]


@pytest.mark.usefixtures("installed")
def test_disabling_one_duplicate_resolves_the_conflict() -> None:
    pm = get_plugin_manager(
        disabled=["testdupe"], env={"AGENT_SDK_LOAD_PLUGINS": "testgood,testdupe"}
    )

    assert pm.registry().entry("tool", "greet").plugin == "testgood"


# --- allowlist and blocks -----------------------------------------------------------------


@pytest.mark.usefixtures("installed")
def test_load_plugins_allowlist_loads_only_the_named_plugins() -> None:
    pm = load(" testgood ", "", "testdupe")

    assert pm.records["testgood"].status == "loaded"
    assert pm.records["testdupe"].status == "loaded"
    for name in ("testbroken", "testunmarked", "testinstance"):
        assert pm.records[name].status == "blocked"
        assert pm.records[name].error == "not in the AGENT_SDK_LOAD_PLUGINS allowlist"
        assert pm.get_plugin(name) is None


@pytest.mark.usefixtures("installed")
def test_empty_load_plugins_allowlist_loads_no_entry_point() -> None:
    pm = get_plugin_manager(env={"AGENT_SDK_LOAD_PLUGINS": ""})

    from_entry_points = [r for r in pm.records.values() if r.source == "entry_point"]
    assert {r.name for r in from_entry_points} >= set(ALL_TEST_PLUGINS) - {"scripted"}
    assert all(r.status == "blocked" for r in from_entry_points)
    assert pm.records["scripted"].status == "loaded"  # builtins are not affected


@pytest.mark.usefixtures("installed")
def test_unset_allowlist_loads_every_installed_plugin() -> None:
    pm = get_plugin_manager(env={})

    statuses = {name: pm.records[name].status for name in ("testgood", "testdupe", "testbroken")}
    assert statuses == {"testgood": "loaded", "testdupe": "loaded", "testbroken": "failed"}


@pytest.mark.usefixtures("installed")
def test_disable_plugins_env_blocks_by_name() -> None:
    pm = load("testgood", "testdupe", AGENT_SDK_DISABLE_PLUGINS="testgood, testbroken")

    record = pm.records["testgood"]
    assert (record.status, record.distribution) == ("blocked", GOOD[0])
    assert record.error is not None
    assert "AGENT_SDK_DISABLE_PLUGINS" in record.error
    assert pm.is_blocked("testgood")
    assert pm.registry().names("model") == ["scripted"]
    assert pm.registry().entry("tool", "greet").plugin == "testdupe"


@pytest.mark.usefixtures("installed")
def test_disabled_argument_blocks_by_name() -> None:
    pm = get_plugin_manager(disabled=["testgood"], env={"AGENT_SDK_LOAD_PLUGINS": "testgood"})

    assert pm.records["testgood"].status == "blocked"
    assert pm.get_plugin("testgood") is None


@pytest.mark.usefixtures("installed")
def test_disabling_a_builtin_blocks_it() -> None:
    pm = load(AGENT_SDK_DISABLE_PLUGINS="scripted")

    assert pm.records["scripted"].status == "blocked"
    assert pm.registry().names("model") == []


# --- the process environment and the CLI --------------------------------------------------


def test_plugin_variables_are_read_from_the_process_environment(
    fixture_plugins_dir: Path, tmp_path: Path
) -> None:
    script = (
        "from agent_sdk.plugins import get_plugin_manager\n"
        "pm = get_plugin_manager()\n"
        "print(sorted((n, r.status) for n, r in pm.records.items() if n.startswith('test')))\n"
    )
    env = subprocess_env(fixture_plugins_dir, AGENT_SDK_LOAD_PLUGINS="testgood,testbroken")
    lenient = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    strict = subprocess.run(
        [sys.executable, "-c", script],
        env={**env, "AGENT_SDK_STRICT_PLUGINS": "1"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )

    assert lenient.returncode == 0, lenient.stderr
    assert "('testbroken', 'failed')" in lenient.stdout
    assert "('testdupe', 'blocked')" in lenient.stdout
    assert "('testgood', 'loaded')" in lenient.stdout
    assert strict.returncode != 0
    assert "PluginLoadError" in strict.stderr
    assert "agent-sdk-testplugin-broken 0.0.1" in strict.stderr


def test_plugins_list_json_reports_loaded_failed_and_blocked_plugins(
    fixture_plugins_dir: Path, tmp_path: Path
) -> None:
    env = subprocess_env(fixture_plugins_dir, AGENT_SDK_LOAD_PLUGINS="testgood,testbroken")
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "from agent_sdk.cli import main; main()",
            "plugins",
            "list",
            "--json",
        ],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )

    assert proc.returncode == 0, proc.stderr
    records = {r["name"]: r for r in json.loads(proc.stdout) if r["source"] != "builtin"}
    assert records["testgood"]["status"] == "loaded"
    assert records["testgood"]["components"] == {"model": ["echo"], "tool": ["greet"]}
    assert (records["testgood"]["distribution"], records["testgood"]["version"]) == GOOD
    assert records["testbroken"]["status"] == "failed"
    assert "ModuleNotFoundError" in records["testbroken"]["error"]
    assert records["testdupe"]["status"] == "blocked"
