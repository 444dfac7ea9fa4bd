"""Click model resolved by photon number: what the Monte Carlo samples from, honest or attacked.

For a pulse that left Alice with ``n`` photons, a *path* says what reaches Bob: path 0 is the
honest channel (each photon detected with probability eta, independently), path 1 is the
attacked one (intercept-resend, photon-number splitting, detector blinding). Each (n, path) gets
its click probability and the distributions needed to generate a detection *given* that it
happened, so the Monte Carlo draws only detected events. Dark counts are independent per
detector and gate; double clicks are later squashed to a random bit.

API: ``click_model(profile, distance_km, attack=None, background=None) -> ClickModel``;
attacks are the frozen dataclasses ``InterceptResend``, ``PhotonNumberSplitting``,
``DetectorBlinding``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.stats import binom, poisson

from harness.qkd.profiles import Profile

#: Photon numbers above this are folded into it; for mu <= 1 the Poisson tail beyond is < 1e-13.
N_MAX = 16
KIND_HONEST, KIND_RESENT, KIND_BLINDED = 0, 1, 2


@dataclass(frozen=True)
class InterceptResend:
    """Eve measures a fraction of the non-empty pulses in a random basis and resends her result.

    Photon number and loss are unchanged, so the detection rate is unchanged; on sifted
    intercepted events the error rate is 1/4, so the QBER rises by about fraction/4.
    """

    fraction: float

    def __post_init__(self) -> None:
        if not 0.0 <= self.fraction <= 1.0:
            raise ValueError(f"InterceptResend.fraction must be in [0, 1], got {self.fraction}")


@dataclass(frozen=True)
class PhotonNumberSplitting:
    """Brassard et al. 2000: Eve replaces the fibre by a lossless one, keeps one photon of every
    multi-photon pulse, forwards the rest, and blocks single photons as needed so that the
    *signal* gain matches the honest channel. No QBER change; the decoy gains betray her."""


@dataclass(frozen=True)
class DetectorBlinding:
    """Lydersen et al. 2010: Eve blinds Bob's detectors and, for a fraction of pulses, measures
    them and sends bright trigger pulses that click only if Bob's basis equals hers. She copies
    the honest click probability per photon number, so gain is unchanged, QBER is not raised,
    and she knows every bit she caused. Only a blinding monitor in the profile sees it."""

    fraction: float = 1.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.fraction <= 1.0:
            raise ValueError(f"DetectorBlinding.fraction must be in [0, 1], got {self.fraction}")


Attack = InterceptResend | PhotonNumberSplitting | DetectorBlinding


@dataclass(frozen=True)
class ClickModel:
    """Per-photon-number click model. Arrays are indexed [n, path] (n = 0..N_MAX, path 0 or 1)."""

    eta: float  # honest per-photon detection probability
    dark_probability: float  # per detector per gate
    path_weight: np.ndarray  # P(path | n)
    forwarded: np.ndarray  # photons that travel on to Bob's detectors
    transmission: np.ndarray  # per-photon detection probability on that path
    kind: np.ndarray  # per path: KIND_HONEST, KIND_RESENT or KIND_BLINDED
    click: np.ndarray  # P(click | n, path)
    photon_click_share: np.ndarray  # P(at least one photon detected | click, n, path)
    arrivals_cdf: np.ndarray  # [n, path, m]: cdf of detected photons m >= 1 given m >= 1
    photon_pmf: np.ndarray  # [k, n]: P(n | intensity k), tail folded into N_MAX

    def gain(self) -> np.ndarray:
        """Q_k: per-pulse click probability for each intensity."""
        per_n = (self.path_weight * self.click).sum(axis=1)
        return self.photon_pmf @ per_n

    def event_weights(self, intensity_probabilities: np.ndarray) -> np.ndarray:
        """Flat [k, n, path] weights of a click: p_k P(n | k) P(path | n) P(click | n, path).

        Their sum is the per-pulse click probability; normalised, the distribution of
        (intensity, photon number, path) given a click.
        """
        per_n = self.path_weight * self.click
        joint = np.asarray(intensity_probabilities)[:, None, None] * self.photon_pmf[:, :, None] * per_n
        return joint.ravel()


def _photon_pmf(intensities: tuple[float, ...]) -> np.ndarray:
    n = np.arange(N_MAX + 1)
    pmf = np.array([poisson.pmf(n, mu) if mu > 0 else (n == 0).astype(float) for mu in intensities])
    pmf[:, -1] += 1.0 - pmf.sum(axis=1)  # fold the tail so each row sums to 1
    return pmf


def _pns_pass_probabilities(mu: float, eta: float, eta_bob: float) -> tuple[float, float]:
    """(single-photon pass s, multi-photon pass r) so that the PNS signal gain equals the honest one."""
    n = np.arange(N_MAX + 1)
    pmf = poisson.pmf(n, mu)
    honest = float(np.sum(pmf * -np.expm1(n * math.log1p(-eta))))
    multi = float(np.sum(pmf[2:] * -np.expm1((n[2:] - 1) * math.log1p(-eta_bob))))
    if multi >= honest:
        return 0.0, honest / multi
    return min(1.0, (honest - multi) / (pmf[1] * eta_bob)), 1.0


def click_model(profile: Profile, distance_km: float, attack: Attack | None = None,
                background: str | None = None) -> ClickModel:
    """Build the click model for a profile at a distance, optionally under an attack."""
    eta = profile.total_transmittance(distance_km)
    p_dark = profile.dark_count_probability_per_gate(background)  # type: ignore[arg-type]
    no_dark = (1.0 - p_dark) ** profile.detector.count
    n = np.arange(N_MAX + 1)

    weight = np.zeros((N_MAX + 1, 2))
    forwarded = np.zeros((N_MAX + 1, 2), dtype=np.int64)
    transmission = np.zeros((N_MAX + 1, 2))
    passing = np.ones((N_MAX + 1, 2))  # probability that the forwarded photons are let through
    kind = np.array([KIND_HONEST, KIND_HONEST], dtype=np.int64)
    weight[:, 0], forwarded[:, 0], transmission[:, 0] = 1.0, n, eta

    if isinstance(attack, InterceptResend):
        weight[1:, 1], weight[1:, 0] = attack.fraction, 1.0 - attack.fraction
        forwarded[:, 1], transmission[:, 1], kind[1] = n, eta, KIND_RESENT
    elif isinstance(attack, PhotonNumberSplitting):
        eta_bob = profile.detector.efficiency
        s, r = _pns_pass_probabilities(profile.intensities[0], eta, eta_bob)
        weight[:, 0], weight[:, 1] = 0.0, 1.0
        forwarded[:, 1] = np.maximum(n - 1, 0)
        forwarded[1, 1] = 1
        passing[1, 1], passing[2:, 1] = s, r
        transmission[:, 1] = eta_bob
    elif isinstance(attack, DetectorBlinding):
        weight[:, 1], weight[:, 0] = attack.fraction, 1.0 - attack.fraction
        kind[1] = KIND_BLINDED
    elif attack is not None:
        raise TypeError(
            f"unknown attack {attack!r}; use InterceptResend, PhotonNumberSplitting or DetectorBlinding"
        )

    # 1 - (1 - t)^f through log1p/expm1 so that t ~ 1e-20 does not round to zero; t = 1 apart.
    below_one = np.minimum(transmission, np.nextafter(1.0, 0.0))
    fires = np.where(transmission >= 1.0, (forwarded > 0).astype(float),
                     -np.expm1(forwarded * np.log1p(-below_one)))
    photon_fires = passing * fires
    click = 1.0 - (1.0 - photon_fires) * no_dark
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(click > 0, photon_fires / click, 0.0)
    if kind[1] == KIND_BLINDED:
        # Eve fires her trigger with twice the honest click probability (capped at 1) because it
        # only clicks when Bob's basis matches hers; an empty pulse gives her nothing to resend.
        click[:, 1] = np.minimum(1.0, 2.0 * click[:, 0]) / 2.0
        click[0, 1] = 0.0
        share[:, 1] = 1.0

    arrivals = np.zeros((N_MAX + 1, 2, N_MAX + 1))
    for path in (0, 1):
        for photons in range(N_MAX + 1):
            f, t = int(forwarded[photons, path]), transmission[photons, path]
            if f == 0 or t <= 0.0:
                arrivals[photons, path, :] = 1.0
                continue
            pmf = binom.pmf(np.arange(N_MAX + 1), f, t)
            pmf[0] = 0.0
            arrivals[photons, path, :] = np.minimum(np.cumsum(pmf) / pmf.sum(), 1.0)
            arrivals[photons, path, f:] = 1.0

    return ClickModel(eta=eta, dark_probability=p_dark, path_weight=weight, forwarded=forwarded,
                      transmission=transmission, kind=kind, click=click, photon_click_share=share,
                      arrivals_cdf=arrivals, photon_pmf=_photon_pmf(profile.intensities))
