"""The domain package stays pure: no I/O, concurrency or messaging imports."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

DOMAIN_DIRECTORY = Path(__file__).resolve().parents[3] / "monitor" / "domain"
FORBIDDEN = frozenset(
    {"asyncio", "aiokafka", "websockets", "prometheus_client", "socket", "threading", "kafka"}
)


def forbidden_imports(source: str) -> set[str]:
    """Top-level names of forbidden modules imported anywhere in ``source``."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found.update(name.split(".")[0] for name in names if name.split(".")[0] in FORBIDDEN)
    return found


def domain_modules() -> list[Path]:
    """Every Python module of monitor/domain."""
    return sorted(DOMAIN_DIRECTORY.glob("*.py"))


def test_domain_modules_are_found() -> None:
    """The walk sees the domain package, so the purity check cannot pass vacuously."""
    names = {path.name for path in domain_modules()}
    assert len(names) >= 3
    assert {"events.py", "instruments.py", "formulas.py"} <= names


@pytest.mark.parametrize("path", domain_modules(), ids=lambda path: path.name)
def test_domain_module_has_no_io_imports(path: Path) -> None:
    """No domain module imports asyncio, Kafka, websockets, Prometheus, sockets or threads."""
    assert forbidden_imports(path.read_text(encoding="utf-8")) == set()


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import asyncio", {"asyncio"}),
        ("import os, socket", {"socket"}),
        ("from aiokafka.producer import AIOKafkaProducer", {"aiokafka"}),
        ("import prometheus_client as metrics", {"prometheus_client"}),
        ("def f():\n    import threading\n", {"threading"}),
        ("from kafka import KafkaProducer", {"kafka"}),
        ("import websockets.asyncio.client", {"websockets"}),
        ("import math\nfrom .events import PriceEvent", set()),
        ("import asyncio_helpers", set()),
    ],
)
def test_detector_flags_forbidden_imports(source: str, expected: set[str]) -> None:
    """The detector itself catches forbidden imports, nested and aliased, and nothing else."""
    assert forbidden_imports(source) == expected
