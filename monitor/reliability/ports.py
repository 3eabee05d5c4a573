"""Free loopback ports for brokers the tests and benchmarks start, outside the ephemeral range.

A port the kernel hands out for outgoing connections (the ephemeral range, 32768-60999 on Linux)
is a poor listener port for a broker that is restarted: while it is down, a client retrying
``connect(127.0.0.1:P)`` can be given P itself as its local port and connect to itself (TCP
simultaneous open), and the restarted broker then fails with "Address already in use". Ports are
therefore drawn below the ephemeral range.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

EPHEMERAL_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
LOWEST_PORT = 20_000
FALLBACK_EPHEMERAL_START = 32_768
ATTEMPTS = 200


def _ephemeral_start() -> int:
    try:
        return int(EPHEMERAL_RANGE_FILE.read_text(encoding="ascii").split()[0])
    except (OSError, ValueError, IndexError):
        return FALLBACK_EPHEMERAL_START


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def listener_ports(count: int, rng: random.Random | None = None) -> tuple[int, ...]:
    """``count`` distinct ports free on 127.0.0.1 now, all below the ephemeral range."""
    chooser = rng or random.SystemRandom()
    high = _ephemeral_start() - 1
    chosen: list[int] = []
    for _ in range(ATTEMPTS):
        port = chooser.randint(LOWEST_PORT, high)
        if port not in chosen and _free(port):
            chosen.append(port)
            if len(chosen) == count:
                return tuple(chosen)
    raise OSError(f"no {count} free ports between {LOWEST_PORT} and {high} after {ATTEMPTS} tries")
