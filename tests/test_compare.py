"""Regression detection: significant AND large AND in the bad direction; honest about small samples."""

from __future__ import annotations

from math import comb

import pytest

from harness.compare import compare_rows, smallest_p
from harness.criteria_spec import RegressionPolicy
from tests.evalkit import case_rows, frame, latency

PARAMS = {"group": "string"}
POLICY = RegressionPolicy()


def _one(metric: str, unit: str, before, after, policy=POLICY):
    p = {"group": "g"}
    cur = frame(case_rows("now", "s", "a", p, metric, unit, after), PARAMS)
    base = frame(case_rows("then", "s", "a", p, metric, unit, before), PARAMS)
    (change,) = compare_rows(cur, base, policy).changes
    return change


def test_slower_latency_is_a_regression_and_faster_an_improvement():
    slow = _one("handshake_ms", "ms", latency(1, 30, 40.0), latency(2, 30, 48.0))
    assert slow.kind == "regression" and slow.p_value < 0.01 and slow.change == pytest.approx(0.2, abs=0.05)
    fast = _one("handshake_ms", "ms", latency(1, 30, 48.0), latency(2, 30, 40.0))
    assert fast.kind == "improvement"


def test_higher_is_better_metrics_regress_downwards():
    drop = _one("secret_key_rate_bps", "bps", latency(3, 30, 1000.0), latency(4, 30, 700.0))
    assert drop.kind == "regression"


def test_same_distribution_is_unchanged():
    same = _one("handshake_ms", "ms", latency(5, 40, 40.0), latency(6, 40, 40.0))
    assert same.kind == "unchanged"


def test_significant_but_small_change_is_not_flagged_unless_the_metric_threshold_says_so():
    before, after = latency(7, 200, 40.0, 0.01), latency(8, 200, 42.0, 0.01)
    small = _one("handshake_ms", "ms", before, after)
    assert small.kind == "unchanged" and small.p_value < 1e-6 and "within 10%" in small.note
    strict = RegressionPolicy(metrics={"handshake_ms": 0.02})
    assert _one("handshake_ms", "ms", before, after, strict).kind == "regression"


def test_too_few_samples_are_said_not_flagged():
    few = _one("handshake_ms", "ms", [40.0, 41.0, 39.0], [80.0, 81.0, 79.0])
    assert few.kind == "too few samples" and "smallest possible p is 0.1" in few.note
    assert smallest_p(3, 3) == pytest.approx(2 / comb(6, 3))
    assert smallest_p(7, 7) < 0.01  # from seven per side an exact test can reach 1 %


def test_unknown_direction_is_reported_not_flagged():
    change = _one("widgets", "count", latency(9, 30, 10.0), latency(10, 30, 20.0))
    assert change.kind == "change" and "unknown" in change.note


def test_a_case_that_stopped_finishing_is_a_regression_and_unmatched_cases_are_ignored():
    p = {"group": "g"}
    base = frame(case_rows("then", "s", "a", p, "handshake_ms", "ms", [1.0] * 10)
                 + case_rows("then", "s", "a", {"group": "only-then"}, "handshake_ms", "ms", [1.0]), PARAMS)
    cur = frame(case_rows("now", "s", "a", p, "", "", [], status="failed", reason="server crashed")
                + case_rows("now", "s", "a", {"group": "only-now"}, "handshake_ms", "ms", [1.0]), PARAMS)
    comparison = compare_rows(cur, base, POLICY)
    (status,) = comparison.regressions
    assert status.kind == "status" and "ok → failed: server crashed" in status.note
    assert len(comparison.changes) == 1


def test_latest_baseline_is_the_newest_earlier_run_of_the_same_scenario(tmp_path):
    from harness.compare import latest_baseline
    from tests.evalkit import pilot_run, write_run

    pilot_run(tmp_path / "a", started="2026-11-20T02:00:00Z")
    pilot_run(tmp_path / "b", started="2026-11-21T02:00:00Z")
    current = pilot_run(tmp_path / "c", started="2026-11-22T02:00:00Z")
    pilot_run(tmp_path / "d", started="2026-11-23T02:00:00Z")  # later: never a baseline for c
    other = {"name": "another-scenario", "vendors": ["alpha"], "suites": [{"suite": "toy"}]}
    write_run(tmp_path / "e", other, [], {}, started="2026-11-21T12:00:00Z")
    assert latest_baseline(current).name == "b"
