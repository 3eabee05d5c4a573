"""The risk snapshot as typed values: what the book builds and alerts, metrics and the view read.

Every value is frozen and built by keyword; its field names and order are the ``hedge.risk`` JSON
keys (docs/topics.md, ``monitor/schemas/risk.json``), so the codec writes a snapshot with one
``orjson.dumps`` and reads one back with ``monitor.codec.decode_risk``: JSON exists only there.
A figure that is unknown is None (never a placeholder that reads as safe).

The values keep their fields in an instance dict rather than slots, and ``value`` gives each class
an ``__init__`` that sets that dict in one step: measured on this snapshot (docs/performance.md,
2026-12-04), orjson wrote frozen slotted dataclasses 5 times slower than dicts (it reads a slotted
instance field by field, an instance dict at once), and the dataclass ``__init__`` of a frozen
class sets each field through ``object.__setattr__``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, Literal, TypeVar, dataclass_transform

from monitor.domain.events import MarginMode, PositionSide
from monitor.domain.remediation import LiquidationRemediation

_Value = TypeVar("_Value")


@dataclass_transform(kw_only_default=True, frozen_default=True, field_specifiers=(field,))
def value(cls: type[_Value]) -> type[_Value]:
    """A frozen dataclass built by keyword whose ``__init__`` sets its instance dict in one step.

    The dict holds every field in the class's order (the given values over the defaults), so the
    JSON orjson writes from it lists the fields in that order.
    """
    cls = dataclass(frozen=True, kw_only=True)(cls)
    items = fields(cls)  # type: ignore[arg-type]
    defaults: dict[str, Any] = {}
    required: list[str] = []
    factories: list[tuple[str, Callable[[], Any]]] = []
    for item in items:
        if item.default is not MISSING:
            defaults[item.name] = item.default
        else:
            defaults[item.name] = None  # a placeholder: keeps the field's place in the order
            if item.default_factory is not MISSING:
                factories.append((item.name, item.default_factory))
            else:
                required.append(item.name)
    count = len(defaults)
    name = cls.__qualname__

    def __init__(self: object, **values: Any) -> None:  # noqa: N807 -- the class's initialiser
        merged = {**defaults, **values}
        if len(merged) != count:
            unknown = ", ".join(repr(key) for key in values if key not in defaults)
            raise TypeError(f"{name}.__init__() got an unexpected keyword argument {unknown}")
        for key in required:
            if key not in values:
                raise TypeError(f"{name}.__init__() missing required keyword argument {key!r}")
        for key, factory in factories:
            if key not in values:
                merged[key] = factory()
        object.__setattr__(self, "__dict__", merged)

    __init__.__qualname__ = f"{name}.__init__"
    cls.__init__ = __init__  # type: ignore[method-assign]
    return cls


ContractType = Literal["perpetual", "future"]
UnpricedReason = Literal["no contract terms", "no price"]


@value
class ModelFigures:
    """The model's liquidation price, maintenance margin (USD) and margin ratio of a leg, as of
    its mark's event time."""

    source: Literal["model"] = "model"
    as_of_ms: int | None = None
    liquidation_price: float | None = None
    maintenance_margin_usd: float | None = None
    margin_ratio: float | None = None


@value
class VenueFigures:
    """The venue's own figures of a leg, as of the event that carried them."""

    source: Literal["venue"] = "venue"
    as_of_ms: int = 0
    liquidation_price: float | None = None
    maintenance_margin_usd: float | None = None
    margin_ratio: float | None = None
    adl_rank: int | None = None
    adl_rank_top: int | None = None


@value
class Divergence:
    """``|model - venue| / |venue|`` of a leg's liquidation price and maintenance margin.

    These are the figures the venue and the model define alike. The margin ratio is shown beside
    the model's but not compared: the venues define it differently (OKX ``mgnRatio`` counts the
    closing fee in the requirement, Binance's is the account's).
    """

    liquidation_price: float | None = None
    maintenance_margin_usd: float | None = None


UNKNOWN_DIVERGENCE = Divergence()
"""A leg without venue figures (or without a price): both divergences unknown."""


@value
class LegFigures:
    """One leg's figures (``positions[]``): by its venue's margin model, in USD at its mark.

    A leg without contract terms has no ``asset``, ``hedges`` or ``kind`` and no figure that needs
    them; a leg without a price has its terms but no figure that needs a mark.
    """

    account: str
    instrument: str
    position_side: PositionSide = "one_way"
    asset: str | None = None
    hedges: str | None = None
    kind: str | None = None
    margin_model: str
    quantity: float | None = None
    entry_price: float | None = None
    mark_price: float | None = None
    margin_mode: MarginMode = "cross"
    funding_rate: float | None = None
    funding_accrued_usd: float | None = None
    fees_usd: float | None = None
    contract_type: ContractType | None = None
    expiry_ms: int | None = None
    time_to_expiry_s: float | None = None
    annualized_basis: float | None = None
    notional_usd: float | None = None
    delta: float | None = None
    unrealized_pnl_usd: float | None = None
    maintenance_margin_usd: float | None = None
    margin_balance_usd: float | None = None
    margin_ratio: float | None = None
    margin_buffer_usd: float | None = None
    margin_buffer_fraction: float | None = None
    liquidation_price: float | None = None
    liquidation_distance: float | None = None
    basis_bps: float | None = None
    remediation: LiquidationRemediation | None = None
    model_figures: ModelFigures | None = None
    venue_figures: VenueFigures | None = None
    model_divergence: Divergence = UNKNOWN_DIVERGENCE


@value
class AssetFigures:
    """One asset's deltas, hedge ratio and rebalance (``assets.<A>``)."""

    price: float | None = None
    spot_delta: float = 0.0
    futures_delta: float | None = None
    net_delta: float | None = None
    net_delta_usd: float | None = None
    hedge_ratio: float | None = None
    target_hedge_ratio: float | None = None
    hedge_band: float | None = None
    contracts_to_target: float | None = None
    hedge_instrument: str | None = None
    residual_delta: float | None = None
    standard_contracts_to_target: float | None = None
    standard_residual_delta: float | None = None
    basis_bps: float | None = None
    min_variance_ratio: float | None = None
    realised_volatility: float | None = None


@value
class Effectiveness:
    """One asset's hedge effectiveness over the sampled window (``effectiveness.<A>``)."""

    dollar_offset: float | None = None
    slope: float | None = None
    r2: float | None = None
    variance_reduction: float | None = None
    samples: int = 0
    spot_change_usd: float = 0.0
    hedge_change_usd: float = 0.0
    effective: bool | None = None


@value
class StressRow:
    """The portfolio's PnL at one price shock (``stress[]``); liquidation caps a leg's loss."""

    shock: float
    spot_pnl_usd: float
    hedge_pnl_usd: float | None
    net_pnl_usd: float | None
    liquidated: tuple[str, ...] = ()


@value
class Costs:
    """Funding, fees and what the hedge cost and protected (``costs``)."""

    funding_received_usd: float | None = None
    funding_paid_usd: float | None = None
    fees_usd: float | None = None
    hedge_cost_usd: float | None = None
    protection_usd: float | None = None
    cost_budget_usd: float | None = None


@value
class Lifecycle:
    """One plan's lifecycle flags (``lifecycle.<A>``)."""

    time_left_s: float | None = None
    expired: bool = False
    exit_level_crossed: bool = False
    stop_loss_hit: bool = False
    cost_budget_exceeded: bool = False
    opportunity_cost_usd: float = 0.0
    hedge_pnl_usd: float = 0.0


@value
class Feeds:
    """The held instruments whose feed is stale."""

    stale: tuple[str, ...] = ()


NO_STALE_FEEDS = Feeds()
"""No held instrument's feed is stale (the common case, shared)."""


@value
class Latency:
    """Milliseconds from the latest event to the publish (None when not published)."""

    event_to_publish: float | None = None


@value
class AccountVenueFigures:
    """A unified or portfolio-margin account's own margin figures, as of its update."""

    source: Literal["venue"] = "venue"
    as_of_ms: int = 0
    venue_figure: str = ""
    venue_value: float | None = None
    maintenance_margin_ratio: float | None = None
    equity_usd: float | None = None
    maintenance_margin_usd: float | None = None
    status: str | None = None


@value
class AccountModelFigures:
    """The model of an account's maintenance ratio, moved with the marks since the venue's."""

    source: Literal["model"] = "model"
    as_of_ms: int = 0
    maintenance_margin_ratio: float | None = None


@value
class AccountFigures:
    """One account's margin figures (``accounts.<X>``): the venue's beside the model's."""

    mode: str
    liquidation_ratio: float
    venue: AccountVenueFigures
    model: AccountModelFigures
    model_divergence: float | None = None
    buffer_used: float | None = None


@value
class UnpricedLeg:
    """An open leg with no contract terms or no price, and why (``unpriced_positions[]``)."""

    account: str
    instrument: str
    position_side: PositionSide
    reason: UnpricedReason


@value
class RiskSnapshot:
    """One portfolio's every figure of risk-definitions.md: the ``hedge.risk`` value.

    ``seq``, ``ts_ms`` (the publish time) and ``latency_ms`` are the publisher's, given when the
    value is built: it is never patched afterwards.
    """

    v: Literal[1] = 1
    type: Literal["risk"] = "risk"
    portfolio: str
    seq: int = 0
    ts_ms: int = 0
    ts_event_ms: int = 0
    assets: dict[str, AssetFigures] = field(default_factory=dict)
    positions: tuple[LegFigures, ...] = ()
    effectiveness: dict[str, Effectiveness] = field(default_factory=dict)
    stress: tuple[StressRow, ...] = ()
    costs: Costs = Costs()
    lifecycle: dict[str, Lifecycle] = field(default_factory=dict)
    feeds: Feeds = NO_STALE_FEEDS
    latency_ms: Latency = Latency()
    accounts: dict[str, AccountFigures] = field(default_factory=dict)
    unpriced_positions: tuple[UnpricedLeg, ...] = ()


def position_remediation(position: LegFigures) -> dict[str, Any] | None:
    """The alert's remediation from a leg's ``remediation`` (None when it has none)."""
    remedy = position.remediation
    if remedy is None or not math.isfinite(remedy.add_margin):
        return None
    return {"kind": "liquidation", "instrument": position.instrument,
            "account": position.account, **remedy.to_dict()}
