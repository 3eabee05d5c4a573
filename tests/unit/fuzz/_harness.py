"""Shared pieces of the fuzz tests: fixtures, fresh primed venues and the property every frame meets."""

from __future__ import annotations

from pathlib import Path

from monitor.domain.events import Event
from monitor.domain.instruments import default_catalog
from monitor.fuzzing import (
    TARGETS,
    Raw,
    Seed,
    TargetSpec,
    build_fuzz_venue,
    event_problem,
    fixture_loader,
    resolve_seeds,
    serialise,
    venue_requests,
)
from monitor.venues.base import FrameError, HttpRequest, Venue

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "exchanges"
RECEIVE_MS = 1_700_000_000_123
CATALOG = default_catalog()
LOAD = fixture_loader(FIXTURES)
SEEDS: dict[str, tuple[Seed, ...]] = {target.label: resolve_seeds(target, LOAD) for target in TARGETS}
DONORS: dict[str, tuple[Seed, ...]] = {
    variant: tuple(seed for target in TARGETS if target.variant == variant for seed in SEEDS[target.label])
    for variant in dict.fromkeys(target.variant for target in TARGETS)
}
# Venues whose frames arrive gzip-compressed (or may), so the mutator compresses half of them.
GZIP_VARIANTS = frozenset({"bingx", "mexc"})


def target(label: str) -> TargetSpec:
    """The fuzz target with this label."""
    return next(candidate for candidate in TARGETS if candidate.label == label)


def as_bytes(frame: str | bytes) -> bytes:
    """A frame as the bytes of a REST body."""
    return frame.encode("utf-8", "replace") if isinstance(frame, str) else frame


def seed_frame(seed: Seed) -> str:
    """The unmutated text of a seed."""
    document = seed.document
    return document.text if isinstance(document, Raw) else serialise(document).decode()


def primed_venue(spec: TargetSpec) -> tuple[Venue, dict[str, HttpRequest]]:
    """A fresh venue of the target's variant that has read every unmutated seed of that variant."""
    venue = build_fuzz_venue(spec.variant, CATALOG)
    requests = venue_requests(venue, RECEIVE_MS)
    for other in TARGETS:
        if other.variant != spec.variant or other.kind == "setup":
            continue
        for seed in SEEDS[other.label]:
            try:
                feed(other, venue, requests, seed_frame(seed))
            except FrameError:
                continue
    # a new resync round, as after a reconnect (Bybit reads position lists only within a round)
    return venue, venue_requests(venue, RECEIVE_MS)


def feed(
    spec: TargetSpec, venue: Venue, requests: dict[str, HttpRequest], frame: str | bytes
) -> tuple[Event, ...]:
    """One frame through the target's entry point; the events it produced."""
    if spec.kind == "stream":
        stream = spec.name if spec.name in venue.stream_names() else "market"
        return venue.parse(stream, frame, RECEIVE_MS).events
    if spec.kind == "resync":
        return venue.parse_resync(requests[spec.name], as_bytes(frame), RECEIVE_MS)
    venue.connect_plan(spec.name, RECEIVE_MS, as_bytes(frame))
    return ()


def check_frame(spec: TargetSpec, frame: str | bytes) -> FrameError | None:
    """Feed one frame to a fresh primed venue: events must be valid, the only error FrameError.

    Any other exception propagates and fails the calling test with the frame that caused it.
    """
    venue, requests = primed_venue(spec)
    rejection: FrameError | None = None
    events: tuple[Event, ...] = ()
    try:
        events = feed(spec, venue, requests, frame)
    except FrameError as error:
        rejection = error
    if rejection is not None:
        assert isinstance(rejection.reason, str)
        assert rejection.reason
        return rejection
    problems = [problem for event in events if (problem := event_problem(event)) is not None]
    assert problems == []
    return None
