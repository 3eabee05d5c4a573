"""A small async HTTP client for the REST calls venues build (listenKey, keepalive, resync).

The I/O sits behind a one-method seam, ``HttpTransport.send``, so tests swap in an in-memory
transport or point the real one at the simulator. ``UrllibTransport`` uses only the standard
library (``urllib`` in a worker thread), speaks HTTPS to real venues and HTTP to the simulator.

Errors::

    IngestError            network failure, timeout, refused scheme, oversized body
                           (the message names the method, host and path: never headers or query,
                           which carry API keys, signatures and listenKeys)

Any HTTP status is a response, not an error: the caller decides what a 4xx means.
"""

from __future__ import annotations

import asyncio
import http.client
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Protocol

from monitor.errors import HedgeMonitorError
from monitor.venues.base import HttpRequest

DEFAULT_TIMEOUT_S = 10.0
MAX_RESPONSE_BYTES = 16 << 20


class IngestError(HedgeMonitorError):
    """A REST call failed before a response arrived; the message never contains secrets."""


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """Status code and body of one REST response."""

    status: int
    body: bytes

    @property
    def ok(self) -> bool:
        """True for a 2xx status."""
        return 200 <= self.status < 300


class HttpTransport(Protocol):
    """Sends one REST request and returns the response."""

    async def send(self, request: HttpRequest, timeout_s: float) -> HttpResponse:
        """Send ``request``; raise IngestError if no response arrives within ``timeout_s``."""
        ...


def request_url(request: HttpRequest) -> str:
    """The full URL of a request: base URL, path and query in order, percent-encoded.

    Everything but RFC 3986 unreserved characters is percent-encoded (``%20`` for a space), the
    encoding venues sign (``monitor.venues.signing.query_string``): the signed string and the sent
    string must be byte-identical.
    """
    url = request.base_url.rstrip("/") + request.path
    if request.query:
        url += "?" + urllib.parse.urlencode(request.query, safe="", quote_via=urllib.parse.quote)
    return url


def describe(request: HttpRequest) -> str:
    """``METHOD host/path`` of a request, safe to log (no query, no headers)."""
    host = urllib.parse.urlsplit(request.base_url).netloc
    return f"{request.method} {host}{request.path}"


class _Readable(Protocol):
    def read(self, amt: int, /) -> bytes: ...


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Refuse redirects (a 3xx becomes the response): signed requests never go to another URL."""

    max_redirections = 0


class UrllibTransport:
    """``HttpTransport`` over ``urllib`` in a worker thread (stdlib only)."""

    def __init__(self, max_response_bytes: int = MAX_RESPONSE_BYTES) -> None:
        self._max_response_bytes = max_response_bytes
        self._opener = urllib.request.build_opener(_NoRedirect())

    async def send(self, request: HttpRequest, timeout_s: float = DEFAULT_TIMEOUT_S) -> HttpResponse:
        """Send ``request`` and return any HTTP response; raise IngestError otherwise."""
        scheme = urllib.parse.urlsplit(request.base_url).scheme
        if scheme not in ("http", "https"):
            raise IngestError(f"{describe(request)}: unsupported URL scheme {scheme!r}")
        try:
            async with asyncio.timeout(timeout_s):
                return await asyncio.to_thread(self._send_blocking, request, timeout_s)
        except TimeoutError:
            raise IngestError(f"{describe(request)}: no response within {timeout_s:g} s") from None

    def _send_blocking(self, request: HttpRequest, timeout_s: float) -> HttpResponse:
        prepared = urllib.request.Request(  # noqa: S310 -- scheme checked to be http/https above
            request_url(request),
            data=request.body,
            headers=dict(request.headers),
            method=request.method,
        )
        try:
            with self._opener.open(prepared, timeout=timeout_s) as response:
                return HttpResponse(response.status, self._read(response, request))
        except urllib.error.HTTPError as error:
            with error:
                return HttpResponse(error.code, self._read(error, request))
        except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as exc:
            # str(exc) of these never includes request headers; the URL (with its query) is not
            # in it either, but name only the exception type and errno text to be certain.
            detail = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or ""
            raise IngestError(
                f"{describe(request)}: {type(exc).__name__} {_safe_detail(detail)}".rstrip()
            ) from None

    def _read(self, stream: _Readable, request: HttpRequest) -> bytes:
        body = stream.read(self._max_response_bytes + 1)
        if len(body) > self._max_response_bytes:
            raise IngestError(f"{describe(request)}: response larger than {self._max_response_bytes} bytes")
        return body


def _safe_detail(detail: object) -> str:
    """A short description of a low-level error reason (errno text, timeout), never a URL."""
    if isinstance(detail, OSError) and detail.strerror:
        return f"{type(detail).__name__} ({detail.strerror})"
    if isinstance(detail, BaseException):
        return type(detail).__name__
    text = str(detail)
    return text if "?" not in text and "://" not in text else ""
