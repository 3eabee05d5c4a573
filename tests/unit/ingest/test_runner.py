"""Venue runner: one supervisor per (venue, stream), labels, clean cancellation, loud failures."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from monitor.domain.events import Event
from monitor.ingest.http import HttpResponse
from monitor.ingest.runner import VenueRunner
from monitor.ingest.sink import CollectingSink
from monitor.ingest.supervisor import SupervisorSettings
from tests.support import eventually
from tests.unit.ingest.fakes import FakeVenue, MemoryTransport, scripted_server

FAST = SupervisorSettings(backoff_base_s=0.01, backoff_cap_s=0.05, close_timeout_s=0.5)


def _transport() -> MemoryTransport:
    return MemoryTransport(lambda _: HttpResponse(200, b"{}"))


async def test_cancelling_the_runner_disconnects_every_stream() -> None:
    """Two venues of one name run side by side (okx, okx#2) and both stop on cancellation."""
    sink = CollectingSink()
    async with scripted_server() as server:
        venues = [FakeVenue(server.url, name="okx"), FakeVenue(server.url, name="okx")]
        runner = VenueRunner(venues, sink, _transport(), FAST, seed=3)
        assert [s.label for s in runner.supervisors] == ["okx", "okx#2"]
        assert runner.supervisor("okx#2", "market").venue is venues[1]
        task = asyncio.create_task(runner.run())
        await server.wait_for(lambda: server.accepted == 2)
        await eventually(lambda: all(s.status == "connected" for s in runner.supervisors), 5.0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert sink.status_of("okx", "market") == "disconnected"
    assert sink.status_of("okx#2", "market") == "disconnected"
    with pytest.raises(KeyError):
        runner.supervisor("okx", "private")


class _FailingSink(CollectingSink):
    async def publish(self, events: Sequence[Event], *, resync: bool = False) -> None:  # noqa: ARG002 -- a failing sink ignores it
        del events
        raise RuntimeError("broker gone")


async def test_a_failing_sink_ends_the_runner_loudly() -> None:
    """A sink failure is not swallowed: it propagates out of run() and stops every supervisor."""
    sink = _FailingSink()
    async with scripted_server() as server:
        venues = [FakeVenue(server.url, name="a"), FakeVenue(server.url, name="b")]
        runner = VenueRunner(venues, sink, _transport(), FAST)
        task = asyncio.create_task(runner.run())
        await server.wait_for(lambda: server.accepted == 2)
        await server.push('{"price": "1"}')
        with pytest.raises(ExceptionGroup) as failure:
            await asyncio.wait_for(task, 5.0)
    assert failure.value.subgroup(RuntimeError) is not None
    assert sink.status_of("a", "market") == "disconnected"
    assert sink.status_of("b", "market") == "disconnected"
