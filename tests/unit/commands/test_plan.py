"""The hedge calculator command, end to end through the CLI."""

from __future__ import annotations

import orjson
import pytest

from monitor.cli import main

SEED = ["plan", "--asset", "BTC", "--quantity", "1.5", "--price", "60000", "--contract-size", "0.01"]


def _plan_json(capsys: pytest.CaptureFixture[str], *extra: str) -> dict[str, object]:
    assert main([*SEED, "--json", *extra]) == 0
    result: dict[str, object] = orjson.loads(capsys.readouterr().out)
    return result


def test_seed_example_json(capsys: pytest.CaptureFixture[str]) -> None:
    """The seed: 1.5 BTC at 60000 hedged with 0.01 BTC contracts needs 150 shorts and nets 0 at -10 %."""
    plan = _plan_json(capsys, "--leverage", "10")
    assert plan["exposure_usd"] == pytest.approx(90_000.0)  # 1.5 * 60000 = 90000
    assert plan["contract_notional_usd"] == pytest.approx(600.0)  # 0.01 * 60000 = 600
    assert plan["contracts"] == 150.0  # 90000 / 600 = 150
    assert plan["side"] == "short"
    assert plan["hedge_ratio"] == pytest.approx(1.0)  # 150 * 0.01 / 1.5 = 1.0
    assert plan["residual_delta"] == pytest.approx(0.0, abs=1e-12)  # 1.5 - 150 * 0.01 = 0
    assert plan["initial_margin_usd"] == pytest.approx(9_000.0)  # 150 * 600 / 10 = 9000
    stress = {row["shock"]: row for row in plan["stress"]}  # type: ignore[attr-defined]
    assert sorted(stress) == [-0.2, -0.1, -0.05, 0.05, 0.1, 0.2]
    assert stress[-0.1]["spot_pnl_usd"] == pytest.approx(-9_000.0)  # 1.5 * (54000 - 60000)
    assert stress[-0.1]["hedge_pnl_usd"] == pytest.approx(9_000.0)  # -150 * 0.01 * (54000 - 60000)
    assert stress[-0.1]["net_pnl_usd"] == pytest.approx(0.0, abs=0.005)  # to the cent
    standard = plan["standard"]
    # 1.5 BTC in 1 BTC contracts: 1.5 rounds half away from zero to 2, residual 1.5 - 2 = -0.5
    assert standard == {"contract_size": 1.0, "contracts": 2.0, "residual_delta": -0.5}


def test_micro_contract_rounding_residual(capsys: pytest.CaptureFixture[str]) -> None:
    """An exposure between lots rounds to the nearest contract and reports the residual."""
    assert main(["plan", "--asset", "BTC", "--quantity", "1.234", "--price", "60000",
                 "--contract-size", "0.01", "--json"]) == 0
    plan = orjson.loads(capsys.readouterr().out)
    assert plan["contracts_exact"] == pytest.approx(123.4)  # 1.234 * 60000 / 600 = 123.4
    assert plan["contracts"] == 123.0  # nearest whole contract
    assert plan["residual_delta"] == pytest.approx(0.004)  # 1.234 - 123 * 0.01 = 0.004
    assert plan["hedge_ratio"] == pytest.approx(1.23 / 1.234)  # 123 * 0.01 / 1.234


def test_catalog_instrument_linear_and_inverse(capsys: pytest.CaptureFixture[str]) -> None:
    """--instrument reads the catalog: OKX linear 0.01 BTC and OKX inverse 100 USD."""
    base = ["plan", "--asset", "BTC", "--quantity", "1.5", "--price", "60000", "--json"]
    assert main([*base, "--instrument", "okx:BTC-USDT-SWAP"]) == 0
    assert orjson.loads(capsys.readouterr().out)["contracts"] == 150.0  # 90000 / (0.01 * 60000)
    assert main([*base, "--instrument", "okx:BTC-USD-SWAP"]) == 0
    inverse = orjson.loads(capsys.readouterr().out)
    assert inverse["contracts"] == 900.0  # 90000 / 100 USD = 900
    stress = {row["shock"]: row for row in inverse["stress"]}
    # -900 * 100 * (1/60000 - 1/54000) BTC * 54000 = +9000 USD
    assert stress[-0.1]["hedge_pnl_usd"] == pytest.approx(9_000.0)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--quantity", "0"], "--quantity: expected a positive number, got '0'"),
        (["--quantity", "-1"], "--quantity: expected a positive number, got '-1'"),
        (["--price", "abc"], "--price: expected a positive number, got 'abc'"),
        (["--price", "nan"], "--price: expected a positive number, got 'nan'"),
        (["--instrument", "okx:NOPE"], "--contract-size / --instrument: give exactly one of them"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    capsys: pytest.CaptureFixture[str], arguments: list[str], message: str
) -> None:
    """Bad input exits 2 with one line naming the flag and what is expected."""
    argv = list(SEED)
    for flag, value in zip(arguments[::2], arguments[1::2], strict=True):
        if flag in argv:
            argv[argv.index(flag) + 1] = value
        else:
            argv += [flag, value]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err == f"hedge-monitor plan: {message}\n"


def test_unknown_instrument_and_missing_size(capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown instrument is named; neither size flag is an error."""
    base = ["plan", "--asset", "BTC", "--quantity", "1", "--price", "60000"]
    assert main([*base, "--instrument", "okx:NOPE"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hedge-monitor plan: --instrument: unknown instrument 'okx:NOPE'")
    assert main(base) == 2
    assert "give exactly one of them" in capsys.readouterr().err


def test_readable_table(capsys: pytest.CaptureFixture[str]) -> None:
    """Without --json the plan is a table with the contracts and the stress rows."""
    assert main(SEED) == 0
    out = capsys.readouterr().out
    assert "contracts (short)     150" in out
    assert "-10%      -9,000.00       9,000.00         0.00" in out
