"""The event-loop watch: a blocked loop shows as lateness of its periodic sleep; a failing record is loud."""

from __future__ import annotations

import asyncio
import time

import pytest

from monitor.loopwatch import EventLoopWatch, watch_event_loop
from tests.support import eventually


async def test_a_callback_blocking_the_loop_shows_as_lag() -> None:
    """Blocking 0.3 s while a 0.05 s sleep is pending makes that sleep at least 0.25 s late."""
    lags: list[float] = []
    async with EventLoopWatch(lags.append, interval_s=0.05):
        await asyncio.sleep(0)  # the watch task starts its first sleep
        time.sleep(0.3)  # noqa: ASYNC251 -- the point: a callback that blocks the loop
        await eventually(lambda: bool(lags), 10)
    assert max(lags) >= 0.25
    assert min(lags) >= 0.0


async def test_a_failing_record_is_raised_when_the_watch_ends() -> None:
    """The watch task is owned: its error surfaces instead of vanishing."""
    def record(_: float) -> None:
        raise RuntimeError("gauge is broken")

    with pytest.raises(RuntimeError, match="gauge is broken"):
        async with EventLoopWatch(record, interval_s=0.01):
            await asyncio.sleep(0.2)


async def test_the_interval_must_be_positive() -> None:
    """A zero interval would spin the loop."""
    with pytest.raises(ValueError, match="interval_s"):
        await watch_event_loop(lambda _: None, 0.0)
