"""Secret references, their resolution, and the redactor.

Secrets never appear in a configuration file. A setting that holds one takes a *reference*::

    api_key = { env = "OPENAI_API_KEY" }            # from the environment
    api_key = { keyring = "agent-sdk/openai" }      # from the OS keyring: "service/username"

References are resolved late (when a component needs the value), by :func:`resolve`. Every
resolved value is registered with :data:`REDACTOR`, which masks it in logs, traces, stored
events and error messages. A plain string where a secret is expected is a configuration error:
there is no plaintext fallback.

The keyring is optional. On a headless machine it usually has no backend; that is reported as
"not found" with instructions, and never hangs: a keyring call that takes longer than
:data:`KEYRING_TIMEOUT_S` is abandoned.
"""

from __future__ import annotations

import functools
import os
import re
import threading
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from agent_sdk.errors import SecretError

__all__ = [
    "KEYRING_TIMEOUT_S",
    "REDACTED",
    "REDACTOR",
    "SENSITIVE_KEY_RE",
    "Redactor",
    "SecretRef",
    "is_secret_ref",
    "is_sensitive_key",
    "keyring_backend_available",
    "resolve",
]

REDACTED = "***"
KEYRING_TIMEOUT_S = 5.0
"""Seconds to wait for a keyring backend before treating the secret as not found."""

SENSITIVE_KEY_RE = re.compile(
    r"(?:^|_)(pass(word|wd|phrase)?s?|secrets?|token(?!_(?:budget|count|limit)(?:_|$))|api_?key|"
    r"authorization|auth|credentials?|"
    r"private_?key|cookies?|session_?id)(?:_|$)"
)
"""Matches the *normalised* form of a sensitive mapping key (see :func:`is_sensitive_key`).

Only whole words count, so ``api_key``, ``Authorization``, ``access_token`` and ``X-Api-Key``
are sensitive while ``max_tokens``, ``input_tokens``, ``token_budget``, ``author`` and
``bypass`` are not (``token`` followed by ``budget``/``count``/``limit`` is a quantity).
"""

_KEY_WORD_RE = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|[0-9]+")


@functools.lru_cache(maxsize=4096)
def is_sensitive_key(key: str) -> bool:
    """``True`` if values under mapping key *key* are masked whatever they hold.

    The key is split into words (``snake_case``, ``kebab-case``, ``camelCase``, ``UPPER``) and
    matched against :data:`SENSITIVE_KEY_RE` word by word. Results are cached (at most 4,096
    keys): the same few keys are checked on every event written.
    """
    normalised = "_".join(word.lower() for word in _KEY_WORD_RE.findall(key))
    return SENSITIVE_KEY_RE.search(normalised) is not None


class SecretRef(BaseModel):
    """A reference to a secret: exactly one of ``env`` or ``keyring``.

    Attributes:
        env: name of an environment variable.
        keyring: ``"service/username"`` in the OS keyring.
    """

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        # "exactly one of env/keyring" for JSON Schema validators too (TOML has no null).
        json_schema_extra={"minProperties": 1, "maxProperties": 1},
    )

    env: str | None = Field(None, description="Environment variable holding the secret.")
    keyring: str | None = Field(
        None, description='OS keyring entry as "service/username".', pattern=r"^[^/]+/.+$"
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> SecretRef:
        if (self.env is None) == (self.keyring is None):
            raise ValueError(
                'a secret reference needs exactly one of env = "NAME" or keyring = "service/user"'
            )
        return self

    def describe(self) -> str:
        """``env:NAME`` or ``keyring:service/username`` (never the value)."""
        return f"env:{self.env}" if self.env is not None else f"keyring:{self.keyring}"


def is_secret_ref(value: Any) -> bool:
    """``True`` if *value* is a :class:`SecretRef` or a dict shaped like one."""
    if isinstance(value, SecretRef):
        return True
    return (
        isinstance(value, Mapping)
        and len(value) == 1
        and next(iter(value)) in ("env", "keyring")
        and isinstance(next(iter(value.values())), str)
    )


class Redactor:
    """Masks registered secret values and sensitive keys.

    Thread-safe. Values shorter than :attr:`min_length` characters are not registered (masking
    every ``"a"`` in a log would destroy it, and such a value is no secret).
    """

    min_length = 4

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._lock = threading.Lock()

    def add(self, value: str) -> None:
        """Register a secret value for masking."""
        if not isinstance(value, str) or len(value) < self.min_length:
            return
        with self._lock:
            if value in self._values:
                return
            self._values.add(value)
            ordered = sorted(self._values, key=len, reverse=True)
            # A lookahead finds the longest secret starting at *every* position, so secrets
            # that overlap in the text are all found (see redact).
            self._pattern = re.compile("(?=(" + "|".join(re.escape(v) for v in ordered) + "))")

    def clear(self) -> None:
        """Forget every registered value (tests)."""
        with self._lock:
            self._values.clear()
            self._pattern = None

    def __len__(self) -> int:
        return len(self._values)

    def redact(self, text: str) -> str:
        """Return *text* with every registered secret replaced by ``***``.

        Overlapping or adjacent occurrences are masked as one span, so no fragment of any
        registered secret survives.
        """
        pattern = self._pattern
        if pattern is None or not text:
            return text
        spans: list[list[int]] = []
        for match in pattern.finditer(text):
            start, end = match.span(1)
            if spans and start <= spans[-1][1]:
                spans[-1][1] = max(spans[-1][1], end)
            else:
                spans.append([start, end])
        if not spans:
            return text
        parts, last = [], 0
        for start, end in spans:
            parts += [text[last:start], REDACTED]
            last = end
        parts.append(text[last:])
        return "".join(parts)

    def redact_secrets(self, value: Any, *, _depth: int = 0) -> Any:
        """Return *value* with registered secret values masked (keys are not masked).

        For data that must otherwise round-trip (journal steps, task outputs): free when no
        secret is registered, and a tool argument named ``password`` keeps its value unless
        that value is a registered secret.
        """
        if self._pattern is None:
            return value
        if isinstance(value, str):
            return self.redact(value)
        if _depth > 50:
            return value
        if isinstance(value, Mapping):
            return {k: self.redact_secrets(v, _depth=_depth + 1) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self.redact_secrets(v, _depth=_depth + 1) for v in value)
        return value

    def redact_value(self, value: Any, *, _depth: int = 0) -> Any:
        """Return a copy of *value* (str, mapping, list/tuple, other) with secrets masked.

        Strings are redacted; values under sensitive keys (:func:`is_sensitive_key`) are
        replaced by ``***``; exceptions become their redacted ``"Type: message"`` text;
        containers are walked up to 20 levels deep.
        """
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, BaseException):
            return self.redact(f"{type(value).__name__}: {value}")
        if _depth > 20:
            return value
        if isinstance(value, Mapping):
            out = {}
            for key, item in value.items():
                if isinstance(key, str) and is_sensitive_key(key) and item not in (None, ""):
                    out[key] = item if is_secret_ref(item) else REDACTED
                else:
                    out[key] = self.redact_value(item, _depth=_depth + 1)
            return out
        if isinstance(value, list | tuple):
            return type(value)(self.redact_value(v, _depth=_depth + 1) for v in value)
        return value


REDACTOR = Redactor()
"""The process-wide redactor used by logs, traces, storage and error messages."""


def keyring_backend_available() -> tuple[bool, str]:
    """Return ``(available, backend description)`` for the OS keyring, without hanging."""
    try:
        import keyring
        from keyring.backends import fail
    except ImportError:  # pragma: no cover - keyring is a dependency
        return False, "the keyring package is not installed"
    backend = keyring.get_keyring()
    if isinstance(backend, fail.Keyring):
        return False, "no keyring backend is available on this machine"
    try:
        from keyring.backends import chainer

        if isinstance(backend, chainer.ChainerBackend) and not backend.backends:
            return False, "no keyring backend is available on this machine"
    except ImportError:  # pragma: no cover
        pass
    return True, f"{type(backend).__module__}.{type(backend).__name__}"


def _keyring_call(fn: Any, *args: Any) -> Any:
    """Call a keyring function in a daemon thread, abandoning it after KEYRING_TIMEOUT_S."""
    result: dict[str, Any] = {}

    def target() -> None:
        try:
            result["value"] = fn(*args)
        except BaseException as exc:  # noqa: BLE001 - isolate a plugin/tool failure
            result["error"] = exc

    thread = threading.Thread(target=target, name="agent-sdk-keyring", daemon=True)
    thread.start()
    thread.join(KEYRING_TIMEOUT_S)
    if thread.is_alive():
        raise SecretError(
            f"the keyring backend did not answer within {KEYRING_TIMEOUT_S:g}s",
            hint='use an environment variable reference instead: { env = "NAME" }',
        )
    if "error" in result:
        raise result["error"]
    return result.get("value")


def _split_keyring(ref: str) -> tuple[str, str]:
    service, _, username = ref.partition("/")
    if not service or not username:
        raise SecretError(
            f'keyring reference {ref!r} must look like "service/username"',
            hint='e.g. api_key = { keyring = "agent-sdk/openai" }',
        )
    return service, username


def resolve(
    ref: SecretRef | Mapping[str, str], *, env: Mapping[str, str] | None = None, where: str = ""
) -> str:
    """Resolve a secret reference to its value and register the value with :data:`REDACTOR`.

    Args:
        ref: a :class:`SecretRef` or a dict ``{"env": ...}`` / ``{"keyring": ...}``.
        env: environment to read (default ``os.environ``).
        where: the setting's dotted key path, for error messages
            (e.g. ``"plugins.openai.api_key"``).

    Returns:
        The secret value.

    Raises:
        SecretError: the variable is unset or empty, the keyring has no backend or no entry, or
            the keyring did not answer; the message says how to set the secret.
    """
    sref = ref if isinstance(ref, SecretRef) else SecretRef.model_validate(dict(ref))
    at = f" (needed by {where})" if where else ""
    if sref.env is not None:
        source = os.environ if env is None else env
        value = source.get(sref.env)
        if not value:
            raise SecretError(
                f"secret {sref.describe()}{at} is not set",
                hint=f"export {sref.env}=... before starting agent-sdk",
            )
        REDACTOR.add(value)
        return value
    assert sref.keyring is not None
    service, username = _split_keyring(sref.keyring)
    available, detail = keyring_backend_available()
    if not available:
        raise SecretError(
            f"secret {sref.describe()}{at} not found: {detail}",
            hint='use an environment variable reference ({ env = "NAME" }) on headless '
            "machines, or install a keyring backend and run "
            f"`agent-sdk keys set {sref.keyring}`",
        )
    import keyring

    try:
        value = _keyring_call(keyring.get_password, service, username)
    except SecretError as exc:  # the backend did not answer
        raise SecretError(
            f"secret {sref.describe()}{at} not read: {exc.message}", hint=exc.hint
        ) from None
    except Exception as exc:  # noqa: BLE001 - isolate a plugin/tool failure
        raise SecretError(
            f"secret {sref.describe()}{at} not read: the keyring backend ({detail}) failed: "
            f"{type(exc).__name__}: {exc}",
            hint='unlock the keyring, or use an environment variable reference ({ env = "NAME" })',
        ) from None
    if not value:
        raise SecretError(
            f"secret {sref.describe()}{at} not found in the keyring ({detail})",
            hint=f"store it with `agent-sdk keys set {sref.keyring}`",
        )
    REDACTOR.add(value)
    return str(value)
