"""A host slower for a whole run: the reference each worker times around its case tells it from a
slower code. Synthetic runs; the host's speed is a factor applied to the case and the reference."""

from __future__ import annotations

import numpy as np

from harness import host_speed
from harness.evaluation.compare import compare_rows, references_of
from harness.evaluation.criteria_spec import RegressionPolicy
from harness.metrics import Declarations
from harness.suite import Metric
from tests.evalkit import frame, repeated_rows

DECLARED = Declarations({"s": {"handshake_ms": Metric("ms", "lower")}})
POLICY = RegressionPolicy(alpha=0.01, threshold=0.05)
P = {"group": "g"}
PARAMS = {"group": "string"}
REFERENCE_US = 1000.0


def _run(run_id: str, seed: int, code: float = 1.0, host: float = 1.0, n_repeats: int = 10,
         referenced: bool = True):
    """Rows and references of one run: each repeat's level and reference drawn with 1 % process noise,
    the code `code` × slower and the host `host` × slower for the whole run."""
    rng = np.random.default_rng(seed)
    values = [40.0 * code * host * np.exp(rng.normal(0, 0.01)) * np.exp(rng.normal(0, 0.03, 100))
              for _ in range(n_repeats)]
    rows = repeated_rows(run_id, "s", "a", P, "handshake_ms", "ms", values)
    cases = list(dict.fromkeys(r["case_id"] for r in rows))
    refs = {c: REFERENCE_US * host * float(np.exp(rng.normal(0, 0.01))) for c in cases} if referenced else {}
    return rows, refs


def _compare(now, then):
    (cur, cur_refs), (base, base_refs) = now, then
    references = {"now": cur_refs, "then": base_refs}
    (change,) = compare_rows(frame(cur, PARAMS), frame(base, PARAMS), POLICY, declarations=DECLARED,
                             references=references).changes
    return change


def test_a_host_slower_for_the_whole_run_is_host_disturbed_not_a_regression():
    change = _compare(_run("now", 1, host=1.15), _run("then", 2))
    assert change.kind == "host disturbed"
    assert "follows the host" in change.note and "by its reference loop" in change.note
    assert abs(change.change) < 0.03  # judged relative to the host's speed


def test_without_references_the_same_runs_look_like_a_regression():
    # What the reference is for: the raw timings alone cannot tell the host from the code.
    change = _compare(_run("now", 1, host=1.15, referenced=False), _run("then", 2))
    assert change.kind == "regression"


def test_a_slower_code_on_a_steady_host_is_a_regression():
    change = _compare(_run("now", 3, code=1.10), _run("then", 4))
    assert change.kind == "regression" and "reference loop" not in change.note


def test_a_slower_code_on_a_slower_host_is_still_a_regression_of_the_code_alone():
    change = _compare(_run("now", 5, code=1.10, host=1.15), _run("then", 6))
    assert change.kind == "regression" and "by its reference loop" in change.note
    assert abs(change.change - 0.10) < 0.03


def test_a_disturbed_baseline_does_not_fake_an_improvement_or_hide_a_slowdown():
    assert _compare(_run("now", 7), _run("then", 8, host=1.15)).kind == "host disturbed"
    assert _compare(_run("now", 9, code=1.20), _run("then", 10, host=1.15)).kind == "regression"


def test_a_history_outvotes_one_disturbed_night():
    history = [_run(f"then{i}", 20 + i, host=1.15 if i == 2 else 1.0) for i in range(5)]
    base = frame([row for rows, _ in history for row in rows], PARAMS)
    references = {f"then{i}": h[1] for i, h in enumerate(history)}
    cur, cur_refs = _run("now", 30, code=1.10)
    (change,) = compare_rows(frame(cur, PARAMS), base, POLICY, declarations=DECLARED,
                             references={**references, "now": cur_refs}).changes
    assert change.kind == "regression" and "earlier runs' levels" in change.note


def test_references_come_from_the_manifest_and_older_runs_have_none():
    assert references_of([{"run_id": "r", "host_speed": {"reference_us": {"c1": 2.0}}}, {"run_id": "old"}]) \
        == {"r": {"c1": 2.0}, "old": {}}


def test_the_reference_loop_times_something_positive_and_repeatable():
    values = [host_speed.reference_us() for _ in range(3)]
    assert all(v > 0 for v in values)


def test_a_night_slower_than_its_whole_history_by_its_reference_is_host_disturbed():
    history = [_run(f"then{i}", 40 + i) for i in range(5)]
    base = frame([row for rows, _ in history for row in rows], PARAMS)
    references = {f"then{i}": h[1] for i, h in enumerate(history)}
    cur, cur_refs = _run("now", 50, host=1.15)
    (change,) = compare_rows(frame(cur, PARAMS), base, POLICY, declarations=DECLARED,
                             references={**references, "now": cur_refs}).changes
    assert change.kind == "host disturbed" and "earlier runs' levels" in change.note
