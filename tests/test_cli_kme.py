"""`qsbench kme certs` writes a PKI the server accepts; `kme serve --help` teaches its options."""

from __future__ import annotations

import stat

import typer
from typer.testing import CliRunner

from harness.cli_kme import register
from vendors.simulated_qkd.certs import load_test_pki


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
