"""Hyperliquid wire format: one websocket ``/ws`` for every subscription, REST ``POST /info``.

Written from hyperliquid.gitbook.io/hyperliquid-docs/for-developers/api ("Websocket",
"Subscriptions", "Timeouts and heartbeats", "Info endpoint / Perpetuals"), apart from the monitor's
venue module:

- ``{"method":"subscribe","subscription":{"type":..}}`` is answered ``{"channel":
  "subscriptionResponse","data":<the request>}`` and then the current state: ``activeAssetCtx``
  (``{"coin","ctx":{"markPx","oraclePx","funding",..}}``), ``webData2`` / ``clearinghouseState``
  (the account's whole clearinghouse state), ``userFills`` (``isSnapshot`` true, then every new
  fill). A subscription names the account by its ``user`` address; an unknown address is served
  an empty account, as Hyperliquid does.
- ``{"method":"ping"}`` is answered ``{"channel":"pong"}``.
- ``POST /info`` with a JSON body ``{"type":"clearinghouseState","user":..}`` or
  ``{"type":"metaAndAssetCtxs"}``. The websockets handshake parser refuses request bodies, so this
  venue answers REST on a listener of its own (``start_side_server``).

Every number is a decimal string. The clearinghouse state: per position ``szi`` (signed coin),
``entryPx``, ``positionValue`` (|szi| x mark), ``unrealizedPnl``, ``leverage`` {type, value,
rawUsd for isolated}, ``marginUsed`` (isolated: the isolated margin plus its PnL; cross: value /
leverage), ``liquidationPx`` (the simulator's rule, null when there is none), ``maxLeverage``;
``marginSummary.accountValue`` = USDC wallet + every PnL, ``crossMarginSummary.accountValue`` =
cross wallet (the wallet less isolated margins) + the cross PnL, ``withdrawable``, ``time``.
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import json
import logging
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
    dumps,
    num,
)
from monitor.sim.world import SimFill, wallet_address

logger = logging.getLogger(__name__)

SETTLEMENT = "USDC"
USER_CHANNELS = ("webData2", "clearinghouseState")
MAX_REQUEST_BYTES = 64 * 1024
UNREADABLE = "Failed to deserialize the JSON body into the target type"


class HyperliquidSim(SimVenue):
    """Hyperliquid perpetuals, read by wallet address (no login)."""

    name = "hyperliquid"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._rest_server: asyncio.Server | None = None
        self._rest_url: str | None = None

    # -- addresses -----------------------------------------------------------------------------

    def account_of(self, address: str) -> str | None:
        """The simulated account whose wallet address is ``address`` (any case), or None."""
        wanted = address.lower()
        for venue, account in self.world.accounts:
            if venue == self.name and wallet_address(venue, account) == wanted:
                return account
        return None

    # -- websocket ----------------------------------------------------------------------------

    def accept(self, path: str, query: str) -> Route | Rejection:
        """``/ws`` only; the connection's kind follows its first user subscription."""
        del query
        if path.rstrip("/") == "/ws":
            return Route("market", "ws")
        return Rejection(404, {"error": "not found"})

    async def on_open(self, connection: SimConnection) -> None:
        """Nothing until the client subscribes."""
        connection.state["subscriptions"] = []

    async def on_message(self, connection: SimConnection, message: str | bytes) -> None:
        """``ping`` and ``subscribe``; anything else is answered on the error channel."""
        try:
            request = json.loads(message)
        except ValueError:
            request = None
        if not isinstance(request, dict):
            await self._error(connection, f"Invalid request: {str(message)[:80]}")
            return
        method = request.get("method")
        if method == "ping":
            connection.state["pings"] = connection.state.get("pings", 0) + 1
            await connection.send_json({"channel": "pong"}, data=False)
            return
        subscription = request.get("subscription")
        if method != "subscribe" or not isinstance(subscription, dict):
            await self._error(connection, f"Invalid request: {dumps(request)[:80]}")
            return
        await self._subscribe(connection, request, subscription)

    async def _subscribe(self, connection: SimConnection, request: dict[str, Any],
                         subscription: dict[str, Any]) -> None:
        kind = subscription.get("type")
        if subscription in connection.state["subscriptions"]:
            await self._error(connection, f"Already subscribed: {dumps(subscription)}")
            return
        if kind == "activeAssetCtx" and isinstance(subscription.get("coin"), str):
            connection.state["subscriptions"].append(subscription)
            await connection.send_json({"channel": "subscriptionResponse", "data": request}, data=False)
            await self._asset_context(connection, subscription["coin"])
            return
        if kind in (*USER_CHANNELS, "userFills") and isinstance(subscription.get("user"), str):
            account = self.account_of(subscription["user"])
            connection.state["subscriptions"].append(subscription)
            if account is not None:
                connection.kind = "private"
                connection.account = account
            await connection.send_json({"channel": "subscriptionResponse", "data": request}, data=False)
            if kind == "userFills":
                await connection.send_json({"channel": "userFills", "data": {
                    "isSnapshot": True, "user": subscription["user"], "fills": []}})
            else:
                await self._user_state(connection, account, subscription)
            return
        await self._error(connection, f"Invalid subscription: {dumps(subscription)}")

    @staticmethod
    async def _error(connection: SimConnection, text: str) -> None:
        await connection.send_json({"channel": "error", "data": text}, data=False)

    def _subscribed(self, connection: SimConnection, kinds: Sequence[str]) -> list[dict[str, Any]]:
        return [s for s in connection.state.get("subscriptions", []) if s.get("type") in kinds]

    def asset_context(self, coin: str) -> dict[str, Any] | None:
        """``PerpsAssetCtx`` of a coin, or None without a quote."""
        quote = self.world.quote(self.name, coin)
        if quote is None:
            return None
        return {
            "dayNtlVlm": "0.0", "prevDayPx": num(quote.mark), "markPx": num(quote.mark),
            "midPx": num(quote.mark), "funding": num(quote.funding_rate or 0.0, 10),
            "openInterest": "0.0", "oraclePx": num(quote.index), "premium": "0.0",
        }

    async def _asset_context(self, connection: SimConnection, coin: str) -> None:
        ctx = self.asset_context(coin)
        if ctx is not None:
            await connection.send_json({"channel": "activeAssetCtx", "data": {"coin": coin, "ctx": ctx}})

    async def _user_state(self, connection: SimConnection, account: str | None,
                          subscription: dict[str, Any]) -> None:
        state = self.clearinghouse_state(account)
        user = subscription["user"]
        if subscription.get("type") == "webData2":
            data: dict[str, Any] = {"clearinghouseState": state, "serverTime": self.world.now_ms(),
                                    "user": user}
        else:
            data = {"dex": "", "user": user, "clearinghouseState": state}
        await connection.send_json({"channel": subscription["type"], "data": data})

    async def publish_quote(self, symbol: str) -> None:
        """``activeAssetCtx`` to the coin's subscribers; every user state moves with the mark."""
        if self.take_gap():
            return
        for connection in list(self.connections):
            for subscription in self._subscribed(connection, ("activeAssetCtx",)):
                if subscription.get("coin") == symbol:
                    await self._asset_context(connection, symbol)
        for connection in list(self.connections):
            if connection.kind == "private":
                for subscription in self._subscribed(connection, USER_CHANNELS):
                    await self._user_state(connection, connection.account, subscription)

    async def publish_position(
        self, account: str, symbol: str, fill: SimFill | None, side: PositionSide = "one_way"
    ) -> None:
        """The new user state, and the fill that caused it."""
        del symbol, side
        for connection in self.private_connections(account):
            if fill is not None:
                for subscription in self._subscribed(connection, ("userFills",)):
                    await connection.send_json({"channel": "userFills", "data": {
                        "user": subscription["user"], "fills": [self.fill_item(fill)]}})
            for subscription in self._subscribed(connection, USER_CHANNELS):
                await self._user_state(connection, account, subscription)

    async def publish_balances(self, account: str, assets: Sequence[str]) -> None:
        """The new user state (the account value moves with the USDC wallet)."""
        del assets
        for connection in self.private_connections(account):
            for subscription in self._subscribed(connection, USER_CHANNELS):
                await self._user_state(connection, account, subscription)

    def malformed_frame(self, kind: StreamKind) -> str:
        """A truncated push of the right family."""
        if kind == "private":
            return '{"channel":"webData2","data":{"clearinghouseState":{"assetPositions":[{"position":{"s'
        return '{"channel":"activeAssetCtx","data":{"coin":"BTC","ctx":{"markPx":"6'

    # -- state ---------------------------------------------------------------------------------

    def fill_item(self, fill: SimFill) -> dict[str, Any]:
        """One ``WsFill``: side ``B`` buy / ``A`` sell, size unsigned, fee in USDC."""
        return {
            "coin": fill.symbol, "px": num(fill.price), "sz": num(abs(fill.quantity)),
            "side": "B" if fill.quantity > 0 else "A", "time": fill.ts_ms, "startPosition": "0.0",
            "dir": "Open Long" if fill.quantity > 0 else "Open Short", "closedPnl": num(fill.realised_pnl),
            "hash": f"0x{fill.trade_id:064x}", "oid": fill.trade_id, "crossed": True,
            "fee": num(fill.fee), "tid": fill.trade_id, "feeToken": fill.fee_asset,
        }

    def clearinghouse_state(self, account: str | None) -> dict[str, Any]:
        """The account's ``clearinghouseState`` (an empty account for an unknown address)."""
        positions: list[dict[str, Any]] = []
        total_pnl = 0.0
        cross_pnl = 0.0
        total_value = 0.0
        margin_used = 0.0
        cross_margin_used = 0.0
        cross_maintenance = 0.0
        wallet = 0.0
        cross_wallet = 0.0
        if account is not None:
            wallet = self.world.balances_of(self.name, account).get(SETTLEMENT, 0.0)
            cross_wallet = self.world.cross_wallet(self.name, account, SETTLEMENT)
            for (symbol, side), position in sorted(self.account_legs(account).items()):
                if position.quantity == 0:
                    continue
                figures = self.figures(account, symbol, side)
                if figures is None:
                    continue
                item = self.position_item(symbol, position.quantity, position.entry_price, position.leverage,
                                          position.margin_mode, position.isolated_margin, figures.mark_price,
                                          figures.liquidation_price, figures.maintenance_margin)
                positions.append({"position": item, "type": "oneWay"})
                pnl = figures.unrealised_pnl
                value = abs(position.quantity) * figures.mark_price
                used = float(item["marginUsed"])
                total_pnl += pnl
                total_value += value
                margin_used += used
                if position.margin_mode != "isolated":
                    cross_pnl += pnl
                    cross_margin_used += used
                    cross_maintenance += figures.maintenance_margin
        account_value = wallet + total_pnl
        cross_value = cross_wallet + cross_pnl
        cross_value_positions = sum(float(p["position"]["positionValue"]) for p in positions
                                    if p["position"]["leverage"]["type"] == "cross")
        return {
            "assetPositions": positions,
            "crossMaintenanceMarginUsed": num(cross_maintenance, 6),
            "crossMarginSummary": {
                "accountValue": num(cross_value, 6), "totalMarginUsed": num(cross_margin_used, 6),
                "totalNtlPos": num(cross_value_positions, 6),
                "totalRawUsd": num(cross_value - cross_value_positions, 6),
            },
            "marginSummary": {
                "accountValue": num(account_value, 6), "totalMarginUsed": num(margin_used, 6),
                "totalNtlPos": num(total_value, 6), "totalRawUsd": num(account_value - total_value, 6),
            },
            "time": self.world.now_ms(),
            "withdrawable": num(max(cross_value - cross_margin_used, 0.0), 6),
        }

    def position_item(
        self, coin: str, quantity: float, entry: float, leverage: float, mode: str, isolated_margin: float,
        mark: float, liquidation: float | None, maintenance: float,
    ) -> dict[str, Any]:
        """One ``assetPositions[].position``."""
        del maintenance
        pnl = quantity * (mark - entry)
        value = abs(quantity) * mark
        isolated = mode == "isolated"
        used = isolated_margin + pnl if isolated else (value / leverage if leverage > 0 else 0.0)
        lever: dict[str, Any] = {"type": "isolated" if isolated else "cross", "value": int(leverage)}
        if isolated:
            lever["rawUsd"] = num(used - quantity * mark, 6)  # isolated margin + PnL - szi x mark
        instrument = self.world.instrument(self.name, coin)
        tiers = instrument.tiers if instrument is not None else ()
        max_leverage = int(tiers[0].max_leverage) if tiers else 50
        return {
            "coin": coin,
            "cumFunding": {"allTime": "0.0", "sinceChange": "0.0", "sinceOpen": "0.0"},
            "entryPx": num(entry),
            "leverage": lever,
            "liquidationPx": num(liquidation) if liquidation is not None else None,
            "marginUsed": num(used, 6),
            "maxLeverage": max_leverage,
            "positionValue": num(value, 6),
            "returnOnEquity": num(pnl / used if used else 0.0, 8),
            "szi": num(quantity),
            "unrealizedPnl": num(pnl, 6),
        }

    # -- REST ----------------------------------------------------------------------------------

    def rest(self, request: RestRequest) -> RestResponse:
        """``POST /info``: clearinghouseState, metaAndAssetCtxs."""
        if request.path.rstrip("/") != "/info":
            return RestResponse.json(404, {"error": "not found"})
        if request.method != "POST":
            return RestResponse.json(405, {"error": "method not allowed"})
        try:
            body = json.loads(request.body or b"null")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return RestResponse.json(422, {"error": UNREADABLE})
        kind = body.get("type")
        if kind == "clearinghouseState" and isinstance(body.get("user"), str):
            return RestResponse.json(200, self.clearinghouse_state(self.account_of(body["user"])))
        if kind == "metaAndAssetCtxs":
            coins = self.world.symbols(self.name)
            universe = [{"name": coin, "szDecimals": 5, "maxLeverage": 40} for coin in coins]
            contexts = [self.asset_context(coin) or {} for coin in coins]
            return RestResponse.json(200, [{"universe": universe}, contexts])
        return RestResponse.json(422, {"error": UNREADABLE})

    async def start_side_server(self, host: str, port: int = 0) -> None:
        """Listen for ``POST /info`` on a port of its own (``port``, or any free one for 0)."""
        if self._rest_server is not None:
            return
        self._rest_server = await asyncio.start_server(self._serve_http, host, port)
        port = self._rest_server.sockets[0].getsockname()[1]
        self._rest_url = f"http://{host}:{port}"

    async def stop_side_server(self) -> None:
        """Stop the REST listener."""
        if self._rest_server is not None:
            self._rest_server.close()
            await self._rest_server.wait_closed()
            self._rest_server = None
            self._rest_url = None

    def side_rest_url(self) -> str | None:
        """The REST listener's base URL (None before ``start_side_server``)."""
        return self._rest_url

    async def _serve_http(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One HTTP/1.1 request with a Content-Length body, answered and closed."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line, *header_lines = head.decode("latin-1").split("\r\n")
            method, target, _ = request_line.split(" ", 2)
            headers: dict[str, str] = {}
            for line in header_lines:
                name, sep, value = line.partition(":")
                if sep:
                    headers[name.strip()] = value.strip()
            length = int(headers.get("Content-Length", headers.get("content-length", "0")) or 0)
            body = await reader.readexactly(length) if 0 < length <= MAX_REQUEST_BYTES else b""
            path, _, query = target.partition("?")
            if length > MAX_REQUEST_BYTES:
                answer = RestResponse.json(413, {"error": "request body too large"})
            else:
                answer = self.rest(RestRequest(method, path, query, headers, body))
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            answer = RestResponse.json(400, {"error": "bad request"})
        except Exception:
            logger.exception("simulator REST handler failed for hyperliquid")
            answer = RestResponse.json(500, {"error": "simulator internal error"})
        try:
            reason = http.HTTPStatus(answer.status).phrase
        except ValueError:
            reason = "Unknown"
        writer.write(
            f"HTTP/1.1 {answer.status} {reason}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(answer.body)}\r\nConnection: close\r\n\r\n".encode("latin-1") + answer.body
        )
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
