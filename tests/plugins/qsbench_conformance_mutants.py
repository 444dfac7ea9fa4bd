"""Test-only mutants: real PQC adapters (PQClean, OpenSSL) broken on purpose in one small way each.

They reach qsbench through a dist-info folder on sys.path, the entry-point path a third-party
adapter takes, so the suites see them exactly as they would see a subtly wrong library.
tests/test_conformance_mutants.py shows the pqc_conformance suite, at its default parameters,
catching every one. Each mutant wraps the real primitive and changes only what its name says.
"""

from __future__ import annotations

import hashlib
from typing import Any, ClassVar

from vendors.openssl import OpenSSLAdapter
from vendors.pqclean import PQCleanAdapter

_Q = 3329


class _Wrapped:
    """Delegates everything to the real primitive except what a subclass overrides."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def _rejection_value(secret_key: bytes, ciphertext: bytes) -> bytes:
    return hashlib.shake_256(secret_key[-32:] + ciphertext).digest(32)


class _MutantAdapter(PQCleanAdapter):
    kem_wrapper: ClassVar[type | None] = None
    signer_wrapper: ClassVar[type | None] = None

    def kem(self, algorithm: str) -> Any:
        inner = super().kem(algorithm)
        return self.kem_wrapper(inner) if self.kem_wrapper else inner

    def signer(self, algorithm: str) -> Any:
        inner = super().signer(algorithm)
        return self.signer_wrapper(inner) if self.signer_wrapper else inner


# --- ML-KEM mutants -----------------------------------------------------------------------


class _RareWrongSecretKem(_Wrapped):
    def decaps(self, secret_key: Any, ciphertext: bytes) -> bytes:
        shared = self._inner.decaps(secret_key, ciphertext)
        if hashlib.sha256(ciphertext).digest()[0] < 6:  # 6/256: about 1 ciphertext in 43
            return bytes([shared[0] ^ 1]) + shared[1:]
        return shared


class _NoImplicitRejectionKem(_Wrapped):
    def decaps(self, secret_key: Any, ciphertext: bytes) -> bytes:
        shared = self._inner.decaps(secret_key, ciphertext)
        if shared == _rejection_value(secret_key, ciphertext):
            raise ValueError("decapsulation failed")  # explicit rejection: what FIPS 203 forbids
        return shared


class _WrongRejectionValueKem(_Wrapped):
    def decaps(self, secret_key: Any, ciphertext: bytes) -> bytes:
        shared = self._inner.decaps(secret_key, ciphertext)
        if shared == _rejection_value(secret_key, ciphertext):
            return hashlib.shake_256(ciphertext).digest(32)  # forgot z: deterministic, but not J(z‖c)
        return shared


class RareWrongSecret(_MutantAdapter):
    name = "mutant-rare-wrong-secret"
    kem_wrapper = _RareWrongSecretKem


class NoImplicitRejection(_MutantAdapter):
    name = "mutant-no-implicit-rejection"
    kem_wrapper = _NoImplicitRejectionKem


class WrongRejectionValue(_MutantAdapter):
    name = "mutant-wrong-rejection-value"
    kem_wrapper = _WrongRejectionValueKem


def _reduced(public_key: bytes) -> bytes:
    """ek with every 12-bit coefficient of t̂ taken mod q: what a library that 'repairs' input does."""
    data = bytearray(public_key)
    for base in range(0, len(data) - 32, 3):
        a = data[base] | (data[base + 1] & 0x0F) << 8
        b = data[base + 1] >> 4 | data[base + 2] << 4
        a, b = a % _Q, b % _Q
        data[base], data[base + 1], data[base + 2] = a & 0xFF, (a >> 8) | (b & 0x0F) << 4, b >> 4
    return bytes(data)


class _UnreducedKeyKem(_Wrapped):
    def load_public_key(self, data: bytes) -> Any:
        return self._inner.load_public_key(_reduced(data))


class AcceptsUnreducedKey(OpenSSLAdapter):
    """OpenSSL refuses coefficients ≥ q; this mutant reduces them first, so it accepts such keys."""

    name = "mutant-unreduced-ek"

    def kem(self, algorithm: str) -> Any:
        return _UnreducedKeyKem(super().kem(algorithm))


# --- ML-DSA mutants -----------------------------------------------------------------------


class _IgnoresBit(_Wrapped):
    """verify accepts a signature whether or not bit `position(len)` is flipped."""

    @staticmethod
    def position(length: int) -> int:
        raise NotImplementedError

    def verify(self, public_key: Any, message: bytes, signature: bytes) -> bool:
        if self._inner.verify(public_key, message, signature):
            return True
        if not signature:
            return False
        bit = self.position(len(signature))
        flipped = bytearray(signature)
        flipped[bit // 8] ^= 1 << (bit % 8)
        return self._inner.verify(public_key, message, bytes(flipped))


class _IgnoresChallengeBit(_IgnoresBit):
    @staticmethod
    def position(length: int) -> int:
        return 13  # in c̃ (the first 32-64 bytes)


class _IgnoresZBit(_IgnoresBit):
    @staticmethod
    def position(length: int) -> int:
        return 8 * (length // 2) + 5  # the middle of the signature lies inside z


class _IgnoresHintBit(_IgnoresBit):
    @staticmethod
    def position(length: int) -> int:
        return 8 * length - 3  # the last byte belongs to h


class _WrongMessageSigner(_Wrapped):
    def verify(self, public_key: Any, message: bytes, signature: bytes) -> bool:
        if self._inner.verify(public_key, message, signature):
            return True
        if not message:
            return False
        # also accepts the signature of the message whose last bit differs
        return self._inner.verify(public_key, message[:-1] + bytes([message[-1] ^ 1]), signature)


class VerifyIgnoresChallengeBit(_MutantAdapter):
    name = "mutant-verify-ignores-ctilde-bit"
    signer_wrapper = _IgnoresChallengeBit


class VerifyIgnoresZBit(_MutantAdapter):
    name = "mutant-verify-ignores-z-bit"
    signer_wrapper = _IgnoresZBit


class VerifyIgnoresHintBit(_MutantAdapter):
    name = "mutant-verify-ignores-h-bit"
    signer_wrapper = _IgnoresHintBit


class VerifiesWrongMessage(_MutantAdapter):
    name = "mutant-wrong-message"
    signer_wrapper = _WrongMessageSigner
