"""Real-service checks for tests that talk to PostgreSQL, Redis, RabbitMQ...

Tests of service-backed plugins use the real service (no mocks). Where the service is not
running they skip with a reason naming the address, unless ``AGENT_SDK_REQUIRE_SERVICES=1``
(set by ``.ci/run``), in which case a missing service fails the test.
"""

from __future__ import annotations

import os
import socket

__all__ = ["require_service", "service_available", "services_required"]


def service_available(host: str, port: int, timeout_s: float = 0.5) -> bool:
    """``True`` if a TCP connection to ``host:port`` opens within *timeout_s* seconds."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def services_required() -> bool:
    """``True`` when ``AGENT_SDK_REQUIRE_SERVICES`` is set to a true value."""
    return os.environ.get("AGENT_SDK_REQUIRE_SERVICES", "").lower() in {"1", "true", "yes", "on"}


def require_service(name: str, host: str = "127.0.0.1", port: int = 0) -> None:
    """Skip the calling test if *name* at ``host:port`` is down; fail instead when required.

    Args:
        name: human name for the message, e.g. ``"Redis"``.
        host: address to probe.
        port: TCP port to probe.
    """
    import pytest

    if service_available(host, port):
        return
    message = f"{name} is not reachable at {host}:{port}"
    if services_required():
        pytest.fail(f"{message} and AGENT_SDK_REQUIRE_SERVICES=1 requires it")
    pytest.skip(f"{message} (set AGENT_SDK_REQUIRE_SERVICES=1 to make this a failure)")
