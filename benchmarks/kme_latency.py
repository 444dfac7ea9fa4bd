"""ETSI GS QKD 014 latency of our KME: enc_keys and dec_keys over HTTPS with mutual TLS on loopback.

The device behind the KMEs is the real simulated link (QKD core, device clock paced to wall
time), so the server answers while the link distils key in a background thread, as it does
under `qsbench kme serve`. Requests go through the etsi014 client adapter (one keep-alive
connection per SAE). Prints one JSON object with percentiles and sample counts, then a summary.

    .venv/bin/python benchmarks/kme_latency.py [--requests 300] [--profile free-space-ground]
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np

from vendors.etsi014 import Etsi014Adapter
from vendors.simulated_qkd.adapter import SimulatedQKDAdapter


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--keys-per-request", type=int, default=1)
    ap.add_argument("--profile", default="free-space-ground")
    ap.add_argument("--fibre-km", type=float, default=25.0)
    ap.add_argument("--time-scale", type=float, default=5.0)
    args = ap.parse_args()

    device = SimulatedQKDAdapter({"profile": args.profile, "fibre_km": args.fibre_km,
                                  "time_scale": args.time_scale, "max_key_count": 100_000})
    e = device.etsi014_endpoints()
    client = Etsi014Adapter({k: v for k, v in vars(e).items() if v is not None})
    enc, dec = [], []
    try:
        deadline = time.monotonic() + 120
        while client.status().stored_key_count < args.keys_per_request * (args.requests + 10):
            if time.monotonic() > deadline:
                raise SystemExit("the link did not store enough keys within 120 s")
            time.sleep(0.5)
        for _ in range(10):  # warm-up: TLS sessions, code paths
            client.dec_keys([k.key_id for k in client.enc_keys(args.keys_per_request)])
        for _ in range(args.requests):
            t0 = time.perf_counter()
            keys = client.enc_keys(args.keys_per_request)
            t1 = time.perf_counter()
            client.dec_keys([k.key_id for k in keys])
            t2 = time.perf_counter()
            enc.append((t1 - t0) * 1e3)
            dec.append((t2 - t1) * 1e3)
    finally:
        client.close()
        device.close()
    result = {"benchmark": "kme_latency", "profile": args.profile, "requests": args.requests,
              "keys_per_request": args.keys_per_request, "key_size_bits": 256,
              "python": platform.python_version(), "machine": platform.machine()}
    for name, values in (("enc_keys", enc), ("dec_keys", dec)):
        for q in (50, 90, 99):
            result[f"{name}_p{q}_ms"] = round(float(np.percentile(values, q)), 3)
    print(json.dumps(result))
    print(f"enc_keys p50/p90/p99 {result['enc_keys_p50_ms']}/{result['enc_keys_p90_ms']}/"
          f"{result['enc_keys_p99_ms']} ms, dec_keys {result['dec_keys_p50_ms']}/{result['dec_keys_p90_ms']}/"
          f"{result['dec_keys_p99_ms']} ms over {args.requests} requests (HTTPS, mutual TLS, loopback)")


if __name__ == "__main__":
    main()
