"""Binance COIN-M futures (``dapi``): mark prices, the listenKey user data stream and the REST resync.

COIN-M contracts are inverse: a contract is worth a fixed USD amount (BTCUSD 100 USD, the others
10 USD), margin, PnL and wallets are in the coin. Perpetuals are ``<PAIR>_PERP`` (``BTCUSD_PERP``),
quarterlies ``<PAIR>_<YYMMDD>`` (``BTCUSD_261225``). The wire format is the USDⓈ-M one (same event
names and fields), so this venue is ``BinanceUsdm`` with COIN-M's hosts and paths; only what differs
is here. Sources, developers.binance.com "Derivatives Trading COIN-M Futures": "General Info",
"Websocket Market Streams" / "Mark Price Stream", "User Data Streams" (Start, Keepalive, Connect),
"Event: Balance and Position Update", "Event: Order Update", "Position Information (USER_DATA)"
(``GET /dapi/v1/positionRisk``) and "Account Information (USER_DATA)" (``GET /dapi/v1/account``).

Streams:

- ``market``: ``wss://dstream.binance.com/stream?streams=btcusd_perp@markPrice@1s/...`` (combined
  wrapper). A delivery symbol's ``markPriceUpdate`` carries ``"r":""`` and ``"T":0`` (the doc: "''
  will be shown for delivery symbol"): no funding rate, no next funding time.
- ``private``: ``POST /dapi/v1/listenKey`` (API-key header), then
  ``wss://dstream.binance.com/ws/<listenKey>``; ``PUT /dapi/v1/listenKey`` every 30 minutes (the
  key lives 60). ``ACCOUNT_UPDATE`` / ``ORDER_TRADE_UPDATE`` / ``MARGIN_CALL`` /
  ``listenKeyExpired`` / ``ACCOUNT_CONFIG_UPDATE`` (``ac``) as on USDⓈ-M. COIN-M has no
  Multi-Assets Mode, so there is no account-mode request.
- Quantities are contracts (``pa`` / ``positionAmt``, integers as strings); the monitor's inverse
  instrument turns them into coin with the catalog's contract value.

Decisions beside the USDⓈ-M ones:

- The commission of a fill is in the coin (``N`` = ``BTC``): its USD value is ``n x L`` (the fill
  price, USD per coin). A commission in any other asset counts 0 (unknown price).
- Hedge-mode legs of one canonical side net as inverse legs (entry ``Q / sum(q / EP)``).
- Resync: signed ``GET /dapi/v1/positionRisk`` and ``GET /dapi/v1/account`` (``assets[]``:
  ``walletBalance``, ``crossWalletBalance`` per coin).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from monitor.venues.base import HttpRequest
from monitor.venues.binance_usdm import BinanceUsdm

NAME = "binance-coinm"
PRODUCTION_WS_URL = "wss://dstream.binance.com"
PRODUCTION_REST_URL = "https://dapi.binance.com"
LISTEN_KEY_PATH = "/dapi/v1/listenKey"
POSITIONS_PATH = "/dapi/v1/positionRisk"
ACCOUNT_PATH = "/dapi/v1/account"

# BTCUSD_PERP, ETHUSD_PERP, BTCUSD_261225
_SYMBOL = r"[A-Z0-9]{2,20}USD_(?:PERP|[0-9]{6})"


class BinanceCoinm(BinanceUsdm):
    """Binance COIN-M futures venue (instrument ids ``binance-coinm:<SYMBOL>``, inverse)."""

    needs_passphrase: ClassVar[bool] = False
    takes_ws_api_url: ClassVar[bool] = False
    wire_name: ClassVar[str] = NAME
    symbol_pattern: ClassVar[str] = _SYMBOL
    listen_key_path: ClassVar[str] = LISTEN_KEY_PATH
    positions_path: ClassVar[str] = POSITIONS_PATH
    account_path: ClassVar[str] = ACCOUNT_PATH
    account_mode_path: ClassVar[str | None] = None
    adl_path: ClassVar[str | None] = None
    """COIN-M's ``GET /dapi/v1/adlQuantile`` is not read yet (no documented example here): the ADL
    rank of a COIN-M leg is unknown."""
    inverse: ClassVar[bool] = True
    production_ws_url: ClassVar[str] = PRODUCTION_WS_URL
    production_rest_url: ClassVar[str] = PRODUCTION_REST_URL

    def instrument_requests(self, now_ms: int) -> tuple[HttpRequest, ...]:  # noqa: ARG002 -- InstrumentSource
        """None: COIN-M's ``/dapi/v1/exchangeInfo`` is not read yet; the shipped catalog's terms stand."""
        return ()

    def tier_requests(self, now_ms: int, symbols: Sequence[str]) -> tuple[HttpRequest, ...]:  # noqa: ARG002 -- InstrumentSource
        """None: COIN-M's brackets come from the shipped catalog."""
        return ()

    def _market_url(self, streams: str) -> str:
        """``/stream?streams=...`` on dstream (COIN-M market streams are not routed)."""
        return f"{self._ws}/stream?streams={streams}"

    def _private_url(self, listen_key: str) -> str:
        """``/ws/<listenKey>`` on dstream."""
        return f"{self._ws}/ws/{listen_key}"

    def _fee_usd(self, symbol: str, fee_asset: str | None, commission: float, price: float) -> float:
        """A commission in the contract's coin at the fill price (USD per coin); 0 for another asset."""
        return commission * price if fee_asset is not None and fee_asset == _coin(symbol) else 0.0


def _coin(symbol: str) -> str:
    """The margin coin of a COIN-M symbol: ``BTC`` of ``BTCUSD_PERP`` / ``BTCUSD_261225``."""
    return symbol.split("_", 1)[0].removesuffix("USD")
