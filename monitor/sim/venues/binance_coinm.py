"""Simulated Binance COIN-M Futures (venue ``binance-coinm``): dstream websockets, listenKey and dapi REST.

Paths after the ``/binance-coinm`` prefix mirror ``dstream.binance.com`` and ``dapi.binance.com``:

- ``/stream?streams=a/b``, ``/ws/<streams>``: ``<symbol>@markPrice[@1s]`` (a delivery symbol sends
  ``"r":""`` and ``"T":0``, the documented delivery form). COIN-M market streams are not routed.
- ``/ws/<listenKey>``: the user data stream (``ACCOUNT_UPDATE``, ``ORDER_TRADE_UPDATE``,
  ``listenKeyExpired``); an unknown or expired key is refused with HTTP 400 ``-1125``.
- REST: ``POST|PUT|DELETE /dapi/v1/listenKey``; SIGNED ``GET /dapi/v1/positionRisk`` (rows with
  ``notionalValue`` in coin and ``maxQty``), ``/dapi/v1/account`` (``assets`` and ``positions``),
  ``/dapi/v2/leverageBracket`` (``qtyFloor``/``qtyCap`` in coin); public ``/dapi/v1/premiumIndex``,
  ``/dapi/v1/time``, ``/dapi/v1/ping``.

Contracts are inverse (quantity in contracts of the catalog's USD contract value); wallets, PnL and
margin in the coin. The figures Binance computes itself come from ``monitor.sim.margin``'s
``BinanceCoinmRule`` (brackets sized in coin). The user-data event shapes are USDⓈ-M's, so this
writer is the USDⓈ-M one with COIN-M's paths and REST rows (Binance COIN-M docs: "Mark Price
Stream", "Event: Balance and Position Update", "Position Information", "Account Information").
"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import parse_qs

from monitor.sim.venues.base import Rejection, RestRequest, RestResponse, Route, StreamKind, fixed, num
from monitor.sim.venues.binance_common import binance_error, signed_account
from monitor.sim.venues.binance_usdm import POSITION_SIDE_FIELD, USER_EVENTS, BinanceUsdmSim
from monitor.sim.world import Quote


class BinanceCoinmSim(BinanceUsdmSim):
    """Binance COIN-M Futures wire format (dstream / dapi)."""

    name = "binance-coinm"

    def accept(self, path: str, query: str) -> Route | Rejection:
        """``/ws/<listenKey>`` (private) or ``/ws/<streams>``, ``/stream?streams=`` (market)."""
        parts = [part for part in path.split("/") if part]
        if not parts or parts[0] not in ("ws", "stream"):
            return Rejection(404, {"code": -1, "msg": "Not found"})
        if parts[0] == "stream":
            streams = parse_qs(query).get("streams", [""])[0].split("/")
            return Route("market", "market", True, streams=tuple(s for s in streams if s))
        if len(parts) == 2 and "@" not in parts[1]:
            state = self.listen_keys.get(parts[1])
            if state is None or not state.valid:
                return Rejection(400, {"code": -1125, "msg": "This listenKey does not exist."})
            return Route("private", "private", False, streams=USER_EVENTS, account=state.account,
                         listen_key=state.key)
        return Route("market", "market", False, streams=tuple(parts[1:]))

    def mark_price_payload(self, symbol: str, quote: Quote, now_ms: int) -> dict[str, Any]:
        """A COIN-M ``markPriceUpdate``: ``r`` "" and ``T`` 0 for a delivery symbol."""
        payload = super().mark_price_payload(symbol, quote, now_ms)
        if not symbol.endswith("_PERP"):
            payload.update({"r": "", "T": 0})
        return payload

    def malformed_frame(self, kind: StreamKind) -> str:
        """A truncated event of the right family."""
        if kind == "private":
            return '{"e":"ACCOUNT_UPDATE","E":1564745798939,"a":{"m":"ORDER","B":[{"a":"BTC","wb":'
        return '{"e":"markPriceUpdate","E":1596095725000,"s":"BTCUSD_PERP","p":"10934.6'

    # -- REST ----------------------------------------------------------------------------------

    def rest(self, request: RestRequest) -> RestResponse:
        """listenKey, positionRisk, account, leverageBracket, premiumIndex, time, ping on dapi."""
        path = request.path
        if path == "/dapi/v1/listenKey":
            return self._listen_key(request)
        if path == "/dapi/v1/ping":
            return RestResponse.json(200, {})
        if path == "/dapi/v1/time":
            return RestResponse.json(200, {"serverTime": self.world.now_ms()})
        if path == "/dapi/v1/premiumIndex":
            return self._premium_index(request)
        signed_paths = {
            "/dapi/v1/positionRisk": self._coinm_position_risk,
            "/dapi/v1/account": self._coinm_account,
            "/dapi/v2/leverageBracket": self._coinm_leverage_bracket,
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

    def _coinm_position_risk(self, account: str, params: dict[str, str]) -> list[dict[str, Any]]:
        """Every leg the account can hold, as ``GET /dapi/v1/positionRisk`` rows."""
        rows = []
        for symbol, side, position in self._rows(account, params.get("symbol")):
            quote = self.world.quote(self.name, symbol)
            mark = quote.mark if quote is not None else position.entry_price
            figures = self._leg_figures(account, symbol, side)
            upnl = self.world.unrealised_pnl(self.name, symbol, position)
            isolated = position.margin_mode == "isolated" and position.quantity != 0
            terms = self.world.contract_terms(self.name, symbol)
            notional = terms.value(position.quantity, mark) if terms is not None and mark > 0 else 0.0
            liquidation = figures.liquidation_price if figures is not None else None
            rows.append({
                "symbol": symbol,
                "positionAmt": num(position.quantity, 0),
                "entryPrice": fixed(position.entry_price, 8),
                "breakEvenPrice": fixed(position.entry_price, 8),
                "markPrice": fixed(mark, 8),
                "unRealizedProfit": fixed(upnl, 8),
                "liquidationPrice": "0" if liquidation is None else fixed(liquidation, 8),
                "leverage": num(position.leverage, 0),
                "maxQty": "100",
                "marginType": position.margin_mode,
                "isolatedMargin": fixed(position.isolated_margin + upnl if isolated else 0.0, 8),
                "isAutoAddMargin": "false",
                "positionSide": POSITION_SIDE_FIELD[side],
                "notionalValue": fixed(math.copysign(notional, position.quantity) if notional else 0.0, 8),
                "isolatedWallet": fixed(position.isolated_margin if isolated else 0.0, 8),
                "updateTime": position.updated_ms if position.quantity != 0 else 0,
            })
        return rows

    def _coinm_account(self, account: str, params: dict[str, str]) -> dict[str, Any]:
        """``GET /dapi/v1/account``: coin ``assets`` and the legs as ``positions``."""
        del params
        assets = [{key: row[key] for key in (
            "asset", "walletBalance", "unrealizedProfit", "marginBalance", "maintMargin", "initialMargin",
            "positionInitialMargin", "openOrderInitialMargin", "maxWithdrawAmount", "crossWalletBalance",
            "crossUnPnl", "availableBalance", "updateTime")} for row in self._asset_rows(account)]
        return {"assets": assets, "positions": self._coinm_position_risk(account, {}),
                "canDeposit": True, "canTrade": True, "canWithdraw": True, "feeTier": 0, "updateTime": 0}

    def _coinm_leverage_bracket(self, account: str, params: dict[str, str]) -> list[dict[str, Any]]:
        """``GET /dapi/v2/leverageBracket``: brackets sized in coin (``qtyFloor``/``qtyCap``)."""
        del account
        wanted = params.get("symbol")
        symbols = [wanted] if wanted else self.world.symbols(self.name)
        return [{
            "symbol": symbol,
            "brackets": [{
                "bracket": b.number, "initialLeverage": round(b.max_leverage),
                "qtyCap": b.cap if math.isfinite(b.cap) else 9.223372036854776e18,
                "qtyFloor": b.floor, "maintMarginRatio": b.mmr, "cum": round(b.cum, 8),
            } for b in self.world.terms.binance_coinm_brackets(symbol)],
        } for symbol in symbols]
