"""``hedge-monitor alert-bridge`` on a real Kafka broker posts to a real Alertmanager.

The alert engine's own transitions (a critical liquidation alert with its remediation, then its
resolution) are published on ``hedge.alerts``; the bridge command follows the topic and the
Alertmanager delivers both to the critical receiver; SIGTERM stops the bridge cleanly.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import orjson
import pytest
import yaml

from monitor.alerts import AlertEngine, AlertsConfig
from monitor.bus.base import Topics
from monitor.bus.kafka import KafkaBus, KafkaSettings
from tests.integration.kafka_helpers import produce_raw
from tests.integration.test_alert_delivery import (
    ROOT,
    Alertmanager,
    Webhook,
    alertmanager_binary,
    alertmanager_config,
    running,
)
from tests.integration.test_prometheus import free_port
from tests.support import eventually
from tests.unit.alerts.snapshots import T0, position, snapshot
from tests.unit.alerts.test_remediation import RALLY_REMEDIATION

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

DEADLINE_S = 60.0


async def test_the_bridge_command_delivers_the_alerts_topic(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path,
) -> None:
    """A firing and its resolution on hedge.alerts reach the critical receiver, remediation included."""
    binary = alertmanager_binary()
    topics = Topics.with_prefix(topic_prefix)
    bus = KafkaBus(KafkaSettings(bootstrap_servers=kafka_bootstrap))
    try:
        await bus.create_topics(topics.specs(1))
    finally:
        await bus.close()
    engine = AlertEngine(AlertsConfig())
    breach = position(liquidation_price=65_704.33, liquidation_distance=0.049, remediation=RALLY_REMEDIATION)
    fired = engine.evaluate(snapshot(T0, positions=[breach]))
    resolved = engine.evaluate(snapshot(T0 + 1_000, positions=[position(liquidation_distance=0.07)]))
    assert [t.state for t in fired + resolved] == ["firing", "resolved"]

    with Webhook() as webhook:
        port = free_port()
        config = tmp_path / "alertmanager.yml"
        config.write_text(yaml.safe_dump(alertmanager_config(webhook)), encoding="utf-8")
        am = Alertmanager(f"http://127.0.0.1:{port}", tmp_path / "alertmanager.log")
        with running([binary, f"--config.file={config}", f"--storage.path={tmp_path / 'data'}",
                      f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=",
                      "--log.level=warn"], am.log):
            await eventually(am.ready, DEADLINE_S, interval_s=0.2)
            bridge = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "monitor", "alert-bridge", "--kafka", kafka_bootstrap,
                "--topic-prefix", topic_prefix, "--alertmanager", am.url, "--alertmanager-resend-s", "2",
                env={**os.environ, "PYTHONPATH": str(ROOT)},
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            try:
                await produce_raw(kafka_bootstrap, topics.alerts, b"alice", orjson.dumps(fired[0].to_dict()))
                firing = await eventually(lambda: webhook.alerts("critical", "firing"), DEADLINE_S,
                                          interval_s=0.2, state=lambda: am.log.read_text(encoding="utf-8"))
                alert = firing[0]
                assert alert["labels"]["alertname"] == "liquidation_distance_low"
                assert alert["labels"]["account"] == "okx-main"
                assert alert["annotations"]["remediation"].startswith("add 23.61 USDT margin to bring "
                                                                      "liquidation back to 6.0 % away")
                await produce_raw(kafka_bootstrap, topics.alerts, b"alice",
                                  orjson.dumps(resolved[0].to_dict()))
                await eventually(lambda: webhook.alerts("critical", "resolved"), DEADLINE_S, interval_s=0.2)
            finally:
                if bridge.returncode is None:
                    bridge.send_signal(signal.SIGTERM)
                stdout, stderr = await asyncio.wait_for(bridge.communicate(), DEADLINE_S)
            assert bridge.returncode == 0, stderr.decode()[-3000:]
            assert b"alert-bridge: posted" in stdout
