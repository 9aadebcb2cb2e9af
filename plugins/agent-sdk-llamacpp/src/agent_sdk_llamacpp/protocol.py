"""The JSON reply protocol that lets a small local model call tools.

A model without native tool calling is told, in the system prompt, about the tools and to reply
with exactly one JSON object, either::

    {"type": "answer", "content": "..."}
    {"type": "tool_call", "name": "<tool>", "arguments": {...}}

:func:`response_schema` turns the offered tools into one JSON Schema of that reply, an
``anyOf`` with one branch per tool whose ``name`` is that tool's name (a ``const``) and whose
``arguments`` is that tool's parameter schema. The provider compiles the schema into a llama.cpp
grammar, so decoding can only produce a reply that parses and whose arguments have the chosen
tool's shape (see the README for the schema keywords a grammar cannot enforce).

This module is pure Python (no llama.cpp): rendering, schema building and parsing are tested
without a model.
"""

from __future__ import annotations

import copy
import json
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

from agent_sdk.errors import ModelProviderError
from agent_sdk.messages import Message, ModelRequest, ToolCall, ToolSpec

__all__ = [
    "ChatMessage",
    "Reply",
    "ReplyMode",
    "parse_reply",
    "render_messages",
    "reply_mode",
    "response_schema",
]

ChatMessage = dict[str, str]
"""One message as llama-cpp-python's ``create_chat_completion`` takes it."""

ReplyMode = Literal["text", "auto", "required", "answer"]
"""How the model must reply: ``text`` (plain text, no grammar), or one JSON object that is an
answer or a tool call (``auto``), a tool call (``required``) or an answer (``answer``)."""

_META_KEYS = frozenset({"title", "examples", "$schema", "$id", "$comment"})
_ANSWER_HEAD = re.compile(r'^\s*\{\s*"type"\s*:\s*"answer"\s*,\s*"content"\s*:\s*"')


def tool_results_this_turn(request: ModelRequest) -> int:
    """Tool results in the conversation since the last user message."""
    count = 0
    for message in reversed(request.messages):
        if message.role == "user":
            break
        if message.role == "tool":
            count += 1
    return count


def reply_mode(request: ModelRequest, tool_rounds: int | None = None) -> ReplyMode:
    """Decide how the model must reply to *request*.

    No tools, or ``tool_choice="none"``: plain text. ``"required"``: a tool call. ``"auto"``:
    the model chooses, unless *tool_rounds* fixes the plan: a tool call is then required
    until the current user turn holds *tool_rounds* tool results, and an answer after that
    (very small models cannot reliably decide when to call a tool, or when to stop).
    """
    if not request.tools or request.tool_choice == "none":
        return "text"
    if request.tool_choice == "required":
        return "required"
    if tool_rounds is None:
        return "auto"
    return "required" if tool_results_this_turn(request) < tool_rounds else "answer"


# --- the schema of a reply ------------------------------------------------------------------


def _strip(node: Any, rename: Mapping[str, str]) -> Any:
    """Copy *node* without annotation keys and with ``#/$defs/<x>`` refs renamed."""
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in _META_KEYS or key == "$defs" or key == "definitions":
                continue
            if key == "$ref" and isinstance(value, str):
                for prefix in ("#/$defs/", "#/definitions/"):
                    if value.startswith(prefix):
                        value = "#/$defs/" + rename.get(value[len(prefix) :], value[len(prefix) :])
                out[key] = value
            elif key == "properties" and isinstance(value, dict):
                # property *names* may be "title" etc.: keep every name, strip inside
                out[key] = {name: _strip(sub, rename) for name, sub in value.items()}
            else:
                out[key] = _strip(value, rename)
        return out
    if isinstance(node, list):
        return [_strip(item, rename) for item in node]
    return copy.deepcopy(node)


def _arguments_schema(spec: ToolSpec, index: int, defs: dict[str, Any]) -> dict[str, Any]:
    """The tool's parameter schema, its ``$defs`` hoisted into *defs* under unique names."""
    params = spec.parameters or {}
    local_defs: dict[str, Any] = {}
    for key in ("$defs", "definitions"):
        found = params.get(key)
        if isinstance(found, dict):
            local_defs.update(found)
    rename = {name: f"tool{index}_{name}" for name in local_defs}
    for name, sub in local_defs.items():
        defs[rename[name]] = _strip(sub, rename)
    schema: dict[str, Any] = _strip(params, rename)
    return schema or {"type": "object", "properties": {}}


def response_schema(tools: Sequence[ToolSpec], mode: ReplyMode = "auto") -> dict[str, Any]:
    """Return the JSON Schema of a reply: an answer or a call of one of *tools*.

    Each tool gets its own branch, so the arguments must match the schema of the tool that is
    named. Property order is fixed (``type``, then ``name``, then ``arguments``), so the model
    decides first whether to answer, then which tool, then the arguments.

    Args:
        tools: the offered tools.
        mode: ``"auto"`` (answer or call), ``"required"`` (only calls) or ``"answer"``.

    Returns:
        A draft 2020-12 JSON Schema (``anyOf`` of objects, shared ``$defs`` at the root).
    """
    defs: dict[str, Any] = {}
    branches: list[dict[str, Any]] = []
    if mode != "required":
        branches.append(
            {
                "type": "object",
                "properties": {"type": {"const": "answer"}, "content": {"type": "string"}},
                "required": ["type", "content"],
                "additionalProperties": False,
            }
        )
    for index, spec in enumerate(tools if mode != "answer" else ()):
        branches.append(
            {
                "type": "object",
                "properties": {
                    "type": {"const": "tool_call"},
                    "name": {"const": spec.name},
                    "arguments": _arguments_schema(spec, index, defs),
                },
                "required": ["type", "name", "arguments"],
                "additionalProperties": False,
            }
        )
    schema: dict[str, Any] = {"anyOf": branches}
    if defs:
        schema["$defs"] = defs
    return schema


# --- the prompt -----------------------------------------------------------------------------


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def _tool_lines(tools: Iterable[ToolSpec]) -> list[str]:
    lines = []
    for spec in tools:
        params = _strip(spec.parameters or {}, {})
        head = f"- {spec.name}: {spec.description}" if spec.description else f"- {spec.name}"
        lines.append(f"{head}\n  arguments (JSON Schema): {_compact(params)}")
    return lines


_CALL_FORMAT = (
    'To call a tool: {"type": "tool_call", "name": "<tool name>", '
    '"arguments": {<the tool\'s arguments>}}'
)
_ANSWER_FORMAT = 'To give the final answer: {"type": "answer", "content": "<your answer>"}'


def tools_prompt(tools: Sequence[ToolSpec], mode: ReplyMode) -> str:
    """The system-prompt text that describes *tools* and the reply format of *mode*."""
    lines = ["You can use these tools:", *_tool_lines(tools), ""]
    lines.append("Reply with exactly one JSON object and nothing else.")
    if mode == "required":
        lines += [_CALL_FORMAT, "You must call a tool now."]
    elif mode == "answer":
        lines += [_ANSWER_FORMAT, "You have the tool results: give the final answer now."]
    else:
        lines += [
            _CALL_FORMAT,
            _ANSWER_FORMAT,
            "When a tool result answers the question, give the final answer.",
        ]
    return "\n".join(lines)


def _call_json(call: ToolCall) -> str:
    return _compact({"type": "tool_call", "name": call.name, "arguments": call.arguments})


def render_messages(request: ModelRequest, mode: ReplyMode | None = None) -> list[ChatMessage]:
    """Turn *request* into chat messages a small model without native tool support can read.

    * All system messages become one leading system message; in a JSON *mode* (default:
      :func:`reply_mode` of *request*) the tool list and the reply format are appended to it.
    * An assistant message that called tools is shown as the JSON it would have written (one
      line per call); in JSON mode a plain assistant answer is shown as an ``answer`` object,
      so the model sees its own protocol in the history.
    * A tool result becomes a ``user`` message ``Result of tool <name>: {"ok": ..., ...}``
      (chat templates of small models know no ``tool`` role).
    """
    mode = reply_mode(request) if mode is None else mode
    structured = mode != "text"
    system_parts = [m.content for m in request.messages if m.role == "system" and m.content]
    if structured:
        system_parts.append(tools_prompt(request.tools, mode))
    out: list[ChatMessage] = []
    if system_parts:
        out.append({"role": "system", "content": "\n\n".join(system_parts)})
    for message in request.messages:
        if message.role == "system":
            continue
        out.append(_render_one(message, structured))
    return out


def _render_one(message: Message, structured: bool) -> ChatMessage:
    if message.role == "tool":
        result = message.tool_result
        name = result.name if result is not None else "tool"
        body = result.content_for_model() if result is not None else (message.content or "")
        return {"role": "user", "content": f"Result of tool {name}: {body}"}
    if message.role == "assistant":
        lines = []
        if message.content:
            lines.append(
                _compact({"type": "answer", "content": message.content})
                if structured and not message.tool_calls
                else message.content
            )
        lines += [_call_json(call) for call in message.tool_calls]
        return {"role": "assistant", "content": "\n".join(lines)}
    return {"role": message.role, "content": message.content or ""}


# --- parsing a reply ------------------------------------------------------------------------


class Reply:
    """A parsed JSON-mode reply: either ``content`` (an answer) or ``tool_call``."""

    __slots__ = ("content", "tool_call")

    def __init__(self, content: str | None = None, tool_call: ToolCall | None = None) -> None:
        self.content = content
        self.tool_call = tool_call


def _salvage_answer(text: str) -> str | None:
    """The content of an ``answer`` object cut off by the token limit, or ``None``."""
    head = _ANSWER_HEAD.match(text)
    if head is None:
        return None
    partial = text[head.end() :]
    # drop a trailing, unfinished escape sequence, then decode what is left as a JSON string
    for cut in range(0, min(len(partial), 6) + 1):
        candidate = partial[: len(partial) - cut] if cut else partial
        try:
            decoded = json.loads(f'"{candidate}"')
        except json.JSONDecodeError:
            continue
        return str(decoded)
    return None


def parse_reply(text: str, *, model: str, finish_reason: str, max_tokens: int) -> Reply:
    """Decode a JSON-mode reply.

    Args:
        text: what the model generated (under the grammar).
        model: the model name, for error messages.
        finish_reason: llama.cpp's finish reason (``"length"`` when cut at *max_tokens*).
        max_tokens: the completion limit that applied, for error messages.

    Returns:
        The answer text or the tool call (with a fresh ``call_<hex>`` id).

    Raises:
        ModelProviderError: the reply is not a complete protocol object (in practice: a tool
            call cut off at the token limit).
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        data = None
    if isinstance(data, dict) and data.get("type") == "answer":
        return Reply(content=str(data.get("content", "")))
    if isinstance(data, dict) and data.get("type") == "tool_call" and "name" in data:
        arguments = data.get("arguments")
        return Reply(
            tool_call=ToolCall(
                id=f"call_{uuid.uuid4().hex[:16]}",
                name=str(data["name"]),
                arguments=arguments if isinstance(arguments, dict) else {},
            )
        )
    if data is None and finish_reason == "length":
        salvaged = _salvage_answer(text)
        if salvaged is not None:
            return Reply(content=salvaged)
        raise ModelProviderError(
            f"llama.cpp model {model!r}: the reply was cut off at max_tokens={max_tokens} "
            f"before the JSON object was complete (found {text[:120]!r})",
            hint="raise max_tokens (request or [plugins.llamacpp] max_tokens)",
        )
    raise ModelProviderError(
        f"llama.cpp model {model!r}: expected a JSON reply "
        f'{{"type": "answer" | "tool_call", ...}}, found {text[:120]!r}',
        hint="this is a bug in the grammar-constrained decoding; please report it",
    )
