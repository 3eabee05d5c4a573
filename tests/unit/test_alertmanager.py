"""The Alertmanager bridge against a fake transport: mapping, escalation, coalescing, retries."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest

from monitor.alertmanager import (
    AlertmanagerBridge,
    BridgeError,
    BridgeSettings,
    alert_labels,
    postable_alert,
    run_bridge,
)
from monitor.bus.base import Topics
from monitor.bus.memory import MemoryBus
from tests.support import eventually

NOW_MS = 1_700_000_100_000  # 2023-11-14T22:15:00Z
SWAP = "okx:BTC-USDT-SWAP"
REMEDY = {"kind": "liquidation", "instrument": SWAP, "account": "okx-main", "target_distance": 0.06,
          "target_price": 65_720.0, "settle": "USDT", "add_margin": 23.61, "add_margin_usd": 23.61,
          "reduce_contracts": 1.0, "reduce_side": "short", "transfer_account": None,
          "transfer_available": None}


def alert(state: str = "firing", severity: str = "critical", rule: str = "liquidation_distance_low",
          subject: str = SWAP, ts_ms: int = NOW_MS - 5_000, **extra: Any) -> dict[str, Any]:
    """One hedge.alerts value."""
    value: dict[str, Any] = {
        "v": 1, "type": "alert", "id": "abc", "portfolio": "alice", "rule": rule, "subject": subject,
        "severity": severity, "state": state, "value": 0.049, "threshold": 0.05,
        "message": "okx:BTC-USDT-SWAP is 4.9 % from its liquidation price", "ts_ms": ts_ms,
        "since_ms": NOW_MS - 5_000, "remediation": REMEDY if state == "firing" else None,
        "account": "okx-main",
    }
    value.update(extra)
    return value


class FakeTransport:
    """Records every post; answers from a script (an int status or an exception), then 200."""

    def __init__(self, *answers: int | Exception) -> None:
        self.answers = list(answers)
        self.posts: list[list[dict[str, Any]]] = []

    async def post(self, url: str, body: bytes, timeout_s: float) -> int:
        assert url == "http://am.test:9093/api/v2/alerts"
        assert timeout_s > 0
        answer = self.answers.pop(0) if self.answers else 200
        if isinstance(answer, Exception):
            raise answer
        self.posts.append(orjson.loads(body))
        return answer


SETTINGS = BridgeSettings("http://am.test:9093", resend_s=0.2, backoff_initial_s=0.01, backoff_max_s=0.02)


def bridge(transport: FakeTransport, settings: BridgeSettings = SETTINGS) -> AlertmanagerBridge:
    return AlertmanagerBridge(settings, transport, clock_ms=lambda: NOW_MS)


def test_labels_follow_the_alertmanager_routes() -> None:
    """An instrument alert is labelled like the Prometheus rules' alerts (inhibition keys)."""
    assert alert_labels(alert()) == {
        "alertname": "liquidation_distance_low", "severity": "critical", "portfolio": "alice",
        "rule": "liquidation_distance_low", "source": "hedge-monitor", "instrument": SWAP,
        "account": "okx-main"}
    assert alert_labels(alert(rule="hedge_ratio_low", subject="BTC", account=None))["asset"] == "BTC"
    assert alert_labels(alert(rule="cost_budget_exceeded", subject="portfolio"))["subject"] == "portfolio"


def test_a_firing_is_posted_with_its_remediation_and_no_end() -> None:
    """startsAt is the condition's start; the remediation is an annotation sentence."""
    posted = postable_alert(alert(), alert_labels(alert()), now_ms=NOW_MS, ends_ms=None)
    assert posted["startsAt"] == "2023-11-14T22:14:55Z"
    assert "endsAt" not in posted
    assert posted["annotations"]["remediation"] == (
        "add 23.61 USDT margin to bring liquidation back to 6.0 % away (65,720.00), or reduce the "
        "short by 1 contract")
    assert posted["annotations"]["summary"].startswith("okx:BTC-USDT-SWAP is 4.9 %")


def test_times_in_the_future_are_capped_at_the_bridge_clock() -> None:
    """A simulated event time ahead of the clock must not keep a resolved alert open."""
    value = alert(state="resolved", ts_ms=NOW_MS + 60_000, since_ms=NOW_MS + 1_000)
    posted = postable_alert(value, alert_labels(value), now_ms=NOW_MS, ends_ms=NOW_MS + 60_000)
    assert posted["startsAt"] == posted["endsAt"] == "2023-11-14T22:15:00Z"


@pytest.mark.asyncio
async def test_a_resolution_ends_every_severity_the_alert_was_posted_with() -> None:
    """warning, then critical (a worse stage): two label sets; the resolution ends both."""
    transport = FakeTransport()
    subject = bridge(transport)
    subject.offer(alert(severity="warning"))
    subject.offer(alert(severity="critical"))
    assert await subject.deliver()
    assert sorted(a["labels"]["severity"] for a in transport.posts[0]) == ["critical", "warning"]
    subject.offer(alert(state="resolved", ts_ms=NOW_MS - 1_000))
    assert await subject.deliver()
    ended = transport.posts[1]
    assert sorted(a["labels"]["severity"] for a in ended) == ["critical", "warning"]
    assert {a["endsAt"] for a in ended} == {"2023-11-14T22:14:59Z"}
    assert subject.firing_count() == 0


@pytest.mark.asyncio
async def test_a_firing_and_its_resolution_before_delivery_coalesce_into_one_post() -> None:
    """The latest state of a label set wins while Alertmanager is away."""
    transport = FakeTransport()
    subject = bridge(transport)
    subject.offer(alert())
    subject.offer(alert(state="resolved"))
    assert await subject.deliver()
    assert len(transport.posts) == 1
    assert len(transport.posts[0]) == 1
    assert "endsAt" in transport.posts[0][0]


@pytest.mark.asyncio
async def test_unreachable_and_5xx_are_retried_with_backoff_and_nothing_is_lost() -> None:
    """Connection refused, then 503: the run loop backs off and delivers on the third try."""
    transport = FakeTransport(ConnectionRefusedError("refused"), 503)
    subject = bridge(transport)
    stop = asyncio.Event()
    task = asyncio.create_task(subject.run(stop))
    subject.offer(alert())
    await eventually(lambda: transport.posts)
    assert subject.failures == 2
    assert transport.posts[0][0]["labels"]["severity"] == "critical"
    await eventually(lambda: subject.idle)
    stop.set()
    await task


@pytest.mark.asyncio
async def test_a_4xx_fails_loudly() -> None:
    """Alertmanager rejecting the payload is a bug: the task raises instead of retrying forever."""
    subject = bridge(FakeTransport(400))
    subject.offer(alert())
    with pytest.raises(BridgeError, match="HTTP 400"):
        await asyncio.wait_for(subject.run(asyncio.Event()), 5)


@pytest.mark.asyncio
async def test_firing_alerts_are_posted_again_before_alertmanager_times_them_out() -> None:
    """Every resend_s the firing alerts are re-posted; resolved ones are not."""
    transport = FakeTransport()
    subject = bridge(transport)
    stop = asyncio.Event()
    task = asyncio.create_task(subject.run(stop))
    subject.offer(alert())
    subject.offer(alert(rule="margin_ratio_high", severity="critical"))
    subject.offer(alert(rule="margin_ratio_high", state="resolved"))
    await eventually(lambda: len(transport.posts) >= 3, 5)
    stop.set()
    await task
    assert all(len(batch) == 1 for batch in transport.posts[1:])
    assert all(batch[0]["labels"]["rule"] == "liquidation_distance_low" for batch in transport.posts[1:])


@pytest.mark.asyncio
async def test_the_bridge_follows_the_alerts_topic() -> None:
    """A transition published on hedge.alerts reaches the transport; a crash of the poster ends both."""
    bus = MemoryBus()
    topics = Topics()
    bus.append(topics.alerts, b"alice", orjson.dumps(alert()))
    transport = FakeTransport()
    stop = asyncio.Event()
    task = asyncio.create_task(run_bridge(bus, topics, SETTINGS, stop, transport))
    await eventually(lambda: transport.posts)
    assert transport.posts[0][0]["labels"]["instrument"] == SWAP
    stop.set()
    await asyncio.wait_for(task, 5)

    failing = asyncio.create_task(run_bridge(bus, topics, SETTINGS, asyncio.Event(), FakeTransport(404)))
    with pytest.raises(ExceptionGroup) as raised:
        await asyncio.wait_for(failing, 5)
    assert raised.group_contains(BridgeError)


@pytest.mark.parametrize(("settings", "message"), [
    ({"url": "am:9093"}, "must start with http"),
    ({"url": "http://am", "resend_s": 0}, "resend_s must be greater than 0"),
    ({"url": "http://am", "batch_size": 0}, "batch_size must be at least 1"),
])
def test_settings_are_checked(settings: dict[str, Any], message: str) -> None:
    """A wrong URL or interval is a clear error."""
    with pytest.raises(BridgeError, match=message):
        BridgeSettings(**settings)
