"""Helpers shared by the deploy checks: repository paths and the external tools they run."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from monitor.metrics import Metrics
from tests.unit.deploy.sample_snapshots import exercise_every_metric

REPO = Path(__file__).resolve().parents[3]
PROMETHEUS_DIR = REPO / "deploy" / "prometheus"
ALERTMANAGER_DIR = REPO / "deploy" / "alertmanager"
GRAFANA_DIR = REPO / "grafana"

# A metric name in PromQL: not part of a recording rule name (those contain colons).
METRIC_NAME = re.compile(r"(?<![\w:])hedge_[a-z0-9_]+(?![\w:])")


def require_tool(name: str) -> str:
    """The tool's path; skip when it is missing on a developer machine, fail in CI (CI=true)."""
    path = shutil.which(name)
    if path is not None:
        return path
    message = f"{name} is not installed: run `bash deploy/prometheus/install.sh`"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message} (CI must run this check)")
    pytest.skip(message)


def run_tool(*command: str) -> subprocess.CompletedProcess[str]:
    """Run a tool from the repository root, capturing its output as text."""
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120,
                          check=False)


def exported_sample_names() -> frozenset[str]:
    """Every sample name monitor.metrics exports once each metric has a series."""
    registry = CollectorRegistry()
    exercise_every_metric(Metrics(registry))
    return frozenset(sample.name for family in registry.collect() for sample in family.samples)


# Grafana built-ins the dashboards use, with the values the checks give them.
GRAFANA_BUILTINS = {"$__rate_interval": "1m"}
VARIABLE = re.compile(r"\$(?:\{)?(\w+)")


@dataclass(frozen=True, slots=True)
class PanelQuery:
    """One query of one dashboard panel."""

    dashboard: str
    panel: str
    ref_id: str
    expr: str

    def resolved(self, variables: dict[str, str]) -> str:
        """The query with Grafana built-ins and the given dashboard variables substituted."""
        expr = self.expr
        replacements = {**GRAFANA_BUILTINS, **{f"${name}": v for name, v in variables.items()}}
        for name, value in replacements.items():
            expr = expr.replace(name, value)
        return expr


def load_dashboards() -> dict[str, dict[str, Any]]:
    """Every dashboard JSON of grafana/dashboards/, by file name."""
    return {
        path.name: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted((GRAFANA_DIR / "dashboards").glob("*.json"))
    }


def panels_of(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """The dashboard's panels, rows' nested panels included, rows themselves excluded."""
    found: list[dict[str, Any]] = []
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            found.extend(panel.get("panels", []))
        else:
            found.append(panel)
    return found


def dashboard_queries() -> list[PanelQuery]:
    """Every panel query of every dashboard."""
    return [
        PanelQuery(name, panel["title"], target["refId"], target["expr"])
        for name, dashboard in load_dashboards().items()
        for panel in panels_of(dashboard)
        for target in panel["targets"]
    ]
