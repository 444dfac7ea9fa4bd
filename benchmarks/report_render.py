"""How long `render` takes for a run of ~100 000 measurement rows (the issue's bound: under 10 s).

Two shapes, each ~100 000 rows, written into a temporary results directory:
- `pilot` (default): QKD key-rate and eavesdropping sweeps, TLS handshake latencies
  (8 400 per case), pairwise interop, ~80 cases, plus a baseline run of the same size;
  render is timed with the baseline (regressions included);
- `many-cases`: 2 000 cases of 50 samples (4 libraries × 25 algorithms × 4 operations
  × 5 repeats), where the store's reading of 2 000 Parquet parts is a good part of it.
Prints JSON and a one-line summary.

    .venv/bin/python benchmarks/report_render.py [--shape pilot|many-cases] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.report import render
from harness.store import RunStore
from tests.evalkit import many_cases_run, pilot_run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows-scale", type=int, default=84, help="TLS samples per case = 100 × scale")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--shape", choices=("pilot", "many-cases"), default="pilot")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if args.shape == "pilot":
            base = pilot_run(root / "base", scale=args.rows_scale, seed=1, started="2026-11-23T00:00:00Z")
            run = pilot_run(root / "run", scale=args.rows_scale, seed=2, slowdown=1.1,
                            started="2026-11-24T00:00:00Z")
        else:
            base, run = None, many_cases_run(root / "run")
        rows = len(RunStore(run).read())
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            out = render(run, baseline=base)
            times.append(time.perf_counter() - start)
        size = out.html.stat().st_size
    result = {"benchmark": "report_render", "shape": args.shape, "rows": rows,
              "baseline_rows": rows if base else 0, "repeats": args.repeats,
              "seconds": times, "median_s": statistics.median(times), "html_bytes": size}
    print(json.dumps(result))
    against = " (with a baseline of as many)" if base else ""
    print(f"render of {rows} rows in the {args.shape} shape{against}: median {result['median_s']:.2f} s over "
          f"{args.repeats} runs (min {min(times):.2f}, max {max(times):.2f}); "
          f"scorecard.html {size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
