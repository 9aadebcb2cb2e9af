"""The JSON reply protocol: schema, prompt rendering and parsing (no model needed)."""

from __future__ import annotations

import json

import jsonschema
import pytest
from agent_sdk_llamacpp.protocol import (
    parse_reply,
    render_messages,
    reply_mode,
    response_schema,
)

from agent_sdk.errors import ModelProviderError
from agent_sdk.messages import Message, ModelRequest, ToolCall, ToolResult, ToolSpec

ADD = ToolSpec(
    name="add",
    description="Add two integers.",
    parameters={
        "type": "object",
        "properties": {"a": {"type": "integer", "title": "A"}, "b": {"type": "integer"}},
        "required": ["a", "b"],
        "title": "AddArguments",
    },
)
READ = ToolSpec(
    name="read_file",
    description="Read a file.",
    parameters={
        "type": "object",
        "properties": {"path": {"type": "string"}},
        "required": ["path"],
        "additionalProperties": False,
    },
)
NESTED = ToolSpec(
    name="move",
    parameters={
        "$defs": {"Point": {"type": "object", "properties": {"x": {"type": "integer"}}}},
        "type": "object",
        "properties": {"to": {"$ref": "#/$defs/Point"}},
        "required": ["to"],
    },
)
OTHER_POINT = ToolSpec(
    name="look",
    parameters={
        "$defs": {"Point": {"type": "object", "properties": {"y": {"type": "string"}}}},
        "type": "object",
        "properties": {"at": {"$ref": "#/$defs/Point"}},
        "required": ["at"],
    },
)


def _request(*messages: Message, tools=(ADD,), tool_choice="auto") -> ModelRequest:
    return ModelRequest(messages=messages, tools=tools, tool_choice=tool_choice)


def test_reply_mode_follows_tool_choice() -> None:
    user = Message.user("hi")
    assert reply_mode(_request(user)) == "auto"
    assert reply_mode(_request(user, tool_choice="required")) == "required"
    assert reply_mode(_request(user, tool_choice="none")) == "text"
    assert reply_mode(_request(user, tools=())) == "text"


def test_tool_rounds_require_calls_then_an_answer_within_the_current_user_turn() -> None:
    call = ToolCall(id="c1", name="add", arguments={"a": 1, "b": 2})
    result = Message.tool(ToolResult(call_id="c1", name="add", ok=True, data=3))
    called = Message.assistant(None, tool_calls=(call,))
    first = (Message.user("1+2?"),)
    after_one = (*first, called, result)
    assert reply_mode(_request(*first), tool_rounds=1) == "required"
    assert reply_mode(_request(*after_one), tool_rounds=1) == "answer"
    assert reply_mode(_request(*after_one), tool_rounds=2) == "required"
    # a new user message starts a new turn: tools again
    assert reply_mode(_request(*after_one, Message.user("and 2+2?")), tool_rounds=1) == "required"
    # explicit choices win over the plan
    assert reply_mode(_request(*after_one, tool_choice="required"), tool_rounds=1) == "required"
    assert reply_mode(_request(*first, tool_choice="none"), tool_rounds=1) == "text"


def test_response_schema_accepts_an_answer_or_a_call_with_that_tools_arguments() -> None:
    schema = response_schema([ADD, READ])
    validator = jsonschema.Draft202012Validator(schema)
    assert validator.is_valid({"type": "answer", "content": "3"})
    assert validator.is_valid({"type": "tool_call", "name": "add", "arguments": {"a": 1, "b": 2}})
    assert validator.is_valid(
        {"type": "tool_call", "name": "read_file", "arguments": {"path": "x"}}
    )
    # arguments of the other tool, an unknown tool, a missing argument: all rejected
    assert not validator.is_valid({"type": "tool_call", "name": "add", "arguments": {"path": "x"}})
    assert not validator.is_valid({"type": "tool_call", "name": "rm", "arguments": {}})
    assert not validator.is_valid({"type": "tool_call", "name": "add", "arguments": {"a": 1}})


def test_required_tool_choice_leaves_out_the_answer_branch() -> None:
    validator = jsonschema.Draft202012Validator(response_schema([ADD], "required"))
    assert not validator.is_valid({"type": "answer", "content": "3"})
    assert validator.is_valid({"type": "tool_call", "name": "add", "arguments": {"a": 1, "b": 2}})


def test_answer_mode_allows_only_an_answer() -> None:
    validator = jsonschema.Draft202012Validator(response_schema([ADD], "answer"))
    assert validator.is_valid({"type": "answer", "content": "3"})
    assert not validator.is_valid(
        {"type": "tool_call", "name": "add", "arguments": {"a": 1, "b": 2}}
    )


def test_defs_of_each_tool_are_hoisted_under_distinct_names() -> None:
    schema = response_schema([NESTED, OTHER_POINT], "required")
    assert set(schema["$defs"]) == {"tool0_Point", "tool1_Point"}
    validator = jsonschema.Draft202012Validator(schema)
    assert validator.is_valid({"type": "tool_call", "name": "move", "arguments": {"to": {"x": 1}}})
    assert validator.is_valid(
        {"type": "tool_call", "name": "look", "arguments": {"at": {"y": "n"}}}
    )
    assert not validator.is_valid(
        {"type": "tool_call", "name": "move", "arguments": {"to": {"x": "one"}}}
    )


def test_annotation_keys_are_stripped_but_a_property_named_title_is_kept() -> None:
    spec = ToolSpec(
        name="note",
        parameters={
            "type": "object",
            "title": "NoteArguments",
            "properties": {"title": {"type": "string", "title": "Title"}},
            "required": ["title"],
        },
    )
    arguments = response_schema([spec], "required")["anyOf"][0]["properties"]["arguments"]
    assert arguments == {
        "type": "object",
        "properties": {"title": {"type": "string"}},
        "required": ["title"],
    }


def test_tools_and_reply_format_are_appended_to_the_system_prompt() -> None:
    rendered = render_messages(_request(Message.system("Be brief."), Message.user("1+2?")))
    assert [m["role"] for m in rendered] == ["system", "user"]
    system = rendered[0]["content"]
    assert system.startswith("Be brief.")
    assert "- add: Add two integers." in system
    assert '"type": "answer"' in system
    assert '"AddArguments"' not in system


def test_the_prompt_states_the_reply_the_mode_requires() -> None:
    request = _request(Message.user("1+2?"))
    required = render_messages(request, "required")[0]["content"]
    answer = render_messages(request, "answer")[0]["content"]
    assert "You must call a tool now." in required
    assert '"type": "answer"' not in required
    assert "give the final answer now" in answer
    assert '"type": "tool_call"' not in answer


def test_history_shows_calls_as_json_and_results_as_user_messages() -> None:
    call = ToolCall(id="c1", name="add", arguments={"a": 1, "b": 2})
    result = ToolResult(call_id="c1", name="add", ok=True, data=3)
    rendered = render_messages(
        _request(
            Message.user("1+2?"),
            Message.assistant(None, tool_calls=(call,)),
            Message.tool(result),
            Message.assistant("3"),
        )
    )
    assert rendered[0]["role"] == "system"
    assert rendered[2] == {
        "role": "assistant",
        "content": '{"type": "tool_call", "name": "add", "arguments": {"a": 1, "b": 2}}',
    }
    assert rendered[3] == {"role": "user", "content": 'Result of tool add: {"ok": true, "data": 3}'}
    assert json.loads(rendered[4]["content"]) == {"type": "answer", "content": "3"}


def test_plain_text_mode_has_no_tool_prompt_and_plain_assistant_text() -> None:
    rendered = render_messages(
        _request(Message.user("hi"), Message.assistant("hello"), tool_choice="none")
    )
    assert rendered == [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
    ]


def test_parse_reply_returns_a_tool_call_with_a_fresh_id() -> None:
    text = '{"type": "tool_call", "name": "add", "arguments": {"a": 1, "b": 2}}'
    first = parse_reply(text, model="m", finish_reason="stop", max_tokens=10)
    second = parse_reply(text, model="m", finish_reason="stop", max_tokens=10)
    assert first.tool_call is not None
    assert second.tool_call is not None
    assert (first.tool_call.name, first.tool_call.arguments) == ("add", {"a": 1, "b": 2})
    assert first.tool_call.id != second.tool_call.id


def test_an_answer_cut_off_at_the_token_limit_keeps_its_text() -> None:
    reply = parse_reply(
        '{"type": "answer", "content": "The sum is th\\u00',
        model="m",
        finish_reason="length",
        max_tokens=10,
    )
    assert reply.content == "The sum is th"


def test_a_tool_call_cut_off_at_the_token_limit_says_to_raise_max_tokens() -> None:
    with pytest.raises(ModelProviderError, match="max_tokens=10") as info:
        parse_reply(
            '{"type": "tool_call", "name": "add", "argu',
            model="m",
            finish_reason="length",
            max_tokens=10,
        )
    assert "raise max_tokens" in str(info.value)
