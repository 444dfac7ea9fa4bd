"""Verification: the tag length follows ε_cor, and any residual error gets the block rejected."""

from __future__ import annotations

import numpy as np
import pytest

from harness.qkd.verify import tag_length, verify


def test_tag_length_from_eps_cor() -> None:
    assert tag_length(1e-15) == 50  # 2^-50 = 8.9e-16 <= 1e-15 < 2^-49
    assert tag_length(0.5) == 1
    assert tag_length(2.0**-64) == 64
    for bad in (0.0, 1.0, 2.0**-65, -1e-3):
        with pytest.raises(ValueError, match="eps_cor"):
            tag_length(bad)


def test_identical_keys_pass() -> None:
    key = np.random.default_rng(1).integers(0, 2, 10_000, dtype=np.uint8)
    result = verify(key, key.copy(), 1e-15, seed=3)
    assert result.passed and result.tag_bits == 50 and result.eps_cor == 1e-15


def test_any_single_residual_error_is_rejected() -> None:
    rng = np.random.default_rng(2)
    key = rng.integers(0, 2, 4096, dtype=np.uint8)
    for seed, position in enumerate(rng.choice(4096, 200, replace=False)):
        wrong = key.copy()
        wrong[position] ^= 1
        assert not verify(key, wrong, 1e-15, seed).passed


def test_residual_error_patterns_of_any_weight_are_rejected() -> None:
    # Cascade's failure mode: an even number of errors hiding together in every block it checked.
    rng = np.random.default_rng(4)
    key = rng.integers(0, 2, 20_000, dtype=np.uint8)
    for seed in range(100):
        wrong = key.copy()
        wrong[rng.choice(key.size, 2 + seed % 9, replace=False)] ^= 1
        assert not verify(key, wrong, 1e-15, seed).passed


def test_mismatched_lengths_rejected() -> None:
    with pytest.raises(ValueError, match="equal length"):
        verify(np.zeros(5, np.uint8), np.zeros(6, np.uint8), 1e-15, 0)
