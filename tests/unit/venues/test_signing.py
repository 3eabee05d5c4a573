"""Signing helpers against the exchanges' documented examples (and independent values where none)."""

from __future__ import annotations

import pytest

from monitor.secrets import Secret
from monitor.venues.base import Credentials
from monitor.venues.signing import (
    Redacted,
    api_key,
    hmac_sha256_base64,
    hmac_sha256_hex,
    iso_timestamp_ms,
    passphrase,
    query_string,
    sorted_query_string,
)

# Binance's documented example key pair (REST "SIGNED Endpoint Examples", Spot WebSocket API).
BINANCE_SECRET = Secret("NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j")
BINANCE_API_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"


def test_binance_rest_documented_signature() -> None:
    """The Binance REST docs' HMAC example query signs to the documented hex digest."""
    pairs = (
        ("symbol", "LTCBTC"), ("side", "BUY"), ("type", "LIMIT"), ("timeInForce", "GTC"),
        ("quantity", "1"), ("price", "0.1"), ("recvWindow", "5000"), ("timestamp", "1499827319559"),
    )
    query = query_string(pairs)
    assert query == (
        "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1"
        "&recvWindow=5000&timestamp=1499827319559"
    )
    assert hmac_sha256_hex(BINANCE_SECRET, query) == (
        "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
    )


def test_binance_websocket_api_documented_signature() -> None:
    """Sorted WebSocket API params give the documented payload and signature (web-socket-api.md)."""
    params = {
        "symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT", "timeInForce": "GTC",
        "quantity": "0.01000000", "price": "52000.00", "newOrderRespType": "ACK",
        "recvWindow": "100", "timestamp": "1645423376532", "apiKey": BINANCE_API_KEY,
    }
    payload = sorted_query_string(params)
    assert payload == (
        f"apiKey={BINANCE_API_KEY}&newOrderRespType=ACK&price=52000.00&quantity=0.01000000"
        "&recvWindow=100&side=SELL&symbol=BTCUSDT&timeInForce=GTC&timestamp=1645423376532&type=LIMIT"
    )
    assert hmac_sha256_hex(BINANCE_SECRET, payload) == (
        "cc15477742bd704c29492d96c7ead9414dfd8e0ec4a00f947bb5bb454ddbd08a"
    )


def test_okx_rest_signature_matches_openssl() -> None:
    """OKX REST prehash signs like openssl does (the docs give a secret but no expected output).

    Independent value: ``echo -n '2020-12-08T09:08:57.715ZGET/api/v5/account/balance?ccy=BTC' |
    openssl dgst -sha256 -hmac '22582BD0CFF14C41EDBF1AB98506286D' -binary | base64``.
    """
    secret = Secret("22582BD0CFF14C41EDBF1AB98506286D")  # the OKX docs' example SecretKey
    prehash = "2020-12-08T09:08:57.715Z" + "GET" + "/api/v5/account/balance?ccy=BTC"
    assert hmac_sha256_base64(secret, prehash) == "HiZhvSfMtWJA3uUIVXV3a/bSXNPCWvYFXoGCVS8V4zY="


def test_okx_login_signature_matches_openssl() -> None:
    """OKX WebSocket login prehash ``timestamp + GET + /users/self/verify`` (openssl-computed).

    The docs' login example shows sign ``7L+zFQ..`` but masks the secret, so it cannot be checked.
    """
    secret = Secret("22582BD0CFF14C41EDBF1AB98506286D")
    assert hmac_sha256_base64(secret, "1538054050GET/users/self/verify") == (
        "+LdIr8lkkvhr5hoA3g9TMC0+uQJ849ftAcocA/ouu4M="
    )


def test_bybit_signatures_match_openssl() -> None:
    """Bybit REST and WebSocket auth payloads sign like openssl (Bybit documents no expected output).

    Payloads are the docs' own examples: REST GET ``timestamp+api_key+recv_window+queryString``
    and WebSocket ``"GET/realtime" + expires``; the secret is invented.
    """
    secret = Secret("bybit-example-secret")
    rest_payload = "1658384314791" + "XXXXXXXXXX" + "5000" + "category=option&symbol=BTC-29JUL22-25000-C"
    assert hmac_sha256_hex(secret, rest_payload) == (
        "505efdc628fb5f1a147b060fcbada9d2e1e8aa9a7bba4bee86554404fa63fd14"
    )
    assert hmac_sha256_hex(secret, "GET/realtime1662350400000") == (
        "b1c974e475595024e02507938cb734013f611c8357be29521a912d2e048c9b55"
    )


def test_iso_timestamp_has_milliseconds_and_z() -> None:
    """Epoch ms 1607418537715 is the OKX docs' example timestamp 2020-12-08T09:08:57.715Z."""
    assert iso_timestamp_ms(1607418537715) == "2020-12-08T09:08:57.715Z"
    assert iso_timestamp_ms(1607418537005) == "2020-12-08T09:08:57.005Z"


def test_query_string_percent_encodes_reserved_characters() -> None:
    """Reserved characters are percent-encoded so the signed text equals the sent query."""
    assert query_string((("a", "x y"), ("b", "1&2=3"))) == "a=x%20y&b=1%262%3D3"


def test_redacted_text_hides_in_repr_only() -> None:
    """Redacted text keeps its value for sending but prints a mask in reprs of containers."""
    value = Redacted("canary-value")
    assert value == "canary-value"
    assert str(value) == "canary-value"
    assert "canary-value" not in repr(value)
    assert "canary-value" not in repr({"header": value})
    assert "canary-value" not in repr((value,))


def test_credential_values_are_redacted_and_passphrase_required() -> None:
    """The API key and passphrase come back redacted; a missing passphrase is refused."""
    credentials = Credentials(Secret("key-123"), Secret("secret-456"), Secret("phrase-789"))
    assert api_key(credentials) == "key-123"
    assert "key-123" not in repr(api_key(credentials))
    assert passphrase(credentials) == "phrase-789"
    with pytest.raises(ValueError, match="no passphrase"):
        passphrase(Credentials(Secret("key-123"), Secret("secret-456")))
