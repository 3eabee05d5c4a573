"""Binance spot: best bid/ask mid prices and account balances through the WebSocket API.

Wire formats: exchange-wire-formats.md §2, from github.com/binance/binance-spot-api-docs
(web-socket-streams.md, user-data-stream.md, web-socket-api.md "userDataStream.subscribe.signature"
and "SIGNED request example (HMAC)", rest-api.md "Account information").

Streams:

- ``market``: ``{ws}/stream?streams=btcusdt@bookTicker/...`` (combined wrapper). Spot ``bookTicker``
  has no ``e``/``E``/``T``: it is recognised by shape and its event time is the receive time. The
  mark is the mid ``(b + a) / 2`` of best bid and ask; an event is emitted only when the mid changes
  (the stream is real-time and mostly quantity changes). Server ping frames every 20 s are answered
  by the websocket library.
- ``private`` (only with an account): the listenKey user data stream is gone since 2026-02-20; the
  WebSocket API ``{ws_api}`` (default ``wss://ws-api.binance.com:443/ws-api/v3``) is used with
  ``userDataStream.subscribe.signature``: params ``apiKey``, ``timestamp`` and ``signature`` =
  HMAC-SHA256 hex of the params sorted by name (``apiKey=..&timestamp=..``). This works with HMAC API
  keys and the standard library; ``session.logon`` + ``userDataStream.subscribe`` would need Ed25519
  keys. Events arrive wrapped ``{"subscriptionId": 0, "event": {...}}``; the legacy unwrapped form is
  accepted too. Heartbeat: the WebSocket API ``ping`` method every 20 s (its response is the pong).
- Both streams: 24 h connection limit, so ``max_connection_age_s`` is 23.5 h.

Balances (quantity = free + locked, per asset):

- ``outboundAccountPosition`` lists the changed assets with absolute ``f`` and ``l``.
- ``balanceUpdate`` carries a signed delta ``d`` with clear time ``T``. The venue keeps each asset's
  balance and the account time it reflects (``u`` of outboundAccountPosition, ``T`` of an applied
  delta, ``updateTime`` of the REST snapshot); a delta is applied only when ``T`` is later than that
  time (otherwise the absolute balance already includes it), and the full new balance is emitted.
  A delta for an asset whose balance is unknown emits nothing and asks for a resync.
- ``eventStreamTerminated`` and ``serverShutdown`` ask for a reconnect.
- Resync: signed ``GET /api/v3/account?omitZeroBalances=true``; assets reported before but absent
  now are emitted with quantity 0. REST snapshot events carry the receive time as event time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar

from monitor.domain.events import BalanceEvent, Event, PriceEvent
from monitor.domain.instruments import Catalog
from monitor.venues._common import (
    JsonObject,
    VenueSession,
    as_object,
    balance_event,
    dump_json,
    frame_errors,
    load_json,
    number,
    objects,
    text,
    time_ms,
)
from monitor.venues.base import (
    AccountContext,
    FrameError,
    FrameKind,
    HttpRequest,
    Parsed,
    StreamPlan,
)
from monitor.venues.listings.binance_spot import BinanceSpotListings
from monitor.venues.signing import (
    Redacted,
    api_key,
    hmac_sha256_hex,
    query_string,
    sorted_query_string,
)

NAME = "binance-spot"
PRODUCTION_WS_URL = "wss://stream.binance.com:9443"
PRODUCTION_WS_API_URL = "wss://ws-api.binance.com:443/ws-api/v3"
PRODUCTION_REST_URL = "https://api.binance.com"
MARKET = "market"
PRIVATE = "private"
RECV_WINDOW_MS = 5000
MAX_CONNECTION_AGE_S = 23.5 * 3600
ACCOUNT_PATH = "/api/v3/account"
SUBSCRIBE_ID = "subscribe"
PING_ID = "ping"
PING_FRAME = dump_json({"id": PING_ID, "method": "ping"})

_SYMBOL = r"[A-Z0-9]{2,30}"
_RECONNECT_EVENTS = frozenset({"eventStreamTerminated", "serverShutdown"})


class BinanceSpot(BinanceSpotListings, VenueSession):
    """Binance spot venue (instrument ids ``binance-spot:<SYMBOL>``, balances per asset)."""

    needs_passphrase: ClassVar[bool] = False
    takes_ws_api_url: ClassVar[bool] = True  # user data over the WebSocket API (module docstring)

    def __init__(
        self,
        *,
        symbols: Sequence[str],
        account: AccountContext | None = None,
        ws_base_url: str = PRODUCTION_WS_URL,
        ws_api_url: str = PRODUCTION_WS_API_URL,
        rest_base_url: str = PRODUCTION_REST_URL,
        catalog: Catalog | None = None,
    ) -> None:
        self._start_session(NAME, symbols, _SYMBOL, account, catalog)
        self._ws = ws_base_url.rstrip("/")
        self._ws_api = ws_api_url
        self._rest = rest_base_url.rstrip("/")
        self._last_mid: dict[str, float] = {}
        # asset -> (balance, account time in ms that the balance reflects)
        self._balances: dict[str, tuple[float, int]] = {}
        self._reported_assets: set[str] = set()
        self._handlers: dict[str, Callable[[JsonObject, int], Parsed]] = {
            "outboundAccountPosition": self._account_position,
            "balanceUpdate": self._balance_update,
        }

    # -- connection -----------------------------------------------------------------------------

    def connect_plan(self, stream: str, now_ms: int, setup_response: bytes | None) -> StreamPlan:  # noqa: ARG002 -- Venue protocol
        """bookTicker streams, or the WebSocket API with a signed user-data subscription."""
        self._check_stream(stream)
        if stream == MARKET:
            streams = "/".join(f"{symbol.lower()}@bookTicker" for symbol in self._symbols)
            return StreamPlan(
                url=f"{self._ws}/stream?streams={streams}",
                ping_frame=None, ping_interval_s=20.0, stale_after_s=30.0,
                max_connection_age_s=MAX_CONNECTION_AGE_S,
            )
        return StreamPlan(
            url=self._ws_api,
            on_open=(self.subscribe_frame(now_ms),),
            ping_frame=PING_FRAME, ping_interval_s=20.0, stale_after_s=60.0,
            max_connection_age_s=MAX_CONNECTION_AGE_S,
        )

    def subscribe_frame(self, now_ms: int) -> Redacted:
        """``{"id":"subscribe","method":"userDataStream.subscribe.signature","params":{"apiKey",
        "timestamp","signature"}}``, signed per the WebSocket API "SIGNED request (HMAC)" rules."""
        credentials = self._require_credentials()
        key = api_key(credentials)
        signature = hmac_sha256_hex(
            credentials.api_secret, sorted_query_string({"apiKey": key, "timestamp": str(now_ms)})
        )
        return Redacted(dump_json({
            "id": SUBSCRIBE_ID,
            "method": "userDataStream.subscribe.signature",
            "params": {"apiKey": str(key), "timestamp": now_ms, "signature": signature},
        }))

    def reset(self, stream: str) -> None:
        """Forget the last mids (market) or the balance state (private; the resync rebuilds it)."""
        self._check_stream(stream)
        if stream == MARKET:
            self._last_mid.clear()
        else:
            self._balances.clear()

    def keepalive_request(self, stream: str, now_ms: int) -> HttpRequest | None:  # noqa: ARG002 -- Venue protocol
        """None: the WebSocket API subscription needs no REST keepalive."""
        self._check_stream(stream)
        return None

    def resync_requests(self, now_ms: int) -> tuple[HttpRequest, ...]:
        """Signed ``GET /api/v3/account``; none without an account."""
        if self._credentials is None:
            return ()
        pairs = (
            ("omitZeroBalances", "true"),
            ("recvWindow", str(RECV_WINDOW_MS)),
            ("timestamp", str(now_ms)),
        )
        signature = hmac_sha256_hex(self._credentials.api_secret, query_string(pairs))
        return (HttpRequest(
            method="GET", base_url=self._rest, path=ACCOUNT_PATH, purpose="balances",
            query=(*pairs, ("signature", signature)),
            headers={"X-MBX-APIKEY": api_key(self._credentials)},
        ),)

    # -- frames ---------------------------------------------------------------------------------

    def parse(self, stream: str, frame: str | bytes, receive_ms: int) -> Parsed:
        """Read a bookTicker, a WebSocket API response or a user-data event."""
        self._check_stream(stream)
        with frame_errors(NAME):
            obj = as_object(load_json(frame, NAME), "frame")
            if "stream" in obj and "data" in obj:
                obj = as_object(obj["data"], "combined stream data")
            if "status" in obj and "id" in obj:
                return _api_response(obj)
            if "event" in obj and "subscriptionId" in obj:
                obj = as_object(obj["event"], "user data event")
            if "e" not in obj:
                if "u" in obj and "b" in obj and "a" in obj:
                    return self._book_ticker(obj, receive_ms)
                if "code" in obj:
                    raise FrameError(f"{NAME}: error response with code {obj['code']!r}")
                return Parsed(kind=FrameKind.IGNORED)
            event = text(obj, "e", "event")
            if event in _RECONNECT_EVENTS:
                return Parsed(reconnect_reason=event)
            handler = self._handlers.get(event)
            return handler(obj, receive_ms) if handler else Parsed(kind=FrameKind.IGNORED)

    def _book_ticker(self, obj: JsonObject, receive_ms: int) -> Parsed:
        """``{"u":400900217,"s":"BNBUSDT","b":"25.35190000","B":..,"a":"25.36520000","A":..}``."""
        symbol = text(obj, "s", "bookTicker")
        bid = number(obj, "b", "bookTicker")
        ask = number(obj, "a", "bookTicker")
        if bid <= 0 or ask <= 0:
            raise FrameError(f"{NAME}: bookTicker for {symbol} has an empty side")
        mid = (bid + ask) / 2
        if self._last_mid.get(symbol) == mid:
            return Parsed()
        event = PriceEvent(
            instrument=f"{NAME}:{symbol}", mark=mid, index=None, funding_rate=None,
            next_funding_ms=None, ts_event_ms=receive_ms, ts_receive_ms=receive_ms,
        )
        self._last_mid[symbol] = mid
        return Parsed(events=(event,))

    def _account_position(self, obj: JsonObject, receive_ms: int) -> Parsed:
        """``{"e":"outboundAccountPosition","E":..,"u":..,"B":[{"a":"ETH","f":"10000.0","l":"0.0"}]}``."""
        account = self._require_account()
        ts = time_ms(obj, "E", "outboundAccountPosition")
        as_of = time_ms(obj, "u", "outboundAccountPosition")
        balances = [
            (text(b, "a", "balance"), number(b, "f", "balance") + number(b, "l", "balance"))
            for b in objects(obj, "B", "outboundAccountPosition")
        ]
        events: list[Event] = []
        for asset, quantity in balances:
            self._balances[asset] = (quantity, as_of)
            events.append(self._balance(account, asset, quantity, ts, receive_ms))
        return Parsed(events=tuple(events))

    def _balance_update(self, obj: JsonObject, receive_ms: int) -> Parsed:
        """``{"e":"balanceUpdate","E":..,"a":"BTC","d":"100.00000000","T":..}`` — a delta."""
        account = self._require_account()
        asset = text(obj, "a", "balanceUpdate")
        delta = number(obj, "d", "balanceUpdate")
        clear_time = time_ms(obj, "T", "balanceUpdate")
        ts = time_ms(obj, "E", "balanceUpdate")
        known = self._balances.get(asset)
        if known is None:
            return Parsed(resync=True)
        quantity, as_of = known
        if clear_time <= as_of:
            return Parsed()
        self._balances[asset] = (quantity + delta, clear_time)
        return Parsed(events=(self._balance(account, asset, quantity + delta, ts, receive_ms),))

    # -- resync ---------------------------------------------------------------------------------

    def parse_resync(self, request: HttpRequest, body: bytes, receive_ms: int) -> tuple[Event, ...]:
        """``{"updateTime":..,"balances":[{"asset","free","locked"}]}`` as full balances."""
        account = self._require_account()
        if request.purpose != "balances":
            raise FrameError(f"{NAME}: unknown resync purpose {request.purpose!r}")
        with frame_errors(NAME):
            obj = as_object(load_json(body, NAME), "account response")
            if "code" in obj and "msg" in obj:
                raise FrameError(f"{NAME}: account request failed with code {obj['code']!r}")
            as_of = time_ms(obj, "updateTime", "account response")
            balances = {
                text(b, "asset", "balance"): number(b, "free", "balance") + number(b, "locked", "balance")
                for b in objects(obj, "balances", "account response")
            }
            for asset in sorted(self._reported_assets - balances.keys()):
                balances[asset] = 0.0
            # Every event is built (and validated) before any state changes.
            events = tuple(
                balance_event(account, asset, quantity, receive_ms, receive_ms)
                for asset, quantity in balances.items()
            )
        self._balances = {asset: (quantity, as_of) for asset, quantity in balances.items()}
        self._reported_assets.update(balances)
        return events

    # -- helpers --------------------------------------------------------------------------------

    def _balance(
        self, account: AccountContext, asset: str, quantity: float, ts: int, receive_ms: int
    ) -> BalanceEvent:
        with frame_errors(NAME):
            event = balance_event(account, asset, quantity, ts, receive_ms)
        self._reported_assets.add(asset)
        return event

def _api_response(obj: JsonObject) -> Parsed:
    """``{"id":"subscribe","status":200,"result":{"subscriptionId":0}}``; the ``ping`` response is
    the pong; any other status fails the subscription, so the supervisor reconnects."""
    status = obj["status"]
    request_id = obj.get("id")
    if status == 200:
        return Parsed(kind=FrameKind.PONG if request_id == PING_ID else FrameKind.ACK)
    error = obj.get("error")
    code = error.get("code") if isinstance(error, dict) else None
    return Parsed(
        kind=FrameKind.ACK,
        reconnect_reason=(
            f"{NAME}: request {str(request_id)[:40]!r} failed with status {status!r} code {code!r}"
        ),
    )
