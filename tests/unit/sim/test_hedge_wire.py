"""Hedge-mode legs and the venues' own margin figures in each simulated venue's wire messages."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import random
from typing import Any

import pytest
from websockets.asyncio.client import connect

from monitor.domain.instruments import default_catalog
from monitor.ingest.http import UrllibTransport
from monitor.sim.scenario import ScenarioError, scenario_from_dict
from monitor.sim.server import SimulatorError, SimulatorServer
from monitor.sim.venues.base import RestRequest
from monitor.sim.venues.binance_usdm import BinanceUsdmSim
from monitor.sim.venues.bingx import BingxSim
from monitor.sim.venues.bybit import BybitSim
from monitor.sim.venues.mexc import MexcSim
from monitor.sim.venues.okx import OkxSim
from monitor.sim.venues.weex import WeexSim
from monitor.sim.world import SimWorld
from monitor.venues.base import HttpRequest

NOW_MS = 1_700_000_000_000
TIMEOUT_S = 5.0
# the documented hedge-mode ACCOUNT_UPDATE (Binance user data stream, "Event: Balance and Position
# Update"): LONG 20 @ 6563.66500 iw 13200.70726908, SHORT -10 @ 6563.86000 iw 6570.42511771
LONG_WALLET = 13200.70726908
SHORT_WALLET = 6570.42511771


def _world() -> SimWorld:
    return SimWorld(default_catalog(), random.Random(8), lambda: NOW_MS)


def _documented_hedge(world: SimWorld) -> None:
    world.set_quote("binance", "BTCUSDT", 6706.17)
    world.set_balance("binance", "h", "USDT", 122624.12345678)
    world.set_position("binance", "h", "BTCUSDT", 20, 6563.665, 10, "isolated", "long", LONG_WALLET)
    world.set_position("binance", "h", "BTCUSDT", -10, 6563.86, 10, "isolated", "short", SHORT_WALLET)


def _binance_get(world: SimWorld, path: str, extra: str = "") -> Any:
    account = world.account("binance", "h")
    query = f"{extra}recvWindow=5000&timestamp={NOW_MS}"
    signature = hmac.new(account.api_secret.encode(), query.encode(), hashlib.sha256).hexdigest()
    request = RestRequest("GET", path, f"{query}&signature={signature}", {"X-MBX-APIKEY": account.api_key})
    response = BinanceUsdmSim(world).rest(request)
    assert response.status == 200, response.body
    return json.loads(response.body)


def test_binance_account_update_sends_each_leg_with_its_position_side() -> None:
    """The documented example's legs come back as ps LONG / SHORT, the SHORT's pa negative, iw each
    leg's own wallet, and cw the wallet without those isolated wallets."""
    world = _world()
    _documented_hedge(world)
    writer = BinanceUsdmSim(world)
    long_row = writer.position_row("h", "BTCUSDT", "long")
    short_row = writer.position_row("h", "BTCUSDT", "short")
    assert (long_row["ps"], long_row["pa"], long_row["ep"], long_row["iw"]) == (
        "LONG", "20", "6563.66500", "13200.70726908"
    )  # fmt: skip
    assert (short_row["ps"], short_row["pa"], short_row["ep"], short_row["iw"]) == (
        "SHORT", "-10", "6563.86000", "6570.42511771"
    )  # fmt: skip
    balance = writer.balance_row("h", "USDT")
    # cw = 122624.12345678 - 13200.70726908 - 6570.42511771 = 102852.99106999
    assert (balance["wb"], balance["cw"]) == ("122624.12345678", "102852.99106999")


def test_binance_position_risk_lists_both_legs_with_their_liquidation_prices() -> None:
    """positionRisk in hedge mode: LONG and SHORT rows, each with the isolated liquidation price."""
    world = _world()
    _documented_hedge(world)
    rows = {row["positionSide"]: row for row in _binance_get(world, "/fapi/v2/positionRisk")}
    assert set(rows) == {"LONG", "SHORT"}
    # LONG: (13200.70726908 + 50 - 131273.3) / (0.1 - 20) = 5930.78355432
    # SHORT: (6570.42511771 + 50 + 65638.6) / (0.05 + 10) = 7189.95274803
    assert float(rows["LONG"]["liquidationPrice"]) == pytest.approx(5930.78355, abs=1e-4)
    assert float(rows["SHORT"]["liquidationPrice"]) == pytest.approx(7189.95275, abs=1e-4)
    assert rows["SHORT"]["isolatedWallet"] == "6570.42511771"
    # isolatedMargin = wallet + upnl = 6570.42511771 + (-10) * (6706.17 - 6563.86) = 5147.32511771
    assert rows["SHORT"]["isolatedMargin"] == "5147.32511771"
    v3 = {row["positionSide"]: row for row in _binance_get(world, "/fapi/v3/positionRisk")}
    # maintMargin of the LONG at the mark: 20 * 6706.17 = 134,123.4 (bracket 2) * 0.5 % - 50 = 620.617
    assert float(v3["LONG"]["maintMargin"]) == pytest.approx(620.617)


def test_binance_one_way_rows_keep_both_side() -> None:
    """Without hedge legs the account is one-way: ``positionSide`` BOTH, as before."""
    world = _world()
    world.set_quote("binance", "BTCUSDT", 61000.0)
    world.set_position("binance", "h", "BTCUSDT", -0.5, 60000.0, 10, "isolated", isolated_margin=3000.0)
    (row,) = _binance_get(world, "/fapi/v2/positionRisk")
    assert row["positionSide"] == "BOTH"
    # (3000 + 30000) / 0.502 = 65737.0518
    assert float(row["liquidationPrice"]) == pytest.approx(65737.05, abs=0.005)
    assert _binance_get(world, "/fapi/v1/positionSide/dual") == {"dualSidePosition": False}


def test_binance_serves_brackets_and_the_asset_mode() -> None:
    """leverageBracket from the simulator's brackets (cum derived), multiAssetsMargin from the world."""
    world = _world()
    world.set_quote("binance", "BTCUSDT", 60000.0)
    served = _binance_get(world, "/fapi/v1/leverageBracket", "symbol=BTCUSDT&")
    second = served["brackets"][1]
    # bracket 2 of the catalog: 50,000-500,000 at 0.5 %, cum = 50,000 * (0.5 % - 0.4 %) = 50
    assert (second["notionalFloor"], second["notionalCap"], second["maintMarginRatio"]) == (
        50000,
        500000,
        0.005,
    )
    assert second["cum"] == pytest.approx(50.0)
    assert _binance_get(world, "/fapi/v1/multiAssetsMargin") == {"multiAssetsMargin": False}
    world.set_multi_asset_margin("binance", "h", True)
    assert _binance_get(world, "/fapi/v1/multiAssetsMargin") == {"multiAssetsMargin": True}


async def test_binance_pushes_account_config_update_when_the_mode_switches() -> None:
    """set_asset_mode pushes ACCOUNT_CONFIG_UPDATE with ai.j; setting the same mode again is silent."""
    async with SimulatorServer(seed=2, heartbeat_s=600.0) as sim:
        credentials = sim.credentials("binance", "main")
        headers = {"X-MBX-APIKEY": credentials.api_key.reveal()}
        create = HttpRequest("POST", sim.rest_url("binance"), "/fapi/v1/listenKey", "k", headers=headers)
        key = json.loads((await UrllibTransport().send(create, TIMEOUT_S)).body)["listenKey"]
        async with connect(f"{sim.ws_url('binance')}/private/ws?listenKey={key}") as websocket:
            await sim.set_asset_mode("binance", "main", True)
            event = json.loads(await asyncio.wait_for(websocket.recv(), TIMEOUT_S))
            await sim.set_asset_mode("binance", "main", True)
            await sim.set_balance("binance", "main", "USDT", 5.0)
            after = json.loads(await asyncio.wait_for(websocket.recv(), TIMEOUT_S))
        assert sim.multi_asset_margin("binance", "main")
    assert event["e"] == "ACCOUNT_CONFIG_UPDATE"
    assert event["ai"] == {"j": True}
    assert after["e"] == "ACCOUNT_UPDATE"  # the repeated switch sent nothing


def test_okx_long_short_mode_sends_positive_pos_on_both_legs() -> None:
    """long_short_mode: posSide long/short, pos positive on both, the venue's liqPx, mmr, margin."""
    world = _world()
    world.set_quote("okx", "BTC-USDT-SWAP", 60000.0)
    world.set_balance("okx", "a", "USDT", 50000.0)
    world.set_position("okx", "a", "BTC-USDT-SWAP", 100, 60000.0, 10, "isolated", "long")
    world.set_position("okx", "a", "BTC-USDT-SWAP", -50, 61000.0, 10, "isolated", "short")
    writer = OkxSim(world)
    long_item = writer.position_item("a", "BTC-USDT-SWAP", "long")
    short_item = writer.position_item("a", "BTC-USDT-SWAP", "short")
    assert (long_item["posSide"], long_item["pos"], short_item["posSide"], short_item["pos"]) == (
        "long", "100", "short", "50"
    )  # fmt: skip
    # margin = 100 * 0.01 * 60,000 / 10 = 6,000; mmr = 60,000 * 0.4 % (tier 1: 0-1,000 contracts) = 240
    assert (long_item["margin"], long_item["mmr"]) == ("6000", "240")
    # 6000 + 1 * (P - 60000) = P * (0.4 % + 0.05 %) -> P = 54000 / 0.9955 = 54244.09844
    assert float(long_item["liqPx"]) == pytest.approx(54244.09844, abs=1e-4)
    # mgnRatio = (6000 + 0) / (240 + 30) = 22.2222
    assert float(long_item["mgnRatio"]) == pytest.approx(22.2222222, abs=1e-6)
    assert writer.account_config("a")["posMode"] == "long_short_mode"


def test_okx_serves_position_tiers_in_contracts() -> None:
    """position-tiers: minSz/maxSz in contracts, the last tier open-ended."""
    world = _world()
    world.set_quote("okx", "BTC-USDT-SWAP", 60000.0)
    rows = OkxSim(world).position_tiers({"instType": "SWAP", "tdMode": "cross", "instId": "BTC-USDT-SWAP"})
    assert (rows[0]["minSz"], rows[0]["maxSz"], rows[0]["mmr"], rows[0]["tier"]) == (
        "0",
        "1000",
        "0.004",
        "1",
    )
    assert rows[-1]["maxSz"] == ""
    assert rows[0]["instFamily"] == "BTC-USDT"


def test_bybit_hedge_legs_carry_position_idx_and_the_venue_figures() -> None:
    """Example 1 as the Buy leg of hedge mode: positionIdx 1, liqPrice 19,700, IM 400, MM 100."""
    world = _world()
    world.set_quote("bybit", "BTCUSDT", 20100.0)
    world.set_position("bybit", "a", "BTCUSDT", 1.0, 20000.0, 50, "isolated", "long")
    world.set_position("bybit", "a", "BTCUSDT", -0.5, 20200.0, 50, "isolated", "short")
    writer = BybitSim(world)
    buy = writer.position_fields("a", "BTCUSDT", "long", rest=False)
    sell = writer.position_fields("a", "BTCUSDT", "short", rest=True)
    # IM = 20,000 / 50 = 400; MM = 20,000 * 0.5 % = 100; LP = 20,000 - (400 - 100) = 19,700
    assert (buy["positionIdx"], buy["side"], buy["tradeMode"], buy["liqPrice"]) == (1, "Buy", 1, "19700.00")
    assert (buy["positionIM"], buy["positionMM"], buy["positionBalance"]) == (
        "400.00000000", "100.00000000", "400.00000000"
    )  # fmt: skip
    assert (buy["riskId"], buy["riskLimitValue"]) == (1, "2000000")
    # Sell leg: IM = 10,100 / 50 = 202, MM = 50.5: LP = 20,200 + (202 - 50.5) / 0.5 = 20,503
    assert (sell["positionIdx"], sell["side"], sell["liqPrice"]) == (2, "Sell", "20503.00")


def test_bingx_hedge_legs_are_pushed_each_with_its_side() -> None:
    """BingX hedge mode: the LONG and SHORT legs are separate rows; REST liquidationPrice is a float."""
    world = _world()
    world.set_quote("bingx", "BTC-USDT", 60000.0)
    world.set_position("bingx", "a", "BTC-USDT", 1.0, 60000.0, 20, "isolated", "long")
    world.set_position("bingx", "a", "BTC-USDT", -1.0, 60000.0, 20, "isolated", "short")
    writer = BingxSim(world)
    (short_row,) = writer.position_rows("a", "BTC-USDT", "short")
    assert (short_row["ps"], short_row["pa"], short_row["iw"]) == ("SHORT", "1.00000000", "3000.00000000")
    rows = {row["positionSide"]: row for row in writer.position_list("a")}
    assert set(rows) == {"LONG", "SHORT"}
    # short: 63,000 / (1 + 0.38 % + 0.05 %) = 62730.26; long: (3000 - 60000) / (0.0043 - 1)
    #   = -57,000 / -0.9957 = 57246.16
    assert rows["SHORT"]["liquidationPrice"] == pytest.approx(62730.260, abs=1e-3)
    assert rows["LONG"]["liquidationPrice"] == pytest.approx(57246.158, abs=1e-3)


def test_mexc_hedge_legs_use_position_type_and_liquidate_price() -> None:
    """MEXC hedge mode: positionType 1 and 2 per leg, liquidatePrice of the blog example."""
    world = _world()
    world.set_quote("mexc", "BTC_USDT", 50000.0)
    world.set_position("mexc", "a", "BTC_USDT", 1000, 50000.0, 25, "isolated", "long")
    world.set_position("mexc", "a", "BTC_USDT", -1000, 50000.0, 25, "isolated", "short")
    writer = MexcSim(world)
    (long_item,) = writer.position_items("a", "BTC_USDT", "long")
    (short_item,) = writer.position_items("a", "BTC_USDT", "short")
    # long (20 - 200 + 5,000) / 0.1 = 48,200; short (5,000 - 20 + 200) / 0.1 = 51,800
    assert (long_item["positionType"], long_item["liquidatePrice"]) == (1, 48200.0)
    assert (short_item["positionType"], short_item["liquidatePrice"]) == (2, 51800.0)


def test_weex_hedge_legs_use_their_side_and_liquidate_price() -> None:
    """WEEX: each leg with its side; REST liquidatePrice where margin + upnl = value * MMR."""
    world = _world()
    world.set_quote("weex", "BTCUSDT", 60000.0)
    world.set_position("weex", "a", "BTCUSDT", 1.0, 60000.0, 10, "isolated", "long")
    world.set_position("weex", "a", "BTCUSDT", -1.0, 60000.0, 10, "isolated", "short")
    writer = WeexSim(world)
    (push,) = writer.position_items("a", "BTCUSDT", "short")
    assert (push["side"], push["size"], push["isolatedMargin"]) == ("SHORT", "1", "6000")
    rows = {row["side"]: row for row in writer.position_rows("a")}
    # long: (6,000 - 60,000) / (0.005 - 1) = 54,271.36; short: 66,000 / 1.005 = 65,671.64
    assert float(rows["LONG"]["liquidatePrice"]) == pytest.approx(54271.357, abs=1e-3)
    assert float(rows["SHORT"]["liquidatePrice"]) == pytest.approx(65671.642, abs=1e-3)


async def test_server_fills_hedge_legs_and_answers_venue_figures() -> None:
    """The server's hedge API: fill a leg by side, read the venue's figures; a bad side is refused."""
    async with SimulatorServer(seed=3, heartbeat_s=600.0) as sim:
        await sim.set_price("binance", "BTCUSDT", 60000.0)
        await sim.set_balance("binance", "a", "USDT", 3000.0)
        await sim.fill("binance", "a", "BTCUSDT", -0.5, 60000.0, position_side="short")
        figures = sim.venue_figures("binance", "a", "BTCUSDT", "short")
        leg = sim.position("binance", "a", "BTCUSDT", "short")
        with pytest.raises(SimulatorError, match="position_side"):
            # "both" is no canonical side: the wrong value on purpose
            sim.venue_figures("binance", "a", "BTCUSDT", "both")  # type: ignore[arg-type]
        with pytest.raises(SimulatorError, match="short leg cannot hold"):
            await sim.fill("binance", "a", "BTCUSDT", 1.0, 60000.0, position_side="short")
    assert leg is not None
    assert leg.quantity == -0.5
    # cross short on the 3,000 wallet: (3000 + 30000) / (0.002 + 0.5) = 65737.05
    assert figures.liquidation_price == pytest.approx(65737.05, abs=0.005)
    # MM at 60,000: 30,000 * 0.4 % = 120
    assert figures.maintenance_margin == pytest.approx(120.0)


async def test_scenarios_carry_hedge_legs_and_switch_the_asset_mode() -> None:
    """A scenario's hedge legs load as legs; an asset_mode step switches Multi-Assets Mode."""
    scenario = scenario_from_dict(
        {
            "name": "hedge",
            "seed": 1,
            "duration_s": 2,
            "assets": {"BTC": {"start": 60000, "noise": 0.0}},
            "instruments": [{"id": "binance:BTCUSDT", "asset": "BTC"}],
            "accounts": [
                {
                    "venue": "binance",
                    "account": "a",
                    "balances": {"USDT": 10000},
                    "positions": [
                        {"symbol": "BTCUSDT", "quantity": 1, "entry_price": 60000, "position_side": "long"},
                        {
                            "symbol": "BTCUSDT",
                            "quantity": -0.5,
                            "entry_price": 60000,
                            "position_side": "short",
                            "margin_mode": "isolated",
                            "isolated_margin": 3000,
                        },
                    ],
                }
            ],
            "steps": [
                {"at_s": 1, "kind": "asset_mode", "venue": "binance", "account": "a", "multi_asset": True}
            ],
        }
    )
    async with SimulatorServer(seed=1, heartbeat_s=600.0) as sim:
        await sim.run_scenario(scenario, speed=100.0)
        short_leg = sim.position("binance", "a", "BTCUSDT", "short")
        long_leg = sim.position("binance", "a", "BTCUSDT", "long")
        assert sim.multi_asset_margin("binance", "a")
    assert long_leg is not None
    assert long_leg.quantity == 1.0
    assert short_leg is not None
    assert short_leg.isolated_margin == 3000.0
    with pytest.raises(ScenarioError, match="position_side"):
        scenario_from_dict({**_minimal(), "steps": [_fill_step("both")]})
    with pytest.raises(ScenarioError, match="multi_asset"):
        scenario_from_dict(
            {**_minimal(), "steps": [{"at_s": 0, "kind": "asset_mode", "venue": "binance", "account": "a",
                                      "multi_asset": "yes"}]}
        )  # fmt: skip


def _minimal() -> dict[str, Any]:
    return {
        "name": "m",
        "seed": 1,
        "duration_s": 1,
        "assets": {"BTC": {"start": 60000}},
        "instruments": [{"id": "binance:BTCUSDT", "asset": "BTC"}],
    }


def _fill_step(side: str) -> dict[str, Any]:
    return {
        "at_s": 0,
        "kind": "fill",
        "venue": "binance",
        "account": "a",
        "symbol": "BTCUSDT",
        "quantity": 1,
        "price": 60000,
        "position_side": side,
    }
