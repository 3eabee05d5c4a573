"""Golden tests of the WEEX futures venue (V3 and V2 shapes) on the documented fixtures."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path

import pytest

from monitor.domain.events import BalanceEvent, PositionEvent, PriceEvent
from monitor.domain.instruments import CatalogError, default_catalog
from monitor.secrets import Secret
from monitor.venues.base import (
    MAX_FRAME_BYTES,
    MAX_LIST_ITEMS,
    AccountContext,
    Credentials,
    FrameError,
    FrameKind,
    HttpRequest,
    Venue,
)
from monitor.venues.weex import (
    REST_QUOTE_MAX_AGE_MS,
    ApiVersion,
    WeexFutures,
    parse_exchange_info,
    rest_payload,
    sign,
    v3_symbol,
)

FIXTURES = Path(__file__).parents[2] / "fixtures" / "exchanges"
RECEIVED = 1_764_505_777_345
CANARY_KEY = "canary-key-wx-0b11"
CANARY_SECRET = "canary-secret-wx-77d4"  # noqa: S105 -- a canary value, not a credential
CANARY_PASSPHRASE = "canary-pass-wx-3e9c"  # noqa: S105 -- a canary value, not a credential


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def account() -> AccountContext:
    return AccountContext(
        account="weex-main", portfolio="treasury",
        credentials=Credentials(Secret(CANARY_KEY), Secret(CANARY_SECRET), Secret(CANARY_PASSPHRASE)),
    )


def request(purpose: str) -> HttpRequest:
    return HttpRequest("GET", "https://api-contract.weex.com", "/x", purpose)


def venue(
    symbols: tuple[str, ...] = ("BTCUSDT", "ETHUSDT"), *, version: ApiVersion = "v3", loaded: bool = True
) -> WeexFutures:
    """A venue with an account; ``loaded`` feeds an empty positions snapshot first."""
    result = WeexFutures(symbols=symbols, account=account(), api_version=version)
    if loaded:
        result.parse_resync(request("positions"), b"[]", RECEIVED)
    return result


def v3_position(
    side: str, size: str, open_value: str, *, mode: str = "CROSSED", isolated: str = "0",
    separated: str = "COMBINED", position_id: str = "1",
) -> bytes:
    """A V3 ``positions`` push with one item (fields as in the Weex.Net/ccxt samples)."""
    return json.dumps({"e": "positions", "E": 77, "v": 1, "msgEvent": "OrderUpdate", "d": [{
        "id": position_id, "coin": "USDT", "symbol": "BTCUSDT", "side": side, "marginMode": mode,
        "separatedMode": separated, "leverage": "10", "size": size, "openValue": open_value,
        "isolatedMargin": isolated,
    }]}).encode()


COVERED = {
    "weex_v2_ws_account_push.json": "test_account_push_asks_resync",
    "weex_v2_ws_ping.json": "test_v2_ping_is_answered_with_event_pong",
    "weex_v2_ws_pong.json": "test_v2_ping_is_answered_with_event_pong",
    "weex_v2_ws_positions_push.json": "test_positions_push_v2_and_v3",
    "weex_v2_ws_subscribe_ack.json": "test_subscribe_acks",
    "weex_v2_ws_subscribe_positions_request.json": "test_v2_subscriptions_match_documented_requests",
    "weex_v2_ws_subscribe_ticker_request.json": "test_v2_subscriptions_match_documented_requests",
    "weex_v2_ws_ticker_push.json": "test_v2_ticker_push",
    "weex_v3_rest_all_positions_response.json": "test_positions_resync_is_full_state",
    "weex_v3_rest_balance_response.json": "test_balance_resync",
    "weex_v3_rest_exchange_info_response.json": "test_parse_exchange_info",
    "weex_v3_rest_premium_index_response.json": "test_premium_index_price_and_merge",
    "weex_v3_ws_account_push.json": "test_account_push_asks_resync",
    "weex_v3_ws_ping.json": "test_v3_ping_is_answered_with_method_pong",
    "weex_v3_ws_pong_reply.json": "test_v3_ping_is_answered_with_method_pong",
    "weex_v3_ws_positions_push.json": "test_positions_push_v2_and_v3",
    "weex_v3_ws_subscribe_ack.json": "test_subscribe_acks",
    "weex_v3_ws_subscribe_error.json": "test_subscribe_error_is_frame_error",
    "weex_v3_ws_subscribe_ticker_request.json": "test_v3_subscriptions_match_documented_requests",
    "weex_v3_ws_ticker_push.json": "test_v3_ticker_push",
}


def test_every_weex_fixture_is_covered() -> None:
    """Each weex_* fixture file is named in COVERED with a test that exists in this module."""
    names = {path.name for path in FIXTURES.glob("weex_*.json")}
    assert names == set(COVERED)
    assert all(test in globals() for test in COVERED.values())


def test_venue_satisfies_protocol() -> None:
    """WeexFutures is a Venue with the instrument-id prefix ``weex``."""
    futures = venue()
    assert isinstance(futures, Venue)
    assert futures.name == "weex"
    assert futures.stream_names() == ("market", "private")
    assert WeexFutures(symbols=["BTCUSDT"]).stream_names() == ("market",)


# -- connection and heartbeats ------------------------------------------------------------------


def test_v3_subscriptions_match_documented_requests() -> None:
    """V3 subscribes ``<SYMBOL>@ticker`` with method SUBSCRIBE, and positions/account privately."""
    futures = venue(("ETHUSDT",))
    market = futures.connect_plan("market", RECEIVED, None)
    assert market.url == "wss://ws-contract.weex.com/v3/ws/public"
    (frame,) = market.on_open
    sent = json.loads(frame)
    assert {**sent, "id": "|1|"} == json.loads(fixture("weex_v3_ws_subscribe_ticker_request.json"))
    private = futures.connect_plan("private", RECEIVED, None)
    assert private.url == "wss://ws-contract.weex.com/v3/ws/private"
    assert [json.loads(f)["params"] for f in private.on_open] == [["positions"], ["account"]]


def test_v2_subscriptions_match_documented_requests() -> None:
    """V2 subscribes ``ticker.cmt_btcusdt`` and ``positions`` exactly as documented."""
    futures = venue(("BTCUSDT",), version="v2")
    market = futures.connect_plan("market", RECEIVED, None)
    assert market.url == "wss://ws-contract.weex.com/v2/ws/public"
    assert [json.loads(f) for f in market.on_open] == [
        json.loads(fixture("weex_v2_ws_subscribe_ticker_request.json"))
    ]
    private = futures.connect_plan("private", RECEIVED, None)
    documented = json.loads(fixture("weex_v2_ws_subscribe_positions_request.json"))
    assert json.loads(private.on_open[0]) == documented
    assert json.loads(private.on_open[1]) == {"event": "subscribe", "channel": "account"}


@pytest.mark.parametrize(("version", "path"), [("v3", "/v3/ws/private"), ("v2", "/v2/ws/private")])
def test_private_handshake_headers_are_signed(version: ApiVersion, path: str) -> None:
    """The private handshake carries key, passphrase, timestamp and Base64 HMAC of ts + path."""
    plan = venue(version=version).connect_plan("private", 1700000000000, None)
    # independent computation: base64(HMAC-SHA256(secret, "1700000000000" + path))
    digest = hmac.new(CANARY_SECRET.encode(), f"1700000000000{path}".encode(), hashlib.sha256).digest()
    assert dict(plan.additional_headers) == {
        "ACCESS-KEY": CANARY_KEY,
        "ACCESS-PASSPHRASE": CANARY_PASSPHRASE,
        "ACCESS-TIMESTAMP": "1700000000000",
        "ACCESS-SIGN": base64.b64encode(digest).decode(),
    }
    assert plan.ping_frame is None


def test_v3_ping_is_answered_with_method_pong() -> None:
    """A V3 ping (public ``event`` or private ``type``) is answered ``{"id":..,"method":"PONG"}``."""
    futures = venue()
    documented = json.loads(fixture("weex_v3_ws_pong_reply.json"))
    for frame in (fixture("weex_v3_ws_ping.json"), b'{"type":"ping","time":"1776172740000"}'):
        parsed = futures.parse("private", frame, RECEIVED)
        assert parsed.kind is FrameKind.PING
        (reply,) = parsed.replies
        sent = json.loads(reply)
        assert sent.keys() == documented.keys()
        assert sent["method"] == "PONG"
        assert isinstance(sent["id"], str)
    echoed = futures.parse("private", fixture("weex_v3_ws_pong_reply.json"), RECEIVED)
    assert echoed.kind is FrameKind.PONG


def test_v2_ping_is_answered_with_event_pong() -> None:
    """A V2 ping is answered with the documented pong echoing its time."""
    parsed = venue(version="v2").parse("market", fixture("weex_v2_ws_ping.json"), RECEIVED)
    assert parsed.kind is FrameKind.PING
    assert [json.loads(r) for r in parsed.replies] == [json.loads(fixture("weex_v2_ws_pong.json"))]


@pytest.mark.parametrize("name", ["weex_v3_ws_subscribe_ack.json", "weex_v2_ws_subscribe_ack.json"])
def test_subscribe_acks(name: str) -> None:
    """``{"result":true,..}`` (V3) and ``{"event":"subscribed",..}`` (V2) are acks."""
    parsed = venue().parse("private", fixture(name), RECEIVED)
    assert parsed.kind is FrameKind.ACK
    assert parsed.events == ()


def test_subscribe_error_is_frame_error() -> None:
    """``{"result":false,..,"msg":..}`` raises FrameError with WEEX's message."""
    with pytest.raises(FrameError, match="INVALID_ARGUMENT"):
        venue().parse("market", fixture("weex_v3_ws_subscribe_error.json"), RECEIVED)


# -- prices -------------------------------------------------------------------------------------


def test_v3_ticker_push() -> None:
    """The V3 ticker gives mark ``m`` and index ``i``; no funding before a premiumIndex poll."""
    parsed = venue().parse("market", fixture("weex_v3_ws_ticker_push.json"), RECEIVED)
    assert parsed.events == (
        PriceEvent(
            instrument="weex:ETHUSDT", mark=2045.91, index=2047.2225, funding_rate=None,
            next_funding_ms=None, ts_event_ms=1775120226169, ts_receive_ms=RECEIVED,
        ),
    )


def test_v2_ticker_push() -> None:
    """The V2 ticker (``cmt_btcusdt``) gives the mark with the receive time (it has no time)."""
    parsed = venue(version="v2").parse("market", fixture("weex_v2_ws_ticker_push.json"), RECEIVED)
    assert parsed.events == (
        PriceEvent(
            instrument="weex:BTCUSDT", mark=102623.9, index=None, funding_rate=None,
            next_funding_ms=None, ts_event_ms=RECEIVED, ts_receive_ms=RECEIVED,
        ),
    )


def test_premium_index_price_and_merge() -> None:
    """premiumIndex gives a PriceEvent and its funding (and index for V2) ride on tickers."""
    futures = venue(("BTCUSDT",), version="v2")
    keepalive = futures.keepalive_request("market", RECEIVED)
    assert keepalive is not None
    assert (keepalive.path, keepalive.query) == ("/capi/v3/market/premiumIndex", (("symbol", "BTCUSDT"),))
    events = futures.parse_resync(keepalive, fixture("weex_v3_rest_premium_index_response.json"), RECEIVED)
    assert events == (
        PriceEvent(
            instrument="weex:BTCUSDT", mark=69348.6, index=69347.9, funding_rate=0.00025,
            next_funding_ms=1764510000000, ts_event_ms=1764505777345, ts_receive_ms=RECEIVED,
        ),
    )
    ticker = fixture("weex_v2_ws_ticker_push.json")
    merged = futures.parse("market", ticker, RECEIVED + REST_QUOTE_MAX_AGE_MS).events[0]
    assert isinstance(merged, PriceEvent)
    assert (merged.mark, merged.index, merged.funding_rate, merged.next_funding_ms) == (
        102623.9, 69347.9, 0.00025, 1764510000000,
    )
    stale = futures.parse("market", ticker, RECEIVED + REST_QUOTE_MAX_AGE_MS + 1).events[0]
    assert isinstance(stale, PriceEvent)
    assert (stale.index, stale.funding_rate) == (None, None)


# -- positions and balances ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "version", "ts"),
    [
        ("weex_v3_ws_positions_push.json", "v3", 1773298805123),
        ("weex_v2_ws_positions_push.json", "v2", 1747188961302),
        ("weex_v2_ws_positions_push.json", "v3", 1747188961302),
    ],
)
def test_positions_push_v2_and_v3(name: str, version: ApiVersion, ts: int) -> None:
    """Both position shapes give the same cross long leg: 0.01 BTC, entry openValue / size."""
    parsed = venue(version=version).parse("private", fixture(name), RECEIVED)
    # "side":"LONG" is the long leg; entry 992.405443 / 0.01 = 99240.5443; V2 SHARED = cross
    assert parsed.events == (
        PositionEvent(
            portfolio="treasury", account="weex-main", instrument="weex:BTCUSDT", quantity=0.01,
            entry_price=99240.5443, leverage=20.0, margin_mode="cross", isolated_margin=None,
            ts_event_ms=ts, ts_receive_ms=RECEIVED, position_side="long",
        ),
    )


def test_isolated_short_position() -> None:
    """An ISOLATED SHORT leg is the short leg, negative, and reports ``isolatedMargin``."""
    frame = v3_position("SHORT", "0.5", "30000", mode="ISOLATED", isolated="12.5")
    (event,) = venue().parse("private", frame, RECEIVED).events
    assert isinstance(event, PositionEvent)
    # entry 30000 / 0.5 = 60000
    assert (event.position_side, event.quantity, event.entry_price, event.margin_mode,
            event.isolated_margin) == ("short", -0.5, 60000.0, "isolated", 12.5)


def test_position_with_zero_size_is_closed() -> None:
    """A leg pushed with size 0 closes the position (quantity 0, entry 0)."""
    futures = venue()
    futures.parse("private", v3_position("SHORT", "0.5", "30000"), RECEIVED)
    (event,) = futures.parse("private", v3_position("SHORT", "0", "0"), RECEIVED).events
    assert isinstance(event, PositionEvent)
    assert (event.quantity, event.entry_price) == (0.0, 0.0)


def test_hedge_legs_are_published_apart() -> None:
    """LONG 0.3 @ 100 and SHORT 0.1 @ 120 are two legs, +0.3 and -0.1."""
    futures = venue()
    (long_leg,) = futures.parse("private", v3_position("LONG", "0.3", "30"), RECEIVED).events
    (short_leg,) = futures.parse("private", v3_position("SHORT", "0.1", "12"), RECEIVED).events
    # entries 30 / 0.3 = 100 and 12 / 0.1 = 120
    legs = [(e.position_side, e.quantity, e.entry_price)
            for e in (long_leg, short_leg) if isinstance(e, PositionEvent)]
    assert [(side, quantity) for side, quantity, _ in legs] == [("long", 0.3), ("short", -0.1)]
    assert [entry for *_, entry in legs] == pytest.approx([100.0, 120.0])


def test_separated_positions_are_summed() -> None:
    """SEPARATED mode keeps one position per id: two longs of 0.1 are one long leg of 0.2."""
    futures = venue()
    first = v3_position("LONG", "0.1", "10", separated="SEPARATED", position_id="7")
    futures.parse("private", first, RECEIVED)
    frame = v3_position("LONG", "0.1", "12", separated="SEPARATED", position_id="8")
    (event,) = futures.parse("private", frame, RECEIVED).events
    assert isinstance(event, PositionEvent)
    # 0.1 + 0.1 = 0.2; entry (0.1 * 100 + 0.1 * 120) / 0.2 = 110
    assert event.position_side == "long"
    assert event.quantity == pytest.approx(0.2)
    assert event.entry_price == pytest.approx(110.0)


def test_leg_before_snapshot_is_published_at_once() -> None:
    """Before any REST snapshot a hedge leg is already its full position; no resync is asked."""
    parsed = venue(loaded=False).parse("private", fixture("weex_v3_ws_positions_push.json"), RECEIVED)
    assert [(e.instrument, e.position_side) for e in parsed.events if isinstance(e, PositionEvent)] == [
        ("weex:BTCUSDT", "long"),
    ]
    assert parsed.resync is False


@pytest.mark.parametrize("name", ["weex_v3_ws_account_push.json", "weex_v2_ws_account_push.json"])
def test_account_push_asks_resync(name: str) -> None:
    """The collateral-ledger account push emits nothing and asks for the REST balances."""
    parsed = venue().parse("private", fixture(name), RECEIVED)
    assert parsed.events == ()
    assert parsed.resync is True


def test_resync_requests_are_signed() -> None:
    """allPosition and balance GETs carry the Base64 HMAC of ts + GET + path."""
    positions, balance, premium = venue().resync_requests(1700000000000)
    assert (positions.path, balance.path) == (
        "/capi/v3/account/position/allPosition", "/capi/v3/account/balance",
    )
    # independent computation: base64(HMAC-SHA256(secret, "1700000000000GET/capi/v3/account/balance"))
    digest = hmac.new(
        CANARY_SECRET.encode(), b"1700000000000GET/capi/v3/account/balance", hashlib.sha256
    ).digest()
    assert dict(balance.headers) == {
        "ACCESS-KEY": CANARY_KEY, "ACCESS-PASSPHRASE": CANARY_PASSPHRASE,
        "ACCESS-TIMESTAMP": "1700000000000", "ACCESS-SIGN": base64.b64encode(digest).decode(),
        "Content-Type": "application/json",
    }
    assert premium.headers == {}


def test_signature_payload_matches_documented_example() -> None:
    """The WEEX signature page's GET example string is timestamp + METHOD + path + ? + query."""
    payload = rest_payload("1591089508404", "get", "/api/v2/market/depth", "symbol=btcusdt_spbl&limit=20")
    assert payload == "1591089508404GET/api/v2/market/depth?symbol=btcusdt_spbl&limit=20"
    expected = base64.b64encode(hmac.new(b"k", payload.encode(), hashlib.sha256).digest()).decode()
    assert sign(Secret("k"), payload) == expected


def test_positions_resync_is_full_state() -> None:
    """allPosition (bare array, ``marginType``, numeric id): the BTC long leg, and the ETH short
    leg reported by the stream before, now flat."""
    futures = venue(("BTCUSDT",))
    futures.parse("private", json.dumps({"e": "positions", "E": 1, "d": [{
        "id": "3", "symbol": "ETHUSDT", "side": "SHORT", "marginMode": "CROSSED", "leverage": "5",
        "size": "1", "openValue": "3000", "isolatedMargin": "0"}]}), RECEIVED)
    body = fixture("weex_v3_rest_all_positions_response.json")
    btc, eth = futures.parse_resync(request("positions"), body, RECEIVED)
    assert isinstance(btc, PositionEvent)
    # entry 1801.067 / 0.02 = 90053.35
    assert (btc.instrument, btc.position_side, btc.quantity, btc.leverage, btc.margin_mode,
            btc.isolated_margin) == ("weex:BTCUSDT", "long", 0.02, 100.0, "cross", None)
    assert btc.entry_price == pytest.approx(90053.35)
    assert (btc.ts_event_ms, btc.ts_receive_ms) == (RECEIVED, RECEIVED)
    # "liquidatePrice": "0" is WEEX's none (a cross leg far from liquidation): unknown, never 0
    assert btc.venue_liquidation_price is None
    assert eth == PositionEvent(
        portfolio="treasury", account="weex-main", instrument="weex:ETHUSDT", quantity=0.0,
        entry_price=0.0, leverage=None, margin_mode="cross", isolated_margin=None,
        ts_event_ms=RECEIVED, ts_receive_ms=RECEIVED, position_side="short",
    )


def test_balance_resync() -> None:
    """The balance array gives the wallet ``balance`` per asset."""
    body = fixture("weex_v3_rest_balance_response.json")
    events = venue().parse_resync(request("balances"), body, RECEIVED)
    assert events == (
        BalanceEvent(portfolio="treasury", account="weex-main", asset="USDT", quantity=5696.49288823,
                     ts_event_ms=RECEIVED, ts_receive_ms=RECEIVED),
    )


def test_rest_error_is_frame_error() -> None:
    """An error object ``{"code":..,"msg":..}`` raises FrameError with the code."""
    with pytest.raises(FrameError, match="40009"):
        venue().parse_resync(request("balances"), b'{"code":"40009","msg":"sign error"}', RECEIVED)


# -- contract terms -----------------------------------------------------------------------------


def test_parse_exchange_info() -> None:
    """exchangeInfo → catalog overrides: cs 1, contractVal as lot step, minOrderSize, fees."""
    overrides = parse_exchange_info(fixture("weex_v3_rest_exchange_info_response.json"))
    assert overrides == {"weex:BTCUSDT": {
        "kind": "linear", "base": "BTC", "quote": "USDT", "settle": "USD", "contract_size": 1.0,
        "lot_step": 0.000001, "min_quantity": 0.0001, "taker_fee": 0.001, "maker_fee": 0.0,
    }}
    assert default_catalog().with_overrides(overrides).require("weex:BTCUSDT").lot_step == 0.000001


def test_v2_contract_ids_map_to_v3_symbols() -> None:
    """``cmt_btcusdt`` maps to ``BTCUSDT``; V3 symbols stay as they are."""
    assert v3_symbol("cmt_btcusdt") == "BTCUSDT"
    assert v3_symbol("ETHUSDT") == "ETHUSDT"


def test_catalog_matches_contract_specs() -> None:
    """The shipped WEEX catalog entries agree with the contract-spec summary (cs 1, lot, min)."""
    specs = json.loads(fixture("bingx_mexc_weex_contract_specs.json"))["WEEX"]
    catalog = default_catalog()
    for symbol in ("BTCUSDT", "ETHUSDT"):
        instrument = catalog.require(f"weex:{symbol}")
        assert instrument.contract_size == 1.0
        assert instrument.lot_step == float(specs[symbol]["contractVal"])
        assert instrument.min_quantity == float(specs[symbol]["minOrderSize"])
        # WEEX publishes the rule, not tier values: one default tier at 0.5 %
        assert [(tier.floor, tier.mmr) for tier in instrument.tiers] == [(0.0, 0.005)]
        assert "publishes no tier values" in instrument.note


# -- robustness and secrets ---------------------------------------------------------------------


MALFORMED = [
    pytest.param(b"x" * (MAX_FRAME_BYTES + 1), id="oversized"),
    pytest.param(b"{not json", id="not-json"),
    pytest.param(b"[]", id="array"),
    pytest.param(b'{"foo":1}', id="unrecognised"),
    pytest.param(b'{"event":"error","msg":"bad"}', id="v2-error"),
    pytest.param(b'{"e":"ticker","E":1,"s":"BTCUSDT","d":[{"m":NaN}]}', id="nan"),
    pytest.param(b'{"e":"ticker","E":1,"s":"BTCUSDT","d":[{"m":""}]}', id="empty"),
    pytest.param(b'{"e":"ticker","E":1,"s":"BTCUSDT","d":[{"m":false}]}', id="bool"),
    pytest.param(b'{"e":"ticker","E":1,"s":"BTCUSDT","d":{}}', id="d-object"),
    pytest.param(b'{"e":"ticker","s":"BTCUSDT","d":[{"m":"1"}]}', id="no-time"),
    pytest.param(v3_position("UP", "1", "1"), id="bad-side"),
    pytest.param(v3_position("LONG", "1", "1", mode="PARTIAL"), id="bad-mode"),
    pytest.param(v3_position("LONG", "1_000", "1"), id="underscore-number"),
    pytest.param(v3_position("LONG", "1", "1", separated="SEPARATED", position_id="x"), id="bad-id"),
    pytest.param(
        b'{"e":"positions","E":1,"d":[' + b",".join([b"{}"] * (MAX_LIST_ITEMS + 1)) + b"]}",
        id="too-many-items",
    ),
]


@pytest.mark.parametrize("frame", MALFORMED)
def test_malformed_frames_raise_frame_error(frame: bytes) -> None:
    """Malformed, oversized or non-finite input raises FrameError with a reason, nothing else."""
    with pytest.raises(FrameError) as caught:
        venue().parse("private", frame, RECEIVED)
    assert caught.value.reason


def test_construction_checks() -> None:
    """Unknown symbols, a missing passphrase and an unknown API version fail at construction."""
    with pytest.raises(CatalogError, match="weex:BTCUSDT"):
        WeexFutures(symbols=["SOLUSDT"])
    no_passphrase = AccountContext("a", "p", Credentials(Secret("k"), Secret("s")))
    with pytest.raises(ValueError, match="passphrase"):
        WeexFutures(symbols=["BTCUSDT"], account=no_passphrase)
    with pytest.raises(ValueError, match="api_version"):
        # a version outside the Literal on purpose: the run-time check is under test
        WeexFutures(symbols=["BTCUSDT"], api_version="v1")  # type: ignore[arg-type]


def test_secrets_never_print() -> None:
    """Key, secret and passphrase never appear in reprs of the venue, plans, requests or errors."""
    futures = venue()
    texts = [repr(futures), repr(futures.connect_plan("private", RECEIVED, None))]
    texts.extend(repr(r) for r in futures.resync_requests(RECEIVED))
    for frame in (b"{}", b'{"result":false,"msg":"x"}', b"{"):
        with pytest.raises(FrameError) as caught:
            futures.parse("private", frame, RECEIVED)
        texts.append(str(caught.value))
    for text in texts:
        for canary in (CANARY_KEY, CANARY_SECRET, CANARY_PASSPHRASE):
            assert canary not in text


def test_the_venue_liquidation_price_is_read() -> None:
    """The documented allPosition row with ``liquidatePrice`` "61234.5": the leg carries it."""
    document = json.loads(fixture("weex_v3_rest_all_positions_response.json"))
    document[0]["liquidatePrice"] = "61234.5"
    (btc,) = venue(("BTCUSDT",)).parse_resync(request("positions"), json.dumps(document).encode(), RECEIVED)
    assert isinstance(btc, PositionEvent)
    assert btc.venue_liquidation_price == 61234.5
