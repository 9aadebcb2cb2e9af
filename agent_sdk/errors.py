"""The agent-sdk error family.

Every error the SDK raises on purpose is an :class:`AgentSDKError`. Messages follow one rule
(house style 13): say *where* (file, dotted key path, plugin, run/task), what was *expected*,
what was *found*, and how to *fix* it. Secret values registered with
:data:`agent_sdk.secrets.REDACTOR` are masked in ``str(error)``, so an error can be logged,
stored or printed without leaking a credential.

Catch the broad classes (``ModelProviderError``, ``ToolError``...) in application code; the
runtime uses :attr:`AgentSDKError.transient` to decide what it may retry.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

__all__ = [
    "AgentSDKError",
    "BudgetExceededError",
    "CancelledError",
    "CircuitOpenError",
    "ConfigError",
    "ConfigIssue",
    "DuplicateComponentError",
    "ModelProviderError",
    "PluginError",
    "PluginLoadError",
    "RateLimitError",
    "SandboxError",
    "SandboxUnavailableError",
    "SecretError",
    "StorageError",
    "TimeoutError",
    "ToolError",
    "ToolValidationError",
    "TransientError",
    "UnknownComponentError",
    "WorkflowError",
    "WorkflowValidationError",
]


class AgentSDKError(Exception):
    """Root of every error agent-sdk raises on purpose.

    Args:
        message: what went wrong, including where and what was found.
        hint: how to fix it, shown on its own line (optional).

    Attributes:
        transient: ``True`` when retrying the same operation may succeed (network blips,
            rate limits, 5xx). The runtime retries only transient errors.
    """

    transient: bool = False

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        from agent_sdk.secrets import REDACTOR

        text = self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"
        return REDACTOR.redact(text)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable summary: ``{"type", "message", "hint", "transient"}``.

        Used when an error is written to storage or sent to an alert sink; secrets redacted.
        """
        from agent_sdk.secrets import REDACTOR

        return {
            "type": type(self).__name__,
            "message": REDACTOR.redact(self.message),
            "hint": REDACTOR.redact(self.hint) if self.hint else None,
            "transient": self.transient,
        }


# --- configuration -----------------------------------------------------------------------


class ConfigIssue:
    """One problem found in a configuration file.

    Attributes:
        source: the file (or ``"environment"``) the value came from.
        key_path: dotted key path, e.g. ``"plugins.sqlite.path"``; ``""`` for the root.
        message: what is wrong, e.g. ``"expected integer, found 'ten'"``.
        hint: how to fix it, or ``None``.
    """

    __slots__ = ("hint", "key_path", "message", "source")

    def __init__(self, source: str, key_path: str, message: str, hint: str | None = None) -> None:
        self.source = source
        self.key_path = key_path
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        where = f"{self.source}: {self.key_path or '<root>'}"
        text = f"{where}: {self.message}"
        return f"{text} (hint: {self.hint})" if self.hint else text

    def __repr__(self) -> str:
        return f"ConfigIssue({self.source!r}, {self.key_path!r}, {self.message!r})"

    def to_dict(self) -> dict[str, str | None]:
        """Return ``{"source", "key_path", "message", "hint"}``."""
        return {
            "source": self.source,
            "key_path": self.key_path,
            "message": self.message,
            "hint": self.hint,
        }


class ConfigError(AgentSDKError):
    """The configuration is invalid. :attr:`issues` lists *every* problem found, not just the first.

    Args:
        issues: the problems, each naming the file and dotted key path (a plain string
            becomes one issue at the root).
        hint: how to fix it, when *issues* is a plain string.
    """

    def __init__(
        self,
        issues: Sequence[ConfigIssue] | str,
        *,
        hint: str | None = None,
    ) -> None:
        if isinstance(issues, str):
            self.issues: list[ConfigIssue] = [ConfigIssue("<config>", "", issues, hint)]
        else:
            self.issues = list(issues)
        count = len(self.issues)
        lines = [f"invalid configuration ({count} problem{'s' if count != 1 else ''}):"]
        lines += [f"  - {issue}" for issue in self.issues]
        super().__init__("\n".join(lines), hint=None)


class SecretError(AgentSDKError):
    """A secret reference could not be resolved (variable unset, no keyring backend...).

    The message names the reference and how to set the secret; it never contains a value.
    """


# --- plugins -----------------------------------------------------------------------------


class PluginError(AgentSDKError):
    """A plugin is broken or misconfigured."""


class PluginLoadError(PluginError):
    """An entry point failed to import or to register (raised only in strict mode).

    Attributes:
        entry_point: the entry-point name (the plugin's name).
        distribution: the distribution that declares it, or ``None``.
        version: that distribution's version, or ``None``.
    """

    def __init__(
        self,
        message: str,
        *,
        entry_point: str,
        distribution: str | None,
        version: str | None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.entry_point = entry_point
        self.distribution = distribution
        self.version = version


class DuplicateComponentError(PluginError):
    """Two plugins registered the same name for the same kind (tool, model provider...)."""


class UnknownComponentError(PluginError):
    """A configuration or workflow names a component (tool, agent, model...) nobody registered."""


# --- runtime -----------------------------------------------------------------------------


class ToolError(AgentSDKError):
    """A tool failed. Returned to the model as a structured tool error, not raised past the loop."""


class ToolValidationError(ToolError):
    """A tool call's arguments do not match the tool's schema.

    Attributes:
        errors: pydantic-style error dicts (``loc``, ``msg``, ``type``).
    """

    def __init__(
        self, message: str, *, errors: list[dict[str, Any]] | None = None, hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.errors = errors or []


class ModelProviderError(AgentSDKError):
    """A model provider failed to produce a response."""


class TransientError(ModelProviderError):
    """A failure that may succeed on retry (5xx, connection reset, timeout at the provider).

    Args:
        retry_after: seconds the provider asked us to wait (``Retry-After``), or ``None``.
    """

    transient = True

    def __init__(
        self, message: str, *, retry_after: float | None = None, hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.retry_after = retry_after


class RateLimitError(TransientError):
    """The provider rejected the call for rate (HTTP 429); honour :attr:`retry_after` seconds."""


class SandboxError(AgentSDKError):
    """Sandboxed code could not be run (not: the code ran and failed; that is a result)."""


class SandboxUnavailableError(SandboxError):
    """The configured isolation is not available on this machine; the sandbox refuses to run."""


class StorageError(AgentSDKError):
    """A storage backend failed to read or write."""


class WorkflowError(AgentSDKError):
    """A workflow run failed."""


class WorkflowValidationError(WorkflowError):
    """A workflow definition is invalid (cycle, unknown task id, unknown agent...).

    Attributes:
        issues: one :class:`ConfigIssue` per problem (key path, message, hint); may be empty
            for a problem found while running (an unresolvable reference).
    """

    def __init__(
        self, message: str, *, issues: Sequence[ConfigIssue] = (), hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.issues = list(issues)


class BudgetExceededError(WorkflowError):
    """A run exceeded a limit: max turns, max tool calls, token budget."""


class CircuitOpenError(AgentSDKError):
    """A circuit breaker is open; calls are rejected until it half-opens.

    Args:
        name: the breaker's name (e.g. ``"model:openai"``).
        retry_after: seconds until the breaker half-opens.
    """

    transient = True

    def __init__(self, name: str, *, retry_after: float) -> None:
        super().__init__(
            f"circuit breaker {name!r} is open; retry in {retry_after:.1f}s",
            hint="the protected dependency failed repeatedly; check its health",
        )
        self.name = name
        self.retry_after = retry_after


class TimeoutError(AgentSDKError, builtins.TimeoutError):
    """An operation ran past its deadline (task ``timeout_s``, run wall clock, tool timeout).

    Also a :class:`builtins.TimeoutError`, so ``except TimeoutError`` catches it either way.
    """


class CancelledError(AgentSDKError):
    """A run or task was cancelled by a user or by a failing dependency.

    Deliberately *not* an :class:`asyncio.CancelledError`: it is the recorded outcome of a
    cancellation, raised after asyncio's own cancellation has been handled.
    """
