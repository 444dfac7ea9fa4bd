"""Slow, obviously-correct references for the post-processing kernels (the STUMPY naive.py pattern).

Plain Python integers and lists, written from the protocol descriptions in the module
docstrings of harness.qkd.cascade, harness.qkd._shuffle and harness.qkd.privacy, not from the
kernels. Cascade here runs Alice and Bob as separate parties: Bob sees Alice's bits only
through the parities she discloses, each appended to her transcript.
"""

from __future__ import annotations

import math

import numpy as np

M64 = (1 << 64) - 1


class SplitMix64:
    """SplitMix64 (Steele, Lea, Flood 2014) on Python integers."""

    def __init__(self, state: int) -> None:
        self.state = state

    def next(self) -> int:
        self.state = (self.state + 0x9E3779B97F4A7C15) & M64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        return z ^ (z >> 31)


def seed_state(seed: int) -> int:
    return int(np.random.SeedSequence(seed).generate_state(1, dtype=np.uint64)[0])


def shuffle(n: int, rng: SplitMix64) -> list[int]:
    order = list(range(n))
    for i in range(n - 1, 0, -1):
        j = ((rng.next() >> 32) * (i + 1)) >> 32
        order[i], order[j] = order[j], order[i]
    return order


def halving(n: int, rng: SplitMix64) -> list[int]:
    """Side (0/1) of every key bit: bit j % 64 of draw j // 64."""
    sides: list[int] = []
    for _ in range((n + 63) // 64):
        z = rng.next()
        sides.extend((z >> b) & 1 for b in range(64))
    return sides[:n]


class Alice:
    """Holds the true key; answers parity questions and records every answer."""

    def __init__(self, bits: np.ndarray) -> None:
        self._bits = [int(b) for b in bits]
        self.transcript: list[int] = []

    def parity(self, indices: list[int]) -> int:
        answer = sum(self._bits[i] for i in indices) % 2
        self.transcript.append(answer)
        return answer


def cascade(alice_bits: np.ndarray, bob_bits: np.ndarray, qber: float, seed: int,
            streak_target: int = 16, max_halvings: int = 64) -> tuple[np.ndarray, list[int]]:
    """Cascade as documented in harness.qkd.cascade; returns (Bob's bits, Alice's transcript)."""
    n = len(alice_bits)
    alice = Alice(alice_bits)
    bob = [int(b) for b in bob_bits]
    rng = SplitMix64(seed_state(seed))
    k1 = min(max(math.ceil(0.80 / qber), 1), n)
    k2 = min(5 * k1, n)

    def bob_parity(indices: list[int]) -> int:
        return sum(bob[i] for i in indices) % 2

    blocks: list[list[int]] = []  # every block of every pass so far, in (pass, index) order
    alice_parity: list[int] = []  # Alice's parity of each, disclosed or inferred

    def start_pass(new_blocks: list[list[int]], first_pass: bool) -> None:
        for b, block in enumerate(new_blocks):
            if first_pass or b < len(new_blocks) - 1:
                alice_parity.append(alice.parity(block))
            else:
                others = sum(alice_parity[-(len(new_blocks) - 1):]) if len(new_blocks) > 1 else 0
                alice_parity.append((total_parity + others) % 2)
            blocks.append(block)

    def correct_all() -> None:
        while True:
            odd = [b for b, block in enumerate(blocks) if bob_parity(block) != alice_parity[b]]
            if not odd:
                return
            block = blocks[odd[0]]
            lo, hi = 0, len(block)
            while hi - lo > 1:
                mid = lo + (hi - lo + 1) // 2
                if alice.parity(block[lo:mid]) != bob_parity(block[lo:mid]):
                    hi = mid
                else:
                    lo = mid
            bob[block[lo]] ^= 1

    start_pass([list(range(s, min(s + k1, n))) for s in range(0, n, k1)], first_pass=True)
    total_parity = sum(alice_parity) % 2
    correct_all()
    order = shuffle(n, rng)
    start_pass([order[s:s + k2] for s in range(0, n, k2)], first_pass=False)
    correct_all()
    streak = 0
    for _ in range(max_halvings):
        if streak == streak_target:
            break
        sides = halving(n, rng)
        halves = [[j for j in range(n) if sides[j] == 0], [j for j in range(n) if sides[j] == 1]]
        start_pass(halves, first_pass=False)
        odd_before = any(bob_parity(blocks[b]) != alice_parity[b] for b in (-2, -1))
        streak = 0 if odd_before else streak + 1
        correct_all()
    return np.array(bob, dtype=np.uint8), alice.transcript


def toeplitz(bits: np.ndarray, m: int, seed_bits: np.ndarray) -> np.ndarray:
    """y = T·x mod 2 with T[i, j] = seed_bits[i − j + n − 1], the matrix built entry by entry."""
    n = len(bits)
    matrix = np.empty((m, n), dtype=np.int64)
    for i in range(m):
        for j in range(n):
            matrix[i, j] = seed_bits[i - j + n - 1]
    return (matrix @ bits.astype(np.int64) % 2).astype(np.uint8)


def toeplitz_entry(bits: np.ndarray, i: int, seed_bits: np.ndarray) -> int:
    """One output bit y[i] = Σ_j seed_bits[i − j + n − 1]·x[j] mod 2, for spot checks of big blocks."""
    n = len(bits)
    column = seed_bits[i : i + n][::-1]  # seed_bits[i − j + n − 1] for j = 0 … n − 1
    return int(np.dot(column.astype(np.int64), bits.astype(np.int64)) % 2)
