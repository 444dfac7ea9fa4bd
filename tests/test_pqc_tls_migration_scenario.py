"""The shipped example scenario suites/scenarios/pqc-tls-migration.yaml is valid and its criteria
select cases that the scenario actually runs (a criterion matching nothing would silently score 0)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from harness.registry import suite_class
from harness.scenario import load_scenario

SCENARIO = Path(__file__).resolve().parent.parent / "suites" / "scenarios" / "pqc-tls-migration.yaml"


@pytest.fixture(scope="module")
def data():
    return yaml.safe_load(SCENARIO.read_text())


def _cases_by_suite(data):
    cases: dict[str, list[dict]] = {}
    for entry in data["suites"]:
        suite = suite_class(entry["suite"])()
        params = suite.Params.model_validate(entry.get("params", {}))
        cases.setdefault(entry["suite"], []).extend(suite.cases(params))
    return cases


def test_every_suite_block_validates_and_covers_the_paper_grid(data):
    cases = _cases_by_suite(data)
    tls = cases["tls_handshake"]
    assert {c["rtt_ms"] for c in tls} >= {0.0, 5.6, 31.1, 78.7, 195.7}
    assert {c["loss_pct"] for c in tls} >= {0.0, 1.0, 3.0}
    assert {"X25519", "X25519MLKEM768", "MLKEM768"} <= {c["group"] for c in tls}
    assert {"ECDSA-P256", "ML-DSA-44", "ML-DSA-65"} <= {c["cert"] for c in tls}
    assert any(c["group"] != c["server_group"] for c in tls), "the HelloRetryRequest variant is missing"


def _matches(case: dict, where: dict) -> bool:
    return all(case.get(k) in (v if isinstance(v, list) else [v]) for k, v in where.items())


def test_every_criterion_selects_cases_the_scenario_runs(data):
    cases = _cases_by_suite(data)
    for criterion in data["criteria"]:
        suite = criterion.get("suite")
        pool = cases[suite] if suite else [c for cs in cases.values() for c in cs]
        where = criterion.get("where", {})
        assert any(_matches(c, where) for c in pool), f"criterion {criterion['id']} selects no case"


def test_the_whole_scenario_validates_with_its_criteria():
    loaded = load_scenario(SCENARIO)
    assert loaded.scenario.name == "pqc-tls-migration"
