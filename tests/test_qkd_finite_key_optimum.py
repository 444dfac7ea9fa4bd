"""The full finite-key optimiser: against the old restricted search, a brute-force grid, the
asymptotic limit, and Lim et al. 2014's Fig. 1 statements."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from harness.qkd.finite_key import ProtocolSettings, finite_key_rate, finite_key_rates
from harness.qkd.finite_key_optimum import optimal_finite_key_rate
from harness.qkd.observations import binary_entropy, detection_probabilities
from harness.qkd.optimise import max_distance_km
from harness.qkd.profiles import load_profile


@pytest.fixture(scope="module")
def lim():
    return load_profile("lim-2014")


@pytest.fixture(scope="module")
def gys():
    return load_profile("gys-2004")


def _restricted_optimum(profile, distance_km, block_size):
    """What qsbench searched before: mu1 and the key-basis probability, decoys as configured."""
    base = ProtocolSettings.of(profile)
    low = (base.intensities[1] + base.intensities[2]) * 1.05
    best = 0.0
    for pz in (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.97):
        for mu in np.geomspace(low, 1.5, 40):
            s = ProtocolSettings((float(mu), *base.intensities[1:]), base.intensity_probabilities, pz)
            best = max(best, finite_key_rate(profile, distance_km, block_size, s).rate_per_pulse)
    return best


@pytest.mark.parametrize(("name", "distance_km", "block_size"), [
    ("lim-2014", 0.0, 10**5), ("lim-2014", 50.0, 10**7), ("lim-2014", 120.0, 10**9),
    ("gys-2004", 20.0, 10**6), ("high-rate-2023", 80.0, 10**8),
])
def test_never_below_the_old_restricted_optimum(name, distance_km, block_size):
    profile = load_profile(name)
    old = _restricted_optimum(profile, distance_km, block_size)
    new = optimal_finite_key_rate(profile, distance_km, block_size)
    assert new.rate_per_pulse >= old * (1 - 1e-9)
    # Optimising mu2 and the probabilities too pays off where the block is small.
    if name == "lim-2014" and block_size <= 10**5:
        assert new.rate_per_pulse > 1.5 * old


def _grid_optimum(profile, distance_km, block_size):
    mu3 = ProtocolSettings.of(profile).intensities[2]
    rows = []
    for pz, p1, share, mu1, r in itertools.product(
            (0.5, 0.7, 0.85, 0.95), (0.1, 0.3, 0.5, 0.7, 0.9), (0.3, 0.5, 0.7),
            (0.2, 0.35, 0.5, 0.7), (0.1, 0.25, 0.4, 0.6)):
        mu2 = mu3 + (mu1 - 2 * mu3) * r
        rows.append((pz, p1, (1 - p1) * share, mu1, mu2))
    g = np.array(rows)
    mus = np.stack([g[:, 3], g[:, 4], np.full(len(g), mu3)], axis=1)
    probs = np.stack([g[:, 1], g[:, 2], 1 - g[:, 1] - g[:, 2]], axis=1)
    return float(finite_key_rates(profile, distance_km, block_size, mus, probs, g[:, 0])[0].max())


@pytest.mark.parametrize(("distance_km", "block_size"), [
    (0.0, 10**4), (60.0, 10**4), (100.0, 10**5), (25.0, 10**6), (150.0, 10**8), (175.0, 10**10),
])
def test_finds_at_least_the_brute_force_grid_optimum(lim, distance_km, block_size):
    grid = _grid_optimum(lim, distance_km, block_size)
    found = optimal_finite_key_rate(lim, distance_km, block_size).rate_per_pulse
    assert grid > 0.0
    assert found >= grid * (1 - 1e-9)
    assert found <= grid * 1.5  # the grid is coarse, not wrong: the optimum lies close by


def _asymptotic_at(profile, distance_km, s: ProtocolSettings) -> float:
    """Lim's key with exact s0, s1, e1 and no finite-size terms, for the same settings: Y_n and
    e_n from the photon-number model (afterpulses scale every yield alike in the lim-2014 model)."""
    mu, p = np.array(s.intensities), np.array(s.intensity_probabilities)
    gain, errors = detection_probabilities(profile, distance_km, mu, p)
    eta = profile.total_transmittance(distance_km)
    d = profile.dark_count_probability_per_gate()
    y0 = 1 - (1 - d) ** 2
    y1 = y0 + eta - y0 * eta
    e1 = (0.5 * y0 + profile.misalignment_error * eta * (1 - y0)) / y1
    p_ap = profile.detector.afterpulse_probability
    scale = 1 + p_ap
    e1 = (e1 + 0.5 * p_ap) / scale
    y0, y1 = y0 * scale, y1 * scale
    pz = s.basis_probability_key
    tau0, tau1 = np.sum(p * np.exp(-mu)), np.sum(p * np.exp(-mu) * mu)
    qber = float(np.sum(p * errors) / np.sum(p * gain))
    per_pulse = pz**2 * (tau0 * y0 + tau1 * y1 * (1 - binary_entropy(e1))
                         - profile.error_correction_efficiency * np.sum(p * gain) * binary_entropy(qber))
    return max(0.0, float(per_pulse))


@pytest.mark.parametrize("block_size", [10**4, 10**6, 10**8, 10**10])
def test_finite_never_exceeds_the_asymptotic_key_over_a_grid(lim, block_size):
    for d in (0.0, 50.0, 100.0, 150.0, 200.0):
        r = optimal_finite_key_rate(lim, d, block_size)
        assert r.rate_per_pulse <= _asymptotic_at(lim, d, r.settings)
        assert r.rate_per_pulse <= _asymptotic_at(lim, d, r.settings) or r.rate_per_pulse == 0.0


def test_optimum_is_reported_with_its_settings(lim):
    r = optimal_finite_key_rate(lim, 50.0, 10**5)
    s = r.settings
    assert s.intensities[0] > s.intensities[1] + s.intensities[2] and s.intensities[2] == 2e-4
    assert math.isclose(sum(s.intensity_probabilities), 1.0)
    again = finite_key_rate(lim, 50.0, 10**5, s)
    assert again.rate_per_pulse == r.rate_per_pulse
    assert set(s.as_dict()) == {"mu1", "mu2", "mu3", "p_mu1", "p_mu2", "p_mu3", "basis_probability_key"}


@pytest.mark.slow
def test_lim_2014_fig1_statements(lim):
    """Lim et al. write of their Fig. 1 that a block of 10^4 still reaches about 135 km, and that
    at 100 km the rate with n_X = 10^9 is about 1.75 times the one with 10^7."""
    ratio = (optimal_finite_key_rate(lim, 100.0, 10**9).rate_per_pulse
             / optimal_finite_key_rate(lim, 100.0, 10**7).rate_per_pulse)
    assert ratio == pytest.approx(1.75, rel=0.05)
    reach = max_distance_km(lambda d: optimal_finite_key_rate(lim, d, 10**4).rate_per_pulse,
                            first_step_km=10.0, tolerance_km=0.5)
    assert 115.0 < reach < 145.0
