"""Command-line interface (wiring only)."""

from __future__ import annotations


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``hedge-monitor`` command."""
    del argv
    return 0
