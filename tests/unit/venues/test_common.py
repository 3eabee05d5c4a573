"""Shared venue helpers: strict number/time parsing and hedge-leg netting."""

from __future__ import annotations

import pytest

from monitor.venues._common import (
    Leg,
    PositionBook,
    margin_mode,
    net_legs,
    optional_number,
    optional_time_ms,
    streams_for,
    to_number,
    to_time_ms,
    validate_symbols,
)
from monitor.venues.base import AccountContext, FrameError


@pytest.mark.parametrize(
    ("value", "expected"),
    [("60000.5", 60000.5), ("-0.005", -0.005), ("1e-3", 0.001), (".5", 0.5), (42, 42.0), (1.25, 1.25)],
)
def test_numbers_accept_decimal_strings_and_json_numbers(value: object, expected: float) -> None:
    """Decimal strings and JSON numbers parse to floats."""
    assert to_number(value, "x") == expected


@pytest.mark.parametrize(
    "value", ["NaN", "nan", "Infinity", "inf", "", " 1", "1_000", "0x10", "1e400", True, None, [], {}],
)
def test_numbers_refuse_non_finite_empty_and_odd_spellings(value: object) -> None:
    """NaN, Infinity, empty, whitespace, underscores, hex, overflow and non-numbers raise FrameError."""
    with pytest.raises(FrameError):
        to_number(value, "x")


def test_optional_number_and_time() -> None:
    """Absent, null and ``""`` mean None; a zero time means None; digit strings are times."""
    assert optional_number({"a": ""}, "a", "x") is None
    assert optional_number({}, "a", "x") is None
    assert optional_time_ms({"t": 0}, "t", "x") is None
    assert optional_time_ms({"t": "1736996475556"}, "t", "x") == 1736996475556
    assert to_time_ms("1736996475556", "x") == 1736996475556
    for bad in ("-1", "1.5", -1, True, 10**17):
        with pytest.raises(FrameError):
            to_time_ms(bad, "x")


def test_margin_mode_spellings() -> None:
    """``cross``, ``CROSSED`` and ``ISOLATED`` normalise; anything else raises FrameError."""
    assert [margin_mode(v, "x") for v in ("cross", "CROSSED", "crossed", "ISOLATED")] == [
        "cross", "cross", "cross", "isolated",
    ]
    with pytest.raises(FrameError, match="margin mode"):
        margin_mode("portfolio", "x")


def test_validate_symbols() -> None:
    """Symbols are deduplicated and checked; a bare string is refused."""
    assert validate_symbols(["BTCUSDT", "BTCUSDT", "ETHUSDT"], r"[A-Z]+", "v") == ("BTCUSDT", "ETHUSDT")
    with pytest.raises(ValueError, match="not a valid symbol"):
        validate_symbols(["btc/usdt"], r"[A-Z]+", "v")
    with pytest.raises(TypeError):
        validate_symbols("BTCUSDT", r"[A-Z]+", "v")


def test_net_legs_linear_keeps_pnl() -> None:
    """Linear legs: EP = sum(q_i * EP_i) / Q keeps the summed unrealised PnL."""
    legs = [Leg(2.0, 100.0, "cross", None, 10.0), Leg(-1.0, 110.0, "cross", None, 10.0)]
    netted = net_legs(legs)
    # Q = 2 - 1 = 1; EP = (200 - 110) / 1 = 90; at P = 120: 2 * 20 + (-1) * 10 = 30 = 1 * (120 - 90)
    assert (netted.quantity, netted.entry_price, netted.leverage) == (1.0, 90.0, 10.0)


def test_net_legs_falls_back_when_entry_would_be_negative() -> None:
    """Nearly offsetting legs with a locked-in loss use the |q|-weighted entry instead."""
    legs = [Leg(10.0, 100.0, "cross", None, None), Leg(-9.0, 200.0, "cross", None, None)]
    netted = net_legs(legs)
    # signed: (1000 - 1800) / 1 = -800 <= 0; fallback (10 * 100 + 9 * 200) / 19 = 2800 / 19
    assert netted.quantity == 1.0
    assert netted.entry_price == pytest.approx(2800 / 19)


def test_net_legs_flat_and_margin_rules() -> None:
    """Offsetting legs are flat; isolated margin sums only when every open leg is isolated."""
    offset = net_legs([Leg(0.3, 100.0, "cross", None, None), Leg(-0.1, 100.0, "cross", None, None),
                       Leg(-0.2, 100.0, "cross", None, None)])
    # 0.3 - 0.1 - 0.2 is about -2.8e-17 in floats: below 1e-9 * 0.6, so flat
    assert (offset.quantity, offset.entry_price) == (0.0, 0.0)
    isolated = net_legs([Leg(1.0, 10.0, "isolated", 4.0, 5.0), Leg(-3.0, 12.0, "isolated", 6.5, 5.0)])
    # margins 4 + 6.5 = 10.5; Q = -2, EP = (10 - 36) / -2 = 13
    assert (isolated.margin_mode, isolated.isolated_margin, isolated.entry_price) == ("isolated", 10.5, 13.0)
    mixed = net_legs([Leg(1.0, 10.0, "isolated", 4.0, None), Leg(-3.0, 12.0, "cross", None, None)])
    assert (mixed.margin_mode, mixed.isolated_margin) == ("cross", None)


def test_position_book_holds_unknown_siblings_until_loaded() -> None:
    """Before a snapshot a lone hedge leg waits; after it, unseen legs are flat."""
    book = PositionBook({"L": "S", "S": "L"}.get)
    netted, resync = book.apply([("BTC", "L", Leg(1.0, 10.0, "cross", None, None))])
    assert (netted, resync) == ([], True)
    book.load([])
    netted, resync = book.apply([("BTC", "L", Leg(1.0, 10.0, "cross", None, None))])
    assert (netted, resync) == ([("BTC", Leg(1.0, 10.0, "cross", None, None))], False)
    book.clear()
    assert not book.loaded
    # BTC was reported open: a snapshot without it reports it flat
    assert book.load([]) == [("BTC", Leg(0.0, 0.0, "cross", None, None))]


def test_streams_follow_configuration() -> None:
    """A market stream needs symbols, a private stream an account; neither is a config error."""
    context = AccountContext("acct-1", "alice")
    assert streams_for(["BTCUSDT"], None, "v") == ("market",)
    assert streams_for([], context, "v") == ("private",)
    assert streams_for(["BTCUSDT"], context, "v") == ("market", "private")
    with pytest.raises(ValueError, match="symbols, an account"):
        streams_for([], None, "v")
