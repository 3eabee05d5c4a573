"""Simulated Binance USDⓈ-M Futures (venue ``binance``): routed websockets, listenKey and REST.

Paths after the ``/binance`` prefix mirror ``fstream.binance.com`` and ``fapi.binance.com``:

- ``/public/ws/<streams>``, ``/public/stream?streams=a/b``: ``<symbol>@bookTicker``
- ``/market/ws/<streams>``, ``/market/stream?streams=a/b``: ``<symbol>@markPrice[@1s]``,
  ``!markPrice@arr[@1s]``. A stream on the wrong route is accepted and silently pushes nothing,
  as on the real routed endpoints. ``{"method":"SUBSCRIBE",...}`` works on every route.
- ``/private/ws?listenKey=<key>[&events=A/B]``, ``/private/ws/<key>``,
  ``/private/stream?listenKey=<key>``: ``ACCOUNT_UPDATE``, ``ORDER_TRADE_UPDATE``,
  ``listenKeyExpired``, ``ACCOUNT_CONFIG_UPDATE`` (``ai.j``, the Multi-Assets Mode, when a
  scenario switches it). An unknown or expired key is refused with HTTP 400 ``-1125``.
- REST: ``POST|PUT|DELETE /fapi/v1/listenKey``; SIGNED ``GET /fapi/v2|v3/positionRisk``,
  ``/fapi/v2|v3/account``, ``/fapi/v2|v3/balance``, ``/fapi/v1/leverageBracket``,
  ``/fapi/v1/multiAssetsMargin``, ``/fapi/v1/positionSide/dual``; public ``GET
  /fapi/v1/premiumIndex``, ``/fapi/v1/time``, ``/fapi/v1/ping``.

Hedge mode: an account holding LONG/SHORT legs lists both legs of every symbol in positionRisk
(``positionSide`` LONG and SHORT) and pushes the changed leg with ``ps`` LONG/SHORT (a SHORT leg's
``pa`` negative, as in the documented ACCOUNT_UPDATE example). The figures Binance computes itself
(``liquidationPrice``, ``maintMargin``, ``isolatedWallet``, ``isolatedMargin`` = isolated wallet +
unrealised PnL, ``cw`` = wallet minus isolated wallets) come from ``monitor.sim.margin``.

Wire details follow the reference (numbers as decimal strings, event times as integers, the
``listenKeyExpired`` ``E`` as a string, combined-stream wrapping ``{"stream":..,"data":..}``).
"""

from __future__ import annotations

import json
import math
import string
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from monitor.sim.margin import PositionSide, SimLegFigures
from monitor.sim.venues.base import (
    Rejection,
    RestRequest,
    RestResponse,
    Route,
    SimConnection,
    SimVenue,
    StreamKind,
    fixed,
    num,
)
from monitor.sim.venues.binance_common import api_key_account, binance_error, signed_account
from monitor.sim.world import Quote, SimFill, SimPosition

ROUTES = ("public", "market", "private")
USER_EVENTS = ("ACCOUNT_UPDATE", "ORDER_TRADE_UPDATE", "MARGIN_CALL", "TRADE_LITE", "ACCOUNT_CONFIG_UPDATE")
POSITION_SIDE_FIELD: dict[PositionSide, str] = {"one_way": "BOTH", "long": "LONG", "short": "SHORT"}
LISTEN_KEY_ALPHABET = string.ascii_letters + string.digits


@dataclass(slots=True)
class ListenKey:
    """One listenKey: whose it is and whether it still works."""

    key: str
    account: str
    valid: bool = True


def stream_route(stream: str) -> str:
    """The route a market stream is served on (``public`` or ``market``)."""
    return "public" if "@bookTicker" in stream or "@depth" in stream else "market"


class BinanceUsdmSim(SimVenue):
    """Binance USDⓈ-M Futures wire format."""

    name = "binance"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.listen_keys: dict[str, ListenKey] = {}
        self.book_update_id = 400_900_000

    # -- websocket ----------------------------------------------------------------------------

    def accept(self, path: str, query: str) -> Route | Rejection:
        """Routed paths only; private needs a valid listenKey."""
        parts = [part for part in path.split("/") if part]
        if len(parts) < 2 or parts[0] not in ROUTES or parts[1] not in ("ws", "stream"):
            return Rejection(404, {"code": -1, "msg": "Not found"})
        route, combined = parts[0], parts[1] == "stream"
        params = parse_qs(query)
        if route == "private":
            keys = params.get("listenKey", []) or parts[2:3]
            if not keys:
                return Rejection(400, {"code": -1102, "msg": "listenKey is required."})
            state = self.listen_keys.get(keys[0])
            if state is None or not state.valid:
                return Rejection(400, {"code": -1125, "msg": "This listenKey does not exist."})
            events = params.get("events", ["/".join(USER_EVENTS)])[0].split("/")
            return Route(
                "private",
                "private",
                combined,
                streams=tuple(events),
                account=state.account,
                listen_key=state.key,
            )
        if combined:
            streams = tuple(s for s in params.get("streams", [""])[0].split("/") if s)
        else:
            streams = tuple(parts[2:])
        return Route("market", route, combined, streams=streams)

    async def on_open(self, connection: SimConnection) -> None:
        """Streams named in the URL start at once (the next scheduled push)."""
        await self._push_current(connection, connection.subscriptions)

    async def on_message(self, connection: SimConnection, message: str | bytes) -> None:
        """SUBSCRIBE / UNSUBSCRIBE / LIST_SUBSCRIPTIONS; anything else is an error reply."""
        try:
            request = json.loads(message)
        except ValueError:
            await connection.send_json(
                {"code": 3, "msg": "Invalid JSON: expected value at line 1 column 1"}, data=False
            )
            return
        if not isinstance(request, dict) or not isinstance(request.get("id"), int):
            await connection.send_json(
                {"code": 2, "msg": "Invalid request: request ID must be an unsigned integer"},
                data=False,
            )
            return
        method, params, request_id = request.get("method"), request.get("params") or [], request["id"]
        if method == "SUBSCRIBE":
            added = [p for p in params if isinstance(p, str)]
            connection.subscriptions.update(added)
            await connection.send_json({"result": None, "id": request_id}, data=False)
            await self._push_current(connection, added)
        elif method == "UNSUBSCRIBE":
            connection.subscriptions.difference_update(p for p in params if isinstance(p, str))
            await connection.send_json({"result": None, "id": request_id}, data=False)
        elif method == "LIST_SUBSCRIPTIONS":
            await connection.send_json(
                {"result": sorted(connection.subscriptions), "id": request_id}, data=False
            )
        else:
            await connection.send_json(
                {"code": 2, "msg": f"Invalid request: unknown method {method!r}"}, data=False
            )

    # -- market data ---------------------------------------------------------------------------

    def mark_price_payload(self, symbol: str, quote: Quote, now_ms: int) -> dict[str, Any]:
        """A ``markPriceUpdate`` event."""
        return {
            "e": "markPriceUpdate",
            "E": now_ms,
            "s": symbol,
            "p": fixed(quote.mark, 8),
            "i": fixed(quote.index, 8),
            "P": fixed(quote.index, 8),
            "r": fixed(quote.funding_rate, 8) if quote.funding_rate is not None else "",
            "T": quote.next_funding_ms or 0,
        }

    def book_ticker_payload(self, symbol: str, quote: Quote, now_ms: int) -> dict[str, Any]:
        """A futures ``bookTicker`` event (bid/ask 0.1 around the mark)."""
        self.book_update_id += 1 + self.world.rng.randrange(5)
        return {
            "e": "bookTicker",
            "u": self.book_update_id,
            "E": now_ms,
            "T": now_ms - 2,
            "s": symbol,
            "b": fixed(quote.mark - 0.1, 2),
            "B": "12.450",
            "a": fixed(quote.mark + 0.1, 2),
            "A": "8.112",
        }

    def _payloads(self, connection: SimConnection, stream: str, symbols: Sequence[str]) -> Any:
        """The payload of ``stream`` for the changed ``symbols``, or None if it does not apply."""
        if stream_route(stream) != connection.route.name:
            return None  # routed endpoints silently push nothing for a foreign stream
        now = self.world.now_ms()
        if stream.startswith("!markPrice@arr"):
            rows = []
            for symbol in symbols:
                quote = self.world.quote(self.name, symbol)
                if quote is not None:
                    rows.append(self.mark_price_payload(symbol, quote, now))
            return rows or None
        symbol = stream.split("@", 1)[0].upper()
        if symbol not in symbols:
            return None
        quote = self.world.quote(self.name, symbol)
        if quote is None:
            return None
        kind = stream.split("@", 1)[1] if "@" in stream else ""
        if kind.startswith("markPrice"):
            return self.mark_price_payload(symbol, quote, now)
        if kind == "bookTicker":
            return self.book_ticker_payload(symbol, quote, now)
        return None

    async def _push(self, connection: SimConnection, streams: Sequence[str], symbols: Sequence[str]) -> None:
        for stream in sorted(streams):
            payload = self._payloads(connection, stream, symbols)
            if payload is None:
                continue
            if connection.route.combined:
                await connection.send_json({"stream": stream, "data": payload})
            else:
                await connection.send_json(payload)

    async def _push_current(self, connection: SimConnection, streams: Sequence[str] | set[str]) -> None:
        if connection.kind == "market":
            await self._push(connection, sorted(streams), self.world.symbols(self.name))

    async def publish_quote(self, symbol: str) -> None:
        """markPrice and bookTicker of the symbol to every subscribed market connection."""
        if self.take_gap():
            self.book_update_id += 1
            return
        for connection in self.market_connections():
            await self._push(connection, sorted(connection.subscriptions), [symbol])

    async def heartbeat(self) -> None:
        """markPrice streams push every 1 s (``@1s``) or 3 s even when nothing changed."""
        symbols = self.world.symbols(self.name)
        for connection in self.market_connections():
            streams = [s for s in connection.subscriptions if "markPrice" in s]
            await self._push(connection, sorted(streams), symbols)

    # -- user data -----------------------------------------------------------------------------

    def _user_connections(self, account: str, event: str) -> list[SimConnection]:
        connections = []
        for connection in self.private_connections(account):
            state = self.listen_keys.get(connection.listen_key or "")
            if state is not None and state.valid and event in connection.subscriptions:
                connections.append(connection)
        return connections

    async def _push_user(self, account: str, event: str, payload: dict[str, Any]) -> None:
        for connection in self._user_connections(account, event):
            if connection.route.combined:
                await connection.send_json({"stream": connection.listen_key, "data": payload})
            else:
                await connection.send_json(payload)

    def position_row(self, account: str, symbol: str, side: PositionSide) -> dict[str, Any]:
        """One ``ACCOUNT_UPDATE`` ``P`` entry: ``ps`` BOTH (one-way) or LONG/SHORT (hedge legs,
        SHORT with a negative ``pa``), ``iw`` the isolated wallet (0 for cross)."""
        position = self.world.position(self.name, account, symbol, side) or SimPosition(0.0, 0.0)
        return {
            "s": symbol,
            "pa": num(position.quantity, 3),
            "ep": fixed(position.entry_price, 5),
            "bep": fixed(position.entry_price, 5),
            "cr": fixed(position.realised_pnl, 8),
            "up": fixed(self.world.unrealised_pnl(self.name, symbol, position), 8),
            "mt": position.margin_mode,
            "iw": fixed(position.isolated_margin if position.margin_mode == "isolated" else 0.0, 8),
            "ps": POSITION_SIDE_FIELD[side],
            "ma": self.world.settle_asset(self.name, symbol),
        }

    def balance_row(self, account: str, asset: str) -> dict[str, Any]:
        """One ``ACCOUNT_UPDATE`` ``B`` entry: ``wb`` includes isolated wallets, ``cw`` does not."""
        wallet = self.world.balances.get((self.name, account, asset), 0.0)
        cross = self.world.cross_wallet(self.name, account, asset)
        return {"a": asset, "wb": fixed(wallet, 8), "cw": fixed(cross, 8), "bc": "0"}

    async def publish_position(
        self, account: str, symbol: str, fill: SimFill | None, side: PositionSide = "one_way"
    ) -> None:
        """``ORDER_TRADE_UPDATE`` for a fill, then ``ACCOUNT_UPDATE`` with the changed leg."""
        now = self.world.now_ms()
        position = self.world.position(self.name, account, symbol, side)
        if position is None:
            return
        if fill is not None:
            await self._push_user(account, "ORDER_TRADE_UPDATE", self._order_update(fill, now))
        # a fill moves the wallet; an isolated leg's margin moves the cross wallet ``cw``
        balances = []
        if fill is not None or position.margin_mode == "isolated":
            balances.append(self.balance_row(account, self.world.settle_asset(self.name, symbol)))
        payload = {
            "e": "ACCOUNT_UPDATE",
            "E": now,
            "T": now - 1,
            "a": {
                "m": "ORDER",
                "B": balances,
                "P": [self.position_row(account, symbol, side)],
            },
        }
        await self._push_user(account, "ACCOUNT_UPDATE", payload)

    async def publish_account_config(self, account: str) -> None:
        """``ACCOUNT_CONFIG_UPDATE`` with ``ai.j``, the Multi-Assets Mode (Binance user data stream
        "Event: Account Configuration Update previous Leverage Update")."""
        now = self.world.now_ms()
        enabled = self.world.multi_asset_margin.get((self.name, account), False)
        payload = {"e": "ACCOUNT_CONFIG_UPDATE", "E": now, "T": now - 1, "ai": {"j": enabled}}
        await self._push_user(account, "ACCOUNT_CONFIG_UPDATE", payload)

    async def publish_balances(self, account: str, assets: Sequence[str]) -> None:
        """``ACCOUNT_UPDATE`` with only ``B`` (``P`` is ``[]``), reason ADJUSTMENT."""
        now = self.world.now_ms()
        payload = {
            "e": "ACCOUNT_UPDATE",
            "E": now,
            "T": now - 1,
            "a": {"m": "ADJUSTMENT", "B": [self.balance_row(account, a) for a in assets], "P": []},
        }
        await self._push_user(account, "ACCOUNT_UPDATE", payload)

    def _order_update(self, fill: SimFill, now: int) -> dict[str, Any]:
        """A fill of the account's own order, or of the venue's: a liquidation (client id
        ``autoclose-``, execution type CALCULATED, order type LIQUIDATION) or an ADL close (client
        id ``adl_autoclose``), per "Event: Order Update"."""
        quantity = abs(fill.quantity)
        client_id, execution, order_type = f"sim-{fill.trade_id}", "TRADE", "MARKET"
        if fill.forced == "liquidation":
            client_id, execution, order_type = f"autoclose-{fill.ts_ms}", "CALCULATED", "LIQUIDATION"
        elif fill.forced == "adl":
            client_id = "adl_autoclose"
        return {
            "e": "ORDER_TRADE_UPDATE",
            "E": now,
            "T": now - 1,
            "o": {
                "s": fill.symbol,
                "c": client_id,
                "S": "BUY" if fill.quantity > 0 else "SELL",
                "o": order_type,
                "f": "GTC",
                "q": num(quantity, 3),
                "p": "0",
                "ap": fixed(fill.price, 5),
                "sp": "0",
                "x": execution,
                "X": "FILLED",
                "i": 8_886_000 + fill.trade_id,
                "l": num(quantity, 3),
                "z": num(quantity, 3),
                "L": fixed(fill.price, 2),
                "N": fill.fee_asset,
                "n": fixed(fill.fee, 8),
                "T": fill.ts_ms,
                "t": fill.trade_id,
                "b": "0",
                "a": "0",
                "m": False,
                "R": False,
                "wt": "CONTRACT_PRICE",
                "ot": order_type,
                "ps": POSITION_SIDE_FIELD[fill.position_side],
                "cp": False,
                "rp": fixed(fill.realised_pnl, 8),
                "pP": False,
                "si": 0,
                "ss": 0,
                "V": "EXPIRE_TAKER",
                "pm": "NONE",
                "gtd": 0,
                "er": "0",
            },
        }

    async def expire_listen_key(self, account: str | None = None) -> int:
        """Send ``listenKeyExpired`` and invalidate the key(s); returns how many expired."""
        expired = 0
        for state in list(self.listen_keys.values()):
            if not state.valid or (account is not None and state.account != account):
                continue
            payload = {"e": "listenKeyExpired", "E": str(self.world.now_ms()), "listenKey": state.key}
            for connection in self.private_connections(state.account):
                if connection.listen_key == state.key:
                    await connection.send_json(payload)
            state.valid = False
            expired += 1
        return expired

    def malformed_frame(self, kind: StreamKind) -> str:
        """A truncated event of the right family."""
        if kind == "private":
            return '{"e":"ACCOUNT_UPDATE","E":1564745798939,"a":{"m":"ORDER","B":[{"a":"USDT","wb":'
        return '{"e":"markPriceUpdate","E":1562305380000,"s":"BTCUSDT","p":"11794.1'

    # -- REST ----------------------------------------------------------------------------------

    def rest(self, request: RestRequest) -> RestResponse:
        """listenKey, positions, account, balance, brackets, asset and position modes,
        premiumIndex, time, ping."""
        path = request.path
        if path == "/fapi/v1/listenKey":
            return self._listen_key(request)
        if path == "/fapi/v1/ping":
            return RestResponse.json(200, {})
        if path == "/fapi/v1/time":
            return RestResponse.json(200, {"serverTime": self.world.now_ms()})
        if path == "/fapi/v1/premiumIndex":
            return self._premium_index(request)
        if path == "/fapi/v1/exchangeInfo":
            return RestResponse.json(200, self.exchange_info())
        signed_paths = {
            "/fapi/v2/positionRisk": self._position_risk_v2,
            "/fapi/v3/positionRisk": self._position_risk_v3,
            "/fapi/v2/account": self._account,
            "/fapi/v3/account": self._account,
            "/fapi/v2/balance": self._balance,
            "/fapi/v3/balance": self._balance,
            "/fapi/v1/leverageBracket": self._leverage_bracket,
            "/fapi/v1/multiAssetsMargin": self._multi_assets_margin,
            "/fapi/v1/positionSide/dual": self._position_side_dual,
            "/fapi/v1/adlQuantile": self._adl_quantile,
        }
        handler = signed_paths.get(path)
        if handler is None:
            return binance_error(404, -5000, f"Path {path} not found.")
        if request.method != "GET":
            return binance_error(405, -1014, "Unsupported order combination.")
        account = signed_account(self.world, self.name, request, verify=self.verify_signatures)
        if isinstance(account, RestResponse):
            return account
        return RestResponse.json(200, handler(account.account, request.params))

    def exchange_info(self) -> dict[str, Any]:
        """``GET /fapi/v1/exchangeInfo``: every USDⓈ-M contract the simulator lists (a perpetual's
        ``deliveryDate`` is Binance's placeholder 4133404800000; ``LOT_SIZE`` from the listing)."""
        symbols: list[dict[str, Any]] = []
        for instrument_id in self.world.catalog.ids():
            if not instrument_id.startswith(f"{self.name}:"):
                continue
            instrument = self.world.catalog.get(instrument_id)
            if instrument is None or instrument.kind != "linear":
                continue
            dated = instrument.expiry_ms is not None
            symbols.append({
                "symbol": instrument_id.split(":", 1)[1],
                "pair": f"{instrument.base}{instrument.quote}",
                "contractType": "CURRENT_QUARTER" if dated else "PERPETUAL",
                "deliveryDate": instrument.expiry_ms if dated else 4133404800000,
                "status": "TRADING",
                "baseAsset": instrument.base,
                "quoteAsset": instrument.quote,
                "marginAsset": instrument.settle,
                "filters": [{"filterType": "LOT_SIZE", "stepSize": num(instrument.lot_step, 8),
                             "minQty": num(instrument.min_quantity, 8), "maxQty": "1000000"}],
            })
        return {"timezone": "UTC", "serverTime": self.world.now_ms(), "symbols": symbols}

    def _listen_key(self, request: RestRequest) -> RestResponse:
        account = api_key_account(self.world, self.name, request)
        if isinstance(account, RestResponse):
            return account
        active = next(
            (s for s in self.listen_keys.values() if s.account == account.account and s.valid),
            None,
        )
        if request.method == "POST":
            if active is None:
                key = "".join(self.world.rng.choice(LISTEN_KEY_ALPHABET) for _ in range(64))
                active = ListenKey(key, account.account)
                self.listen_keys[key] = active
            return RestResponse.json(200, {"listenKey": active.key})
        if request.method == "PUT":
            if active is None:
                return binance_error(400, -1125, "This listenKey does not exist.")
            return RestResponse.json(200, {"listenKey": active.key})
        if request.method == "DELETE":
            if active is not None:
                active.valid = False
            return RestResponse.json(200, {})
        return binance_error(405, -1014, "Unsupported method.")

    def _rows(self, account: str, symbol: str | None) -> list[tuple[str, PositionSide, SimPosition]]:
        """Every leg the account can hold: BOTH per symbol, or LONG and SHORT in hedge mode."""
        sides: tuple[PositionSide, ...] = (
            ("long", "short") if self.world.hedge_mode(self.name, account) else ("one_way",)
        )
        symbols = [symbol] if symbol else self.world.symbols(self.name)
        rows = []
        for name in symbols:
            for side in sides:
                position = self.world.position(self.name, account, name, side)
                rows.append((name, side, position or SimPosition(0.0, 0.0, position_side=side)))
        return rows

    def _leg_figures(self, account: str, symbol: str, side: PositionSide) -> SimLegFigures | None:
        figures = self.figures(account, symbol, side)
        return figures if figures is not None and figures.quantity != 0 else None

    def _position_risk_v2(self, account: str, params: dict[str, str]) -> list[dict[str, Any]]:
        rows = []
        for symbol, side, position in self._rows(account, params.get("symbol")):
            quote = self.world.quote(self.name, symbol)
            mark = quote.mark if quote is not None else position.entry_price
            figures = self._leg_figures(account, symbol, side)
            upnl = self.world.unrealised_pnl(self.name, symbol, position)
            isolated = position.margin_mode == "isolated" and position.quantity != 0
            rows.append(
                {
                    "entryPrice": fixed(position.entry_price, 5),
                    "breakEvenPrice": fixed(position.entry_price, 5),
                    "marginType": position.margin_mode,
                    "isAutoAddMargin": "false",
                    "isolatedMargin": fixed(position.isolated_margin + upnl if isolated else 0.0, 8),
                    "leverage": num(position.leverage, 0),
                    "liquidationPrice": _price(figures),
                    "markPrice": fixed(mark, 8),
                    "maxNotionalValue": "20000000",
                    "positionAmt": fixed(position.quantity, 3),
                    "notional": fixed(position.quantity * mark, 8),
                    "isolatedWallet": fixed(position.isolated_margin if isolated else 0.0, 8),
                    "symbol": symbol,
                    "unRealizedProfit": fixed(upnl, 8),
                    "positionSide": POSITION_SIDE_FIELD[side],
                    "updateTime": position.updated_ms if position.quantity != 0 else 0,
                }
            )
        return rows

    def _position_risk_v3(self, account: str, params: dict[str, str]) -> list[dict[str, Any]]:
        rows = []
        for symbol, side, position in self._rows(account, params.get("symbol")):
            if position.quantity == 0:
                continue  # v3 lists only symbols with a position or open orders
            quote = self.world.quote(self.name, symbol)
            mark = quote.mark if quote is not None else position.entry_price
            notional = position.quantity * mark
            figures = self._leg_figures(account, symbol, side)
            upnl = self.world.unrealised_pnl(self.name, symbol, position)
            isolated = position.margin_mode == "isolated"
            initial = figures.initial_margin if figures is not None else abs(notional) / position.leverage
            rows.append(
                {
                    "symbol": symbol,
                    "positionSide": POSITION_SIDE_FIELD[side],
                    "positionAmt": num(position.quantity, 3),
                    "entryPrice": num(position.entry_price, 5),
                    "breakEvenPrice": num(position.entry_price, 5),
                    "markPrice": fixed(mark, 8),
                    "unRealizedProfit": fixed(upnl, 8),
                    "liquidationPrice": _price(figures),
                    "isolatedMargin": fixed(position.isolated_margin + upnl if isolated else 0.0, 8),
                    "notional": fixed(notional, 8),
                    "marginAsset": self.world.settle_asset(self.name, symbol),
                    "isolatedWallet": fixed(position.isolated_margin if isolated else 0.0, 8),
                    "initialMargin": fixed(initial, 8),
                    "maintMargin": fixed(figures.maintenance_margin if figures is not None else 0.0, 8),
                    "positionInitialMargin": fixed(initial, 8),
                    "openOrderInitialMargin": "0",
                    "adl": 2,
                    "bidNotional": "0",
                    "askNotional": "0",
                    "updateTime": position.updated_ms,
                }
            )
        return rows

    def _asset_rows(self, account: str) -> list[dict[str, Any]]:
        """Per asset: wallet, cross wallet, the unrealised PnL and margins of the legs it settles."""
        figures = [
            f
            for (symbol, side) in self.account_legs(account)
            if (f := self._leg_figures(account, symbol, side)) is not None
        ]
        rows = []
        for asset, wallet in self.world.balances_of(self.name, account).items():
            mine = [f for f in figures if self.world.settle_asset(self.name, f.symbol) == asset]
            upnl = sum(f.unrealised_pnl for f in mine)
            cross_upnl = sum(f.unrealised_pnl for f in mine if f.margin_mode == "cross")
            maintenance = sum(f.maintenance_margin for f in mine)
            initial = sum(f.initial_margin for f in mine)
            cross = self.world.cross_wallet(self.name, account, asset)
            rows.append(
                {
                    "asset": asset,
                    "walletBalance": fixed(wallet, 8),
                    "unrealizedProfit": fixed(upnl, 8),
                    "marginBalance": fixed(wallet + upnl, 8),
                    "maintMargin": fixed(maintenance, 8),
                    "initialMargin": fixed(initial, 8),
                    "positionInitialMargin": fixed(initial, 8),
                    "openOrderInitialMargin": "0.00000000",
                    "crossWalletBalance": fixed(cross, 8),
                    "crossUnPnl": fixed(cross_upnl, 8),
                    "availableBalance": fixed(cross + cross_upnl - initial, 8),
                    "maxWithdrawAmount": fixed(cross + cross_upnl - initial, 8),
                    "updateTime": self.world.now_ms(),
                }
            )
        return rows

    def _account(self, account: str, params: dict[str, str]) -> dict[str, Any]:
        del params
        assets = self._asset_rows(account)

        def total(name: str) -> str:
            return fixed(sum(float(row[name]) for row in assets), 8)

        return {
            "totalInitialMargin": total("initialMargin"),
            "totalMaintMargin": total("maintMargin"),
            "totalWalletBalance": total("walletBalance"),
            "totalUnrealizedProfit": total("unrealizedProfit"),
            "totalMarginBalance": total("marginBalance"),
            "totalCrossWalletBalance": total("crossWalletBalance"),
            "totalCrossUnPnl": total("crossUnPnl"),
            "availableBalance": total("availableBalance"),
            "maxWithdrawAmount": total("maxWithdrawAmount"),
            "assets": assets,
            "positions": self._position_risk_v3(account, {}),
        }

    def _balance(self, account: str, params: dict[str, str]) -> list[dict[str, Any]]:
        del params
        return [
            {
                "accountAlias": "SgsR",
                "asset": row["asset"],
                "balance": row["walletBalance"],
                "crossWalletBalance": row["crossWalletBalance"],
                "crossUnPnl": row["crossUnPnl"],
                "availableBalance": row["availableBalance"],
                "maxWithdrawAmount": row["maxWithdrawAmount"],
                "marginAvailable": True,
                "updateTime": row["updateTime"],
            }
            for row in self._asset_rows(account)
        ]

    def _leverage_bracket(self, account: str, params: dict[str, str]) -> Any:
        """``GET /fapi/v1/leverageBracket``: an object with ``symbol``, a list without."""
        del account
        wanted = params.get("symbol")
        symbols = [wanted] if wanted else self.world.symbols(self.name)
        rows = []
        for symbol in symbols:
            brackets = self.world.terms.binance_brackets(symbol)
            rows.append(
                {
                    "symbol": symbol,
                    "brackets": [
                        {
                            "bracket": b.number,
                            "initialLeverage": round(b.max_leverage),
                            "notionalCap": b.cap if math.isfinite(b.cap) else 9.223372036854776e18,
                            "notionalFloor": b.floor,
                            "maintMarginRatio": b.mmr,
                            "cum": round(b.cum, 8),
                        }
                        for b in brackets
                    ],
                }
            )
        return rows[0] if wanted else rows

    def _multi_assets_margin(self, account: str, params: dict[str, str]) -> dict[str, Any]:
        """``GET /fapi/v1/multiAssetsMargin``: ``{"multiAssetsMargin": bool}``."""
        del params
        return {"multiAssetsMargin": self.world.multi_asset_margin.get((self.name, account), False)}

    def _adl_quantile(self, account: str, params: dict[str, str]) -> list[dict[str, Any]]:
        """``GET /fapi/v1/adlQuantile`` ("Position ADL Quantile Estimation"): per symbol with an
        open leg, ``LONG``/``SHORT`` and ``BOTH`` quantiles 0-4 (the scenario's rank, else 0)."""
        rows = []
        hedge = self.world.hedge_mode(self.name, account)
        symbols = [params["symbol"]] if params.get("symbol") else self.world.symbols(self.name)
        for symbol in symbols:
            legs = {side: self.world.position(self.name, account, symbol, side)
                    for side in ("one_way", "long", "short")}
            if not any(leg is not None and leg.quantity != 0 for leg in legs.values()):
                continue
            quantiles: dict[str, int] = {
                "LONG": self.world.adl_rank(self.name, account, symbol, "long", 0),
                "SHORT": self.world.adl_rank(self.name, account, symbol, "short", 0),
            }
            quantiles["HEDGE" if hedge else "BOTH"] = (
                0 if hedge else self.world.adl_rank(self.name, account, symbol, "one_way", 0))
            rows.append({"symbol": symbol, "adlQuantile": quantiles})
        return rows

    def _position_side_dual(self, account: str, params: dict[str, str]) -> dict[str, Any]:
        """``GET /fapi/v1/positionSide/dual``: ``{"dualSidePosition": bool}`` (hedge mode)."""
        del params
        return {"dualSidePosition": self.world.hedge_mode(self.name, account)}

    def _premium_index(self, request: RestRequest) -> RestResponse:
        symbol = request.params.get("symbol")
        symbols = [symbol] if symbol else self.world.symbols(self.name)
        now = self.world.now_ms()
        rows = []
        for name in symbols:
            quote = self.world.quote(self.name, name)
            if quote is None:
                if symbol:
                    return binance_error(400, -1121, "Invalid symbol.")
                continue
            rows.append(
                {
                    "symbol": name,
                    "markPrice": fixed(quote.mark, 8),
                    "indexPrice": fixed(quote.index, 8),
                    "estimatedSettlePrice": fixed(quote.index, 8),
                    "lastFundingRate": fixed(quote.funding_rate or 0.0, 8),
                    "interestRate": "0.00010000",
                    "nextFundingTime": quote.next_funding_ms or 0,
                    "time": now,
                }
            )
        return RestResponse.json(200, rows[0] if symbol else rows)


def _price(figures: SimLegFigures | None) -> str:
    """A liquidation price as Binance sends it: ``"0"`` when there is none."""
    if figures is None or figures.liquidation_price is None:
        return "0"
    return fixed(figures.liquidation_price, 8)
