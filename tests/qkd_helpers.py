"""Shared helpers for the QKD device tests.

`FixedRateSource` is a test double for the QKD core: both ends get the same random
bits at a fixed secret-key rate. It is used where the thing under test is the key
store, the KME or a suite's plumbing, not the physics (which the core's own tests and
the simulated-device tests on `run_block` cover).
"""

from __future__ import annotations

import numpy as np

from harness.adapters import Attack
from vendors.simulated_qkd.link import BlockOutcome


class FixedRateSource:
    def __init__(self, secret_bits_per_s: float = 64_000, block_seconds: float = 0.05, qber: float = 0.02):
        self.rate, self.block_seconds, self.qber = secret_bits_per_s, block_seconds, qber
        self.calls: list[tuple[float, float, Attack | None]] = []

    def block(self, fibre_km: float, attenuation_db: float, attack: Attack | None, seed: int) -> BlockOutcome:
        self.calls.append((fibre_km, attenuation_db, attack))
        bits = np.random.default_rng(seed).integers(0, 2, int(self.rate * self.block_seconds), dtype=np.uint8)
        loss = 0.2 * fibre_km + attenuation_db
        return BlockOutcome(self.block_seconds, bits, bits.copy(), 4 * len(bits), self.qber, loss, False)


class LossyRateSource(FixedRateSource):
    """The double with a distance: rate falls 0.2 dB/km and stops beyond `cutoff_km`; Poisson noise."""

    def __init__(self, rate_at_0_bps: float = 100_000, cutoff_km: float = 100.0, block_seconds: float = 0.5):
        super().__init__(rate_at_0_bps, block_seconds)
        self.cutoff_km = cutoff_km

    def block(self, fibre_km: float, attenuation_db: float, attack: Attack | None, seed: int) -> BlockOutcome:
        self.calls.append((fibre_km, attenuation_db, attack))
        rng = np.random.default_rng(seed)
        loss = 0.2 * fibre_km + attenuation_db
        mean_bits = self.rate * 10 ** (-loss / 10) * self.block_seconds
        n = int(rng.poisson(mean_bits)) if loss < 0.2 * self.cutoff_km else 0
        bits = rng.integers(0, 2, n, dtype=np.uint8)
        return BlockOutcome(self.block_seconds, bits, bits.copy(), 4 * n, self.qber, loss, n == 0)
