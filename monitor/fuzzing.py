"""Seeded frame fuzzer: mutated exchange frames through the supervisor's parse path, and the codec.

``hedge-monitor fuzz --frames 1000000 --seed 1`` (``monitor.commands.fuzz``) runs ``run_fuzz``: a
seeded mutation engine (``Mutator``, plain ``random.Random``, no hypothesis) derives frames from the
documented exchange fixtures and feeds them round-robin to every fuzz target (``TARGETS``). The
fixtures it needs ship with the package (``monitor/fuzz_corpus``, copies of the files of the same
name in ``tests/fixtures/exchanges``, where their sources are listed; a unit test keeps the two
identical), so the command runs from an installed wheel.

- ``stream``: ``Venue.parse`` of one stream, called through ``ConnectionSupervisor.read_frame``,
  the very method the supervisor's read loop calls. A ``FrameError`` becomes a dead letter with its
  reason, any other exception a dead letter ``internal: <ExceptionType>`` (a *crash*: a parser
  must only ever raise ``FrameError``);
- ``resync``: ``Venue.parse_resync`` of one request purpose (and keepalive responses, which the
  supervisor hands to ``parse_resync`` too), through ``ConnectionSupervisor.read_response``;
- ``setup``: ``Venue.connect_plan`` reading a listenKey response. The supervisor does this inline
  in ``_connect_once`` (not a separate method), so that path is mirrored here: ``FrameError`` is a
  dead letter, anything else a crash;
- ``decode``: ``monitor.codec.decode`` of a topic value, mirroring the processor's
  ``_apply_prices``/``_apply_positions``: ``DecodeError`` is a dead letter, anything else a crash.

Mutations (``MUTATION_KINDS``): a field deleted, a value replaced by one of another JSON type,
huge numbers (``1e308``, ``10**400`` as text and as a bare token), ``NaN``/``Infinity`` strings and
bare tokens, empty values, edge values (negative, zero, subnormal, over-long identifiers, Unicode
digits), a value spliced in from another seed, stacked mutations, truncation at a random byte,
random bytes, frames over ``MAX_FRAME_BYTES`` (valid JSON padded with spaces), lists over
``MAX_LIST_ITEMS``, and gzip garbage (bad members, truncated members, a decompression bomb).
BingX and MEXC frames are also sent gzip-compressed, as those exchanges do.

Every event a venue or the codec produces is checked by ``event_problem``: one of the four
canonical event types, its ``__post_init__`` validation passes when it is rebuilt, every number is
finite and it survives the topic contract (``decode(encode_event(e)) == e``).
"""

from __future__ import annotations

import asyncio
import faulthandler
import gzip
import logging
import math
import random
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Final, Literal

import orjson

from monitor.codec import MAX_VALUE_BYTES, DecodeError, decode, encode_event
from monitor.domain.events import (
    AccountMarginEvent,
    AccountModeEvent,
    BalanceEvent,
    Event,
    EventError,
    FillEvent,
    PositionEvent,
    PriceEvent,
)
from monitor.domain.instruments import Catalog, default_catalog
from monitor.ingest.http import HttpResponse, IngestError
from monitor.ingest.supervisor import ConnectionSupervisor, DeadLetter
from monitor.secrets import Secret
from monitor.venues.base import (
    MAX_FRAME_BYTES,
    MAX_LIST_ITEMS,
    AccountContext,
    Credentials,
    FrameError,
    HttpRequest,
    Venue,
)
from monitor.venues.registry import build_venue
from monitor.venues.static import StaticHoldings
from monitor.venues.weex import WeexFutures

TargetKind = Literal["stream", "setup", "resync", "decode"]
Frame = str | bytes
Loader = Callable[[str], Any]
SeedSource = Callable[[Loader], object]

RECEIVE_MS_BASE: Final = 1_700_000_000_000
# A venue is reset (as on a reconnect) and its resync requests rebuilt every this many of its frames.
RESET_EVERY: Final = 5_000
GZIP_VENUES: Final = frozenset({"bingx", "mexc"})
MUTATION_KINDS: Final = (
    "original", "delete", "wrong_type", "huge_number", "non_finite", "empty_value", "edge_value",
    "splice", "hedge_pair", "stacked", "truncate", "random_bytes", "oversize", "long_list",
    "gzip_garbage",
)
# Relative frequency of each mutation kind in the full run (oversized frames are 1 MiB: rare).
MUTATION_WEIGHTS: Final[Mapping[str, float]] = {
    "original": 6, "delete": 14, "wrong_type": 14, "huge_number": 8, "non_finite": 8,
    "empty_value": 6, "edge_value": 8, "splice": 8, "hedge_pair": 6, "stacked": 14, "truncate": 8,
    "random_bytes": 3,
    "oversize": 0.1, "long_list": 0.5, "gzip_garbage": 3,
}
_STRUCTURAL: Final = frozenset({
    "delete", "wrong_type", "huge_number", "non_finite", "empty_value", "edge_value", "splice",
})
_BARE_MARKER: Final = "@@fuzz-bare-token@@"
_BARE_MARKER_JSON: Final = b'"' + _BARE_MARKER.encode() + b'"'
_HUGE_DIGITS: Final = "1" + "0" * 400

# Replacement pools. A ``Bare`` value is written into the JSON text as a bare token (not a string).


@dataclass(frozen=True, slots=True)
class Bare:
    """A token written unquoted into the frame text, e.g. ``NaN`` or a 401-digit integer."""

    token: str


@dataclass(frozen=True, slots=True)
class Raw:
    """A seed that is not JSON: a text frame such as OKX's ``pong`` or BingX's ``Ping``."""

    text: str


_TYPE_EXAMPLES: Final[Mapping[str, tuple[object, ...]]] = {
    "str": ("x", "BTCUSDT", "1.5", "LONG", "true"),
    "number": (0, 1, -3, 1.5, 1_700_000_000_000),
    "bool": (True, False),
    "null": (None,),
    "list": ([], [1], ["a"], [{}], [None]),
    "object": ({}, {"a": 1}, {"s": "BTCUSDT"}),
}
_HUGE: Final[tuple[object, ...]] = (
    1e308, -1e308, 1.7976931348623157e308, "1e308", "-1e308", "1.7976931348623157e308",
    _HUGE_DIGITS, "-" + _HUGE_DIGITS, Bare(_HUGE_DIGITS), Bare("1e400"), Bare("-1e400"),
    9_223_372_036_854_775_807, 18_446_744_073_709_551_615, Bare("18446744073709551616"),
    -9_223_372_036_854_775_808, "99999999999999999999",
)
_NON_FINITE: Final[tuple[object, ...]] = (
    "NaN", "Infinity", "-Infinity", "nan", "inf", "-inf", "+Infinity", "infinity",
    Bare("NaN"), Bare("Infinity"), Bare("-Infinity"),
)
_EMPTY: Final[tuple[object, ...]] = ("", " ", [], {}, None)
_EDGE: Final[tuple[object, ...]] = (
    0, -0.0, -1, "-1", "0", "-0", 1e-320, "1e-320", "0x1A", "1_000", " 1", "1 ", "+1", ".5", "5.",
    "1e5", "\u0661\u0662\u0663", "A" * 300, "\u20ac", "\u0000", "x" * 5000, 10**16, "10000000000000000",
    -5, "CROSSED", "isolated", "BOTH", "LONG", "SHORT", "Buy", "Sell", "snapshot", "delta", 2, 3,
    "long", "short", "net", "inverse", "linear",
)
_ZERO: Final[tuple[object, ...]] = (0, 0.0, "0", "0.0", "-0", "0E-8", 1e-320, "1e-320")
# The other side of a hedge-mode leg, as the venues spell sides (and Bybit/MEXC number them).
_OPPOSITE_SIDE: Final[Mapping[object, object]] = {
    "long": "short", "short": "long", "LONG": "SHORT", "SHORT": "LONG", "Buy": "Sell", "Sell": "Buy",
}
_SIDE_NUMBER_KEYS: Final = frozenset({"positionIdx", "positionType", "side"})


@dataclass(frozen=True, slots=True)
class Seed:
    """One unmutated frame: a decoded fixture document (or ``Raw`` text) and where it came from."""

    origin: str
    document: object


@dataclass(frozen=True, slots=True)
class Mutation:
    """One generated frame and the mutation kind that made it."""

    kind: str
    frame: Frame


# --- the mutation engine -------------------------------------------------------------------------


def json_paths(value: object, prefix: tuple[object, ...] = ()) -> Iterator[tuple[object, ...]]:
    """Every key/index path inside a JSON value, parents before children."""
    if isinstance(value, dict):
        for key, child in value.items():
            yield (*prefix, key)
            yield from json_paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield (*prefix, index)
            yield from json_paths(child, (*prefix, index))


def value_at(document: object, path: Sequence[object]) -> object:
    """The value at ``path`` (KeyError/IndexError if it does not exist)."""
    for step in path:
        if isinstance(document, list) and isinstance(step, int):
            document = document[step]
            continue
        if not isinstance(document, dict):
            raise KeyError(step)
        document = document[step]
    return document


def with_value(document: object, path: Sequence[object], value: object, *, delete: bool = False) -> object:
    """A copy of ``document`` with the value at ``path`` replaced (or deleted); shares the rest."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(document, dict) and head in document:
        copy = dict(document)
        if delete and not rest:
            del copy[head]
        else:
            copy[head] = with_value(document[head], rest, value, delete=delete)
        return copy
    if isinstance(document, list) and isinstance(head, int) and 0 <= head < len(document):
        items = list(document)
        if delete and not rest:
            del items[head]
        else:
            items[head] = with_value(document[head], rest, value, delete=delete)
        return items
    return document


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "str"
    if isinstance(value, list):
        return "list"
    return "object"


def serialise(document: object) -> bytes:
    """The JSON text of a (possibly mutated) document, bare tokens written unquoted."""
    bare: list[str] = []

    def default(value: object) -> object:
        if isinstance(value, Bare):
            bare.append(value.token)
            return _BARE_MARKER
        raise TypeError(type(value).__name__)

    text = orjson.dumps(document, default=default)
    for token in bare:
        text = text.replace(_BARE_MARKER_JSON, token.encode(), 1)
    return text


def gzip_bomb() -> bytes:
    """A small gzip member that inflates to twice ``MAX_FRAME_BYTES`` of valid JSON."""
    return gzip.compress(b'{"e":"x"}' + b" " * (2 * MAX_FRAME_BYTES), compresslevel=9, mtime=0)


class Mutator:
    """Derives frames from seeds with a seeded ``random.Random`` (hypothesis passes its own)."""

    def __init__(self, rng: random.Random, *, gzip_frames: bool = False) -> None:
        self.rng = rng
        self.gzip_frames = gzip_frames
        self._bomb: bytes | None = None

    def frame(
        self,
        seeds: Sequence[Seed],
        kind: str | None = None,
        *,
        as_bytes: bool | None = None,
        donors: Sequence[Seed] = (),
    ) -> Mutation:
        """One frame from a random seed: ``kind`` (random by ``MUTATION_WEIGHTS`` if None);
        ``donors`` (default: ``seeds``) are the seeds whose values a splice may copy."""
        rng = self.rng
        if kind is None:
            kind = rng.choices(list(MUTATION_WEIGHTS), weights=list(MUTATION_WEIGHTS.values()))[0]
        seed = rng.choice(seeds)
        data = self._bytes(seed, donors or seeds, kind)
        if as_bytes is None:
            as_bytes = rng.random() < 0.5
        if self.gzip_frames and kind not in ("oversize", "gzip_garbage") and rng.random() < 0.5:
            data = gzip.compress(data, mtime=0)
            as_bytes = True
        frame: Frame = data if as_bytes else data.decode("utf-8", "replace")
        return Mutation(kind, frame)

    def _bytes(self, seed: Seed, donors: Sequence[Seed], kind: str) -> bytes:
        rng = self.rng
        document = seed.document
        if kind == "random_bytes":
            return rng.randbytes(rng.randint(0, 300))
        if kind == "gzip_garbage":
            return self._gzip_garbage(document)
        if kind == "oversize":
            text = _text_of(document)
            return text + b" " * (MAX_FRAME_BYTES - len(text) + 1 + rng.randint(0, 64))
        if kind == "truncate":
            text = _text_of(document)
            return text[: rng.randint(0, max(0, len(text) - 1))]
        if isinstance(document, Raw):
            return document.text.encode()
        if kind == "original":
            return serialise(document)
        if kind == "long_list":
            return serialise(self.long_list(document))
        if kind == "hedge_pair":
            return serialise(self.hedge_pair(document, donors))
        if kind == "stacked":
            for _ in range(rng.randint(2, 4)):
                document = self.structural(document, rng.choice(sorted(_STRUCTURAL)), donors)
            return serialise(document)
        return serialise(self.structural(document, kind, donors))

    def structural(self, document: object, kind: str, seeds: Sequence[Seed]) -> object:
        """``document`` with one value deleted or replaced according to ``kind``."""
        rng = self.rng
        paths = list(json_paths(document))
        if not paths:
            return self._replacement(document, kind, seeds)
        path = rng.choice(paths)
        if kind == "delete":
            return with_value(document, path, None, delete=True)
        return with_value(document, path, self._replacement(value_at(document, path), kind, seeds))

    def _replacement(self, original: object, kind: str, seeds: Sequence[Seed]) -> object:
        rng = self.rng
        if kind == "wrong_type":
            own = _json_type(original)
            return rng.choice(_TYPE_EXAMPLES[rng.choice([t for t in _TYPE_EXAMPLES if t != own])])
        if kind == "huge_number":
            return rng.choice(_HUGE)
        if kind == "non_finite":
            return rng.choice(_NON_FINITE)
        if kind == "empty_value":
            return rng.choice(_EMPTY)
        if kind == "splice":
            donor = rng.choice(seeds).document
            if isinstance(donor, Raw):
                return donor.text
            donor_paths = list(json_paths(donor))
            return value_at(donor, rng.choice(donor_paths)) if donor_paths else donor
        return rng.choice(_EDGE)

    def hedge_pair(self, document: object, seeds: Sequence[Seed]) -> object:
        """``document`` with an object of one of its lists copied as the other hedge-mode leg (its
        side flipped), the copy mutated once, often with a number set to zero: the netting of
        two legs is where the venues compute (``_common.net_legs``)."""
        rng = self.rng
        candidates = [path for path in ((), *json_paths(document)) if _has_objects(value_at(document, path))]
        if not candidates:
            return self.structural(document, "edge_value", seeds)
        path = rng.choice(candidates)
        items = value_at(document, path)
        assert isinstance(items, list)  # noqa: S101 -- _has_objects checked it
        twin: object = _flip_side(rng.choice([item for item in items if isinstance(item, dict)]))
        # a leg of another size (equal legs would net flat), then one number zeroed or one mutation
        twin = _scaled(twin, rng.choice((2.0, 0.5, 3.0)))
        numeric = [leaf for leaf in json_paths(twin) if _is_number_like(value_at(twin, leaf))]
        if numeric and rng.random() < 0.6:
            twin = with_value(twin, rng.choice(numeric), rng.choice(_ZERO))
        else:
            twin = self.structural(twin, rng.choice(sorted(_STRUCTURAL)), seeds)
        return with_value(document, path, [*items, twin])

    def long_list(self, document: object) -> object:
        """``document`` with one of its lists (or itself) made ``MAX_LIST_ITEMS + 1`` long."""
        rng = self.rng
        lists = [path for path in json_paths(document) if isinstance(value_at(document, path), list)]
        path: tuple[object, ...] = rng.choice(lists) if lists else ()
        current = value_at(document, path)
        item: object = current[0] if isinstance(current, list) and current else {}
        if len(serialise(item)) * (MAX_LIST_ITEMS + 1) > MAX_FRAME_BYTES // 2:
            item = {}
        return with_value(document, path, [item] * (MAX_LIST_ITEMS + 1))

    def _gzip_garbage(self, document: object) -> bytes:
        rng = self.rng
        choice = rng.randint(0, 4)
        if choice == 0:
            return b"\x1f\x8b" + rng.randbytes(rng.randint(0, 200))
        member = gzip.compress(_text_of(document), mtime=0)
        if choice == 1:
            return member[: rng.randint(2, max(2, len(member) - 1))]
        if choice == 2:
            flipped = bytearray(member)
            position = rng.randrange(10, len(flipped)) if len(flipped) > 10 else 2
            flipped[position] ^= 1 + rng.randrange(255)
            return bytes(flipped)
        if choice == 3:
            return member + rng.randbytes(rng.randint(1, 50))
        if self._bomb is None:
            self._bomb = gzip_bomb()
        return self._bomb


def _has_objects(value: object) -> bool:
    return isinstance(value, list) and any(isinstance(item, dict) for item in value)


def _is_number_like(value: object) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    return isinstance(value, str) and value.strip().lstrip("+-").replace(".", "", 1).isdigit()


def _scaled(value: object, factor: float) -> object:
    """``value`` with every number (and decimal string) multiplied by ``factor``."""
    if isinstance(value, dict):
        return {key: _scaled(child, factor) for key, child in value.items()}
    if isinstance(value, list):
        return [_scaled(child, factor) for child in value]
    if isinstance(value, bool) or not _is_number_like(value):
        return value
    if isinstance(value, int | float):
        return value * factor
    assert isinstance(value, str)  # noqa: S101 -- _is_number_like: a number or a decimal string
    return repr(float(value) * factor)


def _flip_side(item: dict[str, Any]) -> dict[str, Any]:
    """A copy of a position-like object with its side (long/short, Buy/Sell, 1/2) reversed."""
    flipped: dict[str, Any] = {}
    for key, value in item.items():
        if isinstance(value, str) and value in _OPPOSITE_SIDE:
            flipped[key] = _OPPOSITE_SIDE[value]
        elif key in _SIDE_NUMBER_KEYS and value in (1, 2) and not isinstance(value, bool):
            flipped[key] = 3 - value
        else:
            flipped[key] = value
    return flipped


def _text_of(document: object) -> bytes:
    return document.text.encode() if isinstance(document, Raw) else serialise(document)


# --- canonical event checks ----------------------------------------------------------------------

_EVENT_TYPES: Final = (
    PriceEvent, PositionEvent, BalanceEvent, FillEvent, AccountModeEvent, AccountMarginEvent)


def event_problem(event: object) -> str | None:
    """None if ``event`` is a valid canonical event, else what is wrong with it."""
    if not isinstance(event, _EVENT_TYPES):
        return f"not a canonical event: {type(event).__name__}"
    for name in type(event).__slots__:
        value = getattr(event, name)
        if isinstance(value, float) and not math.isfinite(value):
            return f"{type(event).__name__}.{name} is not finite"
    try:
        rebuilt = replace(event)  # runs __post_init__ validation again
    except EventError as exc:
        return f"{type(event).__name__} fails validation: {exc}"
    try:
        decoded = decode(encode_event(rebuilt))
    except DecodeError as exc:
        return f"{type(event).__name__} does not survive the topic contract: {exc.reason}"
    if decoded != event:
        return f"{type(event).__name__} changes through the topic contract"
    return None


# --- fuzz targets ----------------------------------------------------------------------------------


def _fixture(name: str) -> SeedSource:
    return lambda load: load(name)


def _inline(document: object) -> SeedSource:
    return lambda _load: document


def _reshaped(name: str, shape: Callable[[Any], object]) -> SeedSource:
    return lambda load: shape(load(name))


def _rename(rows: list[dict[str, Any]], names: Mapping[str, str]) -> list[dict[str, Any]]:
    return [{names.get(key, key): value for key, value in row.items()} for row in rows]


@dataclass(frozen=True, slots=True)
class TargetSpec:
    """One parser entry point and the seeds its frames are derived from."""

    variant: str
    kind: TargetKind
    name: str
    seeds: tuple[SeedSource, ...]

    @property
    def label(self) -> str:
        """``variant/kind:name``, e.g. ``okx/stream:private``."""
        return f"{self.variant}/{self.kind}:{self.name}"


# Symbols each fuzzed venue is configured with (the fixtures' symbols, where the syntax allows).
VENUE_SYMBOLS: Final[Mapping[str, tuple[str, ...]]] = {
    "binance": ("BTCUSDT", "ETHUSDT"),
    "binance-spot": ("BTCUSDT", "ETHUSDT", "BNBUSDT"),
    "bybit": ("BTCUSDT", "ETHUSDT", "BTC-26DEC25"),
    "okx": ("BTC-USDT-SWAP", "BTC-USD-SWAP", "ETH-USDT-SWAP", "BTC-USDT", "LTC-USD-190628"),
    "bingx": ("BTC-USDT", "ETH-USDT"),
    "mexc": ("BTC_USDT", "ETH_USDT"),
    "weex": ("BTCUSDT", "ETHUSDT"),
    "weex-v2": ("BTCUSDT", "ETHUSDT"),
    "binance-coinm": ("BTCUSD_PERP", "BTCUSD_201225", "BTCUSD_200925"),
    "deribit": ("BTC-PERPETUAL", "ETH-PERPETUAL"),
    "hyperliquid": ("BTC", "ETH"),
}

_OKX_INDEX = {"arg": {"channel": "index-tickers", "instId": "BTC-USDT"}, "data": [
    {"instId": "BTC-USDT", "idxPx": "43350", "high24h": "43649.7", "sodUtc0": "43444.1",
     "open24h": "43640.8", "low24h": "43261.9", "sodUtc8": "43328.7", "ts": "1649419644492"},
]}
_BYBIT_ACCOUNT_INFO = {"retCode": 0, "retMsg": "OK", "result": {
    "marginMode": "REGULAR_MARGIN", "unifiedMarginStatus": 4, "updatedTime": "1697078946000"}}

_BINANCE_USDM = "binance_usdm_"
_WEEX_STREAM_MARKET = (
    "weex_v3_ws_ticker_push.json", "weex_v3_ws_ping.json", "weex_v3_ws_pong_reply.json",
    "weex_v3_ws_subscribe_ack.json", "weex_v3_ws_subscribe_error.json", "weex_v2_ws_ticker_push.json",
    "weex_v2_ws_ping.json", "weex_v2_ws_pong.json",
)
_WEEX_STREAM_PRIVATE = (
    "weex_v3_ws_positions_push.json", "weex_v3_ws_account_push.json", "weex_v2_ws_positions_push.json",
    "weex_v2_ws_account_push.json", "weex_v2_ws_subscribe_ack.json",
)


def _weex_targets(variant: str) -> tuple[TargetSpec, ...]:
    return (
        TargetSpec(variant, "stream", "market", tuple(map(_fixture, _WEEX_STREAM_MARKET))),
        TargetSpec(variant, "stream", "private", tuple(map(_fixture, _WEEX_STREAM_PRIVATE))),
        TargetSpec(variant, "resync", "positions", (_fixture("weex_v3_rest_all_positions_response.json"),)),
        TargetSpec(variant, "resync", "balances", (_fixture("weex_v3_rest_balance_response.json"),)),
        TargetSpec(variant, "resync", "premiumIndex",
                   (_fixture("weex_v3_rest_premium_index_response.json"),)),
    )


TARGETS: Final[tuple[TargetSpec, ...]] = (
    TargetSpec("binance", "stream", "market", tuple(_fixture(_BINANCE_USDM + name) for name in (
        "markPrice.json", "markPrice_arr.json", "markPrice_combined.json", "bookTicker.json"))),
    TargetSpec("binance", "stream", "private", tuple(_fixture(_BINANCE_USDM + name) for name in (
        "ACCOUNT_UPDATE.json", "ACCOUNT_UPDATE_closed_thirdparty_capture.json",
        "ACCOUNT_UPDATE_deposit_emptyP_thirdparty_capture.json",
        "ACCOUNT_UPDATE_open_thirdparty_capture.json", "MARGIN_CALL.json", "ORDER_TRADE_UPDATE.json",
        "listenKeyExpired.json"))),
    TargetSpec("binance", "setup", "private", (
        _reshaped("binance_usdm_listenKeyExpired.json", lambda d: {"listenKey": d["listenKey"]}),)),
    TargetSpec("binance", "resync", "positions", (
        _fixture("binance_usdm_positionRisk_v2_hedge.json"),
        _fixture("binance_usdm_positionRisk_v2_oneway.json"))),
    TargetSpec("binance", "resync", "balances", (_reshaped(
        "binance_usdm_ACCOUNT_UPDATE.json",
        lambda d: {"assets": _rename(d["a"]["B"], {"a": "asset", "wb": "walletBalance"})}),)),
    TargetSpec("binance", "resync", "account-mode", (
        _fixture("binance_usdm_multiAssetsMargin.json"),)),
    TargetSpec("binance", "resync", "adl", (_fixture("binance_usdm_adlQuantile.json"),)),
    # the PUT listenKey keepalive response, handed to parse_resync by the supervisor
    TargetSpec("binance", "resync", "listenKey", (_inline({}),)),
    TargetSpec("binance-spot", "stream", "market", tuple(_fixture("binance_spot_" + name) for name in (
        "bookTicker.json", "24hrTicker.json", "trade.json"))),
    TargetSpec("binance-spot", "stream", "private", tuple(_fixture("binance_spot_" + name) for name in (
        "balanceUpdate_legacy.json", "balanceUpdate_wsapi.json", "outboundAccountPosition_legacy.json",
        "outboundAccountPosition_wsapi.json", "eventStreamTerminated.json"))),
    TargetSpec("binance-spot", "resync", "balances", (_reshaped(
        "binance_spot_outboundAccountPosition_legacy.json",
        lambda d: {"updateTime": d["u"],
                   "balances": _rename(d["B"], {"a": "asset", "f": "free", "l": "locked"})}),)),
    TargetSpec("bybit", "stream", "market", tuple(_fixture("bybit_" + name) for name in (
        "linear_ticker_snapshot.json", "linear_ticker_delta_thirdparty_capture.json",
        "linear_ticker_snapshot_2023.json", "linear_futures_ticker_snapshot.json", "pong_linear.json",
        "subscribe_ack_linear.json"))),
    TargetSpec("bybit", "stream", "private", tuple(_fixture("bybit_" + name) for name in (
        "auth_success.json", "pong_private.json", "position.json", "subscribe_ack_private.json",
        "wallet.json", "execution.json"))),
    TargetSpec("bybit", "resync", "account-info", (_inline(_BYBIT_ACCOUNT_INFO),)),
    *(
        TargetSpec("bybit", "resync", purpose, (_reshaped(
            "bybit_position.json",
            lambda d: {"retCode": 0, "retMsg": "OK", "result": {
                "category": "linear", "list": _rename(d["data"], {"entryPrice": "avgPrice"})}}),))
        for purpose in ("positions-linear-USDT", "positions-linear-USDC", "positions-inverse")
    ),
    TargetSpec("bybit", "resync", "balances", (_reshaped(
        "bybit_wallet.json", lambda d: {"retCode": 0, "retMsg": "OK", "result": {"list": d["data"]}}),)),
    TargetSpec("okx", "stream", "market", (
        _fixture("okx_mark_price.json"), _fixture("okx_funding_rate.json"), _inline(_OKX_INDEX),
        _fixture("okx_subscribe_ack.json"), _fixture("okx_subscribe_error.json"),
        _fixture("okx_channel_conn_count_error.json"), _inline(Raw("pong")))),
    TargetSpec("okx", "stream", "private", tuple(_fixture("okx_" + name) for name in (
        "login_success.json", "login_error.json", "positions_snapshot.json", "account_snapshot.json",
        "balance_and_position.json", "orders_push.json"))),
    TargetSpec("okx", "resync", "positions", (_reshaped(
        "okx_positions_snapshot.json", lambda d: {"code": "0", "msg": "", "data": d["data"]}),)),
    TargetSpec("okx", "resync", "balances", (_reshaped(
        "okx_account_snapshot.json", lambda d: {"code": "0", "msg": "", "data": d["data"]}),)),
    TargetSpec("okx", "resync", "account-config", (
        _inline({"code": "0", "msg": "", "data": [{"acctLv": "3", "posMode": "net_mode"}]}),)),
    TargetSpec("bingx", "stream", "market", (
        _fixture("bingx_ws_markprice_push.json"), _fixture("bingx_ws_ticker_push.json"),
        _fixture("bingx_ws_subscribe_ack.json"), _fixture("bingx_ws_error.json"),
        _inline(Raw("Ping")), _inline({"ping": "2177c68e4d0e45679965f482929b59c2", "time": "1"}))),
    TargetSpec("bingx", "stream", "private", tuple(_fixture("bingx_ws_" + name) for name in (
        "account_update.json", "account_update_withdraw_no_positions.json",
        "account_config_update.json", "snapshot_config_observed.json", "listenkey_expired.json",
        "order_trade_update.json", "order_trade_update_string_id.json"))),
    TargetSpec("bingx", "setup", "private", (_fixture("bingx_rest_listenkey_response.json"),)),
    TargetSpec("bingx", "resync", "positions", (_fixture("bingx_rest_positions_response.json"),)),
    TargetSpec("bingx", "resync", "balances", (_fixture("bingx_rest_balance_v3_response.json"),)),
    TargetSpec("bingx", "resync", "premiumIndex", (_fixture("bingx_rest_premium_index_response.json"),)),
    TargetSpec("bingx", "resync", "listenKey", (_fixture("bingx_rest_listenkey_response.json"),)),
    TargetSpec("mexc", "stream", "market", tuple(_fixture("mexc_ws_" + name) for name in (
        "fair_price_push.json", "index_price_push.json", "funding_rate_push.json",
        "funding_rate_push_observed.json", "ticker_push.json", "pong_response.json"))),
    TargetSpec("mexc", "stream", "private", tuple(_fixture("mexc_ws_" + name) for name in (
        "login_response.json", "asset_push.json", "asset_push_newdoc.json", "position_push_open.json",
        "position_push_closed.json", "position_mode_push.json", "risk_limit_push.json",
        "liquidate_risk_push.json"))),
    TargetSpec("mexc", "resync", "positions", (_fixture("mexc_rest_open_positions_response.json"),)),
    TargetSpec("mexc", "resync", "balances", (_fixture("mexc_rest_asset_usdt_response.json"),)),
    TargetSpec("mexc", "resync", "fundingRate", (_fixture("mexc_rest_funding_rate_response.json"),)),
    *_weex_targets("weex"),
    *_weex_targets("weex-v2"),
    TargetSpec("binance-coinm", "stream", "market", tuple(_fixture("binance_coinm_" + name) for name in (
        "markPrice_delivery.json", "markPrice_pair.json"))),
    TargetSpec("binance-coinm", "stream", "private", (_fixture("binance_coinm_ACCOUNT_UPDATE.json"),)),
    TargetSpec("binance-coinm", "resync", "positions", (_fixture("binance_coinm_positionRisk.json"),)),
    TargetSpec("binance-coinm", "resync", "balances", (_fixture("binance_coinm_account.json"),)),
    TargetSpec("binance-coinm", "resync", "listenKey", (_inline({}),)),
    TargetSpec("binance-coinm", "setup", "private", (_reshaped(
        "binance_usdm_listenKeyExpired.json", lambda d: {"listenKey": d["listenKey"]}),)),
    TargetSpec("deribit", "stream", "market", tuple(_fixture("deribit_" + name) for name in (
        "ticker_notification.json", "heartbeat_test_request.json", "set_heartbeat_response.json",
        "subscribe_response.json"))),
    TargetSpec("deribit", "stream", "private", tuple(_fixture("deribit_" + name) for name in (
        "user_changes_notification.json", "user_portfolio_notification.json", "auth_response.json",
        "auth_error.json", "heartbeat_test_request.json"))),
    *(
        TargetSpec("deribit", "resync", f"positions-{currency}",
                   (_fixture("deribit_get_positions_response.json"),))
        for currency in ("BTC", "ETH")
    ),
    *(
        TargetSpec("deribit", "resync", f"balances-{currency}",
                   (_fixture("deribit_get_account_summary_response.json"),))
        for currency in ("BTC", "ETH")
    ),
    TargetSpec("hyperliquid", "stream", "market", tuple(_fixture("hyperliquid_ws_" + name) for name in (
        "activeAssetCtx.json", "pong.json", "subscriptionResponse.json"))),
    TargetSpec("hyperliquid", "stream", "private", tuple(_fixture("hyperliquid_ws_" + name) for name in (
        "webData2.json", "clearinghouseState.json", "userFills.json", "pong.json"))),
    TargetSpec("hyperliquid", "resync", "clearinghouseState", (
        _fixture("hyperliquid_info_clearinghouseState.json"),
        _fixture("hyperliquid_info_clearinghouseState_sdk_capture.json"))),
    TargetSpec("static", "stream", "none", (_fixture("binance_usdm_markPrice.json"),)),
)
CODEC_TARGET: Final = TargetSpec("codec", "decode", "topic value", ())
# Targets that refuse or discard their input without reading it, so no input limit applies:
# static holdings receive no frames; a BingX listenKey keepalive response carries nothing used.
VARIANTS: Final = tuple(dict.fromkeys(target.variant for target in (*TARGETS, CODEC_TARGET)))
UNREAD_TARGETS: Final = frozenset({"static/stream:none", "bingx/resync:listenKey"})


def fuzz_account() -> AccountContext:
    """The account every fuzzed venue is configured with (placeholder credentials)."""
    return AccountContext(
        account="fuzz-account",
        portfolio="fuzz-portfolio",
        credentials=Credentials(
            api_key=Secret("fuzz-api-key"),
            api_secret=Secret("fuzz-api-secret"),
            passphrase=Secret("fuzz-passphrase"),
        ),
        address="0x" + "0" * 40,
    )


def build_fuzz_venue(variant: str, catalog: Catalog | None = None) -> Venue:
    """A venue of ``variant`` with the fuzz symbols and account (``static``: no holdings)."""
    catalog = catalog or default_catalog()
    if variant == "static":
        return StaticHoldings(())
    if variant == "weex-v2":
        return WeexFutures(symbols=VENUE_SYMBOLS[variant], account=fuzz_account(), catalog=catalog,
                           api_version="v2")
    return build_venue(variant, symbols=VENUE_SYMBOLS[variant], account=fuzz_account(), catalog=catalog)


def venue_requests(venue: Venue, now_ms: int) -> dict[str, HttpRequest]:
    """Every REST request whose response reaches ``parse_resync``: resync and keepalive requests
    (and the listenKey setup request, whose purpose a keepalive shares), by purpose."""
    requests = {request.purpose: request for request in venue.resync_requests(now_ms)}
    for stream in venue.stream_names():
        for request in (venue.keepalive_request(stream, now_ms), venue.stream_setup(stream, now_ms)):
            if request is not None:
                requests.setdefault(request.purpose, request)
    return requests


def fixture_loader(directory: Traversable) -> Loader:
    """Reads (and caches) decoded fixtures from ``directory``."""
    cache: dict[str, Any] = {}

    def load(name: str) -> Any:
        if name not in cache:
            cache[name] = orjson.loads((directory / name).read_bytes())
        return cache[name]

    return load


def resolve_seeds(target: TargetSpec, load: Loader) -> tuple[Seed, ...]:
    """The target's seed documents."""
    return tuple(Seed(target.label, source(load)) for source in target.seeds)


def codec_seeds(events: Sequence[Event]) -> tuple[Seed, ...]:
    """Seeds of the decode target: the topic values of ``events`` plus one of each event type."""
    samples: list[Event] = [
        PriceEvent("okx:BTC-USDT-SWAP", 60000.5, 60001.0, 0.0001, 1_700_003_600_000,
                   1_700_000_000_000, 1_700_000_000_005),
        PositionEvent("alice", "okx-main", "okx:BTC-USDT-SWAP", -150.0, 60000.0, 10.0, "isolated",
                      900.0, 1_700_000_000_000, 1_700_000_000_005),
        BalanceEvent("alice", "cold", "BTC", 1.5, 1_700_000_000_000, 1_700_000_000_005),
        FillEvent("alice", "okx-main", "okx:BTC-USDT-SWAP", -1.0, 60000.0, 0.3,
                  1_700_000_000_000, 1_700_000_000_005),
        *events,
    ]
    unique = {encode_event(event): event for event in samples}
    return tuple(Seed("codec", orjson.loads(value)) for value in unique)


def default_fixture_dir() -> Traversable:
    """The fixtures shipped with the package (``monitor/fuzz_corpus``): every file ``TARGETS`` reads."""
    return resources.files("monitor").joinpath("fuzz_corpus")


# --- the full-size run ---------------------------------------------------------------------------


class _NoHttp:
    """The supervisors of the fuzz run make no HTTP calls."""

    async def send(self, request: HttpRequest, timeout_s: float) -> HttpResponse:  # noqa: ARG002 -- HttpTransport protocol
        """Refuse: fuzzing never reaches the network."""
        raise IngestError(f"fuzzing makes no HTTP calls ({request.method} {request.path})")


@dataclass(slots=True)
class TargetCounts:
    """What one target did with its frames."""

    frames: int = 0
    accepted: int = 0
    rejected: int = 0
    crashes: int = 0
    events: int = 0


@dataclass(slots=True)
class CrashSample:
    """One kind of crash (target and exception with its place), the first frame, how many."""

    target: str
    error: str
    frame_start: str
    count: int = 1


@dataclass(slots=True)
class FuzzReport:
    """Figures of one fuzz run."""

    seed: int
    frames: int = 0
    accepted: int = 0
    rejected: int = 0
    crashes: int = 0
    events: int = 0
    invalid_events: int = 0
    elapsed_s: float = 0.0
    slowest_frame_s: float = 0.0
    slowest_target: str = ""
    kinds: Counter[str] = field(default_factory=Counter)
    oversize_frames: int = 0
    oversize_rejected_naming_limit: int = 0
    oversize_unread: int = 0
    long_list_frames: int = 0
    long_list_rejected_naming_limit: int = 0
    value_limit_rejections: int = 0
    by_target: dict[str, TargetCounts] = field(default_factory=dict)
    crash_samples: dict[tuple[str, str], CrashSample] = field(default_factory=dict)
    invalid_samples: list[str] = field(default_factory=list)

    @property
    def dead_letters(self) -> int:
        """Frames routed to the dead-letter path: rejected plus crashed."""
        return self.rejected + self.crashes

    @property
    def ok(self) -> bool:
        """No crash, no invalid event, every frame accounted for, every oversized frame refused."""
        return (
            self.crashes == 0
            and self.invalid_events == 0
            and self.accepted + self.dead_letters == self.frames
            and self.oversize_rejected_naming_limit + self.oversize_unread == self.oversize_frames
        )

    @property
    def frames_per_s(self) -> float:
        """Throughput of the run."""
        return self.frames / self.elapsed_s if self.elapsed_s > 0 else 0.0


class _CountingSink:
    """An IngestSink that counts and checks the events the parse path publishes."""

    def __init__(self, report: FuzzReport) -> None:
        self.report = report
        self.events_seen = 0

    async def publish(self, events: Sequence[Event], *, resync: bool = False) -> None:  # noqa: ARG002 -- the fuzzer only counts events
        """Check every event."""
        self.events_seen += len(events)
        for event in events:
            problem = event_problem(event)
            if problem is not None:
                self.report.invalid_events += 1
                if len(self.report.invalid_samples) < 10:
                    self.report.invalid_samples.append(problem)

    async def dead_letter(self, source: str, reason: str, raw: bytes) -> None:
        """Not used: ``read_frame`` and ``read_response`` return their dead letters instead."""

    def feed_status(self, venue: str, stream: str, status: str, detail: str) -> None:
        """Not used by the parse path."""


def describe_exception(error: BaseException) -> str:
    """``Type: message at module.py:line`` of the innermost frame that raised it."""
    trace = error.__traceback__
    while trace is not None and trace.tb_next is not None:
        trace = trace.tb_next
    where = f" at {Path(trace.tb_frame.f_code.co_filename).name}:{trace.tb_lineno}" if trace else ""
    return f"{type(error).__name__}: {str(error)[:200]}{where}"


class _ExceptionLog(logging.Handler):
    """Keeps the latest exception the supervisor logged (the crash's type, message and place)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.latest: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        """Keep the exception text of the record."""
        if record.exc_info and isinstance(record.exc_info[1], Exception):
            self.latest = describe_exception(record.exc_info[1])

    def take(self) -> str | None:
        """The latest exception text since the last call, and forget it."""
        latest, self.latest = self.latest, None
        return latest


@dataclass(slots=True)
class _VenueRig:
    """One fuzzed venue, its supervisors (one per stream) and its current requests."""

    venue: Venue
    supervisors: dict[str, ConnectionSupervisor]
    requests: dict[str, HttpRequest]
    frames: int = 0


class _Run:
    """State of one ``run_fuzz`` call."""

    def __init__(self, report: FuzzReport, load: Loader, rng: random.Random) -> None:
        self.report = report
        self.sink = _CountingSink(report)
        self.exceptions = _ExceptionLog()
        self.catalog = default_catalog()
        self.rigs: dict[str, _VenueRig] = {}
        self.seeds: dict[str, tuple[Seed, ...]] = {}
        self.mutators = {
            False: Mutator(rng),
            True: Mutator(rng, gzip_frames=True),
        }
        self.clock_ms = RECEIVE_MS_BASE
        self.donors: dict[str, tuple[Seed, ...]] = {}
        for target in TARGETS:
            self.seeds[target.label] = resolve_seeds(target, load)
            self.donors[target.variant] = (*self.donors.get(target.variant, ()), *self.seeds[target.label])
            if target.variant not in self.rigs:
                self.rigs[target.variant] = self._rig(target.variant)

    def _rig(self, variant: str) -> _VenueRig:
        venue = build_fuzz_venue(variant, self.catalog)
        streams = venue.stream_names() or ("none",)
        supervisors = {
            stream: ConnectionSupervisor(
                venue, stream, self.sink, _NoHttp(), rng=random.Random(0),
                wall_clock_ms=lambda: self.clock_ms,
            )
            for stream in streams
        }
        return _VenueRig(venue, supervisors, venue_requests(venue, self.clock_ms))

    def prime(self) -> list[Event]:
        """Parse every unmutated seed once (loads snapshots, fills caches); their events."""
        events: list[Event] = []
        for target in TARGETS:
            rig = self.rigs[target.variant]
            for seed in self.seeds[target.label]:
                document = seed.document
                frame = document.text if isinstance(document, Raw) else serialise(document)
                try:
                    if target.kind == "stream" and target.name in rig.venue.stream_names():
                        events.extend(rig.venue.parse(target.name, frame, self.clock_ms).events)
                    elif target.kind == "resync":
                        request = rig.requests[target.name]
                        events.extend(rig.venue.parse_resync(request, _as_bytes(frame), self.clock_ms))
                except FrameError:
                    continue
        return events

    async def feed(self, target: TargetSpec, mutation: Mutation) -> None:
        """One frame through the target's parse path; count the outcome."""
        report = self.report
        counts = report.by_target.setdefault(target.label, TargetCounts())
        self.clock_ms += 1
        self.exceptions.take()
        events_before = self.sink.events_seen
        started = time.perf_counter()
        if target.kind == "decode":
            accepted, reason, crashed = self._decode(mutation.frame)
        else:
            accepted, reason, crashed = await self._venue_frame(target, mutation.frame)
        elapsed = time.perf_counter() - started
        if elapsed > report.slowest_frame_s:
            report.slowest_frame_s = elapsed
            report.slowest_target = f"{target.label} ({mutation.kind})"
        report.frames += 1
        counts.frames += 1
        report.kinds[mutation.kind] += 1
        produced = self.sink.events_seen - events_before
        report.events += produced
        counts.events += produced
        if crashed:
            report.crashes += 1
            counts.crashes += 1
            error = self.logged() or reason or "?"
            known = report.crash_samples.get((target.label, error))
            if known is not None:
                known.count += 1
            elif len(report.crash_samples) < 50:
                report.crash_samples[(target.label, error)] = CrashSample(
                    target.label, error, repr(mutation.frame[:300]))
        elif accepted:
            report.accepted += 1
            counts.accepted += 1
        else:
            report.rejected += 1
            counts.rejected += 1
        self._note_limits(target, mutation, accepted, reason or "")

    def logged(self) -> str | None:
        """The exception the supervisor logged for the latest frame, if any."""
        return self.exceptions.take()

    def _note_limits(self, target: TargetSpec, mutation: Mutation, accepted: bool, reason: str) -> None:
        report = self.report
        if mutation.kind == "oversize":
            report.oversize_frames += 1
            limit = MAX_VALUE_BYTES if target.kind == "decode" else MAX_FRAME_BYTES
            if not accepted and str(limit) in reason:
                report.oversize_rejected_naming_limit += 1
            elif target.label in UNREAD_TARGETS:
                report.oversize_unread += 1
        elif mutation.kind == "long_list":
            report.long_list_frames += 1
            if not accepted and str(MAX_LIST_ITEMS) in reason:
                report.long_list_rejected_naming_limit += 1
        if not accepted and str(MAX_VALUE_BYTES) in reason:
            report.value_limit_rejections += 1

    def _decode(self, frame: Frame) -> tuple[bool, str | None, bool]:
        """Mirrors the processor: DecodeError is a dead letter, anything else a crash."""
        try:
            event = decode(frame)
        except DecodeError as exc:
            return False, exc.reason, False
        except Exception as exc:  # noqa: BLE001 -- a crash is what the fuzzer looks for
            return False, f"internal: {describe_exception(exc)}", True
        self.sink.events_seen += 1
        problem = event_problem(event)
        if problem is not None:
            self.report.invalid_events += 1
            if len(self.report.invalid_samples) < 10:
                self.report.invalid_samples.append(problem)
        return True, None, False

    async def _venue_frame(self, target: TargetSpec, frame: Frame) -> tuple[bool, str | None, bool]:
        rig = self.rigs[target.variant]
        rig.frames += 1
        if rig.frames % RESET_EVERY == 0:
            for stream in rig.venue.stream_names():
                rig.venue.reset(stream)
            rig.requests = venue_requests(rig.venue, self.clock_ms)
        if target.kind == "setup":
            return self._setup(rig, target.name, _as_bytes(frame))
        if target.kind == "resync":
            supervisor = next(iter(rig.supervisors.values()))
            reading = supervisor.read_response(rig.requests[target.name], _as_bytes(frame), self.clock_ms)
            if isinstance(reading, DeadLetter):
                return False, reading.reason, reading.internal
            if reading:
                await self.sink.publish(reading, resync=True)
            return True, None, False
        parsed = rig.supervisors[target.name].read_frame(frame, self.clock_ms)
        if isinstance(parsed, DeadLetter):
            return False, parsed.reason, parsed.internal
        # as the read loop does: publish the events; a reconnect resets the venue's stream
        if parsed.events:
            await self.sink.publish(parsed.events)
        if parsed.reconnect_reason is not None:
            rig.venue.reset(target.name)
        return True, None, False

    def _setup(self, rig: _VenueRig, stream: str, body: bytes) -> tuple[bool, str | None, bool]:
        """Mirrors ``_connect_once``: FrameError from connect_plan is a dead letter, else a crash."""
        try:
            rig.venue.connect_plan(stream, self.clock_ms, body)
        except FrameError as exc:
            return False, exc.reason, False
        except Exception as exc:  # noqa: BLE001 -- a crash is what the fuzzer looks for
            return False, f"internal: {describe_exception(exc)}", True
        return True, None, False


def _as_bytes(frame: Frame) -> bytes:
    return frame.encode("utf-8", "replace") if isinstance(frame, str) else frame


async def run_fuzz(
    frames: int,
    seed: int,
    fixtures: Traversable | None = None,
    *,
    variants: Collection[str] | None = None,
    hang_timeout_s: float | None = None,
    progress: Callable[[FuzzReport], None] | None = None,
    progress_every: int = 100_000,
) -> FuzzReport:
    """Feed ``frames`` mutated frames round-robin to every target and the codec; the figures.

    ``variants`` limits the run to some venue variants (``VARIANTS``, ``codec`` for the decoder).

    With ``hang_timeout_s``, a frame that does not return within that many seconds dumps every
    thread's stack to file descriptor 2 and ends the process with status 1 (``faulthandler``, re-armed every
    1000 frames): a hang is a failure, not a wait.
    """
    load = fixture_loader(fixtures or default_fixture_dir())
    report = FuzzReport(seed=seed)
    rng = random.Random(seed)
    chosen = tuple(
        target for target in (*TARGETS, CODEC_TARGET) if variants is None or target.variant in variants
    )
    if not chosen:
        raise ValueError(f"no fuzz target of {sorted(variants or ())}; variants: {', '.join(VARIANTS)}")
    run = _Run(report, load, rng)
    targets = chosen
    run.seeds[CODEC_TARGET.label] = codec_seeds(run.prime())
    supervisor_log = logging.getLogger("monitor.ingest.supervisor")
    supervisor_log.addHandler(run.exceptions)
    propagate = supervisor_log.propagate
    supervisor_log.propagate = False  # a crash is counted and sampled here, not printed per frame
    watchdog = hang_timeout_s is not None
    started = time.perf_counter()
    try:
        for index in range(frames):
            if watchdog and index % 1000 == 0:
                faulthandler.dump_traceback_later(hang_timeout_s or 0.0, exit=True, file=2)
            target = targets[index % len(targets)]
            mutator = run.mutators[target.variant in GZIP_VENUES]
            mutation = mutator.frame(
                run.seeds[target.label], as_bytes=True if target.kind in ("resync", "setup") else None,
                donors=run.donors.get(target.variant, ()))
            await run.feed(target, mutation)
            if progress is not None and (index + 1) % progress_every == 0:
                report.elapsed_s = time.perf_counter() - started
                progress(report)
    finally:
        if watchdog:
            faulthandler.cancel_dump_traceback_later()
        supervisor_log.removeHandler(run.exceptions)
        supervisor_log.propagate = propagate
    report.elapsed_s = time.perf_counter() - started
    return report


def run_fuzz_sync(frames: int, seed: int, fixtures: Traversable | None = None, **options: Any) -> FuzzReport:
    """``run_fuzz`` in a fresh event loop."""
    return asyncio.run(run_fuzz(frames, seed, fixtures, **options))
