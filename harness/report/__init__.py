"""Render a run's report: `RUN_DIR/report/{scorecard.html, summary.md, results.json, junit.xml}`.

`render(run_dir, baseline=None)` is what `qsbench report` calls. The HTML is one
self-contained file (CSS inline, plots inline SVG, no scripts, nothing fetched
at view time) and its bytes depend only on the data: the same run renders to
the same file.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import jinja2
import pandas as pd

from harness.evaluation import junit
from harness.evaluation.compare import Comparison, compare
from harness.evaluation.evaluate import Evaluation, evaluate_run
from harness.evaluation.summary import fmt, lines_by, problems, repeated_reasons, to_markdown, value_text
from harness.manifest import qsbench_version
from harness.metrics import Declarations
from harness.report.data import results
from harness.report.markdown import evaluation_markdown
from harness.report.plots import Mark, evidence_plots
from harness.report.trends import trend_plots
from harness.rundata import RunData, load
from harness.store import CASE_STATUS_METRIC


@dataclass(frozen=True)
class Rendered:
    report_dir: Path
    html: Path
    markdown: Path
    results: Path
    junit: Path
    evaluation: Evaluation
    comparison: Comparison | None


def _env() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("harness.report", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters["fmt"] = lambda v: "" if v is None else fmt(v)
    env.filters["short"] = _short  # long reasons in full in the title and the evidence list
    return env


def _short(text: str, limit: int = 90) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _params_text(row: pd.Series, columns: list[str]) -> str:
    return ", ".join(f"{c}={value_text(row[c])}" for c in columns if pd.notna(row[c]))


def _cases(cases: pd.DataFrame, params: list[str]) -> tuple[list[dict], list[str]]:
    """The Cases table's rows, and the reasons several cases give, stated once under the table."""
    rows = [{"case_id": r["case_id"], "suite": r["suite"], "vendor": r["vendor"],
             "params": _params_text(r, params), "status": r["status"],
             "reason": r["reason"] if pd.notna(r["reason"]) else "", "rows": int(r["rows"])}
            for _, r in cases.iterrows()]
    notes = repeated_reasons([row["reason"] for row in rows])
    for row in rows:
        row["note"] = notes.index(row["reason"]) + 1 if row["reason"] in notes else None
    return rows, notes


LINE_LABEL_VALUES = 3  # a label with more values on one line (a check's name) names rows, not the line
LINE_LABEL_CHARS = 40  # longer values are messages, not a property of the line


def _line_labels(run: RunData, keys: list[str], labels: list[str]) -> dict[tuple, str]:
    """Summary line (its key values) → what its rows say about themselves, "secret_key_encoding: seed":
    the table puts it beside the metric, so a seed's length is not read as a full key's."""
    def quote(c: str) -> str:
        return '"' + c.replace('"', '""') + '"'

    group = ", ".join(map(quote, keys))
    found: dict[tuple, list[str]] = {}
    for label in labels:
        part = run.sql(
            f"SELECT {group}, list(DISTINCT CAST({quote(label)} AS VARCHAR) ORDER BY "
            f"CAST({quote(label)} AS VARCHAR)) AS vals FROM rows WHERE status = 'ok' AND metric <> ? "
            f"AND {quote(label)} IS NOT NULL GROUP BY {group} HAVING count(DISTINCT {quote(label)}) <= ? "
            f"AND max(length(CAST({quote(label)} AS VARCHAR))) <= ?",
            [CASE_STATUS_METRIC, LINE_LABEL_VALUES, LINE_LABEL_CHARS])
        for _, r in part.iterrows():
            key = tuple(None if pd.isna(r[k]) else r[k] for k in keys)
            found.setdefault(key, []).append(f"{label}: {'/'.join(map(str, r['vals']))}")
    return {k: "; ".join(v) for k, v in found.items()}


def _summary_rows(table: pd.DataFrame, params: list[str], run: RunData, labels: list[str]) -> list[dict]:
    if table.empty:
        return []
    shown = [c for c in params if c in table.columns]
    keys = ["suite", "vendor", *shown, "metric", "unit"]
    said = _line_labels(run, keys, labels) if labels else {}
    return [{**{k: r[k] for k in ("suite", "vendor", "metric", "unit", "n", "median", "p25", "p75", "p99")},
             "params": _params_text(r, shown),
             "labels": said.get(tuple(None if pd.isna(r[k]) else r[k] for k in keys), ""),
             "case_ids": sorted(map(str, r["case_ids"]))}
            for _, r in table.iterrows()]


_BIT_RATE_PREFIXES = ((1e9, "Gbit/s"), (1e6, "Mbit/s"), (1e3, "kbit/s"))


def _shown(v: dict) -> tuple[str, str]:
    """A verdict's value and interval as the requirement states it: a rate stated in % shows in %.
    A bit rate takes the SI prefix of its value (high-rate-2023's "3.865e+07 bit/s" beside a
    "10 kbps" requirement is "38.65 Mbit/s")."""
    scale, unit = 1.0, v["unit"] or ""
    if unit == "ratio" and v["threshold_stated"].endswith("%"):
        scale, unit = 100.0, "%"
    elif unit in ("bit/s", "bps") and v["value"] is not None:
        scale, unit = next(((1 / size, name) for size, name in _BIT_RATE_PREFIXES if abs(v["value"]) >= size),
                           (1.0, unit))
    value = "" if v["value"] is None else f"{fmt(v['value'] * scale)} {unit}".rstrip()
    ci = "" if v["ci_low"] is None else f"[{fmt(v['ci_low'] * scale)}, {fmt(v['ci_high'] * scale)}]"
    return value, ci


def _verdict_rows(res: dict) -> tuple[list[dict], list[str]]:
    """The verdict grid's rows, and the reasons more than one cell gives (a vendor's library missing:
    about 900 characters, once per criterion), stated once under the grid; a cell names its note."""
    notes = repeated_reasons([v["reason"] for v in res["verdicts"] if _reason_shown(v)])
    rows: dict[str, dict] = {}
    for v in res["verdicts"]:
        v = {**v, **dict(zip(("shown", "shown_ci"), _shown(v), strict=True)),
             "note": notes.index(v["reason"]) + 1 if v["reason"] in notes else None}
        where = "".join(f", {k}={w}" for k, w in v["where"].items())
        row = rows.setdefault(v["criterion"], {
            "id": v["criterion"], "gate": v["gate"], "description": v["description"], "cells": {},
            "requirement": f"{v['statistic']}({v['metric']}{where}) {v['op']} {v['threshold_stated']}"})
        row["cells"][v["vendor"]] = v
    return list(rows.values()), notes


def _reason_shown(v: dict) -> bool:
    """A cell states its reason where it has no value to show (the template's rule)."""
    return v["outcome"] == "n/a" or (v["outcome"] == "fail" and v["value"] is None)


def _marks(ev: Evaluation) -> list[Mark]:
    """Each criterion's threshold and target in its rows' unit, from its first judged verdict."""
    from harness.evaluation import units

    marks: dict[str, Mark] = {}
    for v in ev.verdicts:
        crit = v.criterion
        if crit.id in marks or v.threshold is None:
            continue
        target = None
        if crit.target_quantity is not None:
            value, symbol = crit.target_quantity
            unit = v.evidence.unit
            try:
                target = units.convert(value, symbol, unit) if symbol and unit and symbol != unit else value
            except units.UnitError:
                target = None
        where = tuple((c, tuple(w if isinstance(w, list) else [w])) for c, w in sorted(crit.where.items()))
        marks[crit.id] = Mark(crit.id, crit.suite, crit.metric, crit.statistic, crit.op, v.threshold, target,
                              where)
    return list(marks.values())


def _incomplete(run: RunData) -> str:
    """Why the report covers less than the plan, or "" for a finished run."""
    planned = run.manifest.get("cases")
    done = len(run.cases)
    missing = planned - done if isinstance(planned, int) and planned > done else 0
    if not run.manifest.get("finished") or missing:
        what = (f"{missing} of {planned} planned cases have no results" if missing
                else "its manifest has no finish time")
        source = (run.manifest.get("scenario") or {}).get("source", "SCENARIO")
        return (f"This run is incomplete: {what}. Verdicts that need the missing cases read \"no data\"; "
                f"finish it with: qsbench run {source} --resume {run.run_dir}")
    return ""


def render(run_dir: str | Path, baseline: str | Path | Sequence[Path] | None = None) -> Rendered:
    """Evaluate the run in `run_dir` and write its report; against `baseline`, if given: one run
    directory, or several, oldest first (a history, `harness.evaluation.compare.resolve_baseline`)."""
    run = load(run_dir)
    ev = evaluate_run(run)
    if baseline is None:
        comparison = None
    elif isinstance(baseline, str | Path):
        comparison = compare(run, load(baseline))
    else:
        comparison = compare(run, load(baseline[0]) if len(baseline) == 1 else list(baseline))
    res = results(ev, comparison)
    params = run.case_columns  # case conditions
    labels = [c for c in run.extra_columns if c not in params]  # per-row results a suite declared
    lines = lines_by(params, run.manifest)  # and per link, where a metric is one value per link
    summary = run.summary(lines)
    plot_rows, sampled = run.plot_rows()
    suite_order = [s.suite for s in run.scenario.suites] if run.scenario else []
    out = Path(run_dir) / "report"
    out.mkdir(exist_ok=True)

    title = run.scenario.name if run.scenario else run.run_id
    verdict_rows, reason_notes = _verdict_rows(res)
    case_rows, case_notes = _cases(run.cases, params)
    html = _env().get_template("scorecard.html.j2").render(
        scenario_name=title, description=run.scenario.description if run.scenario else "",
        run_id=run.run_id, started=run.manifest.get("started"), finished=run.manifest.get("finished"),
        host=(run.manifest.get("host") or {}).get("cpu_model", ""), n_rows=run.n_rows,
        vendors=run.vendors, verdicts=res["verdicts"], verdict_rows=verdict_rows, reason_notes=reason_notes,
        gate_failures=res["gate_failures"], scorecard=res["scorecard"],
        score_categories=sorted({c for s in (res["scorecard"] or {}).get("ranking", [])
                                 for c in s["by_category"]}),
        comparison=res["comparison"], trend_plots=trend_plots(run, comparison),
        evidence=evidence_plots(plot_rows, params, labels, suite_order, sampled, _marks(ev),
                                Declarations.of_run(run.manifest, sorted(set(run.cases["suite"])))),
        incomplete=_incomplete(run), run_path=str(run_dir),
        summary_rows=_summary_rows(summary, lines, run, [c for c in labels if c not in lines]),
        cases=case_rows, case_notes=case_notes, version=qsbench_version(),
        css=(Path(__file__).parent / "templates" / "style.css").read_text())
    html_path = out / "scorecard.html"
    html_path.write_text(html)
    results_path = out / "results.json"
    results_path.write_text(json.dumps(res, indent=2, default=str) + "\n")
    junit_path = junit.write(out / "junit.xml", run.run_id, list(ev.verdicts), comparison)
    md_path = out / "summary.md"
    md_path.write_text(evaluation_markdown(res) + "\n" + to_markdown(
        summary, problems(run.cases), lines, f"Results of {run.run_id}", run.manifest))
    return Rendered(out, html_path, md_path, results_path, junit_path, ev, comparison)


__all__ = ["Rendered", "RunData", "render"]
