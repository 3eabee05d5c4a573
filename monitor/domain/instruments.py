"""Instrument catalog: contract terms and margin tiers of every instrument the monitor can price.

The default catalog ships as package data (``catalog.json``) and can be overridden or extended from
config. Contract terms follow ``risk-definitions.md`` (Contracts table); tier tables are the venues'
documented defaults and must be refreshed from the venue (Binance ``GET /fapi/v1/leverageBracket``,
Bybit ``/v5/market/risk-limit``, OKX ``/api/v5/public/position-tiers``) for production use.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Literal

from monitor.errors import HedgeMonitorError

InstrumentKind = Literal["spot", "linear", "inverse"]
INSTRUMENT_KINDS: tuple[InstrumentKind, ...] = ("spot", "linear", "inverse")


class CatalogError(HedgeMonitorError, ValueError):
    """An instrument definition is invalid or an instrument is unknown."""


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

    def tier_for(self, notional: float) -> MarginTier | None:
        """The tier whose [floor, cap) holds ``notional``; the last tier beyond its cap."""
        if not self.tiers:
            return None
        for tier in self.tiers:
            if notional < tier.cap:
                return tier
        return self.tiers[-1]


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


_ALLOWED_KEYS = {
    "kind", "base", "quote", "contract_size", "contract_value", "lot_step", "min_quantity",
    "settle", "expiry_ms", "funding_interval_hours", "taker_fee", "maker_fee",
    "tiers", "note",
}


def instrument_from_mapping(instrument_id: str, data: Mapping[str, Any]) -> Instrument:
    """Validate one catalog entry (package data or config) and build the Instrument."""
    if ":" not in instrument_id:
        raise CatalogError(f"instrument id {instrument_id!r} must be 'venue:symbol'")
    unknown = set(data) - _ALLOWED_KEYS
    if unknown:
        raise CatalogError(
            f"instrument {instrument_id}: unknown keys {sorted(unknown)}; allowed: {sorted(_ALLOWED_KEYS)}"
        )
    kind = data.get("kind")
    if kind not in INSTRUMENT_KINDS:
        raise CatalogError(f"instrument {instrument_id}: kind must be one of {INSTRUMENT_KINDS}")
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
    )
    if instrument.kind == "linear" and instrument.contract_size <= 0:
        raise CatalogError(f"instrument {instrument_id}: a linear contract needs contract_size > 0")
    if instrument.kind == "inverse" and instrument.contract_value <= 0:
        raise CatalogError(f"instrument {instrument_id}: an inverse contract needs contract_value > 0")
    if instrument.lot_step <= 0:
        raise CatalogError(f"instrument {instrument_id}: lot_step must be > 0")
    return instrument


class Catalog:
    """An immutable lookup of instruments by id, with per-venue symbol resolution."""

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
        "note": instrument.note,
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


_DEFAULT: Catalog | None = None


def default_catalog() -> Catalog:
    """The shipped catalog, loaded once."""
    global _DEFAULT  # noqa: PLW0603 -- a read-only cache of package data
    if _DEFAULT is None:
        _DEFAULT = load_default_catalog()
    return _DEFAULT


__all__ = [
    "Catalog", "CatalogError", "Instrument", "InstrumentKind", "MarginTier",
    "default_catalog", "instrument_from_mapping", "load_default_catalog", "tiers_with_cum",
]
