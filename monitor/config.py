"""The one TOML configuration file of hedge-monitor, its typed loader and ``check-config``.

``load_config(path)`` reads the file with ``tomllib``, checks every key and value, and returns a
frozen ``MonitorConfig``; otherwise it raises ``ConfigError`` listing every problem found, each as
``<file>:<line>: <key>: <message>``. ``docs/configuration.md`` lists every key; the commented
``examples/monitor.toml`` is a starting point.

Exceptions::

    ValueError
     └── ConfigError          .problems: tuple[ConfigProblem, ...] (file, line, key, message)

Rules kept throughout:

- unknown keys are refused at every level, with a ``did you mean`` suggestion (``difflib``);
- secrets (API keys, secrets, passphrases, the SASL password) are references ``env:NAME`` or
  ``file:PATH`` resolved at load time into ``Secret``; a literal is refused, and no message ever
  shows the value of a secret key;
- relative paths (``file:`` secrets, TLS files) are relative to the config file's directory;
- ``tomllib`` reports no positions, so a problem's line is found by scanning the raw text for the
  table header and key (best effort; the enclosing table's header line otherwise).
"""

from __future__ import annotations

import difflib
import math
import re
import sys
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

from monitor.alerts.rules import RULE_NAMES, SPECS_BY_NAME, AlertConfigError, AlertsConfig
from monitor.bus.base import Topics
from monitor.bus.kafka import KafkaSettings
from monitor.domain.events import BalanceEvent
from monitor.domain.instruments import Catalog, CatalogError, default_catalog
from monitor.domain.plans import EffectivenessSettings, HedgePlan, PortfolioSettings
from monitor.errors import HedgeMonitorError
from monitor.eventloop import DEFAULT_EVENT_LOOP, EVENT_LOOPS
from monitor.metrics import DEFAULT_METRICS_HOST, DEFAULT_METRICS_PORT, DEFAULT_PORTFOLIO_LABEL_LIMIT
from monitor.processor.runner import ProcessorSettings
from monitor.secrets import Secret, SecretError, resolve_secret
from monitor.venues.base import AccountContext, Credentials

KeyPath = tuple[str | int, ...]

LOG_FORMATS: Final = ("text", "json")
LOG_LEVELS: Final = ("debug", "info", "warning", "error", "critical")
SECURITY_PROTOCOLS: Final = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS: Final = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
VENUES: Final = ("binance", "binance-spot", "bybit", "okx", "bingx", "mexc", "weex")
"""Venues an account or a feed can name (``binance`` is Binance USDⓈ-M futures)."""
PASSPHRASE_VENUES: Final = frozenset({"okx", "weex"})
"""Venues whose API keys come with a passphrase (OKX v5, WEEX contract API)."""
WS_API_VENUES: Final = frozenset({"binance-spot"})
"""Venues that take a separate websocket-API URL (Binance spot user data over ws-api)."""

INSTRUMENT_KEYS: Final = (
    "kind", "base", "quote", "contract_size", "contract_value", "lot_step", "min_quantity",
    "settle", "expiry_ms", "funding_interval_hours", "taker_fee", "maker_fee", "tiers", "note",
)
"""Keys of an ``[instruments."venue:symbol"]`` table (those ``instrument_from_mapping`` accepts)."""
TIER_KEYS: Final = ("floor", "cap", "mmr", "max_leverage")

_SECTION_KEYS: Final = (
    "monitor", "kafka", "processor", "metrics", "effectiveness", "alerts", "instruments",
    "accounts", "feeds", "holdings", "portfolios",
)
_MONITOR_KEYS: Final = ("log_format", "log_level", "event_loop")
_KAFKA_KEYS: Final = (
    "bootstrap_servers", "topic_prefix", "partitions", "replication_factor", "client_id",
    "security_protocol", "sasl_mechanism", "sasl_username", "sasl_password", "ssl_cafile",
    "ssl_certfile", "ssl_keyfile", "linger_ms", "max_batch_size",
)
_PROCESSOR_KEYS: Final = (
    "group_id", "publish_interval_ms", "checkpoint_interval_ms", "stale_after_ms", "max_batch_records",
)
_METRICS_KEYS: Final = ("enabled", "host", "port", "portfolio_label_limit")
_EFFECTIVENESS_KEYS: Final = ("sample_interval_ms", "window", "min_move_fraction")
_ACCOUNT_KEYS: Final = (
    "id", "venue", "portfolio", "symbols", "api_key", "api_secret", "passphrase",
    "ws_base_url", "rest_base_url", "ws_api_url",
)
_FEED_KEYS: Final = ("venue", "symbols", "ws_base_url", "rest_base_url", "ws_api_url")
_HOLDING_KEYS: Final = ("account", "portfolio", "asset", "quantity", "note")
_PORTFOLIO_KEYS: Final = ("target_ratio", "band", "effectiveness", "alerts", "plans")
_PLAN_KEYS: Final = (
    "instrument", "target_ratio", "band", "start", "expiry", "expiry_days", "exit_above",
    "exit_below", "stop_loss_usd", "cost_budget_usd",
)
_RULE_LEVEL_KEYS: Final = ("threshold", "clear_threshold")
_RULE_COMMON_KEYS: Final = ("enabled", "for_ms", "severity")

_IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_ASSET = re.compile(r"[A-Z0-9]{1,20}")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TOPIC_PREFIX = re.compile(r"[A-Za-z0-9._-]{0,200}")
_GROUP_ID = re.compile(r"[A-Za-z0-9._-]{1,200}")
_HOST = re.compile(r"[A-Za-z0-9._:\[\]-]{1,253}")
_BOOTSTRAP_SERVER = re.compile(r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):[0-9]{1,5}")
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_SYNTAX_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS_PER_DAY = 86_400_000
_SHOW_LIMIT = 60


# --- problems --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One problem of a config file: where it is (file, 1-based line, dotted key) and how to fix it.

    ``line`` is 0 and ``key`` empty when the problem is the file as a whole (it cannot be read).
    """

    file: str
    line: int
    key: str
    message: str

    def __str__(self) -> str:
        place = f"{self.file}:{self.line}" if self.line > 0 else self.file
        return f"{place}: {self.key}: {self.message}" if self.key else f"{place}: {self.message}"


class ConfigError(HedgeMonitorError, ValueError):
    """A config file has problems; ``problems`` lists every one, ``str`` shows one per line."""

    def __init__(self, problems: Sequence[ConfigProblem]) -> None:
        self.problems: tuple[ConfigProblem, ...] = tuple(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))


# --- the typed configuration -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LoggingSettings:
    """``[monitor]``: how log lines look and the least severe level logged."""

    format: str = "text"
    level: str = "info"


@dataclass(frozen=True, slots=True)
class MetricsSettings:
    """``[metrics]``: the Prometheus ``/metrics`` endpoint (port 0: any free port, for tests)."""

    enabled: bool = True
    host: str = DEFAULT_METRICS_HOST
    port: int = DEFAULT_METRICS_PORT
    portfolio_label_limit: int = DEFAULT_PORTFOLIO_LABEL_LIMIT


@dataclass(frozen=True, slots=True)
class AccountConfig:
    """One ``[[accounts]]`` entry: an exchange account whose private streams feed a portfolio."""

    id: str
    venue: str
    portfolio: str
    symbols: tuple[str, ...] = ()
    credentials: Credentials | None = None
    ws_base_url: str | None = None
    rest_base_url: str | None = None
    ws_api_url: str | None = None

    def context(self) -> AccountContext:
        """The account context a venue needs for its private streams."""
        return AccountContext(account=self.id, portfolio=self.portfolio, credentials=self.credentials)

    def instrument_ids(self) -> tuple[str, ...]:
        """The account's symbols as catalog ids ``venue:symbol``."""
        return tuple(f"{self.venue}:{symbol}" for symbol in self.symbols)


@dataclass(frozen=True, slots=True)
class FeedConfig:
    """One ``[[feeds]]`` entry: public prices of a venue's symbols, no account needed."""

    venue: str
    symbols: tuple[str, ...]
    ws_base_url: str | None = None
    rest_base_url: str | None = None
    ws_api_url: str | None = None

    def instrument_ids(self) -> tuple[str, ...]:
        """The feed's symbols as catalog ids ``venue:symbol``."""
        return tuple(f"{self.venue}:{symbol}" for symbol in self.symbols)


@dataclass(frozen=True, slots=True)
class StaticHolding:
    """One ``[[holdings]]`` entry: a balance no venue reports (cold wallet, another custodian)."""

    account: str
    portfolio: str
    asset: str
    quantity: float
    note: str = ""

    def balance_event(self, now_ms: int) -> BalanceEvent:
        """The holding as a full-state balance event stamped ``now_ms``."""
        return BalanceEvent(
            portfolio=self.portfolio, account=self.account, asset=self.asset, quantity=self.quantity,
            ts_event_ms=now_ms, ts_receive_ms=now_ms,
        )


@dataclass(frozen=True, slots=True)
class PortfolioConfig:
    """One ``[portfolios.<id>]`` table: its hedge settings and its alert settings."""

    id: str
    settings: PortfolioSettings
    alerts: AlertsConfig


@dataclass(frozen=True, slots=True)
class MonitorConfig:
    """The whole configuration of one hedge-monitor deployment, read from ``source``."""

    source: str
    logging: LoggingSettings = field(default_factory=LoggingSettings)
    event_loop: str = DEFAULT_EVENT_LOOP
    """``[monitor] event_loop``: "asyncio", "uvloop" or "auto" (see ``monitor.eventloop``)."""
    kafka: KafkaSettings | None = None
    topics: Topics = field(default_factory=Topics)
    topic_partitions: int = 6
    processor: ProcessorSettings = field(default_factory=ProcessorSettings)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    effectiveness: EffectivenessSettings = field(default_factory=EffectivenessSettings)
    alerts: AlertsConfig = field(default_factory=AlertsConfig)
    catalog: Catalog = field(default_factory=default_catalog)
    accounts: tuple[AccountConfig, ...] = ()
    feeds: tuple[FeedConfig, ...] = ()
    holdings: tuple[StaticHolding, ...] = ()
    portfolios: Mapping[str, PortfolioConfig] = field(default_factory=lambda: MappingProxyType({}))

    def settings_for(self, portfolio_id: str) -> PortfolioSettings:
        """The portfolio's settings; a portfolio no config names gets the defaults."""
        portfolio = self.portfolios.get(portfolio_id)
        if portfolio is not None:
            return portfolio.settings
        return PortfolioSettings(effectiveness=self.effectiveness)

    def alerts_for(self, portfolio_id: str) -> AlertsConfig:
        """The portfolio's alert settings: its own overrides over ``[alerts]``."""
        portfolio = self.portfolios.get(portfolio_id)
        return portfolio.alerts if portfolio is not None else self.alerts

    def portfolio_ids(self) -> tuple[str, ...]:
        """Every portfolio the config names (tables, accounts and holdings), sorted."""
        named = set(self.portfolios)
        named.update(account.portfolio for account in self.accounts)
        named.update(holding.portfolio for holding in self.holdings)
        return tuple(sorted(named))


# --- locating keys in the raw text -----------------------------------------------------------------


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
            match = _BARE_KEY.match(text, index)
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


class _Locator:
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


def dotted(path: KeyPath) -> str:
    """A key path as written in messages: ``accounts[1].api_secret``, ``instruments."okx:X".kind``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
            continue
        shown = part if _BARE_KEY.fullmatch(part) else '"' + part.replace('"', '\\"') + '"'
        text = f"{text}.{shown}" if text else shown
    return text


# --- checking values -------------------------------------------------------------------------------


def _show(value: object) -> str:
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


def _kind(value: object) -> str:
    """The TOML type of a value, for messages about secrets (whose values are never shown)."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, (datetime, date, time)):
        return "a date or time"
    return "a string"


def _number_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)


def _range_text(low: float | None, high: float | None, *, low_open: bool, high_open: bool) -> str:
    if low is not None and high is not None and not low_open and not high_open:
        return f" between {_number_text(low)} and {_number_text(high)}"
    words = []
    if low is not None:
        words.append(f"{'greater than' if low_open else 'at or above'} {_number_text(low)}")
    if high is not None:
        words.append(f"{'less than' if high_open else 'at or below'} {_number_text(high)}")
    return (" " + " and ".join(words)) if words else ""


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _suggestion(key: str, allowed: Sequence[str]) -> str:
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    if close:
        return f"did you mean {close[0]!r}?"
    return f"expected one of: {', '.join(allowed)}"


def _epoch_ms(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(milliseconds=1)


class _Checker:
    """Reads values out of the parsed TOML, recording a problem (and a fallback) for each bad one."""

    def __init__(self, source: str, locator: _Locator, base_dir: Path) -> None:
        self.source = source
        self.locator = locator
        self.base_dir = base_dir
        self.problems: list[ConfigProblem] = []

    def report(self, path: KeyPath, message: str) -> None:
        """Record one problem at ``path``."""
        self.problems.append(ConfigProblem(self.source, self.locator.line_of(path), dotted(path), message))

    def table(self, value: object, path: KeyPath, *, header: str | None = None) -> Mapping[str, Any]:
        """``value`` as a table, else a problem and an empty table."""
        if isinstance(value, Mapping):
            return value
        where = header if header is not None else f"[{dotted(path)}]"
        self.report(path, f"expected a table {where}, got {_show(value)}")
        return {}

    def tables(self, value: object, path: KeyPath) -> list[Mapping[str, Any]]:
        """``value`` as an array of tables ``[[name]]``, else a problem and an empty list."""
        if not isinstance(value, list):
            self.report(path, f"expected an array of tables [[{dotted(path)}]], got {_show(value)}")
            return []
        result: list[Mapping[str, Any]] = []
        for index, item in enumerate(value):
            if isinstance(item, Mapping):
                result.append(item)
            else:
                self.report((*path, index), f"expected a table, got {_show(item)}")
        return result

    def keys(self, data: Mapping[str, Any], path: KeyPath, allowed: Sequence[str]) -> None:
        """Report every key of ``data`` not in ``allowed``, with a suggestion."""
        for key in data:
            if key not in allowed:
                self.report((*path, key), f"unknown key {key!r}; {_suggestion(key, allowed)}")

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
                self.report(path, f"expected one of {listed}, got {_show(value)}")
                return None
            return candidate
        if not isinstance(value, str):
            self.report(path, f"expected a string, got {_show(value)}")
            return None
        if pattern is not None and not pattern.fullmatch(value):
            self.report(path, f"expected {pattern_text}, got {_show(value)}")
            return None
        return value

    def url(self, data: Mapping[str, Any], path: KeyPath, key: str, schemes: tuple[str, ...]) -> str | None:
        """An optional URL whose scheme is one of ``schemes``."""
        value = data.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not value.startswith(tuple(f"{s}://" for s in schemes)):
            wanted = " or ".join(f"{scheme}://" for scheme in schemes)
            self.report((*path, key), f"expected a URL starting with {wanted}, got {_show(value)}")
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
        bounds = _range_text(low, high, low_open=False, high_open=False)
        if (
            isinstance(value, bool) or not isinstance(value, int)
            or (low is not None and value < low) or (high is not None and value > high)
        ):
            self.report((*path, key), f"expected an integer{unit}{bounds}, got {_show(value)}")
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
        bounds = _range_text(low, high, low_open=low_open, high_open=high_open)
        if not _is_number(value) or not math.isfinite(float(value)):
            self.report((*path, key), f"expected a number{bounds}, got {_show(value)}")
            return None
        number = float(value)
        if (
            (low is not None and (number < low or (low_open and number == low)))
            or (high is not None and (number > high or (high_open and number == high)))
        ):
            self.report((*path, key), f"expected a number{bounds}, got {_show(value)}")
            return None
        return number

    def boolean(self, data: Mapping[str, Any], path: KeyPath, key: str, default: bool) -> bool:
        """A boolean, else ``default``."""
        value = data.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.report((*path, key), f"expected true or false, got {_show(value)}")
            return default
        return value

    def symbols(
        self, data: Mapping[str, Any], path: KeyPath, venue: str | None, catalog: Catalog, *,
        required: bool,
    ) -> tuple[str, ...]:
        """A list of the venue's own symbols, each in the catalog as ``venue:symbol``."""
        value = data.get("symbols")
        key_path = (*path, "symbols")
        if value is None:
            if required:
                self.report(key_path, "missing required key 'symbols' (the venue's own symbols, "
                                      "e.g. [\"BTC-USDT-SWAP\"])")
            return ()
        if not isinstance(value, list) or (required and not value):
            wanted = "a non-empty array" if required else "an array"
            self.report(key_path, f"expected {wanted} of symbols, got {_show(value)}")
            return ()
        result: list[str] = []
        for index, symbol in enumerate(value):
            if not isinstance(symbol, str) or not symbol:
                self.report((*key_path, index), f"expected a symbol string, got {_show(symbol)}")
                continue
            if symbol in result:
                self.report((*key_path, index), f"symbol {symbol!r} is listed twice")
                continue
            if venue is not None:
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

    def secret(self, data: Mapping[str, Any], path: KeyPath, key: str) -> Secret | None:
        """Resolve a secret reference ``env:NAME`` or ``file:PATH``; never shows the value."""
        value = data.get(key)
        if value is None:
            return None
        key_path = (*path, key)
        if not isinstance(value, str):
            self.report(key_path, f"expected a secret reference 'env:NAME' or 'file:PATH' (a string), "
                                  f"got {_kind(value)}")
            return None
        if value.startswith("env:"):
            if not _ENV_NAME.fullmatch(value[4:]):
                self.report(key_path, "the variable name after 'env:' must be letters, digits and "
                                      "underscores, not starting with a digit")
                return None
            reference = value
            fix = "export it or use file:PATH"
        elif value.startswith("file:"):
            if not value[5:]:
                self.report(key_path, "expected a path after 'file:'")
                return None
            reference = "file:" + str(self.base_dir / Path(value[5:]).expanduser())
            fix = "create it or fix the path (relative paths are relative to the config file)"
        else:
            self.report(key_path, "a secret must be a reference 'env:NAME' or 'file:PATH', "
                                  "not a literal value")
            return None
        try:
            secret = resolve_secret(reference)
        except SecretError as exc:
            self.report(key_path, f"{exc}: {fix}")
            return None
        if not secret.reveal():
            self.report(key_path, f"the secret file {reference[5:]} is empty")
            return None
        return secret

    def path(self, data: Mapping[str, Any], path: KeyPath, key: str) -> str | None:
        """An existing file path (relative to the config file's directory), or None."""
        value = data.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not value:
            self.report((*path, key), f"expected a file path, got {_show(value)}")
            return None
        resolved = self.base_dir / Path(value).expanduser()
        if not resolved.is_file():
            self.report((*path, key), f"file {str(resolved)!r} does not exist (relative paths are "
                                      f"relative to the config file)")
            return None
        return str(resolved)

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
            self.report(key_path, f"expected {expected}, got {_show(value)}")
            return None
        if moment.tzinfo is None or moment.utcoffset() is None:
            self.report(key_path, f"{_show(value)} has no time zone: add 'Z' or an offset like +02:00")
            return None
        return _epoch_ms(moment)


# --- sections --------------------------------------------------------------------------------------


def _logging(check: _Checker, data: Mapping[str, Any]) -> LoggingSettings:
    path: KeyPath = ("monitor",)
    check.keys(data, path, _MONITOR_KEYS)
    return LoggingSettings(
        format=check.string(data, path, "log_format", "text", choices=LOG_FORMATS),
        level=check.string(data, path, "log_level", "info", choices=LOG_LEVELS, fold=True),
    )


def _kafka(check: _Checker, data: Mapping[str, Any]) -> tuple[KafkaSettings | None, Topics, int]:
    path: KeyPath = ("kafka",)
    check.keys(data, path, _KAFKA_KEYS)
    servers_raw = data.get("bootstrap_servers")
    servers: str | None = None
    if isinstance(servers_raw, list) and servers_raw and all(isinstance(s, str) for s in servers_raw):
        servers_raw = ",".join(servers_raw)
    if servers_raw is not None:
        if isinstance(servers_raw, str) and servers_raw and all(
            _BOOTSTRAP_SERVER.fullmatch(item.strip()) for item in servers_raw.split(",")
        ):
            servers = ",".join(item.strip() for item in servers_raw.split(","))
        else:
            check.report((*path, "bootstrap_servers"),
                         f"expected 'host:port' or a comma-separated list of them, got {_show(servers_raw)}")
    prefix = check.string(data, path, "topic_prefix", "", pattern=_TOPIC_PREFIX,
                          pattern_text="letters, digits, '.', '_' and '-' only (e.g. 'desk1.')")
    partitions = check.integer(data, path, "partitions", 6, low=1, high=10_000)
    defaults = KafkaSettings(bootstrap_servers="")
    protocol = check.string(data, path, "security_protocol", defaults.security_protocol,
                            choices=SECURITY_PROTOCOLS)
    mechanism = check.optional_string(data, path, "sasl_mechanism", choices=SASL_MECHANISMS)
    username = check.optional_string(data, path, "sasl_username")
    password = check.secret(data, path, "sasl_password")
    protocol_valid = data.get("security_protocol", protocol) in SECURITY_PROTOCOLS
    if protocol_valid and protocol.startswith("SASL_"):
        for key, value in (("sasl_mechanism", data.get("sasl_mechanism")),
                           ("sasl_username", data.get("sasl_username")),
                           ("sasl_password", data.get("sasl_password"))):
            if value is None:
                check.report((*path, key), f"missing {key!r}: security_protocol {protocol!r} needs "
                                           f"sasl_mechanism, sasl_username and sasl_password")
    elif protocol_valid:
        for key in ("sasl_mechanism", "sasl_username", "sasl_password"):
            if key in data:
                check.report((*path, key), f"{key} needs security_protocol 'SASL_SSL' or "
                                           f"'SASL_PLAINTEXT' (it is {protocol!r})")
    if protocol_valid and protocol not in ("SSL", "SASL_SSL"):
        for key in ("ssl_cafile", "ssl_certfile", "ssl_keyfile"):
            if key in data:
                check.report((*path, key), f"{key} needs security_protocol 'SSL' or 'SASL_SSL' "
                                           f"(it is {protocol!r})")
    settings = KafkaSettings(
        bootstrap_servers=servers or "",
        client_id=check.string(data, path, "client_id", defaults.client_id),
        security_protocol=protocol,
        sasl_mechanism=mechanism,
        sasl_username=username,
        sasl_password=password,
        ssl_cafile=check.path(data, path, "ssl_cafile"),
        ssl_certfile=check.path(data, path, "ssl_certfile"),
        ssl_keyfile=check.path(data, path, "ssl_keyfile"),
        linger_ms=check.integer(data, path, "linger_ms", defaults.linger_ms, low=0, high=60_000,
                                unit=" of milliseconds"),
        max_batch_size=check.integer(data, path, "max_batch_size", defaults.max_batch_size, low=1,
                                     unit=" of bytes"),
        replication_factor=check.integer(data, path, "replication_factor", defaults.replication_factor,
                                         low=1, high=100),
    )
    return (settings if servers is not None else None), Topics.with_prefix(prefix), partitions


def _processor(check: _Checker, data: Mapping[str, Any], topics: Topics) -> ProcessorSettings:
    path: KeyPath = ("processor",)
    check.keys(data, path, _PROCESSOR_KEYS)
    defaults = ProcessorSettings()
    ms = " of milliseconds"
    return ProcessorSettings(
        topics=topics,
        group_id=check.string(data, path, "group_id", defaults.group_id, pattern=_GROUP_ID,
                              pattern_text="a Kafka group id (letters, digits, '.', '_', '-')"),
        publish_interval_ms=check.integer(data, path, "publish_interval_ms", defaults.publish_interval_ms,
                                          low=0, unit=ms),
        checkpoint_interval_ms=check.integer(data, path, "checkpoint_interval_ms",
                                             defaults.checkpoint_interval_ms, low=1, unit=ms),
        stale_after_ms=check.integer(data, path, "stale_after_ms", defaults.stale_after_ms, low=1, unit=ms),
        max_batch_records=check.integer(data, path, "max_batch_records", defaults.max_batch_records,
                                        low=1),
    )


def _metrics(check: _Checker, data: Mapping[str, Any]) -> MetricsSettings:
    path: KeyPath = ("metrics",)
    check.keys(data, path, _METRICS_KEYS)
    defaults = MetricsSettings()
    return MetricsSettings(
        enabled=check.boolean(data, path, "enabled", defaults.enabled),
        host=check.string(data, path, "host", defaults.host, pattern=_HOST,
                          pattern_text="a host name or IP address to bind"),
        port=check.integer(data, path, "port", defaults.port, low=0, high=65_535),
        portfolio_label_limit=check.integer(data, path, "portfolio_label_limit",
                                            defaults.portfolio_label_limit, low=0),
    )


def _effectiveness(
    check: _Checker, data: Mapping[str, Any], path: KeyPath, base: EffectivenessSettings
) -> EffectivenessSettings:
    check.keys(data, path, _EFFECTIVENESS_KEYS)
    return EffectivenessSettings(
        sample_interval_ms=check.integer(data, path, "sample_interval_ms", base.sample_interval_ms,
                                         low=1, unit=" of milliseconds"),
        window=check.integer(data, path, "window", base.window, low=3, high=100_000,
                             unit=" count of samples"),
        min_move_fraction=check.number(data, path, "min_move_fraction", base.min_move_fraction,
                                       low=0.0, high=1.0, high_open=True),
    )


def _alerts(check: _Checker, data: Mapping[str, Any], path: KeyPath, base: AlertsConfig) -> AlertsConfig:
    """Alert settings, rule by rule so that every bad rule is reported."""
    prefix = dotted(path)
    result = base
    for name, value in data.items():
        rule_path = (*path, name)
        spec = SPECS_BY_NAME.get(name)
        if spec is None:
            check.report(rule_path, f"unknown rule {name!r}; {_suggestion(name, RULE_NAMES)}")
            continue
        if not isinstance(value, Mapping):
            check.report(rule_path, f"expected a table [{dotted(rule_path)}], got {_show(value)}")
            continue
        allowed = (*_RULE_COMMON_KEYS, *_RULE_LEVEL_KEYS) if spec.has_levels else _RULE_COMMON_KEYS
        clean: dict[str, Any] = {}
        for key, setting in value.items():
            if key in allowed:
                clean[key] = setting
            elif key in _RULE_LEVEL_KEYS:
                check.report((*rule_path, key), f"unknown key {key!r}: rule {name!r} has no threshold; "
                                                f"expected one of: {', '.join(allowed)}")
            else:
                check.report((*rule_path, key), f"unknown key {key!r}; {_suggestion(key, allowed)}")
        try:
            result = AlertsConfig.from_mapping({name: clean}, source=check.source, prefix=prefix,
                                               base=result)
        except AlertConfigError as exc:
            text = str(exc).removeprefix(f"{check.source}: ")
            where, _, message = text.partition(": ")
            relative = where.removeprefix(prefix).lstrip(".")
            check.report((*path, *relative.split(".")) if relative else path, message)
    return result


def _instruments(check: _Checker, data: Mapping[str, Any]) -> Catalog:
    """The default catalog with each ``[instruments."venue:symbol"]`` override applied."""
    catalog = default_catalog()
    for instrument_id, raw in data.items():
        path: KeyPath = ("instruments", instrument_id)
        if ":" not in instrument_id or not all(instrument_id.split(":", 1)):
            check.report(path, f"instrument id {instrument_id!r} must be 'venue:symbol', "
                               f"e.g. \"okx:BTC-USDT-SWAP\"")
            continue
        entry = check.table(raw, path, header=f'[instruments."{instrument_id}"]')
        before = len(check.problems)
        check.keys(entry, path, INSTRUMENT_KEYS)
        for key in ("kind", "base", "quote", "settle", "note"):
            if key in entry:
                choices = ("spot", "linear", "inverse") if key == "kind" else None
                check.optional_string(entry, path, key, choices=choices)
        for key in ("contract_size", "contract_value", "lot_step", "min_quantity", "taker_fee",
                    "maker_fee", "funding_interval_hours"):
            check.optional_number(entry, path, key)
        check.integer(entry, path, "expiry_ms", 0, low=0, unit=" of epoch milliseconds")
        tiers = entry.get("tiers")
        if tiers is not None:
            for index, tier in enumerate(check.tables(tiers, (*path, "tiers"))):
                tier_path = (*path, "tiers", index)
                check.keys(tier, tier_path, TIER_KEYS)
                for key in TIER_KEYS:
                    if key not in tier and key != "max_leverage":
                        check.report((*tier_path, key), f"missing required key {key!r}")
                    check.optional_number(tier, tier_path, key)
        if instrument_id not in catalog and "base" not in entry:
            check.report((*path, "base"), "a new instrument needs 'base' (the asset it prices, e.g. 'BTC') "
                                          "and 'kind' ('spot', 'linear' or 'inverse')")
        if len(check.problems) > before:
            continue
        try:
            catalog = catalog.with_overrides({instrument_id: entry})
        except CatalogError as exc:
            check.report(path, str(exc).removeprefix(f"instrument {instrument_id}: "))
        except (KeyError, TypeError, ValueError) as exc:
            check.report(path, f"invalid instrument definition: {exc}")
    return catalog


def _credentials(check: _Checker, data: Mapping[str, Any], path: KeyPath, venue: str | None) -> (
    Credentials | None
):
    present = [key for key in ("api_key", "api_secret", "passphrase") if key in data]
    api_key = check.secret(data, path, "api_key")
    api_secret = check.secret(data, path, "api_secret")
    passphrase = check.secret(data, path, "passphrase")
    if not present:
        return None
    for key in ("api_key", "api_secret"):
        if key not in data:
            check.report((*path, key), f"missing {key!r}: an account with credentials needs api_key and "
                                       f"api_secret (omit all of them for a public-only simulator account)")
    if venue in PASSPHRASE_VENUES and "passphrase" not in data:
        check.report((*path, "passphrase"), f"missing 'passphrase': {venue} API keys come with a "
                                            f"passphrase")
    if venue is not None and venue not in PASSPHRASE_VENUES and "passphrase" in data:
        check.report((*path, "passphrase"), f"{venue} API keys have no passphrase: remove it")
    if api_key is None or api_secret is None:
        return None
    return Credentials(api_key=api_key, api_secret=api_secret, passphrase=passphrase)


def _endpoints(
    check: _Checker, data: Mapping[str, Any], path: KeyPath, venue: str | None
) -> tuple[str | None, str | None, str | None]:
    ws_api = check.url(data, path, "ws_api_url", ("wss", "ws"))
    if ws_api is not None and venue is not None and venue not in WS_API_VENUES:
        check.report((*path, "ws_api_url"), f"ws_api_url is only used by {', '.join(sorted(WS_API_VENUES))}")
    return (
        check.url(data, path, "ws_base_url", ("wss", "ws")),
        check.url(data, path, "rest_base_url", ("https", "http")),
        ws_api,
    )


_ID_TEXT = "an id of letters, digits, '_' and '-' (at most 64)"


def _accounts(check: _Checker, value: object, catalog: Catalog) -> tuple[AccountConfig, ...]:
    result: list[AccountConfig] = []
    seen: set[str] = set()
    for index, data in enumerate(check.tables(value, ("accounts",))):
        path: KeyPath = ("accounts", index)
        check.keys(data, path, _ACCOUNT_KEYS)
        account_id = check.required_string(data, path, "id", pattern=_IDENTIFIER, pattern_text=_ID_TEXT,
                                           meaning="a name for the account, e.g. 'okx-main'")
        if account_id is not None and account_id in seen:
            check.report((*path, "id"), f"account id {account_id!r} is used twice")
        if account_id is not None:
            seen.add(account_id)
        venue = check.required_string(data, path, "venue", choices=VENUES)
        portfolio = check.required_string(data, path, "portfolio", pattern=_IDENTIFIER,
                                          pattern_text=_ID_TEXT, meaning="the portfolio it hedges")
        symbols = check.symbols(data, path, venue, catalog, required=False)
        credentials = _credentials(check, data, path, venue)
        ws_base_url, rest_base_url, ws_api_url = _endpoints(check, data, path, venue)
        if account_id is None or venue is None or portfolio is None:
            continue
        result.append(AccountConfig(
            id=account_id, venue=venue, portfolio=portfolio, symbols=symbols, credentials=credentials,
            ws_base_url=ws_base_url, rest_base_url=rest_base_url, ws_api_url=ws_api_url,
        ))
    return tuple(result)


def _feeds(check: _Checker, value: object, catalog: Catalog) -> tuple[FeedConfig, ...]:
    result: list[FeedConfig] = []
    for index, data in enumerate(check.tables(value, ("feeds",))):
        path: KeyPath = ("feeds", index)
        check.keys(data, path, _FEED_KEYS)
        venue = check.required_string(data, path, "venue", choices=VENUES)
        symbols = check.symbols(data, path, venue, catalog, required=True)
        ws_base_url, rest_base_url, ws_api_url = _endpoints(check, data, path, venue)
        if venue is None or not symbols:
            continue
        result.append(FeedConfig(venue=venue, symbols=symbols, ws_base_url=ws_base_url,
                                 rest_base_url=rest_base_url, ws_api_url=ws_api_url))
    return tuple(result)


def _holdings(
    check: _Checker, value: object, accounts: tuple[AccountConfig, ...]
) -> tuple[StaticHolding, ...]:
    result: list[StaticHolding] = []
    exchange_accounts = {account.id for account in accounts}
    seen: set[tuple[str, str, str]] = set()
    for index, data in enumerate(check.tables(value, ("holdings",))):
        path: KeyPath = ("holdings", index)
        check.keys(data, path, _HOLDING_KEYS)
        account = check.required_string(data, path, "account", pattern=_IDENTIFIER, pattern_text=_ID_TEXT,
                                         meaning="where it is held, e.g. 'cold-wallet'")
        portfolio = check.required_string(data, path, "portfolio", pattern=_IDENTIFIER,
                                          pattern_text=_ID_TEXT)
        asset = check.required_string(data, path, "asset", pattern=_ASSET,
                                      pattern_text="an upper-case asset symbol like 'BTC'")
        quantity = check.optional_number(data, path, "quantity")
        if "quantity" not in data:
            check.report((*path, "quantity"), "missing required key 'quantity' (units of the asset)")
        note = check.string(data, path, "note", "")
        if account is not None and account in exchange_accounts:
            check.report((*path, "account"), f"{account!r} is an exchange account whose balances come from "
                                             f"its stream; name the holding's custodian, e.g. 'cold-wallet'")
            continue
        if account is None or portfolio is None or asset is None or quantity is None:
            continue
        if (account, portfolio, asset) in seen:
            check.report((*path, "asset"), f"{asset} in {account!r} of portfolio {portfolio!r} is listed "
                                           f"twice: add the quantities into one entry")
            continue
        seen.add((account, portfolio, asset))
        result.append(StaticHolding(account=account, portfolio=portfolio, asset=asset,
                                    quantity=quantity, note=note))
    return tuple(result)


def _plan(
    check: _Checker, data: Mapping[str, Any], path: KeyPath, asset: str, catalog: Catalog,
    defaults: tuple[float, float],
) -> HedgePlan:
    check.keys(data, path, _PLAN_KEYS)
    instrument = check.optional_string(data, path, "instrument")
    if instrument is not None and check.instrument(instrument, (*path, "instrument"), catalog):
        base = catalog.require(instrument).base
        if base != asset:
            check.report((*path, "instrument"), f"{instrument} prices {base}, not {asset}: "
                                                f"choose an instrument whose base is {asset}")
    start = check.timestamp(data, path, "start")
    expiry = check.timestamp(data, path, "expiry")
    days = check.optional_number(data, path, "expiry_days", low=0.0, low_open=True)
    if days is not None:
        if "expiry" in data:
            check.report((*path, "expiry_days"), "set either expiry or expiry_days, not both")
        elif start is None:
            if "start" not in data:
                check.report((*path, "expiry_days"), "expiry_days counts from start: set start "
                                                     "(when the hedge was opened)")
        else:
            expiry = start + round(days * _MS_PER_DAY)
    if start is not None and expiry is not None and expiry <= start and "expiry" in data:
        check.report((*path, "expiry"), "expiry must be after start")
    exit_above = check.optional_number(data, path, "exit_above", low=0.0, low_open=True)
    exit_below = check.optional_number(data, path, "exit_below", low=0.0, low_open=True)
    if exit_above is not None and exit_below is not None and exit_below >= exit_above:
        check.report((*path, "exit_below"), f"exit_below ({_number_text(exit_below)}) must be below "
                                            f"exit_above ({_number_text(exit_above)})")
    return HedgePlan(
        asset=asset,
        instrument=instrument,
        target_ratio=check.number(data, path, "target_ratio", defaults[0], low=0.0, high=10.0),
        band=check.number(data, path, "band", defaults[1], low=0.0, low_open=True),
        start_ms=start,
        expiry_ms=expiry,
        exit_above=exit_above,
        exit_below=exit_below,
        stop_loss_usd=check.optional_number(data, path, "stop_loss_usd", low=0.0, low_open=True),
        cost_budget_usd=check.optional_number(data, path, "cost_budget_usd", low=0.0, low_open=True),
    )


def _portfolios(
    check: _Checker, data: Mapping[str, Any], catalog: Catalog, effectiveness: EffectivenessSettings,
    alerts: AlertsConfig,
) -> dict[str, PortfolioConfig]:
    result: dict[str, PortfolioConfig] = {}
    for portfolio_id, raw in data.items():
        path: KeyPath = ("portfolios", portfolio_id)
        if not _IDENTIFIER.fullmatch(portfolio_id):
            check.report(path, f"expected {_ID_TEXT} as the portfolio id, got {portfolio_id!r}")
        table = check.table(raw, path)
        check.keys(table, path, _PORTFOLIO_KEYS)
        target = check.number(table, path, "target_ratio", 1.0, low=0.0, high=10.0)
        band = check.number(table, path, "band", 0.1, low=0.0, low_open=True)
        own_effectiveness = _effectiveness(
            check, check.table(table.get("effectiveness", {}), (*path, "effectiveness")),
            (*path, "effectiveness"), effectiveness)
        own_alerts = _alerts(check, check.table(table.get("alerts", {}), (*path, "alerts")),
                             (*path, "alerts"), alerts)
        plans: dict[str, HedgePlan] = {}
        plans_path = (*path, "plans")
        for asset, plan_raw in check.table(table.get("plans", {}), plans_path).items():
            plan_path = (*plans_path, asset)
            if not _ASSET.fullmatch(asset):
                check.report(plan_path, f"expected an upper-case asset symbol like 'BTC', got {asset!r}")
                continue
            plans[asset] = _plan(check, check.table(plan_raw, plan_path), plan_path, asset, catalog,
                                 (target, band))
        result[portfolio_id] = PortfolioConfig(
            id=portfolio_id,
            settings=PortfolioSettings(plans=plans, default_target_ratio=target, default_band=band,
                                       effectiveness=own_effectiveness),
            alerts=own_alerts,
        )
    return result


def _section(check: _Checker, document: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    return check.table(document.get(name, {}), (name,))


def parse_config(text: str, *, source: str, base_dir: Path | None = None) -> MonitorConfig:
    """Build the config from TOML ``text``; ``source`` names it in problems (ConfigError lists all)."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        match = _SYNTAX_POSITION.search(message)
        line = int(match.group(1)) if match else 1
        if match:
            message = f"{message[: match.start()]} (column {match.group(2)})"
        raise ConfigError([ConfigProblem(source, line, "", f"TOML syntax error: {message}")]) from None
    check = _Checker(source, _Locator(text), base_dir if base_dir is not None else Path())
    check.keys(document, (), _SECTION_KEYS)
    monitor_section = _section(check, document, "monitor")
    logging_settings = _logging(check, monitor_section)
    event_loop = check.string(monitor_section, ("monitor",), "event_loop", DEFAULT_EVENT_LOOP,
                              choices=EVENT_LOOPS)
    kafka, topics, partitions = _kafka(check, _section(check, document, "kafka"))
    processor = _processor(check, _section(check, document, "processor"), topics)
    metrics = _metrics(check, _section(check, document, "metrics"))
    effectiveness = _effectiveness(check, _section(check, document, "effectiveness"), ("effectiveness",),
                                   EffectivenessSettings())
    alerts = _alerts(check, _section(check, document, "alerts"), ("alerts",), AlertsConfig())
    catalog = _instruments(check, _section(check, document, "instruments"))
    accounts = _accounts(check, document.get("accounts", []), catalog)
    feeds = _feeds(check, document.get("feeds", []), catalog)
    holdings = _holdings(check, document.get("holdings", []), accounts)
    portfolios = _portfolios(check, _section(check, document, "portfolios"), catalog, effectiveness,
                             alerts)
    if check.problems:
        raise ConfigError(sorted(check.problems, key=lambda problem: problem.line))
    return MonitorConfig(
        source=source,
        logging=logging_settings,
        event_loop=event_loop,
        kafka=kafka,
        topics=topics,
        topic_partitions=partitions,
        processor=processor,
        metrics=metrics,
        effectiveness=effectiveness,
        alerts=alerts,
        catalog=catalog,
        accounts=accounts,
        feeds=feeds,
        holdings=holdings,
        portfolios=MappingProxyType(portfolios),
    )


def load_config(path: str | Path) -> MonitorConfig:
    """Read and check the TOML config file at ``path``; ConfigError lists every problem found."""
    source = str(path)
    file_path = Path(path)
    try:
        text = file_path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([ConfigProblem(source, 0, "", f"cannot read the file: {exc.strerror}")]) from None
    except UnicodeDecodeError:
        raise ConfigError([ConfigProblem(source, 0, "", "the file is not UTF-8 text")]) from None
    return parse_config(text, source=source, base_dir=file_path.parent)


def check_config_command(path: str) -> int:
    """``hedge-monitor check-config FILE``: print OK and a summary (0), or every problem (2)."""
    try:
        config = load_config(path)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 2
    print(f"{path}: OK ({len(config.portfolio_ids())} portfolios, {len(config.accounts)} accounts, "
          f"{len(config.feeds)} feeds)")
    return 0


__all__ = [
    "INSTRUMENT_KEYS", "LOG_FORMATS", "LOG_LEVELS", "PASSPHRASE_VENUES", "SASL_MECHANISMS",
    "SECURITY_PROTOCOLS", "VENUES", "AccountConfig", "ConfigError", "ConfigProblem", "FeedConfig",
    "KeyPath", "LoggingSettings", "MetricsSettings", "MonitorConfig", "PortfolioConfig", "StaticHolding",
    "check_config_command", "dotted", "load_config", "parse_config",
]
