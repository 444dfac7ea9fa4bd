"""What theory expects of a QKD device at a given channel loss, from its declared parameters.

PLOB bounds any repeaterless link: -log2(1 - eta) bits per channel use, here times the
repetition rate. The analytic rates are the asymptotic vacuum + weak decoy GLLP rate and the
finite-key rate of Lim et al. 2014 at the device's own block size (harness.qkd), twice: for
the device as configured (its own intensities, probabilities and basis choice) and at the
protocol's optimum for that hardware (those parameters optimised, as Lim et al. do).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from harness.adapters import Adapter, NotApplicable
from harness.qkd.bounds import plob_bound
from harness.qkd.finite_key import finite_key_rate
from harness.qkd.finite_key_optimum import optimal_finite_key_rate
from harness.qkd.keyrate import decoy_bb84_asymptotic
from harness.qkd.profiles import FibreChannel


def declared_profile(adapter: Adapter) -> Any:
    getter = getattr(adapter, "declared_profile", None)
    return getter() if getter is not None else None


def declared_fibre_km(adapter: Adapter) -> float | None:
    getter = getattr(adapter, "declared_fibre_km", None)
    return getter() if getter is not None else None


def attenuation_for(profile: Any, distance_km: float) -> float:
    """The attenuator setting (dB) that emulates `distance_km` of the profile's fibre."""
    if profile is None or not isinstance(profile.channel, FibreChannel):
        raise NotApplicable("an attenuation sweep needs a declared fibre profile (dB/km)")
    return profile.channel.attenuation_db_per_km * distance_km


@dataclass(frozen=True)
class Expectation:
    plob_bps: float
    asymptotic_bps: float
    finite_key_bps: float  # the device as configured
    finite_key_optimum_bps: float  # the protocol's optimum for this hardware
    finite_key_optimum: dict[str, float] | None  # its settings (None without a finite key)
    channel_loss_db: float


def _equivalent_km(profile: Any, distance_km: float, extra_loss_db: float) -> float:
    """The fibre length whose loss is `distance_km` of it plus an attenuator's `extra_loss_db`."""
    if extra_loss_db and isinstance(profile.channel, FibreChannel) and profile.channel.attenuation_db_per_km:
        return distance_km + extra_loss_db / profile.channel.attenuation_db_per_km
    return distance_km


def finite_key_bps_at_ec(profile: Any, distance_km: float, extra_loss_db: float,
                         reconciliation_efficiency: float) -> float:
    """Lim et al.'s finite-key rate of the device as configured, but with error correction leaking
    `reconciliation_efficiency` × n·h(QBER), the f the device reports it achieved, where the declared
    profile's f is a textbook figure (gys-2004's 1.22, Ma et al.) that a real Cascade beats: like for
    like with the measured rate, which the device's real leak sets. NaN without three intensities."""
    if len(profile.intensities) != 3 or not math.isfinite(reconciliation_efficiency):
        return math.nan
    achieved = profile.model_copy(update={"error_correction_efficiency": reconciliation_efficiency})
    km = _equivalent_km(profile, distance_km, extra_loss_db)
    return finite_key_rate(achieved, km).rate_per_pulse * profile.source.repetition_rate_hz


def expectation(profile: Any, distance_km: float, extra_loss_db: float = 0.0) -> Expectation:
    eta = profile.channel_transmittance(distance_km) * 10 ** (-extra_loss_db / 10)
    rep = profile.source.repetition_rate_hz
    equivalent_km = _equivalent_km(profile, distance_km, extra_loss_db)
    asym = decoy_bb84_asymptotic(profile, equivalent_km).rate_per_pulse
    # Lim et al.'s bound needs three intensities; a two-intensity profile has no finite-key figure.
    three = len(profile.intensities) == 3
    finite = finite_key_rate(profile, equivalent_km).rate_per_pulse if three else math.nan
    best = optimal_finite_key_rate(profile, equivalent_km) if three else None
    optimum = best.rate_per_pulse if best is not None else math.nan
    settings = best.settings.as_dict() if best is not None and best.rate_per_pulse > 0 else None
    loss_db = -10 * math.log10(eta) if eta > 0 else math.inf
    return Expectation(plob_bound(eta) * rep, asym * rep, finite * rep, optimum * rep, settings, loss_db)
