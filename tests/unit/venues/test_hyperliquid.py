"""Hyperliquid venue: asset contexts, webData2/clearinghouseState snapshots, fills, resync, address."""

from __future__ import annotations

import json

import pytest

from monitor.domain.events import BalanceEvent, FillEvent, PositionEvent, PositionSide, PriceEvent
from monitor.venues.base import AccountContext, FrameError, FrameKind, Venue
from monitor.venues.hyperliquid import Hyperliquid, next_funding_ms, valid_address
from tests.unit.venues._support import RECEIVE_MS, assert_only_frame_errors, fixture_json, fixture_text

ADDRESS = "0x5e9ee1089755c3435139848e47e6635505d5a13a"
DOC_TIME = 1708622398623


def account(address: str | None = ADDRESS) -> AccountContext:
    """A watched account: no credentials, only the wallet address."""
    return AccountContext(account="hl-1", portfolio="alice", address=address)


def venue(symbols: tuple[str, ...] = ("BTC", "ETH"), *, private: bool = True) -> Hyperliquid:
    """A Hyperliquid venue watching ``ADDRESS`` (or public only)."""
    return Hyperliquid(symbols=symbols, account=account() if private else None)


def parse(subject: Hyperliquid, stream: str, frame: str) -> tuple[object, ...]:
    """The events of one frame."""
    return subject.parse(stream, frame, RECEIVE_MS).events


def test_is_a_venue_without_credentials() -> None:
    """The class satisfies the Venue protocol, needs no API key, and names instruments ``hyperliquid:``."""
    subject = venue()
    assert isinstance(subject, Venue)
    assert subject.name == "hyperliquid"
    assert subject.stream_names() == ("market", "private")
    assert venue(private=False).stream_names() == ("market",)
    assert Hyperliquid.takes_address
    assert not Hyperliquid.needs_passphrase


def test_the_address_must_be_20_bytes_of_hex() -> None:
    """An account without an address, or with a malformed one, is refused; the error shows no address."""
    assert valid_address(ADDRESS)
    assert valid_address(ADDRESS.upper().replace("0X", "0x"))
    for bad in (None, "0x123", ADDRESS[2:], ADDRESS + "0", "0x" + "g" * 40):
        with pytest.raises(ValueError, match="wallet address") as caught:
            Hyperliquid(symbols=("BTC",), account=account(bad))
        assert ADDRESS not in str(caught.value)


def test_subscriptions_and_heartbeat_are_the_documented_frames() -> None:
    """Market: activeAssetCtx per coin; private: webData2 and userFills of the address; ping frame."""
    subject = venue()
    market = subject.connect_plan("market", 0, None)
    assert market.url == "wss://api.hyperliquid.xyz/ws"
    assert [json.loads(frame) for frame in market.on_open] == [
        {"method": "subscribe", "subscription": {"type": "activeAssetCtx", "coin": "BTC"}},
        {"method": "subscribe", "subscription": {"type": "activeAssetCtx", "coin": "ETH"}},
    ]
    assert market.ping_frame is not None
    assert json.loads(market.ping_frame) == fixture_json("hyperliquid_ws_ping_request.json")
    assert market.ping_interval_s < 60  # the server closes a connection silent for 60 s
    private = subject.connect_plan("private", 0, None)
    documented = fixture_json("hyperliquid_ws_subscribe_webData2_request.json")
    assert isinstance(documented, dict)
    documented["subscription"]["user"] = ADDRESS
    assert [json.loads(frame) for frame in private.on_open] == [
        documented, {"method": "subscribe", "subscription": {"type": "userFills", "user": ADDRESS}},
    ]


def test_active_asset_ctx_is_a_price_with_oracle_and_hourly_funding() -> None:
    """Docs ctx: markPx 14.3161, oraclePx 14.32, funding 0.0000125 (the hour's rate)."""
    events = parse(venue(), "market", fixture_text("hyperliquid_ws_activeAssetCtx.json"))
    # RECEIVE_MS 1_700_000_000_123 -> next whole hour 1_700_002_800_000 (472_222 h * 3_600_000 ms)
    assert events == (PriceEvent("hyperliquid:BTC", 14.3161, 14.32, 0.0000125, 1_700_002_800_000,
                                 RECEIVE_MS, RECEIVE_MS),)
    assert next_funding_ms(3_600_000) == 7_200_000
    assert next_funding_ms(3_599_999) == 3_600_000


def test_pong_ack_and_error_frames() -> None:
    """``pong`` and ``subscriptionResponse`` carry no data; the error channel is a FrameError."""
    subject = venue()
    pong = subject.parse("market", fixture_text("hyperliquid_ws_pong.json"), RECEIVE_MS)
    assert pong.kind is FrameKind.PONG
    ack = subject.parse("market", fixture_text("hyperliquid_ws_subscriptionResponse.json"), RECEIVE_MS)
    assert ack.kind is FrameKind.ACK
    assert not ack.events
    with pytest.raises(FrameError, match="error channel"):
        subject.parse("market", '{"channel":"error","data":"Already subscribed"}', RECEIVE_MS)
    assert subject.parse("market", '{"channel":"trades","data":[]}', RECEIVE_MS).kind is FrameKind.IGNORED


def doc_position(ts: int = DOC_TIME) -> PositionEvent:
    """The docs' isolated ETH long: szi 0.0335 @ 2986.3, 20x.

    Isolated wallet = marginUsed - unrealizedPnl = 4.967826 - (-0.0134) = 4.981226
    (= rawUsd + szi x entryPx = -95.059824 + 0.0335 x 2986.3 = -95.059824 + 100.04105).
    """
    return PositionEvent(
        portfolio="alice", account="hl-1", instrument="hyperliquid:ETH", quantity=0.0335,
        entry_price=2986.3, leverage=20.0, margin_mode="isolated",
        isolated_margin=4.981226,
        ts_event_ms=ts, ts_receive_ms=RECEIVE_MS,
    )


def flat(coin: str, ts: int = DOC_TIME, side: PositionSide = "one_way") -> PositionEvent:
    """A coin reported flat (a snapshot no longer holds it)."""
    return PositionEvent("alice", "hl-1", f"hyperliquid:{coin}", 0.0, 0.0, None, "cross", None, ts,
                         RECEIVE_MS, position_side=side)


def flats(coin: str, ts: int = DOC_TIME) -> tuple[PositionEvent, ...]:
    """A configured coin the first snapshot does not hold: every canonical leg flat (a restarted
    monitor cannot know which leg the topic still holds open)."""
    return tuple(flat(coin, ts, side) for side in ("one_way", "long", "short"))


def doc_balance(ts: int = DOC_TIME) -> BalanceEvent:
    """USDC wallet without unrealised PnL: 13109.482328 - (-0.0134) = 13109.495728; cross part:
    crossMarginSummary.accountValue 13104.514502 (no cross position, so no cross PnL)."""
    return BalanceEvent("alice", "hl-1", "USDC", 13109.495728, ts, RECEIVE_MS, cross_wallet=13104.514502)


@pytest.mark.parametrize("name", ["hyperliquid_ws_webData2.json", "hyperliquid_ws_clearinghouseState.json"])
def test_user_state_push_is_a_complete_snapshot(name: str) -> None:
    """webData2 / clearinghouseState: every position and the USDC balance, configured flats included."""
    events = parse(venue(), "private", fixture_text(name))
    assert events == (doc_position(), *flats("BTC"), doc_balance())


def test_a_position_missing_from_the_next_snapshot_is_closed() -> None:
    """The snapshot after one that held ETH, without ETH, reports ETH flat."""
    subject = venue(("BTC",))
    parse(subject, "private", fixture_text("hyperliquid_ws_webData2.json"))
    state = fixture_json("hyperliquid_info_clearinghouseState.json")
    assert isinstance(state, dict)
    state["assetPositions"] = []
    frame = json.dumps({"channel": "webData2", "data": {"clearinghouseState": state, "user": ADDRESS}})
    positions = [e for e in parse(subject, "private", frame) if isinstance(e, PositionEvent)]
    assert positions == [flat("ETH")]  # BTC, flat before too, is not repeated


def test_an_older_state_delivered_late_is_ignored() -> None:
    """A push whose ``time`` is older than the state already applied changes nothing."""
    subject = venue(("BTC",))
    newer = fixture_json("hyperliquid_ws_webData2.json")
    assert isinstance(newer, dict)
    newer["data"]["clearinghouseState"]["time"] = DOC_TIME + 1_000
    newer["data"]["clearinghouseState"]["assetPositions"] = []
    parse(subject, "private", json.dumps(newer))
    late = subject.parse("private", fixture_text("hyperliquid_ws_webData2.json"), RECEIVE_MS)
    assert late.kind is FrameKind.IGNORED
    assert late.events == ()
    subject.reset("private")  # a new connection starts again from whatever it is sent
    assert parse(subject, "private", fixture_text("hyperliquid_ws_webData2.json"))


def test_resync_is_the_documented_info_request() -> None:
    """``POST /info`` with ``{"type":"clearinghouseState","user":<address>}`` as JSON."""
    (request,) = venue().resync_requests(0)
    where = (request.method, request.base_url, request.path)
    assert where == ("POST", "https://api.hyperliquid.xyz", "/info")
    documented = fixture_json("hyperliquid_info_clearinghouseState_request.json")
    assert isinstance(documented, dict)
    assert request.body is not None
    assert json.loads(request.body) == {**documented, "user": ADDRESS}
    assert request.headers["Content-Type"] == "application/json"
    assert venue(private=False).resync_requests(0) == ()


def test_resync_parses_the_documented_answer() -> None:
    """The docs' info answer gives the same events as the push."""
    subject = venue()
    (request,) = subject.resync_requests(0)
    body = fixture_text("hyperliquid_info_clearinghouseState.json").encode()
    assert subject.parse_resync(request, body, RECEIVE_MS) == (doc_position(), *flats("BTC"), doc_balance())


def test_resync_parses_the_sdk_capture_of_cross_positions() -> None:
    """The SDK's recorded answer: 12 cross positions, no ``time`` (receive time used)."""
    subject = venue()
    (request,) = subject.resync_requests(0)
    body = fixture_text("hyperliquid_info_clearinghouseState_sdk_capture.json").encode()
    events = subject.parse_resync(request, body, RECEIVE_MS)
    positions = {e.instrument: e for e in events if isinstance(e, PositionEvent)}
    assert len(positions) == 12
    btc = positions["hyperliquid:BTC"]
    assert (btc.quantity, btc.entry_price, btc.margin_mode, btc.isolated_margin, btc.leverage) == (
        -0.00785, 26951.0, "cross", None, 20.0)
    assert btc.ts_event_ms == RECEIVE_MS
    (balance,) = [e for e in events if isinstance(e, BalanceEvent)]
    # sum(unrealizedPnl) = (0.118726 + 0.089622 + 0.082029 + 0.45563 + 0.749156 + 0.252642)
    #   - (0.08007 + 0.00585 + 0.232704 + 0.682724 + 0.031324 + 0.027115) = 1.747805 - 1.059787 = 0.688018
    # wallet = 1182.312496 - 0.688018 = 1181.624478 (all cross: the cross part is the same)
    assert balance.quantity == 1181.624478  # rounded to USDC's 6 decimals
    assert balance.cross_wallet == 1181.624478


def test_new_fills_are_fill_events_and_the_history_is_not() -> None:
    """Docs fill: AVAX buy 93.53 @ 18.435, fee 0.01 USDC; ``isSnapshot`` true is ignored."""
    subject = venue()
    events = parse(subject, "private", fixture_text("hyperliquid_ws_userFills.json"))
    assert events == (FillEvent("alice", "hl-1", "hyperliquid:AVAX", 93.53, 18.435, 0.01, 1681222254710,
                                RECEIVE_MS),)
    history = fixture_json("hyperliquid_ws_userFills.json")
    assert isinstance(history, dict)
    history["data"]["isSnapshot"] = True
    assert subject.parse("private", json.dumps(history), RECEIVE_MS).kind is FrameKind.IGNORED
    sell = fixture_json("hyperliquid_ws_userFills.json")
    assert isinstance(sell, dict)
    sell["data"]["fills"][0]["side"] = "A"
    (fill,) = parse(subject, "private", json.dumps(sell))
    assert isinstance(fill, FillEvent)
    assert fill.quantity == -93.53


def test_reconnect_forgets_the_legs_but_closes_what_was_open() -> None:
    """After ``reset``, a snapshot without ETH still reports ETH flat (it was reported open)."""
    subject = venue(("BTC",))
    parse(subject, "private", fixture_text("hyperliquid_ws_webData2.json"))
    subject.reset("private")
    (request,) = subject.resync_requests(0)
    state = fixture_json("hyperliquid_info_clearinghouseState.json")
    assert isinstance(state, dict)
    state["assetPositions"] = []
    events = subject.parse_resync(request, json.dumps(state).encode(), RECEIVE_MS)
    assert flat("ETH") in events


@pytest.mark.parametrize("name", [
    "hyperliquid_ws_activeAssetCtx.json", "hyperliquid_ws_webData2.json",
    "hyperliquid_ws_clearinghouseState.json", "hyperliquid_ws_userFills.json",
    "hyperliquid_ws_pong.json", "hyperliquid_ws_subscriptionResponse.json",
])
def test_every_mutation_of_a_documented_frame_is_parsed_or_a_frame_error(name: str) -> None:
    """No field deleted or replaced escapes as another exception; no reason shows the address."""
    payload = fixture_json(name)
    if name != "hyperliquid_ws_activeAssetCtx.json":
        text = json.dumps(payload).replace("0x0000000000000000000000000000000000000000", ADDRESS)
        payload = json.loads(text)
    stream = "market" if "activeAssetCtx" in name else "private"
    reasons: list[str] = []

    def reading(frame: str) -> object:
        subject = venue()
        try:
            return subject.parse(stream, frame, RECEIVE_MS)
        except FrameError as error:
            reasons.append(error.reason)
            raise

    assert assert_only_frame_errors(reading, payload) >= 10  # type: ignore[arg-type]
    assert not any(ADDRESS in reason for reason in reasons)


def test_the_address_never_leaves_in_events_or_reprs() -> None:
    """Events carry the account name only; neither the venue's nor the account's repr shows the address."""
    subject = venue()
    frame = fixture_text("hyperliquid_ws_webData2.json").replace(
        "0x0000000000000000000000000000000000000000", ADDRESS)
    events = parse(subject, "private", frame)
    assert events
    assert all(ADDRESS not in repr(event) for event in events)
    assert ADDRESS not in repr(subject)
    assert ADDRESS not in repr(account())
    plan = subject.connect_plan("private", 0, None)
    assert ADDRESS in plan.on_open[0]  # sent to Hyperliquid as is
    assert ADDRESS not in repr(plan)
