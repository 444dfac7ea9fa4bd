"""The harness under faults: a real `qsbench run` killed with SIGKILL at random moments loses nothing.

Each seed starts a run of one vendor that hangs past its timeout, one that segfaults and one that
aborts, then 200 short cases; it kills the whole process group (the run and its workers, as a power
cut would) twice at random moments, and finishes with `--resume`. Afterwards: every planned case
has exactly one part, every part written before a kill is byte-for-byte unchanged, no row is
duplicated, and the exit code of the last `--resume` reflects every case of the run: 1, because of
the failed and timed-out cases, although an earlier, killed invocation recorded them.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import qsbench_cmd

TOYS = 200
SEEDS = range(5)
SAMPLES = 2
FAULTY = 3  # hangs, segfaults, crashy


def scenario_text() -> str:
    toys = "\n".join(f"  - {{name: toy{i:03d}, adapter: toy}}" for i in range(TOYS))
    return textwrap.dedent("""\
        name: kill-test
        timeout_s: 60
        vendors:
        {toys}
          - segfaults
          - crashy
          - hangs
        suites:
          - suite: keygen_timing
            vendors: [hangs]
            timeout_s: 1
            params: {{samples: 1}}
          - suite: keygen_timing
            vendors: [segfaults, crashy, {toy_names}]
            params: {{samples: {samples}}}
        """).format(toys=toys, samples=SAMPLES,
                    toy_names=", ".join(f"toy{i:03d}" for i in range(TOYS)))


def parts(run_dir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in (run_dir / "measurements").glob("*.parquet")}


def start(args: list[str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([*qsbench_cmd(), *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)


def kill_when(proc: subprocess.Popen, run_dirs: Path, at_parts: int, rng: random.Random) -> Path:
    """SIGKILL the run's process group once its store holds `at_parts` parts, plus a random delay."""
    deadline = time.monotonic() + 300
    run_dir = None
    while time.monotonic() < deadline and proc.poll() is None:
        found = [d for d in run_dirs.iterdir() if (d / "measurements").is_dir()]
        if found:
            run_dir = found[0]
            if len(list((run_dir / "measurements").glob("*.parquet"))) >= at_parts:
                break
        time.sleep(0.01)
    time.sleep(rng.uniform(0, 0.2))
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    assert run_dir is not None, "the run never created its directory"
    return run_dir


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_kill9_then_resume_loses_and_duplicates_nothing(tmp_path, seed):
    rng = random.Random(seed)
    path = tmp_path / "kill.yaml"
    path.write_text(scenario_text())
    out = tmp_path / "results"
    out.mkdir()
    total = TOYS + FAULTY

    first = start(["run", str(path), "--out", str(out)], tmp_path)
    # The faulty vendors run first, so every invocation after the first kill meets them finished.
    run_dir = kill_when(first, out, rng.randint(FAULTY, total // 2), rng)
    assert first.returncode == -signal.SIGKILL, "the kill came after the run had finished"
    kept = parts(run_dir)

    # A second kill, during the resumed run: the resume path must be as safe as the first run.
    second = start(["run", str(path), "--resume", str(run_dir)], tmp_path)
    kill_when(second, out, len(kept) + rng.randint(1, (total - len(kept)) // 2), rng)
    kept_again = parts(run_dir)
    assert all(kept_again[name] == data for name, data in kept.items())

    final = subprocess.run([*qsbench_cmd(), "run", str(path), "--resume", str(run_dir)], cwd=tmp_path,
                           capture_output=True, text=True, timeout=600)
    assert "Traceback" not in final.stderr
    after = parts(run_dir)
    assert len(after) == total, f"{total - len(after)} planned cases have no part"
    assert all(after[name] == data for name, data in kept_again.items()), "a finished case was rewritten"

    df = pd.read_parquet(run_dir / "measurements")
    assert not df.duplicated(["case_id", "metric", "sample"]).any()
    cases = df.drop_duplicates("case_id").set_index("vendor")
    ok = df[df.status == "ok"]
    assert len(ok) == TOYS * SAMPLES and set(ok.groupby("case_id").size()) == {SAMPLES}
    outcome = {v: tuple(cases.loc[v, ["status", "reason"]]) for v in ("segfaults", "crashy", "hangs")}
    assert outcome == {"segfaults": ("failed", "worker process died with SIGSEGV"),
                       "crashy": ("failed", "worker process died with SIGABRT"),
                       "hangs": ("timeout", "case exceeded its timeout of 1 s")}
    # The failures may have been recorded by any of the three invocations; the exit code sees them all.
    assert final.returncode == 1, final.stderr[-2000:]


def test_a_hanging_vendor_costs_its_timeout_and_a_segfaulting_one_costs_one_case(tmp_path):
    path = tmp_path / "faults.yaml"
    path.write_text(textwrap.dedent("""\
        name: faults
        timeout_s: 60
        vendors: [toy, segfaults, hangs]
        suites:
          - suite: keygen_timing
            vendors: [segfaults, toy]
          - suite: keygen_timing
            vendors: [hangs]
            timeout_s: 2
        """))
    began = time.monotonic()
    done = subprocess.run([*qsbench_cmd(), "run", str(path), "--out", str(tmp_path / "r")], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    elapsed = time.monotonic() - began
    assert done.returncode == 1 and "Traceback" not in done.stderr
    run_dir = Path(done.stdout.strip().splitlines()[-1])
    df = pd.read_parquet(run_dir / "measurements").drop_duplicates("case_id").set_index("vendor")
    assert df.loc["segfaults", "reason"] == "worker process died with SIGSEGV"
    assert df.loc["hangs", ["status", "reason"]].tolist() == ["timeout", "case exceeded its timeout of 2 s"]
    assert df.loc["toy", "status"] == "ok"  # measured after the segfault, in a fresh worker
    assert elapsed >= 2  # the hang was waited out, not skipped
