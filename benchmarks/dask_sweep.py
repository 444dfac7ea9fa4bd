"""A CPU-bound Monte Carlo distance sweep on dask LocalClusters of 1 and 2 workers, in one script.

The sweep is `trusted_nodes` chains (a relay Monte Carlo of many trials per case) over distances;
the same cases run through `harness.runner.Runner` with `--executor dask-local:1` and then
`dask-local:2`. Each cluster is started and warmed (every worker runs one case, so its case host
is up and the QKD core compiled) before the clock starts; what is timed is the sweep alone.
Beside each time is the CPU the client process spent meanwhile (the runner and its store, and for
a LocalCluster the scheduler and nannies too): on a 2-core machine it competes with 2 workers.
Target (issue 15): 2 workers at least 1.8× faster than 1. On a machine with fewer than two idle
cores the ratio says more about the neighbours than about qsbench: the load average before and
after each run is printed with it. Prints JSON and a one-line summary.

    .venv/bin/python benchmarks/dask_sweep.py [--cases 8] [--trials 60]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import machine
from harness.executors import DaskExecutor, parse
from harness.manifest import new_manifest
from harness.plan import param_columns, plan
from harness.runner import Runner
from harness.scenario import parse_scenario
from harness.store import RunStore, row_columns


def _scenario(cases: int, trials: int, name: str) -> str:
    distances = ", ".join(str(60 + 10 * i) for i in range(cases))
    return f"""\
name: {name}
vendors: [{{name: lim, adapter: simulated_qkd, options: {{profile: lim-2014}}}}]
suites:
  - suite: trusted_nodes
    params:
      duration_s: 600
      step_s: 5
      trials: {trials}
      chains: {{end_to_end_km: [{distances}], hops: [3]}}
"""


def _store(root: Path, text: str):
    loaded = parse_scenario(text)
    cases = plan(loaded)
    params = param_columns(cases)
    labels = ["link", "node"]
    manifest = new_manifest(loaded, root.name, 0, row_columns(params, labels), list(params), len(cases))
    return RunStore.create(root, manifest), loaded, cases


def _timed(workers: int, root: Path, cases: int, trials: int) -> dict:
    with DaskExecutor(parse(f"dask-local:{workers}")) as ex:
        warm_store, warm_loaded, warm_cases = _store(root / f"warm-{workers}", _scenario(workers, 2, "warm"))
        Runner(warm_store, warm_loaded, executor=ex).run(warm_cases)  # one case per worker
        store, loaded, planned = _store(root / f"sweep-{workers}", _scenario(cases, trials, "sweep"))
        load_before = os.getloadavg()[0]
        start, cpu_start = time.perf_counter(), time.process_time()
        counts = Runner(store, loaded, executor=ex).run(planned)
        seconds, client_cpu_s = time.perf_counter() - start, time.process_time() - cpu_start
    return {"workers": workers, "seconds": seconds, "client_cpu_s": client_cpu_s, "counts": dict(counts),
            "loadavg_before": load_before, "loadavg_after": os.getloadavg()[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=8)
    parser.add_argument("--trials", type=int, default=60, help="Monte Carlo trials per case")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        one = _timed(1, Path(tmp), args.cases, args.trials)
        two = _timed(2, Path(tmp), args.cases, args.trials)
    speedup = one["seconds"] / two["seconds"]
    result = {"benchmark": "dask_sweep", "cases": args.cases, "trials": args.trials, "one_worker": one,
              "two_workers": two, "speedup": speedup, "target": 1.8, **machine()}
    print(json.dumps(result))
    print(f"{args.cases}-case Monte Carlo sweep: 1 worker {one['seconds']:.1f} s, 2 workers "
          f"{two['seconds']:.1f} s (client CPU {one['client_cpu_s']:.1f} s, {two['client_cpu_s']:.1f} s), "
          f"speed-up {speedup:.2f}× (target ≥ 1.8×; {os.cpu_count()} CPUs, load "
          f"average {one['loadavg_before']:.1f}→{two['loadavg_after']:.1f})")


if __name__ == "__main__":
    main()
