"""Bybit v5 venue: ticker snapshot/delta merge, control frames, positions, wallet, REST resync."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import replace

import pytest

from monitor.domain.events import (
    AccountMarginEvent,
    BalanceEvent,
    FillEvent,
    MarginMode,
    PositionEvent,
    PositionSide,
    PriceEvent,
)
from monitor.venues.base import FrameError, FrameKind, Venue
from monitor.venues.bybit import Bybit
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


def venue(symbols: tuple[str, ...] = ("BTCUSDT",), *, private: bool = True) -> Bybit:
    """A Bybit venue with the canary account (or public only)."""
    return Bybit(symbols=symbols, account=account() if private else None)


def position(symbol: str, quantity: float, entry: float, mode: MarginMode, margin: float | None,
             leverage: float | None, ts: int, side: PositionSide = "one_way",
             risk_limit: float | None = None) -> PositionEvent:
    """The expected canonical position (one leg) of the canary account."""
    return PositionEvent(
        portfolio="alice", account="acct-1", instrument=f"bybit:{symbol}", quantity=quantity,
        entry_price=entry, leverage=leverage, margin_mode=mode,
        isolated_margin=margin, ts_event_ms=ts, ts_receive_ms=RECEIVE_MS, position_side=side,
        risk_limit_value=risk_limit,
    )


def flats(symbol: str) -> tuple[PositionEvent, ...]:
    """Every leg of a configured symbol that a complete snapshot does not list, flat."""
    return tuple(position(symbol, 0.0, 0.0, "cross", None, None, RECEIVE_MS, side)
                 for side in ("one_way", "long", "short"))


def position_list(rows: list[dict[str, object]], category: str = "linear") -> bytes:
    """A ``/v5/position/list`` response body (rows carry ``avgPrice`` and no ``category``)."""
    body = {"retCode": 0, "retMsg": "OK", "result": {"list": rows, "category": category}}
    return json.dumps(body).encode()


def rest_positions(subject: Bybit, rows: list[dict[str, object]]) -> tuple[object, ...]:
    """A resync round whose USDT list holds ``rows`` and whose USDC and inverse lists are empty."""
    _, usdt, usdc, inverse, _ = subject.resync_requests(RECEIVE_MS)
    assert subject.parse_resync(usdt, position_list(rows), RECEIVE_MS) == ()
    assert subject.parse_resync(usdc, position_list([]), RECEIVE_MS) == ()
    return subject.parse_resync(inverse, position_list([], "inverse"), RECEIVE_MS)


def rest_row(side: str, size: str, index: int = 0, **extra: object) -> dict[str, object]:
    """One position-list row shaped like the docs' example."""
    row: dict[str, object] = {
        "positionIdx": index, "symbol": "BTCUSDT", "side": side, "size": size, "avgPrice": "60000",
        "tradeMode": 0, "leverage": "10", "positionBalance": "3000", "unrealisedPnl": "0",
    }
    row.update(extra)
    return row


def test_is_a_venue() -> None:
    """The class satisfies the Venue protocol and names its instruments ``bybit:``."""
    subject = venue()
    assert isinstance(subject, Venue)
    assert subject.name == "bybit"
    assert venue(private=False).stream_names() == ("market",)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("bybit_linear_ticker_snapshot.json", PriceEvent(
            "bybit:BTCUSDT", 66666.6, 115418.19, -0.005, 1760342400000, 1760325052630, RECEIVE_MS,
        )),
        ("bybit_linear_ticker_snapshot_2023.json", PriceEvent(
            "bybit:BTCUSDT", 17217.33, 17227.36, -0.000212, 1673280000000, 1673272861686, RECEIVE_MS,
        )),
        # dated future: fundingRate "" and nextFundingTime "" mean no funding
        ("bybit_linear_futures_ticker_snapshot.json", PriceEvent(
            "bybit:BTC-26DEC25", 121144.63, 114132.51, None, None, 1760409119857, RECEIVE_MS,
        )),
    ],
)
def test_ticker_snapshots(name: str, expected: PriceEvent) -> None:
    """Each documented ticker snapshot becomes the exact PriceEvent."""
    parsed = venue().parse("market", fixture_text(name), RECEIVE_MS)
    assert (parsed.kind, parsed.events) == (FrameKind.DATA, (expected,))


def test_delta_merge_keeps_unchanged_fields() -> None:
    """A bid-only delta emits nothing; a later mark delta keeps the snapshot's index and funding."""
    subject = venue()
    subject.parse("market", fixture_text("bybit_linear_ticker_snapshot.json"), RECEIVE_MS)
    bid_only = subject.parse("market", fixture_text("bybit_linear_ticker_delta_thirdparty_capture.json"), 1)
    assert (bid_only.kind, bid_only.events) == (FrameKind.DATA, ())
    mark_delta = {"topic": "tickers.BTCUSDT", "type": "delta", "cs": 793092205005, "ts": 1787590406083,
                  "data": {"symbol": "BTCUSDT", "markPrice": "66700.10"}}
    parsed = subject.parse("market", json.dumps(mark_delta), RECEIVE_MS)
    assert parsed.events == (PriceEvent(
        "bybit:BTCUSDT", 66700.1, 115418.19, -0.005, 1760342400000, 1787590406083, RECEIVE_MS,
    ),)
    funding_delta = {"topic": "tickers.BTCUSDT", "type": "delta", "cs": 1, "ts": 1787590406183,
                     "data": {"symbol": "BTCUSDT", "fundingRate": "0.0001"}}
    (event,) = subject.parse("market", json.dumps(funding_delta), RECEIVE_MS).events
    assert isinstance(event, PriceEvent)
    assert (event.mark, event.funding_rate) == (66700.1, 0.0001)


def test_delta_before_snapshot_waits() -> None:
    """After a reset, deltas are skipped until the fresh snapshot arrives."""
    subject = venue()
    subject.parse("market", fixture_text("bybit_linear_ticker_snapshot.json"), RECEIVE_MS)
    subject.reset("market")
    mark_delta = {"topic": "tickers.BTCUSDT", "type": "delta", "ts": 1,
                  "data": {"symbol": "BTCUSDT", "markPrice": "1"}}
    assert subject.parse("market", json.dumps(mark_delta), RECEIVE_MS).events == ()


def test_malformed_delta_leaves_state_unchanged() -> None:
    """A delta with a non-numeric mark raises FrameError and does not corrupt the snapshot."""
    subject = venue()
    subject.parse("market", fixture_text("bybit_linear_ticker_snapshot.json"), RECEIVE_MS)
    bad = {"topic": "tickers.BTCUSDT", "type": "delta", "ts": 1,
           "data": {"symbol": "BTCUSDT", "markPrice": ""}}
    with pytest.raises(FrameError, match="markPrice"):
        subject.parse("market", json.dumps(bad), RECEIVE_MS)
    good = {"topic": "tickers.BTCUSDT", "type": "delta", "ts": 2,
            "data": {"symbol": "BTCUSDT", "indexPrice": "2"}}
    (event,) = subject.parse("market", json.dumps(good), RECEIVE_MS).events
    assert isinstance(event, PriceEvent)
    assert (event.mark, event.index) == (66666.6, 2.0)


@pytest.mark.parametrize(
    ("name", "stream", "kind"),
    [
        ("bybit_pong_linear.json", "market", FrameKind.PONG),
        ("bybit_pong_private.json", "private", FrameKind.PONG),
        ("bybit_subscribe_ack_linear.json", "market", FrameKind.ACK),
        ("bybit_subscribe_ack_private.json", "private", FrameKind.ACK),
    ],
)
def test_control_frames(name: str, stream: str, kind: FrameKind) -> None:
    """Pongs (``op`` "ping" on public, "pong" on private) and subscribe acks carry no events."""
    parsed = venue().parse(stream, fixture_text(name), RECEIVE_MS)
    assert (parsed.kind, parsed.events, parsed.replies) == (kind, (), ())


def test_auth_success_replies_with_private_subscription() -> None:
    """The subscription to position, wallet and execution is sent only after the auth success."""
    parsed = venue().parse("private", fixture_text("bybit_auth_success.json"), RECEIVE_MS)
    assert parsed.kind is FrameKind.ACK
    (reply,) = parsed.replies
    assert json.loads(reply) == {
        "req_id": "subscribe", "op": "subscribe", "args": ["position", "wallet", "execution"]}


def test_auth_failure_reconnects_and_subscribe_failure_is_an_error() -> None:
    """A rejected auth asks for a reconnect; a rejected subscription raises FrameError."""
    subject = venue()
    failed = subject.parse("private", '{"success":false,"ret_msg":"error sign!","op":"auth"}', 1)
    assert failed.reconnect_reason == "bybit: authentication failed"
    with pytest.raises(FrameError, match="subscribe rejected"):
        subject.parse("market", '{"success":false,"ret_msg":"Invalid topic","op":"subscribe"}', 1)


def test_plans_and_frames() -> None:
    """Public linear URL with ticker topics; private URL with the documented auth frame."""
    subject = venue(("BTCUSDT", "ETHUSDT"))
    market = subject.connect_plan("market", RECEIVE_MS, None)
    assert market.url == "wss://stream.bybit.com/v5/public/linear"
    assert [json.loads(frame) for frame in market.on_open] == [
        {"op": "subscribe", "args": ["tickers.BTCUSDT", "tickers.ETHUSDT"]},
    ]
    assert json.loads(market.ping_frame or "") == {"op": "ping"}
    private = subject.connect_plan("private", 1662350390000, None)
    assert private.url == "wss://stream.bybit.com/v5/private"
    (auth,) = private.on_open
    expires = 1662350400000  # now + 10 s
    signature = hmac.new(CANARY_HMAC.encode(), f"GET/realtime{expires}".encode(), hashlib.sha256).hexdigest()
    assert json.loads(auth) == {"req_id": "auth", "op": "auth", "args": [CANARY_KEY, expires, signature]}
    assert subject.stream_setup("private", 1) is None
    assert subject.keepalive_request("private", 1) is None


def test_subscriptions_are_chunked_by_ten() -> None:
    """At most 10 topics go in one subscribe request."""
    symbols = tuple(f"COIN{i}USDT" for i in range(12))
    plan = venue(symbols, private=False).connect_plan("market", 1, None)
    assert [len(json.loads(frame)["args"]) for frame in plan.on_open] == [10, 2]


def test_position_fixture_is_the_flat_short_leg_with_its_risk_limit() -> None:
    """The documented stream example (``positionIdx`` 2, ``side`` "", ``size`` "0",
    ``riskLimitValue`` "2000000", ``leverage`` "10", ``tradeMode`` 0) is the hedge-mode short leg,
    flat, published without waiting for a snapshot."""
    parsed = venue().parse("private", fixture_text("bybit_position.json"), RECEIVE_MS)
    assert parsed.events == (
        position("BTCUSDT", 0.0, 0.0, "cross", None, 10.0, 1697682317044, "short", 2_000_000.0),
    )
    assert not parsed.resync


def test_documented_inverse_position_list_is_one_way() -> None:
    """The documented ``/v5/position/list?category=inverse`` row (``positionIdx`` 0, Sell 300 @
    27464.50441675, ``riskLimitValue`` "150", ``leverage`` "10", ``tradeMode`` 0) is one one-way
    short of 300 contracts, cross, risk limit 150 (BTC, the settlement coin of BTCUSD)."""
    subject = venue(("BTCUSD",))
    _, usdt, usdc, inverse, _ = subject.resync_requests(RECEIVE_MS)
    subject.parse_resync(usdt, position_list([]), RECEIVE_MS)
    subject.parse_resync(usdc, position_list([]), RECEIVE_MS)
    events = subject.parse_resync(
        inverse, fixture_text("bybit_position_list_inverse.json").encode(), RECEIVE_MS)
    # the venue's own figures: liqPrice "" (none: unknown), positionMM "0.0000015" BTC,
    # adlRankIndicator 2 of 0-5
    assert events == (replace(
        position("BTCUSD", -300.0, 27464.50441675, "cross", None, 10.0, RECEIVE_MS, "one_way", 150.0),
        venue_maintenance_margin=0.0000015, adl_rank=2, adl_rank_top=5),
    )


def test_isolated_margin_is_position_balance_not_initial_margin() -> None:
    """The documented inverse row with ``tradeMode`` 1 (isolated): ``positionBalance``
    "0.00139186" ("Position margin" = initial margin + fee to close) is the isolated wallet, not
    ``positionIM`` "0.00010923"."""
    subject = venue(("BTCUSD",))
    document = fixture_json("bybit_position_list_inverse.json")
    assert isinstance(document, dict)
    document["result"]["list"][0]["tradeMode"] = 1
    _, usdt, usdc, inverse, _ = subject.resync_requests(RECEIVE_MS)
    subject.parse_resync(usdt, position_list([]), RECEIVE_MS)
    subject.parse_resync(usdc, position_list([]), RECEIVE_MS)
    (event,) = subject.parse_resync(inverse, json.dumps(document).encode(), RECEIVE_MS)
    assert isinstance(event, PositionEvent)
    assert (event.margin_mode, event.isolated_margin) == ("isolated", 0.00139186)


@pytest.mark.parametrize("value", ["", "0"])
def test_portfolio_margin_risk_limit_is_unknown(value: str) -> None:
    """``riskLimitValue`` "" (stream) or "0" (REST) under portfolio margin reads as None."""
    subject = venue()
    events = rest_positions(subject, [rest_row("Buy", "1", riskLimitValue=value)])
    assert events[0] == position("BTCUSDT", 1.0, 60000.0, "cross", None, 10.0, RECEIVE_MS)


def test_rest_positions_and_account_margin_mode() -> None:
    """Position list rows become signed positions; ISOLATED_MARGIN accounts report positionBalance."""
    subject = venue()
    assert rest_positions(subject, [rest_row("Sell", "0.5")]) == (
        position("BTCUSDT", -0.5, 60000.0, "cross", None, 10.0, RECEIVE_MS),
    )
    info_request = subject.resync_requests(RECEIVE_MS)[0]
    info = {"retCode": 0, "result": {"marginMode": "ISOLATED_MARGIN", "unifiedMarginStatus": 4}}
    assert subject.parse_resync(info_request, json.dumps(info).encode(), RECEIVE_MS) == ()
    assert rest_positions(subject, [rest_row("Sell", "0.5")]) == (
        position("BTCUSDT", -0.5, 60000.0, "isolated", 3000.0, 10.0, RECEIVE_MS),
    )


def test_position_snapshot_spans_all_lists() -> None:
    """The position snapshot loads once all three lists (USDT, USDC, inverse) have arrived."""
    subject = venue(())
    _, usdt, usdc, inverse, _ = subject.resync_requests(RECEIVE_MS)
    assert subject.parse_resync(usdt, position_list([rest_row("Buy", "1")]), RECEIVE_MS) == ()
    usdc_row = rest_row("Sell", "2", symbol="ETHPERP", avgPrice="3000")
    assert subject.parse_resync(usdc, position_list([usdc_row]), RECEIVE_MS) == ()
    inverse_row = rest_row("Sell", "100", symbol="BTCUSD", avgPrice="50000")
    assert subject.parse_resync(inverse, position_list([inverse_row], "inverse"), RECEIVE_MS) == (
        position("BTCUSDT", 1.0, 60000.0, "cross", None, 10.0, RECEIVE_MS),
        position("ETHPERP", -2.0, 3000.0, "cross", None, 10.0, RECEIVE_MS),
        position("BTCUSD", -100.0, 50000.0, "cross", None, 10.0, RECEIVE_MS),
    )
    # a retried list after the round completed is not a snapshot on its own
    assert subject.parse_resync(usdt, position_list([]), RECEIVE_MS) == ()


def test_classic_trade_mode_isolated() -> None:
    """``tradeMode`` 1 (classic accounts) means isolated even when the account mode is regular."""
    subject = venue()
    events = rest_positions(subject, [rest_row("Buy", "0.2", tradeMode=1, positionBalance="1200.5")])
    assert events == (position("BTCUSDT", 0.2, 60000.0, "isolated", 1200.5, 10.0, RECEIVE_MS),)


def test_hedge_legs_are_published_apart() -> None:
    """positionIdx 1 (Buy 0.3 @ 60000) and 2 (Sell 0.1 @ 62000) are the long and short legs."""
    frame = {"id": "x", "topic": "position", "creationTime": 1700000000000, "data": [
        {"category": "linear", "symbol": "BTCUSDT", "positionIdx": 1, "side": "Buy", "size": "0.3",
         "entryPrice": "60000", "leverage": "10", "tradeMode": 0, "positionBalance": "0",
         "riskLimitValue": "2000000"},
        {"category": "linear", "symbol": "BTCUSDT", "positionIdx": 2, "side": "Sell", "size": "0.1",
         "entryPrice": "62000", "leverage": "10", "tradeMode": 0, "positionBalance": "0",
         "riskLimitValue": "2000000"},
    ]}
    assert venue().parse("private", json.dumps(frame), RECEIVE_MS).events == (
        position("BTCUSDT", 0.3, 60000.0, "cross", None, 10.0, 1700000000000, "long", 2_000_000.0),
        position("BTCUSDT", -0.1, 62000.0, "cross", None, 10.0, 1700000000000, "short", 2_000_000.0),
    )


def test_side_contradicting_the_position_index_is_refused() -> None:
    """``positionIdx`` 1 is the Buy side: a Sell position there is a FrameError."""
    frame = {"topic": "position", "creationTime": 1, "data": [
        {"category": "linear", "symbol": "BTCUSDT", "positionIdx": 1, "side": "Sell", "size": "0.3",
         "entryPrice": "60000"},
    ]}
    with pytest.raises(FrameError, match="positionIdx 1"):
        venue().parse("private", json.dumps(frame), RECEIVE_MS)


def test_snapshot_closes_a_vanished_position() -> None:
    """A symbol open in the last snapshot but absent from the next one is published flat; a
    configured symbol with nothing open is flat in every leg."""
    subject = venue(("ETHUSDT",))
    first = rest_positions(subject, [rest_row("Buy", "1")])
    assert first == (position("BTCUSDT", 1.0, 60000.0, "cross", None, 10.0, RECEIVE_MS), *flats("ETHUSDT"))
    subject.reset("private")
    assert rest_positions(subject, []) == (
        position("BTCUSDT", 0.0, 0.0, "cross", None, None, RECEIVE_MS), *flats("ETHUSDT"),
    )


def test_option_positions_are_skipped() -> None:
    """Option rows of the all-in-one position topic are not futures positions."""
    subject = venue()
    rest_positions(subject, [])
    frame = {"topic": "position", "creationTime": 1, "data": [
        {"category": "option", "symbol": "BTC-29JUL22-25000-C", "positionIdx": 0, "side": "Buy",
         "size": "1", "entryPrice": "100"},
    ]}
    assert subject.parse("private", json.dumps(frame), RECEIVE_MS).events == ()


def test_wallet_stream_and_rest() -> None:
    """Wallet coins become wallet balances (stream: creationTime; REST: receive time)."""
    subject = venue()
    parsed = subject.parse("private", fixture_text("bybit_wallet.json"), RECEIVE_MS)
    # the UNIFIED account's own figures: accountMMRate "0", accountIMRate "0",
    # totalMaintenanceMargin "0", totalMarginBalance "9684.46297164" (nothing open: rate 0)
    margin = AccountMarginEvent("alice", "acct-1", "unified", "accountMMRate", 0.0, 0.0, 1.0,
                                9684.46297164, 0.0, 0.0, None, 1700034722104, RECEIVE_MS)
    assert parsed.events == (
        BalanceEvent("alice", "acct-1", "BTC", 0.00102964, 1700034722104, RECEIVE_MS), margin)
    wallet = fixture_json("bybit_wallet.json")
    assert isinstance(wallet, dict)
    body = {"retCode": 0, "retMsg": "OK", "result": {"list": wallet["data"]}}
    request = subject.resync_requests(RECEIVE_MS)[-1]
    assert subject.parse_resync(request, json.dumps(body).encode(), RECEIVE_MS) == (
        BalanceEvent("alice", "acct-1", "BTC", 0.00102964, RECEIVE_MS, RECEIVE_MS),
        replace(margin, ts_event_ms=RECEIVE_MS),
    )
    classic = {**wallet["data"][0], "accountType": "CONTRACT", "accountMMRate": ""}
    body = {"retCode": 0, "retMsg": "OK", "result": {"list": [classic]}}
    events = subject.parse_resync(request, json.dumps(body).encode(), RECEIVE_MS)
    assert not any(isinstance(event, AccountMarginEvent) for event in events)


def test_resync_requests_are_signed() -> None:
    """X-BAPI-SIGN = hex(HMAC_SHA256(secret, timestamp + apiKey + recvWindow + queryString))."""
    info, positions, usdc, inverse, wallet = venue().resync_requests(1658384314791)
    assert (info.path, positions.path, usdc.path, inverse.path, wallet.path) == (
        "/v5/account/info", "/v5/position/list", "/v5/position/list", "/v5/position/list",
        "/v5/account/wallet-balance",
    )
    assert positions.query == (("category", "linear"), ("settleCoin", "USDT"), ("limit", "200"))
    assert usdc.query == (("category", "linear"), ("settleCoin", "USDC"), ("limit", "200"))
    assert inverse.query == (("category", "inverse"), ("limit", "200"))
    payload = f"1658384314791{CANARY_KEY}5000category=linear&settleCoin=USDT&limit=200"
    assert dict(positions.headers) == {
        "X-BAPI-API-KEY": CANARY_KEY,
        "X-BAPI-TIMESTAMP": "1658384314791",
        "X-BAPI-RECV-WINDOW": "5000",
        "X-BAPI-SIGN": hmac.new(CANARY_HMAC.encode(), payload.encode(), hashlib.sha256).hexdigest(),
    }
    assert wallet.query == (("accountType", "UNIFIED"),)
    assert venue(private=False).resync_requests(1) == ()


def test_resync_error_code_is_a_frame_error() -> None:
    """A non-zero retCode raises FrameError naming it."""
    subject = venue()
    request = subject.resync_requests(RECEIVE_MS)[1]
    with pytest.raises(FrameError, match="10003"):
        subject.parse_resync(request, b'{"retCode":10003,"retMsg":"API key is invalid."}', RECEIVE_MS)


def test_truncated_frame_is_a_frame_error() -> None:
    """A truncated frame raises FrameError."""
    with pytest.raises(FrameError, match="invalid JSON"):
        venue().parse("market", fixture_text("bybit_linear_ticker_snapshot.json")[:-7], RECEIVE_MS)


@pytest.mark.parametrize(
    "name",
    [
        "bybit_linear_ticker_snapshot.json",
        "bybit_linear_ticker_delta_thirdparty_capture.json",
        "bybit_position.json",
        "bybit_wallet.json",
        "bybit_auth_success.json",
        "bybit_pong_linear.json",
    ],
)
def test_every_field_mutation_gives_parsed_or_frame_error(name: str) -> None:
    """Deleting or corrupting any single field never lets another exception escape."""
    subject = venue()
    subject.parse("market", fixture_text("bybit_linear_ticker_snapshot.json"), RECEIVE_MS)
    rest_positions(subject, [])
    count = assert_only_frame_errors(
        lambda frame: subject.parse("private", frame, RECEIVE_MS), fixture_json(name)
    )
    assert count > 5


def test_position_list_mutations_give_events_or_frame_error() -> None:
    """Corrupting any field of the documented position list never lets another exception escape."""
    reasons: list[str] = []
    for body in mutations(fixture_json("bybit_position_list_inverse.json")):
        subject = venue(("BTCUSD",))
        _, usdt, usdc, inverse, _ = subject.resync_requests(RECEIVE_MS)
        subject.parse_resync(usdt, position_list([]), RECEIVE_MS)
        subject.parse_resync(usdc, position_list([]), RECEIVE_MS)
        try:
            subject.parse_resync(inverse, body.encode(), RECEIVE_MS)
        except FrameError as error:
            reasons.append(error.reason)
    assert reasons
    assert not any(leaked(reason) for reason in reasons)


def test_secrets_never_leak() -> None:
    """Canary credentials appear in no repr of the venue, plans or requests, nor in FrameErrors."""
    subject = venue()
    texts = [repr(subject), repr(subject.connect_plan("private", RECEIVE_MS, None))]
    texts += [repr(request) for request in subject.resync_requests(RECEIVE_MS)]
    for frame in ("{", '{"topic":"position","data":[]}', '{"topic":"wallet","creationTime":1}'):
        with pytest.raises(FrameError) as error:
            subject.parse("private", frame, RECEIVE_MS)
        texts.append(str(error.value))
    assert not any(leaked(text) for text in texts)


def test_documented_execution_is_a_fill() -> None:
    """The documented ``execution`` push: XRPUSDT Sell 25 @ 0.3374, ``execFee`` "0.005061" USDT
    (linear: 1:1 USD), execTime 1672364174443, an own Trade."""
    parsed = venue().parse("private", fixture_text("bybit_execution.json"), RECEIVE_MS)
    assert parsed.events == (
        FillEvent("alice", "acct-1", "bybit:XRPUSDT", -25.0, 0.3374, 0.005061, 1672364174443,
                  RECEIVE_MS),
    )


@pytest.mark.parametrize(("exec_type", "forced"), [
    ("BustTrade", "liquidation"), ("AdlTrade", "adl"), ("BlockTrade", None)])
def test_liquidation_and_adl_executions_are_flagged(exec_type: str, forced: str | None) -> None:
    """``execType`` BustTrade is a liquidation, AdlTrade an auto-deleveraging fill."""
    frame = json.loads(fixture_text("bybit_execution.json"))
    frame["data"][0]["execType"] = exec_type
    (fill,) = venue().parse("private", json.dumps(frame), RECEIVE_MS).events
    assert isinstance(fill, FillEvent)
    assert fill.forced == forced


def test_funding_and_inverse_executions() -> None:
    """A Funding execution is not a trade; an inverse fee in coin is valued at ``execPrice``:
    0.0000015 BTC * 28000 = 0.042 USD."""
    frame = json.loads(fixture_text("bybit_execution.json"))
    frame["data"][0]["execType"] = "Funding"
    assert venue().parse("private", json.dumps(frame), RECEIVE_MS).events == ()
    frame["data"][0].update({"execType": "Trade", "category": "inverse", "symbol": "BTCUSD",
                             "execFee": "0.0000015", "execPrice": "28000", "side": "Buy"})
    (fill,) = venue(("BTCUSD",)).parse("private", json.dumps(frame), RECEIVE_MS).events
    assert isinstance(fill, FillEvent)
    assert fill.quantity == 25.0
    assert fill.fee_usd == pytest.approx(0.042)


def test_documented_position_push_carries_the_venue_figures_only_when_open() -> None:
    """The documented ``position`` push is a flat Sell leg (``liqPrice`` "0", ``positionMM`` "0",
    ``adlRankIndicator`` 0): a flat leg carries no venue figures."""
    (event,) = venue().parse("private", fixture_text("bybit_position.json"), RECEIVE_MS).events
    assert isinstance(event, PositionEvent)
    assert event.quantity == 0
    assert (event.venue_liquidation_price, event.venue_maintenance_margin, event.adl_rank) == (
        None, None, None)
