"""Fixtures several unit-test modules share."""

from __future__ import annotations

import pytest

from monitor.bus.base import Topics
from monitor.bus.memory import MemoryBus


@pytest.fixture
async def bus() -> MemoryBus:
    """An in-process bus with every hedge topic created, three partitions each."""
    created = MemoryBus()
    await created.create_topics(Topics().specs(3))
    return created
