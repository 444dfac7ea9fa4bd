"""The simulated device on the real QKD core (run_block): key store, telemetry, attacks.

free-space-ground at 50 km is the fast profile here: one post-processing block (10^6 key-basis
detections) is ~15 s of device time and about a second of wall time.
"""

from __future__ import annotations

import math

import pytest

from harness.adapters import Attack, Capability
from harness.qkd.bounds import plob_bound
from harness.qkd.finite_key import finite_key_rate
from harness.qkd.keyrate import decoy_bb84_asymptotic
from harness.qkd.profiles import load_profile
from harness.suite import MeasureContext
from suites.key_rate import KeyRate, KeyRateParams
from vendors.simulated_qkd.adapter import SimulatedQKDAdapter
from vendors.simulated_qkd.core_source import CoreKeySource

PROFILE, KM = "free-space-ground", 50.0


@pytest.fixture(scope="module")
def device():
    adapter = SimulatedQKDAdapter({"profile": PROFILE, "fibre_km": KM, "seed": 11, "max_key_count": 5000})
    yield adapter
    adapter.close()


def test_declares_every_qkd_capability(device):
    assert {Capability.KEY_DELIVERY, Capability.TELEMETRY, Capability.CHANNEL_CONTROL,
            Capability.FAULT_INJECTION, Capability.ETSI014} <= device.capabilities
    assert SimulatedQKDAdapter.availability().available


def test_blocks_fill_both_ends_with_the_distilled_key(device):
    before = device.link.store.counters().deposited_bits
    snap = device.observe(20.0)
    assert snap.key_delivery_active and snap.secret_key_rate_bps > 0
    assert device.link.store.counters().deposited_bits - before == snap.extra["secret_bits"]
    assert 0.005 < snap.qber < 0.05
    assert snap.sifted_rate_bps > snap.secret_key_rate_bps
    keys = device.enc_keys(4, 512)
    assert [k.material for k in device.dec_keys([k.key_id for k in keys])] == [k.material for k in keys]


def test_monte_carlo_rate_is_physical(device):
    device.set_attack(None)
    snap = device.observe(60.0)
    profile = load_profile(PROFILE)
    rep = profile.source.repetition_rate_hz
    plob = plob_bound(profile.channel_transmittance(KM)) * rep
    asymptotic = decoy_bb84_asymptotic(profile, KM).rate_per_pulse * rep
    finite = finite_key_rate(profile, KM).rate_per_pulse * rep
    # Below the repeaterless bound and the asymptotic rate; of the order of the analytic finite-key
    # rate, which assumes f = profile's EC efficiency where the Monte Carlo pays Cascade's real leak.
    assert snap.secret_key_rate_bps < asymptotic < plob
    assert 0.5 * finite < snap.secret_key_rate_bps < 2.0 * finite
    assert snap.channel_loss_db == pytest.approx(-10 * math.log10(profile.channel_transmittance(KM)))


def _key_rate_at(km: float, tmp_path) -> dict[str, list[float]]:
    adapter = SimulatedQKDAdapter({"profile": PROFILE, "fibre_km": km, "seed": 11})
    try:
        ctx = MeasureContext(seed=1, work_dir=tmp_path, timeout_s=600)
        rows = KeyRate().measure(adapter, KeyRateParams(distances_km=[km], window_s=0.1, repeats=3),
                                 {"distance_km": km}, ctx)
        found: dict[str, list[float]] = {}
        for row in rows:
            found.setdefault(row.metric, []).append(row.value)
        return found
    finally:
        adapter.close()


def test_the_rate_lies_on_the_finite_key_bound_at_the_reconciliation_efficiency_achieved(tmp_path,
                                                                                        monkeypatch):
    """Cascade leaks f ≈ 1.06 where the profile declares 1.16 (the bound's leak f·n·h(QBER)): at the
    declared f the measured rate is 1.4× the bound here, 1.8–2.1× near the reach on qkd_procurement;
    at the f the device achieved, the bound lies inside the measured rate's interval."""
    m = _key_rate_at(KM, tmp_path)
    declared = load_profile(PROFILE).error_correction_efficiency
    achieved = m["reconciliation_efficiency"]
    assert len(achieved) == 3 and all(1.0 < f < declared for f in achieved)
    assert m["ratio_to_analytic_finite_key"][0] > 1.2
    (like,) = m["analytic_finite_key_achieved_ec_bps"]
    assert m["secret_key_rate_bps_ci_low"][0] <= like <= m["secret_key_rate_bps_ci_high"][0]
    assert m["ratio_to_analytic_finite_key_achieved_ec"][0] == pytest.approx(1.0, abs=0.1)
    # A device whose key length never subtracts what error correction disclosed is caught: far above
    # the bound at its own f, where at the declared f it would read as a good error correction.
    from harness.qkd import pipeline

    sound = pipeline._key_length
    monkeypatch.setattr(pipeline, "_key_length",
                        lambda block, prof, decoy, leaked: sound(block, prof, decoy, 0))
    assert _key_rate_at(KM, tmp_path)["ratio_to_analytic_finite_key_achieved_ec"][0] > 1.5


@pytest.mark.parametrize(("attack", "monitor", "delivers"), [
    (Attack("intercept_resend", 1.0), True, False),
    (Attack("pns"), True, False),
    (Attack("blinding", 1.0), True, False),
    (Attack("blinding", 1.0), False, True),
])
def test_attacks_and_what_the_device_does(device, attack, monitor, delivers):
    device.set_countermeasure("blinding_monitor", monitor)
    device.set_attack(attack)
    try:
        snap = device.observe(15.0)
    finally:
        device.set_attack(None)
        device.set_countermeasure("blinding_monitor", True)
    assert (snap.secret_key_rate_bps > 0) is delivers
    if attack.kind == "intercept_resend":
        assert snap.qber > 0.2  # 1/4 of the sifted bits plus the honest errors
    if attack.kind == "blinding" and monitor:
        assert snap.extra["alarms"] >= 1


def test_link_down_fault_stops_key_and_kme_fault_answers_503(device):
    from harness.adapters import Fault, KeyDeliveryError

    device.inject(Fault("link_down", 30.0))
    assert device.observe(15.0).secret_key_rate_bps == 0
    device.clear_faults()
    device.inject(Fault("kme_unavailable", 5.0))
    with pytest.raises(KeyDeliveryError) as info:
        device.status()
    assert info.value.http_status == 503
    device.clear_faults()
    assert device.status().stored_key_count >= 0


@pytest.mark.parametrize("profile, km", [("high-rate-2023", 10.0), ("lim-2014", 10.0)])
def test_a_block_holds_the_key_basis_detections_its_block_size_names(profile, km):
    # The finite-key bound is computed for n_X = block_bits; the device must deliver that many
    # through its detectors' dead time (high-rate-2023 at 10 km loses 22 % of its clicks to it).
    block_bits = 200_000
    source = CoreKeySource(profile, block_bits)
    out = source.block(km, 0.0, None, seed=5)
    assert out.sifted_bits == pytest.approx(block_bits, rel=0.02)
