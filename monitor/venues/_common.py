"""Pure helpers shared by the venue modules: strict JSON field access and position legs.

Every accessor raises ``FrameError`` with a reason naming the field (never the frame's content beyond
the offending field name), so malformed input reaches the dead-letter topic instead of escaping as
KeyError/TypeError/ValueError. Numbers may arrive as JSON numbers or as decimal strings (the
exchanges send most numbers as strings, exchange-wire-formats.md §0.3); NaN, Infinity, empty
strings, booleans and Python-only spellings such as ``1_000`` are refused where a number is required.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import orjson

from monitor.domain.events import (
    POSITION_SIDES,
    BalanceEvent,
    MarginMode,
    PositionEvent,
    PositionSide,
)
from monitor.domain.instruments import Catalog, default_catalog
from monitor.venues.base import (
    MAX_FRAME_BYTES,
    MAX_LIST_ITEMS,
    AccountContext,
    Credentials,
    FrameError,
    HttpRequest,
)

JsonObject = Mapping[str, object]

_DECIMAL = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_DIGITS = re.compile(r"\d{1,18}")
# Relative size under which the sum of hedge legs counts as flat (float noise of e.g. 0.1 + 0.2 - 0.3).
_FLAT_TOLERANCE = 1e-9


@contextmanager
def frame_errors(venue: str) -> Iterator[None]:
    """Turn any stray parsing exception inside the block into a FrameError naming the venue."""
    try:
        yield
    except FrameError:
        raise
    except (KeyError, TypeError, ValueError, IndexError, ArithmeticError, AttributeError) as exc:
        raise FrameError(f"{venue}: malformed frame ({type(exc).__name__}: {exc})") from None


def load_json(frame: str | bytes, venue: str) -> object:
    """Decode one frame or response body, refusing oversized input and invalid JSON."""
    size = len(frame) if isinstance(frame, bytes) else len(frame.encode("utf-8", "replace"))
    if size > MAX_FRAME_BYTES:
        raise FrameError(f"{venue}: frame of {size} bytes exceeds the limit of {MAX_FRAME_BYTES}")
    try:
        return orjson.loads(frame)
    except orjson.JSONDecodeError as exc:
        raise FrameError(f"{venue}: invalid JSON ({exc})") from None


def dump_json(value: object) -> str:
    """Compact JSON text of an outgoing frame."""
    return orjson.dumps(value).decode("utf-8")


def as_object(value: object, what: str) -> JsonObject:
    """``value`` as a JSON object, or FrameError."""
    if not isinstance(value, dict):
        raise FrameError(f"{what} must be a JSON object")
    return value


def as_list(value: object, what: str) -> Sequence[object]:
    """``value`` as a JSON array of at most MAX_LIST_ITEMS items, or FrameError."""
    if not isinstance(value, list):
        raise FrameError(f"{what} must be a JSON array")
    if len(value) > MAX_LIST_ITEMS:
        raise FrameError(f"{what} has {len(value)} items; at most {MAX_LIST_ITEMS} are accepted")
    return value


def objects(obj: JsonObject, key: str, what: str, *, default_empty: bool = False) -> list[JsonObject]:
    """The array ``obj[key]`` whose items are all objects; absent counts as empty if allowed."""
    if key not in obj and default_empty:
        return []
    items = as_list(required(obj, key, what), f"{what}: field {key!r}")
    return [as_object(item, f"{what}: item of {key!r}") for item in items]


def required(obj: JsonObject, key: str, what: str) -> object:
    """``obj[key]``, or FrameError when the field is missing."""
    if key not in obj:
        raise FrameError(f"{what}: missing field {key!r}")
    return obj[key]


def text(obj: JsonObject, key: str, what: str) -> str:
    """A required non-empty string field."""
    value = required(obj, key, what)
    if not isinstance(value, str) or not value:
        raise FrameError(f"{what}: field {key!r} must be a non-empty string")
    return value


def optional_text(obj: JsonObject, key: str, what: str) -> str | None:
    """A string field that may be absent or null (``""`` is returned as is)."""
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise FrameError(f"{what}: field {key!r} must be a string")
    return value


def to_number(value: object, what: str) -> float:
    """A finite float from a JSON number or a plain decimal string."""
    if isinstance(value, bool):
        raise FrameError(f"{what} must be a number, got a boolean")
    if isinstance(value, int | float):
        try:
            result = float(value)
        except OverflowError:
            raise FrameError(f"{what} is out of range") from None
    elif isinstance(value, str):
        if not _DECIMAL.fullmatch(value):
            raise FrameError(f"{what} must be a decimal number, got {value[:40]!r}")
        result = float(value)
    else:
        raise FrameError(f"{what} must be a number")
    if not math.isfinite(result):
        raise FrameError(f"{what} must be finite")
    return result


def number(obj: JsonObject, key: str, what: str) -> float:
    """A required finite number field (JSON number or decimal string)."""
    return to_number(required(obj, key, what), f"{what}: field {key!r}")


def optional_number(obj: JsonObject, key: str, what: str) -> float | None:
    """A number field where absent, null or ``""`` means "not applicable" (None)."""
    value = obj.get(key)
    if value is None or value == "":
        return None
    return to_number(value, f"{what}: field {key!r}")


def to_time_ms(value: object, what: str) -> int:
    """Epoch milliseconds from a JSON integer or a string of digits (Binance ``listenKeyExpired``)."""
    if isinstance(value, bool):
        raise FrameError(f"{what} must be epoch milliseconds, got a boolean")
    if isinstance(value, int):
        result = value
    elif isinstance(value, str) and _DIGITS.fullmatch(value):
        result = int(value)
    else:
        raise FrameError(f"{what} must be epoch milliseconds")
    if not 0 <= result < 10**16:
        raise FrameError(f"{what} is out of range for epoch milliseconds")
    return result


def time_ms(obj: JsonObject, key: str, what: str) -> int:
    """A required epoch-millisecond field."""
    return to_time_ms(required(obj, key, what), f"{what}: field {key!r}")


def optional_time_ms(obj: JsonObject, key: str, what: str) -> int | None:
    """An epoch-millisecond field where absent, null, ``""`` or 0 means "none"."""
    value = obj.get(key)
    if value is None or value == "":
        return None
    result = to_time_ms(value, f"{what}: field {key!r}")
    return result or None


def integer(obj: JsonObject, key: str, what: str) -> int:
    """A required integer field (JSON integer or a string of digits)."""
    value = required(obj, key, what)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _DIGITS.fullmatch(value):
        return int(value)
    raise FrameError(f"{what}: field {key!r} must be an integer")


def margin_mode(value: str, what: str) -> MarginMode:
    """Canonical margin mode from the venues' spellings (``cross``, ``CROSSED``, ``isolated``, ...)."""
    lowered = value.lower()
    if lowered == "isolated":
        return "isolated"
    if lowered in ("cross", "crossed"):
        return "cross"
    raise FrameError(f"{what}: unknown margin mode {value[:20]!r}")


def positive_or_none(value: float | None) -> float | None:
    """A leverage-like value, with 0 or negative (venues' "not applicable") as None."""
    return value if value is not None and value > 0 else None


def validate_symbols(symbols: Sequence[str], pattern: str, venue: str) -> tuple[str, ...]:
    """The configured symbols, checked against the venue's symbol syntax (ValueError otherwise)."""
    if isinstance(symbols, str):
        raise TypeError(f"{venue}: symbols must be a sequence of symbols, not one string")
    checked = tuple(dict.fromkeys(symbols))
    compiled = re.compile(pattern)
    for symbol in checked:
        if not isinstance(symbol, str) or not compiled.fullmatch(symbol):
            raise ValueError(f"{venue}: {symbol!r} is not a valid symbol (expected {pattern})")
    return checked


@dataclass(frozen=True, slots=True)
class Leg:
    """One position leg as the venue reports it: signed contracts, entry, margin terms."""

    quantity: float
    entry_price: float
    margin_mode: MarginMode
    isolated_margin: float | None
    leverage: float | None
    updated_ms: int = 0  # the exchange's own update time of the leg; 0 when it sends none
    risk_limit_value: float | None = None  # the cap of the leg's risk-limit tier (Bybit)
    figures: VenueFigures | None = None  # the venue's own liquidation price, margin and ADL rank


@dataclass(frozen=True, slots=True)
class VenueFigures:
    """The venue's own figures of one leg as it reported them (None: not reported, unknown)."""

    liquidation_price: float | None = None
    maintenance_margin: float | None = None
    margin_ratio: float | None = None
    adl_rank: int | None = None
    adl_rank_top: int | None = None


def venue_figures(
    *, liquidation_price: float | None = None, maintenance_margin: float | None = None,
    margin_ratio: float | None = None, adl_rank: int | None = None, adl_rank_top: int | None = None,
) -> VenueFigures | None:
    """The figures a venue reported; a liquidation price <= 0 is the venue's "none" (Binance "0",
    OKX/Bybit ""): unknown. None when nothing was reported."""
    price = liquidation_price if liquidation_price is not None and liquidation_price > 0 else None
    if adl_rank is None:
        adl_rank_top = None
    figures = VenueFigures(price, maintenance_margin, margin_ratio, adl_rank, adl_rank_top)
    return None if figures == _NO_FIGURES else figures


_NO_FIGURES = VenueFigures()


def net_figures(legs: Sequence[Leg]) -> VenueFigures | None:
    """The venue figures of several legs netted into one canonical leg: the maintenance margins
    add up (when every open leg reported one) and the highest ADL rank stands; a liquidation
    price or margin ratio of one leg says nothing of the net, so they are unknown."""
    figures = [leg.figures for leg in legs]
    if any(f is None for f in figures):
        return None
    known = [f for f in figures if f is not None]
    margins = [f.maintenance_margin for f in known]
    margin = None if None in margins else sum(m for m in margins if m is not None)
    ranks = [(f.adl_rank, f.adl_rank_top) for f in known if f.adl_rank is not None]
    rank, top = max(ranks) if ranks and len({t for _, t in ranks}) == 1 else (None, None)
    return venue_figures(maintenance_margin=margin, adl_rank=rank, adl_rank_top=top)


FLAT_CROSS = Leg(0.0, 0.0, "cross", None, None)


def net_legs(legs: Sequence[Leg], *, inverse: bool = False) -> Leg:
    """Net several venue legs that are one canonical leg into one.

    Hedge-mode long and short legs are published apart (``PositionEvent.position_side``), so this
    only meets legs the canonical key (account, instrument, position_side) cannot tell apart: OKX's
    cross and isolated positions of one instrument and side, WEEX's SEPARATED positions (one per
    opening order). ``Q = sum(q_i)``. The entry price keeps the legs' summed unrealised PnL
    (risk-definitions.md "Profit and loss"):
    linear ``sum(q_i * (P - EP_i)) = Q * (P - EP)`` gives ``EP = sum(q_i * EP_i) / Q``;
    inverse ``sum(q_i * cv * (1/EP_i - 1/P)) = Q * cv * (1/EP - 1/P)`` gives ``EP = Q / sum(q_i / EP_i)``.
    When the legs nearly offset, that EP can be <= 0 (it then carries a locked-in PnL that no single
    entry price can express): the |q|-weighted mean entry is used instead, so delta stays exact
    and the PnL of the net is approximate. ``|Q|`` below ``1e-9 * sum(|q_i|)`` is flat (Q = 0, EP = 0)
    even if both legs are open; their locked margin is then not reported.
    Margin mode: isolated only if every open leg (every leg when all are flat) is isolated; isolated
    margin: the sum over those legs, None if any is unknown. Leverage and risk limit: those of the
    largest open leg.
    """
    if not legs:
        return FLAT_CROSS
    if len(legs) == 1:
        return legs[0]
    open_legs = [leg for leg in legs if leg.quantity != 0]
    considered = open_legs or list(legs)
    mode: MarginMode = (
        "isolated" if all(leg.margin_mode == "isolated" for leg in considered) else "cross"
    )
    isolated_margin: float | None = None
    if mode == "isolated":
        margins = [leg.isolated_margin for leg in considered]
        isolated_margin = None if None in margins else sum(m for m in margins if m is not None)
    leverage = next((leg.leverage for leg in legs if leg.leverage is not None), None)
    risk_limit = next((leg.risk_limit_value for leg in legs if leg.risk_limit_value is not None), None)
    if open_legs:
        largest = max(open_legs, key=lambda leg: abs(leg.quantity))
        leverage = largest.leverage or leverage
        risk_limit = largest.risk_limit_value or risk_limit
    quantity = sum(leg.quantity for leg in open_legs)
    gross = sum(abs(leg.quantity) for leg in open_legs)
    if not open_legs or abs(quantity) <= _FLAT_TOLERANCE * gross:
        return Leg(0.0, 0.0, mode, isolated_margin, leverage, risk_limit_value=risk_limit)
    figures = open_legs[0].figures if len(open_legs) == 1 else net_figures(open_legs)
    if len(open_legs) == 1:
        entry = open_legs[0].entry_price
    elif inverse and all(leg.entry_price > 0 for leg in open_legs):
        reciprocal = sum(leg.quantity / leg.entry_price for leg in open_legs)
        entry = quantity / reciprocal if reciprocal != 0 else -1.0
    elif not inverse:
        entry = sum(leg.quantity * leg.entry_price for leg in open_legs) / quantity
    else:
        entry = -1.0  # an inverse leg without an entry price: use the |q|-weighted fallback
    if not entry > 0 or not math.isfinite(entry):
        entry = sum(abs(leg.quantity) * leg.entry_price for leg in open_legs) / gross
    return Leg(quantity, entry, mode, isolated_margin, leverage, risk_limit_value=risk_limit,
               figures=figures)


PositionKey = tuple[str, PositionSide]
"""(symbol, canonical leg) of one published position."""
Published = tuple[str, PositionSide, Leg]
"""(symbol, canonical leg, its state) as the venue publishes it."""


class PositionBook:
    """Leg state of one account's positions, published per canonical leg (one-way, long, short).

    Legs are keyed per symbol by a venue-defined leg key (Binance ``BOTH``/``LONG``/``SHORT``, Bybit
    ``positionIdx``, OKX ``posSide/mgnMode``); ``side(key)`` names the canonical leg a key belongs
    to (``PositionEvent.position_side``). Each canonical leg is its own position: a hedge-mode long
    leg is published without waiting for its short sibling, and legs of one key never net with
    those of another side. Several keys of one side (OKX cross and isolated, WEEX per-order
    positions) are netted (``net_legs``). After a snapshot, an unseen leg is flat (the venues'
    snapshots list every open position). ``clear`` (on reconnect) forgets the legs but remembers
    which (symbol, leg) pairs were last reported open, so the next snapshot can close those that
    disappeared.
    """

    __slots__ = ("_inverse", "_legs", "_loaded", "_open", "_side")

    def __init__(
        self, side: Callable[[str], PositionSide], inverse: Callable[[str], bool] | None = None
    ) -> None:
        self._side = side
        self._inverse = inverse or (lambda _symbol: False)
        self._legs: dict[str, dict[str, Leg]] = {}
        self._loaded = False
        self._open: set[PositionKey] = set()

    @property
    def loaded(self) -> bool:
        """True once a complete snapshot has been loaded since the last ``clear``."""
        return self._loaded

    def clear(self) -> None:
        """Forget every leg (before a reconnect); the set of legs reported open is kept."""
        self._legs.clear()
        self._loaded = False

    def legs(self, symbol: str) -> dict[str, Leg]:
        """A copy of the known legs of one symbol, by venue leg key."""
        return dict(self._legs.get(symbol, {}))

    def load(
        self, snapshot: Iterable[tuple[str, str, Leg]], also: Iterable[str] = ()
    ) -> list[Published]:
        """Replace all legs by a complete snapshot.

        Published: every leg the snapshot holds open; every leg reported open before that the
        snapshot no longer has (flat); and, for each symbol of ``also`` (the configured symbols)
        with no open leg, every canonical leg flat, so a position a restarted monitor cannot know
        of (held on the topic from before) is closed whichever leg it was.
        """
        legs: dict[str, dict[str, Leg]] = {}
        for symbol, key, leg in snapshot:
            _check_leg(leg)
            legs.setdefault(symbol, {})[key] = leg
        previously_open = sorted(self._open)
        self._legs = legs
        self._loaded = True
        report: dict[PositionKey, Leg] = {}
        for symbol in legs:
            for side in self._sides_of(symbol):
                leg = self._net(symbol, side)
                if leg.quantity != 0:
                    report[(symbol, side)] = leg
        for symbol, side in previously_open:
            if (symbol, side) not in report:
                report[(symbol, side)] = self._net(symbol, side)
        open_symbols = {symbol for (symbol, _), leg in report.items() if leg.quantity != 0}
        for symbol in also:
            if symbol in open_symbols:
                continue
            for side in POSITION_SIDES:
                if (symbol, side) not in report:
                    report[(symbol, side)] = self._net(symbol, side)
        return [(symbol, side, leg) for (symbol, side), leg in report.items()]

    def apply(self, updates: Sequence[tuple[str, str, Leg]]) -> list[Published]:
        """Store leg updates (each the full state of its leg); return every touched canonical leg.

        An update older than the stored leg (by the venue's update time) is not applied.
        """
        for _, _, leg in updates:
            _check_leg(leg)
        touched: dict[PositionKey, None] = {}
        for symbol, key, leg in updates:
            legs = self._legs.setdefault(symbol, {})
            touched[(symbol, self._side(key))] = None
            known = legs.get(key)
            if known is not None and 0 < leg.updated_ms < known.updated_ms:
                continue  # an older update replayed or delivered out of order: keep the newer leg
            legs[key] = leg
        return [(symbol, side, self._net(symbol, side)) for symbol, side in touched]

    def set_leverage(self, symbol: str, leverage: float) -> list[Published]:
        """Apply a leverage change to every leg of ``symbol``; each of its canonical legs."""
        legs = self._legs.get(symbol)
        if not legs:
            return []
        for key, leg in legs.items():
            legs[key] = replace(leg, leverage=leverage)
        return [(symbol, side, self._net(symbol, side)) for side in self._sides_of(symbol)]

    def annotate(
        self, symbol: str, key: str, change: Callable[[VenueFigures | None], VenueFigures | None]
    ) -> list[Published]:
        """Change the venue figures of one stored leg (e.g. an ADL rank from its own endpoint); its
        canonical leg, or nothing when the leg is not known."""
        legs = self._legs.get(symbol)
        leg = None if legs is None else legs.get(key)
        if legs is None or leg is None:
            return []
        legs[key] = replace(leg, figures=change(leg.figures))
        side = self._side(key)
        return [(symbol, side, self._net(symbol, side))]

    def refresh(self) -> list[Published]:
        """Publish every leg again after ``side`` changed its mapping (e.g. MEXC's position mode):
        the canonical legs the known legs now belong to, and, flat, those reported open before
        that no longer exist."""
        report: dict[PositionKey, Leg] = {}
        for symbol in self._legs:
            for side in self._sides_of(symbol):
                report[(symbol, side)] = self._net(symbol, side)
        stale = [key for key in sorted(self._open) if key not in report]
        flats = {(symbol, side): self._net(symbol, side) for symbol, side in stale}
        return [(symbol, side, leg) for (symbol, side), leg in {**flats, **report}.items()]

    def _sides_of(self, symbol: str) -> list[PositionSide]:
        return list(dict.fromkeys(self._side(key) for key in self._legs.get(symbol, {})))

    def _net(self, symbol: str, side: PositionSide) -> Leg:
        legs = [leg for key, leg in self._legs.get(symbol, {}).items() if self._side(key) == side]
        netted = net_legs(legs, inverse=self._inverse(symbol))
        if netted.quantity != 0:
            self._open.add((symbol, side))
        else:
            self._open.discard((symbol, side))
        return netted


def _check_leg(leg: Leg) -> None:
    """An open leg needs a positive entry price (a PositionEvent could not be built otherwise)."""
    if leg.quantity != 0 and not leg.entry_price > 0:
        raise FrameError(f"an open position leg needs an entry price > 0, got {leg.entry_price!r}")


def signed_quantity(quantity: float, side: PositionSide) -> float:
    """``quantity`` with the sign of its leg: a long leg >= 0, a short leg <= 0, one-way as sent."""
    if side == "long":
        return abs(quantity)
    if side == "short":
        return -abs(quantity)
    return quantity


def position_event(
    account: AccountContext, instrument: str, side: PositionSide, leg: Leg, ts_event_ms: int,
    ts_receive_ms: int,
) -> PositionEvent:
    """The canonical full-state position of one leg."""
    return PositionEvent(
        portfolio=account.portfolio,
        account=account.account,
        instrument=instrument,
        quantity=leg.quantity,
        entry_price=leg.entry_price,
        leverage=leg.leverage,
        margin_mode=leg.margin_mode,
        isolated_margin=leg.isolated_margin,
        ts_event_ms=ts_event_ms,
        ts_receive_ms=ts_receive_ms,
        position_side=side,
        risk_limit_value=leg.risk_limit_value,
        **_figure_fields(leg.figures if leg.quantity != 0 else None),
    )


def _figure_fields(figures: VenueFigures | None) -> dict[str, Any]:
    if figures is None:
        return {}
    return {
        "venue_liquidation_price": figures.liquidation_price,
        "venue_maintenance_margin": figures.maintenance_margin,
        "venue_margin_ratio": figures.margin_ratio,
        "adl_rank": figures.adl_rank,
        "adl_rank_top": figures.adl_rank_top,
    }


def position_events(
    account: AccountContext, venue: str, published: Iterable[Published], ts_event_ms: int,
    ts_receive_ms: int,
) -> list[PositionEvent]:
    """The canonical positions ``venue:<symbol>`` of what a ``PositionBook`` published."""
    return [
        position_event(account, f"{venue}:{symbol}", side, leg, ts_event_ms, ts_receive_ms)
        for symbol, side, leg in published
    ]


def balance_event(
    account: AccountContext, asset: str, quantity: float, ts_event_ms: int, ts_receive_ms: int,
    cross_wallet: float | None = None,
) -> BalanceEvent:
    """The canonical full balance of one asset (``cross_wallet``: its cross part, when reported)."""
    return BalanceEvent(
        portfolio=account.portfolio,
        account=account.account,
        asset=asset,
        quantity=quantity,
        ts_event_ms=ts_event_ms,
        ts_receive_ms=ts_receive_ms,
        cross_wallet=cross_wallet,
    )


def streams_for(symbols: Sequence[str], account: AccountContext | None, venue: str) -> tuple[str, ...]:
    """``market`` when symbols or an account are configured (the market stream of an account follows
    the symbols it holds), ``private`` when an account is (ValueError if neither)."""
    streams = (("market",) if symbols or account is not None else ()) + (
        ("private",) if account is not None else ())
    if not streams:
        raise ValueError(f"{venue}: configure symbols, an account, or both")
    return streams


def require_credentials(account: AccountContext | None, venue: str) -> Credentials | None:
    """The account's credentials; ValueError when an account is configured without them."""
    if account is None:
        return None
    if account.credentials is None:
        raise ValueError(
            f"{venue}: account {account.account!r} has no credentials; private streams need an API key"
        )
    return account.credentials


def market_and_private(symbols: Sequence[str], account: AccountContext | None) -> tuple[str, ...]:  # noqa: ARG001 -- the streams signature
    """``market`` always (REST quotes need it), plus ``private`` when an account is configured."""
    return ("market", "private") if account is not None else ("market",)


class VenueSession:
    """What every venue module keeps alike: its name, catalog, symbols, account and streams.

    A venue calls ``_start_session`` first in its constructor and inherits ``stream_names``, a
    ``stream_setup`` that asks for no REST call (override it when the venue needs one), ``__repr__``
    (no credentials) and the checks of a stream name, an account and credentials.
    """

    name: str
    catalog: Catalog
    _symbols: tuple[str, ...]
    _symbol_pattern: str
    _account: AccountContext | None
    _credentials: Credentials | None
    _streams: tuple[str, ...]
    needs_passphrase: ClassVar[bool]
    """Whether the venue's API keys come with a passphrase (``Credentials.passphrase``)."""
    takes_ws_api_url: ClassVar[bool]
    """Whether the venue takes a websocket-API URL (``ws_api_url``) apart from ``ws_base_url``."""
    takes_address: ClassVar[bool] = False
    """Whether an account is watched by its wallet address (``address``) instead of an API key."""

    def _start_session(
        self,
        name: str,
        symbols: Sequence[str],
        symbol_pattern: str,
        account: AccountContext | None,
        catalog: Catalog | None,
        *,
        listed_only: bool = False,
        streams: Callable[[tuple[str, ...], AccountContext | None], tuple[str, ...]] | None = None,
    ) -> None:
        """Check and keep the venue's settings; ``listed_only``: every symbol must be in the catalog.

        ``streams`` maps (symbols, account) to the stream names; default ``streams_for`` (``market``
        when symbols are configured, ``private`` when an account is).
        """
        self.name = name
        self.catalog = catalog or default_catalog()
        self._symbols = validate_symbols(symbols, symbol_pattern, name)
        self._symbol_pattern = symbol_pattern
        if listed_only:
            for symbol in self._symbols:
                self.catalog.require(f"{name}:{symbol}")
        self._account = account
        self._credentials = None if self.takes_address else require_credentials(account, name)
        self._streams = (streams_for(self._symbols, account, name) if streams is None
                         else streams(self._symbols, account))

    def __repr__(self) -> str:
        account = self._account.account if self._account else None
        return f"{type(self).__name__}(symbols={self._symbols!r}, account={account!r})"

    def stream_names(self) -> tuple[str, ...]:
        """The venue's streams (``market`` and/or ``private``)."""
        return self._streams

    @property
    def symbols(self) -> tuple[str, ...]:
        """The symbols the market stream subscribes to: configured, then followed."""
        return self._symbols

    def follow(self, symbol: str) -> bool:
        """Subscribe the market stream to a symbol the account holds (from its next connection);
        False when it already is, or the symbol is not of the venue's syntax."""
        if symbol in self._symbols or not re.fullmatch(self._symbol_pattern, symbol):
            return False
        self._symbols = (*self._symbols, symbol)
        return True

    def stream_ready(self, stream: str) -> bool:
        """A market stream waits until there is a symbol to subscribe to; other streams are ready."""
        return stream != "market" or bool(self._symbols)

    def stream_setup(self, stream: str, now_ms: int) -> HttpRequest | None:  # noqa: ARG002 -- Venue protocol
        """No REST call before connecting."""
        self._check_stream(stream)
        return None

    def _check_stream(self, stream: str) -> None:
        if stream not in self._streams:
            raise ValueError(f"{self.name}: unknown stream {stream!r}; streams: {self._streams}")

    def _require_account(self) -> AccountContext:
        if self._account is None:
            raise FrameError(f"{self.name}: account data received by a venue configured without an account")
        return self._account

    def _require_credentials(self) -> Credentials:
        if self._credentials is None:
            raise ValueError(f"{self.name}: this request needs an account with credentials")
        return self._credentials
