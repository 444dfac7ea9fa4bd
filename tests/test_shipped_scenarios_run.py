"""Every shipped scenario plans, and one sampled case of each of its suite entries runs end to end.

A scenario that cannot run (a suite that crashes on its shipped parameters, a device profile
whose blocks do not fit the machine, a case that outlasts the scenario's own `timeout_s`) is
caught here rather than at a user's first run. The sample is one case per suite entry, repeat 0,
drawn with a fixed seed from the scenario's file name, so the same cases run every time and a
different vendor or parameter of each scenario is exercised than its first. Each case runs the
way `qsbench run` runs it (`harness.runner.Runner`: its own worker process, the scenario's
timeout), so the time bound is the scenario's own: the sum of the sampled cases' `timeout_s`.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from harness.manifest import new_manifest
from harness.plan import param_columns, plan
from harness.registry import suite_class
from harness.runner import Runner
from harness.scenario import load_scenario
from harness.store import CASE_STATUS_METRIC, RunStore, row_columns

SCENARIOS = sorted((Path(__file__).resolve().parent.parent / "suites" / "scenarios").glob("*.yaml"))


def _sample(cases: list, entries: int, name: str) -> list:
    rng = random.Random(name)
    picked = []
    for index in range(entries):
        first_repeat = [c for c in cases if c.suite_index == index and c.repeat == 0]
        assert first_repeat, f"{name}: suite entry {index} plans no case"
        picked.append(rng.choice(first_repeat))
    return picked


@pytest.mark.slow
@pytest.mark.timeout(3 * 3600)  # the runner enforces each case's own timeout; this catches a hung runner
@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_a_sampled_case_of_every_suite_entry_runs(path: Path, tmp_path: Path) -> None:
    loaded = load_scenario(path)
    cases = plan(loaded)
    sample = _sample(cases, len(loaded.scenario.suites), path.name)
    columns = param_columns(cases)
    labels = sorted({c for run in loaded.scenario.suites for c in suite_class(run.suite).label_columns})
    manifest = new_manifest(loaded, "sampled", loaded.scenario.seed, row_columns(columns, labels),
                            list(columns), len(sample))
    store = RunStore.create(tmp_path / "sampled", manifest)
    Runner(store, loaded).run(sample)
    rows = store.read()
    assert set(rows["case_id"]) == {c.case_id for c in sample}, "every sampled case is stored"
    broken = rows[(rows["metric"] == CASE_STATUS_METRIC) & ~rows["status"].isin(["ok", "na"])]
    assert broken.empty, "\n".join(f"{r.suite}/{r.vendor}: {r.status}: {r.reason}"
                                   for r in broken.itertuples())
    measured = rows[rows["status"] == "ok"]
    assert not measured.empty, f"{path.name}: no sampled case measured anything"
