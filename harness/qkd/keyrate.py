"""Asymptotic decoy-state BB84 key rates (GLLP), intensity optimisation and maximum distance.

Vacuum + weak decoy bounds of Ma, Qi, Zhao, Lo, PRA 72, 012326 (2005), in the full form:

    Y1^L = mu / (mu nu - nu^2) [Q_nu e^nu - Q_mu e^mu nu^2/mu^2 - (mu^2 - nu^2)/mu^2 Y0]
    e1^U = (E_nu Q_nu e^nu - Y0/2) / (Y1^L nu)
    R    = q {-Q_mu f H2(E_mu) + Q1 [1 - H2(e1^U)]},   Q1 = Y1^L mu e^-mu

and the infinite-decoy limit (Y1, e1 known exactly). The expected observations Q_k, E_k come
from the same photon-number click model the Monte Carlo samples (two threshold detectors, dark
counts per detector, double clicks squashed to a random bit), so analytic and Monte Carlo views
check each other; for small Y0 these reduce to Ma et al.'s Q = Y0 + 1 - e^(-eta mu) and
E Q = Y0/2 + e_d (1 - e^(-eta mu)). Afterpulses add A = p_ap Q/(1 - p_ap) clicks per pulse
with random bits (chained afterpulses included); dead time is not modelled analytically.

API: ``expected_observations``, ``decoy_bb84_asymptotic``, ``infinite_decoy_rate``,
``optimal_rate``, ``max_distance_km``, ``binary_entropy``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq, minimize_scalar

from harness.qkd.profiles import Profile


def binary_entropy(x: float) -> float:
    """H2(x) in bits; 0 at x <= 0 or x >= 1."""
    if x <= 0.0 or x >= 1.0:
        return 0.0
    return -x * math.log2(x) - (1.0 - x) * math.log2(1.0 - x)


@dataclass(frozen=True)
class Observations:
    """Expected gain Q and QBER E for one intensity (sifted, either basis)."""

    gain: float
    qber: float


def _afterpulse_rate(profile: Profile, eta: float, p_dark: float) -> float:
    p_ap = profile.detector.afterpulse_probability
    if p_ap == 0.0:
        return 0.0
    no_dark = (1.0 - p_dark) ** 2
    q = sum(p * (1.0 - no_dark * math.exp(-eta * mu))
            for mu, p in zip(profile.intensities, profile.intensity_probabilities, strict=True))
    return p_ap * q / (1.0 - p_ap)


def expected_observations(profile: Profile, distance_km: float, intensity: float,
                          background: str | None = None) -> Observations:
    """Q and E for a coherent pulse of mean photon number ``intensity``, honest channel."""
    if not (math.isfinite(intensity) and intensity >= 0.0):
        raise ValueError(f"intensity must be a finite mean photon number >= 0, got {intensity!r}")
    eta = profile.total_transmittance(distance_km)
    p = profile.dark_count_probability_per_gate(background)  # type: ignore[arg-type]
    e_d = profile.misalignment_error
    # Poisson thinning: photons reaching the right and the wrong detector are independent.
    click_right = 1.0 - (1.0 - p) * math.exp(-eta * intensity * (1.0 - e_d))
    click_wrong = 1.0 - (1.0 - p) * math.exp(-eta * intensity * e_d)
    gain = 1.0 - (1.0 - click_right) * (1.0 - click_wrong)
    errors = click_wrong * (1.0 - click_right) + 0.5 * click_right * click_wrong
    extra = _afterpulse_rate(profile, eta, p) * (1.0 - gain)
    return Observations(gain=gain + extra, qber=(errors + 0.5 * extra) / (gain + extra))


def _sifting_factor(profile: Profile) -> float:
    # Both bases feed the key in the asymptotic GLLP rate: q = pZ^2 + pX^2 (1/2 for symmetric BB84).
    pz = profile.source.basis_probability_key
    return pz * pz + (1.0 - pz) * (1.0 - pz)


def _vacuum_yield(profile: Profile, distance_km: float, background: str | None) -> float:
    return expected_observations(profile, distance_km, 0.0, background).gain


@dataclass(frozen=True)
class AsymptoticRate:
    rate_per_pulse: float  # secret bits per pulse sent (0 when no key)
    mu: float
    nu: float | None  # weak decoy; None for the infinite-decoy limit
    gain: float  # Q_mu
    qber: float  # E_mu
    y1: float  # single-photon yield (lower bound, or exact in the infinite-decoy limit)
    e1: float  # single-photon error rate (upper bound, or exact)


def decoy_bb84_asymptotic(profile: Profile, distance_km: float, mu: float | None = None,
                          nu: float | None = None, background: str | None = None) -> AsymptoticRate:
    """GLLP rate with the vacuum + weak decoy bounds (Ma et al. 2005, full Y1^L form)."""
    mu = profile.intensities[0] if mu is None else mu
    nu = profile.intensities[1] if nu is None else nu
    if not 0.0 < nu < mu:
        raise ValueError(f"need 0 < nu < mu for the vacuum + weak decoy bound, got mu={mu}, nu={nu}")
    y0 = _vacuum_yield(profile, distance_km, background)
    sig = expected_observations(profile, distance_km, mu, background)
    dec = expected_observations(profile, distance_km, nu, background)
    y1 = mu / (mu * nu - nu * nu) * (
        dec.gain * math.exp(nu) - sig.gain * math.exp(mu) * nu * nu / (mu * mu)
        - (mu * mu - nu * nu) / (mu * mu) * y0
    )
    if y1 <= 0.0:
        return AsymptoticRate(0.0, mu, nu, sig.gain, sig.qber, max(y1, 0.0), 0.5)
    e1 = min(0.5, max(0.0, (dec.qber * dec.gain * math.exp(nu) - 0.5 * y0) / (y1 * nu)))
    rate = _gllp(profile, sig, y1 * mu * math.exp(-mu), e1)
    return AsymptoticRate(rate, mu, nu, sig.gain, sig.qber, y1, e1)


def infinite_decoy_rate(profile: Profile, distance_km: float, mu: float | None = None,
                        background: str | None = None) -> AsymptoticRate:
    """GLLP rate with Y1 and e1 known exactly (the limit of infinitely many decoys)."""
    mu = profile.intensities[0] if mu is None else mu
    if not mu > 0.0:
        raise ValueError(f"mu must be > 0, got {mu}")
    y0 = _vacuum_yield(profile, distance_km, background)
    eta = profile.total_transmittance(distance_km)
    y1 = y0 + eta - y0 * eta
    e1 = (0.5 * y0 + profile.misalignment_error * eta * (1.0 - y0)) / y1
    sig = expected_observations(profile, distance_km, mu, background)
    rate = _gllp(profile, sig, y1 * mu * math.exp(-mu), e1)
    return AsymptoticRate(rate, mu, None, sig.gain, sig.qber, y1, e1)


def _gllp(profile: Profile, sig: Observations, q1: float, e1: float) -> float:
    f = profile.error_correction_efficiency
    rate = _sifting_factor(profile) * (
        -sig.gain * f * binary_entropy(sig.qber) + q1 * (1.0 - binary_entropy(e1))
    )
    return max(rate, 0.0)


def optimal_rate(rate_of_mu: Callable[[float], float], low: float, high: float) -> tuple[float, float]:
    """(best rate, best mu) of a one-parameter rate: a coarse log grid, then a bounded refinement."""
    grid = np.geomspace(low, high, 40)
    values = np.array([rate_of_mu(float(m)) for m in grid])
    best = int(np.argmax(values))
    if values[best] <= 0.0:
        return 0.0, float(grid[best])
    lo, hi = grid[max(best - 1, 0)], grid[min(best + 1, len(grid) - 1)]
    res = minimize_scalar(lambda m: -rate_of_mu(m), bounds=(lo, hi), method="bounded",
                          options={"xatol": 1e-5 * hi})
    if -res.fun > values[best]:
        return float(-res.fun), float(res.x)
    return float(values[best]), float(grid[best])


def max_distance_km(rate_at: Callable[[float], float], upper_km: float = 1000.0, step_km: float = 5.0,
                    tolerance_km: float = 0.01) -> float:
    """Largest distance with a positive rate: step out until the rate vanishes, then bisect.

    ``rate_at(distance_km)`` is any rate function (already optimised over intensities if wanted).
    Returns 0.0 when there is no key even at 0 km and ``upper_km`` if the rate never vanishes.
    """
    if rate_at(0.0) <= 0.0:
        return 0.0
    d = 0.0
    while d < upper_km:
        nxt = min(d + step_km, upper_km)
        if rate_at(nxt) <= 0.0:
            return float(brentq(lambda x: 1.0 if rate_at(x) > 0.0 else -1.0, d, nxt, xtol=tolerance_km))
        d = nxt
    return upper_km
