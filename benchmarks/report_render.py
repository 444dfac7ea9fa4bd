"""How long `render` takes, and how much memory, as runs grow; and `qsbench history` over many runs.

Targets (issue 15): a report over 10 million rows (plus a baseline of as many) in under 60 s and
under 2 GB peak memory; 100 000 rows under 10 s; `qsbench history` over 1 000 runs under 5 s.

Shapes, each written into a temporary results directory:
- `pilot` (default): QKD key-rate and eavesdropping sweeps, TLS handshake latencies, pairwise
  interop, ~80 cases, plus a baseline run of the same size; render is timed with the baseline
  (regressions included). `--rows N` sets the size (default ~100 000; the TLS cases grow);
- `many-cases`: 2 000 cases of 50 samples (4 libraries × 25 algorithms × 4 operations × 5 repeats),
  where reading 2 000 Parquet parts is a good part of it;
- `history`: `--runs` runs (default 1 000) of a 12-case nightly scenario, each with its digest as
  `qsbench run` leaves it; `qsbench history` over them is timed as a user runs it (a fresh
  process, start-up included), after one first call over the same runs without digests (which
  builds them, as for runs stored before digests existed).
Each render runs in a fresh process, so its peak resident memory (ru_maxrss) is the render's own.
Prints JSON and a one-line summary.

    .venv/bin/python benchmarks/report_render.py [--shape pilot|many-cases|history] [--rows N] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._common import machine  # noqa: E402
from harness import digest  # noqa: E402
from tests.evalkit import case_rows, large_pilot_run, many_cases_run, write_run  # noqa: E402

_CHILD = """
import json, resource, sys, time
from harness.report import render
start = time.perf_counter()
out = render(sys.argv[1], baseline=sys.argv[2] or None)
print(json.dumps({"seconds": time.perf_counter() - start, "html_bytes": out.html.stat().st_size,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}


def _render(run: Path, base: Path | None) -> dict:
    proc = subprocess.run([sys.executable, "-c", _CHILD, str(run), str(base or "")], capture_output=True,
                          text=True, check=True, env=_env())
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _rows(run: Path) -> int:
    import duckdb

    return int(duckdb.sql(f"SELECT count(*) FROM '{run}/measurements/*.parquet'").fetchall()[0][0])


def _history(root: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of one `qsbench history` as a user runs it (a fresh process, start-up
    included). On a shared host the wall time grows with the load; the CPU time much less."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "harness", "history", "op_us", "--results", str(root),
                    "--where", "operation=encaps"], capture_output=True, check=True, env=_env())
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _history_runs(root: Path, runs: int) -> None:
    first = datetime(2026, 1, 1, tzinfo=UTC)
    scenario = {"name": "nightly", "vendors": ["lib0", "lib1"], "suites": [{"suite": "pqc_primitives"}]}
    for i in range(runs):
        rows = []
        for v in ("lib0", "lib1"):
            for alg in ("ML-KEM-768", "ML-DSA-65"):
                for op in ("keygen", "encaps", "decaps"):
                    slow = 1.2 if i >= runs // 2 and op == "encaps" else 1.0  # a step half way
                    values = slow * 30 * np.random.default_rng(i).lognormal(0, 0.05, 50)
                    params = {"algorithm": alg, "operation": op}
                    rows += case_rows(f"run-{i:04d}", "pqc_primitives", v, params, "op_us", "us", values)
        write_run(root / f"run-{i:04d}", scenario, rows, {"algorithm": "string", "operation": "string"},
                  started=(first + timedelta(hours=i)).isoformat(timespec="seconds"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=("pilot", "many-cases", "history"), default="pilot")
    parser.add_argument("--rows", type=int, default=100_000,
                        help="pilot: rows per run (the baseline as many)")
    parser.add_argument("--runs", type=int, default=1000, help="history: runs in the store")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if args.shape == "history":
            start = time.perf_counter()
            _history_runs(root, args.runs)
            made = time.perf_counter() - start
            # Runs written before digests existed: the first history builds them (once).
            for d in root.glob(f"*/{digest.DIGEST}"):
                d.unlink()
            rebuild, _ = _history(root)
            timed = [_history(root) for _ in range(args.repeats)]
            times, cpu = [w for w, _ in timed], [c for _, c in timed]
            result = {"benchmark": "history", "runs": args.runs, "cases_per_run": 12, "repeats": args.repeats,
                      "seconds": times, "median_s": statistics.median(times), "cpu_seconds": cpu,
                      "median_cpu_s": statistics.median(cpu), "write_s": made,
                      "first_without_digests_s": rebuild, **machine()}
            print(json.dumps(result))
            print(f"qsbench history over {args.runs} runs: median {result['median_s']:.2f} s over "
                  f"{args.repeats} runs (min {min(times):.2f}, max {max(times):.2f}; CPU "
                  f"{result['median_cpu_s']:.2f} s); target < 5 s; the first over runs without digests "
                  f"(building them) {rebuild:.2f} s; load average {result['loadavg_1min']:.1f}")
            return
        if args.shape == "pilot":
            base = large_pilot_run(root / "base", args.rows, seed=1, started="2026-11-23T00:00:00Z")
            run = large_pilot_run(root / "run", args.rows, seed=2, slowdown=1.1,
                                  started="2026-11-24T00:00:00Z")
        else:
            base, run = None, many_cases_run(root / "run")
        rows = _rows(run)
        renders = [_render(run, base) for _ in range(args.repeats)]
    times = [r["seconds"] for r in renders]
    peak = max(r["peak_rss_mb"] for r in renders)
    result = {"benchmark": "report_render", "shape": args.shape, "rows": rows,
              "baseline_rows": rows if base else 0, "repeats": args.repeats, "seconds": times,
              "median_s": statistics.median(times), "peak_rss_mb": peak,
              "html_bytes": renders[-1]["html_bytes"], **machine()}
    print(json.dumps(result))
    against = " (with a baseline of as many)" if base else ""
    print(f"render of {rows} rows in the {args.shape} shape{against}: median {result['median_s']:.2f} s over "
          f"{args.repeats} runs (min {min(times):.2f}, max {max(times):.2f}); peak memory {peak:.0f} MB; "
          f"scorecard.html {result['html_bytes'] / 1e6:.2f} MB; load average {result['loadavg_1min']:.1f}")


if __name__ == "__main__":
    main()
