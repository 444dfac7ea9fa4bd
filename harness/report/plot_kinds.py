"""How each kind of evidence plot is drawn, and a criterion's marks on it.

`harness.report.plots` decides what to plot (which rows, split how, which kind); this module draws
one figure of a kind it chose: against a numeric x (with references and reaches), a CDF,
percentile rows, medians (grids and matrices: `harness.report.plot_grids`); and a criterion's
threshold and target only on the rows it judges (`Mark`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from harness.evaluation.summary import value_text
from harness.report.svg import figure, palette, readable_x_ticks, to_svg

MANY_SAMPLES = 20
MAX_LINES = 10
# one line style per condition of a vendor: five conditions of two vendors fill MAX_LINES
CONDITION_STYLES = ("-", "--", ":", "-.", (0, (8, 2, 1, 2, 1, 2)))
SHARE_UNITS = ("bool", "ratio", "fraction", "pass")  # values on a fixed 0–1 scale (pass: 1 PASS, 0.5 WARN)

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
            return (f"{number_text(x, 4)} ratio (= {x * 100:.4g} %)" if unit == "ratio"
                    else f"{number_text(x, 4)} {unit}".rstrip())

        target = "" if self.target is None else f", target {level(self.target)}"
        where = "".join(f", {c}={'/'.join(map(value_text, v))}" for c, v in self.where)
        return (f"{self.criterion}: {self.statistic}{f' (where {where[2:]})' if where else ''} {self.op} "
                f"{level(self.threshold)}" + target)


def _levels(m: Mark) -> list[tuple[float, str, str, str]]:
    """(level, colour, style, legend label) of a criterion: threshold red dashed, target green dotted."""
    levels = [(m.threshold, "#c0392b", "--", f"threshold {m.criterion} ({m.statistic})")]
    if m.target is not None:
        levels.append((m.target, "#27ae60", ":", f"target {m.criterion}"))
    return levels


def _far(level: float, g: pd.DataFrame) -> bool:
    """Whether an axis reaching the level would be more than twice as long as the rows' own values
    (in decades, where those span more than one): a 500 ms threshold over handshakes of 13–68 ms put
    them in the first tenth of a 0–900 ms axis. A share's level is on its fixed 0–1 scale anyway."""
    values = g["value"].to_numpy(float)
    values = values[np.isfinite(values)]
    if not values.size or (str(g["unit"].iloc[0]) in SHARE_UNITS and 0 <= level <= 1):
        return False
    low, high = float(values.min()), float(values.max())
    if low > 0 and high / low > 10:
        return not (level > 0 and low * low / high <= level <= high * high / low)
    span = (high - low) or abs(high) or 1.0
    return not low - span <= level <= high + span


def near_levels(marks: list[Mark], g: pd.DataFrame) -> list[float]:
    """The thresholds and targets drawn across the axes (the rest are arrows): the axis may reach them."""
    return [level for m in marks for level, *_ in _levels(m) if not _far(level, g)]


def _mark(ax, marks: list[Mark], axis: str, spans=None, g: pd.DataFrame | None = None) -> str:
    """Threshold red dashed, target green dotted, across the value axis. `spans(mark)`: the stretches
    of the other axis it is drawn over (the rows or x positions it judges), None for all of it: a
    criterion on the rate at 50 km marks 50 km, not the sweep; one on ML-KEM-768 marks its rows only.
    A level far off the rows `g` plot (_far) is not drawn across: as a far reach, the axis stays on
    the data and a legend entry with an arrow names the level. Returns the caption's note on those."""
    unit = "" if g is None else str(g["unit"].iloc[0])
    beyond: list[str] = []
    below: list[str] = []
    for m in marks:
        over = None if spans is None else spans(m)
        for level, colour, style, label in _levels(m):
            if g is not None and _far(level, g):
                high = level > float(np.nanmax(g["value"].to_numpy(float)))
                arrow = ((r"$\uparrow$", r"$\downarrow$") if axis == "y" else
                         (r"$\rightarrow$", r"$\leftarrow$"))[0 if high else 1]
                said = f"{label} = {number_text(level, 4)} {unit}".rstrip()
                ax.plot([], [], ls="", marker=arrow, ms=9, color=colour,
                        label=f"{said} {'↑' if axis == 'y' else '→'}" if high
                        else f"{'↓' if axis == 'y' else '←'} {said}")
                # on a log axis a level of 0 is nowhere, not far
                (below if level <= 0 < float(np.nanmin(g["value"].to_numpy(float))) else beyond).append(said)
                continue
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
    notes = [f"; {'; '.join(beyond)}: far beyond the data, named in the legend by an arrow (the axis stays "
             "on the measured values)"] if beyond else []
    if below:
        notes.append(f"; {'; '.join(below)}: below every value, named in the legend by an arrow")
    return "".join(notes)


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


def number_text(v: float, digits: int = 3) -> str:
    """A value as a plot's text shows it: to `digits` significant digits, but an integer, or a value
    whose short form would need an exponent (10795 bytes as "1.08e+04"), as a plain integer without
    thousands separators ("10795"; the report keeps separators out of brackets)."""
    v = float(v)
    short = f"{v:.{digits}g}"
    if np.isfinite(v) and (v.is_integer() or "e+" in short):
        return str(round(v))
    return short


def condition_label(values: tuple, names: list[str]) -> str:
    return ", ".join(f"{n}={value_text(v)}" for n, v in zip(names, values, strict=True)) if names else ""


def is_numeric(col: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)


def _ylabel(metric: str, unit: str) -> str:
    return f"{metric} [{unit}]" if unit else metric


def _cdf_log(ax, values: np.ndarray) -> str:
    """A CDF's x axis log when the positive values span more than a decade (its tail squeezed the
    body into one pixel column on a linear axis), unless most values are 0 or less, which a log axis
    cannot show (a CDF has no edge to put them on); returns the caption's note, counting those."""
    finite = values[np.isfinite(values)]
    positive = finite[finite > 0]
    if not positive.size or positive.max() / positive.min() <= 10 or positive.size < finite.size / 2:
        return ""
    ax.set_xscale("log", nonpositive="mask")
    hidden = finite.size - positive.size
    return "; log x axis" + (f": {hidden} value(s) ≤ 0 not drawn" if hidden else "")


def _decades(values: np.ndarray, unit: str) -> bool:
    """Whether a value axis is drawn log: positive values spanning more than a decade (trusted-node
    chains from 300 bit/s to 300 kbit/s sat on a linear axis at 0), none negative (a signed difference,
    a QBER rise, stays linear) and no share on its fixed 0–1 scale. Zeros do not keep it linear: they
    are drawn on the axis's edge (_zeros_on_edge)."""
    finite = values[np.isfinite(values)]
    positive = finite[finite > 0]
    return (unit not in SHARE_UNITS and positive.size >= 2 and not (finite < 0).any()
            and positive.max() / positive.min() > 10)


def _zeros_on_edge(ax, zeros: list[tuple[np.ndarray, str, str]], axis: str) -> str:
    """Values of 0 on a log axis, which has no 0: hollow markers on its low edge (`zeros`: positions
    along the other axis, colour, marker), named in the legend; returns the caption's note."""
    count = sum(len(at) for at, _, _ in zeros)
    if not count:
        return ""
    for at, colour, marker in zeros:
        if axis == "y":  # x in data, y in axes coordinates: the bottom edge
            ax.plot(at, np.zeros(len(at)), transform=ax.get_xaxis_transform(), marker=marker, ms=6, ls="",
                    mfc="none", mew=1.4, color=colour, clip_on=False, zorder=5)
        else:
            ax.plot(np.zeros(len(at)), at, transform=ax.get_yaxis_transform(), marker=marker, ms=6, ls="",
                    mfc="none", mew=1.4, color=colour, clip_on=False, zorder=5)
    ax.plot([], [], marker="o", mfc="none", ls="", color="0.4",
            label=f"0: on the {'bottom' if axis == 'y' else 'left'} edge (a log axis has no 0)")
    edge = "bottom" if axis == "y" else "left"
    return f"; {count} median(s) of 0 drawn hollow on the {edge} edge (a log axis has no 0)"


def _lines(g: pd.DataFrame, hue: list[str]) -> list[tuple[str, str, pd.DataFrame]]:
    """(vendor, label, rows) per vendor × hue combination, every one: the panels keep their number
    to MAX_LINES where a column can split them, and a line left out would be data unseen."""
    out = []
    for key, part in g.groupby(["vendor", *hue], sort=True, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        out.append((str(key[0]), " ".join([str(key[0]), condition_label(key[1:], hue)]).strip(), part))
    return out


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


def against(g: pd.DataFrame, refs: pd.DataFrame, metric: str, x: str, hue: list[str],
             colours: dict, marks: list[Mark] = (), shade: pd.DataFrame | None = None,
             each: list[str] = ()) -> tuple[str, str]:
    """The metric against x, a line per vendor × hue; with `each` (conditions that are one point
    of x each, a trusted-node chain's layout), one unconnected point per condition instead."""
    fig, ax = figure()
    shaded = _shade(ax, shade) if shade is not None and len(shade) else ""
    lines = _lines(g, hue)
    # colour says the vendor, line style and marker the condition (attacks of one device differ)
    conditions = list(dict.fromkeys(label.removeprefix(vendor) for vendor, label, _ in lines))
    zeros: list[tuple[np.ndarray, str, str]] = []  # medians of 0: on a log axis, drawn on its edge
    for vendor, label, part in lines:
        i = conditions.index(label.removeprefix(vendor))
        if each:  # a line through them would pool conditions that share an x (two chains of 60 km)
            points = part.groupby(list(each), dropna=False).agg(at=(x, "first"), value=("value", "median"))
            ax.plot(points["at"], points["value"], marker="osD^v"[i % 5], ms=4, ls="", alpha=0.8,
                    color=colours[vendor], mfc="none" if i % 2 else colours[vendor], label=label)
            zeros.append((points.loc[points["value"] == 0, "at"].to_numpy(float), colours[vendor],
                          "osD^v"[i % 5]))
            continue
        agg = part.groupby(x)["value"].quantile([0.25, 0.5, 0.75]).unstack().sort_index()
        ax.plot(agg.index, agg[0.5], marker="osD^v"[i % 5], ms=3, ls=("-", "--", ":", "-.")[i % 4],
                color=colours[vendor], label=label)
        ax.fill_between(agg.index, agg[0.25], agg[0.75], color=colours[vendor], alpha=0.2, lw=0)
        zeros.append((agg.index[agg[0.5] == 0].to_numpy(float), colours[vendor], "osD^v"[i % 5]))
    unit = str(g["unit"].iloc[0])
    positions = refs[(refs["unit"] != unit) & (refs["unit"] == x.rsplit("_", 1)[-1])]
    refs = refs[refs["unit"] == unit]
    at_x, beyond, near = [], [], []
    xs = g[x].to_numpy(float)
    low, high = float(np.nanmin(xs)), float(np.nanmax(xs))
    reach = (high - low) * 0.15 or 1.0  # a reach this far past the data still fits on the axis
    for i, ((ref, vendor), part) in enumerate(positions.groupby(["metric", "vendor"], sort=True)):
        at = float(part["value"].median())
        text = f"{ref} ({vendor}) = {number_text(at, 4)} {part['unit'].iloc[0]}"
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
    off_axis = _mark(ax, marks, "y", _judged_x(g, x), g)
    for right, text, colour in beyond:
        # a legend entry with an arrow for its marker: as text inside the axes they ran into the
        # curves, beside or under them into a long legend (qkd_procurement: 8 reaches, 20 lines)
        ax.plot([], [], ls="", marker=r"$\rightarrow$" if right else r"$\leftarrow$", ms=9, color=colour,
                label=f"{text} →" if right else f"← {text}")
    if beyond:  # the axis on the data and on the lines drawn near it (a reach just past the last distance)
        ax.set_xlim(min([low, *near]) - reach / 3, max([high, *near]) + reach / 3)
    log_note = ""
    if _decades(np.concatenate([g["value"].to_numpy(float), refs["value"].to_numpy(float)]), unit):
        ax.set_yscale("log", nonpositive="mask")
        log_note = "; log y axis" + _zeros_on_edge(ax, zeros, "y")
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
                  f"stays on the measured {x})" if beyond else "") + shaded + log_note + off_axis)
    return to_svg(fig), caption


def _legend(ax) -> None:
    """Beside the axes, never on them: matplotlib's "best" place inside still covered curves (the
    optimum intensities' four lines on qkd_procurement; a CDF's eight curves rising through the
    lower right), where no corner was empty."""
    entries = len(ax.get_legend_handles_labels()[0])
    ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    if len(ax.figure.axes) == 1:  # as tall as its legend: 32 entries left a thumbnail of the data
        ax.figure.set_figheight(max(ax.figure.get_figheight(), 0.6 + 0.14 * entries))


def cdf(g: pd.DataFrame, metric: str, hue: list[str], colours: dict, marks: list[Mark] = ()
         ) -> tuple[str, str]:
    fig, ax = figure()
    probs = np.linspace(0, 1, 201)
    lines = _lines(g, hue)
    # colour says the vendor, line style the condition: the same style means the same condition. Of
    # one vendor the colour has nothing to say, so it says the condition too: eight TLS conditions of
    # one vendor in one colour and four styles read as four.
    conditions = list(dict.fromkeys(label.removeprefix(vendor) for vendor, label, _ in lines))
    by_condition = len({vendor for vendor, _, _ in lines}) == 1 and len(conditions) > 1
    shades = palette(conditions) if by_condition else {}
    for vendor, label, part in lines:
        q = np.quantile(part["value"].to_numpy(float), probs)
        condition = label.removeprefix(vendor)
        style = CONDITION_STYLES[conditions.index(condition) % len(CONDITION_STYLES)]
        ax.step(q, probs, where="post", color=shades.get(condition, colours[vendor]), ls=style,
                label=f"{label} (n={len(part)})")
    whole = [m for m in marks if m.judges(g) and _judged_rows(lines)(m) is None]
    off_axis = _mark(ax, whole, "x", g=g)  # a criterion on some lines is drawn on the percentile rows
    log_note = _cdf_log(ax, g["value"].to_numpy(float))
    readable_x_ticks(ax)
    ax.set_xlabel(_ylabel(metric, str(g["unit"].iloc[0])))
    ax.set_ylabel("fraction ≤ x")
    _legend(ax)
    apart = "".join(f"; {m.criterion} judges only some of these lines: its threshold is on the "
                    "percentile plot's rows" for m in marks if m.judges(g) and m not in whole)
    return to_svg(fig), "empirical CDF from 201 quantiles per line" + log_note + apart + off_axis


def _row_label(ax, row: int, text: str) -> None:
    """A row's values as text right of the axes, level with its row: beside the dots they made the axis
    grow to hold them (a 0.009–0.16 ratio on a 0–1.4 axis). An offset in points, not leading spaces:
    SVG collapses whitespace."""
    ax.annotate(text, (1.0, row), xycoords=ax.get_yaxis_transform(), xytext=(6, 0),
                textcoords="offset points", va="center", fontsize=7, annotation_clip=False)


ROW_PLOT_AXES_IN = 3.6  # the data's width in a plot of rows, whatever its labels take either side


def _fit_row_labels(fig, ax) -> None:
    """A plot of rows as wide as its row labels, the data and the values written right of the axes:
    in a fixed 6.4 in, fallback's labels ("link policy=qkd_preferred, tls_client=openssl-tls,
    mode=cert_dhe") and values left the dots under an inch."""
    readable_x_ticks(ax)
    renderer = fig.canvas.get_renderer()
    left = max((t.get_window_extent(renderer).width for t in ax.get_yticklabels()), default=0.0) / fig.dpi
    right = max((t.get_window_extent(renderer).width for t in ax.texts), default=0.0) / fig.dpi
    fig.set_figwidth(max(fig.get_figwidth(), left + ROW_PLOT_AXES_IN + right + 0.6))


def percentiles(g: pd.DataFrame, metric: str, hue: list[str], colours: dict, marks: list[Mark] = ()
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
        _row_label(ax, i, f"p50 {number_text(p50)} · p95 {number_text(p95)} · p99 {number_text(p99)} "
                          f"(n={len(part)})")
    off_axis = _mark(ax, marks, "x", _judged_rows(lines), g)
    if marks:  # above the axes: beside them, it ran into the labels right of the dots
        ax.legend(fontsize=7, frameon=False, loc="lower left", bbox_to_anchor=(0.0, 1.02), ncol=2)
    ax.set_yticks(range(len(lines)), [label for _, label, _ in lines], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel(_ylabel(metric, str(g["unit"].iloc[0])))
    low = min(q[0] for q in quantiles)
    high = max([q[2] for q in quantiles] + near_levels(marks, g))
    log = low > 0 and high / low > 10
    if log:
        ax.set_xscale("log")
        ax.set_xlim(low / 1.5, high * 1.5)
    elif high > 0:
        ax.set_xlim(0, 1.05 * high)
    _fit_row_labels(fig, ax)
    return to_svg(fig), ("dots: p50 (circle), p95 (square), p99 (triangle)" + ("; log axis" if log else "")
                         + off_axis)


def medians(g: pd.DataFrame, metric: str, hue: list[str], colours: dict, marks: list[Mark] = ()
             ) -> tuple[str, str]:
    from harness.evaluation.stats import statistic

    lines = _lines(g, hue)
    # a criterion on another statistic than the median (p95, min, max) is judged on that statistic:
    # it is drawn per line beside the median, so the threshold is read against what it bounds
    judged = sorted({m.statistic for m in marks} - {"median", "rate"})
    fig, ax = figure(6.4, 0.8 + 0.3 * len(lines))
    unit = str(g["unit"].iloc[0])
    drawn = [(np.quantile(values, [0.25, 0.5, 0.75]), [(name, statistic(values, name)) for name in judged])
             for values in (part["value"].to_numpy(float) for _, _, part in lines)]
    # the dots decide (a criterion's levels do not: a 100 ms target made 13–68 ms handshakes log)
    log = _decades(np.array([v for qs, shown in drawn for v in (*qs, *(v for _, v in shown))]), unit)
    if log:
        ax.set_xscale("log", nonpositive="mask")
    zeros: list[tuple[np.ndarray, str, str]] = []
    for i, ((vendor, _label, part), ((q25, q50, q75), shown)) in enumerate(zip(lines, drawn, strict=True)):
        ax.errorbar(q50, i, xerr=[[q50 - q25], [q75 - q50]], fmt="o", color=colours[vendor], capsize=3)
        for j, (name, value) in enumerate(shown):
            ax.plot(value, i, marker="D^v"[j % 3], mfc="none", color=colours[vendor], ms=6, ls="",
                    label=f"{name} (criterion statistic)" if i == 0 else None)
        right = max([q75, *(v for _, v in shown)])
        stats = "".join(f" · {name} {number_text(value, 4)}" for name, value in shown)
        text = (f"median {number_text(q50, 4)}{stats} (n={len(part)})" if shown
                else f"{number_text(q50, 4)} (n={len(part)})")
        if log and right <= 0:  # nothing of this row on the axis: its 0 on the left edge
            zeros.append((np.array([i]), colours[vendor], "o"))
        _row_label(ax, i, text)
    ax.set_yticks(range(len(lines)), [label for _, label, _ in lines], fontsize=7)
    ax.invert_yaxis()
    off_axis = _mark(ax, marks, "x", _judged_rows(lines), g)
    ax.set_xlabel(_ylabel(metric, unit))
    ax.margins(x=0.05, y=0.2)
    log_note = ""
    if log:
        positive = [v for qs, shown in drawn for v in (*qs, *(v for _, v in shown)) if v > 0]
        levels = [v for v in near_levels(marks, g) if v > 0]
        ax.set_xlim(min(positive + levels) / 1.5, max(positive + levels) * 1.5)
        log_note = "; log axis" + _zeros_on_edge(ax, zeros, "x")
    elif unit == "bool":  # a yes/no on its 0–1 scale
        ax.set_xlim(-0.05, 1.05)
    elif float(g["value"].min()) >= 0:  # sizes and counts: no axis from −1000
        # 5 % past the largest dot or level of the axis from 0: the margin of the values' own span
        # (48–49 windows) left the last dot cut in half at the edge
        top = max([v for qs, shown in drawn for v in (*qs, *(v for _, v in shown))] + near_levels(marks, g))
        ax.set_xlim(0, 1.05 * top if top > 0 else 1.0)  # all zero: still an axis
    if marks or zeros:  # above the axes: beside them, it ran into the labels right of the dots
        ax.legend(fontsize=7, frameon=False, loc="lower left", bbox_to_anchor=(0.0, 1.02), ncol=2)
    shapes = ("diamond", "triangle", "down triangle")
    hollow = "".join(f"; hollow {shapes[j % 3]}: {name}, the statistic the criterion judges"
                     for j, name in enumerate(judged))
    _fit_row_labels(fig, ax)
    return to_svg(fig), "median with p25–p75 whiskers" + hollow + log_note + off_axis
