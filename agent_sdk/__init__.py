"""agent-sdk: a small kernel for building and running AI agents, everything else a plugin.

Importing this package is cheap on purpose (it imports pluggy and nothing else): the CLI,
configuration, runtime and every plugin load lazily. Plugins import one name from here::

    from agent_sdk import hookimpl
"""

from __future__ import annotations

import pluggy

__version__ = "0.1.0"

PROJECT_NAME = "agent_sdk"
"""The pluggy project name and the entry-point group that plugins register under."""

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
"""Marker for hook specifications (used only by :mod:`agent_sdk.hookspecs`)."""

hookimpl = pluggy.HookimplMarker(PROJECT_NAME)
"""Marker for hook implementations: decorate ``agent_sdk_*`` functions in a plugin with it."""

__all__ = ["PROJECT_NAME", "__version__", "hookimpl", "hookspec"]
