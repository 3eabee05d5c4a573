"""Simulated BingX swap: its wire output read by the real BingX venue module, and its auth checks."""

from __future__ import annotations

import asyncio
import gzip
import json
import time
from typing import Any

import pytest
import websockets
from websockets.asyncio.client import ClientConnection, connect

from monitor.domain.events import BalanceEvent, PositionEvent, PriceEvent
from monitor.ingest.http import UrllibTransport
from monitor.secrets import Secret
from monitor.sim.server import SimulatorServer
from monitor.sim.venues.bingx import BingxSim, sorted_parameters
from monitor.venues.base import AccountContext, Credentials, FrameError, FrameKind, HttpRequest, Parsed
from monitor.venues.bingx import BingxSwap, parse_contracts
from tests.support import eventually

TIMEOUT_S = 5.0
ACCOUNT = "bingx-main"


def _writer(sim: SimulatorServer) -> BingxSim:
    writer = sim.venues["bingx"]
    assert isinstance(writer, BingxSim)
    return writer


def _venue(sim: SimulatorServer, credentials: Credentials | None = None) -> BingxSwap:
    urls = sim.urls("bingx")
    return BingxSwap(
        symbols=["BTC-USDT"],
        account=AccountContext(ACCOUNT, "main", credentials or sim.credentials("bingx", ACCOUNT)),
        ws_base_url=urls.ws_base_url,
        rest_base_url=urls.rest_base_url,
    )


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


async def _recv(websocket: ClientConnection) -> str | bytes:
    return await asyncio.wait_for(websocket.recv(), TIMEOUT_S)


def _decoded(frame: str | bytes) -> Any:
    """The JSON inside a gzip binary frame."""
    assert isinstance(frame, bytes)
    return json.loads(gzip.decompress(frame))


async def _http(request: HttpRequest) -> bytes:
    response = await UrllibTransport().send(request, TIMEOUT_S)
    assert response.status == 200, response.body
    return response.body


async def _resync(venue: BingxSwap) -> list[object]:
    events: list[object] = []
    for request in venue.resync_requests(_now_ms()):
        events.extend(venue.parse_resync(request, await _http(request), _now_ms()))
    return events


async def test_urls_point_at_the_production_paths(sim: SimulatorServer) -> None:
    """The websocket base URL ends in /swap-market, as wss://open-api-swap.bingx.com/swap-market."""
    urls = sim.urls("bingx")
    assert urls.ws_base_url == f"ws://127.0.0.1:{sim.port}/bingx/swap-market"
    assert urls.rest_base_url == f"http://127.0.0.1:{sim.port}/bingx"
    async with connect(sim.ws_url("bingx")):  # the bare prefix is an alias of /swap-market
        await eventually(lambda: sim.connection_count("bingx", "market") == 1, TIMEOUT_S)
    with pytest.raises(websockets.InvalidStatus):
        async with connect(f"{sim.ws_url('bingx')}/elsewhere"):
            pass


async def test_mark_prices_are_gzip_frames_the_module_reads(sim: SimulatorServer) -> None:
    """Subscribe ack, the current mark and each change arrive gzip-compressed and parse exactly."""
    await sim.set_price("bingx", "BTC-USDT", 60000.0, funding_rate=0.0001)
    venue = _venue(sim)
    plan = venue.connect_plan("market", _now_ms(), None)
    async with connect(plan.url) as websocket:
        for frame in plan.on_open:
            await websocket.send(frame)
        ack, first = await _recv(websocket), await _recv(websocket)
        await sim.set_price("bingx", "BTC-USDT", 60100.5)
        second = await _recv(websocket)
    for frame in (ack, first, second):
        assert isinstance(frame, bytes)
        assert frame.startswith(b"\x1f\x8b")
    assert venue.parse("market", ack, 1).kind is FrameKind.ACK
    marks = [venue.parse("market", frame, 1).events[0] for frame in (first, second)]
    assert all(isinstance(event, PriceEvent) for event in marks)
    assert [(e.instrument, e.mark) for e in marks if isinstance(e, PriceEvent)] == [
        ("bingx:BTC-USDT", 60000.0),
        ("bingx:BTC-USDT", 60100.5),
    ]


async def test_unknown_topic_gets_an_error_frame(sim: SimulatorServer) -> None:
    """A subscription to an unknown symbol is refused with a non-zero code (a FrameError)."""
    venue = _venue(sim)
    async with connect(sim.urls("bingx").ws_base_url) as websocket:
        await websocket.send(json.dumps({"id": "x", "reqType": "sub", "dataType": "NOPE-USDT@markPrice"}))
        error = await _recv(websocket)
    assert _decoded(error)["code"] == 100400
    with pytest.raises(FrameError, match="100400"):
        venue.parse("market", error, 1)


async def test_server_ping_is_answered_with_pong(sim: SimulatorServer) -> None:
    """The heartbeat sends a gzip ``Ping``; the module's ``Pong`` reply is counted by the server."""
    venue = _venue(sim)
    async with connect(sim.urls("bingx").ws_base_url) as websocket:
        await eventually(lambda: sim.connection_count("bingx") == 1, TIMEOUT_S)
        await _writer(sim).heartbeat()
        ping = await _recv(websocket)
        parsed = venue.parse("market", ping, 1)
        assert parsed.kind is FrameKind.PING
        for reply in parsed.replies:
            await websocket.send(reply)
        (connection,) = _writer(sim).connections
        await eventually(lambda: connection.state["pongs"] == 1, TIMEOUT_S)
    assert ping == gzip.compress(b"Ping", mtime=0)
    assert connection.state["pings"] == 1


async def test_resync_returns_positions_balances_and_premium_index(sim: SimulatorServer) -> None:
    """Signed positions and balance plus premiumIndex parse into the simulator's state."""
    await sim.set_price("bingx", "BTC-USDT", 61000.0, index=60990.0, funding_rate=0.0001)
    await sim.set_position("bingx", ACCOUNT, "BTC-USDT", -1.0, 60000.0, leverage=5)
    await sim.set_balance("bingx", ACCOUNT, "USDT", 15000.0)
    events = await _resync(_venue(sim))
    positions = [e for e in events if isinstance(e, PositionEvent)]
    balances = [e for e in events if isinstance(e, BalanceEvent)]
    prices = [e for e in events if isinstance(e, PriceEvent)]
    assert [(p.instrument, p.quantity, p.entry_price, p.leverage) for p in positions] == [
        ("bingx:BTC-USDT", -1.0, 60000.0, 5.0),
    ]
    assert [(b.asset, b.quantity) for b in balances] == [("USDT", 15000.0)]
    (price,) = prices
    quote = sim.quote("bingx", "BTC-USDT")
    assert quote is not None
    assert (price.mark, price.index, price.funding_rate, price.next_funding_ms) == (
        61000.0,
        60990.0,
        0.0001,
        quote.next_funding_ms,
    )


async def test_account_stream_pushes_fills_and_flips(sim: SimulatorServer) -> None:
    """ACCOUNT_UPDATE after a fill (coin quantity, average entry) and a flip (old side closed)."""
    await sim.set_price("bingx", "BTC-USDT", 60000.0, funding_rate=0.0001)
    await sim.set_position("bingx", ACCOUNT, "BTC-USDT", -1.0, 60000.0)
    await sim.set_balance("bingx", ACCOUNT, "USDT", 10000.0)
    venue = _venue(sim)
    await _resync(venue)
    setup = venue.stream_setup("private", _now_ms())
    assert setup is not None
    plan = venue.connect_plan("private", _now_ms(), await _http(setup))
    async with connect(plan.url) as websocket:
        await eventually(lambda: sim.connection_count("bingx", "private") == 1, TIMEOUT_S)
        await sim.fill("bingx", ACCOUNT, "BTC-USDT", -0.5, 59000.0, fee=2.0)
        fill_update, balance_update = await _recv(websocket), await _recv(websocket)
        await sim.set_position("bingx", ACCOUNT, "BTC-USDT", 0.25, 58000.0)
        flip = await _recv(websocket)
    filled = venue.parse("private", fill_update, 1).events
    position = next(e for e in filled if isinstance(e, PositionEvent))
    # (1 * 60000 + 0.5 * 59000) / 1.5 = 59666.67
    assert position.quantity == -1.5
    assert position.entry_price == pytest.approx(59666.67, abs=0.01)
    # 10000 - 2 (fee) = 9998
    assert [(e.asset, e.quantity) for e in filled if isinstance(e, BalanceEvent)] == [("USDT", 9998.0)]
    assert [
        (e.asset, e.quantity)
        for e in venue.parse("private", balance_update, 1).events
        if isinstance(e, BalanceEvent)
    ] == [("USDT", 9998.0)]
    legs = [(p["ps"], p["pa"]) for p in _decoded(flip)["a"]["P"]]
    assert legs == [("SHORT", "0.00000000"), ("LONG", "0.25000000")]
    # the two hedge legs stay apart: the short leg closes, the long leg opens
    closed, flipped = venue.parse("private", flip, 1).events
    assert isinstance(closed, PositionEvent)
    assert (closed.position_side, closed.quantity) == ("short", 0.0)
    assert isinstance(flipped, PositionEvent)
    assert (flipped.position_side, flipped.quantity, flipped.entry_price) == ("long", 0.25, 58000.0)


async def test_signed_requests_are_verified_like_bingx(sim: SimulatorServer) -> None:
    """A wrong secret gets code 100001, an unknown key 100413: both refused, the module says why."""
    good = sim.credentials("bingx", ACCOUNT)
    wrong_secret = Credentials(good.api_key, Secret("not-the-secret"))
    unknown_key = Credentials(Secret("nobody"), good.api_secret)
    for credentials, code in ((wrong_secret, 100001), (unknown_key, 100413)):
        venue = _venue(sim, credentials)
        request = venue.resync_requests(_now_ms())[0]
        body = await _http(request)
        assert json.loads(body)["code"] == code
        with pytest.raises(FrameError, match=str(code)):
            venue.parse_resync(request, body, 1)


def test_signature_check_uses_the_sorted_parameters() -> None:
    """The signed string drops ``signature`` and sorts by name: b=2&a=1 signs as a=1&b=2."""
    assert sorted_parameters("timestamp=5&recvWindow=9&signature=ff&apiKey=k") == (
        "apiKey=k&recvWindow=9&timestamp=5"
    )


async def test_stale_timestamp_is_refused(sim: SimulatorServer) -> None:
    """A request signed 31 s ago is refused with 100421 (the 30 s window)."""
    venue = _venue(sim)
    request = venue.resync_requests(_now_ms() - 31_000)[0]
    assert json.loads(await _http(request))["code"] == 100421


async def test_listen_key_expiry_is_announced_and_the_key_stops_working(sim: SimulatorServer) -> None:
    """listenKeyExpired asks for a reconnect; the old key is refused, PUT on it fails, a new one works."""
    venue = _venue(sim)
    setup = venue.stream_setup("private", _now_ms())
    assert setup is not None
    plan = venue.connect_plan("private", _now_ms(), await _http(setup))
    keepalive = venue.keepalive_request("private", _now_ms())
    assert keepalive is not None
    assert (await UrllibTransport().send(keepalive, TIMEOUT_S)).status == 200
    async with connect(plan.url) as websocket:
        await eventually(lambda: sim.connection_count("bingx", "private") == 1, TIMEOUT_S)
        assert await sim.expire_listen_key(ACCOUNT, venue="bingx") == 1
        expired = await _recv(websocket)
        await sim.set_balance("bingx", ACCOUNT, "USDT", 1.0)
        await _writer(sim).heartbeat()
        after_expiry = await _recv(websocket)
    # the balance change was not pushed on the expired key: the next frame is the heartbeat Ping
    assert after_expiry == gzip.compress(b"Ping", mtime=0)
    parsed = venue.parse("private", expired, 1)
    assert parsed == Parsed(reconnect_reason="listenKeyExpired")
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with connect(plan.url):
            pass
    assert refused.value.response.status_code == 404
    assert (await UrllibTransport().send(keepalive, TIMEOUT_S)).status == 404
    fresh = venue.connect_plan("private", _now_ms(), await _http(setup))
    assert fresh.url != plan.url
    async with connect(fresh.url):
        await eventually(lambda: sim.connection_count("bingx", "private") == 1, TIMEOUT_S)


async def test_malformed_frame_is_a_gzip_frame_error(sim: SimulatorServer) -> None:
    """send_malformed sends gzip-compressed truncated JSON; the module raises FrameError."""
    venue = _venue(sim)
    async with connect(sim.urls("bingx").ws_base_url) as websocket:
        await eventually(lambda: sim.connection_count("bingx") == 1, TIMEOUT_S)
        assert await sim.send_malformed("bingx", "market") == 1
        frame = await _recv(websocket)
    assert isinstance(frame, bytes)
    assert gzip.decompress(frame).startswith(b'{"code":0,"dataType":"BTC-USDT@markPrice"')
    with pytest.raises(FrameError):
        venue.parse("market", frame, 1)


async def test_contracts_endpoint_gives_the_catalog_terms(sim: SimulatorServer) -> None:
    """GET contracts parses into overrides equal to the catalog (size 1, lot 10^-4, min 0.0001)."""
    request = HttpRequest("GET", sim.rest_url("bingx"), "/openApi/swap/v2/quote/contracts", "contracts")
    overrides = parse_contracts(await _http(request))
    btc = overrides["bingx:BTC-USDT"]
    assert (btc["contract_size"], btc["lot_step"], btc["min_quantity"]) == (1.0, 0.0001, 0.0001)
    assert (btc["base"], btc["quote"]) == ("BTC", "USDT")


async def test_gap_and_out_of_order_faults_apply_to_gzip_frames(sim: SimulatorServer) -> None:
    """gap(1) swallows the next mark; send_out_of_order replays the previous gzip frame."""
    await sim.set_price("bingx", "BTC-USDT", 60000.0)
    async with connect(sim.urls("bingx").ws_base_url) as websocket:
        await websocket.send(json.dumps({"id": "1", "reqType": "sub", "dataType": "BTC-USDT@markPrice"}))
        await _recv(websocket)  # ack
        older = await _recv(websocket)
        await sim.gap("bingx", 1)
        await sim.set_price("bingx", "BTC-USDT", 60100.0)
        await sim.set_price("bingx", "BTC-USDT", 60200.0)
        newer = await _recv(websocket)
        assert await sim.send_out_of_order("bingx") == 1
        replayed = await _recv(websocket)
    assert _decoded(newer)["data"]["p"] == "60200"
    assert replayed == older


async def test_listen_key_not_extended_for_an_hour_expires(sim: SimulatorServer) -> None:
    """A key past its 60 minutes gets listenKeyExpired on the next heartbeat; PUT had extended it."""
    venue = _venue(sim)
    setup = venue.stream_setup("private", _now_ms())
    assert setup is not None
    plan = venue.connect_plan("private", _now_ms(), await _http(setup))
    (state,) = _writer(sim).listen_keys.values()
    state.expires_ms = _now_ms() + 60_000  # one minute left
    keepalive = venue.keepalive_request("private", _now_ms())
    assert keepalive is not None
    await _http(keepalive)
    assert state.expires_ms >= _now_ms() + 59 * 60_000  # PUT: 60 minutes from now again
    async with connect(plan.url) as websocket:
        await eventually(lambda: sim.connection_count("bingx", "private") == 1, TIMEOUT_S)
        state.expires_ms = _now_ms() - 1  # as if 60 minutes had passed without a PUT
        await _writer(sim).heartbeat()
        frames = [await _recv(websocket), await _recv(websocket)]
    parsed = [venue.parse("private", frame, 1) for frame in frames]
    assert [p.kind for p in parsed] == [FrameKind.PING, FrameKind.DATA]
    assert parsed[1].reconnect_reason == "listenKeyExpired"
    assert state.valid is False
