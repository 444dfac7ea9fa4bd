"""Soak: a link run for hours of its own time, watched window by window for drift.

The suite lets `device_hours` of link time pass in windows of `window_s` through the device's
telemetry (a simulated device runs its clock as fast as it can, so hours take minutes; a real
one takes the hours) and reports how stable key delivery stayed. It only measures: drift,
recalibration and ageing are the device's (the simulated device's `drift` option).

Definitions (README, "Soak"):
- secret_key_rate_bps, qber: per window (timelines); qber only for windows that sifted bits;
- key_rate_cv, qber_cv: coefficient of variation (sample standard deviation / mean) over the
  windows;
- key_rate_trend_bps_per_h, qber_trend_per_h: least-squares slope against device time, with
  `*_trend_ci95_*` the half-width of its 95 % interval, corrected for the correlation drift puts
  between neighbouring windows (`trend`);
- recalibrations: the device's own count of recalibrations (telemetry `recalibrations`), only
  where the device reports one;
- uptime: share of device time in windows that distilled key;
- device_hours: link time covered, which falls short of `device_hours` only when `wall_budget_s`
  ran out first (then `completed` is 0).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

import numpy as np
from pydantic import Field, model_validator
from scipy import stats

from harness.adapters import Adapter, Capability
from harness.suite import MeasureContext, Measurement, Metric, Suite, SuiteParams
from suites.qkd_time import let_time_pass

MAX_WINDOWS = 10_000


class SoakParams(SuiteParams):
    device_hours: float = Field(24.0, gt=0, le=10_000, description="link time to run, hours")
    window_s: float = Field(1800.0, gt=0, le=86_400, description="link time per observation window")
    wall_budget_s: float = Field(600.0, gt=0, le=86_400, description="stop early after this much wall time")

    @model_validator(mode="after")
    def _bounded(self) -> SoakParams:
        windows = self.device_hours * 3600 / self.window_s
        if windows > MAX_WINDOWS:
            raise ValueError(f"device_hours / window_s gives {windows:.0f} windows; at most {MAX_WINDOWS}")
        if windows < 3:
            raise ValueError(f"device_hours / window_s gives {windows:.1f} windows; a trend needs at least 3")
        return self


def trend(t: np.ndarray, y: np.ndarray) -> tuple[float, float, int]:
    """(slope, half-width of its 95 % interval, n) of y against t by least squares.

    Windows of a drifting link are correlated, so the iid standard error would be too small:
    it is inflated by sqrt((1 + rho) / (1 - rho)), rho the lag-1 autocorrelation of the residuals
    (at least 0), and the t quantile taken at the effective sample size n (1 - rho) / (1 + rho)
    (the AR(1) correction; von Storch and Zwiers, Statistical Analysis in Climate Research, 1999,
    ch. 6.6). On AR(1) noise of rho 0.6 it covers the true slope 93 % of the time at n = 100 (the
    iid interval about 70 %, Newey-West with its usual lag about 83 %; tests/test_soak_suite.py).
    NaN pairs are dropped; with fewer than 3 points the slope and interval are NaN.
    """
    keep = np.isfinite(t) & np.isfinite(y)
    t, y = np.asarray(t, float)[keep], np.asarray(y, float)[keep]
    n = len(t)
    if n < 3 or np.ptp(t) == 0:
        return math.nan, math.nan, n
    tc = t - t.mean()
    sxx = float(tc @ tc)
    slope = float(tc @ (y - y.mean())) / sxx
    resid = y - y.mean() - slope * tc
    ss = float(resid @ resid)
    if ss == 0:
        return slope, 0.0, n
    rho = max(0.0, float(resid[1:] @ resid[:-1]) / ss)
    if rho >= 1:
        return slope, math.inf, n
    se = math.sqrt(ss / (n - 2) / sxx) * math.sqrt((1 + rho) / (1 - rho))
    n_eff = n * (1 - rho) / (1 + rho)
    return slope, float(stats.t.ppf(0.975, max(n_eff - 2, 1.0))) * se, n


def cv(values: np.ndarray) -> float:
    values = np.asarray(values, float)
    values = values[np.isfinite(values)]
    if len(values) < 2 or values.mean() == 0:
        return math.nan
    return float(values.std(ddof=1) / abs(values.mean()))


class Soak(Suite):
    name: ClassVar[str] = "soak"
    requires: ClassVar[frozenset[Capability]] = frozenset({Capability.TELEMETRY})
    Params: ClassVar[type[SuiteParams]] = SoakParams
    metrics: ClassVar[dict[str, Metric]] = {
        "secret_key_rate_bps": Metric("bit/s", "higher", "secret key rate of one window", timeline=True),
        "qber": Metric("ratio", "lower", "QBER the device estimated in one window", timeline=True),
        "window_hours": Metric("h", "none", "device time at the end of each window", timeline=True),
        "key_rate_cv": Metric("ratio", "lower", "coefficient of variation of the key rate over windows"),
        "qber_cv": Metric("ratio", "lower", "coefficient of variation of the QBER over windows"),
        "key_rate_trend_bps_per_h": Metric("bit/s/h", "higher", "slope of the key rate against device time"),
        "key_rate_trend_ci95_bps_per_h": Metric("bit/s/h", "lower", "95 % half-width of that slope"),
        "qber_trend_per_h": Metric("1/h", "lower", "slope of the QBER against device time"),
        "qber_trend_ci95_per_h": Metric("1/h", "lower", "95 % half-width of that slope"),
        "mean_key_rate_bps": Metric("bit/s", "higher", "key rate over the whole run"),
        "recalibrations": Metric("count", "none", "recalibrations the device reported"),
        "uptime": Metric("ratio", "higher", "share of device time in windows that distilled key"),
        "windows": Metric("count", "none", "observation windows"),
        "device_hours": Metric("h", "none", "link time covered"),
        "completed": Metric("bool", "higher", "the run covered device_hours within wall_budget_s"),
        "compression": Metric("ratio", "higher", "link seconds per wall-clock second"),
    }

    def cases(self, params: SuiteParams) -> list[dict[str, Any]]:
        assert isinstance(params, SoakParams)
        return [{"device_hours": params.device_hours, "window_s": params.window_s}]

    def measure(self, adapter: Adapter, params: SuiteParams, case: Mapping[str, Any],
                ctx: MeasureContext) -> Iterable[Measurement]:
        assert isinstance(params, SoakParams)
        target_s = params.device_hours * 3600
        start = time.monotonic()
        ends, rates, qbers, spans, secret = [], [], [], [], []
        elapsed, recalibrations, reported = 0.0, 0.0, False
        while elapsed < target_s - 1e-9 and time.monotonic() - start < params.wall_budget_s:
            snap = let_time_pass(adapter, min(params.window_s, target_s - elapsed))
            assert snap is not None  # TELEMETRY is required
            if snap.window_s <= 0:  # a block ran past the window: the next one holds it
                continue
            elapsed += snap.window_s
            bits = snap.extra.get("secret_bits", snap.secret_key_rate_bps * snap.window_s)
            ends.append(elapsed / 3600)
            rates.append(bits / snap.window_s)
            qbers.append(snap.qber if snap.sifted_rate_bps > 0 else math.nan)
            spans.append(snap.window_s)
            secret.append(bits)
            if "recalibrations" in snap.extra:
                reported = True
                recalibrations += snap.extra["recalibrations"]
        wall = time.monotonic() - start
        for i, (h, r, q) in enumerate(zip(ends, rates, qbers, strict=True)):
            yield Measurement("window_hours", h, "h", i)
            yield Measurement("secret_key_rate_bps", r, "bit/s", i)
            if math.isfinite(q):
                yield Measurement("qber", q, "ratio", i)
        t, r, q = np.array(ends), np.array(rates), np.array(qbers)
        rate_slope, rate_ci, _ = trend(t, r)
        qber_slope, qber_ci, _ = trend(t, q)
        total = float(sum(spans))
        yield Measurement("key_rate_cv", cv(r), "ratio")
        yield Measurement("qber_cv", cv(q), "ratio")
        yield Measurement("key_rate_trend_bps_per_h", rate_slope, "bit/s/h")
        yield Measurement("key_rate_trend_ci95_bps_per_h", rate_ci, "bit/s/h")
        yield Measurement("qber_trend_per_h", qber_slope, "1/h")
        yield Measurement("qber_trend_ci95_per_h", qber_ci, "1/h")
        yield Measurement("mean_key_rate_bps", sum(secret) / total if total else math.nan, "bit/s")
        if reported:
            yield Measurement("recalibrations", recalibrations, "count")
        up = sum(s for s, b in zip(spans, secret, strict=True) if b > 0)
        yield Measurement("uptime", up / total if total else math.nan, "ratio")
        yield Measurement("windows", len(spans), "count")
        yield Measurement("device_hours", elapsed / 3600, "h")
        yield Measurement("completed", float(elapsed >= target_s - 1e-9), "bool")
        yield Measurement("compression", elapsed / wall if wall > 0 else math.nan, "ratio")
