"""Values a config refers to outside itself: secrets in the environment or in files, and TLS files.

A secret key (API key, secret, passphrase, the SASL password) holds a reference ``env:NAME`` or
``file:PATH`` that is resolved here, at load time, into a ``Secret``; a literal is refused and no
message shows a secret's value. Relative paths (``file:`` secrets, TLS files) are relative to the
config file's directory. Problems are reported through the checker, at the referring key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, Final

from monitor.config.checker import Checker, show
from monitor.config.problems import KeyPath
from monitor.secrets import Secret, SecretError, resolve_secret

_ENV_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_RELATIVE_NOTE: Final = "relative paths are relative to the config file"


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


class References:
    """Resolves the references of one config file; ``base_dir`` is the file's directory."""

    def __init__(self, check: Checker, base_dir: Path) -> None:
        self.check = check
        self.base_dir = base_dir

    def secret(self, data: Mapping[str, Any], path: KeyPath, key: str) -> Secret | None:
        """Resolve a secret reference ``env:NAME`` or ``file:PATH``; never shows the value."""
        value = data.get(key)
        if value is None:
            return None
        key_path = (*path, key)
        if not isinstance(value, str):
            self.check.report(key_path, f"expected a secret reference 'env:NAME' or 'file:PATH' (a string), "
                                        f"got {_kind(value)}")
            return None
        secret_file: Path | None = None
        if value.startswith("env:"):
            if not _ENV_NAME.fullmatch(value.removeprefix("env:")):
                self.check.report(key_path, "the variable name after 'env:' must be letters, digits and "
                                            "underscores, not starting with a digit")
                return None
            reference = value
            fix = "export it or use file:PATH"
        elif value.startswith("file:"):
            if not value.removeprefix("file:"):
                self.check.report(key_path, "expected a path after 'file:'")
                return None
            secret_file = self.base_dir / Path(value.removeprefix("file:")).expanduser()
            reference = f"file:{secret_file}"
            fix = f"create it or fix the path ({_RELATIVE_NOTE})"
        else:
            self.check.report(key_path, "a secret must be a reference 'env:NAME' or 'file:PATH', "
                                        "not a literal value")
            return None
        try:
            secret = resolve_secret(reference)
        except SecretError as exc:
            self.check.report(key_path, f"{exc}: {fix}")
            return None
        if not secret.reveal():
            self.check.report(key_path, f"the secret file {secret_file} is empty")
            return None
        return secret

    def existing_file(self, data: Mapping[str, Any], path: KeyPath, key: str) -> str | None:
        """An existing file path (relative to the config file's directory), or None."""
        value = data.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not value:
            self.check.report((*path, key), f"expected a file path, got {show(value)}")
            return None
        resolved = self.base_dir / Path(value).expanduser()
        if not resolved.is_file():
            self.check.report((*path, key), f"file {str(resolved)!r} does not exist ({_RELATIVE_NOTE})")
            return None
        return str(resolved)
