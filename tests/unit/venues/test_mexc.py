"""Golden tests of the MEXC contract venue on the documented fixtures."""

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
from monitor.venues.mexc import (
    PING_FRAME,
    MexcContract,
    RiskLimit,
    VolumeTier,
    notional_tiers,
    parse_contract_detail,
    parse_risk_limits,
    risk_tiers,
    sign,
    signature_payload,
)

FIXTURES = Path(__file__).parents[2] / "fixtures" / "exchanges"
RECEIVED = 1_700_000_000_000
CANARY_KEY = "canary-key-mx-51c0"
CANARY_SECRET = "canary-secret-mx-e2aa"  # noqa: S105 -- a canary value, not a credential


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def account() -> AccountContext:
    return AccountContext(
        account="mexc-main", portfolio="treasury",
        credentials=Credentials(Secret(CANARY_KEY), Secret(CANARY_SECRET)),
    )


def request(purpose: str) -> HttpRequest:
    return HttpRequest("GET", "https://contract.mexc.com", "/x", purpose)


EMPTY_POSITIONS = b'{"success":true,"code":0,"data":[]}'


def venue(symbols: tuple[str, ...] = ("BTC_USDT",), *, loaded: bool = True) -> MexcContract:
    """A venue with an account; ``loaded`` feeds an empty positions snapshot first."""
    result = MexcContract(symbols=symbols, account=account())
    if loaded:
        result.parse_resync(request("positions"), EMPTY_POSITIONS, RECEIVED)
    return result


def position(
    symbol: str, side: int, volume: float, price: float, *, state: int = 1, open_type: int = 2,
    im: float = 0.0, position_id: int = 1,
) -> str:
    """A ``push.personal.position`` frame (fields as in the official samples)."""
    return json.dumps({"channel": "push.personal.position", "ts": 42, "data": {
        "positionId": position_id, "symbol": symbol, "positionType": side, "openType": open_type,
        "state": state, "holdVol": volume, "holdAvgPrice": price, "leverage": 10, "im": im,
    }})


COVERED = {
    "mexc_rest_asset_usdt_response.json": "test_assets_resync",
    "mexc_rest_contract_detail_btc_response.json": "test_parse_contract_detail",
    "mexc_rest_funding_rate_response.json": "test_funding_rate_resync_feeds_prices",
    "mexc_rest_open_positions_response.json": "test_positions_resync_is_full_state",
    "mexc_rest_risk_limit_response.json": "test_parse_risk_limits",
    "mexc_ws_asset_push.json": "test_asset_push",
    "mexc_ws_asset_push_newdoc.json": "test_asset_push",
    "mexc_ws_fair_price_push.json": "test_fair_price_push",
    "mexc_ws_funding_rate_push.json": "test_index_and_funding_merge_into_mark",
    "mexc_ws_funding_rate_push_observed.json": "test_funding_push_with_next_settle_time",
    "mexc_ws_index_price_push.json": "test_index_and_funding_merge_into_mark",
    "mexc_ws_liquidate_risk_push.json": "test_other_private_pushes_are_ignored",
    "mexc_ws_login_request_no_default_push.json": "test_login_frame_matches_documented_shape",
    "mexc_ws_login_request_template.json": "test_login_frame_matches_documented_shape",
    "mexc_ws_login_response.json": "test_login_response_is_ack",
    "mexc_ws_personal_filter_request.json": "test_private_plan_sends_only_login",
    "mexc_ws_ping_request.json": "test_ping_frame_matches_documented_request",
    "mexc_ws_pong_response.json": "test_pong_response",
    "mexc_ws_position_mode_push.json": "test_one_way_mode_moves_the_legs_to_one_way",
    "mexc_ws_position_push_closed.json": "test_closed_position_push",
    "mexc_ws_position_push_open.json": "test_open_position_push",
    "mexc_ws_risk_limit_push.json": "test_risk_limit_push_is_kept",
    "mexc_ws_sub_fair_price_request.json": "test_market_subscriptions_match_documented_requests",
    "mexc_ws_sub_funding_rate_request.json": "test_market_subscriptions_match_documented_requests",
    "mexc_ws_ticker_push.json": "test_ticker_push",
}


def test_every_mexc_fixture_is_covered() -> None:
    """Each mexc_* fixture file is named in COVERED with a test that exists in this module."""
    names = {path.name for path in FIXTURES.glob("mexc_*.json")}
    assert names == set(COVERED)
    assert all(test in globals() for test in COVERED.values())


def test_venue_satisfies_protocol() -> None:
    """MexcContract is a Venue with the instrument-id prefix ``mexc``."""
    contract = venue()
    assert isinstance(contract, Venue)
    assert contract.name == "mexc"
    assert contract.stream_names() == ("market", "private")
    assert MexcContract(symbols=["BTC_USDT"]).stream_names() == ("market",)


# -- market stream ------------------------------------------------------------------------------


def test_market_subscriptions_match_documented_requests() -> None:
    """The market plan sends sub.fair.price / index / funding with ``"gzip": false`` and pings."""
    plan = venue().connect_plan("market", RECEIVED, None)
    sent = [json.loads(frame) for frame in plan.on_open]
    assert sent[0] == json.loads(fixture("mexc_ws_sub_fair_price_request.json"))
    assert sent[2] == json.loads(fixture("mexc_ws_sub_funding_rate_request.json"))
    assert sent[1] == {"method": "sub.index.price", "param": {"symbol": "BTC_USDT"}, "gzip": False}
    assert plan.url == "wss://contract.mexc.com/edge"


def test_ping_frame_matches_documented_request() -> None:
    """The client ping is the documented ``{"method":"ping"}``, sent well inside the 60 s limit."""
    plan = venue().connect_plan("private", RECEIVED, None)
    assert plan.ping_frame == PING_FRAME
    assert json.loads(PING_FRAME) == json.loads(fixture("mexc_ws_ping_request.json"))
    assert plan.ping_interval_s < 60


def test_pong_response() -> None:
    """``{"channel":"pong",..}`` is a pong."""
    parsed = venue().parse("market", fixture("mexc_ws_pong_response.json"), RECEIVED)
    assert parsed.kind is FrameKind.PONG
    assert parsed.events == ()


def test_fair_price_push() -> None:
    """push.fair.price is the mark price; index and funding unknown yet."""
    parsed = venue().parse("market", fixture("mexc_ws_fair_price_push.json"), RECEIVED)
    assert parsed.events == (
        PriceEvent(
            instrument="mexc:BTC_USDT", mark=0.001, index=None, funding_rate=None,
            next_funding_ms=None, ts_event_ms=1587442022003, ts_receive_ms=RECEIVED,
        ),
    )


def test_gzip_frame_is_inflated() -> None:
    """A gzip-compressed binary frame gives the same events as the text frame."""
    text = venue().parse("market", fixture("mexc_ws_fair_price_push.json"), RECEIVED)
    compressed = venue().parse("market", gzip.compress(fixture("mexc_ws_fair_price_push.json")), RECEIVED)
    assert compressed.events == text.events


def test_index_and_funding_merge_into_mark() -> None:
    """Index and funding pushes wait for a mark, then ride on every price event of the symbol."""
    contract = venue()
    assert contract.parse("market", fixture("mexc_ws_index_price_push.json"), RECEIVED).events == ()
    assert contract.parse("market", fixture("mexc_ws_funding_rate_push.json"), RECEIVED).events == ()
    parsed = contract.parse("market", fixture("mexc_ws_fair_price_push.json"), RECEIVED)
    assert parsed.events == (
        PriceEvent(
            instrument="mexc:BTC_USDT", mark=0.001, index=0.001, funding_rate=0.001,
            next_funding_ms=None, ts_event_ms=1587442022003, ts_receive_ms=RECEIVED,
        ),
    )
    again = contract.parse("market", fixture("mexc_ws_index_price_push.json"), RECEIVED + 1)
    assert [e.ts_receive_ms for e in again.events] == [RECEIVED + 1]


def test_funding_push_with_next_settle_time() -> None:
    """The observed funding push carries ``nextSettleTime``; it becomes next_funding_ms."""
    contract = venue()
    contract.parse("market", fixture("mexc_ws_fair_price_push.json"), RECEIVED)
    parsed = contract.parse("market", fixture("mexc_ws_funding_rate_push_observed.json"), RECEIVED)
    assert parsed.events == (
        PriceEvent(
            instrument="mexc:BTC_USDT", mark=0.001, index=None, funding_rate=-0.000021,
            next_funding_ms=1771084800000, ts_event_ms=1771069020506, ts_receive_ms=RECEIVED,
        ),
    )


def test_ticker_push() -> None:
    """push.ticker carries fair (mark), index and funding in one frame."""
    parsed = venue().parse("market", fixture("mexc_ws_ticker_push.json"), RECEIVED)
    assert parsed.events == (
        PriceEvent(
            instrument="mexc:BTC_USDT", mark=6867.4, index=6861.6, funding_rate=0.0008,
            next_funding_ms=None, ts_event_ms=1587442022003, ts_receive_ms=RECEIVED,
        ),
    )


def test_reset_forgets_connection_prices() -> None:
    """After reset("market") an index push has no mark to ride on and emits nothing."""
    contract = venue()
    contract.parse("market", fixture("mexc_ws_fair_price_push.json"), RECEIVED)
    contract.reset("market")
    assert contract.parse("market", fixture("mexc_ws_index_price_push.json"), RECEIVED).events == ()


def test_funding_rate_resync_feeds_prices() -> None:
    """The REST funding rate (with nextSettleTime) is remembered and merged into the next mark."""
    contract = venue()
    funding_requests = [r for r in contract.resync_requests(RECEIVED) if r.purpose == "fundingRate"]
    assert [r.path for r in funding_requests] == ["/api/v1/contract/funding_rate/BTC_USDT"]
    body = fixture("mexc_rest_funding_rate_response.json")
    assert contract.parse_resync(funding_requests[0], body, RECEIVED) == ()
    parsed = contract.parse("market", fixture("mexc_ws_fair_price_push.json"), RECEIVED)
    assert parsed.events == (
        PriceEvent(
            instrument="mexc:BTC_USDT", mark=0.001, index=None, funding_rate=-0.000489,
            next_funding_ms=1609833600000, ts_event_ms=1587442022003, ts_receive_ms=RECEIVED,
        ),
    )


def test_past_settle_time_is_not_reported() -> None:
    """A remembered nextSettleTime earlier than the push's time is reported as None."""
    contract = venue()
    contract.parse("market", fixture("mexc_ws_funding_rate_push_observed.json"), RECEIVED)
    late = b'{"channel":"push.fair.price","data":{"price":1,"symbol":"BTC_USDT"},"ts":1771084800001}'
    (event,) = contract.parse("market", late, RECEIVED).events
    assert isinstance(event, PriceEvent)
    # 1771084800001 > nextSettleTime 1771084800000: that settlement is in the past
    assert (event.funding_rate, event.next_funding_ms) == (-0.000021, None)


@pytest.mark.parametrize(
    "frame",
    [
        b'{"channel":"rs.sub.fair.price","data":"success","ts":1}',
        b'{"channel":"rs.personal.filter","data":"success","ts":1}',
    ],
)
def test_subscription_acks(frame: bytes) -> None:
    """``rs.<method>`` with data ``success`` is an ack."""
    assert venue().parse("market", frame, RECEIVED).kind is FrameKind.ACK


def test_error_reply_is_frame_error() -> None:
    """``rs.error`` raises FrameError with MEXC's message."""
    with pytest.raises(FrameError, match="invalid symbol"):
        venue().parse("market", b'{"channel":"rs.error","data":"invalid symbol","ts":1}', RECEIVED)


# -- private stream -----------------------------------------------------------------------------


def test_login_frame_matches_documented_shape() -> None:
    """The login frame has the documented fields, reqTime as a string, and the HMAC signature."""
    plan = venue().connect_plan("private", 1611038237237, None)
    (frame,) = plan.on_open
    login = json.loads(frame)
    template = json.loads(fixture("mexc_ws_login_request_template.json"))
    assert login.keys() == template.keys()
    assert login["param"].keys() == template["param"].keys()
    # independent computation: hex(HMAC-SHA256(secret, apiKey + reqTime))
    expected = hmac.new(
        CANARY_SECRET.encode(), f"{CANARY_KEY}1611038237237".encode(), hashlib.sha256
    ).hexdigest()
    assert login["param"] == {"apiKey": CANARY_KEY, "reqTime": "1611038237237", "signature": expected}
    # "subscribe": false (the other documented login) would suppress the default private pushes
    assert "subscribe" in json.loads(fixture("mexc_ws_login_request_no_default_push.json"))
    assert "subscribe" not in login


def test_signature_payload_matches_documented_example() -> None:
    """The docs' example signing string is apiKey followed by reqTime."""
    assert signature_payload("mx0aBYs33eIilxBW5C", "1657186536762") == "mx0aBYs33eIilxBW5C1657186536762"
    expected = hmac.new(b"s3cr3t", b"mx0aBYs33eIilxBW5C1657186536762", hashlib.sha256).hexdigest()
    assert sign(Secret("s3cr3t"), "mx0aBYs33eIilxBW5C", "1657186536762") == expected


def test_private_plan_sends_only_login() -> None:
    """No ``personal.filter`` is sent: every private push (the default after login) is wanted."""
    plan = venue().connect_plan("private", RECEIVED, None)
    assert [json.loads(frame)["method"] for frame in plan.on_open] == ["login"]
    documented_filter = json.loads(fixture("mexc_ws_personal_filter_request.json"))
    assert documented_filter["method"] == "personal.filter"


def test_login_response_is_ack() -> None:
    """``rs.login`` success (its ts a string) is an ack; a failure asks for a reconnect."""
    contract = venue()
    assert contract.parse("private", fixture("mexc_ws_login_response.json"), RECEIVED).kind is FrameKind.ACK
    failed = contract.parse("private", b'{"channel":"rs.login","data":"fail","ts":"1"}', RECEIVED)
    assert failed.reconnect_reason is not None
    assert "login failed" in failed.reconnect_reason


def test_open_position_push() -> None:
    """An open isolated long: holdVol contracts, full-precision entry, im as isolated margin."""
    parsed = venue().parse("private", fixture("mexc_ws_position_push_open.json"), RECEIVED)
    # 10 contracts of 0.0001 BTC = 0.001 BTC; entry from holdAvgPriceFullyScale "45000.5000...";
    # positionType 1 (long) in hedge mode (assumed until a mode push): the long leg
    assert parsed.events == (
        PositionEvent(
            portfolio="treasury", account="mexc-main", instrument="mexc:BTC_USDT", quantity=10.0,
            entry_price=45000.5, leverage=20.0, margin_mode="isolated", isolated_margin=2250.025,
            ts_event_ms=1760942212000, ts_receive_ms=RECEIVED, position_side="long",
            venue_liquidation_price=40000.0,  # the venue's own "liquidatePrice": 40000.0
        ),
    )


def test_closed_position_push() -> None:
    """State 3 (closed, holdVol 0) gives quantity 0 and entry price 0."""
    parsed = venue().parse("private", fixture("mexc_ws_position_push_closed.json"), RECEIVED)
    assert parsed.events == (
        PositionEvent(
            portfolio="treasury", account="mexc-main", instrument="mexc:CRV_USDT", quantity=0.0,
            entry_price=0.0, leverage=15.0, margin_mode="isolated", isolated_margin=None,
            ts_event_ms=1610005070157, ts_receive_ms=RECEIVED, position_side="long",
        ),
    )


def test_state_three_closes_even_with_volume() -> None:
    """``state`` 3 closes the leg even if a stale holdVol is still sent."""
    contract = venue()
    contract.parse("private", position("BTC_USDT", 2, 5, 60000), RECEIVED)
    parsed = contract.parse("private", position("BTC_USDT", 2, 5, 60000, state=3), RECEIVED)
    (event,) = parsed.events
    assert isinstance(event, PositionEvent)
    assert (event.quantity, event.entry_price) == (0.0, 0.0)


def test_hedge_legs_are_published_apart() -> None:
    """Hedge mode: long 3 @ 100 (positionType 1) and short 1 @ 110 (positionType 2) are two legs."""
    contract = venue()
    (long_leg,) = contract.parse("private", position("BTC_USDT", 1, 3, 100, position_id=1), RECEIVED).events
    (short_leg,) = contract.parse("private", position("BTC_USDT", 2, 1, 110, position_id=2), RECEIVED).events
    legs = [(e.position_side, e.quantity, e.entry_price, e.margin_mode)
            for e in (long_leg, short_leg) if isinstance(e, PositionEvent)]
    assert legs == [("long", 3.0, 100.0, "cross"), ("short", -1.0, 110.0, "cross")]


def test_leg_before_snapshot_is_published_at_once() -> None:
    """Before any REST snapshot a leg is already its full position; no resync is asked."""
    parsed = venue(loaded=False).parse("private", fixture("mexc_ws_position_push_open.json"), RECEIVED)
    assert [(e.instrument, e.position_side) for e in parsed.events if isinstance(e, PositionEvent)] == [
        ("mexc:BTC_USDT", "long"),
    ]
    assert parsed.resync is False


def test_one_way_mode_moves_the_legs_to_one_way() -> None:
    """The documented ``positionMode`` 2 (one-way) push after a short leg: the short leg closes
    and the same position is the one-way leg; later pushes are one-way, signed by positionType
    (both positionTypes of a symbol are one leg, so a flip's close and open net correctly)."""
    contract = venue(loaded=False)
    contract.parse("private", position("BTC_USDT", 2, 5, 60000), RECEIVED)
    mode = contract.parse("private", fixture("mexc_ws_position_mode_push.json"), RECEIVED)
    # ts 1760942212000 of the mode push; -5 contracts @ 60000, cross, leverage 10
    assert [(e.position_side, e.quantity, e.ts_event_ms) for e in mode.events
            if isinstance(e, PositionEvent)] == [
        ("short", 0.0, 1760942212000), ("one_way", -5.0, 1760942212000),
    ]
    # a flip in one-way mode: the short closes (state 3), then the documented long opens
    closed = contract.parse("private", position("BTC_USDT", 2, 5, 60000, state=3), RECEIVED)
    opened = contract.parse("private", fixture("mexc_ws_position_push_open.json"), RECEIVED)
    assert [(e.instrument, e.position_side, e.quantity) for e in (*closed.events, *opened.events)
            if isinstance(e, PositionEvent)] == [
        ("mexc:BTC_USDT", "one_way", 0.0), ("mexc:BTC_USDT", "one_way", 10.0),
    ]
    again = contract.parse("private", fixture("mexc_ws_position_mode_push.json"), RECEIVED)
    assert again.events == ()  # no change of mode: nothing to move


@pytest.mark.parametrize(
    ("name", "wallet", "ts"),
    [
        # 0.7514236 available + 0 frozen + 0 position margin
        ("mexc_ws_asset_push.json", 0.7514236, 1610005070083),
        # 9000 available + 1000 frozen + 5000 position margin = 15000 (bonus 100 excluded)
        ("mexc_ws_asset_push_newdoc.json", 15000.0, 1760942212000),
    ],
)
def test_asset_push(name: str, wallet: float, ts: int) -> None:
    """push.personal.asset gives the derived wallet balance of the currency."""
    parsed = venue().parse("private", fixture(name), RECEIVED)
    assert parsed.events == (
        BalanceEvent(portfolio="treasury", account="mexc-main", asset="USDT", quantity=wallet,
                     ts_event_ms=ts, ts_receive_ms=RECEIVED),
    )


def test_risk_limit_push_is_kept() -> None:
    """push.personal.risk.limit emits nothing and is exposed in ``risk_limits``."""
    contract = venue()
    parsed = contract.parse("private", fixture("mexc_ws_risk_limit_push.json"), RECEIVED)
    assert parsed.events == ()
    assert dict(contract.risk_limits) == {
        ("BTC_USDT", "long"): RiskLimit(
            symbol="BTC_USDT", side="long", level=2, max_volume=500.0, mmr=0.02, imr=0.04,
            max_leverage=50.0,
        ),
    }


def test_other_private_pushes_are_ignored() -> None:
    """Liquidation-risk (and other unhandled) pushes are recognised and ignored."""
    parsed = venue().parse("private", fixture("mexc_ws_liquidate_risk_push.json"), RECEIVED)
    assert parsed.kind is FrameKind.IGNORED
    assert parsed.events == ()


# -- REST resync --------------------------------------------------------------------------------


def test_resync_requests_are_signed() -> None:
    """Positions and assets GETs carry ApiKey, Request-Time and the HMAC of key + time."""
    positions, assets, funding = venue().resync_requests(1609991676000)
    assert (positions.path, assets.path) == (
        "/api/v1/private/position/open_positions", "/api/v1/private/account/assets",
    )
    # independent computation: hex(HMAC-SHA256(secret, apiKey + Request-Time + "")) (no parameters)
    expected = hmac.new(
        CANARY_SECRET.encode(), f"{CANARY_KEY}1609991676000".encode(), hashlib.sha256
    ).hexdigest()
    assert dict(positions.headers) == {
        "ApiKey": CANARY_KEY, "Request-Time": "1609991676000", "Signature": expected,
        "Content-Type": "application/json",
    }
    assert funding.headers == {}


def test_positions_resync_is_full_state() -> None:
    """REST open positions: the ETH long, plus quantity 0 for configured and held-before symbols."""
    contract = venue(("BTC_USDT",))
    contract.parse("private", position("SOL_USDT", 2, 4, 150), RECEIVED)
    body = fixture("mexc_rest_open_positions_response.json")
    events = contract.parse_resync(request("positions"), body, RECEIVED)
    def flat(instrument: str, side: PositionSide) -> PositionEvent:
        return PositionEvent(
            portfolio="treasury", account="mexc-main", instrument=instrument, quantity=0.0,
            entry_price=0.0, leverage=None, margin_mode="cross", isolated_margin=None,
            ts_event_ms=RECEIVED, ts_receive_ms=RECEIVED, position_side=side,
        )

    # ETH long leg (positionType 1, holdVol 1, im 0.1290338); SOL short leg held before, gone;
    # BTC_USDT configured with nothing open: every leg flat
    assert events == (
        PositionEvent(
            portfolio="treasury", account="mexc-main", instrument="mexc:ETH_USDT", quantity=1.0,
            entry_price=1217.3, leverage=100.0, margin_mode="isolated", isolated_margin=0.1290338,
            ts_event_ms=RECEIVED, ts_receive_ms=RECEIVED, position_side="long",
            venue_liquidation_price=1211.2,  # the venue's own "liquidatePrice": 1211.2
        ),
        flat("mexc:SOL_USDT", "short"),
        flat("mexc:BTC_USDT", "one_way"),
        flat("mexc:BTC_USDT", "long"),
        flat("mexc:BTC_USDT", "short"),
    )


def test_assets_resync() -> None:
    """The asset response (one currency object) gives the derived wallet balance."""
    body = fixture("mexc_rest_asset_usdt_response.json")
    events = venue().parse_resync(request("balances"), body, RECEIVED)
    # 0.03176562 available + 0 frozen + 0 position margin
    assert events == (
        BalanceEvent(portfolio="treasury", account="mexc-main", asset="USDT", quantity=0.03176562,
                     ts_event_ms=RECEIVED, ts_receive_ms=RECEIVED),
    )


def test_rest_failure_is_frame_error() -> None:
    """``success: false`` raises FrameError with MEXC's code and message."""
    body = b'{"success":false,"code":602,"message":"Signature verification failed"}'
    with pytest.raises(FrameError, match="602"):
        venue().parse_resync(request("positions"), body, RECEIVED)


# -- contract terms and risk tiers --------------------------------------------------------------


def test_parse_contract_detail() -> None:
    """contract/detail → catalog overrides in MEXC contracts (cs 0.0001 BTC, lot 1, min 1)."""
    overrides = parse_contract_detail(fixture("mexc_rest_contract_detail_btc_response.json"))
    assert overrides == {"mexc:BTC_USDT": {
        "kind": "linear", "base": "BTC", "quote": "USDT", "settle": "USD", "contract_size": 0.0001,
        "lot_step": 1.0, "min_quantity": 1.0, "taker_fee": 0.0006, "maker_fee": 0.0002,
    }}
    assert default_catalog().with_overrides(overrides).require("mexc:BTC_USDT").taker_fee == 0.0006


def test_risk_tiers() -> None:
    """Five volume levels: +150000 contracts, +0.004 mmr and +0.004 imr per level."""
    tiers = risk_tiers(fixture("mexc_rest_contract_detail_btc_response.json"))["BTC_USDT"]
    assert [(t.level, t.max_volume) for t in tiers] == [
        (1, 150000.0), (2, 300000.0), (3, 450000.0), (4, 600000.0), (5, 750000.0),
    ]
    # mmr 0.004 + (n-1) * 0.004; imr 0.008 + (n-1) * 0.004; leverage 1 / imr
    assert [t.mmr for t in tiers] == pytest.approx([0.004, 0.008, 0.012, 0.016, 0.020])
    assert [t.imr for t in tiers] == pytest.approx([0.008, 0.012, 0.016, 0.020, 0.024])
    assert [t.max_leverage for t in tiers] == pytest.approx([125, 1 / 0.012, 62.5, 50, 1 / 0.024])


def test_notional_tiers_at_a_price() -> None:
    """Volume tiers convert to catalog tiers at a price: cap = maxVol * cs * P."""
    tiers = risk_tiers(fixture("mexc_rest_contract_detail_btc_response.json"))["BTC_USDT"]
    rows = notional_tiers(tiers, 0.0001, 60000.0)
    # 150000 * 0.0001 * 60000 = 900000; 300000 * 0.0001 * 60000 = 1800000
    assert (rows[0]["floor"], rows[0]["cap"], rows[1]["cap"]) == pytest.approx((0.0, 900000.0, 1800000.0))
    instrument = default_catalog().with_overrides({"mexc:BTC_USDT": {"tiers": rows}}).require("mexc:BTC_USDT")
    # cum_2 = 900000 * (0.008 - 0.004) = 3600
    assert instrument.tiers[1].cum == pytest.approx(3600.0)
    with pytest.raises(ValueError, match="positive"):
        notional_tiers(tiers, 0.0001, 0.0)


def test_parse_risk_limits() -> None:
    """The account risk_limit response lists level 1 for both sides, matching contract/detail."""
    limits = parse_risk_limits(fixture("mexc_rest_risk_limit_response.json"))
    expected = {"max_volume": 150000.0, "mmr": 0.004, "imr": 0.008, "max_leverage": 125.0}
    assert limits == (
        RiskLimit(symbol="BTC_USDT", side="short", level=1, **expected),
        RiskLimit(symbol="BTC_USDT", side="long", level=1, **expected),
    )
    first = risk_tiers(fixture("mexc_rest_contract_detail_btc_response.json"))["BTC_USDT"][0]
    assert first == VolumeTier(level=1, **expected)


def test_catalog_matches_contract_specs() -> None:
    """The shipped MEXC catalog entries agree with the contract-spec summary (cs, minVol, volUnit)."""
    specs = json.loads(fixture("bingx_mexc_weex_contract_specs.json"))["MEXC"]
    catalog = default_catalog()
    for symbol in ("BTC_USDT", "ETH_USDT"):
        instrument = catalog.require(f"mexc:{symbol}")
        assert instrument.contract_size == float(specs[symbol]["contractSize"])
        assert instrument.min_quantity == float(specs[symbol]["minVol"])
        assert instrument.lot_step == float(specs[symbol]["volUnit"])
        # risk levels in contracts from the contract/detail example: level n holds up to
        # 150,000 + (n - 1) x 150,000 contracts at 0.4 % + (n - 1) x 0.4 %
        detail = json.loads(fixture("mexc_rest_contract_detail_btc_response.json"))["data"][0]
        levels = instrument.tiers
        assert len(levels) == detail["riskLevelLimit"]
        assert (levels[0].cap, levels[0].mmr) == (150_000.0, 0.004)
        assert (levels[1].floor, levels[1].cap, levels[1].mmr) == (150_000.0, 300_000.0, 0.008)


# -- robustness and secrets ---------------------------------------------------------------------


FAIR = b'{"channel":"push.fair.price","data":{"symbol":"BTC_USDT","price":%s},"ts":1}'
MALFORMED = [
    pytest.param(b"x" * (MAX_FRAME_BYTES + 1), id="oversized"),
    pytest.param(gzip.compress(b" " * (MAX_FRAME_BYTES + 10)), id="gzip-bomb"),
    pytest.param(b"\x1f\x8b\x08garbage", id="bad-gzip"),
    pytest.param(b"{not json", id="not-json"),
    pytest.param(b'{"data":{}}', id="no-channel"),
    pytest.param(b'{"channel":"push.fair.price","data":[],"ts":1}', id="data-list"),
    pytest.param(FAIR % b"NaN", id="nan"),
    pytest.param(FAIR % b"true", id="bool"),
    pytest.param(FAIR % b'""', id="empty"),
    pytest.param(FAIR % b"0", id="zero-mark"),
    pytest.param(b'{"channel":"push.fair.price","data":{"symbol":"BTC_USDT","price":1}}', id="no-ts"),
    pytest.param(b'{"channel":"push.personal.position","ts":1,"data":{"symbol":"BTC_USDT",'
                 b'"positionType":3,"openType":1,"holdVol":1,"holdAvgPrice":1}}', id="bad-side"),
    pytest.param(b'{"channel":"push.personal.position","ts":1,"data":{"symbol":"BTC_USDT",'
                 b'"positionType":1,"openType":9,"holdVol":1,"holdAvgPrice":1}}', id="bad-open-type"),
    pytest.param(b'{"channel":"push.personal.position","ts":1,"data":{"symbol":"BTC_USDT",'
                 b'"positionType":1,"openType":2,"holdVol":"x","holdAvgPrice":1}}', id="bad-volume"),
    pytest.param(b'{"channel":"push.personal.asset","ts":1,"data":{"currency":"USDT"}}', id="no-balance"),
    pytest.param(
        b'{"channel":"push.personal.position.mode","ts":1,"data":{"positionMode":7}}', id="bad-mode"
    ),
]


@pytest.mark.parametrize("frame", MALFORMED)
def test_malformed_frames_raise_frame_error(frame: bytes) -> None:
    """Malformed, oversized or non-finite input raises FrameError with a reason, nothing else."""
    with pytest.raises(FrameError) as caught:
        venue().parse("private", frame, RECEIVED)
    assert caught.value.reason


def test_too_many_positions_is_frame_error() -> None:
    """A REST list longer than MAX_LIST_ITEMS is refused."""
    rows = ",".join(["{}"] * (MAX_LIST_ITEMS + 1))
    body = f'{{"success":true,"code":0,"data":[{rows}]}}'.encode()
    with pytest.raises(FrameError, match="items"):
        venue().parse_resync(request("positions"), body, RECEIVED)


def test_unknown_symbol_is_refused() -> None:
    """A symbol the catalog does not know fails at construction."""
    with pytest.raises(CatalogError, match="mexc:BTC_USDT"):
        MexcContract(symbols=["DOGE_USDT"])


def test_secrets_never_print() -> None:
    """Neither the API key nor the secret appear in reprs of the venue, plans, requests or errors."""
    contract = venue()
    texts = [repr(contract), repr(contract.connect_plan("private", RECEIVED, None))]
    texts.extend(repr(r) for r in contract.resync_requests(RECEIVED))
    for stream, frame in (("private", b"{}"), ("market", b'{"channel":"rs.error","data":"bad"}'),
                          ("private", b"{")):
        with pytest.raises(FrameError) as caught:
            contract.parse(stream, frame, RECEIVED)
        texts.append(str(caught.value))
    # a refused login (rs.error before rs.login success) asks for a reconnect, naming no secret
    refused = contract.parse("private", b'{"channel":"rs.error","data":"bad"}', RECEIVED)
    assert refused.reconnect_reason == "login failed ('bad')"
    texts.append(refused.reconnect_reason)
    for text in texts:
        assert CANARY_KEY not in text
        assert CANARY_SECRET not in text
