"""The shipped scenarios' evaluation blocks (criteria, categories, regression policy) are valid.

Suite parameters are validated by `qsbench validate` once every suite is installed; this test
checks only what the evaluation reads, so it holds whichever suites this checkout has.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from harness.evaluation import criteria_spec
from harness.registry import suite_class
from harness.scenario import Scenario

SCENARIOS = sorted((Path(__file__).resolve().parent.parent / "suites" / "scenarios").glob("*.yaml"))
EVALUATED = {"pilot_dci.yaml", "qkd_procurement.yaml", "pqc_procurement.yaml", "nightly_lab.yaml"}


def test_the_four_evaluation_scenarios_are_shipped():
    assert {p.name for p in SCENARIOS} >= EVALUATED


@pytest.mark.parametrize("path", [p for p in SCENARIOS if p.name in EVALUATED], ids=lambda p: p.name)
def test_criteria_are_consistent(path):
    scenario = Scenario.model_validate(yaml.safe_load(path.read_text()))
    assert scenario.criteria, "an evaluation scenario states its criteria"
    assert any(c.gate for c in scenario.criteria)
    problems = criteria_spec.check(list(scenario.criteria), scenario.categories,
                                   [v.name for v in scenario.vendors],
                                   {s.suite: suite_class(s.suite).metrics for s in scenario.suites})
    assert problems == []
