"""Per-run certificate chains (a root CA and a leaf for `localhost`) for TLS suites.

Made with `cryptography`, whose X.509 builder signs with ML-DSA as well as with classical keys,
so every TLS stack receives the same PEM files. Keys are written with mode 0600 into the case's
private work directory and never leave it.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, mldsa, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from harness.adapters_tls import TLS_CERT_TYPES, CertChain

# cert type → (key generator, hash for X.509 signing; None where the algorithm fixes its own)
_KEYS: dict[str, tuple[Callable[[], Any], hashes.HashAlgorithm | None]] = {
    "ECDSA-P256": (lambda: ec.generate_private_key(ec.SECP256R1()), hashes.SHA256()),
    "Ed25519": (ed25519.Ed25519PrivateKey.generate, None),
    "RSA-2048": (lambda: rsa.generate_private_key(65537, 2048), hashes.SHA256()),
    "ML-DSA-44": (mldsa.MLDSA44PrivateKey.generate, None),
    "ML-DSA-65": (mldsa.MLDSA65PrivateKey.generate, None),
    "ML-DSA-87": (mldsa.MLDSA87PrivateKey.generate, None),
}
assert set(_KEYS) == set(TLS_CERT_TYPES)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(subject: str, issuer: str, public_key: Any, signing_key: Any,
                 digest: hashes.HashAlgorithm | None, is_ca: bool) -> x509.Certificate:
    # Key identifiers, key usage and serverAuth as the Web PKI profile wants them, so strict
    # verifiers (cryptography's own, used by the tlslite client) accept the chain.
    now = datetime.datetime.now(datetime.UTC)
    builder = (x509.CertificateBuilder()
               .subject_name(_name(subject)).issuer_name(_name(issuer)).public_key(public_key)
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(now + datetime.timedelta(days=2))
               .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(signing_key.public_key()),
                              critical=False))
    if is_ca:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=False, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False), critical=True)
    else:
        builder = (builder
                   .add_extension(x509.SubjectAlternativeName([x509.DNSName(subject)]), critical=False)
                   .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                   .add_extension(x509.KeyUsage(
                       digital_signature=True, content_commitment=False, key_encipherment=False,
                       data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                       encipher_only=False, decipher_only=False), critical=True))
    return builder.sign(signing_key, digest)


def make_chain(cert_type: str, directory: Path, server_name: str = "localhost") -> CertChain:
    """Generate (or reuse, within one work directory) a root + leaf chain of `cert_type`."""
    if cert_type not in _KEYS:
        raise ValueError(f"unknown certificate type {cert_type!r}; known: {', '.join(TLS_CERT_TYPES)}")
    directory = Path(directory) / f"certs-{cert_type}"
    chain = CertChain(cert_type, directory / "chain.pem", directory / "leaf.key", directory / "root.pem",
                      server_name)
    if chain.chain_pem.exists() and chain.key_pem.exists() and chain.root_pem.exists():
        return chain
    directory.mkdir(parents=True, exist_ok=True)
    generate, digest = _KEYS[cert_type]
    root_key, leaf_key = generate(), generate()
    root = _certificate(f"qsbench {cert_type} root", f"qsbench {cert_type} root", root_key.public_key(),
                        root_key, digest, is_ca=True)
    leaf = _certificate(server_name, f"qsbench {cert_type} root", leaf_key.public_key(), root_key, digest,
                        is_ca=False)
    pem = serialization.Encoding.PEM
    chain.root_pem.write_bytes(root.public_bytes(pem))
    chain.chain_pem.write_bytes(leaf.public_bytes(pem) + root.public_bytes(pem))
    fd = os.open(chain.key_pem, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(leaf_key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()))
    return chain
