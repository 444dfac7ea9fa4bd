"""How long `render` takes for a run of ~100 000 measurement rows (the issue's bound: under 10 s).

Writes a synthetic pilot run (QKD key-rate sweep, eavesdropping sweep, TLS handshake
latencies, pairwise interop; shapes as the suites write them) into a temporary
results directory, plus a baseline run, then times `harness.report.render` with
the baseline, a few times. Prints JSON and a one-line summary.

    .venv/bin/python benchmarks/report_render.py [--rows-scale 84] [--repeats 3]
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
from tests.evalkit import pilot_run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows-scale", type=int, default=84, help="TLS samples per case = 100 × scale")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        base = pilot_run(root / "base", scale=args.rows_scale, seed=1, started="2026-11-23T00:00:00Z")
        run = pilot_run(root / "run", scale=args.rows_scale, seed=2, slowdown=1.1,
                        started="2026-11-24T00:00:00Z")
        rows = len(RunStore(run).read())
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            out = render(run, baseline=base)
            times.append(time.perf_counter() - start)
        size = out.html.stat().st_size
    result = {"benchmark": "report_render", "rows": rows, "baseline_rows": rows, "repeats": args.repeats,
              "seconds": times, "median_s": statistics.median(times), "html_bytes": size}
    print(json.dumps(result))
    print(f"render of {rows} rows (with a baseline of as many): median {result['median_s']:.2f} s over "
          f"{args.repeats} runs (min {min(times):.2f}, max {max(times):.2f}); "
          f"scorecard.html {size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
