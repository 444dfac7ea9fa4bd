"""Toeplitz hashing: bit-exact against the entry-by-entry GF(2) matrix reference."""

from __future__ import annotations

import numpy as np
import pytest

from harness.qkd import privacy
from harness.qkd.privacy import toeplitz_hash
from tests import naive_postprocessing as naive

SHAPES = [(1, 1), (1, 70), (5, 3), (63, 64), (64, 64), (65, 63), (200, 1), (200, 64), (200, 65),
          (300, 200), (1000, 999), (1000, 700), (129, 1000)]


def _case(n: int, m: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 2, n, dtype=np.uint8), rng.integers(0, 2, n + m - 1, dtype=np.uint8)


@pytest.fixture(params=["clmul", "fft"])
def product_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Outputs over 64 bits by carry-less multiplies where the CPU has them, and by FFT."""
    if request.param == "fft":
        monkeypatch.setattr(privacy, "_HAS_CLMUL", False)
    elif not privacy._HAS_CLMUL:
        pytest.skip(reason="this CPU has no carry-less multiply: only the FFT path can run here")
    return request.param


@pytest.fixture
def fft_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(privacy, "_HAS_CLMUL", False)


@pytest.mark.parametrize(("n", "m"), SHAPES)
def test_bit_exact_against_matrix_reference(product_path: str, n: int, m: int) -> None:
    for seed in range(3):
        bits, seed_bits = _case(n, m, 1000 * n + m + seed)
        np.testing.assert_array_equal(toeplitz_hash(bits, m, seed_bits), naive.toeplitz(bits, m, seed_bits))


@pytest.mark.parametrize(("n", "m"), [(5, 70), (300, 200), (1000, 700), (129, 1000)])
def test_split_fallback_is_bit_exact(monkeypatch: pytest.MonkeyPatch, fft_path: None, n: int, m: int) -> None:
    # A negative tolerance makes every FFT product count as inexact, so the halving recursion
    # runs all the way down to one-bit inputs and the packed kernel.
    monkeypatch.setattr(privacy, "_EXACT_TOLERANCE", -1.0)
    bits, seed_bits = _case(n, m, 7)
    np.testing.assert_array_equal(toeplitz_hash(bits, m, seed_bits), naive.toeplitz(bits, m, seed_bits))


@pytest.fixture(params=["ducc0", "scipy"])
def fft_backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The FFT's blocked path with ducc0's transforms when installed, and with the scipy.fft fallback."""
    monkeypatch.setattr(privacy, "_HAS_CLMUL", False)
    if request.param == "scipy":
        monkeypatch.setattr(privacy, "ducc0", None)
    elif privacy.ducc0 is None:
        pytest.skip(reason="ducc0 is not installed: only the scipy.fft fallback can run here")
    return request.param


@pytest.mark.parametrize("block", [8, 64, 100])
@pytest.mark.parametrize(("n", "m"), [(300, 200), (1000, 999), (1000, 700), (129, 1000), (1000, 65)])
def test_blocked_fft_is_bit_exact(monkeypatch: pytest.MonkeyPatch, fft_backend: str, block: int, n: int,
                                  m: int) -> None:
    # A small block size sends these shapes through the c × c block decomposition, with ragged
    # last slices on both sides.
    monkeypatch.setattr(privacy, "_BLOCK", block)
    bits, seed_bits = _case(n, m, block + n + m)
    assert n + m - 1 > 4 * block
    np.testing.assert_array_equal(toeplitz_hash(bits, m, seed_bits), naive.toeplitz(bits, m, seed_bits))


@pytest.mark.parametrize("exact", [True, False])
@pytest.mark.parametrize(("n", "m"), [(1100, 650), (801, 199), (199, 801), (500, 500)])
def test_streamed_tiles_are_bit_exact(monkeypatch: pytest.MonkeyPatch, fft_backend: str, n: int, m: int,
                                      exact: bool) -> None:
    # Small tiles and blocks send these shapes through the bounded-memory path, with ragged last
    # tiles; a negative tolerance also sends every tile through the exact fallback.
    monkeypatch.setattr(privacy, "_STREAM_BLOCK", 200)
    monkeypatch.setattr(privacy, "_BLOCK", 64)
    if not exact:
        monkeypatch.setattr(privacy, "_EXACT_TOLERANCE", -1.0)
    assert privacy._blocked_bytes(n, m) > 64 * 200
    streamed = privacy._streamed
    calls = []
    monkeypatch.setattr(privacy, "_streamed", lambda *a: calls.append(a[0].size) or streamed(*a))
    bits, seed_bits = _case(n, m, n + 3 * m)
    np.testing.assert_array_equal(toeplitz_hash(bits, m, seed_bits), naive.toeplitz(bits, m, seed_bits))
    assert calls[0] == n


def test_streamed_and_blocked_paths_agree_on_a_large_block(monkeypatch: pytest.MonkeyPatch,
                                                           fft_path: None) -> None:
    n, m = 1_000_003, 400_001
    bits, seed_bits = _case(n, m, 15)
    blocked = toeplitz_hash(bits, m, seed_bits)
    monkeypatch.setattr(privacy, "_STREAM_BLOCK", 1 << 17)  # 8 × 4 tiles, the last ones ragged
    assert privacy._blocked_bytes(n, m) > 64 * privacy._STREAM_BLOCK
    np.testing.assert_array_equal(toeplitz_hash(bits, m, seed_bits), blocked)


def test_blocked_and_single_transform_paths_agree_on_a_large_block(monkeypatch: pytest.MonkeyPatch,
                                                                   fft_backend: str) -> None:
    n, m = 700_003, 150_001
    bits, seed_bits = _case(n, m, 13)
    assert n + m - 1 > 4 * privacy._BLOCK  # the default takes the blocked path
    blocked = toeplitz_hash(bits, m, seed_bits)
    # Twice: the second call reuses this thread's scratch arrays, which must not leak state.
    np.testing.assert_array_equal(toeplitz_hash(bits, m, seed_bits), blocked)
    monkeypatch.setattr(privacy, "_BLOCK", 1 << 40)
    np.testing.assert_array_equal(blocked, toeplitz_hash(bits, m, seed_bits))
    for i in np.random.default_rng(14).choice(m, 32, replace=False):
        assert blocked[i] == naive.toeplitz_entry(bits, int(i), seed_bits)


def test_large_block_spot_checks_against_the_definition(product_path: str) -> None:
    n, m = 1 << 18, 1 << 17
    bits, seed_bits = _case(n, m, 11)
    out = toeplitz_hash(bits, m, seed_bits)
    rows = [*np.random.default_rng(12).choice(m, 64, replace=False).tolist(), 0, m - 1]
    for i in rows:
        assert out[i] == naive.toeplitz_entry(bits, i, seed_bits), f"output bit {i}"


def test_all_zero_input_hashes_to_zero_and_hashing_is_linear() -> None:
    x, seed_bits = _case(500, 300, 3)
    x2, _ = _case(500, 300, 4)
    assert not toeplitz_hash(np.zeros(500, np.uint8), 300, seed_bits).any()
    np.testing.assert_array_equal(toeplitz_hash(x ^ x2, 300, seed_bits),
                                  toeplitz_hash(x, 300, seed_bits) ^ toeplitz_hash(x2, 300, seed_bits))


def test_collision_rate_of_a_universal_family() -> None:
    # Two fixed distinct inputs collide under a random seed with probability 2^-m exactly.
    x, _ = _case(256, 1, 5)
    x2 = x.copy()
    x2[17] ^= 1
    rng = np.random.default_rng(6)
    trials, m = 4096, 4
    collisions = sum(
        np.array_equal(toeplitz_hash(x, m, s), toeplitz_hash(x2, m, s))
        for s in (rng.integers(0, 2, 256 + m - 1, dtype=np.uint8) for _ in range(trials))
    )
    expected = trials / 2**m  # 256; binomial sd 15.5
    assert abs(collisions - expected) < 5 * np.sqrt(expected * (1 - 2**-m))


@pytest.mark.parametrize(
    ("bits", "m", "seed_bits", "message"),
    [
        (np.zeros(0, np.uint8), 1, np.zeros(0, np.uint8), "empty"),
        (np.zeros(10, np.uint8), 0, np.zeros(9, np.uint8), "at least 1"),
        (np.zeros(10, np.uint8), 3, np.zeros(11, np.uint8), "n \\+ m - 1 = 12"),
        (np.zeros(10, np.uint8), 3, np.full(12, 3, np.uint8), "only 0 and 1"),
        (np.zeros(10, np.bool_), 3, np.zeros(12, np.uint8), "uint8"),
        (np.zeros(10, np.uint8), 2.0, np.zeros(11, np.uint8), "integer"),
    ],
)
def test_bad_input_is_rejected(bits, m, seed_bits, message) -> None:
    with pytest.raises(ValueError, match=message):
        toeplitz_hash(bits, m, seed_bits)
