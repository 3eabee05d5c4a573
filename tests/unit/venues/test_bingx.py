"""Golden tests of the BingX USDT-M swap venue on the recorded/documented fixtures."""

from __future__ import annotations

import gzip
import hashlib
import hmac
import json
from pathlib import Path

import pytest

from monitor.domain.events import BalanceEvent, PositionEvent, PositionSide, PriceEvent
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
from monitor.venues.bingx import (
    REST_QUOTE_MAX_AGE_MS,
    BingxSwap,
    parse_contracts,
    parse_maintenance_margin_tiers,
    sign,
)

FIXTURES = Path(__file__).parents[2] / "fixtures" / "exchanges"
RECEIVED = 1_700_000_000_000
CANARY_KEY = "canary-key-7f3a"
CANARY_SECRET = "canary-secret-91bd"  # noqa: S105 -- a canary value, not a credential


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def gz(name: str) -> bytes:
    """The fixture as BingX sends it: a gzip-compressed binary frame."""
    return gzip.compress(fixture(name))


def account() -> AccountContext:
    return AccountContext(
        account="bingx-main", portfolio="treasury",
        credentials=Credentials(Secret(CANARY_KEY), Secret(CANARY_SECRET)),
    )


def venue(symbols: tuple[str, ...] = ("BTC-USDT",), *, loaded: bool = True) -> BingxSwap:
    """A venue with an account; ``loaded`` feeds an empty positions snapshot first."""
    result = BingxSwap(symbols=symbols, account=account())
    if loaded:
        request = HttpRequest("GET", "https://x", "/p", "positions")
        result.parse_resync(request, b'{"code":0,"msg":"","data":[]}', RECEIVED)
    return result


def request(purpose: str) -> HttpRequest:
    return HttpRequest("GET", "https://open-api.bingx.com", "/x", purpose)


# Every bingx_* fixture and the test that covers it.
COVERED = {
    "bingx_rest_balance_v3_response.json": "test_balance_resync",
    "bingx_rest_contracts_response.json": "test_parse_contracts",
    "bingx_rest_listenkey_response.json": "test_private_stream_uses_listen_key",
    "bingx_rest_maint_margin_ratio_response.json": "test_maintenance_margin_tiers",
    "bingx_rest_positions_response.json": "test_positions_resync_is_full_state",
    "bingx_rest_premium_index_response.json": "test_premium_index_price_and_merge",
    "bingx_ws_account_config_update.json": "test_config_update_sets_short_leverage_from_capital_s",
    "bingx_ws_account_update.json": "test_account_update_official_sample",
    "bingx_ws_account_update_withdraw_no_positions.json": "test_withdraw_update_has_only_balance",
    "bingx_ws_error.json": "test_error_frame_is_frame_error",
    "bingx_ws_listenkey_expired.json": "test_listen_key_expired_asks_reconnect",
    "bingx_ws_markprice_push.json": "test_mark_price_gzip_frame",
    "bingx_ws_order_trade_update.json": "test_order_trade_updates_are_ignored",
    "bingx_ws_order_trade_update_string_id.json": "test_order_trade_updates_are_ignored",
    "bingx_ws_snapshot_config_observed.json": "test_snapshot_config_event_is_read_as_config",
    "bingx_ws_subscribe_ack.json": "test_subscribe_ack",
    "bingx_ws_subscribe_markprice_request.json": "test_subscribe_frames_match_documented_requests",
    "bingx_ws_subscribe_request_generic.json": "test_subscribe_frames_match_documented_requests",
    "bingx_ws_ticker_push.json": "test_ticker_push_is_ignored",
    "bingx_mexc_weex_contract_specs.json": "test_catalog_matches_contract_specs",
}


def test_every_bingx_fixture_is_covered() -> None:
    """Each bingx_* fixture file is named in COVERED with a test that exists in this module."""
    names = {path.name for path in FIXTURES.glob("bingx_*.json")}
    assert names == set(COVERED)
    assert all(test in globals() for test in COVERED.values())


def test_venue_satisfies_protocol() -> None:
    """BingxSwap is a Venue with the instrument-id prefix ``bingx``."""
    swap = venue()
    assert isinstance(swap, Venue)
    assert swap.name == "bingx"
    assert swap.stream_names() == ("market", "private")
    assert BingxSwap(symbols=["BTC-USDT"]).stream_names() == ("market",)


# -- market stream ------------------------------------------------------------------------------


def test_mark_price_gzip_frame() -> None:
    """A gzip markPrice push becomes a PriceEvent with the mark string parsed exactly."""
    parsed = venue().parse("market", gz("bingx_ws_markprice_push.json"), RECEIVED)
    assert parsed.kind is FrameKind.DATA
    assert parsed.events == (
        PriceEvent(
            instrument="bingx:ETH-USDT", mark=2999.63, index=None, funding_rate=None,
            next_funding_ms=None, ts_event_ms=1714650884021, ts_receive_ms=RECEIVED,
        ),
    )


def test_mark_price_plain_text_frame() -> None:
    """An uncompressed (text) frame is read the same as the gzip one."""
    text = fixture("bingx_ws_markprice_push.json").decode()
    gzip_events = venue().parse("market", gz("bingx_ws_markprice_push.json"), RECEIVED).events
    assert venue().parse("market", text, RECEIVED).events == gzip_events


@pytest.mark.parametrize("frame", [gzip.compress(b"Ping"), b"Ping", "Ping"])
def test_ping_is_answered_with_pong(frame: str | bytes) -> None:
    """The bare ``Ping`` (gzip or not) is answered with the text ``Pong``."""
    parsed = venue().parse("market", frame, RECEIVED)
    assert parsed.kind is FrameKind.PING
    assert parsed.replies == ("Pong",)
    assert parsed.events == ()


def test_subscribe_ack() -> None:
    """``{"id":..,"code":0,"msg":""}`` is an ack."""
    parsed = venue().parse("market", gz("bingx_ws_subscribe_ack.json"), RECEIVED)
    assert parsed.kind is FrameKind.ACK
    assert parsed.events == ()


def test_error_frame_is_frame_error() -> None:
    """An error frame (non-zero code) raises FrameError naming the code."""
    with pytest.raises(FrameError, match="100500"):
        venue().parse("market", gz("bingx_ws_error.json"), RECEIVED)


def test_ticker_push_is_ignored() -> None:
    """The 24h ticker has no mark price and is ignored."""
    parsed = venue().parse("market", gz("bingx_ws_ticker_push.json"), RECEIVED)
    assert parsed.kind is FrameKind.IGNORED
    assert parsed.events == ()


def test_subscribe_frames_match_documented_requests() -> None:
    """The market plan subscribes ``<symbol>@markPrice`` in the documented request shape."""
    plan = BingxSwap(symbols=["ETH-USDT"]).connect_plan("market", RECEIVED, None)
    (frame,) = plan.on_open
    sent = json.loads(frame)
    documented = json.loads(fixture("bingx_ws_subscribe_markprice_request.json"))
    generic = json.loads(fixture("bingx_ws_subscribe_request_generic.json"))
    assert set(sent) == set(generic) == {"id", "reqType", "dataType"}
    assert {**sent, "id": "|1|"} == documented
    assert plan.url == "wss://open-api-swap.bingx.com/swap-market"
    assert plan.ping_frame is None
    assert plan.keepalive_interval_s == 15.0


def test_premium_index_price_and_merge() -> None:
    """premiumIndex gives a PriceEvent; its index/funding ride on marks for 60 s only."""
    swap = venue(("BTC-USDT",))
    keepalive = swap.keepalive_request("market", RECEIVED)
    assert keepalive is not None
    assert keepalive.path == "/openApi/swap/v2/quote/premiumIndex"
    assert keepalive.query == (("symbol", "BTC-USDT"),)
    events = swap.parse_resync(keepalive, fixture("bingx_rest_premium_index_response.json"), RECEIVED)
    assert events == (
        PriceEvent(
            instrument="bingx:BTC-USDT", mark=42216.4, index=42219.9, funding_rate=0.000251,
            next_funding_ms=1702742400000, ts_event_ms=RECEIVED, ts_receive_ms=RECEIVED,
        ),
    )
    push = b'{"code":0,"dataType":"BTC-USDT@markPrice","data":{"E":1,"s":"BTC-USDT","p":"42220.5"}}'
    fresh = swap.parse("market", gzip.compress(push), RECEIVED + REST_QUOTE_MAX_AGE_MS)
    assert fresh.events == (
        PriceEvent(
            instrument="bingx:BTC-USDT", mark=42220.5, index=42219.9, funding_rate=0.000251,
            next_funding_ms=1702742400000, ts_event_ms=1, ts_receive_ms=RECEIVED + REST_QUOTE_MAX_AGE_MS,
        ),
    )
    stale = swap.parse("market", push, RECEIVED + REST_QUOTE_MAX_AGE_MS + 1)
    assert isinstance(stale.events[0], PriceEvent)
    assert (stale.events[0].index, stale.events[0].funding_rate) == (None, None)


def test_premium_index_list_keeps_configured_symbols() -> None:
    """The all-symbols premiumIndex list emits only the configured symbols."""
    swap = venue(("BTC-USDT", "ETH-USDT"))
    keepalive = swap.keepalive_request("market", RECEIVED)
    assert keepalive is not None
    assert keepalive.query == ()
    body = json.dumps({"code": 0, "data": [
        {"symbol": "BTC-USDT", "markPrice": "1", "indexPrice": "2", "lastFundingRate": "0.1",
         "nextFundingTime": 5, "time": 7},
        {"symbol": "DOGE-USDT", "markPrice": "1", "indexPrice": "1", "lastFundingRate": "0",
         "nextFundingTime": 5},
    ]}).encode()
    events = swap.parse_resync(keepalive, body, RECEIVED)
    assert [e.instrument for e in events if isinstance(e, PriceEvent)] == ["bingx:BTC-USDT"]
    assert events[0].ts_event_ms == 7


# -- private stream -----------------------------------------------------------------------------


def test_private_stream_uses_listen_key() -> None:
    """POST creates the key, the URL carries it, PUT extends it every 30 minutes."""
    swap = venue()
    setup = swap.stream_setup("private", RECEIVED)
    assert setup is not None
    assert (setup.method, setup.path) == ("POST", "/openApi/user/auth/userDataStream")
    assert setup.headers == {"X-BX-APIKEY": CANARY_KEY}
    plan = swap.connect_plan("private", RECEIVED, fixture("bingx_rest_listenkey_response.json"))
    key = "a8ea75681542e66f1a50a1616dd06ed77dab61baa0c296bca03a9b13ee5f2dd7"
    assert plan.url == f"wss://open-api-swap.bingx.com/swap-market?listenKey={key}"
    assert plan.keepalive_interval_s == 1800.0
    keepalive = swap.keepalive_request("private", RECEIVED)
    assert keepalive is not None
    assert (keepalive.method, keepalive.query) == ("PUT", (("listenKey", key),))
    assert swap.parse_resync(keepalive, b"{}", RECEIVED) == ()


def test_private_stream_rejects_bad_listen_key_response() -> None:
    """A missing or malformed listenKey is a FrameError, not a KeyError."""
    with pytest.raises(FrameError):
        venue().connect_plan("private", RECEIVED, None)
    with pytest.raises(FrameError):
        venue().connect_plan("private", RECEIVED, b'{"code":0}')
    with pytest.raises(FrameError):
        venue().connect_plan("private", RECEIVED, b'{"listenKey":"a b/c"}')


def test_account_update_official_sample() -> None:
    """The official ACCOUNT_UPDATE gives the USDT wallet balance with its cross wallet and the
    SHORT leg as an isolated short position."""
    parsed = venue().parse("private", gz("bingx_ws_account_update.json"), RECEIVED)
    assert parsed.events == (
        # "wb":"5277.59264687", "cw":"5233.21709203" (wallet balance excluding isolated margin)
        BalanceEvent(
            portfolio="treasury", account="bingx-main", asset="USDT", quantity=5277.59264687,
            ts_event_ms=1676603102163, ts_receive_ms=RECEIVED, cross_wallet=5233.21709203,
        ),
        # "pa":"108.84300000" (positive on the wire) with "ps":"SHORT" → the short leg, -108.843
        # contracts of 1 LINK; "iw":"23.19081642"
        PositionEvent(
            portfolio="treasury", account="bingx-main", instrument="bingx:LINK-USDT",
            quantity=-108.843, entry_price=7.2562, leverage=None, margin_mode="isolated",
            isolated_margin=23.19081642, ts_event_ms=1676603102163, ts_receive_ms=RECEIVED,
            position_side="short",
        ),
    )
    assert parsed.resync is False


def test_hedge_leg_before_snapshot_is_published_at_once() -> None:
    """Before any REST snapshot the SHORT leg is already its full position (no sibling to wait for)."""
    parsed = venue(loaded=False).parse("private", gz("bingx_ws_account_update.json"), RECEIVED)
    assert [(type(e), getattr(e, "position_side", None)) for e in parsed.events] == [
        (BalanceEvent, None), (PositionEvent, "short"),
    ]
    assert parsed.resync is False


def test_withdraw_update_has_only_balance() -> None:
    """A withdrawal with ``"P":[]`` gives only the new wallet balance (wb = cw = "49.81083984")."""
    parsed = venue().parse("private", gz("bingx_ws_account_update_withdraw_no_positions.json"), RECEIVED)
    assert parsed.events == (
        BalanceEvent(
            portfolio="treasury", account="bingx-main", asset="USDT", quantity=49.81083984,
            ts_event_ms=1696244249320, ts_receive_ms=RECEIVED, cross_wallet=49.81083984,
        ),
    )


def _position_update(symbol: str, side: str, amount: str, entry: str, mode: str = "cross") -> bytes:
    body = {"e": "ACCOUNT_UPDATE", "E": 5, "a": {"m": "ORDER", "B": [], "P": [
        {"s": symbol, "pa": amount, "ep": entry, "up": "0", "mt": mode, "iw": "0", "ps": side},
    ]}}
    return gzip.compress(json.dumps(body).encode())


def test_config_update_sets_short_leverage_from_capital_s() -> None:
    """``ac.S`` is the SHORT leverage (the doc comment mislabels it): a later short leg carries 9."""
    swap = venue()
    config = swap.parse("private", gz("bingx_ws_account_config_update.json"), RECEIVED)
    assert config.events == ()  # no BTC-USDT position yet
    parsed = swap.parse("private", _position_update("BTC-USDT", "SHORT", "0.5", "60000"), RECEIVED)
    (event,) = parsed.events
    assert isinstance(event, PositionEvent)
    assert (event.quantity, event.entry_price, event.leverage) == (-0.5, 60000.0, 9.0)
    assert event.margin_mode == "cross"
    assert event.isolated_margin is None


def test_config_change_reemits_open_position() -> None:
    """A leverage change of a symbol with an open leg re-emits the position with the new leverage."""
    swap = venue()
    swap.parse("private", _position_update("BTC-USDT", "LONG", "0.2", "50000"), RECEIVED)
    body = {"e": "ACCOUNT_CONFIG_UPDATE", "E": 9, "ac": {"s": "BTC-USDT", "l": 20, "S": 3, "mt": "cross"}}
    parsed = swap.parse("private", json.dumps(body), RECEIVED)
    (event,) = parsed.events
    assert isinstance(event, PositionEvent)
    assert (event.quantity, event.leverage, event.ts_event_ms) == (0.2, 20.0, 9)
    again = swap.parse("private", json.dumps(body), RECEIVED)
    assert again.events == ()  # unchanged leverage: nothing to re-emit


def test_snapshot_config_event_is_read_as_config() -> None:
    """The undocumented ``SNAPSHOT`` with ``ac`` stores leverage like a config update."""
    swap = venue(("BTC-USDT",))
    parsed = swap.parse("private", gz("bingx_ws_snapshot_config_observed.json"), RECEIVED)
    assert parsed.events == ()
    assert parsed.kind is FrameKind.DATA
    later = swap.parse("private", _position_update("MTL-USDT", "LONG", "3", "1.5", "isolated"), RECEIVED)
    (event,) = later.events
    assert isinstance(event, PositionEvent)
    assert (event.instrument, event.leverage, event.margin_mode) == ("bingx:MTL-USDT", 1.0, "isolated")


def test_hedge_legs_are_published_apart() -> None:
    """LONG 0.3 @ 100 and SHORT 0.1 @ 120 are two legs, +0.3 and -0.1; BOTH is one-way, signed."""
    swap = venue(("BTC-USDT",))
    (long_leg,) = swap.parse("private", _position_update("BTC-USDT", "LONG", "0.3", "100"), RECEIVED).events
    (short_leg,) = swap.parse("private", _position_update("BTC-USDT", "SHORT", "0.1", "120"), RECEIVED).events
    (one_way,) = swap.parse("private", _position_update("ETH-USDT", "BOTH", "-2", "3000"), RECEIVED).events
    legs = [(e.position_side, e.quantity, e.entry_price)
            for e in (long_leg, short_leg, one_way) if isinstance(e, PositionEvent)]
    assert legs == [("long", 0.3, 100.0), ("short", -0.1, 120.0), ("one_way", -2.0, 3000.0)]


def test_closed_leg_gives_zero_position() -> None:
    """A leg pushed with ``pa`` 0 closes the position: quantity 0 and entry price 0."""
    swap = venue()
    swap.parse("private", _position_update("BTC-USDT", "SHORT", "0.5", "60000"), RECEIVED)
    parsed = swap.parse("private", _position_update("BTC-USDT", "SHORT", "0", "0"), RECEIVED)
    (event,) = parsed.events
    assert isinstance(event, PositionEvent)
    assert (event.quantity, event.entry_price) == (0.0, 0.0)


def test_listen_key_expired_asks_reconnect() -> None:
    """``listenKeyExpired`` asks the supervisor to reconnect (which creates a new key)."""
    parsed = venue().parse("private", gz("bingx_ws_listenkey_expired.json"), RECEIVED)
    assert parsed.reconnect_reason == "listenKeyExpired"
    assert parsed.events == ()


@pytest.mark.parametrize(
    "name", ["bingx_ws_order_trade_update.json", "bingx_ws_order_trade_update_string_id.json"]
)
def test_order_trade_updates_are_ignored(name: str) -> None:
    """ORDER_TRADE_UPDATE (integer > 2^53 or string order id) is recognised and ignored."""
    parsed = venue().parse("private", gz(name), RECEIVED)
    assert parsed.kind is FrameKind.IGNORED
    assert parsed.events == ()


# -- REST resync --------------------------------------------------------------------------------


def test_resync_requests_are_signed() -> None:
    """Positions and balance GETs carry timestamp and the hex HMAC of ``timestamp=..``."""
    swap = venue()
    positions, balance, premium = swap.resync_requests(1649404670162)
    assert (positions.path, balance.path) == (
        "/openApi/swap/v2/user/positions", "/openApi/swap/v3/user/balance",
    )
    # independent computation: hex(HMAC-SHA256(secret, "timestamp=1649404670162"))
    expected = hmac.new(
        CANARY_SECRET.encode(), b"timestamp=1649404670162", hashlib.sha256
    ).hexdigest()
    assert positions.query == (("timestamp", "1649404670162"), ("signature", expected))
    assert positions.headers == {"X-BX-APIKEY": CANARY_KEY}
    assert premium.purpose == "premiumIndex"


def test_signature_matches_documented_example() -> None:
    """The BingX signature page's worked example reproduces: 428a3c38...dd827."""
    secret = Secret("UuGuyEGt6ZEkpUObCYCmIfh0elYsZVh80jlYwpJuRZEw70t6vomMH7Sjmf94ztSI")
    params = [
        ("symbol", "ETHUSDT"), ("side", "BUY"), ("type", "MARKET"),
        ("timestamp", "1649404670162"), ("quoteOrderQty", "20"),
    ]
    assert sign(secret, params) == "428a3c383bde514baff0d10d3c20e5adfaacaf799e324546dafe5ccc480dd827"


def _flat(instrument: str, side: PositionSide) -> PositionEvent:
    return PositionEvent(
        portfolio="treasury", account="bingx-main", instrument=instrument, quantity=0.0,
        entry_price=0.0, leverage=None, margin_mode="cross", isolated_margin=None,
        ts_event_ms=RECEIVED, ts_receive_ms=RECEIVED, position_side=side,
    )


def test_positions_resync_is_full_state() -> None:
    """REST positions: the open BNB short leg, the ETH long leg held before (now flat) and every
    leg of the configured, flat BTC-USDT."""
    swap = venue(("BTC-USDT",))
    swap.parse("private", _position_update("ETH-USDT", "LONG", "1", "3000"), RECEIVED)
    events = swap.parse_resync(request("positions"), fixture("bingx_rest_positions_response.json"), RECEIVED)
    assert events == (
        # "positionAmt":"0.20","positionSide":"SHORT" → -0.2; isolated margin = initialMargin;
        # the venue's own "liquidationPrice": 294.16914617776246
        PositionEvent(
            portfolio="treasury", account="bingx-main", instrument="bingx:BNB-USDT",
            quantity=-0.2, entry_price=246.43, leverage=5.0, margin_mode="isolated",
            isolated_margin=9.7914, ts_event_ms=RECEIVED, ts_receive_ms=RECEIVED,
            position_side="short", venue_liquidation_price=294.16914617776246,
        ),
        _flat("bingx:ETH-USDT", "long"),
        _flat("bingx:BTC-USDT", "one_way"),
        _flat("bingx:BTC-USDT", "long"),
        _flat("bingx:BTC-USDT", "short"),
    )


def test_balance_resync() -> None:
    """REST v3 balance rows become wallet balances (``balance``), zero balances included."""
    body = fixture("bingx_rest_balance_v3_response.json")
    events = venue().parse_resync(request("balances"), body, RECEIVED)
    assert events == (
        BalanceEvent(portfolio="treasury", account="bingx-main", asset="USDT", quantity=19.9003,
                     ts_event_ms=RECEIVED, ts_receive_ms=RECEIVED),
        BalanceEvent(portfolio="treasury", account="bingx-main", asset="USDC", quantity=0.0,
                     ts_event_ms=RECEIVED, ts_receive_ms=RECEIVED),
    )


def test_rest_error_envelope_is_frame_error() -> None:
    """A REST body with a non-zero code raises FrameError with the code."""
    with pytest.raises(FrameError, match="100001"):
        venue().parse_resync(request("positions"), b'{"code":100001,"msg":"bad sign"}', RECEIVED)
    with pytest.raises(FrameError, match="unknown resync purpose"):
        venue().parse_resync(request("nope"), b'{"code":0,"data":[]}', RECEIVED)


# -- contract terms -----------------------------------------------------------------------------


def test_parse_contracts() -> None:
    """contracts → catalog overrides: cs 1, lot 10^-precision, minimum, fees."""
    overrides = parse_contracts(fixture("bingx_rest_contracts_response.json"))
    assert overrides["bingx:BTC-USDT"] == {
        "kind": "linear", "base": "BTC", "quote": "USDT", "settle": "USD", "contract_size": 1.0,
        "lot_step": 0.0001, "min_quantity": 0.0001, "taker_fee": 0.0005, "maker_fee": 0.0002,
    }
    # quantityPrecision 2 → lot 0.01
    assert overrides["bingx:ETH-USDT"]["lot_step"] == 0.01
    catalog = default_catalog().with_overrides(overrides)
    assert catalog.require("bingx:ETH-USDT").min_quantity == 0.01


def test_maintenance_margin_tiers() -> None:
    """maintMarginRatio rows become tiers whose derived cum equals BingX's maintAmount (30)."""
    overrides = parse_maintenance_margin_tiers(fixture("bingx_rest_maint_margin_ratio_response.json"))
    assert overrides == {"bingx:BTC-USDT": {"tiers": [
        {"floor": 0.0, "cap": 150000.0, "mmr": 0.0038},
        {"floor": 150000.0, "cap": 900000.0, "mmr": 0.004},
    ]}}
    instrument = default_catalog().with_overrides(overrides).require("bingx:BTC-USDT")
    # cum_2 = 150000 * (0.004 - 0.0038) + 0 = 30 = "maintAmount":"30.000000"
    assert instrument.tiers[1].cum == pytest.approx(30.0)
    assert instrument.tiers[0].cum == 0.0


def test_catalog_matches_contract_specs() -> None:
    """The shipped BingX catalog entries agree with the contract-spec summary (cs 1, lot, min)."""
    specs = json.loads(fixture("bingx_mexc_weex_contract_specs.json"))["BingX"]
    catalog = default_catalog()
    for symbol in ("BTC-USDT", "ETH-USDT"):
        instrument = catalog.require(f"bingx:{symbol}")
        assert instrument.contract_size == float(specs[symbol]["effectiveContractSize"])
        assert instrument.min_quantity == float(specs[symbol]["tradeMinQuantity"])
        assert instrument.lot_step == 10.0 ** -int(specs[symbol]["quantityPrecision"])
        assert instrument.tiers
    # BTC-USDT's first two tiers are BingX's maintMarginRatio answer (fixture): 0-150,000 USDT at
    # 0.38 % (amount 0) and 150,000-900,000 at 0.40 % with amount 150,000 x (0.40 - 0.38) % = 30
    answer = json.loads(fixture("bingx_rest_maint_margin_ratio_response.json"))["data"]
    btc = catalog.require("bingx:BTC-USDT").tiers
    for tier, row in zip(btc, answer, strict=False):
        assert (tier.floor, tier.cap) == (float(row["minPositionVal"]), float(row["maxPositionVal"]))
        assert tier.mmr == float(row["maintMarginRatio"])
        assert tier.cum == pytest.approx(float(row["maintAmount"]))


# -- robustness and secrets ---------------------------------------------------------------------


MALFORMED = [
    pytest.param(b"x" * (MAX_FRAME_BYTES + 1), id="oversized"),
    pytest.param(gzip.compress(b" " * (MAX_FRAME_BYTES + 10)), id="gzip-bomb"),
    pytest.param(gzip.compress(b'{"code":0}')[:-6], id="truncated-gzip"),
    pytest.param(b"\x1f\x8b\x08garbage", id="bad-gzip"),
    pytest.param(b"\xff\xfe", id="not-utf8"),
    pytest.param(b"{not json", id="not-json"),
    pytest.param(b"[1, 2]", id="array"),
    pytest.param(b"{}", id="unrecognised"),
    pytest.param(b'{"code":0,"dataType":"X@markPrice","data":{"E":1,"s":"X","p":NaN}}', id="nan"),
    pytest.param(b'{"code":0,"dataType":"X@markPrice","data":{"E":1,"s":"X","p":""}}', id="empty"),
    pytest.param(b'{"code":0,"dataType":"X@markPrice","data":{"E":1,"s":"X","p":true}}', id="bool"),
    pytest.param(b'{"code":0,"dataType":"X@markPrice","data":{"E":1,"s":"X","p":"1e999"}}', id="inf"),
    pytest.param(b'{"code":0,"dataType":"X@markPrice","data":{"E":1,"s":"X","p":"-5"}}', id="neg-mark"),
    pytest.param(b'{"code":0,"dataType":"X@markPrice","data":{"s":"X","p":"1"}}', id="no-time"),
    pytest.param(b'{"code":0,"dataType":"X@markPrice","data":[]}', id="data-list"),
    pytest.param(b'{"e":"ACCOUNT_UPDATE","E":1,"a":{"B":[{"a":"USDT"}]}}', id="no-wb"),
    pytest.param(b'{"e":"ACCOUNT_UPDATE","E":1,"a":{"P":[{"s":"X","pa":"1","ep":"1",'
                 b'"mt":"cross","ps":"UP"}]}}', id="bad-side"),
    pytest.param(b'{"e":"ACCOUNT_UPDATE","E":1,"a":{"P":[{"s":"X","pa":"1","ep":"1",'
                 b'"mt":"weird","ps":"LONG"}]}}', id="bad-mode"),
    pytest.param(b'{"e":"ACCOUNT_UPDATE","E":1,"a":"x"}', id="a-not-object"),
    pytest.param(
        b'{"e":"ACCOUNT_UPDATE","E":1,"a":{"B":[' + b",".join([b"{}"] * (MAX_LIST_ITEMS + 1)) + b"]}}",
        id="too-many-items",
    ),
]


@pytest.mark.parametrize("frame", MALFORMED)
def test_malformed_frames_raise_frame_error(frame: bytes) -> None:
    """Malformed, oversized or non-finite input raises FrameError with a reason, nothing else."""
    with pytest.raises(FrameError) as caught:
        venue().parse("private", frame, RECEIVED)
    assert caught.value.reason


def test_unknown_symbol_is_refused() -> None:
    """A symbol the catalog does not know fails at construction, naming the known ids."""
    with pytest.raises(CatalogError, match="bingx:BTC-USDT"):
        BingxSwap(symbols=["SOL-USDT"])
    with pytest.raises(ValueError, match="valid symbol"):
        BingxSwap(symbols=["BTCUSDT"])


def test_account_without_credentials_is_refused() -> None:
    """An account without credentials cannot open the private stream: refused at construction."""
    with pytest.raises(ValueError, match="credentials"):
        BingxSwap(symbols=["BTC-USDT"], account=AccountContext("a", "p"))


def test_secrets_never_print() -> None:
    """Neither the API key nor the secret appear in reprs of the venue, plans, requests or errors."""
    swap = venue()
    texts = [repr(swap), repr(swap.stream_setup("private", RECEIVED))]
    texts.append(repr(swap.connect_plan("private", RECEIVED, fixture("bingx_rest_listenkey_response.json"))))
    texts.append(repr(swap.keepalive_request("private", RECEIVED)))
    texts.extend(repr(r) for r in swap.resync_requests(RECEIVED))
    for frame in (b"{}", b'{"code":1,"msg":"x"}', gzip.compress(b"{")):
        with pytest.raises(FrameError) as caught:
            swap.parse("private", frame, RECEIVED)
        texts.append(str(caught.value))
    for text in texts:
        assert CANARY_KEY not in text
        assert CANARY_SECRET not in text
