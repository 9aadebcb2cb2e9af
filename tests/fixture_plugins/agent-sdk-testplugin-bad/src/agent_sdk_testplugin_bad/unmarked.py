"""``testunmarked``: a hook implementation someone forgot to decorate with ``@hookimpl``."""

from __future__ import annotations

from agent_sdk.kinds.tool import Tool
from agent_sdk_testplugin_bad._tools import ping


def agent_sdk_register_tools() -> list[type[Tool]]:
    return [ping]
