"""Trends for the nightly report: per-run medians of this scenario's cases, with detected steps.

Series follow case fingerprints, so each line is one experiment measured night
after night. Metrics flagged against the baseline are shown first; without a
comparison, the first few metrics of the run. Needs three runs or more.
"""

from __future__ import annotations

import numpy as np

from harness.compare import Comparison
from harness.history import runs, steps
from harness.report.plots import Plot, _slug
from harness.report.svg import figure, styled, to_svg
from harness.rundata import RunData, load

MIN_RUNS = 3
MAX_TRENDS = 6
MAX_CASES = 8


def _pick(run: RunData, comparison: Comparison | None) -> list[tuple[str, str]]:
    if comparison is not None:
        flagged = [(c.suite, c.metric) for c in comparison.changes
                   if c.kind in ("regression", "improvement") and c.metric != "case_status"]
        if flagged:
            return list(dict.fromkeys(flagged))[:MAX_TRENDS]
    ok = run.rows[run.rows["status"] == "ok"]
    return sorted(set(zip(ok["suite"], ok["metric"], strict=True)))[:MAX_TRENDS]


def trend_plots(run: RunData, comparison: Comparison | None) -> list[Plot]:
    if run.scenario is None:
        return []
    index = runs(run.run_dir.parent)
    index = index[index["scenario"] == run.scenario.name].sort_values(["started", "run_id"])
    if len(index) < MIN_RUNS:
        return []
    history = [load(d).rows.assign(run_order=i) for i, d in enumerate(index["run_dir"])]
    plots = []
    threshold = run.scenario.regression.threshold
    for suite, metric in _pick(run, comparison):
        with styled():
            fig, ax = figure(6.4, 3.2)
            notes, cases = [], []
            for case_id in sorted(set(run.rows.loc[(run.rows["suite"] == suite)
                                                   & (run.rows["metric"] == metric), "case_id"]))[:MAX_CASES]:
                series = [(h["run_order"].iloc[0], h.loc[(h["case_id"] == case_id) & (h["metric"] == metric)
                                                         & (h["status"] == "ok"), "value"].median())
                          for h in history if len(h)]
                series = [(i, m) for i, m in series if np.isfinite(m)]
                if len(series) < 2:
                    continue
                xs, ys = zip(*series, strict=True)
                vendor = run.rows.loc[run.rows["case_id"] == case_id, "vendor"].iloc[0]
                line, = ax.plot(xs, ys, marker="o", ms=3, label=f"{vendor} {case_id[:8]}")
                for step in steps(ys, threshold):
                    ax.axvline(xs[step.index] - 0.5, color=line.get_color(), ls=":", lw=1)
                    notes.append(f"{vendor} {case_id[:8]}: step at run {xs[step.index]} "
                                 f"({step.before:.4g} → {step.after:.4g})")
                cases.append(case_id)
            if not cases:
                continue
            ax.set_xlabel("run (oldest first)")
            ax.set_ylabel(metric)
            ax.legend(fontsize=7, frameon=False)
            svg = to_svg(fig)
        caption = (f"median per run of {len(index)} runs of {run.scenario.name}; dotted: detected steps"
                   + (" — " + "; ".join(notes) if notes else " — no step detected"))
        plots.append(Plot(_slug("trend", suite, metric), f"{suite}: {metric} over runs", caption, svg,
                          len(index), tuple(cases)))
    return plots


def series_svg(series, metric: str, keys: list[str], threshold: float) -> str:
    """`qsbench history --plot`: medians per run with p25–p75 bands and dotted detected steps."""
    runs_in_order = list(dict.fromkeys(series["run_id"]))
    position = {r: i for i, r in enumerate(runs_in_order)}
    with styled():
        fig, ax = figure(6.4, 3.4)
        for key, part in series.groupby(keys, sort=True):
            xs = [position[r] for r in part["run_id"]]
            label = " ".join(map(str, key)) if isinstance(key, tuple) else str(key)
            line, = ax.plot(xs, part["median"], marker="o", ms=3, label=label)
            ax.fill_between(xs, part["p25"], part["p75"], color=line.get_color(), alpha=0.2, lw=0)
            for step in steps(part["median"].to_numpy(), threshold):
                ax.axvline(xs[step.index] - 0.5, color=line.get_color(), ls=":", lw=1)
        ax.set_xlabel(f"run (oldest first, {len(runs_in_order)} runs)")
        ax.set_ylabel(metric)
        ax.legend(fontsize=7, frameon=False)
        return to_svg(fig)
