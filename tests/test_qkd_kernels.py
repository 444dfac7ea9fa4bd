"""Each numba kernel against its plain-Python reference (tests/qkd_reference.py) on fixed seeds."""

from __future__ import annotations

import numpy as np
import pytest

from harness.qkd import _channel_kernels as kernels
from harness.qkd.alias import alias_probabilities, alias_table
from harness.qkd.channel import RUN_PULSES, simulate_block
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
    n_ap = kernels._dead_time_afterpulse(kernels._seeded(99), dead_slots, p_ap, empty_cdf, 0.9, 20_000,
                                         slots, k_clicks, k_bob, *ap.values())
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


def test_runs_are_seeded_independently_and_joined_in_order():
    prof = _no_detector_memory("gys-2004")
    pulses = 2 * RUN_PULSES + 5000
    block = simulate_block(prof, 120.0, pulses, seed=31)
    model = click_model(prof, 120.0)
    probs = np.asarray(prof.intensity_probabilities)
    q = float(probs @ model.gain())
    threshold, alias = alias_table(model.event_weights(probs))
    seeds = np.random.SeedSequence(31).generate_state(5, dtype=np.uint32)
    middle = (block.slot >= RUN_PULSES) & (block.slot < 2 * RUN_PULSES)
    expected = np.array(reference_events(int(seeds[1]), RUN_PULSES, q, threshold, alias, model,
                                         prof.source.basis_probability_key, prof.misalignment_error))
    assert len(expected) > 100
    np.testing.assert_array_equal(block.slot[middle] - RUN_PULSES, expected[:, 0])
    np.testing.assert_array_equal(block.bob_bits[middle], expected[:, 5])
    assert np.all(np.diff(block.slot) > 0)


def test_merge_kernel_matches_concatenate_and_sort():
    rng = np.random.default_rng(3)
    n, m, room = 500, 60, 80
    slots = np.sort(rng.choice(100_000, n + m, replace=False)).astype(np.int64)
    ev_slot, ap_slot = np.sort(slots[:n]), np.sort(slots[n:])
    ev = [ev_slot] + [rng.integers(0, 2, n).astype(np.uint8) for _ in range(5)]
    ev += [rng.integers(0, 5, n).astype(np.int16), rng.integers(0, 4, n).astype(np.uint8),
           rng.integers(0, 3, n).astype(np.uint8)]
    ap = [ap_slot] + [rng.integers(0, 2, m).astype(np.uint8) for _ in range(5)]
    live = ev[7] > 0
    # Reference: the afterpulse columns laid out like events, concatenated, stably sorted by slot.
    ap_as_events = [ap[0], ap[1], ap[2], ap[3], ap[4], ap[5], np.full(m, -1, np.int16),
                    (1 << ap[5]).astype(np.uint8), np.full(m, 2, np.uint8)]
    merged = [np.concatenate((e[live], a)) for e, a in zip(ev, ap_as_events, strict=True)]
    order = np.argsort(merged[0], kind="stable")
    buffers = [np.concatenate((e, np.zeros(room, e.dtype))) for e in ev]  # in place, with room
    written = kernels._merge_afterpulses(n, *buffers, *ap)
    assert written == live.sum() + m
    for got, want in zip(buffers, merged, strict=True):
        np.testing.assert_array_equal(got[:written], want[order])


def test_tally_kernel_matches_bincount():
    rng = np.random.default_rng(4)
    n = 10_000
    k, ab, a, bb, b = (rng.integers(0, hi, n).astype(np.uint8) for hi in (3, 2, 2, 2, 2))
    detections, key, sifted, errors = kernels._tally(k, ab, a, bb, b, 3)
    index = k.astype(np.int64) * 2 + ab
    match = ab == bb
    np.testing.assert_array_equal(detections, np.bincount(k, minlength=3))
    np.testing.assert_array_equal(key, np.bincount(k[ab == 0], minlength=3))
    np.testing.assert_array_equal(sifted, np.bincount(index[match], minlength=6).reshape(3, 2))
    np.testing.assert_array_equal(errors, np.bincount(index[match & (a != b)], minlength=6).reshape(3, 2))
