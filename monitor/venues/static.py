"""Static holdings: configured balances (cold storage, wallets the monitor cannot query) as events.

A "venue" with no streams: the supervisor has nothing to connect, so it publishes
``StaticHoldings.snapshot(now_ms)`` (``holdings_events``) once at start and whenever the
configuration is reloaded. The Venue methods exist so the object fits the same registry; they
describe zero streams and zero resync requests.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from monitor.domain.events import BalanceEvent, Event
from monitor.venues.base import FrameError, HttpRequest, Parsed, StreamPlan

NAME = "static"


@dataclass(frozen=True, slots=True)
class Holding:
    """One configured balance: ``quantity`` units of ``asset`` held by ``account`` in ``portfolio``."""

    portfolio: str
    account: str
    asset: str
    quantity: float


def holdings_events(holdings: Iterable[Holding], now_ms: int) -> tuple[BalanceEvent, ...]:
    """One full-state BalanceEvent per holding, stamped ``now_ms`` (EventError on an invalid holding)."""
    return tuple(
        BalanceEvent(
            portfolio=holding.portfolio, account=holding.account, asset=holding.asset,
            quantity=holding.quantity, ts_event_ms=now_ms, ts_receive_ms=now_ms,
        )
        for holding in holdings
    )


class StaticHoldings:
    """Configured holdings as a venue without streams."""

    name: str

    def __init__(self, holdings: Sequence[Holding]) -> None:
        self.name = NAME
        self.holdings = tuple(holdings)
        holdings_events(self.holdings, 0)  # validate the configuration now

    def __repr__(self) -> str:
        return f"StaticHoldings({len(self.holdings)} holdings)"

    def snapshot(self, now_ms: int) -> tuple[BalanceEvent, ...]:
        """The configured holdings as balance events."""
        return holdings_events(self.holdings, now_ms)

    def stream_names(self) -> tuple[str, ...]:
        """No streams."""
        return ()

    def stream_setup(self, stream: str, now_ms: int) -> HttpRequest | None:  # noqa: ARG002 -- Venue protocol
        """Never called: there are no streams."""
        raise ValueError(f"{NAME}: unknown stream {stream!r}; static holdings have no streams")

    def connect_plan(self, stream: str, now_ms: int, setup_response: bytes | None) -> StreamPlan:  # noqa: ARG002 -- Venue protocol
        """Never called: there are no streams."""
        raise ValueError(f"{NAME}: unknown stream {stream!r}; static holdings have no streams")

    def reset(self, stream: str) -> None:
        """Nothing to forget."""

    def parse(self, stream: str, frame: str | bytes, receive_ms: int) -> Parsed:  # noqa: ARG002 -- Venue protocol
        """Static holdings receive no frames."""
        raise FrameError(f"{NAME}: static holdings receive no frames (stream {stream!r})")

    def keepalive_request(self, stream: str, now_ms: int) -> HttpRequest | None:  # noqa: ARG002 -- Venue protocol
        """No keepalive."""
        return None

    def resync_requests(self, now_ms: int) -> tuple[HttpRequest, ...]:  # noqa: ARG002 -- Venue protocol
        """No REST calls (use ``snapshot``)."""
        return ()

    def parse_resync(self, request: HttpRequest, body: bytes, receive_ms: int) -> tuple[Event, ...]:  # noqa: ARG002 -- Venue protocol
        """Never called: there are no resync requests."""
        raise FrameError(f"{NAME}: static holdings make no requests ({request.purpose!r})")
