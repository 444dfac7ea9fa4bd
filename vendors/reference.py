"""Pure-Python FIPS 203 / FIPS 204: `kyber-py` (ML-KEM) and `dilithium-py` (ML-DSA).

Written to follow the standards line by line, not for speed (milliseconds per operation):
this is the oracle other adapters are checked against, and a floor for timing comparisons.
Keys are the FIPS encodings as bytes (ML-KEM dk is the expanded 1632/2400/3168-byte key).
ML-DSA signs in pure mode with an empty context, hedged (randomised); `sign_deterministic` is
FIPS 204's deterministic variant. Every derandomised operation is offered: seeded key generation,
encapsulation with a given m (kyber-py's `_encaps_internal`, after the FIPS 203 §7.2 key check),
deterministic signing, and loading expanded ML-KEM dk / ML-DSA sk.
"""

from __future__ import annotations

import importlib
from importlib import metadata
from importlib.util import find_spec
from typing import Any, ClassVar

from harness.adapters import Adapter, Availability, Capability, Kem, Kind, Signer
from vendors._pqc import BytesKeys, checked_length, unsupported

_KEMS = {"ML-KEM-512": "ML_KEM_512", "ML-KEM-768": "ML_KEM_768", "ML-KEM-1024": "ML_KEM_1024"}
_SIGNERS = {"ML-DSA-44": "ML_DSA_44", "ML-DSA-65": "ML_DSA_65", "ML-DSA-87": "ML_DSA_87"}
_PACKAGES = {"kyber_py": "kyber-py", "dilithium_py": "dilithium-py"}
# Public-key lengths, to reject a malformed key when it is loaded rather than deep inside an operation.
_PK_BYTES = {"ML-KEM-512": 800, "ML-KEM-768": 1184, "ML-KEM-1024": 1568,
             "ML-DSA-44": 1312, "ML-DSA-65": 1952, "ML-DSA-87": 2592}
_SK_BYTES = {"ML-DSA-44": 2560, "ML-DSA-65": 4032, "ML-DSA-87": 4896}  # encoded sk, FIPS 204
_DK_BYTES = {"ML-KEM-512": 1632, "ML-KEM-768": 2400, "ML-KEM-1024": 3168}  # expanded, FIPS 203


class ReferenceKem(BytesKeys):
    def __init__(self, algorithm: str, scheme: Any) -> None:
        self.algorithm = algorithm
        self.public_key_size = _PK_BYTES[algorithm]
        self._scheme = scheme
        self.keygen = scheme.keygen  # returns (ek, dk)

    def keygen_from_seed(self, seed: bytes) -> tuple[bytes, bytes]:
        return self._scheme.key_derive(seed)  # d ‖ z, FIPS 203 §7.1; raises ValueError unless 64 bytes

    def load_secret_key(self, data: bytes) -> bytes:
        return checked_length(f"{self.algorithm} decapsulation key", data, _DK_BYTES[self.algorithm])

    def encaps(self, public_key: bytes) -> tuple[bytes, bytes]:
        shared_secret, ciphertext = self._scheme.encaps(public_key)  # kyber-py's order is (K, c)
        return ciphertext, shared_secret

    def encaps_derand(self, public_key: bytes, m: bytes) -> tuple[bytes, bytes]:
        checked_length(f"{self.algorithm} encapsulation randomness m", m, 32)
        self._scheme.encaps(public_key)  # kyber-py's FIPS 203 §7.2 type and modulus checks, then:
        shared_secret, ciphertext = self._scheme._encaps_internal(public_key, m)
        return ciphertext, shared_secret

    def decaps(self, secret_key: bytes, ciphertext: bytes) -> bytes:
        return self._scheme.decaps(secret_key, ciphertext)


class ReferenceSigner(BytesKeys):
    def __init__(self, algorithm: str, scheme: Any) -> None:
        self.algorithm = algorithm
        self.public_key_size = _PK_BYTES[algorithm]
        self._scheme = scheme
        self.keygen = scheme.keygen  # returns (pk, sk)
        self.keygen_from_seed = scheme.key_derive  # ξ, FIPS 204 §6.1; raises ValueError unless 32 bytes
        self.sign = scheme.sign

    def sign_deterministic(self, secret_key: bytes, message: bytes) -> bytes:
        return self._scheme.sign(secret_key, message, deterministic=True)

    def load_secret_key(self, data: bytes) -> bytes:
        return checked_length(f"{self.algorithm} secret key", data, _SK_BYTES[self.algorithm])

    def verify(self, public_key: bytes, message: bytes, signature: bytes) -> bool:
        try:
            return bool(self._scheme.verify(public_key, message, signature))
        except ValueError:  # a malformed signature is a bad signature
            return False


class ReferenceAdapter(Adapter):
    name: ClassVar[str] = "reference"
    kind: ClassVar[Kind] = Kind.PQC
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.KEM, Capability.SIGNATURE})

    @classmethod
    def availability(cls) -> Availability:
        missing = [dist for module, dist in _PACKAGES.items() if find_spec(module) is None]
        if missing:
            return Availability(False, f"not installed: {', '.join(missing)}; "
                                       "pip install 'kyber-py>=1.2' 'dilithium-py>=1.5'")
        return Availability(True)

    @classmethod
    def version(cls) -> str:
        try:
            return ", ".join(f"{dist} {metadata.version(dist)}" for dist in _PACKAGES.values())
        except metadata.PackageNotFoundError:
            return ""

    def kem_algorithms(self) -> tuple[str, ...]:
        return tuple(_KEMS)

    def signature_algorithms(self) -> tuple[str, ...]:
        return tuple(_SIGNERS)

    def kem(self, algorithm: str) -> Kem:
        if algorithm not in _KEMS:
            raise unsupported(self.name, algorithm, _KEMS)
        module = importlib.import_module("kyber_py.ml_kem")
        return ReferenceKem(algorithm, getattr(module, _KEMS[algorithm]))

    def signer(self, algorithm: str) -> Signer:
        if algorithm not in _SIGNERS:
            raise unsupported(self.name, algorithm, _SIGNERS)
        module = importlib.import_module("dilithium_py.ml_dsa")
        return ReferenceSigner(algorithm, getattr(module, _SIGNERS[algorithm]))
