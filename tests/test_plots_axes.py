"""What an evidence plot's axes hold: the data, not a far threshold; shown once, not twice; a reference
only beside the rows it refers to; rates over decades on a log axis with their zeros in sight."""

from __future__ import annotations

import re

import numpy as np

from harness.metrics import Declarations
from harness.report import plot_kinds
from harness.report.plots import Mark, evidence_plots
from harness.suite import Metric
from tests.evalkit import case_rows, frame


def _ticks(svg: str, axis: str) -> list[float]:
    found = re.findall(rf'<g id="{axis}tick_\d+">.*?<text[^>]*>([^<]+)</text>', svg, re.S)
    return [float(t.replace("−", "-")) for t in found]


def _handshakes(unit_rows: int = 1) -> list[dict]:
    rows = []
    for i, (mode, median) in enumerate((("psk_dhe_ke", 13.0), ("cert_dhe", 40.0))):
        values = np.linspace(0.9, 1.7, 11) * median  # 13–68 ms, as fallback's rekeys
        rows += case_rows("r", "fallback", "link", {"policy": "qkd_preferred", "mode": mode}, "handshake_ms",
                          "ms", values, repeat=i)
    return rows


def test_a_threshold_far_above_the_data_is_an_arrow_in_the_legend_and_the_axis_stays_on_the_data(monkeypatch):
    mark = Mark("hybrid_handshake_p95", None, "handshake_ms", "p95", "<=", 500.0, 100.0)
    df = frame(_handshakes(), {"policy": "string", "mode": "string"})
    (plot,) = evidence_plots(df, ["policy", "mode"], marks=[mark]).plots
    assert plot.title == "fallback: handshake_ms (medians)"
    # the axis ends near the data (68 ms) and the 100 ms target, not past 500 ms (it ran to 900 ms)
    assert max(_ticks(plot.svg, "x")) < 250, _ticks(plot.svg, "x")
    assert "threshold hybrid_handshake_p95 (p95) = 500 ms →" in plot.svg
    assert "threshold hybrid_handshake_p95 (p95) = 500 ms: far beyond the data" in plot.caption
    assert "target hybrid_handshake_p95" in plot.svg and "target hybrid_handshake_p95 = " not in plot.svg
    # a threshold near the data is still drawn across it
    limits, drawn = [], plot_kinds.to_svg
    monkeypatch.setattr(plot_kinds, "to_svg", lambda fig: limits.append(fig.axes[0].get_xlim()) or drawn(fig))
    near = Mark("hybrid_handshake_p95", None, "handshake_ms", "p95", "<=", 90.0)
    (plot,) = evidence_plots(df, ["policy", "mode"], marks=[near]).plots
    assert "far beyond" not in plot.caption and limits[-1][1] >= 90, limits


def test_a_far_threshold_on_a_sweep_or_a_distribution_is_an_arrow_too():
    rows = []
    for i, km in enumerate((10.0, 20.0, 30.0)):
        rows += case_rows("r", "key_rate", "dev", {"distance_km": km}, "secret_key_rate_bps", "bit/s",
                          [1e3 - 10 * km, 1e3 - 9 * km], repeat=i)
    mark = Mark("rate", None, "secret_key_rate_bps", "median", ">=", 1e6)
    (plot,) = evidence_plots(frame(rows, {"distance_km": "float64"}), ["distance_km"], marks=[mark]).plots
    assert "threshold rate (median) = 1000000 bit/s ↑" in plot.svg and "log" not in plot.caption
    assert max(_ticks(plot.svg, "y")) < 2000
    many = case_rows("r", "prims", "lib", {"algorithm": "ML-KEM-768"}, "encaps_us", "us",
                     np.linspace(20, 40, 30))
    mark = Mark("encaps_p99", None, "encaps_us", "p99", "<=", 5000.0)
    cdf, rows_plot = evidence_plots(frame(many, {"algorithm": "string"}), ["algorithm"], marks=[mark]).plots
    for plot in (cdf, rows_plot):
        assert "threshold encaps_p99 (p99) = 5000 us →" in plot.svg, plot.title
        assert max(_ticks(plot.svg, "x")) < 500, (plot.title, _ticks(plot.svg, "x"))


def _eavesdropping(vendors=("a", "b", "c")) -> list[dict]:
    """qkd_procurement's attacks: intercept-resend over fractions with the defence on; PNS and
    blinding at fraction 1 with it on and off (3 vendors × 5 attack settings: one panel per defence)."""
    rows, i = [], 0
    settings = [("intercept_resend", f, "on") for f in (0.0, 0.25, 0.5, 1.0)] + [
        (attack, 1.0, defence) for attack in ("pns", "blinding") for defence in ("on", "off")]
    for k, vendor in enumerate(vendors):
        for attack, frac, defence in settings:
            p = {"attack": attack, "fraction": frac, "defence": defence}
            rise = frac / 4 + 0.001 * (k + 1) if attack == "intercept_resend" else 0.0005 * (k + 1)
            rows += case_rows("r", "eve", vendor, p, "qber_rise", "ratio", [rise], repeat=i)
            rows += case_rows("r", "eve", vendor, p, "delivering_share_attacked", "ratio",
                              [1.0 if defence == "off" else float(frac < 0.25)], repeat=i)
            if attack == "intercept_resend":
                rows += case_rows("r", "eve", vendor, p, "qber_rise_expected", "ratio", [frac / 4], repeat=i)
            i += 1
    return rows


def _eve_declared():
    from harness.metrics import Declarations
    from harness.suite import Metric

    return Declarations({"eve": {
        "qber_rise": Metric("ratio", "none"), "delivering_share_attacked": Metric("ratio", "none"),
        "qber_rise_expected": Metric("ratio", "none", reference_for=("qber_rise",))}})


def test_a_condition_one_value_in_a_panel_is_stated_not_an_axis_and_a_constant_panel_is_a_sentence():
    params = {"attack": "string", "fraction": "float64", "defence": "string"}
    evidence = evidence_plots(frame(_eavesdropping(), params), list(params), declarations=_eve_declared())
    titles = {p.title: p for p in evidence.plots}
    # defence=off holds fraction 1 only: no axis of one value (0.96–1.04), the fraction is named
    assert not any("against fraction" in t and "defence=off" in t for t in titles), sorted(titles)
    off = titles["eve: qber_rise (medians, defence=off, fraction=1)"]
    assert "every row has defence=off, fraction=1" in off.caption
    assert "eve: qber_rise (against fraction, defence=on)" in titles
    # every sample with defence=off delivered: said once, not drawn as dots on top of each other
    assert ("eve: delivering_share_attacked = 1 ratio in all 6 samples with defence=off, fraction=1 (a, b, c)"
            in evidence.constants), evidence.constants
    assert not any(t.startswith("eve: delivering_share_attacked") and "defence=off" in t for t in titles)


def test_a_reference_is_drawn_only_on_a_plot_holding_the_rows_it_refers_to():
    """The intercept-resend theory went on the defence=off panel, which holds other attacks only."""
    rows, i = [], 0
    settings = [("intercept_resend", f, "on") for f in (0.0, 0.5, 1.0)] + [
        ("pns", f, defence) for f in (0.0, 0.5, 1.0) for defence in ("on", "off")]
    for k, vendor in enumerate(("a", "b", "c")):  # 3 vendors × 3 settings > 10 lines: a panel per defence
        for attack, frac, defence in settings:
            p = {"attack": attack, "fraction": frac, "defence": defence}
            rows += case_rows("r", "eve", vendor, p, "qber_rise", "ratio", [frac / 4 + 0.01 * k], repeat=i)
            if attack == "intercept_resend":
                rows += case_rows("r", "eve", vendor, p, "qber_rise_expected", "ratio", [frac / 4], repeat=i)
            i += 1
    params = {"attack": "string", "fraction": "float64", "defence": "string"}
    plots = {p.title: p for p in evidence_plots(frame(rows, params), list(params),
                                                declarations=_eve_declared()).plots}
    (on,), (off,) = ([p for t, p in plots.items() if t.startswith(f"eve: qber_rise (against fraction, {d}")]
                     for d in ("defence=on", "defence=off"))
    assert "qber_rise_expected" in on.svg and "qber_rise_expected" in on.caption
    assert "qber_rise_expected" not in off.svg and "qber_rise_expected" not in off.caption


def test_identical_grids_of_two_conditions_are_drawn_once_naming_both():
    rows, i = [], 0
    for alg in ("ML-DSA-65", "ML-DSA-87", "ML-KEM-768"):
        for vendor in ("openssl", "pqclean"):
            for check in range(6):  # 2 vendors × 6 checks > 10 lines: a grid per algorithm
                failed = vendor == "pqclean" and check == 2 and alg == "ML-KEM-768"
                rows += case_rows("r", "conf", vendor, {"algorithm": alg, "check": f"check-{check}"},
                                  "conformant", "bool", [0.0 if failed else 1.0], repeat=i)
                i += 1
    params = {"algorithm": "string", "check": "string"}
    plots = evidence_plots(frame(rows, params), list(params)).plots
    assert [p.title for p in plots] == ["conf: conformant (grid, algorithm=ML-DSA-65/ML-DSA-87)",
                                        "conf: conformant (grid, algorithm=ML-KEM-768)"]
    once = plots[0]
    assert ("these rows are identical in each of 2 conditions, drawn once: algorithm=ML-DSA-65; "
            "algorithm=ML-DSA-87") in once.caption
    assert len(once.case_ids) == 24 and once.n == 12  # the cases of both, drawn from the rows of one


def test_rates_over_decades_are_on_a_log_axis_and_their_zeros_on_its_edge():
    """trusted-node-corridor: 307 bit/s to 338 kbit/s and a single 240 km link at 0, on a linear axis."""
    rates = {"single-240km": 0.0, "chain-72+168km": 306.7, "chain-96+144km": 3863.0, "chain-2x120km": 1.6e4,
             "chain-3x80km": 1.3e5, "ring-80km": 2.6e5, "chain-4x60km": 3.4e5}
    rows = []
    for i, (layout, rate) in enumerate(rates.items()):
        rows += case_rows("r", "relay", "dev", {"layout": layout}, "end_to_end_key_rate_bps", "bit/s", [rate],
                          repeat=i)
    (plot,) = evidence_plots(frame(rows, {"layout": "string"}), ["layout"]).plots
    assert plot.title == "relay: end_to_end_key_rate_bps (medians)"
    assert "; log axis; 1 median(s) of 0 drawn hollow on the left edge" in plot.caption, plot.caption
    assert "0: on the left edge (a log axis has no 0)" in plot.svg and "0 (n=1)" in plot.svg
    # one decade and a half (it took two) and the chain's zeros past its reach: log, zeros on the edge
    rows = []
    for i, km in enumerate((20.0, 60.0, 100.0, 140.0)):
        for hops in (1.0, 2.0):
            rate = 0.0 if km / hops > 90 else 3e4 * 10 ** (-km / hops / 40)
            rows += case_rows("r", "relay", "dev", {"end_to_end_km": km, "hops": hops},
                              "end_to_end_key_rate_bps", "bit/s", [rate, rate], repeat=2 * i + int(hops))
    (plot,) = evidence_plots(frame(rows, {"end_to_end_km": "float64", "hops": "float64"}),
                             ["end_to_end_km", "hops"]).plots
    assert "log y axis; 2 median(s) of 0 drawn hollow on the bottom edge" in plot.caption, plot.caption
    assert "not drawn" not in plot.caption


def test_a_signed_difference_or_a_share_stays_on_a_linear_axis():
    rows = []
    for i, frac in enumerate((0.0, 0.25, 0.5, 1.0)):
        rows += case_rows("r", "eve", "dev", {"fraction": frac}, "qber_rise", "ratio",
                          [frac / 4 - 0.0004, frac / 4 + 0.0003], repeat=i)
        rows += case_rows("r", "eve", "dev", {"fraction": frac}, "rise_ms", "ms",
                          [1000 * frac - 0.4, 1000 * frac + 0.3], repeat=10 + i)
    plots = evidence_plots(frame(rows, {"fraction": "float64"}), ["fraction"]).plots
    assert len(plots) == 2 and not any("log" in p.caption for p in plots), [p.caption for p in plots]


def test_a_verdict_beside_a_yes_no_is_its_outcome_not_an_encoding_that_makes_rows_unlike():
    """eavesdropping: two devices differ under one attack, one detected it: 'values of a different
    verdict are not like for like' said the opposite of what the plot is for."""
    rows, verdicts = [], []
    for i, (vendor, detected) in enumerate((("a", 1.0), ("b", 0.0))):
        for j, attack in enumerate(("pns", "blinding")):
            rows += case_rows("r", "eve", vendor, {"attack": attack}, "attack_detected", "bool", [detected],
                              repeat=2 * i + j)
            rows += case_rows("r", "eve", vendor, {"attack": attack}, "alarms", "count", [3.0 * detected + j],
                              repeat=2 * i + j)
            verdicts += ["detected" if detected else "undetected", None]
    df = frame(rows, {"attack": "string"}).assign(verdict=verdicts)
    plots = evidence_plots(df, ["attack"], ["verdict"]).plots
    detected = [p for p in plots if p.title.startswith("eve: attack_detected")]
    assert detected and not any("not like for like" in p.caption for p in detected)
    # nor on a magnitude (distance_limit's probe verdict, trusted_nodes' link name): only a label the
    # suite declares qualifies the metric draws the note, so one declaring it here does
    sized = df.assign(verdict=["seed" if v == "a" else "full key" for v in df["vendor"]])
    (alarms,) = [p for p in evidence_plots(sized, ["attack"], ["verdict"]).plots if "alarms" in p.title]
    assert "not like for like" not in alarms.caption
    declared = Declarations({"eve": {"alarms": Metric("count", "none", qualified_by=("verdict",))}})
    (alarms,) = [p for p in evidence_plots(sized, ["attack"], ["verdict"], declarations=declared).plots
                 if "alarms" in p.title]
    assert "values of a different verdict are not like for like" in alarms.caption


def test_a_zero_threshold_under_counts_over_decades_is_said_to_be_below_them_not_far():
    # qkd_procurement's serves_64_keys_per_s: starved requests of 2–256 on a log axis, threshold 0
    rows = []
    for i, (vendor, starved) in enumerate((("gys", 256.0), ("lim", 71.0), ("high", 2.0))):
        rows += case_rows("r", "key_delivery", vendor, {"rate": 64.0}, "consumption_starved", "count",
                          [starved], repeat=i)
    mark = Mark("serves_64", None, "consumption_starved", "max", "<=", 0.0)
    (plot,) = evidence_plots(frame(rows, {"rate": "float64"}), ["rate"], marks=[mark]).plots
    assert "threshold serves_64 (max) = 0 count: below every value" in plot.caption, plot.caption
    assert "far beyond" not in plot.caption


def test_a_medians_axis_from_0_ends_past_its_largest_dot(monkeypatch):
    # soak's windows: 48 and 49 on an axis from 0; the values' own 5 % margin (of 1) cut the 49 in half
    rows = []
    for i, (vendor, windows) in enumerate((("steady", 48.0), ("drifting", 49.0))):
        rows += case_rows("r", "soak", vendor, {}, "windows", "count", [windows], repeat=i)
    limits, drawn = [], plot_kinds.to_svg
    monkeypatch.setattr(plot_kinds, "to_svg", lambda fig: limits.append(fig.axes[0].get_xlim()) or drawn(fig))
    (plot,) = evidence_plots(frame(rows, {}), []).plots
    assert plot.title == "soak: windows (medians)"
    assert limits[-1][0] == 0 and limits[-1][1] >= 49 * 1.04, limits


def test_a_plot_of_rows_keeps_its_data_wide_whatever_its_labels_take(monkeypatch):
    # fallback: long row labels left and values right of the axes left the dots under an inch wide
    rows, i = [], 0
    for policy in ("qkd_preferred", "hybrid"):
        for client in ("openssl-tls", "tlslite"):
            for mode in ("psk_dhe_ke", "cert_dhe"):
                params = {"policy": policy, "tls_client": client, "mode": mode}
                rows += case_rows("r", "fallback", "link", params, "handshake_ms", "ms",
                                  np.linspace(10, 60, 9) + i, repeat=i)
                i += 1
    widths, drawn = [], plot_kinds.to_svg

    def measured(fig):
        svg = drawn(fig)  # after its tight layout
        widths.append(fig.axes[0].get_position().width * fig.get_figwidth())
        return svg

    monkeypatch.setattr(plot_kinds, "to_svg", measured)
    plots = evidence_plots(frame(rows, {"policy": "string", "tls_client": "string", "mode": "string"}),
                           ["policy", "tls_client", "mode"]).plots
    assert [p.title for p in plots] == ["fallback: handshake_ms (medians)"]
    assert min(widths) >= 3.0, widths


def test_value_tick_labels_do_not_run_together():
    # the corridor: link rates of 1.7e4–3.6e5 on a log axis labelled its minor ticks over one another;
    # rates of 0 and 145317 on a linear one printed eight labels of six digits
    rows = []
    rates = (("chain", 17197.0), ("ring", 138975.0), ("star", 359210.0), ("single", 0.0), ("mesh", 33671.0))
    for i, (layout, rate) in enumerate(rates):
        rows += case_rows("r", "trusted_nodes", "lim", {"layout": layout}, "link_key_rate_bps", "bit/s",
                          [rate], repeat=i)
    (log_plot,) = evidence_plots(frame(rows, {"layout": "string"}), ["layout"]).plots
    labels = re.findall(r"<!-- (\$[^>]*?) -->", log_plot.svg)  # mathtext ticks: drawn as paths
    assert "log axis" in log_plot.caption and 2 <= len(labels) <= 5, labels  # was 8: 2×10⁴, 3×10⁴, …
    rows = []
    for i, (layout, rate) in enumerate((("chain", 0.0), ("ring", 145317.0))):
        rows += case_rows("r", "trusted_nodes", "lim", {"layout": layout}, "relay_rate_bps", "bit/s", [rate],
                          repeat=i)
    (linear,) = evidence_plots(frame(rows, {"layout": "string"}), ["layout"]).plots
    assert len(_ticks(linear.svg, "x")) <= 6, _ticks(linear.svg, "x")


def test_legends_sit_beside_the_axes_never_on_the_curves(monkeypatch):
    # matplotlib's "best" place inside covered the optimum intensities' lines and a CDF's curves
    rows = []
    for i, alg in enumerate(("ML-KEM-512", "ML-KEM-768", "ML-KEM-1024")):
        rows += case_rows("r", "prims", "lib", {"algorithm": alg}, "keygen_us", "us",
                          np.linspace(20, 400, 30) * (i + 1), repeat=i)
    for km in (10.0, 50.0, 100.0):
        rows += case_rows("r", "key_rate", "dev", {"distance_km": km}, "mu1", "photons/pulse",
                          [0.5 - km / 1e3])
    placed, drawn = [], plot_kinds.to_svg

    def measured(fig):
        fig.canvas.draw()
        ax = fig.axes[0]
        if ax.get_legend() is not None:  # rows plots name their rows on the axis instead
            placed.append(ax.get_legend().get_window_extent().x0 >= ax.get_window_extent().x1)
        return drawn(fig)

    monkeypatch.setattr(plot_kinds, "to_svg", measured)
    titles = [p.title for p in evidence_plots(frame(rows, {"algorithm": "string", "distance_km": "float64"}),
                                              ["algorithm", "distance_km"]).plots]
    assert "prims: keygen_us (CDF)" in titles and "key_rate: mu1 (against distance_km)" in titles, titles
    assert len(placed) == 2 and all(placed), placed  # the CDF's and the sweep's


def test_lines_of_one_value_each_are_medians_not_a_cdf_of_vertical_steps():
    """pilot-dci drew client_hello_bytes as a CDF: 229 bytes in all 50 X25519 handshakes, 1413 in all
    50 hybrid ones, two vertical steps; the percentile plot beside it said the same."""
    rows = []
    for i, (group, size) in enumerate((("X25519", 229.0), ("X25519MLKEM768", 1413.0))):
        rows += case_rows("r", "tls", "openssl", {"group": group}, "client_hello_bytes", "bytes", [size] * 50,
                          repeat=i)
    (plot,) = evidence_plots(frame(rows, {"group": "string"}), ["group"]).plots
    assert plot.title == "tls: client_hello_bytes (medians)"
    rows[0] = {**rows[0], "value": 230.0}  # one handshake differs: a distribution to draw
    assert [p.title for p in evidence_plots(frame(rows, {"group": "string"}), ["group"]).plots] == [
        "tls: client_hello_bytes (CDF)", "tls: client_hello_bytes (percentiles)"]


def test_values_of_different_links_are_never_one_dot():
    """trusted-node-corridor drew one dot of link_key_rate_bps per layout: the 72+168 km chain's
    'median 102057 (n=2)' between its links' 204 kbit/s and 300 bit/s, neither link's rate."""
    rows = []
    for i, (layout, links) in enumerate((("chain-72+168km", {"A-N1": 204_000.0, "N1-B": 300.0}),
                                         ("chain-3x80km", {"A-N1": 139_000.0, "N1-N2": 139_000.0,
                                                           "N2-B": 139_000.0}))):
        for link, rate in links.items():
            rows += [{**r, "link": link} for r in case_rows("r", "nodes", "lim-2014", {"layout": layout},
                                                            "link_key_rate_bps", "bit/s", [rate], repeat=i)]
    df = frame(rows, {"layout": "string"}).assign(link=[r["link"] for r in rows])
    per_link = Declarations({"nodes": {"link_key_rate_bps": Metric("bit/s", "higher", per=("link",))}})
    drawn = evidence_plots(df, ["layout"], ["link"], declarations=per_link).plots
    shown = " ".join(p.svg for p in drawn)
    assert "102150" not in shown and "204000" in shown and "300 (n=1)" in shown
    pooled = evidence_plots(df, ["layout"], ["link"], declarations=Declarations(
        {"nodes": {"link_key_rate_bps": Metric("bit/s", "higher")}})).plots
    assert "102150 (n=2)" in " ".join(p.svg for p in pooled)  # what an undeclared label still does
