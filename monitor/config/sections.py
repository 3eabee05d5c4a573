"""The sections of the config file: each table of the parsed TOML read into its typed settings.

One reader per section (``[monitor]``, ``[kafka]``, ``[[accounts]]``, ...) checks its keys and values
through the ``Checker`` and resolves its references through ``References``. Facts owned elsewhere
are read from their owner: venue names and what each venue takes from the venue registry, rule
setting keys from the alert rule definitions, instrument keys and kinds from the instrument
definition.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final

from monitor.alertmanager import BridgeSettings
from monitor.alerts.config import RULE_LEVEL_KEYS, AlertConfigError, AlertsConfig
from monitor.alerts.registry import RULE_NAMES, SPECS_BY_NAME
from monitor.bus.base import Topics
from monitor.bus.kafka import KafkaSettings
from monitor.config.checker import Checker, number_text, show, suggestion
from monitor.config.model import (
    AccountConfig,
    FeedConfig,
    LoggingSettings,
    MetricsSettings,
    MonitorConfig,
    PortfolioConfig,
    StaticHolding,
)
from monitor.config.problems import ConfigError, KeyPath, dotted
from monitor.config.references import References
from monitor.domain.instruments import (
    FUNDING_ACCRUALS,
    INSTRUMENT_KEY_TYPES,
    INSTRUMENT_KEYS,
    INSTRUMENT_KINDS,
    TIER_KEYS,
    TIER_OPTIONAL_KEYS,
    Catalog,
    CatalogError,
    default_catalog,
)
from monitor.domain.plans import EffectivenessSettings, HedgePlan, PortfolioSettings
from monitor.eventloop import DEFAULT_EVENT_LOOP, EVENT_LOOPS
from monitor.processor.runner import ProcessorSettings
from monitor.venues.base import Credentials
from monitor.venues.registry import venue_class, venue_names

LOG_FORMATS: Final = ("text", "json")
LOG_LEVELS: Final = ("debug", "info", "warning", "error", "critical")
SECURITY_PROTOCOLS: Final = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS: Final = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")

_SECTION_KEYS: Final = (
    "monitor", "kafka", "processor", "metrics", "effectiveness", "alerts", "instruments",
    "accounts", "feeds", "holdings", "portfolios", "alertmanager",
)
_ALERTMANAGER_KEYS: Final = ("url", "resend_s", "timeout_s")
_MONITOR_KEYS: Final = ("log_format", "log_level", "event_loop")
_KAFKA_KEYS: Final = (
    "bootstrap_servers", "topic_prefix", "partitions", "replication_factor", "client_id",
    "security_protocol", "sasl_mechanism", "sasl_username", "sasl_password", "ssl_cafile",
    "ssl_certfile", "ssl_keyfile", "linger_ms", "max_batch_size",
)
_PROCESSOR_KEYS: Final = (
    "group_id", "instance_id", "publish_interval_ms", "checkpoint_interval_ms", "stale_after_ms",
    "max_batch_records", "young_collection_threshold",
)
_METRICS_KEYS: Final = ("enabled", "host", "port", "portfolio_label_limit")
_EFFECTIVENESS_KEYS: Final = ("sample_interval_ms", "window", "min_move_fraction")
_ACCOUNT_KEYS: Final = (
    "id", "venue", "portfolio", "symbols", "api_key", "api_secret", "passphrase",
    "ws_base_url", "rest_base_url", "ws_api_url", "portfolio_margin", "address",
)
_FEED_KEYS: Final = ("venue", "symbols", "ws_base_url", "rest_base_url", "ws_api_url")
_HOLDING_KEYS: Final = ("account", "portfolio", "asset", "quantity", "note")
_PORTFOLIO_KEYS: Final = ("target_ratio", "band", "effectiveness", "alerts", "plans")
_PLAN_KEYS: Final = (
    "instrument", "target_ratio", "band", "start", "expiry", "expiry_days", "exit_above",
    "exit_below", "stop_loss_usd", "cost_budget_usd", "spot_source",
)

_IDENTIFIER: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_ASSET: Final = re.compile(r"[A-Z0-9]{1,20}")
_TOPIC_PREFIX: Final = re.compile(r"[A-Za-z0-9._-]{0,200}")
_GROUP_ID: Final = re.compile(r"[A-Za-z0-9._-]{1,200}")
_HOST: Final = re.compile(r"[A-Za-z0-9._:\[\]-]{1,253}")
_BOOTSTRAP_SERVER: Final = re.compile(r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):[0-9]{1,5}")
_MS_PER_DAY: Final = 86_400_000
_KINDS_TEXT: Final = ", ".join(repr(kind) for kind in INSTRUMENT_KINDS[:-1]) + f" or {INSTRUMENT_KINDS[-1]!r}"


def _logging(check: Checker, data: Mapping[str, Any]) -> LoggingSettings:
    path: KeyPath = ("monitor",)
    check.keys(data, path, _MONITOR_KEYS)
    return LoggingSettings(
        format=check.string(data, path, "log_format", "text", choices=LOG_FORMATS),
        level=check.string(data, path, "log_level", "info", choices=LOG_LEVELS, fold=True),
    )


def _kafka(
    check: Checker, references: References, data: Mapping[str, Any]
) -> tuple[KafkaSettings | None, Topics, int]:
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
                         f"expected 'host:port' or a comma-separated list of them, got {show(servers_raw)}")
    prefix = check.string(data, path, "topic_prefix", "", pattern=_TOPIC_PREFIX,
                          pattern_text="letters, digits, '.', '_' and '-' only (e.g. 'desk1.')")
    partitions = check.integer(data, path, "partitions", 6, low=1, high=10_000)
    defaults = KafkaSettings(bootstrap_servers="")
    protocol = check.string(data, path, "security_protocol", defaults.security_protocol,
                            choices=SECURITY_PROTOCOLS)
    mechanism = check.optional_string(data, path, "sasl_mechanism", choices=SASL_MECHANISMS)
    username = check.optional_string(data, path, "sasl_username")
    password = references.secret(data, path, "sasl_password")
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
        ssl_cafile=references.existing_file(data, path, "ssl_cafile"),
        ssl_certfile=references.existing_file(data, path, "ssl_certfile"),
        ssl_keyfile=references.existing_file(data, path, "ssl_keyfile"),
        linger_ms=check.integer(data, path, "linger_ms", defaults.linger_ms, low=0, high=60_000,
                                unit=" of milliseconds"),
        max_batch_size=check.integer(data, path, "max_batch_size", defaults.max_batch_size, low=1,
                                     unit=" of bytes"),
        replication_factor=check.integer(data, path, "replication_factor", defaults.replication_factor,
                                         low=1, high=100),
    )
    return (settings if servers is not None else None), Topics.with_prefix(prefix), partitions


def _processor(check: Checker, data: Mapping[str, Any], topics: Topics) -> ProcessorSettings:
    path: KeyPath = ("processor",)
    check.keys(data, path, _PROCESSOR_KEYS)
    defaults = ProcessorSettings()
    ms = " of milliseconds"
    return ProcessorSettings(
        topics=topics,
        group_id=check.string(data, path, "group_id", defaults.group_id, pattern=_GROUP_ID,
                              pattern_text="a Kafka group id (letters, digits, '.', '_', '-')"),
        instance_id=check.string(data, path, "instance_id", "", pattern=_GROUP_ID,
                                 pattern_text="a Kafka group instance id (letters, digits, '.', '_', "
                                              "'-')") or None,
        publish_interval_ms=check.integer(data, path, "publish_interval_ms", defaults.publish_interval_ms,
                                          low=0, unit=ms),
        checkpoint_interval_ms=check.integer(data, path, "checkpoint_interval_ms",
                                             defaults.checkpoint_interval_ms, low=1, unit=ms),
        stale_after_ms=check.integer(data, path, "stale_after_ms", defaults.stale_after_ms, low=1, unit=ms),
        max_batch_records=check.integer(data, path, "max_batch_records", defaults.max_batch_records,
                                        low=1),
        young_collection_threshold=check.integer(data, path, "young_collection_threshold",
                                                 defaults.young_collection_threshold, low=0,
                                                 unit=" (allocations between young collections)"),
    )


def _metrics(check: Checker, data: Mapping[str, Any]) -> MetricsSettings:
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


def _alertmanager(check: Checker, data: Mapping[str, Any]) -> BridgeSettings | None:
    """``[alertmanager]``: the bridge's Alertmanager (absent: no bridge)."""
    path: KeyPath = ("alertmanager",)
    check.keys(data, path, _ALERTMANAGER_KEYS)
    if not data:
        return None
    url = check.url(data, path, "url", ("http", "https"))
    if url is None:
        if "url" not in data:
            check.report((*path, "url"), "required: the Alertmanager base URL, e.g. http://127.0.0.1:9093")
        return None
    defaults = BridgeSettings(url)
    return BridgeSettings(
        url,
        resend_s=check.number(data, path, "resend_s", defaults.resend_s, low=0, low_open=True),
        timeout_s=check.number(data, path, "timeout_s", defaults.timeout_s, low=0, low_open=True),
    )


def _effectiveness(
    check: Checker, data: Mapping[str, Any], path: KeyPath, base: EffectivenessSettings
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


def _alerts(check: Checker, data: Mapping[str, Any], path: KeyPath, base: AlertsConfig) -> AlertsConfig:
    """Alert settings, rule by rule so that every bad rule is reported."""
    result = base
    for name, value in data.items():
        rule_path = (*path, name)
        spec = SPECS_BY_NAME.get(name)
        if spec is None:
            check.report(rule_path, f"unknown rule {name!r}; {suggestion(name, RULE_NAMES)}")
            continue
        if not isinstance(value, Mapping):
            check.report(rule_path, f"expected a table [{dotted(rule_path)}], got {show(value)}")
            continue
        allowed = spec.setting_keys
        clean: dict[str, Any] = {}
        for key, setting in value.items():
            if key in allowed:
                clean[key] = setting
            elif key in RULE_LEVEL_KEYS:
                check.report((*rule_path, key), f"unknown key {key!r}: rule {name!r} has no threshold; "
                                                f"expected one of: {', '.join(allowed)}")
            else:
                check.report((*rule_path, key), f"unknown key {key!r}; {suggestion(key, allowed)}")
        try:
            result = AlertsConfig.from_mapping({name: clean}, source=check.source, prefix=dotted(path),
                                               base=result)
        except AlertConfigError as exc:
            check.report((*path, *exc.key_path), exc.reason)
    return result


def _tiers(check: Checker, value: object, path: KeyPath) -> None:
    """Check an instrument's ``tiers``: an array of tables of numbers (the catalog loader orders them)."""
    for index, tier in enumerate(check.tables(value, path)):
        tier_path = (*path, index)
        check.keys(tier, tier_path, TIER_KEYS)
        for key in TIER_KEYS:
            if key not in tier and key not in TIER_OPTIONAL_KEYS:
                check.report((*tier_path, key), f"missing required key {key!r}")
            check.optional_number(tier, tier_path, key)


def _instruments(check: Checker, data: Mapping[str, Any]) -> Catalog:
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
        for key, value_type in INSTRUMENT_KEY_TYPES.items():
            if value_type == "text":
                choices = (INSTRUMENT_KINDS if key == "kind"
                           else FUNDING_ACCRUALS if key == "funding_accrual" else None)
                check.optional_string(entry, path, key, choices=choices)
            elif value_type == "number":
                check.optional_number(entry, path, key)
            elif value_type == "epoch_ms":
                check.integer(entry, path, key, 0, low=0, unit=" of epoch milliseconds")
            elif key in entry:
                _tiers(check, entry[key], (*path, key))
        if instrument_id not in catalog and "base" not in entry:
            check.report((*path, "base"), "a new instrument needs 'base' (the asset it prices, e.g. 'BTC') "
                                          f"and 'kind' ({_KINDS_TEXT})")
        if len(check.problems) > before:
            continue
        try:
            catalog = catalog.with_overrides({instrument_id: entry})
        except CatalogError as exc:
            check.report(path, exc.reason)
        except (KeyError, TypeError, ValueError) as exc:
            check.report(path, f"invalid instrument definition: {exc}")
    return catalog


def _credentials(
    references: References, data: Mapping[str, Any], path: KeyPath, venue: str | None
) -> Credentials | None:
    check = references.check
    present = [key for key in ("api_key", "api_secret", "passphrase") if key in data]
    api_key = references.secret(data, path, "api_key")
    api_secret = references.secret(data, path, "api_secret")
    passphrase = references.secret(data, path, "passphrase")
    if not present:
        return None
    for key in ("api_key", "api_secret"):
        if key not in data:
            check.report((*path, key), f"missing {key!r}: an account with credentials needs api_key and "
                                       f"api_secret (omit all of them for a public-only simulator account)")
    needs_passphrase = venue is not None and venue_class(venue).needs_passphrase
    if needs_passphrase and "passphrase" not in data:
        check.report((*path, "passphrase"), f"missing 'passphrase': {venue} API keys come with a "
                                            f"passphrase")
    if venue is not None and not needs_passphrase and "passphrase" in data:
        check.report((*path, "passphrase"), f"{venue} API keys have no passphrase: remove it")
    if api_key is None or api_secret is None:
        return None
    return Credentials(api_key=api_key, api_secret=api_secret, passphrase=passphrase)


def _endpoints(
    check: Checker, data: Mapping[str, Any], path: KeyPath, venue: str | None
) -> tuple[str | None, str | None, str | None]:
    ws_api = check.url(data, path, "ws_api_url", ("wss", "ws"))
    if ws_api is not None and venue is not None and not venue_class(venue).takes_ws_api_url:
        takers = sorted(name for name in venue_names() if venue_class(name).takes_ws_api_url)
        check.report((*path, "ws_api_url"), f"ws_api_url is only used by {', '.join(takers)}")
    return (
        check.url(data, path, "ws_base_url", ("wss", "ws")),
        check.url(data, path, "rest_base_url", ("https", "http")),
        ws_api,
    )


_ID_TEXT = "an id of letters, digits, '_' and '-' (at most 64)"
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")


def _address(
    check: Checker, data: Mapping[str, Any], path: KeyPath, venue: str | None, has_credentials: bool
) -> str | None:
    """The wallet address of a venue watched by address (Hyperliquid); never echoed in a problem."""
    takes = venue is not None and venue_class(venue).takes_address
    value = data.get("address")
    where = (*path, "address")
    if value is None:
        if takes:
            check.report(where, f"missing 'address': a {venue} account is watched by its wallet "
                                f"address; set address = \"0x\" followed by 40 hex digits")
        return None
    if not takes:
        takers = sorted(name for name in venue_names() if venue_class(name).takes_address)
        check.report(where, f"address is only used by {', '.join(takers)}: remove it")
        return None
    if has_credentials:
        check.report((*path, "api_key"), f"{venue} is read by wallet address and needs no API key: "
                                         f"remove api_key, api_secret and passphrase")
    if not isinstance(value, str) or not _ADDRESS.fullmatch(value):
        length = len(value) if isinstance(value, str) else None
        got = f"a string of {length} characters" if length is not None else f"a TOML {type(value).__name__}"
        check.report(where, f"address must be a 20-byte wallet address, \"0x\" followed by 40 hex "
                            f"digits (42 characters); got {got}")
        return None
    return value.lower()


def _accounts(
    check: Checker, references: References, value: object, catalog: Catalog
) -> tuple[AccountConfig, ...]:
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
        venue = check.required_string(data, path, "venue", choices=venue_names())
        portfolio = check.required_string(data, path, "portfolio", pattern=_IDENTIFIER,
                                          pattern_text=_ID_TEXT, meaning="the portfolio it hedges")
        symbols = check.symbols(data, path, venue, catalog, required=False, live=_lists_instruments(venue))
        credentials = _credentials(references, data, path, venue)
        ws_base_url, rest_base_url, ws_api_url = _endpoints(check, data, path, venue)
        portfolio_margin = check.boolean(data, path, "portfolio_margin", False)
        if portfolio_margin and venue is not None and venue != "binance":
            check.report((*path, "portfolio_margin"), "portfolio_margin is a Binance account option "
                                                      "(Portfolio Margin, GET /papi/v1/account): remove it")
        has_credentials = any(key in data for key in ("api_key", "api_secret", "passphrase"))
        address = _address(check, data, path, venue, has_credentials)
        if account_id is None or venue is None or portfolio is None:
            continue
        result.append(AccountConfig(
            id=account_id, venue=venue, portfolio=portfolio, symbols=symbols, credentials=credentials,
            ws_base_url=ws_base_url, rest_base_url=rest_base_url, ws_api_url=ws_api_url,
            portfolio_margin=portfolio_margin,
            address=address,
        ))
    return tuple(result)


def _lists_instruments(venue: str | None) -> bool:
    """Whether the venue's module lists its contracts live (an ``InstrumentSource``)."""
    return venue is not None and hasattr(venue_class(venue), "instrument_requests")


def _feeds(check: Checker, value: object, catalog: Catalog) -> tuple[FeedConfig, ...]:
    result: list[FeedConfig] = []
    for index, data in enumerate(check.tables(value, ("feeds",))):
        path: KeyPath = ("feeds", index)
        check.keys(data, path, _FEED_KEYS)
        venue = check.required_string(data, path, "venue", choices=venue_names())
        symbols = check.symbols(data, path, venue, catalog, required=True, live=_lists_instruments(venue))
        ws_base_url, rest_base_url, ws_api_url = _endpoints(check, data, path, venue)
        if venue is None or not symbols:
            continue
        result.append(FeedConfig(venue=venue, symbols=symbols, ws_base_url=ws_base_url,
                                 rest_base_url=rest_base_url, ws_api_url=ws_api_url))
    return tuple(result)


def _holdings(
    check: Checker, value: object, accounts: tuple[AccountConfig, ...]
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
    check: Checker, data: Mapping[str, Any], path: KeyPath, asset: str, catalog: Catalog,
    defaults: tuple[float, float],
) -> HedgePlan:
    check.keys(data, path, _PLAN_KEYS)
    instrument = check.optional_string(data, path, "instrument")
    if instrument is not None and check.instrument(instrument, (*path, "instrument"), catalog):
        base = catalog.require(instrument).base
        if base != asset:
            check.report((*path, "instrument"), f"{instrument} prices {base}, not {asset}: "
                                                f"choose an instrument whose base is {asset}")
    spot_source = check.optional_string(data, path, "spot_source")
    if spot_source is not None and check.instrument(spot_source, (*path, "spot_source"), catalog):
        source = catalog.require(spot_source)
        if source.base != asset:
            check.report((*path, "spot_source"), f"{spot_source} prices {source.base}, not {asset}: "
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
        check.report((*path, "exit_below"), f"exit_below ({number_text(exit_below)}) must be below "
                                            f"exit_above ({number_text(exit_above)})")
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
        spot_source=spot_source,
    )


def _portfolios(
    check: Checker, data: Mapping[str, Any], catalog: Catalog, effectiveness: EffectivenessSettings,
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


def _section(check: Checker, document: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    return check.table(document.get(name, {}), (name,))


def config_from_document(
    check: Checker, references: References, document: Mapping[str, Any]
) -> MonitorConfig:
    """The typed config of a parsed TOML document; ConfigError lists every problem, by line."""
    check.keys(document, (), _SECTION_KEYS)
    monitor_section = _section(check, document, "monitor")
    logging_settings = _logging(check, monitor_section)
    event_loop = check.string(monitor_section, ("monitor",), "event_loop", DEFAULT_EVENT_LOOP,
                              choices=EVENT_LOOPS)
    kafka, topics, partitions = _kafka(check, references, _section(check, document, "kafka"))
    processor = _processor(check, _section(check, document, "processor"), topics)
    metrics = _metrics(check, _section(check, document, "metrics"))
    effectiveness = _effectiveness(check, _section(check, document, "effectiveness"), ("effectiveness",),
                                   EffectivenessSettings())
    alerts = _alerts(check, _section(check, document, "alerts"), ("alerts",), AlertsConfig())
    catalog = _instruments(check, _section(check, document, "instruments"))
    accounts = _accounts(check, references, document.get("accounts", []), catalog)
    feeds = _feeds(check, document.get("feeds", []), catalog)
    holdings = _holdings(check, document.get("holdings", []), accounts)
    portfolios = _portfolios(check, _section(check, document, "portfolios"), catalog, effectiveness,
                             alerts)
    alertmanager = _alertmanager(check, _section(check, document, "alertmanager"))
    if check.problems:
        raise ConfigError(sorted(check.problems, key=lambda problem: problem.line))
    return MonitorConfig(
        source=check.source,
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
        alertmanager=alertmanager,
        warnings=tuple(check.warnings),
    )
