"""The carry-less Toeplitz kernels against slow obvious references, piece by piece."""

from __future__ import annotations

import numpy as np
import pytest

from harness.qkd import _clmul_kernels as kernels
from harness.qkd import privacy
from tests import naive_postprocessing as naive

pytestmark = pytest.mark.skipif(not kernels.HAS_CLMUL, reason="this CPU has no carry-less multiply")


def _clmul_reference(a: int, b: int) -> int:
    """Shift-and-XOR over the bits of b."""
    product = 0
    for k in range(64):
        if b >> k & 1:
            product ^= a << k
    return product


def _words(rng: np.random.Generator, count: int) -> np.ndarray:
    return rng.integers(0, 1 << 64, count, dtype=np.uint64, endpoint=False)


def _bits(words: np.ndarray) -> np.ndarray:
    return np.unpackbits(words.view(np.uint8), bitorder="little")


def _toeplitz_rows(bits: np.ndarray, m: int, seed_bits: np.ndarray) -> np.ndarray:
    """y[i] = Σ_j seed_bits[i − j + n − 1]·x[j] mod 2, row i being seed_bits[i : i + n] reversed
    (the matrix reference of tests/naive_postprocessing.py as one matrix product, for big N)."""
    rows = np.lib.stride_tricks.sliding_window_view(seed_bits, bits.size)[:m, ::-1]
    return (rows.astype(np.int64) @ bits.astype(np.int64) % 2).astype(np.uint8)


def test_carry_less_multiply_of_words() -> None:
    rng = np.random.default_rng(21)
    pairs = [(1 << 63, 1 << 63), (2**64 - 1, 2**64 - 1), (0, 5)]
    pairs += [(int(a), int(b)) for a, b in _words(rng, 400).reshape(-1, 2)]
    for a, b in pairs:
        low, high = kernels._clmul_words(np.uint64(a), np.uint64(b))
        assert (int(high) << 64 | int(low)) == _clmul_reference(a, b), (a, b)


def test_row_reference_matches_the_matrix_reference() -> None:
    rng = np.random.default_rng(20)
    bits, seed_bits = rng.integers(0, 2, 70, dtype=np.uint8), rng.integers(0, 2, 70 + 90 - 1, dtype=np.uint8)
    np.testing.assert_array_equal(_toeplitz_rows(bits, 90, seed_bits), naive.toeplitz(bits, 90, seed_bits))


@pytest.mark.parametrize("w", [1, 3, 4, 7, 32, 33, 40, 66, 132])
def test_square_product_against_the_bit_definition(w: int) -> None:
    # Y[i] = Σ_j S[i − j + N]·x[j]: the matrix reference with seed S[1:] (bit 0 unused). w = 40,
    # 66 and 132 recurse (Karatsuba) one to three times; the others are the schoolbook base.
    rng = np.random.default_rng(w)
    seed, x = _words(rng, 2 * w), _words(rng, w)
    out = np.empty(w, np.uint64)
    kernels._square_product(seed, x, out)
    expected = _toeplitz_rows(_bits(x), 64 * w, _bits(seed)[1:])
    np.testing.assert_array_equal(_bits(out), expected)
    schoolbook = np.empty(w, np.uint64)
    kernels._square_product_base(seed, x, schoolbook)
    np.testing.assert_array_equal(schoolbook, out)


@pytest.mark.parametrize("shift_bits", [0, 1, 63, 64, 65, 200, 1000])
def test_shifted_words(shift_bits: int) -> None:
    src = _words(np.random.default_rng(shift_bits), 9)
    out = kernels._shifted_words(src, shift_bits, 12)
    expected = np.zeros(64 * 12, np.uint8)
    moved = _bits(src)[: max(0, 64 * 12 - shift_bits)]
    expected[shift_bits : shift_bits + moved.size] = moved
    np.testing.assert_array_equal(_bits(out), expected)


@pytest.mark.parametrize(("output_words", "expected"),
                         [(1, 1), (32, 32), (33, 34), (1563, 1600), (7813, 7936)])
def test_block_words_covers_the_output_with_a_small_base(output_words: int, expected: int) -> None:
    assert kernels.block_words(output_words) == expected


def test_large_product_agrees_with_the_fft_path(monkeypatch: pytest.MonkeyPatch) -> None:
    # Two independent methods (carry-less words, float FFT with its exactness check) on the
    # benchmark's shape with ragged lengths: 10 square blocks of 102,400 bits, Karatsuba 6 levels.
    n, m = 1_000_003, 100_003
    rng = np.random.default_rng(22)
    bits, seed_bits = rng.integers(0, 2, n, dtype=np.uint8), rng.integers(0, 2, n + m - 1, dtype=np.uint8)
    ours = kernels.toeplitz_product(bits, m, seed_bits)
    monkeypatch.setattr(privacy, "_HAS_CLMUL", False)
    np.testing.assert_array_equal(ours, privacy.toeplitz_hash(bits, m, seed_bits))
    for i in [0, m - 1, *rng.choice(m, 16, replace=False).tolist()]:
        assert ours[i] == naive.toeplitz_entry(bits, i, seed_bits)
