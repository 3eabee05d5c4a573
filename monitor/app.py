"""Wiring of the long-running pieces from a ``MonitorConfig``: ingest, processor, metrics.

``run_ingest`` turns the configured accounts, feeds and holdings into venue connections feeding a
``BusSink``; ``build_engine`` makes the risk engine with the configured plans and alert rules;
``run_pipeline`` runs both (plus ``/metrics``) in one process, on the in-process bus or on Kafka.
Every background task is owned by a TaskGroup: a failure in one ends the others loudly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

from monitor.alerts import AlertEngine
from monitor.bus.base import Bus, BusUnavailableError
from monitor.bus.kafka import KafkaBus
from monitor.bus.memory import MemoryBus
from monitor.config import AccountConfig, FeedConfig, MonitorConfig
from monitor.ingest.bus_sink import BusSink
from monitor.ingest.http import HttpTransport, UrllibTransport
from monitor.ingest.runner import VenueRunner
from monitor.ingest.supervisor import SupervisorSettings
from monitor.metrics import Metrics, MetricsServer, serve_metrics
from monitor.processor.engine import RiskEngine, RiskLevels
from monitor.processor.runner import Processor
from monitor.venues.base import Venue
from monitor.venues.registry import build_venue

log = logging.getLogger(__name__)

# A processor started while Kafka is away waits for it: first retry after this, doubling to the cap.
STARTUP_RETRY_S = 0.5
STARTUP_RETRY_CAP_S = 10.0


DEFAULT_CONFIG_SOURCE = "<defaults>"
"""``MonitorConfig.source`` of the configuration used when none is given."""


def build_engine(config: MonitorConfig | None = None) -> RiskEngine:
    """A risk engine with the configured catalog, plans and alert rules (the defaults without a config)."""
    if config is None:
        config = MonitorConfig(source=DEFAULT_CONFIG_SOURCE)
    alert_configs = [config.alerts, *(config.alerts_for(p) for p in config.portfolio_ids())]
    return RiskEngine(
        config.catalog,
        config.settings_for,
        lambda portfolio: AlertEngine(config.alerts_for(portfolio)),
        risk_levels=RiskLevels.from_alerts(alert_configs),
    )


def build_bus(config: MonitorConfig) -> Bus:
    """Kafka when the config names a broker, else the in-process bus."""
    if config.kafka is not None:
        return KafkaBus(config.kafka)
    return MemoryBus(default_partitions=1)


@dataclass(frozen=True, slots=True)
class _VenueSpec:
    venue: str
    symbols: tuple[str, ...]
    account: AccountConfig | None
    ws_base_url: str | None
    rest_base_url: str | None
    ws_api_url: str | None


def build_venues(config: MonitorConfig) -> list[Venue]:
    """One venue object per account; a public feed joins its venue's account, or stands alone."""
    specs: list[_VenueSpec] = [
        _VenueSpec(a.venue, a.symbols, a, a.ws_base_url, a.rest_base_url, a.ws_api_url)
        for a in config.accounts
    ]
    for feed in config.feeds:
        specs = _merge_feed(specs, feed)
    return [
        build_venue(
            spec.venue, symbols=spec.symbols,
            account=None if spec.account is None else spec.account.context(),
            catalog=config.catalog, ws_base_url=spec.ws_base_url,
            rest_base_url=spec.rest_base_url, ws_api_url=spec.ws_api_url,
            portfolio_margin=spec.account is not None and spec.account.portfolio_margin)
        for spec in specs
    ]


def _merge_feed(specs: list[_VenueSpec], feed: FeedConfig) -> list[_VenueSpec]:
    for index, spec in enumerate(specs):
        if spec.venue == feed.venue:
            symbols = tuple(dict.fromkeys((*spec.symbols, *feed.symbols)))
            specs[index] = _VenueSpec(spec.venue, symbols, spec.account, spec.ws_base_url,
                                      spec.rest_base_url, spec.ws_api_url)
            return specs
    specs.append(_VenueSpec(feed.venue, feed.symbols, None, feed.ws_base_url, feed.rest_base_url,
                            feed.ws_api_url))
    return specs


async def _cancel_on(stop: asyncio.Event, work: Awaitable[None]) -> None:
    """Run ``work`` until it ends or ``stop`` is set (then cancel it)."""
    task = asyncio.ensure_future(work)
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
        if not task.done():
            task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            if not stop.is_set():
                raise


@dataclass(slots=True)
class IngestHandle:
    """What a running ingest exposes: its sink and its supervisors (for the view and metrics)."""

    sink: BusSink
    runner: VenueRunner


async def run_ingest(
    config: MonitorConfig,
    bus: Bus,
    stop: asyncio.Event,
    *,
    metrics: Metrics | None = None,
    http: HttpTransport | None = None,
    supervisor_settings: SupervisorSettings | None = None,
    on_started: Callable[[IngestHandle], None] | None = None,
    venues: Sequence[Venue] | None = None,
) -> None:
    """Connect every configured venue (or ``venues``) and publish until ``stop``; then drain."""
    producer = await bus.producer()
    sink = BusSink(producer, config.topics, metrics=metrics)
    venues = build_venues(config) if venues is None else venues
    runner = VenueRunner(venues, sink, http or UrllibTransport(), supervisor_settings)
    if on_started is not None:
        on_started(IngestHandle(sink, runner))
    now = int(time.time() * 1000)
    await sink.publish([holding.balance_event(now) for holding in config.holdings])
    log.info("ingest: %d venue connections, %d static holdings",
             len(runner.supervisors), len(config.holdings))
    try:
        async with asyncio.TaskGroup() as group:
            group.create_task(sink.run(stop), name="ingest-sink")
            group.create_task(_cancel_on(stop, runner.run()), name="ingest-venues")
    finally:
        await producer.stop()


async def run_processor(
    config: MonitorConfig,
    bus: Bus,
    stop: asyncio.Event,
    *,
    metrics: Metrics | None = None,
    on_started: Callable[[Processor], None] | None = None,
) -> None:
    """Create the topics and run one processor until ``stop``.

    While Kafka is unavailable at start (a processor restarted during a broker outage), the start is
    retried with capped backoff. Once the processor is ready, an error ends it (it fails loudly).
    """
    delay = STARTUP_RETRY_S
    while not stop.is_set():
        processor = Processor(bus, build_engine(config), config.processor, metrics=metrics)
        try:
            await bus.create_topics(config.topics.specs(config.topic_partitions))
            if on_started is not None:
                on_started(processor)
            await processor.run(stop)
        except BusUnavailableError as exc:
            if processor.ready.is_set():
                raise
            log.warning("Kafka unavailable at start (%s); retrying in %.1f s", exc, delay)
        else:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)
        delay = min(delay * 2, STARTUP_RETRY_CAP_S)


async def start_metrics(config: MonitorConfig, metrics: Metrics, port: int | None = None
                        ) -> MetricsServer | None:
    """Serve ``/metrics`` when enabled (``port`` overrides the config's)."""
    if not config.metrics.enabled and port is None:
        return None
    server = await serve_metrics(metrics, config.metrics.host,
                                 config.metrics.port if port is None else port)
    log.info("metrics on http://%s:%d/metrics", config.metrics.host, server.port)
    return server


async def run_pipeline(
    config: MonitorConfig,
    stop: asyncio.Event,
    *,
    bus: Bus | None = None,
    metrics: Metrics | None = None,
    http: HttpTransport | None = None,
    supervisor_settings: SupervisorSettings | None = None,
    extra: Sequence[Callable[[asyncio.Event], Coroutine[Any, Any, None]]] = (),
    on_ingest: Callable[[IngestHandle], None] | None = None,
    on_processor: Callable[[Processor], None] | None = None,
    venues: Sequence[Venue] | None = None,
) -> None:
    """Ingest and processor in one process (in-process bus unless the config names Kafka)."""
    bus = bus or build_bus(config)
    await bus.create_topics(config.topics.specs(config.topic_partitions))
    ingest_stop = asyncio.Event()
    processor_stop = asyncio.Event()

    async def shutdown_in_order() -> None:
        # Graceful shutdown: stop reading exchanges, let the sink drain, then stop the processor
        # (which checkpoints and commits).
        await stop.wait()
        ingest_stop.set()

    started: list[Processor] = []
    processor_started = asyncio.Event()

    def processor_running(processor: Processor) -> None:
        started.append(processor)
        processor_started.set()
        if on_processor is not None:
            on_processor(processor)

    async def processor_after_ingest(ingest: asyncio.Task[None]) -> None:
        await asyncio.wait({ingest})
        if not ingest.cancelled() and ingest.exception() is None:
            await processor_started.wait()
            await started[0].drain()  # what the sink flushed last is applied and published
        processor_stop.set()

    async with asyncio.TaskGroup() as group:
        group.create_task(shutdown_in_order(), name="shutdown")
        ingest = group.create_task(
            run_ingest(config, bus, ingest_stop, metrics=metrics, http=http,
                       supervisor_settings=supervisor_settings, on_started=on_ingest,
                       venues=venues),
            name="ingest")
        group.create_task(
            run_processor(config, bus, processor_stop, metrics=metrics,
                          on_started=processor_running),
            name="processor")
        group.create_task(processor_after_ingest(ingest), name="processor-stop")
        for index, work in enumerate(extra):
            group.create_task(work(stop), name=f"extra-{index}")
