"""Synthetic tidy rows and run directories for the evaluation tests.

The rows have exactly the store's columns (harness.store.row_columns); the
values are drawn from fixed-seed distributions so each test knows the truth.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from harness.plan import fingerprint
from harness.store import RunStore, row_columns


def case_rows(run_id: str, suite: str, vendor: str, params: dict[str, Any], metric: str, unit: str,
              values: Any, status: str = "ok", reason: str = "", repeat: int = 0) -> list[dict]:
    case_id = fingerprint(suite, vendor, vendor, {}, params, repeat)
    head = dict(run_id=run_id, case_id=case_id, suite=suite, vendor=vendor, adapter=vendor,
                repeat=repeat, status=status, reason=reason or None, **params)
    if status != "ok":
        return [{**head, "metric": "case_status", "value": float("nan"), "unit": "", "sample": 0}]
    return [{**head, "metric": metric, "value": float(v), "unit": unit, "sample": i}
            for i, v in enumerate(values)]


def frame(rows: list[dict], params: dict[str, str]) -> pd.DataFrame:
    columns = row_columns(params, [])
    df = pd.DataFrame(rows, columns=list(columns))
    return df.astype({c: ("boolean" if t == "bool" else t) for c, t in columns.items()})


def write_run(run_dir: Path, scenario: dict, rows: list[dict], params: dict[str, str],
              labels: tuple[str, ...] = (), started: str = "2026-11-24T00:00:00Z") -> Path:
    """A run directory as the runner leaves it: manifest with scenario text + one part per case."""
    columns = row_columns(params, list(labels))
    manifest = {"run_id": run_dir.name, "started": started, "columns": columns,
                "scenario": {"name": scenario["name"], "text": yaml.safe_dump(scenario, sort_keys=False)}}
    store = RunStore.create(run_dir, manifest)
    by_case: dict[str, list[dict]] = {}
    for row in rows:
        by_case.setdefault(row["case_id"], []).append({**row, "run_id": run_dir.name})
    for case_id, case in by_case.items():
        store.write_case(case_id, case)
    return run_dir


def latency(seed: int, n: int, median_ms: float, spread: float = 0.05) -> np.ndarray:
    """Log-normal latencies around a median, like a loaded network's handshakes."""
    return median_ms * np.exp(np.random.default_rng(seed).normal(0.0, spread, n))


def scenario(criteria: list[dict], vendors: tuple[str, ...] = ("alpha", "beta"), **extra: Any) -> dict:
    return {"name": "eval-test", "vendors": list(vendors), "suites": [{"suite": "toy"}],
            "criteria": criteria, **extra}
