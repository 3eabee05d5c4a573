"""Static holdings: configured balances become full-state BalanceEvents; no streams."""

from __future__ import annotations

import math

import pytest

from monitor.domain.events import BalanceEvent, EventError
from monitor.venues.base import FrameError, HttpRequest, Venue
from monitor.venues.static import Holding, StaticHoldings, holdings_events

COLD = Holding(portfolio="alice", account="cold", asset="BTC", quantity=1.5)
LEDGER = Holding(portfolio="alice", account="ledger", asset="ETH", quantity=12.0)


def test_holdings_events_are_full_balances_at_now() -> None:
    """Each holding becomes one BalanceEvent stamped with ``now_ms``."""
    assert holdings_events([COLD, LEDGER], 1_700_000_000_000) == (
        BalanceEvent("alice", "cold", "BTC", 1.5, 1_700_000_000_000, 1_700_000_000_000),
        BalanceEvent("alice", "ledger", "ETH", 12.0, 1_700_000_000_000, 1_700_000_000_000),
    )
    assert holdings_events([], 1) == ()


def test_static_holdings_is_a_venue_without_streams() -> None:
    """StaticHoldings fits the Venue protocol, has no streams and publishes via ``snapshot``."""
    venue = StaticHoldings([COLD])
    assert isinstance(venue, Venue)
    assert venue.name == "static"
    assert venue.stream_names() == ()
    assert venue.resync_requests(5) == ()
    assert venue.keepalive_request("any", 5) is None
    assert venue.snapshot(5) == (BalanceEvent("alice", "cold", "BTC", 1.5, 5, 5),)
    with pytest.raises(FrameError):
        venue.parse("any", "{}", 5)
    with pytest.raises(FrameError):
        venue.parse_resync(HttpRequest("GET", "https://x", "/", "none"), b"{}", 5)
    with pytest.raises(ValueError, match="no streams"):
        venue.connect_plan("any", 5, None)


def test_invalid_holding_is_refused_at_construction() -> None:
    """A non-finite quantity or an empty asset fails when the holdings are configured."""
    with pytest.raises(EventError, match="quantity"):
        StaticHoldings([Holding("alice", "cold", "BTC", math.nan)])
    with pytest.raises(EventError, match="asset"):
        StaticHoldings([Holding("alice", "cold", "", 1.0)])
