"""What every simulated venue shares: connections, REST plumbing, faults and number formatting.

A ``SimVenue`` answers three things for the server: whether a websocket path is one of its
streams (``accept``), what to do with each frame a client sends (``on_message``) and each REST
call (``rest``), and which frames to push when the world changes (``publish_*``). Faults (silence,
gaps, stale replays) are applied here, the same way for every venue.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qsl

import websockets
from websockets.asyncio.server import ServerConnection

from monitor.sim.margin import PositionSide, SimLegFigures
from monitor.sim.world import SimFill, SimPosition, SimWorld

logger = logging.getLogger(__name__)

StreamKind = Literal["market", "private"]
RECENT_FRAMES = 8


def num(value: float, places: int = 8) -> str:
    """A decimal string as exchanges send numbers: fixed point, trailing zeros trimmed."""
    text = f"{value:.{places}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def fixed(value: float, places: int) -> str:
    """A decimal string with exactly ``places`` decimals (Binance pads, ``"6563.66500"``)."""
    text = f"{value:.{places}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def dumps(payload: Any) -> str:
    """Compact JSON as the exchanges send it."""
    return json.dumps(payload, separators=(",", ":"))


def hmac_hex(secret: str, payload: str) -> str:
    """hex(HMAC-SHA256(secret, payload)) — Binance and Bybit signatures."""
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def hmac_base64(secret: str, payload: str) -> str:
    """base64(HMAC-SHA256(secret, payload)) — OKX signatures."""
    digest = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


@dataclass(frozen=True, slots=True)
class RestRequest:
    """One REST call as the simulator received it (``path`` is after the venue prefix)."""

    method: str
    path: str
    raw_query: str
    headers: Mapping[str, str]
    body: bytes = b""

    @property
    def params(self) -> dict[str, str]:
        """Query parameters (the last value of a repeated name wins)."""
        return dict(parse_qsl(self.raw_query, keep_blank_values=True))

    def header(self, name: str) -> str | None:
        """A header value, case-insensitively."""
        lowered = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lowered:
                return value
        return None


@dataclass(frozen=True, slots=True)
class RestResponse:
    """Status and JSON body of a REST answer."""

    status: int
    body: bytes

    @classmethod
    def json(cls, status: int, payload: Any) -> RestResponse:
        """A JSON response."""
        return cls(status, dumps(payload).encode())


@dataclass(frozen=True, slots=True)
class Route:
    """What a websocket path is: its kind and the venue's own details (route name, streams)."""

    kind: StreamKind
    name: str
    combined: bool = False
    streams: tuple[str, ...] = ()
    account: str | None = None
    listen_key: str | None = None
    options: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Rejection:
    """An HTTP answer refusing a websocket upgrade."""

    status: int
    body: Any


class SimConnection:
    """One client websocket at a simulated venue."""

    def __init__(self, venue: SimVenue, websocket: ServerConnection, route: Route) -> None:
        self.venue = venue
        self.websocket = websocket
        self.route = route
        self.kind: StreamKind = route.kind
        self.account: str | None = route.account
        self.listen_key: str | None = route.listen_key
        self.subscriptions: set[str] = set(route.streams)
        self.state: dict[str, Any] = {}
        self.recent: deque[str | bytes] = deque(maxlen=RECENT_FRAMES)
        self.connection_id = f"{venue.world.rng.getrandbits(40):010x}"

    async def send(self, frame: str | bytes, *, data: bool = True) -> None:
        """Send a frame (bytes: a binary frame) unless the venue is silenced; ``data`` frames can
        be replayed later."""
        if self.venue.silenced():
            return
        if data:
            self.recent.append(frame)
        try:
            await self.websocket.send(frame)
        except websockets.ConnectionClosed:
            return

    async def send_json(self, payload: Any, *, data: bool = True) -> None:
        """Send a JSON frame."""
        await self.send(dumps(payload), data=data)


class SimVenue(ABC):
    """One simulated exchange venue (wire format of a real one)."""

    name: str = ""

    def __init__(self, world: SimWorld, *, verify_signatures: bool = True) -> None:
        self.world = world
        self.verify_signatures = verify_signatures
        self.connections: list[SimConnection] = []
        self.silenced_until = 0.0
        self.refuse_until = 0.0
        self.skip_market_updates = 0

    # -- what each venue implements ---------------------------------------------------------

    @abstractmethod
    def accept(self, path: str, query: str) -> Route | Rejection:
        """Classify a websocket upgrade for ``path`` (after the venue prefix)."""

    def accept_request(self, path: str, query: str, headers: Mapping[str, str]) -> Route | Rejection:
        """Classify an upgrade with its HTTP headers (venues that sign the handshake override
        this; the default ignores the headers)."""
        del headers
        return self.accept(path, query)

    @abstractmethod
    async def on_open(self, connection: SimConnection) -> None:
        """Push what a fresh connection gets before the client sends anything."""

    @abstractmethod
    async def on_message(self, connection: SimConnection, message: str | bytes) -> None:
        """Answer one frame a client sent."""

    @abstractmethod
    def rest(self, request: RestRequest) -> RestResponse:
        """Answer one REST call."""

    @abstractmethod
    async def publish_quote(self, symbol: str) -> None:
        """Push a price change of ``symbol`` to subscribed market connections."""

    @abstractmethod
    async def publish_position(
        self, account: str, symbol: str, fill: SimFill | None, side: PositionSide = "one_way"
    ) -> None:
        """Push a change of one position leg (and the fill that caused it) to the account."""

    @abstractmethod
    async def publish_balances(self, account: str, assets: Sequence[str]) -> None:
        """Push balance changes of ``assets`` to the account's connections."""

    @abstractmethod
    def malformed_frame(self, kind: StreamKind) -> str | bytes:
        """A frame that looks like the venue's but cannot be parsed (truncated JSON; bytes for a
        venue that sends binary frames)."""

    async def heartbeat(self) -> None:  # noqa: B027 -- optional hook, most venues push nothing
        """Periodic pushes a real venue makes even without changes (default: none)."""

    async def publish_account_config(self, account: str) -> None:  # noqa: B027 -- optional hook
        """Push an account configuration change (asset mode); venues without such a push: none."""

    async def start_side_server(self, host: str, port: int = 0) -> None:
        """Start a listener of the venue's own on ``port`` (0: any free one): Hyperliquid's REST
        takes a JSON body, which the websockets handshake parser refuses; default: none."""
        del host, port

    async def stop_side_server(self) -> None:  # noqa: B027 -- optional hook
        """Stop what ``start_side_server`` started (default: nothing)."""

    def side_rest_url(self) -> str | None:
        """The REST base URL of the venue's own listener, or None to use the shared port."""
        return None

    async def publish_quote_for(self, venue: str, symbol: str) -> None:
        """Push a price change of an instrument of ``venue`` (this venue unless overridden)."""
        if venue == self.name:
            await self.publish_quote(symbol)

    # -- shared machinery --------------------------------------------------------------------

    async def serve(self, connection: SimConnection) -> None:
        """Run one client connection until it closes."""
        self.connections.append(connection)
        try:
            await self.on_open(connection)
            async for message in connection.websocket:
                # While silenced, requests are still taken (subscriptions recorded) but every
                # answer is swallowed by SimConnection.send.
                await self.on_message(connection, message)
        except websockets.ConnectionClosed:
            pass
        finally:
            self.connections.remove(connection)

    def silenced(self) -> bool:
        """True while a silence fault holds the venue's sockets open but quiet."""
        return asyncio.get_running_loop().time() < self.silenced_until

    def refusing(self) -> bool:
        """True while new websocket connections are refused (HTTP 503)."""
        return asyncio.get_running_loop().time() < self.refuse_until

    def market_connections(self) -> list[SimConnection]:
        """Open market-data connections."""
        return [c for c in self.connections if c.kind == "market"]

    def private_connections(self, account: str) -> list[SimConnection]:
        """Open, authenticated private connections of one account."""
        return [c for c in self.connections if c.kind == "private" and c.account == account]

    def take_gap(self) -> bool:
        """True if this market update must be swallowed (a gap fault is pending)."""
        if self.skip_market_updates > 0:
            self.skip_market_updates -= 1
            return True
        return False

    def connections_of(self, kind: StreamKind | Literal["any"]) -> list[SimConnection]:
        """Open connections of one kind, or all."""
        return [c for c in self.connections if kind in ("any", c.kind)]

    async def replay_stale(self) -> int:
        """Re-send each connection's previous data frame after its newest (out of order)."""
        sent = 0
        for connection in list(self.connections):
            if len(connection.recent) >= 2:
                stale = connection.recent[-2]
                await connection.send(stale, data=False)
                sent += 1
        return sent

    def figures(self, account: str, symbol: str, side: PositionSide) -> SimLegFigures | None:
        """The leg's margin figures by this venue's rule (``monitor.sim.margin``) at the mark."""
        return self.world.leg_figures(self.name, account, symbol, side)

    def account_legs(self, account: str) -> dict[tuple[str, PositionSide], SimPosition]:
        """The account's legs at this venue, by (symbol, side)."""
        return self.world.legs_of(self.name, account)

    def symbols_matching(self, wanted: Iterable[str]) -> list[str]:
        """Known symbols of this venue that are in ``wanted``."""
        known = set(self.world.symbols(self.name))
        return [symbol for symbol in wanted if symbol in known]
