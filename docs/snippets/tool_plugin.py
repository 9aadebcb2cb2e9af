"""A tool plugin: one function tool and one class tool with settings.

Installed as a distribution, this module is the target of the entry point
``wordtools = "wordtools.hooks"``; its settings table is then ``[plugins.wordtools]``.
"""

from __future__ import annotations

import re
import unicodedata

from pydantic import BaseModel, Field

from agent_sdk import hookimpl
from agent_sdk.errors import ToolError
from agent_sdk.kinds.base import EmptyConfig
from agent_sdk.kinds.tool import Tool, ToolContext, tool


@tool(side_effects=False, threaded=False)
def word_count(text: str) -> int:
    """Count the words in a text."""
    return len(text.split())


class Slugify(Tool):
    """A class tool: settings in ``Config``, arguments in ``Arguments``."""

    name = "slugify"
    description = "Turn a title into a URL slug."
    side_effects = False

    class Config(EmptyConfig):
        separator: str = Field("-", min_length=1, description="Put between words.")
        max_length: int = Field(60, ge=8, description="Longest slug returned, in characters.")

    class Arguments(BaseModel):
        text: str = Field(description="The title to turn into a slug.")

    async def run(self, args: Slugify.Arguments, ctx: ToolContext) -> str:
        ascii_text = unicodedata.normalize("NFKD", args.text).encode("ascii", "ignore").decode()
        words = re.findall(r"[a-z0-9]+", ascii_text.lower())
        if not words:
            raise ToolError(
                f"cannot make a slug from {args.text!r}: it has no letters or digits",
                hint="pass a title with at least one letter or digit",
            )
        slug: str = self.config.separator.join(words)
        return slug[: self.config.max_length]


@hookimpl
def agent_sdk_register_tools() -> list[type[Tool]]:
    return [word_count, Slugify]
