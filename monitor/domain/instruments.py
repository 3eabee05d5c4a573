"""Instrument catalog: contract terms and margin tiers of every instrument the monitor can price.

The default catalog ships as package data (``catalog.json``) and can be overridden or extended from
config. Contract terms follow ``risk-definitions.md`` (Contracts table); tier tables are the venues'
documented defaults and must be refreshed from the venue (Binance ``GET /fapi/v1/leverageBracket``,
Bybit ``/v5/market/risk-limit``, OKX ``/api/v5/public/position-tiers``) for production use.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from types import MappingProxyType
from typing import Any, Literal, overload

from monitor.domain import formulas as f
from monitor.domain.events import InstrumentEvent
from monitor.domain.formulas import FloatOrArray
from monitor.errors import HedgeMonitorError

InstrumentKind = Literal["spot", "linear", "inverse"]
INSTRUMENT_KINDS: tuple[InstrumentKind, ...] = ("spot", "linear", "inverse")
FundingAccrual = Literal["settlement", "continuous"]
FUNDING_ACCRUALS: tuple[FundingAccrual, ...] = ("settlement", "continuous")
"""How a perpetual's funding is paid: at settlement times (``next_funding_ms``: Binance, OKX,
Bybit, ...) or accrued every millisecond at the quoted 8-hour rate (Deribit "Funding
Specifications")."""


class CatalogError(HedgeMonitorError, ValueError):
    """An instrument definition is invalid or an instrument is unknown.

    ``reason`` says what is wrong; ``instrument_id`` names the definition it is about (None when
    the problem is not one definition's, e.g. a lookup); ``str`` reads ``instrument <id>: <reason>``.
    """

    def __init__(self, reason: str, instrument_id: str | None = None) -> None:
        super().__init__(reason if instrument_id is None else f"instrument {instrument_id}: {reason}")
        self.reason = reason
        self.instrument_id = instrument_id


@dataclass(frozen=True, slots=True)
class MarginTier:
    """One leverage bracket / risk-limit tier: notional in [floor, cap) uses ``mmr`` and ``cum``.

    ``cum`` (Binance "maintenance amount") makes the tiered maintenance margin continuous:
    ``cum_n = floor_n * (mmr_n - mmr_{n-1}) + cum_{n-1}`` (Binance USDⓈ-M leverage bracket docs).
    """

    floor: float
    cap: float
    mmr: float
    max_leverage: float
    cum: float


@dataclass(frozen=True, slots=True)
class Instrument:
    """Contract terms of one tradable instrument, identified as ``venue:symbol``."""

    id: str
    kind: InstrumentKind
    base: str
    quote: str
    contract_size: float = 1.0
    contract_value: float = 0.0
    lot_step: float = 1.0
    min_quantity: float = 0.0
    settle: str = "USD"
    expiry_ms: int | None = None
    funding_interval_hours: float | None = 8.0
    taker_fee: float = 0.0005
    maker_fee: float = 0.0002
    tiers: tuple[MarginTier, ...] = field(default_factory=tuple)
    note: str = ""
    funding_accrual: FundingAccrual = "settlement"

    @property
    def venue(self) -> str:
        """The venue part of the id (``okx`` in ``okx:BTC-USDT-SWAP``)."""
        return self.id.split(":", 1)[0]

    @property
    def symbol(self) -> str:
        """The venue's own symbol (``BTC-USDT-SWAP`` in ``okx:BTC-USDT-SWAP``)."""
        return self.id.split(":", 1)[1]

    @property
    def is_future(self) -> bool:
        """True for linear and inverse contracts."""
        return self.kind != "spot"

    # -- contract math (risk-definitions.md "Delta", "Profit and loss", "Margin") -------------

    @property
    def _math(self) -> type[_LinearContract] | type[_InverseContract]:
        return _CONTRACTS[self.kind]

    @property
    def settles_in_coin(self) -> bool:
        """True when margin, PnL and wallets are in the base coin (inverse contracts)."""
        return self.kind == "inverse"

    def leg_size(self, quantity: FloatOrArray) -> FloatOrArray:
        """``Q``: base units (linear) or USD (inverse) of ``|q|`` contracts."""
        return self._math.leg_size(self, quantity)

    @overload
    def settlement_notional(self, quantity: float, price: float) -> float: ...
    @overload
    def settlement_notional(self, quantity: FloatOrArray, price: FloatOrArray) -> FloatOrArray: ...
    def settlement_notional(self, quantity: FloatOrArray, price: FloatOrArray) -> FloatOrArray:
        """Position value in the settlement currency: ``|q| cs P`` USD, or ``|q| cv / P`` coin."""
        return self._math.settlement_notional(self, quantity, price)

    @overload
    def notional_value(self, quantity: float, price: float) -> float: ...
    @overload
    def notional_value(self, quantity: FloatOrArray, price: FloatOrArray) -> FloatOrArray: ...
    def notional_value(self, quantity: FloatOrArray, price: FloatOrArray) -> FloatOrArray:
        """Notional in USD: ``|q| cs P`` (linear), ``|q| cv`` (inverse)."""
        return self._math.notional_usd(self, quantity, price)

    @overload
    def delta(self, quantity: float, entry_price: float) -> float: ...
    @overload
    def delta(self, quantity: FloatOrArray, entry_price: FloatOrArray) -> FloatOrArray: ...
    def delta(self, quantity: FloatOrArray, entry_price: FloatOrArray) -> FloatOrArray:
        """Base-unit exposure: ``q cs`` (linear), ``q cv / EP`` (inverse, accrued coin PnL included)."""
        return self._math.delta(self, quantity, entry_price)

    @overload
    def value_usd(self, quantity: float, entry_price: float, price: float) -> float: ...
    @overload
    def value_usd(self, quantity: FloatOrArray, entry_price: FloatOrArray, price: FloatOrArray
                  ) -> FloatOrArray: ...
    def value_usd(self, quantity: FloatOrArray, entry_price: FloatOrArray, price: FloatOrArray
                  ) -> FloatOrArray:
        """Unrealised PnL in USD at the mark (the position's USD value)."""
        return self._math.value_usd(self, quantity, entry_price, price)

    def pnl_settlement(self, quantity: float, entry_price: float, price: float) -> float:
        """Unrealised PnL in the settlement currency."""
        return self._math.pnl_settlement(self, quantity, entry_price, price)

    def pnl_coefficients(self, quantity: float, entry_price: float) -> tuple[float, float]:
        """``(alpha, beta)`` with settlement PnL ``alpha u + beta``, ``u = P`` or ``1 / P``."""
        return self._math.pnl_coefficients(self, quantity, entry_price)

    def price_from_variable(self, variable: float) -> float:
        """The price for the solver's variable ``u`` (``P`` linear, ``1 / P`` inverse)."""
        return self._math.price_from_variable(variable)

    @overload
    def settlement_to_usd(self, amount: float, price: float) -> float: ...
    @overload
    def settlement_to_usd(self, amount: FloatOrArray, price: FloatOrArray) -> FloatOrArray: ...
    def settlement_to_usd(self, amount: FloatOrArray, price: FloatOrArray) -> FloatOrArray:
        """An amount of the settlement currency in USD at the mark."""
        return self._math.settlement_to_usd(amount, price)

    def base_per_contract(self, price: float) -> float:
        """Base units one more contract adds at ``price``: ``cs``, or ``cv / P``."""
        return self._math.base_per_contract(self, price)

    def funding_usd(self, quantity: float, price: float, rate: float) -> float:
        """Funding received (positive) in USD at one settlement."""
        return self._math.funding_usd(self, quantity, price, rate)

    def stress_change_usd(self, quantity: float, entry_price: float, price: float,
                          shocked: FloatOrArray, liquidation_price: float, margin_balance_usd: float
                          ) -> FloatOrArray:
        """The leg's USD value change from ``price`` to each shocked price, capped at liquidation."""
        return self._math.stress_change_usd(self, quantity, entry_price, price, shocked,
                                            liquidation_price, margin_balance_usd)

    def stress_grid_usd(self, quantity: float, entry_price: float, price: float,
                        shocked_prices: Sequence[float], liquidation_price: float,
                        margin_balance_usd: float) -> list[float]:
        """``stress_change_usd`` at each price of a stress grid, in one call per leg."""
        return self._math.stress_grid_usd(self, quantity, entry_price, price, shocked_prices,
                                          liquidation_price, margin_balance_usd)

    def contracts_for_usd(self, exposure_usd: float, price: float) -> float:
        """Contracts whose exposure is ``exposure_usd`` at ``price`` (before lot rounding)."""
        return self._math.contracts_for_usd(self, exposure_usd, price)

    def tier_for(self, notional: float) -> MarginTier | None:
        """The tier whose [floor, cap) holds ``notional`` (in the tier's unit); the last beyond its cap."""
        if not self.tiers:
            return None
        for tier in self.tiers:
            if notional < tier.cap:
                return tier
        return self.tiers[-1]


class _LinearContract:
    """Linear contract math: ``cs`` base units per contract, settled in the quote (USD)."""

    __slots__ = ()

    @staticmethod
    def leg_size(instrument: Instrument, quantity: FloatOrArray) -> FloatOrArray:
        """``Q = |q| cs`` in base units."""
        return f.linear_notional(quantity, instrument.contract_size, 1.0)

    @staticmethod
    def settlement_notional(instrument: Instrument, quantity: FloatOrArray, price: FloatOrArray
                            ) -> FloatOrArray:
        """``|q| cs P`` in USD."""
        return f.linear_notional(quantity, instrument.contract_size, price)

    @staticmethod
    def notional_usd(instrument: Instrument, quantity: FloatOrArray, price: FloatOrArray
                     ) -> FloatOrArray:
        """``|q| cs P``."""
        return f.linear_notional(quantity, instrument.contract_size, price)

    @staticmethod
    def delta(instrument: Instrument, quantity: FloatOrArray, entry_price: FloatOrArray  # noqa: ARG004 -- the contract-math signature
              ) -> FloatOrArray:
        """``q cs``."""
        return f.linear_delta(quantity, instrument.contract_size)

    @staticmethod
    def value_usd(instrument: Instrument, quantity: FloatOrArray, entry_price: FloatOrArray,
                  price: FloatOrArray) -> FloatOrArray:
        """``q cs (P - EP)``."""
        return f.linear_pnl(quantity, instrument.contract_size, entry_price, price)

    @staticmethod
    def pnl_settlement(instrument: Instrument, quantity: float, entry_price: float, price: float
                       ) -> float:
        """``q cs (P - EP)`` in USD."""
        return f.linear_pnl(quantity, instrument.contract_size, entry_price, price)

    @staticmethod
    def pnl_coefficients(instrument: Instrument, quantity: float, entry_price: float
                         ) -> tuple[float, float]:
        """PnL = ``alpha P + beta``: ``alpha = side Q``, ``beta = -side Q EP``."""
        signed = quantity * instrument.contract_size
        return signed, -signed * entry_price

    @staticmethod
    def price_from_variable(variable: float) -> float:
        """The price variable of a linear contract is the price."""
        return variable

    @staticmethod
    def settlement_to_usd(amount: FloatOrArray, price: FloatOrArray) -> FloatOrArray:  # noqa: ARG004 -- the contract-math signature
        """USD already."""
        return amount

    @staticmethod
    def base_per_contract(instrument: Instrument, price: float) -> float:  # noqa: ARG004 -- the contract-math signature
        """A new contract adds ``cs`` base units."""
        return instrument.contract_size

    @staticmethod
    def funding_usd(instrument: Instrument, quantity: float, price: float, rate: float) -> float:
        """``-q cs P rate`` received."""
        return f.funding_payment_linear(quantity, instrument.contract_size, price, rate)

    @staticmethod
    def stress_change_usd(instrument: Instrument, quantity: float, entry_price: float, price: float,  # noqa: ARG004 -- the contract-math signature
                          shocked: FloatOrArray, liquidation_price: float, margin_balance_usd: float
                          ) -> FloatOrArray:
        """``q cs (P' - P)``, or ``-MB`` once P' reaches LP."""
        return f.stress_leg_pnl_linear(quantity, instrument.contract_size, price, shocked,
                                       liquidation_price, margin_balance_usd)

    @staticmethod
    def stress_grid_usd(instrument: Instrument, quantity: float, entry_price: float, price: float,  # noqa: ARG004 -- the contract-math signature
                        shocked_prices: Sequence[float], liquidation_price: float,
                        margin_balance_usd: float) -> list[float]:
        """``q cs (P' - P)`` at each shocked price, or ``-MB`` once P' reaches LP."""
        return f.stress_grid_linear(quantity, instrument.contract_size, price, shocked_prices,
                                    liquidation_price, margin_balance_usd)

    @staticmethod
    def contracts_for_usd(instrument: Instrument, exposure_usd: float, price: float) -> float:
        """``E / (cs P)``."""
        return f.contracts_for_target_linear(1.0, exposure_usd, instrument.contract_size, price)


class _InverseContract:
    """Inverse contract math: ``cv`` USD per contract, settled in the base coin."""

    __slots__ = ()

    @staticmethod
    def leg_size(instrument: Instrument, quantity: FloatOrArray) -> FloatOrArray:
        """``Q = |q| cv`` in USD."""
        return f.inverse_notional(quantity, instrument.contract_value)

    @staticmethod
    def settlement_notional(instrument: Instrument, quantity: FloatOrArray, price: FloatOrArray
                            ) -> FloatOrArray:
        """``|q| cv / P`` in coin."""
        usd = f.inverse_notional(quantity, instrument.contract_value)
        return f.inverse_delta(usd, 1.0, price)

    @staticmethod
    def notional_usd(instrument: Instrument, quantity: FloatOrArray, price: FloatOrArray  # noqa: ARG004 -- the contract-math signature
                     ) -> FloatOrArray:
        """``|q| cv``."""
        return f.inverse_notional(quantity, instrument.contract_value)

    @staticmethod
    def delta(instrument: Instrument, quantity: FloatOrArray, entry_price: FloatOrArray
              ) -> FloatOrArray:
        """``q cv / EP`` (the accrued coin PnL included)."""
        return f.inverse_delta(quantity, instrument.contract_value, entry_price)

    @staticmethod
    def value_usd(instrument: Instrument, quantity: FloatOrArray, entry_price: FloatOrArray,
                  price: FloatOrArray) -> FloatOrArray:
        """``q cv (1/EP - 1/P) P = q cv (P/EP - 1)``."""
        return f.inverse_pnl_usd(quantity, instrument.contract_value, entry_price, price)

    @staticmethod
    def pnl_settlement(instrument: Instrument, quantity: float, entry_price: float, price: float
                       ) -> float:
        """``q cv (1/EP - 1/P)`` in coin."""
        return f.inverse_pnl_coin(quantity, instrument.contract_value, entry_price, price)

    @staticmethod
    def pnl_coefficients(instrument: Instrument, quantity: float, entry_price: float
                         ) -> tuple[float, float]:
        """PnL (coin) = ``alpha / P + beta``: ``alpha = -side Q``, ``beta = side Q / EP``."""
        signed = quantity * instrument.contract_value
        return -signed, signed / entry_price

    @staticmethod
    def price_from_variable(variable: float) -> float:
        """The price variable of an inverse contract is ``1 / P``."""
        return 1.0 / variable

    @staticmethod
    def settlement_to_usd(amount: FloatOrArray, price: FloatOrArray) -> FloatOrArray:
        """Coin at the mark."""
        return amount * price

    @staticmethod
    def base_per_contract(instrument: Instrument, price: float) -> float:
        """A new contract at P adds ``cv / P`` coin."""
        return instrument.contract_value / price

    @staticmethod
    def funding_usd(instrument: Instrument, quantity: float, price: float, rate: float) -> float:  # noqa: ARG004 -- the contract-math signature
        """``-q cv rate`` in USD."""
        return f.funding_payment_inverse(quantity, instrument.contract_value, rate)

    @staticmethod
    def stress_change_usd(instrument: Instrument, quantity: float, entry_price: float, price: float,
                          shocked: FloatOrArray, liquidation_price: float, margin_balance_usd: float
                          ) -> FloatOrArray:
        """``q cv (P' - P) / EP``, or ``-MB`` once P' reaches LP."""
        return f.stress_leg_pnl_inverse(quantity, instrument.contract_value, entry_price, price,
                                        shocked, liquidation_price, margin_balance_usd)

    @staticmethod
    def stress_grid_usd(instrument: Instrument, quantity: float, entry_price: float, price: float,
                        shocked_prices: Sequence[float], liquidation_price: float,
                        margin_balance_usd: float) -> list[float]:
        """``q cv (P' - P) / EP`` at each shocked price, or ``-MB`` once P' reaches LP."""
        return f.stress_grid_inverse(quantity, instrument.contract_value, entry_price, price,
                                     shocked_prices, liquidation_price, margin_balance_usd)

    @staticmethod
    def contracts_for_usd(instrument: Instrument, exposure_usd: float, price: float) -> float:  # noqa: ARG004 -- the contract-math signature
        """``E / cv``."""
        return f.contracts_for_target_inverse(1.0, exposure_usd, instrument.contract_value)


_CONTRACTS: dict[str, type[_LinearContract] | type[_InverseContract]] = {
    "linear": _LinearContract, "inverse": _InverseContract, "spot": _LinearContract,
}


def tiers_with_cum(rows: Iterable[tuple[float, float, float, float]]) -> tuple[MarginTier, ...]:
    """Build tiers from (floor, cap, mmr, max_leverage) rows, deriving Binance's ``cum``.

    ``cum_n = floor_n * (mmr_n - mmr_{n-1}) + cum_{n-1}``, ``cum_1 = 0`` (Binance USDⓈ-M
    "Leverage and Margin" FAQ: maintenance amount).
    """
    result: list[MarginTier] = []
    previous_mmr = 0.0
    cum = 0.0
    previous_cap = 0.0
    for floor, cap, mmr, max_leverage in rows:
        if not (math.isfinite(floor) and math.isfinite(mmr) and 0 <= mmr < 1):
            raise CatalogError(f"tier ({floor}, {cap}, {mmr}) is not a valid tier")
        if cap <= floor or floor < previous_cap - 1e-9:
            raise CatalogError(f"tier floors and caps must increase, got floor {floor} cap {cap}")
        if result:
            cum = floor * (mmr - previous_mmr) + cum
        result.append(MarginTier(floor, cap, mmr, max_leverage, cum))
        previous_mmr = mmr
        previous_cap = cap
    return tuple(result)


InstrumentKeyType = Literal["text", "number", "epoch_ms", "tiers"]
INSTRUMENT_KEY_TYPES: Mapping[str, InstrumentKeyType] = MappingProxyType({
    "kind": "text", "base": "text", "quote": "text", "contract_size": "number",
    "contract_value": "number", "lot_step": "number", "min_quantity": "number", "settle": "text",
    "expiry_ms": "epoch_ms", "funding_interval_hours": "number", "taker_fee": "number",
    "maker_fee": "number", "tiers": "tiers", "note": "text", "funding_accrual": "text",
})
"""Every key of an instrument definition (catalog entry or config override) and its value type."""
INSTRUMENT_KEYS: tuple[str, ...] = tuple(INSTRUMENT_KEY_TYPES)
TIER_KEYS: tuple[str, ...] = ("floor", "cap", "mmr", "max_leverage")
"""Keys of one ``tiers`` entry; all but ``TIER_OPTIONAL_KEYS`` are required."""
TIER_OPTIONAL_KEYS: tuple[str, ...] = ("max_leverage",)
_ALLOWED_KEYS = frozenset(INSTRUMENT_KEYS)


def instrument_from_mapping(instrument_id: str, data: Mapping[str, Any]) -> Instrument:
    """Validate one catalog entry (package data or config) and build the Instrument."""
    if ":" not in instrument_id:
        raise CatalogError(f"instrument id {instrument_id!r} must be 'venue:symbol'")
    unknown = set(data) - _ALLOWED_KEYS
    if unknown:
        raise CatalogError(f"unknown keys {sorted(unknown)}; allowed: {sorted(_ALLOWED_KEYS)}", instrument_id)
    kind = data.get("kind")
    if kind not in INSTRUMENT_KINDS:
        raise CatalogError(f"kind must be one of {INSTRUMENT_KINDS}", instrument_id)
    tiers_raw = data.get("tiers", [])
    tiers = tiers_with_cum(
        (float(t["floor"]), float(t["cap"]), float(t["mmr"]), float(t.get("max_leverage", 1)))
        for t in tiers_raw
    )
    instrument = Instrument(
        id=instrument_id,
        kind=kind,
        base=str(data["base"]),
        quote=str(data.get("quote", "USD")),
        contract_size=float(data.get("contract_size", 1.0)),
        contract_value=float(data.get("contract_value", 0.0)),
        lot_step=float(data.get("lot_step", 1.0)),
        min_quantity=float(data.get("min_quantity", 0.0)),
        settle=str(data.get("settle", data.get("quote", "USD"))),
        expiry_ms=None if data.get("expiry_ms") is None else int(data["expiry_ms"]),
        funding_interval_hours=(
            None if data.get("funding_interval_hours") is None
            else float(data["funding_interval_hours"])
        ),
        taker_fee=float(data.get("taker_fee", 0.0005)),
        maker_fee=float(data.get("maker_fee", 0.0002)),
        tiers=tiers,
        note=str(data.get("note", "")),
        funding_accrual=_funding_accrual(data.get("funding_accrual", "settlement"), instrument_id),
    )
    if instrument.kind == "linear" and instrument.contract_size <= 0:
        raise CatalogError("a linear contract needs contract_size > 0", instrument_id)
    if instrument.kind == "inverse" and instrument.contract_value <= 0:
        raise CatalogError("an inverse contract needs contract_value > 0", instrument_id)
    if instrument.lot_step <= 0:
        raise CatalogError("lot_step must be > 0", instrument_id)
    return instrument


def _funding_accrual(value: object, instrument_id: str) -> FundingAccrual:
    for known in FUNDING_ACCRUALS:
        if value == known:
            return known
    raise CatalogError(f"funding_accrual must be one of {', '.join(FUNDING_ACCRUALS)}, got {value!r}",
                       instrument_id)


class Catalog:
    """A lookup of instruments by id, with per-venue symbol resolution; ``put`` adds live terms."""

    __slots__ = ("_by_id", "_standard_sizes")

    def __init__(
        self, instruments: Iterable[Instrument], standard_sizes: Mapping[str, float] | None = None
    ) -> None:
        self._by_id: dict[str, Instrument] = {i.id: i for i in instruments}
        self._standard_sizes: dict[str, float] = dict(standard_sizes or {})

    def __contains__(self, instrument_id: object) -> bool:
        return instrument_id in self._by_id

    def __len__(self) -> int:
        return len(self._by_id)

    def get(self, instrument_id: str) -> Instrument | None:
        """The instrument, or None when the catalog does not know it."""
        return self._by_id.get(instrument_id)

    def require(self, instrument_id: str) -> Instrument:
        """The instrument, or CatalogError naming the known ids of that venue."""
        instrument = self._by_id.get(instrument_id)
        if instrument is None:
            venue = instrument_id.split(":", 1)[0]
            known = sorted(i for i in self._by_id if i.startswith(venue + ":"))
            raise CatalogError(
                f"unknown instrument {instrument_id!r}; known for {venue!r}: {known or 'none'}"
            )
        return instrument

    def ids(self) -> list[str]:
        """All instrument ids, sorted."""
        return sorted(self._by_id)

    def standard_contract_size(self, asset: str) -> float:
        """The asset's standard (non-micro) contract size, e.g. 1 BTC; 1.0 when none is listed."""
        return self._standard_sizes.get(asset, 1.0)

    def copy(self) -> Catalog:
        """A catalog of the same instruments that ``put`` can change without touching this one."""
        return Catalog(self._by_id.values(), self._standard_sizes)

    def put(self, instrument: Instrument) -> bool:
        """Add or replace one instrument in place (live terms); False when it was already so.

        The catalog object is shared by a processor's books, price table and columns, so live
        terms read from hedge.instruments reach all of them at once.
        """
        if self._by_id.get(instrument.id) == instrument:
            return False
        self._by_id[instrument.id] = instrument
        return True

    def with_overrides(self, overrides: Mapping[str, Mapping[str, Any]]) -> Catalog:
        """A new catalog where each override replaces or adds one instrument (merged over the default)."""
        merged = dict(self._by_id)
        for instrument_id, data in overrides.items():
            base = merged.get(instrument_id)
            if base is not None:
                current = _instrument_as_mapping(base)
                current.update(data)
                merged[instrument_id] = instrument_from_mapping(instrument_id, current)
            else:
                merged[instrument_id] = instrument_from_mapping(instrument_id, data)
        return Catalog(merged.values(), self._standard_sizes)


def _instrument_as_mapping(instrument: Instrument) -> dict[str, Any]:
    data: dict[str, Any] = {
        "kind": instrument.kind, "base": instrument.base, "quote": instrument.quote,
        "contract_size": instrument.contract_size, "contract_value": instrument.contract_value,
        "lot_step": instrument.lot_step, "min_quantity": instrument.min_quantity,
        "settle": instrument.settle, "expiry_ms": instrument.expiry_ms,
        "funding_interval_hours": instrument.funding_interval_hours,
        "taker_fee": instrument.taker_fee, "maker_fee": instrument.maker_fee,
        "note": instrument.note, "funding_accrual": instrument.funding_accrual,
        "tiers": [
            {"floor": t.floor, "cap": t.cap, "mmr": t.mmr, "max_leverage": t.max_leverage}
            for t in instrument.tiers
        ],
    }
    return data


def load_default_catalog() -> Catalog:
    """The catalog shipped with the package (``monitor/domain/catalog.json``)."""
    text = resources.files("monitor.domain").joinpath("catalog.json").read_text(encoding="utf-8")
    raw = json.loads(text)
    return Catalog(
        (
            instrument_from_mapping(instrument_id, data)
            for instrument_id, data in raw["instruments"].items()
        ),
        {asset: float(v["standard_contract_size"]) for asset, v in raw.get("assets", {}).items()},
    )


def instrument_from_terms(event: InstrumentEvent, fallback: Instrument | None = None) -> Instrument:
    """The Instrument of live venue terms (hedge.instruments), over the shipped entry if any.

    The venue's terms win (contract size or value, lot, expiry, settle). Its tiers win too; a
    tier without the venue's ``cum`` gets the derived one (``tiers_with_cum``). Without live tiers
    the shipped entry's documented tiers stay, and none when there is no entry (then the figures
    that need tiers are unknown). Fees and the funding interval, which the terms endpoints do not
    list, stay the shipped entry's or the defaults.
    """
    if event.tiers:
        derived = tiers_with_cum((t.floor, t.cap, t.mmr, t.max_leverage) for t in event.tiers)
        tiers = tuple(
            tier if live.cum is None else MarginTier(tier.floor, tier.cap, tier.mmr,
                                                     tier.max_leverage, live.cum)
            for tier, live in zip(derived, event.tiers, strict=True))
    else:
        tiers = () if fallback is None else fallback.tiers
    perpetual_funding = 8.0 if fallback is None else fallback.funding_interval_hours
    return Instrument(
        id=event.instrument,
        kind=event.kind,
        base=event.base,
        quote=event.quote,
        contract_size=event.contract_size if event.kind != "inverse" else 1.0,
        contract_value=event.contract_value if event.kind == "inverse" else 0.0,
        lot_step=event.lot_step,
        min_quantity=event.min_quantity,
        settle=event.settle,
        expiry_ms=event.expiry_ms,
        funding_interval_hours=perpetual_funding if event.contract_type == "perpetual" else None,
        taker_fee=0.0005 if fallback is None else fallback.taker_fee,
        maker_fee=0.0002 if fallback is None else fallback.maker_fee,
        tiers=tiers,
        note=f"live terms: {event.source}",
    )


_DEFAULT: Catalog | None = None


def default_catalog() -> Catalog:
    """The shipped catalog, loaded once."""
    global _DEFAULT  # noqa: PLW0603 -- a read-only cache of package data
    if _DEFAULT is None:
        _DEFAULT = load_default_catalog()
    return _DEFAULT


__all__ = [
    "FUNDING_ACCRUALS", "INSTRUMENT_KEYS", "INSTRUMENT_KEY_TYPES", "INSTRUMENT_KINDS", "TIER_KEYS",
    "TIER_OPTIONAL_KEYS", "Catalog", "CatalogError", "FundingAccrual", "Instrument", "InstrumentKeyType",
    "InstrumentKind", "MarginTier", "default_catalog", "instrument_from_mapping", "instrument_from_terms",
    "load_default_catalog", "tiers_with_cum",
]
