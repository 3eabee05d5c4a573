"""The hedge book: one portfolio's positions, balances and accruals, and its risk snapshot.

Prices live in a ``PriceTable`` shared by every book of a processor (each tick is stored once).
A book applies account events (positions, balances, fills), price moves (for cumulative hedge
effectiveness) and funding settlements, and builds the typed risk snapshot
(``monitor.domain.snapshot``) whose JSON is the ``hedge.risk`` topic contract (docs/topics.md).
Every figure is defined in risk-definitions.md; the formulas and their sources are in
``monitor.domain.formulas``. Time is always event time, so the same input gives the same snapshot.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

import numpy as np

from monitor.domain import formulas as f
from monitor.domain.events import (
    AccountMarginEvent,
    AccountModeEvent,
    BalanceEvent,
    FillEvent,
    PositionEvent,
    PositionSide,
    PriceEvent,
)
from monitor.domain.instruments import Catalog, Instrument
from monitor.domain.margin import MARGIN_MODELS, MarginLeg, margin_model_for
from monitor.domain.plans import STABLE_ASSETS, PortfolioSettings
from monitor.domain.remediation import LiquidationRemediation, liquidation_remediation
from monitor.domain.snapshot import (
    NO_STALE_FEEDS,
    UNKNOWN_DIVERGENCE,
    AccountFigures,
    AccountModelFigures,
    AccountVenueFigures,
    AssetFigures,
    ContractType,
    Costs,
    Divergence,
    Effectiveness,
    Feeds,
    Latency,
    LegFigures,
    Lifecycle,
    ModelFigures,
    RiskSnapshot,
    StressRow,
    UnpricedLeg,
    VenueFigures,
)

MS_PER_DAY = 86_400_000


class LegPricing(NamedTuple):
    """A priced leg while its snapshot is built: its state, mark, delta and published figures."""

    state: PositionState
    mark: float
    delta: float
    record: LegFigures


class Rebalance(NamedTuple):
    """An asset's contracts to target and what is left after lot rounding (None: unknown)."""

    contracts_to_target: float | None = None
    residual_delta: float | None = None
    standard_contracts_to_target: float | None = None
    standard_residual_delta: float | None = None


def _number(value: float) -> float | None:
    """A finite float, or None (JSON null) for NaN and infinities."""
    value = float(value)
    return value if math.isfinite(value) else None


@dataclass(frozen=True, slots=True)
class InstrumentPrice:
    """Latest price state of one instrument, plus the funding settlement it is waiting for."""

    mark: float
    index: float | None
    funding_rate: float | None
    next_funding_ms: int | None
    ts_event_ms: int
    ts_receive_ms: int


@dataclass(frozen=True, slots=True)
class FundingSettlement:
    """A funding payment time that passed for an instrument, at its rate and mark."""

    instrument: str
    rate: float
    mark: float
    ts_ms: int


class PriceTable:
    """Latest prices per instrument, shared by every book of a processor.

    ``latest_asset`` is the rule of last resort for an asset's reference price: the newest by
    event time among the asset's spot marks and its futures' index (else mark), ties broken by
    instrument id, so the same input gives the same price whatever order partitions are read in.
    A book picks its own reference first (``HedgeBook.reference_price``).
    """

    __slots__ = ("_catalog", "_latest", "prices")

    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog
        self.prices: dict[str, InstrumentPrice] = {}
        self._latest: dict[str, tuple[int, str, float]] = {}

    def apply(self, event: PriceEvent) -> bool:
        """Store a price unless it is older than the one held; True when stored."""
        previous = self.prices.get(event.instrument)
        if previous is not None and event.ts_event_ms < previous.ts_event_ms:
            return False  # out-of-order tick: the newer price stays
        self.prices[event.instrument] = InstrumentPrice(
            event.mark, event.index, event.funding_rate, event.next_funding_ms,
            event.ts_event_ms, event.ts_receive_ms,
        )
        instrument = self._catalog.get(event.instrument)
        if instrument is not None:
            price = event.mark if instrument.kind == "spot" else (event.index or event.mark)
            candidate = (event.ts_event_ms, event.instrument, price)
            held = self._latest.get(instrument.base)
            if held is None or candidate[:2] >= held[:2]:
                self._latest[instrument.base] = candidate
        return True

    def mark(self, instrument_id: str) -> float | None:
        """The latest mark of an instrument."""
        price = self.prices.get(instrument_id)
        return None if price is None else price.mark

    def index_or_mark(self, instrument_id: str) -> float | None:
        """The instrument's index price, else its mark (spot: its mark)."""
        price = self.prices.get(instrument_id)
        if price is None:
            return None
        return price.index or price.mark

    def latest_asset(self, asset: str) -> tuple[float, int] | None:
        """The newest price of an asset by event time and that time (stablecoins are 1)."""
        if asset in STABLE_ASSETS:
            return (1.0, 0)
        latest = self._latest.get(asset)
        return None if latest is None else (latest[2], latest[0])


@dataclass(slots=True)
class PositionState:
    """A position with what has accrued on it since it was opened."""

    event: PositionEvent
    instrument: Instrument
    funding_received_usd: float = 0.0
    funding_paid_usd: float = 0.0
    fees_usd: float = 0.0
    # An isolated leg's liquidation price depends on its event only, not on the mark.
    isolated_liquidation: tuple[PositionEvent, float] | None = None
    # A cross leg's: it depends on the moving legs and the wallet left to them, which stays the
    # same from tick to tick when no other leg of the account moves it (a leg alone on its wallet).
    cross_liquidation: tuple[tuple[MarginLeg, ...], float, float] | None = None
    leg: tuple[PositionEvent, MarginLeg] | None = None
    # The last event that carried the venue's own figures of this leg (their as-of time is its
    # event time); kept while later events leave the leg unchanged (docs/venue-fields.md).
    venue_event: PositionEvent | None = None
    venue_mark: float | None = None  # the mark when the venue's figures came in

    def margin_leg(self) -> MarginLeg:
        """The leg as the venue margin model sees it (built once per position event)."""
        event = self.event
        cached = self.leg
        if cached is not None and cached[0] is event:
            return cached[1]
        leg = MarginLeg(self.instrument, event.quantity, event.entry_price, None,
                        event.risk_limit_value)
        self.leg = (event, leg)
        return leg


@dataclass(slots=True)
class EffectivenessState:
    """Cumulative and sampled USD value changes of one asset's hedged item and hedge."""

    cumulative_spot_usd: float = 0.0
    cumulative_hedge_usd: float = 0.0
    started: bool = False
    sample_due_ms: int | None = None
    last_sample_spot_usd: float = 0.0
    last_sample_hedge_usd: float = 0.0
    spot_changes: deque[float] = field(default_factory=deque)
    hedge_changes: deque[float] = field(default_factory=deque)
    exposure_usd: float = 0.0


class HedgeBook:
    """One portfolio: apply events, then ``snapshot()`` for every figure of risk-definitions.md."""

    # Slotted: a desk holds one book per portfolio, and past 30 attributes an instance dict no
    # longer shares its keys (CPython 3.11): 1.7 KB more per book.
    __slots__ = (
        "_hedge_legs", "_legs_by_instrument", "_missing_states", "_priced_instruments",
        "_references", "_sample_horizon_ms", "_volatility", "account_baselines", "account_margins",
        "accounts_with_balances", "asset_sample_due", "asset_samples", "balances", "catalog",
        "cross_wallets", "effectiveness", "followed", "followed_assets", "last_event_ms",
        "last_tick_receive_ms", "multi_asset_accounts", "orphan_fees_usd", "portfolio", "positions",
        "prices", "remediation_distance", "seen_ticks", "settings", "unknown_instruments",
        "untermed_positions", "watched",
    )

    def __init__(
        self,
        portfolio: str,
        catalog: Catalog,
        prices: PriceTable,
        settings: PortfolioSettings | None = None,
    ) -> None:
        self.portfolio = portfolio
        self.catalog = catalog
        self.prices = prices
        self.settings = settings or PortfolioSettings()
        self.positions: dict[tuple[str, str, PositionSide], PositionState] = {}
        self.balances: dict[tuple[str, str], float] = {}
        self.cross_wallets: dict[tuple[str, str], float] = {}
        self.accounts_with_balances: set[str] = set()
        self.effectiveness: dict[str, EffectivenessState] = {}
        self.asset_samples: dict[str, deque[float]] = {}
        self.last_event_ms = 0
        self.asset_sample_due: dict[str, int] = {}
        self.followed: dict[str, InstrumentPrice] = {}
        self.followed_assets: dict[str, tuple[float, int]] = {}
        # The instruments whose ticks the book follows (the engine's watch set, sorted) and the event
        # time of the newest tick of each it has followed: a newer one in the shared table is
        # deferred, followed at once whenever the book is read or changed (``follow_prices``).
        self.watched: tuple[str, ...] = ()
        self.seen_ticks: dict[str, int] = {}
        self.last_tick_receive_ms = 0
        # Whether an asset that following a tick would give an effectiveness state has none yet
        # (None: not known; see ``sample``).
        self._missing_states: bool | None = None
        self.unknown_instruments: set[str] = set()
        # Positions held in instruments whose contract terms are not known yet (no catalog entry,
        # no hedge.instruments record): held, never dropped, and every figure of them unknown.
        self.untermed_positions: dict[tuple[str, str, PositionSide], PositionEvent] = {}
        self.orphan_fees_usd = 0.0
        self.multi_asset_accounts: set[str] = set()
        self.account_margins: dict[str, AccountMarginEvent] = {}
        # per account: (USD value, notional) of its legs and coins when the venue's figure came in
        self.account_baselines: dict[str, tuple[float, float] | None] = {}
        # Reference prices of the snapshot being built (None outside ``snapshot``).
        self._references: dict[str, tuple[float, int] | None] | None = None
        # Before this event time no sampling interval can end (sample() returns at once); -inf after
        # anything that may add an asset or an effectiveness state.
        self._sample_horizon_ms = -math.inf
        # A leg nearer its liquidation price than this (fraction of the mark) gets a remediation:
        # the clear level of the liquidation alert (set by the processor from the alert config).
        self.remediation_distance = 0.06
        # realised volatility per asset with the samples it was computed from
        self._volatility: dict[str, tuple[tuple[float, ...], float | None]] = {}
        # Derived from the positions alone, so kept until they change (``_positions_changed``): the
        # key of the leg each asset is hedged with, and the instruments held with terms.
        self._hedge_legs: dict[str, tuple[str, str, PositionSide] | None] = {}
        self._priced_instruments: frozenset[str] | None = None
        self._legs_by_instrument: dict[str, tuple[PositionState, ...]] = {}

    def _positions_changed(self) -> None:
        """Forget what was derived from the set of positions (call on every change to it)."""
        self._missing_states = None
        self._hedge_legs.clear()
        self._priced_instruments = None
        self._legs_by_instrument.clear()

    def _legs_in(self, instrument_id: str) -> tuple[PositionState, ...]:
        """The legs held in one instrument, in the order of ``positions`` (kept until it changes)."""
        legs = self._legs_by_instrument.get(instrument_id)
        if legs is None:
            legs = self._legs_by_instrument[instrument_id] = tuple(
                state for (_, held, _), state in self.positions.items() if held == instrument_id)
        return legs

    # -- events -------------------------------------------------------------------------------

    def apply_position(self, event: PositionEvent) -> bool:
        """Replace a position's state (quantity 0 closes it); False when the instrument is unknown.

        A position in an instrument without contract terms is held as it is (``untermed_positions``)
        and reads as unknown in the snapshot until its terms arrive (``adopt_instrument``).
        """
        self.follow_prices()
        instrument = self.catalog.get(event.instrument)
        if instrument is None or not instrument.is_future:
            self.unknown_instruments.add(event.instrument)
            self.last_event_ms = max(self.last_event_ms, event.ts_event_ms)
            if event.quantity == 0:
                self.untermed_positions.pop(event.key, None)
            else:
                self.untermed_positions[event.key] = event
            return False
        self.last_event_ms = max(self.last_event_ms, event.ts_event_ms)
        self._sample_horizon_ms = -math.inf
        self._positions_changed()
        key = event.key
        self.untermed_positions.pop(key, None)
        if event.quantity == 0:
            self.positions.pop(key, None)
            return True
        current = self.positions.get(key)
        if current is None:
            current = self.positions[key] = PositionState(event, instrument)
            previous = None
        else:
            previous = current.event
            current.event = event
        if has_venue_figures(event):
            current.venue_event = event
            current.venue_mark = self.prices.mark(instrument.id)
        elif previous is None or not _same_leg(previous, event):
            current.venue_event = None  # the leg changed: the venue's last figures no longer hold
            current.venue_mark = None
        return True

    def apply_balance(self, event: BalanceEvent) -> None:
        """Replace one account's balance of an asset (0 removes it)."""
        self.follow_prices()
        self.last_event_ms = max(self.last_event_ms, event.ts_event_ms)
        self._sample_horizon_ms = -math.inf
        self._missing_states = None
        self.accounts_with_balances.add(event.account)
        if event.quantity == 0:
            self.balances.pop(event.key, None)
            self.cross_wallets.pop(event.key, None)
        else:
            self.balances[event.key] = event.quantity
            if event.cross_wallet is None:
                self.cross_wallets.pop(event.key, None)
            else:
                self.cross_wallets[event.key] = event.cross_wallet

    def apply_account_mode(self, event: AccountModeEvent) -> None:
        """Record how the venue margins an account (single-asset unless it says multi-asset)."""
        self.last_event_ms = max(self.last_event_ms, event.ts_event_ms)
        if event.multi_asset_margin:
            self.multi_asset_accounts.add(event.account)
        else:
            self.multi_asset_accounts.discard(event.account)

    def apply_account_margin(self, event: AccountMarginEvent) -> None:
        """Keep the venue's newest whole-account margin figures of an account (by event time)."""
        self.last_event_ms = max(self.last_event_ms, event.ts_event_ms)
        known = self.account_margins.get(event.account)
        if known is None or event.ts_event_ms >= known.ts_event_ms:
            self.account_margins[event.account] = event
            self.account_baselines[event.account] = self._account_marks(event.account)

    def _account_marks(self, account: str) -> tuple[float, float] | None:
        """The account's USD value (its legs' unrealised PnL plus its coins at their reference
        price) and its legs' notional, at the current prices; None while one is unpriced."""
        value = notional = 0.0
        for (owner, _, _), state in self.positions.items():
            if owner != account:
                continue
            mark = self._position_mark(state)
            if mark is None:
                return None
            value += self._leg_pnl(state, mark)
            notional += abs(self._notional(state, mark))
        for (owner, asset), quantity in self.balances.items():
            if owner != account or asset in STABLE_ASSETS:
                continue
            price = self.reference_price(asset)
            if price is None:
                return None
            value += quantity * price
        return value, notional

    def _accounts_snapshot(self) -> dict[str, AccountFigures]:
        """Each unified / portfolio-margin account's own margin figures (the venue's, as of its
        update) beside the model of them moved with the marks since, and ``buffer_used``.

        The model (the venues' documented account ratio ``MM / equity``, ``formulas.
        account_maintenance_ratio``) moves the venue's equity by the change of the account's USD
        value since the venue's figure (its legs' unrealised PnL and its coins at the reference
        price: the spot coin is collateral for the short) and the venue's maintenance margin in
        proportion to the legs' notional (tiers, haircuts and collateral ratios are the venue's:
        not re-modelled). ``buffer_used`` is the higher of the two ratios over the venue's
        liquidation ratio (1 at liquidation); None when neither is known.
        """
        out: dict[str, AccountFigures] = {}
        for account in sorted(self.account_margins):
            event = self.account_margins[account]
            venue_ratio = event.maintenance_margin_ratio
            model_ratio = self._model_account_ratio(account, event)
            ratios = [r for r in (venue_ratio, model_ratio) if r is not None]
            out[account] = AccountFigures(
                mode=event.mode,
                liquidation_ratio=event.liquidation_ratio,
                venue=AccountVenueFigures(
                    as_of_ms=event.ts_event_ms, venue_figure=event.venue_figure,
                    venue_value=event.venue_value, maintenance_margin_ratio=venue_ratio,
                    equity_usd=event.equity_usd,
                    maintenance_margin_usd=event.maintenance_margin_usd, status=event.status),
                model=AccountModelFigures(
                    as_of_ms=self._latest_mark_ms(account) or event.ts_event_ms,
                    maintenance_margin_ratio=model_ratio),
                model_divergence=_divergence(model_ratio, venue_ratio),
                buffer_used=(
                    None if not ratios else _number(max(ratios) / event.liquidation_ratio)),
            )
        return out

    def _model_account_ratio(self, account: str, event: AccountMarginEvent) -> float | None:
        baseline = self.account_baselines.get(account)
        now = self._account_marks(account)
        equity, maintenance = event.equity_usd, event.maintenance_margin_usd
        if baseline is None or now is None or equity is None or maintenance is None:
            return None
        value0, notional0 = baseline
        value1, notional1 = now
        moved_maintenance = maintenance if notional0 <= 0 else maintenance * notional1 / notional0
        return _number(f.account_maintenance_ratio(moved_maintenance, equity + value1 - value0))

    def _latest_mark_ms(self, account: str) -> int | None:
        times = [self.prices.prices[state.instrument.id].ts_event_ms
                 for (owner, _, _), state in self.positions.items()
                 if owner == account and state.instrument.id in self.prices.prices]
        return max(times, default=None)

    def apply_fill(self, event: FillEvent) -> None:
        """Accrue the fee of a fill on its position (fees: risk-definitions.md)."""
        self.last_event_ms = max(self.last_event_ms, event.ts_event_ms)
        state = self._fill_leg(event)
        if state is None:
            self.orphan_fees_usd += event.fee_usd
        else:
            state.fees_usd += event.fee_usd

    def unhedged_by(self, event: FillEvent) -> tuple[float, float | None] | None:
        """The delta a forced fill (liquidation or ADL) leaves unhedged: the book's net delta
        change from the lost hedge quantity, in base units and in USD at the asset's reference
        price (the fill price when the asset has none); None for an unknown instrument.

        ``delta = q cs`` (linear) or ``q cv / EP`` (inverse, EP the leg's entry before the fill,
        else the fill price), risk-definitions.md "Delta"; a short leg bought back by the venue
        (``q`` > 0) adds ``q cs`` of long exposure the hedge no longer offsets.
        """
        instrument = self.catalog.get(event.instrument)
        if instrument is None or not instrument.is_future:
            return None
        leg = self._fill_leg(event)
        entry = leg.event.entry_price if leg is not None and leg.event.entry_price > 0 else event.price
        delta = float(instrument.delta(event.quantity, entry))
        price = self.reference_price(instrument.base)
        usd = delta * (price if price is not None else event.price)
        return delta, usd

    def _fill_leg(self, event: FillEvent) -> PositionState | None:
        """The leg a fill's fee accrues to: the one-way position, else the leg the fill traded."""
        one_way = self.positions.get((event.account, event.instrument, "one_way"))
        if one_way is not None:
            return one_way
        legs = [self.positions.get((event.account, event.instrument, side)) for side in ("long", "short")]
        held = [leg for leg in legs if leg is not None]
        if len(held) <= 1:
            return held[0] if held else None
        # Both legs open: a buy opens the long or closes the short; the fill's sign cannot tell
        # which, so the fee goes to the leg whose size is closer to the fill's.
        return min(held, key=lambda leg: abs(abs(leg.event.quantity) - abs(event.quantity)))

    def instruments_held(self) -> set[str]:
        """Instruments whose prices this book depends on (those without terms yet included)."""
        held = {instrument for (_, instrument, _) in self.positions}
        held.update(instrument for (_, instrument, _) in self.untermed_positions)
        return held

    def holds(self, instrument_id: str) -> bool:
        """Whether a position with known terms is held in the instrument."""
        priced = self._priced_instruments
        if priced is None:
            priced = self._priced_instruments = frozenset(key[1] for key in self.positions)
        return instrument_id in priced

    def adopt_instrument(self, instrument: Instrument) -> list[PositionEvent]:
        """New or changed terms of an instrument: held positions in it use them from now on.

        A position held without terms becomes a priced position; a position held with older terms
        takes the new ones (its margin leg and liquidation price are rebuilt). Returns the events
        of every position now held in the instrument.
        """
        if not instrument.is_future:
            return []
        self.follow_prices()
        self._positions_changed()
        adopted: list[PositionEvent] = []
        for key in [k for k in self.untermed_positions if k[1] == instrument.id]:
            event = self.untermed_positions.pop(key)
            self.positions[key] = PositionState(event, instrument)
            self.unknown_instruments.discard(instrument.id)
            self._sample_horizon_ms = -math.inf
            adopted.append(event)
        for key, state in self.positions.items():
            if key[1] == instrument.id and state.instrument is not instrument:
                state.instrument = instrument
                state.leg = None
                state.isolated_liquidation = None
                state.cross_liquidation = None
                if state.event not in adopted:
                    adopted.append(state.event)
        return adopted

    def apply_instrument_price(self, event: PriceEvent, price: InstrumentPrice | None = None) -> None:
        """Follow a held contract's price: accrue funding that fell due and the hedge value change.

        Funding: a perpetual pays at ``next_funding_ms`` at the rate announced before it (Binance
        "Funding Rate" FAQ; OKX, Bybit alike), so an event stamped at or after the previous
        ``next_funding_ms`` proves that settlement happened at the previous rate and mark.
        Hedge value change: ``dF = PnL(P') - PnL(P)`` (risk-definitions.md, effectiveness).
        Idempotent: an event not newer than the last one the book followed is ignored. ``price``,
        when given, is the event as the shared ``PriceTable`` holds it (one object for every book).
        """
        if price is None:
            price = InstrumentPrice(event.mark, event.index, event.funding_rate,
                                    event.next_funding_ms, event.ts_event_ms, event.ts_receive_ms)
        self._follow_instrument(event.instrument, price, settle_funding=True)

    def _follow_instrument(self, instrument_id: str, price: InstrumentPrice, *,
                           settle_funding: bool) -> None:
        """Follow a held contract to ``price`` from the last price the book followed of it.

        Without ``settle_funding`` (a deferred tick) no funding is settled or accrued: the engine
        follows every tick that settles or accrues funding one by one (``RiskEngine.apply_price``).
        """
        self.last_event_ms = max(self.last_event_ms, price.ts_event_ms)
        last = self.followed.get(instrument_id)
        if last is None or price.ts_event_ms > last.ts_event_ms:
            self.followed[instrument_id] = price
        legs = self._legs_in(instrument_id)
        if last is None:
            for position in legs:
                if position.venue_event is not None and position.venue_mark is None:
                    position.venue_mark = price.mark  # the first mark after the venue's figures
        if last is None or price.ts_event_ms <= last.ts_event_ms:
            return
        if settle_funding:
            if (
                last.next_funding_ms is not None
                and last.funding_rate is not None
                and price.ts_event_ms >= last.next_funding_ms > last.ts_event_ms
            ):
                self._apply_funding(FundingSettlement(
                    instrument_id, last.funding_rate, last.mark, last.next_funding_ms))
            if last.funding_rate is not None and last.next_funding_ms is None:
                self._accrue_funding(instrument_id, last, price.ts_event_ms)
        for position in legs:
            if position.venue_event is not None and position.venue_mark is None:
                position.venue_mark = price.mark  # the first mark after the venue's figures
            change = self._leg_pnl(position, price.mark) - self._leg_pnl(position, last.mark)
            asset = self._hedged_asset(position.instrument)
            self._effectiveness_state(asset).cumulative_hedge_usd += change

    def follow_prices(self) -> None:
        """Follow every deferred tick at once, at the shared table's latest prices.

        The hedge value change of a position held unchanged telescopes:
        ``sum_i [PnL(P_i+1) - PnL(P_i)] = PnL(P_n) - PnL(P_0)``, and the hedged item's
        ``sum_i spot (S_i+1 - S_i) = spot (S_n - S_0)`` for an unchanged balance (risk-definitions.md,
        effectiveness: dF and dS), so following the latest price equals following every tick (to the
        rounding of the sum). Every event that changes a position, a balance or contract terms, a
        sample, a snapshot and a checkpoint follow first; ticks that settle or accrue funding are
        never deferred (``RiskEngine.apply_price`` follows them one by one).
        """
        table = self.prices.prices
        seen = self.seen_ticks
        for instrument_id in self.watched:
            price = table.get(instrument_id)
            if price is not None and price.ts_event_ms > seen.get(instrument_id, -1):
                self._follow_tick(instrument_id, price, settle_funding=False)

    def follow_tick(self, instrument_id: str, *, settle_funding: bool = False) -> None:
        """Follow one watched instrument's newest tick in the table, unless already followed."""
        price = self.prices.prices.get(instrument_id)
        if price is not None and price.ts_event_ms > self.seen_ticks.get(instrument_id, -1):
            self._follow_tick(instrument_id, price, settle_funding=settle_funding)

    def watch(self, instruments: set[str]) -> None:
        """Follow ``instruments`` from now on: ticks already in the table count as followed."""
        self.follow_prices()
        table = self.prices.prices
        seen = {i: t for i, t in self.seen_ticks.items() if i in instruments}
        for instrument_id in instruments:
            if instrument_id not in seen:
                price = table.get(instrument_id)
                seen[instrument_id] = -1 if price is None else price.ts_event_ms
        self.seen_ticks = seen
        self.watched = tuple(sorted(instruments))

    def _follow_tick(self, instrument_id: str, price: InstrumentPrice, *, settle_funding: bool) -> None:
        self.seen_ticks[instrument_id] = price.ts_event_ms
        self.last_event_ms = max(self.last_event_ms, price.ts_event_ms)
        self.last_tick_receive_ms = max(self.last_tick_receive_ms, price.ts_receive_ms)
        instrument = self.catalog.get(instrument_id)
        if instrument is None:
            return
        if instrument.is_future and self.holds(instrument_id):
            self._follow_instrument(instrument_id, price, settle_funding=settle_funding)
        reference = self.reference(instrument.base)
        if reference is not None:
            self.apply_asset_price(instrument.base, *reference)

    def missing_states(self) -> bool:
        """Whether following a tick may start an effectiveness state (see ``sample``)."""
        missing = self._missing_states
        if missing is None:
            missing = self._missing_states = self._states_missing()
        return missing

    def sample_floor(self) -> float:
        """The event time before which ``sample`` has nothing to do (-inf while a deferred tick may
        start an effectiveness state)."""
        missing = self._missing_states
        if missing is None:
            missing = self.missing_states()
        return -math.inf if missing else self._sample_horizon_ms

    def apply_asset_price(self, asset: str, price: float, ts_ms: int) -> None:
        """Follow an asset's reference price: ``dS = spot delta * (S' - S)`` for the effectiveness test."""
        self.last_event_ms = max(self.last_event_ms, ts_ms)
        if asset in STABLE_ASSETS:
            return
        last = self.followed_assets.get(asset)
        if last is not None and ts_ms <= last[1]:
            return
        self.followed_assets[asset] = (price, ts_ms)
        spot = self._spot_delta(asset)
        if last is None or spot == 0:
            return
        state = self._effectiveness_state(asset)
        state.cumulative_spot_usd += spot * (price - last[0])
        state.exposure_usd = abs(spot * price)

    def _apply_funding(self, settlement: FundingSettlement) -> None:
        """Accrue a funding payment on every position in the instrument.

        Linear: ``-q * cs * P * rate`` received (shorts receive when rate > 0); inverse:
        ``-q * cv * rate`` in USD (Binance and OKX funding FAQs; risk-definitions.md).
        """
        for (_, instrument_id, _), state in self.positions.items():
            if instrument_id != settlement.instrument:
                continue
            if state.event.ts_event_ms > settlement.ts_ms:
                continue  # opened after the funding time
            instrument = state.instrument
            payment = float(instrument.funding_usd(
                state.event.quantity, settlement.mark, settlement.rate))
            if payment >= 0:
                state.funding_received_usd += payment
            else:
                state.funding_paid_usd -= payment
            self._effectiveness_state(self._hedged_asset(instrument)).cumulative_hedge_usd += payment

    def _accrue_funding(self, instrument_id: str, last: InstrumentPrice, now_ms: int) -> None:
        """Accrue continuous funding (``funding_accrual`` "continuous") from the last price to ``now_ms``.

        Deribit: "Funding Payment = Funding Rate * Position Size * Time Fraction", ``Time Fraction
        = Funding Rate Time Period / 8 hours``, paid every millisecond at the quoted rate
        (``formulas.deribit_funding_received``); in USD at the last mark that is the settlement
        payment ``Instrument.funding_usd`` times the fraction of 8 hours held since the later of
        the last price and the position's own update.
        """
        for state in self._legs_in(instrument_id):
            instrument = state.instrument
            if instrument.funding_accrual != "continuous":
                continue
            start = max(last.ts_event_ms, state.event.ts_event_ms)
            if now_ms <= start or state.event.quantity == 0:
                continue
            fraction = (now_ms - start) / f.DERIBIT_FUNDING_PERIOD_MS
            payment = float(instrument.funding_usd(state.event.quantity, last.mark, last.funding_rate or 0.0))
            payment *= fraction
            if payment >= 0:
                state.funding_received_usd += payment
            else:
                state.funding_paid_usd -= payment
            self._effectiveness_state(self._hedged_asset(instrument)).cumulative_hedge_usd += payment

    def sample(self, now_ms: int) -> None:
        """Close every sampling interval that ended by ``now_ms`` (fixed clock, default 60 s)."""
        if self.missing_states():
            self.follow_prices()  # a state starts its clock when its first change is followed
        if now_ms < self._sample_horizon_ms:
            return
        self.follow_prices()
        settings = self.settings.effectiveness
        horizon = math.inf
        for state in self.effectiveness.values():
            if state.sample_due_ms is None:
                state.sample_due_ms = now_ms + settings.sample_interval_ms
                continue
            if now_ms < state.sample_due_ms:
                continue
            state.spot_changes.append(state.cumulative_spot_usd - state.last_sample_spot_usd)
            state.hedge_changes.append(state.cumulative_hedge_usd - state.last_sample_hedge_usd)
            while len(state.spot_changes) > settings.window:
                state.spot_changes.popleft()
                state.hedge_changes.popleft()
            state.last_sample_spot_usd = state.cumulative_spot_usd
            state.last_sample_hedge_usd = state.cumulative_hedge_usd
            elapsed = (now_ms - state.sample_due_ms) // settings.sample_interval_ms + 1
            state.sample_due_ms += elapsed * settings.sample_interval_ms
        for state in self.effectiveness.values():
            if state.sample_due_ms is not None:
                horizon = min(horizon, state.sample_due_ms)
        for asset in self._assets():
            price = self.reference_price(asset)
            if price is None:
                horizon = -math.inf  # its first price may come from the shared table at any time
                continue
            samples = self.asset_samples.setdefault(asset, deque())
            due = self.asset_sample_due.get(asset)
            if due is None or now_ms >= due:
                samples.append(price)
                while len(samples) > settings.window + 1:
                    samples.popleft()
                self.asset_sample_due[asset] = due = now_ms + settings.sample_interval_ms
            horizon = min(horizon, due)
        self._sample_horizon_ms = horizon

    def _states_missing(self) -> bool:
        """Whether following a tick may start an effectiveness state: an asset a leg hedges, or a
        non-zero spot balance, has none yet."""
        effectiveness = self.effectiveness
        for state in self.positions.values():
            if self._hedged_asset(state.instrument) not in effectiveness:
                return True
        return any(quantity and asset not in STABLE_ASSETS and asset not in effectiveness
                   for (_, asset), quantity in self.balances.items())

    # -- helpers ------------------------------------------------------------------------------

    def _effectiveness_state(self, asset: str) -> EffectivenessState:
        state = self.effectiveness.get(asset)
        if state is None:
            state = EffectivenessState(started=True)
            self.effectiveness[asset] = state
            self._sample_horizon_ms = -math.inf
            self._missing_states = None
        return state

    def _hedged_asset(self, instrument: Instrument) -> str:
        """The asset a futures instrument hedges: a plan naming it (cross hedge), else its base."""
        for plan in self.settings.plans.values():
            if plan.instrument == instrument.id:
                return plan.asset
        return instrument.base

    def _assets(self) -> list[str]:
        assets = {asset for (_, asset) in self.balances if asset not in STABLE_ASSETS}
        assets.update(state.instrument.base for state in self.positions.values())
        assets.update(
            plan.asset for plan in self.settings.plans.values() if plan.asset not in STABLE_ASSETS
        )
        return sorted(assets)

    def _spot_delta(self, asset: str) -> float:
        return sum(q for (_, a), q in self.balances.items() if a == asset)

    def _position_mark(self, state: PositionState) -> float | None:
        return self.prices.mark(state.instrument.id)

    def _leg_delta(self, state: PositionState) -> float:
        return float(state.instrument.delta(state.event.quantity, state.event.entry_price))

    def _leg_pnl(self, state: PositionState, mark: float) -> float:
        event = state.event
        return float(state.instrument.value_usd(event.quantity, event.entry_price, mark))

    def _notional(self, state: PositionState, mark: float) -> float:
        return float(state.instrument.notional_value(state.event.quantity, mark))

    def _maintenance_margin(self, state: PositionState, mark: float) -> float | None:
        """The leg's maintenance margin in its settlement currency, by its venue's model."""
        value = margin_model_for(state.instrument).maintenance_margin(state.margin_leg(), mark)
        return None if math.isnan(value) else value

    def _cross_wallet(self, account: str, settle: str) -> float | None:
        """The cross wallet backing an account's cross legs settled in ``settle``; None before the
        account has reported any balance (unknown, never zero).

        Single-asset mode (every venue's default): the settlement asset's cross wallet alone
        (Binance ``cw``, which leaves out isolated wallets; the whole balance where the venue
        reports no split). Binance Multi-Assets Mode: every stablecoin's cross wallet at 1 USD
        (Binance "Multi-Assets Mode" FAQ; the haircut of non-stable collateral is not modelled).
        """
        if account not in self.accounts_with_balances:
            return None
        multi = account in self.multi_asset_accounts and settle in STABLE_ASSETS
        total = 0.0
        for (owner, asset), quantity in self.balances.items():
            if owner != account or not (asset == settle or (multi and asset in STABLE_ASSETS)):
                continue
            cross = self.cross_wallets.get((owner, asset))
            total += quantity if cross is None else cross
        return total

    def reference_price(self, asset: str) -> float | None:
        """The asset's reference price S in USD (``reference``'s price; once per asset per snapshot)."""
        references = self._references
        if references is not None:
            if asset not in references:
                references[asset] = self.reference(asset)
            found = references[asset]
        else:
            found = self.reference(asset)
        return None if found is None else found[0]

    def reference_source(self, asset: str) -> str | None:
        """The instrument whose price is the asset's reference now (rule 1 or 2 of ``reference``);
        None under rule 3, when any instrument of the asset may move it."""
        plan = self.settings.plans.get(asset)
        prices = self.prices.prices
        if plan is not None and plan.spot_source is not None and plan.spot_source in prices:
            return plan.spot_source
        hedge = self._hedge_instrument(asset)
        if hedge is not None and hedge.base == asset and hedge.id in prices:
            return hedge.id
        return None

    def valued_assets(self) -> list[str]:
        """The assets the book values (balances, legs' bases, plans), stablecoins left out."""
        return self._assets()

    def reference(self, asset: str) -> tuple[float, int] | None:
        """The asset's reference price S in USD and its event time, chosen per book by a fixed rule.

        1. the plan's configured spot source (``spot_source``), once priced;
        2. else the index (else the mark) of the instrument the book hedges the asset with (the
           plan's instrument, else the held leg of that base with the largest delta);
        3. else the newest price of the asset by event time (``PriceTable.latest_asset``).
        Stablecoins are 1. The same input gives the same price, whatever the arrival order of
        other instruments' prices (risk-definitions.md: S = spot, else index).
        """
        if asset in STABLE_ASSETS:
            return (1.0, 0)
        plan = self.settings.plans.get(asset)
        if plan is not None and plan.spot_source is not None:
            spot = self.prices.prices.get(plan.spot_source)
            if spot is not None:
                return (spot.mark, spot.ts_event_ms)
        hedge = self._hedge_instrument(asset)
        if hedge is not None and hedge.base == asset:
            price = self.prices.prices.get(hedge.id)
            if price is not None:
                return (price.index or price.mark, price.ts_event_ms)
        return self.prices.latest_asset(asset)

    # -- snapshot -----------------------------------------------------------------------------

    def snapshot(
        self,
        *,
        stale_instruments: frozenset[str] = frozenset(),
        seq: int = 0,
        ts_ms: int | None = None,
        latency_ms: int | None = None,
    ) -> RiskSnapshot:
        """Every figure of risk-definitions.md for this portfolio: the hedge.risk value, typed.

        ``seq``, ``ts_ms`` (the publish time; default the book's event time) and ``latency_ms``
        (event to publish) are the publisher's: the value is built whole, never patched.
        """
        self.follow_prices()
        self._references = {}
        try:
            positions_out, leg_figures = self._positions_snapshot()
            assets_out = self._assets_snapshot(leg_figures)
            accounts_out = self._accounts_snapshot()
        finally:
            self._references = None
        effectiveness_out = self._effectiveness_snapshot()
        stress_out = self._stress_snapshot(leg_figures, assets_out)
        costs_out = self._costs_snapshot(leg_figures)
        lifecycle_out = self._lifecycle_snapshot(assets_out, leg_figures, costs_out)
        held = self.instruments_held()
        unpriced = self._unpriced_positions()
        if unpriced:
            positions_out, assets_out, stress_out = self._blank_unsafe_figures(
                unpriced, positions_out, assets_out, stress_out)
        return RiskSnapshot(
            portfolio=self.portfolio,
            seq=seq,
            ts_ms=self.last_event_ms if ts_ms is None else ts_ms,
            ts_event_ms=self.last_event_ms,
            assets=assets_out,
            positions=tuple(positions_out),
            effectiveness=effectiveness_out,
            stress=stress_out,
            costs=costs_out,
            lifecycle=lifecycle_out,
            feeds=self._feeds(stale_instruments, held),
            latency_ms=Latency(event_to_publish=latency_ms),
            accounts=accounts_out,
            unpriced_positions=unpriced,
        )

    @staticmethod
    def _feeds(stale_instruments: frozenset[str], held: set[str]) -> Feeds:
        stale = tuple(sorted(i for i in stale_instruments if i in held)) if stale_instruments else ()
        return Feeds(stale=stale) if stale else NO_STALE_FEEDS

    def _unpriced_positions(self) -> tuple[UnpricedLeg, ...]:
        """Open positions with no contract terms or no price: each with why it is unknown."""
        out = [
            UnpricedLeg(account=key[0], instrument=key[1], position_side=key[2],
                        reason="no contract terms")
            for key in sorted(self.untermed_positions)
        ]
        out.extend(
            UnpricedLeg(account=key[0], instrument=key[1], position_side=key[2], reason="no price")
            for key in sorted(self.positions) if self._position_mark(self.positions[key]) is None
        )
        return tuple(out)

    def _blank_unsafe_figures(
        self,
        unpriced: tuple[UnpricedLeg, ...],
        positions: list[LegFigures],
        assets: dict[str, AssetFigures],
        stress: tuple[StressRow, ...],
    ) -> tuple[list[LegFigures], dict[str, AssetFigures], tuple[StressRow, ...]]:
        """Make unknown every figure that an unpriced position would change (nothing reads safe).

        A cross leg shares its account's wallet with every cross leg of the account, so an unpriced
        cross leg (or one without terms, whose settlement asset is unknown) leaves the margin
        figures of the account's other cross legs unknown. An unpriced leg of an asset leaves its
        futures delta, hedge ratio and rebalance unknown (every asset's, when the leg's terms are
        unknown and so is its base); the stress totals leave out no leg, so they are unknown too.
        """
        accounts_unsafe: set[tuple[str, str | None]] = set()
        assets_unsafe: set[str] = set()
        every_asset = False
        for item in unpriced:
            key = (item.account, item.instrument, item.position_side)
            state = self.positions.get(key)
            if state is None:
                event = self.untermed_positions[key]
                every_asset = True
                if event.margin_mode == "cross":
                    accounts_unsafe.add((event.account, None))
            else:
                assets_unsafe.add(self._hedged_asset(state.instrument))
                assets_unsafe.add(state.instrument.base)
                if state.event.margin_mode == "cross":
                    accounts_unsafe.add((state.event.account, state.instrument.settle))
        def unsafe(record: LegFigures) -> bool:
            if record.margin_mode != "cross":
                return False
            instrument = self.catalog.get(record.instrument)
            settle = None if instrument is None else instrument.settle
            return (record.account, None) in accounts_unsafe or (
                record.account, settle) in accounts_unsafe

        blanked_positions = [
            replace(record, margin_balance_usd=None, margin_ratio=None, margin_buffer_usd=None,
                    margin_buffer_fraction=None, liquidation_price=None, liquidation_distance=None)
            if unsafe(record) else record
            for record in positions
        ]
        blanked_assets = {
            asset: replace(
                record, futures_delta=None, net_delta=None, net_delta_usd=None, hedge_ratio=None,
                contracts_to_target=None, residual_delta=None, standard_contracts_to_target=None,
                standard_residual_delta=None)
            if every_asset or asset in assets_unsafe else record
            for asset, record in assets.items()
        }
        blanked_stress = tuple(replace(row, hedge_pnl_usd=None, net_pnl_usd=None) for row in stress)
        return blanked_positions, blanked_assets, blanked_stress

    def _positions_snapshot(self) -> tuple[list[LegFigures], list[LegPricing]]:
        """Each leg's figures, by its venue's margin model (risk-definitions.md "Margin").

        Amounts are computed in the settlement currency (USD(T) linear, coin inverse) and reported
        in USD at the leg's mark. A cross leg shares the wallet of its account's cross legs in the
        same settlement asset: their maintenance margins add up leg by leg (gross, hedge-mode legs
        included) and so do their unrealised PnLs.
        """
        out: list[LegFigures] = []
        figures: list[LegPricing] = []
        cross_totals: dict[tuple[str, str], tuple[float, float]] = {}
        marks: dict[tuple[str, str, PositionSide], float] = {}
        pnls: dict[tuple[str, str, PositionSide], float] = {}
        maintenance: dict[tuple[str, str, PositionSide], float | None] = {}
        for key, state in self.positions.items():
            mark = self._position_mark(state)
            if mark is None:
                continue
            marks[key] = mark
            event = state.event
            pnls[key] = state.instrument.pnl_settlement(event.quantity, event.entry_price, mark)
            own_mm = maintenance[key] = self._maintenance_margin(state, mark)
            if event.margin_mode == "cross":
                total = (key[0], state.instrument.settle)
                total_mm, total_upnl = cross_totals.get(total, (0.0, 0.0))
                cross_totals[total] = (
                    total_mm + (math.nan if own_mm is None else own_mm), total_upnl + pnls[key])
        for key in sorted(self.positions):
            state = self.positions[key]
            event = state.event
            instrument = state.instrument
            mark = marks.get(key)
            if mark is None:
                out.append(self._unpriced_leg(state))
                continue
            price = self.prices.prices[instrument.id]
            delta = self._leg_delta(state)
            own_mm = maintenance[key]
            balance = self._margin_balance(state, pnls[key], cross_totals)
            liquidation = self._liquidation_price(state, cross_totals, pnls, maintenance, marks)
            to_usd = instrument.settlement_to_usd
            mm = None if own_mm is None else float(to_usd(own_mm, mark))
            margin_balance = None if balance is None else float(to_usd(balance, mark))
            spot = self.reference_price(instrument.base)
            ratio = buffer = buffer_fraction = None
            if mm is not None and margin_balance is not None:
                ratio = _number(f.margin_ratio(mm, margin_balance))
                buffer = float(f.margin_buffer(margin_balance, mm))
                buffer_fraction = _number(f.margin_buffer_fraction(margin_balance, mm))
            liquidation_price = None if liquidation is None else _number(liquidation)
            distance = (None if liquidation is None
                        else _number(f.liquidation_distance(liquidation, mark)))
            remediation = None
            if distance is not None and distance < self.remediation_distance:
                remediation = self._remediation(state, mark, cross_totals, pnls, maintenance, marks)
            model_figures, venue_figures, divergence = self._venue_beside_model(
                state, liquidation_price, mm, ratio, price)
            record = LegFigures(
                account=event.account, instrument=instrument.id, position_side=event.position_side,
                asset=instrument.base, hedges=self._hedged_asset(instrument), kind=instrument.kind,
                margin_model=margin_model_for(instrument).name, quantity=event.quantity,
                entry_price=event.entry_price, mark_price=mark, margin_mode=event.margin_mode,
                funding_rate=price.funding_rate,
                funding_accrued_usd=state.funding_received_usd - state.funding_paid_usd,
                fees_usd=state.fees_usd, contract_type=self._contract_type(instrument),
                expiry_ms=instrument.expiry_ms, time_to_expiry_s=self._time_to_expiry(instrument),
                annualized_basis=self._annualized_basis(instrument, mark, price.index or spot),
                notional_usd=self._notional(state, mark),
                delta=delta,
                unrealized_pnl_usd=float(to_usd(pnls[key], mark)),
                maintenance_margin_usd=mm,
                margin_balance_usd=margin_balance,
                margin_ratio=ratio,
                margin_buffer_usd=buffer,
                margin_buffer_fraction=buffer_fraction,
                liquidation_price=liquidation_price,
                liquidation_distance=distance,
                basis_bps=None if spot is None else _number(f.basis_bps(mark, spot)),
                remediation=remediation,
                model_figures=model_figures,
                venue_figures=venue_figures,
                model_divergence=divergence,
            )
            out.append(record)
            figures.append(LegPricing(state, mark, delta, record))
        for key in sorted(self.untermed_positions):
            untermed = self.untermed_positions[key]
            out.append(LegFigures(
                account=untermed.account, instrument=untermed.instrument,
                position_side=untermed.position_side,
                margin_model=_venue_margin_model_name(untermed.instrument),
                quantity=untermed.quantity, entry_price=untermed.entry_price,
                mark_price=self.prices.mark(untermed.instrument), margin_mode=untermed.margin_mode))
        return out, figures

    def _unpriced_leg(self, state: PositionState) -> LegFigures:
        """A leg with terms but no price: every figure that needs a mark is unknown."""
        event, instrument = state.event, state.instrument
        return LegFigures(
            account=event.account, instrument=instrument.id, position_side=event.position_side,
            asset=instrument.base, hedges=self._hedged_asset(instrument), kind=instrument.kind,
            margin_model=margin_model_for(instrument).name, quantity=event.quantity,
            entry_price=event.entry_price, margin_mode=event.margin_mode,
            funding_accrued_usd=state.funding_received_usd - state.funding_paid_usd,
            fees_usd=state.fees_usd, contract_type=self._contract_type(instrument),
            expiry_ms=instrument.expiry_ms, time_to_expiry_s=self._time_to_expiry(instrument))

    @staticmethod
    def _contract_type(instrument: Instrument) -> ContractType:
        return "perpetual" if instrument.expiry_ms is None else "future"

    def _time_to_expiry(self, instrument: Instrument) -> float | None:
        """Seconds to a dated contract's expiry at event time (None for a perpetual)."""
        expiry = instrument.expiry_ms
        return None if expiry is None else float(f.time_left_seconds(expiry, self.last_event_ms))

    def _venue_beside_model(
        self,
        state: PositionState,
        liquidation_price: float | None,
        maintenance_margin_usd: float | None,
        margin_ratio: float | None,
        price: InstrumentPrice,
    ) -> tuple[ModelFigures, VenueFigures | None, Divergence]:
        """The venue's own figures of the leg beside the model's, each with its source and as-of
        time, and the relative divergence ``|model - venue| / |venue|`` of the liquidation price
        and the maintenance margin (None when either is unknown). The model's figures are as of
        the mark (they move with it between venue updates); the venue's as of the event that
        carried them."""
        model = ModelFigures(
            as_of_ms=price.ts_event_ms, liquidation_price=liquidation_price,
            maintenance_margin_usd=maintenance_margin_usd, margin_ratio=margin_ratio)
        venue_event = state.venue_event
        if venue_event is None:
            return model, None, UNKNOWN_DIVERGENCE
        maintenance = venue_event.venue_maintenance_margin
        # The venue's maintenance margin is as of the mark it came with: compared with the model's
        # at that same mark (a margin moves with the mark, and the venue's figure does not).
        at = state.venue_mark
        to_usd = state.instrument.settlement_to_usd
        venue = VenueFigures(
            as_of_ms=venue_event.ts_event_ms,
            liquidation_price=venue_event.venue_liquidation_price,
            maintenance_margin_usd=(
                None if maintenance is None or at is None else float(to_usd(maintenance, at))),
            margin_ratio=venue_event.venue_margin_ratio,
            adl_rank=venue_event.adl_rank,
            adl_rank_top=venue_event.adl_rank_top,
        )
        model_maintenance_then = None
        if at is not None:
            own = self._maintenance_margin(state, at)
            model_maintenance_then = None if own is None else float(to_usd(own, at))
        return model, venue, Divergence(
            liquidation_price=_divergence(liquidation_price, venue.liquidation_price),
            maintenance_margin_usd=_divergence(model_maintenance_then, venue.maintenance_margin_usd))

    def _annualized_basis(self, instrument: Instrument, mark: float, spot: float | None) -> float | None:
        """A dated future's basis per year: ``(F / S - 1) * 365 / days_to_expiry`` (risk-definitions.md,
        "Funding, fees, basis"), S the contract's index (the venue's spot index) else the asset's
        reference price; None for a perpetual, without a spot price, or at or after expiry."""
        if instrument.expiry_ms is None or spot is None:
            return None
        days = (instrument.expiry_ms - self.last_event_ms) / MS_PER_DAY
        if days <= 0:
            return None
        return _number(f.annualized_basis(mark, spot, days))

    def _margin_balance(
        self,
        state: PositionState,
        upnl: float,
        cross_totals: dict[tuple[str, str], tuple[float, float]],
    ) -> float | None:
        """Settlement currency. Isolated: wallet + uPnL; cross: cross wallet + the cross legs' uPnL."""
        event = state.event
        if event.margin_mode == "isolated":
            wallet = self._isolated_wallet(state)
            return None if wallet is None else wallet + upnl
        settle = state.instrument.settle
        _, total_upnl = cross_totals.get((event.account, settle), (0.0, upnl))
        wallet = self._cross_wallet(event.account, settle)
        return None if wallet is None else wallet + total_upnl

    def _isolated_wallet(self, state: PositionState) -> float | None:
        """An isolated leg's wallet in its settlement currency: reported, else the initial margin.

        The initial margin is ``notional at entry / leverage`` (Binance "Initial Margin = Notional
        Position Value / Leverage Level"), in USD (linear) or coin (inverse).
        """
        event = state.event
        wallet = event.isolated_margin
        if wallet is None and event.leverage:
            notional = state.instrument.settlement_notional(event.quantity, event.entry_price)
            wallet = float(f.initial_margin(notional, event.leverage))
        return wallet

    def _liquidation_price(
        self,
        state: PositionState,
        cross_totals: dict[tuple[str, str], tuple[float, float]],
        pnls: dict[tuple[str, str, PositionSide], float],
        maintenance: dict[tuple[str, str, PositionSide], float | None],
        marks: dict[tuple[str, str, PositionSide], float],
    ) -> float | None:
        """The leg's liquidation price by its venue's margin model (``monitor.domain.margin``).

        Isolated: the leg alone on its own wallet (each hedge-mode leg has its own). Cross: every
        cross leg of the same instrument in the account (both hedge-mode legs) moves with the
        price; the cross wallet less the other symbols' maintenance margin plus their uPnL is fixed
        (Binance's TMM1 and UPNL1). None when the venue's tiers are unknown.
        """
        instrument = state.instrument
        event = state.event
        if not instrument.tiers:
            return None
        model = margin_model_for(instrument)
        if event.margin_mode == "isolated":
            cached = state.isolated_liquidation
            if cached is not None and cached[0] is event:
                return cached[1]
            wallet = self._isolated_wallet(state)
            if wallet is None:
                return None
            price = model.liquidation_price([state.margin_leg()], wallet)
            state.isolated_liquidation = (event, price)
            return price
        account, settle = event.account, instrument.settle
        total_mm, total_upnl = cross_totals.get((account, settle), (0.0, 0.0))
        moving = [
            (key, other) for key, other in self.positions.items()
            if key[0] == account and other.instrument.id == instrument.id
            and other.event.margin_mode == "cross" and key in marks
        ]
        own_mm = sum(maintenance[key] or 0.0 for key, _ in moving)
        own_upnl = sum(pnls[key] for key, _ in moving)
        cross_wallet = self._cross_wallet(account, settle)
        if cross_wallet is None:
            return None  # no balance of the account reported yet: unknown
        wallet = cross_wallet - (total_mm - own_mm) + (total_upnl - own_upnl)
        if not math.isfinite(wallet):
            return None  # another cross leg's maintenance margin is unknown
        legs = tuple(other.margin_leg() for _, other in moving)
        cached_cross = state.cross_liquidation
        if cached_cross is not None and cached_cross[1] == wallet and len(cached_cross[0]) == len(legs) \
                and all(old is new for old, new in zip(cached_cross[0], legs, strict=True)):
            return cached_cross[2]
        price = model.liquidation_price(legs, wallet)
        state.cross_liquidation = (legs, wallet, price)
        return price

    def _remediation(
        self,
        state: PositionState,
        mark: float,
        cross_totals: dict[tuple[str, str], tuple[float, float]],
        pnls: dict[tuple[str, str, PositionSide], float],
        maintenance: dict[tuple[str, str, PositionSide], float | None],
        marks: dict[tuple[str, str, PositionSide], float],
    ) -> LiquidationRemediation | None:
        """What puts the leg's liquidation price back at ``remediation_distance`` from its mark.

        The legs and wallet are those of ``_liquidation_price`` (``monitor.domain.remediation``);
        the transfer source is the account outside the leg's own holding the most of its settlement
        asset (a spot wallet, say), with that balance.
        """
        instrument = state.instrument
        event = state.event
        if event.margin_mode == "isolated":
            wallet = self._isolated_wallet(state)
            legs = [state.margin_leg()]
            index = 0
        else:
            account, settle = event.account, instrument.settle
            total_mm, total_upnl = cross_totals.get((account, settle), (0.0, 0.0))
            moving = [
                (key, other) for key, other in self.positions.items()
                if key[0] == account and other.instrument.id == instrument.id
                and other.event.margin_mode == "cross" and key in marks
            ]
            own_mm = sum(maintenance[key] or 0.0 for key, _ in moving)
            own_upnl = sum(pnls[key] for key, _ in moving)
            cross_wallet = self._cross_wallet(account, settle)
            wallet = None if cross_wallet is None else (
                cross_wallet - (total_mm - own_mm) + (total_upnl - own_upnl))
            legs = [other.margin_leg() for _, other in moving]
            index = next(position for position, (_, other) in enumerate(moving) if other is state)
        if wallet is None or not math.isfinite(wallet):
            return None
        sources = [
            (quantity, owner) for (owner, asset), quantity in self.balances.items()
            if asset == instrument.settle and owner != event.account and quantity > 0
        ]
        transfer = None
        if sources:
            available, source = max(sources)
            transfer = (source, available)
        return liquidation_remediation(
            margin_model_for(instrument), legs, index, wallet, mark, self.remediation_distance,
            transfer=transfer)

    def _realised_volatility(self, asset: str) -> float | None:
        """The asset's realised volatility per sqrt-second (``formulas.realised_volatility``),
        recomputed only when its samples changed (they change once per sampling interval)."""
        samples = self.asset_samples.get(asset)
        if not samples:
            return None
        stamp = tuple(samples)
        cached = self._volatility.get(asset)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        value = f.realised_volatility(samples, self.settings.effectiveness.sample_interval_ms / 1000.0)
        self._volatility[asset] = (stamp, value)
        return value

    def _hedge_instrument(self, asset: str) -> Instrument | None:
        plan = self.settings.plans.get(asset)  # a default plan names no instrument
        if plan is not None and plan.instrument:
            return self.catalog.get(plan.instrument)
        if asset in self._hedge_legs:
            key = self._hedge_legs[asset]
            return None if key is None else self.positions[key].instrument
        best: tuple[str, str, PositionSide] | None = None
        best_delta = 0.0
        for key, state in self.positions.items():
            # A leg that a plan assigns to another asset (a cross hedge) is not this asset's hedge.
            if self._hedged_asset(state.instrument) != asset:
                continue
            # Legs are compared by their delta in base units: contract counts differ per venue.
            delta = abs(self._leg_delta(state))
            if best is None or delta > best_delta:
                best, best_delta = key, delta
        self._hedge_legs[asset] = best
        return None if best is None else self.positions[best].instrument

    def _assets_snapshot(self, leg_figures: list[LegPricing]) -> dict[str, AssetFigures]:
        out: dict[str, AssetFigures] = {}
        for asset in self._assets():
            price = self.reference_price(asset)
            spot = self._spot_delta(asset)
            futures = sum(
                leg.delta for leg in leg_figures if leg.state.instrument.base == asset)
            # A cross hedge: the plan's instrument has another base; its USD value hedges this asset.
            cross_hedge_usd = sum(
                leg.delta * leg.mark for leg in leg_figures
                if leg.record.hedges == asset and leg.state.instrument.base != asset
            )
            plan = self.settings.plan_for(asset)
            net = spot + futures
            hedge_ratio = None
            if price is not None and spot != 0:
                if cross_hedge_usd:
                    hedge_ratio = _number(-cross_hedge_usd / (spot * price))
                else:
                    hedge_ratio = _number(f.hedge_ratio(spot, futures))
            instrument = self._hedge_instrument(asset)
            rebalance = Rebalance()
            if instrument is not None and price is not None:
                rebalance = self._rebalance(asset, instrument, plan.target_ratio, spot, futures, price)
            basis = None
            hedge_mark = None if instrument is None else self.prices.mark(instrument.id)
            if hedge_mark is not None and price is not None and instrument is not None \
                    and instrument.base == asset:
                basis = _number(f.basis_bps(hedge_mark, price))
            min_variance = None
            if instrument is not None and instrument.base != asset:
                min_variance = self._min_variance_ratio(asset, instrument.base)
            out[asset] = AssetFigures(
                price=price,
                spot_delta=spot,
                futures_delta=futures,
                net_delta=net,
                net_delta_usd=None if price is None else net * price,
                hedge_ratio=hedge_ratio,
                target_hedge_ratio=plan.target_ratio,
                hedge_band=plan.band,
                contracts_to_target=rebalance.contracts_to_target,
                hedge_instrument=None if instrument is None else instrument.id,
                residual_delta=rebalance.residual_delta,
                standard_contracts_to_target=rebalance.standard_contracts_to_target,
                standard_residual_delta=rebalance.standard_residual_delta,
                basis_bps=basis,
                min_variance_ratio=min_variance,
                realised_volatility=self._realised_volatility(asset),
            )
        return out

    def _rebalance(
        self,
        asset: str,
        instrument: Instrument,
        target: float,
        spot: float,
        futures: float,
        price: float,
    ) -> Rebalance:
        """Contracts to short (+) or buy back (-) to reach the target, after lot rounding.

        ``N = h * exposure_usd / (cs * P)`` (linear), ``h * exposure_usd / cv`` (inverse: a new
        contract at P adds ``cv / P`` coin of delta, the open ones ``q cv / EP``);
        min-variance ``h*`` scales a cross hedge (risk-definitions.md, "Hedge ratio and rebalance").
        For a same-asset hedge the exposure is valued at the contract's own mark P, which is the
        definition when P = S and, under basis, keeps the delta hedge ratio exactly at target
        (N = missing base units / cs).
        """
        mark = self.prices.mark(instrument.id)
        if mark is None:
            return Rebalance()
        if instrument.base == asset:
            needed_base = target * spot + futures  # positive: too long, short more
            exposure_usd = needed_base * mark  # so that N = needed_base / cs exactly (linear)
        else:
            beta = self._min_variance_ratio(asset, instrument.base)
            hedge_usd = sum(
                self._leg_delta(state) * mark for state in self.positions.values()
                if state.instrument.id == instrument.id
            )
            exposure_usd = target * (beta if beta is not None else 1.0) * spot * price + hedge_usd
        raw = instrument.contracts_for_usd(exposure_usd, mark)
        size = instrument.base_per_contract(mark)
        contracts = float(f.round_to_lot(raw, instrument.lot_step))
        if instrument.base != asset:
            return Rebalance(contracts_to_target=contracts)
        standard = self.catalog.standard_contract_size(asset)
        standard_contracts = float(f.round_to_lot((target * spot + futures) / standard, 1.0))
        return Rebalance(
            contracts_to_target=contracts,
            residual_delta=target * spot + futures - contracts * size,
            standard_contracts_to_target=standard_contracts,
            standard_residual_delta=target * spot + futures - standard_contracts * standard,
        )

    def _min_variance_ratio(self, asset: str, hedge_asset: str) -> float | None:
        """h* = Cov(rA, rB) / Var(rB) over the sampled window (Hull, ch. 3)."""
        a = self.asset_samples.get(asset)
        b = self.asset_samples.get(hedge_asset)
        if a is None or b is None:
            return None
        n = min(len(a), len(b))
        if n < 3:
            return None
        series_a = np.array(list(a)[-n:])
        series_b = np.array(list(b)[-n:])
        returns_a = np.diff(series_a) / series_a[:-1]
        returns_b = np.diff(series_b) / series_b[:-1]
        return _number(f.min_variance_ratio(returns_a, returns_b))

    def _effectiveness_snapshot(self) -> dict[str, Effectiveness]:
        out: dict[str, Effectiveness] = {}
        settings = self.settings.effectiveness
        for asset, state in sorted(self.effectiveness.items()):
            offset = _number(f.dollar_offset(
                state.cumulative_hedge_usd, state.cumulative_spot_usd, state.exposure_usd,
                settings.min_move_fraction))
            spot_changes = np.array(state.spot_changes, dtype=float)
            hedge_changes = np.array(state.hedge_changes, dtype=float)
            slope, r2 = f.regression_slope_r2(spot_changes, hedge_changes)
            reduction = f.variance_reduction(spot_changes, hedge_changes)
            out[asset] = Effectiveness(
                dollar_offset=offset,
                slope=_number(slope),
                r2=_number(r2),
                variance_reduction=_number(reduction),
                samples=len(state.spot_changes),
                spot_change_usd=state.cumulative_spot_usd,
                hedge_change_usd=state.cumulative_hedge_usd,
                effective=None if offset is None else bool(f.effective_dollar_offset(offset)),
            )
        return out

    def _stress_snapshot(
        self, leg_figures: list[LegPricing], assets: dict[str, AssetFigures]
    ) -> tuple[StressRow, ...]:
        """Shock every price by (1 + s), a cross-hedge asset by its beta; liquidation caps a leg.

        Each leg is repriced shock by shock on floats: a grid of a few shocks costs less so than
        through numpy's fixed cost per call (the formulas' float and array paths agree).
        """
        shocks = self.settings.shocks
        spot_exposure = float(sum(
            record.spot_delta * record.price for record in assets.values()
            if record.price is not None
        ))
        hedge_pnl = [0.0] * len(shocks)
        liquidated: list[list[str]] = [[] for _ in shocks]
        for leg in leg_figures:
            state = leg.state
            record = leg.record
            instrument = state.instrument
            beta = None
            if record.hedges != instrument.base:
                beta = self._min_variance_ratio(instrument.base, record.hedges or instrument.base)
                if beta is None:
                    beta = 1.0
            mark = leg.mark
            liquidation = record.liquidation_price
            liquidation_value = math.nan if liquidation is None else liquidation
            margin_balance = record.margin_balance_usd
            margin_value = math.inf if margin_balance is None else margin_balance
            quantity, entry_price = state.event.quantity, state.event.entry_price
            side = 1.0 if quantity > 0 else -1.0
            shocked_prices = [
                mark * (1.0 + (float(shock) if beta is None else float(shock) * beta)) for shock in shocks]
            changes = instrument.stress_grid_usd(quantity, entry_price, mark, shocked_prices,
                                                 liquidation_value, margin_value)
            for index, change in enumerate(changes):
                hedge_pnl[index] = hedge_pnl[index] + change
            if liquidation is not None:
                for index, hit in enumerate(f.liquidated_in_grid(side, shocked_prices, liquidation)):
                    if hit:
                        liquidated[index].append(instrument.id)
        rows = []
        for index, shock in enumerate(shocks):
            spot_pnl = spot_exposure * float(shock)
            rows.append(StressRow(
                shock=shock,
                spot_pnl_usd=spot_pnl,
                hedge_pnl_usd=hedge_pnl[index],
                net_pnl_usd=spot_pnl + hedge_pnl[index],
                liquidated=tuple(liquidated[index]),
            ))
        return tuple(rows)

    def _costs_snapshot(self, leg_figures: list[LegPricing]) -> Costs:
        received = sum(s.funding_received_usd for s in self.positions.values())
        paid = sum(s.funding_paid_usd for s in self.positions.values())
        fees = sum(s.fees_usd for s in self.positions.values()) + self.orphan_fees_usd
        hedge_pnl = sum(leg.record.unrealized_pnl_usd or 0.0 for leg in leg_figures)
        budgets = [p.cost_budget_usd for p in self.settings.plans.values() if p.cost_budget_usd]
        return Costs(
            funding_received_usd=received,
            funding_paid_usd=paid,
            fees_usd=fees,
            hedge_cost_usd=fees + paid - received,
            protection_usd=max(0.0, hedge_pnl),
            cost_budget_usd=sum(budgets) if budgets else None,
        )

    def _lifecycle_snapshot(
        self,
        assets: dict[str, AssetFigures],
        leg_figures: list[LegPricing],
        costs: Costs,
    ) -> dict[str, Lifecycle]:
        out: dict[str, Lifecycle] = {}
        now = self.last_event_ms
        for asset, plan in sorted(self.settings.plans.items()):
            figures = assets.get(asset)
            price = None if figures is None else figures.price
            hedge_pnl = sum(
                leg.record.unrealized_pnl_usd or 0.0 for leg in leg_figures if leg.record.hedges == asset)
            time_left = None if plan.expiry_ms is None else float(
                f.time_left_seconds(plan.expiry_ms, now))
            crossed = price is not None and (
                (plan.exit_above is not None and price >= plan.exit_above)
                or (plan.exit_below is not None and price <= plan.exit_below)
            )
            budget = plan.cost_budget_usd
            hedge_cost = costs.hedge_cost_usd
            out[asset] = Lifecycle(
                time_left_s=time_left,
                expired=time_left is not None and time_left <= 0,
                exit_level_crossed=crossed,
                stop_loss_hit=plan.stop_loss_usd is not None and hedge_pnl <= -plan.stop_loss_usd,
                cost_budget_exceeded=(
                    budget is not None and hedge_cost is not None and hedge_cost > budget),
                opportunity_cost_usd=float(f.opportunity_cost_usd(hedge_pnl)),
                hedge_pnl_usd=hedge_pnl,
            )
        return out

    # -- checkpoint ---------------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        """Everything the book has accumulated, as JSON-ready data (for the state checkpoint)."""
        self.follow_prices()
        return {
            "positions": [
                {
                    "event": _event_fields(state.event),
                    "venue_event": (
                        None if state.venue_event is None else _event_fields(state.venue_event)),
                    "venue_mark": state.venue_mark,
                    "funding_received_usd": state.funding_received_usd,
                    "funding_paid_usd": state.funding_paid_usd,
                    "fees_usd": state.fees_usd,
                }
                for state in self.positions.values()
            ] + [
                {"event": _event_fields(event), "funding_received_usd": 0.0,
                 "funding_paid_usd": 0.0, "fees_usd": 0.0}
                for event in self.untermed_positions.values()
            ],
            "balances": [[account, asset, q] for (account, asset), q in self.balances.items()],
            "effectiveness": {
                asset: {
                    "cumulative_spot_usd": e.cumulative_spot_usd,
                    "cumulative_hedge_usd": e.cumulative_hedge_usd,
                    "sample_due_ms": e.sample_due_ms,
                    "last_sample_spot_usd": e.last_sample_spot_usd,
                    "last_sample_hedge_usd": e.last_sample_hedge_usd,
                    "spot_changes": list(e.spot_changes),
                    "hedge_changes": list(e.hedge_changes),
                    "exposure_usd": e.exposure_usd,
                }
                for asset, e in self.effectiveness.items()
            },
            "asset_samples": {asset: list(v) for asset, v in self.asset_samples.items()},
            "asset_sample_due": dict(self.asset_sample_due),
            "followed": {
                i: [p.mark, p.index, p.funding_rate, p.next_funding_ms, p.ts_event_ms, p.ts_receive_ms]
                for i, p in self.followed.items()
            },
            "followed_assets": {a: [p, t] for a, (p, t) in self.followed_assets.items()},
            "last_event_ms": self.last_event_ms,
            "orphan_fees_usd": self.orphan_fees_usd,
            "multi_asset_accounts": sorted(self.multi_asset_accounts),
            "cross_wallets": [[account, asset, q] for (account, asset), q in self.cross_wallets.items()],
            "accounts_with_balances": sorted(self.accounts_with_balances),
            "account_margins": [
                [_margin_fields(event), self.account_baselines.get(account)]
                for account, event in self.account_margins.items()
            ],
        }

    def restore_state(self, data: dict[str, Any]) -> None:
        """Load what ``to_state`` produced (positions whose instrument is unknown are held untermed)."""
        self.seen_ticks = {}
        self.watched = ()
        self._sample_horizon_ms = -math.inf
        self._positions_changed()
        self.positions.clear()
        self.untermed_positions.clear()
        for item in data.get("positions", []):
            event = PositionEvent(**item["event"])
            instrument = self.catalog.get(event.instrument)
            if instrument is None or not instrument.is_future:
                self.unknown_instruments.add(event.instrument)
                self.untermed_positions[event.key] = event
                continue
            restored = self.positions[event.key] = PositionState(
                event, instrument, float(item["funding_received_usd"]),
                float(item["funding_paid_usd"]), float(item["fees_usd"]))
            venue_item = item.get("venue_event")
            if venue_item is not None:
                restored.venue_event = PositionEvent(**venue_item)
            elif has_venue_figures(event):
                restored.venue_event = event
            venue_mark = item.get("venue_mark")
            restored.venue_mark = None if venue_mark is None else float(venue_mark)
        self.balances = {(str(a), str(asset)): float(q) for a, asset, q in data.get("balances", [])}
        self.effectiveness = {}
        for asset, e in data.get("effectiveness", {}).items():
            self.effectiveness[asset] = EffectivenessState(
                cumulative_spot_usd=float(e["cumulative_spot_usd"]),
                cumulative_hedge_usd=float(e["cumulative_hedge_usd"]),
                started=True,
                sample_due_ms=e["sample_due_ms"],
                last_sample_spot_usd=float(e["last_sample_spot_usd"]),
                last_sample_hedge_usd=float(e["last_sample_hedge_usd"]),
                spot_changes=deque(float(x) for x in e["spot_changes"]),
                hedge_changes=deque(float(x) for x in e["hedge_changes"]),
                exposure_usd=float(e["exposure_usd"]),
            )
        self.asset_samples = {
            asset: deque(float(x) for x in v) for asset, v in data.get("asset_samples", {}).items()
        }
        self.asset_sample_due = {a: int(v) for a, v in data.get("asset_sample_due", {}).items()}
        self.followed = {i: InstrumentPrice(*v) for i, v in data.get("followed", {}).items()}
        self.followed_assets = {
            a: (float(v[0]), int(v[1])) for a, v in data.get("followed_assets", {}).items()
        }
        self.last_event_ms = int(data.get("last_event_ms", 0))
        self.orphan_fees_usd = float(data.get("orphan_fees_usd", 0.0))
        self.multi_asset_accounts = {str(a) for a in data.get("multi_asset_accounts", [])}
        self.cross_wallets = {
            (str(a), str(asset)): float(q) for a, asset, q in data.get("cross_wallets", [])}
        self.accounts_with_balances = set(data.get(
            "accounts_with_balances", sorted({account for account, _ in self.balances})))
        self.account_margins = {}
        self.account_baselines = {}
        for fields_, baseline in data.get("account_margins", []):
            margin = AccountMarginEvent(**fields_)
            self.account_margins[margin.account] = margin
            self.account_baselines[margin.account] = (
                None if baseline is None else (float(baseline[0]), float(baseline[1])))


def _divergence(model: float | None, venue: float | None) -> float | None:
    """``|model - venue| / |venue|``, None when either is unknown."""
    if model is None or venue is None:
        return None
    return _number(f.relative_divergence(float(model), float(venue)))


def has_venue_figures(event: PositionEvent) -> bool:
    """Whether a position event carries any of the venue's own figures."""
    return not (event.venue_liquidation_price is None and event.venue_maintenance_margin is None
                and event.venue_margin_ratio is None and event.adl_rank is None)


def _same_leg(before: PositionEvent, after: PositionEvent) -> bool:
    """The leg's size, entry and margin are unchanged (e.g. a funding or leverage-only update),
    so the venue's figures of ``before`` still describe it."""
    return (before.quantity == after.quantity and before.entry_price == after.entry_price
            and before.margin_mode == after.margin_mode
            and before.isolated_margin == after.isolated_margin)


def _margin_fields(event: AccountMarginEvent) -> dict[str, Any]:
    return {name: getattr(event, name) for name in AccountMarginEvent.__slots__}


def _venue_margin_model_name(instrument_id: str) -> str:
    """The margin model the instrument's venue uses, by the venue part of its id."""
    venue = instrument_id.split(":", 1)[0]
    return (MARGIN_MODELS.get(venue) or MARGIN_MODELS["binance"]).name


def _event_fields(event: PositionEvent) -> dict[str, Any]:
    return {name: getattr(event, name) for name in PositionEvent.__slots__}
