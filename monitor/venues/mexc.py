"""MEXC futures (contract): fair/index/funding prices, positions and assets as canonical events.

Sources: MEXC contract API docs (github.com/mexcdevelop/apidocs branch ``contract_v1_en``, commit
84922b1; www.mexc.com/api-docs/futures/websocket-api, copy of 2026-04-04 for the newer samples);
ccxt for the funding sample with ``nextSettleTime``; exchange-wire-formats-bingx-mexc-weex.md §2.

Connection ``wss://contract.mexc.com/edge`` (public and private alike)
    JSON text frames; subscriptions send ``"gzip": false`` for plain text, and a binary frame that
    starts with the gzip magic is inflated anyway. MEXC drops a connection that sends no
    ``{"method":"ping"}`` for a minute, so ``StreamPlan.ping_frame`` is sent every 15 s; the answer
    ``{"channel":"pong","data":<ms>}`` may come twice. Acks arrive on ``rs.<method>`` with data
    ``success``; failures on ``rs.error`` (a FrameError here).

Market: ``sub.fair.price``, ``sub.index.price`` and ``sub.funding.rate`` per symbol::

    {"channel":"push.fair.price","data":{"price":0.001,"symbol":"BTC_USDT"},"symbol":"BTC_USDT","ts":..}
    {"channel":"push.funding.rate","data":{"rate":0.001,"symbol":"BTC_USDT"},"symbol":"BTC_USDT","ts":..}

    The fair price is MEXC's mark price. The latest index and funding of the connection are merged
    into every PriceEvent, and one is emitted for each of the three pushes once a mark is known.
    The funding payload key is ``rate`` (the doc table says ``fundingRate``; both are read);
    ``nextSettleTime`` is only in ccxt's captured sample, so the resync also calls the public
    ``GET /api/v1/contract/funding_rate/{symbol}`` (``fundingRate``, ``nextSettleTime``).
    ``push.ticker`` (``fairPrice``, ``indexPrice``, ``fundingRate``) is read too if it arrives.

Private: the login frame ``{"method":"login","param":{"apiKey":..,"reqTime":"<ms>","signature":..}}``
    (``reqTime`` a string; signature = hex HMAC-SHA256(secret, apiKey + reqTime)); success is
    ``rs.login`` with data ``success`` (its ``ts`` is a string), a failure asks for a reconnect.
    After login every private push arrives by default (no ``personal.filter`` is sent).

    * ``push.personal.position``: ``holdVol`` in contracts of ``contractSize``, which is how the
      catalog counts MEXC contracts (no conversion; coin = holdVol * contractSize). ``positionType``
      1 long / 2 short, ``openType`` 1 isolated / 2 cross, ``state`` 1 holding, 2 system holding,
      3 closed (quantity 0), ``holdAvgPrice`` (the full-precision ``holdAvgPriceFullyScale`` string
      is preferred when present), ``leverage``, ``im``.
    * ``isolated_margin`` = ``im``, the isolated position's current margin. MEXC reports unrealised
      PnL separately (``pnl``), so ``im`` is taken to exclude it (not stated by MEXC: unverified).
    * Legs: positions are keyed by symbol plus ``positionType`` (MEXC: "key positions by
      positionId, or by symbol plus positionType"). In hedge mode (``positionMode`` 1) they are
      the ``position_side`` "long" (1) and "short" (2, quantity negative) legs, each published on
      its own; in one-way mode (``positionMode`` 2, from ``push.personal.position.mode``) the one
      position of a symbol is "one_way", long or short by ``positionType``. Until the mode is
      pushed, hedge mode is assumed (the resync does not call ``GET
      /api/v1/private/position/position_mode``); a mode push that changes the mapping publishes
      the known legs again under their new side and closes them under the old one.
    * ``push.personal.asset``: a BalanceEvent of ``currency`` whose wallet balance is derived as
      ``availableBalance + frozenBalance + positionMargin`` (MEXC publishes no wallet field; the
      ``bonus`` is excluded; unverified against a live account). REST ``/account/assets`` rows are
      read the same way.
    * ``push.personal.risk.limit`` (``level``, ``maxVol``, ``mmr``, ``imr``, ``maxLeverage``) is kept
      in ``MexcContract.risk_limits`` per (symbol, side); it emits no event. Its cap ``maxVol`` is
      a contract count, not the notional value ``PositionEvent.risk_limit_value`` holds, so MEXC
      positions carry None there.
    * Order, deal, ADL-level and liquidation-risk pushes are ignored.

REST (``https://contract.mexc.com``): headers ``ApiKey``, ``Request-Time``, ``Signature`` = hex
HMAC-SHA256(secret, apiKey + Request-Time + paramString), paramString being the sorted ``k=v&..``
of GET parameters (none here). The resync is ``GET /api/v1/private/position/open_positions`` (full
state: symbols that were open, or are configured, but are absent are emitted with quantity 0) and
``GET /api/v1/private/account/assets``. REST events carry the receive time as event time.

Contract terms: ``parse_contract_detail`` (``GET /api/v1/contract/detail``; at most 1 request per
5 s) gives catalog overrides. MEXC's risk tiers are by *volume* (contracts), not notional:
``risk_tiers`` returns them as volume tiers and ``notional_tiers`` converts them at a price.

The venue's own liquidation price ``liquidatePrice`` of position pushes and ``open_positions``
is the leg's ``venue_liquidation_price`` (docs/venue-fields.md); a value <= 0 is unknown.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import Any, ClassVar, Literal

from monitor.domain.events import Event, MarginMode, PositionSide, PriceEvent
from monitor.domain.instruments import Catalog
from monitor.secrets import Secret
from monitor.venues._common import (
    JsonObject,
    Leg,
    PositionBook,
    VenueSession,
    as_list,
    as_object,
    balance_event,
    dump_json,
    frame_errors,
    integer,
    load_json,
    market_and_private,
    number,
    optional_number,
    optional_time_ms,
    position_events,
    positive_or_none,
    required,
    text,
    time_ms,
    to_number,
    venue_figures,
)
from monitor.venues.base import (
    MAX_FRAME_BYTES,
    MAX_LIST_ITEMS,
    AccountContext,
    FrameError,
    FrameKind,
    HttpRequest,
    Parsed,
    StreamPlan,
)
from monitor.venues.listings.guide import GuideListings
from monitor.venues.signing import Redacted, api_key, hmac_sha256_hex, query_string

NAME = "mexc"
PRODUCTION_WS_URL = "wss://contract.mexc.com/edge"
PRODUCTION_REST_URL = "https://contract.mexc.com"
MARKET = "market"
PRIVATE = "private"

POSITIONS_PATH = "/api/v1/private/position/open_positions"
ASSETS_PATH = "/api/v1/private/account/assets"
FUNDING_RATE_PATH = "/api/v1/contract/funding_rate/"
CONTRACT_DETAIL_PATH = "/api/v1/contract/detail"
RISK_LIMIT_PATH = "/api/v1/private/account/risk_limit"

PURPOSE_POSITIONS = "positions"
PURPOSE_BALANCES = "balances"
PURPOSE_FUNDING_RATE = "fundingRate"

PING_FRAME = '{"method":"ping"}'
# MEXC disconnects after 60 s without a client ping and recommends pinging every 10-20 s.
PING_INTERVAL_S = 15.0
STALE_AFTER_S = 45.0

_SYMBOL = r"[A-Z0-9]{1,30}_[A-Z0-9]{2,10}"
_PRICE_TOPICS = ("fair.price", "index.price", "funding.rate")
_GZIP_MAGIC = b"\x1f\x8b"
_LEG_SIDES: dict[str, PositionSide] = {"long": "long", "short": "short"}
_HEDGE, _ONE_WAY = 1, 2

Side = Literal["long", "short"]


def signature_payload(api_key_text: str, request_time: str, parameters: str = "") -> str:
    """The string MEXC signs: ``apiKey + reqTime + paramString`` (login: no parameters)."""
    return f"{api_key_text}{request_time}{parameters}"


def sign(secret: Secret, api_key_text: str, request_time: str, parameters: str = "") -> str:
    """MEXC contract signature: hex HMAC-SHA256 of ``signature_payload(..)`` keyed by the secret.

    Source: MEXC contract API "Authentication method" and websocket "Login" (the docs' example
    signing string ``mx0aBYs33eIilxBW5C1657186536762`` is reproduced in the tests).
    """
    return hmac_sha256_hex(secret, signature_payload(api_key_text, request_time, parameters))


def inflate(frame: str | bytes) -> str | bytes:
    """Gunzip a binary frame that starts with the gzip magic (capped at MAX_FRAME_BYTES)."""
    if len(frame) > MAX_FRAME_BYTES:
        raise FrameError(f"{NAME}: frame of {len(frame)} bytes exceeds the limit of {MAX_FRAME_BYTES}")
    if not isinstance(frame, bytes) or not frame.startswith(_GZIP_MAGIC):
        return frame
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        raw = inflater.decompress(frame, MAX_FRAME_BYTES + 1)
    except zlib.error as exc:
        raise FrameError(f"{NAME}: invalid gzip frame ({exc})") from None
    if len(raw) > MAX_FRAME_BYTES or inflater.unconsumed_tail or not inflater.eof:
        raise FrameError(f"{NAME}: gzip frame is truncated or exceeds {MAX_FRAME_BYTES} bytes")
    return raw


@dataclass(frozen=True, slots=True)
class RiskLimit:
    """The account's current risk-limit tier of one symbol and side (MEXC ``risk.limit``)."""

    symbol: str
    side: Side
    level: int
    max_volume: float
    mmr: float
    imr: float
    max_leverage: float | None


@dataclass(frozen=True, slots=True)
class VolumeTier:
    """One MEXC risk level: up to ``max_volume`` contracts at ``mmr`` and ``imr``."""

    level: int
    max_volume: float
    mmr: float
    imr: float
    max_leverage: float


@dataclass(slots=True)
class _Quote:
    """The latest fair (mark), index and funding of one symbol on the current connection."""

    mark: float | None = None
    index: float | None = None
    funding_rate: float | None = None
    next_funding_ms: int | None = None


class MexcContract(GuideListings, VenueSession):
    """MEXC USDT-margined perpetual contracts venue (instrument ids ``mexc:<BASE>_<QUOTE>``)."""

    needs_passphrase: ClassVar[bool] = False
    takes_ws_api_url: ClassVar[bool] = False

    def __init__(
        self,
        *,
        symbols: Sequence[str],
        account: AccountContext | None = None,
        ws_base_url: str = PRODUCTION_WS_URL,
        rest_base_url: str = PRODUCTION_REST_URL,
        catalog: Catalog | None = None,
    ) -> None:
        self._start_session(NAME, symbols, _SYMBOL, account, catalog, listed_only=True,
                            streams=market_and_private)
        self._ws = ws_base_url.rstrip("/")
        self._rest = rest_base_url.rstrip("/")
        self._quotes: dict[str, _Quote] = {}
        self._position_mode: int | None = None
        self._book = PositionBook(self._side_of)
        self._logged_in = False
        self._risk_limits: dict[tuple[str, Side], RiskLimit] = {}
        self._handlers: dict[str, Callable[[JsonObject, JsonObject, int], Parsed]] = {
            "push.fair.price": self._fair_price,
            "push.index.price": self._index_price,
            "push.funding.rate": self._funding_rate,
            "push.ticker": self._ticker,
            "push.personal.position": self._position,
            "push.personal.asset": self._asset,
            "push.personal.risk.limit": self._risk_limit,
            "push.personal.position.mode": self._position_mode_push,
        }

    @property
    def risk_limits(self) -> Mapping[tuple[str, Side], RiskLimit]:
        """The latest risk-limit tier per (symbol, side) pushed on the private stream."""
        return MappingProxyType(self._risk_limits)

    # -- connection -----------------------------------------------------------------------------

    def connect_plan(self, stream: str, now_ms: int, setup_response: bytes | None) -> StreamPlan:  # noqa: ARG002 -- Venue protocol
        """Market: fair/index/funding subscriptions. Private: the signed login frame. Both ping."""
        self._check_stream(stream)
        if stream == MARKET:
            on_open = tuple(
                dump_json({"method": f"sub.{topic}", "param": {"symbol": symbol}, "gzip": False})
                for symbol in self._symbols
                for topic in _PRICE_TOPICS
            )
        else:
            on_open = (self._login_frame(now_ms),)
        return StreamPlan(
            url=self._ws, on_open=on_open, ping_frame=PING_FRAME,
            ping_interval_s=PING_INTERVAL_S, stale_after_s=STALE_AFTER_S,
        )

    def reset(self, stream: str) -> None:
        """Market: forget the merged fair/index/funding. Private: forget the legs (resync rebuilds)."""
        self._check_stream(stream)
        if stream == MARKET:
            self._quotes.clear()
        else:
            self._book.clear()
            self._logged_in = False

    def keepalive_request(self, stream: str, now_ms: int) -> HttpRequest | None:  # noqa: ARG002 -- Venue protocol
        """None: the websocket ping keeps both streams alive."""
        self._check_stream(stream)
        return None

    def resync_requests(self, now_ms: int) -> tuple[HttpRequest, ...]:
        """Signed positions and assets (with an account); public funding rate per symbol."""
        requests: list[HttpRequest] = []
        if self._credentials is not None:
            requests.append(self._signed(POSITIONS_PATH, PURPOSE_POSITIONS, now_ms))
            requests.append(self._signed(ASSETS_PATH, PURPOSE_BALANCES, now_ms))
        requests.extend(
            HttpRequest(
                method="GET", base_url=self._rest, path=FUNDING_RATE_PATH + symbol,
                purpose=PURPOSE_FUNDING_RATE,
            )
            for symbol in self._symbols
        )
        return tuple(requests)

    # -- frames ---------------------------------------------------------------------------------

    def parse(self, stream: str, frame: str | bytes, receive_ms: int) -> Parsed:
        """Read one frame of the market or private stream."""
        self._check_stream(stream)
        with frame_errors(NAME):
            obj = as_object(load_json(inflate(frame), NAME), "frame")
            channel = text(obj, "channel", "frame")
            if channel == "pong":
                return Parsed(kind=FrameKind.PONG)
            if channel == "rs.error":
                if stream == PRIVATE and not self._logged_in:
                    # MEXC refuses a login on rs.error: without a session the private stream is
                    # deaf, so start again rather than idle (the reply is not a dead letter).
                    return Parsed(reconnect_reason=f"login failed ({str(obj.get('data'))[:100]!r})")
                raise FrameError(f"{NAME}: error reply ({str(obj.get('data'))[:200]!r})")
            if channel == "rs.login":
                if obj.get("data") == "success":
                    self._logged_in = True
                    return Parsed(kind=FrameKind.ACK)
                return Parsed(reconnect_reason=f"login failed ({str(obj.get('data'))[:100]!r})")
            if channel.startswith("rs."):
                if obj.get("data", "success") != "success":
                    raise FrameError(f"{NAME}: {channel[:60]} failed ({str(obj.get('data'))[:200]!r})")
                return Parsed(kind=FrameKind.ACK)
            handler = self._handlers.get(channel)
            if handler is None:
                return Parsed(kind=FrameKind.IGNORED)
            return handler(as_object(required(obj, "data", channel), f"{channel} data"), obj, receive_ms)

    # -- market ---------------------------------------------------------------------------------

    def _fair_price(self, data: JsonObject, obj: JsonObject, receive_ms: int) -> Parsed:
        """``push.fair.price`` ``{"price":..,"symbol":..}``: the mark price."""
        symbol = text(data, "symbol", "fair price")
        self._quote(symbol).mark = number(data, "price", "fair price")
        return self._price_event(symbol, obj, receive_ms)

    def _index_price(self, data: JsonObject, obj: JsonObject, receive_ms: int) -> Parsed:
        """``push.index.price`` ``{"price":..,"symbol":..}``."""
        symbol = text(data, "symbol", "index price")
        self._quote(symbol).index = number(data, "price", "index price")
        return self._price_event(symbol, obj, receive_ms)

    def _funding_rate(self, data: JsonObject, obj: JsonObject, receive_ms: int) -> Parsed:
        """``push.funding.rate`` ``{"rate":..,"symbol":..[,"nextSettleTime":..]}``."""
        symbol = text(data, "symbol", "funding rate")
        quote = self._quote(symbol)
        key = "rate" if "rate" in data else "fundingRate"
        quote.funding_rate = number(data, key, "funding rate")
        quote.next_funding_ms = (
            optional_time_ms(data, "nextSettleTime", "funding rate") or quote.next_funding_ms
        )
        return self._price_event(symbol, obj, receive_ms)

    def _ticker(self, data: JsonObject, obj: JsonObject, receive_ms: int) -> Parsed:
        """``push.ticker`` with ``fairPrice``, ``indexPrice`` and ``fundingRate``."""
        symbol = text(data, "symbol", "ticker")
        quote = self._quote(symbol)
        quote.mark = number(data, "fairPrice", "ticker")
        quote.index = optional_number(data, "indexPrice", "ticker")
        quote.funding_rate = optional_number(data, "fundingRate", "ticker")
        return self._price_event(symbol, obj, receive_ms)

    def _quote(self, symbol: str) -> _Quote:
        return self._quotes.setdefault(symbol, _Quote())

    def _price_event(self, symbol: str, obj: JsonObject, receive_ms: int) -> Parsed:
        quote = self._quotes[symbol]
        if quote.mark is None:
            return Parsed()
        ts = time_ms(obj, "ts", "push")
        next_funding = quote.next_funding_ms
        if next_funding is not None and next_funding < ts:
            next_funding = None  # a remembered settle time that has passed is no longer "next"
        event = PriceEvent(
            instrument=f"{NAME}:{symbol}",
            mark=quote.mark,
            index=quote.index,
            funding_rate=quote.funding_rate,
            next_funding_ms=next_funding,
            ts_event_ms=ts,
            ts_receive_ms=receive_ms,
        )
        return Parsed(events=(event,))

    # -- account --------------------------------------------------------------------------------

    def _position(self, data: JsonObject, obj: JsonObject, receive_ms: int) -> Parsed:
        """``push.personal.position``: one leg, full state (``state`` 3 = closed)."""
        account = self._require_account()
        ts = time_ms(obj, "ts", "position")
        published = self._book.apply([_position_leg(data)])
        return Parsed(events=tuple(position_events(account, NAME, published, ts, receive_ms)))

    def _asset(self, data: JsonObject, obj: JsonObject, receive_ms: int) -> Parsed:
        """``push.personal.asset`` ``{"currency","availableBalance","frozenBalance","positionMargin",
        "bonus"}``."""
        account = self._require_account()
        return Parsed(events=(_balance(account, data, time_ms(obj, "ts", "asset"), receive_ms),))

    def _risk_limit(self, data: JsonObject, obj: JsonObject, receive_ms: int) -> Parsed:  # noqa: ARG002 -- handler signature
        """``push.personal.risk.limit``: remembered in ``risk_limits``; no event."""
        limit = _risk_limit(data)
        self._risk_limits[(limit.symbol, limit.side)] = limit
        return Parsed()

    def _position_mode_push(self, data: JsonObject, obj: JsonObject, receive_ms: int) -> Parsed:
        """``push.personal.position.mode`` ``{"positionMode":1|2}`` (1 hedge, 2 one-way): a change
        of the leg mapping publishes the known legs again (closed under their former side)."""
        mode = integer(data, "positionMode", "position mode")
        if mode not in (_HEDGE, _ONE_WAY):
            raise FrameError(f"{NAME}: positionMode must be 1 or 2, got {mode}")
        ts = time_ms(obj, "ts", "position mode")
        was_one_way = self._position_mode == _ONE_WAY
        self._position_mode = mode
        if was_one_way == (mode == _ONE_WAY) or self._account is None:
            return Parsed()
        published = self._book.refresh()
        return Parsed(events=tuple(position_events(self._account, NAME, published, ts, receive_ms)))

    def _side_of(self, key: str) -> PositionSide:
        """The canonical leg of a ``long``/``short`` key: itself in hedge mode, one-way otherwise."""
        return "one_way" if self._position_mode == _ONE_WAY else _LEG_SIDES[key]

    # -- resync ---------------------------------------------------------------------------------

    def parse_resync(self, request: HttpRequest, body: bytes, receive_ms: int) -> tuple[Event, ...]:
        """Positions and assets → full-state events; the funding rate is remembered for prices."""
        with frame_errors(NAME):
            data = _rest_data(inflate(body), request.purpose)
            if request.purpose == PURPOSE_POSITIONS:
                account = self._require_account()
                rows = as_list(data if data is not None else [], "open_positions data")
                legs = [_position_leg(as_object(row, "position")) for row in rows]
                published = self._book.load(legs, also=self._symbols)
                return tuple(position_events(account, NAME, published, receive_ms, receive_ms))
            if request.purpose == PURPOSE_BALANCES:
                account = self._require_account()
                rows = [data] if isinstance(data, dict) else as_list(data, "assets data")
                return tuple(
                    _balance(account, as_object(row, "asset"), receive_ms, receive_ms)
                    for row in rows
                )
            if request.purpose == PURPOSE_FUNDING_RATE:
                funding = as_object(data, "funding rate data")
                quote = self._quote(text(funding, "symbol", "funding rate"))
                quote.funding_rate = number(funding, "fundingRate", "funding rate")
                quote.next_funding_ms = optional_time_ms(funding, "nextSettleTime", "funding rate")
                return ()
        raise FrameError(f"{NAME}: unknown resync purpose {request.purpose!r}")

    # -- helpers --------------------------------------------------------------------------------

    def _login_frame(self, now_ms: int) -> Redacted:
        """``{"method":"login","param":{"apiKey","reqTime","signature"}}`` (MEXC websocket "Login")."""
        credentials = self._require_credentials()
        key = api_key(credentials)
        request_time = str(now_ms)
        signature = sign(credentials.api_secret, key, request_time)
        login = {"method": "login", "param": {"apiKey": key, "reqTime": request_time, "signature": signature}}
        return Redacted(dump_json(login))

    def _signed(self, path: str, purpose: str, now_ms: int) -> HttpRequest:
        """A GET signed per MEXC "Authentication method" (no business parameters)."""
        credentials = self._require_credentials()
        key = api_key(credentials)
        request_time = str(now_ms)
        signature = sign(credentials.api_secret, key, request_time, query_string(()))
        return HttpRequest(
            method="GET", base_url=self._rest, path=path, purpose=purpose,
            headers={
                "ApiKey": key,
                "Request-Time": request_time,
                "Signature": Redacted(signature),
                "Content-Type": "application/json",
            },
        )


def _rest_data(body: str | bytes, purpose: str) -> object:
    """``data`` of the REST envelope ``{"success":true,"code":0,"data":..}``; anything else fails."""
    envelope = as_object(load_json(body, NAME), f"{purpose} response")
    if envelope.get("success") is not True or envelope.get("code", 0) != 0:
        message = str(envelope.get("message", envelope.get("msg", "")))[:200]
        raise FrameError(
            f"{NAME}: {purpose} request failed with code {envelope.get('code')!r} ({message!r})"
        )
    return envelope.get("data")


def _side(value: object, what: str) -> Side:
    if value == 1 and not isinstance(value, bool):
        return "long"
    if value == 2:
        return "short"
    raise FrameError(f"{NAME}: {what} must be 1 (long) or 2 (short)")


def _position_leg(row: JsonObject) -> tuple[str, str, Leg]:
    """(symbol, leg key, leg) of one position push or ``open_positions`` row."""
    symbol = text(row, "symbol", "position")
    side = _side(required(row, "positionType", "position"), "position field 'positionType'")
    open_type = integer(row, "openType", "position")
    if open_type not in (1, 2):
        raise FrameError(f"{NAME}: position field 'openType' must be 1 or 2, got {open_type}")
    mode: MarginMode = "isolated" if open_type == 1 else "cross"
    volume = abs(number(row, "holdVol", "position"))
    if "state" in row and integer(row, "state", "position") == 3:
        volume = 0.0
    quantity = volume if side == "long" else -volume
    entry = 0.0
    if quantity != 0:
        precise = row.get("holdAvgPriceFullyScale")
        entry = (
            to_number(precise, "position field 'holdAvgPriceFullyScale'") if precise
            else number(row, "holdAvgPrice", "position")
        )
    isolated_margin = number(row, "im", "position") if mode == "isolated" and quantity else None
    leverage = positive_or_none(optional_number(row, "leverage", "position"))
    figures = venue_figures(liquidation_price=optional_number(row, "liquidatePrice", "position"))
    return symbol, side, Leg(quantity, entry, mode, isolated_margin, leverage, figures=figures)


def _balance(account: AccountContext, row: JsonObject, ts_event_ms: int, receive_ms: int) -> Event:
    """Wallet balance = availableBalance + frozenBalance + positionMargin (module docstring)."""
    wallet = (
        Decimal(str(number(row, "availableBalance", "asset")))
        + Decimal(str(optional_number(row, "frozenBalance", "asset") or 0.0))
        + Decimal(str(optional_number(row, "positionMargin", "asset") or 0.0))
    )
    return balance_event(
        account, text(row, "currency", "asset"), float(wallet), ts_event_ms, receive_ms
    )


def _risk_limit(row: JsonObject) -> RiskLimit:
    return RiskLimit(
        symbol=text(row, "symbol", "risk limit"),
        side=_side(required(row, "positionType", "risk limit"), "risk limit field 'positionType'"),
        level=integer(row, "level", "risk limit"),
        max_volume=number(row, "maxVol", "risk limit"),
        mmr=number(row, "mmr", "risk limit"),
        imr=number(row, "imr", "risk limit"),
        max_leverage=positive_or_none(optional_number(row, "maxLeverage", "risk limit")),
    )


# -- contract terms (pure parse functions) ----------------------------------------------------


def _detail_rows(body: bytes) -> list[JsonObject]:
    data = _rest_data(body, "contract detail")
    rows = [data] if isinstance(data, dict) else as_list(data, "contract detail data")
    return [as_object(row, "contract") for row in rows]


def parse_contract_detail(body: bytes) -> dict[str, dict[str, Any]]:
    """Catalog overrides from ``GET /api/v1/contract/detail``.

    ``contractSize`` (base coin per contract) is the catalog contract size; ``volUnit`` the lot step
    and ``minVol`` the minimum, both in contracts; fees ``takerFeeRate``/``makerFeeRate``. Tiers are
    left out: MEXC's are by volume (``risk_tiers``, ``notional_tiers``).
    """
    with frame_errors(NAME):
        return {
            f"{NAME}:{text(row, 'symbol', 'contract')}": {
                "kind": "linear",
                "base": text(row, "baseCoin", "contract"),
                "quote": text(row, "quoteCoin", "contract"),
                "settle": "USD",
                "contract_size": number(row, "contractSize", "contract"),
                "lot_step": number(row, "volUnit", "contract"),
                "min_quantity": number(row, "minVol", "contract"),
                "taker_fee": number(row, "takerFeeRate", "contract"),
                "maker_fee": number(row, "makerFeeRate", "contract"),
            }
            for row in _detail_rows(body)
        }


def risk_tiers(body: bytes) -> dict[str, tuple[VolumeTier, ...]]:
    """MEXC risk levels per symbol from ``GET /api/v1/contract/detail``.

    Level ``n`` (1..``riskLevelLimit``) allows ``riskBaseVol + (n-1) * riskIncrVol`` contracts at
    ``mmr = maintenanceMarginRate + (n-1) * riskIncrMmr`` and ``imr = initialMarginRate + (n-1) *
    riskIncrImr``, max leverage ``1 / imr`` (MEXC "Get the contract information" field table;
    level 1 matches the account ``risk_limit`` response: 150000 contracts, mmr 0.004, imr 0.008,
    leverage 125). ccxt instead steps by ``riskIncrVol`` up to ``maxVol``; both agree here.
    """
    with frame_errors(NAME):
        result: dict[str, tuple[VolumeTier, ...]] = {}
        for row in _detail_rows(body):
            symbol = text(row, "symbol", "contract")
            levels = integer(row, "riskLevelLimit", "contract")
            if not 1 <= levels <= MAX_LIST_ITEMS:
                raise FrameError(f"{NAME}: {symbol} riskLevelLimit {levels} is out of range")
            base, step = _decimal(row, "riskBaseVol"), _decimal(row, "riskIncrVol")
            mmr, mmr_step = _decimal(row, "maintenanceMarginRate"), _decimal(row, "riskIncrMmr")
            imr, imr_step = _decimal(row, "initialMarginRate"), _decimal(row, "riskIncrImr")
            if base <= 0 or step < 0 or imr <= 0 or mmr < 0 or mmr_step < 0 or imr_step < 0:
                raise FrameError(f"{NAME}: {symbol} risk parameters must be positive")
            result[symbol] = tuple(
                VolumeTier(
                    level=n + 1,
                    max_volume=float(base + n * step),
                    mmr=float(mmr + n * mmr_step),
                    imr=float(imr + n * imr_step),
                    max_leverage=float(1 / (imr + n * imr_step)),
                )
                for n in range(levels)
            )
        return result


def _decimal(row: JsonObject, key: str) -> Decimal:
    return Decimal(str(number(row, key, "contract")))


def notional_tiers(
    tiers: Sequence[VolumeTier], contract_size: float, price: float
) -> list[dict[str, float]]:
    """Volume tiers as catalog tiers (quote notional) at one price: ``cap_n = maxVol_n * cs * P``.

    The boundaries move with the price: refresh them when the price moves materially.
    """
    if not (contract_size > 0 and price > 0):
        raise ValueError("contract size and price must be positive")
    result: list[dict[str, float]] = []
    floor = 0.0
    for tier in tiers:
        cap = tier.max_volume * contract_size * price
        result.append({"floor": floor, "cap": cap, "mmr": tier.mmr, "max_leverage": tier.max_leverage})
        floor = cap
    return result


def parse_risk_limits(body: bytes) -> tuple[RiskLimit, ...]:
    """The account's risk-limit tiers from ``GET /api/v1/private/account/risk_limit``."""
    with frame_errors(NAME):
        data = as_object(_rest_data(body, "risk limit"), "risk limit data")
        if len(data) > MAX_LIST_ITEMS:
            raise FrameError(f"{NAME}: risk limit data has more than {MAX_LIST_ITEMS} symbols")
        return tuple(
            _risk_limit(as_object(row, "risk limit"))
            for rows in data.values()
            for row in as_list(rows, "risk limit rows")
        )


__all__ = [
    "CONTRACT_DETAIL_PATH", "PING_FRAME", "PRODUCTION_REST_URL", "PRODUCTION_WS_URL",
    "RISK_LIMIT_PATH", "MexcContract", "RiskLimit", "VolumeTier", "inflate", "notional_tiers",
    "parse_contract_detail", "parse_risk_limits", "risk_tiers", "sign", "signature_payload",
]


MexcContract.listing_path = CONTRACT_DETAIL_PATH
MexcContract.listing_parser = staticmethod(parse_contract_detail)
