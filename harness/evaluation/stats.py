"""Summary statistics with bootstrap confidence intervals, reproducible from a fixed seed."""

from __future__ import annotations

import zlib

import numpy as np

CONFIDENCE = 0.95
RESAMPLES = 1000
# Above this many values the bootstrap resamples m of n and rescales the spread by sqrt(m/n)
# (m-out-of-n bootstrap), so a criterion over 100 000 latencies costs what one over 2 000 does.
FULL_BOOTSTRAP_MAX = 2000


def statistic(values: np.ndarray, name: str) -> float:
    """median, mean, min, max, rate (share of non-zero values) or pNN on a 1-D array."""
    return float(_apply(values[None, :], name)[0])


def _apply(samples: np.ndarray, name: str) -> np.ndarray:
    if name == "median":
        return np.median(samples, axis=1)
    if name == "mean":
        return samples.mean(axis=1)
    if name == "min":
        return samples.min(axis=1)
    if name == "max":
        return samples.max(axis=1)
    if name == "rate":
        return (samples != 0).mean(axis=1)
    if name.startswith("p"):
        return np.quantile(samples, float(name[1:]) / 100.0, axis=1)
    raise ValueError(f"unknown statistic {name!r}")


def seed_for(*parts: str) -> int:
    """A stable seed from names, so the same data always gets the same interval."""
    return zlib.crc32("\x1f".join(parts).encode())


def bootstrap_ci(values: np.ndarray, name: str, seed: int) -> tuple[float, float] | None:
    """Percentile bootstrap interval of the statistic; None below two values (no spread to resample)."""
    values = np.asarray(values, dtype=float)
    n = values.size
    if n < 2:
        return None
    rng = np.random.default_rng(seed)
    m = min(n, FULL_BOOTSTRAP_MAX)
    estimates = np.empty(RESAMPLES)
    for start in range(0, RESAMPLES, 100):  # chunks bound memory at 100·m values
        idx = rng.integers(0, n, size=(min(100, RESAMPLES - start), m))
        estimates[start:start + idx.shape[0]] = _apply(values[idx], name)
    alpha = (1 - CONFIDENCE) / 2
    low, high = np.quantile(estimates, [alpha, 1 - alpha])
    if m < n and name not in ("min", "max"):
        centre = statistic(values, name)
        scale = np.sqrt(m / n)
        low, high = centre - (centre - low) * scale, centre + (high - centre) * scale
    return float(low), float(high)
