"""Simulated Binance Spot (venue ``binance-spot``): market streams, WebSocket API user data, REST.

Paths after the ``/binance-spot`` prefix mirror ``stream.binance.com:9443``,
``ws-api.binance.com/ws-api/v3`` and ``api.binance.com``:

- ``/ws/<streams>``, ``/ws`` (then SUBSCRIBE), ``/stream?streams=a/b``: ``<symbol>@bookTicker``
  (no ``e``/``E``/``T`` fields, ``u`` increasing).
- ``/ws-api/v3``: WebSocket API. ``session.logon`` (params ``apiKey``, ``timestamp``,
  ``signature``; the simulator checks the API key only, since real logon needs Ed25519), then
  ``userDataStream.subscribe``; or ``userDataStream.subscribe.signature`` (HMAC of the sorted
  params, checked). Events arrive wrapped ``{"subscriptionId":0,"event":{...}}``:
  ``outboundAccountPosition`` (absolute free/locked of changed assets) and ``balanceUpdate``
  (signed delta). Also ``ping``, ``time``, ``session.status``, ``userDataStream.unsubscribe``.
- REST: SIGNED ``GET /api/v3/account``; public ``GET /api/v3/ticker/bookTicker``,
  ``/api/v3/time``, ``/api/v3/ping``.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qs

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
)
from monitor.sim.venues.binance_common import binance_error, signed_account
from monitor.sim.world import Quote, SimFill

HALF_SPREAD = 0.01


class BinanceSpotSim(SimVenue):
    """Binance Spot wire format."""

    name = "binance-spot"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.book_update_id = 400_900_217
        self.subscription_ids = 0

    # -- websocket ----------------------------------------------------------------------------

    def accept(self, path: str, query: str) -> Route | Rejection:
        """``/ws[/..]``, ``/stream`` for market data; ``/ws-api/v3`` for the WebSocket API."""
        parts = [part for part in path.split("/") if part]
        if parts[:2] == ["ws-api", "v3"] and len(parts) == 2:
            return Route("private", "ws-api")
        if parts[:1] == ["ws"]:
            return Route("market", "ws", streams=tuple(parts[1:]))
        if parts == ["stream"]:
            streams = parse_qs(query).get("streams", [""])[0].split("/")
            return Route("market", "stream", combined=True, streams=tuple(s for s in streams if s))
        return Rejection(404, {"code": -1, "msg": "Not found"})

    async def on_open(self, connection: SimConnection) -> None:
        """Book tickers named in the URL push the current quote at once."""
        if connection.kind == "market":
            await self._push(connection, sorted(connection.subscriptions), self.world.symbols(self.name))

    async def on_message(self, connection: SimConnection, message: str | bytes) -> None:
        """SUBSCRIBE on market connections; WebSocket API requests on ``/ws-api/v3``."""
        try:
            request = json.loads(message)
        except ValueError:
            request = None
        if not isinstance(request, dict):
            await connection.send_json(
                {"code": 3, "msg": "Invalid JSON: expected value at line 1 column 1"}, data=False
            )
            return
        if connection.kind == "private":
            await self._api_request(connection, request)
            return
        method, params = request.get("method"), request.get("params") or []
        if method == "SUBSCRIBE":
            added = [p for p in params if isinstance(p, str)]
            connection.subscriptions.update(added)
            await connection.send_json({"result": None, "id": request.get("id")}, data=False)
            await self._push(connection, added, self.world.symbols(self.name))
        elif method == "UNSUBSCRIBE":
            connection.subscriptions.difference_update(p for p in params if isinstance(p, str))
            await connection.send_json({"result": None, "id": request.get("id")}, data=False)
        else:
            await connection.send_json({"code": 2, "msg": "Invalid request: unknown method"}, data=False)

    async def _api_request(self, connection: SimConnection, request: dict[str, Any]) -> None:
        request_id = request.get("id")
        method = request.get("method")
        params = request.get("params") if isinstance(request.get("params"), dict) else {}
        assert isinstance(params, dict)  # noqa: S101 -- narrowed above
        now = self.world.now_ms()

        async def ok(result: Any) -> None:
            await connection.send_json({"id": request_id, "status": 200, "result": result}, data=False)

        async def error(status: int, code: int, message: str) -> None:
            await connection.send_json(
                {"id": request_id, "status": status, "error": {"code": code, "msg": message}},
                data=False,
            )

        if method == "ping":
            await ok({})
        elif method == "time":
            await ok({"serverTime": now})
        elif method == "session.logon":
            account = self.world.account_for_key(self.name, str(params.get("apiKey", "")))
            if account is None or not params.get("signature") or "timestamp" not in params:
                await error(401, -2015, "Invalid API-key, IP, or permissions for action.")
                return
            connection.account = account.account
            connection.state["logged_on_since"] = now
            await ok(
                {
                    "apiKey": account.api_key,
                    "authorizedSince": now,
                    "connectedSince": now,
                    "returnRateLimits": False,
                    "serverTime": now,
                    "userDataStream": False,
                }
            )
        elif method == "session.status":
            await ok(
                {
                    "apiKey": None,
                    "authorizedSince": connection.state.get("logged_on_since"),
                    "connectedSince": now,
                    "returnRateLimits": False,
                    "serverTime": now,
                    "userDataStream": bool(connection.subscriptions),
                }
            )
        elif method == "userDataStream.subscribe":
            if connection.account is None:
                await error(401, -2015, "Invalid API-key, IP, or permissions for action.")
                return
            await ok({"subscriptionId": self._subscribe(connection)})
        elif method == "userDataStream.subscribe.signature":
            account = self.world.account_for_key(self.name, str(params.get("apiKey", "")))
            signature = str(params.get("signature", ""))
            payload = "&".join(f"{key}={params[key]}" for key in sorted(params) if key != "signature")
            if account is None:
                await error(401, -2015, "Invalid API-key, IP, or permissions for action.")
                return
            expected = hmac_hex(account.api_secret, payload)
            if self.verify_signatures and not hmac.compare_digest(signature.lower(), expected):
                await error(400, -1022, "Signature for this request is not valid.")
                return
            connection.account = account.account
            await ok({"subscriptionId": self._subscribe(connection)})
        elif method == "userDataStream.unsubscribe":
            connection.subscriptions.clear()
            await ok({})
        else:
            await error(400, -1020, f"Unsupported method {method!r}.")

    def _subscribe(self, connection: SimConnection) -> int:
        subscription = self.subscription_ids
        self.subscription_ids += 1
        connection.subscriptions.add(str(subscription))
        return subscription

    # -- market data ---------------------------------------------------------------------------

    def book_ticker_payload(self, symbol: str, quote: Quote) -> dict[str, Any]:
        """A spot ``bookTicker``: bid and ask one cent around the mark, so the mid is the mark."""
        self.book_update_id += 1 + self.world.rng.randrange(5)
        return {
            "u": self.book_update_id,
            "s": symbol,
            "b": fixed(quote.mark - HALF_SPREAD, 8),
            "B": "31.21000000",
            "a": fixed(quote.mark + HALF_SPREAD, 8),
            "A": "40.66000000",
        }

    async def _push(self, connection: SimConnection, streams: Sequence[str], symbols: Sequence[str]) -> None:
        for stream in sorted(streams):
            name, _, kind = stream.partition("@")
            symbol = name.upper()
            if kind != "bookTicker" or symbol not in symbols:
                continue
            quote = self.world.quote(self.name, symbol)
            if quote is None:
                continue
            payload = self.book_ticker_payload(symbol, quote)
            if connection.route.combined:
                await connection.send_json({"stream": stream, "data": payload})
            else:
                await connection.send_json(payload)

    async def publish_quote(self, symbol: str) -> None:
        """bookTicker of the symbol to every subscribed market connection."""
        if self.take_gap():
            self.book_update_id += 1
            return
        for connection in self.market_connections():
            await self._push(connection, sorted(connection.subscriptions), [symbol])

    async def heartbeat(self) -> None:
        """bookTicker is real-time: re-send the current book, as a busy market would."""
        symbols = self.world.symbols(self.name)
        for connection in self.market_connections():
            await self._push(connection, sorted(connection.subscriptions), symbols)

    # -- user data -----------------------------------------------------------------------------

    async def _push_event(self, account: str, event: dict[str, Any]) -> None:
        for connection in self.private_connections(account):
            for subscription in sorted(connection.subscriptions):
                await connection.send_json({"subscriptionId": int(subscription), "event": event})

    def account_position(self, account: str, assets: Sequence[str]) -> dict[str, Any]:
        """An ``outboundAccountPosition`` event for the changed assets."""
        now = self.world.now_ms()
        return {
            "e": "outboundAccountPosition",
            "E": now,
            "u": now - 1,
            "B": [
                {
                    "a": asset,
                    "f": fixed(self.world.balances.get((self.name, account, asset), 0.0), 8),
                    "l": "0.00000000",
                }
                for asset in assets
            ],
        }

    async def publish_position(
        self, account: str, symbol: str, fill: SimFill | None, side: PositionSide = "one_way"
    ) -> None:
        """Spot has no positions; a fill shows up as balance changes."""
        del account, symbol, fill, side

    async def publish_balances(self, account: str, assets: Sequence[str]) -> None:
        """``outboundAccountPosition`` with the absolute balances of the changed assets."""
        await self._push_event(account, self.account_position(account, assets))

    async def publish_balance_delta(self, account: str, asset: str, delta: float) -> None:
        """``balanceUpdate`` (deposit/withdrawal/transfer) with a signed delta."""
        now = self.world.now_ms()
        event = {"e": "balanceUpdate", "E": now, "a": asset, "d": fixed(delta, 8), "T": now - 1}
        await self._push_event(account, event)

    def malformed_frame(self, kind: StreamKind) -> str:
        """A truncated event of the right family."""
        if kind == "private":
            return '{"subscriptionId":0,"event":{"e":"outboundAccountPosition","E":1564034571105,"B":[{'
        return '{"u":400900217,"s":"BTCUSDT","b":"25.3519'

    # -- REST ----------------------------------------------------------------------------------

    def exchange_info(self) -> dict[str, Any]:
        """``GET /api/v3/exchangeInfo``: every spot pair of the simulator's listing, TRADING, with
        its ``LOT_SIZE`` filter."""
        symbols = []
        for instrument_id in self.world.catalog.ids():
            if not instrument_id.startswith(f"{self.name}:"):
                continue
            instrument = self.world.catalog.get(instrument_id)
            if instrument is None:
                continue
            symbols.append({
                "symbol": instrument_id.split(":", 1)[1], "status": "TRADING",
                "baseAsset": instrument.base, "quoteAsset": instrument.quote,
                "filters": [{"filterType": "LOT_SIZE", "minQty": fixed(instrument.min_quantity, 8),
                             "maxQty": "9000.00000000", "stepSize": fixed(instrument.lot_step, 8)}],
            })
        return {"timezone": "UTC", "serverTime": self.world.now_ms(), "symbols": symbols}

    def rest(self, request: RestRequest) -> RestResponse:
        """account, bookTicker, time, ping."""
        if request.path == "/api/v3/ping":
            return RestResponse.json(200, {})
        if request.path == "/api/v3/time":
            return RestResponse.json(200, {"serverTime": self.world.now_ms()})
        if request.path == "/api/v3/exchangeInfo":
            return RestResponse.json(200, self.exchange_info())
        if request.path == "/api/v3/ticker/bookTicker":
            symbol = request.params.get("symbol", "")
            quote = self.world.quote(self.name, symbol)
            if quote is None:
                return binance_error(400, -1121, "Invalid symbol.")
            return RestResponse.json(
                200,
                {
                    "symbol": symbol,
                    "bidPrice": fixed(quote.mark - HALF_SPREAD, 8),
                    "bidQty": "31.21000000",
                    "askPrice": fixed(quote.mark + HALF_SPREAD, 8),
                    "askQty": "40.66000000",
                },
            )
        if request.path != "/api/v3/account":
            return binance_error(404, -5000, f"Path {request.path} not found.")
        account = signed_account(self.world, self.name, request, verify=self.verify_signatures)
        if isinstance(account, RestResponse):
            return account
        omit_zero = request.params.get("omitZeroBalances", "false") == "true"
        balances = [
            {"asset": asset, "free": fixed(quantity, 8), "locked": "0.00000000"}
            for asset, quantity in self.world.balances_of(self.name, account.account).items()
            if not (omit_zero and quantity == 0)
        ]
        now = self.world.now_ms()
        return RestResponse.json(
            200,
            {
                "makerCommission": 15,
                "takerCommission": 15,
                "buyerCommission": 0,
                "sellerCommission": 0,
                "commissionRates": {
                    "maker": "0.00150000",
                    "taker": "0.00150000",
                    "buyer": "0.00000000",
                    "seller": "0.00000000",
                },
                "canTrade": True,
                "canWithdraw": True,
                "canDeposit": True,
                "brokered": False,
                "requireSelfTradePrevention": False,
                "preventSor": False,
                "updateTime": now,
                "accountType": "SPOT",
                "balances": balances,
                "permissions": ["SPOT"],
                "uid": 354937868,
            },
        )
