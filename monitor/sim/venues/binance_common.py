"""What the simulated Binance USDⓈ-M and Spot venues share: API-key and SIGNED-request checks.

Binance "SIGNED endpoint security": the API key travels in header ``X-MBX-APIKEY``; ``signature``
is hex(HMAC-SHA256(secret, totalParams)) where totalParams is the query string (without
``signature``) followed by the body; ``timestamp`` must be within ``recvWindow`` (default 5000 ms)
of server time. Error bodies are ``{"code": <negative int>, "msg": "..."}``.
"""

from __future__ import annotations

import hmac

from monitor.sim.venues.base import RestRequest, RestResponse, hmac_hex
from monitor.sim.world import SimAccount, SimWorld

DEFAULT_RECV_WINDOW_MS = 5000


def binance_error(status: int, code: int, message: str) -> RestResponse:
    """A Binance error response."""
    return RestResponse.json(status, {"code": code, "msg": message})


def api_key_account(world: SimWorld, venue: str, request: RestRequest) -> SimAccount | RestResponse:
    """The account of the ``X-MBX-APIKEY`` header, or the error Binance sends."""
    key = request.header("X-MBX-APIKEY")
    if not key:
        return binance_error(401, -2014, "API-key format invalid.")
    account = world.account_for_key(venue, key)
    if account is None:
        return binance_error(401, -2015, "Invalid API-key, IP, or permissions for action.")
    return account


def signed_account(
    world: SimWorld, venue: str, request: RestRequest, *, verify: bool
) -> SimAccount | RestResponse:
    """The account of a SIGNED request after the API-key, timestamp and signature checks."""
    account = api_key_account(world, venue, request)
    if isinstance(account, RestResponse):
        return account
    params = request.params
    timestamp = params.get("timestamp", "")
    if not timestamp.isdigit():
        return binance_error(
            400,
            -1102,
            "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.",
        )
    window = params.get("recvWindow", str(DEFAULT_RECV_WINDOW_MS))
    window_ms = int(window) if window.isdigit() else DEFAULT_RECV_WINDOW_MS
    if abs(world.now_ms() - int(timestamp)) > window_ms:
        return binance_error(400, -1021, "Timestamp for this request is outside of the recvWindow.")
    if verify:
        pairs = [part for part in request.raw_query.split("&") if part]
        signature = next((p[len("signature=") :] for p in pairs if p.startswith("signature=")), "")
        payload = "&".join(p for p in pairs if not p.startswith("signature="))
        expected = hmac_hex(account.api_secret, payload)
        if not hmac.compare_digest(signature.lower(), expected):
            return binance_error(400, -1022, "Signature for this request is not valid.")
    return account
