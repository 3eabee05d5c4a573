"""OKX v5 venue: public channels with cached funding/index, login flow, positions, account, resync."""

from __future__ import annotations

import base64
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
from monitor.venues.okx import Okx, index_id
from tests.unit.venues._support import (
    CANARY_HMAC,
    CANARY_KEY,
    CANARY_PHRASE,
    RECEIVE_MS,
    account,
    assert_only_frame_errors,
    fixture_json,
    fixture_text,
    leaked,
)

SYMBOLS = ("BTC-USDT-SWAP", "BTC-USD-SWAP", "BTC-USDT")


def venue(symbols: tuple[str, ...] = SYMBOLS, *, private: bool = True) -> Okx:
    """An OKX venue with the canary account (or public only)."""
    return Okx(symbols=symbols, account=account(passphrase=True) if private else None)


def position(instrument: str, quantity: float, entry: float, mode: MarginMode, margin: float | None,
             leverage: float | None, ts: int, side: PositionSide = "one_way") -> PositionEvent:
    """The expected canonical position (one leg) of the canary account."""
    return PositionEvent(
        portfolio="alice", account="acct-1", instrument=f"okx:{instrument}", quantity=quantity,
        entry_price=entry, leverage=leverage, margin_mode=mode,
        isolated_margin=margin, ts_event_ms=ts, ts_receive_ms=RECEIVE_MS, position_side=side,
    )


def flats(instrument: str, ts: int) -> tuple[PositionEvent, ...]:
    """Every leg of a configured instrument that a complete snapshot does not list, flat."""
    return tuple(position(instrument, 0.0, 0.0, "cross", None, None, ts, side)
                 for side in ("one_way", "long", "short"))


def push(channel: str, data: list[dict[str, object]], **top: object) -> str:
    """A channel push ``{"arg":{"channel":..},"data":[..]}``."""
    return json.dumps({"arg": {"channel": channel, "uid": "77982378738415879"}, "data": data, **top})


def okx_position(
    inst: str, side: str, pos: str, avg: str, mode: str = "cross", **extra: object
) -> dict[str, object]:
    """One position row with the documented fields that the venue reads."""
    row: dict[str, object] = {
        "instType": "SWAP", "instId": inst, "posSide": side, "pos": pos, "avgPx": avg,
        "mgnMode": mode, "lever": "10", "margin": "", "uTime": "1700000000000",
        "pTime": "1700000000100",
    }
    row.update(extra)
    return row


def test_is_a_venue() -> None:
    """The class satisfies the Venue protocol and names its instruments ``okx:``."""
    subject = venue()
    assert isinstance(subject, Venue)
    assert subject.name == "okx"
    assert venue(private=False).stream_names() == ("market",)


def test_index_id() -> None:
    """Swaps and futures map to their index; a spot pair is its own index."""
    assert [index_id(s) for s in ("BTC-USDT-SWAP", "LTC-USD-190628", "BTC-USDT")] == [
        "BTC-USDT", "LTC-USD", "BTC-USDT",
    ]


def test_mark_price_fixture() -> None:
    """The documented mark-price push becomes a PriceEvent (no funding or index cached yet)."""
    parsed = venue().parse("market", fixture_text("okx_mark_price.json"), RECEIVE_MS)
    assert parsed.events == (PriceEvent(
        "okx:LTC-USD-190628", 0.1, None, None, None, 1597026383085, RECEIVE_MS,
    ),)


def test_funding_and_index_are_attached_to_mark_price() -> None:
    """The funding-rate push is cached (no event); the next mark carries it and the index."""
    subject = venue()
    funding = subject.parse("market", fixture_text("okx_funding_rate.json"), RECEIVE_MS)
    assert (funding.kind, funding.events) == (FrameKind.DATA, ())
    index = subject.parse(
        "market", push("index-tickers", [{"instId": "BTC-USD", "idxPx": "37000.5", "ts": "1700724675000"}]),
        RECEIVE_MS,
    )
    assert index.events == ()  # BTC-USD is neither a catalog spot instrument nor configured
    mark = subject.parse(
        "market",
        push("mark-price", [{"instType": "SWAP", "instId": "BTC-USD-SWAP", "markPx": "37010.1",
                             "ts": "1700724676000"}]),
        RECEIVE_MS,
    )
    # next funding = fundingTime (the settlement charging fundingRate), not nextFundingTime
    assert mark.events == (PriceEvent(
        "okx:BTC-USD-SWAP", 37010.1, 37000.5, 0.0001875391284828, 1700726400000, 1700724676000,
        RECEIVE_MS,
    ),)


def test_spot_index_is_emitted_as_reference_price() -> None:
    """``index-tickers`` BTC-USDT (a catalog spot instrument) becomes ``okx:BTC-USDT``."""
    frame = push("index-tickers", [{
        "instId": "BTC-USDT", "idxPx": "60012.3", "high24h": "61000", "low24h": "59000",
        "open24h": "60500", "sodUtc0": "60100", "sodUtc8": "60200", "ts": "1700000000000",
    }])
    assert venue(("BTC-USDT-SWAP",)).parse("market", frame, RECEIVE_MS).events == (PriceEvent(
        "okx:BTC-USDT", 60012.3, 60012.3, None, None, 1700000000000, RECEIVE_MS,
    ),)


def test_market_subscription_args() -> None:
    """Mark price per derivative, funding per swap, one index-tickers per distinct index."""
    plan = venue().connect_plan("market", RECEIVE_MS, None)
    assert plan.url == "wss://ws.okx.com:8443/ws/v5/public"
    (frame,) = plan.on_open
    assert json.loads(frame) == {"op": "subscribe", "args": [
        {"channel": "mark-price", "instId": "BTC-USDT-SWAP"},
        {"channel": "funding-rate", "instId": "BTC-USDT-SWAP"},
        {"channel": "mark-price", "instId": "BTC-USD-SWAP"},
        {"channel": "funding-rate", "instId": "BTC-USD-SWAP"},
        {"channel": "index-tickers", "instId": "BTC-USDT"},
        {"channel": "index-tickers", "instId": "BTC-USD"},
    ]}
    assert (plan.ping_frame, plan.ping_interval_s) == ("ping", 15.0)  # OKX drops a link silent 30 s


def test_text_pong_and_acks() -> None:
    """The text ``pong`` is a pong; subscribe acks are acks."""
    subject = venue()
    assert subject.parse("market", "pong", RECEIVE_MS).kind is FrameKind.PONG
    assert subject.parse("market", b"pong", RECEIVE_MS).kind is FrameKind.PONG
    ack = subject.parse("market", fixture_text("okx_subscribe_ack.json"), RECEIVE_MS)
    assert (ack.kind, ack.events) == (FrameKind.ACK, ())


def test_login_flow_sends_subscription_after_success() -> None:
    """The signed login is sent on open; the private subscription replies to its success."""
    subject = venue()
    plan = subject.connect_plan("private", 1538054050123, None)
    assert plan.url == "wss://ws.okx.com:8443/ws/v5/private"
    (login,) = plan.on_open
    sign = base64.b64encode(hmac.new(
        CANARY_HMAC.encode(), b"1538054050GET/users/self/verify", hashlib.sha256
    ).digest()).decode()
    assert json.loads(login) == {"op": "login", "args": [{
        "apiKey": CANARY_KEY, "passphrase": CANARY_PHRASE, "timestamp": "1538054050", "sign": sign,
    }]}
    parsed = subject.parse("private", fixture_text("okx_login_success.json"), RECEIVE_MS)
    assert parsed.kind is FrameKind.ACK
    (reply,) = parsed.replies
    assert json.loads(reply) == {"op": "subscribe", "args": [
        {"channel": "positions", "instType": "ANY"}, {"channel": "account"},
        {"channel": "orders", "instType": "ANY"},
    ]}


def test_login_error_reconnects_other_errors_raise() -> None:
    """A login error asks for a reconnect; later error events and conn-count errors raise."""
    subject = venue()
    subject.connect_plan("private", RECEIVE_MS, None)
    failed = subject.parse("private", fixture_text("okx_login_error.json"), RECEIVE_MS)
    assert failed.reconnect_reason == "okx: login failed with code '60009'"
    with pytest.raises(FrameError, match="60012"):
        subject.parse("market", fixture_text("okx_subscribe_error.json"), RECEIVE_MS)
    with pytest.raises(FrameError, match="orders"):
        subject.parse("private", fixture_text("okx_channel_conn_count_error.json"), RECEIVE_MS)


def test_notice_requests_reconnect() -> None:
    """A service-upgrade notice asks for a reconnect before OKX drops the link."""
    parsed = venue().parse(
        "market", '{"event":"notice","code":"64008","msg":"The connection will soon be closed"}', 1
    )
    assert parsed.reconnect_reason == "okx: notice '64008'"


def test_positions_snapshot_fixture() -> None:
    """The documented snapshot: the long leg (``posSide`` "long") of 1 isolated contract, its
    ``margin`` taken as the isolated wallet without unrealised PnL."""
    parsed = venue().parse("private", fixture_text("okx_positions_snapshot.json"), RECEIVE_MS)
    # margin "0.0003896645377994" ETH = 1 contract * 10 USD / 2566.31 avgPx / 10x lever: the
    # margin allocated at entry; upl "-0.0000009932766034" is not in it
    # the venue's own figures: liqPx "2352.8496681818233", mmr "0.0000311811092368" ETH, mgnRatio
    # "11.731726509588816" (margin over maintenance margin: canonical 1 / 11.7317... = 0.08524),
    # adl "1" of 1-5
    assert parsed.events[0] == replace(position(
        "ETH-USD-210430", 1.0, 2566.31, "isolated", 0.0003896645377994, 10.0, 1619507761462, "long",
    ), venue_liquidation_price=2352.8496681818233, venue_maintenance_margin=0.0000311811092368,
        venue_margin_ratio=1 / 11.731726509588816, adl_rank=1, adl_rank_top=5)
    assert parsed.events[0].venue_margin_ratio == pytest.approx(0.085239, abs=1e-6)
    # configured swaps are reported flat, every leg, after a complete snapshot that does not list them
    assert parsed.events[1:] == (
        *flats("BTC-USDT-SWAP", 1619507761462), *flats("BTC-USD-SWAP", 1619507761462),
    )
    assert not parsed.resync



def test_event_update_closes_position() -> None:
    """An ``event_update`` with ``pos`` "0" publishes the position flat."""
    subject = venue(("BTC-USDT-SWAP",))
    subject.parse("private", push("positions", [okx_position("BTC-USDT-SWAP", "net", "-150", "60000")],
                                  eventType="snapshot", curPage=1, lastPage=True), RECEIVE_MS)
    closed = subject.parse(
        "private",
        push("positions", [okx_position("BTC-USDT-SWAP", "net", "0", "")], eventType="event_update"),
        RECEIVE_MS,
    )
    assert closed.events == (position("BTC-USDT-SWAP", 0.0, 0.0, "cross", None, 10.0, 1700000000100),)


def test_net_mode_sign_and_isolated_margin() -> None:
    """Net mode keeps the sign of ``pos``; isolated ``margin`` is the isolated margin."""
    frame = push("positions", [okx_position(
        "BTC-USDT-SWAP", "net", "-150", "60000", mode="isolated", margin="9000",
    )], eventType="snapshot", curPage=1, lastPage=True)
    events = venue(("BTC-USDT-SWAP",)).parse("private", frame, RECEIVE_MS).events
    # 150 contracts short of 0.01 BTC at 60000 with 9000 USDT allocated
    assert events == (position("BTC-USDT-SWAP", -150.0, 60000.0, "isolated", 9000.0, 10.0, 1700000000100),)


def test_paged_snapshot_is_loaded_when_complete() -> None:
    """Snapshot pages accumulate until ``lastPage`` is true."""
    subject = venue(("BTC-USDT-SWAP",))
    first = subject.parse("private", push(
        "positions", [okx_position("BTC-USDT-SWAP", "net", "-150", "60000")],
        eventType="snapshot", curPage=1, lastPage=False,
    ), RECEIVE_MS)
    assert first.events == ()
    second = subject.parse("private", push(
        "positions", [okx_position("ETH-USDT-SWAP", "net", "20", "3000")],
        eventType="snapshot", curPage=2, lastPage=True,
    ), RECEIVE_MS)
    assert second.events == (
        position("BTC-USDT-SWAP", -150.0, 60000.0, "cross", None, 10.0, 1700000000100),
        position("ETH-USDT-SWAP", 20.0, 3000.0, "cross", None, 10.0, 1700000000100),
    )


def test_long_short_mode_legs_are_published_apart() -> None:
    """``posSide`` long and short (``pos`` positive for both, as OKX documents) are two legs, the
    short one negative; they do not net."""
    subject = venue(("BTC-USD-SWAP",))
    frame = push("positions", [
        okx_position("BTC-USD-SWAP", "long", "300", "50000"),
        okx_position("BTC-USD-SWAP", "short", "100", "40000", mode="isolated", margin="0.025"),
    ], eventType="snapshot", curPage=1, lastPage=True)
    assert subject.parse("private", frame, RECEIVE_MS).events == (
        position("BTC-USD-SWAP", 300.0, 50000.0, "cross", None, 10.0, 1700000000100, "long"),
        position("BTC-USD-SWAP", -100.0, 40000.0, "isolated", 0.025, 10.0, 1700000000100, "short"),
    )


def test_cross_and_isolated_net_positions_are_one_leg_with_harmonic_inverse_entry() -> None:
    """A cross and an isolated ``net`` position of the inverse BTC-USD-SWAP are one one-way leg;
    its entry keeps the coin PnL."""
    frame = push("positions", [
        okx_position("BTC-USD-SWAP", "net", "300", "50000"),
        okx_position("BTC-USD-SWAP", "net", "100", "40000", mode="isolated", margin="0.025"),
    ], eventType="snapshot", curPage=1, lastPage=True)
    (event,) = venue(("BTC-USD-SWAP",)).parse("private", frame, RECEIVE_MS).events
    assert isinstance(event, PositionEvent)
    # Q = 300 + 100 = 400; EP = Q / sum(q / EP) = 400 / (300/50000 + 100/40000)
    #   = 400 / (0.006 + 0.0025) = 400 / 0.0085 = 47058.82; one leg is cross, so cross, no margin
    assert (event.position_side, event.quantity, event.margin_mode, event.isolated_margin) == (
        "one_way", 400.0, "cross", None,
    )
    assert event.entry_price == pytest.approx(400 / 0.0085)


def test_hedge_leg_before_any_snapshot_is_published_at_once() -> None:
    """Before any complete snapshot a lone long leg is already its full position."""
    subject = venue(("BTC-USDT-SWAP",))
    parsed = subject.parse(
        "private",
        push("positions", [okx_position("BTC-USDT-SWAP", "long", "5", "60000")], eventType="event_update"),
        RECEIVE_MS,
    )
    assert parsed.events == (
        position("BTC-USDT-SWAP", 5.0, 60000.0, "cross", None, 10.0, 1700000000100, "long"),
    )
    assert not parsed.resync


def test_non_futures_positions_are_skipped() -> None:
    """MARGIN and OPTION positions are not hedge legs of the catalog's contracts."""
    frame = push("positions", [okx_position("BTC-USDT", "net", "1", "60000", instType="MARGIN")],
                 eventType="event_update")
    assert venue().parse("private", frame, RECEIVE_MS).events == ()


def test_account_snapshot_fixture() -> None:
    """The documented account snapshot: USDT cash balance (excludes unrealised PnL)."""
    parsed = venue().parse("private", fixture_text("okx_account_snapshot.json"), RECEIVE_MS)
    assert parsed.events == (
        BalanceEvent("alice", "acct-1", "USDT", 4750.426970691436, 1705564213903, RECEIVE_MS),
    )


def test_balance_and_position_channel_is_ignored() -> None:
    """The unsubscribed balance_and_position channel is recognised and ignored."""
    parsed = venue().parse("private", fixture_text("okx_balance_and_position.json"), RECEIVE_MS)
    assert (parsed.kind, parsed.events) == (FrameKind.IGNORED, ())


def test_resync_requests_are_signed() -> None:
    """OK-ACCESS-SIGN = Base64(HMAC_SHA256(secret, isoTimestamp + GET + path))."""
    config, positions, balances = venue().resync_requests(1607418537715)
    for request, path in ((config, "/api/v5/account/config"), (positions, "/api/v5/account/positions"),
                          (balances, "/api/v5/account/balance")):
        prehash = f"2020-12-08T09:08:57.715ZGET{path}".encode()
        sign = base64.b64encode(hmac.new(CANARY_HMAC.encode(), prehash, hashlib.sha256).digest()).decode()
        assert (request.method, request.base_url, request.path, request.query) == (
            "GET", "https://www.okx.com", path, (),
        )
        assert dict(request.headers) == {
            "OK-ACCESS-KEY": CANARY_KEY, "OK-ACCESS-SIGN": sign,
            "OK-ACCESS-TIMESTAMP": "2020-12-08T09:08:57.715Z", "OK-ACCESS-PASSPHRASE": CANARY_PHRASE,
        }
    assert venue(private=False).resync_requests(1) == ()


def test_rest_resync_positions_and_balances() -> None:
    """REST positions and balances become full state stamped with the receive time."""
    subject = venue(("BTC-USDT-SWAP",))
    _, positions, balances = subject.resync_requests(RECEIVE_MS)
    body = {"code": "0", "msg": "", "data": [okx_position("BTC-USDT-SWAP", "net", "-150", "60000")]}
    assert subject.parse_resync(positions, json.dumps(body).encode(), RECEIVE_MS) == (
        position("BTC-USDT-SWAP", -150.0, 60000.0, "cross", None, 10.0, RECEIVE_MS),
    )
    account_data = fixture_json("okx_account_snapshot.json")
    assert isinstance(account_data, dict)
    body = {"code": "0", "msg": "", "data": account_data["data"]}
    assert subject.parse_resync(balances, json.dumps(body).encode(), RECEIVE_MS) == (
        BalanceEvent("alice", "acct-1", "USDT", 4750.426970691436, RECEIVE_MS, RECEIVE_MS),
    )
    with pytest.raises(FrameError, match="50113"):
        subject.parse_resync(balances, b'{"code":"50113","msg":"Invalid Sign","data":[]}', RECEIVE_MS)


def test_credentials_without_passphrase_are_refused() -> None:
    """OKX needs a passphrase: an account without one fails at construction."""
    with pytest.raises(ValueError, match="passphrase"):
        Okx(symbols=SYMBOLS, account=account(passphrase=False))


def test_truncated_frame_is_a_frame_error() -> None:
    """A truncated frame raises FrameError."""
    with pytest.raises(FrameError, match="invalid JSON"):
        venue().parse("market", fixture_text("okx_mark_price.json")[:30], RECEIVE_MS)


@pytest.mark.parametrize(
    "name",
    [
        "okx_mark_price.json",
        "okx_funding_rate.json",
        "okx_positions_snapshot.json",
        "okx_account_snapshot.json",
        "okx_login_success.json",
        "okx_subscribe_ack.json",
    ],
)
def test_every_field_mutation_gives_parsed_or_frame_error(name: str) -> None:
    """Deleting or corrupting any single field never lets another exception escape."""
    subject = venue()
    count = assert_only_frame_errors(
        lambda frame: subject.parse("private", frame, RECEIVE_MS), fixture_json(name)
    )
    assert count > 5


def test_secrets_never_leak() -> None:
    """Canary key, secret and passphrase appear in no repr of venue, plans, requests or errors."""
    subject = venue()
    texts = [repr(subject), repr(subject.connect_plan("private", RECEIVE_MS, None))]
    texts += [repr(request) for request in subject.resync_requests(RECEIVE_MS)]
    frames = ("{", '{"arg":{"channel":"positions"},"data":[{}]}', '{"event":"channel-conn-count-error"}')
    for frame in frames:
        with pytest.raises(FrameError) as error:
            subject.parse("private", frame, RECEIVE_MS)
        texts.append(str(error.value))
    assert not any(leaked(text) for text in texts)


def test_account_margin_ratio_of_a_multi_currency_account() -> None:
    """The account's own ``mgnRatio`` (adjusted equity over maintenance margin) is the buffer figure
    of a multi-currency account (``acctLv`` "3" of the account config). The documented account
    snapshot reports it "" (not applicable: no event); with ``mgnRatio`` "25" and the documented
    ``adjEq`` "55444.12216906034": ratio 1/25 = 0.04, liquidation at 1 (100 %); ``mmr`` "0"."""
    subject = venue()
    config, _, balances = subject.resync_requests(RECEIVE_MS)
    subject.parse_resync(config, b'{"code":"0","msg":"","data":[{"acctLv":"3","posMode":"net_mode"}]}',
                         RECEIVE_MS)
    document = fixture_json("okx_account_snapshot.json")
    assert isinstance(document, dict)
    assert not any(isinstance(e, AccountMarginEvent) for e in subject.parse(
        "private", json.dumps(document), RECEIVE_MS).events)
    document["data"][0]["mgnRatio"] = "25"
    events = subject.parse_resync(
        balances, json.dumps({"code": "0", "msg": "", "data": document["data"]}).encode(), RECEIVE_MS)
    margin = events[-1]
    assert margin == AccountMarginEvent(
        "alice", "acct-1", "multi_currency", "mgnRatio", 25.0, 0.04, 1.0, 55444.12216906034, 0.0,
        0.0, None, RECEIVE_MS, RECEIVE_MS)


def test_documented_order_push_of_a_spot_order_is_not_a_hedge_fill() -> None:
    """The documented ``orders`` push is a SPOT order (instType "SPOT"): no hedge-leg fill."""
    assert venue().parse("private", fixture_text("okx_orders_push.json"), RECEIVE_MS).events == ()


@pytest.mark.parametrize(("category", "forced"), [
    ("normal", None), ("full_liquidation", "liquidation"), ("partial_liquidation", "liquidation"),
    ("adl", "adl")])
def test_a_swap_order_fill_and_its_category(category: str, forced: str | None) -> None:
    """The documented push as a SWAP order: sell ``fillSz`` 0.001 at ``fillPx`` 31527.1, fillTime
    1654084353263, ``fillFee`` "-0.02522168" USDT charged (fee paid 0.02522168); ``category``
    full/partial_liquidation is a liquidation, adl an auto-deleveraging fill."""
    frame = json.loads(fixture_text("okx_orders_push.json"))
    frame["data"][0].update({"instType": "SWAP", "instId": "BTC-USDT-SWAP", "category": category})
    (fill,) = venue().parse("private", json.dumps(frame), RECEIVE_MS).events
    assert fill == FillEvent("alice", "acct-1", "okx:BTC-USDT-SWAP", -0.001, 31527.1, 0.02522168,
                             1654084353263, RECEIVE_MS, forced=forced)  # type: ignore[arg-type]


def test_an_unfilled_order_push_and_a_coin_fee() -> None:
    """``fillSz`` "0" (a new order) is no fill; an inverse fill's coin fee is valued at the fill
    price: 0.0000004 BTC * 50000 = 0.02 USD."""
    frame = json.loads(fixture_text("okx_orders_push.json"))
    frame["data"][0].update({"instType": "SWAP", "instId": "BTC-USD-SWAP", "fillSz": "0"})
    assert venue().parse("private", json.dumps(frame), RECEIVE_MS).events == ()
    frame["data"][0].update({"fillSz": "2", "side": "buy", "fillPx": "50000", "fillFee": "-0.0000004",
                             "fillFeeCcy": "BTC"})
    (fill,) = venue().parse("private", json.dumps(frame), RECEIVE_MS).events
    assert isinstance(fill, FillEvent)
    assert fill.quantity == 2.0
    assert fill.fee_usd == pytest.approx(0.02)
