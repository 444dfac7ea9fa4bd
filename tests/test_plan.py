from __future__ import annotations

from harness.plan import param_columns, plan
from harness.scenario import parse_scenario

SCENARIO = """\
name: p
seed: {seed}
vendors: [toy, {{name: other, adapter: toy, options: {{keygen_sleep_s: 0.01}}}}]
suites:
  - suite: keygen_timing
    repeats: 3
    params: {{algorithms: [TOY-KEM, TOY-KEM-2]}}
"""


def load(seed: int = 1):
    return parse_scenario(SCENARIO.format(seed=seed))


def test_plan_expands_params_vendors_and_repeats():
    cases = plan(load())
    assert len(cases) == 2 * 2 * 3
    assert {(c.vendor, c.params["algorithm"], c.repeat) for c in cases} == {
        (v, a, r) for v in ("toy", "other") for a in ("TOY-KEM", "TOY-KEM-2") for r in range(3)}
    assert len({c.case_id for c in cases}) == len(cases)
    assert all(c.timeout_s == 300 for c in cases)


def test_fingerprints_are_stable_and_independent_of_the_run_seed():
    a, b = plan(load(seed=1)), plan(load(seed=2))
    assert [c.case_id for c in a] == [c.case_id for c in b]
    assert [c.seed for c in a] != [c.seed for c in b]
    assert [c.seed for c in plan(load(seed=1), seed=2)] == [c.seed for c in b]


def test_vendor_options_change_the_fingerprint():
    cases = plan(load())
    toy = {(c.params["algorithm"], c.repeat): c.case_id for c in cases if c.vendor == "toy"}
    other = {(c.params["algorithm"], c.repeat): c.case_id for c in cases if c.vendor == "other"}
    assert not set(toy.values()) & set(other.values())


def test_param_columns_types():
    cases = plan(load())
    assert param_columns(cases) == {"algorithm": "string"}
