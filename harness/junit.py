"""JUnit XML so any CI shows the evaluation: one test case per criterion × vendor and per regression check.

Criteria: pass → passed, fail → failure (message says whether it is a mandatory
gate), n/a → skipped with its reason. Regression checks (case × metric against
the baseline): regression or a case that stopped finishing → failure, "too few
samples" → skipped, anything else → passed.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from harness.compare import Comparison
from harness.criteria import Verdict


def _suite(parent: ET.Element, name: str, cases: list[ET.Element]) -> None:
    failures = sum(1 for c in cases if c.find("failure") is not None)
    skipped = sum(1 for c in cases if c.find("skipped") is not None)
    suite = ET.SubElement(parent, "testsuite", name=name, tests=str(len(cases)),
                          failures=str(failures), errors="0", skipped=str(skipped))
    suite.extend(cases)


def _case(classname: str, name: str, outcome: str, message: str, detail: str = "") -> ET.Element:
    case = ET.Element("testcase", classname=classname, name=name, time="0")
    if outcome in ("failure", "skipped"):
        ET.SubElement(case, outcome, message=message).text = detail or None
    if detail and outcome == "passed":
        ET.SubElement(case, "system-out").text = detail
    return case


def to_xml(run_id: str, verdicts: list[Verdict], comparison: Comparison | None) -> bytes:
    root = ET.Element("testsuites", name=f"qsbench {run_id}")
    cases = []
    for v in verdicts:
        crit = v.criterion
        kind = "mandatory gate" if crit.gate else "scored criterion"
        outcome = {"pass": "passed", "fail": "failure", "n/a": "skipped"}[v.outcome]
        message = f"{v.label} ({kind}): {v.reason}"
        detail = f"cases: {', '.join(v.evidence.case_ids)}" if v.evidence.case_ids else ""
        cases.append(_case(f"qsbench.criteria.{crit.category}", f"{crit.id}[{v.vendor}]", outcome,
                           message, f"{message}\n{detail}".strip()))
    _suite(root, "criteria", cases)
    if comparison is not None:
        checks = []
        for c in comparison.changes:
            outcome = ("failure" if c.kind in ("regression", "status") else
                       "skipped" if c.kind == "too few samples" else "passed")
            change = "" if c.change is None else f" change {c.change:+.1%}"
            p = "" if c.p_value is None else f" p={c.p_value:.3g}"
            message = f"{c.kind}:{change}{p} {c.note}".strip()
            checks.append(_case(f"qsbench.regressions.{c.suite}", f"{c.metric}[{c.vendor}:{c.case_id}]",
                                outcome, message, message))
        _suite(root, f"regressions vs {comparison.baseline_run_id}", checks)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def write(path: Path, run_id: str, verdicts: list[Verdict], comparison: Comparison | None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(to_xml(run_id, verdicts, comparison))
    return path
