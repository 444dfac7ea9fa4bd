"""Each numba kernel against its plain-Python reference (tests/qkd_reference.py) on fixed seeds."""

from __future__ import annotations

import numpy as np
import pytest

from harness.qkd import _channel_kernels as kernels
from harness.qkd.alias import alias_probabilities, alias_table
from harness.qkd.channel import simulate_block
from harness.qkd.photon_model import DetectorBlinding, InterceptResend, PhotonNumberSplitting, click_model
from harness.qkd.profiles import load_profile
from tests.qkd_reference import Xoshiro256Plus, reference_dead_time, reference_events


def test_uniform_stream_matches_reference_generator():
    state = kernels._seeded(12345)
    ref = Xoshiro256Plus(12345)
    for _ in range(1000):
        assert kernels._uniform(state) == ref.uniform()


def _no_detector_memory(name: str):
    return load_profile(name).with_changes(
        {"detector.dead_time_s": 0.0, "detector.afterpulse_probability": 0.0})


@pytest.mark.parametrize(
    ("name", "distance_km", "attack", "seed", "pulses"),
    [
        ("gys-2004", 20.0, None, 1, 200_000),
        ("high-rate-2023", 0.0, None, 2, 20_000),  # many double clicks and multi-photon detections
        ("lim-2014", 150.0, None, 3, 50_000_000),  # dark counts matter
        ("gys-2004", 5.0, InterceptResend(0.6), 4, 200_000),
        ("gys-2004", 30.0, PhotonNumberSplitting(), 5, 1_000_000),
        ("free-space-ground", 2.0, DetectorBlinding(0.7), 6, 20_000),
    ],
)
def test_event_kernel_matches_reference(name, distance_km, attack, seed, pulses):
    prof = _no_detector_memory(name)
    block = simulate_block(prof, distance_km, pulses, seed, attack=attack)
    model = click_model(prof, distance_km, attack)
    probs = np.asarray(prof.intensity_probabilities)
    q = float(probs @ model.gain())
    threshold, alias = alias_table(model.event_weights(probs))
    run_seed = int(np.random.SeedSequence(seed).generate_state(3, dtype=np.uint32)[0])
    expected = reference_events(run_seed, pulses, q, threshold, alias, model,
                                prof.source.basis_probability_key, prof.misalignment_error)
    assert len(expected) > 100, "the case should exercise the kernel"
    # The click pattern is internal to the block; every published field must match.
    got = np.column_stack([block.slot, block.intensity, block.alice_basis, block.alice_bits,
                           block.bob_basis, block.bob_bits, block.photon_number, block.eve_bits])
    want = np.array(expected)[:, [0, 1, 2, 3, 4, 5, 6, 8]]
    np.testing.assert_array_equal(got, want)


def test_dead_time_kernel_matches_reference():
    prof = _no_detector_memory("high-rate-2023")
    block = simulate_block(prof, 5.0, 20_000, 7)
    slots = block.slot.copy()
    bob = block.bob_bits.copy()
    # Rebuild click patterns: single clicks on Bob's bit, plus some double clicks.
    clicks = (1 << bob).astype(np.uint8)
    clicks[::17] = 3
    empty_cdf = np.array([0.8, 0.9, 1.0])
    n = slots.shape[0]
    ap = {k: np.empty(n + 64, t) for k, t in
          (("slot", np.int64), ("i", np.uint8), ("ab", np.uint8), ("a", np.uint8), ("bb", np.uint8),
           ("d", np.uint8))}
    dead_slots, p_ap = 7, 0.2
    k_clicks, k_bob = clicks.copy(), bob.copy()
    n_ap = kernels._dead_time_afterpulse(99, dead_slots, p_ap, empty_cdf, 0.9, 20_000, slots, k_clicks,
                                         k_bob, ap["slot"], ap["i"], ap["ab"], ap["a"], ap["bb"], ap["d"])
    r_clicks, r_bob, r_ap = reference_dead_time(99, dead_slots, p_ap, empty_cdf, 0.9, 20_000, slots,
                                                clicks, bob)
    assert n_ap == len(r_ap) > 10
    np.testing.assert_array_equal(k_clicks, r_clicks)
    np.testing.assert_array_equal(k_bob, r_bob)
    got_ap = np.column_stack([ap[k][:n_ap] for k in ("slot", "i", "ab", "a", "bb", "d")])
    np.testing.assert_array_equal(got_ap, np.array(r_ap))
    assert (k_clicks == 0).sum() > 100, "dead time should remove candidate clicks at this rate"


@pytest.mark.parametrize("weights", [[1.0], [0.2, 0.8], [0.0, 3.0, 1.0, 0.0, 1e-9, 5.0], list(range(40))])
def test_alias_table_samples_exactly_its_weights(weights):
    threshold, alias = alias_table(np.array(weights, float))
    w = np.array(weights, float)
    np.testing.assert_allclose(alias_probabilities(threshold, alias), w / w.sum(), rtol=0, atol=1e-12)
    draws = np.array([kernels._alias(threshold, alias, u) for u in np.linspace(0, 1, 4001)[:-1]])
    assert set(np.unique(draws)) <= set(np.flatnonzero(w))


def test_alias_table_rejects_bad_weights():
    with pytest.raises(ValueError, match="non-negative"):
        alias_table(np.array([0.5, -0.1]))
