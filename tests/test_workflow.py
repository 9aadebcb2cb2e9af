"""Workflow definitions: references and DAG helpers."""

from __future__ import annotations

import json

import pytest

from agent_sdk.errors import WorkflowValidationError
from agent_sdk.runtime.workflow import WorkflowDef, find_cycle, resolve_references

OUTPUTS = {"a": {"files": ["x.py", "y.py"], "n": 2}, "notes": 'he said "hi"\nbye'}


def test_a_whole_string_reference_keeps_the_json_type() -> None:
    assert resolve_references("${tasks.a.output.files}", {}, OUTPUTS) == ["x.py", "y.py"]
    assert resolve_references("${tasks.a.output.n}", {}, OUTPUTS) == 2
    assert resolve_references("${input}", {"p": 1}, {}) == {"p": 1}


def test_an_embedded_reference_renders_text_and_json_for_structures() -> None:
    text = resolve_references("files: ${tasks.a.output.files} (${tasks.a.output.n})", {}, OUTPUTS)
    assert text == 'files: ["x.py", "y.py"] (2)'


def test_the_json_filter_embeds_text_safely_inside_json() -> None:
    doc = resolve_references(
        '{"notes": ${tasks.notes.output|json}, "n": ${tasks.a.output.n}}', {}, OUTPUTS
    )
    assert json.loads(doc) == {"notes": OUTPUTS["notes"], "n": 2}


def test_references_resolve_inside_nested_arguments_and_list_indexes() -> None:
    args = {"first": "${tasks.a.output.files.0}", "all": ["${input.x}", {"k": "${input.x}"}]}
    assert resolve_references(args, {"x": 5}, OUTPUTS) == {"first": "x.py", "all": [5, {"k": 5}]}


def test_run_metadata_references() -> None:
    run = {"id": "run_1", "usage": {"input_tokens": 3}}
    assert resolve_references("${run.usage.input_tokens}", {}, {}, run) == 3
    assert resolve_references("id=${run.id}", {}, {}, run) == "id=run_1"


def test_a_missing_path_names_the_reference_and_what_was_there() -> None:
    with pytest.raises(WorkflowValidationError, match=r"\$\{tasks\.a\.output\.nope\}.*no 'nope'"):
        resolve_references("${tasks.a.output.nope}", {}, OUTPUTS)


def test_find_cycle_returns_the_cycle_in_dependency_order() -> None:
    assert find_cycle({"a": ["b"], "b": ["c"], "c": []}) is None
    assert find_cycle({"a": ["b"], "b": ["a"]}) == ["a", "b", "a"]


def test_ancestors_and_descendants_follow_depends_on_transitively() -> None:
    wf = WorkflowDef.from_mapping(
        "w",
        {
            "tasks": [
                {"id": "a", "tool": "t"},
                {"id": "b", "tool": "t", "depends_on": ["a"]},
                {"id": "c", "tool": "t", "depends_on": ["b"]},
                {"id": "d", "tool": "t"},
            ]
        },
    )
    assert wf.ancestors("c") == {"a", "b"}
    assert wf.descendants("a") == {"b", "c"}
    assert wf.descendants("d") == set()


def test_task_needs_exactly_one_of_agent_or_tool_and_matching_fields() -> None:
    with pytest.raises(WorkflowValidationError) as info:
        WorkflowDef.from_mapping(
            "w",
            {
                "tasks": [
                    {"id": "both", "tool": "t", "agent": "a"},
                    {"id": "toolinput", "tool": "t", "input": "x"},
                    {"id": "bad id!", "tool": "t"},
                ]
            },
        )
    text = str(info.value)
    assert "workflows.w.tasks.0" in text
    assert "exactly one of agent" in text
    assert "takes args" in text
    assert "workflows.w.tasks.2.id" in text


def test_duplicate_ids_are_rejected() -> None:
    with pytest.raises(WorkflowValidationError, match="duplicate task id 'a'"):
        WorkflowDef.from_mapping(
            "w", {"tasks": [{"id": "a", "tool": "t"}, {"id": "a", "tool": "t"}]}
        )
