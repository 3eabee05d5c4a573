"""The crash-test workload is reproducible from its seed and ends in an order-independent price table."""

from __future__ import annotations

from collections import Counter

from monitor.domain.events import BalanceEvent, FillEvent, PositionEvent, PriceEvent
from monitor.domain.instruments import default_catalog
from monitor.reliability.workload import Workload, WorkloadSettings

CATALOG = default_catalog()


def _workload(seed: int, events: int = 2_000) -> Workload:
    return Workload(WorkloadSettings(events=events, portfolios=10, seed=seed), CATALOG,
                    receive_clock_ms=lambda: 42)


def test_same_seed_same_events() -> None:
    """Two workloads of one seed yield identical events; another seed does not."""
    assert list(_workload(3).events()) == list(_workload(3).events())
    assert list(_workload(3).events()) != list(_workload(4).events())


def test_mix_of_events() -> None:
    """About half are prices; positions, balances and fills of every portfolio follow."""
    events = list(_workload(5).events())
    kinds = Counter(type(event) for event in events)
    assert len(events) == 2_000
    assert 850 < kinds[PriceEvent] < 1_150  # price share 0.5 of 2000, well within 3 sigma (~67)
    assert min(kinds[PositionEvent], kinds[BalanceEvent], kinds[FillEvent]) > 0
    portfolios = {e.portfolio for e in events if not isinstance(e, PriceEvent)}
    assert portfolios == {f"p{i:04d}" for i in range(10)}
    assert all(CATALOG.get(e.instrument) is not None for e in events
               if isinstance(e, (PriceEvent, PositionEvent, FillEvent)))


def test_settle_ticks_come_last_and_agree_per_asset() -> None:
    """Settle ticks are stamped after every event; spot marks and futures indexes equal the asset price."""
    workload = _workload(6)
    last = max(event.ts_event_ms for event in workload.events())
    settle = workload.settle()
    assets = workload.settle_asset_prices()
    assert {tick.instrument for tick in settle} == set(CATALOG.ids())
    for tick in settle:
        instrument = CATALOG.require(tick.instrument)
        assert tick.ts_event_ms > last
        if instrument.is_future:
            assert tick.index == assets[instrument.base]
        else:
            assert tick.mark == assets[instrument.base]
        assert tick.mark == workload.settle_marks()[tick.instrument]


def test_hyperliquid_legs_are_in_the_workload_and_margined_in_usdc() -> None:
    """The crash test trades every catalog venue, Hyperliquid too; its margin balances are USDC."""
    events = list(_workload(7, events=20_000).events())
    hyperliquid = [e for e in events if isinstance(e, PositionEvent) and e.account == "hyperliquid"]
    assert hyperliquid
    wallets = {e.asset for e in events if isinstance(e, BalanceEvent) and e.account == "hyperliquid"}
    assert wallets == {"USDC"}
