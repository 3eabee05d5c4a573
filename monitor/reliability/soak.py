"""The soak: the whole pipeline under a desk's load for an hour, sampled every 10 s.

The driver::

    start, as a user would: ``hedge-monitor simulate --scenario desk`` ; N ``hedge-monitor process``
        (one group, topics with a prefix unique to the run) ; ``hedge-monitor ingest --config``
        (a config written for the run: every scenario account, pointed at the simulator)
    every interval: RSS (/proc/<pid>/status VmRSS) and open file descriptors (/proc/<pid>/fd) of
        each child, the group's lag on hedge.positions, and each processor's
        ``hedge_event_loop_lag_seconds`` and ``hedge_events_processed_total`` from its /metrics
    at the end: stop ingest and the simulator (no new input), wait until the lag drains to 0,
        stop the processors (SIGTERM: they checkpoint and exit 0)
    verdict (``judge``, a pure function of the samples): each monitor process' RSS growth after
        the warm-up (median of the last 3 samples against the median of the first 3) at most 5 %,
        the lag back to 0 after the drain, every processor busy, no child died

Run it with ``hedge-monitor soak`` (``monitor.commands.soak`` parses the flags).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import math
import os
import re
import signal
import socket
import statistics
import sys
import tempfile
import time
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

import monitor
from monitor.bus.base import Topics
from monitor.bus.kafka import KafkaBus, KafkaSettings
from monitor.errors import HedgeMonitorError
from monitor.reliability.kafka_io import committed_offsets, end_offsets
from monitor.sim.scenario import Scenario, load_scenario

log = logging.getLogger(__name__)

RSS_GROWTH_LIMIT = 0.05
"""The largest RSS growth after the warm-up that passes (5 %)."""
EDGE_SAMPLES = 3
"""Samples whose median is the RSS at the start (after the warm-up) and at the end."""
PROCESSOR_READY = re.compile(rb"assigned partitions \[\d")
SIMULATOR_READY = b"simulator listening on"
LOG_TAIL_BYTES = 3_000
POLL_INTERVAL_S = 0.25
WS_PATHS: Mapping[str, str] = {"bingx": "/swap-market", "mexc": "/edge"}
"""Venues whose websocket base URL carries a path (as ``monitor.sim.server.SimulatorServer.urls``)."""
PASSPHRASE_VENUES = frozenset({"okx", "weex"})


class SoakError(HedgeMonitorError, RuntimeError):
    """The soak could not run to the end (a child died, a start deadline passed)."""


# -- the samples and the verdict (pure) --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sample:
    """One measurement of every child, ``at_s`` seconds after the load started."""

    at_s: float
    rss_kib: Mapping[str, int | None]
    fds: Mapping[str, int | None]
    lag: int | None
    loop_lag_s: Mapping[str, float | None] = field(default_factory=dict)
    processed: Mapping[str, float | None] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready figures."""
        return {"at_s": round(self.at_s, 1), "rss_kib": dict(self.rss_kib), "fds": dict(self.fds),
                "lag": self.lag, "loop_lag_s": dict(self.loop_lag_s), "processed": dict(self.processed)}


@dataclass(frozen=True, slots=True)
class Growth:
    """RSS of one process at the start (after the warm-up) and at the end, and its growth."""

    process: str
    start_kib: float
    end_kib: float
    checked: bool

    @property
    def ratio(self) -> float:
        """end / start - 1 (0.05 is +5 %)."""
        return self.end_kib / self.start_kib - 1.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready figures."""
        return {"process": self.process, "start_kib": round(self.start_kib), "end_kib": round(self.end_kib),
                "growth_ratio": round(self.ratio, 4), "checked": self.checked}


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the samples say: RSS growth per process, lag figures, and the problems found."""

    growth: tuple[Growth, ...]
    peak_lag: int | None
    final_lag: int | None
    loop_lag_p99_s: Mapping[str, float | None]
    loop_lag_max_s: Mapping[str, float | None]
    fds_start: Mapping[str, int | None]
    fds_end: Mapping[str, int | None]
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """True when nothing failed."""
        return not self.problems


def _median_of(values: Sequence[int | None]) -> float | None:
    present = [value for value in values if value is not None]
    return statistics.median(present) if present else None


def percentile(values: Sequence[float], share: float) -> float:
    """The nearest-rank percentile (``share`` 0.99 for p99) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, math.ceil(round(share * len(ordered), 9)))
    return ordered[min(rank, len(ordered)) - 1]


def judge(
    samples: Sequence[Sample],
    warmup_s: float,
    checked: Sequence[str],
    final_lag: int | None,
    processors: Sequence[str],
    limit: float = RSS_GROWTH_LIMIT,
) -> Verdict:
    """The verdict over ``samples``: growth after ``warmup_s``, lag back to 0, every processor busy.

    The RSS at the start is the median of the first ``EDGE_SAMPLES`` samples at or after the
    warm-up, the RSS at the end the median of the last ``EDGE_SAMPLES`` (fewer, at most half the
    samples each, when the run is short, so the two never overlap). Processes in ``checked`` fail
    above ``limit``; the others are only reported. ``final_lag`` is the lag after the drain.
    """
    problems: list[str] = []
    after = [sample for sample in samples if sample.at_s >= warmup_s]
    names = sorted({name for sample in samples for name in sample.rss_kib})
    growth: list[Growth] = []
    if len(after) < 2:
        problems.append(f"{len(after)} samples after the warm-up of {warmup_s:.0f} s: at least 2 needed")
    else:
        edge = min(EDGE_SAMPLES, len(after) // 2)
        for name in names:
            start = _median_of([sample.rss_kib.get(name) for sample in after[:edge]])
            end = _median_of([sample.rss_kib.get(name) for sample in after[-edge:]])
            if start is None or end is None or start <= 0:
                if name in checked:
                    problems.append(f"{name}: no RSS measured after the warm-up")
                continue
            figure = Growth(name, start, end, name in checked)
            growth.append(figure)
            if figure.checked and figure.ratio > limit:
                problems.append(f"{name}: RSS grew {figure.ratio:+.1%} after the warm-up "
                                f"({start:.0f} -> {end:.0f} KiB), above the {limit:.0%} limit")
    lags = [sample.lag for sample in samples if sample.lag is not None]
    if final_lag is None:
        problems.append("the consumer lag after the drain is unknown")
    elif final_lag != 0:
        problems.append(f"the consumer lag did not return to 0 (still {final_lag} after the drain)")
    p99: dict[str, float | None] = {}
    peak: dict[str, float | None] = {}
    for name in processors:
        loop_lags = [value for sample in samples if (value := sample.loop_lag_s.get(name)) is not None]
        p99[name] = percentile(loop_lags, 0.99) if loop_lags else None
        peak[name] = max(loop_lags) if loop_lags else None
        counts = [value for sample in after if (value := sample.processed.get(name)) is not None]
        if len(counts) < 2 or counts[-1] <= counts[0]:
            problems.append(f"{name} processed no events after the warm-up")
    return Verdict(
        growth=tuple(growth),
        peak_lag=max(lags) if lags else None,
        final_lag=final_lag,
        loop_lag_p99_s=p99,
        loop_lag_max_s=peak,
        fds_start=dict(after[0].fds) if after else {},
        fds_end=dict(after[-1].fds) if after else {},
        problems=tuple(problems),
    )


def warmup_seconds(minutes: float, interval_s: float, warmup_minutes: float | None) -> float:
    """The warm-up: ``warmup_minutes``, else 10 % of the run, and at least one interval."""
    chosen = minutes * 6.0 if warmup_minutes is None else warmup_minutes * 60.0
    return max(chosen, interval_s)


# -- reading /proc and /metrics -----------------------------------------------------------------


def rss_kib(pid: int) -> int | None:
    """VmRSS of ``pid`` in KiB (``/proc/<pid>/status``), None when it is gone."""
    try:
        with Path(f"/proc/{pid}/status").open(encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def open_fds(pid: int) -> int | None:
    """Open file descriptors of ``pid`` (entries of ``/proc/<pid>/fd``), None when it is gone."""
    try:
        return sum(1 for _ in Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return None


def metric_values(text: str, name: str) -> list[float]:
    """Every value of the series of ``name`` in a Prometheus text exposition."""
    values: list[float] = []
    for line in text.splitlines():
        if line.startswith(name) and line[len(name):len(name) + 1] in ("{", " "):
            with contextlib.suppress(ValueError, IndexError):
                values.append(float(line.rsplit(" ", 1)[1]))
    return values


def _scrape(port: int) -> str | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            body: bytes = response.read()
            return body.decode("utf-8", "replace")
    except OSError:
        return None


def free_port() -> int:
    """A TCP port that was free a moment ago on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


# -- the config ingest runs with ----------------------------------------------------------------


def portfolio_of(account: str) -> str:
    """``desk-<x>`` for an account ending in ``-<x>`` (the desk scenario's naming), else ``desk``."""
    suffix = account.rsplit("-", 1)[-1] if "-" in account else ""
    return f"desk-{suffix}" if suffix else "desk"


def _env_name(index: int, part: str) -> str:
    return f"SOAK_ACCOUNT_{index}_{part}"


def ingest_config(scenario: Scenario, sim_port: int, bootstrap: str, prefix: str,
                  partitions: int) -> tuple[str, dict[str, str]]:
    """The TOML config of ingest for every account of ``scenario``, and the environment of its keys.

    Each account subscribes the scenario's instruments of its venue; its credentials are the
    simulator's deterministic ones (``sim-<venue>-<account>-key|secret|passphrase``), passed as
    ``env:`` references like real keys.
    """
    symbols: dict[str, list[str]] = {}
    for instrument in scenario.instruments:
        symbols.setdefault(instrument.venue, []).append(instrument.symbol)
    lines = ["[kafka]", f'bootstrap_servers = "{bootstrap}"', f'topic_prefix = "{prefix}"',
             f"partitions = {partitions}", "", "[metrics]", "enabled = false", ""]
    env: dict[str, str] = {}
    for index, account in enumerate(scenario.accounts):
        base = f"127.0.0.1:{sim_port}/{account.venue}"
        names = ", ".join(f'"{symbol}"' for symbol in symbols.get(account.venue, ()))
        lines += ["[[accounts]]", f'id = "{account.account}"', f'venue = "{account.venue}"',
                  f'portfolio = "{portfolio_of(account.account)}"', f"symbols = [{names}]",
                  f'api_key = "env:{_env_name(index, "KEY")}"',
                  f'api_secret = "env:{_env_name(index, "SECRET")}"']
        credential = f"sim-{account.venue}-{account.account}"
        env[_env_name(index, "KEY")] = f"{credential}-key"
        env[_env_name(index, "SECRET")] = f"{credential}-secret"
        if account.venue in PASSPHRASE_VENUES:
            lines.append(f'passphrase = "env:{_env_name(index, "PASSPHRASE")}"')
            env[_env_name(index, "PASSPHRASE")] = f"{credential}-passphrase"
        lines += [f'ws_base_url = "ws://{base}{WS_PATHS.get(account.venue, "")}"',
                  f'rest_base_url = "http://{base}"']
        if account.venue == "binance-spot":
            lines.append(f'ws_api_url = "ws://{base}/ws-api/v3"')
        lines.append("")
    return "\n".join(lines), env


# -- the children -------------------------------------------------------------------------------


@dataclass(slots=True)
class Child:
    """One subprocess of the soak and its log file."""

    name: str
    command: list[str]
    log_path: Path
    process: asyncio.subprocess.Process | None = None
    stopping: bool = False

    @property
    def pid(self) -> int | None:
        """The pid while it runs."""
        return None if self.process is None else self.process.pid

    def log_bytes(self) -> bytes:
        """The whole log so far."""
        return self.log_path.read_bytes() if self.log_path.exists() else b""

    def log_tail(self) -> str:
        """The end of the log."""
        return self.log_bytes()[-LOG_TAIL_BYTES:].decode("utf-8", "replace")


class Children:
    """The soak's subprocesses (each logs stdout and stderr to its own file)."""

    def __init__(self, log_dir: Path, extra_env: Mapping[str, str]) -> None:
        self.log_dir = log_dir
        self.children: dict[str, Child] = {}
        package_root = str(Path(monitor.__file__).resolve().parents[1])
        path = os.environ.get("PYTHONPATH")
        self._env = {**os.environ, **extra_env,
                     "PYTHONPATH": package_root if not path else f"{package_root}:{path}"}

    async def start(self, name: str, arguments: Sequence[str]) -> Child:
        """Start ``python -m monitor <arguments>`` as ``name``."""
        child = Child(name, [sys.executable, "-m", "monitor", *arguments], self.log_dir / f"{name}.log")
        with child.log_path.open("wb") as log_file:
            child.process = await asyncio.create_subprocess_exec(
                *child.command, stdin=asyncio.subprocess.DEVNULL, stdout=log_file,
                stderr=asyncio.subprocess.STDOUT, env=self._env)
        self.children[name] = child
        log.info("started %s (pid %d)", name, child.process.pid)
        return child

    def check_alive(self) -> None:
        """Raise with the log tail if a child exited without being told to."""
        for child in self.children.values():
            process = child.process
            if process is not None and process.returncode is not None and not child.stopping:
                raise SoakError(f"{child.name} exited with {process.returncode}:\n{child.log_tail()}")

    async def wait_for_log(self, name: str, pattern: re.Pattern[bytes] | bytes, timeout_s: float) -> None:
        """Wait until ``name``'s log shows ``pattern``."""
        child = self.children[name]
        deadline = time.monotonic() + timeout_s
        while True:
            text = child.log_bytes()
            if (pattern.search(text) if isinstance(pattern, re.Pattern) else pattern in text):
                return
            self.check_alive()
            if time.monotonic() > deadline:
                raise SoakError(f"{name} not ready after {timeout_s:.0f} s:\n{child.log_tail()}")
            await asyncio.sleep(POLL_INTERVAL_S)

    async def stop(self, name: str, timeout_s: float) -> int | None:
        """SIGTERM ``name`` and wait (SIGKILL after ``timeout_s``); its exit code (None if killed)."""
        child = self.children.get(name)
        if child is None or child.process is None:
            return None
        child.stopping = True
        process = child.process
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(timeout_s):
                return await process.wait()
        except TimeoutError:
            process.kill()
            await process.wait()
            return None

    async def kill_all(self) -> None:
        """SIGKILL whatever still runs (cleanup after a failure)."""
        for child in self.children.values():
            process = child.process
            if process is not None and process.returncode is None:
                child.stopping = True
                process.kill()
                await process.wait()


# -- the driver ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SoakSettings:
    """Everything one soak needs; the CI soak is the same with fewer minutes."""

    bootstrap: str
    minutes: float = 60.0
    interval_s: float = 10.0
    warmup_minutes: float | None = None
    processors: int = 2
    partitions: int = 6
    scenario: str = "desk"
    topic_prefix: str = ""
    ready_timeout_s: float = 120.0
    drain_timeout_s: float = 120.0
    stop_timeout_s: float = 60.0
    work_dir: Path | None = None

    def __post_init__(self) -> None:
        if not self.minutes > 0 or not self.interval_s > 0:
            raise ValueError("minutes and interval_s must be above 0")
        if self.warmup_minutes is not None and not 0 <= self.warmup_minutes < self.minutes:
            raise ValueError("warmup_minutes must be at least 0 and shorter than the run")
        if not (1 <= self.processors <= self.partitions):
            raise ValueError("processors must be between 1 and the number of partitions")

    @property
    def warmup_s(self) -> float:
        """The warm-up in seconds."""
        return warmup_seconds(self.minutes, self.interval_s, self.warmup_minutes)

    @property
    def prefix(self) -> str:
        """The topic prefix: the one given, else one unique to this run."""
        return self.topic_prefix or f"soak-{os.getpid()}-{int(time.time())}."


@dataclass(slots=True)
class SoakResult:
    """The samples, the verdict and how the run went."""

    started_at: str
    command: str
    settings: SoakSettings
    topic_prefix: str
    log_dir: str
    samples: list[Sample] = field(default_factory=list)
    verdict: Verdict | None = None
    problems: list[str] = field(default_factory=list)
    exit_codes: dict[str, int | None] = field(default_factory=dict)
    drain_s: float | None = None
    wall_time_s: float = 0.0

    @property
    def all_problems(self) -> list[str]:
        """The run's own problems, then the verdict's."""
        return [*self.problems, *(self.verdict.problems if self.verdict else ())]

    @property
    def ok(self) -> bool:
        """True when the run completed and the verdict passed."""
        return self.verdict is not None and not self.all_problems

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready figures."""
        verdict = self.verdict
        return {
            "ok": self.ok,
            "started_at": self.started_at,
            "command": self.command,
            "bootstrap": self.settings.bootstrap,
            "scenario": self.settings.scenario,
            "minutes": self.settings.minutes,
            "interval_s": self.settings.interval_s,
            "warmup_s": self.settings.warmup_s,
            "processors": self.settings.processors,
            "partitions": self.settings.partitions,
            "topic_prefix": self.topic_prefix,
            "wall_time_s": round(self.wall_time_s, 1),
            "drain_s": None if self.drain_s is None else round(self.drain_s, 1),
            "exit_codes": self.exit_codes,
            "problems": self.all_problems,
            "growth": [] if verdict is None else [g.to_dict() for g in verdict.growth],
            "peak_lag": None if verdict is None else verdict.peak_lag,
            "final_lag": None if verdict is None else verdict.final_lag,
            "event_loop_lag_p99_s": {} if verdict is None else dict(verdict.loop_lag_p99_s),
            "event_loop_lag_max_s": {} if verdict is None else dict(verdict.loop_lag_max_s),
            "fds_after_warmup": {} if verdict is None else dict(verdict.fds_start),
            "fds_end": {} if verdict is None else dict(verdict.fds_end),
            "samples": [sample.to_dict() for sample in self.samples],
            "log_dir": self.log_dir,
        }

    def table(self, max_rows: int = 40) -> str:
        """The samples over time (thinned to about ``max_rows``), then the growth per process."""
        lines: list[str] = []
        names = sorted({name for sample in self.samples for name in sample.rss_kib})
        processors = [name for name in names if name.startswith("processor")]
        header = (["t (s)"] + [f"{name} RSS MiB/fds" for name in names] + ["lag"]
                  + [f"{name} loop ms" for name in processors])
        rows = [header]
        step = max(1, -(-len(self.samples) // max_rows))
        shown = self.samples[::step]
        if self.samples and shown[-1] is not self.samples[-1]:
            shown.append(self.samples[-1])
        for sample in shown:
            row = [f"{sample.at_s:.0f}"]
            for name in names:
                rss, fds = sample.rss_kib.get(name), sample.fds.get(name)
                row.append(f"{'-' if rss is None else f'{rss / 1024:.1f}'}/{'-' if fds is None else fds}")
            row.append("-" if sample.lag is None else str(sample.lag))
            for name in processors:
                value = sample.loop_lag_s.get(name)
                row.append("-" if value is None else f"{value * 1000:.1f}")
            rows.append(row)
        widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
        lines.extend("  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True))
                     for row in rows)
        verdict = self.verdict
        lines.append("")
        lines.append(f"result: {'PASS' if self.ok else 'FAIL'} ({self.settings.minutes:g} min, warm-up "
                     f"{self.settings.warmup_s:.0f} s, {len(self.samples)} samples)")
        if verdict is not None:
            for figure in verdict.growth:
                rule = f"limit {RSS_GROWTH_LIMIT:.0%}" if figure.checked else "reported only"
                lines.append(f"RSS {figure.process}: {figure.start_kib / 1024:.1f} -> "
                             f"{figure.end_kib / 1024:.1f} MiB ({figure.ratio:+.2%}, {rule})")
            lines.extend(f"fds {name}: {verdict.fds_start.get(name)} -> {verdict.fds_end.get(name)}"
                         for name in sorted(verdict.fds_end))
            lines.append(f"consumer lag on positions: peak {verdict.peak_lag}, after the drain "
                         f"{verdict.final_lag}")
            for name in sorted(verdict.loop_lag_p99_s):
                p99, peak = verdict.loop_lag_p99_s[name], verdict.loop_lag_max_s[name]
                lines.append(f"event-loop lag {name}: p99 {_ms(p99)}, max {_ms(peak)}")
        lines.extend(f"problem: {problem}" for problem in self.all_problems)
        return "\n".join(lines)


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.1f} ms"


async def _lag(bus: KafkaBus, kafka: KafkaSettings, group_id: str, topic: str) -> tuple[int, int]:
    """The group's total lag on ``topic`` and the records written to it so far."""
    ends = await end_offsets(bus, topic)
    committed = await committed_offsets(kafka, group_id, topic)
    return sum(end - committed.get(partition, 0) for partition, end in ends.items()), sum(ends.values())


async def _sample(children: Children, at_s: float, lag: int | None,
                  metrics_ports: Mapping[str, int]) -> Sample:
    rss: dict[str, int | None] = {}
    fds: dict[str, int | None] = {}
    for name, child in children.children.items():
        pid = child.pid
        rss[name] = None if pid is None else rss_kib(pid)
        fds[name] = None if pid is None else open_fds(pid)
    loop_lag: dict[str, float | None] = {}
    processed: dict[str, float | None] = {}
    for name, port in metrics_ports.items():
        text = await asyncio.to_thread(_scrape, port)
        loop_values = [] if text is None else metric_values(text, "hedge_event_loop_lag_seconds")
        loop_lag[name] = loop_values[0] if loop_values else None
        counts = [] if text is None else metric_values(text, "hedge_events_processed_total")
        processed[name] = sum(counts) if counts else None
    return Sample(at_s, rss, fds, lag, loop_lag, processed)


async def run_soak(settings: SoakSettings, command: str = "") -> SoakResult:
    """Run one soak end to end and judge it; never raises for a failed check."""
    started = time.monotonic()
    prefix = settings.prefix
    topics = Topics.with_prefix(prefix)
    group_id = f"{prefix}processors"
    log_dir = settings.work_dir or Path(tempfile.mkdtemp(prefix="hedge-soak-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    result = SoakResult(
        started_at=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S"), command=command,
        settings=settings, topic_prefix=prefix, log_dir=str(log_dir))
    scenario = load_scenario(settings.scenario)
    run_s = settings.minutes * 60.0
    if scenario.duration_s < run_s + settings.ready_timeout_s:
        result.problems.append(
            f"scenario {scenario.name} lasts {scenario.duration_s:.0f} s, shorter than the soak "
            f"({run_s:.0f} s) plus the start-up allowance ({settings.ready_timeout_s:.0f} s): the "
            f"load would stop; pick fewer --minutes or a longer scenario")
        return result
    kafka = KafkaSettings(bootstrap_servers=settings.bootstrap, client_id="hedge-soak")
    bus = KafkaBus(kafka)
    await bus.create_topics(topics.specs(settings.partitions))
    sim_port = free_port()
    config_text, credentials = ingest_config(scenario, sim_port, settings.bootstrap, prefix,
                                             settings.partitions)
    config_path = log_dir / "ingest.toml"
    config_path.write_text(config_text, encoding="utf-8")
    children = Children(log_dir, credentials)
    metrics_ports = {f"processor-{index}": free_port() for index in range(settings.processors)}
    try:
        await children.start("simulator", ["simulate", "--scenario", settings.scenario,
                                            "--port", str(sim_port)])
        await children.wait_for_log("simulator", SIMULATOR_READY, settings.ready_timeout_s)
        for name, port in metrics_ports.items():
            await children.start(name, [
                "process", "--kafka", settings.bootstrap, "--topic-prefix", prefix, "--group-id", group_id,
                "--partitions", str(settings.partitions), "--metrics-port", str(port)])
        for name in metrics_ports:
            await children.wait_for_log(name, PROCESSOR_READY, settings.ready_timeout_s)
        await children.start("ingest", ["ingest", "--config", str(config_path)])
        await _sample_for(settings, children, bus, kafka, group_id, topics, metrics_ports, result)
        result.exit_codes["ingest"] = await children.stop("ingest", settings.stop_timeout_s)
        result.exit_codes["simulator"] = await children.stop("simulator", settings.stop_timeout_s)
        drain_started = time.monotonic()
        final_lag = await _drain(settings, children, bus, kafka, group_id, topics)
        result.drain_s = time.monotonic() - drain_started
        for name in metrics_ports:
            result.exit_codes[name] = await children.stop(name, settings.stop_timeout_s)
        bad = {name: code for name, code in result.exit_codes.items() if code != 0}
        if bad:
            result.problems.append(f"children exited with {bad} after SIGTERM")
        result.verdict = judge(result.samples, settings.warmup_s, ["ingest", *metrics_ports], final_lag,
                               list(metrics_ports))
    except SoakError as exc:
        result.problems.append(str(exc))
    finally:
        await children.kill_all()
    result.wall_time_s = time.monotonic() - started
    return result


async def _sample_for(
    settings: SoakSettings,
    children: Children,
    bus: KafkaBus,
    kafka: KafkaSettings,
    group_id: str,
    topics: Topics,
    metrics_ports: Mapping[str, int],
    result: SoakResult,
) -> None:
    """Sample every ``interval_s`` for ``minutes``; a dead child stops it with a SoakError."""
    load_started = time.monotonic()
    end = load_started + settings.minutes * 60.0
    next_sample = load_started + settings.interval_s
    while next_sample <= end + 1e-6:
        while time.monotonic() < next_sample:
            children.check_alive()
            await asyncio.sleep(min(1.0, max(0.0, next_sample - time.monotonic())))
        children.check_alive()
        lag: int | None
        try:
            lag, _ = await _lag(bus, kafka, group_id, topics.positions)
        except Exception as exc:  # noqa: BLE001 -- a failed lag read is a gap in the samples, not the end
            log.warning("lag read failed: %s", exc)
            lag = None
        sample = await _sample(children, time.monotonic() - load_started, lag, metrics_ports)
        result.samples.append(sample)
        log.info("sample at %.0f s: rss %s KiB, lag %s, loop lag %s", sample.at_s, dict(sample.rss_kib),
                 lag, dict(sample.loop_lag_s))
        next_sample += settings.interval_s


async def _drain(
    settings: SoakSettings,
    children: Children,
    bus: KafkaBus,
    kafka: KafkaSettings,
    group_id: str,
    topics: Topics,
) -> int | None:
    """Wait (up to ``drain_timeout_s``) until the group's lag on positions is 0; the last lag read."""
    deadline = time.monotonic() + settings.drain_timeout_s
    lag: int | None = None
    while True:
        children.check_alive()
        try:
            lag, written = await _lag(bus, kafka, group_id, topics.positions)
        except Exception as exc:  # noqa: BLE001 -- the broker may be slow to answer; the deadline decides
            log.warning("lag read failed: %s", exc)
            lag, written = None, 0
        if lag == 0:
            if written == 0:
                raise SoakError("no position or balance event reached the positions topic: no load")
            return lag
        if time.monotonic() > deadline:
            return lag
        await asyncio.sleep(POLL_INTERVAL_S * 4)


def print_result(result: SoakResult, stream: IO[str]) -> None:
    """The table."""
    stream.write(result.table() + "\n")


def write_json(result: SoakResult, path: Path) -> None:
    """The JSON document of the run."""
    path.write_bytes(orjson.dumps(result.to_dict(), option=orjson.OPT_INDENT_2))
