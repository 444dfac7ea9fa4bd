"""TLS 1.3 through tlslite-ng: a pure-Python stack sharing no code with OpenSSL.

Its hybrid ML-KEM groups exist only when `kyber-py` is installed; it has no pure ML-KEM groups
and no ML-DSA certificates. A tlslite server offers key shares only for the groups it enables,
so the server's `keyShares` are set to exactly its groups. tlslite does not validate X.509
paths; the client instead checks that the chain the server sent ends in the trust anchor it was
given and that the leaf is signed by it (with `cryptography`), which is what a path check of a
two-certificate chain amounts to.

External PSKs (TLS 1.3, psk_dhe_ke) are built in (`HandshakeSettings.pskConfigs`, with the hybrid
groups), but a tlslite server has no lookup callback: its PSKs must all be in its settings before
the handshake starts, and a QKD key exists at the server's end only once the server has asked its
KME for it by the ID the client sent. So the server here peeks at the ClientHello (MSG_PEEK: the
bytes stay in the socket for tlslite), reads the offered identities with tlslite's own parser,
asks the lookup for each, and starts tlslite with the first key found. PSK modes are psk_dhe_ke
only, never psk_ke, so a PSK handshake always carries a fresh key share; PSKs are SHA-256.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

from harness.adapters import Adapter, Availability, Capability, Kind, NotApplicable
from harness.adapters_tls import (
    TLS_SIGNATURE_SCHEMES,
    CertChain,
    ExternalPsk,
    PskLookup,
    TlsHandshake,
    TlsHandshakeFailed,
    TlsSession,
)
from vendors._tls_server import SERVER_IO_TIMEOUT_S, PskServerBase, TlsServerBase, blocking

_CLASSICAL = {"X25519": "x25519", "P-256": "secp256r1"}
_HYBRID = {"X25519MLKEM768": "x25519mlkem768", "SecP256r1MLKEM768": "secp256r1mlkem768",
           "SecP384r1MLKEM1024": "secp384r1mlkem1024"}
_CERT_TYPES = ("ECDSA-P256", "Ed25519", "RSA-2048")
_EXPORTER_BYTES = 32
_RECORD_HEADER, _HANDSHAKE, _CLIENT_HELLO, _SERVER_HELLO = 5, 22, 1, 2


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
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.TLS13,
                                                               Capability.TLS13_EXTERNAL_PSK})

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
        return _Server(listener, *_credentials(chain), _settings(groups, groups))

    def tls_client(self, trust_root: Path, groups: Sequence[str]) -> _Client:
        return _Client(_settings(groups, groups[:1]), trust_root)

    def psk_server(self, listener: socket.socket, chain: CertChain, groups: Sequence[str],
                   lookup: PskLookup, exporter_label: bytes) -> _PskServer:
        settings = _settings(groups, groups)
        settings.psk_modes = ["psk_dhe_ke"]
        return _PskServer(listener, *_credentials(chain), settings, lookup, exporter_label)

    def psk_client(self, trust_root: Path, groups: Sequence[str], exporter_label: bytes) -> _PskClient:
        return _PskClient(_Client(_settings(groups, groups[:1]), trust_root), exporter_label)


def _credentials(chain: CertChain) -> tuple[Any, Any]:
    if chain.cert_type not in _CERT_TYPES:
        raise NotApplicable(f"tlslite-ng cannot serve {chain.cert_type} certificates")
    from tlslite import X509CertChain, parsePEMKey
    certs = X509CertChain()
    certs.parsePemList(chain.chain_pem.read_text())
    return certs, parsePEMKey(chain.key_pem.read_text(), private=True, implementations=["python"])


def _group_name(curve: int) -> str:
    from tlslite.constants import GroupName
    names = {v: k for k, v in _groups().items()}
    return names.get(GroupName.toRepr(curve), f"0x{curve:04x}")


class _Server(TlsServerBase):
    def __init__(self, listener: socket.socket, certs: Any, key: Any, settings: Any) -> None:
        self._certs, self._key, self._settings = certs, key, settings
        super().__init__(listener, "tlslite-server")

    def _handshake(self, sock: socket.socket, _address: tuple) -> None:
        from tlslite import TLSConnection
        blocking(sock)
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
        hash_id, sig_id = conn.serverSigAlg
        scheme = hash_id << 8 | sig_id
        return TlsHandshake(_group_name(conn.ecdhCurve), TLS_SIGNATURE_SCHEMES.get(scheme, f"0x{scheme:04x}"))

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


class _PskClient:
    def __init__(self, certs: _Client, exporter_label: bytes) -> None:
        self._certs, self._label = certs, exporter_label  # _certs: settings and the chain check

    def handshake(self, sock: Any, server_name: str, psk: ExternalPsk | None) -> TlsSession:
        from tlslite import TLSConnection
        from tlslite.errors import TLSError
        settings = self._certs._settings
        if psk is not None:
            settings = settings.validate()  # a copy: the client's own settings stay PSK-free
            settings.pskConfigs = [(bytearray(psk.identity), bytearray(psk.secret), "sha256")]
            settings.psk_modes = ["psk_dhe_ke"]
        conn = TLSConnection(sock)
        try:
            conn.handshakeClientCert(settings=settings, serverName=server_name)
            exporter = bytes(conn.keyingMaterialExporter(bytearray(self._label), _EXPORTER_BYTES))
        except (TLSError, OSError, ValueError) as exc:
            raise TlsHandshakeFailed(f"tlslite: {_reason(exc)}") from None
        # tlslite's client sets `resumed` for tickets only, not for external PSKs. A TLS 1.3 server
        # sends a Certificate exactly when it does not authenticate by PSK (RFC 8446 §4.4.2), so a
        # completed handshake without a server chain is the PSK one; any chain is checked as usual.
        keyed = psk is not None and conn.session.serverCertChain is None
        if not keyed:
            self._certs._verify_chain(conn.session.serverCertChain, server_name)
        return TlsSession(_group_name(conn.ecdhCurve), psk.identity if keyed else None, exporter)


def _offered_identities(sock: socket.socket, timeout_s: float) -> list[bytes]:
    """The PSK identities of the ClientHello waiting in `sock`, read without consuming a byte."""
    from tlslite.constants import ExtensionType
    from tlslite.messages import ClientHello
    from tlslite.utils.codec import Parser
    need, deadline = _RECORD_HEADER, time.monotonic() + timeout_s
    while True:
        data = sock.recv(need, socket.MSG_PEEK)
        if not data or data[0] != _HANDSHAKE:
            return []  # closed, or not a handshake record: tlslite will say what is wrong
        if len(data) >= _RECORD_HEADER:
            need = _RECORD_HEADER + int.from_bytes(data[3:5], "big")
        if len(data) >= need > _RECORD_HEADER:
            break
        if time.monotonic() > deadline:
            return []
        time.sleep(0.001)
    body = data[_RECORD_HEADER:need]
    if not body or body[0] != _CLIENT_HELLO:
        return []
    try:
        hello = ClientHello().parse(Parser(bytearray(body[1:])))
    except (SyntaxError, ValueError, IndexError):  # a ClientHello spread over records, or malformed
        return []
    offered = hello.getExtension(ExtensionType.pre_shared_key)
    return [bytes(i.identity) for i in offered.identities] if offered else []


class _Outgoing:
    """The socket tlslite's server writes through, keeping the first record it sends (the ServerHello)."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock, self._first = sock, bytearray()

    def send(self, data: bytes) -> int:
        sent = self._sock.send(data)
        self._keep(data[:sent])
        return sent

    def sendall(self, data: bytes) -> None:
        self._sock.sendall(data)
        self._keep(data)

    def _keep(self, data: bytes) -> None:
        if len(self._first) < _RECORD_HEADER + 2**14:
            self._first += data[: _RECORD_HEADER + 2**14 - len(self._first)]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)

    def psk_selected(self) -> bool:
        from tlslite.constants import ExtensionType
        from tlslite.messages import ServerHello
        from tlslite.utils.codec import Parser
        head = self._first
        if len(head) < _RECORD_HEADER + 1 or head[0] != _HANDSHAKE or head[_RECORD_HEADER] != _SERVER_HELLO:
            return False
        end = _RECORD_HEADER + int.from_bytes(head[3:5], "big")
        hello = ServerHello().parse(Parser(bytearray(head[_RECORD_HEADER + 1:end])))
        return hello.getExtension(ExtensionType.pre_shared_key) is not None


class _PskServer(PskServerBase):
    def __init__(self, listener: socket.socket, certs: Any, key: Any, settings: Any, lookup: PskLookup,
                 exporter_label: bytes) -> None:
        self._certs, self._key, self._settings = certs, key, settings
        self._lookup, self._label = lookup, exporter_label
        super().__init__(listener, "tlslite-psk-server")

    def _handshake(self, sock: socket.socket, _address: tuple) -> None:
        from tlslite import TLSConnection
        blocking(sock)
        try:
            settings, found = self._settings, None
            for identity in _offered_identities(sock, SERVER_IO_TIMEOUT_S):
                secret = self._lookup(identity)
                if secret is not None:
                    settings = settings.validate()  # a copy holding this one key
                    settings.pskConfigs = [(bytearray(identity), bytearray(secret), "sha256")]
                    found = identity
                    break
            # tlslite's server keeps no flag for "a PSK was selected" (`resumed` is for tickets);
            # the ServerHello it sent (plaintext) names the selected PSK, so read it there.
            wire = _Outgoing(sock)
            conn = TLSConnection(wire)
            conn.handshakeServer(certChain=self._certs, privateKey=self._key, settings=settings)
            self._finished(TlsSession(_group_name(conn.ecdhCurve), found if wire.psk_selected() else None,
                                      bytes(conn.keyingMaterialExporter(bytearray(self._label),
                                                                        _EXPORTER_BYTES))))
        except Exception as exc:
            self._finished(_reason(exc))
        finally:
            sock.close()
