"""Read a finished (or interrupted) run directory for evaluation: rows, manifest, scenario.

Evaluation needs only the tidy rows and the scenario text kept in the
manifest; it parses the scenario without the plugin registry, so a report can
be rendered on a machine that lacks the vendors' libraries.

The rows stay on disk. `RunData.sql` runs DuckDB over the run's Parquet parts
(view `rows`), so statistics, case lists and selections are computed where
the data lies and only their results come into memory: a report's memory
grows with the number of cases and of values it actually uses, not with the
number of samples in the run. `RunData.rows` still loads everything into one
DataFrame, for small runs and for callers that want it.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import yaml

from harness.scenario import Scenario
from harness.store import CASE_STATUS_METRIC, MANIFEST, RunStore

# DuckDB's own bound on what it holds (it spills beyond it); the report's budget is 2 GB in all.
DUCKDB_MEMORY = "1GB"
# Plots draw from at most this many values per suite × metric: beyond it a fixed pseudo-random
# 1-in-k subsample of the samples (the caption says so); statistics always use every value.
PLOT_VALUES_MAX = 200_000
# Above this many Parquet parts a run's rows are copied once into a scratch DuckDB database.
MANY_PARTS = 256

CORE_COLUMNS = ("run_id", "case_id", "experiment_id", "suite", "vendor", "adapter", "repeat", "status",
                "reason", "metric", "value", "unit", "sample")


class RunDirError(Exception):
    pass


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class RunData:
    run_dir: Path
    manifest: dict[str, Any]
    scenario: Scenario | None

    @property
    def run_id(self) -> str:
        return str(self.manifest.get("run_id") or self.run_dir.name)

    @property
    def vendors(self) -> list[str]:
        if self.scenario is not None:
            return [v.name for v in self.scenario.vendors]
        return [r[0] for r in self.fetch("SELECT DISTINCT vendor FROM rows ORDER BY vendor")]

    @cached_property
    def rows(self) -> pd.DataFrame:
        """Every row in one DataFrame (memory grows with the samples: the report does not use it)."""
        return RunStore(self.run_dir).read()

    @cached_property
    def con(self) -> duckdb.DuckDBPyConnection:
        """DuckDB with the view `rows` over this run's Parquet parts."""
        parts = RunStore(self.run_dir).parts_dir
        count = sum(1 for _ in parts.glob("*.parquet"))
        config = {"memory_limit": DUCKDB_MEMORY, "threads": 2}
        if count > MANY_PARTS:
            # Every scan of thousands of small parts opens each of them: copy them once into a
            # scratch database (compressed, on disk, deleted with this object) and query that.
            scratch = tempfile.TemporaryDirectory(prefix="qsbench-rows-")
            object.__setattr__(self, "_scratch", scratch)  # lives as long as the connection
            con = duckdb.connect(str(Path(scratch.name) / "rows.duckdb"), config=config)
        else:
            con = duckdb.connect(config=config)
        # DuckDB 2.0 folds isnan() to false from Parquet min/max statistics, which leave NaN out
        # (a sample's "no value" would count as a number): do not reason from statistics.
        con.execute("SET disabled_optimizers = 'statistics_propagation'")
        con.execute("SET enable_progress_bar = false")  # a report prints its own lines, not DuckDB's
        if count:
            pattern = str(parts / "*.parquet").replace("'", "''")
            kind = "TABLE" if count > MANY_PARTS else "VIEW"
            con.execute(f"CREATE {kind} rows AS SELECT * FROM read_parquet('{pattern}')")
        else:
            con.register("empty_rows", RunStore(self.run_dir).schema().empty_table())
            con.execute("CREATE VIEW rows AS SELECT * FROM empty_rows")
        return con

    def sql(self, query: str, args: Sequence[Any] = ()) -> pd.DataFrame:
        """A query over the view `rows`, as a DataFrame (strings shared, not one object per row)."""
        return self.con.sql(query, params=list(args) or None).to_arrow_table().to_pandas()

    def fetch(self, query: str, args: Sequence[Any] = ()) -> list[tuple]:
        """A query over the view `rows`, as tuples (for small answers)."""
        return self.con.sql(query, params=list(args) or None).fetchall()

    @cached_property
    def columns(self) -> list[str]:
        return [r[0] for r in self.fetch("DESCRIBE rows")]

    @cached_property
    def n_rows(self) -> int:
        return int(self.fetch("SELECT count(*) FROM rows")[0][0])

    @property
    def extra_columns(self) -> list[str]:
        """Case parameter and suite label columns: everything that is not a core column."""
        return [c for c in self.columns if c not in CORE_COLUMNS]

    @property
    def case_columns(self) -> list[str]:
        """The case parameters (labels vary row by row within a case; parameters do not)."""
        extra = self.extra_columns
        return [c for c in self.manifest.get("param_columns", extra) if c in extra]

    @cached_property
    def cases(self) -> pd.DataFrame:
        """One row per case: its core columns, parameters and `rows` (measurement rows, case_status aside)."""
        keep = ["suite", "vendor", "adapter", "repeat", "status", "reason", *self.case_columns]
        picked = ", ".join(f"any_value({_quote(c)}) AS {_quote(c)}" for c in keep)
        return self.sql(f"SELECT case_id, {picked}, count(*) FILTER (WHERE metric <> '{CASE_STATUS_METRIC}') "
                        "AS rows FROM rows GROUP BY case_id ORDER BY suite, vendor, case_id")

    def summary(self, params: list[str]) -> pd.DataFrame:
        """`harness.evaluation.summary.summarize` computed in DuckDB, plus each line's sorted `case_ids`."""
        keys = ["suite", "vendor", *[c for c in params if c in self.columns], "metric", "unit"]
        group = ", ".join(_quote(k) for k in keys)
        ok = f"status = 'ok' AND metric <> '{CASE_STATUS_METRIC}'"
        # NaN is a missing value to pandas' statistics, a number to DuckDB's: make it NULL first.
        table = self.sql(
            f"WITH v AS (SELECT * REPLACE (CASE WHEN isnan(value) THEN NULL ELSE value END AS value) "
            f"FROM rows WHERE {ok}) "
            f"SELECT {group}, count(value) AS n, median(value) AS median, "
            "quantile_cont(value, 0.25) AS p25, quantile_cont(value, 0.75) AS p75, "
            "quantile_cont(value, 0.99) AS p99, avg(value) AS mean, min(value) AS min, max(value) AS max, "
            'coalesce(sum(value), 0) AS "true", count(*) AS group_rows, '
            f"list(DISTINCT case_id ORDER BY case_id) AS case_ids FROM v GROUP BY {group} "
            f"ORDER BY {', '.join(f'{_quote(k)} ASC NULLS LAST' for k in keys)}")
        table["false_samples"] = self._false_samples(table, keys, ok)
        columns = [c for c in table.columns if c not in ("case_ids", "group_rows")]
        return table[[*columns, "case_ids"]]

    def _false_samples(self, table: pd.DataFrame, keys: list[str], ok: str) -> list[str]:
        """`harness.evaluation.summary._false_names` per summary line, from the false boolean rows alone."""
        labels = [c for c in self.extra_columns if c not in keys]
        false = self.sql(f"SELECT * FROM rows WHERE {ok} AND unit = 'bool' AND value = 0 "
                         "ORDER BY case_id, sample")
        if false.empty:
            return [""] * len(table)
        names: dict[tuple, list[str]] = {}
        for _, r in false.iterrows():
            key = tuple(None if pd.isna(r[k]) else r[k] for k in keys)
            named = [f"{c}={r[c]}" for c in labels if pd.notna(r[c]) and str(r[c])]
            names.setdefault(key, []).append(", ".join(named) if named else "")
            if not named:  # named by position only where the line has more than this one sample
                names[key][-1] = f"repeat {r['repeat']} sample {r['sample']}"
        out = []
        for _, line in table.iterrows():
            key = tuple(None if pd.isna(line[k]) else line[k] for k in keys)
            found = names.get(key, [])
            if line["unit"] != "bool" or not found:
                out.append("")
                continue
            shown = [n for n in found if not n.startswith("repeat ") or line["group_rows"] > 1]
            out.append("; ".join(dict.fromkeys(shown)) if shown else "false")
        return out

    def selection(self, metric: str, suite: str | None, filters: list[tuple[str, str, list[Any]]],
                  columns: list[str]) -> pd.DataFrame:
        """Rows of `metric` and the case_status rows of its suites, narrowed by SQL `filters`
        ((column, condition, args) triples); only `columns` come back."""
        where, args = [f"metric IN (?, '{CASE_STATUS_METRIC}')"], [metric]
        if suite is not None:
            where.append("suite = ?")
            args.append(suite)
        for _, condition, extra in filters:
            where.append(condition)
            args += extra
        cols = ", ".join(_quote(c) for c in dict.fromkeys(columns))
        # No ORDER BY: a filtered scan keeps the parts' order (DuckDB preserves insertion order),
        # the order pandas reads them in, and sorting millions of selected rows costs gigabytes.
        return self.sql(f"SELECT {cols} FROM rows WHERE {' AND '.join(where)}", args)

    def plot_rows(self, limit: int = PLOT_VALUES_MAX) -> tuple[pd.DataFrame, dict[tuple[str, str], int]]:
        """Rows for the evidence plots, and the true sample count of each suite × metric that was
        thinned to about `limit` values (a fixed hash of case and sample picks 1 in k)."""
        ok = f"status = 'ok' AND metric <> '{CASE_STATUS_METRIC}' AND value IS NOT NULL"
        counts = self.fetch(f"SELECT suite, metric, count(*) FROM rows WHERE {ok} "
                            "GROUP BY suite, metric HAVING count(*) > ?", [limit])
        thinned = {(s, m): int(n) for s, m, n in counts}
        if not thinned:
            return self.sql("SELECT * FROM rows ORDER BY case_id, metric, sample"), {}
        every = pd.DataFrame([{"suite": s, "metric": m, "k": -(-n // limit)}
                              for (s, m), n in thinned.items()])
        self.con.register("thinning", every)
        try:
            frame = self.sql(
                "SELECT r.* FROM rows r LEFT JOIN thinning t ON r.suite = t.suite AND r.metric = t.metric "
                "WHERE t.k IS NULL OR hash(r.case_id, r.sample) % t.k = 0 ORDER BY case_id, metric, sample")
        finally:
            self.con.unregister("thinning")
        return frame, thinned


def scenario_text(manifest: dict[str, Any]) -> str | None:
    """The scenario as run (harness.manifest keeps its text), or None for a manifest without it."""
    scenario = manifest.get("scenario")
    return scenario.get("text") if isinstance(scenario, dict) else None


def param_columns(rows: pd.DataFrame) -> list[str]:
    """Case parameter and suite label columns: everything that is not a core column."""
    return [c for c in rows.columns if c not in CORE_COLUMNS]


def load(run_dir: str | Path) -> RunData:
    run_dir = Path(run_dir)
    if not (run_dir / MANIFEST).is_file():
        raise RunDirError(f"{run_dir} is not a run directory: it has no {MANIFEST}")
    manifest = RunStore(run_dir).manifest
    text = scenario_text(manifest)
    scenario = Scenario.model_validate(yaml.safe_load(text)) if text else None
    return RunData(run_dir, manifest, scenario)
