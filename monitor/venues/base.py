"""The small seam between one exchange venue and the generic connection supervisor.

A venue module turns the exchange's wire format into canonical events and knows the exchange's
URLs, subscription, login and REST messages. It does no I/O: the supervisor
(``monitor.ingest.supervisor``) owns sockets, HTTP, timers, reconnect, backoff and watchdogs, and
asks the venue what to send and how to read what arrives. A venue object may keep per-connection
parsing state (e.g. Bybit's ticker snapshot that deltas are merged into); ``reset(stream)`` clears
it on every (re)connect.

Flow per stream, as the supervisor runs it::

    setup = venue.stream_setup(stream, now_ms)           # e.g. POST /fapi/v1/listenKey, or None
    body = await http(setup) if setup else None
    plan = venue.connect_plan(stream, now_ms, body)       # URL, frames to send on open, heartbeat
    connect(plan.url); send(*plan.on_open)
    loop: parsed = venue.parse(stream, frame, receive_ms) # events + replies + reconnect request
    every plan.keepalive_interval_s: http(venue.keepalive_request(stream, now_ms))
    after every (re)connect: for r in venue.resync_requests(now_ms): venue.parse_resync(r, body, ms)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol, runtime_checkable

from monitor.domain.events import Event
from monitor.errors import HedgeMonitorError
from monitor.secrets import Secret

# Input limits: a frame larger than this, or a list longer than this inside a frame, is rejected.
MAX_FRAME_BYTES = 1 << 20
MAX_LIST_ITEMS = 10_000


class FrameError(HedgeMonitorError, ValueError):
    """A frame could not be understood; ``reason`` says why (it goes to the dead-letter topic)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class FrameKind(Enum):
    """What a frame was, beyond the events it carried."""

    DATA = "data"
    ACK = "ack"
    PONG = "pong"
    PING = "ping"
    IGNORED = "ignored"


@dataclass(frozen=True, slots=True)
class Parsed:
    """The result of reading one frame."""

    events: tuple[Event, ...] = ()
    kind: FrameKind = FrameKind.DATA
    replies: tuple[str | bytes, ...] = ()
    reconnect_reason: str | None = None
    resync: bool = False


@dataclass(frozen=True, slots=True)
class Credentials:
    """API credentials of one account; the values never print (see ``monitor.secrets.Secret``)."""

    api_key: Secret
    api_secret: Secret
    passphrase: Secret | None = None


@dataclass(frozen=True, slots=True)
class AccountContext:
    """Which account and portfolio the private streams of a venue belong to."""

    account: str
    portfolio: str
    credentials: Credentials | None = None
    address: str | None = field(default=None, repr=False)
    """The on-chain wallet address a read-only venue watches (Hyperliquid); kept out of reprs."""


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """One REST call, fully built and signed by the venue; ``purpose`` names it for parse_resync."""

    method: str
    base_url: str
    path: str
    purpose: str
    query: tuple[tuple[str, str], ...] = ()
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = None


@dataclass(frozen=True, slots=True)
class StreamPlan:
    """How to open one websocket and keep it alive."""

    url: str
    on_open: tuple[str | bytes, ...] = ()
    ping_frame: str | bytes | None = None
    ping_interval_s: float = 20.0
    stale_after_s: float = 30.0
    keepalive_interval_s: float | None = None
    max_connection_age_s: float | None = None
    additional_headers: Mapping[str, str] = field(default_factory=dict)


@runtime_checkable
class Venue(Protocol):
    """What the generic supervisor needs of one venue (one exchange, one account or none)."""

    name: str

    def stream_names(self) -> tuple[str, ...]:
        """The websocket connections this venue needs, e.g. ("market", "private")."""
        ...

    def stream_setup(self, stream: str, now_ms: int) -> HttpRequest | None:
        """A REST call to make before connecting (e.g. create a listenKey), or None."""
        ...

    def connect_plan(self, stream: str, now_ms: int, setup_response: bytes | None) -> StreamPlan:
        """URL, frames to send on open (login, subscribe) and heartbeat rules for one stream."""
        ...

    def reset(self, stream: str) -> None:
        """Forget per-connection parsing state; called before every (re)connect."""
        ...

    def parse(self, stream: str, frame: str | bytes, receive_ms: int) -> Parsed:
        """Read one frame; raise FrameError with a reason when it cannot be understood."""
        ...

    def keepalive_request(self, stream: str, now_ms: int) -> HttpRequest | None:
        """A periodic REST keepalive (e.g. PUT listenKey), or None."""
        ...

    def resync_requests(self, now_ms: int) -> tuple[HttpRequest, ...]:
        """Signed REST calls that fetch the full positions and balances after a (re)connect."""
        ...

    def parse_resync(self, request: HttpRequest, body: bytes, receive_ms: int) -> tuple[Event, ...]:
        """Turn one resync response into full-state position and balance events."""
        ...
