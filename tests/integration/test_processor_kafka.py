"""The stateful processor against the real broker: seed scenario, scale-out, failover, restore, DLQ."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import pytest

from monitor.app import build_engine
from monitor.bus.base import Topics
from monitor.bus.kafka import KafkaBus, KafkaSettings
from monitor.domain.events import BalanceEvent, Event, PositionEvent, PriceEvent
from monitor.processor.runner import Processor, ProcessorSettings
from tests.integration.kafka_helpers import (
    BROKER_POLL_S,
    everything_committed,
    latest_by_key,
    produce,
    produce_raw,
    read_all,
)
from tests.support import eventually, running_processor

SWAP = "okx:BTC-USDT-SWAP"
ROOT = Path(__file__).resolve().parents[2]


def _now() -> int:
    return int(time.time() * 1000)


def _prices(price: float, ts: int) -> list[Event]:
    return [PriceEvent(i, price, None, None, None, ts, _now()) for i in (SWAP, "okx:BTC-USDT")]


def _portfolio(name: str, btc: float, ts: int) -> list[Event]:
    """``btc`` held and hedged one to one with 0.01 BTC contracts at 60000."""
    contracts = round(btc / 0.01)
    return [
        BalanceEvent(name, "cold", "BTC", btc, ts, ts),
        PositionEvent(name, "okx", SWAP, -contracts, 60_000, 10, "isolated",
                      contracts * 600 / 10, ts, ts),
    ]


@asynccontextmanager
async def _processor(bootstrap: str, topics: Topics, group: str) -> AsyncIterator[Processor]:
    bus = KafkaBus(KafkaSettings(bootstrap_servers=bootstrap))
    await bus.create_topics(topics.specs(4))
    settings = ProcessorSettings(topics=topics, group_id=group, checkpoint_interval_ms=200)
    async with running_processor(Processor(bus, build_engine(), settings), 60,
                                 interval_s=BROKER_POLL_S) as processor:
        yield processor


@contextmanager
def _process(
    bootstrap: str, topics: Topics, group: str, log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    prefix = topics.prices.removesuffix("hedge.prices")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with log.open("ab") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "monitor", "process", "--kafka", bootstrap, "--topic-prefix",
             prefix, "--group-id", group, "--partitions", "4", "--checkpoint-interval-ms", "200"],
            env=env, stdout=subprocess.DEVNULL, stderr=log_file)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def _risk(bootstrap: str, topics: Topics) -> dict[str, dict[str, Any]]:
    return latest_by_key(await read_all(bootstrap, topics.risk))


async def test_seed_scenario_through_kafka(kafka_bootstrap: str, topic_prefix: str) -> None:
    """Seed events in Kafka -> hedge.risk shows net delta 0, ratio 1.0, hedge PnL +9000."""
    topics = Topics.with_prefix(topic_prefix)
    async with _processor(kafka_bootstrap, topics, f"{topic_prefix}g"):
        await produce(kafka_bootstrap, topics, [*_portfolio("seed", 1.5, 1_000),
                                                *_prices(60_000, 2_000)])
        await produce(kafka_bootstrap, topics, _prices(54_000, 3_000))

        async def dropped() -> dict[str, Any] | None:
            seed = (await _risk(kafka_bootstrap, topics)).get("seed")
            return seed if seed and seed["assets"]["BTC"]["price"] == 54_000 else None

        risk = await eventually(dropped, 30, interval_s=BROKER_POLL_S)
    btc = risk["assets"]["BTC"]
    assert btc["net_delta"] == pytest.approx(0.0, abs=1e-12)  # 1.5 - 150 * 0.01
    assert btc["hedge_ratio"] == pytest.approx(1.0)
    assert risk["positions"][0]["unrealized_pnl_usd"] == pytest.approx(9_000.0)  # -1.5 * -6000
    stress = {row["shock"]: row for row in risk["stress"]}
    assert stress[-0.1]["net_pnl_usd"] == pytest.approx(0.0, abs=0.005)


async def test_two_processors_split_and_cover_all_portfolios(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    """Two members of one group each own some partitions; together they publish every portfolio."""
    topics = Topics.with_prefix(topic_prefix)
    group = f"{topic_prefix}g"
    names = [f"p{i}" for i in range(12)]
    async with _processor(kafka_bootstrap, topics, group) as first, \
            _processor(kafka_bootstrap, topics, group) as second:
        await eventually(lambda: first.owned_partitions and second.owned_partitions and
                         len(first.owned_partitions | second.owned_partitions) == 4, 60,
                         interval_s=BROKER_POLL_S)
        assert not first.owned_partitions & second.owned_partitions
        events: list[Event] = [*_prices(60_000, 1_000)]
        for index, name in enumerate(names):
            events += _portfolio(name, 0.1 * (index + 1), 2_000)
        await produce(kafka_bootstrap, topics, events)
        risk = await eventually(lambda: _all_published(kafka_bootstrap, topics, names), 60,
                                interval_s=BROKER_POLL_S)
        assert first.published_snapshots > 0
        assert second.published_snapshots > 0
    for index, name in enumerate(names):
        # 0.1 * (i + 1) BTC hedged by round(0.1 * (i + 1) / 0.01) contracts: net delta 0
        assert risk[name]["assets"]["BTC"]["spot_delta"] == pytest.approx(0.1 * (index + 1))
        assert risk[name]["assets"]["BTC"]["net_delta"] == pytest.approx(0.0, abs=1e-9)


async def _kill_and_reprice(
    bootstrap: str, topics: Topics, names: list[str], victim: subprocess.Popen[bytes],
    survivor: subprocess.Popen[bytes],
) -> dict[str, Any]:
    """SIGKILL ``victim``, tick at 50,000 and return the snapshots once all show it."""
    victim.send_signal(signal.SIGKILL)
    victim.wait(10)
    risk = await _repriced(bootstrap, topics, names, 50_000)
    assert survivor.poll() is None
    return risk


def _assert_hedges(risk: dict[str, Any], names: list[str], quantity: float, pnl: float) -> None:
    for name in names:
        position = risk[name]["positions"][0]
        assert position["quantity"] == quantity
        assert position["unrealized_pnl_usd"] == pytest.approx(pnl)


async def _repriced(
    bootstrap: str, topics: Topics, names: list[str], price: float,
) -> dict[str, Any]:
    """Send a tick at ``price`` and wait until every portfolio's snapshot shows it."""
    await produce(bootstrap, topics, _prices(price, 5_000))

    async def shown() -> dict[str, Any] | None:
        risk = await _risk(bootstrap, topics)
        done = all(risk.get(n, {}).get("assets", {}).get("BTC", {}).get("price") == price
                   for n in names)
        return risk if done else None

    risk: dict[str, Any] = await eventually(shown, 90, interval_s=BROKER_POLL_S)
    return risk


async def _all_published(bootstrap: str, topics: Topics, names: list[str]) -> dict[str, Any] | None:
    """The latest snapshots once every portfolio's has its hedge leg, priced.

    Prices and positions arrive on different topics, so a first snapshot can hold the leg before
    its price (net delta unknown, never 0) or the balance before the leg; both are superseded.
    """
    risk = await _risk(bootstrap, topics)
    settled = all(
        name in risk and risk[name]["positions"] and not risk[name]["unpriced_positions"]
        for name in names
    )
    return risk if settled else None


async def test_killed_processor_fails_over_with_state(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    """SIGKILL one of two processes: the survivor takes its portfolios over with their state."""
    topics = Topics.with_prefix(topic_prefix)
    group = f"{topic_prefix}g"
    names = [f"k{i}" for i in range(8)]
    bus = KafkaBus(KafkaSettings(bootstrap_servers=kafka_bootstrap))
    await bus.create_topics(topics.specs(4))
    with _process(kafka_bootstrap, topics, group, tmp_path / "victim.log") as victim, \
            _process(kafka_bootstrap, topics, group, tmp_path / "survivor.log") as survivor:
        events: list[Event] = [*_prices(60_000, 1_000)]
        for name in names:
            events += _portfolio(name, 1.0, 2_000)
        await produce(kafka_bootstrap, topics, events)
        await eventually(lambda: _all_published(kafka_bootstrap, topics, names), 90, interval_s=BROKER_POLL_S)
        # both have checkpointed and committed every position before the kill
        await eventually(lambda: everything_committed(kafka_bootstrap, group, topics.positions, 4), 60,
                         interval_s=BROKER_POLL_S)
        # only a price arrives after the kill: positions must come from the checkpointed state
        risk = await _kill_and_reprice(kafka_bootstrap, topics, names, victim, survivor)
    # -100 * 0.01 * (50000 - 60000) = +10000
    _assert_hedges(risk, names, -100, 10_000.0)


async def test_an_expelled_member_leaves_its_successor_state_alone(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    """A member stalled past its session is expelled; resumed, it writes nothing for what it lost."""
    topics = Topics.with_prefix(topic_prefix)
    group = f"{topic_prefix}g"
    names = [f"s{i}" for i in range(8)]
    bus = KafkaBus(KafkaSettings(bootstrap_servers=kafka_bootstrap))
    await bus.create_topics(topics.specs(4))
    stalled_log, survivor_log = tmp_path / "stalled.log", tmp_path / "survivor.log"

    def logs() -> str:
        return "\n".join(f"--- {log.name}:\n{log.read_text()[-3_000:]}"
                         for log in (stalled_log, survivor_log))
    with _process(kafka_bootstrap, topics, group, stalled_log) as stalled, \
            _process(kafka_bootstrap, topics, group, survivor_log) as survivor:
        events: list[Event] = [*_prices(60_000, 1_000)]
        for name in names:
            events += _portfolio(name, 1.0, 2_000)
        await produce(kafka_bootstrap, topics, events)
        await eventually(lambda: _all_published(kafka_bootstrap, topics, names), 90,
                         interval_s=BROKER_POLL_S)
        await eventually(lambda: everything_committed(kafka_bootstrap, group, topics.positions, 4), 60,
                         interval_s=BROKER_POLL_S)
        # the member to stall must hold partitions first: stopped inside the join's rebalance, it
        # owns nothing, is never expelled from anything, and simply rejoins
        await eventually(lambda: re.search(r"assigned partitions \[\d", stalled_log.read_text()), 60,
                         interval_s=BROKER_POLL_S, state=logs)
        every = "assigned partitions [0, 1, 2, 3]"
        held_every = survivor_log.read_text().count(every)  # it may have held all before the join
        stalled.send_signal(signal.SIGSTOP)
        try:
            # past the 10 s session the group expels it and the survivor takes every partition
            await eventually(lambda: survivor_log.read_text().count(every) > held_every,
                             60, interval_s=BROKER_POLL_S, state=logs)
            await produce(kafka_bootstrap, topics, [
                PositionEvent(name, "okx", SWAP, -90, 60_000, 10, "isolated", 5_400, 3_000, 3_000)
                for name in names])

            async def shows(quantity: float) -> dict[str, Any] | None:
                risk = await _risk(kafka_bootstrap, topics)
                done = all(risk.get(n, {}).get("positions", [{}])[0].get("quantity") == quantity
                           for n in names)
                return risk if done else None

            await eventually(lambda: shows(-90), 60, interval_s=BROKER_POLL_S, state=logs)
        finally:
            stalled.send_signal(signal.SIGCONT)
        await eventually(lambda: "this member was expelled" in stalled_log.read_text(), 60,
                         interval_s=BROKER_POLL_S, state=logs)
        # resumed, it saw its stall and wrote nothing before the group refused it
        assert "writing nothing until the group confirms this member" in stalled_log.read_text()
        await eventually(lambda: everything_committed(kafka_bootstrap, group, topics.positions, 4), 60,
                         interval_s=BROKER_POLL_S)
        # the survivor dies: the state it left (not the expelled member's older one) comes back
        risk = await _kill_and_reprice(kafka_bootstrap, topics, names, survivor, stalled)
    # -90 * 0.01 * (50000 - 60000) = +9000
    _assert_hedges(risk, names, -90, 9_000.0)


async def test_restart_restores_state(kafka_bootstrap: str, topic_prefix: str) -> None:
    """A restarted processor needs no re-sent positions: its state comes back from hedge.state."""
    topics = Topics.with_prefix(topic_prefix)
    group = f"{topic_prefix}g"
    async with _processor(kafka_bootstrap, topics, group):
        await produce(kafka_bootstrap, topics, [*_portfolio("r", 1.5, 1_000), *_prices(60_000, 2_000)])
        await eventually(lambda: _all_published(kafka_bootstrap, topics, ["r"]), 30, interval_s=BROKER_POLL_S)
    async with _processor(kafka_bootstrap, topics, group):
        await produce(kafka_bootstrap, topics, _prices(57_000, 3_000))

        async def repriced() -> dict[str, Any] | None:
            r = (await _risk(kafka_bootstrap, topics)).get("r")
            return r if r and r["assets"]["BTC"]["price"] == 57_000 else None

        risk = await eventually(repriced, 30, interval_s=BROKER_POLL_S)
    assert risk["assets"]["BTC"]["spot_delta"] == 1.5
    assert risk["positions"][0]["unrealized_pnl_usd"] == pytest.approx(4_500.0)  # -1.5 * -3000


async def test_malformed_events_reach_the_dead_letter_topic(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    """A malformed value lands in hedge.dlq with its reason and processing continues."""
    topics = Topics.with_prefix(topic_prefix)
    async with _processor(kafka_bootstrap, topics, f"{topic_prefix}g") as processor:
        await produce_raw(kafka_bootstrap, topics.positions, b"bad", b'{"v":1,"type":"balance"}')
        await produce(kafka_bootstrap, topics, [*_portfolio("ok", 1.0, 1_000), *_prices(60_000, 2_000)])
        letters = await eventually(lambda: read_all(kafka_bootstrap, topics.dlq), 30,
                                   interval_s=BROKER_POLL_S)
        await eventually(lambda: _all_published(kafka_bootstrap, topics, ["ok"]), 30,
                         interval_s=BROKER_POLL_S)
        assert processor.dead_letters == 1
    assert letters[0][1]["reason"] == "missing field 'ts_event_ms'"
    assert letters[0][1]["raw"] == '{"v":1,"type":"balance"}'
