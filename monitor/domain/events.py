"""Canonical events: the only shapes that leave a venue module.

Every event carries the exchange's own time (``ts_event_ms``) and the time the monitor received it
(``ts_receive_ms``), both in epoch milliseconds. Quantities follow the conventions of
``risk-definitions.md``: ``PositionEvent.quantity`` is a signed contract count (negative = short),
``BalanceEvent.quantity`` is in units of ``asset``. A position quantity of 0 closes the position.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from monitor.errors import HedgeMonitorError

MarginMode = Literal["isolated", "cross"]
MARGIN_MODES: tuple[MarginMode, ...] = ("isolated", "cross")
PositionSide = Literal["one_way", "long", "short"]
"""Which leg of a symbol a position is: the one net position (one-way mode), or one of the two
legs of hedge mode (Binance ``ps`` LONG/SHORT, OKX ``posSide`` long/short, Bybit ``positionIdx``
1/2). In hedge mode each leg is its own risk unit."""
POSITION_SIDES: tuple[PositionSide, ...] = ("one_way", "long", "short")
ForcedFill = Literal["liquidation", "adl"]
"""Why the venue closed a leg itself: a liquidation, or auto-deleveraging against the leg."""
FORCED_FILLS: tuple[ForcedFill, ...] = ("liquidation", "adl")


class EventError(HedgeMonitorError, ValueError):
    """An event field is missing, of the wrong type or outside its domain."""


def _finite(name: str, value: float) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        raise EventError(f"{name} must be a finite number, got {value!r}")


def _positive(name: str, value: float) -> None:
    _finite(name, value)
    if value <= 0:
        raise EventError(f"{name} must be > 0, got {value!r}")


def _time(name: str, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise EventError(f"{name} must be a non-negative integer of epoch milliseconds, got {value!r}")


def _identifier(name: str, value: str) -> None:
    if not isinstance(value, str) or not value or len(value) > 200:
        raise EventError(f"{name} must be a non-empty string of at most 200 characters")


@dataclass(frozen=True, slots=True)
class PriceEvent:
    """A mark (and optionally index and funding) price of one instrument ``venue:symbol``."""

    instrument: str
    mark: float
    index: float | None
    funding_rate: float | None
    next_funding_ms: int | None
    ts_event_ms: int
    ts_receive_ms: int

    def __post_init__(self) -> None:
        _identifier("instrument", self.instrument)
        _positive("mark", self.mark)
        if self.index is not None:
            _positive("index", self.index)
        if self.funding_rate is not None:
            _finite("funding_rate", self.funding_rate)
        if self.next_funding_ms is not None:
            _time("next_funding_ms", self.next_funding_ms)
        _time("ts_event_ms", self.ts_event_ms)
        _time("ts_receive_ms", self.ts_receive_ms)


@dataclass(frozen=True, slots=True)
class PositionEvent:
    """The full current state of one futures position (one leg) of one account (not a fill delta).

    ``risk_limit_value`` is the cap of the risk-limit tier the venue says the position carries
    (Bybit ``riskLimitValue``); None where the venue picks the tier by size.

    The venue's own figures of the leg, as it reported them with this event (docs/venue-fields.md),
    each None when the venue did not report it (unknown, never 0): ``venue_liquidation_price``
    (Binance ``liquidationPrice``, Bybit ``liqPrice``, OKX ``liqPx``, BingX ``liquidationPrice``,
    MEXC ``liquidatePrice``, WEEX ``liquidatePrice``), ``venue_maintenance_margin`` (in the
    settlement currency), ``venue_margin_ratio`` (maintenance margin / margin balance, liquidation
    at 1), and the auto-deleveraging rank ``adl_rank`` on the venue's scale ``0..adl_rank_top``
    (Binance adlQuantile 0-4, Bybit ``adlRankIndicator`` 0-5, OKX ``adl`` 1-5; the top bucket is
    the next to be deleveraged).
    """

    portfolio: str
    account: str
    instrument: str
    quantity: float
    entry_price: float
    leverage: float | None
    margin_mode: MarginMode
    isolated_margin: float | None
    ts_event_ms: int
    ts_receive_ms: int
    position_side: PositionSide = "one_way"
    risk_limit_value: float | None = None
    venue_liquidation_price: float | None = None
    venue_maintenance_margin: float | None = None
    venue_margin_ratio: float | None = None
    adl_rank: int | None = None
    adl_rank_top: int | None = None

    def __post_init__(self) -> None:
        _identifier("portfolio", self.portfolio)
        _identifier("account", self.account)
        _identifier("instrument", self.instrument)
        _finite("quantity", self.quantity)
        _venue_figures(self)
        if self.position_side not in POSITION_SIDES:
            raise EventError(
                f"position_side must be 'one_way', 'long' or 'short', got {self.position_side!r}")
        if (self.position_side == "long" and self.quantity < 0) or (
                self.position_side == "short" and self.quantity > 0):
            raise EventError(
                f"a {self.position_side} leg cannot have quantity {self.quantity!r} (signed, short < 0)")
        if self.risk_limit_value is not None:
            _positive("risk_limit_value", self.risk_limit_value)
        _finite("entry_price", self.entry_price)
        if self.entry_price < 0 or (self.quantity != 0 and self.entry_price == 0):
            raise EventError(f"entry_price must be > 0 for an open position, got {self.entry_price!r}")
        if self.leverage is not None:
            _positive("leverage", self.leverage)
        if self.margin_mode not in MARGIN_MODES:
            raise EventError(f"margin_mode must be 'isolated' or 'cross', got {self.margin_mode!r}")
        if self.isolated_margin is not None:
            _finite("isolated_margin", self.isolated_margin)
        _time("ts_event_ms", self.ts_event_ms)
        _time("ts_receive_ms", self.ts_receive_ms)

    @property
    def key(self) -> tuple[str, str, PositionSide]:
        """The identity of the position inside its portfolio: (account, instrument, leg)."""
        return (self.account, self.instrument, self.position_side)


@dataclass(frozen=True, slots=True)
class BalanceEvent:
    """The full current balance of one asset in one account (spot wallet, margin wallet, cold storage).

    ``cross_wallet`` is the part of it that backs cross-margin positions when the venue reports it
    apart (Binance ``cw`` / ``crossWalletBalance``: the wallet without the isolated wallets); None
    when the venue reports no such split (then the whole balance is the cross wallet).
    """

    portfolio: str
    account: str
    asset: str
    quantity: float
    ts_event_ms: int
    ts_receive_ms: int
    cross_wallet: float | None = None

    def __post_init__(self) -> None:
        _identifier("portfolio", self.portfolio)
        _identifier("account", self.account)
        _identifier("asset", self.asset)
        _finite("quantity", self.quantity)
        if self.cross_wallet is not None:
            _finite("cross_wallet", self.cross_wallet)
        _time("ts_event_ms", self.ts_event_ms)
        _time("ts_receive_ms", self.ts_receive_ms)

    @property
    def key(self) -> tuple[str, str]:
        """The identity of the balance inside its portfolio: (account, asset)."""
        return (self.account, self.asset)


@dataclass(frozen=True, slots=True)
class FillEvent:
    """A trade on a hedge leg, carrying the fee paid (positive) or rebate received (negative).

    ``forced`` is set when the venue closed the leg itself: ``liquidation`` (Binance
    ``ORDER_TRADE_UPDATE`` execution type CALCULATED / client id ``autoclose-``, Bybit ``execType``
    BustTrade, OKX order ``category`` ``full_liquidation``/``partial_liquidation``) or ``adl``
    (Binance client id ``adl_autoclose``, Bybit AdlTrade, OKX ``category`` ``adl``); None for a
    trade of the account's own.
    """

    portfolio: str
    account: str
    instrument: str
    quantity: float
    price: float
    fee_usd: float
    ts_event_ms: int
    ts_receive_ms: int
    forced: ForcedFill | None = None

    def __post_init__(self) -> None:
        _identifier("portfolio", self.portfolio)
        _identifier("account", self.account)
        _identifier("instrument", self.instrument)
        _finite("quantity", self.quantity)
        _positive("price", self.price)
        _finite("fee_usd", self.fee_usd)
        if self.forced is not None and self.forced not in FORCED_FILLS:
            raise EventError(f"forced must be 'liquidation', 'adl' or None, got {self.forced!r}")
        _time("ts_event_ms", self.ts_event_ms)
        _time("ts_receive_ms", self.ts_receive_ms)


@dataclass(frozen=True, slots=True)
class MismatchEvent:
    """A REST resync disagreed (``active``) or agreed again with what the stream had reported.

    ``subject`` is the instrument of a position or the asset of a balance; the quantities are the
    stream's last value and the resync's value.
    """

    portfolio: str
    account: str
    subject: str
    stream_quantity: float
    resync_quantity: float
    active: bool
    ts_event_ms: int
    ts_receive_ms: int

    def __post_init__(self) -> None:
        _identifier("portfolio", self.portfolio)
        _identifier("account", self.account)
        _identifier("subject", self.subject)
        _finite("stream_quantity", self.stream_quantity)
        _finite("resync_quantity", self.resync_quantity)
        if not isinstance(self.active, bool):
            raise EventError(f"active must be a boolean, got {self.active!r}")
        _time("ts_event_ms", self.ts_event_ms)
        _time("ts_receive_ms", self.ts_receive_ms)


@dataclass(frozen=True, slots=True)
class AccountModeEvent:
    """How an account's futures wallet is margined, as the venue reports it.

    ``multi_asset_margin``: Binance USDⓈ-M Multi-Assets Mode (``GET /fapi/v1/multiAssetsMargin``,
    ``ACCOUNT_CONFIG_UPDATE`` ``ai.j``): every eligible asset backs every cross position; in
    single-asset mode (the default) a contract is margined by its settlement asset alone.
    """

    portfolio: str
    account: str
    multi_asset_margin: bool
    ts_event_ms: int
    ts_receive_ms: int

    def __post_init__(self) -> None:
        _identifier("portfolio", self.portfolio)
        _identifier("account", self.account)
        if not isinstance(self.multi_asset_margin, bool):
            raise EventError(f"multi_asset_margin must be a boolean, got {self.multi_asset_margin!r}")
        _time("ts_event_ms", self.ts_event_ms)
        _time("ts_receive_ms", self.ts_receive_ms)


@dataclass(frozen=True, slots=True)
class AccountMarginEvent:
    """The venue's own margin figures of a whole account (unified / portfolio margin), as reported.

    ``mode`` is the venue's account mode (``portfolio_margin`` Binance PM; ``unified`` Bybit UTA;
    OKX ``acctLv`` 2-4 ``single_currency``, ``multi_currency``, ``portfolio_margin``; ``classic``).
    ``maintenance_margin_ratio`` is the account's maintenance margin over its (adjusted) equity,
    liquidation at ``liquidation_ratio``: Bybit ``accountMMRate`` as sent (liquidation at 1);
    Binance ``1 / uniMMR`` (liquidation at uniMMR 1.05, so ``1 / 1.05``); OKX ``1 / mgnRatio``
    (liquidation at ``mgnRatio`` 1). ``venue_figure``/``venue_value`` keep the figure as the venue
    named and sent it. Every figure is None when the venue did not report it (unknown, never 0).
    """

    portfolio: str
    account: str
    mode: str
    venue_figure: str
    venue_value: float | None
    maintenance_margin_ratio: float | None
    liquidation_ratio: float
    equity_usd: float | None
    maintenance_margin_usd: float | None
    initial_margin_ratio: float | None
    status: str | None
    ts_event_ms: int
    ts_receive_ms: int

    def __post_init__(self) -> None:
        _identifier("portfolio", self.portfolio)
        _identifier("account", self.account)
        _identifier("mode", self.mode)
        _identifier("venue_figure", self.venue_figure)
        for name in ("venue_value", "maintenance_margin_ratio", "maintenance_margin_usd",
                     "initial_margin_ratio"):
            value = getattr(self, name)
            if value is not None:
                _finite(name, value)
                if value < 0:
                    raise EventError(f"{name} must be >= 0, got {value!r}")
        if self.equity_usd is not None:
            _finite("equity_usd", self.equity_usd)
        _positive("liquidation_ratio", self.liquidation_ratio)
        if self.status is not None:
            _identifier("status", self.status)
        _time("ts_event_ms", self.ts_event_ms)
        _time("ts_receive_ms", self.ts_receive_ms)


def _venue_figures(event: PositionEvent) -> None:
    """The venue figures of a position: positive prices, non-negative margins, a rank in range."""
    if event.venue_liquidation_price is not None:
        _positive("venue_liquidation_price", event.venue_liquidation_price)
    for name in ("venue_maintenance_margin", "venue_margin_ratio"):
        value = getattr(event, name)
        if value is not None:
            _finite(name, value)
            if value < 0:
                raise EventError(f"{name} must be >= 0, got {value!r}")
    rank, top = event.adl_rank, event.adl_rank_top
    if (rank is None) != (top is None):
        raise EventError("adl_rank and adl_rank_top go together (both set or both None)")
    if rank is not None and top is not None:
        for name, value in (("adl_rank", rank), ("adl_rank_top", top)):
            if not isinstance(value, int) or isinstance(value, bool):
                raise EventError(f"{name} must be an integer, got {value!r}")
        if top < 1 or not 0 <= rank <= top:
            raise EventError(f"adl_rank must be within 0..adl_rank_top (>= 1), got {rank!r}/{top!r}")


ContractType = Literal["perpetual", "future", "spot"]
"""What a venue lists: a perpetual swap, a dated (delivery) future, or a spot pair."""
CONTRACT_TYPES: tuple[ContractType, ...] = ("perpetual", "future", "spot")
InstrumentKindName = Literal["spot", "linear", "inverse"]
INSTRUMENT_KIND_NAMES: tuple[InstrumentKindName, ...] = ("spot", "linear", "inverse")


@dataclass(frozen=True, slots=True)
class InstrumentTier:
    """One margin tier as the venue lists it: size in [floor, cap) uses ``mmr``.

    Floors and caps are in the unit of the venue's margin model (``monitor.domain.margin``): USD
    notional (Binance USDⓈ-M brackets, Bybit risk limits), contracts (OKX position tiers). ``cum``
    is the venue's own maintenance amount (Binance ``cum``) where it lists one, else None.
    """

    floor: float
    cap: float
    mmr: float
    max_leverage: float
    cum: float | None = None

    def __post_init__(self) -> None:
        _finite("floor", self.floor)
        if self.cap != math.inf:
            _finite("cap", self.cap)
        _finite("mmr", self.mmr)
        _finite("max_leverage", self.max_leverage)
        if not (0 <= self.mmr < 1):
            raise EventError(f"mmr must be in [0, 1), got {self.mmr!r}")
        if self.floor < 0 or self.cap <= self.floor:
            raise EventError(f"a tier needs 0 <= floor < cap, got {self.floor!r}, {self.cap!r}")
        if self.cum is not None:
            _finite("cum", self.cum)


@dataclass(frozen=True, slots=True)
class InstrumentEvent:
    """Contract terms of one instrument ``venue:symbol`` as the venue lists them (hedge.instruments).

    ``contract_size`` is base units per contract (linear, spot); ``contract_value`` USD per contract
    (inverse). ``expiry_ms`` is the delivery time of a dated future, None for a perpetual or spot.
    ``tiers`` is empty when the venue's tier endpoint was not read (the figures that need tiers
    are then unknown). ``source`` names the venue endpoints the terms came from.
    """

    instrument: str
    kind: InstrumentKindName
    contract_type: ContractType
    base: str
    quote: str
    settle: str
    contract_size: float
    contract_value: float
    lot_step: float
    min_quantity: float
    expiry_ms: int | None
    tiers: tuple[InstrumentTier, ...]
    source: str
    ts_event_ms: int
    ts_receive_ms: int

    def __post_init__(self) -> None:
        _identifier("instrument", self.instrument)
        if ":" not in self.instrument:
            raise EventError(f"instrument must be 'venue:symbol', got {self.instrument!r}")
        if self.kind not in INSTRUMENT_KIND_NAMES:
            raise EventError(f"kind must be one of {INSTRUMENT_KIND_NAMES}, got {self.kind!r}")
        if self.contract_type not in CONTRACT_TYPES:
            raise EventError(f"contract_type must be one of {CONTRACT_TYPES}, got {self.contract_type!r}")
        _identifier("base", self.base)
        _identifier("quote", self.quote)
        _identifier("settle", self.settle)
        if self.kind == "inverse":
            _positive("contract_value", self.contract_value)
        else:
            _positive("contract_size", self.contract_size)
        _positive("lot_step", self.lot_step)
        _finite("min_quantity", self.min_quantity)
        if self.contract_type == "future":
            if self.expiry_ms is None:
                raise EventError("a dated future needs expiry_ms")
            _time("expiry_ms", self.expiry_ms)
        elif self.expiry_ms is not None:
            raise EventError(f"a {self.contract_type} has no expiry, got {self.expiry_ms!r}")
        if not isinstance(self.tiers, tuple) or not all(
                isinstance(t, InstrumentTier) for t in self.tiers):
            raise EventError("tiers must be a tuple of InstrumentTier")
        _identifier("source", self.source)
        _time("ts_event_ms", self.ts_event_ms)
        _time("ts_receive_ms", self.ts_receive_ms)

    @property
    def venue(self) -> str:
        """The venue part of the id."""
        return self.instrument.split(":", 1)[0]

    @property
    def symbol(self) -> str:
        """The venue's own symbol."""
        return self.instrument.split(":", 1)[1]


AccountEvent = (
    PositionEvent | BalanceEvent | FillEvent | MismatchEvent | AccountModeEvent | AccountMarginEvent
)
Event = (
    PriceEvent | PositionEvent | BalanceEvent | FillEvent | MismatchEvent | AccountModeEvent
    | AccountMarginEvent
)
