"""Conformance of each PQC adapter's ML-KEM and ML-DSA: Wycheproof vectors, agreement with the
reference implementation, and behaviour on invalid input.

Cases: check × algorithm, for checks
* `wycheproof:<file type>` (see suites/_wycheproof.py): per test group, rows `vectors_passed`,
  `vectors_failed`, `vectors_skipped` (count) and `wycheproof_pass` (1 when nothing failed), with
  labels `vector_file`, `test_group`, and the first failing test ids in `failure_reason`.
* `reference_agreement`: keys from the same seeds in this adapter and in `reference_adapter`
  (the pure-Python FIPS 203/204 implementation) must be identical; with encapsulation from a given
  m (KemDerandomised) the ciphertext and secret must equal the reference's; the reference's
  ciphertext must decapsulate to the same secret, and so must a corrupted one (the implicit
  rejection value J(z‖c) of FIPS 203; corrupted bit spread over u and v across seeds); with
  deterministic signing (SignerDeterministic) the signature must equal the reference's, and each
  side must verify the other's. One `reference_agreement` row (0/1) per seed; the reference is slow
  (tens of ms per operation), so `seeded_samples` defaults to 100 (1 in 33 at 95 %).
* `round_trip`: up to `round_trip_samples` (3000) encapsulations, each decapsulated (the secret
  must match) and with one bit of it flipped (the result must be J(z‖c')), or signatures, each
  verified and refused over a message with one bit flipped; within `budget_s`. One
  `round_trip_ok` row per operation.
* `invalid_input`: a public key with a coefficient ≥ q must be refused by encapsulation (FIPS 203
  §7.2); truncated or over-long ciphertexts, keys and signatures must be refused with a Python
  exception or a False verdict, never accepted; a corrupted but well-formed ciphertext must
  decapsulate (not raise) to a 32-byte value unlike the real secret, the same value every time.
  ML-DSA: every bit of the signature, public key and message flipped in turn (within `budget_s`);
  ML-KEM: coefficients ≥ q at three places in ek and 64 bit flips spread over c (see
  suites/_conformance_input.py). One `input_check_ok` row (0/1) per check, label `input_check`,
  `detail` saying what was tried. A crash of the library kills the case's worker process, which
  the runner records as a failed case.

Detection power: every randomised check (`reference_agreement`, `round_trip`) also gets a
`detectable_defect_rate` row: the per-operation defect rate it catches with 95 % probability at the
sample count it reached, 1 − 0.05^(1/n), with the sentence in label `detection_power` (e.g.
"detects a wrong shared secret in 1 of 1000 operations with 95 % probability (n = 2995)").

Every case that judged something also gets one `conformant` row (0/1): all of its verdicts passed.

The vector directory: `vectors_dir`, else $QSBENCH_WYCHEPROOF_DIR, else the copy qsbench ships as
package data (suites/vectors/wycheproof: the C2SP/wycheproof ML-KEM and ML-DSA files, xz-compressed,
with their source and Apache-2.0 licence). A directory may hold FILE.json or FILE.json.xz; a file
missing from a directory given by the user makes that case n/a with where to get it.
"""

from __future__ import annotations

import hmac
import os
import random
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field, field_validator

from harness.adapters import (
    Adapter,
    Capability,
    KemDerandomised,
    KemFromSeed,
    NotApplicable,
    SignerDeterministic,
    SignerFromSeed,
)
from harness.registry import adapter_class
from harness.suite import MeasureContext, Measurement, Metric, Suite, SuiteParams
from suites._conformance_input import implicit_rejection_value, invalid_input_checks
from suites._detection_power import detectable_rate, statement
from suites._params import known_names
from suites._wycheproof import KEM_CHECKS, SIGNATURE_CHECKS, run_file, vector_file

_ALGORITHMS = ("ML-KEM-512", "ML-KEM-768", "ML-KEM-1024", "ML-DSA-44", "ML-DSA-65", "ML-DSA-87")
_CHECKS = (*(f"wycheproof:{c}" for c in KEM_CHECKS + SIGNATURE_CHECKS), "reference_agreement",
           "round_trip", "invalid_input")
_SHIPPED_VECTORS = Path(__file__).resolve().parent / "vectors" / "wycheproof"
_VERDICT_METRICS = ("wycheproof_pass", "reference_agreement", "input_check_ok", "round_trip_ok")


def default_vectors_dir() -> Path:
    env = os.environ.get("QSBENCH_WYCHEPROOF_DIR")
    return Path(env) if env else _SHIPPED_VECTORS


class ConformanceParams(SuiteParams):
    algorithms: list[str] = Field(list(_ALGORITHMS), min_length=1)
    checks: list[str] = Field(list(_CHECKS), min_length=1, description="which checks to run")
    vectors_dir: str | None = Field(None, description="Wycheproof testvectors_v1 directory")
    reference_adapter: str = Field("reference", description="adapter whose results are the oracle")
    seeded_samples: int = Field(100, ge=1, le=10000, description="seeds per reference-agreement case")
    round_trip_samples: int = Field(3000, ge=1, le=1000000,
                                    description="operations per round-trip case (3000: 1 in 1000 at 95 %)")
    budget_s: float = Field(60.0, gt=0, le=3600, description="time bound of a round-trip case and of the "
                            "signature bit-flip sweeps; the rows state what was reached")

    @field_validator("algorithms")
    @classmethod
    def _algorithms(cls, value: list[str]) -> list[str]:
        return known_names(value, _ALGORITHMS, "algorithm(s)")

    @field_validator("checks")
    @classmethod
    def _checks(cls, value: list[str]) -> list[str]:
        return known_names(value, _CHECKS, "check(s)")


def _applies(check: str, algorithm: str) -> bool:
    if not check.startswith("wycheproof:"):
        return True
    return check.removeprefix("wycheproof:") in (KEM_CHECKS if algorithm.startswith("ML-KEM")
                                                 else SIGNATURE_CHECKS)


def primitive_of(adapter: Adapter, algorithm: str) -> Any:
    capability = Capability.KEM if algorithm.startswith("ML-KEM") else Capability.SIGNATURE
    if capability not in adapter.capabilities:
        raise NotApplicable(f"{adapter.name} has no {capability}")
    return adapter.kem(algorithm) if capability == Capability.KEM else adapter.signer(algorithm)


class PQCConformance(Suite):
    name: ClassVar[str] = "pqc_conformance"
    requires: ClassVar[frozenset[Capability]] = frozenset()  # kem or signature, by algorithm
    Params: ClassVar[type[ConformanceParams]] = ConformanceParams
    label_columns: ClassVar[tuple[str, ...]] = ("vector_file", "test_group", "input_check", "failure_reason",
                                                "detail", "detection_power")
    metrics: ClassVar[dict[str, Metric]] = {
        "conformant": Metric("bool", "higher", "every judged vector and check of the case passed",
                             deterministic=True),
        "input_check_ok": Metric("bool", "higher", "an invalid input was handled as the standard says",
                                 deterministic=True),
        "vectors_passed": Metric("count", "higher", "Wycheproof vectors passed in a test group",
                                 deterministic=True),
        "vectors_failed": Metric("count", "lower", "Wycheproof vectors failed in a test group",
                                 deterministic=True),
        "vectors_skipped": Metric("count", "lower", "Wycheproof vectors not judged", deterministic=True),
        "wycheproof_pass": Metric("bool", "higher", "a test group passed whole", deterministic=True),
        "reference_agreement": Metric("bool", "higher", "the same seed gave the reference's keys and results",
                                      deterministic=True),
        "round_trip_ok": Metric("bool", "higher", "one encapsulation or signature round trip was right"),
        "detectable_defect_rate": Metric("fraction", "lower", "per-operation defect rate the check catches "
                                         "with 95 % probability at its sample count"),
    }

    def cases(self, params: ConformanceParams) -> list[dict[str, Any]]:
        return [{"check": c, "algorithm": a}
                for c in params.checks for a in params.algorithms if _applies(c, a)]

    def measure(self, adapter: Adapter, params: ConformanceParams, case: Mapping[str, Any],
                ctx: MeasureContext) -> list[Measurement]:
        primitive = primitive_of(adapter, case["algorithm"])
        check = case["check"]
        if check.startswith("wycheproof:"):
            rows = self._wycheproof(adapter, primitive, params, check.removeprefix("wycheproof:"),
                                    case["algorithm"])
        elif check == "reference_agreement":
            rows = self._reference(adapter, primitive, params, case["algorithm"], ctx.seed)
        elif check == "round_trip":
            rows = _round_trips(primitive, params, ctx.seed)
        else:
            rows = [Measurement("input_check_ok", int(ok), "bool", i,
                                {"input_check": name, **({"failure_reason": why} if why else {}),
                                 **({"detail": detail} if detail else {})})
                    for i, (name, ok, why, detail)
                    in enumerate(invalid_input_checks(primitive, params.budget_s))]
        # One verdict per case for criteria: every judged vector and check passed.
        verdicts = [r.value for r in rows if r.metric in _VERDICT_METRICS]
        if verdicts:
            rows.append(Measurement("conformant", int(all(verdicts)), "bool"))
        return rows

    @staticmethod
    def _wycheproof(adapter: Adapter, primitive: Any, params: ConformanceParams, check: str,
                    algorithm: str) -> list[Measurement]:
        directory = Path(params.vectors_dir) if params.vectors_dir else default_vectors_dir()
        path = vector_file(directory, check, algorithm)
        rows = []
        for group in run_file(primitive, adapter.name, path, check):
            labels = {"vector_file": path.name, "test_group": str(group.index)}
            if group.skip_notes:
                labels["detail"] = "skipped: " + "; ".join(group.skip_notes)
            fail_labels = {**labels, **({"failure_reason": "; ".join(group.failures[:3])[:500]}
                                        if group.failures else {})}
            rows += [Measurement("vectors_passed", group.passed, "count", group.index, labels),
                     Measurement("vectors_failed", group.failed, "count", group.index, fail_labels),
                     Measurement("vectors_skipped", group.skipped, "count", group.index, labels)]
            if group.passed + group.failed:
                rows.append(Measurement("wycheproof_pass", int(group.failed == 0), "bool", group.index,
                                        fail_labels))
        return rows

    @staticmethod
    def _reference(adapter: Adapter, primitive: Any, params: ConformanceParams, algorithm: str,
                   seed: int) -> list[Measurement]:
        if adapter.name == params.reference_adapter:
            raise NotApplicable(f"{adapter.name} is the reference: nothing to compare with")
        oracle = primitive_of(adapter_class(params.reference_adapter)(), algorithm)
        kem = algorithm.startswith("ML-KEM")
        protocol = KemFromSeed if kem else SignerFromSeed
        seeded = isinstance(primitive, protocol) and isinstance(oracle, protocol)
        if kem and not seeded:
            raise NotApplicable(f"{adapter.name}'s or {params.reference_adapter}'s {algorithm} offers no key "
                                "generation from a seed")
        rng = random.Random(seed)
        seed_bytes = 64 if kem else 32
        # An ML-DSA without seeded key generation is still cross-checked: each side verifies the other's.
        compare = _agree_kem if kem else _agree_signature if seeded else _cross_verify
        rows = []
        n = params.seeded_samples
        for i in range(n):
            why = _judged(compare, primitive, oracle, rng.randbytes(seed_bytes), rng, (i, n))
            rows.append(Measurement("reference_agreement", int(not why), "bool", i,
                                    {"failure_reason": why} if why else {}))
        what = "a disagreement with the reference (keys, ciphertext, secret or rejection value)" if kem else \
            "a disagreement with the reference (keys or signatures)"
        return [*rows, _power_row(n, what)]


def _judged(check: Any, *args: Any) -> str:
    """check(*args): its reason for failing ("" when it passed); an exception from either side fails."""
    try:
        return check(*args)
    except Exception as exc:  # the library refused a valid input or broke: a disagreement, with its type
        return f"raised {type(exc).__name__} on a valid input"


def _power_row(samples: int, what: str) -> Measurement:
    return Measurement("detectable_defect_rate", detectable_rate(samples), "fraction", 0,
                       {"detection_power": statement(samples, what)})


def _agree_kem(kem: Any, oracle: Any, seed: bytes, rng: random.Random, where: tuple[int, int]) -> str:
    public_key, secret_key = kem.keygen_from_seed(seed)
    oracle_public, oracle_secret = oracle.keygen_from_seed(seed)
    if kem.public_key_bytes(public_key) != oracle.public_key_bytes(oracle_public):
        return "ek from the same seed differs from the reference's"
    own_dk, oracle_dk = kem.secret_key_bytes(secret_key), oracle.secret_key_bytes(oracle_secret)
    if len(own_dk) == len(oracle_dk) and own_dk != oracle_dk:
        return "expanded dk from the same seed differs from the reference's"
    if isinstance(kem, KemDerandomised) and isinstance(oracle, KemDerandomised):
        m = rng.randbytes(32)
        if kem.encaps_derand(public_key, m) != oracle.encaps_derand(oracle_public, m):
            return "ciphertext or secret from the same m differs from the reference's"
    ciphertext, shared = oracle.encaps(oracle_public)
    if kem.decaps(secret_key, ciphertext) != shared:
        return "decapsulates the reference's ciphertext to a different secret"
    i, n = where  # the corrupted bit walks across the whole ciphertext (u and v) over the seeds
    bit = (i * 8 * len(ciphertext)) // n + rng.randrange(8)
    corrupted = bytearray(ciphertext)
    corrupted[bit // 8] ^= 1 << (bit % 8)
    if kem.decaps(secret_key, bytes(corrupted)) != oracle.decaps(oracle_secret, bytes(corrupted)):
        return f"implicit-rejection value for ciphertext bit {bit} flipped differs from the reference's"
    return ""


def _agree_signature(signer: Any, oracle: Any, seed: bytes, rng: random.Random,
                     where: tuple[int, int]) -> str:
    public_key, secret_key = signer.keygen_from_seed(seed)
    oracle_public, oracle_secret = oracle.keygen_from_seed(seed)
    if signer.public_key_bytes(public_key) != oracle.public_key_bytes(oracle_public):
        return "public key from the same seed differs from the reference's"
    message = rng.randbytes(48)
    if isinstance(signer, SignerDeterministic) and isinstance(oracle, SignerDeterministic):
        ours = signer.sign_deterministic(secret_key, message)
        if ours != oracle.sign_deterministic(oracle_secret, message):
            return "deterministic signature differs from the reference's"
    if not oracle.verify(oracle_public, message, signer.sign(secret_key, message)):
        return "the reference rejects this adapter's signature"
    if not signer.verify(public_key, message, oracle.sign(oracle_secret, message)):
        return "rejects the reference's signature"
    return ""


def _cross_verify(signer: Any, oracle: Any, seed: bytes, rng: random.Random,
                  where: tuple[int, int]) -> str:
    message = rng.randbytes(48)
    public_key, secret_key = signer.keygen()
    oracle_key = oracle.load_public_key(signer.public_key_bytes(public_key))
    if not oracle.verify(oracle_key, message, signer.sign(secret_key, message)):
        return "the reference rejects this adapter's signature (keys from this adapter)"
    oracle_public, oracle_secret = oracle.keygen()
    own_key = signer.load_public_key(oracle.public_key_bytes(oracle_public))
    if not signer.verify(own_key, message, oracle.sign(oracle_secret, message)):
        return "rejects the reference's signature (keys from the reference)"
    return ""


def _round_trips(primitive: Any, params: ConformanceParams, seed: int) -> list[Measurement]:
    """Self-consistency at a sample count the slow reference cannot reach: many operations, each
    judged exactly (the KEM's rejection value against J(z‖c') computed here)."""
    rng = random.Random(seed)
    kem = hasattr(primitive, "encaps")
    deadline = time.monotonic() + params.budget_s
    rows: list[Measurement] = []
    keys = None
    for i in range(params.round_trip_samples):
        if rows and time.monotonic() > deadline:
            break
        if i % 100 == 0:  # a fresh key pair every 100 operations
            keys = primitive.keygen()
        why = _judged(_kem_round_trip if kem else _signature_round_trip, primitive, keys, rng)
        labels = {"failure_reason": why} if why else {}
        rows.append(Measurement("round_trip_ok", int(not why), "bool", i, labels))
    what = "a wrong shared secret or rejection value" if kem else "a wrong signature or verdict"
    return [*rows, _power_row(len(rows), what)]


def _kem_round_trip(kem: Any, keys: Any, rng: random.Random) -> str:
    public_key, secret_key = keys
    ciphertext, shared = kem.encaps(public_key)
    if not hmac.compare_digest(kem.decaps(secret_key, ciphertext), shared):
        return "decapsulated a different secret than was encapsulated"
    bit = rng.randrange(8 * len(ciphertext))
    corrupted = bytearray(ciphertext)
    corrupted[bit // 8] ^= 1 << (bit % 8)
    expected = implicit_rejection_value(kem.secret_key_bytes(secret_key), bytes(corrupted))
    try:
        got = kem.decaps(secret_key, bytes(corrupted))
    except Exception as exc:
        return f"raised {type(exc).__name__} for a corrupted ciphertext instead of implicit rejection"
    if not hmac.compare_digest(got, expected):
        return f"the value for a ciphertext with bit {bit} flipped is not J(z‖c') of FIPS 203"
    return ""


def _signature_round_trip(signer: Any, keys: Any, rng: random.Random) -> str:
    public_key, secret_key = keys
    message = rng.randbytes(32)
    signature = signer.sign(secret_key, message)
    if not signer.verify(public_key, message, signature):
        return "a fresh signature does not verify"
    bit = rng.randrange(8 * len(message))
    other = bytearray(message)
    other[bit // 8] ^= 1 << (bit % 8)
    if signer.verify(public_key, bytes(other), signature):
        return f"a signature verified over the message with bit {bit} flipped"
    return ""
