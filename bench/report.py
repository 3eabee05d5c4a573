"""Results: the run's context (date, machine, versions, command), tables on stdout, JSON files."""

from __future__ import annotations

import datetime as dt
import os
import platform
import re
import statistics
import sys
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import orjson

PROJECT_DIR = Path(__file__).resolve().parents[1]
DEFAULT_RESULTS_DIR = Path("bench-results")


def median(values: Sequence[float]) -> float:
    """The median of a non-empty sequence."""
    return float(statistics.median(values))


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile (``fraction`` in [0, 1]) of a non-empty sequence."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(fraction * len(ordered) + 0.5)))
    return float(ordered[rank - 1])


def _memory_gib() -> float | None:
    try:
        text = Path("/proc/meminfo").read_text(encoding="ascii")
    except OSError:
        return None
    found = re.search(r"MemTotal:\s+(\d+) kB", text)
    return None if found is None else round(int(found.group(1)) / 1024 / 1024, 1)


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def kafka_version() -> str | None:
    """The broker version deploy/kafka fetches (from its pom.xml)."""
    try:
        text = (PROJECT_DIR / "deploy" / "kafka" / "pom.xml").read_text(encoding="utf-8")
    except OSError:
        return None
    found = re.search(r"<kafka.version>([^<]+)</kafka.version>", text)
    return None if found is None else found.group(1)


def _command(argv: Sequence[str]) -> str:
    """The command line as typed: ``python -m bench ...`` (or the program a caller ran)."""
    program = Path(argv[0]).name if argv else "bench"
    if program in ("__main__.py", "bench"):
        program = "python -m bench"
    return " ".join([program, *argv[1:]])


def context(command: Sequence[str]) -> dict[str, Any]:
    """Where and how the figures were taken."""
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": _command(command),
        "machine": {
            "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
            "memory_gib": _memory_gib(),
            "platform": platform.platform(),
            "processor": platform.machine(),
            "load_average_1m": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        },
        "versions": {
            "python": sys.version.split()[0],
            "numpy": _version("numpy"),
            "orjson": _version("orjson"),
            "aiokafka": _version("aiokafka"),
            "uvloop": _version("uvloop"),
            "hedge-monitor": _version("hedge-monitor"),
            "kafka": kafka_version(),
        },
        "environment": {
            name: os.environ[name] for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
            if name in os.environ
        },
    }


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value == 0:
            return "0"
        magnitude = abs(value)
        if magnitude >= 1000:
            return f"{value:,.0f}"
        if magnitude >= 10:
            return f"{value:.1f}"
        if magnitude >= 0.01:
            return f"{value:.3f}"
        return f"{value:.2e}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def table(title: str, columns: Sequence[tuple[str, str]], rows: Sequence[Mapping[str, Any]]) -> str:
    """A plain-text table: ``columns`` are (key, header) pairs."""
    cells = [[header for _, header in columns]]
    cells.extend([_cell(row.get(key)) for key, _ in columns] for row in rows)
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    lines = [title, "  ".join(h.ljust(w) for h, w in zip(cells[0], widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines.extend(
        "  ".join(c.rjust(w) for c, w in zip(line, widths, strict=True)) for line in cells[1:]
    )
    return "\n".join(lines)


def write_json(path: Path, data: Mapping[str, Any]) -> Path:
    """Write indented JSON (NaN and inf become null), creating the directory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY) + b"\n")
    return path
