"""Walker's alias method (Vose's construction): sample a discrete distribution with one uniform.

``alias_table(weights) -> (threshold, alias)``: draw u in [0, 1), take i = floor(u * M) and the
fraction f = u * M - i; the outcome is i if f < threshold[i] else alias[i]. Constant time and
free of data-dependent loops, which is what the channel kernel needs per detection.
"""

from __future__ import annotations

import numpy as np


def alias_table(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Threshold and alias arrays for non-negative ``weights`` (normalised here)."""
    w = np.asarray(weights, dtype=float).ravel()
    if w.size == 0 or np.any(w < 0) or not np.all(np.isfinite(w)) or w.sum() <= 0:
        raise ValueError("alias_table needs finite, non-negative weights with a positive sum")
    m = w.size
    scaled = w * (m / w.sum())
    threshold = np.ones(m)
    alias = np.arange(m, dtype=np.int64)
    small = [i for i in range(m) if scaled[i] < 1.0]
    large = [i for i in range(m) if scaled[i] >= 1.0]
    while small and large:
        s, g = small.pop(), large.pop()
        threshold[s], alias[s] = scaled[s], g
        scaled[g] -= 1.0 - scaled[s]
        (small if scaled[g] < 1.0 else large).append(g)
    # Whatever remains is 1 up to rounding: it keeps its own outcome.
    return threshold, alias


def alias_probabilities(threshold: np.ndarray, alias: np.ndarray) -> np.ndarray:
    """The distribution a table samples (for checking a table against its weights)."""
    m = threshold.size
    probs = threshold / m
    np.add.at(probs, alias, (1.0 - threshold) / m)
    return probs
