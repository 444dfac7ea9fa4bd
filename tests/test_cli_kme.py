"""`qsbench kme certs` writes a PKI the server accepts; `kme serve --help` teaches its options."""

from __future__ import annotations

import stat

import pytest
import typer
from typer.testing import CliRunner

from harness.etsi014_pki import load_test_pki
from vendors.simulated_qkd.cli import register


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)

    @app.callback()
    def main() -> None:
        """qsbench"""

    return app


def test_certs_writes_ca_kme_and_sae_certificates(tmp_path):
    result = CliRunner().invoke(_app(), ["kme", "certs", str(tmp_path / "pki")])
    assert result.exit_code == 0, result.output
    pki = load_test_pki(tmp_path / "pki")
    assert set(pki.saes) == {"SAE_A", "SAE_B", "SAE_C"} and set(pki.kmes) == {"KME_A", "KME_B"}
    assert stat.S_IMODE(pki.saes["SAE_A"].key.stat().st_mode) == 0o600
    assert "SAE_A" in result.output


def test_serve_help_names_every_option():
    result = CliRunner().invoke(_app(), ["kme", "serve", "--help"])
    assert result.exit_code == 0
    for option in ("--certs", "--profile", "--fibre-km", "--port", "--host", "--time-scale", "Example"):
        assert option in result.output


def test_serve_without_certificates_says_how_to_make_them(tmp_path):
    result = CliRunner().invoke(_app(), ["kme", "serve", "--certs", str(tmp_path)])
    assert result.exit_code == 2
    assert "qsbench kme certs" in result.output


@pytest.mark.timeout(120)
def test_serve_end_to_end_then_shut_down_gracefully(tmp_path):
    """`kme serve` in its own process: keys flow over mutual TLS, SIGINT stops it cleanly."""
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time

    from vendors.etsi014 import Etsi014Adapter

    CliRunner().invoke(_app(), ["kme", "certs", str(tmp_path / "pki")])
    with socket.socket() as s:  # a free pair of ports (KME B listens on port + 1)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1] if s.getsockname()[1] < 65000 else 47000
    script = ("import typer; from vendors.simulated_qkd.cli import register\n"
              "app = typer.Typer(); register(app)\n"
              "@app.callback()\ndef main() -> None: pass\napp()")
    proc = subprocess.Popen(
        [sys.executable, "-c", script, "kme", "serve", "--certs", str(tmp_path / "pki"), "--profile",
         "free-space-ground", "--fibre-km", "25", "--port", str(port), "--time-scale", "20"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        seen = []
        while len(seen) < 50:  # uvicorn's start-up lines come before the banner
            seen.append(proc.stdout.readline())
            if "KME_A (SAE_A) at" in seen[-1] or not seen[-1]:
                break
        assert f"https://127.0.0.1:{port}" in seen[-1], "".join(seen)
        pki = tmp_path / "pki"
        client = Etsi014Adapter({
            "master_kme_url": f"https://127.0.0.1:{port}", "slave_kme_url": f"https://127.0.0.1:{port + 1}",
            "ca_cert": str(pki / "ca.pem"), "master_sae_id": "SAE_A", "master_cert": str(pki / "SAE_A.pem"),
            "master_key": str(pki / "SAE_A.key"), "slave_sae_id": "SAE_B",
            "slave_cert": str(pki / "SAE_B.pem"), "slave_key": str(pki / "SAE_B.key")})
        # Wait for the condition (four keys stored), not a time: a loaded host distils them later.
        # The deadline only stops a broken device from hanging the suite, and says so.
        deadline = time.monotonic() + 600
        while (stored := client.status().stored_key_count) < 4 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert stored >= 4, f"the served link distilled {stored} keys in 600 s"
        keys = client.enc_keys(4)
        assert [k.material for k in client.dec_keys([k.key_id for k in keys])] == [k.material for k in keys]
        client.close()
    finally:
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, rest
    assert "KMEs stopped" in rest


def test_serve_on_a_store_another_server_holds_is_refused(tmp_path):
    from vendors.simulated_qkd.keystore import LinkKeyStore

    CliRunner().invoke(_app(), ["kme", "certs", str(tmp_path / "pki")])
    held = LinkKeyStore(256, 10, tmp_path / "store.sqlite")
    try:
        result = CliRunner().invoke(_app(), ["kme", "serve", "--certs", str(tmp_path / "pki"),
                                             "--store", str(tmp_path / "store.sqlite")])
    finally:
        held.close()
    assert result.exit_code == 2
    assert "another `qsbench kme serve`" in result.output
