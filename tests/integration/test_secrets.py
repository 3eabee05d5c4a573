"""Canary secrets through the real pipeline: no log line, topic value, metric or output shows them.

The API keys, secrets and passphrases of an OKX and a Binance account (and a Bybit account whose
secret the simulator rejects, for the failure paths) and the SASL password of the Kafka settings
are canary strings, set in the environment and referenced from a TOML config read with
``load_config``. The pipeline runs for real: simulator -> venues built by ``build_venue`` from the
config's accounts -> connection supervisors -> ``BusSink`` -> Kafka -> ``Processor`` -> metrics
served on 127.0.0.1. Malformed frames, a failed login, failed REST resyncs, an expired listenKey and
a malformed topic value force the exception and dead-letter paths. Every log record at DEBUG (root,
aiokafka, websockets, monitor), every topic of the run, the /metrics page and the process output
are then searched for each canary and its base64, hex and percent-encoded forms.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from monitor.alerts import AlertEngine
from monitor.bus.kafka import KafkaBus, topic_partitions
from monitor.config import MonitorConfig, load_config
from monitor.ingest.bus_sink import BusSink
from monitor.ingest.http import UrllibTransport
from monitor.ingest.runner import VenueRunner
from monitor.ingest.supervisor import SupervisorSettings
from monitor.metrics import Metrics, serve_metrics
from monitor.processor.engine import RiskEngine
from monitor.processor.runner import Processor
from monitor.sim.server import SimulatorServer
from monitor.sim.world import SimAccount
from monitor.venues.base import Venue
from monitor.venues.registry import build_venue
from tests.integration.kafka_helpers import produce_raw
from tests.support import eventually

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
CANARY = "CANARY-7f3a9c5e21d84b06"
SECRETS: dict[str, str] = {
    "HEDGE_CANARY_OKX_KEY": f"{CANARY}-okx-key",
    "HEDGE_CANARY_OKX_SECRET": f"{CANARY}-okx-secret",
    "HEDGE_CANARY_OKX_PASSPHRASE": f"{CANARY}-okx-passphrase",
    "HEDGE_CANARY_BINANCE_KEY": f"{CANARY}-binance-key",
    "HEDGE_CANARY_BINANCE_SECRET": f"{CANARY}-binance-secret",
    "HEDGE_CANARY_BYBIT_KEY": f"{CANARY}-bybit-key",
    "HEDGE_CANARY_BYBIT_SECRET": f"{CANARY}-bybit-secret",
    "HEDGE_CANARY_SASL_PASSWORD": f"{CANARY}-sasl-password",
}
# The simulator knows the Bybit account under another secret, so its login and REST calls fail.
BYBIT_SECRET_KNOWN_TO_THE_SIMULATOR = "the-simulator-expects-another-secret"  # noqa: S105 -- a wrong secret on purpose
FAST = SupervisorSettings(backoff_base_s=0.05, backoff_cap_s=0.5, close_timeout_s=0.5, resync_attempts=2)
LOGGERS = ("", "aiokafka", "websockets", "monitor", "asyncio", "urllib3")
DEADLINE_S = 60.0


def canary_forms() -> list[str]:
    """Each canary value and the root canary as written, base64 (standard, URL-safe, unpadded),
    hex (lower and upper) and percent-encoded, the ways a venue or a library might encode it; and
    the canary's first nine characters, so that even a truncated secret is found."""
    forms: list[str] = [CANARY[:9]]
    for value in (CANARY, *SECRETS.values()):
        raw = value.encode()
        forms += [
            value,
            base64.b64encode(raw).decode(),
            base64.b64encode(raw).decode().rstrip("="),
            base64.urlsafe_b64encode(raw).decode().rstrip("="),
            raw.hex(),
            raw.hex().upper(),
            urllib.parse.quote(value, safe=""),
        ]
    return forms


def leaks(haystacks: Iterable[tuple[str, str]]) -> list[str]:
    """``where: form`` for every canary form found in the (where, text) haystacks."""
    forms = canary_forms()
    return [f"{where}: {form}" for where, text in haystacks for form in forms if form in text]


def register(sim: SimulatorServer, venue: str, account: str, key: str, secret: str, phrase: str) -> None:
    """Make the simulator know an account with the given credentials (it checks every signature)."""
    sim.world.add_account(
        SimAccount(venue=venue, account=account, api_key=key, api_secret=secret, passphrase=phrase))


def write_config(path: Path, sim: SimulatorServer, bootstrap: str, prefix: str) -> None:
    """The run's config: three accounts and the Kafka section, every secret an env reference."""
    path.write_text(textwrap.dedent(f"""\
        [monitor]
        log_level = "debug"
        log_format = "json"

        [kafka]
        bootstrap_servers = "{bootstrap}"
        topic_prefix = "{prefix}"
        partitions = 2
        security_protocol = "SASL_PLAINTEXT"
        sasl_mechanism = "SCRAM-SHA-512"
        sasl_username = "hedge-monitor"
        sasl_password = "env:HEDGE_CANARY_SASL_PASSWORD"

        [processor]
        checkpoint_interval_ms = 200

        [metrics]
        host = "127.0.0.1"
        port = 0

        [[accounts]]
        id = "okx-main"
        venue = "okx"
        portfolio = "alice"
        symbols = ["BTC-USDT-SWAP", "BTC-USDT"]
        api_key = "env:HEDGE_CANARY_OKX_KEY"
        api_secret = "env:HEDGE_CANARY_OKX_SECRET"
        passphrase = "env:HEDGE_CANARY_OKX_PASSPHRASE"
        ws_base_url = "{sim.ws_url("okx")}"
        rest_base_url = "{sim.rest_url("okx")}"

        [[accounts]]
        id = "binance-main"
        venue = "binance"
        portfolio = "alice"
        symbols = ["BTCUSDT"]
        api_key = "env:HEDGE_CANARY_BINANCE_KEY"
        api_secret = "env:HEDGE_CANARY_BINANCE_SECRET"
        ws_base_url = "{sim.ws_url("binance")}"
        rest_base_url = "{sim.rest_url("binance")}"

        [[accounts]]
        id = "bybit-rejected"
        venue = "bybit"
        portfolio = "alice"
        symbols = ["BTCUSDT"]
        api_key = "env:HEDGE_CANARY_BYBIT_KEY"
        api_secret = "env:HEDGE_CANARY_BYBIT_SECRET"
        ws_base_url = "{sim.ws_url("bybit")}"
        rest_base_url = "{sim.rest_url("bybit")}"

        [[holdings]]
        account = "cold"
        portfolio = "alice"
        asset = "BTC"
        quantity = 1.5
        """), encoding="utf-8")


async def prepare_simulator(sim: SimulatorServer) -> None:
    """Canary accounts, prices and a hedge the venues will read."""
    register(sim, "okx", "okx-main", SECRETS["HEDGE_CANARY_OKX_KEY"], SECRETS["HEDGE_CANARY_OKX_SECRET"],
             SECRETS["HEDGE_CANARY_OKX_PASSPHRASE"])
    register(sim, "binance", "binance-main", SECRETS["HEDGE_CANARY_BINANCE_KEY"],
             SECRETS["HEDGE_CANARY_BINANCE_SECRET"], "unused")
    register(sim, "bybit", "bybit-rejected", SECRETS["HEDGE_CANARY_BYBIT_KEY"],
             BYBIT_SECRET_KNOWN_TO_THE_SIMULATOR, "unused")
    await sim.set_price("okx", "BTC-USDT-SWAP", 60000.0)
    await sim.set_price("okx", "BTC-USDT", 60010.0)
    await sim.set_price("binance", "BTCUSDT", 60005.0)
    await sim.set_price("bybit", "BTCUSDT", 60002.0)
    await sim.set_position("okx", "okx-main", "BTC-USDT-SWAP", -100, 60000.0)
    await sim.set_position("binance", "binance-main", "BTCUSDT", -0.5, 60000.0)


async def read_topic(bootstrap: str, topic: str) -> list[tuple[bytes, bytes]]:
    """Every (key, value) of a topic so far, raw."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                                auto_offset_reset="earliest")
    await consumer.start()
    try:
        ids = await topic_partitions(consumer, topic)
        partitions = [TopicPartition(topic, partition) for partition in sorted(ids)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        positions = dict.fromkeys(partitions, 0)
        records: list[tuple[bytes, bytes]] = []
        while any(positions[p] < ends[p] for p in partitions):
            for partition, messages in (await consumer.getmany(timeout_ms=200)).items():
                for message in messages:
                    positions[partition] = message.offset + 1
                    records.append((message.key or b"", message.value or b""))
        return records
    finally:
        await consumer.stop()


def scrape(url: str) -> str:
    """The text of an HTTP GET."""
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 -- a loopback URL the test built
        text: str = response.read().decode()
    return text


def log_texts(records: Iterable[logging.LogRecord]) -> list[tuple[str, str]]:
    """Each record fully formatted: logger, level, message, exception and stack."""
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    return [(f"log {record.name}", formatter.format(record)) for record in records]


def capture_everything(caplog: pytest.LogCaptureFixture) -> None:
    """Every logger the pipeline uses, at DEBUG, into caplog."""
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name or None)


def run_task(coroutine: object, name: str) -> asyncio.Task[None]:
    """A task whose failure the polling below notices."""
    assert asyncio.iscoroutine(coroutine)
    return asyncio.create_task(coroutine, name=name)


async def until(conditions: Callable[[], dict[str, bool]], tasks: list[asyncio.Task[None]]) -> None:
    """Poll until every named condition holds (the failure names those that do not); a task
    that failed meanwhile raises its error."""
    def check() -> bool:
        for task in tasks:
            if task.done() and not task.cancelled() and task.exception() is not None:
                raise AssertionError(f"{task.get_name()} failed") from task.exception()
        return all(conditions().values())

    def unmet() -> str:
        return "unmet: " + ", ".join(name for name, met in conditions().items() if not met)

    await eventually(check, DEADLINE_S, interval_s=0.1, state=unmet)


def pipeline_venues(config: MonitorConfig) -> list[Venue]:
    """One venue per configured account, built by the registry with the account's endpoints."""
    return [
        build_venue(account.venue, symbols=account.symbols, account=account.context(),
                    catalog=config.catalog, ws_base_url=account.ws_base_url,
                    rest_base_url=account.rest_base_url, ws_api_url=account.ws_api_url)
        for account in config.accounts
    ]


async def test_canary_secrets_appear_in_no_log_topic_metric_or_output(
    kafka_bootstrap: str,
    topic_prefix: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """The canaries are used (logins and signatures succeed, failures are provoked) and never
    appear in logs at DEBUG, in any topic of the run, on /metrics or on stdout/stderr."""
    capture_everything(caplog)
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    log = logging.getLogger(__name__)
    async with SimulatorServer(seed=5, heartbeat_s=0.2) as sim:
        await prepare_simulator(sim)
        path = tmp_path / "monitor.toml"
        write_config(path, sim, kafka_bootstrap, topic_prefix)
        config = load_config(path)
        sasl = config.kafka
        assert sasl is not None
        assert sasl.sasl_password is not None
        assert sasl.sasl_password.reveal() == SECRETS["HEDGE_CANARY_SASL_PASSWORD"]
        assert sasl.client_options()["sasl_plain_password"] == SECRETS["HEDGE_CANARY_SASL_PASSWORD"]
        # the whole configuration and the SASL settings in a debug line, as a careless caller might
        log.debug("config %r; kafka %s; accounts %s", config, sasl, config.accounts)
        plain = replace(sasl, security_protocol="PLAINTEXT", sasl_mechanism=None, sasl_username=None,
                        sasl_password=None)
        bus = KafkaBus(plain)
        topics = config.topics
        await bus.create_topics(topics.specs(config.topic_partitions))
        metrics = Metrics()
        server = await serve_metrics(metrics, config.metrics.host, config.metrics.port)
        producer = await bus.producer()
        sink = BusSink(producer, topics, metrics=metrics)
        venues = pipeline_venues(config)
        runner = VenueRunner(venues, sink, UrllibTransport(), FAST, seed=1)
        engine = RiskEngine(config.catalog, config.settings_for,
                            lambda portfolio: AlertEngine(config.alerts_for(portfolio)))
        processor = Processor(bus, engine, config.processor, metrics=metrics)
        await sink.publish([holding.balance_event(int(time.time() * 1000)) for holding in config.holdings])
        stop_sink, stop_processor = asyncio.Event(), asyncio.Event()
        tasks = [run_task(runner.run(), "ingest"), run_task(sink.run(stop_sink), "bus sink"),
                 run_task(processor.run(stop_processor), "processor")]
        try:
            okx = runner.supervisor("okx", "private")
            binance = runner.supervisor("binance", "private")
            bybit = [supervisor for supervisor in runner.supervisors if supervisor.venue.name == "bybit"]
            await until(lambda: {"okx resynced": okx.resyncs >= 1, "binance resynced": binance.resyncs >= 1,
                                 "processor ready": processor.ready.is_set()}, tasks)
            # forced error paths: unreadable frames, an expired listenKey, a malformed topic value
            assert await sim.send_malformed("okx") >= 1
            assert await sim.send_malformed("binance") >= 1
            await sim.expire_listen_key("binance-main")
            await produce_raw(kafka_bootstrap, topics.positions, b"alice",
                              b'{"v":1,"type":"position","portfolio":"alice","account":"okx-main"}')
            await sim.set_position("okx", "okx-main", "BTC-USDT-SWAP", -120, 60000.0)
            await until(lambda: {
                "ingest dead letters": sink.dead_letters >= 2,
                "processor dead letter": processor.dead_letters >= 1,
                "risk snapshot": processor.published_snapshots >= 1,
                "bybit REST failure dead-lettered": sum(s.dead_letters for s in bybit) >= 1,
                "binance reconnected": binance.reconnects >= 1,
            }, tasks)
            page = await asyncio.to_thread(scrape, f"http://127.0.0.1:{server.port}/metrics")
        finally:
            tasks[0].cancel()
            stop_processor.set()
            stop_sink.set()
            results = await asyncio.gather(*tasks, return_exceptions=True)
            await producer.stop()
            await server.close()
    for result in results:
        assert result is None or isinstance(result, asyncio.CancelledError), repr(result)

    topic_records = {name: await read_topic(kafka_bootstrap, getattr(topics, name))
                     for name in ("prices", "positions", "risk", "alerts", "dlq", "state")}
    output = capfd.readouterr()
    haystacks = [
        *log_texts(caplog.records),
        *((f"topic {name} record {index}", key.decode("utf-8", "replace") + " "
           + value.decode("utf-8", "replace"))
          for name, records in topic_records.items() for index, (key, value) in enumerate(records)),
        ("/metrics", page),
        ("stdout", output.out),
        ("stderr", output.err),
    ]
    assert leaks(haystacks) == []

    # the search looked at real material: each source carried data, and the failures happened
    names = {record.name for record in caplog.records}
    assert any(name.startswith("aiokafka") for name in names)
    assert any(name.startswith("monitor.") for name in names)
    assert any(record.levelno == logging.DEBUG for record in caplog.records)
    assert all(topic_records[name] for name in ("prices", "positions", "risk", "dlq", "state"))
    dead_letters = b"\n".join(value for _, value in topic_records["dlq"])
    assert b'"source":"okx"' in dead_letters
    assert b'"source":"binance"' in dead_letters
    assert b"HTTP 401" in dead_letters
    assert topics.positions.encode() in dead_letters
    assert "hedge_" in page
    assert config.accounts[0].credentials is not None
    assert config.accounts[0].credentials.api_secret.reveal() == SECRETS["HEDGE_CANARY_OKX_SECRET"]
    # the supervisor's connections log through its own logger, pinned at INFO, so websockets'
    # DEBUG frame log (the start of every sent frame, login frames included) never appears
    assert not any(where == "log websockets.client" for where, _ in haystacks)


def test_canary_forms_are_searched() -> None:
    """The search finds a canary written raw, in base64, in hex and percent-encoded."""
    secret = SECRETS["HEDGE_CANARY_OKX_SECRET"]
    for text in (f"x{secret}y", base64.b64encode(secret.encode()).decode(), secret.encode().hex(),
                 urllib.parse.quote(secret, safe="")):
        assert leaks([("sample", text)])
    assert leaks([("sample", "Secret(***) api_key=***")]) == []


@pytest.mark.skipif(shutil.which("true") is None, reason="needs a POSIX system")
def test_run_command_with_canaries_in_the_environment(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    """``hedge-monitor run --config FILE --log-level debug --log-format json`` with the canaries in
    its environment prints none of them on stdout or stderr."""
    help_text = subprocess.run([sys.executable, "-m", "monitor", "--help"], capture_output=True,
                               text=True, check=False, cwd=ROOT, timeout=60).stdout
    commands = re.search(r"\{([a-z,-]+)\}", help_text)
    if commands is None or "run" not in commands.group(1).split(","):
        pytest.skip("hedge-monitor has no 'run' command yet")
    asyncio.run(_run_command(kafka_bootstrap, topic_prefix, tmp_path))


async def _run_command(bootstrap: str, prefix: str, tmp_path: Path) -> None:
    async with SimulatorServer(seed=6, heartbeat_s=0.2) as sim:
        await prepare_simulator(sim)
        path = tmp_path / "monitor.toml"
        write_config(path, sim, bootstrap, prefix)
        # the run connects with the broker's PLAINTEXT listener
        text = path.read_text(encoding="utf-8")
        for line in ('security_protocol = "SASL_PLAINTEXT"\n', 'sasl_mechanism = "SCRAM-SHA-512"\n',
                     'sasl_username = "hedge-monitor"\n',
                     'sasl_password = "env:HEDGE_CANARY_SASL_PASSWORD"\n'):
            text = text.replace(line, "")
        path.write_text(text, encoding="utf-8")
        environment = {**os.environ, **SECRETS, "PYTHONPATH": str(ROOT)}
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "monitor", "run", "--config", str(path), "--log-level", "debug",
            "--log-format", "json", env=environment, cwd=ROOT,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        dlq = f"{prefix}hedge.dlq"

        async def dead_lettered(source: bytes) -> bool:
            if process.returncode is not None:
                raise AssertionError(f"hedge-monitor run exited with {process.returncode}")
            await sim.send_malformed("okx")
            await sim.send_malformed("binance")
            values = [value for _, value in await read_topic(bootstrap, dlq)]
            return any(b'"source":"' + source + b'"' in value for value in values)

        try:
            await eventually(lambda: sim.connection_count("okx") >= 2, DEADLINE_S, interval_s=0.1)
            await eventually(lambda: dead_lettered(b"okx"), DEADLINE_S, interval_s=0.5)
            await eventually(lambda: dead_lettered(b"binance"), DEADLINE_S, interval_s=0.5)
        finally:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
            stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    texts = [("stdout", stdout.decode("utf-8", "replace")), ("stderr", stderr.decode("utf-8", "replace"))]
    assert leaks(texts) == []
    assert stderr
