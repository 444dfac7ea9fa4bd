"""History across runs: `results/` queried with DuckDB, and steps found in a metric's series.

Every run directory holds Parquet parts with the same core columns, so DuckDB
reads `results/*/measurements/*.parquet` as one table (`union_by_name`: runs
with other parameter columns line up by name); the manifests give each run its
start time and scenario.

Steps: a series of per-run medians is split into constant segments by optimal
partitioning (L1 cost, a penalty per step), every segment at least two runs
long. The penalty is what a step of `threshold` (relative, default 10 %)
lasting three runs would save, and a level must hold for two runs to be one:
a single noisy night, however far off and wherever it falls (the newest run
included), is never a step, while a lasting shift is; a boundary between
segments whose medians differ by less than `threshold` is not reported.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from harness.store import MANIFEST, MEASUREMENTS

STEP_RUNS = 3
SHORTEST_LEVEL = 2  # runs a level must hold for


def runs(results_root: Path) -> pd.DataFrame:
    """run_id, scenario, started, run_dir of every run directory under `results_root`."""
    found = []
    for manifest in sorted(Path(results_root).glob(f"*/{MANIFEST}")):
        try:
            data = json.loads(manifest.read_text())
        except (OSError, ValueError):
            continue  # a run being written or a broken one: not history
        found.append({"run_id": str(data.get("run_id") or manifest.parent.name),
                      "scenario": (data.get("scenario") or {}).get("name"),
                      "started": str(data.get("started") or ""), "run_dir": str(manifest.parent)})
    return pd.DataFrame(found, columns=["run_id", "scenario", "started", "run_dir"])


def _connect(results_root: Path, scenario: str | None) -> duckdb.DuckDBPyConnection | None:
    """DuckDB with views `runs` (the manifests) and `rows` (every part), or None without data."""
    index = runs(results_root)
    if scenario is not None:
        index = index[index["scenario"] == scenario]
    parts = [str(Path(d) / MEASUREMENTS / "*.parquet") for d in index["run_dir"]
             if any((Path(d) / MEASUREMENTS).glob("*.parquet"))]
    if not parts:
        return None
    con = duckdb.connect()
    con.register("runs", index)
    con.execute(f"CREATE VIEW rows AS SELECT * FROM read_parquet({parts!r}, union_by_name=true)")
    return con


# One row per repeat (case) × metric: what a comparison works on. A case's repeats share its
# `experiment_id`; runs made before there was one count each case as an experiment of its own.
_REPEATS = ("SELECT run_id, {experiment} AS experiment_id, suite, vendor, metric, min(unit) AS unit, "
            "case_id, min(repeat) AS repeat, median(value) AS median, avg(value) AS mean, count(*) AS n "
            "FROM {src} WHERE status = 'ok' AND value IS NOT NULL AND NOT isnan(value) "
            "GROUP BY ALL ORDER BY ALL")
_STATUSES = ("SELECT run_id, case_id, any_value({experiment}) AS experiment_id, any_value(suite) AS suite, "
             "any_value(vendor) AS vendor, min(repeat) AS repeat, any_value(status) AS status, "
             "any_value(reason) AS reason FROM {src} GROUP BY run_id, case_id ORDER BY ALL")


REPEAT_COLUMNS = ["run_id", "experiment_id", "suite", "vendor", "metric", "unit", "case_id", "repeat",
                  "median", "mean", "n"]
STATUS_COLUMNS = ["run_id", "case_id", "experiment_id", "suite", "vendor", "repeat", "status", "reason"]


def _experiment(con: duckdb.DuckDBPyConnection, src: str) -> str:
    present = {r[0] for r in con.execute(f"DESCRIBE {src}").fetchall()}
    return "coalesce(experiment_id, case_id)" if "experiment_id" in present else "case_id"


def _tables(con: duckdb.DuckDBPyConnection, src: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    experiment = _experiment(con, src)
    return (con.execute(_REPEATS.format(src=src, experiment=experiment)).df(),
            con.execute(_STATUSES.format(src=src, experiment=experiment)).df())


def _duckdb() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    # DuckDB 2.0 folds isnan() to false from Parquet min/max statistics, which leave NaN out:
    # do not reason from statistics (see harness.rundata).
    con.execute("SET disabled_optimizers = 'statistics_propagation'")
    return con


def repeat_tables(rows: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per repeat × metric: median, mean, n; per case: status) of rows held in memory."""
    con = _duckdb()
    con.register("src", rows)
    return _tables(con, "src")


def run_repeat_tables(run_dirs: list[Path]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The same tables for stored runs, aggregated by DuckDB over their Parquet parts."""
    parts = [str(Path(d) / MEASUREMENTS / "*.parquet") for d in run_dirs
             if any((Path(d) / MEASUREMENTS).glob("*.parquet"))]
    if not parts:
        return pd.DataFrame(columns=REPEAT_COLUMNS), pd.DataFrame(columns=STATUS_COLUMNS)
    con = _duckdb()
    con.execute(f"CREATE VIEW src AS SELECT * FROM read_parquet({parts!r}, union_by_name=true)")
    return _tables(con, "src")


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
    x = np.asarray(values, dtype=float)
    n = x.size
    if n < 2:
        return []
    scale = float(np.median(np.abs(x))) or 1.0
    penalty = threshold * scale * STEP_RUNS
    best = np.full(n + 1, np.inf)
    best[0] = -penalty
    start = np.zeros(n + 1, dtype=int)
    for j in range(SHORTEST_LEVEL, n + 1):
        for i in range(j - SHORTEST_LEVEL + 1):  # best[i] stays inf where x[:i] holds no whole level
            segment = x[i:j]
            cost = best[i] + penalty + float(np.abs(segment - np.median(segment)).sum())
            if cost < best[j]:
                best[j], start[j] = cost, i
    bounds, j = [], n
    while j > 0:
        bounds.append(start[j])
        j = start[j]
    bounds = sorted(bounds)
    levels = [float(np.median(x[a:b])) for a, b in zip(bounds, [*bounds[1:], n], strict=True)]
    found = []
    for k in range(1, len(bounds)):
        before, after = levels[k - 1], levels[k]
        if abs(after - before) > threshold * max(abs(before), 1e-300):
            found.append(Step(int(bounds[k]), before, after))
    return found
