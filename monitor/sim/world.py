"""The simulator's authoritative state: quotes, accounts, positions and balances.

Pure bookkeeping, no I/O: the server changes the world and asks each venue's wire writer to tell
connected clients. Quantities are in each venue's own unit (OKX swaps: contracts; Binance USDⓈ-M,
Bybit linear: base coin), signed, negative = short.

Fill accounting (average-cost method, as Binance, Bybit and OKX report ``entryPrice``/``avgPx``):

- adding to a position:  entry' = (|q0| * e0 + |q| * p) / |q0 + q|
- reducing it:           realised = min(|q|, |q0|) * m * (p - e0) * sign(q0), entry unchanged
- flipping through zero: the remainder opens at ``p``; a flat position has entry 0
- linear contracts settle in the quote asset with multiplier m = contract size; inverse
  contracts settle in the base asset, realised = closed * contract_value * (1/e0 - 1/p) * sign(q0)
- the fee is paid in the settlement asset; a spot fill moves base (+q) and quote (-q * p - fee).

Unrealised PnL follows risk-definitions.md ("PnL"): linear ``q * cs * (P - EP)`` in the quote,
inverse ``q * cv * (1/EP - 1/P)`` in the base coin.

Positions are legs keyed by (venue, account, symbol, side): side ``one_way`` (Binance ``BOTH``, OKX
``net``, Bybit ``positionIdx`` 0) holds a signed quantity; the hedge-mode legs ``long`` (quantity
>= 0) and ``short`` (<= 0) are held apart, each with its own entry and isolated wallet. A fill on a
hedge leg opens or closes that leg only (it cannot take it through zero). A symbol is held either
one-way or as hedge legs, not both at once.

An isolated leg has its own wallet (``isolated_margin``, excluding unrealised PnL, in the settlement
currency): value at entry / leverage when the leg is set, grown by the margin of every opening fill
and released pro rata by closing ones. The asset's wallet balance includes the isolated wallets;
the cross wallet is the balance minus them (Binance ``wb`` and ``cw``).
"""

from __future__ import annotations

import hashlib
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from monitor.domain.instruments import Catalog, Instrument
from monitor.secrets import Secret
from monitor.sim.margin import (
    POSITION_SIDES,
    AccountBook,
    ContractTerms,
    LegState,
    PositionSide,
    SimLegFigures,
    VenueRule,
    venue_rule,
)
from monitor.sim.terms import SimTerms
from monitor.venues.base import Credentials

STABLE_ASSETS = frozenset({"USDT", "USDC", "USD", "BUSD", "FDUSD"})
FUNDING_PERIOD_MS = 8 * 3600 * 1000
QUANTITY_DECIMALS = 10


def wall_clock_ms() -> int:
    """Epoch milliseconds now."""
    return time.time_ns() // 1_000_000


@dataclass(slots=True)
class Quote:
    """Mark, index and funding of one instrument."""

    mark: float
    index: float
    funding_rate: float | None = None
    next_funding_ms: int | None = None


@dataclass(frozen=True, slots=True)
class SimPosition:
    """One position as the exchange holds it (venue units, signed)."""

    quantity: float
    entry_price: float
    leverage: float = 5.0
    margin_mode: str = "cross"
    updated_ms: int = 0
    realised_pnl: float = 0.0
    position_side: PositionSide = "one_way"
    isolated_margin: float = 0.0


@dataclass(frozen=True, slots=True)
class SimFill:
    """One execution the simulator applied to an account."""

    trade_id: int
    symbol: str
    quantity: float
    price: float
    fee: float
    fee_asset: str
    realised_pnl: float
    ts_ms: int
    position_side: PositionSide = "one_way"
    forced: str | None = None  # "liquidation" or "adl": the venue closed the leg itself


@dataclass(frozen=True, slots=True)
class SimAccount:
    """An account at one venue with its deterministic simulator credentials."""

    venue: str
    account: str
    api_key: str
    api_secret: str
    passphrase: str

    def credentials(self) -> Credentials:
        """The credentials a venue module needs to log in to the simulator."""
        return Credentials(Secret(self.api_key), Secret(self.api_secret), Secret(self.passphrase))


def wallet_address(venue: str, account: str) -> str:
    """The deterministic wallet address of a simulated account: ``0x`` and 40 hex digits."""
    return "0x" + hashlib.sha256(f"sim-wallet:{venue}:{account}".encode()).hexdigest()[:40]


def next_funding_ms(now_ms: int) -> int:
    """The next 00:00/08:00/16:00 UTC funding time after ``now_ms``."""
    return (now_ms // FUNDING_PERIOD_MS + 1) * FUNDING_PERIOD_MS


class SimWorld:
    """Quotes and account state of every simulated venue."""

    def __init__(
        self,
        catalog: Catalog,
        rng: random.Random,
        clock_ms: Callable[[], int] = wall_clock_ms,
    ) -> None:
        self.catalog = catalog
        self.rng = rng
        self.clock_ms = clock_ms
        self.quotes: dict[tuple[str, str], Quote] = {}
        self.positions: dict[tuple[str, str, str, PositionSide], SimPosition] = {}
        self.balances: dict[tuple[str, str, str], float] = {}
        self.accounts: dict[tuple[str, str], SimAccount] = {}
        self.multi_asset_margin: dict[tuple[str, str], bool] = {}
        # Scenario knobs of the venue's own reported figures: a relative bias of the liquidation
        # price a venue reports (0.01 reports it 1 % above its rule's figure), and the ADL rank a
        # venue reports for a leg (venue, account, symbol, side), on the venue's own scale.
        self.liquidation_report_bias: dict[str, float] = {}
        self.adl_ranks: dict[tuple[str, str, str, PositionSide], int] = {}
        self.terms = SimTerms(catalog)
        self._rules: dict[str, VenueRule | None] = {}
        self._by_key: dict[tuple[str, str], SimAccount] = {}
        self._trade_ids = 1000

    def now_ms(self) -> int:
        """The simulator's clock, epoch ms."""
        return self.clock_ms()

    # -- accounts ---------------------------------------------------------------------------

    def account(self, venue: str, account: str) -> SimAccount:
        """The account (created on first use) with deterministic credentials."""
        key = (venue, account)
        existing = self.accounts.get(key)
        if existing is not None:
            return existing
        return self.add_account(SimAccount(
            venue=venue,
            account=account,
            api_key=f"sim-{venue}-{account}-key",
            api_secret=f"sim-{venue}-{account}-secret",
            passphrase=f"sim-{venue}-{account}-passphrase",
        ))

    def add_account(self, account: SimAccount) -> SimAccount:
        """Know an account by the credentials it carries (a test's own keys), replacing one of the
        same name and its key; returns it."""
        previous = self.accounts.get((account.venue, account.account))
        if previous is not None:
            self._by_key.pop((previous.venue, previous.api_key), None)
        self.accounts[(account.venue, account.account)] = account
        self._by_key[(account.venue, account.api_key)] = account
        return account

    def account_for_key(self, venue: str, api_key: str) -> SimAccount | None:
        """The account an API key belongs to at a venue, or None."""
        return self._by_key.get((venue, api_key))

    # -- instruments and quotes ---------------------------------------------------------------

    def instrument(self, venue: str, symbol: str) -> Instrument | None:
        """The catalog entry of ``venue:symbol``, or None."""
        return self.catalog.get(f"{venue}:{symbol}")

    def symbols(self, venue: str) -> list[str]:
        """Every symbol of a venue that has a quote or a position, sorted."""
        found = {symbol for (v, symbol) in self.quotes if v == venue}
        found |= {symbol for (v, _, symbol, _) in self.positions if v == venue}
        return sorted(found)

    def quote(self, venue: str, symbol: str) -> Quote | None:
        """The current quote of an instrument, or None."""
        return self.quotes.get((venue, symbol))

    def set_quote(
        self,
        venue: str,
        symbol: str,
        mark: float,
        index: float | None = None,
        funding_rate: float | None = None,
    ) -> Quote:
        """Set mark (and index, funding) of an instrument; funding and index persist if omitted."""
        if not (math.isfinite(mark) and mark > 0):
            raise ValueError(f"price must be a positive number, got {mark!r}")
        previous = self.quotes.get((venue, symbol))
        if index is None:
            index = mark if previous is None else previous.index * (mark / previous.mark)
        if funding_rate is None and previous is not None:
            funding_rate = previous.funding_rate
        quote = Quote(mark, index, funding_rate, next_funding_ms(self.now_ms()))
        self.quotes[(venue, symbol)] = quote
        return quote

    def asset_price(self, asset: str) -> float | None:
        """A USD price of an asset: 1 for stablecoins, else the first quote of an instrument on it."""
        if asset in STABLE_ASSETS:
            return 1.0
        best: float | None = None
        for (venue, symbol), quote in sorted(self.quotes.items()):
            instrument = self.instrument(venue, symbol)
            base = instrument.base if instrument is not None else _base_guess(symbol)
            if base == asset:
                if instrument is not None and instrument.kind == "spot":
                    return quote.mark
                best = best if best is not None else quote.index
        return best

    # -- positions and balances ----------------------------------------------------------------

    def legs_of(self, venue: str, account: str) -> dict[tuple[str, PositionSide], SimPosition]:
        """Position legs (including closed ones kept at 0) of one account, by (symbol, side)."""
        return {
            (symbol, side): position
            for (v, a, symbol, side), position in sorted(self.positions.items())
            if v == venue and a == account
        }

    def position(
        self, venue: str, account: str, symbol: str, side: PositionSide = "one_way"
    ) -> SimPosition | None:
        """One leg, or None if it was never set or traded."""
        return self.positions.get((venue, account, symbol, side))

    def hedge_mode(self, venue: str, account: str) -> bool:
        """True if the account holds hedge-mode legs at the venue (Binance dualSidePosition, OKX
        long_short_mode)."""
        return any(side != "one_way" for (symbol, side) in self.legs_of(venue, account))

    def balances_of(self, venue: str, account: str) -> dict[str, float]:
        """Balances of one account, by asset."""
        return {
            asset: quantity
            for (v, a, asset), quantity in sorted(self.balances.items())
            if v == venue and a == account
        }

    def set_position(
        self,
        venue: str,
        account: str,
        symbol: str,
        quantity: float,
        entry_price: float,
        leverage: float = 5.0,
        margin_mode: str = "cross",
        position_side: PositionSide = "one_way",
        isolated_margin: float | None = None,
    ) -> SimPosition:
        """Overwrite one leg (an isolated leg's wallet defaults to its value at entry / leverage)."""
        if margin_mode not in ("cross", "isolated"):
            raise ValueError("margin_mode must be 'cross' or 'isolated'")
        _check_side(position_side, quantity)
        if not leverage > 0:
            raise ValueError("leverage must be > 0")
        self._check_mode(venue, account, symbol, position_side, quantity)
        self.account(venue, account)
        quantity = round(quantity, QUANTITY_DECIMALS)
        entry = entry_price if quantity != 0 else 0.0
        wallet = 0.0
        if margin_mode == "isolated" and quantity != 0:
            default = self.margin_of(venue, symbol, quantity, entry, leverage)
            wallet = default if isolated_margin is None else isolated_margin
        position = SimPosition(
            quantity, entry, leverage, margin_mode, self.now_ms(), 0.0, position_side, wallet
        )
        self.positions[(venue, account, symbol, position_side)] = position
        return position

    def set_balance(self, venue: str, account: str, asset: str, quantity: float) -> float:
        """Overwrite one balance; returns the change."""
        self.account(venue, account)
        previous = self.balances.get((venue, account, asset), 0.0)
        self.balances[(venue, account, asset)] = quantity
        return quantity - previous

    def set_multi_asset_margin(self, venue: str, account: str, enabled: bool) -> bool:
        """Switch an account's asset mode (Binance Multi-Assets Mode); returns True if it changed."""
        self.account(venue, account)
        previous = self.multi_asset_margin.get((venue, account), False)
        self.multi_asset_margin[(venue, account)] = enabled
        return previous != enabled

    def apply_fill(
        self,
        venue: str,
        account: str,
        symbol: str,
        quantity: float,
        price: float,
        fee: float = 0.0,
        position_side: PositionSide = "one_way",
        forced: str | None = None,
    ) -> tuple[SimFill, tuple[str, ...]]:
        """Apply one execution (see module docstring); returns the fill and the changed assets.
        ``forced`` ("liquidation", "adl") marks a fill the venue made itself."""
        if forced not in (None, "liquidation", "adl"):
            raise ValueError("forced must be None, 'liquidation' or 'adl'")
        if quantity == 0 or not (math.isfinite(price) and price > 0):
            raise ValueError("a fill needs a non-zero quantity and a positive price")
        if position_side not in POSITION_SIDES:
            raise ValueError(f"position_side must be one of {POSITION_SIDES}")
        instrument = self.instrument(venue, symbol)
        if instrument is not None and instrument.kind == "spot":
            return self._apply_spot_fill(venue, account, instrument, quantity, price, fee)
        key = (venue, account, symbol, position_side)
        previous = self.positions.get(key, SimPosition(0.0, 0.0, position_side=position_side))
        old_quantity, entry = previous.quantity, previous.entry_price
        new_quantity = round(old_quantity + quantity, QUANTITY_DECIMALS)
        _check_side(position_side, new_quantity)
        self._check_mode(venue, account, symbol, position_side, new_quantity)
        self.account(venue, account)
        self._trade_ids += 1
        now = self.now_ms()
        realised = 0.0
        wallet = previous.isolated_margin
        leverage = previous.leverage
        if old_quantity == 0 or math.copysign(1, old_quantity) == math.copysign(1, quantity):
            entry = (abs(old_quantity) * entry + abs(quantity) * price) / abs(new_quantity)
            wallet += self.margin_of(venue, symbol, quantity, price, leverage)
        else:
            closed = min(abs(quantity), abs(old_quantity))
            direction = math.copysign(1, old_quantity)
            if instrument is not None and instrument.kind == "inverse":
                realised = closed * instrument.contract_value * (1 / entry - 1 / price) * direction
            else:
                multiplier = instrument.contract_size if instrument is not None else 1.0
                realised = closed * multiplier * (price - entry) * direction
            if new_quantity == 0:
                entry = 0.0
                wallet = 0.0
            elif math.copysign(1, new_quantity) != direction:
                entry = price
                wallet = self.margin_of(venue, symbol, new_quantity, price, leverage)
            else:
                wallet *= abs(new_quantity) / abs(old_quantity)
        if previous.margin_mode != "isolated":
            wallet = 0.0
        settle = self.settle_asset(venue, symbol)
        self._add_balance(venue, account, settle, realised - fee)
        self.positions[key] = SimPosition(
            new_quantity,
            entry,
            leverage,
            previous.margin_mode,
            now,
            previous.realised_pnl + realised,
            position_side,
            wallet,
        )
        fill = SimFill(self._trade_ids, symbol, quantity, price, fee, settle, realised, now, position_side,
                       forced)
        return fill, (settle,)

    def _apply_spot_fill(
        self, venue: str, account: str, instrument: Instrument, quantity: float, price: float, fee: float
    ) -> tuple[SimFill, tuple[str, ...]]:
        """A spot fill moves base (+q) and quote (-q * p - fee)."""
        self.account(venue, account)
        self._trade_ids += 1
        base, quote_asset = instrument.base, instrument.quote
        self._add_balance(venue, account, base, quantity)
        self._add_balance(venue, account, quote_asset, -quantity * price - fee)
        fill = SimFill(
            self._trade_ids, instrument.symbol, quantity, price, fee, quote_asset, 0.0, self.now_ms()
        )
        return fill, (base, quote_asset)

    def margin_of(self, venue: str, symbol: str, quantity: float, price: float, leverage: float) -> float:
        """Initial margin of ``quantity`` at ``price``: value / leverage in the settlement currency."""
        terms = self.contract_terms(venue, symbol)
        if terms is None or quantity == 0:
            return 0.0
        return terms.value(quantity, price) / leverage

    def _check_mode(self, venue: str, account: str, symbol: str, side: PositionSide, quantity: float) -> None:
        """A symbol is held one-way or as hedge legs, never both at once."""
        if quantity == 0:
            return
        for (v, a, s, other_side), position in self.positions.items():
            if (v, a, s) != (venue, account, symbol) or position.quantity == 0:
                continue
            if (side == "one_way") != (other_side == "one_way"):
                raise ValueError(
                    f"{venue}:{symbol} of {account} holds a {other_side} leg; one-way and hedge legs "
                    "cannot be open at once"
                )

    def settle_asset(self, venue: str, symbol: str) -> str:
        """The asset a contract settles (and pays fees) in."""
        instrument = self.instrument(venue, symbol)
        if instrument is None:
            return "USDT"
        if instrument.kind == "inverse":
            return instrument.base
        return instrument.quote if instrument.quote != "USD" else "USDT"

    def contract_multiplier(self, venue: str, symbol: str) -> float:
        """Base units per contract (1 when the catalog does not know the instrument)."""
        instrument = self.instrument(venue, symbol)
        if instrument is None or instrument.kind == "spot":
            return 1.0
        return instrument.contract_size if instrument.kind == "linear" else 1.0

    def unrealised_pnl(self, venue: str, symbol: str, position: SimPosition) -> float:
        """Mark-to-market PnL of a position in its settlement asset (0 without a quote)."""
        quote = self.quote(venue, symbol)
        if quote is None or position.quantity == 0:
            return 0.0
        instrument = self.instrument(venue, symbol)
        if instrument is not None and instrument.kind == "inverse":
            return position.quantity * instrument.contract_value * (1 / position.entry_price - 1 / quote.mark)
        multiplier = self.contract_multiplier(venue, symbol)
        return position.quantity * multiplier * (quote.mark - position.entry_price)

    def contract_terms(self, venue: str, symbol: str) -> ContractTerms | None:
        """How a derivative turns quantity into value (None for spot)."""
        instrument = self.instrument(venue, symbol)
        settle = self.settle_asset(venue, symbol)
        if instrument is None:
            return ContractTerms("linear", 1.0, settle)
        if instrument.kind == "spot":
            return None
        if instrument.kind == "inverse":
            return ContractTerms("inverse", instrument.contract_value, settle, instrument.taker_fee)
        return ContractTerms("linear", instrument.contract_size, settle, instrument.taker_fee)

    def cross_wallet(self, venue: str, account: str, asset: str) -> float:
        """The asset's wallet balance minus the isolated wallets of its open legs (Binance ``cw``)."""
        wallet = self.balances.get((venue, account, asset), 0.0)
        isolated = sum(
            position.isolated_margin
            for (symbol, _), position in self.legs_of(venue, account).items()
            if position.margin_mode == "isolated"
            and position.quantity != 0
            and self.settle_asset(venue, symbol) == asset
        )
        return wallet - isolated

    def rule(self, venue: str) -> VenueRule | None:
        """The venue's margin rule set (None for spot venues)."""
        if venue not in self._rules:
            self._rules[venue] = venue_rule(venue, self.terms)
        return self._rules[venue]

    def margin_book(self, venue: str, account: str) -> AccountBook:
        """Everything the margin rules need about one account: legs, marks, wallets, USD prices."""
        legs = []
        marks: dict[str, float] = {}
        for (symbol, side), position in self.legs_of(venue, account).items():
            terms = self.contract_terms(venue, symbol)
            if terms is None:
                continue
            legs.append(
                LegState(
                    symbol,
                    side,
                    position.quantity,
                    position.entry_price,
                    position.leverage,
                    position.margin_mode,
                    position.isolated_margin,
                    terms,
                )
            )
            quote = self.quote(venue, symbol)
            if quote is not None:
                marks[symbol] = quote.mark
        wallets = self.balances_of(venue, account)
        prices = {asset: price for asset in wallets if (price := self.asset_price(asset)) is not None}
        return AccountBook(
            venue,
            account,
            tuple(legs),
            marks,
            wallets,
            prices,
            self.multi_asset_margin.get((venue, account), False),
        )

    def leg_figures(
        self, venue: str, account: str, symbol: str, side: PositionSide = "one_way"
    ) -> SimLegFigures | None:
        """The leg's margin figures by the venue's rule at the current mark (None for spot venues)."""
        rule = self.rule(venue)
        if rule is None:
            return None
        figures = rule.figures(self.margin_book(venue, account), symbol, side)
        bias = self.liquidation_report_bias.get(venue, 0.0)
        if bias and figures.liquidation_price is not None:
            figures = replace(figures, liquidation_price=figures.liquidation_price * (1.0 + bias))
        return figures

    def adl_rank(self, venue: str, account: str, symbol: str, side: PositionSide, default: int) -> int:
        """The ADL rank the venue reports for a leg: the scenario's, else ``default``."""
        return self.adl_ranks.get((venue, account, symbol, side), default)

    def _add_balance(self, venue: str, account: str, asset: str, change: float) -> None:
        key = (venue, account, asset)
        self.balances[key] = round(self.balances.get(key, 0.0) + change, QUANTITY_DECIMALS)


def _check_side(side: str, quantity: float) -> None:
    """A long leg holds quantity >= 0, a short leg <= 0."""
    if side not in POSITION_SIDES:
        raise ValueError(f"position_side must be one of {POSITION_SIDES}, got {side!r}")
    if (side == "long" and quantity < 0) or (side == "short" and quantity > 0):
        raise ValueError(f"a {side} leg cannot hold quantity {quantity}")


def _base_guess(symbol: str) -> str:
    """The base asset of a symbol the catalog does not know (``BTC`` of BTCUSDT, BTC-USDT-SWAP)."""
    head = symbol.split("-", maxsplit=1)[0].split("_", maxsplit=1)[0]
    for quote_asset in ("USDT", "USDC", "USD"):
        if head.endswith(quote_asset) and len(head) > len(quote_asset):
            return head[: -len(quote_asset)]
    return head
