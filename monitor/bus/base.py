"""The message bus seam: Kafka is one implementation, the in-process bus another.

The processor and ingest see only these types. A ``Bus`` makes producers and two kinds of
consumer: a *group* consumer (partitions shared among the members of a group, offsets committed,
a listener told of assignment changes) and a *table* consumer (every partition, from the
beginning, no group: used to read the latest price of every instrument and to restore state).

Every failure of a bus call is a ``BusError``: an implementation translates its library's errors
to one at the seam (``raise ... from exc``, so ``__cause__`` keeps the original), and callers catch
``BusError`` or a subclass, never the library's errors or a bare ``Exception``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from monitor.errors import HedgeMonitorError


class BusError(HedgeMonitorError, RuntimeError):
    """A bus call failed; the message names the call, ``__cause__`` holds the library's error."""


class BusUnavailableError(BusError):
    """The broker cannot serve the call now (unreachable, timed out, no leader); a retry may succeed."""


class BusCommitError(BusError):
    """The group refused an offset commit (it rebalanced, or this member was fenced)."""


class BusUsageError(BusError):
    """A call the bus does not allow in its state (a second group member, a stopped consumer)."""


@dataclass(frozen=True, slots=True)
class TopicPartition:
    """One partition of one topic."""

    topic: str
    partition: int


@dataclass(frozen=True, slots=True)
class Record:
    """One consumed message."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    timestamp_ms: int


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """A topic to create: partitions and cleanup policy (``delete`` or ``compact``)."""

    name: str
    partitions: int = 1
    compact: bool = False
    retention_ms: int | None = None
    segment_ms: int | None = None
    max_compaction_lag_ms: int | None = None


@dataclass(frozen=True, slots=True)
class Topics:
    """The topic names of one deployment (prefix applied)."""

    prices: str = "hedge.prices"
    positions: str = "hedge.positions"
    risk: str = "hedge.risk"
    alerts: str = "hedge.alerts"
    dlq: str = "hedge.dlq"
    state: str = "hedge.state"
    instruments: str = "hedge.instruments"

    @classmethod
    def with_prefix(cls, prefix: str) -> Topics:
        """Topic names with a deployment prefix, e.g. ``desk1.hedge.prices``."""
        base = cls()
        return cls(
            prices=prefix + base.prices,
            positions=prefix + base.positions,
            risk=prefix + base.risk,
            alerts=prefix + base.alerts,
            dlq=prefix + base.dlq,
            state=prefix + base.state,
            instruments=prefix + base.instruments,
        )

    def specs(self, partitions: int = 6) -> list[TopicSpec]:
        """The topics a deployment needs, with their cleanup policies."""
        return [
            _compacted(self.prices, partitions),
            TopicSpec(self.positions, partitions),
            _compacted(self.risk, partitions),
            TopicSpec(self.alerts, partitions),
            TopicSpec(self.dlq, 1),
            _compacted(self.state, partitions),
            _compacted(self.instruments, 1),
        ]


# A compacted topic's active segment is never compacted: rolling it hourly and making every record
# eligible for compaction within the hour bound what a reader of the whole topic re-reads.
COMPACTED_SEGMENT_MS = 3_600_000
COMPACTED_MAX_LAG_MS = 3_600_000


def _compacted(name: str, partitions: int) -> TopicSpec:
    return TopicSpec(name, partitions, compact=True, segment_ms=COMPACTED_SEGMENT_MS,
                     max_compaction_lag_ms=COMPACTED_MAX_LAG_MS)


AssignmentCallback = Callable[[set[TopicPartition]], Awaitable[None]]


class Producer(Protocol):
    """Buffered, batched sends; ``flush`` waits until every send so far is acknowledged."""

    def send(self, topic: str, key: bytes | None, value: bytes) -> None:
        """Queue one message; errors surface from ``hand_off`` or ``flush``."""
        ...

    async def hand_off(self) -> None:
        """Start sending what is queued without waiting for acknowledgements (``flush`` waits)."""
        ...

    async def flush(self) -> None:
        """Wait for every queued message to be acknowledged (``BusError`` on failure)."""
        ...

    async def stop(self) -> None:
        """Flush and close."""
        ...


class Consumer(Protocol):
    """Fetches records in batches."""

    async def getmany(self, timeout_ms: int, max_records: int) -> dict[TopicPartition, list[Record]]:
        """Up to ``max_records`` records per fetch, waiting at most ``timeout_ms``."""
        ...

    def assignment(self) -> set[TopicPartition]:
        """The partitions currently assigned."""
        ...

    async def seek(self, partition: TopicPartition, offset: int) -> None:
        """Continue ``partition`` from ``offset``."""
        ...

    def pause(self, partitions: Collection[TopicPartition]) -> None:
        """Return no records of ``partitions`` until resumed; their positions are kept."""
        ...

    def resume(self, partitions: Collection[TopicPartition]) -> None:
        """Return records of ``partitions`` again."""
        ...

    def membership_lost(self) -> bool:
        """True once the group no longer knows this member (it was expelled, say after a stall).

        What it still holds may belong to another member by now: it must write nothing for those
        partitions until it has joined again. Always False outside a group.
        """
        ...

    async def confirm_membership(self) -> bool:
        """Ask the group whether this member still holds its assignment (a request: after a stall).

        False when it was expelled or the group cannot be asked now; True outside a group.
        """
        ...

    async def commit(self, offsets: Mapping[TopicPartition, int]) -> None:
        """Commit the next offsets to read (group consumers only; ``BusCommitError`` if refused)."""
        ...

    def highwater(self, partition: TopicPartition) -> int | None:
        """The end offset the latest fetch reported, without a request; None before any fetch."""
        ...

    async def end_offsets(self, partitions: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
        """The current end (high watermark) of each partition."""
        ...

    async def committed(self, partition: TopicPartition) -> int | None:
        """The group's committed offset of a partition, if any."""
        ...

    async def stop(self) -> None:
        """Leave the group (if any) and close."""
        ...


class Bus(Protocol):
    """Makes producers and consumers over one set of topics."""

    async def create_topics(self, specs: Sequence[TopicSpec]) -> None:
        """Create topics that do not exist yet."""
        ...

    async def producer(self) -> Producer:
        """A started producer (idempotent, acks=all on Kafka)."""
        ...

    async def group_consumer(
        self,
        topics: Sequence[str],
        group_id: str,
        on_assigned: AssignmentCallback,
        on_revoked: AssignmentCallback,
        instance_id: str | None = None,
    ) -> Consumer:
        """A started group member; callbacks run before fetching resumes after a rebalance.

        ``on_revoked`` also runs for partitions the member lost by being expelled; it can tell by
        ``membership_lost()``. No heartbeat may be sent while ``on_assigned`` runs (aiokafka), so
        a callback that takes longer than the session timeout gets its member expelled: it should
        pause the partitions and restore outside the callback.

        ``instance_id`` makes it a static member (KIP-345): a restart under the same id takes its
        partitions back at once, instead of waiting for the dead member's session to time out.
        """
        ...

    async def table_consumer(self, topics: Sequence[str]) -> Consumer:
        """A started consumer of every partition of ``topics`` from the beginning, no group."""
        ...

    async def close(self) -> None:
        """Release what the bus holds."""
        ...
