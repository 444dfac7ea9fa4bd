"""Evidence plots are chosen from the rows' shape, never from suite names."""

from __future__ import annotations

import numpy as np

from harness.report.plots import MAX_GRID_ROWS, evidence_plots
from tests.evalkit import PILOT_PARAMS, case_rows, frame, pilot_rows


def _kinds(rows, params) -> dict[str, str]:
    return {p.title: p.caption for p in evidence_plots(rows, params).plots}


def test_pilot_rows_get_sweeps_with_references_matrices_and_latency_distributions():
    plots = _kinds(frame(pilot_rows("r"), PILOT_PARAMS), list(PILOT_PARAMS))
    assert "dashed/dotted: reference curves" in plots["key_rate: secret_key_rate_bps (against fibre_km)"]
    assert "eavesdropping: qber (against intercept_fraction)" in plots
    assert "interop: interop_ok (matrix)" in plots
    # 3 vendors × 2 groups × 2 RTTs = 12 lines > 10: one panel per group
    assert {"tls_handshake: handshake_ms (CDF, group=X25519)",
            "tls_handshake: handshake_ms (percentiles, group=X25519MLKEM768)"} <= set(plots)
    assert not any("plob_bound_bps" in title for title in plots)  # references are never drawn alone


def test_many_categories_become_a_grid_and_timelines_follow_the_tick():
    rng = np.random.default_rng(0)
    rows = []
    for v in ("a", "b", "c", "d"):
        for alg in range(70):
            rows += case_rows("r", "prims", v, {"algorithm": f"ALG-{alg:02d}"}, "encaps_us", "us",
                              rng.lognormal(3, 0.1, 5))
        rows += case_rows("r", "kd", v, {"algorithm": "-"}, "stored_key_count", "keys", 100 - np.arange(40))
    plots = evidence_plots(frame(rows, {"algorithm": "string"}), ["algorithm"]).plots
    grid = next(p for p in plots if "grid" in p.title)
    assert f"first {MAX_GRID_ROWS} of 70 rows" in grid.caption and grid.n == 4 * 70 * 5
    assert any(p.title == "kd: stored_key_count (timeline)" for p in plots)


def test_conformance_checks_without_parameters_are_drawn_per_check_label():
    rows = []
    for vendor in ("kme-a", "kme-b"):
        for i in range(20):
            (row,) = case_rows("r", "etsi014_conformance", vendor, {}, "etsi014_check", "", [1.0], repeat=i)
            failed = vendor == "kme-b" and i in (3, 7)
            row.update(value=0.0 if failed else 1.0, check=f"check_{i:02d}",
                       verdict="FAIL" if failed else "PASS",
                       evidence=f"sent GET /api/v1/keys/SAE-{i}/status, got 200 and twelve JSON fields")
            rows.append(row)
    df = frame(rows, {}).assign(check=[r["check"] for r in rows], verdict=[r["verdict"] for r in rows],
                                evidence=[r["evidence"] for r in rows])
    (plot,) = evidence_plots(df, [], ["check", "verdict", "evidence"]).plots
    assert plot.title == "etsi014_conformance: etsi014_check (grid)" and plot.n == 40
    assert "check_07" in plot.svg and "twelve JSON" not in plot.svg  # free text is no axis



def test_a_named_expectation_is_drawn_on_its_own_metric_only():
    rows = []
    for frac in (0.0, 0.25, 0.5, 1.0):
        p = {"fraction": frac}
        rows += case_rows("r", "eve", "dev", p, "qber_rise", "ratio", [frac / 4 + 0.001], repeat=0)
        rows += case_rows("r", "eve", "dev", p, "qber_rise_expected", "ratio", [frac / 4], repeat=1)
        rows += case_rows("r", "eve", "dev", p, "delivering_share_attacked", "ratio", [1 - frac], repeat=2)
    ordered = evidence_plots(frame(rows, {"fraction": "float64"}), ["fraction"]).plots
    assert ordered[0].title == "eve: qber_rise (against fraction)"  # the one with its expectation first
    plots = {p.title: p for p in ordered}
    assert "qber_rise_expected" in plots["eve: qber_rise (against fraction)"].svg
    assert "qber_rise_expected" not in plots["eve: delivering_share_attacked (against fraction)"].svg
    assert len(plots) == 2


def test_every_suite_gets_its_share_of_the_plot_budget():
    rows = []
    for m in range(60):  # one suite with many metrics must not crowd out the next
        rows += case_rows("r", "big", "a", {"x": "1"}, f"metric_{m:02d}_ms", "ms", [1.0, 2.0], repeat=m)
    rows += case_rows("r", "small", "a", {"x": "1"}, "handshake_ms", "ms", [1.0, 2.0])
    evidence = evidence_plots(frame(rows, {"x": "string"}), ["x"], suite_order=["big", "small"])
    assert any(p.title.startswith("small:") for p in evidence.plots)
    assert len(evidence.plots) <= 40 and "big: metric_59_ms" in evidence.omitted

