"""JUnit output that cannot go green by accident and keeps its names from night to night."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from harness.evaluation import junit
from harness.evaluation.compare import Change, Comparison
from harness.evaluation.criteria import Evidence, Verdict
from harness.evaluation.criteria_spec import Criterion, RegressionPolicy


def _verdict(outcome: str, gate: bool) -> Verdict:
    name = f"{outcome.replace('/', '')}-{'gate' if gate else 'scored'}"
    crit = Criterion(id=name, metric="handshake_ms", statistic="p95", op="<=", threshold="150 ms", gate=gate)
    return Verdict(crit, "alpha", outcome, "no rows of handshake_ms" if outcome == "n/a" else "measured",
                   Evidence(0, None, None, "ms", ()))


def _change(kind: str) -> Change:
    return Change("c0ffee0000000000", "s", "alpha", "handshake_ms", "ms", kind, 5, 5, 40.0, 48.0, 0.2, 0.001)


def _parse(run_id: str, baseline: str) -> ET.Element:
    kinds = ("regression", "status", "case missing", "too few repeats", "host unstable", "unchanged",
             "improvement")
    changes = tuple(_change(k) for k in kinds)
    comparison = Comparison(run_id, baseline, RegressionPolicy(), changes, (baseline,))
    verdicts = [_verdict(o, g) for o in ("pass", "fail", "n/a") for g in (True, False)]
    return ET.fromstring(junit.to_xml(run_id, verdicts, comparison))


def _outcome(case: ET.Element) -> str:
    return next((child.tag for child in case if child.tag in ("failure", "skipped")), "passed")


def test_a_mandatory_criterion_without_evidence_fails_and_a_scored_one_is_skipped():
    criteria = _parse("night-2", "night-1").find("testsuite[@name='criteria']")
    outcomes = {c.get("name"): _outcome(c) for c in criteria.iter("testcase")}
    assert outcomes == {"pass-gate[alpha]": "passed", "pass-scored[alpha]": "passed",
                        "fail-gate[alpha]": "failure", "fail-scored[alpha]": "failure",
                        "na-gate[alpha]": "failure", "na-scored[alpha]": "skipped"}
    (gate,) = [c for c in criteria.iter("testcase") if c.get("name") == "na-gate[alpha]"]
    assert "n/a counts as not met" in gate.find("failure").get("message")
    assert criteria.get("failures") == "3" and criteria.get("skipped") == "1"


def test_regression_checks_fail_skip_or_pass_by_kind():
    regressions = _parse("night-2", "night-1").find("testsuite[@name='regressions']")
    outcomes = [(c.find("failure") is not None, c.find("skipped") is not None)
                for c in regressions.iter("testcase")]
    assert outcomes == [(True, False)] * 3 + [(False, True)] * 2 + [(False, False)] * 2


def test_names_do_not_change_from_night_to_night():
    def names(root: ET.Element) -> list[tuple[str, ...]]:
        return [(root.get("name"),)] + [(s.get("name"), c.get("classname"), c.get("name"))
                                        for s in root.iter("testsuite") for c in s.iter("testcase")]

    tuesday, wednesday = _parse("night-2", "night-1"), _parse("night-3", "night-2")
    assert names(tuesday) == names(wednesday)
    assert [s.get("name") for s in wednesday.iter("testsuite")] == ["criteria", "regressions"]
    props = {p.get("name"): p.get("value") for p in wednesday.find("testsuite[@name='regressions']")
             .iter("property")}
    assert props["run_id"] == "night-3" and props["baseline"] == "night-2"
