"""agent-sdk plugin alerts.

The ``agent_sdk`` entry point of this distribution targets :mod:`agent_sdk_alerts.hooks`; the
components live in their own modules and are imported only when the registry is built.
"""

__version__ = "0.1.0"
