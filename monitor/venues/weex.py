"""WEEX futures: mark/index prices, positions and balances as canonical events (V3, V2 tolerated).

Sources: WEEX contract API V2 docs (www.weex.com/api-doc/contract/Websocket/..., official); V3 REST
catalog (official, weex-labs "Generated from live V3 docs"); the V3 *websocket* framing is known
only from third-party code (ccxt ``pro/weex.ts``, JKorf/Weex.Net), no official V3 websocket page
was found; exchange-wire-formats-bingx-mexc-weex.md §3.

Websocket ``wss://ws-contract.weex.com/v3/ws/public`` and ``.../v3/ws/private`` (``api_version="v3"``,
the default; ``"v2"`` uses ``/v2/ws/...`` and the V2 framing)
    * Subscribe V3 ``{"method":"SUBSCRIBE","params":["BTCUSDT@ticker"],"id":1}``, ack
      ``{"result":true,"id":1}``, error ``{"result":false,"id":1,"msg":".."}`` (a FrameError).
      V2 ``{"event":"subscribe","channel":"ticker.cmt_btcusdt"}``, ack ``{"event":"subscribed",..}``.
    * Heartbeat: the server sends ``{"event":"ping","time":"<ms>"}`` (private V3:
      ``{"type":"ping",..}``). V3 answers ``{"id":"<n>","method":"PONG"}`` (ccxt, Weex.Net); V2
      answers ``{"event":"pong","time":"<same>"}`` (V2 docs; five unanswered pings disconnect).
    * Private authentication is in the handshake headers (``StreamPlan.additional_headers``):
      ``ACCESS-KEY``, ``ACCESS-PASSPHRASE``, ``ACCESS-TIMESTAMP`` (ms, valid 30 s) and
      ``ACCESS-SIGN`` = Base64(HMAC-SHA256(secret, timestamp + "/v3/ws/private")) (V2 docs; V3 path
      per ccxt). No User-Agent is added: the websocket client sends its own.
    * Ticker V3 ``{"e":"ticker","E":..,"s":"ETHUSDT","d":[{..,"m":"2045.91","i":"2047.2225"}]}``
      (``m`` mark, ``i`` index); V2 ``{"event":"payload","channel":"ticker.cmt_btcusdt","data":[{
      "symbol":"cmt_btcusdt","markPrice":..}]}`` has no index and no time (receive time is used).
      There is no funding stream: ``GET /capi/v3/market/premiumIndex`` (``markPrice``,
      ``indexPrice``, ``lastFundingRate``, ``nextFundingTime``, ``time``) is polled as the market
      stream's keepalive request (the supervisor hands its response to ``parse_resync``, which
      emits PriceEvents) and in the resync; its funding (and, for V2, index) ride on later ticker
      events for at most ``REST_QUOTE_MAX_AGE_MS`` of receive time.
    * Positions V3 ``{"e":"positions","E":..,"v":..,"d":[{..}]}`` (Weex.Net's fixture says
      ``position``: both are read); V2 ``{"channel":"positions","event":"payload","msg":{"data":{
      "position":[{..}]},"time":..}}``. Items: ``symbol`` (V3) or ``contractId`` ``cmt_btcusdt``
      (V2, mapped to ``BTCUSDT``), ``side`` LONG/SHORT, ``marginMode`` CROSSED/ISOLATED (V2
      SHARED = cross; REST calls it ``marginType``), ``separatedMode`` COMBINED/SEPARATED,
      ``leverage``, ``size`` in base coin, ``openValue``, ``isolatedMargin``.
    * Account V3 ``{"e":"account","d":[..]}`` / V2 ``msg.data.collateral[]`` is a collateral ledger
      (``amount`` plus cumulative ``cum*`` totals) without a wallet or available balance, and the
      sources disagree on what ``amount`` is (ccxt reads it as *free*), so an account push emits
      nothing and asks for a resync (``Parsed.resync``): balances come from REST.

Conversions
    * Quantities are base-coin ``size`` (``contractVal`` is only the lot step: ccxt's
      ``parsePosition`` does not multiply), so contracts = coin with the catalog's size 1,
      negative for SHORT. Entry price = ``openValue / size`` (ccxt; the push has no entry field).
    * ``isolated_margin`` = ``isolatedMargin`` of ISOLATED legs, taken as margin excluding
      unrealised PnL (the push carries no PnL at all; unverified).
    * Legs: WEEX's pages show only ``side`` LONG/SHORT (no one-way mode was found), so every
      position is a hedge-mode leg, ``position_side`` "long" or "short" (the short quantity
      negative), each published on its own. Legs are kept per (symbol, side), or per position
      ``id`` in SEPARATED mode (one position per opening order), whose positions of one side are
      netted into that side's leg (``_common.net_legs``). A closed position's push is
      undocumented: ``size`` 0 is read as closed, and the REST resync (full state) corrects
      anything else.

Docs versus samples: the V2 field tables say ``isAutoAppendIsolatedMargin`` and ``isLiquidating``
where the samples have ``autoAppendIsolatedMargin`` and ``liquidating``; neither is used here, and
where a used field differs between tables, samples and REST (``marginMode``/``marginType``,
``positions``/``position``, ``coinId``/``coin``, ``contractId``/``symbol``) the samples are
followed and both spellings accepted.

REST (``https://api-contract.weex.com``): headers ``ACCESS-KEY``, ``ACCESS-PASSPHRASE``,
``ACCESS-TIMESTAMP``, ``ACCESS-SIGN`` = Base64(HMAC-SHA256(secret, timestamp + METHOD + path
[+ "?" + query] + body)) (WEEX "Signature"). Resync: ``GET /capi/v3/account/position/allPosition``
(full state: symbols that were open, or are configured, but are absent are emitted with quantity
0) and ``GET /capi/v3/account/balance`` (``balance`` = wallet balance). REST events carry the
receive time (premiumIndex: its ``time``). ``parse_exchange_info`` (``GET
/capi/v3/market/exchangeInfo``) gives catalog overrides; WEEX documents no maintenance-margin tiers.

The venue's own liquidation price ``liquidatePrice`` of ``allPosition`` (``"0"``: none)
is the leg's ``venue_liquidation_price`` (docs/venue-fields.md); a value <= 0 is unknown.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
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
    load_json,
    margin_mode,
    market_and_private,
    number,
    objects,
    optional_number,
    optional_time_ms,
    position_events,
    positive_or_none,
    required,
    text,
    time_ms,
    venue_figures,
)
from monitor.venues.base import (
    AccountContext,
    FrameError,
    FrameKind,
    HttpRequest,
    Parsed,
    StreamPlan,
)
from monitor.venues.listings.guide import GuideListings
from monitor.venues.signing import Redacted, api_key, hmac_sha256_base64, passphrase

NAME = "weex"
PRODUCTION_WS_URL = "wss://ws-contract.weex.com"
PRODUCTION_REST_URL = "https://api-contract.weex.com"
MARKET = "market"
PRIVATE = "private"

POSITIONS_PATH = "/capi/v3/account/position/allPosition"
BALANCE_PATH = "/capi/v3/account/balance"
PREMIUM_INDEX_PATH = "/capi/v3/market/premiumIndex"
EXCHANGE_INFO_PATH = "/capi/v3/market/exchangeInfo"

PURPOSE_POSITIONS = "positions"
PURPOSE_BALANCES = "balances"
PURPOSE_PREMIUM_INDEX = "premiumIndex"

# Funding (and the V2 index) come from premiumIndex polls; merge them for at most this long.
PREMIUM_INDEX_POLL_S = 30.0
REST_QUOTE_MAX_AGE_MS = 120_000
# The ping interval is undocumented; the private stream can be quiet between pings.
STALE_AFTER_S = 90.0

ApiVersion = Literal["v3", "v2"]

_SYMBOL = r"[A-Z0-9]{2,30}"
_V2_PREFIX = "cmt_"
_SIDES: dict[str, PositionSide] = {"LONG": "long", "SHORT": "short"}
_POSITION_EVENTS = frozenset({"positions", "position"})


def sign(secret: Secret, payload: str) -> str:
    """WEEX signature: Base64(HMAC-SHA256(secret, payload)) (WEEX API "Signature")."""
    return hmac_sha256_base64(secret, payload)


def rest_payload(timestamp: str, method: str, path: str, query: str = "", body: str = "") -> str:
    """``timestamp + METHOD + path [+ "?" + query] + body`` (WEEX API "Signature")."""
    return f"{timestamp}{method.upper()}{path}{'?' + query if query else ''}{body}"


def websocket_payload(timestamp: str, path: str) -> str:
    """``timestamp + path`` of the private websocket, e.g. ``1700000000000/v3/ws/private``."""
    return f"{timestamp}{path}"


def v3_symbol(symbol: str) -> str:
    """``cmt_btcusdt`` (V2 contract id) → ``BTCUSDT``; V3 symbols are returned unchanged."""
    if symbol.startswith(_V2_PREFIX):
        return symbol[len(_V2_PREFIX):].upper()
    return symbol


@dataclass(frozen=True, slots=True)
class _RestQuote:
    """Index and funding of the last premiumIndex response of one symbol."""

    index: float | None
    funding_rate: float | None
    next_funding_ms: int | None
    received_ms: int


class WeexFutures(GuideListings, VenueSession):
    """WEEX USDT-margined perpetual futures venue (instrument ids ``weex:<BASE><QUOTE>``)."""

    needs_passphrase: ClassVar[bool] = True  # ACCESS-PASSPHRASE (WEEX contract API V2 docs)
    takes_ws_api_url: ClassVar[bool] = False

    def __init__(
        self,
        *,
        symbols: Sequence[str],
        account: AccountContext | None = None,
        ws_base_url: str = PRODUCTION_WS_URL,
        rest_base_url: str = PRODUCTION_REST_URL,
        catalog: Catalog | None = None,
        api_version: ApiVersion = "v3",
    ) -> None:
        if api_version not in ("v3", "v2"):
            raise ValueError(f"{NAME}: api_version must be 'v3' or 'v2', got {api_version!r}")
        self._start_session(NAME, symbols, _SYMBOL, account, catalog, listed_only=True,
                            streams=market_and_private)
        if self._credentials is not None:
            passphrase(self._credentials)  # WEEX signs with a passphrase: fail at startup
        self._version: ApiVersion = api_version
        self._ws = ws_base_url.rstrip("/")
        self._rest = rest_base_url.rstrip("/")
        self._book = PositionBook(_side_of)
        self._quotes: dict[str, _RestQuote] = {}
        self._request_id = 0
        self._handlers: dict[str, Callable[[JsonObject, int], Parsed]] = {
            "ticker": self._v3_ticker,
            "positions": self._v3_positions,
            "position": self._v3_positions,
            "account": self._account_push,
        }

    def __repr__(self) -> str:
        account = self._account.account if self._account else None
        return f"WeexFutures(symbols={self._symbols!r}, account={account!r}, api={self._version!r})"

    # -- connection -----------------------------------------------------------------------------

    def connect_plan(self, stream: str, now_ms: int, setup_response: bytes | None) -> StreamPlan:  # noqa: ARG002 -- Venue protocol
        """Market: ticker subscriptions, premiumIndex polled as keepalive. Private: signed
        handshake headers, then positions and account subscriptions."""
        self._check_stream(stream)
        path = f"/{self._version}/ws/{'public' if stream == MARKET else 'private'}"
        if stream == MARKET:
            if self._version == "v3":
                channels = [f"{symbol}@ticker" for symbol in self._symbols]
                on_open: tuple[str, ...] = (self._v3_subscribe(channels),)
            else:
                on_open = tuple(
                    dump_json({"event": "subscribe", "channel": f"ticker.{_v2_id(symbol)}"})
                    for symbol in self._symbols
                )
            return StreamPlan(
                url=self._ws + path, on_open=on_open, ping_frame=None,
                stale_after_s=STALE_AFTER_S, keepalive_interval_s=PREMIUM_INDEX_POLL_S,
            )
        if self._version == "v3":
            on_open = (self._v3_subscribe(["positions"]), self._v3_subscribe(["account"]))
        else:
            on_open = tuple(
                dump_json({"event": "subscribe", "channel": channel})
                for channel in ("positions", "account")
            )
        return StreamPlan(
            url=self._ws + path, on_open=on_open, ping_frame=None, stale_after_s=STALE_AFTER_S,
            additional_headers=self._signed_headers(websocket_payload(str(now_ms), path), now_ms),
        )

    def reset(self, stream: str) -> None:
        """Private: forget the legs (the resync rebuilds them). REST quotes are market state."""
        self._check_stream(stream)
        if stream == PRIVATE:
            self._book.clear()

    def keepalive_request(self, stream: str, now_ms: int) -> HttpRequest | None:  # noqa: ARG002 -- Venue protocol
        """Market: the premiumIndex poll. Private: none (server pings keep it alive)."""
        self._check_stream(stream)
        return self._premium_index_request() if stream == MARKET else None

    def resync_requests(self, now_ms: int) -> tuple[HttpRequest, ...]:
        """Signed positions and balance (with an account), and premiumIndex."""
        requests: list[HttpRequest] = []
        if self._credentials is not None:
            requests.append(self._signed_get(POSITIONS_PATH, PURPOSE_POSITIONS, now_ms))
            requests.append(self._signed_get(BALANCE_PATH, PURPOSE_BALANCES, now_ms))
        if self._symbols:
            requests.append(self._premium_index_request())
        return tuple(requests)

    # -- frames ---------------------------------------------------------------------------------

    def parse(self, stream: str, frame: str | bytes, receive_ms: int) -> Parsed:
        """Read one V3 or V2 frame of the market or private stream."""
        self._check_stream(stream)
        with frame_errors(NAME):
            obj = as_object(load_json(frame, NAME), "frame")
            if obj.get("event") == "ping" or obj.get("type") == "ping":
                return self._pong(obj)
            if obj.get("event") == "pong" or obj.get("method") == "PONG":
                return Parsed(kind=FrameKind.PONG)
            if "result" in obj:
                if obj["result"] is True:
                    return Parsed(kind=FrameKind.ACK)
                raise FrameError(f"{NAME}: request rejected ({str(obj.get('msg', ''))[:200]!r})")
            if "e" in obj:
                handler = self._handlers.get(text(obj, "e", "push"))
                return handler(obj, receive_ms) if handler else Parsed(kind=FrameKind.IGNORED)
            event = obj.get("event")
            if event == "subscribed":
                return Parsed(kind=FrameKind.ACK)
            if event == "error":
                raise FrameError(f"{NAME}: error frame ({str(obj.get('msg', ''))[:200]!r})")
            if event == "payload" or obj.get("type") == "trade-event":
                return self._v2_payload(obj, receive_ms)
        raise FrameError(f"{NAME}: unrecognised frame (no event, e, result or method)")

    def _pong(self, ping: JsonObject) -> Parsed:
        if self._version == "v2":
            reply = dump_json({"event": "pong", "time": ping.get("time")})
        else:
            self._request_id += 1
            reply = dump_json({"id": str(self._request_id), "method": "PONG"})
        return Parsed(kind=FrameKind.PING, replies=(reply,))

    def _v2_payload(self, obj: JsonObject, receive_ms: int) -> Parsed:
        channel = text(obj, "channel", "payload")
        if channel.startswith("ticker."):
            items = objects(obj, "data", "V2 ticker")
            events = [
                self._price_event(
                    v3_symbol(text(item, "symbol", "V2 ticker")),
                    mark=number(item, "markPrice", "V2 ticker"),
                    index=None,
                    ts_event_ms=receive_ms,
                    receive_ms=receive_ms,
                )
                for item in items
            ]
            return Parsed(events=tuple(events))
        if channel == "positions":
            message = as_object(required(obj, "msg", "V2 positions"), "V2 positions.msg")
            data = as_object(required(message, "data", "V2 positions.msg"), "V2 positions.msg.data")
            return self._positions(
                objects(data, "position", "V2 positions.msg.data"),
                time_ms(message, "time", "V2 positions.msg"), receive_ms,
            )
        if channel == "account":
            return self._account_push(obj, receive_ms)
        return Parsed(kind=FrameKind.IGNORED)

    def _v3_ticker(self, obj: JsonObject, receive_ms: int) -> Parsed:
        """``{"e":"ticker","E":..,"s":"ETHUSDT","d":[{"m":mark,"i":index,..}]}``."""
        symbol = text(obj, "s", "ticker")
        ts = time_ms(obj, "E", "ticker")
        events = [
            self._price_event(
                symbol, mark=number(item, "m", "ticker"), index=optional_number(item, "i", "ticker"),
                ts_event_ms=ts, receive_ms=receive_ms,
            )
            for item in objects(obj, "d", "ticker")
        ]
        return Parsed(events=tuple(events))

    def _price_event(
        self, symbol: str, *, mark: float, index: float | None, ts_event_ms: int, receive_ms: int
    ) -> PriceEvent:
        quote = self._quotes.get(symbol)
        if quote is not None and receive_ms - quote.received_ms > REST_QUOTE_MAX_AGE_MS:
            quote = None
        return PriceEvent(
            instrument=f"{NAME}:{symbol}",
            mark=mark,
            index=index if index is not None else (quote.index if quote else None),
            funding_rate=quote.funding_rate if quote else None,
            next_funding_ms=quote.next_funding_ms if quote else None,
            ts_event_ms=ts_event_ms,
            ts_receive_ms=receive_ms,
        )

    def _v3_positions(self, obj: JsonObject, receive_ms: int) -> Parsed:
        """``{"e":"positions","E":..,"v":..,"msgEvent":..,"d":[position..]}``."""
        return self._positions(objects(obj, "d", "positions"), time_ms(obj, "E", "positions"), receive_ms)

    def _positions(self, items: Sequence[JsonObject], ts: int, receive_ms: int) -> Parsed:
        account = self._require_account()
        published = self._book.apply([_position_leg(item) for item in items])
        return Parsed(events=tuple(position_events(account, NAME, published, ts, receive_ms)))

    def _account_push(self, obj: JsonObject, receive_ms: int) -> Parsed:  # noqa: ARG002 -- handler signature
        """A collateral-ledger push (module docstring): no event, ask for the REST balances."""
        self._require_account()
        return Parsed(resync=True)

    # -- resync ---------------------------------------------------------------------------------

    def parse_resync(self, request: HttpRequest, body: bytes, receive_ms: int) -> tuple[Event, ...]:
        """Positions, balances or premiumIndex → full-state events."""
        with frame_errors(NAME):
            data = _rest_data(body, request.purpose)
            if request.purpose == PURPOSE_POSITIONS:
                account = self._require_account()
                legs = [_position_leg(as_object(item, "position")) for item in as_list(data, "positions")]
                published = self._book.load(legs, also=self._symbols)
                return tuple(position_events(account, NAME, published, receive_ms, receive_ms))
            if request.purpose == PURPOSE_BALANCES:
                account = self._require_account()
                return tuple(
                    balance_event(
                        account, text(row, "asset", "balance"), number(row, "balance", "balance"),
                        receive_ms, receive_ms,
                    )
                    for row in (as_object(item, "balance") for item in as_list(data, "balances"))
                )
            if request.purpose == PURPOSE_PREMIUM_INDEX:
                return self._premium_index(data, receive_ms)
        raise FrameError(f"{NAME}: unknown resync purpose {request.purpose!r}")

    def _premium_index(self, data: object, receive_ms: int) -> tuple[Event, ...]:
        """``[{"symbol","markPrice","indexPrice","lastFundingRate","nextFundingTime","time",..}]``;
        only configured symbols are emitted."""
        rows = [data] if isinstance(data, dict) else as_list(data, "premiumIndex")
        events: list[Event] = []
        for item in rows:
            row = as_object(item, "premiumIndex")
            symbol = text(row, "symbol", "premiumIndex")
            if symbol not in self._symbols:
                continue
            quote = _RestQuote(
                index=optional_number(row, "indexPrice", "premiumIndex"),
                funding_rate=optional_number(row, "lastFundingRate", "premiumIndex"),
                next_funding_ms=optional_time_ms(row, "nextFundingTime", "premiumIndex"),
                received_ms=receive_ms,
            )
            self._quotes[symbol] = quote
            events.append(PriceEvent(
                instrument=f"{NAME}:{symbol}",
                mark=number(row, "markPrice", "premiumIndex"),
                index=quote.index,
                funding_rate=quote.funding_rate,
                next_funding_ms=quote.next_funding_ms,
                ts_event_ms=optional_time_ms(row, "time", "premiumIndex") or receive_ms,
                ts_receive_ms=receive_ms,
            ))
        return tuple(events)

    def _premium_index_request(self) -> HttpRequest:
        query = (("symbol", self._symbols[0]),) if len(self._symbols) == 1 else ()
        return HttpRequest(
            method="GET", base_url=self._rest, path=PREMIUM_INDEX_PATH,
            purpose=PURPOSE_PREMIUM_INDEX, query=query,
        )

    # -- helpers --------------------------------------------------------------------------------

    def _v3_subscribe(self, channels: list[str]) -> str:
        self._request_id += 1
        return dump_json({"method": "SUBSCRIBE", "params": channels, "id": self._request_id})

    def _signed_headers(self, payload: str, now_ms: int) -> dict[str, str]:
        """WEEX access headers for one signed payload (REST request or websocket handshake)."""
        credentials = self._require_credentials()
        return {
            "ACCESS-KEY": api_key(credentials),
            "ACCESS-PASSPHRASE": passphrase(credentials),
            "ACCESS-TIMESTAMP": str(now_ms),
            "ACCESS-SIGN": Redacted(sign(credentials.api_secret, payload)),
        }

    def _signed_get(self, path: str, purpose: str, now_ms: int) -> HttpRequest:
        headers = self._signed_headers(rest_payload(str(now_ms), "GET", path), now_ms)
        headers["Content-Type"] = "application/json"
        return HttpRequest(
            method="GET", base_url=self._rest, path=path, purpose=purpose, headers=headers,
        )


def _side_of(key: str) -> PositionSide:
    """The canonical leg of a ``LONG``/``SHORT`` (or ``SIDE:id``) key, checked by ``_position_leg``."""
    return _SIDES[key.partition(":")[0]]


def _v2_id(symbol: str) -> str:
    return f"{_V2_PREFIX}{symbol.lower()}"


def _rest_data(body: str | bytes, purpose: str) -> object:
    """V3 REST returns bare JSON (an array for positions, balances and premiumIndex); an error is
    ``{"code":..,"msg":..}``, and a ``{"code":"00000","data":..}`` envelope is unwrapped."""
    payload = load_json(body, NAME)
    if isinstance(payload, dict) and "code" in payload:
        if payload["code"] not in (0, "0", "00000", 200, "200") or "data" not in payload:
            message = str(payload.get("msg", ""))[:200]
            raise FrameError(
                f"{NAME}: {purpose} request failed with code {payload['code']!r} ({message!r})"
            )
        return payload["data"]
    return payload


def _position_leg(item: JsonObject) -> tuple[str, str, Leg]:
    """(symbol, leg key, leg) of one position of a V3/V2 push or the allPosition response."""
    symbol = v3_symbol(text(item, "symbol" if "symbol" in item else "contractId", "position"))
    side = text(item, "side", "position")
    if side not in _SIDES:
        raise FrameError(f"{NAME}: position side must be LONG or SHORT, got {side[:10]!r}")
    mode = _margin_mode(item)
    size = abs(number(item, "size", "position"))
    quantity = size if side == "LONG" else -size
    entry = number(item, "openValue", "position") / size if size else 0.0
    isolated_margin = (
        optional_number(item, "isolatedMargin", "position") if mode == "isolated" and size else None
    )
    leverage = positive_or_none(optional_number(item, "leverage", "position"))
    key = side
    if item.get("separatedMode") == "SEPARATED":
        # one position per opening order: key by id, netted with the side's other positions
        key = f"{side}:{_position_id(item)}"
    figures = venue_figures(liquidation_price=optional_number(item, "liquidatePrice", "position"))
    return symbol, key, Leg(quantity, entry, mode, isolated_margin, leverage, figures=figures)


def _position_id(item: JsonObject) -> str:
    """The position ``id``: a string in pushes, a (64-bit) JSON integer in REST."""
    value = required(item, "id", "position")
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and value.isdigit() and len(value) <= 30:
        return value
    raise FrameError(f"{NAME}: position field 'id' must be an integer id")


def _margin_mode(item: JsonObject) -> MarginMode:
    key = "marginMode" if "marginMode" in item else "marginType"
    value = text(item, key, "position")
    if value == "SHARED":
        return "cross"
    return margin_mode(value, "position")


def parse_exchange_info(body: bytes) -> dict[str, dict[str, Any]]:
    """Catalog overrides from ``GET /capi/v3/market/exchangeInfo`` (``symbols[]``).

    Sizes are in base coin (contract size 1); ``contractVal`` is the lot step and
    ``minOrderSize`` the minimum; fees ``takerFeeRate``/``makerFeeRate``. No tiers: WEEX documents
    no maintenance-margin or risk-tier endpoint.
    """
    with frame_errors(NAME):
        info = as_object(_rest_data(body, "exchangeInfo"), "exchangeInfo")
        result: dict[str, dict[str, Any]] = {}
        for row in objects(info, "symbols", "exchangeInfo"):
            symbol = text(row, "symbol", "exchangeInfo symbol")
            entry: dict[str, Any] = {
                "kind": "linear",
                "base": text(row, "baseAsset", "exchangeInfo symbol"),
                "quote": text(row, "quoteAsset", "exchangeInfo symbol"),
                "settle": "USD",
                "contract_size": 1.0,
                "lot_step": number(row, "contractVal", "exchangeInfo symbol"),
                "min_quantity": number(row, "minOrderSize", "exchangeInfo symbol"),
            }
            for wire, key in (("takerFeeRate", "taker_fee"), ("makerFeeRate", "maker_fee")):
                fee = optional_number(row, wire, "exchangeInfo symbol")
                if fee is not None:
                    entry[key] = fee
            result[f"{NAME}:{symbol}"] = entry
        return result


__all__ = [
    "EXCHANGE_INFO_PATH", "PRODUCTION_REST_URL", "PRODUCTION_WS_URL", "WeexFutures",
    "parse_exchange_info", "rest_payload", "sign", "v3_symbol", "websocket_payload",
]


WeexFutures.listing_path = EXCHANGE_INFO_PATH
WeexFutures.listing_parser = staticmethod(parse_exchange_info)
