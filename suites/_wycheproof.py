"""Wycheproof ML-KEM and ML-DSA vectors (C2SP/wycheproof, testvectors_v1) run through the Kem and
Signer protocols. One function per vector-file type; each judges one test and returns
(outcome, note) with outcome "pass", "fail" or "skip". Notes name test ids and what happened,
never key or secret bytes.

What the protocols allow, and so what is checked:
* mlkem_N_test.json: keys from the seed (needs KemFromSeed), ek compared, decapsulation of c
  compared with K; invalid seeds and ciphertext lengths must be rejected.
* mlkem_N_encaps_test.json: valid ek must be accepted, and with encapsulation from the vector's m
  (KemDerandomised) c and K must equal the vector's; without it the values cannot be compared and
  the vector counts as skipped once the key was accepted. Invalid ek (coefficients ≥ q, wrong
  length) must be rejected, FIPS 203 §7.2.
* mlkem_N_keygen_seed_test.json: ek from the seed compared; dk compared where the library's own
  secret-key encoding is the expanded dk.
* mlkem_N_semi_expanded_decaps_test.json: decapsulation with an expanded dk (needs
  KemExpandedSecretKey); malformed dk or ciphertext must be rejected (FIPS 203 §7.3 checks).
* mldsa_N_verify_test.json: verification against the expected result; vectors with a non-empty
  context are skipped (the Signer API uses the empty context).
* mldsa_N_sign_seed_test.json: the public key derived from the seed (needs SignerFromSeed) must
  match; the vector's signature must verify and a fresh one of ours too; with deterministic
  signing (SignerDeterministic) our signature must equal the vector's byte for byte.
* mldsa_N_sign_noseed_test.json: the vector's signature must verify under the group's public key;
  with an expanded sk loader (SignerExpandedSecretKey) and deterministic signing our signature must
  equal the vector's, and malformed private keys must be refused; without them those are skipped.
"""

from __future__ import annotations

import json
import lzma
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.adapters import (
    KemDerandomised,
    KemExpandedSecretKey,
    KemFromSeed,
    NotApplicable,
    SignerDeterministic,
    SignerExpandedSecretKey,
    SignerFromSeed,
)

Outcome = tuple[str, str]
WYCHEPROOF_URL = "https://github.com/C2SP/wycheproof (folder testvectors_v1)"


@dataclass(frozen=True)
class GroupResult:
    index: int
    passed: int
    failed: int
    skipped: int
    failures: list[str]
    skip_notes: list[str]


def vector_file(directory: Path, check: str, algorithm: str) -> Path:
    """The vector file for `check`: FILE.json if the directory has it, else FILE.json.xz (the
    compressed form qsbench ships); the plain name when neither exists."""
    size = algorithm.rsplit("-", 1)[1]  # ML-KEM-768 → 768, ML-DSA-65 → 65
    family = "mlkem" if algorithm.startswith("ML-KEM") else "mldsa"
    middle = "" if check == "mlkem" else f"{check}_"  # the plain ML-KEM file is mlkem_768_test.json
    plain = directory / f"{family}_{size}_{middle}test.json"
    compressed = plain.with_name(plain.name + ".xz")
    return compressed if not plain.is_file() and compressed.is_file() else plain


def read_vectors(path: Path) -> dict[str, Any]:
    data = lzma.decompress(path.read_bytes()) if path.suffix == ".xz" else path.read_bytes()
    return json.loads(data)


def _hex(value: str) -> bytes:
    return bytes.fromhex(value)


def _raises(call: Callable[[], Any]) -> BaseException | None:
    try:
        call()
    except Exception as exc:  # a clean Python error is what rejecting bad input looks like
        return exc
    return None


def _describe(test: dict[str, Any]) -> str:
    return f"tcId {test['tcId']} ({test.get('comment') or ', '.join(test.get('flags', [])) or 'no comment'})"


def mlkem_decaps_from_seed(kem: Any, group: dict, test: dict) -> Outcome:
    valid = test["result"] == "valid"
    try:
        public_key, secret_key = kem.keygen_from_seed(_hex(test["seed"]))
    except Exception as exc:
        return ("fail", f"seed rejected: {type(exc).__name__}") if valid else ("pass", "")
    if valid and kem.public_key_bytes(public_key) != _hex(test["ek"]):
        return "fail", "ek from the seed differs from the vector's"
    try:
        shared = kem.decaps(secret_key, _hex(test["c"]))
    except Exception as exc:
        return ("fail", f"decapsulation raised {type(exc).__name__}") if valid else ("pass", "")
    if not valid:
        return "fail", f"accepted: returned a {len(shared)}-byte secret instead of rejecting"
    return ("pass", "") if shared == _hex(test["K"]) else ("fail", "shared secret differs from K")


def mlkem_encaps(kem: Any, group: dict, test: dict) -> Outcome:
    valid = test["result"] == "valid"
    result: list[Any] = []
    error = _raises(lambda: result.append(kem.encaps(kem.load_public_key(_hex(test["ek"])))))
    if error is not None:
        return ("fail", f"valid ek rejected: {type(error).__name__}") if valid else ("pass", "")
    if not valid:
        return "fail", "invalid ek accepted (FIPS 203 §7.2 input check missing)"
    ciphertext, shared = result[0]
    if len(ciphertext) != len(_hex(test["c"])) or len(shared) != 32:
        return "fail", f"ciphertext of {len(ciphertext)} bytes or secret of {len(shared)} bytes"
    if not isinstance(kem, KemDerandomised):
        return "skip", "no encapsulation with a given m: key acceptance and lengths checked, not c and K"
    ciphertext, shared = kem.encaps_derand(kem.load_public_key(_hex(test["ek"])), _hex(test["m"]))
    if ciphertext != _hex(test["c"]):
        return "fail", "ciphertext from the vector's m differs from c"
    if shared != _hex(test["K"]):
        return "fail", "shared secret from the vector's m differs from K"
    return "pass", ""


def mlkem_keygen_seed(kem: Any, group: dict, test: dict) -> Outcome:
    public_key, secret_key = kem.keygen_from_seed(_hex(test["seed"]))
    if kem.public_key_bytes(public_key) != _hex(test["ek"]):
        return "fail", "ek from the seed differs from the vector's"
    own = kem.secret_key_bytes(secret_key)
    if len(own) == len(_hex(test["dk"])) and own != _hex(test["dk"]):
        return "fail", "expanded dk differs from the vector's"
    return "pass", ""


def mlkem_expanded_decaps(kem: Any, group: dict, test: dict) -> Outcome:
    valid = test["result"] == "valid"
    result: list[bytes] = []
    error = _raises(lambda: result.append(kem.decaps(kem.load_secret_key(_hex(test["dk"])), _hex(test["c"]))))
    if error is not None:
        return ("fail", f"raised {type(error).__name__}") if valid else ("pass", "")
    if not valid:
        return "fail", "malformed input accepted (FIPS 203 §7.3 input check missing)"
    return ("pass", "") if result[0] == _hex(test["K"]) else ("fail", "shared secret differs from K")


def mldsa_verify(signer: Any, group: dict, test: dict) -> Outcome:
    if test.get("ctx"):
        return "skip", "non-empty context (the Signer API verifies with the empty context)"
    valid = test["result"] == "valid"
    verdict: list[bool] = []
    error = _raises(lambda: verdict.append(signer.verify(signer.load_public_key(_hex(group["publicKey"])),
                                                         _hex(test["msg"]), _hex(test["sig"]))))
    accepted = error is None and verdict[0]
    if test["result"] == "acceptable" or accepted == valid:
        return "pass", ""
    return "fail", "valid signature rejected" if valid else "invalid signature accepted"


def mldsa_sign_seed(signer: Any, group: dict, test: dict) -> Outcome:
    if "msg" not in test:
        return "skip", "external-mu vector (the Signer API signs messages)"
    if test.get("ctx"):
        return "skip", "non-empty context (the Signer API signs with the empty context)"
    valid = test["result"] == "valid"
    try:
        public_key, secret_key = signer.keygen_from_seed(_hex(group["privateSeed"]))
    except Exception as exc:
        return ("fail", f"seed rejected: {type(exc).__name__}") if valid else ("pass", "")
    if not valid:
        return "fail", "invalid seed accepted"
    if signer.public_key_bytes(public_key) != _hex(group["publicKey"]):
        return "fail", "public key from the seed differs from the vector's"
    message = _hex(test["msg"])
    if not signer.verify(public_key, message, _hex(test["sig"])):
        return "fail", "the vector's signature does not verify"
    if not signer.verify(public_key, message, signer.sign(secret_key, message)):
        return "fail", "a fresh signature from the seeded key does not verify"
    # Vectors flagged Randomized hold a hedged signature: it verifies, but no deterministic one equals it.
    deterministic = isinstance(signer, SignerDeterministic) and "Randomized" not in test.get("flags", [])
    if deterministic and signer.sign_deterministic(secret_key, message) != _hex(test["sig"]):
        return "fail", "deterministic signature differs from the vector's"
    return "pass", ""


def mldsa_sign_noseed(signer: Any, group: dict, test: dict) -> Outcome:
    if "msg" not in test:
        return "skip", "external-mu vector (the Signer API signs messages)"
    if test.get("ctx"):
        return "skip", "non-empty context (the Signer API signs with the empty context)"
    derandomised = isinstance(signer, SignerExpandedSecretKey) and isinstance(signer, SignerDeterministic)
    randomized = "Randomized" in test.get("flags", [])  # a hedged signature: verified, not compared
    message = _hex(test["msg"])
    if test["result"] != "valid":
        if not derandomised:
            return "skip", "malformed private key: the library cannot load an expanded sk"
        error = _raises(lambda: signer.sign_deterministic(signer.load_secret_key(_hex(group["privateKey"])),
                                                          message))
        return ("pass", "") if error is not None else ("fail", "malformed private key accepted for signing")
    if not signer.verify(signer.load_public_key(_hex(group["publicKey"])), message, _hex(test["sig"])):
        return "fail", "the vector's signature does not verify"
    if not derandomised or randomized:
        return "pass", ""
    ours = signer.sign_deterministic(signer.load_secret_key(_hex(group["privateKey"])), message)
    if ours != _hex(test["sig"]):
        return "fail", "deterministic signature differs from the vector's"
    return "pass", ""


# check name → (judge, optional protocol the primitive must implement, what that protocol gives)
CHECKS: dict[str, tuple[Callable[[Any, dict, dict], Outcome], type | None, str]] = {
    "mlkem": (mlkem_decaps_from_seed, KemFromSeed, "key generation from a seed"),
    "encaps": (mlkem_encaps, None, ""),
    "keygen_seed": (mlkem_keygen_seed, KemFromSeed, "key generation from a seed"),
    "semi_expanded_decaps": (mlkem_expanded_decaps, KemExpandedSecretKey, "loading an expanded dk"),
    "verify": (mldsa_verify, None, ""),
    "sign_seed": (mldsa_sign_seed, SignerFromSeed, "key generation from a seed"),
    "sign_noseed": (mldsa_sign_noseed, None, ""),
}
KEM_CHECKS = ("mlkem", "encaps", "keygen_seed", "semi_expanded_decaps")
SIGNATURE_CHECKS = ("verify", "sign_seed", "sign_noseed")


def run_file(primitive: Any, vendor: str, path: Path, check: str) -> Iterator[GroupResult]:
    judge, needs, what = CHECKS[check]
    if needs is not None and not isinstance(primitive, needs):
        raise NotApplicable(f"{vendor}'s {primitive.algorithm} offers no {what} ({needs.__name__})")
    if not path.is_file():
        raise NotApplicable(f"vector file {path.name} not found in {path.parent}; get the vectors from "
                            f"{WYCHEPROOF_URL} and point vectors_dir or QSBENCH_WYCHEPROOF_DIR at them")
    data = read_vectors(path)
    for index, group in enumerate(data["testGroups"]):
        counts = {"pass": 0, "fail": 0, "skip": 0}
        failures: list[str] = []
        skips: set[str] = set()
        for test in group["tests"]:
            outcome, note = judge(primitive, group, test)
            counts[outcome] += 1
            if outcome == "fail":
                failures.append(f"{_describe(test)}: {note}")
            elif outcome == "skip":
                skips.add(note)
        yield GroupResult(index, counts["pass"], counts["fail"], counts["skip"], failures, sorted(skips))
