"""Bit arrays as the QKD core passes them around: 1-D ``numpy.uint8`` holding only 0 and 1."""

from __future__ import annotations

import numpy as np


def check_bits(bits: object, name: str) -> None:
    """Raise a ValueError naming ``name`` unless ``bits`` is a 1-D uint8 array of 0/1 values."""
    if not isinstance(bits, np.ndarray):
        raise ValueError(f"{name} must be a numpy.ndarray of uint8 0/1, got {type(bits).__name__}")
    if bits.dtype != np.uint8:
        raise ValueError(f"{name} must have dtype uint8, got {bits.dtype}")
    if bits.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {bits.shape}")
    if bits.size and bits.max() > 1:
        bad = int(np.flatnonzero(bits > 1)[0])
        raise ValueError(f"{name} must hold only 0 and 1; {name}[{bad}] = {bits[bad]}")


def random_bits(count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` uniform bits as uint8 0/1 (8 per random byte; far cheaper than integers())."""
    raw = np.frombuffer(rng.bytes((count + 7) // 8), dtype=np.uint8)
    return np.unpackbits(raw, count=count, bitorder="little")
