"""Binance USDⓈ-M futures: mark prices, the listenKey user data stream and the signed REST resync.

Wire formats: exchange-wire-formats.md §1, from developers.binance.com USDⓈ-M pages
"websocket-market-streams", "Important-WebSocket-Change-Notice", "Mark-Price-Stream",
"user-data-streams", "Event-Balance-and-Position-Update", "Event-Order-Update", "Event-Margin-Call",
"Event-User-Data-Stream-Expired", "Event-Account-Configuration-Update-previous-Leverage-Update",
"Position-Information-V2", "Account-Information-V2", "Get-Current-Multi-Assets-Mode" and the
"SIGNED Endpoint security" section of the REST general info.

Streams:

- ``market``: ``{ws}/market/stream?streams=btcusdt@markPrice@1s/...``. Since 2026 the base URL is
  routed; markPrice lives under ``/market`` and an unrouted connection silently receives nothing.
  Frames come in the combined-stream wrapper ``{"stream": .., "data": ..}``.
  ``!markPrice@arr`` arrays are accepted too (only the configured symbols are emitted).
- ``private`` (only with an account): ``stream_setup`` is ``POST /fapi/v1/listenKey`` (API-key
  header), then ``{ws}/private/ws?listenKey=<key>``. No ``events=`` filter is sent: the parameter is
  optional and omitting it delivers every user-data event (a list could silently exclude
  ``listenKeyExpired``); unknown events are ignored here. The key lives 60 minutes;
  ``keepalive_request`` is ``PUT /fapi/v1/listenKey`` every 30 minutes. ``listenKeyExpired`` (whose
  ``E`` is a string) asks the supervisor to reconnect, which creates a new key.
- Both: Binance closes every connection at 24 h, so ``max_connection_age_s`` is 23.5 h and the
  supervisor reconnects first. The server sends ping control frames every 3 minutes that the
  websocket library answers, so there is no application ping (``ping_frame`` None). The private
  stream can be silent for hours, so its ``stale_after_s`` is long; protocol pings detect a dead link.

Decisions:

- Positions: ``ACCOUNT_UPDATE.a.P`` carries only changed legs (may be ``[]``). Each leg is its own
  canonical position, named by ``ps`` / ``positionSide``: ``BOTH`` (one-way mode) is
  ``position_side`` "one_way" with the sign of ``pa``; hedge mode's ``LONG`` and ``SHORT`` are
  "long" (quantity >= 0) and "short" (quantity <= 0). Binance sends a SHORT leg's ``pa`` /
  ``positionAmt`` negative (doc examples ``"pa":"-10"`` and ``"positionAmt": "-10.000"``); the
  sign is forced from the side whatever the wire holds. ``isolated_margin`` is the leg's isolated
  wallet ``iw`` / ``isolatedWallet`` (excludes unrealised PnL, risk-definitions.md "Margin"); None
  for cross. Leverage is not in ACCOUNT_UPDATE: it comes from ``positionRisk`` and
  ``ACCOUNT_CONFIG_UPDATE`` ``ac`` and is remembered per symbol.
- Account mode: ``ACCOUNT_CONFIG_UPDATE`` ``ai.j`` and ``GET /fapi/v1/multiAssetsMargin``
  (``{"multiAssetsMargin": true}``) give an AccountModeEvent (Multi-Assets Mode on or off).
- ``MARGIN_CALL`` carries no full state (and ``mt`` is ``"CROSSED"`` there): it emits nothing and
  asks for a resync, so positions are refreshed from REST in case one was liquidated meanwhile.
- ``ORDER_TRADE_UPDATE`` with execution type TRADE or CALCULATED (liquidation) and a non-zero last
  filled quantity ``l`` gives a FillEvent (quantity signed by side ``S``, price ``L``). The
  commission ``n`` is in asset ``N``: counted 1:1 as USD when ``N`` is USDT, USDC or USD; any other
  asset (e.g. BNB fee discount) gives ``fee_usd = 0.0`` because the venue has no price for it, so
  such fees are under-reported.
- Balances: ``B[].wb`` / ``walletBalance`` is the quantity (the wallet, isolated wallets included);
  ``B[].cw`` / ``crossWalletBalance`` ("Cross Wallet Balance": the wallet without the isolated
  wallets) is ``cross_wallet`` (None when absent).
- The venue's own figures (docs/venue-fields.md): positionRisk ``liquidationPrice`` ("0" when
  none: unknown) is the leg's ``venue_liquidation_price``; ``GET /fapi/v1/adlQuantile``
  ("Position ADL Quantile Estimation": ``{"symbol","adlQuantile":{"LONG","SHORT","BOTH"|"HEDGE"}}``,
  0-4 from low to high, "HEDGE" only a sign) is each leg's ``adl_rank`` of top 4, published as the
  leg again. ACCOUNT_UPDATE carries neither (the book keeps the last figures while the leg is
  unchanged).
- Forced fills: a client order id ``adl_autoclose`` is an auto-deleveraging fill (``forced`` adl);
  execution type CALCULATED, a client order id ``autoclose-…`` or order type LIQUIDATION is a
  liquidation ("Event: Order Update": "special client order ID").
- Portfolio Margin (``portfolio_margin=True``): the account's own figures come from signed ``GET
  /papi/v1/account`` on ``papi_base_url`` (Portfolio Margin "Account Information": ``uniMMR`` =
  account equity / maintenance margin, ``accountEquity``, ``accountMaintMargin``,
  ``accountInitialMargin`` in USD, ``accountStatus`` NORMAL ... FORCE_LIQUIDATION), an
  AccountMarginEvent whose ratio is ``1 / uniMMR``, liquidation at uniMMR 1.05 (Binance
  "How Does Liquidation Work in the Binance Portfolio Margin Account": "Liquidation occurs when an
  account's uniMMR falls below 105 %").
- Resync: signed ``GET /fapi/v2/positionRisk``, ``GET /fapi/v2/account``, ``GET
  /fapi/v1/multiAssetsMargin`` and ``GET /fapi/v1/adlQuantile`` (HMAC-SHA256 hex of the query
  string with ``recvWindow`` and ``timestamp``, ``X-MBX-APIKEY`` header). positionRisk lists every
  symbol and, in hedge mode, both legs; positions are emitted for open legs, legs last reported open
  and (flat, every leg) configured symbols with nothing open. REST snapshot events carry the
  receive time as event time.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import partial
from typing import ClassVar

from monitor.domain.events import (
    AccountMarginEvent,
    AccountModeEvent,
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
    VenueFigures,
    VenueSession,
    as_list,
    as_object,
    balance_event,
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
from monitor.venues.listings.binance_usdm import BinanceUsdmListings
from monitor.venues.signing import api_key, hmac_sha256_hex, query_string

NAME = "binance"
PRODUCTION_WS_URL = "wss://fstream.binance.com"
PRODUCTION_REST_URL = "https://fapi.binance.com"
MARKET = "market"
PRIVATE = "private"
RECV_WINDOW_MS = 5000
LISTEN_KEY_KEEPALIVE_S = 30 * 60.0
MAX_CONNECTION_AGE_S = 23.5 * 3600
PRIVATE_STALE_AFTER_S = 3600.0
LISTEN_KEY_PATH = "/fapi/v1/listenKey"
POSITIONS_PATH = "/fapi/v2/positionRisk"
ACCOUNT_PATH = "/fapi/v2/account"
MULTI_ASSETS_PATH = "/fapi/v1/multiAssetsMargin"
ADL_PATH = "/fapi/v1/adlQuantile"
PRODUCTION_PAPI_URL = "https://papi.binance.com"
PM_ACCOUNT_PATH = "/papi/v1/account"
PM_LIQUIDATION_UNI_MMR = 1.05
"""Portfolio Margin liquidates when uniMMR falls below 105 % (the Binance FAQ above)."""
ADL_TOP = 4
"""adlQuantile values are 0, 1, 2, 3, 4 "from low to high" (Position ADL Quantile Estimation)."""

_SYMBOL = r"[A-Z0-9]{2,30}(?:_[0-9]{6})?"
_LISTEN_KEY = re.compile(r"[A-Za-z0-9]{1,128}")
_USD_FEE_ASSETS = frozenset({"USDT", "USDC", "USD"})
_POSITION_SIDES: dict[str, PositionSide] = {"BOTH": "one_way", "LONG": "long", "SHORT": "short"}
_FILL_EXECUTIONS = frozenset({"TRADE", "CALCULATED"})


def _side_of(key: str) -> PositionSide:
    """The canonical leg of a ``ps`` / ``positionSide`` (checked by ``_leg`` before it is a key)."""
    return _POSITION_SIDES[key]


class BinanceUsdm(BinanceUsdmListings, VenueSession):
    """Binance USDⓈ-M futures venue (instrument ids ``binance:<SYMBOL>``).

    Binance COIN-M (``monitor.venues.binance_coinm``) speaks the same user-data and REST shapes on
    other hosts and paths: it subclasses this class and sets the wire facts below to its own.
    """

    needs_passphrase: ClassVar[bool] = False
    takes_ws_api_url: ClassVar[bool] = False
    wire_name: ClassVar[str] = NAME
    symbol_pattern: ClassVar[str] = _SYMBOL
    listen_key_path: ClassVar[str] = LISTEN_KEY_PATH
    positions_path: ClassVar[str] = POSITIONS_PATH
    account_path: ClassVar[str] = ACCOUNT_PATH
    account_mode_path: ClassVar[str | None] = MULTI_ASSETS_PATH
    adl_path: ClassVar[str | None] = ADL_PATH
    inverse: ClassVar[bool] = False
    """Whether the venue's contracts are inverse (hedge legs net by ``1 / EP``)."""
    production_ws_url: ClassVar[str] = PRODUCTION_WS_URL
    production_rest_url: ClassVar[str] = PRODUCTION_REST_URL

    def __init__(
        self,
        *,
        symbols: Sequence[str],
        account: AccountContext | None = None,
        ws_base_url: str | None = None,
        rest_base_url: str | None = None,
        catalog: Catalog | None = None,
        portfolio_margin: bool = False,
        papi_base_url: str = PRODUCTION_PAPI_URL,
    ) -> None:
        self._start_session(self.wire_name, symbols, self.symbol_pattern, account, catalog)
        self._ws = (ws_base_url or self.production_ws_url).rstrip("/")
        self._rest = (rest_base_url or self.production_rest_url).rstrip("/")
        self._portfolio_margin = portfolio_margin
        self._papi = papi_base_url.rstrip("/")
        self._book = PositionBook(_side_of, lambda _symbol: self.inverse)
        self._leverage: dict[str, float] = {}
        self._handlers: dict[str, Callable[[JsonObject, int], Parsed]] = {
            "markPriceUpdate": self._mark_price,
            "ACCOUNT_UPDATE": self._account_update,
            "ORDER_TRADE_UPDATE": self._order_trade_update,
            "MARGIN_CALL": self._margin_call,
            "listenKeyExpired": self._listen_key_expired,
            "ACCOUNT_CONFIG_UPDATE": self._account_config_update,
        }

    # -- connection -----------------------------------------------------------------------------

    def stream_setup(self, stream: str, now_ms: int) -> HttpRequest | None:  # noqa: ARG002 -- Venue protocol
        """``POST /fapi/v1/listenKey`` before the private stream; nothing before the market one."""
        self._check_stream(stream)
        if stream != PRIVATE:
            return None
        return HttpRequest(
            method="POST", base_url=self._rest, path=self.listen_key_path, purpose="listenKey",
            headers=self._key_header(),
        )

    def connect_plan(self, stream: str, now_ms: int, setup_response: bytes | None) -> StreamPlan:  # noqa: ARG002 -- Venue protocol
        """Routed market URL with the mark price streams, or the private URL with the listenKey."""
        self._check_stream(stream)
        if stream == MARKET:
            streams = "/".join(f"{symbol.lower()}@markPrice@1s" for symbol in self._symbols)
            return StreamPlan(
                url=self._market_url(streams),
                ping_frame=None, ping_interval_s=20.0, stale_after_s=10.0,
                max_connection_age_s=MAX_CONNECTION_AGE_S,
            )
        if setup_response is None:
            raise FrameError(f"{self.name}: the private stream needs the listenKey response")
        with frame_errors(self.name):
            body = as_object(load_json(setup_response, self.name), "listenKey response")
            listen_key = text(body, "listenKey", "listenKey response")
        if not _LISTEN_KEY.fullmatch(listen_key):
            raise FrameError(f"{self.name}: the listenKey response holds an invalid key")
        return StreamPlan(
            url=self._private_url(listen_key),
            ping_frame=None, ping_interval_s=20.0, stale_after_s=PRIVATE_STALE_AFTER_S,
            keepalive_interval_s=LISTEN_KEY_KEEPALIVE_S, max_connection_age_s=MAX_CONNECTION_AGE_S,
        )

    def reset(self, stream: str) -> None:
        """Forget position legs and leverage before the private stream reconnects (resync rebuilds them)."""
        self._check_stream(stream)
        if stream == PRIVATE:
            self._book.clear()
            self._leverage.clear()

    def keepalive_request(self, stream: str, now_ms: int) -> HttpRequest | None:  # noqa: ARG002 -- Venue protocol
        """``PUT /fapi/v1/listenKey`` for the private stream (extends the key by 60 minutes)."""
        self._check_stream(stream)
        if stream != PRIVATE:
            return None
        return HttpRequest(
            method="PUT", base_url=self._rest, path=self.listen_key_path, purpose="listenKey",
            headers=self._key_header(),
        )

    def resync_requests(self, now_ms: int) -> tuple[HttpRequest, ...]:
        """Signed ``positionRisk``, ``account`` and ``multiAssetsMargin`` requests; none without an
        account."""
        if self._credentials is None:
            return ()
        return (
            self._signed(self.positions_path, "positions", now_ms),
            self._signed(self.account_path, "balances", now_ms),
            *(() if self.account_mode_path is None
              else (self._signed(self.account_mode_path, "account-mode", now_ms),)),
            *(() if self.adl_path is None else (self._signed(self.adl_path, "adl", now_ms),)),
            *((self._signed(PM_ACCOUNT_PATH, "pm-account", now_ms, base_url=self._papi),)
              if self._portfolio_margin else ()),
        )

    # -- frames ---------------------------------------------------------------------------------

    def parse(self, stream: str, frame: str | bytes, receive_ms: int) -> Parsed:
        """Read one market or user-data frame (combined wrapper or raw)."""
        self._check_stream(stream)
        with frame_errors(self.name):
            return self._parse_payload(load_json(frame, self.name), receive_ms)

    def _parse_payload(self, payload: object, receive_ms: int) -> Parsed:
        if isinstance(payload, dict) and "stream" in payload and "data" in payload:
            payload = payload["data"]
        if isinstance(payload, list):
            return self._mark_price_array(payload, receive_ms)
        obj = as_object(payload, "frame")
        if "result" in obj and "id" in obj:
            return Parsed(kind=FrameKind.ACK)
        if "e" not in obj and "code" in obj:
            raise FrameError(f"{self.name}: error response with code {obj['code']!r}")
        handler = self._handlers.get(text(obj, "e", "event"))
        return handler(obj, receive_ms) if handler else Parsed(kind=FrameKind.IGNORED)

    def _mark_price(self, obj: JsonObject, receive_ms: int) -> Parsed:
        return Parsed(events=(_price_event(self.name, obj, receive_ms),))

    def _mark_price_array(self, items: list[object], receive_ms: int) -> Parsed:
        events: list[Event] = []
        for item in as_list(items, "mark price array"):
            obj = as_object(item, "mark price")
            if text(obj, "s", "mark price") in self._symbols:
                events.append(_price_event(self.name, obj, receive_ms))
        return Parsed(events=tuple(events))

    def _account_update(self, obj: JsonObject, receive_ms: int) -> Parsed:
        """``{"e":"ACCOUNT_UPDATE","E":..,"a":{"m":"ORDER","B":[{"a","wb","cw","bc"}],"P":[{"s","pa",
        "ep","mt","iw","ps",..}]}}``: balances of changed assets, changed position legs."""
        account = self._require_account()
        ts = time_ms(obj, "E", "ACCOUNT_UPDATE")
        update = as_object(required(obj, "a", "ACCOUNT_UPDATE"), "ACCOUNT_UPDATE.a")
        events: list[Event] = [
            balance_event(
                account, text(b, "a", "balance"), number(b, "wb", "balance"), ts, receive_ms,
                cross_wallet=optional_number(b, "cw", "balance"),
            )
            for b in objects(update, "B", "ACCOUNT_UPDATE.a", default_empty=True)
        ]
        # Legs are ordered by the transaction time T (Binance: "order your updates using E/T").
        transaction_ms = optional_time_ms(obj, "T", "ACCOUNT_UPDATE") or ts
        legs = [
            (symbol, key, replace(leg, updated_ms=transaction_ms))
            for symbol, key, leg in (
                self._stream_leg(p)
                for p in objects(update, "P", "ACCOUNT_UPDATE.a", default_empty=True)
            )
        ]
        events.extend(position_events(account, self.name, self._book.apply(legs), ts, receive_ms))
        return Parsed(events=tuple(events))

    def _stream_leg(self, p: JsonObject) -> tuple[str, str, Leg]:
        symbol = text(p, "s", "position")
        mode = margin_mode(text(p, "mt", "position"), "position")
        leg = _leg(
            side=text(p, "ps", "position"),
            quantity=number(p, "pa", "position"),
            entry=number(p, "ep", "position"),
            mode=mode,
            isolated_wallet=optional_number(p, "iw", "position") if mode == "isolated" else None,
            leverage=self._leverage.get(symbol),
        )
        return symbol, text(p, "ps", "position"), leg

    def _order_trade_update(self, obj: JsonObject, receive_ms: int) -> Parsed:
        """A fill when the execution type is TRADE/CALCULATED and ``l`` > 0; other updates ignored."""
        account = self._require_account()
        order = as_object(required(obj, "o", "ORDER_TRADE_UPDATE"), "ORDER_TRADE_UPDATE.o")
        filled = number(order, "l", "order")
        if text(order, "x", "order") not in _FILL_EXECUTIONS or filled == 0:
            return Parsed(kind=FrameKind.IGNORED)
        side = text(order, "S", "order")
        if side not in ("BUY", "SELL"):
            raise FrameError(f"{self.name}: order side must be BUY or SELL, got {side[:10]!r}")
        fee_asset = optional_text(order, "N", "order")
        commission = optional_number(order, "n", "order") or 0.0
        client_id = optional_text(order, "c", "order") or ""
        forced: ForcedFill | None = None
        if client_id.startswith("adl_autoclose"):
            forced = "adl"
        elif (text(order, "x", "order") == "CALCULATED" or client_id.startswith("autoclose-")
              or optional_text(order, "o", "order") == "LIQUIDATION"):
            forced = "liquidation"
        price = number(order, "L", "order")
        fill = FillEvent(
            portfolio=account.portfolio,
            account=account.account,
            instrument=f"{self.name}:{text(order, 's', 'order')}",
            quantity=filled if side == "BUY" else -filled,
            price=price,
            fee_usd=self._fee_usd(text(order, 's', 'order'), fee_asset, commission, price),
            ts_event_ms=time_ms(obj, "E", "ORDER_TRADE_UPDATE"),
            ts_receive_ms=receive_ms,
            forced=forced,
        )
        return Parsed(events=(fill,))

    def _margin_call(self, obj: JsonObject, receive_ms: int) -> Parsed:  # noqa: ARG002 -- handler signature
        self._require_account()
        time_ms(obj, "E", "MARGIN_CALL")
        return Parsed(resync=True)

    def _listen_key_expired(self, obj: JsonObject, receive_ms: int) -> Parsed:  # noqa: ARG002 -- handler signature
        time_ms(obj, "E", "listenKeyExpired")
        return Parsed(reconnect_reason="listenKeyExpired")

    def _account_config_update(self, obj: JsonObject, receive_ms: int) -> Parsed:
        """``{"e":"ACCOUNT_CONFIG_UPDATE","E":..,"T":..,"ac":{"s":"BTCUSDT","l":25}}`` (a leverage
        change: the symbol's legs again) or ``..,"ai":{"j":true}}`` (Multi-Assets Mode on or off:
        an AccountModeEvent)."""
        account = self._require_account()
        if "ac" not in obj and "ai" not in obj:
            return Parsed(kind=FrameKind.IGNORED)
        ts = time_ms(obj, "E", "ACCOUNT_CONFIG_UPDATE")
        modes: list[Event] = []
        if "ai" in obj:
            config = as_object(obj["ai"], "ACCOUNT_CONFIG_UPDATE.ai")
            modes.append(_account_mode(
                account, required(config, "j", "ACCOUNT_CONFIG_UPDATE.ai"), "ACCOUNT_CONFIG_UPDATE.ai.j",
                ts, receive_ms,
            ))
        positions: list[Event] = []
        if "ac" in obj:
            config = as_object(obj["ac"], "ACCOUNT_CONFIG_UPDATE.ac")
            symbol = text(config, "s", "ACCOUNT_CONFIG_UPDATE.ac")
            leverage = positive_or_none(number(config, "l", "ACCOUNT_CONFIG_UPDATE.ac"))
            if leverage is None:
                raise FrameError(f"{self.name}: ACCOUNT_CONFIG_UPDATE leverage must be > 0")
            self._leverage[symbol] = leverage
            positions.extend(position_events(
                account, self.name, self._book.set_leverage(symbol, leverage), ts, receive_ms))
        return Parsed(events=(*positions, *modes))

    # -- resync ---------------------------------------------------------------------------------

    def parse_resync(self, request: HttpRequest, body: bytes, receive_ms: int) -> tuple[Event, ...]:
        """Full positions from ``positionRisk``, wallet balances from ``account`` or the account's
        Multi-Assets Mode from ``multiAssetsMargin``."""
        account = self._require_account()
        with frame_errors(self.name):
            payload = load_json(body, self.name)
            if isinstance(payload, dict) and "code" in payload and "msg" in payload:
                raise FrameError(
                    f"{self.name}: {request.purpose} request failed with code {payload['code']!r}")
            if request.purpose == "listenKey":
                return ()  # the keepalive answer ({} or the key) carries no account state
            if request.purpose == "positions":
                return self._positions_snapshot(account, payload, receive_ms)
            if request.purpose == "balances":
                obj = as_object(payload, "account response")
                return tuple(
                    balance_event(
                        account, text(a, "asset", "asset"), number(a, "walletBalance", "asset"),
                        receive_ms, receive_ms,
                        cross_wallet=optional_number(a, "crossWalletBalance", "asset"),
                    )
                    for a in objects(obj, "assets", "account response")
                )
            if request.purpose == "adl":
                return self._adl_quantiles(account, payload, receive_ms)
            if request.purpose == "pm-account":
                return (_portfolio_margin_account(account, as_object(payload, "papi account"), receive_ms),)
            if request.purpose == "account-mode":
                obj = as_object(payload, "multiAssetsMargin response")
                value = required(obj, "multiAssetsMargin", "multiAssetsMargin response")
                return (_account_mode(account, value, "multiAssetsMargin", receive_ms, receive_ms),)
        raise FrameError(f"{self.name}: unknown resync purpose {request.purpose!r}")

    def _positions_snapshot(
        self, account: AccountContext, payload: object, receive_ms: int
    ) -> tuple[Event, ...]:
        """``[{"symbol","positionAmt","entryPrice","marginType","isolatedWallet","leverage",
        "positionSide",..}]`` — every symbol, both legs in hedge mode."""
        legs: list[tuple[str, str, Leg]] = []
        leverage: dict[str, float] = {}
        for item in as_list(payload, "positionRisk response"):
            row = as_object(item, "position")
            symbol = text(row, "symbol", "position")
            mode = margin_mode(text(row, "marginType", "position"), "position")
            symbol_leverage = positive_or_none(optional_number(row, "leverage", "position"))
            if symbol_leverage is not None:
                leverage[symbol] = symbol_leverage
            side = text(row, "positionSide", "position")
            legs.append((symbol, side, _leg(
                side=side,
                quantity=number(row, "positionAmt", "position"),
                entry=number(row, "entryPrice", "position"),
                mode=mode,
                isolated_wallet=(
                    optional_number(row, "isolatedWallet", "position") if mode == "isolated" else None
                ),
                leverage=symbol_leverage,
                updated_ms=optional_time_ms(row, "updateTime", "position") or 0,
                figures=venue_figures(
                    liquidation_price=optional_number(row, "liquidationPrice", "position")),
            )))
        self._leverage = leverage
        published = self._book.load(legs, also=self._symbols)
        return tuple(position_events(account, self.name, published, receive_ms, receive_ms))

    def _adl_quantiles(
        self, account: AccountContext, payload: object, receive_ms: int
    ) -> tuple[Event, ...]:
        """``[{"symbol":"BTCUSDT","adlQuantile":{"LONG":1,"SHORT":2,"BOTH":0}}]``: each known leg
        again, with its ADL quantile (``HEDGE`` is "only a sign, ignore the value")."""
        published: list[tuple[str, PositionSide, Leg]] = []
        for item in as_list(payload, "adlQuantile response"):
            row = as_object(item, "adlQuantile")
            symbol = text(row, "symbol", "adlQuantile")
            quantiles = as_object(required(row, "adlQuantile", "adlQuantile"), "adlQuantile.adlQuantile")
            for key in ("LONG", "SHORT", "BOTH"):
                if key not in quantiles:
                    continue
                rank = quantiles[key]
                if isinstance(rank, bool) or not isinstance(rank, int) or not 0 <= rank <= ADL_TOP:
                    raise FrameError(f"{NAME}: adlQuantile {key} must be an integer 0-{ADL_TOP}")
                published.extend(self._book.annotate(symbol, key, partial(_with_adl, rank)))
        return tuple(position_events(account, NAME, published, receive_ms, receive_ms))

    # -- helpers --------------------------------------------------------------------------------

    def _market_url(self, streams: str) -> str:
        """The routed market URL (``/market/stream``, 2026 routing)."""
        return f"{self._ws}/market/stream?streams={streams}"

    def _private_url(self, listen_key: str) -> str:
        """The routed private URL with the listenKey as a query parameter."""
        return f"{self._ws}/private/ws?listenKey={listen_key}"

    def _fee_usd(self, symbol: str, fee_asset: str | None, commission: float, price: float) -> float:  # noqa: ARG002 -- a COIN-M hook
        """The commission 1:1 in USD when paid in a USD stablecoin, else 0 (no price for it)."""
        return commission if fee_asset in _USD_FEE_ASSETS else 0.0

    def _key_header(self) -> dict[str, str]:
        return {"X-MBX-APIKEY": api_key(self._require_credentials())}

    def _signed(self, path: str, purpose: str, now_ms: int, base_url: str | None = None) -> HttpRequest:
        """A GET signed per Binance "SIGNED Endpoint security": ``signature`` = HMAC-SHA256 hex of
        the query string, with ``recvWindow`` and ``timestamp``."""
        credentials = self._require_credentials()
        pairs = (("recvWindow", str(RECV_WINDOW_MS)), ("timestamp", str(now_ms)))
        signature = hmac_sha256_hex(credentials.api_secret, query_string(pairs))
        return HttpRequest(
            method="GET", base_url=base_url or self._rest, path=path, purpose=purpose,
            query=(*pairs, ("signature", signature)), headers=self._key_header(),
        )


def _price_event(venue: str, obj: JsonObject, receive_ms: int) -> PriceEvent:
    """``{"e":"markPriceUpdate","E":..,"s":"BTCUSDT","p":mark,"i":index,"r":funding,"T":next}``;
    delivery contracts send ``"r":""`` and ``"T":0`` (no funding)."""
    symbol = text(obj, "s", "mark price")
    return PriceEvent(
        instrument=f"{venue}:{symbol}",
        mark=number(obj, "p", "mark price"),
        index=optional_number(obj, "i", "mark price"),
        funding_rate=optional_number(obj, "r", "mark price"),
        next_funding_ms=optional_time_ms(obj, "T", "mark price"),
        ts_event_ms=time_ms(obj, "E", "mark price"),
        ts_receive_ms=receive_ms,
    )


def _portfolio_margin_account(
    account: AccountContext, obj: JsonObject, receive_ms: int
) -> AccountMarginEvent:
    """``{"uniMMR","accountEquity","accountMaintMargin","accountInitialMargin","accountStatus",
    "updateTime",..}``: the PM account's own margin figures; ratio ``1 / uniMMR``."""
    uni_mmr = optional_number(obj, "uniMMR", "papi account")
    if uni_mmr is not None and uni_mmr <= 0:
        uni_mmr = None
    equity = optional_number(obj, "accountEquity", "papi account")
    initial = optional_number(obj, "accountInitialMargin", "papi account")
    return AccountMarginEvent(
        portfolio=account.portfolio,
        account=account.account,
        mode="portfolio_margin",
        venue_figure="uniMMR",
        venue_value=uni_mmr,
        maintenance_margin_ratio=None if uni_mmr is None else 1.0 / uni_mmr,
        liquidation_ratio=1.0 / PM_LIQUIDATION_UNI_MMR,
        equity_usd=equity,
        maintenance_margin_usd=optional_number(obj, "accountMaintMargin", "papi account"),
        initial_margin_ratio=(
            None if initial is None or equity is None or equity <= 0 else initial / equity),
        status=optional_text(obj, "accountStatus", "papi account") or None,
        ts_event_ms=optional_time_ms(obj, "updateTime", "papi account") or receive_ms,
        ts_receive_ms=receive_ms,
    )


def _with_adl(rank: int, figures: VenueFigures | None) -> VenueFigures:
    return replace(figures or VenueFigures(), adl_rank=rank, adl_rank_top=ADL_TOP)


def _leg(
    *, side: str, quantity: float, entry: float, mode: MarginMode, isolated_wallet: float | None,
    leverage: float | None, updated_ms: int = 0, figures: VenueFigures | None = None,
) -> Leg:
    """One leg; LONG legs are positive and SHORT legs negative whatever sign the venue sent (the
    documented SHORT legs carry a negative ``pa``/``positionAmt``), BOTH keeps the sign of ``pa``."""
    canonical = _POSITION_SIDES.get(side)
    if canonical is None:
        raise FrameError(f"{NAME}: position side must be BOTH, LONG or SHORT, got {side[:10]!r}")
    quantity = signed_quantity(quantity, canonical)
    if quantity == 0:
        entry = 0.0
    return Leg(quantity, entry, mode, isolated_wallet, leverage, updated_ms, figures=figures)


def _account_mode(
    account: AccountContext, value: object, what: str, ts_event_ms: int, ts_receive_ms: int
) -> AccountModeEvent:
    """Multi-Assets Mode (``true``) or Single-Asset Mode (``false``), a JSON boolean on the wire."""
    if not isinstance(value, bool):
        raise FrameError(f"{NAME}: {what} must be true or false")
    return AccountModeEvent(
        portfolio=account.portfolio, account=account.account, multi_asset_margin=value,
        ts_event_ms=ts_event_ms, ts_receive_ms=ts_receive_ms,
    )
