"""JSON Schemas (draft 2020-12) of every topic value, shipped so downstream teams can validate.

``price`` (hedge.prices), ``positions`` (hedge.positions: position, balance, fill), ``risk``
(hedge.risk), ``alert`` (hedge.alerts), ``dead_letter`` (hedge.dlq), ``instrument``
(hedge.instruments).
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

NAMES: tuple[str, ...] = ("price", "positions", "risk", "alert", "dead_letter", "instrument")


def path(name: str) -> str:
    """The file path of one schema inside the installed package."""
    if name not in NAMES:
        raise KeyError(f"unknown schema {name!r}; known: {', '.join(NAMES)}")
    return str(resources.files("monitor.schemas").joinpath(f"{name}.json"))


def load(name: str) -> dict[str, Any]:
    """One schema as a dict."""
    if name not in NAMES:
        raise KeyError(f"unknown schema {name!r}; known: {', '.join(NAMES)}")
    text = resources.files("monitor.schemas").joinpath(f"{name}.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema
