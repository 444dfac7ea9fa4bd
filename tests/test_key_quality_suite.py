"""key_quality on delivered keys: the suite's plumbing (keys from a fixed-rate double with random bits)."""

from __future__ import annotations

from harness.suite import MeasureContext
from suites.key_quality import KeyQuality, KeyQualityParams
from tests.qkd_helpers import FixedRateSource
from vendors.simulated_qkd.adapter import SimulatedQKDAdapter


def test_random_keys_pass_all_seven_tests(tmp_path):
    adapter = SimulatedQKDAdapter({"max_key_count": 500}, source=FixedRateSource(64_000, 0.5))
    params = KeyQualityParams(bits=20_000, key_wait_s=60)
    rows = list(KeyQuality().measure(adapter, params, {"key_bits": 20_000},
                                     MeasureContext(seed=3, work_dir=tmp_path, timeout_s=60)))
    tests = {r.labels["test"] for r in rows if r.metric == "p_value"}
    assert len(tests) == 7
    assert all(0 <= r.value <= 1 for r in rows if r.metric == "p_value")
    passed = next(r.value for r in rows if r.metric == "tests_passed")
    assert passed >= 6  # at alpha 0.01, 7 independent tests all pass with probability ~0.93
    assert adapter.link.store.counters().held_keys == 0  # every key taken was also collected
