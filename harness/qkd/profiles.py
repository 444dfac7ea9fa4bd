"""Device and channel profiles for the simulated QKD link: typed, validated, loaded from YAML.

A profile is data (``harness/qkd/device_profiles/<name>.yaml``, shipped as package data)
describing one prepare-and-measure decoy-state BB84 system: source, detectors, channel
(fibre or free-space link budget), post-processing efficiency and security parameters.
The profiles are published systems' parameters, not a vendor's: the key-rate model (`qsbench
keyrate`, the rate suites) and the simulated device both read them from here, so the engine
never reaches into `vendors/`.

API (stable; the post-processing half builds on it):

    load_profile(name_or_path) -> Profile      # "gys-2004" or a path to a .yaml file
    available_profiles() -> list[str]
    Profile.channel_transmittance(distance_km) -> float   # channel + insertion loss, no detector
    Profile.total_transmittance(distance_km) -> float     # eta: channel x detector efficiency
    Profile.dark_count_probability_per_gate(background) -> float  # per detector, incl. background
    Profile.intensities / Profile.intensity_probabilities -> tuple[float, ...] (signal first)

Conventions: basis 0 is the key basis ("Z"), basis 1 the test basis ("X"); both parties choose
the key basis with probability ``source.basis_probability_key``. Intensities are listed signal
first, then decoys in decreasing order (the last is the vacuum or weakest decoy).
"""

from __future__ import annotations

import math
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

Probability = Annotated[float, Field(ge=0.0, le=1.0)]
PROFILE_PACKAGE = "harness.qkd.device_profiles"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Source(_Strict):
    repetition_rate_hz: float = Field(gt=0, description="pulses per second")
    intensities: list[Annotated[float, Field(ge=0.0, le=10.0)]] = Field(
        min_length=2, max_length=3, description="mean photon numbers: signal, decoy[, vacuum/weak decoy]"
    )
    intensity_probabilities: list[Probability] = Field(min_length=2, max_length=3)
    basis_probability_key: Probability = Field(description="probability of the key basis (Z), both sides")

    @model_validator(mode="after")
    def _consistent(self) -> Source:
        if len(self.intensities) != len(self.intensity_probabilities):
            raise ValueError("intensities and intensity_probabilities must have the same length")
        if abs(sum(self.intensity_probabilities) - 1.0) > 1e-9:
            raise ValueError(f"intensity_probabilities sum to {sum(self.intensity_probabilities)}, not 1")
        if any(a <= b for a, b in zip(self.intensities, self.intensities[1:], strict=False)):
            raise ValueError("intensities must be strictly decreasing: signal first, then decoys")
        if not 0.0 < self.basis_probability_key < 1.0:
            raise ValueError("basis_probability_key must be strictly between 0 and 1")
        return self


class Detector(_Strict):
    efficiency: Annotated[float, Field(gt=0.0, le=1.0)] = Field(
        description="Bob's detection efficiency including his optics (eta_Bob)"
    )
    dark_count_probability: Probability = Field(description="per detector per gate (time slot)")
    afterpulse_probability: Annotated[float, Field(ge=0.0, le=0.5)] = 0.0
    afterpulse_model: Literal["next-gate", "lim-2014"] = Field(
        "next-gate", description="next-gate: a click afterpulses into the next gate and counts only if "
        "that gate is empty, for the intensity sent there (qsbench's detector model, as the Monte Carlo "
        "samples it); lim-2014: R_k = D_k (1 + p_ap) with p_ap D_k / 2 added to the errors, the "
        "afterpulse counted for the intensity that caused it (Lim et al., PRA 89, 022307 (2014), Sec. IV)")
    dead_time_s: float = Field(0.0, ge=0.0)
    count: Literal[2] = Field(2, description="one threshold detector per bit value, active basis choice")
    gate_width_s: float | None = Field(
        None, gt=0, description="coincidence window; turns background counts/s into a probability"
    )


class FibreChannel(_Strict):
    kind: Literal["fibre"] = "fibre"
    attenuation_db_per_km: float = Field(ge=0.0)
    insertion_loss_db: float = Field(0.0, ge=0.0, description="fixed extra loss (connectors, Bob's optics)")

    def transmittance(self, distance_km: float) -> float:
        return 10.0 ** (-(self.attenuation_db_per_km * distance_km + self.insertion_loss_db) / 10.0)


class Background(_Strict):
    day: float = Field(ge=0.0, description="background counts per second at the receiver, daytime")
    night: float = Field(ge=0.0, description="background counts per second at the receiver, night")


class FreeSpaceChannel(_Strict):
    kind: Literal["free_space"] = "free_space"
    transmitter_aperture_m: float = Field(gt=0)
    receiver_aperture_m: float = Field(gt=0)
    beam_divergence_rad: float = Field(gt=0, description="full-angle divergence")
    atmospheric_attenuation_db_per_km: float = Field(ge=0.0)
    pointing_turbulence_loss_db: float = Field(0.0, ge=0.0)
    insertion_loss_db: float = Field(0.0, ge=0.0)
    background_counts_per_s: Background
    background: Literal["day", "night"] = "night"

    def transmittance(self, distance_km: float) -> float:
        # Geometric loss: the beam grows to D_tx + L*theta; the receiver collects the fraction of it
        # its aperture covers (capped at 1 for short ranges).
        beam_m = self.transmitter_aperture_m + distance_km * 1e3 * self.beam_divergence_rad
        geometric = min(1.0, (self.receiver_aperture_m / beam_m) ** 2)
        loss_db = (self.atmospheric_attenuation_db_per_km * distance_km
                   + self.pointing_turbulence_loss_db + self.insertion_loss_db)
        return geometric * 10.0 ** (-loss_db / 10.0)


class Security(_Strict):
    eps_sec: Annotated[float, Field(gt=0.0, lt=1.0)] | None = Field(
        None, description="fixed secrecy parameter of every key, whatever its length")
    eps_sec_per_key_bit: Annotated[float, Field(gt=0.0, lt=1e-3)] | None = Field(
        None, description="kappa: secrecy set proportional to the key length, eps_sec = kappa l "
        "(Lim et al. 2014 set kappa = 1e-15 for their figures)")
    eps_cor: Annotated[float, Field(gt=0.0, lt=1.0)]
    block_size: int = Field(gt=0, description="key-basis detections (sifted bits) per post-processing block")

    @model_validator(mode="after")
    def _one_secrecy(self) -> Security:
        if (self.eps_sec is None) == (self.eps_sec_per_key_bit is None):
            raise ValueError("give exactly one of eps_sec (fixed) and eps_sec_per_key_bit "
                             "(eps_sec = kappa l)")
        return self

    def secrecy_for(self, key_length_bits: float) -> float:
        """eps_sec of a key of ``key_length_bits``: the fixed value, or kappa l (at least one bit's)."""
        if self.eps_sec is not None:
            return self.eps_sec
        assert self.eps_sec_per_key_bit is not None
        return min(self.eps_sec_per_key_bit * max(key_length_bits, 1.0), 0.5)


class Profile(_Strict):
    name: str = Field(min_length=1)
    description: str = ""
    source_citation: str = Field(min_length=1, description="where the numbers come from")
    source: Source
    detector: Detector
    misalignment_error: Annotated[float, Field(ge=0.0, le=0.5)]
    channel: FibreChannel | FreeSpaceChannel = Field(discriminator="kind")
    error_correction_efficiency: Annotated[float, Field(ge=1.0, le=3.0)]
    security: Security
    blinding_monitor: bool = Field(
        False, description="a photocurrent monitor that raises an alarm when the detectors are blinded"
    )

    @model_validator(mode="after")
    def _background_needs_gate(self) -> Profile:
        if isinstance(self.channel, FreeSpaceChannel) and self.detector.gate_width_s is None:
            raise ValueError(
                "a free-space channel needs detector.gate_width_s to turn background into a probability"
            )
        return self

    @property
    def intensities(self) -> tuple[float, ...]:
        return tuple(self.source.intensities)

    @property
    def intensity_probabilities(self) -> tuple[float, ...]:
        return tuple(self.source.intensity_probabilities)

    def channel_transmittance(self, distance_km: float) -> float:
        _check_distance(distance_km)
        return self.channel.transmittance(distance_km)

    def total_transmittance(self, distance_km: float) -> float:
        """eta: the probability that one emitted photon is detected (channel x detector efficiency)."""
        return self.channel_transmittance(distance_km) * self.detector.efficiency

    def dark_count_probability_per_gate(self, background: Literal["day", "night"] | None = None) -> float:
        """Per detector per gate: intrinsic dark counts plus, for free space, background light."""
        p = self.detector.dark_count_probability
        if isinstance(self.channel, FreeSpaceChannel):
            which = background or self.channel.background
            rate = getattr(self.channel.background_counts_per_s, which)
            # Background is split evenly over the detectors; Poisson arrivals within one gate.
            p_bg = -math.expm1(-rate / self.detector.count * (self.detector.gate_width_s or 0.0))
            p = 1.0 - (1.0 - p) * (1.0 - p_bg)
        return p

    def background_yield(self, background: Literal["day", "night"] | None = None) -> float:
        """Y0: probability that a vacuum pulse gives at least one click."""
        p = self.dark_count_probability_per_gate(background)
        return -math.expm1(self.detector.count * math.log1p(-p))

    def with_changes(self, changes: dict[str, object]) -> Profile:
        """A validated copy with fields replaced by dotted path, e.g. ``{"detector.dead_time_s": 0.0}``."""
        data = self.model_dump()
        for dotted, value in changes.items():
            node = data
            *parents, leaf = dotted.split(".")
            for key in parents:
                node = node[key]
            if leaf not in node:
                raise KeyError(f"profile has no field {dotted!r}")
            node[leaf] = value
        return Profile.model_validate(data)


class ProfileError(ValueError):
    """A profile that cannot be found or does not validate; the message names the file and field."""


def _check_distance(distance_km: float) -> None:
    if not (math.isfinite(distance_km) and distance_km >= 0.0):
        raise ValueError(f"distance_km must be a finite number >= 0, got {distance_km!r}")


def available_profiles() -> list[str]:
    """Names of the profiles shipped with the simulated QKD vendor."""
    folder = resources.files(PROFILE_PACKAGE)
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def load_profile(name_or_path: str | Path) -> Profile:
    """Load a profile by shipped name ("gys-2004") or from a YAML file path."""
    text, where = _read(name_or_path)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ProfileError(f"{where}: not valid YAML: {exc}") from exc
    try:
        return Profile.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}" for e in exc.errors()
        )
        raise ProfileError(f"{where}: {problems}") from exc


def _read(name_or_path: str | Path) -> tuple[str, str]:
    path = Path(name_or_path)
    if path.suffix in {".yaml", ".yml"} or path.exists():
        if not path.is_file():
            raise ProfileError(f"{path}: no such profile file")
        return path.read_text(encoding="utf-8"), str(path)
    resource = resources.files(PROFILE_PACKAGE) / f"{name_or_path}.yaml"
    if not resource.is_file():
        raise ProfileError(
            f"unknown profile {str(name_or_path)!r}; shipped profiles: {', '.join(available_profiles())}"
        )
    return resource.read_text(encoding="utf-8"), f"{PROFILE_PACKAGE}/{name_or_path}.yaml"
