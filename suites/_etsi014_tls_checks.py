"""The transport-security checks of ETSI GS QKD 014 V1.1.1 (clauses 4.3 and 5.1: mutual TLS 1.2+
between SAE and KME), run by `etsi014_conformance` in the order `suites._etsi014_checks.CHECKS`
gives: a client without a certificate, TLS below 1.2, a certificate from another CA, what was
negotiated, and whether the key exchange is quantum-safe."""

from __future__ import annotations

import ssl
import tempfile
import warnings

from suites._etsi014_state import State, Verdict, verdict_of


def c_no_client_certificate(s: State) -> Verdict:
    url = s.probe.url("master", s.probe.e.slave_sae_id, "status")
    ex = s.probe.with_context(s.probe.context(cert=False), "GET", url)
    refused = ex.status in (0, 401, 403)
    return verdict_of(refused, ex, "refused" if refused else "served a client without a certificate")


def c_tls_below_1_2(s: State) -> Verdict:
    url = s.probe.url("master", s.probe.e.slave_sae_id, "status")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx = s.probe.context(cert=True, min_version=ssl.TLSVersion.TLSv1, max_version=ssl.TLSVersion.TLSv1_1)
    ex = s.probe.with_context(ctx, "GET", url)
    if ex.status == 0 and "NO_PROTOCOLS_AVAILABLE" in ex.error:
        return Verdict("WARN", f"not tested: this machine's OpenSSL will not offer TLS 1.1 ({ex.error})")
    return verdict_of(ex.status == 0, ex, "TLS 1.0/1.1 handshake refused" if ex.status == 0 else "")


def c_other_ca(s: State) -> Verdict:
    url = s.probe.url("master", s.probe.e.slave_sae_id, "status")
    with tempfile.TemporaryDirectory() as tmp:
        from harness.etsi014_pki import make_test_pki

        rogue = make_test_pki(tmp, sae_ids=(s.probe.e.master_sae_id,))
        paths = rogue.saes[s.probe.e.master_sae_id]
        ctx = ssl.create_default_context(cafile=s.probe.e.ca_cert)
        ctx.load_cert_chain(str(paths.cert), str(paths.key))
        ex = s.probe.with_context(ctx, "GET", url)
    refused = ex.status in (0, 401, 403)
    return verdict_of(refused, ex, "a same-named SAE certificate from another CA: refused" if refused
                    else "served an SAE whose certificate another CA issued")


def c_tls_negotiated(s: State) -> Verdict:
    seen, old = [], []
    for kme, who in (("master", "master"), ("slave", "slave")):
        try:
            t = s.probe.tls_session(kme, who)
        except Exception as exc:  # the handshake itself is the finding
            return Verdict("FAIL", f"{kme} KME: TLS handshake failed: {type(exc).__name__}: {exc}")
        s.tls[kme] = t
        seen.append(f"{kme} KME with {who} SAE: {t['tls_version']} {t['cipher']} group {t['group'] or '?'}")
        if t["tls_version"] not in ("TLSv1.2", "TLSv1.3"):
            old.append(kme)
    return Verdict("FAIL" if old else "PASS", "; ".join(seen))


def c_tls_quantum_safe(s: State) -> Verdict:
    if not s.tls:
        return Verdict("WARN", "not tested: no TLS session recorded")
    groups = {kme: t["group"] for kme, t in s.tls.items()}
    classical = [k for k, g in groups.items() if "MLKEM" not in g.upper()]
    if classical:
        return Verdict("WARN", f"SAE-KME key exchange is classical ({groups}): the spec asks for TLS 1.2+ "
                               "only; a quantum-safe link needs a hybrid group such as X25519MLKEM768")
    return Verdict("PASS", f"ML-KEM key exchange: {groups}")
