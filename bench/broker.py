"""A Kafka broker for the e2e and ceiling scenarios: the one named, or one started for the run.

Without ``--kafka`` / ``HEDGE_KAFKA_BOOTSTRAP`` the run starts its own broker with
``deploy/kafka/kafka.sh start`` on free 127.0.0.1 ports, its data in a temporary directory (jars
from ``HEDGE_CACHE_DIR``, default ``<project>/.cache``), and stops it and deletes the data after.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.report import PROJECT_DIR

KAFKA_SCRIPT = PROJECT_DIR / "deploy" / "kafka" / "kafka.sh"
SCRIPT_TIMEOUT_S = 600


def _free_ports() -> tuple[int, int]:
    sockets = [socket.socket(), socket.socket()]
    try:
        for bound in sockets:
            bound.bind(("127.0.0.1", 0))
        return sockets[0].getsockname()[1], sockets[1].getsockname()[1]
    finally:
        for bound in sockets:
            bound.close()


def _script(command: str, environment: dict[str, str]) -> None:
    bash = shutil.which("bash") or "/bin/bash"
    result = subprocess.run(  # noqa: S603 -- the project's own script, fixed arguments
        [bash, str(KAFKA_SCRIPT), command], env=environment, capture_output=True, text=True,
        timeout=SCRIPT_TIMEOUT_S, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"kafka.sh {command} exited {result.returncode}:\n{result.stdout}{result.stderr}")


@contextmanager
def kafka_broker(bootstrap: str | None) -> Iterator[str]:
    """The bootstrap address of a running broker for the duration of the block."""
    named = bootstrap or os.environ.get("HEDGE_KAFKA_BOOTSTRAP")
    if named:
        yield named
        return
    port, controller_port = _free_ports()
    run_dir = Path(tempfile.mkdtemp(prefix="hedge-bench-kafka-"))
    environment = {
        **os.environ,
        "HEDGE_KAFKA_PORT": str(port),
        "HEDGE_KAFKA_CONTROLLER_PORT": str(controller_port),
        "HEDGE_KAFKA_RUN_DIR": str(run_dir),
    }
    _script("start", environment)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        try:
            _script("stop", environment)
        finally:
            shutil.rmtree(run_dir, ignore_errors=True)
