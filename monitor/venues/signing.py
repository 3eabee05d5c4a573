"""Request signing for the venue modules: the only code that reveals a ``Secret``.

Algorithms (each venue module cites where it uses them):

- Binance REST and WebSocket API, Bybit v5 REST and WebSocket auth: hex(HMAC-SHA256(secret, payload))
  (Binance "SIGNED Endpoint security", Binance Spot "web-socket-api: SIGNED request example (HMAC)",
  Bybit v5 "Integration Guidance: Authentication", Bybit "wss-authentication").
- OKX v5 REST and WebSocket login: Base64(HMAC-SHA256(secret, payload)) (OKX v5 "REST Authentication",
  "WebSocket Login").

Values that must travel in clear text (API keys, passphrases, frames that carry them) are returned as
``Redacted``: a ``str`` whose ``repr`` is a fixed mask, so a StreamPlan, an HttpRequest header mapping
or a tuple of frames can be logged with ``%r`` without leaking them. The text itself is unchanged
(``str(value)`` and sending it over a socket give the real value).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from urllib.parse import quote

from monitor.secrets import MASK, Secret
from monitor.venues.base import Credentials


class Redacted(str):
    """Text that must be sent as is but never shown: ``repr`` prints a mask."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"'{MASK}'"


def hmac_sha256_hex(secret: Secret, payload: str) -> str:
    """Lower-case hex of HMAC-SHA256(secret, payload), both UTF-8 (Binance, Bybit)."""
    return hmac.new(secret.reveal().encode(), payload.encode(), hashlib.sha256).hexdigest()


def hmac_sha256_base64(secret: Secret, payload: str) -> str:
    """Base64 of HMAC-SHA256(secret, payload), both UTF-8 (OKX)."""
    digest = hmac.new(secret.reveal().encode(), payload.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def query_string(pairs: Iterable[tuple[str, str]]) -> str:
    """``k1=v1&k2=v2`` in the given order, percent-encoding anything but unreserved characters.

    The supervisor must send ``HttpRequest.query`` in the same order with the same encoding; every
    value the venue modules sign is made of unreserved characters, so any standard encoder agrees.
    """
    return "&".join(f"{quote(key, safe='')}={quote(value, safe='')}" for key, value in pairs)


def sorted_query_string(params: Mapping[str, str]) -> str:
    """Parameters sorted by name, as the Binance WebSocket API signs them (``apiKey=..&timestamp=..``)."""
    return query_string(sorted(params.items()))


def iso_timestamp_ms(now_ms: int) -> str:
    """UTC ISO-8601 with milliseconds, ``2020-12-08T09:08:57.715Z`` (OKX ``OK-ACCESS-TIMESTAMP``)."""
    moment = datetime.fromtimestamp(now_ms // 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now_ms % 1000:03d}Z"


def api_key(credentials: Credentials) -> Redacted:
    """The API key, for a header or a login frame."""
    return Redacted(credentials.api_key.reveal())


def passphrase(credentials: Credentials) -> Redacted:
    """The API passphrase (OKX); ValueError when the credentials have none."""
    if credentials.passphrase is None:
        raise ValueError("these credentials have no passphrase, which this venue requires")
    return Redacted(credentials.passphrase.reveal())


__all__ = [
    "Redacted", "api_key", "hmac_sha256_base64", "hmac_sha256_hex", "iso_timestamp_ms",
    "passphrase", "query_string", "sorted_query_string",
]
