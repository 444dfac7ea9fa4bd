"""Repeaterless bounds on the secret key per channel use of a pure-loss channel of transmittance eta.

PLOB (Pirandola, Laurenza, Ottaviani, Banchi, Nat. Commun. 8, 15043 (2017)): -log2(1 - eta).
TGW (Takeoka, Guha, Wilde, Nat. Commun. 5, 5235 (2014)): log2((1 + eta) / (1 - eta)).
Both are infinite at eta = 1 (a lossless channel) and are computed through log1p so that
eta ~ 1e-20 (1000 km of 0.2 dB/km fibre) gives ~1e-20
instead of 0 or rounding noise.
"""

from __future__ import annotations

import math

import numpy as np

LN2 = math.log(2.0)


def _check(eta: float | np.ndarray) -> np.ndarray:
    arr = np.asarray(eta, dtype=float)
    if not np.all(np.isfinite(arr)) or np.any(arr < 0.0) or np.any(arr > 1.0):
        raise ValueError(f"transmittance must be in [0, 1], got {eta!r}")
    return arr


def plob_bound(eta: float | np.ndarray) -> float | np.ndarray:
    """Secret-key capacity of the pure-loss channel, bits per channel use: -log2(1 - eta)."""
    with np.errstate(divide="ignore"):
        value = -np.log1p(-_check(eta)) / LN2
    return float(value) if np.ndim(value) == 0 else value


def tgw_bound(eta: float | np.ndarray) -> float | np.ndarray:
    """TGW upper bound, bits per channel use: log2((1 + eta) / (1 - eta))."""
    arr = _check(eta)
    with np.errstate(divide="ignore"):
        value = (np.log1p(arr) - np.log1p(-arr)) / LN2
    return float(value) if np.ndim(value) == 0 else value
