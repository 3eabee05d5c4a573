"""How rules read a risk snapshot: observations, the snapshot's figures and the shared subject loops.

Every observer takes ``tracked``, the subjects with a pending or firing alert of its rule, and
reports a subject only when it breaches or is tracked: any other reading changes nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Container, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal, NamedTuple, TypeVar

from monitor.alerts.remediation import with_remediation
from monitor.alerts.spec import AlertConfigError, RuleConfig, Severity

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

    snapshot: Mapping[str, Any]
    open_positions: dict[str, list[Mapping[str, Any]]] | None


def read_snapshot(snapshot: Mapping[str, Any]) -> SnapshotReading:
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


def table(value: object) -> Mapping[str, Any] | None:
    """``value`` if it is a table (a mapping), else None."""
    if type(value) is dict:  # the common case, checked without the Mapping ABC
        return value
    return value if isinstance(value, Mapping) else None


def listing(value: object) -> Sequence[Any] | None:
    """``value`` if it is a list (a sequence other than text), else None."""
    if not isinstance(value, Sequence) or isinstance(value, (str, bytes)):
        return None
    return value


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


def open_positions(snapshot: Mapping[str, Any]) -> dict[str, list[Mapping[str, Any]]] | None:
    """Open positions grouped by instrument (sorted by account), or None if the list is missing."""
    positions = snapshot.get("positions")
    if type(positions) is not list and (
        not isinstance(positions, Sequence) or isinstance(positions, (str, bytes))
    ):
        return None
    grouped: dict[str, list[Mapping[str, Any]]] = {}
    for position in positions:
        if type(position) is not dict and not isinstance(position, Mapping):
            continue
        instrument = position.get("instrument")
        if not isinstance(instrument, str) or position.get("quantity") == 0:
            continue
        group = grouped.get(instrument)
        if group is None:
            grouped[instrument] = [position]
        else:
            group.append(position)
    for group in grouped.values():
        if len(group) > 1:
            group.sort(key=lambda position: str(position.get("account", "")))
    return grouped


class Worst(NamedTuple):
    """The worst figure of one subject, with the row it came from, for the message and remedy."""

    # a tuple, not a frozen dataclass: one is made per subject and rule on every snapshot

    value: float | None
    account: str = ""
    row: Mapping[str, Any] | None = None
    figure: str = ""
    """Which figure of the row it is, for rules that take the worst of several."""


UNKNOWN = Worst(None)
"""A subject whose figure is missing or null."""

Group = Sequence[Mapping[str, Any]]
"""The open positions of one instrument, one per account (two for a hedge-mode account)."""


def worst_position(group: Group, figure: str, *, highest: bool) -> Worst:
    """The worst value of ``figure`` across the positions holding one instrument (the first
    position on a tie), with its account and row."""
    worst: float | None = None
    account = ""
    row: Mapping[str, Any] | None = None
    for position in group:
        value = number(position.get(figure))
        if value is None:
            continue
        if worst is None or (value > worst if highest else value < worst):
            worst, account, row = value, str(position.get("account", "")), position
    return Worst(worst, account, row)


def lowest(figure: str) -> Callable[[Group], Worst]:
    """Picks the lowest ``figure`` of an instrument's positions."""
    return partial(worst_position, figure=figure, highest=False)


def highest(figure: str) -> Callable[[Group], Worst]:
    """Picks the highest ``figure`` of an instrument's positions."""
    return partial(worst_position, figure=figure, highest=True)


Source = TypeVar("Source")
"""What a subject's worst figure is picked from: its positions, or its row of a section."""
Message = Callable[[str, float, Worst, Status, float, float], str]
"""Words a change of a subject: (subject, its worst value, the figure it came from, status,
threshold, clear level)."""
Remedy = Callable[[Mapping[str, Any], float], Mapping[str, Any] | None]
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
    observation the worst figure's account.
    """
    observations: Observations = {}
    for subject, source in subjects:
        worst = pick(source)
        value = worst.value
        status = compare(value, threshold, clear)
        if status != "breach" and subject not in tracked:
            continue
        describe = no_message
        if value is not None:
            describe = partial(message, subject, value, worst, status, threshold, clear)
        remediation = None
        if remedy is not None and status == "breach" and worst.row is not None:
            remediation = remedy(worst.row, clear)
        account = worst.account if labelled and value is not None else None
        observations[subject] = Observation(status, value, threshold, clear, describe, remediation, account)
    return observations


FlagMessage = Callable[[str, Status], str]
"""Words a change of a flag rule's subject: (subject, "breach" or "clear")."""


def observe_flags(
    flags: Iterable[tuple[str, object]], tracked: Container[str], message: FlagMessage
) -> Observations:
    """One observation per raised or tracked flag: True is a breach, False a clear, else unknown."""
    observations: Observations = {}
    for subject, raised in flags:
        if raised is True:
            status: Status = "breach"
        elif subject not in tracked:
            continue
        elif raised is False:
            status = "clear"
        else:
            observations[subject] = Observation("unknown", None, None, None)
            continue
        observations[subject] = Observation(status, None, None, None, partial(message, subject, status))
    return observations
