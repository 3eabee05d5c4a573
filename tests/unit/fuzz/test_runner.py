"""The full-size fuzz runner (monitor.fuzzing.run_fuzz) and its command, run at a small size."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

import pytest

from monitor import fuzzing
from monitor.commands import fuzz
from monitor.fuzzing import TARGETS, VARIANTS, FuzzReport, build_fuzz_venue, run_fuzz, venue_requests
from monitor.venues.base import FrameError, Parsed
from monitor.venues.registry import VENUE_NAMES

from ._harness import FIXTURES


def small_run(frames: int, seed: int, variants: tuple[str, ...] | None = None) -> FuzzReport:
    """A short run against the test fixtures."""
    return asyncio.run(run_fuzz(frames, seed, FIXTURES, variants=variants))


@pytest.fixture(scope="module")
def report() -> FuzzReport:
    """3000 frames over every target with seed 1."""
    return small_run(3000, 1)


def test_every_frame_is_accepted_or_dead_lettered(report: FuzzReport) -> None:
    """Accepted + rejected + crashed = frames, and every target received frames."""
    assert report.frames == 3000
    assert report.accepted + report.rejected + report.crashes == report.frames
    assert report.dead_letters == report.rejected + report.crashes
    assert set(report.by_target) == {spec.label for spec in (*TARGETS, fuzzing.CODEC_TARGET)}
    assert all(counts.frames > 0 for counts in report.by_target.values())
    assert report.accepted > 0
    assert report.rejected > 0


def test_no_crash_and_every_event_is_valid(report: FuzzReport) -> None:
    """No parser crashes (every rejected frame is a FrameError); no invalid event is produced."""
    assert report.crashes == 0, list(report.crash_samples.values())[:3]
    assert report.invalid_events == 0
    assert report.events > 0


def test_a_larger_run_has_no_crash_at_all() -> None:
    """20000 frames of seed 5 through the OKX, Bybit and Binance spot parsers crash nothing."""
    assert small_run(20_000, 5, ("okx", "bybit", "binance-spot")).crashes == 0


def test_oversized_frames_are_all_refused_naming_the_limit(report: FuzzReport) -> None:
    """Every oversized frame sent to a parser that reads input was refused naming the limit."""
    assert report.oversize_frames > 0
    assert report.oversize_rejected_naming_limit + report.oversize_unread == report.oversize_frames


def test_same_seed_same_figures() -> None:
    """Two runs with the same seed give the same figures per target."""
    first = small_run(1500, 9, ("binance", "okx", "codec"))
    second = small_run(1500, 9, ("binance", "okx", "codec"))
    assert first.by_target == second.by_target
    assert first.kinds == second.kinds


class _ExplodingVenue:
    """Wraps a venue; after the priming frames its parse raises KeyError on every third frame."""

    def __init__(self, inner: object) -> None:
        self._inner = inner
        self.calls = 0

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)

    def parse(self, *_frame: object) -> Parsed:
        self.calls += 1
        if self.calls > 50 and self.calls % 3 == 0:
            raise KeyError("boom")
        raise FrameError("refused")


def test_a_crashing_parser_is_counted_as_a_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    """A non-FrameError from parse is a dead letter 'internal: KeyError' counted as a crash."""
    monkeypatch.setattr(fuzzing, "build_fuzz_venue",
                        lambda variant, catalog=None: _ExplodingVenue(build_fuzz_venue(variant, catalog)))
    crashed = small_run(300, 1, ("binance",))
    assert crashed.crashes > 0
    assert not crashed.ok
    assert any("KeyError" in sample.error for sample in crashed.crash_samples.values())
    assert crashed.accepted + crashed.rejected + crashed.crashes == crashed.frames


def test_targets_cover_every_stream_setup_and_request_purpose() -> None:
    """Each registry venue's streams, listenKey setups and resync/keepalive purposes are targets."""
    assert set(VENUE_NAMES) <= set(VARIANTS)
    for variant in VARIANTS:
        if variant in ("codec", "static"):
            continue
        venue = build_fuzz_venue(variant)
        expected = {("stream", stream) for stream in venue.stream_names()}
        expected |= {("resync", purpose) for purpose in venue_requests(venue, 1)}
        expected |= {("setup", stream) for stream in venue.stream_names()
                     if venue.stream_setup(stream, 1) is not None}
        assert {(spec.kind, spec.name) for spec in TARGETS if spec.variant == variant} == expected


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    fuzz.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_command_prints_the_figures(capsys: pytest.CaptureFixture[str]) -> None:
    """``fuzz --frames 400`` prints frames/s, accepted, rejected, crashes and the limits; exit 0."""
    status = fuzz.run(_args("--frames", "400", "--seed", "2", "--venue", "binance", "--venue", "codec",
                            "--fixtures", str(FIXTURES), "--per-target"))
    output = capsys.readouterr().out
    assert status == 0
    for text in ("frames: 400 (seed 2)", "frames/s", "frames accepted: ", "frames rejected: ",
                 "crashes: 0", "MAX_FRAME_BYTES=1048576", "MAX_LIST_ITEMS=10000",
                 "MAX_VALUE_BYTES=65536", "binance/stream:market", "result: OK"):
        assert text in output
    assert fuzz.EXAMPLE == "hedge-monitor fuzz --frames 1000000 --seed 1"


def test_command_without_fixtures_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A missing fixture directory is reported with exit status 2."""
    assert fuzz.run(_args("--frames", "1", "--fixtures", str(tmp_path / "none"))) == 2
    assert "not found" in capsys.readouterr().out


def test_command_refuses_zero_frames() -> None:
    """``--frames 0`` is a usage error."""
    with pytest.raises(SystemExit):
        _args("--frames", "0")
