"""PQC primitives: the cost of each KEM and signature operation, one call at a time.

For every algorithm of `params.algorithms`, one case. A KEM case yields `keygen_us`,
`encaps_us` and `decaps_us`; a signature case `keygen_us`, `sign_us` and `verify_us`: one row
per timed call (`sample` 0..samples-1, unit `us`), warm-up calls dropped. Every sample is kept
because ML-DSA and Falcon signing are heavy-tailed (rejection sampling): medians hide that, p99
does not. Sizes come as one row each (unit `bytes`): `public_key_bytes`, `secret_key_bytes` (the
library's own encoding, e.g. a 64-byte seed for OpenSSL's ML-KEM, named by the adapter in the
row's `secret_key_encoding` label), and `ciphertext_bytes` or
`signature_bytes` (the largest seen, as Falcon's signatures vary in length).

Timing: `time.perf_counter_ns()` right around exactly one library call, results stored in
pre-sized lists (so no allocation, deallocation or Measurement object falls inside a timed
region) and the garbage collector paused while timing, as `timeit` does. Each operation is timed
in its own loop over the same key (encaps/sign) or over the outputs of the previous loop
(decaps/verify), as liboqs' `speed_kem` and mlkem-native's benchmarks do.

Correctness is checked on every call after timing: each decapsulated secret must equal its
encapsulated one, each signature must verify, and a tampered message and a tampered signature
must both be rejected. A failure fails the case with a count, never a secret.

Capabilities: whether a case needs `kem` or `signature` depends on its algorithm, so the suite
requires nothing up front (`requires` is empty) and `measure` raises NotApplicable when the
adapter lacks the capability or the algorithm: `openssl has no ML-KEM-512 (it offers: …)`.
"""

from __future__ import annotations

import gc
import hmac
import random
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, ClassVar

from pydantic import Field, field_validator

from harness.adapters import (
    KEM_ALGORITHMS,
    SIGNATURE_ALGORITHMS,
    Adapter,
    Capability,
    Kem,
    NotApplicable,
    Signer,
)
from harness.suite import MeasureContext, Measurement, Metric, Suite, SuiteParams
from suites._params import known_names

_CANONICAL = KEM_ALGORITHMS + SIGNATURE_ALGORITHMS


class CorrectnessError(RuntimeError):
    """A library returned a wrong result while being measured (the message never holds key material)."""


class PQCPrimitivesParams(SuiteParams):
    algorithms: list[str] = Field(min_length=1, description="canonical algorithm names, one case each")
    samples: int = Field(200, ge=1, le=100_000, description="timed calls per operation")
    warmup: int = Field(20, ge=0, le=10_000, description="untimed calls per operation before the samples")
    message_bytes: int = Field(32, ge=0, le=1 << 20, description="length of each signed message")

    @field_validator("algorithms")
    @classmethod
    def _canonical_names(cls, value: list[str]) -> list[str]:
        return known_names(value, _CANONICAL, "algorithm(s)")


@contextmanager
def _gc_paused() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


# The timing loops below: index the inputs before t0; store the result after t1. Rebinding `r`
# frees nothing inside the timed region, because its previous value lives on in the result list.


def _time_keygen(keygen: Callable[[], Any], n: int) -> tuple[list[int], list[Any]]:
    ns = time.perf_counter_ns
    times = [0] * n
    keys: list[Any] = [None] * n
    for i in range(n):
        t0 = ns()
        r = keygen()
        t1 = ns()
        keys[i] = r
        times[i] = t1 - t0
    return times, keys


def _time_with_key(op: Callable[[Any, Any], Any], key: Any, args: list[Any]) -> tuple[list[int], list[Any]]:
    """Time op(key, args[i]) for every i: decaps of each ciphertext, signing of each message."""
    ns = time.perf_counter_ns
    n = len(args)
    times = [0] * n
    out: list[Any] = [None] * n
    for i in range(n):
        a = args[i]
        t0 = ns()
        r = op(key, a)
        t1 = ns()
        out[i] = r
        times[i] = t1 - t0
    return times, out


def _time_one_arg(op: Callable[[Any], Any], arg: Any, n: int) -> tuple[list[int], list[Any]]:
    ns = time.perf_counter_ns
    times = [0] * n
    out: list[Any] = [None] * n
    for i in range(n):
        t0 = ns()
        r = op(arg)
        t1 = ns()
        out[i] = r
        times[i] = t1 - t0
    return times, out


def _time_verify(verify: Callable[[Any, bytes, bytes], bool], public_key: Any, messages: list[bytes],
                 signatures: list[bytes]) -> tuple[list[int], list[bool]]:
    ns = time.perf_counter_ns
    n = len(messages)
    times = [0] * n
    out: list[bool] = [False] * n
    for i in range(n):
        m, s = messages[i], signatures[i]
        t0 = ns()
        r = verify(public_key, m, s)
        t1 = ns()
        out[i] = r
        times[i] = t1 - t0
    return times, out


def _rows(metric: str, times_ns: list[int], warmup: int) -> list[Measurement]:
    return [Measurement(metric, t / 1000.0, "us", sample=i) for i, t in enumerate(times_ns[warmup:])]


def _tamper(data: bytes, bit: int = 0) -> bytes:
    """`data` with bit number `bit` (counted over the whole byte string) flipped."""
    if not data:
        return b"\x01"
    out = bytearray(data)
    out[bit // 8 % len(out)] ^= 1 << (bit % 8)
    return bytes(out)


_TAMPER_CHECKS = 64  # after timing: flipped bits spread over the whole signature (c̃, z, h) and message


def _secret_key_size(scheme: Kem | Signer, secret_key: Any) -> Measurement:
    """The secret key's length with the encoding it is a length of (a seed or the full key)."""
    return Measurement("secret_key_bytes", len(scheme.secret_key_bytes(secret_key)), "bytes",
                       labels={"secret_key_encoding": scheme.secret_key_encoding})


def measure_kem(kem: Kem, warmup: int, samples: int) -> list[Measurement]:
    n = warmup + samples
    with _gc_paused():
        keygen_ns, keys = _time_keygen(kem.keygen, n)
        public_key, secret_key = keys[-1]
        encaps_ns, encapsulated = _time_one_arg(kem.encaps, public_key, n)
        ciphertexts = [ct for ct, _ in encapsulated]
        decaps_ns, decapsulated = _time_with_key(kem.decaps, secret_key, ciphertexts)
    del keys
    pairs = zip(encapsulated, decapsulated, strict=True)
    wrong = sum(not hmac.compare_digest(ss, got) for (_, ss), got in pairs)
    if wrong:
        raise CorrectnessError(f"{kem.algorithm}: the decapsulated secret differed from the encapsulated "
                               f"one in {wrong} of {n} round trips")
    return [
        *_rows("keygen_us", keygen_ns, warmup),
        *_rows("encaps_us", encaps_ns, warmup),
        *_rows("decaps_us", decaps_ns, warmup),
        Measurement("public_key_bytes", len(kem.public_key_bytes(public_key)), "bytes"),
        _secret_key_size(kem, secret_key),
        Measurement("ciphertext_bytes", max(len(ct) for ct in ciphertexts), "bytes"),
    ]


def measure_signer(signer: Signer, warmup: int, samples: int, message_bytes: int,
                   seed: int) -> list[Measurement]:
    n = warmup + samples
    rng = random.Random(seed)
    messages = [rng.randbytes(message_bytes) for _ in range(n)]  # distinct messages: the signing tail
    with _gc_paused():
        keygen_ns, keys = _time_keygen(signer.keygen, n)
        public_key, secret_key = keys[-1]
        sign_ns, signatures = _time_with_key(signer.sign, secret_key, messages)
        verify_ns, verdicts = _time_verify(signer.verify, public_key, messages, signatures)
    del keys
    rejected = verdicts.count(False)
    if rejected:
        raise CorrectnessError(f"{signer.algorithm}: {rejected} of {n} fresh signatures failed to verify")
    checks = min(n, _TAMPER_CHECKS)
    for i in range(checks):
        message, signature = messages[i], signatures[i]
        if signer.verify(public_key, _tamper(message, i * 8 * len(message) // checks), signature):
            raise CorrectnessError(f"{signer.algorithm}: a signature verified over a different message")
        bit = i * 8 * len(signature) // checks + i % 8
        if signer.verify(public_key, message, _tamper(signature, bit)):
            raise CorrectnessError(f"{signer.algorithm}: a signature with bit {bit} flipped verified")
    return [
        *_rows("keygen_us", keygen_ns, warmup),
        *_rows("sign_us", sign_ns, warmup),
        *_rows("verify_us", verify_ns, warmup),
        Measurement("public_key_bytes", len(signer.public_key_bytes(public_key)), "bytes"),
        _secret_key_size(signer, secret_key),
        Measurement("signature_bytes", max(len(s) for s in signatures), "bytes"),
    ]


def _own(params: SuiteParams) -> PQCPrimitivesParams:
    if not isinstance(params, PQCPrimitivesParams):
        raise TypeError(f"pqc_primitives needs PQCPrimitivesParams, got {type(params).__name__}")
    return params


class PQCPrimitives(Suite):
    name: ClassVar[str] = "pqc_primitives"
    requires: ClassVar[frozenset[Capability]] = frozenset()  # kem or signature, per case: see module doc
    Params: ClassVar[type[SuiteParams]] = PQCPrimitivesParams
    label_columns: ClassVar[tuple[str, ...]] = ("secret_key_encoding",)
    metrics: ClassVar[dict[str, Metric]] = {
        "keygen_us": Metric("us", "lower", "one key generation, every sample after warm-up"),
        "encaps_us": Metric("us", "lower", "one ML-KEM encapsulation"),
        "decaps_us": Metric("us", "lower", "one ML-KEM decapsulation"),
        "sign_us": Metric("us", "lower", "one signature"),
        "verify_us": Metric("us", "lower", "one signature verification"),
        "public_key_bytes": Metric("bytes", "lower", "encoded public key", deterministic=True),
        "secret_key_bytes": Metric("bytes", "none", "encoded secret key in the library's own encoding "
                                   "(label secret_key_encoding: a seed the key expands from, or the full "
                                   "key): sizes of different encodings do not compare", deterministic=True,
                                   qualified_by=("secret_key_encoding",)),
        "ciphertext_bytes": Metric("bytes", "lower", "largest KEM ciphertext", deterministic=True),
        "signature_bytes": Metric("bytes", "lower", "largest signature", deterministic=True),
    }

    def cases(self, params: SuiteParams) -> list[dict[str, Any]]:
        return [{"algorithm": algorithm} for algorithm in _own(params).algorithms]

    def measure(self, adapter: Adapter, params: SuiteParams, case: Mapping[str, Any],
                ctx: MeasureContext) -> list[Measurement]:
        params = _own(params)
        algorithm = case["algorithm"]
        needed = Capability.KEM if algorithm in KEM_ALGORITHMS else Capability.SIGNATURE
        if needed not in adapter.capabilities:
            raise NotApplicable(f"{adapter.name} has no {needed} (needed for {algorithm})")
        if needed is Capability.KEM:
            return measure_kem(adapter.kem(algorithm), params.warmup, params.samples)  # type: ignore[attr-defined]
        signer = adapter.signer(algorithm)  # type: ignore[attr-defined]
        return measure_signer(signer, params.warmup, params.samples, params.message_bytes, ctx.seed)
