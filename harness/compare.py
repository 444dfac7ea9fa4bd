"""This run against a baseline: a regression must be significant AND large, in the bad direction.

Cases match by fingerprint (`case_id`), which depends only on what a case
measures, so the same case in two runs is the same experiment. For each case ×
metric the samples of both runs go into a two-sided Mann–Whitney U test; the
change is the relative difference of the medians. A change is flagged when
p < alpha (default 0.01) and |change| > threshold (default 10 %, per-metric
override), as a regression when it goes the metric's bad way
(`harness.metrics.higher_is_better`) and an improvement otherwise. When the
metric's direction is unknown the change is reported but not flagged.

Too few samples are handled honestly: with n and m samples the smallest
two-sided p the exact test can give is 2 / C(n+m, n); when that is not below
alpha no difference could ever be called significant, and the pair is reported
as "too few samples", not as unchanged. A case that was ok in the baseline and
did not finish now is a regression of its own kind (`status`).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import comb, lgamma, log
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import mannwhitneyu

from harness.criteria_spec import RegressionPolicy
from harness.metrics import higher_is_better
from harness.rundata import RunData, RunDirError, chunks, load
from harness.store import CASE_STATUS_METRIC, MANIFEST

FLAGGED = ("regression", "improvement")


@dataclass(frozen=True)
class Change:
    case_id: str
    suite: str
    vendor: str
    metric: str
    unit: str
    kind: str  # regression, improvement, change, unchanged, too few samples, status, new, missing
    n_baseline: int
    n_current: int
    baseline: float | None  # median
    current: float | None
    change: float | None  # relative change of the median
    p_value: float | None
    note: str = ""


@dataclass(frozen=True)
class Comparison:
    run_id: str
    baseline_run_id: str
    policy: RegressionPolicy
    changes: tuple[Change, ...]

    @property
    def regressions(self) -> list[Change]:
        return [c for c in self.changes if c.kind in ("regression", "status")]

    @property
    def improvements(self) -> list[Change]:
        return [c for c in self.changes if c.kind == "improvement"]


def smallest_p(n: int, m: int) -> float:
    """Smallest two-sided p-value an exact Mann–Whitney U test can reach with n and m samples."""
    if not (n and m):
        return 1.0
    # log C(n+m, n) first: the exact binomial of a million samples takes seconds to build
    if lgamma(n + m + 1) - lgamma(n + 1) - lgamma(m + 1) > 300 * log(10):
        return 0.0  # beyond float range: effectively zero
    return min(1.0, 2.0 / comb(n + m, n))


def _relative(before: float, after: float) -> float | None:
    if before == 0:
        return None if after == 0 else float(np.sign(after) * np.inf)
    return (after - before) / abs(before)


def _compare_metric(key: tuple, base: np.ndarray, cur: np.ndarray, unit: str,
                    policy: RegressionPolicy) -> Change:
    case_id, suite, vendor, metric = key
    mb, mc = float(np.median(base)), float(np.median(cur))
    rel = _relative(mb, mc)
    common = dict(case_id=case_id, suite=suite, vendor=vendor, metric=metric, unit=unit,
                  n_baseline=base.size, n_current=cur.size, baseline=mb, current=mc, change=rel)
    floor = smallest_p(base.size, cur.size)
    if floor >= policy.alpha:
        return Change(**common, kind="too few samples", p_value=None,
                      note=f"n={base.size} vs {cur.size}: the smallest possible p is {floor:.3g}, "
                           f"not below alpha {policy.alpha}")
    if np.array_equal(np.unique(base), np.unique(cur)) and np.unique(base).size == 1:
        return Change(**common, kind="unchanged", p_value=1.0)
    p = float(mannwhitneyu(cur, base, alternative="two-sided").pvalue)
    limit = policy.threshold_for(metric)
    large = (rel is None and mb != mc) or (rel is not None and abs(rel) > limit)
    if p >= policy.alpha or not large:
        why = f"p={p:.3g}" if p >= policy.alpha else f"|change| within {limit:.0%}"
        return Change(**common, kind="unchanged", p_value=p, note=why)
    better_high = higher_is_better(metric)
    if better_high is None:
        return Change(**common, kind="change", p_value=p,
                      note=f"direction of {metric} unknown: reported, not flagged")
    worse = (mc < mb) if better_high else (mc > mb)
    return Change(**common, kind="regression" if worse else "improvement", p_value=p)


def compare_rows(current: pd.DataFrame, baseline: pd.DataFrame, policy: RegressionPolicy,
                 run_id: str = "current", baseline_run_id: str = "baseline") -> Comparison:
    keys = ["case_id", "suite", "vendor", "metric"]
    status_now = current.drop_duplicates("case_id").set_index("case_id")["status"]
    status_then = baseline.drop_duplicates("case_id").set_index("case_id")["status"]
    changes: list[Change] = []
    for case_id in sorted(set(status_now.index) & set(status_then.index)):
        now, then = status_now[case_id], status_then[case_id]
        if (now == "ok") != (then == "ok"):
            row = current[current["case_id"] == case_id].iloc[0]
            reason = row["reason"] if now != "ok" else f"was {then}"
            changes.append(Change(case_id, row["suite"], row["vendor"], CASE_STATUS_METRIC, "",
                                  "status" if now != "ok" else "improvement", 0, 0, None, None, None,
                                  None, f"{then} → {now}: {reason}"))
    ok_now = current[(current["status"] == "ok") & current["value"].notna()]
    ok_then = baseline[(baseline["status"] == "ok") & baseline["value"].notna()]
    groups_then = {k: g for k, g in ok_then.groupby(keys, sort=True)}
    for key, group in ok_now.groupby(keys, sort=True):
        unit = str(group["unit"].iloc[0])
        if key not in groups_then:
            if key[0] in status_then.index and status_then[key[0]] == "ok":
                changes.append(Change(*key, unit, "new", 0, len(group), None,
                                      float(group["value"].median()), None, None, "metric new in this run"))
            continue
        base = groups_then[key]["value"].to_numpy(dtype=float)
        changes.append(_compare_metric(key, base, group["value"].to_numpy(dtype=float), unit, policy))
    missing = set(groups_then) - set(ok_now.groupby(keys).groups)
    for key in sorted(missing):
        if key[0] in status_now.index and status_now[key[0]] == "ok":
            changes.append(Change(*key, str(groups_then[key]["unit"].iloc[0]), "missing",
                                  len(groups_then[key]), 0, float(groups_then[key]["value"].median()),
                                  None, None, None, "metric measured in the baseline, not in this run"))
    return Comparison(run_id, baseline_run_id, policy, tuple(changes))


def latest_baseline(run_dir: Path) -> Path:
    """The newest earlier run of the same scenario next to `run_dir` (by manifest start time, then name)."""
    run_dir = Path(run_dir).resolve()
    current = load(run_dir)
    name = current.scenario.name if current.scenario else None
    now = str(current.manifest.get("started") or "")
    candidates = []
    for other in run_dir.parent.iterdir():
        if other.resolve() == run_dir or not (other / MANIFEST).is_file():
            continue
        try:
            data = load(other)
        except Exception:  # a broken neighbour is not a baseline
            continue
        if name is not None and (data.scenario is None or data.scenario.name != name):
            continue
        stamp = str(data.manifest.get("started") or "")
        if now and stamp > now:
            continue  # a later run is not a baseline for this one
        candidates.append((stamp, other.name, other))
    if not candidates:
        raise RunDirError(f"no earlier run of scenario {name!r} next to {run_dir}")
    return max(candidates)[2]


def compare(current: RunData, baseline: RunData, policy: RegressionPolicy | None = None) -> Comparison:
    if policy is None:
        policy = current.scenario.regression if current.scenario else RegressionPolicy()
    # Case by case (every key starts with case_id), a chunk of cases at a time: memory grows with
    # the largest chunk, not with the runs (harness.rundata.chunks).
    columns = ["case_id", "suite", "vendor", "status", "reason", "metric", "value", "unit"]
    changes: list[Change] = []
    for now, then in chunks(current, baseline):
        part = compare_rows(current.case_frames(now, columns), baseline.case_frames(then, columns), policy)
        changes += part.changes
    return Comparison(current.run_id, baseline.run_id, policy, tuple(changes))
