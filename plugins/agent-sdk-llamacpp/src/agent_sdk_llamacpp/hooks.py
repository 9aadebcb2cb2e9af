"""Hook implementations of the ``llamacpp`` plugin (the target of its ``agent_sdk`` entry point).

Every agent-sdk application imports this module at start-up, so it stays light: llama-cpp-python
is imported only when a :class:`~agent_sdk_llamacpp.provider.LlamaCppModel` loads its model,
and the provider module only when the registry is built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent_sdk import hookimpl

if TYPE_CHECKING:
    from agent_sdk.kinds.model import ModelProvider


@hookimpl
def agent_sdk_register_model_providers() -> list[type[ModelProvider]]:
    """Register :class:`~agent_sdk_llamacpp.provider.LlamaCppModel` as provider ``llamacpp``."""
    from agent_sdk_llamacpp.provider import LlamaCppModel

    return [LlamaCppModel]
