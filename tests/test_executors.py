"""Cases on dask.distributed: the same cases, isolation, resume, and a worker killed mid-case.

A real LocalCluster of worker processes on this machine; the test-only plugins
(tests/plugins) give them work that sleeps, crashes and hangs on purpose.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from harness import executors
from harness.executors import DaskExecutor, ExecutorError, ExecutorSpec, parse
from harness.plan import param_columns, plan
from harness.runner import Runner
from harness.scenario import parse_scenario
from harness.store import RunStore, row_columns
from tests.conftest import qsbench_cmd

distributed = pytest.importorskip("distributed", reason="dask is the optional extra qsbench[dask]")


def _start(tmp_path: Path, text: str):
    from harness.manifest import new_manifest

    loaded = parse_scenario(text)
    cases = plan(loaded)
    params = param_columns(cases)
    manifest = new_manifest(loaded, "run-1", 0, row_columns(params, []), list(params), len(cases))
    return RunStore.create(tmp_path / "run-1", manifest), loaded, cases


def test_executor_specs_parse_and_bad_ones_say_why():
    assert parse("local") == ExecutorSpec("local")
    assert parse("dask-local:3") == ExecutorSpec("dask-local", workers=3)
    assert parse("dask://10.0.0.5:8786") == ExecutorSpec("dask", address="tcp://10.0.0.5:8786")
    assert str(parse("dask://10.0.0.5:8786")) == "dask://10.0.0.5:8786"
    for bad, why in (("dask-local:0", "≥ 1"), ("dask-local:x", "≥ 1"), ("dask://host", "HOST:PORT"),
                     ("dask://host:99999", "1–65535"), ("ray://x:1", "expected local")):
        with pytest.raises(ExecutorError, match=why):
            parse(bad)


def test_a_scheduler_out_of_reach_is_bad_input(tmp_path, write_scenario):
    path = write_scenario("name: x\nvendors: [toy]\nsuites:\n  - suite: keygen_timing\n")
    proc = subprocess.run([*qsbench_cmd(), "run", str(path), "--out", str(tmp_path / "r"),
                           "--executor", "dask://127.0.0.1:9"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "no dask scheduler reachable" in proc.stderr and "Connection refused" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_crash_hang_and_na_cost_one_case_each_on_a_local_cluster(tmp_path, write_scenario):
    path = write_scenario("""\
        name: dask-isolation
        timeout_s: 60
        vendors: [toy, crashy, hangs, signer-only]
        suites:
          - suite: keygen_timing
            vendors: [toy, crashy, signer-only]
            repeats: 2
            params: {samples: 4}
          - suite: keygen_timing
            vendors: [hangs]
            timeout_s: 1
            params: {samples: 1}
        """)
    proc = subprocess.run([*qsbench_cmd(), "run", str(path), "--out", str(tmp_path / "r"),
                           "--executor", "dask-local:2"], capture_output=True, text=True, timeout=240)
    assert proc.returncode == 1, proc.stderr  # a failed and a timed-out case
    run_dir = Path(proc.stdout.strip().splitlines()[-1])
    df = RunStore(run_dir).read()
    status = {(r.vendor, r.repeat): (r.status, r.reason) for r in df.drop_duplicates("case_id").itertuples()}
    assert status[("toy", 0)] == status[("toy", 1)] == ("ok", "")
    assert status[("crashy", 0)] == ("failed", "worker process died with SIGABRT")
    assert status[("hangs", 0)] == ("timeout", "case exceeded its timeout of 1 s")
    assert status[("signer-only", 0)] == ("na", "signer-only has no kem")
    assert len(df[df.status == "ok"]) == 8  # two toy repeats × 4 samples

    # The same plan gives the same fingerprints as the local pool would.
    loaded = parse_scenario(path.read_text())
    assert set(df["case_id"]) == {c.case_id for c in plan(loaded)}


@pytest.fixture
def cluster():
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as c:
        yield c


def _wait_for(condition, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_worker_killed_mid_case_has_its_case_rerun_without_duplicate_rows(tmp_path, cluster):
    text = """\
name: dask-kill
timeout_s: 60
vendors: [{name: slow, adapter: toy, options: {keygen_sleep_s: 0.5}}]
suites:
  - suite: keygen_timing
    repeats: 4
    params: {samples: 6}
"""
    store, loaded, cases = _start(tmp_path, text)
    spec = parse("dask://" + cluster.scheduler_address.removeprefix("tcp://"))
    killed: dict[str, int] = {}

    with DaskExecutor(spec) as ex:
        client = ex.client

        def kill_a_busy_worker():
            # A case has started once its work directory exists (harness.worker.execute makes it).
            started = _wait_for(lambda: [c for c in cases if (store.run_dir / "work" / c.case_id).exists()],
                                60, "a case to start")
            victim = started[0].case_id
            time.sleep(0.8)  # well inside its 3 s of keygens
            busy = _wait_for(lambda: [w for w, keys in client.processing().items()
                                      if any(str(k).endswith(victim) for k in keys)], 10, "its worker")
            pid = client.run(os.getpid, workers=busy)[busy[0]]
            assert not store.done_case_ids() & {victim}  # really mid-case
            killed[victim] = pid
            os.kill(pid, signal.SIGKILL)

        killer = threading.Thread(target=kill_a_busy_worker)
        killer.start()
        counts = Runner(store, loaded, executor=ex).run(cases)
        killer.join()

    assert killed, "no worker was killed"
    assert counts == {"ok": 4}
    df = store.read()
    assert len(df) == 4 * 6  # every case once: the killed one re-ran, nothing doubled
    assert sorted(df.groupby("case_id").size()) == [6, 6, 6, 6]
    assert (df.groupby("case_id")["sample"].apply(sorted).map(list) == [list(range(6))] * 4).all()


def test_resume_on_dask_runs_only_the_missing_cases(tmp_path, cluster):
    text = "name: r\nvendors: [toy]\nsuites:\n  - suite: keygen_timing\n    repeats: 3\n"
    store, loaded, cases = _start(tmp_path, text)
    Runner(store, loaded).run(cases[:1])  # the first attempt, on the local pool
    before = store.read()
    seen = []
    spec = parse("dask://" + cluster.scheduler_address.removeprefix("tcp://"))
    with DaskExecutor(spec) as ex:
        Runner(store, loaded, executor=ex).run(cases, lambda case, status: seen.append(case.case_id))
    assert sorted(seen) == sorted(c.case_id for c in cases[1:])
    after = store.read()
    assert len(after) == 9
    first = after[after.case_id == cases[0].case_id].reset_index(drop=True)
    assert first.equals(before.reset_index(drop=True))


def test_a_case_host_that_dies_is_replaced(tmp_path):
    """The dask task itself, in this process: a crash costs the case, the next case gets a new host."""
    from harness.worker import CaseOrder

    def order(adapter: str, case_id: str) -> CaseOrder:
        return CaseOrder(case_id=case_id, suite="keygen_timing", suite_params={"samples": 2}, adapter=adapter,
                         options={}, case_params={"algorithm": "TOY-KEM"}, seed=1, timeout_s=30,
                         work_dir=str(tmp_path / case_id))

    crashed = executors.run_case(order("crashy", "c1"))
    assert (crashed.status, crashed.reason) == ("failed", "worker process died with SIGABRT")
    ok = executors.run_case(order("toy", "c2"))
    assert ok.status == "ok" and len(ok.measurements) == 2
