"""Property tests of the risk formulas: hedge invariants and scalar/array agreement."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from monitor.domain import formulas as f

FAST = settings(max_examples=60, deadline=None)

spot_quantities = st.floats(min_value=0.001, max_value=1_000.0)
prices = st.floats(min_value=100.0, max_value=200_000.0)
contract_sizes = st.sampled_from([0.001, 0.01, 0.1, 1.0])
lot_steps = st.sampled_from([1.0, 0.1, 0.01, 0.001])
# a shock factor P'/P between -60 % and +60 %
shock_factors = st.floats(min_value=0.4, max_value=1.6)
leverages = st.floats(min_value=1.0, max_value=50.0)


@FAST
@given(spot=spot_quantities, price=prices, contract_size=contract_sizes, lot_step=lot_steps)
def test_fully_hedged_linear_book_is_within_half_a_lot(
    spot: float, price: float, contract_size: float, lot_step: float
) -> None:
    """Rounding the target contracts to the lot leaves at most half a lot of net delta."""
    contracts = f.contracts_for_target_linear(1.0, spot * price, contract_size, price)
    rounded = f.round_to_lot(contracts, lot_step)
    net_delta = spot + f.linear_delta(-rounded, contract_size)
    # half a lot in base units, plus float noise relative to the position
    assert abs(net_delta) <= 0.5 * lot_step * contract_size + 1e-9 * spot


@FAST
@given(spot=spot_quantities, price=prices, factor=shock_factors, leverage=leverages)
def test_linear_hedge_offsets_spot_short_of_liquidation(
    spot: float, price: float, factor: float, leverage: float
) -> None:
    """Spot PnL + short linear hedge PnL is 0 for any shock that does not liquidate the hedge."""
    wallet = spot * price / leverage
    liquidation = f.liquidation_price_linear(-1.0, spot, price, wallet, 0.004, 0.0)
    shocked = price * factor
    assume(not f.is_liquidated_at(-1.0, shocked, liquidation))
    spot_pnl = f.linear_pnl(spot, 1.0, price, shocked)
    hedge_pnl = f.stress_leg_pnl_linear(-spot, 1.0, price, shocked, liquidation, wallet)
    assert spot_pnl + hedge_pnl == pytest.approx(0.0, abs=1e-9 * spot * price)


@FAST
@given(spot=spot_quantities, price=prices, factor=shock_factors, leverage=leverages)
def test_liquidated_linear_hedge_loses_exactly_its_margin(
    spot: float, price: float, factor: float, leverage: float
) -> None:
    """Beyond its liquidation price the hedge leg loses its margin balance and nothing more."""
    wallet = spot * price / leverage
    liquidation = f.liquidation_price_linear(-1.0, spot, price, wallet, 0.004, 0.0)
    shocked = price * factor
    assume(f.is_liquidated_at(-1.0, shocked, liquidation))
    hedge_pnl = f.stress_leg_pnl_linear(-spot, 1.0, price, shocked, liquidation, wallet)
    assert hedge_pnl == -wallet


@FAST
@given(spot=spot_quantities, price=prices, factor=shock_factors, leverage=leverages)
def test_inverse_hedge_offsets_spot_short_of_liquidation(
    spot: float, price: float, factor: float, leverage: float
) -> None:
    """Spot PnL + short inverse hedge PnL in USD is 0 for any shock short of liquidation."""
    contract_value = 100.0
    exposure_usd = spot * price
    contracts = -exposure_usd / contract_value
    wallet_coin = spot / leverage
    liquidation = f.liquidation_price_inverse(-1.0, exposure_usd, price, wallet_coin, 0.004, 0.0)
    shocked = price * factor
    assume(not f.is_liquidated_at(-1.0, shocked, liquidation))
    spot_pnl = f.linear_pnl(spot, 1.0, price, shocked)
    hedge_pnl = f.stress_leg_pnl_inverse(
        contracts, contract_value, price, price, shocked, liquidation, wallet_coin * price
    )
    assert spot_pnl + hedge_pnl == pytest.approx(0.0, abs=1e-9 * exposure_usd)


@FAST
@given(
    side=st.sampled_from([-1.0, 1.0]),
    quantity=st.floats(min_value=0.01, max_value=100.0),
    entry=prices,
    leverage=st.floats(min_value=1.5, max_value=100.0),
)
def test_tiered_liquidation_price_has_margin_ratio_one(
    side: float, quantity: float, entry: float, leverage: float
) -> None:
    """Wherever the tiered solver finds a price, margin ratio there is exactly 1 in its tier."""
    caps = (50_000.0, 500_000.0, 8_000_000.0, 1e12)
    mmrs = (0.004, 0.005, 0.01, 0.025)
    cums = (0.0, 50.0, 2_550.0, 122_550.0)
    wallet = quantity * entry / leverage
    price = f.liquidation_price_linear_tiered(side, quantity, entry, wallet, caps, mmrs, cums)
    assume(not math.isnan(price))
    maintenance = f.maintenance_margin_for_tiers(quantity * price, caps, mmrs, cums)
    balance = wallet + f.linear_pnl(side * quantity, 1.0, entry, price)
    assert balance == pytest.approx(maintenance, abs=1e-6 * quantity * entry)


# --- scalar and array paths agree ------------------------------------------------------------

signed = st.floats(min_value=-1e4, max_value=1e4)
positive = st.floats(min_value=1e-3, max_value=1e6)
price = st.floats(min_value=1.0, max_value=2e5)
maybe_zero_price = st.one_of(price, st.just(0.0))
maybe_nan_price = st.one_of(price, st.just(math.nan))
signed_or_zero = st.one_of(signed, st.just(0.0))
rate = st.floats(min_value=-0.01, max_value=0.01)
mmr = st.floats(min_value=0.0, max_value=0.2)
cum = st.floats(min_value=0.0, max_value=1e4)
side = st.sampled_from([-1.0, 0.0, 1.0])
lot = st.sampled_from([1.0, 0.1, 0.01, 0.001, 5.0, 0.0])
days = st.floats(min_value=-5.0, max_value=400.0)
ratio = st.one_of(st.floats(min_value=0.0, max_value=2.0), st.just(math.nan))
epoch_ms = st.floats(min_value=0.0, max_value=2e12)
fraction = st.floats(min_value=0.0, max_value=0.05)

_CAPS = (50_000.0, 500_000.0, 8_000_000.0)
_MMRS = (0.004, 0.005, 0.01)
_CUMS = (0.0, 50.0, 2_550.0)


def _maintenance_for_tiers(notional: Any) -> Any:
    return f.maintenance_margin_for_tiers(notional, _CAPS, _MMRS, _CUMS)


def _tier_index(notional: Any) -> Any:
    return f.tier_index(notional, _CAPS)


VECTORISED: list[tuple[str, Callable[..., Any], tuple[st.SearchStrategy[float], ...]]] = [
    ("linear_delta", f.linear_delta, (signed, positive)),
    ("inverse_delta", f.inverse_delta, (signed, positive, maybe_zero_price)),
    ("hedge_ratio", f.hedge_ratio, (signed_or_zero, signed)),
    ("contracts_for_target_linear", f.contracts_for_target_linear, (ratio, positive, positive, price)),
    ("contracts_for_target_inverse", f.contracts_for_target_inverse, (ratio, positive, positive)),
    ("round_to_lot", f.round_to_lot, (signed, lot)),
    ("linear_pnl", f.linear_pnl, (signed, positive, price, price)),
    ("inverse_pnl_coin", f.inverse_pnl_coin, (signed, positive, maybe_zero_price, price)),
    ("inverse_pnl_usd", f.inverse_pnl_usd, (signed, positive, price, price)),
    ("linear_notional", f.linear_notional, (signed, positive, price)),
    ("inverse_notional", f.inverse_notional, (signed, positive)),
    ("tier_index", _tier_index, (positive,)),
    ("tiered_maintenance_margin", f.tiered_maintenance_margin, (positive, mmr, cum)),
    ("maintenance_margin_for_tiers", _maintenance_for_tiers, (positive,)),
    ("margin_ratio", f.margin_ratio, (positive, signed_or_zero)),
    ("margin_buffer", f.margin_buffer, (signed, positive)),
    ("margin_buffer_fraction", f.margin_buffer_fraction, (signed_or_zero, positive)),
    ("initial_margin", f.initial_margin, (positive, st.one_of(positive, st.just(0.0)))),
    (
        "liquidation_price_linear",
        f.liquidation_price_linear,
        (side, positive, price, positive, mmr, cum, cum, signed),
    ),
    (
        "liquidation_price_inverse",
        f.liquidation_price_inverse,
        (side, positive, price, st.floats(min_value=0.0, max_value=100.0), mmr, mmr),
    ),
    ("liquidation_distance", f.liquidation_distance, (maybe_nan_price, maybe_zero_price)),
    ("is_liquidated_at", f.is_liquidated_at, (side, price, maybe_nan_price)),
    ("funding_payment_linear", f.funding_payment_linear, (signed, positive, price, rate)),
    ("funding_payment_inverse", f.funding_payment_inverse, (signed, positive, rate)),
    ("fee", f.fee, (positive, rate)),
    ("basis", f.basis, (price, maybe_zero_price)),
    ("basis_bps", f.basis_bps, (price, price)),
    ("annualized_basis", f.annualized_basis, (price, price, days)),
    ("dollar_offset", f.dollar_offset, (signed, signed, positive, fraction)),
    ("effective_dollar_offset", f.effective_dollar_offset, (ratio,)),
    (
        "stress_leg_pnl_linear",
        f.stress_leg_pnl_linear,
        (signed_or_zero, positive, price, price, maybe_nan_price, positive),
    ),
    (
        "stress_leg_pnl_inverse",
        f.stress_leg_pnl_inverse,
        (signed_or_zero, positive, price, price, price, maybe_nan_price, positive),
    ),
    ("time_left_seconds", f.time_left_seconds, (epoch_ms, epoch_ms)),
    ("opportunity_cost_usd", f.opportunity_cost_usd, (signed,)),
]


@pytest.mark.parametrize(
    ("function", "strategies"),
    [pytest.param(function, strategies, id=name) for name, function, strategies in VECTORISED],
)
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_array_and_scalar_paths_agree(
    function: Callable[..., Any],
    strategies: tuple[st.SearchStrategy[float], ...],
    data: st.DataObject,
) -> None:
    """Calling with arrays gives, element by element, what calling with floats gives."""
    size = data.draw(st.integers(min_value=1, max_value=6), label="size")
    columns = [
        data.draw(st.lists(strategy, min_size=size, max_size=size)) for strategy in strategies
    ]
    vectorised = np.asarray(function(*(np.array(column) for column in columns)))
    scalars = [function(*row) for row in zip(*columns, strict=True)]
    for value in scalars:
        assert not isinstance(value, np.ndarray)
        assert type(value) in {float, bool, int}
    assert vectorised.shape == (size,)
    np.testing.assert_allclose(
        vectorised.astype(np.float64), np.array(scalars, dtype=np.float64),
        rtol=1e-12, atol=0.0, equal_nan=True,
    )


def test_every_vectorised_function_is_in_the_agreement_table() -> None:
    """The agreement test covers every public element-wise formula (none silently skipped)."""
    scalar_only = {
        "deribit_funding_rate",
        "deribit_funding_received",
        "liquidation_price_linear_tiered",
        "min_variance_ratio",
        "realised_volatility",
        "regression_slope_r2",
        "variance_reduction",
        "relative_divergence",
        "account_maintenance_ratio",
        "adl_top_bucket",
        # grids over a list of shocked prices: equal to their per-shock formulas (the test below)
        "stress_grid_linear",
        "stress_grid_inverse",
        "liquidated_in_grid",
    }
    public = {
        name for name, value in vars(f).items()
        if callable(value) and not name.startswith("_") and getattr(value, "__module__", "")
        == f.__name__
    }
    covered = {name for name, _, _ in VECTORISED}
    assert public - scalar_only == covered


@FAST
@given(
    quantity=st.floats(min_value=-1_000.0, max_value=1_000.0).filter(lambda q: abs(q) > 1e-6),
    entry=prices,
    price=prices,
    factors=st.lists(shock_factors, min_size=1, max_size=9),
    liquidation=st.one_of(st.just(math.nan), prices),
    margin=st.floats(min_value=0.0, max_value=1e7),
)
def test_a_stress_grid_equals_its_shocks_priced_one_by_one(
    quantity: float, entry: float, price: float, factors: list[float], liquidation: float,
    margin: float,
) -> None:
    """The one-call grids give, float for float, the per-shock formulas' values and flags."""
    shocked = [price * factor for factor in factors]
    assert f.stress_grid_linear(quantity, 0.01, price, shocked, liquidation, margin) == [
        f.stress_leg_pnl_linear(quantity, 0.01, price, s, liquidation, margin) for s in shocked]
    assert f.stress_grid_inverse(quantity, 100.0, entry, price, shocked, liquidation, margin) == [
        f.stress_leg_pnl_inverse(quantity, 100.0, entry, price, s, liquidation, margin) for s in shocked]
    side = 1.0 if quantity > 0 else -1.0
    assert f.liquidated_in_grid(side, shocked, liquidation) == [
        f.is_liquidated_at(side, s, liquidation) for s in shocked]
