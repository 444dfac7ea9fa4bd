"""Key delivery through the device's key-delivery API (ETSI GS QKD 014 for real KMEs).

Per case (one consumption rate):
- latency of `enc_keys` and `dec_keys` (every request a sample, plus p50/p90/p99), and the
  API's key throughput while requests run back to back;
- consistency: the slave's keys compared bit for bit with the master's (mismatches must be 0);
- single delivery: a second `dec_keys` for a key already delivered must be refused;
- refill: the latency requests took keys from the store; before consumption, the link is given
  time (by polling the Status's `stored_key_count`, at most `key_wait_s` of link time) to store
  as many as it held when they began, and how long that took;
- stored-key dynamics while an application consumes `consumption_keys_per_s`: the stored key
  count at every tick, its slope, the delivered key rate and the requests the KME could not serve.
Key material is compared in memory and never recorded.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Iterable, Mapping
from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from harness.adapters import Adapter, Capability, KeyDelivery, KeyDeliveryError, NotApplicable
from harness.suite import MeasureContext, Measurement, Metric, Suite, SuiteParams
from suites.qkd_time import let_time_pass, stored_keys, wait_for_keys


class KeyDeliveryParams(SuiteParams):
    requests: int = Field(50, ge=1, le=10_000, description="enc_keys/dec_keys pairs timed for latency")
    keys_per_request: int = Field(1, ge=1, le=1024)
    size_bits: int | None = Field(None, gt=0, multiple_of=8, description="key size; default the KME's")
    consumption_keys_per_s: list[float] = Field([4.0], min_length=1, description="one case per rate")
    dynamics_duration_s: float = Field(10.0, gt=0, le=3600, description="link time under consumption")
    max_ticks: int = Field(2000, ge=2, le=100_000, description="bound on consumption steps per case")
    key_wait_s: float = Field(120.0, gt=0, le=86_400, description="link time to wait for keys to be stored")


REFILL_POLL_S = 0.25  # link time between two Status polls while the store refills


def _timed(fn: Any, *args: Any) -> tuple[Any, float]:
    t0 = time.perf_counter()
    out = fn(*args)
    return out, (time.perf_counter() - t0) * 1e3


def _percentiles(name: str, values: list[float]) -> Iterable[Measurement]:
    if values:
        for q in (50, 90, 99):
            yield Measurement(f"{name}_p{q}_ms", float(np.percentile(values, q)), "ms")


class KeyDeliverySuite(Suite):
    name: ClassVar[str] = "key_delivery"
    requires: ClassVar[frozenset[Capability]] = frozenset({Capability.KEY_DELIVERY})
    Params: ClassVar[type[SuiteParams]] = KeyDeliveryParams
    metrics: ClassVar[dict[str, Metric]] = {
        "enc_keys_latency_ms": Metric("ms", "lower", "one enc_keys request"),
        "dec_keys_latency_ms": Metric("ms", "lower", "one dec_keys request"),
        # the suite's own percentiles of the latencies above: the report draws their samples
        **{f"{call}_latency_p{q}_ms": Metric("ms", "lower", f"{q}th percentile of {call} latency",
                                             summarises=f"{call}_latency_ms")
           for call in ("enc_keys", "dec_keys") for q in (50, 90, 99)},
        "key_throughput_bps": Metric("bit/s", "higher", "key bits delivered per second of requests"),
        "key_requests": Metric("count", "none", "enc_keys requests made"),
        "key_mismatches": Metric("count", "lower", "keys that differed between the two SAEs",
                                 deterministic=True),
        "single_delivery": Metric("bool", "higher", "a delivered key was refused a second time",
                                  deterministic=True),
        "store_refilled": Metric("bool", "higher", "the store held again as many keys as before the latency "
                                 "requests when consumption began (within key_wait_s of link time)"),
        "store_refill_s": Metric("s", "lower", "link time the store took to get back the keys the latency "
                                 "requests used (only where it did)"),
        "stored_key_count": Metric("keys", "none", "keys held by the KME, one value per tick", timeline=True),
        "stored_key_count_slope": Metric("keys/s", "higher", "growth of the stored keys under consumption"),
        "delivered_key_rate_bps": Metric("bit/s", "higher", "key bits delivered under consumption"),
        "consumption_served": Metric("count", "higher", "consumer requests served"),
        "consumption_starved": Metric("count", "lower", "consumer requests refused for lack of key"),
        "consumption_key_mismatches": Metric("count", "lower", "mismatched keys under consumption",
                                             deterministic=True),
    }

    def cases(self, params: SuiteParams) -> list[dict[str, Any]]:
        assert isinstance(params, KeyDeliveryParams)
        return [{"consumption_keys_per_s": float(r)} for r in params.consumption_keys_per_s]

    def measure(self, adapter: Adapter, params: SuiteParams, case: Mapping[str, Any],
                ctx: MeasureContext) -> Iterable[Measurement]:
        assert isinstance(params, KeyDeliveryParams)
        kd: KeyDelivery = adapter  # type: ignore[assignment]
        stored_before = yield from self._latency(adapter, kd, params)
        yield from self._refill(adapter, kd, params, stored_before)
        yield from self._dynamics(adapter, kd, params, float(case["consumption_keys_per_s"]))

    def _latency(self, adapter: Adapter, kd: KeyDelivery,
                 p: KeyDeliveryParams) -> Generator[Measurement, None, int]:
        """Yield the latency rows; return the keys stored just before the first request."""
        enc_ms, dec_ms, mismatches, delivered_bits, refused_again = [], [], 0, 0, None
        stored_before = 0
        for i in range(p.requests):
            if stored_keys(kd) < p.keys_per_request and wait_for_keys(
                    adapter, p.keys_per_request, p.key_wait_s) < p.keys_per_request:
                if not enc_ms:
                    raise NotApplicable(f"the link stored fewer than {p.keys_per_request} keys "
                                        f"within {p.key_wait_s} s")
                break
            if i == 0:
                stored_before = stored_keys(kd)
            keys, t_enc = _timed(kd.enc_keys, p.keys_per_request, p.size_bits)
            copies, t_dec = _timed(kd.dec_keys, [k.key_id for k in keys])
            enc_ms.append(t_enc)
            dec_ms.append(t_dec)
            theirs = {k.key_id: k.material for k in copies}
            mismatches += sum(theirs.get(k.key_id) != k.material for k in keys)
            delivered_bits += sum(k.size_bits for k in keys)
            if i == 0:
                try:
                    kd.dec_keys([keys[0].key_id])
                    refused_again = False
                except KeyDeliveryError as exc:
                    refused_again = exc.http_status == 400  # the spec's answer; 503 says nothing
        for i, (e, d) in enumerate(zip(enc_ms, dec_ms, strict=True)):
            yield Measurement("enc_keys_latency_ms", e, "ms", i)
            yield Measurement("dec_keys_latency_ms", d, "ms", i)
        yield from _percentiles("enc_keys_latency", enc_ms)
        yield from _percentiles("dec_keys_latency", dec_ms)
        busy_s = (sum(enc_ms) + sum(dec_ms)) / 1e3
        yield Measurement("key_throughput_bps", delivered_bits / busy_s if busy_s else float("nan"), "bit/s")
        yield Measurement("key_requests", len(enc_ms), "count")
        yield Measurement("key_mismatches", mismatches, "count")
        yield Measurement("single_delivery", float(bool(refused_again)), "bool")
        return stored_before

    def _refill(self, adapter: Adapter, kd: KeyDelivery, p: KeyDeliveryParams,
                stored_before: int) -> Iterable[Measurement]:
        # The latency requests run back to back and drain a small store (100 requests empty a
        # 100-key one); consumption started right after would measure the link's recovery from
        # that hole, not its sustained service. The Status gives no key rate to size the wait by,
        # and a device that distils in blocks refills only when its next block lands, so the
        # bound is the suite's key_wait_s. A store that does not refill in time is reported as
        # such and consumption still runs: its starvation is the link's own.
        waited_s = 0.0
        while stored_keys(kd) < stored_before and waited_s < p.key_wait_s:
            let_time_pass(adapter, REFILL_POLL_S)
            waited_s += REFILL_POLL_S
        refilled = stored_keys(kd) >= stored_before
        yield Measurement("store_refilled", float(refilled), "bool")
        if refilled:
            yield Measurement("store_refill_s", waited_s, "s")

    def _dynamics(self, adapter: Adapter, kd: KeyDelivery, p: KeyDeliveryParams,
                  rate: float) -> Iterable[Measurement]:
        if not rate > 0:
            raise NotApplicable(f"consumption rate {rate} keys/s: must be > 0")
        ticks = min(p.max_ticks, max(2, round(p.dynamics_duration_s * rate)))
        dt = p.dynamics_duration_s / ticks
        times, counts, served, starved, mismatches, bits = [], [], 0, 0, 0, 0
        for i in range(ticks):
            let_time_pass(adapter, dt)
            try:
                keys = kd.enc_keys(1, p.size_bits)
                copies = kd.dec_keys([keys[0].key_id])
                mismatches += copies[0].material != keys[0].material
                served += 1
                bits += keys[0].size_bits
            except KeyDeliveryError as exc:
                if exc.http_status != 503:
                    raise
                starved += 1
            times.append((i + 1) * dt)
            counts.append(stored_keys(kd))
        for i, c in enumerate(counts):
            yield Measurement("stored_key_count", c, "keys", i)
        slope = float(np.polyfit(times, counts, 1)[0]) if len(set(counts)) > 1 else 0.0
        yield Measurement("stored_key_count_slope", slope, "keys/s")
        yield Measurement("delivered_key_rate_bps", bits / p.dynamics_duration_s, "bit/s")
        yield Measurement("consumption_served", served, "count")
        yield Measurement("consumption_starved", starved, "count")
        yield Measurement("consumption_key_mismatches", mismatches, "count")
