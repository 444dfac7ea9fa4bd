"""The contract between the engine, the suites and the vendor adapters.

An adapter wraps one device or library. It declares its `kind` and its
capabilities; suites declare which capabilities they need, and the engine
turns a mismatch into an `n/a` verdict instead of a crash. The capability
protocols below are the only way suites reach a vendor.

Adapters are found through the `qsbench.vendors` entry-point group
(`harness.registry`); the built-in ones register there like any plugin.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable


class Capability(StrEnum):
    KEM = "kem"
    SIGNATURE = "signature"
    TLS13 = "tls13"
    KEY_DELIVERY = "key_delivery"
    TELEMETRY = "telemetry"
    CHANNEL_CONTROL = "channel_control"
    FAULT_INJECTION = "fault_injection"


class Kind(StrEnum):
    PQC = "pqc"
    QKD = "qkd"
    TLS = "tls"


@dataclass(frozen=True)
class Availability:
    """Whether an adapter can run here; `reason` says why not and how to fix it."""

    available: bool
    reason: str = ""


class NotApplicable(Exception):
    """Raised by an adapter or a suite when a case cannot apply (e.g. an algorithm the library lacks).

    The runner records the case as `n/a` with this message as the reason.
    """


class Adapter(ABC):
    """Base class of every vendor adapter.

    `availability()` and `version()` are class methods so that `qsbench vendors`
    and the planner can ask without constructing (or importing) the wrapped
    library; they must be cheap and must never start downloads or builds.
    """

    name: ClassVar[str]
    kind: ClassVar[Kind]
    capabilities: ClassVar[frozenset[Capability]]

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        self.options: Mapping[str, Any] = dict(options or {})

    @classmethod
    @abstractmethod
    def availability(cls) -> Availability: ...

    @classmethod
    @abstractmethod
    def version(cls) -> str:
        """Version of the wrapped library or device firmware ("" when unavailable)."""

    def close(self) -> None:  # noqa: B027 - optional hook, most adapters hold nothing
        """Release sockets, processes or handles. Called once per case."""


# --- PQC capability protocols -------------------------------------------------------------
# Keys are opaque handles owned by the adapter so that timing measures the library's
# operation, not serialisation; `*_bytes`/`load_*` cross the boundary for interop.


@runtime_checkable
class Kem(Protocol):
    algorithm: str

    def keygen(self) -> tuple[Any, Any]:
        """Return (public_key_handle, secret_key_handle)."""

    def encaps(self, public_key: Any) -> tuple[bytes, bytes]:
        """Return (ciphertext, shared_secret)."""

    def decaps(self, secret_key: Any, ciphertext: bytes) -> bytes:
        """Return the shared secret."""

    def public_key_bytes(self, public_key: Any) -> bytes: ...

    def secret_key_bytes(self, secret_key: Any) -> bytes:
        """The library's own secret-key encoding (its length is reported, never its content)."""

    def load_public_key(self, data: bytes) -> Any: ...


@runtime_checkable
class Signer(Protocol):
    algorithm: str

    def keygen(self) -> tuple[Any, Any]:
        """Return (public_key_handle, secret_key_handle)."""

    def sign(self, secret_key: Any, message: bytes) -> bytes: ...

    def verify(self, public_key: Any, message: bytes, signature: bytes) -> bool:
        """True for a valid signature, False otherwise; never raises for a bad signature."""

    def public_key_bytes(self, public_key: Any) -> bytes: ...

    def secret_key_bytes(self, secret_key: Any) -> bytes: ...

    def load_public_key(self, data: bytes) -> Any: ...


# Optional methods for conformance checks (suite pqc_conformance). A Kem or Signer offers them
# when its library can; the suite tests with isinstance() and records `n/a` with the reason otherwise.


@runtime_checkable
class KemFromSeed(Protocol):
    def keygen_from_seed(self, seed: bytes) -> tuple[Any, Any]:
        """FIPS 203 ML-KEM.KeyGen_internal(d, z) with seed = d ‖ z (64 bytes); raise ValueError otherwise."""


@runtime_checkable
class KemExpandedSecretKey(Protocol):
    def load_secret_key(self, data: bytes) -> Any:
        """A secret-key handle from a FIPS 203 expanded decapsulation key dk; ValueError if malformed."""


@runtime_checkable
class SignerFromSeed(Protocol):
    def keygen_from_seed(self, seed: bytes) -> tuple[Any, Any]:
        """FIPS 204 ML-DSA.KeyGen_internal(ξ) with the 32-byte seed ξ; raise ValueError otherwise."""


class KemProvider(Protocol):
    """What an adapter with Capability.KEM offers."""

    def kem_algorithms(self) -> Sequence[str]: ...

    def kem(self, algorithm: str) -> Kem:
        """Raise NotApplicable for an algorithm the library does not support."""


class SignatureProvider(Protocol):
    """What an adapter with Capability.SIGNATURE offers."""

    def signature_algorithms(self) -> Sequence[str]: ...

    def signer(self, algorithm: str) -> Signer:
        """Raise NotApplicable for an algorithm the library does not support."""


# Canonical algorithm names shared by every adapter, so suites compare like with like.
KEM_ALGORITHMS: tuple[str, ...] = ("ML-KEM-512", "ML-KEM-768", "ML-KEM-1024", "X25519", "ECDH-P256")
SIGNATURE_ALGORITHMS: tuple[str, ...] = (
    "ML-DSA-44",
    "ML-DSA-65",
    "ML-DSA-87",
    "SLH-DSA-SHA2-128s",
    "SLH-DSA-SHA2-128f",
    # SPHINCS+ round 3.1 (what PQClean ships) is not FIPS 205 SLH-DSA: its signatures do not verify
    # under SLH-DSA, so it keeps its own name rather than borrowing the standard's.
    "SPHINCS+-SHA2-128s-simple",
    "SPHINCS+-SHA2-128f-simple",
    "Falcon-512",
    "Ed25519",
    "ECDSA-P256",
    "RSA-2048",
)


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
