"""Timelines in the evidence plots: what the rows' own suite declares a timeline, its clock read in
the caption, and the fault windows a 0/1 timeline shades on the others."""

from __future__ import annotations

import numpy as np
import pytest

from harness.metrics import Declarations
from harness.report.plots import evidence_plots
from harness.suite import Metric, Suite
from tests.evalkit import case_rows, frame


def test_fault_windows_are_shaded_on_the_recovery_timelines_and_not_drawn_alone():
    rows = []
    active = [0.0] * 4 + [1.0] * 3 + [0.0] * 5
    for i, (fault, at) in enumerate([("fibre_cut", 4.0), ("qber_rise", 4.0)]):
        p = {"fault": fault, "fault_at_s": at}
        rows += case_rows("r", "recovery", "link", p, "fault_active", "bool", active, repeat=i)
        rows += case_rows("r", "recovery", "link", p, "stored_key_count", "keys",
                          [100.0 - 5 * t for t in range(12)], repeat=i)
    df = frame(rows, {"fault_at_s": "float64"})
    declared = Declarations.installed(["recovery"])
    plots = evidence_plots(df, ["fault", "fault_at_s"], declarations=declared).plots
    (plot,) = plots  # one line per fault, the windows shaded behind them; fault_active not drawn alone
    assert plot.title == "recovery: stored_key_count (timeline)"
    assert "shaded: ticks 4–6, where fault_active is 1" in plot.caption
    # Without the declaration, fault_active is a timeline of its own and nothing is shaded.
    plain = evidence_plots(df, ["fault", "fault_at_s"]).plots
    assert any("fault_active" in p.title for p in plain) and not any("shaded" in p.caption for p in plain)


def test_shading_is_declared_on_a_0_1_timeline_for_another_timeline():
    with pytest.raises(ValueError, match="0/1 timeline metric"):
        Metric("keys", "none", timeline=True, shades=("x",))
    with pytest.raises(TypeError, match="which is not another timeline metric"):
        type("Broken", (Suite,), {"metrics": {
            "rate": Metric("bit/s", "higher"),
            "down": Metric("bool", "none", timeline=True, shades=("rate",))}})


def _soak_rows() -> list[dict]:
    """soak's windows (a key rate, a QBER and the device time at each window's end) beside key_rate's
    sweep, which declares the same secret_key_rate_bps as no timeline."""
    rows = []
    for i, vendor in enumerate(("steady", "drifting")):
        hours = 0.5 * np.arange(1, 31) + 0.01 * i
        p = {"device_hours": 15.0, "fibre_km": np.nan}
        rows += case_rows("r", "soak", vendor, p, "secret_key_rate_bps", "bit/s", 1e4 - 30 * i * hours)
        rows += case_rows("r", "soak", vendor, p, "qber", "ratio", 0.02 + 0.001 * i * hours)
        rows += case_rows("r", "soak", vendor, p, "window_hours", "h", hours)
        for k, km in enumerate((10.0, 20.0, 30.0)):
            rows += case_rows("r", "key_rate", vendor, {"device_hours": np.nan, "fibre_km": km},
                              "secret_key_rate_bps", "bit/s", [1e4 / km, 1.1e4 / km], repeat=k)
    return rows


def test_a_timeline_is_what_the_rows_own_suite_declares_and_its_clock_is_read_in_the_caption():
    params = {"device_hours": "float64", "fibre_km": "float64"}
    declared = Declarations.installed(["soak", "key_rate"])  # both declare secret_key_rate_bps
    plots = {p.title: p for p in evidence_plots(frame(_soak_rows(), params), list(params),
                                                declarations=declared).plots}
    assert {"soak: secret_key_rate_bps (timeline)", "soak: qber (timeline)",
            "key_rate: secret_key_rate_bps (against fibre_km)"} <= set(plots), sorted(plots)
    assert not any("window_hours" in title or "CDF" in title for title in plots), sorted(plots)
    caption = plots["soak: secret_key_rate_bps (timeline)"].caption
    assert "tick: the sample index, one per observation of a case (secret key rate of one window" in caption
    assert "window_hours, the suite's clock of these ticks (not drawn alone), reads 0.505 h at tick 0 " \
           "and 15.005 h at tick 29" in caption


def test_a_rising_timeline_with_a_good_direction_or_without_other_timelines_is_no_clock_and_is_drawn():
    rows = []
    for vendor in ("a", "b"):
        rows += case_rows("r", "kd", vendor, {"n": 1.0}, "queue_wait_s", "s", 0.1 * np.arange(1, 21))
        rows += case_rows("r", "kd", vendor, {"n": 1.0}, "elapsed_s", "s", 1.0 * np.arange(1, 21))
    waits = {"queue_wait_s": Metric("s", "lower", timeline=True),
             "elapsed_s": Metric("s", "none", timeline=True)}
    titles = {p.title for p in evidence_plots(frame(rows, {"n": "float64"}), ["n"],
                                              declarations=Declarations({"kd": waits})).plots}
    assert titles == {"kd: queue_wait_s (timeline)"}  # a wait that grows is drawn; the clock is read
    alone = [r for r in rows if r["metric"] == "elapsed_s"]
    titles = {p.title for p in evidence_plots(frame(alone, {"n": "float64"}), ["n"],
                                              declarations=Declarations({"kd": waits})).plots}
    assert titles == {"kd: elapsed_s (timeline)"}  # with nothing to read it in, the clock is drawn
