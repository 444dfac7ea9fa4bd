"""What the PQC library adapters share: the wording for an algorithm a library lacks, and byte keys."""

from __future__ import annotations

from collections.abc import Iterable

from harness.adapters import KEM_ALGORITHMS, SIGNATURE_ALGORITHMS, NotApplicable


def unsupported(vendor: str, algorithm: str, offered: Iterable[str]) -> NotApplicable:
    """The NotApplicable to raise for `algorithm`; says what the library offers instead."""
    if algorithm not in KEM_ALGORITHMS and algorithm not in SIGNATURE_ALGORITHMS:
        return NotApplicable(
            f"{algorithm!r} is not a canonical algorithm name; "
            f"KEMs: {', '.join(KEM_ALGORITHMS)}; signatures: {', '.join(SIGNATURE_ALGORITHMS)}"
        )
    return NotApplicable(f"{vendor} has no {algorithm} (it offers: {', '.join(offered) or 'nothing'})")


def checked_length(what: str, data: bytes, size: int) -> bytes:
    """`data` unchanged if it is `size` bytes; a ValueError naming `what` otherwise."""
    if not isinstance(data, bytes) or len(data) != size:
        raise ValueError(f"{what} must be {size} bytes")
    return data


class BytesKeys:
    """For libraries whose keys are plain bytes in their own encoding: the handle is the encoding.

    Subclasses set `algorithm` and `public_key_size`.
    """

    algorithm: str
    public_key_size: int
    # PQClean, liboqs and the pure-Python reference export the scheme's complete secret key (for
    # ML-KEM/ML-DSA the expanded FIPS 203 dk / FIPS 204 sk), not the seed it was expanded from.
    secret_key_encoding = "full key"

    def public_key_bytes(self, public_key: bytes) -> bytes:
        return public_key

    def secret_key_bytes(self, secret_key: bytes) -> bytes:
        return secret_key

    def load_public_key(self, data: bytes) -> bytes:
        return checked_length(f"{self.algorithm} public key", data, self.public_key_size)
