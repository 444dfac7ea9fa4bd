"""Each new conformance check fails against a KME broken in exactly the way it looks for.

The broken KMEs are test doubles: our own server with one behaviour swapped for a wrong one
(`BrokenApi` overrides an endpoint; app-level faults patch the request parser or the router),
because no real non-conforming KME can run here. Every other check still sees our KME.
"""

from __future__ import annotations

import contextlib

import pytest

import vendors.simulated_qkd.kme_app as kme_app
import vendors.simulated_qkd.kme_server as kme_server
from harness.suite import MeasureContext
from suites.etsi014_conformance import ConformanceParams, Etsi014Conformance
from tests.qkd_helpers import FixedRateSource
from vendors.simulated_qkd.adapter import SimulatedQKDAdapter
from vendors.simulated_qkd.keystore import End, KeysNotFound


class BrokenApi(kme_app.KmeApi):
    fault = ""

    def enc_keys(self, caller, slave_sae_id, body):
        body = dict(body)
        if self.fault == "reverse_refused" and self.end is End.B:
            raise kme_app.ApiError(401, "this KME serves one direction only")
        if self.fault == "any_size":
            body.pop("size", None)
        if self.fault == "any_number" and isinstance(body.get("number"), int) and body["number"] < 1:
            body["number"] = 1
        if self.fault == "multicast":
            body.pop("additional_slave_SAE_IDs", None)
        if self.fault == "optional_refused" and body.get("extension_optional"):
            raise kme_app.ApiError(400, "no extensions at all")
        if self.fault == "no_503":
            try:
                return super().enc_keys(caller, slave_sae_id, body)
            except kme_app.ApiError as exc:
                if exc.status == 503:
                    return []
                raise
        return super().enc_keys(caller, slave_sae_id, body)

    def dec_keys(self, caller, master_sae_id, body):
        ids = [i["key_ID"] for i in body.get("key_IDs", []) if isinstance(i, dict)]
        if self.fault == "no_dec_limit":
            return self.store.release(self.end, master_sae_id, caller, ids)
        if self.fault == "partial_release":
            found = []
            for key_id in ids:
                with contextlib.suppress(KeysNotFound):
                    found += self.store.release(self.end, master_sae_id, caller, [key_id])
            return found
        if self.fault == "duplicates_twice" and len(set(ids)) < len(ids):
            keys = self.store.release(self.end, master_sae_id, caller, list(dict.fromkeys(ids)))
            return keys * 2
        if self.fault == "master_own_key":
            try:
                return super().dec_keys(caller, master_sae_id, body)
            except kme_app.ApiError:
                return self.store.release(self.end.other, caller, master_sae_id, ids)
        return super().dec_keys(caller, master_sae_id, body)


def _lenient_json(request):
    async def parse(request):
        try:
            return await original_parse(request)
        except kme_app.ApiError:
            return {}
    return parse


original_parse = kme_app.parse_json_object


def _broken_app(fault):
    def make(api):
        app = kme_app.make_kme_app(api)
        if fault == "head_allowed":
            for route in app.router.routes:
                if "GET" in route.methods:
                    route.methods.add("HEAD")
        if fault == "text_errors":
            app.exception_handlers = {}
        return app
    return make


FAULTS = {  # the fault -> the checks that must catch it
    "any_size": {"error_size_below_min_key_size", "error_size_above_max_key_size",
                 "error_size_not_multiple_of_8"},
    "any_number": {"error_number_not_positive"},
    "multicast": {"multicast_beyond_max_sae_id_count"},
    "optional_refused": {"extension_optional_ignored"},
    "partial_release": {"mixed_known_unknown_all_or_nothing"},
    "duplicates_twice": {"duplicate_key_ids"},
    "no_dec_limit": {"error_dec_keys_too_many"},
    "master_own_key": {"master_cannot_fetch_own_key"},
    "no_503": {"keys_exhausted_503"},
    "reverse_refused": {"reverse_direction"},
    "lenient_json": {"error_malformed_json"},
    "head_allowed": {"methods_other_than_get_post_refused"},
    "text_errors": {"content_type_every_response"},
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_each_new_check_catches_its_fault(fault, monkeypatch, tmp_path):
    monkeypatch.setattr(BrokenApi, "fault", fault)
    monkeypatch.setattr(kme_server, "KmeApi", BrokenApi)
    monkeypatch.setattr(kme_server, "make_kme_app", _broken_app(fault))
    if fault == "lenient_json":
        monkeypatch.setattr(kme_app, "parse_json_object", _lenient_json(None))
    adapter = SimulatedQKDAdapter({"fibre_km": 10, "time_scale": 5},
                                  source=FixedRateSource(secret_bits_per_s=256 * 400, block_seconds=1.0))
    try:
        ctx = MeasureContext(seed=1, work_dir=tmp_path, timeout_s=60)
        rows = list(Etsi014Conformance().measure(adapter, ConformanceParams(key_wait_s=10, exhaust_keys=True),
                                                 {}, ctx))
    finally:
        adapter.close()
    verdicts = {r.labels["check"]: r.labels["verdict"] for r in rows if r.metric == "etsi014_check"}
    assert {name: verdicts[name] for name in FAULTS[fault]} == dict.fromkeys(FAULTS[fault], "FAIL")
