"""The exchange simulator: one local server speaking Binance, Bybit and OKX, driven by scenarios.

One ``websockets`` server serves every venue on one port. Websocket upgrades are routed by the
first path segment to a venue's wire writer (``monitor.sim.venues``); any other HTTP request is a
REST call answered from ``process_request`` on the same port. The layout of paths is described in
``monitor.sim`` (package docstring).

Control API (every method is a coroutine, so calls are ordered with the frames they cause)::

    async with SimulatorServer(port=0, seed=7) as sim:
        venue = Okx(..., ws_base_url=sim.ws_url("okx"), rest_base_url=sim.rest_url("okx"),
                    account=AccountContext("okx-main", "main", sim.credentials("okx", "okx-main")))
        await sim.set_price("okx", "BTC-USDT-SWAP", 60000.0)
        await sim.set_position("okx", "okx-main", "BTC-USDT-SWAP", -150, 60000.0)
        await sim.set_position("binance", "b", "BTCUSDT", -10, 6563.86, position_side="short",
                               margin_mode="isolated", isolated_margin=6570.42511771)
        sim.venue_figures("binance", "b", "BTCUSDT", "short").liquidation_price
        await sim.silence("okx", 5.0)
        await sim.run_scenario(load_scenario("seed-drop"), speed=50.0)
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import logging
import math
import random
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Literal

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from monitor.domain.instruments import Catalog, default_catalog
from monitor.errors import HedgeMonitorError
from monitor.sim.listings import with_sim_listings
from monitor.sim.margin import POSITION_SIDES, PositionSide, SimLegFigures
from monitor.sim.scenario import Scenario, Step, price_path
from monitor.sim.venues.base import (
    Rejection,
    RestRequest,
    RestResponse,
    Route,
    SimConnection,
    SimVenue,
    StreamKind,
    dumps,
)
from monitor.sim.venues.binance_coinm import BinanceCoinmSim
from monitor.sim.venues.binance_spot import BinanceSpotSim
from monitor.sim.venues.binance_usdm import BinanceUsdmSim
from monitor.sim.venues.bingx import BingxSim
from monitor.sim.venues.bybit import BybitSim
from monitor.sim.venues.deribit import DeribitSim
from monitor.sim.venues.hyperliquid import HyperliquidSim
from monitor.sim.venues.mexc import MexcSim
from monitor.sim.venues.okx import OkxSim
from monitor.sim.venues.weex import WeexSim
from monitor.sim.world import Quote, SimFill, SimPosition, SimWorld, wall_clock_ms, wallet_address
from monitor.venues.base import MAX_FRAME_BYTES, AccountContext, Credentials, Venue
from monitor.venues.registry import build_venue

logger = logging.getLogger(__name__)
# websockets logs every REST answer as a rejected handshake at INFO; keep only its warnings.
_websockets_logger = logging.getLogger("monitor.sim.websockets")
_websockets_logger.setLevel(logging.WARNING)

VENUE_CLASSES: tuple[type[SimVenue], ...] = (
    BinanceUsdmSim, BinanceSpotSim, BybitSim, OkxSim, BingxSim, MexcSim, WeexSim,
    BinanceCoinmSim, DeribitSim,
    HyperliquidSim,
)  # fmt: skip
# URL prefixes served by another venue's writer (Bybit spot tickers come from stream.bybit.com).
PREFIX_ALIASES: Mapping[str, str] = {"bybit-spot": "bybit"}
# Venues whose quotes another writer publishes.
QUOTE_WRITERS: Mapping[str, str] = {"bybit-spot": "bybit"}
# Venues whose production websocket URL has a path the venue module does not add itself.
WS_URL_PATHS: Mapping[str, str] = {"bingx": "/swap-market", "mexc": "/edge"}


class SimulatorError(HedgeMonitorError, ValueError):
    """A control call names an unknown venue or gives an invalid value."""


@dataclass(frozen=True, slots=True)
class SimUrls:
    """The base URLs of one simulated venue (``ws_api_url`` only for Binance Spot)."""

    ws_base_url: str
    rest_base_url: str
    ws_api_url: str | None = None


def _side(side: str) -> PositionSide:
    """A position side as the world takes it, or SimulatorError."""
    for known in POSITION_SIDES:
        if side == known:
            return known
    raise SimulatorError(f"position_side must be one of {', '.join(POSITION_SIDES)}, got {side!r}")


def _response(status: int, body: bytes) -> Response:
    headers = Headers()
    headers["Content-Type"] = "application/json"
    headers["Content-Length"] = str(len(body))
    headers["Connection"] = "close"
    try:
        reason = http.HTTPStatus(status).phrase
    except ValueError:
        reason = "Unknown"
    return Response(status, reason, headers, body)


class SimulatorServer:
    """A local Binance/Bybit/OKX look-alike with authoritative account state and fault injection."""

    def __init__(
        self,
        port: int = 0,
        host: str = "127.0.0.1",
        *,
        seed: int = 0,
        catalog: Catalog | None = None,
        heartbeat_s: float = 1.0,
        verify_signatures: bool = True,
    ) -> None:
        self.host = host
        self.requested_port = port
        self.heartbeat_s = heartbeat_s
        self.world = SimWorld(with_sim_listings(catalog or default_catalog(), wall_clock_ms()),
                              random.Random(seed), wall_clock_ms)
        self.venues: dict[str, SimVenue] = {
            cls.name: cls(self.world, verify_signatures=verify_signatures) for cls in VENUE_CLASSES
        }
        self.scenario_time_s = 0.0
        self._server: Server | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self._routes: weakref.WeakKeyDictionary[ServerConnection, tuple[SimVenue, Route]] = (
            weakref.WeakKeyDictionary()
        )

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen on ``host:port`` (port 0 picks a free one, see ``.port``)."""
        if self._server is not None:
            return
        self._server = await serve(
            self._handle,
            self.host,
            self.requested_port,
            process_request=self._process_request,
            max_size=MAX_FRAME_BYTES,
            logger=_websockets_logger,
        )
        self._heartbeat = asyncio.create_task(self._heartbeat_loop(), name="sim:heartbeat")
        # A venue's own listener (Hyperliquid REST) takes the next port when the port is fixed.
        side_port = self.requested_port + 1 if self.requested_port else 0
        for writer in self.venues.values():
            await writer.start_side_server(self.host, side_port)

    async def stop(self) -> None:
        """Close every connection and stop listening (idempotent)."""
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat
            self._heartbeat = None
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in self.venues.values():
            await writer.stop_side_server()

    async def __aenter__(self) -> SimulatorServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        """The port the server listens on."""
        if self._server is None:
            raise SimulatorError("the simulator is not started")
        port: int = next(iter(self._server.sockets)).getsockname()[1]
        return port

    def ws_url(self, venue: str) -> str:
        """The websocket base URL of a venue, ``ws://host:port/<venue>``."""
        self._venue(venue)
        return f"ws://{self.host}:{self.port}/{venue}"

    def rest_url(self, venue: str) -> str:
        """The REST base URL of a venue, ``http://host:port/<venue>`` (or the venue's own listener)."""
        own = self._venue(venue).side_rest_url()
        return own if own is not None else f"http://{self.host}:{self.port}/{venue}"

    def urls(self, venue: str) -> SimUrls:
        """Base URLs a venue module needs to talk to this simulator."""
        ws_api_url = f"{self.ws_url(venue)}/ws-api/v3" if venue == "binance-spot" else None
        ws_base_url = self.ws_url(venue) + WS_URL_PATHS.get(venue, "")
        return SimUrls(ws_base_url, self.rest_url(venue), ws_api_url)

    def credentials(self, venue: str, account: str) -> Credentials:
        """Credentials of an account (created on first use); the simulator checks them."""
        return self.world.account(venue, account).credentials()

    def address(self, venue: str, account: str) -> str:
        """The wallet address of an account (Hyperliquid watches accounts by address)."""
        self.world.account(venue, account)
        return wallet_address(venue, account)

    # -- state: read ---------------------------------------------------------------------------

    def quote(self, venue: str, symbol: str) -> Quote | None:
        """The current quote of an instrument."""
        return self.world.quote(venue, symbol)

    def position(
        self, venue: str, account: str, symbol: str, side: PositionSide = "one_way"
    ) -> SimPosition | None:
        """The current position leg of an account (``side`` one_way, long or short)."""
        return self.world.position(venue, account, symbol, side)

    def venue_figures(
        self, venue: str, account: str, symbol: str, side: PositionSide = "one_way"
    ) -> SimLegFigures:
        """The venue's own margin figures of a leg at the current mark, by ``monitor.sim.margin``
        (liquidation price, maintenance margin, margin balance, ...); flat legs read as zeros."""
        self._venue(venue)
        figures = self.world.leg_figures(venue, account, symbol, _side(side))
        if figures is None:
            raise SimulatorError(f"{venue} has no margin rule (spot venue)")
        return figures

    def multi_asset_margin(self, venue: str, account: str) -> bool:
        """The account's asset mode (Binance Multi-Assets Mode)."""
        return self.world.multi_asset_margin.get((venue, account), False)

    def balance(self, venue: str, account: str, asset: str) -> float:
        """The current balance of an account (0 if never set)."""
        return self.world.balances.get((venue, account, asset), 0.0)

    def connection_count(self, venue: str, kind: StreamKind | Literal["any"] = "any") -> int:
        """How many websocket clients a venue has."""
        return len(self._venue(venue).connections_of(kind))

    # -- state: write --------------------------------------------------------------------------

    async def set_price(
        self,
        venue: str,
        symbol: str,
        price: float,
        *,
        index: float | None = None,
        funding_rate: float | None = None,
    ) -> Quote:
        """Set an instrument's mark (index, funding) and push it to subscribers."""
        writer = self._quote_writer(venue)
        try:
            quote = self.world.set_quote(venue, symbol, price, index, funding_rate)
        except ValueError as exc:
            raise SimulatorError(str(exc)) from None
        await writer.publish_quote_for(venue, symbol)
        return quote

    async def set_funding(self, venue: str, symbol: str, rate: float) -> Quote:
        """Change an instrument's funding rate (it must have a price)."""
        quote = self.world.quote(venue, symbol)
        if quote is None:
            raise SimulatorError(f"{venue}:{symbol} has no price yet; set_price first")
        return await self.set_price(venue, symbol, quote.mark, index=quote.index, funding_rate=rate)

    async def set_position(
        self,
        venue: str,
        account: str,
        symbol: str,
        quantity: float,
        entry_price: float,
        *,
        leverage: float = 5.0,
        margin_mode: str = "cross",
        position_side: PositionSide = "one_way",
        isolated_margin: float | None = None,
        push: bool = True,
    ) -> SimPosition:
        """Overwrite a position leg (venue units, signed; ``position_side`` one_way, or long/short
        for hedge mode) and, unless ``push`` is False, push it. An isolated leg's wallet defaults to
        its value at entry / leverage."""
        writer = self._venue(venue)
        if not math.isfinite(quantity) or (quantity != 0 and not entry_price > 0):
            raise SimulatorError("a position needs a finite quantity and a positive entry price")
        if isolated_margin is not None and not (math.isfinite(isolated_margin) and isolated_margin >= 0):
            raise SimulatorError("an isolated margin must be a finite number >= 0")
        side = _side(position_side)
        try:
            position = self.world.set_position(
                venue, account, symbol, quantity, entry_price, leverage, margin_mode, side, isolated_margin
            )
        except ValueError as exc:
            raise SimulatorError(str(exc)) from None
        if push:
            await writer.publish_position(account, symbol, None, side)
        return position

    async def set_balance(
        self, venue: str, account: str, asset: str, quantity: float, *, push: bool = True
    ) -> None:
        """Overwrite a balance and, unless ``push`` is False, push it."""
        writer = self._venue(venue)
        if not math.isfinite(quantity):
            raise SimulatorError("a balance must be finite")
        delta = self.world.set_balance(venue, account, asset, quantity)
        if push:
            if isinstance(writer, BinanceSpotSim) and delta != 0:
                await writer.publish_balance_delta(account, asset, delta)
            await writer.publish_balances(account, [asset])

    async def fill(
        self,
        venue: str,
        account: str,
        symbol: str,
        quantity: float,
        price: float,
        fee: float = 0.0,
        *,
        position_side: PositionSide = "one_way",
        forced: str | None = None,
    ) -> SimFill:
        """Execute a trade on a leg (a hedge leg: opens or closes it, never through zero): update
        position and balances, push the fill and the new state. ``forced`` "liquidation" or
        "adl" makes it the venue's own close (a liquidation or an auto-deleveraging fill)."""
        writer = self._venue(venue)
        side = _side(position_side)
        try:
            fill, assets = self.world.apply_fill(venue, account, symbol, quantity, price, fee, side,
                                                 forced)
        except ValueError as exc:
            raise SimulatorError(str(exc)) from None
        if self.world.position(venue, account, symbol, side) is not None:
            await writer.publish_position(account, symbol, fill, side)
        await writer.publish_balances(account, list(assets))
        return fill

    def set_liquidation_report_bias(self, venue: str, bias: float) -> None:
        """Make the venue report liquidation prices ``1 + bias`` times its own rule's figure (a
        venue whose figure disagrees with the model, for the divergence alert)."""
        self._venue(venue)
        if not math.isfinite(bias) or bias <= -1:
            raise SimulatorError("the liquidation report bias must be finite and > -1")
        self.world.liquidation_report_bias[venue] = bias

    def set_adl_rank(
        self, venue: str, account: str, symbol: str, rank: int, position_side: PositionSide = "one_way"
    ) -> None:
        """The ADL rank the venue reports for a leg, on its own scale (Binance 0-4, Bybit 0-5,
        OKX 1-5)."""
        self._venue(venue)
        self.world.adl_ranks[(venue, account, symbol, _side(position_side))] = rank

    async def set_asset_mode(self, venue: str, account: str, multi_asset: bool) -> None:
        """Switch an account's asset mode (Binance Multi-Assets Mode) and push the venue's config
        event (Binance ``ACCOUNT_CONFIG_UPDATE`` ``ai.j``) when it changed."""
        writer = self._venue(venue)
        if self.world.set_multi_asset_margin(venue, account, multi_asset):
            await writer.publish_account_config(account)

    # -- faults --------------------------------------------------------------------------------

    async def drop_connections(self, venue: str) -> int:
        """Cut every websocket of a venue abruptly (TCP reset, no close frame)."""
        connections = list(self._venue(venue).connections)
        for connection in connections:
            connection.websocket.transport.abort()
        return len(connections)

    async def server_close(self, venue: str) -> int:
        """Close every websocket of a venue cleanly, as at the 24 h connection limit."""
        connections = list(self._venue(venue).connections)
        for connection in connections:
            await connection.websocket.close(1001, "connection lifetime exceeded")
        return len(connections)

    async def silence(self, venue: str, seconds: float) -> None:
        """Keep a venue's sockets open but send nothing at all (no data, acks or pongs)."""
        self._venue(venue).silenced_until = asyncio.get_running_loop().time() + seconds

    async def refuse_connections(self, venue: str, seconds: float) -> None:
        """Answer new websocket upgrades of a venue with HTTP 503 for a while."""
        self._venue(venue).refuse_until = asyncio.get_running_loop().time() + seconds

    async def send_malformed(self, venue: str, stream: StreamKind | Literal["any"] = "any") -> int:
        """Send one unparseable (truncated) frame on each connection of the kind; returns count."""
        writer = self._venue(venue)
        connections = writer.connections_of(stream)
        for connection in connections:
            await connection.send(writer.malformed_frame(connection.kind), data=False)
        return len(connections)

    async def send_out_of_order(self, venue: str) -> int:
        """Re-send each connection's previous data frame after its latest (stale, older seq)."""
        return await self._venue(venue).replay_stale()

    async def gap(self, venue: str, updates: int) -> None:
        """Swallow the next ``updates`` market updates (sequence numbers still advance)."""
        self._venue(venue).skip_market_updates += updates

    async def expire_listen_key(self, account: str | None = None, venue: str = "binance") -> int:
        """Binance USDⓈ-M or BingX: send ``listenKeyExpired`` and invalidate the key(s)."""
        writer = self._venue(venue)
        if not isinstance(writer, BinanceUsdmSim | BingxSim):
            raise SimulatorError(f"{venue} has no listenKey to expire")
        return await writer.expire_listen_key(account)

    async def change_while_disconnected(
        self,
        venue: str,
        account: str,
        symbol: str,
        quantity: float,
        entry_price: float,
        offline_s: float = 0.0,
        position_side: PositionSide = "one_way",
    ) -> None:
        """Drop the venue's clients, refuse them for ``offline_s``, and change a position unseen."""
        await self.refuse_connections(venue, offline_s)
        await self.drop_connections(venue)
        await self.set_position(
            venue, account, symbol, quantity, entry_price, position_side=position_side, push=False
        )

    # -- scenarios -----------------------------------------------------------------------------

    async def load_accounts(self, scenario: Scenario) -> None:
        """Set the scenario's initial balances and positions (pushed to connected clients)."""
        for account in scenario.accounts:
            for asset, quantity in account.balances.items():
                await self.set_balance(account.venue, account.account, asset, quantity)
            for position in account.positions:
                await self.set_position(
                    account.venue,
                    account.account,
                    position.symbol,
                    position.quantity,
                    position.entry_price,
                    leverage=position.leverage,
                    margin_mode=position.margin_mode,
                    position_side=_side(position.position_side),
                    isolated_margin=position.isolated_margin,
                )
            if account.multi_asset_margin is not None:
                await self.set_asset_mode(account.venue, account.account, account.multi_asset_margin)

    async def run_scenario(
        self, scenario: Scenario, speed: float = 1.0, *, load_accounts: bool = True
    ) -> None:
        """Play a scenario: accounts (unless already loaded), then one tick per tick_s / speed s."""
        if not speed > 0:
            raise SimulatorError("speed must be > 0")
        for instrument in scenario.instruments:
            self._quote_writer(instrument.venue)
        if load_accounts:
            await self.load_accounts(scenario)
        basis = {instrument.id: instrument.basis for instrument in scenario.instruments}
        funding = {instrument.id: instrument.funding_rate for instrument in scenario.instruments}
        steps = [step for step in scenario.steps if step.kind != "trend"]
        loop = asyncio.get_running_loop()
        started = loop.time()
        for tick in price_path(scenario):
            delay = started + tick.at_s / speed - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            self.scenario_time_s = tick.at_s
            due = []
            while steps and steps[0].at_s <= tick.at_s + 1e-9:
                due.append(steps.pop(0))
            spikes: dict[str, float] = {}
            for step in due:
                if step.kind == "basis":
                    basis[step.text("instrument")] = step.number("basis")
                elif step.kind == "funding":
                    funding[step.text("instrument")] = step.number("rate")
                elif step.kind == "price":
                    spikes[step.text("instrument")] = step.number("price")
            for instrument in scenario.instruments:
                asset_price = tick.prices[instrument.asset]
                mark = spikes.get(instrument.id, asset_price * (1.0 + basis[instrument.id]))
                rate = funding[instrument.id]
                self.world.set_quote(instrument.venue, instrument.symbol, mark, asset_price, rate)
                await self._quote_writer(instrument.venue).publish_quote_for(
                    instrument.venue, instrument.symbol
                )
            for step in due:
                await self._apply_step(step, speed)

    async def _apply_step(self, step: Step, speed: float) -> None:
        if step.kind == "fill":
            await self.fill(
                step.text("venue"),
                step.text("account"),
                step.text("symbol"),
                step.number("quantity"),
                step.number("price"),
                step.number("fee", 0.0),
                position_side=_side(step.optional_text("position_side") or "one_way"),
                forced=step.optional_text("forced"),
            )
        elif step.kind == "venue_report":
            venue = step.text("venue")
            if "liquidation_bias" in step.params:
                self.set_liquidation_report_bias(venue, step.number("liquidation_bias"))
            if "adl_rank" in step.params:
                self.set_adl_rank(venue, step.text("account"), step.text("symbol"),
                                  int(step.number("adl_rank")),
                                  _side(step.optional_text("position_side") or "one_way"))
        elif step.kind == "position":
            await self.set_position(
                step.text("venue"),
                step.text("account"),
                step.text("symbol"),
                step.number("quantity"),
                step.number("entry_price"),
                leverage=step.number("leverage", 5.0),
                margin_mode=step.optional_text("margin_mode") or "cross",
                position_side=_side(step.optional_text("position_side") or "one_way"),
                isolated_margin=step.number("isolated_margin") if "isolated_margin" in step.params else None,
            )
        elif step.kind == "asset_mode":
            await self.set_asset_mode(step.text("venue"), step.text("account"), step.flag("multi_asset"))
        elif step.kind == "balance":
            await self.set_balance(
                step.text("venue"), step.text("account"), step.text("asset"), step.number("quantity")
            )
        elif step.kind == "fault":
            await self._apply_fault(step, speed)

    async def _apply_fault(self, step: Step, speed: float) -> None:
        fault, venue = step.text("fault"), step.text("venue")
        logger.info("simulator fault %s on %s at %.1f s", fault, venue, step.at_s)
        if fault == "drop":
            await self.drop_connections(venue)
        elif fault == "silence":
            await self.silence(venue, step.number("seconds") / speed)
        elif fault == "refuse":
            await self.refuse_connections(venue, step.number("seconds") / speed)
        elif fault == "malformed":
            stream = step.optional_text("stream")
            kind: StreamKind | Literal["any"] = "any"
            if stream == "market":
                kind = "market"
            elif stream == "private":
                kind = "private"
            await self.send_malformed(venue, kind)
        elif fault == "out_of_order":
            await self.send_out_of_order(venue)
        elif fault == "gap":
            await self.gap(venue, int(step.number("updates", 5.0)))
        elif fault == "expire_listen_key":
            await self.expire_listen_key(step.optional_text("account"), venue)
        elif fault == "server_close":
            await self.server_close(venue)
        elif fault == "offline_change":
            await self.change_while_disconnected(
                venue,
                step.text("account"),
                step.text("symbol"),
                step.number("quantity"),
                step.number("entry_price"),
                step.number("seconds") / speed,
                _side(step.optional_text("position_side") or "one_way"),
            )

    # -- plumbing ------------------------------------------------------------------------------

    def _venue(self, venue: str) -> SimVenue:
        writer = self.venues.get(venue)
        if writer is None:
            known = ", ".join(sorted(self.venues))
            raise SimulatorError(f"unknown simulated venue {venue!r} (known: {known})")
        return writer

    def _quote_writer(self, venue: str) -> SimVenue:
        return self._venue(QUOTE_WRITERS.get(venue, venue))

    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_s)
            for writer in self.venues.values():
                await writer.heartbeat()

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        path, _, query = request.path.partition("?")
        _, _, remainder = path.partition("/")
        prefix, _, rest_path = remainder.partition("/")
        writer = self.venues.get(PREFIX_ALIASES.get(prefix, prefix))
        if writer is None:
            return _response(404, dumps({"error": f"no simulated venue at /{prefix}"}).encode())
        is_upgrade = "websocket" in request.headers.get("Upgrade", "").lower()
        if not is_upgrade:
            rest = RestRequest(
                method=request.method,
                path="/" + rest_path,
                raw_query=query,
                headers=dict(request.headers.raw_items()),
            )
            try:
                answer = writer.rest(rest)
            except Exception:
                logger.exception("simulator REST handler failed for %s %s", request.method, path)
                answer = RestResponse.json(500, {"error": "simulator internal error"})
            return _response(answer.status, answer.body)
        if writer.refusing():
            return _response(503, dumps({"error": "service unavailable"}).encode())
        route = writer.accept_request("/" + rest_path, query, dict(request.headers.raw_items()))
        if isinstance(route, Rejection):
            return _response(route.status, dumps(route.body).encode())
        self._routes[connection] = (writer, route)
        return None

    async def _handle(self, websocket: ServerConnection) -> None:
        writer, route = self._routes.pop(websocket)
        await writer.serve(SimConnection(writer, websocket, route))


def scenario_venues(
    sim: SimulatorServer,
    scenario: Scenario,
    *,
    portfolio: str = "main",
    catalog: Catalog | None = None,
) -> list[Venue]:
    """Venue modules pointed at ``sim`` for every account and quoted instrument of a scenario.

    One venue object per scenario account (its credentials come from the simulator); the
    scenario's instruments of a venue are subscribed by the first account of that venue, or by a
    public-only venue object when the scenario holds no account there.
    """
    catalog = catalog or sim.world.catalog
    symbols: dict[str, list[str]] = {}
    for instrument in scenario.instruments:
        symbols.setdefault(instrument.venue, []).append(instrument.symbol)
    venues: list[Venue] = []
    subscribed: set[str] = set()
    for account in scenario.accounts:
        urls = sim.urls(account.venue)
        context = AccountContext(account.account, portfolio, sim.credentials(account.venue, account.account),
                                 address=sim.address(account.venue, account.account))
        wanted = () if account.venue in subscribed else tuple(symbols.get(account.venue, ()))
        subscribed.add(account.venue)
        venues.append(
            build_venue(
                account.venue,
                symbols=wanted,
                account=context,
                catalog=catalog,
                ws_base_url=urls.ws_base_url,
                rest_base_url=urls.rest_base_url,
                ws_api_url=urls.ws_api_url,
            )
        )
    for venue, venue_symbols in symbols.items():
        if venue in subscribed:
            continue
        urls = sim.urls(venue)
        venues.append(
            build_venue(
                venue,
                symbols=tuple(venue_symbols),
                account=None,
                catalog=catalog,
                ws_base_url=urls.ws_base_url,
                rest_base_url=urls.rest_base_url,
                ws_api_url=urls.ws_api_url,
            )
        )
    return venues


async def serve_simulator(
    scenario: Scenario | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    seed: int = 0,
    speed: float = 1.0,
    heartbeat_s: float = 1.0,
    on_ready: Callable[[SimulatorServer], None] | None = None,
) -> None:
    """Run a simulator until cancelled: play ``scenario`` once (if any), then keep serving.

    ``on_ready`` is called once the port is bound (e.g. to print the venue URLs), before the
    scenario starts; the scenario's accounts are loaded first so that clients connecting at once
    see them.
    """
    async with SimulatorServer(port, host, seed=seed, heartbeat_s=heartbeat_s) as sim:
        if scenario is not None:
            await sim.load_accounts(scenario)
        if on_ready is not None:
            on_ready(sim)
        if scenario is not None:
            await sim.run_scenario(scenario, speed, load_accounts=False)
            logger.info("scenario %s finished; serving the last state", scenario.name)
        await asyncio.Event().wait()
