"""SP 800-22 Rev. 1a tests against the document's worked examples (sections 2.x.8 and 2.x.4)."""

from __future__ import annotations

import numpy as np
import pytest

from suites import _randomness as r

PI_100 = ("11001001000011111101101010100010001000010110100011"
          "00001000110100110001001100011001100010100010111000")
LONGEST_128 = ("11001100000101010110110001001100111000000000001001001101010100010001001111010110100000001101"
               "011111001100111001101101100010110010")


def bits(s: str) -> np.ndarray:
    return np.array([int(c) for c in s], dtype=np.uint8)


@pytest.mark.parametrize(("fn", "seq", "args", "expected"), [
    (r.frequency, "1011010101", (), (0.527089,)),
    (r.frequency, PI_100, (), (0.109599,)),
    (r.block_frequency, "0110011010", (3,), (0.801252,)),
    (r.block_frequency, PI_100, (10,), (0.706438,)),
    (r.runs, "1001101011", (), (0.147232,)),
    (r.runs, PI_100, (), (0.500798,)),
    (r.longest_run_of_ones, LONGEST_128, (), (0.180609,)),
    (r.serial, "0011011101", (3,), (0.808792, 0.670320)),
    (r.approximate_entropy, "0100110101", (3,), (0.261961,)),
    (r.approximate_entropy, PI_100, (2,), (0.235301,)),
    (r.cumulative_sums, "1011010111", (), (0.4116588, None)),
    (r.cumulative_sums, PI_100, (), (0.219194, 0.114866)),
])
def test_worked_examples(fn, seq, args, expected):
    got = fn(bits(seq), *args).p_values
    for g, e in zip(got, expected, strict=True):
        if e is not None:
            assert g == pytest.approx(e, abs=1e-6)


def test_battery_passes_random_bits_and_fails_biased_ones():
    rng = np.random.default_rng(7)
    good = r.battery(rng.integers(0, 2, 100_000, dtype=np.uint8))
    assert {t.test for t in good} == {"frequency", "block_frequency", "runs", "longest_run_of_ones", "serial",
                                      "approximate_entropy", "cumulative_sums"}
    assert all(t.p_value > 1e-4 for t in good)
    biased = r.battery((rng.random(100_000) < 0.52).astype(np.uint8))
    assert {t.test for t in biased if t.p_value < 1e-4} >= {"frequency", "cumulative_sums"}
    periodic = r.battery(np.tile(np.array([0, 1, 1, 0, 1, 0, 0, 1], np.uint8), 12_500))
    assert {t.test for t in periodic if t.p_value < 1e-4} >= {"serial", "approximate_entropy"}


def test_bad_input_is_refused_with_a_reason():
    with pytest.raises(ValueError, match="only 0 and 1"):
        r.frequency(np.array([0, 2, 1]))
    with pytest.raises(ValueError, match="at least"):
        r.battery(np.zeros(10, np.uint8))
