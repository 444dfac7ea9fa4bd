"""TLS 1.3 through pyOpenSSL on the OpenSSL bundled with `cryptography` (OpenSSL 4).

Groups go through `SSL_CTX_set1_groups_list` (the binding names it `SSL_CTX_set1_curves_list`), the
negotiated group comes back from `SSL_get0_group_name`. pyOpenSSL refuses ML-DSA key objects, so
certificates and keys are loaded from PEM files by OpenSSL's own loaders. The signature scheme the
server used is read from its CertificateVerify through OpenSSL's message callback (pyOpenSSL has no
accessor for it). The client runs on memory BIOs so that it talks through whatever socket-like
object the suite hands it (the suite counts bytes and flights there).
"""

from __future__ import annotations

import contextlib
import socket
import struct
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

from harness.adapters import (
    TLS_CERT_TYPES,
    TLS_GROUPS,
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

_HANDSHAKE, _CERTIFICATE_VERIFY = 22, 15
_SERVER_IO_TIMEOUT_S = 30
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
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.TLS13})

    @classmethod
    def availability(cls) -> Availability:
        try:
            _, _, lib = _ssl()
        except ImportError as exc:
            return Availability(False, f"pyOpenSSL not importable ({exc}); pip install pyopenssl")
        missing = [f for f in ("SSL_CTX_set1_curves_list", "SSL_get0_group_name", "SSL_CTX_set_msg_callback")
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
        ctx = _context(groups)
        try:
            ctx.use_certificate_chain_file(str(chain.chain_pem))
            ctx.use_privatekey_file(str(chain.key_pem))
            ctx.check_privatekey()
        except Exception as exc:
            raise NotApplicable(f"OpenSSL cannot load the {chain.cert_type} chain: {_reason(exc)}") from exc
        return _Server(ctx, listener)

    def tls_client(self, trust_root: Path, groups: Sequence[str]) -> _Client:
        return _Client(_context(groups), trust_root)


class _Server(TlsServerBase):
    def __init__(self, ctx: Any, listener: socket.socket) -> None:
        self._ctx = ctx
        super().__init__(listener, "openssl-tls-server")

    def _handshake(self, sock: socket.socket, _address: tuple) -> None:
        SSL, _, _ = _ssl()
        # OpenSSL needs a blocking descriptor (a Python timeout makes it non-blocking), so a stalled
        # client is bounded by the kernel's receive timeout instead.
        sock.settimeout(None)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", _SERVER_IO_TIMEOUT_S, 0))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = SSL.Connection(self._ctx, sock)
        conn.set_accept_state()
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
        SSL, ffi, lib = _ssl()
        conn = SSL.Connection(self._ctx, None)
        conn.set_connect_state()
        conn.set_tlsext_host_name(server_name.encode())
        param = lib.SSL_get0_param(conn._ssl)
        lib.X509_VERIFY_PARAM_set1_host(param, server_name.encode(), len(server_name))
        try:
            while True:
                try:
                    conn.do_handshake()
                    done = True
                except SSL.WantReadError:
                    done = False
                self._flush(conn, sock)
                if done:
                    break
                data = sock.recv(65536)
                if not data:
                    raise TlsHandshakeFailed("server closed the connection mid-handshake")
                conn.bio_write(data)
        except SSL.Error as exc:
            raise TlsHandshakeFailed(f"OpenSSL: {_reason(exc)}") from None
        except OSError as exc:
            raise TlsHandshakeFailed(f"socket: {_reason(exc)}") from None
        key = int(ffi.cast("uintptr_t", conn._ssl))
        raw_group = ffi.string(lib.SSL_get0_group_name(conn._ssl)).decode()
        scheme = self._schemes.pop(key, None)
        return TlsHandshake(
            group=_OPENSSL_GROUP_NAMES.get(raw_group.lower(), raw_group),
            signature_scheme=TLS_SIGNATURE_SCHEMES.get(scheme, f"0x{scheme:04x}") if scheme else "?",
        )

    @staticmethod
    def _flush(conn: Any, sock: Any) -> None:
        SSL, _, _ = _ssl()
        while True:
            try:
                data = conn.bio_read(65536)
            except SSL.WantReadError:
                return
            sock.sendall(data)
