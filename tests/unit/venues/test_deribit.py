"""Deribit venue: documented JSON-RPC messages to canonical events, auth, heartbeat, signing, robustness."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from monitor.domain.events import BalanceEvent, FillEvent, PositionEvent, PriceEvent
from monitor.venues.base import FrameError, FrameKind, Venue
from monitor.venues.deribit import Deribit
from monitor.venues.registry import VENUES
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


def venue(symbols: tuple[str, ...] = ("BTC-PERPETUAL",), *, private: bool = True) -> Deribit:
    """A Deribit venue with the canary account (or public only)."""
    return Deribit(symbols=symbols, account=account() if private else None)


def test_is_a_registered_venue() -> None:
    """The class satisfies the Venue protocol, is registered and names instruments ``deribit:``."""
    subject = venue()
    assert isinstance(subject, Venue)
    assert VENUES["deribit"] is Deribit
    assert (subject.name, subject.stream_names()) == ("deribit", ("market", "private"))
    assert venue(("BTC-PERPETUAL", "ETH-PERPETUAL", "BTC-25DEC26")).currencies == ("BTC", "ETH")
    assert Deribit(symbols=(), account=account()).currencies == ("BTC", "ETH")
    with pytest.raises(ValueError, match="not a valid symbol"):
        venue(("BTCUSDT",))


def test_documented_ticker_gives_mark_index_and_the_8h_funding() -> None:
    """The documented ticker: mark 36446.51, index 36441.64, ``funding_8h`` 0.0000211, timestamp
    1623060194301; funding accrues continuously, so there is no funding instant."""
    parsed = venue().parse("market", fixture_text("deribit_ticker_notification.json"), RECEIVE_MS)
    assert parsed.events == (PriceEvent(
        instrument="deribit:BTC-PERPETUAL", mark=36446.51, index=36441.64, funding_rate=0.0000211,
        next_funding_ms=None, ts_event_ms=1623060194301, ts_receive_ms=RECEIVE_MS,
    ),)
    assert venue(("ETH-PERPETUAL",)).parse(
        "market", fixture_text("deribit_ticker_notification.json"), RECEIVE_MS).kind is FrameKind.IGNORED


def test_documented_changes_give_the_fill_and_the_position_in_contracts() -> None:
    """The documented ``user.changes``: a sell of 10 USD (1 contract) at 17391 with a fee of
    1.6e-7 BTC (x 17391 = 0.00278256 USD), and a long of 185,160 USD = 18,516 contracts whose
    session base 1 / (0.906961435 / 185160 + 1 / 17391) = 16,025.83 is the documented
    ``settlement_price`` (Deribit books the PnL up to it into the cash balance)."""
    parsed = venue().parse("private", fixture_text("deribit_user_changes_notification.json"), RECEIVE_MS)
    fill, position = parsed.events
    assert isinstance(fill, FillEvent)
    assert (fill.instrument, fill.quantity, fill.price, fill.ts_event_ms) == (
        "deribit:BTC-PERPETUAL", -1.0, 17391.0, 1605780344032)
    assert fill.fee_usd == pytest.approx(0.00278256, rel=1e-12)
    assert isinstance(position, PositionEvent)
    assert (position.instrument, position.quantity, position.margin_mode, position.leverage,
            position.isolated_margin, position.position_side) == (
        "deribit:BTC-PERPETUAL", 18_516.0, "cross", 33.0, None, "one_way")
    assert position.entry_price == pytest.approx(16_025.83, abs=0.005)


def test_documented_portfolio_wallet_is_equity_less_the_session_upl() -> None:
    """The documented portfolio: equity 0.2340038 - session_upl 0.00000425 = 0.23399955 BTC
    (balance 0.23399957 plus session_rpl -0.00000002), so wallet + PnL from the session base is
    Deribit's equity."""
    (event,) = venue().parse(
        "private", fixture_text("deribit_user_portfolio_notification.json"), RECEIVE_MS).events
    assert isinstance(event, BalanceEvent)
    assert (event.asset, event.ts_event_ms) == ("BTC", RECEIVE_MS)
    assert event.quantity == pytest.approx(0.23399955, abs=1e-12)


def test_resync_reads_the_documented_positions_and_account_summary() -> None:
    """get_positions: 50 USD long (5 contracts), floating 0 at mark 7476.65 so the session base is
    the mark (= its settlement_price 7476.65), leverage 34; get_account_summary: 0.00062359 BTC."""
    subject = venue()
    positions, balances = subject.resync_requests(RECEIVE_MS)
    assert (positions.purpose, balances.purpose) == ("positions-BTC", "balances-BTC")
    (position,) = subject.parse_resync(
        positions, fixture_text("deribit_get_positions_response.json").encode(), RECEIVE_MS)
    assert isinstance(position, PositionEvent)
    assert (position.quantity, position.entry_price, position.leverage) == (5.0, 7476.65, 34.0)
    (wallet,) = subject.parse_resync(
        balances, fixture_text("deribit_get_account_summary_response.json").encode(), RECEIVE_MS)
    assert isinstance(wallet, BalanceEvent)
    assert (wallet.asset, wallet.quantity) == ("BTC", 0.00062359)


def test_a_snapshot_without_the_position_closes_it() -> None:
    """After a reconnect, a get_positions answer without the long reports it flat."""
    subject = venue()
    subject.parse("private", fixture_text("deribit_user_changes_notification.json"), RECEIVE_MS)
    subject.reset("private")
    request = subject.resync_requests(RECEIVE_MS)[0]
    events = subject.parse_resync(request, b'{"jsonrpc":"2.0","id":1,"result":[]}', RECEIVE_MS)
    assert {(e.instrument, e.position_side, e.quantity) for e in events if isinstance(e, PositionEvent)} == {
        ("deribit:BTC-PERPETUAL", side, 0.0) for side in ("one_way", "long", "short")}


def test_a_short_is_negative_whatever_the_sign_of_size() -> None:
    """``direction`` "sell" makes the position short: -60,000 USD = -6,000 contracts."""
    row = {"instrument_name": "BTC-PERPETUAL", "kind": "future", "direction": "sell", "size": 60000,
           "average_price": 60000, "mark_price": 60000, "floating_profit_loss": 0, "leverage": 10}
    frame = {"jsonrpc": "2.0", "method": "subscription", "params": {
        "channel": "user.changes.future.BTC.raw", "data": {"trades": [], "positions": [row], "orders": []}}}
    (position,) = venue().parse("private", json.dumps(frame), RECEIVE_MS).events
    assert isinstance(position, PositionEvent)
    assert (position.quantity, position.entry_price) == (-6_000.0, 60_000.0)


def test_heartbeat_test_request_is_answered_with_public_test() -> None:
    """``test_request`` must be answered by ``public/test`` or Deribit closes the connection."""
    parsed = venue().parse("market", fixture_text("deribit_heartbeat_test_request.json"), RECEIVE_MS)
    assert parsed.kind is FrameKind.PING
    (reply,) = parsed.replies
    assert json.loads(reply) == {"jsonrpc": "2.0", "id": 4, "method": "public/test", "params": {}}
    beat = '{"jsonrpc":"2.0","method":"heartbeat","params":{"type":"heartbeat"}}'
    plain = venue().parse("market", beat, RECEIVE_MS)
    assert (plain.kind, plain.replies) == (FrameKind.PONG, ())


def test_market_plan_sets_the_heartbeat_and_subscribes_tickers() -> None:
    """``public/set_heartbeat`` 30 s, then ``public/subscribe`` of ``ticker.<instrument>.100ms``."""
    plan = venue(("BTC-PERPETUAL", "ETH-PERPETUAL")).connect_plan("market", RECEIVE_MS, None)
    assert plan.url == "wss://www.deribit.com/ws/api/v2"
    heartbeat, subscribe = (json.loads(frame) for frame in plan.on_open)
    assert heartbeat == {"jsonrpc": "2.0", "id": 2, "method": "public/set_heartbeat",
                         "params": {"interval": 30}}
    assert subscribe["method"] == "public/subscribe"
    assert subscribe["params"] == {"channels": ["ticker.BTC-PERPETUAL.100ms", "ticker.ETH-PERPETUAL.100ms"]}


def test_private_plan_signs_the_auth_and_subscribes_after_it() -> None:
    """``public/auth`` ``client_signature``: hex HMAC-SHA256(secret, "<ts>\\n<nonce>\\n"), the
    secret never sent; the private channels follow the auth answer."""
    subject = venue()
    plan = subject.connect_plan("private", 1_700_000_000_000, None)
    auth = json.loads(plan.on_open[0])
    params = auth["params"]
    assert (auth["method"], params["grant_type"], params["client_id"], params["timestamp"]) == (
        "public/auth", "client_signature", CANARY_KEY, 1_700_000_000_000)
    expected = hmac.new(CANARY_HMAC.encode(), f"1700000000000\n{params['nonce']}\n".encode(),
                        hashlib.sha256).hexdigest()
    assert params["signature"] == expected
    assert CANARY_HMAC not in plan.on_open[0]
    assert not leaked(repr(plan))
    answer = subject.parse("private", fixture_text("deribit_auth_response.json"), RECEIVE_MS)
    (subscribe,) = answer.replies
    assert json.loads(subscribe)["params"] == {
        "channels": ["user.portfolio.btc", "user.changes.future.BTC.raw"]}
    failed = subject.parse("private", fixture_text("deribit_auth_error.json"), RECEIVE_MS)
    assert failed.reconnect_reason == "deribit: auth failed with code 13004"


def test_resync_requests_carry_the_deribit_signature() -> None:
    """``deri-hmac-sha256 id=..,ts=..,sig=..,nonce=..`` with sig = hex HMAC-SHA256(secret,
    ts\\nnonce\\nGET\\n<uri>\\n\\n), per currency."""
    subject = venue(("BTC-PERPETUAL", "ETH-PERPETUAL"))
    requests = subject.resync_requests(1_700_000_000_000)
    assert [(r.purpose, r.path, r.query) for r in requests] == [
        ("positions-BTC", "/api/v2/private/get_positions", (("currency", "BTC"), ("kind", "future"))),
        ("balances-BTC", "/api/v2/private/get_account_summary", (("currency", "BTC"),)),
        ("positions-ETH", "/api/v2/private/get_positions", (("currency", "ETH"), ("kind", "future"))),
        ("balances-ETH", "/api/v2/private/get_account_summary", (("currency", "ETH"),)),
    ]
    header = str(requests[0].headers["Authorization"])
    fields = dict(part.split("=", 1) for part in header.removeprefix("deri-hmac-sha256 ").split(","))
    uri = "/api/v2/private/get_positions?currency=BTC&kind=future"
    payload = f"{fields['ts']}\n{fields['nonce']}\nGET\n{uri}\n\n"
    assert fields["id"] == CANARY_KEY
    assert fields["sig"] == hmac.new(CANARY_HMAC.encode(), payload.encode(), hashlib.sha256).hexdigest()
    assert not leaked(repr(requests))
    assert venue(private=False).resync_requests(RECEIVE_MS) == ()


def test_answers_and_errors() -> None:
    """A subscribe or set_heartbeat answer is an ack; another request's error is a FrameError."""
    subject = venue()
    for name in ("deribit_subscribe_response.json", "deribit_set_heartbeat_response.json"):
        assert subject.parse("market", fixture_text(name), RECEIVE_MS).kind is FrameKind.ACK
    error = '{"jsonrpc":"2.0","id":3,"error":{"code":11050,"message":"bad_request"}}'
    with pytest.raises(FrameError, match="failed with code 11050"):
        subject.parse("market", error, RECEIVE_MS)
    with pytest.raises(FrameError, match="without an account"):
        venue(private=False).parse(
            "market", fixture_text("deribit_user_portfolio_notification.json"), RECEIVE_MS)


@pytest.mark.parametrize("name", [
    "deribit_ticker_notification.json", "deribit_user_changes_notification.json",
    "deribit_user_portfolio_notification.json", "deribit_heartbeat_test_request.json",
    "deribit_auth_response.json",
])
def test_every_field_mutation_gives_parsed_or_frame_error(name: str) -> None:
    """Deleting or corrupting any single field never lets another exception escape."""
    subject = venue()
    count = assert_only_frame_errors(
        lambda frame: subject.parse("private", frame, RECEIVE_MS), fixture_json(name))
    assert count > 3


@pytest.mark.parametrize(("purpose", "name"), [
    ("positions-BTC", "deribit_get_positions_response.json"),
    ("balances-BTC", "deribit_get_account_summary_response.json"),
])
def test_resync_mutations_give_events_or_frame_error(purpose: str, name: str) -> None:
    """Corrupting any field of a resync body never lets another exception escape nor leaks keys."""
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
