"""agent-sdk-agents: ready-made agent types (``tool-agent``, ``code-agent``, ``research-agent``).

The ``agent_sdk`` entry point of this distribution targets :mod:`agent_sdk_agents.hooks`; the
agent classes live in their own modules and are imported only when the registry is built.
Every agent makes its model and tool calls through its :class:`~agent_sdk.kinds.agent.AgentContext`
only, so each step is journaled and a resumed run replays it instead of repeating it.
"""

__version__ = "0.1.0"
