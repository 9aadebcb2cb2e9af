"""The documentation covers every hook, and the site builds with ``mkdocs build --strict``.

Also checked against the code: every error class, CLI command and CLI option, core
configuration section and workflow/task key is documented; the generated configuration
reference has a row for every key of the checked-in schema; every plugin README becomes a
page; the import layering stated on the architecture page holds.

Hook headings in ``docs/hooks.md`` carry the hook's signature in one normalized form,
produced by :func:`hook_signature` from :func:`inspect.signature` of the spec::

    ### `agent_sdk_after_run(run: RunInfo, outcome: Outcome) -> None`

Annotations are written as in the source (``hookspecs`` uses postponed annotations, so they
are the source strings, unquoted); parameters are separated by ``", "``; defaults are shown
as ``name: T = repr(default)``; ``*``/``/`` markers as Python prints them.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agent_sdk import hookspecs

ROOT = Path(__file__).resolve().parent.parent
HOOKS_MD = ROOT / "docs" / "hooks.md"
HEADING_RE = re.compile(r"^(#{1,6})\s+(.*?)\s*$", re.MULTILINE)


def _annotation(value: Any) -> str:
    return value if isinstance(value, str) else inspect.formatannotation(value)


def hook_signature(fn: Callable[..., Any]) -> str:
    """``name(param: T, ...) -> R``: the normalized signature a hook's heading contains."""
    sig = inspect.signature(fn)
    params = []
    for param in sig.parameters.values():
        text = param.name
        if param.kind is param.VAR_POSITIONAL:
            text = "*" + text
        elif param.kind is param.VAR_KEYWORD:
            text = "**" + text
        if param.annotation is not param.empty:
            text += f": {_annotation(param.annotation)}"
        if param.default is not param.empty:
            text += f" = {param.default!r}"
        params.append((param.kind, text))
    rendered: list[str] = []
    for i, (kind, text) in enumerate(params):
        previous = params[i - 1][0] if i else None
        if kind is inspect.Parameter.KEYWORD_ONLY and previous not in (
            inspect.Parameter.KEYWORD_ONLY,
            inspect.Parameter.VAR_POSITIONAL,
        ):
            rendered.append("*")
        if previous is inspect.Parameter.POSITIONAL_ONLY and kind is not previous:
            rendered.append("/")
        rendered.append(text)
    if params and params[-1][0] is inspect.Parameter.POSITIONAL_ONLY:
        rendered.append("/")
    returns = ""
    if sig.return_annotation is not sig.empty:
        returns = f" -> {_annotation(sig.return_annotation)}"
    return f"{fn.__name__}({', '.join(rendered)}){returns}"


def _sections(markdown: str) -> dict[str, str]:
    """Heading text → the text up to the next heading of the same or a higher level."""
    matches = list(HEADING_RE.finditer(markdown))
    sections = {}
    for i, match in enumerate(matches):
        level = len(match.group(1))
        end = len(markdown)
        for later in matches[i + 1 :]:
            if len(later.group(1)) <= level:
                end = later.start()
                break
        sections[match.group(2)] = markdown[match.end() : end]
    return sections


def _is_firstresult(fn: Callable[..., Any]) -> bool:
    options = getattr(fn, "agent_sdk_spec", None) or {}
    return bool(options.get("firstresult"))


# --- signature format --------------------------------------------------------------------


def _example(a: int, /, b: str, *args: Any, c: bool = False, **kw: Any) -> list[int]:
    raise NotImplementedError


def _kw_only(x: int, *, y: int = 1) -> None:
    raise NotImplementedError


def test_signature_format_is_python_like() -> None:
    assert hook_signature(_example) == (
        "_example(a: int, /, b: str, *args: Any, c: bool = False, **kw: Any) -> list[int]"
    )
    assert hook_signature(_kw_only) == "_kw_only(x: int, *, y: int = 1) -> None"


def test_signature_format_of_a_hook_matches_its_source() -> None:
    assert (
        hook_signature(hookspecs.agent_sdk_register_tools)
        == "agent_sdk_register_tools() -> list[type[Tool]]"
    )


# --- every hook is documented ---------------------------------------------------------------


def test_hook_names_lists_every_spec() -> None:
    specs = [n for n, v in vars(hookspecs).items() if hasattr(v, "agent_sdk_spec")]
    assert sorted(specs) == sorted(hookspecs.HOOK_NAMES)


@pytest.mark.parametrize("name", hookspecs.HOOK_NAMES)
def test_every_hook_has_a_section_titled_with_its_signature(name: str) -> None:
    signature = hook_signature(getattr(hookspecs, name))
    headings = list(_sections(HOOKS_MD.read_text(encoding="utf-8")))
    same_hook = [h for h in headings if re.search(rf"\b{re.escape(name)}\(", h)]
    assert any(signature in h for h in headings), (
        f"docs/hooks.md has no heading for hook {name!r} with its current signature; add:\n\n"
        f"### `{signature}`\n\n::: agent_sdk.hookspecs.{name}\n\n"
        + (f"(headings that name the hook: {same_hook})" if same_hook else "")
    )


def test_hooks_page_documents_no_hook_that_does_not_exist() -> None:
    known = set(hookspecs.HOOK_NAMES)
    headings = _sections(HOOKS_MD.read_text(encoding="utf-8"))
    stale = [
        h
        for h in headings
        for name in re.findall(r"\b(agent_sdk_\w+)\(", h)
        if name not in known or hook_signature(getattr(hookspecs, name)) not in h
    ]
    assert not stale, f"docs/hooks.md has headings for removed or changed hooks: {stale}"


def test_firstresult_hooks_say_they_stop_at_the_first_result() -> None:
    sections = _sections(HOOKS_MD.read_text(encoding="utf-8"))
    silent = []
    for name in hookspecs.HOOK_NAMES:
        fn = getattr(hookspecs, name)
        if not _is_firstresult(fn):
            continue
        signature = hook_signature(fn)
        body = "".join(text for heading, text in sections.items() if signature in heading)
        if "first non-None result" not in (body + (inspect.getdoc(fn) or "")).replace("`", ""):
            silent.append(name)
    assert not silent, (
        f"firstresult hooks must say they stop at the first non-None result: {silent}"
    )


# --- the site builds ------------------------------------------------------------------------


def _mkdocs_available() -> bool:
    return importlib.util.find_spec("mkdocs") is not None and (
        importlib.util.find_spec("mkdocstrings_handlers") is not None
    )


@pytest.mark.skipif(
    not _mkdocs_available(),
    reason="mkdocs/mkdocstrings are not installed (pip install -e '.[dev]' installs them)",
)
def test_docs_site_builds_with_strict_mkdocs(tmp_path: Path) -> None:
    site = tmp_path / "site"
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = (result.stdout + result.stderr)[-6000:]
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{output}"
    assert (site / "hooks" / "index.html").is_file()
    assert (site / "api" / "hookspecs" / "index.html").is_file()
    reference = site / "reference" / "configuration-reference" / "index.html"
    assert "[plugins.sqlite]" in reference.read_text(encoding="utf-8")
    assert (site / "operations" / "index.html").is_file()
    plugin_dirs = [p for p in (ROOT / "plugins").glob("agent-sdk-*") if (p / "README.md").is_file()]
    missing = [
        p.name
        for p in plugin_dirs
        if not (site / "plugins" / p.name.removeprefix("agent-sdk-") / "index.html").is_file()
    ]
    assert plugin_dirs
    assert not missing, f"plugin READMEs without a page: {missing}"
    assert not list(site.rglob("snippets")), "docs/snippets/ must not be published as pages"


def test_every_core_config_section_is_documented() -> None:
    from agent_sdk.config import Config

    page = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    sections = [name for name, field in Config.model_fields.items() if not field.exclude]
    missing = [s for s in sections if f"[{s}]" not in page and f"[{s}." not in page]
    assert not missing, f"docs/configuration.md does not describe the sections {missing}"


def test_every_error_class_is_in_the_errors_page() -> None:
    from agent_sdk import errors

    page = (ROOT / "docs" / "errors.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\|\s*`(\w+)`\s*\|.*\|\s*(yes|no)\s*\|\s*$", page, re.MULTILINE))
    problems = []
    for name in errors.__all__:
        cls = getattr(errors, name)
        if not (isinstance(cls, type) and issubclass(cls, errors.AgentSDKError)):
            continue
        expected = "yes" if cls.transient else "no"
        if name not in rows:
            problems.append(f"{name} has no row")
        elif rows[name] != expected:
            problems.append(f"{name} is listed transient={rows[name]}, the class says {expected}")
    assert not problems, "docs/errors.md is out of date: " + "; ".join(problems)


def test_every_cli_command_has_a_section() -> None:
    import click

    from agent_sdk.cli import cli

    page = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    headings = [h for h in _sections(page) if h.startswith("`agent-sdk ")]
    commands = cli.list_commands(click.Context(cli))
    missing = [c for c in commands if not any(h.startswith(f"`agent-sdk {c}") for h in headings)]
    assert not missing, f"docs/cli.md has no `agent-sdk <command>` heading for {missing}"


def test_every_cli_option_is_documented_in_its_commands_section() -> None:
    import click

    from agent_sdk.cli import cli

    page = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    sections = _sections(page)
    top = page.split("\n## ", 1)[0]  # the global options, before the first command section

    def options(command: click.Command) -> list[list[str]]:
        found = [p.opts for p in command.params if isinstance(p, click.Option)]
        if isinstance(command, click.Group):
            ctx = click.Context(command)
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                assert sub is not None
                found += options(sub)
        return found

    own = [p.opts for p in cli.params if isinstance(p, click.Option)]
    missing = [f"global {opts}" for opts in own if not _mentioned(opts, top)]
    ctx = click.Context(cli)
    for name in cli.list_commands(ctx):
        command = cli.get_command(ctx, name)
        assert command is not None
        text = top + "".join(  # options common to all commands are described at the top
            heading + body
            for heading, body in sections.items()
            if re.match(rf"`agent-sdk {name}\b", heading)
        )
        missing += [f"{name} {opts}" for opts in options(command) if not _mentioned(opts, text)]
    assert not missing, f"docs/cli.md does not mention these options in their sections: {missing}"


def _mentioned(opts: list[str], text: str) -> bool:
    return any(re.search(rf"(?<![\w-]){re.escape(o)}(?![\w-])", text) for o in opts)


# --- the configuration reference ----------------------------------------------------------


def _load_hook(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(
        f"_docs_hook_{name}", ROOT / "docs" / "_hooks" / f"{name}.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_configuration_reference_has_a_section_and_a_row_for_every_key() -> None:
    reference = _load_hook("config_reference")
    schema = json.loads((ROOT / "docs" / "reference" / "agent-sdk.schema.json").read_text())
    page = reference.render_reference(schema)
    sections = _sections(page)
    renderer = reference.SchemaReference(schema)
    problems = []
    tables = {f"[{k}]": v for k, v in schema["properties"].items() if k != "plugins"}
    plugins = schema["properties"]["plugins"]["properties"]
    tables |= {f"[plugins.{k}]": v for k, v in plugins.items() if k != "disabled"}
    for table, node in tables.items():
        resolved = renderer.resolve(node)
        value = renderer.map_value(resolved)
        heading = f"`{table[:-1]}.<name>]`" if value is not None else f"`{table}`"
        if heading not in sections:
            problems.append(f"no section {heading}")
            continue
        keys = (value if value is not None else resolved).get("properties") or {}
        problems += [f"{table} {key}" for key in keys if f"| `{key}` |" not in sections[heading]]
    assert "| `disabled` |" in sections["`[plugins]`"]
    assert not problems, f"the configuration reference misses: {problems}"
    assert "$ref" not in page


def test_configuration_reference_nested_tables_and_defaults() -> None:
    reference = _load_hook("config_reference")
    schema = {
        "properties": {
            "runtime": {"$ref": "#/$defs/Runtime"},
            "plugins": {
                "properties": {
                    "disabled": {"type": "array", "items": {"type": "string"}},
                    "demo": {
                        "type": "object",
                        "properties": {
                            "retry": {
                                "$ref": "#/$defs/Retry",
                                "default": {"attempts": 5},
                                "description": "Retries <of> | demo.",
                            },
                            "key": {"anyOf": [{"$ref": "#/$defs/Secret"}, {"type": "null"}]},
                            "mode": {"enum": ["a", "b"], "default": "a"},
                            "size": {"type": "integer", "minimum": 1},
                        },
                        "required": ["size"],
                    },
                },
            },
        },
        "$defs": {
            "Runtime": {
                "type": "object",
                "description": "``[runtime]``: engine.",
                "properties": {
                    "breaker": {"$ref": "#/$defs/Retry"},
                    "limits": {"type": "object", "additionalProperties": {"$ref": "#/$defs/Retry"}},
                },
            },
            "Retry": {
                "type": "object",
                "properties": {"attempts": {"type": "integer", "default": 3}},
            },
            "Secret": {
                "type": "object",
                "properties": {"env": {"type": "string"}, "keyring": {"type": "string"}},
            },
        },
    }
    sections = _sections(reference.render_reference(schema))
    assert "`[runtime.breaker]`" in sections
    assert "the schema does not record the default of `breaker`" in sections["`[runtime.breaker]`"]
    assert "| `attempts` | integer | `3` |" in sections["`[runtime.breaker]`"]
    assert "`[runtime.limits.<name>]`" in sections
    demo = sections["`[plugins.demo]`"]
    assert "| `size` | integer, ≥ 1 | *required* |" in demo
    assert '| `mode` | one of `"a"`, `"b"` | `"a"` |' in demo
    assert "| `key` | secret reference" in demo
    assert "Retries &lt;of&gt; \\| demo." in demo
    assert "| `attempts` | integer | `5` |" in sections["`[plugins.demo.retry]`"]


# --- concepts: the workflow keys, and the layering the architecture page states ------------


def test_every_workflow_and_task_key_is_in_the_concepts_tables() -> None:
    from agent_sdk.runtime.workflow import TaskDef, WorkflowDef

    page = (ROOT / "docs" / "concepts.md").read_text(encoding="utf-8")
    rows = set(re.findall(r"^\|\s*`(\w+)`\s*\|", page, re.MULTILINE))
    keys = (set(WorkflowDef.model_fields) - {"name"}) | set(TaskDef.model_fields)
    assert keys <= rows, f"docs/concepts.md has no table row for {sorted(keys - rows)}"


def _import_time_imports(path: Path) -> set[str]:
    """``agent_sdk`` modules *path* imports when loaded (not in functions or TYPE_CHECKING)."""
    import ast

    found: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return {name for name in found if name.split(".")[0] == "agent_sdk"}


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "agent_sdk"


def test_imports_follow_the_layers_the_architecture_page_states() -> None:
    lower = {"kinds", "messages", "events", "errors", "secrets", "logging"}
    work = {"runtime", "reliability", "observability"}
    forbidden: dict[str, set[str]] = {
        **{
            layer: {"runtime", "reliability", "observability", "config", "plugins"}
            for layer in lower
        },
        **{layer: {"config", "plugins", "app", "cli"} for layer in work},
    }
    problems = []
    for path in sorted((ROOT / "agent_sdk").rglob("*.py")):
        source = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        layer = _layer(source)
        for target in _import_time_imports(path):
            target_layer = _layer(target)
            if target_layer == "cli" and layer != "cli":
                problems.append(f"{source} imports {target}")
            if layer in lower and target_layer in {"app", "cli"}:
                problems.append(f"{source} imports {target}")
            if target_layer in forbidden.get(layer, set()):
                problems.append(f"{source} imports {target}")
    assert not problems, "imports break the layering of docs/architecture.md: " + "; ".join(
        problems
    )
