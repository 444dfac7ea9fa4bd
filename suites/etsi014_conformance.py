"""ETSI GS QKD 014 V1.1.1 conformance: one check per clause, PASS / FAIL / WARN with the evidence.

Runs against anything that exposes the raw endpoints (`etsi014` capability): our own
simulated KME or a vendor's. Each row is one check: value 1 (PASS), 0 (FAIL) or 0.5
(WARN: the spec leaves room, or the check could not be made here), labelled with the
clause, the verdict and what was sent and what came back (keys redacted).
Checks run in a fixed order because later ones use keys the earlier ones obtained.

Clauses of ETSI GS QKD 014 V1.1.1 (2019-02): 5.1 the API in general (HTTPS, TLS 1.2 or later,
mutual authentication, methods), 5.2 Get status, 5.3 Get key (enc_keys), 5.4 Get key with key
IDs (dec_keys), 6.1 Status, 6.2 Key request, 6.3 Key container, 6.4 Key IDs, 6.5 Error. The
numbers were checked against independent implementations citing the spec (the spec's own text
could not be read here), and they replace the earlier 5.1/5.2/5.3 that were one clause off.
`tls_quantum_safe_group` goes beyond the spec: it reports whether the SAE-KME TLS itself uses
an ML-KEM group, which buyers ask about.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from pydantic import Field

from harness.adapters import Adapter, Capability, Etsi014Access
from harness.suite import MeasureContext, Measurement, Metric, Suite, SuiteParams
from suites._etsi014_checks import CHECKS, KEYS_NEEDED
from suites._etsi014_state import State, Verdict
from suites.etsi014_probe import Etsi014Probe

VALUE = {"PASS": 1.0, "FAIL": 0.0, "WARN": 0.5}


class ConformanceParams(SuiteParams):
    key_wait_s: float = Field(30.0, gt=0, le=600, description="how long to wait for enough stored keys")
    request_timeout_s: float = Field(10.0, gt=0, le=120)
    exhaust_keys: bool = Field(False, description="take every stored key to see the 503 (a lab KME only)")


def run_checks(access: Etsi014Access, params: ConformanceParams) -> list[tuple[str, str, Verdict]]:
    probe = Etsi014Probe(access.etsi014_endpoints(), params.request_timeout_s)
    try:
        probe.wait_for_keys(KEYS_NEEDED, params.key_wait_s)
        state, out = State(probe, exhaust_keys=params.exhaust_keys), []
        for name, clause, check in CHECKS:
            try:
                verdict = check(state)
            except Exception as exc:  # a check that cannot even run is a finding about the KME
                verdict = Verdict("FAIL", f"check raised {type(exc).__name__}: {exc}")
            out.append((name, clause, verdict))
        return out
    finally:
        probe.close()


class Etsi014Conformance(Suite):
    name: ClassVar[str] = "etsi014_conformance"
    requires: ClassVar[frozenset[Capability]] = frozenset({Capability.ETSI014})
    Params: ClassVar[type[SuiteParams]] = ConformanceParams
    label_columns: ClassVar[tuple[str, ...]] = ("check", "clause", "verdict", "evidence")
    metrics: ClassVar[dict[str, Metric]] = {
        "etsi014_check": Metric("pass", "higher", "one clause check: 1 PASS, 0.5 WARN, 0 FAIL",
                                deterministic=True),
        "checks_pass": Metric("count", "higher", "clause checks passed", deterministic=True),
        "checks_warn": Metric("count", "lower", "clause checks with a warning", deterministic=True),
        "checks_fail": Metric("count", "lower", "clause checks failed", deterministic=True),
    }

    def cases(self, params: SuiteParams) -> list[dict[str, Any]]:
        return [{}]

    def measure(self, adapter: Adapter, params: SuiteParams, case: Mapping[str, Any],
                ctx: MeasureContext) -> Iterable[Measurement]:
        assert isinstance(params, ConformanceParams)
        results = run_checks(adapter, params)  # type: ignore[arg-type]
        for i, (name, clause, v) in enumerate(results):
            yield Measurement("etsi014_check", VALUE[v.verdict], "pass", i,
                              {"check": name, "clause": clause, "verdict": v.verdict, "evidence": v.evidence})
        for verdict in VALUE:
            yield Measurement(f"checks_{verdict.lower()}", sum(v.verdict == verdict for _, _, v in results),
                              "count")
