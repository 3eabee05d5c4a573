"""Simulated WEEX V3 futures: its wire output read by the real WEEX venue module, and its auth checks."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
import websockets
from websockets.asyncio.client import ClientConnection, connect

from monitor.domain.events import BalanceEvent, Event, PositionEvent, PriceEvent
from monitor.ingest.http import UrllibTransport
from monitor.secrets import Secret
from monitor.sim.server import SimulatorServer
from monitor.sim.venues.weex import WeexSim
from monitor.venues.base import AccountContext, Credentials, FrameError, FrameKind, HttpRequest, StreamPlan
from monitor.venues.weex import WeexFutures, parse_exchange_info
from tests.support import eventually

TIMEOUT_S = 5.0
ACCOUNT = "weex-main"
SYMBOL = "BTCUSDT"


def _writer(sim: SimulatorServer) -> WeexSim:
    writer = sim.venues["weex"]
    assert isinstance(writer, WeexSim)
    return writer


def _venue(sim: SimulatorServer, credentials: Credentials | None = None) -> WeexFutures:
    urls = sim.urls("weex")
    return WeexFutures(
        symbols=[SYMBOL],
        account=AccountContext(ACCOUNT, "main", credentials or sim.credentials("weex", ACCOUNT)),
        ws_base_url=urls.ws_base_url,
        rest_base_url=urls.rest_base_url,
    )


def _wrong_secret(sim: SimulatorServer) -> Credentials:
    good = sim.credentials("weex", ACCOUNT)
    return Credentials(good.api_key, Secret("wrong"), good.passphrase)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


async def _recv(websocket: ClientConnection) -> str | bytes:
    return await asyncio.wait_for(websocket.recv(), TIMEOUT_S)


async def _http(request: HttpRequest) -> bytes:
    response = await UrllibTransport().send(request, TIMEOUT_S)
    assert response.status == 200, response.body
    return response.body


async def _resync(venue: WeexFutures) -> list[Event]:
    events: list[Event] = []
    for request in venue.resync_requests(_now_ms()):
        events.extend(venue.parse_resync(request, await _http(request), _now_ms()))
    return events


def _open(plan: StreamPlan) -> connect:
    return connect(plan.url, additional_headers=dict(plan.additional_headers) or None)


async def test_ticker_carries_mark_and_index(sim: SimulatorServer) -> None:
    """SUBSCRIBE is acked; tickers (m mark, i index) and premiumIndex funding make full prices."""
    await sim.set_price("weex", SYMBOL, 60000.0, index=59990.0, funding_rate=0.0001)
    venue = _venue(sim)
    keepalive = venue.keepalive_request("market", _now_ms())
    assert keepalive is not None
    (polled,) = venue.parse_resync(keepalive, await _http(keepalive), _now_ms())
    plan = venue.connect_plan("market", _now_ms(), None)
    async with _open(plan) as websocket:
        for frame in plan.on_open:
            await websocket.send(frame)
        ack, first = await _recv(websocket), await _recv(websocket)
        await sim.set_price("weex", SYMBOL, 60100.5, index=60090.25)
        second = await _recv(websocket)
    quote = sim.quote("weex", SYMBOL)
    assert quote is not None
    assert isinstance(polled, PriceEvent)
    assert (polled.mark, polled.index, polled.funding_rate, polled.next_funding_ms) == (
        60000.0,
        59990.0,
        0.0001,
        quote.next_funding_ms,
    )
    assert venue.parse("market", ack, 1).kind is FrameKind.ACK
    prices = [venue.parse("market", frame, _now_ms()).events[0] for frame in (first, second)]
    assert [(p.mark, p.index, p.funding_rate) for p in prices if isinstance(p, PriceEvent)] == [
        (60000.0, 59990.0, 0.0001),
        (60100.5, 60090.25, 0.0001),
    ]


async def test_unknown_symbol_is_refused(sim: SimulatorServer) -> None:
    """SUBSCRIBE to an unknown symbol gets result false (a FrameError naming the symbol)."""
    async with connect(f"{sim.ws_url('weex')}/v3/ws/public") as websocket:
        await websocket.send(json.dumps({"method": "SUBSCRIBE", "params": ["NOPEUSDT@ticker"], "id": 1}))
        refused = await _recv(websocket)
    with pytest.raises(FrameError, match="NOPEUSDT"):
        _venue(sim).parse("market", refused, 1)


async def test_server_ping_is_answered_and_unanswered_pings_disconnect(sim: SimulatorServer) -> None:
    """The module's PONG resets the count (public acks it); five unanswered pings close the socket."""
    venue = _venue(sim)
    async with connect(f"{sim.ws_url('weex')}/v3/ws/public") as websocket:
        await eventually(lambda: sim.connection_count("weex") == 1, TIMEOUT_S)
        (connection,) = _writer(sim).connections
        await _writer(sim).heartbeat()
        ping = await _recv(websocket)
        parsed = venue.parse("market", ping, 1)
        assert parsed.kind is FrameKind.PING
        for reply in parsed.replies:
            await websocket.send(reply)
        pong_ack = await _recv(websocket)
        assert connection.state["unanswered"] == 0
        assert venue.parse("market", pong_ack, 1).kind is FrameKind.ACK
        for _ in range(5):
            await _writer(sim).heartbeat()
            await _recv(websocket)  # pings left unanswered
        await _writer(sim).heartbeat()
        with pytest.raises(websockets.ConnectionClosed):
            await _recv(websocket)
    assert json.loads(ping)["event"] == "ping"
    assert connection.state["pongs"] == 1


async def test_private_handshake_is_verified(sim: SimulatorServer) -> None:
    """Signed headers open /v3/ws/private; a wrong secret or an old timestamp gets HTTP 401."""
    good = _venue(sim).connect_plan("private", _now_ms(), None)
    async with _open(good):
        await eventually(lambda: sim.connection_count("weex", "private") == 1, TIMEOUT_S)
    refusals = [
        _venue(sim, _wrong_secret(sim)).connect_plan("private", _now_ms(), None),
        _venue(sim).connect_plan("private", _now_ms() - 31_000, None),
    ]
    for plan in refusals:
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with _open(plan):
                pass
        assert refused.value.response.status_code == 401
    bare = StreamPlan(url=good.url)
    with pytest.raises(websockets.InvalidStatus):
        async with _open(bare):
            pass


async def test_private_pushes_parse(sim: SimulatorServer) -> None:
    """positions pushes (coin size, entry = openValue / size) and account pushes asking a resync."""
    await sim.set_price("weex", SYMBOL, 60000.0, funding_rate=0.0001)
    await sim.set_position("weex", ACCOUNT, SYMBOL, -1.0, 60000.0)
    await sim.set_balance("weex", ACCOUNT, "USDT", 15000.0)
    venue = _venue(sim)
    await _resync(venue)
    plan = venue.connect_plan("private", _now_ms(), None)
    async with _open(plan) as websocket:
        for frame in plan.on_open:
            await websocket.send(frame)
        acks = [await _recv(websocket), await _recv(websocket)]
        await sim.fill("weex", ACCOUNT, SYMBOL, -0.5, 59000.0, fee=2.0)
        positions, account = await _recv(websocket), await _recv(websocket)
        await sim.set_position("weex", ACCOUNT, SYMBOL, 0.25, 58000.0)
        flip = await _recv(websocket)
    assert [venue.parse("private", ack, 1).kind for ack in acks] == [FrameKind.ACK, FrameKind.ACK]
    (position,) = venue.parse("private", positions, 1).events
    assert isinstance(position, PositionEvent)
    # (1 * 60000 + 0.5 * 59000) / 1.5 = 59666.67 (openValue 89500 / size 1.5)
    assert position.quantity == -1.5
    assert position.entry_price == pytest.approx(59666.67, abs=0.01)
    assert venue.parse("private", account, 1).resync is True
    legs = [(item["side"], item["size"]) for item in json.loads(flip)["d"]]
    assert legs == [("SHORT", "0"), ("LONG", "0.25")]
    # the two hedge legs stay apart: the short leg closes, the long leg opens
    closed, flipped = venue.parse("private", flip, 1).events
    assert isinstance(closed, PositionEvent)
    assert (closed.position_side, closed.quantity) == ("short", 0.0)
    assert isinstance(flipped, PositionEvent)
    assert (flipped.position_side, flipped.quantity, flipped.entry_price) == ("long", 0.25, 58000.0)


async def test_rest_resync_and_signature_check(sim: SimulatorServer) -> None:
    """allPosition and balance parse into the state; a wrong secret gets HTTP 401."""
    await sim.set_price("weex", SYMBOL, 61000.0, funding_rate=0.0001)
    await sim.set_position("weex", ACCOUNT, SYMBOL, -1.0, 60000.0, leverage=5)
    await sim.set_balance("weex", ACCOUNT, "USDT", 15000.0)
    events = await _resync(_venue(sim))
    positions = [(e.quantity, e.entry_price, e.leverage) for e in events if isinstance(e, PositionEvent)]
    assert positions == [(-1.0, 60000.0, 5.0)]
    assert [(e.asset, e.quantity) for e in events if isinstance(e, BalanceEvent)] == [("USDT", 15000.0)]
    assert [e.mark for e in events if isinstance(e, PriceEvent)] == [61000.0]
    request = _venue(sim, _wrong_secret(sim)).resync_requests(_now_ms())[0]
    response = await UrllibTransport().send(request, TIMEOUT_S)
    assert (response.status, json.loads(response.body)["code"]) == (401, "40009")


async def test_exchange_info_gives_the_catalog_terms(sim: SimulatorServer) -> None:
    """exchangeInfo parses into size 1 with contractVal 0.0001 as the lot step."""
    request = HttpRequest("GET", sim.rest_url("weex"), "/capi/v3/market/exchangeInfo", "info")
    btc = parse_exchange_info(await _http(request))["weex:BTCUSDT"]
    assert (btc["contract_size"], btc["lot_step"], btc["min_quantity"]) == (1.0, 0.0001, 0.0001)


async def test_malformed_frame_is_a_frame_error(sim: SimulatorServer) -> None:
    """send_malformed sends truncated JSON; the module raises FrameError."""
    async with connect(f"{sim.ws_url('weex')}/v3/ws/public") as websocket:
        await eventually(lambda: sim.connection_count("weex") == 1, TIMEOUT_S)
        assert await sim.send_malformed("weex", "market") == 1
        frame = await _recv(websocket)
    with pytest.raises(FrameError):
        _venue(sim).parse("market", frame, 1)
