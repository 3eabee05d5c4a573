"""Group membership in the processor: restore outside the rebalance callback, no writes once expelled."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Collection, Sequence
from contextlib import asynccontextmanager
from typing import Any

import orjson
import pytest

from monitor.bus.base import AssignmentCallback, Consumer, TopicPartition, Topics
from monitor.bus.memory import MemoryBus
from monitor.codec import encode_event, event_key
from monitor.domain.events import BalanceEvent, Event, PositionEvent, PriceEvent
from monitor.processor.runner import Processor, ProcessorSettings
from tests.support import eventually
from tests.unit.processor.support import DEADLINE_S, DelegatingConsumer, memory_processor, running

TOPICS = Topics()
SWAP = "okx:BTC-USDT-SWAP"


class _Member(DelegatingConsumer):
    """A MemoryBus group member that can be expelled, and that keeps its rebalance callbacks."""

    def __init__(self, inner: Consumer, on_assigned: AssignmentCallback,
                 on_revoked: AssignmentCallback) -> None:
        super().__init__(inner)
        self.on_assigned = on_assigned
        self.on_revoked = on_revoked
        self.lost = False  # the member knows it was expelled (a heartbeat was refused)
        self.expelled = False  # the group expelled it; it learns so when it asks
        self.confirmations = 0
        self.paused: set[TopicPartition] = set()
        self.owned_when_assigned: list[set[TopicPartition]] = []
        self.paused_when_assigned: list[set[TopicPartition]] = []

    def pause(self, partitions: Collection[TopicPartition]) -> None:
        self.paused.update(partitions)
        super().pause(partitions)

    def resume(self, partitions: Collection[TopicPartition]) -> None:
        self.paused.difference_update(partitions)
        super().resume(partitions)

    def membership_lost(self) -> bool:
        return self.lost

    async def confirm_membership(self) -> bool:
        self.confirmations += 1
        return not (self.lost or self.expelled)


def _members(monkeypatch: pytest.MonkeyPatch, bus: MemoryBus,
             processors: list[Processor]) -> list[_Member]:
    """Wrap the bus's group members; each records what its processor owned right after assignment."""
    made: list[_Member] = []
    group_consumer = bus.group_consumer

    async def member(topics: Sequence[str], group_id: str, on_assigned: AssignmentCallback,
                     on_revoked: AssignmentCallback, instance_id: str | None = None) -> Consumer:
        async def assigned(partitions: set[TopicPartition]) -> None:
            await on_assigned(partitions)
            owned = processors[len(made) - 1].owned_partitions
            made[-1].owned_when_assigned.append(
                {TopicPartition(TOPICS.positions, p) for p in owned})
            made[-1].paused_when_assigned.append(set(made[-1].paused))

        inner = await group_consumer(topics, group_id, assigned, on_revoked, instance_id)
        made.append(_Member(inner, assigned, on_revoked))
        return made[-1]

    monkeypatch.setattr(bus, "group_consumer", member)
    return made


@asynccontextmanager
async def _running(bus: MemoryBus, processors: list[Processor]) -> AsyncIterator[Processor]:
    processors.append(memory_processor(bus))
    async with running(processors[-1]) as processor:
        yield processor


def _publish(bus: MemoryBus, *events: Event) -> None:
    for event in events:
        topic = TOPICS.prices if isinstance(event, PriceEvent) else TOPICS.positions
        bus.append(topic, event_key(event), encode_event(event))


def _seed(contracts: int, ts: int) -> list[Event]:
    now = int(time.time() * 1000)
    return [
        BalanceEvent("seed", "cold", "BTC", 1.5, ts, ts),
        PositionEvent("seed", "okx", SWAP, -contracts, 60_000, 10, "isolated", contracts * 60, ts,
                      ts),
        PriceEvent(SWAP, 60_000, None, None, None, ts, now),
        PriceEvent("okx:BTC-USDT", 60_000, None, None, None, ts, now),
    ]


def _quantity(bus: MemoryBus) -> float | None:
    for record in reversed(bus.records(TOPICS.risk)):
        if record.key == b"seed":
            value: dict[str, Any] = orjson.loads(record.value)
            return float(value["positions"][0]["quantity"]) if value["positions"] else None
    return None


def _state_quantities(bus: MemoryBus) -> list[float]:
    """The seed's hedge quantity in every state record written for it, oldest first."""
    out: list[float] = []
    for record in bus.records(TOPICS.state):
        if record.key is not None and record.key.endswith(b"/seed"):
            legs = orjson.loads(record.value)["book"]["positions"]
            out.extend(float(leg["event"]["quantity"]) for leg in legs)
    return out


async def _checkpoint_the_seed(bus: MemoryBus, processors: list[Processor]) -> None:
    """Run a processor until the seed's -150 leg is in the state topic, then stop it."""
    async with _running(bus, processors):
        _publish(bus, *_seed(150, 1_000))
        await eventually(lambda: -150 in _state_quantities(bus), DEADLINE_S)


@pytest.mark.parametrize("expelled", [True, False])
async def test_an_expelled_member_writes_no_state_for_what_it_lost(
    bus: MemoryBus, monkeypatch: pytest.MonkeyPatch, expelled: bool,
) -> None:
    """Expelled, a member drops its partitions unwritten; revoked in a rebalance, it checkpoints."""
    processors: list[Processor] = []
    members = _members(monkeypatch, bus, processors)
    async with _running(bus, processors) as processor:
        _publish(bus, *_seed(150, 1_000))
        await eventually(lambda: _quantity(bus) == -150 and -150 in _state_quantities(bus),
                         DEADLINE_S)
        member = members[0]
        member.lost = expelled
        # the group expelled it (say after a stall); it still applies what it fetched meanwhile
        _publish(bus, PositionEvent("seed", "okx", SWAP, -140, 60_000, 10, "isolated", 8_400,
                                    2_000, 2_000))
        # the seed's events are offsets 0 and 1 of its partition: -140 is offset 2
        await eventually(lambda: processor.engine.portfolios["seed"].applied_offset == 2, DEADLINE_S)
        await member.on_revoked(member.assignment())
        assert processor.owned_partitions == frozenset()
        written = _state_quantities(bus)
    # expelled: the -140 leg is the next owner's to write, from the input it replays
    assert (-140 in written) is not expelled


async def test_partitions_are_restored_after_the_assignment_callback_returns(
    bus: MemoryBus, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The callback only pauses the partitions (no heartbeat runs in it); the loop restores them."""
    processors: list[Processor] = []
    members = _members(monkeypatch, bus, processors)
    await _checkpoint_the_seed(bus, processors)
    async with _running(bus, processors) as restarted:
        await eventually(lambda: restarted.owned_partitions, DEADLINE_S)
        member = members[1]
        assert member.owned_when_assigned == [set()]
        assert member.paused_when_assigned == [member.assignment()]
        assert member.paused == set()  # resumed once restored
        assert restarted.engine.portfolios["seed"].partition in restarted.owned_partitions


async def test_after_a_stall_nothing_is_written_until_the_group_confirms_the_member(
    bus: MemoryBus, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A loop turn 20 s late (past the 10 s session): no snapshot or state until confirmed."""
    processors: list[Processor] = []
    members = _members(monkeypatch, bus, processors)
    skew = [0.0]
    processor = Processor(bus, memory_processor(bus).engine,
                          ProcessorSettings(checkpoint_interval_ms=0, fetch_timeout_ms=20),
                          clock=lambda: time.time() + skew[0])
    processors.append(processor)
    async with running(processor):
        _publish(bus, *_seed(150, 1_000))
        await eventually(lambda: _quantity(bus) == -150, DEADLINE_S)
        member = members[0]
        member.expelled = True  # meanwhile, and not told yet: no heartbeat has been refused
        skew[0] = 20.0
        await eventually(lambda: member.confirmations > 0, DEADLINE_S)
        risk_before, state_before = len(bus.records(TOPICS.risk)), len(bus.records(TOPICS.state))
        _publish(bus, PositionEvent("seed", "okx", SWAP, -140, 60_000, 10, "isolated", 8_400,
                                    2_000, 2_000))
        await eventually(lambda: member.confirmations > 3, DEADLINE_S)
        assert (len(bus.records(TOPICS.risk)), len(bus.records(TOPICS.state))) == (
            risk_before, state_before)
        member.expelled = False  # the group answers: still a member (a new generation, say)
        await eventually(lambda: _quantity(bus) == -140, DEADLINE_S)


async def test_a_rebalance_during_the_state_read_restores_from_a_fresh_read(
    bus: MemoryBus, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The state is read without the lock; a revocation and new assignment meanwhile re-read it."""
    processors: list[Processor] = []
    members = _members(monkeypatch, bus, processors)
    await _checkpoint_the_seed(bus, processors)
    table_consumer = bus.table_consumer
    reads: list[Sequence[str]] = []

    async def rebalancing_read(topics: Sequence[str]) -> Consumer:
        reads.append(topics)
        if len(reads) == 3:  # prices, the price checkpoint, then the first read of the states
            member = members[-1]
            await member.on_revoked(member.assignment())
            await member.on_assigned(member.assignment())
        return await table_consumer(topics)

    monkeypatch.setattr(bus, "table_consumer", rebalancing_read)
    async with _running(bus, processors) as restarted:
        await eventually(lambda: restarted.owned_partitions, DEADLINE_S)
        assert restarted.engine.portfolios["seed"].partition in restarted.owned_partitions
        assert members[-1].paused == set()
    assert reads[2:] == [[TOPICS.state], [TOPICS.state]]
