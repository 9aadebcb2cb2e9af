"""The plugin examples of docs/writing-plugins.md work, and do what the page says they do.

Each example is a module in ``docs/snippets/`` that the page includes verbatim
(``pymdownx.snippets``), so the code tested here is the code readers copy. Every test
registers the example in a plugin manager that loads no entry point and runs it for real: the
tool through the workflow engine, the model provider against a local HTTP server, the storage
backend through the storage conformance suite and the engine, the sandbox against parts of the
sandbox conformance suite (which must fail it: it does not isolate), the alert sink on the
alert of a failed run.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import os
import re
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from agent_sdk.app import App
from agent_sdk.config import Config
from agent_sdk.errors import (
    ConfigError,
    ModelProviderError,
    RateLimitError,
    SandboxUnavailableError,
    ToolError,
    TransientError,
)
from agent_sdk.kinds.agent import Agent, AgentContext, AgentResult
from agent_sdk.kinds.sandbox import ExecutionRequest
from agent_sdk.kinds.tool import tool
from agent_sdk.messages import Message, ModelRequest
from agent_sdk.plugins import AgentSDKPluginManager
from agent_sdk.runtime.engine import Engine
from agent_sdk.runtime.loop import render_input, run_tool_loop
from agent_sdk.testing.conformance.sandbox import SandboxConformance
from agent_sdk.testing.conformance.storage import StorageConformance
from agent_sdk.testing.memory import MemoryStorage

ROOT = Path(__file__).resolve().parent.parent
SNIPPETS = ROOT / "docs" / "snippets"


def load_snippet(name: str) -> ModuleType:
    """Import ``docs/snippets/<name>.py`` under a name of its own (pydantic needs it in
    ``sys.modules`` to resolve the postponed annotations of its models)."""
    module_name = f"agent_sdk_docs_snippet_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, SNIPPETS / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


tool_plugin = load_snippet("tool_plugin")
model_provider = load_snippet("model_provider")
storage_backend = load_snippet("storage_backend")
sandbox_example = load_snippet("sandbox_example")
alert_sink = load_snippet("alert_sink")

FAST_RETRIES = """
[runtime.task_retry]
initial_s = 0.01
jitter_s = 0
[runtime.model_retry]
initial_s = 0.01
jitter_s = 0
"""


@pytest.fixture
def make_app(
    plugin_manager: AgentSDKPluginManager, make_config: Callable[..., Config]
) -> Callable[[str], App]:
    """``make_app(toml) -> App`` over the test's plugin manager (no entry points)."""

    def make(toml: str) -> App:
        return App(make_config(FAST_RETRIES + toml), plugin_manager, {})

    return make


async def run_workflow(app: App, workflow: str, storage: Any = None, **kwargs: Any) -> Any:
    async with Engine(app, storage if storage is not None else MemoryStorage()) as engine:
        return await engine.run(workflow, **kwargs)


# --- the page includes every example, and only examples that exist ------------------------


def test_every_snippet_is_included_in_a_page() -> None:
    pages = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "docs").rglob("*.md"))
    blocks = re.findall(r"^ *--8<--\n(.*?)^ *--8<--$", pages, re.MULTILINE | re.DOTALL)
    included = {line.strip() for block in blocks for line in block.splitlines() if line.strip()}
    snippets = {p.name for p in SNIPPETS.iterdir() if p.suffix in {".py", ".toml"}}
    assert snippets <= included, f"snippets no page includes: {sorted(snippets - included)}"
    assert included <= snippets, f"pages include missing snippets: {sorted(included - snippets)}"


# --- getting started: a workflow of your own ----------------------------------------------


def test_first_workflow_of_getting_started_runs_with_the_first_party_plugins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for module in ("agent_sdk_sqlite", "agent_sdk_tools", "agent_sdk_agents"):
        pytest.importorskip(module, reason="the page's example uses sqlite, tools and agents")
    from agent_sdk.cli import main

    for var in [v for v in os.environ if v.startswith("AGENT_SDK")]:
        monkeypatch.delenv(var)
    monkeypatch.setenv("AGENT_SDK_LOAD_PLUGINS", "sqlite,tools,agents")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "agent-sdk.toml").write_text(
        (SNIPPETS / "first-workflow.toml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    assert main(["config", "validate"]) == 0
    assert main(["run", "-q"]) == 0
    assert (tmp_path / "answer.txt").read_text(encoding="utf-8") == (
        "One configuration file and a database: all good."
    )
    capsys.readouterr()
    assert main(["runs", "list", "--json"]) == 0
    [run] = json.loads(capsys.readouterr().out)
    assert (run["workflow"], run["status"]) == ("hello", "succeeded")


# --- tool -------------------------------------------------------------------------------

PUBLISH = """
[plugins.wordtools]
separator = "_"

[workflows.publish]
input = { title = "Héllo, Wörld of Agents" }

[[workflows.publish.tasks]]
id = "slug"
tool = "slugify"
args = { text = "${input.title}" }

[[workflows.publish.tasks]]
id = "words"
tool = "word_count"
args = { text = "${input.title}" }

[[workflows.publish.tasks]]
id = "summary"
tool = "slugify"
args = { text = "${tasks.slug.output} has ${tasks.words.output} words" }
depends_on = ["slug", "words"]
"""


async def test_tool_example_runs_as_workflow_tasks_with_its_settings(
    make_app: Callable[[str], App], register_plugin: Callable[..., str]
) -> None:
    register_plugin(tool_plugin, name="wordtools")
    app = make_app(PUBLISH)
    storage = MemoryStorage()
    result = await run_workflow(app, "publish", storage)
    assert result.status == "succeeded", result.error
    assert result.outputs == {
        "slug": "hello_world_of_agents",
        "words": 4,
        "summary": "hello_world_of_agents_has_4_words",
    }
    steps = await storage.get_steps(result.run_id)
    assert sorted(s.key for s in steps) == [
        "slug#1:task_tool",
        "summary#1:task_tool",
        "words#1:task_tool",
    ]


async def test_tool_example_failure_fails_the_task_with_its_message_and_no_retry(
    make_app: Callable[[str], App], register_plugin: Callable[..., str]
) -> None:
    register_plugin(tool_plugin, name="wordtools")
    app = make_app(
        """
[workflows.w]
[[workflows.w.tasks]]
id = "slug"
tool = "slugify"
args = { text = "!!!" }
retries = 2
"""
    )
    result = await run_workflow(app, "w")
    task = result.tasks["slug"]
    assert (result.status, task.status, task.attempt) == ("failed", "failed", 1)
    assert "no letters or digits" in task.error["message"]
    assert task.error["transient"] is False


def test_tool_example_settings_are_validated_at_start_up(
    make_config: Callable[..., Config], register_plugin: Callable[..., str]
) -> None:
    register_plugin(tool_plugin, name="wordtools")
    with pytest.raises(ConfigError) as info:
        make_config("[plugins.wordtools]\nseperator = '_'\nmax_length = 3\n")
    paths = {issue.key_path for issue in info.value.issues}
    assert {"plugins.wordtools.seperator", "plugins.wordtools.max_length"} <= paths


def test_function_tool_schema_comes_from_the_type_hints() -> None:
    spec = tool_plugin.word_count.spec()
    assert spec.name == "word_count"
    assert spec.description == "Count the words in a text."
    assert spec.parameters["properties"]["text"]["type"] == "string"
    assert spec.parameters["required"] == ["text"]


# --- model provider ---------------------------------------------------------------------


class CompletionServer:
    """A local HTTP server answering ``POST /complete`` from a script of responses."""

    def __init__(self) -> None:
        self.script: list[tuple[int, dict[str, str], Any]] = []
        self.requests: list[dict[str, Any]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                server.requests.append(
                    {
                        "path": self.path,
                        "headers": dict(self.headers),
                        "body": json.loads(self.rfile.read(length)),
                    }
                )
                status, headers, body = server.script.pop(0)
                payload = (body if isinstance(body, str) else json.dumps(body)).encode()
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                return None

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def answer(self, text: str, input_tokens: int = 3, output_tokens: int = 1) -> None:
        body = {"text": text, "model": "small-v2", "usage": {"input": input_tokens, "output": 1}}
        body["usage"]["output"] = output_tokens
        self.script.append((200, {"Content-Type": "application/json"}, body))

    def fail(self, status: int, body: str = "nope", headers: dict[str, str] | None = None) -> None:
        self.script.append((status, headers or {}, body))


@pytest.fixture
def server() -> Iterator[CompletionServer]:
    srv = CompletionServer()
    srv.thread.start()
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()


def provider_app(make_app: Callable[[str], App], url: str, extra: str = "") -> App:
    return make_app(
        f"""
[models.svc]
provider = "completion-service"
base_url = "{url}"
api_key = {{ env = "COMPLETION_API_KEY" }}
{extra}
"""
    )


async def test_model_provider_example_answers_a_model_request(
    make_app: Callable[[str], App],
    register_plugin: Callable[..., str],
    server: CompletionServer,
    monkeypatch: pytest.MonkeyPatch,
    clean_redactor: Any,
) -> None:
    monkeypatch.setenv("COMPLETION_API_KEY", "sk-test-123")
    register_plugin(model_provider, name="completion")
    model = provider_app(make_app, server.url).create_model("svc")
    server.answer("Hello!", input_tokens=7, output_tokens=2)
    response = await model.complete(
        ModelRequest(messages=(Message.system("Be brief."), Message.user("Hi")), max_tokens=20)
    )
    assert response.message.content == "Hello!"
    assert (response.usage.input_tokens, response.usage.output_tokens) == (7, 2)
    assert response.model == "small-v2"
    [sent] = server.requests
    assert sent["path"] == "/complete"
    assert sent["headers"]["Authorization"] == "Bearer sk-test-123"
    assert sent["body"]["model"] == "small"
    assert sent["body"]["max_tokens"] == 20
    assert sent["body"]["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
    ]


async def test_model_provider_example_maps_failures_onto_the_error_family(
    make_app: Callable[[str], App],
    register_plugin: Callable[..., str],
    server: CompletionServer,
    monkeypatch: pytest.MonkeyPatch,
    clean_redactor: Any,
) -> None:
    monkeypatch.setenv("COMPLETION_API_KEY", "sk-test-123")
    register_plugin(model_provider, name="completion")
    model = provider_app(make_app, server.url).create_model("svc")
    request = ModelRequest(messages=(Message.user("Hi"),))
    server.fail(429, "slow down", {"Retry-After": "2"})
    with pytest.raises(RateLimitError) as limited:
        await model.complete(request)
    assert limited.value.retry_after == 2.0
    assert limited.value.transient
    server.fail(503, "overloaded")
    with pytest.raises(TransientError):
        await model.complete(request)
    server.fail(401, "key sk-test-123 is not valid")
    with pytest.raises(ModelProviderError) as refused:
        await model.complete(request)
    assert not refused.value.transient
    assert "sk-test-123" not in str(refused.value), "a resolved secret must be masked"
    assert "***" in str(refused.value)


async def test_model_provider_example_unreachable_service_is_transient(
    make_app: Callable[[str], App], register_plugin: Callable[..., str]
) -> None:
    register_plugin(model_provider, name="completion")
    closed = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    url = f"http://127.0.0.1:{closed.server_address[1]}"
    closed.server_close()  # nothing listens there any more
    app = make_app(f'[models.svc]\nprovider = "completion-service"\nbase_url = "{url}"\n')
    with pytest.raises(TransientError, match="cannot reach the service"):
        await app.create_model("svc").complete(ModelRequest(messages=(Message.user("Hi"),)))


class Chat(Agent):
    """A minimal agent: the tool-calling loop over the task input."""

    name = "chat"

    async def run(self, task_input: Any, ctx: AgentContext) -> AgentResult:
        return await run_tool_loop(ctx, [Message.user(render_input(task_input))])


async def test_model_provider_example_in_a_run_is_retried_by_the_runtime_on_a_5xx(
    make_app: Callable[[str], App],
    register_plugin: Callable[..., str],
    server: CompletionServer,
    monkeypatch: pytest.MonkeyPatch,
    clean_redactor: Any,
) -> None:
    monkeypatch.setenv("COMPLETION_API_KEY", "sk-test-123")
    register_plugin(model_provider, name="completion")
    register_plugin(agent_sdk_register_agents=lambda: [Chat])
    app = provider_app(
        make_app,
        server.url,
        """
[agents.helper]
type = "chat"
model = "svc"
tools = []

[workflows.ask]
[[workflows.ask.tasks]]
id = "answer"
agent = "helper"
input = "What is 6 x 7?"
""",
    )
    server.fail(503, "warming up")
    server.answer("42")
    result = await run_workflow(app, "ask")
    assert result.status == "succeeded", result.error
    assert result.outputs == {"answer": "42"}
    assert len(server.requests) == 2, "the 503 must be retried once, then answered"


# --- storage backend --------------------------------------------------------------------


class TestJsonFileStorageConformance(StorageConformance):
    """The storage example passes the whole storage conformance suite."""

    supports_backup = True

    async def make_storage(self, location: Path) -> Any:
        storage_cls = storage_backend.JsonFileStorage
        return storage_cls(storage_cls.Config(path=str(location / "store.json")))


async def test_storage_example_keeps_the_run_the_engine_journaled(
    make_app: Callable[[str], App], register_plugin: Callable[..., str], tmp_path: Path
) -> None:
    register_plugin(storage_backend, name="jsonstore")
    register_plugin(tool_plugin, name="wordtools")
    path = tmp_path / "runs.json"
    app = make_app(
        f"""
[storage]
backend = "jsonfile"

[plugins.jsonstore]
path = "{path}"

[workflows.w]
[[workflows.w.tasks]]
id = "count"
tool = "word_count"
args = {{ text = "one two three" }}
"""
    )
    async with Engine(app) as engine:  # the configured backend, created from [storage]
        result = await engine.run("w")
    assert result.ok
    reopened = app.create("storage", "jsonfile")
    await reopened.open()
    run = await reopened.get_run(result.run_id)
    assert run is not None
    assert (run.status, run.output) == ("succeeded", {"count": 3})
    [step] = await reopened.get_steps(result.run_id)
    assert (step.key, step.type, step.data["data"]) == ("count#1:task_tool", "tool_result", 3)
    assert "run_finished" in [e.type for e in await reopened.list_events(result.run_id)]
    await reopened.close()


# --- sandbox ----------------------------------------------------------------------------


class _SandboxSuite(SandboxConformance):
    """The conformance suite, driven test by test below (not collected as a whole: most of
    its attacks, such as the fork bomb, would hit this machine through an unconfined
    sandbox)."""

    def make_sandbox(self) -> Any:
        box_cls = sandbox_example.LocalProcessSandbox
        return box_cls(box_cls.Config(acknowledge_no_isolation=True, output_limit_bytes=65536))


BASICS = [
    "test_python_output_and_exit_code_are_reported",
    "test_bash_runs",
    "test_stdin_is_fed_to_the_program",
    "test_a_fresh_workspace_is_the_writable_cwd_and_starts_empty",
    "test_a_given_workspace_is_read_write_and_kept",
    "test_artifacts_never_follow_symlinks",
    "test_a_cpu_spin_is_killed_at_the_timeout",
    "test_an_output_flood_is_capped_and_ended",
]
"""Conformance tests about running code, which the example passes."""

ESCAPES = {
    "test_host_files_cannot_be_read": "the sandbox read host files",
    "test_no_network_not_even_the_hosts_loopback": "reachable from the sandbox",
}
"""Conformance tests about isolation, which the example must fail (and the message)."""


async def _run_suite_test(name: str, tmp_path: Path) -> None:
    suite = _SandboxSuite()
    box = suite.make_sandbox()
    box.probe()
    method = getattr(suite, name)
    args = {"sandbox": box, "tmp_path": tmp_path}
    await method(**{p: args[p] for p in inspect.signature(method).parameters})


@pytest.mark.parametrize("name", BASICS)
async def test_sandbox_example_runs_code_as_the_conformance_suite_requires(
    name: str, tmp_path: Path
) -> None:
    await _run_suite_test(name, tmp_path)


@pytest.mark.parametrize("name", sorted(ESCAPES))
async def test_sandbox_example_fails_the_isolation_tests_it_does_not_isolate(
    name: str, tmp_path: Path
) -> None:
    with pytest.raises(AssertionError, match=ESCAPES[name]):
        await _run_suite_test(name, tmp_path)


async def test_sandbox_example_refuses_to_run_unless_told_it_does_not_isolate(
    make_app: Callable[[str], App], register_plugin: Callable[..., str], tmp_path: Path
) -> None:
    register_plugin(sandbox_example, name="localbox")
    box = make_app("").create("sandbox", "local-process")
    with pytest.raises(SandboxUnavailableError, match="does not isolate"):
        box.probe()
    marker = tmp_path / "ran"
    with pytest.raises(SandboxUnavailableError):
        await box.execute(ExecutionRequest(code=f"open({str(marker)!r}, 'w')"))
    assert not marker.exists(), "nothing may run before the sandbox is acknowledged"


def test_sandbox_example_through_agent_sdk_sandbox_run_with_p(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from agent_sdk.cli import main

    for var in [v for v in os.environ if v.startswith("AGENT_SDK")]:
        monkeypatch.delenv(var)
    monkeypatch.setenv("AGENT_SDK_LOAD_PLUGINS", "")  # no installed plugin: only -p
    monkeypatch.setenv("AGENT_SDK_PLUGIN_MODULES", "")  # -p sets it: restored at teardown
    monkeypatch.syspath_prepend(str(SNIPPETS))
    monkeypatch.delitem(sys.modules, "sandbox_example", raising=False)
    config = tmp_path / "agent-sdk.toml"
    config.write_text("[plugins.sandbox_example]\nacknowledge_no_isolation = true\n")
    program = tmp_path / "hello.py"
    program.write_text("print('hello from', 6 * 7)\nraise SystemExit(3)\n")
    code = main(
        [
            "-p",
            "sandbox_example",
            "sandbox",
            "run",
            "--sandbox",
            "local-process",
            "--config",
            str(config),
            str(program),
        ]
    )
    result = json.loads(capsys.readouterr().out)
    assert code == 3, "the command exits with the program's status"
    assert result["exit_code"] == 3
    assert result["stdout"] == "hello from 42\n"
    assert result["isolation"]["isolated"] is False


# --- alert sink -------------------------------------------------------------------------


@tool(threaded=False)
def deploy(target: str) -> str:
    """Always fails, with a secret in its message."""
    raise ToolError(f"deploy to {target} refused: token hunter2-secret expired")


FAILING = """
[alerts]
sinks = ["jsonl"]

[plugins.alertfile]
path = "{path}"
{extra}

[workflows.ship]
[[workflows.ship.tasks]]
id = "deploy"
tool = "deploy"
args = {{ target = "prod" }}
"""


async def test_alert_sink_example_receives_the_alert_of_a_failed_run_with_secrets_masked(
    make_app: Callable[[str], App],
    register_plugin: Callable[..., str],
    tmp_path: Path,
    clean_redactor: Any,
) -> None:
    clean_redactor.add("hunter2-secret")  # as if resolved from a secret reference
    register_plugin(alert_sink, name="alertfile")
    register_plugin(agent_sdk_register_tools=lambda: [deploy])
    path = tmp_path / "alerts.jsonl"
    app = make_app(FAILING.format(path=path, extra=""))
    storage = MemoryStorage()
    result = await run_workflow(app, "ship", storage)  # the engine waits for deliveries
    assert result.status == "failed"
    [line] = path.read_text(encoding="utf-8").splitlines()
    alert = json.loads(line)
    assert (alert["rule"], alert["severity"], alert["run_id"]) == (
        "run_failed",
        "error",
        result.run_id,
    )
    assert "refused" in alert["message"]
    assert "hunter2-secret" not in line
    [stored] = await storage.list_alerts()
    assert stored.data["deliveries"] == {"jsonl": "sent"}


async def test_alert_sink_example_drops_alerts_below_its_minimum_severity(
    make_app: Callable[[str], App], register_plugin: Callable[..., str], tmp_path: Path
) -> None:
    register_plugin(alert_sink, name="alertfile")
    register_plugin(agent_sdk_register_tools=lambda: [deploy])
    path = tmp_path / "alerts.jsonl"
    app = make_app(FAILING.format(path=path, extra='min_severity = "critical"'))
    result = await run_workflow(app, "ship")
    assert result.status == "failed"
    assert not path.exists()


async def test_alert_sink_example_failure_is_recorded_not_raised_into_the_run(
    make_app: Callable[[str], App], register_plugin: Callable[..., str], tmp_path: Path
) -> None:
    register_plugin(alert_sink, name="alertfile")
    register_plugin(agent_sdk_register_tools=lambda: [deploy])
    path = tmp_path / "no-such-directory" / "alerts.jsonl"
    app = make_app(FAILING.format(path=path, extra=""))
    storage = MemoryStorage()
    result = await run_workflow(app, "ship", storage)
    assert result.status == "failed"
    assert result.error["type"] == "WorkflowError"
    [stored] = await storage.list_alerts()
    assert stored.data["deliveries"]["jsonl"].startswith("failed: alert sink 'jsonl'")
