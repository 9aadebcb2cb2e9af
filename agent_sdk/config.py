"""Configuration: one TOML file, core sections as pydantic models, plugin tables by JSON Schema.

Where the file comes from, first match wins:

1. ``--config PATH`` (the ``path`` argument),
2. the ``AGENT_SDK_CONFIG`` environment variable,
3. ``agent-sdk.toml`` in the working directory,
4. nothing: every default applies.

Then ``AGENT_SDK__<SECTION>__<KEY>[__<KEY>...]`` environment variables override single values
(``AGENT_SDK__LOGGING__LEVEL=debug``, ``AGENT_SDK__PLUGINS__SQLITE__PATH=/data/a.db``); a value
is read as a TOML literal when it parses as one (``10``, ``true``, ``["a"]``), else as a string.

Validation happens before any work starts and reports *every* problem at once, each naming the
file, the dotted key path, what was expected and what was found:

* core sections (``[logging]``, ``[storage]``, ``[sandbox]``, ``[models.<name>]``...) are
  pydantic models; unknown keys are errors;
* each ``[plugins.<name>]`` table is validated with :mod:`jsonschema` against that plugin's
  schema (the merged ``Config`` models of the components it registers);
* ``[models.<name>]`` options are validated against the chosen provider's schema.

Secret values are never in the file: settings that hold one take a reference
(``{ env = "NAME" }`` or ``{ keyring = "service/username" }``), see :mod:`agent_sdk.secrets`.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agent_sdk.errors import ConfigError, ConfigIssue, PluginError, UnknownComponentError
from agent_sdk.reliability.breaker import BreakerPolicy
from agent_sdk.reliability.cache import CachePolicy
from agent_sdk.reliability.ratelimit import RateLimitPolicy
from agent_sdk.reliability.retry import RetryPolicy
from agent_sdk.runtime.alerts import AlertsSection

if TYPE_CHECKING:
    from agent_sdk.kinds.base import Component
    from agent_sdk.plugins import AgentSDKPluginManager, Registry

__all__ = [
    "CONFIG_ENV_VAR",
    "DEFAULT_CONFIG_FILE",
    "ENV_OVERRIDE_PREFIX",
    "Config",
    "LoggingSection",
    "ModelSection",
    "SandboxSection",
    "StorageSection",
    "build_component_config",
    "core_schema",
    "find_config_file",
    "full_schema",
    "load_config",
    "merge_config_schemas",
    "read_toml",
]

DEFAULT_CONFIG_FILE = "agent-sdk.toml"
CONFIG_ENV_VAR = "AGENT_SDK_CONFIG"
ENV_OVERRIDE_PREFIX = "AGENT_SDK__"
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LoggingSection(_Section):
    """``[logging]``: how the CLI configures structured logs."""

    format: Literal["auto", "console", "json"] = Field(
        "auto", description="console on a terminal, JSON lines otherwise (auto)."
    )
    level: Literal["debug", "info", "warning", "error", "critical"] = Field(
        "info", description="Minimum level logged."
    )


class StorageSection(_Section):
    """``[storage]``: which storage backend keeps runs; its settings go in ``[plugins.<name>]``."""

    backend: str = Field("sqlite", description="Registered storage backend name.")


class SandboxSection(_Section):
    """``[sandbox]``: which sandbox runs agent-submitted code."""

    backend: str = Field("bwrap", description="Registered sandbox name. Never falls back to none.")


class ModelSection(BaseModel):
    """``[models.<name>]``: a named model: a ``provider`` plus that provider's options.

    Every key other than ``provider`` is an option of the provider, validated against its
    ``Config`` schema; options override the provider plugin's ``[plugins.<plugin>]`` table.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    provider: str = Field(description="Registered model provider name, e.g. 'llamacpp'.")

    @property
    def options(self) -> dict[str, Any]:
        """The provider options (every key except ``provider``)."""
        return dict(self.__pydantic_extra__ or {})


class AgentSection(BaseModel):
    """``[agents.<name>]``: a configured agent: its ``type``, model, tools and limits.

    Every key not listed here is an option of the agent type, validated against its ``Config``
    schema (e.g. ``system_prompt``).
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    name: str = Field("", description="Set from the table name.")
    type: str = Field(description="Registered agent type, e.g. 'tool-agent'.")
    model: str = Field("default", description="A [models.<name>] entry or a provider name.")
    tools: list[str] | None = Field(
        None, description="Tools the agent may call; unset: every registered tool."
    )
    max_turns: int | None = Field(10, ge=1, description="Model calls per task attempt.")
    max_tool_calls: int | None = Field(50, ge=0, description="Tool calls per task attempt.")
    token_budget: int | None = Field(
        None, ge=1, description="Tokens (input + output) per task attempt; unset: no budget."
    )

    @property
    def options(self) -> dict[str, Any]:
        """The agent-type options (every key not a core agent setting)."""
        return dict(self.__pydantic_extra__ or {})


class RuntimeSection(_Section):
    """``[runtime]``: engine defaults, limits and reliability policies."""

    concurrency: int = Field(4, ge=1, le=1024, description="Tasks running at once per run.")
    task_timeout_s: float = Field(
        600.0, gt=0, description="Default wall clock of one task attempt, seconds."
    )
    max_parallel_tool_calls: int = Field(
        8, ge=1, le=256, description="Tool calls of one model response run concurrently."
    )
    cancel_poll_s: float = Field(
        1.0, gt=0, description="How often a run checks storage for a cancel request, seconds."
    )
    workspace: str | None = Field(
        None, description="Directory given to tools as their workspace (default: cwd)."
    )
    model_retry: RetryPolicy = Field(
        default=RetryPolicy(), description="Retries of transient model errors."
    )
    task_retry: RetryPolicy = Field(
        default=RetryPolicy(initial_s=1.0, timeout_s=None),
        description="Backoff between task attempts (a task's `retries` sets how many).",
    )
    breaker: BreakerPolicy = Field(
        default=BreakerPolicy(),
        description="Circuit breaker per model ('model:<name>') and per tool ('tool:<name>').",
    )
    rate_limits: dict[str, RateLimitPolicy] = Field(
        default_factory=dict,
        description="Rate limits keyed 'model:<name>' or 'tool:<name>'.",
    )
    model_cache: CachePolicy = Field(
        default=CachePolicy(),
        description="Cache of model responses keyed by model and request (off by default).",
    )
    tool_cache: CachePolicy = Field(
        default=CachePolicy(),
        description="Cache of successful results of tools marked side_effects = False, keyed "
        "by tool and arguments (off by default).",
    )
    max_active_runs: int = Field(
        64, ge=1, le=100_000, description="Runs one engine executes at once; more wait."
    )
    run_queue_timeout_s: float | None = Field(
        None,
        gt=0,
        description="How long a run waits for a free slot before it is refused (seconds); "
        "unset: wait as long as it takes.",
    )


class PluginsSection(BaseModel):
    """``[plugins]``: ``disabled = [...]`` plus one ``[plugins.<name>]`` table per plugin."""

    model_config = ConfigDict(extra="allow", frozen=True)

    disabled: list[str] = Field(
        default_factory=list, description="Plugin names never loaded (entry-point names)."
    )

    def settings(self, plugin: str) -> dict[str, Any]:
        """The ``[plugins.<plugin>]`` table, or ``{}``."""
        value = (self.__pydantic_extra__ or {}).get(plugin, {})
        return dict(value) if isinstance(value, Mapping) else {}

    def configured(self) -> list[str]:
        """Names of the plugins that have a table."""
        return sorted(self.__pydantic_extra__ or {})


class Config(_Section):
    """The whole configuration file.

    Attributes:
        source: where it came from: a file path, ``"<defaults>"`` or ``"<string>"``.
        logging: ``[logging]``.
        storage: ``[storage]``.
        sandbox: ``[sandbox]``.
        models: ``[models.<name>]`` tables.
        plugins: ``[plugins]`` (``disabled`` and per-plugin tables).
    """

    source: str = Field(
        "<defaults>", exclude=True, description="Where this configuration came from."
    )
    logging: LoggingSection = Field(default=LoggingSection())
    storage: StorageSection = Field(default=StorageSection())
    sandbox: SandboxSection = Field(default=SandboxSection())
    runtime: RuntimeSection = Field(default=RuntimeSection())
    models: dict[str, ModelSection] = Field(default_factory=dict)
    agents: dict[str, AgentSection] = Field(default_factory=dict)
    workflows: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="[workflows.<name>] tables; see agent_sdk.runtime.workflow for their keys.",
    )
    alerts: AlertsSection = Field(default=AlertsSection())
    plugins: PluginsSection = Field(default=PluginsSection())

    def workflow(self, name: str) -> Any:
        """The validated :class:`~agent_sdk.runtime.workflow.WorkflowDef` named *name*.

        Raises:
            WorkflowValidationError: unknown name (listing the known ones) or invalid definition.
        """
        from agent_sdk.errors import WorkflowValidationError
        from agent_sdk.runtime.workflow import WorkflowDef

        if name not in self.workflows:
            known = ", ".join(sorted(self.workflows)) or "none"
            raise WorkflowValidationError(
                f"{self.source}: no workflow named {name!r} (defined: {known})",
                hint="add a [workflows.<name>] table or pick one of the defined workflows",
            )
        return WorkflowDef.from_mapping(name, self.workflows[name], source=self.source)

    def agent(self, name: str) -> AgentSection:
        """The ``[agents.<name>]`` section, or one made from a bare agent type name."""
        section = self.agents.get(name)
        if section is not None:
            return section.model_copy(update={"name": name})
        return AgentSection(name=name, type=name)

    def to_toml_dict(self, *, redact: bool = True) -> dict[str, Any]:
        """Return the configuration as plain data (what ``agent-sdk config show`` prints).

        Secret *references* are shown as references; with ``redact`` every value under a
        sensitive key (``password``, ``token``...) and every registered secret is masked.
        """
        data = self.model_dump(mode="json", exclude={"source"})
        if redact:
            from agent_sdk.secrets import REDACTOR

            data = REDACTOR.redact_value(data)
        return data


# --- reading ------------------------------------------------------------------------------


def find_config_file(
    path: str | Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Path | None:
    """Return the configuration file to use, or ``None`` for defaults.

    Raises:
        ConfigError: a file named by *path* or ``AGENT_SDK_CONFIG`` does not exist.
    """
    env = os.environ if env is None else env
    explicit, origin = (path, "--config") if path else (env.get(CONFIG_ENV_VAR), CONFIG_ENV_VAR)
    if explicit:
        candidate = Path(explicit)
        if not candidate.is_file():
            raise ConfigError(
                [
                    ConfigIssue(
                        str(candidate),
                        "",
                        f"configuration file not found (named by {origin})",
                        "check the path, or run without it to use ./agent-sdk.toml or defaults",
                    )
                ]
            )
        return candidate
    default = (cwd or Path.cwd()) / DEFAULT_CONFIG_FILE
    return default if default.is_file() else None


def read_toml(path: Path) -> dict[str, Any]:
    """Parse a TOML file.

    Raises:
        ConfigError: unreadable or invalid TOML; the issue names the file, line and column.
    """
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            [ConfigIssue(str(path), "", f"invalid TOML: {exc}", "fix the syntax at that line")]
        ) from None
    except OSError as exc:
        raise ConfigError(
            [ConfigIssue(str(path), "", f"cannot read file: {exc.strerror}")]
        ) from None


def _parse_env_value(raw: str) -> Any:
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def apply_env_overrides(
    data: dict[str, Any], env: Mapping[str, str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """Apply ``AGENT_SDK__SECTION__KEY`` variables to *data*.

    Returns:
        ``(new data, {dotted key path: variable name})`` so errors can name the variable.
    """
    origins: dict[str, str] = {}
    result = json.loads(json.dumps(data))  # deep copy of plain TOML data
    for var in sorted(env):
        if not var.startswith(ENV_OVERRIDE_PREFIX):
            continue
        parts = [p.lower() for p in var[len(ENV_OVERRIDE_PREFIX) :].split("__") if p]
        if not parts:
            continue
        node = result
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child
        node[parts[-1]] = _parse_env_value(env[var])
        origins[".".join(parts)] = var
    return result, origins


# --- validation ---------------------------------------------------------------------------


def _describe(value: Any) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


_SECRET_HINT = (
    'a secret setting takes a reference, never the value: { env = "NAME" } or '
    '{ keyring = "service/username" }'
)


def _holds_secret(key_path: str) -> bool:
    """``True`` if a key on *key_path* is sensitive: its value must never be echoed."""
    from agent_sdk.secrets import is_sensitive_key

    return any(is_sensitive_key(part) for part in key_path.split("."))


def _expects_secret_ref(schema: Any) -> bool:
    """``True`` if *schema* (or a branch of it) is a secret reference: a plain value given
    there may be the pasted secret itself (a webhook URL...), so it is never echoed."""
    text = json.dumps(schema, default=str) if isinstance(schema, dict | list) else ""
    return "SecretRef" in text or ('"env"' in text and '"keyring"' in text)


def _source_for(key_path: str, default: str, origins: Mapping[str, str]) -> str:
    for path, var in origins.items():
        if key_path == path or key_path.startswith(path + "."):
            return f"environment variable {var}"
    return default


def _pydantic_issues(
    exc: ValidationError, source: str, prefix: str, origins: Mapping[str, str]
) -> list[ConfigIssue]:
    issues = []
    for err in exc.errors(include_url=False):
        loc = [str(p) for p in err["loc"]]
        key_path = ".".join([prefix, *loc] if prefix else loc)
        if err["type"] == "extra_forbidden":
            message = "unknown key"
            hint = "remove it or check its spelling (`agent-sdk schema` lists every key)"
        elif err["type"] == "missing":
            message = "required key is missing"
            hint = None
        elif _holds_secret(key_path):
            found = type(err.get("input")).__name__
            message = f"{err['msg']}; found a {found} (not shown: the setting holds a secret)"
            hint = _SECRET_HINT
        else:
            message = f"{err['msg']}; found {_describe(err.get('input'))}"
            hint = None
        issues.append(ConfigIssue(_source_for(key_path, source, origins), key_path, message, hint))
    return issues


def _jsonschema_issues(
    schema: dict[str, Any],
    value: Any,
    source: str,
    prefix: str,
    origins: Mapping[str, str],
) -> list[ConfigIssue]:
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(schema)
    issues = []
    for err in sorted(validator.iter_errors(value), key=lambda e: list(map(str, e.absolute_path))):
        path = [prefix, *[str(p) for p in err.absolute_path]]
        key_path = ".".join(p for p in path if p)
        hint = None
        if err.validator == "additionalProperties":
            allowed = sorted(
                (err.schema.get("properties") or {}) if isinstance(err.schema, dict) else []
            )
            extra = (
                sorted(set(err.instance) - set(allowed)) if isinstance(err.instance, dict) else []
            )
            for key in extra or [""]:
                issues.append(
                    ConfigIssue(
                        _source_for(f"{key_path}.{key}", source, origins),
                        f"{key_path}.{key}" if key else key_path,
                        "unknown key",
                        f"allowed keys: {', '.join(allowed) or 'none'}",
                    )
                )
            continue
        if err.validator == "required":
            present = err.instance if isinstance(err.instance, dict) else {}
            missing = [k for k in err.validator_value if k not in present]
            for key in missing:
                if any(i.key_path == f"{key_path}.{key}" for i in issues):
                    continue  # jsonschema reports each missing key once per "required" error
                issues.append(
                    ConfigIssue(
                        _source_for(key_path, source, origins),
                        f"{key_path}.{key}",
                        "required key is missing",
                        None,
                    )
                )
            if missing:
                continue
            message = f"required key is missing: {err.message}"
        elif _holds_secret(key_path) or _expects_secret_ref(err.schema):
            # never echo what may be a pasted plaintext secret
            message = err.message.replace(repr(err.instance), f"a {type(err.instance).__name__}")
            if isinstance(err.instance, str) and err.instance in message:
                message = message.replace(err.instance, "***")
            message += " (value not shown: the setting holds a secret)"
            hint = _SECRET_HINT
        else:
            expected = err.schema.get("description") if isinstance(err.schema, dict) else None
            message = f"{err.message}"
            if expected and err.validator in ("type", "enum", "pattern", "minimum", "maximum"):
                hint = f"expected: {expected}"
        issues.append(ConfigIssue(_source_for(key_path, source, origins), key_path, message, hint))
    return issues


def merge_config_schemas(
    plugin: str, configs: Iterable[tuple[str, type[BaseModel]]]
) -> dict[str, Any]:
    """Merge the ``Config`` models of a plugin's components into the schema of its table.

    Args:
        plugin: the plugin's name (for the title and error messages).
        configs: ``(label, Config model)`` pairs, e.g. ``("tool:http_fetch", Config)``.

    Returns:
        A JSON Schema object: the union of the models' properties, ``additionalProperties``
        false, the required keys of each model, and their ``$defs``.

    Raises:
        PluginError: two components define one property (or one ``$defs`` entry) differently.
    """
    properties: dict[str, Any] = {}
    owners: dict[str, str] = {}
    required: set[str] = set()
    defs: dict[str, Any] = {}
    for label, model in configs:
        schema = model.model_json_schema()
        for name, prop in (schema.get("properties") or {}).items():
            if name in properties and properties[name] != prop:
                raise PluginError(
                    f"plugin {plugin!r}: {owners[name]} and {label} define setting {name!r} "
                    "differently, so [plugins." + plugin + "] cannot hold both",
                    hint="share one Config model between the plugin's components",
                )
            properties[name] = prop
            owners.setdefault(name, label)
        required.update(schema.get("required") or [])
        for name, definition in (schema.get("$defs") or {}).items():
            if name in defs and defs[name] != definition:
                raise PluginError(
                    f"plugin {plugin!r}: two Config models define a different {name!r} type"
                )
            defs[name] = definition
    merged: dict[str, Any] = {
        "type": "object",
        "title": f"[plugins.{plugin}]",
        "additionalProperties": False,
        "properties": dict(sorted(properties.items())),
    }
    if required:
        merged["required"] = sorted(required)
    if defs:
        merged["$defs"] = dict(sorted(defs.items()))
    return merged


def _validate_plugins(
    data: Mapping[str, Any],
    registry: Registry,
    pm: AgentSDKPluginManager,
    source: str,
    origins: Mapping[str, str],
) -> list[ConfigIssue]:
    issues: list[ConfigIssue] = []
    plugins = data.get("plugins")
    if plugins is None:
        return issues
    if not isinstance(plugins, Mapping):
        return [ConfigIssue(source, "plugins", f"expected a table, found {_describe(plugins)}")]
    for name, table in plugins.items():
        key_path = f"plugins.{name}"
        if name == "disabled":
            continue
        record = pm.records.get(name)
        if record is None:
            installed = ", ".join(sorted(n for n, r in pm.records.items() if r.status == "loaded"))
            issues.append(
                ConfigIssue(
                    _source_for(key_path, source, origins),
                    key_path,
                    f"no plugin named {name!r} is installed (installed: {installed or 'none'})",
                    f"pip install agent-sdk-{name}, or remove the [plugins.{name}] table",
                )
            )
            continue
        if record.status == "blocked":
            continue  # configured but switched off: nothing to validate against
        if record.status == "failed":
            issues.append(
                ConfigIssue(
                    source,
                    key_path,
                    f"plugin {name!r} failed to load, so its settings cannot be checked: "
                    f"{record.error}",
                    "see `agent-sdk plugins list`",
                )
            )
            continue
        if not isinstance(table, Mapping):
            issues.append(
                ConfigIssue(source, key_path, f"expected a table, found {_describe(table)}")
            )
            continue
        try:
            schema = registry.plugin_schema(name)
        except PluginError as exc:
            issues.append(ConfigIssue(source, key_path, exc.message, exc.hint))
            continue
        issues += _jsonschema_issues(schema, dict(table), source, key_path, origins)
    return issues


def _model_sections(data: Mapping[str, Any]) -> dict[str, ModelSection]:
    """The ``[models.<name>]`` tables that validate as :class:`ModelSection`.

    Built from the raw data so that models are checked even when another core section is
    invalid (every problem is reported at once); invalid tables are reported by the core model.
    """
    sections: dict[str, ModelSection] = {}
    models = data.get("models")
    if isinstance(models, Mapping):
        for name, table in models.items():
            try:
                sections[str(name)] = ModelSection.model_validate(table)
            except ValidationError:
                continue
    return sections


def _validate_models(
    data: Mapping[str, Any], registry: Registry, source: str, origins: Mapping[str, str]
) -> list[ConfigIssue]:
    issues: list[ConfigIssue] = []
    for model_name, section in _model_sections(data).items():
        key_path = f"models.{model_name}"
        try:
            entry = registry.entry("model", section.provider)
        except UnknownComponentError as exc:
            issues.append(
                ConfigIssue(
                    _source_for(f"{key_path}.provider", source, origins),
                    f"{key_path}.provider",
                    exc.message,
                    exc.hint,
                )
            )
            continue
        schema = entry.cls.Config.model_json_schema()
        schema["additionalProperties"] = False
        # Options override the plugin's table (build_component_config), so a required key set
        # there need not be repeated in every [models.<name>] table.
        plugin_table = (data.get("plugins") or {}).get(entry.plugin)
        if isinstance(plugin_table, Mapping) and schema.get("required"):
            schema["required"] = [k for k in schema["required"] if k not in plugin_table]
        issues += _jsonschema_issues(schema, section.options, source, key_path, origins)
    return issues


def _validate_references(
    data: Mapping[str, Any], registry: Registry, source: str, origins: Mapping[str, str]
) -> list[ConfigIssue]:
    issues = []
    for section, kind in (("storage", "storage"), ("sandbox", "sandbox")):
        raw = data.get(section)
        if not (isinstance(raw, Mapping) and isinstance(raw.get("backend"), str)):
            continue  # defaults are checked when needed; a non-string is a core-model issue
        name = raw["backend"]
        try:
            registry.entry(kind, name)  # type: ignore[arg-type]
        except UnknownComponentError as exc:
            key_path = f"{section}.backend"
            issues.append(
                ConfigIssue(_source_for(key_path, source, origins), key_path, exc.message, exc.hint)
            )
    return issues


def _validate_runtime(
    config: Config, registry: Registry, source: str, origins: Mapping[str, str]
) -> list[ConfigIssue]:
    from agent_sdk.errors import WorkflowValidationError
    from agent_sdk.runtime.workflow import WorkflowDef

    issues: list[ConfigIssue] = []

    def issue(key_path: str, message: str, hint: str | None = None) -> None:
        issues.append(ConfigIssue(_source_for(key_path, source, origins), key_path, message, hint))

    def check_model(key_path: str, model: str) -> None:
        if model in config.models or model in registry.names("model"):
            return
        configured = ", ".join(sorted(config.models)) or "none"
        issue(
            key_path,
            f"no model named {model!r}: not a [models.<name>] table (configured: {configured}) "
            f"nor a registered provider ({', '.join(registry.names('model')) or 'none'})",
            f"add a [models.{model}] table with a provider",
        )

    for name, section in config.agents.items():
        key_path = f"agents.{name}"
        try:
            entry = registry.entry("agent", section.type)
        except UnknownComponentError as exc:
            issue(f"{key_path}.type", exc.message, exc.hint)
            continue
        schema = entry.cls.Config.model_json_schema()
        schema["additionalProperties"] = False
        issues.extend(_jsonschema_issues(schema, section.options, source, key_path, origins))
        check_model(f"{key_path}.model", section.model)
        for index, tool in enumerate(section.tools or []):
            if tool not in registry.names("tool"):
                issue(
                    f"{key_path}.tools[{index}]",
                    f"no tool named {tool!r} is registered",
                    f"registered tools: {', '.join(registry.names('tool')) or 'none'}",
                )
    for index, sink in enumerate(config.alerts.sinks):
        if sink not in registry.names("alert_sink"):
            issue(
                f"alerts.sinks[{index}]",
                f"no alert sink named {sink!r} is registered",
                f"registered alert sinks: {', '.join(registry.names('alert_sink')) or 'none'} "
                "(pip install agent-sdk-alerts for log, webhook, slack and email)",
            )
    for name, table in config.workflows.items():
        try:
            workflow = WorkflowDef.from_mapping(name, table, source=source)
        except WorkflowValidationError as exc:
            issues.extend(exc.issues or [ConfigIssue(source, f"workflows.{name}", exc.message)])
            continue
        for index, task in enumerate(workflow.tasks):
            key_path = f"workflows.{name}.tasks[{index}]"
            if task.tool is not None and task.tool not in registry.names("tool"):
                issue(
                    f"{key_path}.tool",
                    f"task {task.id!r}: no tool named {task.tool!r} is registered",
                    f"registered tools: {', '.join(registry.names('tool')) or 'none'}",
                )
            if task.agent is not None and task.agent not in config.agents:
                if task.agent not in registry.names("agent"):
                    issue(
                        f"{key_path}.agent",
                        f"task {task.id!r}: no agent named {task.agent!r}: not an "
                        f"[agents.<name>] table nor a registered agent type",
                        f"configured agents: {', '.join(sorted(config.agents)) or 'none'}",
                    )
                else:
                    check_model(f"{key_path}.agent", "default")
    return issues


def load_config(
    path: str | Path | None = None,
    *,
    text: str | None = None,
    data: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    pm: AgentSDKPluginManager | None = None,
    source: str = "<string>",
) -> Config:
    """Load, override from the environment, and validate the configuration.

    Exactly one of *path*, *text* or *data* may be given; with none, the file is found by
    :func:`find_config_file` (or defaults apply).

    Args:
        path: a TOML file.
        text: TOML text (tests, ``--config -``).
        data: already-parsed data.
        env: environment for overrides and file discovery (default ``os.environ``).
        pm: the plugin manager whose plugins' schemas validate ``[plugins.*]`` and whose
            registry resolves providers. Without one, plugin tables are not validated (use
            :func:`agent_sdk.app.load_app` for the full check).
        source: the name used in messages for *text* / *data*.

    Returns:
        The validated :class:`Config`.

    Raises:
        ConfigError: listing every problem found (file, dotted key path, expected, found).
    """
    env = os.environ if env is None else env
    if sum(x is not None for x in (path, text, data)) > 1:
        raise ValueError("give at most one of path, text or data")
    raw: dict[str, Any]
    if text is not None:
        try:
            raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError([ConfigIssue(source, "", f"invalid TOML: {exc}")]) from None
    elif data is not None:
        raw = dict(data)
    else:
        found = find_config_file(path, env=env)
        if found is None:
            raw, source = {}, "<defaults>"
        else:
            raw, source = read_toml(found), str(found)
    raw, origins = apply_env_overrides(raw, env)

    issues: list[ConfigIssue] = []
    try:
        config = Config.model_validate({**raw, "source": source})
    except ValidationError as exc:
        issues += _pydantic_issues(exc, source, "", origins)
        config = None
    if pm is not None:
        registry = pm.registry(tolerate_conflicts=True)
        for conflict in registry.conflicts:
            issues.append(ConfigIssue(source, "plugins", conflict.message, conflict.hint))
        issues += _validate_plugins(raw, registry, pm, source, origins)
        issues += _validate_models(raw, registry, source, origins)
        issues += _validate_references(raw, registry, source, origins)
        if config is not None:
            issues += _validate_runtime(config, registry, source, origins)
    if issues or config is None:
        raise ConfigError(issues)
    if pm is not None:
        pm.hook.agent_sdk_configure(config=config)
    return config


def build_component_config(
    cls: type[Component],
    config: Config,
    plugin: str,
    overrides: Mapping[str, Any] | None = None,
    *,
    where: str = "",
) -> BaseModel:
    """Build the ``Config`` instance a component is created with.

    The component gets the keys of ``[plugins.<plugin>]`` that its ``Config`` declares, then
    *overrides* (e.g. a ``[models.<name>]`` table's options) on top.

    Raises:
        ConfigError: the merged values do not validate; paths are prefixed with *where*.
    """
    fields = cls.Config.model_fields
    values = {k: v for k, v in config.plugins.settings(plugin).items() if k in fields}
    values.update(overrides or {})
    try:
        return cls.Config.model_validate(values)
    except ValidationError as exc:
        raise ConfigError(
            _pydantic_issues(exc, config.source, where or f"plugins.{plugin}", {})
        ) from None


# --- schema -------------------------------------------------------------------------------


def core_schema() -> dict[str, Any]:
    """JSON Schema of the core sections (no plugin tables)."""
    schema = Config.model_json_schema()
    schema.get("properties", {}).pop("source", None)
    return schema


def _rebase_refs(node: Any, prefix: str) -> Any:
    if isinstance(node, dict):
        return {
            k: (
                f"#/$defs/{prefix}{v[len('#/$defs/') :]}"
                if k == "$ref" and isinstance(v, str) and v.startswith("#/$defs/")
                else _rebase_refs(v, prefix)
            )
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_rebase_refs(v, prefix) for v in node]
    return node


def full_schema(pm: AgentSDKPluginManager) -> dict[str, Any]:
    """The merged JSON Schema of the core sections and every loaded plugin's table.

    This is what ``agent-sdk schema`` prints; each plugin's ``$defs`` are hoisted to the root
    under ``<plugin>__<name>`` so references stay valid in one document.
    """
    registry = pm.registry(tolerate_conflicts=True)
    schema = core_schema()
    defs: dict[str, Any] = dict(schema.pop("$defs", {}))
    plugin_props: dict[str, Any] = {
        "disabled": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Plugin names never loaded (entry-point names).",
        }
    }
    for name in sorted(pm.records):
        if pm.records[name].status != "loaded":
            continue
        try:
            plugin_schema = registry.plugin_schema(name)
        except PluginError:
            continue
        prefix = f"{name}__"
        for def_name, definition in plugin_schema.pop("$defs", {}).items():
            defs[prefix + def_name] = _rebase_refs(definition, prefix)
        plugin_props[name] = _rebase_refs(plugin_schema, prefix)
    schema["properties"]["plugins"] = {
        "type": "object",
        "description": "Plugin policy and one table per plugin, validated against its schema.",
        "properties": plugin_props,
        "additionalProperties": False,
    }
    schema["$defs"] = dict(sorted(defs.items()))
    return {"$schema": JSON_SCHEMA_DIALECT, "title": "agent-sdk configuration", **schema}
