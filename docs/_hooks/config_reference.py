"""MkDocs hook: the configuration reference page, rendered from the checked-in JSON Schema.

``docs/reference/agent-sdk.schema.json`` is what ``agent-sdk schema`` prints with the builtin
and first-party plugins loaded; ``tests/test_schema_freshness.py`` fails (printing the command
that regenerates it) when it no longer matches the code. This hook turns it into
``reference/configuration-reference.md`` *at build time*: one section per top-level key and
per ``[plugins.<name>]`` table, one row per key (type, default, description), ``$ref``s into
``$defs`` resolved, nested tables as sections of their own.

Why generated at build time rather than checked in: the schema is already the one checked-in
artefact with a freshness test; a Markdown copy of it would be a second artefact that can go
stale and needs a second freshness test, and would show up in every diff that changes a
setting. Rendered at build time, the page cannot disagree with the schema it is built from.

Only the standard library is used (the docs build environment does not install agent-sdk).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

SCHEMA = "reference/agent-sdk.schema.json"
PAGE = "reference/configuration-reference.md"

# Core sections in the order a configuration file usually has them; keys not listed here
# (a section added later) follow in the schema's order.
_ORDER = ["logging", "storage", "sandbox", "runtime", "models", "agents", "workflows", "alerts"]

_INTRO = """\
# Configuration reference

<!-- Generated at build time by docs/_hooks/config_reference.py; not a source file. -->

Every key of `agent-sdk.toml`, generated when the site is built from
[`agent-sdk.schema.json`](agent-sdk.schema.json): the JSON Schema (draft 2020-12) that
`agent-sdk schema` prints with the builtin and first-party plugins loaded. Point an editor at
that file to complete and check `agent-sdk.toml` as you type.

Descriptions come from the `Field(description=...)` of the pydantic models in the code;
`tests/test_schema_freshness.py` fails, printing the command that regenerates the schema,
when the checked-in file no longer matches the code. A plugin you install yourself adds its
own `[plugins.<name>]` table: run `agent-sdk schema` to see the tables of what is installed
on your machine. How the file is found, overridden from the environment and validated is
explained in [Configuration](../configuration.md).

*Type* shows the TOML type and its constraints; *default* is what applies when the key is
absent (*required*: there is none, the key must be set). The keys of a `[workflows.<name>]`
table are checked when the workflow is loaded rather than by the schema: they are described
in [Concepts](../concepts.md#workflows).
"""


class SchemaReference:
    """Renders one JSON Schema document as Markdown sections."""

    def __init__(self, schema: dict[str, Any]) -> None:
        self.schema = schema
        self.defs: dict[str, Any] = schema.get("$defs", {})

    # --- schema helpers ------------------------------------------------------------------

    def resolve(self, node: dict[str, Any], seen: tuple[str, ...] = ()) -> dict[str, Any]:
        """*node* with its ``$ref`` (into ``$defs``) replaced by the definition.

        Keys next to the ``$ref`` (a field's own ``description``) win over the definition's.
        """
        ref = node.get("$ref")
        if not isinstance(ref, str) or not ref.startswith("#/$defs/"):
            return node
        name = ref[len("#/$defs/") :]
        if name in seen or name not in self.defs:
            raise ValueError(f"cannot resolve {ref!r} (unknown or recursive definition)")
        target = self.resolve(self.defs[name], (*seen, name))
        merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        merged.setdefault("title", name)
        merged["x-def"] = name
        return merged

    def is_secret(self, node: dict[str, Any]) -> bool:
        """``True`` for a secret reference (``{ env = "..." }`` / ``{ keyring = "..." }``)."""
        props = node.get("properties") or {}
        return set(props) == {"env", "keyring"} or str(node.get("x-def", "")).endswith("SecretRef")

    def is_table(self, node: dict[str, Any]) -> bool:
        """``True`` for an object with described keys (rendered as a section of its own)."""
        return (
            node.get("type") == "object"
            and bool(node.get("properties"))
            and not self.is_secret(node)
        )

    def map_value(self, node: dict[str, Any]) -> dict[str, Any] | None:
        """For a table of named tables (``[models.<name>]``), the schema of each value."""
        extra = node.get("additionalProperties")
        if node.get("type") == "object" and isinstance(extra, dict) and not node.get("properties"):
            return self.resolve(extra)
        return None

    def type_text(self, node: dict[str, Any]) -> str:
        """The TOML type of *node*, with its constraints."""
        node = self.resolve(node)
        if self.is_secret(node):
            return 'secret reference: `{ env = "NAME" }` or `{ keyring = "service/user" }`'
        if "const" in node:
            return f"`{_toml(node['const'])}`"
        if "enum" in node:
            return "one of " + ", ".join(f"`{_toml(v)}`" for v in node["enum"])
        if "anyOf" in node or "oneOf" in node:
            options = [self.resolve(o) for o in node.get("anyOf") or node.get("oneOf")]
            real = [o for o in options if o.get("type") != "null"]
            text = " or ".join(self.type_text(o) for o in real) or "null"
            return text + (" (or unset)" if len(real) < len(options) else "")
        kind = node.get("type")
        if isinstance(kind, list):
            return " or ".join(_TYPE_NAMES.get(k, k) for k in kind)
        if kind == "array":
            items = self.resolve(node.get("items") or {})
            if self.is_table(items):
                text = "array of tables (below)"
            else:
                text = f"array of {self.type_text(items)}" if items else "array"
        elif kind == "object":
            value = self.map_value(node)
            if self.is_table(node):
                text = "table (below)"
            elif value is not None:
                text = (
                    "table of named tables (below)"
                    if self.is_table(value)
                    else f"table of {self.type_text(value)}"
                )
            else:
                text = "table (free-form)"
        else:
            text = _TYPE_NAMES.get(str(kind), str(kind)) if kind else "any"
        return text + _constraints(node)

    def default_text(self, name: str, node: dict[str, Any], required: set[str]) -> str:
        """The default of *node*, as TOML; *required* when it must be set."""
        if "default" in node:
            return _default(node["default"])
        if name in required:
            return "*required*"
        resolved = self.resolve(node)
        if self.is_table(resolved) or self.map_value(resolved) is not None:
            return "see below" if self.is_table(resolved) else "`{}`"
        if resolved.get("type") == "array":
            return "`[]`"
        return "—"

    # --- rendering -----------------------------------------------------------------------

    def section(
        self,
        heading: str,
        node: dict[str, Any],
        level: int = 2,
        *,
        defaults: dict[str, Any] | None = None,
        note: str = "",
    ) -> list[str]:
        """Markdown for the table *heading* (e.g. ``[runtime]``) and its nested tables.

        Args:
            heading: the TOML table name shown as the heading.
            node: its schema.
            level: the heading level.
            defaults: the enclosing field's default for this table, which wins over the
                defaults of the table's type.
            note: a paragraph put under the description.
        """
        node = self.resolve(node)
        out = [f"{'#' * level} `{heading}`", ""]
        description = _text(node.get("description", ""))
        if description:
            out += [description, ""]
        if note:
            out += [note, ""]
        props: dict[str, Any] = node.get("properties") or {}
        if not props:
            if node.get("additionalProperties") is True or node.get("type") == "object":
                out += ["A free-form table: its keys are not described by the schema.", ""]
            return out
        required = set(node.get("required") or [])
        out += ["| key | type | default | description |", "|---|---|---|---|"]
        nested: list[list[str]] = []
        for name, prop in props.items():
            resolved = self.resolve(prop)
            if defaults is not None and name in defaults:
                default = _default(defaults[name])
            else:
                default = self.default_text(name, prop, required)
            out.append(
                f"| `{name}` | {_cell(self.type_text(prop))} | {_cell(default)} | "
                f"{_cell(_text(resolved.get('description', '')))} |"
            )
            nested.append(self._children(heading, name, resolved, level + 1 if level < 3 else 3))
        if node.get("additionalProperties") is True:
            out += ["", "Other keys are allowed (see the description above)."]
        out.append("")
        for lines in nested:
            out += lines
        return out

    def _children(self, heading: str, name: str, node: dict[str, Any], level: int) -> list[str]:
        """The sections of the tables nested under key *name* of table *heading*."""
        path = f"{heading.strip('[]')}.{name}"
        options = [node] + [self.resolve(o) for o in node.get("anyOf") or node.get("oneOf") or []]
        optional = any(o.get("type") == "null" for o in options)
        for option in options:
            if self.is_table(option):
                default = node.get("default")
                if isinstance(default, dict):
                    return self.section(f"[{path}]", option, level, defaults=default)
                note = ""
                if not optional:
                    kind = re.sub(r"^[\w-]+__", "", str(option.get("x-def", "table")))
                    note = (
                        f"*Defaults shown are those of the `{kind}` type: the schema does not "
                        f"record the default of `{name}` itself, which the code may set "
                        "differently.*"
                    )
                return self.section(f"[{path}]", option, level, note=note)
            value = self.map_value(option)
            if value is not None and self.is_table(value):
                return self.section(f"[{path}.<name>]", value, level)
            if option.get("type") == "array":
                items = self.resolve(option.get("items") or {})
                if self.is_table(items):
                    return self.section(f"[[{path}]]", items, level)
        return []

    def render(self) -> str:
        """The whole page."""
        props: dict[str, Any] = self.schema.get("properties") or {}
        keys = [k for k in _ORDER if k in props] + [
            k for k in props if k not in _ORDER and k != "plugins"
        ]
        out = [_INTRO]
        for key in keys:
            node = self.resolve(props[key])
            value = self.map_value(node)
            if value is not None:
                out += self.section(f"[{key}.<name>]", {**value, **_own(node)})
            else:
                out += self.section(f"[{key}]", node)
        plugins = props.get("plugins")
        if plugins is not None:
            plugins = self.resolve(plugins)
            tables = {
                name: self.resolve(p)
                for name, p in (plugins.get("properties") or {}).items()
                if self.is_table(self.resolve(p))
            }
            policy = {
                **plugins,
                "properties": {
                    k: v for k, v in (plugins.get("properties") or {}).items() if k not in tables
                },
            }
            out += self.section("[plugins]", policy)
            for name, table in tables.items():
                out += self.section(f"[plugins.{name}]", table)
        return "\n".join(out).rstrip() + "\n"


_TYPE_NAMES = {
    "string": "string",
    "integer": "integer",
    "number": "number",
    "boolean": "boolean",
    "null": "null",
    "object": "table",
    "array": "array",
}


def _own(node: dict[str, Any]) -> dict[str, Any]:
    """The map's own description, which says more than its values' definition."""
    return {"description": node["description"]} if node.get("description") else {}


def _constraints(node: dict[str, Any]) -> str:
    parts = []
    for key, symbol in (
        ("minimum", "≥"),
        ("exclusiveMinimum", ">"),
        ("maximum", "≤"),
        ("exclusiveMaximum", "<"),
    ):
        if key in node:
            parts.append(f"{symbol} {_toml(node[key])}")
    if "minLength" in node:
        parts.append(f"at least {node['minLength']} character(s)")
    if "maxLength" in node:
        parts.append(f"at most {node['maxLength']} characters")
    if "pattern" in node:
        parts.append(f"matching `{node['pattern']}`")
    return f", {', '.join(parts)}" if parts else ""


def _toml(value: Any) -> str:
    """*value* written as a TOML literal (inline tables for objects)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        return "{ " + ", ".join(f"{_key(k)} = {_toml(v)}" for k, v in value.items()) + " }"
    return json.dumps(value)


def _default(value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, dict) and value:
        return "see below"
    return f"`{_toml(value)}`"


def _key(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else json.dumps(name)


def _text(description: str) -> str:
    """A description on one line, ``<``, ``>`` and ``&`` escaped outside code spans.

    reST double backticks are kept: Markdown reads them as code spans too.
    """
    parts = re.split(r"(``.+?``|`[^`]+`)", " ".join(description.split()))
    for i in range(0, len(parts), 2):
        parts[i] = parts[i].replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return "".join(parts)


def _cell(text: str) -> str:
    """*text* safe in a table cell: ``|`` escaped outside code spans (inside, it is literal)."""
    parts = re.split(r"(``.+?``|`[^`]+`)", text)
    for i in range(0, len(parts), 2):
        parts[i] = parts[i].replace("|", "\\|")
    return "".join(parts) or " "


def render_reference(schema: dict[str, Any]) -> str:
    """The configuration reference page for *schema* (a JSON Schema document)."""
    return SchemaReference(schema).render()


def on_files(files: Any, config: Any) -> Any:
    """Add the generated page, built from ``docs/reference/agent-sdk.schema.json``."""
    from mkdocs.structure.files import File

    path = Path(config["docs_dir"]) / SCHEMA
    schema = json.loads(path.read_text(encoding="utf-8"))
    files.append(File.generated(config, PAGE, content=render_reference(schema)))
    return files
