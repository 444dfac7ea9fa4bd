"""Cascade information reconciliation after Yan et al., compiled with numba.

Protocol (both ends simulated in one process; every parity Alice discloses is counted):

* Pass 1 cuts the key, in its own order, into blocks of k1 = ceil(0.80 / QBER); pass 2 cuts a
  Fisher–Yates shuffle of it into blocks of k2 = 5·k1 (Yan et al., ICNC 2008; "Cascade opt. (2)"
  in Martinez-Mateo et al., QIC 15, 453 (2015)); sizes clipped to [1, n], the last block of a
  pass may be shorter.
* Every later pass is a halving: two blocks, the key bits whose public random side bit is 0 and
  those whose bit is 1, each in key order (Yan et al.'s n/2 blocks, drawn by coin flips).
  Halvings go on until ``STREAK`` consecutive ones find both halves even, at most
  ``MAX_HALVINGS``. Yan et al. stop after 8 halvings, which at n = 10^5 left about one block in
  150 with errors; a residue that escapes a halving does so with probability 1/2, so a streak
  of 16 leaves it with about 2^-16, for one disclosed bit per extra halving.
* All orders come from ``seed`` (:mod:`harness.qkd._shuffle`) and are public to both ends.
* At the start of each pass Alice discloses the parity of every block of that pass, one leaked
  bit each, except from the second pass on the last block's: Bob infers it from Alice's total
  parity, which the first pass disclosed.
* Bob then repeatedly takes the odd block (his parity differs from Alice's) with the lowest
  (pass, block index), i.e. the smallest block first, and bisects it: for the range [lo, hi)
  of its bits (in the pass's order) Alice discloses the parity of [lo, lo + ceil((hi - lo) / 2))
  (one leaked bit) and Bob infers the other part's. The single bit left is an error, which Bob
  flips. The flip toggles the parity of the block holding that bit in every pass run so far
  (the cascade); blocks that turn odd are queued. A pass ends when no block is odd.

Leaked bits = disclosed block parities + bisection parities, all Alice's. Bob's messages (which
block, which range) follow from public data and parity differences and are not counted, as in
Martinez-Mateo et al.

The kernel works on the difference a XOR b: comparing Alice's parity of a range with Bob's is
the parity of the difference over that range. The slow reference in tests/ runs the two parties
separately with a message transcript and must agree bit for bit.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from harness.qkd._bitops import _low_mask, _parity, _popcount, _select
from harness.qkd._shuffle import _halving, _shuffle, seed_state
from harness.qkd.bits import check_bits

STREAK = 16
MAX_HALVINGS = 64
_ONE = np.uint64(1)


class Reconciliation(NamedTuple):
    """What :func:`reconcile` returns: Bob's corrected bits and how many parity bits Alice disclosed."""

    corrected_bits: np.ndarray
    leaked_bits: int

    def __repr__(self) -> str:  # key material stays out of logs
        size = self.corrected_bits.size
        return f"Reconciliation(corrected_bits=<{size} bits>, leaked_bits={self.leaked_bits})"


def first_block_sizes(qber_estimate: float, n: int) -> tuple[int, int]:
    """Block sizes (k1, k2) of the first two passes for an n-bit key."""
    k1 = min(max(math.ceil(0.80 / qber_estimate), 1), n)
    return k1, min(5 * k1, n)


def reconcile(
    alice_bits: np.ndarray, bob_bits: np.ndarray, qber_estimate: float, seed: int
) -> Reconciliation:
    """Correct Bob's bits towards Alice's with Cascade; returns (corrected_bits, leaked_bits).

    ``alice_bits`` and ``bob_bits``: equal-length 1-D ``numpy.uint8`` arrays of 0/1, at least 2
    bits. ``qber_estimate`` (0 < q < 0.5) chooses the block sizes; ``seed`` (int ≥ 0) the pass
    orders. Cascade can leave errors (an even number hidden in every block it ever checked),
    so the caller must verify the result. The inputs are not modified.
    """
    check_bits(alice_bits, "alice_bits")
    check_bits(bob_bits, "bob_bits")
    if alice_bits.size != bob_bits.size:
        raise ValueError(f"alice_bits has {alice_bits.size} bits but bob_bits has {bob_bits.size}")
    if not 2 <= alice_bits.size < 2**31:
        raise ValueError(f"Cascade needs between 2 and 2^31 - 1 bits, got {alice_bits.size}")
    if not 0.0 < qber_estimate < 0.5:
        raise ValueError(f"qber_estimate must be in (0, 0.5), got {qber_estimate}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    k1, k2 = first_block_sizes(qber_estimate, alice_bits.size)
    corrected, leaked = _cascade(alice_bits, bob_bits, k1, k2, seed_state(int(seed)), STREAK, MAX_HALVINGS)
    return Reconciliation(corrected, int(leaked))


@njit(cache=True)
def _heap_push(heap: np.ndarray, size: int, key: np.int64) -> tuple[np.ndarray, int]:
    if size == heap.size:
        grown = np.empty(2 * heap.size, dtype=np.int64)
        grown[:size] = heap
        heap = grown
    i = size
    heap[i] = key
    while i > 0:
        parent = (i - 1) >> 1
        if heap[parent] <= heap[i]:
            break
        heap[parent], heap[i] = heap[i], heap[parent]
        i = parent
    return heap, size + 1


@njit(cache=True)
def _heap_pop(heap: np.ndarray, size: int) -> tuple[np.int64, int]:
    top = heap[0]
    size -= 1
    heap[0] = heap[size]
    i = 0
    while True:
        child = 2 * i + 1
        if child >= size:
            break
        if child + 1 < size and heap[child + 1] < heap[child]:
            child += 1
        if heap[i] <= heap[child]:
            break
        heap[child], heap[i] = heap[i], heap[child]
        i = child
    return top, size


@njit(cache=True)
def _range_parity(row: np.ndarray, lo: int, hi: int) -> np.uint8:
    acc = np.uint8(0)
    for t in range(lo, hi):
        acc ^= row[t]
    return acc


@njit(cache=True)
def _bisect_bytes(row: np.ndarray, lo: int, hi: int) -> tuple[int, int]:
    """Bisect an odd range of a byte row; returns (position of the error, parities disclosed)."""
    disclosed = 0
    while hi - lo > 1:
        mid = lo + (hi - lo + 1) // 2
        disclosed += 1
        if _range_parity(row, lo, mid):
            hi = mid
        else:
            lo = mid
    return lo, disclosed


@njit(cache=True)
def _words_parity(diff_words: np.ndarray, members: np.ndarray, start: int, stop: int) -> np.uint8:
    """Parity of the difference over the member bits with key index in [start, stop)."""
    if start >= stop:
        return np.uint8(0)
    first, last = start >> 6, (stop - 1) >> 6
    acc = np.uint64(0)
    for w in range(first, last + 1):
        acc ^= diff_words[w] & members[w]
    acc_lo = diff_words[first] & members[first] & _low_mask(start & 63)
    acc_hi = diff_words[last] & members[last] & ~_low_mask(((stop - 1) & 63) + 1)
    return _parity(acc ^ acc_lo ^ acc_hi)


@njit(cache=True)
def _bisect_half(diff_words: np.ndarray, side: np.ndarray, which: int, n: int) -> tuple[int, int]:
    """Bisect the odd half `which` of a halving (members in key order); (error index, disclosed)."""
    words = side.size
    members = np.empty(words, dtype=np.uint64)
    before = np.empty(words + 1, dtype=np.int64)  # members in words < w
    before[0] = 0
    for w in range(words):
        members[w] = side[w] if which else ~side[w]
        before[w + 1] = before[w] + _popcount(members[w])
    if n % 64:
        last = members[words - 1] & _low_mask(n % 64)
        before[words] += _popcount(last) - _popcount(members[words - 1])
        members[words - 1] = last

    lo, hi, disclosed = 0, before[words], 0
    while hi - lo > 1:
        mid = lo + (hi - lo + 1) // 2
        disclosed += 1
        if _words_parity(diff_words, members, _rank_index(members, before, lo),
                         _rank_index(members, before, mid)):
            hi = mid
        else:
            lo = mid
    return _rank_index(members, before, lo), disclosed


@njit(cache=True)
def _rank_index(members: np.ndarray, before: np.ndarray, rank: int) -> int:
    """Key index of the member with the given rank (its count of members before it)."""
    lo, hi = 0, members.size  # find the word w with before[w] <= rank < before[w + 1]
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if before[mid] <= rank:
            lo = mid
        else:
            hi = mid
    return 64 * lo + _select(members[lo], rank - before[lo])


@njit(cache=True)
def _cascade(alice: np.ndarray, bob: np.ndarray, k1: int, k2: int, state: np.uint64,
             streak_target: int, max_halvings: int) -> tuple[np.ndarray, int]:
    n = alice.size
    words = (n + 63) // 64
    diff = alice ^ bob  # pass 1's order is the key's own, so this is also its working row
    corrected = bob.copy()
    diff_words = np.zeros(words, dtype=np.uint64)
    for j in range(n):
        diff_words[j >> 6] |= np.uint64(diff[j]) << np.uint64(j & 63)
    order, state = _shuffle(n, state)
    position = np.empty(n, dtype=np.int32)  # where key bit j sits in pass 2's order
    for t in range(n):
        position[order[t]] = t
    shuffled = np.empty(n, dtype=np.uint8)  # the difference in pass 2's order
    sides = np.zeros((max_halvings, words), dtype=np.uint64)
    counts = np.array([(n + k1 - 1) // k1, (n + k2 - 1) // k2])
    base = np.array([0, counts[0], counts[0] + counts[1]])  # first block id of passes 1, 2, 3
    # Block ids are ordered by (pass, index), so the heap's minimum is the smallest block of the
    # earliest pass; halving h owns ids base[2] + 2h and base[2] + 2h + 1.
    odd = np.zeros(base[2] + 2 * max_halvings, dtype=np.uint8)
    heap = np.empty(counts[0] + 64, dtype=np.int64)
    heap_size = 0
    leaked = 0
    streak = 0
    halvings = 0
    for pass_no in range(2 + max_halvings):
        if pass_no >= 2 and streak == streak_target:
            break
        if pass_no < 2:
            k = k1 if pass_no == 0 else k2
            if pass_no == 1:
                for t in range(n):
                    shuffled[t] = diff[order[t]]
            row = diff if pass_no == 0 else shuffled
            for blk in range(counts[pass_no]):
                lo = blk * k
                hi = n if blk == counts[pass_no] - 1 else lo + k
                if pass_no == 0 or blk < counts[pass_no] - 1:
                    leaked += 1  # the second pass on infers its last block from the total parity
                if _range_parity(row, lo, hi):
                    odd[base[pass_no] + blk] = 1
                    heap, heap_size = _heap_push(heap, heap_size, base[pass_no] + blk)
        else:
            h = halvings
            state = _halving(n, state, sides[h])
            halvings += 1
            total = np.uint64(0)
            second = np.uint64(0)
            for w in range(words):
                total ^= diff_words[w]
                second ^= diff_words[w] & sides[h, w]
            leaked += 1
            odd_second = _parity(second)
            odd_first = _parity(total) ^ odd_second
            streak = streak + 1 if odd_first == 0 and odd_second == 0 else 0
            if odd_first:
                odd[base[2] + 2 * h] = 1
                heap, heap_size = _heap_push(heap, heap_size, base[2] + 2 * h)
            if odd_second:
                odd[base[2] + 2 * h + 1] = 1
                heap, heap_size = _heap_push(heap, heap_size, base[2] + 2 * h + 1)
        while heap_size > 0:
            gid, heap_size = _heap_pop(heap, heap_size)
            if odd[gid] == 0:
                continue  # made even again by a later flip
            if gid < base[1]:
                lo = gid * k1
                hi = n if gid == counts[0] - 1 else lo + k1
                j, disclosed = _bisect_bytes(diff, lo, hi)
            elif gid < base[2]:
                blk = gid - base[1]
                lo = blk * k2
                hi = n if blk == counts[1] - 1 else lo + k2
                t, disclosed = _bisect_bytes(shuffled, lo, hi)
                j = order[t]
            else:
                h = (gid - base[2]) // 2
                j, disclosed = _bisect_half(diff_words, sides[h], (gid - base[2]) % 2, n)
            leaked += disclosed
            corrected[j] ^= 1
            diff[j] ^= 1
            diff_words[j >> 6] ^= _ONE << np.uint64(j & 63)
            # The cascade: the flip toggles the block holding bit j in every pass run so far.
            g = min(j // k1, counts[0] - 1)
            odd[g] ^= 1
            if odd[g]:
                heap, heap_size = _heap_push(heap, heap_size, g)
            if pass_no >= 1:
                t = position[j]
                shuffled[t] ^= 1
                g = base[1] + min(t // k2, counts[1] - 1)
                odd[g] ^= 1
                if odd[g]:
                    heap, heap_size = _heap_push(heap, heap_size, g)
            for h in range(halvings):
                g = base[2] + 2 * h + np.int64((sides[h, j >> 6] >> np.uint64(j & 63)) & _ONE)
                odd[g] ^= 1
                if odd[g]:
                    heap, heap_size = _heap_push(heap, heap_size, g)
    return corrected, leaked
