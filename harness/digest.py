"""A run's digest: its rows folded into one small Parquet file, so history reads one file per run.

`results/<run_id>/digest.v1.parquet` holds one row per case × metric × suite label values (every
column of the run's rows but `value` and `sample`), with `value_list`: that group's numeric values
in sample order, NaN and NULL left out (a sample's "no value" is not a number to any statistic).
Unnested, the digest gives back every usable value with all its columns, so medians, quantiles,
counts and case counts computed over it equal those computed over the parts; a case whose rows
hold no value (a failed case's `case_status` row) keeps its digest row, with an empty list, for
its status. Reading 1 000 digests instead of 12 000 parts is what keeps `qsbench history` and
`compare --baseline history:N` interactive.

`qsbench run` writes the digest when a run ends (and again after `--resume`). A run without one,
or whose `measurements/` changed since (a resumed run, a re-run case), gets it rebuilt when it is
read: the digest carries the modification time of `measurements/` it was built from as its own,
and a digest is current only while the two agree. A directory that cannot be written to (a
read-only results store) is digested into a temporary file for this process.
"""

from __future__ import annotations

import functools
import os
import tempfile
import threading
import time
from pathlib import Path

import duckdb

from harness.store import MEASUREMENTS

DIGEST = "digest.v1.parquet"  # the version in the name: a new layout never reads an old file
VALUES = "value_list"
# A directory changed this recently may still be written to (a run in progress): the coarse
# file-system clock could hide a part written in the same tick, so such a digest is not kept.
SETTLED_S = 2.0

_scratch: tempfile.TemporaryDirectory | None = None


def _quoted(path: Path | str) -> str:
    return str(path).replace("'", "''")


@functools.cache
def _connection() -> duckdb.DuckDBPyConnection:
    """One connection for every digest this process builds: opening one costs about as much as
    digesting a run of a dozen cases (an old store gets a thousand digests at once)."""
    con = duckdb.connect(config={"threads": 2})
    # DuckDB 2.0 folds isnan() to false from Parquet min/max statistics, which leave NaN out:
    # do not reason from statistics (see harness.rundata).
    con.execute("SET disabled_optimizers = 'statistics_propagation'")
    con.execute("SET enable_progress_bar = false")
    return con


_building = threading.Lock()  # a DuckDB connection runs one statement at a time


def _build(run_dir: Path, target: Path) -> bool:
    """Write the digest of `run_dir` to `target` (atomically); False when the run has no parts."""
    parts = run_dir / MEASUREMENTS
    if not any(parts.glob("*.parquet")):
        return False
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    try:
        with _building:
            # ORDER BY ALL: the same parts give the same rows in the same order, whichever
            # thread DuckDB scheduled first, so a digest read aside equals the one written in place.
            _connection().execute(
                f"COPY (SELECT * EXCLUDE (value, sample), list(value ORDER BY sample) FILTER "
                f"(WHERE value IS NOT NULL AND NOT isnan(value)) AS {VALUES} "
                f"FROM read_parquet('{_quoted(parts / '*.parquet')}') "
                f"GROUP BY ALL ORDER BY ALL) TO '{_quoted(tmp)}' (FORMAT parquet)")
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


def write(run_dir: Path) -> Path | None:
    """(Re)build the digest of a run whose writing is over (a later change comes from a later
    process, so it moves the directory's time on); None when the run has no parts yet."""
    run_dir = Path(run_dir)
    stamp = (run_dir / MEASUREMENTS).stat().st_mtime_ns  # before reading: a later part makes it stale
    target = run_dir / DIGEST
    if not _build(run_dir, target):
        return None
    os.utime(target, ns=(stamp, stamp))
    return target


def path(run_dir: Path) -> Path | None:
    """The current digest of `run_dir`, built first where it is missing or stale; None without parts."""
    run_dir = Path(run_dir)
    target = run_dir / DIGEST
    try:
        stamp = (run_dir / MEASUREMENTS).stat().st_mtime_ns
    except FileNotFoundError:
        return None
    try:
        if target.stat().st_mtime_ns == stamp:
            return target
    except FileNotFoundError:
        pass
    if time.time_ns() - stamp > SETTLED_S * 1e9:
        try:
            return write(run_dir)
        except OSError:  # a results store this user may read but not write
            pass
    return _temporary(run_dir)


def _temporary(run_dir: Path) -> Path | None:
    """A digest for this process only: of a run still being written or in a read-only store."""
    global _scratch
    if _scratch is None:
        _scratch = tempfile.TemporaryDirectory(prefix="qsbench-digests-")
    target = Path(_scratch.name) / f"{len(os.listdir(_scratch.name))}-{DIGEST}"
    return target if _build(run_dir, target) else None


def rows_sql(digests: list[Path], schemas: list[str] | None = None) -> str:
    """SQL for the usable rows (status any, value neither NULL nor NaN) of these digests."""
    return f"SELECT * EXCLUDE ({VALUES}), unnest({VALUES}) AS value FROM ({table_sql(digests, schemas)})"


def table_sql(digests: list[Path], schemas: list[str] | None = None) -> str:
    """SQL for the digest rows themselves (one per case × metric × label values).

    `schemas`, where known, names each digest's row schema (its run's manifest `columns`): digests
    of one schema are read as one list and only the lists are lined up by name, because
    `union_by_name` over every file opens each of them first, which costs more than the query.
    """
    groups: dict[str | None, list[Path]] = {}
    for d, schema in zip(digests, schemas or [None] * len(digests), strict=True):
        groups.setdefault(schema, []).append(d)
    reads = []
    for schema, files in groups.items():
        names = ", ".join(f"'{_quoted(d)}'" for d in files)
        by_name = "true" if schema is None else "false"
        reads.append(f"SELECT * FROM read_parquet([{names}], union_by_name={by_name})")
    return " UNION ALL BY NAME ".join(reads)
