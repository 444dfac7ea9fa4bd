"""The DuckDB data layer gives the same answers as pandas over the whole rows, in pieces."""

from __future__ import annotations

import pandas as pd
import pytest

from harness import rundata
from harness.evaluation.compare import compare, compare_rows
from harness.evaluation.criteria import verdicts
from harness.evaluation.criteria_spec import RegressionPolicy
from harness.evaluation.summary import problems, summarize
from harness.report.plots import evidence_plots
from harness.rundata import load
from tests.evalkit import PILOT_PARAMS, case_rows, pilot_rows, pilot_run, write_run


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("results")
    base = pilot_run(root / "base", seed=1, started="2026-11-22T00:00:00Z")
    current = pilot_run(root / "run", seed=2, slowdown=1.3, started="2026-11-23T00:00:00Z")
    return load(current), load(base)


def test_summary_in_duckdb_matches_pandas(runs):
    run, _ = runs
    params = run.case_columns
    mine = run.summary(params)
    theirs = summarize(run.rows, params)
    assert len(mine) == len(theirs) > 50
    pd.testing.assert_frame_equal(mine.drop(columns="case_ids"), theirs, check_dtype=False, rtol=1e-12)
    ok = run.rows[run.rows.status == "ok"]
    first = mine[mine.suite == "key_rate"].iloc[0]
    expected = sorted(set(ok[(ok.suite == first.suite) & (ok.vendor == first.vendor)
                             & (ok.metric == first.metric) & (ok.fibre_km == first.fibre_km)].case_id))
    assert list(first.case_ids) == expected


def test_nan_values_are_missing_in_both(tmp_path):
    rows = case_rows("r", "toy", "alpha", {"x": 1.0}, "m_ms", "ms", [1.0, float("nan"), 3.0])
    run = load(write_run(tmp_path / "r", {"name": "n", "vendors": ["alpha"], "suites": [{"suite": "toy"}]},
                         rows, {"x": "float64"}))
    line = run.summary(["x"]).iloc[0]
    assert (line["n"], line["median"], line["max"]) == (2, 2.0, 3.0)


def test_cases_table_has_one_line_per_case_with_its_row_count(runs):
    run, _ = runs
    cases = run.cases
    assert cases.case_id.is_unique and len(cases) == run.rows.case_id.nunique()
    counts = run.rows[run.rows.metric != "case_status"].groupby("case_id").size()
    assert (cases.set_index("case_id")["rows"] == counts.reindex(cases.case_id).fillna(0)).all()
    pd.testing.assert_frame_equal(problems(cases), problems(run.rows))


def test_verdicts_selected_in_duckdb_match_pandas(runs):
    run, _ = runs
    criteria = list(run.scenario.criteria)
    pushed = rundata_verdicts(run, criteria)
    plain = verdicts(run.rows, criteria, run.vendors)
    assert [(v.criterion.id, v.vendor, v.outcome, v.reason, v.evidence.n, v.evidence.ci) for v in pushed] == \
           [(v.criterion.id, v.vendor, v.outcome, v.reason, v.evidence.n, v.evidence.ci) for v in plain]


def rundata_verdicts(run, criteria):
    from harness.evaluation.criteria import run_verdicts

    return run_verdicts(run, criteria)


def test_where_pushdown_keeps_what_pandas_would_and_no_more(tmp_path):
    from harness.evaluation.criteria import run_verdicts
    from harness.evaluation.criteria_spec import Criterion

    rows = []
    for km in (50.0, 50.0000000001, 80.0):
        rows += case_rows("r", "toy", "alpha", {"fibre_km": km, "mode": "a"}, "rate_bps", "bps", [km] * 3)
    rows += case_rows("r", "toy", "alpha", {"fibre_km": 50.0, "mode": "b"}, "rate_bps", "bps", [],
                      status="failed", reason="broke")
    run = load(write_run(tmp_path / "r", {"name": "n", "vendors": ["alpha"], "suites": [{"suite": "toy"}]},
                         rows, {"fibre_km": "float64", "mode": "string"}))
    base = {"id": "c", "metric": "rate_bps", "statistic": "median", "op": ">=", "threshold": "1 bps"}
    for where, outcome, n in (({"fibre_km": 50, "mode": "a"}, "pass", 6), ({"fibre_km": 50}, "fail", 6),
                              ({"fibre_km": [80, 90]}, "pass", 3), ({"mode": "c"}, "n/a", 0)):
        crit = Criterion.model_validate({**base, "where": where})
        (v,) = run_verdicts(run, [crit])
        (p,) = verdicts(run.rows, [crit], ["alpha"])
        assert (v.outcome, v.evidence.n, v.reason) == (p.outcome, p.evidence.n, p.reason) == \
               (outcome, n, p.reason), where


def test_comparison_over_the_parts_matches_the_one_in_memory(tmp_path):
    nightly = {"tls_repeats": 5, "interop_seed": 9}
    base = load(pilot_run(tmp_path / "base", seed=1, started="2026-11-22T00:00:00Z", **nightly))
    run = load(pilot_run(tmp_path / "run", seed=2, slowdown=1.3, started="2026-11-23T00:00:00Z", **nightly))
    policy = RegressionPolicy()
    whole = compare_rows(run.rows, base.rows, policy)
    pieces = compare(run, base, policy)  # aggregated to repeats by DuckDB over the Parquet parts
    key = lambda c: (c.case_id, c.metric, c.kind)  # noqa: E731
    assert sorted(pieces.changes, key=key) == sorted(whole.changes, key=key)
    assert sum(c.kind == "regression" for c in pieces.changes) == 12


def test_a_case_only_in_one_run_is_still_compared(tmp_path):
    rows = pilot_rows("a", seed=1)
    gone = rows[0]["case_id"]
    base = load(write_run(tmp_path / "a", {"name": "p", "vendors": ["alpha", "beta", "gamma"],
                                           "suites": [{"suite": "key_rate"}]}, rows, PILOT_PARAMS))
    now = load(write_run(tmp_path / "b", {"name": "p", "vendors": ["alpha", "beta", "gamma"],
                                          "suites": [{"suite": "key_rate"}]},
                         [r for r in pilot_rows("b", seed=1) if r["case_id"] != gone], PILOT_PARAMS))
    whole = compare_rows(now.rows, base.rows, RegressionPolicy())
    assert sorted(compare(now, base).changes, key=repr) == sorted(whole.changes, key=repr)


def test_plots_draw_from_a_stated_subsample_beyond_the_limit(runs):
    run, _ = runs
    frame, sampled = run.plot_rows(limit=1000)
    tls = run.rows[(run.rows.metric == "handshake_ms") & (run.rows.status == "ok")]
    assert sampled[("tls_handshake", "handshake_ms")] == len(tls)
    kept = frame[frame.metric == "handshake_ms"]
    assert 0.3 * len(tls) / -(-len(tls) // 1000) < len(kept) < len(tls)
    assert kept.case_id.nunique() == tls.case_id.nunique()  # every case keeps some of its samples
    assert run.plot_rows(limit=1000)[0].equals(frame)  # the same subsample every time
    # the median barely moves: the plot shows the data, not the sampling
    drift = kept.groupby("case_id")["value"].median() / tls.groupby("case_id")["value"].median() - 1
    assert drift.abs().max() < 0.05
    plots = evidence_plots(frame, run.case_columns, [], [], sampled).plots
    tls_plots = [p for p in plots if p.title.startswith("tls_handshake: handshake_ms")]
    assert tls_plots and all(f"of the {len(tls)} samples" in p.caption for p in tls_plots)
    assert not any("subsample" in p.caption for p in plots if not p.title.startswith("tls_handshake"))


def test_a_run_of_many_parts_is_queried_from_one_scratch_copy(runs, monkeypatch):
    run, _ = runs
    monkeypatch.setattr(rundata, "MANY_PARTS", 10)
    copy = load(run.run_dir)
    assert copy.fetch("SELECT table_type FROM information_schema.tables WHERE table_name = 'rows'") == \
           [("BASE TABLE",)]
    pd.testing.assert_frame_equal(copy.summary(copy.case_columns), run.summary(run.case_columns))
    pd.testing.assert_frame_equal(copy.cases, run.cases)
