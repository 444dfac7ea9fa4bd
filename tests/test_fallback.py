"""Suite `fallback`, its KDF, and the TLS 1.3 external-PSK channel it rekeys over.

The fast suite tests use `FixedRateSource` (tests/qkd_helpers.py), a test double for the QKD core
(what they test is the encryptor, its policies and the audit, not the physics); the TLS stacks,
the KME API and the KDF are the real ones. The slow test runs the shipped scenario on the core.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import socket
from pathlib import Path

import pytest
from pydantic import ValidationError

from harness.adapters import Capability
from harness.adapters_tls import ExternalPsk
from harness.certs import make_chain
from harness.registry import adapter_class, adapter_names
from harness.scenario import load_scenario
from harness.suite import MeasureContext
from suites._hybrid_kdf import hkdf_sha256, session_key
from suites.fallback import (
    EXPORTER_LABEL,
    GROUP,
    Channel,
    Encryptor,
    Fallback,
    FallbackParams,
    Policy,
    Rekey,
    _run,
    audit,
)
from suites.qkd_time import wait_for_keys
from suites.recovery import FaultDriver, FaultStep
from tests.qkd_helpers import FixedRateSource
from vendors.simulated_qkd.adapter import SimulatedQKDAdapter

PSK_STACKS = [n for n in adapter_names() if Capability.TLS13_EXTERNAL_PSK in adapter_class(n).capabilities
              and adapter_class(n).availability().available]
SCENARIO = Path(__file__).resolve().parent.parent / "suites" / "scenarios" / "fallback.yaml"
SERIES = ("usable_key", "fault_active")


# --- the KDF -----------------------------------------------------------------------------------

# RFC 5869 Appendix A, test cases 1-3 (HKDF-SHA-256), https://www.rfc-editor.org/rfc/rfc5869#appendix-A:
# (IKM, salt, info, L, OKM). Typed from the RFC; `cryptography`'s HKDF gives the same OKMs.
RFC5869_SHA256 = [
    (bytes([0x0B] * 22), bytes(range(0x0D)), bytes(range(0xF0, 0xFA)), 42,
     "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"),
    (bytes(range(0x50)), bytes(range(0x60, 0xB0)), bytes(range(0xB0, 0x100)), 82,
     "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a99cac7827271cb41c65e590e09"
     "da3275600c2f09b8367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87"),
    (bytes([0x0B] * 22), b"", b"", 42,
     "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"),
]


@pytest.mark.parametrize(("ikm", "salt", "info", "length", "okm"), RFC5869_SHA256)
def test_hkdf_reproduces_rfc5869_appendix_a(ikm, salt, info, length, okm):
    assert hkdf_sha256(ikm, salt, info, length).hex() == okm


def test_rfc5869_case_1_prk_is_the_sp800_56c_extraction_step():
    # RFC 5869 A.1 PRK: the two-step KDF's extraction, HMAC-SHA-256(salt, Z), on its own.
    prk = hmac.new(bytes(range(0x0D)), bytes([0x0B] * 22), hashlib.sha256).hexdigest()
    assert prk == "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5"


def test_session_keys_take_exactly_their_sources_components():
    qkd, pqc = bytes(range(32)), bytes(range(32, 64))
    keys = {session_key("qkd", qkd=qkd, pqc=None, key_id="k"),
            session_key("pqc", qkd=None, pqc=pqc, key_id="k"),
            session_key("hybrid", qkd=qkd, pqc=pqc, key_id="k"),
            session_key("hybrid", qkd=qkd, pqc=pqc, key_id="j")}
    assert len(keys) == 4 and all(len(k) == 32 for k in keys)
    assert session_key("hybrid", qkd=qkd, pqc=pqc, key_id="k") == hkdf_sha256(
        pqc + qkd, b"", b"qsbench fallback session key v1|hybrid|32|32|k", 32)  # Z' = Z || T
    wrong = (("hybrid", qkd, None), ("hybrid", None, pqc), ("qkd", qkd, pqc), ("pqc", None, None))
    for source, q, p in wrong:
        with pytest.raises(ValueError, match=f"a {source} session key takes"):
            session_key(source, qkd=q, pqc=p)  # type: ignore[arg-type]


# --- the channel: both stacks, every direction ---------------------------------------------------


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    return make_chain("ECDSA-P256", tmp_path_factory.mktemp("certs"))


def _one(client_name, server_name, chain, psk, known):
    seen = []

    def lookup(identity):
        seen.append(identity)
        return known.get(identity)

    listener = socket.create_server(("127.0.0.1", 0))
    server = adapter_class(server_name)().psk_server(listener, chain, [GROUP], lookup, EXPORTER_LABEL)
    try:
        client = adapter_class(client_name)().psk_client(chain.root_pem, [GROUP], EXPORTER_LABEL)
        with socket.create_connection(listener.getsockname(), timeout=10) as sock:
            master = client.handshake(sock, chain.server_name, psk)
        return master, server.next_session(10), seen
    finally:
        server.close()
        listener.close()


def test_both_stacks_offer_external_psks():
    assert {"openssl-tls", "tlslite"} <= set(PSK_STACKS)


@pytest.mark.parametrize(("client_name", "server_name"), list(itertools.product(PSK_STACKS, repeat=2)))
def test_psk_dhe_ke_with_the_hybrid_share_in_every_direction(client_name, server_name, chain):
    secret, identity = bytes(range(100, 132)), b"5f0b1c2d-3e4f-4a5b-8c6d-7e8f90a1b2c3"
    psk = ExternalPsk(identity, secret)
    master, slave, seen = _one(client_name, server_name, chain, psk, {identity: secret})
    assert seen == [identity]  # the server end asked for the key by the identity on the wire
    assert master.psk_identity == slave.psk_identity == identity
    assert master.group == slave.group == GROUP
    assert master.exporter == slave.exporter and len(master.exporter) == 32
    # Without the key at the server end the handshake falls back to the certificate, never to the PSK.
    master, slave, _ = _one(client_name, server_name, chain, psk, {})
    assert master.psk_identity is None and slave.psk_identity is None and master.exporter == slave.exporter
    # A different secret under the right identity: the binder fails, the handshake does not complete.
    from harness.adapters_tls import TlsHandshakeFailed
    with pytest.raises(TlsHandshakeFailed):
        _one(client_name, server_name, chain, psk, {identity: bytes(32)})
    # No PSK offered: a certificate handshake on the hybrid share.
    master, slave, seen = _one(client_name, server_name, chain, None, {identity: secret})
    assert seen == [] and master.psk_identity is None and master.exporter == slave.exporter


def test_the_openssl_binding_lacks_what_the_tls13_session_callbacks_need():
    # Why openssl-tls keys TLS 1.3 through the TLS 1.2-style callbacks: the TLS 1.3 ones exist but
    # must return an SSL_SESSION, and the binding cannot make one (no SSL_SESSION_new).
    from cryptography.hazmat.bindings.openssl.binding import Binding
    lib = Binding().lib
    assert lib.Cryptography_HAS_PSK_TLSv1_3
    assert hasattr(lib, "SSL_CTX_set_psk_find_session_callback")
    assert hasattr(lib, "SSL_CTX_set_psk_use_session_callback")
    assert not hasattr(lib, "SSL_SESSION_new")
    assert hasattr(lib, "SSL_CTX_set_psk_server_callback") and hasattr(lib, "SSL_CTX_set_psk_client_callback")


def test_openssl_skips_the_sha256_callback_psk_when_it_settles_on_a_sha384_suite(chain):
    # Why the openssl-tls PSK server offers SHA-256 suites only: with OpenSSL's default order it
    # picks TLS_AES_256_GCM_SHA384 first and then ignores the (SHA-256) PSK the callback found.
    from vendors import openssl_tls
    secret, identity = bytes(range(32)), b"psk-under-default-suites"
    listener = socket.create_server(("127.0.0.1", 0))
    server = openssl_tls._PskServer(openssl_tls._server_context(chain, [GROUP]), listener,
                                    {identity: secret}.get, EXPORTER_LABEL)
    try:
        client = adapter_class("openssl-tls")().psk_client(chain.root_pem, [GROUP], EXPORTER_LABEL)
        with socket.create_connection(listener.getsockname(), timeout=10) as sock:
            master = client.handshake(sock, chain.server_name, ExternalPsk(identity, secret))
        slave = server.next_session(10)
    finally:
        server.close()
        listener.close()
    assert master.psk_identity is None and slave.psk_identity is None  # certificate handshake instead


def test_tlslite_flags_no_external_psk_handshake_as_resumed(chain):
    # Why the tlslite adapter reads PSK use from the ServerHello / the missing server chain instead.
    from tlslite import HandshakeSettings, TLSConnection
    secret, identity = bytearray(range(32)), bytearray(b"tlslite-flag")
    settings = HandshakeSettings()
    settings.minVersion = settings.maxVersion = (3, 4)
    settings.pskConfigs = [(identity, secret, "sha256")]
    a, b = socket.socketpair()
    import threading
    server = TLSConnection(b)
    thread = threading.Thread(target=server.handshakeServer, kwargs={"settings": settings})
    thread.start()
    client = TLSConnection(a)
    client.handshakeClientCert(settings=settings)
    thread.join(10)
    assert client.session.serverCertChain is None  # keyed by the PSK: no certificate was sent
    assert client.resumed is False and server.resumed is False
    a.close()
    b.close()


# --- the suite -----------------------------------------------------------------------------------


def device(**options):
    return SimulatedQKDAdapter({"seed": 3, "max_key_count": 2, **options}, source=FixedRateSource(2000, 0.5))


def run(tmp_path, policies, pairs=(("openssl-tls", "tlslite"),), **params):
    p = FallbackParams(**{"case_s": 60, "rekey_interval_s": 5, "policies": policies, "tls_pairs": list(pairs),
                          "faults": [{"kind": "fibre_cut", "at_s": 15, "duration_s": 25}], **params})
    suite, out = Fallback(), {}
    for case in suite.cases(p):
        rows = list(suite.measure(device(), p, case, MeasureContext(1, tmp_path, 60)))
        for r in rows:
            assert suite.metrics[r.metric].unit == r.unit and set(r.labels) <= set(suite.label_columns)
        scalars = {r.metric: r.value for r in rows if r.metric not in (*SERIES, "handshake_ms")}
        series = {m: [r.value for r in rows if r.metric == m] for m in SERIES}
        modes = {r.labels["mode"] for r in rows if r.metric == "handshake_ms"}
        out[(case["policy"], case["tls_client"], case["tls_server"])] = scalars, series, modes
    return out


def test_under_a_fibre_cut_each_policy_keys_as_it_says_in_both_directions(tmp_path):
    pairs = [("openssl-tls", "tlslite"), ("tlslite", "openssl-tls")]
    out = run(tmp_path, ["qkd_only", "qkd_preferred", "hybrid"], pairs)
    for client, server in pairs:
        only, only_series, only_modes = out[("qkd_only", client, server)]
        pref, pref_series, pref_modes = out[("qkd_preferred", client, server)]
        hyb, hyb_series, hyb_modes = out[("hybrid", client, server)]
        # Two stored keys carry the encryptor to t = 20 s; the link is dark until 40 s and has
        # distilled nothing yet at the 40 s rekey: 4 intervals of 5 s without a QKD key.
        dark = [1.0] * 5 + [0.0] * 4 + [1.0] * 3
        assert only_series["usable_key"] == hyb_series["usable_key"] == dark
        assert only_series["fault_active"] == [0.0] * 3 + [1.0] * 5 + [0.0] * 4
        assert only["seconds_without_key_s"] == hyb["seconds_without_key_s"] == 20
        assert only["qkd_rekeys"] == 8 and only["refused_rekeys"] == 4 and only["pqc_rekeys"] == 0
        assert hyb["hybrid_rekeys"] == 8 and hyb["refused_rekeys"] == 4 and hyb["qkd_rekeys"] == 0
        assert pref["qkd_rekeys"] == 8 and pref["pqc_rekeys"] == 4 and pref["availability"] == 1
        assert pref["seconds_without_key_s"] == 0 and pref_series["usable_key"] == [1.0] * 12
        assert only_modes == hyb_modes == {"psk_dhe_ke"} and pref_modes == {"psk_dhe_ke", "cert_dhe"}
        for m in (only, pref, hyb):
            assert m["policy_violations"] == 0 and m["key_mismatches"] == 0


def test_key_exhaustion_by_a_greedy_neighbour_starves_the_encryptor(tmp_path):
    out = run(tmp_path, ["qkd_only"], faults=[
        {"kind": "key_exhaustion", "at_s": 15, "duration_s": 20, "exhaustion_keys_per_s": 50}])
    ((m, series, _),) = out.values()
    assert m["refused_rekeys"] >= 3 and m["policy_violations"] == 0
    assert series["usable_key"][:3] == [1.0] * 3 and series["usable_key"][-1] == 1.0


def _setup(tmp_path, adapter, client="openssl-tls", server="tlslite"):
    return Channel(adapter_class(client)(), adapter_class(server)(), adapter, tmp_path, 10)


class FallsBackAnyway(Encryptor):
    """Deliberately broken: whatever the policy, rekeys by certificate when no QKD key is there."""

    def _wants_handshake(self, have_qkd):
        return True

    def _source(self, psk_both_ends, groups):
        return "qkd" if psk_both_ends and self.policy is Policy.QKD_ONLY else "pqc"


class HybridOnOneLeg(Encryptor):
    """Deliberately broken: says hybrid, derives the key from the QKD key alone."""

    @staticmethod
    def _derive(source, qkd, pqc, key_id):
        return session_key("qkd", qkd=qkd, pqc=None, key_id=key_id)


@pytest.mark.parametrize(("broken", "policy", "why"), [
    (FallsBackAnyway, Policy.QKD_ONLY, "qkd_only installed a pqc key"),
    (FallsBackAnyway, Policy.HYBRID, "hybrid installed a pqc key"),
    (HybridOnOneLeg, Policy.HYBRID, "not the hybrid KDF of its components"),
])
def test_the_audit_catches_a_consumer_that_weakens_its_policy(tmp_path, broken, policy, why):
    adapter = device()
    adapter.observe(5)
    channel = _setup(tmp_path, adapter)
    try:
        step = FaultStep(kind="fibre_cut", at_s=5, duration_s=20)
        params = FallbackParams(case_s=30, rekey_interval_s=5, faults=[step])
        rows = {r.metric: r.value for r in _run(broken(policy, adapter, channel), adapter,
                                                FaultDriver(adapter, step, 10), params)
                if r.metric not in (*SERIES, "handshake_ms")}
        assert rows["policy_violations"] > 0
        # The same schedule with the real encryptor: no violation.
        adapter2 = device()
        adapter2.observe(5)
        channel2 = _setup(tmp_path, adapter2)
        try:
            honest = {r.metric: r.value for r in _run(Encryptor(policy, adapter2, channel2), adapter2,
                                                      FaultDriver(adapter2, step, 10), params)}
        finally:
            channel2.close()
        assert honest["policy_violations"] == 0
        rekeys = (broken(policy, adapter, channel).rekey() for _ in range(20))
        rekey = next(r for r in rekeys if audit(r) is not None)
        assert why in audit(rekey)
    finally:
        channel.close()


def test_the_audit_rejects_each_way_of_weakening_a_rekey():
    q, p, kid = bytes(range(32)), bytes(range(32, 64)), "id"
    hybrid = session_key("hybrid", qkd=q, pqc=p, key_id=kid)
    ok = Rekey(Policy.HYBRID, "hybrid", key_id=kid, groups=(GROUP, GROUP), qkd=(q, q), pqc=(p, p),
               keys=(hybrid, hybrid))
    assert audit(ok) is None
    assert "without a QKD key" in audit(Rekey(**{**ok.__dict__, "qkd": (q, None)}))
    assert "without an X25519MLKEM768" in audit(Rekey(**{**ok.__dict__, "groups": (GROUP, "X25519")}))
    assert "installed on a refused" in audit(Rekey(Policy.QKD_ONLY, None, keys=(q, None)))
    assert "qkd_only installed a hybrid" in audit(Rekey(**{**ok.__dict__, "policy": Policy.QKD_ONLY}))


def test_a_kme_pair_that_mismatches_keys_gets_no_key_installed(tmp_path):
    class Mismatching(SimulatedQKDAdapter):
        """Deliberately broken KME pair: the slave gets other bits under the right key ID."""

        def dec_keys(self, key_ids):
            from harness.adapters import Key
            return [Key(k.key_id, bytes(b ^ 1 for b in k.material)) for k in super().dec_keys(key_ids)]

    adapter = Mismatching({"seed": 3}, source=FixedRateSource(2000, 0.5))
    adapter.observe(5)
    channel = _setup(tmp_path, adapter, "tlslite", "openssl-tls")
    try:
        for policy in Policy:
            rekey = Encryptor(policy, adapter, channel).rekey()
            # The PSK binder fails: no handshake, so nothing installed (and no pqc fallback either:
            # mid-handshake the encryptor cannot tell a broken KME from an active attacker).
            assert rekey.source is None and rekey.keys == (None, None) and audit(rekey) is None
            assert "decrypt_error" in rekey.reason
    finally:
        channel.close()


def test_no_key_material_in_rows_or_reprs(tmp_path):
    adapter = device(max_key_count=50)
    taken: list[bytes] = []
    take = adapter.link.store.take

    def spy(*args, **kwargs):
        keys = take(*args, **kwargs)
        taken.extend(k.material for k in keys)
        return keys

    adapter.link.store.take = spy  # type: ignore[method-assign]
    p = FallbackParams(case_s=20, rekey_interval_s=5, policies=["hybrid"],
                       tls_pairs=[("tlslite", "openssl-tls")],
                       faults=[{"kind": "fibre_cut", "at_s": 5, "duration_s": 5}])
    suite = Fallback()
    rows = list(suite.measure(adapter, p, suite.cases(p)[0], MeasureContext(1, tmp_path, 60)))
    channel = _setup(tmp_path, adapter)
    try:
        rekey = Encryptor(Policy.HYBRID, adapter, channel).rekey()
    finally:
        channel.close()
    text = repr(rows) + repr(rekey) + str(rekey)
    assert taken and rekey.source == "hybrid"
    for material in [*taken, *rekey.keys, *rekey.pqc]:
        for form in (material.hex(), base64.b64encode(material).decode(), repr(material)[2:-1]):
            assert form not in text


def test_params_refuse_unknown_stacks_and_faults_that_leave_no_rekey():
    cut = [{"kind": "fibre_cut", "at_s": 5, "duration_s": 5}]
    with pytest.raises(ValidationError, match="no adapter named 'nope'"):
        FallbackParams(faults=cut, tls_pairs=[("nope", "tlslite")])
    with pytest.raises(ValidationError, match="pqclean has no tls13_external_psk"):
        FallbackParams(faults=cut, tls_pairs=[("pqclean", "tlslite")])
    with pytest.raises(ValidationError, match="at least one rekey after it"):
        FallbackParams(case_s=30, faults=[{"kind": "fibre_cut", "at_s": 10, "duration_s": 20}])
    with pytest.raises(ValidationError, match="policies"):
        FallbackParams(policies=["qkd_mostly"], faults=[{"kind": "fibre_cut", "at_s": 5, "duration_s": 5}])


def test_the_shipped_scenario_validates_and_plans_both_directions():
    loaded = load_scenario(SCENARIO)
    (params,) = loaded.params
    assert isinstance(params, FallbackParams)
    pairs = {tuple(p) for p in params.tls_pairs}
    assert ("openssl-tls", "tlslite") in pairs and ("tlslite", "openssl-tls") in pairs
    assert set(params.policies) == set(Policy)


@pytest.mark.slow
def test_the_shipped_scenario_on_the_real_core_meets_its_gates(tmp_path):
    """The shipped scenario on the real QKD core, both TLS directions: every gate met (exit 0)."""
    import subprocess

    import pandas as pd

    from tests.conftest import qsbench_cmd

    done = subprocess.run([*qsbench_cmd(), "run", str(SCENARIO), "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    df = pd.read_parquet(Path(done.stdout.strip().splitlines()[-1]) / "measurements")
    assert set(df.status) == {"ok"}
    scalar = df[df.metric.isin(["refused_rekeys", "pqc_rekeys", "qkd_rekeys", "hybrid_rekeys"])]
    by = scalar.pivot_table(index=["policy", "fault", "tls_client"], columns="metric", values="value")
    assert (by.loc["qkd_only", "pqc_rekeys"] == 0).all() and (by.loc["qkd_only", "hybrid_rekeys"] == 0).all()
    assert (by.loc["hybrid", "qkd_rekeys"] == 0).all() and (by.loc["hybrid", "pqc_rekeys"] == 0).all()
    assert (by.loc["qkd_preferred", "refused_rekeys"] == 0).all()
    # The cut and the QBER rise outlast the 3-key buffer: the fail-closed policies go without keys.
    assert (by.loc["qkd_only", "refused_rekeys"] > 0).all()
    assert (by.loc["qkd_preferred", "pqc_rekeys"] > 0).all()
    assert (df[df.metric.isin(["policy_violations", "key_mismatches"])].value == 0).all()


def test_rekeys_over_etsi014_https_with_mutual_tls(tmp_path):
    """The PSK comes from the master KME over HTTPS (enc_keys) and the slave KME fetches it by the
    ID in the ClientHello (dec_keys): the device's two KMEs served on loopback, reached only
    through the etsi014 client adapter, as a vendor's KME pair would be."""
    from vendors.etsi014 import Etsi014Adapter

    device = SimulatedQKDAdapter({"time_scale": 5}, source=FixedRateSource(64_000, 0.2))
    client = None
    try:
        client = Etsi014Adapter({k: v for k, v in vars(device.etsi014_endpoints()).items() if v is not None})
        device.observe(1)
        for client_stack, server_stack in (("openssl-tls", "tlslite"), ("tlslite", "openssl-tls")):
            channel = _setup(tmp_path, client, client_stack, server_stack)
            try:
                for policy, source in ((Policy.QKD_ONLY, "qkd"), (Policy.HYBRID, "hybrid")):
                    rekey = Encryptor(policy, client, channel).rekey()
                    assert (rekey.source, rekey.mode) == (source, "psk_dhe_ke"), rekey.reason
                    assert audit(rekey) is None and rekey.keys[0] == rekey.keys[1]
                    assert rekey.qkd[0] == rekey.qkd[1] is not None  # the slave's copy came over HTTPS
            finally:
                channel.close()
    finally:
        if client is not None:
            client.close()
        device.close()


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_kme_restart_of_the_served_device_under_each_policy(tmp_path):
    """`qsbench kme serve` killed (SIGKILL) and started again mid-case, seen only through ETSI 014:
    while it is down qkd_only and hybrid go without a key and qkd_preferred rekeys by ML-KEM;
    once it is back all three rekey from QKD keys again, none weakened."""
    from vendors.simulated_qkd.process import ServedProcessAdapter

    adapter = ServedProcessAdapter({"profile": "free-space-ground", "fibre_km": 50, "time_scale": 20,
                                    "seed": 4, "max_key_count": 400})
    p = FallbackParams(case_s=20, rekey_interval_s=1, tls_pairs=[("openssl-tls", "tlslite")],
                       faults=[{"kind": "kme_restart", "at_s": 4, "duration_s": 3}])
    suite, out = Fallback(), {}
    try:
        assert wait_for_keys(adapter, 30, budget_s=90, step_s=0.5) >= 30
        for case in suite.cases(p):
            rows = list(suite.measure(adapter, p, case, MeasureContext(1, tmp_path, 120)))
            out[case["policy"]] = ({r.metric: r.value for r in rows if r.metric not in SERIES},
                                   [r.value for r in rows if r.metric == "usable_key"])
    finally:
        adapter.close()
    assert adapter.process.lifetimes == 4  # three restarts, one per case
    for policy, (m, usable) in out.items():
        assert m["policy_violations"] == 0 and m["key_mismatches"] == 0, policy
        assert usable[:4] == [1.0] * 4 and usable[-1] == 1.0, (policy, usable)  # keyed before and after
    assert out["qkd_only"][0]["refused_rekeys"] >= 3 and out["hybrid"][0]["refused_rekeys"] >= 3
    assert out["qkd_preferred"][0]["refused_rekeys"] == 0 and out["qkd_preferred"][0]["pqc_rekeys"] >= 3
