"""History: DuckDB over results/ (through each run's digest), step detection in per-run medians."""

from __future__ import annotations

import errno
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness import digest
from harness.evaluation.history import (
    SHORTEST_LEVEL,
    STEP_RUNS,
    TIE,
    Step,
    case_medians,
    query,
    run_repeat_tables,
    runs,
    steps,
)
from harness.store import RunStore
from tests.evalkit import case_rows, pilot_run, write_run


def steps_reference(values, threshold=0.10):
    """Optimal partitioning as first written: every segment's median recomputed, O(n³)."""
    x = np.asarray(values, dtype=float)
    n = x.size
    if n < 2:
        return []
    scale = float(np.median(np.abs(x))) or 1.0
    penalty = threshold * scale * STEP_RUNS
    best = np.full(n + 1, np.inf)
    best[0] = -penalty
    start = np.zeros(n + 1, dtype=int)
    for j in range(SHORTEST_LEVEL, n + 1):
        for i in range(j - SHORTEST_LEVEL + 1):
            segment = x[i:j]
            cost = best[i] + penalty + float(np.abs(segment - np.median(segment)).sum())
            if cost < best[j] - TIE * scale:
                best[j], start[j] = cost, i
    bounds, j = [], n
    while j > 0:
        bounds.append(int(start[j]))
        j = start[j]
    bounds = sorted(bounds)
    levels = [float(np.median(x[a:b])) for a, b in zip(bounds, [*bounds[1:], n], strict=True)]
    return [Step(bounds[k], levels[k - 1], levels[k]) for k in range(1, len(bounds))
            if abs(levels[k] - levels[k - 1]) > threshold * max(abs(levels[k - 1]), 1e-300)]


def test_steps_agree_with_the_reference_on_noisy_rounded_and_flat_series():
    rng = np.random.default_rng(1)
    found = 0
    for _ in range(150):
        n = int(rng.integers(2, 50))
        x = 40 * np.exp(rng.normal(0, rng.choice([0.01, 0.05, 0.2]), n))
        for _ in range(int(rng.integers(0, 4))):
            x[int(rng.integers(0, n)):] *= rng.choice([0.7, 1.3, 2.0])
        if rng.random() < 0.3:
            x = np.round(x)  # ties between partitions are common in whole numbers
        if rng.random() < 0.1:
            x[:] = 5.0
        threshold = float(rng.choice([0.02, 0.1, 0.3]))
        expected = steps_reference(x, threshold)
        assert steps(x, threshold) == expected, (x.tolist(), threshold)
        found += len(expected)
    assert found > 100  # the series do have steps to find


def test_steps_reject_nan_medians():
    with pytest.raises(ValueError, match="finite medians"):
        steps([40.0, float("nan"), 41.0])


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


def _mixed_store(root):
    """Runs with NaN samples, a failed case, a label that varies within a case, and a parameter
    column only some runs have: what the digest must fold without changing any statistic."""
    rng = np.random.default_rng(3)
    for night in range(4):
        rows = []
        params = {"group": "string", "rtt_ms": "float64"} if night < 2 else {"group": "string"}
        for vendor in ("alpha", "beta"):
            for group in ("X25519", "MLKEM768"):
                case = {"group": group, **({"rtt_ms": 5.6} if night < 2 else {})}
                values = 30 * rng.lognormal(0, 0.1, 40) * (1.5 if night >= 2 else 1.0)
                values[rng.choice(40, 7, replace=False)] = np.nan  # samples that measured nothing
                part = case_rows(f"n{night}", "tls", vendor, case, "handshake_ms", "ms", values)
                for i, row in enumerate(part):
                    row["peer"] = "p1" if i % 3 else "p2"
                rows += part
            rows += case_rows(f"n{night}", "tls", vendor, {"group": "broken", **({"rtt_ms": 1.0} if night < 2
                                                                                  else {})},
                              "handshake_ms", "ms", [], status="failed", reason="server crashed")
        write_run(root / f"n{night}", {"name": "mixed", "vendors": ["alpha", "beta"],
                                       "suites": [{"suite": "tls"}]},
                  rows, params, labels=("peer",), started=f"2026-11-0{night + 1}T02:00:00Z")
    return root


def _all_rows(root):
    frames = [RunStore(d).read() for d in sorted(root.iterdir())]
    rows = pd.concat(frames, ignore_index=True)
    return rows.merge(runs(root)[["run_id", "started"]], on="run_id")


def test_history_over_digests_equals_statistics_over_every_row_with_nan_left_out(tmp_path):
    root = _mixed_store(tmp_path)
    rows = _all_rows(root)
    usable = rows[(rows["status"] == "ok") & rows["value"].notna()]
    assert rows["value"].isna().sum() > len(rows) // 10  # there is NaN to leave out
    series = query(root, "handshake_ms", {"group": "MLKEM768"}, by=["peer"])
    chosen = usable[usable["group"] == "MLKEM768"]
    expected = chosen.groupby(["run_id", "vendor", "peer"])["value"]
    assert len(series) == 4 * 2 * 2
    for _, r in series.iterrows():
        values = expected.get_group((r["run_id"], r["vendor"], r["peer"]))
        assert r["n"] == len(values) and r["cases"] == 1
        assert r["median"] == pytest.approx(float(np.median(values)), rel=1e-12)
        assert r["p25"] == pytest.approx(float(np.quantile(values, 0.25)), rel=1e-12)
        assert r["p75"] == pytest.approx(float(np.quantile(values, 0.75)), rel=1e-12)
    # A parameter only the first two runs have still filters (numerically, as before).
    assert list(query(root, "handshake_ms", {"rtt_ms": "5.6"})["run_id"].unique()) == ["n0", "n1"]
    # Per case and run, as the report's trends read them.
    medians = case_medians(root, "mixed", ["handshake_ms"], sorted(usable["case_id"].unique()))
    for _, r in medians.iterrows():
        values = usable[(usable["run_id"] == r["run_id"]) & (usable["case_id"] == r["case_id"])]["value"]
        assert r["median"] == pytest.approx(float(np.median(values)), rel=1e-12)
    assert len(medians) == usable.groupby(["run_id", "case_id"]).ngroups


def test_repeat_tables_over_digests_keep_every_case_and_its_status(tmp_path):
    root = _mixed_store(tmp_path)
    rows = _all_rows(root)
    repeats, statuses = run_repeat_tables(sorted(root.iterdir()))
    usable = rows[(rows["status"] == "ok") & rows["value"].notna()]
    by_case = usable.groupby(["run_id", "case_id"])["value"]
    assert len(repeats) == by_case.ngroups
    for _, r in repeats.iterrows():
        values = by_case.get_group((r["run_id"], r["case_id"]))
        assert r["n"] == len(values) and r["median"] == pytest.approx(float(np.median(values)), rel=1e-12)
        assert r["mean"] == pytest.approx(float(np.mean(values)), rel=1e-12)
    assert len(statuses) == rows.groupby(["run_id", "case_id"]).ngroups
    failed = statuses[statuses["status"] == "failed"]
    assert len(failed) == 4 * 2 and set(failed["reason"]) == {"server crashed"}


def test_a_stale_or_missing_digest_is_rebuilt_and_a_changing_run_is_not_digested_on_disk(tmp_path):
    root = _mixed_store(tmp_path)
    run_dir = root / "n3"
    written = run_dir / digest.DIGEST
    assert digest.path(run_dir) == written  # written with the run, current
    # A case added later (a resumed run): the digest no longer matches the measurements.
    store = RunStore(run_dir)
    extra = case_rows("n3", "tls", "gamma", {"group": "X25519"}, "handshake_ms", "ms", [99.0, 101.0])
    store.write_case(extra[0]["case_id"], [{**r, "peer": "p1"} for r in extra])
    fresh = digest.path(run_dir)  # just changed, so maybe still being written: digested aside
    assert fresh is not None and fresh != written
    assert "gamma" in set(pd.read_parquet(fresh)["vendor"])
    assert "gamma" not in set(pd.read_parquet(written)["vendor"])
    gamma = query(root, "handshake_ms", {"group": "X25519"}).query("vendor == 'gamma'")
    assert gamma["median"].tolist() == [100.0]
    # The case re-run (its part replaced, as --retry-failed does); once the directory has been
    # quiet a while, the digest is rebuilt in place from what the parts hold now.
    store.write_case(extra[0]["case_id"], [{**r, "peer": "p1", "value": 2 * r["value"]} for r in extra])
    parts = run_dir / "measurements"
    past = time.time_ns() - int(10 * digest.SETTLED_S * 1e9)
    os.utime(parts, ns=(past, past))
    assert digest.path(run_dir) == written
    gamma = query(root, "handshake_ms", {"group": "X25519"}).query("vendor == 'gamma'")
    assert gamma["median"].tolist() == [200.0]
    # A run from before digests existed gets one when first read.
    written.unlink()
    assert digest.path(run_dir) == written and written.stat().st_mtime_ns == parts.stat().st_mtime_ns


def test_a_run_in_a_read_only_store_is_digested_aside_and_left_as_it_was(tmp_path, monkeypatch):
    root = _mixed_store(tmp_path)
    run_dir = root / "n3"
    (run_dir / digest.DIGEST).unlink()  # a run from before digests, in a store this user may only read
    parts = run_dir / "measurements"
    past = time.time_ns() - int(10 * digest.SETTLED_S * 1e9)
    os.utime(parts, ns=(past, past))  # settled: the digest would be written in place if it could
    before = sorted(os.listdir(run_dir))
    if os.geteuid() == 0:  # root writes through permission bits: refuse as the kernel does for others
        mkstemp = tempfile.mkstemp

        def refuse(*args, dir=None, **kwargs):
            if dir is not None and Path(dir) == run_dir:
                raise PermissionError(errno.EACCES, "Permission denied", str(dir))
            return mkstemp(*args, dir=dir, **kwargs)

        monkeypatch.setattr(tempfile, "mkstemp", refuse)
    run_dir.chmod(0o555)
    try:
        aside = digest.path(run_dir)
        assert aside is not None and aside.parent != run_dir
        assert sorted(os.listdir(run_dir)) == before  # nothing written, no temporary left behind
        medians = query(root, "handshake_ms", {"group": "X25519"})
        assert "n3" in set(medians["run_id"])
    finally:
        run_dir.chmod(0o755)
        monkeypatch.undo()
    # What was read aside is what the run's own digest holds once it can be written.
    in_place = digest.write(run_dir)
    assert in_place == run_dir / digest.DIGEST
    pd.testing.assert_frame_equal(pd.read_parquet(aside), pd.read_parquet(in_place))


def test_a_history_with_an_infinite_median_plots_its_finite_runs_and_still_finds_the_step():
    """steps() refuses non-finite medians; the `history --plot` series drops them instead of crashing."""
    import pandas as pd

    from harness.report.trends import series_svg

    medians = [10.0, 10.1, float("inf"), 9.9, 10.0, 20.0, 20.1, 19.9, 20.0]
    series = pd.DataFrame({"run_id": [f"r{i}" for i in range(len(medians))], "vendor": "alpha",
                           "median": medians, "p25": medians, "p75": medians})
    svg = series_svg(series, "handshake_ms", ["vendor"], 0.10)
    assert "<svg" in svg
    assert svg.count("stroke-dasharray") == 1  # the 10 → 20 step; a flat series draws none
