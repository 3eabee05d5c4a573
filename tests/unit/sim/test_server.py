"""The simulator over real sockets: routing, REST on the same port, wire behaviour and faults."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import websockets
from websockets.asyncio.client import ClientConnection, connect

from monitor.ingest.http import UrllibTransport
from monitor.sim.scenario import load_scenario, scenario_from_dict
from monitor.sim.server import (
    SimulatorError,
    SimulatorServer,
    scenario_venues,
    serve_simulator,
)
from monitor.venues.base import HttpRequest
from tests.support import eventually

TIMEOUT_S = 5.0


@pytest.fixture
async def sim() -> AsyncIterator[SimulatorServer]:
    """A started simulator with a fast heartbeat."""
    async with SimulatorServer(seed=4, heartbeat_s=30.0) as server:
        yield server


async def _recv_json(websocket: ClientConnection) -> Any:
    return json.loads(await asyncio.wait_for(websocket.recv(), TIMEOUT_S))


def _hex(secret: str, payload: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


async def test_rest_is_served_on_the_websocket_port(sim: SimulatorServer) -> None:
    """A plain HTTP GET on the same port reaches the venue's REST handler."""
    await sim.set_price("okx", "BTC-USDT-SWAP", 60000.0)
    request = HttpRequest(
        "GET", sim.rest_url("okx"), "/api/v5/public/mark-price", "p", query=(("instId", "BTC-USDT-SWAP"),)
    )
    response = await UrllibTransport().send(request, TIMEOUT_S)
    assert response.status == 200
    (row,) = json.loads(response.body)["data"]
    assert (row["instId"], row["markPx"]) == ("BTC-USDT-SWAP", "60000")


async def test_unknown_prefix_is_404(sim: SimulatorServer) -> None:
    """Paths outside the venue prefixes are refused."""
    request = HttpRequest("GET", f"http://127.0.0.1:{sim.port}/kraken", "/x", "p")
    assert (await UrllibTransport().send(request, TIMEOUT_S)).status == 404
    with pytest.raises(SimulatorError, match="unknown simulated venue"):
        sim.ws_url("kraken")


async def test_binance_routes_mark_price_to_market_only(sim: SimulatorServer) -> None:
    """On /public a markPrice stream pushes nothing while bookTicker flows; /market gets markPrice."""
    await sim.set_price("binance", "BTCUSDT", 60000.0, funding_rate=0.0001)
    public_url = f"{sim.ws_url('binance')}/public/stream?streams=btcusdt@markPrice/btcusdt@bookTicker"
    market_url = f"{sim.ws_url('binance')}/market/stream?streams=btcusdt@markPrice@1s"
    async with connect(public_url) as public, connect(market_url) as market:
        first_public = await _recv_json(public)  # current book on subscribe
        first_market = await _recv_json(market)
        await sim.set_price("binance", "BTCUSDT", 60100.0)
        second_public = await _recv_json(public)
        second_market = await _recv_json(market)
    assert first_public["stream"] == second_public["stream"] == "btcusdt@bookTicker"
    assert second_public["data"]["b"] == "60099.90"
    assert second_public["data"]["u"] > first_public["data"]["u"]
    assert first_market["stream"] == "btcusdt@markPrice@1s"
    data = second_market["data"]
    assert (data["e"], data["s"], data["p"], data["r"]) == (
        "markPriceUpdate",
        "BTCUSDT",
        "60100.00000000",
        "0.00010000",
    )
    assert isinstance(data["E"], int)
    assert isinstance(data["T"], int)


async def test_bybit_sends_a_snapshot_then_deltas_of_changed_fields(sim: SimulatorServer) -> None:
    """tickers: snapshot after subscribe, then a delta without unchanged fields; ping -> pong."""
    await sim.set_price("bybit", "BTCUSDT", 60000.0, funding_rate=0.0001)
    async with connect(f"{sim.ws_url('bybit')}/v5/public/linear") as websocket:
        await websocket.send(json.dumps({"op": "subscribe", "args": ["tickers.BTCUSDT"]}))
        ack = await _recv_json(websocket)
        snapshot = await _recv_json(websocket)
        await sim.set_price("bybit", "BTCUSDT", 60100.0)
        delta = await _recv_json(websocket)
        await websocket.send(json.dumps({"op": "ping", "req_id": "7"}))
        pong = await _recv_json(websocket)
    assert (ack["op"], ack["success"]) == ("subscribe", True)
    assert snapshot["type"] == "snapshot"
    assert snapshot["data"]["fundingRate"] == "0.000100"
    assert delta["type"] == "delta"
    assert delta["data"]["markPrice"] == "60100.00"
    assert delta["data"]["symbol"] == "BTCUSDT"
    assert "fundingRate" not in delta["data"]
    assert "volume24h" not in delta["data"]
    assert delta["cs"] > snapshot["cs"]
    assert (pong["op"], pong["ret_msg"], pong["req_id"]) == ("ping", "pong", "7")


async def test_okx_login_checks_the_signature_and_gates_private_channels(sim: SimulatorServer) -> None:
    """Subscribing before login -> 60011; a bad sign -> 60009; a good login -> snapshot pushes."""
    credentials = sim.credentials("okx", "main")
    await sim.set_position("okx", "main", "BTC-USDT-SWAP", -150.0, 60000.0)
    secret = credentials.api_secret.reveal()
    timestamp = str(int(time.time()))
    sign = base64.b64encode(
        hmac.new(secret.encode(), f"{timestamp}GET/users/self/verify".encode(), hashlib.sha256).digest()
    ).decode()
    login = {
        "apiKey": credentials.api_key.reveal(),
        "passphrase": credentials.passphrase.reveal() if credentials.passphrase else "",
        "timestamp": timestamp,
    }
    async with connect(f"{sim.ws_url('okx')}/ws/v5/private") as websocket:
        positions_arg = {"channel": "positions", "instType": "ANY"}
        await websocket.send(json.dumps({"op": "subscribe", "args": [positions_arg]}))
        early = await _recv_json(websocket)
        await websocket.send(json.dumps({"op": "login", "args": [{**login, "sign": "AAAA"}]}))
        refused = await _recv_json(websocket)
        await websocket.send(json.dumps({"op": "login", "args": [{**login, "sign": sign}]}))
        accepted = await _recv_json(websocket)
        await websocket.send(json.dumps({"op": "subscribe", "args": [positions_arg]}))
        ack = await _recv_json(websocket)
        snapshot = await _recv_json(websocket)
        await websocket.send("ping")
        pong = await asyncio.wait_for(websocket.recv(), TIMEOUT_S)
    assert (early["event"], early["code"]) == ("error", "60011")
    assert (refused["event"], refused["code"]) == ("error", "60009")
    assert (accepted["event"], accepted["code"]) == ("login", "0")
    assert ack["event"] == "subscribe"
    assert (snapshot["eventType"], snapshot["lastPage"]) == ("snapshot", True)
    assert [(p["instId"], p["pos"]) for p in snapshot["data"]] == [("BTC-USDT-SWAP", "-150")]
    assert pong == "pong"


async def test_binance_spot_ws_api_subscribe_signature_and_wrapped_events(sim: SimulatorServer) -> None:
    """userDataStream.subscribe.signature (HMAC of sorted params) then wrapped balance events."""
    credentials = sim.credentials("binance-spot", "main")
    key, secret = credentials.api_key.reveal(), credentials.api_secret.reveal()
    timestamp = int(time.time() * 1000)
    signature = _hex(secret, f"apiKey={key}&timestamp={timestamp}")
    params = {"apiKey": key, "timestamp": timestamp}
    async with connect(f"{sim.ws_url('binance-spot')}/ws-api/v3") as websocket:
        bad = {
            "id": "a",
            "method": "userDataStream.subscribe.signature",
            "params": {**params, "signature": "0" * 64},
        }
        await websocket.send(json.dumps(bad))
        refused = await _recv_json(websocket)
        good = {
            "id": "b",
            "method": "userDataStream.subscribe.signature",
            "params": {**params, "signature": signature},
        }
        await websocket.send(json.dumps(good))
        subscribed = await _recv_json(websocket)
        await sim.set_balance("binance-spot", "main", "BTC", 1.5)
        delta = await _recv_json(websocket)
        position = await _recv_json(websocket)
    assert (refused["status"], refused["error"]["code"]) == (400, -1022)
    assert (subscribed["id"], subscribed["status"]) == ("b", 200)
    subscription = subscribed["result"]["subscriptionId"]
    assert delta == {"subscriptionId": subscription, "event": delta["event"]}
    assert (delta["event"]["e"], delta["event"]["d"]) == ("balanceUpdate", "1.50000000")
    assert position["event"]["e"] == "outboundAccountPosition"
    assert position["event"]["B"] == [{"a": "BTC", "f": "1.50000000", "l": "0.00000000"}]


async def test_silence_swallows_answers_until_it_ends(sim: SimulatorServer) -> None:
    """While silenced the socket stays open but even pongs are withheld."""
    async with connect(f"{sim.ws_url('bybit')}/v5/public/linear") as websocket:
        await sim.silence("bybit", 0.3)
        await websocket.send(json.dumps({"op": "ping", "req_id": "during"}))
        await eventually(lambda: not sim.venues["bybit"].silenced(), TIMEOUT_S)
        await websocket.send(json.dumps({"op": "ping", "req_id": "after"}))
        pong = await _recv_json(websocket)
        assert sim.connection_count("bybit") == 1
    assert pong["req_id"] == "after"


async def test_drop_cuts_sockets_without_a_close_frame(sim: SimulatorServer) -> None:
    """drop_connections resets the TCP connection: the client sees no close frame."""
    async with connect(f"{sim.ws_url('okx')}/ws/v5/public") as websocket:
        assert await sim.drop_connections("okx") == 1
        with pytest.raises(websockets.ConnectionClosedError) as closed:
            await asyncio.wait_for(websocket.recv(), TIMEOUT_S)
    assert closed.value.rcvd is None


async def test_server_close_sends_a_going_away_close(sim: SimulatorServer) -> None:
    """server_close closes like the 24 h limit: a clean close with code 1001."""
    async with connect(f"{sim.ws_url('okx')}/ws/v5/public") as websocket:
        await sim.server_close("okx")
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(websocket.recv(), TIMEOUT_S)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1001


async def test_refused_upgrades_get_503(sim: SimulatorServer) -> None:
    """While refusing, websocket upgrades are answered with HTTP 503."""
    await sim.refuse_connections("okx", 5.0)
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with connect(f"{sim.ws_url('okx')}/ws/v5/public"):
            pass
    assert refused.value.response.status_code == 503


async def test_malformed_and_out_of_order_frames(sim: SimulatorServer) -> None:
    """send_malformed sends unparseable JSON; send_out_of_order replays the previous update."""
    await sim.set_price("okx", "BTC-USDT-SWAP", 60000.0)
    async with connect(f"{sim.ws_url('okx')}/ws/v5/public") as websocket:
        arg = {"channel": "mark-price", "instId": "BTC-USDT-SWAP"}
        await websocket.send(json.dumps({"op": "subscribe", "args": [arg]}))
        await _recv_json(websocket)  # ack
        older = await _recv_json(websocket)  # current mark at subscribe
        await sim.set_price("okx", "BTC-USDT-SWAP", 60500.0)
        newer = await _recv_json(websocket)
        assert await sim.send_malformed("okx", "market") == 1
        malformed = await asyncio.wait_for(websocket.recv(), TIMEOUT_S)
        assert await sim.send_out_of_order("okx") == 1
        replayed = await _recv_json(websocket)
    with pytest.raises(ValueError, match=r"Unterminated|Expecting"):
        json.loads(malformed)
    assert newer["data"][0]["markPx"] == "60500"
    assert replayed == older


async def test_gap_swallows_market_updates(sim: SimulatorServer) -> None:
    """gap(n) drops the next n updates; the one after them arrives."""
    await sim.set_price("binance", "BTCUSDT", 60000.0)
    async with connect(f"{sim.ws_url('binance')}/market/ws/btcusdt@markPrice") as websocket:
        await _recv_json(websocket)
        await sim.gap("binance", 2)
        for price in (60100.0, 60200.0, 60300.0):
            await sim.set_price("binance", "BTCUSDT", price)
        update = await _recv_json(websocket)
    assert update["p"] == "60300.00000000"


async def test_expired_listen_key_is_announced_and_refused(sim: SimulatorServer) -> None:
    """expire_listen_key sends listenKeyExpired (E as a string) and the key stops working."""
    credentials = sim.credentials("binance", "main")
    headers = {"X-MBX-APIKEY": credentials.api_key.reveal()}
    create = HttpRequest("POST", sim.rest_url("binance"), "/fapi/v1/listenKey", "k", headers=headers)
    key = json.loads((await UrllibTransport().send(create, TIMEOUT_S)).body)["listenKey"]
    url = f"{sim.ws_url('binance')}/private/ws?listenKey={key}"
    async with connect(url) as websocket:
        await sim.set_position("binance", "main", "BTCUSDT", -1.0, 60000.0)
        update = await _recv_json(websocket)
        assert await sim.expire_listen_key("main") == 1
        expired = await _recv_json(websocket)
    assert update["e"] == "ACCOUNT_UPDATE"
    assert update["a"]["P"][0]["pa"] == "-1"
    assert expired == {"e": "listenKeyExpired", "E": expired["E"], "listenKey": key}
    assert isinstance(expired["E"], str)
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with connect(url):
            pass
    assert refused.value.response.status_code == 400


async def test_run_scenario_applies_accounts_prices_fills_and_faults() -> None:
    """A compressed scenario sets accounts, moves prices, executes fills and faults in order."""
    scenario = scenario_from_dict(
        {
            "name": "tiny",
            "seed": 9,
            "tick_s": 1.0,
            "duration_s": 4,
            "assets": {"BTC": {"start": 60000, "noise": 0.0}},
            "instruments": [{"id": "okx:BTC-USDT-SWAP", "asset": "BTC", "funding_rate": 0.0001}],
            "accounts": [
                {
                    "venue": "okx",
                    "account": "a",
                    "balances": {"USDT": 1000},
                    "positions": [{"symbol": "BTC-USDT-SWAP", "quantity": -150, "entry_price": 60000}],
                }
            ],
            "steps": [
                {"at_s": 0, "kind": "trend", "asset": "BTC", "to": 54000, "over_s": 2},
                {
                    "at_s": 3,
                    "kind": "fill",
                    "venue": "okx",
                    "account": "a",
                    "symbol": "BTC-USDT-SWAP",
                    "quantity": 50,
                    "price": 54000,
                    "fee": 1,
                },
                {"at_s": 4, "kind": "fault", "fault": "silence", "venue": "okx", "seconds": 100},
            ],
        }
    )
    async with SimulatorServer(seed=1) as sim:
        await sim.run_scenario(scenario, speed=100.0)
        quote = sim.quote("okx", "BTC-USDT-SWAP")
        position = sim.position("okx", "a", "BTC-USDT-SWAP")
        # closed 50 * 0.01 * (54000 - 60000) * (-1) = +3000; 1000 + 3000 - 1 = 3999
        assert sim.balance("okx", "a", "USDT") == pytest.approx(3999.0)
        assert sim.venues["okx"].silenced()
    assert quote is not None
    assert quote.mark == pytest.approx(54000.0)
    assert position is not None
    assert position.quantity == -100.0


async def test_scenario_venues_point_every_account_at_the_simulator(sim: SimulatorServer) -> None:
    """One venue per scenario account, all on the simulator, market symbols on the first account."""
    venues = scenario_venues(sim, load_scenario("seed-drop"))
    assert [(v.name, v.stream_names()) for v in venues] == [
        ("binance-spot", ("market", "private")),
        ("okx", ("market", "private")),
    ]
    plan = venues[1].connect_plan("market", 0, None)
    assert plan.url.startswith(f"ws://127.0.0.1:{sim.port}/okx/")
    assert sim.urls("binance-spot").ws_api_url == f"{sim.ws_url('binance-spot')}/ws-api/v3"
    assert sim.urls("okx").ws_api_url is None


async def test_serve_simulator_reports_ready_and_serves_until_cancelled() -> None:
    """serve_simulator binds, calls on_ready, loads accounts and serves until cancelled."""
    ready: asyncio.Queue[SimulatorServer] = asyncio.Queue()
    task = asyncio.create_task(
        serve_simulator(load_scenario("seed-drop"), speed=1000.0, on_ready=ready.put_nowait)
    )
    server = await asyncio.wait_for(ready.get(), TIMEOUT_S)
    assert server.balance("binance-spot", "spot-main", "BTC") == 1.5
    position = server.position("okx", "okx-main", "BTC-USDT-SWAP")
    assert position is not None
    assert position.quantity == -150.0
    request = HttpRequest("GET", server.rest_url("okx"), "/api/v5/public/time", "t")
    assert (await UrllibTransport().send(request, TIMEOUT_S)).status == 200
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
