"""Suite interop: the KEM, signature and TLS matrices across every available adapter pair."""

from __future__ import annotations

import itertools

import pytest

from harness.adapters import Capability, NotApplicable
from harness.plan import plan
from harness.registry import adapter_class, adapter_names, suite_class
from harness.scenario import parse_scenario
from harness.suite import MeasureContext

AVAILABLE = [n for n in adapter_names() if adapter_class(n).availability().available]
PQC = [n for n in AVAILABLE if Capability.KEM in adapter_class(n).capabilities]
TLS = [n for n in AVAILABLE if Capability.TLS13 in adapter_class(n).capabilities]
FAST_PQC = [n for n in PQC if n != "reference"]


def _measure_all(vendor, peer, tmp_path, matrix, algorithm, samples=1, **params):
    suite = suite_class("interop")()
    p = suite.Params.model_validate({"samples": samples, **params})
    ctx = MeasureContext(seed=3, work_dir=tmp_path, timeout_s=60, peer=adapter_class(peer)())
    return suite.measure(adapter_class(vendor)(), p, {"matrix": matrix, "algorithm": algorithm}, ctx)


def _measure(vendor, peer, tmp_path, matrix, algorithm, samples=1, **params):
    """The verdict rows only (interop_ok)."""
    return [r for r in _measure_all(vendor, peer, tmp_path, matrix, algorithm, samples, **params)
            if r.metric in ("interop_ok", "server_failures")]


def test_planner_makes_both_directions_of_every_pair():
    loaded = parse_scenario("""
name: interop-plan
vendors: [openssl, pqclean, tlslite]
suites:
  - suite: interop
    params: {matrices: [kem], kems: [ML-KEM-768]}
""")
    cases = plan(loaded)
    assert {(c.vendor, c.params["peer"]) for c in cases} == set(itertools.permutations(
        ["openssl", "pqclean", "tlslite"], 2))


@pytest.mark.parametrize(("vendor", "peer"), list(itertools.permutations(FAST_PQC, 2)))
@pytest.mark.parametrize(("matrix", "algorithm"), [("kem", "ML-KEM-768"), ("kem", "ML-KEM-1024"),
                                                   ("signature", "ML-DSA-44"), ("signature", "ML-DSA-87")])
def test_pqc_libraries_agree(vendor, peer, matrix, algorithm, tmp_path):
    rows = _measure(vendor, peer, tmp_path, matrix, algorithm, samples=2)
    assert [r.value for r in rows] == [1, 1], [r.labels.get("failure_reason") for r in rows]
    assert vendor in rows[0].labels["roles"] and peer in rows[0].labels["roles"]


def test_reference_agrees_with_a_library_both_ways(tmp_path):
    if "reference" not in PQC or not FAST_PQC:
        pytest.skip(reason="needs the reference adapter and one C library")
    for vendor, peer in (("reference", FAST_PQC[0]), (FAST_PQC[0], "reference")):
        assert [r.value for r in _measure(vendor, peer, tmp_path, "kem", "ML-KEM-768")] == [1]
        assert [r.value for r in _measure(vendor, peer, tmp_path, "signature", "ML-DSA-44")] == [1]


@pytest.mark.parametrize(("client", "server"), list(itertools.permutations(TLS, 2)))
def test_tls_stacks_interoperate_on_every_shared_group(client, server, tmp_path):
    shared = set(adapter_class(client)().tls_groups()) & set(adapter_class(server)().tls_groups())
    assert {"X25519MLKEM768", "SecP256r1MLKEM768"} <= shared  # one hybrid of each share order
    for group in sorted(shared):
        rows = [r for r in _measure(client, server, tmp_path, "tls", group, tls_handshakes=1)
                if r.metric == "interop_ok"]
        assert [r.value for r in rows] == [1], (group, [r.labels.get("failure_reason") for r in rows])
        assert rows[0].labels["negotiated_group"] == group


def test_pairs_without_the_capability_or_algorithm_are_not_applicable(tmp_path):
    if not (PQC and TLS):
        pytest.skip(reason="needs a PQC adapter and a TLS stack")
    with pytest.raises(NotApplicable, match="has no kem"):
        _measure(TLS[0], PQC[0], tmp_path, "kem", "ML-KEM-768")
    lacking = next(((v, p) for v in PQC for p in PQC
                    if v != p and "ML-KEM-512" not in adapter_class(v)().kem_algorithms()), None)
    if lacking:
        with pytest.raises(NotApplicable, match="ML-KEM-512"):
            _measure(*lacking, tmp_path, "kem", "ML-KEM-512")


class _SkewedKem:
    """Test double: a real KEM whose encapsulated secret has one bit flipped. No two real libraries
    here disagree, so this is the only way to exercise the FAIL path; it wraps, never replaces, a
    real implementation."""

    def __init__(self, kem):
        self._kem = kem
        self.algorithm = kem.algorithm

    def encaps(self, public_key):
        ciphertext, secret = self._kem.encaps(public_key)
        return ciphertext, bytes([secret[0] ^ 1]) + secret[1:]

    def __getattr__(self, name):
        return getattr(self._kem, name)


def test_a_disagreement_is_a_fail_row_naming_both_sides(tmp_path, monkeypatch):
    if len(FAST_PQC) < 2:
        pytest.skip(reason="needs two C libraries")
    vendor, peer = FAST_PQC[:2]
    peer_cls = adapter_class(peer)
    real_kem = peer_cls.kem
    monkeypatch.setattr(peer_cls, "kem", lambda self, alg: _SkewedKem(real_kem(self, alg)))
    rows = _measure(vendor, peer, tmp_path, "kem", "ML-KEM-768", samples=2)
    assert [r.value for r in rows] == [0, 0]
    power = [r for r in _measure_all(vendor, peer, tmp_path, "kem", "ML-KEM-768", samples=2)
             if r.metric == "detectable_defect_rate"]
    assert len(power) == 1 and "n = 2" in power[0].labels["detection_power"]
    reason = rows[0].labels["failure_reason"]
    assert "differ" in reason and vendor in reason and peer in reason


class _RareWrongVerify:
    """Test double: a real signer whose verify also accepts the message with its last bit flipped
    (one message bit ignored); interop at its default size must catch it."""

    def __init__(self, signer):
        self._signer = signer

    def verify(self, public_key, message, signature):
        if self._signer.verify(public_key, message, signature):
            return True
        return self._signer.verify(public_key, message[:-1] + bytes([message[-1] ^ 1]), signature)

    def __getattr__(self, name):
        return getattr(self._signer, name)


def test_default_size_catches_a_verify_ignoring_a_message_bit_and_states_its_power(tmp_path, monkeypatch):
    if len(FAST_PQC) < 2:
        pytest.skip(reason="needs two C libraries")
    vendor, peer = FAST_PQC[:2]
    peer_cls = adapter_class(peer)
    real_signer = peer_cls.signer
    monkeypatch.setattr(peer_cls, "signer", lambda self, alg: _RareWrongVerify(real_signer(self, alg)))
    suite = suite_class("interop")()
    defaults = suite.Params.model_validate({})
    ctx = MeasureContext(seed=3, work_dir=tmp_path, timeout_s=600, peer=peer_cls())
    case = {"matrix": "signature", "algorithm": "ML-DSA-44"}
    rows = suite.measure(adapter_class(vendor)(), defaults, case, ctx)
    verdicts = [r.value for r in rows if r.metric == "interop_ok"]
    assert 0 in verdicts and len(verdicts) >= 184  # every bit of the 23-byte message tried at least once
    power = next(r for r in rows if r.metric == "detectable_defect_rate")
    assert "with 95 % probability" in power.labels["detection_power"]
