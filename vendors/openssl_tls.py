"""TLS 1.3 through pyOpenSSL on the OpenSSL bundled with `cryptography` (OpenSSL 4).

Groups go through `SSL_CTX_set1_groups_list` (the binding names it `SSL_CTX_set1_curves_list`), the
negotiated group comes back from `SSL_get0_group_name`. pyOpenSSL refuses ML-DSA key objects, so
certificates and keys are loaded from PEM files by OpenSSL's own loaders. The signature scheme the
server used is read from its CertificateVerify through OpenSSL's message callback (pyOpenSSL has no
accessor for it). The client runs on memory BIOs so that it talks through whatever socket-like
object the suite hands it (the suite counts bytes and flights there).

External PSKs (TLS 1.3, psk_dhe_ke), as far as this binding reaches: pyOpenSSL 26 has no PSK API,
and the binding under it has the TLS 1.3 callbacks `SSL_CTX_set_psk_use_session_callback` and
`SSL_CTX_set_psk_find_session_callback` but not `SSL_SESSION_new`, so the SSL_SESSION those
callbacks must return could only be forged through `d2i_SSL_SESSION` from OpenSSL's private ASN.1
session encoding. What works instead are the TLS 1.2-style `SSL_CTX_set_psk_client_callback` /
`SSL_CTX_set_psk_server_callback`, which OpenSSL maps onto TLS 1.3 external PSKs: SHA-256 only
(the suite is then TLS_AES_128_GCM_SHA256), identity a NUL-terminated string, the server looks
the identity up while it reads the ClientHello. The client offers psk_dhe_ke alone (OpenSSL's
default without SSL_OP_ALLOW_NO_DHE_KEX), so a PSK handshake always carries a fresh key share.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

from harness.adapters import Adapter, Availability, Capability, Kind, NotApplicable
from harness.adapters_tls import (
    TLS_CERT_TYPES,
    TLS_GROUPS,
    TLS_SIGNATURE_SCHEMES,
    CertChain,
    ExternalPsk,
    PskLookup,
    TlsHandshake,
    TlsHandshakeFailed,
    TlsSession,
)
from vendors._tls_server import PskServerBase, TlsServerBase, blocking

_HANDSHAKE, _CERTIFICATE_VERIFY = 22, 15
# What SSL_get0_group_name returns (lower-cased) → canonical name.
_OPENSSL_GROUP_NAMES = {"x25519": "X25519", "secp256r1": "P-256", "prime256v1": "P-256", "p-256": "P-256",
                        **{name.lower(): name for name in TLS_GROUPS}}


def _ssl():
    from OpenSSL import SSL
    from OpenSSL._util import ffi, lib
    return SSL, ffi, lib


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:300]


def _context(groups: Sequence[str]):
    SSL, _, lib = _ssl()
    ctx = SSL.Context(SSL.TLS_METHOD)
    ctx.set_min_proto_version(SSL.TLS1_3_VERSION)
    unknown = [g for g in groups if g not in TLS_GROUPS]
    if unknown or not groups:
        raise NotApplicable(f"openssl-tls: unknown TLS groups {unknown}; known: {list(TLS_GROUPS)}")
    if lib.SSL_CTX_set1_curves_list(ctx._context, ":".join(groups).encode()) != 1:
        raise NotApplicable(f"OpenSSL here does not accept the group list {':'.join(groups)}")
    return ctx


@cache
def _supported_groups() -> tuple[str, ...]:
    found = []
    for group in TLS_GROUPS:
        with contextlib.suppress(NotApplicable):
            _context([group])
            found.append(group)
    return tuple(found)


class OpenSSLTlsAdapter(Adapter):
    name: ClassVar[str] = "openssl-tls"
    kind: ClassVar[Kind] = Kind.TLS
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.TLS13,
                                                               Capability.TLS13_EXTERNAL_PSK})

    @classmethod
    def availability(cls) -> Availability:
        try:
            _, _, lib = _ssl()
        except ImportError as exc:
            return Availability(False, f"pyOpenSSL not importable ({exc}); pip install pyopenssl")
        missing = [f for f in ("SSL_CTX_set1_curves_list", "SSL_get0_group_name", "SSL_CTX_set_msg_callback",
                               "SSL_CTX_set_psk_client_callback", "SSL_CTX_set_psk_server_callback")
                   if not hasattr(lib, f)]
        if missing:
            return Availability(False, f"the cryptography bindings lack {', '.join(missing)}; "
                                       "upgrade cryptography")
        return Availability(True)

    @classmethod
    def version(cls) -> str:
        import OpenSSL
        SSL, _, _ = _ssl()
        return f"{SSL.OpenSSL_version(SSL.OPENSSL_VERSION).decode()} (pyOpenSSL {OpenSSL.__version__})"

    def tls_groups(self) -> Sequence[str]:
        return _supported_groups()

    def tls_cert_types(self) -> Sequence[str]:
        return TLS_CERT_TYPES

    def tls_server(self, listener: socket.socket, chain: CertChain, groups: Sequence[str]) -> _Server:
        return _Server(_server_context(chain, groups), listener)

    def tls_client(self, trust_root: Path, groups: Sequence[str]) -> _Client:
        return _Client(_context(groups), trust_root)

    def psk_server(self, listener: socket.socket, chain: CertChain, groups: Sequence[str],
                   lookup: PskLookup, exporter_label: bytes) -> _PskServer:
        ctx = _server_context(chain, groups)
        # OpenSSL settles the cipher suite before it looks at the PSK and then skips a PSK whose hash
        # differs; the callback PSK is SHA-256, so this server offers only the SHA-256 suites.
        if _ssl()[2].SSL_CTX_set_ciphersuites(ctx._context, _SHA256_SUITES) != 1:
            raise NotApplicable(f"OpenSSL here refuses the TLS 1.3 suites {_SHA256_SUITES.decode()}")
        return _PskServer(ctx, listener, lookup, exporter_label)

    def psk_client(self, trust_root: Path, groups: Sequence[str], exporter_label: bytes) -> _PskClient:
        return _PskClient(_context(groups), trust_root, exporter_label)


def _server_context(chain: CertChain, groups: Sequence[str]):
    ctx = _context(groups)
    try:
        ctx.use_certificate_chain_file(str(chain.chain_pem))
        ctx.use_privatekey_file(str(chain.key_pem))
        ctx.check_privatekey()
    except Exception as exc:
        raise NotApplicable(f"OpenSSL cannot load the {chain.cert_type} chain: {_reason(exc)}") from exc
    return ctx


def _group(conn: Any) -> str:
    _, ffi, lib = _ssl()
    raw = ffi.string(lib.SSL_get0_group_name(conn._ssl)).decode()
    return _OPENSSL_GROUP_NAMES.get(raw.lower(), raw)


def _ssl_key(ssl: Any) -> int:
    _, ffi, _ = _ssl()
    return int(ffi.cast("uintptr_t", ssl))


def _accepting(ctx: Any, sock: socket.socket) -> Any:
    """A server-side connection on an accepted socket, before its handshake."""
    SSL, _, _ = _ssl()
    blocking(sock)
    conn = SSL.Connection(ctx, sock)
    conn.set_accept_state()
    return conn


class _Server(TlsServerBase):
    def __init__(self, ctx: Any, listener: socket.socket) -> None:
        self._ctx = ctx
        super().__init__(listener, "openssl-tls-server")

    def _handshake(self, sock: socket.socket, _address: tuple) -> None:
        conn = _accepting(self._ctx, sock)
        try:
            conn.do_handshake()
        except Exception as exc:
            self._failures.append(_reason(exc))
        finally:
            sock.close()


class _Client:
    def __init__(self, ctx: Any, trust_root: Path) -> None:
        SSL, ffi, lib = _ssl()
        ctx.load_verify_locations(str(trust_root))
        ctx.set_verify(SSL.VERIFY_PEER)
        self._ctx = ctx
        self._schemes: dict[int, int] = {}  # SSL* → signature scheme codepoint

        def on_message(write_p, version, content_type, buf, length, ssl, arg):  # OpenSSL's msg callback
            if content_type == _HANDSHAKE and not write_p and length >= 6:
                head = ffi.buffer(buf, 6)[:]
                if head[0] == _CERTIFICATE_VERIFY:
                    self._schemes[int(ffi.cast("uintptr_t", ssl))] = int.from_bytes(head[4:6], "big")

        self._callback = ffi.callback("void(int, int, int, const void *, size_t, SSL *, void *)", on_message)
        lib.SSL_CTX_set_msg_callback(ctx._context, self._callback)

    def handshake(self, sock: Any, server_name: str) -> TlsHandshake:
        conn = self._connect(sock, server_name)
        scheme = self._schemes.pop(_ssl_key(conn._ssl), None)
        return TlsHandshake(
            group=_group(conn),
            signature_scheme=TLS_SIGNATURE_SCHEMES.get(scheme, f"0x{scheme:04x}") if scheme else "?",
        )

    def _connect(self, sock: Any, server_name: str, before: Any = None) -> Any:
        """Drive a client handshake over `sock`; `before(conn)` runs once the SSL object exists."""
        SSL, _, lib = _ssl()
        conn = SSL.Connection(self._ctx, None)
        conn.set_connect_state()
        conn.set_tlsext_host_name(server_name.encode())
        param = lib.SSL_get0_param(conn._ssl)
        lib.X509_VERIFY_PARAM_set1_host(param, server_name.encode(), len(server_name))
        if before is not None:
            before(conn)
        try:
            while True:
                try:
                    conn.do_handshake()
                    done = True
                except SSL.WantReadError:
                    done = False
                self._flush(conn, sock)
                if done:
                    return conn
                data = sock.recv(65536)
                if not data:
                    raise TlsHandshakeFailed("server closed the connection mid-handshake")
                conn.bio_write(data)
        except SSL.Error as exc:
            raise TlsHandshakeFailed(f"OpenSSL: {_reason(exc)}") from None
        except OSError as exc:
            raise TlsHandshakeFailed(f"socket: {_reason(exc)}") from None

    @staticmethod
    def _flush(conn: Any, sock: Any) -> None:
        SSL, _, _ = _ssl()
        while True:
            try:
                data = conn.bio_read(65536)
            except SSL.WantReadError:
                return
            sock.sendall(data)


# TLS 1.2-style PSK callbacks (see the module docstring for why not the TLS 1.3 session ones).
_CLIENT_PSK_CB = "unsigned int(SSL *, const char *, char *, unsigned int, unsigned char *, unsigned int)"
_SERVER_PSK_CB = "unsigned int(SSL *, const char *, unsigned char *, unsigned int)"
_EXPORTER_BYTES = 32
_SHA256_SUITES = b"TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256"


class _PskClient:
    def __init__(self, ctx: Any, trust_root: Path, exporter_label: bytes) -> None:
        self._certs = _Client(ctx, trust_root)  # the certificate path: verification, the handshake loop
        _, ffi, lib = _ssl()
        self._label = exporter_label
        self._offer: dict[int, ExternalPsk] = {}  # SSL* → the PSK this connection offers

        def client_psk(ssl, _hint, identity, max_identity_len, psk, max_psk_len):
            offer = self._offer.get(_ssl_key(ssl))
            # 0 offers no PSK: the handshake is then a certificate one.
            if offer is None or len(offer.identity) >= max_identity_len or len(offer.secret) > max_psk_len:
                return 0
            ffi.memmove(identity, offer.identity + b"\0", len(offer.identity) + 1)
            ffi.memmove(psk, offer.secret, len(offer.secret))
            return len(offer.secret)

        self._psk_callback = ffi.callback(_CLIENT_PSK_CB, client_psk, onerror=lambda *_: 0)
        lib.SSL_CTX_set_psk_client_callback(ctx._context, self._psk_callback)

    def handshake(self, sock: Any, server_name: str, psk: ExternalPsk | None) -> TlsSession:
        _, _, lib = _ssl()
        if psk is not None and b"\0" in psk.identity:
            raise TlsHandshakeFailed("OpenSSL takes a PSK identity as a C string: it cannot hold NUL bytes")
        keys: list[int] = []

        def offer(conn: Any) -> None:
            keys.append(_ssl_key(conn._ssl))
            if psk is not None:
                self._offer[keys[0]] = psk

        try:
            conn = self._certs._connect(sock, server_name, offer)
        finally:
            for k in keys:
                self._offer.pop(k, None)
                self._certs._schemes.pop(k, None)
        # SSL_session_reused is 1 exactly when the server accepted the offered PSK.
        used = psk is not None and lib.SSL_session_reused(conn._ssl) == 1
        return TlsSession(_group(conn), psk.identity if used else None,
                          conn.export_keying_material(self._label, _EXPORTER_BYTES))


class _PskServer(PskServerBase):
    def __init__(self, ctx: Any, listener: socket.socket, lookup: PskLookup, exporter_label: bytes) -> None:
        _, ffi, lib = _ssl()
        self._ctx, self._label = ctx, exporter_label
        self._found: dict[int, bytes] = {}  # SSL* → the identity its PSK was found under
        self._lookup_failures: dict[int, str] = {}

        def server_psk(ssl, identity, psk, max_psk_len):
            name = ffi.string(identity)
            try:
                secret = lookup(name)
            except Exception as exc:  # the reason reaches the suite; a key never does (lookups raise none)
                self._lookup_failures[_ssl_key(ssl)] = f"PSK lookup failed: {_reason(exc)}"
                return 0
            if secret is None or len(secret) > max_psk_len:
                return 0
            ffi.memmove(psk, secret, len(secret))
            self._found[_ssl_key(ssl)] = name
            return len(secret)

        self._psk_callback = ffi.callback(_SERVER_PSK_CB, server_psk, onerror=lambda *_: 0)
        lib.SSL_CTX_set_psk_server_callback(ctx._context, self._psk_callback)
        super().__init__(listener, "openssl-tls-psk-server")

    def _handshake(self, sock: socket.socket, _address: tuple) -> None:
        _, _, lib = _ssl()
        conn = _accepting(self._ctx, sock)
        key = _ssl_key(conn._ssl)
        try:
            conn.do_handshake()
            found = self._found.get(key)
            used = found if found is not None and lib.SSL_session_reused(conn._ssl) == 1 else None
            self._finished(TlsSession(_group(conn), used,
                                      conn.export_keying_material(self._label, _EXPORTER_BYTES)))
        except Exception as exc:
            self._finished(self._lookup_failures.get(key) or _reason(exc))
        finally:
            self._found.pop(key, None)
            self._lookup_failures.pop(key, None)
            sock.close()
