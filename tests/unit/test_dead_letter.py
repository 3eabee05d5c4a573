"""The hedge.dlq value (``monitor.codec.dead_letter_value``), shared by ingest and the processor."""

from __future__ import annotations

import orjson

from monitor.codec import DLQ_RAW_LIMIT, dead_letter_value


def test_the_value_carries_source_position_reason_and_raw_input() -> None:
    """Every field of the contract (docs/topics.md, hedge.dlq), in order, as compact JSON."""
    value = dead_letter_value("hedge.positions", "not JSON", b"{oops", 1_700_000_000_000,
                              partition=3, offset=42)
    assert value == (b'{"v":1,"type":"dead_letter","source":"hedge.positions","partition":3,'
                     b'"offset":42,"reason":"not JSON","raw":"{oops","raw_bytes":5,'
                     b'"ts_ms":1700000000000}')


def test_a_venue_letter_has_no_partition_or_offset() -> None:
    """Ingest's dead letters (a venue frame) leave partition and offset null."""
    letter = orjson.loads(dead_letter_value("okx", "unknown channel", b"{}", 5))
    assert (letter["source"], letter["partition"], letter["offset"]) == ("okx", None, None)


def test_the_raw_input_is_truncated_and_invalid_utf8_replaced() -> None:
    """5001 bytes (one invalid byte, then 5000 'a'): the first 4096 bytes kept, 0xFF read as U+FFFD,
    the full length reported."""
    letter = orjson.loads(dead_letter_value("bybit", "not JSON", b"\xff" + b"a" * 5000, 5))
    assert DLQ_RAW_LIMIT == 4096
    assert letter["raw"] == "\ufffd" + "a" * 4095
    assert letter["raw_bytes"] == 5001
