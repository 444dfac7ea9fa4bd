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
