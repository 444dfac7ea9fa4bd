"""The runner isolates each case: crashes, hangs and missing capabilities cost one case."""

from __future__ import annotations

from harness.manifest import new_manifest
from harness.plan import param_columns, plan
from harness.runner import Runner
from harness.scenario import parse_scenario
from harness.store import RunStore, row_columns

SCENARIO = """\
name: isolation
timeout_s: 20
vendors: [toy, crashy, hangs, absent, signer-only]
suites:
  - suite: keygen_timing
    params: {algorithms: [TOY-KEM, ML-KEM-768], samples: 5}
  - suite: keygen_timing
    vendors: [hangs]
    timeout_s: 1
    params: {samples: 1}
"""


def start(tmp_path, text=SCENARIO):
    loaded = parse_scenario(text)
    cases = plan(loaded)
    params = param_columns(cases)
    manifest = new_manifest(loaded, "run-1", 0, row_columns(params, []), list(params), len(cases))
    return RunStore.create(tmp_path / "run-1", manifest), loaded, cases


def test_each_failure_costs_one_case_and_the_run_completes(tmp_path):
    store, loaded, cases = start(tmp_path, SCENARIO.replace("timeout_s: 20", "timeout_s: 60"))
    # The first suite entry's `hangs` cases would wait 60 s; keep only the 1 s-timeout one.
    cases = [c for c in cases if not (c.vendor == "hangs" and c.suite_index == 0)]
    counts = Runner(store, loaded).run(cases)
    df = store.read()
    status = {(r.vendor, r.algorithm): (r.status, r.reason)
              for r in df.drop_duplicates("case_id").itertuples()}

    assert status[("toy", "TOY-KEM")] == ("ok", "")
    assert status[("toy", "ML-KEM-768")] == ("na", "toy has no ML-KEM-768")
    assert status[("crashy", "TOY-KEM")] == ("failed", "worker process died with SIGABRT")
    assert status[("absent", "TOY-KEM")][0] == "na"
    assert "libabsent.so not found" in status[("absent", "TOY-KEM")][1]
    assert status[("signer-only", "TOY-KEM")] == ("na", "signer-only has no kem")
    assert status[("hangs", "TOY-KEM")] == ("timeout", "case exceeded its timeout of 1 s")
    assert counts["ok"] == 1 and counts["failed"] == 1 and counts["timeout"] == 1
    assert sum(counts.values()) == len(cases) == len(store.done_case_ids())

    ok = df[df.status == "ok"]
    assert ok["metric"].unique().tolist() == ["keygen_us"]
    assert ok["sample"].tolist() == [0, 1, 2, 3, 4]
    assert (ok["value"] > 0).all() and (ok["unit"] == "us").all()


def test_parallel_jobs_give_the_same_cases(tmp_path):
    text = """\
name: par
vendors: [toy, {name: toy2, adapter: toy}, {name: toy3, adapter: toy}]
suites:
  - suite: keygen_timing
    repeats: 2
    params: {samples: 2}
"""
    store, loaded, cases = start(tmp_path, text)
    counts = Runner(store, loaded, jobs=2).run(cases)
    assert counts == {"ok": 6}
    assert len(store.read()) == 12


def test_resume_runs_only_missing_cases(tmp_path):
    text = "name: r\nvendors: [toy]\nsuites:\n  - suite: keygen_timing\n    repeats: 3\n"
    store, loaded, cases = start(tmp_path, text)
    Runner(store, loaded).run(cases[:1])
    before = store.read()
    seen = []
    Runner(store, loaded).run(cases, lambda case, status: seen.append(case.case_id))
    assert seen == [c.case_id for c in cases[1:]]
    after = store.read()
    assert len(after) == 9
    first = after[after.case_id == cases[0].case_id].reset_index(drop=True)
    assert first.equals(before.reset_index(drop=True))


def test_pairwise_case_with_an_unavailable_peer_is_na(tmp_path, monkeypatch):
    from qsbench_test_plugins import KeygenTiming

    monkeypatch.setattr(KeygenTiming, "pairwise", True)
    text = "name: pairs\nvendors: [toy, absent]\nsuites:\n  - suite: keygen_timing\n"
    store, loaded, cases = start(tmp_path, text)
    assert {(c.vendor, c.params["peer"]) for c in cases} == {("toy", "absent"), ("absent", "toy")}
    counts = Runner(store, loaded).run(cases)
    assert counts == {"na": 2}
    reasons = set(store.read()["reason"])
    assert all(r.startswith("absent unavailable: libabsent.so not found") for r in reasons)


def test_a_row_breaking_its_suites_declaration_costs_that_case_only(tmp_path):
    text = "name: decl\nvendors: [toy]\nsuites:\n  - suite: breaks_declaration\n"
    loaded = parse_scenario(text)
    cases = plan(loaded)
    params = param_columns(cases)
    manifest = new_manifest(loaded, "run-1", 0, row_columns(params, ["shade"]), list(params), len(cases))
    store = RunStore.create(tmp_path / "run-1", manifest)
    counts = Runner(store, loaded).run(cases)
    assert counts == {"ok": 1, "failed": 4}
    status = {r.emit: (r.status, r.reason) for r in store.read().drop_duplicates("case_id").itertuples()}
    assert status["declared"] == ("ok", "")
    assert status["undeclared-metric"][0] == "failed"
    assert "emitted metric 'keygen_joules' it does not declare (declared: keygen_us)" in \
        status["undeclared-metric"][1]
    assert "label(s) colour on keygen_us it does not declare in label_columns (shade)" in \
        status["undeclared-label"][1]
    assert "emitted keygen_us in 'ms'; it declares 'us'" in status["wrong-unit"][1]
    # Declared but not storable (a number in a text column): the store refuses, the run goes on.
    assert status["unstorable"][0] == "failed"
    assert status["unstorable"][1].startswith("its rows could not be stored: ")
    assert manifest["metrics"]["breaks_declaration"]["keygen_us"] == {
        "unit": "us", "better": "lower", "description": "one toy key generation", "timeline": False,
        "deterministic": False, "reference_for": (), "shades": (),
        "summarises": "", "qualified_by": (), "per": ()}


def test_repeats_are_interleaved_and_each_runs_in_a_process_of_its_own(tmp_path):
    text = """\
name: repeats
vendors: [toy]
suites:
  - suite: worker_identity
    repeats: 3
    params: {experiments: 2}
"""
    store, loaded, cases = start(tmp_path, text)
    order = []
    counts = Runner(store, loaded).run(cases, lambda case, status: order.append(case))
    assert counts == {"ok": 6}
    # Every experiment's repeat 0, then every repeat 1, …: never one experiment's repeats back to back.
    assert [(c.repeat, c.params["experiment"]) for c in order] == [
        (0, 0), (0, 1), (1, 0), (1, 1), (2, 0), (2, 1)]
    rows = store.read()
    assert rows.groupby("experiment_id")["case_id"].nunique().tolist() == [3, 3]
    pids = rows.groupby("experiment_id")["value"].apply(lambda v: v.nunique())
    assert pids.tolist() == [3, 3], "two repeats of one experiment shared a worker process"
    # Different experiments may share a process: a fresh one per case is not what is asked for.
    assert rows["value"].nunique() < 6


def test_a_run_planned_before_experiment_ids_resumes_with_its_own_columns(tmp_path):
    text = "name: old\nvendors: [toy]\nsuites:\n  - suite: keygen_timing\n    repeats: 2\n"
    loaded = parse_scenario(text)
    cases = plan(loaded)
    params = param_columns(cases)
    columns = {k: v for k, v in row_columns(params, []).items() if k != "experiment_id"}
    manifest = new_manifest(loaded, "old", 0, columns, list(params), len(cases))
    store = RunStore.create(tmp_path / "old", manifest)
    assert Runner(store, loaded).run(cases) == {"ok": 2}
    assert "experiment_id" not in store.read().columns
