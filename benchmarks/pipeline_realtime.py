"""Real-time factor of the whole QKD pipeline (Monte Carlo channel + all post-processing), one core.

Runs `harness.qkd.pipeline.run_block` ``--repeats`` times (seeds 1, 2, …) on ``--profile`` at
``--distance-km`` with ``--pulses`` pulses, after one small warm-up block that loads the numba
kernels. Real-time factor = device seconds (pulses / repetition rate) per wall-clock second, and
per CPU second of this process (numba and scipy.fft run single-threaded, so that is one core's).
Target: ≥ 1 for a 1 GHz source at 50 km. The default block, 4.5·10^9 pulses of the 1 GHz
lim-2014 profile, gives about 10^7 key-basis bits, the profile's finite-key block size (1·10^9
pulses give too few test-basis events for a positive key at 50 km).

    python benchmarks/pipeline_realtime.py [--profile lim-2014] [--distance-km 50] [--pulses 4.5e9]

Prints one JSON object, then a one-line summary.
"""

from __future__ import annotations

import argparse
import json
import statistics

from _common import machine, spread, timed

from harness.qkd.pipeline import run_block


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="lim-2014")
    parser.add_argument("--distance-km", type=float, default=50.0)
    parser.add_argument("--pulses", type=float, default=4.5e9)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    pulses = int(args.pulses)
    run_block(args.profile, args.distance_km, 10_000_000, seed=0)  # warm-up
    runs = []
    for seed in range(1, args.repeats + 1):
        result, wall, cpu = timed(lambda s=seed: run_block(args.profile, args.distance_km, pulses, seed=s))
        st = result.stats
        ec = next((s for s in st.stages if s.stage == "reconciliation"), None)
        runs.append({
            "seed": seed, "wall_s": wall, "cpu_s": cpu, "device_s": st.device_seconds,
            "real_time_factor_wall": st.device_seconds / wall,
            "real_time_factor_cpu": st.device_seconds / cpu,
            "aborted": st.aborted, "abort_reason": st.abort_reason, "final_key_bits": st.final_key_bits,
            "secret_key_rate_bps": st.secret_key_rate_bps, "qber_key": st.qber_key,
            "phase_error_bound": st.phase_error_bound,
            "stage_seconds": {s.stage: s.seconds for s in st.stages},
            "stage_bits_in": {s.stage: s.bits_in for s in st.stages},
            "reconciliation_efficiency": ec.efficiency if ec else None,
        })
    rtf_wall = spread([r["real_time_factor_wall"] for r in runs])
    rtf_cpu = spread([r["real_time_factor_cpu"] for r in runs])
    stages = {name: statistics.median(r["stage_seconds"].get(name, 0.0) for r in runs)
              for name in runs[0]["stage_seconds"]}
    print(json.dumps({"benchmark": "pipeline_realtime", "profile": args.profile,
                      "distance_km": args.distance_km, "pulses": pulses, "runs": runs,
                      "real_time_factor_wall": rtf_wall,
                      "real_time_factor_cpu": rtf_cpu, "median_stage_seconds": stages,
                      "meets_target": rtf_cpu["median"] >= 1.0, "machine": machine()}, indent=2))
    key = statistics.median(r["final_key_bits"] for r in runs)
    print(f"pipeline: {args.profile} at {args.distance_km:g} km, {pulses:.2e} pulses "
          f"({runs[0]['device_s']:.2f} s of device time): real-time factor {rtf_cpu['median']:.2f} per CPU "
          f"second ({rtf_wall['median']:.2f} wall), final key {key:.0f} bits; stage seconds "
          + ", ".join(f"{k} {v:.2f}" for k, v in stages.items()))


if __name__ == "__main__":
    main()
