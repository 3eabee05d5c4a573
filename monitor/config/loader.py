"""Loading a config: the TOML file read and parsed, then checked into a ``MonitorConfig``.

``load_config(path)`` reads the file, ``parse_config(text)`` parses TOML text; both raise
``ConfigError`` listing every problem found. ``check_config_command`` is the edge where problems
become lines of text.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path
from typing import Final

from monitor.config.checker import Checker, Locator
from monitor.config.model import MonitorConfig
from monitor.config.problems import ConfigError, ConfigProblem
from monitor.config.references import References
from monitor.config.sections import config_from_document

_SYNTAX_POSITION: Final = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")
"""Where ``tomllib`` puts the position of a syntax error: its message is the only place (3.11)."""


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
        raise ConfigError([ConfigProblem(source, line, (), f"TOML syntax error: {message}")]) from None
    check = Checker(source, Locator(text))
    references = References(check, base_dir if base_dir is not None else Path())
    return config_from_document(check, references, document)


def load_config(path: str | Path) -> MonitorConfig:
    """Read and check the TOML config file at ``path``; ConfigError lists every problem found."""
    source = str(path)
    file_path = Path(path)
    try:
        text = file_path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([ConfigProblem(source, 0, (), f"cannot read the file: {exc.strerror}")]) from None
    except UnicodeDecodeError:
        raise ConfigError([ConfigProblem(source, 0, (), "the file is not UTF-8 text")]) from None
    return parse_config(text, source=source, base_dir=file_path.parent)


def check_config_command(path: str) -> int:
    """``hedge-monitor check-config FILE``: print OK and a summary (0), or every problem (2)."""
    try:
        config = load_config(path)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 2
    for warning in config.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"{path}: OK ({len(config.portfolio_ids())} portfolios, {len(config.accounts)} accounts, "
          f"{len(config.feeds)} feeds)")
    return 0
