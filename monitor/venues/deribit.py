"""Deribit (API v2, JSON-RPC over websocket): tickers, the authenticated portfolio and changes, REST resync.

Wire formats: exchange-wire-formats.md §5 and docs.deribit.com ("JSON-RPC", "Notifications",
"Authentication", "public/auth", "public/set_heartbeat", "public/test", "public/subscribe",
"private/subscribe", "ticker.{instrument_name}.{interval}", "user.portfolio.{currency}",
"user.changes.{kind}.{currency}.{interval}", "private/get_positions",
"private/get_account_summary"). Requests are ``{"jsonrpc":"2.0","id":N,"method":..,"params":{..}}``;
answers carry the same ``id`` with ``result`` or ``error`` (``{"code":..,"message":..}``);
subscription data arrive as notifications ``{"jsonrpc":"2.0","method":"subscription","params":
{"channel":..,"data":..}}``. All numbers are JSON numbers.

Streams (both on ``wss://www.deribit.com/ws/api/v2``):

- ``market``: on open ``public/set_heartbeat`` (30 s) and ``public/subscribe`` of
  ``ticker.<instrument>.100ms`` per configured instrument (``BTC-PERPETUAL``, ``ETH-PERPETUAL``,
  dated ``BTC-25DEC26``). The ticker gives mark (``mark_price``), index (``index_price``) and, on
  perpetuals, ``funding_8h``: the funding rate as an 8-hour rate. Deribit's funding accrues every
  millisecond (``monitor.domain.formulas.deribit_funding_received``), so there is no funding
  instant: ``next_funding_ms`` is None.
- ``private``: on open ``public/auth`` with ``grant_type`` ``client_signature`` (``signature`` =
  hex HMAC-SHA256 of ``timestamp + "\\n" + nonce + "\\n" + data`` with the client secret: the
  secret itself never travels) and ``public/set_heartbeat``. The answer to the auth request is
  followed by ``private/subscribe`` of ``user.portfolio.<currency>`` and
  ``user.changes.future.<CURRENCY>.raw`` for the account's currencies (those of the configured
  instruments; BTC and ETH when none is configured). An auth error asks for a reconnect.
- Heartbeat: the server sends ``{"method":"heartbeat","params":{"type":"test_request"}}``, which
  must be answered with ``public/test`` or the server closes the connection; ``"type":"heartbeat"``
  needs nothing. No client ping frame.

Decisions:

- Positions are net per instrument (one-way). ``size`` is in USD for futures (signed, negative for
  a short; ``direction`` ``buy``/``sell``/``zero``): the quantity is ``size / contract value``
  contracts of the catalog's instrument (an instrument the catalog does not know cannot be priced
  and is not published). Deribit books each session's PnL into the cash balance at the daily
  08:00 UTC settlement and measures ``floating_profit_loss`` from the session's base (the last
  settlement price for a position carried over). So the canonical entry price is that base,
  ``1 / (floating_profit_loss / size + 1 / mark_price)`` (the documented example's 16,025.83 is
  its ``settlement_price``), else ``average_price``; and the canonical wallet is ``equity -
  session_upl`` (``balance`` plus the session's realised PnL, funding and fees): wallet plus the
  positions' PnL from their bases is then Deribit's equity. Margin is cross over the currency
  (``isolated_margin`` None).
- ``user.changes`` ``trades`` give FillEvents: ``amount`` (USD for futures) in contracts, signed by
  ``direction``; a ``fee`` in the instrument's coin is counted at the trade price.
- Resync: HTTP ``GET /api/v2/private/get_positions?currency=<C>&kind=future`` and
  ``/api/v2/private/get_account_summary?currency=<C>`` per currency, signed ``Authorization:
  deri-hmac-sha256 id=<client id>,ts=<ms>,sig=<hex HMAC-SHA256(secret, ts\\nnonce\\nGET\\n<uri>\\n\\n)>,
  nonce=<nonce>`` ("Deribit Signature Credentials"). The portfolio push carries no timestamp, so
  balances carry the receive time as event time, like the REST snapshot events.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import ClassVar

from monitor.domain.events import Event, FillEvent, PositionSide, PriceEvent
from monitor.domain.instruments import Catalog, Instrument
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
    number,
    objects,
    optional_number,
    optional_text,
    position_events,
    positive_or_none,
    required,
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
from monitor.venues.signing import Redacted, api_key, hmac_sha256_hex, query_string

NAME = "deribit"
PRODUCTION_WS_URL = "wss://www.deribit.com"
PRODUCTION_REST_URL = "https://www.deribit.com"
MARKET = "market"
PRIVATE = "private"
WS_PATH = "/ws/api/v2"
POSITIONS_PATH = "/api/v2/private/get_positions"
ACCOUNT_SUMMARY_PATH = "/api/v2/private/get_account_summary"
HEARTBEAT_INTERVAL_S = 30
TICKER_INTERVAL = "100ms"
DEFAULT_CURRENCIES = ("BTC", "ETH")
AUTH_ID = 1
HEARTBEAT_ID = 2
SUBSCRIBE_ID = 3
TEST_ID = 4

# BTC-PERPETUAL, ETH-PERPETUAL, BTC-25DEC26
_SYMBOL = r"[A-Z0-9]{2,10}-(?:PERPETUAL|[0-9]{1,2}[A-Z]{3}[0-9]{2})"
_CURRENCY = re.compile(r"[A-Z0-9]{2,10}")
_DIRECTIONS = frozenset({"buy", "sell", "zero"})
_NET = "net"


def _side_of(key: str) -> PositionSide:  # noqa: ARG001 -- the PositionBook signature
    """Deribit positions are net per instrument."""
    return "one_way"


class Deribit(VenueSession):
    """Deribit inverse futures and perpetuals (instrument ids ``deribit:<INSTRUMENT>``)."""

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
        self._start_session(NAME, symbols, _SYMBOL, account, catalog)
        self._ws = ws_base_url.rstrip("/")
        self._rest = rest_base_url.rstrip("/")
        currencies = tuple(dict.fromkeys(symbol.split("-", 1)[0] for symbol in self._symbols))
        self.currencies: tuple[str, ...] = currencies or DEFAULT_CURRENCIES
        self._books = {currency: PositionBook(_side_of, lambda _symbol: True) for currency in self.currencies}
        self._nonce = 0
        self._handlers: dict[str, Callable[[str, object, int], Parsed]] = {
            "ticker": self._ticker,
            "user.portfolio": self._portfolio,
            "user.changes": self._changes,
        }

    # -- connection -----------------------------------------------------------------------------

    def connect_plan(self, stream: str, now_ms: int, setup_response: bytes | None) -> StreamPlan:  # noqa: ARG002 -- Venue protocol
        """The JSON-RPC endpoint with heartbeat and ticker subscription, or auth then heartbeat."""
        self._check_stream(stream)
        heartbeat = _request(HEARTBEAT_ID, "public/set_heartbeat", {"interval": HEARTBEAT_INTERVAL_S})
        if stream == MARKET:
            channels = [f"ticker.{symbol}.{TICKER_INTERVAL}" for symbol in self._symbols]
            on_open: tuple[str, ...] = (
                heartbeat, _request(SUBSCRIBE_ID, "public/subscribe", {"channels": channels}))
            stale = 10.0
        else:
            on_open = (self.auth_frame(now_ms), heartbeat)
            stale = 3.0 * HEARTBEAT_INTERVAL_S
        return StreamPlan(url=f"{self._ws}{WS_PATH}", on_open=on_open, ping_frame=None,
                          ping_interval_s=20.0, stale_after_s=stale)

    def auth_frame(self, now_ms: int) -> Redacted:
        """``public/auth`` with ``client_signature``: HMAC-SHA256(secret, ts\\nnonce\\ndata), hex."""
        credentials = self._require_credentials()
        nonce = self._next_nonce(now_ms)
        signature = hmac_sha256_hex(credentials.api_secret, f"{now_ms}\n{nonce}\n")
        return Redacted(_request(AUTH_ID, "public/auth", {
            "grant_type": "client_signature", "client_id": str(api_key(credentials)),
            "timestamp": now_ms, "signature": signature, "nonce": nonce, "data": "",
        }))

    def private_channels(self) -> list[str]:
        """``user.portfolio.<currency>`` and ``user.changes.future.<CURRENCY>.raw`` per currency."""
        channels: list[str] = []
        for currency in self.currencies:
            channels += [f"user.portfolio.{currency.lower()}", f"user.changes.future.{currency}.raw"]
        return channels

    def reset(self, stream: str) -> None:
        """Forget positions before the private stream reconnects (the resync rebuilds them)."""
        self._check_stream(stream)
        if stream == PRIVATE:
            for book in self._books.values():
                book.clear()

    def keepalive_request(self, stream: str, now_ms: int) -> HttpRequest | None:  # noqa: ARG002 -- Venue protocol
        """None: the JSON-RPC heartbeat keeps the session alive."""
        self._check_stream(stream)
        return None

    def resync_requests(self, now_ms: int) -> tuple[HttpRequest, ...]:
        """Signed positions and account summary per currency; none without an account."""
        if self._credentials is None:
            return ()
        requests: list[HttpRequest] = []
        for currency in self.currencies:
            requests.append(self._signed(POSITIONS_PATH, f"positions-{currency}",
                                         (("currency", currency), ("kind", "future")), now_ms))
            requests.append(self._signed(ACCOUNT_SUMMARY_PATH, f"balances-{currency}",
                                         (("currency", currency),), now_ms))
        return tuple(requests)

    # -- frames ---------------------------------------------------------------------------------

    def parse(self, stream: str, frame: str | bytes, receive_ms: int) -> Parsed:
        """Read one JSON-RPC answer, heartbeat or subscription notification."""
        self._check_stream(stream)
        with frame_errors(NAME):
            obj = as_object(load_json(frame, NAME), "frame")
            method = optional_text(obj, "method", "frame")
            if method == "subscription":
                params = as_object(required(obj, "params", "notification"), "notification params")
                channel = text(params, "channel", "notification params")
                handler = self._handlers.get(_channel_family(channel))
                if handler is None:
                    return Parsed(kind=FrameKind.IGNORED)
                return handler(channel, required(params, "data", "notification params"), receive_ms)
            if method == "heartbeat":
                params = as_object(required(obj, "params", "heartbeat"), "heartbeat params")
                if text(params, "type", "heartbeat params") == "test_request":
                    return Parsed(kind=FrameKind.PING, replies=(_request(TEST_ID, "public/test", {}),))
                return Parsed(kind=FrameKind.PONG)
            if "id" in obj:
                return self._answer(stream, obj)
            return Parsed(kind=FrameKind.IGNORED)

    def _answer(self, stream: str, obj: JsonObject) -> Parsed:
        """The answer to one of our requests: auth (then subscribe), heartbeat, subscribe, test."""
        request_id = obj["id"]
        if "error" in obj:
            error = as_object(obj["error"], "error")
            code = error.get("code")
            if stream == PRIVATE and request_id == AUTH_ID:
                return Parsed(kind=FrameKind.ACK, reconnect_reason=f"{NAME}: auth failed with code {code!r}")
            raise FrameError(f"{NAME}: request {request_id!r} failed with code {code!r}")
        required(obj, "result", "answer")
        if stream == PRIVATE and request_id == AUTH_ID:
            subscribe = _request(SUBSCRIBE_ID, "private/subscribe", {"channels": self.private_channels()})
            return Parsed(kind=FrameKind.ACK, replies=(subscribe,))
        return Parsed(kind=FrameKind.ACK)

    def _ticker(self, channel: str, data: object, receive_ms: int) -> Parsed:  # noqa: ARG002 -- handler signature
        """``ticker.<instrument>.<interval>``: mark, index and (perpetuals) ``funding_8h``."""
        ticker = as_object(data, "ticker")
        instrument = text(ticker, "instrument_name", "ticker")
        if instrument not in self._symbols:
            return Parsed(kind=FrameKind.IGNORED)
        return Parsed(events=(PriceEvent(
            instrument=f"{NAME}:{instrument}",
            mark=number(ticker, "mark_price", "ticker"),
            index=optional_number(ticker, "index_price", "ticker"),
            funding_rate=optional_number(ticker, "funding_8h", "ticker"),
            next_funding_ms=None,
            ts_event_ms=time_ms(ticker, "timestamp", "ticker"),
            ts_receive_ms=receive_ms,
        ),))

    def _portfolio(self, channel: str, data: object, receive_ms: int) -> Parsed:  # noqa: ARG002 -- handler signature
        """``user.portfolio.<currency>``: the currency's wallet as ``equity - session_upl``."""
        account = self._require_account()
        return Parsed(events=(_wallet(account, as_object(data, "portfolio"), receive_ms),))

    def _changes(self, channel: str, data: object, receive_ms: int) -> Parsed:
        """``user.changes.future.<CURRENCY>.raw``: ``{"trades":[..],"positions":[..],"orders":[..]}``."""
        account = self._require_account()
        changes = as_object(data, "changes")
        parts = channel.split(".")
        # user.changes.<kind>.<currency>.<interval>, or user.changes.<instrument>.<interval>
        currency = parts[3] if len(parts) == 5 else parts[2].split("-", 1)[0] if len(parts) == 4 else ""
        events: list[Event] = [self._fill(account, trade, receive_ms)
                               for trade in objects(changes, "trades", "changes", default_empty=True)]
        legs = [leg for item in objects(changes, "positions", "changes", default_empty=True)
                if (leg := self._leg(item)) is not None]
        book = self._book(currency)
        events.extend(position_events(account, NAME, book.apply(legs), receive_ms, receive_ms))
        return Parsed(events=tuple(events))

    def _fill(self, account: AccountContext, trade: JsonObject, receive_ms: int) -> FillEvent:
        name = text(trade, "instrument_name", "trade")
        instrument = self._instrument(name)
        direction = text(trade, "direction", "trade")
        if direction not in ("buy", "sell"):
            raise FrameError(f"{NAME}: trade direction must be buy or sell, got {direction[:10]!r}")
        contracts = abs(number(trade, "amount", "trade")) / _contract_value(instrument)
        price = number(trade, "price", "trade")
        fee = optional_number(trade, "fee", "trade") or 0.0
        fee_coin = optional_text(trade, "fee_currency", "trade")
        return FillEvent(
            portfolio=account.portfolio, account=account.account, instrument=f"{NAME}:{name}",
            quantity=contracts if direction == "buy" else -contracts, price=price,
            fee_usd=fee * price if instrument is not None and fee_coin == instrument.base else 0.0,
            ts_event_ms=time_ms(trade, "timestamp", "trade"), ts_receive_ms=receive_ms,
        )

    def _leg(self, item: JsonObject) -> tuple[str, str, Leg] | None:
        """One position object as a net leg in contracts, or None for a non-future or unknown instrument."""
        if optional_text(item, "kind", "position") not in (None, "future"):
            return None
        name = text(item, "instrument_name", "position")
        instrument = self._instrument(name)
        if instrument is None:
            return None
        size = number(item, "size", "position")
        direction = optional_text(item, "direction", "position")
        if direction is not None and direction not in _DIRECTIONS:
            raise FrameError(f"{NAME}: position direction must be buy, sell or zero, got {direction[:10]!r}")
        if direction == "sell":
            size = -abs(size)
        elif direction == "buy":
            size = abs(size)
        quantity = size / _contract_value(instrument)
        if quantity == 0:
            return name, _NET, Leg(0.0, 0.0, "cross", None, positive_or_none(
                optional_number(item, "leverage", "position")))
        entry = _session_base(item, size)
        return name, _NET, Leg(quantity, entry, "cross", None,
                               positive_or_none(optional_number(item, "leverage", "position")))

    # -- resync ---------------------------------------------------------------------------------

    def parse_resync(self, request: HttpRequest, body: bytes, receive_ms: int) -> tuple[Event, ...]:
        """Full positions of a currency from ``get_positions``, its wallet from ``get_account_summary``."""
        account = self._require_account()
        with frame_errors(NAME):
            payload = as_object(load_json(body, NAME), "response")
            if "error" in payload:
                error = as_object(payload["error"], "error")
                raise FrameError(f"{NAME}: {request.purpose} request failed with code {error.get('code')!r}")
            result = required(payload, "result", "response")
            kind, _, currency = request.purpose.partition("-")
            if kind == "positions" and currency in self._books:
                legs = [leg for item in as_list(result, "positions")
                        if (leg := self._leg(as_object(item, "position"))) is not None]
                also = [s for s in self._symbols if s.split("-", 1)[0] == currency]
                published = self._books[currency].load(legs, also=also)
                return tuple(position_events(account, NAME, published, receive_ms, receive_ms))
            if kind == "balances":
                return (_wallet(account, as_object(result, "account summary"), receive_ms),)
        raise FrameError(f"{NAME}: unknown resync purpose {request.purpose!r}")

    # -- helpers --------------------------------------------------------------------------------

    def _instrument(self, name: str) -> Instrument | None:
        return self.catalog.get(f"{NAME}:{name}")

    def _book(self, currency: str) -> PositionBook:
        """The currency's book (a changes channel of an unsubscribed currency gets its own)."""
        if currency not in self._books:
            if not _CURRENCY.fullmatch(currency):
                raise FrameError(f"{NAME}: changes channel without a currency")
            self._books[currency] = PositionBook(_side_of, lambda _symbol: True)
        return self._books[currency]

    def _next_nonce(self, now_ms: int) -> str:
        self._nonce += 1
        return f"{now_ms:x}{self._nonce:04x}"

    def _signed(
        self, path: str, purpose: str, pairs: tuple[tuple[str, str], ...], now_ms: int
    ) -> HttpRequest:
        """A GET signed per Deribit "Deribit Signature Credentials": ``RequestData = "GET\\n" + URI +
        "\\n" + body + "\\n"``, ``StringToSign = ts + "\\n" + nonce + "\\n" + RequestData``."""
        credentials = self._require_credentials()
        nonce = self._next_nonce(now_ms)
        uri = f"{path}?{query_string(pairs)}"
        signature = hmac_sha256_hex(credentials.api_secret, f"{now_ms}\n{nonce}\nGET\n{uri}\n\n")
        header = Redacted(f"deri-hmac-sha256 id={api_key(credentials)},ts={now_ms},sig={signature},"
                          f"nonce={nonce}")
        return HttpRequest(method="GET", base_url=self._rest, path=path, purpose=purpose, query=pairs,
                           headers={"Authorization": header})


def _request(request_id: int, method: str, params: dict[str, object]) -> str:
    """One JSON-RPC 2.0 request frame."""
    return dump_json({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params})


def _channel_family(channel: str) -> str:
    """``ticker`` of ``ticker.BTC-PERPETUAL.100ms``, ``user.portfolio`` of ``user.portfolio.btc``,
    ``user.changes`` of ``user.changes.future.BTC.raw``."""
    parts = channel.split(".")
    return ".".join(parts[:2]) if parts[0] == "user" else parts[0]


def _contract_value(instrument: Instrument | None) -> float:
    if instrument is None or not instrument.contract_value > 0:
        raise FrameError(f"{NAME}: a trade of an instrument the catalog does not know")
    return instrument.contract_value


def _session_base(item: JsonObject, size_usd: float) -> float:
    """The price the position's session PnL is measured from (see the module docstring)."""
    average = number(item, "average_price", "position")
    floating = optional_number(item, "floating_profit_loss", "position")
    mark = optional_number(item, "mark_price", "position")
    if floating is not None and mark is not None and mark > 0 and size_usd != 0:
        reciprocal = floating / size_usd + 1.0 / mark
        if reciprocal > 0:
            return 1.0 / reciprocal
    settlement = optional_number(item, "settlement_price", "position")
    return settlement if settlement is not None and settlement > 0 else average


def _wallet(account: AccountContext, summary: JsonObject, receive_ms: int) -> Event:
    """A currency's wallet: ``equity - session_upl`` (``balance`` when those are absent)."""
    currency = text(summary, "currency", "portfolio").upper()
    equity = optional_number(summary, "equity", "portfolio")
    session_upl = optional_number(summary, "session_upl", "portfolio")
    if equity is not None and session_upl is not None:
        quantity = equity - session_upl
    else:
        quantity = number(summary, "balance", "portfolio")
    return balance_event(account, currency, quantity, receive_ms, receive_ms)
