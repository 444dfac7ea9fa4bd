"""One simulated QKD link on a device clock: blocks of the QKD core feed a key store on both ends.

The link asks its `KeySource` for one post-processed block at a time and advances
its device clock by the block's device time (pulses / repetition rate). Inside a
suite it runs as fast as it can (`run_for`); when served it is paced so that device
time keeps step with wall time times `time_scale` (`run_paced`).

Faults (the resilience suites' hook), each for a given device time:
- `kme_unavailable`: the KMEs answer 503;
- `link_down`: blocks run but none is distilled;
- `fibre_cut`: no light arrives (loss -> infinity), so nothing is detected or distilled;
- `classical_channel_down`: detections cannot be sifted or reconciled, so nothing is distilled;
- `attenuation_step` (magnitude dB): extra loss on top of the attenuator's setting;
- `qber_rise` (magnitude, a fraction): the misalignment error jumps, as when a polarisation
  controller loses lock; past the device's abort point its blocks abort;
- `detector_blinding`: a blinding attack on every pulse; only the blinding monitor sees it.
With a `DriftModel` (`drift.py`) the link also drifts: its misalignment walks, it recalibrates
periodically (distilling nothing meanwhile) and its detectors age.
Without light or a classical channel there are no blocks, so the clock advances in idle steps
of at most `IDLE_STEP_S`, and the device notices as soon as a step ends.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from harness.adapters import Attack, Fault, NotApplicable, TelemetrySnapshot
from vendors.simulated_qkd.drift import Drift, DriftModel
from vendors.simulated_qkd.keystore import LinkKeyStore

FAULT_KINDS = ("kme_unavailable", "link_down", "fibre_cut", "classical_channel_down", "attenuation_step",
               "qber_rise", "detector_blinding")
SIZED = {"attenuation_step": "dB of extra loss", "qber_rise": "misalignment rise (fraction)"}
IDLE_STEP_S = 1.0


@dataclass(frozen=True)
class BlockOutcome:
    """What one block of the QKD core produced (key bits as 0/1 uint8 arrays, never logged)."""

    device_seconds: float
    alice_key: np.ndarray
    bob_key: np.ndarray
    sifted_bits: int
    qber: float  # estimated by the protocol (the device's own view)
    channel_loss_db: float
    aborted: bool  # the device refused to distil this block (QBER above its threshold, or an alarm)
    alarm: str = ""  # e.g. the blinding monitor's, empty when none
    # What error correction disclosed, and its Shannon limit n·h(QBER) for the bits it corrected
    # (0 where the block never reached it): their ratio is the reconciliation efficiency f achieved.
    reconciliation_leaked_bits: int = 0
    reconciliation_shannon_bits: float = 0.0


class KeySource(Protocol):
    def block(self, fibre_km: float, attenuation_db: float, attack: Attack | None, seed: int) -> BlockOutcome:
        """Run one block of the link under these conditions."""


class MisalignableSource(Protocol):
    """A key source whose misalignment error can be raised (the `qber_rise` fault, drift)."""

    def set_extra_misalignment(self, fraction: float) -> None: ...


@dataclass
class _Window:
    device_s: float = 0.0
    secret_bits: int = 0
    sifted_bits: int = 0
    error_weighted: float = 0.0
    blocks: int = 0
    aborted_blocks: int = 0
    loss_db: float = math.nan
    alarms: int = 0
    recalibrations: int = 0
    reconciliation_leaked_bits: int = 0
    reconciliation_shannon_bits: float = 0.0


class SimulatedLink:
    def __init__(self, source: KeySource, store: LinkKeyStore, fibre_km: float = 0.0,
                 seed: int | None = 0, drift: DriftModel | None = None) -> None:
        self.source, self.store = source, store
        self.fibre_km, self.attenuation_db = float(fibre_km), 0.0
        self.attack: Attack | None = None
        self.device_time_s = 0.0
        self._faults: dict[str, tuple[float, float]] = {}  # kind -> (device time it clears, magnitude)
        # seed None: fresh OS entropy, a key stream no other link or lifetime shares. A seeded
        # stream resumes where the store says it stopped, so a restart on the same store never
        # re-derives (and re-delivers) key bits it produced before.
        self._blocks_run = store.stream_position
        self._seed = np.random.SeedSequence(seed, n_children_spawned=self._blocks_run)
        # The drift draws from a stream of its own (a spawn key no block's child ever has).
        self.drift = None if drift is None else Drift(drift, np.random.default_rng(
            np.random.SeedSequence(self._seed.entropy, spawn_key=(0xD1F7, 0))))
        self._lock = threading.Lock()  # one block at a time, whoever drives the clock
        self.last_delivery_active = True
        self._run_ahead_s = 0.0

    # --- channel control and faults ---
    def set_fibre_km(self, km: float) -> None:
        if not (math.isfinite(km) and km >= 0):
            raise ValueError(f"fibre length {km!r} km: must be a finite number >= 0")
        self.fibre_km = float(km)
        self.conditions_changed()

    def set_attenuation_db(self, db: float) -> None:
        if not (math.isfinite(db) and db >= 0):
            raise ValueError(f"attenuation {db!r} dB: must be a finite number >= 0")
        self.attenuation_db = float(db)
        self.conditions_changed()

    def set_attack(self, attack: Attack | None) -> None:
        self.attack = attack
        self.conditions_changed()

    def conditions_changed(self) -> None:
        """Device time run ahead under the old conditions is not owed under the new ones."""
        self._run_ahead_s = 0.0

    def inject(self, fault: Fault) -> None:
        if fault.kind not in FAULT_KINDS:
            raise NotApplicable(f"the simulated device cannot inject {fault.kind!r}; it can: {FAULT_KINDS}")
        if not fault.duration_s > 0:
            raise ValueError(f"fault duration {fault.duration_s!r} s: must be > 0")
        magnitude = 0.0
        if fault.kind in SIZED:
            if fault.magnitude is None or not (math.isfinite(fault.magnitude) and fault.magnitude > 0):
                raise ValueError(f"{fault.kind} needs a magnitude > 0 ({SIZED[fault.kind]}), "
                                 f"got {fault.magnitude!r}")
            magnitude = float(fault.magnitude)
        if fault.kind == "qber_rise" and not hasattr(self.source, "set_extra_misalignment"):
            raise NotApplicable("this key source cannot change its misalignment error")
        self._faults[fault.kind] = (self.device_time_s + fault.duration_s, magnitude)
        self.conditions_changed()

    def clear_faults(self) -> None:
        self._faults.clear()
        self.conditions_changed()

    def active_faults(self) -> dict[str, tuple[float, float]]:
        """kind -> (device time it clears, magnitude) of every fault active now."""
        return {kind: v for kind, v in list(self._faults.items()) if self._fault_active(kind)}

    def _fault_active(self, kind: str) -> bool:
        return self._faults.get(kind, (-math.inf, 0.0))[0] > self.device_time_s

    def _magnitude(self, kind: str) -> float:
        return self._faults[kind][1] if self._fault_active(kind) else 0.0

    def _idle_until(self) -> float | None:
        """When the last fault that leaves nothing to distil clears, or None when none is active."""
        ends = [self._faults[k][0] for k in ("fibre_cut", "classical_channel_down") if self._fault_active(k)]
        return max(ends) if ends else None

    def unavailable_reason(self) -> str | None:
        return "injected fault kme_unavailable" if self._fault_active("kme_unavailable") else None

    # --- the clock ---
    def _step(self, window: _Window) -> None:
        drift = self.drift
        if drift is not None and drift.recalibration_due():
            spent = drift.recalibrate()  # the link distils nothing while it realigns
            self.device_time_s += spent
            window.device_s += spent
            window.blocks += 1
            window.aborted_blocks += 1
            window.recalibrations += 1
            return
        idle_until = self._idle_until()
        if idle_until is not None:
            step = min(IDLE_STEP_S, idle_until - self.device_time_s)
            self.device_time_s += step
            window.device_s += step
            window.blocks += 1
            window.aborted_blocks += 1
            window.loss_db = math.inf if self._fault_active("fibre_cut") else window.loss_db
            if drift is not None:
                drift.advance(step)
            return
        seed = int(self._seed.spawn(1)[0].generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))
        self._blocks_run += 1
        misalignment = self._magnitude("qber_rise") + (drift.extra_misalignment if drift else 0.0)
        if hasattr(self.source, "set_extra_misalignment"):
            self.source.set_extra_misalignment(misalignment)
        attack = Attack("blinding", 1.0) if self._fault_active("detector_blinding") else self.attack
        loss_db = (self.attenuation_db + self._magnitude("attenuation_step")
                   + (drift.ageing_loss_db if drift else 0.0))
        out = self.source.block(self.fibre_km, loss_db, attack, seed)
        if drift is not None:
            drift.advance(out.device_seconds)
        link_down = self._fault_active("link_down")
        self.device_time_s += out.device_seconds
        window.device_s += out.device_seconds
        window.blocks += 1
        window.loss_db = out.channel_loss_db
        window.alarms += bool(out.alarm)
        if link_down:
            window.aborted_blocks += 1
            return
        window.sifted_bits += out.sifted_bits
        window.error_weighted += out.qber * out.sifted_bits
        window.reconciliation_leaked_bits += out.reconciliation_leaked_bits
        window.reconciliation_shannon_bits += out.reconciliation_shannon_bits
        if out.aborted:
            window.aborted_blocks += 1
            return
        n = len(out.alice_key) - len(out.alice_key) % 8  # whole bytes; < 8 bits per block are dropped
        if n:
            alice, bob = np.packbits(out.alice_key[:n]).tobytes(), np.packbits(out.bob_key[:n]).tobytes()
            self.store.deposit(alice, bob, stream_position=self._blocks_run)
            window.secret_bits += n

    def _snapshot(self, w: _Window) -> TelemetrySnapshot:
        span = w.device_s or math.nan
        if w.blocks:
            self.last_delivery_active = w.aborted_blocks < w.blocks
        reported: dict[str, float] = {}
        if w.reconciliation_shannon_bits > 0:  # what its post-processing reports of its own leak
            f = w.reconciliation_leaked_bits / w.reconciliation_shannon_bits
            reported["reconciliation_efficiency"] = f
        if self.drift is not None:  # what a device's own monitoring reports about its calibration
            reported |= {"recalibrations": float(w.recalibrations),
                         "drift_misalignment": self.drift.extra_misalignment,
                         "detector_efficiency_factor": self.drift.efficiency_factor}
        return TelemetrySnapshot(
            window_s=w.device_s, qber=w.error_weighted / w.sifted_bits if w.sifted_bits else math.nan,
            secret_key_rate_bps=w.secret_bits / span, sifted_rate_bps=w.sifted_bits / span,
            channel_loss_db=w.loss_db, stored_key_count=self.store.stored_key_count(),
            key_delivery_active=self.last_delivery_active,
            extra={"blocks": float(w.blocks), "aborted_blocks": float(w.aborted_blocks),
                   "alarms": float(w.alarms), "secret_bits": float(w.secret_bits),
                   "sifted_bits": float(w.sifted_bits), **reported})

    def run_for(self, device_seconds: float) -> TelemetrySnapshot:
        """Run blocks until at least `device_seconds` of device time has passed; report that window."""
        if not device_seconds > 0:
            raise ValueError(f"device_seconds={device_seconds!r}: must be > 0")
        window = _Window()
        with self._lock:
            # Blocks are indivisible: time run past a request is owed to the next one, so many
            # short requests add up to the device time they asked for.
            target = device_seconds - self._run_ahead_s
            while window.device_s < target:
                self._step(window)
            self._run_ahead_s = window.device_s - target
        return self._snapshot(window)

    def run_paced(self, stop: threading.Event, time_scale: float = 1.0) -> None:
        """Run until `stop` is set, keeping device time at wall time x `time_scale`."""
        if not time_scale > 0:
            raise ValueError(f"time_scale={time_scale!r}: must be > 0")
        start_wall, start_dev = time.monotonic(), self.device_time_s
        while not stop.is_set():
            with self._lock:
                self._step(_Window())
            ahead = (self.device_time_s - start_dev) / time_scale - (time.monotonic() - start_wall)
            if ahead > 0:
                stop.wait(ahead)
