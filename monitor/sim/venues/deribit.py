"""Simulated Deribit API v2 (venue ``deribit``): JSON-RPC websocket and signed HTTP GETs.

Paths after the ``/deribit`` prefix mirror ``www.deribit.com``:

- ``/ws/api/v2``: JSON-RPC 2.0. ``public/set_heartbeat`` (the simulator then sends
  ``{"method":"heartbeat","params":{"type":"test_request"}}`` on its heartbeat and counts the
  ``public/test`` answers), ``public/test``, ``public/auth`` (``client_signature``: hex
  HMAC-SHA256(secret, timestamp + "\\n" + nonce + "\\n" + data), or ``client_credentials``),
  ``public/subscribe`` (``ticker.<instrument>.<interval>``), ``private/subscribe`` after auth
  (``user.portfolio.<currency>``, ``user.changes.future.<CURRENCY>.raw``). Unknown methods answer
  JSON-RPC error -32601; a private subscription without auth, 13009 "unauthorized".
- REST: ``GET /api/v2/private/get_positions?currency=..&kind=future``,
  ``/api/v2/private/get_account_summary?currency=..`` with ``Authorization: deri-hmac-sha256
  id=..,ts=..,sig=..,nonce=..`` (sig over ``ts\\nnonce\\nGET\\n<uri>\\n\\n``); ``/api/v2/public/test``.

Positions are net per instrument in contracts of the catalog's USD value; on the wire ``size`` is
USD (negative for a short) with ``direction``. The simulator has no daily settlement: a position's
floating PnL runs from its average price, the cash balance is the wallet, ``session_upl`` the
positions' unrealised PnL and ``equity`` their sum. Margin figures come from ``monitor.sim.margin``
(``DeribitRule``).
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
    hmac_hex,
)
from monitor.sim.world import SimAccount, SimFill, SimPosition

WS_PATH = "/ws/api/v2"
SIGNATURE_WINDOW_MS = 60_000


def _currency(symbol: str) -> str:
    return symbol.split("-", 1)[0]


class DeribitSim(SimVenue):
    """Deribit API v2 wire format."""

    name = "deribit"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tests_answered = 0
        self.auth_failures = 0

    # -- websocket ----------------------------------------------------------------------------

    def accept(self, path: str, query: str) -> Route | Rejection:
        """Only ``/ws/api/v2``; a connection becomes private when it authenticates."""
        del query
        if path.rstrip("/") != WS_PATH:
            return Rejection(404, {"jsonrpc": "2.0", "error": {"code": 404, "message": "not_found"}})
        return Route("market", "jsonrpc")

    async def on_open(self, connection: SimConnection) -> None:
        """Nothing until the client asks."""
        connection.state["heartbeat"] = False

    async def on_message(self, connection: SimConnection, message: str | bytes) -> None:
        """One JSON-RPC request."""
        try:
            request = json.loads(message)
        except ValueError:
            await self._error(connection, None, -32700, "parse_error")
            return
        if not isinstance(request, dict):
            await self._error(connection, None, -32600, "invalid_request")
            return
        request_id, method = request.get("id"), request.get("method")
        params = request.get("params") if isinstance(request.get("params"), dict) else {}
        assert isinstance(params, dict)  # noqa: S101 -- narrowed above
        if method == "public/set_heartbeat":
            connection.state["heartbeat"] = True
            await self._result(connection, request_id, "ok")
        elif method == "public/test":
            self.tests_answered += 1
            await self._result(connection, request_id, {"version": "1.2.26"})
        elif method == "public/auth":
            await self._auth(connection, request_id, params)
        elif method in ("public/subscribe", "private/subscribe"):
            await self._subscribe(connection, request_id, params, private=method == "private/subscribe")
        else:
            await self._error(connection, request_id, -32601, "Method not found")

    async def _result(self, connection: SimConnection, request_id: Any, result: Any) -> None:
        await connection.send_json({"jsonrpc": "2.0", "id": request_id, "result": result,
                                    "usIn": self.world.now_ms() * 1000, "testnet": False}, data=False)

    async def _error(self, connection: SimConnection, request_id: Any, code: int, message: str) -> None:
        await connection.send_json({"jsonrpc": "2.0", "id": request_id,
                                    "error": {"code": code, "message": message}}, data=False)

    def _check_signature(self, account: SimAccount, timestamp: object, nonce: object, payload: str,
                         signature: object) -> bool:
        if not isinstance(timestamp, int) or abs(self.world.now_ms() - timestamp) > SIGNATURE_WINDOW_MS:
            return False
        if not self.verify_signatures:
            return True
        expected = hmac_hex(account.api_secret, f"{timestamp}\n{nonce}\n{payload}")
        return hmac.compare_digest(str(signature), expected)

    async def _auth(self, connection: SimConnection, request_id: Any, params: dict[str, Any]) -> None:
        account = self.world.account_for_key(self.name, str(params.get("client_id", "")))
        grant = params.get("grant_type")
        ok = False
        if account is not None and grant == "client_signature":
            data = params.get("data", "")
            ok = self._check_signature(account, params.get("timestamp"), params.get("nonce", ""),
                                       str(data), params.get("signature"))
        elif account is not None and grant == "client_credentials":
            ok = hmac.compare_digest(str(params.get("client_secret", "")), account.api_secret)
        if not ok or account is None:
            self.auth_failures += 1
            await self._error(connection, request_id, 13004, "invalid_credentials")
            return
        connection.kind = "private"
        connection.account = account.account
        await self._result(connection, request_id, {
            "access_token": f"sim-access-{connection.connection_id}", "expires_in": 31536000,
            "refresh_token": f"sim-refresh-{connection.connection_id}", "scope": "connection mainaccount",
            "token_type": "bearer", "enabled_features": [],
        })

    async def _subscribe(
        self, connection: SimConnection, request_id: Any, params: dict[str, Any], *, private: bool
    ) -> None:
        channels = [c for c in params.get("channels", []) if isinstance(c, str)]
        if private and connection.account is None:
            await self._error(connection, request_id, 13009, "unauthorized")
            return
        accepted = [c for c in channels if c.startswith("ticker.") or (private and c.startswith("user."))]
        connection.subscriptions.update(accepted)
        await self._result(connection, request_id, accepted)
        for channel in accepted:
            await self._push_current(connection, channel)

    async def _push_current(self, connection: SimConnection, channel: str) -> None:
        parts = channel.split(".")
        if parts[0] == "ticker" and len(parts) == 3:
            await self._notify(connection, channel, self.ticker_data(parts[1]))
        elif parts[:2] == ["user", "portfolio"] and connection.account is not None:
            await self._notify(connection, channel, self.portfolio(connection.account, parts[2].upper()))

    async def _notify(self, connection: SimConnection, channel: str, data: Any) -> None:
        if data is None:
            return
        await connection.send_json({"jsonrpc": "2.0", "method": "subscription",
                                    "params": {"channel": channel, "data": data}})

    # -- market data ---------------------------------------------------------------------------

    def ticker_data(self, symbol: str) -> dict[str, Any] | None:
        """A ``ticker`` notification's data (``funding_8h`` and ``current_funding`` on perpetuals)."""
        quote = self.world.quote(self.name, symbol)
        if quote is None:
            return None
        data: dict[str, Any] = {
            "timestamp": self.world.now_ms(), "state": "open", "instrument_name": symbol,
            "mark_price": quote.mark, "index_price": quote.index, "last_price": quote.mark,
            "best_bid_price": quote.mark - 0.5, "best_ask_price": quote.mark + 0.5,
            "best_bid_amount": 1000, "best_ask_amount": 1000, "estimated_delivery_price": quote.index,
            "settlement_price": quote.mark, "open_interest": 0, "min_price": quote.mark * 0.97,
            "max_price": quote.mark * 1.03,
        }
        if symbol.endswith("-PERPETUAL"):
            data["funding_8h"] = quote.funding_rate or 0.0
            data["current_funding"] = quote.funding_rate or 0.0
        return data

    async def publish_quote(self, symbol: str) -> None:
        """The symbol's ticker to every connection subscribed to it."""
        if self.take_gap():
            return
        for connection in list(self.connections):
            for channel in sorted(connection.subscriptions):
                if channel.startswith(f"ticker.{symbol}."):
                    await self._notify(connection, channel, self.ticker_data(symbol))

    async def heartbeat(self) -> None:
        """Tickers of every subscribed instrument, and a ``test_request`` where a heartbeat is set."""
        for connection in list(self.connections):
            for channel in sorted(connection.subscriptions):
                if channel.startswith("ticker."):
                    await self._notify(connection, channel, self.ticker_data(channel.split(".")[1]))
            if connection.state.get("heartbeat"):
                await connection.send_json({"jsonrpc": "2.0", "method": "heartbeat",
                                            "params": {"type": "test_request"}}, data=False)

    # -- account -------------------------------------------------------------------------------

    def _contract_value(self, symbol: str) -> float:
        instrument = self.world.instrument(self.name, symbol)
        return instrument.contract_value if instrument is not None and instrument.contract_value > 0 else 10.0

    def position_row(self, account: str, symbol: str) -> dict[str, Any]:
        """A position object: ``size`` in USD (negative short), figures from ``DeribitRule``."""
        position = self.world.position(self.name, account, symbol) or SimPosition(0.0, 0.0)
        quote = self.world.quote(self.name, symbol)
        mark = quote.mark if quote is not None else position.entry_price
        size = position.quantity * self._contract_value(symbol)
        upnl = self.world.unrealised_pnl(self.name, symbol, position)
        figures = self.figures(account, symbol, "one_way")
        open_figures = figures if figures is not None and position.quantity != 0 else None
        return {
            "instrument_name": symbol, "kind": "future",
            "direction": "buy" if size > 0 else "sell" if size < 0 else "zero",
            "size": size, "size_currency": size / mark if mark > 0 else 0.0,
            "average_price": position.entry_price, "mark_price": mark,
            "index_price": quote.index if quote is not None else mark,
            "floating_profit_loss": upnl, "total_profit_loss": upnl, "realized_profit_loss": 0.0,
            "realized_funding": 0.0, "leverage": int(position.leverage), "open_orders_margin": 0.0,
            "delta": size / mark if mark > 0 else 0.0, "interest_value": 0.0,
            "maintenance_margin": open_figures.maintenance_margin if open_figures else 0.0,
            "initial_margin": open_figures.initial_margin if open_figures else 0.0,
            "estimated_liquidation_price": (
                open_figures.liquidation_price if open_figures and open_figures.liquidation_price else None),
        }

    def _rows(self, account: str, currency: str) -> list[dict[str, Any]]:
        return [self.position_row(account, symbol)
                for (symbol, side), position in self.account_legs(account).items()
                if side == "one_way" and position.quantity != 0 and _currency(symbol) == currency]

    def portfolio(self, account: str, currency: str) -> dict[str, Any]:
        """A currency's portfolio / account summary: balance = wallet, equity = balance + session_upl."""
        balance = self.world.balances.get((self.name, account, currency), 0.0)
        legs = [(symbol, position) for (symbol, side), position in self.account_legs(account).items()
                if side == "one_way" and position.quantity != 0 and _currency(symbol) == currency]
        upl = sum(self.world.unrealised_pnl(self.name, symbol, position) for symbol, position in legs)
        figures = [f for symbol, _ in legs if (f := self.figures(account, symbol, "one_way")) is not None]
        maintenance = sum(f.maintenance_margin for f in figures)
        initial = sum(f.initial_margin for f in figures)
        equity = balance + upl
        return {
            "currency": currency, "balance": balance, "equity": equity, "margin_balance": equity,
            "session_upl": upl, "session_rpl": 0.0, "futures_session_upl": upl, "futures_session_rpl": 0.0,
            "total_pl": upl, "futures_pl": upl, "maintenance_margin": maintenance, "initial_margin": initial,
            "available_funds": equity - initial, "available_withdrawal_funds": max(0.0, balance - initial),
            "delta_total": sum(r["delta"] for r in self._rows(account, currency)),
            "portfolio_margining_enabled": False, "options_value": 0, "options_pl": 0,
            "projected_maintenance_margin": maintenance, "projected_initial_margin": initial,
            "estimated_liquidation_ratio": maintenance / equity if equity > 0 else 0.0,
        }

    def _private(self, account: str, prefix: str) -> list[tuple[SimConnection, str]]:
        return [(connection, channel) for connection in self.private_connections(account)
                for channel in sorted(connection.subscriptions) if channel.startswith(prefix)]

    async def publish_position(
        self, account: str, symbol: str, fill: SimFill | None, side: PositionSide = "one_way"
    ) -> None:
        """``user.changes`` with the trade and the changed position, then the portfolio."""
        del side
        currency = _currency(symbol)
        trades = [] if fill is None else [self._trade(fill)]
        data = {"trades": trades, "positions": [self.position_row(account, symbol)], "orders": []}
        for connection, channel in self._private(account, f"user.changes.future.{currency}."):
            await self._notify(connection, channel, data)
        await self.publish_balances(account, [currency])

    def _trade(self, fill: SimFill) -> dict[str, Any]:
        value = self._contract_value(fill.symbol)
        return {
            "trade_id": str(fill.trade_id), "trade_seq": fill.trade_id, "timestamp": fill.ts_ms,
            "instrument_name": fill.symbol, "direction": "buy" if fill.quantity > 0 else "sell",
            "amount": abs(fill.quantity) * value, "price": fill.price, "mark_price": fill.price,
            "index_price": fill.price, "fee": fill.fee, "fee_currency": fill.fee_asset, "state": "filled",
            "order_type": "market", "liquidity": "T", "profit_loss": fill.realised_pnl,
        }

    async def publish_balances(self, account: str, assets: Sequence[str]) -> None:
        """``user.portfolio.<currency>`` of each asset."""
        for asset in assets:
            for connection, channel in self._private(account, f"user.portfolio.{asset.lower()}"):
                await self._notify(connection, channel, self.portfolio(account, asset.upper()))

    def malformed_frame(self, kind: StreamKind) -> str:
        """A truncated notification of the right family."""
        if kind == "private":
            return ('{"jsonrpc":"2.0","method":"subscription","params":{"channel":"user.portfolio.btc",'
                    '"data":{"bal')
        return '{"jsonrpc":"2.0","method":"subscription","params":{"channel":"ticker.BTC-PERPETUAL.100ms","da'

    # -- REST ----------------------------------------------------------------------------------

    def _authenticate(self, request: RestRequest) -> SimAccount | RestResponse:
        header = request.header("Authorization") or ""
        if not header.startswith("deri-hmac-sha256 "):
            return _error(401, 13009, "unauthorized")
        fields = dict(part.split("=", 1) for part in header.removeprefix("deri-hmac-sha256 ").split(",")
                      if "=" in part)
        account = self.world.account_for_key(self.name, fields.get("id", ""))
        timestamp = fields.get("ts", "")
        if account is None or not timestamp.isdigit():
            return _error(401, 13009, "unauthorized")
        uri = request.path + (f"?{request.raw_query}" if request.raw_query else "")
        if not self._check_signature(account, int(timestamp), fields.get("nonce", ""),
                                     f"{request.method}\n{uri}\n\n", fields.get("sig")):
            return _error(401, 13009, "unauthorized")
        return account

    def rest(self, request: RestRequest) -> RestResponse:
        """get_positions, get_account_summary (signed), public/test."""
        if request.path == "/api/v2/public/test":
            return RestResponse.json(200, {"jsonrpc": "2.0", "result": {"version": "1.2.26"}})
        handlers = {
            "/api/v2/private/get_positions": self._positions,
            "/api/v2/private/get_account_summary": self._summary,
        }
        handler = handlers.get(request.path)
        if handler is None:
            return _error(404, -32601, "Method not found")
        if request.method != "GET":
            return _error(400, 11050, "bad_request")
        account = self._authenticate(request)
        if isinstance(account, RestResponse):
            return account
        currency = request.params.get("currency", "").upper()
        if not currency:
            return _error(400, -32602, "Invalid params")
        return RestResponse.json(200, {"jsonrpc": "2.0", "result": handler(account.account, currency),
                                       "usIn": self.world.now_ms() * 1000, "testnet": False})

    def _positions(self, account: str, currency: str) -> list[dict[str, Any]]:
        return self._rows(account, currency)

    def _summary(self, account: str, currency: str) -> dict[str, Any]:
        return self.portfolio(account, currency)


def _error(status: int, code: int, message: str) -> RestResponse:
    return RestResponse.json(status, {"jsonrpc": "2.0", "error": {"code": code, "message": message}})
