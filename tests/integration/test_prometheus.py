"""A real Prometheus scrapes serve_metrics; every dashboard panel query and every recording rule
then returns data through the Prometheus HTTP API."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import yaml

from monitor.codec import decode_risk
from monitor.metrics import Metrics, serve_metrics
from tests.support import eventually
from tests.unit.deploy.sample_snapshots import add_venue_figures, exercise_every_metric, seed_snapshot
from tests.unit.deploy.tooling import PROMETHEUS_DIR, dashboard_queries, load_dashboards

# One Prometheus for the module: the fixture and the tests share the module's event loop.
pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

STARTUP_DEADLINE_S = 60.0
QUERY_DEADLINE_S = 60.0
POLL_INTERVAL_S = 0.25
FEED_INTERVAL_S = 0.2
PORTFOLIOS = ("alice", "bob")
# The hand-made snapshot sequence: the seed hedge as BTC moves; each step the feed advances one.
PRICES = (60000.0, 59400.0, 58800.0, 59700.0, 60600.0, 61200.0)
RULE_FILES = sorted((PROMETHEUS_DIR / "rules").glob("*.yml"))


def prometheus_binary() -> str:
    """The prometheus binary; skip without it on a developer machine, fail in CI (CI=true)."""
    path = shutil.which("prometheus")
    if path is not None:
        return path
    message = "prometheus is not installed: run `bash deploy/prometheus/install.sh`"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message} (CI must run this test)")
    pytest.skip(message)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def snapshot_at(portfolio: str, step: int, now_ms: int) -> dict[str, Any]:
    """Step ``step`` of the sequence: the seed hedge re-marked at the step's price."""
    price = PRICES[step % len(PRICES)]
    snapshot = seed_snapshot(portfolio, seq=step + 1, ts_ms=now_ms, price=price)
    move = price - 60000.0
    # spot 1.5 * move, hedge -150 * 0.01 * move: net 0 while fully hedged
    snapshot["positions"][0]["mark_price"] = price
    snapshot["positions"][0]["unrealized_pnl_usd"] = -1.5 * move
    # margin balance 9000 - 1.5 * move; buffer = balance - 360
    balance = 9000.0 - 1.5 * move
    snapshot["positions"][0]["margin_buffer_usd"] = balance - 360.0
    snapshot["positions"][0]["margin_buffer_fraction"] = (balance - 360.0) / balance
    snapshot["positions"][0]["liquidation_distance"] = (65737.05 - price) / price
    snapshot["costs"]["protection_usd"] = max(0.0, -1.5 * move)
    add_venue_figures(snapshot)
    return snapshot


class Feeder:
    """Keeps the metrics moving like a running monitor: snapshots, events, latency."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics
        self.step = 0

    def tick(self) -> None:
        """One step of the sequence for every portfolio plus pipeline events."""
        now_ms = int(time.time() * 1000)
        exercise_every_metric(self.metrics, ts_ms=now_ms,
                              latency_seconds=0.002 + 0.001 * (self.step % 5))
        for portfolio in PORTFOLIOS:
            self.metrics.observe_snapshot(decode_risk(snapshot_at(portfolio, self.step, now_ms)))
        self.metrics.set_firing_alerts([
            ("alice", "margin_buffer_low", "warning"),
            ("bob", "hedge_ratio_low", "warning"),
        ])
        self.step += 1

    async def run(self) -> None:
        """Tick until cancelled."""
        while True:
            self.tick()
            await asyncio.sleep(FEED_INTERVAL_S)


@dataclass(frozen=True)
class Prometheus:
    """A Prometheus server this test started."""

    url: str
    log: Path

    def get(self, path: str, **params: str) -> Any:
        """GET a JSON API path; the ``data`` member of a successful answer."""
        query = urllib.parse.urlencode(params)
        with urllib.request.urlopen(f"{self.url}{path}?{query}", timeout=10) as response:  # noqa: S310 -- loopback
            answer = json.loads(response.read())
        assert answer["status"] == "success", answer
        return answer["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """An instant query's result vector."""
        data = self.get("/api/v1/query", query=expr)
        assert data["resultType"] == "vector", (expr, data)
        result: list[dict[str, Any]] = data["result"]
        return result

    def ready(self) -> bool:
        """True once the server answers /-/ready."""
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as response:  # noqa: S310 -- loopback
                return bool(response.status == 200)
        except (urllib.error.URLError, ConnectionError):
            return False


def has_finite_value(result: list[dict[str, Any]]) -> bool:
    """True when the vector has at least one sample with a finite value."""
    return any(math.isfinite(float(sample["value"][1])) for sample in result)


def log_tail(log: Path | None) -> str:
    """The end of the server log, for failure messages."""
    if log is None or not log.exists():
        return ""
    return log.read_text(encoding="utf-8")[-3000:]


def waiting_for(what: str, log: Path | None) -> Callable[[], str]:
    """What a failed wait reports: what it waited for, then the end of the server log."""
    return lambda: f"waiting for {what}\n{log_tail(log)}"


@contextlib.contextmanager
def run_prometheus(tmp_path: Path, metrics_port: int) -> Iterator[Prometheus]:
    """Start Prometheus scraping 127.0.0.1:<metrics_port> every second, with the real rules."""
    binary = prometheus_binary()
    port = free_port()
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(path) for path in RULE_FILES],
        "scrape_configs": [{
            "job_name": "hedge-processor",
            "static_configs": [{"targets": [f"127.0.0.1:{metrics_port}"]}],
        }],
    }
    config_path = tmp_path / "prometheus.yml"
    config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
    log = tmp_path / "prometheus.log"
    with log.open("w", encoding="utf-8") as log_file:
        process = subprocess.Popen(
            [binary, f"--config.file={config_path}", f"--storage.tsdb.path={tmp_path / 'data'}",
             f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
            stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        try:
            yield Prometheus(f"http://127.0.0.1:{port}", log)
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=30)


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def prometheus(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Prometheus]:
    """A real Prometheus scraping a fed serve_metrics endpoint, once it has scraped it."""
    metrics = Metrics()
    feeder = Feeder(metrics)
    feeder.tick()
    server = await serve_metrics(metrics, port=0)
    feeding = asyncio.create_task(feeder.run())
    try:
        with run_prometheus(tmp_path_factory.mktemp("prometheus"), server.port) as running:

            async def is_ready() -> bool:
                return await asyncio.to_thread(running.ready)

            async def scraped() -> bool:
                result = await asyncio.to_thread(running.query, 'up{job="hedge-processor"} == 1')
                return bool(result)

            await eventually(is_ready, STARTUP_DEADLINE_S, interval_s=POLL_INTERVAL_S,
                             state=waiting_for("Prometheus to be ready", running.log))
            await eventually(scraped, STARTUP_DEADLINE_S, interval_s=POLL_INTERVAL_S,
                             state=waiting_for("a successful scrape", running.log))
            yield running
    finally:
        feeding.cancel()
        # A feeder failure re-raises here; only the cancellation asked for above is absorbed.
        with contextlib.suppress(asyncio.CancelledError):
            await feeding
        await server.close()


async def test_every_dashboard_query_returns_data(prometheus: Prometheus) -> None:
    """Each panel query of each dashboard, variables substituted, returns a finite sample."""
    queries = dashboard_queries()
    assert len(queries) > 20
    for query in queries:
        expr = query.resolved({"portfolio": "alice"})

        async def returns_data(expr: str = expr) -> bool:
            return has_finite_value(await asyncio.to_thread(prometheus.query, expr))

        await eventually(returns_data, QUERY_DEADLINE_S, interval_s=POLL_INTERVAL_S, state=waiting_for(
            f"data from {query.dashboard} / {query.panel} / {query.ref_id}: {expr}", prometheus.log))


async def test_portfolio_variable_lists_the_fed_portfolios(prometheus: Prometheus) -> None:
    """The overview's label_values(...) variable query finds every portfolio fed."""
    (variable,) = load_dashboards()["hedge-overview.json"]["templating"]["list"]
    definition: str = variable["definition"]
    metric, label = definition.removeprefix("label_values(").removesuffix(")").split(", ")
    values = await asyncio.to_thread(prometheus.get, f"/api/v1/label/{label}/values",
                                     **{"match[]": metric})
    assert set(values) >= set(PORTFOLIOS)


async def test_rules_load_and_recording_rules_return_data(prometheus: Prometheus) -> None:
    """The real rule files load without evaluation errors and every recording rule has data."""
    data = await asyncio.to_thread(prometheus.get, "/api/v1/rules")
    rules = [rule for group in data["groups"] for rule in group["rules"]]
    assert len(rules) == sum(
        len(group["rules"])
        for path in RULE_FILES
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]
    )
    for rule in rules:
        assert rule["health"] in {"ok", "unknown"}, rule
    for rule in rules:
        if rule["type"] != "recording":
            continue

        async def returns_data(name: str = rule["name"]) -> bool:
            return has_finite_value(await asyncio.to_thread(prometheus.query, name))

        await eventually(returns_data, QUERY_DEADLINE_S, interval_s=POLL_INTERVAL_S,
                         state=waiting_for(f"recording rule {rule['name']}", prometheus.log))


async def test_mirrored_monitor_alerts_fire(prometheus: Prometheus) -> None:
    """HedgeRiskAlert fires for each alert the monitor reports, with its severity."""

    async def firing() -> bool:
        result = await asyncio.to_thread(
            prometheus.query, 'ALERTS{alertname="HedgeRiskAlert", alertstate="firing"}')
        return {(s["metric"]["portfolio"], s["metric"]["severity"]) for s in result} == {
            ("alice", "warning"), ("bob", "warning")}

    await eventually(firing, QUERY_DEADLINE_S, interval_s=POLL_INTERVAL_S,
                     state=waiting_for("HedgeRiskAlert firing for alice and bob", prometheus.log))
