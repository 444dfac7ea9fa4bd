"""Finite-key decoy-state BB84 after Lim, Curty, Walenta, Xu, Zbinden, PRA 89, 022307 (2014).

Three intensities mu1 > mu2 + mu3, mu2 > mu3 >= 0; key from basis 0 (Lim's X, our Z key basis),
phase errors estimated from basis 1. With eps1 = eps_sec/21 and, for every intensity k,

    n^±_k = e^k / p_k (n_k ± sqrt(n/2 ln(1/eps1)))           (Hoeffding, n = total of the basis)
    s_0 >= tau0 (mu2 n^-_mu3 - mu3 n^+_mu2) / (mu2 - mu3)
    s_1 >= tau1 mu1 [n^-_mu2 - n^+_mu3 - (mu2^2 - mu3^2)/mu1^2 (n^+_mu1 - s_0/tau0)]
           / (mu1 (mu2 - mu3) - mu2^2 + mu3^2)
    v_1 <= tau1 (m^+_mu2 - m^-_mu3) / (mu2 - mu3)              (test-basis single-photon errors)
    phi  = v_1/s_1' + gamma(eps_sec, v_1/s_1', s_1', s_1)      (s_1' in the test basis)
    gamma(a, b, c, d) = sqrt((c + d)(1 - b) b / (c d ln 2) log2((c + d)/(c d (1 - b) b) 21^2/a^2))
    l = s_0 + s_1 (1 - H2(phi)) - lambda_EC - 6 log2(21/eps_sec) - log2(2/eps_cor)

with tau_n = sum_k p_k e^-k k^n / n! and lambda_EC = f n H2(E) in the key basis. eps_sec is the
profile's fixed value or, as Lim et al. set it for their figures, proportional to the key length,
eps_sec = kappa l: then l appears on both sides, and since l(eps_sec) grows with eps_sec the
iteration l -> l(kappa l) from l = n falls onto the largest fixed point. As in Lim's own
figures, the observed counts are replaced by their expectations under the channel model, so
the result is the key length expected from a typical block, not a guarantee for any one block.
``block_size`` is n, the key-basis (sifted) detections per block, as the detectors register
them through their dead time (``observations.dead_time_live_fraction``).

API: ``finite_key_rate(profile, distance_km, block_size, settings=None) -> FiniteKeyRate`` at the
device's settings (or given ones), ``finite_key_rates`` for many settings at once,
``lim_key_length(counts...)`` and ``observed_key_length`` for observed counts; the optimum over
every free protocol parameter is ``harness.qkd.finite_key_optimum.optimal_finite_key_rate``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from harness.qkd.observations import dead_time_live_fraction, detection_probabilities
from harness.qkd.profiles import Profile, Security

LN2 = math.log(2.0)
#: Fixed-point steps of eps_sec = kappa l; l moves by O(log) per step, so a few suffice.
_SECRECY_ITERATIONS = 12


@dataclass(frozen=True)
class ProtocolSettings:
    """The free parameters of three-intensity decoy BB84: what a device fixes and Lim et al. optimise."""

    intensities: tuple[float, float, float]  # mu1 > mu2 + mu3, mu2 > mu3 >= 0
    intensity_probabilities: tuple[float, float, float]
    basis_probability_key: float

    @classmethod
    def of(cls, profile: Profile) -> ProtocolSettings:
        """The device as configured."""
        if len(profile.intensities) != 3:
            raise ValueError(f"profile {profile.name!r} has {len(profile.intensities)} intensities; "
                             "Lim et al. need three")
        mu, p = profile.intensities, profile.intensity_probabilities
        return cls((mu[0], mu[1], mu[2]), (p[0], p[1], p[2]), profile.source.basis_probability_key)

    def as_dict(self) -> dict[str, float]:
        (m1, m2, m3), (p1, p2, p3) = self.intensities, self.intensity_probabilities
        return {"mu1": m1, "mu2": m2, "mu3": m3, "p_mu1": p1, "p_mu2": p2, "p_mu3": p3,
                "basis_probability_key": self.basis_probability_key}


@dataclass(frozen=True)
class FiniteKeyRate:
    rate_per_pulse: float  # secret bits per pulse sent (0 when no key)
    key_length_bits: float  # l for one block
    pulses_per_block: float  # N needed for block_size key-basis detections, dead time included
    s0: float
    s1: float
    phase_error: float  # phi, upper bound
    leak_ec_bits: float
    eps_sec: float  # secrecy of this key (kappa l where the profile sets it per key bit)
    settings: ProtocolSettings

    @property
    def mu(self) -> float:
        return self.settings.intensities[0]

    @property
    def basis_probability_key(self) -> float:
        return self.settings.basis_probability_key


def _h2(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    inside = (x > 0.0) & (x < 1.0)
    y = np.where(inside, x, 0.5)
    return np.where(inside, -y * np.log2(y) - (1.0 - y) * np.log2(1.0 - y), 0.0)


def _tau(n: int, mu: np.ndarray, p: np.ndarray) -> np.ndarray:
    return np.sum(p * np.exp(-mu) * mu**n, axis=-1) / math.factorial(n)


def _bracket(counts: np.ndarray, mu: np.ndarray, p: np.ndarray,
             eps1: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    delta = np.sqrt(counts.sum(axis=-1) / 2.0 * np.log(1.0 / eps1))[..., None]
    scale = np.exp(mu) / p
    return scale * (counts + delta), scale * np.maximum(counts - delta, 0.0)


def _vacuum_single(counts: np.ndarray, mu: np.ndarray, p: np.ndarray,
                   eps1: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mu1, mu2, mu3 = mu[..., 0], mu[..., 1], mu[..., 2]
    plus, minus = _bracket(counts, mu, p, eps1)
    tau0, tau1 = _tau(0, mu, p), _tau(1, mu, p)
    s0 = np.maximum(0.0, tau0 * (mu2 * minus[..., 2] - mu3 * plus[..., 1]) / (mu2 - mu3))
    s1 = tau1 * mu1 * (minus[..., 1] - plus[..., 2]
                       - (mu2**2 - mu3**2) / mu1**2 * (plus[..., 0] - s0 / tau0)) / (
        mu1 * (mu2 - mu3) - mu2**2 + mu3**2)
    return s0, np.maximum(0.0, s1)


def _gamma(a: np.ndarray, b: np.ndarray, c: np.ndarray, d: np.ndarray) -> np.ndarray:
    ok = (b > 0.0) & (b < 1.0) & (c > 0.0) & (d > 0.0)
    bb, cc, dd = np.where(ok, b, 0.5), np.where(ok, c, 1.0), np.where(ok, d, 1.0)
    arg = (cc + dd) / (cc * dd * (1.0 - bb) * bb) * (21.0 / a) ** 2
    ok &= arg > 1.0
    value = np.sqrt((cc + dd) * (1.0 - bb) * bb / (cc * dd * LN2) * np.log2(np.maximum(arg, 1.0)))
    return np.where(ok, value, 0.0)


def _lim_lengths(key: np.ndarray, key_errors: np.ndarray, test: np.ndarray, test_errors: np.ndarray,
                 mu: np.ndarray, p: np.ndarray, eps_sec: np.ndarray, eps_cor: float,
                 ec_efficiency: float) -> tuple[np.ndarray, ...]:
    """Lim Eq. (1), vectorised: counts [..., 3] per intensity; returns (l, s0, s1, phi, leak)."""
    eps1 = eps_sec / 21.0
    s0, s1 = _vacuum_single(key, mu, p, eps1)
    _, s1_test = _vacuum_single(test, mu, p, eps1)
    plus, minus = _bracket(test_errors, mu, p, eps1)
    v1 = np.maximum(0.0, _tau(1, mu, p) * (plus[..., 1] - minus[..., 2]) / (mu[..., 1] - mu[..., 2]))
    certified = (s1 > 0.0) & (s1_test > 0.0)
    b = np.minimum(np.where(certified, v1 / np.where(certified, s1_test, 1.0), 0.5), 0.5)
    phi = np.where(certified, np.minimum(0.5, b + _gamma(eps_sec, b, s1_test, s1)), 0.5)
    n_key = key.sum(axis=-1)
    qber = key_errors.sum(axis=-1) / np.where(n_key > 0, n_key, 1.0)
    leak = np.where(n_key > 0, ec_efficiency * n_key * _h2(qber), 0.0)
    length = (s0 + s1 * (1.0 - _h2(phi)) - leak
              - 6.0 * np.log2(21.0 / eps_sec) - math.log2(2.0 / eps_cor))
    return length, s0, s1, phi, leak


def _check_intensities(mus: tuple[float, ...]) -> None:
    if not (len(mus) == 3 and mus[0] > mus[1] + mus[2] and mus[1] > mus[2] >= 0.0):
        raise ValueError(f"Lim et al. need mu1 > mu2 + mu3 and mu2 > mu3 >= 0, got {mus}")


def lim_key_length(key_counts: np.ndarray, key_errors: np.ndarray, test_counts: np.ndarray,
                   test_errors: np.ndarray, mus: tuple[float, float, float],
                   probs: tuple[float, float, float], eps_sec: float, eps_cor: float,
                   ec_efficiency: float) -> tuple[float, float, float, float, float]:
    """Lim Eq. (1) from per-intensity counts: returns (l, s0, s1, phi, leak_ec), l may be < 0."""
    _check_intensities(tuple(mus))
    out = _lim_lengths(np.asarray(key_counts, float), np.asarray(key_errors, float),
                       np.asarray(test_counts, float), np.asarray(test_errors, float),
                       np.asarray(mus, float), np.asarray(probs, float), np.asarray(eps_sec, float),
                       eps_cor, ec_efficiency)
    length, s0, s1, phi, leak = (float(v) for v in out)
    return length, s0, s1, phi, leak


def observed_key_length(key_counts: np.ndarray, test_counts: np.ndarray, test_errors: np.ndarray,
                        mus: tuple[float, ...], probs: tuple[float, ...], security: Security,
                        leaked_bits: float) -> tuple[float, float, float, float, float]:
    """(l, s0, s1, phi, eps_sec) of a block from its observed counts, ``leaked_bits`` already
    disclosed by error correction, with the profile's secrecy (fixed, or eps_sec = kappa l)."""
    _check_intensities(tuple(mus))
    key, test, err = (np.asarray(a, float) for a in (key_counts, test_counts, test_errors))
    mu, p = np.asarray(mus, float), np.asarray(probs, float)

    def length_at(eps: np.ndarray) -> tuple[np.ndarray, ...]:
        length, s0, s1, phi, _ = _lim_lengths(key, np.zeros(3), test, err, mu, p, eps, security.eps_cor, 0.0)
        return length - leaked_bits, s0, s1, phi

    _, s0, s1, phi, eps = secure_key_length(length_at, security, np.asarray(key.sum()))
    # Where no key is possible, l itself (negative) says by how much: the caller reports it.
    raw = float(length_at(eps)[0])
    return raw, float(s0), float(s1), float(phi), float(eps)


def no_decoy_key_length(key_detections: float, test_detections: float, test_errors: float,
                        security: Security, leaked_bits: float) -> tuple[float, float, float, float, float]:
    """(l, s0, s1, phi, eps_sec) of a device without decoy analysis: it takes every key-basis
    detection for a single photon (s0 = 0, s1 = n) and bounds the phase error by the test-basis
    QBER plus Lim's sampling term gamma. Sound for single photons only: a photon-number-splitting
    attack on weak coherent pulses goes unseen, which is what this models."""
    n, k, m = float(key_detections), float(test_detections), float(test_errors)

    def length_at(eps: np.ndarray) -> tuple[np.ndarray, ...]:
        b = np.asarray(m / k if k > 0 else 0.5)
        phi = np.where(k > 0, np.minimum(0.5, b + _gamma(eps, b, np.asarray(k), np.asarray(n))), 0.5)
        length = n * (1.0 - _h2(phi)) - 6.0 * np.log2(21.0 / eps) - math.log2(2.0 / security.eps_cor)
        return length - leaked_bits, np.zeros_like(phi), np.full_like(phi, n), phi

    _, s0, s1, phi, eps = secure_key_length(length_at, security, np.asarray(n))
    return float(length_at(eps)[0]), float(s0), float(s1), float(phi), float(eps)


def secure_key_length(length_at: Callable[[np.ndarray], tuple[np.ndarray, ...]], security: Security,
                      longest_bits: np.ndarray) -> tuple[np.ndarray, ...]:
    """(l, eps_sec, rest...) with the profile's secrecy: fixed, or the fixed point of eps_sec = kappa l.

    ``length_at(eps_sec)`` returns a tuple whose first entry is l (arrays broadcast together);
    ``longest_bits`` is where the iteration starts (no key can be longer: the block size).
    """
    if security.eps_sec is not None:
        eps = np.full(np.shape(longest_bits), security.eps_sec)
        return (*_first_positive(length_at(eps)), eps)
    kappa = security.eps_sec_per_key_bit
    length = np.asarray(longest_bits, float)
    for _ in range(_SECRECY_ITERATIONS):
        eps = np.clip(kappa * np.maximum(length, 1.0), 1e-300, 0.5)
        out = length_at(eps)
        new = np.maximum(out[0], 0.0)
        if np.all(np.abs(new - length) <= 1e-9 * np.maximum(new, 1.0)):
            length = new
            break
        length = new
    eps = np.clip(kappa * np.maximum(length, 1.0), 1e-300, 0.5)
    return (*_first_positive(length_at(eps)), eps)


def _first_positive(out: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
    return (np.maximum(out[0], 0.0), *out[1:])


def _expected_counts(profile: Profile, distance_km: float, n_key: int, mu: np.ndarray, p: np.ndarray,
                     pz: np.ndarray, background: str | None) -> tuple[np.ndarray, ...]:
    gain, errors = detection_probabilities(profile, distance_km, mu, p, background)
    # The detectors register a live fraction of these candidate detections, the same for every
    # intensity (a dead detector was made so by earlier pulses), so a block of n_key registered
    # ones takes 1 / live times the pulses: at 10 km on high-rate-2023 the rate is 0.78 of the
    # dead-time-free figure. The Monte Carlo's detector pass loses the same clicks.
    candidates = np.sum(p * gain, axis=-1)
    live = dead_time_live_fraction(profile, candidates)
    pz = pz[..., None]
    pulses = n_key / (pz[..., 0] ** 2 * candidates * live)
    per = pulses[..., None] * p * np.asarray(live)[..., None]
    key, test = per * pz**2, per * (1.0 - pz) ** 2
    return pulses, key * gain, key * errors, test * gain, test * errors


def finite_key_rates(profile: Profile, distance_km: float, block_size: int, intensities: np.ndarray,
                     probabilities: np.ndarray, basis_probability_key: np.ndarray,
                     background: str | None = None) -> tuple[np.ndarray, ...]:
    """Many protocol settings at once: arrays [S, 3], [S, 3], [S] -> (rate per pulse, l, eps_sec,
    pulses, s0, s1, phi, leak), each [S]. Settings are taken as valid (the caller's box keeps them so)."""
    mu, p = np.asarray(intensities, float), np.asarray(probabilities, float)
    pz = np.asarray(basis_probability_key, float)
    pulses, key, key_err, test, test_err = _expected_counts(profile, distance_km, block_size, mu, p, pz,
                                                            background)
    sec = profile.security
    length, s0, s1, phi, leak, eps = secure_key_length(
        lambda e: _lim_lengths(key, key_err, test, test_err, mu, p, e, sec.eps_cor,
                               profile.error_correction_efficiency),
        sec, np.full(pz.shape, float(block_size)))
    return length / pulses, length, eps, pulses, s0, s1, phi, leak


def _block_size(profile: Profile, block_size: int | None) -> int:
    n_key = profile.security.block_size if block_size is None else block_size
    if not (isinstance(n_key, int | np.integer) and n_key > 0):
        raise ValueError(f"block_size must be a positive integer, got {block_size!r}")
    return int(n_key)


def finite_key_rate(profile: Profile, distance_km: float, block_size: int | None = None,
                    settings: ProtocolSettings | None = None,
                    background: str | None = None) -> FiniteKeyRate:
    """Expected finite-key rate per pulse for blocks of ``block_size`` key-basis detections.

    At the device's own settings unless ``settings`` are given (what the optimiser searches over).
    """
    n_key = _block_size(profile, block_size)
    s = ProtocolSettings.of(profile) if settings is None else settings
    _check_intensities(s.intensities)
    if not 0.0 < s.basis_probability_key < 1.0:
        raise ValueError(f"basis_probability_key must be in (0, 1), got {s.basis_probability_key}")
    if not (min(s.intensity_probabilities) > 0.0 and abs(sum(s.intensity_probabilities) - 1.0) < 1e-9):
        raise ValueError(f"intensity probabilities must be > 0 and sum to 1, got {s.intensity_probabilities}")
    out = finite_key_rates(profile, distance_km, n_key, np.array([s.intensities]),
                           np.array([s.intensity_probabilities]), np.array([s.basis_probability_key]),
                           background)
    rate, length, eps, pulses, s0, s1, phi, leak = (float(v[0]) for v in out)
    return FiniteKeyRate(rate, length, pulses, s0, s1, phi, leak, eps, s)
