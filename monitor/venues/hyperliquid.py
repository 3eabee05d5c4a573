"""Hyperliquid perpetuals, read-only by wallet address: asset contexts, clearinghouse state, fills.

No API key: every figure of an account is public by its address. Wire formats from
hyperliquid.gitbook.io/hyperliquid-docs/for-developers/api ("Websocket", "Subscriptions",
"Timeouts and heartbeats", "Info endpoint / Perpetuals"); the fixtures' origins are in
``tests/fixtures/exchanges/_sources_hyperliquid.json``.

Streams (both on ``{ws}/ws``, production ``wss://api.hyperliquid.xyz/ws``):

- ``market``: ``{"method":"subscribe","subscription":{"type":"activeAssetCtx","coin":<coin>}}`` per
  configured coin. Each push ``{"channel":"activeAssetCtx","data":{"coin","ctx":{"markPx",
  "oraclePx","funding",..}}}`` is a PriceEvent ``hyperliquid:<coin>``: mark ``markPx``, index
  ``oraclePx`` (docs "Oracle": the stake-weighted median of the validators' weighted medians of
  CEX spot prices), funding ``funding``, the rate paid for the current hour (docs "Funding": the
  rate is computed for 8 hours and paid every hour at one eighth of it; the docs' example
  0.0000125 is the 0.01 % 8-hour interest rate / 8), hence the catalog's 1 h funding interval.
  The frame carries no time and no settlement time: event time is the receive time and the next
  settlement the next whole hour after it.
- ``private``: ``webData2`` and ``userFills`` of the account's address. ``webData2`` data holds the
  whole ``clearinghouseState`` (also read from the ``clearinghouseState`` channel, same shape
  under ``data.clearinghouseState``), so every push is a complete snapshot: a position absent from
  it is closed. ``userFills`` with ``isSnapshot`` true (the history sent on subscribing) is
  ignored; later pushes are FillEvents (side ``B`` buys, ``A`` sells; fee in ``feeToken`` USDC).
- Heartbeat: ``{"method":"ping"}`` every 30 s, answered by ``{"channel":"pong"}``; the server
  closes a connection that sent nothing for 60 s. ``{"channel":"subscriptionResponse"}`` is the
  subscription ack; ``{"channel":"error","data":..}`` is a FrameError.

Positions (``assetPositions[].position``, type ``oneWay``: Hyperliquid has one net position per
coin): ``szi`` is the signed size in coin (``contract_size`` 1); ``entryPx``; ``leverage.type``
cross or isolated and ``leverage.value``. The isolated wallet is ``marginUsed - unrealizedPnl``:
``marginUsed`` of an isolated position is its margin with the unrealised PnL (docs example:
``rawUsd + szi x mark = -95.059824 + 100.02765 = 4.967826``), and the canonical isolated margin
excludes it (4.967826 + 0.0134 = 4.981226 = ``rawUsd + szi x entryPx``).

Balances: one USDC balance (USDC counted as 1 USD, like every stablecoin here): the account value
without unrealised PnL, ``marginSummary.accountValue - sum(unrealizedPnl)``; its cross part
``crossMarginSummary.accountValue - sum(cross unrealizedPnl)``. USDC amounts come with 6
decimals, and the derived ones are rounded back to 6 so that float noise never reads as a balance
change. The spot wallet (``spotClearinghouseState``) is not read.

Resync: ``POST {rest}/info`` with ``{"type":"clearinghouseState","user":<address>}``; the answer is
the same clearinghouse state. Event time: its ``time`` (the info answer and newer pushes carry
it), else the receive time. The address is not a secret but it is personal: it appears only in
the frames sent to Hyperliquid, never in events, errors, reprs or metric labels.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import ClassVar

from monitor.domain.events import Event, FillEvent, MarginMode, PositionSide, PriceEvent
from monitor.domain.instruments import Catalog
from monitor.venues._common import (
    JsonObject,
    Leg,
    PositionBook,
    VenueSession,
    as_object,
    balance_event,
    dump_json,
    frame_errors,
    load_json,
    margin_mode,
    number,
    objects,
    optional_number,
    optional_text,
    optional_time_ms,
    position_events,
    positive_or_none,
    required,
    text,
    time_ms,
)
from monitor.venues.base import (
    AccountContext,
    FrameError,
    FrameKind,
    HttpRequest,
    Parsed,
    StreamPlan,
)
from monitor.venues.signing import Redacted

NAME = "hyperliquid"
PRODUCTION_WS_URL = "wss://api.hyperliquid.xyz"
PRODUCTION_REST_URL = "https://api.hyperliquid.xyz"
MARKET = "market"
PRIVATE = "private"
WS_PATH = "/ws"
INFO_PATH = "/info"
PING_FRAME = '{"method":"ping"}'
SETTLEMENT = "USDC"
USDC_DECIMALS = 6
FUNDING_INTERVAL_MS = 3_600_000
ONE_WAY = "oneWay"

ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
"""A wallet address: ``0x`` and 20 bytes in hex (docs "Notation": 42-character hexadecimal)."""
_SYMBOL = r"[A-Za-z0-9]{1,20}"
_PERP_COIN = re.compile(_SYMBOL)
_FILL_SIDES = {"B": 1.0, "A": -1.0}


def valid_address(value: str) -> bool:
    """True for ``0x`` followed by 40 hex digits."""
    return bool(ADDRESS.fullmatch(value))


def next_funding_ms(now_ms: int) -> int:
    """The next whole hour after ``now_ms``: Hyperliquid settles funding every hour."""
    return (now_ms // FUNDING_INTERVAL_MS + 1) * FUNDING_INTERVAL_MS


def _one_way(_key: str) -> PositionSide:
    return "one_way"


class Hyperliquid(VenueSession):
    """Hyperliquid perpetuals (instrument ids ``hyperliquid:<coin>``, e.g. ``hyperliquid:BTC``)."""

    needs_passphrase: ClassVar[bool] = False
    takes_ws_api_url: ClassVar[bool] = False
    takes_address: ClassVar[bool] = True  # read-only by wallet address, no API key (docs "Info endpoint")

    def __init__(
        self,
        *,
        symbols: Sequence[str],
        account: AccountContext | None = None,
        ws_base_url: str = PRODUCTION_WS_URL,
        rest_base_url: str = PRODUCTION_REST_URL,
        catalog: Catalog | None = None,
    ) -> None:
        self._start_session(NAME, symbols, _SYMBOL, account, catalog)
        self._address: str | None = None
        if account is not None:
            if account.address is None or not valid_address(account.address):
                raise ValueError(
                    f"{NAME}: account {account.account!r} needs a wallet address: '0x' and 40 hex digits")
            self._address = account.address.lower()
        self._ws = ws_base_url.rstrip("/")
        self._rest = rest_base_url.rstrip("/")
        self._book = PositionBook(_one_way)
        self._state_ms = 0  # ``time`` of the newest clearinghouse state applied since the last reset
        self._handlers: dict[str, Callable[[JsonObject, object, int], Parsed]] = {
            "activeAssetCtx": self._asset_context,
            "webData2": self._web_data,
            "clearinghouseState": self._web_data,
            "userFills": self._fills,
        }

    # -- connection -----------------------------------------------------------------------------

    def connect_plan(self, stream: str, now_ms: int, setup_response: bytes | None) -> StreamPlan:  # noqa: ARG002 -- Venue protocol
        """``{ws}/ws`` with the stream's subscriptions; app-level ping every 30 s (idle close at 60 s)."""
        self._check_stream(stream)
        if stream == MARKET:
            subscriptions = [{"type": "activeAssetCtx", "coin": coin} for coin in self._symbols]
        else:
            user = self._require_address()
            subscriptions = [{"type": "webData2", "user": user}, {"type": "userFills", "user": user}]
        # Redacted: the private frames carry the address, which a repr of the plan must not show.
        on_open = tuple(
            Redacted(dump_json({"method": "subscribe", "subscription": s})) for s in subscriptions)
        return StreamPlan(
            url=f"{self._ws}{WS_PATH}", on_open=on_open, ping_frame=PING_FRAME, ping_interval_s=30.0,
            stale_after_s=70.0,
        )

    def reset(self, stream: str) -> None:
        """Forget the position legs (private); the next snapshot reloads them."""
        self._check_stream(stream)
        if stream == PRIVATE:
            self._book.clear()
            self._state_ms = 0

    def keepalive_request(self, stream: str, now_ms: int) -> HttpRequest | None:  # noqa: ARG002 -- Venue protocol
        """None: nothing to keep alive over REST."""
        self._check_stream(stream)
        return None

    def resync_requests(self, now_ms: int) -> tuple[HttpRequest, ...]:  # noqa: ARG002 -- Venue protocol
        """``POST /info {"type":"clearinghouseState","user":..}``; none without an account."""
        if self._address is None:
            return ()
        body = dump_json({"type": "clearinghouseState", "user": self._address}).encode("utf-8")
        return (HttpRequest(
            method="POST", base_url=self._rest, path=INFO_PATH, purpose="clearinghouseState",
            headers={"Content-Type": "application/json"}, body=body,
        ),)

    # -- frames ---------------------------------------------------------------------------------

    def parse(self, stream: str, frame: str | bytes, receive_ms: int) -> Parsed:
        """Read ``{"channel":..,"data":..}``: pong, subscription ack, error or a data channel."""
        self._check_stream(stream)
        with frame_errors(NAME):
            obj = as_object(load_json(frame, NAME), "frame")
            channel = text(obj, "channel", "frame")
            if channel == "pong":
                return Parsed(kind=FrameKind.PONG)
            if channel == "subscriptionResponse":
                return Parsed(kind=FrameKind.ACK)
            if channel == "error":
                detail = obj.get("data")
                shown = detail[:80] if isinstance(detail, str) else type(detail).__name__
                raise FrameError(f"{NAME}: error channel: {shown!r}")
            handler = self._handlers.get(channel)
            if handler is None:
                return Parsed(kind=FrameKind.IGNORED)
            return handler(obj, required(obj, "data", channel), receive_ms)

    def _asset_context(self, obj: JsonObject, data: object, receive_ms: int) -> Parsed:  # noqa: ARG002 -- handler signature
        """``{"coin","ctx":{"markPx","oraclePx","funding",..}}`` -> one PriceEvent."""
        item = as_object(data, "activeAssetCtx data")
        coin = text(item, "coin", "activeAssetCtx")
        ctx = as_object(required(item, "ctx", "activeAssetCtx"), "activeAssetCtx ctx")
        return Parsed(events=(PriceEvent(
            instrument=f"{NAME}:{coin}",
            mark=number(ctx, "markPx", "activeAssetCtx ctx"),
            index=positive_or_none(optional_number(ctx, "oraclePx", "activeAssetCtx ctx")),
            funding_rate=optional_number(ctx, "funding", "activeAssetCtx ctx"),
            next_funding_ms=next_funding_ms(receive_ms),
            ts_event_ms=receive_ms,
            ts_receive_ms=receive_ms,
        ),))

    def _web_data(self, obj: JsonObject, data: object, receive_ms: int) -> Parsed:  # noqa: ARG002 -- handler signature
        """``webData2`` / ``clearinghouseState`` data: ``{"clearinghouseState":{..},..}``, a full snapshot."""
        account = self._require_account()
        item = as_object(data, "user data")
        state = as_object(required(item, "clearinghouseState", "user data"), "clearinghouseState")
        stamped = optional_time_ms(state, "time", "clearinghouseState")
        if stamped is not None and stamped < self._state_ms:
            return Parsed(kind=FrameKind.IGNORED)  # an older state delivered late: keep the newer one
        return Parsed(events=self._snapshot(account, state, receive_ms))

    def _fills(self, obj: JsonObject, data: object, receive_ms: int) -> Parsed:  # noqa: ARG002 -- handler signature
        """``{"isSnapshot"?, "user", "fills":[..]}``: new perp fills as FillEvents (history ignored)."""
        account = self._require_account()
        item = as_object(data, "userFills data")
        if item.get("isSnapshot") is True:
            return Parsed(kind=FrameKind.IGNORED)
        events: list[Event] = []
        for fill in objects(item, "fills", "userFills"):
            coin = text(fill, "coin", "fill")
            if not _PERP_COIN.fullmatch(coin):
                continue  # spot fills name "@107" or "PURR/USDC" (docs "Asset IDs")
            side = text(fill, "side", "fill")
            sign = _FILL_SIDES.get(side)
            if sign is None:
                raise FrameError(f"{NAME}: fill side must be 'B' or 'A', got {side[:4]!r}")
            fee_token = optional_text(fill, "feeToken", "fill") or SETTLEMENT
            if fee_token != SETTLEMENT:
                raise FrameError(f"{NAME}: perp fill fee in {fee_token[:12]!r}, expected {SETTLEMENT}")
            events.append(FillEvent(
                portfolio=account.portfolio, account=account.account, instrument=f"{NAME}:{coin}",
                quantity=sign * abs(number(fill, "sz", "fill")), price=number(fill, "px", "fill"),
                fee_usd=number(fill, "fee", "fill"), ts_event_ms=time_ms(fill, "time", "fill"),
                ts_receive_ms=receive_ms,
            ))
        return Parsed(events=tuple(events))

    # -- resync ---------------------------------------------------------------------------------

    def parse_resync(self, request: HttpRequest, body: bytes, receive_ms: int) -> tuple[Event, ...]:
        """Full positions and the USDC balance from the info answer's clearinghouse state."""
        account = self._require_account()
        with frame_errors(NAME):
            if request.purpose != "clearinghouseState":
                raise FrameError(f"{NAME}: unknown resync purpose {request.purpose!r}")
            state = as_object(load_json(body, NAME), "clearinghouseState response")
            return self._snapshot(account, state, receive_ms)

    # -- helpers --------------------------------------------------------------------------------

    def _snapshot(self, account: AccountContext, state: JsonObject, receive_ms: int) -> tuple[Event, ...]:
        """Every position of a complete clearinghouse state, then the USDC balance."""
        stamped = optional_time_ms(state, "time", "clearinghouseState")
        ts = stamped or receive_ms
        items = objects(state, "assetPositions", "clearinghouseState")
        legs: list[tuple[str, str, Leg]] = []
        total_pnl = 0.0
        cross_pnl = 0.0
        for entry in items:
            symbol, leg, pnl = _leg(entry)
            legs.append((symbol, ONE_WAY, leg))
            total_pnl += pnl
            if leg.margin_mode == "cross":
                cross_pnl += pnl
        summary = as_object(required(state, "marginSummary", "clearinghouseState"), "marginSummary")
        cross = as_object(required(state, "crossMarginSummary", "clearinghouseState"), "crossMarginSummary")
        wallet = _usdc(number(summary, "accountValue", "marginSummary") - total_pnl)
        cross_wallet = _usdc(number(cross, "accountValue", "crossMarginSummary") - cross_pnl)
        # The configured coins are reported flat (every leg) on the first snapshot after a (re)connect
        # only: later pushes, one per block or so, close what they no longer list.
        published = self._book.load(legs, also=() if self._book.loaded else self._symbols)
        self._state_ms = max(self._state_ms, stamped or 0)
        events: list[Event] = list(position_events(account, NAME, published, ts, receive_ms))
        events.append(balance_event(account, SETTLEMENT, wallet, ts, receive_ms, cross_wallet=cross_wallet))
        return tuple(events)

    def _require_address(self) -> str:
        if self._address is None:
            raise ValueError(f"{NAME}: the private stream needs an account with a wallet address")
        return self._address


def _usdc(amount: float) -> float:
    """A USDC amount derived from the wire's, back at the wire's 6 decimals (USDC's precision):
    ``13109.482328 - -0.0134`` is 13109.495728, not 13109.495727999999."""
    return round(amount, USDC_DECIMALS)


def _leg(entry: JsonObject) -> tuple[str, Leg, float]:
    """(coin, leg, unrealised PnL) of one ``assetPositions`` item (``{"type":"oneWay","position":{..}}``)."""
    kind = text(entry, "type", "asset position")
    if kind != ONE_WAY:
        raise FrameError(f"{NAME}: asset position type must be {ONE_WAY!r}, got {kind[:20]!r}")
    position = as_object(required(entry, "position", "asset position"), "position")
    coin = text(position, "coin", "position")
    leverage = as_object(required(position, "leverage", "position"), "position leverage")
    mode: MarginMode = margin_mode(text(leverage, "type", "position leverage"), "position leverage")
    quantity = number(position, "szi", "position")
    pnl = optional_number(position, "unrealizedPnl", "position") or 0.0
    isolated_margin: float | None = None
    if mode == "isolated" and quantity != 0:
        isolated_margin = _usdc(number(position, "marginUsed", "position") - pnl)
    leg = Leg(
        quantity=quantity,
        entry_price=number(position, "entryPx", "position") if quantity else 0.0,
        margin_mode=mode,
        isolated_margin=isolated_margin,
        leverage=positive_or_none(optional_number(leverage, "value", "position leverage")),
    )
    return coin, leg, pnl if quantity else 0.0


__all__ = ["ADDRESS", "Hyperliquid", "next_funding_ms", "valid_address"]
