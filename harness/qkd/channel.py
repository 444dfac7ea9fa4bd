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

import dataclasses
import math
import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numba
import numpy as np

from harness.qkd import _channel_kernels as kernels
from harness.qkd import _detector_kernels as detector
from harness.qkd.alias import alias_table
from harness.qkd.photon_model import Attack, DetectorBlinding, click_model
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


@dataclass(frozen=True)
class ChannelCounts:
    """A block's public tallies and model figures: what a streamed block yields once read."""

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


@dataclass(frozen=True, eq=False, kw_only=True)
class ChannelBlock(ChannelCounts):
    """One simulated block: its tallies and every event. Bit arrays are key material: they are
    left out of repr()."""

    slot: np.ndarray = field(repr=False)
    intensity: np.ndarray = field(repr=False)
    alice_basis: np.ndarray = field(repr=False)
    alice_bits: np.ndarray = field(repr=False)
    bob_basis: np.ndarray = field(repr=False)
    bob_bits: np.ndarray = field(repr=False)
    photon_number: np.ndarray = field(repr=False)
    eve_bits: np.ndarray = field(repr=False)


def simulate_block(profile: Profile | str, distance_km: float, pulses: int, seed: int,
                   attack: Attack | None = None, background: str | None = None) -> ChannelBlock:
    """Simulate ``pulses`` pulses over ``distance_km`` with a fixed ``seed`` (same seed, same block)."""
    stream = BlockStream(profile, distance_km, pulses, seed, attack, background, runs_per_chunk=None)
    (events,) = list(stream)  # one chunk holding every run: its arrays are the block's own
    counts = stream.counts()
    return ChannelBlock(**{f.name: getattr(counts, f.name) for f in dataclasses.fields(counts)},
                        **{name: arr for name, arr in events.items() if name != "clicks"})


class BlockStream:
    """The block of :func:`simulate_block`, delivered in chunks of consecutive detections.

    Iterating yields, in time order, dicts of per-event arrays (``EVENT_ARRAYS``) that together
    are exactly ``simulate_block``'s events, bit for bit: the runs are generated from the same
    seeds and go through the same detector pass in the same order; only where its output is
    written changes. A chunk holds ``runs_per_chunk`` runs (default: one per generator thread,
    so they are still generated in parallel) and its arrays are views of one buffer that the
    next chunk overwrites: use or copy them before asking for the next. Memory is then that of
    one chunk (about 17 bytes per detection of ``runs_per_chunk`` runs), whatever the block's
    size. ``runs_per_chunk=None`` makes one chunk of the whole block. :meth:`counts` gives the
    tallies once every chunk has been read.
    """

    def __init__(self, profile: Profile | str, distance_km: float, pulses: int, seed: int,
                 attack: Attack | None = None, background: str | None = None,
                 runs_per_chunk: int | None = 0) -> None:
        prof = profile if isinstance(profile, Profile) else load_profile(profile)
        if not (isinstance(pulses, int | np.integer) and 0 < pulses <= MAX_PULSES):
            raise ValueError(f"pulses must be an integer in 1..{MAX_PULSES}, got {pulses!r}")
        if not (isinstance(seed, int | np.integer) and seed >= 0):
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        if background not in (None, "day", "night"):
            raise ValueError(f"background must be 'day', 'night' or None, got {background!r}")
        self.profile, self.distance_km, self.attack = prof, float(distance_km), attack
        self.pulses, self.seed = int(pulses), int(seed)
        self.model = click_model(prof, distance_km, attack, background)
        self.probs = np.asarray(prof.intensity_probabilities)
        self.gain = self.model.gain()
        self.q = float(self.probs @ self.gain)
        if self.q >= 1.0:
            raise ValueError(f"per-pulse click probability {self.q} is 1: the model is degenerate")
        self.n_runs = -(-self.pulses // RUN_PULSES)
        if runs_per_chunk is None:
            runs_per_chunk = self.n_runs
        self.runs_per_chunk = max(1, runs_per_chunk or numba.get_num_threads())
        self.states = np.random.SeedSequence(self.seed).generate_state(self.n_runs + 2, dtype=np.uint32)
        empty_cdf = np.cumsum(self.probs * (1.0 - self.gain)) / (1.0 - self.q)
        empty_cdf[-1] = 1.0
        self.empty_cdf = empty_cdf
        self._codes: tuple[np.ndarray, np.ndarray] | None = None
        self._started = False

    @property
    def expected_detections(self) -> float:
        """Mean number of candidate clicks of the block (before the detector's memory)."""
        return self.pulses * self.q

    def __iter__(self) -> Iterator[dict[str, np.ndarray]]:
        if self._started:
            raise RuntimeError("a BlockStream is read once")
        self._started = True
        return self._chunks()

    def _chunks(self) -> Iterator[dict[str, np.ndarray]]:
        """Runs of candidate clicks are generated on a pool of ``numba.get_num_threads()``
        threads, and each goes through the detector pass (which joins the runs and, where the
        detector has memory, applies dead time and afterpulses) as soon as it and the runs
        before it are done, so the sequential pass overlaps the generation. The pass writes
        each chunk's result from index 0 of the chunk's buffer, behind the unread runs."""
        prof, model, q, n_runs = self.profile, self.model, self.q, self.n_runs
        run_pulses = np.full(n_runs, RUN_PULSES, dtype=np.int64)
        run_pulses[-1] = self.pulses - RUN_PULSES * (n_runs - 1)
        first_slot = np.concatenate(([0], np.cumsum(run_pulses)[:-1])).astype(np.int64)
        capacity = np.ceil(run_pulses * q + 12.0 * np.sqrt(run_pulses * q) + 64).astype(np.int64)
        det = prof.detector
        p_ap = det.afterpulse_probability
        per = self.runs_per_chunk
        chunks = [range(lo, min(lo + per, n_runs)) for lo in range(0, n_runs, per)]

        def room(runs: range) -> int:
            # Room in front for afterpulse events (and the two a chunk may inherit pending):
            # the pass stays behind the unread runs while the afterpulses fit in it.
            expected = float(run_pulses[runs.start : runs.stop].sum()) * q * p_ap / (1.0 - p_ap)
            return int(expected + 12.0 * math.sqrt(expected) + 66) if p_ap > 0 else 0

        ev = _event_arrays(max(room(r) + int(capacity[r.start : r.stop].sum()) for r in chunks))
        run_codes = np.zeros((n_runs, 8 * len(self.probs)), np.int64)
        if q > 0:
            threshold, alias = alias_table(model.event_weights(self.probs))
        else:
            threshold, alias = np.ones(1), np.zeros(1, np.int64)
        # Row j of `outcome` decodes alias outcome j into (intensity, photon number, path).
        outcome = np.indices((len(self.probs), model.click.shape[0], 2)).reshape(3, -1).T.copy()
        inv_log1m_q = 1.0 / math.log1p(-q) if q > 0 else 0.0
        run_states = kernels._seeded_states(self.states[:n_runs])
        p_key = prof.source.basis_probability_key
        model_args = (inv_log1m_q, threshold, alias, outcome, model.kind, model.forwarded,
                      model.photon_click_share, model.arrivals_cdf, model.dark_probability, p_key,
                      prof.misalignment_error)
        start = np.zeros(n_runs, np.int64)

        def generate(r: int) -> int:
            # Each run has its own generator, so the result does not depend on the thread count.
            return kernels._subblock(run_states[r], run_pulses[r], first_slot[r], start[r], capacity[r],
                                     *model_args, *ev.values(), run_codes[r])

        codes = np.zeros(8 * len(self.probs), np.int64)  # the pass's corrections to the candidates' bins
        dead_slots = math.ceil(det.dead_time_s * prof.source.repetition_rate_hz - 1e-9)
        detector_pass = detector.DetectorPass(kernels._seeded(int(self.states[n_runs])), dead_slots, p_ap,
                                              self.empty_cdf, p_key, self.pulses, list(ev.values()), codes,
                                              inherit_intensity=det.afterpulse_model == "lim-2014")
        pool = _pool(numba.get_num_threads())
        for c, runs in enumerate(chunks):
            start[runs.start : runs.stop] = room(runs) + np.concatenate(
                ([0], np.cumsum(capacity[runs.start : runs.stop])[:-1]))
            detector_pass.new_chunk()
            overflow = False
            for r, written in zip(runs, pool.map(generate, runs), strict=True):
                overflow = overflow or written < 0
                if not overflow:
                    detector_pass.add_run(start[r], written)
            if overflow:
                raise RuntimeError("event buffer overflow: a run drew >12 sigma more detections than "
                                   "expected")
            end = detector_pass.finish() if c == len(chunks) - 1 else detector_pass.written()
            if end < 0:
                raise RuntimeError("event buffer overflow: far more afterpulses than expected")
            yield {name: arr[:end] for name, arr in ev.items()}
        candidate_codes = run_codes.sum(axis=0)
        self._codes = candidate_codes, candidate_codes + codes

    def counts(self) -> ChannelCounts:
        """The block's tallies; only after every chunk has been read."""
        if self._codes is None:
            raise RuntimeError("the block's counts are known only after its last chunk")
        candidate_codes, codes = self._codes
        k = len(self.probs)
        candidates, key_candidates, _, _ = detector.tally_from_codes(candidate_codes, k)
        detections, _, detected, errors = detector.tally_from_codes(codes, k)
        # Pulses without a candidate click: their intensities and Alice's bases, drawn in bulk.
        rng = np.random.default_rng(int(self.states[self.n_runs + 1]))
        not_clicked = rng.multinomial(self.pulses - int(candidates.sum()),
                                      np.diff(np.concatenate(([0.0], self.empty_cdf))))
        sent = np.empty((k, 2), np.int64)
        sent[:, 0] = rng.binomial(not_clicked, self.profile.source.basis_probability_key) + key_candidates
        sent[:, 1] = not_clicked + candidates - sent[:, 0]
        attack = self.attack
        alarm = self.profile.blinding_monitor and isinstance(attack, DetectorBlinding) and attack.fraction > 0
        return ChannelCounts(
            profile_name=self.profile.name, distance_km=self.distance_km, pulses_sent=self.pulses,
            seed=self.seed, attack=repr(attack) if attack is not None else "none",
            transmittance=self.model.eta, expected_gain=self.gain, sent=sent, detected=detected,
            errors=errors, detections=detections, blinding_alarm=bool(alarm))


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
