"""Invalid-input checks for one Kem or Signer: what a library must refuse, and how.

Each check returns (name, ok, reason, detail). "Refused" means a Python exception from loading or
from the operation, or (for verification) a False verdict; accepting the input is the failure.
Inputs are derived from a fresh key pair; reasons never contain key or secret bytes.

Systematic corruption, not one fixed position:
* KEM: a coefficient 4095 ≥ q at the first, a middle and the last coefficient of t̂ in ek; 64 single
  bit flips spread evenly over the ciphertext (so over both u and v), each of which must decapsulate
  to the FIPS 203 implicit-rejection value J(z‖c') = SHAKE256(z‖c', 32), z being the last 32 bytes
  of the secret key in every encoding used (expanded dk, or the seed d‖z).
* ML-DSA: every bit of the signature (c̃, z and h), of the public key (ρ and t1) and of the message
  is flipped in turn, in an interleaved order so that a sweep cut short (each of the three gets an
  equal share of what is left of `budget_s`) is still spread over every component; the detail says
  how many positions were tried. Any accepted flip fails.

A wrong-length input that is refused is refused by whichever layer raised; the liboqs and PQClean
adapters check lengths themselves because their bindings would pad or truncate, so an acceptance
reported here is the adapter's or the library's, never hidden by the binding.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Iterator
from typing import Any

from suites._detection_power import coverage_statement

Check = tuple[str, bool, str, str]
_Q = 3329
# (k, du, dv) of FIPS 203 and (c̃ bytes, l, z bits per coefficient, ω + k) of FIPS 204, by algorithm.
_KEM_PARAMS = {"ML-KEM-512": (2, 10, 4), "ML-KEM-768": (3, 10, 4), "ML-KEM-1024": (4, 11, 5)}
_DSA_PARAMS = {"ML-DSA-44": (32, 4, 18, 84), "ML-DSA-65": (48, 5, 20, 61), "ML-DSA-87": (64, 7, 20, 83)}


def _refused(call: Callable[[], Any]) -> tuple[bool, str]:
    try:
        result = call()
    except Exception:  # refusing with a clean Python error is the expected behaviour
        return True, ""
    if result is False:
        return True, ""
    return False, "accepted"


def _with_unreduced_coefficient(public_key: bytes, index: int = 0) -> bytes:
    """ek with coefficient `index` of t̂ set to 4095 ≥ q = 3329. ByteEncode_12 packs coefficients
    2i and 2i+1 into bytes 3i..3i+2: the even one in byte 3i and the low nibble of 3i+1."""
    data = bytearray(public_key)
    base = 3 * (index // 2)
    if index % 2 == 0:
        data[base] = 0xFF
        data[base + 1] |= 0x0F
    else:
        data[base + 1] |= 0xF0
        data[base + 2] = 0xFF
    return bytes(data)


def implicit_rejection_value(secret_key_encoding: bytes, ciphertext: bytes) -> bytes:
    """FIPS 203 J(z‖c): z is the last 32 bytes of the expanded dk and of the seed d‖z alike."""
    return hashlib.shake_256(secret_key_encoding[-32:] + ciphertext).digest(32)


def interleaved(total: int) -> Iterator[int]:
    """Every index in range(total) once, consecutive ones far apart (a stride coprime with total)."""
    stride = next(s for s in (7919, 7907, 7901, 1) if total % s)
    return ((i * stride) % total for i in range(total))


def _flip(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def _ciphertext_component(algorithm: str, bit: int) -> str:
    k, du, _ = _KEM_PARAMS.get(algorithm, (0, 0, 0))
    return "u" if bit < 8 * 32 * k * du else "v"


def _signature_component(algorithm: str, bit: int) -> str:
    c_bytes, z_polys, z_bits, _ = _DSA_PARAMS.get(algorithm, (0, 0, 0, 0))
    byte = bit // 8
    if byte < c_bytes:
        return "c̃"
    return "z" if byte < c_bytes + 32 * z_polys * z_bits else "h"


def kem_checks(kem: Any) -> list[Check]:
    public_key, secret_key = kem.keygen()
    encoded = kem.public_key_bytes(public_key)
    ciphertext, shared = kem.encaps(public_key)
    checks: list[Check] = []
    k = _KEM_PARAMS.get(kem.algorithm, (len(encoded) // 384,))[0]
    last = 256 * k - 1
    unreduced = [_with_unreduced_coefficient(encoded, index) for index in (0, last // 2, last)]
    for name, bad_key in (("public_key_coefficient_ge_q", unreduced[0]),
                          ("public_key_coefficient_ge_q_middle", unreduced[1]),
                          ("public_key_coefficient_ge_q_last", unreduced[2]),
                          ("public_key_truncated", encoded[:-1]),
                          ("public_key_too_long", encoded + b"\0")):
        ok, why = _refused(lambda key=bad_key: kem.encaps(kem.load_public_key(key)))
        checks.append((name, ok, why and f"encapsulation {why} a malformed public key", ""))
    for name, bad_ct in (("ciphertext_truncated", ciphertext[:-1]),
                         ("ciphertext_too_long", ciphertext + b"\0"), ("ciphertext_empty", b"")):
        ok, why = _refused(lambda ct=bad_ct: kem.decaps(secret_key, ct))
        checks.append((name, ok, why and f"decapsulation (adapter and library) {why} a wrong-length "
                                         "ciphertext", ""))
    checks.append(("ciphertext_corrupted_implicit_rejection", *_implicit_rejection(kem, secret_key,
                                                                                    ciphertext, shared), ""))
    checks.append(_ciphertext_bit_flips(kem, secret_key, ciphertext, shared))
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


_CIPHERTEXT_FLIPS = 64


def _ciphertext_bit_flips(kem: Any, secret_key: Any, ciphertext: bytes, shared: bytes) -> Check:
    bits = 8 * len(ciphertext)
    positions = [(i * bits) // _CIPHERTEXT_FLIPS + (i * 13) % 8 for i in range(_CIPHERTEXT_FLIPS)]
    encoding = kem.secret_key_bytes(secret_key)
    detail = (f"{len(positions)} single-bit flips spread over all {bits} bits of c (u and v); each must "
              "decapsulate to J(z‖c')")
    for bit in positions:
        corrupted = _flip(ciphertext, bit)
        where = f"bit {bit} (in {_ciphertext_component(kem.algorithm, bit)})"
        try:
            got = kem.decaps(secret_key, corrupted)
        except Exception as exc:
            why = f"{where}: raised {type(exc).__name__} instead of implicit rejection"
            return "ciphertext_bit_flips", False, why, detail
        if hmac.compare_digest(got, shared):
            return "ciphertext_bit_flips", False, f"{where}: returned the real shared secret", detail
        if not hmac.compare_digest(got, implicit_rejection_value(encoding, corrupted)):
            return ("ciphertext_bit_flips", False, f"{where}: the rejection value is not J(z‖c') of FIPS 203",
                    detail)
    return "ciphertext_bit_flips", True, "", detail


def signature_checks(signer: Any, budget_s: float) -> list[Check]:
    public_key, secret_key = signer.keygen()
    encoded = signer.public_key_bytes(public_key)
    message = b"qsbench conformance message: every bit of it is flipped in turn"
    signature = signer.sign(secret_key, message)
    if not signer.verify(public_key, message, signature):
        return [("valid_signature_verifies", False, "a fresh valid signature does not verify", "")]
    checks: list[Check] = [("valid_signature_verifies", True, "", "")]
    for name, bad_sig in (("signature_truncated", signature[:-1]), ("signature_too_long", signature + b"\0"),
                          ("signature_empty", b"")):
        ok, why = _refused(lambda sig=bad_sig: signer.verify(public_key, message, sig))
        checks.append((name, ok, why and f"verification {why} a wrong-length signature", ""))
    ok, why = _refused(lambda: signer.verify(public_key, message + b"!", signature))
    why = why and "verification accepted a signature over another message"
    checks.append(("message_modified", ok, why, ""))
    for name, bad_key in (("public_key_truncated", encoded[:-1]), ("public_key_too_long", encoded + b"\0")):
        ok, why = _refused(lambda key=bad_key: signer.verify(signer.load_public_key(key), message, signature))
        checks.append((name, ok, why and f"verification {why} a signature under a malformed public key", ""))
    algorithm = signer.algorithm
    sweeps = (
        ("message_bit_flips", 8 * len(message), lambda bit: (public_key, _flip(message, bit), signature),
         lambda bit: "the message"),
        ("signature_bit_flips", 8 * len(signature), lambda bit: (public_key, message, _flip(signature, bit)),
         lambda bit: _signature_component(algorithm, bit)),
        ("public_key_bit_flips", 8 * len(encoded),
         lambda bit: (signer.load_public_key(_flip(encoded, bit)), message, signature),
         lambda bit: "ρ" if bit < 256 else "t1"),
    )
    end = time.monotonic() + budget_s
    for left, (name, total, inputs, component) in zip(range(len(sweeps), 0, -1), sweeps, strict=True):
        # each sweep gets an equal share of what the earlier ones left, so none is starved
        deadline = time.monotonic() + (end - time.monotonic()) / left
        checks.append(_sweep(signer, name, total, inputs, component, deadline))
    return checks


def _sweep(signer: Any, name: str, total: int, inputs: Callable[[int], tuple[Any, bytes, bytes]],
           component: Callable[[int], str], deadline: float) -> Check:
    tried = 0
    for bit in interleaved(total):
        if tried and time.monotonic() > deadline:
            break
        tried += 1
        ok, _ = _refused(lambda bit=bit: signer.verify(*inputs(bit)))
        if not ok:
            return (name, False, f"verification accepted a flip of bit {bit} (in {component(bit)})",
                    coverage_statement(tried, total, "single-bit flips"))
    return name, True, "", coverage_statement(tried, total, "single-bit flips, every one refused")


def invalid_input_checks(primitive: Any, budget_s: float = 60.0) -> list[Check]:
    """`budget_s` bounds the bit-flip sweeps of a signature (the rest always runs whole)."""
    if hasattr(primitive, "encaps"):
        return kem_checks(primitive)
    return signature_checks(primitive, budget_s)
