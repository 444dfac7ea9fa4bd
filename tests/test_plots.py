"""Evidence plots are chosen from the rows' shape, never from suite names."""

from __future__ import annotations

import re

import numpy as np

from harness.metrics import Declarations
from harness.report.plots import MAX_GRID_ROWS, evidence_plots
from harness.suite import Metric
from tests.evalkit import PILOT_PARAMS, case_rows, frame, pilot_rows


def _kinds(rows, params) -> dict[str, str]:
    return {p.title: p.caption for p in evidence_plots(rows, params).plots}


def test_pilot_rows_get_sweeps_with_references_matrices_and_latency_distributions():
    drawn = evidence_plots(frame(pilot_rows("r"), PILOT_PARAMS), list(PILOT_PARAMS),
                           declarations=Declarations.installed(["key_rate"])).plots
    plots = {p.title: p.caption for p in drawn}
    assert ("dashed/dotted: plob_bound_bps, which the suite declares as references for secret_key_rate_bps"
            in plots["key_rate: secret_key_rate_bps (against fibre_km)"])
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
    timeline = Declarations({"kd": {"stored_key_count": Metric("keys", "none", timeline=True)}})
    plots = evidence_plots(frame(rows, {"algorithm": "string"}), ["algorithm"], declarations=timeline).plots
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



def test_every_suite_gets_its_share_of_the_plot_budget():
    rows = []
    for m in range(60):  # one suite with many metrics must not crowd out the next
        rows += case_rows("r", "big", "a", {"x": "1"}, f"metric_{m:02d}_ms", "ms", [1.0, 2.0], repeat=m)
    rows += case_rows("r", "small", "a", {"x": "1"}, "handshake_ms", "ms", [1.0, 2.0])
    evidence = evidence_plots(frame(rows, {"x": "string"}), ["x"], suite_order=["big", "small"])
    assert any(p.title.startswith("small:") for p in evidence.plots)
    assert len(evidence.plots) <= 40 and "big: metric_59_ms" in evidence.omitted



def _tls_like(rng) -> list[dict]:
    """Two RTTs × two groups × three losses (an x axis): the old hue kept one of RTT and group."""
    rows = []
    for vendor in ("a", "b"):
        for rtt in (0.5, 31.1):
            for group in ("X25519", "MLKEM"):
                for loss in (0.0, 1.0, 2.0):
                    values = rng.normal(rtt * 3 + 2 + loss * 10, 0.2, 30)
                    rows += case_rows("r", "tls", vendor, {"rtt_ms": rtt, "group": group, "loss_pct": loss},
                                      "handshake_ms", "ms", values)
    return rows


def test_rows_that_differ_in_a_parameter_are_never_pooled_into_one_line():
    rows = _tls_like(np.random.default_rng(1))
    params = {"rtt_ms": "float64", "group": "string", "loss_pct": "float64"}
    plots = evidence_plots(frame(rows, params), list(params)).plots
    for plot in plots:
        # every parameter is the x axis, a line's label, or one value the caption names
        named = plot.caption.split(";")[0] + plot.caption.split("each line: one vendor")[1].split(";")[0]
        fixed = plot.caption.partition("every row has ")[2].split(";")[0]
        for column in params:
            assert column in named or column in fixed, (plot.title, plot.caption)
    against = [p for p in plots if "against loss_pct" in p.title]
    assert len(against) == 2 and all(p.n == 2 * 2 * 3 * 30 for p in against)  # one per group


def test_a_criterion_metric_comes_first_with_its_threshold_and_constants_are_stated():
    from harness.report.plots import Mark

    rows = []
    for m in range(60):  # a budget-busting suite first: the criterion's metric must still be drawn
        rows += case_rows("r", "big", "a", {"x": "1"}, f"metric_{m:02d}_ms", "ms", [1.0, 2.0], repeat=m)
    rows += case_rows("r", "kd", "a", {"x": "1"}, "enc_keys_latency_ms", "ms", [3.0, 4.0, 5.0])
    rows += case_rows("r", "kd", "a", {"x": "1"}, "round_trips", "count", [1.0, 1.0, 1.0])
    mark = Mark("latency_p95", None, "enc_keys_latency_ms", "p95", "<=", 4.5, 3.5)
    evidence = evidence_plots(frame(rows, {"x": "string"}), ["x"], suite_order=["big", "kd"], marks=[mark])
    first = evidence.plots[0]
    assert first.title.startswith("kd: enc_keys_latency_ms")
    assert "latency_p95: p95 <= 4.5 ms, target 3.5 ms" in first.caption
    assert "threshold latency_p95" in first.svg and "target latency_p95" in first.svg
    assert "kd: round_trips = 1 count in all 3 samples (a)" in evidence.constants
    assert not any("round_trips" in p.title for p in evidence.plots)


def test_conditions_of_one_vendor_differ_in_line_style_not_only_in_the_legend():
    rows = []
    for attack in ("intercept_resend", "pns"):
        for frac in (0.0, 0.5, 1.0):
            rows += case_rows("r", "eve", "dev", {"attack": attack, "fraction": frac}, "qber", "ratio",
                              [frac / 4 + (attack == "pns") * 0.01])
    (plot,) = evidence_plots(frame(rows, {"attack": "string", "fraction": "float64"}),
                             ["attack", "fraction"]).plots
    assert "each line: one vendor × attack" in plot.caption
    assert "stroke-dasharray" in plot.svg  # the second attack is dashed, the first solid


def test_reaches_in_the_x_axis_unit_are_vertical_lines_named_in_the_caption():
    rows = []
    for i, km in enumerate((10.0, 50.0, 100.0)):
        p = {"distance_km": km}
        rate = [1e6 / (1 + km), 9e5 / (1 + km)]
        rows += case_rows("r", "key_rate", "dev", p, "secret_key_rate_bps", "bit/s", rate, repeat=3 * i)
        rows += case_rows("r", "key_rate", "dev", p, "analytic_finite_key_reach_km", "km", [151.3],
                          repeat=3 * i + 1)
        rows += case_rows("r", "key_rate", "dev", p, "analytic_asymptotic_reach_km", "km", [179.5],
                          repeat=3 * i + 2)
    declared = Declarations.installed(["key_rate"])
    drawn = evidence_plots(frame(rows, {"distance_km": "float64"}), ["distance_km"],
                           declarations=declared).plots
    plots = {p.title: p for p in drawn}
    assert set(plots) == {"key_rate: secret_key_rate_bps (against distance_km)"}  # reaches never alone
    plot = plots["key_rate: secret_key_rate_bps (against distance_km)"]
    assert ("vertical lines: analytic_asymptotic_reach_km (dev) = 179.5 km; "
            "analytic_finite_key_reach_km (dev) = 151.3 km") in plot.caption
    assert "analytic_finite_key_reach_km (dev)" in plot.svg
    # Against a parameter in another unit they are no position on the axis and are not drawn.
    other = [{**r, "distance_km": None, "loss_db": r["distance_km"]} for r in rows]
    plots = evidence_plots(frame(other, {"loss_db": "float64", "distance_km": "float64"}), ["loss_db"],
                           declarations=declared).plots
    assert plots and all("reach" not in p.caption and "reach" not in p.svg for p in plots)


def test_the_same_samples_under_several_conditions_are_drawn_once_and_twin_columns_name_once():
    rows = []
    schedules = {"fibre_cut": [0.0, 1.0, 1.0, 0.0], "qber_rise": [0.0, 0.0, 1.0, 1.0]}
    for i, (policy, pair) in enumerate([(p, c) for p in ("qkd_only", "hybrid", "preferred")
                                        for c in ("a→b", "b→a")]):
        for j, (fault, schedule) in enumerate(schedules.items()):
            p = {"policy": policy, "client": pair, "server": pair[::-1], "fault_index": float(j),
                 "fault": fault}
            rows += case_rows("r", "fallback", "link", p, "fault_active", "bool", schedule, repeat=2 * i + j)
    params = {"policy": "string", "client": "string", "server": "string", "fault_index": "float64",
              "fault": "string"}
    schedule = Declarations({"fallback": {"fault_active": Metric("bool", "none", timeline=True)}})
    plots = evidence_plots(frame(rows, params), list(params), declarations=schedule).plots
    # 12 cases, two schedules (one per fault): two plots, each naming the conditions it stands for,
    # also across the panels of each client (they were drawn once per client, four plots)
    assert len(plots) == 2 and all("identical in each of" in p.caption for p in plots)
    assert sorted(len(p.case_ids) for p in plots) == [6, 6]
    assert all("client=a→b; client=b→a" in p.caption for p in plots)
    caption = plots[0].caption
    assert "fault_index goes one to one with fault" in caption
    assert "server goes one to one with client" in caption
    assert "fault_index=0.0" not in caption + plots[0].title  # an index reads as an integer


def test_integer_values_of_float_columns_read_as_integers():
    from harness.evaluation.summary import value_text

    assert [value_text(v) for v in (0.0, 3.0, 2.5, "x", np.float64(7.0), float("nan"))] == [
        "0", "3", "2.5", "x", "7", "nan"]


def _encaps_rows() -> list[dict]:
    rows = []
    for i, vendor in enumerate(("openssl", "pqclean")):
        for j, alg in enumerate(("ML-KEM-768", "ML-KEM-1024")):
            rows += case_rows("r", "prims", vendor, {"algorithm": alg}, "encaps_us", "us",
                              np.linspace(20, 40, 30) * (1 + j), repeat=2 * i + j)
    return rows


def test_a_threshold_is_drawn_against_the_rows_it_judges_only():
    from harness.report.plots import Mark

    mark = Mark("mlkem768_encaps_p99", None, "encaps_us", "p99", "<=", 100.0, 30.0,  # near the 20–80 us
                (("algorithm", ("ML-KEM-768",)),))
    plots = evidence_plots(frame(_encaps_rows(), {"algorithm": "string"}), ["algorithm"], marks=[mark]).plots
    cdf = next(p for p in plots if "CDF" in p.title)
    rows = next(p for p in plots if "percentiles" in p.title)
    # 4 lines (2 vendors × 2 algorithms) stay on one plot; the ML-KEM-768 rows carry the threshold
    assert "each line: one vendor × algorithm" in rows.caption
    assert "mlkem768_encaps_p99 judges only some of these lines" in cdf.caption
    assert "threshold mlkem768_encaps_p99" not in cdf.svg and "threshold mlkem768_encaps_p99" in rows.svg
    # the rows' threshold is two short segments (one per vendor's ML-KEM-768 row), not one line across
    assert len(re.findall(r'<g id="LineCollection_\d+">', rows.svg)) == 4  # threshold + target, twice
    every = Mark("encaps_p99", None, "encaps_us", "p99", "<=", 500.0)
    plots = evidence_plots(frame(_encaps_rows(), {"algorithm": "string"}), ["algorithm"], marks=[every]).plots
    assert all("threshold encaps_p99" in p.svg for p in plots)  # judges every line: drawn across all


def test_a_threshold_at_one_distance_marks_that_distance_and_far_reaches_are_arrows():
    from harness.report.plots import Mark

    rows = []
    for i, km in enumerate((40.0, 50.0, 60.0)):
        p = {"distance_km": km}
        rows += case_rows("r", "key_rate", "dev", p, "secret_key_rate_bps", "bit/s", [3e4 / km, 2.9e4 / km],
                          repeat=2 * i)
        rows += case_rows("r", "key_rate", "dev", p, "analytic_asymptotic_reach_km", "km", [179.5],
                          repeat=2 * i + 1)
    mark = Mark("rate_50km", None, "secret_key_rate_bps", "median", ">=", 500.0, None,
                (("distance_km", (50,)),))
    (plot,) = evidence_plots(frame(rows, {"distance_km": "float64"}), ["distance_km"], marks=[mark],
                             declarations=Declarations.installed(["key_rate"])).plots
    assert "1 of them beyond the data, named in the legend by an arrow" in plot.caption
    assert "analytic_asymptotic_reach_km (dev) = 179.5 km →" in plot.svg
    assert "threshold rate_50km" in plot.svg
    # the axis stays on the measured 40–60 km: no tick label at 100 km or beyond
    ticks = [float(t) for t in re.findall(r'<g id="xtick_\d+">.*?<text[^>]*>([\d.]+)</text>', plot.svg, re.S)]
    assert ticks and max(ticks) <= 65, ticks


def test_lines_a_criterion_leaves_out_of_a_sweep_go_apart_and_a_yes_no_keeps_its_0_1_axis():
    from harness.report.plots import Mark

    rows = []
    for i, (attack, fractions) in enumerate((("intercept_resend", (0.0, 0.25, 0.5, 1.0)), ("pns", (1.0,)),
                                             ("blinding", (1.0,)))):
        for j, frac in enumerate(fractions):
            rows += case_rows("r", "eve", "dev", {"attack": attack, "fraction": frac}, "attack_detected",
                              "bool", [float(frac > 0)], repeat=10 * i + j)
    mark = Mark("detects_ir", None, "attack_detected", "rate", ">=", 1.0, None,
                (("attack", ("intercept_resend",)), ("fraction", (0.25, 0.5, 1.0))))
    evidence = evidence_plots(frame(rows, {"attack": "string", "fraction": "float64"}),
                              ["attack", "fraction"], marks=[mark])
    titles = {p.title: p for p in evidence.plots}
    judged = titles["eve: attack_detected (against fraction, attack=intercept_resend)"]
    assert "threshold detects_ir" in judged.svg
    # the other attacks, one fraction and detected each time: stated, not a plot of two dots at 1
    assert set(titles) == {judged.title}
    assert ("eve: attack_detected = true in all 2 samples with attack≠intercept_resend, fraction=1 (dev)"
            in evidence.constants), evidence.constants
    ticks = re.findall(r'<g id="ytick_\d+">.*?<text[^>]*>([\d.−-]+)</text>', judged.svg, re.S)
    assert ticks[0] == "0.0" and ticks[-1] == "1.0", ticks  # not ±0.04 around a constant


def test_columns_a_layout_name_fixes_do_not_split_it_and_a_name_for_a_sweep_point_does_not_hide_the_sweep():
    layouts = {"single-240km": (240.0, 1.0), "chain-2x120km": (240.0, 2.0), "chain-72+168km": (240.0, 2.0),
               "chain-3x80km": (240.0, 3.0), "ring-80km": (220.0, 3.0), "chain-4x60km": (240.0, 4.0)}
    rows = []
    for i, (name, (km, hops)) in enumerate(layouts.items()):
        rows += case_rows("r", "relay", "dev", {"layout": name, "end_to_end_km": km, "hops": hops},
                          "end_to_end_key_rate_bps", "bit/s", [1e5 / (1 + i)], repeat=i)
    params = {"layout": "string", "end_to_end_km": "float64", "hops": "float64"}
    (plot,) = evidence_plots(frame(rows, params), list(params)).plots  # was one plot per layout
    assert "each line: one vendor × layout" in plot.caption
    assert "end_to_end_km, hops are fixed by layout" in plot.caption
    sweep = []
    for i, (km, hops) in enumerate((a, b) for a in (20.0, 60.0, 100.0, 140.0, 180.0, 220.0, 260.0)
                                   for b in (1.0, 2.0)):  # more layouts than plots or lines take
        sweep += case_rows("r", "relay", "dev", {"layout": f"chain-{hops:g}x{km / hops:g}km",
                                                 "end_to_end_km": km, "hops": hops},
                           "end_to_end_key_rate_bps", "bit/s", [1e6 / km / hops], repeat=i)
    (plot,) = evidence_plots(frame(sweep, params), list(params)).plots
    assert plot.title == "relay: end_to_end_key_rate_bps (against end_to_end_km)"
    assert "each line: one vendor × hops" in plot.caption
    assert "layout is fixed by end_to_end_km and hops" in plot.caption

    # An off-centre chain shares its length and hops with an equal one: the layout is a condition of
    # its own, one point each; a line through both would pool them.
    centre = {"layout": "chain-15+45km", "end_to_end_km": 60.0, "hops": 2.0}
    off = sweep + case_rows("r", "relay", "dev", centre, "end_to_end_key_rate_bps", "bit/s", [3e3], repeat=99)
    (plot,) = evidence_plots(frame(off, params), list(params)).plots
    assert plot.title == "relay: end_to_end_key_rate_bps (against end_to_end_km)"
    assert "one point per layout (the median of its samples), not joined" in plot.caption
    assert "each marker: one vendor × hops" in plot.caption and plot.n == len(off)


def test_a_reach_just_past_the_data_stays_on_the_axis_when_another_is_an_arrow(monkeypatch):
    """nightly_lab: the asymptotic reach (140.8 km) went to an arrow and the axis was then cut to the
    data, clipping the finite-key reach line at 109.5 km drawn just past the last distance (100 km)."""
    from harness.report import plot_kinds, plots

    limits = []

    def keep_limits(fig):
        limits.extend(ax.get_xlim() for ax in fig.axes)
        return "<svg/>"

    monkeypatch.setattr(plot_kinds, "to_svg", keep_limits)
    rows = []
    for i, km in enumerate((25.0, 50.0, 75.0, 100.0)):
        p = {"distance_km": km}
        rows += case_rows("r", "key_rate", "dev", p, "secret_key_rate_bps", "bit/s", [3e4 / km, 2.9e4 / km],
                          repeat=3 * i)
        rows += case_rows("r", "key_rate", "dev", p, "analytic_asymptotic_reach_km", "km", [140.8],
                          repeat=3 * i + 1)
        rows += case_rows("r", "key_rate", "dev", p, "analytic_finite_key_reach_km", "km", [109.5],
                          repeat=3 * i + 2)
    (plot,) = plots.evidence_plots(frame(rows, {"distance_km": "float64"}), ["distance_km"],
                                   declarations=Declarations.installed(["key_rate"])).plots
    assert "1 of them beyond the data" in plot.caption
    ((low, high),) = limits
    assert low <= 25.0 and 109.5 < high < 140.8


def test_rows_several_criteria_leave_out_are_titled_by_those_criteria_not_by_their_conditions():
    """pqc-tls-migration: each of five criteria on (cert, group) left the rest to a plot of its own,
    titled "not (cert=…, group=…), not (cert=…, group=…), …", six lines of title."""
    from harness.report.plots import Mark

    rows, i = [], 0
    for cert in ("ECDSA-P256", "ML-DSA-44"):
        for group in ("X25519", "X25519MLKEM768", "MLKEM768"):
            for rtt in (0.5, 31.1, 78.7):
                p = {"cert": cert, "group": group, "loss_pct": 0, "rtt_ms": rtt}
                rows += case_rows("r", "tls", "dev", p, "handshake_ms", "ms", [rtt * 2 + 1, rtt * 2 + 2],
                                  repeat=i)
                i += 1
    marks = [Mark(name, None, "handshake_ms", "p95", "<=", 70.0, 64.0,
                  (("cert", ("ECDSA-P256",)), ("group", (group,)), ("loss_pct", (0,)), ("rtt_ms", (31.1,))))
             for name, group in (("classical", "X25519"), ("hybrid", "X25519MLKEM768"))]
    plots = evidence_plots(frame(rows, {"cert": "string", "group": "string", "loss_pct": "int64",
                                        "rtt_ms": "float64"}), ["cert", "group", "loss_pct", "rtt_ms"],
                           marks=marks).plots
    titles = [p.title for p in plots]
    assert not any("not (" in t for t in titles), titles
    assert any("not judged by classical, hybrid" in t for t in titles), titles
    assert all(t.count("cert=") <= 1 for t in titles), titles  # a condition is not said twice


def test_a_panel_that_still_holds_too_many_lines_is_split_again_and_no_line_is_left_out():
    # qkd_procurement's eavesdropping: split per defence, the defence=on panel still held 4 vendors × 3
    # attacks = 12 lines, and the two past MAX_LINES (lim-2014's intercept-resend and PNS) went unseen
    rows = []
    attacks_by_defence = (("on", ("intercept_resend", "blinding", "pns")), ("off", ("blinding", "pns")))
    for v in ("a", "b", "c", "d"):
        for defence, attacks in attacks_by_defence:
            for attack in attacks:
                for f in (0.0, 0.25, 0.5, 0.75, 1.0) if attack == "intercept_resend" else (1.0,):
                    rows += case_rows("r", "eav", v, {"attack": attack, "defence": defence, "fraction": f},
                                      "qber_rise", "ratio", [0.1 * f + 0.01 * ord(v) + 0.001 * len(attack)])
    declarations = Declarations({"eav": {"qber_rise": Metric("ratio", "lower")}})
    params = {"attack": "string", "defence": "string", "fraction": "double"}
    plots = evidence_plots(frame(rows, params), list(params), declarations=declarations).plots
    by_title = {p.title: p.n for p in plots}
    assert by_title["eav: qber_rise (against fraction, defence=on, attack=intercept_resend)"] == 4 * 5
    assert sum(by_title.values()) == len(rows)  # every sample is in a plot


def test_a_value_the_same_to_rounding_in_every_sample_is_stated_not_drawn():
    # sweep-distance's node_key_exposure: 1 and 1 − 1e−12, drawn on a −1…1 axis offset by 1e−12+10e−1
    rows = []
    for i, km in enumerate((20.0, 100.0, 200.0)):
        rows += case_rows("r", "trusted_nodes", "lim", {"end_to_end_km": km}, "node_key_exposure", "ratio",
                          [1.0, 1.0 - 1e-12], repeat=i)
    found = evidence_plots(frame(rows, {"end_to_end_km": "float64"}), ["end_to_end_km"])
    assert not found.plots
    assert found.constants == ["trusted_nodes: node_key_exposure = 1 ratio in all 6 samples (lim)"]
