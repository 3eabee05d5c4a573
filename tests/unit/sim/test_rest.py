"""Simulated REST endpoints: authentication as the exchanges check it, and response shapes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
from datetime import UTC, datetime
from typing import Any

import pytest

from monitor.domain.instruments import default_catalog
from monitor.sim.venues.base import RestRequest, fixed, num
from monitor.sim.venues.binance_spot import BinanceSpotSim
from monitor.sim.venues.binance_usdm import BinanceUsdmSim
from monitor.sim.venues.bybit import BybitSim
from monitor.sim.venues.okx import OkxSim
from monitor.sim.world import SimWorld

NOW_MS = 1_700_000_000_000


def _world() -> SimWorld:
    return SimWorld(default_catalog(), random.Random(3), lambda: NOW_MS)


def _hex(secret: str, payload: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def _body(response_body: bytes) -> Any:
    return json.loads(response_body)


def _binance_signed(world: SimWorld, venue: str, path: str, *, tamper: bool = False) -> RestRequest:
    account = world.account(venue, "main")
    query = f"recvWindow=5000&timestamp={NOW_MS}"
    signature = _hex(account.api_secret, query + ("x" if tamper else ""))
    return RestRequest("GET", path, f"{query}&signature={signature}", {"X-MBX-APIKEY": account.api_key})


def test_number_formats_are_exchange_strings() -> None:
    """Numbers go out as decimal strings: trimmed, or padded like Binance."""
    assert num(-150.0) == "-150"
    assert num(0.0001) == "0.0001"
    assert num(-0.0) == "0"
    assert fixed(6563.665, 5) == "6563.66500"
    assert fixed(-0.0000001, 2) == "0.00"


def test_binance_position_risk_needs_a_valid_signature() -> None:
    """positionRisk: a correct HMAC of the query is served, a wrong one gets -1022."""
    world = _world()
    sim = BinanceUsdmSim(world)
    world.set_quote("binance", "BTCUSDT", 61000.0)
    world.set_position("binance", "main", "BTCUSDT", -0.5, 60000.0)
    good = sim.rest(_binance_signed(world, "binance", "/fapi/v2/positionRisk"))
    assert good.status == 200
    (row,) = _body(good.body)
    assert row["symbol"] == "BTCUSDT"
    assert row["positionAmt"] == "-0.500"
    assert row["entryPrice"] == "60000.00000"
    # -0.5 * (61000 - 60000) = -500
    assert row["unRealizedProfit"] == "-500.00000000"
    assert row["isAutoAddMargin"] == "false"
    bad = sim.rest(_binance_signed(world, "binance", "/fapi/v2/positionRisk", tamper=True))
    assert (bad.status, _body(bad.body)["code"]) == (400, -1022)


def test_binance_rejects_unknown_keys_and_stale_timestamps() -> None:
    """Missing key -2014, unknown key -2015, timestamp outside recvWindow -1021."""
    world = _world()
    sim = BinanceUsdmSim(world)
    missing = sim.rest(RestRequest("GET", "/fapi/v2/account", f"timestamp={NOW_MS}", {}))
    assert _body(missing.body)["code"] == -2014
    unknown = sim.rest(
        RestRequest("GET", "/fapi/v2/account", f"timestamp={NOW_MS}", {"X-MBX-APIKEY": "nobody"})
    )
    assert _body(unknown.body)["code"] == -2015
    account = world.account("binance", "main")
    stale_query = f"timestamp={NOW_MS - 6000}"
    stale = sim.rest(
        RestRequest(
            "GET",
            "/fapi/v2/account",
            f"{stale_query}&signature={_hex(account.api_secret, stale_query)}",
            {"X-MBX-APIKEY": account.api_key},
        )
    )
    assert _body(stale.body)["code"] == -1021


def test_binance_listen_key_lifecycle() -> None:
    """POST returns the active key, PUT extends it, DELETE invalidates it and PUT then fails."""
    world = _world()
    sim = BinanceUsdmSim(world)
    headers = {"X-MBX-APIKEY": world.account("binance", "main").api_key}
    first = _body(sim.rest(RestRequest("POST", "/fapi/v1/listenKey", "", headers)).body)
    again = _body(sim.rest(RestRequest("POST", "/fapi/v1/listenKey", "", headers)).body)
    assert first == again
    assert len(first["listenKey"]) == 64
    assert sim.rest(RestRequest("PUT", "/fapi/v1/listenKey", "", headers)).status == 200
    assert sim.rest(RestRequest("DELETE", "/fapi/v1/listenKey", "", headers)).status == 200
    expired = sim.rest(RestRequest("PUT", "/fapi/v1/listenKey", "", headers))
    assert (expired.status, _body(expired.body)["code"]) == (400, -1125)
    renewed = _body(sim.rest(RestRequest("POST", "/fapi/v1/listenKey", "", headers)).body)
    assert renewed["listenKey"] != first["listenKey"]


def test_binance_private_route_refuses_an_invalid_listen_key() -> None:
    """A private websocket with an unknown key is refused with -1125; markPrice routes to /market."""
    world = _world()
    sim = BinanceUsdmSim(world)
    refused = sim.accept("/private/ws", "listenKey=nope")
    assert getattr(refused, "status", None) == 400
    route = sim.accept("/market/stream", "streams=btcusdt@markPrice@1s/ethusdt@markPrice")
    assert getattr(route, "streams", None) == ("btcusdt@markPrice@1s", "ethusdt@markPrice")
    assert getattr(sim.accept("/ws/btcusdt@markPrice", ""), "status", None) == 404


def test_binance_spot_account_lists_balances() -> None:
    """GET /api/v3/account (signed) lists free/locked per asset; omitZeroBalances drops zeros."""
    world = _world()
    sim = BinanceSpotSim(world)
    world.set_balance("binance-spot", "main", "BTC", 1.5)
    world.set_balance("binance-spot", "main", "ETH", 0.0)
    account = world.account("binance-spot", "main")
    query = f"omitZeroBalances=true&timestamp={NOW_MS}"
    request = RestRequest(
        "GET",
        "/api/v3/account",
        f"{query}&signature={_hex(account.api_secret, query)}",
        {"X-MBX-APIKEY": account.api_key},
    )
    body = _body(sim.rest(request).body)
    assert body["balances"] == [{"asset": "BTC", "free": "1.50000000", "locked": "0.00000000"}]


def _bybit_request(world: SimWorld, path: str, query: str, *, tamper: bool = False) -> RestRequest:
    account = world.account("bybit", "main")
    timestamp, window = str(NOW_MS), "5000"
    signature = _hex(account.api_secret, f"{timestamp}{account.api_key}{window}{query}")
    return RestRequest(
        "GET",
        path,
        query,
        {
            "X-BAPI-API-KEY": account.api_key,
            "X-BAPI-TIMESTAMP": timestamp,
            "X-BAPI-RECV-WINDOW": window,
            "X-BAPI-SIGN": signature + ("0" if tamper else ""),
        },
    )


def test_bybit_position_list_uses_avg_price_and_filters_by_settle_coin() -> None:
    """REST rows carry avgPrice (not entryPrice); settleCoin=USDT lists only open USDT positions."""
    world = _world()
    sim = BybitSim(world)
    world.set_position("bybit", "main", "BTCUSDT", -1.0, 60000.0)
    world.set_position("bybit", "main", "ETHUSDT", 0.0, 0.0)
    response = sim.rest(_bybit_request(world, "/v5/position/list", "category=linear&settleCoin=USDT"))
    body = _body(response.body)
    assert body["retCode"] == 0
    (row,) = body["result"]["list"]
    assert (row["symbol"], row["side"], row["size"], row["avgPrice"]) == (
        "BTCUSDT",
        "Sell",
        "1",
        "60000.00",
    )
    assert "entryPrice" not in row
    usdc = sim.rest(_bybit_request(world, "/v5/position/list", "category=linear&settleCoin=USDC"))
    assert _body(usdc.body)["result"]["list"] == []


def test_bybit_rejects_a_bad_signature() -> None:
    """A wrong X-BAPI-SIGN gets retCode 10004."""
    world = _world()
    sim = BybitSim(world)
    response = sim.rest(
        _bybit_request(world, "/v5/account/wallet-balance", "accountType=UNIFIED", tamper=True)
    )
    assert (response.status, _body(response.body)["retCode"]) == (401, 10004)


def test_bybit_wallet_values_coins_in_usd() -> None:
    """wallet-balance: coin walletBalance and usdValue = balance * price."""
    world = _world()
    sim = BybitSim(world)
    world.set_quote("bybit-spot", "BTCUSDT", 60000.0)
    world.set_balance("bybit", "main", "BTC", 0.5)
    body = _body(sim.rest(_bybit_request(world, "/v5/account/wallet-balance", "accountType=UNIFIED")).body)
    (coin,) = body["result"]["list"][0]["coin"]
    # 0.5 * 60000 = 30000
    assert (coin["coin"], coin["walletBalance"], coin["usdValue"]) == ("BTC", "0.5", "30000.00000000")


def _okx_request(world: SimWorld, path: str, *, passphrase: str | None = None) -> RestRequest:
    account = world.account("okx", "main")
    timestamp = datetime.fromtimestamp(NOW_MS / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    digest = hmac.new(account.api_secret.encode(), f"{timestamp}GET{path}".encode(), hashlib.sha256).digest()
    return RestRequest(
        "GET",
        path,
        "",
        {
            "OK-ACCESS-KEY": account.api_key,
            "OK-ACCESS-SIGN": base64.b64encode(digest).decode(),
            "OK-ACCESS-TIMESTAMP": timestamp,
            "OK-ACCESS-PASSPHRASE": passphrase or account.passphrase,
        },
    )


def test_okx_positions_are_strings_in_contracts() -> None:
    """GET positions: pos in contracts, signed (net mode), every field a string."""
    world = _world()
    sim = OkxSim(world)
    world.set_quote("okx", "BTC-USDT-SWAP", 54000.0)
    world.set_position("okx", "main", "BTC-USDT-SWAP", -150.0, 60000.0)
    body = _body(sim.rest(_okx_request(world, "/api/v5/account/positions")).body)
    assert body["code"] == "0"
    (row,) = body["data"]
    assert (row["instId"], row["pos"], row["avgPx"], row["posSide"]) == (
        "BTC-USDT-SWAP",
        "-150",
        "60000",
        "net",
    )
    # -150 * 0.01 * (54000 - 60000) = 9000
    assert row["upl"] == "9000"
    assert all(isinstance(value, str) for value in row.values())


def test_okx_rejects_a_wrong_passphrase() -> None:
    """A wrong OK-ACCESS-PASSPHRASE gets code 50105."""
    world = _world()
    sim = OkxSim(world)
    response = sim.rest(_okx_request(world, "/api/v5/account/balance", passphrase="wrong"))  # noqa: S106 -- a deliberately wrong test value
    assert (response.status, _body(response.body)["code"]) == (401, "50105")


@pytest.mark.parametrize(
    ("sim_class", "path"),
    [
        (BinanceUsdmSim, "/fapi/v9/nothing"),
        (BinanceSpotSim, "/api/v9/nothing"),
        (BybitSim, "/v9/nothing"),
        (OkxSim, "/api/v9/nothing"),
    ],
)
def test_unknown_paths_are_404(
    sim_class: type[BinanceUsdmSim | BinanceSpotSim | BybitSim | OkxSim], path: str
) -> None:
    """Every venue answers unknown REST paths with 404."""
    assert sim_class(_world()).rest(RestRequest("GET", path, "", {})).status == 404
