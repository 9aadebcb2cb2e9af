"""agent-sdk plugin ``anthropic``: Claude models through the Anthropic Messages API.

The ``agent_sdk`` entry point of this distribution targets :mod:`agent_sdk_anthropic.hooks`;
the provider lives in :mod:`agent_sdk_anthropic.provider` and imports the ``anthropic`` SDK
lazily.
"""

__version__ = "0.1.0"
