"""Integration fixtures: a real Kafka broker, started by deploy/kafka/kafka.sh unless one is given.

Set HEDGE_KAFKA_BOOTSTRAP=host:port to reuse a running broker (then nothing is started or stopped
and `kafka_restart` skips). Otherwise the session starts its own broker on free 127.0.0.1 ports
(or on HEDGE_KAFKA_TEST_PORT and the port after it) with its data in a pytest temporary directory,
so concurrent sessions and a dev broker on 9092 never collide; the jars come from the shared cache
(HEDGE_CACHE_DIR, default <project>/.cache).
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pytest

from monitor.reliability.ports import listener_ports

INTEGRATION_DIR = Path(__file__).resolve().parent
KAFKA_SCRIPT = INTEGRATION_DIR.parents[1] / "deploy" / "kafka" / "kafka.sh"
# Fetching is done by scripts/test.sh beforehand; this covers a cold cache plus a 90 s start.
KAFKA_SCRIPT_TIMEOUT_S = 600


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test collected from tests/integration/ as `integration`."""
    for item in items:
        if INTEGRATION_DIR in item.path.parents:
            item.add_marker(pytest.mark.integration)


def _free_port_pair() -> tuple[int, int]:
    """Two distinct ports free on 127.0.0.1 now (the broker and its KRaft controller), below the
    ephemeral range so that a restarted broker never finds its port taken by a client's
    self-connection (``monitor.reliability.ports``)."""
    broker_port, controller_port = listener_ports(2)
    return broker_port, controller_port


@dataclass(frozen=True)
class KafkaBroker:
    """A broker this test session started with deploy/kafka/kafka.sh."""

    port: int
    controller_port: int
    run_dir: Path

    @property
    def bootstrap(self) -> str:
        """The bootstrap address clients connect to."""
        return f"127.0.0.1:{self.port}"

    def run(self, command: str) -> str:
        """Run `kafka.sh <command>` for this broker; return its output or raise with it."""
        environment = {
            **os.environ,
            "HEDGE_KAFKA_PORT": str(self.port),
            "HEDGE_KAFKA_CONTROLLER_PORT": str(self.controller_port),
            "HEDGE_KAFKA_RUN_DIR": str(self.run_dir),
        }
        result = subprocess.run(
            ["bash", str(KAFKA_SCRIPT), command],
            env=environment,
            capture_output=True,
            text=True,
            timeout=KAFKA_SCRIPT_TIMEOUT_S,
            check=False,
        )
        output = result.stdout + result.stderr
        if result.returncode != 0:
            raise RuntimeError(f"kafka.sh {command} exited {result.returncode}:\n{output}")
        return output

    def restart(self, *, crash: bool = False) -> None:
        """Stop the broker (SIGTERM, or SIGKILL if crash) and start it on the same port and data."""
        self.run("kill" if crash else "stop")
        self.run("start")


class RestartBroker(Protocol):
    """Signature of the `kafka_restart` fixture's value."""

    def __call__(self, *, crash: bool = False) -> None:
        """Stop (or crash) the session's broker and start it again on the same port and data."""


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker | None]:
    """The session's own broker, or None when HEDGE_KAFKA_BOOTSTRAP names one to reuse."""
    if os.environ.get("HEDGE_KAFKA_BOOTSTRAP"):
        yield None
        return
    pinned_port = os.environ.get("HEDGE_KAFKA_TEST_PORT")
    if pinned_port:
        port, controller_port = int(pinned_port), int(pinned_port) + 1
    else:
        port, controller_port = _free_port_pair()
    broker = KafkaBroker(
        port=port, controller_port=controller_port, run_dir=tmp_path_factory.mktemp("kafka")
    )
    broker.run("start")
    try:
        yield broker
    finally:
        broker.run("stop")


@pytest.fixture(scope="session")
def kafka_bootstrap(kafka_broker: KafkaBroker | None) -> str:
    """Bootstrap address "127.0.0.1:PORT" of a running broker for this session."""
    if kafka_broker is None:
        return os.environ["HEDGE_KAFKA_BOOTSTRAP"]
    return kafka_broker.bootstrap


@pytest.fixture
def kafka_restart(kafka_broker: KafkaBroker | None) -> Iterator[RestartBroker]:
    """Callable that restarts the session's broker in place; skips when the broker is not ours."""
    if kafka_broker is None:
        pytest.skip("HEDGE_KAFKA_BOOTSTRAP names an external broker: this session cannot restart")
    yield kafka_broker.restart
    # Leave the broker up for the next test even if this one failed between stop and start.
    kafka_broker.run("start")


@pytest.fixture
def topic_prefix() -> str:
    """A topic-name prefix unique to this test, so tests never share topics or groups."""
    return f"t{uuid.uuid4().hex[:8]}."
