"""Alerts delivered end to end through a real Alertmanager to webhook receivers this test runs.

The rally-liquidation scenario (plus a recovery back to 60,000) plays through the demo with the
Alertmanager bridge on, while a real Prometheus scrapes the demo's metrics with the project's rules
and sends to the same Alertmanager, configured from ``deploy/alertmanager/alertmanager.yml`` with
short group timings. Asserted:

1. the critical liquidation alert reaches the critical receiver with its remediation, by the bridge
   (``liquidation_distance_low``, annotation ``remediation``) and by the Prometheus rule
   (``HedgeLiquidationImminent``, annotation from the ``hedge_remediation_*`` gauges);
2. both are resolved after the recovery;
3. inhibition silences the same leg's warnings: the bridge posted a warning stage for the leg,
   Alertmanager reports it inhibited by the critical, and the warning receiver never gets a
   warning for that leg.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.test_prometheus import free_port, prometheus_binary
from tests.support import eventually

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

ROOT = Path(__file__).resolve().parents[2]
ALERTMANAGER_CONFIG = ROOT / "deploy" / "alertmanager" / "alertmanager.yml"
RULE_FILES = sorted((ROOT / "deploy" / "prometheus" / "rules").glob("*.yml"))
LEG = "okx:BTC-USDT-SWAP"
SPEED = 25.0
STARTUP_S = 30.0
DELIVERY_S = 60.0


def alertmanager_binary() -> str:
    """The Debian package's binary; skip without it on a developer machine, fail in CI."""
    path = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if path is not None:
        return path
    message = "prometheus-alertmanager is not installed: run `bash deploy/prometheus/install.sh`"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message} (CI must run this test)")
    pytest.skip(message)


class Webhook:
    """A webhook receiver (stdlib HTTP server in a thread) keeping every notification by path."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, Any]]] = []
        lock = threading.Lock()
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with lock:
                    received.append((self.path, json.loads(body)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                return  # the test reads what arrived, not the access log

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The receiver's base URL."""
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def alerts(self, receiver: str, status: str | None = None) -> list[dict[str, Any]]:
        """Every alert delivered to ``/hedge/<receiver>`` (with the given status)."""
        return [alert for path, payload in list(self.received) if path == f"/hedge/{receiver}"
                for alert in payload.get("alerts", []) if status is None or alert["status"] == status]

    def __enter__(self) -> Webhook:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def alertmanager_config(webhook: Webhook) -> dict[str, Any]:
    """The shipped config with the receivers pointed at ``webhook`` and short group timings.

    Warnings wait 10 s before their first notification (30 s shipped) so a critical that follows
    within that time inhibits them, as in production; criticals go at once, 1 s between updates.
    """
    config: dict[str, Any] = yaml.safe_load(ALERTMANAGER_CONFIG.read_text(encoding="utf-8"))
    for receiver in config["receivers"]:
        for webhook_config in receiver.get("webhook_configs", []):
            path = re.sub(r"^https?://[^/]+", "", webhook_config["url"])
            webhook_config["url"] = webhook.url + path
    route = config["route"]
    route.update(group_wait="10s", group_interval="2s", repeat_interval="1h")
    for child in route["routes"]:
        child.update(group_interval="1s", repeat_interval="1h")
        child["group_wait"] = "0s" if child["receiver"] == "hedge-critical" else "10s"
    return config


@dataclass(frozen=True)
class Alertmanager:
    """An Alertmanager this test started."""

    url: str
    log: Path

    def get(self, path: str) -> Any:
        """GET a JSON API path."""
        with urllib.request.urlopen(f"{self.url}{path}", timeout=5) as response:  # noqa: S310 -- loopback
            return json.loads(response.read())

    def ready(self) -> bool:
        """True once /-/ready answers 200."""
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as response:  # noqa: S310 -- loopback
                return bool(response.status == 200)
        except (urllib.error.URLError, ConnectionError):
            return False


@contextlib.contextmanager
def running(command: list[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Run a server process with its output in ``log``; terminate it on exit."""
    with log.open("w", encoding="utf-8") as log_file:
        process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL)
        try:
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=20)


def rally_with_recovery(tmp_path: Path) -> Path:
    """rally-liquidation, then back to 60,000 over 60 s from 380 s (the scenario ends at 480 s)."""
    text = resources.files("monitor.sim").joinpath("scenarios", "rally-liquidation.json").read_text(
        encoding="utf-8")
    scenario = json.loads(text)
    scenario["steps"].append({"at_s": 380, "kind": "trend", "asset": "BTC", "to": 60000, "over_s": 60})
    scenario["duration_s"] = 480
    path = tmp_path / "rally-liquidation-recovery.json"
    path.write_text(json.dumps(scenario), encoding="utf-8")
    return path


def leg_alerts(alerts: list[dict[str, Any]], **labels: str) -> list[dict[str, Any]]:
    """The alerts on the rally's leg with every given label."""
    return [alert for alert in alerts if alert["labels"].get("instrument") == LEG
            and all(alert["labels"].get(name) == value for name, value in labels.items())]


async def test_the_rally_reaches_the_receivers_by_the_bridge_and_the_rules(tmp_path: Path) -> None:
    """Critical with remediation by both paths, resolved after recovery, the leg's warnings inhibited."""
    alertmanager_bin = alertmanager_binary()
    prometheus_bin = prometheus_binary()
    with Webhook() as webhook:
        am_port, metrics_port, prometheus_port = free_port(), free_port(), free_port()
        am_config = tmp_path / "alertmanager.yml"
        am_config.write_text(yaml.safe_dump(alertmanager_config(webhook)), encoding="utf-8")
        am = Alertmanager(f"http://127.0.0.1:{am_port}", tmp_path / "alertmanager.log")
        prometheus_config = tmp_path / "prometheus.yml"
        prometheus_config.write_text(yaml.safe_dump({
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(path) for path in RULE_FILES],
            "alerting": {"alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{am_port}"]}]}]},
            "scrape_configs": [{"job_name": "hedge-demo",
                                "static_configs": [{"targets": [f"127.0.0.1:{metrics_port}"]}]}],
        }), encoding="utf-8")
        with running([alertmanager_bin, f"--config.file={am_config}",
                      f"--storage.path={tmp_path / 'am-data'}", f"--web.listen-address=127.0.0.1:{am_port}",
                      "--cluster.listen-address=", "--log.level=warn"], am.log), \
             running([prometheus_bin, f"--config.file={prometheus_config}",
                      f"--storage.tsdb.path={tmp_path / 'prom-data'}",
                      f"--web.listen-address=127.0.0.1:{prometheus_port}", "--log.level=warn"],
                     tmp_path / "prometheus.log"):
            await eventually(am.ready, STARTUP_S, interval_s=0.2,
                             state=lambda: am.log.read_text(encoding="utf-8")[-2000:])
            inhibited_warnings: list[dict[str, Any]] = []

            def watch_inhibition() -> None:
                alerts = am.get("/api/v2/alerts?active=false&inhibited=true&silenced=false&unprocessed=false")
                inhibited_warnings.extend(
                    alert for alert in leg_alerts(alerts, severity="warning", source="hedge-monitor")
                    if alert["status"]["inhibitedBy"])

            env = {**os.environ, "PYTHONPATH": str(ROOT)}
            demo = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "monitor", "demo", "--scenario", str(rally_with_recovery(tmp_path)),
                "--speed", str(SPEED), "--plain", "--refresh", "5", "--metrics-port", str(metrics_port),
                "--alertmanager", am.url, "--alertmanager-resend-s", "5",
                env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            communicate = asyncio.ensure_future(demo.communicate())

            async def critical_by_both_paths() -> bool:
                await asyncio.to_thread(watch_inhibition)
                firing = webhook.alerts("critical", "firing")
                bridge = leg_alerts(firing, alertname="liquidation_distance_low", source="hedge-monitor")
                rule = leg_alerts(firing, alertname="HedgeLiquidationImminent")
                return bool(bridge and rule)

            await eventually(critical_by_both_paths, DELIVERY_S, interval_s=0.25,
                             state=lambda: json.dumps(webhook.received)[-3000:])
            stdout, stderr = await asyncio.wait_for(communicate, DELIVERY_S)
            assert demo.returncode == 0, stderr.decode()[-3000:]

            firing = webhook.alerts("critical", "firing")
            bridge = leg_alerts(firing, alertname="liquidation_distance_low", source="hedge-monitor")[0]
            # the bridge's remediation: the margin to add for 9 % (the demo's stages resolve there)
            assert re.fullmatch(r"add [\d,.]+ USDT margin to bring liquidation back to 9\.0 % away "
                                r"\([\d,.]+\), or reduce the short by \d+ contracts?.*",
                                bridge["annotations"]["remediation"]), bridge["annotations"]
            assert bridge["labels"]["account"] == "okx-main"
            rule = leg_alerts(firing, alertname="HedgeLiquidationImminent")[0]
            assert re.fullmatch(r"to bring liquidation back to 9\.0 % away: add [\d.]+ USD margin, or "
                                r"reduce the position by \d+ contracts", rule["annotations"]["remediation"])

            def resolved_by_both_paths() -> bool:
                resolved = webhook.alerts("critical", "resolved")
                return bool(leg_alerts(resolved, alertname="liquidation_distance_low")
                            and leg_alerts(resolved, alertname="HedgeLiquidationImminent"))

            await eventually(resolved_by_both_paths, DELIVERY_S, interval_s=0.25,
                             state=lambda: json.dumps(webhook.received)[-3000:] + stdout.decode()[-2000:])

        # the warning stage of the leg was posted, held back by the critical, never delivered
        assert inhibited_warnings, "the bridge's warning stage for the leg was never seen inhibited"
        assert leg_alerts(webhook.alerts("warning")) == []
