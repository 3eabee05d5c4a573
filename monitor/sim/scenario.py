"""Simulator scenarios: initial accounts, price paths and timed steps, loaded from JSON.

A scenario is data (``monitor/sim/scenarios/*.json``)::

    {
      "name": "seed-drop", "description": "...", "seed": 7,
      "tick_s": 1.0, "duration_s": 600,
      "assets": {"BTC": {"start": 60000, "noise": 0.0005, "reversion": 0.05}},
      "correlations": [{"a": "BTC", "b": "ETH", "rho": 0.8}],
      "instruments": [{"id": "okx:BTC-USDT-SWAP", "asset": "BTC", "basis": 0.0002,
                       "funding_rate": 0.0001}],
      "accounts": [{"venue": "okx", "account": "okx-main", "balances": {"USDT": 20000},
                    "positions": [{"symbol": "BTC-USDT-SWAP", "quantity": -150,
                                   "entry_price": 60000, "leverage": 5}]}],
      "steps": [{"at_s": 60, "kind": "trend", "asset": "BTC", "change": -0.10, "over_s": 300},
                {"at_s": 90, "kind": "fault", "fault": "silence", "venue": "okx", "seconds": 20}]
    }

Price model (per asset, one value per tick)::

    log P_t = log L_t + X_t
    L_t  trend level: constant, or moving log-linearly to a target over ``over_s``
    X_t  Ornstein-Uhlenbeck deviation, X_{t+1} = (1 - reversion) * X_t + noise * Z_t
    Z_t  standard normals, correlated across assets by the Cholesky factor of ``correlations``

This is the Euler discretisation of an Ornstein-Uhlenbeck process (Uhlenbeck & Ornstein, Phys.
Rev. 36, 1930) with shocks correlated through the Cholesky factor of the correlation matrix
(Glasserman, "Monte Carlo Methods in Financial Engineering", 2003, section 2.3). The AR(1)
deviation keeps the path close to its trend (stationary sd = noise / sqrt(2r - r^2)), so the
scripted targets ("falls 10 %") are met within a fraction of a percent, while the path stays
noisy. An instrument's mark is ``P * (1 + basis)`` and its index ``P``. The same seed always gives
the same path (``random.Random(seed)``, draws in a fixed order).

Quantities are in each venue's own unit, signed (negative = short): OKX swaps in contracts,
Binance USDⓈ-M and Bybit linear in base coin. A position or fill may name a ``position_side``
(``one_way``, the default, or the hedge-mode ``long``/``short`` legs) and an isolated position its
``isolated_margin``; an account may start with ``multi_asset_margin`` and an ``asset_mode`` step
(``{"kind":"asset_mode","venue":"binance","account":..,"multi_asset":true}``) switches it.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from monitor.errors import HedgeMonitorError

StepKind = Literal[
    "trend", "price", "basis", "funding", "fill", "position", "balance", "asset_mode", "fault",
    "venue_report",
]
STEP_KINDS: tuple[StepKind, ...] = (
    "trend",
    "price",
    "basis",
    "funding",
    "fill",
    "position",
    "balance",
    "asset_mode",
    "fault",
    "venue_report",
)
POSITION_SIDES = ("one_way", "long", "short")
FaultKind = Literal[
    "drop",
    "silence",
    "malformed",
    "out_of_order",
    "gap",
    "expire_listen_key",
    "server_close",
    "offline_change",
    "refuse",
]
FAULT_KINDS: tuple[FaultKind, ...] = (
    "drop",
    "silence",
    "malformed",
    "out_of_order",
    "gap",
    "expire_listen_key",
    "server_close",
    "offline_change",
    "refuse",
)


class ScenarioError(HedgeMonitorError, ValueError):
    """A scenario file is malformed; the message names the field."""


@dataclass(frozen=True, slots=True)
class AssetPath:
    """Start price and noise of one asset's path."""

    start: float
    noise: float = 0.0005
    reversion: float = 0.05


@dataclass(frozen=True, slots=True)
class SimInstrument:
    """One quoted instrument: ``venue:symbol`` following ``asset`` with a relative basis."""

    id: str
    asset: str
    basis: float = 0.0
    funding_rate: float | None = None

    @property
    def venue(self) -> str:
        """The venue part of the id."""
        return self.id.split(":", 1)[0]

    @property
    def symbol(self) -> str:
        """The venue's symbol."""
        return self.id.split(":", 1)[1]


@dataclass(frozen=True, slots=True)
class InitialPosition:
    """A position an account holds when the scenario starts."""

    symbol: str
    quantity: float
    entry_price: float
    leverage: float = 5.0
    margin_mode: str = "cross"
    position_side: str = "one_way"
    isolated_margin: float | None = None


@dataclass(frozen=True, slots=True)
class InitialAccount:
    """Balances, positions and asset mode of one account at one venue when the scenario starts."""

    venue: str
    account: str
    balances: Mapping[str, float] = field(default_factory=dict)
    positions: tuple[InitialPosition, ...] = ()
    multi_asset_margin: bool | None = None


@dataclass(frozen=True, slots=True)
class Step:
    """One timed action; ``params`` holds the kind's own fields (validated at load time)."""

    at_s: float
    kind: StepKind
    params: Mapping[str, Any] = field(default_factory=dict)

    def text(self, name: str) -> str:
        """A required string parameter."""
        value = self.params.get(name)
        if not isinstance(value, str) or not value:
            raise ScenarioError(f"step at {self.at_s} s ({self.kind}): {name} must be a string")
        return value

    def number(self, name: str, default: float | None = None) -> float:
        """A required (or defaulted) finite numeric parameter."""
        value = self.params.get(name, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ScenarioError(f"step at {self.at_s} s ({self.kind}): {name} must be a number")
        if not math.isfinite(value):
            raise ScenarioError(f"step at {self.at_s} s ({self.kind}): {name} must be finite")
        return float(value)

    def flag(self, name: str) -> bool:
        """A required boolean parameter."""
        value = self.params.get(name)
        if not isinstance(value, bool):
            raise ScenarioError(f"step at {self.at_s} s ({self.kind}): {name} must be true or false")
        return value

    def optional_text(self, name: str) -> str | None:
        """An optional string parameter."""
        value = self.params.get(name)
        return value if isinstance(value, str) and value else None


_STEP_FIELDS: Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # kind: (required, optional)
    "trend": (("asset", "over_s"), ("to", "change")),
    "price": (("instrument", "price"), ()),
    "basis": (("instrument", "basis"), ()),
    "funding": (("instrument", "rate"), ()),
    "fill": (("venue", "account", "symbol", "quantity", "price"), ("fee", "position_side", "forced")),
    # the venue's own reported figures: a liquidation price bias, an ADL rank of a leg
    "venue_report": (("venue",), ("liquidation_bias", "account", "symbol", "adl_rank", "position_side")),
    "position": (
        ("venue", "account", "symbol", "quantity", "entry_price"),
        ("leverage", "margin_mode", "position_side", "isolated_margin"),
    ),
    "balance": (("venue", "account", "asset", "quantity"), ()),
    "asset_mode": (("venue", "account", "multi_asset"), ()),
    "fault": (
        ("fault", "venue"),
        (
            "seconds",
            "stream",
            "updates",
            "account",
            "symbol",
            "quantity",
            "entry_price",
            "position_side",
        ),
    ),
}


@dataclass(frozen=True, slots=True)
class Scenario:
    """A complete simulator run: assets, instruments, accounts and steps, deterministic by seed."""

    name: str
    description: str
    seed: int
    tick_s: float
    duration_s: float
    assets: Mapping[str, AssetPath]
    instruments: tuple[SimInstrument, ...]
    accounts: tuple[InitialAccount, ...] = ()
    steps: tuple[Step, ...] = ()
    correlations: tuple[tuple[str, str, float], ...] = ()

    def instrument(self, instrument_id: str) -> SimInstrument:
        """The instrument with this id; ScenarioError if the scenario has none."""
        for candidate in self.instruments:
            if candidate.id == instrument_id:
                return candidate
        raise ScenarioError(f"scenario {self.name}: unknown instrument {instrument_id!r}")


@dataclass(frozen=True, slots=True)
class Tick:
    """Asset prices at one tick of a scenario."""

    index: int
    at_s: float
    prices: Mapping[str, float]


def _cholesky(matrix: Sequence[Sequence[float]]) -> list[list[float]]:
    """Lower-triangular L with L @ L.T = matrix (Cholesky-Banachiewicz); matrix must be PD."""
    size = len(matrix)
    lower = [[0.0] * size for _ in range(size)]
    for row in range(size):
        for column in range(row + 1):
            total = sum(lower[row][k] * lower[column][k] for k in range(column))
            if row == column:
                remainder = matrix[row][row] - total
                if remainder <= 0:
                    raise ScenarioError("correlations do not form a positive-definite matrix")
                lower[row][column] = math.sqrt(remainder)
            else:
                lower[row][column] = (matrix[row][column] - total) / lower[column][column]
    return lower


@dataclass
class _Trend:
    start_level: float
    target_level: float
    start_tick: int
    ticks: int

    def level(self, tick: int) -> float:
        if self.ticks <= 0 or tick >= self.start_tick + self.ticks:
            return self.target_level
        fraction = max(0, tick - self.start_tick) / self.ticks
        return math.exp(
            math.log(self.start_level) + fraction * (math.log(self.target_level) - math.log(self.start_level))
        )


def price_path(scenario: Scenario) -> Iterator[Tick]:
    """Asset prices at every tick from 0 to duration_s, deterministic given the scenario seed."""
    rng = random.Random(scenario.seed)
    names = sorted(scenario.assets)
    correlation = [[1.0 if a == b else 0.0 for b in names] for a in names]
    for first, second, rho in scenario.correlations:
        i, j = names.index(first), names.index(second)
        correlation[i][j] = correlation[j][i] = rho
    factor = _cholesky(correlation)
    trends = {name: _Trend(scenario.assets[name].start, scenario.assets[name].start, 0, 0) for name in names}
    deviation = dict.fromkeys(names, 0.0)
    trend_steps = sorted((step for step in scenario.steps if step.kind == "trend"), key=lambda s: s.at_s)
    ticks = round(scenario.duration_s / scenario.tick_s)
    pending = list(trend_steps)
    for index in range(ticks + 1):
        at_s = index * scenario.tick_s
        while pending and pending[0].at_s <= at_s + 1e-9:
            step = pending.pop(0)
            asset = step.text("asset")
            current = trends[asset].level(index)
            target = step.number("to") if "to" in step.params else current * (1.0 + step.number("change"))
            trends[asset] = _Trend(current, target, index, round(step.number("over_s") / scenario.tick_s))
        if index > 0:
            normals = [rng.gauss(0.0, 1.0) for _ in names]
            for row, name in enumerate(names):
                shock = sum(factor[row][k] * normals[k] for k in range(row + 1))
                path = scenario.assets[name]
                deviation[name] = (1.0 - path.reversion) * deviation[name] + path.noise * shock
        yield Tick(
            index,
            at_s,
            {name: trends[name].level(index) * math.exp(deviation[name]) for name in names},
        )


# -- loading ------------------------------------------------------------------------------------


def _require(mapping: Mapping[str, Any], name: str, where: str) -> Any:
    if name not in mapping:
        raise ScenarioError(f"{where}: missing {name!r}")
    return mapping[name]


def _number(value: Any, where: str, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ScenarioError(f"{where} must be a finite number, got {value!r}")
    if positive and value <= 0:
        raise ScenarioError(f"{where} must be > 0, got {value!r}")
    return float(value)


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise ScenarioError(f"{where} must be a non-empty string")
    return value


def _known_keys(mapping: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(mapping) - allowed)
    if unknown:
        raise ScenarioError(f"{where}: unknown key(s) {', '.join(unknown)}")


def scenario_from_dict(data: Mapping[str, Any]) -> Scenario:
    """Build and validate a Scenario from its JSON object."""
    _known_keys(
        data,
        {
            "name", "description", "seed", "tick_s", "duration_s", "assets", "correlations",
            "instruments", "accounts", "steps",
        },
        "scenario",
    )  # fmt: skip
    name = _text(_require(data, "name", "scenario"), "name")
    where = f"scenario {name}"
    seed = _require(data, "seed", where)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ScenarioError(f"{where}: seed must be an integer")
    assets: dict[str, AssetPath] = {}
    for asset, spec in dict(_require(data, "assets", where)).items():
        _known_keys(spec, {"start", "noise", "reversion"}, f"{where}: asset {asset}")
        reversion = _number(spec.get("reversion", 0.05), f"{where}: {asset}.reversion")
        if not 0 < reversion <= 1:
            raise ScenarioError(f"{where}: {asset}.reversion must be in (0, 1]")
        assets[asset] = AssetPath(
            start=_number(spec.get("start"), f"{where}: {asset}.start", positive=True),
            noise=_number(spec.get("noise", 0.0005), f"{where}: {asset}.noise"),
            reversion=reversion,
        )
    correlations = []
    for item in data.get("correlations", []):
        first, second = _text(item.get("a"), "correlation a"), _text(item.get("b"), "correlation b")
        if first not in assets or second not in assets or first == second:
            raise ScenarioError(f"{where}: correlation between unknown or equal assets")
        rho = _number(item.get("rho"), f"{where}: correlation rho")
        if not -1 < rho < 1:
            raise ScenarioError(f"{where}: correlation rho must be in (-1, 1)")
        correlations.append((first, second, rho))
    instruments = []
    for item in _require(data, "instruments", where):
        _known_keys(item, {"id", "asset", "basis", "funding_rate"}, f"{where}: instrument")
        instrument_id = _text(item.get("id"), f"{where}: instrument id")
        if ":" not in instrument_id:
            raise ScenarioError(f"{where}: instrument id {instrument_id!r} must be venue:symbol")
        asset = _text(item.get("asset"), f"{where}: {instrument_id}.asset")
        if asset not in assets:
            raise ScenarioError(f"{where}: {instrument_id} follows unknown asset {asset!r}")
        funding = item.get("funding_rate")
        instruments.append(
            SimInstrument(
                instrument_id,
                asset,
                _number(item.get("basis", 0.0), f"{where}: {instrument_id}.basis"),
                None if funding is None else _number(funding, f"{where}: {instrument_id}.funding"),
            )
        )
    accounts = [_account(item, where) for item in data.get("accounts", [])]
    steps = [_step(item, where, assets, {i.id for i in instruments}) for item in data.get("steps", [])]
    steps.sort(key=lambda step: step.at_s)
    return Scenario(
        name=name,
        description=str(data.get("description", "")),
        seed=seed,
        tick_s=_number(data.get("tick_s", 1.0), f"{where}: tick_s", positive=True),
        duration_s=_number(_require(data, "duration_s", where), f"{where}: duration_s", positive=True),
        assets=assets,
        instruments=tuple(instruments),
        accounts=tuple(accounts),
        steps=tuple(steps),
        correlations=tuple(correlations),
    )


def _account(item: Mapping[str, Any], where: str) -> InitialAccount:
    """One scenario account: balances, positions and asset mode."""
    _known_keys(
        item, {"venue", "account", "balances", "positions", "multi_asset_margin"}, f"{where}: account"
    )
    multi_asset = item.get("multi_asset_margin")
    if multi_asset is not None and not isinstance(multi_asset, bool):
        raise ScenarioError(f"{where}: multi_asset_margin must be true or false")
    venue = _text(item.get("venue"), f"{where}: account venue")
    account = _text(item.get("account"), f"{where}: account name")
    balances = {
        asset: _number(quantity, f"{where}: {venue}/{account} balance {asset}")
        for asset, quantity in dict(item.get("balances", {})).items()
    }
    positions = []
    for position in item.get("positions", []):
        _known_keys(
            position,
            {
                "symbol", "quantity", "entry_price", "leverage", "margin_mode", "position_side",
                "isolated_margin",
            },
            f"{where}: position",
        )  # fmt: skip
        margin_mode = position.get("margin_mode", "cross")
        if margin_mode not in ("cross", "isolated"):
            raise ScenarioError(f"{where}: margin_mode must be cross or isolated")
        side = position.get("position_side", "one_way")
        if side not in POSITION_SIDES:
            raise ScenarioError(f"{where}: position_side must be one of {', '.join(POSITION_SIDES)}")
        wallet = position.get("isolated_margin")
        positions.append(
            InitialPosition(
                _text(position.get("symbol"), f"{where}: position symbol"),
                _number(position.get("quantity"), f"{where}: position quantity"),
                _number(position.get("entry_price"), f"{where}: entry_price", positive=True),
                _number(position.get("leverage", 5.0), f"{where}: leverage", positive=True),
                margin_mode,
                side,
                None if wallet is None else _number(wallet, f"{where}: isolated_margin"),
            )
        )
    return InitialAccount(venue, account, balances, tuple(positions), multi_asset)


def _step(
    item: Mapping[str, Any], where: str, assets: Mapping[str, AssetPath], instruments: set[str]
) -> Step:
    at_s = _number(_require(item, "at_s", f"{where}: step"), f"{where}: step at_s")
    kind = _require(item, "kind", f"{where}: step at {at_s} s")
    if kind not in STEP_KINDS:
        raise ScenarioError(f"{where}: step at {at_s} s has unknown kind {kind!r}")
    required, optional = _STEP_FIELDS[kind]
    params = {key: value for key, value in item.items() if key not in ("at_s", "kind")}
    label = f"{where}: step at {at_s} s ({kind})"
    _known_keys(params, set(required) | set(optional), label)
    for name in required:
        _require(params, name, label)
    step = Step(at_s, kind, params)
    if kind == "trend":
        if step.text("asset") not in assets:
            raise ScenarioError(f"{label}: unknown asset {step.text('asset')!r}")
        if ("to" in params) == ("change" in params):
            raise ScenarioError(f"{label}: give exactly one of 'to' and 'change'")
        step.number("over_s")
        if "to" in params and step.number("to") <= 0:
            raise ScenarioError(f"{label}: 'to' must be > 0")
        if "change" in params and step.number("change") <= -1:
            raise ScenarioError(f"{label}: 'change' must be > -1")
    elif kind in ("price", "basis", "funding"):
        if step.text("instrument") not in instruments:
            raise ScenarioError(f"{label}: unknown instrument {step.text('instrument')!r}")
        step.number({"price": "price", "basis": "basis", "funding": "rate"}[kind])
    elif kind == "fault":
        fault = step.text("fault")
        if fault not in FAULT_KINDS:
            raise ScenarioError(f"{label}: unknown fault {fault!r}")
        if fault in ("silence", "offline_change", "refuse"):
            step.number("seconds")
        if fault == "offline_change":
            for name in ("account", "symbol"):
                step.text(name)
            step.number("quantity")
            step.number("entry_price")
    elif kind == "venue_report":
        _check_venue_report(step, label)
    elif kind == "asset_mode":
        step.text("venue")
        step.text("account")
        step.flag("multi_asset")
    else:
        for name in required:
            value = params[name]
            if name in ("quantity", "price", "entry_price"):
                step.number(name)
            elif not isinstance(value, str):
                step.text(name)
        _check_account_step(step, label)
    if "position_side" in params and params["position_side"] not in POSITION_SIDES:
        raise ScenarioError(f"{label}: position_side must be one of {', '.join(POSITION_SIDES)}")
    return step


def _check_account_step(step: Step, label: str) -> None:
    """The optional fields of a fill, position or balance step."""
    if "isolated_margin" in step.params:
        step.number("isolated_margin")
    if step.params.get("forced") not in (None, "liquidation", "adl"):
        raise ScenarioError(f"{label}: 'forced' must be 'liquidation' or 'adl'")


def _check_venue_report(step: Step, label: str) -> None:
    """A ``venue_report`` step: a liquidation price bias > -1 and/or an ADL rank of one leg."""
    step.text("venue")
    if "liquidation_bias" in step.params and step.number("liquidation_bias") <= -1:
        raise ScenarioError(f"{label}: 'liquidation_bias' must be > -1")
    if "adl_rank" in step.params:
        step.text("account")
        step.text("symbol")
        rank = step.number("adl_rank")
        if rank != int(rank) or rank < 0:
            raise ScenarioError(f"{label}: 'adl_rank' must be a non-negative integer")


def load_scenario(name_or_path: str | Path) -> Scenario:
    """Load a shipped scenario by name (``seed-drop``) or any scenario JSON file by path."""
    text: str
    candidate = Path(name_or_path)
    if candidate.suffix == ".json" or candidate.exists():
        try:
            text = candidate.read_text(encoding="utf-8")
        except OSError as exc:
            raise ScenarioError(f"cannot read scenario {candidate}: {exc.strerror}") from None
    else:
        resource = resources.files("monitor.sim").joinpath("scenarios", f"{name_or_path}.json")
        if not resource.is_file():
            known = ", ".join(scenario_names())
            raise ScenarioError(f"no shipped scenario {name_or_path!r} (known: {known})")
        text = resource.read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ScenarioError(f"scenario {name_or_path}: invalid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ScenarioError(f"scenario {name_or_path}: the top level must be an object")
    return scenario_from_dict(data)


def scenario_names() -> tuple[str, ...]:
    """Names of the scenarios shipped in ``monitor/sim/scenarios``."""
    folder = resources.files("monitor.sim").joinpath("scenarios")
    return tuple(sorted(entry.name[:-5] for entry in folder.iterdir() if entry.name.endswith(".json")))
