"""Summary statistics of a run: medians and spread per vendor × parameters × metric."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from harness.store import CASE_STATUS_METRIC

STAT_COLUMNS = ["n", "median", "p25", "p75", "p99", "mean", "min", "max"]


def summarize(rows: pd.DataFrame, param_columns: list[str]) -> pd.DataFrame:
    """One line per suite, vendor, case parameters (repeats pooled) and metric."""
    ok = rows[(rows["status"] == "ok") & (rows["metric"] != CASE_STATUS_METRIC)]
    keys = ["suite", "vendor", *[c for c in param_columns if c in ok.columns], "metric", "unit"]
    if ok.empty:
        return pd.DataFrame(columns=[*keys, *STAT_COLUMNS, "true", "false_samples"])
    grouped = ok.groupby(keys, dropna=False, sort=True, observed=True)["value"]
    stats = grouped.agg(n="count", median="median", mean="mean", min="min", max="max")
    # Positional, not by index: other suites' parameter columns are NaN in these keys, and pandas
    # does not align MultiIndex labels holding NaN (the quantiles came out all NaN).
    for name, q in (("p25", 0.25), ("p75", 0.75), ("p99", 0.99)):
        stats[name] = grouped.quantile(q).to_numpy()
    stats["true"] = grouped.sum().to_numpy()  # read only for unit "bool": how many checks held
    labels = [c for c in ok.columns if c not in keys and c not in _ROW_COLUMNS]
    stats["false_samples"] = [_false_names(group, labels)  # iterated in the order agg() sorted
                              for _, group in ok.groupby(keys, dropna=False, sort=True, observed=True)]
    return stats.reset_index()[[*keys, *STAT_COLUMNS, "true", "false_samples"]]


# Columns every row has; any other column not among a summary's keys is a suite's label.
_ROW_COLUMNS = ("run_id", "case_id", "experiment_id", "suite", "vendor", "adapter", "repeat", "status",
                "reason", "metric", "value", "unit", "sample")


def _false_names(group: pd.DataFrame, labels: list[str]) -> str:
    """Which boolean samples were false, by their labels (or repeat and sample number)."""
    if group["unit"].iloc[0] != "bool":
        return ""
    names = []
    false = group[group["value"] == 0]
    for _, r in false.iterrows():
        named = [f"{c}={r[c]}" for c in labels if pd.notna(r[c]) and str(r[c])]
        if named:
            names.append(", ".join(named))
        elif len(group) > 1:
            names.append(f"repeat {r['repeat']} sample {r['sample']}")
    if not names and len(false):
        return "false"
    return "; ".join(dict.fromkeys(names))


def outcome(row: pd.Series, better: str | None = None, named: bool = True) -> str:
    """A boolean metric as people read it: "3 of 4 passed (failed: x)", never as a median of 0/1.

    `better` is the metric's declared direction: "higher" makes true a pass; "lower" makes true a
    finding (a HelloRetryRequest was sent) and, like an undeclared direction, is just counted.
    `named` adds which samples were false, by their labels.
    """
    k, n = int(row["true"]), int(row["n"])
    word, false_word = ("passed", "failed") if better == "higher" else ("true", "false")
    names = row.get("false_samples") or ""
    shown = named and better != "lower" and names not in ("", "false")
    return f"{k} of {n} {word}" + (f" ({false_word}: {names})" if shown else "")


def declared_better(manifest: dict, suite: str, metric: str) -> str | None:
    """The good direction the run's manifest recorded for a suite's metric, if it recorded one."""
    declared = (manifest.get("metrics") or {}).get(suite) or {}
    entry = declared.get(metric) if isinstance(declared, dict) else None
    return entry.get("better") if isinstance(entry, dict) else None


def problems(rows: pd.DataFrame) -> pd.DataFrame:
    """Cases that produced no measurements, one line per suite, vendor, status and reason."""
    bad = rows[rows["status"] != "ok"].drop_duplicates("case_id")
    keys = ["suite", "vendor", "status", "reason"]
    if bad.empty:
        return pd.DataFrame(columns=[*keys, "cases", "case_ids"])
    grouped = bad.groupby(keys, sort=True)["case_id"]
    return grouped.agg(cases="count", case_ids=lambda ids: " ".join(sorted(ids))).reset_index()


def repeated_reasons(reasons: list[str]) -> list[str]:
    """The reasons given more than once, in first-given order: each is stated once, as a numbered
    note (a vendor's library missing is about 900 characters), and its places name the note."""
    said = Counter(reasons)
    return [r for r in said if r and said[r] > 1]


def fmt(value: float) -> str:
    if pd.isna(value):
        return ""
    if value == 0 or 0.01 <= abs(value) < 1e6:
        # no thousands separators: "[404,844, 441,775]" reads as four numbers
        return f"{value:.4g}" if abs(value) < 1000 else f"{value:.0f}"
    return f"{value:.3e}"


def value_text(v: object) -> str:
    """A parameter's or label's value as a reader writes it: an index or a count stored in a float
    column (other suites' rows leave it NaN) reads `hops=3`, not `3.0`; other values as they are."""
    if isinstance(v, float | np.floating) and np.isfinite(v) and float(v).is_integer():
        return str(int(v))
    return str(v)


def _param_text(row: pd.Series, param_columns: list[str]) -> str:
    return ", ".join(f"{c}={value_text(row[c])}" for c in param_columns if c in row and pd.notna(row[c]))


def to_markdown(summary: pd.DataFrame, bad: pd.DataFrame, param_columns: list[str], title: str,
                manifest: dict | None = None) -> str:
    lines = [f"# {title}", "",
             "Median and spread of every metric; `n` counts samples (repeats pooled).", "",
             "| suite | vendor | parameters | metric | unit | n | median | p25–p75 | p99 |",
             "|---|---|---|---|---|---:|---:|---:|---:|"]
    for _, r in summary.iterrows():
        if r["unit"] == "bool":
            spread = f"{outcome(r, declared_better(manifest or {}, r['suite'], r['metric']))} | | "
        else:
            spread = f"{fmt(r['median'])} | {fmt(r['p25'])}–{fmt(r['p75'])} | {fmt(r['p99'])} "
        lines.append(f"| {r['suite']} | {r['vendor']} | {_param_text(r, param_columns)} | {r['metric']} | "
                     f"{r['unit']} | {r['n']} | {spread}|")
    if not bad.empty:
        lines += ["", "## Cases without measurements", "", "| suite | vendor | status | cases | reason |",
                  "|---|---|---|---:|---|"]
        # A reason several lines give (a vendor's library missing: about 900 characters, once per
        # suite) is stated once, as a numbered note under the table, and the lines name the note.
        reasons = [str(r).replace("|", "\\|").replace("\n", " ") for r in bad["reason"]]
        notes = repeated_reasons(reasons)
        for (_, r), reason in zip(bad.iterrows(), reasons, strict=True):
            shown = f"see note {notes.index(reason) + 1}" if reason in notes else reason
            lines.append(f"| {r['suite']} | {r['vendor']} | {r['status']} | {r['cases']} "
                         f"(<small>{r['case_ids']}</small>) | {shown} |")
        if notes:
            lines += ["", *(f"{i}. {reason}" for i, reason in enumerate(notes, start=1))]
    return "\n".join(lines) + "\n"


def lines_by(params: list[str], manifest: dict) -> list[str]:
    """What a summary line is per besides suite, vendor and metric: each case parameter in `params`,
    and each label a metric of the run is declared one value per (a link: Declarations.per_labels)."""
    from harness.metrics import Declarations

    return [*params, *(c for c in Declarations.of_run(manifest).per_labels() if c not in params)]


def write_summary(run_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame, Path]:
    """summary.md of a run, its statistics computed in DuckDB over the parts (see harness.rundata)."""
    from harness.rundata import load

    run = load(run_dir)
    manifest = run.manifest
    params = lines_by(manifest.get("param_columns", []), manifest)
    summary, bad = run.summary(params), problems(run.cases)
    out = Path(run_dir) / "report" / "summary.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(to_markdown(summary, bad, params, f"qsbench run {manifest['run_id']}", manifest))
    return summary, bad, out
