"""History: DuckDB over results/, step detection in per-run medians."""

from __future__ import annotations

import numpy as np
import pytest

from harness.evaluation.history import query, runs, steps
from tests.evalkit import pilot_run


def test_steps_find_a_lasting_shift_and_ignore_a_single_noisy_night():
    rng = np.random.default_rng(0)
    level = np.r_[np.full(8, 40.0), np.full(7, 48.0)] * np.exp(rng.normal(0, 0.01, 15))
    (step,) = steps(level)
    assert step.index == 8 and step.change == pytest.approx(0.2, abs=0.03)
    blip = np.full(12, 40.0) * np.exp(rng.normal(0, 0.01, 12))
    blip[5] = 60.0
    assert steps(blip) == []
    assert steps(np.full(10, 40.0) * np.exp(rng.normal(0, 0.02, 10))) == []


@pytest.mark.parametrize("where", [0, 5, 11])
def test_a_single_noisy_run_is_never_a_step_wherever_it_falls(where):
    series = np.full(12, 40.0) * np.exp(np.random.default_rng(where).normal(0, 0.01, 12))
    series[where] = 100.0  # far off, at the start, the middle, or the newest run
    assert steps(series) == []
    series[where + 1 if where < 11 else where - 1] = 100.0  # two runs at the new level: a step
    assert len(steps(series)) >= 1


def test_steps_below_the_threshold_are_not_reported():
    series = np.r_[np.full(6, 100.0), np.full(6, 105.0)]
    assert steps(series, threshold=0.10) == []
    assert [s.index for s in steps(series, threshold=0.02)] == [6]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("results")
    for night, slow in enumerate((1.0, 1.0, 1.3)):
        pilot_run(root / f"night-{night}", seed=night, slowdown=slow, started=f"2026-11-2{night}T02:00:00Z")
    (root / "not-a-run").mkdir()
    return root


def test_query_gives_one_median_per_run_and_vendor_in_time_order(store):
    index = runs(store)
    assert list(index["run_id"]) == ["night-0", "night-1", "night-2"]
    series = query(store, "handshake_ms", {"group": "X25519MLKEM768", "rtt_ms": "31.1"})
    alpha = series[series["vendor"] == "alpha"]
    assert list(alpha["run_id"]) == ["night-0", "night-1", "night-2"]
    assert (alpha["n"] == 100).all() and (alpha["cases"] == 1).all()
    assert alpha["median"].iloc[2] / alpha["median"].iloc[0] == pytest.approx(1.3, abs=0.05)


def test_query_splits_by_a_column_and_rejects_unknown_ones(store):
    split = query(store, "handshake_ms", by=["rtt_ms"])
    assert set(split["rtt_ms"]) == {5.6, 31.1}
    with pytest.raises(KeyError, match="no column 'colour'"):
        query(store, "handshake_ms", {"colour": "red"})
