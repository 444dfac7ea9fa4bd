"""Secret key rate, QBER and sifted rate against distance, with repeats and confidence intervals.

Each rate is also given as a fraction of the PLOB bound at the same channel loss and as a
ratio to the analytic finite-key rate (Lim et al. 2014) for the device's declared parameters;
where the device reports the reconciliation efficiency its error correction achieved, also to
that rate at the achieved f, the like-for-like comparison: a declared f is often a textbook
figure (1.16–1.22) that a real Cascade beats (1.05–1.07), and near the reach the same gap in f
doubles the ratio (gys-2004 at 100 km: 1.83 at the declared f, 1.02 at the achieved one).
Beside the rates, the two analytic reaches of the declared device, named for what they are: the
asymptotic one (infinitely long blocks) and the finite-key one at the device's own block size,
which is reported with them; a report draws them on the rate-against-distance plot.
Distance is fibre length on a device that can change it (`sweep: fibre`), attenuation steps on
one with an attenuator (`sweep: attenuation`), or the installed length otherwise.

A repeat is one window of at least `window_s` of link time. A device that distils in blocks
reports whole blocks (`suites.qkd_time.observe_window`), so a window is the fewest whole blocks
that cover `window_s`, at least one: the finite-key block is the unit of evidence of a
finite-key rate (less than a block makes no finite key, and the bound is stated per block).
With `window_s` below the device's block time every repeat is exactly one block, however many
link seconds that block takes on this device at this distance; a longer window only adds blocks
to one sample. Either way the rate is the window's final key bits over its own link time, so it
stays a rate per second of link time, and the `repeats` windows are the samples of its
Student-t interval.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, Literal

from pydantic import Field

from harness.adapters import Adapter, Capability
from harness.qkd.finite_key import finite_key_rate
from harness.qkd.keyrate import decoy_bb84_asymptotic, max_distance_km
from harness.suite import MeasureContext, Measurement, Metric, Suite, SuiteParams
from suites.qkd_channel import set_distance
from suites.qkd_expectations import declared_profile, expectation, finite_key_bps_at_ec
from suites.qkd_rate import measure_rate, summary

REACH_UPPER_KM = 1000.0


def reach_km(profile: Any, finite: bool) -> float:
    """The declared device's analytic reach: asymptotic, or finite-key at its own block size."""
    rate = finite_key_rate if finite else decoy_bb84_asymptotic
    return max_distance_km(lambda d: rate(profile, d).rate_per_pulse, upper_km=REACH_UPPER_KM)


class KeyRateParams(SuiteParams):
    distances_km: list[float] = Field([10.0, 25.0, 50.0], min_length=1, description="one case per distance")
    window_s: float = Field(60.0, gt=0, le=86_400,
                            description="least link time per repeat (whole blocks, at least one)")
    repeats: int = Field(5, ge=2, le=1000, description="windows per distance (for the interval)")
    confidence: float = Field(0.95, gt=0.5, lt=1.0)
    sweep: Literal["fibre", "attenuation"] = "fibre"


#: The protocol's optimum settings (harness.qkd.finite_key_optimum), reported beside its rate.
OPTIMUM_METRICS = (
    ("mu1", "photons/pulse", "optimal signal intensity (mean photon number)"),
    ("mu2", "photons/pulse", "optimal decoy intensity (mean photon number)"),
    ("mu3", "photons/pulse", "weakest decoy intensity, the device's (mean photon number)"),
    ("p_mu1", "ratio", "optimal probability of the signal intensity"),
    ("p_mu2", "ratio", "optimal probability of the decoy intensity"),
    ("p_mu3", "ratio", "optimal probability of the weakest decoy"),
    ("basis_probability_key", "ratio", "optimal probability of the key basis"),
)


SECRET = ("secret_key_rate_bps",)


class KeyRate(Suite):
    name: ClassVar[str] = "key_rate"
    requires: ClassVar[frozenset[Capability]] = frozenset({Capability.KEY_DELIVERY})
    Params: ClassVar[type[SuiteParams]] = KeyRateParams
    metrics: ClassVar[dict[str, Metric]] = {
        "secret_key_rate_bps": Metric("bit/s", "higher", "final key bits per second, one per window"),
        "qber": Metric("ratio", "lower", "quantum bit error rate of a window"),
        "sifted_rate_bps": Metric("bit/s", "higher", "sifted bits per second"),
        "channel_loss_db": Metric("dB", "none", "channel loss the device reports"),
        "secret_key_rate_bps_mean": Metric("bit/s", "higher", "mean over the windows",
                                           summarises="secret_key_rate_bps"),
        "secret_key_rate_bps_ci_low": Metric("bit/s", "higher", "lower end of the Student-t interval",
                                             summarises="secret_key_rate_bps"),
        "secret_key_rate_bps_ci_high": Metric("bit/s", "higher", "upper end of the Student-t interval",
                                              summarises="secret_key_rate_bps"),
        "qber_mean": Metric("ratio", "lower", "mean QBER over the windows", summarises="qber"),
        # The PLOB bound and the analytic rates bound the secret key rate, not the sifted rate.
        "plob_bound_bps": Metric("bit/s", "none", "PLOB repeaterless bound for the declared link",
                                 reference_for=SECRET),
        "plob_fraction": Metric("ratio", "higher", "measured rate over the PLOB bound"),
        "analytic_asymptotic_bps": Metric("bit/s", "none", "analytic asymptotic decoy-BB84 rate",
                                          reference_for=SECRET),
        "analytic_finite_key_bps": Metric("bit/s", "none", "analytic finite-key rate of the device as "
                                          "configured (its block size, intensities, basis choice and "
                                          "declared error-correction efficiency f)",
                                          reference_for=SECRET),
        "reconciliation_efficiency": Metric("ratio", "lower", "bits error correction disclosed over their "
                                            "Shannon limit n·h(QBER): the f the device reports it achieved"),
        "analytic_finite_key_achieved_ec_bps": Metric(
            "bit/s", "none", "analytic finite-key rate of the device as configured, at the reconciliation "
            "efficiency it achieved (the mean over the windows): like for like with the measured rate",
            reference_for=SECRET),
        "analytic_finite_key_optimum_bps": Metric("bit/s", "none", "analytic finite-key rate at the "
                                                  "protocol's optimum for this hardware",
                                                  reference_for=SECRET),
        **{f"finite_key_optimum_{name}": Metric(unit, "none", text) for name, unit, text in OPTIMUM_METRICS},
        "ratio_to_analytic_finite_key": Metric("ratio", "higher", "measured rate over the finite-key rate at "
                                               "the declared f: above 1 where error correction beats it"),
        # At the f achieved, the measured rate and the bound rest on the same leak: 1 within the
        # windows' spread when the device estimates as Lim et al. bound; above it, an unsound estimate.
        "ratio_to_analytic_finite_key_achieved_ec": Metric(
            "ratio", "none", "measured rate over the finite-key rate at the reconciliation efficiency "
            "achieved"),
        # The reaches are positions on the distance axis of the secret key rate's plot.
        "analytic_asymptotic_reach_km": Metric("km", "none", "longest distance with a positive asymptotic "
                                               "decoy-BB84 rate (vacuum + weak decoy, infinite blocks)",
                                               reference_for=SECRET),
        "analytic_finite_key_reach_km": Metric("km", "none", "longest distance with a positive finite-key "
                                               "rate of the device as configured, at its block size",
                                               reference_for=SECRET),
        "finite_key_block_bits": Metric("bit", "none", "key-basis bits per block, as the finite-key "
                                        "figures assume (the device's block size)"),
    }

    def cases(self, params: SuiteParams) -> list[dict[str, Any]]:
        assert isinstance(params, KeyRateParams)
        return [{"distance_km": float(d)} for d in params.distances_km]

    def measure(self, adapter: Adapter, params: SuiteParams, case: Mapping[str, Any],
                ctx: MeasureContext) -> Iterable[Measurement]:
        assert isinstance(params, KeyRateParams)
        distance = float(case["distance_km"])
        extra_db = set_distance(adapter, distance, params.sweep)
        samples = [measure_rate(adapter, params.window_s) for _ in range(params.repeats)]
        for i, s in enumerate(samples):
            yield Measurement("secret_key_rate_bps", s.secret_key_rate_bps, "bit/s", i)
            observed = (("qber", s.qber, "ratio"), ("sifted_rate_bps", s.sifted_rate_bps, "bit/s"),
                        ("channel_loss_db", s.channel_loss_db, "dB"),
                        ("reconciliation_efficiency", s.reconciliation_efficiency, "ratio"))
            for metric, value, unit in observed:
                if math.isfinite(value):
                    yield Measurement(metric, value, unit, i)
        rate = summary([s.secret_key_rate_bps for s in samples], params.confidence)
        yield Measurement("secret_key_rate_bps_mean", rate.mean, "bit/s")
        yield Measurement("secret_key_rate_bps_ci_low", rate.low, "bit/s")
        yield Measurement("secret_key_rate_bps_ci_high", rate.high, "bit/s")
        qber = summary([s.qber for s in samples], params.confidence)
        if qber.n:
            yield Measurement("qber_mean", qber.mean, "ratio")
        profile = declared_profile(adapter)
        if profile is None:
            return
        exp = expectation(profile, distance, extra_db)
        yield Measurement("plob_bound_bps", exp.plob_bps, "bit/s")
        yield Measurement("plob_fraction", rate.mean / exp.plob_bps if exp.plob_bps else math.nan, "ratio")
        yield Measurement("analytic_asymptotic_bps", exp.asymptotic_bps, "bit/s")
        yield Measurement("analytic_finite_key_bps", exp.finite_key_bps, "bit/s")
        yield Measurement("analytic_finite_key_optimum_bps", exp.finite_key_optimum_bps, "bit/s")
        for name, unit, _ in OPTIMUM_METRICS:
            if exp.finite_key_optimum is not None:
                yield Measurement(f"finite_key_optimum_{name}", exp.finite_key_optimum[name], unit)
        if exp.finite_key_bps > 0:
            yield Measurement("ratio_to_analytic_finite_key", rate.mean / exp.finite_key_bps, "ratio")
        achieved_f = summary([s.reconciliation_efficiency for s in samples], params.confidence)
        if achieved_f.n:
            like = finite_key_bps_at_ec(profile, distance, extra_db, achieved_f.mean)
            if math.isfinite(like):
                yield Measurement("analytic_finite_key_achieved_ec_bps", like, "bit/s")
            if like > 0:
                yield Measurement("ratio_to_analytic_finite_key_achieved_ec", rate.mean / like, "ratio")
        yield Measurement("analytic_asymptotic_reach_km", reach_km(profile, finite=False), "km")
        if len(profile.intensities) == 3:  # Lim et al.'s bound needs three intensities
            yield Measurement("analytic_finite_key_reach_km", reach_km(profile, finite=True), "km")
            yield Measurement("finite_key_block_bits", float(profile.security.block_size), "bit")
