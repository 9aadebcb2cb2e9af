"""Testing support for agent-sdk and for users' own agent code (a pytest plugin).

Loaded automatically by pytest through the ``pytest11`` entry point of the ``agent-sdk``
distribution. See :mod:`agent_sdk.testing.pytest_plugin` for the fixtures,
:mod:`agent_sdk.testing.scripted` for deterministic models and
:mod:`agent_sdk.testing.conformance` for the suites every backend must pass.
"""

from __future__ import annotations

from typing import Any

__all__ = ["FunctionModel", "ScriptedModel"]


def __getattr__(name: str) -> Any:
    # lazy re-exports: importing agent_sdk.testing (pytest does, for every session) stays cheap
    if name in __all__:
        from agent_sdk.testing import scripted

        return getattr(scripted, name)
    raise AttributeError(name)
