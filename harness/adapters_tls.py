"""The TLS capability protocols of the adapter contract (`harness.adapters`): a TLS stack that
serves and performs TLS 1.3 handshakes, certificate-authenticated or with an external PSK, over
sockets the suite provides. Suites reach a TLS vendor only through these."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

# --- TLS capability protocol ----------------------------------------------------------------
# A TLS stack serves and performs TLS 1.3 handshakes over sockets the suite provides, so that the
# suite (not the stack) owns the clock, the emulated network and the byte counting.

# Named groups (name → IANA codepoint): draft-ietf-tls-ecdhe-mlkem, draft-ietf-tls-mlkem, RFC 8446.
TLS_GROUPS: dict[str, int] = {
    "X25519": 0x001D,
    "P-256": 0x0017,
    "X25519MLKEM768": 0x11EC,
    "SecP256r1MLKEM768": 0x11EB,
    "SecP384r1MLKEM1024": 0x11ED,
    "MLKEM512": 0x0200,
    "MLKEM768": 0x0201,
    "MLKEM1024": 0x0202,
}
# Certificate key types a server chain can use (names from SIGNATURE_ALGORITHMS).
TLS_CERT_TYPES: tuple[str, ...] = ("ECDSA-P256", "Ed25519", "RSA-2048", "ML-DSA-44", "ML-DSA-65", "ML-DSA-87")
# Signature schemes (IANA codepoint → name; ML-DSA from draft-ietf-tls-mldsa).
TLS_SIGNATURE_SCHEMES: dict[int, str] = {
    0x0403: "ecdsa_secp256r1_sha256",
    0x0503: "ecdsa_secp384r1_sha384",
    0x0807: "ed25519",
    0x0804: "rsa_pss_rsae_sha256",
    0x0805: "rsa_pss_rsae_sha384",
    0x0806: "rsa_pss_rsae_sha512",
    0x0809: "rsa_pss_pss_sha256",
    0x0904: "mldsa44",
    0x0905: "mldsa65",
    0x0906: "mldsa87",
}


@dataclass(frozen=True)
class CertChain:
    """A server's certificate chain as PEM files (made per run by `harness.certs`)."""

    cert_type: str  # one of TLS_CERT_TYPES
    chain_pem: Path  # leaf then root: what the server sends
    key_pem: Path  # the leaf's private key, PKCS#8
    root_pem: Path  # the trust anchor clients verify against
    server_name: str = "localhost"


@dataclass(frozen=True)
class TlsHandshake:
    """What a client negotiated (canonical names: TLS_GROUPS keys, TLS_SIGNATURE_SCHEMES values)."""

    group: str
    signature_scheme: str


class TlsHandshakeFailed(Exception):
    """A handshake that did not complete; the message is the reason recorded in results."""


class TlsServer(Protocol):
    def failures(self) -> list[str]:
        """Reasons of the server-side handshakes that failed so far."""

    def close(self) -> None: ...


class TlsClient(Protocol):
    def handshake(self, sock: Any, server_name: str) -> TlsHandshake:
        """One TLS 1.3 handshake over a connected socket, using only its `sendall`/`send` and `recv`.

        Returns when the client has sent its Finished; raise TlsHandshakeFailed on any failure.
        """


class TlsStack(Protocol):
    """What an adapter with Capability.TLS13 offers."""

    def tls_groups(self) -> Sequence[str]:
        """The TLS_GROUPS this stack can negotiate here."""

    def tls_cert_types(self) -> Sequence[str]:
        """The TLS_CERT_TYPES this stack can serve and verify."""

    def tls_server(self, listener: Any, chain: CertChain, groups: Sequence[str]) -> TlsServer:
        """Serve TLS 1.3 handshakes on a listening socket in the background until `close()`.

        The server accepts exactly `groups` (in preference order). Raise NotApplicable for a group or
        certificate type the stack lacks.
        """

    def tls_client(self, trust_root: Path, groups: Sequence[str]) -> TlsClient:
        """A client offering `groups` in that order, with a key share for the first one only,
        verifying the server against `trust_root`. Raise NotApplicable for an unsupported group."""


# --- TLS 1.3 with an external PSK (RFC 8446 §4.2.11, psk_dhe_ke) --------------------------------
# A key delivered out of band (a QKD key: its ETSI 014 key_ID is the PSK identity) keys the
# handshake together with a fresh key share, so the session key holds if either secret holds.


@dataclass(frozen=True)
class ExternalPsk:
    """An external PSK for TLS 1.3 (SHA-256): the identity goes on the wire, the secret never printed."""

    identity: bytes
    secret: bytes = field(repr=False)


@dataclass(frozen=True)
class TlsSession:
    """One end's view of a completed TLS 1.3 handshake.

    `psk_identity` is the external PSK the handshake was keyed with (None: a certificate
    handshake, the key share alone); `exporter` is the RFC 8446 §7.5 exporter value under the
    label the stack was given, equal at both ends of one connection, never printed.
    """

    group: str
    psk_identity: bytes | None
    exporter: bytes = field(repr=False)


# The server's key lookup: PSK identity → secret, or None when it has no key under that identity.
PskLookup = Callable[[bytes], bytes | None]


class PskTlsServer(Protocol):
    def next_session(self, timeout_s: float) -> TlsSession:
        """The server's end of the next handshake, in accept order; TlsHandshakeFailed if it failed."""

    def close(self) -> None: ...


class PskTlsClient(Protocol):
    def handshake(self, sock: Any, server_name: str, psk: ExternalPsk | None) -> TlsSession:
        """One handshake over a connected socket: keyed by `psk` (psk_dhe_ke) or, with None, by the
        key share and the server's certificate. Raise TlsHandshakeFailed on any failure."""


class ExternalPskTls(Protocol):
    """What an adapter with Capability.TLS13_EXTERNAL_PSK offers (besides TlsStack)."""

    def psk_server(self, listener: Any, chain: CertChain, groups: Sequence[str], lookup: PskLookup,
                   exporter_label: bytes) -> PskTlsServer:
        """Serve handshakes in the background: a client's PSK identity is resolved through `lookup`
        when the ClientHello arrives; a client offering none gets a certificate handshake."""

    def psk_client(self, trust_root: Path, groups: Sequence[str], exporter_label: bytes) -> PskTlsClient: ...
