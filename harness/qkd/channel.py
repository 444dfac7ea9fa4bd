"""The Monte Carlo channel: one block of a decoy-state BB84 link, simulated event by event.

Events, not pulses: the gaps between detections are geometric in the per-pulse click
probability Q = sum_k p_k Q_k, so the number of detections per intensity is exactly
Binomial(N_k, Q_k) and only detected pulses are ever generated. Each detection then draws what
happened given that it clicked: intensity, photon number and path (honest or attacked) in one
alias-table draw, then basis choices, detected photons, dark counts, misalignment and double
clicks (squashed to a random bit). A second, sequential pass joins the runs and applies
per-detector dead time and afterpulsing in time order. The cost is per detection, so a 1 GHz
source at 100 km costs little per second of device time. Runs of 2^26 pulses are seeded
independently and simulated in parallel on ``numba.get_num_threads()`` threads, while the
calling thread runs the detector pass over the runs already done; the result depends on the
seed only, not on the thread count.

API (stable; the post-processing half builds on it):

    simulate_block(profile, distance_km, pulses, seed, attack=None, background=None) -> ChannelBlock

``profile`` is a Profile or a profile name; ``attack`` one of harness.qkd.photon_model's
InterceptResend(fraction), PhotonNumberSplitting(), DetectorBlinding(fraction). ChannelBlock
holds per-intensity counts (``sent[k, basis]``, ``detected[k, basis]`` and ``errors[k, basis]``
for sifted events where both chose ``basis``; basis 0 = Z key basis, 1 = X test basis;
``detections[k]`` all clicks) and, for every detection in time order, numpy arrays
``alice_bits``, ``bob_bits`` (uint8 0/1), ``alice_basis``, ``bob_basis``, ``intensity`` (uint8
index into profile.intensities), ``slot`` (int64 pulse index), plus simulation truth that a real
device does not reveal: ``photon_number`` (int16, -1 for an afterpulse in an empty slot) and
``eve_bits`` (uint8, Eve's guess of Alice's bit, 2 = none). Sifting is ``alice_basis == bob_basis``.
"""

from __future__ import annotations

import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numba
import numpy as np

from harness.qkd import _channel_kernels as kernels
from harness.qkd import _detector_kernels as detector
from harness.qkd.alias import alias_table
from harness.qkd.photon_model import Attack, ClickModel, DetectorBlinding, click_model
from harness.qkd.profiles import Profile, load_profile

#: Pulses per independently seeded run; fixed so results do not depend on the thread count.
RUN_PULSES = 1 << 26
MAX_PULSES = 10**14
_POOLS: dict[tuple[int, int], ThreadPoolExecutor] = {}
_POOLS_LOCK = threading.Lock()
#: Per-event arrays in kernel argument order, with their dtypes.
EVENT_ARRAYS = {
    "slot": np.int64, "intensity": np.uint8, "alice_basis": np.uint8, "alice_bits": np.uint8,
    "bob_basis": np.uint8, "bob_bits": np.uint8, "photon_number": np.int16, "clicks": np.uint8,
    "eve_bits": np.uint8,
}


@dataclass(frozen=True, eq=False)
class ChannelBlock:
    """One simulated block. Bit arrays are key material: they are left out of repr()."""

    profile_name: str
    distance_km: float
    pulses_sent: int
    seed: int
    attack: str
    transmittance: float
    expected_gain: np.ndarray = field(repr=False)  # Q_k from the click model
    sent: np.ndarray = field(repr=False)  # [k, alice basis]
    detected: np.ndarray = field(repr=False)  # [k, basis], sifted
    errors: np.ndarray = field(repr=False)  # [k, basis], sifted and bits differ
    detections: np.ndarray = field(repr=False)  # [k], all clicks
    slot: np.ndarray = field(repr=False)
    intensity: np.ndarray = field(repr=False)
    alice_basis: np.ndarray = field(repr=False)
    alice_bits: np.ndarray = field(repr=False)
    bob_basis: np.ndarray = field(repr=False)
    bob_bits: np.ndarray = field(repr=False)
    photon_number: np.ndarray = field(repr=False)
    eve_bits: np.ndarray = field(repr=False)
    blinding_alarm: bool = False

    @property
    def gain(self) -> np.ndarray:
        """Measured Q_k: detections per pulse sent, per intensity."""
        return self.detections / np.maximum(self.sent.sum(axis=1), 1)

    @property
    def qber(self) -> np.ndarray:
        """Measured E_k per intensity and basis (nan where nothing was sifted)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.detected > 0, self.errors / self.detected, np.nan)


def simulate_block(profile: Profile | str, distance_km: float, pulses: int, seed: int,
                   attack: Attack | None = None, background: str | None = None) -> ChannelBlock:
    """Simulate ``pulses`` pulses over ``distance_km`` with a fixed ``seed`` (same seed, same block)."""
    prof = profile if isinstance(profile, Profile) else load_profile(profile)
    if not (isinstance(pulses, int | np.integer) and 0 < pulses <= MAX_PULSES):
        raise ValueError(f"pulses must be an integer in 1..{MAX_PULSES}, got {pulses!r}")
    if not (isinstance(seed, int | np.integer) and seed >= 0):
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if background not in (None, "day", "night"):
        raise ValueError(f"background must be 'day', 'night' or None, got {background!r}")
    pulses, seed = int(pulses), int(seed)
    model = click_model(prof, distance_km, attack, background)
    probs = np.asarray(prof.intensity_probabilities)
    gain = model.gain()
    q = float(probs @ gain)
    if q >= 1.0:
        raise ValueError(f"per-pulse click probability {q} is 1: the model is degenerate")

    n_runs = -(-pulses // RUN_PULSES)
    states = np.random.SeedSequence(seed).generate_state(n_runs + 2, dtype=np.uint32)
    empty_cdf = np.cumsum(probs * (1.0 - gain)) / (1.0 - q)
    empty_cdf[-1] = 1.0
    ev, end, candidate_codes, codes = _detections(prof, model, q, pulses, states, empty_cdf)
    ev = {name: arr[:end] for name, arr in ev.items()}
    candidates, key_candidates, _, _ = detector.tally_from_codes(candidate_codes, len(probs))
    tally = detector.tally_from_codes(codes, len(probs))

    # Pulses without a candidate click: their intensities and Alice's bases, drawn in bulk.
    rng = np.random.default_rng(int(states[n_runs + 1]))
    not_clicked = rng.multinomial(pulses - int(candidates.sum()), np.diff(np.concatenate(([0.0], empty_cdf))))
    sent = np.empty((len(probs), 2), np.int64)
    sent[:, 0] = rng.binomial(not_clicked, prof.source.basis_probability_key) + key_candidates
    sent[:, 1] = not_clicked + candidates - sent[:, 0]
    return _finish(prof, distance_km, pulses, seed, attack, model.eta, gain, sent, ev, tally)


def _detections(prof: Profile, model: ClickModel, q: float, pulses: int, states: np.ndarray,
                empty_cdf: np.ndarray) -> tuple[dict[str, np.ndarray], int, np.ndarray, np.ndarray]:
    """Every detection of the block in time order: event arrays (with room), their length, and
    the tally bins (``_channel_kernels._code``) of the candidate clicks and of the detections.

    Runs of candidate clicks are generated on a pool of ``numba.get_num_threads()`` threads, and
    each goes through the detector pass (which joins the runs and, where the detector has
    memory, applies dead time and afterpulses) as soon as it and the runs before it are done, so
    the sequential pass overlaps the generation. Without memory the pass only joins the runs.
    """
    n_runs = states.shape[0] - 2
    run_pulses = np.full(n_runs, RUN_PULSES, dtype=np.int64)
    run_pulses[-1] = pulses - RUN_PULSES * (n_runs - 1)
    first_slot = np.concatenate(([0], np.cumsum(run_pulses)[:-1])).astype(np.int64)
    capacity = np.ceil(run_pulses * q + 12.0 * np.sqrt(run_pulses * q) + 64).astype(np.int64)
    # Room in front for afterpulse events: the detector pass writes the joined result from
    # index 0 and stays behind the unread runs while the afterpulses fit in this room.
    det = prof.detector
    p_ap = det.afterpulse_probability
    expected = pulses * q * p_ap / (1.0 - p_ap)
    ap_room = int(expected + 12.0 * math.sqrt(expected) + 64) if p_ap > 0 else 0
    start = ap_room + np.concatenate(([0], np.cumsum(capacity)[:-1])).astype(np.int64)
    ev = _event_arrays(int(capacity.sum()) + ap_room)
    probs = np.asarray(prof.intensity_probabilities)
    run_codes = np.zeros((n_runs, 8 * len(probs)), np.int64)
    if q > 0:
        threshold, alias = alias_table(model.event_weights(probs))
    else:
        threshold, alias = np.ones(1), np.zeros(1, np.int64)
    # Row j of `outcome` decodes alias outcome j into (intensity, photon number, path).
    outcome = np.indices((len(probs), model.click.shape[0], 2)).reshape(3, -1).T.copy()
    inv_log1m_q = 1.0 / math.log1p(-q) if q > 0 else 0.0
    run_states = kernels._seeded_states(states[:n_runs])
    p_key = prof.source.basis_probability_key
    model_args = (inv_log1m_q, threshold, alias, outcome, model.kind, model.forwarded,
                  model.photon_click_share, model.arrivals_cdf, model.dark_probability, p_key,
                  prof.misalignment_error)

    def generate(r: int) -> int:
        # Each run has its own generator, so the result does not depend on the thread count.
        return kernels._subblock(run_states[r], run_pulses[r], first_slot[r], start[r], capacity[r],
                                 *model_args, *ev.values(), run_codes[r])

    codes = np.zeros(8 * len(probs), np.int64)  # the pass's corrections to the candidates' bins
    dead_slots = math.ceil(det.dead_time_s * prof.source.repetition_rate_hz - 1e-9)
    detector_pass = detector.DetectorPass(kernels._seeded(int(states[n_runs])), dead_slots, p_ap, empty_cdf,
                                          p_key, pulses, list(ev.values()), codes,
                                          inherit_intensity=det.afterpulse_model == "lim-2014")
    overflow = False
    for r, written in enumerate(_pool(numba.get_num_threads()).map(generate, range(n_runs))):
        overflow = overflow or written < 0
        if not overflow:
            detector_pass.add_run(start[r], written)
    if overflow:
        raise RuntimeError("event buffer overflow: a run drew >12 sigma more detections than expected")
    end = detector_pass.finish()
    if end < 0:
        raise RuntimeError("event buffer overflow: far more afterpulses than expected")
    candidate_codes = run_codes.sum(axis=0)
    return ev, end, candidate_codes, candidate_codes + codes


def _pool(workers: int) -> ThreadPoolExecutor:
    """A lasting pool of ``workers`` generator threads for this process (starting threads for
    every block cost several milliseconds of a ~100 ms block on a busy machine; a forked child
    gets its own pool, as it inherits none of the parent's threads)."""
    key = (os.getpid(), workers)
    with _POOLS_LOCK:
        if key not in _POOLS:
            _POOLS[key] = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="qkd-channel")
        return _POOLS[key]


def _event_arrays(total: int) -> dict[str, np.ndarray]:
    """Empty event arrays of ``total`` entries, carved from one allocation (widest dtypes first,
    so every view is aligned). numpy asks for transparent huge pages only for allocations of
    4 MiB or more, which separate 1-byte arrays of a 10^9-pulse block are not: measured 5,700
    page faults and 10–30 ms of system time per block here, a tenth of the simulation."""
    order = sorted(EVENT_ARRAYS, key=lambda name: -np.dtype(EVENT_ARRAYS[name]).itemsize)
    raw = np.empty(total * sum(np.dtype(t).itemsize for t in EVENT_ARRAYS.values()), np.uint8)
    arrays, offset = {}, 0
    for name in order:
        size = total * np.dtype(EVENT_ARRAYS[name]).itemsize
        arrays[name] = raw[offset : offset + size].view(EVENT_ARRAYS[name])
        offset += size
    return {name: arrays[name] for name in EVENT_ARRAYS}  # kernel argument order


def _finish(prof: Profile, distance_km: float, pulses: int, seed: int, attack: Attack | None,
            eta: float, gain: np.ndarray, sent: np.ndarray, ev: dict[str, np.ndarray],
            tally: tuple[np.ndarray, ...]) -> ChannelBlock:
    detections, _, detected, errors = tally
    alarm = prof.blinding_monitor and isinstance(attack, DetectorBlinding) and attack.fraction > 0
    return ChannelBlock(
        profile_name=prof.name, distance_km=float(distance_km), pulses_sent=pulses, seed=seed,
        attack=repr(attack) if attack is not None else "none", transmittance=eta, expected_gain=gain,
        sent=sent, detected=detected, errors=errors,
        detections=detections, slot=ev["slot"],
        intensity=ev["intensity"], alice_basis=ev["alice_basis"], alice_bits=ev["alice_bits"],
        bob_basis=ev["bob_basis"], bob_bits=ev["bob_bits"], photon_number=ev["photon_number"],
        eve_bits=ev["eve_bits"], blinding_alarm=bool(alarm),
    )
