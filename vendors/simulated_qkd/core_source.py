"""The simulated device's key source: the QKD core's `run_block`, one post-processing block at a time.

A block collects `block_bits` key-basis detections (default the profile's own
`security.block_size`), as a device fills its block before it distils it, so the
device time per block grows with the loss while the work per block stays the same.
Extra attenuation is added to the channel's insertion loss; the attack settings map
onto the core's attack models; the blinding monitor is the profile's own switch, and decoy
analysis can be switched off (the device then estimates as if every detection were a single
photon, so a PNS attack goes unseen).
"""

from __future__ import annotations

import math
from functools import lru_cache

from harness.adapters import Attack, NotApplicable
from harness.qkd import photon_model
from harness.qkd.keyrate import expected_observations
from harness.qkd.observations import dead_time_live_fraction
from harness.qkd.pipeline import run_block
from harness.qkd.profiles import Profile, load_profile
from vendors.simulated_qkd.link import BlockOutcome

ATTACKS = ("intercept_resend", "pns", "blinding")
COUNTERMEASURES = ("blinding_monitor", "decoy_analysis")
MAX_PULSES_PER_BLOCK = 10**13


def core_attack(attack: Attack | None) -> photon_model.Attack | None:
    if attack is None:
        return None
    if attack.kind == "intercept_resend":
        return photon_model.InterceptResend(attack.fraction)
    if attack.kind == "pns":
        return photon_model.PhotonNumberSplitting()
    if attack.kind == "blinding":
        return photon_model.DetectorBlinding(attack.fraction)
    raise NotApplicable(f"the simulated device has no attack model {attack.kind!r}; it has {ATTACKS}")


class CoreKeySource:
    countermeasures = COUNTERMEASURES

    def __init__(self, profile: str | Profile, block_bits: int | None = None) -> None:
        self.base = profile if isinstance(profile, Profile) else load_profile(profile)
        self.block_bits = int(block_bits or self.base.security.block_size)
        if self.block_bits < 1000:
            raise ValueError(f"block_bits={self.block_bits}: finite-key estimation needs at least 1000")
        self.blinding_monitor = self.base.blinding_monitor
        self.decoy_analysis = True
        self.extra_misalignment = 0.0

    def set_extra_misalignment(self, fraction: float) -> None:
        """Raise the misalignment error by `fraction` (the link's qber_rise fault; capped at 0.5)."""
        if not (math.isfinite(fraction) and fraction >= 0):
            raise ValueError(f"extra misalignment {fraction!r}: must be a finite number >= 0")
        self.extra_misalignment = float(fraction)

    def set_countermeasure(self, name: str, enabled: bool) -> None:
        if name == "blinding_monitor":
            self.blinding_monitor = bool(enabled)
        elif name == "decoy_analysis":
            self.decoy_analysis = bool(enabled)
        else:
            raise NotApplicable(f"the simulated device cannot switch {name!r}; it switches {COUNTERMEASURES}")

    @lru_cache(maxsize=64)  # noqa: B019 - a handful of settings per run, the source lives as long as the link
    def _profile(self, attenuation_db: float, blinding_monitor: bool, extra_misalignment: float) -> Profile:
        loss = self.base.channel.insertion_loss_db + attenuation_db
        misalignment = min(0.5, self.base.misalignment_error + extra_misalignment)
        return self.base.with_changes({"channel.insertion_loss_db": loss, "misalignment_error": misalignment,
                                       "blinding_monitor": blinding_monitor})

    def pulses_per_block(self, profile: Profile, distance_km: float) -> int:
        """Pulses expected to yield `block_bits` key-basis detections on the honest channel.

        The detections are those the detectors register through their dead time: the block
        size is the n_X the finite-key bound is computed for, so it must be what the block holds.
        """
        pz = profile.source.basis_probability_key
        gain = sum(p * expected_observations(profile, distance_km, mu).gain
                   for mu, p in zip(profile.intensities, profile.intensity_probabilities, strict=True))
        registered = gain * dead_time_live_fraction(profile, gain)
        return int(min(MAX_PULSES_PER_BLOCK, math.ceil(self.block_bits / (pz * pz * registered))))

    def block(self, fibre_km: float, attenuation_db: float, attack: Attack | None, seed: int) -> BlockOutcome:
        profile = self._profile(float(attenuation_db), self.blinding_monitor, self.extra_misalignment)
        result = run_block(profile, fibre_km, self.pulses_per_block(profile, fibre_km), seed,
                           attack=core_attack(attack), decoy_analysis=self.decoy_analysis)
        st = result.stats
        sifted = st.stage("estimation").bits_out
        qber = st.qber_estimate if st.qber_estimate is not None else math.nan
        eta = profile.channel_transmittance(fibre_km)
        reason = st.abort_reason or ""
        alarm = reason if st.aborted and "blinding" in reason else ""
        ec = next((s for s in st.stages if s.stage == "reconciliation"), None)
        leaked = ec.leaked_bits if ec is not None else 0
        shannon = leaked / ec.efficiency if ec is not None and ec.efficiency else 0.0
        loss_db = -10 * math.log10(eta) if eta > 0 else math.inf
        return BlockOutcome(st.device_seconds, result.alice_key, result.bob_key, sifted, qber, loss_db,
                            st.aborted, alarm, leaked, shannon)
