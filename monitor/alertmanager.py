"""The Alertmanager bridge: ``hedge.alerts`` transitions pushed to Alertmanager as they happen.

Each transition becomes a postable alert of ``POST /api/v2/alerts`` (Alertmanager "API v2",
``api/v2/openapi.yaml``: ``labels``, ``annotations``, ``startsAt``, ``endsAt``, ``generatorURL``):

- labels: ``alertname`` (the rule), ``severity``, ``portfolio``, ``rule``, ``source`` =
  ``hedge-monitor``, and the subject as ``instrument`` (with ``account`` when known), ``asset`` or
  ``subject``; so ``deploy/alertmanager`` routes and inhibits them like the Prometheus rules' alerts
  (``equal: [portfolio, account, instrument]``);
- annotations: ``summary`` (the message), ``remediation`` (its sentence, when it has one),
  ``alert_id``, ``value`` and ``threshold``;
- a firing has no ``endsAt``: Alertmanager then holds it for its ``resolve_timeout``, so the bridge
  posts every firing alert again each ``resend_s``; a resolution posts the same labels with
  ``endsAt``. Alertmanager compares ``endsAt`` with its own clock, so times are capped at the
  bridge's clock (a replayed or simulated event time in the future would keep an alert open).

A stage that worsens (warning to critical) posts the new severity; the resolution ends every
severity the alert was posted with. Posts are batched and coalesced by label set (the latest state
wins), retried with exponential backoff, and never awaited per message: the consumer only queues.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson

from monitor.alerts.registry import SPECS_BY_NAME
from monitor.alerts.remediation import remediation_text
from monitor.bus.base import Bus, Topics
from monitor.errors import HedgeMonitorError

log = logging.getLogger(__name__)

ALERTS_PATH = "/api/v2/alerts"
SOURCE = "hedge-monitor"


class BridgeError(HedgeMonitorError, RuntimeError):
    """The bridge is misconfigured (its URL) or Alertmanager rejected a post for good (4xx)."""


@dataclass(frozen=True, slots=True)
class BridgeSettings:
    """Where Alertmanager is and how the bridge posts to it."""

    url: str
    resend_s: float = 60.0
    timeout_s: float = 5.0
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    batch_size: int = 100
    generator_url: str = ""

    def __post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise BridgeError(f"alertmanager url must start with http:// or https://, got {self.url!r}")
        for name in ("resend_s", "timeout_s", "backoff_initial_s", "backoff_max_s"):
            if not getattr(self, name) > 0:
                raise BridgeError(f"alertmanager {name} must be greater than 0, got {getattr(self, name)!r}")
        if self.batch_size < 1:
            raise BridgeError(f"alertmanager batch_size must be at least 1, got {self.batch_size!r}")

    @property
    def alerts_url(self) -> str:
        """The ``POST /api/v2/alerts`` endpoint."""
        return self.url.rstrip("/") + ALERTS_PATH


class Transport(Protocol):
    """Sends one HTTP POST and returns the status code (raises OSError when unreachable)."""

    async def post(self, url: str, body: bytes, timeout_s: float) -> int:
        """POST ``body`` as JSON to ``url``."""
        ...


class UrllibTransport:
    """The stdlib HTTP client, run in a worker thread so the event loop never blocks."""

    async def post(self, url: str, body: bytes, timeout_s: float) -> int:
        """POST ``body`` as JSON; the status, also for an HTTP error status."""
        return await asyncio.to_thread(self._post, url, body, timeout_s)

    @staticmethod
    def _post(url: str, body: bytes, timeout_s: float) -> int:
        request = urllib.request.Request(  # noqa: S310 -- the scheme is checked by BridgeSettings
            url, data=body, method="POST", headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310
                status: int = response.status
                return status
        except urllib.error.HTTPError as error:
            return error.code


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat().replace("+00:00", "Z")


def _text(value: object) -> str:
    return "" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def alert_labels(value: Mapping[str, Any]) -> dict[str, str]:
    """The Alertmanager labels of one ``hedge.alerts`` value (see the module docstring)."""
    rule = str(value["rule"])
    subject = str(value["subject"])
    labels = {
        "alertname": rule,
        "severity": str(value["severity"]),
        "portfolio": str(value["portfolio"]),
        "rule": rule,
        "source": SOURCE,
    }
    spec = SPECS_BY_NAME.get(rule)
    kind = spec.subject_kind if spec is not None else "subject"
    if kind == "instrument":
        labels["instrument"] = subject
        account = value.get("account")
        if isinstance(account, str) and account:
            labels["account"] = account
    elif kind == "asset":
        labels["asset"] = subject
    else:
        labels["subject"] = subject
    return labels


def postable_alert(
    value: Mapping[str, Any], labels: Mapping[str, str], *, now_ms: int, ends_ms: int | None,
    generator_url: str = "",
) -> dict[str, Any]:
    """One ``postableAlert`` of Alertmanager's v2 API: labels, annotations, times (ISO 8601 UTC)."""
    annotations = {"summary": str(value.get("message", "")), "alert_id": str(value.get("id", ""))}
    remedy = remediation_text(value.get("remediation"))
    if remedy:
        annotations["remediation"] = remedy
    for name in ("value", "threshold"):
        if value.get(name) is not None:
            annotations[name] = _text(value[name])
    since = value.get("since_ms", value.get("ts_ms", now_ms))
    starts_ms = min(int(since), now_ms)
    alert: dict[str, Any] = {"labels": dict(labels), "annotations": annotations,
                             "startsAt": _iso(starts_ms)}
    if ends_ms is not None:
        alert["endsAt"] = _iso(max(starts_ms, min(ends_ms, now_ms)))
    if generator_url:
        alert["generatorURL"] = generator_url
    return alert


_Key = tuple[str, str, str]
_LabelKey = tuple[tuple[str, str], ...]


def _clock_ms() -> int:
    return int(time.time() * 1000)


class AlertmanagerBridge:
    """Queues alert transitions and posts them to Alertmanager in the background (``run``)."""

    def __init__(
        self, settings: BridgeSettings, transport: Transport | None = None,
        clock_ms: Callable[[], int] = _clock_ms,
    ) -> None:
        self.settings = settings
        self._transport = transport or UrllibTransport()
        self._clock_ms = clock_ms
        # firing alerts by (portfolio, rule, subject), then by label set: the value last posted
        self._firing: dict[_Key, dict[_LabelKey, Mapping[str, Any]]] = {}
        self._pending: dict[_LabelKey, dict[str, Any]] = {}
        self._wake = asyncio.Event()
        self.posted = 0
        self.failures = 0
        self.delivered_batches = 0

    @property
    def idle(self) -> bool:
        """Whether every queued transition has been accepted by Alertmanager."""
        return not self._pending

    def firing_count(self) -> int:
        """Alerts the bridge holds as firing (re-posted each ``resend_s``)."""
        return sum(len(by_labels) for by_labels in self._firing.values())

    def offer(self, value: Mapping[str, Any]) -> None:
        """Queue one ``hedge.alerts`` value (``type`` "alert"); other values are ignored."""
        if value.get("type") != "alert":
            return
        key = (str(value["portfolio"]), str(value["rule"]), str(value["subject"]))
        now_ms = self._clock_ms()
        if value.get("state") == "firing":
            labels = alert_labels(value)
            label_key = tuple(sorted(labels.items()))
            self._firing.setdefault(key, {})[label_key] = value
            self._pending[label_key] = postable_alert(
                value, labels, now_ms=now_ms, ends_ms=None, generator_url=self.settings.generator_url)
        else:
            ends_ms = int(value.get("ts_ms", now_ms))
            for label_key, fired in self._firing.pop(key, {}).items():
                resolved = {**fired, "message": value.get("message", fired.get("message", ""))}
                self._pending[label_key] = postable_alert(
                    resolved, dict(label_key), now_ms=now_ms, ends_ms=ends_ms,
                    generator_url=self.settings.generator_url)
        self._wake.set()

    def _resend_firing(self) -> None:
        now_ms = self._clock_ms()
        for by_labels in self._firing.values():
            for label_key, value in by_labels.items():
                self._pending.setdefault(label_key, postable_alert(
                    value, dict(label_key), now_ms=now_ms, ends_ms=None,
                    generator_url=self.settings.generator_url))

    async def deliver(self) -> bool:
        """Post what is queued, in batches; False (kept queued) when Alertmanager did not take it."""
        while self._pending:
            keys = list(self._pending)[: self.settings.batch_size]
            batch = [self._pending[key] for key in keys]
            try:
                status = await self._transport.post(
                    self.settings.alerts_url, orjson.dumps(batch), self.settings.timeout_s)
            except (OSError, TimeoutError) as error:
                self.failures += 1
                log.warning("alertmanager at %s unreachable: %s", self.settings.url, error)
                return False
            if status >= 500 or status == 429:
                self.failures += 1
                log.warning("alertmanager at %s answered %d; retrying", self.settings.url, status)
                return False
            if status >= 400:
                raise BridgeError(f"alertmanager at {self.settings.url} rejected {len(batch)} alerts "
                                  f"with HTTP {status}")
            for key, alert in zip(keys, batch, strict=True):
                if self._pending.get(key) is alert:
                    del self._pending[key]
            self.posted += len(batch)
            self.delivered_batches += 1
        return True

    async def run(self, stop: asyncio.Event) -> None:
        """Post queued transitions as they come, re-post firing ones each ``resend_s``, until ``stop``.

        Failures back off exponentially (``backoff_initial_s`` doubling to ``backoff_max_s``); on
        ``stop`` one last delivery is tried. A 4xx answer raises ``BridgeError`` (fails loudly).
        """
        backoff = self.settings.backoff_initial_s
        loop = asyncio.get_running_loop()
        next_resend = loop.time() + self.settings.resend_s
        while not stop.is_set():
            wait_s = max(0.0, next_resend - loop.time())
            if self._pending:
                wait_s = 0.0
            await _wait_any(stop, self._wake, wait_s)
            self._wake.clear()
            if stop.is_set():
                break
            if loop.time() >= next_resend:
                self._resend_firing()
                next_resend = loop.time() + self.settings.resend_s
            if await self.deliver():
                backoff = self.settings.backoff_initial_s
                continue
            await _wait_any(stop, None, backoff)
            backoff = min(backoff * 2, self.settings.backoff_max_s)
        with contextlib.suppress(OSError, TimeoutError):
            await asyncio.wait_for(self.deliver(), self.settings.timeout_s * 2)


async def _wait_any(stop: asyncio.Event, wake: asyncio.Event | None, timeout_s: float) -> None:
    """Wait for ``stop``, ``wake`` or the timeout, whichever comes first."""
    waiters = [asyncio.ensure_future(stop.wait())]
    if wake is not None:
        waiters.append(asyncio.ensure_future(wake.wait()))
    try:
        await asyncio.wait(waiters, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


async def follow_alerts(bus: Bus, topics: Topics, bridge: AlertmanagerBridge, stop: asyncio.Event) -> None:
    """Feed every ``hedge.alerts`` value into ``bridge`` until ``stop`` (the topic from its start).

    Reading from the start rebuilds which alerts are firing after a restart; coalescing by label
    set posts each alert's latest state once.
    """
    consumer = await bus.table_consumer([topics.alerts])
    try:
        while not stop.is_set():
            batches = await consumer.getmany(200, 1_000)
            for records in batches.values():
                for record in records:
                    bridge.offer(orjson.loads(record.value))
    finally:
        await consumer.stop()


async def run_bridge(bus: Bus, topics: Topics, settings: BridgeSettings, stop: asyncio.Event,
                     transport: Transport | None = None) -> AlertmanagerBridge:
    """Follow ``hedge.alerts`` and post to Alertmanager until ``stop``; a failing task fails both."""
    bridge = AlertmanagerBridge(settings, transport)
    async with asyncio.TaskGroup() as group:
        group.create_task(follow_alerts(bus, topics, bridge, stop), name="alert-bridge-follow")
        group.create_task(bridge.run(stop), name="alert-bridge-post")
    return bridge


__all__ = [
    "ALERTS_PATH", "AlertmanagerBridge", "BridgeError", "BridgeSettings", "Transport", "UrllibTransport",
    "alert_labels", "follow_alerts", "postable_alert", "run_bridge",
]
