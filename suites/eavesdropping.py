"""Attacks on a QKD link and whether the device notices them, with the evidence.

- intercept-resend over a sweep of intercepted fractions: the QBER rise (theory: fraction/4)
  and whether the device stops delivering keys once its estimates no longer allow a key;
- photon-number splitting with and without decoy analysis: no QBER rise, so only decoy-state
  estimation can see it;
- detector blinding with and without the blinding monitor: no QBER rise either.
The device "detected" an attack when it stopped delivering key or raised an alarm in the
attacked windows while it delivered in the baseline ones. A defence the device cannot switch
off is judged from its observables: without decoy analysis a device sees only the QBER, so it
detects the attack only if the QBER rose significantly (three standard errors).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from pydantic import Field

from harness.adapters import Adapter, Attack, Capability, NotApplicable, TelemetrySnapshot
from harness.suite import MeasureContext, Measurement, Metric, Suite, SuiteParams
from suites.qkd_time import observe_window

DEFENCE = {"pns": "decoy_analysis", "blinding": "blinding_monitor"}


class EavesdroppingParams(SuiteParams):
    fibre_km: float = Field(25.0, ge=0)
    window_s: float = Field(60.0, gt=0, le=86_400, description="link time per window")
    windows: int = Field(3, ge=1, le=100, description="windows per condition (baseline and attacked)")
    intercept_fractions: list[float] = Field([0.0, 0.1, 0.25, 0.5, 1.0], min_length=1)
    attacks: list[str] = Field(["intercept_resend", "pns", "blinding"], min_length=1)


def _pooled(snaps: list[TelemetrySnapshot]) -> tuple[float, float, float, float, float]:
    """(qber, its standard error, key rate bit/s, share of windows delivering, alarms)."""
    counted = [(s.qber, s.sifted_rate_bps * s.window_s) for s in snaps
               if math.isfinite(s.qber) and math.isfinite(s.sifted_rate_bps)]
    sifted = sum(n for _, n in counted)
    errors = sum(q * n for q, n in counted)
    qber = errors / sifted if sifted else math.nan
    se = math.sqrt(qber * (1 - qber) / sifted) if sifted else math.nan
    span = sum(s.window_s for s in snaps)
    rate = sum(s.secret_key_rate_bps * s.window_s for s in snaps) / span if span else math.nan
    delivering = sum(s.key_delivery_active and s.secret_key_rate_bps > 0 for s in snaps) / len(snaps)
    return qber, se, rate, delivering, sum(s.extra.get("alarms", 0.0) for s in snaps)


class Eavesdropping(Suite):
    name: ClassVar[str] = "eavesdropping"
    requires: ClassVar[frozenset[Capability]] = frozenset({Capability.CHANNEL_CONTROL, Capability.TELEMETRY})
    Params: ClassVar[type[SuiteParams]] = EavesdroppingParams
    label_columns: ClassVar[tuple[str, ...]] = ("verdict", "verdict_basis", "evidence")
    metrics: ClassVar[dict[str, Metric]] = {
        "attack_detected": Metric("bool", "higher", "the attack was detected", deterministic=True),
        "qber_baseline": Metric("ratio", "none", "QBER without the attack"),
        "qber_attacked": Metric("ratio", "none", "QBER under the attack"),
        "qber_rise": Metric("ratio", "none", "QBER under attack minus without"),
        "qber_rise_expected": Metric("ratio", "none", "intercept-resend theory: fraction / 4",
                                     reference_for=("qber_rise",)),
        "secret_key_rate_baseline_bps": Metric("bit/s", "higher", "key rate without the attack"),
        "secret_key_rate_attacked_bps": Metric("bit/s", "none", "key rate under the attack"),
        "delivering_share_attacked": Metric("ratio", "none", "share of windows delivering key under attack"),
        "alarms": Metric("count", "none", "alarms the device raised under attack"),
    }

    def cases(self, params: SuiteParams) -> list[dict[str, Any]]:
        assert isinstance(params, EavesdroppingParams)
        out: list[dict[str, Any]] = []
        for attack in params.attacks:
            if attack == "intercept_resend":
                out += [{"attack": attack, "fraction": float(f), "defence": "on"}
                        for f in params.intercept_fractions]
            elif attack in DEFENCE:
                out += [{"attack": attack, "fraction": 1.0, "defence": d} for d in ("on", "off")]
            else:
                raise ValueError(f"unknown attack {attack!r}: use intercept_resend, pns or blinding")
        return out

    def _windows(self, adapter: Adapter, p: EavesdroppingParams) -> list[TelemetrySnapshot]:
        return [observe_window(adapter, p.window_s) for _ in range(p.windows)]

    def measure(self, adapter: Adapter, params: SuiteParams, case: Mapping[str, Any],
                ctx: MeasureContext) -> Iterable[Measurement]:
        assert isinstance(params, EavesdroppingParams)
        attack, fraction, defence_on = case["attack"], float(case["fraction"]), case["defence"] == "on"
        defence = DEFENCE.get(attack)
        switchable = defence is not None and defence in getattr(adapter, "countermeasures", lambda: ())()
        if defence and switchable:
            adapter.set_countermeasure(defence, defence_on)  # type: ignore[attr-defined]
        elif defence and defence_on and attack == "blinding":
            raise NotApplicable(f"{adapter.name} cannot switch its {defence}")
        adapter.set_fibre_km(params.fibre_km)  # type: ignore[attr-defined]
        try:
            adapter.set_attack(None)  # type: ignore[attr-defined]
            base = _pooled(self._windows(adapter, params))
            if base[3] == 0:
                raise NotApplicable(f"{adapter.name} delivers no key at {params.fibre_km} km without an "
                                    "attack: there is nothing for an attack to change")
            adapter.set_attack(Attack(attack, fraction))  # type: ignore[attr-defined]
            hit = _pooled(self._windows(adapter, params))
        finally:
            adapter.set_attack(None)  # type: ignore[attr-defined]
            if defence and switchable:
                adapter.set_countermeasure(defence, True)  # type: ignore[attr-defined]
        (q0, se0, r0, d0, _), (q1, se1, r1, d1, alarms) = base, hit
        rise = q1 - q0
        significant = math.isfinite(rise) and rise > 3 * math.hypot(se0, se1)
        by_device = defence is None or switchable or defence_on
        if by_device:
            detected = d0 > 0 and (d1 == 0 or alarms > 0)
            basis = "device"
        else:  # e.g. PNS on a device that always runs decoy analysis: what a device without it sees
            detected = significant
            basis = "observables_without_" + str(defence)
        noise = "significant" if significant else "within noise"
        evidence = (f"QBER {q0:.4f} -> {q1:.4f} (rise {rise:+.4f}, {noise}); "
                    f"key rate {r0:.4g} -> {r1:.4g} bit/s; windows delivering {d0:.0%} -> {d1:.0%}; "
                    f"alarms {alarms:.0f}")
        labels = {"verdict": "detected" if detected else "undetected", "verdict_basis": basis,
                  "evidence": evidence}
        yield Measurement("attack_detected", float(detected), "bool", 0, labels)
        for metric, value, unit in (("qber_baseline", q0, "ratio"), ("qber_attacked", q1, "ratio"),
                                    ("qber_rise", rise, "ratio"),
                                    ("secret_key_rate_baseline_bps", r0, "bit/s"),
                                    ("secret_key_rate_attacked_bps", r1, "bit/s"),
                                    ("delivering_share_attacked", d1, "ratio"), ("alarms", alarms, "count")):
            yield Measurement(metric, value, unit)
        if attack == "intercept_resend":
            yield Measurement("qber_rise_expected", fraction / 4, "ratio")
