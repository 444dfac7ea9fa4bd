"""Word-level bit helpers for numba kernels (numba has no popcount intrinsic for Python code)."""

from __future__ import annotations

import numpy as np
from numba import njit

_M1 = np.uint64(0x5555555555555555)
_M2 = np.uint64(0x3333333333333333)
_M4 = np.uint64(0x0F0F0F0F0F0F0F0F)
_H01 = np.uint64(0x0101010101010101)
_ONE = np.uint64(1)


@njit(cache=True)
def _popcount(x: np.uint64) -> np.int64:
    x = x - ((x >> _ONE) & _M1)
    x = (x & _M2) + ((x >> np.uint64(2)) & _M2)
    x = (x + (x >> np.uint64(4))) & _M4
    return np.int64((x * _H01) >> np.uint64(56))


@njit(cache=True)
def _parity(x: np.uint64) -> np.uint8:
    x ^= x >> np.uint64(32)
    x ^= x >> np.uint64(16)
    x ^= x >> np.uint64(8)
    x ^= x >> np.uint64(4)
    x ^= x >> np.uint64(2)
    x ^= x >> _ONE
    return np.uint8(x & _ONE)


@njit(cache=True)
def _select(x: np.uint64, k: int) -> int:
    """Position of the k-th (0-based) set bit of x; x has more than k set bits."""
    for b in range(64):
        if (x >> np.uint64(b)) & _ONE:
            if k == 0:
                return b
            k -= 1
    return -1


@njit(cache=True)
def _low_mask(bits: int) -> np.uint64:
    """A word with its lowest `bits` bits set, 0 ≤ bits ≤ 64."""
    if bits >= 64:
        return np.uint64(0xFFFFFFFFFFFFFFFF)
    return (_ONE << np.uint64(bits)) - _ONE
