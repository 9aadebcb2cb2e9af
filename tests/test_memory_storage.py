"""MemoryStorage keeps the storage contract: the conformance suite, except persistence."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from agent_sdk.kinds.storage import StorageBackend
from agent_sdk.testing.conformance.storage import StorageConformance
from agent_sdk.testing.memory import MemoryStorage


class TestMemoryStorageConformance(StorageConformance):
    persistent: ClassVar[bool] = False

    async def make_storage(self, location: Path) -> StorageBackend:
        return MemoryStorage()
