"""JUnit XML so any CI shows the evaluation: one test case per criterion × vendor and per regression check.

CI must not go green by accident, and its dashboards must keep their history:

- criteria: pass → passed, fail → failure (the message says whether it is a
  mandatory gate), n/a → skipped with its reason, except a mandatory
  criterion that is n/a: nothing showed it is met, so it is a failure;
- regression checks (experiment × metric against the baseline): a regression,
  a case that stopped finishing or went missing → failure; too few repeats,
  host unstable or an undeclared metric (nothing could be judged) → skipped;
  anything else → passed;
- names are stable from night to night: the suites are `criteria` and
  `regressions`, test cases are named by criterion id or metric and case
  fingerprint; which runs were compared goes in each suite's properties.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from harness.evaluation.compare import FAILING, Comparison
from harness.evaluation.criteria import Verdict

UNJUDGED = ("too few repeats", "host unstable", "undeclared")


def _suite(parent: ET.Element, name: str, cases: list[ET.Element], properties: dict[str, str]) -> None:
    failures = sum(1 for c in cases if c.find("failure") is not None)
    skipped = sum(1 for c in cases if c.find("skipped") is not None)
    suite = ET.SubElement(parent, "testsuite", name=name, tests=str(len(cases)),
                          failures=str(failures), errors="0", skipped=str(skipped))
    props = ET.SubElement(suite, "properties")
    for key, value in properties.items():
        ET.SubElement(props, "property", name=key, value=value)
    suite.extend(cases)


def _case(classname: str, name: str, outcome: str, message: str, detail: str = "") -> ET.Element:
    case = ET.Element("testcase", classname=classname, name=name, time="0")
    if outcome in ("failure", "skipped"):
        ET.SubElement(case, outcome, message=message).text = detail or None
    if detail and outcome == "passed":
        ET.SubElement(case, "system-out").text = detail
    return case


def to_xml(run_id: str, verdicts: list[Verdict], comparison: Comparison | None) -> bytes:
    root = ET.Element("testsuites", name="qsbench")
    cases = []
    for v in verdicts:
        crit = v.criterion
        kind = "mandatory gate" if crit.gate else "scored criterion"
        outcome = {"pass": "passed", "fail": "failure", "n/a": "skipped"}[v.outcome]
        message = f"{v.label} ({kind}): {v.reason}"
        if v.outcome == "n/a" and crit.gate:  # nothing showed the gate is met
            outcome, message = "failure", f"{v.label} (mandatory gate, n/a counts as not met): {v.reason}"
        detail = f"cases: {', '.join(v.evidence.case_ids)}" if v.evidence.case_ids else ""
        cases.append(_case(f"qsbench.criteria.{crit.category}", f"{crit.id}[{v.vendor}]", outcome,
                           message, f"{message}\n{detail}".strip()))
    _suite(root, "criteria", cases, {"run_id": run_id})
    if comparison is not None:
        checks = []
        for c in comparison.changes:
            outcome = "failure" if c.kind in FAILING else "skipped" if c.kind in UNJUDGED else "passed"
            change = "" if c.change is None else f" change {c.change:+.1%}"
            p = "" if c.p_value is None else f" p={c.p_value:.3g}"
            message = f"{c.kind}:{change}{p} {c.note}".strip()
            checks.append(_case(f"qsbench.regressions.{c.suite}", f"{c.metric}[{c.vendor}:{c.case_id}]",
                                outcome, message, message))
        _suite(root, "regressions", checks, {"run_id": comparison.run_id,
                                             "baseline": comparison.baseline_run_id,
                                             "baseline_run_ids": " ".join(comparison.baseline_run_ids)})
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def write(path: Path, run_id: str, verdicts: list[Verdict], comparison: Comparison | None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(to_xml(run_id, verdicts, comparison))
    return path
