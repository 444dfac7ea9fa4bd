"""What the engine knows about a metric from its name alone: its unit and its good direction.

Metrics do not exist until a run measures them, yet criteria are checked when a
scenario is validated and regressions need to know which way is worse. Metric
names follow the field's convention of a unit suffix (`handshake_ms`,
`secret_key_rate_bps`, `ciphertext_bytes`, `loss_pct`), so the suffix gives the
unit; a keyword in the name gives the direction (latency, size, QBER, errors:
lower is better; rates, throughput, key bits, success: higher is better).
`CATALOGUE` names the exceptions. Unknown stays unknown (None): the caller says
so instead of guessing.
"""

from __future__ import annotations

import re

# metric → (unit, higher_is_better); for names the suffix and keyword rules get wrong or cannot see.
CATALOGUE: dict[str, tuple[str | None, bool | None]] = {
    "qber": ("ratio", False),
    "reconciliation_efficiency": ("ratio", False),  # leaked bits / (n·h(QBER)): 1.0 is the Shannon limit
    "conformant": ("bool", True),
    "interop_ok": ("bool", True),
    "handshake_ok": ("bool", True),
    "verify_ok": ("bool", True),
    "decaps_ok": ("bool", True),
    "recovered": ("bool", True),
    "attack_detected": ("bool", True),
    "aborted": ("bool", None),  # aborting is right under attack and wrong without one
    "hello_retry": ("bool", False),
    "case_status": (None, None),
}

# Metrics whose `sample` index is time (one value per tick): drawn as timelines, not distributions.
TIMELINES = frozenset({"stored_key_count"})


def is_timeline(metric: str) -> bool:
    """Recovery and key-store timelines: catalogued, or named `*_timeline` by their suite."""
    return metric in TIMELINES or metric.endswith("_timeline")


# (suffix, unit) in match order: longer suffixes first so `_bps` is not read as `_s`.
_SUFFIX_UNITS = (
    ("_per_s", "/s"), ("_ops_s", "ops/s"), ("_mbps", "Mbps"), ("_kbps", "kbps"), ("_bps", "bps"),
    ("_ms", "ms"), ("_us", "us"), ("_ns", "ns"), ("_s", "s"),
    ("_bytes", "bytes"), ("_bits", "bits"), ("_pct", "%"), ("_ratio", "ratio"), ("_fraction", "fraction"),
    ("_count", "count"), ("_cycles", "cycles"), ("_hz", "Hz"), ("_km", "km"), ("_db", "dB"),
)

_LOWER = re.compile(r"qber|error|fail|loss|lost|latency|abort|retrans|leak|drop|timeout|overhead|retry")
_HIGHER = re.compile(
    r"success|conform|interop|_ok$|throughput|goodput|recovered|detected|avail|distance|reach")


def unit_of(metric: str) -> str | None:
    """The unit a metric's name declares, or None when the name does not say."""
    if metric in CATALOGUE:
        return CATALOGUE[metric][0]
    for suffix, symbol in _SUFFIX_UNITS:
        if metric.endswith(suffix):
            return symbol
    return None


def higher_is_better(metric: str) -> bool | None:
    """True, False, or None when neither the catalogue nor the name tells."""
    if metric in CATALOGUE:
        return CATALOGUE[metric][1]
    name = metric.lower()
    if _LOWER.search(name):
        return False
    if _HIGHER.search(name):
        return True
    symbol = unit_of(metric)
    if symbol in {"s", "ms", "us", "ns", "bytes", "cycles"}:
        return False  # time and size on the wire or in memory cost
    if symbol in {"bps", "kbps", "Mbps", "/s", "ops/s", "Hz"}:
        return True
    if symbol == "bits" and "key" in name:
        return True  # sifted, secret, final key bits
    return None
