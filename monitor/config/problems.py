"""Problems of a config file as structured items: where (file, line, key path) and what is wrong.

A problem keeps its key path as a tuple; it becomes text (``<file>:<line>: <key>: <message>``) only
where it is shown: ``str(problem)``, ``str(ConfigError)`` and ``check-config``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from monitor.errors import HedgeMonitorError

KeyPath = tuple[str | int, ...]
"""Where a value sits in the document: table and key names, array indices (``("accounts", 1, "id")``)."""

BARE_KEY: Final = re.compile(r"[A-Za-z0-9_-]+")
"""A TOML bare key; any other key is written quoted."""


def dotted(path: KeyPath) -> str:
    """A key path as written in messages: ``accounts[1].api_secret``, ``instruments."okx:X".kind``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
            continue
        shown = part if BARE_KEY.fullmatch(part) else '"' + part.replace('"', '\\"') + '"'
        text = f"{text}.{shown}" if text else shown
    return text


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One problem of a config file: where it is (file, 1-based line, key path) and how to fix it.

    ``line`` is 0 and ``key_path`` empty when the problem is the file as a whole (it cannot be read).
    """

    file: str
    line: int
    key_path: KeyPath
    message: str

    @property
    def key(self) -> str:
        """The key path as messages write it (``accounts[0].api_key``); empty for the whole file."""
        return dotted(self.key_path)

    def __str__(self) -> str:
        place = f"{self.file}:{self.line}" if self.line > 0 else self.file
        key = self.key
        return f"{place}: {key}: {self.message}" if key else f"{place}: {self.message}"


class ConfigError(HedgeMonitorError, ValueError):
    """A config file has problems; ``problems`` lists every one, ``str`` shows one per line."""

    def __init__(self, problems: Sequence[ConfigProblem]) -> None:
        self.problems: tuple[ConfigProblem, ...] = tuple(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))
