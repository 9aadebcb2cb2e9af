"""Testing support for agent-sdk and for users' own agent code (a pytest plugin).

Loaded automatically by pytest through the ``pytest11`` entry point of the ``agent-sdk``
distribution. See :mod:`agent_sdk.testing.pytest_plugin` for the fixtures,
:mod:`agent_sdk.testing.scripted` for deterministic models and
:mod:`agent_sdk.testing.conformance` for the suites every backend must pass.
"""
