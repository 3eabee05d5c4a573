"""Crash test at CI size: a group of two processors SIGKILLed eight times while 10k events flow.

Kills restart a processor, land while a new member joins (mid-rebalance) or shrink the group (new
members join later); the broker is stopped and started twice during the run; the price topic holds
an old history that restarted processors skip through their price checkpoint. One run (module
fixture, about two minutes on 2 cores) feeds every test below; each test asserts one of the
verifier's checks (monitor.reliability.verify). The full-size run is the ``hedge-monitor
crash-test`` command (docs/reliability.md).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from monitor.app import build_engine
from monitor.bus.base import Topics
from monitor.bus.kafka import KafkaBus, KafkaSettings
from monitor.domain.events import BalanceEvent, Event, PositionEvent, PriceEvent
from monitor.processor.runner import Processor, ProcessorSettings
from monitor.reliability.crashtest import (
    CrashTestResult,
    CrashTestSettings,
    KafkaScriptBroker,
    run_crash_test,
)
from monitor.reliability.kafka_io import read_topic
from monitor.reliability.verify import AlertLog, VerificationReport, check_alerts
from monitor.reliability.workload import WorkloadSettings
from tests.integration.conftest import KafkaBroker
from tests.integration.kafka_helpers import BROKER_POLL_S, latest_by_key, produce, read_all
from tests.support import eventually

ROOT = Path(__file__).resolve().parents[2]
SWAP = "okx:BTC-USDT-SWAP"

EVENTS = 10_000
PORTFOLIOS = 40
KILLS = 8
BROKER_RESTARTS = 2
HISTORY_HOURS = 0.02  # 720 ticks of each instrument


@pytest.fixture(scope="module")
def crash_run(kafka_bootstrap: str, kafka_broker: KafkaBroker | None,
              tmp_path_factory: pytest.TempPathFactory) -> CrashTestResult:
    """One crash-test run: 10k events, 40 portfolios, 8 SIGKILLs, 2 broker restarts, then verification."""
    if kafka_broker is None:
        pytest.skip("HEDGE_KAFKA_BOOTSTRAP names an external broker: the crash test restarts its own")
    settings = CrashTestSettings(
        bootstrap=kafka_bootstrap,
        workload=WorkloadSettings(events=EVENTS, portfolios=PORTFOLIOS, seed=7),
        kills=KILLS,
        processors=2,
        partitions=6,
        topic_prefix=f"crash{uuid.uuid4().hex[:8]}.",
        catch_up_timeout_s=180.0,
        work_dir=Path(tmp_path_factory.mktemp("crash-logs")),
        rebalance_kill_share=0.35,
        leave_share=0.2,
        broker_restarts=BROKER_RESTARTS,
        restart_broker=KafkaScriptBroker(kafka_broker.port, kafka_broker.controller_port,
                                         kafka_broker.run_dir),
        history_hours=HISTORY_HOURS,
    )
    return asyncio.run(run_crash_test(settings, command="tests/integration/test_crash.py"))


def _details(result: CrashTestResult) -> str:
    return result.table() + f"\nprocessor logs: {result.log_dir}"


def test_run_completes_with_every_kill(crash_run: CrashTestResult) -> None:
    """Every event is written, every kill lands and every processor stops cleanly after SIGTERM."""
    assert crash_run.problems == [], _details(crash_run)
    assert crash_run.events_written == EVENTS
    assert len(crash_run.kills) == KILLS
    assert crash_run.incarnations == len(crash_run.lives) > 2 + KILLS - 1
    assert crash_run.exit_codes == [0, 0], _details(crash_run)  # the group ends at its size
    assert any(kill.owned_partitions for kill in crash_run.kills)


def test_the_group_changes_while_it_is_killed(crash_run: CrashTestResult) -> None:
    """Kills land during rebalances and shrink the group; new members (new slots) join."""
    actions = [kill.action for kill in crash_run.kills]
    assert "rebalance" in actions, _details(crash_run)
    assert "leave" in actions, _details(crash_run)
    assert any(kill.rebalancing for kill in crash_run.kills if kill.action == "rebalance"), \
        _details(crash_run)
    assert max(life.processor for life in crash_run.lives) >= 2  # a third member slot was started


def test_the_broker_restarts_twice_and_the_processors_resume(crash_run: CrashTestResult) -> None:
    """Both restarts completed mid-stream; the verification below holds across them."""
    assert len(crash_run.broker_restarts) == BROKER_RESTARTS, _details(crash_run)
    assert all(0 < restart.at_event < EVENTS for restart in crash_run.broker_restarts)


def test_recovery_times_are_reported_for_every_life(crash_run: CrashTestResult) -> None:
    """The first lives read the whole history; every life that owned partitions has its time."""
    recovery = crash_run.recovery()
    assert crash_run.history_ticks == int(HISTORY_HOURS * 3_600 * 10) * crash_run.instruments
    assert recovery["first"]["recovered"] == 2
    assert recovery["later"]["recovered"] >= 1
    assert "recovery, later lives" in crash_run.table()


def test_inputs_hold_what_the_driver_wrote(crash_run: CrashTestResult) -> None:
    """hedge.positions holds every account event the driver wrote (a chunk resent after a failed
    delivery may repeat), nothing is undecodable or dead-lettered."""
    report = crash_run.verification
    assert report.passed("inputs"), report.failures["inputs"]
    # a chunk resent after a delivery failed during a broker restart may be held twice
    assert crash_run.account_events <= report.account_records <= (crash_run.account_events
                                                                   + crash_run.resent_accounts)
    # the history, every price tick, and one settle tick per instrument
    written_prices = crash_run.history_ticks + crash_run.price_events + crash_run.settle_ticks
    assert written_prices <= report.price_records <= written_prices + crash_run.resent_prices


def test_every_final_snapshot_equals_the_recomputation(crash_run: CrashTestResult) -> None:
    """The last hedge.risk snapshot of every portfolio equals a replay of the inputs to 1e-9."""
    report = crash_run.verification
    assert report.passed("snapshots"), report.failures["snapshots"]
    assert report.portfolios == PORTFOLIOS
    assert report.portfolios_verified == PORTFOLIOS


def test_every_position_and_balance_update_is_reflected(crash_run: CrashTestResult) -> None:
    """The final quantities are the last update of every position and balance key."""
    report = crash_run.verification
    assert report.passed("updates"), report.failures["updates"]
    assert report.positions_checked > PORTFOLIOS
    assert report.balances_checked > PORTFOLIOS




def test_alert_transitions_stay_consistent_across_kills(crash_run: CrashTestResult) -> None:
    """Duplicated alerts share ids, firings pair with resolutions and end in the final state."""
    report = crash_run.verification
    assert report.passed("alert_pairs"), report.failures["alert_pairs"]
    assert report.passed("alert_final"), report.failures["alert_final"]
    assert report.final_alert_states_checked > 0


def _prices(mark: float, ts_ms: int) -> list[Event]:
    """Swap and spot at ``mark``, received now (so no feed counts as stale)."""
    received = int(time.time() * 1000)
    return [PriceEvent(instrument, mark, None, None, None, ts_ms, received)
            for instrument in (SWAP, "okx:BTC-USDT")]


def _start_processor(bootstrap: str, topics: Topics, group: str, log: Path) -> subprocess.Popen[bytes]:
    """A processor subprocess that checkpoints only once, when it starts (interval 10 minutes)."""
    prefix = topics.prices.removesuffix("hedge.prices")
    with log.open("wb") as log_file:
        return subprocess.Popen(
            [sys.executable, "-m", "monitor", "process", "--kafka", bootstrap, "--topic-prefix", prefix,
             "--group-id", group, "--partitions", "2", "--checkpoint-interval-ms", "600000"],
            env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.DEVNULL, stderr=log_file)


async def _alerts(bootstrap: str, topics: Topics) -> list[dict[str, Any]]:
    return [value for _, value in await read_all(bootstrap, topics.alerts)]


async def test_alert_fired_before_a_crash_keeps_its_id_after_the_replay(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    """A firing published just before a SIGKILL is not fired again under another id after restart."""
    topics = Topics.with_prefix(topic_prefix)
    group = f"{topic_prefix}g"
    bus = KafkaBus(KafkaSettings(bootstrap_servers=kafka_bootstrap))
    await bus.create_topics(topics.specs(2))
    hedged: list[Event] = [BalanceEvent("a", "cold", "BTC", 1.0, 2_000, 2_000),
              PositionEvent("a", "okx", SWAP, -100, 60_000, 10, "isolated", 6_000, 2_000, 2_000)]
    victim = _start_processor(kafka_bootstrap, topics, group, tmp_path / "victim.log")
    try:
        await produce(kafka_bootstrap, topics, [*_prices(60_000, 1_000), *hedged])

        async def ratio() -> float | None:
            snapshot = latest_by_key(await read_all(kafka_bootstrap, topics.risk)).get("a")
            return None if snapshot is None else snapshot["assets"]["BTC"]["hedge_ratio"]

        # 100 contracts * 0.01 BTC hedge 1.0 BTC held: ratio 1.0, no alert
        assert await eventually(ratio, 90, interval_s=BROKER_POLL_S) == pytest.approx(1.0)
        # 2.0 BTC held, 1.0 hedged: ratio 0.5 < 0.9 (target 1.0 - band 0.1) fires hedge_ratio_low
        await produce(kafka_bootstrap, topics, [BalanceEvent("a", "cold", "BTC", 2.0, 3_000, 3_000)])
        fired = await eventually(lambda: _alerts(kafka_bootstrap, topics), 60, interval_s=BROKER_POLL_S)
        assert [(t["rule"], t["state"], t["ts_ms"]) for t in fired] == [("hedge_ratio_low", "firing", 3_000)]
        victim.send_signal(signal.SIGKILL)
        victim.wait(10)
    finally:
        if victim.poll() is None:
            victim.kill()
            victim.wait()
    # the market moves on while no processor runs: a newer price (same level)
    await produce(kafka_bootstrap, topics, _prices(60_000, 5_000))
    stop = asyncio.Event()
    successor = Processor(bus, build_engine(), ProcessorSettings(
        topics=topics, group_id=group, checkpoint_interval_ms=200))
    task = asyncio.create_task(successor.run(stop))
    try:
        async def repriced() -> bool:
            snapshot = latest_by_key(await read_all(kafka_bootstrap, topics.risk)).get("a")
            return snapshot is not None and snapshot["ts_event_ms"] >= 5_000

        await eventually(lambda: task.done() or repriced(), 90, interval_s=BROKER_POLL_S)
    finally:
        stop.set()
        await task
    alerts = AlertLog()
    await read_topic(bus, topics.alerts, alerts.add)
    report = VerificationReport()
    check_alerts(report, alerts.transitions, {})
    assert report.passed("alert_pairs"), report.failures["alert_pairs"]
