"""History across runs: `results/` queried with DuckDB, and steps found in a metric's series.

Every run directory holds Parquet parts with the same core columns and a digest
of them (`harness.digest`: one file per run, built when missing), so DuckDB reads
the digests of `results/*/` as one table (`union_by_name`: runs with other
parameter columns line up by name); the manifests give each run its start time
and scenario. Statistics leave NaN and NULL values out, as pandas' do.

Steps: a series of per-run medians is split into constant segments by optimal
partitioning (L1 cost, a penalty per step), every segment at least two runs
long. The penalty is what a step of `threshold` (relative, default 10 %)
lasting three runs would save, and a level must hold for two runs to be one:
a single noisy night, however far off and wherever it falls (the newest run
included), is never a step, while a lasting shift is; a boundary between
segments whose medians differ by less than `threshold` is not reported.
A segment's L1 cost is the sum of its upper half less the sum of its lower half,
read from a Fenwick tree of counts and sums over the series' ranks as the segment
grows: the exact optimum in O(n² log n) time (a few milliseconds for 1 000 runs),
where recomputing each segment's median cost O(n³).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
from numba import njit

from harness import digest
from harness.store import MANIFEST

STEP_RUNS = 3
SHORTEST_LEVEL = 2  # runs a level must hold for
# Partitions whose costs differ by less than this (relative to the series' scale) are equally good:
# L1 costs tie exactly and often (two pairs that straddle each other cost what their union costs),
# and which of them rounding favours must not decide where a step is reported.
TIE = 1e-9


def runs(results_root: Path) -> pd.DataFrame:
    """run_id, scenario, started, run_dir, schema (its rows' columns as JSON; None where the manifest
    has none) of every run directory under `results_root`."""
    found = []
    for manifest in sorted(Path(results_root).glob(f"*/{MANIFEST}")):
        try:
            data = json.loads(manifest.read_text())
        except (OSError, ValueError):
            continue  # a run being written or a broken one: not history
        found.append({"run_id": str(data.get("run_id") or manifest.parent.name),
                      "scenario": (data.get("scenario") or {}).get("name"),
                      "started": str(data.get("started") or ""), "run_dir": str(manifest.parent),
                      "schema": json.dumps(columns) if isinstance(columns := data.get("columns"), dict)
                      else None})
    return pd.DataFrame(found, columns=["run_id", "scenario", "started", "run_dir", "schema"])


def _digests(run_dirs: list[str] | list[Path]) -> list[Path | None]:
    return [digest.path(Path(r)) for r in run_dirs]


def _connect(results_root: Path, scenario: str | None) -> duckdb.DuckDBPyConnection | None:
    """DuckDB with views `runs` (the manifests) and `rows` (every usable value of every run), or None
    without data."""
    index = runs(results_root)
    if scenario is not None:
        index = index[index["scenario"] == scenario]
    found = [(d, schema) for d, schema in zip(_digests(list(index["run_dir"])), index["schema"], strict=True)
             if d is not None]
    if not found:
        return None
    con = _duckdb()
    con.register("runs", index[["run_id", "scenario", "started", "run_dir"]])
    con.execute(f"CREATE VIEW rows AS {digest.rows_sql([d for d, _ in found], [s for _, s in found])}")
    return con


# A repeat's low quantile: what a timing is compared on, since a busy host only ever adds time
# to a call (harness.evaluation.compare).
LOW_QUANTILE = 0.10
# One row per repeat (case) × metric: what a comparison works on. A case's repeats share its
# `experiment_id`; runs made before there was one count each case as an experiment of its own.
_REPEATS = ("SELECT run_id, {experiment} AS experiment_id, suite, vendor, metric, min(unit) AS unit, "
            "case_id, min(repeat) AS repeat, median(value) AS median, "
            f"quantile_cont(value, {LOW_QUANTILE}) AS low, avg(value) AS mean, count(*) AS n "
            "FROM {src} WHERE status = 'ok' AND value IS NOT NULL AND NOT isnan(value) "
            "GROUP BY ALL ORDER BY ALL")
_STATUSES = ("SELECT run_id, case_id, any_value({experiment}) AS experiment_id, any_value(suite) AS suite, "
             "any_value(vendor) AS vendor, min(repeat) AS repeat, any_value(status) AS status, "
             "any_value(reason) AS reason FROM {src} GROUP BY run_id, case_id ORDER BY ALL")


REPEAT_COLUMNS = ["run_id", "experiment_id", "suite", "vendor", "metric", "unit", "case_id", "repeat",
                  "median", "low", "mean", "n"]
STATUS_COLUMNS = ["run_id", "case_id", "experiment_id", "suite", "vendor", "repeat", "status", "reason"]


def _experiment(con: duckdb.DuckDBPyConnection, src: str) -> str:
    present = {r[0] for r in con.execute(f"DESCRIBE {src}").fetchall()}
    return "coalesce(experiment_id, case_id)" if "experiment_id" in present else "case_id"


def _tables(con: duckdb.DuckDBPyConnection, values: str, cases: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Repeats from the view `values`, statuses from `cases` (rows or digest rows: any row of a case)."""
    experiment = _experiment(con, cases)
    return (con.execute(_REPEATS.format(src=values, experiment=experiment)).df(),
            con.execute(_STATUSES.format(src=cases, experiment=experiment)).df())


def _duckdb() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    # DuckDB 2.0 folds isnan() to false from Parquet min/max statistics, which leave NaN out:
    # do not reason from statistics (see harness.rundata).
    con.execute("SET disabled_optimizers = 'statistics_propagation'")
    con.execute("SET enable_progress_bar = false")
    return con


def repeat_tables(rows: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per repeat × metric: median, low (10th percentile), mean, n; per case: status) of rows in memory."""
    con = _duckdb()
    con.register("src", rows)
    return _tables(con, "src", "src")


def run_repeat_tables(run_dirs: list[Path]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The same tables for stored runs, aggregated by DuckDB over their digests."""
    digests = [d for d in _digests(run_dirs) if d is not None]
    if not digests:
        return pd.DataFrame(columns=REPEAT_COLUMNS), pd.DataFrame(columns=STATUS_COLUMNS)
    con = _duckdb()
    con.execute(f"CREATE VIEW cases AS {digest.table_sql(digests)}")
    con.execute(f"CREATE VIEW src AS {digest.rows_sql(digests)}")
    return _tables(con, "src", "cases")


def case_medians(results_root: Path, scenario: str, metrics: list[str], case_ids: list[str]) -> pd.DataFrame:
    """Median of each metric of each case in every run of `scenario`, oldest run first."""
    columns = ["run_id", "started", "case_id", "metric", "median"]
    con = _connect(results_root, scenario)
    if con is None or not metrics or not case_ids:
        return pd.DataFrame(columns=columns)
    sql = ("SELECT r.run_id, runs.started, r.case_id, r.metric, median(r.value) AS median "
           "FROM rows r JOIN runs ON r.run_id = runs.run_id "
           "WHERE r.status = 'ok' AND r.value IS NOT NULL AND list_contains(?, r.metric) "
           "AND list_contains(?, r.case_id) "
           "GROUP BY r.run_id, runs.started, r.case_id, r.metric ORDER BY runs.started, r.run_id")
    return con.execute(sql, [metrics, case_ids]).df()[columns]


def query(results_root: Path, metric: str, where: dict[str, str] | None = None,
          by: list[str] | None = None, scenario: str | None = None) -> pd.DataFrame:
    """Per run (oldest first) × vendor × `by` columns: n, median, p25, p75 of `metric`'s ok rows."""
    keys = ["vendor", *(by or [])]
    columns = ["run_id", "started", *keys, "n", "cases", "median", "p25", "p75"]
    con = _connect(results_root, scenario)
    if con is None:
        return pd.DataFrame(columns=columns)
    present = {r[0] for r in con.execute("DESCRIBE rows").fetchall()}
    for col in [*(where or {}), *(by or [])]:
        if col not in present:
            raise KeyError(f"no column {col!r} in any run under {results_root}; columns: {sorted(present)}")
    filters, args = ["r.metric = ?", "r.status = 'ok'", "r.value IS NOT NULL"], [metric]
    for col, value in (where or {}).items():
        # Parameters are typed per run (float, bool, string): compare as text, or numerically when both parse.
        filters.append(f'(CAST(r."{col}" AS VARCHAR) = ? '
                       f'OR TRY_CAST(r."{col}" AS DOUBLE) = TRY_CAST(? AS DOUBLE))')
        args += [value, value]
    group = ", ".join(f'r."{k}"' for k in keys)
    sql = (f"SELECT r.run_id, runs.started, {group}, count(*) AS n, count(DISTINCT r.case_id) AS cases, "
           "median(r.value) AS median, quantile_cont(r.value, 0.25) AS p25, "
           "quantile_cont(r.value, 0.75) AS p75 "
           f"FROM rows r JOIN runs ON r.run_id = runs.run_id WHERE {' AND '.join(filters)} "
           f"GROUP BY r.run_id, runs.started, {group} ORDER BY runs.started, r.run_id, {group}")
    return con.execute(sql, args).df()[columns]


@dataclass(frozen=True)
class Step:
    index: int  # position in the series where the new level starts
    before: float
    after: float

    @property
    def change(self) -> float | None:
        return None if self.before == 0 else (self.after - self.before) / abs(self.before)


def steps(values: list[float] | np.ndarray, threshold: float = 0.10) -> list[Step]:
    """Level shifts in a series of per-run medians (see the module docstring)."""
    x = np.array(values, dtype=float)  # a fresh writable copy: one compiled signature, not one per view
    if x.ndim != 1 or not np.isfinite(x).all():
        raise ValueError("steps: a one-dimensional series of finite medians is needed")
    n = x.size
    if n < 2:
        return []
    scale = float(np.median(np.abs(x))) or 1.0
    start = _partition(x, threshold * scale * STEP_RUNS, SHORTEST_LEVEL, TIE * scale)
    bounds, j = [], n
    while j > 0:
        bounds.append(int(start[j]))
        j = start[j]
    bounds = sorted(bounds)
    levels = [float(np.median(x[a:b])) for a, b in zip(bounds, [*bounds[1:], n], strict=True)]
    found = []
    for k in range(1, len(bounds)):
        before, after = levels[k - 1], levels[k]
        if abs(after - before) > threshold * max(abs(before), 1e-300):
            found.append(Step(int(bounds[k]), before, after))
    return found


@njit(cache=True)
def _smallest_sum(count: np.ndarray, total: np.ndarray, k: int, top: int) -> float:
    """Sum of the k smallest values held in the Fenwick trees (ranks are distinct: counts are 0 or 1)."""
    pos, acc, step = 0, 0.0, top
    while step > 0:
        nxt = pos + step
        if nxt < count.size and count[nxt] <= k:
            pos = nxt
            k -= count[nxt]
            acc += total[nxt]
        step //= 2
    return acc


@njit(cache=True)
def _partition(x: np.ndarray, penalty: float, shortest: int, tie: float) -> np.ndarray:
    """start[j]: where the last segment of the best partition of x[:j] begins (optimal partitioning,
    L1 cost around each segment's median, `penalty` per segment, segments at least `shortest` long).
    For each start i, in increasing order, the segment x[i:j] grows one value at a time and its cost
    comes from the trees; only a cost lower by more than `tie` replaces the best, so the earliest
    start wins a tie."""
    n = x.size
    rank = np.empty(n, dtype=np.int64)
    rank[np.argsort(x, kind="mergesort")] = np.arange(n)
    top = 1
    while top * 2 <= n:
        top *= 2
    best = np.full(n + 1, np.inf)
    best[0] = -penalty
    start = np.zeros(n + 1, dtype=np.int64)
    count = np.zeros(n + 1, dtype=np.int64)
    total = np.zeros(n + 1)
    for i in range(n - shortest + 1):
        if best[i] == np.inf:  # x[:i] holds no whole level
            continue
        count[:] = 0
        total[:] = 0.0
        whole = 0.0
        for j in range(i + 1, n + 1):
            r = rank[j - 1] + 1
            while r <= n:
                count[r] += 1
                total[r] += x[j - 1]
                r += r & -r
            whole += x[j - 1]
            length = j - i
            if length < shortest:
                continue
            half = length // 2
            upper = whole - _smallest_sum(count, total, length - half, top)
            cost = best[i] + penalty + upper - _smallest_sum(count, total, half, top)
            if cost < best[j] - tie:
                best[j] = cost
                start[j] = i
    return start
