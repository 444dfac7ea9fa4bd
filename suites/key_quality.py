"""NIST SP 800-22 tests on delivered key bits (frequency, block frequency, runs, longest run of
ones, serial, approximate entropy, cumulative sums), with p-values.

Keys are drawn through the key-delivery API (master end; the slave end collects the same keys
so none are left pending), concatenated in memory, tested, and dropped: only p-values leave.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from harness.adapters import Adapter, Capability, KeyDelivery, NotApplicable
from harness.suite import MeasureContext, Measurement, Metric, Suite, SuiteParams
from suites import _randomness as randomness
from suites.qkd_time import stored_keys, wait_for_keys


class KeyQualityParams(SuiteParams):
    bits: int = Field(100_000, ge=randomness.MIN_BITS, le=20_000_000, description="key bits to test")
    keys_per_request: int = Field(16, ge=1, le=1024)
    alpha: float = Field(0.01, gt=0, lt=0.5, description="significance level of each test")
    key_wait_s: float = Field(600.0, gt=0, le=86_400, description="link time to wait for keys")


class KeyQuality(Suite):
    name: ClassVar[str] = "key_quality"
    requires: ClassVar[frozenset[Capability]] = frozenset({Capability.KEY_DELIVERY})
    Params: ClassVar[type[SuiteParams]] = KeyQualityParams
    label_columns: ClassVar[tuple[str, ...]] = ("test",)
    metrics: ClassVar[dict[str, Metric]] = {
        "key_bits_tested": Metric("bit", "none", "delivered key bits under test"),
        "p_value": Metric("p", "none", "an SP 800-22 test's p-value (uniform under the null)"),
        "test_passed": Metric("bool", "higher", "the test's p-value is at least alpha"),
        "tests_passed": Metric("count", "higher", "SP 800-22 tests passed"),
    }

    def cases(self, params: SuiteParams) -> list[dict[str, Any]]:
        assert isinstance(params, KeyQualityParams)
        return [{"key_bits": params.bits}]

    def _collect(self, adapter: Adapter, p: KeyQualityParams) -> np.ndarray:
        kd: KeyDelivery = adapter  # type: ignore[assignment]
        chunks: list[np.ndarray] = []
        have = 0
        while have < p.bits:
            if stored_keys(kd) < p.keys_per_request and wait_for_keys(
                    adapter, p.keys_per_request, p.key_wait_s) < p.keys_per_request:
                raise NotApplicable(f"the link delivered {have} of {p.bits} bits within {p.key_wait_s} s")
            keys = kd.enc_keys(p.keys_per_request)
            kd.dec_keys([k.key_id for k in keys])
            for k in keys:
                chunks.append(np.unpackbits(np.frombuffer(k.material, np.uint8)))
                have += k.size_bits
        return np.concatenate(chunks)[: p.bits]

    def measure(self, adapter: Adapter, params: SuiteParams, case: Mapping[str, Any],
                ctx: MeasureContext) -> Iterable[Measurement]:
        assert isinstance(params, KeyQualityParams)
        bits = self._collect(adapter, params)
        results = randomness.battery(bits)
        del bits
        yield Measurement("key_bits_tested", params.bits, "bit")
        for t in results:
            for i, p in enumerate(t.p_values):
                yield Measurement("p_value", p, "p", i, {"test": t.test})
            yield Measurement("test_passed", float(t.p_value >= params.alpha), "bool", 0, {"test": t.test})
        yield Measurement("tests_passed", sum(t.p_value >= params.alpha for t in results), "count")
