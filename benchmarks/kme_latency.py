"""ETSI GS QKD 014 latency of our KME: enc_keys and dec_keys over HTTPS with mutual TLS on loopback.

The device behind the KMEs is the real simulated link (QKD core, device clock paced to wall
time), so the server answers while the link distils key in a background thread, as it does
under `qsbench kme serve`. Requests go through the etsi014 client adapter (one keep-alive
connection per SAE). Prints one JSON object with percentiles and sample counts, then a summary.

The served link runs its blocks in a worker process (`offload.ProcessKeySource`). With
`--compare-in-process` a second pass, side by side in this process, runs them in the serving
process instead (the old behaviour, by substituting a pass-through wrapper), so the stall a
block causes there is measured against the same load: compare the p99 and max of both passes.

    .venv/bin/python benchmarks/kme_latency.py [--requests 300] [--profile free-space-ground]
                                               [--compare-in-process]
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np

import vendors.simulated_qkd.served as served
from vendors.etsi014 import Etsi014Adapter
from vendors.simulated_qkd.adapter import SimulatedQKDAdapter


class _InProcess:
    """Stands in for ProcessKeySource: the blocks run in the serving process, as before."""

    def __init__(self, source):
        self.inner = source

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def close(self):
        pass


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--keys-per-request", type=int, default=1)
    ap.add_argument("--profile", default="free-space-ground")
    ap.add_argument("--fibre-km", type=float, default=25.0)
    ap.add_argument("--time-scale", type=float, default=5.0)
    ap.add_argument("--compare-in-process", action="store_true")
    args = ap.parse_args()
    result = measure(args, "worker_process")
    print(json.dumps(result))
    _summary(result, args.requests)
    if args.compare_in_process:
        offload = served.ProcessKeySource
        served.ProcessKeySource = _InProcess  # type: ignore[misc,assignment]
        try:
            old = measure(args, "in_process")
        finally:
            served.ProcessKeySource = offload  # type: ignore[misc]
        print(json.dumps(old))
        _summary(old, args.requests)
        p99 = old["enc_keys_p99_ms"] / result["enc_keys_p99_ms"]
        print(f"in-process / worker-process: enc_keys p99 x{p99:.1f}, "
              f"max x{old['enc_keys_max_ms'] / result['enc_keys_max_ms']:.1f}")


def _summary(result, requests):
    print(f"[{result['key_production']}] enc_keys p50/p90/p99/max {result['enc_keys_p50_ms']}/"
          f"{result['enc_keys_p90_ms']}/{result['enc_keys_p99_ms']}/{result['enc_keys_max_ms']} ms, "
          f"dec_keys {result['dec_keys_p50_ms']}/{result['dec_keys_p90_ms']}/{result['dec_keys_p99_ms']}/"
          f"{result['dec_keys_max_ms']} ms over {requests} requests (HTTPS, mutual TLS, loopback)")


def measure(args, mode):
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
    result = {"benchmark": "kme_latency", "key_production": mode, "profile": args.profile,
              "requests": args.requests, "keys_per_request": args.keys_per_request, "key_size_bits": 256,
              "python": platform.python_version(), "machine": platform.machine()}
    for name, values in (("enc_keys", enc), ("dec_keys", dec)):
        for q in (50, 90, 99):
            result[f"{name}_p{q}_ms"] = round(float(np.percentile(values, q)), 3)
        result[f"{name}_max_ms"] = round(max(values), 3)
    return result


if __name__ == "__main__":
    main()
