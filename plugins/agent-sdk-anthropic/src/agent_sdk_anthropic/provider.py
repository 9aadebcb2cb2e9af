"""The ``anthropic`` model provider: Claude through the Anthropic Messages API.

Calls go through the official ``anthropic`` SDK (``AsyncAnthropic``), imported the first time
the provider is used; ``POST {base_url}/v1/messages``.

Mapping, both ways:

* ``system`` messages become the top-level ``system`` prompt (several are joined with a blank
  line, wherever they are in the conversation);
* ``user`` text as is; an ``assistant`` message becomes ``text`` and ``tool_use`` content
  blocks; each ``tool`` message becomes a ``tool_result`` block (``tool_use_id``, the result's
  JSON as content, ``is_error`` when the tool failed) in a ``user`` message: consecutive tool
  results share one message, as the API requires;
* tools: each :class:`~agent_sdk.messages.ToolSpec` becomes ``{name, description,
  input_schema}``; ``tool_choice`` ``auto``/``required``/``none`` becomes ``{"type": "auto"}``
  / ``{"type": "any"}`` / ``{"type": "none"}`` (sent only with tools);
* ``max_tokens`` is required by the API: the request's, else the configured one (1024);
* the answer's ``tool_use`` blocks become :class:`~agent_sdk.messages.ToolCall`; ``text``
  blocks are joined; other blocks (thinking...) are dropped;
* ``stop_reason``: ``end_turn``/``stop_sequence`` → ``stop``, ``tool_use`` → ``tool_calls``,
  ``max_tokens`` → ``length``; anything else (``refusal``, ``pause_turn``) passes through;
* usage: ``input_tokens`` (plus cache creation and cache read input tokens, which the API
  counts separately) / ``output_tokens``.

Streaming reads the raw server-sent events (``message_start``, ``content_block_start``,
``content_block_delta`` with ``text_delta`` / ``input_json_delta``, ``content_block_stop``,
``message_delta``, ``message_stop``) from ``messages.create(stream=True)`` and assembles the
message itself: tool input JSON is decoded once, at the end, and input that does not decode
becomes a call whose arguments hold the raw text under :data:`INVALID_ARGUMENTS_KEY` (the
tool's validation then fails and the model is told), instead of aborting the stream.

Failures are mapped by :mod:`agent_sdk_anthropic.errors`. The SDK's own retries are off
(``max_retries=0``): agent-sdk's runtime retries, with its breaker and rate limits.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, Field

from agent_sdk.errors import ModelProviderError
from agent_sdk.kinds.base import EmptyConfig
from agent_sdk.kinds.model import ModelProvider, StreamChunk
from agent_sdk.messages import Message, ModelRequest, ModelResponse, ToolCall, Usage
from agent_sdk.secrets import SecretRef, resolve
from agent_sdk_anthropic.errors import ErrorContext, map_anthropic_error

if TYPE_CHECKING:
    from anthropic import AsyncAnthropic

__all__ = [
    "INVALID_ARGUMENTS_KEY",
    "NO_KEY_PLACEHOLDER",
    "AnthropicConfig",
    "AnthropicProvider",
    "to_anthropic_messages",
    "to_anthropic_tools",
]

INVALID_ARGUMENTS_KEY = "_invalid_json_arguments"
"""Key under which a tool call keeps streamed input that is not a JSON object (the raw text).

A leading underscore cannot name a pydantic field, so no tool accepts it: validation fails
and the model reads why in the tool result, as for any other invalid arguments.
"""

NO_KEY_PLACEHOLDER = "no-key"
"""Credential sent when no ``api_key`` is configured (servers that need none ignore it).

The SDK refuses to send a request without a credential and would otherwise look for
``ANTHROPIC_API_KEY``, ``ANTHROPIC_AUTH_TOKEN`` and profile files behind the configuration's
back.
"""

_TOOL_CHOICE = {"auto": "auto", "required": "any", "none": "none"}
_STOP_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "tool_use": "tool_calls",
    "max_tokens": "length",
}


class AnthropicConfig(EmptyConfig):
    """``[plugins.anthropic]`` / ``[models.<name>]`` settings of the Anthropic provider."""

    model: str = Field(
        "claude-sonnet-4-6",
        description="Model name sent to the API (a request's model overrides it).",
    )
    base_url: str = Field(
        "https://api.anthropic.com",
        description="Server root; the SDK appends /v1/messages.",
    )
    api_key: SecretRef | None = Field(
        None,
        description='Secret reference to the API key, e.g. { env = "ANTHROPIC_API_KEY" }; '
        "unset only for servers that need none.",
    )
    timeout_s: float = Field(
        300.0, gt=0, description="Seconds to wait for an answer (per call) before it fails."
    )
    temperature: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Sampling temperature, sent only when set (some models reject it); "
        "unset: the model's default.",
    )
    max_tokens: int = Field(
        1024,
        gt=0,
        description="Completion length cap in tokens (the API requires one); a request's "
        "max_tokens overrides it.",
    )
    headers: dict[str, str | SecretRef] = Field(
        default_factory=dict,
        description="Extra HTTP headers sent with every request (e.g. anthropic-beta); a "
        'value may be a secret reference ({ env = "NAME" }).',
    )


def to_anthropic_tools(request: ModelRequest) -> list[dict[str, Any]]:
    """The request's tool specs in the Messages API ``tools`` format."""
    tools = []
    for spec in request.tools:
        entry: dict[str, Any] = {"name": spec.name, "input_schema": spec.parameters}
        if spec.description:
            entry["description"] = spec.description
        tools.append(entry)
    return tools


def to_anthropic_messages(
    messages: Sequence[Message],
) -> tuple[str | None, list[dict[str, Any]]]:
    """``(system prompt or None, messages)`` in the Messages API format.

    Raises:
        ModelProviderError: a ``tool`` message carries no :class:`ToolResult` (no call id).
    """
    system: list[str] = []
    out: list[dict[str, Any]] = []

    def add(role: str, blocks: list[dict[str, Any]]) -> None:
        if not blocks:
            return
        if out and out[-1]["role"] == role:
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": role, "content": blocks})

    for index, message in enumerate(messages):
        if message.role == "system":
            if message.content:
                system.append(message.content)
        elif message.role == "user":
            if message.content:
                add("user", [{"type": "text", "text": message.content}])
        elif message.role == "assistant":
            blocks: list[dict[str, Any]] = []
            if message.content:
                blocks.append({"type": "text", "text": message.content})
            blocks += [
                {"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments}
                for call in message.tool_calls
            ]
            add("assistant", blocks)
        else:
            result = message.tool_result
            if result is None:
                raise ModelProviderError(
                    f"message {index} has role 'tool' but no tool_result, so it answers no "
                    "tool_use id",
                    hint="build tool messages with Message.tool(result)",
                )
            block: dict[str, Any] = {
                "type": "tool_result",
                "tool_use_id": result.call_id,
                "content": message.content
                if message.content is not None
                else result.content_for_model(),
            }
            if not result.ok:
                block["is_error"] = True
            add("user", [block])
    for entry in out:  # a lone text block is sent in the simple string form
        content = entry["content"]
        if len(content) == 1 and content[0]["type"] == "text":
            entry["content"] = content[0]["text"]
    return ("\n\n".join(system) or None), out


def _decode_input(raw: str) -> dict[str, Any]:
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return {INVALID_ARGUMENTS_KEY: raw}
    return value if isinstance(value, dict) else {INVALID_ARGUMENTS_KEY: raw}


def _finish_reason(raw: str | None, has_tool_calls: bool) -> str:
    mapped = _STOP_REASONS.get(raw or "end_turn", raw or "stop")
    if has_tool_calls and mapped == "stop":
        return "tool_calls"
    return mapped


def _count(usage: Any, name: str) -> int:
    value = getattr(usage, name, None)
    return max(0, int(value)) if isinstance(value, int | float) else 0


def _input_tokens(usage: Any) -> int:
    return (
        _count(usage, "input_tokens")
        + _count(usage, "cache_creation_input_tokens")
        + _count(usage, "cache_read_input_tokens")
    )


class _Block:
    """One content block being assembled from stream events."""

    __slots__ = ("id", "input", "name", "parts", "type")

    def __init__(self, type_: str, id_: str = "", name: str = "", input_: Any = None) -> None:
        self.type = type_
        self.id = id_
        self.name = name
        self.input = input_
        self.parts: list[str] = []


class AnthropicProvider(ModelProvider):
    """Claude models through the Anthropic Messages API and the ``anthropic`` SDK.

    Args:
        config: an :class:`AnthropicConfig` (``None``: all defaults).
        env: where ``{ env = ... }`` secret references are read (default ``os.environ``).

    The API key is resolved when the first call is made (and registered with the redactor);
    the SDK client is created then and reused until :meth:`aclose`.
    """

    name: ClassVar[str] = "anthropic"
    description: ClassVar[str] = "Claude models through the Anthropic Messages API."
    Config: ClassVar[type[BaseModel]] = AnthropicConfig

    def __init__(
        self, config: BaseModel | None = None, *, env: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(config)
        self.config: AnthropicConfig
        self._env = env
        self._client: AsyncAnthropic | None = None

    # --- plumbing ------------------------------------------------------------------------

    def _context(self, model: str) -> ErrorContext:
        key = self.config.api_key
        return ErrorContext(
            self.name,
            model,
            self.config.base_url,
            key.describe() if key is not None else None,
            self.config.timeout_s,
        )

    def _resolve(self, ref: SecretRef, setting: str) -> str:
        env = os.environ if self._env is None else self._env
        return resolve(ref, env=env, where=f"model provider {self.name!r} setting {setting}")

    def client(self) -> AsyncAnthropic:
        """The SDK client, created (and the secrets resolved) on first use.

        Raises:
            SecretError: a secret reference cannot be resolved.
        """
        if self._client is not None:
            return self._client
        from anthropic import AsyncAnthropic

        cfg = self.config
        api_key = self._resolve(cfg.api_key, "api_key") if cfg.api_key else NO_KEY_PLACEHOLDER
        headers = {
            name: self._resolve(value, f"headers.{name}") if isinstance(value, SecretRef) else value
            for name, value in cfg.headers.items()
        }
        self._client = AsyncAnthropic(
            api_key=api_key,
            base_url=cfg.base_url,
            timeout=cfg.timeout_s,
            max_retries=0,
            default_headers=headers or None,
        )
        return self._client

    def build_params(self, request: ModelRequest) -> dict[str, Any]:
        """The keyword arguments of ``messages.create`` for *request* (no ``stream``)."""
        cfg = self.config
        system, messages = to_anthropic_messages(request.messages)
        params: dict[str, Any] = {
            "model": request.model or cfg.model,
            "max_tokens": request.max_tokens or cfg.max_tokens,
            "messages": messages,
        }
        if system is not None:
            params["system"] = system
        if request.tools:
            params["tools"] = to_anthropic_tools(request)
            params["tool_choice"] = {"type": _TOOL_CHOICE[request.tool_choice]}
        temperature = request.temperature if request.temperature is not None else cfg.temperature
        if temperature is not None:
            # Recent SDKs dropped the argument (the newest models fix sampling); older ones and
            # models that take it still get the documented body field.
            params["extra_body"] = {"temperature": temperature}
        return params

    # --- calls ---------------------------------------------------------------------------

    async def complete(self, request: ModelRequest) -> ModelResponse:
        """One Messages API call.

        Raises:
            RateLimitError: HTTP 429 (``retry_after`` from ``Retry-After``).
            TransientError: 408/409/5xx (529 overloaded), connection failure, time-out.
            ModelProviderError: any other failure (401 names the secret reference to check).
            SecretError: the API key reference cannot be resolved.
        """
        params = self.build_params(request)
        ctx = self._context(params["model"])
        client = self.client()
        try:
            answer: Any = await client.messages.create(**params)
        except Exception as exc:  # mapped below; re-raised if not an SDK error
            mapped = map_anthropic_error(exc, ctx)
            if mapped is None:
                raise
            raise mapped from None
        text: list[str] = []
        calls: list[ToolCall] = []
        for block in getattr(answer, "content", None) or []:
            kind = getattr(block, "type", None)
            if kind == "text":
                text.append(block.text or "")
            elif kind == "tool_use":
                value = block.input
                arguments = (
                    value
                    if isinstance(value, dict)
                    else {INVALID_ARGUMENTS_KEY: json.dumps(value, default=str)}
                )
                calls.append(ToolCall(id=block.id, name=block.name, arguments=arguments))
        usage = getattr(answer, "usage", None)
        return ModelResponse(
            message=Message(
                role="assistant", content="".join(text) or None, tool_calls=tuple(calls)
            ),
            usage=Usage(
                input_tokens=_input_tokens(usage), output_tokens=_count(usage, "output_tokens")
            ),
            model=getattr(answer, "model", None) or params["model"],
            finish_reason=_finish_reason(getattr(answer, "stop_reason", None), bool(calls)),
        )

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamChunk]:
        """Stream a Messages API call: text deltas, then the complete response.

        Errors are mapped as in :meth:`complete`, including an ``error`` event inside the
        stream (``overloaded_error`` → ``TransientError``) and a connection that breaks off.
        """
        params = self.build_params(request)
        params["stream"] = True
        ctx = self._context(params["model"])
        client = self.client()
        blocks: dict[int, _Block] = {}
        model = params["model"]
        stop_reason: str | None = None
        input_tokens = 0
        output_tokens = 0
        try:
            events: Any = await client.messages.create(**params)
            try:
                async for event in events:
                    kind = getattr(event, "type", None)
                    if kind == "message_start":
                        model = getattr(event.message, "model", None) or model
                        input_tokens = _input_tokens(event.message.usage)
                        output_tokens = _count(event.message.usage, "output_tokens")
                    elif kind == "content_block_start":
                        raw = event.content_block
                        block = _Block(
                            raw.type,
                            getattr(raw, "id", "") or "",
                            getattr(raw, "name", "") or "",
                            getattr(raw, "input", None),
                        )
                        blocks[event.index] = block
                        if raw.type == "text" and getattr(raw, "text", ""):
                            block.parts.append(raw.text)
                            yield StreamChunk("text", text=raw.text)
                    elif kind == "content_block_delta":
                        block = blocks.setdefault(event.index, _Block("text"))
                        delta = event.delta
                        if delta.type == "text_delta" and delta.text:
                            block.parts.append(delta.text)
                            yield StreamChunk("text", text=delta.text)
                        elif delta.type == "input_json_delta":
                            block.parts.append(delta.partial_json)
                    elif kind == "message_delta":
                        stop_reason = getattr(event.delta, "stop_reason", None) or stop_reason
                        usage = getattr(event, "usage", None)
                        if usage is not None:
                            output_tokens = _count(usage, "output_tokens") or output_tokens
                            if getattr(usage, "input_tokens", None) is not None:
                                input_tokens = _input_tokens(usage)
            finally:
                await events.close()
        except Exception as exc:  # mapped below; re-raised if not an SDK error
            mapped = map_anthropic_error(exc, ctx)
            if mapped is None:
                raise
            raise mapped from None
        text: list[str] = []
        calls: list[ToolCall] = []
        for _, block in sorted(blocks.items()):
            if block.type == "text":
                text.extend(block.parts)
            elif block.type == "tool_use":
                if block.parts:
                    arguments = _decode_input("".join(block.parts))
                else:  # the whole input came with content_block_start
                    arguments = block.input if isinstance(block.input, dict) else {}
                calls.append(ToolCall(id=block.id, name=block.name, arguments=arguments))
        response = ModelResponse(
            message=Message(
                role="assistant", content="".join(text) or None, tool_calls=tuple(calls)
            ),
            usage=Usage(input_tokens=input_tokens, output_tokens=output_tokens),
            model=model,
            finish_reason=_finish_reason(stop_reason, bool(calls)),
        )
        yield StreamChunk("response", response=response)

    async def aclose(self) -> None:
        """Close the SDK client's connections."""
        client, self._client = self._client, None
        if client is not None:
            await client.close()
