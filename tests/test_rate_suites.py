"""key_rate and distance_limit plumbing on a link double whose rate is known in closed form.

The physics (Monte Carlo vs analytic) is tested with the real QKD core in test_simulated_device.py;
here the double's rate is R0 10^(-0.02 d) up to a hard cut-off, so what the suites report can be
checked exactly: intervals cover the truth, and the bisection lands on the cut-off.
"""

from __future__ import annotations

import math

import pytest

from harness.suite import MeasureContext
from suites.distance_limit import DistanceLimit, DistanceLimitParams
from suites.key_rate import KeyRate, KeyRateParams
from tests.qkd_helpers import LossyRateSource
from vendors.simulated_qkd.adapter import SimulatedQKDAdapter


def _ctx(tmp_path):
    return MeasureContext(seed=1, work_dir=tmp_path, timeout_s=60)


def test_key_rate_interval_covers_the_true_rate_and_compares_with_theory(tmp_path):
    adapter = SimulatedQKDAdapter({"profile": "lim-2014"}, source=LossyRateSource(100_000, 100.0))
    params = KeyRateParams(distances_km=[25.0], window_s=20.0, repeats=5)
    rows = list(KeyRate().measure(adapter, params, {"distance_km": 25.0}, _ctx(tmp_path)))
    m = {r.metric: r.value for r in rows if r.sample == 0}
    truth = 100_000 * 10 ** (-0.5)
    assert m["secret_key_rate_bps_ci_low"] <= truth <= m["secret_key_rate_bps_ci_high"]
    assert len([r for r in rows if r.metric == "secret_key_rate_bps"]) == 5
    assert m["qber_mean"] == pytest.approx(0.02)
    # lim-2014: 1 GHz, 0.2 dB/km -> eta_channel at 25 km = 10^-0.5; PLOB = -log2(1 - eta) * 1e9.
    assert m["plob_bound_bps"] == pytest.approx(-math.log2(1 - 10 ** -0.5) * 1e9, rel=1e-9)
    assert m["plob_fraction"] == pytest.approx(m["secret_key_rate_bps_mean"] / m["plob_bound_bps"])
    assert m["analytic_finite_key_bps"] > 0 and "ratio_to_analytic_finite_key" in m
    # Both reaches of the declared device, each named: lim-2014's fixed settings at its 10^7 blocks
    # reach less far than infinitely long blocks do.
    assert m["finite_key_block_bits"] == 1e7
    assert 100 < m["analytic_finite_key_reach_km"] < m["analytic_asymptotic_reach_km"] < 250


def test_key_rate_reach_follows_the_configured_block_size(tmp_path):
    # 10^6 blocks: lim-2014's fixed settings make no finite key anywhere, whatever the asymptote.
    adapter = SimulatedQKDAdapter({"profile": "lim-2014", "block_bits": 1_000_000},
                                  source=LossyRateSource(100_000, 100.0))
    params = KeyRateParams(distances_km=[25.0], window_s=2.0, repeats=2)
    m = {r.metric: r.value for r in KeyRate().measure(adapter, params, {"distance_km": 25.0}, _ctx(tmp_path))
         if r.sample == 0}
    assert m["finite_key_block_bits"] == 1e6
    assert m["analytic_finite_key_reach_km"] == 0.0 < m["analytic_asymptotic_reach_km"]


def test_distance_limit_finds_the_cutoff(tmp_path):
    adapter = SimulatedQKDAdapter({"profile": "gys-2004"}, source=LossyRateSource(100_000, 73.0))
    params = DistanceLimitParams(max_km=200, tolerance_km=1.0, window_s=2.0, repeats=2)
    rows = list(DistanceLimit().measure(adapter, params, {"threshold_bps": 0.0}, _ctx(tmp_path)))
    m = {r.metric: r.value for r in rows if r.sample == 0}
    assert m["distance_limit_km"] <= 73.0 <= m["distance_limit_upper_km"]
    assert m["distance_limit_upper_km"] - m["distance_limit_km"] <= 1.0
    # The analytic GYS decoy limit is ~140 km (Ma et al. 2005); the double's cut-off is not physics.
    assert 130 < m["analytic_asymptotic_limit_km"] < 150


def test_distance_limit_with_a_threshold_uses_the_interval(tmp_path):
    # 1000 bit/s is reached where 1e5 * 10^(-0.02 d) = 1e3, i.e. d = 100 km (cut-off out of the way).
    adapter = SimulatedQKDAdapter({"profile": "gys-2004"}, source=LossyRateSource(100_000, 500.0))
    params = DistanceLimitParams(threshold_bps=1000, max_km=200, tolerance_km=2.0, window_s=10.0, repeats=3)
    rows = list(DistanceLimit().measure(adapter, params, {"threshold_bps": 1000.0}, _ctx(tmp_path)))
    m = {r.metric: r.value for r in rows if r.sample == 0}
    assert 94 <= m["distance_limit_km"] <= 100 <= m["distance_limit_upper_km"] <= 106


def test_attenuation_sweep_sets_the_declared_fibre_loss(tmp_path):
    # lim-2014 declares 0.2 dB/km: 30 km becomes 6 dB on the attenuator, fibre length untouched.
    source = LossyRateSource(100_000, 500.0)
    adapter = SimulatedQKDAdapter({"profile": "lim-2014", "fibre_km": 0}, source=source)
    params = KeyRateParams(distances_km=[30.0], window_s=5.0, repeats=2, sweep="attenuation")
    rows = list(KeyRate().measure(adapter, params, {"distance_km": 30.0}, _ctx(tmp_path)))
    assert {(km, round(db, 9)) for km, db, _ in source.calls} == {(0.0, 6.0)}
    loss = [r.value for r in rows if r.metric == "channel_loss_db"]
    assert loss and all(v == pytest.approx(6.0) for v in loss)


def test_analytic_figures_describe_the_device_as_configured():
    # lim-2014 with blocks of 10^6: its fixed settings make no finite key at any distance, while
    # the profile's own 10^7 blocks reach about 140 km; the protocol's optimum for the hardware does.
    from suites.qkd_expectations import expectation

    adapter = SimulatedQKDAdapter({"profile": "lim-2014", "block_bits": 1_000_000})
    try:
        profile = adapter.declared_profile()
        assert profile.security.block_size == 1_000_000
        exp = expectation(profile, 50.0)
        assert exp.finite_key_bps == 0.0 < exp.finite_key_optimum_bps
        assert exp.finite_key_optimum is not None and exp.finite_key_optimum["mu3"] == 2e-4
    finally:
        adapter.close()
