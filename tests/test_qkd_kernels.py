"""Each numba kernel against its plain-Python reference (tests/qkd_reference.py) on fixed seeds."""

from __future__ import annotations

import numpy as np
import pytest

from harness.qkd import _channel_kernels as kernels
from harness.qkd import _detector_kernels as detector
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


EVENT_DTYPES = [np.int64, np.uint8, np.uint8, np.uint8, np.uint8, np.uint8, np.int16, np.uint8, np.uint8]


def _runs_with_gaps(columns: list[np.ndarray], cuts: list[int], front: int, gap: int):
    """Event columns laid out as the generator leaves them: runs split at ``cuts``, ``front``
    spare entries before the first run and ``gap`` garbage entries after each run."""
    n = columns[0].shape[0]
    bounds = [0, *cuts, n]
    runs = len(bounds) - 1
    buffers = [np.full(front + n + gap * runs, 99, dtype) for dtype in EVENT_DTYPES]
    run_start = np.array([front + bounds[r] + gap * r for r in range(runs)], np.int64)
    written = np.diff(bounds).astype(np.int64)
    for col, buf in zip(columns, buffers, strict=True):
        for r in range(runs):
            buf[run_start[r] : run_start[r] + written[r]] = col[bounds[r] : bounds[r + 1]]
    return buffers, run_start, written


def _detector_pass(st, dead_slots, p_ap, empty_cdf, p_key, total_slots, run_start, written,
                   *arrays_and_codes, inherit=False):
    """The detector pass over all runs, fed one by one as simulate_block feeds them."""
    *arrays, codes = arrays_and_codes
    run = detector.DetectorPass(st, dead_slots, p_ap, empty_cdf, p_key, total_slots, arrays, codes,
                                inherit_intensity=inherit)
    for first, count in zip(run_start, written, strict=True):
        run.add_run(first, count)
    return run.finish()


def _codes(k, ab, a, bb, b, n_intensities):
    bins = [kernels._code(*map(int, row)) for row in zip(k, ab, a, bb, b, strict=True)]
    return np.bincount(np.array(bins, np.int64), minlength=8 * n_intensities)


@pytest.mark.parametrize("inherit", [False, True], ids=["next-gate", "lim-2014"])
def test_dead_time_kernel_matches_reference(inherit):
    prof = _no_detector_memory("high-rate-2023")
    block = simulate_block(prof, 5.0, 20_000, 7)
    slots = block.slot.copy()
    bob = block.bob_bits.copy()
    # Rebuild click patterns: single clicks on Bob's bit, plus some double clicks.
    clicks = (1 << bob).astype(np.uint8)
    clicks[::17] = 3
    empty_cdf = np.array([0.8, 0.9, 1.0])
    n = slots.shape[0]
    columns = [slots, block.intensity, block.alice_basis, block.alice_bits, block.bob_basis, bob,
               block.photon_number, clicks, block.eve_bits]
    # Three runs with gaps between them, and room in front for the afterpulses.
    buffers, run_start, written = _runs_with_gaps(columns, [n // 3, n // 2], front=n // 4, gap=50)
    codes = _codes(block.intensity, block.alice_basis, block.alice_bits, block.bob_basis, bob, 3)
    dead_slots, p_ap = 7, 0.2
    end = _detector_pass(kernels._seeded(99), dead_slots, p_ap, empty_cdf, 0.9, 20_000, run_start,
                         written, *buffers, codes, inherit=inherit)
    r_clicks, r_bob, r_ap = reference_dead_time(99, dead_slots, p_ap, empty_cdf, 0.9, 20_000, slots,
                                                clicks, bob, block.intensity if inherit else None)
    live = r_clicks > 0
    assert end - live.sum() == len(r_ap) > 10
    # Reference result: surviving events with their new clicks and bits, and the afterpulses
    # laid out like events, concatenated and stably sorted by slot.
    ap = np.array(r_ap)
    events = [slots, block.intensity, block.alice_basis, block.alice_bits, block.bob_basis, r_bob,
              block.photon_number, r_clicks, block.eve_bits]
    ap_as_events = [ap[:, 0], ap[:, 1], ap[:, 2], ap[:, 3], ap[:, 4], ap[:, 5], np.full(len(ap), -1),
                    1 << ap[:, 5], np.full(len(ap), 2)]
    merged = [np.concatenate((e[live], a)) for e, a in zip(events, ap_as_events, strict=True)]
    order = np.argsort(merged[0], kind="stable")
    for got, want in zip(buffers, merged, strict=True):
        np.testing.assert_array_equal(got[:end], want[order])
    assert (r_clicks == 0).sum() > 100, "dead time should remove candidate clicks at this rate"
    np.testing.assert_array_equal(codes, _codes(*(b[:end] for b in buffers[1:6]), 3))


def test_detector_pass_without_memory_only_joins_the_runs():
    rng = np.random.default_rng(3)
    n = 500
    columns = [np.sort(rng.choice(100_000, n, replace=False)).astype(np.int64)]
    columns += [rng.integers(0, 2, n).astype(np.uint8) for _ in range(5)]
    columns += [rng.integers(0, 5, n).astype(np.int16), rng.integers(1, 4, n).astype(np.uint8),
                rng.integers(0, 3, n).astype(np.uint8)]
    columns[1] = rng.integers(0, 3, n).astype(np.uint8)  # intensity index
    buffers, run_start, written = _runs_with_gaps(columns, [0, 120, 121, 400], front=0, gap=37)
    codes = _codes(*columns[1:6], 3)
    state = kernels._seeded(5)
    before = state.copy()
    end = _detector_pass(state, 0, 0.0, np.array([1.0]), 0.9, 100_000, run_start, written,
                                 *buffers, codes.copy())
    assert end == n
    for got, want in zip(buffers, columns, strict=True):
        np.testing.assert_array_equal(got[:n], want)
    np.testing.assert_array_equal(state, before)  # no draws: nothing depends on this stream


def test_detector_pass_reports_too_little_room_for_afterpulses():
    n = 200
    columns = [np.arange(0, 4 * n, 4, dtype=np.int64)] + [np.zeros(n, t) for t in EVENT_DTYPES[1:]]
    columns[7][:] = 1
    buffers, run_start, written = _runs_with_gaps(columns, [], front=0, gap=0)
    # Every click afterpulses one gate later: the first afterpulse would overwrite an unread event.
    end = _detector_pass(kernels._seeded(1), 0, 1.0 - 1e-12, np.array([1.0]), 0.9, 4 * n,
                                 run_start, written, *buffers, np.zeros(8, np.int64))
    assert end == -1


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


def test_tally_kernel_matches_bincount():
    rng = np.random.default_rng(4)
    n = 10_000
    k, ab, a, bb, b = (rng.integers(0, hi, n).astype(np.uint8) for hi in (3, 2, 2, 2, 2))
    detections, key, sifted, errors = detector.tally_from_codes(_codes(k, ab, a, bb, b, 3), 3)
    index = k.astype(np.int64) * 2 + ab
    match = ab == bb
    np.testing.assert_array_equal(detections, np.bincount(k, minlength=3))
    np.testing.assert_array_equal(key, np.bincount(k[ab == 0], minlength=3))
    np.testing.assert_array_equal(sifted, np.bincount(index[match], minlength=6).reshape(3, 2))
    np.testing.assert_array_equal(errors, np.bincount(index[match & (a != b)], minlength=6).reshape(3, 2))
