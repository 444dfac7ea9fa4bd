"""Run directories: a manifest and one Parquet part per finished case.

Layout of `results/<run_id>/`:

    manifest.json              who, what, where, versions, seed, the scenario text, the row schema
    measurements/<case_id>.parquet   every row of one case, written atomically (temp file + rename)

A part appears whole or not at all, so `kill -9` at any moment loses only the
case in flight, and `--resume` re-runs exactly the cases that have no part.
One file per case also means a re-run case replaces its rows, never doubles them.

Every part of a run has the same columns, fixed when the run is planned, so
`pandas.read_parquet(run_dir / "measurements")` reads them all:

    run_id, case_id, experiment_id, suite, vendor, adapter, repeat, status, reason,
    <case parameter columns…>, <suite label columns…>, metric, value, unit, sample

`status` is `ok`, `failed`, `timeout` or `na`; non-ok cases carry one row with
metric `case_status`, a NaN value and the reason.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

MANIFEST = "manifest.json"
MEASUREMENTS = "measurements"
CASE_STATUS_METRIC = "case_status"

_HEAD = {"run_id": "string", "case_id": "string", "experiment_id": "string", "suite": "string",
         "vendor": "string", "adapter": "string", "repeat": "int64", "status": "string", "reason": "string"}
_TAIL = {"metric": "string", "value": "float64", "unit": "string", "sample": "int64"}
_ARROW = {"string": pa.string(), "float64": pa.float64(), "int64": pa.int64(), "bool": pa.bool_()}


def row_columns(param_columns: dict[str, str], label_columns: list[str]) -> dict[str, str]:
    """The full, ordered column → type map of a run's rows."""
    clash = (set(param_columns) | set(label_columns)) & (set(_HEAD) | set(_TAIL))
    if clash:
        raise ValueError(f"parameter or label names collide with core columns: {sorted(clash)}")
    return {**_HEAD, **param_columns, **{c: "string" for c in label_columns}, **_TAIL}


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, obj: Any) -> None:
    _atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n").encode())


class RunStore:
    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)
        self.parts_dir = self.run_dir / MEASUREMENTS

    @classmethod
    def create(cls, run_dir: Path, manifest: dict[str, Any]) -> RunStore:
        run_dir = Path(run_dir)
        (run_dir / MEASUREMENTS).mkdir(parents=True, exist_ok=False)
        store = cls(run_dir)
        store.write_manifest(manifest)
        return store

    @property
    def manifest(self) -> dict[str, Any]:
        path = self.run_dir / MANIFEST
        try:
            manifest = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"{path}: not a readable manifest ({exc})") from None
        if not isinstance(manifest, dict):
            raise ValueError(f"{path}: not a manifest (a JSON object expected)")
        return manifest

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        write_json(self.run_dir / MANIFEST, manifest)

    @property
    def columns(self) -> dict[str, str]:
        columns = self.manifest.get("columns")
        if not isinstance(columns, dict) or any(kind not in _ARROW for kind in columns.values()):
            raise ValueError(f"{self.run_dir / MANIFEST}: no usable 'columns' (the row schema of the run's "
                             "Parquet parts)")
        return columns

    def schema(self) -> pa.Schema:
        return pa.schema([(name, _ARROW[kind]) for name, kind in self.columns.items()])

    def done_case_ids(self) -> set[str]:
        return {p.stem for p in self.parts_dir.glob("*.parquet")}

    def case_statuses(self) -> dict[str, str]:
        """case_id → status of every case on disk (every row of a case carries its status)."""
        statuses = {}
        for part in self.parts_dir.glob("*.parquet"):
            column = pq.read_table(part, columns=["status"]).column("status")
            statuses[part.stem] = column[0].as_py() if len(column) else "failed"
        return statuses

    def write_case(self, case_id: str, rows: list[dict[str, Any]]) -> None:
        schema = self.schema()
        unknown = {k for row in rows for k in row} - set(schema.names)
        if unknown:
            raise ValueError(f"case {case_id} produced columns outside the run schema: {sorted(unknown)}")
        table = pa.Table.from_pylist([{n: row.get(n) for n in schema.names} for row in rows], schema=schema)
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink)
        _atomic_write_bytes(self.parts_dir / f"{case_id}.parquet", sink.getvalue().to_pybytes())

    def read(self) -> pd.DataFrame:
        if not self.done_case_ids():
            return self.schema().empty_table().to_pandas()
        schema = self.schema()
        try:
            return pd.read_parquet(self.parts_dir, schema=schema)
        except (pa.ArrowException, OSError) as exc:
            raise ValueError(f"{self._first_bad_part(schema) or self.parts_dir}: unreadable Parquet part "
                             f"({exc}); delete it and finish the run with --resume") from None

    def _first_bad_part(self, schema: pa.Schema) -> Path | None:
        """The part that spoiled a read, so the message names the file to delete."""
        for part in sorted(self.parts_dir.glob("*.parquet")):
            try:
                pq.read_table(part, schema=schema)
            except (pa.ArrowException, OSError):
                return part
        return None
