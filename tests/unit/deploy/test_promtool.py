"""Prometheus config and rules: promtool's own checks and unit tests, and metric names that
monitor.metrics really exports."""

from __future__ import annotations

from typing import Any

import yaml

from tests.unit.deploy.tooling import (
    METRIC_NAME,
    PROMETHEUS_DIR,
    exported_sample_names,
    require_tool,
    run_tool,
)

RULE_FILES = sorted((PROMETHEUS_DIR / "rules").glob("*.yml"))
RULE_TESTS = sorted((PROMETHEUS_DIR / "tests").glob("*_test.yml"))
SEVERITIES = {"critical", "warning", "info"}


def load_rules() -> list[dict[str, Any]]:
    """Every rule of every rule file."""
    rules: list[dict[str, Any]] = []
    for path in RULE_FILES:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        for group in document["groups"]:
            rules.extend(group["rules"])
    return rules


def test_prometheus_config_is_valid() -> None:
    """``promtool check config`` accepts prometheus.yml and the rule files it names."""
    promtool = require_tool("promtool")
    result = run_tool(promtool, "check", "config", str(PROMETHEUS_DIR / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(RULE_FILES)} rule files found" in result.stdout


def test_rule_files_are_valid() -> None:
    """``promtool check rules`` accepts every rule file."""
    promtool = require_tool("promtool")
    assert RULE_FILES, "no rule files"
    result = run_tool(promtool, "check", "rules", *map(str, RULE_FILES))
    assert result.returncode == 0, result.stdout + result.stderr


def test_rule_unit_tests_pass() -> None:
    """``promtool test rules`` passes every rule unit test file."""
    promtool = require_tool("promtool")
    result = run_tool(promtool, "test", "rules", *map(str, RULE_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(RULE_TESTS), result.stdout


def test_every_rule_file_has_unit_tests() -> None:
    """Each rules/<name>.yml has a tests/<name>_test.yml that loads it."""
    for path in RULE_FILES:
        test_file = PROMETHEUS_DIR / "tests" / f"{path.stem}_test.yml"
        assert test_file.is_file(), f"{test_file.name} missing"
        document = yaml.safe_load(test_file.read_text(encoding="utf-8"))
        assert f"../rules/{path.name}" in document["rule_files"]


def test_every_alert_has_a_unit_test() -> None:
    """Every alert rule is exercised by at least one alert_rule_test with an expected alert."""
    tested: set[str] = set()
    for path in RULE_TESTS:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        for case in document["tests"]:
            for check in case.get("alert_rule_test", []):
                if check["exp_alerts"]:
                    tested.add(check["alertname"])
    alerts = {rule["alert"] for rule in load_rules() if "alert" in rule}
    assert alerts - tested == set()


def test_rules_use_exported_metric_names() -> None:
    """Every hedge_* metric a rule reads is one monitor.metrics exports."""
    exported = exported_sample_names()
    used = {name for rule in load_rules() for name in METRIC_NAME.findall(rule["expr"])}
    assert used, "no hedge_ metric found in the rules"
    assert used - exported == set()


def test_every_alert_routes_by_severity() -> None:
    """Each alert has a severity label, fixed or taken from the series it mirrors."""
    for rule in load_rules():
        if "alert" not in rule:
            continue
        severity = rule.get("labels", {}).get("severity")
        if severity is None:
            assert "severity" in rule["expr"], rule["alert"]
        else:
            assert severity in SEVERITIES, rule["alert"]


def test_scrape_jobs_cover_the_monitor_processes() -> None:
    """prometheus.yml scrapes the processor, ingest, demo and Alertmanager."""
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text(encoding="utf-8"))
    jobs = {job["job_name"] for job in config["scrape_configs"]}
    assert {"hedge-processor", "hedge-ingest", "hedge-demo", "alertmanager"} <= jobs
