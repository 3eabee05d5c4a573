"""Canonical event <-> JSON (the topic contract in docs/topics.md), with strict validation.

``decode`` never raises anything but ``DecodeError``: a value that is not JSON, not an object, of an
unknown type or version, missing a field, or carrying a wrong type or a non-finite number is
rejected with a reason that the processor sends to the dead-letter topic. Nothing is ever
deserialised with ``eval`` or ``pickle``.
"""

from __future__ import annotations

import functools
import math
import types
import typing
from collections.abc import Callable, Container
from dataclasses import dataclass, fields
from typing import Any, TypeVar

import orjson

from monitor.domain.events import (
    CONTRACT_TYPES,
    FORCED_FILLS,
    INSTRUMENT_KIND_NAMES,
    POSITION_SIDES,
    AccountMarginEvent,
    AccountModeEvent,
    BalanceEvent,
    Event,
    EventError,
    FillEvent,
    ForcedFill,
    InstrumentEvent,
    InstrumentTier,
    MarginMode,
    MismatchEvent,
    PositionEvent,
    PositionSide,
    PriceEvent,
)
from monitor.domain.remediation import LiquidationRemediation
from monitor.domain.snapshot import (
    AccountFigures,
    AccountModelFigures,
    AccountVenueFigures,
    AssetFigures,
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
from monitor.errors import HedgeMonitorError

MAX_VALUE_BYTES = 64 * 1024
DLQ_RAW_LIMIT = 4096
"""At most this many bytes of the raw input are kept in a hedge.dlq value."""
SCHEMA_VERSION = 3
"""Version of the hedge.prices / hedge.positions values written now (docs/topics.md, Migration)."""
READABLE_VERSIONS = (1, 2, 3)
"""Versions ``decode`` reads: v1 values are v2 values without the fields v2 added (one-way legs,
no separate cross wallet); v2 values are v3 values without the venue's own figures (unknown), the
forced-fill flag (an own trade) and the ``account_margin`` type. So a topic written before the
upgrade is still read."""


class DecodeError(HedgeMonitorError, ValueError):
    """A topic value could not be turned into a canonical event; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def encode_event(event: Event) -> bytes:
    """The JSON value of an event on hedge.prices / hedge.positions."""
    return orjson.dumps(event_to_dict(event))


def event_to_dict(event: Event) -> dict[str, Any]:
    """The topic-contract dict of an event (``v`` and ``type`` first)."""
    if isinstance(event, PriceEvent):
        kind = "price"
    elif isinstance(event, PositionEvent):
        kind = "position"
    elif isinstance(event, BalanceEvent):
        kind = "balance"
    elif isinstance(event, MismatchEvent):
        kind = "mismatch"
    elif isinstance(event, AccountModeEvent):
        kind = "account_mode"
    elif isinstance(event, AccountMarginEvent):
        kind = "account_margin"
    else:
        kind = "fill"
    data: dict[str, Any] = {"v": SCHEMA_VERSION, "type": kind}
    for name in type(event).__slots__:
        data[name] = getattr(event, name)
    return data


def event_key(event: Event) -> bytes:
    """The Kafka key: the instrument for prices, the portfolio for account events."""
    if isinstance(event, PriceEvent):
        return event.instrument.encode()
    return event.portfolio.encode()


def dead_letter_value(
    source: str, reason: str, raw: bytes, now_ms: int, partition: int | None = None,
    offset: int | None = None,
) -> bytes:
    """The hedge.dlq value: the source, the reason and the raw input (truncated)."""
    return orjson.dumps({
        "v": 1,
        "type": "dead_letter",
        "source": source,
        "partition": partition,
        "offset": offset,
        "reason": reason,
        "raw": raw[:DLQ_RAW_LIMIT].decode("utf-8", errors="replace"),
        "raw_bytes": len(raw),
        "ts_ms": now_ms,
    })


def _require(data: dict[str, Any], name: str, kinds: tuple[type, ...], *, optional: bool = False) -> Any:
    if name not in data or data[name] is None:
        if optional:
            return None
        raise DecodeError(f"missing field {name!r}")
    value = data[name]
    if isinstance(value, bool) or not isinstance(value, kinds):
        expected = " or ".join(k.__name__ for k in kinds)
        raise DecodeError(f"field {name!r} must be {expected}, got {type(value).__name__}")
    if isinstance(value, float) and not math.isfinite(value):
        raise DecodeError(f"field {name!r} must be finite")
    return value


def _number(data: dict[str, Any], name: str, *, optional: bool = False) -> float | None:
    value = _require(data, name, (int, float), optional=optional)
    return None if value is None else float(value)


def _integer(data: dict[str, Any], name: str, *, optional: bool = False) -> int | None:
    value = _require(data, name, (int,), optional=optional)
    return None if value is None else int(value)


def _text(data: dict[str, Any], name: str) -> str:
    value: str = _require(data, name, (str,))
    return value


def _versioned_object(
    raw: bytes | str, readable: Container[object], version_name: str, readable_text: str
) -> dict[str, Any]:
    """The JSON object of one topic value within the size limit, its ``v`` one of ``readable``."""
    if len(raw) > MAX_VALUE_BYTES:
        raise DecodeError(f"value of {len(raw)} bytes exceeds the {MAX_VALUE_BYTES}-byte limit")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise DecodeError(f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise DecodeError(f"value must be a JSON object, got {type(data).__name__}")
    version = data.get("v")
    if isinstance(version, bool) or version not in readable:
        raise DecodeError(f"unsupported {version_name} {version!r} (this release reads {readable_text})")
    return data


def decode(raw: bytes | str) -> Event:
    """Parse and validate one topic value into a canonical event, or raise DecodeError."""
    data = _versioned_object(raw, READABLE_VERSIONS, "version", "versions 1, 2 and 3")
    version = data["v"]
    kind = data.get("type")
    try:
        if kind == "price":
            receive = _integer(data, "ts_receive_ms", optional=True)
            event_time = _integer(data, "ts_event_ms")
            assert event_time is not None  # noqa: S101 -- not optional
            mark = _number(data, "mark")
            assert mark is not None  # noqa: S101 -- not optional
            return PriceEvent(
                instrument=_text(data, "instrument"),
                mark=mark,
                index=_number(data, "index", optional=True),
                funding_rate=_number(data, "funding_rate", optional=True),
                next_funding_ms=_integer(data, "next_funding_ms", optional=True),
                ts_event_ms=event_time,
                ts_receive_ms=event_time if receive is None else receive,
            )
        if kind in ("position", "balance", "fill", "mismatch", "account_mode"):
            return _decode_account(kind, data)
        if kind == "account_margin" and version == 3:
            return _decode_account_margin(data)
    except EventError as exc:
        raise DecodeError(str(exc)) from None
    raise DecodeError(
        f"unknown type {kind!r} of version {version!r} (expected price, position, balance, fill, "
        "mismatch, account_mode or, from version 3, account_margin)")


def _decode_account(kind: str, data: dict[str, Any]) -> Event:
    event_time = _integer(data, "ts_event_ms")
    assert event_time is not None  # noqa: S101 -- not optional
    receive = _integer(data, "ts_receive_ms", optional=True)
    receive_time = event_time if receive is None else receive
    if kind == "mismatch":
        stream_quantity = _number(data, "stream_quantity")
        resync_quantity = _number(data, "resync_quantity")
        assert stream_quantity is not None  # noqa: S101 -- not optional
        assert resync_quantity is not None  # noqa: S101 -- not optional
        active = data.get("active")
        if not isinstance(active, bool):
            raise DecodeError("field 'active' must be a boolean")
        return MismatchEvent(
            portfolio=_text(data, "portfolio"),
            account=_text(data, "account"),
            subject=_text(data, "subject"),
            stream_quantity=stream_quantity,
            resync_quantity=resync_quantity,
            active=active,
            ts_event_ms=event_time,
            ts_receive_ms=receive_time,
        )
    if kind == "account_mode":
        multi_asset = data.get("multi_asset_margin")
        if not isinstance(multi_asset, bool):
            raise DecodeError("field 'multi_asset_margin' must be a boolean")
        return AccountModeEvent(
            portfolio=_text(data, "portfolio"),
            account=_text(data, "account"),
            multi_asset_margin=multi_asset,
            ts_event_ms=event_time,
            ts_receive_ms=receive_time,
        )
    quantity = _number(data, "quantity")
    assert quantity is not None  # noqa: S101 -- not optional
    if kind == "balance":
        return BalanceEvent(
            portfolio=_text(data, "portfolio"),
            account=_text(data, "account"),
            asset=_text(data, "asset"),
            quantity=quantity,
            ts_event_ms=event_time,
            ts_receive_ms=receive_time,
            cross_wallet=_number(data, "cross_wallet", optional=True),
        )
    if kind == "fill":
        price = _number(data, "price")
        fee = _number(data, "fee_usd")
        assert price is not None  # noqa: S101 -- not optional
        assert fee is not None  # noqa: S101 -- not optional
        return FillEvent(
            portfolio=_text(data, "portfolio"),
            account=_text(data, "account"),
            instrument=_text(data, "instrument"),
            quantity=quantity,
            price=price,
            fee_usd=fee,
            ts_event_ms=event_time,
            ts_receive_ms=receive_time,
            forced=_forced(data),
        )
    entry = _number(data, "entry_price")
    assert entry is not None  # noqa: S101 -- not optional
    text = _text(data, "margin_mode")
    mode: MarginMode
    if text == "isolated":
        mode = "isolated"
    elif text == "cross":
        mode = "cross"
    else:
        raise DecodeError(f"field 'margin_mode' must be 'isolated' or 'cross', got {text!r}")
    return PositionEvent(
        portfolio=_text(data, "portfolio"),
        account=_text(data, "account"),
        instrument=_text(data, "instrument"),
        quantity=quantity,
        entry_price=entry,
        leverage=_number(data, "leverage", optional=True),
        margin_mode=mode,
        isolated_margin=_number(data, "isolated_margin", optional=True),
        ts_event_ms=event_time,
        ts_receive_ms=receive_time,
        position_side=_position_side(data),
        risk_limit_value=_number(data, "risk_limit_value", optional=True),
        venue_liquidation_price=_number(data, "venue_liquidation_price", optional=True),
        venue_maintenance_margin=_number(data, "venue_maintenance_margin", optional=True),
        venue_margin_ratio=_number(data, "venue_margin_ratio", optional=True),
        adl_rank=_integer(data, "adl_rank", optional=True),
        adl_rank_top=_integer(data, "adl_rank_top", optional=True),
    )


def _forced(data: dict[str, Any]) -> ForcedFill | None:
    """Why the venue closed the leg (v3); a v1/v2 fill, or ``null``, is an own trade."""
    text = data.get("forced")
    if text is None:
        return None
    for reason in FORCED_FILLS:
        if text == reason:
            return reason
    raise DecodeError(f"field 'forced' must be 'liquidation', 'adl' or null, got {text!r}")


def _optional_text(data: dict[str, Any], name: str) -> str | None:
    value: str | None = _require(data, name, (str,), optional=True)
    return value


def _decode_account_margin(data: dict[str, Any]) -> AccountMarginEvent:
    """An ``account_margin`` value (v3): the venue's whole-account margin figures."""
    event_time = _integer(data, "ts_event_ms")
    assert event_time is not None  # noqa: S101 -- not optional
    receive = _integer(data, "ts_receive_ms", optional=True)
    liquidation_ratio = _number(data, "liquidation_ratio")
    assert liquidation_ratio is not None  # noqa: S101 -- not optional
    return AccountMarginEvent(
        portfolio=_text(data, "portfolio"),
        account=_text(data, "account"),
        mode=_text(data, "mode"),
        venue_figure=_text(data, "venue_figure"),
        venue_value=_number(data, "venue_value", optional=True),
        maintenance_margin_ratio=_number(data, "maintenance_margin_ratio", optional=True),
        liquidation_ratio=liquidation_ratio,
        equity_usd=_number(data, "equity_usd", optional=True),
        maintenance_margin_usd=_number(data, "maintenance_margin_usd", optional=True),
        initial_margin_ratio=_number(data, "initial_margin_ratio", optional=True),
        status=_optional_text(data, "status"),
        ts_event_ms=event_time,
        ts_receive_ms=event_time if receive is None else receive,
    )


def _position_side(data: dict[str, Any]) -> PositionSide:
    """The leg of a position value; a v1 value (written before hedge mode) is one-way."""
    text = data.get("position_side")
    if text is None:
        return "one_way"
    for side in POSITION_SIDES:
        if text == side:
            return side
    raise DecodeError(f"field 'position_side' must be 'one_way', 'long' or 'short', got {text!r}")


_Choice = TypeVar("_Choice", bound=str)
INSTRUMENT_SCHEMA_VERSION = 1
"""Version of the hedge.instruments values written now (docs/topics.md, hedge.instruments)."""
INSTRUMENT_READABLE_VERSIONS = (1,)


def encode_instrument(event: InstrumentEvent) -> bytes:
    """The JSON value of an instrument's terms on hedge.instruments (key: the instrument id)."""
    data: dict[str, Any] = {"v": INSTRUMENT_SCHEMA_VERSION, "type": "instrument"}
    for name in InstrumentEvent.__slots__:
        data[name] = getattr(event, name)
    data["tiers"] = [
        {"floor": t.floor, "cap": None if math.isinf(t.cap) else t.cap, "mmr": t.mmr,
         "max_leverage": t.max_leverage, "cum": t.cum}
        for t in event.tiers
    ]
    return orjson.dumps(data)


def decode_instrument(raw: bytes | str) -> InstrumentEvent:
    """Parse and validate one hedge.instruments value, or raise DecodeError (unknown version too)."""
    data = _versioned_object(raw, INSTRUMENT_READABLE_VERSIONS, "instrument version", "version 1")
    if data.get("type") != "instrument":
        raise DecodeError(f"unknown type {data.get('type')!r} on hedge.instruments (expected instrument)")
    unknown = set(data) - {"v", "type", *InstrumentEvent.__slots__}
    if unknown:
        raise DecodeError(f"unknown fields {sorted(unknown)}")
    tiers_raw = data.get("tiers")
    if not isinstance(tiers_raw, list):
        raise DecodeError("field 'tiers' must be a list")
    try:
        tiers = []
        for item in tiers_raw:
            if not isinstance(item, dict):
                raise DecodeError("each tier must be an object")
            cap = _number(item, "cap", optional=True)
            tiers.append(InstrumentTier(
                _required_number(item, "floor"), math.inf if cap is None else cap,
                _required_number(item, "mmr"), _required_number(item, "max_leverage"),
                _number(item, "cum", optional=True)))
        receive = _integer(data, "ts_receive_ms", optional=True)
        event_time = int(_required_number(data, "ts_event_ms"))
        if not isinstance(data["ts_event_ms"], int):
            raise DecodeError("field 'ts_event_ms' must be int")
        numbers = {name: _required_number(data, name) for name in
                   ("contract_size", "contract_value", "lot_step", "min_quantity")}
        return InstrumentEvent(
            instrument=_text(data, "instrument"),
            kind=_choice(data, "kind", INSTRUMENT_KIND_NAMES),
            contract_type=_choice(data, "contract_type", CONTRACT_TYPES),
            base=_text(data, "base"),
            quote=_text(data, "quote"),
            settle=_text(data, "settle"),
            contract_size=numbers["contract_size"],
            contract_value=numbers["contract_value"],
            lot_step=numbers["lot_step"],
            min_quantity=numbers["min_quantity"],
            expiry_ms=_integer(data, "expiry_ms", optional=True),
            tiers=tuple(tiers),
            source=_text(data, "source"),
            ts_event_ms=event_time,
            ts_receive_ms=event_time if receive is None else receive,
        )
    except EventError as exc:
        raise DecodeError(str(exc)) from None


def _choice(data: dict[str, Any], name: str, options: tuple[_Choice, ...]) -> _Choice:
    text = _text(data, name)
    for option in options:
        if text == option:
            return option
    raise DecodeError(f"field {name!r} must be one of {', '.join(options)}, got {text!r}")


def _required_number(data: dict[str, Any], name: str) -> float:
    value = _number(data, name)
    if value is None:  # _number raises for a missing required field; this narrows the type
        raise DecodeError(f"missing field {name!r}")
    return value


# -- hedge.risk ------------------------------------------------------------------------------------

RISK_VERSION = 1
"""Version of the hedge.risk values written now (``monitor/schemas/risk.json``)."""


def encode_risk(snapshot: RiskSnapshot) -> bytes:
    """The JSON value of a risk snapshot on hedge.risk: its fields, in order, nested (NaN is null)."""
    return orjson.dumps(snapshot)


def risk_to_dict(snapshot: RiskSnapshot) -> dict[str, Any]:
    """The JSON object of a risk snapshot, as a consumer of hedge.risk reads it."""
    data: dict[str, Any] = orjson.loads(encode_risk(snapshot))
    return data


_Row = TypeVar("_Row")


_JSON_KINDS: dict[object, tuple[tuple[type, ...], str]] = {
    float: ((int, float), "a number"), int: ((int,), "an integer"), str: ((str,), "a string"),
    bool: ((bool,), "true or false"),
}


@dataclass(frozen=True, slots=True)
class _FieldCheck:
    """What a scalar field of a snapshot row accepts from JSON."""

    kinds: tuple[type, ...]
    choices: frozenset[object]
    nullable: bool
    text: str

    def accepts(self, value: object) -> bool:
        if value is None:
            return self.nullable
        if type(value) is bool:
            return bool in self.kinds
        if self.choices and isinstance(value, str | int) and value in self.choices:
            return True
        return isinstance(value, self.kinds)


@functools.cache
def _field_checks(cls: type) -> dict[str, _FieldCheck]:
    """The scalar fields of a row type and what each accepts (nested rows are read on their own)."""
    checks: dict[str, _FieldCheck] = {}
    for name, hint in typing.get_type_hints(cls).items():
        options = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) \
            else (hint,)
        kinds: list[type] = []
        choices: set[object] = set()
        words: list[str] = []
        nullable, scalar = False, True
        for option in options:
            if option is type(None):
                nullable = True
            elif typing.get_origin(option) is typing.Literal:
                choices.update(typing.get_args(option))
                words.append("one of " + ", ".join(repr(choice) for choice in typing.get_args(option)))
            elif option in _JSON_KINDS:
                kinds.extend(_JSON_KINDS[option][0])
                words.append(_JSON_KINDS[option][1])
            else:
                scalar = False
        if scalar:
            text = " or ".join(words + (["null"] if nullable else []))
            checks[name] = _FieldCheck(tuple(kinds), frozenset(choices), nullable, text)
    return checks


def _object(data: object, where: str) -> dict[str, Any]:
    """``data`` if it is a JSON object, else DecodeError naming ``where``."""
    if not isinstance(data, dict):
        raise DecodeError(f"{where} must be an object, got {type(data).__name__}")
    return data


def _row(cls: type[_Row], data: object, where: str, **nested: Any) -> _Row:
    """One typed row from its JSON object: every key a field of ``cls`` (missing ones default),
    every scalar figure of its JSON type."""
    data = _object(data, where)
    names = {item.name for item in fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - names)
    if unknown:
        raise DecodeError(f"{where} has unknown field(s) {', '.join(unknown)}")
    checks = _field_checks(typing.cast(type, cls))
    for name, value in data.items():
        check = checks.get(name)
        if check is not None and name not in nested and not check.accepts(value):
            shown = orjson.dumps(value).decode()[:60]
            raise DecodeError(f"{where}.{name} must be {check.text}, got {shown}")
    values = {**data, **nested}
    try:
        return cls(**values)
    except TypeError as exc:
        raise DecodeError(f"{where}: {exc}") from None


def _rows(read: Callable[[object, str], _Row], data: object, where: str) -> dict[str, _Row]:
    """A JSON object of rows by subject, each read by ``read``."""
    return {key: read(value, f"{where}.{key}") for key, value in _object(data, where).items()}


def _items(data: object, where: str) -> list[Any]:
    if not isinstance(data, list):
        raise DecodeError(f"{where} must be an array, got {type(data).__name__}")
    return data


def _texts(data: object, where: str) -> tuple[str, ...]:
    """An array of strings (instrument ids) as a tuple."""
    items = _items(data, where)
    for index, item in enumerate(items):
        if not isinstance(item, str):
            raise DecodeError(f"{where}[{index}] must be a string, got {type(item).__name__}")
    return tuple(items)


_NAN_WHEN_UNKNOWN = ("requirement_at_target", "balance_at_target", "mark_price")
"""Remediation figures the model may not give: NaN in the value, null in its JSON."""


def _remediation(data: object, where: str) -> LiquidationRemediation | None:
    if data is None:
        return None
    data = _object(data, where)
    unknown = {name: math.nan for name in _NAN_WHEN_UNKNOWN if name in data and data[name] is None}
    return _row(LiquidationRemediation, data, where, **unknown)


def _leg(data: object, where: str) -> LegFigures:
    data = _object(data, where)
    model, venue = data.get("model_figures"), data.get("venue_figures")
    return _row(
        LegFigures, data, where,
        remediation=_remediation(data.get("remediation"), f"{where}.remediation"),
        model_figures=None if model is None else _row(ModelFigures, model, f"{where}.model_figures"),
        venue_figures=None if venue is None else _row(VenueFigures, venue, f"{where}.venue_figures"),
        model_divergence=_row(Divergence, data.get("model_divergence", {}), f"{where}.model_divergence"),
    )


def _account(data: object, where: str) -> AccountFigures:
    data = _object(data, where)
    return _row(AccountFigures, data, where,
                venue=_row(AccountVenueFigures, data.get("venue"), f"{where}.venue"),
                model=_row(AccountModelFigures, data.get("model"), f"{where}.model"))


def _stress_row(data: object, where: str) -> StressRow:
    data = _object(data, where)
    return _row(StressRow, data, where, liquidated=_texts(data.get("liquidated", []), f"{where}.liquidated"))


def decode_risk(raw: bytes | str | dict[str, Any]) -> RiskSnapshot:
    """A hedge.risk value (bytes, text or its parsed object) as a typed snapshot, or DecodeError.

    Sections and figures left out take their defaults (empty, unknown); a key that is no field
    of the snapshot is an error, so a value of another shape is never read as a safe one.
    """
    data = raw if isinstance(raw, dict) else _versioned_object(raw, (RISK_VERSION,), "risk version", "1")
    if data.get("v", RISK_VERSION) != RISK_VERSION or data.get("type", "risk") != "risk":
        raise DecodeError(f"not a risk value of version {RISK_VERSION}: v={data.get('v')!r}, "
                          f"type={data.get('type')!r}")
    nested: dict[str, Any] = {}
    if "assets" in data:
        nested["assets"] = _rows(functools.partial(_row, AssetFigures), data["assets"], "assets")
    if "positions" in data:
        positions = _items(data["positions"], "positions")
        nested["positions"] = tuple(_leg(item, f"positions[{index}]") for index, item in enumerate(positions))
    if "effectiveness" in data:
        nested["effectiveness"] = _rows(functools.partial(_row, Effectiveness), data["effectiveness"],
                                        "effectiveness")
    if "stress" in data:
        rows = _items(data["stress"], "stress")
        nested["stress"] = tuple(_stress_row(item, f"stress[{index}]") for index, item in enumerate(rows))
    if "costs" in data:
        nested["costs"] = _row(Costs, data["costs"], "costs")
    if "lifecycle" in data:
        nested["lifecycle"] = _rows(functools.partial(_row, Lifecycle), data["lifecycle"], "lifecycle")
    if "feeds" in data:
        feeds = _object(data["feeds"], "feeds")
        nested["feeds"] = _row(Feeds, feeds, "feeds", stale=_texts(feeds.get("stale", []), "feeds.stale"))
    if "latency_ms" in data:
        nested["latency_ms"] = _row(Latency, data["latency_ms"], "latency_ms")
    if "accounts" in data:
        nested["accounts"] = _rows(_account, data["accounts"], "accounts")
    if "unpriced_positions" in data:
        nested["unpriced_positions"] = tuple(
            _row(UnpricedLeg, item, f"unpriced_positions[{index}]")
            for index, item in enumerate(_items(data["unpriced_positions"], "unpriced_positions")))
    return _row(RiskSnapshot, data, "risk value", **nested)
