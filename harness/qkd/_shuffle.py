"""Seeded pass orders for Cascade: SplitMix64 driving a Fisher–Yates shuffle and random halvings.

numpy's `Generator.permutation` costs about 1 ms per 10^5 elements, a tenth of Cascade's whole
budget; these kernels are several times faster and, being fixed published constructions, are
re-implemented bit for bit by the slow reference in tests/. The orders are public (both ends
derive them from the same public seed): they must be well mixed, not secret.

One SplitMix64 stream (Steele, Lea, Flood, OOPSLA 2014) is consumed in this order:

* the shuffle for Cascade's second pass: Fisher–Yates, i from n-1 down to 1, one draw r each,
  swapping i with j = ((r >> 32) · (i + 1)) >> 32 (multiply-shift: bias ≤ (i + 1) / 2^32 per
  draw, harmless for a public shuffle, and branch-free);
* then one halving per later pass: ⌈n/64⌉ draws whose bits, least significant first, put key
  bit j in the second half when set (bits past n cleared).
"""

from __future__ import annotations

import numpy as np
from numba import njit

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S27 = np.uint64(27)
_S30 = np.uint64(30)
_S31 = np.uint64(31)
_S32 = np.uint64(32)
_ALL = np.uint64(0xFFFFFFFFFFFFFFFF)


@njit(cache=True)
def _splitmix64(state: np.uint64) -> tuple[np.uint64, np.uint64]:
    state = state + _GOLDEN
    z = state
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    return state, z ^ (z >> _S31)


@njit(cache=True)
def _shuffle(n: int, state: np.uint64) -> tuple[np.ndarray, np.uint64]:
    order = np.arange(n).astype(np.int32)
    for i in range(n - 1, 0, -1):
        state, z = _splitmix64(state)
        j = np.int64(((z >> _S32) * np.uint64(i + 1)) >> _S32)
        tmp = order[i]
        order[i] = order[j]
        order[j] = tmp
    return order, state


@njit(cache=True)
def _halving(n: int, state: np.uint64, out: np.ndarray) -> np.uint64:
    words = (n + 63) // 64
    for w in range(words):
        state, out[w] = _splitmix64(state)
    if n % 64:
        out[words - 1] &= _ALL >> np.uint64(64 - n % 64)
    return state


def seed_state(seed: int) -> np.uint64:
    """The 64-bit SplitMix64 start state for an integer seed (via numpy's SeedSequence)."""
    return np.random.SeedSequence(seed).generate_state(1, dtype=np.uint64)[0]
