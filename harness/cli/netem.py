"""`qsbench netem`: which network emulation this host offers, and the proxy on its own.

Wire into the main app with `register(app)`.
"""

from __future__ import annotations

import json
import socket
import statistics
import threading
import time
from typing import Annotated

import typer

from harness.netem import LinkConditions, environment
from harness.netem.proxy import DelayProxy


def _echo_once_server() -> socket.socket:
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with conn:
            while data := conn.recv(65536):
                conn.sendall(data)

    threading.Thread(target=serve, daemon=True).start()
    return listener


def _parse_upstream(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit():
        raise typer.BadParameter(f"expected HOST:PORT, got {value!r}")
    if not 1 <= int(port) <= 65535:
        raise typer.BadParameter(f"{value!r}: port {port} is outside 1–65535")
    return host or "127.0.0.1", int(port)


def register(app: typer.Typer) -> None:
    netem_app = typer.Typer(help="Network emulation: what this host offers, and the userspace proxy.",
                            no_args_is_help=True)
    app.add_typer(netem_app, name="netem")

    @netem_app.command("check")
    def check(
        rtt_ms: Annotated[float, typer.Option("--rtt", help="RTT for the accuracy probe, ms")] = 31.1,
        samples: Annotated[int, typer.Option(min=2, max=10_000, help="echo round trips to time")] = 50,
        as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
    ) -> None:
        """Say whether `tc netem` is usable here (else the proxy is used) and time the proxy's RTT.

        Example: qsbench netem check --rtt 31.1 --samples 100
        """
        listener = _echo_once_server()
        with DelayProxy(listener.getsockname(), LinkConditions(rtt_ms=rtt_ms)) as proxy:
            sock = socket.create_connection(proxy.address)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            times = []
            for _ in range(samples + 1):
                start = time.perf_counter()
                sock.sendall(b"x")
                sock.recv(1)
                times.append((time.perf_counter() - start) * 1000)
            sock.close()
        listener.close()
        times = times[1:]  # the first exchange also pays the emulated TCP handshake
        report = {**environment(), "proxy_rtt_requested_ms": rtt_ms,
                  "proxy_rtt_median_ms": round(statistics.median(times), 3),
                  "proxy_rtt_min_ms": round(min(times), 3), "samples": samples}
        if as_json:
            typer.echo(json.dumps(report, indent=2))
            return
        backend = report["default_backend"]
        typer.echo(f"netem: {'available' if report['netem_available'] else 'unavailable'} "
                   f"({report['netem_reason']}); scenarios with network: auto use {backend}")
        typer.echo(f"proxy: asked {rtt_ms} ms RTT, measured median {report['proxy_rtt_median_ms']} ms, "
                   f"min {report['proxy_rtt_min_ms']} ms over {samples} round trips")

    @netem_app.command("proxy")
    def proxy(
        upstream: Annotated[str, typer.Argument(help="the server to reach, HOST:PORT")],
        rtt_ms: Annotated[float, typer.Option("--rtt", min=0, help="round-trip time to add, ms")] = 0.0,
        loss_pct: Annotated[float, typer.Option("--loss", min=0, max=99.9, help="segment loss, %")] = 0.0,
        mbps: Annotated[float, typer.Option("--mbps", min=0, help="rate cap, Mbit/s; 0 = none")] = 0.0,
        seed: Annotated[int, typer.Option(help="seed of the loss draws")] = 0,
        duration_s: Annotated[float, typer.Option("--duration", min=0, help="stop after, s; 0 = Ctrl-C")] = 0,
    ) -> None:
        """Run the emulating proxy in the foreground: any TCP client (openssl s_client, curl) can then
        talk to UPSTREAM through the given RTT, loss and rate. The first line printed is the address.

        Example: qsbench netem proxy 127.0.0.1:4433 --rtt 31.1 --loss 1
        """
        conditions = LinkConditions(rtt_ms=rtt_ms, loss_pct=loss_pct, bandwidth_mbps=mbps or None)
        target = _parse_upstream(upstream)  # before the proxy listens: a bad address is bad input
        with DelayProxy(target, conditions, seed) as running:
            host, port = running.address
            typer.echo(f"{host}:{port}", nl=True)
            rate = f"rate {mbps} Mbit/s" if mbps else "rate unlimited"
            typer.echo(f"forwarding to {upstream} with RTT {rtt_ms} ms, loss {loss_pct} %, {rate}", err=True)
            deadline = time.monotonic() + duration_s if duration_s else None
            try:
                while deadline is None or time.monotonic() < deadline:
                    time.sleep(0.1)
            except KeyboardInterrupt:
                pass
