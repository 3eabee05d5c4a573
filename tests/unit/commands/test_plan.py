"""The hedge calculator command, end to end through the CLI."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from monitor.cli import main

SEED = ["plan", "--asset", "BTC", "--quantity", "1.5", "--price", "60000", "--contract-size", "0.01"]


def _plan_json(capsys: pytest.CaptureFixture[str], *extra: str) -> dict[str, Any]:
    assert main([*SEED, "--json", *extra]) == 0
    result: dict[str, Any] = orjson.loads(capsys.readouterr().out)
    return result


def _stress_lines(out: str) -> dict[str, str]:
    """The stress table's rows of the text output, by their shock column (``+20%``)."""
    rows = {}
    for line in out.splitlines():
        words = line.split()
        if words and words[0][:1] in ("+", "-") and words[0].endswith("%"):
            rows[words[0]] = line
    assert len(rows) == 6
    return rows


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
    stress = {row["shock"]: row for row in plan["stress"]}
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
        (["--leverage", "0"], "--leverage: expected a positive number, got '0'"),
        (["--mmr", "0"], "--mmr: expected a rate between 0 and 1 such as 0.004, got '0'"),
        (["--mmr", "1"], "--mmr: expected a rate between 0 and 1 such as 0.004, got '1'"),
        (["--mmr", "0.4%"], "--mmr: expected a rate between 0 and 1 such as 0.004, got '0.4%'"),
        (["--mmr", "nan"], "--mmr: expected a rate between 0 and 1 such as 0.004, got 'nan'"),
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


def test_mmr_is_refused_for_an_instrument_with_tiers(capsys: pytest.CaptureFixture[str]) -> None:
    """A catalog instrument with tiers sets the rate itself: --mmr with it exits 2 naming the flag."""
    argv = ["plan", "--asset", "BTC", "--quantity", "1.5", "--price", "60000",
            "--instrument", "okx:BTC-USDT-SWAP", "--mmr", "0.005"]
    assert main(argv) == 2
    assert capsys.readouterr().err == (
        "hedge-monitor plan: --mmr: okx:BTC-USDT-SWAP has catalog margin tiers; its tier sets the rate\n")


def test_json_liquidation_and_survival_of_the_issue(capsys: pytest.CaptureFixture[str]) -> None:
    """--leverage 10: LP 65737.05 (+9.56 %), +20 % nets +9000 liquidated, survival needs 18432 / 4x."""
    plan = _plan_json(capsys, "--leverage", "10")
    # existing keys are kept
    for key in ("asset", "quantity", "price", "instrument", "instrument_kind", "contract_size",
                "contract_value_usd", "target_ratio", "exposure_usd", "contract_notional_usd",
                "contracts_exact", "contracts", "side", "hedge_notional_usd", "hedge_ratio",
                "residual_delta", "residual_delta_usd", "initial_margin_usd", "leverage", "stress",
                "standard"):
        assert key in plan
    # LP = (9000 + 1.5 * 60000) / (1.5 * 1.004) = 99000 / 1.506 = 65737.05; 5737.05 / 60000
    assert plan["liquidation_price"] == pytest.approx(65_737.05, abs=0.005)
    assert plan["liquidation_distance"] == pytest.approx(0.0956, abs=5e-5)
    assert plan["maintenance_margin_rate"] == 0.004  # the documented default, --mmr not given
    assert "Binance USDⓈ-M BTCUSDT bracket 1" in str(plan["maintenance_margin_source"])
    stress = {row["shock"]: row for row in plan["stress"]}
    # +20 %: spot 1.5 * 12000 = +18000; the short loses its 9000 wallet only; net +9000
    assert stress[0.2]["spot_pnl_usd"] == pytest.approx(18_000.0)
    assert stress[0.2]["hedge_pnl_usd"] == pytest.approx(-9_000.0)
    assert stress[0.2]["net_pnl_usd"] == pytest.approx(9_000.0)
    assert stress[0.2]["liquidated"] is True
    # 72000 * 1.5 * 1.004 - 90000 = 18432; 90000 / 18432 = 4.88 -> 4x
    assert stress[0.2]["margin_to_survive_usd"] == pytest.approx(18_432.0)
    assert stress[0.2]["max_leverage_to_survive_exact"] == pytest.approx(4.8828125)
    assert stress[0.2]["max_leverage_to_survive"] == 4.0
    assert stress[-0.1]["liquidated"] is False


def test_mmr_flag_changes_the_liquidation_price(capsys: pytest.CaptureFixture[str]) -> None:
    """--mmr 0.005 on a custom contract: LP = 99000 / (1.5 * 1.005) = 65671.64."""
    plan = _plan_json(capsys, "--leverage", "10", "--mmr", "0.005")
    assert plan["liquidation_price"] == pytest.approx(65_671.64, abs=0.005)
    assert plan["maintenance_margin_rate"] == 0.005


def test_instrument_without_tiers_takes_the_default_or_mmr(capsys: pytest.CaptureFixture[str]) -> None:
    """CME MBT lists no tiers: the default 0.004 applies and says so; --mmr may replace it."""
    base = ["plan", "--asset", "BTC", "--quantity", "1.5", "--price", "60000",
            "--instrument", "cme:MBT", "--leverage", "10", "--json"]
    assert main(base) == 0
    plan = orjson.loads(capsys.readouterr().out)
    assert plan["maintenance_margin_rate"] == 0.004
    assert plan["maintenance_margin_source"].endswith("cme:MBT lists no margin tiers")
    # 15 x 0.1 BTC = 1.5 BTC: the same 65737.05 as the micro contract
    assert plan["liquidation_price"] == pytest.approx(65_737.05, abs=0.005)
    assert main([*base, "--mmr", "0.005"]) == 0
    assert orjson.loads(capsys.readouterr().out)["liquidation_price"] == pytest.approx(65_671.64, abs=0.005)


def test_readable_liquidation_and_survival(capsys: pytest.CaptureFixture[str]) -> None:
    """The text shows the liquidation price, the liquidated rows and the margin to survive."""
    assert main([*SEED, "--leverage", "10"]) == 0
    out = capsys.readouterr().out
    assert "liquidation price     65,737.05 USD   (+9.56% from 60,000.00)" in out
    assert "rate 0.40%, amount 0.00 USD" in out
    assert "default 0.004: Binance USDⓈ-M BTCUSDT bracket 1" in out
    rows = _stress_lines(out)
    # shock, spot, hedge, net, state, margin to survive, max leverage (exact)
    assert rows["+20%"].split() == ["+20%", "18,000.00", "-9,000.00", "9,000.00", "liquidated",
                                    "18,432.00", "USD", "4x", "(4.88x)"]
    assert rows["+10%"].split() == ["+10%", "9,000.00", "-9,000.00", "0.00", "liquidated",
                                    "9,396.00", "USD", "9x", "(9.58x)"]
    assert rows["+5%"].split()[4:] == ["alive", "4,878.00", "USD", "18x", "(18.45x)"]
    assert rows["-20%"].split()[4:] == ["alive", "0.00", "USD", "any"]
    assert "At 65,737.05 the short is liquidated: it loses its 9,000.00 USD margin" in out


def test_readable_inverse(capsys: pytest.CaptureFixture[str]) -> None:
    """OKX BTC-USD-SWAP at 10x: margin in BTC, LP 66366.67, +10 % alive, +20 % liquidated."""
    assert main(["plan", "--asset", "BTC", "--quantity", "1.5", "--price", "60000",
                 "--instrument", "okx:BTC-USD-SWAP", "--leverage", "10"]) == 0
    out = capsys.readouterr().out
    # 90000 / 10 = 9000 USD = 0.15 BTC; OKX adds the 0.05 % closing fee to the requirement:
    # LP = 90000 x (1 - 0.0045) / (1.5 - 0.15) = 89595 / 1.35 = 66366.67 = +10.61 %
    assert "initial margin        9,000.00 USD (0.15000000 BTC) at 10x, isolated" in out
    assert "liquidation price     66,366.67 USD   (+10.61% from 60,000.00)" in out
    rows = _stress_lines(out)
    # 1.5 - 89595 / 72000 = 0.255625 BTC; 90000 / (0.255625 * 60000) = 5.87 -> 5x
    assert rows["+20%"].split() == ["+20%", "18,000.00", "-9,000.00", "9,000.00", "liquidated",
                                    "0.25562500", "BTC", "5x", "(5.87x)"]
    assert rows["+10%"].split()[4] == "alive"
    # a fall needs no margin; OKX tier 1 allows 100x; net shows 0.00, not float noise -0.00
    assert rows["-20%"].split()[3:] == ["0.00", "alive", "0.00000000", "BTC", "100x", "(the", "tier's",
                                        "maximum)"]


def test_readable_without_leverage_says_unknown(capsys: pytest.CaptureFixture[str]) -> None:
    """Without --leverage the leg's state is '?', and the text says how to get it."""
    assert main(SEED) == 0
    out = capsys.readouterr().out
    assert "give --leverage to see where the isolated short is liquidated" in out
    rows = _stress_lines(out)
    assert rows["+20%"].split()[4] == "?"


def test_a_leverage_that_liquidates_at_once_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    """300x leaves 90000 / 300 = 300 USD, below the 90000 * 0.004 = 360 maintenance margin."""
    assert main([*SEED, "--leverage", "300"]) == 2
    assert capsys.readouterr().err == (
        "hedge-monitor plan: --leverage: at 300x the short's margin of 300.00 USD is not above its "
        "maintenance margin (rate 0.004): it is liquidated at once\n")


def test_readable_okx_linear_by_okx_rule(capsys: pytest.CaptureFixture[str]) -> None:
    """OKX BTC-USDT-SWAP at 10x: OKX's requirement (MM + closing fee), amounts to the cent in USDT."""
    assert main(["plan", "--asset", "BTC", "--quantity", "1.5", "--price", "60000",
                 "--instrument", "okx:BTC-USDT-SWAP", "--leverage", "10"]) == 0
    out = capsys.readouterr().out
    # 150 contracts are OKX tier 1 (0.4 %); liquidation at MM plus the 0.05 % taker fee:
    # (9000 + 1.5 x 60000) / (1.5 x (1 + 0.004 + 0.0005)) = 99000 / 1.50675 = 65704.33 = +9.51 %
    assert "liquidation price     65,704.33 USD   (+9.51% from 60,000.00)" in out
    rows = _stress_lines(out)
    # to survive +20 %: 1.5 x 72000 x 0.0045 + 1.5 x 12000 = 486 + 18000 = 18,486 USDT;
    # 90000 / 18486 = 4.87 -> 4x
    assert rows["+20%"].split()[4:] == ["liquidated", "18,486.00", "USDT", "4x", "(4.87x)"]
