"""Expand a scenario into cases: suite entry × vendor × case parameters × repeat.

Each case has a fingerprint (`case_id`) that depends only on what the case
measures (suite and its validated params, vendor and its adapter options,
case parameters, repeat), not on the run or its seed, so the same case matches across runs for comparison and
`--resume` can tell which cases are already on disk. `experiment_id` is the
same fingerprint without the repeat: the repeats of one experiment share it.

The plan is ordered repeat by repeat (every experiment's repeat 0, then every
repeat 1, …), so the repeats of one experiment are spread over the run and a
slow drift of the host (frequency, neighbours, heat) touches all of them alike
instead of shifting one experiment's repeats together.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from harness.registry import suite_class
from harness.scenario import LoadedScenario


@dataclass(frozen=True)
class Case:
    case_id: str
    suite: str
    suite_index: int  # position in scenario.suites, to find its validated params
    vendor: str
    adapter: str
    params: dict[str, Any] = field(hash=False)
    repeat: int
    timeout_s: float
    seed: int
    experiment_id: str  # shared by the repeats of one experiment


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def fingerprint(suite: str, suite_params: dict, vendor: str, adapter: str, options: dict, params: dict,
                repeat: int | None) -> str:
    key = _canonical({"suite": suite, "suite_params": suite_params, "vendor": vendor, "adapter": adapter,
                      "options": options, "params": params, "repeat": repeat})
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def case_seed(run_seed: int, case_id: str) -> int:
    digest = hashlib.sha256(f"{run_seed}:{case_id}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1  # fits numpy's and numba's int64 seeds


def plan(loaded: LoadedScenario, seed: int | None = None) -> list[Case]:
    """All cases of the scenario; `seed` overrides the scenario's run seed."""
    scenario = loaded.scenario
    run_seed = scenario.seed if seed is None else seed
    cases: list[Case] = []
    for index, (run, params) in enumerate(zip(scenario.suites, loaded.params, strict=True)):
        suite = suite_class(run.suite)()
        vendor_names = run.vendors or [v.name for v in scenario.vendors]
        timeout = run.timeout_s or scenario.timeout_s
        for base_params in suite.cases(params):
            for vendor_name in vendor_names:
                spec = scenario.vendor(vendor_name)
                peers = [p for p in vendor_names if p != vendor_name] if suite.pairwise else [None]
                for peer, repeat in ((p, r) for p in peers for r in range(run.repeats)):
                    case_params = base_params if peer is None else {**base_params, "peer": peer}
                    what = (run.suite, params.model_dump(mode="json"), spec.name, spec.adapter_name,
                            spec.options, case_params)
                    case_id = fingerprint(*what, repeat)
                    cases.append(Case(case_id, run.suite, index, spec.name, spec.adapter_name,
                                      dict(case_params), repeat, timeout, case_seed(run_seed, case_id),
                                      fingerprint(*what, None)))
    seen: set[str] = set()
    for case in cases:
        if case.case_id in seen:
            raise ValueError(f"two cases share fingerprint {case.case_id} ({case.suite}/{case.vendor}): "
                             "the scenario lists the same suite entry twice")
        seen.add(case.case_id)
    return sorted(cases, key=lambda c: c.repeat)  # stable: planned order within each repeat


def param_columns(cases: list[Case]) -> dict[str, str]:
    """Column name → 'float64' | 'bool' | 'string' for every case parameter in the plan."""
    kinds: dict[str, set[str]] = {}
    for case in cases:
        for key, value in case.params.items():
            kind = ("bool" if isinstance(value, bool) else
                    "float64" if isinstance(value, int | float) else "string")
            kinds.setdefault(key, set()).add(kind)
    return {k: (v.pop() if len(v) == 1 else "string") for k, v in sorted(kinds.items())}
