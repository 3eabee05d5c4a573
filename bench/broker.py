"""A Kafka broker for the e2e and ceiling scenarios: the one named, or one started for the run.

Without ``--kafka`` / ``HEDGE_KAFKA_BOOTSTRAP`` the run starts its own broker with
``deploy/kafka/kafka.sh start`` on free 127.0.0.1 ports, its data in a temporary directory (jars
from ``HEDGE_CACHE_DIR``, default ``<project>/.cache``), and stops it and deletes the data after.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.report import PROJECT_DIR
from monitor.reliability.ports import listener_ports

KAFKA_SCRIPT = PROJECT_DIR / "deploy" / "kafka" / "kafka.sh"
SCRIPT_TIMEOUT_S = 600


def _free_ports() -> tuple[int, int]:
    broker_port, controller_port = listener_ports(2)
    return broker_port, controller_port


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
