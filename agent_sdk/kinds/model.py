"""Model providers: turn a :class:`~agent_sdk.messages.ModelRequest` into a response.

A provider wraps one backend (llama.cpp, an OpenAI-compatible endpoint, Anthropic...). It maps
the backend's failures onto the error family so that the runtime can retry the right ones:

* HTTP 429 → :class:`~agent_sdk.errors.RateLimitError` (``retry_after`` from ``Retry-After``),
* 5xx, connection resets, provider time-outs → :class:`~agent_sdk.errors.TransientError`,
* anything else (bad request, auth) → :class:`~agent_sdk.errors.ModelProviderError`.

Vendor SDKs are imported lazily, inside the provider, never at module import.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import AsyncIterator
from typing import ClassVar, Literal

from agent_sdk.kinds.base import Component, Kind
from agent_sdk.messages import ModelRequest, ModelResponse

__all__ = ["ModelProvider", "StreamChunk"]


class StreamChunk:
    """One piece of a streamed response.

    Attributes:
        type: ``"text"`` (a text delta) or ``"response"`` (the final, complete response).
        text: the delta, for ``"text"`` chunks.
        response: the complete response, for the last chunk.
    """

    __slots__ = ("response", "text", "type")

    def __init__(
        self,
        type: Literal["text", "response"],
        text: str = "",
        response: ModelResponse | None = None,
    ) -> None:
        self.type = type
        self.text = text
        self.response = response


class ModelProvider(Component):
    """Base class of model providers (registered by ``agent_sdk_register_model_providers``)."""

    kind: ClassVar[Kind] = "model"

    @abstractmethod
    async def complete(self, request: ModelRequest) -> ModelResponse:
        """Run one model call.

        Args:
            request: messages, tool specs and sampling overrides.

        Returns:
            The assistant message (text and/or tool calls) with token usage.

        Raises:
            RateLimitError: the provider throttled the call (honour ``retry_after``).
            TransientError: a failure a retry may fix.
            ModelProviderError: any other failure.
        """

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamChunk]:
        """Stream a model call: text deltas, then one final ``"response"`` chunk.

        The default implementation calls :meth:`complete` and yields its result as one delta;
        providers with native streaming override it.
        """
        response = await self.complete(request)
        if response.message.content:
            yield StreamChunk("text", text=response.message.content)
        yield StreamChunk("response", response=response)

    async def aclose(self) -> None:
        """Release connections or loaded weights. Called once at shutdown; default: nothing."""
        return None
