"""The CLI's error boundary, case by case as a user meets it: in a subprocess, each ordinary mistake
gives a located message on stderr and exit 2, never a traceback."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import qsbench_cmd

TOY = """\
name: boundary
vendors: [toy]
suites:
  - suite: keygen_timing
    params: {samples: 2}
"""


def qsbench(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*qsbench_cmd(), *args], capture_output=True, text=True, timeout=300,
                          env=os.environ.copy())


def bad_input(result: subprocess.CompletedProcess, *expected: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    # typer boxes usage errors and wraps them at the terminal width, paths included: compare the
    # text without the box and the white space
    flat = "".join(result.stderr.replace("│", "").split())
    for text in expected:
        assert "".join(text.split()) in flat, result.stderr


@pytest.fixture
def run_dir(write_scenario, tmp_path) -> Path:
    result = qsbench("run", str(write_scenario(TOY)), "--out", str(tmp_path / "results"))
    assert result.returncode == 0, result.stderr
    return Path(result.stdout.strip().splitlines()[-1])


def _copy(run_dir: Path, name: str) -> Path:
    """A copy alone in its own results folder: the report also reads sibling runs for trends."""
    copy = run_dir.parent.parent / name / run_dir.name
    shutil.copytree(run_dir, copy)
    return copy


def _edit_manifest(run_dir: Path, edit) -> None:
    path = run_dir / "manifest.json"
    manifest = json.loads(path.read_text())
    edit(manifest)
    path.write_text(json.dumps(manifest))


def test_a_scenario_that_is_not_utf8_is_bad_input_for_validate_and_run(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"name: x\n\xff\xfe\xda\x00garbage")
    bad_input(qsbench("validate", str(bad)), str(bad))
    bad_input(qsbench("run", str(bad), "--out", str(tmp_path / "out")), str(bad))
    assert not (tmp_path / "out").exists()


def test_keyrate_refuses_an_unusable_plot_path_before_computing(tmp_path):
    unknown = qsbench("keyrate", "-p", "gys-2004", "--plot", str(tmp_path / "kr.xyz"))
    bad_input(unknown, "kr.xyz", ".svg")
    assert "km" not in unknown.stdout  # no table was computed first
    missing = qsbench("keyrate", "-p", "gys-2004", "--plot", str(tmp_path / "nowhere" / "kr.svg"))
    bad_input(missing, "does not exist")
    assert missing.stdout == ""


def test_corrupt_runs_are_bad_input_for_report_and_verdicts(run_dir):
    broken_manifest = _copy(run_dir, "manifest")
    (broken_manifest / "manifest.json").write_text("{nope")
    no_columns = _copy(run_dir, "columns")
    _edit_manifest(no_columns, lambda m: m.pop("columns"))
    broken_part = _copy(run_dir, "part")
    part = next((broken_part / "measurements").glob("*.parquet"))
    part.write_bytes(b"not parquet at all")
    for command in ("report", "verdicts"):
        bad_input(qsbench(command, str(broken_manifest)), str(broken_manifest / "manifest.json"), "manifest")
        bad_input(qsbench(command, str(broken_part)), str(part))
        # Evaluation reads the row schema from the parts themselves (DuckDB), so a manifest that lost
        # its `columns` still evaluates; what matters is that it never ends in a traceback.
        lost = qsbench(command, str(no_columns))
        assert lost.returncode == 0 and "Traceback" not in lost.stderr, lost.stderr


def test_resume_with_keys_missing_from_the_manifest_is_bad_input(run_dir, write_scenario):
    scenario = write_scenario(TOY)
    for key, edit in (("seed", lambda m: m.pop("seed")),
                      ("text", lambda m: m["scenario"].pop("text")),
                      ("columns", lambda m: m.pop("columns"))):
        copy = _copy(run_dir, f"resume-{key}")
        for part in (copy / "measurements").glob("*.parquet"):
            part.unlink()
        _edit_manifest(copy, edit)
        bad_input(qsbench("run", str(scenario), "--resume", str(copy)), str(copy / "manifest.json"), key)
        assert not list((copy / "measurements").glob("*.parquet"))


def test_unwritable_destinations_are_bad_input(write_scenario, tmp_path):
    # A path under a regular file cannot be created even by root, unlike a chmod-ed directory.
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    bad_input(qsbench("run", str(write_scenario(TOY)), "--out", str(blocker / "results")), str(blocker))
    certs = qsbench("kme", "certs", str(blocker / "pki"))
    bad_input(certs, str(blocker / "pki"))
    assert certs.stderr.startswith("qsbench kme certs: error: ")  # the command, not its group ("qsbench kme")


def test_netem_proxy_refuses_a_port_out_of_range():
    bad_input(qsbench("netem", "proxy", "127.0.0.1:99999", "--duration", "0.1"), "99999")


def test_a_bug_is_one_line_with_the_traceback_kept_in_a_file(tmp_path):
    """A deliberately broken command (not a data error): the boundary names the crash file."""
    code = ("import sys, typer\n"
            "from harness.cli.app import app\n"
            "@app.command('explode')\n"
            "def explode() -> None:\n"
            "    raise RuntimeError('deliberate')\n"
            "sys.argv = ['qsbench', 'explode']\n"
            "app()\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "TMPDIR": str(tmp_path)})
    assert result.returncode == 3 and "Traceback" not in result.stderr
    assert "internal error" in result.stderr and "RuntimeError: deliberate" in result.stderr
    crash = next(tmp_path.glob("qsbench-crash-*.txt"))
    assert str(crash) in result.stderr and "RuntimeError: deliberate" in crash.read_text()


def test_help_and_validate_do_not_import_the_heavy_libraries(write_scenario):
    """What makes `qsbench --help` start fast, checked by what is imported, not by a clock."""
    scenario = write_scenario(TOY)
    code = ("import sys\n"
            "from harness.cli.app import app\n"
            f"sys.argv = ['qsbench', 'validate', {str(scenario)!r}]\n"
            "try:\n"
            "    app()\n"
            "except SystemExit:\n"
            "    pass\n"
            "print(sorted(m for m in ('scipy', 'pandas', 'pyarrow', 'duckdb', 'matplotlib') "
            "if m in sys.modules))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                            env=os.environ.copy())
    assert "valid" in result.stdout, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_validating_every_shipped_scenario_imports_no_heavy_library():
    """`qsbench validate` on the QKD scenarios loaded scipy (1.7 s) through the suites' module
    imports; validation loads every suite and adapter a scenario names, so all must stay light."""
    shipped = sorted(str(p) for p in (Path(__file__).parent.parent / "suites" / "scenarios").glob("*.yaml"))
    heavy = ("scipy", "pandas", "pyarrow", "duckdb", "matplotlib", "networkx", "numba", "starlette",
             "uvicorn")
    code = ("import sys\n"
            "from harness.cli.app import app\n"
            f"for path in {shipped!r}:\n"
            "    sys.argv = ['qsbench', 'validate', path]\n"
            "    try:\n"
            "        app()\n"
            "    except SystemExit as exc:\n"
            "        assert not exc.code, (path, exc.code)\n"
            f"print(sorted(m for m in {heavy!r} if m in sys.modules))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                            env=os.environ.copy())
    assert result.returncode == 0, result.stderr
    assert result.stdout.count(": valid") == len(shipped) > 5
    assert result.stdout.strip().splitlines()[-1] == "[]"
