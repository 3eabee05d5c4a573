"""The crash-test verifier: recompute every portfolio from the input topics and compare.

Only the input topics are trusted. ``hedge.prices`` and ``hedge.positions`` are read in full and
replayed through a fresh ``RiskEngine`` in a fixed order: account events partition by partition in
offset order (a portfolio lives in one partition, and Kafka guarantees per-partition order), then
prices by event time. Position and balance events are full state, and the run ends with settle
ticks stamped after everything else, so the final figures do not depend on how the processors
interleaved the two topics; those figures must equal the final ``hedge.risk`` snapshot of every
portfolio. Figures that legitimately depend on the interleaving (cumulative effectiveness, funding
accruals, min-variance samples, feed staleness, latency, ``seq`` and ``ts_ms``) are not compared.

``hedge.alerts`` is checked for at-least-once consistency: a duplicate carries the same id and
content; per (portfolio, rule, subject) no second firing with another id appears before the first
is resolved; and for the rules whose figures are compared, the last transition agrees with the
recomputed final state (a breach must be firing, a clear or vanished subject must be resolved).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from monitor.alerts.config import AlertsConfig
from monitor.alerts.registry import observe
from monitor.app import build_engine
from monitor.bus.base import Record
from monitor.codec import DecodeError, decode, risk_to_dict
from monitor.domain.events import (
    AccountEvent,
    BalanceEvent,
    Event,
    PositionEvent,
    PriceEvent,
)
from monitor.domain.plans import STABLE_ASSETS
from monitor.domain.snapshot import RiskSnapshot
from monitor.processor.engine import RiskEngine, UnknownInstrumentError

RELATIVE_TOLERANCE = 1e-9
ABSOLUTE_TOLERANCE = 1e-9
MAX_REPORTED_MISMATCHES = 50
CHECKS = ("inputs", "snapshots", "updates", "alert_pairs", "alert_final")
"""What the verifier checks: the input topics hold what the driver wrote; every final snapshot
equals the recomputation; every last position and balance is reflected; duplicated alerts share
ids and firings pair with resolutions; the last alert transitions agree with the final state."""

ASSET_FIGURES = (
    "price", "spot_delta", "futures_delta", "net_delta", "net_delta_usd", "hedge_ratio",
    "contracts_to_target",
)
POSITION_IDENTITY = ("account", "instrument")
POSITION_FIGURES = (
    "quantity", "entry_price", "mark_price", "notional_usd", "unrealized_pnl_usd",
    "maintenance_margin_usd", "margin_balance_usd", "margin_ratio", "liquidation_price", "fees_usd",
)
STRESS_FIGURES = ("shock", "spot_pnl_usd", "hedge_pnl_usd", "net_pnl_usd")
COST_FIGURES = ("fees_usd",)
FINAL_STATE_RULES = (
    "hedge_ratio_low", "hedge_ratio_high", "margin_buffer_low", "margin_ratio_high",
    "liquidation_distance_low",
)
"""Rules whose figures are order-independent and fire at once (``for_ms`` 0 by default)."""


def same_number(expected: object, actual: object) -> bool:
    """Equal to 1e-9 relative (1e-9 absolute near zero); null equals only null."""
    if expected is None or actual is None:
        return expected is None and actual is None
    if not isinstance(expected, (int, float)) or not isinstance(actual, (int, float)):
        return expected == actual
    return math.isclose(float(expected), float(actual), rel_tol=RELATIVE_TOLERANCE,
                        abs_tol=ABSOLUTE_TOLERANCE)


# -- what the topics hold ---------------------------------------------------------------------


@dataclass(slots=True)
class InputLog:
    """Every decoded record of hedge.prices and hedge.positions, with its partition and offset."""

    prices: list[tuple[int, int, PriceEvent]] = field(default_factory=list)
    accounts: list[tuple[int, int, AccountEvent]] = field(default_factory=list)
    undecodable: int = 0

    def add_price(self, record: Record) -> None:
        """Keep one hedge.prices record."""
        event = self._decode(record)
        if isinstance(event, PriceEvent):
            self.prices.append((record.partition, record.offset, event))
        elif event is not None:
            self.undecodable += 1

    def add_account(self, record: Record) -> None:
        """Keep one hedge.positions record."""
        event = self._decode(record)
        if event is None:
            return
        if isinstance(event, PriceEvent):
            self.undecodable += 1
        else:
            self.accounts.append((record.partition, record.offset, event))

    def _decode(self, record: Record) -> Event | None:
        try:
            return decode(record.value)
        except DecodeError:
            self.undecodable += 1
            return None

    def ordered_accounts(self) -> list[tuple[int, int, AccountEvent]]:
        """Account events partition by partition, in offset order."""
        return sorted(self.accounts, key=lambda item: (item[0], item[1]))

    def portfolios(self) -> list[str]:
        """Every portfolio with at least one account event."""
        return sorted({event.portfolio for _, _, event in self.accounts})


@dataclass(slots=True)
class SnapshotLog:
    """The last hedge.risk snapshot per portfolio (what compaction keeps) and seq statistics."""

    last: dict[str, dict[str, Any]] = field(default_factory=dict)
    max_seq: dict[str, int] = field(default_factory=dict)
    count: int = 0
    replayed: int = 0

    def add(self, record: Record) -> None:
        """Keep one hedge.risk record (records of one portfolio arrive in offset order)."""
        if record.key is None:
            return
        portfolio = record.key.decode()
        snapshot = orjson.loads(record.value)
        self.count += 1
        seq = int(snapshot.get("seq", -1))
        previous = self.max_seq.get(portfolio)
        if previous is not None and seq < previous:
            self.replayed += 1
        self.max_seq[portfolio] = seq if previous is None else max(previous, seq)
        self.last[portfolio] = snapshot


@dataclass(slots=True)
class AlertLog:
    """Every hedge.alerts transition in offset order (one portfolio is one partition)."""

    transitions: list[dict[str, Any]] = field(default_factory=list)

    def add(self, record: Record) -> None:
        """Keep one hedge.alerts record."""
        self.transitions.append(orjson.loads(record.value))


# -- recomputation ----------------------------------------------------------------------------


def recompute(inputs: InputLog) -> RiskEngine:
    """A fresh engine (the processors' settings) fed every input record in a fixed order.

    Account events are applied one by one; price ticks go into the price table in event-time
    order, and each book then follows the final table once, as a restored processor's does.
    Every compared figure depends on the final prices only (path-dependent ones are excluded), and
    repricing every holder on every tick did not finish within an hour with 1,000 portfolios and
    6 h of ticks.
    """
    engine = build_engine()
    for partition, offset, event in inputs.ordered_accounts():
        try:
            engine.apply_account(event, partition, offset)
        except UnknownInstrumentError:
            continue  # the processor dead-letters it too
    for _, _, price in sorted(inputs.prices, key=lambda item: (item[2].ts_event_ms, item[0], item[1])):
        engine.prices.apply(price)
    for portfolio_id in sorted(engine.portfolios):
        engine.catch_up_prices(portfolio_id)
    return engine


def last_updates(
    events: Iterable[AccountEvent],
) -> tuple[dict[tuple[str, str, str, str], PositionEvent], dict[tuple[str, str, str], BalanceEvent]]:
    """The last position per (portfolio, account, instrument, leg) and balance per (portfolio,
    account, asset)."""
    positions: dict[tuple[str, str, str, str], PositionEvent] = {}
    balances: dict[tuple[str, str, str], BalanceEvent] = {}
    for event in events:
        if isinstance(event, PositionEvent):
            positions[(event.portfolio, event.account, event.instrument, event.position_side)] = event
        elif isinstance(event, BalanceEvent):
            balances[(event.portfolio, event.account, event.asset)] = event
    return positions, balances


def reflects_settle(
    snapshot: Mapping[str, Any] | None, asset_prices: Mapping[str, float], marks: Mapping[str, float]
) -> bool:
    """True when every asset price and position mark of ``snapshot`` is the settle price."""
    if snapshot is None:
        return False
    for asset, row in snapshot.get("assets", {}).items():
        if asset in asset_prices and row.get("price") != asset_prices[asset]:
            return False
    return all(
        position.get("mark_price") == marks.get(position.get("instrument"), position.get("mark_price"))
        and position.get("mark_price") is not None
        for position in snapshot.get("positions", [])
    )


# -- the report -------------------------------------------------------------------------------


@dataclass(slots=True)
class VerificationReport:
    """What the verifier checked and every discrepancy it found (capped at 50 lines)."""

    portfolios: int = 0
    portfolios_verified: int = 0
    price_records: int = 0
    account_records: int = 0
    undecodable_inputs: int = 0
    snapshots: int = 0
    replayed_snapshots: int = 0
    positions_checked: int = 0
    balances_checked: int = 0
    alert_transitions: int = 0
    alert_duplicates: int = 0
    alert_ids: int = 0
    final_alert_states_checked: int = 0
    firing_at_end: int = 0
    dead_letters: int = 0
    failures: dict[str, list[str]] = field(default_factory=lambda: {c: [] for c in CHECKS})
    failure_counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CHECKS, 0))

    def fail(self, check: str, message: str) -> None:
        """Record one discrepancy found by ``check`` (one of ``CHECKS``)."""
        self.failure_counts[check] += 1
        if len(self.failures[check]) < MAX_REPORTED_MISMATCHES:
            self.failures[check].append(message)

    @property
    def mismatch_count(self) -> int:
        """Discrepancies found by every check."""
        return sum(self.failure_counts.values())

    def passed(self, check: str) -> bool:
        """True when ``check`` found nothing wrong."""
        return self.failure_counts[check] == 0

    @property
    def ok(self) -> bool:
        """True when nothing was found wrong."""
        return self.mismatch_count == 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready figures."""
        return {
            "ok": self.ok,
            "portfolios": self.portfolios,
            "portfolios_verified": self.portfolios_verified,
            "price_records": self.price_records,
            "account_records": self.account_records,
            "undecodable_inputs": self.undecodable_inputs,
            "snapshots": self.snapshots,
            "replayed_snapshots": self.replayed_snapshots,
            "positions_checked": self.positions_checked,
            "balances_checked": self.balances_checked,
            "alert_transitions": self.alert_transitions,
            "alert_ids": self.alert_ids,
            "alert_duplicates": self.alert_duplicates,
            "final_alert_states_checked": self.final_alert_states_checked,
            "firing_at_end": self.firing_at_end,
            "dead_letters": self.dead_letters,
            "mismatch_count": self.mismatch_count,
            "failure_counts": dict(self.failure_counts),
            "failures": {check: list(messages) for check, messages in self.failures.items()},
        }


# -- comparisons ------------------------------------------------------------------------------


def compare_snapshot(portfolio: str, expected: Mapping[str, Any], actual: Mapping[str, Any]) -> list[str]:
    """Every order-independent figure of ``actual`` that differs from ``expected``."""
    problems: list[str] = []

    def figure(where: str, name: str, want: object, got: object) -> None:
        if not same_number(want, got):
            problems.append(f"{portfolio}: {where}.{name}: expected {want!r}, got {got!r}")

    expected_assets = expected.get("assets", {})
    actual_assets = actual.get("assets", {})
    if sorted(expected_assets) != sorted(actual_assets):
        problems.append(f"{portfolio}: assets {sorted(actual_assets)} != expected {sorted(expected_assets)}")
    for asset in sorted(set(expected_assets) & set(actual_assets)):
        for name in ASSET_FIGURES:
            figure(f"assets.{asset}", name, expected_assets[asset].get(name),
                   actual_assets[asset].get(name))

    def position_key(position: Mapping[str, Any]) -> tuple[str, ...]:
        return tuple(str(position.get(name)) for name in POSITION_IDENTITY)

    expected_positions = {position_key(p): p for p in expected.get("positions", [])}
    actual_positions = {position_key(p): p for p in actual.get("positions", [])}
    if sorted(expected_positions) != sorted(actual_positions):
        problems.append(f"{portfolio}: positions {sorted(actual_positions)} != expected "
                        f"{sorted(expected_positions)}")
    for key in sorted(set(expected_positions) & set(actual_positions)):
        for name in POSITION_FIGURES:
            figure(f"positions[{'/'.join(key)}]", name, expected_positions[key].get(name),
                   actual_positions[key].get(name))

    expected_stress = expected.get("stress", [])
    actual_stress = actual.get("stress", [])
    if len(expected_stress) != len(actual_stress):
        problems.append(f"{portfolio}: {len(actual_stress)} stress rows, expected {len(expected_stress)}")
    for want_row, got_row in zip(expected_stress, actual_stress, strict=False):
        for name in STRESS_FIGURES:
            figure(f"stress[{want_row.get('shock')}]", name, want_row.get(name), got_row.get(name))
        if sorted(want_row.get("liquidated", [])) != sorted(got_row.get("liquidated", [])):
            problems.append(f"{portfolio}: stress[{want_row.get('shock')}].liquidated "
                            f"{got_row.get('liquidated')} != expected {want_row.get('liquidated')}")
    for name in COST_FIGURES:
        figure("costs", name, expected.get("costs", {}).get(name), actual.get("costs", {}).get(name))
    return problems


def check_updates(
    report: VerificationReport,
    inputs: InputLog,
    snapshots: Mapping[str, Mapping[str, Any]],
) -> None:
    """Every last position and balance of the input is what the final snapshot shows."""
    positions, balances = last_updates(event for _, _, event in inputs.ordered_accounts())
    for (portfolio, account, instrument, side), event in sorted(positions.items()):
        report.positions_checked += 1
        snapshot = snapshots.get(portfolio)
        if snapshot is None:
            continue  # reported as a missing snapshot
        shown = [p for p in snapshot.get("positions", [])
                 if p.get("account") == account and p.get("instrument") == instrument
                 and p.get("position_side", "one_way") == side]
        if event.quantity == 0:
            if shown:
                report.fail("updates", f"{portfolio}: {account}/{instrument} was closed but "
                            f"still shows "
                            f"quantity {shown[0].get('quantity')}")
            continue
        if len(shown) != 1:
            report.fail("updates",
                        f"{portfolio}: {account}/{instrument} quantity {event.quantity} is missing")
        elif shown[0].get("quantity") != event.quantity or shown[0].get("entry_price") != event.entry_price:
            report.fail("updates", f"{portfolio}: {account}/{instrument} shows quantity "
                        f"{shown[0].get('quantity')} "
                        f"at {shown[0].get('entry_price')}, last update {event.quantity} at "
                        f"{event.entry_price}")
    spot: dict[tuple[str, str], float] = {}
    for (portfolio, _, asset), balance in balances.items():
        report.balances_checked += 1
        if asset not in STABLE_ASSETS:
            spot[(portfolio, asset)] = spot.get((portfolio, asset), 0.0) + balance.quantity
    for (portfolio, asset), quantity in sorted(spot.items()):
        snapshot = snapshots.get(portfolio)
        if snapshot is None:
            continue
        row = snapshot.get("assets", {}).get(asset)
        holdings = 0.0 if row is None else row.get("spot_delta")
        if not same_number(quantity, holdings):
            report.fail("updates", f"{portfolio}: {asset} spot holdings {holdings!r}, last balances "
                        f"sum to {quantity!r}")


def check_alerts(
    report: VerificationReport,
    transitions: list[dict[str, Any]],
    expected: Mapping[str, RiskSnapshot],
    config: AlertsConfig | None = None,
) -> None:
    """Duplicates share an id; firings pair with resolutions; the final states match the recomputation."""
    config = config or AlertsConfig()
    seen: dict[str, tuple[Any, ...]] = {}
    firing: dict[tuple[str, str, str], str] = {}
    last: dict[tuple[str, str, str], dict[str, Any]] = {}
    report.alert_transitions = len(transitions)
    for transition in transitions:
        key = (str(transition["portfolio"]), str(transition["rule"]), str(transition["subject"]))
        # A replayed resolution may be stamped later; a firing's time is part of its id.
        identity: tuple[Any, ...] = (*key, transition["state"])
        if transition["state"] == "firing":
            identity = (*identity, transition["ts_ms"])
        alert_id = str(transition["id"])
        if alert_id in seen:
            report.alert_duplicates += 1
            if seen[alert_id] != identity:
                report.fail("alert_pairs",
                            f"alert id {alert_id} names two transitions: {seen[alert_id]} and {identity}")
        else:
            seen[alert_id] = identity
        current = firing.get(key)
        if transition["state"] == "firing":
            if current is not None and current != alert_id:
                report.fail("alert_pairs", f"{'/'.join(key)}: firing {alert_id} while {current} is "
                            "still firing "
                            "(no resolution between them)")
            firing[key] = alert_id
        else:
            if current is not None and alert_id != f"{current}:resolved":
                report.fail("alert_pairs", f"{'/'.join(key)}: resolution {alert_id} does not resolve "
                            f"the firing {current}")
            firing.pop(key, None)
        last[key] = transition
    report.alert_ids = len(seen)
    report.firing_at_end = len(firing)
    for portfolio, snapshot in sorted(expected.items()):
        for rule_name in FINAL_STATE_RULES:
            observations = observe(rule_name, snapshot, config.rule(rule_name))
            if observations is None:
                continue
            subjects = set(observations) | {k[2] for k in last if k[0] == portfolio and k[1] == rule_name}
            for subject in sorted(subjects):
                observation = observations.get(subject)
                status = "gone" if observation is None else observation.status
                final = last.get((portfolio, rule_name, subject))
                final_state = None if final is None else final["state"]
                if status == "breach":
                    report.final_alert_states_checked += 1
                    if final_state != "firing":
                        report.fail("alert_final", f"{portfolio}/{rule_name}/{subject}: the final "
                                    "state breaches "
                                    f"(value {observation.value if observation else None!r}) but the "
                                    f"last alert transition is {final_state!r}, not 'firing'")
                elif status in ("clear", "gone"):
                    report.final_alert_states_checked += 1
                    if final_state == "firing":
                        report.fail("alert_final", f"{portfolio}/{rule_name}/{subject}: the final "
                                    f"state is {status} "
                                    "but the last alert transition is still 'firing'")


def verify(
    inputs: InputLog,
    snapshots: SnapshotLog,
    alerts: AlertLog,
    *,
    dead_letters: int = 0,
    written_accounts: Iterable[AccountEvent] | None = None,
    resent_accounts: int = 0,
) -> VerificationReport:
    """Recompute from the inputs and check the outputs; ``written_accounts`` is what the driver sent.

    ``resent_accounts``: account events the driver sent again after a failed delivery; the topic may
    hold up to that many duplicates, and must hold every written event.
    """
    report = VerificationReport(
        price_records=len(inputs.prices),
        account_records=len(inputs.accounts),
        undecodable_inputs=inputs.undecodable,
        snapshots=snapshots.count,
        replayed_snapshots=snapshots.replayed,
        dead_letters=dead_letters,
    )
    if inputs.undecodable:
        report.fail("inputs", f"{inputs.undecodable} input records could not be decoded")
    if dead_letters:
        report.fail("inputs", f"{dead_letters} records reached the dead-letter topic")
    if written_accounts is not None:
        written = list(written_accounts)
        held = len(inputs.accounts)
        if not len(written) <= held <= len(written) + resent_accounts:
            resent = f" (and resent {resent_accounts})" if resent_accounts else ""
            report.fail("inputs", f"the driver wrote {len(written)} account events{resent}, "
                        f"hedge.positions holds {held}")
        missing = set(written) - {event for _, _, event in inputs.accounts}
        if missing:
            report.fail("inputs", f"{len(missing)} written account events are not in hedge.positions")
        topic_last = last_updates(event for _, _, event in inputs.ordered_accounts())
        if last_updates(written) != topic_last:
            report.fail("inputs",
                        "the last update per key in hedge.positions differs from what the driver wrote")
    engine = recompute(inputs)
    portfolios = inputs.portfolios()
    report.portfolios = len(portfolios)
    expected: dict[str, RiskSnapshot] = {}
    for portfolio in portfolios:
        snapshot, _ = engine.snapshot(portfolio)
        expected[portfolio] = snapshot
        actual = snapshots.last.get(portfolio)
        if actual is None:
            report.fail("snapshots", f"{portfolio}: no snapshot in hedge.risk")
            continue
        if snapshots.max_seq.get(portfolio) != actual.get("seq"):
            report.fail("snapshots", f"{portfolio}: the last snapshot has seq {actual.get('seq')}, "
                        "lower than "
                        f"{snapshots.max_seq.get(portfolio)} published before it")
        problems = compare_snapshot(portfolio, risk_to_dict(snapshot), actual)
        for problem in problems:
            report.fail("snapshots", problem)
        if not problems:
            report.portfolios_verified += 1
    check_updates(report, inputs, snapshots.last)
    check_alerts(report, alerts.transitions, expected)
    return report
