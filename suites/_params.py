"""Validation shared by suites' parameter models."""

from __future__ import annotations

from collections.abc import Iterable


def known_names(value: list[str], known: Iterable[str], what: str) -> list[str]:
    """`value` unchanged when every name is one of `known`, each listed once; else a ValueError
    naming the strangers (and what is allowed) or the repeats."""
    known = list(known)
    unknown = [v for v in value if v not in known]
    if unknown:
        raise ValueError(f"unknown {what} {unknown}; choose from {', '.join(known)}")
    repeated = sorted({v for v in value if value.count(v) > 1})
    if repeated:
        raise ValueError(f"{what} listed twice: {repeated}")
    return value
