"""The contract between the engine, the suites and the vendor adapters.

An adapter wraps one device or library. It declares its `kind` and its
capabilities; suites declare which capabilities they need, and the engine
turns a mismatch into an `n/a` verdict instead of a crash. The capability
protocols below (and the TLS ones in `harness.adapters_tls`) are the only way
suites reach a vendor.

Adapters are found through the `qsbench.vendors` entry-point group
(`harness.registry`); the built-in ones register there like any plugin.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, Protocol, runtime_checkable


class Capability(StrEnum):
    KEM = "kem"
    SIGNATURE = "signature"
    TLS13 = "tls13"
    TLS13_EXTERNAL_PSK = "tls13_external_psk"  # TLS 1.3 handshakes keyed by an external PSK (psk_dhe_ke)
    KEY_DELIVERY = "key_delivery"
    TELEMETRY = "telemetry"
    CHANNEL_CONTROL = "channel_control"
    FAULT_INJECTION = "fault_injection"
    ETSI014 = "etsi014"  # the raw ETSI GS QKD 014 endpoints, for conformance testing


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
    # The scenario options this adapter reads. Any other name is refused when the scenario is
    # validated: a misspelt `profil: lim-2014` would otherwise run the default device, silently.
    options_accepted: ClassVar[frozenset[str]] = frozenset()

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


# What `secret_key_bytes` exports, as a short label ("seed", "full key", "raw", "PKCS#1 DER"): FIPS 203
# and 204 allow keeping the 32/64-byte seed a key expands from instead of the full key, so sizes of
# different encodings are not like for like, and a report must be able to say which is which.
SecretKeyEncoding = str


@runtime_checkable
class Kem(Protocol):
    algorithm: str
    secret_key_encoding: SecretKeyEncoding

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
    secret_key_encoding: SecretKeyEncoding

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


# Derandomised operations (optional): with every random input given, two implementations of the
# same standard must produce the same bytes, so conformance can compare ciphertexts, secrets and
# signatures with the reference, not only round trips.


@runtime_checkable
class KemDerandomised(Protocol):
    def encaps_derand(self, public_key: Any, m: bytes) -> tuple[bytes, bytes]:
        """FIPS 203 ML-KEM.Encaps_internal(ek, m) with the 32-byte m: (ciphertext, shared_secret)."""


@runtime_checkable
class SignerDeterministic(Protocol):
    def sign_deterministic(self, secret_key: Any, message: bytes) -> bytes:
        """FIPS 204 deterministic ML-DSA.Sign (rnd = 0^32), pure mode, empty context."""


@runtime_checkable
class SignerExpandedSecretKey(Protocol):
    def load_secret_key(self, data: bytes) -> Any:
        """A secret-key handle from a FIPS 204 encoded (expanded) sk; ValueError if malformed."""


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


# --- QKD capability protocols -------------------------------------------------------------
# Key material crosses these interfaces as `Key` objects whose repr and str never show the
# bytes, so a key that ends up in a log line, an exception or a result reveals only its ID.


@dataclass(frozen=True)
class Key:
    """One delivered key: its UUID and its material (never printed)."""

    key_id: str
    material: bytes = field(repr=False)

    @property
    def size_bits(self) -> int:
        return 8 * len(self.material)

    def __str__(self) -> str:
        return f"Key({self.key_id}, {self.size_bits} bits)"


@dataclass(frozen=True)
class KmeStatus:
    """The ETSI GS QKD 014 Status object, field for field (sizes in bits)."""

    source_KME_ID: str  # the spec's field names, kept verbatim
    target_KME_ID: str
    master_SAE_ID: str
    slave_SAE_ID: str
    key_size: int
    stored_key_count: int
    max_key_count: int
    max_key_per_request: int
    max_key_size: int
    min_key_size: int
    max_SAE_ID_count: int
    status_extension: Mapping[str, Any] | None = None


class KeyDeliveryError(Exception):
    """A key request the KME refused: the HTTP status (400/401/503, or 0 when unreachable) and its message.

    Never carries key material: build it from the KME's error message only.
    """

    def __init__(self, http_status: int, message: str) -> None:
        self.http_status = http_status
        self.message = message
        super().__init__(f"KME answered {http_status}: {message}" if http_status else message)


@runtime_checkable
class KeyDelivery(Protocol):
    """What an adapter with Capability.KEY_DELIVERY offers: one QKD link between a master and a slave SAE."""

    def status(self) -> KmeStatus: ...

    def enc_keys(self, number: int = 1, size_bits: int | None = None) -> list[Key]:
        """Keys for the master SAE (ETSI 014 Get key); raise KeyDeliveryError when refused."""

    def dec_keys(self, key_ids: Sequence[str]) -> list[Key]:
        """The same keys for the slave SAE (ETSI 014 Get key with key IDs); raise KeyDeliveryError."""


@dataclass(frozen=True)
class Etsi014Endpoints:
    """How to reach a link's two KMEs over ETSI GS QKD 014 (files are PEM paths).

    `third_*` name an SAE of the same PKI that is no party to this link, for the
    wrong-SAE checks; None where the vendor provides none.
    """

    master_kme_url: str
    slave_kme_url: str
    ca_cert: str
    master_sae_id: str
    master_cert: str
    master_key: str
    slave_sae_id: str
    slave_cert: str
    slave_key: str
    third_sae_id: str | None = None
    third_cert: str | None = None
    third_key: str | None = None


class Etsi014Access(Protocol):
    """What an adapter with Capability.ETSI014 offers: the raw endpoints, for conformance testing."""

    def etsi014_endpoints(self) -> Etsi014Endpoints: ...


@dataclass(frozen=True)
class TelemetrySnapshot:
    """What a QKD device reports over an observation window (rates over that window)."""

    window_s: float
    qber: float
    secret_key_rate_bps: float
    sifted_rate_bps: float
    channel_loss_db: float
    stored_key_count: int
    key_delivery_active: bool  # False once the device stopped distilling (e.g. QBER above its abort point)
    extra: Mapping[str, float] = field(default_factory=dict)


class Telemetry(Protocol):
    """What an adapter with Capability.TELEMETRY offers."""

    def observe(self, duration_s: float) -> TelemetrySnapshot:
        """Let the link run for `duration_s` of device time and report that window.

        A real device waits that long; a simulated one runs its device clock (as fast as it can).
        """


@dataclass(frozen=True)
class Attack:
    """An eavesdropper's settings: `kind` is intercept_resend, pns or blinding; `fraction` of pulses."""

    kind: str
    fraction: float = 1.0


class ChannelControl(Protocol):
    """What an adapter with Capability.CHANNEL_CONTROL offers."""

    def set_fibre_km(self, km: float) -> None: ...

    def set_attenuation_db(self, db: float) -> None:
        """Extra loss on top of the fibre (a variable optical attenuator)."""

    def set_attack(self, attack: Attack | None) -> None: ...


class Countermeasures(Protocol):
    """Switchable defences of a device (e.g. decoy_analysis, blinding_monitor), for the attack suites.

    Real devices rarely allow switching a defence off; such an adapter lists only what it can switch.
    """

    def countermeasures(self) -> Sequence[str]: ...

    def set_countermeasure(self, name: str, enabled: bool) -> None: ...


class Datasheet(Protocol):
    """What a QKD device declares about itself (not observations): the basis of analytic expectations."""

    def declared_profile(self) -> Any:
        """A harness.qkd.profiles.Profile with the declared parameters, or None when not declared."""

    def declared_fibre_km(self) -> float | None:
        """The installed fibre length of a link whose channel cannot be changed, or None."""


@dataclass(frozen=True)
class Fault:
    """A fault to inject: `kind` (e.g. fibre_cut, kme_unavailable) for `duration_s` of device time.

    `magnitude` sizes the kinds that have a size: the extra loss in dB of an `attenuation_step`,
    the rise of the misalignment error (a fraction, 0.05 = 5 %) of a `qber_rise`.
    """

    kind: str
    duration_s: float = float("inf")
    magnitude: float | None = None


class FaultInjection(Protocol):
    """What an adapter with Capability.FAULT_INJECTION offers (the resilience suites drive it)."""

    def fault_kinds(self) -> Sequence[str]: ...

    def inject(self, fault: Fault) -> None:
        """Raise NotApplicable for a kind the device cannot produce."""

    def clear_faults(self) -> None: ...
