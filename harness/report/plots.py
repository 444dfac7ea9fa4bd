"""Evidence plots chosen from the shape of the rows, never from suite names.

For every suite × metric with ok rows:

- a timeline metric (`harness.metrics.is_timeline`: the sample index is time,
  e.g. the stored key count while keys are consumed, `*_timeline` from a
  failure-recovery suite) → value against tick, median and p25–p75 per vendor;
- a numeric parameter with three or more values (fibre_km, intercept_fraction,
  rtt_ms, loss_pct, t_s …) → the metric against it, median line with its
  p25–p75 band per vendor: key rate against distance, QBER against the
  intercepted fraction, latency against loss, recovery timelines;
- a `peer` column (pairwise suites) → a vendor × peer matrix in colour;
- many samples per case (≥ 20) → latency-style CDFs and p50/p95/p99 bars per
  vendor and category (group, certificate, RTT);
- otherwise medians with their p25–p75 per vendor and category;
- more vendor × category lines than fit (10): one panel per value of the
  category with the fewest values (up to 6 panels), and where that is still too
  many, a category × vendor grid of medians coloured within each row (25 PQC
  algorithms × 4 libraries).

A 0/1 timeline a suite declares to shade others (`Metric.shades`: the recovery suite's
`fault_active`) is drawn as grey windows on those timelines, over the ticks where it is 1 in
most of the plot's cases, and not on its own.
Reference curves are what a suite declares them to be (`Metric.reference_for`):
drawn dashed on the plots of the metrics they are declared for, in the same
unit, never alone and never on another metric (a bound on the secret key rate
does not go over the sifted rate). A declared reference in the unit of the x axis,
read from the parameter's name (`distance_km` → km), is a position on that axis:
a vertical line, named with its value in the caption (the analytic asymptotic and
finite-key reaches on the key rate against distance). A suite's own summaries of
samples it also reports (`Metric.summarises`: the mean key rate, its interval ends) are not
drawn again.
Suites appear in scenario order, and within a suite the metrics with reference
curves come first: the key rate against distance before its by-products.
Every plot is drawn from aggregates (quantiles, medians), so 100 000 rows cost
what 1 000 do.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from harness.metrics import Declarations, higher_is_better, is_timeline
from harness.report.svg import figure, palette, styled, to_svg
from harness.store import CASE_STATUS_METRIC

MANY_SAMPLES = 20
MAX_LINES = 10
MAX_PLOTS = 40
MIN_PER_SUITE = 6
MAX_GRID_ROWS = 60
MAX_PANELS = 6
FREE_TEXT_CHARS = 40
SHARE_UNITS = ("bool", "ratio", "fraction")  # values on a fixed 0–1 scale


@dataclass(frozen=True)
class Mark:
    """A success criterion drawn on its metric's plot: the threshold (and target) in the rows' unit."""

    criterion: str
    suite: str | None
    metric: str
    statistic: str
    op: str
    threshold: float
    target: float | None = None
    where: tuple[tuple[str, tuple], ...] = ()  # (column, accepted values): the rows the criterion judges

    def judges(self, g: pd.DataFrame) -> bool:
        """Whether any of these rows is among those the criterion judges."""
        return bool(self.rows(g).any())

    def rows(self, g: pd.DataFrame, but: str | None = None) -> pd.Series:
        """Which of these rows the criterion judges, its condition on column `but` aside."""
        keep = pd.Series(True, index=g.index)
        for column, values in self.where:
            if column == but:
                continue
            if column not in g.columns:
                return pd.Series(False, index=g.index)
            keep &= g[column].isin(values)
        return keep

    def text(self, unit: str) -> str:
        unit = "ratio" if self.statistic == "rate" else unit  # a rate: a share of samples

        def level(x: float) -> str:  # a share as a requirement states it: 1 ratio reads as 100 %
            return f"{x:.4g} ratio (= {x * 100:.4g} %)" if unit == "ratio" else f"{x:.4g} {unit}".rstrip()

        target = "" if self.target is None else f", target {level(self.target)}"
        where = "".join(f", {c}={'/'.join(map(value_text, v))}" for c, v in self.where)
        return (f"{self.criterion}: {self.statistic}{f' (where {where[2:]})' if where else ''} {self.op} "
                f"{level(self.threshold)}" + target)


def _mark(ax, marks: list[Mark], axis: str, spans=None) -> None:
    """Threshold red dashed, target green dotted, across the value axis. `spans(mark)`: the stretches
    of the other axis it is drawn over (the rows or x positions it judges), None for all of it: a
    criterion on the rate at 50 km marks 50 km, not the sweep; one on ML-KEM-768 marks its rows only."""
    for m in marks:
        levels = [(m.threshold, "#c0392b", "--", f"threshold {m.criterion} ({m.statistic})")]
        if m.target is not None:
            levels.append((m.target, "#27ae60", ":", f"target {m.criterion}"))
        over = None if spans is None else spans(m)
        for level, colour, style, label in levels:
            if over is None:
                across = ax.axhline if axis == "y" else ax.axvline
                across(level, color=colour, ls=style, lw=1.1, label=label)
                continue
            for k, (lo, hi) in enumerate(over):
                label = label if k == 0 else None
                if lo == hi:  # one x position: a short bar across it
                    ax.plot([lo], [level], marker="_", ms=22, mew=2, ls="", color=colour, label=label)
                elif axis == "y":
                    ax.hlines(level, lo, hi, colors=colour, linestyles=style, lw=1.1, label=label)
                else:
                    ax.vlines(level, lo, hi, colors=colour, linestyles=style, lw=1.1, label=label)


def _judged_x(g: pd.DataFrame, x: str):
    """spans for _mark on a plot against x: the judged x positions where a criterion names x."""
    def spans(m: Mark):
        at = dict(m.where).get(x)
        if at is None:
            return None
        judged = np.sort(g.loc[g[x].isin(at), x].unique().astype(float))
        return [(judged[0], judged[-1])] if judged.size else None
    return spans


def _judged_rows(lines: list[tuple[str, str, pd.DataFrame]]):
    """spans for _mark on one row per line: the runs of rows a criterion judges, or None for every row."""
    def spans(m: Mark):
        rows = [i for i, (_, _, part) in enumerate(lines) if m.judges(part)]
        if len(rows) == len(lines):
            return None
        return [(a - 0.4, b + 0.4) for a, b in _consecutive_runs(rows)]
    return spans


@dataclass(frozen=True)
class Plot:
    id: str
    title: str
    caption: str
    svg: str
    n: int  # samples drawn from
    case_ids: tuple[str, ...]


def value_text(v: object) -> str:
    """A label's value as a reader writes it: an index or a count stored in a float column reads
    `fault_index=0`, not `0.0`; other values as they are."""
    if isinstance(v, float | np.floating) and np.isfinite(v) and float(v).is_integer():
        return str(int(v))
    return str(v)


def _label(values: tuple, names: list[str]) -> str:
    return ", ".join(f"{n}={value_text(v)}" for n, v in zip(names, values, strict=True)) if names else ""


def _is_numeric(col: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)


def _ylabel(metric: str, unit: str) -> str:
    return f"{metric} [{unit}]" if unit else metric


def _maybe_log(ax, values: np.ndarray, axis: str = "y", span: float = 100) -> str:
    """Log scale when the positive values span more than `span` (two decades: key rates over
    distance; a CDF's tail, one decade, squeezes its body into one pixel column on a linear axis);
    returns the caption's note, which counts zeros and negatives: a log axis cannot show them."""
    finite = values[np.isfinite(values)]
    positive = finite[finite > 0]
    if not positive.size or positive.max() / positive.min() <= span or positive.size < finite.size / 2:
        return ""
    (ax.set_yscale if axis == "y" else ax.set_xscale)("log", nonpositive="mask")
    hidden = finite.size - positive.size
    return f"; log {axis} axis" + (f": {hidden} value(s) ≤ 0 not drawn" if hidden else "")


def _lines(g: pd.DataFrame, hue: list[str]) -> list[tuple[str, str, pd.DataFrame]]:
    """(vendor, label, rows) per vendor × hue combination, at most MAX_LINES."""
    out = []
    for key, part in g.groupby(["vendor", *hue], sort=True, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        out.append((str(key[0]), " ".join([str(key[0]), _label(key[1:], hue)]).strip(), part))
    return out[:MAX_LINES]


def _consecutive_runs(ascending: list[int]) -> list[tuple[int, int]]:
    """[1, 2, 3, 7, 8] -> [(1, 3), (7, 8)]: the first and last of each run of consecutive integers."""
    runs: list[list[int]] = []
    for i in ascending:
        if runs and i == runs[-1][1] + 1:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    return [(a, b) for a, b in runs]


def _shade(ax, shade: pd.DataFrame) -> str:
    """Grey spans over the ticks where the shading metric is 1 in most of the plotted cases."""
    on = shade.groupby("sample")["value"].median().sort_index() >= 0.5
    spans = _consecutive_runs([int(t) for t in on.index[on.to_numpy()]])
    for first, last in spans:
        ax.axvspan(first - 0.5, last + 0.5, color="0.5", alpha=0.18, lw=0, zorder=0)
    if not spans:
        return ""
    where = ", ".join(f"{a}–{b}" if a != b else f"{a}" for a, b in spans)
    return f"; shaded: ticks {where}, where {shade['metric'].iloc[0]} is 1"


def _against(g: pd.DataFrame, refs: pd.DataFrame, metric: str, x: str, hue: list[str],
             colours: dict, marks: list[Mark] = (), shade: pd.DataFrame | None = None,
             each: list[str] = ()) -> tuple[str, str]:
    """The metric against x, a line per vendor × hue; with `each` (conditions that are one point
    of x each, a trusted-node chain's layout), one unconnected point per condition instead."""
    fig, ax = figure()
    shaded = _shade(ax, shade) if shade is not None and len(shade) else ""
    lines = _lines(g, hue)
    # colour says the vendor, line style and marker the condition (attacks of one device differ)
    conditions = list(dict.fromkeys(label.removeprefix(vendor) for vendor, label, _ in lines))
    for vendor, label, part in lines:
        i = conditions.index(label.removeprefix(vendor))
        if each:  # a line through them would pool conditions that share an x (two chains of 60 km)
            points = part.groupby(list(each), dropna=False).agg(at=(x, "first"), value=("value", "median"))
            ax.plot(points["at"], points["value"], marker="osD^v"[i % 5], ms=4, ls="", alpha=0.8,
                    color=colours[vendor], mfc="none" if i % 2 else colours[vendor], label=label)
            continue
        agg = part.groupby(x)["value"].quantile([0.25, 0.5, 0.75]).unstack().sort_index()
        ax.plot(agg.index, agg[0.5], marker="osD^v"[i % 5], ms=3, ls=("-", "--", ":", "-.")[i % 4],
                color=colours[vendor], label=label)
        ax.fill_between(agg.index, agg[0.25], agg[0.75], color=colours[vendor], alpha=0.2, lw=0)
    unit = str(g["unit"].iloc[0])
    positions = refs[(refs["unit"] != unit) & (refs["unit"] == x.rsplit("_", 1)[-1])]
    refs = refs[refs["unit"] == unit]
    at_x, beyond, near = [], [], []
    xs = g[x].to_numpy(float)
    low, high = float(np.nanmin(xs)), float(np.nanmax(xs))
    reach = (high - low) * 0.15 or 1.0  # a reach this far past the data still fits on the axis
    for i, ((ref, vendor), part) in enumerate(positions.groupby(["metric", "vendor"], sort=True)):
        at = float(part["value"].median())
        text = f"{ref} ({vendor}) = {at:.4g} {part['unit'].iloc[0]}"
        at_x.append(text)
        if low - reach <= at <= high + reach:
            ax.axvline(at, ls=(":", "-.", "--")[i % 3], lw=1.0, color=colours.get(vendor, "k"),
                       label=f"{ref} ({vendor})")
            near.append(at)
        else:  # far off the data: the axis stays on the data and an arrow points the way
            beyond.append((at > high, text, colours.get(vendor, "k")))
    drawn: set[tuple] = set()
    # one style each: of one vendor, every reference has its colour (the PLOB bound and the asymptotic
    # rate were both dashed)
    dashes = ("--", ":", "-.", (0, (6, 2, 1, 2, 1, 2)), (0, (10, 3)), (0, (1, 4)))
    styles = {ref: dashes[i % len(dashes)] for i, ref in enumerate(sorted(set(refs["metric"])))}
    for (ref, vendor), part in refs.groupby(["metric", "vendor"], sort=True):
        curve = part.groupby(x)["value"].median().sort_index()
        signature = (ref, tuple(np.round(curve.to_numpy(), 12)))
        if signature in drawn:
            continue  # the same bound for several vendors: draw it once
        drawn.add(signature)
        ax.plot(curve.index, curve.to_numpy(), ls=styles[ref], lw=1.2, color=colours.get(vendor, "k"),
                label=f"{ref} ({vendor})")
    _mark(ax, marks, "y", _judged_x(g, x))
    for right, text, colour in beyond:
        # a legend entry with an arrow for its marker: as text inside the axes they ran into the
        # curves, beside or under them into a long legend (qkd_procurement: 8 reaches, 20 lines)
        ax.plot([], [], ls="", marker=r"$\rightarrow$" if right else r"$\leftarrow$", ms=9, color=colour,
                label=f"{text} →" if right else f"← {text}")
    if beyond:  # the axis on the data and on the lines drawn near it (a reach just past the last distance)
        ax.set_xlim(min([low, *near]) - reach / 3, max([high, *near]) + reach / 3)
    log_note = _maybe_log(ax, np.concatenate([g["value"].to_numpy(float), refs["value"].to_numpy(float),
                                              [m.threshold for m in marks]]))
    if unit == "bool":  # a yes/no on its 0–1 scale, not an axis of ±0.04 around a constant
        ax.set_ylim(-0.05, 1.05)
    ax.set_xlabel(x)
    ax.set_ylabel(_ylabel(metric, str(g["unit"].iloc[0])))
    _legend(ax)
    named = ", ".join(sorted(set(refs["metric"])))
    caption = (((f"one point per {', '.join(each)} (the median of its samples), not joined: points at one "
                 f"{x} are different {', '.join(each)}") if each else f"median per {x}, band p25–p75")
               + (f"; dashed/dotted: {named}, which the suite declares as references for {metric}"
                  if len(refs) else "")
               + (f"; vertical lines: {'; '.join(at_x)}" if at_x else "")
               + (f" ({len(beyond)} of them beyond the data, named in the legend by an arrow: the axis "
                  f"stays on the measured {x})" if beyond else "") + shaded + log_note)
    return to_svg(fig), caption


def _legend(ax) -> None:
    """Beside the axes once it would cover the curves (many references), inside otherwise."""
    entries = len(ax.get_legend_handles_labels()[0])
    if entries > 4:
        ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        if len(ax.figure.axes) == 1:  # as tall as its legend: 32 entries left a thumbnail of the data
            ax.figure.set_figheight(max(ax.figure.get_figheight(), 0.6 + 0.14 * entries))
    else:
        ax.legend(fontsize=7, frameon=False)


def _matrix(g: pd.DataFrame, metric: str) -> tuple[str, str]:
    import seaborn as sns

    table = g.groupby(["vendor", "peer"])["value"].mean().unstack("peer").sort_index()
    counts = g.groupby(["vendor", "peer"])["value"].size().unstack("peer").reindex_like(table)
    better_high = higher_is_better(metric)
    cmap = "RdYlGn" if better_high else "RdYlGn_r" if better_high is False else "viridis"
    fig, ax = figure(1.2 + 0.9 * table.shape[1], 1.0 + 0.6 * table.shape[0])
    annot = table.map(lambda v: f"{v:.3g}") + counts.map(lambda c: f"\nn={c:.0f}" if pd.notna(c) else "")
    # Shares (booleans, ratios) on their full 0–1 scale: 0.9 is not the worst possible outcome.
    share = str(g["unit"].iloc[0]) in SHARE_UNITS
    sns.heatmap(table, annot=annot, fmt="", cmap=cmap, cbar=False, linewidths=0.5, ax=ax,
                vmin=0 if share else None, vmax=1 if share else None, annot_kws={"fontsize": 7})
    ax.set_xlabel("peer")
    ax.set_ylabel("vendor")
    return to_svg(fig), f"mean of {metric} per vendor × peer; n samples in each cell"


def _cdf(g: pd.DataFrame, metric: str, hue: list[str], colours: dict, marks: list[Mark] = ()
         ) -> tuple[str, str]:
    fig, ax = figure()
    probs = np.linspace(0, 1, 201)
    styles = ["-", "--", ":", "-."]
    lines = _lines(g, hue)
    # colour says the vendor, line style the condition: the same style means the same condition
    conditions = list(dict.fromkeys(label.removeprefix(vendor) for vendor, label, _ in lines))
    for vendor, label, part in lines:
        q = np.quantile(part["value"].to_numpy(float), probs)
        style = styles[conditions.index(label.removeprefix(vendor)) % len(styles)]
        ax.step(q, probs, where="post", color=colours[vendor], ls=style, label=f"{label} (n={len(part)})")
    whole = [m for m in marks if m.judges(g) and _judged_rows(lines)(m) is None]
    _mark(ax, whole, "x")  # a criterion on some of the lines is drawn on the percentile rows instead
    log_note = _maybe_log(ax, g["value"].to_numpy(float), axis="x", span=10)
    ax.set_xlabel(_ylabel(metric, str(g["unit"].iloc[0])))
    ax.set_ylabel("fraction ≤ x")
    ax.legend(fontsize=7, frameon=False)
    apart = "".join(f"; {m.criterion} judges only some of these lines: its threshold is on the "
                    "percentile plot's rows" for m in marks if m.judges(g) and m not in whole)
    return to_svg(fig), "empirical CDF from 201 quantiles per line" + log_note + apart


def _percentiles(g: pd.DataFrame, metric: str, hue: list[str], colours: dict, marks: list[Mark] = ()
                 ) -> tuple[str, str]:
    """p50, p95, p99 as dots on one line per vendor × condition: on a log axis where p99 is more than
    ten times p50, so a long tail cannot hide the body (bars from zero did)."""
    lines = _lines(g, hue)
    fig, ax = figure(6.4, 0.8 + 0.35 * len(lines))
    quantiles = [np.quantile(part["value"].to_numpy(float), [0.5, 0.95, 0.99]) for _, _, part in lines]
    for i, ((vendor, _label, part), (p50, p95, p99)) in enumerate(zip(lines, quantiles, strict=True)):
        ax.plot([p50, p99], [i, i], color=colours[vendor], lw=1, alpha=0.6)
        for value, marker in ((p50, "o"), (p95, "s"), (p99, "^")):
            ax.plot(value, i, marker=marker, color=colours[vendor], ms=5, ls="")
        ax.annotate(f"p50 {p50:.3g} · p95 {p95:.3g} · p99 {p99:.3g} (n={len(part)})", (p99, i),
                    xytext=(6, 0), textcoords="offset points", va="center", fontsize=7)
    _mark(ax, marks, "x", _judged_rows(lines))
    if marks:  # above the axes: beside them, it ran into the labels right of the dots
        ax.legend(fontsize=7, frameon=False, loc="lower left", bbox_to_anchor=(0.0, 1.02), ncol=2)
    ax.set_yticks(range(len(lines)), [label for _, label, _ in lines], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel(_ylabel(metric, str(g["unit"].iloc[0])))
    low = min(q[0] for q in quantiles)
    high = max([q[2] for q in quantiles] + [m.threshold for m in marks])
    log = low > 0 and high / low > 10
    if log:
        ax.set_xscale("log")
        ax.set_xlim(low / 1.5, high * 8)  # room for the labels right of the dots
    elif high > 0:
        ax.set_xlim(0, 2.0 * high)
    return to_svg(fig), "dots: p50 (circle), p95 (square), p99 (triangle)" + ("; log axis" if log else "")


def _medians(g: pd.DataFrame, metric: str, hue: list[str], colours: dict, marks: list[Mark] = ()
             ) -> tuple[str, str]:
    from harness.evaluation.stats import statistic

    lines = _lines(g, hue)
    # a criterion on another statistic than the median (p95, min, max) is judged on that statistic:
    # it is drawn per line beside the median, so the threshold is read against what it bounds
    judged = sorted({m.statistic for m in marks} - {"median", "rate"})
    fig, ax = figure(6.4, 0.8 + 0.3 * len(lines))
    for i, (vendor, _label, part) in enumerate(lines):
        values = part["value"].to_numpy(float)
        q25, q50, q75 = np.quantile(values, [0.25, 0.5, 0.75])
        ax.errorbar(q50, i, xerr=[[q50 - q25], [q75 - q50]], fmt="o", color=colours[vendor], capsize=3)
        shown = [(name, statistic(values, name)) for name in judged]
        for j, (name, value) in enumerate(shown):
            ax.plot(value, i, marker="D^v"[j % 3], mfc="none", color=colours[vendor], ms=6, ls="",
                    label=f"{name} (criterion statistic)" if i == 0 else None)
        right = max([q75, *(v for _, v in shown)])
        stats = "".join(f" · {name} {value:.4g}" for name, value in shown)
        # An offset in points, not leading spaces: SVG collapses whitespace, which put labels on the dots.
        ax.annotate(f"median {q50:.4g}{stats} (n={len(part)})" if shown else f"{q50:.4g} (n={len(part)})",
                    (right, i), xytext=(6, 0), textcoords="offset points", va="center", fontsize=7)
    ax.set_yticks(range(len(lines)), [label for _, label, _ in lines], fontsize=7)
    ax.invert_yaxis()
    _mark(ax, marks, "x", _judged_rows(lines))
    if marks:  # above the axes: beside them, it ran into the labels right of the dots
        ax.legend(fontsize=7, frameon=False, loc="lower left", bbox_to_anchor=(0.0, 1.02), ncol=2)
    ax.set_xlabel(_ylabel(metric, str(g["unit"].iloc[0])))
    ax.margins(x=0.3, y=0.2)
    if float(g["value"].min()) >= 0:  # sizes and counts: no axis from −1000
        # room right of the dots for their labels, which would run into the legend beside the axes
        levels = [ax.get_xlim()[1] / 1.3, *(m.threshold for m in marks),
                  *(m.target for m in marks if m.target is not None)]
        share = str(g["unit"].iloc[0]) in SHARE_UNITS and max(levels) <= 1
        ax.set_xlim(0, 1.4 if share else 1.8 * max(levels) or 1.0)  # all zero: still an axis
    shapes = ("diamond", "triangle", "down triangle")
    hollow = "".join(f"; hollow {shapes[j % 3]}: {name}, the statistic the criterion judges"
                     for j, name in enumerate(judged))
    return to_svg(fig), "median with p25–p75 whiskers" + hollow


def _grid(g: pd.DataFrame, metric: str, rows_of: list[str]) -> tuple[str, str]:
    """Too many categories for lines: a category × vendor grid of medians, coloured within each row."""
    import seaborn as sns

    med = g.groupby([*rows_of, "vendor"], dropna=False)["value"].median().unstack("vendor").sort_index()
    n = g.groupby([*rows_of, "vendor"], dropna=False)["value"].size().unstack("vendor").reindex_like(med)
    total_rows = len(med)
    med, n = med.iloc[:MAX_GRID_ROWS], n.iloc[:MAX_GRID_ROWS]
    # A reader compares vendors within a row, so the colour is each row's own best-to-worst scale.
    low, high = med.min(axis=1), med.max(axis=1)
    unit = str(g["unit"].iloc[0])
    alone = med.shape[1] == 1  # one vendor: nobody to be best against in a row, so rows against rows
    if unit in SHARE_UNITS:  # a check passed (1) is good whatever the others did: the absolute 0–1 scale
        shade = med.astype(float)
    elif alone:  # a WARN (0.5) among PASSes (1) stands out; all alike: neutral
        span = float(high.max() - low.min())
        shade = (med - float(low.min())) / span if span > 0 else med * 0 + 0.5
    else:  # a row where every vendor measures the same is neither best nor worst: neutral
        shade = med.sub(low, axis=0).div((high - low).replace(0, np.nan), axis=0)
        differ = np.broadcast_to((high > low).to_numpy()[:, None], shade.shape)
        shade = shade.where(differ, 0.5).mask(med.isna())
    high_good = higher_is_better(metric) is True
    if not high_good:
        shade = 1 - shade
    annot = med.map(lambda v: f"{v:.3g}" if pd.notna(v) else "") + n.map(
        lambda c: f" (n={c:.0f})" if pd.notna(c) else "")
    fig, ax = figure(1.8 + 1.3 * med.shape[1], 0.8 + 0.24 * med.shape[0])
    sns.heatmap(shade, annot=annot, fmt="", cmap="RdYlGn", vmin=0, vmax=1, cbar=False, linewidths=0.5,
                ax=ax, annot_kws={"fontsize": 6})
    ax.set_yticks(np.arange(med.shape[0]) + 0.5,
                  [" ".join(map(value_text, k)) if isinstance(k, tuple) else value_text(k)
                   for k in med.index], fontsize=6)
    ax.set_ylabel(", ".join(rows_of))
    ax.set_xlabel("vendor")
    shown = "" if len(med) == total_rows else f"; first {len(med)} of {total_rows} rows"
    scale = (("green = 1, red = 0" if high_good else "green = 0, red = 1") if unit in SHARE_UNITS
             else "green = best of all rows, red = worst (one vendor)" if alone
             else "green = best in its row, yellow where every vendor measures the same")
    if med.isna().to_numpy().any():
        scale += "; blank: no row of that vendor"
    return to_svg(fig), f"median {metric} [{unit}] per row and vendor; {scale}{shown}"


def _references(declarations: Declarations | None) -> dict[tuple[str, str], tuple[str, ...]]:
    """(suite, reference metric) → the metrics of that suite it is declared a reference for."""
    if declarations is None:
        return {}
    return {(suite, name): m.reference_for for suite, metrics in declarations.by_suite.items()
            for name, m in metrics.items() if m.reference_for}


def _shading(declarations: Declarations | None) -> dict[tuple[str, str], tuple[str, ...]]:
    """(suite, 0/1 timeline metric) → the timelines of that suite it is declared to shade."""
    if declarations is None:
        return {}
    return {(suite, name): m.shades for suite, metrics in declarations.by_suite.items()
            for name, m in metrics.items() if m.shades}


def _summaries(declarations: Declarations | None) -> dict[tuple[str, str], str]:
    """(suite, summary metric) → the metric of that suite whose samples it summarises."""
    if declarations is None:
        return {}
    return {(suite, name): m.summarises for suite, metrics in declarations.by_suite.items()
            for name, m in metrics.items() if m.summarises}


def _free_text(col: pd.Series) -> bool:
    """Evidence and failure messages (long, varied strings) label rows; they are no axis to plot on."""
    if _is_numeric(col) or pd.api.types.is_bool_dtype(col):
        return False
    return col.dropna().astype(str).str.len().mean() > FREE_TEXT_CHARS


def _slug(*parts: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", "-".join(parts)).strip("-")


@dataclass(frozen=True)
class Evidence:
    plots: list[Plot]
    omitted: list[str]  # "suite: metric" left out by the plot budget, named in the report
    constants: list[str] = ()  # "suite: metric = value unit (n samples)": stated, a flat line shows nothing


def evidence_plots(rows: pd.DataFrame, param_columns: list[str], label_columns: list[str] = (),
                   suite_order: list[str] = (), sampled: dict[tuple[str, str], int] | None = None,
                   marks: list[Mark] = (), declarations: Declarations | None = None) -> Evidence:
    """Plots of every suite × metric; case parameters give axes, panels and lines. Labels (a case's
    per-row results such as the conformance check's name) give them only when no parameter varies.
    Each suite gets its share of MAX_PLOTS, so a suite with many metrics cannot crowd out the next.
    The metrics success criteria judge (`marks`) come first, outside the budget, with their threshold
    and target drawn; a metric with one value in every sample is stated, not drawn.
    `sampled`: suite × metric → its true sample count, where `rows` hold a subsample of them
    (harness.rundata.RunData.plot_rows); the caption says so. `declarations`: the run's metric
    declarations, which say which metric is a reference curve for which (none without them)."""
    ok = rows[(rows["status"] == "ok") & (rows["metric"] != CASE_STATUS_METRIC) & rows["value"].notna()]
    colours = palette(sorted(set(rows["vendor"])))
    plots: list[Plot] = []
    groups = dict(iter(ok.groupby(["suite", "metric"], sort=True)))
    refs_of = {key: targets for key, targets in _references(declarations).items() if key in groups}
    owned = {(s, target) for (s, _), targets in refs_of.items() for target in targets}
    shades_of = {key: targets for key, targets in _shading(declarations).items() if key in groups}
    # a suite's own mean or interval of samples it also reports: the samples are drawn instead
    summaries = {key for key, of in _summaries(declarations).items()
                 if key in groups and (key[0], of) in groups}

    def marks_of(suite: str, metric: str) -> list[Mark]:
        return [m for m in marks if m.metric == metric and m.suite in (None, suite)
                and m.judges(groups[(suite, metric)])]

    def priority(key: tuple[str, str]) -> tuple:
        suite, metric = key
        rank = suite_order.index(suite) if suite in suite_order else len(suite_order)
        has_ref = key in owned
        judged = [i for i, m in enumerate(marks) if m in marks_of(suite, metric)]
        return (min(judged) if judged else len(marks), rank, suite, not has_ref, metric)

    drawable = [k for k in sorted(groups, key=priority)
                if not (k in refs_of or k in shades_of or k in summaries)]
    share = max(MIN_PER_SUITE, MAX_PLOTS // max(len({s for s, _ in drawable}), 1))
    per_suite: dict[str, int] = {}
    omitted: list[str] = []
    constants: list[str] = []
    for suite, metric in drawable:
        g = groups[(suite, metric)]
        mine_marks = marks_of(suite, metric)
        if g["value"].nunique() == 1:
            value, unit = float(g["value"].iloc[0]), str(g["unit"].iloc[0])
            shown = ("true" if value else "false") if unit == "bool" else f"{value:.6g} {unit}".rstrip()
            constants.append(f"{suite}: {metric} = {shown} in all {len(g)} samples "
                             f"({', '.join(sorted(set(g['vendor'])))})")
            continue
        if not mine_marks and (per_suite.get(suite, 0) >= share or len(plots) >= MAX_PLOTS):
            omitted.append(f"{suite}: {metric}")
            continue
        present = [c for c in param_columns if c in g.columns and g[c].notna().any() and c != "peer"
                   and not _free_text(g[c])]
        varying = [c for c in present if g[c].nunique() > 1]
        # a label a criterion selects rows by (a handshake mode) splits the rows: judged apart, drawn apart
        varying += [c for m in mine_marks for c, _ in m.where
                    if c in label_columns and c not in varying and g[c].nunique() > 1]
        varying, tied = _untied(g, varying, {c for m in mine_marks for c, _ in m.where})
        if not varying:
            labels = [c for c in label_columns
                      if c in g.columns and g[c].nunique() > 1 and not _free_text(g[c])]
            varying = [max(labels, key=lambda c: g[c].nunique())] if labels else []
        # the x axis first: the column with the most values (a chain's length, not its hops); an
        # index of conditions is none
        numeric_x = sorted((c for c in varying if _is_numeric(g[c]) and g[c].nunique() >= 3
                            and not _is_index(g[c])), key=lambda c: -g[c].nunique())
        unit = str(g["unit"].iloc[0])
        mine = [groups[(s, r)] for (s, r), targets in refs_of.items() if s == suite and metric in targets]
        refs = pd.concat(mine) if mine else g.iloc[0:0]
        # Another unit cannot share the value axis; the x axis's unit is a position on it (a reach).
        axis_units = {c.rsplit("_", 1)[1] for c in numeric_x if "_" in c}
        refs = refs[refs["unit"].isin({unit, *axis_units})]
        shading = [groups[key] for key, targets in shades_of.items() if key[0] == suite and metric in targets]
        shade = pd.concat(shading) if shading else None
        for panel, part, rest in _panels(g, varying, numeric_x):
            drawn = _draw(suite, metric, panel, part, rest, numeric_x, unit, refs, colours, mine_marks,
                          shade)
            note = _label_note(part, [c for c in label_columns if c not in varying], rest) + "".join(
                f"; {said}" for said in tied.values())
            if sampled and (suite, metric) in sampled:
                note += (f"; drawn from a fixed pseudo-random subsample of {len(g)} of the "
                         f"{sampled[(suite, metric)]} samples")
            if note:
                drawn = [replace(p, caption=p.caption + note) for p in drawn]
            plots += drawn
            if not mine_marks:
                per_suite[suite] = per_suite.get(suite, 0) + len(drawn)
    return Evidence(plots, omitted, constants)


def _untied(g: pd.DataFrame, varying: list[str], keep: set[str]) -> tuple[list[str], dict[str, str]]:
    """The varying columns less those the others already say, so one of them labels a line or
    splits the plots and the rest add nothing but length (or worse, one plot per value):
    - twins, one to one (a fault's index and its kind, a TLS client and its server): kept is a
      possible x axis (numeric, three or more values), else the one a reader reads (text);
    - a name for a combination of the others (a chain's label for its length and hops);
    - a column that one other fixes (the hops of a named layout).
    A column a criterion names is always kept. Returns (kept, dropped → what says it)."""
    def rank(c: str) -> tuple:
        return (c in keep, _is_numeric(g[c]) and g[c].nunique() >= 3 and not _is_index(g[c]),
                not _is_numeric(g[c]))

    def fixed_by(c: str, by: list[str]) -> bool:
        return bool(by) and int(g.groupby(by, dropna=False)[c].nunique(dropna=False).max()) <= 1

    kept: list[str] = []
    said: dict[str, str] = {}
    for c in varying:
        twin = next((k for k in kept if g[k].nunique() == g[c].nunique()
                     == g.groupby([k, c], dropna=False).ngroups), None)
        if twin is None or (c in keep and twin in keep):
            kept.append(c)
        elif rank(c) > rank(twin):
            kept[kept.index(twin)] = c
            said = {d: (c if k == twin else k) for d, k in said.items()} | {twin: c}
        else:
            said[c] = twin
    twins = dict(said)
    for c in list(kept):
        others = [k for k in kept if k != c]
        # too many names for lines or plots (they would hide the sweep); a few (a fault's kind) are read
        if (c not in keep and not _is_numeric(g[c]) and g[c].nunique() > MAX_SPLITS and len(others) >= 2
                and fixed_by(c, others)):
            kept.remove(c)
            said[c] = " and ".join(others)
    for c in list(kept):
        # one that a column of too many values for lines fixes stays: it is the sweep's axis (a chain
        # of 195 layouts is read against its length, not as 195 rows)
        by = next((k for k in kept if k != c and fixed_by(c, [k]) and not fixed_by(k, [c])
                   and g[k].nunique() <= MAX_SPLITS), None)
        if by is not None and c not in keep:
            kept.remove(c)
            said[c] = by
    notes = {c: f"{c} goes one to one with {k}, so {k} names both" for c, k in said.items() if c in twins}
    fixed: dict[str, list[str]] = {}
    for c, k in said.items():
        if c not in twins:
            fixed.setdefault(k, []).append(c)
    for k, cs in fixed.items():  # one note per column that names others: captions stay readable
        notes[cs[0]] = (f"{cs[0]} is fixed by {k}, which names it" if len(cs) == 1
                        else f"{', '.join(cs)} are fixed by {k}, which names them")
    return kept, notes


def _is_index(col: pd.Series) -> bool:
    """A column named as an index (`fault_index`: a fault's place in the list) counts conditions and
    measures nothing: no axis. Read from the name, as an axis's unit is (`distance_km`): 0, 1, 2 of
    loss_pct are a measure."""
    return str(col.name).endswith("_index")


def _label_note(g: pd.DataFrame, labels: list[str], conditions: list[str] = ()) -> str:
    """What the rows of one plot say about themselves and differ in, though no axis shows it (an
    adapter's secret-key encoding: a seed beside a full key), so like is not read as like. A label
    that follows the plot's conditions (the negotiated group of the group asked for, a check's
    clause) is shown by them: no note."""
    notes = []
    for col in labels:
        if col not in g.columns or _free_text(g[col]) or g[col].dropna().nunique() < 2:
            continue
        kept = [c for c in conditions if c in g.columns]
        if kept and g.groupby(kept, dropna=False)[col].nunique().max() <= 1:
            continue
        per_vendor = g.dropna(subset=[col]).groupby("vendor", sort=True)[col].agg(
            lambda v: "/".join(sorted(set(map(value_text, v)))))
        notes.append(f"; the rows differ in {col} ({'; '.join(f'{v}: {t}' for v, t in per_vendor.items())}): "
                     f"values of a different {col} are not like for like")
    return "".join(notes)


def _panels(g: pd.DataFrame, varying: list[str], numeric_x: list[str]):
    """One panel, or one per value of the first categorical column when the lines would not fit."""
    x = numeric_x[:1]
    # a condition that is one point of the x axis each (a chain's layout) is drawn as points, no line
    hue = [c for c in varying if c not in x
           and not (x and g.groupby(c, dropna=False)[x[0]].nunique().max() == 1)]
    lines = g.groupby(["vendor", *hue], dropna=False).ngroups
    if lines <= MAX_LINES or not hue:
        yield "", g, varying
        return
    split = min(hue, key=lambda c: g[c].nunique())  # few panels, each with the most in it
    if g[split].nunique() > MAX_PANELS:
        yield "", g, varying
        return
    for value, part in g.groupby(split, sort=True):
        yield f"{split}={value_text(value)}", part, [c for c in varying if c != split]


MAX_SPLITS = 12  # one plot per condition up to this many; beyond, a grid shows every condition


def _signature(part: pd.DataFrame, rest: list[str], marks: list[Mark]) -> tuple:
    """What one condition's plot would show: its samples by vendor, line and tick, and the criteria on it."""
    columns = ["vendor", *rest, "sample"]
    rows = part.sort_values(columns, kind="stable")[[*columns, "value"]]
    digest = hashlib.sha256(pd.util.hash_pandas_object(rows, index=False).to_numpy().tobytes()).hexdigest()
    return tuple(m.criterion for m in marks if m.judges(part)), len(rows), digest


def _choice(g: pd.DataFrame, metric: str, varying: list[str], numeric_x: list[str]) -> tuple[str, str | None,
                                                                                             list[str]]:
    """(kind, x axis, line columns) for the rows; the columns not shown must not vary (see _draw)."""
    if is_timeline(metric):
        return "timeline", "tick", [c for c in varying if g[c].nunique() <= 4][:1]
    if "peer" in g.columns and g["peer"].notna().any():
        return "matrix", None, []
    if numeric_x:
        x = numeric_x[0]
        return f"against {x}", x, [c for c in varying if c != x and g[c].nunique() <= 4][:1]
    if varying and g.groupby(["vendor", *varying], dropna=False).ngroups > MAX_LINES:
        return "grid", None, list(varying)
    hue = list(varying)  # every line fits (else a grid, above): a column left out would split the plot
    return ("CDF" if g.groupby("case_id").size().median() >= MANY_SAMPLES else "medians"), None, hue


_UNJUDGED = "not judged by "


def _unjudged_panel(panel: str, criterion: str, named: list[str]) -> str:
    """The title clause of the rows a criterion's `where` leaves out: "attack≠intercept_resend" for
    one condition; for several, "not judged by NAME", and the names of criteria leaving out the same
    rows one after another join that clause (six TLS criteria each spelled out their conditions as
    "not (cert=…, group=…, …)", a title of six lines)."""
    if len(named) == 1:
        return ", ".join(filter(None, [panel, named[0].replace("=", "≠", 1)]))
    _, found, names = panel.rpartition(_UNJUDGED)
    if found and "=" not in names:  # the panel ends in such a clause already
        return f"{panel}, {criterion}"
    return ", ".join(filter(None, [panel, _UNJUDGED + criterion]))


def _draw(suite: str, metric: str, panel: str, g: pd.DataFrame, varying: list[str], numeric_x: list[str],
          unit: str, refs: pd.DataFrame, colours: dict, marks: list[Mark] = (),
          shade: pd.DataFrame | None = None) -> list[Plot]:
    """The plots of one panel. Rows that differ in a parameter are never pooled into one line: a
    varying column that is neither the x axis nor a line's label splits the rows into one plot per
    value (or, with more than MAX_SPLITS values, a grid shows them all)."""
    kind, x, hue = _choice(g, metric, varying, numeric_x)
    pooled = [c for c in varying if c not in (x, *hue)] if kind not in ("grid", "matrix") else []
    if kind == "matrix":
        pooled = [c for c in varying if c != "peer"]
    if x is not None:
        # A threshold is drawn only against the rows it judges: on a plot against x, the lines its
        # `where` leaves out (ML-KEM-1024 beside a criterion on ML-KEM-768, PNS beside intercept-resend)
        # go to a plot of their own, and the x positions it names are marked (_judged_x). Plots of one
        # row per line mark the judged rows (_judged_rows).
        for m in marks:
            judged = m.rows(g, but=x)
            if judged.any() and not judged.all():
                named = [f"{c}={'/'.join(map(value_text, v))}" for c, v in m.where if c != x]
                rest_panel = _unjudged_panel(panel, m.criterion, named)
                said = panel.split(", ")  # a condition the panel names already is not said twice
                return [p for where, part in ((", ".join(filter(None, [panel, *(n for n in named
                                                                                if n not in said)])),
                                               g[judged]),
                                              (rest_panel, g[~judged]))
                        for p in _draw(suite, metric, where, part,
                                       [c for c in varying if part[c].nunique() > 1],
                                       [c for c in numeric_x if part[c].nunique() >= 3], unit, refs,
                                       colours, marks, shade)]
    each: list[str] = []
    if (pooled and x is not None and kind != "timeline"
            and g.groupby(pooled, dropna=False)[x].nunique().max() == 1):
        # every condition left is one point on the x axis (a chain's layout): one plot of points,
        # not a plot per point nor a grid that hides the sweep
        each, pooled = pooled, []
    if pooled and g.groupby(pooled, dropna=False).ngroups > MAX_SPLITS and kind != "matrix":
        kind, x, hue, pooled = "grid", None, list(varying), []
    if pooled:
        rest = [c for c in varying if c not in pooled]
        alike: dict[tuple, list[tuple[tuple, pd.DataFrame]]] = {}
        for values, part in g.groupby(pooled, sort=True, dropna=False):
            values = values if isinstance(values, tuple) else (values,)
            alike.setdefault(_signature(part, rest, marks), []).append((values, part))
        out: list[Plot] = []
        for same in alike.values():
            values, part = same[0]
            if len(same) == 1:
                where = ", ".join(filter(None, [panel, _label(values, pooled)]))
                out += _draw(suite, metric, where, part, rest,
                             [c for c in numeric_x if c in rest and part[c].nunique() >= 3], unit, refs,
                             colours, marks, shade)
                continue
            # The same samples under several conditions (a fault's schedule, whatever the policy):
            # drawn once, the conditions named, instead of one identical plot for each.
            where = ", ".join(filter(None, [panel, f"the same in {len(same)} conditions"]))
            conditions = "; ".join(_label(v, pooled) for v, _ in same)
            cases = tuple(sorted({c for _, p in same for c in p["case_id"]}))
            out += [replace(p, case_ids=cases, caption=f"{p.caption}; these rows are identical in each of "
                                                       f"{len(same)} conditions, drawn once: {conditions}")
                    for p in _draw(suite, metric, where, part, rest,
                                   [c for c in numeric_x if c in rest and part[c].nunique() >= 3], unit, refs,
                                   colours, marks, shade)]
        return out
    marks = [m for m in marks if m.judges(g)]  # a criterion on one condition marks that condition's plot
    cases = tuple(sorted(set(g["case_id"])))
    drawn: list[tuple[str, str, str]] = []  # (kind, svg, caption)
    with styled():
        if kind == "timeline":
            windows = None if shade is None else shade[shade["case_id"].isin(cases)]
            drawn.append(("timeline", *_against(g.rename(columns={"sample": "tick"}), g.iloc[0:0], metric,
                                                 "tick", hue, colours, marks, windows)))
        elif kind == "matrix":
            drawn.append(("matrix", *_matrix(g, metric)))
        elif x is not None:
            drawn.append((kind, *_against(g, refs, metric, x, hue, colours, marks, each=each)))
        elif kind == "grid":
            drawn.append(("grid", *_grid(g, metric, varying)))
        elif kind == "CDF":
            drawn.append(("CDF", *_cdf(g, metric, hue, colours, marks)))
            drawn.append(("percentiles", *_percentiles(g, metric, hue, colours, marks)))
        else:
            drawn.append(("medians", *_medians(g, metric, hue, colours, marks)))
    where = f", {panel}" if panel else ""
    lines = "" if kind in ("grid", "matrix") else f"; each {'marker' if each else 'line'}: one vendor" + (
        f" × {', '.join(hue)}" if hue else "")
    fixed = f"; every row has {panel}" if panel else ""
    judged = "".join(f"; {m.text(unit)}" + ("" if kind not in ("grid", "matrix") else " (not drawn)")
                     for m in marks)
    return [Plot(_slug("plot", suite, metric, kind, panel), f"{suite}: {metric} ({kind}{where})",
                 f"{caption}{lines}{fixed}{judged}; n = {len(g)} samples from {len(cases)} cases"
                 + (f"; unit {unit}" if unit else ""),
                 svg, len(g), cases) for kind, svg, caption in drawn]
