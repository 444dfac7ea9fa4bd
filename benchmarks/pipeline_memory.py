"""Peak memory and time of one whole QKD block (channel → … → privacy amplification) by block size.

For each ``--block-bits`` N, a fresh child process loads the numba kernels on a small block, then
runs `harness.qkd.pipeline.run_block` on ``--profile`` at ``--distance-km`` with the pulses
expected to give N key-basis bits (as the simulated device sizes its blocks). Reported per N:
the child's peak resident memory (ru_maxrss) and its resident memory after the warm-up, so that
the growth with N is visible, wall and CPU seconds, and the block's key bits, final key bits and
stage times. The block is streamed in chunks, so memory beyond the warm-up should grow only with
what the block must hold: both ends' key bits (1 byte each per key bit), the privacy
amplification seed and the final keys, not with the detections (17 bytes each). Children run
one after another, so the figures do not share the machine with each other.

    python benchmarks/pipeline_memory.py [--profile high-rate-2023] [--distance-km 10]
                                         [--block-bits 1e6 1e7 1e8]

Prints one JSON object, then a one-line summary.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import subprocess
import sys
import time

from _common import machine

RSS_UNIT_BYTES = 1024  # ru_maxrss is in KiB on Linux


def _pulses(profile, distance_km: float, block_bits: int) -> int:
    from harness.qkd.keyrate import expected_observations

    pz = profile.source.basis_probability_key
    gain = sum(p * expected_observations(profile, distance_km, mu).gain
               for mu, p in zip(profile.intensities, profile.intensity_probabilities, strict=True))
    return math.ceil(block_bits / (pz * pz * gain))


def child(profile_name: str, distance_km: float, block_bits: int) -> dict:
    from harness.qkd.pipeline import run_block
    from harness.qkd.profiles import load_profile

    profile = load_profile(profile_name)
    run_block(profile, distance_km, 1_000_000, seed=0)  # load the kernels
    warm = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * RSS_UNIT_BYTES
    pulses = _pulses(profile, distance_km, block_bits)
    wall, cpu = time.perf_counter(), time.process_time()
    st = run_block(profile, distance_km, pulses, seed=1).stats
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * RSS_UNIT_BYTES
    return {"block_bits_requested": block_bits, "pulses": pulses, "detections": st.stage("channel").bits_out,
            "key_bits": st.stage("estimation").bits_out, "final_key_bits": st.final_key_bits,
            "aborted": st.abort_reason, "wall_s": wall, "cpu_s": cpu, "rss_after_warm_up_mb": warm / 2**20,
            "peak_rss_mb": peak / 2**20, "stage_seconds": {s.stage: s.seconds for s in st.stages}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="high-rate-2023", help="shipped name or YAML path")
    parser.add_argument("--distance-km", type=float, default=10.0)
    parser.add_argument("--block-bits", type=float, nargs="+", default=[1e6, 1e7, 1e8])
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.profile, args.distance_km, int(args.block_bits[0]))))
        return
    results = []
    for bits in args.block_bits:
        command = [sys.executable, __file__, "--child", "--profile", args.profile,
                   "--distance-km", str(args.distance_km), "--block-bits", str(bits)]
        out = subprocess.run(command,
                             check=True, capture_output=True, text=True)
        results.append(json.loads(out.stdout.splitlines()[-1]))
    print(json.dumps({"benchmark": "pipeline_memory", "profile": args.profile,
                      "distance_km": args.distance_km, "results": results, "machine": machine()}, indent=2))
    print(f"pipeline memory ({args.profile}, {args.distance_km:g} km): " + "; ".join(
        f"{r['key_bits']:.2e} key bits: peak RSS {r['peak_rss_mb']:.0f} MB "
        f"({r['rss_after_warm_up_mb']:.0f} after warm-up), {r['wall_s']:.1f} s wall, {r['cpu_s']:.1f} s CPU"
        + (f", aborted: {r['aborted']}" if r["aborted"] else f", {r['final_key_bits']} final bits")
        for r in results))


if __name__ == "__main__":
    main()
