"""Putting a QKD link at a distance: fibre length where the device can change it, attenuation
steps (the declared fibre's dB/km times the distance) for devices with an attenuator only, and
the installed length for devices without channel control."""

from __future__ import annotations

from harness.adapters import Adapter, Capability, NotApplicable
from suites.qkd_expectations import attenuation_for, declared_fibre_km, declared_profile


def set_distance(adapter: Adapter, distance_km: float, sweep: str) -> float:
    """Configure the link for `distance_km`; return the extra attenuation applied (dB)."""
    if Capability.CHANNEL_CONTROL not in adapter.capabilities:
        installed = declared_fibre_km(adapter)
        if installed is None or abs(installed - distance_km) > 1e-9:
            raise NotApplicable(f"{adapter.name} has no channel_control; its link is fixed at "
                                f"{installed if installed is not None else 'an undeclared'} km")
        return 0.0
    if sweep == "fibre":
        adapter.set_fibre_km(distance_km)  # type: ignore[attr-defined]
        adapter.set_attenuation_db(0.0)  # type: ignore[attr-defined]
        return 0.0
    db = attenuation_for(declared_profile(adapter), distance_km)
    adapter.set_attenuation_db(db)  # type: ignore[attr-defined]
    return db
