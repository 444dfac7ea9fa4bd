"""The small numba kernels behind Cascade against plain-Python references on fixed seeds."""

from __future__ import annotations

import heapq

import numpy as np
import pytest

from harness.qkd._bitops import _low_mask, _parity, _popcount, _select
from harness.qkd._shuffle import _halving, _shuffle, _splitmix64, seed_state
from harness.qkd.cascade import (
    _bisect_bytes,
    _bisect_half,
    _heap_pop,
    _heap_push,
    _range_parity,
    _rank_index,
    _words_parity,
)
from harness.qkd.privacy import _round_to_bits
from tests import naive_postprocessing as naive


def _u64(state: int) -> np.uint64:
    # numba boxes a uint64 inside a returned tuple as a signed int; re-wrap it for the next call
    return np.uint64(int(state) & naive.M64)


def _words(count: int, seed: int) -> list[int]:
    rng = np.random.default_rng(seed)
    edge = [0, 1, 2**63, 2**64 - 1, 0x5555555555555555]
    return edge + [int(w) for w in rng.integers(0, 2**64, count, dtype=np.uint64)]


def test_popcount_parity_select_and_masks_match_python_integers() -> None:
    for w in _words(500, 1):
        assert _popcount(np.uint64(w)) == w.bit_count()
        assert _parity(np.uint64(w)) == w.bit_count() % 2
        set_bits = [b for b in range(64) if (w >> b) & 1]
        for k in range(0, len(set_bits), 7):
            assert _select(np.uint64(w), k) == set_bits[k]
    for bits in range(65):
        assert int(_low_mask(bits)) == (1 << bits) - 1


def test_splitmix64_stream_matches_reference() -> None:
    state = seed_state(42)
    ref = naive.SplitMix64(int(state))
    for _ in range(1000):
        state, out = _splitmix64(state)
        state = _u64(state)
        assert int(out) & naive.M64 == ref.next()


def test_shuffle_and_halving_match_reference_and_advance_the_same_stream() -> None:
    for n in (1, 2, 63, 64, 65, 1000):
        state = seed_state(n)
        ref = naive.SplitMix64(int(state))
        order, state = _shuffle(n, state)
        state = _u64(state)
        assert order.tolist() == naive.shuffle(n, ref)
        assert sorted(order.tolist()) == list(range(n))
        for _ in range(3):
            words = np.zeros((n + 63) // 64, dtype=np.uint64)
            state = _u64(_halving(n, state, words))
            sides = [(int(words[j // 64]) >> (j % 64)) & 1 for j in range(n)]
            assert sides == naive.halving(n, ref)
            assert int(words[-1]) >> (n % 64 or 64) == 0  # no bits past the key


def test_heap_pops_in_heapq_order_and_grows() -> None:
    rng = np.random.default_rng(3)
    heap = np.empty(1, dtype=np.int64)
    size = 0
    ref: list[int] = []
    for key in rng.integers(0, 50, 300):
        heap, size = _heap_push(heap, size, np.int64(key))
        heapq.heappush(ref, int(key))
        if key % 3 == 0:
            top, size = _heap_pop(heap, size)
            assert top == heapq.heappop(ref)
    while size:
        top, size = _heap_pop(heap, size)
        assert top == heapq.heappop(ref)
    assert not ref


def _packed(bits: np.ndarray) -> np.ndarray:
    words = np.zeros((bits.size + 63) // 64, dtype=np.uint64)
    for j in np.flatnonzero(bits):
        words[j // 64] |= np.uint64(1) << np.uint64(j % 64)
    return words


def test_byte_row_parity_and_bisection_match_numpy() -> None:
    rng = np.random.default_rng(8)
    row = rng.integers(0, 2, 300, dtype=np.uint8)
    for lo, hi in [(0, 300), (5, 6), (17, 222), (299, 300), (40, 40)]:
        assert _range_parity(row, lo, hi) == row[lo:hi].sum() % 2
    for _ in range(50):
        lo, hi = sorted(rng.choice(301, 2, replace=False).tolist())
        if row[lo:hi].sum() % 2 == 0:
            continue
        position, disclosed = _bisect_bytes(row, lo, hi)
        # the same halving rule by hand: left part ceil(len/2), keep the odd side
        a, b, steps = lo, hi, 0
        while b - a > 1:
            mid = a + (b - a + 1) // 2
            steps += 1
            a, b = (a, mid) if row[a:mid].sum() % 2 else (mid, b)
        assert (position, disclosed) == (a, steps) and row[position] == 1


def test_word_parity_rank_and_half_bisection_match_numpy() -> None:
    rng = np.random.default_rng(9)
    for n in (1, 63, 64, 65, 200, 1000):
        diff = rng.integers(0, 2, n, dtype=np.uint8)
        side = rng.integers(0, 2, n, dtype=np.uint8)
        diff_words, side_words = _packed(diff), _packed(side)
        for which in (0, 1):
            member = side == which
            members = _packed(member.astype(np.uint8))
            before = np.concatenate(([0], np.cumsum([int(w).bit_count() for w in members])))
            indices = np.flatnonzero(member)
            for rank in range(0, indices.size, 7):
                assert _rank_index(members, before, rank) == indices[rank]
            for _ in range(20):
                start, stop = sorted(rng.integers(0, n + 1, 2).tolist())
                expected = diff[start:stop][member[start:stop]].sum() % 2
                assert _words_parity(diff_words, members, start, stop) == expected
            if diff[indices].sum() % 2:
                index, disclosed = _bisect_half(diff_words, side_words, which, n)
                ordered = diff[indices]
                a, b, steps = 0, indices.size, 0
                while b - a > 1:
                    mid = a + (b - a + 1) // 2
                    steps += 1
                    a, b = (a, mid) if ordered[a:mid].sum() % 2 else (mid, b)
                assert (index, disclosed) == (indices[a], steps)


def test_fft_rounding_kernel_matches_numpy() -> None:
    y = np.array([0.0, 1.0000000001, 2.4, -0.2, 7.6, 1e6 + 1 - 1e-9])
    bits, worst = _round_to_bits(y.reshape(1, -1), y.size)
    np.testing.assert_array_equal(bits, (np.rint(y).astype(np.int64) & 1).astype(np.uint8))
    assert worst == pytest.approx(np.max(np.abs(y - np.rint(y))))
    # Row by row from a 2-D window (as the blocked FFT leaves it), the first 5 of 6 entries.
    rows_bits, rows_worst = _round_to_bits(y.reshape(2, 3), 5)
    np.testing.assert_array_equal(rows_bits, bits[:5])
    assert rows_worst == pytest.approx(np.max(np.abs(y[:5] - np.rint(y[:5]))))
