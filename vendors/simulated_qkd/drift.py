"""Calibration drift of the simulated device over long runs: what a soak test should see.

Three effects, each on the device clock:
- the polarisation (or interferometer phase) reference walks away from Bob's: the misalignment
  angle is a Gaussian random walk, theta(t + dt) = theta(t) + N(0, sigma^2 dt), and adds
  sin^2(theta) to the misalignment error (the probability a photon lands in the wrong
  detector of its basis after a rotation theta);
- every `recalibration_interval_h` the device recalibrates: theta back to 0, and for
  `recalibration_s` it distils nothing (an active alignment sequence uses the quantum channel);
- the detectors age: their efficiency falls as exp(-ageing x hours). Detector efficiency and
  channel transmittance multiply in every signal detection probability, so the ageing enters
  as extra loss of -10 log10(factor) dB; dark counts stay as they are.

The walk draws from its own stream of the link's seed, so a seeded link drifts the same way
every run.
"""

from __future__ import annotations

import math

import numpy as np
from pydantic import BaseModel, ConfigDict, Field


class DriftModel(BaseModel):
    """The `drift:` option of the simulated device."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    polarisation_walk_rad_per_sqrt_h: float = Field(
        0.0, ge=0, le=10, description="sigma of the misalignment angle's random walk, rad per sqrt(hour)")
    recalibration_interval_h: float | None = Field(
        None, gt=0, le=10_000, description="device hours between recalibrations (None: never)")
    recalibration_s: float = Field(60.0, ge=0, le=86_400, description="device seconds a recalibration takes")
    efficiency_ageing_per_h: float = Field(
        0.0, ge=0, le=1, description="relative fall of detector efficiency per device hour")


class Drift:
    """The drift state of one link: advanced by the link before each block."""

    def __init__(self, model: DriftModel, rng: np.random.Generator) -> None:
        self.model, self._rng = model, rng
        self.theta_rad = 0.0
        self.age_s = 0.0
        self.since_recalibration_s = 0.0
        self.recalibrations = 0

    def advance(self, seconds: float) -> None:
        """Let `seconds` of device time pass."""
        sigma = self.model.polarisation_walk_rad_per_sqrt_h
        if sigma and seconds > 0:
            self.theta_rad += float(self._rng.normal(0.0, sigma * math.sqrt(seconds / 3600)))
        self.age_s += seconds
        self.since_recalibration_s += seconds

    def recalibration_due(self) -> bool:
        interval = self.model.recalibration_interval_h
        return interval is not None and self.since_recalibration_s >= interval * 3600

    def recalibrate(self) -> float:
        """Realign; return the device seconds the recalibration takes (no key meanwhile)."""
        self.age_s += self.model.recalibration_s
        self.theta_rad = 0.0
        self.since_recalibration_s = 0.0
        self.recalibrations += 1
        return self.model.recalibration_s

    @property
    def extra_misalignment(self) -> float:
        return math.sin(self.theta_rad) ** 2

    @property
    def efficiency_factor(self) -> float:
        return math.exp(-self.model.efficiency_ageing_per_h * self.age_s / 3600)

    @property
    def ageing_loss_db(self) -> float:
        return -10 * math.log10(self.efficiency_factor)
