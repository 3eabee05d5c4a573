"""Simulator world: average-cost fill accounting, balances, quotes and credentials."""

from __future__ import annotations

import random

import pytest

from monitor.domain.instruments import default_catalog
from monitor.sim.world import SimAccount, SimWorld, next_funding_ms


def _world() -> SimWorld:
    return SimWorld(default_catalog(), random.Random(1), lambda: 1_700_000_000_000)


def test_adding_to_a_short_averages_the_entry() -> None:
    """Adding to a position moves the entry to the size-weighted average."""
    world = _world()
    world.set_position("binance", "a", "BTCUSDT", -1.0, 60000.0)
    world.apply_fill("binance", "a", "BTCUSDT", -0.5, 57000.0)
    position = world.position("binance", "a", "BTCUSDT")
    assert position is not None
    # (1 * 60000 + 0.5 * 57000) / 1.5 = 59000
    assert position.quantity == -1.5
    assert position.entry_price == pytest.approx(59000.0)


def test_reducing_an_okx_short_realises_pnl_in_contract_units() -> None:
    """Buying back contracts realises closed * ctVal * (p - e0) * sign and pays the fee."""
    world = _world()
    world.set_position("okx", "a", "BTC-USDT-SWAP", -150.0, 60000.0)
    world.set_balance("okx", "a", "USDT", 20000.0)
    fill, assets = world.apply_fill("okx", "a", "BTC-USDT-SWAP", 10.0, 59000.0, fee=1.5)
    # closed 10 contracts * 0.01 BTC * (59000 - 60000) * (-1) = +100 USDT
    assert fill.realised_pnl == pytest.approx(100.0)
    assert assets == ("USDT",)
    # 20000 + 100 - 1.5 = 20098.5
    assert world.balances[("okx", "a", "USDT")] == pytest.approx(20098.5)
    position = world.position("okx", "a", "BTC-USDT-SWAP")
    assert position is not None
    assert (position.quantity, position.entry_price) == (-140.0, 60000.0)


def test_flipping_through_zero_opens_the_remainder_at_the_fill_price() -> None:
    """A fill larger than the position closes it and opens the rest at the fill price."""
    world = _world()
    world.set_position("bybit", "a", "BTCUSDT", -1.0, 60000.0)
    fill, _ = world.apply_fill("bybit", "a", "BTCUSDT", 1.5, 61000.0)
    # closed 1 * 1 * (61000 - 60000) * (-1) = -1000
    assert fill.realised_pnl == pytest.approx(-1000.0)
    position = world.position("bybit", "a", "BTCUSDT")
    assert position is not None
    assert (position.quantity, position.entry_price) == (0.5, 61000.0)


def test_closing_flat_resets_the_entry() -> None:
    """A position closed to zero has entry price 0."""
    world = _world()
    world.set_position("binance", "a", "BTCUSDT", 0.3, 60000.0)
    world.apply_fill("binance", "a", "BTCUSDT", -0.3, 60000.0)
    position = world.position("binance", "a", "BTCUSDT")
    assert position is not None
    assert (position.quantity, position.entry_price) == (0.0, 0.0)


def test_inverse_fill_realises_in_the_base_coin() -> None:
    """Inverse contracts realise closed * contract_value * (1/e0 - 1/p) * sign in BTC."""
    world = _world()
    world.set_position("okx", "a", "BTC-USD-SWAP", -100.0, 50000.0)
    fill, assets = world.apply_fill("okx", "a", "BTC-USD-SWAP", 100.0, 40000.0)
    # 100 * 100 USD * (1/50000 - 1/40000) * (-1) = 10000 * 0.000005 = 0.05 BTC
    assert fill.realised_pnl == pytest.approx(0.05)
    assert assets == ("BTC",)


def test_spot_fill_moves_base_and_quote() -> None:
    """A spot buy adds the base and removes quantity * price + fee of the quote."""
    world = _world()
    world.set_balance("binance-spot", "a", "USDT", 10000.0)
    _, assets = world.apply_fill("binance-spot", "a", "BTCUSDT", 0.1, 60000.0, fee=6.0)
    assert assets == ("BTC", "USDT")
    assert world.balances[("binance-spot", "a", "BTC")] == pytest.approx(0.1)
    # 10000 - 0.1 * 60000 - 6 = 3994
    assert world.balances[("binance-spot", "a", "USDT")] == pytest.approx(3994.0)


def test_unrealised_pnl_uses_the_contract_size() -> None:
    """Unrealised PnL = quantity * contract size * (mark - entry)."""
    world = _world()
    position = world.set_position("okx", "a", "BTC-USDT-SWAP", -150.0, 60000.0)
    world.set_quote("okx", "BTC-USDT-SWAP", 54000.0)
    # -150 * 0.01 * (54000 - 60000) = +9000
    assert world.unrealised_pnl("okx", "BTC-USDT-SWAP", position) == pytest.approx(9000.0)


def test_quote_keeps_the_basis_of_the_index_and_the_funding_rate() -> None:
    """A new mark without an index scales the old index; funding persists."""
    world = _world()
    world.set_quote("okx", "BTC-USDT-SWAP", 60030.0, 60000.0, 0.0001)
    quote = world.set_quote("okx", "BTC-USDT-SWAP", 54027.0)
    # 60000 * 54027 / 60030 = 54000
    assert quote.index == pytest.approx(54000.0)
    assert quote.funding_rate == 0.0001


def test_funding_time_is_the_next_eight_hour_boundary() -> None:
    """Funding settles at 00:00, 08:00 and 16:00 UTC."""
    # 1_700_000_000_000 ms = 2023-11-14 22:13:20 UTC -> next 2023-11-15 00:00 = 1_700_006_400_000
    assert next_funding_ms(1_700_000_000_000) == 1_700_006_400_000


def test_credentials_are_deterministic_and_resolve_to_the_account() -> None:
    """An account's API key maps back to it; the secret never prints."""
    world = _world()
    credentials = world.account("okx", "main").credentials()
    assert world.account_for_key("okx", credentials.api_key.reveal()) is world.account("okx", "main")
    assert world.account_for_key("bybit", credentials.api_key.reveal()) is None
    assert "sim-okx-main-secret" not in repr(credentials)


def test_an_added_account_logs_in_with_its_own_key_and_replaces_the_old_one() -> None:
    """add_account: the account answers to the key it carries; the replaced account's key no longer."""
    world = _world()
    generated = world.account("okx", "main")
    own = SimAccount("okx", "main", "own-key", "own-secret", "own-passphrase")
    assert world.add_account(own) is own
    assert world.account("okx", "main") is own
    assert world.account_for_key("okx", "own-key") is own
    assert world.account_for_key("okx", generated.api_key) is None


def test_asset_price_prefers_spot_and_counts_stables_at_one() -> None:
    """USD value of assets: stablecoins 1, else the spot quote, else a derivative's index."""
    world = _world()
    world.set_quote("okx", "ETH-USDT-SWAP", 3003.0, 3000.0)
    assert world.asset_price("USDT") == 1.0
    assert world.asset_price("ETH") == 3000.0
    world.set_quote("binance-spot", "ETHUSDT", 2999.0)
    assert world.asset_price("ETH") == 2999.0
    assert world.asset_price("DOGE") is None
