"""Simulated MEXC contract: its wire output read by the real MEXC venue module, and its auth checks."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
import websockets
from websockets.asyncio.client import ClientConnection, connect

from monitor.domain.events import BalanceEvent, Event, PositionEvent, PriceEvent
from monitor.ingest.http import UrllibTransport
from monitor.secrets import Secret
from monitor.sim.server import SimulatorServer
from monitor.sim.venues.mexc import MexcSim
from monitor.venues.base import AccountContext, Credentials, FrameError, FrameKind, HttpRequest
from monitor.venues.mexc import MexcContract, parse_contract_detail, risk_tiers

TIMEOUT_S = 5.0
ACCOUNT = "mexc-main"
SYMBOL = "BTC_USDT"


def _writer(sim: SimulatorServer) -> MexcSim:
    writer = sim.venues["mexc"]
    assert isinstance(writer, MexcSim)
    return writer


def _venue(sim: SimulatorServer, credentials: Credentials | None = None) -> MexcContract:
    urls = sim.urls("mexc")
    return MexcContract(
        symbols=[SYMBOL],
        account=AccountContext(ACCOUNT, "main", credentials or sim.credentials("mexc", ACCOUNT)),
        ws_base_url=urls.ws_base_url,
        rest_base_url=urls.rest_base_url,
    )


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


async def _recv(websocket: ClientConnection) -> str | bytes:
    return await asyncio.wait_for(websocket.recv(), TIMEOUT_S)


async def _http(request: HttpRequest) -> bytes:
    response = await UrllibTransport().send(request, TIMEOUT_S)
    assert response.status == 200, response.body
    return response.body


async def _resync(venue: MexcContract) -> list[Event]:
    events: list[Event] = []
    for request in venue.resync_requests(_now_ms()):
        events.extend(venue.parse_resync(request, await _http(request), _now_ms()))
    return events


async def _login(websocket: ClientConnection, venue: MexcContract) -> Any:
    (login,) = venue.connect_plan("private", _now_ms(), None).on_open
    await websocket.send(login)
    return await _recv(websocket)


async def test_urls_point_at_the_edge_endpoint(sim: SimulatorServer) -> None:
    """The websocket base URL ends in /edge, as wss://contract.mexc.com/edge."""
    assert sim.urls("mexc").ws_base_url == f"ws://127.0.0.1:{sim.port}/mexc/edge"
    async with connect(sim.ws_url("mexc")) as websocket:  # the bare prefix is an alias of /edge
        await websocket.send('{"method":"ping"}')
        assert json.loads(await _recv(websocket))["channel"] == "pong"


async def test_fair_index_and_funding_pushes_merge_into_prices(sim: SimulatorServer) -> None:
    """sub.* acks, then fair/index/funding pushes (JSON numbers) become PriceEvents with all three."""
    await sim.set_price("mexc", SYMBOL, 60000.0, index=59990.0, funding_rate=0.0001)
    venue = _venue(sim)
    for request in venue.resync_requests(_now_ms())[2:]:  # the public funding_rate call
        venue.parse_resync(request, await _http(request), _now_ms())
    plan = venue.connect_plan("market", _now_ms(), None)
    frames: list[str | bytes] = []
    async with connect(plan.url) as websocket:
        for frame in plan.on_open:
            await websocket.send(frame)
        frames.extend([await _recv(websocket) for _ in range(6)])  # 3 acks, 3 current values
        await sim.set_price("mexc", SYMBOL, 60100.5, index=60090.0, funding_rate=0.0002)
        frames.extend([await _recv(websocket) for _ in range(3)])
    parsed = [venue.parse("market", frame, 1) for frame in frames]
    assert [p.kind for p in parsed].count(FrameKind.ACK) == 3
    pushed = json.loads(frames[1])
    assert pushed["channel"] == "push.fair.price"
    assert isinstance(pushed["data"]["price"], float)
    prices = [e for p in parsed for e in p.events if isinstance(e, PriceEvent)]
    quote = sim.quote("mexc", SYMBOL)
    assert quote is not None
    last = prices[-1]
    assert (last.instrument, last.mark, last.index, last.funding_rate) == (
        "mexc:BTC_USDT",
        60100.5,
        60090.0,
        0.0002,
    )
    # nextSettleTime is not in the push: it comes from the REST funding_rate resync
    assert last.next_funding_ms == quote.next_funding_ms


async def test_ping_gets_a_pong_and_silent_clients_are_closed(sim: SimulatorServer) -> None:
    """``{"method":"ping"}`` -> pong channel; a connection past ping_timeout_s is closed."""
    venue = _venue(sim)
    plan = venue.connect_plan("market", _now_ms(), None)
    async with connect(plan.url) as websocket:
        assert plan.ping_frame is not None
        await websocket.send(plan.ping_frame)
        pong = await _recv(websocket)
        assert venue.parse("market", pong, 1).kind is FrameKind.PONG
        await _writer(sim).heartbeat()
        assert sim.connection_count("mexc") == 1  # pinged just now: within 60 s
        _writer(sim).ping_timeout_s = 0.0
        await _writer(sim).heartbeat()
        with pytest.raises(websockets.ConnectionClosed):
            await _recv(websocket)


async def test_login_is_verified_and_private_pushes_parse(sim: SimulatorServer) -> None:
    """A signed login -> rs.login; position pushes (contracts) and asset pushes parse exactly."""
    await sim.set_price("mexc", SYMBOL, 60000.0, funding_rate=0.0001)
    await sim.set_position("mexc", ACCOUNT, SYMBOL, -10000.0, 60000.0, leverage=5)
    await sim.set_balance("mexc", ACCOUNT, "USDT", 15000.0)
    venue = _venue(sim)
    await _resync(venue)
    async with connect(sim.urls("mexc").ws_base_url) as websocket:
        assert venue.parse("private", await _login(websocket, venue), 1).kind is FrameKind.ACK
        await sim.fill("mexc", ACCOUNT, SYMBOL, -2000.0, 59000.0, fee=1.0)
        position_push, asset_push = await _recv(websocket), await _recv(websocket)
    (position,) = venue.parse("private", position_push, 1).events
    assert isinstance(position, PositionEvent)
    # -10000 - 2000 contracts; (10000 * 60000 + 2000 * 59000) / 12000 = 59833.33
    assert position.quantity == -12000.0
    assert position.entry_price == pytest.approx(59833.333, abs=0.001)
    assert (position.margin_mode, position.leverage) == ("cross", 5.0)
    (balance,) = venue.parse("private", asset_push, 1).events
    assert isinstance(balance, BalanceEvent)
    # 15000 - 1 fee = 14999, sent split: margin 12000 * 0.0001 * 59833.33 / 5 = 14360, available 639
    assert balance.quantity == pytest.approx(14999.0, abs=1e-8)
    raw = json.loads(asset_push)["data"]
    assert (raw["positionMargin"], raw["availableBalance"]) == pytest.approx((14360.0, 639.0), abs=1e-6)


async def test_wrong_login_signature_is_refused(sim: SimulatorServer) -> None:
    """A login signed with the wrong secret gets rs.error and no private pushes."""
    good = sim.credentials("mexc", ACCOUNT)
    venue = _venue(sim, Credentials(good.api_key, Secret("wrong")))
    async with connect(sim.urls("mexc").ws_base_url) as websocket:
        refused = await _login(websocket, venue)
        await sim.set_balance("mexc", ACCOUNT, "USDT", 5.0)
        await websocket.send('{"method":"ping"}')
        after = await _recv(websocket)
    refusal = json.loads(refused)
    assert (refusal["channel"], refusal["data"]) == ("rs.error", "authentication failed!")
    assert json.loads(after)["channel"] == "pong"  # the balance change was not pushed


async def test_flip_pushes_the_closed_leg_first(sim: SimulatorServer) -> None:
    """Short -> long: the short leg arrives closed (state 3), then the long; the net is long."""
    await sim.set_position("mexc", ACCOUNT, SYMBOL, -100.0, 60000.0)
    venue = _venue(sim)
    await _resync(venue)
    async with connect(sim.urls("mexc").ws_base_url) as websocket:
        await _login(websocket, venue)
        await sim.set_position("mexc", ACCOUNT, SYMBOL, 50.0, 61000.0, margin_mode="isolated", leverage=10)
        closed, opened = await _recv(websocket), await _recv(websocket)
    assert (json.loads(closed)["data"]["state"], json.loads(closed)["data"]["positionType"]) == (3, 2)
    assert json.loads(opened)["data"]["openType"] == 1
    closed_events = venue.parse("private", closed, 1).events
    assert [e.quantity for e in closed_events if isinstance(e, PositionEvent)] == [0.0]
    (position,) = venue.parse("private", opened, 1).events
    assert isinstance(position, PositionEvent)
    # isolated margin im = 50 * 0.0001 * 61000 / 10 = 30.5
    assert (position.quantity, position.entry_price, position.isolated_margin) == (50.0, 61000.0, 30.5)


async def test_personal_filter_narrows_the_pushes(sim: SimulatorServer) -> None:
    """With a filter on asset only, position changes are not pushed but balances are."""
    venue = _venue(sim)
    async with connect(sim.urls("mexc").ws_base_url) as websocket:
        await _login(websocket, venue)
        only_assets = {"method": "personal.filter", "param": {"filters": [{"filter": "asset"}]}}
        await websocket.send(json.dumps(only_assets))
        ack = await _recv(websocket)
        await sim.set_position("mexc", ACCOUNT, SYMBOL, -1.0, 60000.0)
        await sim.set_balance("mexc", ACCOUNT, "USDT", 7.0)
        asset = await _recv(websocket)
    assert json.loads(ack)["channel"] == "rs.personal.filter"
    assert json.loads(asset)["channel"] == "push.personal.asset"


async def test_rest_resync_and_signature_check(sim: SimulatorServer) -> None:
    """Signed open_positions/assets parse into the state; a wrong secret gets code 602."""
    await sim.set_price("mexc", SYMBOL, 60000.0, funding_rate=0.0001)
    await sim.set_position("mexc", ACCOUNT, SYMBOL, -10000.0, 60000.0)
    await sim.set_balance("mexc", ACCOUNT, "USDT", 15000.0)
    events = await _resync(_venue(sim))
    positions = [(e.quantity, e.entry_price) for e in events if isinstance(e, PositionEvent)]
    assert positions == [(-10000.0, 60000.0)]
    assert [(e.asset, e.quantity) for e in events if isinstance(e, BalanceEvent)] == [("USDT", 15000.0)]
    good = sim.credentials("mexc", ACCOUNT)
    wrong = _venue(sim, Credentials(good.api_key, Secret("wrong")))
    request = wrong.resync_requests(_now_ms())[0]
    body = await _http(request)
    assert (json.loads(body)["success"], json.loads(body)["code"]) == (False, 602)
    with pytest.raises(FrameError, match="602"):
        wrong.parse_resync(request, body, 1)
    stale = _venue(sim).resync_requests(_now_ms() - 11_000)[0]
    assert json.loads(await _http(stale))["code"] == 513


async def test_contract_detail_gives_the_catalog_terms(sim: SimulatorServer) -> None:
    """contract/detail parses into contract size 0.0001 and the official level-1 risk tier."""
    path = "/api/v1/contract/detail"
    request = HttpRequest("GET", sim.rest_url("mexc"), path, "detail", query=(("symbol", SYMBOL),))
    body = await _http(request)
    overrides = parse_contract_detail(body)
    assert overrides["mexc:BTC_USDT"]["contract_size"] == 0.0001
    assert list(overrides) == ["mexc:BTC_USDT"]
    level_one = risk_tiers(body)[SYMBOL][0]
    # 1 / 0.008 = 125
    assert (level_one.max_volume, level_one.mmr, level_one.max_leverage) == (150000.0, 0.004, 125.0)


async def test_malformed_frame_is_a_frame_error(sim: SimulatorServer) -> None:
    """send_malformed sends truncated JSON on logged-in connections when asked for private."""
    venue = _venue(sim)
    async with connect(sim.urls("mexc").ws_base_url) as websocket:
        await _login(websocket, venue)
        assert await sim.send_malformed("mexc", "private") == 1
        frame = await _recv(websocket)
    assert str(frame).startswith('{"channel":"push.personal.position"')
    with pytest.raises(FrameError):
        venue.parse("private", frame, 1)


async def test_refused_login_asks_for_a_reconnect(sim: SimulatorServer) -> None:
    """A login refused on rs.error makes the private stream reconnect instead of idling."""
    good = sim.credentials("mexc", ACCOUNT)
    venue = _venue(sim, Credentials(good.api_key, Secret("wrong")))
    async with connect(sim.urls("mexc").ws_base_url) as websocket:
        refused = await _login(websocket, venue)
    assert venue.parse("private", refused, 1).reconnect_reason is not None
