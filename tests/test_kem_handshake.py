"""Suite kem_handshake: every available PQC adapter completes the authenticated exchange over the
emulated path, both sides derive the same key, and a forged server is caught."""

from __future__ import annotations

import socket
import statistics
from collections import defaultdict

import pytest

from harness.adapters import Capability, NotApplicable
from harness.registry import adapter_class, adapter_names, suite_class
from harness.suite import MeasureContext
from suites.kem_handshake import KemHandshakeParams, ProtocolError, _client_handshake, _Server

PQC = [n for n in adapter_names()
       if {Capability.KEM, Capability.SIGNATURE} <= adapter_class(n).capabilities
       and adapter_class(n).availability().available]
FAST = [n for n in PQC if n != "reference"]  # the pure-Python reference takes ~0.1 s per handshake


def _run(vendor, tmp_path, **params):
    suite = suite_class("kem_handshake")()
    p = KemHandshakeParams.model_validate({"handshakes": 3, "warmup": 1, **params})
    out = {}
    for case in suite.cases(p):
        ctx = MeasureContext(seed=2, work_dir=tmp_path, timeout_s=60)
        try:
            rows = suite.measure(adapter_class(vendor)(), p, case, ctx)
        except NotApplicable as exc:
            out[(case["kem"], case["signature"], case["rtt_ms"])] = str(exc)
            continue
        by = defaultdict(list)
        for row in rows:
            by[row.metric].append(row.value)
        out[(case["kem"], case["signature"], case["rtt_ms"])] = by
    return out


@pytest.mark.parametrize("vendor", FAST)
def test_exchange_completes_with_confirmed_keys_at_loopback_and_20ms(vendor, tmp_path):
    out = _run(vendor, tmp_path, kems=["ML-KEM-768"], signatures=["ML-DSA-44"], rtt_ms=[0, 20])
    for (_, _, rtt), by in out.items():
        assert by["handshake_ok"] == [1, 1, 1] and by["key_confirmed"] == [1, 1, 1]
        assert set(by["round_trips"]) == {2}
        # ek (1184) + confirm (32) + two length prefixes; ct (1088) + ML-DSA-44 signature (2420) + two.
        assert set(by["client_bytes"]) == {1184 + 32 + 8}
        assert set(by["server_bytes"]) == {1088 + 2420 + 8}
        if rtt:  # never faster than its two round trips (the upper bound is in the slow tier)
            assert 2 * rtt <= statistics.median(by["handshake_ms"])


@pytest.mark.slow
@pytest.mark.parametrize("vendor", FAST)
def test_exchange_time_stays_near_its_round_trips(vendor, tmp_path):
    """An upper bound on time depends on the host's load: slow tier, generous margin."""
    out = _run(vendor, tmp_path, kems=["ML-KEM-768"], signatures=["ML-DSA-44"], rtt_ms=[20])
    for (_, _, rtt), by in out.items():
        assert statistics.median(by["handshake_ms"]) <= 2 * rtt + 50


def test_reference_adapter_gets_a_figure_too(tmp_path):
    if "reference" not in PQC:
        pytest.skip(reason="kyber-py / dilithium-py not installed")
    out = _run("reference", tmp_path, kems=["ML-KEM-512"], signatures=["ML-DSA-44"], handshakes=1, warmup=0)
    assert out[("ML-KEM-512", "ML-DSA-44", 0.0)]["key_confirmed"] == [1]


def test_an_algorithm_the_library_lacks_is_not_applicable(tmp_path):
    lacking = next(((v, k) for v in PQC for k in ("ML-KEM-512", "ML-KEM-1024")
                    if k not in adapter_class(v)().kem_algorithms()), None)
    if lacking is None:
        pytest.skip(reason="every available adapter has both ML-KEM-512 and ML-KEM-1024")
    vendor, kem = lacking
    out = _run(vendor, tmp_path, kems=[kem], signatures=["ML-DSA-44"])
    assert kem in out[(kem, "ML-DSA-44", 0.0)]


@pytest.mark.parametrize("vendor", FAST[:1])
def test_a_server_signing_with_another_key_is_rejected(vendor):
    adapter = adapter_class(vendor)()
    kem, signer = adapter.kem("ML-KEM-768"), adapter.signer("ML-DSA-44")
    _, server_secret = signer.keygen()
    pinned_public, _ = signer.keygen()  # the client expects a different server
    listener = socket.create_server(("127.0.0.1", 0))
    server = _Server(listener, adapter.kem("ML-KEM-768"), adapter.signer("ML-DSA-44"), server_secret)
    try:
        with socket.create_connection(listener.getsockname(), timeout=10) as sock, \
                pytest.raises(ProtocolError, match="does not verify"):
            _client_handshake(sock, kem, signer, pinned_public)
        ok, reason = server.verdicts.get(timeout=10)
        assert not ok and "server" in reason
    finally:
        server.close()
        listener.close()
