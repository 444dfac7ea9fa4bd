"""OpenSSL through the `cryptography` package (>= 50, which bundles OpenSSL 4).

PQC: ML-KEM-768/1024 and ML-DSA-44/65/87 (OpenSSL 4 has no ML-KEM-512 behind `cryptography`).
Classical baselines: X25519 and ECDH-P256 as KEMs (ephemeral-static DH: the ciphertext is the
ephemeral public key), Ed25519, ECDSA-P256 (SHA-256) and RSA-2048 with RSASSA-PSS (SHA-256)
as signatures. The PQC algorithms are listed only when the linked OpenSSL reports them.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import metadata
from typing import Any, ClassVar

from harness.adapters import Adapter, Availability, Capability, Kem, Kind, Signer
from vendors._pqc import unsupported

_MIN_MAJOR = 50


def _cryptography_version() -> str | None:
    try:
        return metadata.version("cryptography")
    except metadata.PackageNotFoundError:
        return None


class OpenSSLAdapter(Adapter):
    name: ClassVar[str] = "openssl"
    kind: ClassVar[Kind] = Kind.PQC
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.KEM, Capability.SIGNATURE})

    @classmethod
    def availability(cls) -> Availability:
        version = _cryptography_version()
        if version is None:
            return Availability(False, "the `cryptography` package is not installed: "
                                       "pip install 'cryptography>=50,<51'")
        if int(version.split(".")[0]) < _MIN_MAJOR:
            return Availability(False, f"cryptography {version} is too old: qsbench needs >= {_MIN_MAJOR} "
                                       "(it bundles OpenSSL 4 with ML-KEM and ML-DSA)")
        return Availability(True)

    @classmethod
    def version(cls) -> str:
        version = _cryptography_version()
        if version is None:
            return ""
        from cryptography.hazmat.backends.openssl.backend import backend

        return f"cryptography {version}, {backend.openssl_version_text()}"

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(options)
        self._kems: dict[str, Kem] | None = None
        self._signers: dict[str, Signer] | None = None

    def _load(self) -> tuple[dict[str, Kem], dict[str, Signer]]:
        if self._kems is None or self._signers is None:
            from cryptography.hazmat.backends.openssl.backend import backend

            from vendors import _openssl_ops

            self._kems = _openssl_ops.make_kems(with_mlkem=backend.mlkem_supported())
            self._signers = _openssl_ops.make_signers(with_mldsa=backend.mldsa_supported())
        return self._kems, self._signers

    def kem_algorithms(self) -> tuple[str, ...]:
        return tuple(self._load()[0])

    def signature_algorithms(self) -> tuple[str, ...]:
        return tuple(self._load()[1])

    def kem(self, algorithm: str) -> Kem:
        kems = self._load()[0]
        if algorithm not in kems:
            raise unsupported(self.name, algorithm, kems)
        return kems[algorithm]

    def signer(self, algorithm: str) -> Signer:
        signers = self._load()[1]
        if algorithm not in signers:
            raise unsupported(self.name, algorithm, signers)
        return signers[algorithm]
