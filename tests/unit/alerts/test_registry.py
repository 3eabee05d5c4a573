"""The registry of alert rules: one complete, documented rule object per name, each registered once."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import pytest

from monitor.alerts import RULE_NAMES, AlertsConfig, rules
from monitor.alerts.reading import read_snapshot
from monitor.alerts.registry import EXTERNAL_RULES, RULES, SNAPSHOT_RULES, SPECS_BY_NAME, register
from monitor.alerts.spec import RuleConfig, RuleSpec
from tests.unit.alerts.snapshots import T0, snapshot

ROOT = Path(__file__).resolve().parents[3]
CONFIGURATION_DOC = ROOT / "docs" / "configuration.md"
DOC_ROW = re.compile(r"^\| `(?P<name>[a-z0-9_]+)` \| .* \| (?P<defaults>[^|]+) \|$")


def documented_defaults() -> dict[str, tuple[str, str, str, str]]:
    """The rules table of docs/configuration.md: rule -> (threshold, clear, for_ms, severity) text."""
    rows: dict[str, tuple[str, str, str, str]] = {}
    for line in CONFIGURATION_DOC.read_text(encoding="utf-8").splitlines():
        match = DOC_ROW.match(line)
        if match is None:
            continue
        parts = [part.strip() for part in match["defaults"].split(" / ")]
        if len(parts) == 4:
            assert match["name"] not in rows, f"{match['name']} documented twice"
            threshold, clear, for_ms, severity = parts
            rows[match["name"]] = (threshold, clear, for_ms, severity)
    return rows


def documented_level(text: str) -> float | None:
    """A level of the docs table: "—" for none, else its leading number ("0.5 of the band": 0.5)."""
    if text == "\u2014":
        return None
    match = re.match(r"[0-9.]+", text)
    assert match is not None, text
    return float(match[0])


def test_registry_names_are_the_rule_names_and_the_config_fields() -> None:
    """The registry, RULE_NAMES and AlertsConfig's fields list the same rules in the same order."""
    assert tuple(RULES) == RULE_NAMES
    assert tuple(field.name for field in fields(AlertsConfig)) == RULE_NAMES
    assert tuple(SPECS_BY_NAME) == RULE_NAMES


@pytest.mark.parametrize("name", RULE_NAMES)
def test_every_rule_has_a_spec_an_observer_and_a_message(name: str) -> None:
    """Each rule object carries its spec under its own name, an observer and a message."""
    rule = RULES[name]
    assert isinstance(rule.spec, RuleSpec)
    assert rule.spec.name == name
    assert rule.spec.label
    assert callable(rule.observe)
    assert callable(rule.message)


@pytest.mark.parametrize("name", RULE_NAMES)
def test_every_rule_has_a_default_config(name: str) -> None:
    """The default settings are the spec's, and a rule has levels exactly when its spec says so."""
    default = AlertsConfig().rule(name)
    spec = RULES[name].spec
    assert isinstance(default, RuleConfig)
    assert default == spec.default
    assert (default.threshold is not None) == spec.has_levels
    assert (default.clear_threshold is not None) == spec.has_levels


def test_every_rule_is_documented_with_its_defaults() -> None:
    """docs/configuration.md lists every registered rule, once, with its default settings."""
    documented = documented_defaults()
    assert tuple(documented) == RULE_NAMES
    for name, (threshold, clear, for_ms, severity) in documented.items():
        default = RULES[name].spec.default
        assert documented_level(threshold) == default.threshold, name
        assert documented_level(clear) == default.clear_threshold, name
        assert int(for_ms) == default.for_ms, name
        assert severity == default.severity, name


def test_every_rule_is_in_the_rules_module_table() -> None:
    """The table at the top of monitor/alerts/rules.py names every rule."""
    assert rules.__doc__ is not None
    listed = [words[0] for line in rules.__doc__.splitlines()
              if (words := line.split()) and words[0] in RULE_NAMES]
    assert listed == list(RULE_NAMES)


def test_snapshot_and_external_rules_split_the_registry() -> None:
    """A rule is read from the snapshot or reported from outside, never both; only snapshot rules
    read anything from a snapshot."""
    assert set(SNAPSHOT_RULES) | set(EXTERNAL_RULES) == set(RULE_NAMES)
    assert not set(SNAPSHOT_RULES) & set(EXTERNAL_RULES)
    assert EXTERNAL_RULES == ("position_mismatch", "hedge_broken")
    reading = read_snapshot(snapshot(T0))
    for name, rule in RULES.items():
        observed = rule.observe(reading, AlertsConfig().rule(name), ())
        assert observed is None if name in EXTERNAL_RULES else observed == {}, name


def test_every_rule_object_is_registered_once() -> None:
    """ALL_RULES holds each rule once and the registry all of them: none is missing or doubled."""
    assert len(rules.ALL_RULES) == len(RULES) == len(set(RULE_NAMES))
    assert all(RULES[rule.spec.name] is rule for rule in rules.ALL_RULES)


def test_a_rule_registered_twice_is_refused() -> None:
    """register() refuses a second rule with a name already taken."""
    with pytest.raises(ValueError, match="'margin_buffer_low' is registered twice"):
        register((rules.MARGIN_BUFFER_LOW, rules.MARGIN_RATIO_HIGH, rules.MARGIN_BUFFER_LOW))
    assert tuple(register((rules.MARGIN_RATIO_HIGH, rules.MARGIN_BUFFER_LOW))) == (
        "margin_ratio_high", "margin_buffer_low")
