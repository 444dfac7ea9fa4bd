"""Expected observations of the honest channel: gain Q and QBER E per intensity, in closed form.

From the same photon-number click model the Monte Carlo samples (two threshold detectors, dark
counts per detector, double clicks squashed to a random bit): with Poisson thinning, photons
reaching the right and the wrong detector are independent, so

    right = 1 - (1 - p_dark) e^(-eta mu (1 - e_d)),   wrong = 1 - (1 - p_dark) e^(-eta mu e_d)
    Q = 1 - (1 - right)(1 - wrong),                  E Q = wrong (1 - right) + right wrong / 2

which for small Y0 reduce to Ma et al.'s Q = Y0 + 1 - e^(-eta mu) and
E Q = Y0/2 + e_d (1 - e^(-eta mu)). Afterpulses (with zero dead time) add p_ap Q (1 - Q_k) /
(1 - p_ap (1 - Q)) events with random bits per pulse of intensity k, Q the mean click
probability, chained afterpulses included; dead time is not modelled here (the Monte Carlo
has it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

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
    # Every click afterpulses with probability p_ap into the next gate; that makes a new event
    # only if the gate has no click of its own (1 - q), and the new event may afterpulse in
    # turn: all events T = q + p_ap (1 - q) T. The T - q afterpulse events fall on empty gates
    # in proportion to p_k (1 - Q_k); per pulse of intensity k that is this factor times (1 - Q_k).
    return p_ap * q / (1.0 - p_ap * (1.0 - q))


def expected_observations(profile: Profile, distance_km: float, intensity: float,
                          background: str | None = None) -> Observations:
    """Q and E for a coherent pulse of mean photon number ``intensity``, honest channel."""
    if not (math.isfinite(intensity) and intensity >= 0.0):
        raise ValueError(f"intensity must be a finite mean photon number >= 0, got {intensity!r}")
    eta = profile.total_transmittance(distance_km)
    p = profile.dark_count_probability_per_gate(background)  # type: ignore[arg-type]
    e_d = profile.misalignment_error
    click_right = 1.0 - (1.0 - p) * math.exp(-eta * intensity * (1.0 - e_d))
    click_wrong = 1.0 - (1.0 - p) * math.exp(-eta * intensity * e_d)
    gain = 1.0 - (1.0 - click_right) * (1.0 - click_wrong)
    errors = click_wrong * (1.0 - click_right) + 0.5 * click_right * click_wrong
    extra = _afterpulse_rate(profile, eta, p) * (1.0 - gain)
    return Observations(gain=gain + extra, qber=(errors + 0.5 * extra) / (gain + extra))


