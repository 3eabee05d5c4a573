"""Threshold alerts on risk snapshots: the rules (``rules``, collected in ``registry``), their
settings (``config``) and the state engine (``engine``).

Pure code: the processor calls :meth:`AlertEngine.evaluate` on every recompute and publishes the
returned :class:`AlertTransition` values on ``hedge.alerts``.
"""

from monitor.alerts.config import AlertConfigError, AlertsConfig, RuleConfig, Severity
from monitor.alerts.engine import AlertEngine, AlertStateError, AlertTransition, alert_id
from monitor.alerts.registry import RULE_NAMES

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
