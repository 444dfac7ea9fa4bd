"""Success criteria: scenario validation (units at file:line:col) and verdicts over synthetic rows."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ConfigDict

import harness.scenario as scenario_mod
from harness.evaluation import stats
from harness.evaluation.criteria import verdicts
from harness.evaluation.criteria_spec import Criterion
from harness.scenario import ScenarioInvalid, parse_scenario
from tests.evalkit import case_rows, frame, latency

PARAMS = {"group": "string", "rtt_ms": "float64"}


@pytest.fixture
def no_registry(monkeypatch):
    """Scenario validation without installed plugins: any adapter and a suite with free-form params."""
    from harness.suite import Metric, SuiteParams

    class AnyParams(SuiteParams):
        model_config = ConfigDict(extra="allow", frozen=True)

    class Toy:
        Params = AnyParams
        metrics = {"handshake_ms": Metric("ms", "lower")}

    monkeypatch.setattr(scenario_mod, "adapter_class", lambda name: object)
    monkeypatch.setattr(scenario_mod, "suite_class", lambda name: Toy)


def _yaml(criterion: str) -> str:
    return ("name: t\nvendors: [alpha]\nsuites:\n  - suite: toy\ncriteria:\n" + criterion)


def test_threshold_in_a_foreign_dimension_is_a_validation_error_at_its_line(no_registry):
    text = _yaml("  - id: lat\n    metric: handshake_ms\n    statistic: p95\n    op: '<='\n"
                 "    threshold: 40 bps\n")
    with pytest.raises(ScenarioInvalid) as info:
        parse_scenario(text, "pilot.yaml")
    (error,) = info.value.errors
    assert (error.file, error.line, error.path) == ("pilot.yaml", 10, "criteria.0.threshold")
    assert "time" in error.message and "bit rate" in error.message


def test_threshold_in_seconds_against_milliseconds_converts(no_registry):
    text = _yaml("  - id: lat\n    metric: handshake_ms\n    statistic: p95\n    op: '<='\n"
                 "    threshold: 0.04 s\n")
    crit = parse_scenario(text).scenario.criteria[0]
    rows = frame(case_rows("r", "toy", "alpha", {"group": "x", "rtt_ms": 5.0}, "handshake_ms", "ms",
                           [30.0, 31.0, 32.0]), PARAMS)
    (v,) = verdicts(rows, [crit], ["alpha"])
    assert v.outcome == "pass" and v.threshold == pytest.approx(40.0)


@pytest.mark.parametrize(("snippet", "path", "needle"), [
    ("threshold: 40\n", "criteria.0.threshold", "give a unit"),
    ("threshold: 40 ms\n    target: 50 ms\n", "criteria.0.target", "better than the threshold"),
    ("threshold: 40 ms\n    category: nonsense\n", "criteria.0.category", "unknown category"),
    ("threshold: 40 ms\n    vendors: [gamma]\n", "criteria.0.vendors.0", "not among"),
    ("threshold: 40 furlongs\n", "criteria.0.threshold", "unknown unit"),
    ("threshold: .nan\n    unit: ms\n", "criteria.0.threshold", "finite"),
    ("threshold: 1e999 ms\n", "criteria.0.threshold", "finite"),
    ("threshold: 40 ms\n    target: -.inf\n    unit: ms\n", "criteria.0.target", "finite"),
])
def test_criterion_mistakes_point_at_their_field(no_registry, snippet, path, needle):
    text = _yaml("  - id: lat\n    metric: handshake_ms\n    statistic: p95\n    op: '<='\n    " + snippet)
    with pytest.raises(ScenarioInvalid) as info:
        parse_scenario(text, "s.yaml")
    assert any(e.path == path and needle in e.message for e in info.value.errors), info.value


def test_bad_statistic_is_rejected(no_registry):
    text = _yaml("  - id: lat\n    metric: handshake_ms\n    statistic: p999x\n    op: '<='\n"
                 "    threshold: 40 ms\n")
    with pytest.raises(ScenarioInvalid, match="statistic"):
        parse_scenario(text)


def _crit(**kw) -> Criterion:
    base = dict(id="c", metric="handshake_ms", statistic="median", op="<=", threshold="40 ms")
    return Criterion(**{**base, **kw})


def test_where_filter_selects_only_matching_rows_and_verdicts_follow_the_data():
    rows = frame(
        case_rows("r", "toy", "alpha", {"group": "X25519MLKEM768", "rtt_ms": 31.1}, "handshake_ms", "ms",
                  latency(1, 200, 35.0))
        + case_rows("r", "toy", "alpha", {"group": "X25519", "rtt_ms": 31.1}, "handshake_ms", "ms",
                    latency(2, 200, 90.0))
        + case_rows("r", "toy", "beta", {"group": "X25519MLKEM768", "rtt_ms": 31.1}, "handshake_ms", "ms",
                    latency(3, 200, 55.0)), PARAMS)
    crit = _crit(where={"group": "X25519MLKEM768", "rtt_ms": 31.1})
    a, b = verdicts(rows, [crit], ["alpha", "beta"])
    assert (a.outcome, b.outcome) == ("pass", "fail")
    assert a.evidence.n == 200 and not a.marginal
    assert a.evidence.ci[0] < a.evidence.value < a.evidence.ci[1]
    assert a.evidence.value == pytest.approx(np.median(latency(1, 200, 35.0)))


def test_margin_inside_the_confidence_interval_is_marginal():
    values = latency(4, 30, 40.2, spread=0.2)
    rows = frame(case_rows("r", "toy", "alpha", {"group": "g", "rtt_ms": 1.0}, "handshake_ms", "ms",
                           values), PARAMS)
    (v,) = verdicts(rows, [_crit()], ["alpha"])
    assert v.marginal and v.label.endswith("marginal")


def test_rate_of_boolean_with_percent_threshold():
    ok = [1.0] * 97 + [0.0] * 3
    rows = frame(case_rows("r", "toy", "alpha", {"group": "g", "rtt_ms": 1.0}, "interop_ok", "bool", ok),
                 PARAMS)
    (v,) = verdicts(rows, [_crit(metric="interop_ok", statistic="rate", op=">=", threshold="99 %")],
                    ["alpha"])
    assert v.outcome == "fail" and v.evidence.value == pytest.approx(0.97) and v.threshold == 0.99


def test_non_ok_cases_become_fail_or_na_with_their_reason():
    p = {"group": "g", "rtt_ms": 1.0}
    rows = frame(case_rows("r", "toy", "alpha", p, "handshake_ms", "ms", [10.0, 11.0])
                 + case_rows("r", "toy", "alpha", p, "", "", [], status="timeout", reason="no answer in 5 s",
                             repeat=1)
                 + case_rows("r", "toy", "beta", p, "", "", [], status="na", reason="beta has no tls13")
                 + case_rows("r", "toy", "gamma", {"group": "other", "rtt_ms": 1.0}, "handshake_ms", "ms",
                             [1.0]), PARAMS)
    a, b, g = verdicts(rows, [_crit(where={"group": "g"})], ["alpha", "beta", "gamma"])
    assert a.outcome == "fail" and "timeout 1" in a.reason and "no answer in 5 s" in a.reason
    assert b.outcome == "n/a" and b.reason == "beta has no tls13"
    assert g.outcome == "n/a" and g.reason.startswith("no data")
    assert len(a.evidence.case_ids) == 2


def test_unknown_where_column_is_na_not_a_crash():
    rows = frame(case_rows("r", "toy", "alpha", {"group": "g", "rtt_ms": 1.0}, "handshake_ms", "ms", [1.0]),
                 PARAMS)
    (v,) = verdicts(rows, [_crit(where={"fibre_km": 50})], ["alpha"])
    assert v.outcome == "n/a" and "fibre_km" in v.reason


def test_rows_in_an_incompatible_unit_give_na():
    rows = frame(case_rows("r", "toy", "alpha", {"group": "g", "rtt_ms": 1.0}, "handshake_ms", "bps", [1.0]),
                 PARAMS)
    (v,) = verdicts(rows, [_crit()], ["alpha"])
    assert v.outcome == "n/a" and "unit mismatch" in v.reason


def test_bootstrap_is_reproducible_and_covers_the_truth():
    rng = np.random.default_rng(7)
    covered = 0
    for trial in range(40):
        x = rng.normal(10.0, 1.0, 60)
        low, high = stats.bootstrap_ci(x, "mean", seed=trial)
        covered += low <= 10.0 <= high
        assert stats.bootstrap_ci(x, "mean", seed=trial) == (low, high)
    assert covered >= 34  # 95 % nominal; percentile bootstrap at n=60 is a little narrow


def test_m_out_of_n_bootstrap_width_tracks_the_full_one():
    x = np.random.default_rng(3).exponential(1.0, 20_000)
    low, high = stats.bootstrap_ci(x, "median", seed=1)
    se = 1.0 / (2 * 0.5 * np.sqrt(x.size))  # asymptotic s.e. of the median of Exp(1): 1/(2 f(m) sqrt n)
    assert 0.6 < (high - low) / (2 * 1.96 * se) < 1.5


def test_a_perfect_record_is_a_clean_pass_not_a_marginal_one():
    rows = frame(case_rows("r", "toy", "alpha", {"group": "g", "rtt_ms": 1.0}, "handshake_ok", "bool",
                           [1.0] * 40), PARAMS)
    (v,) = verdicts(rows, [_crit(metric="handshake_ok", statistic="rate", op=">=", threshold="100 %")],
                    ["alpha"])
    assert v.label == "pass" and v.evidence.ci == (1.0, 1.0)


def test_nan_values_are_left_out_and_said_so():
    rows = frame(case_rows("r", "toy", "alpha", {"group": "g", "rtt_ms": 1.0}, "handshake_ms", "ms",
                           [10.0, float("nan"), 12.0]), PARAMS)
    (v,) = verdicts(rows, [_crit()], ["alpha"])
    assert v.evidence.n == 2 and "1 NaN value(s) left out" in v.reason


def test_a_metric_no_suite_declares_is_a_validation_error_at_its_line(no_registry):
    text = _yaml("  - id: lat\n    metric: handshake_msec\n    statistic: p95\n    op: '<='\n"
                 "    threshold: 40 ms\n")
    with pytest.raises(ScenarioInvalid) as info:
        parse_scenario(text, "pilot.yaml")
    (error,) = info.value.errors
    assert (error.line, error.path) == (7, "criteria.0.metric")
    assert error.message == "no suite of this scenario (toy) declares metric 'handshake_msec'"


def test_a_verdict_reads_in_plain_numbers_and_a_bit_rate_takes_its_prefix():
    from harness.report import _shown

    rows = frame(case_rows("r", "toy", "alpha", {"group": "g", "rtt_ms": 1.0}, "server_flight_bytes", "bytes",
                           [11888.0] * 8), PARAMS)
    (v,) = verdicts(rows, [_crit(metric="server_flight_bytes", statistic="max", threshold="14480 bytes")],
                    ["alpha"])
    assert v.reason.startswith("max 11888 <= 14480 bytes is met"), v.reason  # was 1.189e+04 <= 1.448e+04
    shown = {"unit": "bit/s", "threshold_stated": "10 kbps", "value": 3.865e7, "ci_low": 3.812e7,
             "ci_high": 3.893e7}
    assert _shown(shown) == ("38.65 Mbit/s", "[38.12, 38.93]")
    assert _shown({**shown, "value": 367.7, "ci_low": 359.3, "ci_high": 375.3}) == ("367.7 bit/s",
                                                                                    "[359.3, 375.3]")
