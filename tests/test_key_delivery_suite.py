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
