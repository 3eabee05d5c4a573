"""The processor on the in-process bus: seed scenario, restore after restart, dead letters."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import orjson
import pytest
from prometheus_client import CollectorRegistry

from monitor.alerts import AlertEngine, AlertsConfig
from monitor.bus.base import (
    AssignmentCallback,
    BusCommitError,
    Consumer,
    TopicPartition,
    Topics,
)
from monitor.bus.memory import MemoryBus
from monitor.codec import encode_event, event_key
from monitor.domain.events import BalanceEvent, Event, FillEvent, PositionEvent, PriceEvent
from monitor.domain.instruments import default_catalog
from monitor.domain.plans import PortfolioSettings
from monitor.domain.snapshot import RiskSnapshot
from monitor.metrics import Metrics
from monitor.processor.engine import RiskEngine
from monitor.processor.runner import Processor, ProcessorSettings, young_collections
from tests.support import eventually
from tests.unit.processor.support import DelegatingConsumer

TOPICS = Topics()
SWAP = "okx:BTC-USDT-SWAP"
DEADLINE_S = 5.0


def _now_ms() -> int:
    return int(time.time() * 1000)


def _publish(bus: MemoryBus, *events: Event) -> None:
    for event in events:
        topic = TOPICS.prices if isinstance(event, PriceEvent) else TOPICS.positions
        bus.append(topic, event_key(event), encode_event(event))


def _prices(price: float, ts: int) -> list[Event]:
    return [PriceEvent(i, price, None, None, None, ts, _now_ms()) for i in (SWAP, "okx:BTC-USDT")]


def _seed_events(ts: int) -> list[Event]:
    return [
        BalanceEvent("seed", "cold", "BTC", 1.5, ts, ts),
        PositionEvent("seed", "okx", SWAP, -150, 60_000, 10, "isolated", 9_000, ts, ts),
    ]


def _latest_risk(bus: MemoryBus, portfolio: str) -> dict[str, Any] | None:
    for record in reversed(bus.records(TOPICS.risk)):
        if record.key == portfolio.encode():
            value: dict[str, Any] = orjson.loads(record.value)
            return value
    return None


def _with_basis(bus: MemoryBus) -> dict[str, Any] | None:
    risk = _latest_risk(bus, "seed")
    return risk if risk is not None and risk["assets"]["BTC"]["basis_bps"] is not None else None


def _shows_quantity(bus: MemoryBus, quantity: float) -> bool:
    risk = _latest_risk(bus, "seed")
    return risk is not None and risk["positions"][0]["quantity"] == quantity


def _processor(
    bus: MemoryBus, publish_interval_ms: int = 0, metrics: Metrics | None = None,
) -> Processor:
    engine = RiskEngine(default_catalog(), lambda _: PortfolioSettings(),
                        lambda _: AlertEngine(AlertsConfig()))
    return Processor(bus, engine, ProcessorSettings(checkpoint_interval_ms=0,
                                                    fetch_timeout_ms=20,
                                                    publish_interval_ms=publish_interval_ms),
                     metrics=metrics)


@asynccontextmanager
async def _running(
    bus: MemoryBus, publish_interval_ms: int = 0, metrics: Metrics | None = None,
) -> AsyncIterator[Processor]:
    processor = _processor(bus, publish_interval_ms, metrics)
    stop = asyncio.Event()
    task = asyncio.create_task(processor.run(stop))
    await eventually(lambda: processor.ready.is_set() or task.done(), DEADLINE_S)
    try:
        yield processor
    finally:
        stop.set()
        await task


async def test_the_collector_threshold_is_raised_while_running_and_restored_after(
    bus: MemoryBus,
) -> None:
    """While it runs the processor sets generation 0 to ``young_collection_threshold``; after it
    stops, the interpreter's thresholds are back (0 leaves them alone)."""
    before = gc.get_threshold()
    async with _running(bus) as processor:
        assert gc.get_threshold() == (processor.settings.young_collection_threshold, *before[1:])
        assert gc.get_threshold()[0] == 100_000
    assert gc.get_threshold() == before
    with young_collections(0):
        assert gc.get_threshold() == before
    # two processors of one process, the first started stopping first: the other keeps the
    # raised threshold, and the interpreter's comes back when both have stopped
    first, second = young_collections(100_000), young_collections(100_000)
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert gc.get_threshold()[0] == 100_000
    second.__exit__(None, None, None)
    assert gc.get_threshold() == before


async def test_seed_scenario_offsets_the_drop(bus: MemoryBus) -> None:
    """1.5 BTC + 150 short at 60000 -> 54000: net delta 0, hedge ratio 1.0, hedge PnL +9000."""
    async with _running(bus):
        _publish(bus, *_seed_events(1_000), *_prices(60_000, 2_000))
        _publish(bus, *_prices(54_000, 3_000))
        risk = await eventually(lambda: (r := _latest_risk(bus, "seed")) and
                                r["assets"]["BTC"]["price"] == 54_000 and r, DEADLINE_S)
    btc = risk["assets"]["BTC"]
    assert btc["net_delta"] == pytest.approx(0.0, abs=1e-12)  # 1.5 - 150 * 0.01
    assert btc["hedge_ratio"] == pytest.approx(1.0)
    assert risk["positions"][0]["unrealized_pnl_usd"] == pytest.approx(9_000.0)  # -1.5 * -6000
    assert risk["seq"] > 0
    assert risk["latency_ms"]["event_to_publish"] is not None


async def test_restart_restores_state_without_resent_positions(bus: MemoryBus) -> None:
    """A restarted processor gets its positions back from the state topic, not from new input."""
    async with _running(bus):
        _publish(bus, *_seed_events(1_000), *_prices(60_000, 2_000))
        await eventually(lambda: _latest_risk(bus, "seed"), DEADLINE_S)
    # the state topic now holds the checkpoint; only a new price arrives after the restart
    async with _running(bus):
        _publish(bus, *_prices(57_000, 4_000))
        risk = await eventually(lambda: (r := _latest_risk(bus, "seed")) and
                                r["assets"]["BTC"]["price"] == 57_000 and r, DEADLINE_S)
    assert risk["assets"]["BTC"]["spot_delta"] == 1.5
    assert risk["positions"][0]["quantity"] == -150
    # -150 * 0.01 * (57000 - 60000) = +4500
    assert risk["positions"][0]["unrealized_pnl_usd"] == pytest.approx(4_500.0)
    # the hedge value change kept accumulating across the restart: 1.5 * -3000 = -4500
    assert risk["effectiveness"]["BTC"]["spot_change_usd"] == pytest.approx(-4_500.0)


async def test_malformed_events_go_to_dead_letters_and_processing_continues() -> None:
    """Not JSON and a wrong type reach hedge.dlq with reasons; a position in an instrument without
    terms is held (as unpriced), never dropped."""
    bus = MemoryBus()
    await bus.create_topics(TOPICS.specs(1))
    async with _running(bus) as processor:
        bus.append(TOPICS.positions, b"seed", b"{not json")
        bus.append(TOPICS.positions, b"seed", orjson.dumps({
            "v": 1, "type": "balance", "portfolio": "seed", "account": "a", "asset": "BTC",
            "quantity": "1.5", "ts_event_ms": 1}))
        bus.append(TOPICS.positions, b"seed", orjson.dumps({
            "v": 1, "type": "position", "portfolio": "seed", "account": "a",
            "instrument": "nowhere:XYZ", "quantity": -1.0, "entry_price": 1.0, "leverage": None,
            "margin_mode": "cross", "isolated_margin": None, "ts_event_ms": 1}))
        bus.append(TOPICS.prices, b"x", b'{"v":1,"type":"price","instrument":"x","mark":NaN}')
        _publish(bus, *_seed_events(1_000), *_prices(60_000, 2_000))
        await eventually(lambda: len(bus.records(TOPICS.dlq)) == 3, DEADLINE_S)
        risk = await eventually(lambda: _latest_risk(bus, "seed"), DEADLINE_S)
        assert processor.dead_letters == 3
    reasons = [orjson.loads(r.value)["reason"] for r in bus.records(TOPICS.dlq)]
    assert any(reason.startswith("not JSON") for reason in reasons)
    assert "field 'quantity' must be int or float, got str" in reasons
    assert not any("nowhere:XYZ" in reason for reason in reasons)
    assert {"account": "a", "instrument": "nowhere:XYZ", "position_side": "one_way",
            "reason": "no contract terms"} in risk["unpriced_positions"]
    assert risk["assets"]["BTC"]["spot_delta"] == 1.5
    letters = [orjson.loads(r.value) for r in bus.records(TOPICS.dlq)]
    assert {"raw": "{not json", "source": TOPICS.positions, "offset": 0} in [
        {k: letter[k] for k in ("raw", "source", "offset")} for letter in letters]


async def test_alert_transitions_are_published() -> None:
    """Closing half the hedge fires the under-hedged alert on hedge.alerts."""
    bus = MemoryBus()
    await bus.create_topics(TOPICS.specs(1))
    async with _running(bus):
        _publish(bus, *_seed_events(1_000), *_prices(60_000, 2_000))
        _publish(bus, PositionEvent("seed", "okx", SWAP, -75, 60_000, 10, "isolated", 4_500,
                                    3_000, 3_000))
        alerts = await eventually(lambda: [orjson.loads(r.value) for r in bus.records(TOPICS.alerts)],
                                  DEADLINE_S)
    low = [a for a in alerts if a["rule"] == "hedge_ratio_low"]
    assert len(low) == 1
    assert low[0]["state"] == "firing"
    assert low[0]["value"] == pytest.approx(0.5)  # 75 * 0.01 / 1.5


async def test_hedge_ratio_drift_fires_and_resolves_once_without_flapping() -> None:
    """Out of band, noise around the edge, back in: exactly one firing and one resolution."""
    bus = MemoryBus()
    await bus.create_topics(TOPICS.specs(1))
    # target 1.0, band 0.1 (fires below 0.90); clear at half the band (resolves at 0.95 or above)
    contracts = [150, 130, 136, 131, 137, 132, 141, 150]  # ratios 1.0, .867, .907, .873, .913, .88, .94, 1.0
    async with _running(bus):
        _publish(bus, *_seed_events(1_000), *_prices(60_000, 2_000))
        for step, quantity in enumerate(contracts):
            ts = 3_000 + step * 1_000
            _publish(bus, PositionEvent("seed", "okx", SWAP, -quantity, 60_000, 10, "isolated",
                                        9_000, ts, ts))
            await eventually(partial(_shows_quantity, bus, -quantity), DEADLINE_S)
        alerts = await eventually(lambda: [a for a in (orjson.loads(r.value) for r in
                                                       bus.records(TOPICS.alerts))
                                           if a["rule"] == "hedge_ratio_low" and a["state"] == "resolved"]
                                  and [orjson.loads(r.value) for r in bus.records(TOPICS.alerts)], DEADLINE_S)
    low = [a for a in alerts if a["rule"] == "hedge_ratio_low"]
    assert [a["state"] for a in low] == ["firing", "resolved"]
    # fired at 130 contracts: 130 * 0.01 / 1.5 = 0.8667; resolved at 150: 1.0 >= 0.95
    assert low[0]["value"] == pytest.approx(1.3 / 1.5)
    assert low[1]["value"] == pytest.approx(1.0)
    assert low[1]["id"] == low[0]["id"] + ":resolved"


class _HandOffCounter:
    """A MemoryBus producer that records, at each hand-off, how many snapshots were sent so far."""

    def __init__(self, bus: MemoryBus) -> None:
        self._bus = bus
        self.sent_at_hand_off: list[int] = []

    def send(self, topic: str, key: bytes | None, value: bytes) -> None:
        self._bus.append(topic, key, value)

    async def hand_off(self) -> None:
        self.sent_at_hand_off.append(len(self._bus.records(TOPICS.risk)))

    async def flush(self) -> None:
        pass

    async def stop(self) -> None:
        pass


def _give_producer(bus: MemoryBus, monkeypatch: pytest.MonkeyPatch, producer: _HandOffCounter) -> None:
    """Make ``producer`` the bus's producer for the processor the test starts."""

    async def make() -> _HandOffCounter:
        return producer

    monkeypatch.setattr(bus, "producer", make)


async def test_a_large_round_is_handed_off_while_it_is_built(
    bus: MemoryBus, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Snapshots of one fan-out reach the producer in slices, not only at the round's flush."""
    monkeypatch.setattr("monitor.processor.runner.HAND_OFF_INTERVAL_S", 0.0)
    counter = _HandOffCounter(bus)
    _give_producer(bus, monkeypatch, counter)
    holders = [f"desk-{index}" for index in range(5)]
    async with _running(bus):
        for portfolio in holders:
            _publish(bus, PositionEvent(portfolio, "okx", SWAP, -10, 60_000, 10, "isolated", 600,
                                        1_000, 1_000))
        await eventually(lambda: all(_latest_risk(bus, p) for p in holders), DEADLINE_S)
        counter.sent_at_hand_off.clear()
        _publish(bus, PriceEvent(SWAP, 59_000, None, None, None, 5_000, _now_ms()))
        await eventually(lambda: all((r := _latest_risk(bus, p)) and r["ts_event_ms"] == 5_000
                                     for p in holders), DEADLINE_S)
    # with a zero interval every snapshot of the tick's fan-out is handed off as soon as it is built
    assert len(counter.sent_at_hand_off) >= len(holders)
    assert counter.sent_at_hand_off == sorted(counter.sent_at_hand_off)


class _FlushCounter(_HandOffCounter):
    """A MemoryBus producer that records, at each flush (one per loop turn), the snapshots sent."""

    def __init__(self, bus: MemoryBus) -> None:
        super().__init__(bus)
        self.sent_at_flush: list[int] = []

    async def flush(self) -> None:
        self.sent_at_flush.append(len(self._bus.records(TOPICS.risk)))


async def test_throttled_snapshots_that_come_due_together_are_spread_over_turns(
    bus: MemoryBus, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With no time to spare per turn, each turn publishes one due portfolio: a tick never waits
    for a whole desk that came due at once."""
    monkeypatch.setattr("monitor.processor.runner.THROTTLED_SLICE_S", 0.0)
    counter = _FlushCounter(bus)
    _give_producer(bus, monkeypatch, counter)
    holders = [f"desk-{index}" for index in range(4)]
    async with _running(bus, publish_interval_ms=60_000):
        for portfolio in holders:  # far from liquidation: never urgent
            _publish(bus, PositionEvent(portfolio, "okx", SWAP, -10, 60_000, 10, "isolated", 18_000,
                                        1_000, 1_000))
        _publish(bus, PriceEvent(SWAP, 60_000, None, None, None, 2_000, _now_ms()))
        await eventually(lambda: all(_latest_risk(bus, p) for p in holders), DEADLINE_S)
    first = [n for n in counter.sent_at_flush if n > 0]
    # the four positions arrive in one fetch, all due at once; one per turn: 1, 2, 3, 4 snapshots
    assert sorted(set(first))[:len(holders)] == list(range(1, len(holders) + 1))


async def test_a_throttled_portfolio_is_published_at_once_near_liquidation(bus: MemoryBus) -> None:
    """With a 60 s publish interval a quiet tick waits; a tick within 5 % of liquidation does not."""
    async with _running(bus, publish_interval_ms=60_000) as processor:
        _publish(bus, *_seed_events(1_000), *_prices(60_000, 2_000))
        await eventually(lambda: _latest_risk(bus, "seed"), DEADLINE_S)
        published = processor.published_snapshots
        _publish(bus, *_prices(61_000, 3_000))
        await eventually(lambda: processor.engine.prices.prices[SWAP].ts_event_ms == 3_000, DEADLINE_S)
        # |65704.33 - 61000| / 61000 = 7.7 % from liquidation: throttled, no snapshot
        assert processor.published_snapshots == published
        _publish(bus, *_prices(63_000, 4_000))
        # |65704.33 - 63000| / 63000 = 4.3 % <= 5 %: published within the interval
        risk = await eventually(lambda: (r := _latest_risk(bus, "seed")) and r["ts_event_ms"] == 4_000 and r,
                                DEADLINE_S)
    # OKX: (9000 + 90000) / (1.5 x (1 + 0.004 + 0.0005)) = 65704.33
    assert risk["positions"][0]["liquidation_distance"] == pytest.approx(2_704.33 / 63_000, abs=1e-6)


async def test_a_throttled_portfolio_comes_due_from_its_latest_publish_with_no_new_input(
    bus: MemoryBus,
) -> None:
    """An urgent publish restarts the interval: the quiet tick after it waits a whole interval from
    the urgent snapshot (not from the one before), then goes out on its own, with no new input."""
    now = [float(int(time.time()))]  # whole seconds and quarter steps: exact in binary
    engine = RiskEngine(default_catalog(), lambda _: PortfolioSettings(),
                        lambda _: AlertEngine(AlertsConfig()))
    processor = Processor(bus, engine, ProcessorSettings(checkpoint_interval_ms=0, fetch_timeout_ms=20,
                                                         publish_interval_ms=1_000),
                          clock=lambda: now[0])
    stop = asyncio.Event()
    task = asyncio.create_task(processor.run(stop))
    try:
        await eventually(lambda: processor.ready.is_set() or task.done(), DEADLINE_S)
        start_ms = int(now[0] * 1000)
        _publish(bus, *_seed_events(1_000), *_prices(60_000, 2_000))
        await eventually(lambda: (r := _latest_risk(bus, "seed")) and r["ts_event_ms"] == 2_000, DEADLINE_S)
        now[0] += 0.5
        _publish(bus, *_prices(63_000, 3_000))  # 4.3 % from 65704.33: urgent, at once
        urgent = await eventually(
            lambda: (r := _latest_risk(bus, "seed")) and r["ts_event_ms"] == 3_000 and r, DEADLINE_S)
        assert urgent["ts_ms"] == start_ms + 500  # half way through a 1 s interval
        _publish(bus, *_prices(61_000, 4_000))  # 7.7 % away: throttled
        now[0] += 0.75  # 1.25 s after the first snapshot, 0.75 s after the urgent one
        await processor.drain()
        assert _latest_risk(bus, "seed") == urgent  # not due: the interval runs from the urgent one
        now[0] += 0.5
        quiet = await eventually(
            lambda: (r := _latest_risk(bus, "seed")) and r["ts_event_ms"] == 4_000 and r, DEADLINE_S)
        assert quiet["ts_ms"] == start_ms + 1_750  # 1.25 s after the urgent snapshot
    finally:
        stop.set()
        await task


def _firing_recomputed(processor: Processor) -> list[tuple[str, str, str]]:
    """Every firing alert read from every portfolio's alert engine (what the cache must equal)."""
    return sorted((p, rule, severity) for state in processor.engine.portfolios.values()
                  if state.alerts is not None for p, rule, _, severity in state.alerts.firing())


async def test_the_firing_alerts_kept_per_portfolio_equal_a_full_reading(bus: MemoryBus) -> None:
    """The gauge's firing alerts are read again only for portfolios whose alerts changed; after a
    firing and its resolution they still equal a reading of every portfolio."""
    async with _running(bus) as processor:
        _publish(bus, *_seed_events(1_000),
                 PositionEvent("calm", "okx", SWAP, -10, 60_000, 10, "isolated", 18_000, 1_000, 1_000),
                 *_prices(60_000, 2_000))
        await eventually(lambda: _latest_risk(bus, "seed") and _latest_risk(bus, "calm"), DEADLINE_S)
        assert sorted(processor.firing_alerts()) == _firing_recomputed(processor)
        # 63000: seed 4.3 % from 65704.33 fires the critical liquidation alert; calm is 10 x 0.01
        # BTC on 18000 USD, nowhere near its liquidation price
        _publish(bus, *_prices(63_000, 3_000))
        await eventually(lambda: (r := _latest_risk(bus, "seed")) and r["ts_event_ms"] == 3_000, DEADLINE_S)
        fired = sorted(processor.firing_alerts())
        assert ("seed", "liquidation_distance_low", "critical") in fired
        assert fired == _firing_recomputed(processor)
        assert not [alert for alert in fired if alert[0] == "calm"]
        # 60000: 9.5 % away, beyond the 6 % clear level: resolved
        _publish(bus, *_prices(60_000, 4_000))
        await eventually(lambda: (r := _latest_risk(bus, "seed")) and r["ts_event_ms"] == 4_000, DEADLINE_S)
        left = sorted(processor.firing_alerts())
        assert ("seed", "liquidation_distance_low", "critical") not in left
        assert left == _firing_recomputed(processor)


async def test_an_alert_from_a_fill_reaches_the_firing_gauge_without_a_snapshot_transition(
    bus: MemoryBus,
) -> None:
    """A liquidation fill fires hedge_broken outside any snapshot's rules; the firing-alerts gauge
    shows it all the same (a missing series would read as no alert)."""
    registry = CollectorRegistry()

    def broken() -> float | None:
        return registry.get_sample_value(
            "hedge_alerts_firing", {"rule": "hedge_broken", "severity": "critical"})

    async with _running(bus, metrics=Metrics(registry)) as processor:
        _publish(bus, *_seed_events(1_000), *_prices(60_000, 2_000))
        await eventually(lambda: (r := _latest_risk(bus, "seed")) and r["ts_event_ms"] == 2_000, DEADLINE_S)
        # the venue liquidates 50 of the 150 contracts short: 0.5 BTC of the hedge is gone
        _publish(bus, FillEvent("seed", "okx", SWAP, 50, 60_500, 0.0, 3_000, 3_000,
                                forced="liquidation"))
        await eventually(lambda: ("seed", "hedge_broken", "critical") in processor.firing_alerts(),
                         DEADLINE_S)
        await eventually(lambda: broken() == 1, DEADLINE_S)


async def test_snapshot_gauges_are_exported_at_most_once_per_interval(
    bus: MemoryBus, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every snapshot is published; its gauges follow at the next export, the latest one only."""
    registry = CollectorRegistry()

    def price() -> float | None:
        return registry.get_sample_value("hedge_asset_price_usd", {"portfolio": "seed", "asset": "BTC"})

    monkeypatch.setattr("monitor.processor.runner.METRICS_EXPORT_INTERVAL_S", 0.0)
    async with _running(bus, metrics=Metrics(registry)):
        _publish(bus, *_seed_events(1_000), *_prices(60_000, 2_000))
        # Every snapshot is exported while the interval is 0: the seed may take two rounds (its
        # positions first, its price next), and only then does the hour-long interval begin.
        await eventually(lambda: price() == 60_000, DEADLINE_S)
        monkeypatch.setattr("monitor.processor.runner.METRICS_EXPORT_INTERVAL_S", 3_600.0)
        _publish(bus, *_prices(57_000, 3_000))
        _publish(bus, *_prices(54_000, 4_000))
        await eventually(lambda: (r := _latest_risk(bus, "seed")) and r["ts_event_ms"] == 4_000, DEADLINE_S)
        assert price() == 60_000  # published, not yet exported: the hour has not passed
        monkeypatch.setattr("monitor.processor.runner.METRICS_EXPORT_INTERVAL_S", 0.0)
        await eventually(lambda: price() == 54_000, DEADLINE_S)  # the latest snapshot, at the next loop turn


class _CountingMetrics(Metrics):
    """Metrics that count the snapshots they export."""

    def __init__(self) -> None:
        super().__init__(CollectorRegistry())
        self.exported: list[str] = []

    def observe_snapshot(self, snapshot: RiskSnapshot) -> None:
        self.exported.append(snapshot.portfolio)
        super().observe_snapshot(snapshot)


def test_an_export_is_spread_over_loop_turns(bus: MemoryBus, monkeypatch: pytest.MonkeyPatch) -> None:
    """With no time to spare per turn, each turn exports one snapshot until the export is done."""
    monkeypatch.setattr("monitor.processor.runner.METRICS_EXPORT_SLICE_S", 0.0)
    metrics = _CountingMetrics()
    processor = _processor(bus, metrics=metrics)
    names = [f"p{index}" for index in range(3)]
    processor._metrics_pending = {n: RiskSnapshot(portfolio=n, ts_ms=1) for n in names}  # noqa: SLF001
    processor._export_metrics()  # noqa: SLF001
    assert len(metrics.exported) == 1
    # a newer snapshot of a portfolio still queued replaces the queued one
    queued = next(n for n in names if n not in metrics.exported)
    processor._metrics_exporting[queued] = RiskSnapshot(portfolio=queued, ts_ms=2_000)  # noqa: SLF001
    processor._export_metrics()  # noqa: SLF001
    processor._export_metrics()  # noqa: SLF001
    assert sorted(metrics.exported) == names
    assert metrics.registry.get_sample_value(
        "hedge_snapshot_timestamp_seconds", {"portfolio": queued}) == 2.0
    processor._export_metrics()  # noqa: SLF001
    assert len(metrics.exported) == 3  # nothing left, and the next export is not due for a second


async def test_hedge_mode_legs_reach_the_snapshot_apart(bus: MemoryBus) -> None:
    """Binance's LONG 20 / SHORT 10 example through the codec and the processor: two legs, two LPs."""
    futures = "binance:BTCUSDT"
    async with _running(bus):
        _publish(bus,
                 PositionEvent("hedged", "b", futures, 20, 6_563.66, None, "isolated", 13_200.71,
                               1_000, 1_000, position_side="long"),
                 PositionEvent("hedged", "b", futures, -10, 6_563.86, None, "isolated", 6_570.43,
                               1_000, 1_000, position_side="short"),
                 PriceEvent(futures, 6_563.0, None, None, None, 2_000, _now_ms()))
        risk = await eventually(lambda: (r := _latest_risk(bus, "hedged")) and len(r["positions"]) == 2
                                and r["positions"][0]["mark_price"] is not None and r, DEADLINE_S)
    legs = {leg["position_side"]: leg for leg in risk["positions"]}
    # SHORT: (6570.43 + 50 + 65638.6) / 10.05 = 7,189.95; LONG: -118022.49 / -19.9 = 5,930.78
    assert legs["short"]["liquidation_price"] == pytest.approx(7_189.95, abs=0.005)
    assert legs["long"]["liquidation_price"] == pytest.approx(5_930.78, abs=0.005)
    assert risk["assets"]["BTC"]["futures_delta"] == pytest.approx(10.0)


class _FailingCommits(DelegatingConsumer):
    """A MemoryBus group member whose first ``failures`` commits raise ``error``; it counts calls."""

    def __init__(self, inner: Consumer, error: Exception, failures: int) -> None:
        super().__init__(inner)
        self.error = error
        self.failures = failures
        self.commits = 0
        self.end_offset_reads = 0

    async def commit(self, offsets: Mapping[TopicPartition, int]) -> None:
        self.commits += 1
        if self.failures > 0:
            self.failures -= 1
            raise self.error
        await super().commit(offsets)

    async def end_offsets(self, partitions: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
        self.end_offset_reads += 1
        return await super().end_offsets(partitions)


def _failing_commits(
    monkeypatch: pytest.MonkeyPatch, bus: MemoryBus, error: Exception, failures: int,
) -> list[_FailingCommits]:
    """Make the bus's group members fail their first commits; the members made are listed."""
    made: list[_FailingCommits] = []
    group_consumer = bus.group_consumer

    async def failing(topics: Sequence[str], group_id: str, on_assigned: AssignmentCallback,
                      on_revoked: AssignmentCallback, instance_id: str | None = None) -> Consumer:
        made.append(_FailingCommits(
            await group_consumer(topics, group_id, on_assigned, on_revoked, instance_id), error,
            failures))
        return made[-1]

    monkeypatch.setattr(bus, "group_consumer", failing)
    return made


def _committed_offsets(bus: MemoryBus) -> list[int | None]:
    return [bus.committed("hedge-monitor", TopicPartition(TOPICS.positions, p)) for p in range(3)]


async def test_a_refused_commit_is_logged_and_the_next_checkpoint_commits(
    bus: MemoryBus, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    """BusCommitError from a commit is a warning (the state marker holds the offset), not a crash."""
    caplog.set_level(logging.WARNING, logger="monitor.processor.runner")
    refused = BusCommitError("commit offsets: CommitFailedError: the group rebalanced")
    members = _failing_commits(monkeypatch, bus, refused, failures=1)
    async with _running(bus):
        _publish(bus, *_seed_events(1_000), *_prices(60_000, 2_000))
        # the two seed events are offsets 0 and 1 of the seed's partition: the next to read is 2
        await eventually(lambda: 2 in _committed_offsets(bus), DEADLINE_S)
    assert members[0].commits >= 2
    assert "offset commit failed (commit offsets: CommitFailedError: the group rebalanced)" in caplog.text


async def test_a_commit_failing_with_a_bug_stops_the_processor(
    bus: MemoryBus, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An error that is not the bus's (a bug) under commit propagates instead of being logged."""
    members = _failing_commits(monkeypatch, bus, KeyError("a bug"), failures=1_000)
    run = asyncio.create_task(_processor(bus).run(asyncio.Event()))
    _publish(bus, *_seed_events(1_000), *_prices(60_000, 2_000))
    with pytest.raises(KeyError, match="a bug"):
        await asyncio.wait_for(run, 5)  # the processor ends on its own: nobody sets its stop event
    assert members[0].commits >= 1
    assert _committed_offsets(bus) == [None, None, None]


async def test_the_consumer_lag_comes_from_the_fetched_high_watermark_without_a_request(
    bus: MemoryBus, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The lag gauge is set from the fetch's high watermark: no end offsets are ever requested.

    An end-offsets request waits behind the group consumer's pending fetch, which stalled the loop
    that publishes for up to the broker's fetch wait after every checkpoint.
    """
    members = _failing_commits(monkeypatch, bus, KeyError("unused"), failures=0)
    async with _running(bus):
        _publish(bus, *_seed_events(1_000), *_prices(60_000, 2_000))
        await eventually(lambda: 2 in _committed_offsets(bus) and members[0].commits >= 2, DEADLINE_S)
    assert members[0].end_offset_reads == 0
    registry = CollectorRegistry()

    def lags() -> list[float | None]:
        return [registry.get_sample_value(
            "hedge_consumer_lag_messages", {"topic": TOPICS.positions, "partition": str(p)})
            for p in range(3)]

    async with _running(bus, metrics=Metrics(registry)):
        _publish(bus, PositionEvent("seed", "okx", SWAP, -100, 60_000, 10, "isolated", 6_000,
                                    3_000, 3_000))
        # offset 2 applied, the end is 3: lag 3 - 3 = 0 on the seed's partition
        await eventually(lambda: 0.0 in lags(), DEADLINE_S)
    assert members[1].end_offset_reads == 0


async def test_an_inverse_hedge_stays_exactly_hedged_through_the_processor() -> None:
    """1.5 BTC and a short of 900 x 100 USD BTC-USD-SWAP from 60,000, at a mark of 54,000."""
    bus = MemoryBus()
    await bus.create_topics(TOPICS.specs(3))
    inverse = "okx:BTC-USD-SWAP"
    async with _running(bus):
        _publish(bus,
                 BalanceEvent("coin", "cold", "BTC", 1.5, 1_000, 1_000),
                 PositionEvent("coin", "okx", inverse, -900, 60_000, None, "isolated", 0.3,
                               1_000, 1_000),
                 PriceEvent(inverse, 54_000.0, None, None, None, 2_000, _now_ms()))
        risk = await eventually(lambda: (r := _latest_risk(bus, "coin"))
                                and r["assets"]["BTC"]["price"] == 54_000.0 and r, DEADLINE_S)
    btc = risk["assets"]["BTC"]
    # delta -900 x 100 / 60000 = -1.5: net 0, ratio 1.0, nothing to trade (not -1.667, 1.111, 90)
    assert btc["futures_delta"] == pytest.approx(-1.5)
    assert btc["hedge_ratio"] == pytest.approx(1.0)
    assert btc["contracts_to_target"] == 0.0
    for row in risk["stress"]:
        # spot 1.5 x 54000 x s and hedge -90000 x 54000 x s / 60000 cancel at every shock short
        # of the leg's liquidation price
        if not row["liquidated"]:
            assert row["net_pnl_usd"] == pytest.approx(0.0, abs=0.005)


async def test_the_reference_price_does_not_depend_on_partition_order() -> None:
    """Two BTC futures priced in either order: the book values BTC at its own hedge's index."""
    results = []
    for order in ((0, 1), (1, 0)):
        bus = MemoryBus()
        await bus.create_topics(TOPICS.specs(3))
        ticks = [PriceEvent(SWAP, 60_100.0, 60_000.0, None, None, 2_000, _now_ms()),
                 PriceEvent("binance:BTCUSDT", 59_500.0, 59_400.0, None, None, 2_500, _now_ms())]
        async with _running(bus):
            _publish(bus, *_seed_events(1_000), *(ticks[index] for index in order))
            risk = await eventually(partial(_with_basis, bus), DEADLINE_S)
        results.append((risk["assets"]["BTC"]["price"], risk["assets"]["BTC"]["basis_bps"]))
    # the seed hedges with okx:BTC-USDT-SWAP: S = its index 60,000 whatever came last;
    # basis 1e4 x (60100 - 60000) / 60000 = 16.67 bps
    assert results[0] == results[1]
    assert results[0][0] == 60_000.0
    assert results[0][1] == pytest.approx(16.6667, abs=1e-4)


def _price_ends(bus: MemoryBus) -> dict[str, int]:
    """The next offset to read of every prices partition holding a record, as the checkpoint has it."""
    return {str(p): len(records) for p, records in enumerate(bus.partitions(TOPICS.prices)) if records}


def _price_checkpoint(bus: MemoryBus) -> dict[str, Any] | None:
    for record in reversed(bus.records(TOPICS.state)):
        if record.key == b"hedge-monitor/prices":
            value: dict[str, Any] = orjson.loads(record.value)
            return value
    return None


async def test_the_price_table_is_checkpointed_with_the_offsets_it_reflects(bus: MemoryBus) -> None:
    """The state topic holds the latest price of each instrument and the next price offsets."""
    async with _running(bus):
        _publish(bus, *_seed_events(1_000), *_prices(60_000, 2_000), *_prices(54_000, 3_000))
        await eventually(lambda: (c := _price_checkpoint(bus)) and c["offsets"] == _price_ends(bus),
                         DEADLINE_S)
    assert sum(_price_ends(bus).values()) == 4  # two instruments, two ticks each
    checkpoint = _price_checkpoint(bus)
    assert checkpoint is not None
    assert {p["instrument"]: p["mark"] for p in checkpoint["prices"]} == {
        SWAP: 54_000, "okx:BTC-USDT": 54_000}


async def test_a_restart_reads_only_the_ticks_after_the_price_checkpoint(bus: MemoryBus) -> None:
    """A malformed tick before the checkpoint is dead-lettered once, not again by the restart."""
    bus.append(TOPICS.prices, b"okx:BTC-USDT-SWAP", b"not json")
    async with _running(bus) as first:
        _publish(bus, *_seed_events(1_000), *_prices(60_000, 2_000))
        await eventually(lambda: (c := _price_checkpoint(bus)) and c["offsets"] == _price_ends(bus),
                         DEADLINE_S)
    assert first.dead_letters == 1
    async with _running(bus) as second:
        _publish(bus, *_prices(54_000, 3_000))
        risk = await eventually(lambda: (r := _latest_risk(bus, "seed")) and
                                r["assets"]["BTC"]["price"] == 54_000 and r, DEADLINE_S)
        assert second.dead_letters == 0
    assert risk["positions"][0]["unrealized_pnl_usd"] == pytest.approx(9_000.0)  # -1.5 * -6000


async def test_a_restart_without_new_ticks_prices_from_the_checkpoint_alone(bus: MemoryBus) -> None:
    """A restored portfolio is published at once, priced by the restored table (no input needed).

    60,000 -> 54,000 on a short of 150 x 0.01 BTC gives the hedge +9,000.
    """
    async with _running(bus):
        _publish(bus, *_seed_events(1_000), *_prices(60_000, 2_000), *_prices(54_000, 3_000))
        await eventually(lambda: (c := _price_checkpoint(bus)) and c["offsets"] == _price_ends(bus),
                         DEADLINE_S)
    published = len(bus.records(TOPICS.risk))
    async with _running(bus) as second:
        await eventually(lambda: len(bus.records(TOPICS.risk)) > published, DEADLINE_S)
        assert second.engine.prices.mark(SWAP) == 54_000
    risk = _latest_risk(bus, "seed")
    assert risk is not None
    assert risk["positions"][0]["unrealized_pnl_usd"] == pytest.approx(9_000.0)  # -1.5 * -6000


async def test_a_price_checkpoint_past_the_topic_end_is_ignored(
    bus: MemoryBus, caplog: pytest.LogCaptureFixture,
) -> None:
    """Offsets beyond the partition's end (a recreated topic) mean the whole topic is read."""
    caplog.set_level(logging.WARNING, logger="monitor.processor.runner")
    stale = {"v": 1, "offsets": {"0": 99}, "prices": []}
    bus.append(TOPICS.state, b"hedge-monitor/prices", orjson.dumps(stale))
    _publish(bus, *_seed_events(1_000), *_prices(60_000, 2_000))
    async with _running(bus) as processor:
        await eventually(lambda: processor.engine.prices.mark(SWAP) == 60_000, DEADLINE_S)
    assert "price checkpoint ignored" in caplog.text


async def test_a_checkpoint_spread_over_rounds_writes_each_marker_after_the_states_it_covers(
    bus: MemoryBus, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every marker (partition p, next offset O) follows a state of each p-portfolio reflecting < O.

    With no time per round for checkpoint writes, every round writes one state: a cycle spans
    hundreds of rounds while new input keeps arriving.
    """
    monkeypatch.setattr("monitor.processor.runner.HAND_OFF_INTERVAL_S", 0.0)
    written: list[tuple[bytes, bytes]] = []  # the state topic in write order, across its partitions
    append = bus.append

    def appended(topic: str, key: bytes | None, value: bytes) -> None:
        if topic == TOPICS.state:
            written.append((key or b"", value))
        append(topic, key, value)

    monkeypatch.setattr(bus, "append", appended)
    names = [f"p{index:03d}" for index in range(300)]
    async with _running(bus) as processor:
        _publish(bus, *_prices(60_000, 2_000))
        for wave in range(10):  # each wave lands while a cycle of 300 one-state rounds runs
            _publish(bus, *(BalanceEvent(name, "cold", "BTC", 1.0 + wave, 1_000 + wave, 1_000)
                            for name in names[wave * 7:]))
            await processor.drain()

        def regular_markers_reach_the_ends() -> bool:
            latest = {key: orjson.loads(value)["offset"] for key, value in written
                      if key.count(b"/") == 1 and not key.endswith(b"/prices")}
            ends = {f"hedge-monitor/{p}".encode(): len(records)
                    for p, records in enumerate(bus.partitions(TOPICS.positions)) if records}
            return latest == ends

        await eventually(regular_markers_reach_the_ends, DEADLINE_S)
    last_input: dict[tuple[int, str], list[int]] = {}
    for partition, records in enumerate(bus.partitions(TOPICS.positions)):
        for record in records:
            assert record.key is not None
            last_input.setdefault((partition, record.key.decode()), []).append(record.offset)
    applied: dict[str, int] = {}
    markers = 0
    for raw_key, raw_value in written:
        key = raw_key.decode().split("/")
        value = orjson.loads(raw_value)
        if len(key) == 3:
            applied[key[2]] = value["applied_offset"]
        elif key[1] != "prices":
            partition, offset = int(key[1]), value["offset"]
            markers += 1
            for (held_in, name), offsets in last_input.items():
                covered = [o for o in offsets if o < offset]
                if held_in == partition and covered:
                    assert applied.get(name, -1) >= covered[-1], (name, partition, offset)
    assert markers >= 3
