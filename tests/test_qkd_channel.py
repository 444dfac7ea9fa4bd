"""The Monte Carlo channel against the analytic model, the attacks, and the detector effects."""

from __future__ import annotations

import math
import multiprocessing

import numba
import numpy as np
import pytest

from harness.qkd import channel
from harness.qkd.channel import RUN_PULSES, BlockStream, simulate_block
from harness.qkd.keyrate import Observations, decoy_bb84_asymptotic, expected_observations, vacuum_weak_bounds
from harness.qkd.observations import dead_time_live_fraction
from harness.qkd.photon_model import DetectorBlinding, InterceptResend, PhotonNumberSplitting
from harness.qkd.profiles import ProfileError, load_profile

Z_LIMIT = 4.5  # per comparison; the seeds are fixed, so a pass is reproducible


def _z(measured: float, expected: float, sigma: float) -> float:
    return abs(measured - expected) / sigma


@pytest.mark.parametrize("distance_km", [0.0, 25.0, 60.0, 100.0, 130.0])
def test_gain_and_qber_agree_with_analytic_expectation(distance_km):
    prof = load_profile("gys-2004")
    block = simulate_block(prof, distance_km, 60_000_000, seed=int(distance_km) + 11)
    sent = block.sent.sum(axis=1)
    for k, mu in enumerate(prof.intensities):
        obs = expected_observations(prof, distance_km, mu)
        sigma_q = math.sqrt(obs.gain * (1 - obs.gain) / sent[k])
        assert _z(block.gain[k], obs.gain, sigma_q) < Z_LIMIT, (k, block.gain[k], obs.gain)
        for basis in (0, 1):
            n = block.detected[k, basis]
            if n < 200:
                continue
            sigma_e = math.sqrt(obs.qber * (1 - obs.qber) / n)
            assert _z(block.qber[k, basis], obs.qber, sigma_e) < Z_LIMIT, (k, basis, block.qber[k, basis])
        # Ma et al.'s closed forms, which drop terms of order Y0 * eta * mu, agree as well.
        eta = prof.total_transmittance(distance_km)
        ma_gain = prof.background_yield() + 1 - math.exp(-eta * mu)
        assert _z(block.gain[k], ma_gain, sigma_q) < Z_LIMIT


@pytest.mark.parametrize("background", ["day", "night"])
def test_free_space_link_agrees_with_analytic_by_day_and_night(background):
    prof = load_profile("free-space-ground").with_changes({"detector.dead_time_s": 0.0})
    distance_km = 8.0
    block = simulate_block(prof, distance_km, 20_000_000, seed=17, background=background)
    sent = block.sent.sum(axis=1)
    for k, mu in enumerate(prof.intensities):
        obs = expected_observations(prof, distance_km, mu, background)
        assert _z(block.gain[k], obs.gain, math.sqrt(obs.gain * (1 - obs.gain) / sent[k])) < Z_LIMIT
    n = block.detected[0].sum()
    signal = expected_observations(prof, distance_km, prof.intensities[0], background)
    assert _z(block.errors[0].sum() / n, signal.qber, math.sqrt(signal.qber / n)) < Z_LIMIT
    if background == "day":  # enough vacuum clicks to see that background gives random bits
        vacuum = block.detected[2].sum()
        assert vacuum > 150
        assert _z(block.errors[2].sum() / vacuum, 0.5, math.sqrt(0.25 / vacuum)) < Z_LIMIT


def test_sent_counts_follow_the_intensity_and_basis_probabilities():
    prof = load_profile("lim-2014")
    block = simulate_block(prof, 50.0, 10_000_000, seed=3)
    assert block.sent.sum() == 10_000_000
    frac = block.sent.sum(axis=1) / 1e7
    for k, p in enumerate(prof.intensity_probabilities):
        assert _z(frac[k], p, math.sqrt(p * (1 - p) / 1e7)) < Z_LIMIT
    key = block.sent[:, 0].sum() / 1e7
    assert _z(key, 0.9, math.sqrt(0.09 / 1e7)) < Z_LIMIT
    assert block.detections.sum() == block.slot.shape[0]
    assert np.all(np.diff(block.slot) > 0)


@pytest.mark.parametrize("fraction", [0.25, 0.5, 1.0])
def test_intercept_resend_raises_qber_by_a_quarter_of_the_fraction(fraction):
    clean = load_profile("gys-2004").with_changes(
        {"misalignment_error": 0.0, "detector.dark_count_probability": 0.0})
    block = simulate_block(clean, 10.0, 20_000_000, seed=21, attack=InterceptResend(fraction))
    n = block.detected[0].sum()
    qber = block.errors[0].sum() / n
    expected = fraction / 4
    assert _z(qber, expected, math.sqrt(expected * (1 - expected) / n)) < Z_LIMIT
    honest = simulate_block(clean, 10.0, 20_000_000, seed=21)
    assert honest.errors.sum() == 0


def test_intercept_resend_on_a_realistic_link_adds_a_quarter_of_the_clean_fraction():
    prof = load_profile("gys-2004")
    p = 0.4
    honest = simulate_block(prof, 20.0, 40_000_000, seed=5)
    attacked = simulate_block(prof, 20.0, 40_000_000, seed=6, attack=InterceptResend(p))
    e0 = honest.errors[0].sum() / honest.detected[0].sum()
    e1 = attacked.errors[0].sum() / attacked.detected[0].sum()
    # On intercepted photon events the error becomes 1/4 + e_d/2 instead of e_d: +p/4 (1 - 2 e_d).
    expected_rise = p / 4 * (1 - 2 * prof.misalignment_error)
    sigma = math.hypot(math.sqrt(e0 * (1 - e0) / honest.detected[0].sum()),
                       math.sqrt(e1 * (1 - e1) / attacked.detected[0].sum()))
    assert _z(e1 - e0, expected_rise, sigma) < Z_LIMIT
    for k in (0, 1):  # the detection rate is unchanged
        sigma_q = math.sqrt(honest.gain[k] / honest.sent[k].sum() + attacked.gain[k] / attacked.sent[k].sum())
        assert _z(attacked.gain[k], honest.gain[k], sigma_q) < Z_LIMIT


def test_photon_number_splitting_keeps_signal_gain_and_qber_but_starves_the_decoy():
    prof = load_profile("gys-2004")
    honest = simulate_block(prof, 40.0, 60_000_000, seed=8)
    pns = simulate_block(prof, 40.0, 60_000_000, seed=9, attack=PhotonNumberSplitting())
    sigma = math.sqrt(honest.gain[0] / honest.sent[0].sum()) * math.sqrt(2)
    assert _z(pns.gain[0], honest.gain[0], sigma) < Z_LIMIT
    assert pns.gain[1] < 0.5 * honest.gain[1], "decoy gain must fall: that is how decoys catch PNS"
    e_h = honest.errors[0].sum() / honest.detected[0].sum()
    e_p = pns.errors[0].sum() / pns.detected[0].sum()
    assert abs(e_p - e_h) < 0.01
    multi = (pns.photon_number >= 2) & (pns.alice_basis == pns.bob_basis)
    assert np.array_equal(pns.eve_bits[multi], pns.alice_bits[multi]), "Eve keeps a copy of multi-photon bits"
    # The decoy estimate from the measured counts sees through it: no single-photon yield is certified.
    mu, nu = prof.intensities[:2]

    def y1_lower(block):
        obs = [Observations(float(block.gain[k]), float(block.errors[k].sum() / block.detected[k].sum()))
               for k in (0, 1)]
        return vacuum_weak_bounds(mu, nu, obs[0], obs[1], float(block.gain[2]))[0]

    true_y1 = prof.background_yield() + prof.total_transmittance(40.0)
    assert y1_lower(honest) == pytest.approx(true_y1, rel=0.15)
    assert y1_lower(pns) < 0.1 * true_y1


@pytest.mark.parametrize("monitor", [False, True])
def test_detector_blinding_is_invisible_in_qber_and_caught_only_by_a_monitor(monitor):
    prof = load_profile("gys-2004").with_changes({"blinding_monitor": monitor})
    honest = simulate_block(prof, 20.0, 20_000_000, seed=10)
    blind = simulate_block(prof, 20.0, 20_000_000, seed=11, attack=DetectorBlinding(1.0))
    assert blind.errors.sum() == 0, "Eve's bright pulses make no errors"
    assert honest.errors.sum() > 0
    assert blind.gain[0] == pytest.approx(honest.gain[0], rel=0.02)
    sifted = blind.alice_basis == blind.bob_basis
    assert np.array_equal(blind.eve_bits[sifted], blind.bob_bits[sifted]), "Eve knows every sifted bit"
    assert blind.blinding_alarm is monitor
    assert honest.blinding_alarm is False


def test_dead_time_reduces_detection_like_a_non_paralysable_counter():
    prof = load_profile("high-rate-2023").with_changes({"detector.dead_time_s": 4.0e-9})
    block = simulate_block(prof, 10.0, 2_000_000, seed=12)
    dead_slots = 10  # 4 ns at 2.5 GHz
    probs = np.asarray(prof.intensity_probabilities)
    clicks_free = float(probs @ block.expected_gain)
    per_detector = clicks_free / 2
    expected = 2 * per_detector / (1 + per_detector * dead_slots)
    measured = block.detections.sum() / block.pulses_sent
    assert measured == pytest.approx(expected, rel=0.03)
    assert measured < 0.8 * clicks_free


def test_registered_gains_and_single_photon_yield_agree_with_analytic_through_dead_time():
    # high-rate-2023 at 0 km: 2 ns dead time (5 gates) keeps 0.70 of the candidate clicks, the
    # same share at every intensity, so the decoy bounds on measured gains certify 0.70 of the
    # dead-time-free Y1, as the analytic rate (which applies the live fraction) says.
    prof = load_profile("high-rate-2023")
    block = simulate_block(prof, 0.0, 20_000_000, seed=21)
    sent = block.sent.sum(axis=1)
    probs = np.asarray(prof.intensity_probabilities)
    candidates = [expected_observations(prof, 0.0, mu).gain for mu in prof.intensities]
    live = dead_time_live_fraction(prof, float(probs @ candidates))
    assert live < 0.75
    for k, candidate in enumerate(candidates):
        expected = candidate * live
        assert _z(block.gain[k], expected, math.sqrt(expected / sent[k])) < Z_LIMIT, (k, block.gain[k])
    qber = block.errors.sum(axis=1) / block.detected.sum(axis=1)
    mu, nu, _ = prof.intensities
    y1, _ = vacuum_weak_bounds(mu, nu, Observations(block.gain[0], qber[0]),
                               Observations(block.gain[1], qber[1]), block.gain[2])
    assert decoy_bb84_asymptotic(prof, 0.0).y1 == pytest.approx(y1, rel=0.03)
    dead_time_free = prof.with_changes({"detector.dead_time_s": 0.0})
    assert decoy_bb84_asymptotic(dead_time_free, 0.0).y1 > 1.3 * y1


def test_afterpulses_add_random_bit_detections_as_modelled():
    prof = load_profile("lim-2014")
    block = simulate_block(prof, 50.0, 100_000_000, seed=13)
    expected = sum(p * expected_observations(prof, 50.0, mu).gain
                   for mu, p in zip(prof.intensities, prof.intensity_probabilities, strict=True))
    measured = block.detections.sum() / block.pulses_sent
    assert _z(measured, expected, math.sqrt(expected / block.pulses_sent)) < Z_LIMIT
    afterpulses = block.photon_number == -1
    assert afterpulses.mean() == pytest.approx(0.04, abs=0.005)
    sifted = afterpulses & (block.alice_basis == block.bob_basis)
    assert np.mean(block.alice_bits[sifted] != block.bob_bits[sifted]) == pytest.approx(0.5, abs=0.03)


@pytest.mark.parametrize("distance_km", [0.0, 60.0, 120.0, 170.0])
def test_afterpulsing_detector_agrees_with_analytic_per_intensity(distance_km):
    prof = load_profile("lim-2014")  # afterpulse 4 %, no dead time
    block = simulate_block(prof, distance_km, 40_000_000, seed=40 + int(distance_km))
    sent = block.sent.sum(axis=1)
    for k, mu in enumerate(prof.intensities):
        obs = expected_observations(prof, distance_km, mu)
        assert _z(block.gain[k], obs.gain, math.sqrt(obs.gain / sent[k])) < Z_LIMIT, (k, block.gain[k])
        n = block.detected[k].sum()
        if n >= 500:
            measured = block.errors[k].sum() / n
            assert _z(measured, obs.qber, math.sqrt(obs.qber * (1 - obs.qber) / n)) < Z_LIMIT, (k, measured)


def test_same_seed_same_block_and_thread_count_does_not_matter():
    prof = load_profile("gys-2004")
    pulses = 2 * RUN_PULSES + 12345  # three independently seeded runs
    a = simulate_block(prof, 120.0, pulses, seed=99)
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        b = simulate_block(prof, 120.0, pulses, seed=99)
    finally:
        numba.set_num_threads(threads)
    c = simulate_block(prof, 120.0, pulses, seed=100)
    for name in ("slot", "alice_bits", "bob_bits", "alice_basis", "bob_basis", "intensity"):
        assert np.array_equal(getattr(a, name), getattr(b, name))
    assert np.array_equal(a.sent, b.sent)
    assert not np.array_equal(a.slot[:50], c.slot[:50])
    assert a.slot.max() < pulses


@pytest.mark.parametrize("model", ["next-gate", "lim-2014"])
@pytest.mark.parametrize("runs_per_chunk", [1, 3])
def test_streamed_chunks_are_the_block_bit_for_bit(monkeypatch, model, runs_per_chunk):
    # Short runs give many runs and chunk boundaries in a small block; dead time and frequent
    # afterpulses make the detector pass carry dead detectors and pending afterpulses across them.
    monkeypatch.setattr(channel, "RUN_PULSES", 1 << 12)
    prof = load_profile("high-rate-2023").with_changes(
        {"detector.dead_time_s": 4.0e-9, "detector.afterpulse_probability": 0.2,
         "detector.afterpulse_model": model})
    pulses = 40 * (1 << 12) + 77
    whole = simulate_block(prof, 5.0, pulses, seed=21)
    stream = BlockStream(prof, 5.0, pulses, seed=21, runs_per_chunk=runs_per_chunk)
    chunks = [{name: arr.copy() for name, arr in chunk.items()} for chunk in stream]
    assert len(chunks) == -(-41 // runs_per_chunk)
    for name in ("slot", "intensity", "alice_basis", "alice_bits", "bob_basis", "bob_bits", "photon_number",
                 "eve_bits"):
        np.testing.assert_array_equal(np.concatenate([c[name] for c in chunks]), getattr(whole, name), name)
    assert (whole.photon_number == -1).sum() > 1000  # afterpulses happened, across chunk ends too
    counts = stream.counts()
    for name in ("sent", "detected", "errors", "detections"):
        np.testing.assert_array_equal(getattr(counts, name), getattr(whole, name), name)
    with pytest.raises(RuntimeError, match="read once"):
        iter(stream)


def test_counts_of_a_stream_are_refused_before_its_last_chunk():
    stream = BlockStream(load_profile("gys-2004"), 50.0, 1000, seed=1)
    with pytest.raises(RuntimeError, match="last chunk"):
        stream.counts()


def _slots_in_child(seed: int) -> np.ndarray:
    return simulate_block(load_profile("gys-2004"), 120.0, RUN_PULSES + 999, seed=seed).slot


def test_a_forked_child_simulates_after_its_parent_did():
    # The generator threads live in a per-process pool; a forked child inherits the pool
    # object but none of its threads, and must not wait on them forever.
    parent = simulate_block(load_profile("gys-2004"), 120.0, RUN_PULSES + 999, seed=5).slot
    with multiprocessing.get_context("fork").Pool(1) as pool:
        child = pool.apply_async(_slots_in_child, (5,)).get(timeout=120)
    np.testing.assert_array_equal(child, parent)


def test_key_material_stays_out_of_repr():
    block = simulate_block("gys-2004", 10.0, 100_000, seed=1)
    text = repr(block)
    assert "bits" not in text and "array" not in text
    assert "gys-2004" in text


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"pulses": 0}, "pulses"), ({"pulses": 1.5}, "pulses"), ({"seed": -1}, "seed"),
        ({"distance_km": -1.0}, "distance_km"), ({"distance_km": float("nan")}, "distance_km"),
        ({"attack": "eve"}, "unknown attack"), ({"background": "dusk"}, "background"),
    ],
)
def test_bad_input_is_rejected_with_a_clear_message(kwargs, message):
    args = {"profile": "gys-2004", "distance_km": 10.0, "pulses": 1000, "seed": 1} | kwargs
    with pytest.raises((ValueError, TypeError), match=message):
        simulate_block(**args)


def test_unknown_profile_names_the_shipped_ones():
    with pytest.raises(ProfileError, match="gys-2004"):
        simulate_block("no-such-device", 10.0, 1000, 1)


def test_extreme_links_stay_well_defined():
    far = simulate_block("gys-2004", 1000.0, 10**12, seed=1)  # q ~ 2e-6 (dark counts only)
    assert far.detections.sum() == pytest.approx(10**12 * 1.7e-6, rel=0.01)
    perfect = load_profile("gys-2004").with_changes(
        {"detector.efficiency": 1.0, "detector.dark_count_probability": 0.0})
    block = simulate_block(perfect, 0.0, 100_000, seed=2)  # eta = 1: every non-empty pulse clicks
    for k, mu in enumerate(perfect.intensities):
        assert block.expected_gain[k] == pytest.approx(1 - math.exp(-mu), rel=1e-12)
    assert np.isfinite(block.gain).all()
