"""Cascade: agreement with the two-party reference, residual errors, leak accounting, input checks."""

from __future__ import annotations

import numpy as np
import pytest

from harness.qkd.cascade import first_block_sizes, reconcile
from harness.qkd.verify import verify
from tests import naive_postprocessing as naive


def _pair(n: int, qber: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    alice = rng.integers(0, 2, n, dtype=np.uint8)
    return alice, alice ^ (rng.random(n) < qber).astype(np.uint8)


def _h(p: float) -> float:
    return float(-p * np.log2(p) - (1 - p) * np.log2(1 - p))


@pytest.mark.parametrize(
    ("n", "qber", "estimate"),
    [
        (64, 0.10, 0.10),
        (1000, 0.03, 0.03),
        (2000, 0.01, 0.01),
        (3001, 0.05, 0.05),
        (3001, 0.05, 0.005),  # estimate far too low: big blocks hide errors, halvings must find them
        (777, 0.10, 0.01),
        (5000, 0.02, 0.30),  # estimate far too high: tiny blocks
    ],
)
@pytest.mark.parametrize("seed", [0, 1])
def test_matches_two_party_reference_bit_for_bit(n: int, qber: float, estimate: float, seed: int) -> None:
    alice, bob = _pair(n, qber, seed + 100)
    corrected, leaked = reconcile(alice, bob, estimate, seed)
    ref_bits, transcript = naive.cascade(alice, bob, estimate, seed)
    np.testing.assert_array_equal(corrected, ref_bits)
    assert leaked == len(transcript)  # every parity Alice disclosed, counted on her side


def test_error_free_key_costs_only_the_block_parities() -> None:
    alice, _ = _pair(10_000, 0.02, 3)
    corrected, leaked = reconcile(alice, alice.copy(), 0.02, 9)
    k1, k2 = first_block_sizes(0.02, 10_000)
    np.testing.assert_array_equal(corrected, alice)
    # pass 1: every block; pass 2: all but the inferred last; then 16 clean halvings, 1 bit each
    assert leaked == -(-10_000 // k1) + (-(-10_000 // k2) - 1) + 16


@pytest.mark.parametrize("qber", [0.01, 0.02, 0.04, 0.06, 0.08])
def test_no_residual_errors_after_verification_over_many_seeds(qber: float) -> None:
    n, seeds = 10_000, 40
    discarded = 0
    for seed in range(seeds):
        alice, bob = _pair(n, qber, 1000 + seed)
        corrected, _ = reconcile(alice, bob, qber, seed)
        if not verify(alice, corrected, 1e-15, seed).passed:
            discarded += 1
            continue
        assert np.array_equal(corrected, alice), f"seed {seed}: a verified block kept errors"
    assert discarded <= 1, f"{discarded} of {seeds} blocks failed verification"


@pytest.mark.parametrize("qber", [0.01, 0.02, 0.05])
def test_efficiency_in_published_range_at_ten_thousand_bits(qber: float) -> None:
    # Martinez-Mateo et al. 2015 report 1.08-1.11 for Yan et al.'s Cascade at n = 10^4; the
    # 16-halving streak adds about 16 / (n h(p)) on top.
    n = 10_000
    efficiencies = []
    for seed in range(20):
        alice, bob = _pair(n, qber, 2000 + seed)
        _, leaked = reconcile(alice, bob, qber, seed)
        efficiencies.append(leaked / (n * _h(float(np.mean(alice ^ bob)))))
    assert 1.0 < np.mean(efficiencies) < 1.15


def test_inputs_untouched_and_result_reproducible() -> None:
    alice, bob = _pair(5000, 0.04, 5)
    alice_copy, bob_copy = alice.copy(), bob.copy()
    first = reconcile(alice, bob, 0.04, 11)
    second = reconcile(alice, bob, 0.04, 11)
    np.testing.assert_array_equal(alice, alice_copy)
    np.testing.assert_array_equal(bob, bob_copy)
    np.testing.assert_array_equal(first.corrected_bits, second.corrected_bits)
    assert first.leaked_bits == second.leaked_bits
    assert first.corrected_bits.dtype == np.uint8
    assert repr(first) == f"Reconciliation(corrected_bits=<5000 bits>, leaked_bits={first.leaked_bits})"


@pytest.mark.parametrize(
    ("alice", "bob", "qber", "seed", "message"),
    [
        (np.zeros(10, np.uint8), np.zeros(9, np.uint8), 0.1, 0, "bob_bits has 9"),
        (np.zeros(10, np.int64), np.zeros(10, np.uint8), 0.1, 0, "dtype uint8"),
        (np.zeros(10, np.uint8), np.full(10, 2, np.uint8), 0.1, 0, r"bob_bits\[0\] = 2"),
        (np.zeros((2, 5), np.uint8), np.zeros((2, 5), np.uint8), 0.1, 0, "1-D"),
        ([0, 1], np.zeros(2, np.uint8), 0.1, 0, "numpy.ndarray"),
        (np.zeros(1, np.uint8), np.zeros(1, np.uint8), 0.1, 0, "at least|between 2"),
        (np.zeros(10, np.uint8), np.zeros(10, np.uint8), 0.0, 0, "qber_estimate"),
        (np.zeros(10, np.uint8), np.zeros(10, np.uint8), 0.5, 0, "qber_estimate"),
        (np.zeros(10, np.uint8), np.zeros(10, np.uint8), 0.1, -1, "seed"),
        (np.zeros(10, np.uint8), np.zeros(10, np.uint8), 0.1, 1.5, "seed"),
    ],
)
def test_bad_input_is_rejected_with_a_clear_message(alice, bob, qber, seed, message) -> None:
    with pytest.raises(ValueError, match=message):
        reconcile(alice, bob, qber, seed)
