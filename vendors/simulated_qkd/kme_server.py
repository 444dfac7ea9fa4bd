"""Serve both KMEs of one simulated link over HTTPS with mutual TLS (uvicorn + Starlette).

Uvicorn verifies the client certificate (CERT_REQUIRED against the test CA, TLS 1.2
at least) but does not hand it to the app, so `_TlsPeerH11Protocol` adds the ASGI
TLS extension (`scope["extensions"]["tls"]`: `client_cert_chain` with the verified
peer certificate in PEM, from which the app reads the SAE's identity; `client_cert_name`
as an RFC 4514 string for logs only; `tls_version`, `cipher_suite`) from the
connection's SSL object once the handshake is done.
Both KMEs run in one background thread with its own event loop; `stop()` asks uvicorn
to shut down gracefully (`Server.should_exit`) and waits for it.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import uvicorn
from cryptography import x509
from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount
from uvicorn.protocols.http.h11_impl import H11Protocol

from harness.etsi014_pki import TestPki
from vendors.simulated_qkd.keystore import End, LinkKeyStore
from vendors.simulated_qkd.kme_app import KmeApi, KmeLimits, LinkDirectory, make_kme_app

LOOPBACK = "127.0.0.1"
_TLS_VERSIONS = {"TLSv1.2": 0x0303, "TLSv1.3": 0x0304}


_CIPHER_IDS = {"TLS_AES_128_GCM_SHA256": 0x1301, "TLS_AES_256_GCM_SHA384": 0x1302,
               "TLS_CHACHA20_POLY1305_SHA256": 0x1303}


def _peer_tls(ssl_object: ssl.SSLObject) -> dict[str, Any]:
    der = ssl_object.getpeercert(binary_form=True)
    name = None
    if der:
        try:
            name = x509.load_der_x509_certificate(der).subject.rfc4514_string()
        except ValueError:
            name = None
    cipher = ssl_object.cipher()
    return {"client_cert_name": name, "client_cert_chain": [ssl.DER_cert_to_PEM_cert(der)] if der else [],
            "tls_version": _TLS_VERSIONS.get(ssl_object.version() or ""),
            "cipher_suite": _CIPHER_IDS.get(cipher[0]) if cipher else None, "server_cert": None,
            "client_cert_error": None}


class _TlsPeerH11Protocol(H11Protocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is None:
            return
        tls = _peer_tls(ssl_object)
        inner = self.app

        async def with_tls(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                scope = {**scope, "extensions": {**(scope.get("extensions") or {}), "tls": tls}}
            await inner(scope, receive, send)

        self.app = with_tls


def server_ssl_context(pki: TestPki, kme_id: str) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2  # ETSI GS QKD 014: TLS 1.2 or later
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(cafile=str(pki.ca_cert))
    ctx.load_cert_chain(str(pki.kmes[kme_id].cert), str(pki.kmes[kme_id].key))
    return ctx


@dataclass(frozen=True)
class KmeUrls:
    a: str
    b: str


class KmeServer:
    """Both ends of one link: KME A on `port`, KME B on `port + 1` (port 0: two free ports)."""

    def __init__(self, store: LinkKeyStore, pki: TestPki, directory: LinkDirectory,
                 unavailable: Callable[[], str | None] = lambda: None, limits: KmeLimits | None = None,
                 host: str = LOOPBACK, port: int = 0, log_level: str = "warning",
                 control: Sequence[BaseRoute] = ()) -> None:
        limits = limits or KmeLimits(key_size=store.key_size_bits)
        self._servers: dict[End, uvicorn.Server] = {}
        for i, end in enumerate((End.A, End.B)):
            kme_id = directory.kme_ids[end]
            app: Any = make_kme_app(KmeApi(end, directory, store, limits, unavailable))
            if control:  # the device's own routes beside the ETSI 014 app, which keeps every other path
                app = Starlette(routes=[*control, Mount("/", app=app)])
            config = uvicorn.Config(
                app, host=host, port=port + i if port else 0, http=_TlsPeerH11Protocol, lifespan="off",
                log_level=log_level, access_log=False, timeout_graceful_shutdown=1,
                ssl_context_factory=lambda _cfg, _default, k=kme_id: server_ssl_context(pki, k),
                ssl_certfile=str(pki.kmes[kme_id].cert))
            self._servers[end] = uvicorn.Server(config)
        self.host = host
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def start(self, timeout_s: float = 10.0) -> KmeUrls:
        self._thread = threading.Thread(target=self._run, name="kme-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._error or not self._thread.is_alive() or all(s.started for s in self._servers.values()):
                break
            time.sleep(0.02)
        if not all(s.started for s in self._servers.values()):
            self.stop()
            raise RuntimeError(f"KME server did not start within {timeout_s} s: {self._error!r}")
        return self.urls

    @property
    def urls(self) -> KmeUrls:
        ports = {end: s.servers[0].sockets[0].getsockname()[1] for end, s in self._servers.items()}
        return KmeUrls(f"https://{self.host}:{ports[End.A]}", f"https://{self.host}:{ports[End.B]}")

    def _run(self) -> None:
        async def serve_both() -> None:
            await asyncio.gather(*(s.serve() for s in self._servers.values()))
        try:
            asyncio.run(serve_both())
        except BaseException as exc:  # reported by start(); the thread must not die silently
            self._error = exc
            logging.getLogger(__name__).error("KME server stopped: %s", type(exc).__name__)

    def stop(self, timeout_s: float = 10.0) -> None:
        for server in self._servers.values():
            server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout_s)

    def __enter__(self) -> KmeServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
