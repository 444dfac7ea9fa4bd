"""Suite `soak` and the simulated device's calibration drift.

The statistics are checked on synthetic series with a known slope (numpy only); the drift model
on its own and on a link fed by `FixedRateSource` (a test double for the QKD core: what is under
test is the device clock's recalibration and the drift bookkeeping); the suite on the real core
(gys-2004 at 25 km: 760 s blocks, a third of a second of wall time each).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from harness.suite import MeasureContext
from suites.soak import Soak, SoakParams, cv, trend
from tests.qkd_helpers import FixedRateSource
from vendors.simulated_qkd.adapter import SimulatedQKDAdapter
from vendors.simulated_qkd.drift import Drift, DriftModel
from vendors.simulated_qkd.keystore import LinkKeyStore
from vendors.simulated_qkd.link import SimulatedLink


def naive_ols(t, y):
    """The textbook slope and its iid standard error, written out."""
    n = len(t)
    tm, ym = sum(t) / n, sum(y) / n
    sxx = sum((a - tm) ** 2 for a in t)
    slope = sum((a - tm) * (b - ym) for a, b in zip(t, y, strict=True)) / sxx
    resid = [b - ym - slope * (a - tm) for a, b in zip(t, y, strict=True)]
    return slope, math.sqrt(sum(r * r for r in resid) / (n - 2) / sxx)


def ar1(rng, n, phi):
    e = rng.normal(size=n)
    out = np.empty(n)
    out[0] = e[0] / math.sqrt(1 - phi * phi)  # stationary from the start
    for i in range(1, n):
        out[i] = phi * out[i - 1] + e[i]
    return out


def test_trend_slope_is_least_squares_and_its_interval_covers_under_correlated_noise():
    rng = np.random.default_rng(20261202)
    t = np.arange(100) / 4.0
    y = 3.0 - 0.2 * t + ar1(rng, 100, 0.6)
    slope, ci, n = trend(t, y)
    assert n == 100 and slope == pytest.approx(naive_ols(list(t), list(y))[0], rel=1e-12)
    assert slope == pytest.approx(np.polyfit(t, y, 1)[0], rel=1e-10)
    # Coverage of the true slope over 400 series of AR(1) noise (phi 0.6): the corrected interval
    # holds about 95 %; the iid one, too narrow for correlated windows, falls well short.
    ours = iid = 0
    for _ in range(400):
        y = 1.0 + 0.5 * t + ar1(rng, 100, 0.6)
        slope, ci, _ = trend(t, y)
        s, se = naive_ols(list(t), list(y))
        ours += abs(slope - 0.5) <= ci
        iid += abs(s - 0.5) <= 1.984 * se
    assert 0.89 <= ours / 400 <= 0.98
    assert iid / 400 < ours / 400 - 0.1
    # On independent noise it keeps its 95 %.
    white = 0
    for _ in range(400):
        slope, ci, _ = trend(t, 0.5 * t + rng.normal(size=100))
        white += abs(slope - 0.5) <= ci
    assert 0.91 <= white / 400 <= 0.99


def test_trend_and_cv_edge_cases():
    assert all(math.isnan(v) for v in trend(np.array([0.0, 1.0]), np.array([1.0, 2.0]))[:2])
    slope, _, n = trend(np.arange(5.0), np.array([1.0, np.nan, 3.0, 4.0, 5.0]))
    assert n == 4 and slope == pytest.approx(1.0)
    assert cv(np.array([2.0, 2.0, 2.0])) == 0 and math.isnan(cv(np.array([0.0, 0.0])))
    assert cv(np.array([1.0, 3.0])) == pytest.approx(math.sqrt(2) / 2)


def test_drift_model_walks_recalibrates_and_ages():
    model = DriftModel(polarisation_walk_rad_per_sqrt_h=0.1, recalibration_interval_h=2,
                       recalibration_s=300, efficiency_ageing_per_h=0.01)
    thetas = []
    for seed in range(300):
        d = Drift(model, np.random.default_rng(seed))
        for _ in range(4):
            d.advance(900)  # an hour in four steps
        thetas.append(d.theta_rad)
    assert np.std(thetas) == pytest.approx(0.1, rel=0.15)  # sigma sqrt(1 h)
    d = Drift(model, np.random.default_rng(1))
    d.advance(3600)
    assert d.extra_misalignment == pytest.approx(math.sin(d.theta_rad) ** 2) and not d.recalibration_due()
    d.advance(3600)
    assert d.recalibration_due() and d.recalibrate() == 300 and d.theta_rad == 0 and d.recalibrations == 1
    assert d.efficiency_factor == pytest.approx(math.exp(-0.01 * (7200 + 300) / 3600))
    assert 10 ** (-d.ageing_loss_db / 10) == pytest.approx(d.efficiency_factor)
    with pytest.raises(ValidationError):
        DriftModel(polarisation_walk_rad_per_sqrt_h=-1)
    with pytest.raises(ValidationError):
        DriftModel(recalibration_every_h=2)


def test_a_drifting_link_recalibrates_on_its_clock_and_distils_nothing_meanwhile():
    def link(drift):
        return SimulatedLink(FixedRateSource(1000, 10.0), LinkKeyStore(256, 10**6), 10, 3, drift)

    steady = link(None).run_for(4 * 3600)
    drifting = link(DriftModel(recalibration_interval_h=1, recalibration_s=360)).run_for(4 * 3600)
    assert "recalibrations" not in steady.extra
    assert drifting.extra["recalibrations"] == 3  # at 1 h, 2 h and 3 h of device time
    # 3 x 360 s of the 4 h without key: the same device time distils 7.5 % fewer bits.
    assert drifting.extra["secret_bits"] == pytest.approx(steady.extra["secret_bits"] * (1 - 1080 / 14400),
                                                          rel=0.01)


def test_soak_params_are_bounded():
    with pytest.raises(ValidationError, match="at most 10000"):
        SoakParams(device_hours=1000, window_s=60)
    with pytest.raises(ValidationError, match="at least 3"):
        SoakParams(device_hours=1, window_s=3600)


def soak(options, hours=8.0, window_s=1200.0):
    p = SoakParams(device_hours=hours, window_s=window_s)
    suite = Soak()
    rows = list(suite.measure(SimulatedQKDAdapter({"profile": "gys-2004", "fibre_km": 25, **options}), p,
                              suite.cases(p)[0], MeasureContext(1, Path("."), 600)))
    for r in rows:
        assert suite.metrics[r.metric].unit == r.unit
    return {r.metric: r.value for r in rows if not suite.metrics[r.metric].timeline}


@pytest.mark.slow
def test_soak_sees_ageing_as_a_falling_trend_and_a_steady_link_as_none():
    steady = soak({"seed": 5})
    aged = soak({"seed": 5, "drift": {"efficiency_ageing_per_h": 0.05}})  # accelerated: 5 %/h
    assert steady["completed"] == 1 and steady["device_hours"] >= 8 and steady["compression"] > 100
    assert "recalibrations" not in steady and steady["uptime"] == 1
    # No drift: the slope's interval holds 0. Ageing: the rate falls, and the interval excludes 0.
    assert abs(steady["key_rate_trend_bps_per_h"]) <= steady["key_rate_trend_ci95_bps_per_h"]
    assert aged["key_rate_trend_bps_per_h"] + aged["key_rate_trend_ci95_bps_per_h"] < 0
    assert aged["mean_key_rate_bps"] < steady["mean_key_rate_bps"]


@pytest.mark.slow
def test_soak_sees_polarisation_drift_in_the_qber_and_counts_recalibrations():
    steady = soak({"seed": 5})
    drifting = soak({"seed": 5, "drift": {"polarisation_walk_rad_per_sqrt_h": 0.1,
                                           "recalibration_interval_h": 2, "recalibration_s": 300}})
    assert drifting["recalibrations"] == 3  # at 2, 4 and 6 h; 8 h ends the run
    assert drifting["qber_cv"] > 2 * steady["qber_cv"]
    assert drifting["key_rate_cv"] > steady["key_rate_cv"]


def test_soak_is_registered_and_its_scenario_parses():
    from harness.registry import suite_class
    from harness.scenario import parse_scenario

    assert suite_class("soak") is Soak
    loaded = parse_scenario(Path("suites/scenarios/soak.yaml").read_text(), "soak.yaml")
    assert [run.suite for run in loaded.scenario.suites] == ["soak"]
