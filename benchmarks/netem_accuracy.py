"""How closely the userspace network emulation delivers what was asked: RTT and rate.

For each requested RTT, an echo round trip of one byte through the proxy is timed `--samples`
times (the first exchange, which also pays the emulated TCP handshake, is reported apart); for the
rate, a payload is sent one way through a rate-capped path and the goodput compared with the rate
minus the header overhead of the segments actually sent. Prints JSON, then one summary line.

    python benchmarks/netem_accuracy.py --samples 200
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import threading
import time

from harness.acceptor import Acceptor
from harness.netem.model import HEADER_BYTES, LinkConditions
from harness.netem.proxy import DelayProxy


def _echo(conn: socket.socket, _address: tuple) -> None:
    with conn:
        while data := conn.recv(65536):
            conn.sendall(data)


def _echo_server() -> socket.socket:
    listener = socket.create_server(("127.0.0.1", 0))
    Acceptor(listener, _echo, "echo")  # daemon threads: they end with the benchmark
    return listener


def _rtt(listener: socket.socket, rtt_ms: float, samples: int) -> dict[str, float]:
    with DelayProxy(listener.getsockname(), LinkConditions(rtt_ms=rtt_ms)) as proxy:
        start = time.perf_counter()
        sock = socket.create_connection(proxy.address)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(b"x")
        sock.recv(1)
        first_ms = (time.perf_counter() - start) * 1000
        times = []
        for _ in range(samples):
            t = time.perf_counter()
            sock.sendall(b"y")
            sock.recv(1)
            times.append((time.perf_counter() - t) * 1000)
        sock.close()
    q = statistics.quantiles(times, n=100)
    median = statistics.median(times)
    return {"requested_ms": rtt_ms, "median_ms": round(median, 3), "p5_ms": round(q[4], 3),
            "p95_ms": round(q[94], 3), "min_ms": round(min(times), 3), "n": samples,
            "median_excess_ms": round(median - rtt_ms, 3), "first_exchange_ms": round(first_ms, 3),
            "first_exchange_expected_ms": 2 * rtt_ms}


def _sink_server(expected_bytes: int) -> socket.socket:
    """Answers a 1-byte hello, then reads `expected_bytes` and answers one byte: the upstream
    direction alone is measured, after the emulated TCP handshake has been paid."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.sendall(conn.recv(1))
            got = 0
            while got < expected_bytes and (data := conn.recv(65536)):
                got += len(data)
            conn.sendall(b"k")

    threading.Thread(target=serve, daemon=True).start()
    return listener


def _rate(mbps: float, payload_bytes: int) -> dict[str, float]:
    conditions = LinkConditions(rtt_ms=2.0, bandwidth_mbps=mbps)
    sink = _sink_server(payload_bytes)
    payload = os.urandom(payload_bytes)
    with DelayProxy(sink.getsockname(), conditions) as proxy:
        sock = socket.create_connection(proxy.address)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(b"h")
        sock.recv(1)
        start = time.perf_counter()
        sock.sendall(payload)
        sock.recv(1)
        # Serialisation of the payload plus one RTT (the last segment's trip and the answer's).
        elapsed = time.perf_counter() - start - conditions.rtt_ms / 1000
        stats = proxy.stats_for(sock.getsockname())
        sock.close()
    sink.close()
    goodput = payload_bytes * 8 / elapsed / 1e6
    # What the link should deliver: the payload's share of the bits sent, headers included.
    segments = stats.upstream.segments - 1  # the hello
    expected = mbps * payload_bytes / (payload_bytes + segments * HEADER_BYTES)
    return {"requested_mbps": mbps, "goodput_mbps": round(goodput, 3),
            "expected_goodput_mbps": round(expected, 3), "ratio": round(goodput / expected, 4),
            "payload_bytes": payload_bytes, "segments": segments}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=200)
    ap.add_argument("--rtt", type=float, nargs="*", default=[5.6, 31.1, 78.7])
    ap.add_argument("--mbps", type=float, nargs="*", default=[10.0, 50.0])
    args = ap.parse_args()
    listener = _echo_server()
    rtts = [_rtt(listener, r, args.samples) for r in args.rtt]
    rates = [_rate(m, int(m * 1e6 / 8 * 0.5)) for m in args.mbps]  # ~0.5 s each
    listener.close()
    result = {"benchmark": "netem_accuracy", "backend": "proxy", "cpu_count": os.cpu_count(),
              "load_avg_1min": os.getloadavg()[0], "rtt": rtts, "rate": rates}
    print(json.dumps(result, indent=2))
    print("proxy RTT excess (median over requested): "
          + ", ".join(f"{r['requested_ms']} ms +{r['median_excess_ms']} ms" for r in rtts)
          + "; goodput/expected: " + ", ".join(f"{r['requested_mbps']} Mbit/s {r['ratio']}" for r in rates))


if __name__ == "__main__":
    main()
