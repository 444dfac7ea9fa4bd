"""The shipped QKD pilot scenario validates and plans; every QKD suite and adapter is registered."""

from __future__ import annotations

from pathlib import Path

from harness.plan import plan
from harness.registry import adapter_class, suite_class
from harness.scenario import load_scenario

PILOT = Path(__file__).resolve().parent.parent / "suites" / "scenarios" / "qkd-link-pilot.yaml"


def test_pilot_scenario_plans_every_qkd_suite_for_both_vendors():
    cases = plan(load_scenario(PILOT))
    suites = {c.suite for c in cases}
    assert suites == {"key_rate", "distance_limit", "eavesdropping", "key_delivery", "etsi014_conformance",
                      "key_quality"}
    assert {c.vendor for c in cases} == {"vendor-a", "vendor-b"}
    assert {c.params["distance_km"] for c in cases if c.suite == "key_rate"} == {40.0, 50.0, 60.0}


def test_qkd_plugins_are_registered_through_entry_points():
    for name in ("key_rate", "distance_limit", "eavesdropping", "key_delivery", "etsi014_conformance",
                 "key_quality"):
        assert suite_class(name).name == name
    assert adapter_class("simulated_qkd").name == "simulated_qkd"
    assert adapter_class("etsi014").name == "etsi014"
