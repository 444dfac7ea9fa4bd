"""The evaluation commands, alone (CliRunner on register(app)) and end to end through a real run."""

from __future__ import annotations

import json
import re
import textwrap

import typer
from typer.testing import CliRunner

from harness.cli.evaluate import register
from tests.evalkit import pilot_run

runner = CliRunner()


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def test_verdicts_prints_evidence_and_exits_1_on_a_failed_gate(tmp_path):
    ok = pilot_run(tmp_path / "ok")
    result = runner.invoke(_app(), ["verdicts", str(ok)])
    assert result.exit_code == 0, result.output
    assert "tls_p95 (gate)" in result.output and "ranking: beta" in result.output
    # each total with its score interval; the pilot's interop rates straddle 95 %, so the order is open
    assert re.search(r"ranking: beta [\d.]+ \[[\d.]+, [\d.]+\] ≈ ", result.output)
    assert "score intervals overlap, so the data do not support that order" in result.output
    strict = pilot_run(tmp_path / "strict", criteria=[
        {"id": "tls_fast", "metric": "handshake_ms", "where": {"rtt_ms": 31.1}, "statistic": "p99",
         "op": "<=", "threshold": "0.05 s", "gate": True}])
    result = runner.invoke(_app(), ["verdicts", str(strict)])
    assert result.exit_code == 1
    assert "mandatory criterion tls_fast not met by alpha" in result.output


def test_compare_latest_flags_the_slower_night_and_writes_junit(tmp_path):
    # Repeats are the evidence, and the same code interoperates alike every night.
    nightly = {"tls_repeats": 5, "interop_seed": 9}
    pilot_run(tmp_path / "night-1", seed=1, started="2026-11-22T02:00:00Z", **nightly)
    same = pilot_run(tmp_path / "night-2", seed=2, started="2026-11-23T02:00:00Z", **nightly)
    slow = pilot_run(tmp_path / "night-3", seed=3, slowdown=1.25, started="2026-11-24T02:00:00Z", **nightly)
    quiet = runner.invoke(_app(), ["compare", str(same), "--baseline", str(tmp_path / "night-1")])
    assert quiet.exit_code == 0 and "0 regressions" in quiet.output, quiet.output
    junit = tmp_path / "j.xml"
    loud = runner.invoke(_app(), ["compare", str(slow), "--junit", str(junit)])
    assert loud.exit_code == 1 and "12 regressions" in loud.output and "night-2" in loud.output
    assert junit.read_text().count("<failure") == 12
    lenient = runner.invoke(_app(), ["compare", str(slow), "--metric-threshold", "handshake_ms=0.5"])
    assert lenient.exit_code == 0 and "0 regressions" in lenient.output


def test_report_against_a_history_judges_as_compare_does(tmp_path):
    from harness.cli.app import app

    nightly = {"tls_repeats": 5, "interop_seed": 9}
    for night in range(1, 4):
        pilot_run(tmp_path / f"night-{night}", seed=night, started=f"2026-11-2{night}T02:00:00Z", **nightly)
    slow = pilot_run(tmp_path / "night-4", seed=4, slowdown=1.25, started="2026-11-24T02:00:00Z", **nightly)
    report = runner.invoke(app, ["report", str(slow), "--baseline", "history:3"])
    assert report.exit_code == 0, report.output
    comparison = json.loads((slow / "report" / "results.json").read_text())["comparison"]
    assert comparison["baseline_run_id"] == "history of 3 runs (night-1 … night-3)"
    judged = runner.invoke(_app(), ["compare", str(slow), "--baseline", "history:3"])
    assert f"{comparison['counts']['regression']} regressions" in judged.output
    timings = [c for c in comparison["changes"] if c["metric"] == "handshake_ms"]
    assert timings and all("against 3 earlier runs' levels" in c["note"] for c in timings)
    assert "history of 3 runs" in (slow / "report" / "scorecard.html").read_text()
    bad = runner.invoke(app, ["report", str(slow), "--baseline", "history:three"])
    assert bad.exit_code == 2 and "write history:N" in bad.output


def test_history_prints_the_series_and_draws_it(tmp_path):
    for night, slow in enumerate((1.0, 1.0, 1.0, 1.4, 1.4, 1.4)):
        pilot_run(tmp_path / f"night-{night}", seed=night, slowdown=slow,
                  started=f"2026-11-1{night}T02:00:00Z")
    svg = tmp_path / "h.svg"
    result = runner.invoke(_app(), ["history", "handshake_ms", "--results", str(tmp_path), "--where",
                                    "group=X25519MLKEM768", "--where", "rtt_ms=31.1", "--plot", str(svg)])
    assert result.exit_code == 0, result.output
    assert "step for ('alpha',)" in result.output and "at run night-3" in result.output
    assert svg.read_text().startswith("<svg")
    bad = runner.invoke(_app(), ["history", "handshake_ms", "--results", str(tmp_path), "--where", "nope"])
    assert bad.exit_code == 2


SCENARIO = """\
name: e2e-eval
vendors: [toy, signer-only]
suites:
  - suite: keygen_timing
    params: {samples: 8}
criteria:
  - id: keygen_fast
    metric: keygen_us
    where: {algorithm: TOY-KEM}
    statistic: median
    op: "<="
    threshold: 1 s
    target: 1 ms
    gate: true
    category: performance
"""


def test_end_to_end_run_gates_reports_and_compares(tmp_path, write_scenario):
    """A real run through the runner's worker processes with the test-only plugins."""
    from harness.cli.app import app

    path = write_scenario(textwrap.dedent(SCENARIO))
    results = tmp_path / "results"
    first = runner.invoke(app, ["run", str(path), "--out", str(results)])
    # toy meets the gate; signer-only has no KEM, so the gate has no evidence for it: not met.
    assert first.exit_code == 1, first.output
    assert "mandatory criterion keygen_fast not met by signer-only" in first.output
    run_dir = results / first.output.strip().splitlines()[-1].split("/")[-1]
    verdicts = runner.invoke(app, ["verdicts", str(run_dir)])
    assert "signer-only has no kem" in verdicts.output and verdicts.exit_code == 1

    alone = runner.invoke(app, ["report", str(run_dir), "--baseline", "latest"])
    assert alone.exit_code == 0 and "reporting without a comparison" in alone.output
    second = runner.invoke(app, ["run", str(path), "--out", str(results)])
    run_2 = results / second.output.strip().splitlines()[-1].split("/")[-1]
    report = runner.invoke(app, ["report", str(run_2), "--baseline", "latest"])
    assert report.exit_code == 0, report.output
    res = json.loads((run_2 / "report" / "results.json").read_text())
    toy = next(v for v in res["verdicts"] if v["vendor"] == "toy")
    assert toy["outcome"] == "pass" and toy["n"] == 8 and toy["unit"] == "us" and toy["threshold"] == 1e6
    assert res["comparison"]["baseline_run_id"] == run_dir.name
    assert (run_2 / "report" / "scorecard.html").stat().st_size > 1000


PQC = """\
name: e2e-pqc
vendors: [openssl, pqclean]
suites:
  - suite: pqc_primitives
    params: {algorithms: [ML-KEM-768, ML-KEM-512], samples: 30, warmup: 2}
criteria:
  - {id: encaps_p99, metric: encaps_us, where: {algorithm: ML-KEM-768}, statistic: p99, op: "<=",
     threshold: 50 ms, target: 10 us, gate: true, category: performance}
  - {id: mlkem512_keygen, metric: keygen_us, where: {algorithm: ML-KEM-512}, statistic: median, op: "<=",
     threshold: 50 ms, category: performance}
"""


def test_end_to_end_with_real_pqc_libraries(tmp_path, write_scenario):
    """OpenSSL and PQClean measured for real by the pqc_primitives suite, then judged and reported."""
    from harness.cli.app import app

    results = tmp_path / "results"
    run = runner.invoke(app, ["run", str(write_scenario(PQC)), "--out", str(results)])
    assert run.exit_code == 0, run.output
    run_dir = results / run.output.strip().splitlines()[-1].split("/")[-1]
    assert runner.invoke(app, ["report", str(run_dir)]).exit_code == 0
    res = json.loads((run_dir / "report" / "results.json").read_text())
    by = {(v["criterion"], v["vendor"]): v for v in res["verdicts"]}
    for vendor in ("openssl", "pqclean"):
        encaps = by[("encaps_p99", vendor)]
        assert encaps["outcome"] == "pass" and encaps["n"] == 30 and encaps["unit"] == "us"
        assert 0 < encaps["ci_low"] <= encaps["value"] <= encaps["ci_high"]
    # OpenSSL has no ML-KEM-512: n/a with the suite's reason, scored 0, not hidden.
    assert by[("mlkem512_keygen", "openssl")]["outcome"] == "n/a"
    assert "ML-KEM-512" in by[("mlkem512_keygen", "openssl")]["reason"]
    assert by[("mlkem512_keygen", "pqclean")]["outcome"] == "pass"
    assert res["scorecard"]["ranking"][0]["vendor"] == "pqclean"  # openssl scores 0 on the n/a one
