"""One module per pluggable kind: what a plugin must implement to provide it.

Each kind has a base class (in the module of the same name) and a registration hook:

* ``model``: :class:`~agent_sdk.kinds.model.ModelProvider`,
  ``agent_sdk_register_model_providers``;
* ``tool``: :class:`~agent_sdk.kinds.tool.Tool`, ``agent_sdk_register_tools``;
* ``agent``: :class:`~agent_sdk.kinds.agent.Agent`, ``agent_sdk_register_agents``;
* ``storage``: :class:`~agent_sdk.kinds.storage.StorageBackend`,
  ``agent_sdk_register_storage_backends``;
* ``sandbox``: :class:`~agent_sdk.kinds.sandbox.Sandbox`, ``agent_sdk_register_sandboxes``;
* ``alert_sink``: :class:`~agent_sdk.kinds.alerts.AlertSink`, ``agent_sdk_register_alert_sinks``.

Every kind derives from :class:`~agent_sdk.kinds.base.Component`: a class with a ``name`` and
a nested pydantic ``Config`` whose JSON Schema validates the plugin's ``[plugins.<name>]`` table.
"""

from __future__ import annotations

from agent_sdk.kinds.base import KINDS, Component, EmptyConfig, Kind

__all__ = ["KINDS", "Component", "EmptyConfig", "Kind"]
