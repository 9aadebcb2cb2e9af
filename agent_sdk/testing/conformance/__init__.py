"""Conformance suites: the behaviour every implementation of a kind must show.

A backend is "done" when its suite passes against it (house style 15). Each suite is a base
class of pytest test methods; a plugin's tests subclass it and say how to build the object
under test:

* :mod:`agent_sdk.testing.conformance.storage`: :class:`StorageConformance` for
  :class:`~agent_sdk.kinds.storage.StorageBackend` implementations.
* :mod:`agent_sdk.testing.conformance.sandbox`: :class:`SandboxConformance` for sandboxes.

The suites import pytest and pytest-asyncio, so they are imported explicitly, never by
``import agent_sdk.testing``.
"""

from __future__ import annotations

__all__: list[str] = []
