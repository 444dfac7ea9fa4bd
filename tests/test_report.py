"""The rendered report: files, machine-readable content, reproducible bytes, sections only with data."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from harness.report import render
from tests.evalkit import case_rows, pilot_run, write_run


@pytest.fixture(scope="module")
def pilot(tmp_path_factory):
    root = tmp_path_factory.mktemp("results")
    # Five repeats per TLS experiment: a comparison's evidence is repeats, not the samples of one process.
    nightly = {"tls_repeats": 5, "interop_seed": 9}
    base = pilot_run(root / "run-1", seed=1, started="2026-11-22T00:00:00Z", **nightly)
    current = pilot_run(root / "run-2", seed=2, slowdown=1.3, started="2026-11-23T00:00:00Z", **nightly)
    return base, current, render(current, baseline=base)


def test_results_json_carries_verdicts_scores_and_regressions(pilot):
    _, _, out = pilot
    res = json.loads(out.results.read_text())
    by = {(v["criterion"], v["vendor"]): v for v in res["verdicts"]}
    assert len(by) == 12
    gamma = by[("interop", "gamma")]
    assert gamma["outcome"] == "fail" and gamma["n"] == 40 and gamma["case_ids"]
    assert by[("tls_p95", "alpha")]["ci_low"] < by[("tls_p95", "alpha")]["value"]
    assert res["scorecard"]["ranking"][0]["vendor"] == "beta"  # the only one interoperating with everyone
    kinds = res["comparison"]["counts"]
    # 30 % slower handshakes over five repeats: every TLS experiment regresses, nothing else does.
    assert kinds["regression"] == 12
    regressed = {c["metric"] for c in res["comparison"]["changes"] if c["kind"] == "regression"}
    assert regressed == {"handshake_ms"}
    assert res["exit_code"] == 0


def test_junit_has_one_case_per_verdict_and_per_regression_check(pilot):
    _, _, out = pilot
    root = ET.parse(out.junit).getroot()
    criteria, regressions = root.findall("testsuite")
    assert criteria.get("tests") == "12" and criteria.get("failures") == "2"
    failed = [c.get("name") for c in criteria if c.find("failure") is not None]
    assert sorted(failed) == ["interop[alpha]", "interop[gamma]"]
    assert int(regressions.get("failures")) == 12
    assert int(regressions.get("tests")) > 12  # unchanged checks are reported as passed test cases


def test_html_puts_the_verdict_table_first_and_links_every_verdict_to_its_cases(pilot):
    _, _, out = pilot
    html = out.html.read_text()
    order = [html.index(f'<section id="{s}">') for s in ("verdicts", "scorecard", "regressions", "evidence")]
    assert order == sorted(order)
    for target in set(re.findall(r'href="#(ev-[^"]+)"', html)):
        assert f'id="{target}"' in html
    for case in set(re.findall(r'href="#case-([0-9a-f]{16})"', html)):
        assert f'id="case-{case}"' in html
    assert "<script" not in html and "<metadata>" not in html
    assert not re.search(r'(src|href)="(https?:)?//|url\((?!#)|@import', html)  # nothing fetched at view time
    assert html.count("<svg") >= 6


def test_same_data_renders_to_the_same_bytes(tmp_path):
    dirs = [tmp_path / "a" / "run-x", tmp_path / "b" / "run-x"]
    a, b = (render(pilot_run(d, seed=5)).html.read_bytes() for d in dirs)
    assert str(dirs[0]).encode() in a  # the footer (and any banner) name where the rows really are
    assert a.replace(str(dirs[0]).encode(), b"RUN") == b.replace(str(dirs[1]).encode(), b"RUN")


def test_sections_appear_only_with_their_data(tmp_path):
    scenario = {"name": "bare", "vendors": ["alpha"], "suites": [{"suite": "toy"}]}
    rows = case_rows("bare-run", "toy", "alpha", {"algorithm": "X"}, "keygen_us", "us", [1.0, 2.0, 3.0])
    out = render(write_run(tmp_path / "bare-run", scenario, rows, {"algorithm": "string"}))
    html = out.html.read_text()
    assert "the scenario states no success criteria" in html  # why there is no scorecard
    for absent in ('id="verdicts"', 'id="scorecard"', 'id="regressions"', 'id="trends"'):
        assert absent not in html
    assert 'id="evidence"' in html and 'id="results"' in html
    assert json.loads(out.results.read_text())["verdicts"] == []


def test_summary_md_leads_with_the_answer(pilot):
    _, _, out = pilot
    text = out.markdown.read_text()
    assert text.startswith("# Verdicts")
    assert re.search(r"\| interop \| gamma \| fail(, marginal)? \|", text)
    assert "# Scorecard" in text and "| regression | tls_handshake |" in text


def test_results_table_gives_spread_and_cases_for_every_line(pilot):
    """Other suites' parameters are NaN in each line's keys; quantiles and case links must survive that."""
    _, _, out = pilot
    html = out.html.read_text()
    results = html[html.index('<section id="results">'):html.index('<section id="cases">')]
    lines = results.split("<tr>")[2:]
    assert len(lines) > 50
    assert all('href="#case-' in line and "–</td>" not in line for line in lines)


def test_nightly_report_shows_trends_with_the_step(tmp_path):
    nights = [pilot_run(tmp_path / f"night-{i}", seed=i, slowdown=slow, started=f"2026-11-1{i}T02:00:00Z",
                        tls_repeats=5, interop_seed=9)
              for i, slow in enumerate((1.0, 1.0, 1.0, 1.4, 1.4))]
    html = render(nights[4], baseline=nights[3]).html.read_text()
    trends = html[html.index('<section id="trends">'):html.index('<section id="evidence">')]
    assert "tls_handshake: handshake_ms over runs" in trends and "over 5 runs" in trends
    assert "step at run night-3" in trends
    early = render(nights[2]).html.read_text()  # history up to that night only: 3 runs, no step yet
    assert "over 3 runs" in early and "step at run" not in early


def test_a_pilot_of_vendor_specific_criteria_has_verdicts_but_no_scorecard(tmp_path):
    criteria = [{"id": "tls", "metric": "handshake_ms", "vendors": ["alpha"], "statistic": "median",
                 "op": "<=", "threshold": "1 s", "gate": True}]
    out = render(pilot_run(tmp_path / "pilot", criteria=criteria))
    html = out.html.read_text()
    assert 'id="verdicts"' in html and 'id="scorecard"' not in html
    assert "No scorecard: every criterion of this scenario is restricted to some vendors" in html
    assert json.loads(out.results.read_text())["scorecard"] is None


def test_numbers_read_as_numbers_and_an_unfinished_run_says_so(tmp_path):
    run_dir = pilot_run(tmp_path / "run-n", seed=3)
    html = render(run_dir).html.read_text()
    # an interval is two numbers: no thousands separators inside it, and a space before it
    for low, high in re.findall(r"\[([^\]\s]+), ([^\]\s]+)\]", html):
        assert "," not in low and "," not in high, (low, high)
    assert not re.search(r"(ms|bps|ratio|%)\[", html)
    verdicts = html[html.index('id="verdict-table"'):].split("</table>")[0]
    assert " ratio" not in verdicts and re.search(r">9[0-9.]* %", verdicts)  # rates stated in % show in %
    assert f"<code>{run_dir}/measurements/" in html and "results/run-n" not in html
    # the fixture's manifest has no finish time: the report says the run is incomplete, and how to finish
    assert 'id="incomplete"' in html and f"--resume {run_dir}" in html
    manifest = json.loads((run_dir / "manifest.json").read_text())
    manifest["finished"] = "2026-11-24T01:00:00Z"
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    assert 'id="incomplete"' not in render(run_dir).html.read_text()


def _two_vendor_run(run_dir, lat_a, lat_b):
    rows = case_rows("x", "tls_handshake", "a", {"group": "g"}, "handshake_ms", "ms", lat_a)
    rows += case_rows("x", "tls_handshake", "b", {"group": "g"}, "handshake_ms", "ms", lat_b)
    criteria = [{"id": "lat", "metric": "handshake_ms", "statistic": "median", "op": "<=",
                 "threshold": "100 ms", "target": "20 ms", "gate": True}]
    scenario = {"name": "two", "vendors": ["a", "b"], "suites": [{"suite": "tls_handshake"}],
                "criteria": criteria}
    return render(write_run(run_dir, scenario, rows, {"group": "string"})).html.read_text()


def test_the_scorecard_shows_score_intervals_and_marks_a_ranking_they_do_not_support(tmp_path):
    rng = np.random.default_rng(3)
    wide_a, wide_b = 50 * np.exp(rng.normal(0, 0.4, 15)), 55 * np.exp(rng.normal(0, 0.4, 15))
    html = _two_vendor_run(tmp_path / "wide", wide_a, wide_b)
    card = html[html.index('id="scorecard"'):].split("</section>")[0]
    assert 'id="ranking-unsupported"' in card and "score intervals of a and b overlap" in card
    ranking = card[card.index('id="ranking"'):].split("</table>")[0]
    assert len(re.findall(r"\[[\d.]+, [\d.]+\]", ranking)) == 2  # a total interval per vendor
    assert "not supported: intervals overlap" in ranking
    assert "though the score intervals do not support it" in card
    # the same medians without spread: the order stands, and nothing says otherwise
    steady = _two_vendor_run(tmp_path / "steady", [50.0] * 15, [55.0] * 15)
    assert 'id="ranking-unsupported"' not in steady and "score (intervals apart)" in steady


def test_ranking_sensitivity_is_not_claimed_where_the_gates_set_the_order(tmp_path):
    html = _two_vendor_run(tmp_path / "gated", [50.0] * 15, [150.0] * 15)  # b fails the mandatory lat
    card = html[html.index('id="scorecard"'):].split("</section>")[0]
    assert "is set by the mandatory gates" in card and "holds when" not in card
    assert 'id="ranking-unsupported"' not in card


def test_a_reason_many_cells_give_is_stated_once_and_the_cells_refer_to_it(tmp_path):
    reason = "liboqs unavailable: " + "the shared library was not found in any of the usual places; " * 12
    rows = case_rows("x", "tls_handshake", "a", {"group": "g"}, "handshake_ms", "ms", [10.0, 11.0, 12.0])
    rows += case_rows("x", "tls_handshake", "b", {"group": "g"}, "handshake_ms", "ms", [], status="na",
                      reason=reason)
    criteria = [{"id": f"lat_{s}", "metric": "handshake_ms", "statistic": s, "op": "<=",
                 "threshold": "100 ms"} for s in ("median", "p95", "max")]
    scenario = {"name": "notes", "vendors": ["a", "b"], "suites": [{"suite": "tls_handshake"}],
                "criteria": criteria}
    html = render(write_run(tmp_path / "notes", scenario, rows, {"group": "string"})).html.read_text()
    grid = html[html.index('id="verdict-table"'):].split("</table>")[0]
    visible = re.sub(r'title="[^"]*"', "", grid)  # the full reason stays in each cell's tooltip
    assert visible.count("see note 1") == 3 and "liboqs unavailable" not in visible
    notes = html[html.index('id="reason-notes"'):].split("</ol>")[0]
    assert notes.count("liboqs unavailable") == 1 and 'id="reason-note-1"' in notes


def test_equal_scores_are_called_a_tie_not_a_ranking(tmp_path):
    same = np.full(10, 10.0)  # both at their target: 100 each
    card = _two_vendor_run(tmp_path / "tie", same, same)
    card = card[card.index('id="scorecard"'):].split("</section>")[0]
    assert "a and b score the same (a tie" in card and "not ahead: the same score" in card
    assert "score intervals of a and b overlap" not in card


def test_a_reason_many_cases_give_is_stated_once_under_the_cases_table(tmp_path):
    reason = "liboqs unavailable: " + "the shared library was not found in any of the usual places; " * 12
    rows = case_rows("x", "tls_handshake", "a", {"group": "g0"}, "handshake_ms", "ms", [10.0, 11.0, 12.0])
    for group in ("g1", "g2", "g3"):
        rows += case_rows("x", "tls_handshake", "b", {"group": group}, "handshake_ms", "ms", [], status="na",
                          reason=reason)
    rows += case_rows("x", "tls_handshake", "b", {"group": "g4"}, "handshake_ms", "ms", [], status="failed",
                      reason="handshake timed out after 30 s")
    scenario = {"name": "case-notes", "vendors": ["a", "b"], "suites": [{"suite": "tls_handshake"}]}
    html = render(write_run(tmp_path / "cases", scenario, rows, {"group": "string"})).html.read_text()
    cases = html[html.index('id="cases"'):].split("</section>")[0]
    table = cases.split("</table>")[0]
    visible = re.sub(r'title="[^"]*"', "", table)  # the full reason stays in each row's tooltip
    assert visible.count("see note 1") == 3 and "liboqs unavailable" not in visible
    assert "handshake timed out after 30 s" in visible and "see note 2" not in visible  # said once: inline
    notes = cases[cases.index('id="case-notes"'):].split("</ol>")[0]
    assert notes.count("liboqs unavailable") == 1 and 'id="case-note-1"' in notes


def test_a_metric_declared_per_link_gets_a_results_line_per_link(tmp_path):
    """trusted-node-corridor's results gave the 72+168 km chain one link_key_rate_bps line, median
    102150 of its two links' 204000 and 300 bit/s: neither link's rate."""
    from dataclasses import asdict

    from harness.evaluation.summary import write_summary
    from harness.suite import Metric

    scenario = {"name": "links", "vendors": ["lim"], "suites": [{"suite": "nodes"}]}
    rows = [{**r, "link": link} for i, (link, rate) in enumerate((("A-T1", 204_000.0), ("T1-B", 300.0)))
            for r in case_rows("links", "nodes", "lim", {"layout": "chain-72+168km"}, "link_key_rate_bps",
                               "bit/s", [rate], repeat=i)]
    run_dir = write_run(tmp_path / "links", scenario, rows, {"layout": "string"}, labels=("link",))
    manifest = json.loads((run_dir / "manifest.json").read_text())
    manifest["metrics"] = {"nodes": {"link_key_rate_bps": asdict(Metric("bit/s", "higher", per=("link",)))}}
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    out = render(run_dir)
    for written in (out.html.read_text(), (run_dir / "report" / "summary.md").read_text(),
                    write_summary(run_dir)[2].read_text()):
        assert "102150" not in written and "link=A-T1" in written and "link=T1-B" in written
