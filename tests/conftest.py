"""Shared fixtures for the kernel tests (config, secrets, logging, app, CLI).

Add fixtures here; keep each one small and self-cleaning. The public fixtures
(``plugin_manager``, ``register_plugin``, ``make_config``...) come from
:mod:`agent_sdk.testing.pytest_plugin`.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

DEMO_PLUGIN_SOURCE = """
from pydantic import Field

from agent_sdk import hookimpl
from agent_sdk.kinds.base import EmptyConfig
from agent_sdk.kinds.model import ModelProvider
from agent_sdk.kinds.tool import Tool
from agent_sdk.secrets import SecretRef

EVENTS = []


class DemoConfig(EmptyConfig):
    endpoint: str = Field(description="Base URL of the demo service.")
    timeout_s: float = Field(10.0, description="Seconds before a call is abandoned.")
    api_key: SecretRef | None = Field(None, description="Credential for the service.")
    headers: dict[str, str] = Field(default_factory=dict, description="Extra HTTP headers.")


class DemoModel(ModelProvider):
    name = "demo-model"
    Config = DemoConfig

    async def complete(self, request):
        raise NotImplementedError


class DemoTool(Tool):
    name = "demo-tool"
    Config = DemoConfig

    async def run(self, args, ctx):
        return "ok"


@hookimpl
def agent_sdk_register_model_providers():
    return [DemoModel]


@hookimpl
def agent_sdk_register_tools():
    return [DemoTool]


@hookimpl
def agent_sdk_configure(config):
    EVENTS.append(("configure", config))


@hookimpl
def agent_sdk_startup(config):
    EVENTS.append(("startup", config))


@hookimpl
def agent_sdk_shutdown(config):
    EVENTS.append(("shutdown", config))
"""
"""An installable plugin: model ``demo-model`` and tool ``demo-tool`` sharing ``DemoConfig``
(required ``endpoint``, ``timeout_s``, a ``SecretRef`` ``api_key``, free-form ``headers``);
its bootstrap hooks append to ``EVENTS``."""


@pytest.fixture
def kernel_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No ``AGENT_SDK*`` variable set except an empty plugin allowlist; cwd is an empty dir.

    Returns the working directory (write ``agent-sdk.toml`` there to have it discovered).
    """
    for var in list(os.environ):
        if var.startswith("AGENT_SDK"):
            monkeypatch.delenv(var)
    monkeypatch.setenv("AGENT_SDK_LOAD_PLUGINS", "")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


@pytest.fixture
def install_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., str]]:
    """``install_plugin(name, source, *, dist=None, version="1.0") -> module name``.

    Writes *source* as a module plus a ``.dist-info`` declaring the ``agent_sdk`` entry point
    *name* into a directory put on ``sys.path``, so discovery finds it as if pip-installed.
    The module is removed from ``sys.modules`` at teardown.
    """
    site = tmp_path / "site-packages"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    modules: list[str] = []

    def install(name: str, source: str, *, dist: str | None = None, version: str = "1.0") -> str:
        dist = dist or f"agent-sdk-{name}-fixture"
        module = f"_kernel_fixture_{name}_{uuid.uuid4().hex[:8]}"
        (site / f"{module}.py").write_text(textwrap.dedent(source), encoding="utf-8")
        info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n", encoding="utf-8"
        )
        (info / "entry_points.txt").write_text(
            f"[agent_sdk]\n{name} = {module}\n", encoding="utf-8"
        )
        importlib.invalidate_caches()
        modules.append(module)
        return module

    yield install
    for module in modules:
        sys.modules.pop(module, None)


@pytest.fixture
def demo_plugin(
    kernel_env: Path, install_plugin: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> str:
    """Install :data:`DEMO_PLUGIN_SOURCE` as plugin ``demo`` (allowlisted); return its module."""
    module = install_plugin("demo", DEMO_PLUGIN_SOURCE)
    monkeypatch.setenv("AGENT_SDK_LOAD_PLUGINS", "demo")
    return module


@pytest.fixture
def clean_redactor() -> Iterator[object]:
    """The process-wide redactor, emptied before and after the test."""
    from agent_sdk.secrets import REDACTOR

    REDACTOR.clear()
    yield REDACTOR
    REDACTOR.clear()


@pytest.fixture
def fresh_structlog() -> Iterator[None]:
    """structlog unconfigured (defaults) with no bound context, before and after the test."""
    import structlog

    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()
    yield
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()
    logging.captureWarnings(False)


def _memory_keyring_backend() -> object:
    """A fresh in-memory keyring backend (keyring is imported lazily)."""
    from keyring.backend import KeyringBackend
    from keyring.errors import PasswordDeleteError

    class MemoryKeyring(KeyringBackend):
        priority = 1

        def __init__(self) -> None:
            super().__init__()
            self.store: dict[tuple[str, str], str] = {}

        def get_password(self, service: str, username: str) -> str | None:
            return self.store.get((service, username))

        def set_password(self, service: str, username: str, password: str) -> None:
            self.store[(service, username)] = password

        def delete_password(self, service: str, username: str) -> None:
            if self.store.pop((service, username), None) is None:
                raise PasswordDeleteError(f"no {service}/{username}")

    return MemoryKeyring()


@pytest.fixture
def memory_keyring() -> Iterator[object]:
    """A working in-memory keyring backend (``.store`` maps (service, user) → value)."""
    import keyring

    previous = keyring.get_keyring()
    backend = _memory_keyring_backend()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture
def no_keyring() -> Iterator[None]:
    """The keyring has no backend (``keyring.backends.fail.Keyring``), as on a headless box."""
    import keyring
    from keyring.backends import fail

    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    yield
    keyring.set_keyring(previous)
