"""Instruments the simulated venues list beyond the shipped catalog: a SOL perpetual and a
quarterly BTC future on OKX, so that a whole account holds contracts the monitor learns only from
the venue's listing (``GET /api/v5/public/instruments``), never from its own catalog.

The terms follow OKX's listing of the real contracts (SOL-USDT-SWAP: ``ctVal`` 1 SOL, ``lotSz``
0.01; BTC-USDT quarterlies: ``ctVal`` 0.01 BTC, delivered at 08:00 UTC on the last Friday of March,
June, September and December: OKX "Expiry futures" delivery rules).
"""

from __future__ import annotations

import calendar
import datetime as dt
from typing import Any

from monitor.domain.instruments import Catalog

DELIVERY_HOUR_UTC = 8
QUARTER_MONTHS = (3, 6, 9, 12)
MIN_DAYS_TO_EXPIRY = 14
SOL_SWAP = "SOL-USDT-SWAP"


def last_friday(year: int, month: int) -> dt.date:
    """The last Friday of a month."""
    last = dt.date(year, month, calendar.monthrange(year, month)[1])
    return last - dt.timedelta(days=(last.weekday() - calendar.FRIDAY) % 7)


def next_quarterly_expiry_ms(now_ms: int) -> int:
    """The next quarterly delivery (08:00 UTC, last Friday of a quarter month) at least 14 days on."""
    now = dt.datetime.fromtimestamp(now_ms / 1000, tz=dt.UTC)
    year, month = now.year, now.month
    while True:
        if month in QUARTER_MONTHS:
            day = last_friday(year, month)
            expiry = dt.datetime(day.year, day.month, day.day, DELIVERY_HOUR_UTC, tzinfo=dt.UTC)
            if expiry - now >= dt.timedelta(days=MIN_DAYS_TO_EXPIRY):
                return int(expiry.timestamp() * 1000)
        month += 1
        if month > 12:
            year, month = year + 1, 1


def quarterly_symbol(expiry_ms: int) -> str:
    """OKX's id of a BTC-USDT quarterly: ``BTC-USDT-YYMMDD`` of its delivery date."""
    day = dt.datetime.fromtimestamp(expiry_ms / 1000, tz=dt.UTC)
    return f"BTC-USDT-{day:%y%m%d}"


def sim_listings(now_ms: int) -> dict[str, dict[str, Any]]:
    """Catalog entries (``venue:symbol`` -> terms) of the instruments only the simulator lists."""
    expiry = next_quarterly_expiry_ms(now_ms)
    okx_tiers = [{"floor": 0, "cap": 1e15, "mmr": 0.01, "max_leverage": 50}]
    return {
        f"okx:{SOL_SWAP}": {
            "kind": "linear", "base": "SOL", "quote": "USDT", "settle": "USDT",
            "contract_size": 1, "lot_step": 0.01, "min_quantity": 0.01, "funding_interval_hours": 8,
            "tiers": okx_tiers, "note": "simulator listing only",
        },
        f"okx:{quarterly_symbol(expiry)}": {
            "kind": "linear", "base": "BTC", "quote": "USDT", "settle": "USDT",
            "contract_size": 0.01, "lot_step": 0.1, "min_quantity": 0.1, "expiry_ms": expiry,
            "funding_interval_hours": None, "tiers": okx_tiers, "note": "simulator listing only",
        },
    }


def with_sim_listings(catalog: Catalog, now_ms: int) -> Catalog:
    """The simulator's catalog: the given one plus what only the simulator lists (given ids win)."""
    extra = {key: value for key, value in sim_listings(now_ms).items() if key not in catalog}
    return catalog.with_overrides(extra)
