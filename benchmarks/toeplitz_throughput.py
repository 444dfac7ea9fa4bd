"""Toeplitz privacy amplification throughput, with exactness checks, on one core.

For each output fraction, ``--repeats`` fresh random inputs of ``--bits`` bits and fresh seeds;
`harness.qkd.privacy.toeplitz_hash` is timed (wall and this process's CPU time; scipy.fft runs
one worker, so CPU time is one core's). Throughput counts input bits. Each repeat also records
max |y − rint(y)| of the FFT product before rounding (must stay ≪ 0.5) and checks 64 random
output bits against the definition y[i] = Σ_j seed[i − j + n − 1] x[j] mod 2. Target: ≥ 30 Mbit/s
per core at 10^6 bits, bit-exact.

    python benchmarks/toeplitz_throughput.py [--bits 1000000] [--fraction 0.1 0.5] [--repeats 10]

Prints one JSON object, then a one-line summary.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
from _common import machine, spread, timed

from harness.qkd.privacy import _convolution_window, toeplitz_hash

TARGET_MBIT_S = 30.0


def _definition(bits: np.ndarray, i: int, seed_bits: np.ndarray) -> int:
    return int(np.dot(seed_bits[i : i + bits.size][::-1].astype(np.int64), bits.astype(np.int64)) % 2)


def run(bits: int, fraction: float, repeats: int) -> dict:
    m = max(1, int(bits * fraction))
    rng = np.random.default_rng(int(fraction * 1000))
    wall, cpu, worst, mismatches = [], [], 0.0, 0
    for _ in range(repeats):
        x = rng.integers(0, 2, bits, dtype=np.uint8)
        seed_bits = rng.integers(0, 2, bits + m - 1, dtype=np.uint8)
        y, t_wall, t_cpu = timed(lambda x=x, s=seed_bits: toeplitz_hash(x, m, s))
        wall.append(bits / t_wall / 1e6)
        cpu.append(bits / t_cpu / 1e6)
        raw = _convolution_window(x, m, seed_bits)
        worst = max(worst, float(np.max(np.abs(raw - np.rint(raw)))))
        for i in rng.choice(m, min(64, m), replace=False):
            mismatches += int(y[i] != _definition(x, int(i), seed_bits))
    return {"bits": bits, "output_bits": m, "mbit_s_wall": spread(wall), "mbit_s_cpu": spread(cpu),
            "max_rounding_distance": worst, "spot_check_mismatches": mismatches,
            "spot_checks": repeats * min(64, m)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bits", type=int, default=1_000_000)
    parser.add_argument("--fraction", type=float, nargs="+", default=[0.1, 0.5],
                        help="output length as a fraction of the input")
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    toeplitz_hash(np.zeros(200, np.uint8), 100, np.zeros(299, np.uint8))  # load the kernels
    results = [run(args.bits, f, args.repeats) for f in args.fraction]
    exact = all(r["spot_check_mismatches"] == 0 and r["max_rounding_distance"] < 1e-3 for r in results)
    fast = all(r["mbit_s_cpu"]["median"] >= TARGET_MBIT_S for r in results)
    print(json.dumps({"benchmark": "toeplitz_throughput", "results": results, "bit_exact": exact,
                      "target_mbit_s": TARGET_MBIT_S, "meets_target": exact and fast,
                      "machine": machine()}, indent=2))
    print("toeplitz: " + "; ".join(
        f"{r['bits']} -> {r['output_bits']} bits: {r['mbit_s_cpu']['median']:.1f} Mbit/s CPU "
        f"({r['mbit_s_wall']['median']:.1f} wall), max rounding distance {r['max_rounding_distance']:.1e}"
        for r in results) + f" [bit-exact: {exact}; target {TARGET_MBIT_S:.0f} Mbit/s]")


if __name__ == "__main__":
    main()
