"""agent-sdk plugin ``openai``: any OpenAI-compatible chat-completions endpoint as a model.

The ``agent_sdk`` entry point of this distribution targets :mod:`agent_sdk_openai.hooks`; the
provider lives in :mod:`agent_sdk_openai.provider` and imports the ``openai`` SDK lazily.
"""

__version__ = "0.1.0"
