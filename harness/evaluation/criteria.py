"""Success criteria → a verdict per vendor: pass, fail or n/a, each with its evidence.

A criterion selects ok rows of one metric (optionally one suite, `where`
filters on parameter or label columns, some vendors), computes its statistic
with a bootstrap confidence interval, converts the threshold into the rows' unit
and compares. A verdict is *marginal* when the threshold lies inside the
interval, i.e. the margin is smaller than the uncertainty.

Cases that did not end ok are never dropped silently. Among the cases a
criterion selects, a `failed` or `timeout` case fails the criterion (the vendor
did not deliver what is being judged); `na` cases without any ok data give
`n/a` with their reason (e.g. the vendor lacks the capability). A vendor with
no matching rows at all gets `n/a: no data`.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from harness.evaluation import stats, units
from harness.evaluation.criteria_spec import Criterion, Scalar
from harness.evaluation.summary import fmt
from harness.store import CASE_STATUS_METRIC

_OPS = {"<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt}


@dataclass(frozen=True)
class Evidence:
    n: int  # values the statistic was computed from
    value: float | None  # the statistic, in `unit`
    ci: tuple[float, float] | None  # 95 % bootstrap interval
    unit: str | None
    case_ids: tuple[str, ...]  # every case the criterion selected, ok or not
    not_ok: dict[str, int] = field(default_factory=dict)  # status → number of selected cases


@dataclass(frozen=True)
class Verdict:
    criterion: Criterion
    vendor: str
    outcome: str  # "pass" | "fail" | "n/a"
    reason: str
    evidence: Evidence
    threshold: float | None = None  # in the evidence's unit
    marginal: bool = False

    @property
    def label(self) -> str:
        return f"{self.outcome}, marginal" if self.marginal and self.outcome != "n/a" else self.outcome

    @property
    def gate_failed(self) -> bool:
        """A mandatory criterion the vendor did not demonstrably meet (fail or n/a)."""
        return self.criterion.gate and self.outcome != "pass"


def _match(column: pd.Series, wanted: Scalar | list[Scalar]) -> np.ndarray:
    """Rows whose value equals one of `wanted`: numbers compare numerically, everything else as text."""
    options = wanted if isinstance(wanted, list) else [wanted]
    is_bool = pd.api.types.is_bool_dtype(column)
    is_number = pd.api.types.is_numeric_dtype(column) and not is_bool
    numbers = column.to_numpy(dtype=float, na_value=np.nan) if is_number else None
    mask = np.zeros(len(column), dtype=bool)
    for want in options:
        if is_number and isinstance(want, int | float) and not isinstance(want, bool):
            mask |= np.isclose(numbers, float(want), rtol=1e-9)
        elif is_bool and isinstance(want, bool):
            mask |= (column == want).fillna(False).to_numpy(dtype=bool)
        elif isinstance(want, bool):
            text = column.astype("string").str.lower()
            mask |= text.eq(str(want).lower()).fillna(False).to_numpy(dtype=bool)
        elif is_number:
            continue  # text against a numeric column matches nothing
        else:
            hit = column.eq(str(want)).fillna(False).to_numpy(dtype=bool)
            if not hit.any() and isinstance(want, int | float):  # 50 against a text column holding "50.0"
                hit = np.isclose(pd.to_numeric(column, errors="coerce").to_numpy(dtype=float), float(want))
            mask |= hit
    return mask


def select(rows: pd.DataFrame, crit: Criterion) -> tuple[pd.DataFrame, str | None]:
    """Rows a criterion looks at (every metric, so non-ok case rows come along); or why none can match."""
    sel = rows
    if crit.suite is not None:
        sel = sel[sel["suite"] == crit.suite]
    for col, wanted in crit.where.items():
        if col not in sel.columns:
            return sel.iloc[0:0], f"no column {col!r} in this run's rows (where: {col}={wanted})"
        sel = sel[_match(sel[col], wanted)]
    # Non-ok cases carry only a case_status row; they count when their suite produces the metric.
    producing = set(sel.loc[sel["metric"] == crit.metric, "suite"])
    keep = (sel["metric"] == crit.metric) | (
        (sel["metric"] == CASE_STATUS_METRIC) & (sel["suite"].isin(producing) if producing else True))
    return sel[keep], None


def _where_text(crit: Criterion) -> str:
    parts = [f"{k}={v}" for k, v in crit.where.items()]
    return f" where {', '.join(parts)}" if parts else ""


def judge(rows: pd.DataFrame, crit: Criterion, vendor: str) -> Verdict:
    """The verdict of one criterion for one vendor over (already selected) rows."""
    mine = rows[rows["vendor"] == vendor]
    case_ids = tuple(sorted(set(mine["case_id"])))
    statuses = mine.drop_duplicates("case_id").set_index("case_id")["status"]
    not_ok = {s: int((statuses == s).sum()) for s in ("failed", "timeout", "na") if (statuses == s).any()}
    ok = mine[(mine["status"] == "ok") & (mine["metric"] == crit.metric)]
    values = ok["value"].to_numpy(dtype=float, na_value=np.nan)
    undefined = int(np.isnan(values).sum())  # a suite's "no value this sample": said, not counted
    values = values[~np.isnan(values)]
    row_units = sorted(set(ok["unit"].dropna()))
    row_unit = row_units[0] if len(row_units) == 1 else None

    def verdict(outcome: str, reason: str, **kw) -> Verdict:
        evidence = Evidence(kw.pop("n", values.size), kw.pop("value", None), kw.pop("ci", None),
                            kw.pop("unit", row_unit), case_ids, not_ok)
        return Verdict(crit, vendor, outcome, reason, evidence, **kw)

    broken = statuses[statuses.isin(["failed", "timeout"])]
    if len(broken):
        first = mine[mine["case_id"] == broken.index[0]]["reason"].dropna()
        why = first.iloc[0] if len(first) else "no reason recorded"
        return verdict("fail", f"{len(broken)} of {len(statuses)} selected cases did not finish "
                       f"({', '.join(f'{s} {c}' for s, c in not_ok.items())}); first: {why}")
    if values.size == 0:
        if not_ok.get("na"):
            reasons = sorted(set(mine.loc[mine["status"] == "na", "reason"].dropna()))
            return verdict("n/a", "; ".join(reasons) or "not applicable to this vendor")
        nan = f" ({undefined} NaN values)" if undefined else ""
        return verdict("n/a", f"no data: no ok rows of {crit.metric}{_where_text(crit)} for {vendor}{nan}")
    if len(row_units) > 1:
        return verdict("n/a", f"rows of {crit.metric} mix units {row_units}; cannot compute one statistic")

    thr_value, thr_unit = crit.threshold_quantity
    stat_unit = "ratio" if crit.statistic == "rate" else row_unit
    try:
        if thr_unit is not None and stat_unit is not None and thr_unit != stat_unit:
            thr_value = units.convert(thr_value, thr_unit, stat_unit)
        elif thr_unit is not None and stat_unit is None:
            return verdict("n/a", f"rows of {crit.metric} carry no unit; cannot compare with {thr_unit}")
    except units.UnitError as exc:
        return verdict("n/a", f"unit mismatch: {exc}")

    value = stats.statistic(values, crit.statistic)
    ci = stats.bootstrap_ci(values, crit.statistic, stats.seed_for(crit.id, vendor))
    passed = bool(_OPS[crit.op](value, thr_value))
    # Marginal: the threshold lies within the interval, i.e. the margin is smaller than the
    # uncertainty. A degenerate interval (every resample the same, e.g. 40 of 40 handshakes ok)
    # has no uncertainty to be smaller than; a single value (a key size) has no interval, which
    # its reason and n=1 say instead.
    marginal = ci is not None and ci[0] <= thr_value <= ci[1] and ci[0] < ci[1]
    note = "" if not not_ok else f"; {not_ok.get('na', 0)} selected case(s) n/a"
    if undefined:
        note += f"; {undefined} NaN value(s) left out"
    spread = "single value, no uncertainty estimate" if ci is None else (
        f"95% CI [{fmt(ci[0])}, {fmt(ci[1])}]")
    # plain numbers, as every table prints them: "11888 <= 14480 bytes", not "1.189e+04 <= 1.448e+04"
    reason = (f"{crit.statistic} {fmt(value)} {crit.op} {fmt(thr_value)} {stat_unit or ''} is "
              f"{'met' if passed else 'not met'} (n={values.size}, {spread}){note}")
    return verdict("pass" if passed else "fail", reason, value=value, ci=ci, unit=stat_unit,
                   threshold=thr_value, marginal=marginal)


def verdicts(rows: pd.DataFrame, criteria: Iterable[Criterion], vendors: list[str]) -> list[Verdict]:
    """Every criterion × every vendor it applies to, in scenario order."""
    out = []
    for crit in criteria:
        selected, why_none = select(rows, crit)
        for vendor in crit.vendors or vendors:
            if why_none:
                out.append(Verdict(crit, vendor, "n/a", why_none, Evidence(0, None, None, None, ())))
            else:
                out.append(judge(selected, crit, vendor))
    return out


_NUMERIC_SQL = ("DOUBLE", "FLOAT", "BIGINT", "INTEGER", "SMALLINT", "TINYINT", "HUGEINT", "DECIMAL")


def _pushdown(column: str, sql_type: str, wanted: Scalar | list[Scalar]) -> tuple[str, list[Any]] | None:
    """The SQL condition that keeps at least the rows `_match` keeps, where one is simple to state;
    None leaves the column to `_match` alone (it runs on what the query returns, in every case)."""
    options = wanted if isinstance(wanted, list) else [wanted]
    quoted = '"' + column.replace('"', '""') + '"'
    numeric = sql_type.upper().startswith(_NUMERIC_SQL)
    parts, args = [], []
    for want in options:
        if numeric and isinstance(want, int | float) and not isinstance(want, bool):
            parts.append(f"abs({quoted} - ?) <= 1e-8 + 1e-9 * abs(?)")  # numpy.isclose(rtol=1e-9)
            args += [float(want), float(want)]
        elif sql_type.upper() == "VARCHAR" and isinstance(want, str):
            parts.append(f"{quoted} = ?")
            args.append(want)
        else:
            return None
    return "(" + " OR ".join(parts) + ")", args


def run_verdicts(run, criteria: Iterable[Criterion]) -> list[Verdict]:
    """`verdicts` over a `harness.rundata.RunData`, each criterion's rows selected in DuckDB first,
    so only the rows a criterion looks at (of its metric, narrowed by `where`) come into memory."""
    types = dict(run.fetch("SELECT column_name, column_type FROM (DESCRIBE rows)"))
    out = []
    for crit in criteria:
        filters = []
        for col, wanted in crit.where.items():
            pushed = _pushdown(col, types[col], wanted) if col in types else None
            if pushed is not None:
                filters.append((col, *pushed))
        columns = ["suite", "vendor", "case_id", "status", "reason", "metric", "value", "unit",
                   *[c for c in crit.where if c in types]]
        frame = run.selection(crit.metric, crit.suite, filters, columns)
        out += verdicts(frame, [crit], run.vendors)
    return out
