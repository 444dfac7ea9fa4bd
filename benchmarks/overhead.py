"""How much the pqc_primitives suite adds to what it times.

Compares, in one process, the suite's median ML-KEM-768 encapsulation time (openssl adapter,
through `PQCPrimitives.measure`) with a bare `timeit` loop of the same `cryptography` call,
`pk.encapsulate()`. Rounds alternate the two so that drift on a shared machine hits both alike;
the ratio is the median over rounds of (suite median / timeit per-call median). Target ≤ 1.10.
As timeit's per-call figure is a loop mean (outliers included), the suite's mean over the same
ratio is reported too.

    python benchmarks/overhead.py [--rounds 7] [--samples 2000] [--number 2000]

Prints one JSON object, then a one-line summary.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import timeit
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import mlkem

from harness.manifest import cpu_model
from harness.registry import adapter_class, suite_class
from harness.suite import MeasureContext

TARGET = 1.10
ALGORITHM = "ML-KEM-768"


def suite_encaps_us(samples: int, warmup: int, work_dir: Path) -> tuple[float, float]:
    """(median, mean) of the suite's per-call encaps samples."""
    suite = suite_class("pqc_primitives")()
    params = suite.Params(algorithms=[ALGORITHM], samples=samples, warmup=warmup)
    ctx = MeasureContext(seed=0, work_dir=work_dir, timeout_s=600)
    adapter = adapter_class("openssl")()
    rows = suite.measure(adapter, params, {"algorithm": ALGORITHM}, ctx)
    values = [r.value for r in rows if r.metric == "encaps_us"]
    return statistics.median(values), statistics.fmean(values)


def bare_median_us(number: int, repeat: int) -> float:
    pk = mlkem.MLKEM768PrivateKey.generate().public_key()
    timer = timeit.Timer("pk.encapsulate()", globals={"pk": pk})
    timer.timeit(number=max(1, number // 10))  # warm-up
    return statistics.median(t / number * 1e6 for t in timer.repeat(repeat=repeat, number=number))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7, help="alternating suite/timeit rounds")
    parser.add_argument("--samples", type=int, default=2000, help="suite samples per round")
    parser.add_argument("--number", type=int, default=2000, help="timeit calls per repeat")
    parser.add_argument("--repeat", type=int, default=5, help="timeit repeats per round")
    args = parser.parse_args()

    suite_us: list[float] = []
    suite_mean_us: list[float] = []
    bare_us: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.rounds):
            median, mean = suite_encaps_us(args.samples, 200, Path(tmp))
            suite_us.append(median)
            suite_mean_us.append(mean)
            bare_us.append(bare_median_us(args.number, args.repeat))
    ratios = [s / b for s, b in zip(suite_us, bare_us, strict=True)]
    ratio = statistics.median(ratios)
    # timeit's figure is a mean per loop (outliers included): the suite's mean is its like-for-like.
    mean_ratio = statistics.median(s / b for s, b in zip(suite_mean_us, bare_us, strict=True))
    result = {
        "benchmark": "pqc_primitives_overhead",
        "algorithm": ALGORITHM,
        "operation": "encaps",
        "adapter": "openssl",
        "library": adapter_class("openssl").version(),
        "suite_median_us_per_round": [round(v, 3) for v in suite_us],
        "bare_timeit_median_us_per_round": [round(v, 3) for v in bare_us],
        "suite_mean_us_per_round": [round(v, 3) for v in suite_mean_us],
        "ratio_per_round": [round(r, 4) for r in ratios],
        "ratio_median": round(ratio, 4),
        "ratio_min": round(min(ratios), 4),
        "ratio_max": round(max(ratios), 4),
        "ratio_suite_mean_to_timeit": round(mean_ratio, 4),
        "target_ratio": TARGET,
        "target_met": ratio <= TARGET,
        "rounds": args.rounds,
        "suite_samples_per_round": args.samples,
        "timeit_number": args.number,
        "timeit_repeat": args.repeat,
        "host": {"cpu": cpu_model(), "python": platform.python_version()},
    }
    print(json.dumps(result, indent=2))
    print(f"pqc_primitives overhead: {ALGORITHM} encaps median {statistics.median(suite_us):.2f} us in the "
          f"suite vs {statistics.median(bare_us):.2f} us bare timeit -> ratio {ratio:.3f} "
          f"(rounds {min(ratios):.3f}..{max(ratios):.3f}; suite mean/timeit {mean_ratio:.3f}; "
          f"target <= {TARGET:.2f}: "
          f"{'met' if ratio <= TARGET else 'NOT met'})")


if __name__ == "__main__":
    main()
