"""The generic connection supervisor: websocket I/O, timers and recovery for one venue stream.

It knows nothing about any exchange: the venue (``monitor.venues.base.Venue``) says what to send
and how to read what arrives; the supervisor owns the socket, HTTP calls, heartbeats, the stale
watchdog, reconnects with backoff, and the REST resync. One supervisor runs one stream.

Life of one connection::

    venue.reset(stream)
    setup = venue.stream_setup(stream, now)   -> HTTP (e.g. create listenKey), body to connect_plan
    plan  = venue.connect_plan(stream, now, body)
    connect(plan.url) ; send(*plan.on_open) ; status "connected"
    concurrently, until the connection ends:
        read loop      frame -> venue.parse -> send replies, publish events, resync if asked,
                       end if parsed.reconnect_reason; no frame for stale_after_s -> "stale";
                       age >= the share of max_connection_age_s -> planned reconnect
        pinger         send plan.ping_frame every ping_interval_s (websockets pings as well)
        keepalive      HTTP venue.keepalive_request every keepalive_interval_s; non-2xx -> end;
                       a 2xx body goes to venue.parse_resync too (a venue may poll REST data
                       this way) and its events are published; a FrameError there is only
                       counted (keepalive_unread), since most venues do not read these bodies
        resync         after connect and whenever asked: venue.resync_requests -> HTTP
                       -> venue.parse_resync -> publish; status "resynced"
    status "reconnecting" ; sleep full-jitter backoff ; repeat

Reading never crashes the feed: a ``FrameError`` goes to the dead-letter sink with its reason, any
other exception from the venue with ``internal: <ExceptionType>``, and reading continues. Failures
of the sink itself propagate (the caller's TaskGroup sees them). ``read_frame`` (a stream frame)
and ``read_response`` (a REST body) are that reading without the I/O: they return the venue's
reading or the ``DeadLetter`` the supervisor sends instead, and the read loop, the resync and the
keepalive use them, so a caller such as the fuzzer (``monitor.fuzzing``) exercises the same path.

Backoff is "full jitter" (AWS Architecture Blog, "Exponential Backoff And Jitter", 2015):
``delay = uniform(0, min(cap, base * 2 ** attempt))``.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
import urllib.parse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Final

import websockets
from websockets.asyncio.client import ClientConnection, connect

from monitor.domain.events import Event
from monitor.ingest.http import HttpResponse, HttpTransport, IngestError, describe
from monitor.ingest.sink import IngestSink
from monitor.venues.base import (
    MAX_FRAME_BYTES,
    FrameError,
    HttpRequest,
    Parsed,
    StreamPlan,
    Venue,
)

logger = logging.getLogger(__name__)

DEAD_LETTER_MAX_BYTES: Final = 4096


def backoff_delay(attempt: int, base_s: float, cap_s: float, rng: random.Random) -> float:
    """Full-jitter backoff: ``uniform(0, min(cap, base * 2 ** attempt))`` (AWS, 2015)."""
    ceiling = min(cap_s, base_s * 2.0 ** min(attempt, 62))
    return rng.uniform(0.0, ceiling)


def truncate_raw(frame: str | bytes, limit: int = DEAD_LETTER_MAX_BYTES) -> bytes:
    """The first ``limit`` bytes of a frame, as bytes, for the dead-letter sink."""
    raw = frame.encode("utf-8", errors="replace") if isinstance(frame, str) else bytes(frame)
    return raw[:limit]


def redact_url(url: str) -> str:
    """``scheme://host`` of a URL: paths and queries may carry listenKeys or tokens."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


_WEBSOCKETS_LOGGER = logging.getLogger("monitor.ingest.websockets")
_WEBSOCKETS_LOGGER.setLevel(logging.INFO)


def _wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class SupervisorSettings:
    """Timing of reconnects, HTTP and websocket keepalive; the venue's plan sets the rest.

    ``time_scale`` multiplies every interval of a venue's plan (ping, stale, keepalive, maximum
    age); it is 1 in production and < 1 when the simulator runs compressed time.
    """

    backoff_base_s: float = 0.5
    backoff_cap_s: float = 30.0
    healthy_after_s: float = 30.0
    connect_timeout_s: float = 10.0
    close_timeout_s: float = 2.0
    http_timeout_s: float = 10.0
    resync_attempts: int = 3
    protocol_ping_interval_s: float | None = 20.0
    protocol_ping_timeout_s: float | None = 20.0
    connection_age_share: float = 0.95
    time_scale: float = 1.0

    def __post_init__(self) -> None:
        if not (0 < self.backoff_base_s <= self.backoff_cap_s):
            raise ValueError("backoff_base_s must be > 0 and <= backoff_cap_s")
        if not (0 < self.connection_age_share <= 1):
            raise ValueError("connection_age_share must be in (0, 1]")
        if self.time_scale <= 0 or self.resync_attempts < 1:
            raise ValueError("time_scale must be > 0 and resync_attempts >= 1")


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """What the supervisor hands the dead-letter sink instead of a frame or body it cannot read.

    ``internal`` is True when the venue raised something other than ``FrameError``: a defect of
    its parser, not of the input (the reason then reads ``internal: <ExceptionType>``).
    """

    source: str
    reason: str
    raw: bytes
    internal: bool = False


@dataclass(frozen=True, slots=True)
class ConnectionOutcome:
    """Why one connection ended."""

    reason: str
    planned: bool
    lived_s: float


class _EndConnectionError(Exception):
    """Raised inside a connection's task group to end it with a reason."""

    def __init__(self, reason: str, *, planned: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.planned = planned


def _enabled(interval_s: float | None) -> bool:
    return interval_s is not None and math.isfinite(interval_s) and interval_s > 0


class ConnectionSupervisor:
    """Keeps one stream of one venue connected and delivers what it reads to the sink.

    ``label`` names the venue in feed status and logs (the venue name unless a runner runs two
    venues of one name, e.g. two OKX accounts); dead letters always carry ``venue.name``.

    Counters (read by metrics): ``frames``, ``events``, ``dead_letters``, ``reconnects``,
    ``stale_count``, ``connects``, ``resyncs``, ``resync_failures``, ``keepalives``,
    ``keepalive_unread``; ``status``
    is the latest feed status and ``last_backoff_s`` the latest reconnect delay.
    """

    def __init__(
        self,
        venue: Venue,
        stream: str,
        sink: IngestSink,
        http: HttpTransport,
        settings: SupervisorSettings | None = None,
        *,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock_ms: Callable[[], int] = _wall_clock_ms,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        label: str | None = None,
    ) -> None:
        self.venue = venue
        self.label = label or venue.name
        self.stream = stream
        self.sink = sink
        self.http = http
        self.settings = settings or SupervisorSettings()
        self._rng = rng or random.Random()
        self._clock = clock
        self._wall_clock_ms = wall_clock_ms
        self._sleep = sleep
        self.frames = 0
        self.events = 0
        self.dead_letters = 0
        self.reconnects = 0
        self.stale_count = 0
        self.connects = 0
        self.resyncs = 0
        # the next resync checks the stream (after a connect); one a frame asked for does not
        self._resync_checks_stream = True
        self.resync_failures = 0
        self.keepalives = 0
        self.keepalive_unread = 0
        self.status = "disconnected"
        self.last_backoff_s = 0.0
        self.last_outcome: ConnectionOutcome | None = None
        self._reconnect_wanted = asyncio.Event()
        self._reconnect_reason = ""

    def request_reconnect(self, reason: str) -> None:
        """End the current connection (planned) so the next one uses the venue's new plan, e.g. a
        market stream that follows a newly held symbol; wakes a stream waiting for subscriptions."""
        self._reconnect_reason = reason
        self._reconnect_wanted.set()

    def _ready(self) -> bool:
        """Whether the venue has something to subscribe on this stream (a venue may say not yet:
        a whole-account market stream before the first position). Venues without a say are ready."""
        ready = getattr(self.venue, "stream_ready", None)
        return True if ready is None else bool(ready(self.stream))

    @property
    def name(self) -> str:
        """``venue/stream``, for logs and task names."""
        return f"{self.label}/{self.stream}"

    async def run(self) -> None:
        """Connect, read and reconnect until cancelled."""
        attempt = 0
        task = asyncio.current_task()
        try:
            while True:
                outcome = await self._connect_once()
                if task is not None and task.cancelling():
                    # A cancellation that raced with the connection's own end (a TaskGroup that
                    # raises its children's errors, a timeout firing at the same moment) can be
                    # absorbed on the way out; it must still stop the supervisor.
                    raise asyncio.CancelledError
                self.last_outcome = outcome
                if outcome.lived_s >= self.settings.healthy_after_s:
                    attempt = 0
                if outcome.planned and attempt == 0:
                    delay = 0.0
                else:
                    delay = backoff_delay(
                        attempt,
                        self.settings.backoff_base_s,
                        self.settings.backoff_cap_s,
                        self._rng,
                    )
                attempt += 1
                self.reconnects += 1
                self.last_backoff_s = delay
                logger.info("%s: reconnecting in %.2f s (%s)", self.name, delay, outcome.reason)
                self._set_status("reconnecting", outcome.reason)
                await self._sleep(delay)
        finally:
            self._set_status("disconnected", "stopped")

    # -- one connection ---------------------------------------------------------------------

    async def _connect_once(self) -> ConnectionOutcome:
        if not self._ready():
            self._set_status("disconnected", "nothing to subscribe yet")
            while not self._ready():
                self._reconnect_wanted.clear()
                await self._reconnect_wanted.wait()
        self._reconnect_wanted.clear()
        started = self._clock()

        def ended(reason: str, *, planned: bool = False) -> ConnectionOutcome:
            return ConnectionOutcome(reason, planned, self._clock() - started)

        try:
            self.venue.reset(self.stream)
            setup = self.venue.stream_setup(self.stream, self._wall_clock_ms())
        except Exception as exc:
            logger.exception("%s: stream_setup failed", self.name)
            return ended(f"internal: {type(exc).__name__} in stream_setup")
        setup_body: bytes | None = None
        if setup is not None:
            try:
                response = await self._http(setup)
            except IngestError as exc:
                return ended(f"setup failed: {exc}")
            if not response.ok:
                return ended(f"setup failed: {describe(setup)} HTTP {response.status}")
            setup_body = response.body
        try:
            plan = self._scaled(self.venue.connect_plan(self.stream, self._wall_clock_ms(), setup_body))
        except FrameError as exc:
            await self._dead_letter(f"setup response: {exc.reason}", setup_body or b"")
            return ended(f"setup response unreadable: {exc.reason}")
        except Exception as exc:
            logger.exception("%s: connect_plan failed", self.name)
            return ended(f"internal: {type(exc).__name__} in connect_plan")

        try:
            async with connect(
                plan.url,
                additional_headers=dict(plan.additional_headers) or None,
                open_timeout=self.settings.connect_timeout_s,
                close_timeout=self.settings.close_timeout_s,
                ping_interval=self.settings.protocol_ping_interval_s,
                ping_timeout=self.settings.protocol_ping_timeout_s,
                max_size=MAX_FRAME_BYTES,
                # websockets logs the start of every sent frame at DEBUG, and login frames carry
                # API keys: its own logger is pinned at INFO whatever the root level is.
                logger=_WEBSOCKETS_LOGGER,
            ) as connection:
                started = self._clock()
                for frame in plan.on_open:
                    await connection.send(frame)
                self.connects += 1
                self._set_status("connected", redact_url(plan.url))
                ending: _EndConnectionError | None = None
                try:
                    await self._cancellable_session(connection, plan, started)
                except* _EndConnectionError as group:
                    first = group.exceptions[0]
                    ending = first if isinstance(first, _EndConnectionError) else None
                if ending is not None:
                    return ended(ending.reason, planned=ending.planned)
        except websockets.InvalidStatus as exc:
            return ended(f"connect refused: HTTP {exc.response.status_code}")
        except websockets.ConnectionClosed as exc:
            return ended(_close_reason(exc))
        except (OSError, TimeoutError, websockets.InvalidHandshake, websockets.InvalidURI) as exc:
            return ended(f"connect failed: {type(exc).__name__}")
        return ended("connection ended")

    async def _cancellable_session(
        self, connection: ClientConnection, plan: StreamPlan, opened: float
    ) -> None:
        try:
            await self._session(connection, plan, opened)
        except asyncio.CancelledError:
            await connection.close()  # a normal 1000 close, not 1011 "internal error"
            raise

    async def _session(self, connection: ClientConnection, plan: StreamPlan, opened: float) -> None:
        resync_wanted = asyncio.Event()
        resync_wanted.set()
        self._resync_checks_stream = True
        async with asyncio.TaskGroup() as group:
            group.create_task(self._resync_loop(resync_wanted), name=f"{self.name}:resync")
            group.create_task(self._reconnect_watch(), name=f"{self.name}:reconnect-watch")
            if plan.ping_frame is not None and _enabled(plan.ping_interval_s):
                group.create_task(
                    self._ping_loop(connection, plan.ping_frame, plan.ping_interval_s),
                    name=f"{self.name}:ping",
                )
            if _enabled(plan.keepalive_interval_s):
                assert plan.keepalive_interval_s is not None  # noqa: S101 -- narrowed by _enabled
                group.create_task(
                    self._keepalive_loop(plan.keepalive_interval_s), name=f"{self.name}:keepalive"
                )
            await self._read_loop(connection, plan, opened, resync_wanted)

    async def _read_loop(
        self,
        connection: ClientConnection,
        plan: StreamPlan,
        opened: float,
        resync_wanted: asyncio.Event,
    ) -> None:
        stale_after = plan.stale_after_s if _enabled(plan.stale_after_s) else None
        max_age = plan.max_connection_age_s
        age_limit = (
            max_age * self.settings.connection_age_share
            if max_age is not None and _enabled(max_age)
            else None
        )
        last_frame = opened
        while True:
            now = self._clock()
            deadlines: list[float] = []
            if stale_after is not None:
                deadlines.append(last_frame + stale_after)
            if age_limit is not None:
                deadlines.append(opened + age_limit)
            timeout = max(0.0, min(deadlines) - now) if deadlines else None
            try:
                async with asyncio.timeout(timeout):
                    frame = await connection.recv()
            except TimeoutError:
                now = self._clock()
                if age_limit is not None and now - opened >= age_limit:
                    raise _EndConnectionError("maximum connection age", planned=True) from None
                self.stale_count += 1
                detail = f"no frame for {now - last_frame:.1f} s"
                self._set_status("stale", detail)
                raise _EndConnectionError(f"stale: {detail}", planned=False) from None
            except websockets.ConnectionClosed as exc:
                raise _EndConnectionError(_close_reason(exc), planned=False) from None
            receive_ms = self._wall_clock_ms()
            last_frame = self._clock()
            self.frames += 1
            parsed = self.read_frame(frame, receive_ms)
            if isinstance(parsed, DeadLetter):
                await self._send_dead_letter(parsed)
                continue
            for reply in parsed.replies:
                await _send(connection, reply)
            if parsed.events:
                await self.sink.publish(parsed.events)
                self.events += len(parsed.events)
            if parsed.resync:
                resync_wanted.set()
            if parsed.reconnect_reason is not None:
                raise _EndConnectionError(parsed.reconnect_reason, planned=True)

    def read_frame(self, frame: str | bytes, receive_ms: int) -> Parsed | DeadLetter:
        """Parse one frame of this stream as the read loop does: the venue's reading (events to
        publish, replies, resync and reconnect requests) or the dead letter sent instead; no I/O."""
        try:
            return self.venue.parse(self.stream, frame, receive_ms)
        except FrameError as exc:
            return self._letter(exc.reason, frame)
        except Exception as exc:
            logger.exception("%s: parse raised %s", self.name, type(exc).__name__)
            return self._letter(f"internal: {type(exc).__name__}", frame, internal=True)

    def read_response(
        self, request: HttpRequest, body: bytes, receive_ms: int
    ) -> tuple[Event, ...] | DeadLetter:
        """Read one 2xx REST body (resync or keepalive) as the supervisor does: the events it
        publishes (``venue.parse_resync``) or the dead letter sent instead; no I/O."""
        try:
            return self.venue.parse_resync(request, body, receive_ms)
        except FrameError as exc:
            return self._letter(f"{request.purpose}: {exc.reason}", body)
        except Exception as exc:
            logger.exception("%s: parse_resync raised %s", self.name, type(exc).__name__)
            return self._letter(f"internal: {type(exc).__name__}", body, internal=True)

    def _letter(self, reason: str, raw: str | bytes, *, internal: bool = False) -> DeadLetter:
        return DeadLetter(self.venue.name, reason, truncate_raw(raw), internal)

    async def _dead_letter(self, reason: str, raw: str | bytes) -> None:
        await self._send_dead_letter(self._letter(reason, raw))

    async def _send_dead_letter(self, letter: DeadLetter) -> None:
        self.dead_letters += 1
        await self.sink.dead_letter(letter.source, letter.reason, letter.raw)

    # -- helpers running beside the read loop -----------------------------------------------

    async def _reconnect_watch(self) -> None:
        await self._reconnect_wanted.wait()
        self._reconnect_wanted.clear()
        raise _EndConnectionError(self._reconnect_reason or "reconnect requested", planned=True)

    async def _ping_loop(self, connection: ClientConnection, frame: str | bytes, interval_s: float) -> None:
        while True:
            await asyncio.sleep(interval_s)
            await _send(connection, frame)

    async def _keepalive_loop(self, interval_s: float) -> None:
        while True:
            await asyncio.sleep(interval_s)
            try:
                request = self.venue.keepalive_request(self.stream, self._wall_clock_ms())
            except Exception as exc:
                logger.exception("%s: keepalive_request failed", self.name)
                raise _EndConnectionError(
                    f"internal: {type(exc).__name__} in keepalive_request", planned=False
                ) from None
            if request is None:
                continue
            try:
                response = await self._http(request)
            except IngestError as exc:
                raise _EndConnectionError(f"keepalive failed: {exc}", planned=False) from None
            if not response.ok:
                raise _EndConnectionError(
                    f"keepalive failed: {describe(request)} HTTP {response.status}", planned=False
                )
            self.keepalives += 1
            await self._publish_response(request, response.body, best_effort=True)

    async def _resync_loop(self, wanted: asyncio.Event) -> None:
        while True:
            await wanted.wait()
            wanted.clear()
            checks_stream, self._resync_checks_stream = self._resync_checks_stream, False
            for attempt in range(self.settings.resync_attempts):
                if await self._resync_once(checks_stream=checks_stream):
                    break
                self.resync_failures += 1
                if attempt + 1 < self.settings.resync_attempts:
                    await asyncio.sleep(
                        backoff_delay(
                            attempt,
                            self.settings.backoff_base_s,
                            self.settings.backoff_cap_s,
                            self._rng,
                        )
                    )

    async def _resync_once(self, *, checks_stream: bool) -> bool:
        """Fetch and publish the full account state; False if any call failed.

        After a connect the answer ``checks_stream``: the sink compares it with what the stream
        said and reports a mismatch. A resync a frame asked for (a push that names no figure, such
        as WEEX's collateral ledger or Binance's MARGIN_CALL) is the stream's own report of the new
        figures, newer than anything the stream said: it is published as such, not compared.
        """
        try:
            requests = self.venue.resync_requests(self._wall_clock_ms())
        except Exception:
            logger.exception("%s: resync_requests failed", self.name)
            return False
        if not requests:
            return True
        for request in requests:
            try:
                response = await self._http(request)
            except IngestError as exc:
                logger.warning("%s: resync %s failed: %s", self.name, request.purpose, exc)
                return False
            if not response.ok:
                logger.warning("%s: resync %s: HTTP %d", self.name, describe(request), response.status)
                await self._dead_letter(f"resync {request.purpose}: HTTP {response.status}", response.body)
                return False
            if not await self._publish_response(request, response.body, checks_stream=checks_stream):
                return False
        self.resyncs += 1
        self._set_status("resynced", f"{len(requests)} request(s)")
        return True

    async def _publish_response(
        self, request: HttpRequest, body: bytes, *, best_effort: bool = False,
        checks_stream: bool = False,
    ) -> bool:
        """Hand a 2xx REST body to ``venue.parse_resync`` and publish its events.

        Keepalive bodies are ``best_effort``: a venue that does not read them (FrameError, e.g.
        "unknown resync purpose") is not a dead letter; it is counted and logged at debug level.
        """
        reading = self.read_response(request, body, self._wall_clock_ms())
        if isinstance(reading, DeadLetter):
            if best_effort and not reading.internal:
                self.keepalive_unread += 1
                logger.debug("%s: keepalive body not read: %s", self.name, reading.reason)
            else:
                await self._send_dead_letter(reading)
            return False
        if reading:
            await self.sink.publish(reading, resync=checks_stream and not best_effort)
            self.events += len(reading)
        return True

    # -- small pieces ------------------------------------------------------------------------

    async def _http(self, request: HttpRequest) -> HttpResponse:
        return await self.http.send(request, self.settings.http_timeout_s)

    def _scaled(self, plan: StreamPlan) -> StreamPlan:
        scale = self.settings.time_scale
        if scale == 1.0:
            return plan

        def scaled(value: float | None) -> float | None:
            return None if value is None else value * scale

        return replace(
            plan,
            ping_interval_s=plan.ping_interval_s * scale,
            stale_after_s=plan.stale_after_s * scale,
            keepalive_interval_s=scaled(plan.keepalive_interval_s),
            max_connection_age_s=scaled(plan.max_connection_age_s),
        )

    def _set_status(self, status: str, detail: str) -> None:
        self.status = status
        self.sink.feed_status(self.label, self.stream, status, detail)


async def _send(connection: ClientConnection, frame: str | bytes) -> None:
    try:
        await connection.send(frame)
    except websockets.ConnectionClosed as exc:
        raise _EndConnectionError(_close_reason(exc), planned=False) from None


def _close_reason(exc: websockets.ConnectionClosed) -> str:
    received = exc.rcvd
    if received is None:
        return "connection lost (no close frame)"
    return f"closed by server: code {received.code}"
