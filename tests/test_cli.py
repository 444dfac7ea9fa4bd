"""The qsbench command line, run as a user runs it: in a subprocess."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pandas as pd

from harness import digest
from harness.store import RunStore
from tests.conftest import qsbench_cmd


def qsbench(*args: str, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([*qsbench_cmd(), *args], capture_output=True, text=True, timeout=timeout,
                          cwd=cwd, env=os.environ.copy())


SCENARIO = """\
name: cli-check
vendors: [toy, crashy, absent]
suites:
  - suite: keygen_timing
    params: {samples: 4}
"""


def test_vendors_json_lists_every_adapter_with_its_contract_fields():
    result = qsbench("vendors", "--json")
    assert result.returncode == 0, result.stderr
    vendors = {v["name"]: v for v in json.loads(result.stdout)}
    assert {"toy", "crashy", "absent", "openssl", "pqclean", "liboqs", "reference"} <= set(vendors)
    for v in vendors.values():
        assert set(v) == {"name", "kind", "available", "version", "capabilities", "reason"}
    assert vendors["toy"] == {"name": "toy", "kind": "pqc", "available": True, "version": "0.0-test",
                              "capabilities": ["kem"], "reason": ""}
    assert vendors["absent"]["available"] is False and "apt install libabsent" in vendors["absent"]["reason"]


def test_validate_ok_and_errors_without_traceback(write_scenario):
    good = write_scenario(SCENARIO)
    result = qsbench("validate", str(good))
    assert result.returncode == 0 and "valid" in result.stdout and "3 cases" in result.stdout

    bad = write_scenario(SCENARIO.replace("samples: 4", "samples: 4, sample: 2"), "bad.yaml")
    result = qsbench("validate", str(bad))
    assert result.returncode == 2
    assert result.stderr.strip() == f"{bad}:5:26: suites.0.params.sample: Extra inputs are not permitted"
    assert "Traceback" not in result.stderr


def test_run_writes_run_dir_prints_it_last_and_exits_1_on_a_crash(write_scenario, tmp_path):
    result = qsbench("run", str(write_scenario(SCENARIO)), "--out", str(tmp_path / "out"), "--seed", "5")
    assert result.returncode == 1, result.stderr
    run_dir = Path(result.stdout.strip().splitlines()[-1])
    assert run_dir.parent == tmp_path / "out"
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["seed"] == 5 and manifest["finished"] and manifest["scenario"]["name"] == "cli-check"
    assert manifest["host"]["cores"] >= 1 and manifest["host"]["python"]
    assert manifest["versions"]["adapter:toy"]["version"] == "0.0-test"
    df = pd.read_parquet(run_dir / "measurements")
    assert sorted(df.drop_duplicates("case_id").status) == ["failed", "na", "ok"]
    assert (df[df.status == "ok"].metric == "keygen_us").sum() == 4
    assert "SIGABRT" in result.stdout and "keygen_us" in result.stdout
    progress = [line for line in result.stderr.splitlines() if line.startswith("[")]
    assert len(progress) == 3 and progress[-1].startswith("[3/3] keygen_timing/")  # piped: a line per case

    report = qsbench("report", str(run_dir))
    assert report.returncode == 0
    summary = (run_dir / "report" / "summary.md").read_text()
    assert "| keygen_timing | toy | algorithm=TOY-KEM | keygen_us | us | 4 |" in summary
    assert "worker process died with SIGABRT" in summary


def test_run_with_unusable_input_exits_2(write_scenario, tmp_path):
    result = qsbench("run", str(tmp_path / "nope.yaml"))
    assert result.returncode == 2 and "cannot read" in result.stderr
    result = qsbench("report", str(tmp_path))
    assert result.returncode == 2 and "not a run directory" in result.stderr


def test_kill_9_loses_nothing_measured_and_resume_never_duplicates(write_scenario, tmp_path):
    scenario = write_scenario("""\
        name: kill-me
        vendors: [{name: slow, adapter: toy, options: {keygen_sleep_s: 0.25}}]
        suites:
          - suite: keygen_timing
            repeats: 8
            params: {samples: 2}
        """)
    out = tmp_path / "out"
    proc = subprocess.Popen([*qsbench_cmd(), "run", str(scenario), "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=os.environ.copy())
    deadline = time.monotonic() + 60
    parts: list[Path] = []
    while time.monotonic() < deadline and len(parts) < 2:
        parts = list(out.glob("*/measurements/*.parquet"))
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    assert len(parts) >= 2, "the run never wrote a case"
    run_dir = parts[0].parent.parent
    kept = pd.read_parquet(run_dir / "measurements")
    assert 2 <= kept.case_id.nunique() < 8

    result = qsbench("run", str(scenario), "--resume", str(run_dir))
    assert result.returncode == 0, result.stderr
    df = pd.read_parquet(run_dir / "measurements")
    assert df.case_id.nunique() == 8 and len(df) == 16
    assert not df.duplicated(["case_id", "metric", "sample"]).any()
    merged = kept.merge(df, on=["case_id", "metric", "sample"], suffixes=("_before", "_after"))
    assert (merged.value_before == merged.value_after).all() and len(merged) == len(kept)
    # The digest history reads is written when the run ends, so it holds the resumed cases too.
    assert digest.path(run_dir) == run_dir / digest.DIGEST
    assert pd.read_parquet(run_dir / digest.DIGEST).case_id.nunique() == 8


def test_resume_refuses_a_changed_scenario(write_scenario, tmp_path):
    scenario = write_scenario("name: r\nvendors: [toy]\nsuites:\n  - suite: keygen_timing\n")
    result = qsbench("run", str(scenario), "--out", str(tmp_path))
    run_dir = result.stdout.strip().splitlines()[-1]
    scenario.write_text(scenario.read_text().replace("name: r", "name: r2"))
    result = qsbench("run", str(scenario), "--resume", run_dir)
    assert result.returncode == 2 and "differs from the scenario" in result.stderr


def test_help_teaches_with_examples():
    result = qsbench("run", "--help")
    assert result.returncode == 0
    assert "Example" in result.stdout and "--resume" in result.stdout


def _commands() -> list[list[str]]:
    import typer.main

    from harness.cli.app import app

    found, todo = [], [([], typer.main.get_command(app))]
    while todo:
        path, command = todo.pop()
        subs = getattr(command, "commands", {})
        found += [path] if path and not subs else []
        todo += [([*path, name], sub) for name, sub in subs.items()]
    return sorted(found)


def test_help_reads_as_paragraphs_at_80_columns():
    """A docstring's line breaks were kept: at 80 columns a source line of 88 became one of 80 and a
    fragment ("a crash  or a" / "hang costs that case only")."""
    commands = _commands()
    assert ["run"] in commands and ["kme", "serve"] in commands  # the plugin's commands too
    for command in commands:
        result = subprocess.run([*qsbench_cmd(), *command, "--help"], capture_output=True, text=True,
                                timeout=60, env={**os.environ, "COLUMNS": "80"})
        assert result.returncode == 0, result.stderr
        prose = result.stdout.split("╭")[0].splitlines()[3:]  # between the usage line and the boxes
        for line, after in itertools.pairwise(prose):
            # rich's margin is one space; a deeper line is an example or a list item, kept as written
            if line[:2].strip() and after[:2].strip():
                assert len(line.rstrip()) >= 55, f"qsbench {' '.join(command)} --help: {line!r} / {after!r}"


def test_a_reader_that_leaves_the_pipe_ends_the_command_quietly():
    read, write = os.pipe()
    os.close(read)  # a reader that left before the first line (`| head -0`)
    piped = subprocess.run([*qsbench_cmd(), "schema"], stdout=write, stderr=subprocess.PIPE, text=True,
                           timeout=60)
    os.close(write)
    assert piped.stderr == "" and piped.returncode == 141  # was "qsbench schema: error: Broken pipe", exit 2


def test_resume_exits_from_the_whole_run_and_retry_failed_runs_failures_again(write_scenario, tmp_path):
    heal = tmp_path / "healed"
    scenario = write_scenario(f"""\
        name: flaky-night
        vendors: [toy, {{name: flaky, options: {{heal_file: "{heal}"}}}}]
        suites:
          - suite: keygen_timing
            params: {{samples: 2}}
        """)
    first = qsbench("run", str(scenario), "--out", str(tmp_path / "out"))
    assert first.returncode == 1, first.stderr
    run_dir = first.stdout.strip().splitlines()[-1]
    heal.touch()
    # Nothing is left to run, but the store holds a failed case: the run is still not green.
    resumed = qsbench("run", str(scenario), "--resume", run_dir)
    assert resumed.returncode == 1, resumed.stdout
    assert "nothing left to run" in resumed.stdout and "run total: 1 failed, 1 ok" in resumed.stdout
    retried = qsbench("run", str(scenario), "--resume", run_dir, "--retry-failed")
    assert retried.returncode == 0, retried.stdout + retried.stderr
    df = pd.read_parquet(Path(run_dir) / "measurements")
    assert set(df.status) == {"ok"} and len(df) == 4
    manifest = json.loads((Path(run_dir) / "manifest.json").read_text())
    assert manifest["host_state"]["start"]["load_average"] is not None
    assert manifest["host_state"]["end"]["time"] >= manifest["host_state"]["start"]["time"]
    # One repeat per experiment: nothing to judge the host by, and the manifest says so.
    assert manifest["stability"]["stable"] and manifest["stability"]["unjudged_single_repeat"] == 2
    assert qsbench("run", str(scenario), "--retry-failed").returncode == 2


def test_a_case_that_starts_processes_of_its_own_runs(tmp_path):
    """The simulated device serves its key source from a child process; in a daemonic worker that
    start fails ("daemonic processes are not allowed to have children") and every
    etsi014_conformance case of the shipped pilots failed. Run one such case as a user would."""
    scenario = tmp_path / "conformance.yaml"
    scenario.write_text(
        "name: conformance-in-a-worker\n"
        "vendors:\n"
        "  - name: dev\n"
        "    adapter: simulated_qkd\n"
        "    options: {profile: lim-2014, fibre_km: 20}\n"
        "suites:\n"
        "  - suite: etsi014_conformance\n"
        "    params: {key_wait_s: 30}\n")
    out = tmp_path / "results"
    done = qsbench("run", str(scenario), "--out", str(out), timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    (run_dir,) = out.iterdir()
    assert list(RunStore(run_dir).case_statuses().values()) == ["ok"]
    assert "checks_pass" in set(pd.read_parquet(run_dir / "measurements")["metric"])
