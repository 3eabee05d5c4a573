"""The live output of ``demo`` and ``run``: follow hedge.risk and hedge.alerts, show them."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import orjson
from rich.live import Live

from monitor.app import IngestHandle
from monitor.bus.base import Bus, Topics
from monitor.codec import decode_risk
from monitor.processor.runner import Processor
from monitor.view import ViewState, make_console, plain_lines, render


async def follow_outputs(bus: Bus, topics: Topics, state: ViewState, stop: asyncio.Event) -> None:
    """Feed every risk snapshot and alert transition into ``state`` until ``stop``."""
    consumer = await bus.table_consumer([topics.risk, topics.alerts])
    try:
        while not stop.is_set():
            batches = await consumer.getmany(200, 1_000)
            for records in batches.values():
                for record in records:
                    if record.topic == topics.risk:
                        state.on_snapshot(decode_risk(record.value))
                    else:
                        state.on_alert(orjson.loads(record.value))
    finally:
        await consumer.stop()


def update_feeds(state: ViewState, handles: dict[str, Any]) -> None:
    """Copy feed statuses and counters from the running ingest and processor into ``state``."""
    ingest: IngestHandle | None = handles.get("ingest")
    processor: Processor | None = handles.get("processor")
    if ingest is not None:
        for supervisor in ingest.runner.supervisors:
            state.feeds[supervisor.name] = (supervisor.status, "")
        state.events = sum(s.events for s in ingest.runner.supervisors)
        state.dead_letters = ingest.sink.dead_letters
    if processor is not None:
        state.dead_letters += processor.dead_letters


async def show(
    state: ViewState, title: str, stop: asyncio.Event, *, plain: bool, refresh_s: float,
    handles: dict[str, Any],
) -> None:
    """Refresh the live view (or print plain lines every ``refresh_s``) until ``stop``."""
    console, live_view = make_console(force_plain=plain)
    if live_view:
        with Live(render(state, title), console=console, refresh_per_second=4,
                  screen=False) as live:
            while not stop.is_set():
                update_feeds(state, handles)
                live.update(render(state, title))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 0.25)
        return
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), refresh_s)
        update_feeds(state, handles)
        for line in plain_lines(state):
            print(line, flush=True)




async def follow_and_show(
    bus: Bus, topics: Topics, state: ViewState, title: str, stop: asyncio.Event, *,
    plain: bool, refresh_s: float, handles: dict[str, Any],
) -> None:
    """Follow the output topics and show them until ``stop``."""
    follower = asyncio.ensure_future(follow_outputs(bus, topics, state, stop))
    try:
        await show(state, title, stop, plain=plain, refresh_s=refresh_s, handles=handles)
    finally:
        follower.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await follower
