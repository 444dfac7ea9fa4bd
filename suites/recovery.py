"""Failure recovery: a fault at a scheduled moment, watched through the key-delivery API.

One case per entry of the fault schedule. The case runs the link for `case_s` (link time:
the device clock where the device has telemetry, wall time otherwise) in ticks of `tick_s`.
At `at_s` the fault starts, for `duration_s`: injected through the device's fault injection,
or, for a real device, by the entry's `start_hook` command (and `clear_hook` when it ends),
while the suite observes only through ETSI GS QKD 014 and, where there is one, telemetry.
`key_exhaustion` is a consumer fault: for the fault's duration the application asks for
`exhaustion_keys_per_s` instead of `consumption_keys_per_s`.

The fault strikes with keys in flight: the master's keys of the last request before the fault
starts are collected by the slave only after it started, so a fault that loses keys the master
already holds (a KME restart without a persistent store, say) shows in keys_lost.

Every tick an application takes the keys its rate asks for (`enc_keys` at the master,
`dec_keys` at the slave, compared bit for bit in memory, never recorded). Definitions (README):
- time_to_detect_s: fault start -> end of the first tick in which the device showed it
  (it distilled no key, its telemetry said delivery stopped or raised an alarm, or its KME
  answered 503; for key_exhaustion the first request refused for lack of key);
- time_to_recover_s: fault cleared -> end of the first tick by which a key distilled after the
  clearance exists and a key has been delivered at both ends (key_exhaustion: the first request
  served after the fault);
- keys_lost: keys delivered to the master that the slave could not collect: its KME said it
  does not hold them, or they were still uncollectable when the case ended (a slave request
  refused with 503 or unreachable is retried every tick, as an application would);
- keys_repeated: keys whose ID or bits the master had been handed before in the case (must be 0);
- key_mismatches: keys with the same ID and different bits at the two ends (must be 0);
- fail_closed (qber_rise, detector_blinding only): 1 when no key was distilled while the link
  was compromised, 0 when the device went on distilling;
- buffer_depletion_s: fault start -> the first request a KME refused for lack of key (only when
  the stored keys ran out during the case; an unreachable KME refuses nothing);
- availability: share of the application's requests served over the whole case.
"""

from __future__ import annotations

import hashlib
import math
import os
import subprocess
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from harness.adapters import (
    Adapter,
    Capability,
    Fault,
    Key,
    KeyDelivery,
    KeyDeliveryError,
    NotApplicable,
)
from harness.suite import MeasureContext, Measurement, Metric, Suite, SuiteParams
from suites.qkd_time import let_time_pass

FaultKind = Literal["fibre_cut", "attenuation_step", "classical_channel_down", "qber_rise",
                    "detector_blinding", "key_exhaustion", "kme_unavailable", "kme_restart"]
SIZED = ("attenuation_step", "qber_rise")
COMPROMISING = ("qber_rise", "detector_blinding")


class FaultStep(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: FaultKind
    at_s: float = Field(ge=0, description="start, seconds of link time after the case starts")
    duration_s: float = Field(gt=0, description="how long the fault lasts")
    magnitude: float | None = Field(None, gt=0, description="dB for attenuation_step, misalignment "
                                                            "rise (fraction) for qber_rise")
    exhaustion_keys_per_s: float | None = Field(None, gt=0, description="key_exhaustion: the greedy rate")
    start_hook: list[str] | None = Field(None, min_length=1, description="lab command (argv) that starts "
                                         "the fault on a real device")
    clear_hook: list[str] | None = Field(None, min_length=1, description="lab command that clears it")

    @model_validator(mode="after")
    def _complete(self) -> FaultStep:
        if self.kind in SIZED and self.magnitude is None:
            unit = "dB" if self.kind == "attenuation_step" else "a misalignment rise, e.g. 0.08"
            raise ValueError(f"{self.kind} needs a magnitude ({unit})")
        if self.kind not in SIZED and self.magnitude is not None:
            raise ValueError(f"{self.kind} takes no magnitude")
        if (self.kind == "key_exhaustion") != (self.exhaustion_keys_per_s is not None):
            raise ValueError("exhaustion_keys_per_s belongs to key_exhaustion, and key_exhaustion needs it")
        return self


def check_schedule(faults: list[FaultStep], case_s: float, step_s: float, step: str) -> None:
    """Every fault must end a whole `step` (tick, rekey) before the case does, so its end is seen."""
    for i, f in enumerate(faults):
        if f.at_s + f.duration_s + step_s > case_s:
            raise ValueError(f"faults.{i}: ends at {f.at_s + f.duration_s:g} s; case_s must leave at "
                             f"least one {step} after it to see the recovery")


class RecoveryParams(SuiteParams):
    faults: list[FaultStep] = Field(min_length=1, description="the fault schedule: one case per entry")
    case_s: float = Field(300.0, gt=0, le=86_400, description="link time per case")
    tick_s: float = Field(5.0, gt=0, le=3600, description="observation step")
    consumption_keys_per_s: float = Field(1.0, gt=0, le=10_000, description="the application's key rate")
    keys_per_request: int = Field(1, ge=1, le=1024, description="keys the application takes per request")
    max_requests_per_tick: int = Field(1000, ge=1, le=100_000, description="bound on requests per tick")
    hook_timeout_s: float = Field(60.0, gt=0, le=3600)

    @model_validator(mode="after")
    def _fits(self) -> RecoveryParams:
        if self.case_s / self.tick_s > 100_000:
            raise ValueError("case_s / tick_s exceeds 100000 ticks")
        check_schedule(self.faults, self.case_s, self.tick_s, "tick")
        for i, f in enumerate(self.faults):
            if f.exhaustion_keys_per_s is not None and f.exhaustion_keys_per_s <= self.consumption_keys_per_s:
                raise ValueError(f"faults.{i}: exhaustion_keys_per_s must exceed consumption_keys_per_s")
        return self


class _Hook:
    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s

    def __call__(self, argv: list[str], step: FaultStep, phase: str) -> None:
        env = {**os.environ, "QSBENCH_FAULT_KIND": step.kind, "QSBENCH_FAULT_PHASE": phase,
               "QSBENCH_FAULT_DURATION_S": f"{step.duration_s:g}",
               "QSBENCH_FAULT_MAGNITUDE": "" if step.magnitude is None else f"{step.magnitude:g}"}
        try:
            done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=self.timeout_s)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise RuntimeError(f"{phase} hook {argv[0]!r} for {step.kind}: {exc}") from None
        if done.returncode:
            raise RuntimeError(f"{phase} hook {argv[0]!r} for {step.kind} exited {done.returncode}: "
                               f"{done.stderr.strip()[-300:]}")


class FaultDriver:
    """One scheduled fault on a link clock: injected where the device can, else through the lab hooks.

    `key_exhaustion` is a consumer fault: the driver only tracks when it is active and the suite
    changes its own demand. The suites that schedule faults (recovery, fallback) share this.
    """

    def __init__(self, adapter: Adapter, step: FaultStep, hook_timeout_s: float) -> None:
        if step.start_hook is None and step.kind != "key_exhaustion":
            if Capability.FAULT_INJECTION not in adapter.capabilities:
                raise NotApplicable(f"{adapter.name} has no fault_injection and the {step.kind} entry "
                                    "names no start_hook")
            if step.kind not in adapter.fault_kinds():  # type: ignore[attr-defined]
                raise NotApplicable(f"{adapter.name} cannot inject {step.kind}")
        self.adapter, self.step, self.hook = adapter, step, _Hook(hook_timeout_s)
        self.started = self.cleared = False

    def advance(self, t: float) -> bool:
        """Start or clear the fault once the link clock reaches `t`; whether it is active now."""
        s = self.step
        if not self.started and t >= s.at_s - 1e-9:
            if s.start_hook is not None:
                self.hook(s.start_hook, s, "start")
            elif s.kind != "key_exhaustion":
                self.adapter.inject(Fault(s.kind, s.duration_s, s.magnitude))  # type: ignore[attr-defined]
            self.started = True
        if self.started and not self.cleared and t >= s.at_s + s.duration_s - 1e-9:
            if s.clear_hook is not None:
                self.hook(s.clear_hook, s, "clear")
            self.cleared = True
        return self.started and not self.cleared


class Recovery(Suite):
    name: ClassVar[str] = "recovery"
    requires: ClassVar[frozenset[Capability]] = frozenset({Capability.KEY_DELIVERY})
    Params: ClassVar[type[SuiteParams]] = RecoveryParams
    metrics: ClassVar[dict[str, Metric]] = {
        "time_to_detect_s": Metric("s", "lower", "fault start to the first tick the device showed it"),
        "time_to_recover_s": Metric("s", "lower", "fault cleared to a new key delivered at both ends"),
        "fault_detected": Metric("bool", "higher", "the device showed the fault during it"),
        "recovered": Metric("bool", "higher", "key delivery resumed before the case ended"),
        "keys_lost": Metric("count", "lower", "keys delivered to the master, never collectable by the slave"),
        "keys_repeated": Metric("count", "lower", "keys whose ID or bits the master was handed before",
                                deterministic=True),
        "key_mismatches": Metric("count", "lower", "same key ID, different bits at the two ends",
                                 deterministic=True),
        "fail_closed": Metric("bool", "higher", "no key distilled while the link was compromised",
                              deterministic=True),
        "buffer_depletion_s": Metric("s", "higher", "fault start to the first request refused, no key left"),
        "buffer_depleted": Metric("bool", "lower", "the stored keys ran out during the case"),
        "availability": Metric("ratio", "higher", "share of the application's key requests served"),
        "key_requests": Metric("count", "none", "key requests the application made"),
        "stored_key_count": Metric("keys", "none", "keys held by the KME, one value per tick", timeline=True),
        "key_rate_bps": Metric("bit/s", "higher", "key distilled per tick", timeline=True),
        "fault_active": Metric("bool", "none", "the fault was active in this tick", timeline=True,
                               shades=("stored_key_count", "key_rate_bps")),
        "tick_s": Metric("s", "none", "length of one timeline tick"),
    }

    def cases(self, params: SuiteParams) -> list[dict[str, Any]]:
        assert isinstance(params, RecoveryParams)
        return [{"fault_index": i, "fault": f.kind, "fault_at_s": f.at_s, "fault_duration_s": f.duration_s,
                 "fault_magnitude": f.magnitude or 0.0} for i, f in enumerate(params.faults)]

    def measure(self, adapter: Adapter, params: SuiteParams, case: Mapping[str, Any],
                ctx: MeasureContext) -> Iterable[Measurement]:
        assert isinstance(params, RecoveryParams)
        step = params.faults[int(case["fault_index"])]
        yield from _Run(adapter, params, FaultDriver(adapter, step, params.hook_timeout_s)).measurements()


class _Run:
    def __init__(self, adapter: Adapter, params: RecoveryParams, fault: FaultDriver) -> None:
        self.adapter, self.p, self.fault, self.step = adapter, params, fault, fault.step
        self.kd: KeyDelivery = adapter  # type: ignore[assignment]
        self.requests = self.served = self.lost = self.mismatches = self.repeated = 0
        self.refused_answered = False
        self.pending: list[list[Key]] = []  # the master's copies of keys the slave has yet to collect
        # Every key the master was handed in the case, as IDs and digests of its bits, so a key
        # handed out twice is caught; digests, because key material is kept no longer than a request.
        self._seen_ids: set[str] = set()
        self._seen_bits: set[bytes] = set()

    def _status(self) -> tuple[int | None, bool]:
        """(stored keys, None when the KME did not say; the KME refused with 503 or was unreachable)."""
        try:
            return self.kd.status().stored_key_count, False
        except KeyDeliveryError as exc:
            return None, exc.http_status in (0, 503)

    def _key_size(self) -> int:
        """The KME's key size in bits; 0 while it does not answer (only the ETSI-only estimate needs it)."""
        try:
            return self.kd.status().key_size
        except KeyDeliveryError:
            return 0

    def _consume(self, number: int, leave_in_flight: bool) -> tuple[bool, bool]:
        """Take `number` keys in requests of keys_per_request: (any delivered at both ends, any refused).

        A request the KME refuses (no key left, or 503) ends the tick's demand: the remaining
        requests of the tick count as refused too, as an application that must rekey would see.
        With `leave_in_flight`, the slave collects the last request's keys in a later tick.
        """
        self.refused_answered = False
        delivered = self._collect_pending()
        chunks = min(-(-number // self.p.keys_per_request), self.p.max_requests_per_tick)
        for i in range(chunks):
            size = min(self.p.keys_per_request, number - i * self.p.keys_per_request)
            ok, refused = self._request(size, collect=not (leave_in_flight and i == chunks - 1))
            delivered = delivered or ok
            if refused:
                self.requests += chunks - i - 1
                return delivered, True
        return delivered, False

    def _request(self, number: int, collect: bool) -> tuple[bool, bool]:
        self.requests += 1
        try:
            keys = self.kd.enc_keys(number)
        except KeyDeliveryError as exc:
            # Refused by a KME that answered: for want of key (or 503 while down); an unreachable
            # KME has not said it is out of key.
            self.refused_answered = exc.http_status != 0
            return False, True
        for k in keys:
            digest = hashlib.blake2b(k.material, digest_size=16).digest()
            self.repeated += k.key_id in self._seen_ids or digest in self._seen_bits
            self._seen_ids.add(k.key_id)
            self._seen_bits.add(digest)
        self.pending.append(keys)
        return (self._collect_pending() if collect else False), False

    def _collect_pending(self) -> bool:
        """The slave asks for every request's keys it has not collected: True when any came.

        Refused with 503 or unreachable, the keys stay pending; any other refusal (the KME says
        it does not hold them) loses them.
        """
        got, waiting = False, []
        for keys in self.pending:
            try:
                copies = {k.key_id: k.material for k in self.kd.dec_keys([k.key_id for k in keys])}
            except KeyDeliveryError as exc:
                if exc.http_status in (0, 503):
                    waiting.append(keys)
                else:
                    self.lost += len(keys)
                continue
            self.mismatches += sum(copies.get(k.key_id) != k.material for k in keys)
            self.served += 1
            got = True
        self.pending = waiting
        return got

    def measurements(self) -> Iterable[Measurement]:
        p, s = self.p, self.step
        fault_end = s.at_s + s.duration_s
        t, credit, tick = 0.0, 0.0, 0
        detect_at = recover_at = depleted_at = None
        distilled_after_clear = False
        distilled_while_compromised = 0.0
        prev_stored, _ = self._status()
        key_size = self._key_size()
        while t < p.case_s - 1e-9:
            active = self.fault.advance(t)
            started, cleared = self.fault.started, self.fault.cleared
            snap = let_time_pass(self.adapter, p.tick_s)
            t += p.tick_s
            greedy = active and s.kind == "key_exhaustion"
            credit += (s.exhaustion_keys_per_s if greedy else p.consumption_keys_per_s) * p.tick_s
            want = int(credit)
            credit -= want
            stored_before, _ = self._status()
            # The last keys before the fault starts are in flight when it strikes.
            in_flight = not started and t >= s.at_s - 1e-9
            delivered, refused = self._consume(want, leave_in_flight=in_flight)
            stored, unavailable = self._status()
            if snap is not None and snap.window_s > 0:
                distilled_bits = snap.extra.get("secret_bits", snap.secret_key_rate_bps * snap.window_s)
            elif stored_before is not None and prev_stored is not None:
                # seen only through ETSI 014: keys that appeared in the store this tick
                distilled_bits = max(0, stored_before - prev_stored) * key_size
            else:  # the KME did not say how many it holds: nothing seen distilled
                distilled_bits = 0
            if stored is not None:
                prev_stored = stored
            if not key_size and stored is not None:
                key_size = self._key_size()
            # A device with telemetry shows a fault by saying so; one seen only through ETSI 014
            # by refusing (503) or by storing no new key in a tick.
            if snap is not None:
                shown = unavailable or not snap.key_delivery_active or snap.extra.get("alarms", 0) > 0
            else:
                shown = unavailable or distilled_bits == 0
            if active and s.kind in COMPROMISING:
                distilled_while_compromised += distilled_bits
            if active and detect_at is None and (refused if s.kind == "key_exhaustion" else shown):
                detect_at = t
            if started and depleted_at is None and refused and self.refused_answered:
                depleted_at = t
            if cleared and recover_at is None:
                distilled_after_clear = distilled_after_clear or distilled_bits > 0
                fresh = distilled_after_clear or s.kind == "key_exhaustion"  # the link never stopped
                if fresh and delivered:
                    recover_at = t
            yield Measurement("stored_key_count", math.nan if stored is None else stored, "keys", tick)
            yield Measurement("key_rate_bps", distilled_bits / p.tick_s, "bit/s", tick)
            yield Measurement("fault_active", float(active), "bool", tick)
            tick += 1
        yield Measurement("tick_s", p.tick_s, "s")
        yield Measurement("fault_detected", float(detect_at is not None), "bool")
        if detect_at is not None:
            yield Measurement("time_to_detect_s", detect_at - s.at_s, "s")
        yield Measurement("recovered", float(recover_at is not None), "bool")
        if recover_at is not None:
            yield Measurement("time_to_recover_s", recover_at - fault_end, "s")
        self._collect_pending()  # the slave's last try; what it still cannot collect is lost
        yield Measurement("keys_lost", self.lost + sum(len(keys) for keys in self.pending), "count")
        yield Measurement("keys_repeated", self.repeated, "count")
        yield Measurement("key_mismatches", self.mismatches, "count")
        if s.kind in COMPROMISING:
            yield Measurement("fail_closed", float(distilled_while_compromised == 0), "bool")
        yield Measurement("buffer_depleted", float(depleted_at is not None), "bool")
        if depleted_at is not None:
            yield Measurement("buffer_depletion_s", depleted_at - s.at_s, "s")
        yield Measurement("availability", self.served / self.requests if self.requests else math.nan, "ratio")
        yield Measurement("key_requests", self.requests, "count")
