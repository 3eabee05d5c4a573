"""The one TOML configuration file of hedge-monitor, its typed loader and ``check-config``.

``load_config(path)`` reads the file with ``tomllib``, checks every key and value, and returns a
frozen ``MonitorConfig``; otherwise it raises ``ConfigError`` listing every problem found, each a
``ConfigProblem(file, line, key_path, message)`` that prints as ``<file>:<line>: <key>: <message>``.
``docs/configuration.md`` lists every key; the commented ``examples/monitor.toml`` is a starting point.

Exceptions::

    ValueError
     └── ConfigError          .problems: tuple[ConfigProblem, ...] (file, line, key_path, message)

Modules, one job each:

- ``problems``: ``ConfigProblem``, ``ConfigError``, key paths (``KeyPath``, ``dotted``);
- ``checker``: the location-aware checker (``Locator`` finds a key's line, ``Checker`` reads values);
- ``model``: the typed configuration (frozen dataclasses);
- ``references``: secrets from the environment or files, TLS files;
- ``sections``: each table of the document read into its settings;
- ``loader``: the file and its TOML (``load_config``, ``parse_config``, ``check_config_command``).

Rules kept throughout:

- unknown keys are refused at every level, with a ``did you mean`` suggestion (``difflib``);
- secrets (API keys, secrets, passphrases, the SASL password) are references ``env:NAME`` or
  ``file:PATH`` resolved at load time into ``Secret``; a literal is refused, and no message ever
  shows the value of a secret key;
- relative paths (``file:`` secrets, TLS files) are relative to the config file's directory;
- ``tomllib`` reports no positions, so a problem's line is found by scanning the raw text for the
  table header and key (best effort; the enclosing table's header line otherwise);
- facts owned elsewhere are read from their owner, never copied: venue names and what each venue
  takes (``monitor.venues.registry``), rule setting keys (``monitor.alerts.registry``), instrument
  keys (``monitor.domain.instruments``).
"""

from monitor.config.loader import check_config_command, load_config, parse_config
from monitor.config.model import (
    AccountConfig,
    FeedConfig,
    LoggingSettings,
    MetricsSettings,
    MonitorConfig,
    PortfolioConfig,
    StaticHolding,
)
from monitor.config.problems import ConfigError, ConfigProblem, KeyPath, dotted
from monitor.config.sections import LOG_FORMATS, LOG_LEVELS, SASL_MECHANISMS, SECURITY_PROTOCOLS
from monitor.domain.instruments import INSTRUMENT_KEYS

__all__ = [
    "INSTRUMENT_KEYS", "LOG_FORMATS", "LOG_LEVELS", "SASL_MECHANISMS", "SECURITY_PROTOCOLS",
    "AccountConfig", "ConfigError", "ConfigProblem", "FeedConfig", "KeyPath", "LoggingSettings",
    "MetricsSettings", "MonitorConfig", "PortfolioConfig", "StaticHolding", "check_config_command",
    "dotted", "load_config", "parse_config",
]
