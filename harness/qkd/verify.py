"""Error verification after reconciliation: a Toeplitz hash tag with a stated ε_cor.

Alice draws a fresh public Toeplitz seed, sends the t-bit tag of her key and the seed; Bob
hashes his corrected key with the same seed and compares. The Toeplitz family is universal, so
two different keys give the same tag with probability exactly 2^−t: choosing
t = ⌈log2(1/ε_cor)⌉ makes the chance that a block with residual errors passes at most ε_cor.
A block that fails is discarded, never passed on. The t tag bits are public and count as
leaked information (Lim et al. 2014 charge them as log2(2/ε_cor) in the key length).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from harness.qkd.bits import check_bits, random_bits
from harness.qkd.privacy import toeplitz_hash

MAX_TAG_BITS = 64


@dataclass(frozen=True)
class Verification:
    """Outcome of one verification: whether the tags matched and how many tag bits were public."""

    passed: bool
    tag_bits: int
    eps_cor: float


def tag_length(eps_cor: float) -> int:
    """Tag bits t = ⌈log2(1/ε_cor)⌉ for a Toeplitz tag (1e−15 → 50); 2^−64 ≤ ε_cor < 1."""
    if not 2.0**-MAX_TAG_BITS <= eps_cor < 1.0:
        raise ValueError(f"eps_cor must be in [2^-{MAX_TAG_BITS}, 1), got {eps_cor}")
    return max(1, math.ceil(-math.log2(eps_cor)))


def verify(alice_bits: np.ndarray, bob_bits: np.ndarray, eps_cor: float, seed: int) -> Verification:
    """Compare the Toeplitz tags of Alice's and Bob's keys under a seed drawn from ``seed``."""
    check_bits(alice_bits, "alice_bits")
    check_bits(bob_bits, "bob_bits")
    if alice_bits.size != bob_bits.size or alice_bits.size == 0:
        raise ValueError(
            f"keys must be non-empty and of equal length, got {alice_bits.size} and {bob_bits.size}"
        )
    t = tag_length(eps_cor)
    seed_bits = random_bits(alice_bits.size + t - 1, np.random.default_rng(seed))
    alice_tag = toeplitz_hash(alice_bits, t, seed_bits)
    bob_tag = toeplitz_hash(bob_bits, t, seed_bits)
    return Verification(passed=bool(np.array_equal(alice_tag, bob_tag)), tag_bits=t, eps_cor=eps_cor)
