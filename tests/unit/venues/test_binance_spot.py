"""Binance spot venue: bookTicker mids, WebSocket API user data, balance deltas, resync, robustness."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from monitor.domain.events import BalanceEvent, PriceEvent
from monitor.venues.base import FrameError, FrameKind, Venue
from monitor.venues.binance_spot import BinanceSpot
from tests.unit.venues._support import (
    CANARY_HMAC,
    CANARY_KEY,
    RECEIVE_MS,
    account,
    assert_only_frame_errors,
    fixture_json,
    fixture_text,
    leaked,
)


def venue(symbols: tuple[str, ...] = ("BTCUSDT",), *, private: bool = True) -> BinanceSpot:
    """A spot venue with the canary account (or public only)."""
    return BinanceSpot(symbols=symbols, account=account() if private else None)


def balance(asset: str, quantity: float, ts: int) -> BalanceEvent:
    """The expected canonical balance of the canary account."""
    return BalanceEvent("alice", "acct-1", asset, quantity, ts, RECEIVE_MS)


def snapshot(subject: BinanceSpot, balances: list[dict[str, str]], update_time: int) -> tuple[object, ...]:
    """Feed a ``GET /api/v3/account`` response to the venue."""
    (request,) = subject.resync_requests(RECEIVE_MS)
    body = json.dumps({"updateTime": update_time, "balances": balances}).encode()
    return subject.parse_resync(request, body, RECEIVE_MS)


def test_is_a_venue() -> None:
    """The class satisfies the Venue protocol and names its instruments ``binance-spot:``."""
    subject = venue()
    assert isinstance(subject, Venue)
    assert subject.name == "binance-spot"
    assert subject.stream_names() == ("market", "private")
    assert venue(private=False).stream_names() == ("market",)


def test_book_ticker_mid_uses_receive_time() -> None:
    """The documented bookTicker (no e/E/T) becomes the mid, stamped with the receive time."""
    parsed = venue().parse("market", fixture_text("binance_spot_bookTicker.json"), RECEIVE_MS)
    # (25.35190000 + 25.36520000) / 2 = 25.35855
    (event,) = parsed.events
    assert isinstance(event, PriceEvent)
    assert event.mark == pytest.approx(25.35855, abs=1e-12)
    assert (event.instrument, event.index, event.funding_rate, event.next_funding_ms) == (
        "binance-spot:BNBUSDT", None, None, None,
    )
    assert (event.ts_event_ms, event.ts_receive_ms) == (RECEIVE_MS, RECEIVE_MS)


def test_book_ticker_in_combined_wrapper_and_unchanged_mid() -> None:
    """The combined wrapper is unwrapped; a quote with the same mid emits nothing."""
    subject = venue()
    data = fixture_json("binance_spot_bookTicker.json")
    wrapped = json.dumps({"stream": "bnbusdt@bookTicker", "data": data})
    assert len(subject.parse("market", wrapped, RECEIVE_MS).events) == 1
    assert isinstance(data, dict)
    data["B"] = "99.0"  # only the bid quantity changed: same mid
    again = subject.parse("market", json.dumps(data), RECEIVE_MS + 1)
    assert (again.kind, again.events) == (FrameKind.DATA, ())
    subject.reset("market")
    assert len(subject.parse("market", json.dumps(data), RECEIVE_MS + 2).events) == 1


def test_book_ticker_with_empty_side_is_refused() -> None:
    """A zero best bid has no mid: FrameError."""
    with pytest.raises(FrameError, match="empty side"):
        venue().parse("market", '{"u":1,"s":"BTCUSDT","b":"0","B":"0","a":"1","A":"1"}', RECEIVE_MS)


@pytest.mark.parametrize("name", ["binance_spot_24hrTicker.json", "binance_spot_trade.json"])
def test_other_market_events_are_ignored(name: str) -> None:
    """24hrTicker and trade frames are recognised and ignored."""
    parsed = venue().parse("market", fixture_text(name), RECEIVE_MS)
    assert (parsed.kind, parsed.events) == (FrameKind.IGNORED, ())


@pytest.mark.parametrize(
    "name",
    ["binance_spot_outboundAccountPosition_wsapi.json", "binance_spot_outboundAccountPosition_legacy.json"],
)
def test_outbound_account_position_gives_full_balance(name: str) -> None:
    """Wrapped (WebSocket API) and legacy outboundAccountPosition: free + locked per asset."""
    parsed = venue().parse("private", fixture_text(name), RECEIVE_MS)
    # 10000.000000 free + 0.000000 locked
    assert parsed.events == (balance("ETH", 10000.0, 1564034571105),)


@pytest.mark.parametrize(
    "name", ["binance_spot_balanceUpdate_wsapi.json", "binance_spot_balanceUpdate_legacy.json"]
)
def test_balance_delta_for_unknown_asset_requests_resync(name: str) -> None:
    """A balanceUpdate delta whose asset balance is unknown emits nothing and asks for a resync."""
    parsed = venue().parse("private", fixture_text(name), RECEIVE_MS)
    assert (parsed.events, parsed.resync) == ((), True)


def test_balance_delta_applies_once() -> None:
    """A delta cleared after the snapshot is added once; the same delta again is not re-added."""
    subject = venue()
    snapshot(subject, [{"asset": "BTC", "free": "1.5", "locked": "0.25"}], 1573200697000)
    frame = fixture_text("binance_spot_balanceUpdate_wsapi.json")
    parsed = subject.parse("private", frame, RECEIVE_MS)
    # 1.5 + 0.25 + 100.0 = 101.75
    assert parsed.events == (balance("BTC", 101.75, 1573200697110),)
    assert subject.parse("private", frame, RECEIVE_MS).events == ()


def test_balance_delta_already_in_absolute_balance_is_skipped() -> None:
    """A delta whose clear time precedes the last absolute balance is already included in it."""
    subject = venue()
    position_frame = {"subscriptionId": 0, "event": {
        "e": "outboundAccountPosition", "E": 1573200697200, "u": 1573200697100,
        "B": [{"a": "BTC", "f": "101.75", "l": "0"}],
    }}
    assert subject.parse("private", json.dumps(position_frame), RECEIVE_MS).events == (
        balance("BTC", 101.75, 1573200697200),
    )
    # T 1573200697068 <= u 1573200697100: nothing to add
    delta = subject.parse("private", fixture_text("binance_spot_balanceUpdate_wsapi.json"), RECEIVE_MS)
    assert (delta.events, delta.resync) == ((), False)


def test_event_stream_terminated_reconnects() -> None:
    """eventStreamTerminated asks the supervisor to reconnect and resubscribe."""
    parsed = venue().parse("private", fixture_text("binance_spot_eventStreamTerminated.json"), RECEIVE_MS)
    assert (parsed.events, parsed.reconnect_reason) == ((), "eventStreamTerminated")


def test_websocket_api_responses() -> None:
    """Subscribe success is an ack, the ping response a pong, a failure a reconnect."""
    subject = venue()
    ack = subject.parse("private", '{"id":"subscribe","status":200,"result":{"subscriptionId":0}}', 1)
    assert (ack.kind, ack.reconnect_reason) == (FrameKind.ACK, None)
    pong = subject.parse("private", '{"id":"ping","status":200,"result":{},"rateLimits":[]}', 1)
    assert pong.kind is FrameKind.PONG
    failed = subject.parse(
        "private",
        '{"id":"subscribe","status":400,"error":{"code":-1022,"msg":"Signature not valid."}}',
        1,
    )
    assert failed.reconnect_reason is not None
    assert "-1022" in failed.reconnect_reason


def test_private_plan_subscribes_with_hmac_signature() -> None:
    """The WebSocket API subscription carries apiKey, timestamp and the HMAC of the sorted params."""
    plan = venue().connect_plan("private", 1649729878532, None)
    assert plan.url == "wss://ws-api.binance.com:443/ws-api/v3"
    (frame,) = plan.on_open
    request = json.loads(frame)
    expected = hmac.new(
        CANARY_HMAC.encode(), f"apiKey={CANARY_KEY}&timestamp=1649729878532".encode(), hashlib.sha256
    ).hexdigest()
    assert request == {
        "id": "subscribe", "method": "userDataStream.subscribe.signature",
        "params": {"apiKey": CANARY_KEY, "timestamp": 1649729878532, "signature": expected},
    }
    assert json.loads(plan.ping_frame or "") == {"id": "ping", "method": "ping"}
    assert plan.max_connection_age_s == 23.5 * 3600


def test_market_plan() -> None:
    """bookTicker streams on the combined endpoint; no setup, no keepalive."""
    subject = venue(("BTCUSDT", "ETHUSDT"))
    plan = subject.connect_plan("market", RECEIVE_MS, None)
    assert plan.url == "wss://stream.binance.com:9443/stream?streams=btcusdt@bookTicker/ethusdt@bookTicker"
    assert subject.stream_setup("market", RECEIVE_MS) is None
    assert subject.keepalive_request("private", RECEIVE_MS) is None


def test_resync_request_is_signed() -> None:
    """``GET /api/v3/account`` is signed over ``omitZeroBalances=true&recvWindow=5000&timestamp=..``."""
    (request,) = venue().resync_requests(1499827319559)
    payload = b"omitZeroBalances=true&recvWindow=5000&timestamp=1499827319559"
    expected = hmac.new(CANARY_HMAC.encode(), payload, hashlib.sha256).hexdigest()
    assert (request.method, request.base_url, request.path) == (
        "GET", "https://api.binance.com", "/api/v3/account",
    )
    assert request.query[-1] == ("signature", expected)
    assert dict(request.headers) == {"X-MBX-APIKEY": CANARY_KEY}
    assert venue(private=False).resync_requests(1) == ()


def test_resync_zeroes_vanished_assets() -> None:
    """An asset reported before but absent from the next snapshot is published as 0."""
    subject = venue()
    first = snapshot(subject, [
        {"asset": "BTC", "free": "1.5", "locked": "0"}, {"asset": "ETH", "free": "2", "locked": "1"},
    ], 1)
    # ETH: 2 free + 1 locked = 3
    assert first == (balance("BTC", 1.5, RECEIVE_MS), balance("ETH", 3.0, RECEIVE_MS))
    second = snapshot(subject, [{"asset": "BTC", "free": "1.5", "locked": "0"}], 2)
    assert second == (balance("BTC", 1.5, RECEIVE_MS), balance("ETH", 0.0, RECEIVE_MS))


def test_resync_error_is_a_frame_error() -> None:
    """A Binance error body raises FrameError with its code."""
    subject = venue()
    (request,) = subject.resync_requests(RECEIVE_MS)
    with pytest.raises(FrameError, match="-2015"):
        subject.parse_resync(request, b'{"code":-2015,"msg":"Invalid API-key"}', RECEIVE_MS)


@pytest.mark.parametrize(
    "name",
    [
        "binance_spot_bookTicker.json",
        "binance_spot_outboundAccountPosition_wsapi.json",
        "binance_spot_balanceUpdate_wsapi.json",
        "binance_spot_eventStreamTerminated.json",
    ],
)
def test_every_field_mutation_gives_parsed_or_frame_error(name: str) -> None:
    """Deleting or corrupting any single field never lets another exception escape."""
    subject = venue()
    snapshot(subject, [{"asset": "BTC", "free": "1", "locked": "0"}], 1)
    count = assert_only_frame_errors(
        lambda frame: subject.parse("private", frame, RECEIVE_MS), fixture_json(name)
    )
    assert count > 5


def test_secrets_never_leak() -> None:
    """Canary credentials appear in no repr of the venue, plans or requests, nor in FrameErrors."""
    subject = venue()
    texts = [repr(subject), repr(subject.connect_plan("private", RECEIVE_MS, None))]
    texts += [repr(request) for request in subject.resync_requests(RECEIVE_MS)]
    for frame in ("{", '{"subscriptionId":0,"event":{"e":"balanceUpdate"}}'):
        with pytest.raises(FrameError) as error:
            subject.parse("private", frame, RECEIVE_MS)
        texts.append(str(error.value))
    assert not any(leaked(text) for text in texts)
