"""ETSI GS QKD 014 V1.1.1 conformance: one check per clause, PASS / FAIL / WARN with the evidence.

Runs against anything that exposes the raw endpoints (`etsi014` capability): our own
simulated KME or a vendor's. Each row is one check: value 1 (PASS), 0 (FAIL) or 0.5
(WARN: the spec leaves room, or the check could not be made here), labelled with the
clause, the verdict and what was sent and what came back (keys redacted).
Checks run in a fixed order because later ones use keys the earlier ones obtained.
"""

from __future__ import annotations

import base64
import binascii
import ssl
import uuid
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import Field

from harness.adapters import Adapter, Capability, Etsi014Access
from harness.suite import MeasureContext, Measurement, Metric, Suite, SuiteParams
from suites.etsi014_probe import Etsi014Probe, Exchange

MSG_SIZE = "size shall be a multiple of 8"
MSG_EXT = "not all extension_mandatory parameters are supported"
MSG_NOT_FOUND = "one or more keys specified are not found on KME"
STATUS_TYPES = {"source_KME_ID": str, "target_KME_ID": str, "master_SAE_ID": str, "slave_SAE_ID": str,
                "key_size": int, "stored_key_count": int, "max_key_count": int, "max_key_per_request": int,
                "max_key_size": int, "min_key_size": int, "max_SAE_ID_count": int}
VALUE = {"PASS": 1.0, "FAIL": 0.0, "WARN": 0.5}


@dataclass(frozen=True)
class Verdict:
    verdict: str
    evidence: str


@dataclass
class State:
    probe: Etsi014Probe
    status: dict[str, Any] = field(default_factory=dict)
    issued: list[dict[str, Any]] = field(default_factory=list)  # key containers' entries, kept in memory only
    errors: list[Exchange] = field(default_factory=list)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _keys_problems(ex: Exchange, number: int, size: int) -> list[str]:
    if ex.status != 200 or not isinstance(ex.body, dict) or not isinstance(ex.body.get("keys"), list):
        return [f"expected 200 with a keys array, got {ex.status}"]
    keys, problems = ex.body["keys"], []
    if len(keys) != number:
        problems.append(f"{len(keys)} keys for number={number}")
    for k in keys:
        if not (isinstance(k, dict) and isinstance(k.get("key_ID"), str) and isinstance(k.get("key"), str)):
            problems.append("a key entry lacks key_ID or key strings")
            continue
        try:
            uuid.UUID(k["key_ID"])
        except ValueError:
            problems.append("key_ID is not a UUID")
        try:
            if len(base64.b64decode(k["key"], validate=True)) != size // 8:
                problems.append(f"decoded key length != size/8 = {size // 8} bytes")
        except binascii.Error:
            problems.append("key is not valid Base64")
    return sorted(set(problems))


def _key_verdict(ex: Exchange, problems: list[str]) -> Verdict:
    if ex.status == 503:  # the spec's answer when the KME has no key to give: this clause is untestable
        return Verdict("WARN", f"not tested: the KME has no key to deliver; {ex.describe()}")
    return _verdict(not problems, ex, "; ".join(problems))


def _verdict(ok: bool, ex: Exchange | None, note: str = "") -> Verdict:
    text = (note + "; " if note else "") + (ex.describe() if ex else "")
    return Verdict("PASS" if ok else "FAIL", text)


def _error_check(ex: Exchange, message: str | None, state: State, expect: int = 400) -> Verdict:
    state.errors.append(ex)
    if ex.status != expect:
        return _verdict(False, ex, f"expected {expect}")
    got = ex.body.get("message") if isinstance(ex.body, dict) else None
    if message is not None and got != message:
        return Verdict("WARN", f"{expect} as required, message not the spec's {message!r}; {ex.describe()}")
    return _verdict(True, ex)


def _need_keys(state: State, n: int) -> Verdict | None:
    if len(state.issued) < n:
        return Verdict("WARN", f"not tested: needs {n} keys from enc_keys, got {len(state.issued)}")
    return None


# --- the checks, in running order: (name, clause, function) ---
def c_status_format(s: State) -> Verdict:
    ex = s.probe.status()
    if ex.status != 200 or not isinstance(ex.body, dict):
        return _verdict(False, ex, "Get status must answer 200 with a Status object")
    s.status = ex.body
    bad = [f for f, t in STATUS_TYPES.items()
           if f not in ex.body or not (_is_int(ex.body[f]) if t is int else isinstance(ex.body[f], t))]
    return _verdict(not bad, ex, f"missing or mistyped: {bad}" if bad else "all 11 fields present and typed")


def c_status_arithmetic(s: State) -> Verdict:
    st, e = s.status, s.probe.e
    if not st:
        return Verdict("FAIL", "no Status to check")
    try:
        problems = [msg for ok, msg in [
            (st["key_size"] % 8 == 0, "key_size not a multiple of 8"),
            (st["min_key_size"] <= st["key_size"] <= st["max_key_size"], "key_size outside [min, max]"),
            (0 <= st["stored_key_count"] <= st["max_key_count"], "stored_key_count > max_key_count"),
            (st["max_key_per_request"] >= 1, "max_key_per_request < 1"),
            (st["max_SAE_ID_count"] >= 0, "max_SAE_ID_count < 0"),
            (st["master_SAE_ID"] == e.master_sae_id, "master_SAE_ID is not the caller"),
            (st["slave_SAE_ID"] == e.slave_sae_id, "slave_SAE_ID is not the requested slave"),
            (st["source_KME_ID"] != st["target_KME_ID"], "source and target KME IDs are equal")] if not ok]
    except (KeyError, TypeError) as exc:
        return Verdict("FAIL", f"Status fields unusable: {type(exc).__name__}")
    return Verdict("FAIL" if problems else "PASS", "; ".join(problems) or
                   f"key_size {st['key_size']}, stored {st['stored_key_count']}/{st['max_key_count']}")


def c_enc_keys_post(s: State) -> Verdict:
    size = s.status.get("key_size", 256)
    ex = s.probe.enc_keys({"number": 2, "size": size})
    problems = _keys_problems(ex, 2, size)
    if not problems:
        s.issued += ex.body["keys"]
    return _key_verdict(ex, problems)


def c_enc_keys_get(s: State) -> Verdict:
    size = s.status.get("key_size", 256)
    ex = s.probe.enc_keys(get_params=[("number", "1"), ("size", str(size))])
    problems = _keys_problems(ex, 1, size)
    if not problems:
        s.issued += ex.body["keys"]
    return _key_verdict(ex, problems)


def c_enc_keys_defaults(s: State) -> Verdict:
    ex = s.probe.enc_keys({})
    problems = _keys_problems(ex, 1, s.status.get("key_size", 256))
    if not problems:
        s.issued += ex.body["keys"]
        return _verdict(True, ex, "number defaults to 1, size to key_size")
    return _key_verdict(ex, problems)


def c_status_count_falls(s: State) -> Verdict:
    # New keys may arrive between the two status calls, so try a few times for a clean reading.
    seen = []
    for _ in range(3):
        before = s.probe.status()
        ex = s.probe.enc_keys({"number": 1})
        after = s.probe.status()
        if ex.status == 503:
            return _key_verdict(ex, [])
        if ex.status != 200 or before.status != 200 or after.status != 200:
            return _verdict(False, ex, "status/enc_keys failed")
        s.issued += ex.body.get("keys", [])
        b, a = before.body["stored_key_count"], after.body["stored_key_count"]
        if a == b - 1:
            return Verdict("PASS", f"stored_key_count {b} -> {a} after one key of key_size")
        if a < b - 1:
            return Verdict("FAIL", f"stored_key_count {b} -> {a} after taking one key")
        seen.append(f"{b} -> {a}")
    return Verdict("WARN", f"stored_key_count {', '.join(seen)}: new keys kept arriving meanwhile")


def c_dec_keys_post(s: State) -> Verdict:
    if (skip := _need_keys(s, 2)) is not None:
        return skip
    want = s.issued[:2]
    ex = s.probe.dec_keys([k["key_ID"] for k in want])
    if ex.status != 200 or not isinstance(ex.body, dict):
        return _verdict(False, ex)
    got = {k.get("key_ID"): k.get("key") for k in ex.body.get("keys", [])}
    same = all(got.get(k["key_ID"]) == k["key"] for k in want)  # compared in memory, never recorded
    return _verdict(same, ex, "slave's keys bit-identical to master's" if same else "keys differ across ends")


def c_dec_keys_get(s: State) -> Verdict:
    if (skip := _need_keys(s, 3)) is not None:
        return skip
    want = s.issued[2]
    ex = s.probe.dec_keys([want["key_ID"]], method="GET")
    ok = ex.status == 200 and isinstance(ex.body, dict) and [
        (k.get("key_ID"), k.get("key")) for k in ex.body.get("keys", [])] == [(want["key_ID"], want["key"])]
    return _verdict(ok, ex, "GET ?key_ID= returns the same key" if ok else "")


def c_single_delivery(s: State) -> Verdict:
    if (skip := _need_keys(s, 1)) is not None:
        return skip
    ex = s.probe.dec_keys([s.issued[0]["key_ID"]])
    return _error_check(ex, MSG_NOT_FOUND, s)


def c_get_post_parity(s: State) -> Verdict:
    size = s.status.get("key_size", 256)
    post, get = s.probe.enc_keys({"number": 1, "size": size}), s.probe.enc_keys(
        get_params=[("number", "1"), ("size", str(size))])
    for ex in (post, get):
        if ex.status == 200 and isinstance(ex.body, dict):
            s.issued += ex.body.get("keys", [])
    if post.status == 503 and get.status == 503:
        return _key_verdict(post, [])
    shape = [(ex.status, sorted(ex.body) if isinstance(ex.body, dict) else None,
              sorted(ex.body["keys"][0]) if ex.status == 200 and ex.body.get("keys") else None)
             for ex in (post, get)]
    return _verdict(shape[0] == shape[1] and post.status == 200, post, f"GET: {get.describe()}")


def c_size_not_multiple_of_8(s: State) -> Verdict:
    size = s.status.get("key_size", 256) + 4
    return _error_check(s.probe.enc_keys({"number": 1, "size": size}), MSG_SIZE, s)


def c_extension_mandatory(s: State) -> Verdict:
    body = {"number": 1, "extension_mandatory": [{"qsbench_unsupported_extension": True}]}
    return _error_check(s.probe.enc_keys(body), MSG_EXT, s)


def c_too_many_keys(s: State) -> Verdict:
    n = int(s.status.get("max_key_per_request", 0)) + 1
    if n <= 1:
        return Verdict("WARN", "not tested: max_key_per_request unknown")
    return _error_check(s.probe.enc_keys({"number": n}), None, s)


def c_key_ids_not_found(s: State) -> Verdict:
    return _error_check(s.probe.dec_keys([str(uuid.uuid4())]), MSG_NOT_FOUND, s)


def c_wrong_sae_dec_keys(s: State) -> Verdict:
    if not s.probe.has("third"):
        return Verdict("WARN", "not tested: no third SAE certificate configured")
    ex = s.probe.enc_keys({"number": 1})
    if ex.status != 200:
        return Verdict("WARN", f"not tested: no key to ask for; {ex.describe()}")
    key_id = ex.body["keys"][0]["key_ID"]
    verdict = _error_check(s.probe.dec_keys([key_id], who="third"), None, s, expect=401)
    after = s.probe.dec_keys([key_id])
    if verdict.verdict == "PASS" and after.status != 200:
        return Verdict("FAIL", f"third SAE refused, but slave refused too: {after.describe()}")
    return verdict


def c_wrong_sae_status(s: State) -> Verdict:
    if not s.probe.has("third"):
        return Verdict("WARN", "not tested: no third SAE certificate configured")
    url = s.probe.url("master", s.probe.e.slave_sae_id, "status")
    return _error_check(s.probe.request("third", "GET", url), None, s, expect=401)


def c_error_format(s: State) -> Verdict:
    bad = [ex.describe() for ex in s.errors if ex.status and not (
        isinstance(ex.body, dict) and isinstance(ex.body.get("message"), str)
        and isinstance(ex.body.get("details", []), list))]
    return Verdict("FAIL" if bad else "PASS", "; ".join(bad[:3]) or
                   f"{len(s.errors)} error responses, each with a message string and details array if any")


def c_content_type(s: State) -> Verdict:
    ex = s.probe.status()
    ok = ex.content_type.split(";")[0].strip() == "application/json"
    return _verdict(ok, None, f"Content-Type: {ex.content_type!r}")


def c_no_client_certificate(s: State) -> Verdict:
    url = s.probe.url("master", s.probe.e.slave_sae_id, "status")
    ex = s.probe.with_context(s.probe.context(cert=False), "GET", url)
    refused = ex.status in (0, 401, 403)
    return _verdict(refused, ex, "refused" if refused else "served a client without a certificate")


def c_tls_below_1_2(s: State) -> Verdict:
    url = s.probe.url("master", s.probe.e.slave_sae_id, "status")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx = s.probe.context(cert=True, min_version=ssl.TLSVersion.TLSv1, max_version=ssl.TLSVersion.TLSv1_1)
    ex = s.probe.with_context(ctx, "GET", url)
    if ex.status == 0 and "NO_PROTOCOLS_AVAILABLE" in ex.error:
        return Verdict("WARN", f"not tested: this machine's OpenSSL will not offer TLS 1.1 ({ex.error})")
    return _verdict(ex.status == 0, ex, "TLS 1.0/1.1 handshake refused" if ex.status == 0 else "")


CHECKS: tuple[tuple[str, str, Callable[[State], Verdict]], ...] = (
    ("status_format", "6.1", c_status_format),
    ("status_arithmetic", "6.1", c_status_arithmetic),
    ("enc_keys_post", "5.2/6.3", c_enc_keys_post),
    ("enc_keys_get", "5.2", c_enc_keys_get),
    ("enc_keys_defaults", "6.2", c_enc_keys_defaults),
    ("status_count_falls", "6.1", c_status_count_falls),
    ("dec_keys_post", "5.3/6.4", c_dec_keys_post),
    ("dec_keys_get", "5.3", c_dec_keys_get),
    ("single_delivery", "5.3", c_single_delivery),
    ("get_post_parity", "5.2", c_get_post_parity),
    ("error_size_not_multiple_of_8", "5.2", c_size_not_multiple_of_8),
    ("error_extension_mandatory", "5.2/6.2", c_extension_mandatory),
    ("error_too_many_keys", "5.2", c_too_many_keys),
    ("error_key_ids_not_found", "5.3", c_key_ids_not_found),
    ("wrong_sae_dec_keys_401", "5.3", c_wrong_sae_dec_keys),
    ("wrong_sae_status_401", "5.1", c_wrong_sae_status),
    ("error_format", "6.5", c_error_format),
    ("content_type_json", "4", c_content_type),
    ("no_client_certificate_refused", "4 (mutual TLS)", c_no_client_certificate),
    ("tls_below_1_2_refused", "4 (TLS 1.2+)", c_tls_below_1_2),
)
KEYS_NEEDED = 14  # keys the checks above take from the KME


class ConformanceParams(SuiteParams):
    key_wait_s: float = Field(30.0, gt=0, le=600, description="how long to wait for enough stored keys")
    request_timeout_s: float = Field(10.0, gt=0, le=120)


def run_checks(access: Etsi014Access, params: ConformanceParams) -> list[tuple[str, str, Verdict]]:
    probe = Etsi014Probe(access.etsi014_endpoints(), params.request_timeout_s)
    try:
        probe.wait_for_keys(KEYS_NEEDED, params.key_wait_s)
        state, out = State(probe), []
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
