"""Hook implementations of the ``anthropic`` plugin (the target of its ``agent_sdk`` entry point).

Light on purpose: every agent-sdk application imports this module at start-up. The provider
module is imported when the registry is built, and the ``anthropic`` SDK only when the
provider makes its first call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent_sdk import hookimpl

if TYPE_CHECKING:
    from agent_sdk.kinds.model import ModelProvider


@hookimpl
def agent_sdk_register_model_providers() -> list[type[ModelProvider]]:
    """Register :class:`~agent_sdk_anthropic.provider.AnthropicProvider` as ``anthropic``."""
    from agent_sdk_anthropic.provider import AnthropicProvider

    return [AnthropicProvider]
