"""The ``openai`` model provider: any OpenAI-compatible chat-completions endpoint.

OpenAI itself, vLLM, Ollama, llama.cpp's server, LiteLLM, ...: anything that serves
``POST {base_url}/chat/completions`` in the OpenAI wire format. Calls go through the official
``openai`` SDK (``AsyncOpenAI``), imported the first time the provider is used.

Mapping, both ways:

* messages: ``system``/``user`` as is; ``assistant`` with ``tool_calls`` (arguments encoded
  as JSON text); ``tool`` with ``tool_call_id`` and the result's JSON as content;
* tools: each :class:`~agent_sdk.messages.ToolSpec` becomes
  ``{"type": "function", "function": {name, description, parameters}}``; ``tool_choice``
  passes through (``auto``/``required``/``none``) when tools are offered;
* the answer's ``tool_calls`` become :class:`~agent_sdk.messages.ToolCall` with decoded
  arguments. Arguments that are not a JSON object are *not* an error: the call keeps the raw
  text under :data:`INVALID_ARGUMENTS_KEY`, so the tool's argument validation fails and the
  model is told (and corrects itself) like for any other invalid arguments;
* ``finish_reason``: ``stop``, ``tool_calls`` (also ``function_call``, and ``stop`` when the
  answer does call tools: some local servers say ``stop``), ``length``; anything else is
  passed through;
* usage: ``prompt_tokens`` / ``completion_tokens`` → ``input_tokens`` / ``output_tokens``.

Failures are mapped by :mod:`agent_sdk_openai.errors`. The SDK's own retries are off
(``max_retries=0``): agent-sdk's runtime retries, with its breaker and rate limits.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field

from agent_sdk.errors import ModelProviderError
from agent_sdk.kinds.base import EmptyConfig
from agent_sdk.kinds.model import ModelProvider, StreamChunk
from agent_sdk.messages import Message, ModelRequest, ModelResponse, ToolCall, Usage
from agent_sdk.secrets import SecretRef, resolve
from agent_sdk_openai.errors import ErrorContext, map_openai_error

if TYPE_CHECKING:
    from openai import AsyncOpenAI

__all__ = [
    "INVALID_ARGUMENTS_KEY",
    "NO_KEY_PLACEHOLDER",
    "OpenAIConfig",
    "OpenAIProvider",
    "decode_arguments",
    "to_openai_messages",
    "to_openai_tools",
]

INVALID_ARGUMENTS_KEY = "_invalid_json_arguments"
"""Key under which a tool call keeps arguments that are not a JSON object (the raw text).

A leading underscore cannot name a pydantic field, so no tool accepts it: validation fails
with "extra inputs are not permitted" (tools forbid unknown keys) plus any missing required
argument, and the model reads that in the tool result.
"""

NO_KEY_PLACEHOLDER = "no-key"
"""Bearer token sent when no ``api_key`` is configured (local servers ignore it).

The SDK refuses to send a request without a credential and would otherwise read
``OPENAI_API_KEY`` from the environment behind the configuration's back.
"""


class OpenAIConfig(EmptyConfig):
    """``[plugins.openai]`` / ``[models.<name>]`` settings of the OpenAI-compatible provider."""

    model: str = Field(
        "gpt-5.4-mini",
        description="Model name sent to the server (a request's model overrides it).",
    )
    base_url: str = Field(
        "https://api.openai.com/v1",
        description="Endpoint up to and including the API prefix, e.g. "
        "http://localhost:11434/v1 (Ollama), http://localhost:8000/v1 (vLLM).",
    )
    api_key: SecretRef | None = Field(
        None,
        description='Secret reference to the API key, e.g. { env = "OPENAI_API_KEY" }; '
        "unset for local servers that need none.",
    )
    organization: str | None = Field(
        None, description="OpenAI organization id (OpenAI-Organization header)."
    )
    project: str | None = Field(None, description="OpenAI project id (OpenAI-Project header).")
    timeout_s: float = Field(
        120.0, gt=0, description="Seconds to wait for an answer (per call) before it fails."
    )
    temperature: float | None = Field(
        None, ge=0, le=2, description="Sampling temperature; unset: the server's default."
    )
    max_tokens: int | None = Field(
        None, gt=0, description="Completion length cap in tokens; unset: the server's default."
    )
    max_tokens_param: Literal["auto", "max_tokens", "max_completion_tokens"] = Field(
        "auto",
        description="Request field that carries max_tokens. auto: max_completion_tokens "
        "for api.openai.com (current OpenAI models reject max_tokens), max_tokens for other "
        "servers.",
    )
    stream_usage: bool = Field(
        True,
        description="Ask for token usage when streaming (stream_options.include_usage); "
        "turn off for servers that reject stream_options.",
    )
    headers: dict[str, str | SecretRef] = Field(
        default_factory=dict,
        description="Extra HTTP headers sent with every request; a value may be a secret "
        'reference ({ env = "NAME" }) for gateway credentials.',
    )


def to_openai_tools(request: ModelRequest) -> list[dict[str, Any]]:
    """The request's tool specs in the chat-completions ``tools`` format."""
    return [
        {
            "type": "function",
            "function": {
                "name": spec.name,
                "description": spec.description,
                "parameters": spec.parameters,
            },
        }
        for spec in request.tools
    ]


def _encode_arguments(call: ToolCall) -> str:
    raw = call.arguments.get(INVALID_ARGUMENTS_KEY)
    if isinstance(raw, str) and len(call.arguments) == 1:
        return raw  # send back exactly what the model wrote
    return json.dumps(call.arguments, ensure_ascii=False)


def to_openai_messages(messages: tuple[Message, ...] | list[Message]) -> list[dict[str, Any]]:
    """The conversation in the chat-completions ``messages`` format.

    Raises:
        ModelProviderError: a ``tool`` message carries no :class:`ToolResult` (so no call id).
    """
    out: list[dict[str, Any]] = []
    for index, message in enumerate(messages):
        if message.role in ("system", "user"):
            out.append({"role": message.role, "content": message.content or ""})
        elif message.role == "assistant":
            entry: dict[str, Any] = {"role": "assistant", "content": message.content}
            if message.tool_calls:
                entry["tool_calls"] = [
                    {
                        "id": call.id,
                        "type": "function",
                        "function": {"name": call.name, "arguments": _encode_arguments(call)},
                    }
                    for call in message.tool_calls
                ]
            elif message.content is None:
                entry["content"] = ""
            out.append(entry)
        else:
            result = message.tool_result
            if result is None:
                raise ModelProviderError(
                    f"message {index} has role 'tool' but no tool_result, so it answers no "
                    "tool call id",
                    hint="build tool messages with Message.tool(result)",
                )
            content = message.content
            out.append(
                {
                    "role": "tool",
                    "tool_call_id": result.call_id,
                    "content": content if content is not None else result.content_for_model(),
                }
            )
    return out


def decode_arguments(raw: str | None) -> dict[str, Any]:
    """Decode a tool call's JSON arguments; not a JSON object → ``{INVALID_ARGUMENTS_KEY: raw}``.

    Empty or missing arguments mean ``{}`` (a call of a tool without parameters).
    """
    if raw is None or not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return {INVALID_ARGUMENTS_KEY: raw}
    if not isinstance(value, dict):
        return {INVALID_ARGUMENTS_KEY: raw}
    return value


def _finish_reason(raw: str | None, has_tool_calls: bool) -> str:
    if raw in ("tool_calls", "function_call"):
        return "tool_calls"
    if has_tool_calls and raw in (None, "", "stop"):
        return "tool_calls"
    return raw or "stop"


def _usage(raw: Any) -> Usage:
    if raw is None:
        return Usage()
    prompt = getattr(raw, "prompt_tokens", None) or 0
    completion = getattr(raw, "completion_tokens", None) or 0
    return Usage(input_tokens=max(0, int(prompt)), output_tokens=max(0, int(completion)))


class _ToolCallBuffer:
    """One tool call being assembled from stream deltas."""

    __slots__ = ("arguments", "id", "name")

    def __init__(self) -> None:
        self.id = ""
        self.name = ""
        self.arguments: list[str] = []


def _delta_index(part: Any, buffers: Mapping[int, _ToolCallBuffer]) -> int:
    """The tool call a streamed fragment belongs to.

    The wire format numbers them (``index``); servers that leave it out (older Ollama) send
    each call whole, so a fragment with a new ``id`` starts a new call.
    """
    index = getattr(part, "index", None)
    if isinstance(index, int):
        return index
    if not buffers:
        return 0
    last = max(buffers)
    new_id = getattr(part, "id", None)
    if new_id and buffers[last].id and buffers[last].id != new_id:
        return last + 1
    return last


class OpenAIProvider(ModelProvider):
    """Chat completions from an OpenAI-compatible server, through the ``openai`` SDK.

    Args:
        config: an :class:`OpenAIConfig` (``None``: all defaults).
        env: where ``{ env = ... }`` secret references are read (default ``os.environ``).

    The API key is resolved when the first call is made (and registered with the redactor);
    the SDK client is created then and reused until :meth:`aclose`.
    """

    name: ClassVar[str] = "openai"
    description: ClassVar[str] = (
        "OpenAI-compatible chat completions (OpenAI, vLLM, Ollama, llama.cpp server)."
    )
    Config: ClassVar[type[BaseModel]] = OpenAIConfig

    def __init__(
        self, config: BaseModel | None = None, *, env: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(config)
        self.config: OpenAIConfig
        self._env = env
        self._client: AsyncOpenAI | None = None

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

    def client(self) -> AsyncOpenAI:
        """The SDK client, created (and the secrets resolved) on first use.

        Raises:
            SecretError: a secret reference cannot be resolved.
        """
        if self._client is not None:
            return self._client
        from openai import AsyncOpenAI

        cfg = self.config
        api_key = self._resolve(cfg.api_key, "api_key") if cfg.api_key else NO_KEY_PLACEHOLDER
        headers = {
            name: self._resolve(value, f"headers.{name}") if isinstance(value, SecretRef) else value
            for name, value in cfg.headers.items()
        }
        client = AsyncOpenAI(
            api_key=api_key,
            organization=cfg.organization,
            project=cfg.project,
            base_url=cfg.base_url,
            timeout=cfg.timeout_s,
            max_retries=0,
            default_headers=headers or None,
        )
        # The SDK falls back to OPENAI_ORG_ID / OPENAI_PROJECT_ID for unset values; the
        # configuration is the only source of settings here.
        client.organization = cfg.organization
        client.project = cfg.project
        self._client = client
        return client

    def max_tokens_field(self) -> str:
        """``max_tokens`` or ``max_completion_tokens``, as ``max_tokens_param`` decides."""
        choice = self.config.max_tokens_param
        if choice != "auto":
            return choice
        host = urlsplit(self.config.base_url).hostname or ""
        return "max_completion_tokens" if host == "api.openai.com" else "max_tokens"

    def build_params(self, request: ModelRequest) -> dict[str, Any]:
        """The keyword arguments of ``chat.completions.create`` for *request* (no ``stream``)."""
        cfg = self.config
        params: dict[str, Any] = {
            "model": request.model or cfg.model,
            "messages": to_openai_messages(request.messages),
        }
        if request.tools:
            params["tools"] = to_openai_tools(request)
            params["tool_choice"] = request.tool_choice
        temperature = request.temperature if request.temperature is not None else cfg.temperature
        if temperature is not None:
            params["temperature"] = temperature
        max_tokens = request.max_tokens if request.max_tokens is not None else cfg.max_tokens
        if max_tokens is not None:
            params[self.max_tokens_field()] = max_tokens
        return params

    # --- calls ---------------------------------------------------------------------------

    async def complete(self, request: ModelRequest) -> ModelResponse:
        """One chat completion.

        Raises:
            RateLimitError: HTTP 429 (``retry_after`` from ``Retry-After``/``retry-after-ms``).
            TransientError: 408/409/5xx, connection failure, time-out.
            ModelProviderError: any other failure (401 names the secret reference to check).
            SecretError: the API key reference cannot be resolved.
        """
        params = self.build_params(request)
        ctx = self._context(params["model"])
        client = self.client()
        try:
            completion: Any = await client.chat.completions.create(**params)
        except Exception as exc:  # mapped below; re-raised if not an SDK error
            mapped = map_openai_error(exc, ctx)
            if mapped is None:
                raise
            raise mapped from None
        choices = getattr(completion, "choices", None) or []
        if not choices:
            raise ModelProviderError(
                f"{ctx.where}: the answer has no choices",
                hint="check that base_url points at an OpenAI-compatible /v1 endpoint",
            )
        choice = choices[0]
        raw_message = getattr(choice, "message", None)
        content = getattr(raw_message, "content", None)
        calls: list[ToolCall] = []
        for raw_call in getattr(raw_message, "tool_calls", None) or []:
            function = getattr(raw_call, "function", None)
            if function is None:
                continue  # a non-function ("custom") tool call: never offered by us
            calls.append(
                ToolCall(
                    id=raw_call.id or f"call_{len(calls) + 1}",
                    name=function.name or "",
                    arguments=decode_arguments(function.arguments),
                )
            )
        message = Message(role="assistant", content=content, tool_calls=tuple(calls))
        return ModelResponse(
            message=message,
            usage=_usage(getattr(completion, "usage", None)),
            model=getattr(completion, "model", None) or params["model"],
            finish_reason=_finish_reason(getattr(choice, "finish_reason", None), bool(calls)),
        )

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamChunk]:
        """Stream a chat completion: text deltas, then the complete response.

        Tool-call deltas are assembled by index (id and name from the first delta that has
        them, argument fragments concatenated); usage comes from the final usage chunk
        (``stream_usage``). Errors are mapped as in :meth:`complete`, including a connection
        that breaks off mid-stream (``TransientError``).
        """
        params = self.build_params(request)
        params["stream"] = True
        if self.config.stream_usage:
            params["stream_options"] = {"include_usage": True}
        ctx = self._context(params["model"])
        client = self.client()
        text: list[str] = []
        buffers: dict[int, _ToolCallBuffer] = {}
        finish: str | None = None
        usage = Usage()
        model = params["model"]
        try:
            chunks: Any = await client.chat.completions.create(**params)
            try:
                async for chunk in chunks:
                    model = getattr(chunk, "model", None) or model
                    if getattr(chunk, "usage", None) is not None:
                        usage = _usage(chunk.usage)
                    for choice in getattr(chunk, "choices", None) or []:
                        if (getattr(choice, "index", 0) or 0) != 0:
                            continue
                        if choice.finish_reason:
                            finish = choice.finish_reason
                        delta = getattr(choice, "delta", None)
                        if delta is None:
                            continue
                        if delta.content:
                            text.append(delta.content)
                            yield StreamChunk("text", text=delta.content)
                        for part in getattr(delta, "tool_calls", None) or []:
                            buffer = buffers.setdefault(
                                _delta_index(part, buffers), _ToolCallBuffer()
                            )
                            if part.id and not buffer.id:
                                buffer.id = part.id
                            function = getattr(part, "function", None)
                            if function is not None:
                                if function.name:
                                    buffer.name += function.name
                                if function.arguments:
                                    buffer.arguments.append(function.arguments)
            finally:
                await chunks.close()
        except Exception as exc:  # mapped below; re-raised if not an SDK error
            mapped = map_openai_error(exc, ctx)
            if mapped is None:
                raise
            raise mapped from None
        calls = tuple(
            ToolCall(
                id=buffer.id or f"call_{position + 1}",
                name=buffer.name,
                arguments=decode_arguments("".join(buffer.arguments)),
            )
            for position, (_, buffer) in enumerate(sorted(buffers.items()))
        )
        message = Message(role="assistant", content="".join(text) or None, tool_calls=calls)
        response = ModelResponse(
            message=message,
            usage=usage,
            model=model,
            finish_reason=_finish_reason(finish, bool(calls)),
        )
        yield StreamChunk("response", response=response)

    async def aclose(self) -> None:
        """Close the SDK client's connections."""
        client, self._client = self._client, None
        if client is not None:
            await client.close()
