"""Late, cached resolution of a sink's secret references."""

from __future__ import annotations

import asyncio

from agent_sdk.secrets import SecretRef

__all__ = ["SecretCache"]


class SecretCache:
    """Resolves a secret reference on first use and keeps the value (registered for redaction).

    Resolution runs in a worker thread: a keyring backend may take seconds to answer. A failed
    resolution is not cached, so fixing the environment fixes the next alert.
    """

    def __init__(self) -> None:
        self._values: dict[SecretRef, str] = {}

    async def get(self, ref: SecretRef, *, where: str) -> str:
        """The secret's value.

        Raises:
            SecretError: the reference cannot be resolved (the message never holds a value).
        """
        value = self._values.get(ref)
        if value is None:
            from agent_sdk.secrets import resolve

            value = await asyncio.to_thread(resolve, ref, where=where)
            self._values[ref] = value
        return value
