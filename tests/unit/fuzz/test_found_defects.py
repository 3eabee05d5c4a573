"""Defects the fuzzer found, each pinned by the smallest frame that shows it.

Each test states the behaviour the parser must have; the fix it pinned is named beside it
(docs/reliability.md "Fuzzing"), and the tests now guard against the defect coming back.
"""

from __future__ import annotations

import json

import pytest

from monitor.fuzzing import event_problem
from monitor.venues.base import FrameError

from ._harness import RECEIVE_MS, primed_venue, target

BINANCE_SPOT_FIX = (
    "binance_spot: build the resync BalanceEvents inside frame_errors (and assign self._balances "
    "only after they are built); in _balance, construct the event before adding the asset to "
    "_reported_assets"
)
NET_LEGS_FIX = (
    "_common.net_legs: compute the harmonic (inverse) entry only when every open leg has "
    "entry_price > 0, else use the |q|-weighted fallback; and let frame_errors also catch "
    "ArithmeticError (ZeroDivisionError)"
)
BINANCE_KEEPALIVE_FIX = (
    "binance_usdm.parse_resync: return () for purpose 'listenKey' (the PUT keepalive response "
    "the supervisor hands over every 30 minutes), as bingx does"
)


def _okx_position(side: str, pos: str, average: str) -> dict[str, str]:
    return {"instType": "SWAP", "instId": "BTC-USD-SWAP", "posSide": side, "mgnMode": "cross",
            "pos": pos, "avgPx": average, "lever": "10", "uTime": "1700000000000",
            "pTime": "1700000000000"}


def test_binance_spot_resync_with_an_invalid_asset_is_a_frame_error() -> None:
    """A balances response naming a 300-character asset is refused with FrameError."""
    venue, requests = primed_venue(target("binance-spot/resync:balances"))
    body = json.dumps({"updateTime": 1, "balances": [{"asset": "A" * 300, "free": "1", "locked": "0"}]})
    with pytest.raises(FrameError):
        venue.parse_resync(requests["balances"], body.encode(), RECEIVE_MS)


def test_binance_spot_rejected_push_does_not_break_later_resyncs() -> None:
    """After a push with an invalid asset was refused, a valid balances resync still works."""
    venue, requests = primed_venue(target("binance-spot/stream:private"))
    push = {"e": "outboundAccountPosition", "E": 1564034571105, "u": 1564034571073,
            "B": [{"a": "A" * 300, "f": "1", "l": "0"}]}
    with pytest.raises(FrameError):
        venue.parse("private", json.dumps(push), RECEIVE_MS)
    body = json.dumps({"updateTime": 1564034571080,
                       "balances": [{"asset": "BTC", "free": "1", "locked": "0"}]})
    events = venue.parse_resync(requests["balances"], body.encode(), RECEIVE_MS)
    assert [event_problem(event) for event in events] == [None] * len(events)


@pytest.mark.parametrize("label", ["okx/stream:private", "okx/resync:positions"])
def test_okx_inverse_hedge_leg_with_zero_entry_is_a_frame_error_or_valid(label: str) -> None:
    """OKX inverse long 2 @ 0 and short 1 @ 60000 give FrameError or a valid netted position."""
    spec = target(label)
    venue, requests = primed_venue(spec)
    rows = [_okx_position("long", "2", "0"), _okx_position("short", "1", "60000")]
    try:
        if spec.kind == "stream":
            frame = {"arg": {"channel": "positions", "instType": "ANY"}, "eventType": "snapshot",
                     "data": rows}
            events = venue.parse("private", json.dumps(frame), RECEIVE_MS).events
        else:
            body = json.dumps({"code": "0", "msg": "", "data": rows}).encode()
            events = venue.parse_resync(requests["positions"], body, RECEIVE_MS)
    except FrameError:
        return
    assert [event_problem(event) for event in events] == [None] * len(events)


def test_bybit_inverse_hedge_leg_with_zero_entry_is_a_frame_error_or_valid() -> None:
    """Bybit inverse Buy 200 @ 0 and Sell 100 @ 50000 give FrameError or a valid position."""
    venue, requests = primed_venue(target("bybit/resync:positions-inverse"))
    requests = {request.purpose: request for request in venue.resync_requests(RECEIVE_MS)}

    def body(rows: list[dict[str, object]]) -> bytes:
        return json.dumps({"retCode": 0, "retMsg": "OK",
                           "result": {"category": "inverse", "list": rows}}).encode()

    def row(index: int, side: str, size: str, average: str) -> dict[str, object]:
        return {"category": "inverse", "symbol": "BTCUSD", "positionIdx": index, "side": side,
                "size": size, "avgPrice": average, "leverage": "10", "tradeMode": 0,
                "positionBalance": "0"}

    venue.parse_resync(requests["positions-linear-USDT"], body([]), RECEIVE_MS)
    venue.parse_resync(requests["positions-linear-USDC"], body([]), RECEIVE_MS)
    try:
        events = venue.parse_resync(
            requests["positions-inverse"],
            body([row(1, "Buy", "200", "0"), row(2, "Sell", "100", "50000")]), RECEIVE_MS)
    except FrameError:
        return
    assert [event_problem(event) for event in events] == [None] * len(events)


def test_binance_listen_key_keepalive_response_is_not_a_dead_letter() -> None:
    """The ``{}`` body of ``PUT /fapi/v1/listenKey`` that the supervisor hands to parse_resync
    gives no events and no FrameError (otherwise every keepalive is a dead letter)."""
    venue, _ = primed_venue(target("binance/resync:listenKey"))
    keepalive = venue.keepalive_request("private", RECEIVE_MS)
    assert keepalive is not None
    assert venue.parse_resync(keepalive, b"{}", RECEIVE_MS) == ()
