"""Simulated MEXC futures (venue ``mexc``): the ``/edge`` websocket, login, pushes and REST.

Paths after the ``/mexc`` prefix mirror ``contract.mexc.com``; ``SimulatorServer.urls("mexc")``
gives ``.../mexc/edge`` as the websocket URL, as in production (``/`` is accepted as an alias):

- ``/edge``: one endpoint for public and private data, JSON text frames, numbers as JSON numbers.
  ``{"method":"ping"}`` is answered ``{"channel":"pong","data":<ms>}``; a connection that sends no
  ping for ``ping_timeout_s`` (60 s, MEXC: "If no ping arrives within 1 minute the server
  disconnects") is closed.
- Market: ``{"method":"sub.<topic>","param":{"symbol":"BTC_USDT"},"gzip":false}`` for ``fair.price``,
  ``index.price``, ``funding.rate`` and ``ticker``, acknowledged ``{"channel":"rs.sub.<topic>",
  "data":"success","ts":..}``; the current value is pushed at once and then on every change
  (``push.fair.price`` ``{"price","symbol"}``, ``push.index.price``, ``push.funding.rate``
  ``{"rate","symbol"}`` as in the official sample, without ``nextSettleTime``; ``push.ticker``).
  ``unsub.<topic>`` removes it. The fair price is also pushed on every heartbeat. Frames are always
  plain text (the ``gzip`` flag is accepted and ignored).
- Private: ``{"method":"login","param":{"apiKey","reqTime","signature"}}`` with ``reqTime`` a
  string of ms within ``LOGIN_WINDOW_MS`` and signature = hex(HMAC-SHA256(secret, apiKey +
  reqTime)); success ``{"channel":"rs.login","data":"success","ts":"<ms>"}`` (``ts`` a string, as
  documented), failure ``{"channel":"rs.error","data":"authentication failed!",..}`` (the
  reference says failures come on ``rs.error``; the text is assumed). After login every private
  push arrives unless the login had ``"subscribe":false``; ``personal.filter`` narrows them
  (``position`` rules by symbol; ``asset`` has none). ``push.personal.position`` per leg
  (``holdVol`` in contracts, ``positionType`` 1 long / 2 short, ``openType`` 1 isolated / 2 cross,
  ``state`` 1 holding / 3 closed with ``holdVol`` 0; a flipped or closed leg is pushed closed
  first; hedge-mode legs each on their own; ``liquidatePrice`` from ``monitor.sim.margin``) and
  ``push.personal.asset`` (``availableBalance`` = wallet - position margin,
  ``frozenBalance`` 0, ``positionMargin``, ``bonus`` 0).
- REST (``ApiKey``, ``Request-Time``, ``Signature`` = hex(HMAC-SHA256(secret, apiKey +
  Request-Time + paramString)), paramString the query's ``k=v`` pairs sorted by name; Request-Time
  within ``Recv-Window`` seconds, default 10): ``GET /api/v1/private/position/open_positions``,
  ``/api/v1/private/account/assets``, ``/api/v1/private/account/asset/{currency}``; public
  ``GET /api/v1/contract/detail``, ``/api/v1/contract/funding_rate/{symbol}``,
  ``/api/v1/contract/fair_price/{symbol}``, ``/api/v1/contract/index_price/{symbol}``,
  ``/api/v1/contract/ping``. Envelope ``{"success":true,"code":0,"data":..}``; errors
  ``{"success":false,"code":..,"message":..}`` with HTTP 200 (codes 401 unauthorized, 513 request
  time outside the window, 602 signature verification failed, 1001 contract does not exist are
  from memory of MEXC's contract error table: unverified).

Quantities are contracts of the catalog's ``contract_size`` (BTC_USDT 0.0001 BTC): the world holds
MEXC positions in contracts, like OKX swaps.
"""

from __future__ import annotations

import asyncio
import hmac
import json
from collections.abc import Sequence
from typing import Any

from monitor.sim.margin import PositionSide
from monitor.sim.venues.base import (
    Rejection,
    RestRequest,
    RestResponse,
    Route,
    SimConnection,
    SimVenue,
    StreamKind,
    hmac_hex,
)
from monitor.sim.world import Quote, SimAccount, SimFill, SimPosition, next_funding_ms

WEBSOCKET_PATHS = ("/edge", "/")
PUBLIC_TOPICS = ("fair.price", "index.price", "funding.rate", "ticker")
PRIVATE_FILTERS = (
    "order", "order.deal", "position", "plan.order", "stop.order", "stop.planorder", "risk.limit",
    "adl.level", "asset",
)  # fmt: skip
LOGIN_WINDOW_MS = 10_000
DEFAULT_RECV_WINDOW_S = 10
MAX_RECV_WINDOW_S = 60
PING_TIMEOUT_S = 60.0
PRICE_DECIMALS = 8

CONTRACT_PREFIX = "/api/v1/contract/"
PRIVATE_PREFIX = "/api/v1/private/"
POSITIONS_PATH = "/api/v1/private/position/open_positions"
ASSETS_PATH = "/api/v1/private/account/assets"
ASSET_PATH = "/api/v1/private/account/asset/"

LONG, SHORT = 1, 2
TYPE_OF_LEG: dict[PositionSide, int] = {"long": LONG, "short": SHORT}
LEG_OF_TYPE: dict[int, PositionSide] = {LONG: "long", SHORT: "short"}
ISOLATED, CROSS = 1, 2
HOLDING, CLOSED = 1, 3


def _ok(data: Any) -> RestResponse:
    return RestResponse.json(200, {"success": True, "code": 0, "data": data})


def _error(code: int, message: str) -> RestResponse:
    return RestResponse.json(200, {"success": False, "code": code, "message": message})


def position_type(quantity: float) -> int | None:
    """1 (long) for a positive, 2 (short) for a negative quantity, None when flat."""
    if quantity > 0:
        return LONG
    if quantity < 0:
        return SHORT
    return None


def rounded(value: float) -> float:
    """A JSON number as MEXC sends it (rounded to 8 decimals, no ``-0.0``)."""
    result = round(value, PRICE_DECIMALS)
    return 0.0 if result == 0 else result


class MexcSim(SimVenue):
    """MEXC contract (futures) wire format."""

    name = "mexc"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.ping_timeout_s = PING_TIMEOUT_S
        # (account, symbol) -> (positionType, entry) last shown, to push a flipped leg as closed.
        self.legs: dict[tuple[str, str], tuple[int, float]] = {}
        self.position_ids: dict[tuple[str, str, int], int] = {}
        self.versions: dict[tuple[str, str], int] = {}

    # -- websocket ----------------------------------------------------------------------------

    def accept(self, path: str, query: str) -> Route | Rejection:
        """``/edge`` (or ``/``): every connection starts public; login makes it private."""
        del query
        if path not in WEBSOCKET_PATHS:
            return Rejection(404, {"success": False, "code": 404, "message": "Not Found"})
        return Route("market", "edge")

    async def on_open(self, connection: SimConnection) -> None:
        """Start the ping clock; nothing is pushed until the client asks."""
        connection.state["last_ping"] = asyncio.get_running_loop().time()
        connection.state["pings"] = 0
        connection.state["topics"] = set()
        connection.state["push_all"] = False
        connection.state["filters"] = None

    async def on_message(self, connection: SimConnection, message: str | bytes) -> None:
        """ping, login, personal.filter, sub.* and unsub.*; anything else is ``rs.error``."""
        try:
            request = json.loads(message)
        except ValueError:
            request = None
        if not isinstance(request, dict) or not isinstance(request.get("method"), str):
            await self._channel(connection, "rs.error", "invalid request")
            return
        method: str = request["method"]
        param = request.get("param") if isinstance(request.get("param"), dict) else {}
        assert isinstance(param, dict)  # noqa: S101 -- narrowed above
        if method == "ping":
            connection.state["last_ping"] = asyncio.get_running_loop().time()
            connection.state["pings"] += 1
            await self._channel(connection, "pong", self.world.now_ms())
        elif method == "login":
            await self._login(connection, param, subscribe=request.get("subscribe", True) is not False)
        elif method == "personal.filter":
            await self._filter(connection, param)
        elif method.startswith(("sub.", "unsub.")):
            await self._subscription(connection, method, param)
        else:
            await self._channel(connection, "rs.error", f"unknown method {method[:40]}")

    async def _channel(self, connection: SimConnection, channel: str, data: Any) -> None:
        await connection.send_json({"channel": channel, "data": data, "ts": self.world.now_ms()}, data=False)

    async def _login(self, connection: SimConnection, param: dict[str, Any], *, subscribe: bool) -> None:
        api_key, request_time = str(param.get("apiKey", "")), param.get("reqTime")
        account = self.world.account_for_key(self.name, api_key)
        now = self.world.now_ms()
        accepted = (
            account is not None
            and isinstance(request_time, str)
            and request_time.isdigit()
            and abs(now - int(request_time)) <= LOGIN_WINDOW_MS
        )
        if accepted and account is not None and self.verify_signatures:
            expected = hmac_hex(account.api_secret, f"{api_key}{request_time}")
            accepted = hmac.compare_digest(str(param.get("signature", "")).lower(), expected)
        if not accepted or account is None:
            await self._channel(connection, "rs.error", "authentication failed!")
            return
        connection.kind = "private"
        connection.account = account.account
        connection.state["push_all"] = subscribe
        await connection.send_json({"channel": "rs.login", "data": "success", "ts": str(now)}, data=False)

    async def _filter(self, connection: SimConnection, param: dict[str, Any]) -> None:
        if connection.account is None:
            await self._channel(connection, "rs.error", "please login first")
            return
        filters: dict[str, set[str] | None] = {}
        for item in param.get("filters") or []:
            if isinstance(item, dict) and item.get("filter") in PRIVATE_FILTERS:
                rules = item.get("rules")
                filters[str(item["filter"])] = {str(r) for r in rules} if isinstance(rules, list) else None
        connection.state["filters"] = filters
        await self._channel(connection, "rs.personal.filter", "success")

    async def _subscription(self, connection: SimConnection, method: str, param: dict[str, Any]) -> None:
        action, _, topic = method.partition(".")
        symbol = str(param.get("symbol", ""))
        if topic not in PUBLIC_TOPICS or self.world.instrument(self.name, symbol) is None:
            await self._channel(connection, "rs.error", f"{method[:40]} {symbol[:40]} not supported")
            return
        topics: set[tuple[str, str]] = connection.state["topics"]
        if action == "unsub":
            topics.discard((topic, symbol))
            await self._channel(connection, f"rs.unsub.{topic}", "success")
            return
        topics.add((topic, symbol))
        await self._channel(connection, f"rs.sub.{topic}", "success")
        await self._push_topic(connection, topic, symbol)

    async def heartbeat(self) -> None:
        """Close connections without a ping for ``ping_timeout_s``; push the fair price."""
        now = asyncio.get_running_loop().time()
        for connection in list(self.connections):
            if now - connection.state.get("last_ping", now) > self.ping_timeout_s:
                await connection.websocket.close(1000, "no ping")
                continue
            for topic, symbol in sorted(connection.state.get("topics", ())):
                if topic == "fair.price":
                    await self._push_topic(connection, topic, symbol)

    # -- market data ---------------------------------------------------------------------------

    def public_push(self, topic: str, symbol: str) -> dict[str, Any] | None:
        """The push of one public topic for the current quote, or None without a quote."""
        quote = self.world.quote(self.name, symbol)
        if quote is None:
            return None
        now = self.world.now_ms()
        if topic == "fair.price":
            data: dict[str, Any] = {"price": rounded(quote.mark), "symbol": symbol}
        elif topic == "index.price":
            data = {"price": rounded(quote.index), "symbol": symbol}
        elif topic == "funding.rate":
            if quote.funding_rate is None:
                return None
            data = {"rate": quote.funding_rate, "symbol": symbol}
        else:
            data = {
                "symbol": symbol,
                "lastPrice": rounded(quote.mark),
                "fairPrice": rounded(quote.mark),
                "indexPrice": rounded(quote.index),
                "fundingRate": quote.funding_rate or 0.0,
                "bid1": rounded(quote.mark - 0.5),
                "ask1": rounded(quote.mark + 0.5),
                "holdVol": 2284742,
                "volume24": 164586129,
                "timestamp": now,
            }
        return {"channel": f"push.{topic}", "data": data, "symbol": symbol, "ts": now}

    async def _push_topic(self, connection: SimConnection, topic: str, symbol: str) -> None:
        push = self.public_push(topic, symbol)
        if push is not None:
            await connection.send_json(push)

    async def publish_quote(self, symbol: str) -> None:
        """Fair price, index price, funding rate and ticker to their subscribers."""
        if self.take_gap():
            return
        for connection in list(self.connections):
            for topic in PUBLIC_TOPICS:
                if (topic, symbol) in connection.state.get("topics", ()):
                    await self._push_topic(connection, topic, symbol)

    # -- private -------------------------------------------------------------------------------

    def _wants(self, connection: SimConnection, name: str, symbol: str | None) -> bool:
        filters: dict[str, set[str] | None] | None = connection.state.get("filters")
        if filters is None:
            return bool(connection.state.get("push_all"))
        if name not in filters:
            return False
        rules = filters[name]
        return rules is None or symbol is None or symbol in rules

    def _margin(self, symbol: str, position: SimPosition) -> float:
        multiplier = self.world.contract_multiplier(self.name, symbol)
        return abs(position.quantity) * multiplier * position.entry_price / position.leverage

    def _position_id(self, account: str, symbol: str, side: int) -> int:
        return self.position_ids.setdefault((account, symbol, side), 1_394_650 + len(self.position_ids))

    def position_item(
        self,
        account: str,
        symbol: str,
        side: int,
        position: SimPosition,
        *,
        closed: bool = False,
        hedge: bool = False,
    ) -> dict[str, Any]:
        """One ``push.personal.position`` / ``open_positions`` row of one leg."""
        key = (account, symbol)
        self.versions[key] = self.versions.get(key, 0) + 1
        entry = position.entry_price
        volume = 0.0 if closed else abs(position.quantity)
        margin = 0.0 if closed else self._margin(symbol, position)
        upl = 0.0 if closed else self.world.unrealised_pnl(self.name, symbol, position)
        figures = None if closed else self.figures(account, symbol, LEG_OF_TYPE[side] if hedge else "one_way")
        liquidation = figures.liquidation_price if figures is not None else None
        return {
            "positionId": self._position_id(account, symbol, side),
            "symbol": symbol,
            "holdVol": volume,
            "positionType": side,
            "openType": ISOLATED if position.margin_mode == "isolated" else CROSS,
            "state": CLOSED if closed else HOLDING,
            "frozenVol": 0,
            "closeVol": abs(position.quantity) if closed else 0,
            "holdAvgPrice": rounded(entry),
            "holdAvgPriceFullyScale": f"{entry:.18f}",
            "closeAvgPrice": 0,
            "openAvgPrice": rounded(entry),
            "openAvgPriceFullyScale": f"{entry:.18f}",
            "liquidatePrice": rounded(liquidation) if liquidation is not None else 0,
            "oim": rounded(margin),
            "im": rounded(margin),
            "holdFee": 0,
            "realised": rounded(position.realised_pnl),
            "leverage": round(position.leverage),
            "autoAddIm": False,
            "pnl": rounded(upl),
            "marginRatio": 0,
            "adlLevel": 1,
            "createTime": position.updated_ms,
            "updateTime": position.updated_ms,
            "version": self.versions[key],
        }

    def position_items(
        self, account: str, symbol: str, leg: PositionSide = "one_way"
    ) -> list[dict[str, Any]]:
        """The pushes a change makes: a hedge leg on its own (``positionType`` its side, ``state``
        3 when closed); one-way, a flipped or closed leg first, then the open one."""
        if leg != "one_way":
            position = self.world.position(self.name, account, symbol, leg) or SimPosition(0.0, 0.0)
            kind = TYPE_OF_LEG[leg]
            return [
                self.position_item(account, symbol, kind, position, closed=position.quantity == 0, hedge=True)
            ]
        position = self.world.position(self.name, account, symbol) or SimPosition(0.0, 0.0)
        side = position_type(position.quantity)
        previous = self.legs.get((account, symbol))
        items = []
        if previous is not None and previous[0] != side:
            old_side, old_entry = previous
            flat = SimPosition(0.0, old_entry, position.leverage, position.margin_mode, position.updated_ms)
            items.append(self.position_item(account, symbol, old_side, flat, closed=True))
        if side is not None:
            items.append(self.position_item(account, symbol, side, position))
            self.legs[(account, symbol)] = (side, position.entry_price)
        else:
            self.legs.pop((account, symbol), None)
        return items

    def asset_item(self, account: str, asset: str) -> dict[str, Any]:
        """One ``push.personal.asset`` / ``account/assets`` row: wallet split into available and
        position margin (the venue module adds them back)."""
        wallet = self.world.balances.get((self.name, account, asset), 0.0)
        margin = sum(
            self._margin(symbol, position)
            for (symbol, _), position in self.account_legs(account).items()
            if position.quantity != 0 and self.world.settle_asset(self.name, symbol) == asset
        )
        margin = rounded(margin)
        return {
            "currency": asset,
            "availableBalance": rounded(wallet - margin),
            "frozenBalance": 0,
            "positionMargin": margin,
            "bonus": 0,
        }

    async def publish_position(
        self, account: str, symbol: str, fill: SimFill | None, side: PositionSide = "one_way"
    ) -> None:
        """``push.personal.position`` of the changed leg(s)."""
        del fill
        items = self.position_items(account, symbol, side)
        now = self.world.now_ms()
        for connection in self.private_connections(account):
            if self._wants(connection, "position", symbol):
                for item in items:
                    await connection.send_json({"channel": "push.personal.position", "data": item, "ts": now})

    async def publish_balances(self, account: str, assets: Sequence[str]) -> None:
        """``push.personal.asset`` per changed currency."""
        now = self.world.now_ms()
        for connection in self.private_connections(account):
            if self._wants(connection, "asset", None):
                for asset in assets:
                    data = self.asset_item(account, asset)
                    await connection.send_json({"channel": "push.personal.asset", "data": data, "ts": now})

    def malformed_frame(self, kind: StreamKind) -> str:
        """A truncated push of the right family."""
        if kind == "private":
            return '{"channel":"push.personal.position","data":{"symbol":"BTC_USDT","holdVol":1'
        return '{"channel":"push.fair.price","data":{"price":6'

    # -- REST ----------------------------------------------------------------------------------

    def rest(self, request: RestRequest) -> RestResponse:
        """Contract (public) and private endpoints."""
        path = request.path
        if path.startswith(CONTRACT_PREFIX):
            return self._public(path[len(CONTRACT_PREFIX) :], request.params)
        if not path.startswith(PRIVATE_PREFIX):
            return RestResponse.json(404, {"success": False, "code": 404, "message": "Not Found"})
        account = self.signed_account(request)
        if isinstance(account, RestResponse):
            return account
        if path == POSITIONS_PATH:
            wanted = request.params.get("symbol")
            rows = [
                self.position_item(account.account, symbol, kind, position, hedge=leg != "one_way")
                for (symbol, leg), position in self.account_legs(account.account).items()
                if position.quantity != 0
                and (kind := TYPE_OF_LEG.get(leg) or position_type(position.quantity)) is not None
                and wanted in (None, symbol)
            ]
            return _ok(rows)
        if path == ASSETS_PATH:
            assets = self.world.balances_of(self.name, account.account)
            return _ok([self.asset_item(account.account, asset) for asset in assets])
        if path.startswith(ASSET_PATH):
            return _ok(self.asset_item(account.account, path[len(ASSET_PATH) :]))
        return RestResponse.json(404, {"success": False, "code": 404, "message": "Not Found"})

    def signed_account(self, request: RestRequest) -> SimAccount | RestResponse:
        """The account of a signed request after the key, time window and signature checks."""
        api_key = request.header("ApiKey") or ""
        account = self.world.account_for_key(self.name, api_key)
        if account is None:
            return _error(401, "Unauthorized!")
        request_time = request.header("Request-Time") or ""
        window = request.header("Recv-Window") or ""
        window_s = min(int(window), MAX_RECV_WINDOW_S) if window.isdigit() else DEFAULT_RECV_WINDOW_S
        if not request_time.isdigit() or abs(self.world.now_ms() - int(request_time)) > window_s * 1000:
            return _error(513, "Invalid request(for open api serves time more or less than 10 seconds)")
        if self.verify_signatures:
            pairs = sorted(
                (part for part in request.raw_query.split("&") if part),
                key=lambda part: part.partition("=")[0],
            )
            expected = hmac_hex(account.api_secret, f"{api_key}{request_time}{'&'.join(pairs)}")
            if not hmac.compare_digest((request.header("Signature") or "").lower(), expected):
                return _error(602, "Signature verification failed!")
        return account

    def _public(self, endpoint: str, params: dict[str, str]) -> RestResponse:
        if endpoint == "ping":
            return _ok(self.world.now_ms())
        if endpoint == "detail":
            symbol = params.get("symbol")
            rows = [row for row in self.contract_details() if symbol in (None, row["symbol"])]
            return _ok(rows)
        kind, _, symbol = endpoint.partition("/")
        if kind not in ("funding_rate", "fair_price", "index_price") or not symbol:
            return RestResponse.json(404, {"success": False, "code": 404, "message": "Not Found"})
        if self.world.instrument(self.name, symbol) is None:
            return _error(1001, "Contract does not exist!")
        now = self.world.now_ms()
        quote = self.world.quote(self.name, symbol)
        if quote is None:
            # a listed contract always has a funding rate; it has no price until one is set
            if kind != "funding_rate":
                return _error(1001, "Contract has no price yet")
            quote = Quote(0.0, 0.0, 0.0, next_funding_ms(now))
        if kind == "fair_price":
            return _ok({"symbol": symbol, "fairPrice": rounded(quote.mark), "timestamp": now})
        if kind == "index_price":
            return _ok({"symbol": symbol, "indexPrice": rounded(quote.index), "timestamp": now})
        return _ok(
            {
                "symbol": symbol,
                "fundingRate": quote.funding_rate or 0.0,
                "maxFundingRate": 0.001,
                "minFundingRate": -0.001,
                "collectCycle": 8,
                "nextSettleTime": quote.next_funding_ms or 0,
                "timestamp": now,
            }
        )

    def contract_details(self) -> list[dict[str, Any]]:
        """``GET /api/v1/contract/detail`` rows from the catalog's MEXC instruments; the risk
        parameters are those of the official BTC_USDT example."""
        rows = []
        for instrument_id in self.world.catalog.ids():
            instrument = self.world.catalog.require(instrument_id)
            if instrument.venue != self.name:
                continue
            rows.append(
                {
                    "symbol": instrument.symbol,
                    "displayNameEn": f"{instrument.symbol} SWAP",
                    "positionOpenType": 3,
                    "baseCoin": instrument.base,
                    "quoteCoin": instrument.quote,
                    "settleCoin": instrument.quote,
                    "contractSize": instrument.contract_size,
                    "minLeverage": 1,
                    "maxLeverage": 125,
                    "priceScale": 2,
                    "volScale": 0,
                    "amountScale": 4,
                    "priceUnit": 0.5,
                    "volUnit": instrument.lot_step,
                    "minVol": instrument.min_quantity,
                    "maxVol": 5_000_000,
                    "takerFeeRate": instrument.taker_fee,
                    "makerFeeRate": instrument.maker_fee,
                    "maintenanceMarginRate": 0.004,
                    "initialMarginRate": 0.008,
                    "riskBaseVol": 150_000,
                    "riskIncrVol": 150_000,
                    "riskIncrMmr": 0.004,
                    "riskIncrImr": 0.004,
                    "riskLevelLimit": 5,
                    "state": 0,
                }
            )
        return rows
