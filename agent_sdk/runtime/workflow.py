"""Workflow definitions: a DAG of tasks, from TOML or Python, validated before anything runs.

TOML form::

    [workflows.audit]
    description = "Audit a code base"
    input = { path = "." }            # default run input (overridable at run time)
    timeout_s = 600                   # whole-run wall clock
    failure_policy = "fail_fast"      # or "continue": independent branches go on

    [[workflows.audit.tasks]]
    id = "inventory"
    tool = "list_dir"                 # a deterministic tool call: no model involved
    args = { path = "${input.path}" }

    [[workflows.audit.tasks]]
    id = "review"
    agent = "reviewer"                # an agent from [agents.reviewer]
    input = "Review these files: ${tasks.inventory.output}"
    depends_on = ["inventory"]
    timeout_s = 120
    retries = 2
    priority = 10

References: ``${input.<path>}`` (the run input), ``${run.<path>}`` (run metadata: id, usage,
task states and durations, tool-call count), ``${package.<name>}`` (the source directory of an
installed package, found without importing it) and ``${tasks.<id>.output[.<path>]}`` (an
upstream task's output). A string that is exactly one reference becomes the referenced JSON value; a
reference inside a longer string is rendered as text (JSON for non-strings), or always as JSON
with ``|json`` (``"{\"notes\": ${tasks.review.output|json}}"`` embeds text safely in JSON). A
task may only reference tasks it depends on, directly or transitively.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from agent_sdk.errors import ConfigIssue, WorkflowValidationError

__all__ = [
    "REFERENCE_RE",
    "TaskDef",
    "WorkflowDef",
    "find_cycle",
    "resolve_references",
    "validate_workflow",
]

REFERENCE_RE = re.compile(
    r"\$\{\s*(input|run|package|tasks\.([A-Za-z0-9_\-]+)\.output)((?:\.[A-Za-z0-9_\-]+)*)"
    r"\s*(\|\s*json)?\s*\}"
)
"""``${input.a.b}``, ``${run.id}``, ``${package.name}`` or ``${tasks.<id>.output.a.b}``,
optionally followed by ``|json``."""

_ID_RE = r"^[A-Za-z][A-Za-z0-9_\-]{0,63}$"


class TaskDef(BaseModel):
    """One task of a workflow: an agent run or a single deterministic tool call.

    Attributes:
        id: unique within the workflow; letters, digits, ``_`` and ``-``.
        agent: name of a ``[agents.<name>]`` entry (or a registered agent type) to run.
        tool: name of a registered tool to call once, with ``args``.
        input: the agent's input (text or JSON; may hold references).
        args: the tool's arguments (may hold references).
        depends_on: ids of tasks that must succeed first.
        timeout_s: wall-clock limit of one attempt in seconds (``None``: the runtime default).
        retries: extra attempts after a *transient* failure (0 = try once).
        priority: higher runs first among ready tasks (ties: declaration order).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=_ID_RE, description="Unique task id.")
    agent: str | None = Field(None, description="Agent to run (exclusive with tool).")
    tool: str | None = Field(None, description="Tool to call once (exclusive with agent).")
    input: Any = Field(None, description="Agent input: text or JSON, may use ${...} references.")
    args: dict[str, Any] = Field(default_factory=dict, description="Tool arguments (tool tasks).")
    depends_on: tuple[str, ...] = Field((), description="Task ids that must succeed first.")
    timeout_s: float | None = Field(None, gt=0, description="Per-attempt wall clock, seconds.")
    retries: int = Field(0, ge=0, le=20, description="Extra attempts on transient failure.")
    priority: int = Field(0, description="Higher runs first among ready tasks.")

    @model_validator(mode="after")
    def _agent_xor_tool(self) -> TaskDef:
        if (self.agent is None) == (self.tool is None):
            raise ValueError('a task needs exactly one of agent = "..." or tool = "..."')
        if self.tool is not None and self.input is not None:
            raise ValueError("a tool task takes args = {...}, not input")
        if self.agent is not None and self.args:
            raise ValueError("an agent task takes input = ..., not args")
        return self

    @property
    def type(self) -> Literal["agent", "tool"]:
        """``"agent"`` or ``"tool"``."""
        return "agent" if self.agent is not None else "tool"

    @property
    def target(self) -> str:
        """The agent's or tool's name."""
        return self.agent if self.agent is not None else str(self.tool)


class WorkflowDef(BaseModel):
    """A workflow: a named DAG of tasks and its run-level settings.

    Attributes:
        name: the workflow's name (the ``[workflows.<name>]`` key).
        description: one line for listings.
        input: default run input (JSON), merged under the input given at run time.
        tasks: the tasks, in declaration order.
        timeout_s: wall-clock limit of the whole run in seconds (``None``: none).
        failure_policy: ``"fail_fast"`` cancels the run at the first failed task;
            ``"continue"`` lets independent branches finish (dependents are skipped).
        concurrency: tasks running at once (``None``: the runtime default).
        workspace: the directory tools work in for this run; may reference the run input
            (``"${input.path}"``), resolved when the run starts.
        mounts: host directories that sandboxed code of this run may *read*: mount point →
            host path. Declared by the workflow's author, never by a model.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field("workflow", description="Workflow name.")
    description: str = Field("", description="One line shown in listings.")
    input: Any = Field(None, description="Default run input.")
    tasks: tuple[TaskDef, ...] = Field(description="The tasks (a DAG through depends_on).")
    timeout_s: float | None = Field(None, gt=0, description="Whole-run wall clock, seconds.")
    failure_policy: Literal["fail_fast", "continue"] = Field(
        "fail_fast",
        description="fail_fast: stop at first failure; continue: finish other branches.",
    )
    concurrency: int | None = Field(None, ge=1, le=1024, description="Tasks running at once.")
    mounts: dict[str, str] = Field(
        default_factory=dict,
        description="Host directories sandboxed code may read in this run: mount point "
        "(e.g. /project) -> host path (may reference ${input...}; relative paths resolve "
        "against the configuration file's directory).",
    )
    workspace: str | None = Field(
        None,
        description="Directory tools work in for this run (may reference ${input...}); "
        "default: [runtime] workspace, else the current directory.",
    )

    def task(self, task_id: str) -> TaskDef:
        """Return the task named *task_id* (KeyError if absent)."""
        for task in self.tasks:
            if task.id == task_id:
                return task
        raise KeyError(task_id)

    def ancestors(self, task_id: str) -> set[str]:
        """Every task *task_id* depends on, directly or transitively."""
        deps = {t.id: t.depends_on for t in self.tasks}
        seen: set[str] = set()
        stack = list(deps.get(task_id, ()))
        while stack:
            current = stack.pop()
            if current not in seen:
                seen.add(current)
                stack.extend(deps.get(current, ()))
        return seen

    def descendants(self, task_id: str) -> set[str]:
        """Every task that depends on *task_id*, directly or transitively."""
        children: dict[str, list[str]] = {}
        for t in self.tasks:
            for dep in t.depends_on:
                children.setdefault(dep, []).append(t.id)
        seen: set[str] = set()
        stack = list(children.get(task_id, ()))
        while stack:
            current = stack.pop()
            if current not in seen:
                seen.add(current)
                stack.extend(children.get(current, ()))
        return seen

    def to_json(self) -> dict[str, Any]:
        """JSON form stored with each run (a resume runs what was started)."""
        return self.model_dump(mode="json")

    @classmethod
    def from_mapping(
        cls, name: str, data: Mapping[str, Any], *, source: str = "<python>"
    ) -> WorkflowDef:
        """Build and validate a workflow from a ``[workflows.<name>]`` table.

        Raises:
            WorkflowValidationError: with one :class:`ConfigIssue` per problem.
        """
        try:
            workflow = cls.model_validate({**data, "name": name})
        except ValidationError as exc:
            issues = []
            for err in exc.errors(include_url=False):
                loc = ".".join(str(p) for p in err["loc"])
                issues.append(ConfigIssue(source, f"workflows.{name}.{loc}", err["msg"]))
            raise _validation_error(name, issues) from None
        validate_workflow(workflow, source=source)
        return workflow


def _validation_error(name: str, issues: Sequence[ConfigIssue]) -> WorkflowValidationError:
    lines = [f"invalid workflow {name!r} ({len(issues)} problem{'s' * (len(issues) != 1)}):"]
    lines += [f"  - {i}" for i in issues]
    return WorkflowValidationError("\n".join(lines), issues=issues)


def find_cycle(edges: Mapping[str, Iterable[str]]) -> list[str] | None:
    """Return one dependency cycle as ``[a, b, ..., a]``, or ``None`` if the graph is a DAG.

    Args:
        edges: node → the nodes it depends on.
    """
    white, grey, black = 0, 1, 2
    colour = dict.fromkeys(edges, white)
    parent: dict[str, str] = {}
    for root in edges:
        if colour[root] != white:
            continue
        stack: list[tuple[str, Iterable[str]]] = [(root, iter(edges[root]))]
        colour[root] = grey
        while stack:
            node, it = stack[-1]
            advanced = False
            for dep in it:
                if dep not in colour:
                    continue
                if colour[dep] == grey:
                    cycle = [dep, node]
                    cur = node
                    while cur != dep:
                        cur = parent[cur]
                        cycle.append(cur)
                    cycle.reverse()
                    return cycle
                if colour[dep] == white:
                    colour[dep] = grey
                    parent[dep] = node
                    stack.append((dep, iter(edges[dep])))
                    advanced = True
                    break
            if not advanced:
                colour[node] = black
                stack.pop()
    return None


def _references(value: Any) -> Iterable[re.Match[str]]:
    if isinstance(value, str):
        yield from REFERENCE_RE.finditer(value)
    elif isinstance(value, Mapping):
        for v in value.values():
            yield from _references(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _references(v)


def validate_workflow(workflow: WorkflowDef, *, source: str = "<python>") -> None:
    """Check the DAG: unique ids, known dependencies, no cycle, references to ancestors only.

    Raises:
        WorkflowValidationError: every problem found, each with its key path; a cycle is named
            as ``a -> b -> a``.
    """
    prefix = f"workflows.{workflow.name}.tasks"
    issues: list[ConfigIssue] = []
    ids = [t.id for t in workflow.tasks]
    if not ids:
        issues.append(ConfigIssue(source, prefix, "a workflow needs at least one task"))
    seen: set[str] = set()
    for index, task in enumerate(workflow.tasks):
        if task.id in seen:
            issues.append(
                ConfigIssue(source, f"{prefix}[{index}].id", f"duplicate task id {task.id!r}")
            )
        seen.add(task.id)
    known = set(ids)
    for index, task in enumerate(workflow.tasks):
        for dep in task.depends_on:
            if dep not in known:
                issues.append(
                    ConfigIssue(
                        source,
                        f"{prefix}[{index}].depends_on",
                        f"task {task.id!r} depends on unknown task {dep!r}",
                        f"known task ids: {', '.join(ids)}",
                    )
                )
            if dep == task.id:
                issues.append(
                    ConfigIssue(
                        source,
                        f"{prefix}[{index}].depends_on",
                        f"task {task.id!r} depends on itself",
                    )
                )
    if not issues:
        cycle = find_cycle({t.id: t.depends_on for t in workflow.tasks})
        if cycle:
            issues.append(
                ConfigIssue(
                    source,
                    prefix,
                    "dependency cycle: " + " -> ".join(cycle),
                    "remove one of these depends_on entries",
                )
            )
    if not issues:
        for index, task in enumerate(workflow.tasks):
            ancestors = workflow.ancestors(task.id)
            field = "input" if task.type == "agent" else "args"
            for match in _references(task.input if task.type == "agent" else task.args):
                ref_task = match.group(2)
                if ref_task is None:
                    continue
                if ref_task not in known:
                    issues.append(
                        ConfigIssue(
                            source,
                            f"{prefix}[{index}].{field}",
                            f"reference {match.group(0)} names unknown task {ref_task!r}",
                        )
                    )
                elif ref_task not in ancestors:
                    issues.append(
                        ConfigIssue(
                            source,
                            f"{prefix}[{index}].{field}",
                            f"reference {match.group(0)}: task {task.id!r} does not "
                            f"depend on {ref_task!r}",
                            f"add {ref_task!r} to depends_on",
                        )
                    )
    if issues:
        raise _validation_error(workflow.name, issues)


def _lookup(value: Any, path: str, ref: str) -> Any:
    for part in [p for p in path.split(".") if p]:
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, list | tuple) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            raise WorkflowValidationError(
                f"reference {ref} cannot be resolved: no {part!r} in "
                f"{json.dumps(value, default=str)[:120]}",
                hint="check the path against the upstream task's output",
            )
    return value


def package_dir(name: str, ref: str = "") -> str:
    """The source directory of installed package *name*, found without importing it.

    Raises:
        WorkflowValidationError: no such installed package (or it is a single-file module).
    """
    import importlib.util

    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations:
        raise WorkflowValidationError(
            f"reference {ref or name}: no installed package named {name!r}",
            hint=f"pip install {name}, or pass a path instead",
        )
    return str(locations[0])


def resolve_references(
    value: Any, run_input: Any, outputs: Mapping[str, Any], run: Mapping[str, Any] | None = None
) -> Any:
    """Substitute ``${input...}``, ``${run...}`` and ``${tasks.<id>.output...}`` in *value*.

    Args:
        value: a string, or a JSON structure holding strings.
        run_input: the run's input.
        outputs: task id → output of the tasks that succeeded.
        run: run metadata for ``${run...}``: ``id``, ``workflow``, ``created_at`` (Unix s),
            ``usage`` (tokens so far), ``tasks`` (id → status, attempt, duration_s),
            ``tool_calls`` (tool results journaled so far).

    Returns:
        A copy of *value* with references replaced (a whole-string reference keeps the JSON type).

    Raises:
        WorkflowValidationError: a reference's path does not exist in the value it points to.
    """

    def one(match: re.Match[str]) -> Any:
        kind = match.group(1)
        if kind == "input":
            root = run_input
        elif kind == "run":
            root = run or {}
        elif kind == "package":
            return package_dir(match.group(3).lstrip("."), match.group(0))
        else:
            root = outputs.get(match.group(2))
        return _lookup(root, match.group(3), match.group(0))

    if isinstance(value, str):
        whole = REFERENCE_RE.fullmatch(value.strip())
        if whole:
            return one(whole)

        def render(match: re.Match[str]) -> str:
            resolved = one(match)
            if isinstance(resolved, str) and not match.group(4):
                return resolved
            return json.dumps(resolved, default=str, ensure_ascii=False)

        return REFERENCE_RE.sub(render, value)
    if isinstance(value, Mapping):
        return {k: resolve_references(v, run_input, outputs, run) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [resolve_references(v, run_input, outputs, run) for v in value]
    return value
