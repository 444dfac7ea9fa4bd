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

with tau_n = sum_k p_k e^-k k^n / n! and lambda_EC = f n H2(E) in the key basis. As in Lim's own
figures, the observed counts are replaced by their expectations under the channel model, so
the result is the key length expected from a typical block, not a guarantee for any one block.
``block_size`` is n, the key-basis (sifted) detections per block.

API: ``finite_key_rate(profile, distance_km, block_size, mu=None) -> FiniteKeyRate``,
``lim_key_length(counts...)`` for observed counts, ``optimal_finite_key_rate``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from harness.qkd.observations import binary_entropy, expected_observations
from harness.qkd.optimise import optimal_rate
from harness.qkd.profiles import Profile


@dataclass(frozen=True)
class FiniteKeyRate:
    rate_per_pulse: float  # secret bits per pulse sent (0 when no key)
    key_length_bits: float  # l for one block
    pulses_per_block: float  # N needed for block_size key-basis detections
    s0: float
    s1: float
    phase_error: float  # phi, upper bound
    leak_ec_bits: float
    mu: float
    basis_probability_key: float


def _tau(n: int, mus: np.ndarray, probs: np.ndarray) -> float:
    return float(np.sum(probs * np.exp(-mus) * mus**n) / math.factorial(n))


def _bracket(counts: np.ndarray, mus: np.ndarray, probs: np.ndarray,
             eps1: float) -> tuple[np.ndarray, np.ndarray]:
    total = float(counts.sum())
    delta = math.sqrt(total / 2.0 * math.log(1.0 / eps1))
    scale = np.exp(mus) / probs
    return scale * (counts + delta), scale * np.maximum(counts - delta, 0.0)


def _vacuum_single(counts: np.ndarray, mus: np.ndarray, probs: np.ndarray,
                   eps1: float) -> tuple[float, float]:
    mu1, mu2, mu3 = mus
    plus, minus = _bracket(counts, mus, probs, eps1)
    tau0, tau1 = _tau(0, mus, probs), _tau(1, mus, probs)
    s0 = max(0.0, tau0 * (mu2 * minus[2] - mu3 * plus[1]) / (mu2 - mu3))
    s1 = tau1 * mu1 * (minus[1] - plus[2] - (mu2**2 - mu3**2) / mu1**2 * (plus[0] - s0 / tau0)) / (
        mu1 * (mu2 - mu3) - mu2**2 + mu3**2
    )
    return s0, max(0.0, s1)


def _gamma(a: float, b: float, c: float, d: float) -> float:
    if b <= 0.0 or b >= 1.0:
        return 0.0
    arg = (c + d) / (c * d * (1.0 - b) * b) * (21.0 / a) ** 2
    if arg <= 1.0:
        return 0.0
    return math.sqrt((c + d) * (1.0 - b) * b / (c * d * math.log(2.0)) * math.log2(arg))


def lim_key_length(key_counts: np.ndarray, key_errors: np.ndarray, test_counts: np.ndarray,
                   test_errors: np.ndarray, mus: tuple[float, float, float],
                   probs: tuple[float, float, float], eps_sec: float, eps_cor: float,
                   ec_efficiency: float) -> tuple[float, float, float, float, float]:
    """Lim Eq. (1) from per-intensity counts: returns (l, s0, s1, phi, leak_ec), l may be < 0."""
    mu = np.asarray(mus, float)
    p = np.asarray(probs, float)
    if not (mu[0] > mu[1] + mu[2] and mu[1] > mu[2] >= 0.0):
        raise ValueError(f"Lim et al. need mu1 > mu2 + mu3 and mu2 > mu3 >= 0, got {mus}")
    eps1 = eps_sec / 21.0
    s0, s1 = _vacuum_single(np.asarray(key_counts, float), mu, p, eps1)
    _, s1_test = _vacuum_single(np.asarray(test_counts, float), mu, p, eps1)
    plus, minus = _bracket(np.asarray(test_errors, float), mu, p, eps1)
    v1 = max(0.0, _tau(1, mu, p) * (plus[1] - minus[2]) / (mu[1] - mu[2]))
    if s1 <= 0.0 or s1_test <= 0.0:
        phi = 0.5
    else:
        b = min(v1 / s1_test, 0.5)
        phi = min(0.5, b + _gamma(eps_sec, b, s1_test, s1))
    n_key = float(np.sum(key_counts))
    leak = ec_efficiency * n_key * binary_entropy(float(np.sum(key_errors)) / n_key) if n_key > 0 else 0.0
    length = (s0 + s1 * (1.0 - binary_entropy(phi)) - leak
              - 6.0 * math.log2(21.0 / eps_sec) - math.log2(2.0 / eps_cor))
    return length, s0, s1, phi, leak


def finite_key_rate(profile: Profile, distance_km: float, block_size: int | None = None,
                    mu: float | None = None, basis_probability_key: float | None = None,
                    background: str | None = None) -> FiniteKeyRate:
    """Expected finite-key rate per pulse for blocks of ``block_size`` key-basis detections.

    ``mu`` and ``basis_probability_key`` override the profile's signal intensity and key-basis
    probability (what ``optimal_finite_key_rate`` searches over).
    """
    n_key = profile.security.block_size if block_size is None else block_size
    if not (isinstance(n_key, int | np.integer) and n_key > 0):
        raise ValueError(f"block_size must be a positive integer, got {block_size!r}")
    mus = list(profile.intensities)
    if len(mus) != 3:
        raise ValueError(f"profile {profile.name!r} has {len(mus)} intensities; Lim et al. need three")
    if mu is not None:
        mus[0] = mu
    probs = np.asarray(profile.intensity_probabilities)
    obs = [expected_observations(profile, distance_km, m, background) for m in mus]
    gains = np.array([o.gain for o in obs])
    qbers = np.array([o.qber for o in obs])
    pz = profile.source.basis_probability_key if basis_probability_key is None else basis_probability_key
    if not 0.0 < pz < 1.0:
        raise ValueError(f"basis_probability_key must be in (0, 1), got {pz}")
    pulses = n_key / (pz * pz * float(probs @ gains))
    key = pulses * pz * pz * probs * gains
    test = pulses * (1.0 - pz) ** 2 * probs * gains
    sec = profile.security
    length, s0, s1, phi, leak = lim_key_length(
        key, key * qbers, test, test * qbers, tuple(mus), tuple(probs), sec.eps_sec, sec.eps_cor,
        profile.error_correction_efficiency,
    )
    length = max(0.0, float(length))
    return FiniteKeyRate(length / pulses, length, float(pulses), float(s0), float(s1), float(phi),
                         float(leak), float(mus[0]), float(pz))


#: Key-basis probabilities searched by optimal_finite_key_rate (small blocks need a larger test basis).
BASIS_GRID = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.97)


def optimal_finite_key_rate(profile: Profile, distance_km: float, block_size: int | None = None,
                            background: str | None = None) -> FiniteKeyRate:
    """finite_key_rate with the signal intensity and the key-basis probability optimised.

    Decoy intensities and intensity probabilities stay as in the profile.
    """
    low = (profile.intensities[1] + profile.intensities[2]) * 1.05
    best: FiniteKeyRate | None = None
    for pz in BASIS_GRID:
        def rate(m: float, pz: float = pz) -> float:
            return finite_key_rate(profile, distance_km, block_size, m, pz, background).rate_per_pulse

        value, mu = optimal_rate(rate, low, 1.5)
        if best is None or value > best.rate_per_pulse:
            best = finite_key_rate(profile, distance_km, block_size, mu, pz, background)
    assert best is not None
    return best
