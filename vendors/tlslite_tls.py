"""TLS 1.3 through tlslite-ng: a pure-Python stack sharing no code with OpenSSL.

Its hybrid ML-KEM groups exist only when `kyber-py` is installed; it has no pure ML-KEM groups
and no ML-DSA certificates. A tlslite server offers key shares only for the groups it enables,
so the server's `keyShares` are set to exactly its groups. tlslite does not validate X.509
paths; the client instead checks that the chain the server sent ends in the trust anchor it was
given and that the leaf is signed by it (with `cryptography`), which is what a path check of a
two-certificate chain amounts to.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

from harness.adapters import (
    TLS_SIGNATURE_SCHEMES,
    Adapter,
    Availability,
    Capability,
    CertChain,
    Kind,
    NotApplicable,
    TlsHandshake,
    TlsHandshakeFailed,
)
from vendors._tls_server import TlsServerBase

_SERVER_IO_TIMEOUT_S = 30
_CLASSICAL = {"X25519": "x25519", "P-256": "secp256r1"}
_HYBRID = {"X25519MLKEM768": "x25519mlkem768", "SecP256r1MLKEM768": "secp256r1mlkem768",
           "SecP384r1MLKEM1024": "secp384r1mlkem1024"}
_CERT_TYPES = ("ECDSA-P256", "Ed25519", "RSA-2048")


@cache
def _groups() -> dict[str, str]:
    from tlslite.handshakesettings import CURVE_NAMES
    return {ours: theirs for ours, theirs in {**_CLASSICAL, **_HYBRID}.items() if theirs in CURVE_NAMES}


def _settings(groups: Sequence[str], key_shares: Sequence[str]):
    from tlslite import HandshakeSettings
    missing = [g for g in groups if g not in _groups()]
    if missing or not groups:
        raise NotApplicable(f"tlslite-ng here lacks TLS groups {missing}; it has {list(_groups())}"
                            + ("" if "X25519MLKEM768" in _groups() else " (hybrids need kyber-py)"))
    settings = HandshakeSettings()
    settings.minVersion = settings.maxVersion = (3, 4)
    settings.eccCurves = [_groups()[g] for g in groups]
    settings.keyShares = [_groups()[g] for g in key_shares]
    settings.dhGroups = []
    settings.validate()  # raises early for settings tlslite would reject mid-handshake
    return settings


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]


class TlsliteAdapter(Adapter):
    name: ClassVar[str] = "tlslite"
    kind: ClassVar[Kind] = Kind.TLS
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.TLS13})

    @classmethod
    def availability(cls) -> Availability:
        try:
            import tlslite  # noqa: F401
        except ImportError as exc:
            return Availability(False, f"tlslite-ng not importable ({exc}); pip install tlslite-ng")
        return Availability(True)

    @classmethod
    def version(cls) -> str:
        from importlib.metadata import PackageNotFoundError, version
        try:
            kyber = f", kyber-py {version('kyber-py')}"
        except PackageNotFoundError:
            kyber = ", no kyber-py"
        return f"tlslite-ng {version('tlslite-ng')}{kyber}"

    def tls_groups(self) -> Sequence[str]:
        return tuple(_groups())

    def tls_cert_types(self) -> Sequence[str]:
        return _CERT_TYPES

    def tls_server(self, listener: socket.socket, chain: CertChain, groups: Sequence[str]) -> _Server:
        if chain.cert_type not in _CERT_TYPES:
            raise NotApplicable(f"tlslite-ng cannot serve {chain.cert_type} certificates")
        from tlslite import X509CertChain, parsePEMKey
        certs = X509CertChain()
        certs.parsePemList(chain.chain_pem.read_text())
        key = parsePEMKey(chain.key_pem.read_text(), private=True, implementations=["python"])
        return _Server(listener, certs, key, _settings(groups, groups))

    def tls_client(self, trust_root: Path, groups: Sequence[str]) -> _Client:
        return _Client(_settings(groups, groups[:1]), trust_root)


class _Server(TlsServerBase):
    def __init__(self, listener: socket.socket, certs: Any, key: Any, settings: Any) -> None:
        self._certs, self._key, self._settings = certs, key, settings
        super().__init__(listener, "tlslite-server")

    def _handshake(self, sock: socket.socket, _address: tuple) -> None:
        from tlslite import TLSConnection
        sock.settimeout(None)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", _SERVER_IO_TIMEOUT_S, 0))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            TLSConnection(sock).handshakeServer(certChain=self._certs, privateKey=self._key,
                                                settings=self._settings)
        except Exception as exc:
            self._failures.append(_reason(exc))
        finally:
            sock.close()


class _Client:
    def __init__(self, settings: Any, trust_root: Path) -> None:
        from cryptography import x509
        self._settings = settings
        self._root = x509.load_pem_x509_certificate(trust_root.read_bytes())

    def handshake(self, sock: Any, server_name: str) -> TlsHandshake:
        from tlslite import TLSConnection
        from tlslite.errors import TLSError
        conn = TLSConnection(sock)
        try:
            conn.handshakeClientCert(settings=self._settings, serverName=server_name)
        except (TLSError, OSError, ValueError) as exc:
            raise TlsHandshakeFailed(f"tlslite: {_reason(exc)}") from None
        self._verify_chain(conn.session.serverCertChain, server_name)
        names = {v: k for k, v in _groups().items()}
        from tlslite.constants import GroupName
        group = names.get(GroupName.toRepr(conn.ecdhCurve), f"0x{conn.ecdhCurve:04x}")
        hash_id, sig_id = conn.serverSigAlg
        scheme = hash_id << 8 | sig_id
        return TlsHandshake(group, TLS_SIGNATURE_SCHEMES.get(scheme, f"0x{scheme:04x}"))

    def _verify_chain(self, chain: Any, server_name: str) -> None:
        # A two-certificate path check by hand: cryptography's Web-PKI verifier refuses Ed25519.
        import datetime

        from cryptography import x509
        ders = [bytes(c.bytes) for c in chain.x509List]
        if not ders:
            raise TlsHandshakeFailed("tlslite: the server sent no certificate")
        leaf = x509.load_der_x509_certificate(ders[0])
        now = datetime.datetime.now(datetime.UTC)
        try:
            leaf.verify_directly_issued_by(self._root)
            names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        except Exception as exc:
            raise TlsHandshakeFailed(f"certificate verification failed: {_reason(exc)}") from None
        if server_name not in names.get_values_for_type(x509.DNSName):
            raise TlsHandshakeFailed(f"certificate verification failed: not issued for {server_name}")
        if not leaf.not_valid_before_utc <= now <= leaf.not_valid_after_utc:
            raise TlsHandshakeFailed("certificate verification failed: leaf outside its validity period")
