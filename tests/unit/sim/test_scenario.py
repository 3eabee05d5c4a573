"""Scenarios: shipped files load, validation names the field, paths are deterministic."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path
from typing import Any

import pytest

from monitor.sim.scenario import (
    ScenarioError,
    load_scenario,
    price_path,
    scenario_from_dict,
    scenario_names,
)


def _minimal(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "t",
        "seed": 1,
        "duration_s": 10,
        "assets": {"BTC": {"start": 60000}},
        "instruments": [{"id": "okx:BTC-USDT-SWAP", "asset": "BTC"}],
    }
    data.update(changes)
    return data


def test_the_four_required_scenarios_ship() -> None:
    """seed-drop, rally-liquidation, cross-hedge and stale-feed are shipped and valid."""
    names = scenario_names()
    for name in ("seed-drop", "rally-liquidation", "cross-hedge", "stale-feed"):
        assert name in names
        assert load_scenario(name).name == name


def test_seed_drop_holds_the_documented_hedge() -> None:
    """seed-drop: 1.5 BTC spot and 150 contracts short at 60000 (1.5 / 0.01 = 150)."""
    scenario = load_scenario("seed-drop")
    spot = next(a for a in scenario.accounts if a.venue == "binance-spot")
    okx = next(a for a in scenario.accounts if a.venue == "okx")
    assert spot.balances["BTC"] == 1.5
    (short,) = okx.positions
    assert (short.symbol, short.quantity, short.entry_price) == ("BTC-USDT-SWAP", -150, 60000)


def test_seed_drop_falls_about_ten_percent_from_its_peak_level() -> None:
    """The trend rises 1 % then falls 10 %: the last price is near 60000 * 1.01 * 0.9 = 54540."""
    ticks = list(price_path(load_scenario("seed-drop")))
    assert ticks[-1].prices["BTC"] == pytest.approx(54540.0, rel=0.01)
    assert max(t.prices["BTC"] for t in ticks) == pytest.approx(60600.0, rel=0.01)


def test_price_path_is_deterministic_given_the_seed() -> None:
    """Same seed, same path; another seed, another path."""
    scenario = load_scenario("cross-hedge")
    first = [t.prices for t in price_path(scenario)]
    second = [t.prices for t in price_path(scenario)]
    assert first == second
    other = scenario_from_dict({**json.loads(_shipped("cross-hedge")), "seed": 24})
    assert [t.prices for t in price_path(other)] != first


def _shipped(name: str) -> str:
    folder = Path(__file__).resolve().parents[3] / "monitor" / "sim" / "scenarios"
    return (folder / f"{name}.json").read_text(encoding="utf-8")


def test_cross_hedge_paths_are_correlated_but_not_identical() -> None:
    """BTC and ETH log returns correlate positively (rho 0.8 shocks) yet differ."""
    ticks = list(price_path(load_scenario("cross-hedge")))
    btc = [math.log(b.prices["BTC"] / a.prices["BTC"]) for a, b in itertools.pairwise(ticks)]
    eth = [math.log(b.prices["ETH"] / a.prices["ETH"]) for a, b in itertools.pairwise(ticks)]
    mean_b, mean_e = sum(btc) / len(btc), sum(eth) / len(eth)
    covariance = sum((x - mean_b) * (y - mean_e) for x, y in zip(btc, eth, strict=True))
    spread_b = math.sqrt(sum((x - mean_b) ** 2 for x in btc))
    spread_e = math.sqrt(sum((y - mean_e) ** 2 for y in eth))
    correlation = covariance / (spread_b * spread_e)
    assert 0.5 < correlation < 0.95
    # BTC ends near 60000 * 0.92 = 55200, ETH near 3000 * 0.95 = 2850: an imperfect hedge
    assert ticks[-1].prices["BTC"] == pytest.approx(55200.0, rel=0.015)
    assert ticks[-1].prices["ETH"] == pytest.approx(2850.0, rel=0.015)


def test_path_has_one_tick_per_tick_s_including_both_ends() -> None:
    """duration 10 s at 1 s ticks gives ticks 0..10 (11 ticks)."""
    ticks = list(price_path(scenario_from_dict(_minimal())))
    assert len(ticks) == 11
    assert ticks[0].prices["BTC"] == 60000.0
    assert ticks[-1].at_s == 10.0


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"seed": "x"}, "seed must be an integer"),
        ({"assets": {"BTC": {"start": -1}}}, r"BTC\.start must be > 0"),
        ({"instruments": [{"id": "BTC", "asset": "BTC"}]}, "must be venue:symbol"),
        ({"instruments": [{"id": "okx:X", "asset": "DOGE"}]}, "unknown asset 'DOGE'"),
        ({"steps": [{"at_s": 1, "kind": "warp"}]}, "unknown kind 'warp'"),
        ({"steps": [{"at_s": 1, "kind": "trend", "asset": "BTC", "over_s": 5}]}, "exactly one"),
        ({"steps": [{"at_s": 1, "kind": "fault", "fault": "fire", "venue": "okx"}]}, "fire"),
        ({"steps": [{"at_s": 1, "kind": "fault", "fault": "silence", "venue": "okx"}]}, "seconds"),
        ({"steps": [{"at_s": 1, "kind": "price", "instrument": "okx:Y", "price": 1}]}, "okx:Y"),
        ({"bogus": 1}, "unknown key"),
        ({"correlations": [{"a": "BTC", "b": "BTC", "rho": 0.5}]}, "correlation"),
    ],
)
def test_invalid_scenarios_are_refused_with_the_field_named(changes: dict[str, Any], message: str) -> None:
    """Every malformed field gives a ScenarioError naming it."""
    with pytest.raises(ScenarioError, match=message):
        scenario_from_dict(_minimal(**changes))


def test_unknown_scenario_name_lists_the_shipped_ones() -> None:
    """Loading an unknown name says which names exist."""
    with pytest.raises(ScenarioError, match="seed-drop"):
        load_scenario("no-such-scenario")


def test_scenario_loads_from_a_path(tmp_path: Path) -> None:
    """Any JSON file can be loaded by path."""
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(_minimal(name="mine")), encoding="utf-8")
    assert load_scenario(path).name == "mine"


def test_non_positive_definite_correlations_are_refused() -> None:
    """Correlations that cannot come from real assets are refused."""
    data = _minimal(
        assets={"A": {"start": 1}, "B": {"start": 1}, "C": {"start": 1}},
        instruments=[{"id": "okx:A", "asset": "A"}],
        correlations=[
            {"a": "A", "b": "B", "rho": 0.9},
            {"a": "A", "b": "C", "rho": 0.9},
            {"a": "B", "b": "C", "rho": -0.9},
        ],
    )
    with pytest.raises(ScenarioError, match="positive-definite"):
        list(price_path(scenario_from_dict(data)))


def test_desk_keeps_every_simulated_venue_busy_for_longer_than_the_hour_soak() -> None:
    """desk: 7 venues, 14 instruments, 2 h (the 60 min soak plus start-up), trades that undo each other.

    Each futures account sells one unit, then buys it back on its next turn: 359 fills over 12
    accounts, so an account's fills sum to 0 or to minus one unit (an odd count), never drift.
    """
    scenario = load_scenario("desk")
    venues = {account.venue for account in scenario.accounts}
    assert venues == {"binance", "binance-spot", "bybit", "okx", "bingx", "mexc", "weex"}
    assert len(scenario.instruments) == 14
    assert scenario.duration_s >= 60 * 60 + 120
    fills: dict[str, list[float]] = {}
    for step in scenario.steps:
        if step.kind == "fill":
            fills.setdefault(step.text("account"), []).append(step.number("quantity"))
    assert len(fills) == 12
    for quantities in fills.values():
        unit = abs(quantities[0])
        assert quantities[0] < 0
        assert sum(quantities) == pytest.approx(0.0 if len(quantities) % 2 == 0 else -unit)
