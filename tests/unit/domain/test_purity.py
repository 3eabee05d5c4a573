"""The pure code stays pure: no I/O, concurrency or messaging imports.

Pure: the domain package, the alert rules and state engine (``monitor/alerts``) and the
processor's risk engine and columnar arrays; the processor's runner does the I/O around them.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PACKAGE = ROOT / "monitor"
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


def pure_modules() -> list[Path]:
    """Every Python module of monitor/domain and monitor/alerts, and the processor's engine and arrays."""
    return sorted([
        *(PACKAGE / "domain").glob("*.py"),
        *(PACKAGE / "alerts").glob("*.py"),
        PACKAGE / "processor" / "engine.py",
        PACKAGE / "processor" / "columnar.py",
    ])


def module_name(path: Path) -> str:
    """``monitor/alerts/rules.py`` -> ``monitor.alerts.rules`` (a package's ``__init__`` -> the package)."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_pure_modules_are_found() -> None:
    """The walk sees every pure module, so the purity check cannot pass vacuously."""
    names = {module_name(path) for path in pure_modules()}
    assert {
        "monitor.domain.events", "monitor.domain.instruments", "monitor.domain.formulas",
        "monitor.alerts", "monitor.alerts.engine", "monitor.alerts.rules",
        "monitor.processor.engine", "monitor.processor.columnar",
    } <= names
    assert all(path.is_file() for path in pure_modules())


@pytest.mark.parametrize("path", pure_modules(), ids=module_name)
def test_pure_module_has_no_io_imports(path: Path) -> None:
    """No pure module imports asyncio, Kafka, websockets, Prometheus, sockets or threads."""
    assert forbidden_imports(path.read_text(encoding="utf-8")) == set()


def test_pure_modules_load_no_io_module_through_their_imports() -> None:
    """Imported together in a fresh interpreter, the pure modules load none of those modules
    indirectly either (through a monitor module or a package ``__init__`` they import)."""
    names = [module_name(path) for path in pure_modules()]
    probe = (
        "import importlib, sys\n"
        f"for name in {names!r}:\n"
        "    importlib.import_module(name)\n"
        f"print(sorted({{name.split('.')[0] for name in sys.modules}} & {set(FORBIDDEN)!r}))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True,
                            check=False, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


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
