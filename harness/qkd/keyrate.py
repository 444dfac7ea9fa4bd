"""Asymptotic decoy-state BB84 key rates (GLLP), intensity optimisation and maximum distance.

Vacuum + weak decoy bounds of Ma, Qi, Zhao, Lo, PRA 72, 012326 (2005), in the full form:

    Y1^L = mu / (mu nu - nu^2) [Q_nu e^nu - Q_mu e^mu nu^2/mu^2 - (mu^2 - nu^2)/mu^2 Y0]
    e1^U = (E_nu Q_nu e^nu - Y0/2) / (Y1^L nu)
    R    = q {-Q_mu f H2(E_mu) + Q1 [1 - H2(e1^U)]},   Q1 = Y1^L mu e^-mu

and the infinite-decoy limit (Y1, e1 known exactly). The expected observations Q_k, E_k come
from harness.qkd.observations, the closed form of the click model the Monte Carlo samples, as
the detectors register them through their dead time: every yield times the live fraction of
the device sending its intensities in its proportions (``dead_time_live_fraction``, which the
finite-key rate applies too), QBERs as without dead time.

This module is also the front door to the analytic models:

    decoy_bb84_asymptotic(profile, distance_km, mu=None, nu=None) -> AsymptoticRate
    infinite_decoy_rate(profile, distance_km, mu=None) -> AsymptoticRate
    finite_key_rate(profile, distance_km, block_size, mu=None) -> FiniteKeyRate   (Lim et al. 2014)
    optimal_finite_key_rate(profile, distance_km, block_size) -> FiniteKeyRate
    plob_bound(eta), tgw_bound(eta) -> bits per channel use
    optimal_rate(rate_of_mu, low, high) -> (rate, mu);  max_distance_km(rate_at) -> km
    expected_observations(profile, distance_km, intensity) -> Observations(gain, qber)
    vacuum_weak_bounds(mu, nu, signal, decoy, y0) -> (Y1^L, e1^U) from any observations
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from harness.qkd.bounds import plob_bound, tgw_bound
from harness.qkd.finite_key import FiniteKeyRate, finite_key_rate
from harness.qkd.finite_key_optimum import optimal_finite_key_rate
from harness.qkd.observations import (
    Observations,
    binary_entropy,
    dead_time_live_fraction,
    detection_probabilities,
    expected_observations,
)
from harness.qkd.optimise import max_distance_km, optimal_rate
from harness.qkd.profiles import Profile

__all__ = [
    "AsymptoticRate", "FiniteKeyRate", "Observations", "binary_entropy", "decoy_bb84_asymptotic",
    "expected_observations", "finite_key_rate", "infinite_decoy_rate", "max_distance_km",
    "optimal_finite_key_rate", "optimal_rate", "plob_bound", "tgw_bound", "vacuum_weak_bounds",
]


def _sifting_factor(profile: Profile) -> float:
    # Both bases feed the key in the asymptotic GLLP rate: q = pZ^2 + pX^2 (1/2 for symmetric BB84).
    pz = profile.source.basis_probability_key
    return pz * pz + (1.0 - pz) * (1.0 - pz)


def _vacuum_yield(profile: Profile, distance_km: float, background: str | None) -> float:
    return expected_observations(profile, distance_km, 0.0, background).gain


def _live_fraction(profile: Profile, distance_km: float, leading: tuple[float, ...],
                   background: str | None) -> float:
    """The detectors' live fraction with the profile's intensities, ``leading`` in place of its first."""
    mus = np.array(profile.intensities, float)
    mus[:len(leading)] = leading
    p = np.asarray(profile.intensity_probabilities, float)
    gain, _ = detection_probabilities(profile, distance_km, mus, p, background)
    return float(dead_time_live_fraction(profile, float(p @ gain)))


def _registered(obs: Observations, live: float) -> Observations:
    return Observations(gain=obs.gain * live, qber=obs.qber)


@dataclass(frozen=True)
class AsymptoticRate:
    rate_per_pulse: float  # secret bits per pulse sent (0 when no key)
    mu: float
    nu: float | None  # weak decoy; None for the infinite-decoy limit
    gain: float  # Q_mu, as registered through the detectors' dead time
    qber: float  # E_mu
    y1: float  # single-photon yield (lower bound, or exact in the infinite-decoy limit)
    e1: float  # single-photon error rate (upper bound, or exact)


def vacuum_weak_bounds(mu: float, nu: float, signal: Observations, decoy: Observations,
                       y0: float) -> tuple[float, float]:
    """(Y1^L, e1^U) from observed gains and QBERs: Ma et al. 2005, vacuum + weak decoy, full form.

    Works on measured values as well as expected ones (e.g. a Monte Carlo block's ``gain`` and
    ``qber``). Y1^L <= 0 means the observations certify no single-photon contribution; e1^U is
    then 0.5.
    """
    if not 0.0 < nu < mu:
        raise ValueError(f"need 0 < nu < mu for the vacuum + weak decoy bound, got mu={mu}, nu={nu}")
    y1 = mu / (mu * nu - nu * nu) * (
        decoy.gain * math.exp(nu) - signal.gain * math.exp(mu) * nu * nu / (mu * mu)
        - (mu * mu - nu * nu) / (mu * mu) * y0
    )
    if y1 <= 0.0:
        return y1, 0.5
    return y1, min(0.5, max(0.0, (decoy.qber * decoy.gain * math.exp(nu) - 0.5 * y0) / (y1 * nu)))


def decoy_bb84_asymptotic(profile: Profile, distance_km: float, mu: float | None = None,
                          nu: float | None = None, background: str | None = None) -> AsymptoticRate:
    """GLLP rate with the vacuum + weak decoy bounds (Ma et al. 2005, full Y1^L form)."""
    mu = profile.intensities[0] if mu is None else mu
    nu = profile.intensities[1] if nu is None else nu
    live = _live_fraction(profile, distance_km, (mu, nu), background)
    y0 = _vacuum_yield(profile, distance_km, background) * live
    sig = _registered(expected_observations(profile, distance_km, mu, background), live)
    dec = _registered(expected_observations(profile, distance_km, nu, background), live)
    y1, e1 = vacuum_weak_bounds(mu, nu, sig, dec, y0)
    if y1 <= 0.0:
        return AsymptoticRate(0.0, mu, nu, sig.gain, sig.qber, 0.0, 0.5)
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
    det = profile.detector
    if det.afterpulse_model == "lim-2014" and det.afterpulse_probability > 0.0:
        # Lim's afterpulses count for the intensity that caused them, so they scale every
        # photon number's yield alike: Y_n (1 + p_ap), with p_ap Y_n / 2 more errors (y0 has it).
        p_ap = det.afterpulse_probability
        y0_clicks = y0 / (1.0 + p_ap)
        y1 = y0_clicks + eta - y0_clicks * eta
        e1 = (0.5 * y0_clicks + profile.misalignment_error * eta * (1.0 - y0_clicks) + 0.5 * p_ap * y1) / (
            y1 * (1.0 + p_ap))
        y1 *= 1.0 + p_ap
    live = _live_fraction(profile, distance_km, (mu,), background)
    y1 *= live
    sig = _registered(expected_observations(profile, distance_km, mu, background), live)
    rate = _gllp(profile, sig, y1 * mu * math.exp(-mu), e1)
    return AsymptoticRate(rate, mu, None, sig.gain, sig.qber, y1, e1)


def _gllp(profile: Profile, sig: Observations, q1: float, e1: float) -> float:
    f = profile.error_correction_efficiency
    rate = _sifting_factor(profile) * (
        -sig.gain * f * binary_entropy(sig.qber) + q1 * (1.0 - binary_entropy(e1))
    )
    return max(rate, 0.0)


