"""Shared helpers of the venue tests: fixture loading, canary credentials and frame mutations."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

from monitor.secrets import Secret
from monitor.venues.base import AccountContext, Credentials, FrameError, Parsed

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "exchanges"
RECEIVE_MS = 1_700_000_000_123
CANARY_KEY = "CANARY-API-KEY-7f3a"
CANARY_HMAC = "CANARY-API-SECRET-91bd"
CANARY_PHRASE = "CANARY-PASSPHRASE-c0de"


def fixture_text(name: str) -> str:
    """The raw text of one documented exchange fixture."""
    return (FIXTURES / name).read_text(encoding="utf-8")


def fixture_json(name: str) -> object:
    """One documented exchange fixture, decoded."""
    return json.loads(fixture_text(name))


def account(passphrase: bool = False) -> AccountContext:
    """An account whose credentials are canary values (to prove they never leak)."""
    return AccountContext(
        account="acct-1",
        portfolio="alice",
        credentials=Credentials(
            api_key=Secret(CANARY_KEY),
            api_secret=Secret(CANARY_HMAC),
            passphrase=Secret(CANARY_PHRASE) if passphrase else None,
        ),
    )


def leaked(text: str) -> bool:
    """True when any canary credential value appears in ``text``."""
    return any(value in text for value in (CANARY_KEY, CANARY_HMAC, CANARY_PHRASE))


_REPLACEMENTS: tuple[object, ...] = (None, "", "NaN", "Infinity", "1_000", [], {}, True, "x")


def _paths(value: object, prefix: tuple[object, ...] = ()) -> Iterator[tuple[object, ...]]:
    if isinstance(value, dict):
        for key, child in value.items():
            yield (*prefix, key)
            yield from _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield (*prefix, index)
            yield from _paths(child, (*prefix, index))


def _with(value: object, path: tuple[object, ...], replacement: object, delete: bool) -> object:
    if not path:
        return replacement
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        copy = dict(value)
        if delete and not rest:
            del copy[head]
        else:
            copy[head] = _with(value[head], rest, replacement, delete)
        return copy
    if isinstance(value, list):
        items = list(value)
        assert isinstance(head, int)
        if delete and not rest:
            del items[head]
        else:
            items[head] = _with(value[head], rest, replacement, delete)
        return items
    return replacement


def mutations(payload: object) -> Iterator[str]:
    """Every single-field mutation of ``payload``: each field deleted or replaced by a bad value."""
    for path in _paths(payload):
        yield json.dumps(_with(payload, path, None, delete=True))
        for replacement in _REPLACEMENTS:
            yield json.dumps(_with(payload, path, replacement, delete=False))


def assert_only_frame_errors(parse: Callable[[str], Parsed], payload: object) -> int:
    """Parse every mutation of ``payload``; anything but Parsed or FrameError fails the test."""
    results: list[object] = []
    reasons: list[str] = []
    for frame in mutations(payload):
        try:
            results.append(parse(frame))
        except FrameError as error:
            reasons.append(error.reason)
    assert all(isinstance(result, Parsed) for result in results)
    assert all(reasons)
    assert not any(leaked(reason) for reason in reasons)
    return len(results) + len(reasons)
