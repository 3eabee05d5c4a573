"""BingX USDT-M perpetual swap: mark prices, positions and balances as canonical events.

Sources: BingX swap V2 docs (github.com/BingX-API/BingX-swap-api-v2-doc,
``Perpetual_Swap_WebSocket_Market_Interface.md``, commit 4a961e5) and the signature page
(bingx-api.github.io/docs, "Signature Authentication"); exchange-wire-formats-bingx-mexc-weex.md §1.
Pieces marked *3P* come from JKorf/BingX.Net fixtures or ccxt and are not in BingX's own docs.

Market stream ``wss://open-api-swap.bingx.com/swap-market``
    Frames arrive gzip-compressed and binary ("All response data from Websocket server are
    compressed into GZIP format"); plain-text frames are accepted too. Subscribe with
    ``{"id":"BTC-USDT@markPrice","reqType":"sub","dataType":"BTC-USDT@markPrice"}``; the ack is
    ``{"id":..,"code":0,"msg":""}``, an error ``{"code":100500,"id":..,"msg":"",..}`` (3P, ccxt;
    a FrameError here). The server sends the bare string ``Ping`` about every 5 s and expects the
    text ``Pong``. Mark price push (3P)::

        {"code":0,"dataType":"ETH-USDT@markPrice",
         "data":{"e":"markPriceUpdate","E":1714650884021,"s":"ETH-USDT","p":"2999.63"}}

Index price and funding
    BingX has no websocket index or funding stream for USDT-M. ``GET
    /openApi/swap/v2/quote/premiumIndex`` (``markPrice``, ``indexPrice``, ``lastFundingRate``,
    ``nextFundingTime``) is polled as the market stream's *keepalive request* every
    ``PREMIUM_INDEX_POLL_S`` seconds and is part of ``resync_requests``: the Venue protocol has no
    other periodic REST slot, so the supervisor must hand keepalive responses to ``parse_resync``
    too. ``parse_resync`` turns the response into PriceEvents and remembers index and funding;
    later markPrice events carry them for at most ``REST_QUOTE_MAX_AGE_MS`` of receive time (then
    None rather than stale).

Account stream ``...swap-market?listenKey=<key>``
    ``stream_setup`` creates the key (``POST /openApi/user/auth/userDataStream``, header
    ``X-BX-APIKEY``); ``keepalive_request`` extends it every 30 minutes (``PUT``); the key lives 60
    minutes and ``{"e":"listenKeyExpired",..}`` asks the supervisor to reconnect with a new key.

    * ``ACCOUNT_UPDATE``: ``a.B[]`` balances (``a`` asset, ``wb`` wallet balance, ``cw`` "wallet
      balance excluding isolated margin", the BalanceEvent's ``cross_wallet``) and ``a.P[]``
      changed positions (``s``, ``pa`` amount in base coin, ``ep`` entry, ``mt``
      ``isolated``/``cross``, ``iw`` isolated margin, ``ps`` ``LONG``/``SHORT``). ``pa`` is positive
      for SHORT in the official sample: the sign comes from ``ps`` (``BOTH``, seen only in bot
      code, keeps the sign of ``pa``). A closed leg is assumed to arrive as ``pa`` 0 (undocumented;
      the REST resync corrects it either way).
    * ``ACCOUNT_CONFIG_UPDATE`` ``ac``: ``l`` long leverage and ``S`` *short* leverage (the doc
      comment calls ``S`` long; case-sensitive ``s``/``S``). ``ACCOUNT_UPDATE`` has no leverage, so a
      leg's leverage comes from here and from REST; a change re-emits the open position.
    * ``SNAPSHOT`` (undocumented, 3P; a demo probe saw ~33 per second): ``ac`` shaped like a config
      update, or ``a`` shaped like an account update; both are read the same way.
    * ``ORDER_TRADE_UPDATE``: ignored. It carries the cumulative filled quantity ``z`` but no
      per-fill quantity (the official sample even shows ``X`` FILLED with ``z`` 0), so no reliable
      FillEvent can be derived.

Conversions (risk-definitions.md "Contracts" and "Margin")
    * Quantities are base-coin amounts and the catalog's BingX contract size is 1, so contracts =
      coin amount, negative for short.
    * ``isolated_margin`` is ``iw`` (WS) or ``margin``/``initialMargin`` (REST) of isolated legs.
      BingX copies Binance's ``ACCOUNT_UPDATE`` schema, where ``iw`` is the isolated wallet
      *excluding* unrealised PnL; BingX does not state it (unverified), nor what REST
      ``initialMargin`` holds after margin is added or removed.
    * Legs: ``ps`` (WS) / ``positionSide`` (REST) ``LONG`` and ``SHORT`` are the hedge-mode
      ``position_side`` "long" (quantity >= 0) and "short" (<= 0), each published on its own;
      ``BOTH`` is "one_way" with the sign of the amount.
    * Balances: wallet balance ``wb`` (WS) / ``balance`` (REST ``/openApi/swap/v3/user/balance``);
      the REST rows carry no cross wallet, so their ``cross_wallet`` is None.

REST resync (``https://open-api.bingx.com``, signed): ``GET /openApi/swap/v2/user/positions`` and
``GET /openApi/swap/v3/user/balance``. The positions resync is full state: symbols that were open,
or are configured, but are absent are emitted with quantity 0. REST events carry the receive time
as event time (the responses have none). Signature: hex HMAC-SHA256 of the parameters sorted by
name, ``k=v`` joined by ``&`` (``timestamp`` included), keyed by the API secret, sent as
``signature``; the API key goes in header ``X-BX-APIKEY`` (BingX signature page; its worked example
is reproduced in the tests).

Contract terms and tiers: ``parse_contracts`` (``GET /openApi/swap/v2/quote/contracts``) and
``parse_maintenance_margin_tiers`` (``GET /openApi/swap/v1/maintMarginRatio``, 3P: not in the
official docs) return catalog overrides for ``Catalog.with_overrides``.

The venue's own liquidation price ``liquidationPrice`` of ``GET /openApi/swap/v2/user/positions``
is the leg's ``venue_liquidation_price`` (docs/venue-fields.md); a value <= 0 is unknown.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, ClassVar

from monitor.domain.events import Event, MarginMode, PositionSide, PriceEvent
from monitor.domain.instruments import Catalog, CatalogError, tiers_with_cum
from monitor.secrets import Secret
from monitor.venues._common import (
    JsonObject,
    Leg,
    PositionBook,
    VenueFigures,
    VenueSession,
    as_list,
    as_object,
    balance_event,
    dump_json,
    frame_errors,
    load_json,
    margin_mode,
    market_and_private,
    number,
    objects,
    optional_number,
    optional_time_ms,
    position_events,
    positive_or_none,
    required,
    signed_quantity,
    text,
    time_ms,
    venue_figures,
)
from monitor.venues.base import (
    MAX_FRAME_BYTES,
    AccountContext,
    FrameError,
    FrameKind,
    HttpRequest,
    Parsed,
    StreamPlan,
)
from monitor.venues.listings.guide import GuideListings
from monitor.venues.signing import Redacted, api_key, hmac_sha256_hex, query_string

NAME = "bingx"
PRODUCTION_WS_URL = "wss://open-api-swap.bingx.com/swap-market"
PRODUCTION_REST_URL = "https://open-api.bingx.com"
MARKET = "market"
PRIVATE = "private"

LISTEN_KEY_PATH = "/openApi/user/auth/userDataStream"
POSITIONS_PATH = "/openApi/swap/v2/user/positions"
BALANCE_PATH = "/openApi/swap/v3/user/balance"
PREMIUM_INDEX_PATH = "/openApi/swap/v2/quote/premiumIndex"
CONTRACTS_PATH = "/openApi/swap/v2/quote/contracts"
MAINT_MARGIN_PATH = "/openApi/swap/v1/maintMarginRatio"

PURPOSE_LISTEN_KEY = "listenKey"
PURPOSE_POSITIONS = "positions"
PURPOSE_BALANCES = "balances"
PURPOSE_PREMIUM_INDEX = "premiumIndex"

# The listenKey lives 60 minutes; BingX recommends extending it every 30 minutes.
LISTEN_KEY_KEEPALIVE_S = 30 * 60.0
# premiumIndex poll period, and for how long its index/funding may ride on websocket marks.
PREMIUM_INDEX_POLL_S = 15.0
REST_QUOTE_MAX_AGE_MS = 60_000
# The server pings every ~5 s, so 30 s of silence means the connection is dead.
STALE_AFTER_S = 30.0

_SYMBOL = r"[A-Z0-9]{1,30}-[A-Z0-9]{2,10}"
_LISTEN_KEY = re.compile(r"[A-Za-z0-9]{1,128}")
_GZIP_MAGIC = b"\x1f\x8b"
_POSITION_SIDES: dict[str, PositionSide] = {"LONG": "long", "SHORT": "short", "BOTH": "one_way"}


def sign(secret: Secret, params: Iterable[tuple[str, str]]) -> str:
    """BingX signature: hex HMAC-SHA256 of the parameters sorted by name as ``k=v&..``.

    Source: bingx-api.github.io/docs "Signature Authentication" (worked example in the tests).
    """
    return hmac_sha256_hex(secret, query_string(sorted(params)))


def inflate(frame: str | bytes) -> str | bytes:
    """The frame's bytes after gzip decompression (BingX compresses every server frame).

    Non-gzip input is returned unchanged; the decompressed size is capped at MAX_FRAME_BYTES so a
    small compressed frame cannot expand without bound.
    """
    if len(frame) > MAX_FRAME_BYTES:
        raise FrameError(f"{NAME}: frame of {len(frame)} bytes exceeds the limit of {MAX_FRAME_BYTES}")
    if not isinstance(frame, bytes) or not frame.startswith(_GZIP_MAGIC):
        return frame
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        raw = inflater.decompress(frame, MAX_FRAME_BYTES + 1)
    except zlib.error as exc:
        raise FrameError(f"{NAME}: invalid gzip frame ({exc})") from None
    if len(raw) > MAX_FRAME_BYTES or inflater.unconsumed_tail:
        raise FrameError(f"{NAME}: decompressed frame exceeds the limit of {MAX_FRAME_BYTES}")
    if not inflater.eof:
        raise FrameError(f"{NAME}: truncated gzip frame")
    return raw


@dataclass(frozen=True, slots=True)
class _RestQuote:
    """Index and funding from the last premiumIndex response of one symbol."""

    index: float | None
    funding_rate: float | None
    next_funding_ms: int | None
    received_ms: int


class BingxSwap(GuideListings, VenueSession):
    """BingX USDT-M perpetual swap venue (instrument ids ``bingx:<BASE>-<QUOTE>``)."""

    needs_passphrase: ClassVar[bool] = False
    takes_ws_api_url: ClassVar[bool] = False

    def __init__(
        self,
        *,
        symbols: Sequence[str],
        account: AccountContext | None = None,
        ws_base_url: str = PRODUCTION_WS_URL,
        rest_base_url: str = PRODUCTION_REST_URL,
        catalog: Catalog | None = None,
    ) -> None:
        self._start_session(NAME, symbols, _SYMBOL, account, catalog, listed_only=True,
                            streams=market_and_private)
        self._ws = ws_base_url.rstrip("/")
        self._rest = rest_base_url.rstrip("/")
        self._listen_key: str | None = None
        self._book = PositionBook(_POSITION_SIDES.__getitem__)
        self._leverage: dict[tuple[str, str], float] = {}
        self._quotes: dict[str, _RestQuote] = {}

    # -- connection -----------------------------------------------------------------------------

    def stream_setup(self, stream: str, now_ms: int) -> HttpRequest | None:  # noqa: ARG002 -- Venue protocol
        """``POST /openApi/user/auth/userDataStream`` (API-key header) before the private stream."""
        self._check_stream(stream)
        if stream != PRIVATE:
            return None
        return HttpRequest(
            method="POST", base_url=self._rest, path=LISTEN_KEY_PATH, purpose=PURPOSE_LISTEN_KEY,
            headers=self._key_header(),
        )

    def connect_plan(self, stream: str, now_ms: int, setup_response: bytes | None) -> StreamPlan:  # noqa: ARG002 -- Venue protocol
        """Market: one ``<symbol>@markPrice`` subscription per symbol, premiumIndex polled as the
        keepalive. Private: the listenKey URL, the key extended every 30 minutes."""
        self._check_stream(stream)
        if stream == MARKET:
            subscriptions = tuple(
                dump_json({"id": f"{s}@markPrice", "reqType": "sub", "dataType": f"{s}@markPrice"})
                for s in self._symbols
            )
            return StreamPlan(
                url=self._ws, on_open=subscriptions, ping_frame=None,
                stale_after_s=STALE_AFTER_S, keepalive_interval_s=PREMIUM_INDEX_POLL_S,
            )
        if setup_response is None:
            raise FrameError(f"{NAME}: the private stream needs the listenKey response")
        with frame_errors(NAME):
            body = as_object(load_json(setup_response, NAME), "listenKey response")
            if isinstance(body.get("data"), dict):
                body = as_object(body["data"], "listenKey response data")
            listen_key = text(body, "listenKey", "listenKey response")
        if not _LISTEN_KEY.fullmatch(listen_key):
            raise FrameError(f"{NAME}: the listenKey response holds an invalid key")
        self._listen_key = listen_key
        return StreamPlan(
            url=f"{self._ws}?listenKey={listen_key}", ping_frame=None,
            stale_after_s=STALE_AFTER_S, keepalive_interval_s=LISTEN_KEY_KEEPALIVE_S,
        )

    def reset(self, stream: str) -> None:
        """Forget position legs and leverage before the private stream reconnects (resync rebuilds
        them); REST quotes are market state and stay."""
        self._check_stream(stream)
        if stream == PRIVATE:
            self._book.clear()
            self._leverage.clear()
            self._listen_key = None

    def keepalive_request(self, stream: str, now_ms: int) -> HttpRequest | None:  # noqa: ARG002 -- Venue protocol
        """Market: the premiumIndex poll. Private: ``PUT`` the listenKey."""
        self._check_stream(stream)
        if stream == MARKET:
            return self._premium_index_request()
        if self._listen_key is None:
            return None
        return HttpRequest(
            method="PUT", base_url=self._rest, path=LISTEN_KEY_PATH, purpose=PURPOSE_LISTEN_KEY,
            query=(("listenKey", self._listen_key),), headers=self._key_header(),
        )

    def resync_requests(self, now_ms: int) -> tuple[HttpRequest, ...]:
        """Signed positions and balance (with an account), and premiumIndex for index and funding."""
        requests: list[HttpRequest] = []
        if self._credentials is not None:
            requests.append(self._signed(POSITIONS_PATH, PURPOSE_POSITIONS, now_ms))
            requests.append(self._signed(BALANCE_PATH, PURPOSE_BALANCES, now_ms))
        if self._symbols:
            requests.append(self._premium_index_request())
        return tuple(requests)

    # -- frames ---------------------------------------------------------------------------------

    def parse(self, stream: str, frame: str | bytes, receive_ms: int) -> Parsed:
        """Read one (gzip-compressed or plain) frame of the market or account stream."""
        self._check_stream(stream)
        raw = inflate(frame)
        if len(raw) <= 8:
            word = raw.strip() if isinstance(raw, str) else raw.strip().decode("utf-8", "replace")
            if word == "Ping":
                return Parsed(kind=FrameKind.PING, replies=("Pong",))
            if word == "Pong":
                return Parsed(kind=FrameKind.PONG)
        with frame_errors(NAME):
            return self._parse_object(as_object(load_json(raw, NAME), "frame"), receive_ms)

    def _parse_object(self, obj: JsonObject, receive_ms: int) -> Parsed:
        if "ping" in obj:
            # JSON heartbeat of BingX's spot streams (3P for swap): echo it back as "pong"
            return Parsed(
                kind=FrameKind.PING,
                replies=(dump_json({"pong": obj["ping"], "time": obj.get("time")}),),
            )
        if "dataType" in obj and "data" in obj:
            data_type = text(obj, "dataType", "push")
            if not data_type.endswith("@markPrice"):
                return Parsed(kind=FrameKind.IGNORED)
            return self._mark_price(as_object(obj["data"], "markPrice data"), receive_ms)
        if "e" in obj:
            return self._account_event(obj, receive_ms)
        if "code" in obj:
            if obj["code"] == 0 and "id" in obj:
                return Parsed(kind=FrameKind.ACK)
            message = str(obj.get("msg", ""))[:200]
            raise FrameError(f"{NAME}: error frame with code {obj['code']!r} ({message!r})")
        raise FrameError(f"{NAME}: unrecognised frame (no dataType, e or code)")

    def _mark_price(self, data: JsonObject, receive_ms: int) -> Parsed:
        """``{"e":"markPriceUpdate","E":..,"s":"ETH-USDT","p":"2999.63"}`` plus the REST quote."""
        symbol = text(data, "s", "markPrice")
        quote = self._quotes.get(symbol)
        if quote is not None and receive_ms - quote.received_ms > REST_QUOTE_MAX_AGE_MS:
            quote = None
        event = PriceEvent(
            instrument=f"{NAME}:{symbol}",
            mark=number(data, "p", "markPrice"),
            index=quote.index if quote else None,
            funding_rate=quote.funding_rate if quote else None,
            next_funding_ms=quote.next_funding_ms if quote else None,
            ts_event_ms=time_ms(data, "E", "markPrice"),
            ts_receive_ms=receive_ms,
        )
        return Parsed(events=(event,))

    def _account_event(self, obj: JsonObject, receive_ms: int) -> Parsed:
        event_type = obj["e"]
        if event_type == "listenKeyExpired":
            return Parsed(reconnect_reason="listenKeyExpired")
        if event_type == "ACCOUNT_UPDATE" or (event_type == "SNAPSHOT" and "a" in obj):
            return self._account_update(obj, receive_ms)
        if event_type in ("ACCOUNT_CONFIG_UPDATE", "SNAPSHOT") and "ac" in obj:
            return self._config_update(obj, receive_ms)
        return Parsed(kind=FrameKind.IGNORED)

    def _account_update(self, obj: JsonObject, receive_ms: int) -> Parsed:
        """``{"e":"ACCOUNT_UPDATE","E":..,"a":{"m":"ORDER","B":[{"a","wb","cw","bc"}],"P":[{"s",
        "pa","ep","up","mt","iw","ps"}]}}``: balances of changed assets, changed position legs."""
        account = self._require_account()
        ts = time_ms(obj, "E", "ACCOUNT_UPDATE")
        update = as_object(required(obj, "a", "ACCOUNT_UPDATE"), "ACCOUNT_UPDATE.a")
        events: list[Event] = [
            balance_event(
                account, text(b, "a", "balance"), number(b, "wb", "balance"), ts, receive_ms,
                cross_wallet=optional_number(b, "cw", "balance"),
            )
            for b in objects(update, "B", "ACCOUNT_UPDATE.a", default_empty=True)
        ]
        legs = []
        for p in objects(update, "P", "ACCOUNT_UPDATE.a", default_empty=True):
            symbol = text(p, "s", "position")
            side = text(p, "ps", "position")
            mode = margin_mode(text(p, "mt", "position"), "position")
            legs.append((symbol, side, _leg(
                side=side,
                quantity=number(p, "pa", "position"),
                entry=number(p, "ep", "position"),
                mode=mode,
                isolated_margin=number(p, "iw", "position") if mode == "isolated" else None,
                leverage=self._leverage.get((symbol, side)),
            )))
        events.extend(position_events(account, NAME, self._book.apply(legs), ts, receive_ms))
        return Parsed(events=tuple(events))

    def _config_update(self, obj: JsonObject, receive_ms: int) -> Parsed:
        """``{"e":"ACCOUNT_CONFIG_UPDATE","E":..,"ac":{"s":"BTC-USDT","l":12,"S":9,"mt":"cross"}}``:
        ``l`` is the long and ``S`` the short leverage; a change re-emits the open position."""
        account = self._require_account()
        config = as_object(required(obj, "ac", "config update"), "config update.ac")
        symbol = text(config, "s", "config update.ac")
        by_side = {
            "LONG": positive_or_none(optional_number(config, "l", "config update.ac")),
            "SHORT": positive_or_none(optional_number(config, "S", "config update.ac")),
        }
        by_side["BOTH"] = by_side["LONG"]
        changed = False
        for side, leverage in by_side.items():
            if leverage is not None and self._leverage.get((symbol, side)) != leverage:
                self._leverage[(symbol, side)] = leverage
                changed = True
        legs = self._book.legs(symbol)
        if not changed or not legs:
            return Parsed()
        updates = [
            (symbol, side, replace(leg, leverage=self._leverage.get((symbol, side), leg.leverage)))
            for side, leg in legs.items()
        ]
        ts = time_ms(obj, "E", "config update")
        return Parsed(events=tuple(position_events(account, NAME, self._book.apply(updates), ts, receive_ms)))

    # -- resync ---------------------------------------------------------------------------------

    def parse_resync(self, request: HttpRequest, body: bytes, receive_ms: int) -> tuple[Event, ...]:
        """Positions, balances or premiumIndex → full-state events; a listenKey call → none."""
        if request.purpose == PURPOSE_LISTEN_KEY:
            return ()
        with frame_errors(NAME):
            data = _rest_data(inflate(body), request.purpose)
            if request.purpose == PURPOSE_POSITIONS:
                return self._positions_snapshot(self._require_account(), data, receive_ms)
            if request.purpose == PURPOSE_BALANCES:
                return self._balances_snapshot(self._require_account(), data, receive_ms)
            if request.purpose == PURPOSE_PREMIUM_INDEX:
                return self._premium_index(data, receive_ms)
        raise FrameError(f"{NAME}: unknown resync purpose {request.purpose!r}")

    def _positions_snapshot(
        self, account: AccountContext, data: object, receive_ms: int
    ) -> tuple[Event, ...]:
        """``[{"symbol","positionSide","isolated":bool,"positionAmt","avgPrice","initialMargin",
        "leverage":int,..}]``: every open position (in hedge mode, one row per open leg)."""
        legs: list[tuple[str, str, Leg]] = []
        leverage: dict[tuple[str, str], float] = {}
        for item in as_list(data if data is not None else [], "positions data"):
            row = as_object(item, "position")
            symbol = text(row, "symbol", "position")
            side = text(row, "positionSide", "position")
            isolated = required(row, "isolated", "position")
            if not isinstance(isolated, bool):
                raise FrameError(f"{NAME}: position field 'isolated' must be a boolean")
            row_leverage = positive_or_none(optional_number(row, "leverage", "position"))
            if row_leverage is not None:
                leverage[(symbol, side)] = row_leverage
            margin_key = "margin" if "margin" in row else "initialMargin"
            legs.append((symbol, side, _leg(
                side=side,
                quantity=number(row, "positionAmt", "position"),
                entry=number(row, "avgPrice", "position"),
                mode="isolated" if isolated else "cross",
                isolated_margin=number(row, margin_key, "position") if isolated else None,
                leverage=row_leverage,
                figures=venue_figures(
                    liquidation_price=optional_number(row, "liquidationPrice", "position")),
            )))
        self._leverage.update(leverage)
        published = self._book.load(legs, also=self._symbols)
        return tuple(position_events(account, NAME, published, receive_ms, receive_ms))

    def _balances_snapshot(
        self, account: AccountContext, data: object, receive_ms: int
    ) -> tuple[Event, ...]:
        """v3 ``[{"asset","balance","equity","availableMargin",..}]``; the v2 shape
        ``{"balance":{..}}`` is accepted too. ``balance`` is the wallet balance."""
        if isinstance(data, dict) and "balance" in data:
            data = data["balance"]
        rows = [data] if isinstance(data, dict) else as_list(data, "balance data")
        return tuple(
            balance_event(
                account, text(row, "asset", "balance"), number(row, "balance", "balance"),
                receive_ms, receive_ms,
            )
            for row in (as_object(item, "balance") for item in rows)
        )

    def _premium_index_request(self) -> HttpRequest:
        query = (("symbol", self._symbols[0]),) if len(self._symbols) == 1 else ()
        return HttpRequest(
            method="GET", base_url=self._rest, path=PREMIUM_INDEX_PATH,
            purpose=PURPOSE_PREMIUM_INDEX, query=query,
        )

    def _premium_index(self, data: object, receive_ms: int) -> tuple[Event, ...]:
        """``{"symbol","markPrice","indexPrice","lastFundingRate","nextFundingTime"}`` (one symbol)
        or a list of them (every symbol: only the configured ones are emitted)."""
        rows = [data] if isinstance(data, dict) else as_list(data, "premiumIndex data")
        events: list[Event] = []
        for item in rows:
            row = as_object(item, "premiumIndex")
            symbol = text(row, "symbol", "premiumIndex")
            if len(rows) > 1 and symbol not in self._symbols:
                continue
            quote = _RestQuote(
                index=optional_number(row, "indexPrice", "premiumIndex"),
                funding_rate=optional_number(row, "lastFundingRate", "premiumIndex"),
                next_funding_ms=optional_time_ms(row, "nextFundingTime", "premiumIndex"),
                received_ms=receive_ms,
            )
            self._quotes[symbol] = quote
            events.append(PriceEvent(
                instrument=f"{NAME}:{symbol}",
                mark=number(row, "markPrice", "premiumIndex"),
                index=quote.index,
                funding_rate=quote.funding_rate,
                next_funding_ms=quote.next_funding_ms,
                ts_event_ms=optional_time_ms(row, "time", "premiumIndex") or receive_ms,
                ts_receive_ms=receive_ms,
            ))
        return tuple(events)

    # -- helpers --------------------------------------------------------------------------------

    def _key_header(self) -> dict[str, str]:
        return {"X-BX-APIKEY": api_key(self._require_credentials())}

    def _signed(self, path: str, purpose: str, now_ms: int) -> HttpRequest:
        """A GET signed per BingX "Signature Authentication": ``signature`` over the sorted query."""
        pairs = (("timestamp", str(now_ms)),)
        signature = sign(self._require_credentials().api_secret, pairs)
        return HttpRequest(
            method="GET", base_url=self._rest, path=path, purpose=purpose,
            query=(*sorted(pairs), ("signature", Redacted(signature))), headers=self._key_header(),
        )


def _rest_data(body: str | bytes, purpose: str) -> object:
    """``data`` of the REST envelope ``{"code":0,"msg":"","data":..}``; a non-zero code fails."""
    envelope = as_object(load_json(body, NAME), f"{purpose} response")
    code = envelope.get("code", 0)
    if code != 0:
        message = str(envelope.get("msg", ""))[:200]
        raise FrameError(f"{NAME}: {purpose} request failed with code {code!r} ({message!r})")
    return envelope.get("data")


def _leg(
    *, side: str, quantity: float, entry: float, mode: MarginMode, isolated_margin: float | None,
    leverage: float | None, figures: VenueFigures | None = None,
) -> Leg:
    """One leg; LONG positive, SHORT negative whatever sign BingX sent (its documented SHORT leg
    has ``pa`` "108.84300000", positive), BOTH as sent."""
    canonical = _POSITION_SIDES.get(side)
    if canonical is None:
        raise FrameError(f"{NAME}: position side must be LONG, SHORT or BOTH, got {side[:10]!r}")
    quantity = signed_quantity(quantity, canonical)
    if quantity == 0:
        entry = 0.0
        isolated_margin = None
    return Leg(quantity, entry, mode, isolated_margin, leverage, figures=figures)


# -- contract terms (pure parse functions for the catalog) ------------------------------------


def parse_contracts(body: bytes) -> dict[str, dict[str, Any]]:
    """Catalog overrides from ``GET /openApi/swap/v2/quote/contracts``.

    Quantities are in base coin, so the contract size is 1 (the ``size`` field comes back ``"0"``
    and is not used); lot step = ``10 ** -quantityPrecision``; minimum = ``tradeMinQuantity``;
    fees ``takerFeeRate``/``makerFeeRate``. Source: BingX swap V2 docs "Contract Information".
    """
    with frame_errors(NAME):
        result: dict[str, dict[str, Any]] = {}
        for item in as_list(_rest_data(body, "contracts"), "contracts data"):
            row = as_object(item, "contract")
            symbol = text(row, "symbol", "contract")
            precision = required(row, "quantityPrecision", "contract")
            if isinstance(precision, bool) or not isinstance(precision, int) or not 0 <= precision <= 12:
                raise FrameError(f"{NAME}: {symbol} quantityPrecision must be an integer 0..12")
            entry: dict[str, Any] = {
                "kind": "linear",
                "base": text(row, "asset", "contract"),
                "quote": text(row, "currency", "contract"),
                "settle": "USD",
                "contract_size": 1.0,
                "lot_step": float(Decimal(1).scaleb(-precision)),
                "min_quantity": number(row, "tradeMinQuantity", "contract"),
            }
            for wire, key in (("takerFeeRate", "taker_fee"), ("makerFeeRate", "maker_fee")):
                fee = optional_number(row, wire, "contract")
                if fee is not None:
                    entry[key] = fee
            result[f"{NAME}:{symbol}"] = entry
        return result


def parse_maintenance_margin_tiers(body: bytes) -> dict[str, dict[str, Any]]:
    """Catalog tier overrides from ``GET /openApi/swap/v1/maintMarginRatio`` (3P shape).

    Rows are ``minPositionVal``/``maxPositionVal`` (notional in USDT) and ``maintMarginRatio``; the
    catalog derives ``cum`` as ``floor_n * (mmr_n - mmr_{n-1}) + cum_{n-1}`` (Binance USDⓈ-M
    maintenance amount), which reproduces BingX's ``maintAmount`` on the fixture (see the tests).
    The response has no maximum leverage per tier.
    """
    with frame_errors(NAME):
        by_symbol: dict[str, list[tuple[float, float, float]]] = {}
        for item in as_list(_rest_data(body, "maintMarginRatio"), "maintMarginRatio data"):
            row = as_object(item, "tier")
            by_symbol.setdefault(text(row, "symbol", "tier"), []).append((
                number(row, "minPositionVal", "tier"),
                number(row, "maxPositionVal", "tier"),
                number(row, "maintMarginRatio", "tier"),
            ))
        result: dict[str, dict[str, Any]] = {}
        for symbol, rows in by_symbol.items():
            rows.sort()
            try:
                tiers_with_cum((floor, cap, mmr, 1.0) for floor, cap, mmr in rows)
            except CatalogError as exc:
                raise FrameError(f"{NAME}: {symbol} tiers are invalid ({exc})") from None
            result[f"{NAME}:{symbol}"] = {
                "tiers": [{"floor": floor, "cap": cap, "mmr": mmr} for floor, cap, mmr in rows],
            }
        return result


__all__ = [
    "CONTRACTS_PATH", "MAINT_MARGIN_PATH", "PRODUCTION_REST_URL", "PRODUCTION_WS_URL", "BingxSwap",
    "inflate", "parse_contracts", "parse_maintenance_margin_tiers", "sign",
]


BingxSwap.listing_path = CONTRACTS_PATH
BingxSwap.listing_parser = staticmethod(parse_contracts)
BingxSwap.tier_path = MAINT_MARGIN_PATH
BingxSwap.tier_parser = staticmethod(parse_maintenance_margin_tiers)
