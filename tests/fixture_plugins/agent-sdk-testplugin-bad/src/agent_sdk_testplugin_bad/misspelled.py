"""``testmisspelled``: implements ``agent_sdk_register_tool`` (no such hook: the spec ends in s)."""

from __future__ import annotations

from agent_sdk import hookimpl
from agent_sdk.kinds.tool import Tool
from agent_sdk_testplugin_bad._tools import ping


@hookimpl
def agent_sdk_register_tool() -> list[type[Tool]]:
    return [ping]
