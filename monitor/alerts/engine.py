"""The alert engine: per (portfolio, rule, subject) state machines driven by risk snapshots.

States and transitions (time is the snapshot's ``ts_event_ms``, never the wall clock, so replaying
the same snapshots gives the same transitions)::

    inactive --breach--> pending(since) --breach held for for_ms--> firing   => "firing"
    pending  --between/clear/gone--> inactive                                 (nothing published)
    firing   --between / unknown--> firing                                   (hysteresis)
    firing   --breach at a worse stage--> firing (severity raised)            => "firing" again
    firing   --breach at a milder stage--> firing (severity kept)             (no re-notification)
    firing   --clear / gone / rule disabled--> inactive                      => "resolved"
    any      --unknown (null figure)--> unchanged

A firing alert's id is a hash of (portfolio, rule, subject, firing ts_ms); its resolution has the
same id + ":resolved", an escalation the id + ":<severity>", so a duplicate delivered by
at-least-once processing carries the same id.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal

from monitor.alerts.config import AlertsConfig
from monitor.alerts.reading import Observation, Observer, read_snapshot
from monitor.alerts.registry import EXTERNAL_RULES, RULES, SNAPSHOT_RULES, SPECS_BY_NAME
from monitor.alerts.spec import ALL_SEVERITIES, SEVERITY_RANK, RuleConfig, Severity
from monitor.domain.snapshot import RiskSnapshot
from monitor.errors import HedgeMonitorError

TransitionState = Literal["firing", "resolved"]
Phase = Literal["pending", "firing"]
_Absence = Literal["gone", "disabled"]
"""Why a known subject has no observation: it left the snapshot, or its rule is disabled."""
STATE_VERSION = 1


class AlertStateError(HedgeMonitorError, ValueError):
    """A checkpointed alert state cannot be restored, or an input is malformed."""


def alert_id(portfolio: str, rule: str, subject: str, fired_ms: int) -> str:
    """The deterministic id of one firing: 16 hex digits of SHA-256 over its identity and start."""
    identity = "\x1f".join((portfolio, rule, subject, str(fired_ms)))
    return hashlib.sha256(identity.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class AlertTransition:
    """An alert starting to fire or resolving, as published on ``hedge.alerts``.

    ``since_ms`` is when the condition began to hold (start of the pending period; equal to the
    firing ``ts_ms`` when ``for_ms`` is 0) and is the same on a firing and its resolution.
    ``threshold`` is the level the value was compared with: the firing level on a firing, the
    clear level on a resolution by value, null for flag rules and resolutions without a value.
    """

    id: str
    portfolio: str
    rule: str
    subject: str
    severity: Severity
    state: TransitionState
    value: float | None
    threshold: float | None
    message: str
    ts_ms: int
    since_ms: int
    remediation: Mapping[str, Any] | None = None
    """On a firing: what restores the level (``monitor.alerts.remediation``); None otherwise."""
    account: str | None = None
    """The account of a per-position alert's worst leg, when known (an Alertmanager label)."""

    def to_dict(self) -> dict[str, Any]:
        """The ``hedge.alerts`` JSON value (``"v": 1, "type": "alert"``)."""
        return {
            "v": 1,
            "type": "alert",
            "id": self.id,
            "portfolio": self.portfolio,
            "rule": self.rule,
            "subject": self.subject,
            "severity": self.severity,
            "state": self.state,
            "value": self.value,
            "threshold": self.threshold,
            "message": self.message,
            "ts_ms": self.ts_ms,
            "since_ms": self.since_ms,
            "remediation": None if self.remediation is None else dict(self.remediation),
            "account": self.account,
        }


@dataclass(frozen=True, slots=True)
class _AlertState:
    """A pending or firing alert; inactive alerts have no entry."""

    phase: Phase
    since_ms: int
    fired_ms: int | None
    severity: Severity


_Key = tuple[str, str, str]
_Alerts = dict[str, dict[str, dict[str, _AlertState]]]
"""Alert states by portfolio, then rule, then subject; a rule without alerts has no entry."""
_Plan = tuple[tuple[str, RuleConfig, Observer], ...]
"""Every snapshot rule of one configuration, in order, with its settings and observer."""
_NO_SUBJECTS: Mapping[str, _AlertState] = {}


def _plan(config: AlertsConfig) -> _Plan:
    return tuple((name, config.rule(name), rule.observe) for name, rule in SNAPSHOT_RULES.items())


def _disabled_message(rule: str, subject: str) -> str:
    return f"{SPECS_BY_NAME[rule].label} alert for {subject} resolved: rule disabled"


def _gone_message(rule: str, subject: str) -> str:
    spec = SPECS_BY_NAME[rule]
    if spec.subject_kind == "instrument":
        return f"{subject} is no longer held (position closed); {spec.label} alert resolved"
    return f"{subject} is no longer in the risk snapshot; {spec.label} alert resolved"


class AlertEngine:
    """Evaluates the alert rules on every risk snapshot and returns the alert transitions."""

    def __init__(self, config: AlertsConfig, per_portfolio: Mapping[str, AlertsConfig] | None = None) -> None:
        self._config = config
        self._per_portfolio = dict(per_portfolio or {})
        self._plan = _plan(config)
        self._plans = {portfolio: _plan(settings) for portfolio, settings in self._per_portfolio.items()}
        self._alerts: _Alerts = {}

    def config_for(self, portfolio: str) -> AlertsConfig:
        """The settings that apply to ``portfolio`` (its own, else the global ones)."""
        return self._per_portfolio.get(portfolio, self._config)

    def evaluate(self, snapshot: RiskSnapshot) -> list[AlertTransition]:
        """Apply every snapshot rule to one risk snapshot at its ``ts_event_ms``."""
        portfolio = snapshot.portfolio
        ts_ms = snapshot.ts_event_ms
        if not portfolio:
            raise AlertStateError(f"risk snapshot has no portfolio id: {portfolio!r}")
        reading = read_snapshot(snapshot)
        by_rule = self._alerts.get(portfolio, {})
        transitions: list[AlertTransition] = []
        for name, rule, observer in self._plans.get(portfolio, self._plan):
            # only subjects with an alert (``tracked``) and breaching ones can change state
            tracked = by_rule.get(name, _NO_SUBJECTS)
            if not rule.enabled:
                observations: Mapping[str, Observation] = {}
                absence: _Absence = "disabled"
            else:
                observed = observer(reading, rule, tracked)
                if observed is None:
                    continue
                observations, absence = observed, "gone"
            if not tracked and not observations:
                continue
            for subject in sorted(tracked.keys() | observations.keys()):
                transition = self._step(
                    (portfolio, name, subject), observations.get(subject, absence), ts_ms=ts_ms, rule=rule
                )
                if transition is not None:
                    transitions.append(transition)
        return transitions

    def report_condition(
        self,
        portfolio: str,
        rule: str,
        subject: str,
        active: bool,
        value: float | None,
        ts_ms: int,
        message: str,
    ) -> list[AlertTransition]:
        """Feed an externally detected condition (``position_mismatch`` from a resync,
        ``hedge_broken`` from a liquidation or ADL fill).

        ``active`` True is a breach (fires after the rule's ``for_ms``), False clears it;
        ``message`` is used verbatim for the transition it causes. A disabled rule reports nothing.
        """
        if rule not in EXTERNAL_RULES:
            raise AlertStateError(
                f"{rule!r} is not an externally reported rule; expected one of: {', '.join(EXTERNAL_RULES)}"
            )
        settings = self.config_for(portfolio).rule(rule)
        if not settings.enabled:
            return []
        describe = partial(RULES[rule].message, message)
        observation = Observation("breach" if active else "clear", value, None, None, describe)
        transition = self._step((portfolio, rule, subject), observation, ts_ms=ts_ms, rule=settings)
        return [] if transition is None else [transition]

    def firing(self) -> list[tuple[str, str, str, str]]:
        """Every firing alert as (portfolio, rule, subject, severity), sorted: the metrics gauge."""
        return sorted((*key, state.severity) for key, state in self._entries() if state.phase == "firing")

    def state(self) -> dict[str, Any]:
        """A JSON-serialisable checkpoint of every pending and firing alert, with their times."""
        return {
            "v": STATE_VERSION,
            "alerts": [
                {
                    "portfolio": key[0],
                    "rule": key[1],
                    "subject": key[2],
                    "phase": state.phase,
                    "since_ms": state.since_ms,
                    "fired_ms": state.fired_ms,
                    "severity": state.severity,
                }
                for key, state in sorted(self._entries(), key=lambda entry: entry[0])
            ],
        }

    def restore(self, state: Mapping[str, Any]) -> None:
        """Replace every alert state with a checkpoint made by :meth:`state` (all or nothing)."""
        if not isinstance(state, Mapping) or state.get("v") != STATE_VERSION:
            raise AlertStateError(f"alert state must be a mapping with v={STATE_VERSION}")
        entries = state.get("alerts")
        if not isinstance(entries, list):
            raise AlertStateError("alert state: 'alerts' must be a list")
        restored: _Alerts = {}
        for index, entry in enumerate(entries):
            (portfolio, rule, subject), alert = _parse_entry(index, entry)
            restored.setdefault(portfolio, {}).setdefault(rule, {})[subject] = alert
        self._alerts = restored

    def _entries(self) -> Iterator[tuple[_Key, _AlertState]]:
        """Every pending and firing alert with its (portfolio, rule, subject) key, unordered."""
        for portfolio, by_rule in self._alerts.items():
            for rule, alerts in by_rule.items():
                for subject, alert in alerts.items():
                    yield (portfolio, rule, subject), alert

    def _store(self, key: _Key, alert: _AlertState) -> None:
        self._alerts.setdefault(key[0], {}).setdefault(key[1], {})[key[2]] = alert

    def _forget(self, key: _Key) -> None:
        """Drop one alert, and its rule's entry once the rule has no alert left for the portfolio."""
        by_rule = self._alerts[key[0]]
        alerts = by_rule[key[1]]
        del alerts[key[2]]
        if not alerts:
            del by_rule[key[1]]

    def _step(
        self, key: _Key, observation: Observation | _Absence, *, ts_ms: int, rule: RuleConfig
    ) -> AlertTransition | None:
        """Advance one alert's state machine; return the transition to publish, if any."""
        current = self._alerts.get(key[0], {}).get(key[1], _NO_SUBJECTS).get(key[2])
        status = observation if isinstance(observation, str) else observation.status
        if status == "unknown":
            return None
        if isinstance(observation, Observation) and status == "breach":
            severity = observation.severity or rule.severity
            if current is None:
                current = _AlertState("pending", ts_ms, None, severity)
                self._store(key, current)
            elif (observation.severity is not None
                  and SEVERITY_RANK[severity] > SEVERITY_RANK[current.severity]):
                # a worse stage: remembered, and re-notified if the alert is already firing
                worse = _AlertState(current.phase, current.since_ms, current.fired_ms, severity)
                self._store(key, worse)
                if current.phase == "firing" and current.fired_ms is not None:
                    return _transition(key, "firing", worse, fired_ms=current.fired_ms, ts_ms=ts_ms,
                                       observation=observation, escalation=True)
                current = worse
            if current.phase == "firing" or ts_ms - current.since_ms < rule.for_ms:
                return None
            self._store(key, _AlertState("firing", current.since_ms, ts_ms, current.severity))
            return _transition(key, "firing", current, fired_ms=ts_ms, ts_ms=ts_ms, observation=observation)
        if current is None:
            return None
        if current.phase == "pending":
            # the condition stopped holding before for_ms elapsed: start over next time
            self._forget(key)
            return None
        if status == "between":
            return None
        self._forget(key)
        fired_ms = current.fired_ms if current.fired_ms is not None else current.since_ms
        if observation == "gone":
            observation = Observation("clear", None, None, None, partial(_gone_message, key[1], key[2]))
        elif observation == "disabled":
            observation = Observation("clear", None, None, None, partial(_disabled_message, key[1], key[2]))
        return _transition(key, "resolved", current, fired_ms=fired_ms, ts_ms=ts_ms, observation=observation)


def _transition(
    key: _Key,
    state: TransitionState,
    alert: _AlertState,
    *,
    fired_ms: int,
    ts_ms: int,
    observation: Observation,
    escalation: bool = False,
) -> AlertTransition:
    identifier = alert_id(*key, fired_ms)
    if state == "resolved":
        identifier += ":resolved"
    elif escalation:
        identifier += f":{alert.severity}"
    threshold = observation.clear_threshold if state == "resolved" else observation.threshold
    return AlertTransition(
        id=identifier,
        portfolio=key[0],
        rule=key[1],
        subject=key[2],
        severity=alert.severity,
        state=state,
        value=observation.value,
        threshold=threshold,
        message=observation.message,
        ts_ms=ts_ms,
        since_ms=alert.since_ms,
        remediation=observation.remediation if state == "firing" else None,
        account=observation.account,
    )


def _parse_entry(index: int, entry: object) -> tuple[_Key, _AlertState]:
    where = f"alert state: alerts[{index}]"
    if not isinstance(entry, Mapping):
        raise AlertStateError(f"{where}: expected a mapping")
    names = ("portfolio", "rule", "subject")
    identity = [entry.get(name) for name in names]
    for name, item in zip(names, identity, strict=True):
        if not isinstance(item, str) or not item:
            raise AlertStateError(f"{where}.{name}: expected a non-empty string, got {item!r}")
    portfolio, rule, subject = (str(item) for item in identity)
    if rule not in SPECS_BY_NAME:
        raise AlertStateError(f"{where}.rule: unknown rule {rule!r}")
    phase = entry.get("phase")
    since_ms = entry.get("since_ms")
    fired_ms = entry.get("fired_ms")
    severity = entry.get("severity")
    parsed_phase: Phase
    if phase == "pending":
        parsed_phase = "pending"
    elif phase == "firing":
        parsed_phase = "firing"
    else:
        raise AlertStateError(f"{where}.phase: expected 'pending' or 'firing', got {phase!r}")
    if not isinstance(since_ms, int) or isinstance(since_ms, bool):
        raise AlertStateError(f"{where}.since_ms: expected an integer, got {since_ms!r}")
    if phase == "firing" and (not isinstance(fired_ms, int) or isinstance(fired_ms, bool)):
        raise AlertStateError(f"{where}.fired_ms: expected an integer, got {fired_ms!r}")
    if phase == "pending" and fired_ms is not None:
        raise AlertStateError(f"{where}.fired_ms: expected null for a pending alert, got {fired_ms!r}")
    parsed_severity = next((level for level in ALL_SEVERITIES if level == severity), None)
    if parsed_severity is None:
        raise AlertStateError(f"{where}.severity: expected one of {ALL_SEVERITIES}, got {severity!r}")
    parsed_fired = fired_ms if isinstance(fired_ms, int) else None
    alert = _AlertState(parsed_phase, since_ms, parsed_fired, parsed_severity)
    return (portfolio, rule, subject), alert
