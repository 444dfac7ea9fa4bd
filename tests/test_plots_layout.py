"""What a plot's text looks like to a reader: cells wide enough for their text, integers as integers,
value labels beside the axes rather than stretching them, one sample said as one."""

from __future__ import annotations

import re

import numpy as np

from harness.metrics import Declarations
from harness.report import plot_grids, plot_kinds
from harness.report.plots import Mark, evidence_plots
from harness.suite import Metric
from tests.evalkit import case_rows, frame


def _ticks(svg: str, axis: str) -> list[float]:
    found = re.findall(rf'<g id="{axis}tick_\d+">.*?<text[^>]*>([^<]+)</text>', svg, re.S)
    return [float(t.replace("−", "-")) for t in found]


def _figures(monkeypatch) -> list:
    """The matplotlib figures the plots are drawn on, laid out as to_svg lays them out."""
    kept = []
    drawn = plot_kinds.to_svg

    def keep(fig):
        fig.tight_layout()
        fig.canvas.draw()
        kept.append([(t.get_text(), t.get_window_extent()) for ax in fig.axes for t in ax.texts]
                    + [("ytick " + t.get_text(), t.get_window_extent()) for ax in fig.axes
                       for t in ax.get_yticklabels()]
                    + [("axes", ax.get_window_extent()) for ax in fig.axes])
        return drawn(fig)
    monkeypatch.setattr(plot_kinds, "to_svg", keep)
    monkeypatch.setattr(plot_grids, "to_svg", keep)
    return kept


def _tls_one_vendor() -> list[dict]:
    """pqc-tls-migration's rows of one vendor: per loss, 24 conditions with long names (a server group
    other than the client's first choice is a retry): a grid of one column and 24 rows each."""
    rows, i = [], 0
    for loss in (0.0, 3.0):
        for cert in ("ECDSA-P256", "ML-DSA-44", "ML-DSA-65"):
            for group in ("X25519MLKEM768", "SecP256r1MLKEM768"):
                for server_group in (group, "X25519"):
                    for rtt in (0.5, 31.1):
                        p = {"loss_pct": loss, "cert": cert, "group": group, "rtt_ms": rtt,
                             "server_group": server_group}
                        rows += case_rows("r", "tls_handshake", "openssl-tls", p, "server_flight_bytes",
                                          "bytes", [10795.0 + 100 * i] * 8, repeat=i)
                        i += 1
    return rows


def test_a_one_vendor_grid_is_wide_enough_for_its_cell_text_and_integers_read_plain(monkeypatch):
    figures = _figures(monkeypatch)
    params = {"loss_pct": "float64", "cert": "string", "group": "string", "rtt_ms": "float64",
              "server_group": "string"}
    plots = evidence_plots(frame(_tls_one_vendor(), params), list(params)).plots
    assert len(plots) == 2 and all("grid" in p.title for p in plots), [p.title for p in plots]
    assert re.search(r">1\d{4} \(n=8\)<", plots[0].svg) and "e+04" not in plots[0].svg + plots[1].svg
    assert len(figures) == 2
    for texts in figures:
        axes = next(box for name, box in texts if name == "axes")
        labels = [box for name, box in texts if name.startswith("ytick ")]
        cells = [(name, box) for name, box in texts if "(n=" in name]
        assert len(cells) == 24
        for name, box in cells:  # each cell's text inside the grid's one column, clear of the row labels
            assert axes.x0 <= box.x0 and box.x1 <= axes.x1, (name, box, axes)
            assert all(box.x0 > label.x1 for label in labels)


def test_integer_values_and_large_values_are_plain_integers_in_labels():
    assert plot_kinds.number_text(10795.0) == "10795"
    assert plot_kinds.number_text(4263.7) == "4264"  # p99 4.26e+03 µs
    assert plot_kinds.number_text(1952.0, 4) == "1952"
    assert plot_kinds.number_text(95.43) == "95.4" and plot_kinds.number_text(0.0123456) == "0.0123"
    rows = case_rows("r", "prims", "lib", {"algorithm": "ML-KEM-768"}, "encaps_us", "us",
                     np.linspace(1000, 4300, 40))
    _, percentiles = evidence_plots(frame(rows, {"algorithm": "string"}), ["algorithm"]).plots
    assert "p99 4267" in percentiles.svg and "e+03" not in percentiles.svg
    mark = Mark("flight", None, "encaps_us", "max", "<=", 14480.0)
    assert mark.text("bytes") == "flight: max <= 14480 bytes"  # was 1.448e+04


def _medians(values: dict[str, float]) -> list[dict]:
    return [r for i, (vendor, v) in enumerate(values.items())
            for r in case_rows("r", "soak", vendor, {"device_hours": 24.0}, "key_rate_cv", "ratio", [v],
                               repeat=i)]


def test_value_labels_do_not_stretch_the_axis_and_do_not_overlap(monkeypatch):
    figures = _figures(monkeypatch)
    mark = Mark("key_rate_stable", None, "key_rate_cv", "max", "<=", 0.25, 0.1)
    rows = _medians({"drifting": 0.1624, "steady": 0.008732})
    (plot,) = evidence_plots(frame(rows, {"device_hours": "float64"}), ["device_hours"], marks=[mark]).plots
    ticks = _ticks(plot.svg, "x")
    assert 0.25 <= max(ticks) < 0.4, ticks  # the data and the threshold; it ran to 1.4
    assert "median 0.1624 · max 0.1624 (n=1)" in plot.svg
    sizes = [r for i, (vendor, v) in enumerate({"a": 800.0, "b": 1184.0, "c": 1952.0}.items())
             for r in case_rows("r", "prims", vendor, {"algorithm": "ML-KEM"}, "public_key_bytes", "bytes",
                                [v], repeat=i)]
    sizes += [r for i, (vendor, v) in enumerate({"a": 1312.0, "b": 1952.0, "c": 2592.0}.items())
              for r in case_rows("r", "prims", vendor, {"algorithm": "ML-DSA"}, "public_key_bytes", "bytes",
                                 [v], repeat=3 + i)]
    plots = evidence_plots(frame(sizes, {"algorithm": "string"}), ["algorithm"]).plots
    (medians,) = [p for p in plots if "medians" in p.title]
    assert max(_ticks(medians.svg, "x")) < 3000, _ticks(medians.svg, "x")  # it ran to 0–4500
    for texts in figures:
        labels = [box for name, box in texts if "(n=" in name]
        assert len(labels) >= 2
        for k, a in enumerate(labels):
            assert not any(a.overlaps(b) for b in labels[k + 1:]), texts


def test_a_constant_of_one_sample_is_said_as_one():
    rows = case_rows("r", "soak", "drifting", {"device_hours": 24.0}, "recalibrations", "count", [5.0])
    rows += case_rows("r", "soak", "drifting", {"device_hours": 24.0}, "windows", "count", [48.0, 48.0],
                      repeat=1)
    rows += case_rows("r", "soak", "drifting", {"device_hours": 24.0}, "secret_bits", "bit", [1e6, 1e6],
                      repeat=2)
    constants = evidence_plots(frame(rows, {"device_hours": "float64"}), ["device_hours"]).constants
    assert constants == ["soak: recalibrations = 5 count in its one sample (drifting)",
                         "soak: secret_bits = 1000000 bit in all 2 samples (drifting)",  # was 1e+06
                         "soak: windows = 48 count in all 2 samples (drifting)"]


def test_a_grid_too_long_to_read_puts_a_numeric_condition_of_few_values_across(monkeypatch):
    figures = _figures(monkeypatch)
    rows, i = [], 0
    for loss in (0.0, 3.0):  # one panel per loss, as on pqc-tls-migration: 54 conditions in each
        for cert in ("ECDSA-P256", "ML-DSA-44", "ML-DSA-65"):
            for group in ("X25519MLKEM768", "SecP256r1MLKEM768", "X25519"):
                for server_group in ("X25519MLKEM768", "SecP256r1MLKEM768", "X25519"):
                    for rtt in (0.5, 31.1):
                        p = {"loss_pct": loss, "cert": cert, "group": group, "rtt_ms": rtt,
                             "server_group": server_group}
                        for vendor, slower in (("fast", 1.0), ("slow", 1.5)):  # fast at every delay
                            rows += case_rows("r", "tls_handshake", vendor, p, "handshake_ms", "ms",
                                              slower * (1 + 2 * rtt + loss) * np.array([1.0, 1.1]), repeat=i)
                        i += 1
    params = {"loss_pct": "float64", "cert": "string", "group": "string", "rtt_ms": "float64",
              "server_group": "string"}
    declared = Declarations({"tls_handshake": {"handshake_ms": Metric("ms", "lower")}})
    plots = evidence_plots(frame(rows, params), list(params), declarations=declared).plots
    assert [p.title for p in plots] == ["tls_handshake: handshake_ms (grid, loss_pct=0)",
                                        "tls_handshake: handshake_ms (grid, loss_pct=3)"]
    green, red = "#006837", "#a50026"  # RdYlGn at 1 and at 0
    for plot, texts in zip(plots, figures, strict=True):
        assert "rtt_ms across" in plot.caption
        assert sum(name.startswith("ytick ") for name, _ in texts) == 27  # 54 conditions, rtt_ms across
        # colours compare the vendors at each delay, not one delay with the other
        assert plot.svg.count(green) == 2 * 27 and plot.svg.count(red) == 2 * 27


def test_each_line_of_one_vendor_s_cdf_can_be_told_apart(monkeypatch):
    """pilot-dci's eight TLS conditions of one vendor were eight lines in one colour and four styles:
    X25519 at 0.5 ms and X25519MLKEM768 at 0.5 ms looked the same."""
    from matplotlib.colors import to_hex

    styles = []
    drawn = plot_kinds.to_svg

    def keep(fig):
        styles.append([(to_hex(line.get_color()), line.get_linestyle()) for ax in fig.axes
                       for line in ax.get_lines() if line.get_label().startswith("tls")])
        return drawn(fig)
    monkeypatch.setattr(plot_kinds, "to_svg", keep)
    rows, rng = [], np.random.default_rng(3)
    for i, (group, loss, rtt) in enumerate((g, lo, r) for g in ("X25519", "X25519MLKEM768")
                                           for lo in (0.0, 1.0) for r in (0.5, 31.1)):
        rows += case_rows("r", "tls_handshake", "tls", {"group": group, "loss_pct": loss, "rtt_ms": rtt},
                          "handshake_ms", "ms", list(2 * rtt + rng.exponential(1.0, 50)), repeat=i)
    params = {"group": "string", "loss_pct": "float", "rtt_ms": "float"}
    (cdf, _) = evidence_plots(frame(rows, params), list(params)).plots
    assert "CDF" in cdf.title
    (lines,) = [s for s in styles if s]
    assert len(lines) == 8 and len(set(lines)) == 8, lines
