"""The typed configuration: frozen dataclasses that ``load_config`` returns, one per table kind."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from monitor.alertmanager import BridgeSettings
from monitor.alerts.config import AlertsConfig
from monitor.bus.base import Topics
from monitor.bus.kafka import KafkaSettings
from monitor.config.problems import ConfigProblem
from monitor.domain.events import BalanceEvent
from monitor.domain.instruments import Catalog, default_catalog
from monitor.domain.plans import EffectivenessSettings, PortfolioSettings
from monitor.eventloop import DEFAULT_EVENT_LOOP
from monitor.metrics import DEFAULT_METRICS_HOST, DEFAULT_METRICS_PORT, DEFAULT_PORTFOLIO_LABEL_LIMIT
from monitor.processor.runner import ProcessorSettings
from monitor.venues.base import AccountContext, Credentials


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
    portfolio_margin: bool = False  # a Binance Portfolio Margin account (docs/venue-fields.md)
    address: str | None = field(default=None, repr=False)
    """The wallet address of a venue watched by address (Hyperliquid); personal, kept out of reprs."""

    def context(self) -> AccountContext:
        """The account context a venue needs for its private streams."""
        return AccountContext(account=self.id, portfolio=self.portfolio, credentials=self.credentials,
                              address=self.address)

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
    alertmanager: BridgeSettings | None = None
    """``[alertmanager]``: where ``run`` pushes the alert transitions (None: no bridge)."""
    warnings: tuple[ConfigProblem, ...] = ()
    """What ``check-config`` warns of: accepted settings only the running ingest can confirm."""

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
