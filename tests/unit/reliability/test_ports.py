"""Listener ports for restarted brokers come from below the ephemeral range."""

from __future__ import annotations

import random
import socket

from monitor.reliability import ports


def test_the_ports_are_distinct_free_and_below_the_ephemeral_range() -> None:
    """Three ports, none of them in 32768-60999 (or this machine's range), each bindable."""
    chosen = ports.listener_ports(3, random.Random(7))
    assert len(set(chosen)) == 3
    ephemeral_start = ports._ephemeral_start()  # noqa: SLF001 -- the bound under test
    assert all(ports.LOWEST_PORT <= port < ephemeral_start for port in chosen)
    for port in chosen:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", port))


def test_a_taken_port_is_skipped() -> None:
    """The port the seeded draw would give first is held by a listener: the next draw is given."""
    high = ports._ephemeral_start() - 1  # noqa: SLF001 -- the bound under test
    draw = random.Random(3)
    first, second = draw.randint(ports.LOWEST_PORT, high), draw.randint(ports.LOWEST_PORT, high)
    with socket.socket() as held:
        held.bind(("127.0.0.1", first))
        held.listen()
        assert ports.listener_ports(1, random.Random(3)) == (second,)
