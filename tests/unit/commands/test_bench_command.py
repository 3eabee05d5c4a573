"""`hedge-monitor bench` names the checkout command instead of reaching into a checkout."""

from __future__ import annotations

import sys

import pytest

from monitor.cli import main


def test_bench_prints_the_checkout_command_and_runs_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    """Exit status 2, the python -m bench command with the same flags, and sys.path untouched."""
    path_before = list(sys.path)
    status = main(["bench", "core", "--size", "tiny", "--repeats", "2", "--json-out", "out dir/core.json"])
    captured = capsys.readouterr()
    assert status == 2
    assert captured.out == ""
    assert "  python -m bench core --size tiny --json-out 'out dir/core.json' --repeats 2\n" in captured.err
    assert "source checkout" in captured.err
    assert sys.path == path_before


def test_bench_without_flags_names_the_default_scenario_and_size(capsys: pytest.CaptureFixture[str]) -> None:
    """No flags: the command to type is every scenario at full size."""
    assert main(["bench"]) == 2
    assert "  python -m bench all --size full\n" in capsys.readouterr().err
