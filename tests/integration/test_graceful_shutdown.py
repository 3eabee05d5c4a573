"""SIGTERM during a run on Kafka: the processor drains, checkpoints and commits consistent offsets."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from monitor.bus.base import Topics
from monitor.bus.kafka import KafkaBus, KafkaSettings
from monitor.domain.events import BalanceEvent, Event, PositionEvent, PriceEvent
from tests.integration.kafka_helpers import (
    BROKER_POLL_S,
    committed_and_ends,
    latest_by_key,
    produce,
    read_all,
)
from tests.support import eventually

ROOT = Path(__file__).resolve().parents[2]
SWAP = "okx:BTC-USDT-SWAP"
PARTITIONS = 3


async def test_sigterm_commits_every_processed_offset_with_its_state(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    """After SIGTERM the group's committed offsets equal the ends, and the state markers agree."""
    topics = Topics.with_prefix(topic_prefix)
    group = f"{topic_prefix}g"
    await KafkaBus(KafkaSettings(bootstrap_servers=kafka_bootstrap)).create_topics(topics.specs(PARTITIONS))
    now = int(time.time() * 1000)
    events: list[Event] = [PriceEvent(SWAP, 60_000, None, None, None, 1_000, now),
                           PriceEvent("okx:BTC-USDT", 60_000, None, None, None, 1_000, now)]
    names = [f"s{i}" for i in range(9)]
    for name in names:
        events += [BalanceEvent(name, "cold", "BTC", 1.0, 2_000, 2_000),
                   PositionEvent(name, "okx", SWAP, -100, 60_000, 10, "isolated", 600, 2_000, 2_000)]
    log = (tmp_path / "processor.log").open("wb")
    # A checkpoint interval of 10 minutes: only the shutdown can checkpoint and commit.
    process = subprocess.Popen(  # noqa: ASYNC220 -- started once; waited for in a thread
        [sys.executable, "-m", "monitor", "process", "--kafka", kafka_bootstrap, "--topic-prefix",
         topic_prefix, "--group-id", group, "--partitions", str(PARTITIONS),
         "--checkpoint-interval-ms", "600000"],
        env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.DEVNULL, stderr=log)
    try:
        await produce(kafka_bootstrap, topics, events)

        async def all_published() -> bool:
            risk = latest_by_key(await read_all(kafka_bootstrap, topics.risk))
            return all(name in risk and risk[name]["positions"] for name in names)

        await eventually(all_published, 60, interval_s=BROKER_POLL_S)
        process.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(process.wait, 30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        log.close()
    committed, ends = await committed_and_ends(kafka_bootstrap, group, topics.positions, PARTITIONS)
    # 9 portfolios x 2 account events = 18 records over the partitions: all committed
    assert sum(ends.values()) == 18
    assert all(committed[p] == ends[p] for p in ends if ends[p])
    markers = latest_by_key(await read_all(kafka_bootstrap, topics.state))
    for partition, end in ends.items():
        if end:
            assert markers[f"{group}/{partition}"]["offset"] == end == committed[partition]
