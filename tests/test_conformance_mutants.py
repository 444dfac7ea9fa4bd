"""Mutation tests of the conformance suite: adapters broken on purpose in small ways
(tests/plugins/qsbench_conformance_mutants.py, registered through the plugin path) must each be
caught by pqc_conformance at its default parameters; a mutant that slips through fails the test.
Each is compared with its unbroken base adapter, which must pass the same checks."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from harness.adapters import NotApplicable
from harness.registry import adapter_class, suite_class
from harness.suite import MeasureContext
from suites.pqc_conformance import ConformanceParams

_VERDICTS = ("wycheproof_pass", "reference_agreement", "input_check_ok", "round_trip_ok")

# mutant → (algorithm, base adapter, the checks that must catch it; check/input_check for invalid_input)
MUTANTS = {
    "mutant-rare-wrong-secret": ("ML-KEM-768", "pqclean", {"round_trip", "reference_agreement"}),
    "mutant-no-implicit-rejection": ("ML-KEM-768", "pqclean", {
        "round_trip", "reference_agreement", "wycheproof:mlkem",
        "invalid_input/ciphertext_corrupted_implicit_rejection", "invalid_input/ciphertext_bit_flips"}),
    "mutant-wrong-rejection-value": ("ML-KEM-768", "pqclean", {
        "round_trip", "reference_agreement", "wycheproof:mlkem", "invalid_input/ciphertext_bit_flips"}),
    "mutant-verify-ignores-ctilde-bit": ("ML-DSA-44", "pqclean", {"invalid_input/signature_bit_flips"}),
    "mutant-verify-ignores-z-bit": ("ML-DSA-44", "pqclean", {"invalid_input/signature_bit_flips"}),
    "mutant-verify-ignores-h-bit": ("ML-DSA-44", "pqclean", {"invalid_input/signature_bit_flips"}),
    "mutant-wrong-message": ("ML-DSA-44", "pqclean", {"round_trip", "invalid_input/message_bit_flips"}),
    "mutant-unreduced-ek": ("ML-KEM-768", "openssl", {
        "wycheproof:encaps", "invalid_input/public_key_coefficient_ge_q",
        "invalid_input/public_key_coefficient_ge_q_middle",
        "invalid_input/public_key_coefficient_ge_q_last"}),
}


@cache
def failed_checks(vendor: str, algorithm: str, checks: frozenset[str], tmp_path: Path) -> set[str]:
    """Every check (invalid_input: every input check) with a failing verdict, at default parameters."""
    suite = suite_class("pqc_conformance")()
    wanted = sorted({c.split("/")[0] for c in checks})
    params = ConformanceParams.model_validate({"algorithms": [algorithm], "checks": wanted})
    failed = set()
    for case in suite.cases(params):
        try:
            rows = suite.measure(adapter_class(vendor)(), params, case,
                                 MeasureContext(seed=1, work_dir=tmp_path, timeout_s=600))
        except NotApplicable:
            continue
        for row in rows:
            if row.metric in _VERDICTS and not row.value:
                check = case["check"]
                failed.add(f"{check}/{row.labels['input_check']}" if check == "invalid_input" else check)
    return failed


@pytest.mark.slow  # about 3 minutes on a loaded 2-core machine: every check at its default size
@pytest.mark.parametrize("mutant", sorted(MUTANTS))
def test_every_mutant_is_caught_at_default_parameters_by_the_checks_named(mutant, tmp_path):
    algorithm, base, expected = MUTANTS[mutant]
    caught = failed_checks(mutant, algorithm, frozenset(expected), tmp_path)
    assert expected <= caught, f"{mutant} slipped through {sorted(expected - caught)}"
    assert not expected & failed_checks(base, algorithm, frozenset(expected), tmp_path.parent), \
        f"the unbroken {base} fails a check meant to tell it from {mutant}"
