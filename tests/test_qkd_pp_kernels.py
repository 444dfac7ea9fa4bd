"""The small numba kernels behind Cascade against plain-Python references on fixed seeds."""

from __future__ import annotations

import heapq

import numpy as np

from harness.qkd._bitops import _low_mask, _parity, _popcount, _select
from harness.qkd._shuffle import _halving, _shuffle, _splitmix64, seed_state
from harness.qkd.cascade import _heap_pop, _heap_push
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
