"""Hook implementations of the ``tools`` plugin (the target of its ``agent_sdk`` entry point).

Every agent-sdk application imports this module at start-up, so it imports ``agent_sdk`` only;
the tool modules are imported when the registry is built, and ``httpx`` / ``ddgs`` only when
``http_fetch`` / ``web_search`` run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent_sdk import hookimpl

if TYPE_CHECKING:
    from agent_sdk.kinds.tool import Tool


@hookimpl
def agent_sdk_register_tools() -> list[type[Tool]]:
    """Register ``read_file``, ``write_file``, ``list_dir``, ``http_fetch``, ``web_search``,
    ``python_exec`` and ``shell``."""
    from agent_sdk_tools.execute import PythonExec, Shell
    from agent_sdk_tools.fetch import HttpFetch
    from agent_sdk_tools.files import ListDir, ReadFile, WriteFile
    from agent_sdk_tools.search import WebSearch

    return [ReadFile, WriteFile, ListDir, HttpFetch, WebSearch, PythonExec, Shell]
