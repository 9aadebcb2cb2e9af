"""The base every pluggable component derives from.

A component is a *class* that a plugin returns from a registration hook. The kernel
instantiates it with a validated ``Config``::

    class Echo(Tool):
        name = "echo"
        description = "Repeat the input."

        class Config(EmptyConfig):
            prefix: str = Field("", description="Text put before the echo.")

The ``Config`` model is the contract between a component and the TOML file: its JSON Schema is
what ``[plugins.<plugin>]`` is checked against at start-up (``extra="forbid"``: unknown keys are
errors), and ``agent-sdk schema`` publishes it.
"""

from __future__ import annotations

import re
from abc import ABC
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict

__all__ = ["KINDS", "Component", "EmptyConfig", "Kind", "validate_component_name"]

Kind = Literal["model", "tool", "agent", "storage", "sandbox", "alert_sink"]

KINDS: tuple[Kind, ...] = ("model", "tool", "agent", "storage", "sandbox", "alert_sink")
"""Every pluggable kind, in registration order."""

_NAME_RE = re.compile(r"^[a-z][a-z0-9_\-]{0,63}$")


class EmptyConfig(BaseModel):
    """Base for component ``Config`` models: unknown keys are errors, fields are described."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def validate_component_name(name: object) -> str | None:
    """Return ``None`` if *name* is a valid component name, else the reason it is not.

    Names are lower-case ASCII, start with a letter, and use ``[a-z0-9_-]``, at most 64
    characters: they appear in TOML keys, CLI arguments, metric labels and file names.
    """
    if not isinstance(name, str):
        return f"name must be a string, found {type(name).__name__}"
    if not _NAME_RE.match(name):
        return f"name {name!r} must match {_NAME_RE.pattern}"
    return None


class Component(ABC):
    """Base of every pluggable kind.

    Class attributes:
        kind: which kind this is (set by each kind's base class).
        name: unique name within its kind; how configuration and workflows refer to it.
        description: one line shown by ``agent-sdk plugins list`` (and to models, for tools).
        Config: pydantic model of the component's settings.

    Args:
        config: validated settings; ``None`` means ``Config()`` (all defaults).
    """

    kind: ClassVar[Kind]
    name: ClassVar[str]
    description: ClassVar[str] = ""
    Config: ClassVar[type[BaseModel]] = EmptyConfig

    def __init__(self, config: BaseModel | None = None) -> None:
        self.config: Any = config if config is not None else type(self).Config()

    @classmethod
    def config_schema(cls) -> dict[str, Any]:
        """Return the JSON Schema (draft 2020-12) of :attr:`Config`."""
        return cls.Config.model_json_schema()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.kind}:{self.name}>"
