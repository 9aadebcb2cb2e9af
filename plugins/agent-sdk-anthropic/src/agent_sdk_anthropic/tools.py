"""The anthropic plugin's tools."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from agent_sdk.kinds.base import EmptyConfig
from agent_sdk.kinds.tool import Tool, ToolContext

__all__ = ["Echo"]


class Echo(Tool):
    """Echo the given text back, after the configured prefix."""

    name = "anthropic_echo"
    description = "Echo the given text back, after the configured prefix."
    side_effects = False

    class Config(EmptyConfig):
        """``[plugins.anthropic]`` settings."""

        prefix: str = Field("", description="Text put before every echoed message.")

    class Arguments(BaseModel):
        """What the model passes."""

        model_config = ConfigDict(extra="forbid")

        text: str = Field(description="The text to echo back.")

    async def run(self, args: Echo.Arguments, ctx: ToolContext) -> str:
        return f"{self.config.prefix}{args.text}"
