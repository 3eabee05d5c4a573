"""Input limits: frames over MAX_FRAME_BYTES and lists over MAX_LIST_ITEMS are refused, naming the limit.

For every venue, every stream and every request purpose whose response is read: a valid documented
frame padded with spaces past ``MAX_FRAME_BYTES`` (so only its size is wrong) is refused with a
FrameError whose reason contains the limit; so is a frame in which a list the parser reads holds
``MAX_LIST_ITEMS + 1`` items. The codec refuses topic values over ``MAX_VALUE_BYTES`` likewise.
"""

from __future__ import annotations

import gzip

import pytest

from monitor.codec import MAX_VALUE_BYTES, DecodeError, decode, encode_event
from monitor.domain.events import PriceEvent
from monitor.fuzzing import (
    TARGETS,
    UNREAD_TARGETS,
    TargetSpec,
    gzip_bomb,
    serialise,
    value_at,
    with_value,
)
from monitor.venues.base import MAX_FRAME_BYTES, MAX_LIST_ITEMS, FrameError

from ._harness import SEEDS, as_bytes, feed, primed_venue, seed_frame, target

READ_TARGETS = [spec for spec in TARGETS if spec.label not in UNREAD_TARGETS]

# (target, seed index, path of a list the parser reads) — at least one per venue.
LIST_CASES: tuple[tuple[str, int, tuple[object, ...]], ...] = (
    ("binance/stream:market", 1, ()),
    ("binance/stream:private", 0, ("a", "B")),
    ("binance/stream:private", 0, ("a", "P")),
    ("binance/resync:positions", 0, ()),
    ("binance/resync:balances", 0, ("assets",)),
    ("binance-spot/stream:private", 2, ("B",)),
    ("binance-spot/stream:private", 3, ("event", "B")),
    ("binance-spot/resync:balances", 0, ("balances",)),
    ("bybit/stream:private", 2, ("data",)),
    ("bybit/stream:private", 4, ("data", 0, "coin")),
    ("bybit/resync:positions-linear-USDT", 0, ("result", "list")),
    ("bybit/resync:positions-linear-USDC", 0, ("result", "list")),
    ("bybit/resync:positions-inverse", 0, ("result", "list")),
    ("bybit/resync:balances", 0, ("result", "list")),
    ("bybit/resync:balances", 0, ("result", "list", 0, "coin")),
    ("okx/stream:market", 0, ("data",)),
    ("okx/stream:market", 1, ("data",)),
    ("okx/stream:market", 2, ("data",)),
    ("okx/stream:private", 2, ("data",)),
    ("okx/stream:private", 3, ("data", 0, "details")),
    ("okx/resync:positions", 0, ("data",)),
    ("okx/resync:balances", 0, ("data",)),
    ("okx/resync:balances", 0, ("data", 0, "details")),
    ("bingx/stream:private", 0, ("a", "B")),
    ("bingx/stream:private", 0, ("a", "P")),
    ("bingx/resync:positions", 0, ("data",)),
    ("bingx/resync:balances", 0, ("data",)),
    ("mexc/resync:positions", 0, ("data",)),
    ("weex/stream:market", 0, ("d",)),
    ("weex/stream:market", 5, ("data",)),
    ("weex/stream:private", 0, ("d",)),
    ("weex/stream:private", 2, ("msg", "data", "position")),
    ("weex/resync:positions", 0, ()),
    ("weex/resync:balances", 0, ()),
    ("weex/resync:premiumIndex", 0, ()),
    ("weex-v2/stream:market", 0, ("d",)),
    ("weex-v2/stream:private", 2, ("msg", "data", "position")),
    ("weex-v2/resync:positions", 0, ()),
    ("binance-coinm/stream:market", 1, ()),
    ("binance-coinm/stream:private", 0, ("a", "P")),
    ("binance-coinm/resync:positions", 0, ()),
    ("binance-coinm/resync:balances", 0, ("assets",)),
    ("deribit/stream:private", 0, ("params", "data", "positions")),
    ("deribit/stream:private", 0, ("params", "data", "trades")),
    ("deribit/resync:positions-BTC", 0, ("result",)),
    ("hyperliquid/stream:private", 0, ("data", "clearinghouseState", "assetPositions")),
    ("hyperliquid/stream:private", 2, ("data", "fills")),
    ("hyperliquid/resync:clearinghouseState", 0, ("assetPositions",)),
)
# Responses whose documented single object may also come as a list: wrapped, then made too long.
WRAPPED_LIST_CASES: tuple[tuple[str, tuple[object, ...]], ...] = (
    ("bingx/resync:premiumIndex", ("data",)),
    ("mexc/resync:balances", ("data",)),
)


def oversized(text: str) -> str:
    """``text`` padded with spaces to one byte over MAX_FRAME_BYTES (still valid JSON)."""
    return text + " " * (MAX_FRAME_BYTES - len(text.encode()) + 1)


def refusal(label: str, frame: str | bytes) -> str:
    """The FrameError reason with which the target refuses ``frame`` (fails if it is accepted)."""
    spec = target(label)
    venue, requests = primed_venue(spec)
    with pytest.raises(FrameError) as refused:
        feed(spec, venue, requests, frame)
    return refused.value.reason


@pytest.mark.parametrize("spec", [pytest.param(spec, id=spec.label) for spec in READ_TARGETS])
def test_oversized_frames_are_refused_naming_the_limit(spec: TargetSpec) -> None:
    """Each seed padded past MAX_FRAME_BYTES, as text and as bytes, is refused naming 1048576."""
    label = spec.label
    for seed in SEEDS[label]:
        frame = oversized(seed_frame(seed))
        assert len(frame.encode()) == MAX_FRAME_BYTES + 1
        assert str(MAX_FRAME_BYTES) in refusal(label, frame)
        assert str(MAX_FRAME_BYTES) in refusal(label, frame.encode())


def test_a_frame_at_the_limit_is_read() -> None:
    """A frame of exactly MAX_FRAME_BYTES is not refused for its size (the limit is inclusive)."""
    seed = SEEDS["binance/stream:market"][0]
    frame = oversized(seed_frame(seed))[:-1]
    spec = target("binance/stream:market")
    venue, requests = primed_venue(spec)
    assert len(feed(spec, venue, requests, frame)) == 1


@pytest.mark.parametrize("label", [spec.label for spec in TARGETS if spec.variant in ("bingx", "mexc")
                                   and spec.label not in UNREAD_TARGETS and spec.kind != "setup"])
def test_gzip_frames_inflating_past_the_limit_are_refused(label: str) -> None:
    """BingX/MEXC: a 1 KiB gzip member that inflates past MAX_FRAME_BYTES is refused naming it,
    and so is a compressed frame that is itself over the limit."""
    bomb = gzip_bomb()
    assert len(bomb) < 16 * 1024
    assert str(MAX_FRAME_BYTES) in refusal(label, bomb)
    too_big = gzip.compress(b"\x00" * MAX_FRAME_BYTES, compresslevel=0, mtime=0)
    assert str(MAX_FRAME_BYTES) in refusal(label, too_big)


@pytest.mark.parametrize(("label", "seed_index", "path"), LIST_CASES)
def test_over_long_lists_are_refused_naming_the_limit(
    label: str, seed_index: int, path: tuple[object, ...]
) -> None:
    """A list the parser reads, made MAX_LIST_ITEMS + 1 items long, is refused naming 10000."""
    document = SEEDS[label][seed_index].document
    items = value_at(document, path)
    assert isinstance(items, list)
    frame = serialise(with_value(document, path, [{}] * (MAX_LIST_ITEMS + 1)))
    assert len(frame) < MAX_FRAME_BYTES
    assert str(MAX_LIST_ITEMS) in refusal(label, frame.decode())
    assert str(MAX_LIST_ITEMS) in refusal(label, as_bytes(frame))


@pytest.mark.parametrize(("label", "path"), WRAPPED_LIST_CASES)
def test_single_object_responses_as_over_long_lists_are_refused(label: str, path: tuple[object, ...]) -> None:
    """A response whose object may also arrive as a list is refused when that list is too long."""
    document = SEEDS[label][0].document
    assert isinstance(value_at(document, path), dict)
    frame = serialise(with_value(document, path, [{}] * (MAX_LIST_ITEMS + 1)))
    assert str(MAX_LIST_ITEMS) in refusal(label, frame)


def test_list_at_the_limit_is_read() -> None:
    """MAX_LIST_ITEMS mark prices in one array are read (the limit is inclusive)."""
    mark = {"e": "markPriceUpdate", "E": 1562305380000, "s": "BTCUSDT", "p": "11185.9"}
    frame = serialise([mark] * MAX_LIST_ITEMS)
    assert len(frame) < MAX_FRAME_BYTES
    spec = target("binance/stream:market")
    venue, requests = primed_venue(spec)
    assert len(feed(spec, venue, requests, frame)) == MAX_LIST_ITEMS


def test_every_venue_enforces_the_list_limit() -> None:
    """The list cases cover every venue variant except static holdings (which read no frame)."""
    covered = {label.split("/")[0] for label, _, _ in LIST_CASES}
    assert covered == {spec.variant for spec in TARGETS} - {"static"}


def test_codec_refuses_values_over_its_limit() -> None:
    """A topic value over MAX_VALUE_BYTES is a DecodeError naming 65536; one at the limit decodes."""
    event = PriceEvent("okx:BTC-USDT-SWAP", 60000.0, None, None, None, 1, 2)
    value = encode_event(event)
    at_limit = value + b" " * (MAX_VALUE_BYTES - len(value))
    assert decode(at_limit) == event
    with pytest.raises(DecodeError, match=str(MAX_VALUE_BYTES)):
        decode(at_limit + b" ")
