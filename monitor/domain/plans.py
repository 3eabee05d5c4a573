"""Hedge plans: what a trader intends a hedge to do (risk-definitions.md, "Hedge lifecycle")."""

from __future__ import annotations

from dataclasses import dataclass, field

STABLE_ASSETS: frozenset[str] = frozenset({"USD", "USDT", "USDC", "FDUSD", "BUSD", "DAI"})


@dataclass(frozen=True, slots=True)
class HedgePlan:
    """The hedge of one asset: instrument, target ratio and band, lifecycle limits.

    ``spot_source`` names the instrument (``venue:symbol``) whose price is the asset's reference
    price S; without it the hedge instrument's index is (``HedgeBook.reference_price``).
    """

    asset: str
    instrument: str | None = None
    target_ratio: float = 1.0
    band: float = 0.1
    start_ms: int | None = None
    expiry_ms: int | None = None
    exit_above: float | None = None
    exit_below: float | None = None
    stop_loss_usd: float | None = None
    cost_budget_usd: float | None = None
    spot_source: str | None = None


@dataclass(frozen=True, slots=True)
class EffectivenessSettings:
    """Sampling clock and window of the rolling effectiveness and min-variance statistics."""

    sample_interval_ms: int = 60_000
    window: int = 120
    min_move_fraction: float = 0.005


@dataclass(frozen=True, slots=True)
class PortfolioSettings:
    """Per-portfolio settings; a portfolio that no config names gets the defaults."""

    plans: dict[str, HedgePlan] = field(default_factory=dict)
    default_target_ratio: float = 1.0
    default_band: float = 0.1
    effectiveness: EffectivenessSettings = field(default_factory=EffectivenessSettings)
    shocks: tuple[float, ...] = (-0.2, -0.1, -0.05, 0.05, 0.1, 0.2)

    def plan_for(self, asset: str) -> HedgePlan:
        """The asset's plan, or a default plan with the default target and band."""
        plan = self.plans.get(asset)
        if plan is not None:
            return plan
        return HedgePlan(asset=asset, target_ratio=self.default_target_ratio, band=self.default_band)
