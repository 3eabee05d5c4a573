"""The event loop the commands run on: the standard asyncio loop, or uvloop when asked and installed.

uvloop is optional (``pip install 'hedge-monitor[fast]'``). The choice is ``"asyncio"`` (the
default, behaviour unchanged), ``"uvloop"`` (an error naming the fix when it is not installed) or
``"auto"`` (uvloop when it can be imported, else asyncio). A command's ``--event-loop`` flag wins
over the ``HEDGE_EVENT_LOOP`` environment variable, which wins over the config's
``[monitor] event_loop``. The loop is created with ``asyncio.Runner(loop_factory=...)``, not with
the event-loop-policy API (deprecated from Python 3.12 on).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, Final, TypeVar

from monitor.errors import HedgeMonitorError

EVENT_LOOPS: Final = ("auto", "asyncio", "uvloop")
"""Every accepted choice, as the flag, the environment variable and the config key spell it."""
DEFAULT_EVENT_LOOP: Final = "asyncio"
ENVIRONMENT_VARIABLE: Final = "HEDGE_EVENT_LOOP"
INSTALL_HINT: Final = "pip install 'hedge-monitor[fast]'"

T = TypeVar("T")
LoopFactory = Callable[[], asyncio.AbstractEventLoop]


class EventLoopError(HedgeMonitorError, RuntimeError):
    """The requested event loop is not a known choice, or uvloop is asked for and not installed."""


def _uvloop_factory() -> LoopFactory | None:
    """``uvloop.new_event_loop`` when uvloop can be imported, else None."""
    try:
        import uvloop  # noqa: PLC0415 -- optional dependency, imported only when asked for
    except ImportError:
        return None
    factory: LoopFactory = uvloop.new_event_loop
    return factory


def requested_loop(
    flag: str | None, configured: str | None = None, environment: Mapping[str, str] | None = None,
) -> str:
    """The choice in force: ``flag``, else ``$HEDGE_EVENT_LOOP``, else ``configured``, else asyncio."""
    if flag:
        choice, origin = flag, "--event-loop"
    else:
        variables = os.environ if environment is None else environment
        value = variables.get(ENVIRONMENT_VARIABLE, "").strip()
        if value:
            choice, origin = value.lower(), ENVIRONMENT_VARIABLE
        else:
            choice, origin = configured or DEFAULT_EVENT_LOOP, "[monitor] event_loop"
    if choice not in EVENT_LOOPS:
        raise EventLoopError(f"{origin}: unknown event loop {choice!r}; expected one of "
                             f"{', '.join(EVENT_LOOPS)}")
    return choice


def resolve(choice: str) -> str:
    """The loop ``choice`` means on this machine: ``"asyncio"`` or ``"uvloop"``."""
    if choice not in EVENT_LOOPS:
        raise EventLoopError(f"unknown event loop {choice!r}; expected one of {', '.join(EVENT_LOOPS)}")
    if choice == "asyncio":
        return "asyncio"
    if _uvloop_factory() is not None:
        return "uvloop"
    if choice == "auto":
        return "asyncio"
    raise EventLoopError(f"event loop 'uvloop' is not installed: {INSTALL_HINT}")


def loop_factory(choice: str) -> LoopFactory | None:
    """The ``asyncio.Runner`` loop factory of ``choice`` (None: the standard asyncio loop)."""
    if resolve(choice) == "asyncio":
        return None
    return _uvloop_factory()


def run(main: Coroutine[Any, Any, T], loop: str | None = None) -> T:
    """Run ``main`` to completion in a new loop of ``loop`` (None: ``$HEDGE_EVENT_LOOP`` or asyncio).

    Like ``asyncio.run``; an unknown or missing loop raises ``EventLoopError`` and closes ``main``
    unstarted (no "coroutine was never awaited" warning).
    """
    try:
        factory = loop_factory(loop if loop is not None else requested_loop(None))
    except EventLoopError:
        main.close()
        raise
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main)


__all__ = [
    "DEFAULT_EVENT_LOOP", "ENVIRONMENT_VARIABLE", "EVENT_LOOPS", "INSTALL_HINT", "EventLoopError",
    "loop_factory", "requested_loop", "resolve", "run",
]
