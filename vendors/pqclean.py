"""PQClean's portable C implementations through the `pqcrypto` 0.4 series (cffi bindings).

Only 0.4.x is accepted: pqcrypto 1.x wraps other (Rust) code, not PQClean, and its `verify`
raises instead of returning False. Keys are the byte strings PQClean produces.

The SPHINCS+ that PQClean ships is round 3.1 (sphincsplus commit ed15dd7), not FIPS 205
SLH-DSA: its signatures do not verify under liboqs' SLH-DSA even over the same message (checked
in tests/test_adapters.py), so it is offered as `SPHINCS+-SHA2-128s-simple`/`-128f-simple`.
Falcon-512 is round-3 Falcon (compressed, variable-length signatures up to 752 bytes).
ML-DSA signing is hedged (randomised), as in FIPS 204's default.

Derandomised operations: PQClean's ML-KEM has `crypto_kem_keypair_derand(pk, sk, d‖z)` and
`crypto_kem_enc_derand(c, K, pk, m)`, exported by the compiled module but not wrapped by pqcrypto's
cffi layer; the adapter calls them with ctypes on that same shared object. PQClean's ML-DSA has no
seeded key generation and no deterministic signing (its randomness comes from `randombytes`
inside keypair and sign), so those are not offered.
"""

from __future__ import annotations

import ctypes
import importlib
import sys
from importlib import metadata
from types import ModuleType
from typing import ClassVar

from harness.adapters import Adapter, Availability, Capability, Kem, Kind, Signer
from vendors._pqc import BytesKeys, checked_length, unsupported

_KEM_MODULES = {
    "ML-KEM-512": "pqcrypto.kem.ml_kem_512",
    "ML-KEM-768": "pqcrypto.kem.ml_kem_768",
    "ML-KEM-1024": "pqcrypto.kem.ml_kem_1024",
}
_SIGN_MODULES = {
    "ML-DSA-44": "pqcrypto.sign.ml_dsa_44",
    "ML-DSA-65": "pqcrypto.sign.ml_dsa_65",
    "ML-DSA-87": "pqcrypto.sign.ml_dsa_87",
    "SPHINCS+-SHA2-128s-simple": "pqcrypto.sign.sphincs_sha2_128s_simple",
    "SPHINCS+-SHA2-128f-simple": "pqcrypto.sign.sphincs_sha2_128f_simple",
    "Falcon-512": "pqcrypto.sign.falcon_512",
}
_INSTALL = "pip install 'pqcrypto>=0.4,<0.5'"


def _pqcrypto_version() -> str | None:
    try:
        return metadata.version("pqcrypto")
    except metadata.PackageNotFoundError:
        return None


def _derand_functions(algorithm: str, module: ModuleType) -> tuple[object, object]:
    """PQClean's keypair_derand and enc_derand from the module's own compiled extension."""
    extension = sys.modules[module.__name__.replace(".kem.", "._kem.")]
    library = ctypes.CDLL(extension.__file__)
    prefix = f"PQCLEAN_{algorithm.replace('-', '')}_CLEAN_crypto_kem_"
    keypair, enc = getattr(library, prefix + "keypair_derand"), getattr(library, prefix + "enc_derand")
    for function in (keypair, enc):
        function.restype = ctypes.c_int
    return keypair, enc


class PQCleanKem(BytesKeys):
    def __init__(self, algorithm: str, module: ModuleType) -> None:
        self.algorithm = algorithm
        self.public_key_size = module.PUBLIC_KEY_SIZE
        self._module = module
        self.keygen = module.generate_keypair  # already returns (pk, sk)
        self.encaps = module.encrypt  # already returns (ciphertext, shared_secret)
        self._keypair_derand, self._enc_derand = _derand_functions(algorithm, module)

    def keygen_from_seed(self, seed: bytes) -> tuple[bytes, bytes]:
        checked_length(f"{self.algorithm} key-generation seed d‖z", seed, 64)
        public_key = ctypes.create_string_buffer(self._module.PUBLIC_KEY_SIZE)
        secret_key = ctypes.create_string_buffer(self._module.SECRET_KEY_SIZE)
        if self._keypair_derand(public_key, secret_key, seed) != 0:
            raise ValueError(f"PQClean {self.algorithm} keypair_derand failed")
        return public_key.raw, secret_key.raw

    def encaps_derand(self, public_key: bytes, m: bytes) -> tuple[bytes, bytes]:
        checked_length(f"{self.algorithm} public key", public_key, self._module.PUBLIC_KEY_SIZE)
        checked_length(f"{self.algorithm} encapsulation randomness m", m, 32)
        ciphertext = ctypes.create_string_buffer(self._module.CIPHERTEXT_SIZE)
        shared_secret = ctypes.create_string_buffer(32)
        if self._enc_derand(ciphertext, shared_secret, public_key, m) != 0:
            raise ValueError(f"PQClean {self.algorithm} enc_derand failed")
        return ciphertext.raw, shared_secret.raw

    def decaps(self, secret_key: bytes, ciphertext: bytes) -> bytes:
        return self._module.decrypt(secret_key, ciphertext)

    def load_secret_key(self, data: bytes) -> bytes:
        # PQClean keeps the FIPS 203 expanded decapsulation key; only its length can be checked here.
        return checked_length(f"{self.algorithm} secret key", data, self._module.SECRET_KEY_SIZE)


class PQCleanSigner(BytesKeys):
    def __init__(self, algorithm: str, module: ModuleType) -> None:
        self.algorithm = algorithm
        self.public_key_size = module.PUBLIC_KEY_SIZE
        self._module = module
        self.keygen = module.generate_keypair
        self.sign = module.sign

    def verify(self, public_key: bytes, message: bytes, signature: bytes) -> bool:
        try:
            return bool(self._module.verify(public_key, message, signature))
        except ValueError:  # 0.4 raises for an over-long signature: that is a bad signature
            return False


class PQCleanAdapter(Adapter):
    name: ClassVar[str] = "pqclean"
    kind: ClassVar[Kind] = Kind.PQC
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.KEM, Capability.SIGNATURE})

    @classmethod
    def availability(cls) -> Availability:
        version = _pqcrypto_version()
        if version is None:
            return Availability(False, f"the `pqcrypto` package is not installed: {_INSTALL}")
        major_minor = tuple(int(p) for p in version.split(".")[:2] if p.isdigit())
        if major_minor != (0, 4):
            return Availability(False, f"pqcrypto {version} is not the PQClean series: 1.x wraps other "
                                       f"code and older releases lack ML-KEM/ML-DSA; {_INSTALL}")
        return Availability(True)

    @classmethod
    def version(cls) -> str:
        version = _pqcrypto_version()
        return f"pqcrypto {version} (PQClean, clean C implementations)" if version else ""

    def kem_algorithms(self) -> tuple[str, ...]:
        return tuple(_KEM_MODULES)

    def signature_algorithms(self) -> tuple[str, ...]:
        return tuple(_SIGN_MODULES)

    def kem(self, algorithm: str) -> Kem:
        if algorithm not in _KEM_MODULES:
            raise unsupported(self.name, algorithm, _KEM_MODULES)
        return PQCleanKem(algorithm, importlib.import_module(_KEM_MODULES[algorithm]))

    def signer(self, algorithm: str) -> Signer:
        if algorithm not in _SIGN_MODULES:
            raise unsupported(self.name, algorithm, _SIGN_MODULES)
        return PQCleanSigner(algorithm, importlib.import_module(_SIGN_MODULES[algorithm]))
