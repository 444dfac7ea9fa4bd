"""liboqs (Open Quantum Safe) through `liboqs-python` (the `oqs` module).

Importing `oqs` when the liboqs shared library is missing makes liboqs-python clone and build
liboqs from GitHub and then exit the process. So this module finds the library itself first
(`find_liboqs`, the same places liboqs-python would look, without importing it) and imports
`oqs` only when it is there; otherwise the adapter is unavailable with a reason saying where it
looked and how to install liboqs.

Key handles: the public key is bytes; the secret key is the ctypes buffer liboqs wrote it into,
handed back to the one `oqs` object per algorithm before decaps/sign, so timing covers the
liboqs call and liboqs-python's own buffer handling, nothing of ours.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import sys
import sysconfig
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

from harness.adapters import Adapter, Availability, Capability, Kem, Kind, Signer
from vendors._pqc import BytesKeys, checked_length, unsupported

# canonical name → liboqs mechanism name; only those liboqs reports as enabled are offered.
_KEM_NAMES = {"ML-KEM-512": "ML-KEM-512", "ML-KEM-768": "ML-KEM-768", "ML-KEM-1024": "ML-KEM-1024"}
_SIG_NAMES = {
    "ML-DSA-44": "ML-DSA-44",
    "ML-DSA-65": "ML-DSA-65",
    "ML-DSA-87": "ML-DSA-87",
    "SLH-DSA-SHA2-128s": "SLH_DSA_PURE_SHA2_128S",  # FIPS 205, pure mode, empty context
    "SLH-DSA-SHA2-128f": "SLH_DSA_PURE_SHA2_128F",
    "SPHINCS+-SHA2-128s-simple": "SPHINCS+-SHA2-128s-simple",  # liboqs < 0.14 only
    "SPHINCS+-SHA2-128f-simple": "SPHINCS+-SHA2-128f-simple",
    "Falcon-512": "Falcon-512",
}
_SYSTEM_DIRS = ("/usr/local/lib", "/usr/local/lib64", "/usr/lib", "/usr/lib64")
HOW_TO_INSTALL = (
    "install liboqs (the release matching liboqs-python's major.minor) with the OS package manager "
    "where it is packaged (Debian/Ubuntu: `apt install liboqs-dev`, if your release has it), from "
    "conda-forge (`conda install -c conda-forge liboqs`), or from source "
    "(`cmake -S liboqs -B build -DBUILD_SHARED_LIBS=ON -DCMAKE_INSTALL_PREFIX=$HOME/opt/liboqs && "
    "cmake --build build && cmake --install build`), then set OQS_INSTALL_PATH to the install prefix"
)


def _library_file() -> str:
    return "liboqs.dylib" if sys.platform == "darwin" else "liboqs.so"


@dataclass(frozen=True)
class LibraryLookup:
    """Where liboqs was found (`path`), the prefix to give liboqs-python, and every place tried."""

    path: str | None
    install_prefix: str | None
    tried: tuple[str, ...]


def _system_dirs(environ: Mapping[str, str]) -> list[Path]:
    dirs = [Path(d) for d in _SYSTEM_DIRS]
    if multiarch := sysconfig.get_config_var("MULTIARCH"):  # Debian/Ubuntu: /usr/lib/x86_64-linux-gnu
        dirs.insert(3, Path("/usr/lib") / multiarch)
    if environ.get("CONDA_PREFIX"):
        dirs.insert(0, Path(environ["CONDA_PREFIX"]) / "lib")
    return dirs


def _prefix_dirs(prefix: Path) -> list[Path]:
    return [prefix / "lib", prefix / "lib64"]


def find_liboqs(environ: Mapping[str, str] | None = None, home: Path | None = None) -> LibraryLookup:
    """Find the liboqs shared library without importing `oqs` (which would try to build it).

    Order: $OQS_INSTALL_PATH/{lib,lib64}; the dynamic loader's own search
    (`ctypes.util.find_library`); the usual system and conda directories; liboqs-python's
    default install prefix ~/_oqs.
    """
    environ = os.environ if environ is None else environ
    home = Path.home() if home is None else home
    name = _library_file()
    tried: list[str] = []

    def probe(prefix: Path | None, directory: Path) -> LibraryLookup | None:
        candidate = directory / name
        tried.append(str(candidate))
        if candidate.is_file():
            return LibraryLookup(str(candidate), str(prefix) if prefix else None, tuple(tried))
        return None

    if environ.get("OQS_INSTALL_PATH"):
        prefix = Path(environ["OQS_INSTALL_PATH"])
        for directory in _prefix_dirs(prefix):
            if found := probe(prefix, directory):
                return found
    else:
        tried.append("$OQS_INSTALL_PATH (unset)")

    tried.append("the dynamic loader (ctypes.util.find_library('oqs'))")
    if soname := ctypes.util.find_library("oqs"):
        return LibraryLookup(soname, None, tuple(tried))

    for directory in _system_dirs(environ):
        # liboqs-python looks in <prefix>/lib and <prefix>/lib64 only; elsewhere it relies on the loader.
        prefix = directory.parent if directory.name in ("lib", "lib64") else None
        if found := probe(prefix, directory):
            return found

    default = home / "_oqs"
    for directory in _prefix_dirs(default):
        if found := probe(default, directory):
            return found
    return LibraryLookup(None, None, tuple(tried))


@dataclass(frozen=True)
class _Loaded:
    module: ModuleType | None
    library: str
    reason: str
    warnings: tuple[str, ...] = ()


@cache
def _load_oqs() -> _Loaded:
    lookup = find_liboqs()
    if lookup.path is None:
        return _Loaded(None, "", "liboqs shared library not found; looked in: "
                       f"{'; '.join(lookup.tried)}. To use this adapter, {HOW_TO_INSTALL}")
    try:
        # Loading it ourselves first means liboqs-python's dlopen of the same soname gets this copy.
        ctypes.CDLL(lookup.path)
    except OSError as exc:
        return _Loaded(None, lookup.path, f"found {lookup.path} but it does not load: {exc}")
    if lookup.install_prefix:
        os.environ["OQS_INSTALL_PATH"] = lookup.install_prefix
    # Should liboqs-python still miss the library, an invalid version makes its installer stop
    # with an error before it clones anything.
    saved = os.environ.get("PYOQS_VERSION")
    os.environ["PYOQS_VERSION"] = "qsbench-never-installs-liboqs"
    # liboqs-python logs to stdout on import, which would corrupt JSON written there.
    oqs_logger = logging.getLogger("oqs.oqs")
    oqs_logger.disabled = True
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            import oqs
    except (ImportError, ValueError, RuntimeError, SystemExit) as exc:
        return _Loaded(None, lookup.path, f"liboqs-python failed to load {lookup.path}: "
                       f"{type(exc).__name__}: {exc}")
    finally:
        oqs_logger.disabled = False
        if saved is None:
            os.environ.pop("PYOQS_VERSION", None)
        else:
            os.environ["PYOQS_VERSION"] = saved
    return _Loaded(oqs, lookup.path, "", tuple(str(w.message) for w in caught))


class _OQSKeys(BytesKeys):
    """Public keys are bytes; the secret key is liboqs-python's ctypes buffer, exported as bytes."""

    def secret_key_bytes(self, secret_key: Any) -> bytes:
        return bytes(secret_key)


class OQSKem(_OQSKeys):
    """liboqs-python copies every input into a buffer of the algorithm's length, padding short input
    with zeros (and raising on long input), so liboqs itself never sees a wrong length. The adapter
    checks lengths first, so a wrong-length input is refused here, by the adapter, naming it."""

    def __init__(self, algorithm: str, kem: Any, native: Any) -> None:
        self.algorithm = algorithm
        self.public_key_size = kem.length_public_key
        self._kem = kem
        self._native = native

    def keygen(self) -> tuple[bytes, Any]:
        public_key = self._kem.generate_keypair()
        return public_key, self._kem.secret_key

    def keygen_from_seed(self, seed: bytes) -> tuple[bytes, Any]:
        checked_length(f"{self.algorithm} key-generation seed d‖z", seed, 64)
        public_key = self._kem.generate_keypair_seed(seed)  # OQS_KEM_keypair_derand
        return public_key, self._kem.secret_key

    def encaps(self, public_key: bytes) -> tuple[bytes, bytes]:
        return self._kem.encap_secret(self.load_public_key(public_key))

    def encaps_derand(self, public_key: bytes, m: bytes) -> tuple[bytes, bytes]:
        # liboqs has OQS_KEM_encaps_derand; liboqs-python does not wrap it, so call it directly.
        self.load_public_key(public_key)
        checked_length(f"{self.algorithm} encapsulation randomness m", m, 32)
        ciphertext = ctypes.create_string_buffer(self._kem.length_ciphertext)
        shared_secret = ctypes.create_string_buffer(self._kem.length_shared_secret)
        status = self._native.OQS_KEM_encaps_derand(self._kem._kem, ctypes.byref(ciphertext),
                                                    ctypes.byref(shared_secret), public_key, m)
        if status != 0:
            raise ValueError(f"liboqs OQS_KEM_encaps_derand failed for {self.algorithm}")
        return ciphertext.raw, shared_secret.raw

    def decaps(self, secret_key: Any, ciphertext: bytes) -> bytes:
        checked_length(f"{self.algorithm} ciphertext (checked by the adapter: liboqs-python would "
                       "zero-pad a short one)", ciphertext, self._kem.length_ciphertext)
        self._kem.secret_key = secret_key
        return self._kem.decap_secret(ciphertext)


class OQSSigner(_OQSKeys):
    """liboqs' ML-DSA API has no seeded key generation and no deterministic signing (it signs
    hedged, with randomness from its own RNG), so neither is offered."""

    def __init__(self, algorithm: str, sig: Any) -> None:
        self.algorithm = algorithm
        self.public_key_size = sig.length_public_key
        self._sig = sig

    def keygen(self) -> tuple[bytes, Any]:
        public_key = self._sig.generate_keypair()
        return public_key, self._sig.secret_key

    def sign(self, secret_key: Any, message: bytes) -> bytes:
        self._sig.secret_key = secret_key
        return self._sig.sign(message)

    def verify(self, public_key: bytes, message: bytes, signature: bytes) -> bool:
        return bool(self._sig.verify(message, signature, self.load_public_key(public_key)))


class LibOQSAdapter(Adapter):
    name: ClassVar[str] = "liboqs"
    kind: ClassVar[Kind] = Kind.PQC
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.KEM, Capability.SIGNATURE})

    @classmethod
    def availability(cls) -> Availability:
        loaded = _load_oqs()
        return Availability(loaded.module is not None, loaded.reason)

    @classmethod
    def version(cls) -> str:
        loaded = _load_oqs()
        if loaded.module is None:
            return ""
        oqs = loaded.module
        text = f"liboqs {oqs.oqs_version()} ({loaded.library}), liboqs-python {oqs.oqs_python_version()}"
        return "; ".join([text, *loaded.warnings])

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(options)
        self._objects: list[Any] = []

    def _oqs(self) -> ModuleType:
        loaded = _load_oqs()
        if loaded.module is None:
            raise RuntimeError(f"liboqs adapter used while unavailable: {loaded.reason}")
        return loaded.module

    def kem_algorithms(self) -> tuple[str, ...]:
        enabled = set(self._oqs().get_enabled_kem_mechanisms())
        return tuple(c for c, o in _KEM_NAMES.items() if o in enabled)

    def signature_algorithms(self) -> tuple[str, ...]:
        enabled = set(self._oqs().get_enabled_sig_mechanisms())
        return tuple(c for c, o in _SIG_NAMES.items() if o in enabled)

    def kem(self, algorithm: str) -> Kem:
        offered = self.kem_algorithms()
        if algorithm not in offered:
            raise unsupported(self.name, algorithm, offered)
        kem = self._oqs().KeyEncapsulation(_KEM_NAMES[algorithm])
        self._objects.append(kem)
        return OQSKem(algorithm, kem, self._oqs().native())

    def signer(self, algorithm: str) -> Signer:
        offered = self.signature_algorithms()
        if algorithm not in offered:
            raise unsupported(self.name, algorithm, offered)
        sig = self._oqs().Signature(_SIG_NAMES[algorithm])
        self._objects.append(sig)
        return OQSSigner(algorithm, sig)

    def close(self) -> None:
        for obj in self._objects:
            obj.free()
        self._objects.clear()
