"""The TOML config loader: the shipped example, every broken example, secrets and check-config."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.alerts.config import AlertsConfig
from monitor.config import (
    INSTRUMENT_KEYS,
    ConfigError,
    ConfigProblem,
    MonitorConfig,
    check_config_command,
    dotted,
    load_config,
    parse_config,
)
from monitor.domain import instruments
from monitor.domain.plans import EffectivenessSettings, HedgePlan, PortfolioSettings
from monitor.venues.base import AccountContext

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
BROKEN = EXAMPLES / "broken"
CANARY = "5ecret"
"""A fragment of every literal secret in the broken examples; no message may contain it."""


@pytest.fixture
def okx_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment variables the example's OKX account refers to."""
    monkeypatch.setenv("OKX_API_KEY", "example-key")
    monkeypatch.setenv("OKX_API_SECRET", "example-secret")
    monkeypatch.setenv("OKX_PASSPHRASE", "example-passphrase")


@pytest.fixture
def broken_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """One variable the broken examples use is set, the other is not."""
    monkeypatch.setenv("HEDGE_MONITOR_TEST_OKX_KEY", "test-key")
    monkeypatch.delenv("HEDGE_MONITOR_TEST_UNSET_SECRET", raising=False)


def _problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    lines = [str(problem) for problem in caught.value.problems]
    assert str(caught.value) == "\n".join(lines)
    return lines


def _parse(text: str, tmp_path: Path | None = None) -> MonitorConfig:
    return parse_config(text, source="test.toml", base_dir=tmp_path)


def _parse_problems(text: str, tmp_path: Path | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        _parse(text, tmp_path)
    return [str(problem) for problem in caught.value.problems]


# --- the example -----------------------------------------------------------------------------------


def test_example_loads_with_typed_values(okx_env: None) -> None:
    """examples/monitor.toml loads into the documented portfolio, account, feed and holding."""
    config = load_config(EXAMPLES / "monitor.toml")
    assert config.source == str(EXAMPLES / "monitor.toml")
    assert config.logging.format == "text"
    assert config.logging.level == "info"
    assert config.kafka is None  # [kafka] is commented out: in-process bus
    assert config.topics.prices == "hedge.prices"
    assert config.processor.topics == config.topics
    assert config.processor.checkpoint_interval_ms == 1000
    assert config.processor.stale_after_ms == 30_000
    assert config.processor.young_collection_threshold == 100_000
    assert (config.metrics.enabled, config.metrics.host, config.metrics.port) == (True, "127.0.0.1", 9464)
    assert config.metrics.portfolio_label_limit == 500
    assert config.effectiveness == EffectivenessSettings(60_000, 120, 0.005)

    (account,) = config.accounts
    assert (account.id, account.venue, account.portfolio) == ("okx-main", "okx", "alice")
    assert account.symbols == ("BTC-USDT-SWAP",)
    assert account.instrument_ids() == ("okx:BTC-USDT-SWAP",)
    assert account.credentials is not None
    assert account.credentials.api_key.reveal() == "example-key"
    assert account.credentials.api_secret.reveal() == "example-secret"
    assert account.credentials.passphrase is not None
    assert account.credentials.passphrase.reveal() == "example-passphrase"
    assert account.context() == AccountContext("okx-main", "alice", account.credentials)
    assert "example-secret" not in repr(config)

    (feed,) = config.feeds
    assert feed.instrument_ids() == ("binance-spot:BTCUSDT",)
    (holding,) = config.holdings
    assert (holding.account, holding.portfolio, holding.asset, holding.quantity) == (
        "cold-wallet", "alice", "BTC", 1.5)
    # 150 contracts * 0.01 BTC (okx:BTC-USDT-SWAP ctVal) = 1.5 BTC: the cold-wallet holding, ratio 1.0
    assert 150 * config.catalog.require("okx:BTC-USDT-SWAP").contract_size == pytest.approx(holding.quantity)

    plan = config.settings_for("alice").plan_for("BTC")
    # start 2025-06-02T08:00:00Z = 1748851200 s (date -u -d 2025-06-02T08:00:00Z +%s)
    # expiry = start + 7 days * 86_400_000 ms = 1_748_851_200_000 + 604_800_000 = 1_749_456_000_000
    assert plan == HedgePlan(
        asset="BTC", instrument="okx:BTC-USDT-SWAP", target_ratio=1.0, band=0.1,
        start_ms=1_748_851_200_000, expiry_ms=1_749_456_000_000, exit_above=65_000.0,
        exit_below=None, stop_loss_usd=5_000.0, cost_budget_usd=300.0,
        spot_source="okx:BTC-USDT",
    )
    assert config.portfolio_ids() == ("alice",)


def test_example_alerts_are_the_defaults_with_one_portfolio_override(okx_env: None) -> None:
    """The example's [alerts] spell out the defaults; alice widens basis_wide keeping the gap."""
    config = load_config(EXAMPLES / "monitor.toml")
    assert config.alerts == AlertsConfig()
    basis = config.alerts_for("alice").basis_wide
    # threshold 150 moves clear with it: 150 + (80 - 100) = 130 bps
    assert (basis.threshold, basis.clear_threshold, basis.for_ms) == (150.0, 130.0, 60_000)
    assert config.alerts_for("alice").margin_buffer_low == config.alerts.margin_buffer_low


def test_unnamed_portfolio_gets_defaults() -> None:
    """settings_for and alerts_for a portfolio no config names give the defaults (global [effectiveness])."""
    config = _parse("[effectiveness]\nwindow = 60\n[alerts.r2_low]\nthreshold = 0.7\n")
    assert config.settings_for("nobody") == PortfolioSettings(
        effectiveness=EffectivenessSettings(window=60))
    assert config.settings_for("nobody").plan_for("ETH") == HedgePlan(asset="ETH", target_ratio=1.0, band=0.1)
    assert config.alerts_for("nobody").r2_low.threshold == 0.7
    assert config.portfolios == {}


def test_empty_file_is_all_defaults() -> None:
    """An empty config is valid: in-process bus, default settings, nothing monitored yet."""
    config = _parse("")
    assert config == MonitorConfig(source="test.toml", catalog=config.catalog)
    assert (config.accounts, config.feeds, config.holdings) == ((), (), ())


def test_portfolio_defaults_flow_into_plans_and_effectiveness() -> None:
    """A portfolio's target_ratio and band are its plans' defaults; its effectiveness overrides the global."""
    config = _parse(
        "[effectiveness]\nwindow = 60\n"
        "[portfolios.bob]\ntarget_ratio = 0.5\nband = 0.2\n"
        "[portfolios.bob.effectiveness]\nsample_interval_ms = 5000\n"
        '[portfolios.bob.plans.ETH]\ninstrument = "binance:ETHUSDT"\n'
    )
    settings = config.settings_for("bob")
    assert settings.plan_for("ETH") == HedgePlan(asset="ETH", instrument="binance:ETHUSDT",
                                                 target_ratio=0.5, band=0.2)
    assert settings.plan_for("BTC") == HedgePlan(asset="BTC", target_ratio=0.5, band=0.2)
    assert settings.effectiveness == EffectivenessSettings(sample_interval_ms=5000, window=60)


def test_datetimes_from_strings_dates_and_fractional_days() -> None:
    """RFC 3339 strings with offsets, TOML dates (00:00 UTC) and fractional expiry_days become epoch ms."""
    config = _parse(
        '[portfolios.a.plans.BTC]\nstart = "2025-06-02T10:00:00+02:00"\nexpiry_days = 0.5\n'
        '[portfolios.a.plans.ETH]\nstart = 2025-06-02\nexpiry = "2025-06-09"\n'
    )
    btc = config.settings_for("a").plan_for("BTC")
    # 10:00+02:00 = 08:00Z = 1_748_851_200_000; + 0.5 * 86_400_000 = + 43_200_000
    assert (btc.start_ms, btc.expiry_ms) == (1_748_851_200_000, 1_748_894_400_000)
    eth = config.settings_for("a").plan_for("ETH")
    # 2025-06-02T00:00Z = 1_748_851_200_000 - 8 h * 3_600_000 = 1_748_822_400_000
    # expiry 2025-06-09T00:00Z = 1_748_822_400_000 + 7 * 86_400_000 = 1_749_427_200_000
    assert (eth.start_ms, eth.expiry_ms) == (1_748_822_400_000, 1_749_427_200_000)


def test_kafka_section_builds_settings_and_prefixed_topics(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """[kafka] with SASL_SSL builds KafkaSettings (password resolved, CA relative) and prefixed topics."""
    monkeypatch.setenv("HEDGE_MONITOR_TEST_KAFKA_PASSWORD", "kafka-pass")
    (tmp_path / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\n", encoding="utf-8")
    config = _parse(
        '[kafka]\nbootstrap_servers = ["k1:9093", "k2:9093"]\ntopic_prefix = "desk1."\npartitions = 12\n'
        'replication_factor = 3\nsecurity_protocol = "SASL_SSL"\nsasl_mechanism = "SCRAM-SHA-512"\n'
        'sasl_username = "monitor"\nsasl_password = "env:HEDGE_MONITOR_TEST_KAFKA_PASSWORD"\n'
        'ssl_cafile = "ca.pem"\nlinger_ms = 5\n'
        '[processor]\ngroup_id = "desk1-monitor"\n', tmp_path)
    kafka = config.kafka
    assert kafka is not None
    assert kafka.bootstrap_servers == "k1:9093,k2:9093"
    assert (kafka.security_protocol, kafka.sasl_mechanism, kafka.sasl_username) == (
        "SASL_SSL", "SCRAM-SHA-512", "monitor")
    assert kafka.sasl_password is not None
    assert kafka.sasl_password.reveal() == "kafka-pass"
    assert kafka.ssl_cafile == str(tmp_path / "ca.pem")
    assert (kafka.linger_ms, kafka.replication_factor) == (5, 3)
    assert config.topic_partitions == 12
    assert config.topics.prices == "desk1.hedge.prices"
    assert config.processor.topics.risk == "desk1.hedge.risk"
    assert config.processor.group_id == "desk1-monitor"


def test_the_young_collection_threshold_is_a_non_negative_count() -> None:
    """0 keeps the interpreter's threshold; a negative count names the key and the bound."""
    assert _parse("[processor]\nyoung_collection_threshold = 0\n").processor.young_collection_threshold == 0
    (problem,) = _parse_problems("[processor]\nyoung_collection_threshold = -1\n")
    assert "processor.young_collection_threshold" in problem
    assert "at or above 0, got -1" in problem


def test_file_secret_relative_to_the_config(tmp_path: Path) -> None:
    """file:PATH secrets are read relative to the config file's directory, stripped of the newline."""
    (tmp_path / "key").write_text("file-key\n", encoding="utf-8")
    (tmp_path / "secret").write_text("file-secret\n", encoding="utf-8")
    (tmp_path / "monitor.toml").write_text(
        '[[accounts]]\nid = "b"\nvenue = "binance"\nportfolio = "p"\n'
        'api_key = "file:key"\napi_secret = "file:secret"\n', encoding="utf-8")
    (account,) = load_config(tmp_path / "monitor.toml").accounts
    assert account.credentials is not None
    assert account.credentials.api_key.reveal() == "file-key"
    assert account.credentials.api_secret.reveal() == "file-secret"
    assert account.credentials.passphrase is None


def test_empty_secret_file_is_a_problem(tmp_path: Path) -> None:
    """An empty secret file is reported rather than signing with an empty key."""
    (tmp_path / "empty").write_text("\n", encoding="utf-8")
    problems = _parse_problems(
        '[[accounts]]\nid = "b"\nvenue = "binance"\nportfolio = "p"\n'
        'api_key = "file:empty"\napi_secret = "file:empty"\n', tmp_path)
    assert problems == [
        f"test.toml:5: accounts[0].api_key: the secret file {tmp_path / 'empty'} is empty",
        f"test.toml:6: accounts[0].api_secret: the secret file {tmp_path / 'empty'} is empty",
    ]


def test_instrument_overrides_change_and_extend_the_catalog() -> None:
    """[instruments] overrides one field of a shipped instrument and adds a new one plans can use."""
    config = _parse(
        '[instruments."okx:BTC-USDT-SWAP"]\nlot_step = 0.01\n'
        '[instruments."okx:SOL-USDT-SWAP"]\nkind = "linear"\nbase = "SOL"\nquote = "USDT"\n'
        "contract_size = 1\ntiers = [{ floor = 0, cap = 1000000, mmr = 0.01, max_leverage = 50 }]\n"
        '[portfolios.a.plans.SOL]\ninstrument = "okx:SOL-USDT-SWAP"\n'
    )
    btc = config.catalog.require("okx:BTC-USDT-SWAP")
    assert btc.lot_step == 0.01
    assert btc.contract_size == 0.01  # untouched fields keep the shipped value
    sol = config.catalog.require("okx:SOL-USDT-SWAP")
    assert (sol.kind, sol.base, sol.tiers[0].mmr) == ("linear", "SOL", 0.01)
    assert config.settings_for("a").plan_for("SOL").instrument == "okx:SOL-USDT-SWAP"
    assert "okx:SOL-USDT-SWAP" not in instruments.default_catalog()


def test_event_loop_key_is_read_from_the_monitor_section() -> None:
    """[monitor] event_loop takes auto, asyncio or uvloop; absent, the standard asyncio loop."""
    assert _parse("").event_loop == "asyncio"
    assert _parse('[monitor]\nevent_loop = "auto"\n').event_loop == "auto"
    assert _parse('[monitor]\nevent_loop = "uvloop"\n').event_loop == "uvloop"


def test_unknown_event_loop_is_a_problem_with_its_line() -> None:
    """A misspelt event loop is reported as file:line: key: the valid choices."""
    assert _parse_problems('[monitor]\nlog_level = "info"\nevent_loop = "fast"\n') == [
        "test.toml:3: monitor.event_loop: expected one of 'auto', 'asyncio', 'uvloop', got 'fast'",
    ]


def test_instrument_table_takes_every_key_of_the_instrument_definition() -> None:
    """Every key the catalog loader reads can be set from config, each checked as its own type."""
    lines = [
        'kind = "inverse"', 'base = "SOL"', 'quote = "USD"', "contract_size = 1", "contract_value = 10",
        "lot_step = 1", "min_quantity = 1", 'settle = "SOL"', "expiry_ms = 1751011200000",
        "funding_interval_hours = 4", "taker_fee = 0.0005", "maker_fee = 0.0002",
        "tiers = [{ floor = 0, cap = 100000, mmr = 0.01, max_leverage = 50 }]", 'note = "quarterly"',
        'funding_accrual = "continuous"',
    ]
    assert {line.split(" = ")[0] for line in lines} == set(INSTRUMENT_KEYS)
    config = _parse('[instruments."okx:SOL-USD-250627"]\n' + "\n".join(lines) + "\n")
    sol = config.catalog.require("okx:SOL-USD-250627")
    assert (sol.kind, sol.base, sol.quote, sol.settle, sol.note) == (
        "inverse", "SOL", "USD", "SOL", "quarterly")
    assert (sol.contract_size, sol.contract_value, sol.lot_step, sol.min_quantity) == (1.0, 10.0, 1.0, 1.0)
    # 2025-06-27T08:00:00Z = 1751011200 s (date -u -d @1751011200)
    assert (sol.expiry_ms, sol.funding_interval_hours) == (1_751_011_200_000, 4.0)
    assert (sol.taker_fee, sol.maker_fee) == (0.0005, 0.0002)
    assert [(tier.floor, tier.cap, tier.mmr, tier.max_leverage) for tier in sol.tiers] == [
        (0.0, 100_000.0, 0.01, 50.0)]
    assert sol.funding_accrual == "continuous"
    wrong = _parse_problems('[instruments."okx:SOL-USD-250627"]\n' + "\n".join(lines[:-1])
                            + '\nfunding_accrual = "hourly"\n')
    assert any("funding_accrual" in problem and "'settlement', 'continuous'" in problem for problem in wrong)


def test_static_holding_becomes_a_balance_event(okx_env: None) -> None:
    """A [[holdings]] entry turns into a full-state balance event of its portfolio."""
    (holding,) = load_config(EXAMPLES / "monitor.toml").holdings
    event = holding.balance_event(1_000)
    assert (event.portfolio, event.account, event.asset, event.quantity) == (
        "alice", "cold-wallet", "BTC", 1.5)
    assert (event.ts_event_ms, event.ts_receive_ms) == (1_000, 1_000)


# --- broken examples -------------------------------------------------------------------------------

EXPECTED: dict[str, list[str]] = {
    "unknown_keys.toml": [
        "3: monitor.log_fromat: unknown key 'log_fromat'; did you mean 'log_format'?",
        "6: kafka.partitons: unknown key 'partitons'; did you mean 'partitions'?",
        "9: processor.group: unknown key 'group'; did you mean 'group_id'?",
        "12: metrics.prot: unknown key 'prot'; did you mean 'port'?",
        "15: effectiveness.windw: unknown key 'windw'; did you mean 'window'?",
        "17: alerts.margin_bufer_low: unknown rule 'margin_bufer_low'; did you mean 'margin_buffer_low'?",
        "21: alerts.r2_low.treshold: unknown key 'treshold'; did you mean 'threshold'?",
        ("24: alerts.stale_feed.threshold: unknown key 'threshold': rule 'stale_feed' has no threshold; "
         "expected one of: enabled, for_ms, severity"),
        "27: instruments.\"okx:BTC-USDT-SWAP\".lot_stp: unknown key 'lot_stp'; did you mean 'lot_step'?",
        "33: accounts[0].symbol: unknown key 'symbol'; did you mean 'symbols'?",
        "38: feeds[0].ws_url: unknown key 'ws_url'; did you mean 'ws_api_url'?",
        "45: holdings[0].qty: unknown key 'qty'; expected one of: account, portfolio, asset, quantity, note",
        "48: portfolios.alice.targt_ratio: unknown key 'targt_ratio'; did you mean 'target_ratio'?",
        "51: portfolios.alice.effectiveness.window_size: unknown key 'window_size'; did you mean 'window'?",
        ("54: portfolios.alice.alerts.basis_wide.threshhold: unknown key 'threshhold'; "
         "did you mean 'threshold'?"),
        "58: portfolios.alice.plans.BTC.expiry_dayz: unknown key 'expiry_dayz'; did you mean 'expiry_days'?",
        "60: metric: unknown key 'metric'; did you mean 'metrics'?",
    ],
    "wrong_type.toml": [
        "3: kafka.bootstrap_servers: expected 'host:port' or a comma-separated list of them, got 9092",
        "4: kafka.partitions: expected an integer between 1 and 10000, got '6'",
        "7: processor.stale_after_ms: expected an integer of milliseconds at or above 1, got 1.5",
        "10: metrics.enabled: expected true or false, got 'yes'",
        "11: metrics.port: expected an integer between 0 and 65535, got 70000",
        "14: effectiveness.window: expected an integer count of samples between 3 and 100000, got 2",
        "17: alerts.margin_buffer_low.threshold: expected a number between 0 and 1, got 'half'",
        "20: accounts[0].id: expected an id of letters, digits, '_' and '-' (at most 64), got 'okx main'",
        "23: accounts[0].symbols: expected an array of symbols, got 'BTC-USDT-SWAP'",
        "28: holdings[0].asset: expected an upper-case asset symbol like 'BTC', got 'btc'",
        "29: holdings[0].quantity: expected a number, got '1.5'",
        "32: portfolios.alice.target_ratio: expected a number between 0 and 10, got 'abc'",
        "33: portfolios.alice.band: expected a number greater than 0, got 0",
        "37: portfolios.alice.plans.BTC.exit_below: exit_below (65000) must be below exit_above (60000)",
    ],
    "unknown_instrument.toml": [
        ("6: accounts[0].symbols[1]: unknown instrument 'okx:BTC-USDT-SWAPP'; known for okx: "
         "[okx:BTC-USD-SWAP, okx:BTC-USDT, okx:BTC-USDT-SWAP, okx:ETH-USDT, okx:ETH-USDT-SWAP]"),
        ("10: feeds[0].symbols[0]: unknown instrument 'binance-spot:BTCUSD'; known for binance-spot: "
         "[binance-spot:BTCUSDT, binance-spot:ETHUSDT]"),
        ("13: portfolios.alice.plans.BTC.instrument: unknown instrument 'okx:BTC-USDT-SWAPP'; known for okx: "
         "[okx:BTC-USD-SWAP, okx:BTC-USDT, okx:BTC-USDT-SWAP, okx:ETH-USDT, okx:ETH-USDT-SWAP]"),
        ("16: portfolios.alice.plans.ETH.instrument: okx:BTC-USDT-SWAP prices BTC, not ETH: "
         "choose an instrument whose base is ETH"),
        ("19: portfolios.bob.plans.BTC.instrument: unknown instrument 'kraken:XBTUSD'; the catalog knows no "
         "kraken instruments: define it under [instruments.\"kraken:XBTUSD\"]"),
    ],
    "unset_secret.toml": [
        ("8: accounts[0].api_secret: environment variable HEDGE_MONITOR_TEST_UNSET_SECRET is not set "
         "(referenced as 'env:HEDGE_MONITOR_TEST_UNSET_SECRET'): export it or use file:PATH"),
        ("9: accounts[0].passphrase: cannot read secret file {dir}/secrets/missing-passphrase: "
         "No such file or directory: create it or fix the path (relative paths are relative to the "
         "config file)"),
    ],
    "literal_secret.toml": [
        "8: kafka.sasl_password: a secret must be a reference 'env:NAME' or 'file:PATH', not a literal value",
        ("15: accounts[0].api_key: a secret must be a reference 'env:NAME' or 'file:PATH', "
         "not a literal value"),
        ("16: accounts[0].api_secret: a secret must be a reference 'env:NAME' or 'file:PATH', "
         "not a literal value"),
        ("17: accounts[0].passphrase: expected a secret reference 'env:NAME' or 'file:PATH' (a string), "
         "got a number"),
        "17: accounts[0].passphrase: binance API keys have no passphrase: remove it",
        "19: accounts[1].passphrase: missing 'passphrase': weex API keys come with a passphrase",
        ("23: accounts[1].api_key: the variable name after 'env:' must be letters, digits and underscores, "
         "not starting with a digit"),
    ],
    "bad_datetime.toml": [
        ("4: portfolios.alice.plans.BTC.start: expected an RFC 3339 date-time with a time zone, "
         "e.g. 2025-06-30T00:00:00Z, or a date, got '2025-13-01T00:00:00Z'"),
        ("5: portfolios.alice.plans.BTC.expiry: 2025-06-09T08:00:00 has no time zone: "
         "add 'Z' or an offset like +02:00"),
        ("9: portfolios.alice.plans.ETH.expiry_days: expiry_days counts from start: "
         "set start (when the hedge was opened)"),
        "13: portfolios.bob.plans.BTC.expiry: expiry must be after start",
        "18: portfolios.carol.plans.BTC.expiry_days: set either expiry or expiry_days, not both",
    ],
    "bad_enum.toml": [
        "3: monitor.log_format: expected one of 'text', 'json', got 'xml'",
        ("4: monitor.log_level: expected one of 'debug', 'info', 'warning', 'error', 'critical', "
         "got 'verbose'"),
        ("8: kafka.security_protocol: expected one of 'PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL', "
         "got 'TLS'"),
        "9: kafka.sasl_mechanism: expected one of 'PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512', got 'GSSAPI'",
        "12: alerts.margin_ratio_high.severity: expected one of 'critical', 'warning', 'info', got 'urgent'",
        ("15: feeds[0].venue: expected one of 'binance', 'binance-spot', 'bybit', 'okx', 'bingx', 'mexc', "
         "'weex', 'binance-coinm', 'deribit', 'hyperliquid', got 'kraken'"),
    ],
    "syntax_error.toml": [
        "4: TOML syntax error: Invalid value (column 8)",
    ],
    "bad_instrument.toml": [
        "2: instruments.\"okx:SOL-USDT-SWAP\": a linear contract needs contract_size > 0",
        ("8: instruments.\"okx:BTC-USDT-SWAP\": tier floors and caps must increase, "
         "got floor 1000000.0 cap 500000.0"),
        ("14: instruments.\"bybit:SOLUSDT\".base: a new instrument needs 'base' (the asset it prices, "
         "e.g. 'BTC') and 'kind' ('spot', 'linear' or 'inverse')"),
        ("15: instruments.\"bybit:SOLUSDT\".kind: expected one of 'spot', 'linear', 'inverse', "
         "got 'perpetual'"),
        "18: instruments.SOLUSDT: instrument id 'SOLUSDT' must be 'venue:symbol', e.g. \"okx:BTC-USDT-SWAP\"",
    ],
    "mixed.toml": [
        "3: kafka.bootstrap_servers: expected 'host:port' or a comma-separated list of them, got 'localhost'",
        "4: kafka.ssl_cafile: ssl_cafile needs security_protocol 'SSL' or 'SASL_SSL' (it is 'PLAINTEXT')",
        ("4: kafka.ssl_cafile: file '{dir}/certs/missing-ca.pem' does not exist (relative paths are "
         "relative to the config file)"),
        "6: accounts[0].portfolio: missing required key 'portfolio' (the portfolio it hedges)",
        ("6: accounts[0].api_secret: missing 'api_secret': an account with credentials needs api_key and "
         "api_secret (omit all of them for a public-only simulator account)"),
        "6: accounts[0].passphrase: missing 'passphrase': okx API keys come with a passphrase",
        "13: accounts[1].id: account id 'okx-main' is used twice",
        ("17: accounts[1].ws_base_url: expected a URL starting with wss:// or ws://, "
         "got 'https://stream.bybit.com'"),
        ("20: holdings[0].account: 'okx-main' is an exchange account whose balances come from its stream; "
         "name the holding's custodian, e.g. 'cold-wallet'"),
        "25: holdings[1].quantity: missing required key 'quantity' (units of the asset)",
        "32: portfolios.alice.plans.BTC.stop_loss_usd: expected a number greater than 0, got -100",
    ],
}


def test_every_broken_example_has_expectations() -> None:
    """Each file in examples/broken/ is covered by EXPECTED (and the other way round)."""
    assert sorted(path.name for path in BROKEN.glob("*.toml")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_broken_example_reports_every_problem(name: str, broken_env: None) -> None:
    """A broken example yields exactly the expected 'file:line: key: message' lines, all at once."""
    path = BROKEN / name
    expected = [f"{path}:{line.replace('{dir}', str(BROKEN))}" for line in EXPECTED[name]]
    assert _problems(path) == expected


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_no_message_contains_a_secret(name: str, broken_env: None) -> None:
    """No problem of any broken example shows a literal secret written in it."""
    with pytest.raises(ConfigError) as caught:
        load_config(BROKEN / name)
    assert CANARY not in str(caught.value)
    assert all(CANARY not in problem.message for problem in caught.value.problems)


def test_literal_secret_example_holds_the_canary() -> None:
    """The canary test above can fail: the literal secrets really are in the file."""
    assert (BROKEN / "literal_secret.toml").read_text(encoding="utf-8").count(CANARY) == 4


@pytest.mark.parametrize(
    "text",
    [
        'api_secret = CANARY-5ecret-unquoted\n',
        'api_secret = "CANARY-5ecret-unclosed\n',
        '[kafka]\nsasl_password = ["CANARY-5ecret-in-a-list"]\n',
        '[[accounts]]\nid = "a"\nvenue = "okx"\nportfolio = "p"\napi_secret = { value = "CANARY-5ecret" }\n',
        ('[[accounts]]\nid = "a"\nvenue = "okx"\nportfolio = "p"\napi_secret = "file:"\n'
         'api_key = "env:CANARY-5ecret"\npassphrase = "env:5ecret"\n'),
    ],
)
def test_secret_in_odd_places_never_printed(text: str) -> None:
    """Secrets in syntax errors, wrong types or malformed references are never echoed."""
    problems = _parse_problems(text)
    assert problems
    assert all(CANARY not in problem for problem in problems)


def test_unknown_key_without_close_match_lists_the_allowed_keys() -> None:
    """An unknown key with no close match lists every allowed key of its table."""
    assert _parse_problems("[metrics]\nzzz = 1\n") == [
        ("test.toml:2: metrics.zzz: unknown key 'zzz'; expected one of: enabled, host, port, "
         "portfolio_label_limit"),
    ]


def test_sasl_protocol_needs_its_three_settings() -> None:
    """security_protocol SASL_* without mechanism, user and password names each missing key."""
    assert _parse_problems('[kafka]\nbootstrap_servers = "k:9092"\nsecurity_protocol = "SASL_SSL"\n') == [
        f"test.toml:1: kafka.{key}: missing {key!r}: security_protocol 'SASL_SSL' needs "
        "sasl_mechanism, sasl_username and sasl_password"
        for key in ("sasl_mechanism", "sasl_username", "sasl_password")
    ]


def test_problem_lines_in_the_second_array_table() -> None:
    """Keys of the second [[accounts]] are located on their own lines, after a blank line too."""
    text = (
        '[[accounts]]\nid = "a"\nvenue = "okx"\nportfolio = "p"\n'
        '[[accounts]]\nid = "b"\nvenue = "binance"\n\nportfolio = 5\n'
        'holdings = [{ account = "c", portfolio = "p", asset = "BTC", quantity = "x" }]\n'
    )
    assert _parse_problems(text) == [
        "test.toml:9: accounts[1].portfolio: expected a string, got 5",
        ("test.toml:10: accounts[1].holdings: unknown key 'holdings'; expected one of: id, venue, portfolio, "
         "symbols, api_key, api_secret, passphrase, ws_base_url, rest_base_url, ws_api_url, "
         "portfolio_margin, address"),
    ]


def test_inline_array_of_tables_falls_back_to_the_key_line() -> None:
    """A problem inside an inline array of tables is reported on the array's own line."""
    text = '\n[metrics]\nport = 1\n\nholdings = 3\n'
    # holdings = 3 sits inside [metrics] here, so it is an unknown key of that table.
    assert _parse_problems(text) == [
        ("test.toml:5: metrics.holdings: unknown key 'holdings'; expected one of: enabled, host, port, "
         "portfolio_label_limit"),
    ]
    text = 'holdings = [{ account = "c", portfolio = "p", asset = "BTC", quantity = "x" }]\n'
    assert _parse_problems(text) == ["test.toml:1: holdings[0].quantity: expected a number, got 'x'"]


def test_section_of_the_wrong_shape() -> None:
    """A section that is not a table, or accounts given as a table, is reported with the expected shape."""
    assert _parse_problems('metrics = 5\n[accounts]\nid = "a"\n') == [
        "test.toml:1: metrics: expected a table [metrics], got 5",
        "test.toml:2: accounts: expected an array of tables [[accounts]], got a table",
    ]


def test_dotted_key_paths() -> None:
    """Key paths print as in the messages: indices in brackets, non-bare keys quoted."""
    assert dotted(("accounts", 1, "api_secret")) == "accounts[1].api_secret"
    assert dotted(("instruments", "okx:BTC-USDT-SWAP", "tiers", 0, "mmr")) == (
        'instruments."okx:BTC-USDT-SWAP".tiers[0].mmr')


def test_problem_formatting() -> None:
    """A problem prints as file:line: key: message; without a line or key those parts are left out."""
    problem = ConfigProblem("m.toml", 3, ("kafka", "partitions"), "bad")
    assert str(problem) == "m.toml:3: kafka.partitions: bad"
    assert str(ConfigProblem("m.toml", 0, (), "cannot read")) == "m.toml: cannot read"


def test_missing_file_is_one_problem(tmp_path: Path) -> None:
    """A file that cannot be read is one problem naming the file."""
    path = tmp_path / "absent.toml"
    assert _problems(path) == [f"{path}: cannot read the file: No such file or directory"]


# --- check-config ----------------------------------------------------------------------------------


def test_check_config_ok(okx_env: None, capsys: pytest.CaptureFixture[str]) -> None:
    """check-config prints a one-line summary and exits 0 for the example."""
    path = str(EXAMPLES / "monitor.toml")
    assert check_config_command(path) == 0
    captured = capsys.readouterr()
    assert captured.out == f"{path}: OK (1 portfolios, 1 accounts, 1 feeds)\n"
    assert captured.err == ""


def test_check_config_problems(broken_env: None, capsys: pytest.CaptureFixture[str]) -> None:
    """check-config prints every problem on its own stderr line and exits 2."""
    path = BROKEN / "bad_enum.toml"
    assert check_config_command(str(path)) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [f"{path}:{line}" for line in EXPECTED["bad_enum.toml"]]


def test_check_config_unset_variable(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The example without its environment variables fails, naming each variable."""
    for name in ("OKX_API_KEY", "OKX_API_SECRET", "OKX_PASSPHRASE"):
        monkeypatch.delenv(name, raising=False)
    assert check_config_command(str(EXAMPLES / "monitor.toml")) == 2
    err = capsys.readouterr().err
    assert [line.split(": ")[1] for line in err.splitlines()] == [
        "accounts[0].api_key", "accounts[0].api_secret", "accounts[0].passphrase"]
    assert "environment variable OKX_API_SECRET is not set" in err


def test_a_spot_source_must_price_the_plans_asset(tmp_path: Path) -> None:
    """spot_source names a known instrument whose base is the plan's asset, else the file says so."""
    path = tmp_path / "m.toml"
    path.write_text('[portfolios.a.plans.BTC]\nspot_source = "okx:ETH-USDT"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "portfolios.a.plans.BTC.spot_source: okx:ETH-USDT prices ETH, not BTC" in str(caught.value)
