"""Was the host steady enough to judge a run's timings? pyperf's rules, applied to repeats.

A run's timings (metrics whose declared unit is a time, not deterministic) are
judged per experiment on the statistic a comparison uses for them, each
repeat's 10th percentile (`harness.evaluation.compare`), over its repeats, each
measured in a worker process of its own:

- their standard deviation is 10 % of their mean or more (pyperf warns "the
  standard deviation is N % of the mean" at 10 %);
- or one repeat lies 50 % or more away from their mean (pyperf's
  minimum/maximum outlier rule).

Either makes that experiment's timing unstable. The run is marked so. As in
pyperf and asv this is a warning, not a veto: a comparison involving it says
"host unstable" only where it is inconclusive (the interval of the change holds
the threshold), and judges a change whose interval clears it. The rules look at
every repeat, the disturbed ones a comparison sets aside included: they say what
the host did. An experiment with
a single repeat cannot be judged (there is no spread between processes to
look at) and is counted as unjudged. The host state the manifest records at
the start and the end (load, runnable processes, frequencies) is the context a
reader needs to see why.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.evaluation import units
from harness.evaluation.history import run_repeat_tables
from harness.metrics import Declarations

STDEV_LIMIT = 0.10  # of the mean of the repeat medians
OUTLIER_LIMIT = 0.50  # a repeat median this far from their mean


@dataclass(frozen=True)
class Unstable:
    experiment_id: str
    suite: str
    vendor: str
    metric: str
    reason: str


def is_timing(declaration) -> bool:
    if declaration is None or declaration.deterministic or not units.known(declaration.unit):
        return False
    return units.unit(declaration.unit).dimension == "time"


def rule_broken(values: np.ndarray) -> str | None:
    """pyperf's two rules on one experiment's repeat statistics; None when both hold."""
    if values.size < 2:
        return None
    mean = float(values.mean())
    if mean <= 0:
        return None
    spread = float(values.std(ddof=1)) / mean
    if spread >= STDEV_LIMIT:
        return (f"the repeats' standard deviation is {spread:.0%} of their mean "
                f"({values.size} repeats; unstable from {STDEV_LIMIT:.0%})")
    worst = float(np.abs(values - mean).max()) / mean
    if worst >= OUTLIER_LIMIT:
        return f"one repeat is {worst:.0%} away from the mean of the {values.size} repeats"
    return None


def judge(repeats: pd.DataFrame, declarations: Declarations) -> tuple[list[Unstable], int, int]:
    """(unstable experiments × timings, how many were judged, how many could not be: one repeat).

    `repeats` is one run's table from `harness.evaluation.history.repeat_tables`.
    """
    unstable: list[Unstable] = []
    judged = unjudged = 0
    for (experiment, suite, vendor, metric), group in repeats.groupby(
            ["experiment_id", "suite", "vendor", "metric"], sort=True):
        if not is_timing(declarations.get(suite, metric)):
            continue
        if len(group) < 2:
            unjudged += 1
            continue
        judged += 1
        if reason := rule_broken(group["low"].to_numpy(dtype=float)):
            unstable.append(Unstable(experiment, suite, vendor, metric, reason))
    return unstable, judged, unjudged


def summary(repeats: pd.DataFrame, declarations: Declarations) -> dict:
    """The manifest's `stability` block."""
    unstable, judged, unjudged = judge(repeats, declarations)
    return {"rules": f"per experiment, over its repeats' 10th percentiles: standard deviation < "
                     f"{STDEV_LIMIT:.0%} "
                     f"of the mean and every repeat within {OUTLIER_LIMIT:.0%} of it (pyperf)",
            "stable": not unstable, "judged": judged, "unjudged_single_repeat": unjudged,
            "unstable": [vars(u) for u in unstable]}


def of_run(run_dir: Path, manifest: dict[str, Any]) -> dict:
    """The `stability` block for a stored run, judged by the declarations its manifest keeps."""
    return summary(run_repeat_tables([run_dir])[0], Declarations.of_run(manifest))


def warning(block: dict) -> str | None:
    """One line for the console when the run is unstable."""
    if block["stable"]:
        return None
    first = block["unstable"][0]
    return (f"host unstable: {len(block['unstable'])} timing(s) spread beyond pyperf's rules across their "
            f"repeats (e.g. {first['suite']}/{first['vendor']} {first['metric']}: {first['reason']}); "
            "comparisons judge only changes that stand out of that noise")
