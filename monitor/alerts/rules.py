"""Alert rules, one object each: its spec, how it reads a risk snapshot and how it words a change.

A rule looks at one figure of the risk snapshot (``docs/topics.md``) per subject, an asset ("BTC"),
an instrument ("okx:BTC-USDT-SWAP") or the whole portfolio, and classifies it as

- ``breach``: beyond the firing threshold (the alert goes pending, then fires after ``for_ms``);
- ``between``: past neither threshold (a firing alert stays firing: hysteresis);
- ``clear``: back past the clear threshold (a firing alert resolves);
- ``unknown``: the figure is null or missing (the alert keeps its state).

A subject missing from its section (a closed position, an asset no longer held) is "gone" and its
alerts resolve. Rules read the typed snapshot (``monitor.domain.snapshot``).

What ``threshold`` (t) and ``clear_threshold`` (c) mean per rule, [defaults]:

=========================  ============================================  ========================
rule                       fires when                                    resolves when
=========================  ============================================  ========================
hedge_ratio_low            ratio < target - band; band = the snapshot's  ratio >= target - c*band
                           hedge_band, else t [0.10]                     [c = 0.5 of the band]
hedge_ratio_high           ratio > target + band                         ratio <= target + c*band
margin_buffer_low          buffer fraction < t [0.50]                    >= c [0.55]
margin_ratio_high          margin ratio > t [0.80]                       <= c [0.75]
liquidation_distance_low   distance < t [0.05]                           >= c [0.06]
dollar_offset_out_of_band  offset outside [t, 1/t] [0.80: 0.80-1.25]     inside [c, 1/c] [0.85]
r2_low                     R² < t [0.80]                                 >= c [0.85]
basis_wide                 abs(basis_bps) > t [100 bps for 60 s]         <= c [80 bps]
cost_budget_exceeded       hedge cost > t * cost budget [1.0]            <= c * budget [0.95]
hedge_expired              lifecycle.<A>.expired is true                 it is false
exit_level_crossed         lifecycle.<A>.exit_level_crossed is true      it is false
stop_loss_hit              lifecycle.<A>.stop_loss_hit is true           it is false
stale_feed                 feeds.stale lists a held instrument           it no longer does
position_mismatch          reported by a resync (``report_condition``)   reported cleared
funding_cost_high          net funding paid > t of notional [0.001]      <= c [0.0008]
model_divergence           |model - venue| / |venue| of a position       <= c [0.004]
                           figure > t [0.005, 0.5 %]
account_margin_ratio_high  an account's margin ratio / the venue's       <= c [0.75]
                           liquidation ratio > t [0.80]
adl_top_bucket             a profitable leg in the venue's top ADL       it no longer is
                           bucket
hedge_broken               a liquidation or ADL fill (``report_condition``)  the leg is re-hedged
unpriced_position          unpriced_positions lists a held instrument    it no longer does
=========================  ============================================  ========================

Sources: hedge ratio, margin ratio (Binance sense, liquidation at 100 %), margin buffer, distance
to liquidation, basis and hedge cost as defined in ``risk-definitions.md``; the 80-125 %
dollar-offset range from IAS 39 (AG105) and the R² >= 0.80 regression test from hedge-accounting
practice (ASC 815); the lifecycle flags from the hedge plan (risk-definitions "Hedge lifecycle").

Every rule is a frozen object with ``spec`` (``monitor.alerts.spec.RuleSpec``), ``observe`` and
``message``; rules of one shape share a class and differ in data. ``monitor.alerts.registry``
collects them; ``monitor.alerts.config`` holds their settings.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Container, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from monitor.alerts.reading import (
    EN_DASH,
    UNKNOWN,
    Compare,
    FlagMessage,
    Group,
    Message,
    Observation,
    Observations,
    Remedy,
    SnapshotReading,
    Status,
    Worst,
    above,
    account_of,
    below,
    highest,
    levels,
    lowest,
    no_message,
    number,
    observe_flags,
    observe_levels,
    percent_text,
    ratio_text,
    usd_text,
    wider,
)
from monitor.alerts.remediation import hedge_ratio_remediation, liquidation_remediation, margin_remediation
from monitor.alerts.spec import (
    FRACTION,
    NON_NEGATIVE,
    OPEN_FRACTION,
    POSITIVE,
    SEVERITY_RANK,
    RuleConfig,
    RuleSpec,
    Severity,
)
from monitor.domain.snapshot import AccountFigures, AssetFigures, Effectiveness, LegFigures, UnpricedLeg

VOL_CLEAR_FACTOR = 1.2
"""A volatility-unit stage clears at this multiple of the least severe vol threshold (hysteresis)."""
PORTFOLIO_SUBJECT = "portfolio"
"""The subject of portfolio-wide rules (``cost_budget_exceeded``)."""


# --- hedge ratio ----------------------------------------------------------------------------------


def _hedge_ratio_message(
    asset: str, ratio: float, target: float, band: float, clear_fraction: float, status: Status, side: str
) -> str:
    band_text = f"{ratio_text(target - band)}{EN_DASH}{ratio_text(target + band)}"
    if status == "breach":
        return (
            f"{asset} hedge ratio {ratio_text(ratio)} is {side} the target band {band_text} "
            f"(target {ratio_text(target)})"
        )
    clear_low, clear_high = target - clear_fraction * band, target + clear_fraction * band
    clear_text = f"{ratio_text(clear_low)}{EN_DASH}{ratio_text(clear_high)}"
    return (
        f"{asset} hedge ratio {ratio_text(ratio)} is back within {clear_text} "
        f"(target {ratio_text(target)}, band {band_text})"
    )


@dataclass(frozen=True, slots=True)
class HedgeRatioRule:
    """Hedge ratio outside ``target ± band`` (risk-definitions "Hedge ratio and rebalance").

    Band from ``assets.<A>.hedge_band`` when positive, else the rule's ``threshold``; it resolves
    inside ``target ± clear_threshold * band``. ``high`` fires above the band, else below it.
    """

    spec: RuleSpec
    high: bool
    message: Callable[[str, float, float, float, float, Status, str], str] = _hedge_ratio_message

    def observe(
        self, reading: SnapshotReading, rule: RuleConfig, tracked: Container[str]
    ) -> Observations | None:
        """Every breaching or tracked asset's hedge ratio against its target band."""
        default_band, clear_fraction = levels(rule)
        side = "above" if self.high else "below"
        observations: Observations = {}
        for asset, row in reading.snapshot.assets.items():
            ratio = number(row.hedge_ratio)
            target = number(row.target_hedge_ratio)
            if target is None:
                if asset in tracked:
                    observations[asset] = Observation("unknown", ratio, None, None)
                continue
            snapshot_band = number(row.hedge_band)
            band = snapshot_band if snapshot_band is not None and snapshot_band > 0 else default_band
            if self.high:
                threshold, clear = target + band, target + clear_fraction * band
                status = above(ratio, threshold, clear)
            else:
                threshold, clear = target - band, target - clear_fraction * band
                status = below(ratio, threshold, clear)
            if status != "breach" and asset not in tracked:
                continue
            describe = no_message
            if ratio is not None:
                describe = partial(self.message, asset, ratio, target, band, clear_fraction, status, side)
            remedy = hedge_ratio_remediation(asset, row) if status == "breach" else None
            observations[asset] = Observation(status, ratio, threshold, clear, describe, remedy)
        return observations


HEDGE_RATIO_LOW = HedgeRatioRule(
    RuleSpec("hedge_ratio_low", "hedge ratio below target band", "asset",
             RuleConfig(0.10, 0.5, 0, "warning"), POSITIVE, FRACTION),
    high=False,
)
HEDGE_RATIO_HIGH = HedgeRatioRule(
    RuleSpec("hedge_ratio_high", "hedge ratio above target band", "asset",
             RuleConfig(0.10, 0.5, 0, "warning"), POSITIVE, FRACTION),
    high=True,
)


# --- figures of the open positions ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PositionFigureRule:
    """A figure of the open positions against the rule's levels, one observation per instrument.

    ``pick`` gives an instrument's worst figure across the accounts holding it, ``compare`` its
    status, ``message`` words a change and ``remedy`` gives a breach's remediation; ``labelled``
    labels the observation with the worst figure's account.
    """

    spec: RuleSpec
    pick: Callable[[Group], Worst]
    compare: Compare
    message: Message
    remedy: Remedy | None = None
    labelled: bool = True

    def observe(
        self, reading: SnapshotReading, rule: RuleConfig, tracked: Container[str]
    ) -> Observations | None:
        """Every breaching or tracked instrument's worst figure."""
        grouped = reading.open_positions
        threshold, clear = levels(rule)
        return observe_levels(grouped.items(), self.pick, tracked, threshold, clear, compare=self.compare,
                              message=self.message, remedy=self.remedy, labelled=self.labelled)


def _margin_buffer_message(
    instrument: str, value: float, row: LegFigures, status: Status, threshold: float, clear: float
) -> str:
    account = account_of(row)
    if status == "breach":
        return (f"{instrument} margin buffer is {percent_text(value)} of margin balance "
                f"(account {account}), below {percent_text(threshold)}")
    return (f"{instrument} margin buffer recovered to {percent_text(value)} of margin balance "
            f"(account {account}), at or above {percent_text(clear)}")


def _margin_ratio_message(
    instrument: str, value: float, row: LegFigures, status: Status, threshold: float, clear: float
) -> str:
    account = account_of(row)
    if status == "breach":
        return (f"{instrument} margin ratio {percent_text(value)} (account {account}) is above "
                f"{percent_text(threshold)}; liquidation at 100.0 %")
    return (f"{instrument} margin ratio {percent_text(value)} (account {account}) is back at or "
            f"below {percent_text(clear)}")


def _margin_remedy(figure: str, position: LegFigures, clear: float) -> Mapping[str, Any] | None:
    return margin_remediation(position, figure, clear)


def _liquidation_remedy(position: LegFigures, _clear: float) -> Mapping[str, Any] | None:
    return liquidation_remediation(position)


MARGIN_BUFFER_LOW = PositionFigureRule(
    RuleSpec("margin_buffer_low", "margin buffer low", "instrument", RuleConfig(0.5, 0.55, 0, "warning"),
             FRACTION, FRACTION, "at_or_above"),
    lowest("margin_buffer_fraction"), below, _margin_buffer_message,
    partial(_margin_remedy, "margin_buffer_fraction"),
)
"""Margin buffer ``(margin balance - maintenance margin) / margin balance`` below a fraction.

risk-definitions "Margin (hedge leg)"; the lowest buffer across accounts holding the instrument.
"""

MARGIN_RATIO_HIGH = PositionFigureRule(
    RuleSpec("margin_ratio_high", "margin ratio high", "instrument", RuleConfig(0.8, 0.75, 0, "critical"),
             FRACTION, FRACTION, "at_or_below"),
    highest("margin_ratio"), above, _margin_ratio_message, partial(_margin_remedy, "margin_ratio"),
)
"""Margin ratio ``maintenance margin / margin balance`` above a level (Binance sense).

Liquidation at 100 %; risk-definitions "Margin (hedge leg)"; the highest ratio across accounts
holding the instrument.
"""


def _widest_basis(group: Group) -> Worst:
    """The basis of widest absolute value across an instrument's positions (signed)."""
    worst: Worst = UNKNOWN
    for position in group:
        value = number(position.basis_bps)
        if value is not None and (worst[0] is None or abs(value) > abs(worst[0])):
            worst = (value, position)
    return worst


def _basis_message(
    instrument: str, value: float, _row: LegFigures, status: Status, threshold: float, clear: float
) -> str:
    if status == "breach":
        return f"{instrument} basis {value:+.1f} bps is wider than \u00b1{threshold:.1f} bps"
    return f"{instrument} basis {value:+.1f} bps is back within \u00b1{clear:.1f} bps"


BASIS_WIDE = PositionFigureRule(
    RuleSpec("basis_wide", "basis wide", "instrument", RuleConfig(100.0, 80.0, 60_000, "info"),
             POSITIVE, NON_NEGATIVE, "at_or_below"),
    _widest_basis, wider, _basis_message, labelled=False,
)
"""Basis ``(P - S) / S`` in bps wider than ``±threshold``.

risk-definitions "Funding, fees, basis". The transition's value is the signed basis; the
comparison is on its absolute value, the widest across accounts holding the instrument.
"""


def _funding_paid(group: Group) -> Worst:
    """The highest net funding paid as a fraction of notional, ``-funding_accrued_usd / notional_usd``."""
    worst: Worst = UNKNOWN
    for position in group:
        accrued = number(position.funding_accrued_usd)
        notional = number(position.notional_usd)
        if accrued is None or notional is None or notional <= 0:
            continue
        fraction = -accrued / notional
        if worst[0] is None or fraction > worst[0]:
            worst = (fraction, position)
    return worst


def _funding_message(
    instrument: str, value: float, row: LegFigures, status: Status, threshold: float, clear: float
) -> str:
    accrued = number(row.funding_accrued_usd)
    paid = 0.0 if accrued is None else -accrued
    where = (f"{instrument} (account {account_of(row)}) has paid {usd_text(paid)} net funding since the "
             "hedge began")
    if status == "breach":
        return (f"{where}, {value * 100:.2f} % of its notional, above {threshold * 100:.2f} %: the carry "
                "of the short costs more than planned; weigh rolling to another venue or a dated future")
    return f"{where}, {value * 100:.2f} % of its notional, back at or below {clear * 100:.2f} %"


FUNDING_COST_HIGH = PositionFigureRule(
    RuleSpec("funding_cost_high", "funding paid high", "instrument", RuleConfig(0.001, 0.0008, 0, "warning"),
             FRACTION, FRACTION, "at_or_below"),
    _funding_paid, above, _funding_message,
)
"""Net funding paid ``-funding_accrued_usd / notional_usd`` above a fraction of the notional.

The accrued figure (received - paid since the hedge began; risk-definitions "Funding, fees,
basis") is the smoothed one: one settlement's sign, which flips often, does not move it much,
so the alert follows the cost actually borne. The highest fraction across accounts.
"""


def _widest_divergence(group: Group) -> Worst:
    """The widest ``model_divergence`` figure across an instrument's positions, with its name."""
    worst: Worst = UNKNOWN
    for position in group:
        divergence = position.model_divergence
        for raw in (divergence.liquidation_price, divergence.maintenance_margin_usd):
            value = number(raw)
            if value is not None and (worst[0] is None or value > worst[0]):
                worst = (value, position)
    return worst


def _divergent_figure(row: LegFigures, value: float) -> str:
    """The name of the ``model_divergence`` figure of ``row`` that is ``value`` (the first one)."""
    divergence = row.model_divergence
    figures = (("liquidation_price", divergence.liquidation_price),
               ("maintenance_margin_usd", divergence.maintenance_margin_usd))
    return next((name for name, raw in figures if number(raw) == value), "")


def _model_divergence_message(
    instrument: str, value: float, row: LegFigures, status: Status, threshold: float, clear: float
) -> str:
    account, figure = account_of(row), _divergent_figure(row, value).replace("_", " ")
    if status == "breach":
        return (f"{instrument} (account {account}): the model's {figure} is {percent_text(value)} from "
                f"the venue's own figure, beyond {percent_text(threshold)}; the venue's figure is the truth")
    return (f"{instrument} (account {account}): the model's {figure} is back within "
            f"{percent_text(clear)} of the venue's ({percent_text(value)})")


MODEL_DIVERGENCE = PositionFigureRule(
    RuleSpec("model_divergence", "model diverges from the venue's figure", "instrument",
             RuleConfig(0.005, 0.004, 0, "warning"), POSITIVE, NON_NEGATIVE, "at_or_below"),
    _widest_divergence, above, _model_divergence_message, labelled=False,
)
"""The widest ``model_divergence`` (``|model - venue| / |venue|`` of the liquidation price or the
maintenance margin) across the accounts holding an instrument, above a tolerance; unknown while no
venue figure is reported."""


# --- distance to liquidation, in stages -----------------------------------------------------------


_lowest_distance = lowest("liquidation_distance")


def _liquidation_message(
    positions: Sequence[LegFigures], instrument: str, value: float, row: LegFigures, status: Status,
    threshold: float, clear: float,
) -> str:
    """The distance of ``row``; the liquidation price is the last listed one of its account."""
    account = account_of(row)
    liquidation_price: float | None = None
    for position in positions:
        if position.instrument == instrument and position.account == account:
            liquidation_price = number(position.liquidation_price)
    price_text = f" {liquidation_price:,.2f}" if liquidation_price is not None else ""
    where = (f"{instrument} is {percent_text(value)} from its liquidation price{price_text} "
             f"(account {account})")
    if status == "breach":
        return f"{where}, below {percent_text(threshold)}"
    return f"{where}, at or above {percent_text(clear)}"


def _stage_of(stages: Sequence[tuple[Severity, float]], value: float | None) -> Severity | None:
    """The worst stage whose level ``value`` is below (lower is worse); None if none is crossed."""
    worst: Severity | None = None
    for severity, level in stages:
        if value is not None and value < level and (
                worst is None or SEVERITY_RANK[severity] > SEVERITY_RANK[worst]):
            worst = severity
    return worst


def _vol_units(reading: SnapshotReading, position: LegFigures, distance: float,
               horizon_s: float) -> float | None:
    """Distance to liquidation in volatility units: distance / (sigma per sqrt-second x sqrt(h))."""
    row = reading.snapshot.assets.get(position.asset or "")
    sigma = None if row is None else number(row.realised_volatility)
    if sigma is None or sigma <= 0:
        return None
    return distance / (sigma * math.sqrt(horizon_s))


def _staged_message(
    message: Message, instrument: str, value: float, row: LegFigures, status: Status, level: float,
    clear: float, severity: Severity | None, units: float | None, horizon_s: float,
) -> str:
    text = message(instrument, value, row, status, level, clear)
    if units is not None:
        text += f" ({units:.1f} volatility units over {horizon_s / 3600:g} h)"
    return f"{text} [{severity}]" if severity is not None and status == "breach" else text


@dataclass(frozen=True, slots=True)
class LiquidationDistanceRule:
    """Distance to liquidation ``|LP - P| / P`` below a fraction (risk-definitions "Margin").

    Without stages, the lowest distance across accounts against the levels. With ``stages`` or
    ``vol_stages``, the breach's severity is the worst stage crossed by either measure; the alert
    resolves once the distance is back at the least severe % stage's clear level (its threshold
    plus the rule's hysteresis gap) and, when vol stages are set and the volatility is known, at
    ``VOL_CLEAR_FACTOR`` times the least severe vol level. Volatility units are
    ``distance / (realised volatility x sqrt(vol_horizon_s))`` (``formulas.realised_volatility``).
    """

    spec: RuleSpec
    message: Callable[[Sequence[LegFigures], str, float, LegFigures, Status, float, float], str] = (
        _liquidation_message)

    def observe(
        self, reading: SnapshotReading, rule: RuleConfig, tracked: Container[str]
    ) -> Observations | None:
        """Every breaching or tracked instrument's lowest distance."""
        grouped = reading.open_positions
        message: Message = partial(self.message, reading.snapshot.positions)
        if not rule.stages and not rule.vol_stages:
            threshold, clear = levels(rule)
            return observe_levels(grouped.items(), _lowest_distance, tracked, threshold, clear, compare=below,
                                  message=message, remedy=_liquidation_remedy, labelled=True)
        return self._staged(reading, grouped, rule, tracked, message)

    @staticmethod
    def _staged(
        reading: SnapshotReading, grouped: Mapping[str, Group], rule: RuleConfig, tracked: Container[str],
        message: Message,
    ) -> Observations:
        threshold, clear = levels(rule)
        percent_stages = [(rule.severity, threshold), *rule.stages]
        gap = clear - threshold
        mildest = max(level for _, level in percent_stages)
        clear_level = mildest + gap
        vol_clear = max((level for _, level in rule.vol_stages), default=0.0) * VOL_CLEAR_FACTOR
        observations: Observations = {}
        for instrument, group in grouped.items():
            value, position = _lowest_distance(group)
            units = None if value is None else _vol_units(
                reading, position, value, rule.vol_horizon_s)
            by_percent = _stage_of(percent_stages, value)
            by_vol = _stage_of(rule.vol_stages, units)
            stages: list[Severity] = [stage for stage in (by_percent, by_vol) if stage is not None]
            if value is None:
                status: Status = "unknown"
            elif stages:
                status = "breach"
            elif value >= clear_level and (units is None or not rule.vol_stages or units >= vol_clear):
                status = "clear"
            else:
                status = "between"
            if status != "breach" and instrument not in tracked:
                continue
            severity: Severity | None = None
            for stage in stages:
                if severity is None or SEVERITY_RANK[stage] > SEVERITY_RANK[severity]:
                    severity = stage
            level = next((lvl for sev, lvl in percent_stages if sev == by_percent), mildest)
            describe = no_message
            if value is not None:
                describe = partial(_staged_message, message, instrument, value, position, status, level,
                                   clear_level, severity, units if rule.vol_stages else None,
                                   rule.vol_horizon_s)
            remediation = _liquidation_remedy(position, clear) if status == "breach" else None
            observations[instrument] = Observation(status, value, level, clear_level, describe, remediation,
                                                   account_of(position) if value is not None else None,
                                                   severity)
        return observations


LIQUIDATION_DISTANCE_LOW = LiquidationDistanceRule(
    RuleSpec("liquidation_distance_low", "liquidation distance low", "instrument",
             RuleConfig(0.05, 0.06, 0, "critical"), FRACTION, FRACTION, "at_or_above", staged=True),
)


# --- figures of a snapshot section: effectiveness, accounts ---------------------------------------


@dataclass(frozen=True, slots=True)
class SectionFigureRule:
    """One figure of each row of a snapshot section (``effectiveness.<A>.r2``) against the levels."""

    spec: RuleSpec
    section: str
    figure: str
    compare: Compare
    message: Message

    def observe(
        self, reading: SnapshotReading, rule: RuleConfig, tracked: Container[str]
    ) -> Observations | None:
        """Every breaching or tracked row's figure."""
        rows: Mapping[str, Effectiveness | AccountFigures] = getattr(reading.snapshot, self.section)
        threshold, clear = levels(rule)
        return observe_levels(rows.items(), self.pick, tracked, threshold, clear, compare=self.compare,
                              message=self.message)

    def pick(self, row: Effectiveness | AccountFigures) -> Worst:
        """The rule's figure of one row of the section, with the row."""
        value = number(getattr(row, self.figure))
        return UNKNOWN if value is None else (value, row)


def _r2_message(
    asset: str, value: float, row: Effectiveness, status: Status, threshold: float, clear: float
) -> str:
    samples = number(row.samples)
    samples_text = f" over {int(samples)} samples" if samples is not None else ""
    if status == "breach":
        return (f"{asset} hedge regression R\u00b2 {ratio_text(value)}{samples_text} is below "
                f"{ratio_text(threshold)}")
    return (
        f"{asset} hedge regression R\u00b2 {ratio_text(value)}{samples_text} is back at or "
        f"above {ratio_text(clear)}"
    )


R2_LOW = SectionFigureRule(
    RuleSpec("r2_low", "hedge regression R\u00b2 low", "asset", RuleConfig(0.80, 0.85, 0, "warning"),
             FRACTION, FRACTION, "at_or_above"),
    "effectiveness", "r2", below, _r2_message,
)
"""R² of the regression of ``dF`` on ``dS`` below a level (ASC 815 practice: >= 0.80)."""


def _account_margin_message(
    account: str, value: float, row: AccountFigures, status: Status, threshold: float, clear: float
) -> str:
    mode = row.mode
    ratio = number(row.venue.maintenance_margin_ratio)
    ratio_note = "" if ratio is None else f" (margin ratio {percent_text(ratio)})"
    if status == "breach":
        return (f"account {account} ({mode}) has used {percent_text(value)} of its margin to the venue's "
                f"liquidation level{ratio_note}, above {percent_text(threshold)}")
    return (f"account {account} ({mode}) is back at {percent_text(value)} of its margin to "
            f"liquidation{ratio_note}, at or below {percent_text(clear)}")


ACCOUNT_MARGIN_RATIO_HIGH = SectionFigureRule(
    RuleSpec("account_margin_ratio_high", "account margin ratio high", "account",
             RuleConfig(0.8, 0.75, 0, "critical"), FRACTION, FRACTION, "at_or_below"),
    "accounts", "buffer_used", above, _account_margin_message,
)
"""A unified / portfolio-margin account's ``buffer_used``: its maintenance margin ratio over the
venue's liquidation ratio (Bybit ``accountMMRate`` over 100 %, Binance ``1/uniMMR`` over ``1/1.05``,
OKX ``1/mgnRatio`` over 100 %), the venue's figure or its model between updates, whichever is
higher; above a fraction."""


# --- dollar offset and cost budget ----------------------------------------------------------------


def _dollar_offset_message(
    asset: str, value: float, status: Status, bounds: tuple[float, float], clear_bounds: tuple[float, float]
) -> str:
    if status == "breach":
        band_text = f"{ratio_text(bounds[0])}{EN_DASH}{ratio_text(bounds[1])}"
        return f"{asset} dollar offset {ratio_text(value)} is outside the effective range {band_text}"
    clear_text = f"{ratio_text(clear_bounds[0])}{EN_DASH}{ratio_text(clear_bounds[1])}"
    return f"{asset} dollar offset {ratio_text(value)} is back within {clear_text}"


@dataclass(frozen=True, slots=True)
class DollarOffsetRule:
    """Dollar offset ``-(F_t - F_0) / (S_t - S_0)`` outside ``[t, 1/t]`` (IAS 39 AG105: 80-125 %).

    Resolves inside ``[c, 1/c]``. The transition's threshold is the bound that was crossed.
    """

    spec: RuleSpec
    message: Callable[[str, float, Status, tuple[float, float], tuple[float, float]], str] = (
        _dollar_offset_message
    )

    def observe(
        self, reading: SnapshotReading, rule: RuleConfig, tracked: Container[str]
    ) -> Observations | None:
        """Every breaching or tracked asset's dollar offset."""
        lower, clear_lower = levels(rule)
        upper, clear_upper = 1.0 / lower, 1.0 / clear_lower
        observations: Observations = {}
        for asset, figures in reading.snapshot.effectiveness.items():
            value = number(figures.dollar_offset)
            if value is None:
                if asset in tracked:
                    observations[asset] = Observation("unknown", None, None, None)
                continue
            if value < lower or value > upper:
                status: Status = "breach"
            elif clear_lower <= value <= clear_upper:
                status = "clear"
            else:
                status = "between"
            if status != "breach" and asset not in tracked:
                continue
            threshold = lower if value < 1.0 else upper
            clear = clear_lower if value < 1.0 else clear_upper
            describe = partial(self.message, asset, value, status, (lower, upper), (clear_lower, clear_upper))
            observations[asset] = Observation(status, value, threshold, clear, describe)
        return observations


DOLLAR_OFFSET_OUT_OF_BAND = DollarOffsetRule(
    RuleSpec("dollar_offset_out_of_band", "dollar offset out of band", "asset",
             RuleConfig(0.80, 0.85, 0, "warning"), OPEN_FRACTION, OPEN_FRACTION, "at_or_above"),
)


def _cost_message(cost: float, budget: float, status: Status, fraction: float, clear_fraction: float) -> str:
    if status == "breach":
        return (f"hedge cost {usd_text(cost)} is above {percent_text(fraction)} of the cost budget "
                f"{usd_text(budget)}")
    return (
        f"hedge cost {usd_text(cost)} is back at or below {percent_text(clear_fraction)} of the cost "
        f"budget {usd_text(budget)}"
    )


@dataclass(frozen=True, slots=True)
class CostBudgetRule:
    """Hedge cost ``fees + funding paid - funding received`` above ``threshold * cost budget``.

    risk-definitions "Funding, fees, basis" and "Hedge lifecycle". Subject: "portfolio".
    """

    spec: RuleSpec
    message: Callable[[float, float, Status, float, float], str] = _cost_message

    def observe(
        self, reading: SnapshotReading, rule: RuleConfig, tracked: Container[str]
    ) -> Observations | None:
        """The portfolio's hedge cost against its budget."""
        costs = reading.snapshot.costs
        fraction, clear_fraction = levels(rule)
        cost = number(costs.hedge_cost_usd)
        budget = number(costs.cost_budget_usd)
        if cost is None or budget is None:
            if PORTFOLIO_SUBJECT not in tracked:
                return {}
            return {PORTFOLIO_SUBJECT: Observation("unknown", cost, None, None)}
        threshold, clear = fraction * budget, clear_fraction * budget
        status = above(cost, threshold, clear)
        if status != "breach" and PORTFOLIO_SUBJECT not in tracked:
            return {}
        describe = partial(self.message, cost, budget, status, fraction, clear_fraction)
        return {PORTFOLIO_SUBJECT: Observation(status, cost, threshold, clear, describe)}


COST_BUDGET_EXCEEDED = CostBudgetRule(
    RuleSpec("cost_budget_exceeded", "cost budget exceeded", "portfolio", RuleConfig(1.0, 0.95, 0, "warning"),
             POSITIVE, NON_NEGATIVE, "at_or_below"),
)


# --- flags ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LifecycleFlagRule:
    """A hedge-plan flag ``lifecycle.<A>.<flag>`` (risk-definitions "Hedge lifecycle").

    ``firing`` words the breach from the asset's ``assets`` row; ``resolved`` follows the asset.
    """

    spec: RuleSpec
    flag: str
    firing: Callable[[str, AssetFigures | None], str]
    resolved: str

    def message(self, assets: Mapping[str, AssetFigures], asset: str, status: Status) -> str:
        """The breach's or the clear's sentence for ``asset``."""
        if status == "breach":
            return self.firing(asset, assets.get(asset))
        return f"{asset} {self.resolved}"

    def observe(
        self, reading: SnapshotReading, _rule: RuleConfig, tracked: Container[str]
    ) -> Observations | None:
        """Every raised or tracked asset's flag."""
        message: FlagMessage = partial(self.message, reading.snapshot.assets)
        return observe_flags(reading.snapshot.lifecycle.items(), self.raised, tracked, message)

    def raised(self, _asset: str, figures: object) -> object:
        """The flag in one asset's ``lifecycle`` row."""
        return getattr(figures, self.flag)


def _expired_text(asset: str, _figures: AssetFigures | None) -> str:
    return f"{asset} hedge plan has expired: roll or close the hedge"


def _exit_text(asset: str, figures: AssetFigures | None) -> str:
    price = None if figures is None else number(figures.price)
    price_text = f" at {price:,.2f}" if price is not None else ""
    return f"{asset} price{price_text} crossed the hedge plan's exit level"


def _stop_loss_text(asset: str, _figures: AssetFigures | None) -> str:
    return f"{asset} hedge leg reached its stop-loss"


HEDGE_EXPIRED = LifecycleFlagRule(
    RuleSpec("hedge_expired", "hedge expired", "asset", RuleConfig(None, None, 0, "warning")),
    "expired", _expired_text, "hedge plan is no longer expired",
)
"""``lifecycle.<A>.expired``: the hedge plan's expiry has passed (risk-definitions)."""

EXIT_LEVEL_CROSSED = LifecycleFlagRule(
    RuleSpec("exit_level_crossed", "exit level crossed", "asset", RuleConfig(None, None, 0, "warning")),
    "exit_level_crossed", _exit_text, "price is back on the hedge side of its exit level",
)
"""``lifecycle.<A>.exit_level_crossed``: the plan's exit price level was crossed."""

STOP_LOSS_HIT = LifecycleFlagRule(
    RuleSpec("stop_loss_hit", "stop-loss hit", "asset", RuleConfig(None, None, 0, "critical")),
    "stop_loss_hit", _stop_loss_text, "hedge leg is back above its stop-loss",
)
"""``lifecycle.<A>.stop_loss_hit``: the hedge leg's USD loss reached the plan's stop-loss."""


def _raised(_subject: str, _source: object) -> bool:
    return True


def _listed(listed: Container[str], subject: str, _source: object) -> bool:
    return subject in listed


def _stale_message(instrument: str, status: Status) -> str:
    if status == "breach":
        return f"{instrument} price feed is stale; risk figures that use it are out of date"
    return f"{instrument} price feed is live again"


@dataclass(frozen=True, slots=True)
class StaleFeedRule:
    """An instrument the portfolio holds (in ``positions``) is listed in ``feeds.stale``."""

    spec: RuleSpec
    message: FlagMessage = _stale_message

    def observe(
        self, reading: SnapshotReading, _rule: RuleConfig, tracked: Container[str]
    ) -> Observations | None:
        """Every held instrument listed stale, or tracked."""
        stale = set(reading.snapshot.feeds.stale)
        return observe_flags(reading.open_positions.items(), partial(_listed, stale), tracked, self.message)


STALE_FEED = StaleFeedRule(
    RuleSpec("stale_feed", "stale price feed", "instrument", RuleConfig(None, None, 0, "warning")),
)


def _unpriced_message(reasons: Mapping[str, set[str]], instrument: str, _status: Status) -> str:
    return (f"{instrument}: a position is held with {' and '.join(sorted(reasons[instrument]))}; its risk "
            "figures and those it shares (cross margin, hedge ratio, stress) are unknown")


@dataclass(frozen=True, slots=True)
class UnpricedPositionRule:
    """An instrument listed in ``unpriced_positions``: held with no contract terms or no price.

    A listed instrument is a breach; one no longer listed is gone (its alert resolves).
    """

    spec: RuleSpec
    message: Callable[[Mapping[str, set[str]], str, Status], str] = _unpriced_message

    def observe(
        self, reading: SnapshotReading, _rule: RuleConfig, tracked: Container[str]
    ) -> Observations | None:
        """Every listed instrument, as a breach."""
        reasons: dict[str, set[str]] = {}
        item: UnpricedLeg
        for item in reading.snapshot.unpriced_positions:
            reasons.setdefault(item.instrument, set()).add(item.reason)
        message: FlagMessage = partial(self.message, reasons)
        return observe_flags(reasons.items(), _raised, tracked, message)


UNPRICED_POSITION = UnpricedPositionRule(
    RuleSpec("unpriced_position", "position without price or contract terms", "instrument",
             RuleConfig(None, None, 0, "warning")),
)


def _adl_message(instrument: str, account: str, rank: int, top: int, pnl: float | None,
                 status: Status) -> str:
    if status == "breach":
        pnl_text = "" if pnl is None else f", unrealised PnL {usd_text(pnl)}"
        return (f"{instrument} (account {account}) is in the venue's top auto-deleveraging bucket "
                f"({rank} of {top}){pnl_text}: an ADL would close this hedge leg")
    return f"{instrument} is no longer a profitable leg in the top auto-deleveraging bucket"


@dataclass(frozen=True, slots=True)
class AdlTopBucketRule:
    """A profitable hedge leg (``unrealized_pnl_usd`` > 0) whose venue ADL rank is the top bucket
    (Binance adlQuantile 4, Bybit ``adlRankIndicator`` 5, OKX ``adl`` 5): the venue deleverages
    the most profitable, most leveraged positions first, so it would close this hedge."""

    spec: RuleSpec
    message: Callable[[str, str, int, int, float | None, Status], str] = _adl_message

    def observe(
        self, reading: SnapshotReading, _rule: RuleConfig, tracked: Container[str]
    ) -> Observations | None:
        """Every instrument with a profitable leg in the top bucket, or tracked."""
        grouped = reading.open_positions
        observations: Observations = {}
        for instrument, group in grouped.items():
            breach: tuple[str, int, int, float | None] | None = None
            known = False
            for position in group:
                venue = position.venue_figures
                rank = None if venue is None else venue.adl_rank
                top = None if venue is None else venue.adl_rank_top
                if rank is None or top is None or top < 1:
                    continue
                known = True
                pnl = number(position.unrealized_pnl_usd)
                if rank >= top and pnl is not None and pnl > 0:
                    breach = (position.account, rank, top, pnl)
            if breach is not None:
                account, rank, top, pnl = breach
                observations[instrument] = Observation(
                    "breach", float(rank), float(top), None,
                    partial(self.message, instrument, account, rank, top, pnl, "breach"))
            elif instrument in tracked:
                status: Status = "clear" if known else "unknown"
                observations[instrument] = Observation(
                    status, None, None, None, partial(self.message, instrument, "", 0, 0, None, status))
        return observations


ADL_TOP_BUCKET = AdlTopBucketRule(
    RuleSpec("adl_top_bucket", "hedge leg in the top ADL bucket", "instrument",
             RuleConfig(None, None, 0, "warning")),
)


# --- reported from outside the snapshot -----------------------------------------------------------


def _reported_message(message: str) -> str:
    return message


@dataclass(frozen=True, slots=True)
class ExternalRule:
    """A condition detected outside the snapshot and fed through ``AlertEngine.report_condition``,
    which gives its sentence; the snapshot holds nothing of it."""

    spec: RuleSpec
    message: Callable[[str], str] = _reported_message

    def observe(self, _reading: SnapshotReading, _rule: RuleConfig, _tracked: Container[str]) -> None:
        """Nothing: the snapshot does not carry the condition."""
        return


POSITION_MISMATCH = ExternalRule(
    RuleSpec("position_mismatch", "position mismatch", "instrument", RuleConfig(None, None, 0, "critical"),
             external=True),
)
"""A resync found positions that differ from the stream's (``report_condition``)."""

HEDGE_BROKEN = ExternalRule(
    RuleSpec("hedge_broken", "hedge broken by a liquidation or ADL", "instrument",
             RuleConfig(None, None, 0, "critical"), external=True),
)
"""A liquidation or ADL fill closed hedge contracts; an own trade re-hedging the leg clears it."""


# --- every rule, in the order of the table above --------------------------------------------------


ALL_RULES = (
    HEDGE_RATIO_LOW,
    HEDGE_RATIO_HIGH,
    MARGIN_BUFFER_LOW,
    MARGIN_RATIO_HIGH,
    LIQUIDATION_DISTANCE_LOW,
    DOLLAR_OFFSET_OUT_OF_BAND,
    R2_LOW,
    BASIS_WIDE,
    COST_BUDGET_EXCEEDED,
    HEDGE_EXPIRED,
    EXIT_LEVEL_CROSSED,
    STOP_LOSS_HIT,
    STALE_FEED,
    POSITION_MISMATCH,
    FUNDING_COST_HIGH,
    MODEL_DIVERGENCE,
    ACCOUNT_MARGIN_RATIO_HIGH,
    ADL_TOP_BUCKET,
    HEDGE_BROKEN,
    UNPRICED_POSITION,
)
"""Every alert rule, in the order of ``AlertsConfig``'s fields (``monitor.alerts.registry``)."""
