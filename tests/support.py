"""Test tooling shared by every suite: waiting on observable conditions with a deadline."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from monitor.codec import risk_to_dict
from monitor.domain.book import HedgeBook
from monitor.processor.runner import Processor

POLL_INTERVAL_S = 0.01


async def eventually(
    condition: Callable[[], Any | Awaitable[Any]],
    timeout_s: float = 10.0,
    *,
    interval_s: float = POLL_INTERVAL_S,
    state: Callable[[], object] | None = None,
) -> Any:
    """Poll ``condition`` (plain or coroutine function) until truthy and return its value.

    At the deadline raise ``AssertionError`` naming the last value (and ``state()`` when given: a
    string as it is, say a log tail, anything else as its repr).
    Never a fixed sleep to order events: the wait ends as soon as the condition is observed.
    """
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while True:
        last = condition()
        if asyncio.iscoroutine(last) or isinstance(last, Awaitable):
            last = await last
        if last:
            return last
        if time.monotonic() >= deadline:
            seen = "" if state is None else f"; state: {_described(state())}"
            raise AssertionError(f"condition not met within {timeout_s} s (last value {last!r}){seen}")
        await asyncio.sleep(interval_s)


def _described(value: object) -> str:
    return value if isinstance(value, str) else repr(value)


@asynccontextmanager
async def running_processor(
    processor: Processor, timeout_s: float = 5.0, *, interval_s: float = POLL_INTERVAL_S,
) -> AsyncIterator[Processor]:
    """Run ``processor`` until the block ends; inside it, it is ready (joined, caught up)."""
    stop = asyncio.Event()
    task = asyncio.create_task(processor.run(stop))
    await eventually(lambda: processor.ready.is_set() or task.done(), timeout_s,
                     interval_s=interval_s)
    if task.done():
        task.result()
    try:
        yield processor
    finally:
        stop.set()
        await task


def published(book: HedgeBook) -> dict[str, Any]:
    """A book's risk snapshot as hedge.risk carries it: the JSON object the codec writes."""
    return risk_to_dict(book.snapshot())
