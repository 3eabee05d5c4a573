"""The location-aware checker: reads values out of parsed TOML and reports each bad one where it is.

``tomllib`` reports no positions, so ``Locator`` scans the raw text for table headers and keys and a
problem's line is that of its key (best effort; else of the nearest enclosing table or key found).
``Checker`` reads one value at a time against what is expected (type, range, choices, pattern) and
records a ``ConfigProblem`` and returns a fallback for a bad one, so that one pass reports every
problem of a file. It does no I/O: references to the environment and to files are ``references``'.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final

from monitor.config.problems import BARE_KEY, ConfigProblem, KeyPath, dotted
from monitor.domain.instruments import Catalog

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_SHOW_LIMIT: Final = 60


def _split_key(text: str, start: int) -> tuple[list[str], int] | None:
    """Parse a dotted TOML key at ``start``; the parts and the index after it, or None."""
    parts: list[str] = []
    index = start
    length = len(text)
    while True:
        while index < length and text[index] in " \t":
            index += 1
        if index >= length:
            return None
        char = text[index]
        if char in "\"'":
            end = index + 1
            chars: list[str] = []
            while end < length and text[end] != char:
                if char == '"' and text[end] == "\\" and end + 1 < length:
                    end += 1
                chars.append(text[end])
                end += 1
            if end >= length:
                return None
            parts.append("".join(chars))
            index = end + 1
        else:
            match = BARE_KEY.match(text, index)
            if match is None:
                return None
            parts.append(match.group())
            index = match.end()
        while index < length and text[index] in " \t":
            index += 1
        if index < length and text[index] == ".":
            index += 1
            continue
        return parts, index


class Locator:
    """Lines of table headers and keys, found by scanning the raw TOML text (best effort)."""

    def __init__(self, text: str) -> None:
        self._lines: dict[KeyPath, int] = {}
        self._arrays: dict[KeyPath, int] = {}
        table: KeyPath = ()
        open_quote: str | None = None
        for number, raw in enumerate(text.splitlines(), start=1):
            line = raw.strip()
            if open_quote is not None:
                if line.count(open_quote) % 2 == 1:
                    open_quote = None
                continue
            if not line or line.startswith("#"):
                continue
            if line.startswith("["):
                is_array = line.startswith("[[")
                parsed = _split_key(line, 2 if is_array else 1)
                if parsed is not None and line[parsed[1]:].startswith("]"):
                    table = self._resolve(parsed[0], is_array=is_array)
                    self._lines.setdefault(table, number)
                continue
            parsed = _split_key(line, 0)
            if parsed is None or not line[parsed[1]:].startswith("="):
                continue
            self._lines.setdefault((*table, *parsed[0]), number)
            for quote in ('"""', "'''"):
                if line.count(quote) % 2 == 1:
                    open_quote = quote

    def _resolve(self, parts: list[str], *, is_array: bool) -> KeyPath:
        path: KeyPath = ()
        for position, part in enumerate(parts):
            path = (*path, part)
            last = position == len(parts) - 1
            if path in self._arrays and not (last and is_array):
                path = (*path, self._arrays[path] - 1)
        if is_array:
            count = self._arrays.get(path, 0)
            self._arrays[path] = count + 1
            path = (*path, count)
        return path

    def line_of(self, path: KeyPath) -> int:
        """The line of ``path``, else of its nearest enclosing table or key that was found, else 1."""
        for size in range(len(path), 0, -1):
            line = self._lines.get(path[:size])
            if line is not None:
                return line
        return 1


def show(value: object) -> str:
    """A short rendering of a (non-secret) value for messages."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    text = repr(value)
    return text if len(text) <= _SHOW_LIMIT else text[: _SHOW_LIMIT - 3] + "..."


def number_text(value: float) -> str:
    """A number as messages write it: ``5`` for 5.0, ``0.25`` otherwise."""
    return str(int(value)) if float(value).is_integer() else repr(value)


def range_text(low: float | None, high: float | None, *, low_open: bool, high_open: bool) -> str:
    """The bounds as messages write them: `` between 0 and 1``, `` greater than 0`` (or nothing)."""
    if low is not None and high is not None and not low_open and not high_open:
        return f" between {number_text(low)} and {number_text(high)}"
    words = []
    if low is not None:
        words.append(f"{'greater than' if low_open else 'at or above'} {number_text(low)}")
    if high is not None:
        words.append(f"{'less than' if high_open else 'at or below'} {number_text(high)}")
    return (" " + " and ".join(words)) if words else ""


def is_number(value: object) -> bool:
    """Whether a TOML value is an integer or a float (a boolean is not)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def suggestion(key: str, allowed: Sequence[str]) -> str:
    """``did you mean 'x'?`` for a close match (``difflib``), else the list of allowed keys."""
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    if close:
        return f"did you mean {close[0]!r}?"
    return f"expected one of: {', '.join(allowed)}"


def _epoch_ms(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(milliseconds=1)


class Checker:
    """Reads values out of the parsed TOML, recording a problem (and a fallback) for each bad one."""

    def __init__(self, source: str, locator: Locator) -> None:
        self.source = source
        self.locator = locator
        self.problems: list[ConfigProblem] = []
        self.warnings: list[ConfigProblem] = []

    def report(self, path: KeyPath, message: str) -> None:
        """Record one problem at ``path``."""
        self.problems.append(ConfigProblem(self.source, self.locator.line_of(path), path, message))

    def warn(self, path: KeyPath, message: str) -> None:
        """Record one warning at ``path``: accepted, but worth a look (``check-config`` prints it)."""
        self.warnings.append(ConfigProblem(self.source, self.locator.line_of(path), path, message))

    def table(self, value: object, path: KeyPath, *, header: str | None = None) -> Mapping[str, Any]:
        """``value`` as a table, else a problem and an empty table."""
        if isinstance(value, Mapping):
            return value
        where = header if header is not None else f"[{dotted(path)}]"
        self.report(path, f"expected a table {where}, got {show(value)}")
        return {}

    def tables(self, value: object, path: KeyPath) -> list[Mapping[str, Any]]:
        """``value`` as an array of tables ``[[name]]``, else a problem and an empty list."""
        if not isinstance(value, list):
            self.report(path, f"expected an array of tables [[{dotted(path)}]], got {show(value)}")
            return []
        result: list[Mapping[str, Any]] = []
        for index, item in enumerate(value):
            if isinstance(item, Mapping):
                result.append(item)
            else:
                self.report((*path, index), f"expected a table, got {show(item)}")
        return result

    def keys(self, data: Mapping[str, Any], path: KeyPath, allowed: Sequence[str]) -> None:
        """Report every key of ``data`` not in ``allowed``, with a suggestion."""
        for key in data:
            if key not in allowed:
                self.report((*path, key), f"unknown key {key!r}; {suggestion(key, allowed)}")

    def string(
        self, data: Mapping[str, Any], path: KeyPath, key: str, default: str, *,
        choices: Sequence[str] | None = None, pattern: re.Pattern[str] | None = None,
        pattern_text: str = "", fold: bool = False,
    ) -> str:
        """A string value (one of ``choices`` or matching ``pattern`` when given), else ``default``."""
        value = data.get(key)
        if value is None:
            return default
        result = self._string(value, (*path, key), choices=choices, pattern=pattern,
                              pattern_text=pattern_text, fold=fold)
        return default if result is None else result

    def optional_string(
        self, data: Mapping[str, Any], path: KeyPath, key: str, *,
        choices: Sequence[str] | None = None, pattern: re.Pattern[str] | None = None,
        pattern_text: str = "",
    ) -> str | None:
        """A string value, or None when absent or wrong."""
        value = data.get(key)
        if value is None:
            return None
        return self._string(value, (*path, key), choices=choices, pattern=pattern, pattern_text=pattern_text)

    def required_string(
        self, data: Mapping[str, Any], path: KeyPath, key: str, *,
        choices: Sequence[str] | None = None, pattern: re.Pattern[str] | None = None,
        pattern_text: str = "", meaning: str = "",
    ) -> str | None:
        """A string value that must be present; None (and a problem) when absent or wrong."""
        value = data.get(key)
        if value is None:
            hint = f" ({meaning})" if meaning else ""
            self.report((*path, key), f"missing required key {key!r}{hint}")
            return None
        return self._string(value, (*path, key), choices=choices, pattern=pattern, pattern_text=pattern_text)

    def _string(
        self, value: object, path: KeyPath, *, choices: Sequence[str] | None,
        pattern: re.Pattern[str] | None, pattern_text: str, fold: bool = False,
    ) -> str | None:
        if choices is not None:
            candidate = value.lower() if fold and isinstance(value, str) else value
            if not isinstance(candidate, str) or candidate not in choices:
                listed = ", ".join(repr(choice) for choice in choices)
                self.report(path, f"expected one of {listed}, got {show(value)}")
                return None
            return candidate
        if not isinstance(value, str):
            self.report(path, f"expected a string, got {show(value)}")
            return None
        if pattern is not None and not pattern.fullmatch(value):
            self.report(path, f"expected {pattern_text}, got {show(value)}")
            return None
        return value

    def url(self, data: Mapping[str, Any], path: KeyPath, key: str, schemes: tuple[str, ...]) -> str | None:
        """An optional URL whose scheme is one of ``schemes``."""
        value = data.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not value.startswith(tuple(f"{s}://" for s in schemes)):
            wanted = " or ".join(f"{scheme}://" for scheme in schemes)
            self.report((*path, key), f"expected a URL starting with {wanted}, got {show(value)}")
            return None
        return value.rstrip("/")

    def integer(
        self, data: Mapping[str, Any], path: KeyPath, key: str, default: int, *,
        low: int | None = None, high: int | None = None, unit: str = "",
    ) -> int:
        """An integer within [low, high], else ``default``."""
        value = data.get(key)
        if value is None:
            return default
        bounds = range_text(low, high, low_open=False, high_open=False)
        if (
            isinstance(value, bool) or not isinstance(value, int)
            or (low is not None and value < low) or (high is not None and value > high)
        ):
            self.report((*path, key), f"expected an integer{unit}{bounds}, got {show(value)}")
            return default
        return value

    def number(
        self, data: Mapping[str, Any], path: KeyPath, key: str, default: float, *,
        low: float | None = None, high: float | None = None, low_open: bool = False,
        high_open: bool = False,
    ) -> float:
        """A finite number within the bounds, else ``default``."""
        result = self.optional_number(data, path, key, low=low, high=high, low_open=low_open,
                                      high_open=high_open)
        return default if result is None else result

    def optional_number(
        self, data: Mapping[str, Any], path: KeyPath, key: str, *,
        low: float | None = None, high: float | None = None, low_open: bool = False,
        high_open: bool = False,
    ) -> float | None:
        """A finite number within the bounds, or None when absent or wrong."""
        value = data.get(key)
        if value is None:
            return None
        bounds = range_text(low, high, low_open=low_open, high_open=high_open)
        if not is_number(value) or not math.isfinite(float(value)):
            self.report((*path, key), f"expected a number{bounds}, got {show(value)}")
            return None
        number = float(value)
        if (
            (low is not None and (number < low or (low_open and number == low)))
            or (high is not None and (number > high or (high_open and number == high)))
        ):
            self.report((*path, key), f"expected a number{bounds}, got {show(value)}")
            return None
        return number

    def boolean(self, data: Mapping[str, Any], path: KeyPath, key: str, default: bool) -> bool:
        """A boolean, else ``default``."""
        value = data.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.report((*path, key), f"expected true or false, got {show(value)}")
            return default
        return value

    def symbols(
        self, data: Mapping[str, Any], path: KeyPath, venue: str | None, catalog: Catalog, *,
        required: bool, live: bool = False,
    ) -> tuple[str, ...]:
        """A list of the venue's own symbols, each in the catalog as ``venue:symbol``.

        ``live``: the venue lists its contracts at ingest start (``monitor.venues.listings``), so a
        symbol the shipped catalog lacks is accepted with a warning; the ingest confirms it.
        """
        value = data.get("symbols")
        key_path = (*path, "symbols")
        if value is None:
            if required:
                self.report(key_path, "missing required key 'symbols' (the venue's own symbols, "
                                      "e.g. [\"BTC-USDT-SWAP\"])")
            return ()
        if not isinstance(value, list) or (required and not value):
            wanted = "a non-empty array" if required else "an array"
            self.report(key_path, f"expected {wanted} of symbols, got {show(value)}")
            return ()
        result: list[str] = []
        for index, symbol in enumerate(value):
            if not isinstance(symbol, str) or not symbol:
                self.report((*key_path, index), f"expected a symbol string, got {show(symbol)}")
                continue
            if symbol in result:
                self.report((*key_path, index), f"symbol {symbol!r} is listed twice")
                continue
            if venue is not None and live and f"{venue}:{symbol}" not in catalog \
                    and not _near_miss(f"{venue}:{symbol}", catalog):
                self.warn((*key_path, index),
                          f"{venue}:{symbol} is not in the shipped catalog; only the venue's live "
                          "listing can confirm it (the ingest checks it at start and logs an error "
                          "if the venue does not list it)")
            elif venue is not None:  # catalogued, or a near miss of a catalogued id (a typo)
                self.instrument(f"{venue}:{symbol}", (*key_path, index), catalog)
            result.append(symbol)
        return tuple(result)

    def instrument(self, instrument_id: str, path: KeyPath, catalog: Catalog) -> bool:
        """Whether the catalog knows ``instrument_id``; a problem naming the venue's ids if not."""
        if instrument_id in catalog:
            return True
        venue = instrument_id.split(":", 1)[0]
        known = [known_id for known_id in catalog.ids() if known_id.startswith(venue + ":")]
        if known:
            self.report(path, f"unknown instrument {instrument_id!r}; known for {venue}: "
                              f"[{', '.join(known)}]")
        else:
            self.report(path, f"unknown instrument {instrument_id!r}; the catalog knows no {venue} "
                              f"instruments: define it under [instruments.\"{instrument_id}\"]")
        return False

    def timestamp(self, data: Mapping[str, Any], path: KeyPath, key: str) -> int | None:
        """An RFC 3339 date-time (TOML or string) with offset, or a date (00:00 UTC), as epoch ms."""
        value = data.get(key)
        if value is None:
            return None
        key_path = (*path, key)
        expected = "an RFC 3339 date-time with a time zone, e.g. 2025-06-30T00:00:00Z, or a date"
        moment: datetime | None = None
        if isinstance(value, datetime):
            moment = value
        elif isinstance(value, date):
            moment = datetime.combine(value, time(0), tzinfo=UTC)
        elif isinstance(value, str):
            try:
                if len(value) == 10:
                    moment = datetime.combine(date.fromisoformat(value), time(0), tzinfo=UTC)
                else:
                    moment = datetime.fromisoformat(value)
            except ValueError:
                moment = None
        if moment is None:
            self.report(key_path, f"expected {expected}, got {show(value)}")
            return None
        if moment.tzinfo is None or moment.utcoffset() is None:
            self.report(key_path, f"{show(value)} has no time zone: add 'Z' or an offset like +02:00")
            return None
        return _epoch_ms(moment)


NEAR_MISS_RATIO: Final = 0.9
"""A symbol this similar to a catalogued one of its venue is taken for a typo, not a new listing."""


def _near_miss(instrument_id: str, catalog: Catalog) -> bool:
    """Whether ``instrument_id`` is within a typo of a catalogued id (``BTC-USDT-SWAPP``)."""
    venue = instrument_id.split(":", 1)[0] + ":"
    return any(difflib.SequenceMatcher(None, instrument_id, known).ratio() >= NEAR_MISS_RATIO
               for known in catalog.ids() if known.startswith(venue))
