"""NIST SP 800-22 Rev. 1a statistical tests that fit QKD key volumes (10^3 .. 10^7 bits).

Frequency (2.1), block frequency (2.2), runs (2.3), longest run of ones in a block (2.4),
serial (2.11), approximate entropy (2.12) and cumulative sums (2.13), written from the
document's formulas with numpy and scipy's regularised incomplete gamma (the document's
igamc). Each test is checked in tests/test_randomness.py against the document's worked
examples. Inputs are 0/1 arrays; the bits are only counted, never kept or returned.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import erfc, gammaincc
from scipy.stats import norm


@dataclass(frozen=True)
class TestResult:
    test: str
    p_values: tuple[float, ...]
    n_bits: int
    parameter: int = 0  # M for block tests, m for pattern tests, 0 otherwise

    @property
    def p_value(self) -> float:
        return min(self.p_values)


def as_bits(bits: np.ndarray) -> np.ndarray:
    arr = np.asarray(bits)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"bits must be a non-empty 1-D array, got shape {arr.shape}")
    if not np.all((arr == 0) | (arr == 1)):
        raise ValueError("bits must hold only 0 and 1")
    return arr.astype(np.int64)  # sums of uint8 would overflow


def frequency(bits: np.ndarray) -> TestResult:
    e = as_bits(bits)
    s_obs = abs(int(np.sum(2 * e - 1))) / math.sqrt(e.size)
    return TestResult("frequency", (float(erfc(s_obs / math.sqrt(2))),), e.size)


def block_frequency(bits: np.ndarray, block_size: int) -> TestResult:
    e = as_bits(bits)
    n_blocks = e.size // block_size
    if block_size < 1 or n_blocks < 1:
        raise ValueError(f"block_size {block_size} does not fit {e.size} bits")
    pi = e[: n_blocks * block_size].reshape(n_blocks, block_size).mean(axis=1)
    chi2 = 4.0 * block_size * float(np.sum((pi - 0.5) ** 2))
    return TestResult("block_frequency", (float(gammaincc(n_blocks / 2, chi2 / 2)),), e.size, block_size)


def runs(bits: np.ndarray) -> TestResult:
    e = as_bits(bits)
    n = e.size
    pi = float(e.mean())
    if abs(pi - 0.5) >= 2 / math.sqrt(n):  # the frequency prerequisite fails: the test is not run
        return TestResult("runs", (0.0,), n)
    v_obs = 1 + int(np.count_nonzero(np.diff(e)))
    p = erfc(abs(v_obs - 2 * n * pi * (1 - pi)) / (2 * math.sqrt(2 * n) * pi * (1 - pi)))
    return TestResult("runs", (float(p),), n)


# (minimum n, M, class boundaries (lowest class "<= first", highest ">= last"), class probabilities).
# The document's table rounds the probabilities to 4 digits; these are the exact values its
# reference implementation uses (M = 8: multiples of 1/256), which reproduce its example's 0.180609.
_LONGEST_RUN = (
    (750_000, 10_000, (10, 16), (0.0882, 0.2092, 0.2483, 0.1933, 0.1208, 0.0675, 0.0727)),
    (6_272, 128, (4, 9), (0.1174035788, 0.242955959, 0.249363483, 0.17517706, 0.102701071, 0.112398847)),
    (128, 8, (1, 4), (0.21484375, 0.3671875, 0.23046875, 0.1875)),
)


def longest_run_of_ones(bits: np.ndarray) -> TestResult:
    e = as_bits(bits)
    n = e.size
    row = next((r for r in _LONGEST_RUN if n >= r[0]), None)
    if row is None:
        raise ValueError(f"the longest-run test needs at least 128 bits, got {n}")
    _, m, (lo, hi), probs = row
    n_blocks = n // m
    blocks = e[: n_blocks * m].reshape(n_blocks, m)
    current = np.zeros(n_blocks, np.int64)
    longest = np.zeros(n_blocks, np.int64)
    for col in range(m):
        current = (current + 1) * blocks[:, col]
        np.maximum(longest, current, out=longest)
    nu = np.bincount(np.clip(longest, lo, hi) - lo, minlength=hi - lo + 1)
    expected = n_blocks * np.asarray(probs)
    chi2 = float(np.sum((nu - expected) ** 2 / expected))
    return TestResult("longest_run_of_ones", (float(gammaincc((len(probs) - 1) / 2, chi2 / 2)),), n, m)


def _pattern_counts(e: np.ndarray, m: int) -> np.ndarray:
    """Counts of every overlapping m-bit pattern, the sequence wrapped around by m - 1 bits."""
    if m == 0:
        return np.array([e.size])
    ext = np.concatenate([e, e[: m - 1]])
    values = np.zeros(e.size, np.int64)
    for i in range(m):
        values = (values << 1) | ext[i : i + e.size]
    return np.bincount(values, minlength=1 << m)


def _psi2(e: np.ndarray, m: int) -> float:
    if m <= 0:
        return 0.0
    counts = _pattern_counts(e, m).astype(np.float64)
    return float((1 << m) / e.size * np.sum(counts**2) - e.size)


def serial(bits: np.ndarray, m: int) -> TestResult:
    e = as_bits(bits)
    if m < 2:
        raise ValueError(f"serial test pattern length m={m}: must be >= 2")
    psi_m, psi_m1, psi_m2 = _psi2(e, m), _psi2(e, m - 1), _psi2(e, m - 2)
    p1 = gammaincc(2 ** (m - 2), (psi_m - psi_m1) / 2)
    p2 = gammaincc(2 ** (m - 3), (psi_m - 2 * psi_m1 + psi_m2) / 2)
    return TestResult("serial", (float(p1), float(p2)), e.size, m)


def _phi(e: np.ndarray, m: int) -> float:
    counts = _pattern_counts(e, m)
    c = counts[counts > 0] / e.size
    return float(np.sum(c * np.log(c)))


def approximate_entropy(bits: np.ndarray, m: int) -> TestResult:
    e = as_bits(bits)
    if m < 1:
        raise ValueError(f"approximate entropy block length m={m}: must be >= 1")
    apen = _phi(e, m) - _phi(e, m + 1)
    chi2 = 2.0 * e.size * (math.log(2) - apen)
    return TestResult("approximate_entropy", (float(gammaincc(2 ** (m - 1), chi2 / 2)),), e.size, m)


def _cusum_p(n: int, z: int) -> float:
    sqrt_n = math.sqrt(n)
    # int() truncates toward zero, as the reference implementation's (int) casts do.
    k1 = np.arange(int((-n / z + 1) / 4), int((n / z - 1) / 4) + 1)
    k2 = np.arange(int((-n / z - 3) / 4), int((n / z - 1) / 4) + 1)
    s1 = np.sum(norm.cdf((4 * k1 + 1) * z / sqrt_n) - norm.cdf((4 * k1 - 1) * z / sqrt_n))
    s2 = np.sum(norm.cdf((4 * k2 + 3) * z / sqrt_n) - norm.cdf((4 * k2 + 1) * z / sqrt_n))
    return float(1.0 - s1 + s2)


def cumulative_sums(bits: np.ndarray) -> TestResult:
    e = as_bits(bits)
    x = 2 * e - 1
    forward = int(np.max(np.abs(np.cumsum(x))))
    backward = int(np.max(np.abs(np.cumsum(x[::-1]))))
    return TestResult("cumulative_sums", (_cusum_p(e.size, forward), _cusum_p(e.size, backward)), e.size)


MIN_BITS = 1000


def battery(bits: np.ndarray) -> list[TestResult]:
    """The seven tests with parameters chosen for `len(bits)` as SP 800-22 section 2 recommends."""
    e = as_bits(bits)
    n = e.size
    if n < MIN_BITS:
        raise ValueError(f"{n} bits: the battery needs at least {MIN_BITS}")
    log2n = int(math.log2(n))
    block = max(20, n // 99 + 1)  # M >= 20, M > 0.01 n, N = n // M < 100
    return [frequency(e), block_frequency(e, block), runs(e), longest_run_of_ones(e),
            serial(e, max(2, min(16, log2n - 3))), approximate_entropy(e, max(2, min(14, log2n - 6))),
            cumulative_sums(e)]
