"""Session keys from a QKD key, a post-quantum secret, or both: one KDF for all three sources.

The construction is the two-step (extraction-then-expansion) key derivation of NIST SP 800-56C
Rev. 2, Section 5, instantiated as HKDF-SHA-256 (RFC 5869): extraction K = HMAC-SHA-256(salt, Z'),
expansion in SP 800-108 feedback mode with an 8-bit counter (HKDF-Expand). No salt is used, which
RFC 5869 reads as HashLen zero bytes and SP 800-56C as its all-zero default salt (HMAC pads a
short key with zeros, so both give the same HMAC key).

The hybrid shared secret follows SP 800-56C Rev. 2, Section 2: Z' = Z ‖ T, where Z comes from an
approved scheme (here the secret the TLS 1.3 X25519MLKEM768 handshake exports) and T is an
auxiliary shared secret (the QKD key). A session key of a hybrid source holds as long as either
secret is unknown to the attacker. FixedInfo binds the source, both lengths and the QKD key ID,
so keys of different sources or keys can never coincide by construction.

The HKDF code is checked against RFC 5869 Appendix A test cases 1-3 (tests/test_fallback.py).
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Literal

Source = Literal["qkd", "pqc", "hybrid"]
SESSION_KEY_BYTES = 32
_HASH_BYTES = 32
_LABEL = b"qsbench fallback session key v1"


def hkdf_sha256(ikm: bytes, salt: bytes, info: bytes, length: int) -> bytes:
    """RFC 5869 HKDF with SHA-256: HKDF-Expand(HKDF-Extract(salt, ikm), info, length)."""
    if not 0 < length <= 255 * _HASH_BYTES:
        raise ValueError(f"HKDF-SHA-256 derives 1..{255 * _HASH_BYTES} bytes, not {length}")
    prk = hmac.new(salt or bytes(_HASH_BYTES), ikm, hashlib.sha256).digest()
    out, block = b"", b""
    for counter in range(1, -(-length // _HASH_BYTES) + 1):
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        out += block
    return out[:length]


def session_key(source: Source, *, qkd: bytes | None, pqc: bytes | None, key_id: str = "") -> bytes:
    """The session key of a rekey from `source`; it takes exactly the components the source names.

    qkd: Z' = QKD key; pqc: Z' = the TLS exporter secret; hybrid: Z' = pqc ‖ qkd (Z ‖ T).
    A missing or an extra component is an error: a caller can never weaken a source by omission.
    """
    wanted = {"qkd": (False, True), "pqc": (True, False), "hybrid": (True, True)}[source]
    if ((pqc is not None), (qkd is not None)) != wanted:
        raise ValueError(f"a {source} session key takes "
                         + {"qkd": "the QKD key only", "pqc": "the PQC secret only",
                            "hybrid": "both the PQC secret and the QKD key"}[source])
    z = (pqc or b"") + (qkd or b"")
    fixed_info = b"|".join((_LABEL, source.encode(), str(len(pqc or b"")).encode(),
                            str(len(qkd or b"")).encode(), key_id.encode()))
    return hkdf_sha256(z, b"", fixed_info, SESSION_KEY_BYTES)
