"""One block of decoy-state BB84 from pulses to final key: channel → sifting → parameter
estimation → error correction → verification → privacy amplification.

* Channel: :class:`harness.qkd.channel.BlockStream`, the events of
  :func:`harness.qkd.channel.simulate_block` in time order, a chunk of one run per generator
  thread at a time.
* Sifting, chunk by chunk: keep the events where Alice's and Bob's bases agree. Basis 0 (Z)
  carries the key, basis 1 (X) is the test basis and is disclosed whole. Only the key bits of
  both ends outlive their chunk; estimation needs the block's public counts alone.
* Parameter estimation (Lim, Curty, Walenta, Xu, Zbinden, PRA 89, 022307 (2014)), from the
  observed counts per intensity only: key-basis detections n_Z,k, test-basis detections n_X,k and
  test-basis errors m_X,k give the bounds s_Z,0, s_Z,1 and the phase error φ_Z through
  :func:`harness.qkd.finite_key.observed_key_length`, called with zero error-correction cost to
  get the key budget before error correction, B = s_Z,0 + s_Z,1 (1 − h(φ_Z)) − 6 log2(21/ε_sec)
  − log2(2/ε_cor), ε_sec the profile's (fixed, or κ ℓ). The block aborts here if B ≤ 0, or if
  the blinding monitor raised an alarm.
  Cascade's QBER estimate is the test basis's (no key bits are spent on it), floored at
  ``QBER_FLOOR`` because Cascade needs a positive estimate.
* Error correction: Cascade (:func:`harness.qkd.cascade.reconcile`) over frames of at most
  ``FRAME_BITS`` key bits, correcting Bob's key in place; λ_EC is the sum of parity bits disclosed.
* Verification: one Toeplitz tag over the whole corrected key (:mod:`harness.qkd.verify`),
  t = ⌈log2(1/ε_cor)⌉ bits, covered by the log2(2/ε_cor) term of B. A failed block is discarded.
* Privacy amplification: ℓ = ⌊B − λ_EC⌋ (Lim Eq. 1 with the measured λ_EC; where ε_sec = κ ℓ,
  B is taken at the ε_sec of the final ℓ, the fixed point); ℓ ≤ 0 aborts.
  Otherwise both keys go through one Toeplitz hash with a fresh public seed. Bob's key is hashed
  separately only when it differs from Alice's (possible after a tag collision, probability
  ≤ ε_cor); when the inputs are equal the hash of one is the hash of the other. A block too
  large for the blocked FFT's memory is hashed in bounded-memory tiles (``privacy._streamed``).

Memory is therefore the key bits the block must hold (a byte per key bit at each end, the privacy
amplification seed, the final keys) plus bounded working sets, never the per-event arrays of the
whole block (17 bytes a detection): measured with ``benchmarks/pipeline_memory.py``, a 7.8·10^7-bit
block of high-rate-2023 peaks at 0.84 GB (6.5 GB before streaming), and the same results come out
bit for bit.

:func:`run_block` returns the final keys of both ends and a :class:`BlockStats` that holds counts,
rates and timings only, never key bits.
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass, field

import numpy as np

from harness.qkd.bits import random_bits
from harness.qkd.cascade import reconcile
from harness.qkd.channel import BlockStream, ChannelCounts
from harness.qkd.finite_key import no_decoy_key_length, observed_key_length
from harness.qkd.keyrate import binary_entropy
from harness.qkd.photon_model import Attack
from harness.qkd.privacy import toeplitz_hash
from harness.qkd.profiles import Profile, load_profile
from harness.qkd.verify import verify

FRAME_BITS = 1 << 20
QBER_FLOOR = 1e-3
_KEY_BASIS, _TEST_BASIS = 0, 1


@dataclass(frozen=True)
class StageStats:
    """What one stage did. ``leaked_bits`` counts information made public about the key."""

    stage: str
    bits_in: int
    bits_out: int
    seconds: float
    qber: float | None = None
    leaked_bits: int = 0
    efficiency: float | None = None  # leaked / (n h(QBER)), reconciliation only


@dataclass(frozen=True)
class BlockStats:
    """Per-stage statistics and the finite-key quantities of one block; never any key bits."""

    profile: str
    distance_km: float
    pulses: int
    device_seconds: float  # pulses / repetition rate
    attack: str
    eps_sec: float  # secrecy parameter of the key length (Lim et al.)
    eps_cor: float  # correctness: chance that differing keys pass verification, at most
    stages: tuple[StageStats, ...]
    aborted: bool
    abort_reason: str | None
    final_key_bits: int
    qber_estimate: float | None  # test basis, from the disclosed bits
    qber_key: float | None  # key basis, measured by Cascade's corrections
    phase_error_bound: float | None
    s0_lower: float | None
    s1_lower: float | None
    key_budget_bits: float | None  # B: the key length before λ_EC
    keys_identical: bool
    wall_seconds: float

    @property
    def secret_key_rate_bps(self) -> float:
        return self.final_key_bits / self.device_seconds

    @property
    def real_time_factor(self) -> float:
        """Device seconds processed per wall-clock second (≥ 1: keeps up with the device)."""
        return self.device_seconds / self.wall_seconds

    def stage(self, name: str) -> StageStats:
        return next(s for s in self.stages if s.stage == name)


@dataclass(frozen=True, eq=False)
class BlockResult:
    """Final keys (uint8 0/1; empty when aborted) and statistics. Keys stay out of repr()."""

    alice_key: np.ndarray = field(repr=False)
    bob_key: np.ndarray = field(repr=False)
    stats: BlockStats


class _Clock:
    def __init__(self) -> None:
        self.last = time.perf_counter()

    def lap(self) -> float:
        now = time.perf_counter()
        elapsed, self.last = now - self.last, now
        return elapsed


def run_block(profile: Profile | str, distance_km: float, pulses: int, seed: int,
              attack: Attack | None = None, decoy_analysis: bool = True) -> BlockResult:
    """Simulate ``pulses`` pulses over ``distance_km`` and post-process them into a final key.

    ``decoy_analysis=False`` is a device that still sends decoys but ignores them in estimation:
    it takes every detection for a single photon (:func:`harness.qkd.finite_key.no_decoy_key_length`),
    so a photon-number-splitting attack passes unseen.

    Same arguments, same result. Aborted blocks return empty keys, ``stats.aborted`` set and
    ``stats.abort_reason`` saying why.
    """
    prof = profile if isinstance(profile, Profile) else load_profile(profile)
    if len(prof.intensities) != 3:
        raise ValueError(f"profile {prof.name!r} has {len(prof.intensities)} intensities; "
                         "the Lim et al. estimation needs three (signal, decoy, weak decoy)")
    start = time.perf_counter()
    clock = _Clock()
    stream = BlockStream(prof, distance_km, pulses, seed, attack=attack)
    alice_key, bob_key, sifted_count, sift_seconds = _sift(stream)
    block = stream.counts()
    detections = int(block.detections.sum())
    stages = [StageStats("channel", int(block.pulses_sent), detections, clock.lap() - sift_seconds)]
    head = {"profile": prof.name, "distance_km": float(distance_km), "pulses": int(block.pulses_sent),
            "device_seconds": block.pulses_sent / prof.source.repetition_rate_hz, "attack": block.attack,
            "eps_cor": prof.security.eps_cor}
    cascade_seed, verify_seed, pa_seed = (int(s) for s in np.random.SeedSequence([seed, 1]).generate_state(3))
    stages.append(StageStats("sifting", detections, sifted_count, sift_seconds))

    n = int(alice_key.size)
    estimates = _estimate(block, prof, decoy_analysis)
    head["eps_sec"] = estimates.pop("eps_sec") or prof.security.secrecy_for(n)
    budget, phi = estimates["key_budget_bits"], estimates["phase_error_bound"]
    qber_estimate, s0, s1 = estimates["qber_estimate"], estimates["s0_lower"], estimates["s1_lower"]
    stages.append(StageStats("estimation", sifted_count, n, clock.lap(), qber=qber_estimate))

    def abort(reason: str, qber_key: float | None = None) -> BlockResult:
        stats = BlockStats(**head, stages=tuple(stages), aborted=True, abort_reason=reason, final_key_bits=0,
                           qber_key=qber_key, **estimates, keys_identical=True,
                           wall_seconds=time.perf_counter() - start)
        empty = np.zeros(0, np.uint8)
        return BlockResult(empty, empty.copy(), stats)

    if block.blinding_alarm:
        return abort("the detector blinding monitor raised an alarm")
    if budget is None:
        tested = int(block.detected[:, _TEST_BASIS].sum())
        return abort(f"nothing to estimate from: {n} key-basis and {tested} test-basis detections")
    if not qber_estimate < 0.5:
        return abort(f"test-basis QBER {qber_estimate:.3f} leaves no usable correlation")
    if budget <= 0:
        return abort(f"no key before error correction: phase error bound {phi:.4f} with s0 >= {s0:.0f}, "
                     f"s1 >= {s1:.0f} gives a key budget of {budget:.0f} bits")

    corrected = bob_key  # Cascade corrects Bob's key in place, frame by frame
    leaked, corrections = _reconcile_frames(alice_key, corrected, max(qber_estimate, QBER_FLOOR),
                                            cascade_seed)
    qber_key = corrections / n
    h = binary_entropy(qber_key)
    stages.append(StageStats("reconciliation", n, n, clock.lap(), qber=qber_key, leaked_bits=leaked,
                             efficiency=leaked / (n * h) if h > 0 else None))

    check = verify(alice_key, corrected, prof.security.eps_cor, verify_seed)
    stages.append(StageStats("verification", n, n if check.passed else 0, clock.lap(),
                             leaked_bits=check.tag_bits))
    if not check.passed:
        return abort("verification failed: Cascade left residual errors; block discarded", qber_key)

    after_ec, _, _, _, eps_sec = _key_length(block, prof, decoy_analysis, leaked)
    head["eps_sec"] = eps_sec
    length = math.floor(after_ec)
    if length <= 0:
        return abort(f"no key after error correction: key budget {budget:.0f} bits minus {leaked} leaked "
                     f"bits (phase error bound {phi:.4f}, key QBER {qber_key:.4f})", qber_key)
    seed_bits = random_bits(n + length - 1, np.random.default_rng(pa_seed))
    alice_final = toeplitz_hash(alice_key, length, seed_bits)
    identical = bool(np.array_equal(alice_key, corrected))
    bob_final = alice_final.copy() if identical else toeplitz_hash(corrected, length, seed_bits)
    stages.append(StageStats("privacy_amplification", n, length, clock.lap()))
    stats = BlockStats(**head, stages=tuple(stages), aborted=False, abort_reason=None, final_key_bits=length,
                       qber_key=qber_key, **estimates, keys_identical=identical,
                       wall_seconds=time.perf_counter() - start)
    return BlockResult(alice_final, bob_final, stats)


def _key_length(block: ChannelCounts, prof: Profile, decoy_analysis: bool,
                leaked: float) -> tuple[float, float, float, float, float]:
    """(l, s0, s1, phi, eps_sec) from the block's public counts, ``leaked`` bits disclosed."""
    key, test = block.detected[:, _KEY_BASIS], block.detected[:, _TEST_BASIS]
    errors = block.errors[:, _TEST_BASIS]
    if decoy_analysis:
        return observed_key_length(key, test, errors, prof.intensities, prof.intensity_probabilities,
                                   prof.security, leaked)
    return no_decoy_key_length(key.sum(), test.sum(), errors.sum(), prof.security, leaked)


def _estimate(block: ChannelCounts, prof: Profile, decoy_analysis: bool) -> dict[str, float | None]:
    """Test-basis QBER and Lim et al.'s bounds from the public per-intensity counts (None if empty)."""
    test_counts, test_errors = block.detected[:, _TEST_BASIS], block.errors[:, _TEST_BASIS]
    tested = int(test_counts.sum())
    out: dict[str, float | None] = {"qber_estimate": float(test_errors.sum()) / tested if tested else None,
                                    "phase_error_bound": None, "s0_lower": None, "s1_lower": None,
                                    "key_budget_bits": None, "eps_sec": None}
    if tested and block.detected[:, _KEY_BASIS].sum():
        budget, s0, s1, phi, eps = _key_length(block, prof, decoy_analysis, 0.0)
        out.update(phase_error_bound=phi, s0_lower=s0, s1_lower=s1, key_budget_bits=budget, eps_sec=eps)
    return out


def _reconcile_frames(alice: np.ndarray, bob: np.ndarray, qber: float, seed: int) -> tuple[int, int]:
    """Cascade frame by frame (equal frames of at most FRAME_BITS), correcting ``bob`` in place so
    that the block's key is held once; returns (leaked bits, bits corrected)."""
    frames = max(1, -(-alice.size // FRAME_BITS))
    edges = np.linspace(0, alice.size, frames + 1).astype(np.int64)
    leaked = corrections = 0
    for i, (lo, hi) in enumerate(itertools.pairwise(edges)):
        corrected, frame_leak = reconcile(alice[lo:hi], bob[lo:hi], qber, seed + i)
        corrections += int(np.count_nonzero(corrected != bob[lo:hi]))
        bob[lo:hi] = corrected
        leaked += frame_leak
    return leaked, corrections


def _sift(stream: BlockStream) -> tuple[np.ndarray, np.ndarray, int, float]:
    """Both ends' key-basis bits of a streamed block, chunk by chunk: (Alice's, Bob's, sifted
    events, seconds spent sifting). Only the key bits outlive their chunk."""
    p_key = stream.profile.source.basis_probability_key
    expected = stream.expected_detections * p_key * p_key
    keys = np.empty((2, int(1.05 * expected + 12.0 * math.sqrt(expected) + 1024)), np.uint8)
    n = sifted = 0
    seconds = 0.0
    for events in stream:
        t0 = time.perf_counter()
        same = events["alice_basis"] == events["bob_basis"]
        sifted += int(np.count_nonzero(same))
        key = np.flatnonzero(same & (events["alice_basis"] == _KEY_BASIS))
        if n + key.size > keys.shape[1]:  # afterpulses beyond the expectation: grow by a quarter
            keys = np.concatenate((keys, np.empty((2, max(key.size, keys.shape[1] // 4)), np.uint8)), axis=1)
        keys[0, n : n + key.size] = events["alice_bits"][key]
        keys[1, n : n + key.size] = events["bob_bits"][key]
        n += key.size
        seconds += time.perf_counter() - t0
    return keys[0, :n], keys[1, :n], sifted, seconds
