"""Hooks of the ``testgood`` fixture plugin: a ``greet`` tool and an ``echo`` model provider."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from agent_sdk import hookimpl
from agent_sdk.kinds.base import EmptyConfig
from agent_sdk.kinds.model import ModelProvider
from agent_sdk.kinds.tool import Tool, tool
from agent_sdk.messages import Message, ModelRequest, ModelResponse


@tool(threaded=False, side_effects=False)
def greet(name: str) -> str:
    """Greet someone by name."""
    return f"hello {name}"


class EchoModel(ModelProvider):
    """Answers with the last message's content, prefixed."""

    name: ClassVar[str] = "echo"
    description: ClassVar[str] = "Echo the last message back."

    class Config(EmptyConfig):
        prefix: str = Field("echo: ", description="Text put before the echoed content.")
        uppercase: bool = Field(False, description="Upper-case the echoed content.")

    async def complete(self, request: ModelRequest) -> ModelResponse:
        text = request.messages[-1].content or ""
        if self.config.uppercase:
            text = text.upper()
        return ModelResponse(message=Message.assistant(self.config.prefix + text), model="echo")


@hookimpl
def agent_sdk_register_tools() -> list[type[Tool]]:
    return [greet]


@hookimpl
def agent_sdk_register_model_providers() -> list[type[ModelProvider]]:
    return [EchoModel]
