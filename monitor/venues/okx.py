"""OKX v5: mark price, funding rate and index ticker channels, private positions and account.

Wire formats: exchange-wire-formats.md §4, from okx.com/docs-v5/en ("Overview: WebSocket", "Login",
"Public data: Mark price / Funding rate / Index tickers channel", "Trading account: Account /
Positions channel", "REST Authentication", "Get positions", "Get balance").

Streams:

- ``market``: ``{ws}/ws/v5/public``, one subscribe frame ``{"op":"subscribe","args":[..]}`` with, per
  configured derivative ``X-Y-SWAP`` / ``X-Y-<date>``: ``mark-price``, ``funding-rate`` (swaps only)
  and ``index-tickers`` of its index ``X-Y``; per configured spot pair ``X-Y``: ``index-tickers``.
  The latest funding rate and index of each instrument are kept in the venue and attached to the
  ``mark-price`` PriceEvent (funding pushes come every 30-90 s and carry no mark, so they emit
  nothing themselves). ``next_funding_ms`` is ``fundingTime``, the settlement at which the current
  ``fundingRate`` is charged (``nextFundingTime`` is the period after it). An index ticker whose id
  is a spot instrument of the catalog or a configured symbol (``BTC-USDT``) is also emitted as a
  PriceEvent ``okx:BTC-USDT`` (mark = index = ``idxPx``): OKX's index of that pair, used as the spot
  reference price (it is a multi-exchange index, not OKX's own last trade).
- ``private``: ``{ws}/ws/v5/private``; on open ``{"op":"login","args":[{"apiKey","passphrase",
  "timestamp","sign"}]}`` with ``timestamp`` in epoch seconds and ``sign = Base64(HMAC_SHA256(secret,
  timestamp + "GET" + "/users/self/verify"))``. The subscription (``positions`` with instType ANY,
  and ``account``) must follow the login success, so it is returned as the reply to the login ack. A
  login error asks for a reconnect.
- Heartbeat on both: the text frame ``ping`` every 15 s, answered by the text ``pong`` (OKX closes a
  connection that is silent for 30 s). An ``event: notice`` (service upgrade within 60 s) asks for a
  reconnect.

Positions: ``pos`` is in contracts (``ctVal`` each, from the catalog; e.g. 0.01 BTC for
BTC-USDT-SWAP). ``posSide`` names the leg (Trading Account "Get positions": "``long``, ``pos`` is
positive; ``short``, ``pos`` is positive; ``net``: positive ``pos`` means long position and negative
``pos`` means short position"): ``net`` is ``position_side`` "one_way" with the sign of ``pos``,
``long``/``short`` (long/short mode) are the "long" and "short" legs, the short leg's quantity made
negative. Legs are kept per (instId, posSide/mgnMode); a cross and an isolated position of one
instrument and side are one canonical leg and are netted (``_common.net_legs``; inverse contracts,
catalog kind or quote ``USD``, net their entry harmonically). ``isolated_margin`` is ``margin``
("Margin, can be added or reduced. Only applicable to isolated"), the margin allocated to an
isolated position in the margin currency ``ccy`` (the base coin for inverse, USDT for
USDT-margined). It is the isolated wallet without unrealised PnL, as the canonical field is, so it
is taken as sent: in the documented example ``margin`` 0.0003896645377994 ETH = 1 contract * 10 USD
/ 2566.31 avgPx / 10x leverage, while ``upl`` is reported apart. Cross positions: None. Only SWAP
and FUTURES positions are read. A ``snapshot`` (the push after subscribing and the regular pushes,
paged by ``curPage``/``lastPage``) is complete: a position absent from it is closed.
``event_update`` pushes carry only the changed positions; a full close arrives as ``pos`` "0".
Event time: ``pTime`` (push time), else ``uTime``.

The venue's own figures (docs/venue-fields.md): a leg's ``liqPx`` (``""``: unknown), ``mmr``
(maintenance margin, margin currency), ``mgnRatio`` (OKX sense: margin over maintenance margin,
liquidation at 100 %; the canonical ``venue_margin_ratio`` is its reciprocal) and ``adl`` (1-5,
"the smaller the number, the weaker the adl intensity"; ``""`` unknown). Netted cross and
isolated legs keep only what adds up (``_common.net_figures``). The account's own ``mgnRatio``,
``adjEq``, ``mmr`` and ``imr`` (USD; account level, reported in multi-currency and portfolio
margin, ``""`` otherwise) give an AccountMarginEvent whose mode is ``acctLv`` of ``GET
/api/v5/account/config`` (2 single-currency, 3 multi-currency, 4 portfolio margin).

Fills: the ``orders`` channel (instType ANY; "Order channel") gives a FillEvent per SWAP/FUTURES
push with ``fillSz`` > 0 (contracts signed by ``side``, ``fillPx``, ``fillTime``; ``fillFee`` is
negative when charged, in ``fillFeeCcy``: USD(T) 1:1, a coin valued at ``fillPx``). ``category``
``full_liquidation`` / ``partial_liquidation`` is a liquidation and ``adl`` an auto-deleveraging
fill (``forced``).

Balances: ``account`` channel ``details[].cashBal`` per currency (cash balance, without unrealised
PnL); after the snapshot only changed currencies are pushed, each with its full state.
``balance_and_position`` is not subscribed and is ignored.

Resync: ``GET /api/v5/account/config``, ``GET /api/v5/account/positions`` and ``GET
/api/v5/account/balance`` signed with
``OK-ACCESS-SIGN = Base64(HMAC_SHA256(secret, timestamp + "GET" + requestPath))`` (ISO-8601 UTC
millisecond ``OK-ACCESS-TIMESTAMP``, plus ``OK-ACCESS-KEY`` and ``OK-ACCESS-PASSPHRASE``). REST
snapshot events carry the receive time as event time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar

from monitor.domain.events import (
    AccountMarginEvent,
    Event,
    FillEvent,
    ForcedFill,
    MarginMode,
    PositionSide,
    PriceEvent,
)
from monitor.domain.instruments import Catalog
from monitor.venues._common import (
    JsonObject,
    Leg,
    PositionBook,
    VenueSession,
    as_object,
    balance_event,
    dump_json,
    frame_errors,
    load_json,
    margin_mode,
    number,
    objects,
    optional_number,
    optional_text,
    optional_time_ms,
    position_events,
    positive_or_none,
    required,
    signed_quantity,
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
from monitor.venues.listings.okx import OkxListings
from monitor.venues.signing import (
    Redacted,
    api_key,
    hmac_sha256_base64,
    iso_timestamp_ms,
    passphrase,
)

NAME = "okx"
PRODUCTION_WS_URL = "wss://ws.okx.com:8443"
PRODUCTION_REST_URL = "https://www.okx.com"
MARKET = "market"
PRIVATE = "private"
PING_FRAME = "ping"
PONG_FRAME = "pong"
LOGIN_PATH = "/users/self/verify"
POSITIONS_PATH = "/api/v5/account/positions"
BALANCE_PATH = "/api/v5/account/balance"
CONFIG_PATH = "/api/v5/account/config"
ADL_TOP = 5
"""``adl`` is "divided into 5 levels, from 1 to 5" (Trading Account "Get positions")."""
ACCOUNT_LEVELS = {"1": "spot", "2": "single_currency", "3": "multi_currency", "4": "portfolio_margin"}
"""``acctLv`` of "Get account configuration": 1 Spot mode, 2 Spot and futures mode (single-currency
margin), 3 Multi-currency margin, 4 Portfolio margin."""

_SYMBOL = r"[A-Z0-9]{1,20}-[A-Z0-9]{1,20}(?:-[A-Z0-9]{1,20})?"
_FUTURES_TYPES = frozenset({"SWAP", "FUTURES"})
_POSITION_SIDES: dict[str, PositionSide] = {"net": "one_way", "long": "long", "short": "short"}
_FORCED_CATEGORIES: dict[str, ForcedFill] = {
    "full_liquidation": "liquidation", "partial_liquidation": "liquidation", "adl": "adl"}
_USD_FEE_CURRENCIES = frozenset({"USDT", "USDC", "USD"})


def index_id(symbol: str) -> str:
    """The index of an OKX instrument: ``BTC-USDT`` for ``BTC-USDT-SWAP`` or ``BTC-USDT``."""
    base, quote, *_ = symbol.split("-")
    return f"{base}-{quote}"


def _side_of(key: str) -> PositionSide:
    """The canonical leg of a ``posSide/mgnMode`` key (``posSide`` checked by ``_leg``)."""
    return _POSITION_SIDES[key.partition("/")[0]]


class Okx(OkxListings, VenueSession):
    """OKX v5 venue (instrument ids ``okx:<instId>``, e.g. ``okx:BTC-USDT-SWAP``, ``okx:BTC-USDT``)."""

    needs_passphrase: ClassVar[bool] = True  # OK-ACCESS-PASSPHRASE (okx.com/docs-v5 "REST Authentication")
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
        if self._credentials is not None:
            passphrase(self._credentials)  # refuse credentials without a passphrase now
        self._ws = ws_base_url.rstrip("/")
        self._rest = rest_base_url.rstrip("/")
        self._funding: dict[str, tuple[float, int | None]] = {}
        self._index: dict[str, float] = {}
        self._book = PositionBook(_side_of, self._is_inverse)
        self._snapshot_pages: list[tuple[str, str, Leg]] = []
        self._awaiting_login = False
        self._account_level: str | None = None
        self._handlers: dict[str, Callable[[JsonObject, int], Parsed]] = {
            "mark-price": self._mark_price,
            "funding-rate": self._funding_rate,
            "index-tickers": self._index_ticker,
            "positions": self._positions,
            "account": self._account_push,
            "orders": self._orders,
        }

    # -- connection -----------------------------------------------------------------------------

    def connect_plan(self, stream: str, now_ms: int, setup_response: bytes | None) -> StreamPlan:  # noqa: ARG002 -- Venue protocol
        """Public URL with the market subscriptions, or the private URL with the login frame."""
        self._check_stream(stream)
        if stream == MARKET:
            on_open: tuple[str, ...] = (dump_json({"op": "subscribe", "args": self.market_args()}),)
            url = f"{self._ws}/ws/v5/public"
        else:
            on_open = (self.login_frame(now_ms),)
            url = f"{self._ws}/ws/v5/private"
            self._awaiting_login = True
        return StreamPlan(
            url=url, on_open=on_open, ping_frame=PING_FRAME, ping_interval_s=15.0, stale_after_s=40.0,
        )

    def market_args(self) -> list[dict[str, str]]:
        """Subscription args: mark price, funding (swaps) and index tickers, indexes deduplicated."""
        args: list[dict[str, str]] = []
        indexes: dict[str, None] = {}
        for symbol in self._symbols:
            if symbol.count("-") >= 2:
                args.append({"channel": "mark-price", "instId": symbol})
                if symbol.endswith("-SWAP"):
                    args.append({"channel": "funding-rate", "instId": symbol})
            indexes[index_id(symbol)] = None
        args.extend({"channel": "index-tickers", "instId": index} for index in indexes)
        return args

    def login_frame(self, now_ms: int) -> Redacted:
        """``{"op":"login","args":[{"apiKey","passphrase","timestamp","sign"}]}``, timestamp in seconds."""
        credentials = self._require_credentials()
        timestamp = str(now_ms // 1000)
        sign = hmac_sha256_base64(credentials.api_secret, f"{timestamp}GET{LOGIN_PATH}")
        return Redacted(dump_json({"op": "login", "args": [{
            "apiKey": str(api_key(credentials)),
            "passphrase": str(passphrase(credentials)),
            "timestamp": timestamp,
            "sign": sign,
        }]}))

    @staticmethod
    def private_subscribe_frame() -> str:
        """``positions`` and ``orders`` (all instrument types) and ``account``, sent after the login
        success."""
        return dump_json({"op": "subscribe", "args": [
            {"channel": "positions", "instType": "ANY"},
            {"channel": "account"},
            {"channel": "orders", "instType": "ANY"},
        ]})

    def reset(self, stream: str) -> None:
        """Forget position legs and snapshot pages (private). Market caches survive a reconnect:
        the latest funding and index stay valid and are refreshed right after subscribing."""
        self._check_stream(stream)
        if stream == PRIVATE:
            self._book.clear()
            self._snapshot_pages = []
            self._awaiting_login = False

    def keepalive_request(self, stream: str, now_ms: int) -> HttpRequest | None:  # noqa: ARG002 -- Venue protocol
        """None: OKX needs no REST keepalive."""
        self._check_stream(stream)
        return None

    def resync_requests(self, now_ms: int) -> tuple[HttpRequest, ...]:
        """Signed account config, positions and balance requests; none without an account."""
        if self._credentials is None:
            return ()
        return (
            self._signed(CONFIG_PATH, "account-config", now_ms),
            self._signed(POSITIONS_PATH, "positions", now_ms),
            self._signed(BALANCE_PATH, "balances", now_ms),
        )

    # -- frames ---------------------------------------------------------------------------------

    def parse(self, stream: str, frame: str | bytes, receive_ms: int) -> Parsed:
        """Read the text ``pong``, an event (login, subscribe, error, notice) or a channel push."""
        self._check_stream(stream)
        if frame in (PONG_FRAME, PONG_FRAME.encode()):
            if stream == "private" and self._awaiting_login:
                # The login answer was lost (the private channels are subscribed only in reply to
                # it), and pongs would keep this deaf connection looking healthy: start again.
                return Parsed(kind=FrameKind.PONG,
                              reconnect_reason="okx: no login response before the first pong")
            return Parsed(kind=FrameKind.PONG)
        with frame_errors(NAME):
            obj = as_object(load_json(frame, NAME), "frame")
            if "event" in obj:
                return self._event(obj)
            arg = as_object(required(obj, "arg", "push"), "push arg")
            handler = self._handlers.get(text(arg, "channel", "push arg"))
            return handler(obj, receive_ms) if handler else Parsed(kind=FrameKind.IGNORED)

    def _event(self, obj: JsonObject) -> Parsed:
        """``{"event":"login","code":"0"}``, ``{"event":"subscribe",..}``, ``{"event":"error","code":..}``,
        ``{"event":"notice",..}``, ``{"event":"channel-conn-count-error",..}``."""
        event = text(obj, "event", "event")
        code = optional_text(obj, "code", "event")
        if event == "login":
            if code not in (None, "0"):
                return self._login_failed(code)
            self._awaiting_login = False
            return Parsed(kind=FrameKind.ACK, replies=(self.private_subscribe_frame(),))
        if event == "error":
            if self._awaiting_login:
                return self._login_failed(code)
            raise FrameError(f"{NAME}: error event with code {code!r}")
        if event == "notice":
            return Parsed(kind=FrameKind.ACK, reconnect_reason=f"{NAME}: notice {code!r}")
        if event == "channel-conn-count-error":
            channel = optional_text(obj, "channel", "event") or ""
            raise FrameError(f"{NAME}: too many connections for channel {channel[:40]!r}")
        return Parsed(kind=FrameKind.ACK)

    def _login_failed(self, code: str | None) -> Parsed:
        self._awaiting_login = False
        return Parsed(kind=FrameKind.ACK, reconnect_reason=f"{NAME}: login failed with code {code!r}")

    def _mark_price(self, obj: JsonObject, receive_ms: int) -> Parsed:
        """``{"arg":{"channel":"mark-price",..},"data":[{"instId","markPx","ts"}]}``."""
        events: list[Event] = []
        for item in objects(obj, "data", "mark-price"):
            symbol = text(item, "instId", "mark-price")
            funding_rate, next_funding = self._funding.get(symbol, (None, None))
            events.append(PriceEvent(
                instrument=f"{NAME}:{symbol}",
                mark=number(item, "markPx", "mark-price"),
                index=self._index.get(index_id(symbol)),
                funding_rate=funding_rate,
                next_funding_ms=next_funding,
                ts_event_ms=time_ms(item, "ts", "mark-price"),
                ts_receive_ms=receive_ms,
            ))
        return Parsed(events=tuple(events))

    def _funding_rate(self, obj: JsonObject, receive_ms: int) -> Parsed:  # noqa: ARG002 -- handler signature
        """``{"data":[{"instId","fundingRate","fundingTime","nextFundingTime",..}]}``: cached only."""
        updates = {
            text(item, "instId", "funding-rate"): (
                number(item, "fundingRate", "funding-rate"),
                optional_time_ms(item, "fundingTime", "funding-rate"),
            )
            for item in objects(obj, "data", "funding-rate")
        }
        self._funding.update(updates)
        return Parsed()

    def _index_ticker(self, obj: JsonObject, receive_ms: int) -> Parsed:
        """``{"data":[{"instId":"BTC-USDT","idxPx":"..","ts":".."}]}``: cached, and emitted as the
        spot reference price when the index id is a spot instrument of the catalog or configured."""
        events: list[Event] = []
        for item in objects(obj, "data", "index-tickers"):
            index = text(item, "instId", "index-tickers")
            price = number(item, "idxPx", "index-tickers")
            event = PriceEvent(
                instrument=f"{NAME}:{index}", mark=price, index=price, funding_rate=None,
                next_funding_ms=None, ts_event_ms=time_ms(item, "ts", "index-tickers"),
                ts_receive_ms=receive_ms,
            )
            self._index[index] = price
            if self._is_spot_reference(index):
                events.append(event)
        return Parsed(events=tuple(events))

    def _positions(self, obj: JsonObject, receive_ms: int) -> Parsed:
        """Snapshot pages (complete when ``lastPage`` is true) or ``event_update`` pushes."""
        account = self._require_account()
        items = objects(obj, "data", "positions")
        legs = [leg for item in items if (leg := _leg(item)) is not None]
        ts = max((_position_time(item) for item in items), default=receive_ms)
        if obj.get("eventType") == "snapshot":
            if obj.get("curPage") in (None, 1):
                self._snapshot_pages = []
            self._snapshot_pages.extend(legs)
            if obj.get("lastPage") is False:
                return Parsed()
            pages, self._snapshot_pages = self._snapshot_pages, []
            published = self._book.load(pages, also=self._private_symbols())
        else:
            published = self._book.apply(legs)
        return Parsed(events=tuple(position_events(account, NAME, published, ts, receive_ms)))

    def _account_push(self, obj: JsonObject, receive_ms: int) -> Parsed:
        """``{"data":[{"uTime":..,"details":[{"ccy","cashBal","uTime",..}]}]}``."""
        account = self._require_account()
        data = objects(obj, "data", "account")
        events = _balance_events(account, data, receive_ms, None)
        return Parsed(events=events + self._account_margins(account, data, receive_ms, None))

    def _orders(self, obj: JsonObject, receive_ms: int) -> Parsed:
        """``{"arg":{"channel":"orders",..},"data":[{"instType","instId","side","fillSz","fillPx",
        "fillFee","fillFeeCcy","fillTime","category",..}]}``: a fill per derivative order push that
        filled something."""
        account = self._require_account()
        fills: list[Event] = []
        for item in objects(obj, "data", "orders"):
            if text(item, "instType", "order") not in _FUTURES_TYPES:
                continue
            size = optional_number(item, "fillSz", "order")
            if not size:
                continue
            side = text(item, "side", "order")
            if side not in ("buy", "sell"):
                raise FrameError(f"{NAME}: order side must be buy or sell, got {side[:10]!r}")
            price = number(item, "fillPx", "order")
            fee = -(optional_number(item, "fillFee", "order") or 0.0)
            fee_currency = optional_text(item, "fillFeeCcy", "order") or ""
            fills.append(FillEvent(
                portfolio=account.portfolio,
                account=account.account,
                instrument=f"{NAME}:{text(item, 'instId', 'order')}",
                quantity=abs(size) if side == "buy" else -abs(size),
                price=price,
                fee_usd=fee if fee_currency in _USD_FEE_CURRENCIES or not fee_currency else fee * price,
                ts_event_ms=time_ms(item, "fillTime", "order"),
                ts_receive_ms=receive_ms,
                forced=_FORCED_CATEGORIES.get(optional_text(item, "category", "order") or ""),
            ))
        return Parsed(events=tuple(fills))

    # -- resync ---------------------------------------------------------------------------------

    def parse_resync(self, request: HttpRequest, body: bytes, receive_ms: int) -> tuple[Event, ...]:
        """Full positions or balances from ``{"code":"0","msg":"","data":[..]}``."""
        account = self._require_account()
        with frame_errors(NAME):
            obj = as_object(load_json(body, NAME), f"{request.purpose} response")
            code = obj.get("code")
            if code != "0":
                raise FrameError(f"{NAME}: {request.purpose} request failed with code {code!r}")
            data = objects(obj, "data", f"{request.purpose} response")
            if request.purpose == "positions":
                legs = [leg for item in data if (leg := _leg(item)) is not None]
                published = self._book.load(legs, also=self._private_symbols())
                return tuple(position_events(account, NAME, published, receive_ms, receive_ms))
            if request.purpose == "balances":
                return (_balance_events(account, data, receive_ms, receive_ms)
                        + self._account_margins(account, data, receive_ms, receive_ms))
            if request.purpose == "account-config":
                for item in data:
                    level = optional_text(item, "acctLv", "account config")
                    self._account_level = ACCOUNT_LEVELS.get(level or "")
                return ()
        raise FrameError(f"{NAME}: unknown resync purpose {request.purpose!r}")

    def _account_margins(
        self, account: AccountContext, data: list[JsonObject], receive_ms: int, ts_override: int | None
    ) -> tuple[Event, ...]:
        """The account's own ``mgnRatio`` (adjusted equity over maintenance margin; "" when the
        account mode reports none), ``adjEq``, ``mmr``, ``imr`` (USD). The canonical ratio is
        ``1 / mgnRatio`` (liquidation at ``mgnRatio`` 1, i.e. 100 %)."""
        events: list[Event] = []
        for entry in data:
            ratio = optional_number(entry, "mgnRatio", "account")
            if ratio is None:
                continue
            equity = optional_number(entry, "adjEq", "account")
            initial = optional_number(entry, "imr", "account")
            events.append(AccountMarginEvent(
                portfolio=account.portfolio,
                account=account.account,
                mode=self._account_level or "unknown",
                venue_figure="mgnRatio",
                venue_value=ratio,
                maintenance_margin_ratio=1.0 / ratio if ratio > 0 else None,
                liquidation_ratio=1.0,
                equity_usd=equity,
                maintenance_margin_usd=optional_number(entry, "mmr", "account"),
                initial_margin_ratio=(
                    initial / equity if initial is not None and equity is not None and equity > 0
                    else None),
                status=None,
                ts_event_ms=ts_override if ts_override is not None else time_ms(entry, "uTime", "account"),
                ts_receive_ms=receive_ms,
            ))
        return tuple(events)

    # -- helpers --------------------------------------------------------------------------------

    def _signed(self, path: str, purpose: str, now_ms: int) -> HttpRequest:
        """A GET signed per OKX v5 "REST Authentication" (no query string and no body here)."""
        credentials = self._require_credentials()
        timestamp = iso_timestamp_ms(now_ms)
        return HttpRequest(
            method="GET", base_url=self._rest, path=path, purpose=purpose,
            headers={
                "OK-ACCESS-KEY": api_key(credentials),
                "OK-ACCESS-SIGN": hmac_sha256_base64(credentials.api_secret, f"{timestamp}GET{path}"),
                "OK-ACCESS-TIMESTAMP": timestamp,
                "OK-ACCESS-PASSPHRASE": passphrase(credentials),
            },
        )

    def _is_inverse(self, symbol: str) -> bool:
        instrument = self.catalog.get(f"{NAME}:{symbol}")
        if instrument is not None:
            return instrument.kind == "inverse"
        return symbol.split("-")[1] == "USD"

    def _is_spot_reference(self, index: str) -> bool:
        instrument = self.catalog.get(f"{NAME}:{index}")
        return index in self._symbols or (instrument is not None and instrument.kind == "spot")

    def _private_symbols(self) -> tuple[str, ...]:
        """Configured derivatives: reported (closed if flat) after every complete snapshot."""
        return tuple(symbol for symbol in self._symbols if symbol.count("-") >= 2)

def _leg(item: JsonObject) -> tuple[str, str, Leg] | None:
    """One SWAP/FUTURES position leg (``instId``, ``posSide/mgnMode``); None for other types."""
    if text(item, "instType", "position") not in _FUTURES_TYPES:
        return None
    symbol = text(item, "instId", "position")
    side = text(item, "posSide", "position")
    canonical = _POSITION_SIDES.get(side)
    if canonical is None:
        raise FrameError(f"{NAME}: posSide must be net, long or short, got {side[:10]!r}")
    mode: MarginMode = margin_mode(text(item, "mgnMode", "position"), "position")
    # long/short mode sends ``pos`` positive for both legs: the short leg is made negative
    quantity = signed_quantity(number(item, "pos", "position"), canonical)
    leg = Leg(
        quantity=quantity,
        entry_price=number(item, "avgPx", "position") if quantity else 0.0,
        margin_mode=mode,
        isolated_margin=optional_number(item, "margin", "position") if mode == "isolated" else None,
        leverage=positive_or_none(optional_number(item, "lever", "position")),
        updated_ms=optional_time_ms(item, "uTime", "position") or 0,
        figures=venue_figures(
            liquidation_price=optional_number(item, "liqPx", "position"),
            maintenance_margin=optional_number(item, "mmr", "position"),
            margin_ratio=_reciprocal(optional_number(item, "mgnRatio", "position")),
            adl_rank=_adl_rank(item),
            adl_rank_top=ADL_TOP,
        ),
    )
    return symbol, f"{side}/{mode}", leg


def _reciprocal(ratio: float | None) -> float | None:
    """OKX's ``mgnRatio`` (margin over maintenance margin) as maintenance margin over margin."""
    return None if ratio is None or ratio <= 0 else 1.0 / ratio


def _adl_rank(item: JsonObject) -> int | None:
    value = optional_number(item, "adl", "position")
    if value is None:
        return None
    if value != int(value) or not 0 <= value <= ADL_TOP:
        raise FrameError(f"{NAME}: adl must be an integer 0-{ADL_TOP}, got {value}")
    return int(value)


def _position_time(item: JsonObject) -> int:
    push_time = optional_time_ms(item, "pTime", "position")
    return push_time if push_time is not None else time_ms(item, "uTime", "position")


def _balance_events(
    account: AccountContext, data: list[JsonObject], receive_ms: int, ts_override: int | None
) -> tuple[Event, ...]:
    """Balances ``details[].cashBal`` per currency; event time ``uTime`` unless overridden (REST)."""
    events: list[Event] = []
    for entry in data:
        for detail in objects(entry, "details", "account", default_empty=True):
            ts = ts_override
            if ts is None:
                ts = optional_time_ms(detail, "uTime", "balance") or time_ms(entry, "uTime", "account")
            events.append(balance_event(
                account, text(detail, "ccy", "balance"), number(detail, "cashBal", "balance"),
                ts, receive_ms,
            ))
    return tuple(events)
