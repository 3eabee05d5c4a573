"""Binance USDⓈ-M venue: documented fixtures to canonical events, stream plans, signing, robustness."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import replace

import pytest

from monitor.codec import decode, encode_event
from monitor.domain.events import (
    AccountMarginEvent,
    AccountModeEvent,
    BalanceEvent,
    FillEvent,
    MarginMode,
    PositionEvent,
    PositionSide,
    PriceEvent,
)
from monitor.venues.base import MAX_FRAME_BYTES, MAX_LIST_ITEMS, FrameError, FrameKind, Venue
from monitor.venues.binance_usdm import BinanceUsdm
from tests.unit.venues._support import (
    CANARY_HMAC,
    CANARY_KEY,
    RECEIVE_MS,
    account,
    assert_only_frame_errors,
    fixture_json,
    fixture_text,
    leaked,
    mutations,
)


def venue(symbols: tuple[str, ...] = ("BTCUSDT",), *, private: bool = True) -> BinanceUsdm:
    """A venue with the canary account (or public only)."""
    return BinanceUsdm(symbols=symbols, account=account() if private else None)


def position(instrument: str, quantity: float, entry: float, mode: MarginMode, margin: float | None,
             leverage: float | None, ts: int, side: PositionSide = "one_way") -> PositionEvent:
    """The expected canonical position (one leg) of the canary account."""
    return PositionEvent(
        portfolio="alice", account="acct-1", instrument=instrument, quantity=quantity,
        entry_price=entry, leverage=leverage, margin_mode=mode,
        isolated_margin=margin, ts_event_ms=ts, ts_receive_ms=RECEIVE_MS, position_side=side,
    )


def flat(instrument: str, side: PositionSide, ts: int = RECEIVE_MS) -> PositionEvent:
    """A flat leg no snapshot row describes (cross, no leverage)."""
    return position(instrument, 0.0, 0.0, "cross", None, None, ts, side)


def balance(asset: str, quantity: float, ts: int, cross_wallet: float | None) -> BalanceEvent:
    """The expected canonical balance of the canary account."""
    return BalanceEvent("alice", "acct-1", asset, quantity, ts, RECEIVE_MS, cross_wallet)


def test_is_a_venue() -> None:
    """The class satisfies the Venue protocol and names its instruments ``binance:``."""
    subject = venue()
    assert isinstance(subject, Venue)
    assert subject.name == "binance"
    assert subject.stream_names() == ("market", "private")
    assert venue(private=False).stream_names() == ("market",)


@pytest.mark.parametrize("name", ["binance_usdm_markPrice.json", "binance_usdm_markPrice_combined.json"])
def test_mark_price_raw_and_combined(name: str) -> None:
    """A markPriceUpdate, raw or in the combined wrapper, becomes one PriceEvent with funding."""
    parsed = venue().parse("market", fixture_text(name), RECEIVE_MS)
    assert parsed.kind is FrameKind.DATA
    assert parsed.events == (PriceEvent(
        instrument="binance:BTCUSDT", mark=11794.15, index=11784.62659091, funding_rate=0.00038167,
        next_funding_ms=1562306400000, ts_event_ms=1562305380000, ts_receive_ms=RECEIVE_MS,
    ),)


def test_mark_price_array_keeps_configured_symbols() -> None:
    """``!markPrice@arr`` emits only the configured symbols."""
    frame = fixture_text("binance_usdm_markPrice_arr.json")
    assert venue().parse("market", frame, RECEIVE_MS).events == (PriceEvent(
        instrument="binance:BTCUSDT", mark=11185.87786614, index=11784.62659091,
        funding_rate=0.0003, next_funding_ms=1562306400000, ts_event_ms=1562305380000,
        ts_receive_ms=RECEIVE_MS,
    ),)
    assert venue(("ETHUSDT",)).parse("market", frame, RECEIVE_MS).events == ()


def test_delivery_contract_has_no_funding() -> None:
    """A delivery symbol's ``"r":""`` and ``"T":0`` mean no funding rate and no funding time."""
    payload = fixture_json("binance_usdm_markPrice.json")
    assert isinstance(payload, dict)
    payload.update({"s": "BTCUSDT_250627", "r": "", "T": 0})
    (event,) = venue().parse("market", json.dumps(payload), RECEIVE_MS).events
    assert isinstance(event, PriceEvent)
    assert (event.instrument, event.funding_rate, event.next_funding_ms) == (
        "binance:BTCUSDT_250627", None, None,
    )


def test_book_ticker_and_subscription_ack_emit_nothing() -> None:
    """The futures bookTicker is ignored; a SUBSCRIBE response is an ack."""
    subject = venue()
    ticker = subject.parse("market", fixture_text("binance_usdm_bookTicker.json"), RECEIVE_MS)
    assert (ticker.kind, ticker.events) == (FrameKind.IGNORED, ())
    ack = subject.parse("market", '{"result": null, "id": 1}', RECEIVE_MS)
    assert (ack.kind, ack.events) == (FrameKind.ACK, ())


def test_account_update_hedge_example_gives_two_legs_and_cross_wallets() -> None:
    """The documented ACCOUNT_UPDATE (hedge mode): balances with their cross wallets, the flat
    BOTH leg, and the LONG and SHORT legs as two positions with their own isolated wallets."""
    parsed = venue().parse("private", fixture_text("binance_usdm_ACCOUNT_UPDATE.json"), RECEIVE_MS)
    ts = 1564745798939
    # B[]: USDT wb "122624.12345678" cw "100.12345678"; BUSD wb "1.00000000" cw "0.00000000"
    assert parsed.events[:2] == (
        balance("USDT", 122624.12345678, ts, 100.12345678),
        balance("BUSD", 1.0, ts, 0.0),
    )
    assert parsed.events[2:] == (
        # ps "BOTH", pa "0", mt "isolated", iw "0.00000000": the one-way leg is flat
        position("binance:BTCUSDT", 0.0, 0.0, "isolated", 0.0, None, ts, "one_way"),
        # ps "LONG", pa "20", ep "6563.66500", iw "13200.70726908"
        position("binance:BTCUSDT", 20.0, 6563.665, "isolated", 13200.70726908, None, ts, "long"),
        # ps "SHORT": the wire has pa "-10" (negative in hedge mode too), ep "6563.86000",
        # iw "6570.42511771"; the short leg is -10 whatever the sign on the wire
        position("binance:BTCUSDT", -10.0, 6563.86, "isolated", 6570.42511771, None, ts, "short"),
    )
    assert not parsed.resync


def test_parsed_legs_balances_and_account_mode_survive_the_topic_codec() -> None:
    """The hedge example's events and an account mode decode (v2) to the events that were encoded."""
    subject = venue()
    events = [
        *subject.parse("private", fixture_text("binance_usdm_ACCOUNT_UPDATE.json"), RECEIVE_MS).events,
        *subject.parse(
            "private", fixture_text("binance_usdm_ACCOUNT_CONFIG_UPDATE_multi_assets.json"), RECEIVE_MS
        ).events,
    ]
    assert [decode(encode_event(event)) for event in events] == events
    assert [getattr(event, "position_side", None) for event in events] == [
        None, None, "one_way", "long", "short", None,
    ]


def test_account_update_open_and_closed_captures_are_one_way() -> None:
    """Real captures (``ps`` BOTH): an opened one-way position and its close with ``pa`` "0"."""
    subject = venue()
    opened = subject.parse(
        "private", fixture_text("binance_usdm_ACCOUNT_UPDATE_open_thirdparty_capture.json"), RECEIVE_MS
    )
    # wb = cw = "19.27388055"; pa "300", ep "0.02", mt "cross"
    assert opened.events == (
        balance("USDT", 19.27388055, 1704388422173, 19.27388055),
        position("binance:ACHUSDT", 300.0, 0.02, "cross", None, None, 1704388422173, "one_way"),
    )
    closed = subject.parse(
        "private", fixture_text("binance_usdm_ACCOUNT_UPDATE_closed_thirdparty_capture.json"),
        RECEIVE_MS,
    )
    assert closed.events == (
        balance("USDT", 19.26788205, 1704388431287, 19.26788205),
        position("binance:ACHUSDT", 0.0, 0.0, "cross", None, None, 1704388431287, "one_way"),
    )


def test_account_update_with_empty_positions_is_balances_only() -> None:
    """``"P":[]`` (a deposit) yields only the balance (wb = cw = "5735.79804855")."""
    parsed = venue().parse(
        "private", fixture_text("binance_usdm_ACCOUNT_UPDATE_deposit_emptyP_thirdparty_capture.json"),
        RECEIVE_MS,
    )
    assert parsed.events == (balance("USDT", 5735.79804855, 1688396711123, 5735.79804855),)
    assert not parsed.resync


def test_balance_without_cross_wallet_is_unknown_not_zero() -> None:
    """A balance entry without ``cw`` has ``cross_wallet`` None (the whole wallet), not 0."""
    update = {"e": "ACCOUNT_UPDATE", "E": 1, "T": 1, "a": {"B": [{"a": "USDT", "wb": "5"}], "P": []}}
    assert venue().parse("private", json.dumps(update), RECEIVE_MS).events == (
        balance("USDT", 5.0, 1, None),
    )


def test_hedge_leg_is_published_at_once_with_leverage_from_position_risk() -> None:
    """A lone LONG leg is a full position before any snapshot; after positionRisk it carries the
    symbol's leverage ("leverage": "4" in the hedge example)."""
    subject = venue()
    update = {
        "e": "ACCOUNT_UPDATE", "E": 1700000000000, "T": 1700000000000,
        "a": {"m": "ORDER", "B": [], "P": [{
            "s": "BTCUSDT", "pa": "0.003", "ep": "22000", "mt": "cross", "iw": "0", "ps": "LONG",
        }]},
    }
    before = subject.parse("private", json.dumps(update), RECEIVE_MS)
    assert before.events == (
        position("binance:BTCUSDT", 0.003, 22000.0, "cross", None, None, 1700000000000, "long"),
    )
    assert not before.resync
    request = subject.resync_requests(RECEIVE_MS)[0]
    body = fixture_text("binance_usdm_positionRisk_v2_hedge.json").encode()
    subject.parse_resync(request, body, RECEIVE_MS)
    after = subject.parse("private", json.dumps(update), RECEIVE_MS)
    assert after.events == (
        position("binance:BTCUSDT", 0.003, 22000.0, "cross", None, 4.0, 1700000000000, "long"),
    )


def test_hedge_legs_keep_their_signs_whatever_the_wire_sign() -> None:
    """A SHORT leg sent with a positive amount is still short, a LONG leg long; they never net."""
    update = {
        "e": "ACCOUNT_UPDATE", "E": 1, "T": 1,
        "a": {"B": [], "P": [
            {"s": "ETHUSDT", "pa": "2", "ep": "3000", "mt": "cross", "iw": "0", "ps": "LONG"},
            {"s": "ETHUSDT", "pa": "5", "ep": "3100", "mt": "cross", "iw": "0", "ps": "SHORT"},
        ]},
    }
    assert venue().parse("private", json.dumps(update), RECEIVE_MS).events == (
        position("binance:ETHUSDT", 2.0, 3000.0, "cross", None, None, 1, "long"),
        position("binance:ETHUSDT", -5.0, 3100.0, "cross", None, None, 1, "short"),
    )


def test_margin_call_requests_resync() -> None:
    """MARGIN_CALL (``mt`` "CROSSED") emits nothing and asks for a position resync."""
    parsed = venue(("ETHUSDT",)).parse("private", fixture_text("binance_usdm_MARGIN_CALL.json"), RECEIVE_MS)
    assert (parsed.kind, parsed.events, parsed.resync) == (FrameKind.DATA, (), True)


def test_listen_key_expired_with_string_event_time_reconnects() -> None:
    """``listenKeyExpired`` (``E`` is a string) asks for a reconnect; a non-numeric E is refused."""
    parsed = venue().parse("private", fixture_text("binance_usdm_listenKeyExpired.json"), RECEIVE_MS)
    assert (parsed.events, parsed.reconnect_reason) == ((), "listenKeyExpired")
    with pytest.raises(FrameError, match="epoch milliseconds"):
        venue().parse("private", '{"e":"listenKeyExpired","E":"soon","listenKey":"x"}', RECEIVE_MS)


def test_order_update_without_trade_is_ignored() -> None:
    """The documented NEW order update carries no fill."""
    parsed = venue().parse("private", fixture_text("binance_usdm_ORDER_TRADE_UPDATE.json"), RECEIVE_MS)
    assert (parsed.kind, parsed.events) == (FrameKind.IGNORED, ())


@pytest.mark.parametrize(("fee_asset", "fee_usd"), [("USDT", 0.00355152), ("BNB", 0.0)])
def test_order_trade_gives_signed_fill_with_fee(fee_asset: str, fee_usd: float) -> None:
    """A TRADE execution gives a signed FillEvent; a BNB fee cannot be priced and counts as 0."""
    payload = fixture_json("binance_usdm_ORDER_TRADE_UPDATE.json")
    assert isinstance(payload, dict)
    # fee 0.001 * 7103.04 * 0.0005 = 0.00355152 USDT
    payload["o"].update({
        "x": "TRADE", "X": "FILLED", "l": "0.001", "z": "0.001", "L": "7103.04",
        "n": "0.00355152", "N": fee_asset,
    })
    parsed = venue().parse("private", json.dumps(payload), RECEIVE_MS)
    assert parsed.events == (FillEvent(
        portfolio="alice", account="acct-1", instrument="binance:BTCUSDT", quantity=-0.001,
        price=7103.04, fee_usd=fee_usd, ts_event_ms=1568879465651, ts_receive_ms=RECEIVE_MS,
    ),)


def test_leverage_change_updates_the_position() -> None:
    """ACCOUNT_CONFIG_UPDATE ``ac`` re-publishes the known position with the new leverage."""
    subject = venue()
    subject.parse(
        "private", fixture_text("binance_usdm_ACCOUNT_UPDATE_open_thirdparty_capture.json"), RECEIVE_MS
    )
    parsed = subject.parse(
        "private", '{"e":"ACCOUNT_CONFIG_UPDATE","E":1704388500000,"T":1,"ac":{"s":"ACHUSDT","l":25}}',
        RECEIVE_MS,
    )
    assert parsed.events == (position("binance:ACHUSDT", 300.0, 0.02, "cross", None, 25.0, 1704388500000),)


def test_documented_leverage_update_applies_to_both_hedge_legs() -> None:
    """The documented ``ac`` payload (BTCUSDT ``l`` 25, ``E`` 1611646737479) after the hedge
    example: both open legs and the flat BOTH leg again, each with leverage 25; no account mode."""
    subject = venue()
    subject.parse("private", fixture_text("binance_usdm_ACCOUNT_UPDATE.json"), RECEIVE_MS)
    parsed = subject.parse(
        "private", fixture_text("binance_usdm_ACCOUNT_CONFIG_UPDATE_leverage.json"), RECEIVE_MS
    )
    ts = 1611646737479
    assert parsed.events == (
        position("binance:BTCUSDT", 0.0, 0.0, "isolated", 0.0, 25.0, ts, "one_way"),
        position("binance:BTCUSDT", 20.0, 6563.665, "isolated", 13200.70726908, 25.0, ts, "long"),
        position("binance:BTCUSDT", -10.0, 6563.86, "isolated", 6570.42511771, 25.0, ts, "short"),
    )


def test_documented_multi_assets_update_is_an_account_mode() -> None:
    """The documented ``ai`` payload (``"j": true``) is Multi-Assets Mode at ``E``."""
    parsed = venue().parse(
        "private", fixture_text("binance_usdm_ACCOUNT_CONFIG_UPDATE_multi_assets.json"), RECEIVE_MS
    )
    assert parsed.events == (AccountModeEvent("alice", "acct-1", True, 1611646737479, RECEIVE_MS),)
    off = venue().parse("private", '{"e":"ACCOUNT_CONFIG_UPDATE","E":5,"T":4,"ai":{"j":false}}', RECEIVE_MS)
    assert off.events == (AccountModeEvent("alice", "acct-1", False, 5, RECEIVE_MS),)
    for bad in ("true", 1, None):
        frame = json.dumps({"e": "ACCOUNT_CONFIG_UPDATE", "E": 5, "ai": {"j": bad}})
        with pytest.raises(FrameError, match="true or false"):
            venue().parse("private", frame, RECEIVE_MS)
    unknown = venue().parse("private", '{"e":"ACCOUNT_CONFIG_UPDATE","E":5,"T":4}', RECEIVE_MS)
    assert (unknown.kind, unknown.events) == (FrameKind.IGNORED, ())


def test_position_risk_one_way_and_hedge_snapshots() -> None:
    """positionRisk rows become full legs: the one-way example's flat BOTH row (and flat hedge
    legs of the configured, flat symbol), then the hedge example's open LONG leg."""
    subject = venue()
    positions = subject.resync_requests(RECEIVE_MS)[0]
    oneway = subject.parse_resync(
        positions, fixture_text("binance_usdm_positionRisk_v2_oneway.json").encode(), RECEIVE_MS
    )
    # positionSide "BOTH", positionAmt "0.000", isolated, isolatedWallet "0", leverage "10"
    assert oneway == (
        position("binance:BTCUSDT", 0.0, 0.0, "isolated", 0.0, 10.0, RECEIVE_MS, "one_way"),
        flat("binance:BTCUSDT", "long"),
        flat("binance:BTCUSDT", "short"),
    )
    hedge = subject.parse_resync(
        positions, fixture_text("binance_usdm_positionRisk_v2_hedge.json").encode(), RECEIVE_MS
    )
    # LONG positionAmt "0.001" @ "22185.2", cross, leverage "4", liquidationPrice "19731.45529116";
    # SHORT "0.000" was never open (the one-way row's liquidationPrice "0" is none: unknown)
    assert hedge == (replace(
        position("binance:BTCUSDT", 0.001, 22185.2, "cross", None, 4.0, RECEIVE_MS, "long"),
        venue_liquidation_price=19731.45529116),)


def test_account_snapshot_balances_carry_the_cross_wallet() -> None:
    """The documented ``GET /fapi/v2/account`` (single-asset mode) assets: ``walletBalance`` is the
    quantity, ``crossWalletBalance`` the cross wallet, both stamped with the receive time."""
    subject = venue()
    request = subject.resync_requests(RECEIVE_MS)[1]
    body = fixture_text("binance_usdm_account_v2_single_asset.json").encode()
    # USDT walletBalance = crossWalletBalance = "23.72469206"; BUSD both "103.12345678"
    assert subject.parse_resync(request, body, RECEIVE_MS) == (
        balance("USDT", 23.72469206, RECEIVE_MS, 23.72469206),
        balance("BUSD", 103.12345678, RECEIVE_MS, 103.12345678),
    )
    bare = json.dumps({"assets": [{"asset": "BNB", "walletBalance": "0.00000000"}]}).encode()
    assert subject.parse_resync(request, bare, RECEIVE_MS) == (balance("BNB", 0.0, RECEIVE_MS, None),)


def test_multi_assets_margin_resync_is_an_account_mode() -> None:
    """The documented ``GET /fapi/v1/multiAssetsMargin`` answer ``{"multiAssetsMargin": true}``
    is Multi-Assets Mode, stamped with the receive time; a non-boolean is refused."""
    subject = venue()
    request = subject.resync_requests(RECEIVE_MS)[2]
    body = fixture_text("binance_usdm_multiAssetsMargin.json").encode()
    assert subject.parse_resync(request, body, RECEIVE_MS) == (
        AccountModeEvent("alice", "acct-1", True, RECEIVE_MS, RECEIVE_MS),
    )
    assert subject.parse_resync(request, b'{"multiAssetsMargin": false}', RECEIVE_MS) == (
        AccountModeEvent("alice", "acct-1", False, RECEIVE_MS, RECEIVE_MS),
    )
    for bad in (b'{"multiAssetsMargin": "true"}', b"{}", b"[]"):
        with pytest.raises(FrameError):
            subject.parse_resync(request, bad, RECEIVE_MS)


def test_resync_error_response_is_a_frame_error() -> None:
    """A Binance error body on a resync raises FrameError with the code."""
    subject = venue()
    request = subject.resync_requests(RECEIVE_MS)[0]
    with pytest.raises(FrameError, match="-1022"):
        subject.parse_resync(request, b'{"code":-1022,"msg":"Signature invalid."}', RECEIVE_MS)


def test_market_plan_uses_routed_market_url() -> None:
    """markPrice@1s streams go to the routed ``/market`` URL with a 23.5 h connection age."""
    plan = venue(("BTCUSDT", "ETHUSDT")).connect_plan("market", RECEIVE_MS, None)
    assert plan.url == (
        "wss://fstream.binance.com/market/stream?streams=btcusdt@markPrice@1s/ethusdt@markPrice@1s"
    )
    assert plan.on_open == ()
    assert plan.ping_frame is None
    assert plan.max_connection_age_s == 23.5 * 3600  # before Binance's 24 h disconnect


def test_private_stream_listen_key_lifecycle() -> None:
    """POST listenKey, connect to ``/private/ws?listenKey=``, PUT keepalive every 30 minutes."""
    subject = venue()
    assert subject.stream_setup("market", RECEIVE_MS) is None
    setup = subject.stream_setup("private", RECEIVE_MS)
    assert setup is not None
    assert (setup.method, setup.base_url, setup.path) == (
        "POST", "https://fapi.binance.com", "/fapi/v1/listenKey",
    )
    assert dict(setup.headers) == {"X-MBX-APIKEY": CANARY_KEY}
    body = b'{"listenKey":"pqia91ma19a5s61cv6a81va65sdf19v8a65a1a5s61cv6a81va65sdf19v8a65a1"}'
    plan = subject.connect_plan("private", RECEIVE_MS, body)
    assert plan.url == (
        "wss://fstream.binance.com/private/ws?listenKey="
        "pqia91ma19a5s61cv6a81va65sdf19v8a65a1a5s61cv6a81va65sdf19v8a65a1"
    )
    assert plan.keepalive_interval_s == 1800.0  # the key lives 60 minutes
    keepalive = subject.keepalive_request("private", RECEIVE_MS)
    assert keepalive is not None
    assert (keepalive.method, keepalive.path) == ("PUT", "/fapi/v1/listenKey")
    assert subject.keepalive_request("market", RECEIVE_MS) is None
    with pytest.raises(FrameError, match="listenKey"):
        subject.connect_plan("private", RECEIVE_MS, b'{"listenKey":"../../evil?x="}')
    with pytest.raises(FrameError):
        subject.connect_plan("private", RECEIVE_MS, None)


def test_resync_requests_are_signed() -> None:
    """positionRisk, account and multiAssetsMargin are signed: HMAC-SHA256 hex of
    ``recvWindow=5000&timestamp=..``."""
    requests = venue().resync_requests(1499827319559)
    expected = hmac.new(
        CANARY_HMAC.encode(), b"recvWindow=5000&timestamp=1499827319559", hashlib.sha256
    ).hexdigest()
    assert [(request.purpose, request.path) for request in requests] == [
        ("positions", "/fapi/v2/positionRisk"),
        ("balances", "/fapi/v2/account"),
        ("account-mode", "/fapi/v1/multiAssetsMargin"),
        ("adl", "/fapi/v1/adlQuantile"),
    ]
    for request in requests:
        assert request.method == "GET"
        assert request.query == (
            ("recvWindow", "5000"), ("timestamp", "1499827319559"), ("signature", expected),
        )
        assert dict(request.headers) == {"X-MBX-APIKEY": CANARY_KEY}
    assert venue(private=False).resync_requests(RECEIVE_MS) == ()


def test_reset_keeps_open_legs_for_the_next_snapshot() -> None:
    """After a private reset the legs reported open are remembered: a snapshot without the SHORT
    leg closes it, and the LONG leg is reported from the snapshot."""
    subject = venue()
    subject.parse("private", fixture_text("binance_usdm_ACCOUNT_UPDATE.json"), RECEIVE_MS)
    subject.reset("private")
    request = subject.resync_requests(RECEIVE_MS)[0]
    body = fixture_text("binance_usdm_positionRisk_v2_hedge.json").encode()
    # hedge positionRisk: LONG 0.001 @ 22185.2 (cross, leverage 4); SHORT 0.000 closes the -10 leg
    assert subject.parse_resync(request, body, RECEIVE_MS) == (
        replace(position("binance:BTCUSDT", 0.001, 22185.2, "cross", None, 4.0, RECEIVE_MS, "long"),
                venue_liquidation_price=19731.45529116),
        position("binance:BTCUSDT", 0.0, 0.0, "cross", None, 4.0, RECEIVE_MS, "short"),
    )


def test_account_event_without_account_is_a_frame_error() -> None:
    """User-data events on a public-only venue cannot be attributed and are refused."""
    with pytest.raises(FrameError, match="without an account"):
        venue(private=False).parse(
            "market", fixture_text("binance_usdm_ACCOUNT_UPDATE.json"), RECEIVE_MS
        )


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        ('{"e":"markPriceUpdate","E":1,"s":"BTCUSDT","p":"1', "invalid JSON"),
        ('{"e":"markPriceUpdate","E":1,"s":"BTCUSDT","p":"NaN"}', "decimal number"),
        ('{"e":"markPriceUpdate","E":1,"s":"BTCUSDT","p":""}', "decimal number"),
        ('{"e":"markPriceUpdate","E":1,"s":"BTCUSDT"}', "missing field 'p'"),
        ('{"e":"markPriceUpdate","E":1,"s":"BTCUSDT","p":"-5"}', "mark must be > 0"),
        ('{"code": 2, "msg": "Invalid request"}', "error response"),
        ("[1, 2]", "must be a JSON object"),
        ('"text"', "must be a JSON object"),
    ],
)
def test_malformed_frames_raise_frame_error(frame: str, reason: str) -> None:
    """Truncated, non-finite, empty, missing or out-of-domain values raise FrameError."""
    with pytest.raises(FrameError, match=reason):
        venue().parse("market", frame, RECEIVE_MS)


def test_oversized_frame_and_list_are_refused() -> None:
    """Frames over MAX_FRAME_BYTES and arrays over MAX_LIST_ITEMS raise FrameError."""
    with pytest.raises(FrameError, match="exceeds"):
        venue().parse("market", " " * (MAX_FRAME_BYTES + 1), RECEIVE_MS)
    item = {"e": "markPriceUpdate", "E": 1, "s": "X", "p": "1"}
    with pytest.raises(FrameError, match="at most"):
        venue().parse("market", json.dumps([item] * (MAX_LIST_ITEMS + 1)), RECEIVE_MS)


@pytest.mark.parametrize(
    "name",
    [
        "binance_usdm_markPrice_combined.json",
        "binance_usdm_markPrice_arr.json",
        "binance_usdm_ACCOUNT_UPDATE.json",
        "binance_usdm_ACCOUNT_UPDATE_open_thirdparty_capture.json",
        "binance_usdm_ORDER_TRADE_UPDATE.json",
        "binance_usdm_MARGIN_CALL.json",
        "binance_usdm_listenKeyExpired.json",
        "binance_usdm_ACCOUNT_CONFIG_UPDATE_leverage.json",
        "binance_usdm_ACCOUNT_CONFIG_UPDATE_multi_assets.json",
    ],
)
def test_every_field_mutation_gives_parsed_or_frame_error(name: str) -> None:
    """Deleting or corrupting any single field never lets another exception escape."""
    subject = venue(("BTCUSDT", "ETHUSDT"))
    count = assert_only_frame_errors(
        lambda frame: subject.parse("private", frame, RECEIVE_MS), fixture_json(name)
    )
    assert count > 10


@pytest.mark.parametrize(
    ("purpose", "name"),
    [
        ("positions", "binance_usdm_positionRisk_v2_hedge.json"),
        ("balances", "binance_usdm_account_v2_single_asset.json"),
        ("account-mode", "binance_usdm_multiAssetsMargin.json"),
        ("adl", "binance_usdm_adlQuantile.json"),
    ],
)
def test_resync_mutations_give_events_or_frame_error(purpose: str, name: str) -> None:
    """Corrupting any field of a resync body never lets another exception escape."""
    subject = venue()
    request = {r.purpose: r for r in subject.resync_requests(RECEIVE_MS)}[purpose]

    reasons: list[str] = []
    for body in mutations(fixture_json(name)):
        try:
            subject.parse_resync(request, body.encode(), RECEIVE_MS)
        except FrameError as error:
            reasons.append(error.reason)
    assert reasons
    assert not any(leaked(reason) for reason in reasons)


def test_secrets_never_leak() -> None:
    """Canary credentials appear in no repr of the venue, plans, requests or error reasons."""
    subject = venue()
    texts = [repr(subject)]
    setup = subject.stream_setup("private", RECEIVE_MS)
    texts += [repr(setup), repr(subject.keepalive_request("private", RECEIVE_MS))]
    texts += [repr(plan) for plan in (
        subject.connect_plan("market", RECEIVE_MS, None),
        subject.connect_plan("private", RECEIVE_MS, b'{"listenKey":"abc"}'),
    )]
    texts += [repr(request) for request in subject.resync_requests(RECEIVE_MS)]
    for frame in ("{", '{"e":"ACCOUNT_UPDATE"}', '{"e":"ORDER_TRADE_UPDATE","o":{}}'):
        with pytest.raises(FrameError) as error:
            subject.parse("private", frame, RECEIVE_MS)
        texts.append(str(error.value))
    assert not any(leaked(text) for text in texts)


def test_adl_quantiles_are_published_on_the_known_legs() -> None:
    """The documented adlQuantile example: BTCUSDT LONG 1, SHORT 2, BOTH 0 (of 0-4); only the
    known open LONG leg of the hedge positionRisk is published again, with its rank 1 of top 4 and
    its liquidation price kept; ETHUSDT (no leg known, ``HEDGE`` only a sign) gives nothing."""
    subject = venue()
    requests = {r.purpose: r for r in subject.resync_requests(RECEIVE_MS)}
    subject.parse_resync(requests["positions"],
                         fixture_text("binance_usdm_positionRisk_v2_hedge.json").encode(), RECEIVE_MS)
    events = subject.parse_resync(requests["adl"],
                                  fixture_text("binance_usdm_adlQuantile.json").encode(), RECEIVE_MS)
    long_leg = replace(
        position("binance:BTCUSDT", 0.001, 22185.2, "cross", None, 4.0, RECEIVE_MS, "long"),
        venue_liquidation_price=19731.45529116, adl_rank=1, adl_rank_top=4)
    # SHORT 0.000 is a known (flat) leg: published flat, a flat leg carries no figures
    short_leg = position("binance:BTCUSDT", 0.0, 0.0, "cross", None, 4.0, RECEIVE_MS, "short")
    assert events == (long_leg, short_leg)
    with pytest.raises(FrameError, match="adlQuantile LONG must be an integer 0-4"):
        subject.parse_resync(requests["adl"],
                             b'[{"symbol":"BTCUSDT","adlQuantile":{"LONG":5}}]', RECEIVE_MS)


@pytest.mark.parametrize(("client_id", "execution", "order_type", "forced"), [
    ("adl_autoclose", "TRADE", "MARKET", "adl"),
    ("autoclose-1568879465650", "CALCULATED", "LIQUIDATION", "liquidation"),
    ("autoclose-1568879465650", "TRADE", "MARKET", "liquidation"),
    ("TEST", "CALCULATED", "MARKET", "liquidation"),
    ("TEST", "TRADE", "MARKET", None),
])
def test_liquidation_and_adl_fills_are_flagged(
    client_id: str, execution: str, order_type: str, forced: str | None
) -> None:
    """"Event: Order Update" special client order ids: ``autoclose-`` liquidation, ``adl_autoclose``
    ADL; execution type CALCULATED is a liquidation execution."""
    frame = json.loads(fixture_text("binance_usdm_ORDER_TRADE_UPDATE.json"))
    frame["o"].update({"c": client_id, "x": execution, "o": order_type, "l": "0.001", "L": "7100"})
    (fill,) = venue().parse("private", json.dumps(frame), RECEIVE_MS).events
    assert isinstance(fill, FillEvent)
    assert fill.forced == forced
    assert fill.quantity == -0.001  # side SELL


def test_portfolio_margin_account_is_the_buffer_figure() -> None:
    """The documented ``GET /papi/v1/account``: uniMMR "5167.92171923" (= accountEquity
    122607.35137903 / accountMaintMargin 23.72469206), status NORMAL, updateTime 1657707212154.
    Ratio 1 / 5167.92171923 = 0.000193501; liquidation at uniMMR 1.05, i.e. ratio 1 / 1.05 =
    0.952381; initial margin ratio 23.72469206 / 122607.35137903 = 0.000193501."""
    subject = BinanceUsdm(symbols=("BTCUSDT",), account=account(), portfolio_margin=True)
    request = {r.purpose: r for r in subject.resync_requests(RECEIVE_MS)}["pm-account"]
    assert (request.base_url, request.path) == ("https://papi.binance.com", "/papi/v1/account")
    (event,) = subject.parse_resync(request, fixture_text("binance_papi_account.json").encode(), RECEIVE_MS)
    assert event == AccountMarginEvent(
        "alice", "acct-1", "portfolio_margin", "uniMMR", 5167.92171923, 1 / 5167.92171923, 1 / 1.05,
        122607.35137903, 23.72469206, 23.72469206 / 122607.35137903, "NORMAL", 1657707212154, RECEIVE_MS)
    assert event.maintenance_margin_ratio == pytest.approx(0.000193501, rel=1e-5)
    assert event.maintenance_margin_ratio == pytest.approx(23.72469206 / 122607.35137903, rel=1e-6)
    assert "pm-account" not in {r.purpose for r in venue().resync_requests(RECEIVE_MS)}
