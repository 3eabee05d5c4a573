"""The whole pipeline in one test: simulator venues -> ingest -> MemoryBus -> Processor -> outputs.

``running_pipeline`` runs ``monitor.app.run_pipeline`` (ingest, processor, the in-process bus) over
the given venue objects and yields a ``PipelineRun`` that reads ``hedge.risk``, ``hedge.alerts``
and ``hedge.dlq`` straight from the bus, so a test compares the latest risk snapshot with the
simulator's authoritative state. Waiting is always polling with a deadline (``tests.support.eventually``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from monitor.app import IngestHandle, run_pipeline
from monitor.bus.base import Topics
from monitor.bus.memory import MemoryBus
from monitor.config import MonitorConfig
from monitor.ingest.supervisor import ConnectionSupervisor, SupervisorSettings
from monitor.metrics import Metrics
from monitor.processor.runner import Processor, ProcessorSettings
from monitor.sim.server import SimulatorServer
from monitor.venues.base import AccountContext, Venue
from monitor.venues.binance_usdm import BinanceUsdm
from monitor.venues.okx import Okx
from tests.support import eventually

PORTFOLIO = "main"
DEADLINE_S = 10.0
SHUTDOWN_S = 10.0
# Fast reconnects for every test: backoff under 0.3 s, a short close handshake.
FAST = SupervisorSettings(backoff_base_s=0.05, backoff_cap_s=0.3, close_timeout_s=0.5)


def okx_venue(sim: SimulatorServer, account: str = "okx-main") -> Okx:
    """OKX BTC-USDT-SWAP (market and private) of ``account`` pointed at the simulator."""
    return Okx(
        symbols=["BTC-USDT-SWAP"],
        account=AccountContext(account, PORTFOLIO, sim.credentials("okx", account)),
        ws_base_url=sim.ws_url("okx"),
        rest_base_url=sim.rest_url("okx"),
    )


def binance_venue(sim: SimulatorServer, account: str = "binance-main") -> BinanceUsdm:
    """Binance USDⓈ-M BTCUSDT (market and listenKey private stream) pointed at the simulator."""
    return BinanceUsdm(
        symbols=["BTCUSDT"],
        account=AccountContext(account, PORTFOLIO, sim.credentials("binance", account)),
        ws_base_url=sim.ws_url("binance"),
        rest_base_url=sim.rest_url("binance"),
    )


@dataclass(slots=True)
class PipelineRun:
    """A running pipeline: the bus it publishes to and the handles of ingest and processor."""

    bus: MemoryBus
    topics: Topics
    ingest_handles: list[IngestHandle] = field(default_factory=list)
    processors: list[Processor] = field(default_factory=list)

    @property
    def ingest(self) -> IngestHandle:
        """The running ingest (its sink and supervisors)."""
        return self.ingest_handles[0]

    @property
    def processor(self) -> Processor:
        """The running processor."""
        return self.processors[0]

    def supervisor(self, venue: str, stream: str) -> ConnectionSupervisor:
        """The supervisor of one stream (``okx``/``private``)."""
        return self.ingest.runner.supervisor(venue, stream)

    def _values(self, topic: str) -> list[dict[str, Any]]:
        values: list[dict[str, Any]] = []
        for record in self.bus.records(topic):
            value = orjson.loads(record.value)
            if isinstance(value, dict):
                values.append(value)
        return values

    def snapshots(self, portfolio: str = PORTFOLIO) -> list[dict[str, Any]]:
        """Every hedge.risk snapshot of a portfolio, oldest first."""
        return [s for s in self._values(self.topics.risk) if s.get("portfolio") == portfolio]

    def latest(self, portfolio: str = PORTFOLIO) -> dict[str, Any] | None:
        """The newest hedge.risk snapshot of a portfolio, or None before the first."""
        snapshots = self.snapshots(portfolio)
        return snapshots[-1] if snapshots else None

    def alerts(self) -> list[dict[str, Any]]:
        """Every hedge.alerts value, oldest first."""
        return self._values(self.topics.alerts)

    def dead_letters(self) -> list[dict[str, Any]]:
        """Every hedge.dlq value, oldest first."""
        return self._values(self.topics.dlq)

    def quantity(self, account: str, instrument: str, portfolio: str = PORTFOLIO) -> float | None:
        """The position quantity in the latest snapshot (0 when closed, None before a snapshot)."""
        return snapshot_quantity(self.latest(portfolio), account, instrument)

    def spot_delta(self, asset: str, portfolio: str = PORTFOLIO) -> float | None:
        """``assets.<asset>.spot_delta`` of the latest snapshot (None if absent)."""
        return snapshot_spot_delta(self.latest(portfolio), asset)

    def resynced(self, min_connects: int = 1) -> bool:
        """Every stream has connected ``min_connects`` times and its latest connection resynced.

        A new connection reports "connected" first, so "resynced" means the REST resync of the
        current connection finished (with an account, every stream's supervisor resyncs it).
        """
        supervisors = self.ingest.runner.supervisors if self.ingest_handles else ()
        return bool(supervisors) and all(
            s.connects >= min_connects and s.status == "resynced" for s in supervisors
        )

    def describe(self, portfolio: str = PORTFOLIO) -> dict[str, object]:
        """What a failed wait prints: latest positions, spot deltas, stale feeds, supervisors."""
        latest = self.latest(portfolio)
        supervisors = {
            s.name: (s.status, s.connects, s.resyncs, s.resync_failures, s.events)
            for s in (self.ingest.runner.supervisors if self.ingest_handles else ())
        }
        if latest is None:
            return {"snapshot": None, "supervisors": supervisors}
        return {
            "positions": [(p["account"], p["instrument"], p["quantity"]) for p in latest["positions"]],
            "spot_delta": {a: f["spot_delta"] for a, f in latest["assets"].items()},
            "stale": latest["feeds"]["stale"],
            "supervisors": supervisors,
        }


def snapshot_quantity(snapshot: dict[str, Any] | None, account: str, instrument: str) -> float | None:
    """``positions[].quantity`` of one (account, instrument); 0 when the book no longer holds it."""
    if snapshot is None:
        return None
    for position in snapshot["positions"]:
        if position["account"] == account and position["instrument"] == instrument:
            return float(position["quantity"])
    return 0.0


def snapshot_spot_delta(snapshot: dict[str, Any] | None, asset: str) -> float | None:
    """``assets.<asset>.spot_delta`` of a snapshot, or None."""
    if snapshot is None:
        return None
    figures = snapshot["assets"].get(asset)
    return None if figures is None else float(figures["spot_delta"])


def processor_settings(stale_after_ms: int = 30_000) -> ProcessorSettings:
    """Processor timing for tests: fast fetches and ticks, ``stale_after_ms`` as given."""
    return ProcessorSettings(
        topics=Topics(),
        group_id="exchange-faults",
        fetch_timeout_ms=50,
        tick_interval_s=0.05,
        stale_after_ms=stale_after_ms,
    )


@asynccontextmanager
async def running_pipeline(
    venues: Sequence[Venue],
    *,
    supervisor_settings: SupervisorSettings = FAST,
    stale_after_ms: int = 30_000,
    metrics: Metrics | None = None,
) -> AsyncIterator[PipelineRun]:
    """Run ingest + processor over a MemoryBus for ``venues``; stop gracefully on exit.

    A failure inside the pipeline (a task group error) is raised here, on exit or while waiting for
    the processor to start.
    """
    settings = processor_settings(stale_after_ms)
    config = replace(
        MonitorConfig(source="<exchange-faults test>"),
        topics=settings.topics,
        topic_partitions=1,
        processor=settings,
    )
    bus = MemoryBus(default_partitions=1)
    run = PipelineRun(bus, config.topics)
    stop = asyncio.Event()
    task = asyncio.create_task(
        run_pipeline(
            config,
            stop,
            bus=bus,
            supervisor_settings=supervisor_settings,
            metrics=metrics,
            on_ingest=run.ingest_handles.append,
            on_processor=run.processors.append,
            venues=venues,
        ),
        name="pipeline",
    )
    try:
        await eventually(
            lambda: (
                task.done()
                or (bool(run.processors) and run.processor.ready.is_set() and bool(run.ingest_handles))
            ),
            DEADLINE_S,
        )
        if task.done():
            task.result()  # raises what ended the pipeline early
        yield run
    finally:
        stop.set()
        try:
            async with asyncio.timeout(SHUTDOWN_S):
                await task
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
