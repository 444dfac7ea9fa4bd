"""Throughput of the Monte Carlo channel alone: seconds of device time simulated per wall second.

Default case from the issue: a 1 GHz source at 50 km with lim-2014 detectors, blocks of 1e9
pulses (one device-second each). Compilation is excluded (one warm-up block, numba cache on).
Prints one JSON object and a one-line summary. ``--threads`` sets numba's thread count, which
sizes the pool of generator threads; the calling thread runs the detector pass alongside them.

    .venv/bin/python benchmarks/bench_qkd_channel.py [--profile lim-2014] [--distance-km 50]
        [--pulses 1000000000] [--repeats 7] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

import numba

from harness.qkd.channel import simulate_block
from harness.qkd.profiles import load_profile


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="lim-2014")
    parser.add_argument("--distance-km", type=float, default=50.0)
    parser.add_argument("--pulses", type=int, default=10**9)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=numba.config.NUMBA_NUM_THREADS)
    args = parser.parse_args()

    numba.set_num_threads(args.threads)
    prof = load_profile(args.profile)
    device_s = args.pulses / prof.source.repetition_rate_hz
    simulate_block(prof, args.distance_km, min(args.pulses, 10**7), seed=0)  # compile or load cache

    load_before = os.getloadavg()[0]
    walls, cpus, events = [], [], []
    for seed in range(1, args.repeats + 1):
        t0, c0 = time.perf_counter(), time.process_time()
        block = simulate_block(prof, args.distance_km, args.pulses, seed=seed)
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
        events.append(int(block.slot.shape[0]))
    ratios = [device_s / w for w in walls]
    result = {
        "benchmark": "qkd_channel_throughput",
        "profile": prof.name, "distance_km": args.distance_km,
        "repetition_rate_hz": prof.source.repetition_rate_hz, "pulses_per_block": args.pulses,
        "device_seconds_per_block": device_s, "repeats": args.repeats,
        "wall_s": walls, "cpu_s": cpus,
        "device_s_per_wall_s_median": statistics.median(ratios),
        "device_s_per_wall_s_min": min(ratios), "device_s_per_wall_s_max": max(ratios),
        # CPU seconds over all threads: less sensitive than wall time to other jobs on the machine.
        "device_s_per_cpu_s_median": statistics.median(device_s / c for c in cpus),
        "detections_per_block_mean": statistics.fmean(events),
        "detections_per_wall_s_median": statistics.median(e / w for e, w in zip(events, walls, strict=True)),
        "numba_threads": numba.get_num_threads(), "cpu_count": os.cpu_count(),
        "load_average_1min_before": load_before, "machine": platform.machine(),
        "numba": numba.__version__,
    }
    print(json.dumps(result, indent=2))
    print(f"qkd channel: {result['device_s_per_wall_s_median']:.1f} s of device time per wall second "
          f"(median of {args.repeats}, min {result['device_s_per_wall_s_min']:.1f}, "
          f"max {result['device_s_per_wall_s_max']:.1f}; "
          f"{result['device_s_per_cpu_s_median']:.1f} per CPU second); "
          f"{prof.name} at {args.distance_km:g} km, "
          f"{result['detections_per_block_mean']:.3g} detections per device-second, "
          f"{result['numba_threads']} threads, load {load_before:.1f}")


if __name__ == "__main__":
    main()
