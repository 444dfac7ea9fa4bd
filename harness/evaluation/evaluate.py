"""One call for the runner and the CLI: verdicts and scorecard of a run directory.

`qsbench run` calls `evaluate(run_dir)` after the last case and exits with
`Evaluation.exit_code`: 1 when any vendor did not meet a mandatory criterion
(a gate that failed, or that had no evidence: n/a), else 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.evaluation.criteria import Verdict, run_verdicts
from harness.evaluation.scorecard import Scorecard, build
from harness.rundata import RunData, load


@dataclass(frozen=True)
class Evaluation:
    run: RunData
    verdicts: tuple[Verdict, ...]
    scorecard: Scorecard | None  # None when the scenario states no criteria

    @property
    def gate_failures(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.gate_failed]

    @property
    def exit_code(self) -> int:
        return 1 if self.gate_failures else 0


def evaluate_run(run: RunData) -> Evaluation:
    criteria = list(run.scenario.criteria) if run.scenario else []
    found = tuple(run_verdicts(run, criteria))
    # Criteria restricted to some vendors are verdicts only; without any other there is no scorecard.
    card = build(list(found), run.scenario.categories) if any(v.criterion.vendors is None for v in found) \
        else None
    return Evaluation(run, found, card)


def evaluate(run_dir: str | Path) -> Evaluation:
    """Verdicts and scorecard of the run in `run_dir` (see the module docstring for the exit code)."""
    return evaluate_run(load(run_dir))
