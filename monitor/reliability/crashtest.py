"""The crash test: SIGKILL stateful processors of one group while a seeded workload flows, then verify.

The driver (after Kafka Streams' own system tests and Quix's recovery tests)::

    create the topics (unique prefix) ; write ``history_hours`` of old price ticks (a day of them at
        full size: what a restarted processor must not re-read)
    start N ``hedge-monitor process`` subprocesses (one group)
    for each of K random kill points in the event stream:
        usually wait until every processor owns partitions (the group is stable)
        write the events up to the kill point (chunks, acks awaited)
        after a random delay (the processors are busy with that burst) act on the group:
          restart    SIGKILL a random processor and start it again at once
          rebalance  start a new member, and SIGKILL an old one while the new one is still joining
                     (the rebalance is in progress)
          leave      SIGKILL a processor and start none (the group shrinks)
        whenever fewer than N processors run, start new ones (new members join)
    meanwhile stop and start the broker ``broker_restarts`` times (the project's own Kafka script):
        the writer's sends wait for it, the processors resume
    write the rest, then one settle tick per instrument
    wait until the group's lag on hedge.positions is 0 and every portfolio's last hedge.risk
        snapshot shows the settle prices ; SIGTERM the processors (they checkpoint and exit 0)
    verify (``monitor.reliability.verify``): recompute every portfolio from the input topics alone

Each processor life's recovery time (start -> partitions assigned and state restored) is in the
report: the first lives read the whole price history, later ones restore the price checkpoint.

Run it with ``hedge-monitor crash-test`` or ``python -m monitor crash-test`` (the command,
``monitor.commands.crashtest``, parses the flags and calls ``run_crash_test``; this module does not
know the command line).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
import logging
import os
import random
import re
import signal
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

import orjson

import monitor
from monitor.bus.base import BusError, Producer, Topics
from monitor.bus.kafka import KafkaBus, KafkaSettings
from monitor.codec import encode_event, event_key
from monitor.domain.events import (
    AccountEvent,
    Event,
    PriceEvent,
)
from monitor.domain.instruments import default_catalog
from monitor.errors import HedgeMonitorError
from monitor.reliability.kafka_io import TopicTail, group_lag, read_topic
from monitor.reliability.verify import (
    CHECKS,
    AlertLog,
    InputLog,
    SnapshotLog,
    VerificationReport,
    reflects_settle,
    verify,
)
from monitor.reliability.workload import Workload, WorkloadSettings

log = logging.getLogger(__name__)

READY_PATTERN = re.compile(rb"assigned partitions \[\d")
POLL_INTERVAL_S = 0.25
READY_POLL_S = 0.05
LOG_TAIL_BYTES = 3_000
# A rebalance kill lands this soon after the new member starts: before it can own partitions.
REBALANCE_KILL_DELAY_S = 0.3
RESEND_BACKOFF_S = 0.5
DELIVERY_DEADLINE_S = 300.0
BROKER_START_ATTEMPTS = 3
BROKER_START_RETRY_S = 3.0
HISTORY_TICKS_PER_S = 10
HISTORY_FLUSH_RECORDS = 100_000
KAFKA_SCRIPT = Path(monitor.__file__).resolve().parents[1] / "deploy" / "kafka" / "kafka.sh"

Action = Literal["restart", "rebalance", "leave"]
RestartBroker = Callable[[], Awaitable[None]]


class CrashTestError(HedgeMonitorError, RuntimeError):
    """The crash test could not run to the end (a processor died on its own, a deadline passed)."""


@dataclass(frozen=True, slots=True)
class CrashTestSettings:
    """Everything one crash-test run needs; sizes are parameters (CI size vs full size)."""

    bootstrap: str
    workload: WorkloadSettings = field(default_factory=WorkloadSettings)
    kills: int = 20
    processors: int = 2
    partitions: int = 6
    topic_prefix: str = ""
    checkpoint_interval_ms: int = 200
    chunk_events: int = 100
    write_rate: float = 2_000.0
    max_kill_delay_s: float = 1.0
    unready_kill_share: float = 0.2
    rebalance_kill_share: float = 0.2
    leave_share: float = 0.1
    broker_restarts: int = 0
    restart_broker: RestartBroker | None = None
    history_hours: float = 0.0
    static_members: bool = True
    ready_timeout_s: float = 120.0
    catch_up_timeout_s: float = 300.0
    stop_timeout_s: float = 60.0
    work_dir: Path | None = None

    def __post_init__(self) -> None:
        if self.kills < 0 or self.kills >= self.workload.events:
            raise ValueError("kills must be at least 0 and fewer than the events")
        if not (1 <= self.processors <= self.partitions):
            raise ValueError("processors must be between 1 and the number of partitions")
        if self.chunk_events < 1 or self.write_rate <= 0:
            raise ValueError("chunk_events must be at least 1 and write_rate above 0")
        if self.broker_restarts < 0 or (self.broker_restarts and self.restart_broker is None):
            raise ValueError("broker restarts need a way to restart the broker (restart_broker)")
        if self.history_hours < 0:
            raise ValueError("history_hours must be at least 0")
        if not (0 <= self.rebalance_kill_share + self.leave_share <= 1):
            raise ValueError("rebalance_kill_share + leave_share must be in [0, 1]")

    @property
    def prefix(self) -> str:
        """The topic prefix: the one given, else one unique to this run."""
        if self.topic_prefix:
            return self.topic_prefix
        return f"crash-{self.workload.seed}-{os.getpid()}-{int(time.time())}."


@dataclass(frozen=True, slots=True)
class KillRecord:
    """One SIGKILL: which processor, which of its lives, where in the stream, after how long."""

    number: int
    victim: int
    incarnation: int
    at_event: int
    uptime_s: float
    delay_s: float
    owned_partitions: bool
    action: Action = "restart"
    rebalancing: bool = False


@dataclass(frozen=True, slots=True)
class LifeRecord:
    """One processor life: when it started, and how long until it owned partitions (or None)."""

    processor: int
    incarnation: int
    recovery_s: float | None


@dataclass(frozen=True, slots=True)
class BrokerRestart:
    """One stop and start of the broker: where in the stream and how long it took."""

    at_event: int
    seconds: float


class KafkaScriptBroker:
    """Restarts the broker the project's script runs on ``port`` (``deploy/kafka/kafka.sh restart``)."""

    def __init__(self, port: int, controller_port: int | None = None, run_dir: Path | None = None,
                 script: Path = KAFKA_SCRIPT) -> None:
        self.environment = {**os.environ, "HEDGE_KAFKA_PORT": str(port)}
        if controller_port is not None:
            self.environment["HEDGE_KAFKA_CONTROLLER_PORT"] = str(controller_port)
        if run_dir is not None:
            self.environment["HEDGE_KAFKA_RUN_DIR"] = str(run_dir)
        self.script = script

    async def __call__(self) -> None:
        """Stop the broker (controlled shutdown) and start it again on the same data.

        A start that fails is tried again (``BROKER_START_ATTEMPTS`` in all), a few seconds apart.
        """
        if not self.script.exists():
            raise CrashTestError(f"broker restarts need the project's {self.script}; run from a checkout")
        await self._script("stop")
        for attempt in range(1, BROKER_START_ATTEMPTS + 1):
            code, output = await self._script("start")
            if code == 0:
                return
            log.warning("kafka.sh start failed (attempt %d of %d): %s", attempt, BROKER_START_ATTEMPTS,
                        output[-300:])
            await asyncio.sleep(BROKER_START_RETRY_S)
        raise CrashTestError(f"kafka.sh start exited {code}: {output[-500:]}")

    async def _script(self, command: str) -> tuple[int, str]:
        process = await asyncio.create_subprocess_exec(
            "bash", str(self.script), command, env=self.environment,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        output, _ = await process.communicate()
        return (process.returncode or 0), output.decode(errors="replace")


@dataclass(slots=True)
class CrashTestResult:
    """The figures of one run and the verifier's report."""

    started_at: str
    command: str
    bootstrap: str
    topic_prefix: str
    seed: int
    portfolios: int
    instruments: int
    processors: int
    partitions: int
    events_written: int = 0
    price_events: int = 0
    account_events: int = 0
    settle_ticks: int = 0
    kills: list[KillRecord] = field(default_factory=list)
    lives: list[LifeRecord] = field(default_factory=list)
    broker_restarts: list[BrokerRestart] = field(default_factory=list)
    history_ticks: int = 0
    history_write_s: float = 0.0
    resent_prices: int = 0
    resent_accounts: int = 0
    failed_deliveries: int = 0
    incarnations: int = 0
    exit_codes: list[int | None] = field(default_factory=list)
    wall_time_s: float = 0.0
    write_time_s: float = 0.0
    catch_up_time_s: float = 0.0
    verify_time_s: float = 0.0
    problems: list[str] = field(default_factory=list)
    verification: VerificationReport = field(default_factory=VerificationReport)
    log_dir: str = ""

    @property
    def ok(self) -> bool:
        """True when the run completed and the verifier found nothing wrong."""
        return not self.problems and self.verification.ok

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready figures."""
        return {
            "ok": self.ok,
            "started_at": self.started_at,
            "command": self.command,
            "bootstrap": self.bootstrap,
            "topic_prefix": self.topic_prefix,
            "seed": self.seed,
            "portfolios": self.portfolios,
            "instruments": self.instruments,
            "processors": self.processors,
            "partitions": self.partitions,
            "events_written": self.events_written,
            "price_events": self.price_events,
            "account_events": self.account_events,
            "settle_ticks": self.settle_ticks,
            "kills": [asdict(kill) for kill in self.kills],
            "lives": [asdict(life) for life in self.lives],
            "recovery": self.recovery(),
            "broker_restarts": [asdict(restart) for restart in self.broker_restarts],
            "history_ticks": self.history_ticks,
            "failed_deliveries": self.failed_deliveries,
            "resent_prices": self.resent_prices,
            "resent_accounts": self.resent_accounts,
            "history_write_s": round(self.history_write_s, 1),
            "incarnations": self.incarnations,
            "exit_codes": self.exit_codes,
            "wall_time_s": round(self.wall_time_s, 1),
            "write_time_s": round(self.write_time_s, 1),
            "catch_up_time_s": round(self.catch_up_time_s, 1),
            "verify_time_s": round(self.verify_time_s, 1),
            "problems": self.problems,
            "verification": self.verification.to_dict(),
            "log_dir": self.log_dir,
        }

    def recovery(self) -> dict[str, Any]:
        """Start -> partitions owned: the first lives (whole price history) and the later ones."""
        def summary(lives: list[LifeRecord]) -> dict[str, Any]:
            times = sorted(life.recovery_s for life in lives if life.recovery_s is not None)
            if not times:
                return {"lives": len(lives), "recovered": 0}
            return {"lives": len(lives), "recovered": len(times), "min_s": round(times[0], 2),
                    "median_s": round(times[len(times) // 2], 2), "max_s": round(times[-1], 2)}
        first = [life for life in self.lives if life.incarnation == 1 and life.processor < self.processors]
        later = [life for life in self.lives if life not in first]
        return {"first": summary(first), "later": summary(later)}

    def table(self) -> str:
        """A two-column text table of the headline figures."""
        report = self.verification
        recovery = self.recovery()

        def recovered(part: dict[str, Any]) -> str:
            if not part.get("recovered"):
                return f"{part['lives']} lives, none owned partitions"
            return (f"median {part['median_s']:.2f} s, max {part['max_s']:.2f} s "
                    f"({part['recovered']} of {part['lives']} lives)")
        actions = {name: sum(kill.action == name for kill in self.kills)
                   for name in ("restart", "rebalance", "leave")}
        rows = [
            ("result", "PASS" if self.ok else "FAIL"),
            ("started (UTC)", self.started_at),
            ("events written", (f"{self.events_written} ({self.price_events} prices, "
                               f"{self.account_events} account) + {self.settle_ticks} settle ticks")),
            ("portfolios / instruments", f"{self.portfolios} / {self.instruments}"),
            ("processors / partitions", f"{self.processors} / {self.partitions}"),
            ("SIGKILLs / processor lives", f"{len(self.kills)} / {self.incarnations}"),
            ("kills: restart / mid-rebalance / leave",
             f"{actions['restart']} / {actions['rebalance']} / {actions['leave']}"),
            ("kills while a rebalance ran", str(sum(kill.rebalancing for kill in self.kills))),
            ("broker restarts", ", ".join(f"at event {r.at_event} ({r.seconds:.1f} s)"
                                          for r in self.broker_restarts) or "none"),
            ("price history", f"{self.history_ticks} ticks (written in {self.history_write_s:.1f} s)"),
            ("failed deliveries / events resent",
             f"{self.failed_deliveries} / {self.resent_prices + self.resent_accounts}"),
            ("recovery, first lives", recovered(recovery["first"])),
            ("recovery, later lives", recovered(recovery["later"])),
            ("wall time", (f"{self.wall_time_s:.1f} s (write {self.write_time_s:.1f}, catch-up "
                          f"{self.catch_up_time_s:.1f}, verify {self.verify_time_s:.1f})")),
            ("snapshots read", str(report.snapshots)),
            ("replayed snapshots (seq went back)", str(report.replayed_snapshots)),
            ("portfolios verified", f"{report.portfolios_verified} of {report.portfolios}"),
            ("last positions / balances checked", f"{report.positions_checked} / {report.balances_checked}"),
            ("alert transitions / distinct ids", f"{report.alert_transitions} / {report.alert_ids}"),
            ("duplicate alerts (same id)", str(report.alert_duplicates)),
            ("final alert states checked", str(report.final_alert_states_checked)),
            ("dead letters", str(report.dead_letters)),
        ]
        rows.extend((f"check {check}", "ok" if report.passed(check) else
                     f"FAILED ({report.failure_counts[check]})") for check in CHECKS)
        width = max(len(name) for name, _ in rows)
        lines = [f"{name.ljust(width)}  {value}" for name, value in rows]
        lines.extend(f"problem: {problem}" for problem in self.problems)
        for check in CHECKS:
            lines.extend(f"{check}: {message}" for message in report.failures[check][:10])
        return "\n".join(lines)


# -- the processors ---------------------------------------------------------------------------


@dataclass(slots=True)
class _Slot:
    index: int
    process: asyncio.subprocess.Process | None = None
    log_path: Path | None = None
    incarnation: int = 0
    started: float = 0.0
    ready_after_s: float | None = None


class ProcessorFleet:
    """``hedge-monitor process`` subprocesses of one group; each life logs to its own file.

    Slots are added as new members join (``add``); a slot whose process was killed and not restarted
    has left the group. ``lives`` records every life's recovery time (start -> partitions owned).
    With an ``instance_prefix`` every slot is a static member (``--instance-id <prefix><slot>``): a
    restarted slot takes its partitions back without waiting for its dead life's session timeout.
    """

    def __init__(self, command: list[str], log_dir: Path, count: int, instance_prefix: str = "") -> None:
        self.command = command
        self.instance_prefix = instance_prefix
        self.log_dir = log_dir
        self.slots = [_Slot(index) for index in range(count)]
        self.lives: list[LifeRecord] = []
        package_root = str(Path(monitor.__file__).resolve().parents[1])
        path = os.environ.get("PYTHONPATH")
        self._env = {**os.environ, "PYTHONPATH": package_root if not path else f"{package_root}:{path}"}

    @property
    def incarnations(self) -> int:
        """Processor lives started so far."""
        return sum(slot.incarnation for slot in self.slots)

    def alive(self) -> list[int]:
        """The slots whose processor runs."""
        return [slot.index for slot in self.slots if slot.process is not None]

    def add(self) -> int:
        """A new slot (a new member of the group, not started yet); its index."""
        self.slots.append(_Slot(len(self.slots)))
        return len(self.slots) - 1

    async def start(self, index: int) -> None:
        """Start (or restart) processor ``index``."""
        slot = self.slots[index]
        self._end_life(slot)
        slot.incarnation += 1
        slot.ready_after_s = None
        slot.log_path = self.log_dir / f"processor-{index}-life-{slot.incarnation}.log"
        with slot.log_path.open("wb") as log_file:
            command = [*self.command, "--instance-id", f"{self.instance_prefix}{index}"] \
                if self.instance_prefix else self.command
            slot.process = await asyncio.create_subprocess_exec(
                *command, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
                stderr=log_file, env=self._env)
        slot.started = time.monotonic()

    def _end_life(self, slot: _Slot) -> None:
        if slot.incarnation:
            ready = None if slot.ready_after_s is None else round(slot.ready_after_s, 3)
            self.lives.append(LifeRecord(slot.index, slot.incarnation, ready))

    def finish(self) -> None:
        """Record the lives still running (call once, after the run)."""
        for slot in self.slots:
            self._end_life(slot)

    def _log_bytes(self, slot: _Slot) -> bytes:
        if slot.log_path is None or not slot.log_path.exists():
            return b""
        return slot.log_path.read_bytes()

    def log_tail(self, index: int) -> str:
        """The end of the current life's log."""
        return self._log_bytes(self.slots[index])[-LOG_TAIL_BYTES:].decode("utf-8", "replace")

    def ready(self, index: int) -> bool:
        """True once the current life logged a non-empty partition assignment."""
        slot = self.slots[index]
        if slot.ready_after_s is not None:
            return True
        if slot.process is None or READY_PATTERN.search(self._log_bytes(slot)) is None:
            return False
        slot.ready_after_s = time.monotonic() - slot.started
        return True

    async def watch(self) -> None:
        """Poll every running life for its assignment, so recovery times are measured (until cancelled)."""
        while True:
            for index in self.alive():
                self.ready(index)
            await asyncio.sleep(READY_POLL_S)

    def check_alive(self) -> None:
        """Raise if a processor exited without being told to."""
        for slot in self.slots:
            if slot.process is not None and slot.process.returncode is not None:
                raise CrashTestError(
                    f"processor {slot.index} (life {slot.incarnation}) exited with "
                    f"{slot.process.returncode}:\n{self.log_tail(slot.index)}")

    async def wait_all_ready(self, timeout_s: float) -> None:
        """Wait until every running processor owns partitions (the group is stable)."""
        deadline = time.monotonic() + timeout_s
        while not all(self.ready(index) for index in self.alive()):
            self.check_alive()
            if time.monotonic() > deadline:
                waiting = [index for index in self.alive() if not self.ready(index)]
                raise CrashTestError(f"processors {waiting} own no partitions after {timeout_s:.0f} s")
            await asyncio.sleep(POLL_INTERVAL_S)

    async def kill(self, index: int) -> float:
        """SIGKILL processor ``index`` and reap it; its uptime in seconds."""
        slot = self.slots[index]
        if slot.process is None:
            raise CrashTestError(f"processor {index} is not running")
        slot.process.send_signal(signal.SIGKILL)
        await slot.process.wait()
        slot.process = None
        return time.monotonic() - slot.started

    async def stop_all(self, timeout_s: float) -> list[int | None]:
        """SIGTERM every running processor and wait (SIGKILL after ``timeout_s``); their exit codes."""
        running = [slot for slot in self.slots if slot.process is not None]
        for slot in running:
            if slot.process is not None and slot.process.returncode is None:
                slot.process.send_signal(signal.SIGTERM)
        codes: list[int | None] = []
        for slot in running:
            process = slot.process
            assert process is not None  # noqa: S101 -- filtered above
            try:
                async with asyncio.timeout(timeout_s):
                    codes.append(await process.wait())
            except TimeoutError:
                process.kill()
                await process.wait()
                codes.append(None)
        return codes

    async def kill_all(self) -> None:
        """SIGKILL whatever still runs (cleanup after a failure)."""
        for slot in self.slots:
            process = slot.process
            if process is not None and process.returncode is None:
                process.kill()
                await process.wait()


# -- the driver -------------------------------------------------------------------------------


def processor_command(settings: CrashTestSettings, prefix: str, group_id: str) -> list[str]:
    """The command line of one processor."""
    return [
        sys.executable, "-m", "monitor", "process", "--kafka", settings.bootstrap,
        "--topic-prefix", prefix, "--group-id", group_id, "--partitions", str(settings.partitions),
        "--checkpoint-interval-ms", str(settings.checkpoint_interval_ms),
    ]


class _Writer:
    """Sends events in acknowledged chunks (one idempotent producer) and keeps what it wrote.

    A chunk whose delivery failed (the broker restarting) is sent again, whole, as the ingest's sink
    does: the topics may then hold a record twice (at-least-once), never lose one. The resent
    counts bound the duplicates the verifier accepts.
    """

    def __init__(self, producer: Producer, topics: Topics) -> None:
        self.producer = producer
        self.topics = topics
        self.accounts: list[AccountEvent] = []
        self.prices = 0
        self.resent_prices = 0
        self.resent_accounts = 0
        self.failed_deliveries = 0

    def _send(self, events: list[Event]) -> None:
        for event in events:
            topic = self.topics.prices if isinstance(event, PriceEvent) else self.topics.positions
            self.producer.send(topic, event_key(event), encode_event(event))

    async def write(self, events: list[Event]) -> None:
        """Send ``events`` and wait until the broker acknowledged every one (resending on failure)."""
        self._send(events)
        for event in events:
            if isinstance(event, PriceEvent):
                self.prices += 1
            else:
                self.accounts.append(event)
        deadline = time.monotonic() + DELIVERY_DEADLINE_S
        while True:
            try:
                await self.producer.flush()
            except BusError as exc:
                if time.monotonic() > deadline:
                    raise CrashTestError(f"no delivery for {DELIVERY_DEADLINE_S:.0f} s: {exc}") from exc
                self.failed_deliveries += 1
                log.warning("delivery failed (%s); sending the chunk of %d events again", exc, len(events))
                await asyncio.sleep(RESEND_BACKOFF_S)
                self._send(events)
                prices = sum(isinstance(event, PriceEvent) for event in events)
                self.resent_prices += prices
                self.resent_accounts += len(events) - prices
            else:
                return


async def write_history(producer: Producer, topics: Topics, workload: Workload, hours: float) -> int:
    """``hours`` of ticks of every instrument at 10/s, ending just before the workload's first event.

    They are older than every tick of the run, so no figure depends on them: a processor only has
    to read past them (or restore its price checkpoint instead). Returns the ticks written.
    """
    steps = int(hours * 3_600 * HISTORY_TICKS_PER_S)
    step_ms = 1_000 // HISTORY_TICKS_PER_S
    start_ms = workload.settings.start_ms - steps * step_ms
    received = int(time.time() * 1_000)
    written = 0
    for step in range(steps):
        ts = start_ms + step * step_ms
        for instrument in workload.instruments:
            event = PriceEvent(instrument.id, workload.initial_price(instrument), None, None, None, ts,
                               min(ts, received))
            producer.send(topics.prices, event_key(event), encode_event(event))
            written += 1
            if written % HISTORY_FLUSH_RECORDS == 0:
                await producer.flush()
    await producer.flush()
    return written


async def _timed_history(settings: CrashTestSettings, writer: _Writer, workload: Workload,
                         result: CrashTestResult) -> None:
    started = time.monotonic()
    result.history_ticks = await write_history(writer.producer, writer.topics, workload,
                                               settings.history_hours)
    result.history_write_s = time.monotonic() - started
    log.info("wrote %d history ticks in %.1f s", result.history_ticks, result.history_write_s)


async def _clean_up(watcher: asyncio.Task[None], fleet: ProcessorFleet, writer: _Writer,
                    result: CrashTestResult) -> None:
    watcher.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await watcher
    await fleet.kill_all()
    await writer.producer.stop()
    fleet.finish()
    result.lives = fleet.lives
    result.incarnations = fleet.incarnations
    result.failed_deliveries = writer.failed_deliveries
    result.resent_prices = writer.resent_prices
    result.resent_accounts = writer.resent_accounts


async def run_crash_test(settings: CrashTestSettings, command: str = "") -> CrashTestResult:
    """Run one crash test end to end and verify it; never raises for a failed check."""
    started = time.monotonic()
    prefix = settings.prefix
    topics = Topics.with_prefix(prefix)
    group_id = f"{prefix}processors"
    kafka = KafkaSettings(bootstrap_servers=settings.bootstrap, client_id="hedge-crash-test")
    bus = KafkaBus(kafka)
    catalog = default_catalog()
    workload = Workload(settings.workload, catalog)
    log_dir = settings.work_dir or Path(tempfile.mkdtemp(prefix="hedge-crash-test-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    result = CrashTestResult(
        started_at=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S"),
        command=command, bootstrap=settings.bootstrap, topic_prefix=prefix,
        seed=settings.workload.seed, portfolios=settings.workload.portfolios,
        instruments=len(workload.instruments), processors=settings.processors,
        partitions=settings.partitions, log_dir=str(log_dir),
    )
    await bus.create_topics(topics.specs(settings.partitions))
    fleet = ProcessorFleet(processor_command(settings, prefix, group_id), log_dir, settings.processors,
                           instance_prefix=f"{prefix}processor-" if settings.static_members else "")
    writer = _Writer(await bus.producer(), topics)
    snapshots = SnapshotLog()
    watcher = asyncio.create_task(fleet.watch(), name="crash-test-ready-watch")
    try:
        if settings.history_hours:
            await _timed_history(settings, writer, workload, result)
        for index in range(settings.processors):
            await fleet.start(index)
        await _write_and_kill(settings, workload, writer, fleet, result)
        settle = workload.settle()
        await writer.write(list(settle))
        result.settle_ticks = len(settle)
        result.write_time_s = time.monotonic() - started
        log.info("wrote %d events and %d settle ticks; waiting for the processors to catch up",
                 result.events_written, len(settle))
        catch_up_started = time.monotonic()
        portfolios = sorted({event.portfolio for event in writer.accounts})
        async with TopicTail(bus, topics.risk, snapshots.add) as risk:
            try:
                await _catch_up(settings, bus, kafka, group_id, topics, fleet, risk, snapshots,
                                portfolios, workload)
            except CrashTestError as exc:
                result.problems.append(str(exc))
            result.catch_up_time_s = time.monotonic() - catch_up_started
            result.exit_codes = await fleet.stop_all(settings.stop_timeout_s)
            if any(code != 0 for code in result.exit_codes):
                result.problems.append(f"processors exited with {result.exit_codes} after SIGTERM")
            await risk.read_to_end()
    except CrashTestError as exc:
        result.problems.append(str(exc))
    finally:
        await _clean_up(watcher, fleet, writer, result)
    verify_started = time.monotonic()
    result.verification = await verify_topics(bus, topics, snapshots, writer.accounts,
                                              resent_accounts=writer.resent_accounts)
    result.verify_time_s = time.monotonic() - verify_started
    result.wall_time_s = time.monotonic() - started
    return result


async def verify_topics(
    bus: KafkaBus,
    topics: Topics,
    snapshots: SnapshotLog,
    written_accounts: list[AccountEvent] | None = None,
    *,
    resent_accounts: int = 0,
) -> VerificationReport:
    """Read the input, alert and dead-letter topics in full and verify ``snapshots`` against them."""
    inputs = InputLog()
    alerts = AlertLog()
    await read_topic(bus, topics.prices, inputs.add_price)
    await read_topic(bus, topics.positions, inputs.add_account)
    await read_topic(bus, topics.alerts, alerts.add)
    dead_letters = await read_topic(bus, topics.dlq, lambda _: None)
    return verify(inputs, snapshots, alerts, dead_letters=dead_letters, written_accounts=written_accounts,
                  resent_accounts=resent_accounts)


async def _write_and_kill(
    settings: CrashTestSettings,
    workload: Workload,
    writer: _Writer,
    fleet: ProcessorFleet,
    result: CrashTestResult,
) -> None:
    """Write every event at ``write_rate``; at each kill point act on the group while writing goes on."""
    total = settings.workload.events
    kill_rng = random.Random(settings.workload.seed * 7919 + 17)
    kill_points = sorted(kill_rng.sample(range(1, total), settings.kills))
    restart_points = [total * (k + 1) // (settings.broker_restarts + 1)
                      for k in range(settings.broker_restarts)]
    events = workload.events()
    written = 0
    kill: asyncio.Task[None] | None = None
    broker: asyncio.Task[None] | None = None
    interval_s = settings.chunk_events / settings.write_rate
    await fleet.wait_all_ready(settings.ready_timeout_s)
    next_write = time.monotonic()
    stops = sorted({*kill_points, *restart_points, total})
    try:
        for point in stops:
            while written < point:
                chunk = list(itertools.islice(events, min(settings.chunk_events, point - written)))
                await writer.write(chunk)
                written += len(chunk)
                result.events_written = written
                result.price_events = writer.prices
                result.account_events = len(writer.accounts)
                # Pace the stream so that it is still flowing when a kill lands.
                next_write = max(next_write + interval_s, time.monotonic() - interval_s)
                await asyncio.sleep(max(0.0, next_write - time.monotonic()))
            if point in restart_points and settings.restart_broker is not None:
                if broker is not None:
                    await broker
                broker = asyncio.create_task(
                    _restart_broker(settings.restart_broker, result), name=f"broker-restart-{point}")
            if point not in kill_points:
                continue
            if kill is not None:
                await kill
            number = kill_points.index(point) + 1
            action, victim, delay = _choose_kill(settings, kill_rng, fleet)
            if action == "rebalance" or kill_rng.random() >= settings.unready_kill_share:
                await fleet.wait_all_ready(settings.ready_timeout_s)
            kill = asyncio.create_task(
                _kill_later(settings, fleet, result, number, len(kill_points), victim, delay, action),
                name=f"kill-{number}")
        if kill is not None:
            await kill
        if broker is not None:
            await broker
        await _fill_group(settings, fleet)
    finally:
        for task in (kill, broker):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task


def _choose_kill(settings: CrashTestSettings, rng: random.Random,
                 fleet: ProcessorFleet) -> tuple[Action, int, float]:
    """The kill point's action, victim and delay."""
    roll = rng.random()
    action: Action = ("rebalance" if roll < settings.rebalance_kill_share else
                      "leave" if roll < settings.rebalance_kill_share + settings.leave_share
                      else "restart")
    if action != "restart" and len(fleet.alive()) < 2:
        action = "restart"  # the group keeps at least one member
    victim = rng.choice(fleet.alive())
    delay = rng.uniform(0.0, settings.max_kill_delay_s)
    if action == "rebalance":
        delay = min(delay, REBALANCE_KILL_DELAY_S)  # the new member is still joining
    return action, victim, delay


async def _restart_broker(restart: RestartBroker, result: CrashTestResult) -> None:
    at_event = result.events_written
    started = time.monotonic()
    log.info("broker restart at event %d", at_event)
    await restart()
    result.broker_restarts.append(BrokerRestart(at_event, round(time.monotonic() - started, 2)))
    log.info("broker back after %.1f s", time.monotonic() - started)


async def _fill_group(settings: CrashTestSettings, fleet: ProcessorFleet) -> None:
    """Start new members until ``settings.processors`` run (after leaves)."""
    while len(fleet.alive()) < settings.processors:
        await fleet.start(fleet.add())


async def _kill_later(
    settings: CrashTestSettings,
    fleet: ProcessorFleet,
    result: CrashTestResult,
    number: int,
    kills: int,
    victim: int,
    delay_s: float,
    action: Action,
) -> None:
    """After ``delay_s`` (the writer keeps writing) act on the group with one SIGKILL.

    ``restart``: the victim starts again at once. ``rebalance``: a new member is started first and
    the victim is killed while that member is still joining, then the victim starts again.
    ``leave``: the victim is not restarted (a later kill point, or the end, starts a new member).
    """
    joiner: int | None = None
    if action == "rebalance" and len(fleet.alive()) < settings.partitions:
        joiner = fleet.add()
        await fleet.start(joiner)
    await asyncio.sleep(delay_s)
    incarnation = fleet.slots[victim].incarnation
    ready = fleet.ready(victim)
    rebalancing = any(not fleet.ready(index) for index in fleet.alive() if index != victim)
    uptime = await fleet.kill(victim)
    at_event = result.events_written
    result.kills.append(KillRecord(number, victim, incarnation, at_event, round(uptime, 2),
                                   round(delay_s, 3), ready, action, rebalancing))
    log.info("kill %d/%d (%s): SIGKILL processor %d (life %d, up %.1f s, %s%s) at event %d",
             number, kills, action, victim, incarnation, uptime,
             "owning partitions" if ready else "before owning partitions",
             ", during a rebalance" if rebalancing else "", at_event)
    if action == "leave":
        return
    if joiner is not None and len(fleet.alive()) >= settings.processors:
        return  # the joiner took the victim's place: the group keeps its size
    await fleet.start(victim)
    await _fill_group(settings, fleet)


async def _catch_up(
    settings: CrashTestSettings,
    bus: KafkaBus,
    kafka: KafkaSettings,
    group_id: str,
    topics: Topics,
    fleet: ProcessorFleet,
    risk: TopicTail,
    snapshots: SnapshotLog,
    portfolios: list[str],
    workload: Workload,
) -> None:
    """Wait for lag 0 on hedge.positions and settle prices in every portfolio's last snapshot."""
    asset_prices = workload.settle_asset_prices()
    marks = workload.settle_marks()
    deadline = time.monotonic() + settings.catch_up_timeout_s
    lag: dict[int, int] = {}
    behind: list[str] = portfolios
    while True:
        fleet.check_alive()
        await risk.read_to_end()
        lag = await group_lag(bus, kafka, group_id, topics.positions)
        behind = [p for p in portfolios if not reflects_settle(snapshots.last.get(p), asset_prices, marks)]
        if not any(lag.values()) and not behind:
            return
        if time.monotonic() > deadline:
            raise CrashTestError(
                f"not caught up after {settings.catch_up_timeout_s:.0f} s: lag {lag}, "
                f"{len(behind)} portfolios without the settle prices (first: {behind[:5]})")
        await asyncio.sleep(POLL_INTERVAL_S)


def print_result(result: CrashTestResult, stream: IO[str]) -> None:
    """The table, then the JSON document."""
    stream.write(result.table() + "\n")
    stream.write(orjson.dumps(result.to_dict(), option=orjson.OPT_INDENT_2).decode() + "\n")
