"""Simulated OKX v5 (venue ``okx``): public and private websockets, REST.

Paths after the ``/okx`` prefix mirror ``ws.okx.com:8443`` and ``www.okx.com``:

- ``/ws/v5/public``: ``mark-price``, ``funding-rate`` (per ``instId``) and ``index-tickers``
  (``instId`` like ``BTC-USDT``). Each subscribe arg is acknowledged
  ``{"id":..,"event":"subscribe","arg":{..},"connId":..}`` and the current value pushed at once.
- ``/ws/v5/private``: ``{"op":"login","args":[{apiKey, passphrase, timestamp, sign}]}`` with
  sign = base64(HMAC(secret, timestamp + "GET" + "/users/self/verify")), timestamp in seconds
  within 30 s; then ``positions`` (snapshot of non-zero positions on subscribe, ``event_update``
  per change, ``pos`` "0" on close) and ``account`` (snapshot of non-zero balances, then only
  the changed currency).
- Text ``ping`` is answered with text ``pong``. Every field is a string, timestamps included.
- REST (headers ``OK-ACCESS-KEY``, ``OK-ACCESS-SIGN`` = base64(HMAC(secret, timestamp + METHOD +
  requestPath[?query] + body)), ``OK-ACCESS-TIMESTAMP`` ISO-8601, ``OK-ACCESS-PASSPHRASE``):
  ``GET /api/v5/account/positions``, ``/api/v5/account/balance``, ``/api/v5/account/config``;
  public ``GET /api/v5/public/mark-price``, ``/api/v5/public/funding-rate``,
  ``/api/v5/public/position-tiers``, ``/api/v5/market/index-tickers``, ``/api/v5/public/time``.
- Hedge legs (long_short_mode): ``posSide`` long/short with ``pos`` positive on both; the venue's
  own ``liqPx``, ``mmr``, ``margin``, ``imr``, ``mgnRatio`` come from ``monitor.sim.margin``.
"""

from __future__ import annotations

import hmac
import json
import math
from collections.abc import Sequence
from datetime import datetime
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
    dumps,
    hmac_base64,
    num,
)
from monitor.sim.world import SimAccount, SimFill, SimPosition

POSITION_SIDE_FIELD: dict[PositionSide, str] = {"one_way": "net", "long": "long", "short": "short"}
PUBLIC_CHANNELS = ("mark-price", "funding-rate", "index-tickers")
PRIVATE_CHANNELS = ("positions", "account", "orders")
LOGIN_WINDOW_S = 30


def _rest(code: str, data: list[Any], message: str = "", status: int = 200) -> RestResponse:
    return RestResponse.json(status, {"code": code, "msg": message, "data": data})


def _inst_type(symbol: str) -> str:
    if symbol.endswith("-SWAP"):
        return "SWAP"
    return "FUTURES" if symbol.count("-") >= 2 else "SPOT"


class OkxSim(SimVenue):
    """OKX v5 wire format."""

    name = "okx"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.position_ids: dict[tuple[str, str, str], str] = {}

    # -- websocket ----------------------------------------------------------------------------

    def accept(self, path: str, query: str) -> Route | Rejection:
        """public, private and business."""
        del query
        parts = [part for part in path.split("/") if part]
        if len(parts) == 3 and parts[:2] == ["ws", "v5"]:
            if parts[2] == "private":
                return Route("private", "private")
            if parts[2] in ("public", "business"):
                return Route("market", parts[2])
        return Rejection(404, {"code": "50000", "msg": "path not found"})

    async def on_open(self, connection: SimConnection) -> None:
        """Nothing until the client subscribes (or logs in)."""
        connection.state["args"] = []

    async def on_message(self, connection: SimConnection, message: str | bytes) -> None:
        """Text ping; JSON login, subscribe, unsubscribe."""
        if message == "ping":
            await connection.send("pong", data=False)
            return
        try:
            request = json.loads(message)
        except ValueError:
            request = None
        if not isinstance(request, dict):
            await self._error(connection, None, "60012", f"Invalid request: {str(message)[:100]}")
            return
        op, request_id = request.get("op"), request.get("id")
        args = request.get("args") if isinstance(request.get("args"), list) else []
        assert isinstance(args, list)  # noqa: S101 -- narrowed above
        if op == "login":
            await self._login(connection, args, request_id)
        elif op == "subscribe":
            for arg in args:
                if isinstance(arg, dict):
                    await self._subscribe(connection, arg, request_id)
        elif op == "unsubscribe":
            for arg in args:
                if isinstance(arg, dict) and arg in connection.state["args"]:
                    connection.state["args"].remove(arg)
                    await connection.send_json(
                        self._event("unsubscribe", arg, connection, request_id), data=False
                    )
        else:
            await self._error(connection, request_id, "60012", f"Invalid request: {dumps(request)[:100]}")

    def _event(
        self, event: str, arg: dict[str, Any], connection: SimConnection, request_id: Any
    ) -> dict[str, Any]:
        frame: dict[str, Any] = {"event": event, "arg": arg, "connId": connection.connection_id}
        if request_id is not None:
            frame = {"id": request_id, **frame}
        return frame

    async def _error(self, connection: SimConnection, request_id: Any, code: str, message: str) -> None:
        frame: dict[str, Any] = {
            "event": "error",
            "code": code,
            "msg": message,
            "connId": connection.connection_id,
        }
        if request_id is not None:
            frame = {"id": request_id, **frame}
        await connection.send_json(frame, data=False)

    async def _login(self, connection: SimConnection, args: list[Any], request_id: Any) -> None:
        account: SimAccount | None = None
        if connection.kind == "private" and len(args) == 1 and isinstance(args[0], dict):
            login = args[0]
            candidate = self.world.account_for_key(self.name, str(login.get("apiKey", "")))
            timestamp = str(login.get("timestamp", ""))
            if (
                candidate is not None
                and login.get("passphrase") == candidate.passphrase
                and timestamp.isdigit()
                and abs(self.world.now_ms() // 1000 - int(timestamp)) <= LOGIN_WINDOW_S
            ):
                expected = hmac_base64(candidate.api_secret, f"{timestamp}GET/users/self/verify")
                if not self.verify_signatures or hmac.compare_digest(str(login.get("sign")), expected):
                    account = candidate
        if account is None:
            await self._error(connection, request_id, "60009", "Login failed.")
            return
        connection.account = account.account
        frame: dict[str, Any] = {
            "event": "login",
            "code": "0",
            "msg": "",
            "connId": connection.connection_id,
        }
        await connection.send_json(frame, data=False)

    async def _subscribe(self, connection: SimConnection, arg: dict[str, Any], request_id: Any) -> None:
        channel = arg.get("channel")
        allowed = PRIVATE_CHANNELS if connection.kind == "private" else PUBLIC_CHANNELS
        if channel not in allowed:
            await self._error(
                connection, request_id, "60018", f"Wrong URL or channel:{channel}, doesn't exist."
            )
            return
        if connection.kind == "private" and connection.account is None:
            await self._error(connection, request_id, "60011", "Please log in")
            return
        connection.state["args"].append(arg)
        await connection.send_json(self._event("subscribe", arg, connection, request_id), data=False)
        if channel == "positions":
            await self._positions_snapshot(connection, arg)
        elif channel == "account":
            await self._account_push(connection, arg, None, "snapshot")
        elif channel == "orders":
            pass  # order pushes come with fills
        else:
            await self._public_push(connection, arg)

    # -- market data ---------------------------------------------------------------------------

    def public_data(self, channel: str, inst_id: str) -> dict[str, Any] | None:
        """The data item of one public channel, or None if the instrument is unknown."""
        now = str(self.world.now_ms())
        if channel == "index-tickers":
            index = self._index_price(inst_id)
            if index is None:
                return None
            return {
                "instId": inst_id,
                "idxPx": num(index, 2),
                "high24h": num(index * 1.02, 2),
                "low24h": num(index * 0.98, 2),
                "open24h": num(index, 2),
                "sodUtc0": num(index, 2),
                "sodUtc8": num(index, 2),
                "ts": now,
            }
        quote = self.world.quote(self.name, inst_id)
        if quote is None:
            return None
        if channel == "mark-price":
            return {
                "instType": _inst_type(inst_id),
                "instId": inst_id,
                "markPx": num(quote.mark, 2),
                "ts": now,
            }
        if channel == "funding-rate" and quote.funding_rate is not None:
            next_ms = quote.next_funding_ms or 0
            return {
                "formulaType": "withRate",
                "fundingRate": num(quote.funding_rate, 16),
                "fundingTime": str(next_ms),
                "impactValue": "",
                "instId": inst_id,
                "instType": "SWAP",
                "interestRate": "0.0001",
                "method": "current_period",
                "maxFundingRate": "0.00375",
                "minFundingRate": "-0.00375",
                "nextFundingRate": "",
                "nextFundingTime": str(next_ms + 8 * 3600 * 1000),
                "premium": "0.0001233824646391",
                "settFundingRate": num(quote.funding_rate, 16),
                "settState": "settled",
                "ts": now,
            }
        return None

    def _index_price(self, inst_id: str) -> float | None:
        for symbol in self.world.symbols(self.name):
            quote = self.world.quote(self.name, symbol)
            if quote is not None and (symbol == inst_id or symbol.startswith(f"{inst_id}-")):
                return quote.index
        return None

    async def _public_push(self, connection: SimConnection, arg: dict[str, Any]) -> None:
        inst_id = str(arg.get("instId", ""))
        data = self.public_data(str(arg.get("channel")), inst_id)
        if data is not None:
            await connection.send_json(
                {"arg": {"channel": arg["channel"], "instId": inst_id}, "data": [data]}
            )

    def _public_args_for(self, connection: SimConnection, symbol: str) -> list[dict[str, Any]]:
        args = []
        for arg in connection.state.get("args", []):
            inst_id = str(arg.get("instId", ""))
            if arg.get("channel") == "index-tickers":
                if symbol == inst_id or symbol.startswith(f"{inst_id}-"):
                    args.append(arg)
            elif inst_id == symbol:
                args.append(arg)
        return args

    async def publish_quote(self, symbol: str) -> None:
        """mark-price, funding-rate and index-tickers of the changed instrument."""
        if self.take_gap():
            return
        for connection in self.market_connections():
            for arg in self._public_args_for(connection, symbol):
                await self._public_push(connection, arg)

    async def heartbeat(self) -> None:
        """mark-price pushes every 10 s even without a change (here: every heartbeat)."""
        for connection in self.market_connections():
            for arg in list(connection.state.get("args", [])):
                if arg.get("channel") == "mark-price":
                    await self._public_push(connection, arg)

    # -- private -------------------------------------------------------------------------------

    def position_item(self, account: str, symbol: str, side: PositionSide) -> dict[str, Any]:
        """One position leg: ``posSide`` net (``pos`` signed contracts) or long/short in
        long_short_mode (``pos`` positive on both legs); the venue's own ``liqPx``, ``mmr``,
        ``margin`` (isolated wallet), ``imr`` (cross) and ``mgnRatio`` (margin balance /
        (maintenance margin + liquidation fee), OKX's sense)."""
        position = self.world.position(self.name, account, symbol, side) or SimPosition(0.0, 0.0)
        quote = self.world.quote(self.name, symbol)
        mark = quote.mark if quote is not None else position.entry_price
        index = quote.index if quote is not None else mark
        value = self.world.margin_of(self.name, symbol, position.quantity, mark, 1.0)
        inverse = self.world.settle_asset(self.name, symbol) not in ("USDT", "USDC")
        notional_usd = value * mark if inverse else value
        updated = str(position.updated_ms)
        isolated = position.margin_mode == "isolated"
        figures = self.figures(account, symbol, side)
        liquidation = figures.liquidation_price if figures is not None else None
        ratio = None
        if figures is not None and figures.maintenance_requirement > 0:
            ratio = figures.margin_balance / figures.maintenance_requirement
        position_id = self.position_ids.setdefault(
            (symbol, POSITION_SIDE_FIELD[side], position.margin_mode),
            str(307_173_036_051_017_730 + len(self.position_ids)),
        )
        pos = position.quantity if side == "one_way" else abs(position.quantity)
        return {
            "adl": str(self.world.adl_rank(self.name, account, symbol, side, 1)),
            "availPos": num(abs(position.quantity), 8) if isolated else "",
            "avgPx": num(position.entry_price, 8) if position.quantity else "",
            "cTime": updated,
            "ccy": self.world.settle_asset(self.name, symbol),
            "deltaBS": "",
            "deltaPA": "",
            "gammaBS": "",
            "gammaPA": "",
            "imr": "" if isolated or figures is None else num(figures.initial_margin, 8),
            "instId": symbol,
            "instType": _inst_type(symbol),
            "interest": "0",
            "idxPx": num(index, 2),
            "last": num(mark, 2),
            "lever": num(position.leverage, 2),
            "liab": "",
            "liabCcy": "",
            "liqPx": num(liquidation, 8) if liquidation is not None and position.quantity else "",
            "markPx": num(mark, 2),
            "margin": num(position.isolated_margin, 8) if isolated else "",
            "mgnMode": position.margin_mode,
            "mgnRatio": num(ratio, 8) if ratio is not None and position.quantity else "",
            "mmr": num(figures.maintenance_margin if figures is not None else 0.0, 8),
            "notionalUsd": num(notional_usd, 8),
            "optVal": "",
            "pTime": updated,
            "pos": num(pos, 8),
            "posCcy": "",
            "posId": position_id,
            "posSide": POSITION_SIDE_FIELD[side],
            "thetaBS": "",
            "thetaPA": "",
            "tradeId": str(self.world.rng.randrange(100_000, 999_999)),
            "uTime": updated,
            "upl": num(self.world.unrealised_pnl(self.name, symbol, position), 8),
            "uplRatio": "0",
            "vegaBS": "",
            "vegaPA": "",
            "realizedPnl": num(position.realised_pnl, 8),
            "pnl": num(position.realised_pnl, 8),
            "fee": "0",
            "fundingFee": "0",
            "liqPenalty": "0",
            "bePx": num(position.entry_price, 8) if position.quantity else "",
            "usdPx": "",
        }

    def _open_items(self, account: str, arg: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            self.position_item(account, symbol, side)
            for (symbol, side), position in self.account_legs(account).items()
            if position.quantity != 0 and self._matches(arg, symbol)
        ]

    def _matches(self, arg: dict[str, Any], symbol: str) -> bool:
        inst_type = str(arg.get("instType", "ANY"))
        if inst_type not in ("ANY", _inst_type(symbol)):
            return False
        if "instId" in arg and arg["instId"] != symbol:
            return False
        family = arg.get("instFamily")
        return family is None or symbol.startswith(f"{family}-")

    async def _positions_snapshot(self, connection: SimConnection, arg: dict[str, Any]) -> None:
        assert connection.account is not None  # noqa: S101 -- checked at subscribe
        data = self._open_items(connection.account, arg)
        await connection.send_json(
            {
                "arg": {**arg, "uid": self._uid(connection.account)},
                "eventType": "snapshot",
                "curPage": 1,
                "lastPage": True,
                "data": data,
            }
        )

    def _uid(self, account: str) -> str:
        return str(77_982_378_738_415_879 + sum(ord(c) for c in account))

    def balance_detail(self, account: str, asset: str) -> dict[str, Any]:
        """One currency of the ``account`` channel / balance endpoint."""
        quantity = self.world.balances.get((self.name, account, asset), 0.0)
        price = self.world.asset_price(asset) or 0.0
        return {
            "availBal": num(quantity, 8),
            "availEq": num(quantity, 8),
            "borrowFroz": "0",
            "cashBal": num(quantity, 8),
            "ccy": asset,
            "coinUsdPrice": num(price, 8),
            "crossLiab": "0",
            "disEq": num(quantity * price, 8),
            "eq": num(quantity, 8),
            "eqUsd": num(quantity * price, 8),
            "fixedBal": "0",
            "frozenBal": "0",
            "interest": "0",
            "isoEq": "0",
            "isoLiab": "0",
            "liab": "0",
            "maxLoan": "0",
            "mgnRatio": "",
            "notionalLever": "0",
            "ordFrozen": "0",
            "twap": "0",
            "uTime": str(self.world.now_ms()),
            "upl": "0",
            "uplLiab": "0",
            "stgyEq": "0",
            "spotInUseAmt": "",
        }

    def account_item(self, account: str, assets: Sequence[str] | None) -> dict[str, Any]:
        """The account object with the given currencies (all non-zero ones when None)."""
        balances = self.world.balances_of(self.name, account)
        chosen = [a for a, q in balances.items() if q != 0] if assets is None else list(assets)
        details = [self.balance_detail(account, asset) for asset in chosen]
        total = sum(float(detail["eqUsd"]) for detail in details)
        return {
            "adjEq": num(total, 8),
            "availEq": num(total, 8),
            "borrowFroz": "0",
            "details": details,
            "imr": "0",
            "isoEq": "0",
            "mgnRatio": "",
            "mmr": "0",
            "notionalUsd": "0",
            "ordFroz": "0",
            "totalEq": num(total, 8),
            "uTime": str(self.world.now_ms()),
            "upl": "0",
        }

    async def _account_push(
        self,
        connection: SimConnection,
        arg: dict[str, Any],
        assets: Sequence[str] | None,
        event_type: str,
    ) -> None:
        assert connection.account is not None  # noqa: S101 -- checked at subscribe
        wanted_ccy = arg.get("ccy")
        if assets is not None and wanted_ccy is not None:
            assets = [a for a in assets if a == wanted_ccy]
            if not assets:
                return
        frame: dict[str, Any] = {
            "arg": {"channel": "account", "uid": self._uid(connection.account)},
            "eventType": event_type,
        }
        if event_type == "snapshot":
            frame.update({"curPage": 1, "lastPage": True})
        frame["data"] = [self.account_item(connection.account, assets)]
        await connection.send_json(frame)

    async def publish_position(
        self, account: str, symbol: str, fill: SimFill | None, side: PositionSide = "one_way"
    ) -> None:
        """The fill's ``orders`` push, then the ``event_update`` of the changed leg (``pos`` "0"
        when closed)."""
        if self.world.position(self.name, account, symbol, side) is None:
            return
        if fill is not None:
            await self._push_order(account, fill)
        for connection in self.private_connections(account):
            for arg in connection.state.get("args", []):
                if arg.get("channel") == "positions" and self._matches(arg, symbol):
                    await connection.send_json(
                        {
                            "arg": {**arg, "uid": self._uid(account)},
                            "eventType": "event_update",
                            "data": [self.position_item(account, symbol, side)],
                        }
                    )

    async def _push_order(self, account: str, fill: SimFill) -> None:
        """An ``orders`` push of a filled market order ("Order channel"): ``category`` normal, or
        ``adl`` / ``full_liquidation`` for the venue's own close; ``fillFee`` negative (charged)."""
        category = {"adl": "adl", "liquidation": "full_liquidation"}.get(fill.forced or "", "normal")
        item = {
            "instType": _inst_type(fill.symbol), "instId": fill.symbol, "ordId": str(fill.trade_id),
            "clOrdId": "", "side": "buy" if fill.quantity > 0 else "sell",
            "posSide": POSITION_SIDE_FIELD[fill.position_side], "ordType": "market",
            "sz": num(abs(fill.quantity), 8), "fillSz": num(abs(fill.quantity), 8),
            "fillPx": num(fill.price, 8), "fillFee": num(-fill.fee, 8), "fillFeeCcy": fill.fee_asset,
            "fillTime": str(fill.ts_ms), "tradeId": str(fill.trade_id), "state": "filled",
            "category": category, "uTime": str(fill.ts_ms), "cTime": str(fill.ts_ms),
        }
        for connection in self.private_connections(account):
            for arg in connection.state.get("args", []):
                if arg.get("channel") == "orders":
                    await connection.send_json(
                        {"arg": {**arg, "uid": self._uid(account)}, "data": [item]})

    async def publish_balances(self, account: str, assets: Sequence[str]) -> None:
        """Incremental ``account`` push with only the changed currencies."""
        for connection in self.private_connections(account):
            for arg in connection.state.get("args", []):
                if arg.get("channel") == "account":
                    await self._account_push(connection, arg, assets, "event_update")

    def malformed_frame(self, kind: StreamKind) -> str:
        """A truncated push of the right family."""
        if kind == "private":
            return '{"arg":{"channel":"positions","uid":"77982378738415879"},"data":[{"pos":"1'
        return '{"arg":{"channel":"mark-price","instId":"BTC-USDT-SWAP"},"data":[{"markPx":"6'

    # -- REST ----------------------------------------------------------------------------------

    def _authenticate(self, request: RestRequest) -> SimAccount | RestResponse:
        key = request.header("OK-ACCESS-KEY") or ""
        account = self.world.account_for_key(self.name, key)
        if account is None:
            return _rest("50111", [], "Invalid OK-ACCESS-KEY", 401)
        if request.header("OK-ACCESS-PASSPHRASE") != account.passphrase:
            return _rest("50105", [], "Invalid OK-ACCESS-PASSPHRASE", 401)
        timestamp = request.header("OK-ACCESS-TIMESTAMP") or ""
        try:
            moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
        except ValueError:
            return _rest("50112", [], "Invalid OK-ACCESS-TIMESTAMP", 401)
        if abs(moment.timestamp() * 1000 - self.world.now_ms()) > LOGIN_WINDOW_S * 1000:
            return _rest("50102", [], "Timestamp request expired", 401)
        if self.verify_signatures:
            request_path = request.path + (f"?{request.raw_query}" if request.raw_query else "")
            expected = hmac_base64(account.api_secret, f"{timestamp}{request.method}{request_path}")
            if not hmac.compare_digest(request.header("OK-ACCESS-SIGN") or "", expected):
                return _rest("50113", [], "Invalid Sign", 401)
        return account

    def rest(self, request: RestRequest) -> RestResponse:
        """positions, balance, mark-price, funding-rate, index-tickers, time."""
        params = request.params
        if request.path == "/api/v5/public/time":
            return _rest("0", [{"ts": str(self.world.now_ms())}])
        if request.path in ("/api/v5/public/mark-price", "/api/v5/public/funding-rate"):
            channel = "mark-price" if request.path.endswith("mark-price") else "funding-rate"
            symbols = [params["instId"]] if "instId" in params else self.world.symbols(self.name)
            rows = [self.public_data(channel, symbol) for symbol in symbols]
            return _rest("0", [row for row in rows if row is not None])
        if request.path == "/api/v5/market/index-tickers":
            row = self.public_data("index-tickers", params.get("instId", ""))
            return _rest("0", [row] if row is not None else [])
        if request.path == "/api/v5/public/position-tiers":
            return _rest("0", self.position_tiers(params))
        if request.path == "/api/v5/public/instruments":
            return _rest("0", self.instruments(params.get("instType", "")))
        private = ("/api/v5/account/positions", "/api/v5/account/balance", "/api/v5/account/config")
        if request.path not in private:
            return _rest("50000", [], "path not found", 404)
        account = self._authenticate(request)
        if isinstance(account, RestResponse):
            return account
        if request.path == "/api/v5/account/balance":
            wanted = params.get("ccy")
            assets = wanted.split(",") if wanted else None
            return _rest("0", [self.account_item(account.account, assets)])
        if request.path == "/api/v5/account/config":
            return _rest("0", [self.account_config(account.account)])
        arg: dict[str, Any] = {key: params[key] for key in ("instType", "instId") if key in params}
        return _rest("0", self._open_items(account.account, arg))

    def instruments(self, inst_type: str) -> list[dict[str, Any]]:
        """``GET /api/v5/public/instruments`` rows of every OKX instrument the simulator lists of
        ``instType`` (``SWAP``, ``FUTURES``, ``SPOT``): ``ctVal`` per contract (base units linear,
        USD inverse), ``ctMult`` 1, ``lotSz`` / ``minSz``, ``expTime`` of a future."""
        rows: list[dict[str, Any]] = []
        prefix = f"{self.name}:"
        for instrument_id in self.world.catalog.ids():
            if not instrument_id.startswith(prefix):
                continue
            symbol = instrument_id[len(prefix):]
            if _inst_type(symbol) != inst_type:
                continue
            instrument = self.world.instrument(self.name, symbol)
            if instrument is None:
                continue
            family = "-".join(symbol.split("-")[:2])
            if inst_type == "SPOT":
                rows.append({"instType": "SPOT", "instId": symbol, "baseCcy": instrument.base,
                             "quoteCcy": instrument.quote, "lotSz": num(instrument.lot_step, 8),
                             "minSz": num(instrument.min_quantity, 8), "ctVal": "", "ctType": "",
                             "instFamily": "", "expTime": "", "state": "live"})
                continue
            inverse = instrument.kind == "inverse"
            rows.append({
                "instType": inst_type,
                "instId": symbol,
                "uly": family,
                "instFamily": family,
                "ctType": "inverse" if inverse else "linear",
                "ctVal": num(instrument.contract_value if inverse else instrument.contract_size, 8),
                "ctMult": "1",
                "ctValCcy": "USD" if inverse else instrument.base,
                "settleCcy": self.world.settle_asset(self.name, symbol),
                "lotSz": num(instrument.lot_step, 8),
                "minSz": num(instrument.min_quantity, 8),
                "expTime": "" if instrument.expiry_ms is None else str(instrument.expiry_ms),
                "state": "live",
            })
        return rows

    def position_tiers(self, params: dict[str, str]) -> list[dict[str, Any]]:
        """``GET /api/v5/public/position-tiers`` rows of the wanted ``instId`` or ``instFamily``
        (contracts: ``minSz``/``maxSz``; the last tier's ``maxSz`` empty)."""
        wanted = params.get("instId")
        family = params.get("instFamily") or params.get("uly")
        symbols = [
            symbol
            for symbol in self.world.symbols(self.name)
            if _inst_type(symbol) != "SPOT"
            and symbol == (wanted or symbol)
            and (family is None or symbol.startswith(f"{family}-"))
        ]
        if wanted and wanted not in symbols:
            symbols.append(wanted)
        rows: list[dict[str, Any]] = []
        for symbol in symbols:
            family_name = "-".join(symbol.split("-")[:2])
            rows.extend(
                {
                    "baseMaxLoan": "",
                    "imr": num(tier.imr, 8),
                    "instFamily": family_name,
                    "instId": "",
                    "maxLever": num(tier.max_leverage, 2),
                    "maxSz": "" if math.isinf(tier.max_size) else num(tier.max_size, 8),
                    "minSz": num(tier.min_size, 8),
                    "mmr": num(tier.mmr, 8),
                    "optMgnFactor": "0",
                    "quoteMaxLoan": "",
                    "tier": str(tier.number),
                    "uly": family_name,
                }
                for tier in self.world.terms.okx_tiers(symbol)
            )
        return rows

    def account_config(self, account: str) -> dict[str, Any]:
        """``GET /api/v5/account/config``: ``posMode`` (net_mode / long_short_mode) and ``acctLv``
        (2 single-currency margin, 3 multi-currency margin when the asset mode is multi-asset)."""
        multi = self.world.multi_asset_margin.get((self.name, account), False)
        return {
            "acctLv": "3" if multi else "2",
            "autoLoan": multi,
            "ctIsoMode": "automatic",
            "greeksType": "PA",
            "level": "Lv1",
            "levelTmp": "",
            "mgnIsoMode": "automatic",
            "posMode": "long_short_mode" if self.world.hedge_mode(self.name, account) else "net_mode",
            "spotOffsetType": "",
            "uid": self._uid(account),
        }
