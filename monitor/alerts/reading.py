"""How rules read a risk snapshot: observations, the snapshot's figures and the shared subject loops.

Rules read the typed snapshot (``monitor.domain.snapshot``); a rule that names a figure reads the
attribute of that name, whose name is the figure's JSON key.

Every observer takes ``tracked``, the subjects with a pending or firing alert of its rule, and
reports a subject only when it breaches or is tracked: any other reading changes nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Container, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal, TypeVar

from monitor.alerts.remediation import with_remediation
from monitor.alerts.spec import AlertConfigError, RuleConfig, Severity
from monitor.domain.snapshot import LegFigures, RiskSnapshot

Status = Literal["breach", "between", "clear", "unknown"]
EN_DASH = "\u2013"


def no_message() -> str:
    """The wording of a reading that has nothing to say."""
    return ""


@dataclass(frozen=True, slots=True)
class Observation:
    """One rule's reading of one subject: its status, figure, levels and how to word a change.

    ``describe`` words a breach or a clear; it runs only when a transition needs the sentence, so a
    snapshot that changes nothing formats no text.
    """

    status: Status
    value: float | None
    threshold: float | None
    clear_threshold: float | None
    describe: Callable[[], str] = no_message
    remediation: Mapping[str, Any] | None = None
    """What restores the level (``monitor.alerts.remediation``), on a breach; None if unknown."""
    account: str | None = None
    """The account of a per-position reading (the worst one), for labels; None otherwise."""
    severity: Severity | None = None
    """The stage a staged rule's breach reached; None: the rule's own severity."""

    @property
    def message(self) -> str:
        """The human sentence for a transition caused by this reading ("" unless breach or clear).

        A breach with a remediation ends with it: "...: add 23.61 USDT margin to ...".
        """
        if self.status == "breach":
            return with_remediation(self.describe(), self.remediation)
        return self.describe() if self.status == "clear" else ""


Observations = dict[str, Observation]
"""One rule's observations by subject."""


@dataclass(frozen=True, slots=True)
class SnapshotReading:
    """One risk snapshot with its open positions grouped once for every rule that reads them."""

    snapshot: RiskSnapshot
    open_positions: dict[str, list[LegFigures]]


Observer = Callable[[SnapshotReading, RuleConfig, Container[str]], Observations | None]
"""A rule's ``observe``: every breaching subject and every tracked one (see above)."""


def read_snapshot(snapshot: RiskSnapshot) -> SnapshotReading:
    """Prepare one risk snapshot for the observers (groups its open positions)."""
    return SnapshotReading(snapshot, open_positions(snapshot))


class _EverySubject(Container[str]):
    """Counts every subject as tracked, so an observer reports all of them."""

    def __contains__(self, subject: object) -> bool:
        return True


EVERY_SUBJECT: Container[str] = _EverySubject()
"""A ``tracked`` that makes an observer report every subject it reads, clear ones included."""


def number(value: object) -> float | None:
    """A finite float, or None for null, non-numbers, booleans and non-finite values."""
    if type(value) is float:  # the common case, checked without the isinstance chain
        return value if math.isfinite(value) else None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    result = float(value)
    return result if math.isfinite(result) else None


def below(value: float | None, threshold: float, clear: float) -> Status:
    """Breach under ``threshold``, clear at or above ``clear``, between in the gap."""
    if value is None:
        return "unknown"
    if value < threshold:
        return "breach"
    return "clear" if value >= clear else "between"


def above(value: float | None, threshold: float, clear: float) -> Status:
    """Breach over ``threshold``, clear at or below ``clear``, between in the gap."""
    if value is None:
        return "unknown"
    if value > threshold:
        return "breach"
    return "clear" if value <= clear else "between"


def wider(value: float | None, threshold: float, clear: float) -> Status:
    """``above`` on the absolute value: breach outside ``±threshold``, clear inside ``±clear``."""
    return above(None if value is None else abs(value), threshold, clear)


Compare = Callable[[float | None, float, float], Status]
"""Classifies a figure against a threshold and a clear level (``below``, ``above``, ``wider``)."""


def ratio_text(value: float) -> str:
    """A ratio with two decimals: "0.95"."""
    return f"{value:.2f}"


def percent_text(value: float) -> str:
    """A fraction as a percentage with one decimal: "5.0 %"."""
    return f"{value * 100:.1f} %"


def usd_text(value: float) -> str:
    """An amount of US dollars: "1,234.50 USD"."""
    return f"{value:,.2f} USD"


def levels(rule: RuleConfig) -> tuple[float, float]:
    """The threshold and clear level of a rule with levels (``AlertsConfig`` guarantees both)."""
    if rule.threshold is None or rule.clear_threshold is None:
        raise AlertConfigError("a rule with levels has no threshold")
    return rule.threshold, rule.clear_threshold


def open_positions(snapshot: RiskSnapshot) -> dict[str, list[LegFigures]]:
    """Open positions grouped by instrument (sorted by account)."""
    grouped: dict[str, list[LegFigures]] = {}
    for position in snapshot.positions:
        if position.quantity == 0:
            continue
        group = grouped.get(position.instrument)
        if group is None:
            grouped[position.instrument] = [position]
        else:
            group.append(position)
    for group in grouped.values():
        if len(group) > 1:
            group.sort(key=account_of)
    return grouped


Row = Any
"""One row of the snapshot: a position (``LegFigures``) or a subject's row of a section
(``AccountFigures``, ``Effectiveness``); each message names the type it reads."""
Worst = tuple[float | None, Row]
"""A subject's worst figure and the row it came from (None when unknown); a plain tuple, as one
is made per subject and rule on every snapshot."""
UNKNOWN: Worst = (None, None)
"""A subject whose figure is missing or null."""

Group = Sequence[LegFigures]
"""The open positions of one instrument, one per account (two for a hedge-mode account)."""


def account_of(row: LegFigures) -> str:
    """The account of a position row."""
    return row.account


def lowest(figure: str) -> Callable[[Group], Worst]:
    """Picks the lowest ``figure`` of an instrument's positions (the first position on a tie)."""

    def pick(group: Group) -> Worst:
        worst: Worst = UNKNOWN
        for position in group:
            value = number(getattr(position, figure))
            if value is not None and (worst[0] is None or value < worst[0]):
                worst = (value, position)
        return worst

    return pick


def highest(figure: str) -> Callable[[Group], Worst]:
    """Picks the highest ``figure`` of an instrument's positions (the first position on a tie)."""

    def pick(group: Group) -> Worst:
        worst: Worst = UNKNOWN
        for position in group:
            value = number(getattr(position, figure))
            if value is not None and (worst[0] is None or value > worst[0]):
                worst = (value, position)
        return worst

    return pick


Source = TypeVar("Source")
"""What a subject's worst figure is picked from: its positions, or its row of a section."""
Message = Callable[[str, float, Row, Status, float, float], str]
"""Words a change of a subject: (subject, its worst value, the row it came from, status,
threshold, clear level)."""
Remedy = Callable[[Row, float], Mapping[str, Any] | None]
"""A breach's remediation from the worst row and the clear level (``monitor.alerts.remediation``)."""


def observe_levels(
    subjects: Iterable[tuple[str, Source]],
    pick: Callable[[Source], Worst],
    tracked: Container[str],
    threshold: float,
    clear: float,
    *,
    compare: Compare,
    message: Message,
    remedy: Remedy | None = None,
    labelled: bool = False,
) -> Observations:
    """One observation per breaching or tracked subject: its worst figure against the levels.

    ``pick`` gives a subject's worst figure from its data (its positions, its row), ``compare``
    its status with hysteresis; ``message`` words a change (only when the figure is known);
    ``remedy`` gives a breach's remediation from the worst row; ``labelled`` gives the
    observation the worst row's account.
    """
    observations: Observations = {}
    for subject, source in subjects:
        value, row = pick(source)
        status = compare(value, threshold, clear)
        if status != "breach" and subject not in tracked:
            continue
        if value is None:
            observations[subject] = Observation(status, None, threshold, clear)
            continue
        describe = partial(message, subject, value, row, status, threshold, clear)
        remediation = remedy(row, clear) if remedy is not None and status == "breach" else None
        account = account_of(row) if labelled else None
        observations[subject] = Observation(status, value, threshold, clear, describe, remediation, account)
    return observations


FlagMessage = Callable[[str, Status], str]
"""Words a change of a flag rule's subject: (subject, "breach" or "clear")."""


def observe_flags(
    subjects: Iterable[tuple[str, Source]],
    raised: Callable[[str, Source], object],
    tracked: Container[str],
    message: FlagMessage,
) -> Observations:
    """One observation per raised or tracked subject: ``raised(subject, its data)`` True is a
    breach, False a clear, anything else unknown."""
    observations: Observations = {}
    for subject, source in subjects:
        flag = raised(subject, source)
        if flag is True:
            status: Status = "breach"
        elif subject not in tracked:
            continue
        elif flag is False:
            status = "clear"
        else:
            observations[subject] = Observation("unknown", None, None, None)
            continue
        observations[subject] = Observation(status, None, None, None, partial(message, subject, status))
    return observations
