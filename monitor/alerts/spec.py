"""What an alert rule is and which settings it takes: ``RuleSpec``, ``RuleConfig`` and their ranges.

The rules themselves (``monitor.alerts.rules``) each carry a spec; ``monitor.alerts.config`` checks
settings against it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

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
SubjectKind = Literal["asset", "instrument", "portfolio", "account"]
Relation = Literal["at_or_above", "at_or_below", "independent"]
"""Where a rule's ``clear_threshold`` must lie relative to its ``threshold``."""

RULE_COMMON_KEYS: tuple[str, ...] = ("enabled", "for_ms", "severity")
"""Keys every rule's table takes."""
RULE_LEVEL_KEYS: tuple[str, ...] = ("threshold", "clear_threshold")
"""Keys only a rule with levels takes (``RuleSpec.has_levels``)."""
RULE_STAGE_KEYS: tuple[str, ...] = ("stages", "vol_stages", "vol_horizon_s")
"""Keys only a staged rule takes (``RuleSpec.staged``)."""


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
class Range:
    """A numeric range with the wording used in error messages."""

    low: float | None
    high: float | None
    low_inclusive: bool
    high_inclusive: bool
    text: str

    def contains(self, value: float) -> bool:
        """Whether ``value`` lies in the range."""
        if self.low is not None and (value < self.low or (value == self.low and not self.low_inclusive)):
            return False
        return not (
            self.high is not None and (value > self.high or (value == self.high and not self.high_inclusive))
        )


FRACTION = Range(0.0, 1.0, True, True, "a number between 0 and 1")
OPEN_FRACTION = Range(0.0, 1.0, False, False, "a number greater than 0 and less than 1")
POSITIVE = Range(0.0, None, False, False, "a number greater than 0")
NON_NEGATIVE = Range(0.0, None, True, False, "a number at or above 0")


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """What a rule is: its subject kind, the ranges of its levels and its defaults."""

    name: str
    label: str
    subject_kind: SubjectKind
    default: RuleConfig
    threshold_range: Range | None = None
    clear_range: Range | None = None
    clear_relation: Relation = "independent"
    external: bool = False
    """Whether the rule is reported from outside the snapshot (``AlertEngine.report_condition``)."""
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
