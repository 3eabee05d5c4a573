"""Simulated WEEX futures, API V3 (venue ``weex``): signed-handshake websockets and REST.

Paths after the ``/weex`` prefix mirror ``ws-contract.weex.com`` and ``api-contract.weex.com``:

- ``/v3/ws/public``: ``{"method":"SUBSCRIBE","params":["BTCUSDT@ticker"],"id":1}`` acknowledged
  ``{"result":true,"id":1}`` (an unknown symbol: ``{"result":false,"id":1,"msg":"INVALID_ARGUMENT:
  invalid symbol : X"}``); the ticker ``{"e":"ticker","E":..,"s":"BTCUSDT","d":[{..,"m":mark,
  "i":index}]}`` is pushed at once, on every change and on every heartbeat. ``UNSUBSCRIBE`` works.
- ``/v3/ws/private``: authenticated in the handshake headers ``ACCESS-KEY``, ``ACCESS-PASSPHRASE``,
  ``ACCESS-TIMESTAMP`` (ms, within 30 s) and ``ACCESS-SIGN`` = base64(HMAC-SHA256(secret,
  timestamp + "/v3/ws/private")) (WEEX V2 docs, V3 path per ccxt); a bad or missing header refuses
  the upgrade with HTTP 401 and a ``{"code","msg"}`` body (codes 40006 invalid key, 40008
  timestamp expired, 40009 bad signature, 40012 wrong passphrase: Bitget-style, assumed for
  WEEX). Channels ``positions`` (``position`` accepted too), ``account``, ``orders``, ``fill``;
  ``{"e":"positions","E":..,"v":..,"msgEvent":..,"d":[..]}`` per change (``size`` unsigned coin,
  ``side`` LONG/SHORT, ``marginMode`` CROSSED/ISOLATED, ``openValue`` = size * entry, strings;
  a flipped or closed leg is pushed with ``size`` "0", which WEEX does not document; hedge-mode legs
  each on their own; REST ``liquidatePrice`` from ``monitor.sim.margin``) and
  ``{"e":"account",..,"d":[collateral..]}`` per balance change (the ledger shape of the samples).
  Nothing is pushed on subscribe: the client resyncs over REST.
- Heartbeat: ``{"event":"ping","time":"<ms>"}`` to every connection on each heartbeat; the client
  answers ``{"id":..,"method":"PONG"}`` (ccxt, Weex.Net); the public stream acknowledges a pong
  ``{"result":true,"id":..}``, the private one does not (Weex.Net). After
  ``max_unanswered_pings`` (5, V2 docs) unanswered pings the server closes the connection.
- REST (same ``ACCESS-*`` headers, sign = base64(HMAC-SHA256(secret, timestamp + METHOD + path
  [+ "?" + query] + body))): ``GET /capi/v3/account/position/allPosition``,
  ``/capi/v3/account/position/singlePosition?symbol=``, ``/capi/v3/account/balance``; public
  ``GET /capi/v3/market/premiumIndex``, ``/capi/v3/market/exchangeInfo``. V3 answers are bare JSON
  (arrays, exchangeInfo an object); errors are HTTP 400/401 with ``{"code","msg"}``.

The V2 framing (``/v2/ws/...``, ``cmt_btcusdt``) is not simulated. Quantities are base coin
(``contractVal`` is the lot step only).
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from monitor.sim.margin import PositionSide
from monitor.sim.venues.base import (
    Rejection,
    RestRequest,
    RestResponse,
    Route,
    SimConnection,
    SimVenue,
    StreamKind,
    hmac_base64,
    num,
)
from monitor.sim.world import SimAccount, SimFill, SimPosition

PUBLIC_PATH = "/v3/ws/public"
PRIVATE_PATH = "/v3/ws/private"
PRIVATE_CHANNELS = ("positions", "position", "account", "orders", "fill")
TICKER_SUFFIX = "@ticker"
SIGNATURE_WINDOW_MS = 30_000
MAX_UNANSWERED_PINGS = 5

POSITIONS_PATH = "/capi/v3/account/position/allPosition"
SINGLE_POSITION_PATH = "/capi/v3/account/position/singlePosition"
BALANCE_PATH = "/capi/v3/account/balance"
PREMIUM_INDEX_PATH = "/capi/v3/market/premiumIndex"
EXCHANGE_INFO_PATH = "/capi/v3/market/exchangeInfo"

Side = Literal["LONG", "SHORT"]
HEDGE_SIDES: dict[PositionSide, Side] = {"long": "LONG", "short": "SHORT"}


def side_of(quantity: float) -> Side | None:
    """LONG for a positive, SHORT for a negative quantity, None when flat."""
    if quantity > 0:
        return "LONG"
    if quantity < 0:
        return "SHORT"
    return None


def _header(headers: Mapping[str, str], name: str) -> str:
    lowered = name.lower()
    return next((value for key, value in headers.items() if key.lower() == lowered), "")


class WeexSim(SimVenue):
    """WEEX futures V3 wire format."""

    name = "weex"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_unanswered_pings = MAX_UNANSWERED_PINGS
        self.sides: dict[tuple[str, str], tuple[Side, float]] = {}
        self.position_ids: dict[tuple[str, str, Side], int] = {}
        self.versions: dict[str, int] = {}

    # -- authentication ------------------------------------------------------------------------

    def authenticate(self, headers: Mapping[str, str], payload_tail: str) -> SimAccount | tuple[str, str]:
        """The account of signed ``ACCESS-*`` headers, or (code, message) of the refusal.

        ``payload_tail`` is what follows the timestamp in the signed string (``/v3/ws/private``,
        or ``METHOD + path [+ ?query] + body``).
        """
        account = self.world.account_for_key(self.name, _header(headers, "ACCESS-KEY"))
        if account is None:
            return "40006", "Invalid ACCESS_KEY"
        if _header(headers, "ACCESS-PASSPHRASE") != account.passphrase:
            return "40012", "apikey/password is incorrect"
        timestamp = _header(headers, "ACCESS-TIMESTAMP")
        if not timestamp.isdigit() or abs(self.world.now_ms() - int(timestamp)) > SIGNATURE_WINDOW_MS:
            return "40008", "Request timestamp expired"
        if self.verify_signatures:
            expected = hmac_base64(account.api_secret, f"{timestamp}{payload_tail}")
            if not hmac.compare_digest(_header(headers, "ACCESS-SIGN"), expected):
                return "40009", "sign signature error"
        return account

    # -- websocket ----------------------------------------------------------------------------

    def accept(self, path: str, query: str) -> Route | Rejection:
        """The public stream; the private one needs the signed headers (``accept_request``)."""
        del query
        if path == PUBLIC_PATH:
            return Route("market", "public")
        if path == PRIVATE_PATH:
            return Rejection(401, {"code": "40001", "msg": "ACCESS_KEY cannot be empty"})
        return Rejection(404, {"code": "40404", "msg": "Request URL NOT FOUND"})

    def accept_request(self, path: str, query: str, headers: Mapping[str, str]) -> Route | Rejection:
        """``/v3/ws/private`` checks the handshake signature over ``timestamp + path``."""
        if path != PRIVATE_PATH:
            return self.accept(path, query)
        account = self.authenticate(headers, PRIVATE_PATH)
        if not isinstance(account, SimAccount):
            code, message = account
            return Rejection(401, {"code": code, "msg": message})
        return Route("private", "private", account=account.account)

    async def on_open(self, connection: SimConnection) -> None:
        """Nothing until the client subscribes."""
        connection.state["unanswered"] = 0
        connection.state["pongs"] = 0

    async def on_message(self, connection: SimConnection, message: str | bytes) -> None:
        """PONG, SUBSCRIBE and UNSUBSCRIBE; anything else is refused with ``result`` false."""
        try:
            request = json.loads(message)
        except ValueError:
            request = None
        if not isinstance(request, dict):
            await self._result(connection, None, ok=False, message="INVALID_ARGUMENT: invalid json")
            return
        method, request_id = request.get("method"), request.get("id")
        if method == "PONG":
            connection.state["unanswered"] = 0
            connection.state["pongs"] += 1
            if connection.kind == "market":
                await self._result(connection, request_id, ok=True)
            return
        params = request.get("params")
        if method not in ("SUBSCRIBE", "UNSUBSCRIBE") or not isinstance(params, list):
            await self._result(connection, request_id, ok=False, message="INVALID_ARGUMENT: unknown method")
            return
        channels = [str(param) for param in params]
        invalid = next((c for c in channels if not self._valid_channel(connection, c)), None)
        if invalid is not None:
            symbol = invalid.removesuffix(TICKER_SUFFIX)
            await self._result(
                connection, request_id, ok=False, message=f"INVALID_ARGUMENT: invalid symbol : {symbol[:40]}"
            )
            return
        if method == "UNSUBSCRIBE":
            connection.subscriptions.difference_update(channels)
            await self._result(connection, request_id, ok=True)
            return
        connection.subscriptions.update(channels)
        await self._result(connection, request_id, ok=True)
        for channel in channels:
            if channel.endswith(TICKER_SUFFIX):
                await self._push_ticker(connection, channel.removesuffix(TICKER_SUFFIX))

    def _valid_channel(self, connection: SimConnection, channel: str) -> bool:
        if connection.kind == "private":
            return channel in PRIVATE_CHANNELS
        symbol = channel.removesuffix(TICKER_SUFFIX)
        return channel.endswith(TICKER_SUFFIX) and self.world.instrument(self.name, symbol) is not None

    async def _result(
        self, connection: SimConnection, request_id: Any, *, ok: bool, message: str = ""
    ) -> None:
        frame: dict[str, Any] = {"result": ok, "id": request_id}
        if not ok:
            frame["msg"] = message
        await connection.send_json(frame, data=False)

    async def heartbeat(self) -> None:
        """Ping every connection (closing those that left too many pings unanswered) and push
        the subscribed tickers."""
        now = self.world.now_ms()
        for connection in list(self.connections):
            if connection.state.get("unanswered", 0) >= self.max_unanswered_pings:
                await connection.websocket.close(1000, "ping timeout")
                continue
            if not self.silenced():
                connection.state["unanswered"] = connection.state.get("unanswered", 0) + 1
            await connection.send_json({"event": "ping", "time": str(now)}, data=False)
            for channel in sorted(connection.subscriptions):
                if channel.endswith(TICKER_SUFFIX):
                    await self._push_ticker(connection, channel.removesuffix(TICKER_SUFFIX))

    # -- market data ---------------------------------------------------------------------------

    def ticker_push(self, symbol: str) -> dict[str, Any] | None:
        """The V3 ticker push of the current quote (``m`` mark, ``i`` index), or None."""
        quote = self.world.quote(self.name, symbol)
        if quote is None:
            return None
        now = self.world.now_ms()
        item = {
            "p": "0",
            "P": "0",
            "w": num(quote.mark),
            "c": num(quote.mark),
            "o": num(quote.mark),
            "h": num(quote.mark),
            "l": num(quote.mark),
            "v": "760383.679",
            "q": "1605814487.32196",
            "O": now - 86_400_000,
            "C": now,
            "n": 535239,
            "m": num(quote.mark),
            "i": num(quote.index),
        }
        return {"e": "ticker", "E": now, "s": symbol, "d": [item]}

    async def _push_ticker(self, connection: SimConnection, symbol: str) -> None:
        push = self.ticker_push(symbol)
        if push is not None:
            await connection.send_json(push)

    async def publish_quote(self, symbol: str) -> None:
        """The ticker of the symbol to its subscribers."""
        if self.take_gap():
            return
        channel = f"{symbol}{TICKER_SUFFIX}"
        for connection in self.market_connections():
            if channel in connection.subscriptions:
                await self._push_ticker(connection, symbol)

    # -- private -------------------------------------------------------------------------------

    def _version(self, account: str) -> int:
        self.versions[account] = self.versions.get(account, 55_000) + 1
        return self.versions[account]

    def _position_id(self, account: str, symbol: str, side: Side) -> int:
        first_id = 689_987_235_755_328_154
        return self.position_ids.setdefault((account, symbol, side), first_id + len(self.position_ids))

    def _isolated_margin(self, position: SimPosition) -> float:
        if position.margin_mode != "isolated" or position.quantity == 0:
            return 0.0
        return position.isolated_margin

    def position_item(self, account: str, symbol: str, side: Side, position: SimPosition) -> dict[str, Any]:
        """One V3 position push item (strings, ``id`` a string)."""
        size = abs(position.quantity)
        return {
            "id": str(self._position_id(account, symbol, side)),
            "coin": self.world.settle_asset(self.name, symbol),
            "symbol": symbol,
            "side": side,
            "marginMode": "ISOLATED" if position.margin_mode == "isolated" else "CROSSED",
            "separatedMode": "COMBINED",
            "separatedOpenOrderId": "0",
            "leverage": num(position.leverage),
            "size": num(size),
            "openValue": num(size * position.entry_price),
            "openFee": "0",
            "fundingFee": "0",
            "isolatedMargin": num(self._isolated_margin(position)),
            "autoAppendIsolatedMargin": False,
            "cumOpenSize": num(size),
            "cumOpenValue": num(size * position.entry_price),
            "cumOpenFee": "0",
            "cumCloseSize": "0",
            "cumCloseValue": "0",
            "cumCloseFee": "0",
            "cumFundingFee": "0",
            "cumLiquidateFee": "0",
            "createdMatchSequenceId": "3647905144",
            "updatedMatchSequenceId": "3656434385",
            "createdTime": str(position.updated_ms),
            "updatedTime": str(position.updated_ms),
        }

    def position_items(
        self, account: str, symbol: str, leg: PositionSide = "one_way"
    ) -> list[dict[str, Any]]:
        """Push items of a change: a hedge leg on its own (``side`` its side, size 0 when closed);
        one-way, a flipped or closed leg (size 0) first, then the open one."""
        if leg != "one_way":
            position = self.world.position(self.name, account, symbol, leg) or SimPosition(0.0, 0.0)
            return [self.position_item(account, symbol, HEDGE_SIDES[leg], position)]
        position = self.world.position(self.name, account, symbol) or SimPosition(0.0, 0.0)
        side = side_of(position.quantity)
        previous = self.sides.get((account, symbol))
        items = []
        if previous is not None and previous[0] != side:
            flat = SimPosition(0.0, 0.0, position.leverage, position.margin_mode, position.updated_ms)
            items.append(self.position_item(account, symbol, previous[0], flat))
        if side is not None:
            items.append(self.position_item(account, symbol, side, position))
            self.sides[(account, symbol)] = (side, position.entry_price)
        else:
            self.sides.pop((account, symbol), None)
        return items

    def collateral_item(self, account: str, asset: str) -> dict[str, Any]:
        """One ``account`` push item: the collateral ledger entry of an asset."""
        wallet = self.world.balances.get((self.name, account, asset), 0.0)
        now = str(self.world.now_ms())
        return {
            "coin": asset,
            "marginMode": "CROSSED",
            "crossSymbol": "",
            "isolatedPositionId": "0",
            "amount": num(wallet),
            "pendingDepositAmount": "0",
            "pendingWithdrawAmount": "0",
            "pendingTransferInAmount": "0",
            "pendingTransferOutAmount": "0",
            "liquidating": False,
            "legacyAmount": num(wallet),
            "cumDepositAmount": num(max(wallet, 0.0)),
            "cumWithdrawAmount": "0",
            "createdTime": now,
            "updatedTime": now,
        }

    async def _push_private(self, account: str, channels: Sequence[str], payload: dict[str, Any]) -> None:
        for connection in self.private_connections(account):
            if any(channel in connection.subscriptions for channel in channels):
                await connection.send_json(payload)

    async def publish_position(
        self, account: str, symbol: str, fill: SimFill | None, side: PositionSide = "one_way"
    ) -> None:
        """A ``positions`` push with the changed leg(s)."""
        items = self.position_items(account, symbol, side)
        if not items:
            return
        payload = {
            "e": "positions",
            "E": self.world.now_ms(),
            "v": self._version(account),
            "msgEvent": "OrderFillTransaction" if fill is not None else "PositionUpdate",
            "d": items,
        }
        await self._push_private(account, ("positions", "position"), payload)

    async def publish_balances(self, account: str, assets: Sequence[str]) -> None:
        """An ``account`` push with the collateral entries of the changed assets."""
        payload = {
            "e": "account",
            "E": self.world.now_ms(),
            "v": self._version(account),
            "msgEvent": "CollateralUpdate",
            "d": [self.collateral_item(account, asset) for asset in assets],
        }
        await self._push_private(account, ("account",), payload)

    def malformed_frame(self, kind: StreamKind) -> str:
        """A truncated push of the right family."""
        if kind == "private":
            return '{"e":"positions","E":1773298805123,"v":55218,"d":[{"symbol":"BTCUSDT","size":"0.0'
        return '{"e":"ticker","E":1775120226169,"s":"BTCUSDT","d":[{"m":"6'

    # -- REST ----------------------------------------------------------------------------------

    def rest(self, request: RestRequest) -> RestResponse:
        """Positions, balance (signed); premiumIndex, exchangeInfo (public)."""
        path = request.path
        if path == PREMIUM_INDEX_PATH:
            return RestResponse.json(200, self.premium_index(request.params.get("symbol")))
        if path == EXCHANGE_INFO_PATH:
            return RestResponse.json(200, self.exchange_info(request.params.get("symbol")))
        if path not in (POSITIONS_PATH, SINGLE_POSITION_PATH, BALANCE_PATH):
            return RestResponse.json(404, {"code": "40404", "msg": "Request URL NOT FOUND"})
        query = f"?{request.raw_query}" if request.raw_query else ""
        account = self.authenticate(request.headers, f"{request.method}{path}{query}")
        if not isinstance(account, SimAccount):
            code, message = account
            return RestResponse.json(401, {"code": code, "msg": message})
        if request.method != "GET":
            return RestResponse.json(405, {"code": "40405", "msg": "method not allowed"})
        if path == BALANCE_PATH:
            return RestResponse.json(200, self.balance_rows(account.account))
        symbol = request.params.get("symbol")
        if path == SINGLE_POSITION_PATH and not symbol:
            return RestResponse.json(400, {"code": "40017", "msg": "symbol is required"})
        return RestResponse.json(200, self.position_rows(account.account, symbol))

    def position_rows(self, account: str, symbol: str | None = None) -> list[dict[str, Any]]:
        """``allPosition`` rows: every open leg (``id`` an integer, times integers)."""
        rows = []
        for (name, leg), position in self.account_legs(account).items():
            side = HEDGE_SIDES[leg] if leg != "one_way" else side_of(position.quantity)
            if position.quantity == 0 or side is None or symbol not in (None, name):
                continue
            size = abs(position.quantity)
            margin = size * position.entry_price / position.leverage
            figures = self.figures(account, name, leg)
            liquidation = figures.liquidation_price if figures is not None else None
            rows.append(
                {
                    "id": self._position_id(account, name, side),
                    "asset": self.world.settle_asset(self.name, name),
                    "symbol": name,
                    "side": side,
                    "marginType": "ISOLATED" if position.margin_mode == "isolated" else "CROSSED",
                    "separatedMode": "COMBINED",
                    "separatedOpenOrderId": 0,
                    "leverage": num(position.leverage),
                    "size": num(size),
                    "openValue": num(size * position.entry_price),
                    "openFee": "0",
                    "fundingFee": "0",
                    "marginSize": num(margin),
                    "isolatedMargin": num(self._isolated_margin(position)),
                    "isAutoAppendIsolatedMargin": False,
                    "cumOpenSize": num(size),
                    "cumOpenValue": num(size * position.entry_price),
                    "cumOpenFee": "0",
                    "cumCloseSize": "0",
                    "cumCloseValue": "0",
                    "cumCloseFee": "0",
                    "cumFundingFee": "0",
                    "cumLiquidateFee": "0",
                    "createdMatchSequenceId": 7027745116,
                    "updatedMatchSequenceId": 7040274110,
                    "createdTime": position.updated_ms,
                    "updatedTime": position.updated_ms,
                    "unrealizePnl": num(self.world.unrealised_pnl(self.name, name, position)),
                    "liquidatePrice": num(liquidation) if liquidation is not None else "0",
                }
            )
        return rows

    def balance_rows(self, account: str) -> list[dict[str, Any]]:
        """``balance`` rows (``balance`` is the wallet balance)."""
        legs = self.account_legs(account)
        rows = []
        for asset, wallet in self.world.balances_of(self.name, account).items():
            held = [(s, p) for (s, _), p in legs.items() if self.world.settle_asset(self.name, s) == asset]
            used = sum(abs(p.quantity) * p.entry_price / p.leverage for _, p in held)
            upl = sum(self.world.unrealised_pnl(self.name, s, p) for s, p in held)
            rows.append(
                {
                    "asset": asset,
                    "balance": num(wallet),
                    "availableBalance": num(wallet - used),
                    "frozen": "0",
                    "unrealizePnl": num(upl),
                }
            )
        return rows

    def premium_index(self, symbol: str | None = None) -> list[dict[str, Any]]:
        """``premiumIndex`` rows (a list, as in the fixture) of the quoted symbols."""
        rows = []
        for name in self.world.symbols(self.name):
            quote = self.world.quote(self.name, name)
            if quote is None or symbol not in (None, name):
                continue
            rows.append(
                {
                    "symbol": name,
                    "markPrice": num(quote.mark),
                    "indexPrice": num(quote.index),
                    "lastFundingRate": num(quote.funding_rate or 0.0),
                    "forecastFundingRate": num(quote.funding_rate or 0.0),
                    "interestRate": "0.0001",
                    "nextFundingTime": quote.next_funding_ms or 0,
                    "time": self.world.now_ms(),
                    "collectCycle": 480,
                }
            )
        return rows

    def exchange_info(self, symbol: str | None = None) -> dict[str, Any]:
        """``exchangeInfo`` from the catalog's WEEX instruments (``contractVal`` the lot step)."""
        symbols = []
        assets: set[str] = set()
        for instrument_id in self.world.catalog.ids():
            instrument = self.world.catalog.require(instrument_id)
            if instrument.venue != self.name or symbol not in (None, instrument.symbol):
                continue
            assets.update((instrument.base, instrument.quote))
            symbols.append(
                {
                    "symbol": instrument.symbol,
                    "baseAsset": instrument.base,
                    "quoteAsset": instrument.quote,
                    "marginAsset": instrument.quote,
                    "pricePrecision": 1,
                    "quantityPrecision": 4,
                    "contractVal": instrument.lot_step,
                    "minLeverage": 1,
                    "maxLeverage": 400,
                    "makerFeeRate": instrument.maker_fee,
                    "takerFeeRate": instrument.taker_fee,
                    "minOrderSize": instrument.min_quantity,
                    "maxOrderSize": 10000,
                    "maxPositionSize": 20_000_000,
                }
            )
        return {
            "assets": [{"asset": a, "marginAvailable": a == "USDT"} for a in sorted(assets)],
            "symbols": symbols,
        }
