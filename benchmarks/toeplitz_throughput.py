"""Toeplitz privacy amplification throughput, with exactness checks, on one core.

For each output fraction, ``--repeats`` fresh random inputs of ``--bits`` bits and fresh seeds;
`harness.qkd.privacy.toeplitz_hash` is timed (wall and this process's CPU time; scipy.fft runs
one worker, so CPU time is one core's). Throughput counts input bits. Each repeat also records
max |y − rint(y)| of the FFT product before rounding (must stay ≪ 0.5; that is the path taken on
CPUs without a carry-less multiply, where the hash is not done on bit-packed words) and checks 64 random
output bits against the definition y[i] = Σ_j seed[i − j + n − 1] x[j] mod 2. Target: ≥ 30 Mbit/s
per core at 10^6 bits, bit-exact.

Beside it, in the same process and interleaved repeat by repeat, a plain FFT implementation of the
same product (one scipy.fft rfft/irfft circular convolution of length n + m − 1 in float64, as
randextract's ToeplitzHashing computes it, without its GF(2) array overhead); its output must equal
ours bit for bit. ``speedup_vs_plain_fft`` is the ratio of their CPU times, median over repeats, so
the figure holds on a loaded machine. Goal: ≥ 30× at m = 10^5 and 5·10^5.

    python benchmarks/toeplitz_throughput.py [--bits 1000000] [--fraction 0.1 0.5] [--repeats 10]

Prints one JSON object, then a one-line summary.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import scipy.fft
from _common import machine, spread, timed

from harness.qkd.privacy import _convolution_window, toeplitz_hash

TARGET_MBIT_S = 30.0
TARGET_SPEEDUP = 30.0


def plain_fft_hash(bits: np.ndarray, m: int, seed_bits: np.ndarray) -> np.ndarray:
    """The baseline: y[i] = c[i + n − 1] of the circular convolution c = seed ⊛ x of length n + m − 1
    (no index wraps for those i), rounded and reduced mod 2."""
    n = bits.size
    size = n + m - 1
    product = scipy.fft.rfft(seed_bits.astype(np.float64)) * scipy.fft.rfft(bits.astype(np.float64), size)
    c = scipy.fft.irfft(product, size)
    return (np.rint(c[n - 1 : n - 1 + m]).astype(np.int64) & 1).astype(np.uint8)


def _definition(bits: np.ndarray, i: int, seed_bits: np.ndarray) -> int:
    return int(np.dot(seed_bits[i : i + bits.size][::-1].astype(np.int64), bits.astype(np.int64)) % 2)


def run(bits: int, fraction: float, repeats: int) -> dict:
    m = max(1, int(bits * fraction))
    rng = np.random.default_rng(int(fraction * 1000))
    wall, cpu, worst, mismatches, ratios, baseline_cpu, differ = [], [], 0.0, 0, [], [], 0
    for _ in range(repeats):
        x = rng.integers(0, 2, bits, dtype=np.uint8)
        seed_bits = rng.integers(0, 2, bits + m - 1, dtype=np.uint8)
        y, t_wall, t_cpu = timed(lambda x=x, s=seed_bits: toeplitz_hash(x, m, s))
        y_plain, _, t_plain = timed(lambda x=x, s=seed_bits: plain_fft_hash(x, m, s))
        differ += int(np.count_nonzero(y != y_plain))
        ratios.append(t_plain / t_cpu)
        baseline_cpu.append(bits / t_plain / 1e6)
        wall.append(bits / t_wall / 1e6)
        cpu.append(bits / t_cpu / 1e6)
        raw = _convolution_window(x, m, seed_bits)
        worst = max(worst, float(np.max(np.abs(raw - np.rint(raw)))))
        for i in rng.choice(m, min(64, m), replace=False):
            mismatches += int(y[i] != _definition(x, int(i), seed_bits))
    return {"bits": bits, "output_bits": m, "mbit_s_wall": spread(wall), "mbit_s_cpu": spread(cpu),
            "plain_fft_mbit_s_cpu": spread(baseline_cpu), "speedup_vs_plain_fft": spread(ratios),
            "bits_differing_from_plain_fft": differ,
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
    exact = all(r["spot_check_mismatches"] == 0 and r["max_rounding_distance"] < 1e-3
                and r["bits_differing_from_plain_fft"] == 0 for r in results)
    fast = all(r["mbit_s_cpu"]["median"] >= TARGET_MBIT_S for r in results)
    ahead = all(r["speedup_vs_plain_fft"]["median"] >= TARGET_SPEEDUP for r in results)
    print(json.dumps({"benchmark": "toeplitz_throughput", "results": results, "bit_exact": exact,
                      "target_mbit_s": TARGET_MBIT_S, "target_speedup_vs_plain_fft": TARGET_SPEEDUP,
                      "meets_target": exact and fast, "meets_speedup_target": exact and ahead,
                      "machine": machine()}, indent=2))
    print("toeplitz: " + "; ".join(
        f"{r['bits']} -> {r['output_bits']} bits: {r['mbit_s_cpu']['median']:.1f} Mbit/s CPU "
        f"({r['mbit_s_wall']['median']:.1f} wall), {r['speedup_vs_plain_fft']['median']:.1f}x the plain FFT, "
        f"max rounding distance {r['max_rounding_distance']:.1e}"
        for r in results) + f" [bit-exact: {exact}; targets {TARGET_MBIT_S:.0f} Mbit/s, "
        f"{TARGET_SPEEDUP:.0f}x the plain FFT]")


if __name__ == "__main__":
    main()
