"""The data that flows between agents, models and tools.

These are pydantic models so that they validate on the way in (from a provider's wire format,
from TOML, from storage) and serialise to JSON on the way out (journal, traces, HTTP).
Shapes follow the de-facto chat-completions vocabulary: a conversation is a list of
:class:`Message`; an assistant message may carry :class:`ToolCall` requests; each tool call is
answered by a ``tool`` message holding a :class:`ToolResult`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Message",
    "ModelRequest",
    "ModelResponse",
    "Role",
    "ToolCall",
    "ToolResult",
    "ToolSpec",
    "Usage",
]

Role = Literal["system", "user", "assistant", "tool"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Usage(_Frozen):
    """Token usage of one model call or, summed, of a run. Units: tokens."""

    input_tokens: int = Field(0, ge=0, description="Prompt tokens consumed.")
    output_tokens: int = Field(0, ge=0, description="Completion tokens produced.")

    @property
    def total_tokens(self) -> int:
        """``input_tokens + output_tokens``."""
        return self.input_tokens + self.output_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
        )


class ToolCall(_Frozen):
    """A model's request to call a tool.

    Attributes:
        id: the provider's call id (or one we generate); answers refer to it.
        name: the registered tool name.
        arguments: the decoded JSON arguments; validated against the tool schema before it runs.
    """

    id: str
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class ToolResult(_Frozen):
    """The structured outcome of one tool call: never an "error string".

    Attributes:
        call_id: the :attr:`ToolCall.id` this answers.
        name: the tool's name.
        ok: ``True`` when the tool succeeded.
        data: the tool's return value (JSON-serialisable) when ``ok``.
        error: ``{"type", "message", "hint", "transient"}`` when not ``ok``.
    """

    call_id: str
    name: str
    ok: bool
    data: Any = None
    error: dict[str, Any] | None = None

    def content_for_model(self) -> str:
        """Render the result as the text a model reads in a ``tool`` message (JSON)."""
        import json

        body: dict[str, Any] = {"ok": self.ok}
        if self.ok:
            body["data"] = self.data
        else:
            body["error"] = self.error
        return json.dumps(body, default=str, ensure_ascii=False)


class Message(_Frozen):
    """One message of a conversation.

    Attributes:
        role: ``system``, ``user``, ``assistant`` or ``tool``.
        content: the text (``None`` for an assistant message that only calls tools).
        tool_calls: calls requested by an ``assistant`` message.
        tool_result: the result carried by a ``tool`` message.
    """

    role: Role
    content: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    tool_result: ToolResult | None = None

    @classmethod
    def system(cls, content: str) -> Message:
        return cls(role="system", content=content)

    @classmethod
    def user(cls, content: str) -> Message:
        return cls(role="user", content=content)

    @classmethod
    def assistant(
        cls, content: str | None = None, tool_calls: tuple[ToolCall, ...] = ()
    ) -> Message:
        return cls(role="assistant", content=content, tool_calls=tool_calls)

    @classmethod
    def tool(cls, result: ToolResult) -> Message:
        return cls(role="tool", content=result.content_for_model(), tool_result=result)


class ToolSpec(_Frozen):
    """What a model is told about a tool: its name, description and JSON Schema of arguments."""

    name: str
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})


class ModelRequest(_Frozen):
    """One call to a model.

    Attributes:
        messages: the conversation so far.
        tools: tools the model may call (empty: plain completion).
        model: provider-specific model name override, or ``None`` for the configured one.
        temperature: sampling temperature override, or ``None``.
        max_tokens: completion length cap in tokens, or ``None``.
        tool_choice: ``"auto"`` (model decides), ``"required"`` (must call a tool) or ``"none"``.
    """

    messages: tuple[Message, ...]
    tools: tuple[ToolSpec, ...] = ()
    model: str | None = None
    temperature: float | None = None
    max_tokens: int | None = Field(None, gt=0)
    tool_choice: Literal["auto", "required", "none"] = "auto"


class ModelResponse(_Frozen):
    """A model's answer: an assistant :class:`Message` plus usage.

    Attributes:
        message: the assistant message (text and/or tool calls).
        usage: tokens consumed by this call.
        model: the model that answered, as the provider names it.
        finish_reason: ``"stop"``, ``"tool_calls"``, ``"length"`` or provider-specific.
    """

    message: Message
    usage: Usage = Field(default_factory=Usage)
    model: str = ""
    finish_reason: str = "stop"
