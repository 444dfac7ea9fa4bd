"""The clause checks of ETSI GS QKD 014 V1.1.1 that the `etsi014_conformance` suite runs, in order.

Each check takes the shared `State` (a probe of the KME's raw endpoints and the keys earlier
checks obtained) and returns a `Verdict` with its evidence (keys redacted). `CHECKS` lists them
with their clauses; later checks use keys the earlier ones took, so the order matters.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Callable
from typing import Any

from suites._etsi014_state import State, Verdict, verdict_of
from suites._etsi014_tls_checks import (
    c_no_client_certificate,
    c_other_ca,
    c_tls_below_1_2,
    c_tls_negotiated,
    c_tls_quantum_safe,
)
from suites.etsi014_probe import Exchange

MSG_SIZE = "size shall be a multiple of 8"
MSG_EXT = "not all extension_mandatory parameters are supported"
MSG_NOT_FOUND = "one or more keys specified are not found on KME"
STATUS_TYPES = {"source_KME_ID": str, "target_KME_ID": str, "master_SAE_ID": str, "slave_SAE_ID": str,
                "key_size": int, "stored_key_count": int, "max_key_count": int, "max_key_per_request": int,
                "max_key_size": int, "min_key_size": int, "max_SAE_ID_count": int}


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
    return verdict_of(not problems, ex, "; ".join(problems))


def _error_check(ex: Exchange, message: str | None, state: State, expect: int = 400) -> Verdict:
    state.errors.append(ex)
    if ex.status != expect:
        return verdict_of(False, ex, f"expected {expect}")
    got = ex.body.get("message") if isinstance(ex.body, dict) else None
    if message is not None and got != message:
        return Verdict("WARN", f"{expect} as required, message not the spec's {message!r}; {ex.describe()}")
    return verdict_of(True, ex)


def _need_keys(state: State, n: int) -> Verdict | None:
    if len(state.issued) < n:
        return Verdict("WARN", f"not tested: needs {n} keys from enc_keys, got {len(state.issued)}")
    return None


# --- the checks, in running order: (name, clause, function) ---
def c_status_format(s: State) -> Verdict:
    ex = s.probe.status()
    if ex.status != 200 or not isinstance(ex.body, dict):
        return verdict_of(False, ex, "Get status must answer 200 with a Status object")
    s.status = ex.body
    bad = [f for f, t in STATUS_TYPES.items()
           if f not in ex.body or not (_is_int(ex.body[f]) if t is int else isinstance(ex.body[f], t))]
    return verdict_of(not bad, ex,
                      f"missing or mistyped: {bad}" if bad else "all 11 fields present and typed")


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
        return verdict_of(True, ex, "number defaults to 1, size to key_size")
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
            return verdict_of(False, ex, "status/enc_keys failed")
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
        return verdict_of(False, ex)
    got = {k.get("key_ID"): k.get("key") for k in ex.body.get("keys", [])}
    same = all(got.get(k["key_ID"]) == k["key"] for k in want)  # compared in memory, never recorded
    return verdict_of(same, ex,
                      "slave's keys bit-identical to master's" if same else "keys differ across ends")


def c_dec_keys_get(s: State) -> Verdict:
    if (skip := _need_keys(s, 3)) is not None:
        return skip
    want = s.issued[2]
    ex = s.probe.dec_keys([want["key_ID"]], method="GET")
    ok = ex.status == 200 and isinstance(ex.body, dict) and [
        (k.get("key_ID"), k.get("key")) for k in ex.body.get("keys", [])] == [(want["key_ID"], want["key"])]
    return verdict_of(ok, ex, "GET ?key_ID= returns the same key" if ok else "")


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
    return verdict_of(shape[0] == shape[1] and post.status == 200, post, f"GET: {get.describe()}")


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
    return verdict_of(ok, None, f"Content-Type: {ex.content_type!r}")


def _issue(s: State, n: int) -> list[dict[str, Any]]:
    """`n` fresh keys from enc_keys (in requests of at most max_key_per_request), or fewer."""
    per = max(1, int(s.status.get("max_key_per_request", 1) or 1))
    got: list[dict[str, Any]] = []
    while len(got) < n:
        ex = s.probe.enc_keys({"number": min(per, n - len(got))})
        if ex.status != 200 or not isinstance(ex.body, dict):
            break
        got += ex.body.get("keys", [])
    return got


def c_multicast(s: State) -> Verdict:
    allowed = s.status.get("max_SAE_ID_count")
    if not _is_int(allowed):
        return Verdict("WARN", "not tested: max_SAE_ID_count unknown")
    extra = [f"qsbench_extra_SAE_{i}" for i in range(allowed + 1)]
    return _error_check(s.probe.enc_keys({"number": 1, "additional_slave_SAE_IDs": extra}), None, s)


def c_size_below_min(s: State) -> Verdict:
    low = s.status.get("min_key_size")
    if not _is_int(low) or low <= 8:
        return Verdict("WARN", f"not tested: min_key_size {low!r} leaves no smaller multiple of 8")
    return _error_check(s.probe.enc_keys({"number": 1, "size": low - 8}), None, s)


def c_size_above_max(s: State) -> Verdict:
    high = s.status.get("max_key_size")
    if not _is_int(high):
        return Verdict("WARN", "not tested: max_key_size unknown")
    return _error_check(s.probe.enc_keys({"number": 1, "size": high + 8}), None, s)


def c_number_not_positive(s: State) -> Verdict:
    zero, negative = s.probe.enc_keys({"number": 0}), s.probe.enc_keys({"number": -1})
    first = _error_check(zero, None, s)
    second = _error_check(negative, None, s)
    return first if first.verdict != "PASS" else second


def c_keys_exhausted(s: State) -> Verdict:
    if not s.exhaust_keys:
        return Verdict("WARN", "not tested: needs exhaust_keys: true (it takes every stored key)")
    per = max(1, int(s.status.get("max_key_per_request", 1) or 1))
    for _ in range(10_000):
        ex = s.probe.enc_keys({"number": per})
        if ex.status == 503:
            return _error_check(ex, None, s, expect=503)
        if ex.status == 200 and isinstance(ex.body, dict) and len(ex.body.get("keys") or []) < per:
            return verdict_of(False, ex, f"fewer than the {per} keys asked for, instead of 503")
        if ex.status != 200:
            return verdict_of(False, ex, "expected 200 until the keys run out, then 503")
    return Verdict("FAIL", "10000 requests never ran out of keys")


def c_extension_optional(s: State) -> Verdict:
    body = {"number": 1, "extension_optional": [{"qsbench_unknown_optional": True}]}
    ex = s.probe.enc_keys(body)
    problems = _keys_problems(ex, 1, s.status.get("key_size", 256))
    if not problems:
        s.issued += ex.body["keys"]
    note = ["an unknown optional extension must be ignored"] if problems else []
    return _key_verdict(ex, [*problems, *note])


def c_malformed_json(s: State) -> Verdict:
    url = s.probe.url("master", s.probe.e.slave_sae_id, "enc_keys")
    return _error_check(s.probe.request("master", "POST", url, content=b'{"number": 1,',
                                        content_type="application/json"), None, s)


def c_duplicate_key_ids(s: State) -> Verdict:
    keys = _issue(s, 1)
    if not keys:
        return Verdict("WARN", "not tested: no key from enc_keys")
    ex = s.probe.dec_keys([keys[0]["key_ID"]] * 2)
    if ex.status == 200:
        got = [k.get("key_ID") for k in ex.body.get("keys", [])] if isinstance(ex.body, dict) else []
        return verdict_of(got == [keys[0]["key_ID"]], ex,
                        "a key ID asked twice may be delivered once, never twice")
    verdict = _error_check(ex, None, s)
    after = s.probe.dec_keys([keys[0]["key_ID"]])
    if verdict.verdict == "PASS" and after.status != 200:
        return verdict_of(False, after, "the refused request still consumed the key")
    return verdict


def c_mixed_known_unknown(s: State) -> Verdict:
    keys = _issue(s, 1)
    if not keys:
        return Verdict("WARN", "not tested: no key from enc_keys")
    unknown = str(uuid.uuid4())
    verdict = _error_check(s.probe.dec_keys([keys[0]["key_ID"], unknown]), MSG_NOT_FOUND, s)
    after = s.probe.dec_keys([keys[0]["key_ID"]])
    if verdict.verdict != "FAIL" and after.status != 200:
        return verdict_of(False, after, "all or nothing: the known key was consumed by a refused request")
    return verdict


def c_dec_keys_too_many(s: State) -> Verdict:
    n = int(s.status.get("max_key_per_request", 0) or 0) + 1
    if n <= 1:
        return Verdict("WARN", "not tested: max_key_per_request unknown")
    keys = _issue(s, n)
    if len(keys) < n:
        return Verdict("WARN", f"not tested: needs {n} keys, got {len(keys)}")
    verdict = _error_check(s.probe.dec_keys([k["key_ID"] for k in keys]), None, s)
    s.issued += keys[1:]  # still held for the slave when refused
    return verdict


def c_master_own_key(s: State) -> Verdict:
    keys = _issue(s, 1)
    if not keys:
        return Verdict("WARN", "not tested: no key from enc_keys")
    url = s.probe.url("master", s.probe.e.slave_sae_id, "dec_keys")
    ex = s.probe.request("master", "POST", url, json_body={"key_IDs": [{"key_ID": keys[0]["key_ID"]}]})
    if ex.status == 200:
        return verdict_of(False, ex, "the master SAE obtained its key a second time via dec_keys")
    verdict = _error_check(ex, None, s, expect=ex.status if ex.status in (400, 401) else 400)
    after = s.probe.dec_keys([keys[0]["key_ID"]])
    if verdict.verdict == "PASS" and after.status != 200:
        return verdict_of(False, after, "the slave lost its key to the master's refused request")
    return verdict


def c_reverse_direction(s: State) -> Verdict:
    e = s.probe.e
    enc = s.probe.request("slave", "POST", s.probe.url("slave", e.master_sae_id, "enc_keys"),
                          json_body={"number": 1})
    if enc.status == 503:
        return _key_verdict(enc, [])
    if enc.status != 200 or not isinstance(enc.body, dict) or not enc.body.get("keys"):
        return verdict_of(False, enc, "the slave SAE could not act as master towards the master SAE")
    key = enc.body["keys"][0]
    dec = s.probe.request("master", "POST", s.probe.url("master", e.slave_sae_id, "dec_keys"),
                          json_body={"key_IDs": [{"key_ID": key.get("key_ID")}]})
    want = [(key.get("key_ID"), key.get("key"))]
    ok = dec.status == 200 and isinstance(dec.body, dict) and [
        (k.get("key_ID"), k.get("key")) for k in dec.body.get("keys", [])] == want
    return verdict_of(ok, dec, "reverse direction: same key at both ends" if ok else f"enc: {enc.describe()}")


def c_other_methods(s: State) -> Verdict:
    url = s.probe.url("master", s.probe.e.slave_sae_id, "enc_keys")
    answers = [s.probe.request("master", m, url) for m in ("HEAD", "PUT", "DELETE", "PATCH")]
    bad = [ex for ex in answers if ex.status == 0 or not 400 <= ex.status < 500]
    not_405 = [ex for ex in answers if ex.status != 405]
    if bad:
        return verdict_of(False, bad[0], "only GET and POST are defined; other methods must be refused (4xx)")
    if not_405:
        return Verdict("WARN", f"refused, but not with 405; {not_405[0].describe()}")
    return Verdict("PASS", "; ".join(ex.describe(80) for ex in answers))


def c_content_type_every_response(s: State) -> Verdict:
    answered = [ex for ex in s.probe.log if ex.status and ex.sent.split(": ")[1].split()[0] != "HEAD"]
    bad = [ex for ex in answered if ex.content_type.split(";")[0].strip() != "application/json"]
    return verdict_of(not bad, bad[0] if bad else None,
                    f"{len(bad)} of {len(answered)} responses not application/json" if bad
                    else f"all {len(answered)} responses application/json")


CHECKS: tuple[tuple[str, str, Callable[[State], Verdict]], ...] = (
    ("status_format", "5.2, 6.1", c_status_format),
    ("status_arithmetic", "6.1", c_status_arithmetic),
    ("enc_keys_post", "5.3, 6.2, 6.3", c_enc_keys_post),
    ("enc_keys_get", "5.3", c_enc_keys_get),
    ("enc_keys_defaults", "5.3, 6.2", c_enc_keys_defaults),
    ("status_count_falls", "6.1", c_status_count_falls),
    ("dec_keys_post", "5.4, 6.4", c_dec_keys_post),
    ("dec_keys_get", "5.4", c_dec_keys_get),
    ("single_delivery", "5.4", c_single_delivery),
    ("get_post_parity", "5.3", c_get_post_parity),
    ("error_size_not_multiple_of_8", "5.3", c_size_not_multiple_of_8),
    ("error_extension_mandatory", "5.3, 6.2", c_extension_mandatory),
    ("error_too_many_keys", "5.3", c_too_many_keys),
    ("error_key_ids_not_found", "5.4", c_key_ids_not_found),
    ("wrong_sae_dec_keys_401", "5.4", c_wrong_sae_dec_keys),
    ("wrong_sae_status_401", "5.2", c_wrong_sae_status),
    ("error_format", "6.5", c_error_format),
    ("content_type_json", "5.1", c_content_type),
    ("no_client_certificate_refused", "5.1 (mutual TLS)", c_no_client_certificate),
    ("tls_below_1_2_refused", "5.1 (TLS 1.2+)", c_tls_below_1_2),
    ("multicast_beyond_max_sae_id_count", "5.3, 6.2 (additional_slave_SAE_IDs)", c_multicast),
    ("error_size_below_min_key_size", "5.3, 6.1", c_size_below_min),
    ("error_size_above_max_key_size", "5.3, 6.1", c_size_above_max),
    ("error_number_not_positive", "5.3, 6.2", c_number_not_positive),
    ("extension_optional_ignored", "6.2", c_extension_optional),
    ("error_malformed_json", "5.3, 6.2", c_malformed_json),
    ("duplicate_key_ids", "5.4, 6.4", c_duplicate_key_ids),
    ("mixed_known_unknown_all_or_nothing", "5.4", c_mixed_known_unknown),
    ("error_dec_keys_too_many", "5.4", c_dec_keys_too_many),
    ("master_cannot_fetch_own_key", "5.4", c_master_own_key),
    ("reverse_direction", "5.3, 5.4", c_reverse_direction),
    ("client_certificate_other_ca_refused", "5.1 (mutual TLS)", c_other_ca),
    ("methods_other_than_get_post_refused", "5.1", c_other_methods),
    ("content_type_every_response", "5.1", c_content_type_every_response),
    ("tls_negotiated", "5.1 (TLS 1.2+)", c_tls_negotiated),
    ("tls_quantum_safe_group", "5.1 (beyond the spec)", c_tls_quantum_safe),
    ("keys_exhausted_503", "5.3", c_keys_exhausted),  # last: it leaves the KME without keys
)
KEYS_NEEDED = 14  # keys the checks above take before they fetch their own (the rest ask as they go)
