"""Units of measurement: parse them, tell their dimension, convert between compatible ones.

Criteria state thresholds with a unit ("40 ms"); rows carry the unit their suite
wrote. Two units of the same dimension convert (a `0.04 s` threshold against a
metric in ms is the same criterion); units of different dimensions are an error,
never a silent comparison of unlike numbers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Unit:
    symbol: str
    dimension: str
    factor: float  # multiply a value in this unit by `factor` to get the dimension's base unit


_TABLE: dict[str, tuple[str, float]] = {
    # time, base second
    "s": ("time", 1.0), "ms": ("time", 1e-3), "us": ("time", 1e-6), "µs": ("time", 1e-6),
    "ns": ("time", 1e-9), "min": ("time", 60.0), "h": ("time", 3600.0),
    # information rate, base bit per second
    "bps": ("bit rate", 1.0), "bit/s": ("bit rate", 1.0), "kbps": ("bit rate", 1e3),
    "kbit/s": ("bit rate", 1e3), "Mbps": ("bit rate", 1e6), "Mbit/s": ("bit rate", 1e6),
    "Gbps": ("bit rate", 1e9), "Gbit/s": ("bit rate", 1e9),
    # information, base bit
    "bit": ("information", 1.0), "bits": ("information", 1.0), "B": ("information", 8.0),
    "bytes": ("information", 8.0), "kB": ("information", 8e3), "KiB": ("information", 8 * 1024.0),
    "MB": ("information", 8e6), "MiB": ("information", 8 * 1024.0**2),
    # dimensionless fractions, base 1
    "ratio": ("fraction", 1.0), "fraction": ("fraction", 1.0), "1": ("fraction", 1.0),
    "%": ("fraction", 1e-2), "pct": ("fraction", 1e-2), "percent": ("fraction", 1e-2),
    "bool": ("fraction", 1.0),
    # other rates and counts
    "Hz": ("frequency", 1.0), "/s": ("frequency", 1.0), "ops/s": ("frequency", 1.0),
    "kHz": ("frequency", 1e3), "MHz": ("frequency", 1e6), "GHz": ("frequency", 1e9),
    "count": ("count", 1.0), "cycles": ("cycles", 1.0),
    "km": ("length", 1e3), "m": ("length", 1.0),
    "dB": ("attenuation", 1.0), "dB/km": ("attenuation per length", 1.0),
    # a weak coherent pulse's intensity: a mean, so neither a count nor a fraction
    "photons/pulse": ("mean photon number", 1.0),
}


class UnitError(ValueError):
    pass


def unit(symbol: str) -> Unit:
    symbol = symbol.strip()
    if symbol not in _TABLE:
        raise UnitError(f"unknown unit {symbol!r}; known: {', '.join(sorted(_TABLE))}")
    dimension, factor = _TABLE[symbol]
    return Unit(symbol, dimension, factor)


def known(symbol: str | None) -> bool:
    return symbol is not None and symbol.strip() in _TABLE


def convert(value: float, from_unit: str, to_unit: str) -> float:
    """`value` in `from_unit` expressed in `to_unit`; UnitError when the dimensions differ."""
    a, b = unit(from_unit), unit(to_unit)
    if a.dimension != b.dimension:
        raise UnitError(f"cannot compare {from_unit!r} ({a.dimension}) with {to_unit!r} ({b.dimension})")
    return value * a.factor / b.factor


_QUANTITY = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(\S.*?)?\s*$")


def parse_quantity(text: str) -> tuple[float, str | None]:
    """'40 ms' → (40.0, 'ms'); '0.5' → (0.5, None)."""
    match = _QUANTITY.match(text)
    if not match:
        raise UnitError(f"{text!r} is not a quantity like '40 ms' or '2.5e3 bps'")
    number, symbol = match.groups()
    if symbol is not None:
        unit(symbol)
    return float(number), symbol
