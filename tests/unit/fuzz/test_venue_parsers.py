"""Fuzzing every venue parser: mutated documented frames give events or FrameError, never a crash.

Each target is one entry point of one venue (``Venue.parse`` of a stream, ``parse_resync`` of a
request purpose, ``connect_plan`` reading a listenKey response), fed frames derived from the
documented fixtures by ``monitor.fuzzing.Mutator``. The property: the call returns (every event it
produced is a valid canonical event, ``monitor.fuzzing.event_problem``) or raises ``FrameError``
with a reason; any other exception fails the test with the frame that caused it.
"""

from __future__ import annotations

import gzip
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.fuzzing import MUTATION_KINDS, TARGETS, Mutator, TargetSpec

from ._harness import DONORS, GZIP_VARIANTS, SEEDS, check_frame

# Oversized frames (1 MiB each) are covered by test_input_limits.py.
KINDS = tuple(kind for kind in MUTATION_KINDS if kind != "oversize")
FUZZ_SETTINGS = settings(
    max_examples=40,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def targets(selected: tuple[TargetSpec, ...] = TARGETS) -> list[object]:
    """The targets as test parameters named by their labels."""
    return [pytest.param(spec, id=spec.label) for spec in selected]


@pytest.mark.parametrize("spec", targets())
@FUZZ_SETTINGS
@given(rng=st.randoms(use_true_random=False), kind=st.sampled_from(KINDS))
def test_mutated_frames_give_events_or_frame_error(spec: TargetSpec, rng: random.Random, kind: str) -> None:
    """A mutated documented frame gives valid events or a FrameError, nothing else."""
    mutator = Mutator(rng, gzip_frames=spec.variant in GZIP_VARIANTS)
    check_frame(spec, mutator.frame(SEEDS[spec.label], kind, donors=DONORS[spec.variant]).frame)


@pytest.mark.parametrize("spec", targets())
def test_every_mutation_kind_gives_events_or_frame_error(spec: TargetSpec) -> None:
    """Five seeded frames of each mutation kind give valid events or a FrameError."""
    mutator = Mutator(random.Random(11), gzip_frames=spec.variant in GZIP_VARIANTS)
    seen: list[str] = []
    for kind in KINDS:
        for _ in range(5):
            mutation = mutator.frame(SEEDS[spec.label], kind, donors=DONORS[spec.variant])
            check_frame(spec, mutation.frame)
            seen.append(mutation.kind)
    assert set(seen) == set(KINDS)


@pytest.mark.parametrize("spec", targets())
@FUZZ_SETTINGS
@given(frame=st.one_of(st.binary(max_size=400), st.text(max_size=400)))
def test_arbitrary_bytes_and_text_give_frame_error_or_events(spec: TargetSpec, frame: str | bytes) -> None:
    """Random bytes or text, JSON or not, give valid events or a FrameError."""
    check_frame(spec, frame)


GZIP_TARGETS = tuple(spec for spec in TARGETS if spec.variant in GZIP_VARIANTS)


@pytest.mark.parametrize("spec", targets(GZIP_TARGETS))
@FUZZ_SETTINGS
@given(payload=st.binary(max_size=300), cut=st.integers(min_value=2, max_value=400))
def test_gzip_garbage_gives_frame_error_or_events(spec: TargetSpec, payload: bytes, cut: int) -> None:
    """BingX/MEXC: a bare gzip magic, a truncated member and a valid member of garbage give a
    FrameError (or, for a member that inflates to JSON, valid events)."""
    member = gzip.compress(payload, mtime=0)
    for frame in (b"\x1f\x8b" + payload, member[:cut], member, member + payload):
        check_frame(spec, frame)


def test_every_target_has_seeds_from_documented_fixtures() -> None:
    """Each fuzz target starts from at least one seed document."""
    assert all(SEEDS[spec.label] for spec in TARGETS)
