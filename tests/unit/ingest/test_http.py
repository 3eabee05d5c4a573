"""The stdlib HTTP transport: URLs, responses of any status, and errors free of secrets."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from monitor.ingest.http import IngestError, UrllibTransport, describe, request_url
from monitor.venues.base import HttpRequest

SECRET = "S3CR3T-signature-and-key"  # noqa: S105 -- a marker to search for, not a credential


@asynccontextmanager
async def http_server(status: int, body: bytes, delay_s: float = 0.0) -> AsyncIterator[list[bytes]]:
    """A one-response-per-connection HTTP/1.1 server on 127.0.0.1; yields the raw requests."""
    requests: list[bytes] = []
    writers: list[asyncio.StreamWriter] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        try:
            requests.append(await reader.readuntil(b"\r\n\r\n"))
            await asyncio.sleep(delay_s)  # simulates a slow server
            head = f"HTTP/1.1 {status} X\r\nContent-Length: {len(body)}\r\n\r\n"
            writer.write(head.encode() + body)
            await writer.drain()
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    requests.append(str(server.sockets[0].getsockname()[1]).encode())
    try:
        async with server:
            yield requests
    finally:
        for writer in writers:
            writer.close()


def _request(port: int, path: str = "/fapi/v2/positionRisk") -> HttpRequest:
    return HttpRequest(
        "GET",
        f"http://127.0.0.1:{port}",
        path,
        "positions",
        query=(("timestamp", "1"), ("signature", SECRET)),
        headers={"X-MBX-APIKEY": SECRET},
    )


def test_request_url_joins_base_path_and_query() -> None:
    """The URL is base + path + the query percent-encoded exactly as venues sign it."""
    query = (("b", "1 2"), ("a", "x/y~z"))
    request = HttpRequest("GET", "https://fapi.binance.com/", "/fapi/v1/x", "p", query)
    # order kept, space -> %20, "/" -> %2F, "~" unreserved: the same bytes the venue signed
    assert request_url(request) == "https://fapi.binance.com/fapi/v1/x?b=1%202&a=x%2Fy~z"
    assert describe(request) == "GET fapi.binance.com/fapi/v1/x"


async def test_returns_body_and_sends_headers() -> None:
    """A 200 response comes back with its body; headers and the query reach the server."""
    async with http_server(200, b'[{"symbol":"BTCUSDT"}]') as seen:
        port = int(seen.pop(0))
        response = await UrllibTransport().send(_request(port), 5.0)
    assert response.status == 200
    assert response.ok
    assert response.body == b'[{"symbol":"BTCUSDT"}]'
    assert f"X-Mbx-Apikey: {SECRET}".encode() in seen[0]
    assert b"GET /fapi/v2/positionRisk?timestamp=1&signature=" in seen[0]


async def test_error_status_is_a_response_not_an_exception() -> None:
    """A 4xx is returned with its body so the caller can read the exchange's error code."""
    async with http_server(400, b'{"code":-1125}') as seen:
        port = int(seen.pop(0))
        response = await UrllibTransport().send(_request(port), 5.0)
    assert (response.status, response.body, response.ok) == (400, b'{"code":-1125}', False)


async def test_redirects_are_not_followed() -> None:
    """A 3xx is returned as is: a signed request is never replayed elsewhere."""
    async with http_server(302, b"") as seen:
        port = int(seen.pop(0))
        response = await UrllibTransport().send(_request(port), 5.0)
    assert response.status == 302
    assert len(seen) == 1


async def test_connection_refused_raises_ingest_error_without_secrets() -> None:
    """A network failure is an IngestError naming the host and path, never query or headers."""
    async with http_server(200, b"") as seen:
        port = int(seen.pop(0))
    with pytest.raises(IngestError) as caught:
        await UrllibTransport().send(_request(port), 5.0)
    message = str(caught.value)
    assert f"GET 127.0.0.1:{port}/fapi/v2/positionRisk" in message
    assert SECRET not in message
    assert SECRET not in repr(caught.value)
    assert caught.value.__cause__ is None


async def test_timeout_raises_ingest_error() -> None:
    """No response within the timeout is an IngestError."""
    async with http_server(200, b"{}", delay_s=2.0) as seen:
        port = int(seen.pop(0))
        with pytest.raises(IngestError, match=r"no response within 0\.2 s"):
            await UrllibTransport().send(_request(port), 0.2)


async def test_oversized_body_is_refused() -> None:
    """A body above the size limit is an IngestError, not an unbounded read."""
    async with http_server(200, b"x" * 100) as seen:
        port = int(seen.pop(0))
        with pytest.raises(IngestError, match="larger than 10 bytes"):
            await UrllibTransport(max_response_bytes=10).send(_request(port), 5.0)


async def test_non_http_scheme_is_refused() -> None:
    """Only http and https URLs are sent (urllib would open file:// too)."""
    request = HttpRequest("GET", "file:///etc", "/passwd", "p")
    with pytest.raises(IngestError, match="unsupported URL scheme"):
        await UrllibTransport().send(request, 1.0)
