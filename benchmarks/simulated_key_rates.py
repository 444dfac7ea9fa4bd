"""Secret key rate of each shipped device profile at one distance, from the simulated device.

Runs `--blocks` post-processing blocks (the profile's own block size) through the simulated
device's telemetry and prints, per profile, the Monte Carlo rate with its per-block spread, the
QBER, the analytic finite-key and asymptotic rates and the PLOB bound at the same loss, and the
wall time per block. One JSON object per profile, then a summary line each.

    .venv/bin/python benchmarks/simulated_key_rates.py [--km 50] [--blocks 2] [--profiles lim-2014 ...]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from harness.qkd.profiles import available_profiles
from suites.qkd_expectations import expectation
from vendors.simulated_qkd.adapter import SimulatedQKDAdapter


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--km", type=float, default=50.0)
    ap.add_argument("--blocks", type=int, default=2)
    ap.add_argument("--profiles", nargs="*", default=available_profiles())
    args = ap.parse_args()
    lines = []
    for name in args.profiles:
        device = SimulatedQKDAdapter({"profile": name, "fibre_km": args.km, "seed": 1})
        rates, qbers, walls = [], [], []
        for _ in range(args.blocks):
            device.link.conditions_changed()  # each window: exactly the next fresh block
            t0 = time.perf_counter()
            snap = device.observe(1e-9)
            walls.append(time.perf_counter() - t0)
            rates.append(snap.secret_key_rate_bps)
            qbers.append(snap.qber)
        exp = expectation(device.declared_profile(), args.km)
        device.close()
        out = {"benchmark": "simulated_key_rates", "profile": name, "distance_km": args.km,
               "blocks": args.blocks, "secret_key_rate_bps": float(np.mean(rates)),
               "secret_key_rate_bps_sd": float(np.std(rates, ddof=1)) if len(rates) > 1 else None,
               "qber": float(np.nanmean(qbers)), "analytic_finite_key_bps": exp.finite_key_bps,
               "analytic_asymptotic_bps": exp.asymptotic_bps, "plob_bound_bps": exp.plob_bps,
               "channel_loss_db": exp.channel_loss_db, "wall_s_per_block": float(np.mean(walls))}
        print(json.dumps(out), flush=True)
        rate = out["secret_key_rate_bps"]
        lines.append(f"{name}: {rate:.4g} bit/s at {args.km} km (QBER {out['qber']:.4f}; "
                     f"analytic finite-key {exp.finite_key_bps:.4g}, PLOB {exp.plob_bps:.4g} bit/s; "
                     f"{out['wall_s_per_block']:.1f} s wall per block, {args.blocks} blocks)")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
