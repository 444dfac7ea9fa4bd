"""The key_delivery suite in process and through ETSI 014 (physics replaced by a fixed-rate double)."""

from __future__ import annotations

import pytest

from harness.suite import MeasureContext
from suites.key_delivery import KeyDeliveryParams, KeyDeliverySuite
from tests.qkd_helpers import FixedRateSource
from vendors.etsi014 import Etsi014Adapter
from vendors.simulated_qkd.adapter import SimulatedQKDAdapter


def _run(adapter, params, rate, tmp_path):
    ctx = MeasureContext(seed=1, work_dir=tmp_path, timeout_s=60)
    rows = list(KeyDeliverySuite().measure(adapter, params, {"consumption_keys_per_s": rate}, ctx))
    return rows, {r.metric: r.value for r in rows if r.sample == 0}


def test_in_process_delivery_is_consistent_and_single(tmp_path):
    # 2560 bit/s of secret key = 10 keys of 256 bits per second of device time.
    adapter = SimulatedQKDAdapter({"max_key_count": 100}, source=FixedRateSource(2560, 0.1))
    params = KeyDeliveryParams(requests=20, consumption_keys_per_s=[5.0], dynamics_duration_s=20)
    rows, m = _run(adapter, params, 5.0, tmp_path)
    assert m["key_requests"] == 20 and m["key_mismatches"] == 0 and m["single_delivery"] == 1.0
    assert len([r for r in rows if r.metric == "enc_keys_latency_ms"]) == 20
    assert 0 < m["enc_keys_latency_p50_ms"] <= m["enc_keys_latency_p99_ms"]
    # Consuming 5 keys/s from a link making 10 keys/s: every request served, the store grows ~5 keys/s.
    assert m["consumption_starved"] == 0 and m["consumption_key_mismatches"] == 0
    assert m["stored_key_count_slope"] == pytest.approx(5.0, rel=0.15)
    assert m["delivered_key_rate_bps"] == pytest.approx(5 * 256, rel=0.05)


def test_consumption_faster_than_generation_starves(tmp_path):
    adapter = SimulatedQKDAdapter({"max_key_count": 100}, source=FixedRateSource(2560, 0.1))
    params = KeyDeliveryParams(requests=2, consumption_keys_per_s=[20.0], dynamics_duration_s=10)
    _, m = _run(adapter, params, 20.0, tmp_path)
    # 10 keys/s made, 20 asked for: about half the requests find the store empty.
    assert m["consumption_served"] + m["consumption_starved"] == 200
    assert m["consumption_starved"] == pytest.approx(100, abs=15)


def test_through_etsi014_adapter_against_served_link(tmp_path):
    device = SimulatedQKDAdapter({"max_key_count": 200, "time_scale": 10}, source=FixedRateSource(2560, 0.1))
    try:
        e = device.etsi014_endpoints()
        client = Etsi014Adapter({k: v for k, v in vars(e).items() if v is not None})
        params = KeyDeliveryParams(requests=30, consumption_keys_per_s=[4.0], dynamics_duration_s=2,
                                   key_wait_s=20)
        _, m = _run(client, params, 4.0, tmp_path)
        client.close()
    finally:
        device.close()
    assert m["key_requests"] == 30 and m["key_mismatches"] == 0 and m["single_delivery"] == 1.0
    assert m["consumption_starved"] == 0 and m["consumption_key_mismatches"] == 0
    assert m["enc_keys_latency_p50_ms"] > 0 and m["key_throughput_bps"] > 0


# A device that distils in blocks deposits a whole block at once and then owes that block's
# link time, as the shipped profiles do (lim-2014: 7500 keys in 1.375 s); the KME keeps at most
# 100 keys and discards the rest. The latency requests below take all 100.
REQUESTS, STORE, RATE, DURATION_S = 100, 100, 64.0, 4.0


def _block_device(keys_per_block: int, block_s: float) -> SimulatedQKDAdapter:
    source = FixedRateSource(keys_per_block * 256 / block_s, block_s)
    return SimulatedQKDAdapter({"max_key_count": STORE}, source=source)


def _params(**kw) -> KeyDeliveryParams:
    return KeyDeliveryParams(**{"requests": REQUESTS, "consumption_keys_per_s": [RATE],
                                "dynamics_duration_s": DURATION_S} | kw)


def test_consumption_starts_from_the_store_the_latency_requests_found(tmp_path):
    # 200 keys per 1 s block: the store refills to 100 every second, more than the 64 asked for.
    # Consumption straight after the latency requests (the suite's order before the refill) finds
    # the store empty and the first block's link time still owed: 0.75 s x 64 keys/s starve.
    suite, params = KeyDeliverySuite(), _params()
    drained = _block_device(200, 1.0)
    old = {r.metric: r.value for r in [*suite._latency(drained, drained, params),
                                       *suite._dynamics(drained, drained, params, RATE)] if r.sample == 0}
    assert old["key_requests"] == REQUESTS and old["consumption_starved"] == 48
    # The suite waits for the next block before consuming (the first block's 0.75 s are paid off by
    # three 0.25 s polls, the next block runs in the fourth): nothing starves, and it says how long.
    _, m = _run(_block_device(200, 1.0), params, RATE, tmp_path)
    assert m["key_requests"] == REQUESTS and m["store_refilled"] == 1.0 and m["store_refill_s"] == 1.0
    assert m["consumption_starved"] == 0 and m["consumption_served"] == RATE * DURATION_S
    assert m["stored_key_count"] == STORE - 1  # the first tick found the store full again


def test_a_link_slower_than_the_consumption_still_starves_from_a_full_store(tmp_path):
    # 10 keys per 0.5 s block = 20 keys/s (5.1 kbit/s) against 64 asked for. The store is full
    # before the latency requests and refilled to full after them (ten blocks, one per two polls),
    # yet 4 s of consumption ask for 256 keys and the store plus the link give 100 + 4 x 20 = 180.
    device = _block_device(10, 0.5)
    device.observe(10)
    assert device.status().stored_key_count == STORE
    _, m = _run(device, _params(), RATE, tmp_path)
    assert m["store_refilled"] == 1.0 and m["store_refill_s"] == pytest.approx(4.75)
    assert m["consumption_served"] == 180 and m["consumption_starved"] == 256 - 180
    assert m["stored_key_count_slope"] < 0


def test_a_store_that_does_not_refill_in_time_is_reported_and_still_consumed(tmp_path):
    # The same slow link given 1 s of link time to refill 100 keys: it stores 20, says so, and
    # consumption runs from there (starving more than from a full store: 256 - 20 - 4 x 20).
    device = _block_device(10, 0.5)
    device.observe(10)
    _, m = _run(device, _params(key_wait_s=1.0), RATE, tmp_path)
    assert m["store_refilled"] == 0.0 and "store_refill_s" not in m
    assert m["consumption_served"] == 20 + 80 and m["consumption_starved"] == 256 - 100
