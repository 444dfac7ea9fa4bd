"""Trends for the nightly report: per-run medians of this scenario's cases, with detected steps.

Series follow case fingerprints, so each line is one experiment measured night
after night. Metrics flagged against the baseline are shown first; without a
comparison, the first few metrics of the run. Needs three runs or more.
"""

from __future__ import annotations

import numpy as np

from harness.evaluation.compare import Comparison
from harness.evaluation.history import case_medians, runs, steps
from harness.report.plots import Plot, _slug
from harness.report.svg import figure, styled, to_svg
from harness.rundata import RunData

MIN_RUNS = 3
MAX_TRENDS = 6
MAX_CASES = 8


def _pick(run: RunData, comparison: Comparison | None) -> list[tuple[str, str]]:
    if comparison is not None:
        flagged = [(c.suite, c.metric) for c in comparison.changes
                   if c.kind in ("regression", "improvement") and c.metric != "case_status"]
        if flagged:
            return list(dict.fromkeys(flagged))[:MAX_TRENDS]
    return run.fetch(f"SELECT DISTINCT suite, metric FROM rows WHERE status = 'ok' "
                     f"ORDER BY suite, metric LIMIT {MAX_TRENDS}")


def trend_plots(run: RunData, comparison: Comparison | None) -> list[Plot]:
    if run.scenario is None:
        return []
    index = runs(run.run_dir.parent)
    started = str(run.manifest.get("started") or "")
    # The report of an old run shows the history up to that run, not what came after it.
    index = index[(index["scenario"] == run.scenario.name) & (index["started"] <= started)]
    if len(index) < MIN_RUNS:
        return []
    picked = _pick(run, comparison)
    wanted = {(s, m): [r[0] for r in run.fetch("SELECT DISTINCT case_id FROM rows WHERE suite = ? AND "
                                               f"metric = ? ORDER BY case_id LIMIT {MAX_CASES}", [s, m])]
              for s, m in picked}
    history = case_medians(run.run_dir.parent, run.scenario.name, sorted({m for _, m in picked}),
                           sorted({c for ids in wanted.values() for c in ids}))
    history = history[history["run_id"].isin(set(index["run_id"]))]
    order = {r: i for i, r in enumerate(dict.fromkeys(history["run_id"]))}
    vendor_of = run.cases.set_index("case_id")["vendor"]
    threshold = run.scenario.regression.threshold
    plots = []
    for (suite, metric), case_ids in wanted.items():
        notes, drawn = [], []
        with styled():
            fig, ax = figure(6.4, 3.2)
            for case_id in case_ids:
                series = history[(history["case_id"] == case_id) & (history["metric"] == metric)]
                series, dropped = _finite_medians(series)
                if dropped:
                    notes.append(f"{vendor_of[case_id]} {case_id[:8]}: {dropped} run(s) with a "
                                 "non-finite median not drawn")
                if len(series) < 2:
                    continue
                xs = [order[r] for r in series["run_id"]]
                ys = series["median"].to_numpy()
                label = f"{vendor_of[case_id]} {case_id[:8]}"
                line, = ax.plot(xs, ys, marker="o", ms=3, label=label)
                for step in steps(ys, threshold):
                    ax.axvline(xs[step.index] - 0.5, color=line.get_color(), ls=":", lw=1)
                    notes.append(f"{label}: step at run {series['run_id'].iloc[step.index]} "
                                 f"({step.before:.4g} → {step.after:.4g})")
                drawn.append(case_id)
            ax.set_xlabel("run (oldest first)")
            ax.set_ylabel(metric)
            ax.legend(fontsize=7, frameon=False)
            svg = to_svg(fig)
        if not drawn:
            continue
        caption = (f"median per run over {len(order)} runs of {run.scenario.name}; dotted: detected steps"
                   + (" — " + "; ".join(notes) if notes else " — no step detected"))
        plots.append(Plot(_slug("trend", suite, metric), f"{suite}: {metric} over runs", caption, svg,
                          len(order), tuple(drawn)))
    return plots


def _finite_medians(series):
    """The rows whose median is finite, and how many were not: an infinite or undefined median has no
    level for steps() and no place on an axis."""
    finite = np.isfinite(series["median"].to_numpy(dtype=float))
    return series[finite], int((~finite).sum())


def series_svg(series, metric: str, keys: list[str], threshold: float) -> str:
    """`qsbench history --plot`: medians per run with p25–p75 bands and dotted detected steps."""
    runs_in_order = list(dict.fromkeys(series["run_id"]))
    position = {r: i for i, r in enumerate(runs_in_order)}
    with styled():
        fig, ax = figure(6.4, 3.4)
        for key, part in series.groupby(keys, sort=True):
            part, _ = _finite_medians(part)
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
