"""agent-sdk-tools: the standard tools of agent-sdk (``[plugins.tools]``).

``read_file``, ``write_file`` and ``list_dir`` (confined to a workspace root), ``http_fetch``
and ``web_search`` (rate limited, cached, behind circuit breakers), ``python_exec`` and
``shell`` (through the configured sandbox). The ``agent_sdk`` entry point targets
:mod:`agent_sdk_tools.hooks`; the tool modules are imported only when the registry is built.
"""

__version__ = "0.1.0"
