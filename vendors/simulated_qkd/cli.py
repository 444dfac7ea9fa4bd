"""`qsbench kme`: a test PKI and an ETSI GS QKD 014 key management entity for the simulated device."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Annotated

import typer

Opt = typer.Option
LOOPBACK = "127.0.0.1"

HELP = """ETSI GS QKD 014 KMEs serving one simulated QKD link (for pilots, demos and adapter tests).

Typical use:

    qsbench kme certs ./kme-pki
    qsbench kme serve --profile gys-2004 --fibre-km 50 --port 8443 --certs ./kme-pki
"""


def register(app: typer.Typer) -> None:
    kme = typer.Typer(help=HELP, no_args_is_help=True)

    @kme.command("certs")
    def certs(directory: Annotated[Path, typer.Argument(help="where to write the certificates")]) -> None:
        """Make a test CA, KME server certificates (KME_A, KME_B) and SAE client certificates.

        SAE_A and SAE_B are the two ends of the served link; SAE_C belongs to neither and is what
        the conformance suite uses to check that a third SAE is refused. OPERATOR is the one client
        the device's control endpoint (/control/v1/faults, for lab hooks) serves. Private keys are
        mode 0600.

        Example: qsbench kme certs ./kme-pki
        """
        from harness.etsi014_pki import make_test_pki
        from vendors.simulated_qkd.control import CLIENT_IDS

        pki = make_test_pki(directory, sae_ids=CLIENT_IDS)
        typer.echo(f"CA: {pki.ca_cert}")
        for name, paths in {**pki.kmes, **pki.saes}.items():
            typer.echo(f"{name}: {paths.cert} (key {paths.key})")

    @kme.command("serve")
    def serve(
        certs: Annotated[Path, Opt("--certs", help="directory made by `qsbench kme certs`")],
        profile: Annotated[str, Opt(help="device profile: a shipped name or a YAML path")] = "gys-2004",
        fibre_km: Annotated[float, Opt("--fibre-km", min=0, help="fibre length of the link")] = 25.0,
        port: Annotated[int, Opt(min=1, max=65534, help="KME A listens here, KME B on port + 1")] = 8443,
        host: Annotated[str, Opt(help="listen address; anything but loopback exposes the KMEs")] = LOOPBACK,
        time_scale: Annotated[float, Opt(min=1e-3, help="device seconds per wall-clock second")] = 1.0,
        key_size: Annotated[int, Opt(help="default key size in bits (multiple of 8)")] = 256,
        max_key_count: Annotated[int, Opt(min=1, help="keys held before new key is discarded")] = 1000,
        block_bits: Annotated[int | None, Opt(min=1000, help="key-basis bits per block (default: profile)")
                              ] = None,
        store: Annotated[Path | None, Opt(
            "--store", help="SQLite key store; keys held for slaves survive a restart on it "
                            "(default: keystore.sqlite in the --certs directory)")] = None,
        seed: Annotated[int | None, Opt(
            min=0, help="seed the link's Monte Carlo (reproducible runs); default: fresh entropy. "
                        "A restart on the same store continues the seeded stream")] = None,
    ) -> None:
        """Serve both KMEs of one simulated link over HTTPS with mutual TLS until Ctrl-C.

        The device runs the QKD core block by block on a clock paced to wall time (times
        --time-scale) and fills both KMEs' key stores. The master SAE (SAE_A) asks KME A for
        keys with POST /api/v1/keys/SAE_B/enc_keys; the slave (SAE_B) fetches the same keys from
        KME B with POST /api/v1/keys/SAE_A/dec_keys. Each SAE is identified by its client
        certificate. The OpenAPI document is at /openapi.json on each KME.

        The key store is an SQLite database (WAL, one transaction per delivery): stop or kill the
        server and start it again with the same --store, and keys delivered to the master are
        still there for the slave, and no key is ever delivered twice. Simulated keys are for
        testing integrations, never for protecting data.

        Example: qsbench kme serve --profile gys-2004 --fibre-km 50 --port 8443 --certs ./kme-pki
        """
        from harness.etsi014_pki import load_test_pki
        from vendors.simulated_qkd.core_source import CoreKeySource
        from vendors.simulated_qkd.keystore import LinkKeyStore, StoreUnusable
        from vendors.simulated_qkd.link import SimulatedLink
        from vendors.simulated_qkd.served import ServedLink

        try:
            pki = load_test_pki(certs)
            source = CoreKeySource(profile, block_bits)
            key_store = LinkKeyStore(key_size, max_key_count, store or certs / "keystore.sqlite")
            link = SimulatedLink(source, key_store, fibre_km, seed)
            served = ServedLink(link, pki, host=host, port=port, time_scale=time_scale, log_level="info")
        except (FileNotFoundError, ValueError, StoreUnusable, OSError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        if host not in ("127.0.0.1", "::1", "localhost"):
            typer.echo(f"warning: serving on {host}, not loopback", err=True)
        urls = served.start()
        typer.echo(f"KME_A (SAE_A) at {urls.a}  KME_B (SAE_B) at {urls.b}  profile {profile}, "
                   f"{fibre_km} km, time scale {time_scale}, store {key_store.path}; Ctrl-C stops")
        typer.echo("simulated keys: for testing integrations only, never for protecting data")
        done = threading.Event()
        previous = {s: signal.signal(s, lambda *_: done.set()) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            done.wait()
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
            served.stop()
            key_store.close()
            typer.echo("KMEs stopped")

    app.add_typer(kme, name="kme")
