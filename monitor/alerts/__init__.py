"""Threshold alerts on risk snapshots: rule settings (``rules``) and the state engine (``engine``).

Pure code: the processor calls :meth:`AlertEngine.evaluate` on every recompute and publishes the
returned :class:`AlertTransition` values on ``hedge.alerts``.
"""

from monitor.alerts.engine import AlertEngine, AlertStateError, AlertTransition, alert_id
from monitor.alerts.rules import (
    RULE_NAMES,
    AlertConfigError,
    AlertsConfig,
    RuleConfig,
    Severity,
)

__all__ = [
    "RULE_NAMES",
    "AlertConfigError",
    "AlertEngine",
    "AlertStateError",
    "AlertTransition",
    "AlertsConfig",
    "RuleConfig",
    "Severity",
    "alert_id",
]
