"""Settings of the alert rules: ``AlertsConfig`` (the ``[alerts]`` table), its parsing and checks.

Each rule's ``RuleConfig`` is checked against the rule's ``RuleSpec`` (``monitor.alerts.spec``):
its keys, the ranges of its levels, the side of its clear level and its stages.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from monitor.alerts.registry import RULE_NAMES, RULE_SPECS, SPECS_BY_NAME
from monitor.alerts.spec import (
    POSITIVE,
    RULE_COMMON_KEYS,
    RULE_LEVEL_KEYS,
    SEVERITIES,
    SEVERITY_RANK,
    STAGE_SEVERITIES,
    AlertConfigError,
    Relation,
    RuleConfig,
    RuleSpec,
    Severity,
)

__all__ = [
    "DEFAULT_REMEDIATION_DISTANCE",
    "RULE_LEVEL_KEYS",
    "AlertConfigError",
    "AlertsConfig",
    "RuleConfig",
    "Severity",
]

DEFAULT_REMEDIATION_DISTANCE = 0.06
"""The distance to liquidation a remediation restores when no alert config says (the default clear)."""


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
        ("vol_stages", rule.vol_stages, None, POSITIVE),
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
