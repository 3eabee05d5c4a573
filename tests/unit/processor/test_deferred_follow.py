"""Deferred ticks: a book that follows the latest price at once equals one that follows every tick.

``RiskEngine`` defers most ticks (``HedgeBook.follow_prices``) and samples only the books that may
have an interval due; ``follow_every_tick=True``, sampling every touched book, is the per-tick
scalar path, kept as the reference. On random books and streams (linear, inverse and Deribit
contracts, isolated and cross legs, spot sources, funding settlements, position, balance and fill
changes, sampling intervals ending, restarts and partition moves) every figure of every snapshot,
every alert transition and every checkpoint of the two agree to the rounding of the telescoped sums.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.alerts import AlertsConfig
from monitor.alerts.engine import AlertEngine
from monitor.codec import risk_to_dict
from monitor.domain.book import HedgeBook
from monitor.domain.events import (
    BalanceEvent,
    Event,
    FillEvent,
    MarginMode,
    PositionEvent,
    PriceEvent,
)
from monitor.domain.instruments import default_catalog
from monitor.domain.plans import HedgePlan, PortfolioSettings
from monitor.processor.engine import RiskEngine

CATALOG = default_catalog()
MARKS = {
    "okx:BTC-USDT-SWAP": 60_000.0,  # linear, cs 0.01 BTC
    "okx:BTC-USD-SWAP": 60_000.0,  # inverse, cv 100 USD
    "binance:BTCUSDT": 60_000.0,  # linear, cs 1 BTC, ten tiers
    "deribit:BTC-PERPETUAL": 60_000.0,  # inverse, continuous funding accrual
    "bybit:ETHUSDT": 3_000.0,  # linear, cs 1 ETH
    "binance-spot:BTCUSDT": 60_000.0,  # spot: a reference source
    "binance-spot:ETHUSDT": 3_000.0,
}
FUTURES = [instrument for instrument in MARKS if not instrument.startswith("binance-spot:")]
# contracts per lot: inverse contracts are 100 USD (OKX) and 10 USD (Deribit) each
LOT = {"okx:BTC-USD-SWAP": 50.0, "deribit:BTC-PERPETUAL": 500.0}
FUNDING_PERIOD_MS = 40_000  # short, so a stream crosses many funding times
RELATIVE = 1e-9
RESTART_SHARE = 0.01  # of events before which the processor restarts (and, as often, one
# portfolio's partition moves away and back)
ABSOLUTE_USD = 1e-6


def _base(instrument: str) -> str:
    return CATALOG.require(instrument).base


@dataclass
class _Stream:
    """A random desk: its portfolios' settings and an event stream in event-time order."""

    settings: dict[str, PortfolioSettings]
    events: list[Event]


def _stream(seed: int, length: int) -> _Stream:
    rng = random.Random(seed)
    portfolios = [f"p{index}" for index in range(rng.randint(2, 5))]
    settings: dict[str, PortfolioSettings] = {}
    legs: dict[str, list[tuple[str, str]]] = {}
    for portfolio in portfolios:
        held = rng.sample(FUTURES, rng.randint(1, 3))
        legs[portfolio] = [(instrument, f"acct{rng.randint(0, 1)}") for instrument in held]
        plans = {}
        if rng.random() < 0.5:
            plans["BTC"] = HedgePlan(asset="BTC", spot_source="binance-spot:BTCUSDT")
        settings[portfolio] = PortfolioSettings(plans=plans)
    marks = dict(MARKS)
    quantities: dict[tuple[str, str, str], float] = {}
    ts = 1_000_000
    next_funding = {instrument: ts + rng.randint(1, FUNDING_PERIOD_MS) for instrument in FUTURES}
    events: list[Event] = []

    def position(portfolio: str, instrument: str, account: str, quantity: float) -> PositionEvent:
        # acct1 margins cross (against its USDT), acct0 isolated at 5x (wallet = notional / 5)
        mode: MarginMode = "cross" if account == "acct1" else "isolated"
        entry = marks[instrument] * (1 + rng.uniform(-0.02, 0.02))
        return PositionEvent(portfolio, account, instrument, quantity, entry, 5.0, mode, None, ts, ts)

    def price(instrument: str) -> PriceEvent:
        marks[instrument] *= math.exp(rng.gauss(0.0, 0.004))
        if instrument.startswith("binance-spot:"):
            return PriceEvent(instrument, marks[instrument], None, None, None, ts, ts)
        if ts >= next_funding[instrument]:
            next_funding[instrument] += FUNDING_PERIOD_MS
        deribit = instrument.startswith("deribit:")
        return PriceEvent(instrument, marks[instrument], marks[instrument] * (1 - 5e-4),
                          rng.uniform(-3e-4, 5e-4), None if deribit else next_funding[instrument],
                          ts, ts)

    for portfolio in portfolios:
        events.append(BalanceEvent(portfolio, "cold", "BTC", rng.uniform(0.5, 5.0), ts, ts))
        events.append(BalanceEvent(portfolio, "cold", "ETH", rng.uniform(5.0, 50.0), ts, ts))
        events.extend(BalanceEvent(portfolio, account, "USDT", rng.uniform(2e3, 5e4), ts, ts)
                      for account in ("acct0", "acct1"))
    # some instruments get their first price mid-stream
    events.extend(price(instrument) for instrument in MARKS if rng.random() < 0.8)
    for portfolio in portfolios:
        for instrument, account in legs[portfolio]:
            quantity = -float(rng.randint(1, 40)) * LOT.get(instrument, 1.0)
            quantities[(portfolio, instrument, account)] = quantity
            events.append(position(portfolio, instrument, account, quantity))
    for _ in range(length):
        ts += rng.randint(1, 4_000)
        roll = rng.random()
        portfolio = rng.choice(portfolios)
        instrument, account = rng.choice(legs[portfolio])
        if roll < 0.82:
            events.append(price(rng.choice(list(MARKS))))
        elif roll < 0.92:
            key = (portfolio, instrument, account)
            quantities[key] = 0.0 if rng.random() < 0.1 else -float(rng.randint(1, 40)) * LOT.get(
                instrument, 1.0)
            events.append(position(portfolio, instrument, account, quantities[key]))
        elif roll < 0.97:
            asset = rng.choice(("BTC", "ETH"))
            events.append(BalanceEvent(portfolio, "cold", asset, rng.uniform(0.0, 5.0), ts, ts))
        else:
            events.append(FillEvent(portfolio, account, instrument, rng.choice((-1.0, 1.0)),
                                    marks[instrument], rng.uniform(0.0, 3.0), ts, ts))
    return _Stream(settings, events)


def _engine(stream: _Stream, *, follow_every_tick: bool) -> RiskEngine:
    alerts = AlertsConfig()
    return RiskEngine(CATALOG, lambda portfolio: stream.settings[portfolio],
                      lambda _: AlertEngine(alerts), follow_every_tick=follow_every_tick)


def _differences(path: str, expected: Any, actual: Any) -> list[str]:
    """Where two JSON values differ beyond the rounding of a sum (keys, types, strings exactly)."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        if expected.keys() != actual.keys():
            return [f"{path}: keys {sorted(expected)} != {sorted(actual)}"]
        return [d for key in expected for d in _differences(f"{path}.{key}", expected[key], actual[key])]
    if isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            return [f"{path}: {len(expected)} items != {len(actual)}"]
        return [d for index, (e, a) in enumerate(zip(expected, actual, strict=True))
                for d in _differences(f"{path}[{index}]", e, a)]
    numbers = (int, float)
    if isinstance(expected, numbers) and isinstance(actual, numbers) \
            and not isinstance(expected, bool) and not isinstance(actual, bool):
        if math.isclose(expected, actual, rel_tol=RELATIVE, abs_tol=ABSOLUTE_USD) or (
                math.isnan(expected) and math.isnan(actual)):
            return []
        return [f"{path}: {expected!r} != {actual!r}"]
    return [] if expected == actual else [f"{path}: {expected!r} != {actual!r}"]


def _defers(book: HedgeBook) -> bool:
    """Whether the book has a tick in the shared table it has not followed yet."""
    table = book.prices.prices
    return any(instrument in table and table[instrument].ts_event_ms > book.seen_ticks[instrument]
               for instrument in book.watched)


@dataclass
class _Run:
    snapshots: list[dict[str, Any]]
    transitions: list[dict[str, Any]]
    checkpoints: list[dict[str, Any]]
    deferred_seen: int


def _run(stream: _Stream, *, follow_every_tick: bool, publish_seed: int) -> _Run:
    """Apply the stream as the processor does: sample what changed, publish some (their latency
    field holds the receive time of the newest input they reflect), checkpoint all."""
    engine = _engine(stream, follow_every_tick=follow_every_tick)
    rng = random.Random(publish_seed)
    restarts = random.Random(publish_seed + 1)
    saved: dict[str, dict[str, Any]] = {}  # each portfolio's checkpoint at the last restart
    run = _Run([], [], [], 0)
    for offset, event in enumerate(stream.events):
        roll = restarts.random()
        if roll < RESTART_SHARE:
            engine = _restarted(engine, stream, saved, follow_every_tick=follow_every_tick)
        elif roll < 2 * RESTART_SHARE and engine.portfolios:
            portfolio = sorted(engine.portfolios)[restarts.randrange(len(engine.portfolios))]
            _reassigned(engine, portfolio, saved.get(portfolio))
        if isinstance(event, PriceEvent):
            touched = engine.apply_price(event)
        else:
            applied = engine.apply_account(event, _partition(event.portfolio), offset)
            touched = set() if applied is None else {applied}
        run.deferred_seen += sum(1 for state in engine.portfolios.values() if _defers(state.book))
        if follow_every_tick:
            # the reference samples every touched book: what ``RiskEngine.sample`` must equal
            for portfolio in sorted(touched):
                book = engine.portfolios[portfolio].book
                book.follow_prices()
                book.sample(book.last_event_ms)
        else:
            engine.sample(sorted(touched))
        for portfolio in sorted(touched):
            if rng.random() < 0.15:
                # the receive time of the newest input reflected, as the publish latency takes it
                snapshot, transitions = engine.snapshot(
                    portfolio, seq=offset, latency_ms=engine.last_receive_ms(portfolio))
                run.snapshots.append(risk_to_dict(snapshot))
                run.transitions.extend(transition.to_dict() for transition in transitions)
    for portfolio in sorted(engine.portfolios):
        snapshot, transitions = engine.snapshot(portfolio, seq=len(stream.events))
        run.snapshots.append(risk_to_dict(snapshot))
        run.transitions.extend(transition.to_dict() for transition in transitions)
        run.checkpoints.append(engine.checkpoint(portfolio))
    return run


def _restarted(engine: RiskEngine, stream: _Stream, saved: dict[str, dict[str, Any]], *,
               follow_every_tick: bool) -> RiskEngine:
    """A processor restarted from checkpoints, as ``Processor`` restores: the price table first,
    then each portfolio's checkpoint (read back from JSON, kept in ``saved``) and a catch-up to the
    latest prices."""
    checkpoints = {portfolio: orjson.loads(orjson.dumps(engine.checkpoint(portfolio)))
                   for portfolio in sorted(engine.portfolios)}
    saved.update(checkpoints)
    restarted = _engine(stream, follow_every_tick=follow_every_tick)
    for instrument, price in sorted(engine.prices.prices.items()):
        restarted.apply_price(PriceEvent(instrument, price.mark, price.index, price.funding_rate,
                                         price.next_funding_ms, price.ts_event_ms, price.ts_receive_ms))
    for portfolio, data in checkpoints.items():
        restarted.restore(portfolio, _partition(portfolio), data)
        restarted.catch_up_prices(portfolio)
    return restarted


def _partition(portfolio: str) -> int:
    """Each portfolio on its own partition (``p3`` on 3), so one can move alone."""
    return int(portfolio[1:])


def _reassigned(engine: RiskEngine, portfolio: str, older: dict[str, Any] | None) -> None:
    """One portfolio's partition revoked and assigned back while the others run on: dropped, then
    restored into the running engine and caught up, from ``older`` when given (a checkpoint another
    member wrote earlier: other sampling due times than the running books'), else from its own."""
    data = older if older is not None else orjson.loads(orjson.dumps(engine.checkpoint(portfolio)))
    engine.drop_partition(_partition(portfolio))
    engine.restore(portfolio, _partition(portfolio), data)
    engine.catch_up_prices(portfolio)


def _assert_agree(seed: int, length: int) -> _Run:
    stream = _stream(seed, length)
    reference = _run(stream, follow_every_tick=True, publish_seed=seed)
    deferred = _run(stream, follow_every_tick=False, publish_seed=seed)
    assert reference.deferred_seen == 0
    differences = (
        _differences("snapshots", reference.snapshots, deferred.snapshots)
        + _differences("transitions", reference.transitions, deferred.transitions)
        + _differences("checkpoints", reference.checkpoints, deferred.checkpoints)
    )
    assert differences == [], f"seed {seed}: {differences[:10]}"
    return deferred


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), length=st.integers(50, 400))
def test_deferred_ticks_give_every_figure_of_the_per_tick_path(seed: int, length: int) -> None:
    """Random desks: snapshots, alert transitions and checkpoints agree with the reference path."""
    _assert_agree(seed, length)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_streams_exercise_deferral_funding_and_sampling(seed: int) -> None:
    """The comparison is not vacuous: ticks were deferred, funding settled and accrued (Deribit),
    and effectiveness intervals closed with both sides moving."""
    run = _assert_agree(seed, 600)
    assert run.deferred_seen > 100
    legs = [leg for checkpoint in run.checkpoints for leg in checkpoint["book"]["positions"]]
    paid = [(leg["event"]["instrument"], leg["funding_received_usd"] + leg["funding_paid_usd"])
            for leg in legs]
    assert sum(1 for _, amount in paid if amount) >= 2
    deribit = [amount for instrument, amount in paid if instrument.startswith("deribit:")]
    assert all(abs(amount) > 0.01 for amount in deribit), paid  # continuous accrual, every leg
    samples = [len(state["hedge_changes"]) for checkpoint in run.checkpoints
               for state in checkpoint["book"]["effectiveness"].values()]
    assert max(samples) >= 5


def test_a_change_between_deferred_ticks_is_followed_at_the_old_size_first() -> None:
    """Hand check: a short of -150 x 0.01 BTC ticks 60,000 -> 59,000 -> 58,000 (deferred), then
    doubles to -300, then ticks 57,000. dF = -1.5 x (58,000 - 60,000) + -3 x (57,000 - 58,000)
    = 3,000 + 3,000 = 6,000 USD of hedge gain, on both paths."""
    swap = "okx:BTC-USDT-SWAP"
    figures = []
    for every_tick in (True, False):
        engine = RiskEngine(CATALOG, lambda _: PortfolioSettings(), follow_every_tick=every_tick)
        engine.apply_account(PositionEvent("a", "okx", swap, -150, 60_000, 10, "isolated", 9_000,
                                           1_000, 1_000), 0, 0)
        for ts, mark in ((1_001, 60_000.0), (1_002, 59_000.0), (1_003, 58_000.0)):
            engine.apply_price(PriceEvent(swap, mark, None, None, None, ts, ts))
        assert _defers(engine.portfolios["a"].book) is not every_tick
        engine.apply_account(PositionEvent("a", "okx", swap, -300, 59_000, 10, "isolated", 18_000,
                                           1_004, 1_004), 0, 1)
        engine.apply_price(PriceEvent(swap, 57_000.0, None, None, None, 1_005, 1_005))
        figures.append(engine.checkpoint("a")["book"]["effectiveness"]["BTC"]["cumulative_hedge_usd"])
    assert figures == pytest.approx([6_000.0, 6_000.0])
