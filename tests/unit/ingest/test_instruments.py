"""The ingest's instrument fetcher and position follower, on documented venue answers."""

from __future__ import annotations

import pytest

from monitor.domain.events import PositionEvent
from monitor.ingest.http import HttpResponse
from monitor.ingest.instruments import InstrumentFetcher, InstrumentSettings
from monitor.ingest.runner import PositionFollower, VenueRunner
from monitor.ingest.sink import CollectingSink
from monitor.venues.base import HttpRequest
from monitor.venues.bybit import Bybit
from monitor.venues.okx import Okx
from tests.unit.ingest.fakes import MemoryTransport
from tests.unit.venues._support import account, fixture_text

SWAP_LISTING = fixture_text("okx_public_instruments_swap_futures_constructed.json").encode()
SWAP_TIERS = fixture_text("okx_position_tiers_swap_constructed.json").encode()
EMPTY = b'{"code":"0","msg":"","data":[]}'


def _okx_answers(request: HttpRequest) -> HttpResponse:
    query = dict(request.query)
    if request.path == "/api/v5/public/instruments":
        return HttpResponse(200, SWAP_LISTING if query["instType"] == "SWAP" else EMPTY)
    if request.path == "/api/v5/public/position-tiers":
        return HttpResponse(200, SWAP_TIERS if query["instType"] == "SWAP" else EMPTY)
    return HttpResponse(404, b"{}")


async def test_a_refresh_publishes_every_listed_contract_with_the_tiers_of_interest() -> None:
    """Listing of SWAP and FUTURES, tiers of the configured symbol's family; none of the rest."""
    venue = Okx(symbols=("BTC-USDT-SWAP",))
    sink = CollectingSink()
    transport = MemoryTransport(_okx_answers)
    fetcher = InstrumentFetcher(venue, sink, transport, configured=venue.symbols)
    assert await fetcher.refresh()
    by_id = {event.instrument: event for event in sink.instruments}
    assert set(by_id) == {"okx:BTC-USDT-SWAP", "okx:BTC-USD-SWAP", "okx:BTC-USDT-250328"}
    assert [t.mmr for t in by_id["okx:BTC-USDT-SWAP"].tiers] == [0.004, 0.005]
    assert by_id["okx:BTC-USD-SWAP"].tiers == ()  # not of interest: no tier call for its family
    assert [dict(r.query).get("instFamily") for r in transport.requests if r.purpose == "tiers"] == [
        "BTC-USDT"]
    assert fetcher.unlisted == ()


async def test_an_unlisted_configured_symbol_is_named_and_an_unreadable_body_dead_lettered() -> None:
    """A configured symbol the venue does not list is reported; a bad body goes to dead letters."""
    venue = Okx(symbols=("SOL-USDT-SWAP",))
    sink = CollectingSink()

    def answers(request: HttpRequest) -> HttpResponse:
        if dict(request.query).get("instType") == "FUTURES":
            return HttpResponse(200, b'{"code":"0","data":[{"instType":"FUTURES"}]}')
        return _okx_answers(request)

    fetcher = InstrumentFetcher(venue, sink, MemoryTransport(answers), configured=venue.symbols)
    assert not await fetcher.refresh()
    assert sink.dead_letters[0].reason.startswith("instruments instruments: instrument: missing field")
    assert fetcher.failures == 1
    assert await InstrumentFetcher(venue, sink, MemoryTransport(_okx_answers),
                                   configured=venue.symbols).refresh()


async def test_bybit_pages_are_followed() -> None:
    """A nextPageCursor is followed: the second page's contracts are published too."""
    venue = Bybit(symbols=("BTCUSDT",))
    sink = CollectingSink()
    first = fixture_text("bybit_instruments_info_prelisting.json").encode()
    last = fixture_text("bybit_instruments_info_linear.json").encode()

    def answers(request: HttpRequest) -> HttpResponse:
        if request.path == "/v5/market/risk-limit":
            return HttpResponse(200, b'{"retCode":0,"result":{"list":[]}}')
        if dict(request.query)["category"] == "inverse":
            return HttpResponse(200, b'{"retCode":0,"result":{"category":"inverse","list":[]}}')
        return HttpResponse(200, last if "cursor" in dict(request.query) else first)

    assert await InstrumentFetcher(venue, sink, MemoryTransport(answers),
                                   configured=venue.symbols).refresh()
    assert {e.instrument for e in sink.instruments} == {"bybit:BIOUSDT", "bybit:BTCUSDT"}


async def test_a_held_symbol_is_followed_and_asks_once_for_its_terms() -> None:
    """A position in a new symbol: the market stream subscribes it and reconnects, the fetcher is
    asked for a refresh once; the event itself is passed on unchanged."""
    venue = Okx(symbols=(), account=account(passphrase=True))
    assert not venue.stream_ready("market")  # nothing to subscribe before a position
    sink = CollectingSink()
    runner = VenueRunner([venue], sink, MemoryTransport(_okx_answers))
    (fetcher,) = runner.fetchers
    market = runner.supervisor("okx", "market")
    follower = market.sink
    assert isinstance(follower, PositionFollower)
    event = PositionEvent("alice", "acct-1", "okx:SOL-USDT-SWAP", -10, 150, 10, "cross", None, 1, 1)
    await follower.publish([event])
    assert sink.events == [event]
    assert venue.symbols == ("SOL-USDT-SWAP",)
    assert venue.stream_ready("market")
    assert market._reconnect_wanted.is_set()  # noqa: SLF001 -- the reconnect request itself
    assert fetcher._wake.is_set()  # noqa: SLF001 -- the refresh request itself
    fetcher._wake.clear()  # noqa: SLF001 -- reset to see that a second update asks nothing
    await follower.publish([event])
    assert not fetcher._wake.is_set()  # noqa: SLF001
    flat = PositionEvent("alice", "acct-1", "okx:XRP-USDT-SWAP", 0, 0, None, "cross", None, 2, 2)
    await follower.publish([flat])
    assert "XRP-USDT-SWAP" not in venue.symbols  # a flat position is not followed


def test_refresh_interval_defaults_to_six_hours() -> None:
    """The issue's schedule: every 6 h."""
    assert InstrumentSettings().refresh_interval_s == pytest.approx(6 * 3600)


async def test_impossible_terms_are_a_dead_letter_not_a_crash() -> None:
    """A listing whose lot size is 0 cannot be terms: dead-lettered with the reason, ingest goes on."""
    venue = Okx(symbols=("BTC-USDT-SWAP",))
    sink = CollectingSink()
    broken = SWAP_LISTING.replace(b'"lotSz":"0.01"', b'"lotSz":"0"')

    def answers(request: HttpRequest) -> HttpResponse:
        if request.path == "/api/v5/public/instruments" and dict(request.query)["instType"] == "SWAP":
            return HttpResponse(200, broken)
        return _okx_answers(request)

    fetcher = InstrumentFetcher(venue, sink, MemoryTransport(answers), configured=venue.symbols)
    assert not await fetcher.refresh()
    assert sink.dead_letters[0].reason == (
        "instruments instruments: okx: malformed frame (EventError: lot_step must be > 0, got 0.0)")
