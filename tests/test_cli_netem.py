"""`qsbench netem check` and `qsbench netem proxy`, through typer's runner and a real subprocess."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time

import typer
from typer.testing import CliRunner

from harness.cli.netem import register


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """qsbench (test app)"""

    register(app)
    return app


def test_check_reports_the_backend_and_a_measured_rtt():
    result = CliRunner().invoke(_app(), ["netem", "check", "--rtt", "10", "--samples", "5", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["default_backend"] in ("netem", "proxy")
    assert report["proxy_rtt_min_ms"] >= 10


def test_help_teaches_with_an_example():
    result = CliRunner().invoke(_app(), ["netem", "proxy", "--help"])
    assert result.exit_code == 0 and "Example: qsbench netem proxy" in result.output


def test_bad_upstream_is_a_clear_error():
    result = CliRunner().invoke(_app(), ["netem", "proxy", "nowhere", "--duration", "0.1"])
    assert result.exit_code != 0 and "HOST:PORT" in result.output


def test_proxy_command_forwards_with_the_asked_delay():
    server = socket.create_server(("127.0.0.1", 0))

    def echo() -> None:
        conn, _ = server.accept()
        with conn:
            conn.sendall(conn.recv(16))

    threading.Thread(target=echo, daemon=True).start()
    code = ("import typer; from harness.cli.netem import register; app = typer.Typer(); "
            "app.callback()(lambda: None); register(app); app()")
    port = server.getsockname()[1]
    args = [sys.executable, "-c", code, "netem", "proxy", f"127.0.0.1:{port}", "--rtt", "20",
            "--duration", "20"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        host, _, proxy_port = proc.stdout.readline().strip().rpartition(":")
        start = time.perf_counter()
        with socket.create_connection((host, int(proxy_port)), timeout=10) as sock:
            sock.sendall(b"ping")
            assert sock.recv(16) == b"ping"
        assert (time.perf_counter() - start) * 1000 >= 40  # TCP handshake + one exchange at 20 ms
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        server.close()
