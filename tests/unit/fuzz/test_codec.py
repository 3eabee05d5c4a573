"""Fuzzing monitor.codec.decode: any topic value gives a valid canonical event or DecodeError."""

from __future__ import annotations

import random

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.codec import DecodeError, decode, encode_event
from monitor.domain.events import Event, PositionEvent
from monitor.fuzzing import MUTATION_KINDS, Mutator, codec_seeds, event_problem

CODEC_SETTINGS = settings(
    max_examples=300,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
SEEDS = codec_seeds(())
KINDS = tuple(kind for kind in MUTATION_KINDS if kind != "oversize")
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats(allow_nan=False,
    allow_infinity=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children,
                                                                       max_size=6),
    max_leaves=20,
)
FIELDS = ("v", "type", "instrument", "mark", "index", "funding_rate", "next_funding_ms", "ts_event_ms",
          "ts_receive_ms", "portfolio", "account", "asset", "quantity", "entry_price", "leverage",
          "margin_mode", "isolated_margin", "price", "fee_usd")


def decoded_or_refused(value: bytes | str) -> Event | None:
    """decode(value): a valid event, or None for a DecodeError with a reason; else the test fails."""
    reason: str | None = None
    try:
        event = decode(value)
    except DecodeError as error:
        reason = error.reason
    if reason is not None:
        assert reason
        return None
    assert event_problem(event) is None
    return event


@CODEC_SETTINGS
@given(rng=st.randoms(use_true_random=False), kind=st.sampled_from(KINDS))
def test_mutated_topic_values_decode_or_are_refused(rng: random.Random, kind: str) -> None:
    """A mutated topic value decodes to a valid event or raises DecodeError."""
    decoded_or_refused(Mutator(rng).frame(SEEDS, kind).frame)


@CODEC_SETTINGS
@given(value=st.one_of(st.binary(max_size=300), st.text(max_size=300)))
def test_arbitrary_bytes_and_text_decode_or_are_refused(value: bytes | str) -> None:
    """Random bytes or text give DecodeError (or, if they happen to be a value, a valid event)."""
    decoded_or_refused(value)


@CODEC_SETTINGS
@given(
    kind=st.sampled_from(("price", "position", "balance", "fill", "other")),
    fields=st.dictionaries(st.sampled_from(FIELDS), JSON, max_size=len(FIELDS)),
)
def test_objects_with_contract_fields_of_any_json_type_decode_or_are_refused(
    kind: str, fields: dict[str, object]
) -> None:
    """An object of version 1 whose fields hold arbitrary JSON decodes validly or is refused."""
    decoded_or_refused(orjson.dumps({**fields, "v": 1, "type": kind}))


def test_every_mutation_kind_decodes_or_is_refused() -> None:
    """Twenty seeded values of each mutation kind decode validly or are refused; some decode."""
    mutator = Mutator(random.Random(3))
    decoded = [decoded_or_refused(mutator.frame(SEEDS, kind).frame) for kind in KINDS for _ in range(20)]
    assert any(event is not None for event in decoded)
    assert any(event is None for event in decoded)


def test_seeds_round_trip() -> None:
    """Every codec seed is a value that decodes back to the event it encodes."""
    for seed in SEEDS:
        value = orjson.dumps(seed.document)
        event = decode(value)
        assert encode_event(event) == value


def test_event_check_catches_an_invalid_event() -> None:
    """event_problem flags an event whose validation was bypassed (so the check can fail)."""
    valid = PositionEvent("p", "a", "okx:BTC-USDT-SWAP", 1.0, 60000.0, None, "cross", None, 1, 2)
    assert event_problem(valid) is None
    broken = PositionEvent("p", "a", "okx:BTC-USDT-SWAP", 1.0, 60000.0, None, "cross", None, 1, 2)
    object.__setattr__(broken, "quantity", float("nan"))
    assert event_problem(broken) == "PositionEvent.quantity is not finite"
    object.__setattr__(broken, "quantity", 1.0)
    object.__setattr__(broken, "entry_price", -5.0)
    assert event_problem(broken) is not None
    assert event_problem("not an event") == "not a canonical event: str"
