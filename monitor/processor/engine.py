"""The risk engine: books of every portfolio a processor owns, and the price table they share.

No I/O here: the processor (``monitor.processor.runner``) feeds decoded events in and publishes
what comes out. A price tick reaches only the portfolios that hold the instrument (or the asset,
for a spot price); an account event reaches its own portfolio.

Every held futures position is also kept in a columnar store (``ColumnarPositions``): a futures
tick reprices all holders of the instrument in one vectorised step and compares their margin ratio
and liquidation distance with ``RiskLevels``. A portfolio with a leg at or beyond those levels is
*urgent*: the processor publishes it at once even when ``publish_interval_ms`` throttles snapshots.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from monitor.domain.book import HedgeBook, InstrumentPrice, PriceTable
from monitor.domain.events import (
    AccountEvent,
    AccountMarginEvent,
    AccountModeEvent,
    BalanceEvent,
    FillEvent,
    InstrumentEvent,
    MismatchEvent,
    PositionEvent,
    PriceEvent,
)
from monitor.domain.instruments import Catalog, instrument_from_terms
from monitor.domain.plans import PortfolioSettings
from monitor.domain.snapshot import RiskSnapshot
from monitor.errors import HedgeMonitorError
from monitor.processor.columnar import ColumnarPositions

if TYPE_CHECKING:
    from monitor.alerts.config import AlertsConfig
    from monitor.alerts.engine import AlertEngine, AlertTransition

AlertEngineFactory = Callable[[str], "AlertEngine"]


class UnknownInstrumentError(HedgeMonitorError, ValueError):
    """An account event names an instrument the catalog does not know."""


@dataclass(frozen=True, slots=True)
class RiskLevels:
    """Leg figures that make a portfolio urgent: margin ratio at or above, distance at or below.

    The defaults are the default alert levels: ``margin_buffer_low`` 0.50 (a buffer fraction
    ``1 - MM / MB`` below 0.50 is a margin ratio above 0.50; risk-definitions "Margin") and
    ``liquidation_distance_low`` 0.05.
    """

    margin_ratio: float = 0.5
    liquidation_distance: float = 0.05

    @classmethod
    def from_alerts(cls, configs: Iterable[AlertsConfig]) -> RiskLevels:
        """The most sensitive levels of the enabled margin rules across alert configs (a staged
        liquidation rule's mildest % stage included)."""
        ratio = math.inf
        distance = -math.inf
        for config in configs:
            for name, as_ratio in (("margin_ratio_high", False), ("margin_buffer_low", True)):
                rule = config.rule(name)
                if rule.enabled and rule.threshold is not None:
                    ratio = min(ratio, 1.0 - rule.threshold if as_ratio else rule.threshold)
            rule = config.rule("liquidation_distance_low")
            if rule.enabled and rule.threshold is not None:
                distance = max(distance, rule.threshold, *(level for _, level in rule.stages))
        return cls(ratio, distance)


@dataclass(slots=True)
class PortfolioState:
    """A book with its alert engine and its place in the input stream."""

    book: HedgeBook
    alerts: AlertEngine | None
    partition: int
    applied_offset: int = -1
    dirty: bool = True
    last_receive_ms: int = 0
    watched: set[str] = field(default_factory=set)
    outbox: list[dict[str, Any]] = field(default_factory=list)
    # (account, instrument) of hedge legs a forced fill broke -> the sign of that fill
    broken_hedges: dict[tuple[str, str], int] = field(default_factory=dict)


def _settles_funding(previous: InstrumentPrice, event: PriceEvent) -> bool:
    """Whether a tick is the first at or after the funding time the previous tick announced."""
    due = previous.next_funding_ms
    return (due is not None and previous.funding_rate is not None
            and event.ts_event_ms >= due > previous.ts_event_ms)


class RiskEngine:
    """Owns books, the shared price table and the instrument → portfolios index."""

    def __init__(
        self,
        catalog: Catalog,
        settings_for: Callable[[str], PortfolioSettings],
        alert_engine_for: AlertEngineFactory | None = None,
        *,
        risk_levels: RiskLevels | None = None,
        follow_every_tick: bool = False,
    ) -> None:
        # Its own copy: live terms from hedge.instruments change this engine's catalog alone.
        catalog = catalog.copy()
        self.catalog = catalog
        self.prices = PriceTable(catalog)
        self.columns = ColumnarPositions(catalog)
        self.risk_levels = risk_levels or RiskLevels()
        self.follow_every_tick = follow_every_tick
        # Portfolios a tick touched since their last checkpoint (``needs_checkpoint``).
        self.ticked: set[str] = set()
        # Books that may have a sampling interval due, and per instrument the earliest sampling
        # horizon among its watchers (absent: to be computed; see ``sample``).
        self._sample_due: set[str] = set()
        self._sample_floor: dict[str, float] = {}
        self.urgent: set[str] = set()
        # Portfolios with alert transitions in their outbox, and those whose alert state changed
        # (transitions, a restore, a drop) since the runner last read their firing alerts.
        self.outboxes: set[str] = set()
        self.alerts_changed: set[str] = set()
        self._settings_for = settings_for
        self._alert_engine_for = alert_engine_for
        self.portfolios: dict[str, PortfolioState] = {}
        self._watchers: dict[str, set[str]] = {}
        self._spot_instruments: dict[str, list[str]] = {}
        self._instruments_of: dict[str, list[str]] = {}
        for instrument_id in catalog.ids():
            instrument = catalog.require(instrument_id)
            self._instruments_of.setdefault(instrument.base, []).append(instrument_id)
            if instrument.kind == "spot":
                self._spot_instruments.setdefault(instrument.base, []).append(instrument_id)

    def portfolio(self, portfolio_id: str, partition: int) -> PortfolioState:
        """The portfolio's state, created with its settings on first sight."""
        state = self.portfolios.get(portfolio_id)
        if state is None:
            book = HedgeBook(portfolio_id, self.catalog, self.prices, self._settings_for(portfolio_id))
            alerts = None if self._alert_engine_for is None else self._alert_engine_for(portfolio_id)
            if alerts is not None:
                book.remediation_distance = alerts.config_for(portfolio_id).remediation_distance
            state = PortfolioState(book, alerts, partition)
            self.portfolios[portfolio_id] = state
        return state

    def drop_partition(self, partition: int) -> list[str]:
        """Forget every portfolio of a partition (revoked from this instance)."""
        dropped = [p for p, s in self.portfolios.items() if s.partition == partition]
        for portfolio_id in dropped:
            self._unwatch(portfolio_id, self.portfolios[portfolio_id].watched)
            del self.portfolios[portfolio_id]
            self.columns.drop_portfolio(portfolio_id)
            self.ticked.discard(portfolio_id)
            self._sample_due.discard(portfolio_id)
            self.urgent.discard(portfolio_id)
            self.outboxes.discard(portfolio_id)
            self.alerts_changed.add(portfolio_id)
        return dropped

    def apply_account(self, event: AccountEvent, partition: int, offset: int) -> str | None:
        """Apply an account event; None when the portfolio already reflects this offset."""
        state = self.portfolio(event.portfolio, partition)
        if offset <= state.applied_offset:
            return None
        if isinstance(event, PositionEvent):
            instrument = self.catalog.get(event.instrument)
            if instrument is not None and not instrument.is_future:
                raise UnknownInstrumentError(
                    f"{event.instrument!r} is a spot instrument, not a futures contract: a "
                    "position in it cannot be held")
            # An instrument without terms yet is held as unknown until hedge.instruments has it.
            state.book.apply_position(event)
            self.columns.upsert(event)
        elif isinstance(event, BalanceEvent):
            state.book.apply_balance(event)
            reference = state.book.reference(event.asset)
            if reference is not None:
                state.book.apply_asset_price(event.asset, *reference)
        elif isinstance(event, MismatchEvent):
            self._report_mismatch(state, event)
        elif isinstance(event, AccountModeEvent):
            state.book.apply_account_mode(event)
        elif isinstance(event, AccountMarginEvent):
            state.book.apply_account_margin(event)
        else:
            self._report_hedge_broken(state, event)
            state.book.apply_fill(event)
        if isinstance(event, PositionEvent):
            latest = self.prices.prices.get(event.instrument)
            if latest is not None:
                state.book.apply_instrument_price(PriceEvent(
                    event.instrument, latest.mark, latest.index, latest.funding_rate,
                    latest.next_funding_ms, latest.ts_event_ms, latest.ts_receive_ms))
        state.applied_offset = offset
        state.dirty = True
        state.last_receive_ms = max(state.last_receive_ms, event.ts_receive_ms)
        self._rewatch(event.portfolio, state)
        self._sample_due.add(event.portfolio)
        for instrument_id in state.watched:  # its sampling horizon may have moved back
            self._sample_floor.pop(instrument_id, None)
        return event.portfolio

    def apply_instrument(self, event: InstrumentEvent) -> set[str]:
        """Take an instrument's live terms into the catalog; the portfolios whose figures change.

        Positions held in it without terms become priced; positions held with older terms take the
        new ones (the columnar block of the instrument is rebuilt).
        """
        known = self.catalog.get(event.instrument)
        instrument = instrument_from_terms(event, known)
        if not self.catalog.put(instrument):
            return set()
        new_spot = instrument.kind == "spot" and known is None
        of_base = self._instruments_of.setdefault(instrument.base, [])
        if instrument.id not in of_base:
            of_base.append(instrument.id)
        if instrument.kind == "spot":
            spot = self._spot_instruments.setdefault(instrument.base, [])
            if instrument.id not in spot:
                spot.append(instrument.id)
        touched: set[str] = set()
        rebuilt = self.columns.drop_instrument(instrument.id)
        holders = {portfolio for portfolio, _, _ in rebuilt}
        holders.update(self._watchers.get(instrument.id, ()))
        for portfolio_id in sorted(holders):
            state = self.portfolios.get(portfolio_id)
            if state is None:
                continue
            adopted = state.book.adopt_instrument(instrument)
            for position in adopted:
                self.columns.upsert(position)
            latest = self.prices.prices.get(instrument.id)
            if adopted and latest is not None:
                state.book.apply_instrument_price(PriceEvent(
                    instrument.id, latest.mark, latest.index, latest.funding_rate,
                    latest.next_funding_ms, latest.ts_event_ms, latest.ts_receive_ms))
            state.dirty = True
            self._rewatch(portfolio_id, state)
            touched.add(portfolio_id)
        if new_spot:  # a new spot source of an asset the books may hold
            for portfolio_id, state in self.portfolios.items():
                before = set(state.watched)
                self._rewatch(portfolio_id, state)
                if state.watched != before:
                    touched.add(portfolio_id)
        # adopted terms and new watchers move sampling horizons back
        self._sample_due |= touched
        self._sample_floor.clear()
        return touched

    def queue_transitions(self, portfolio_id: str, transitions: list[AlertTransition]) -> None:
        """Put a portfolio's alert transitions in its outbox (published after its state is written)."""
        if not transitions:
            return
        self.portfolios[portfolio_id].outbox.extend(transition.to_dict() for transition in transitions)
        self.outboxes.add(portfolio_id)
        self.alerts_changed.add(portfolio_id)

    def _report_mismatch(self, state: PortfolioState, event: MismatchEvent) -> None:
        """A resync found (or no longer finds) the stream's state wrong: the position_mismatch alert."""
        if state.alerts is None:
            return
        if event.active:
            message = (f"{event.subject} in account {event.account}: the stream said "
                       f"{event.stream_quantity:g}, a REST resync found {event.resync_quantity:g}; "
                       "a stream update was missed (corrected by the resync)")
        else:
            message = f"{event.subject} in account {event.account}: stream and resync agree again"
        transitions = state.alerts.report_condition(
            event.portfolio, "position_mismatch", event.subject, event.active,
            event.resync_quantity - event.stream_quantity, event.ts_event_ms, message)
        self.queue_transitions(event.portfolio, transitions)

    def _report_hedge_broken(self, state: PortfolioState, event: FillEvent) -> None:
        """A liquidation or ADL fill breaks the hedge: the critical ``hedge_broken`` alert with the
        delta now left unhedged (``HedgeBook.unhedged_by``); an own trade on the leg in the other
        direction re-hedges it and resolves the alert."""
        if state.alerts is None:
            return
        broken = state.broken_hedges
        if event.forced is None:
            direction = broken.pop((event.account, event.instrument), None)
            if direction is not None and direction * event.quantity > 0:
                broken[(event.account, event.instrument)] = direction
                return  # a fill that adds to the loss of hedge
            if direction is None and (event.portfolio, "hedge_broken", event.instrument) not in {
                    firing[:3] for firing in state.alerts.firing()}:
                return  # nothing broken there (a firing alert restored from a checkpoint counts)
            transitions = state.alerts.report_condition(
                event.portfolio, "hedge_broken", event.instrument, False, None, event.ts_event_ms,
                f"{event.instrument} in account {event.account}: re-hedged by a trade of "
                f"{event.quantity:g} contracts at {event.price:g}")
            self.queue_transitions(event.portfolio, transitions)
            return
        unhedged = state.book.unhedged_by(event)
        if unhedged is None:
            return
        delta, delta_usd = unhedged
        asset = state.book.catalog.require(event.instrument).base
        usd_text = "" if delta_usd is None else f" ({delta_usd:+,.2f} USD)"
        what = "an auto-deleveraging (ADL)" if event.forced == "adl" else "a liquidation"
        verb = "bought" if event.quantity > 0 else "sold"
        broken[(event.account, event.instrument)] = 1 if event.quantity > 0 else -1
        message = (f"{event.instrument} in account {event.account}: {what} fill {verb} "
                   f"{abs(event.quantity):g} contracts at {event.price:g}; the hedge is broken, "
                   f"{delta:+g} {asset}{usd_text} of delta now unhedged")
        transitions = state.alerts.report_condition(
            event.portfolio, "hedge_broken", event.instrument, True, delta, event.ts_event_ms, message)
        self.queue_transitions(event.portfolio, transitions)

    def apply_price(self, event: PriceEvent) -> set[str]:
        """Store a price and reprice its holders at once; the portfolios it touched.

        No book follows the tick here: a book follows the newest tick of each instrument it watches
        when it is next read or changed (``HedgeBook.follow_prices``: the value changes telescope),
        so a tick costs the columnar repricing and set operations, whatever the number of holders.
        Followed here, tick by tick, in every watching book: an instrument's first price (a leg's
        first mark after the venue's figures, a reference source appearing), a tick that settles
        funding (the settlement takes the mark and rate before it) and every tick of a contract
        that accrues funding continuously (Deribit: the accrual is a sum over time at each mark).
        ``follow_every_tick`` follows every tick so: the reference path.
        """
        instrument_id = event.instrument
        instrument = self.catalog.get(instrument_id)
        watchers = self._watchers.get(instrument_id)
        previous = self.prices.prices.get(instrument_id)
        at_once = bool(watchers) and (self.follow_every_tick or previous is None or (
            instrument is not None and (
                instrument.funding_accrual == "continuous" or _settles_funding(previous, event))))
        portfolios = self.portfolios
        if at_once and previous is not None and watchers:
            for portfolio_id in watchers:
                # the ticks deferred so far end at the price before this one
                portfolios[portfolio_id].book.follow_tick(instrument_id)
        if not self.prices.apply(event):
            return set()
        if instrument is not None and instrument.is_future:
            self._reprice(instrument_id, event.mark)
        if not watchers:
            return set()
        self.ticked |= watchers
        floor = self._sample_floor.get(instrument_id)
        if floor is None:
            floor = self._instrument_sample_floor(instrument_id)
        if event.ts_event_ms >= floor:
            self._sample_due |= watchers
            del self._sample_floor[instrument_id]
        touched = set(watchers)
        if at_once:
            for portfolio_id in touched:
                portfolios[portfolio_id].book.follow_tick(instrument_id, settle_funding=True)
            if previous is None:
                # a first price may become a book's reference source: its asset's other instruments
                # no longer move its figures (``HedgeBook.reference_source``)
                for portfolio_id in touched:
                    self._rewatch(portfolio_id, portfolios[portfolio_id])
        return touched

    def needs_checkpoint(self, portfolio_id: str) -> bool:
        """Whether a portfolio changed since its last checkpoint (an event, or a tick it watches)."""
        return self.portfolios[portfolio_id].dirty or portfolio_id in self.ticked

    def last_receive_ms(self, portfolio_id: str) -> int:
        """When the newest input a portfolio reflects was received (0: none yet)."""
        state = self.portfolios[portfolio_id]
        state.book.follow_prices()
        return max(state.last_receive_ms, state.book.last_tick_receive_ms)

    def _reprice(self, instrument_id: str, mark: float) -> None:
        """Reprice every holder of a contract at once; holders at or beyond the levels are urgent."""
        repricing = self.columns.reprice(instrument_id, mark)
        if repricing is None:
            return
        levels = self.risk_levels
        # NaN (no tiers, no liquidation price, a cross leg's ratio) compares False: never urgent.
        at_risk = (repricing.margin_ratio >= levels.margin_ratio) | (
            repricing.liquidation_distance <= levels.liquidation_distance)
        if at_risk.any():
            self.urgent.update(self.columns.portfolio_names(np.unique(repricing.portfolios[at_risk])))

    def sample(self, portfolio_ids: Iterable[str]) -> None:
        """Advance the effectiveness sampling clock of the given books to their event time.

        Only the books that may have an interval due are visited: those an account event touched,
        and the watchers of an instrument whose tick reached the earliest sampling horizon among
        them (``_sample_floor``); for every other book ``HedgeBook.sample`` would do nothing.
        """
        due = self._sample_due
        if not due:
            return
        chosen = due.intersection(portfolio_ids)
        if not chosen:
            return
        due -= chosen
        portfolios = self.portfolios
        for portfolio_id in chosen:
            state = portfolios.get(portfolio_id)
            if state is not None:
                book = state.book
                book.follow_prices()
                book.sample(book.last_event_ms)

    def _instrument_sample_floor(self, instrument_id: str) -> float:
        """The earliest sampling horizon among an instrument's watchers (kept until a tick reaches it)."""
        portfolios = self.portfolios
        floor = min((portfolios[p].book.sample_floor() for p in self._watchers.get(instrument_id, ())),
                    default=math.inf)
        self._sample_floor[instrument_id] = floor
        return floor

    def snapshot(
        self,
        portfolio_id: str,
        stale: frozenset[str] = frozenset(),
        *,
        seq: int = 0,
        ts_ms: int | None = None,
        latency_ms: int | None = None,
    ) -> tuple[RiskSnapshot, list[AlertTransition]]:
        """A risk snapshot, built whole with its ``seq`` and timing, and the alerts it causes."""
        state = self.portfolios[portfolio_id]
        snapshot = state.book.snapshot(stale_instruments=stale, seq=seq, ts_ms=ts_ms,
                                       latency_ms=latency_ms)
        for position in snapshot.positions:
            if position.margin_mode == "cross":
                # A cross leg's liquidation price depends on the whole account: the snapshot's.
                self.columns.set_liquidation_price(portfolio_id, position.account,
                                                   position.instrument, position.liquidation_price)
        transitions = [] if state.alerts is None else state.alerts.evaluate(snapshot)
        return snapshot, transitions

    def _watch_set(self, state: PortfolioState) -> set[str]:
        book = state.book
        watched = set(book.instruments_held())
        for (_, asset) in book.balances:
            watched.update(self._spot_instruments.get(asset, ()))
        for (_, instrument_id, _) in book.positions:
            instrument = self.catalog.get(instrument_id)
            if instrument is not None:
                watched.update(self._spot_instruments.get(instrument.base, ()))
        for plan in book.settings.plans.values():
            watched.update(self._spot_instruments.get(plan.asset, ()))
            if plan.instrument:
                watched.add(plan.instrument)
        for asset in book.valued_assets():
            if book.reference_source(asset) is None:
                # the newest price of any instrument of the asset is its reference (rule 3)
                watched.update(self._instruments_of.get(asset, ()))
        return watched

    def _rewatch(self, portfolio_id: str, state: PortfolioState) -> None:
        watched = self._watch_set(state)
        if watched == state.watched:
            return
        self._unwatch(portfolio_id, state.watched - watched)
        for instrument_id in watched - state.watched:
            self._watchers.setdefault(instrument_id, set()).add(portfolio_id)
            self._sample_floor.pop(instrument_id, None)
        state.watched = watched
        state.book.watch(watched)

    def _unwatch(self, portfolio_id: str, instruments: Iterable[str]) -> None:
        for instrument_id in instruments:
            watchers = self._watchers.get(instrument_id)
            if watchers is not None:
                watchers.discard(portfolio_id)
                if not watchers:
                    del self._watchers[instrument_id]

    def restore(self, portfolio_id: str, partition: int, data: dict[str, Any]) -> None:
        """Rebuild a portfolio from its checkpoint."""
        state = self.portfolio(portfolio_id, partition)
        self.columns.drop_portfolio(portfolio_id)
        state.book.restore_state(data["book"])
        self._unwatch(portfolio_id, state.watched)  # the restored book watches nothing yet
        state.watched = set()
        for position in state.book.positions.values():
            self.columns.upsert(position.event)
        if state.alerts is not None and data.get("alerts") is not None:
            state.alerts.restore(data["alerts"])
        state.applied_offset = int(data["applied_offset"])
        state.outbox = list(data.get("outbox") or [])
        if state.outbox:
            self.outboxes.add(portfolio_id)
        self.alerts_changed.add(portfolio_id)
        state.dirty = False
        self.ticked.discard(portfolio_id)
        self._rewatch(portfolio_id, state)
        self._sample_due.add(portfolio_id)

    def catch_up_prices(self, portfolio_id: str) -> None:
        """Let a restored book follow the latest price of everything it watches."""
        state = self.portfolios[portfolio_id]
        book = state.book
        held = book.instruments_held()
        for instrument_id in sorted(state.watched):
            latest = self.prices.prices.get(instrument_id)
            instrument = self.catalog.get(instrument_id)
            if latest is None or instrument is None:
                continue
            if instrument_id in held:
                book.apply_instrument_price(PriceEvent(
                    instrument_id, latest.mark, latest.index, latest.funding_rate,
                    latest.next_funding_ms, latest.ts_event_ms, latest.ts_receive_ms))
            reference = book.reference(instrument.base)
            if reference is not None:
                book.apply_asset_price(instrument.base, *reference)

    def checkpoint(self, portfolio_id: str) -> dict[str, Any]:
        """A portfolio's checkpoint: book, alert states and the last input offset applied."""
        state = self.portfolios[portfolio_id]
        state.dirty = False
        self.ticked.discard(portfolio_id)
        return {
            "v": 1,
            "portfolio": portfolio_id,
            "partition": state.partition,
            "applied_offset": state.applied_offset,
            "book": state.book.to_state(),
            "alerts": None if state.alerts is None else state.alerts.state(),
            "outbox": list(state.outbox),
        }
