"""Pure risk formulas of hedge-monitor: delta, PnL, margin, liquidation, funding, effectiveness.

Every function takes floats and also works element-wise on numpy float arrays (broadcasting like
numpy). Scalar inputs give a built-in ``float`` (``bool`` / ``int`` where stated); any array input
gives an array. An undefined result is NaN (the caller maps it to JSON null), never inf, except
``margin_ratio`` with a non-positive margin balance (inf = liquidated). No function raises on
numeric edge cases or emits numpy warnings; malformed tier tables raise ``ValueError``.

Notation follows ``risk-definitions.md``: ``q`` signed contract quantity (negative = short), ``cs``
contract size in base units (linear), ``cv`` contract value in quote currency (inverse), ``P`` mark
price, ``S`` spot/index price, ``EP`` entry price, ``side`` +1 long / -1 short.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import overload

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IndexArray = npt.NDArray[np.intp]
FloatOrArray = float | FloatArray
BoolOrArray = bool | BoolArray
TierValues = Sequence[float] | FloatArray

DOLLAR_OFFSET_LOW = 0.80
DOLLAR_OFFSET_HIGH = 1.25
DEFAULT_MIN_MOVE_FRACTION = 0.005
DAYS_PER_YEAR = 365.0
BASIS_POINTS = 1e4

# Contract counts are snapped to this many decimals before rounding to a lot, so float noise such
# as 149.99999999999997 or 300.00000000000006 cannot decide a half-lot tie.
_LOT_NOISE_DECIMALS = 9
# Relative tolerance when checking that a liquidation notional lies in its tier (boundary noise).
_TIER_TOLERANCE = 1e-9
# A series whose standard deviation is below this fraction of its largest magnitude is constant.
_CONSTANT_SERIES_TOLERANCE = 1e-12


# --------------------------------------------------------------------------------------------
# helpers


def _array(value: FloatOrArray) -> FloatArray:
    return np.asarray(value, dtype=np.float64)


def _result(value: FloatArray) -> FloatOrArray:
    """A 0-d result becomes a built-in float (JSON-friendly); arrays stay arrays."""
    if value.ndim == 0:
        return float(value)
    return value


def _bool_result(value: BoolArray) -> BoolOrArray:
    if value.ndim == 0:
        return bool(value)
    return value


def _scalars(*values: object) -> bool:
    """True when every value is a built-in float or int: the function may take its float path.

    A risk snapshot calls these formulas ~100 times on single numbers; numpy's fixed cost per call
    (0-d arrays, ``np.where``) is then most of the time, so the hot formulas also have a float path
    with the same operations in the same order (the agreement tests compare both paths).
    """
    for value in values:  # noqa: SIM110 -- all() over a generator costs twice as much here
        if type(value) is not float and type(value) is not int:
            return False
    return True


def _float_divide(numerator: float, denominator: float) -> float:
    """``_divide`` on floats."""
    if denominator == 0.0:
        return math.nan
    quotient = numerator / denominator
    return quotient if math.isfinite(quotient) else math.nan


def _float_divide_positive(numerator: float, denominator: float) -> float:
    """``_divide_positive`` on floats."""
    return _float_divide(numerator, denominator) if denominator > 0 else math.nan


def _float_floor_zero(value: float) -> float:
    """``np.maximum(0.0, value)`` on a float: NaN stays NaN, and -0.0 stays -0.0 as numpy keeps it."""
    if value != value:  # noqa: PLR0124 -- NaN is the one float unequal to itself
        return value
    return value if value >= 0.0 else 0.0


def _divide(numerator: FloatArray, denominator: FloatArray) -> FloatArray:
    """numerator / denominator; NaN where the denominator is 0 or the quotient is not finite."""
    if numerator.ndim == 0 and denominator.ndim == 0:
        return np.asarray(_float_divide(float(numerator), float(denominator)))
    numerator, denominator = np.broadcast_arrays(numerator, denominator)
    out = np.full(numerator.shape, np.nan)
    with np.errstate(over="ignore", invalid="ignore"):
        np.divide(numerator, denominator, out=out, where=denominator != 0)
    return np.where(np.isfinite(out), out, np.nan)


def _divide_positive(numerator: FloatArray, denominator: FloatArray) -> FloatArray:
    """numerator / denominator; NaN unless the denominator is > 0 (prices, sizes, leverage)."""
    if numerator.ndim == 0 and denominator.ndim == 0:
        return _divide(numerator, denominator) if float(denominator) > 0 else np.asarray(math.nan)
    return np.where(denominator > 0, _divide(numerator, denominator), np.nan)


def _side(side: FloatArray) -> FloatArray:
    """+1 / -1 from any signed value; NaN for 0 or NaN (no side, no figure)."""
    sign = np.sign(side)
    return np.where(sign != 0, sign, np.nan)


def _tier_arrays(
    caps: TierValues, mmrs: TierValues, cums: TierValues
) -> tuple[FloatArray, FloatArray, FloatArray]:
    caps_array = np.asarray(caps, dtype=np.float64)
    mmrs_array = np.asarray(mmrs, dtype=np.float64)
    cums_array = np.asarray(cums, dtype=np.float64)
    if caps_array.ndim != 1 or caps_array.size == 0:
        raise ValueError("tier caps must be a non-empty 1-D sequence")
    if mmrs_array.shape != caps_array.shape or cums_array.shape != caps_array.shape:
        raise ValueError(
            f"tier caps, mmrs and cums must have the same length, got "
            f"{caps_array.size}, {mmrs_array.size}, {cums_array.size}"
        )
    if np.any(np.diff(caps_array) <= 0):
        raise ValueError("tier caps must increase strictly")
    return caps_array, mmrs_array, cums_array


def _sample_pair(first: TierValues, second: TierValues) -> tuple[FloatArray, FloatArray]:
    first_array = np.asarray(first, dtype=np.float64)
    second_array = np.asarray(second, dtype=np.float64)
    if first_array.ndim != 1 or second_array.ndim != 1:
        raise ValueError("sample series must be 1-D")
    if first_array.shape != second_array.shape:
        raise ValueError(
            f"sample series must have the same length, got {first_array.size} and "
            f"{second_array.size}"
        )
    return first_array, second_array


def _is_constant(values: FloatArray, variance: float) -> bool:
    """True when the sample variance is zero up to float noise relative to the values' size."""
    scale = float(np.max(np.abs(values))) if values.size else 0.0
    return variance <= (_CONSTANT_SERIES_TOLERANCE * scale) ** 2


def _sample_covariance(first: FloatArray, second: FloatArray) -> float:
    """Sample covariance with ddof = 1 (the same ddof as ``np.var(ddof=1)``)."""
    deviations = (first - first.mean()) * (second - second.mean())
    return float(deviations.sum() / (first.size - 1))


def _float_liquidated(side: float, shocked_price: float, liquidation_price: float) -> bool:
    """``_liquidated`` on floats (NaN compares False: never liquidated)."""
    return (side > 0 and shocked_price <= liquidation_price) or (
        side < 0 and shocked_price >= liquidation_price)


def _liquidated(
    side: FloatArray, shocked_price: FloatArray, liquidation_price: FloatArray
) -> BoolArray:
    long_hit = (side > 0) & (shocked_price <= liquidation_price)
    short_hit = (side < 0) & (shocked_price >= liquidation_price)
    return np.asarray(long_hit | short_hit, dtype=np.bool_)


# --------------------------------------------------------------------------------------------
# delta and hedge ratio


@overload
def linear_delta(quantity: float, contract_size: float) -> float: ...
@overload
def linear_delta(quantity: FloatOrArray, contract_size: FloatOrArray) -> FloatOrArray: ...
def linear_delta(quantity: FloatOrArray, contract_size: FloatOrArray) -> FloatOrArray:
    """Base-unit exposure of a linear contract: ``q * cs``.

    Source: OKX v5 "Get instruments" (``ctVal`` in base currency); Binance USDⓈ-M contract specs.
    """
    if _scalars(quantity, contract_size):
        return float(quantity) * float(contract_size)
    return _result(_array(quantity) * _array(contract_size))


@overload
def inverse_delta(quantity: float, contract_value: float, entry_price: float) -> float: ...
@overload
def inverse_delta(
    quantity: FloatOrArray, contract_value: FloatOrArray, entry_price: FloatOrArray
) -> FloatOrArray: ...
def inverse_delta(
    quantity: FloatOrArray, contract_value: FloatOrArray, entry_price: FloatOrArray
) -> FloatOrArray:
    """Base-unit exposure of an inverse position, its accrued coin PnL included: ``q * cv / EP``.

    The contracts' own coin exposure is ``q * cv / P``; the coin PnL accrued since entry,
    ``q * cv * (1/EP - 1/P)``, is held in the coin too, and the sum is ``q * cv / EP``: the
    position's USD value ``q * cv * (P/EP - 1)`` is linear in P with that slope (NaN when EP <= 0).
    Check: short 900 x 100 USD from 60000 -> -90000 / 60000 = -1.5 BTC at any mark.
    Source: risk-definitions.md "Delta" (inverse); OKX v5 "Get instruments" (inverse ``ctVal`` in
    USD); Binance COIN-M "Unrealized PnL = size * multiplier * direction * (1/entry - 1/mark)".
    """
    if _scalars(quantity, contract_value, entry_price):
        return _float_divide_positive(float(quantity) * float(contract_value), float(entry_price))
    return _result(
        _divide_positive(_array(quantity) * _array(contract_value), _array(entry_price)))


@overload
def hedge_ratio(spot_delta: float, futures_delta: float) -> float: ...
@overload
def hedge_ratio(spot_delta: FloatOrArray, futures_delta: FloatOrArray) -> FloatOrArray: ...
def hedge_ratio(spot_delta: FloatOrArray, futures_delta: FloatOrArray) -> FloatOrArray:
    """Hedge ratio of one asset: ``-futures_delta / spot_delta`` (NaN when spot delta is 0).

    Source: Hull, Options, Futures and Other Derivatives, ch. 3 (hedge ratio).
    """
    if _scalars(spot_delta, futures_delta):
        return _float_divide(-float(futures_delta), float(spot_delta))
    return _result(_divide(-_array(futures_delta), _array(spot_delta)))


@overload
def contracts_for_target_linear(
    target_ratio: float, exposure_usd: float, contract_size: float, price: float
) -> float: ...
@overload
def contracts_for_target_linear(
    target_ratio: FloatOrArray,
    exposure_usd: FloatOrArray,
    contract_size: FloatOrArray,
    price: FloatOrArray,
) -> FloatOrArray: ...
def contracts_for_target_linear(
    target_ratio: FloatOrArray,
    exposure_usd: FloatOrArray,
    contract_size: FloatOrArray,
    price: FloatOrArray,
) -> FloatOrArray:
    """Linear contracts for a target ratio: ``N = h * E / (cs * P)`` (NaN when cs * P <= 0).

    Source: Hull, Options, Futures and Other Derivatives, ch. 3 (optimal number of contracts).
    """
    numerator = _array(target_ratio) * _array(exposure_usd)
    return _result(_divide_positive(numerator, _array(contract_size) * _array(price)))


@overload
def contracts_for_target_inverse(
    target_ratio: float, exposure_usd: float, contract_value: float
) -> float: ...
@overload
def contracts_for_target_inverse(
    target_ratio: FloatOrArray, exposure_usd: FloatOrArray, contract_value: FloatOrArray
) -> FloatOrArray: ...
def contracts_for_target_inverse(
    target_ratio: FloatOrArray, exposure_usd: FloatOrArray, contract_value: FloatOrArray
) -> FloatOrArray:
    """Inverse contracts for a target ratio: ``N = h * E / cv`` (NaN when cv <= 0).

    Source: Hull, Options, Futures and Other Derivatives, ch. 3; OKX v5 inverse ``ctVal`` (USD).
    """
    numerator = _array(target_ratio) * _array(exposure_usd)
    return _result(_divide_positive(numerator, _array(contract_value)))


@overload
def round_to_lot(contracts: float, lot_step: float) -> float: ...
@overload
def round_to_lot(contracts: FloatOrArray, lot_step: FloatOrArray) -> FloatOrArray: ...
def round_to_lot(contracts: FloatOrArray, lot_step: FloatOrArray) -> FloatOrArray:
    """Nearest multiple of the lot step, half away from zero: ``sign(n) * floor(|n| + 0.5) * lot``.

    ``n = contracts / lot_step`` is first snapped to 9 decimals so float noise cannot decide a tie
    (149.99999999 -> 150 lots; 0.1 + 0.2 with lot 0.001 -> 0.3). NaN when lot_step <= 0.
    Decimal lot steps (0.1, 0.001, ...) divide by 1 / lot so the result is the nearest double to the
    decimal multiple. Source: Binance ``exchangeInfo`` LOT_SIZE ``stepSize``; OKX ``lotSz``.
    """
    if isinstance(contracts, (float, int)) and isinstance(lot_step, (float, int)):
        return _round_to_lot_scalar(float(contracts), float(lot_step))
    lot = _array(lot_step)
    units = np.round(_divide_positive(_array(contracts), lot), _LOT_NOISE_DECIMALS)
    whole_units = np.sign(units) * np.floor(np.abs(units) + 0.5)
    lots_per_unit = np.round(_divide_positive(np.ones_like(lot), lot))
    decimal_lot = (lot < 1) & (np.abs(lots_per_unit * lot - 1.0) <= 1e-12)
    by_division = _divide(whole_units, lots_per_unit)
    return _result(np.where(decimal_lot, by_division, whole_units * lot))


def _round_to_lot_scalar(contracts: float, lot: float) -> float:
    """``round_to_lot`` on floats, step for step as the array path (``np.round`` = rint(x * 10^d) / 10^d)."""
    if not lot > 0:
        return math.nan
    quotient = contracts / lot
    if not math.isfinite(quotient):
        return math.nan
    scale = 10.0**_LOT_NOISE_DECIMALS
    scaled = quotient * scale
    # From 2^52 on a float is whole, so rint is the identity (and round() would fail on inf).
    units = (round(scaled) if abs(scaled) < 2.0**52 else scaled) / scale
    if math.isfinite(units):
        whole_units = float(((units > 0) - (units < 0)) * math.floor(abs(units) + 0.5))
    else:
        whole_units = units
    inverse = 1.0 / lot
    if not math.isfinite(inverse):
        return whole_units * lot
    lots_per_unit = float(round(inverse))
    if lot < 1 and abs(lots_per_unit * lot - 1.0) <= 1e-12:
        by_division = whole_units / lots_per_unit
        return by_division if math.isfinite(by_division) else math.nan
    return whole_units * lot


# --------------------------------------------------------------------------------------------
# profit and loss, notional


@overload
def linear_pnl(
    quantity: float, contract_size: float, entry_price: float, price: float
) -> float: ...
@overload
def linear_pnl(
    quantity: FloatOrArray,
    contract_size: FloatOrArray,
    entry_price: FloatOrArray,
    price: FloatOrArray,
) -> FloatOrArray: ...
def linear_pnl(
    quantity: FloatOrArray,
    contract_size: FloatOrArray,
    entry_price: FloatOrArray,
    price: FloatOrArray,
) -> FloatOrArray:
    """Linear unrealised PnL in quote currency: ``q * cs * (P - EP)``.

    Source: Binance USDⓈ-M "Unrealized PnL = position size * direction * (mark - entry price)".
    """
    if _scalars(quantity, contract_size, entry_price, price):
        return float(quantity) * float(contract_size) * (float(price) - float(entry_price))
    move = _array(price) - _array(entry_price)
    return _result(_array(quantity) * _array(contract_size) * move)


@overload
def inverse_pnl_coin(
    quantity: float, contract_value: float, entry_price: float, price: float
) -> float: ...
@overload
def inverse_pnl_coin(
    quantity: FloatOrArray,
    contract_value: FloatOrArray,
    entry_price: FloatOrArray,
    price: FloatOrArray,
) -> FloatOrArray: ...
def inverse_pnl_coin(
    quantity: FloatOrArray,
    contract_value: FloatOrArray,
    entry_price: FloatOrArray,
    price: FloatOrArray,
) -> FloatOrArray:
    """Inverse unrealised PnL in the base coin: ``q * cv * (1/EP - 1/P)`` (NaN when EP or P <= 0).

    Source: Binance COIN-M "Unrealized PnL = size * multiplier * direction * (1/entry - 1/mark)".
    """
    if _scalars(quantity, contract_value, entry_price, price):
        return float(quantity) * float(contract_value) * (
            _float_divide_positive(1.0, float(entry_price)) - _float_divide_positive(1.0, float(price)))
    ones = np.ones(())
    per_usd = _divide_positive(ones, _array(entry_price)) - _divide_positive(ones, _array(price))
    return _result(_array(quantity) * _array(contract_value) * per_usd)


@overload
def inverse_pnl_usd(
    quantity: float, contract_value: float, entry_price: float, price: float
) -> float: ...
@overload
def inverse_pnl_usd(
    quantity: FloatOrArray,
    contract_value: FloatOrArray,
    entry_price: FloatOrArray,
    price: FloatOrArray,
) -> FloatOrArray: ...
def inverse_pnl_usd(
    quantity: FloatOrArray,
    contract_value: FloatOrArray,
    entry_price: FloatOrArray,
    price: FloatOrArray,
) -> FloatOrArray:
    """Inverse unrealised PnL valued in USD at the mark: ``q * cv * (1/EP - 1/P) * P``.

    Source: Binance COIN-M PnL (coin) converted at the mark price; OKX v5 inverse ``upl``.
    """
    if _scalars(quantity, contract_value, entry_price, price):
        mark = float(price)
        return inverse_pnl_coin(float(quantity), float(contract_value), float(entry_price), mark) * mark
    coin = _array(inverse_pnl_coin(quantity, contract_value, entry_price, price))
    return _result(coin * _array(price))


@overload
def linear_notional(quantity: float, contract_size: float, price: float) -> float: ...
@overload
def linear_notional(
    quantity: FloatOrArray, contract_size: FloatOrArray, price: FloatOrArray
) -> FloatOrArray: ...
def linear_notional(
    quantity: FloatOrArray, contract_size: FloatOrArray, price: FloatOrArray
) -> FloatOrArray:
    """Linear notional in quote currency: ``|q| * cs * P``.

    Source: Binance USDⓈ-M Leverage & Margin FAQ (notional value = position size * mark price).
    """
    if _scalars(quantity, contract_size, price):
        return abs(float(quantity)) * float(contract_size) * float(price)
    return _result(np.abs(_array(quantity)) * _array(contract_size) * _array(price))


@overload
def inverse_notional(quantity: float, contract_value: float) -> float: ...
@overload
def inverse_notional(quantity: FloatOrArray, contract_value: FloatOrArray) -> FloatOrArray: ...
def inverse_notional(quantity: FloatOrArray, contract_value: FloatOrArray) -> FloatOrArray:
    """Inverse notional in quote currency (USD): ``|q| * cv``.

    Source: Binance COIN-M contract specifications (contract multiplier in USD); OKX ``ctVal``.
    """
    if _scalars(quantity, contract_value):
        return abs(float(quantity)) * float(contract_value)
    return _result(np.abs(_array(quantity)) * _array(contract_value))


# --------------------------------------------------------------------------------------------
# margin


@overload
def tier_index(notional: float, caps: TierValues) -> int: ...
@overload
def tier_index(notional: FloatOrArray, caps: TierValues) -> int | IndexArray: ...
def tier_index(notional: FloatOrArray, caps: TierValues) -> int | IndexArray:
    """Index of the first tier whose cap > notional (the last tier beyond every cap).

    ``searchsorted(caps, notional, side="right")`` clipped to the last tier; tier n covers
    ``[cap_{n-1}, cap_n)``. Source: Binance USDⓈ-M ``GET /fapi/v1/leverageBracket``
    (``notionalFloor`` inclusive, ``notionalCap`` exclusive).
    """
    caps_array = np.asarray(caps, dtype=np.float64)
    if caps_array.ndim != 1 or caps_array.size == 0:
        raise ValueError("tier caps must be a non-empty 1-D sequence")
    found = np.searchsorted(caps_array, _array(notional), side="right")
    index = np.minimum(found, caps_array.size - 1)
    if np.ndim(index) == 0:
        return int(index)
    return np.asarray(index, dtype=np.intp)


@overload
def tiered_maintenance_margin(notional: float, mmr: float, cum: float) -> float: ...
@overload
def tiered_maintenance_margin(
    notional: FloatOrArray, mmr: FloatOrArray, cum: FloatOrArray
) -> FloatOrArray: ...
def tiered_maintenance_margin(
    notional: FloatOrArray, mmr: FloatOrArray, cum: FloatOrArray
) -> FloatOrArray:
    """Maintenance margin with the tier's rate and amount: ``notional * MMR - cum``.

    Source: Binance USDⓈ-M Leverage & Margin FAQ (maintenance amount ``cum``).
    """
    if _scalars(notional, mmr, cum):
        return float(notional) * float(mmr) - float(cum)
    return _result(_array(notional) * _array(mmr) - _array(cum))


@overload
def maintenance_margin_for_tiers(
    notional: float, caps: TierValues, mmrs: TierValues, cums: TierValues
) -> float: ...
@overload
def maintenance_margin_for_tiers(
    notional: FloatOrArray, caps: TierValues, mmrs: TierValues, cums: TierValues
) -> FloatOrArray: ...
def maintenance_margin_for_tiers(
    notional: FloatOrArray, caps: TierValues, mmrs: TierValues, cums: TierValues
) -> FloatOrArray:
    """Maintenance margin, tier picked by notional: ``notional * MMR_n - cum_n``.

    ``caps``/``mmrs``/``cums`` are one instrument's tiers in order. Source: Binance USDⓈ-M
    ``GET /fapi/v1/leverageBracket`` and Leverage & Margin FAQ.
    """
    caps_array, mmrs_array, cums_array = _tier_arrays(caps, mmrs, cums)
    notional_array = _array(notional)
    index = np.asarray(tier_index(notional_array, caps_array))
    return _result(notional_array * mmrs_array[index] - cums_array[index])


@overload
def margin_ratio(maintenance_margin: float, margin_balance: float) -> float: ...
@overload
def margin_ratio(
    maintenance_margin: FloatOrArray, margin_balance: FloatOrArray
) -> FloatOrArray: ...
def margin_ratio(maintenance_margin: FloatOrArray, margin_balance: FloatOrArray) -> FloatOrArray:
    """Margin ratio: ``MM / MB`` (liquidation at 1.0; inf when MB <= 0).

    Source: Binance USDⓈ-M "Margin Ratio = Maintenance Margin / Margin Balance".
    """
    if _scalars(maintenance_margin, margin_balance):
        return (math.inf if margin_balance <= 0
                else _float_divide_positive(float(maintenance_margin), float(margin_balance)))
    maintenance = _array(maintenance_margin)
    balance = _array(margin_balance)
    ratio = _divide_positive(maintenance, balance)
    return _result(np.where(balance <= 0, np.inf, ratio))


@overload
def margin_buffer(margin_balance: float, maintenance_margin: float) -> float: ...
@overload
def margin_buffer(
    margin_balance: FloatOrArray, maintenance_margin: FloatOrArray
) -> FloatOrArray: ...
def margin_buffer(margin_balance: FloatOrArray, maintenance_margin: FloatOrArray) -> FloatOrArray:
    """Margin left before liquidation: ``MB - MM``.

    Source: Binance USDⓈ-M margin ratio FAQ (liquidation when margin balance <= maintenance margin).
    """
    if _scalars(margin_balance, maintenance_margin):
        return float(margin_balance) - float(maintenance_margin)
    return _result(_array(margin_balance) - _array(maintenance_margin))


@overload
def margin_buffer_fraction(margin_balance: float, maintenance_margin: float) -> float: ...
@overload
def margin_buffer_fraction(
    margin_balance: FloatOrArray, maintenance_margin: FloatOrArray
) -> FloatOrArray: ...
def margin_buffer_fraction(
    margin_balance: FloatOrArray, maintenance_margin: FloatOrArray
) -> FloatOrArray:
    """Margin buffer as a fraction of margin balance: ``(MB - MM) / MB`` (NaN when MB <= 0).

    Source: Binance USDⓈ-M margin ratio FAQ (equals ``1 - margin ratio``).
    """
    if _scalars(margin_balance, maintenance_margin):
        scalar_balance = float(margin_balance)
        return _float_divide_positive(scalar_balance - float(maintenance_margin), scalar_balance)
    balance = _array(margin_balance)
    return _result(_divide_positive(balance - _array(maintenance_margin), balance))


@overload
def initial_margin(notional: float, leverage: float) -> float: ...
@overload
def initial_margin(notional: FloatOrArray, leverage: FloatOrArray) -> FloatOrArray: ...
def initial_margin(notional: FloatOrArray, leverage: FloatOrArray) -> FloatOrArray:
    """Initial margin to open a position: ``notional / leverage`` (NaN when leverage <= 0).

    Source: Binance USDⓈ-M "Initial Margin = Notional Position Value / Leverage Level".
    """
    return _result(_divide_positive(_array(notional), _array(leverage)))


# --------------------------------------------------------------------------------------------
# liquidation


@overload
def liquidation_price_linear(
    side: float,
    base_quantity: float,
    entry_price: float,
    wallet_balance: float,
    mmr: float,
    cum: float,
    other_maintenance_margin: float = 0.0,
    other_unrealized_pnl: float = 0.0,
) -> float: ...
@overload
def liquidation_price_linear(
    side: FloatOrArray,
    base_quantity: FloatOrArray,
    entry_price: FloatOrArray,
    wallet_balance: FloatOrArray,
    mmr: FloatOrArray,
    cum: FloatOrArray,
    other_maintenance_margin: FloatOrArray = 0.0,
    other_unrealized_pnl: FloatOrArray = 0.0,
) -> FloatOrArray: ...
def liquidation_price_linear(
    side: FloatOrArray,
    base_quantity: FloatOrArray,
    entry_price: FloatOrArray,
    wallet_balance: FloatOrArray,
    mmr: FloatOrArray,
    cum: FloatOrArray,
    other_maintenance_margin: FloatOrArray = 0.0,
    other_unrealized_pnl: FloatOrArray = 0.0,
) -> FloatOrArray:
    """Linear liquidation price: ``(WB - TMM1 + UPNL1 + cum - side*Q*EP) / (Q*MMR - side*Q)``.

    ``Q = |q| * cs`` in base units. Isolated: WB = isolated wallet, TMM1 = UPNL1 = 0. Cross: WB =
    cross wallet, TMM1 / UPNL1 = maintenance margin / unrealised PnL of the other cross positions.
    NaN when the result is <= 0 (no liquidation price) or Q is 0.
    Source: Binance "How to Calculate Liquidation Price of USDⓈ-M Futures Contracts" (one-way).
    """
    direction = _side(_array(side))
    quantity = np.abs(_array(base_quantity))
    numerator = (
        _array(wallet_balance)
        - _array(other_maintenance_margin)
        + _array(other_unrealized_pnl)
        + _array(cum)
        - direction * quantity * _array(entry_price)
    )
    denominator = quantity * _array(mmr) - direction * quantity
    price = _divide(numerator, denominator)
    return _result(np.where(price > 0, price, np.nan))


def liquidation_price_linear_tiered(
    side: float,
    base_quantity: float,
    entry_price: float,
    wallet_balance: float,
    caps: TierValues,
    mmrs: TierValues,
    cums: TierValues,
    other_maintenance_margin: float = 0.0,
    other_unrealized_pnl: float = 0.0,
) -> float:
    """Linear liquidation price with the tier of the liquidation notional ``Q * LP`` (scalar only).

    Starts from the entry-notional tier and re-solves ``liquidation_price_linear`` with the tier
    of ``Q * LP`` until the tier no longer changes (at most len(tiers) + 1 rounds); if float noise
    at a tier boundary prevents that, the tier whose range holds its own solution is taken. The
    solution is unique: margin balance minus the continuous tiered maintenance margin is monotonic
    in price. NaN when no positive self-consistent price exists.
    Source: Binance "How to Calculate Liquidation Price" (substitute the MMR and maintenance amount
    of the bracket at the liquidation price and recalculate).
    """
    caps_array, mmrs_array, cums_array = _tier_arrays(caps, mmrs, cums)
    quantity = abs(base_quantity)

    def solve(index: int) -> float:
        return liquidation_price_linear(
            side, quantity, entry_price, wallet_balance, float(mmrs_array[index]),
            float(cums_array[index]), other_maintenance_margin, other_unrealized_pnl,
        )

    index = tier_index(quantity * entry_price, caps_array)
    for _ in range(caps_array.size + 1):
        price = solve(index)
        if math.isnan(price):
            break
        next_index = tier_index(quantity * price, caps_array)
        if next_index == index:
            return price
        index = next_index
    floors = np.concatenate(([0.0], caps_array[:-1]))
    for index in range(caps_array.size):
        price = solve(index)
        if math.isnan(price):
            continue
        notional = quantity * price
        above_floor = notional >= floors[index] * (1 - _TIER_TOLERANCE)
        last_tier = index == caps_array.size - 1
        below_cap = last_tier or notional <= caps_array[index] * (1 + _TIER_TOLERANCE)
        if above_floor and below_cap:
            return price
    return math.nan


@overload
def liquidation_price_inverse(
    side: float,
    contract_value_quantity: float,
    entry_price: float,
    wallet_balance_coin: float,
    mmr: float,
    cum_coin: float,
) -> float: ...
@overload
def liquidation_price_inverse(
    side: FloatOrArray,
    contract_value_quantity: FloatOrArray,
    entry_price: FloatOrArray,
    wallet_balance_coin: FloatOrArray,
    mmr: FloatOrArray,
    cum_coin: FloatOrArray,
) -> FloatOrArray: ...
def liquidation_price_inverse(
    side: FloatOrArray,
    contract_value_quantity: FloatOrArray,
    entry_price: FloatOrArray,
    wallet_balance_coin: FloatOrArray,
    mmr: FloatOrArray,
    cum_coin: FloatOrArray,
) -> FloatOrArray:
    """Inverse liquidation price: ``Q * (MMR + side) / (WB + cum + side * Q / EP)``.

    ``Q = |q| * cv`` in USD, WB and cum in coin. Solves margin balance ``WB + side*Q*(1/EP - 1/P)``
    = maintenance margin ``Q*MMR/P - cum``. NaN when the denominator is 0 or the result is <= 0:
    a short whose wallet covers ``Q / EP`` (a 1x short collateralised by the coin) is never
    liquidated; a leveraged short has a negative numerator and denominator.
    Source: Binance "How to Calculate Liquidation Price of COIN-M Futures Contracts" (isolated).
    """
    direction = _side(_array(side))
    quantity = np.abs(_array(contract_value_quantity))
    numerator = quantity * (_array(mmr) + direction)
    denominator = (
        _array(wallet_balance_coin)
        + _array(cum_coin)
        + direction * _divide_positive(quantity, _array(entry_price))
    )
    price = _divide(numerator, denominator)
    return _result(np.where(price > 0, price, np.nan))


@overload
def liquidation_distance(liquidation_price: float, price: float) -> float: ...
@overload
def liquidation_distance(
    liquidation_price: FloatOrArray, price: FloatOrArray
) -> FloatOrArray: ...
def liquidation_distance(liquidation_price: FloatOrArray, price: FloatOrArray) -> FloatOrArray:
    """Relative distance to liquidation: ``|LP - P| / P`` (NaN propagates; NaN when P <= 0).

    Source: Binance USDⓈ-M liquidation FAQ (liquidation triggers on the mark price reaching LP).
    """
    if _scalars(liquidation_price, price):
        return _float_divide_positive(abs(float(liquidation_price) - float(price)), float(price))
    mark = _array(price)
    return _result(_divide_positive(np.abs(_array(liquidation_price) - mark), mark))


@overload
def is_liquidated_at(side: float, shocked_price: float, liquidation_price: float) -> bool: ...
@overload
def is_liquidated_at(
    side: FloatOrArray, shocked_price: FloatOrArray, liquidation_price: FloatOrArray
) -> BoolOrArray: ...
def is_liquidated_at(
    side: FloatOrArray, shocked_price: FloatOrArray, liquidation_price: FloatOrArray
) -> BoolOrArray:
    """Whether a price reaches the liquidation price: long ``P' <= LP``, short ``P' >= LP``.

    A NaN liquidation price (none) or side 0 never liquidates.
    Source: Binance USDⓈ-M liquidation FAQ (mark price crossing the liquidation price).
    """
    if _scalars(side, shocked_price, liquidation_price):
        return _float_liquidated(float(side), float(shocked_price), float(liquidation_price))
    return _bool_result(
        _liquidated(_array(side), _array(shocked_price), _array(liquidation_price))
    )


# --------------------------------------------------------------------------------------------
# funding, fees, basis


@overload
def funding_payment_linear(
    quantity: float, contract_size: float, price: float, rate: float
) -> float: ...
@overload
def funding_payment_linear(
    quantity: FloatOrArray, contract_size: FloatOrArray, price: FloatOrArray, rate: FloatOrArray
) -> FloatOrArray: ...
def funding_payment_linear(
    quantity: FloatOrArray, contract_size: FloatOrArray, price: FloatOrArray, rate: FloatOrArray
) -> FloatOrArray:
    """Funding received (positive) or paid (negative): ``-q * cs * P * rate``.

    Shorts receive when the rate is positive. Source: Binance "Introduction to Binance Futures
    Funding Rates" (funding amount = position notional * funding rate; longs pay shorts if > 0).
    """
    notional = _array(quantity) * _array(contract_size) * _array(price)
    return _result(-notional * _array(rate))


@overload
def funding_payment_inverse(quantity: float, contract_value: float, rate: float) -> float: ...
@overload
def funding_payment_inverse(
    quantity: FloatOrArray, contract_value: FloatOrArray, rate: FloatOrArray
) -> FloatOrArray: ...
def funding_payment_inverse(
    quantity: FloatOrArray, contract_value: FloatOrArray, rate: FloatOrArray
) -> FloatOrArray:
    """USD value of an inverse funding payment received (positive): ``-q * cv * rate``.

    The coin amount is ``-q * cv / P * rate``; valued at P it is ``-q * cv * rate``.
    Source: Binance COIN-M funding FAQ (funding = position value in coin * funding rate).
    """
    return _result(-_array(quantity) * _array(contract_value) * _array(rate))


@overload
def fee(notional: float, rate: float) -> float: ...
@overload
def fee(notional: FloatOrArray, rate: FloatOrArray) -> FloatOrArray: ...
def fee(notional: FloatOrArray, rate: FloatOrArray) -> FloatOrArray:
    """Trading fee of a fill: ``notional * rate`` (taker or maker rate).

    Source: Binance USDⓈ-M fee schedule ("fee = notional value * fee rate").
    """
    return _result(_array(notional) * _array(rate))


@overload
def basis(mark_price: float, spot_price: float) -> float: ...
@overload
def basis(mark_price: FloatOrArray, spot_price: FloatOrArray) -> FloatOrArray: ...
def basis(mark_price: FloatOrArray, spot_price: FloatOrArray) -> FloatOrArray:
    """Futures basis as a fraction of spot: ``(P - S) / S`` (NaN when S <= 0).

    Source: Binance ``GET /futures/data/basis`` (``basisRate = (futures - index) / index``).
    """
    if _scalars(mark_price, spot_price):
        return _float_divide_positive(float(mark_price) - float(spot_price), float(spot_price))
    spot = _array(spot_price)
    return _result(_divide_positive(_array(mark_price) - spot, spot))


@overload
def basis_bps(mark_price: float, spot_price: float) -> float: ...
@overload
def basis_bps(mark_price: FloatOrArray, spot_price: FloatOrArray) -> FloatOrArray: ...
def basis_bps(mark_price: FloatOrArray, spot_price: FloatOrArray) -> FloatOrArray:
    """Basis in basis points: ``1e4 * (P - S) / S`` (NaN when S <= 0).

    Source: Binance ``GET /futures/data/basis`` (``basisRate``) expressed in bps.
    """
    if _scalars(mark_price, spot_price):
        return BASIS_POINTS * basis(float(mark_price), float(spot_price))
    return _result(BASIS_POINTS * _array(basis(mark_price, spot_price)))


@overload
def annualized_basis(futures_price: float, spot_price: float, days_to_expiry: float) -> float: ...
@overload
def annualized_basis(
    futures_price: FloatOrArray, spot_price: FloatOrArray, days_to_expiry: FloatOrArray
) -> FloatOrArray: ...
def annualized_basis(
    futures_price: FloatOrArray, spot_price: FloatOrArray, days_to_expiry: FloatOrArray
) -> FloatOrArray:
    """Simple annualised basis of a dated future: ``(F / S - 1) * 365 / days`` (NaN if days <= 0).

    Source: Hull, Options, Futures and Other Derivatives, ch. 5 (cost of carry, F = S(1 + r T)
    in simple terms); Binance ``GET /futures/data/basis`` (``annualizedBasisRate``).
    """
    premium = _divide_positive(_array(futures_price), _array(spot_price)) - 1.0
    return _result(_divide_positive(premium * DAYS_PER_YEAR, _array(days_to_expiry)))


# --------------------------------------------------------------------------------------------
# hedge effectiveness


def min_variance_ratio(returns_hedged: TierValues, returns_hedge: TierValues) -> float:
    """Minimum-variance hedge ratio: ``h* = Cov(rA, rB) / Var(rB)`` (sample, ddof = 1 for both).

    NaN with fewer than 2 samples or a constant hedge series.
    Source: Hull, Options, Futures and Other Derivatives, ch. 3 (h* = rho * sigma_S / sigma_F).
    """
    hedged, hedge = _sample_pair(returns_hedged, returns_hedge)
    if hedged.size < 2:
        return math.nan
    variance = float(np.var(hedge, ddof=1))
    if _is_constant(hedge, variance):
        return math.nan
    return _sample_covariance(hedged, hedge) / variance


@overload
def dollar_offset(
    hedge_change_usd: float,
    hedged_change_usd: float,
    exposure_usd: float,
    min_move_fraction: float = DEFAULT_MIN_MOVE_FRACTION,
) -> float: ...
@overload
def dollar_offset(
    hedge_change_usd: FloatOrArray,
    hedged_change_usd: FloatOrArray,
    exposure_usd: FloatOrArray,
    min_move_fraction: FloatOrArray = DEFAULT_MIN_MOVE_FRACTION,
) -> FloatOrArray: ...
def dollar_offset(
    hedge_change_usd: FloatOrArray,
    hedged_change_usd: FloatOrArray,
    exposure_usd: FloatOrArray,
    min_move_fraction: FloatOrArray = DEFAULT_MIN_MOVE_FRACTION,
) -> FloatOrArray:
    """Cumulative dollar offset: ``-dF / dS``; NaN while ``|dS| < min_move_fraction * |exposure|``.

    The guard avoids the small-denominator problem (a ratio of two tiny changes means nothing).
    Source: IAS 39 AG105(b) (dollar-offset method, effective within 80-125 %); ASC 815.
    """
    if _scalars(hedge_change_usd, hedged_change_usd, exposure_usd, min_move_fraction):
        hedged_value = float(hedged_change_usd)
        if not abs(hedged_value) >= float(min_move_fraction) * abs(float(exposure_usd)):
            return math.nan
        return _float_divide(-float(hedge_change_usd), hedged_value)
    hedged = _array(hedged_change_usd)
    threshold = _array(min_move_fraction) * np.abs(_array(exposure_usd))
    offset = _divide(-_array(hedge_change_usd), hedged)
    return _result(np.where(np.abs(hedged) >= threshold, offset, np.nan))


def regression_slope_r2(
    hedged_changes: TierValues, hedge_changes: TierValues
) -> tuple[float, float]:
    """OLS of dF on dS: slope ``Cov(dS, dF) / Var(dS)`` and ``R² = Cov² / (Var(dS) Var(dF))``.

    Both NaN with fewer than 2 samples or constant dS; R² is NaN when dF is constant.
    Source: ASC 815-20-35 regression ("long-haul") assessment; effective in practice with slope in
    [-1.25, -0.80] and R² >= 0.80.
    """
    hedged, hedge = _sample_pair(hedged_changes, hedge_changes)
    if hedged.size < 2:
        return math.nan, math.nan
    hedged_variance = float(np.var(hedged, ddof=1))
    if _is_constant(hedged, hedged_variance):
        return math.nan, math.nan
    covariance = _sample_covariance(hedged, hedge)
    slope = covariance / hedged_variance
    hedge_variance = float(np.var(hedge, ddof=1))
    if _is_constant(hedge, hedge_variance):
        return slope, math.nan
    r_squared = covariance * covariance / (hedged_variance * hedge_variance)
    return slope, min(r_squared, 1.0)


def variance_reduction(hedged_changes: TierValues, hedge_changes: TierValues) -> float:
    """Variance reduction of the hedged position: ``1 - Var(dS + dF) / Var(dS)``.

    NaN with fewer than 2 samples or constant dS.
    Source: Ederington (1979), "The Hedging Performance of the New Futures Markets", J. Finance
    34(1).
    """
    hedged, hedge = _sample_pair(hedged_changes, hedge_changes)
    if hedged.size < 2:
        return math.nan
    hedged_variance = float(np.var(hedged, ddof=1))
    if _is_constant(hedged, hedged_variance):
        return math.nan
    return 1.0 - float(np.var(hedged + hedge, ddof=1)) / hedged_variance


@overload
def effective_dollar_offset(ratio: float) -> bool: ...
@overload
def effective_dollar_offset(ratio: FloatOrArray) -> BoolOrArray: ...
def effective_dollar_offset(ratio: FloatOrArray) -> BoolOrArray:
    """Whether a dollar offset is effective: ``0.80 <= ratio <= 1.25`` (NaN -> False).

    Source: IAS 39 AG105(b) (80-125 % range).
    """
    value = _array(ratio)
    inside = (value >= DOLLAR_OFFSET_LOW) & (value <= DOLLAR_OFFSET_HIGH)
    return _bool_result(np.asarray(inside, dtype=np.bool_))


# --------------------------------------------------------------------------------------------
# stress


@overload
def stress_leg_pnl_linear(
    quantity: float,
    contract_size: float,
    price: float,
    shocked_price: float,
    liquidation_price: float,
    margin_balance: float,
) -> float: ...
@overload
def stress_leg_pnl_linear(
    quantity: FloatOrArray,
    contract_size: FloatOrArray,
    price: FloatOrArray,
    shocked_price: FloatOrArray,
    liquidation_price: FloatOrArray,
    margin_balance: FloatOrArray,
) -> FloatOrArray: ...
def stress_leg_pnl_linear(
    quantity: FloatOrArray,
    contract_size: FloatOrArray,
    price: FloatOrArray,
    shocked_price: FloatOrArray,
    liquidation_price: FloatOrArray,
    margin_balance: FloatOrArray,
) -> FloatOrArray:
    """Linear leg PnL for a shock: ``q * cs * (P' - P)``, or ``-MB`` if P' reaches LP.

    A liquidated leg loses its margin balance and protects nothing beyond (NaN LP = never).
    Source: Binance USDⓈ-M liquidation FAQ (position closed, remaining margin lost); PnL as
    ``linear_pnl``.
    """
    if _scalars(quantity, contract_size, price, shocked_price, liquidation_price, margin_balance):
        signed_value, shocked_value = float(quantity), float(shocked_price)
        if _float_liquidated(signed_value, shocked_value, float(liquidation_price)):
            return -float(margin_balance)
        return signed_value * float(contract_size) * (shocked_value - float(price))
    signed = _array(quantity)
    shocked = _array(shocked_price)
    pnl = signed * _array(contract_size) * (shocked - _array(price))
    liquidated = _liquidated(np.sign(signed), shocked, _array(liquidation_price))
    return _result(np.where(liquidated, -_array(margin_balance), pnl))


@overload
def stress_leg_pnl_inverse(
    quantity: float,
    contract_value: float,
    entry_price: float,
    price: float,
    shocked_price: float,
    liquidation_price: float,
    margin_balance_usd: float,
) -> float: ...
@overload
def stress_leg_pnl_inverse(
    quantity: FloatOrArray,
    contract_value: FloatOrArray,
    entry_price: FloatOrArray,
    price: FloatOrArray,
    shocked_price: FloatOrArray,
    liquidation_price: FloatOrArray,
    margin_balance_usd: FloatOrArray,
) -> FloatOrArray: ...
def stress_leg_pnl_inverse(
    quantity: FloatOrArray,
    contract_value: FloatOrArray,
    entry_price: FloatOrArray,
    price: FloatOrArray,
    shocked_price: FloatOrArray,
    liquidation_price: FloatOrArray,
    margin_balance_usd: FloatOrArray,
) -> FloatOrArray:
    """Inverse leg value change in USD for a shock: ``q * cv * (P' - P) / EP``, or ``-MB``.

    The leg's USD value (contracts plus the coin PnL they accrued) is ``q * cv * (P/EP - 1)``,
    linear in P, so the change from P to P' is exact; a liquidated leg (P' reaches LP; NaN LP =
    never) loses its margin balance in USD.
    Source: risk-definitions.md "Delta" (inverse) and "Stress grid"; Binance COIN-M PnL FAQ.
    """
    if _scalars(quantity, contract_value, entry_price, price, shocked_price, liquidation_price,
                margin_balance_usd):
        signed_value, shocked_value = float(quantity), float(shocked_price)
        if _float_liquidated(signed_value, shocked_value, float(liquidation_price)):
            return -float(margin_balance_usd)
        delta_value = _float_divide_positive(signed_value * float(contract_value), float(entry_price))
        return delta_value * (shocked_value - float(price))
    signed = _array(quantity)
    shocked = _array(shocked_price)
    delta = _divide_positive(signed * _array(contract_value), _array(entry_price))  # q cv / EP
    pnl = delta * (shocked - _array(price))
    liquidated = _liquidated(np.sign(signed), shocked, _array(liquidation_price))
    return _result(np.where(liquidated, -_array(margin_balance_usd), pnl))


def stress_grid_linear(
    quantity: float, contract_size: float, price: float, shocked_prices: Sequence[float],
    liquidation_price: float, margin_balance: float,
) -> list[float]:
    """``stress_leg_pnl_linear`` at each shocked price of a grid, in one call per leg.

    ``q * cs * (P' - P)``, or ``-MB`` where P' reaches LP (NaN LP = never); float for float the
    values of ``stress_leg_pnl_linear`` shock by shock.
    Source: Binance USDⓈ-M liquidation FAQ (position closed, remaining margin lost); PnL as ``linear_pnl``.
    """
    slope = quantity * contract_size
    return [
        -margin_balance if _float_liquidated(quantity, shocked, liquidation_price)
        else slope * (shocked - price)
        for shocked in shocked_prices
    ]


def stress_grid_inverse(
    quantity: float, contract_value: float, entry_price: float, price: float,
    shocked_prices: Sequence[float], liquidation_price: float, margin_balance_usd: float,
) -> list[float]:
    """``stress_leg_pnl_inverse`` at each shocked price of a grid, in one call per leg.

    ``q * cv * (P' - P) / EP``, or ``-MB`` where P' reaches LP (NaN LP = never); float for float
    the values of ``stress_leg_pnl_inverse`` shock by shock.
    Source: risk-definitions.md "Delta" (inverse) and "Stress grid"; Binance COIN-M PnL FAQ.
    """
    slope = _float_divide_positive(quantity * contract_value, entry_price)
    return [
        -margin_balance_usd if _float_liquidated(quantity, shocked, liquidation_price)
        else slope * (shocked - price)
        for shocked in shocked_prices
    ]


def liquidated_in_grid(side: float, shocked_prices: Sequence[float], liquidation_price: float) -> list[bool]:
    """``is_liquidated_at`` at each shocked price of a grid: long ``P' <= LP``, short ``P' >= LP``.

    Source: Binance USDⓈ-M liquidation FAQ (mark price crossing the liquidation price).
    """
    return [_float_liquidated(side, shocked, liquidation_price) for shocked in shocked_prices]


# --------------------------------------------------------------------------------------------
# hedge lifecycle


@overload
def time_left_seconds(expiry_ms: float, now_ms: float) -> float: ...
@overload
def time_left_seconds(expiry_ms: FloatOrArray, now_ms: FloatOrArray) -> FloatOrArray: ...
def time_left_seconds(expiry_ms: FloatOrArray, now_ms: FloatOrArray) -> FloatOrArray:
    """Seconds until a hedge plan expires: ``max(0, (expiry - now) / 1000)``.

    Source: risk-definitions.md, hedge lifecycle (a plan's expiry, e.g. 7 days).
    """
    if _scalars(expiry_ms, now_ms):
        return _float_floor_zero((float(expiry_ms) - float(now_ms)) / 1000.0)
    return _result(np.maximum(0.0, (_array(expiry_ms) - _array(now_ms)) / 1000.0))


@overload
def opportunity_cost_usd(hedge_pnl_usd: float) -> float: ...
@overload
def opportunity_cost_usd(hedge_pnl_usd: FloatOrArray) -> FloatOrArray: ...
def opportunity_cost_usd(hedge_pnl_usd: FloatOrArray) -> FloatOrArray:
    """Upside given up by the hedge: ``max(0, -hedge_pnl)`` (futures loss while the price rises).

    Source: Hull, Options, Futures and Other Derivatives, ch. 3 (a short hedge forgoes the gain
    from a price rise).
    """
    if _scalars(hedge_pnl_usd):
        return _float_floor_zero(-float(hedge_pnl_usd))
    return _result(np.maximum(0.0, -_array(hedge_pnl_usd)))


# --------------------------------------------------------------------------------------------
# volatility


def realised_volatility(prices: Sequence[float], interval_s: float) -> float | None:
    """Realised volatility per square-root second: ``s / sqrt(tau)``, s the sample standard
    deviation of ``ln(P_i / P_i-1)`` over prices sampled every ``tau`` seconds.

    Over a horizon ``h`` seconds the volatility is this times ``sqrt(h)``. None with fewer than
    three prices (two returns) or a non-positive price. Source: Hull, Options, Futures and Other
    Derivatives, ch. 15 "Estimating volatility from historical data" (``sigma = s / sqrt(tau)``).
    """
    if len(prices) < 3 or interval_s <= 0:
        return None
    values = np.asarray(prices, dtype=np.float64)
    if not np.all(values > 0):
        return None
    returns = np.diff(np.log(values))
    return float(np.std(returns, ddof=1) / math.sqrt(interval_s))


# --------------------------------------------------------------------------------------------
# the venue's own figures beside the model's


def relative_divergence(model: float, venue: float) -> float:
    """How far the model's figure is from the venue's: ``|model - venue| / |venue|`` (nan when
    the venue's figure is 0: no relative difference is defined).

    Source: the project rule "the venue's own reported figure is the truth" (issue 15): the
    venue's figure is the reference the model is measured against.
    """
    if venue == 0 or not (math.isfinite(model) and math.isfinite(venue)):
        return math.nan
    return abs(model - venue) / abs(venue)


def account_maintenance_ratio(maintenance_margin: float, equity: float) -> float:
    """A whole account's maintenance margin ratio ``MM / equity`` (liquidation at the venue's
    level; inf when equity <= 0).

    Sources: Bybit v5 "Get Wallet Balance": ``accountMMRate`` = ``totalMaintenanceMargin /
    totalMarginBalance``; Binance Portfolio Margin "uniMMR = Unified Account Equity / Unified
    Maintenance Margin" (this ratio is its reciprocal); OKX "Get balance" ``mgnRatio`` = ``adjEq``
    over the maintenance margin (likewise its reciprocal).
    """
    if equity <= 0:
        return math.inf
    return maintenance_margin / equity


def adl_top_bucket(rank: int, top: int) -> bool:
    """A leg in the venue's top auto-deleveraging bucket: ``rank == top`` (Binance adlQuantile 4
    of 0-4, Bybit ``adlRankIndicator`` 5 of 0-5, OKX ``adl`` 5 of 1-5: the next to be
    deleveraged)."""
    return rank >= top


# --------------------------------------------------------------------------------------------
# Deribit perpetual funding (continuous)

DERIBIT_FUNDING_DAMPER = 0.00025
"""Deribit's funding damper: a premium within +/-0.025 % gives no funding."""
DERIBIT_FUNDING_PERIOD_MS = 8 * 3_600_000
"""Deribit quotes its funding rate for 8 hours; it accrues pro rata per millisecond."""


def deribit_funding_rate(mark: float, index: float, cap: float, damper: float = DERIBIT_FUNDING_DAMPER
                         ) -> float:
    """Deribit's 8-hour funding rate from the premium of the mark over the index, damped and capped.

    ``Premium Rate = (Mark Price - Deribit Index) / Deribit Index``;
    ``Funding Rate = Minimum(Maximum_Cap, Maximum(Minimum_Cap, Maximum(0.025 %, Premium Rate) +
    Minimum(-0.025 %, Premium Rate)))`` with ``Minimum_Cap = -Maximum_Cap`` (BTC-PERPETUAL 0.5 %,
    ETH-PERPETUAL 1 %). Source: Deribit help "Funding Specifications"
    (support.deribit.com/hc/en-us/articles/31424939178397-Funding-Specifications).
    """
    premium = (mark - index) / index
    uncapped = max(damper, premium) + min(-damper, premium)
    return min(cap, max(-cap, uncapped))


def deribit_funding_received(position_coin: float, rate: float, period_ms: float) -> float:
    """Coin received (positive) or paid (negative) over ``period_ms`` by a signed position in coin.

    ``Funding Payment = Funding Rate * Position Size * Time Fraction``,
    ``Time Fraction = Funding Rate Time Period / 8 hours``; "when the funding rate is positive,
    long position holders pay funding to the short position holders"; funding is "calculated and
    paid/received continuously" ("Funding payments are calculated every millisecond", "Inverse
    Perpetual"). Source: Deribit help "Funding Specifications".
    """
    return -rate * position_coin * (period_ms / DERIBIT_FUNDING_PERIOD_MS)
