"""A tie as each output says it: the HTML ranking, summary.md and `qsbench verdicts` share the rank."""

from __future__ import annotations

import re

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from harness.cli.evaluate import register
from harness.report import render
from tests.evalkit import case_rows, write_run


@pytest.fixture(scope="module")
def tied(tmp_path_factory):
    """a, b and d at the target (100 each, no spread), c halfway (50): ranks 1, 1, 1, 4."""
    rows = []
    for vendor, ms in (("b", 20.0), ("d", 20.0), ("a", 20.0), ("c", 60.0)):
        rows += case_rows("x", "tls_handshake", vendor, {"group": "g"}, "handshake_ms", "ms", np.full(10, ms))
    criteria = [{"id": "lat", "metric": "handshake_ms", "statistic": "median", "op": "<=",
                 "threshold": "100 ms", "target": "20 ms"}]
    scenario = {"name": "tie", "vendors": ["a", "b", "c", "d"], "suites": [{"suite": "tls_handshake"}],
                "criteria": criteria}
    run_dir = write_run(tmp_path_factory.mktemp("results") / "tie", scenario, rows, {"group": "string"})
    return run_dir, render(run_dir)


def test_the_html_ranking_gives_tied_vendors_one_rank(tied):
    _, out = tied
    html = out.html.read_text()
    table = html[html.index('id="ranking"'):].split("</table>")[0]
    ranks = re.findall(r'<tr><td class="num">(\d+)</td><td>(\w+)</td>', table)
    assert ranks == [("1", "a"), ("1", "b"), ("1", "d"), ("4", "c")]
    assert "not ahead: the same score" in table
    card = html[html.index('id="scorecard"'):].split("</section>")[0]
    assert "Tied vendors share a rank: a, b and d score the same (a tie: they share rank 1" in card
    assert "The ranking a = b = d &gt; c holds" in card


def test_summary_md_gives_tied_vendors_one_rank(tied):
    _, out = tied
    md = out.markdown.read_text()
    ranks = re.findall(r"^\| (\d) \| (\w) \|", md, flags=re.M)
    assert ranks == [("1", "a"), ("1", "b"), ("1", "d"), ("4", "c")]
    assert "**Tied** (the same total, listed alphabetically): a = b = d." in md


def test_the_console_ranking_marks_a_tie(tied):
    run_dir, _ = tied
    app = typer.Typer()
    register(app)
    result = CliRunner().invoke(app, ["verdicts", str(run_dir)])
    assert result.exit_code == 0, result.output
    top = r"100\.0 \[100\.0, 100\.0\]"
    tie = rf"ranking: a {top} = b {top} = d {top} > c 50\.0"
    assert re.search(tie, result.output)
    assert "=: the same total, a tie" in result.output
