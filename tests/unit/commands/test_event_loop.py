"""The --event-loop option of the commands that run an event loop, and how the choice is applied."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import pytest

from monitor.cli import build_parser, main
from monitor.commands import common, pipeline
from monitor.eventloop import ENVIRONMENT_VARIABLE

COMMANDS: dict[str, list[str]] = {
    "demo": ["demo"],
    "process": ["process", "--kafka", "127.0.0.1:9092"],
    "ingest": ["ingest", "--config", "monitor.toml"],
    "run": ["run", "--config", "monitor.toml"],
    "tail": ["tail", "risk", "--kafka", "127.0.0.1:9092"],
    "simulate": ["simulate"],
    "crash-test": ["crash-test", "--kafka", "127.0.0.1:9092"],
    "fuzz": ["fuzz"],
    "bench": ["bench", "core"],
}
MISSING = "event loop 'uvloop' is not installed: pip install 'hedge-monitor[fast]'"


@pytest.fixture
def without_uvloop(monkeypatch: pytest.MonkeyPatch) -> None:
    """`import uvloop` fails, and $HEDGE_EVENT_LOOP is unset (restored after the test)."""
    monkeypatch.setitem(sys.modules, "uvloop", None)
    monkeypatch.setenv(ENVIRONMENT_VARIABLE, "unset-by-the-fixture")
    monkeypatch.delenv(ENVIRONMENT_VARIABLE)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_loop_command_takes_event_loop(command: str) -> None:
    """Each command that runs an event loop parses --event-loop; without it the choice is left open."""
    parser = build_parser()
    assert parser.parse_args([*COMMANDS[command], "--event-loop", "uvloop"]).event_loop == "uvloop"
    assert parser.parse_args([*COMMANDS[command], "--event-loop", "auto"]).event_loop == "auto"
    assert parser.parse_args(COMMANDS[command]).event_loop is None


def test_unknown_event_loop_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """--event-loop trio exits 2 naming the valid choices."""
    with pytest.raises(SystemExit) as caught:
        build_parser().parse_args(["process", "--kafka", "127.0.0.1:9092", "--event-loop", "trio"])
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert "argument --event-loop: invalid choice: 'trio'" in err
    assert all(choice in err for choice in ("auto", "asyncio", "uvloop"))  # quoting varies by Python


def test_help_says_auto_picks_uvloop_when_installed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    """`process --help` explains the choices, the install command and the environment variable."""
    monkeypatch.setenv("COLUMNS", "400")  # argparse wraps at hyphens: keep the install command whole
    with pytest.raises(SystemExit):
        build_parser().parse_args(["process", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "auto (uvloop when installed, else asyncio)" in help_text
    assert "pip install 'hedge-monitor[fast]'" in help_text
    assert "$HEDGE_EVENT_LOOP" in help_text
    assert "[monitor] event_loop" in help_text


def test_cli_refuses_uvloop_when_missing_in_one_line(
    without_uvloop: None, capsys: pytest.CaptureFixture[str],
) -> None:
    """`fuzz --event-loop uvloop` without uvloop exits 2 with one line naming the fix, before running."""
    assert main(["fuzz", "--event-loop", "uvloop", "--frames", "1"]) == 2
    captured = capsys.readouterr()
    assert captured.err == f"hedge-monitor fuzz: {MISSING}\n"
    assert captured.out == ""


def test_config_key_applies_to_run(
    without_uvloop: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    """`run --config` honours [monitor] event_loop = "uvloop" (refused here: uvloop is missing)."""
    monkeypatch.setattr(pipeline, "setup_logging", lambda *_: None)
    config = tmp_path / "monitor.toml"
    config.write_text('[monitor]\nevent_loop = "uvloop"\n', encoding="utf-8")
    assert main(["run", "--config", str(config), "--view", "none"]) == 2
    assert capsys.readouterr().err == f"hedge-monitor run: {MISSING}\n"


def test_flag_overrides_the_config_key(without_uvloop: None) -> None:
    """--event-loop asyncio runs even though the config asks for the missing uvloop."""

    async def body() -> int:
        return 7

    args = argparse.Namespace(command="process", event_loop="asyncio")
    assert common.run_in_event_loop(args, body, configured="uvloop") == 7


def test_chosen_loop_is_exported_to_child_processes(without_uvloop: None) -> None:
    """auto without uvloop resolves to asyncio and exports HEDGE_EVENT_LOOP=asyncio for children."""
    args = argparse.Namespace(command="crash-test", event_loop="auto")
    assert common.chosen_event_loop(args) == "asyncio"
    assert os.environ[ENVIRONMENT_VARIABLE] == "asyncio"
