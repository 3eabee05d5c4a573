"""Simulated BingX USDT-M perpetual swap (venue ``bingx``): gzip websockets, listenKey and REST.

Paths after the ``/bingx`` prefix mirror ``open-api-swap.bingx.com`` (websocket) and
``open-api.bingx.com`` (REST); ``SimulatorServer.urls("bingx")`` gives ``.../bingx/swap-market``
as the websocket URL, as in production (``/`` is accepted as an alias):

- ``/swap-market``: market data. ``{"id":..,"reqType":"sub","dataType":"BTC-USDT@markPrice"}`` is
  acknowledged ``{"id":..,"code":0,"msg":"","timestamp":..}`` (official ack shape plus the
  ``timestamp`` of the ccxt error sample), the current mark is pushed at once and then on every
  change as ``{"code":0,"dataType":"BTC-USDT@markPrice","data":{"e":"markPriceUpdate","E":..,
  "s":"BTC-USDT","p":"60000"}}`` (BingX.Net fixture). ``reqType":"unsub"`` removes it. An unknown
  topic or symbol gets ``{"code":100400,"id":..,"msg":..,"timestamp":..}`` (code assumed).
- ``/swap-market?listenKey=<key>``: the account stream, nothing to subscribe (official).
  ``ACCOUNT_UPDATE`` (official sample shape: ``B`` ``a``/``wb``/``cw``/``bc``, ``P`` ``s``/``pa``/
  ``ep``/``up``/``mt``/``iw``/``ps``; ``pa`` is the *unsigned* coin amount and ``ps`` LONG/SHORT
  carries the side, as in the official SHORT sample). A position that flips or closes also gets
  its previous side pushed with ``pa`` 0 (how BingX shows a closed leg is undocumented). Hedge-mode
  legs are pushed each on its own with its ``ps``. ``iw`` is the leg's isolated wallet, ``cw`` the
  wallet minus the isolated wallets.
  ``listenKeyExpired`` (``E`` an integer, official) on ``expire_listen_key``; the key then stops
  working and the open stream receives nothing more. An unknown or expired key is refused with
  HTTP 404 (the real answer is undocumented).
- Every server frame is a gzip-compressed binary frame ("All response data from Websocket server
  are compressed into GZIP format"). The server sends ``Ping`` (gzip) on every heartbeat and
  counts the client's bare-text ``Pong`` answers (``SimConnection.state["pongs"]``).
- REST: ``POST|PUT|DELETE /openApi/user/auth/userDataStream`` (header ``X-BX-APIKEY``; POST
  answers ``{"listenKey":..}`` without an envelope, official; every POST creates a new key, valid
  60 minutes, extended by PUT); SIGNED ``GET /openApi/swap/v2/user/positions`` and
  ``/openApi/swap/v3/user/balance``; public ``GET /openApi/swap/v2/quote/premiumIndex`` (an object
  with ``symbol``, a list without; an empty list for a listed symbol the simulator has no price for
  yet), ``/openApi/swap/v2/quote/contracts``,
  ``/openApi/swap/v2/server/time``. Answers use the envelope ``{"code":0,"msg":"","data":..}``;
  errors are HTTP 200 with a non-zero ``code`` (ccxt's BingX error table: 100001 signature
  verification failed, 100412 null signature, 100413 incorrect apiKey, 100421 null timestamp or
  timestamp mismatch).

SIGNED requests (BingX "Signature Authentication"): ``signature`` = hex(HMAC-SHA256(secret, the
parameters other than ``signature`` sorted by name as ``k=v`` joined by ``&``)), API key in header
``X-BX-APIKEY``, ``timestamp`` within ``recvWindow`` ms (default 30 s: "Requests that have a 30+
second difference between the timestamp and the API service time will be considered expired").

Quantities are in base coin (contract size 1); numbers are decimal strings, except REST
``leverage`` (an integer) and ``liquidationPrice`` (a float), as in the fixtures.
"""

from __future__ import annotations

import gzip
import hmac
import json
import math
import string
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qsl

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
    fixed,
    hmac_hex,
    num,
)
from monitor.sim.world import SimAccount, SimFill, SimPosition

LISTEN_KEY_PATH = "/openApi/user/auth/userDataStream"
POSITIONS_PATH = "/openApi/swap/v2/user/positions"
BALANCE_PATH = "/openApi/swap/v3/user/balance"
PREMIUM_INDEX_PATH = "/openApi/swap/v2/quote/premiumIndex"
CONTRACTS_PATH = "/openApi/swap/v2/quote/contracts"
MAINT_MARGIN_PATH = "/openApi/swap/v1/maintMarginRatio"
SERVER_TIME_PATH = "/openApi/swap/v2/server/time"
WEBSOCKET_PATHS = ("/swap-market", "/")

LISTEN_KEY_ALPHABET = string.ascii_lowercase + string.digits
LISTEN_KEY_VALIDITY_MS = 60 * 60 * 1000
DEFAULT_RECV_WINDOW_MS = 30_000
MARK_PRICE_TOPIC = "@markPrice"

Side = Literal["LONG", "SHORT"]
HEDGE_SIDES: dict[PositionSide, Side] = {"long": "LONG", "short": "SHORT"}


def gzip_frame(text: str) -> bytes:
    """A frame as BingX sends it: the UTF-8 text gzip-compressed (``mtime`` 0: deterministic)."""
    return gzip.compress(text.encode(), mtime=0)


def sorted_parameters(raw_query: str) -> str:
    """The signed string: the query's ``k=v`` pairs other than ``signature``, sorted by name."""
    pairs = [part for part in raw_query.split("&") if part and not part.startswith("signature=")]
    return "&".join(sorted(pairs, key=lambda part: part.partition("=")[0]))


def _error(code: int, message: str, now_ms: int) -> RestResponse:
    return RestResponse.json(200, {"code": code, "msg": message, "timestamp": now_ms})


def _data(payload: Any) -> RestResponse:
    return RestResponse.json(200, {"code": 0, "msg": "", "data": payload})


def side_of(quantity: float) -> Side | None:
    """LONG for a positive, SHORT for a negative quantity, None when flat."""
    if quantity > 0:
        return "LONG"
    if quantity < 0:
        return "SHORT"
    return None


@dataclass(slots=True)
class ListenKey:
    """One listenKey: whose it is, until when it works, and whether it was expired on cue."""

    key: str
    account: str
    expires_ms: int
    valid: bool = True

    def usable(self, now_ms: int) -> bool:
        """True while the key may open and feed an account stream."""
        return self.valid and now_ms < self.expires_ms


class BingxSim(SimVenue):
    """BingX USDT-M perpetual swap wire format."""

    name = "bingx"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.listen_keys: dict[str, ListenKey] = {}
        # The side last shown per (account, symbol), to push a flipped or closed leg as pa 0.
        self.sides: dict[tuple[str, str], Side] = {}
        self.position_ids: dict[tuple[str, str, Side], str] = {}

    # -- websocket ----------------------------------------------------------------------------

    def accept(self, path: str, query: str) -> Route | Rejection:
        """``/swap-market`` (or ``/``); with ``listenKey`` the account stream of that key."""
        if path not in WEBSOCKET_PATHS:
            return Rejection(404, {"code": 100404, "msg": "Not Found"})
        key = dict(parse_qsl(query, keep_blank_values=True)).get("listenKey")
        if key is None:
            return Route("market", "swap-market")
        state = self.listen_keys.get(key)
        if state is None or not state.usable(self.world.now_ms()):
            return Rejection(404, {"code": 80015, "msg": "listenKey does not exist or has expired"})
        return Route("private", "account", account=state.account, listen_key=key)

    async def send_gzip(self, connection: SimConnection, payload: Any, *, data: bool = True) -> None:
        """Send one JSON payload as a gzip-compressed binary frame."""
        await connection.send(gzip_frame(dumps(payload)), data=data)

    async def on_open(self, connection: SimConnection) -> None:
        """Nothing until the client subscribes; account streams just wait for changes."""
        connection.state["pongs"] = 0
        connection.state["pings"] = 0

    async def on_message(self, connection: SimConnection, message: str | bytes) -> None:
        """``Pong``; ``sub``/``unsub`` requests on the market stream."""
        text = message.decode("utf-8", "replace") if isinstance(message, bytes) else message
        if text.strip() == "Pong":
            connection.state["pongs"] = connection.state.get("pongs", 0) + 1
            return
        try:
            request = json.loads(text)
        except ValueError:
            request = None
        if not isinstance(request, dict):
            await self._reject(connection, "", "invalid request")
            return
        request_id = str(request.get("id", ""))
        kind, topic = request.get("reqType"), request.get("dataType")
        if connection.kind != "market" or kind not in ("sub", "unsub") or not isinstance(topic, str):
            await self._reject(connection, request_id, "invalid reqType or dataType")
            return
        symbol = topic.removesuffix(MARK_PRICE_TOPIC)
        if not topic.endswith(MARK_PRICE_TOPIC) or self.world.instrument(self.name, symbol) is None:
            await self._reject(connection, request_id, f"dataType {topic[:60]} not supported")
            return
        if kind == "unsub":
            connection.subscriptions.discard(topic)
        else:
            connection.subscriptions.add(topic)
        ack = {"id": request_id, "code": 0, "msg": "", "timestamp": self.world.now_ms()}
        await self.send_gzip(connection, ack, data=False)
        if kind == "sub":
            await self._push_mark(connection, symbol)

    async def _reject(self, connection: SimConnection, request_id: str, message: str) -> None:
        error = {"code": 100400, "id": request_id, "msg": message, "timestamp": self.world.now_ms()}
        await self.send_gzip(connection, error, data=False)

    async def heartbeat(self) -> None:
        """``Ping`` (gzip) to every connection, about every 5 s at BingX (here every heartbeat);
        expire listenKeys that were not extended for 60 minutes."""
        for connection in list(self.connections):
            if not self.silenced():
                connection.state["pings"] = connection.state.get("pings", 0) + 1
            await connection.send(gzip_frame("Ping"), data=False)
        now = self.world.now_ms()
        for state in list(self.listen_keys.values()):
            if state.valid and now >= state.expires_ms:
                await self._expire(state)

    # -- market data ---------------------------------------------------------------------------

    def mark_price_push(self, symbol: str) -> dict[str, Any] | None:
        """The ``<symbol>@markPrice`` push of the current mark, or None without a quote."""
        quote = self.world.quote(self.name, symbol)
        if quote is None:
            return None
        return {
            "code": 0,
            "dataType": f"{symbol}{MARK_PRICE_TOPIC}",
            "data": {"e": "markPriceUpdate", "E": self.world.now_ms(), "s": symbol, "p": num(quote.mark)},
        }

    async def _push_mark(self, connection: SimConnection, symbol: str) -> None:
        if f"{symbol}{MARK_PRICE_TOPIC}" not in connection.subscriptions:
            return
        push = self.mark_price_push(symbol)
        if push is not None:
            await self.send_gzip(connection, push)

    async def publish_quote(self, symbol: str) -> None:
        """The new mark to every connection subscribed to ``<symbol>@markPrice``."""
        if self.take_gap():
            return
        for connection in self.market_connections():
            await self._push_mark(connection, symbol)

    # -- account stream ------------------------------------------------------------------------

    def _account_connections(self, account: str) -> list[SimConnection]:
        now = self.world.now_ms()
        connections = []
        for connection in self.private_connections(account):
            state = self.listen_keys.get(connection.listen_key or "")
            if state is not None and state.usable(now):
                connections.append(connection)
        return connections

    def position_rows(self, account: str, symbol: str, leg: PositionSide = "one_way") -> list[dict[str, Any]]:
        """``ACCOUNT_UPDATE`` ``P`` entries of one change. A hedge leg: its own row (``ps`` its
        side). A one-way position: the open side, and a previous side that flipped or closed as
        ``pa`` 0."""
        if leg != "one_way":
            position = self.world.position(self.name, account, symbol, leg) or SimPosition(0.0, 0.0)
            return [self._position_row(symbol, HEDGE_SIDES[leg], position)]
        position = self.world.position(self.name, account, symbol) or SimPosition(0.0, 0.0)
        side = side_of(position.quantity)
        previous = self.sides.get((account, symbol))
        rows = []
        if previous is not None and previous != side:
            rows.append(self._position_row(symbol, previous, SimPosition(0.0, 0.0)))
        if side is not None:
            rows.append(self._position_row(symbol, side, position))
            self.sides[(account, symbol)] = side
        else:
            self.sides.pop((account, symbol), None)
        return rows

    def _position_row(self, symbol: str, side: Side, position: SimPosition) -> dict[str, Any]:
        isolated = position.margin_mode == "isolated" and position.quantity != 0
        return {
            "s": symbol,
            "pa": fixed(abs(position.quantity), 8),
            "ep": fixed(position.entry_price, 8),
            "up": fixed(self.world.unrealised_pnl(self.name, symbol, position), 8),
            "mt": position.margin_mode,
            "iw": fixed(position.isolated_margin if isolated else 0.0, 8),
            "ps": side,
        }

    def balance_row(self, account: str, asset: str, change: float = 0.0) -> dict[str, Any]:
        """One ``ACCOUNT_UPDATE`` ``B`` entry: ``cw`` is the wallet without isolated margin."""
        wallet = self.world.balances.get((self.name, account, asset), 0.0)
        cross = self.world.cross_wallet(self.name, account, asset)
        return {"a": asset, "wb": fixed(wallet, 8), "cw": fixed(cross, 8), "bc": fixed(change, 8)}

    async def _push_account(self, account: str, payload: dict[str, Any]) -> None:
        for connection in self._account_connections(account):
            await self.send_gzip(connection, payload)

    async def publish_position(
        self, account: str, symbol: str, fill: SimFill | None, side: PositionSide = "one_way"
    ) -> None:
        """``ACCOUNT_UPDATE`` reason ORDER with the changed legs (and the fee asset of a fill)."""
        now = self.world.now_ms()
        rows = self.position_rows(account, symbol, side)
        if not rows:
            return
        balances = []
        if fill is not None:
            balances.append(self.balance_row(account, fill.fee_asset, fill.realised_pnl - fill.fee))
        payload = {"e": "ACCOUNT_UPDATE", "E": now, "T": now, "a": {"m": "ORDER", "B": balances, "P": rows}}
        await self._push_account(account, payload)

    async def publish_balances(self, account: str, assets: Sequence[str]) -> None:
        """``ACCOUNT_UPDATE`` with only ``B`` (``P`` empty, as in ccxt's withdrawal sample)."""
        now = self.world.now_ms()
        payload = {
            "e": "ACCOUNT_UPDATE",
            "E": now,
            "T": now,
            "a": {"m": "DEPOSIT", "B": [self.balance_row(account, a) for a in assets], "P": []},
        }
        await self._push_account(account, payload)

    async def _expire(self, state: ListenKey) -> None:
        payload = {"e": "listenKeyExpired", "E": self.world.now_ms(), "listenKey": state.key}
        for connection in self.private_connections(state.account):
            if connection.listen_key == state.key:
                await self.send_gzip(connection, payload)
        state.valid = False

    async def expire_listen_key(self, account: str | None = None) -> int:
        """Send ``listenKeyExpired`` and invalidate the usable key(s); returns how many expired."""
        now = self.world.now_ms()
        expired = 0
        for state in list(self.listen_keys.values()):
            if state.usable(now) and account in (None, state.account):
                await self._expire(state)
                expired += 1
        return expired

    def malformed_frame(self, kind: StreamKind) -> bytes:
        """A gzip frame holding truncated JSON of the right family."""
        if kind == "private":
            return gzip_frame('{"e":"ACCOUNT_UPDATE","E":1676603102163,"a":{"m":"ORDER","B":[{"wb":')
        return gzip_frame('{"code":0,"dataType":"BTC-USDT@markPrice","data":{"e":"markPriceUpdate","p":"6')

    # -- REST ----------------------------------------------------------------------------------

    def rest(self, request: RestRequest) -> RestResponse:
        """listenKey, positions, balance, premiumIndex, contracts, server time."""
        now = self.world.now_ms()
        path = request.path
        if path == LISTEN_KEY_PATH:
            return self._listen_key(request)
        if path == SERVER_TIME_PATH:
            return _data({"serverTime": now})
        if path == PREMIUM_INDEX_PATH:
            return self._premium_index(request.params.get("symbol"))
        if path == CONTRACTS_PATH:
            return _data(self.contracts())
        if path == MAINT_MARGIN_PATH:
            return _data(self.maintenance_margin_rows(request.params.get("symbol")))
        if path not in (POSITIONS_PATH, BALANCE_PATH):
            return RestResponse.json(404, {"code": 100404, "msg": f"{path} not found"})
        account = self.signed_account(request)
        if isinstance(account, RestResponse):
            return account
        if path == POSITIONS_PATH:
            return _data(self.position_list(account.account, request.params.get("symbol")))
        return _data(self.balance_list(account.account))

    def signed_account(self, request: RestRequest) -> SimAccount | RestResponse:
        """The account of a SIGNED request after the key, timestamp and signature checks."""
        now = self.world.now_ms()
        account = self.world.account_for_key(self.name, request.header("X-BX-APIKEY") or "")
        if account is None:
            return _error(100413, "Incorrect apiKey", now)
        params = request.params
        timestamp = params.get("timestamp", "")
        window = params.get("recvWindow", "")
        window_ms = int(window) if window.isdigit() else DEFAULT_RECV_WINDOW_MS
        if not timestamp.isdigit() or abs(now - int(timestamp)) > window_ms:
            return _error(100421, "Null timestamp or timestamp mismatch", now)
        signature = params.get("signature", "")
        if not signature:
            return _error(100412, "Null signature", now)
        if self.verify_signatures:
            expected = hmac_hex(account.api_secret, sorted_parameters(request.raw_query))
            if not hmac.compare_digest(signature.lower(), expected):
                return _error(100001, "Signature verification failed", now)
        return account

    def _listen_key(self, request: RestRequest) -> RestResponse:
        now = self.world.now_ms()
        account = self.world.account_for_key(self.name, request.header("X-BX-APIKEY") or "")
        if account is None:
            return _error(100413, "Incorrect apiKey", now)
        if request.method == "POST":
            key = "".join(self.world.rng.choice(LISTEN_KEY_ALPHABET) for _ in range(64))
            self.listen_keys[key] = ListenKey(key, account.account, now + LISTEN_KEY_VALIDITY_MS)
            return RestResponse.json(200, {"listenKey": key})
        if request.method not in ("PUT", "DELETE"):
            return RestResponse.json(405, {"code": 100405, "msg": "method not allowed"})
        state = self.listen_keys.get(request.params.get("listenKey", ""))
        if state is None or state.account != account.account or not state.usable(now):
            return RestResponse.json(404, {"code": 80015, "msg": "listenKey does not exist or has expired"})
        if request.method == "PUT":
            state.expires_ms = now + LISTEN_KEY_VALIDITY_MS
        else:
            state.valid = False
        return RestResponse.json(200, {})

    def _position_id(self, account: str, symbol: str, side: Side) -> str:
        return self.position_ids.setdefault(
            (account, symbol, side), str(1_735_000_000_000_000_000 + len(self.position_ids))
        )

    def position_list(self, account: str, symbol: str | None = None) -> list[dict[str, Any]]:
        """``GET /openApi/swap/v2/user/positions`` rows: every open leg (``positionAmt`` unsigned),
        ``liquidationPrice`` (a float) from ``monitor.sim.margin``."""
        rows = []
        for (name, leg), position in self.account_legs(account).items():
            side = HEDGE_SIDES[leg] if leg != "one_way" else side_of(position.quantity)
            if position.quantity == 0 or side is None or (symbol is not None and name != symbol):
                continue
            isolated = position.margin_mode == "isolated"
            figures = self.figures(account, name, leg)
            margin = position.isolated_margin if isolated else (figures.initial_margin if figures else 0.0)
            quote = self.world.quote(self.name, name)
            mark = quote.mark if quote is not None else position.entry_price
            liquidation = figures.liquidation_price if figures is not None else None
            rows.append(
                {
                    "positionId": self._position_id(account, name, side),
                    "symbol": name,
                    "currency": self.world.settle_asset(self.name, name),
                    "positionAmt": num(abs(position.quantity)),
                    "availableAmt": num(abs(position.quantity)),
                    "positionSide": side,
                    "isolated": isolated,
                    "avgPrice": num(position.entry_price),
                    "initialMargin": num(margin),
                    "margin": num(margin),
                    "leverage": round(position.leverage),
                    "unrealizedProfit": num(self.world.unrealised_pnl(self.name, name, position)),
                    "realisedProfit": num(position.realised_pnl),
                    "liquidationPrice": round(liquidation, 8) if liquidation is not None else 0.0,
                    "markPrice": num(mark),
                    "updateTime": position.updated_ms,
                }
            )
        return rows

    def balance_list(self, account: str) -> list[dict[str, Any]]:
        """``GET /openApi/swap/v3/user/balance`` rows (``balance`` is the wallet balance)."""
        legs = self.account_legs(account)
        rows = []
        for asset, wallet in self.world.balances_of(self.name, account).items():
            mine = [
                (name, position)
                for (name, _), position in legs.items()
                if position.quantity != 0 and self.world.settle_asset(self.name, name) == asset
            ]
            used = sum(
                self.world.margin_of(self.name, name, p.quantity, p.entry_price, p.leverage)
                for name, p in mine
            )
            upl = sum(self.world.unrealised_pnl(self.name, name, p) for name, p in mine)
            rows.append(
                {
                    "userId": "1341158271307522053",
                    "asset": asset,
                    "balance": num(wallet),
                    "equity": num(wallet + upl),
                    "unrealizedProfit": num(upl),
                    "realisedProfit": "0",
                    "availableMargin": num(wallet + upl - used),
                    "usedMargin": num(used),
                    "freezedMargin": "0",
                    "shortUid": "25307298",
                }
            )
        return rows

    def _premium_index(self, symbol: str | None) -> RestResponse:
        if symbol and self.world.instrument(self.name, symbol) is None:
            return _error(109400, f"{symbol[:40]} does not exist", self.world.now_ms())
        symbols = [symbol] if symbol else self.world.symbols(self.name)
        rows = []
        for name in symbols:
            quote = self.world.quote(self.name, name)
            if quote is None:
                continue  # a listed contract the simulator has no price for yet: no row
            rows.append(
                {
                    "symbol": name,
                    "markPrice": num(quote.mark),
                    "indexPrice": num(quote.index),
                    "lastFundingRate": fixed(quote.funding_rate or 0.0, 8),
                    "nextFundingTime": quote.next_funding_ms or 0,
                }
            )
        return _data(rows[0] if symbol and rows else rows)

    def maintenance_margin_rows(self, symbol: str | None) -> list[dict[str, Any]]:
        """``GET /openApi/swap/v1/maintMarginRatio`` rows (``minPositionVal``, ``maxPositionVal``,
        ``maintMarginRatio``, ``maintAmount``) of the simulator's brackets of one symbol."""
        symbols = [symbol] if symbol else self.world.symbols(self.name)
        return [
            {
                "symbol": name,
                "minPositionVal": f"{bracket.floor:.6f}",
                "maxPositionVal": f"{min(bracket.cap, 1e15):.6f}",
                "maintMarginRatio": f"{bracket.mmr:.6f}",
                "maintAmount": f"{bracket.cum:.6f}",
            }
            for name in symbols
            for bracket in self.world.terms.bingx_brackets(name)
        ]

    def contracts(self) -> list[dict[str, Any]]:
        """``GET /openApi/swap/v2/quote/contracts`` rows from the catalog's BingX instruments."""
        rows: list[dict[str, Any]] = []
        for instrument_id in self.world.catalog.ids():
            instrument = self.world.catalog.require(instrument_id)
            if instrument.venue != self.name:
                continue
            precision = max(0, round(-math.log10(instrument.lot_step))) if instrument.lot_step > 0 else 0
            rows.append(
                {
                    "contractId": str(100 + len(rows)),
                    "symbol": instrument.symbol,
                    "size": "0",
                    "quantityPrecision": precision,
                    "pricePrecision": 1,
                    "feeRate": instrument.taker_fee,
                    "makerFeeRate": instrument.maker_fee,
                    "takerFeeRate": instrument.taker_fee,
                    "tradeMinLimit": 0,
                    "tradeMinQuantity": instrument.min_quantity,
                    "tradeMinUSDT": 2,
                    "maxLongLeverage": 125,
                    "maxShortLeverage": 125,
                    "currency": instrument.quote,
                    "asset": instrument.base,
                    "status": 1,
                    "apiStateOpen": "true",
                    "apiStateClose": "true",
                }
            )
        return rows
