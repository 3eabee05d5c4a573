"""Prometheus metrics of hedge-monitor: risk figures from snapshots, firing alerts, pipeline health.

Every metric lives on an injected ``CollectorRegistry`` (a fresh one per ``Metrics`` when none is
given), never on prometheus_client's global registry, so tests and several monitors in one process
do not collide. Names follow the Prometheus conventions: ``hedge_`` prefix, base units in the name
(``_seconds``, ``_usd``, ``_ratio`` for fractions, ``_base`` for quantities in units of the asset
itself), ``_total`` on counters; currencies are part of the name, never a label.

Snapshot figures (``observe_snapshot``; the JSON shape is in docs/topics.md), by labels:

- ``{portfolio, asset}`` from ``assets``: ``hedge_asset_price_usd``, ``hedge_spot_delta_base``,
  ``hedge_futures_delta_base``, ``hedge_net_delta_base``, ``hedge_net_delta_usd``,
  ``hedge_residual_delta_base``, ``hedge_ratio``, ``hedge_ratio_target``,
  ``hedge_ratio_band_lower``, ``hedge_ratio_band_upper``, ``hedge_basis_ratio``,
  ``hedge_min_variance_ratio``; ``hedge_contracts_to_target`` also has ``instrument`` (the hedge
  instrument).
- ``{portfolio, account, instrument}`` from ``positions``: ``hedge_position_contracts``,
  ``hedge_position_notional_usd``, ``hedge_position_unrealized_pnl_usd``,
  ``hedge_position_funding_accrued_usd``, ``hedge_position_fees_usd``, ``hedge_margin_ratio``,
  ``hedge_margin_buffer_usd``, ``hedge_margin_buffer_ratio`` (``margin_buffer_fraction``),
  ``hedge_liquidation_price_usd``, ``hedge_liquidation_distance_ratio``; from a leg's
  ``remediation`` (only while it is nearer liquidation than the target distance):
  ``hedge_remediation_margin_usd`` (``add_margin_usd``), ``hedge_remediation_reduce_contracts``
  and ``hedge_remediation_target_distance_ratio``.
  ``hedge_liquidation_price_usd``, ``hedge_liquidation_distance_ratio``; the venue's own figures
  beside them, ``hedge_venue_liquidation_price_usd``, ``hedge_venue_margin_ratio``,
  ``hedge_adl_rank`` and ``hedge_adl_rank_top`` (the venue's ADL bucket and its top bucket), and
  ``hedge_model_divergence_ratio{portfolio, account, instrument, figure}``: ``|model - venue| /
  |venue|`` of ``figure`` ``liquidation_price`` or ``maintenance_margin_usd``.
- ``{portfolio, account}`` from ``accounts`` (unified / portfolio-margin accounts):
  ``hedge_account_margin_ratio`` (the venue's account maintenance margin / equity),
  ``hedge_account_liquidation_ratio`` (where the venue liquidates, same sense) and
  ``hedge_account_model_margin_ratio`` (the model of it between venue updates).
- ``{portfolio, asset}`` from ``effectiveness``: ``hedge_effectiveness_dollar_offset_ratio``,
  ``hedge_effectiveness_slope``, ``hedge_effectiveness_r_squared`` (``r2``),
  ``hedge_effectiveness_variance_reduction_ratio``, ``hedge_effectiveness_samples``,
  ``hedge_effectiveness_effective`` (1/0).
- ``{portfolio, shock}`` from ``stress``: ``hedge_stress_spot_pnl_usd``,
  ``hedge_stress_hedge_pnl_usd``, ``hedge_stress_net_pnl_usd``,
  ``hedge_stress_liquidated_positions`` (length of ``liquidated``).
- ``{portfolio}`` from ``costs``: ``hedge_funding_paid_usd``, ``hedge_funding_received_usd``,
  ``hedge_fees_usd``, ``hedge_cost_usd``, ``hedge_protection_usd``, ``hedge_cost_budget_usd``;
  and ``hedge_portfolio_stale_feeds`` (length of ``feeds.stale``),
  ``hedge_snapshot_timestamp_seconds`` (``ts_ms`` / 1000).
- ``{portfolio, asset}`` from ``lifecycle``: ``hedge_time_left_seconds``,
  ``hedge_opportunity_cost_usd``; ``hedge_lifecycle_condition{portfolio, asset, condition}`` is 1/0
  for ``expired``, ``exit_level_crossed``, ``stop_loss_hit``, ``cost_budget_exceeded``.

``hedge_basis_ratio`` is ``basis_bps / 10_000`` (Prometheus base units: a ratio, not basis points).
The stress ``shock`` label is the snapshot's shock written with ``format(shock, "g")`` (``-0.1``).
``hedge_band`` is a half-width around the target (``target ± band``): the two band gauges.

Undefined figures: a ``null`` (or a value that is not a finite number) *removes* the series rather
than setting NaN. A removed series goes stale in Prometheus, so a panel shows a gap and no rule
compares against it, which is what "undefined" means (NaN would also fail every comparison, but it
draws as a value in Grafana and survives in ``max``/``min`` aggregations confusingly). For the same
reason every series a portfolio's previous snapshot set and its new snapshot does not (a closed
position, a removed asset, a shock no longer computed) is removed.

Portfolio cardinality is bounded: the first ``portfolio_label_limit`` portfolios seen (by
``observe_snapshot`` or ``set_firing_alerts``) get their own series; snapshots and firing alerts of
any later portfolio are not exported per portfolio, ``hedge_portfolio_label_overflow_total`` counts
each such dropped observation and ``hedge_portfolio_label_overflow_portfolios`` counts the distinct
portfolios affected. ``hedge_alerts_firing{rule,severity}`` still counts every portfolio.

Pipeline health: ``hedge_events_processed_total{kind}``, ``hedge_dead_letters_total{source}``,
``hedge_reconnects_total{venue,stream}``, ``hedge_feed_events_total{venue,instrument}``,
``hedge_feed_last_event_timestamp_seconds{venue,instrument}``,
``hedge_feed_stale{venue,instrument}``, ``hedge_consumer_lag_messages{topic,partition}``,
``hedge_event_to_publish_seconds`` (histogram), ``hedge_ingest_buffered_events``,
``hedge_state_restored_partitions``, ``hedge_state_restores_total``,
``hedge_event_loop_lag_seconds`` (how late the event loop woke a 0.5 s sleep, last measurement;
``monitor.loopwatch``).
``observe_snapshot`` does not observe the latency histogram: the publisher calls
``observe_latency`` once the snapshot is handed to the producer. The processor exports the snapshot
gauges at most once a second (the latest snapshot of each portfolio), not on every snapshot.

``Metrics`` is not thread-safe: call it from one thread (the event loop). Scrapes from the HTTP
server thread read prometheus_client's own locked structures and the snapshot gauges' locked
line caches only. The endpoint serves ``Metrics.render()``: the snapshot gauges keep each series'
exposition line from the moment its value changes, so a scrape of a desk (about 27,000 series at
500 portfolios) joins lines instead of formatting every sample (8 ms against 190-270 ms of the GIL).
``NullMetrics`` has the same methods and records nothing: a component given no metrics uses it,
and calls it unconditionally.
"""

from __future__ import annotations

import asyncio
import math
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Generic, TypeVar
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import ThreadingWSGIServer
from prometheus_client.metrics import MetricWrapperBase

from monitor.domain.snapshot import AccountFigures, AssetFigures, LegFigures, RiskSnapshot

DEFAULT_PORTFOLIO_LABEL_LIMIT = 500
DEFAULT_METRICS_HOST = "127.0.0.1"
DEFAULT_METRICS_PORT = 9464

# Event-to-publish latency spans sub-millisecond in-process hops to multi-second Kafka stalls.
LATENCY_BUCKETS_SECONDS: tuple[float, ...] = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
)

BASIS_POINTS_PER_UNIT = 10_000.0
LIFECYCLE_CONDITIONS = ("expired", "exit_level_crossed", "stop_loss_hit", "cost_budget_exceeded")

_Metric = TypeVar("_Metric", bound=MetricWrapperBase)
_Labels = tuple[str, ...]


class _Family(Generic[_Metric]):
    """A labelled metric with its ``labels()`` children cached for the hot path."""

    __slots__ = ("children", "metric")

    def __init__(self, metric: _Metric) -> None:
        self.metric = metric
        self.children: dict[_Labels, _Metric] = {}

    def child(self, labels: _Labels) -> _Metric:
        """The child series for ``labels``, created once."""
        found = self.children.get(labels)
        if found is None:
            found = self.metric.labels(*labels)
            self.children[labels] = found
        return found

    def remove(self, labels: _Labels) -> None:
        """Drop the series for ``labels`` (no-op when it does not exist)."""
        if self.children.pop(labels, None) is not None:
            self.metric.remove(*labels)


# Set while the metrics endpoint renders in this thread: snapshot gauges then render their cached
# text lines themselves, so prometheus_client's per-sample formatting is skipped for them.
_rendering = threading.local()


def _escape(value: str) -> str:
    """A label value in the text exposition format (backslash, double quote and newline escaped)."""
    if "\\" in value or '"' in value or "\n" in value:
        return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return value


class _SnapshotGauge:
    """A labelled gauge of snapshot figures that keeps each series' exposition line ready.

    A desk exports tens of thousands of such series; prometheus_client formats every sample on
    every scrape (about 9 us each: 0.2 s of the GIL per scrape of 500 portfolios, taken from the
    event loop). Here a series' line is written when its value changes, and a scrape joins them.
    It is a collector of its registry as well, so ``get_sample_value`` and ``generate_latest``
    see it as any gauge.
    """

    __slots__ = ("documentation", "label_names", "lines", "lock", "name", "values")

    def __init__(self, name: str, documentation: str, label_names: Sequence[str],
                 registry: CollectorRegistry) -> None:
        self.name = name
        self.documentation = documentation
        self.label_names = tuple(label_names)
        self.values: dict[_Labels, float] = {}
        self.lines: dict[_Labels, str] = {}
        self.lock = threading.Lock()
        registry.register(self)

    def set(self, labels: _Labels, value: float) -> None:
        """Set the series for ``labels`` to ``value``."""
        if self.values.get(labels) == value:
            return
        pairs = ",".join(f'{name}="{_escape(label)}"' for name, label in zip(self.label_names, labels,
                                                                            strict=True))
        line = f"{self.name}{{{pairs}}} {value!r}\n"
        with self.lock:
            self.values[labels] = value
            self.lines[labels] = line

    def remove(self, labels: _Labels) -> None:
        """Drop the series for ``labels`` (no-op when it does not exist)."""
        with self.lock:
            self.values.pop(labels, None)
            self.lines.pop(labels, None)

    def exposition(self) -> str:
        """The family in the text exposition format (nothing while it has no series)."""
        with self.lock:
            lines = list(self.lines.values())
        if not lines:
            return ""
        documentation = self.documentation.replace("\\", "\\\\").replace("\n", "\\n")
        return f"# HELP {self.name} {documentation}\n# TYPE {self.name} gauge\n{''.join(lines)}"

    def collect(self) -> Iterable[Metric]:
        """The family as prometheus_client collects it (nothing while the endpoint renders it)."""
        if getattr(_rendering, "active", False):
            return []
        family = GaugeMetricFamily(self.name, self.documentation, labels=self.label_names)
        with self.lock:
            items = list(self.values.items())
        for labels, value in items:
            family.add_metric(list(labels), value)
        return [family]

    def describe(self) -> Iterable[Metric]:
        """The family without samples (for the registry's duplicate-name check)."""
        return [GaugeMetricFamily(self.name, self.documentation, labels=self.label_names)]


_SeriesKey = tuple[_SnapshotGauge, _Labels]
# Records one series value of a snapshot being observed (None: leave the series out).
_Put = Callable[[_SnapshotGauge, _Labels, float | None], None]


def _number(value: object) -> float | None:
    """A finite float, or None for null, booleans, non-numbers, NaN and infinities."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _flag(value: object) -> float | None:
    """1.0 / 0.0 for a boolean, None otherwise."""
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    return None


def _shock_label(shock: float) -> str:
    """The stress shock as a label value (``-0.1``)."""
    return format(shock, "g")


def _venue_of(instrument: str) -> str:
    """The venue part of a ``venue:symbol`` instrument id."""
    venue, separator, _ = instrument.partition(":")
    return venue if separator else "unknown"


class Metrics:
    """hedge-monitor's Prometheus metrics on one registry."""

    enabled: bool = True
    """Something reads these metrics: worth a broker round trip to measure the consumer lag."""

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        *,
        portfolio_label_limit: int = DEFAULT_PORTFOLIO_LABEL_LIMIT,
    ) -> None:
        if portfolio_label_limit < 0:
            raise ValueError(f"portfolio_label_limit must be >= 0, got {portfolio_label_limit}")
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        self.portfolio_label_limit = portfolio_label_limit
        self._portfolios: set[str] = set()
        self._overflowed: set[str] = set()
        self._series: dict[str, set[_SeriesKey]] = {}
        self._alert_counts: set[tuple[str, str]] = set()
        self._alert_series: set[_Labels] = set()
        self._last_event_seconds: dict[str, float] = {}
        self._snapshot_gauges: list[_SnapshotGauge] = []
        self._define_position_metrics()
        self._define_portfolio_metrics()
        self._define_health_metrics()

    def _define_position_metrics(self) -> None:
        """Gauges per asset and per position."""
        asset = ("portfolio", "asset")
        position = ("portfolio", "account", "instrument")

        # -- snapshot: per portfolio and asset
        self._asset_price = self._snapshot_gauge("hedge_asset_price_usd",
                                                 "Reference price of the asset (spot, else index).", asset)
        self._spot_delta = self._snapshot_gauge("hedge_spot_delta_base",
                                                "Spot holdings of the asset, in units of the asset.", asset)
        self._futures_delta = self._snapshot_gauge(
            "hedge_futures_delta_base", "Delta of the futures on the asset, in units of the asset.",
            asset)
        self._net_delta = self._snapshot_gauge("hedge_net_delta_base",
                                               "Net delta (spot + futures), in units of the asset.", asset)
        self._net_delta_usd = self._snapshot_gauge("hedge_net_delta_usd", "Net delta in USD.", asset)
        self._residual_delta = self._snapshot_gauge(
            "hedge_residual_delta_base",
            "Delta left after rebalancing to target with whole lots, in units of the asset.", asset)
        self._hedge_ratio = self._snapshot_gauge("hedge_ratio",
                                                 "Hedge ratio -(futures delta)/(spot delta).", asset)
        self._hedge_ratio_target = self._snapshot_gauge("hedge_ratio_target", "Target hedge ratio.", asset)
        self._band_lower = self._snapshot_gauge("hedge_ratio_band_lower",
                                                "Lower edge of the hedge ratio's tolerance band.", asset)
        self._band_upper = self._snapshot_gauge("hedge_ratio_band_upper",
                                                "Upper edge of the hedge ratio's tolerance band.", asset)
        self._contracts_to_target = self._snapshot_gauge(
            "hedge_contracts_to_target",
            "Contracts of the hedge instrument to sell (positive) or buy back to reach the target.",
            ("portfolio", "asset", "instrument"))
        self._basis = self._snapshot_gauge("hedge_basis_ratio",
                                           "Basis (futures - spot) / spot, as a ratio.", asset)
        self._min_variance = self._snapshot_gauge("hedge_min_variance_ratio",
                                                  "Minimum-variance hedge ratio (cross hedge).", asset)

        # -- snapshot: per portfolio and position
        self._position_contracts = self._snapshot_gauge(
            "hedge_position_contracts", "Signed contract count of the position.", position)
        self._position_notional = self._snapshot_gauge(
            "hedge_position_notional_usd", "Notional of the position in USD.", position)
        self._position_pnl = self._snapshot_gauge(
            "hedge_position_unrealized_pnl_usd", "Unrealised PnL of the position in USD.", position)
        self._position_funding = self._snapshot_gauge(
            "hedge_position_funding_accrued_usd",
            "Funding accrued on the position since the hedge began, in USD.", position)
        self._position_fees = self._snapshot_gauge(
            "hedge_position_fees_usd", "Fees paid on the position in USD.", position)
        self._margin_ratio = self._snapshot_gauge(
            "hedge_margin_ratio",
            "Maintenance margin / margin balance (liquidation at 1).", position)
        self._margin_buffer_usd = self._snapshot_gauge(
            "hedge_margin_buffer_usd", "Margin balance - maintenance margin, in USD.", position)
        self._margin_buffer_ratio = self._snapshot_gauge(
            "hedge_margin_buffer_ratio",
            "Margin buffer as a fraction of the margin balance.", position)
        self._liquidation_price = self._snapshot_gauge(
            "hedge_liquidation_price_usd", "Estimated liquidation price in USD.", position)
        self._liquidation_distance = self._snapshot_gauge(
            "hedge_liquidation_distance_ratio",
            "Distance to liquidation |liquidation price - mark| / mark.", position)
        self._remediation_margin = self._snapshot_gauge(
            "hedge_remediation_margin_usd",
            "Margin to add (USD) that puts the liquidation price back at the target distance.", position)
        self._remediation_reduce = self._snapshot_gauge(
            "hedge_remediation_reduce_contracts",
            "Contracts of the leg to close that put the liquidation price back at the target distance.",
            position)
        self._remediation_distance = self._snapshot_gauge(
            "hedge_remediation_target_distance_ratio",
            "The liquidation distance the remediation restores.", position)
        self._venue_liquidation_price = self._snapshot_gauge(
            "hedge_venue_liquidation_price_usd",
            "The venue's own reported liquidation price of the position.", position)
        self._venue_margin_ratio = self._snapshot_gauge(
            "hedge_venue_margin_ratio",
            "The venue's own reported maintenance margin / margin balance of the position.", position)
        self._adl_rank = self._snapshot_gauge(
            "hedge_adl_rank", "The venue's auto-deleveraging rank of the position.", position)
        self._adl_rank_top = self._snapshot_gauge(
            "hedge_adl_rank_top", "The venue's top auto-deleveraging bucket (next to be deleveraged).",
            position)
        self._model_divergence = self._snapshot_gauge(
            "hedge_model_divergence_ratio",
            "|model - venue| / |venue| of one figure of the position.", (*position, "figure"))
        account = ("portfolio", "account")
        self._account_margin_ratio = self._snapshot_gauge(
            "hedge_account_margin_ratio",
            "The venue's account maintenance margin / equity (unified or portfolio margin).", account)
        self._account_liquidation_ratio = self._snapshot_gauge(
            "hedge_account_liquidation_ratio",
            "The account margin ratio at which the venue liquidates.", account)
        self._account_model_margin_ratio = self._snapshot_gauge(
            "hedge_account_model_margin_ratio",
            "The model of the account maintenance margin / equity, moved with the marks.", account)

    def _define_portfolio_metrics(self) -> None:
        """Gauges for effectiveness, stress, costs and lifecycle."""
        asset = ("portfolio", "asset")
        # -- snapshot: effectiveness per portfolio and asset
        self._dollar_offset = self._snapshot_gauge(
            "hedge_effectiveness_dollar_offset_ratio",
            "Cumulative dollar offset -(dF)/(dS) since the hedge began.", asset)
        self._slope = self._snapshot_gauge("hedge_effectiveness_slope",
                                           "Regression slope of hedge changes on spot changes.", asset)
        self._r_squared = self._snapshot_gauge("hedge_effectiveness_r_squared",
                                               "R squared of the effectiveness regression.", asset)
        self._variance_reduction = self._snapshot_gauge(
            "hedge_effectiveness_variance_reduction_ratio",
            "Variance reduction 1 - Var(dS + dF) / Var(dS) (Ederington).", asset)
        self._effectiveness_samples = self._snapshot_gauge(
            "hedge_effectiveness_samples", "Samples in the effectiveness window.", asset)
        self._effective = self._snapshot_gauge("hedge_effectiveness_effective",
                                               "1 when the hedge is assessed effective, else 0.", asset)

        # -- snapshot: stress grid
        shock = ("portfolio", "shock")
        self._stress_spot = self._snapshot_gauge("hedge_stress_spot_pnl_usd",
                                                 "Spot PnL under a price shock, in USD.", shock)
        self._stress_hedge = self._snapshot_gauge("hedge_stress_hedge_pnl_usd",
                                                  "Hedge PnL under a price shock, in USD.", shock)
        self._stress_net = self._snapshot_gauge("hedge_stress_net_pnl_usd",
                                                "Net PnL under a price shock, in USD.", shock)
        self._stress_liquidated = self._snapshot_gauge(
            "hedge_stress_liquidated_positions",
            "Hedge legs liquidated under a price shock.", shock)

        # -- snapshot: costs per portfolio
        portfolio = ("portfolio",)
        self._funding_paid = self._snapshot_gauge("hedge_funding_paid_usd",
                                                  "Funding paid since the hedge began, in USD.", portfolio)
        self._funding_received = self._snapshot_gauge(
            "hedge_funding_received_usd", "Funding received since the hedge began, in USD.",
            portfolio)
        self._fees = self._snapshot_gauge("hedge_fees_usd", "Fees paid since the hedge began, in USD.",
                                          portfolio)
        self._hedge_cost = self._snapshot_gauge(
            "hedge_cost_usd", "Hedge cost: fees + funding paid - funding received, in USD.",
            portfolio)
        self._protection = self._snapshot_gauge(
            "hedge_protection_usd", "Loss the hedge absorbed (protection value), in USD.",
            portfolio)
        self._cost_budget = self._snapshot_gauge("hedge_cost_budget_usd",
                                                 "Cost budget of the hedge plan, in USD.", portfolio)

        # -- snapshot: lifecycle, feeds, freshness
        self._time_left = self._snapshot_gauge("hedge_time_left_seconds",
                                               "Time left until the hedge plan expires.", asset)
        self._opportunity_cost = self._snapshot_gauge(
            "hedge_opportunity_cost_usd", "Upside given up by the hedge, in USD.", asset)
        self._lifecycle_condition = self._snapshot_gauge(
            "hedge_lifecycle_condition",
            "1 when a hedge plan condition holds (expired, exit level crossed, stop-loss hit, "
            "cost budget exceeded), else 0.", ("portfolio", "asset", "condition"))
        self._stale_feeds = self._snapshot_gauge(
            "hedge_portfolio_stale_feeds", "Stale price feeds the portfolio depends on.", portfolio)
        self._snapshot_timestamp = self._snapshot_gauge(
            "hedge_snapshot_timestamp_seconds", "Time of the portfolio's latest risk snapshot.",
            portfolio)

    def _define_health_metrics(self) -> None:
        """Alert gauges, the label cap's own metrics and pipeline health."""
        self._alerts_firing = self._gauge(
            "hedge_alerts_firing", "Portfolios for which an alert rule is firing.",
            ("rule", "severity"))
        self._portfolio_alerts_firing = self._gauge(
            "hedge_portfolio_alerts_firing", "1 while the alert rule fires for the portfolio.",
            ("portfolio", "rule", "severity"))

        # -- portfolio label cap
        self._overflow_total = Counter(
            "hedge_portfolio_label_overflow",
            "Snapshots and firing alerts not exported per portfolio (label limit reached).",
            registry=self.registry)
        self._overflow_portfolios = Gauge(
            "hedge_portfolio_label_overflow_portfolios",
            "Distinct portfolios beyond the label limit.", registry=self.registry)
        self._portfolios_tracked = Gauge(
            "hedge_portfolios_tracked", "Portfolios exported with their own series.",
            registry=self.registry)

        # -- pipeline health
        self._events_processed = self._counter(
            "hedge_events_processed", "Events processed, by kind.", ("kind",))
        self._dead_letters = self._counter(
            "hedge_dead_letters", "Messages sent to the dead-letter topic, by source.", ("source",))
        self._reconnects = self._counter(
            "hedge_reconnects", "Venue stream reconnects.", ("venue", "stream"))
        self._feed_events = self._counter(
            "hedge_feed_events", "Price events received, by instrument.", ("venue", "instrument"))
        self._feed_last_event = self._gauge(
            "hedge_feed_last_event_timestamp_seconds",
            "Exchange event time of the latest price event of the instrument.",
            ("venue", "instrument"))
        self._feed_stale = self._gauge("hedge_feed_stale",
                                       "1 while the instrument's feed is stale, else 0.",
                                       ("venue", "instrument"))
        self._consumer_lag = self._gauge(
            "hedge_consumer_lag_messages", "Kafka consumer lag (end offset - position).",
            ("topic", "partition"))
        self._latency = Histogram(
            "hedge_event_to_publish_seconds",
            "Time from an input event's exchange timestamp to publishing its snapshot.",
            buckets=LATENCY_BUCKETS_SECONDS, registry=self.registry)
        self._ingest_buffered = Gauge(
            "hedge_ingest_buffered_events",
            "Events buffered by ingest while Kafka is unavailable.", registry=self.registry)
        self._state_restored_partitions = Gauge(
            "hedge_state_restored_partitions",
            "Partitions whose processor state was restored at the latest assignment.",
            registry=self.registry)
        self._state_restores = Counter(
            "hedge_state_restores", "Processor state restores from the checkpoint topic.",
            registry=self.registry)
        self._event_loop_lag = Gauge(
            "hedge_event_loop_lag_seconds",
            "How late the event loop woke the latest periodic 0.5 s sleep (0 = on time).",
            registry=self.registry)

    def _gauge(self, name: str, documentation: str, labels: Sequence[str]) -> _Family[Gauge]:
        return _Family(Gauge(name, documentation, labels, registry=self.registry))

    def _snapshot_gauge(self, name: str, documentation: str, labels: Sequence[str]) -> _SnapshotGauge:
        family = _SnapshotGauge(name, documentation, labels, self.registry)
        self._snapshot_gauges.append(family)
        return family

    def render(self) -> bytes:
        """Every metric in the Prometheus text exposition format (what ``/metrics`` serves)."""
        _rendering.active = True
        try:
            text = generate_latest(self.registry)
        finally:
            _rendering.active = False
        return text + "".join(family.exposition() for family in self._snapshot_gauges).encode()

    def _counter(self, name: str, documentation: str, labels: Sequence[str]) -> _Family[Counter]:
        return _Family(Counter(name, documentation, labels, registry=self.registry))

    # -- portfolio admission ----------------------------------------------------------------------

    def _admit(self, portfolio: str) -> bool:
        """True when the portfolio has (or now gets) its own series; counts the overflow if not."""
        if portfolio in self._portfolios:
            return True
        if len(self._portfolios) < self.portfolio_label_limit:
            self._portfolios.add(portfolio)
            self._portfolios_tracked.set(len(self._portfolios))
            return True
        self._overflow_total.inc()
        if portfolio not in self._overflowed:
            self._overflowed.add(portfolio)
            self._overflow_portfolios.set(len(self._overflowed))
        return False

    # -- risk snapshots ---------------------------------------------------------------------------

    def observe_snapshot(self, snapshot: RiskSnapshot) -> None:
        """Export a risk snapshot's figures, removing the portfolio's series it no longer has."""
        portfolio = snapshot.portfolio
        if not portfolio:
            raise ValueError("risk snapshot has no portfolio id")
        if not self._admit(portfolio):
            return
        values: dict[_SeriesKey, float] = {}

        def put(family: _SnapshotGauge, labels: _Labels, value: float | None) -> None:
            if value is not None:
                values[(family, labels)] = value

        put(self._snapshot_timestamp, (portfolio,), snapshot.ts_ms / 1000.0)
        put(self._stale_feeds, (portfolio,), float(len(snapshot.feeds.stale)))
        for asset, figures in snapshot.assets.items():
            self._asset_values(put, portfolio, asset, figures)
        for position in snapshot.positions:
            self._position_values(put, portfolio, position)
        for account, account_figures in snapshot.accounts.items():
            self._account_values(put, portfolio, account, account_figures)
        for asset, measures in snapshot.effectiveness.items():
            labels = (portfolio, asset)
            put(self._dollar_offset, labels, _number(measures.dollar_offset))
            put(self._slope, labels, _number(measures.slope))
            put(self._r_squared, labels, _number(measures.r2))
            put(self._variance_reduction, labels, _number(measures.variance_reduction))
            put(self._effectiveness_samples, labels, float(measures.samples))
            put(self._effective, labels, _flag(measures.effective))
        for scenario in snapshot.stress:
            labels = (portfolio, _shock_label(scenario.shock))
            put(self._stress_spot, labels, _number(scenario.spot_pnl_usd))
            put(self._stress_hedge, labels, _number(scenario.hedge_pnl_usd))
            put(self._stress_net, labels, _number(scenario.net_pnl_usd))
            put(self._stress_liquidated, labels, float(len(scenario.liquidated)))
        costs = snapshot.costs
        for family, value in (
            (self._funding_paid, costs.funding_paid_usd),
            (self._funding_received, costs.funding_received_usd),
            (self._fees, costs.fees_usd),
            (self._hedge_cost, costs.hedge_cost_usd),
            (self._protection, costs.protection_usd),
            (self._cost_budget, costs.cost_budget_usd),
        ):
            put(family, (portfolio,), _number(value))
        for asset, plan in snapshot.lifecycle.items():
            labels = (portfolio, asset)
            put(self._time_left, labels, _number(plan.time_left_s))
            put(self._opportunity_cost, labels, _number(plan.opportunity_cost_usd))
            for condition in LIFECYCLE_CONDITIONS:
                put(self._lifecycle_condition, (*labels, condition), _flag(getattr(plan, condition)))

        for (family, series_labels), value in values.items():
            family.set(series_labels, value)
        current = set(values)
        for family, series_labels in self._series.get(portfolio, set()) - current:
            family.remove(series_labels)
        self._series[portfolio] = current

    def _asset_values(self, put: _Put, portfolio: str, asset: str, figures: AssetFigures) -> None:
        labels = (portfolio, asset)
        put(self._asset_price, labels, _number(figures.price))
        put(self._spot_delta, labels, _number(figures.spot_delta))
        put(self._futures_delta, labels, _number(figures.futures_delta))
        put(self._net_delta, labels, _number(figures.net_delta))
        put(self._net_delta_usd, labels, _number(figures.net_delta_usd))
        put(self._residual_delta, labels, _number(figures.residual_delta))
        put(self._hedge_ratio, labels, _number(figures.hedge_ratio))
        target = _number(figures.target_hedge_ratio)
        put(self._hedge_ratio_target, labels, target)
        lower, upper = _band(figures.hedge_band, target)
        put(self._band_lower, labels, lower)
        put(self._band_upper, labels, upper)
        put(self._contracts_to_target, (portfolio, asset, figures.hedge_instrument or ""),
            _number(figures.contracts_to_target))
        basis_bps = _number(figures.basis_bps)
        put(self._basis, labels, None if basis_bps is None else basis_bps / BASIS_POINTS_PER_UNIT)
        put(self._min_variance, labels, _number(figures.min_variance_ratio))

    def _position_values(self, put: _Put, portfolio: str, position: LegFigures) -> None:
        labels = (portfolio, position.account, position.instrument)
        put(self._position_contracts, labels, _number(position.quantity))
        put(self._position_notional, labels, _number(position.notional_usd))
        put(self._position_pnl, labels, _number(position.unrealized_pnl_usd))
        put(self._position_funding, labels, _number(position.funding_accrued_usd))
        put(self._position_fees, labels, _number(position.fees_usd))
        put(self._margin_ratio, labels, _number(position.margin_ratio))
        put(self._margin_buffer_usd, labels, _number(position.margin_buffer_usd))
        put(self._margin_buffer_ratio, labels, _number(position.margin_buffer_fraction))
        put(self._liquidation_price, labels, _number(position.liquidation_price))
        put(self._liquidation_distance, labels, _number(position.liquidation_distance))
        remedy = position.remediation
        if remedy is not None:
            put(self._remediation_margin, labels, _number(remedy.add_margin_usd))
            put(self._remediation_reduce, labels, _number(remedy.reduce_contracts))
            put(self._remediation_distance, labels, _number(remedy.target_distance))
        venue = position.venue_figures
        if venue is not None:
            put(self._venue_liquidation_price, labels, _number(venue.liquidation_price))
            put(self._venue_margin_ratio, labels, _number(venue.margin_ratio))
            put(self._adl_rank, labels, _number(venue.adl_rank))
            put(self._adl_rank_top, labels, _number(venue.adl_rank_top))
        divergence = position.model_divergence
        put(self._model_divergence, (*labels, "liquidation_price"), _number(divergence.liquidation_price))
        put(self._model_divergence, (*labels, "maintenance_margin_usd"),
            _number(divergence.maintenance_margin_usd))

    def _account_values(self, put: _Put, portfolio: str, account: str, figures: AccountFigures) -> None:
        labels = (portfolio, account)
        put(self._account_margin_ratio, labels, _number(figures.venue.maintenance_margin_ratio))
        put(self._account_liquidation_ratio, labels, _number(figures.liquidation_ratio))
        put(self._account_model_margin_ratio, labels, _number(figures.model.maintenance_margin_ratio))

    # -- alerts -----------------------------------------------------------------------------------

    def set_firing_alerts(self, firing: Iterable[tuple[str, str, str]]) -> None:
        """Replace the set of firing alerts: ``(portfolio, rule, severity)`` triples."""
        counts: dict[tuple[str, str], int] = {}
        per_portfolio: set[_Labels] = set()
        for portfolio, rule, severity in set(firing):
            counts[(rule, severity)] = counts.get((rule, severity), 0) + 1
            if self._admit(portfolio):
                per_portfolio.add((portfolio, rule, severity))
        # Rule/severity pairs stay at 0 once seen, so "no alert" is a value, not an absent series.
        for key in self._alert_counts | set(counts):
            self._alerts_firing.child(key).set(counts.get(key, 0))
        self._alert_counts |= set(counts)
        for labels in per_portfolio:
            self._portfolio_alerts_firing.child(labels).set(1)
        for labels in self._alert_series - per_portfolio:
            self._portfolio_alerts_firing.remove(labels)
        self._alert_series = per_portfolio

    # -- pipeline health --------------------------------------------------------------------------

    def events_processed(self, kind: str, count: int = 1) -> None:
        """Count processed input events of one kind (price, position, balance, fill)."""
        self._events_processed.child((kind,)).inc(count)

    def dead_letter(self, source: str, count: int = 1) -> None:
        """Count messages sent to the dead-letter topic from ``source`` (venue or topic)."""
        self._dead_letters.child((source,)).inc(count)

    def reconnect(self, venue: str, stream: str) -> None:
        """Count one reconnect of a venue stream."""
        self._reconnects.child((venue, stream)).inc()

    def feed_event(self, instrument: str, ts_event_ms: int) -> None:
        """Count a price event and keep the instrument's latest event time (never moves back)."""
        labels = (_venue_of(instrument), instrument)
        self._feed_events.child(labels).inc()
        seconds = ts_event_ms / 1000.0
        if seconds > self._last_event_seconds.get(instrument, -math.inf):
            self._last_event_seconds[instrument] = seconds
            self._feed_last_event.child(labels).set(seconds)

    def feed_stale(self, instrument: str, stale: bool) -> None:
        """Mark the instrument's feed stale (1) or fresh (0)."""
        self._feed_stale.child((_venue_of(instrument), instrument)).set(1 if stale else 0)

    def consumer_lag(self, topic: str, partition: int, lag: int) -> None:
        """Set the consumer lag of one topic partition, in messages."""
        self._consumer_lag.child((topic, str(partition))).set(lag)

    def observe_latency(self, seconds: float) -> None:
        """Observe one event-to-publish latency."""
        self._latency.observe(seconds)

    def ingest_buffered(self, count: int) -> None:
        """Set how many events ingest holds while Kafka is unavailable."""
        self._ingest_buffered.set(count)

    def state_restored(self, partitions: int) -> None:
        """Record a processor state restore covering ``partitions`` partitions."""
        self._state_restores.inc()
        self._state_restored_partitions.set(partitions)

    def event_loop_lag(self, seconds: float) -> None:
        """Set how late the event loop woke the latest periodic sleep."""
        self._event_loop_lag.set(seconds)


class NullMetrics:
    """``Metrics`` that record nothing: the default of every component given no metrics.

    It has every public method of ``Metrics`` with the same signature (a test holds them together),
    so callers call their metrics unconditionally; ``enabled`` is False so that a figure costing
    I/O to measure (the consumer lag) is not measured for nobody.
    """

    enabled: bool = False

    def render(self) -> bytes:
        """No metrics: an empty exposition."""
        return b""

    def observe_snapshot(self, snapshot: RiskSnapshot) -> None:
        """Export nothing."""

    def set_firing_alerts(self, firing: Iterable[tuple[str, str, str]]) -> None:
        """Export nothing."""

    def events_processed(self, kind: str, count: int = 1) -> None:
        """Count nothing."""

    def dead_letter(self, source: str, count: int = 1) -> None:
        """Count nothing."""

    def reconnect(self, venue: str, stream: str) -> None:
        """Count nothing."""

    def feed_event(self, instrument: str, ts_event_ms: int) -> None:
        """Count nothing."""

    def feed_stale(self, instrument: str, stale: bool) -> None:
        """Export nothing."""

    def consumer_lag(self, topic: str, partition: int, lag: int) -> None:
        """Export nothing."""

    def observe_latency(self, seconds: float) -> None:
        """Observe nothing."""

    def ingest_buffered(self, count: int) -> None:
        """Export nothing."""

    def state_restored(self, partitions: int) -> None:
        """Record nothing."""

    def event_loop_lag(self, seconds: float) -> None:
        """Export nothing."""


def _band(band: float | None, target: float | None) -> tuple[float | None, float | None]:
    """Lower and upper hedge-ratio band edges from the band's half-width around the target."""
    half_width = _number(band)
    if half_width is None or target is None:
        return None, None
    return target - half_width, target + half_width


class MetricsServer:
    """The ``/metrics`` HTTP endpoint, served from a background thread."""

    def __init__(self, server: WSGIServer, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread
        self._closed = False

    @property
    def port(self) -> int:
        """The TCP port actually bound (useful with port 0)."""
        return int(self._server.server_port)

    @property
    def host(self) -> str:
        """The address actually bound."""
        return str(self._server.server_address[0])

    async def close(self) -> None:
        """Stop serving and release the socket (idempotent)."""
        if self._closed:
            return
        self._closed = True
        await asyncio.to_thread(self._server.shutdown)
        self._server.server_close()
        await asyncio.to_thread(self._thread.join)


class _QuietHandler(WSGIRequestHandler):
    """A request handler that logs nothing (scrapes every few seconds would fill the log)."""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 -- the base's signature
        """Log nothing."""


async def serve_metrics(
    metrics: Metrics, host: str = DEFAULT_METRICS_HOST, port: int = DEFAULT_METRICS_PORT
) -> MetricsServer:
    """Serve ``metrics.render()`` on ``http://host:port/metrics`` (port 0 picks a free port)."""

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        if environ.get("PATH_INFO", "/") not in ("/", "/metrics"):
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"only /metrics is served\n"]
        body = metrics.render()
        start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST),
                                  ("Content-Length", str(len(body)))])
        return [body]

    def start() -> tuple[WSGIServer, threading.Thread]:
        server = make_server(host, port, application, ThreadingWSGIServer, handler_class=_QuietHandler)
        thread = threading.Thread(target=server.serve_forever, name="metrics-http", daemon=True)
        thread.start()
        return server, thread

    server, thread = await asyncio.to_thread(start)
    return MetricsServer(server, thread)
