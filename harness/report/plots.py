"""Evidence plots chosen from the shape of the rows, never from suite names (the panels they are
split into: `harness.report.plot_panels`; the columns they show: `harness.report.plot_columns`;
each kind is drawn by `harness.report.plot_kinds` and `harness.report.plot_grids`).

For every suite × metric with ok rows:

- a timeline metric (`Metric.timeline` in the declarations of the rows' own suite: the sample
  index is time, e.g. the stored key count while keys are consumed, a soak's key rate per
  window) → value against tick, median and p25–p75 per vendor; the caption says what a tick
  is. A suite's clock (a timeline in a unit of time with no good direction that rises every
  tick: soak's window_hours) is read in the captions of its other timelines, not drawn alone;
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
  algorithms × 4 libraries); where its rows would be too many to read, a numeric
  condition of two or three values goes across beside the vendor (rtt_ms on
  pqc-tls-migration: 27 rows of both delays, not 54).

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

import re
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from harness.evaluation import units
from harness.metrics import Declarations
from harness.report.plot_columns import MAX_SPLITS, is_index, untied
from harness.report.plot_grids import MAX_GRID_ROWS, grid, matrix
from harness.report.plot_kinds import (
    MANY_SAMPLES,
    MAX_LINES,
    Mark,
    Plot,
    against,
    cdf,
    condition_label,
    is_numeric,
    medians,
    number_text,
    percentiles,
    value_text,
)
from harness.report.plot_panels import alike_panels, drawn_once, signature
from harness.report.svg import palette, styled
from harness.store import CASE_STATUS_METRIC
from harness.suite import Metric

__all__ = ["MAX_GRID_ROWS", "Evidence", "Mark", "Plot", "evidence_plots"]

MAX_PLOTS = 40
MIN_PER_SUITE = 6
FREE_TEXT_CHARS = 40


def _declared(declarations: Declarations | None, field: str) -> dict[tuple[str, str], Any]:
    """(suite, metric) → the metric's declared `field` (`reference_for`: the metrics of that suite it
    is a reference curve for; `shades`: the timelines it shades; `summarises`: the metric whose
    samples it summarises), for the metrics that declare one."""
    if declarations is None:
        return {}
    return {(suite, name): getattr(m, field) for suite, metrics in declarations.by_suite.items()
            for name, m in metrics.items() if getattr(m, field)}


def _free_text(col: pd.Series) -> bool:
    """Evidence and failure messages (long, varied strings) label rows; they are no axis to plot on."""
    if is_numeric(col) or pd.api.types.is_bool_dtype(col):
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
    refs_of = {key: of for key, of in _declared(declarations, "reference_for").items() if key in groups}
    owned = {(s, target) for (s, _), targets in refs_of.items() for target in targets}
    shades_of = {key: of for key, of in _declared(declarations, "shades").items() if key in groups}
    # a suite's own mean or interval of samples it also reports: the samples are drawn instead
    summaries = {key for key, of in _declared(declarations, "summarises").items()
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

    def meaning(key: tuple[str, str]) -> Metric | None:  # as the rows' own suite declares the metric
        return None if declarations is None else declarations.get(*key)

    timelines = [k for k in groups if (d := meaning(k)) is not None and d.timeline and k not in shades_of]
    # a suite's clock (soak's window_hours) against the tick shows only how long each tick was: it is
    # read in the captions of the suite's other timelines instead
    clocks = {k: groups[k] for k in timelines if _is_clock(groups[k], meaning(k))
              and any(o[0] == k[0] and not _is_clock(groups[o], meaning(o)) for o in timelines)}
    drawable = [k for k in sorted(groups, key=priority)
                if not (k in refs_of or k in shades_of or k in summaries or k in clocks)]
    share = max(MIN_PER_SUITE, MAX_PLOTS // max(len({s for s, _ in drawable}), 1))
    per_suite: dict[str, int] = {}
    omitted: list[str] = []
    constants: list[str] = []
    for suite, metric in drawable:
        g = groups[(suite, metric)]
        declared = meaning((suite, metric))
        mine_marks = marks_of(suite, metric)
        if _one_value(g["value"]):
            constants.append(_constant(suite, metric, g))
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
        # and so does a label naming which thing each value is of (a link): never a median of links
        varying += [c for c in (declared.per if declared is not None else ())
                    if c in g.columns and c not in varying and g[c].nunique() > 1]
        varying, tied = untied(g, varying, {c for m in mine_marks for c, _ in m.where})
        if not varying:
            labels = [c for c in label_columns
                      if c in g.columns and g[c].nunique() > 1 and not _free_text(g[c])]
            varying = [max(labels, key=lambda c: g[c].nunique())] if labels else []
        # the x axis first: the column with the most values (a chain's length, not its hops); an
        # index of conditions is none
        numeric_x = sorted((c for c in varying if is_numeric(g[c]) and g[c].nunique() >= 3
                            and not is_index(g[c])), key=lambda c: -g[c].nunique())
        unit = str(g["unit"].iloc[0])
        mine = [groups[(s, r)] for (s, r), targets in refs_of.items() if s == suite and metric in targets]
        refs = pd.concat(mine) if mine else g.iloc[0:0]
        # Another unit cannot share the value axis; the x axis's unit is a position on it (a reach).
        axis_units = {c.rsplit("_", 1)[1] for c in numeric_x if "_" in c}
        refs = refs[refs["unit"].isin({unit, *axis_units})]
        shading = [groups[key] for key, targets in shades_of.items() if key[0] == suite and metric in targets]
        shade = pd.concat(shading) if shading else None
        for panel, part, rest, same in alike_panels(g, varying, numeric_x, mine_marks):
            drawn = _draw(suite, metric, declared, panel, part, rest, numeric_x, unit, refs, colours,
                          mine_marks, shade, present, constants)
            if len(same) > 1:
                drawn = drawn_once(drawn, same, rest)
            qualifiers = () if declared is None else declared.qualified_by
            note = _label_note(part, [c for c in qualifiers if c in label_columns and c not in varying],
                               rest) + "".join(
                f"; {said}" for said in tied.values())
            if sampled and (suite, metric) in sampled:
                note += (f"; drawn from a fixed pseudo-random subsample of {len(g)} of the "
                         f"{sampled[(suite, metric)]} samples")
            drawn = [replace(p, caption=p.caption + note + _ticks(p, declared, [
                (name, rows) for (s, name), rows in clocks.items() if s == suite])) for p in drawn]
            plots += drawn
            if not mine_marks:
                per_suite[suite] = per_suite.get(suite, 0) + len(drawn)
    return Evidence(plots, omitted, constants)


def _is_clock(g: pd.DataFrame, declared: Metric | None) -> bool:
    """Whether a timeline is its suite's clock: declared in a unit of time with no good direction,
    and rising at every tick of every case (the device time at the end of each window). Read from
    the declaration and the rows, as a plot's kind is: no suite declares a clock as such."""
    if (declared is None or not declared.timeline or declared.better != "none"
            or not units.known(declared.unit) or units.unit(declared.unit).dimension != "time"):
        return False
    steps = g.sort_values(["case_id", "sample"]).groupby("case_id")["value"].agg(
        lambda v: len(v) >= 2 and bool((np.diff(v.to_numpy(float)) > 0).all()))
    return bool(steps.all())


def _ticks(plot: Plot, declared: Metric | None, clocks: list[tuple[str, pd.DataFrame]]) -> str:
    """What a timeline's tick is: the sample index, in the words the suite declares the metric with,
    and where its suite keeps a clock, the time the first and last ticks of these cases end at."""
    if "(timeline" not in plot.title:
        return ""
    said = f" ({declared.description}, as the suite declares it)" if declared and declared.description else ""
    note = f"; tick: the sample index, one per observation of a case{said}"
    for name, rows in clocks:
        mine = rows[rows["case_id"].isin(plot.case_ids)]
        if mine.empty:
            continue
        at = mine.groupby("sample")["value"].median().sort_index()
        unit = str(mine["unit"].iloc[0])
        note += (f"; {name}, the suite's clock of these ticks (not drawn alone), reads "
                 f"{value_text(round(at.iloc[0], 3))} {unit} at tick {at.index[0]} and "
                 f"{value_text(round(at.iloc[-1], 3))} {unit} at tick {at.index[-1]} (median of the cases)")
    return note


def _better(declared: Metric | None) -> bool | None:
    """True when higher is better, False when lower is; None when the declaration says neither."""
    return None if declared is None or declared.better == "none" else declared.better == "higher"


def _one_value(values: pd.Series) -> bool:
    """Every sample the same value, to rounding: sweep-distance's node_key_exposure, 1 − 1e−12 in
    some layouts, was drawn on a −1…1 axis offset by "1e−12+10e−1"."""
    finite = values.to_numpy(float)
    return bool(values.nunique() == 1 or (np.isfinite(finite).all() and np.allclose(finite, finite[0],
                                                                                   rtol=1e-9, atol=0)))


def _constant(suite: str, metric: str, g: pd.DataFrame, where: str = "") -> str:
    """The statement of a metric with one value in every sample of `g` (of the rows `where` names)."""
    value, unit = float(g["value"].iloc[0]), str(g["unit"].iloc[0])
    shown = ("true" if value else "false") if unit == "bool" else f"{number_text(value, 6)} {unit}".rstrip()
    samples = "in its one sample" if len(g) == 1 else f"in all {len(g)} samples"
    return (f"{suite}: {metric} = {shown} {samples}" + (f" with {where}" if where else "")
            + f" ({', '.join(sorted(set(g['vendor'])))})")


def _held(refs: pd.DataFrame, g: pd.DataFrame, params: list[str], x: str) -> pd.DataFrame:
    """The reference rows of the vendors and conditions (x aside) these rows hold: qber_rise_expected,
    emitted by intercept-resend cases only, has nothing to say on a panel of other attacks."""
    keys = ["vendor", *(c for c in params if c != x and c in refs.columns and c in g.columns)]
    held = set(g[keys].astype(str).itertuples(index=False, name=None))
    return refs[np.fromiter((k in held for k in refs[keys].astype(str).itertuples(index=False, name=None)),
                            bool, len(refs))]


def _label_note(g: pd.DataFrame, labels: list[str], conditions: list[str] = ()) -> str:
    """What the rows of one plot say about how their values were encoded or measured, though no axis
    shows it (an adapter's secret-key encoding: a seed beside a full key), so like is not read as
    like. `labels`: the ones the metric's suite declares qualify it (Metric.qualified_by); a label
    that follows the plot's conditions (the negotiated group of the group asked for) is shown by
    them: no note."""
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


def _choice(g: pd.DataFrame, declared: Metric | None, varying: list[str], numeric_x: list[str]
            ) -> tuple[str, str | None, list[str]]:
    """(kind, x axis, line columns) for the rows; the columns not shown must not vary (see _draw).
    `declared`: the metric as the rows' own suite declares it (soak's secret key rate is a timeline,
    key_rate's is not)."""
    if declared is not None and declared.timeline:
        return "timeline", "tick", [c for c in varying if g[c].nunique() <= 4][:1]
    if "peer" in g.columns and g["peer"].notna().any():
        return "matrix", None, []
    if numeric_x:
        x = numeric_x[0]
        return f"against {x}", x, [c for c in varying if c != x and g[c].nunique() <= 4][:1]
    if varying and g.groupby(["vendor", *varying], dropna=False).ngroups > MAX_LINES:
        return "grid", None, list(varying)
    hue = list(varying)  # every line fits (else a grid, above): a column left out would split the plot
    # a CDF of lines that each hold one value is a row of vertical steps (a ClientHello of 229 bytes
    # in all 50 handshakes): their medians say it
    spread = g.groupby(["vendor", *hue], dropna=False)["value"].nunique().max() > 1
    many = g.groupby("case_id").size().median() >= MANY_SAMPLES
    return ("CDF" if many and spread else "medians"), None, hue


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


def _draw(suite: str, metric: str, declared: Metric | None, panel: str, g: pd.DataFrame, varying: list[str],
          numeric_x: list[str], unit: str, refs: pd.DataFrame, colours: dict, marks: list[Mark],
          shade: pd.DataFrame | None, params: list[str], stated: list[str]) -> list[Plot]:
    """The plots of one panel. Rows that differ in a parameter are never pooled into one line: a
    varying column that is neither the x axis nor a line's label splits the rows into one plot per
    value (or, with more than MAX_SPLITS values, a grid shows them all). A column with one value in
    these rows is stated in the panel's name, not drawn as an axis or a line (the attacks with
    defence=off are all at fraction 1: a 0.96–1.04 axis of points on top of each other); rows with
    one value in every sample are stated (`stated`), not drawn."""
    fixed = [c for c in varying if g[c].nunique(dropna=False) == 1]
    if fixed:
        said = panel.split(", ")
        panel = ", ".join(filter(None, [panel, *(n for c in fixed
                                                 if (n := f"{c}={value_text(g[c].iloc[0])}") not in said)]))
        varying = [c for c in varying if c not in fixed]
        numeric_x = [c for c in numeric_x if c in varying and g[c].nunique() >= 3]
    kind, x, hue = _choice(g, declared, varying, numeric_x)
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
                        for p in _draw(suite, metric, declared, where, part, varying,
                                       [c for c in numeric_x if part[c].nunique() >= 3], unit, refs,
                                       colours, marks, shade, params, stated)]
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
            alike.setdefault(signature(part, rest, marks), []).append((values, part))
        out: list[Plot] = []
        for same in alike.values():
            values, part = same[0]
            if len(same) == 1:
                where = ", ".join(filter(None, [panel, condition_label(values, pooled)]))
                out += _draw(suite, metric, declared, where, part, rest,
                             [c for c in numeric_x if c in rest and part[c].nunique() >= 3], unit, refs,
                             colours, marks, shade, params, stated)
                continue
            # The same samples under several conditions (a fault's schedule, whatever the policy):
            # drawn once, the conditions named, instead of one identical plot for each.
            where = ", ".join(filter(None, [panel, f"the same in {len(same)} conditions"]))
            named = [(condition_label(v, pooled), p) for v, p in same]
            if _one_value(part["value"]):
                stated.append(_constant(suite, metric, pd.concat([p for _, p in same]), ", ".join(filter(
                    None, [panel, f"each of {'; '.join(n for n, _ in named)}"]))))
                continue
            out += drawn_once(_draw(suite, metric, declared, where, part, rest,
                                     [c for c in numeric_x if c in rest and part[c].nunique() >= 3], unit,
                                     refs, colours, marks, shade, params, stated), named, rest)
        return out
    marks = [m for m in marks if m.judges(g)]  # a criterion on one condition marks that condition's plot
    # a flat line or one dot shows nothing a sentence does not; a grid or matrix shows which cells exist
    if _one_value(g["value"]) and kind not in ("grid", "matrix"):
        stated.append(_constant(suite, metric, g, panel))
        return []
    cases = tuple(sorted(set(g["case_id"])))
    drawn: list[tuple[str, str, str]] = []  # (kind, svg, caption)
    with styled():
        if kind == "timeline":
            windows = None if shade is None else shade[shade["case_id"].isin(cases)]
            drawn.append(("timeline", *against(g.rename(columns={"sample": "tick"}), g.iloc[0:0], metric,
                                                 "tick", hue, colours, marks, windows)))
        elif kind == "matrix":
            drawn.append(("matrix", *matrix(g, metric, _better(declared))))
        elif x is not None:
            drawn.append((kind, *against(g, _held(refs, g, params, x), metric, x, hue, colours, marks,
                                         each=each)))
        elif kind == "grid":
            qualifiers = [c for c in (declared.qualified_by if declared else ())
                          if c in g.columns and g[c].dropna().nunique() > 1]
            drawn.append(("grid", *grid(g, metric, varying, _better(declared), qualifiers)))
        elif kind == "CDF":
            drawn.append(("CDF", *cdf(g, metric, hue, colours, marks)))
            drawn.append(("percentiles", *percentiles(g, metric, hue, colours, marks)))
        else:
            drawn.append(("medians", *medians(g, metric, hue, colours, marks)))
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
