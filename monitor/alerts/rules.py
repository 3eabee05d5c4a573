"""Alert rules: their configuration and how each one reads a risk snapshot.

A rule looks at one figure of the risk snapshot (``docs/topics.md``) per subject, an asset ("BTC"),
an instrument ("okx:BTC-USDT-SWAP") or the whole portfolio, and classifies it as

- ``breach``: beyond the firing threshold (the alert goes pending, then fires after ``for_ms``);
- ``between``: past neither threshold (a firing alert stays firing: hysteresis);
- ``clear``: back past the clear threshold (a firing alert resolves);
- ``unknown``: the figure is null or missing (the alert keeps its state).

A subject missing from a section that is present (a closed position, an asset no longer held) is
"gone" and its alerts resolve; a section that is missing or null as a whole is unknown.

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
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Container, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from functools import partial
from typing import Any, Literal

from monitor.alerts.remediation import (
    hedge_ratio_remediation,
    liquidation_remediation,
    margin_remediation,
    with_remediation,
)
from monitor.errors import HedgeMonitorError

Severity = Literal["critical", "warning", "info", "emergency"]
SEVERITIES: tuple[Severity, ...] = ("critical", "warning", "info")
"""The severities a rule's own ``severity`` takes."""
STAGE_SEVERITIES: tuple[Severity, ...] = ("warning", "critical", "emergency")
"""The severities of a staged rule's extra stages (``stages``, ``vol_stages``), least severe first."""
ALL_SEVERITIES: tuple[Severity, ...] = ("critical", "warning", "info", "emergency")
SEVERITY_RANK: Mapping[str, int] = {"info": 0, "warning": 1, "critical": 2, "emergency": 3}
"""How bad a severity is: a stage re-notifies only when it ranks above the one already sent."""
DEFAULT_VOL_HORIZON_S = 3600.0
VOL_CLEAR_FACTOR = 1.2
"""A volatility-unit stage clears at this multiple of the least severe vol threshold (hysteresis)."""
Status = Literal["breach", "between", "clear", "unknown"]
SubjectKind = Literal["asset", "instrument", "portfolio", "account"]

EN_DASH = "\u2013"
DEFAULT_REMEDIATION_DISTANCE = 0.06
"""The distance to liquidation a remediation restores when no alert config says (the default clear)."""
PORTFOLIO_SUBJECT = "portfolio"
"""The subject of portfolio-wide rules (``cost_budget_exceeded``)."""


class AlertConfigError(HedgeMonitorError, ValueError):
    """An alert setting is unknown, of the wrong type or outside its range.

    ``key_path`` is where (the rule and its setting under the table ``prefix``; empty: the table
    itself) and ``reason`` what is wrong; ``str`` reads ``<source>: <prefix>.<key path>: <reason>``.
    """

    def __init__(
        self, reason: str, *, source: str = "", prefix: str = "", key_path: tuple[str, ...] = ()
    ) -> None:
        self.reason = reason
        self.source = source
        self.prefix = prefix
        self.key_path = key_path
        where = ".".join(part for part in (prefix, *key_path) if part)
        text = f"{where}: {reason}" if where else reason
        super().__init__(f"{source}: {text}" if source else text)


@dataclass(frozen=True, slots=True)
class RuleConfig:
    """Settings of one rule; ``threshold``/``clear_threshold`` are None for rules without levels."""

    threshold: float | None
    clear_threshold: float | None
    for_ms: int = 0
    severity: Severity = "warning"
    enabled: bool = True
    stages: tuple[tuple[Severity, float], ...] = ()
    """Extra stages of a staged rule on its own figure: (severity, threshold), e.g. warning 0.08."""
    vol_stages: tuple[tuple[Severity, float], ...] = ()
    """Stages in volatility units (the figure / realised volatility over ``vol_horizon_s``)."""
    vol_horizon_s: float = DEFAULT_VOL_HORIZON_S


@dataclass(frozen=True, slots=True)
class _Range:
    """A numeric range with the wording used in error messages."""

    low: float | None
    high: float | None
    low_inclusive: bool
    high_inclusive: bool
    text: str

    def contains(self, value: float) -> bool:
        if self.low is not None and (value < self.low or (value == self.low and not self.low_inclusive)):
            return False
        return not (
            self.high is not None and (value > self.high or (value == self.high and not self.high_inclusive))
        )


_FRACTION = _Range(0.0, 1.0, True, True, "a number between 0 and 1")
_OPEN_FRACTION = _Range(0.0, 1.0, False, False, "a number greater than 0 and less than 1")
_POSITIVE = _Range(0.0, None, False, False, "a number greater than 0")
_NON_NEGATIVE = _Range(0.0, None, True, False, "a number at or above 0")

Relation = Literal["at_or_above", "at_or_below", "independent"]

RULE_COMMON_KEYS: tuple[str, ...] = ("enabled", "for_ms", "severity")
"""Keys every rule's table takes."""
RULE_LEVEL_KEYS: tuple[str, ...] = ("threshold", "clear_threshold")
"""Keys only a rule with levels takes (``RuleSpec.has_levels``)."""
RULE_STAGE_KEYS: tuple[str, ...] = ("stages", "vol_stages", "vol_horizon_s")
"""Keys only a staged rule takes (``RuleSpec.staged``)."""


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """What a rule is: its subject kind, the ranges of its levels and its defaults."""

    name: str
    label: str
    subject_kind: SubjectKind
    default: RuleConfig
    threshold_range: _Range | None = None
    clear_range: _Range | None = None
    clear_relation: Relation = "independent"
    external: bool = False
    staged: bool = False
    """Whether the rule takes ``stages``, ``vol_stages`` and ``vol_horizon_s`` (lower is worse)."""

    @property
    def has_levels(self) -> bool:
        """Whether the rule takes ``threshold`` and ``clear_threshold``."""
        return self.threshold_range is not None

    @property
    def setting_keys(self) -> tuple[str, ...]:
        """The keys the rule's table takes: the common ones, then the levels when it has them."""
        keys = (*RULE_COMMON_KEYS, *RULE_LEVEL_KEYS) if self.has_levels else RULE_COMMON_KEYS
        return (*keys, *RULE_STAGE_KEYS) if self.staged else keys


RULE_SPECS: tuple[RuleSpec, ...] = (
    RuleSpec(
        "hedge_ratio_low",
        "hedge ratio below target band",
        "asset",
        RuleConfig(0.10, 0.5, 0, "warning"),
        _POSITIVE,
        _FRACTION,
    ),
    RuleSpec(
        "hedge_ratio_high",
        "hedge ratio above target band",
        "asset",
        RuleConfig(0.10, 0.5, 0, "warning"),
        _POSITIVE,
        _FRACTION,
    ),
    RuleSpec(
        "margin_buffer_low",
        "margin buffer low",
        "instrument",
        RuleConfig(0.5, 0.55, 0, "warning"),
        _FRACTION,
        _FRACTION,
        "at_or_above",
    ),
    RuleSpec(
        "margin_ratio_high",
        "margin ratio high",
        "instrument",
        RuleConfig(0.8, 0.75, 0, "critical"),
        _FRACTION,
        _FRACTION,
        "at_or_below",
    ),
    RuleSpec(
        "liquidation_distance_low",
        "liquidation distance low",
        "instrument",
        RuleConfig(0.05, 0.06, 0, "critical"),
        _FRACTION,
        _FRACTION,
        "at_or_above",
        staged=True,
    ),
    RuleSpec(
        "dollar_offset_out_of_band",
        "dollar offset out of band",
        "asset",
        RuleConfig(0.80, 0.85, 0, "warning"),
        _OPEN_FRACTION,
        _OPEN_FRACTION,
        "at_or_above",
    ),
    RuleSpec(
        "r2_low",
        "hedge regression R\u00b2 low",
        "asset",
        RuleConfig(0.80, 0.85, 0, "warning"),
        _FRACTION,
        _FRACTION,
        "at_or_above",
    ),
    RuleSpec(
        "basis_wide",
        "basis wide",
        "instrument",
        RuleConfig(100.0, 80.0, 60_000, "info"),
        _POSITIVE,
        _NON_NEGATIVE,
        "at_or_below",
    ),
    RuleSpec(
        "cost_budget_exceeded",
        "cost budget exceeded",
        "portfolio",
        RuleConfig(1.0, 0.95, 0, "warning"),
        _POSITIVE,
        _NON_NEGATIVE,
        "at_or_below",
    ),
    RuleSpec("hedge_expired", "hedge expired", "asset", RuleConfig(None, None, 0, "warning")),
    RuleSpec(
        "exit_level_crossed",
        "exit level crossed",
        "asset",
        RuleConfig(None, None, 0, "warning"),
    ),
    RuleSpec("stop_loss_hit", "stop-loss hit", "asset", RuleConfig(None, None, 0, "critical")),
    RuleSpec("stale_feed", "stale price feed", "instrument", RuleConfig(None, None, 0, "warning")),
    RuleSpec(
        "position_mismatch",
        "position mismatch",
        "instrument",
        RuleConfig(None, None, 0, "critical"),
        external=True,
    ),
    RuleSpec(
        "funding_cost_high",
        "funding paid high",
        "instrument",
        RuleConfig(0.001, 0.0008, 0, "warning"),
        _FRACTION,
        _FRACTION,
        "at_or_below",
    ),
    RuleSpec(
        "model_divergence",
        "model diverges from the venue's figure",
        "instrument",
        RuleConfig(0.005, 0.004, 0, "warning"),
        _POSITIVE,
        _NON_NEGATIVE,
        "at_or_below",
    ),
    RuleSpec(
        "account_margin_ratio_high",
        "account margin ratio high",
        "account",
        RuleConfig(0.8, 0.75, 0, "critical"),
        _FRACTION,
        _FRACTION,
        "at_or_below",
    ),
    RuleSpec("adl_top_bucket", "hedge leg in the top ADL bucket", "instrument",
             RuleConfig(None, None, 0, "warning")),
    RuleSpec(
        "hedge_broken",
        "hedge broken by a liquidation or ADL",
        "instrument",
        RuleConfig(None, None, 0, "critical"),
        external=True,
    ),
    RuleSpec(
        "unpriced_position",
        "position without price or contract terms",
        "instrument",
        RuleConfig(None, None, 0, "warning"),
    ),
)
SPECS_BY_NAME: Mapping[str, RuleSpec] = {spec.name: spec for spec in RULE_SPECS}
RULE_NAMES: tuple[str, ...] = tuple(spec.name for spec in RULE_SPECS)
SNAPSHOT_RULES: tuple[RuleSpec, ...] = tuple(spec for spec in RULE_SPECS if not spec.external)
EXTERNAL_RULES: tuple[str, ...] = tuple(spec.name for spec in RULE_SPECS if spec.external)

def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(float(value))


def _fail(source: str, prefix: str, key_path: tuple[str, ...], expected: str, value: object) -> (
    AlertConfigError
):
    return AlertConfigError(f"expected {expected}, got {value!r}", source=source, prefix=prefix,
                            key_path=key_path)


def _relation_text(relation: Relation, threshold: float) -> str:
    side = "at or above" if relation == "at_or_above" else "at or below"
    return f"{side} the threshold {threshold!r}"


def _check_rule(spec: RuleSpec, rule: RuleConfig, source: str, prefix: str) -> None:
    """Check one rule's values against its spec; problems name ``source`` and ``prefix``.<rule>."""
    if not isinstance(rule.enabled, bool):
        raise _fail(source, prefix, (spec.name, "enabled"), "true or false", rule.enabled)
    if not isinstance(rule.for_ms, int) or isinstance(rule.for_ms, bool) or rule.for_ms < 0:
        raise _fail(source, prefix, (spec.name, "for_ms"), "a non-negative integer of milliseconds",
                    rule.for_ms)
    if rule.severity not in SEVERITIES:
        raise _fail(source, prefix, (spec.name, "severity"), "one of 'critical', 'warning', 'info'",
                    rule.severity)
    if spec.threshold_range is None or spec.clear_range is None:
        for key in RULE_LEVEL_KEYS:
            if getattr(rule, key) is not None:
                raise AlertConfigError(
                    f"unknown key; expected one of: {', '.join(RULE_COMMON_KEYS)} "
                    "(this rule has no threshold)",
                    source=source, prefix=prefix, key_path=(spec.name, key),
                )
        return
    levels: list[float] = []
    for key, allowed in (
        ("threshold", spec.threshold_range),
        ("clear_threshold", spec.clear_range),
    ):
        value = getattr(rule, key)
        if not _is_number(value) or not allowed.contains(float(value)):
            raise _fail(source, prefix, (spec.name, key), allowed.text, value)
        levels.append(float(value))
    threshold, clear = levels
    if (spec.clear_relation == "at_or_above" and clear < threshold) or (
        spec.clear_relation == "at_or_below" and clear > threshold
    ):
        expected = f"a number {_relation_text(spec.clear_relation, threshold)}"
        raise _fail(source, prefix, (spec.name, "clear_threshold"), expected, rule.clear_threshold)
    _check_stages(spec, rule, source, prefix)


def _check_stages(spec: RuleSpec, rule: RuleConfig, source: str, prefix: str) -> None:
    """Stages: known severities, not the rule's own, in range, worse stages at lower levels."""
    if not spec.staged:
        if rule.stages or rule.vol_stages:
            raise AlertConfigError("this rule has no stages", source=source, prefix=prefix,
                                   key_path=(spec.name, "stages"))
        return
    if not (_is_number(rule.vol_horizon_s) and float(rule.vol_horizon_s) > 0):
        raise _fail(source, prefix, (spec.name, "vol_horizon_s"), "a number of seconds greater than 0",
                    rule.vol_horizon_s)
    for key, stages, own, allowed in (
        ("stages", rule.stages, (rule.severity, rule.threshold), spec.threshold_range),
        ("vol_stages", rule.vol_stages, None, _POSITIVE),
    ):
        levels = list(stages) + ([own] if own is not None else [])
        seen: set[str] = set()
        for severity, level in stages:
            if severity not in STAGE_SEVERITIES:
                raise _fail(source, prefix, (spec.name, key, str(severity)),
                            "a stage named warning, critical or emergency", severity)
            if own is not None and severity == own[0]:
                raise AlertConfigError(
                    f"the rule's own severity {severity!r} is set by threshold; name another stage",
                    source=source, prefix=prefix, key_path=(spec.name, key, severity))
            if severity in seen:
                raise AlertConfigError("stage named twice", source=source, prefix=prefix,
                                       key_path=(spec.name, key, severity))
            seen.add(severity)
            if allowed is None or not _is_number(level) or not allowed.contains(float(level)):
                text = allowed.text if allowed is not None else "a number"
                raise _fail(source, prefix, (spec.name, key, severity), text, level)
        ordered = sorted(levels, key=lambda stage: SEVERITY_RANK[stage[0]])
        for (milder, milder_level), (worse, worse_level) in itertools.pairwise(ordered):
            if worse_level is not None and milder_level is not None and not worse_level < milder_level:
                raise _fail(source, prefix, (spec.name, key, worse),
                            f"a level below the {milder} stage's {milder_level!r} (a worse stage is "
                            "nearer liquidation)", worse_level)


def _derived_clear(spec: RuleSpec, base: RuleConfig, threshold: float) -> float | None:
    """The clear level that keeps ``base``'s hysteresis gap when only the threshold is set."""
    if spec.clear_relation == "independent" or spec.clear_range is None:
        return base.clear_threshold
    if base.threshold is None or base.clear_threshold is None:
        return base.clear_threshold
    clear = threshold + (base.clear_threshold - base.threshold)
    return clear if spec.clear_range.contains(clear) else threshold


def _stage_name(source: str, prefix: str, rule: str, key: str, name: object) -> Severity:
    found = next((severity for severity in STAGE_SEVERITIES if severity == name), None)
    if found is None:
        raise _fail(source, prefix, (rule, key, str(name)), "a stage named warning, critical or emergency",
                    name)
    return found


def _rule_from_mapping(
    spec: RuleSpec, data: object, base: RuleConfig, source: str, prefix: str
) -> RuleConfig:
    if not isinstance(data, Mapping):
        raise _fail(source, prefix, (spec.name,), "a table of rule settings", data)
    allowed = spec.setting_keys
    for key in data:
        if key not in allowed:
            note = "" if spec.has_levels or key not in RULE_LEVEL_KEYS else " (this rule has no threshold)"
            raise AlertConfigError(f"unknown key; expected one of: {', '.join(sorted(allowed))}{note}",
                                   source=source, prefix=prefix, key_path=(spec.name, str(key)))
    if "enabled" in data and not isinstance(data["enabled"], bool):
        raise _fail(source, prefix, (spec.name, "enabled"), "true or false", data["enabled"])
    if "for_ms" in data:
        for_ms = data["for_ms"]
        if not isinstance(for_ms, int) or isinstance(for_ms, bool) or for_ms < 0:
            raise _fail(source, prefix, (spec.name, "for_ms"), "a non-negative integer of milliseconds",
                        for_ms)
    if "severity" in data and data["severity"] not in SEVERITIES:
        raise _fail(source, prefix, (spec.name, "severity"), "one of 'critical', 'warning', 'info'",
                    data["severity"])
    rule = replace(
        base,
        enabled=data.get("enabled", base.enabled),
        for_ms=data.get("for_ms", base.for_ms),
        severity=data.get("severity", base.severity),
    )
    if spec.threshold_range is not None and spec.clear_range is not None:
        for key, allowed_range in (
            ("threshold", spec.threshold_range),
            ("clear_threshold", spec.clear_range),
        ):
            if key in data and (not _is_number(data[key]) or not allowed_range.contains(float(data[key]))):
                raise _fail(source, prefix, (spec.name, key), allowed_range.text, data[key])
        threshold = float(data["threshold"]) if "threshold" in data else base.threshold
        if "clear_threshold" in data:
            clear: float | None = float(data["clear_threshold"])
        elif "threshold" in data and threshold is not None:
            clear = _derived_clear(spec, base, threshold)
        else:
            clear = base.clear_threshold
        rule = replace(rule, threshold=threshold, clear_threshold=clear)
    if spec.staged:
        for key in ("stages", "vol_stages"):
            if key in data:
                table = data[key]
                if not isinstance(table, Mapping):
                    raise _fail(source, prefix, (spec.name, key),
                                "a table of stage = level, e.g. { warning = 0.08, emergency = 0.02 }", table)
                parsed = tuple((_stage_name(source, prefix, spec.name, key, name), level)
                               for name, level in table.items())
                rule = replace(rule, stages=parsed) if key == "stages" else replace(rule, vol_stages=parsed)
        if "vol_horizon_s" in data:
            rule = replace(rule, vol_horizon_s=data["vol_horizon_s"])
    _check_rule(spec, rule, source, prefix)
    return rule


@dataclass(frozen=True, slots=True)
class AlertsConfig:
    """Settings of every alert rule, one field per rule name (see the module table)."""

    hedge_ratio_low: RuleConfig = SPECS_BY_NAME["hedge_ratio_low"].default
    hedge_ratio_high: RuleConfig = SPECS_BY_NAME["hedge_ratio_high"].default
    margin_buffer_low: RuleConfig = SPECS_BY_NAME["margin_buffer_low"].default
    margin_ratio_high: RuleConfig = SPECS_BY_NAME["margin_ratio_high"].default
    liquidation_distance_low: RuleConfig = SPECS_BY_NAME["liquidation_distance_low"].default
    dollar_offset_out_of_band: RuleConfig = SPECS_BY_NAME["dollar_offset_out_of_band"].default
    r2_low: RuleConfig = SPECS_BY_NAME["r2_low"].default
    basis_wide: RuleConfig = SPECS_BY_NAME["basis_wide"].default
    cost_budget_exceeded: RuleConfig = SPECS_BY_NAME["cost_budget_exceeded"].default
    hedge_expired: RuleConfig = SPECS_BY_NAME["hedge_expired"].default
    exit_level_crossed: RuleConfig = SPECS_BY_NAME["exit_level_crossed"].default
    stop_loss_hit: RuleConfig = SPECS_BY_NAME["stop_loss_hit"].default
    stale_feed: RuleConfig = SPECS_BY_NAME["stale_feed"].default
    position_mismatch: RuleConfig = SPECS_BY_NAME["position_mismatch"].default
    funding_cost_high: RuleConfig = SPECS_BY_NAME["funding_cost_high"].default
    model_divergence: RuleConfig = SPECS_BY_NAME["model_divergence"].default
    account_margin_ratio_high: RuleConfig = SPECS_BY_NAME["account_margin_ratio_high"].default
    adl_top_bucket: RuleConfig = SPECS_BY_NAME["adl_top_bucket"].default
    hedge_broken: RuleConfig = SPECS_BY_NAME["hedge_broken"].default
    unpriced_position: RuleConfig = SPECS_BY_NAME["unpriced_position"].default

    def __post_init__(self) -> None:
        for spec in RULE_SPECS:
            rule = getattr(self, spec.name)
            if not isinstance(rule, RuleConfig):
                raise _fail("AlertsConfig", "", (spec.name,), "a RuleConfig", rule)
            _check_rule(spec, rule, "AlertsConfig", "")

    @property
    def remediation_distance(self) -> float:
        """The liquidation distance a remediation restores: where ``liquidation_distance_low``
        resolves (its clear level; with stages, the mildest stage plus the same hysteresis gap)."""
        rule = self.liquidation_distance_low
        if rule.threshold is None or rule.clear_threshold is None:
            return DEFAULT_REMEDIATION_DISTANCE
        mildest = max([rule.threshold, *(level for _, level in rule.stages)])
        return mildest + (rule.clear_threshold - rule.threshold)

    def rule(self, name: str) -> RuleConfig:
        """The settings of the rule called ``name`` (KeyError if there is no such rule)."""
        if name not in SPECS_BY_NAME:
            raise KeyError(name)
        rule: RuleConfig = getattr(self, name)
        return rule

    @classmethod
    def from_mapping(
        cls,
        data: Mapping[str, Any],
        *,
        source: str,
        prefix: str = "alerts",
        base: AlertsConfig | None = None,
    ) -> AlertsConfig:
        """Build from the ``[alerts]`` table of a config file: ``{"margin_buffer_low": {...}}``.

        Keys absent from ``data`` keep ``base`` (the defaults when None), so a per-portfolio table
        can override a few settings of the global one. Setting only ``threshold`` moves
        ``clear_threshold`` with it, keeping the base hysteresis gap. Errors name ``source``, the
        key path under ``prefix`` and what is expected (``AlertConfigError.key_path``, ``reason``).
        """
        start = base if base is not None else cls()
        if not isinstance(data, Mapping):
            raise _fail(source, prefix, (), "a table of alert rules", data)
        rules: dict[str, RuleConfig] = {}
        for key, value in data.items():
            spec = SPECS_BY_NAME.get(key) if isinstance(key, str) else None
            if spec is None:
                raise AlertConfigError(f"unknown rule; expected one of: {', '.join(RULE_NAMES)}",
                                       source=source, prefix=prefix, key_path=(str(key),))
            rules[key] = _rule_from_mapping(spec, value, start.rule(key), source, prefix)
        return replace(start, **rules)


_CONFIG_FIELDS = tuple(field.name for field in fields(AlertsConfig))
if _CONFIG_FIELDS != RULE_NAMES:  # pragma: no cover - a developer error caught at import
    raise RuntimeError("AlertsConfig fields must list RULE_SPECS in the same order")


# --- reading the snapshot -------------------------------------------------------------------------


def _no_message() -> str:
    return ""


@dataclass(frozen=True, slots=True)
class Observation:
    """One rule's reading of one subject: its status, figure, levels and how to word a change.

    ``describe`` words a breach or a clear; it runs only when a transition needs the sentence, so a
    snapshot that changes nothing formats no text.
    """

    status: Status
    value: float | None
    threshold: float | None
    clear_threshold: float | None
    describe: Callable[[], str] = _no_message
    remediation: Mapping[str, Any] | None = None
    """What restores the level (``monitor.alerts.remediation``), on a breach; None if unknown."""
    account: str | None = None
    """The account of a per-position reading (the worst one), for labels; None otherwise."""
    severity: Severity | None = None
    """The stage a staged rule's breach reached; None: the rule's own severity."""

    @property
    def message(self) -> str:
        """The human sentence for a transition caused by this reading ("" unless breach or clear).

        A breach with a remediation ends with it: "...: add 23.61 USDT margin to ...".
        """
        if self.status == "breach":
            return with_remediation(self.describe(), self.remediation)
        return self.describe() if self.status == "clear" else ""


@dataclass(frozen=True, slots=True)
class SnapshotReading:
    """One risk snapshot with its open positions grouped once for every rule that reads them."""

    snapshot: Mapping[str, Any]
    open_positions: dict[str, list[Mapping[str, Any]]] | None


def read_snapshot(snapshot: Mapping[str, Any]) -> SnapshotReading:
    """Prepare one risk snapshot for the observers (groups its open positions)."""
    return SnapshotReading(snapshot, _open_positions(snapshot))


def _number(value: object) -> float | None:
    """A finite float, or None for null, non-numbers, booleans and non-finite values."""
    if type(value) is float:  # the common case, checked without the isinstance chain
        return value if math.isfinite(value) else None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _table(value: object) -> Mapping[str, Any] | None:
    if type(value) is dict:  # the common case, checked without the Mapping ABC
        return value
    return value if isinstance(value, Mapping) else None


def _below(value: float | None, threshold: float, clear: float) -> Status:
    if value is None:
        return "unknown"
    if value < threshold:
        return "breach"
    return "clear" if value >= clear else "between"


def _above(value: float | None, threshold: float, clear: float) -> Status:
    if value is None:
        return "unknown"
    if value > threshold:
        return "breach"
    return "clear" if value <= clear else "between"


def _ratio(value: float) -> str:
    return f"{value:.2f}"


def _percent(value: float) -> str:
    return f"{value * 100:.1f} %"


def _usd(value: float) -> str:
    return f"{value:,.2f} USD"


def _levels(rule: RuleConfig) -> tuple[float, float]:
    if rule.threshold is None or rule.clear_threshold is None:
        raise AlertConfigError("a rule with levels has no threshold")  # AlertsConfig prevents it
    return rule.threshold, rule.clear_threshold


def _open_positions(snapshot: Mapping[str, Any]) -> dict[str, list[Mapping[str, Any]]] | None:
    """Open positions grouped by instrument (sorted by account), or None if the list is missing."""
    positions = snapshot.get("positions")
    if type(positions) is not list and (
        not isinstance(positions, Sequence) or isinstance(positions, (str, bytes))
    ):
        return None
    grouped: dict[str, list[Mapping[str, Any]]] = {}
    for position in positions:
        if type(position) is not dict and not isinstance(position, Mapping):
            continue
        instrument = position.get("instrument")
        if not isinstance(instrument, str) or position.get("quantity") == 0:
            continue
        group = grouped.get(instrument)
        if group is None:
            grouped[instrument] = [position]
        else:
            group.append(position)
    for group in grouped.values():
        if len(group) > 1:
            group.sort(key=lambda position: str(position.get("account", "")))
    return grouped


def _worst(group: Sequence[Mapping[str, Any]], figure: str, *, highest: bool) -> tuple[float | None, str]:
    """The worst value of ``figure`` across accounts holding one instrument, and its account."""
    worst: float | None = None
    account = ""
    for position in group:
        value = _number(position.get(figure))
        if value is None:
            continue
        if worst is None or (value > worst if highest else value < worst):
            worst, account = value, str(position.get("account", ""))
    return worst, account


def _worst_row(
    group: Sequence[Mapping[str, Any]], figure: str, value: float | None, account: str,
) -> Mapping[str, Any] | None:
    """The position row ``_worst`` chose: its account and its value (a hedge-mode account holds
    two legs of one instrument)."""
    for position in group:
        if str(position.get("account", "")) == account and _number(position.get(figure)) == value:
            return position
    return None


# Every observer takes ``tracked``, the subjects with a pending or firing alert of its rule, and
# reports a subject only when it breaches or is tracked: any other reading changes nothing.


def _hedge_ratio_message(
    asset: str, ratio: float, target: float, band: float, clear_fraction: float, status: Status, side: str
) -> str:
    band_text = f"{_ratio(target - band)}{EN_DASH}{_ratio(target + band)}"
    if status == "breach":
        return (
            f"{asset} hedge ratio {_ratio(ratio)} is {side} the target band {band_text} "
            f"(target {_ratio(target)})"
        )
    clear_text = f"{_ratio(target - clear_fraction * band)}{EN_DASH}{_ratio(target + clear_fraction * band)}"
    return (
        f"{asset} hedge ratio {_ratio(ratio)} is back within {clear_text} "
        f"(target {_ratio(target)}, band {band_text})"
    )


def _hedge_ratio(
    reading: SnapshotReading, rule: RuleConfig, tracked: Container[str], *, high: bool
) -> dict[str, Observation] | None:
    """Hedge ratio outside ``target ± band`` (risk-definitions "Hedge ratio and rebalance").

    Band from ``assets.<A>.hedge_band`` when positive, else the rule's ``threshold``; it resolves
    inside ``target ± clear_threshold * band``.
    """
    assets = _table(reading.snapshot.get("assets"))
    if assets is None:
        return None
    default_band, clear_fraction = _levels(rule)
    side = "above" if high else "below"
    observations: dict[str, Observation] = {}
    for asset, figures in assets.items():
        row = _table(figures) or {}
        ratio = _number(row.get("hedge_ratio"))
        target = _number(row.get("target_hedge_ratio"))
        if target is None:
            if asset in tracked:
                observations[asset] = Observation("unknown", ratio, None, None)
            continue
        snapshot_band = _number(row.get("hedge_band"))
        band = snapshot_band if snapshot_band is not None and snapshot_band > 0 else default_band
        if high:
            threshold, clear = target + band, target + clear_fraction * band
            status = _above(ratio, threshold, clear)
        else:
            threshold, clear = target - band, target - clear_fraction * band
            status = _below(ratio, threshold, clear)
        if status != "breach" and asset not in tracked:
            continue
        describe = _no_message
        if ratio is not None:
            describe = partial(_hedge_ratio_message, asset, ratio, target, band, clear_fraction, status, side)
        remedy = hedge_ratio_remediation(asset, row) if status == "breach" else None
        observations[asset] = Observation(status, ratio, threshold, clear, describe, remedy)
    return observations


def _hedge_ratio_low(
    reading: SnapshotReading, rule: RuleConfig, tracked: Container[str]
) -> dict[str, Observation] | None:
    return _hedge_ratio(reading, rule, tracked, high=False)


def _hedge_ratio_high(
    reading: SnapshotReading, rule: RuleConfig, tracked: Container[str]
) -> dict[str, Observation] | None:
    return _hedge_ratio(reading, rule, tracked, high=True)


def _per_position(
    reading: SnapshotReading,
    rule: RuleConfig,
    tracked: Container[str],
    figure: str,
    *,
    highest: bool,
    message: Callable[[str, str, float, Status, float, float], str],
    remedy: Callable[[Mapping[str, Any], float], Mapping[str, Any] | None] | None = None,
) -> dict[str, Observation] | None:
    """One observation per open instrument: the worst ``figure`` across the accounts holding it.

    ``highest`` picks the largest value and fires above the threshold, else the smallest and fires
    below it; ``message(instrument, account, value, status, threshold, clear)`` words a change;
    ``remedy(position, clear)`` gives a breach's remediation from the worst position's row.
    """
    grouped = reading.open_positions
    if grouped is None:
        return None
    threshold, clear = _levels(rule)
    observations: dict[str, Observation] = {}
    for instrument, group in grouped.items():
        value, account = _worst(group, figure, highest=highest)
        status = (_above if highest else _below)(value, threshold, clear)
        if status != "breach" and instrument not in tracked:
            continue
        describe = _no_message
        if value is not None:
            describe = partial(message, instrument, account, value, status, threshold, clear)
        remediation = None
        if remedy is not None and status == "breach":
            worst = _worst_row(group, figure, value, account)
            remediation = None if worst is None else remedy(worst, clear)
        observations[instrument] = Observation(status, value, threshold, clear, describe, remediation,
                                               account if value is not None else None)
    return observations


def _margin_buffer_message(
    instrument: str, account: str, value: float, status: Status, threshold: float, clear: float
) -> str:
    if status == "breach":
        return (f"{instrument} margin buffer is {_percent(value)} of margin balance "
                f"(account {account}), below {_percent(threshold)}")
    return (f"{instrument} margin buffer recovered to {_percent(value)} of margin balance "
            f"(account {account}), at or above {_percent(clear)}")


def _margin_remedy(figure: str, position: Mapping[str, Any], clear: float) -> Mapping[str, Any] | None:
    return margin_remediation(position, figure, clear)


def _liquidation_remedy(position: Mapping[str, Any], _clear: float) -> Mapping[str, Any] | None:
    return liquidation_remediation(position)


def _margin_buffer_low(
    reading: SnapshotReading, rule: RuleConfig, tracked: Container[str]
) -> dict[str, Observation] | None:
    """Margin buffer ``(margin balance - maintenance margin) / margin balance`` below a fraction.

    risk-definitions "Margin (hedge leg)"; the lowest buffer across accounts holding the instrument.
    """
    return _per_position(
        reading, rule, tracked, "margin_buffer_fraction", highest=False, message=_margin_buffer_message,
        remedy=partial(_margin_remedy, "margin_buffer_fraction"),
    )


def _margin_ratio_message(
    instrument: str, account: str, value: float, status: Status, threshold: float, clear: float
) -> str:
    if status == "breach":
        return (f"{instrument} margin ratio {_percent(value)} (account {account}) is above "
                f"{_percent(threshold)}; liquidation at 100.0 %")
    return (f"{instrument} margin ratio {_percent(value)} (account {account}) is back at or "
            f"below {_percent(clear)}")


def _margin_ratio_high(
    reading: SnapshotReading, rule: RuleConfig, tracked: Container[str]
) -> dict[str, Observation] | None:
    """Margin ratio ``maintenance margin / margin balance`` above a level (Binance sense).

    Liquidation at 100 %; risk-definitions "Margin (hedge leg)"; the highest ratio across accounts
    holding the instrument.
    """
    return _per_position(reading, rule, tracked, "margin_ratio", highest=True, message=_margin_ratio_message,
                         remedy=partial(_margin_remedy, "margin_ratio"))


def _liquidation_distance_low(
    reading: SnapshotReading, rule: RuleConfig, tracked: Container[str]
) -> dict[str, Observation] | None:
    """Distance to liquidation ``|LP - P| / P`` below a fraction (risk-definitions "Margin")."""
    positions = reading.snapshot.get("positions")

    def message(instrument: str, account: str, value: float, status: Status, threshold: float,
                clear: float) -> str:
        liquidation_price: float | None = None
        for position in positions if isinstance(positions, Sequence) else ():
            if (isinstance(position, Mapping) and position.get("instrument") == instrument
                    and str(position.get("account", "")) == account):
                liquidation_price = _number(position.get("liquidation_price"))
        price_text = f" {liquidation_price:,.2f}" if liquidation_price is not None else ""
        where = (f"{instrument} is {_percent(value)} from its liquidation price{price_text} "
                 f"(account {account})")
        if status == "breach":
            return f"{where}, below {_percent(threshold)}"
        return f"{where}, at or above {_percent(clear)}"

    if not rule.stages and not rule.vol_stages:
        return _per_position(reading, rule, tracked, "liquidation_distance", highest=False, message=message,
                             remedy=_liquidation_remedy)
    return _staged_distance(reading, rule, tracked, message)


def _stage_of(stages: Sequence[tuple[Severity, float]], value: float | None) -> Severity | None:
    """The worst stage whose level ``value`` is below (lower is worse); None if none is crossed."""
    worst: Severity | None = None
    for severity, level in stages:
        if value is not None and value < level and (
                worst is None or SEVERITY_RANK[severity] > SEVERITY_RANK[worst]):
            worst = severity
    return worst


def _vol_units(reading: SnapshotReading, position: Mapping[str, Any], distance: float,
               horizon_s: float) -> float | None:
    """Distance to liquidation in volatility units: distance / (sigma per sqrt-second x sqrt(h))."""
    assets = _table(reading.snapshot.get("assets")) or {}
    row = _table(assets.get(str(position.get("asset", "")))) or {}
    sigma = _number(row.get("realised_volatility"))
    if sigma is None or sigma <= 0:
        return None
    return distance / (sigma * math.sqrt(horizon_s))


def _staged_distance(
    reading: SnapshotReading, rule: RuleConfig, tracked: Container[str],
    message: Callable[[str, str, float, Status, float, float], str],
) -> dict[str, Observation] | None:
    """Distance to liquidation in stages, in % (``threshold`` + ``stages``) and in volatility units.

    The breach's severity is the worst stage crossed by either measure; the alert resolves once
    the distance is back at the least severe % stage's clear level (its threshold plus the rule's
    hysteresis gap) and, when vol stages are set and the volatility is known, at
    ``VOL_CLEAR_FACTOR`` times the least severe vol level. Volatility units are
    ``distance / (realised volatility x sqrt(vol_horizon_s))`` (``formulas.realised_volatility``).
    """
    grouped = reading.open_positions
    if grouped is None:
        return None
    threshold, clear = _levels(rule)
    percent_stages = [(rule.severity, threshold), *rule.stages]
    gap = clear - threshold
    mildest = max(level for _, level in percent_stages)
    clear_level = mildest + gap
    vol_clear = max((level for _, level in rule.vol_stages), default=0.0) * VOL_CLEAR_FACTOR
    observations: dict[str, Observation] = {}
    for instrument, group in grouped.items():
        value, account = _worst(group, "liquidation_distance", highest=False)
        worst = _worst_row(group, "liquidation_distance", value, account)
        units = None if value is None or worst is None else _vol_units(
            reading, worst, value, rule.vol_horizon_s)
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
        describe = _no_message
        if value is not None:
            describe = partial(_staged_message, message, instrument, account, value, status, level,
                               clear_level, severity, units if rule.vol_stages else None,
                               rule.vol_horizon_s)
        remediation = _liquidation_remedy(worst, clear) if worst is not None and status == "breach" else None
        observations[instrument] = Observation(status, value, level, clear_level, describe, remediation,
                                               account if value is not None else None, severity)
    return observations


def _staged_message(
    message: Callable[[str, str, float, Status, float, float], str], instrument: str, account: str,
    value: float, status: Status, level: float, clear: float, severity: Severity | None,
    units: float | None, horizon_s: float,
) -> str:
    text = message(instrument, account, value, status, level, clear)
    if units is not None:
        text += f" ({units:.1f} volatility units over {horizon_s / 3600:g} h)"
    return f"{text} [{severity}]" if severity is not None and status == "breach" else text


def _dollar_offset_message(
    asset: str, value: float, status: Status, bounds: tuple[float, float], clear_bounds: tuple[float, float]
) -> str:
    if status == "breach":
        band_text = f"{_ratio(bounds[0])}{EN_DASH}{_ratio(bounds[1])}"
        return f"{asset} dollar offset {_ratio(value)} is outside the effective range {band_text}"
    clear_text = f"{_ratio(clear_bounds[0])}{EN_DASH}{_ratio(clear_bounds[1])}"
    return f"{asset} dollar offset {_ratio(value)} is back within {clear_text}"


def _dollar_offset_out_of_band(
    reading: SnapshotReading, rule: RuleConfig, tracked: Container[str]
) -> dict[str, Observation] | None:
    """Dollar offset ``-(F_t - F_0) / (S_t - S_0)`` outside ``[t, 1/t]`` (IAS 39 AG105: 80-125 %).

    Resolves inside ``[c, 1/c]``. The transition's threshold is the bound that was crossed.
    """
    effectiveness = _table(reading.snapshot.get("effectiveness"))
    if effectiveness is None:
        return None
    lower, clear_lower = _levels(rule)
    upper, clear_upper = 1.0 / lower, 1.0 / clear_lower
    observations: dict[str, Observation] = {}
    for asset, figures in effectiveness.items():
        value = _number((_table(figures) or {}).get("dollar_offset"))
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
        describe = partial(
            _dollar_offset_message, asset, value, status, (lower, upper), (clear_lower, clear_upper)
        )
        observations[asset] = Observation(status, value, threshold, clear, describe)
    return observations


def _r2_message(
    asset: str, value: float, samples: float | None, status: Status, threshold: float, clear: float
) -> str:
    samples_text = f" over {int(samples)} samples" if samples is not None else ""
    if status == "breach":
        return f"{asset} hedge regression R\u00b2 {_ratio(value)}{samples_text} is below {_ratio(threshold)}"
    return (
        f"{asset} hedge regression R\u00b2 {_ratio(value)}{samples_text} is back at or "
        f"above {_ratio(clear)}"
    )


def _r2_low(
    reading: SnapshotReading, rule: RuleConfig, tracked: Container[str]
) -> dict[str, Observation] | None:
    """R² of the regression of ``dF`` on ``dS`` below a level (ASC 815 practice: >= 0.80)."""
    effectiveness = _table(reading.snapshot.get("effectiveness"))
    if effectiveness is None:
        return None
    threshold, clear = _levels(rule)
    observations: dict[str, Observation] = {}
    for asset, figures in effectiveness.items():
        row = _table(figures) or {}
        value = _number(row.get("r2"))
        status = _below(value, threshold, clear)
        if status != "breach" and asset not in tracked:
            continue
        describe = _no_message
        if value is not None:
            samples = _number(row.get("samples"))
            describe = partial(_r2_message, asset, value, samples, status, threshold, clear)
        observations[asset] = Observation(status, value, threshold, clear, describe)
    return observations


def _basis_message(instrument: str, basis: float, status: Status, threshold: float, clear: float) -> str:
    if status == "breach":
        return f"{instrument} basis {basis:+.1f} bps is wider than \u00b1{threshold:.1f} bps"
    return f"{instrument} basis {basis:+.1f} bps is back within \u00b1{clear:.1f} bps"


def _basis_wide(
    reading: SnapshotReading, rule: RuleConfig, tracked: Container[str]
) -> dict[str, Observation] | None:
    """Basis ``(P - S) / S`` in bps wider than ``±threshold``.

    risk-definitions "Funding, fees, basis". The transition's value is the signed basis; the
    comparison is on its absolute value, the widest across accounts holding the instrument.
    """
    grouped = reading.open_positions
    if grouped is None:
        return None
    threshold, clear = _levels(rule)
    observations: dict[str, Observation] = {}
    for instrument, group in grouped.items():
        basis: float | None = None
        for position in group:
            value = _number(position.get("basis_bps"))
            if value is not None and (basis is None or abs(value) > abs(basis)):
                basis = value
        status = _above(None if basis is None else abs(basis), threshold, clear)
        if status != "breach" and instrument not in tracked:
            continue
        describe = _no_message
        if basis is not None:
            describe = partial(_basis_message, instrument, basis, status, threshold, clear)
        observations[instrument] = Observation(status, basis, threshold, clear, describe)
    return observations


def _cost_message(cost: float, budget: float, status: Status, fraction: float, clear_fraction: float) -> str:
    if status == "breach":
        return f"hedge cost {_usd(cost)} is above {_percent(fraction)} of the cost budget {_usd(budget)}"
    return (
        f"hedge cost {_usd(cost)} is back at or below {_percent(clear_fraction)} of the cost "
        f"budget {_usd(budget)}"
    )


def _cost_budget_exceeded(
    reading: SnapshotReading, rule: RuleConfig, tracked: Container[str]
) -> dict[str, Observation] | None:
    """Hedge cost ``fees + funding paid - funding received`` above ``threshold * cost budget``.

    risk-definitions "Funding, fees, basis" and "Hedge lifecycle". Subject: "portfolio".
    """
    costs = _table(reading.snapshot.get("costs"))
    if costs is None:
        return None
    fraction, clear_fraction = _levels(rule)
    cost = _number(costs.get("hedge_cost_usd"))
    budget = _number(costs.get("cost_budget_usd"))
    if cost is None or budget is None:
        if PORTFOLIO_SUBJECT not in tracked:
            return {}
        return {PORTFOLIO_SUBJECT: Observation("unknown", cost, None, None)}
    threshold, clear = fraction * budget, clear_fraction * budget
    status = _above(cost, threshold, clear)
    if status != "breach" and PORTFOLIO_SUBJECT not in tracked:
        return {}
    describe = partial(_cost_message, cost, budget, status, fraction, clear_fraction)
    return {PORTFOLIO_SUBJECT: Observation(status, cost, threshold, clear, describe)}


def _lifecycle_message(
    asset: str,
    status: Status,
    firing_text: Callable[[str, Mapping[str, Any]], str],
    resolved_text: str,
    assets: Mapping[str, Any],
) -> str:
    if status == "breach":
        return firing_text(asset, _table(assets.get(asset)) or {})
    return f"{asset} {resolved_text}"


def _lifecycle_flag(
    reading: SnapshotReading,
    tracked: Container[str],
    flag: str,
    firing_text: Callable[[str, Mapping[str, Any]], str],
    resolved_text: str,
) -> dict[str, Observation] | None:
    lifecycle = _table(reading.snapshot.get("lifecycle"))
    if lifecycle is None:
        return None
    assets = _table(reading.snapshot.get("assets")) or {}
    observations: dict[str, Observation] = {}
    for asset, figures in lifecycle.items():
        value = (_table(figures) or {}).get(flag)
        if value is True:
            status: Status = "breach"
        elif asset not in tracked:
            continue
        elif value is False:
            status = "clear"
        else:
            observations[asset] = Observation("unknown", None, None, None)
            continue
        describe = partial(_lifecycle_message, asset, status, firing_text, resolved_text, assets)
        observations[asset] = Observation(status, None, None, None, describe)
    return observations


def _expired_text(asset: str, _figures: Mapping[str, Any]) -> str:
    return f"{asset} hedge plan has expired: roll or close the hedge"


def _hedge_expired(
    reading: SnapshotReading, _rule: RuleConfig, tracked: Container[str]
) -> dict[str, Observation] | None:
    """``lifecycle.<A>.expired``: the hedge plan's expiry has passed (risk-definitions)."""
    return _lifecycle_flag(reading, tracked, "expired", _expired_text, "hedge plan is no longer expired")


def _exit_text(asset: str, figures: Mapping[str, Any]) -> str:
    price = _number(figures.get("price"))
    price_text = f" at {price:,.2f}" if price is not None else ""
    return f"{asset} price{price_text} crossed the hedge plan's exit level"


def _exit_level_crossed(
    reading: SnapshotReading, _rule: RuleConfig, tracked: Container[str]
) -> dict[str, Observation] | None:
    """``lifecycle.<A>.exit_level_crossed``: the plan's exit price level was crossed."""
    return _lifecycle_flag(
        reading,
        tracked,
        "exit_level_crossed",
        _exit_text,
        "price is back on the hedge side of its exit level",
    )


def _stop_loss_text(asset: str, _figures: Mapping[str, Any]) -> str:
    return f"{asset} hedge leg reached its stop-loss"


def _stop_loss_hit(
    reading: SnapshotReading, _rule: RuleConfig, tracked: Container[str]
) -> dict[str, Observation] | None:
    """``lifecycle.<A>.stop_loss_hit``: the hedge leg's USD loss reached the plan's stop-loss."""
    return _lifecycle_flag(
        reading, tracked, "stop_loss_hit", _stop_loss_text, "hedge leg is back above its stop-loss"
    )


def _stale_message(instrument: str, status: Status) -> str:
    if status == "breach":
        return f"{instrument} price feed is stale; risk figures that use it are out of date"
    return f"{instrument} price feed is live again"


def _stale_feed(
    reading: SnapshotReading, _rule: RuleConfig, tracked: Container[str]
) -> dict[str, Observation] | None:
    """An instrument the portfolio holds (in ``positions``) is listed in ``feeds.stale``."""
    grouped = reading.open_positions
    if grouped is None:
        return None
    feeds = _table(reading.snapshot.get("feeds"))
    stale_list = feeds.get("stale") if feeds is not None else None
    stale: set[str] | None = None
    if isinstance(stale_list, Sequence) and not isinstance(stale_list, (str, bytes)):
        stale = {item for item in stale_list if isinstance(item, str)}
    observations: dict[str, Observation] = {}
    for instrument in grouped:
        if stale is not None and instrument in stale:
            status: Status = "breach"
        elif instrument not in tracked:
            continue
        elif stale is None:
            observations[instrument] = Observation("unknown", None, None, None)
            continue
        else:
            status = "clear"
        describe = partial(_stale_message, instrument, status)
        observations[instrument] = Observation(status, None, None, None, describe)
    return observations


def _funding_message(
    instrument: str, account: str, value: float, status: Status, threshold: float, clear: float,
    paid: float,
) -> str:
    where = f"{instrument} (account {account}) has paid {_usd(paid)} net funding since the hedge began"
    if status == "breach":
        return (f"{where}, {value * 100:.2f} % of its notional, above {threshold * 100:.2f} %: the carry "
                "of the short costs more than planned; weigh rolling to another venue or a dated future")
    return f"{where}, {value * 100:.2f} % of its notional, back at or below {clear * 100:.2f} %"


def _funding_cost_high(
    reading: SnapshotReading, rule: RuleConfig, tracked: Container[str]
) -> dict[str, Observation] | None:
    """Net funding paid ``-funding_accrued_usd / notional_usd`` above a fraction of the notional.

    The accrued figure (received - paid since the hedge began; risk-definitions "Funding, fees,
    basis") is the smoothed one: one settlement's sign, which flips often, does not move it much,
    so the alert follows the cost actually borne. The highest fraction across accounts.
    """
    grouped = reading.open_positions
    if grouped is None:
        return None
    threshold, clear = _levels(rule)
    observations: dict[str, Observation] = {}
    for instrument, group in grouped.items():
        worst: float | None = None
        account, paid = "", 0.0
        for position in group:
            accrued = _number(position.get("funding_accrued_usd"))
            notional = _number(position.get("notional_usd"))
            if accrued is None or notional is None or notional <= 0:
                continue
            fraction = -accrued / notional
            if worst is None or fraction > worst:
                worst, account, paid = fraction, str(position.get("account", "")), -accrued
        status = _above(worst, threshold, clear)
        if status != "breach" and instrument not in tracked:
            continue
        describe = _no_message
        if worst is not None:
            describe = partial(_funding_message, instrument, account, worst, status, threshold, clear, paid)
        observations[instrument] = Observation(status, worst, threshold, clear, describe, None,
                                               account if worst is not None else None)
    return observations


def _unpriced_message(instrument: str, reasons: str) -> str:
    return (f"{instrument}: a position is held with {reasons}; its risk figures and those it "
            "shares (cross margin, hedge ratio, stress) are unknown")


def _unpriced_position(
    reading: SnapshotReading, _rule: RuleConfig, _tracked: Container[str]
) -> dict[str, Observation] | None:
    """An instrument listed in ``unpriced_positions``: held with no contract terms or no price."""
    listed = reading.snapshot.get("unpriced_positions")
    if not isinstance(listed, Sequence) or isinstance(listed, (str, bytes)):
        return None
    reasons: dict[str, set[str]] = {}
    for item in listed:
        table = _table(item)
        if table is None or not isinstance(table.get("instrument"), str):
            continue
        reasons.setdefault(table["instrument"], set()).add(str(table.get("reason", "no price")))
    observations: dict[str, Observation] = {}
    for instrument, why in reasons.items():
        describe = partial(_unpriced_message, instrument, " and ".join(sorted(why)))
        observations[instrument] = Observation("breach", None, None, None, describe)
    return observations


Observer = Callable[[SnapshotReading, RuleConfig, Container[str]], "dict[str, Observation] | None"]
"""Reads one rule's subjects: every breaching one and every tracked one (see above)."""

OBSERVERS: dict[str, Observer] = {
    "hedge_ratio_low": _hedge_ratio_low,
    "hedge_ratio_high": _hedge_ratio_high,
    "margin_buffer_low": _margin_buffer_low,
    "margin_ratio_high": _margin_ratio_high,
    "liquidation_distance_low": _liquidation_distance_low,
    "dollar_offset_out_of_band": _dollar_offset_out_of_band,
    "r2_low": _r2_low,
    "basis_wide": _basis_wide,
    "cost_budget_exceeded": _cost_budget_exceeded,
    "hedge_expired": _hedge_expired,
    "exit_level_crossed": _exit_level_crossed,
    "stop_loss_hit": _stop_loss_hit,
    "stale_feed": _stale_feed,
    "funding_cost_high": _funding_cost_high,
    "unpriced_position": _unpriced_position,
}


class _EverySubject(Container[str]):
    """Counts every subject as tracked, so an observer reports all of them."""

    def __contains__(self, subject: object) -> bool:
        return True


_EVERY_SUBJECT = _EverySubject()


def observe(name: str, snapshot: Mapping[str, Any], rule: RuleConfig) -> dict[str, Observation] | None:
    """Read one rule's subjects from a snapshot; None when the section it reads is missing."""
    return OBSERVERS[name](read_snapshot(snapshot), rule, _EVERY_SUBJECT)



# --- the venue's own figures (issue 15) -----------------------------------------------------------


def _model_divergence_message(
    instrument: str, account: str, figure: str, value: float, status: Status, threshold: float,
    clear: float,
) -> str:
    if status == "breach":
        return (f"{instrument} (account {account}): the model's {figure} is {_percent(value)} from "
                f"the venue's own figure, beyond {_percent(threshold)}; the venue's figure is the truth")
    return (f"{instrument} (account {account}): the model's {figure} is back within "
            f"{_percent(clear)} of the venue's ({_percent(value)})")


def _model_divergence(
    reading: SnapshotReading, rule: RuleConfig, tracked: Container[str]
) -> dict[str, Observation] | None:
    """The widest ``model_divergence`` (``|model - venue| / |venue|`` of the liquidation price or
    the maintenance margin) across the accounts holding an instrument, above a tolerance; unknown
    while no venue figure is reported."""
    grouped = reading.open_positions
    if grouped is None:
        return None
    threshold, clear = _levels(rule)
    observations: dict[str, Observation] = {}
    for instrument, group in grouped.items():
        worst: float | None = None
        account = figure = ""
        for position in group:
            for name, raw in (_table(position.get("model_divergence")) or {}).items():
                value = _number(raw)
                if value is not None and (worst is None or value > worst):
                    worst, account, figure = value, str(position.get("account", "")), str(name)
        status = _above(worst, threshold, clear)
        if status != "breach" and instrument not in tracked:
            continue
        describe = _no_message
        if worst is not None:
            describe = partial(_model_divergence_message, instrument, account,
                               figure.replace("_", " "), worst, status, threshold, clear)
        observations[instrument] = Observation(status, worst, threshold, clear, describe)
    return observations


def _account_margin_message(
    account: str, mode: str, value: float, ratio: float | None, status: Status, threshold: float,
    clear: float,
) -> str:
    ratio_text = "" if ratio is None else f" (margin ratio {_percent(ratio)})"
    if status == "breach":
        return (f"account {account} ({mode}) has used {_percent(value)} of its margin to the venue's "
                f"liquidation level{ratio_text}, above {_percent(threshold)}")
    return (f"account {account} ({mode}) is back at {_percent(value)} of its margin to "
            f"liquidation{ratio_text}, at or below {_percent(clear)}")


def _account_margin_ratio_high(
    reading: SnapshotReading, rule: RuleConfig, tracked: Container[str]
) -> dict[str, Observation] | None:
    """A unified / portfolio-margin account's ``buffer_used``: its maintenance margin ratio over
    the venue's liquidation ratio (Bybit ``accountMMRate`` over 100 %, Binance ``1/uniMMR`` over
    ``1/1.05``, OKX ``1/mgnRatio`` over 100 %), the venue's figure or its model between updates,
    whichever is higher; above a fraction."""
    accounts = _table(reading.snapshot.get("accounts"))
    if accounts is None:
        return None
    threshold, clear = _levels(rule)
    observations: dict[str, Observation] = {}
    for account, figures in accounts.items():
        row = _table(figures) or {}
        value = _number(row.get("buffer_used"))
        status = _above(value, threshold, clear)
        if status != "breach" and account not in tracked:
            continue
        describe = _no_message
        if value is not None:
            venue = _table(row.get("venue")) or {}
            describe = partial(_account_margin_message, str(account), str(row.get("mode", "")), value,
                               _number(venue.get("maintenance_margin_ratio")), status, threshold, clear)
        observations[str(account)] = Observation(status, value, threshold, clear, describe)
    return observations


def _adl_message(instrument: str, account: str, rank: int, top: int, pnl: float | None,
                 status: Status) -> str:
    if status == "breach":
        pnl_text = "" if pnl is None else f", unrealised PnL {_usd(pnl)}"
        return (f"{instrument} (account {account}) is in the venue's top auto-deleveraging bucket "
                f"({rank} of {top}){pnl_text}: an ADL would close this hedge leg")
    return f"{instrument} is no longer a profitable leg in the top auto-deleveraging bucket"


def _adl_top_bucket(
    reading: SnapshotReading, _rule: RuleConfig, tracked: Container[str]
) -> dict[str, Observation] | None:
    """A profitable hedge leg (``unrealized_pnl_usd`` > 0) whose venue ADL rank is the top bucket
    (Binance adlQuantile 4, Bybit ``adlRankIndicator`` 5, OKX ``adl`` 5): the venue deleverages
    the most profitable, most leveraged positions first, so it would close this hedge."""
    grouped = reading.open_positions
    if grouped is None:
        return None
    observations: dict[str, Observation] = {}
    for instrument, group in grouped.items():
        breach: tuple[str, int, int, float | None] | None = None
        known = False
        for position in group:
            venue = _table(position.get("venue_figures")) or {}
            rank, top = venue.get("adl_rank"), venue.get("adl_rank_top")
            if not isinstance(rank, int) or not isinstance(top, int) or top < 1:
                continue
            known = True
            pnl = _number(position.get("unrealized_pnl_usd"))
            if rank >= top and pnl is not None and pnl > 0:
                breach = (str(position.get("account", "")), rank, top, pnl)
        if breach is not None:
            account, rank, top, pnl = breach
            observations[instrument] = Observation(
                "breach", float(rank), float(top), None,
                partial(_adl_message, instrument, account, rank, top, pnl, "breach"))
        elif instrument in tracked:
            status: Status = "clear" if known else "unknown"
            observations[instrument] = Observation(
                status, None, None, None, partial(_adl_message, instrument, "", 0, 0, None, status))
    return observations


OBSERVERS = {
    **OBSERVERS,
    "model_divergence": _model_divergence,
    "account_margin_ratio_high": _account_margin_ratio_high,
    "adl_top_bucket": _adl_top_bucket,
}
