"""Analytic key rates: published anchors, the safe direction of the decoy bounds, finite key, bounds."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from harness.qkd.bounds import plob_bound, tgw_bound
from harness.qkd.finite_key import finite_key_rate, lim_key_length
from harness.qkd.finite_key_optimum import optimal_finite_key_rate
from harness.qkd.keyrate import (
    decoy_bb84_asymptotic,
    expected_observations,
    infinite_decoy_rate,
    max_distance_km,
    optimal_rate,
)
from harness.qkd.profiles import load_profile
from harness.qkd.sweep import asymptotic_infinite_decoy, asymptotic_vacuum_weak, finite_key


@pytest.fixture(scope="module")
def gys():
    return load_profile("gys-2004")


def test_gys_asymptotic_decoy_rate_reaches_140_to_142_km(gys):
    # Ma, Qi, Zhao, Lo 2005: vacuum + weak decoy about 140-142 km depending on nu; infinite decoy ~142 km.
    vacuum_weak = max_distance_km(lambda d: asymptotic_vacuum_weak(gys, d))
    infinite = max_distance_km(lambda d: asymptotic_infinite_decoy(gys, d))
    assert 140.0 <= vacuum_weak <= 142.0
    assert 141.5 <= infinite <= 142.5
    assert vacuum_weak < infinite


def test_gys_rate_at_zero_km_is_about_2_5e_3_per_pulse(gys):
    symmetric = gys.with_changes({"source.basis_probability_key": 0.5})  # Ma et al.'s q = 1/2
    rate, mu = optimal_rate(lambda m: infinite_decoy_rate(symmetric, 0.0, mu=m).rate_per_pulse, 0.01, 1.5)
    assert rate == pytest.approx(2.5e-3, rel=0.05)
    assert 0.4 < mu < 0.6  # Ma et al.'s optimum is 0.48 at f = 1.22
    assert decoy_bb84_asymptotic(symmetric, 0.0, mu=0.48).rate_per_pulse == pytest.approx(2.4e-3, rel=0.05)


def test_full_y1_bound_is_safe_where_the_short_form_is_not(gys):
    mu, nu = 0.48, 0.05
    for d in (10.0, 80.0, 130.0):
        r = decoy_bb84_asymptotic(gys, d, mu=mu, nu=nu)
        dec = expected_observations(gys, d, nu)
        y0 = gys.background_yield()
        true_y1 = y0 + gys.total_transmittance(d) * (1 - y0)
        # The short form keeps only the weak-decoy term, dropping the Q_mu and Y0 terms.
        short = mu / (mu * nu - nu * nu) * dec.gain * math.exp(nu)
        assert r.y1 < true_y1 < short, "full bound below the true yield; short form above it (unsafe)"
        assert r.y1 > 0.9 * true_y1, "and the full bound is still tight"
        assert r.e1 >= infinite_decoy_rate(gys, d, mu=mu).e1


def test_rate_falls_with_distance_and_the_decoy_rate_never_exceeds_the_infinite_limit(gys):
    distances = np.arange(0.0, 140.0, 10.0)
    finite_decoy = [asymptotic_vacuum_weak(gys, d) for d in distances]
    infinite = [asymptotic_infinite_decoy(gys, d) for d in distances]
    assert all(a > b for a, b in itertools.pairwise(finite_decoy))
    assert all(f <= i * (1 + 1e-9) for f, i in zip(finite_decoy, infinite, strict=True))


def test_bad_decoy_intensities_are_rejected(gys):
    with pytest.raises(ValueError, match="nu < mu"):
        decoy_bb84_asymptotic(gys, 10.0, mu=0.1, nu=0.2)


@pytest.fixture(scope="module")
def lim():
    return load_profile("lim-2014")


def test_finite_key_grows_with_block_size_towards_the_asymptotic_rate(lim):
    d = 50.0
    rates = [optimal_finite_key_rate(lim, d, n).rate_per_pulse for n in (10**5, 10**6, 10**7, 10**9)]
    assert all(a < b for a, b in itertools.pairwise(rates))
    asym = asymptotic_vacuum_weak(lim, d)
    # Lim et al. use only the key basis for the key; with p_key -> 1 the sifting factor tends to 1,
    # against the asymptotic GLLP q = p_key^2 + p_test^2 here, so compare per sifted-key fraction.
    assert rates[-1] <= asym / (0.9**2 + 0.1**2)


@pytest.mark.slow  # three reaches, each ~20 full optimisations: about 90 s here
def test_finite_key_maximum_distance_grows_with_block_size(lim):
    distances = [max_distance_km(lambda d, n=n: finite_key(lim, d, n), first_step_km=10.0)
                 for n in (10**5, 10**7, 10**9)]
    assert 0 < distances[0] < distances[1] < distances[2]
    assert distances[2] <= max_distance_km(lambda d: asymptotic_infinite_decoy(lim, d)) + 1.0


@pytest.mark.parametrize("reach_km", [0.003, 4.2, 37.5, 180.77, 999.0])
def test_max_distance_brackets_by_doubling_and_bisects_to_the_tolerance(reach_km):
    calls = []

    def rate_at(d):
        calls.append(d)
        return 1.0 if d <= reach_km else 0.0

    found = max_distance_km(rate_at, upper_km=1000.0, first_step_km=5.0, tolerance_km=0.01)
    assert found == pytest.approx(reach_km, abs=0.01)
    # 5 km steps to 999 km took 200 evaluations; doubling brackets it in 8, bisection adds about 15.
    assert len(calls) <= 2 + math.ceil(math.log2(1000.0 / 5.0)) + math.ceil(math.log2(1000.0 / 0.01)) + 2
    assert max_distance_km(lambda d: 1.0, upper_km=300.0) == 300.0
    assert max_distance_km(lambda d: 0.0) == 0.0


def test_lim_key_length_charges_the_security_terms(lim):
    r = finite_key_rate(lim, 20.0, 10**7)
    assert r.key_length_bits > 0
    # lim-2014 sets eps_sec = kappa l (Lim et al.'s Fig. 1): the key's own secrecy is its fixed point.
    assert r.eps_sec == pytest.approx(lim.security.eps_sec_per_key_bit * r.key_length_bits, rel=1e-6)
    eps_terms = 6 * math.log2(21 / r.eps_sec) + math.log2(2 / lim.security.eps_cor)
    assert r.key_length_bits == pytest.approx(
        r.s0 + r.s1 * (1 - _h(r.phase_error)) - r.leak_ec_bits - eps_terms, rel=1e-9)
    tighter = lim.with_changes({"security.eps_sec_per_key_bit": 1e-20})
    assert finite_key_rate(tighter, 20.0, 10**7).key_length_bits < r.key_length_bits
    fixed = lim.with_changes({"security.eps_sec_per_key_bit": None, "security.eps_sec": 1e-10})
    assert finite_key_rate(fixed, 20.0, 10**7).eps_sec == 1e-10


def test_lim_key_length_vanishes_when_the_phase_error_is_too_high(lim):
    noisy = lim.with_changes({"misalignment_error": 0.12})
    assert finite_key_rate(noisy, 10.0, 10**8).key_length_bits == 0.0
    # Straight from counts: errors at half the test-basis detections leave nothing to distil.
    r = finite_key_rate(lim, 10.0, 10**7)
    key = np.array([5.0e6, 1.0e6, 1.0e4]) * 2
    test = key / 81
    length, _, _, phi, _ = lim_key_length(key, key * 0.01, test, test * 0.5, (0.5, 0.1, 2e-4),
                                          (0.5, 0.25, 0.25), 1e-10, 1e-15, 1.16)
    assert phi == 0.5 and length < 0 < r.key_length_bits


def _h(x):
    return -x * math.log2(x) - (1 - x) * math.log2(1 - x)


def test_plob_and_tgw_at_1000_km_are_finite_and_about_1e_20():
    eta = 10 ** (-0.2 * 1000 / 10)
    plob, tgw = plob_bound(eta), tgw_bound(eta)
    assert math.isfinite(plob) and plob == pytest.approx(eta / math.log(2), rel=1e-12)
    assert tgw == pytest.approx(2 * eta / math.log(2), rel=1e-12)
    assert 1e-21 < plob < 1e-19
    assert plob_bound(0.5) == pytest.approx(1.0)
    assert tgw_bound(0.5) == pytest.approx(math.log2(3))
    np.testing.assert_allclose(plob_bound(np.array([0.1, 0.2])), -np.log2([0.9, 0.8]))
    with pytest.raises(ValueError, match="transmittance"):
        plob_bound(1.5)


def test_decoy_rate_stays_below_plob(gys):
    for d in (5.0, 50.0, 100.0, 140.0):
        assert asymptotic_infinite_decoy(gys, d) < plob_bound(gys.channel_transmittance(d))
