"""Key rate against distance for one profile: the table behind ``qsbench keyrate`` and the suites.

The asymptotic rates are optimised over the signal intensity per distance. The finite key comes
twice: for the device as configured (its own intensities, probabilities and basis choice) and
at the protocol's optimum for that hardware (mu1, mu2, the three intensity probabilities and the
basis probability optimised per distance, as Lim et al. do), each with its own maximum distance.
The bounds are per channel use of the channel alone (detector efficiency excluded), as PLOB and
TGW are stated.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.qkd.bounds import plob_bound, tgw_bound
from harness.qkd.finite_key import finite_key_rate
from harness.qkd.finite_key_optimum import optimal_finite_key_rate
from harness.qkd.keyrate import decoy_bb84_asymptotic, infinite_decoy_rate, max_distance_km, optimal_rate
from harness.qkd.profiles import Profile

MU_HIGH = 1.5


def best_vacuum_weak(profile: Profile, distance_km: float) -> tuple[float, float]:
    """(rate per pulse, optimal signal intensity) for the vacuum + weak decoy asymptotic rate."""
    nu = profile.intensities[1]

    def rate(mu: float) -> float:
        return decoy_bb84_asymptotic(profile, distance_km, mu=mu, nu=nu).rate_per_pulse

    return optimal_rate(rate, nu * 1.05, MU_HIGH)


def asymptotic_vacuum_weak(profile: Profile, distance_km: float) -> float:
    """Vacuum + weak decoy asymptotic rate per pulse, signal intensity optimised."""
    return best_vacuum_weak(profile, distance_km)[0]


def asymptotic_infinite_decoy(profile: Profile, distance_km: float) -> float:
    """Infinite-decoy asymptotic rate per pulse, signal intensity optimised."""
    return optimal_rate(lambda mu: infinite_decoy_rate(profile, distance_km, mu=mu).rate_per_pulse,
                        1e-3, MU_HIGH)[0]


def finite_key(profile: Profile, distance_km: float, block_size: int) -> float:
    """Finite-key rate per pulse at the protocol's optimum for this hardware."""
    return optimal_finite_key_rate(profile, distance_km, block_size).rate_per_pulse


def finite_key_as_configured(profile: Profile, distance_km: float, block_size: int) -> float:
    """Finite-key rate per pulse of the device at its own settings."""
    return finite_key_rate(profile, distance_km, block_size).rate_per_pulse


def _finite_or_none(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


@dataclass(frozen=True)
class KeyRateSweep:
    profile: str
    repetition_rate_hz: float
    block_size: int
    max_distance_km: float  # asymptotic, vacuum + weak decoy
    max_distance_infinite_decoy_km: float
    max_distance_finite_km: float  # the protocol's optimum for this hardware
    max_distance_finite_as_configured_km: float  # the device at its own settings
    rows: list[dict[str, float | None]]  # optimal parameters are None where there is no key

    def as_dict(self) -> dict[str, object]:
        return {
            "profile": self.profile, "repetition_rate_hz": self.repetition_rate_hz,
            "block_size": self.block_size, "max_distance_km": self.max_distance_km,
            "max_distance_infinite_decoy_km": self.max_distance_infinite_decoy_km,
            "max_distance_finite_km": self.max_distance_finite_km,
            "max_distance_finite_as_configured_km": self.max_distance_finite_as_configured_km,
            "rows": self.rows,
        }


def sweep(profile: Profile, distances_km: np.ndarray, block_size: int | None = None) -> KeyRateSweep:
    """Rates per pulse and per second at each distance, with the three maximum distances."""
    n_block = profile.security.block_size if block_size is None else block_size
    rate_hz = profile.source.repetition_rate_hz
    rows = []
    for d in distances_km:
        d = float(d)
        eta = profile.channel_transmittance(d)
        asym, mu_opt = best_vacuum_weak(profile, d)
        inf = asymptotic_infinite_decoy(profile, d)
        fin = optimal_finite_key_rate(profile, d, n_block)
        configured = finite_key_rate(profile, d, n_block)
        rows.append({
            "distance_km": d, "channel_transmittance": eta,
            "asymptotic_rate_per_pulse": asym, "asymptotic_rate_bps": asym * rate_hz,
            "asymptotic_mu_opt": mu_opt if asym > 0 else None,
            "infinite_decoy_rate_per_pulse": inf,
            "finite_key_rate_per_pulse": fin.rate_per_pulse,
            "finite_key_rate_bps": fin.rate_per_pulse * rate_hz,
            "finite_key_optimum": fin.settings.as_dict() if fin.rate_per_pulse > 0 else None,
            "finite_key_eps_sec": fin.eps_sec if fin.rate_per_pulse > 0 else None,
            "finite_key_as_configured_rate_per_pulse": configured.rate_per_pulse,
            "finite_key_as_configured_rate_bps": configured.rate_per_pulse * rate_hz,
            # A lossless channel (eta = 1) has unbounded capacity: reported as None.
            "plob_bits_per_pulse": _finite_or_none(plob_bound(eta)),
            "tgw_bits_per_pulse": _finite_or_none(tgw_bound(eta)),
        })
    return KeyRateSweep(
        profile=profile.name, repetition_rate_hz=rate_hz, block_size=n_block,
        max_distance_km=max_distance_km(lambda d: asymptotic_vacuum_weak(profile, d)),
        max_distance_infinite_decoy_km=max_distance_km(lambda d: asymptotic_infinite_decoy(profile, d)),
        max_distance_finite_km=max_distance_km(lambda d: finite_key(profile, d, n_block)),
        max_distance_finite_as_configured_km=max_distance_km(
            lambda d: finite_key_as_configured(profile, d, n_block)),
        rows=rows,
    )
