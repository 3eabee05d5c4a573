"""Helpers shared by the deploy checks: repository paths and the external tools they run."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

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
