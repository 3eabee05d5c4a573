"""Fixtures of the simulator tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from monitor.sim.server import SimulatorServer


@pytest.fixture
async def sim() -> AsyncIterator[SimulatorServer]:
    """A started simulator whose heartbeat only runs when a test calls it."""
    async with SimulatorServer(seed=11, heartbeat_s=600.0) as server:
        yield server
