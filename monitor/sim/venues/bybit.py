"""Simulated Bybit v5 (venue ``bybit``; spot tickers for ``bybit-spot``): websockets and REST.

Paths after the ``/bybit`` prefix mirror ``stream.bybit.com`` and ``api.bybit.com``:

- ``/v5/public/linear``: ``tickers.<symbol>``: a snapshot right after subscribing, then deltas
  carrying only the fields that changed; ``cs`` increases by random steps (never +1 checks).
- ``/v5/public/spot``: spot ``tickers.<symbol>`` (snapshot only) of venue ``bybit-spot``.
- ``/v5/private``: ``{"op":"auth","args":[key, expires, hex(HMAC(secret,"GET/realtime"+expires))]}``
  then ``position``, ``wallet``, ``execution`` topics (data arrays; no snapshot on subscribe).
  Positions carry ``positionIdx`` 0 (one-way) or 1/2 (hedge Buy/Sell legs), ``tradeMode`` 1 for
  isolated, and the venue's own ``liqPrice``, ``positionIM``, ``positionMM``, ``riskId``,
  ``riskLimitValue`` from ``monitor.sim.margin``.
- ``{"op":"ping"}`` is answered with the public pong (``"op":"ping"``, ``ret_msg`` "pong") or the
  private pong (``"op":"pong"``, ``args`` [ms]).
- REST (headers ``X-BAPI-API-KEY``, ``X-BAPI-TIMESTAMP``, ``X-BAPI-RECV-WINDOW``, ``X-BAPI-SIGN`` =
  hex(HMAC(secret, timestamp + key + recvWindow + queryString))): ``GET /v5/position/list``
  (REST rows use ``avgPrice``), ``GET /v5/account/wallet-balance``; public
  ``GET /v5/market/tickers``, ``/v5/market/time``.
"""

from __future__ import annotations

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
    fixed,
    hmac_hex,
    num,
)
from monitor.sim.world import Quote, SimAccount, SimFill, SimPosition

SPOT_VENUE = "bybit-spot"
POSITION_INDEX: dict[PositionSide, int] = {"one_way": 0, "long": 1, "short": 2}
CATEGORIES = {"linear": "bybit", "inverse": "bybit", "spot": SPOT_VENUE}


def _ok(result: Any, now_ms: int) -> RestResponse:
    return RestResponse.json(
        200, {"retCode": 0, "retMsg": "OK", "result": result, "retExtInfo": {}, "time": now_ms}
    )


def _error(status: int, code: int, message: str, now_ms: int) -> RestResponse:
    return RestResponse.json(
        status, {"retCode": code, "retMsg": message, "result": {}, "retExtInfo": {}, "time": now_ms}
    )


class BybitSim(SimVenue):
    """Bybit v5 wire format."""

    name = "bybit"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.cross_sequence = 9_532_239_429
        self.position_seq = 8_327_597_863

    # -- websocket ----------------------------------------------------------------------------

    def accept(self, path: str, query: str) -> Route | Rejection:
        """Public linear/inverse/spot and private."""
        del query
        parts = [part for part in path.split("/") if part]
        if parts == ["v5", "private"]:
            return Route("private", "private")
        if len(parts) == 3 and parts[:2] == ["v5", "public"] and parts[2] in CATEGORIES:
            return Route("market", parts[2])
        return Rejection(404, {"retCode": 10404, "retMsg": "path not found"})

    async def on_open(self, connection: SimConnection) -> None:
        """Nothing until the client subscribes."""
        connection.state["tickers"] = {}

    async def on_message(self, connection: SimConnection, message: str | bytes) -> None:
        """ping, auth, subscribe, unsubscribe."""
        try:
            request = json.loads(message)
        except ValueError:
            request = None
        if not isinstance(request, dict):
            await connection.send_json(
                {"success": False, "ret_msg": "error:invalid json", "conn_id": connection.connection_id},
                data=False,
            )
            return
        op, req_id = request.get("op"), request.get("req_id")
        args = request.get("args") if isinstance(request.get("args"), list) else []
        assert isinstance(args, list)  # noqa: S101 -- narrowed above
        if op == "ping":
            await connection.send_json(self._pong(connection, req_id), data=False)
        elif op == "auth":
            await self._auth(connection, args, req_id)
        elif op == "subscribe":
            if connection.kind == "private" and connection.account is None:
                await self._ack(
                    connection, "subscribe", req_id, success=False, message="Request not authorized"
                )
                return
            topics = [a for a in args if isinstance(a, str)]
            connection.subscriptions.update(topics)
            await self._ack(connection, "subscribe", req_id)
            if connection.kind == "market":
                for topic in topics:
                    await self._ticker_snapshot(connection, topic)
        elif op == "unsubscribe":
            connection.subscriptions.difference_update(a for a in args if isinstance(a, str))
            await self._ack(connection, "unsubscribe", req_id)
        else:
            await self._ack(connection, str(op), req_id, success=False, message=f"error:unknown op {op}")

    def _pong(self, connection: SimConnection, req_id: Any) -> dict[str, Any]:
        if connection.kind == "private":
            pong: dict[str, Any] = {
                "op": "pong",
                "args": [str(self.world.now_ms())],
                "conn_id": connection.connection_id,
            }
            if req_id is not None:
                pong["req_id"] = req_id
            return pong
        return {
            "success": True,
            "ret_msg": "pong",
            "conn_id": connection.connection_id,
            "req_id": req_id if req_id is not None else "",
            "op": "ping",
        }

    async def _ack(
        self,
        connection: SimConnection,
        op: str,
        req_id: Any,
        *,
        success: bool = True,
        message: str = "",
    ) -> None:
        ack: dict[str, Any] = {
            "success": success,
            "ret_msg": message,
            "conn_id": connection.connection_id,
            "op": op,
        }
        if connection.kind == "market" or req_id is not None:
            ack["req_id"] = req_id if req_id is not None else ""
        await connection.send_json(ack, data=False)

    async def _auth(self, connection: SimConnection, args: list[Any], req_id: Any) -> None:
        account: SimAccount | None = None
        if len(args) == 3 and isinstance(args[0], str):
            account = self.world.account_for_key(self.name, args[0])
        valid = account is not None
        if account is not None:
            expires, signature = args[1], str(args[2])
            if not isinstance(expires, int) or expires <= self.world.now_ms():
                valid = False
            elif self.verify_signatures:
                expected = hmac_hex(account.api_secret, f"GET/realtime{expires}")
                valid = hmac.compare_digest(signature.lower(), expected)
        if not valid or account is None:
            await self._ack(connection, "auth", req_id, success=False, message="Request not authorized")
            return
        connection.account = account.account
        await self._ack(connection, "auth", req_id)

    # -- market data ---------------------------------------------------------------------------

    def ticker_fields(self, venue: str, symbol: str, quote: Quote) -> dict[str, str]:
        """Every field of a linear (or spot) ticker, as strings."""
        bid, ask = quote.mark - 0.05, quote.mark + 0.05
        if venue == SPOT_VENUE:
            return {
                "symbol": symbol,
                "lastPrice": fixed(quote.mark, 2),
                "highPrice24h": fixed(quote.mark * 1.02, 2),
                "lowPrice24h": fixed(quote.mark * 0.98, 2),
                "prevPrice24h": fixed(quote.mark, 2),
                "volume24h": "1234.5678",
                "turnover24h": "74074074.00",
                "price24hPcnt": "0",
                "usdIndexPrice": fixed(quote.index, 6),
            }
        return {
            "symbol": symbol,
            "tickDirection": "PlusTick",
            "price24hPcnt": "0.000000",
            "lastPrice": fixed(quote.mark, 2),
            "prevPrice24h": fixed(quote.mark, 2),
            "highPrice24h": fixed(quote.mark * 1.02, 2),
            "lowPrice24h": fixed(quote.mark * 0.98, 2),
            "prevPrice1h": fixed(quote.mark, 2),
            "markPrice": fixed(quote.mark, 2),
            "indexPrice": fixed(quote.index, 2),
            "openInterest": "68744.761",
            "openInterestValue": fixed(68744.761 * quote.mark, 2),
            "turnover24h": "1570383121.943499",
            "volume24h": "91705.276",
            "fundingIntervalHour": "8",
            "fundingCap": "0.005",
            "nextFundingTime": str(quote.next_funding_ms or ""),
            "fundingRate": fixed(quote.funding_rate, 6) if quote.funding_rate is not None else "",
            "bid1Price": fixed(bid, 2),
            "bid1Size": "84.489",
            "ask1Price": fixed(ask, 2),
            "ask1Size": "83.020",
            "preOpenPrice": "",
            "preQty": "",
            "curPreListingPhase": "",
        }

    def _quote_venue(self, connection: SimConnection) -> str:
        return CATEGORIES.get(connection.route.name, self.name)

    async def _ticker_snapshot(self, connection: SimConnection, topic: str) -> None:
        if not topic.startswith("tickers."):
            return
        symbol = topic.removeprefix("tickers.")
        venue = self._quote_venue(connection)
        quote = self.world.quote(venue, symbol)
        if quote is None:
            return
        fields = self.ticker_fields(venue, symbol, quote)
        connection.state["tickers"][symbol] = fields
        await connection.send_json(self._ticker_frame(topic, "snapshot", fields))

    def _ticker_frame(self, topic: str, kind: str, data: dict[str, str]) -> dict[str, Any]:
        self.cross_sequence += 1 + self.world.rng.randrange(40)
        return {
            "topic": topic,
            "type": kind,
            "data": data,
            "cs": self.cross_sequence,
            "ts": self.world.now_ms(),
        }

    async def publish_quote(self, symbol: str) -> None:
        """Linear: delta of the changed fields; spot: a fresh snapshot."""
        await self._publish_ticker(self.name, symbol)

    async def publish_quote_for(self, venue: str, symbol: str) -> None:
        """``bybit`` tickers on the linear route, ``bybit-spot`` tickers on the spot route."""
        if venue in (self.name, SPOT_VENUE):
            await self._publish_ticker(venue, symbol)

    async def _publish_ticker(self, venue: str, symbol: str) -> None:
        if self.take_gap():
            self.cross_sequence += 1
            return
        topic = f"tickers.{symbol}"
        quote = self.world.quote(venue, symbol)
        if quote is None:
            return
        for connection in self.market_connections():
            if self._quote_venue(connection) != venue or topic not in connection.subscriptions:
                continue
            fields = self.ticker_fields(venue, symbol, quote)
            if venue == SPOT_VENUE:
                await connection.send_json(self._ticker_frame(topic, "snapshot", fields))
                continue
            previous: dict[str, str] = connection.state["tickers"].get(symbol, {})
            changed = {k: v for k, v in fields.items() if previous.get(k) != v}
            connection.state["tickers"][symbol] = fields
            if len(changed) > 0:
                changed["symbol"] = symbol
                await connection.send_json(self._ticker_frame(topic, "delta", changed))

    # -- private -------------------------------------------------------------------------------

    def position_fields(self, account: str, symbol: str, side: PositionSide, *, rest: bool) -> dict[str, Any]:
        """One position entry (WS ``entryPrice``, REST ``avgPrice``): ``positionIdx`` 0 one-way, 1
        and 2 the Buy and Sell legs of hedge mode; ``tradeMode`` 1 isolated; the venue's own
        ``liqPrice``, ``positionIM``, ``positionMM``, ``riskId`` and ``riskLimitValue``."""
        position = self.world.position(self.name, account, symbol, side) or SimPosition(0.0, 0.0)
        quote = self.world.quote(self.name, symbol)
        mark = quote.mark if quote is not None else position.entry_price
        size = abs(position.quantity)
        direction = "" if position.quantity == 0 else ("Buy" if position.quantity > 0 else "Sell")
        figures = self.figures(account, symbol, side)
        value = self.world.margin_of(self.name, symbol, position.quantity, position.entry_price, 1.0)
        initial = figures.initial_margin if figures is not None else 0.0
        maintenance = figures.maintenance_margin if figures is not None else 0.0
        limits = self.world.terms.bybit_limits(symbol)
        risk_id = figures.tier if figures is not None and size else limits[0].risk_id
        limit = next((tier.limit_value for tier in limits if tier.risk_id == risk_id), limits[0].limit_value)
        isolated = position.margin_mode == "isolated"
        liquidation = figures.liquidation_price if figures is not None else None
        self.position_seq += 1 + self.world.rng.randrange(20)
        entry: dict[str, Any] = {
            "positionIdx": POSITION_INDEX[side],
            "tradeMode": 1 if isolated else 0,
            "riskId": risk_id,
            "riskLimitValue": num(limit, 8),
            "symbol": symbol,
            "side": direction,
            "size": num(size, 3),
            "leverage": num(position.leverage, 2),
            "breakEvenPrice": fixed(position.entry_price, 2),
            "positionValue": fixed(value, 8),
            "positionBalance": fixed(position.isolated_margin if isolated else initial, 8),
            "markPrice": fixed(mark, 2),
            "positionIM": fixed(initial, 8),
            "positionMM": fixed(maintenance, 8),
            "takeProfit": "0",
            "stopLoss": "0",
            "trailingStop": "0",
            "unrealisedPnl": fixed(self.world.unrealised_pnl(self.name, symbol, position), 8),
            "curRealisedPnl": fixed(position.realised_pnl, 8),
            "cumRealisedPnl": fixed(position.realised_pnl, 8),
            "sessionAvgPrice": "0",
            "createdTime": str(position.updated_ms),
            "updatedTime": str(position.updated_ms),
            "tpslMode": "Full",
            "liqPrice": fixed(liquidation, 2) if liquidation is not None and size else "",
            "bustPrice": "",
            "category": self._category(symbol),
            "positionStatus": "Normal",
            "adlRankIndicator": self.world.adl_rank(self.name, account, symbol, side, 2) if size else 0,
            "autoAddMargin": 0,
            "leverageSysUpdatedTime": "",
            "mmrSysUpdatedTime": "",
            "seq": self.position_seq,
            "isReduceOnly": False,
        }
        if rest:
            entry["avgPrice"] = fixed(position.entry_price, 2)
            del entry["category"]
        else:
            entry["entryPrice"] = fixed(position.entry_price, 2)
        return entry

    def _category(self, symbol: str) -> str:
        instrument = self.world.instrument(self.name, symbol)
        return "inverse" if instrument is not None and instrument.kind == "inverse" else "linear"

    def wallet_entry(self, account: str) -> dict[str, Any]:
        """The UNIFIED account with every coin."""
        coins = []
        total = 0.0
        for asset, quantity in self.world.balances_of(self.name, account).items():
            price = self.world.asset_price(asset) or 0.0
            total += quantity * price
            coins.append(
                {
                    "coin": asset,
                    "equity": num(quantity, 8),
                    "usdValue": fixed(quantity * price, 8),
                    "walletBalance": num(quantity, 8),
                    "availableToWithdraw": "",
                    "availableToBorrow": "",
                    "borrowAmount": "0",
                    "accruedInterest": "0",
                    "totalOrderIM": "0",
                    "totalPositionIM": "0",
                    "totalPositionMM": "0",
                    "unrealisedPnl": "0",
                    "cumRealisedPnl": "0",
                    "bonus": "0",
                    "collateralSwitch": True,
                    "marginCollateral": True,
                    "locked": "0",
                    "spotHedgingQty": "0",
                    "spotBorrow": "0",
                }
            )
        # The unified account's own rates (docs/v5/account/wallet-balance.mdx): accountMMRate =
        # totalMaintenanceMargin / totalMarginBalance, accountIMRate likewise with the initial
        # margin; the margin balance is the wallet plus the perpetuals' unrealised PnL.
        maintenance = initial = upl = 0.0
        for (symbol, side), position in self.account_legs(account).items():
            if position.quantity == 0 or self._category(symbol) != "linear":
                continue
            figures = self.figures(account, symbol, side)
            if figures is not None:
                maintenance += figures.maintenance_margin
                initial += figures.initial_margin
            upl += self.world.unrealised_pnl(self.name, symbol, position)
        margin_balance = total + upl
        mm_rate = maintenance / margin_balance if margin_balance > 0 else 0.0
        im_rate = initial / margin_balance if margin_balance > 0 else 0.0
        return {
            "accountIMRate": fixed(im_rate, 4),
            "accountMMRate": fixed(mm_rate, 4),
            "totalEquity": fixed(margin_balance, 8),
            "totalWalletBalance": fixed(total, 8),
            "totalMarginBalance": fixed(margin_balance, 8),
            "totalAvailableBalance": fixed(total, 8),
            "totalPerpUPL": fixed(upl, 8),
            "totalInitialMargin": fixed(initial, 8),
            "totalMaintenanceMargin": fixed(maintenance, 8),
            "coin": coins,
            "accountLTV": "0",
            "accountType": "UNIFIED",
        }

    async def _push_topic(self, account: str, topic: str, data: list[dict[str, Any]]) -> None:
        for connection in self.private_connections(account):
            wanted = topic in connection.subscriptions or (
                topic == "position" and "position.linear" in connection.subscriptions
            )
            if not wanted:
                continue
            frame = {
                "id": f"{self.world.rng.getrandbits(64):016x}",
                "topic": topic,
                "creationTime": self.world.now_ms(),
                "data": data,
            }
            await connection.send_json(frame)

    async def publish_position(
        self, account: str, symbol: str, fill: SimFill | None, side: PositionSide = "one_way"
    ) -> None:
        """``execution`` for a fill, then ``position`` with the changed leg."""
        if self.world.position(self.name, account, symbol, side) is None:
            return
        if fill is not None:
            await self._push_topic(account, "execution", [self._execution(fill)])
        await self._push_topic(account, "position", [self.position_fields(account, symbol, side, rest=False)])

    async def publish_balances(self, account: str, assets: Sequence[str]) -> None:
        """``wallet`` with the whole account."""
        del assets
        await self._push_topic(account, "wallet", [self.wallet_entry(account)])

    def _execution(self, fill: SimFill) -> dict[str, Any]:
        quantity = abs(fill.quantity)
        return {
            "category": "linear",
            "symbol": fill.symbol,
            "execFee": fixed(fill.fee, 8),
            "execId": f"sim-exec-{fill.trade_id}",
            "execPrice": fixed(fill.price, 2),
            "execQty": num(quantity, 3),
            "execType": {"liquidation": "BustTrade", "adl": "AdlTrade"}.get(fill.forced or "", "Trade"),
            "execValue": fixed(quantity * fill.price, 8),
            "isMaker": False,
            "feeRate": "0.00055",
            "orderId": f"sim-order-{fill.trade_id}",
            "orderLinkId": "",
            "orderPrice": fixed(fill.price, 2),
            "orderQty": num(quantity, 3),
            "orderType": "Market",
            "side": "Buy" if fill.quantity > 0 else "Sell",
            "execTime": str(fill.ts_ms),
            "closedSize": "0",
            "seq": self.position_seq,
        }

    def malformed_frame(self, kind: StreamKind) -> str:
        """A truncated message of the right family."""
        if kind == "private":
            return '{"id":"5923","topic":"position","creationTime":1697682317044,"data":[{"symbol":'
        return '{"topic":"tickers.BTCUSDT","type":"delta","data":{"symbol":"BTCUSDT","markPrice":"6'

    # -- REST ----------------------------------------------------------------------------------

    def _authenticate(self, request: RestRequest) -> SimAccount | RestResponse:
        now = self.world.now_ms()
        key = request.header("X-BAPI-API-KEY") or ""
        account = self.world.account_for_key(self.name, key)
        if account is None:
            return _error(401, 10003, "API key is invalid.", now)
        timestamp = request.header("X-BAPI-TIMESTAMP") or ""
        window = request.header("X-BAPI-RECV-WINDOW") or "5000"
        if not timestamp.isdigit() or not window.isdigit():
            return _error(400, 10004, "error sign! missing timestamp or recv_window", now)
        if abs(now - int(timestamp)) > int(window):
            return _error(400, 10002, "invalid request, please check your server timestamp", now)
        if self.verify_signatures:
            expected = hmac_hex(account.api_secret, f"{timestamp}{key}{window}{request.raw_query}")
            signature = (request.header("X-BAPI-SIGN") or "").lower()
            if not hmac.compare_digest(signature, expected):
                return _error(401, 10004, "error sign! origin_string[...]", now)
        return account

    def rest(self, request: RestRequest) -> RestResponse:
        """position list, wallet balance, tickers, time."""
        now = self.world.now_ms()
        params = request.params
        if request.path == "/v5/market/time":
            return _ok({"timeSecond": str(now // 1000), "timeNano": str(now * 1_000_000)}, now)
        if request.path == "/v5/market/instruments-info":
            return _ok(self.instruments_info(params.get("category", "linear")), now)
        if request.path == "/v5/market/risk-limit":
            return _ok(self.risk_limits(params.get("category", "linear"), params.get("symbol")), now)
        if request.path == "/v5/market/tickers":
            category = params.get("category", "linear")
            venue = CATEGORIES.get(category, self.name)
            symbols = [params["symbol"]] if "symbol" in params else self.world.symbols(venue)
            rows = []
            for symbol in symbols:
                quote = self.world.quote(venue, symbol)
                if quote is not None:
                    rows.append(self.ticker_fields(venue, symbol, quote))
            return _ok({"category": category, "list": rows}, now)
        signed = ("/v5/position/list", "/v5/account/wallet-balance", "/v5/account/info")
        if request.path not in signed:
            return _error(404, 10404, "path not found", now)
        account = self._authenticate(request)
        if isinstance(account, RestResponse):
            return account
        if request.path == "/v5/account/wallet-balance":
            return _ok({"list": [self.wallet_entry(account.account)]}, now)
        if request.path == "/v5/account/info":
            return _ok(
                {
                    "marginMode": "REGULAR_MARGIN",
                    "updatedTime": str(now),
                    "unifiedMarginStatus": 4,
                    "dcpStatus": "OFF",
                    "timeWindow": 10,
                    "smpGroup": 0,
                    "isMasterTrader": False,
                    "spotHedgingStatus": "OFF",
                },
                now,
            )
        return self._position_list(account, params, now)

    def instruments_info(self, category: str) -> dict[str, Any]:
        """``GET /v5/market/instruments-info`` of a category: every Bybit contract the simulator lists
        (linear: qty in base coin; inverse: qty in USD), one page (no ``nextPageCursor``)."""
        rows: list[dict[str, Any]] = []
        for instrument_id in self.world.catalog.ids():
            if not instrument_id.startswith(f"{self.name}:"):
                continue
            instrument = self.world.catalog.get(instrument_id)
            if instrument is None or instrument.kind != category:
                continue
            dated = instrument.expiry_ms is not None
            kind = "Linear" if category == "linear" else "Inverse"
            rows.append({
                "symbol": instrument_id.split(":", 1)[1],
                "contractType": f"{kind}{'Futures' if dated else 'Perpetual'}",
                "status": "Trading",
                "baseCoin": instrument.base,
                "quoteCoin": instrument.quote,
                "settleCoin": instrument.settle,
                "deliveryTime": str(instrument.expiry_ms or 0),
                "lotSizeFilter": {"qtyStep": num(instrument.lot_step, 8),
                                  "minOrderQty": num(instrument.min_quantity, 8)},
            })
        return {"category": category, "list": rows, "nextPageCursor": ""}

    def risk_limits(self, category: str, symbol: str | None) -> dict[str, Any]:
        """``GET /v5/market/risk-limit`` rows of one symbol (fractions; ``mmDeduction`` listed)."""
        symbols = [symbol] if symbol else self.world.symbols(self.name)
        rows = [
            {
                "id": limit.risk_id, "symbol": name, "riskLimitValue": num(limit.limit_value, 8),
                "maintenanceMargin": num(limit.mmr, 8), "initialMargin": num(limit.imr, 8),
                "isLowestRisk": 1 if limit.risk_id == 1 else 0,
                "maxLeverage": num(1 / limit.imr if limit.imr > 0 else 100, 2),
                "mmDeduction": num(limit.deduction, 8),
            }
            for name in symbols
            for limit in self.world.terms.bybit_limits(name)
        ]
        return {"category": category, "list": rows}

    def _position_list(self, account: SimAccount, params: dict[str, str], now: int) -> RestResponse:
        category = params.get("category")
        if category not in ("linear", "inverse"):
            return _error(400, 10001, "category is invalid", now)
        wanted = params.get("symbol")
        settle = params.get("settleCoin")
        if category == "linear" and wanted is None and settle is None:
            # "linear: either symbol or settleCoin is required."
            return _error(400, 10001, "symbol or settleCoin is required", now)
        legs = self.account_legs(account.account)
        rows: list[dict[str, Any]] = []
        if wanted is not None:
            # "If symbol passed, it returns data regardless of having position or not."
            hedge = self.world.hedge_mode(self.name, account.account)
            sides: tuple[PositionSide, ...] = ("long", "short") if hedge else ("one_way",)
            rows.extend(self.position_fields(account.account, wanted, side, rest=True) for side in sides)
        else:
            # "If symbol=null and settleCoin specified, it returns position size greater than zero."
            for (name, side), position in legs.items():
                if position.quantity == 0 or self._category(name) != category:
                    continue
                if settle is not None and self.world.settle_asset(self.name, name) != settle:
                    continue
                rows.append(self.position_fields(account.account, name, side, rest=True))
        return _ok({"category": category, "list": rows, "nextPageCursor": ""}, now)
