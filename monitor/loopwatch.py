"""Event-loop lag: how late the loop wakes a periodic sleep, exported as ``hedge_event_loop_lag_seconds``.

A task sleeps ``interval_s`` (0.5 s) again and again and records how much later than asked it
woke: the time the loop was busy with other callbacks when the timer was due. On an idle loop the
overshoot is a fraction of a millisecond; a callback that blocks the loop for 200 ms shows as
about 0.2 s. This is the measure Node.js' ``monitorEventLoopDelay`` and the ``aiodebug``
``log_slow_callbacks`` approach take (a timer's lateness), kept as a last value in a gauge.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from types import TracebackType

DEFAULT_INTERVAL_S = 0.5
log = logging.getLogger(__name__)


async def watch_event_loop(record: Callable[[float], None], interval_s: float = DEFAULT_INTERVAL_S) -> None:
    """Forever: sleep ``interval_s`` and hand ``record`` the overshoot in seconds (never negative)."""
    if not interval_s > 0:
        raise ValueError("interval_s must be > 0")
    while True:
        asked = time.monotonic()
        await asyncio.sleep(interval_s)
        record(max(0.0, time.monotonic() - asked - interval_s))


class EventLoopWatch:
    """Owns the watch task: ``async with EventLoopWatch(metrics.event_loop_lag):`` around a run.

    A watch task that fails (its ``record`` raised) is logged at once and re-raised when the block
    exits, so it cannot die silently.
    """

    def __init__(self, record: Callable[[float], None], interval_s: float = DEFAULT_INTERVAL_S) -> None:
        self._record = record
        self._interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> EventLoopWatch:
        self._task = asyncio.create_task(watch_event_loop(self._record, self._interval_s),
                                         name="event-loop-watch")
        self._task.add_done_callback(_log_failure)
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None,
    ) -> None:
        task = self._task
        self._task = None
        if task is None:
            return
        if task.done():
            task.result()
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("the event-loop watch failed", exc_info=task.exception())
