"""Columnar fan-out: every held futures position in numpy columns, repriced per tick in one step.

``HedgeBook`` computes a position's figures one position at a time inside a full snapshot. When one
instrument is held by many portfolios, a price tick must reprice every holder; here the holders of
an instrument live in one block of numpy columns, so a tick reprices all of them with a handful of
vectorised calls to the same formulas (``monitor.domain.formulas``) and says which portfolios' figures
moved. No I/O and no asyncio: the risk engine owns one ``ColumnarPositions`` and feeds it events.

Layout: one ``_Block`` per instrument. Contract size / value and the tier table are per-instrument
constants; per-position float columns are rows of one 2-D array (``_COLUMNS``), with the portfolio
index in an int array beside it. A position is added or updated in O(1) amortised (capacity
doubles) and removed in O(1) by moving the last row into its slot (swap-remove). A slot number is
therefore only valid until the next change to that instrument's block.

What is per position and mark-dependent is computed on each tick: notional, delta, unrealised PnL,
maintenance margin (tier picked by notional), margin balance, margin ratio and liquidation distance.
What does not depend on the mark is computed once when the position changes: the isolated wallet,
the linear isolated liquidation price (Binance one-way, tier of the liquidation notional), and the
inverse maintenance margin (its USD notional ``|q| * cv`` does not move with the price). Cross-margin
legs share their wallet with other positions of the account, so their margin balance, margin ratio
and liquidation price are the snapshot's business: they are NaN here (a caller may feed the
snapshot's liquidation price back with ``set_liquidation_price`` to get its distance per tick).
Every figure follows risk-definitions.md exactly as ``HedgeBook`` does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np

from monitor.domain import formulas as f
from monitor.domain.events import PositionEvent, PositionSide
from monitor.domain.formulas import BoolArray, FloatArray, IndexArray
from monitor.domain.instruments import Catalog, Instrument
from monitor.domain.margin import MarginLeg, MarginModel, margin_model_for

# Rows of a block's float matrix: one contiguous row per column, one matrix column per position.
_QUANTITY: Final = 0  # signed contracts
_ENTRY_PRICE: Final = 1
_WALLET: Final = 2  # isolated wallet: USD (linear) or coin (inverse); NaN for cross or unknown
_ISOLATED: Final = 3  # 1.0 isolated, 0.0 cross
_LIQUIDATION_PRICE: Final = 4  # precomputed (linear isolated) or fed back; NaN when none
_RISK_LIMIT: Final = 5  # the risk-limit tier cap the venue says the position carries; NaN if none
_LAST_PNL: Final = 6  # uPnL at the last reprice (for the hedge value change); NaN before any
_REPORTED_PNL: Final = 7  # figures when the position last counted as changed (change detection)
_REPORTED_RATIO: Final = 8
_REPORTED_DISTANCE: Final = 9
_COLUMNS: Final = 10

_INITIAL_CAPACITY: Final = 16
_NO_LIQUIDATION: Final = math.nan

PositionKey = tuple[str, str, PositionSide]  # (portfolio, account, leg) inside one instrument


@dataclass(frozen=True, slots=True)
class Repricing:
    """The figures of every holder of one instrument after a tick, position by position.

    Arrays are aligned: entry ``i`` is the position in slot ``i`` of the instrument's block, held
    by portfolio index ``portfolios[i]`` (``ColumnarPositions.portfolio_name`` maps it back).
    NaN marks a figure that does not exist (no tiers, cross margin, no liquidation price); a
    margin ratio of inf means a margin balance <= 0. ``changed`` holds the sorted indices of the
    portfolios with at least one position whose figures moved beyond the store's tolerances.
    """

    instrument: str
    mark: float
    portfolios: IndexArray
    notional_usd: FloatArray
    delta: FloatArray
    unrealized_pnl_usd: FloatArray
    pnl_change_usd: FloatArray
    maintenance_margin_usd: FloatArray
    margin_balance_usd: FloatArray
    margin_ratio: FloatArray
    liquidation_price: FloatArray
    liquidation_distance: FloatArray
    changed: IndexArray

    def totals(self, *values: FloatArray) -> tuple[IndexArray, list[FloatArray]]:
        """Per-portfolio sums of per-position arrays: (holder indices, one sum array per input).

        ``np.bincount`` with weights adds each position's value into its portfolio's bin.
        """
        if self.portfolios.size == 0:
            return np.empty(0, dtype=np.intp), [np.empty(0, dtype=np.float64) for _ in values]
        size = int(self.portfolios.max()) + 1
        holders = np.flatnonzero(np.bincount(self.portfolios, minlength=size) > 0)
        sums = [
            np.asarray(np.bincount(self.portfolios, weights=value, minlength=size)[holders],
                       dtype=np.float64)
            for value in values
        ]
        return holders.astype(np.intp, copy=False), sums

    def futures_delta(self) -> tuple[IndexArray, FloatArray]:
        """Each holder's futures delta in this instrument (base units, summed over its legs)."""
        holders, (sums,) = self.totals(self.delta)
        return holders, sums

    def hedge_pnl_change(self) -> tuple[IndexArray, FloatArray]:
        """Each holder's hedge value change ``dF = PnL(P') - PnL(P)`` in USD since the last tick."""
        holders, (sums,) = self.totals(self.pnl_change_usd)
        return holders, sums


class _Block:
    """The holders of one instrument: float columns, portfolio indices, slot lookup."""

    __slots__ = (
        "floats", "instrument", "keys", "last_mark", "model", "portfolios", "size", "slots",
    )

    def __init__(self, instrument: Instrument) -> None:
        self.instrument = instrument
        self.model: MarginModel = margin_model_for(instrument)
        self.floats: FloatArray = np.full((_COLUMNS, _INITIAL_CAPACITY), np.nan)
        self.portfolios: IndexArray = np.zeros(_INITIAL_CAPACITY, dtype=np.intp)
        self.keys: list[PositionKey] = []
        self.slots: dict[PositionKey, int] = {}
        self.size = 0
        self.last_mark: float | None = None

    def append_slot(self) -> int:
        if self.size == self.portfolios.size:
            capacity = 2 * self.size
            floats = np.full((_COLUMNS, capacity), np.nan)
            floats[:, : self.size] = self.floats[:, : self.size]
            portfolios = np.zeros(capacity, dtype=np.intp)
            portfolios[: self.size] = self.portfolios[: self.size]
            self.floats, self.portfolios = floats, portfolios
        self.size += 1
        return self.size - 1

    def remove_slot(self, slot: int) -> None:
        last = self.size - 1
        if slot != last:
            self.floats[:, slot] = self.floats[:, last]
            self.portfolios[slot] = self.portfolios[last]
            moved = self.keys[last]
            self.keys[slot] = moved
            self.slots[moved] = slot
        self.keys.pop()
        self.size = last


class ColumnarPositions:
    """Held futures positions of every portfolio, as per-instrument numpy columns.

    ``pnl_tolerance_usd`` and ``ratio_tolerance`` decide when a position counts as changed: its
    unrealised PnL moved by more than ``pnl_tolerance_usd``, or its margin ratio or liquidation
    distance by more than ``ratio_tolerance``, since the tick at which it last counted as changed
    (0 and 0: any movement). Portfolio names are interned to dense indices that are never reused.
    """

    def __init__(
        self, catalog: Catalog, *, pnl_tolerance_usd: float = 0.0, ratio_tolerance: float = 0.0
    ) -> None:
        self.catalog = catalog
        self.pnl_tolerance_usd = pnl_tolerance_usd
        self.ratio_tolerance = ratio_tolerance
        self._blocks: dict[str, _Block] = {}
        self._portfolio_index: dict[str, int] = {}
        self._portfolio_names: list[str] = []
        # portfolio -> [(account, instrument, leg)]
        self._held: dict[int, list[tuple[str, str, PositionSide]]] = {}

    # -- positions ----------------------------------------------------------------------------

    def __len__(self) -> int:
        return sum(block.size for block in self._blocks.values())

    def held(self, instrument_id: str) -> int:
        """How many positions are held in an instrument."""
        block = self._blocks.get(instrument_id)
        return 0 if block is None else block.size

    def portfolio_index(self, portfolio: str) -> int:
        """The dense index of a portfolio (interned on first sight)."""
        index = self._portfolio_index.get(portfolio)
        if index is None:
            index = len(self._portfolio_names)
            self._portfolio_index[portfolio] = index
            self._portfolio_names.append(portfolio)
        return index

    def portfolio_name(self, index: int) -> str:
        """The portfolio of a dense index."""
        return self._portfolio_names[index]

    def portfolio_names(self, indices: IndexArray) -> list[str]:
        """The portfolios of dense indices, in order."""
        names = self._portfolio_names
        return [names[index] for index in indices.tolist()]

    def slot(self, portfolio: str, account: str, instrument_id: str,
             side: PositionSide = "one_way") -> int | None:
        """A position's slot in its instrument's arrays (valid until that instrument next changes)."""
        block = self._blocks.get(instrument_id)
        return None if block is None else block.slots.get((portfolio, account, side))

    def upsert(self, event: PositionEvent) -> bool:
        """Add, replace or (quantity 0) remove a position; False when the instrument is no future."""
        instrument = self.catalog.get(event.instrument)
        if instrument is None or not instrument.is_future:
            return False
        if event.quantity == 0:
            self.remove(event.portfolio, event.account, event.instrument, event.position_side)
            return True
        block = self._blocks.get(instrument.id)
        if block is None:
            block = _Block(instrument)
            self._blocks[instrument.id] = block
        key = (event.portfolio, event.account, event.position_side)
        slot = block.slots.get(key)
        portfolio = self.portfolio_index(event.portfolio)
        if slot is None:
            slot = block.append_slot()
            block.slots[key] = slot
            block.keys.append(key)
            self._held.setdefault(portfolio, []).append(
                (event.account, instrument.id, event.position_side))
        block.portfolios[slot] = portfolio
        _write_position(block, slot, event)
        return True

    def remove(self, portfolio: str, account: str, instrument_id: str,
               side: PositionSide = "one_way") -> bool:
        """Remove one position (swap-remove); False when it is not held."""
        block = self._blocks.get(instrument_id)
        if block is None:
            return False
        slot = block.slots.pop((portfolio, account, side), None)
        if slot is None:
            return False
        block.remove_slot(slot)
        index = self._portfolio_index[portfolio]
        held = self._held.get(index)
        if held is not None:
            held.remove((account, instrument_id, side))
            if not held:
                del self._held[index]
        return True

    def drop_instrument(self, instrument_id: str) -> list[tuple[str, str, PositionSide]]:
        """Remove every position of an instrument (its terms changed); (portfolio, account, leg)s."""
        block = self._blocks.get(instrument_id)
        if block is None:
            return []
        held = sorted(block.slots)
        for portfolio, account, side in held:
            self.remove(portfolio, account, instrument_id, side)
        del self._blocks[instrument_id]
        return held

    def drop_portfolio(self, portfolio: str) -> int:
        """Remove every position of a portfolio (its partition was revoked); how many were held."""
        index = self._portfolio_index.get(portfolio)
        if index is None:
            return 0
        held = sorted(self._held.get(index, ()))
        for account, instrument_id, side in held:
            self.remove(portfolio, account, instrument_id, side)
        return len(held)

    def set_liquidation_price(
        self, portfolio: str, account: str, instrument_id: str, price: float | None,
        side: PositionSide = "one_way",
    ) -> bool:
        """Use a liquidation price computed elsewhere (a cross leg's, from the snapshot)."""
        block = self._blocks.get(instrument_id)
        slot = None if block is None else block.slots.get((portfolio, account, side))
        if block is None or slot is None:
            return False
        block.floats[_LIQUIDATION_PRICE, slot] = _NO_LIQUIDATION if price is None else price
        return True

    def nbytes(self) -> int:
        """Bytes held by the numpy columns (capacity included; Python lookups excluded)."""
        return sum(block.floats.nbytes + block.portfolios.nbytes for block in self._blocks.values())

    # -- ticks --------------------------------------------------------------------------------

    def reprice(self, instrument_id: str, mark: float) -> Repricing | None:
        """Reprice every holder of an instrument at ``mark``; None when nobody holds it.

        Contract math is the instrument's (notional, uPnL in USD, delta ``q cs`` or ``q cv / EP``),
        the maintenance margin its venue's model (``monitor.domain.margin``), in the settlement
        currency converted at the mark. Isolated margin balance = wallet + uPnL; margin ratio
        ``MM / MB``; liquidation distance ``|LP - P| / P`` with the isolated liquidation price
        computed once per position event (it does not move with the mark for fixed terms).
        """
        block = self._blocks.get(instrument_id)
        if block is None or block.size == 0:
            if block is not None:
                block.last_mark = mark
            return None
        n = block.size
        columns = block.floats[:, :n]
        quantity = columns[_QUANTITY]
        entry_price = columns[_ENTRY_PRICE]
        wallet = columns[_WALLET]
        instrument = block.instrument
        notional = instrument.notional_value(quantity, mark)
        upnl = instrument.value_usd(quantity, entry_price, mark)
        delta = instrument.delta(quantity, entry_price)
        maintenance = instrument.settlement_to_usd(block.model.maintenance_margins(
            instrument, quantity, entry_price, mark, columns[_RISK_LIMIT]), mark)
        margin_balance = instrument.settlement_to_usd(wallet, mark) + upnl
        liquidation = columns[_LIQUIDATION_PRICE].copy()
        notional, upnl, delta, maintenance, margin_balance, liquidation = (
            np.asarray(value, dtype=np.float64)
            for value in (notional, upnl, delta, maintenance, margin_balance, liquidation)
        )
        ratio = np.asarray(f.margin_ratio(maintenance, margin_balance), dtype=np.float64)
        ratio[np.isnan(maintenance) | np.isnan(margin_balance)] = np.nan
        distance = np.asarray(f.liquidation_distance(liquidation, mark), dtype=np.float64)
        last_pnl = columns[_LAST_PNL]
        pnl_change = np.subtract(upnl, last_pnl)
        pnl_change[np.isnan(last_pnl)] = 0.0
        last_pnl[:] = upnl
        changed = self._changed(block, columns, upnl, ratio, distance)
        block.last_mark = mark
        return Repricing(
            instrument=instrument_id,
            mark=mark,
            portfolios=block.portfolios[:n].copy(),
            notional_usd=notional,
            delta=delta,
            unrealized_pnl_usd=upnl,
            pnl_change_usd=pnl_change,
            maintenance_margin_usd=maintenance,
            margin_balance_usd=margin_balance,
            margin_ratio=ratio,
            liquidation_price=liquidation,
            liquidation_distance=distance,
            changed=changed,
        )

    def _changed(
        self, block: _Block, columns: FloatArray, upnl: FloatArray, ratio: FloatArray,
        distance: FloatArray,
    ) -> IndexArray:
        """Portfolios with a position that moved beyond tolerance; those positions' references reset."""
        moved = _moved(upnl, columns[_REPORTED_PNL], self.pnl_tolerance_usd)
        moved |= _moved(ratio, columns[_REPORTED_RATIO], self.ratio_tolerance)
        moved |= _moved(distance, columns[_REPORTED_DISTANCE], self.ratio_tolerance)
        np.copyto(columns[_REPORTED_PNL], upnl, where=moved)
        np.copyto(columns[_REPORTED_RATIO], ratio, where=moved)
        np.copyto(columns[_REPORTED_DISTANCE], distance, where=moved)
        portfolios = block.portfolios[: block.size]
        flags = np.zeros(len(self._portfolio_names), dtype=np.bool_)
        flags[portfolios[moved]] = True
        return np.flatnonzero(flags).astype(np.intp, copy=False)


def tier_index(notional: FloatArray, caps: FloatArray) -> IndexArray:
    """Index of the first tier whose cap > notional (the last tier beyond every cap), per position.

    The same tier as ``formulas.tier_index`` (``searchsorted(caps, notional, "right")`` clipped to
    the last tier) for finite notionals, counted as ``sum(notional >= cap)`` over all caps but the
    last: a few vectorised comparisons beat a binary search per element for the ~10 tiers a venue
    lists. Source: Binance USDⓈ-M ``GET /fapi/v1/leverageBracket`` (floor inclusive, cap exclusive).
    """
    index = np.zeros(notional.shape, dtype=np.intp)
    for cap in caps[:-1].tolist():
        index += notional >= cap
    return index


def _moved(current: FloatArray, reported: FloatArray, tolerance: float) -> BoolArray:
    """Where a figure moved by more than ``tolerance`` or appeared / disappeared (NaN <-> number).

    inf - inf is NaN (an unchanged inf margin ratio did not move); inf - finite is inf (moved).
    """
    with np.errstate(invalid="ignore"):
        moved = np.abs(current - reported) > tolerance
    moved |= np.isnan(current) != np.isnan(reported)
    return moved



def _isolated_wallet(instrument: Instrument, event: PositionEvent) -> float:
    """The isolated wallet, as ``HedgeBook`` takes it: reported, else ``notional(EP) / leverage``.

    In the settlement currency: USD for linear, coin for inverse.
    Source: Binance USDⓈ-M "Initial Margin = Notional Position Value / Leverage Level".
    """
    if event.margin_mode != "isolated":
        return math.nan
    if event.isolated_margin is not None:
        return event.isolated_margin
    if not event.leverage:
        return math.nan
    notional = instrument.settlement_notional(event.quantity, event.entry_price)
    return float(f.initial_margin(notional, event.leverage))


def _write_position(block: _Block, slot: int, event: PositionEvent) -> None:
    """Fill one slot with a position's mark-independent columns."""
    instrument = block.instrument
    column = block.floats[:, slot]
    wallet = _isolated_wallet(instrument, event)
    column[_QUANTITY] = event.quantity
    column[_ENTRY_PRICE] = event.entry_price
    column[_WALLET] = wallet
    column[_ISOLATED] = 1.0 if event.margin_mode == "isolated" else 0.0
    column[_LIQUIDATION_PRICE] = _NO_LIQUIDATION
    column[_RISK_LIMIT] = math.nan if event.risk_limit_value is None else event.risk_limit_value
    if instrument.tiers and not math.isnan(wallet):
        leg = MarginLeg(instrument, event.quantity, event.entry_price, wallet, event.risk_limit_value)
        column[_LIQUIDATION_PRICE] = block.model.liquidation_price([leg], wallet)
    # The hedge value change of an updated position counts from the last mark at its new size.
    mark = block.last_mark
    column[_LAST_PNL] = math.nan if mark is None else float(
        instrument.value_usd(event.quantity, event.entry_price, mark))
    column[_REPORTED_PNL] = math.nan
    column[_REPORTED_RATIO] = math.nan
    column[_REPORTED_DISTANCE] = math.nan


__all__ = ["ColumnarPositions", "Repricing", "tier_index"]
