"""A scripted fake venue, a tiny websocket server and an in-memory HTTP transport for tests."""

# ruff: noqa: ARG002 -- fakes implement Protocol methods whose arguments they do not need

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from websockets.asyncio.server import ServerConnection, serve

from monitor.domain.events import Event, PositionEvent, PriceEvent
from monitor.ingest.http import HttpResponse
from monitor.venues.base import FrameError, FrameKind, HttpRequest, Parsed, StreamPlan


@dataclass
class FakeVenue:
    """A venue whose frames are tiny JSON commands, so tests can script every parse outcome."""

    url: str
    name: str = "fake"
    ping_frame: str | None = None
    ping_interval_s: float = 20.0
    stale_after_s: float = 30.0
    keepalive_interval_s: float | None = None
    max_connection_age_s: float | None = None
    setup: bool = False
    resync: bool = False
    reject_setup: bool = False
    keepalive_purpose: str = "keepalive"
    resets: int = 0
    setup_bodies: list[bytes | None] = field(default_factory=list)

    def stream_names(self) -> tuple[str, ...]:
        return ("market",)

    def stream_setup(self, stream: str, now_ms: int) -> HttpRequest | None:
        if not self.setup:
            return None
        return HttpRequest("POST", "http://fake.invalid", "/listenKey", "listen_key")

    def connect_plan(self, stream: str, now_ms: int, setup_response: bytes | None) -> StreamPlan:
        self.setup_bodies.append(setup_response)
        if self.reject_setup:
            raise FrameError("no listenKey")
        return StreamPlan(
            url=self.url,
            on_open=("subscribe",),
            ping_frame=self.ping_frame,
            ping_interval_s=self.ping_interval_s,
            stale_after_s=self.stale_after_s,
            keepalive_interval_s=self.keepalive_interval_s,
            max_connection_age_s=self.max_connection_age_s,
        )

    def reset(self, stream: str) -> None:
        self.resets += 1

    def parse(self, stream: str, frame: str | bytes, receive_ms: int) -> Parsed:
        if frame == "pong":
            return Parsed(kind=FrameKind.PONG)
        if frame == "boom":
            raise RuntimeError("a bug in the venue module")
        try:
            command = json.loads(frame)
        except ValueError:
            raise FrameError("not JSON") from None
        if "price" in command:
            event = PriceEvent("fake:BTC", float(command["price"]), None, None, None, 1, receive_ms)
            return Parsed(events=(event,))
        if "reply" in command:
            return Parsed(kind=FrameKind.PING, replies=(command["reply"],))
        if "reconnect" in command:
            return Parsed(kind=FrameKind.DATA, reconnect_reason=command["reconnect"])
        if "resync" in command:
            return Parsed(kind=FrameKind.DATA, resync=True)
        raise FrameError("unknown command")

    def keepalive_request(self, stream: str, now_ms: int) -> HttpRequest | None:
        return HttpRequest("PUT", "http://fake.invalid", "/listenKey", self.keepalive_purpose)

    def resync_requests(self, now_ms: int) -> tuple[HttpRequest, ...]:
        if not self.resync:
            return ()
        return (HttpRequest("GET", "http://fake.invalid", "/positions", "positions"),)

    def parse_resync(self, request: HttpRequest, body: bytes, receive_ms: int) -> tuple[Event, ...]:
        content = json.loads(body)
        if request.purpose == "keepalive":
            if "price" not in content:
                return ()
            mark = float(content["price"])
            return (PriceEvent("fake:BTC", mark, None, None, None, 1, receive_ms),)
        if request.purpose != "positions":
            raise FrameError(f"unexpected purpose {request.purpose}")
        quantity = float(content["quantity"])
        event = PositionEvent(
            "main", "acct", "fake:BTC-SWAP", quantity, 60000.0, None, "cross", None, 1, receive_ms
        )
        return (event,)


class MemoryTransport:
    """An HttpTransport answering from a function of the request; it records every request."""

    def __init__(self, answer: Callable[[HttpRequest], HttpResponse]) -> None:
        self.answer = answer
        self.requests: list[HttpRequest] = []

    async def send(self, request: HttpRequest, timeout_s: float) -> HttpResponse:
        self.requests.append(request)
        return self.answer(request)

    def count(self, purpose: str) -> int:
        return sum(1 for request in self.requests if request.purpose == purpose)


class ScriptedServer:
    """A local websocket server that records what clients send and lets tests push frames."""

    def __init__(self) -> None:
        self.received: list[str | bytes] = []
        self.connections: list[ServerConnection] = []
        self.accepted = 0
        self.port = 0
        self.changed = asyncio.Event()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/stream"

    async def handle(self, connection: ServerConnection) -> None:
        """Serve one client: record every message until it disconnects."""
        self.accepted += 1
        self.connections.append(connection)
        self.changed.set()
        try:
            async for message in connection:
                self.received.append(message)
                self.changed.set()
        finally:
            self.connections.remove(connection)
            self.changed.set()

    async def push(self, frame: str) -> None:
        """Send a frame to every connected client."""
        for connection in list(self.connections):
            await connection.send(frame)

    def drop(self) -> None:
        """Cut every connection without a close frame."""
        for connection in list(self.connections):
            connection.transport.abort()

    async def wait_for(self, condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
        async with asyncio.timeout(timeout_s):
            while not condition():
                self.changed.clear()
                await self.changed.wait()


@asynccontextmanager
async def scripted_server() -> AsyncIterator[ScriptedServer]:
    """Start a ScriptedServer on a free port of 127.0.0.1."""
    server = ScriptedServer()
    async with serve(server.handle, "127.0.0.1", 0) as running:
        server.port = running.sockets[0].getsockname()[1]
        yield server
