"""Invalid-input checks for one Kem or Signer: what a library must refuse, and how.

Each check returns (name, ok, reason). "Refused" means a Python exception from loading or from
the operation, or (for verification) a False verdict; accepting the input is the failure. Inputs
are derived from a fresh key pair; reasons never contain key or secret bytes.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Any

Check = tuple[str, bool, str]


def _refused(call: Callable[[], Any]) -> tuple[bool, str]:
    try:
        result = call()
    except Exception:  # refusing with a clean Python error is the expected behaviour
        return True, ""
    if result is False:
        return True, ""
    return False, "accepted"


def _with_unreduced_coefficient(public_key: bytes) -> bytes:
    # ByteEncode_12 packs coefficient 0 into byte 0 and the low nibble of byte 1: 0xFFF = 4095 ≥ q = 3329.
    data = bytearray(public_key)
    data[0] = 0xFF
    data[1] |= 0x0F
    return bytes(data)


def kem_checks(kem: Any) -> list[Check]:
    public_key, secret_key = kem.keygen()
    encoded = kem.public_key_bytes(public_key)
    ciphertext, shared = kem.encaps(public_key)
    checks: list[Check] = []
    for name, bad_key in (("public_key_coefficient_ge_q", _with_unreduced_coefficient(encoded)),
                          ("public_key_truncated", encoded[:-1]),
                          ("public_key_too_long", encoded + b"\0")):
        ok, why = _refused(lambda key=bad_key: kem.encaps(kem.load_public_key(key)))
        checks.append((name, ok, why and f"encapsulation {why} a malformed public key"))
    for name, bad_ct in (("ciphertext_truncated", ciphertext[:-1]),
                         ("ciphertext_too_long", ciphertext + b"\0"), ("ciphertext_empty", b"")):
        ok, why = _refused(lambda ct=bad_ct: kem.decaps(secret_key, ct))
        checks.append((name, ok, why and f"decapsulation {why} a wrong-length ciphertext"))
    checks.append(("ciphertext_corrupted_implicit_rejection", *_implicit_rejection(kem, secret_key,
                                                                                    ciphertext, shared)))
    return checks


def _implicit_rejection(kem: Any, secret_key: Any, ciphertext: bytes, shared: bytes) -> tuple[bool, str]:
    corrupted = bytearray(ciphertext)
    corrupted[len(corrupted) // 2] ^= 0x01
    try:
        first = kem.decaps(secret_key, bytes(corrupted))
        second = kem.decaps(secret_key, bytes(corrupted))
    except Exception as exc:
        return False, f"raised {type(exc).__name__} instead of returning the implicit-rejection value"
    if len(first) != 32:
        return False, f"returned {len(first)} bytes instead of 32"
    if hmac.compare_digest(first, shared):
        return False, "returned the real shared secret for a corrupted ciphertext"
    if first != second:
        return False, "implicit-rejection value differs between two decapsulations"
    return True, ""


def signature_checks(signer: Any) -> list[Check]:
    public_key, secret_key = signer.keygen()
    encoded = signer.public_key_bytes(public_key)
    message = b"qsbench conformance message"
    signature = signer.sign(secret_key, message)
    if not signer.verify(public_key, message, signature):
        return [("valid_signature_verifies", False, "a fresh valid signature does not verify")]
    checks: list[Check] = [("valid_signature_verifies", True, "")]
    for name, bad_sig in (("signature_truncated", signature[:-1]), ("signature_too_long", signature + b"\0"),
                          ("signature_empty", b"")):
        ok, why = _refused(lambda sig=bad_sig: signer.verify(public_key, message, sig))
        checks.append((name, ok, why and f"verification {why} a wrong-length signature"))
    ok, why = _refused(lambda: signer.verify(public_key, message + b"!", signature))
    checks.append(("message_modified", ok, why and "verification accepted a signature over another message"))
    for name, bad_key in (("public_key_truncated", encoded[:-1]), ("public_key_too_long", encoded + b"\0")):
        ok, why = _refused(lambda key=bad_key: signer.verify(signer.load_public_key(key), message, signature))
        checks.append((name, ok, why and f"verification {why} a signature under a malformed public key"))
    return checks


def invalid_input_checks(primitive: Any) -> list[Check]:
    return kem_checks(primitive) if hasattr(primitive, "encaps") else signature_checks(primitive)
