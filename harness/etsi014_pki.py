"""A test PKI for ETSI GS QKD 014 links: one CA, KME server certificates, SAE client certificates.

Shared by the simulated device (which serves with it) and the conformance suite (which makes a
rogue CA with it to check that a foreign SAE certificate is refused), so it lives in the engine.

ETSI 014 authenticates both sides with certificates; the SAE's identity is the
common name of its client certificate. Keys are ECDSA P-256 (fast to make, accepted
by every TLS 1.2/1.3 stack). Private keys are written mode 0600.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DEFAULT_KME_IDS = ("KME_A", "KME_B")
DEFAULT_SAE_IDS = ("SAE_A", "SAE_B", "SAE_C")  # SAE_C belongs to no link: the wrong-SAE checks use it
_VALIDITY = dt.timedelta(days=30)


@dataclass(frozen=True)
class CertPaths:
    cert: Path
    key: Path


@dataclass(frozen=True)
class TestPki:
    directory: Path
    ca_cert: Path
    kmes: dict[str, CertPaths]
    saes: dict[str, CertPaths]


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "qsbench test PKI"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _issue(subject_cn: str, ca_key: ec.EllipticCurvePrivateKey, ca_name: x509.Name,
           server: bool) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    builder = (x509.CertificateBuilder().subject_name(_name(subject_cn)).issuer_name(ca_name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + _VALIDITY)
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True))
    if server:
        san = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
        usage = ExtendedKeyUsageOID.SERVER_AUTH
    else:
        usage = ExtendedKeyUsageOID.CLIENT_AUTH
    builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    return builder.sign(ca_key, hashes.SHA256()), key


def make_test_pki(directory: str | Path, kme_ids: tuple[str, ...] = DEFAULT_KME_IDS,
                  sae_ids: tuple[str, ...] = DEFAULT_SAE_IDS) -> TestPki:
    """Write ca.pem, <KME_ID>.pem/.key and <SAE_ID>.pem/.key into `directory` (created if missing)."""
    for ident in (*kme_ids, *sae_ids):
        if not ident or not all(c.isalnum() or c in "_-." for c in ident):
            raise ValueError(f"identifier {ident!r}: use letters, digits, '_', '-' or '.'")
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("qsbench test CA")
    now = dt.datetime.now(dt.UTC)
    ca_cert = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
               .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + _VALIDITY)
               .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                            key_encipherment=False, data_encipherment=False,
                                            key_agreement=False, key_cert_sign=True, crl_sign=True,
                                            encipher_only=False, decipher_only=False), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                              critical=False)
               .sign(ca_key, hashes.SHA256()))
    ca_path = out / "ca.pem"
    ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    _write_key(out / "ca.key", ca_key)

    def issue_all(ids: tuple[str, ...], server: bool) -> dict[str, CertPaths]:
        paths = {}
        for ident in ids:
            cert, key = _issue(ident, ca_key, ca_name, server)
            paths[ident] = CertPaths(out / f"{ident}.pem", out / f"{ident}.key")
            paths[ident].cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
            _write_key(paths[ident].key, key)
        return paths

    return TestPki(out, ca_path, issue_all(kme_ids, True), issue_all(sae_ids, False))


def load_test_pki(directory: str | Path, kme_ids: tuple[str, ...] = DEFAULT_KME_IDS,
                  sae_ids: tuple[str, ...] = DEFAULT_SAE_IDS) -> TestPki:
    """The paths of a PKI made by `make_test_pki`; raise FileNotFoundError naming what is missing."""
    out = Path(directory)
    pki = TestPki(out, out / "ca.pem",
                  {k: CertPaths(out / f"{k}.pem", out / f"{k}.key") for k in kme_ids},
                  {s: CertPaths(out / f"{s}.pem", out / f"{s}.key") for s in sae_ids})
    needed = [pki.ca_cert, *(p for c in (*pki.kmes.values(), *pki.saes.values()) for p in (c.cert, c.key))]
    missing = [str(p) for p in needed if not p.exists()]
    if missing:
        raise FileNotFoundError(f"certificate directory {out} lacks {', '.join(missing)} "
                                "(make one with `qsbench kme certs DIR`)")
    return pki
