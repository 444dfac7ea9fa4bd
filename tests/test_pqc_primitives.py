"""The pqc_primitives suite: its params, its cases, and what measure() yields on real libraries."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from pydantic import ValidationError

from harness import registry
from harness.adapters import NotApplicable
from harness.manifest import new_manifest
from harness.plan import param_columns, plan
from harness.runner import Runner
from harness.scenario import load_scenario, parse_scenario
from harness.store import RunStore, row_columns
from harness.suite import MeasureContext
from suites.pqc_primitives import CorrectnessError, PQCPrimitives, measure_kem, measure_signer

REPO = Path(__file__).resolve().parent.parent
SUITE = PQCPrimitives()


def ctx(tmp_path: Path, seed: int = 7) -> MeasureContext:
    return MeasureContext(seed=seed, work_dir=tmp_path, timeout_s=60)


def params(**kw):
    return SUITE.Params(**kw)


def by_metric(rows):
    out: dict[str, list] = {}
    for r in rows:
        out.setdefault(r.metric, []).append(r)
    return out


def test_registered_and_requires_nothing_up_front():
    assert registry.suite_class("pqc_primitives") is PQCPrimitives
    assert PQCPrimitives.requires == frozenset()


def test_params_defaults_and_validation():
    p = params(algorithms=["ML-KEM-768"])
    assert (p.samples, p.warmup, p.message_bytes) == (200, 20, 32)
    with pytest.raises(ValidationError, match=r"unknown algorithm.*Kyber768"):
        params(algorithms=["Kyber768"])
    with pytest.raises(ValidationError, match="listed twice"):
        params(algorithms=["X25519", "X25519"])
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        params(algorithms=["X25519"], iterations=3)
    with pytest.raises(ValidationError, match="greater than or equal to 1"):
        params(algorithms=["X25519"], samples=0)
    with pytest.raises(ValidationError, match="at least 1 item"):
        params(algorithms=[])


def test_one_case_per_algorithm():
    p = params(algorithms=["ML-KEM-768", "ML-DSA-65", "Ed25519"])
    assert SUITE.cases(p) == [{"algorithm": a} for a in ("ML-KEM-768", "ML-DSA-65", "Ed25519")]


def test_kem_case_yields_every_sample_and_the_sizes(tmp_path):
    adapter = registry.adapter_class("openssl")()
    rows = SUITE.measure(adapter, params(algorithms=["ML-KEM-768"], samples=25, warmup=3),
                         {"algorithm": "ML-KEM-768"}, ctx(tmp_path))
    metrics = by_metric(rows)
    for op in ("keygen_us", "encaps_us", "decaps_us"):
        assert [r.sample for r in metrics[op]] == list(range(25))
        assert all(r.unit == "us" and 0 < r.value < 1e6 for r in metrics[op])
    sizes = {m: (metrics[m][0].value, metrics[m][0].unit, len(metrics[m]))
             for m in ("public_key_bytes", "secret_key_bytes", "ciphertext_bytes")}
    # FIPS 203 sizes; OpenSSL keeps the 64-byte seed (d, z) as its secret key.
    assert sizes == {"public_key_bytes": (1184, "bytes", 1), "secret_key_bytes": (64, "bytes", 1),
                     "ciphertext_bytes": (1088, "bytes", 1)}
    assert set(metrics) == {"keygen_us", "encaps_us", "decaps_us", *sizes}
    assert metrics["secret_key_bytes"][0].labels == {"secret_key_encoding": "seed"}  # the row says so


def test_signature_case_yields_every_sample_and_the_sizes(tmp_path):
    adapter = registry.adapter_class("pqclean")()
    rows = SUITE.measure(adapter, params(algorithms=["ML-DSA-44"], samples=30, warmup=2, message_bytes=100),
                         {"algorithm": "ML-DSA-44"}, ctx(tmp_path))
    metrics = by_metric(rows)
    assert Counter(r.metric for r in rows) == {"keygen_us": 30, "sign_us": 30, "verify_us": 30,
                                               "public_key_bytes": 1, "secret_key_bytes": 1,
                                               "signature_bytes": 1}
    assert [r.sample for r in metrics["sign_us"]] == list(range(30))
    assert (metrics["public_key_bytes"][0].value, metrics["secret_key_bytes"][0].value,
            metrics["signature_bytes"][0].value) == (1312, 2560, 2420)
    assert metrics["secret_key_bytes"][0].labels == {"secret_key_encoding": "full key"}


def test_falcon_reports_its_largest_signature(tmp_path):
    adapter = registry.adapter_class("pqclean")()
    rows = SUITE.measure(adapter, params(algorithms=["Falcon-512"], samples=20, warmup=0),
                         {"algorithm": "Falcon-512"}, ctx(tmp_path))
    size = by_metric(rows)["signature_bytes"]
    assert len(size) == 1 and 600 < size[0].value <= 752  # compressed, variable length


def test_reference_adapter_runs_through_the_suite(tmp_path):
    adapter = registry.adapter_class("reference")()
    rows = SUITE.measure(adapter, params(algorithms=["ML-KEM-512"], samples=3, warmup=0),
                         {"algorithm": "ML-KEM-512"}, ctx(tmp_path))
    assert Counter(r.metric for r in rows)["decaps_us"] == 3
    (size,) = by_metric(rows)["secret_key_bytes"]
    assert size.value == 1632 and size.labels == {"secret_key_encoding": "full key"}  # expanded FIPS 203


def test_missing_algorithm_or_capability_is_not_applicable(tmp_path):
    openssl = registry.adapter_class("openssl")()
    p = params(algorithms=["ML-KEM-512"], samples=1, warmup=0)
    with pytest.raises(NotApplicable, match=r"^openssl has no ML-KEM-512 \(it offers: ML-KEM-768"):
        SUITE.measure(openssl, p, {"algorithm": "ML-KEM-512"}, ctx(tmp_path))
    signer_only = registry.adapter_class("signer-only")()  # test plugin with `signature` only
    with pytest.raises(NotApplicable, match=r"^signer-only has no kem \(needed for ML-KEM-512\)$"):
        SUITE.measure(signer_only, p, {"algorithm": "ML-KEM-512"}, ctx(tmp_path))


# Faulty libraries, as test doubles around a real one: the suite must notice and say so
# without putting any key material in the message.

class _WrongSecretKem:
    def __init__(self, kem):
        self._kem, self.algorithm, self.secret_key_encoding = kem, kem.algorithm, kem.secret_key_encoding
        self.keygen, self.encaps = kem.keygen, kem.encaps
        self.public_key_bytes, self.secret_key_bytes = kem.public_key_bytes, kem.secret_key_bytes
        self.secrets: list[bytes] = []

    def decaps(self, secret_key, ciphertext):
        good = self._kem.decaps(secret_key, ciphertext)
        self.secrets.append(good)
        return bytes(b ^ 0xFF for b in good)


class _AcceptingSigner:
    def __init__(self, signer):
        self.algorithm, self.secret_key_encoding = signer.algorithm, signer.secret_key_encoding
        self.keygen, self.sign = signer.keygen, signer.sign
        self.public_key_bytes, self.secret_key_bytes = signer.public_key_bytes, signer.secret_key_bytes

    def verify(self, public_key, message, signature):
        return True


def test_a_wrong_shared_secret_fails_the_case_without_leaking_it():
    kem = _WrongSecretKem(registry.adapter_class("openssl")().kem("X25519"))
    with pytest.raises(CorrectnessError, match="differed from the encapsulated one in 4 of 4") as err:
        measure_kem(kem, warmup=1, samples=3)
    text = str(err.value)
    assert not any(s.hex() in text or repr(s) in text for s in kem.secrets)


def test_a_verifier_that_accepts_anything_fails_the_case():
    signer = _AcceptingSigner(registry.adapter_class("openssl")().signer("Ed25519"))
    with pytest.raises(CorrectnessError, match="verified over a different message"):
        measure_signer(signer, warmup=0, samples=2, message_bytes=16, seed=1)


def test_empty_messages_are_signed(tmp_path):
    adapter = registry.adapter_class("openssl")()
    p = params(algorithms=["ECDSA-P256"], samples=5, warmup=0, message_bytes=0)
    rows = SUITE.measure(adapter, p, {"algorithm": "ECDSA-P256"}, ctx(tmp_path))
    assert by_metric(rows)["signature_bytes"][0].value in (70, 71, 72)  # DER-encoded (r, s)


def test_shipped_scenario_validates():
    loaded = load_scenario(REPO / "suites/scenarios/pqc_primitives.yaml")
    assert [c["algorithm"] for c in SUITE.cases(loaded.params[0])][:2] == ["ML-KEM-768", "ML-DSA-65"]


def test_runner_records_measurements_and_na_cases(tmp_path):
    text = """\
name: pqc-small
seed: 3
timeout_s: 60
vendors: [openssl, pqclean]
suites:
  - suite: pqc_primitives
    params: {algorithms: [ML-KEM-512, ML-DSA-44], samples: 4, warmup: 1}
"""
    loaded = parse_scenario(text)
    cases = plan(loaded)
    columns = param_columns(cases)
    manifest = new_manifest(loaded, "run-1", 3, row_columns(columns, list(SUITE.label_columns)),
                            list(columns), len(cases))
    store = RunStore.create(tmp_path / "run-1", manifest)
    Runner(store, loaded).run(cases)
    df = store.read()
    status = {(r.vendor, r.algorithm): (r.status, r.reason)
              for r in df.drop_duplicates("case_id").itertuples()}
    assert status[("openssl", "ML-KEM-512")][0] == "na"
    assert status[("openssl", "ML-KEM-512")][1].startswith("openssl has no ML-KEM-512")
    assert {k: v[0] for k, v in status.items() if k != ("openssl", "ML-KEM-512")} == {
        ("pqclean", "ML-KEM-512"): "ok", ("openssl", "ML-DSA-44"): "ok", ("pqclean", "ML-DSA-44"): "ok"}
    sign = df[(df.metric == "sign_us") & (df.vendor == "openssl")]
    assert sorted(sign["sample"]) == [0, 1, 2, 3] and (sign["unit"] == "us").all()


class _IgnoresOneBit:
    """Test double: a real ML-DSA whose verify ignores one bit inside z (the signature's middle)."""

    def __init__(self, signer, bit):
        self._signer, self._bit = signer, bit

    def verify(self, public_key, message, signature):
        flipped = bytearray(signature)
        if flipped:
            flipped[self._bit // 8] ^= 1 << (self._bit % 8)
        return self._signer.verify(public_key, message, signature) or \
            self._signer.verify(public_key, message, bytes(flipped))

    def __getattr__(self, name):
        return getattr(self._signer, name)


def test_the_post_timing_check_flips_bits_across_the_signature_not_one_fixed_position():
    real = registry.adapter_class("pqclean")().signer("ML-DSA-44")
    # 64 flips over 2420 bytes land on bit i*19360//64 + i%8: bit 9680 (i = 32) lies inside z.
    with pytest.raises(CorrectnessError, match="bit 9680 flipped verified"):
        measure_signer(_IgnoresOneBit(real, 9680), warmup=0, samples=64, message_bytes=16, seed=1)
