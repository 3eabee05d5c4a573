"""Binance COIN-M venue: documented dapi fixtures to canonical events, URLs, paths, signing, robustness."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from monitor.domain.events import (
    BalanceEvent,
    FillEvent,
    MarginMode,
    PositionEvent,
    PositionSide,
    PriceEvent,
)
from monitor.venues.base import FrameError, FrameKind, Venue
from monitor.venues.binance_coinm import BinanceCoinm
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


def venue(symbols: tuple[str, ...] = ("BTCUSD_PERP",), *, private: bool = True) -> BinanceCoinm:
    """A COIN-M venue with the canary account (or public only)."""
    return BinanceCoinm(symbols=symbols, account=account() if private else None)


def position(instrument: str, quantity: float, entry: float, mode: MarginMode, margin: float | None,
             leverage: float | None, ts: int, side: PositionSide = "one_way") -> PositionEvent:
    """The expected canonical position (one leg) of the canary account."""
    return PositionEvent(
        portfolio="alice", account="acct-1", instrument=instrument, quantity=quantity,
        entry_price=entry, leverage=leverage, margin_mode=mode,
        isolated_margin=margin, ts_event_ms=ts, ts_receive_ms=RECEIVE_MS, position_side=side,
    )


def balance(asset: str, quantity: float, ts: int, cross_wallet: float | None) -> BalanceEvent:
    """The expected canonical balance of the canary account."""
    return BalanceEvent("alice", "acct-1", asset, quantity, ts, RECEIVE_MS, cross_wallet)


def test_is_a_registered_venue_named_binance_coinm() -> None:
    """The class satisfies the Venue protocol, is registered and names instruments ``binance-coinm:``."""
    subject = venue()
    assert isinstance(subject, Venue)
    assert VENUES["binance-coinm"] is BinanceCoinm
    assert subject.name == "binance-coinm"
    assert subject.stream_names() == ("market", "private")


def test_symbols_are_perpetuals_and_quarterlies() -> None:
    """``<PAIR>_PERP`` and ``<PAIR>_<YYMMDD>`` are accepted; a USDⓈ-M symbol is not a COIN-M one."""
    assert venue(("BTCUSD_PERP", "ETHUSD_PERP", "BTCUSD_261225"), private=False)
    with pytest.raises(ValueError, match="not a valid symbol"):
        venue(("BTCUSDT",), private=False)


def test_delivery_mark_price_has_no_funding() -> None:
    """The documented delivery example: mark "10934.62615417", index "10933.62615417", ``r`` ""
    and ``T`` 0 (the doc: "'' will be shown for delivery symbol"), so no funding."""
    parsed = venue(("BTCUSD_201225",)).parse(
        "market", fixture_text("binance_coinm_markPrice_delivery.json"), RECEIVE_MS)
    assert parsed.events == (PriceEvent(
        instrument="binance-coinm:BTCUSD_201225", mark=10934.62615417, index=10933.62615417,
        funding_rate=None, next_funding_ms=None, ts_event_ms=1596095725000, ts_receive_ms=RECEIVE_MS,
    ),)


def test_pair_mark_price_array_keeps_the_configured_perpetual() -> None:
    """``<pair>@markPrice`` lists every symbol of the pair: only BTCUSD_PERP is configured, with
    its funding "0.00000000" due at 1596096000000."""
    frame = fixture_text("binance_coinm_markPrice_pair.json")
    assert venue().parse("market", frame, RECEIVE_MS).events == (PriceEvent(
        instrument="binance-coinm:BTCUSD_PERP", mark=11012.31359011, index=10933.62615417,
        funding_rate=0.0, next_funding_ms=1596096000000, ts_event_ms=1596095725000,
        ts_receive_ms=RECEIVE_MS,
    ),)


def test_documented_account_update_gives_coin_balances_and_contract_legs() -> None:
    """The documented COIN-M ACCOUNT_UPDATE: coin wallets with their cross wallets, the flat BOTH
    leg and the hedge LONG 20 / SHORT -10 contract legs with their isolated wallets (in coin)."""
    parsed = venue().parse("private", fixture_text("binance_coinm_ACCOUNT_UPDATE.json"), RECEIVE_MS)
    ts = 1564745798939
    assert parsed.events == (
        # B[]: BTC wb "122624.12345678" cw "100.12345678"; ETH wb "1.00000000" cw "0.00000000"
        balance("BTC", 122624.12345678, ts, 100.12345678),
        balance("ETH", 1.0, ts, 0.0),
        # ps BOTH pa "0": flat; LONG pa "20" ep "6563.6" iw "13200.70726908"; SHORT pa "-10"
        # ep "6563.8" iw "6570.42511771"
        position("binance-coinm:BTCUSD_200925", 0.0, 0.0, "isolated", 0.0, None, ts, "one_way"),
        position("binance-coinm:BTCUSD_200925", 20.0, 6563.6, "isolated", 13200.70726908, None, ts,
                 "long"),
        position("binance-coinm:BTCUSD_200925", -10.0, 6563.8, "isolated", 6570.42511771, None, ts,
                 "short"),
    )


def test_position_risk_snapshot_reads_the_documented_row_and_closes_configured_legs() -> None:
    """The documented positionRisk row (BTCUSD_PERP flat, cross, leverage "7") closes every leg
    of the configured symbol."""
    subject = venue()
    request = subject.resync_requests(RECEIVE_MS)[0]
    events = subject.parse_resync(
        request, fixture_text("binance_coinm_positionRisk.json").encode(), RECEIVE_MS)
    assert {(e.instrument, e.position_side, e.quantity) for e in events
            if isinstance(e, PositionEvent)} == {
        ("binance-coinm:BTCUSD_PERP", side, 0.0) for side in ("one_way", "long", "short")
    }


def test_position_risk_open_leg_keeps_contracts_and_leverage() -> None:
    """An open short of 150 contracts @ 60,000 (cross, leverage "10") is -150 contracts."""
    row = dict(fixture_json("binance_coinm_positionRisk.json")[0])  # type: ignore[index]
    row.update({"positionAmt": "-150", "entryPrice": "60000.0", "leverage": "10"})
    subject = venue()
    request = subject.resync_requests(RECEIVE_MS)[0]
    events = subject.parse_resync(request, json.dumps([row]).encode(), RECEIVE_MS)
    assert events == (
        position("binance-coinm:BTCUSD_PERP", -150.0, 60000.0, "cross", None, 10.0, RECEIVE_MS),
    )


def test_account_snapshot_balances_are_coins() -> None:
    """``GET /dapi/v1/account`` assets[]: BTC walletBalance = crossWalletBalance "0.00241969"."""
    subject = venue()
    request = subject.resync_requests(RECEIVE_MS)[1]
    assert request.purpose == "balances"
    events = subject.parse_resync(
        request, fixture_text("binance_coinm_account.json").encode(), RECEIVE_MS)
    assert events == (balance("BTC", 0.00241969, RECEIVE_MS, 0.00241969),)


def test_coin_commission_counts_at_the_fill_price() -> None:
    """A fill whose commission is in the contract's coin: 0.00000167 BTC at 60,000 USD/BTC is
    0.1002 USD; a commission in another asset counts 0 (no price)."""
    order = {"s": "BTCUSD_PERP", "S": "SELL", "x": "TRADE", "l": "10", "L": "60000", "N": "BTC",
             "n": "0.00000167"}
    frame = {"e": "ORDER_TRADE_UPDATE", "E": 1700000000000, "T": 1700000000000, "o": order}
    (fill,) = venue().parse("private", json.dumps(frame), RECEIVE_MS).events
    assert isinstance(fill, FillEvent)
    assert (fill.instrument, fill.quantity, fill.price) == ("binance-coinm:BTCUSD_PERP", -10.0, 60000.0)
    assert fill.fee_usd == pytest.approx(0.1002, rel=1e-12)  # 0.00000167 x 60000
    frame["o"] = {**order, "N": "BNB"}
    (other,) = venue().parse("private", json.dumps(frame), RECEIVE_MS).events
    assert isinstance(other, FillEvent)
    assert other.fee_usd == 0.0


def test_market_plan_uses_dstream_combined_streams() -> None:
    """markPrice@1s streams on ``wss://dstream.binance.com/stream?streams=``."""
    plan = venue(("BTCUSD_PERP", "BTCUSD_261225")).connect_plan("market", RECEIVE_MS, None)
    assert plan.url == (
        "wss://dstream.binance.com/stream?streams=btcusd_perp@markPrice@1s/btcusd_261225@markPrice@1s"
    )
    assert plan.max_connection_age_s == 23.5 * 3600


def test_private_stream_listen_key_lifecycle_on_dapi() -> None:
    """POST /dapi/v1/listenKey, connect to ``/ws/<listenKey>``, PUT keepalive every 30 minutes."""
    subject = venue()
    setup = subject.stream_setup("private", RECEIVE_MS)
    assert setup is not None
    assert (setup.method, setup.base_url, setup.path) == (
        "POST", "https://dapi.binance.com", "/dapi/v1/listenKey",
    )
    assert dict(setup.headers) == {"X-MBX-APIKEY": CANARY_KEY}
    plan = subject.connect_plan("private", RECEIVE_MS, b'{"listenKey":"abc123"}')
    assert plan.url == "wss://dstream.binance.com/ws/abc123"
    assert plan.keepalive_interval_s == 1800.0
    keepalive = subject.keepalive_request("private", RECEIVE_MS)
    assert keepalive is not None
    assert (keepalive.method, keepalive.path) == ("PUT", "/dapi/v1/listenKey")
    with pytest.raises(FrameError, match="listenKey"):
        subject.connect_plan("private", RECEIVE_MS, b'{"listenKey":"../../evil?x="}')


def test_resync_requests_are_signed_dapi_paths_without_account_mode() -> None:
    """positionRisk and account on dapi, signed like USDⓈ-M; COIN-M has no Multi-Assets Mode."""
    requests = venue().resync_requests(1499827319559)
    expected = hmac.new(
        CANARY_HMAC.encode(), b"recvWindow=5000&timestamp=1499827319559", hashlib.sha256
    ).hexdigest()
    assert [(request.purpose, request.base_url, request.path) for request in requests] == [
        ("positions", "https://dapi.binance.com", "/dapi/v1/positionRisk"),
        ("balances", "https://dapi.binance.com", "/dapi/v1/account"),
    ]
    for request in requests:
        assert request.query[-1] == ("signature", expected)


@pytest.mark.parametrize(
    "name",
    ["binance_coinm_markPrice_delivery.json", "binance_coinm_markPrice_pair.json",
     "binance_coinm_ACCOUNT_UPDATE.json"],
)
def test_every_field_mutation_gives_parsed_or_frame_error(name: str) -> None:
    """Deleting or corrupting any single field never lets another exception escape."""
    subject = venue(("BTCUSD_PERP", "BTCUSD_201225", "BTCUSD_200925"))
    count = assert_only_frame_errors(
        lambda frame: subject.parse("private", frame, RECEIVE_MS), fixture_json(name)
    )
    assert count > 5


@pytest.mark.parametrize(
    ("purpose", "name"),
    [("positions", "binance_coinm_positionRisk.json"), ("balances", "binance_coinm_account.json")],
)
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


def test_ack_and_unknown_events_emit_nothing() -> None:
    """A SUBSCRIBE response is an ack; an unknown event is ignored."""
    subject = venue()
    assert subject.parse("market", '{"result": null, "id": 1}', RECEIVE_MS).kind is FrameKind.ACK
    assert subject.parse("private", '{"e":"STRATEGY_UPDATE","E":1}', RECEIVE_MS).kind is FrameKind.IGNORED


def test_secrets_never_leak() -> None:
    """Canary credentials appear in no repr of the venue or its requests' URLs and queries."""
    subject = venue()
    texts = [repr(subject)]
    texts.extend(repr(request.query) + request.path for request in subject.resync_requests(RECEIVE_MS))
    assert not any(leaked(text) for text in texts)
