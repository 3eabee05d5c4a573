"""Shared venue helpers: strict number/time parsing, position legs and their events."""

from __future__ import annotations

import json

import pytest

from monitor.codec import decode, encode_event
from monitor.domain.events import PositionEvent, PositionSide
from monitor.venues._common import (
    FLAT_CROSS,
    Leg,
    PositionBook,
    VenueFigures,
    margin_mode,
    net_legs,
    optional_number,
    optional_time_ms,
    position_event,
    signed_quantity,
    streams_for,
    to_number,
    to_time_ms,
    validate_symbols,
    venue_figures,
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


BINANCE_SIDES: dict[str, PositionSide] = {"BOTH": "one_way", "LONG": "long", "SHORT": "short"}


def binance_side(key: str) -> PositionSide:
    """Binance's ``ps`` as the canonical leg (the mapping binance_usdm uses)."""
    return BINANCE_SIDES[key]


def test_position_book_publishes_each_hedge_leg_on_its_own() -> None:
    """A lone LONG leg is published at once (no sibling to wait for); a SHORT leg apart from it."""
    book = PositionBook(binance_side)
    long_leg = Leg(1.0, 10.0, "cross", None, None)
    assert book.apply([("BTC", "LONG", long_leg)]) == [("BTC", "long", long_leg)]
    short_leg = Leg(-3.0, 12.0, "cross", None, None)
    assert book.apply([("BTC", "SHORT", short_leg)]) == [("BTC", "short", short_leg)]
    assert not book.loaded


def test_position_book_snapshot_closes_vanished_legs_and_flat_configured_symbols() -> None:
    """A snapshot reports open legs, closes legs reported open before, and every leg of a
    configured symbol that has nothing open."""
    book = PositionBook(binance_side)
    book.apply([("BTC", "LONG", Leg(1.0, 10.0, "cross", None, None)),
                ("BTC", "SHORT", Leg(-3.0, 12.0, "cross", None, None))])
    book.clear()
    cleared = book.loaded
    short_leg = Leg(-2.0, 12.0, "cross", None, 5.0)
    published = book.load([("BTC", "SHORT", short_leg)], also=("BTC", "ETH"))
    assert (cleared, book.loaded) == (False, True)
    # SHORT still open; LONG was reported open and is gone: flat; BTC is open so no other flats;
    # ETH (configured) has nothing open: each of its three legs flat
    assert published == [
        ("BTC", "short", short_leg),
        ("BTC", "long", FLAT_CROSS),
        ("ETH", "one_way", FLAT_CROSS),
        ("ETH", "long", FLAT_CROSS),
        ("ETH", "short", FLAT_CROSS),
    ]


def test_position_book_nets_keys_of_one_side() -> None:
    """Two venue legs of one canonical leg (OKX net/cross and net/isolated) net into it."""
    book = PositionBook(lambda _key: "one_way")
    published = book.apply([("X", "net/cross", Leg(2.0, 100.0, "cross", None, 10.0)),
                            ("X", "net/isolated", Leg(1.0, 130.0, "isolated", 5.0, 10.0))])
    # Q = 2 + 1 = 3; EP = (2 * 100 + 1 * 130) / 3 = 110; one cross leg: cross, no isolated margin
    assert published == [("X", "one_way", Leg(3.0, 110.0, "cross", None, 10.0))]


def test_position_book_refresh_moves_legs_to_their_new_side() -> None:
    """After the key-to-side mapping changes, refresh closes the old legs and publishes the new."""
    one_way = False
    book = PositionBook(lambda key: "one_way" if one_way else binance_side(key.upper()))
    short_leg = Leg(-2.0, 12.0, "cross", None, None)
    book.apply([("BTC", "short", short_leg)])
    one_way = True
    assert book.refresh() == [("BTC", "short", FLAT_CROSS), ("BTC", "one_way", short_leg)]


def test_position_book_refuses_an_open_leg_without_entry() -> None:
    """An open leg at entry price 0 cannot become a PositionEvent: FrameError, nothing stored."""
    book = PositionBook(binance_side)
    with pytest.raises(FrameError, match="entry price"):
        book.apply([("BTC", "LONG", Leg(1.0, 0.0, "cross", None, None))])
    assert book.legs("BTC") == {}


def test_signed_quantity_follows_the_leg() -> None:
    """Long legs are >= 0 and short legs <= 0 whatever the wire sign; one-way keeps it."""
    cases: list[tuple[float, PositionSide]] = [
        (-10.0, "long"), (10.0, "short"), (-10.0, "short"), (-10.0, "one_way"), (10.0, "one_way"),
    ]
    assert [signed_quantity(q, side) for q, side in cases] == [10.0, -10.0, -10.0, -10.0, 10.0]


def test_v2_position_event_round_trips_through_the_codec_with_its_side() -> None:
    """A short leg with a risk limit survives encode/decode (topic value v3) unchanged."""
    context = AccountContext("acct-1", "alice")
    leg = Leg(-10.0, 6563.86, "isolated", 6570.42511771, 20.0, risk_limit_value=2_000_000.0)
    event = position_event(context, "binance:BTCUSDT", "short", leg, 1564745798939, 1564745798940)
    value = encode_event(event)
    assert json.loads(value)["v"] == 3
    assert json.loads(value)["position_side"] == "short"
    decoded = decode(value)
    assert decoded == event
    assert isinstance(decoded, PositionEvent)
    assert decoded.key == ("acct-1", "binance:BTCUSDT", "short")


def test_streams_follow_configuration() -> None:
    """A market stream needs symbols or an account (whose held symbols it follows), a private
    stream an account; neither is a config error."""
    context = AccountContext("acct-1", "alice")
    assert streams_for(["BTCUSDT"], None, "v") == ("market",)
    assert streams_for([], context, "v") == ("market", "private")
    assert streams_for(["BTCUSDT"], context, "v") == ("market", "private")
    with pytest.raises(ValueError, match="symbols, an account"):
        streams_for([], None, "v")


def test_netted_legs_keep_only_the_venue_figures_that_add_up() -> None:
    """Two open legs of one side (OKX cross + isolated): maintenance margins add up (1.5 + 2.5 =
    4.0), the higher ADL rank stands (3 of 5); a liquidation price or margin ratio of one leg says
    nothing of the net: unknown. One leg without figures makes the net's figures unknown."""
    first = Leg(-1.0, 100.0, "cross", None, 10.0,
                figures=VenueFigures(90.0, 1.5, 0.1, 2, 5))
    second = Leg(-3.0, 110.0, "isolated", 30.0, 10.0,
                 figures=VenueFigures(120.0, 2.5, 0.2, 3, 5))
    assert net_legs([first, second]).figures == VenueFigures(None, 4.0, None, 3, 5)
    assert net_legs([first, Leg(-3.0, 110.0, "isolated", 30.0, 10.0)]).figures is None
    assert net_legs([first]).figures == first.figures


def test_a_zero_liquidation_price_is_unknown_and_no_figures_is_none() -> None:
    """Binance "0", WEEX "0": no liquidation price (unknown); nothing reported is no figures."""
    assert venue_figures(liquidation_price=0.0) is None
    assert venue_figures(liquidation_price=0.0, maintenance_margin=1.0) == VenueFigures(None, 1.0)
    assert venue_figures(adl_rank=None, adl_rank_top=5) is None
