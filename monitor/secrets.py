"""Secret values (API keys, secrets, passphrases) that never print.

A ``Secret`` is resolved from an environment variable or a file named in config; its ``repr`` and
``str`` are a fixed mask, so it cannot leak through logs, exceptions, f-strings or metrics by
accident. Only ``reveal()`` gives the value, and only signing code calls it.
"""

from __future__ import annotations

import os
from pathlib import Path

from monitor.errors import HedgeMonitorError

MASK = "***"


class SecretError(HedgeMonitorError, ValueError):
    """A secret reference cannot be resolved (the message names the reference, never a value)."""


class Secret:
    """A string that prints as ``***``."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret value, for signing only."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret({MASK})"

    def __str__(self) -> str:
        return MASK

    def __format__(self, spec: str) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("secrets cannot be pickled")


def resolve_secret(reference: str) -> Secret:
    """Resolve ``env:NAME`` or ``file:PATH`` to a Secret; a literal is refused."""
    if reference.startswith("env:"):
        name = reference[4:]
        value = os.environ.get(name)
        if value is None or value == "":
            raise SecretError(f"environment variable {name} is not set (referenced as {reference!r})")
        return Secret(value)
    if reference.startswith("file:"):
        path = Path(reference[5:])
        try:
            return Secret(path.read_text(encoding="utf-8").strip())
        except OSError as exc:
            raise SecretError(f"cannot read secret file {path}: {exc.strerror}") from None
    raise SecretError(
        "a secret must be a reference 'env:VARIABLE' or 'file:/path/to/file', not a literal value"
    )
