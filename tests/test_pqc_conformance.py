"""Suite pqc_conformance with the Wycheproof copy qsbench ships (suites/vectors/wycheproof)."""

from __future__ import annotations

import json
from collections import defaultdict

import pytest

from harness.adapters import Capability, KemDerandomised, KemFromSeed, NotApplicable
from harness.registry import adapter_class, adapter_names, suite_class
from harness.suite import MeasureContext
from suites._conformance_input import _with_unreduced_coefficient, invalid_input_checks
from suites._wycheproof import read_vectors, vector_file
from suites.pqc_conformance import ConformanceParams, default_vectors_dir

PQC = [n for n in adapter_names() if Capability.KEM in adapter_class(n).capabilities
       and adapter_class(n).availability().available]


def _measure(vendor, check, algorithm, tmp_path, **params):
    suite = suite_class("pqc_conformance")()
    p = ConformanceParams.model_validate({"algorithms": [algorithm], "checks": [check], **params})
    ctx = MeasureContext(seed=4, work_dir=tmp_path, timeout_s=120)
    rows = suite.measure(adapter_class(vendor)(), p, {"check": check, "algorithm": algorithm}, ctx)
    by = defaultdict(list)
    for row in rows:
        by[row.metric].append(row)
    return by


def _total(by, metric):
    return sum(r.value for r in by[metric])


@pytest.mark.parametrize("vendor", PQC)
@pytest.mark.parametrize(("check", "algorithm"), [
    ("wycheproof:mlkem", "ML-KEM-512"), ("wycheproof:encaps", "ML-KEM-512"),
    ("wycheproof:keygen_seed", "ML-KEM-512"), ("wycheproof:semi_expanded_decaps", "ML-KEM-512"),
    ("wycheproof:verify", "ML-DSA-44"), ("wycheproof:sign_seed", "ML-DSA-44"),
    ("wycheproof:sign_noseed", "ML-DSA-44")])
def test_every_vector_is_judged_and_valid_vectors_pass(vendor, check, algorithm, tmp_path):
    if vendor == "reference" and check in ("wycheproof:sign_seed", "wycheproof:mlkem",
                                           "wycheproof:sign_noseed"):
        pytest.skip(reason="pure Python: seconds per file; the reference runs these in the slow test below")
    try:
        by = _measure(vendor, check, algorithm, tmp_path)
    except NotApplicable as exc:
        assert "offers no" in str(exc) or "has no" in str(exc)
        return
    assert _total(by, "vectors_passed") + _total(by, "vectors_failed") > 0
    reasons = " ".join(r.labels.get("failure_reason", "") for r in by["vectors_failed"])
    # A library may fail to reject invalid input (a finding, reported); it must never reject valid input.
    for phrase in ("valid ek rejected", "valid signature rejected", "differs", "seed rejected", "raised"):
        assert phrase not in reasons, reasons[:300]
    failed = {r.sample: r.value for r in by["vectors_failed"]}
    assert all(r.value == int(failed[r.sample] == 0) for r in by["wycheproof_pass"])
    assert [r.value for r in by["conformant"]] == [int(all(r.value for r in by["wycheproof_pass"]))]


def test_encapsulation_vectors_are_compared_in_full_where_m_can_be_given(tmp_path):
    for vendor in PQC:
        kem = adapter_class(vendor)().kem("ML-KEM-768")
        by = _measure(vendor, "wycheproof:encaps", "ML-KEM-768", tmp_path)
        if isinstance(kem, KemDerandomised):  # every valid vector's c and K compared
            assert _total(by, "vectors_skipped") == 0 and _total(by, "vectors_passed") >= 132
        else:
            assert _total(by, "vectors_skipped") == 133  # the valid ones: only lengths could be checked


@pytest.mark.slow
@pytest.mark.parametrize(("check", "algorithm"), [("wycheproof:mlkem", "ML-KEM-768"),
                                                  ("wycheproof:sign_seed", "ML-DSA-65"),
                                                  ("wycheproof:verify", "ML-DSA-87")])
def test_reference_implementation_passes_everything(check, algorithm, tmp_path):
    by = _measure("reference", check, algorithm, tmp_path)
    assert _total(by, "vectors_failed") == 0 and _total(by, "vectors_passed") > 50


@pytest.mark.parametrize("vendor", PQC)
def test_modulus_check_agrees_between_wycheproof_and_our_own_probe(vendor, tmp_path):
    wycheproof = _measure(vendor, "wycheproof:encaps", "ML-KEM-768", tmp_path)
    reasons = " ".join(r.labels.get("failure_reason", "") for r in wycheproof["vectors_failed"])
    own = _measure(vendor, "invalid_input", "ML-KEM-768", tmp_path)
    probe = next(r for r in own["input_check_ok"] if r.labels["input_check"] == "public_key_coefficient_ge_q")
    assert (probe.value == 1) == ("ModulusOverflow" not in reasons)


def test_shipped_vectors_are_found_by_default_and_the_environment_overrides(tmp_path, monkeypatch):
    monkeypatch.delenv("QSBENCH_WYCHEPROOF_DIR", raising=False)
    shipped = default_vectors_dir()
    names = {p.name for p in shipped.iterdir()}
    assert {"LICENSE", "SOURCE.md", "mlkem_768_encaps_test.json.xz",
            "mldsa_87_sign_noseed_test.json.xz"} <= names
    assert len([n for n in names if n.endswith(".json.xz")]) == 21
    # A plain-JSON copy elsewhere wins over the shipped one when named.
    data = read_vectors(vector_file(shipped, "verify", "ML-DSA-44"))
    data["testGroups"] = data["testGroups"][:1]
    data["testGroups"][0]["tests"] = data["testGroups"][0]["tests"][:2]
    (tmp_path / "mldsa_44_verify_test.json").write_text(json.dumps(data))
    monkeypatch.setenv("QSBENCH_WYCHEPROOF_DIR", str(tmp_path))
    by = _measure(PQC[0], "wycheproof:verify", "ML-DSA-44", tmp_path)
    assert _total(by, "vectors_passed") + _total(by, "vectors_failed") + _total(by, "vectors_skipped") == 2


def test_missing_vectors_are_not_applicable_with_where_to_get_them(tmp_path):
    with pytest.raises(NotApplicable, match=r"github\.com/C2SP/wycheproof"):
        _measure(PQC[0], "wycheproof:verify", "ML-DSA-44", tmp_path, vectors_dir=str(tmp_path))


@pytest.mark.parametrize("vendor", [v for v in PQC if v != "reference"])
def test_seeded_keys_and_implicit_rejection_agree_with_the_reference(vendor, tmp_path):
    if not isinstance(adapter_class(vendor)().kem("ML-KEM-768"), KemFromSeed):
        with pytest.raises(NotApplicable, match="seed"):
            _measure(vendor, "reference_agreement", "ML-KEM-768", tmp_path)
        return
    for algorithm in ("ML-KEM-768", "ML-DSA-44"):
        by = _measure(vendor, "reference_agreement", algorithm, tmp_path, seeded_samples=3)
        assert [r.value for r in by["reference_agreement"]] == [1, 1, 1]


def test_unreduced_coefficient_encoding_is_4095_at_index_0():
    key = bytes(range(1, 7))
    bad = _with_unreduced_coefficient(key)
    assert bad[0] | (bad[1] & 0x0F) << 8 == 4095 >= 3329
    assert (bad[1] >> 4, bad[2:]) == (key[1] >> 4, key[2:])  # coefficient 1 and the rest untouched


class _Accepting:
    """Test double: a real KEM whose decapsulation ignores the ciphertext and returns the last
    encapsulated secret, as a library without any ciphertext check would; no real library here
    behaves so, and the checks must catch it. It keeps the first secret: later encapsulations to
    malformed keys must not change what it answers."""

    def __init__(self, kem):
        self._kem = kem
        self._last = b""

    def encaps(self, public_key):
        ciphertext, shared = self._kem.encaps(public_key)
        self._last = self._last or shared
        return ciphertext, shared

    def decaps(self, secret_key, ciphertext):
        return self._last

    def __getattr__(self, name):
        return getattr(self._kem, name)


@pytest.mark.parametrize("vendor", PQC)
def test_invalid_input_checks_pass_for_real_kems_and_catch_an_accepting_one(vendor):
    kem = adapter_class(vendor)().kem("ML-KEM-768")
    names = {name for name, ok, _, _ in invalid_input_checks(kem) if ok}
    assert {"ciphertext_truncated", "ciphertext_too_long", "ciphertext_corrupted_implicit_rejection"} <= names
    broken = {name: ok for name, ok, _, _ in invalid_input_checks(_Accepting(kem))}
    assert not broken["ciphertext_truncated"] and not broken["ciphertext_corrupted_implicit_rejection"]
