"""The registry of alert rules: every rule object by name, and ``observe`` to run one by name."""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable, Mapping
from typing import Protocol

from monitor.alerts.reading import EVERY_SUBJECT, Observations, SnapshotReading, read_snapshot
from monitor.alerts.rules import ALL_RULES
from monitor.alerts.spec import RuleConfig, RuleSpec
from monitor.domain.snapshot import RiskSnapshot


class Rule(Protocol):
    """One alert rule: what it is, how it reads a snapshot and how it words a change."""

    @property
    def spec(self) -> RuleSpec:
        """Its name, label, subject kind, levels' ranges and default settings."""
        ...

    @property
    def message(self) -> Callable[..., str]:
        """Words a breach or a clear of one subject (its arguments are the rule's own)."""
        ...

    def observe(
        self, reading: SnapshotReading, rule: RuleConfig, tracked: Container[str]
    ) -> Observations | None:
        """Every breaching subject and every ``tracked`` one; None when the section it reads is
        missing (its alerts keep their state)."""
        ...


def register(rules: Iterable[Rule]) -> Mapping[str, Rule]:
    """The rules by name, in order; ValueError if two rules share a name."""
    registry: dict[str, Rule] = {}
    for rule in rules:
        name = rule.spec.name
        if name in registry:
            raise ValueError(f"alert rule {name!r} is registered twice")
        registry[name] = rule
    return registry


RULES: Mapping[str, Rule] = register(ALL_RULES)
"""Every alert rule by name, in the order of the rules table (``monitor.alerts.rules``)."""
RULE_NAMES: tuple[str, ...] = tuple(RULES)
RULE_SPECS: tuple[RuleSpec, ...] = tuple(rule.spec for rule in RULES.values())
SPECS_BY_NAME: Mapping[str, RuleSpec] = {name: rule.spec for name, rule in RULES.items()}
SNAPSHOT_RULES: Mapping[str, Rule] = {name: rule for name, rule in RULES.items() if not rule.spec.external}
"""The rules read from the risk snapshot, by name."""
EXTERNAL_RULES: tuple[str, ...] = tuple(name for name, rule in RULES.items() if rule.spec.external)
"""The rules fed through ``AlertEngine.report_condition``."""


def observe(name: str, snapshot: RiskSnapshot, rule: RuleConfig) -> Observations | None:
    """Read one snapshot rule's subjects from a snapshot, every one of them, clear ones included
    (KeyError for an unknown or external rule)."""
    return SNAPSHOT_RULES[name].observe(read_snapshot(snapshot), rule, EVERY_SUBJECT)
