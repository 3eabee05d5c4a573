"""Connection supervisor: backoff, replies, DLQ, watchdog, reconnects, keepalive and resync."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

import pytest

from monitor.domain.events import PositionEvent, PriceEvent
from monitor.ingest.http import HttpResponse
from monitor.ingest.sink import CollectingSink
from monitor.ingest.supervisor import (
    ConnectionSupervisor,
    DeadLetter,
    SupervisorSettings,
    backoff_delay,
    redact_url,
    truncate_raw,
)
from monitor.venues.base import HttpRequest, Parsed
from tests.support import eventually
from tests.unit.ingest.fakes import FakeVenue, MemoryTransport, scripted_server

FAST = SupervisorSettings(backoff_base_s=0.01, backoff_cap_s=0.05, close_timeout_s=0.5)


class _UpperBound(random.Random):
    """A random source whose uniform() returns the upper bound, to expose the backoff ceiling."""

    def uniform(self, a: float, b: float) -> float:
        del a
        return b


def _ok_transport(quantity: float = -150.0) -> MemoryTransport:
    def answer(request: HttpRequest) -> HttpResponse:
        if request.purpose == "listen_key":
            return HttpResponse(200, b'{"listenKey":"key-1"}')
        return HttpResponse(200, json.dumps({"quantity": quantity}).encode())

    return MemoryTransport(answer)


def _has_events(sink: CollectingSink, count: int) -> bool:
    return len(sink.events) == count


@asynccontextmanager
async def running(supervisor: ConnectionSupervisor) -> AsyncIterator[asyncio.Task[None]]:
    """Run a supervisor in a task and cancel it on exit."""
    task = asyncio.create_task(supervisor.run())
    try:
        yield task
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


def test_backoff_ceiling_doubles_up_to_the_cap() -> None:
    """The full-jitter ceiling is base * 2**attempt, capped."""
    rng = _UpperBound()
    # 0.5 * 2**0 = 0.5 ; 0.5 * 2**2 = 2.0 ; 0.5 * 2**6 = 32 -> capped at 30
    assert backoff_delay(0, 0.5, 30.0, rng) == 0.5
    assert backoff_delay(2, 0.5, 30.0, rng) == 2.0
    assert backoff_delay(6, 0.5, 30.0, rng) == 30.0
    assert backoff_delay(10_000, 0.5, 30.0, rng) == 30.0


def test_backoff_is_jittered_within_bounds() -> None:
    """Full jitter draws every delay from [0, ceiling] and spreads them out."""
    rng = random.Random(7)
    delays = [backoff_delay(3, 0.5, 30.0, rng) for _ in range(500)]
    # ceiling for attempt 3: 0.5 * 2**3 = 4.0
    assert all(0.0 <= delay <= 4.0 for delay in delays)
    assert min(delays) < 1.0
    assert max(delays) > 3.0


def test_truncate_raw_keeps_the_first_four_kibibytes() -> None:
    """Dead letters carry at most 4096 bytes of the frame."""
    assert truncate_raw("x" * 10_000) == b"x" * 4096
    assert truncate_raw(b"short") == b"short"


def test_redact_url_drops_path_and_query() -> None:
    """Status details never include a listenKey in the path or query."""
    url = "wss://fstream.binance.com/private/ws?listenKey=SECRETKEY&events=A"
    assert redact_url(url) == "wss://fstream.binance.com"


def test_settings_reject_a_base_above_the_cap() -> None:
    """Backoff settings are validated."""
    with pytest.raises(ValueError, match="backoff"):
        SupervisorSettings(backoff_base_s=5.0, backoff_cap_s=1.0)


async def test_sends_on_open_and_replies_and_publishes_events() -> None:
    """on_open frames and parse replies reach the server; parsed events reach the sink."""
    sink = CollectingSink()
    async with scripted_server() as server:
        venue = FakeVenue(server.url)
        supervisor = ConnectionSupervisor(venue, "market", sink, _ok_transport(), FAST)
        async with running(supervisor):
            await server.wait_for(lambda: "subscribe" in server.received)
            await server.push('{"reply": "pong-from-client"}')
            await server.push('{"price": "61000.5"}')
            await server.wait_for(lambda: "pong-from-client" in server.received)
            await sink.wait_for(lambda: len(sink.events) == 1, 5.0)
    event = sink.events[0]
    assert isinstance(event, PriceEvent)
    assert event.mark == 61000.5
    assert supervisor.frames == 2
    assert supervisor.events == 1
    assert sink.statuses_of("fake", "market")[0] == "connected"
    assert sink.statuses_of("fake", "market")[-1] == "disconnected"


async def test_frame_errors_and_venue_bugs_are_dead_lettered_and_reading_continues() -> None:
    """A FrameError and any other parse exception go to dead_letter; later frames still parse."""
    sink = CollectingSink()
    async with scripted_server() as server:
        supervisor = ConnectionSupervisor(FakeVenue(server.url), "market", sink, _ok_transport(), FAST)
        async with running(supervisor):
            await server.wait_for(lambda: server.accepted == 1)
            await server.push("{not json")
            await server.push("boom")
            await server.push('{"price": "1"}')
            await sink.wait_for(lambda: len(sink.events) == 1, 5.0)
    assert [(d.source, d.reason, d.raw) for d in sink.dead_letters] == [
        ("fake", "not JSON", b"{not json"),
        ("fake", "internal: RuntimeError", b"boom"),
    ]
    assert supervisor.dead_letters == 2
    assert supervisor.connects == 1
    assert supervisor.reconnects == 0


def test_read_frame_returns_the_parse_or_the_dead_letter_without_io() -> None:
    """read_frame (the read loop's parse) gives the venue's Parsed, or the DeadLetter it would send."""
    sink = CollectingSink()
    supervisor = ConnectionSupervisor(FakeVenue("ws://unused.invalid"), "market", sink, _ok_transport(), FAST)
    parsed = supervisor.read_frame('{"price": "61000.5"}', 1_700_000_000_000)
    assert isinstance(parsed, Parsed)
    assert [(event.instrument, event.mark, event.ts_receive_ms) for event in parsed.events
            if isinstance(event, PriceEvent)] == [("fake:BTC", 61000.5, 1_700_000_000_000)]
    assert supervisor.read_frame("{not json", 1) == DeadLetter("fake", "not JSON", b"{not json")
    assert supervisor.read_frame("boom", 1) == DeadLetter(
        "fake", "internal: RuntimeError", b"boom", internal=True)
    # 5000 bytes that are not JSON: the dead letter keeps the first 4096 (DEAD_LETTER_MAX_BYTES)
    assert supervisor.read_frame("x" * 5000, 1) == DeadLetter("fake", "not JSON", b"x" * 4096)
    assert (sink.events, sink.dead_letters, supervisor.dead_letters, supervisor.events) == ([], [], 0, 0)


def test_read_response_returns_the_events_or_the_dead_letter_without_io() -> None:
    """read_response (resync and keepalive bodies) gives parse_resync's events, or the DeadLetter."""
    sink = CollectingSink()
    supervisor = ConnectionSupervisor(FakeVenue("ws://unused.invalid"), "market", sink, _ok_transport(), FAST)
    positions = HttpRequest("GET", "http://fake.invalid", "/positions", "positions")
    other = HttpRequest("GET", "http://fake.invalid", "/other", "other")
    events = supervisor.read_response(positions, b'{"quantity": -1.5}', 7)
    assert isinstance(events, tuple)
    assert [(event.quantity, event.ts_receive_ms) for event in events
            if isinstance(event, PositionEvent)] == [(-1.5, 7)]
    assert supervisor.read_response(other, b"{}", 7) == DeadLetter(
        "fake", "other: unexpected purpose other", b"{}")
    assert supervisor.read_response(positions, b"{oops", 7) == DeadLetter(
        "fake", "internal: JSONDecodeError", b"{oops", internal=True)
    assert (sink.events, sink.dead_letters, supervisor.dead_letters) == ([], [], 0)


async def test_ping_frame_is_sent_every_interval() -> None:
    """The application-level ping frame is sent repeatedly at ping_interval_s."""
    sink = CollectingSink()
    async with scripted_server() as server:
        venue = FakeVenue(server.url, ping_frame="ping", ping_interval_s=0.05)
        supervisor = ConnectionSupervisor(venue, "market", sink, _ok_transport(), FAST)
        async with running(supervisor):
            await server.wait_for(lambda: server.received.count("ping") >= 3)
    assert supervisor.connects == 1


async def test_silent_feed_is_marked_stale_and_reconnected() -> None:
    """No frame for stale_after_s -> status stale, the socket is closed and reopened."""
    sink = CollectingSink()
    async with scripted_server() as server:
        venue = FakeVenue(server.url, stale_after_s=0.2)
        supervisor = ConnectionSupervisor(venue, "market", sink, _ok_transport(), FAST)
        async with running(supervisor):
            await server.wait_for(lambda: server.accepted >= 2)
            await eventually(lambda: supervisor.connects >= 2, 5.0)
    assert supervisor.stale_count >= 1
    statuses = sink.statuses_of("fake", "market")
    assert statuses[:4] == ["connected", "stale", "reconnecting", "connected"]
    assert venue.resets >= 2


async def test_frames_keep_a_feed_from_going_stale() -> None:
    """Frames arriving faster than stale_after_s keep the connection open."""
    sink = CollectingSink()
    async with scripted_server() as server:
        supervisor = ConnectionSupervisor(
            FakeVenue(server.url, stale_after_s=0.5), "market", sink, _ok_transport(), FAST
        )
        async with running(supervisor):
            await server.wait_for(lambda: server.accepted == 1)
            for price in range(1, 11):
                await server.push(json.dumps({"price": price}))
                await sink.wait_for(partial(_has_events, sink, price), 5.0)
                await asyncio.sleep(0.1)  # pacing the feed, not waiting for a result
    # 10 frames spaced 0.1 s apart span ~1 s, twice the 0.5 s stale limit
    assert supervisor.stale_count == 0
    assert supervisor.connects == 1


async def test_reconnect_reason_reconnects_at_once_and_redoes_setup() -> None:
    """reconnect_reason closes the socket, redoes stream_setup and reconnects without delay."""
    sink = CollectingSink()
    transport = _ok_transport()
    async with scripted_server() as server:
        venue = FakeVenue(server.url, setup=True)
        supervisor = ConnectionSupervisor(venue, "market", sink, transport, FAST)
        async with running(supervisor):
            await server.wait_for(lambda: server.accepted == 1)
            await server.push('{"reconnect": "listenKey expired"}')
            await server.wait_for(lambda: server.accepted == 2)
            await eventually(lambda: supervisor.connects == 2, 5.0)
    assert supervisor.reconnects == 1
    assert supervisor.last_backoff_s == 0.0
    assert supervisor.last_outcome is not None
    assert supervisor.last_outcome.reason == "listenKey expired"
    assert transport.count("listen_key") == 2
    assert venue.setup_bodies == [b'{"listenKey":"key-1"}'] * 2


async def test_dropped_connection_is_reconnected_with_backoff() -> None:
    """An abrupt drop (no close frame) is reconnected after a jittered delay within bounds."""
    sink = CollectingSink()
    async with scripted_server() as server:
        supervisor = ConnectionSupervisor(FakeVenue(server.url), "market", sink, _ok_transport(), FAST)
        async with running(supervisor):
            await server.wait_for(lambda: server.accepted == 1)
            server.drop()
            await server.wait_for(lambda: server.accepted == 2)
            await eventually(lambda: supervisor.connects == 2, 5.0)
    assert supervisor.last_outcome is not None
    assert supervisor.last_outcome.reason == "connection lost (no close frame)"
    assert supervisor.last_outcome.planned is False
    # attempt 0: delay in [0, min(0.05, 0.01 * 2**0)] = [0, 0.01]
    assert 0.0 <= supervisor.last_backoff_s <= 0.01


async def test_refused_connections_back_off_exponentially() -> None:
    """Consecutive failures raise the backoff ceiling attempt by attempt."""
    sink = CollectingSink()
    delays: list[float] = []

    async def record(delay: float) -> None:
        delays.append(delay)
        await asyncio.sleep(0)

    settings = SupervisorSettings(backoff_base_s=0.01, backoff_cap_s=0.04, connect_timeout_s=1.0)
    venue = FakeVenue("ws://127.0.0.1:9/closed")  # port 9 (discard) refuses on loopback
    supervisor = ConnectionSupervisor(
        venue, "market", sink, _ok_transport(), settings, rng=_UpperBound(), sleep=record
    )
    async with running(supervisor):
        await eventually(lambda: len(delays) >= 5, 5.0)
    # ceilings: 0.01, 0.02, 0.04, then capped at 0.04
    assert delays[:5] == [0.01, 0.02, 0.04, 0.04, 0.04]
    assert supervisor.connects == 0
    assert sink.statuses[0].detail.startswith("connect failed")


async def test_resync_runs_after_every_connect_and_on_request() -> None:
    """REST resync publishes full state after each connect and when a frame asks for it."""
    sink = CollectingSink()
    transport = _ok_transport(quantity=-150.0)
    async with scripted_server() as server:
        venue = FakeVenue(server.url, resync=True)
        supervisor = ConnectionSupervisor(venue, "market", sink, transport, FAST)
        async with running(supervisor):
            await eventually(lambda: supervisor.resyncs == 1, 5.0)
            await server.push('{"resync": true}')
            await eventually(lambda: supervisor.resyncs == 2, 5.0)
            server.drop()
            await eventually(lambda: supervisor.resyncs == 3, 5.0)
    positions = [e for e in sink.events if isinstance(e, PositionEvent)]
    assert [p.quantity for p in positions] == [-150.0, -150.0, -150.0]
    assert "resynced" in sink.statuses_of("fake", "market")
    assert transport.count("positions") == 3
    # a connect's resync checks the stream; the one the frame asked for is the stream's own report
    assert sink.compared == [True, False, True]


async def test_failed_resync_is_retried_and_dead_lettered() -> None:
    """A non-2xx resync response is dead-lettered and retried up to resync_attempts."""
    sink = CollectingSink()
    transport = MemoryTransport(lambda _: HttpResponse(500, b'{"code":-1000}'))
    async with scripted_server() as server:
        venue = FakeVenue(server.url, resync=True)
        supervisor = ConnectionSupervisor(venue, "market", sink, transport, FAST)
        async with running(supervisor):
            await eventually(lambda: supervisor.resync_failures == 3, 5.0)
    assert transport.count("positions") == 3
    assert sink.dead_letters[0].reason == "resync positions: HTTP 500"
    assert supervisor.resyncs == 0
    assert supervisor.connects == 1


async def test_failed_keepalive_reconnects() -> None:
    """A keepalive answered with an error status ends the connection and reconnects."""
    sink = CollectingSink()

    def answer(request: HttpRequest) -> HttpResponse:
        if request.purpose == "keepalive":
            return HttpResponse(400, b'{"code":-1125,"msg":"This listenKey does not exist."}')
        return HttpResponse(200, b'{"listenKey":"key-1"}')

    transport = MemoryTransport(answer)
    async with scripted_server() as server:
        venue = FakeVenue(server.url, setup=True, keepalive_interval_s=0.05)
        supervisor = ConnectionSupervisor(venue, "market", sink, transport, FAST)
        async with running(supervisor):
            await eventually(lambda: supervisor.connects >= 2, 5.0)
    assert transport.count("keepalive") >= 1
    reasons = [s.detail for s in sink.statuses if s.status == "reconnecting"]
    assert reasons[0] == "keepalive failed: PUT fake.invalid/listenKey HTTP 400"


async def test_successful_keepalives_keep_the_connection() -> None:
    """2xx keepalives are counted and do not disturb the connection."""
    sink = CollectingSink()
    transport = _ok_transport()
    async with scripted_server() as server:
        venue = FakeVenue(server.url, setup=True, keepalive_interval_s=0.02)
        supervisor = ConnectionSupervisor(venue, "market", sink, transport, FAST)
        async with running(supervisor):
            await eventually(lambda: supervisor.keepalives >= 3, 5.0)
    assert supervisor.connects == 1


async def test_connection_is_renewed_before_its_maximum_age() -> None:
    """A connection is closed and reopened, as planned, before max_connection_age_s."""
    sink = CollectingSink()
    async with scripted_server() as server:
        venue = FakeVenue(server.url, max_connection_age_s=0.2)
        supervisor = ConnectionSupervisor(venue, "market", sink, _ok_transport(), FAST)
        async with running(supervisor):
            await eventually(lambda: supervisor.connects >= 2, 5.0)
    assert supervisor.last_outcome is not None
    assert supervisor.last_outcome.reason == "maximum connection age"
    assert supervisor.last_outcome.planned is True
    assert supervisor.stale_count == 0


async def test_time_scale_shrinks_the_plan_intervals() -> None:
    """time_scale multiplies the venue's stale limit (30 s * 0.01 = 0.3 s)."""
    sink = CollectingSink()
    settings = SupervisorSettings(backoff_base_s=0.01, backoff_cap_s=0.05, time_scale=0.01)
    async with scripted_server() as server:
        venue = FakeVenue(server.url, stale_after_s=30.0)
        supervisor = ConnectionSupervisor(venue, "market", sink, _ok_transport(), settings)
        async with running(supervisor):
            await eventually(lambda: supervisor.stale_count >= 1, 5.0)
    assert sink.statuses_of("fake", "market")[1] == "stale"


async def test_keepalive_responses_are_parsed_and_published() -> None:
    """A 2xx keepalive body goes through parse_resync and its events are published."""
    sink = CollectingSink()

    def answer(request: HttpRequest) -> HttpResponse:
        if request.purpose == "keepalive":
            return HttpResponse(200, b'{"price": "60500"}')
        return HttpResponse(200, b'{"listenKey":"key-1"}')

    async with scripted_server() as server:
        venue = FakeVenue(server.url, setup=True, keepalive_interval_s=0.02)
        supervisor = ConnectionSupervisor(venue, "market", sink, MemoryTransport(answer), FAST)
        async with running(supervisor):
            await sink.wait_for(lambda: len(sink.events) >= 2, 5.0)
    marks = {event.mark for event in sink.events if isinstance(event, PriceEvent)}
    assert marks == {60500.0}
    assert sink.dead_letters == []


async def test_unreadable_setup_response_is_dead_lettered_and_retried() -> None:
    """A setup body connect_plan rejects with FrameError is dead-lettered; the stream retries."""
    sink = CollectingSink()
    transport = MemoryTransport(lambda _: HttpResponse(200, b'{"code":-1}'))
    async with scripted_server() as server:
        venue = FakeVenue(server.url, setup=True, reject_setup=True)
        supervisor = ConnectionSupervisor(venue, "market", sink, transport, FAST)
        async with running(supervisor):
            await sink.wait_for(lambda: len(sink.dead_letters) >= 2, 5.0)
    assert sink.dead_letters[0].reason == "setup response: no listenKey"
    assert sink.dead_letters[0].raw == b'{"code":-1}'
    assert supervisor.connects == 0
    assert server.accepted == 0


async def test_unreadable_keepalive_bodies_are_counted_not_dead_lettered() -> None:
    """A keepalive body the venue does not read (FrameError) is counted, not a dead letter."""
    sink = CollectingSink()
    transport = MemoryTransport(lambda _: HttpResponse(200, b'{"listenKey":"key-1"}'))
    async with scripted_server() as server:
        venue = FakeVenue(server.url, setup=True, keepalive_interval_s=0.02, keepalive_purpose="listenKey")
        supervisor = ConnectionSupervisor(venue, "market", sink, transport, FAST)
        async with running(supervisor):
            await eventually(lambda: supervisor.keepalive_unread >= 2, 5.0)
    assert sink.dead_letters == []
    assert supervisor.connects == 1
