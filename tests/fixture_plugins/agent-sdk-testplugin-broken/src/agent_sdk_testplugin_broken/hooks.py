"""Hooks of the ``testbroken`` fixture plugin: importing it fails, like a missing vendor SDK."""

from __future__ import annotations

import agent_sdk_testplugin_vendor_sdk_not_installed  # noqa: F401

from agent_sdk import hookimpl


@hookimpl
def agent_sdk_register_tools() -> list[type]:
    return []
