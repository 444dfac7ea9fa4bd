"""What a randomised check can catch: the defect rate detectable with 95 % probability.

A check that tries n independent inputs catches a defect that strikes a fraction p of them with
probability 1 − (1 − p)^n; the smallest p caught with probability 0.95 is 1 − 0.05^(1/n) (≈ 3/n).
"""

from __future__ import annotations

import math

CONFIDENCE = 0.95


def detectable_rate(samples: int) -> float:
    """The smallest per-operation defect rate that `samples` independent trials catch with 95 %."""
    if samples < 1:
        raise ValueError("samples must be at least 1")
    return 1.0 - (1.0 - CONFIDENCE) ** (1.0 / samples)


def statement(samples: int, what: str) -> str:
    """e.g. 'detects a wrong shared secret in 1 of 1000 operations with 95 % probability (n = 2995)'."""
    return (f"detects {what} in 1 of {math.floor(1 / detectable_rate(samples))} operations "
            f"with 95 % probability (n = {samples})")


def coverage_statement(tried: int, total: int, what: str) -> str:
    """For a systematic sweep: which share of the positions was tried."""
    return f"{what}: {tried} of {total} positions tried ({100 * tried / total:.1f} %)"
