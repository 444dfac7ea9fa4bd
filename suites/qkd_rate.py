"""Measuring a QKD link's secret key rate, whichever way the device lets us see it.

With telemetry the device reports each window (the simulated one counts the final key bits
its post-processing produced); without it, the rate is what key delivery shows: the key
drained from the KME plus the growth of its store over wall time. Repeats give samples;
`summary` turns them into a mean with a Student-t confidence interval.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from harness.adapters import Adapter, Capability, KeyDelivery, KeyDeliveryError
from suites.qkd_time import device_clock, observe_window


@dataclass(frozen=True)
class RateSample:
    secret_key_rate_bps: float
    qber: float = math.nan  # nan where the device does not report it
    sifted_rate_bps: float = math.nan
    channel_loss_db: float = math.nan
    delivering: bool = True
    reconciliation_efficiency: float = math.nan  # the f its error correction achieved, where it says


def _drain(kd: KeyDelivery, batch: int) -> int:
    """Take (and collect at the slave) every stored key; return the bits taken."""
    bits = 0
    while True:
        try:
            keys = kd.enc_keys(batch)
        except KeyDeliveryError as exc:
            if exc.http_status in (400, 503):  # 400: fewer stored than a batch; 503: none left
                if batch > 1:
                    batch = 1
                    continue
                return bits
            raise
        kd.dec_keys([k.key_id for k in keys])
        bits += sum(k.size_bits for k in keys)


def _rate_by_delivery(kd: KeyDelivery, window_s: float, ticks: int = 20) -> RateSample:
    batch = max(1, min(64, kd.status().max_key_per_request))
    _drain(kd, batch)
    start, bits = time.monotonic(), 0
    for i in range(ticks):
        time.sleep(max(0.0, start + (i + 1) * window_s / ticks - time.monotonic()))
        bits += _drain(kd, batch)
    return RateSample(bits / (time.monotonic() - start))


def measure_rate(adapter: Adapter, window_s: float) -> RateSample:
    if device_clock(adapter):
        snap = observe_window(adapter, window_s)
        return RateSample(snap.secret_key_rate_bps, snap.qber, snap.sifted_rate_bps, snap.channel_loss_db,
                          snap.key_delivery_active, snap.extra.get("reconciliation_efficiency", math.nan))
    if Capability.KEY_DELIVERY in adapter.capabilities:
        return _rate_by_delivery(adapter, window_s)  # type: ignore[arg-type]
    raise TypeError(f"{adapter.name} has neither telemetry nor key_delivery")


@dataclass(frozen=True)
class Summary:
    mean: float
    low: float
    high: float
    n: int


def summary(values: list[float], confidence: float = 0.95) -> Summary:
    x = np.asarray([v for v in values if math.isfinite(v)], dtype=float)
    if x.size == 0:
        return Summary(math.nan, math.nan, math.nan, 0)
    mean = float(x.mean())
    if x.size == 1 or float(x.std()) == 0.0:
        return Summary(mean, mean, mean, int(x.size))
    from scipy import stats  # here: scipy costs about a second, and validating a scenario needs none

    half = float(stats.t.ppf(0.5 + confidence / 2, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size))
    return Summary(mean, mean - half, mean + half, int(x.size))
