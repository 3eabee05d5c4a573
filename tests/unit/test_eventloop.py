"""Event-loop selection: asyncio, uvloop or auto; the one-line error when uvloop is not installed."""

from __future__ import annotations

import asyncio
import inspect
import sys
import types

import pytest

from monitor import eventloop
from monitor.eventloop import ENVIRONMENT_VARIABLE, INSTALL_HINT, EventLoopError


@pytest.fixture
def without_uvloop(monkeypatch: pytest.MonkeyPatch) -> None:
    """`import uvloop` fails, as on a machine without the [fast] extra."""
    monkeypatch.setitem(sys.modules, "uvloop", None)


@pytest.fixture
def fake_uvloop(monkeypatch: pytest.MonkeyPatch) -> list[asyncio.AbstractEventLoop]:
    """An importable stand-in for uvloop whose new_event_loop records every loop it makes."""
    made: list[asyncio.AbstractEventLoop] = []

    def new_event_loop() -> asyncio.AbstractEventLoop:
        loop = asyncio.new_event_loop()
        made.append(loop)
        return loop

    module = types.ModuleType("uvloop")
    monkeypatch.setattr(module, "new_event_loop", new_event_loop, raising=False)
    monkeypatch.setitem(sys.modules, "uvloop", module)
    return made


async def _running_loop() -> asyncio.AbstractEventLoop:
    return asyncio.get_running_loop()


def test_asyncio_is_chosen_when_nothing_is_asked() -> None:
    """No flag, no environment variable, no config key: the standard asyncio loop."""
    assert eventloop.requested_loop(None, None, {}) == "asyncio"


def test_flag_beats_environment_beats_config() -> None:
    """--event-loop wins over $HEDGE_EVENT_LOOP, which wins over [monitor] event_loop."""
    environment = {ENVIRONMENT_VARIABLE: "auto"}
    assert eventloop.requested_loop("asyncio", "uvloop", environment) == "asyncio"
    assert eventloop.requested_loop(None, "uvloop", environment) == "auto"
    assert eventloop.requested_loop(None, "uvloop", {ENVIRONMENT_VARIABLE: " "}) == "uvloop"


def test_environment_value_is_case_insensitive() -> None:
    """HEDGE_EVENT_LOOP=UVLOOP means uvloop."""
    assert eventloop.requested_loop(None, None, {ENVIRONMENT_VARIABLE: "UVLOOP"}) == "uvloop"


def test_unknown_environment_value_names_the_variable() -> None:
    """A misspelt HEDGE_EVENT_LOOP is refused naming the variable and the choices."""
    with pytest.raises(EventLoopError) as caught:
        eventloop.requested_loop(None, None, {ENVIRONMENT_VARIABLE: "uv"})
    assert str(caught.value) == (
        "HEDGE_EVENT_LOOP: unknown event loop 'uv'; expected one of auto, asyncio, uvloop")


def test_asyncio_stays_asyncio_when_uvloop_is_installed(fake_uvloop: list[asyncio.AbstractEventLoop]) -> None:
    """Asking for asyncio never switches to uvloop, installed or not."""
    assert eventloop.resolve("asyncio") == "asyncio"
    assert eventloop.loop_factory("asyncio") is None


def test_auto_picks_uvloop_when_importable(fake_uvloop: list[asyncio.AbstractEventLoop]) -> None:
    """auto resolves to uvloop when `import uvloop` works."""
    assert eventloop.resolve("auto") == "uvloop"


def test_auto_falls_back_to_asyncio_without_uvloop(without_uvloop: None) -> None:
    """auto resolves to asyncio when uvloop cannot be imported."""
    assert eventloop.resolve("auto") == "asyncio"
    assert eventloop.loop_factory("auto") is None


def test_uvloop_missing_is_one_line_naming_the_fix(without_uvloop: None) -> None:
    """Asking for uvloop without it installed fails in one line that says how to install it."""
    with pytest.raises(EventLoopError) as caught:
        eventloop.resolve("uvloop")
    message = str(caught.value)
    assert "\n" not in message
    assert message == f"event loop 'uvloop' is not installed: {INSTALL_HINT}"
    assert "pip install 'hedge-monitor[fast]'" in message


def test_unknown_choice_is_refused() -> None:
    """A choice outside auto/asyncio/uvloop is an error, not a silent default."""
    with pytest.raises(EventLoopError, match="unknown event loop 'trio'"):
        eventloop.resolve("trio")


def test_run_returns_the_coroutine_result_on_asyncio() -> None:
    """run(main, "asyncio") runs main on a standard asyncio loop and returns its result."""
    loop = eventloop.run(_running_loop(), "asyncio")
    assert type(loop).__module__.startswith("asyncio")
    assert loop.is_closed()


def test_run_uses_the_uvloop_factory(fake_uvloop: list[asyncio.AbstractEventLoop]) -> None:
    """run(main, "uvloop") runs main on a loop made by uvloop.new_event_loop, then closes it."""
    loop = eventloop.run(_running_loop(), "uvloop")
    assert fake_uvloop == [loop]
    assert loop.is_closed()


def test_run_without_a_loop_reads_the_environment(
    monkeypatch: pytest.MonkeyPatch, fake_uvloop: list[asyncio.AbstractEventLoop],
) -> None:
    """run(main) with no loop given follows $HEDGE_EVENT_LOOP (how bench workers pick it up)."""
    monkeypatch.setenv(ENVIRONMENT_VARIABLE, "uvloop")
    loop = eventloop.run(_running_loop())
    assert fake_uvloop == [loop]


def test_run_closes_the_coroutine_when_uvloop_is_missing(without_uvloop: None) -> None:
    """A refused loop leaves main closed and unstarted (no 'never awaited' warning)."""
    main = _running_loop()
    with pytest.raises(EventLoopError, match=r"pip install 'hedge-monitor\[fast\]'"):
        eventloop.run(main, "uvloop")
    assert inspect.getcoroutinestate(main) == inspect.CORO_CLOSED


def test_real_uvloop_runs_the_coroutine() -> None:
    """With uvloop installed, "uvloop" and "auto" both run main on a uvloop.Loop."""
    uvloop = pytest.importorskip("uvloop")
    assert isinstance(eventloop.run(_running_loop(), "uvloop"), uvloop.Loop)
    assert isinstance(eventloop.run(_running_loop(), "auto"), uvloop.Loop)
