"""Live instrument terms: each venue's documented listing and tier examples read into terms."""

from __future__ import annotations

import pytest

from monitor.domain.events import InstrumentTier
from monitor.venues.base import FrameError, HttpRequest
from monitor.venues.binance_spot import BinanceSpot
from monitor.venues.binance_usdm import BinanceUsdm
from monitor.venues.bingx import BingxSwap
from monitor.venues.bybit import Bybit
from monitor.venues.listings import InstrumentReading, instrument_source
from monitor.venues.mexc import MexcContract
from monitor.venues.okx import Okx
from monitor.venues.weex import WeexFutures
from tests.unit.venues._support import RECEIVE_MS, account, fixture_json, fixture_text, leaked, mutations


def _read(venue: object, request: HttpRequest, name: str) -> InstrumentReading:
    source = instrument_source(venue)
    assert source is not None
    return source.parse_instruments(request, fixture_text(name).encode(), RECEIVE_MS)


def test_a_venue_without_listings_has_no_source() -> None:
    """An object without the seam (a venue module that lists nothing) gets none: the catalog serves."""
    assert instrument_source(object()) is None


def test_binance_spot_exchange_info_documented_example() -> None:
    """ETHBTC: a TRADING spot pair, base ETH, quote BTC; no LOT_SIZE filter listed: lot 1, no minimum."""
    venue = BinanceSpot(symbols=("BTCUSDT",))
    (request,) = venue.instrument_requests(RECEIVE_MS)
    assert request.path == "/api/v3/exchangeInfo"
    (terms,) = _read(venue, request, "binance_spot_exchangeInfo.json").terms
    assert (terms.instrument, terms.kind, terms.contract_type) == ("binance-spot:ETHBTC", "spot", "spot")
    assert (terms.base, terms.quote, terms.lot_step, terms.min_quantity) == ("ETH", "BTC", 1.0, 0.0)
    assert venue.tier_requests(RECEIVE_MS, ("ETHBTC",)) == ()


# -- Binance USDⓈ-M ---------------------------------------------------------------------------


def test_binance_exchange_info_documented_example() -> None:
    """BLZUSDT: PERPETUAL (no expiry), base BLZ, settled in marginAsset USDT, LOT_SIZE step 1."""
    venue = BinanceUsdm(symbols=(), account=account())
    (request,) = venue.instrument_requests(RECEIVE_MS)
    assert (request.method, request.path, request.query) == ("GET", "/fapi/v1/exchangeInfo", ())
    (terms,) = _read(venue, request, "binance_usdm_exchangeInfo.json").terms
    assert terms.instrument == "binance:BLZUSDT"
    assert (terms.kind, terms.contract_type, terms.expiry_ms) == ("linear", "perpetual", None)
    assert (terms.base, terms.quote, terms.settle) == ("BLZ", "USDT", "USDT")
    assert (terms.contract_size, terms.lot_step, terms.min_quantity) == (1.0, 1.0, 1.0)
    assert terms.tiers == ()


def test_binance_quarterly_has_its_delivery_date_and_a_delisted_symbol_is_skipped() -> None:
    """CURRENT_QUARTER: expiry = deliveryDate; contractType "" (settled) is not a contract."""
    venue = BinanceUsdm(symbols=("BTCUSDT",))
    (request,) = venue.instrument_requests(RECEIVE_MS)
    terms = _read(venue, request, "binance_usdm_exchangeInfo_quarterly_thirdparty.json").terms
    by_id = {t.instrument: t for t in terms}
    assert set(by_id) == {"binance:BTCUSDT", "binance:ETHUSDT_250926"}
    quarterly = by_id["binance:ETHUSDT_250926"]
    assert (quarterly.contract_type, quarterly.expiry_ms) == ("future", 1_758_873_600_000)
    assert by_id["binance:BTCUSDT"].lot_step == 0.001
    assert quarterly.lot_step == 1.0  # no LOT_SIZE filter listed: one unit


def test_binance_brackets_are_signed_and_keep_the_venues_cum() -> None:
    """leverageBracket needs the account's signature; its documented ETHUSDT bracket 1 is read."""
    assert BinanceUsdm(symbols=("BTCUSDT",)).tier_requests(RECEIVE_MS, ("ETHUSDT",)) == ()
    venue = BinanceUsdm(symbols=(), account=account())
    (request,) = venue.tier_requests(RECEIVE_MS, ("ETHUSDT",))
    assert request.path == "/fapi/v1/leverageBracket"
    assert dict(request.query)["signature"]
    assert not leaked(repr(request.query))
    tiers = _read(venue, request, "binance_usdm_leverageBracket.json").tiers
    assert tiers == {"ETHUSDT": (InstrumentTier(0, 10_000, 0.0065, 75, 0.0),)}
    single = _read(venue, request, "binance_usdm_leverageBracket_symbol.json").tiers
    assert list(single) == ["ETHUSDT"]


# -- Bybit ------------------------------------------------------------------------------------


def test_bybit_instruments_documented_linear_example() -> None:
    """BTCUSDT LinearPerpetual: deliveryTime "0" (none), qtyStep 0.001, one contract = 1 BTC."""
    venue = Bybit(symbols=(), account=account())
    requests = venue.instrument_requests(RECEIVE_MS)
    assert [dict(r.query)["category"] for r in requests] == ["linear", "inverse"]
    reading = _read(venue, requests[0], "bybit_instruments_info_linear.json")
    (terms,) = reading.terms
    assert terms.instrument == "bybit:BTCUSDT"
    assert (terms.kind, terms.contract_type, terms.expiry_ms) == ("linear", "perpetual", None)
    assert (terms.base, terms.quote, terms.settle) == ("BTC", "USDT", "USDT")
    assert (terms.contract_size, terms.lot_step, terms.min_quantity) == (1.0, 0.001, 0.001)
    assert reading.next_request is None  # nextPageCursor ""


def test_bybit_follows_the_next_page_cursor() -> None:
    """A nextPageCursor gives the same request again with ``cursor`` set to it."""
    venue = Bybit(symbols=("BTCUSDT",))
    request = venue.instrument_requests(RECEIVE_MS)[0]
    reading = _read(venue, request, "bybit_instruments_info_prelisting.json")
    assert reading.terms[0].instrument == "bybit:BIOUSDT"
    assert reading.next_request is not None
    assert dict(reading.next_request.query) == {
        "category": "linear", "limit": "1000", "cursor": "first%3DBIOUSDT%26last%3DBIOUSDT"}


def test_bybit_risk_limit_documented_example_in_percent() -> None:
    """BTCUSD tier 1: cap 150, MMR "0.5" with IM "1" at 100x is in percent: 0.5 % = 0.005."""
    venue = Bybit(symbols=("BTCUSDT",))
    (request,) = venue.tier_requests(RECEIVE_MS, ("BTCUSD",))
    assert dict(request.query) == {"category": "inverse", "symbol": "BTCUSD"}
    assert dict(venue.tier_requests(RECEIVE_MS, ("SOLUSDT",))[0].query)["category"] == "linear"
    tiers = _read(venue, request, "bybit_risk_limit.json").tiers
    assert tiers == {"BTCUSD": (InstrumentTier(0, 150, 0.005, 100, None),)}


def test_bybit_error_answer_is_a_frame_error() -> None:
    """retCode other than 0 names the code."""
    venue = Bybit(symbols=("BTCUSDT",))
    request = venue.instrument_requests(RECEIVE_MS)[0]
    with pytest.raises(FrameError, match="retCode 10001"):
        venue.parse_instruments(request, b'{"retCode":10001,"retMsg":"bad","result":{}}', RECEIVE_MS)


# -- OKX --------------------------------------------------------------------------------------


def test_okx_instruments_documented_spot_example() -> None:
    """The documented SPOT row: BTC-USDT, lot 0.00000001 BTC, minimum 0.00001."""
    venue = Okx(symbols=("BTC-USDT-SWAP",))
    requests = venue.instrument_requests(RECEIVE_MS)
    assert [dict(r.query)["instType"] for r in requests] == ["SWAP", "FUTURES"]
    (terms,) = _read(venue, requests[0], "okx_public_instruments_spot.json").terms
    assert (terms.instrument, terms.kind, terms.contract_type) == ("okx:BTC-USDT", "spot", "spot")
    assert (terms.base, terms.quote, terms.lot_step, terms.min_quantity) == (
        "BTC", "USDT", 1e-8, 1e-5)


def test_okx_swap_and_futures_terms_from_the_documented_fields() -> None:
    """Linear ctVal 0.01 BTC x ctMult 1; inverse ctVal 100 USD settled in BTC; FUTURES expTime."""
    venue = Okx(symbols=("BTC-USDT-SWAP",))
    terms = {t.instrument: t for t in _read(
        venue, venue.instrument_requests(RECEIVE_MS)[0],
        "okx_public_instruments_swap_futures_constructed.json").terms}
    swap = terms["okx:BTC-USDT-SWAP"]
    assert (swap.kind, swap.contract_size, swap.settle, swap.lot_step) == ("linear", 0.01, "USDT", 0.01)
    inverse = terms["okx:BTC-USD-SWAP"]
    assert (inverse.kind, inverse.contract_value, inverse.base, inverse.settle) == (
        "inverse", 100.0, "BTC", "BTC")
    future = terms["okx:BTC-USDT-250328"]
    assert (future.contract_type, future.expiry_ms) == ("future", 1_743_148_800_000)


def test_okx_tiers_are_asked_per_family_and_spread_to_its_instruments() -> None:
    """position-tiers of family BTC-USDT (SWAP) reach BTC-USDT-SWAP; a MARGIN row is no tier."""
    venue = Okx(symbols=("BTC-USDT-SWAP",))
    _read(venue, venue.instrument_requests(RECEIVE_MS)[0],
          "okx_public_instruments_swap_futures_constructed.json")
    requests = venue.tier_requests(RECEIVE_MS, ("BTC-USDT-SWAP", "BTC-USDT-250328", "NOPE-SWAP"))
    assert [dict(r.query) for r in requests] == [
        {"instType": "FUTURES", "tdMode": "cross", "instFamily": "BTC-USDT"},
        {"instType": "SWAP", "tdMode": "cross", "instFamily": "BTC-USDT"},
    ]
    swap_request = requests[1]
    tiers = _read(venue, swap_request, "okx_position_tiers_swap_constructed.json").tiers
    assert tiers == {"BTC-USDT-SWAP": (InstrumentTier(0, 1_000, 0.004, 100),
                                       InstrumentTier(1_000, 3_000, 0.005, 75))}
    assert _read(venue, swap_request, "okx_position_tiers.json").tiers == {}


def test_okx_error_answer_and_unknown_purpose() -> None:
    """A code other than "0" and a purpose the venue never asked for are frame errors."""
    venue = Okx(symbols=("BTC-USDT-SWAP",))
    request = venue.instrument_requests(RECEIVE_MS)[0]
    with pytest.raises(FrameError, match="code '51000'"):
        venue.parse_instruments(request, b'{"code":"51000","msg":"x","data":[]}', RECEIVE_MS)
    with pytest.raises(FrameError, match="unknown instruments purpose"):
        venue.parse_instruments(HttpRequest("GET", "x", "/", "positions"), b'{"code":"0","data":[]}',
                                RECEIVE_MS)


# -- BingX, MEXC, WEEX ------------------------------------------------------------------------


def test_bingx_contracts_and_maintenance_tiers() -> None:
    """BTC-USDT: base coin quantities (1 per contract), lot 10^-4, minimum 0.0001, settled in USDT;
    tiers 0-150 000 at 0.38 %, 150 000-900 000 at 0.40 % (USDT notional)."""
    venue = BingxSwap(symbols=("BTC-USDT",))
    (request,) = venue.instrument_requests(RECEIVE_MS)
    assert request.path == "/openApi/swap/v2/quote/contracts"
    terms = {t.instrument: t for t in _read(venue, request, "bingx_rest_contracts_response.json").terms}
    btc = terms["bingx:BTC-USDT"]
    assert (btc.base, btc.quote, btc.settle, btc.contract_size, btc.lot_step, btc.min_quantity) == (
        "BTC", "USDT", "USDT", 1.0, 0.0001, 0.0001)
    (tier_request,) = venue.tier_requests(RECEIVE_MS, ("BTC-USDT",))
    assert dict(tier_request.query) == {"symbol": "BTC-USDT"}
    tiers = _read(venue, tier_request, "bingx_rest_maint_margin_ratio_response.json").tiers
    assert [(t.floor, t.cap, t.mmr) for t in tiers["BTC-USDT"]] == [
        (0, 150_000, 0.0038), (150_000, 900_000, 0.004)]


def test_mexc_contract_detail_documented_example() -> None:
    """BTC_USDT: contractSize 0.0001 BTC per contract, volUnit 1, minVol 1; no live tiers."""
    venue = MexcContract(symbols=("BTC_USDT",))
    (request,) = venue.instrument_requests(RECEIVE_MS)
    (btc,) = _read(venue, request, "mexc_rest_contract_detail_btc_response.json").terms
    assert (btc.instrument, btc.contract_size, btc.lot_step, btc.min_quantity, btc.settle) == (
        "mexc:BTC_USDT", 0.0001, 1.0, 1.0, "USDT")
    assert venue.tier_requests(RECEIVE_MS, ("BTC_USDT",)) == ()


def test_weex_exchange_info() -> None:
    """BTCUSDT: sizes in base coin, contractVal the lot step, minOrderSize the minimum."""
    venue = WeexFutures(symbols=("BTCUSDT",))
    (request,) = venue.instrument_requests(RECEIVE_MS)
    assert request.path == "/capi/v3/market/exchangeInfo"
    (btc,) = _read(venue, request, "weex_v3_rest_exchange_info_response.json").terms
    assert (btc.instrument, btc.contract_size, btc.lot_step, btc.min_quantity) == (
        "weex:BTCUSDT", 1.0, 0.000001, 0.0001)


# -- malformed answers ------------------------------------------------------------------------

_MUTATED = [
    (BinanceUsdm, ("BTCUSDT",), "instruments", "binance_usdm_exchangeInfo.json"),
    (BinanceUsdm, ("BTCUSDT",), "tiers", "binance_usdm_leverageBracket.json"),
    (Bybit, ("BTCUSDT",), "instruments-linear", "bybit_instruments_info_linear.json"),
    (Bybit, ("BTCUSDT",), "tiers", "bybit_risk_limit.json"),
    (Okx, ("BTC-USDT-SWAP",), "instruments", "okx_public_instruments_swap_futures_constructed.json"),
    (Okx, ("BTC-USDT-SWAP",), "tiers", "okx_position_tiers_swap_constructed.json"),
    (BingxSwap, ("BTC-USDT",), "instruments", "bingx_rest_contracts_response.json"),
    (MexcContract, ("BTC_USDT",), "instruments", "mexc_rest_contract_detail_btc_response.json"),
    (WeexFutures, ("BTCUSDT",), "instruments", "weex_v3_rest_exchange_info_response.json"),
    (BinanceSpot, ("BTCUSDT",), "instruments", "binance_spot_exchangeInfo.json"),
]


@pytest.mark.parametrize(("venue_class", "symbols", "purpose", "name"), _MUTATED)
def test_every_single_field_mutation_is_read_or_refused_with_a_reason(
    venue_class: type, symbols: tuple[str, ...], purpose: str, name: str,
) -> None:
    """Each field of a documented answer deleted or replaced by a bad value: the parser returns a
    reading or raises FrameError with a reason, never another exception."""
    venue = venue_class(symbols=symbols)
    request = HttpRequest("GET", "https://example.invalid", "/", purpose, (("instType", "SWAP"),))
    readings = 0
    reasons: list[str] = []
    for body in mutations(fixture_json(name)):
        try:
            venue.parse_instruments(request, body.encode(), RECEIVE_MS)
            readings += 1
        except FrameError as error:
            reasons.append(error.reason)
    assert readings + len(reasons) > 10
    assert reasons
    assert all(reasons)
