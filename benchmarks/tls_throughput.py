"""TLS 1.3 handshakes per second on plain loopback, with every handshake's latency kept.

The server runs in its own process (so client and server do not share one interpreter lock);
client threads each run handshakes back to back through the TlsStack protocol, exactly as the
tls_handshake suite does (connect, handshake, close). Prints the figures as JSON, then one summary
line. Target from the issue: ≥ 500 X25519MLKEM768 handshakes/s.

    python benchmarks/tls_throughput.py --handshakes 3000 --threads 2
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path

from harness.certs import make_chain
from harness.registry import adapter_class


def _serve(stack_name: str, chain_dir: str, cert: str, group: str, ready, stop) -> None:
    stack = adapter_class(stack_name)()
    listener = socket.create_server(("127.0.0.1", 0), backlog=1024)
    server = stack.tls_server(listener, make_chain(cert, Path(chain_dir)), [group])
    ready.put(listener.getsockname())
    stop.wait()
    server.close()
    ready.put(len(server.failures()))


def _client_loop(client, address, count: int, latencies: list[float], failures: list[str]) -> None:
    for _ in range(count):
        start = time.perf_counter()
        try:
            with socket.create_connection(address, timeout=10) as sock:
                client.handshake(sock, "localhost")
        except Exception as exc:  # a failure is counted and reported, never hidden
            failures.append(f"{type(exc).__name__}: {exc}")
            continue
        latencies.append((time.perf_counter() - start) * 1000)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stack", default="openssl-tls")
    ap.add_argument("--group", default="X25519MLKEM768")
    ap.add_argument("--cert", default="ECDSA-P256")
    ap.add_argument("--handshakes", type=int, default=3000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=50)
    args = ap.parse_args()

    chain_dir = tempfile.mkdtemp(prefix="qsbench-tls-bench-")
    chain = make_chain(args.cert, Path(chain_dir))
    ctx = mp.get_context("spawn")
    ready, stop = ctx.Queue(), ctx.Event()
    server = ctx.Process(target=_serve, args=(args.stack, chain_dir, args.cert, args.group, ready, stop))
    server.start()
    address = tuple(ready.get(timeout=60))
    stack = adapter_class(args.stack)()
    client = stack.tls_client(chain.root_pem, [args.group])
    _client_loop(client, address, args.warmup, [], [])

    latencies: list[float] = []
    failures: list[str] = []
    per_thread = args.handshakes // args.threads
    threads = [threading.Thread(target=_client_loop, args=(client, address, per_thread, latencies, failures))
               for _ in range(args.threads)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall_s = time.perf_counter() - start
    stop.set()
    server_failures = ready.get(timeout=30)
    server.join(timeout=10)

    q = statistics.quantiles(latencies, n=100) if len(latencies) >= 2 else [float("nan")] * 99
    result = {
        "benchmark": "tls_throughput", "stack": args.stack, "version": type(stack).version(),
        "group": args.group, "cert": args.cert, "network": "loopback (127.0.0.1, no emulation)",
        "client_threads": args.threads, "server": "separate process, one thread per connection",
        "cpu_count": os.cpu_count(), "load_avg_1min": os.getloadavg()[0],
        "handshakes_ok": len(latencies), "handshakes_failed": len(failures),
        "server_failures": server_failures, "wall_s": round(wall_s, 3),
        "handshakes_per_s": round(len(latencies) / wall_s, 1),
        "latency_ms": {"median": round(statistics.median(latencies), 3), "p5": round(q[4], 3),
                       "p95": round(q[94], 3), "p99": round(q[98], 3), "max": round(max(latencies), 3),
                       "n": len(latencies)},
        "first_failures": failures[:3],
    }
    print(json.dumps(result, indent=2))
    print(f"{args.stack} {args.group}/{args.cert}: {result['handshakes_per_s']} handshakes/s over "
          f"{len(latencies)} handshakes ({args.threads} client threads), latency median "
          f"{result['latency_ms']['median']} ms, p95 {result['latency_ms']['p95']} ms, "
          f"{len(failures)} failed")


if __name__ == "__main__":
    main()
