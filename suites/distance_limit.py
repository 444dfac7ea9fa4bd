"""The largest distance at which the secret key rate stays at or above a threshold (default: > 0).

Bisection between `min_km` and `max_km` that respects the Monte Carlo's statistical error: a
probe distance counts as "above" only when the confidence interval of its rate lies above the
threshold, as "below" when the interval lies at or under it; in between it measures more
windows, and a probe still undecided counts as below. So the reported limit is the largest
distance known, at the stated confidence, to deliver the rate; the next probed distance above
it is reported as the upper end of the bracket.

A window is at least `window_s` of link time and, on a device that distils in blocks, whole
blocks, at least one (as in `suites.key_rate`): with `window_s` below the block time each
window is one block, the finite-key rate's unit of evidence, and its rate is per second of the
link time that block took.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from harness.adapters import Adapter, Capability
from harness.qkd.finite_key import finite_key_rate
from harness.qkd.finite_key_optimum import optimal_finite_key_rate
from harness.qkd.keyrate import decoy_bb84_asymptotic, max_distance_km
from harness.suite import MeasureContext, Measurement, Metric, Suite, SuiteParams
from suites.qkd_channel import set_distance
from suites.qkd_expectations import declared_profile
from suites.qkd_rate import Summary, measure_rate, summary


class DistanceLimitParams(SuiteParams):
    threshold_bps: float = Field(0.0, ge=0, description="0 means any positive rate")
    min_km: float = Field(0.0, ge=0)
    max_km: float = Field(300.0, gt=0, le=5000)
    tolerance_km: float = Field(2.0, gt=0, description="stop when the bracket is this narrow")
    window_s: float = Field(60.0, gt=0, le=86_400,
                            description="least link time per window (whole blocks, at least one)")
    repeats: int = Field(3, ge=2, le=100, description="windows per round at one distance")
    max_rounds: int = Field(3, ge=1, le=20, description="rounds before a distance counts as undecided")
    max_probes: int = Field(16, ge=2, le=64)
    confidence: float = Field(0.95, gt=0.5, lt=1.0)
    sweep: Literal["fibre", "attenuation"] = "fibre"

    @model_validator(mode="after")
    def _ordered(self) -> DistanceLimitParams:
        if self.min_km >= self.max_km:
            raise ValueError(f"min_km {self.min_km} must be below max_km {self.max_km}")
        return self


def _classify(adapter: Adapter, d: float, p: DistanceLimitParams) -> tuple[str, Summary]:
    set_distance(adapter, d, p.sweep)
    rates: list[float] = []
    s = Summary(math.nan, math.nan, math.nan, 0)
    for _ in range(p.max_rounds):
        rates += [measure_rate(adapter, p.window_s).secret_key_rate_bps for _ in range(p.repeats)]
        s = summary(rates, p.confidence)
        if s.low > p.threshold_bps:
            return "above", s
        if s.high <= p.threshold_bps:
            return "below", s
    return "undecided", s


# The analytic reaches are what the measured distance limit is set against.
LIMITS = ("distance_limit_km", "distance_limit_upper_km")


class DistanceLimit(Suite):
    name: ClassVar[str] = "distance_limit"
    requires: ClassVar[frozenset[Capability]] = frozenset({Capability.CHANNEL_CONTROL})
    Params: ClassVar[type[SuiteParams]] = DistanceLimitParams

    def cases(self, params: SuiteParams) -> list[dict[str, Any]]:
        assert isinstance(params, DistanceLimitParams)
        return [{"threshold_bps": params.threshold_bps}]

    def measure(self, adapter: Adapter, params: SuiteParams, case: Mapping[str, Any],
                ctx: MeasureContext) -> Iterable[Measurement]:
        assert isinstance(params, DistanceLimitParams)
        probes: list[tuple[float, str, Summary]] = []

        def probe(d: float) -> str:
            verdict, s = _classify(adapter, d, params)
            probes.append((d, verdict, s))
            return verdict

        lo, hi = params.min_km, params.max_km
        if probe(lo) != "above":
            hi = lo  # no key even at the shortest distance
        elif probe(hi) == "above":
            lo = hi  # the limit lies beyond the searched range
        while hi - lo > params.tolerance_km and len(probes) < params.max_probes:
            mid = (lo + hi) / 2
            if probe(mid) == "above":
                lo = mid
            else:
                hi = mid
        for i, (d, verdict, s) in enumerate(probes):
            labels = {"probe": verdict}
            yield Measurement("probe_distance_km", d, "km", i, labels)
            yield Measurement("probe_secret_key_rate_bps", s.mean, "bit/s", i, labels)
        reached = probes[0][1] == "above"
        yield Measurement("distance_limit_km", lo if reached else 0.0, "km")
        yield Measurement("distance_limit_upper_km", hi, "km")
        yield Measurement("probes", len(probes), "count")
        yield Measurement("undecided_probes", sum(v == "undecided" for _, v, _ in probes), "count")
        profile = declared_profile(adapter)
        if profile is not None and params.threshold_bps == 0:
            yield Measurement("analytic_asymptotic_limit_km", max_distance_km(
                lambda d: decoy_bb84_asymptotic(profile, d).rate_per_pulse, upper_km=params.max_km), "km")
            if len(profile.intensities) == 3:
                yield Measurement("analytic_finite_key_limit_km", max_distance_km(
                    lambda d: finite_key_rate(profile, d).rate_per_pulse, upper_km=params.max_km), "km")
                yield Measurement("analytic_finite_key_optimum_limit_km", max_distance_km(
                    lambda d: optimal_finite_key_rate(profile, d).rate_per_pulse, upper_km=params.max_km,
                    tolerance_km=0.1), "km")

    label_columns: ClassVar[tuple[str, ...]] = ("probe",)
    metrics: ClassVar[dict[str, Metric]] = {
        "distance_limit_km": Metric("km", "higher", "longest distance whose rate interval clears it"),
        "distance_limit_upper_km": Metric("km", "higher", "shortest distance found below the threshold"),
        "probe_distance_km": Metric("km", "none", "distance of one bisection probe"),
        "probe_secret_key_rate_bps": Metric("bit/s", "higher", "mean rate at one probe"),
        "probes": Metric("count", "none", "bisection probes made"),
        "undecided_probes": Metric("count", "lower", "probes whose interval straddled the threshold"),
        "analytic_asymptotic_limit_km": Metric("km", "none", "analytic asymptotic maximum distance",
                                               reference_for=LIMITS),
        "analytic_finite_key_limit_km": Metric("km", "none", "analytic finite-key maximum distance of "
                                               "the device as configured (block size, settings)",
                                               reference_for=LIMITS),
        "analytic_finite_key_optimum_limit_km": Metric("km", "none", "analytic finite-key maximum distance "
                                                       "at the protocol's optimum for this hardware",
                                                       reference_for=LIMITS),
    }
