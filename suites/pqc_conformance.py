"""Conformance of each PQC adapter's ML-KEM and ML-DSA: Wycheproof vectors, agreement with the
reference implementation, and behaviour on invalid input.

Cases: check × algorithm, for checks
* `wycheproof:<file type>` (see suites/_wycheproof.py): per test group, rows `vectors_passed`,
  `vectors_failed`, `vectors_skipped` (count) and `wycheproof_pass` (1 when nothing failed), with
  labels `vector_file`, `test_group`, and the first failing test ids in `failure_reason`.
* `reference_agreement`: keys from the same seeds in this adapter and in `reference_adapter`
  (the pure-Python FIPS 203/204 implementation) must be identical; a ciphertext from one must
  decapsulate to the same secret in the other, and so must a corrupted ciphertext (the implicit
  rejection value J(z‖c) of FIPS 203); a signature from one must verify in the other.
  One `reference_agreement` row (0/1) per seed.
* `invalid_input`: a public key with a coefficient ≥ q must be refused by encapsulation (FIPS 203
  §7.2); truncated or over-long ciphertexts, keys and signatures must be refused with a Python
  exception or a False verdict, never accepted; a corrupted but well-formed ciphertext must
  decapsulate (not raise) to a 32-byte value unlike the real secret, the same value every time.
  One `input_check_ok` row (0/1) per check, label `input_check`. A crash of the library kills the
  case's worker process, which the runner records as a failed case.

Every case that judged something also gets one `conformant` row (0/1): all of its verdicts passed.

The vector directory: `vectors_dir`, else $QSBENCH_WYCHEPROOF_DIR, else the copy qsbench ships as
package data (suites/vectors/wycheproof: the C2SP/wycheproof ML-KEM and ML-DSA files, xz-compressed,
with their source and Apache-2.0 licence). A directory may hold FILE.json or FILE.json.xz; a file
missing from a directory given by the user makes that case n/a with where to get it.
"""

from __future__ import annotations

import os
import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field, field_validator

from harness.adapters import Adapter, Capability, KemFromSeed, NotApplicable, SignerFromSeed
from harness.registry import adapter_class
from harness.suite import MeasureContext, Measurement, Metric, Suite, SuiteParams
from suites._conformance_input import invalid_input_checks
from suites._params import known_names
from suites._wycheproof import KEM_CHECKS, SIGNATURE_CHECKS, run_file, vector_file

_ALGORITHMS = ("ML-KEM-512", "ML-KEM-768", "ML-KEM-1024", "ML-DSA-44", "ML-DSA-65", "ML-DSA-87")
_CHECKS = (*(f"wycheproof:{c}" for c in KEM_CHECKS + SIGNATURE_CHECKS), "reference_agreement",
           "invalid_input")
_SHIPPED_VECTORS = Path(__file__).resolve().parent / "vectors" / "wycheproof"
_VERDICT_METRICS = ("wycheproof_pass", "reference_agreement", "input_check_ok")


def default_vectors_dir() -> Path:
    env = os.environ.get("QSBENCH_WYCHEPROOF_DIR")
    return Path(env) if env else _SHIPPED_VECTORS


class ConformanceParams(SuiteParams):
    algorithms: list[str] = Field(list(_ALGORITHMS), min_length=1)
    checks: list[str] = Field(list(_CHECKS), min_length=1, description="which checks to run")
    vectors_dir: str | None = Field(None, description="Wycheproof testvectors_v1 directory")
    reference_adapter: str = Field("reference", description="adapter whose results are the oracle")
    seeded_samples: int = Field(5, ge=1, le=1000, description="seeds per reference-agreement case")

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
                                                "detail")
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
        else:
            rows = [Measurement("input_check_ok", int(ok), "bool", i,
                                {"input_check": name, **({"failure_reason": why} if why else {})})
                    for i, (name, ok, why) in enumerate(invalid_input_checks(primitive))]
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
        protocol = KemFromSeed if algorithm.startswith("ML-KEM") else SignerFromSeed
        for side, name in ((primitive, adapter.name), (oracle, params.reference_adapter)):
            if not isinstance(side, protocol):
                raise NotApplicable(f"{name}'s {algorithm} offers no key generation from a seed")
        rng = random.Random(seed)
        seed_bytes = 64 if algorithm.startswith("ML-KEM") else 32
        compare = _agree_kem if algorithm.startswith("ML-KEM") else _agree_signature
        rows = []
        for i in range(params.seeded_samples):
            why = compare(primitive, oracle, rng.randbytes(seed_bytes), rng)
            rows.append(Measurement("reference_agreement", int(not why), "bool", i,
                                    {"failure_reason": why} if why else {}))
        return rows


def _agree_kem(kem: Any, oracle: Any, seed: bytes, rng: random.Random) -> str:
    public_key, secret_key = kem.keygen_from_seed(seed)
    oracle_public, oracle_secret = oracle.keygen_from_seed(seed)
    if kem.public_key_bytes(public_key) != oracle.public_key_bytes(oracle_public):
        return "ek from the same seed differs from the reference's"
    ciphertext, shared = oracle.encaps(oracle_public)
    if kem.decaps(secret_key, ciphertext) != shared:
        return "decapsulates the reference's ciphertext to a different secret"
    corrupted = bytearray(ciphertext)
    corrupted[rng.randrange(len(corrupted))] ^= 1 << rng.randrange(8)
    if kem.decaps(secret_key, bytes(corrupted)) != oracle.decaps(oracle_secret, bytes(corrupted)):
        return "implicit-rejection value for a corrupted ciphertext differs from the reference's"
    return ""


def _agree_signature(signer: Any, oracle: Any, seed: bytes, rng: random.Random) -> str:
    public_key, secret_key = signer.keygen_from_seed(seed)
    oracle_public, _ = oracle.keygen_from_seed(seed)
    if signer.public_key_bytes(public_key) != oracle.public_key_bytes(oracle_public):
        return "public key from the same seed differs from the reference's"
    message = rng.randbytes(48)
    if not oracle.verify(oracle_public, message, signer.sign(secret_key, message)):
        return "the reference rejects this adapter's signature"
    return ""
