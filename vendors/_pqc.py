"""What the PQC library adapters share: one wording for an algorithm a library lacks."""

from __future__ import annotations

from collections.abc import Iterable

from harness.adapters import KEM_ALGORITHMS, SIGNATURE_ALGORITHMS, NotApplicable


def unsupported(vendor: str, algorithm: str, offered: Iterable[str]) -> NotApplicable:
    """The NotApplicable to raise for `algorithm`; says what the library offers instead."""
    if algorithm not in KEM_ALGORITHMS and algorithm not in SIGNATURE_ALGORITHMS:
        return NotApplicable(
            f"{algorithm!r} is not a canonical algorithm name; "
            f"KEMs: {', '.join(KEM_ALGORITHMS)}; signatures: {', '.join(SIGNATURE_ALGORITHMS)}"
        )
    return NotApplicable(f"{vendor} has no {algorithm} (it offers: {', '.join(offered) or 'nothing'})")
