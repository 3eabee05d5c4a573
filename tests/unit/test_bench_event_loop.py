"""`bench --event-loop`: the loop is resolved once, recorded in the JSON and exported to the scenarios."""

from __future__ import annotations

import argparse
import json
import os
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from bench import fanout, runner
from monitor.commands import bench as bench_command
from monitor.eventloop import ENVIRONMENT_VARIABLE


def _arguments(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    bench_command.add_arguments(parser)
    return parser.parse_args(list(argv))


@pytest.fixture
def seen(monkeypatch: pytest.MonkeyPatch) -> list[str | None]:
    """The fanout scenario replaced by a stub recording $HEDGE_EVENT_LOOP as the scenario sees it."""
    values: list[str | None] = []

    def fake_run(size: str, repeats: int) -> dict[str, Any]:
        values.append(os.environ.get(ENVIRONMENT_VARIABLE))
        return {"table": "fanout stub"}

    monkeypatch.setattr(fanout, "run", fake_run)
    monkeypatch.setenv(ENVIRONMENT_VARIABLE, "unset-by-the-fixture")
    monkeypatch.delenv(ENVIRONMENT_VARIABLE)
    return values


def _run(tmp_path: Path, *flags: str) -> dict[str, Any]:
    out = tmp_path / "fanout.json"
    assert runner.run(_arguments("fanout", "--size", "tiny", "--json-out", str(out), *flags)) == 0
    results: dict[str, Any] = json.loads(out.read_text())
    return results


def test_default_loop_is_asyncio_and_recorded(seen: list[str | None], tmp_path: Path) -> None:
    """Without --event-loop the run is on asyncio, says so in the JSON and exports it, then unsets it."""
    results = _run(tmp_path)
    assert results["event_loop"] == "asyncio"
    assert "uvloop" in results["versions"]  # None when not installed
    assert seen == ["asyncio"]
    assert ENVIRONMENT_VARIABLE not in os.environ


def test_uvloop_is_recorded_and_exported(
    seen: list[str | None], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """--event-loop auto with uvloop importable records and exports "uvloop"."""
    module = types.ModuleType("uvloop")
    monkeypatch.setattr(module, "new_event_loop", lambda: None, raising=False)
    monkeypatch.setitem(sys.modules, "uvloop", module)
    results = _run(tmp_path, "--event-loop", "auto")
    assert results["event_loop"] == "uvloop"
    assert seen == ["uvloop"]


def test_missing_uvloop_is_refused_before_any_scenario(
    seen: list[str | None], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--event-loop uvloop without uvloop exits 2 in one line naming the fix; no scenario runs."""
    monkeypatch.setitem(sys.modules, "uvloop", None)
    args = _arguments("fanout", "--size", "tiny", "--json-out", str(tmp_path / "x.json"),
                      "--event-loop", "uvloop")
    assert runner.run(args) == 2
    assert capsys.readouterr().err == (
        "bench: event loop 'uvloop' is not installed: pip install 'hedge-monitor[fast]'\n")
    assert seen == []
    assert not (tmp_path / "x.json").exists()
