"""``qsbench keyrate`` through typer's CliRunner on an app with only this command registered."""

from __future__ import annotations

import json

import typer
from typer.testing import CliRunner

from harness.cli.keyrate import register


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)

    @app.callback()
    def _root() -> None:
        """qsbench (test harness)."""

    return app


def test_json_output_has_max_distance_and_rows():
    args = ["keyrate", "--profile", "gys-2004", "--distances", "0:140:20", "--json"]
    result = CliRunner().invoke(_app(), args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert 140.0 <= data["max_distance_km"] <= 142.0
    assert [r["distance_km"] for r in data["rows"]] == [0, 20, 40, 60, 80, 100, 120, 140]
    row = data["rows"][2]
    assert row["asymptotic_rate_bps"] == row["asymptotic_rate_per_pulse"] * 2e6
    assert row["plob_bits_per_pulse"] > row["asymptotic_rate_per_pulse"] > 0
    assert data["rows"][0]["plob_bits_per_pulse"] is None  # lossless at 0 km: unbounded


def test_table_and_svg_plot(tmp_path):
    plot = tmp_path / "rate.svg"
    result = CliRunner().invoke(_app(), ["keyrate", "-p", "lim-2014", "--distances", "0:100:50",
                                         "--block-size", "1000000", "--plot", str(plot)])
    assert result.exit_code == 0, result.output
    assert "max distance" in result.output
    assert plot.read_text().lstrip().startswith("<?xml")


def test_bad_distances_and_profile_are_reported():
    bad = CliRunner().invoke(_app(), ["keyrate", "-p", "gys-2004", "--distances", "10:0:5"])
    assert bad.exit_code != 0 and "START <= STOP" in bad.output
    unknown = CliRunner().invoke(_app(), ["keyrate", "-p", "acme"])
    assert unknown.exit_code != 0 and "gys-2004" in unknown.output


def test_background_switches_free_space_day_and_night():
    runner, app = CliRunner(), _app()
    reach = {}
    for when in ("day", "night"):
        args = ["keyrate", "-p", "free-space-ground", "--distances", "10", "--background", when, "--json"]
        out = runner.invoke(app, args)
        assert out.exit_code == 0, out.output
        reach[when] = json.loads(out.output)["max_distance_km"]
    assert 0 < reach["day"] < reach["night"]
    fibre = runner.invoke(app, ["keyrate", "-p", "gys-2004", "--background", "day"])
    assert fibre.exit_code != 0 and "free-space" in fibre.output


def test_json_reports_the_optimum_and_both_finite_reaches():
    args = ["keyrate", "-p", "lim-2014", "--distances", "0:100:50", "--block-size", "10000", "--json"]
    result = CliRunner().invoke(_app(), args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    # The device's fixed settings make no key from blocks of 10^4; the optimised protocol does.
    assert data["max_distance_finite_as_configured_km"] == 0.0
    assert 100.0 < data["max_distance_finite_km"] < data["max_distance_km"]
    row = data["rows"][1]
    assert row["finite_key_as_configured_rate_bps"] == 0.0 < row["finite_key_rate_bps"]
    opt = row["finite_key_optimum"]
    assert opt["mu1"] > opt["mu2"] + opt["mu3"] and opt["mu3"] == 2e-4
    assert abs(opt["p_mu1"] + opt["p_mu2"] + opt["p_mu3"] - 1.0) < 1e-12
    assert 0.0 < row["finite_key_eps_sec"] < 1e-10  # eps_sec = 1e-15 l for lim-2014
