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

from harness import digest
from harness.plan import fingerprint
from harness.store import RunStore, row_columns


def case_rows(run_id: str, suite: str, vendor: str, params: dict[str, Any], metric: str, unit: str,
              values: Any, status: str = "ok", reason: str = "", repeat: int = 0) -> list[dict]:
    case_id = fingerprint(suite, {}, vendor, vendor, {}, params, repeat)
    experiment_id = fingerprint(suite, {}, vendor, vendor, {}, params, None)
    head = dict(run_id=run_id, case_id=case_id, experiment_id=experiment_id, suite=suite, vendor=vendor,
                adapter=vendor,
                repeat=repeat, status=status, reason=reason or None, **params)
    if status != "ok":
        return [{**head, "metric": "case_status", "value": float("nan"), "unit": "", "sample": 0}]
    return [{**head, "metric": metric, "value": float(v), "unit": unit, "sample": i}
            for i, v in enumerate(values)]


def repeated_rows(run_id: str, suite: str, vendor: str, params: dict[str, Any], metric: str, unit: str,
                  repeats: list[Any]) -> list[dict]:
    """One case per repeat of one experiment: `repeats` holds each repeat's samples."""
    return [row for r, values in enumerate(repeats)
            for row in case_rows(run_id, suite, vendor, params, metric, unit, values, repeat=r)]


def frame(rows: list[dict], params: dict[str, str]) -> pd.DataFrame:
    columns = row_columns(params, [])
    df = pd.DataFrame(rows, columns=list(columns))
    return df.astype({c: ("boolean" if t == "bool" else t) for c, t in columns.items()})


def write_run(run_dir: Path, scenario: dict, rows: list[dict], params: dict[str, str],
              labels: tuple[str, ...] = (), started: str = "2026-11-24T00:00:00Z") -> Path:
    """A run directory as the runner leaves it: manifest with scenario text + one part per case."""
    columns = row_columns(params, list(labels))
    manifest = {"run_id": run_dir.name, "started": started, "columns": columns, "param_columns": list(params),
                "scenario": {"name": scenario["name"], "text": yaml.safe_dump(scenario, sort_keys=False)}}
    store = RunStore.create(run_dir, manifest)
    by_case: dict[str, list[dict]] = {}
    for row in rows:
        by_case.setdefault(row["case_id"], []).append({**row, "run_id": run_dir.name})
    for case_id, case in by_case.items():
        store.write_case(case_id, case)
    digest.write(run_dir)
    return run_dir


def latency(seed: int, n: int, median_ms: float, spread: float = 0.05) -> np.ndarray:
    """Log-normal latencies around a median, like a loaded network's handshakes."""
    return median_ms * np.exp(np.random.default_rng(seed).normal(0.0, spread, n))


def scenario(criteria: list[dict], vendors: tuple[str, ...] = ("alpha", "beta"), **extra: Any) -> dict:
    return {"name": "eval-test", "vendors": list(vendors), "suites": [{"suite": "toy"}],
            "criteria": criteria, **extra}


PILOT_CRITERIA = [
    {"id": "qkd_rate_50km", "metric": "secret_key_rate_bps", "where": {"fibre_km": 50}, "statistic": "median",
     "op": ">=", "threshold": "1 kbps", "target": "20 kbps", "gate": True, "category": "performance"},
    {"id": "qber_50km", "metric": "qber", "where": {"fibre_km": 50}, "statistic": "p95", "op": "<=",
     "threshold": "5 %", "target": "2 %", "category": "security_evidence"},
    {"id": "tls_p95", "metric": "handshake_ms", "where": {"group": "X25519MLKEM768", "rtt_ms": 31.1},
     "statistic": "p95", "op": "<=", "threshold": "150 ms", "target": "70 ms", "gate": True,
     "category": "performance", "weight": 2},
    {"id": "interop", "metric": "interop_ok", "statistic": "rate", "op": ">=", "threshold": "95 %",
     "category": "interoperability"},
]
PILOT_PARAMS = {"fibre_km": "float64", "intercept_fraction": "float64", "group": "string",
                "rtt_ms": "float64", "peer": "string"}


def pilot_rows(run_id: str, scale: int = 1, seed: int = 0, slowdown: float = 1.0,
               tls_repeats: int = 1, interop_seed: int | None = None) -> list[dict]:
    """Rows shaped like a QKD + TLS pilot; `scale` multiplies TLS samples, `slowdown` the latencies,
    `tls_repeats` splits each TLS experiment's samples over that many repeats, and `interop_seed`
    fixes the interoperability outcomes apart from `seed` (the same code interoperates alike every night)."""
    rng = np.random.default_rng(seed)
    interop_rng = rng if interop_seed is None else np.random.default_rng(interop_seed)
    rows: list[dict] = []
    vendors = {"alpha": (0.92, 5.0), "beta": (0.8, 9.0), "gamma": (0.6, 4.0)}
    for v, (eff, cpu_ms) in vendors.items():
        for km in (10.0, 25.0, 50.0, 75.0, 100.0):
            eta = 0.1 * 10 ** (-0.02 * km)
            rate = 1e6 * eff * eta * 0.3 * np.exp(rng.normal(0, 0.03, 5))
            plob = [1e6 * -np.log1p(-eta) / np.log(2)] * 5
            rows += case_rows(run_id, "key_rate", v, {"fibre_km": km}, "secret_key_rate_bps", "bps", rate)
            rows += case_rows(run_id, "key_rate", v, {"fibre_km": km}, "plob_bound_bps", "bps", plob,
                              repeat=1)
            rows += case_rows(run_id, "key_rate", v, {"fibre_km": km}, "qber", "ratio",
                              0.01 + 0.0002 * km + rng.normal(0, 0.001, 5), repeat=2)
        for frac in (0.0, 0.1, 0.2, 0.3, 0.5):
            rows += case_rows(run_id, "eavesdropping", v, {"intercept_fraction": frac}, "qber", "ratio",
                              0.01 + frac / 4 + rng.normal(0, 0.002, 5))
        for group in ("X25519", "X25519MLKEM768"):
            for rtt in (5.6, 31.1):
                base = (2 * rtt + cpu_ms + (1.0 if "MLKEM" in group else 0.0)) * slowdown
                for r in range(tls_repeats):  # each repeat in a process of its own: its own level
                    level = base * np.exp(rng.normal(0, 0.02)) if tls_repeats > 1 else base
                    samples = level * np.exp(rng.normal(0, 0.08, 100 * scale // tls_repeats))
                    rows += case_rows(run_id, "tls_handshake", v, {"group": group, "rtt_ms": rtt},
                                      "handshake_ms", "ms", samples, repeat=r)
        for peer in vendors:
            if peer != v:
                ok = interop_rng.random(20) < (0.9 if "gamma" in (v, peer) else 1.0)
                rows += case_rows(run_id, "interop", v, {"peer": peer}, "interop_ok", "bool",
                                  ok.astype(float))
    rows += case_rows(run_id, "tls_handshake", "gamma", {"group": "X25519MLKEM768", "rtt_ms": 78.7},
                      "", "", [], status="na", reason="gamma has no tls13 with X25519MLKEM768")
    return rows


def pilot_run(run_dir: Path, scale: int = 1, seed: int = 0, slowdown: float = 1.0,
              started: str = "2026-11-24T00:00:00Z", tls_repeats: int = 1, interop_seed: int | None = None,
              **scenario_extra: Any) -> Path:
    text = {"name": "pilot-test", "vendors": ["alpha", "beta", "gamma"],
            "suites": [{"suite": s} for s in ("key_rate", "eavesdropping", "tls_handshake", "interop")],
            "criteria": PILOT_CRITERIA, **scenario_extra}
    rows = pilot_rows(run_dir.name, scale, seed, slowdown, tls_repeats, interop_seed)
    return write_run(run_dir, text, rows, PILOT_PARAMS, started=started)


def many_cases_run(run_dir: Path, vendors: int = 4, algorithms: int = 25, repeats: int = 5,
                   samples: int = 50) -> Path:
    """A PQC-procurement-shaped run: vendors × algorithms × operations × repeats cases (2 000 by default)."""
    rng = np.random.default_rng(0)
    names = [f"lib{i}" for i in range(vendors)]
    algs = [f"ALG-{i:02d}" for i in range(algorithms)]
    rows = []
    for v in names:
        for a in algs:
            for op in ("keygen", "encaps", "decaps", "sign"):
                for r in range(repeats):
                    rows += case_rows(run_dir.name, "pqc_primitives", v, {"algorithm": a, "operation": op},
                                      "op_us", "us", rng.lognormal(3, 0.2, samples), repeat=r)
    criteria = [{"id": f"encaps_{a}", "metric": "op_us", "where": {"algorithm": a, "operation": "encaps"},
                 "statistic": "p99", "op": "<=", "threshold": "30 us", "target": "10 us"} for a in algs[:10]]
    scenario = {"name": "many-cases", "vendors": names, "suites": [{"suite": "pqc_primitives"}],
                "criteria": criteria}
    return write_run(run_dir, scenario, rows, {"algorithm": "string", "operation": "string"})


def large_pilot_run(run_dir: Path, rows: int, seed: int = 0, slowdown: float = 1.0,
                    started: str = "2026-11-24T00:00:00Z") -> Path:
    """`pilot_run` with its TLS cases grown until the run holds about `rows` rows, written column-wise.

    Millions of rows as dicts would cost the generator more than the report it is meant to test, so
    the twelve TLS cases are built as Arrow columns; every other case is `pilot_rows`' own.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    small = pilot_rows(run_dir.name, 1, seed, slowdown)
    others = [r for r in small if not (r["suite"] == "tls_handshake" and r["status"] == "ok")]
    tls = [r for r in small if r["suite"] == "tls_handshake" and r["status"] == "ok"]
    heads = list({r["case_id"]: r for r in tls}.values())
    per_case = max(1, (rows - len(others)) // len(heads))
    path = pilot_run(run_dir, 1, seed, slowdown, started)  # manifest, scenario and the small cases
    store = RunStore(path)
    schema = store.schema()
    rng = np.random.default_rng(seed)
    for head in heads:
        base = (2 * head["rtt_ms"] + {"alpha": 5.0, "beta": 9.0, "gamma": 4.0}[head["vendor"]]
                + (1.0 if "MLKEM" in head["group"] else 0.0)) * slowdown
        columns = {}
        for name in schema.names:
            if name == "value":
                columns[name] = pa.array(base * np.exp(rng.normal(0, 0.08, per_case)))
            elif name == "sample":
                columns[name] = pa.array(np.arange(per_case, dtype=np.int64))
            else:
                value = {**head, "run_id": run_dir.name}.get(name)
                columns[name] = pa.repeat(pa.scalar(value, schema.field(name).type), per_case)
        pq.write_table(pa.table(columns, schema=schema), store.parts_dir / f"{head['case_id']}.parquet")
    return path
