"""Bybit v5: linear tickers, private position and wallet topics, signed REST resync.

Wire formats: exchange-wire-formats.md §3, from github.com/bybit-exchange/docs (docs/v5/websocket/
wss-authentication.mdx, public/ticker.mdx, private/position.mdx, private/wallet.mdx; docs/v5/guide.mdx
"Authentication"; docs/v5/position/position.mdx; docs/v5/account/wallet-balance.mdx and
account-info.mdx).

Streams:

- ``market``: ``{ws}/v5/public/linear``, ``{"op":"subscribe","args":["tickers.BTCUSDT",..]}`` (at most
  10 topics per request). ``tickers`` sends a snapshot, then deltas carrying only changed fields:
  "If a response param is not found in the message, then its value has not changed". The venue
  merges each delta into the symbol's snapshot (a missing field is never zero) and emits a
  PriceEvent (``markPrice``, ``indexPrice``, ``fundingRate``, ``nextFundingTime``; ``""`` for dated
  futures means no funding) only when a delta changes one of those four fields. A delta before any
  snapshot (just after a reconnect) is skipped until the snapshot arrives.
- ``private``: ``{ws}/v5/private``. On open the venue sends ``{"op":"auth","args":[apiKey, expires,
  signature]}`` with ``signature = hex(HMAC_SHA256(secret, "GET/realtime" + expires))`` and expires
  10 s ahead; the subscription to ``position`` and ``wallet`` is sent as the reply to the auth
  success. A failed auth asks for a reconnect.
- Heartbeat on both: ``{"op":"ping"}`` every 20 s; the pong is ``{"op":"ping","ret_msg":"pong",..}``
  on public and ``{"op":"pong",..}`` on private connections.

Positions (docs/v5/position/position.mdx and websocket/private/position.mdx): ``size`` is unsigned
with direction ``side`` (``Buy``/``Sell``, ``""`` or ``"None"`` when empty); quantity is in coin,
i.e. contracts of size 1 as the catalog defines bybit linear contracts. ``positionIdx`` names the
leg: 0 (one-way mode) is ``position_side`` "one_way", signed by ``side``; 1 ("Buy side of both side
mode") is "long" and 2 ("Sell side") "short", each published on its own (a ``side`` contradicting
the index is refused). Margin mode: ``tradeMode`` 0 cross / 1 isolated on classic accounts and
for inverse on unified ones; unified accounts otherwise always send 0 ("depreciated") and set the
mode account-wide, read from ``GET /v5/account/info`` ``marginMode`` (``ISOLATED_MARGIN`` =
isolated). ``isolated_margin`` is ``positionBalance`` ("Position margin"), not ``positionIM``
("Initial margin"): Bybit's help article "Position Margin" gives "Position margin (isolated margin
mode) = initial margin + fee to close", the margin placed into the isolated position (added
margin included, unrealised PnL not, which is ``unrealisedPnl``), in the settlement coin; None
for cross. ``leverage`` ``""`` (portfolio margin) is None. ``risk_limit_value`` is
``riskLimitValue`` ("Risk limit value corresponding to riskId", in the settlement coin: USDT for
linear, e.g. "2000000", the coin for inverse, e.g. "150"), None unless positive (portfolio margin
sends ``""`` on the stream and "0" on REST: "risk limit rules are invalid").

Balances: the ``wallet`` topic's ``coin[].walletBalance`` (excludes unrealised PnL).

The venue's own figures (docs/venue-fields.md): a leg's ``liqPrice`` (``""`` when none: unknown),
``positionMM`` (maintenance margin, settlement coin) and ``adlRankIndicator`` (0-5, 5 the next to
be deleveraged; 0 "empty") ride on the position; a unified account's wallet (``accountType``
UNIFIED) gives an AccountMarginEvent: ``accountMMRate`` (the account maintenance margin rate,
liquidation at 100 %: docs/v5/account/wallet-balance.mdx), ``accountIMRate``,
``totalMaintenanceMargin`` and ``totalMarginBalance`` (USD); ``""`` (classic account) is unknown.

Fills: the ``execution`` topic's ``execType`` Trade/BlockTrade (own trades), BustTrade
(liquidation) and AdlTrade (auto-deleveraging) give a FillEvent (``execQty`` signed by ``side``,
``execPrice``, ``execFee`` in the settlement coin: USD(T) 1:1 for linear, coin times ``execPrice``
for inverse); Funding, Settle and Delivery are not trades.

Resync: ``GET /v5/account/info``; ``/v5/position/list`` three times (``category=linear`` with
``settleCoin=USDT`` and with ``settleCoin=USDC``, and ``category=inverse``; each lists positions with
size > 0, at most 200 per request, no paging); ``/v5/account/wallet-balance?accountType=UNIFIED``.
The three position lists together are one complete snapshot: it is loaded (and a previously open
symbol missing from it published closed) when the last of them arrives. Requests are signed with
``X-BAPI-SIGN = hex(HMAC_SHA256(secret, timestamp + apiKey + recvWindow + queryString))`` and the
``X-BAPI-API-KEY``, ``X-BAPI-TIMESTAMP``, ``X-BAPI-RECV-WINDOW`` headers. REST snapshot events carry
the receive time as event time; stream events carry the message ``creationTime`` / ``ts``.
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
    integer,
    load_json,
    number,
    objects,
    optional_number,
    optional_text,
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
from monitor.venues.listings.bybit import BybitListings
from monitor.venues.signing import Redacted, api_key, hmac_sha256_hex, query_string

NAME = "bybit"
PRODUCTION_WS_URL = "wss://stream.bybit.com"
PRODUCTION_REST_URL = "https://api.bybit.com"
MARKET = "market"
PRIVATE = "private"
RECV_WINDOW_MS = 5000
AUTH_VALIDITY_MS = 10_000
TOPICS_PER_REQUEST = 10
PING_FRAME = dump_json({"op": "ping"})
PRIVATE_TOPICS = ("position", "wallet", "execution")
ADL_TOP = 5
"""``adlRankIndicator`` runs 0-5 (docs/v5/position/position.mdx: "Auto-deleverage rank indicator")."""
_OWN_EXECUTIONS = frozenset({"Trade", "BlockTrade"})
_FORCED_EXECUTIONS: dict[str, ForcedFill] = {"BustTrade": "liquidation", "AdlTrade": "adl"}
ACCOUNT_INFO_PATH = "/v5/account/info"
POSITIONS_PATH = "/v5/position/list"
WALLET_PATH = "/v5/account/wallet-balance"
# (purpose, query) of the position-list requests that together form one complete snapshot
POSITION_QUERIES: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("positions-linear-USDT", (("category", "linear"), ("settleCoin", "USDT"), ("limit", "200"))),
    ("positions-linear-USDC", (("category", "linear"), ("settleCoin", "USDC"), ("limit", "200"))),
    ("positions-inverse", (("category", "inverse"), ("limit", "200"))),
)

_SYMBOL = r"[A-Z0-9][A-Z0-9-]{1,30}"
_POSITION_PURPOSES = frozenset(purpose for purpose, _ in POSITION_QUERIES)
_PRICE_FIELDS = frozenset({"markPrice", "indexPrice", "fundingRate", "nextFundingTime"})
_POSITION_SIDES: dict[str, PositionSide] = {"0": "one_way", "1": "long", "2": "short"}
_SIDE_OF_INDEX = {"1": "Buy", "2": "Sell"}
_FUTURES_CATEGORIES = frozenset({"linear", "inverse"})


class Bybit(BybitListings, VenueSession):
    """Bybit v5 venue (instrument ids ``bybit:<SYMBOL>``)."""

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
        self._tickers: dict[str, dict[str, object]] = {}
        self._inverse: set[str] = set()
        self._book = PositionBook(_POSITION_SIDES.__getitem__, lambda symbol: symbol in self._inverse)
        self._account_isolated = False
        self._pending_lists: set[str] = set()
        self._pending_legs: list[tuple[str, str, Leg]] = []
        self._handlers: dict[str, Callable[[JsonObject, int], Parsed]] = {
            "tickers": self._ticker,
            "position": self._position,
            "wallet": self._wallet,
            "execution": self._execution,
        }

    # -- connection -----------------------------------------------------------------------------

    def connect_plan(self, stream: str, now_ms: int, setup_response: bytes | None) -> StreamPlan:  # noqa: ARG002 -- Venue protocol
        """Public linear URL with ticker subscriptions, or the private URL with the auth frame."""
        self._check_stream(stream)
        if stream == MARKET:
            topics = [f"tickers.{symbol}" for symbol in self._symbols]
            frames = tuple(
                dump_json({"op": "subscribe", "args": topics[i : i + TOPICS_PER_REQUEST]})
                for i in range(0, len(topics), TOPICS_PER_REQUEST)
            )
            return StreamPlan(
                url=f"{self._ws}/v5/public/linear", on_open=frames,
                ping_frame=PING_FRAME, ping_interval_s=20.0, stale_after_s=30.0,
            )
        return StreamPlan(
            url=f"{self._ws}/v5/private", on_open=(self.auth_frame(now_ms),),
            ping_frame=PING_FRAME, ping_interval_s=20.0, stale_after_s=60.0,
        )

    def auth_frame(self, now_ms: int) -> Redacted:
        """``{"op":"auth","args":[apiKey, expires, hex(HMAC_SHA256(secret, "GET/realtime"+expires))]}``."""
        credentials = self._require_credentials()
        expires = now_ms + AUTH_VALIDITY_MS
        signature = hmac_sha256_hex(credentials.api_secret, f"GET/realtime{expires}")
        return Redacted(dump_json({
            "req_id": "auth", "op": "auth", "args": [str(api_key(credentials)), expires, signature],
        }))

    @staticmethod
    def private_subscribe_frame() -> str:
        """``{"op":"subscribe","args":["position","wallet","execution"]}``, sent after the auth
        success."""
        return dump_json({"req_id": "subscribe", "op": "subscribe", "args": list(PRIVATE_TOPICS)})

    def reset(self, stream: str) -> None:
        """Forget ticker snapshots (market) or position legs (private)."""
        self._check_stream(stream)
        if stream == MARKET:
            self._tickers.clear()
        else:
            self._book.clear()

    def keepalive_request(self, stream: str, now_ms: int) -> HttpRequest | None:  # noqa: ARG002 -- Venue protocol
        """None: Bybit needs no REST keepalive."""
        self._check_stream(stream)
        return None

    def resync_requests(self, now_ms: int) -> tuple[HttpRequest, ...]:
        """Signed account info, the three position lists and the unified wallet; none without an
        account. Starts a new resync round: the position snapshot loads when all lists arrived."""
        if self._credentials is None:
            return ()
        self._pending_lists = {purpose for purpose, _ in POSITION_QUERIES}
        self._pending_legs = []
        return (
            self._signed(ACCOUNT_INFO_PATH, "account-info", (), now_ms),
            *(self._signed(POSITIONS_PATH, purpose, query, now_ms) for purpose, query in POSITION_QUERIES),
            self._signed(WALLET_PATH, "balances", (("accountType", "UNIFIED"),), now_ms),
        )

    # -- frames ---------------------------------------------------------------------------------

    def parse(self, stream: str, frame: str | bytes, receive_ms: int) -> Parsed:
        """Read a control response (auth, subscribe, pong) or a topic push."""
        self._check_stream(stream)
        with frame_errors(NAME):
            obj = as_object(load_json(frame, NAME), "frame")
            if "op" in obj:
                return self._control(obj)
            topic = text(obj, "topic", "push")
            handler = self._handlers.get(topic.partition(".")[0])
            return handler(obj, receive_ms) if handler else Parsed(kind=FrameKind.IGNORED)

    def _control(self, obj: JsonObject) -> Parsed:
        """Auth, subscribe and ping responses (public pong: ``op`` "ping", ``ret_msg`` "pong")."""
        op = text(obj, "op", "response")
        success = obj.get("success")
        if op in ("ping", "pong"):
            return Parsed(kind=FrameKind.PONG)
        if op == "auth":
            if success is True:
                return Parsed(kind=FrameKind.ACK, replies=(self.private_subscribe_frame(),))
            return Parsed(kind=FrameKind.ACK, reconnect_reason=f"{NAME}: authentication failed")
        if op in ("subscribe", "unsubscribe"):
            if success is not True:
                message = optional_text(obj, "ret_msg", "response") or ""
                raise FrameError(f"{NAME}: {op} rejected: {message[:200]}")
            return Parsed(kind=FrameKind.ACK)
        return Parsed(kind=FrameKind.IGNORED)

    def _ticker(self, obj: JsonObject, receive_ms: int) -> Parsed:
        """``{"topic":"tickers.BTCUSDT","type":"snapshot"|"delta","data":{..},"cs":..,"ts":..}``."""
        kind = text(obj, "type", "tickers")
        data = as_object(required(obj, "data", "tickers"), "tickers data")
        symbol = text(data, "symbol", "tickers data")
        ts = time_ms(obj, "ts", "tickers")
        if kind == "snapshot":
            merged = dict(data)
        elif kind == "delta":
            known = self._tickers.get(symbol)
            if known is None:
                return Parsed()
            merged = {**known, **data}
        else:
            raise FrameError(f"{NAME}: tickers type must be snapshot or delta, got {kind[:20]!r}")
        event = PriceEvent(
            instrument=f"{NAME}:{symbol}",
            mark=number(merged, "markPrice", "tickers"),
            index=optional_number(merged, "indexPrice", "tickers"),
            funding_rate=optional_number(merged, "fundingRate", "tickers"),
            next_funding_ms=optional_time_ms(merged, "nextFundingTime", "tickers"),
            ts_event_ms=ts,
            ts_receive_ms=receive_ms,
        )
        self._tickers[symbol] = merged
        if kind == "delta" and not _PRICE_FIELDS.intersection(data):
            return Parsed()
        return Parsed(events=(event,))

    def _position(self, obj: JsonObject, receive_ms: int) -> Parsed:
        """``{"topic":"position","creationTime":..,"data":[{"symbol","side","size","entryPrice",
        "positionIdx","tradeMode","leverage","positionBalance","category",..}]}``."""
        account = self._require_account()
        ts = time_ms(obj, "creationTime", "position")
        legs = [
            leg for p in objects(obj, "data", "position")
            if (leg := self._leg(p, entry_field="entryPrice")) is not None
        ]
        return Parsed(events=tuple(position_events(account, NAME, self._book.apply(legs), ts, receive_ms)))

    def _wallet(self, obj: JsonObject, receive_ms: int) -> Parsed:
        """``{"topic":"wallet","creationTime":..,"data":[{"coin":[{"coin","walletBalance",..}],..}]}``."""
        account = self._require_account()
        ts = time_ms(obj, "creationTime", "wallet")
        return Parsed(events=_wallet_events(account, objects(obj, "data", "wallet"), ts, receive_ms))

    def _execution(self, obj: JsonObject, receive_ms: int) -> Parsed:
        """``{"topic":"execution","creationTime":..,"data":[{"category","symbol","execQty",
        "execPrice","execFee","execType","side","execTime",..}]}``: one fill per trade."""
        account = self._require_account()
        time_ms(obj, "creationTime", "execution")
        fills: list[Event] = []
        for item in objects(obj, "data", "execution"):
            kind = text(item, "execType", "execution")
            category = optional_text(item, "category", "execution")
            if kind not in _OWN_EXECUTIONS and kind not in _FORCED_EXECUTIONS:
                continue
            if category is not None and category not in _FUTURES_CATEGORIES:
                continue
            side = text(item, "side", "execution")
            if side not in ("Buy", "Sell"):
                raise FrameError(f"{NAME}: execution side must be Buy or Sell, got {side[:10]!r}")
            quantity = abs(number(item, "execQty", "execution"))
            price = number(item, "execPrice", "execution")
            fee = optional_number(item, "execFee", "execution") or 0.0
            fills.append(FillEvent(
                portfolio=account.portfolio,
                account=account.account,
                instrument=f"{NAME}:{text(item, 'symbol', 'execution')}",
                quantity=quantity if side == "Buy" else -quantity,
                price=price,
                fee_usd=fee * price if category == "inverse" else fee,
                ts_event_ms=time_ms(item, "execTime", "execution"),
                ts_receive_ms=receive_ms,
                forced=_FORCED_EXECUTIONS.get(kind),
            ))
        return Parsed(events=tuple(fills))

    def _leg(self, p: JsonObject, *, entry_field: str) -> tuple[str, str, Leg] | None:
        """One position leg; None for option positions. REST calls the entry ``avgPrice``."""
        category = optional_text(p, "category", "position")
        if category is not None and category not in _FUTURES_CATEGORIES:
            return None
        symbol = text(p, "symbol", "position")
        if category == "inverse":
            self._inverse.add(symbol)
        index = str(integer(p, "positionIdx", "position"))
        if index not in _POSITION_SIDES:
            raise FrameError(f"{NAME}: positionIdx must be 0, 1 or 2, got {index[:20]}")
        side = optional_text(p, "side", "position") or ""
        size = number(p, "size", "position")
        if side == "Buy":
            quantity = abs(size)
        elif side == "Sell":
            quantity = -abs(size)
        elif side in ("", "None") and size == 0:
            quantity = 0.0
        else:
            raise FrameError(f"{NAME}: position side {side[:10]!r} does not fit size {size}")
        if quantity != 0 and _SIDE_OF_INDEX.get(index, side) != side:
            raise FrameError(f"{NAME}: positionIdx {index} cannot hold a {side} position")
        isolated = self._account_isolated or optional_number(p, "tradeMode", "position") == 1
        mode: MarginMode = "isolated" if isolated else "cross"
        leg = Leg(
            quantity=quantity,
            entry_price=number(p, entry_field, "position") if quantity else 0.0,
            margin_mode=mode,
            isolated_margin=optional_number(p, "positionBalance", "position") if isolated else None,
            leverage=positive_or_none(optional_number(p, "leverage", "position")),
            updated_ms=optional_time_ms(p, "updatedTime", "position") or 0,
            risk_limit_value=positive_or_none(optional_number(p, "riskLimitValue", "position")),
            figures=venue_figures(
                liquidation_price=optional_number(p, "liqPrice", "position"),
                maintenance_margin=optional_number(p, "positionMM", "position"),
                adl_rank=_adl_rank(p),
                adl_rank_top=ADL_TOP,
            ),
        )
        return symbol, index, leg

    # -- resync ---------------------------------------------------------------------------------

    def parse_resync(self, request: HttpRequest, body: bytes, receive_ms: int) -> tuple[Event, ...]:
        """Account margin mode, full positions or wallet balances from a v5 REST response."""
        account = self._require_account()
        with frame_errors(NAME):
            obj = as_object(load_json(body, NAME), f"{request.purpose} response")
            code = obj.get("retCode")
            if code != 0:
                raise FrameError(f"{NAME}: {request.purpose} request failed with retCode {code!r}")
            result = as_object(required(obj, "result", "response"), "result")
            if request.purpose == "account-info":
                mode = optional_text(result, "marginMode", "account info")
                self._account_isolated = mode == "ISOLATED_MARGIN"
                return ()
            if request.purpose in _POSITION_PURPOSES:
                return self._position_list(account, result, request.purpose, receive_ms)
            if request.purpose == "balances":
                wallets = objects(result, "list", "wallet balance")
                return _wallet_events(account, wallets, receive_ms, receive_ms)
        raise FrameError(f"{NAME}: unknown resync purpose {request.purpose!r}")

    def _position_list(
        self, account: AccountContext, result: JsonObject, purpose: str, receive_ms: int
    ) -> tuple[Event, ...]:
        """Collect one position list; load the snapshot when the last list of this resync arrived.
        A list that is not awaited (a retry after the round completed) is ignored: alone it is
        not a complete snapshot."""
        if purpose not in self._pending_lists:
            return ()
        legs = [
            leg for p in objects(result, "list", "position list")
            if (leg := self._leg(p, entry_field="avgPrice")) is not None
        ]
        if result.get("category") == "inverse":
            self._inverse.update(symbol for symbol, _, _ in legs)
        self._pending_legs.extend(legs)
        self._pending_lists.discard(purpose)
        if self._pending_lists:
            return ()
        legs, self._pending_legs = self._pending_legs, []
        published = self._book.load(legs, also=self._symbols)
        return tuple(position_events(account, NAME, published, receive_ms, receive_ms))

    # -- helpers --------------------------------------------------------------------------------

    def _signed(
        self, path: str, purpose: str, pairs: tuple[tuple[str, str], ...], now_ms: int
    ) -> HttpRequest:
        """A GET signed per Bybit v5 "Integration Guidance: Authentication" (GET rule:
        ``timestamp + apiKey + recvWindow + queryString``, HMAC-SHA256, hex)."""
        credentials = self._require_credentials()
        key = api_key(credentials)
        timestamp = str(now_ms)
        payload = f"{timestamp}{key}{RECV_WINDOW_MS}{query_string(pairs)}"
        return HttpRequest(
            method="GET", base_url=self._rest, path=path, purpose=purpose, query=pairs,
            headers={
                "X-BAPI-API-KEY": key,
                "X-BAPI-TIMESTAMP": timestamp,
                "X-BAPI-RECV-WINDOW": str(RECV_WINDOW_MS),
                "X-BAPI-SIGN": hmac_sha256_hex(credentials.api_secret, payload),
            },
        )

def _adl_rank(p: JsonObject) -> int | None:
    if "adlRankIndicator" not in p or p["adlRankIndicator"] in ("", None):
        return None
    rank = integer(p, "adlRankIndicator", "position")
    if not 0 <= rank <= ADL_TOP:
        raise FrameError(f"{NAME}: adlRankIndicator must be 0-{ADL_TOP}, got {rank}")
    return rank


def _wallet_events(
    account: AccountContext, wallets: list[JsonObject], ts: int, receive_ms: int
) -> tuple[Event, ...]:
    events: list[Event] = [
        balance_event(account, text(c, "coin", "coin"), number(c, "walletBalance", "coin"), ts, receive_ms)
        for wallet in wallets
        for c in objects(wallet, "coin", "wallet")
    ]
    for wallet in wallets:
        margin = _account_margin(account, wallet, ts, receive_ms)
        if margin is not None:
            events.append(margin)
    return tuple(events)


def _account_margin(
    account: AccountContext, wallet: JsonObject, ts: int, receive_ms: int
) -> AccountMarginEvent | None:
    """A unified account's own margin figures: ``accountMMRate`` is the account maintenance margin
    rate (``totalMaintenanceMargin / totalMarginBalance``; liquidation at 100 %, Bybit "Unified
    Trading Account: liquidation"); None for a classic account (``""``)."""
    if optional_text(wallet, "accountType", "wallet") != "UNIFIED":
        return None
    rate = optional_number(wallet, "accountMMRate", "wallet")
    if rate is None:
        return None
    return AccountMarginEvent(
        portfolio=account.portfolio,
        account=account.account,
        mode="unified",
        venue_figure="accountMMRate",
        venue_value=rate,
        maintenance_margin_ratio=rate,
        liquidation_ratio=1.0,
        equity_usd=optional_number(wallet, "totalMarginBalance", "wallet"),
        maintenance_margin_usd=optional_number(wallet, "totalMaintenanceMargin", "wallet"),
        initial_margin_ratio=optional_number(wallet, "accountIMRate", "wallet"),
        status=None,
        ts_event_ms=ts,
        ts_receive_ms=receive_ms,
    )
