"""This run against a baseline: a regression must be real AND large, in the bad direction.

The unit of evidence is a repeat, not a sample. Samples inside one worker
process share its state (the host's frequency and neighbours at that moment,
the process's memory layout and caches), so they are not independent evidence
about the code: a test over them calls run-to-run noise a change (p ≈ 1e-49
for two runs of the same code). What varies between runs is what varies
between repeats in separate processes, and between earlier runs of the case.

Cases match by fingerprint; the repeats of one experiment share its
`experiment_id`. For each experiment × metric, what the suite declared decides
how it is judged (`harness.metrics`; nothing is read from the name):

- deterministic metrics (sizes, verdicts, mismatch counts): the value (the mean
  over every sample of every repeat; for a bool, the share that is true) is
  compared with the newest baseline run's exactly. Any move the bad way is a
  regression, with no significance test: `conformant` 1 → 0, `key_mismatches`
  0 → 3 and `ciphertext_bytes` 1088 → 1568 are never noise.
- other metrics: each repeat gives its median. Against one or two baseline runs
  the repeat medians of both sides go into Welch's t-test; against a history of
  three runs or more the run's level (the mean of its repeat medians) is set
  against the earlier runs' levels (conbench's lookback z-score, as a t
  prediction interval with N−1 degrees of freedom), so the run-to-run variance
  measured on this host is the yardstick. A change is flagged when p < alpha
  and |change| > threshold (10 %, per-metric override) and it goes the
  declared bad way; `better: none` changes are reported, never flagged. Fewer
  than two repeats on a side with no history is "too few repeats", never
  "unchanged".
- a timing of an experiment whose repeats broke pyperf's stability rules in
  this run or the newest baseline run (`harness.evaluation.stability`) is "host unstable":
  reported, not flagged.
- a case that was ok in the newest baseline run and now failed, timed out, is
  n/a or is missing from this run entirely is a regression (`status`,
  `case missing`) of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats as sps

from harness.evaluation.criteria_spec import RegressionPolicy
from harness.evaluation.history import repeat_tables, run_repeat_tables, runs
from harness.evaluation.stability import is_timing, judge
from harness.metrics import Declarations
from harness.rundata import RunData, RunDirError, load
from harness.store import CASE_STATUS_METRIC, RunStore
from harness.suite import Metric

FAILING = ("regression", "status", "case missing")
HISTORY_RUNS = 3  # from this many baseline runs on, run-to-run variance comes from the history
HISTORY_DEFAULT = 10  # `--baseline history` without :N


@dataclass(frozen=True)
class Change:
    case_id: str  # the experiment's first repeat (every repeat is in `case_ids`)
    suite: str
    vendor: str
    metric: str
    unit: str
    kind: str  # regression, improvement, change, unchanged, too few repeats, host unstable, status,
    #            case missing, new, missing, undeclared
    n_baseline: int  # repeats (runs, against a history)
    n_current: int  # repeats
    baseline: float | None  # the mean of the baseline's repeat medians (deterministic: the value)
    current: float | None
    change: float | None  # relative change
    p_value: float | None
    note: str = ""
    case_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Comparison:
    run_id: str
    baseline_run_id: str  # one run id, or "history of N runs (first … last)"
    policy: RegressionPolicy
    changes: tuple[Change, ...]
    baseline_run_ids: tuple[str, ...] = ()

    @property
    def regressions(self) -> list[Change]:
        return [c for c in self.changes if c.kind in FAILING]

    @property
    def improvements(self) -> list[Change]:
        return [c for c in self.changes if c.kind == "improvement"]


def _relative(before: float, after: float) -> float | None:
    if before == 0:
        return None if after == 0 else float(np.sign(after) * np.inf)
    return (after - before) / abs(before)


def _direction(declared: Metric, before: float, after: float) -> str:
    if declared.better == "none":
        return "change"
    worse = after < before if declared.better == "higher" else after > before
    return "regression" if worse else "improvement"


def _deterministic(common: dict, declared: Metric, cur: pd.DataFrame, base: pd.DataFrame) -> Change:
    now = float((cur["mean"] * cur["n"]).sum() / cur["n"].sum())
    then = float((base["mean"] * base["n"]).sum() / base["n"].sum())
    common = {**common, "baseline": then, "current": now, "change": _relative(then, now), "p_value": None}
    if abs(now - then) <= 1e-9 * max(1.0, abs(then)):
        return Change(**common, kind="unchanged", note="deterministic: the same value")
    kind = _direction(declared, then, now)
    if kind == "change":
        kind = "regression"  # a deterministic value that should not move did
    return Change(**common, kind=kind, note=f"deterministic: {then:.6g} → {now:.6g}, no significance test")


def _noise_test(cur: np.ndarray, runs_then: list[np.ndarray]) -> tuple[float | None, float, str]:
    """(p or None when there is too little to test, the baseline level, how it was tested)."""
    level_now = float(cur.mean())
    if len(runs_then) >= HISTORY_RUNS:
        levels = np.array([r.mean() for r in runs_then])
        centre, spread = float(levels.mean()), float(levels.std(ddof=1))
        how = f"against {len(levels)} earlier runs' levels (run-to-run sd {spread:.3g})"
        if spread == 0:
            return (1.0 if level_now == centre else 0.0), centre, how
        t = (level_now - centre) / (spread * np.sqrt(1 + 1 / len(levels)))
        return float(2 * sps.t.sf(abs(t), len(levels) - 1)), centre, how
    then = np.concatenate(runs_then)
    centre = float(then.mean())
    how = f"Welch's t over repeat medians, {then.size} vs {cur.size} repeats"
    if then.size < 2 or cur.size < 2:
        return None, centre, how
    if then.std() == 0 and cur.std() == 0:
        return (1.0 if level_now == centre else 0.0), centre, how
    return float(sps.ttest_ind(cur, then, equal_var=False).pvalue), centre, how


def _varying(common: dict, declared: Metric, cur: pd.DataFrame, base: pd.DataFrame,
             policy: RegressionPolicy, unstable: str | None) -> Change:
    now = cur["median"].to_numpy(dtype=float)
    runs_then = [g["median"].to_numpy(dtype=float) for _, g in base.groupby("run_id", sort=False)]
    p, centre, how = _noise_test(now, runs_then)
    level = float(now.mean())
    rel = _relative(centre, level)
    n_then = len(runs_then) if len(runs_then) >= HISTORY_RUNS else sum(r.size for r in runs_then)
    common = {**common, "n_baseline": n_then, "baseline": centre, "current": level, "change": rel,
              "p_value": p}
    if unstable is not None:
        return Change(**common, kind="host unstable", note=f"not judged: {unstable}")
    if p is None:
        return Change(**common, kind="too few repeats",
                      note=f"{how}: a run-to-run variance needs two repeats a side or {HISTORY_RUNS} runs")
    limit = policy.threshold_for(common["metric"])
    large = (rel is None and centre != level) or (rel is not None and abs(rel) > limit)
    if p >= policy.alpha or not large:
        why = f"p={p:.3g}" if p >= policy.alpha else f"|change| within {limit:.0%}"
        return Change(**common, kind="unchanged", note=f"{why}; {how}")
    kind = _direction(declared, centre, level)
    note = how if kind != "change" else f"{how}; {common['metric']} declares no good direction"
    return Change(**common, kind=kind, note=note)


def _status_changes(now: pd.DataFrame, then: pd.DataFrame) -> list[Change]:
    """Cases ok in the newest baseline run that are not ok now or are missing; cases fixed since."""
    now_by_case = now.set_index("case_id")
    changes = []
    for row in then.sort_values(["suite", "vendor", "case_id"]).itertuples():
        common = dict(case_id=row.case_id, suite=row.suite, vendor=row.vendor, metric=CASE_STATUS_METRIC,
                      unit="", n_baseline=0, n_current=0, baseline=None, current=None, change=None,
                      p_value=None, case_ids=(row.case_id,))
        if row.case_id not in now_by_case.index:
            if row.status == "ok":
                changes.append(Change(**common, kind="case missing",
                                      note="ok in the baseline, absent from this run"))
            continue
        status, reason = now_by_case.at[row.case_id, "status"], now_by_case.at[row.case_id, "reason"]
        if (status == "ok") == (row.status == "ok"):
            continue
        why = reason if status != "ok" else f"was {row.status}"
        changes.append(Change(**common, kind="status" if status != "ok" else "improvement",
                              note=f"{row.status} → {status}: {why if isinstance(why, str) else ''}".strip()))
    return changes


def _unstable(repeats: pd.DataFrame, declarations: Declarations) -> dict[tuple[str, str], str]:
    found: dict[tuple[str, str], str] = {}
    for run_id, table in repeats.groupby("run_id", sort=False):
        for u in judge(table, declarations)[0]:
            found.setdefault((u.experiment_id, u.metric), f"{u.reason} in run {run_id}")
    return found


def compare_tables(cur_repeats: pd.DataFrame, cur_status: pd.DataFrame, base_repeats: pd.DataFrame,
                   base_status: pd.DataFrame, newest: str, policy: RegressionPolicy,
                   declarations: Declarations) -> list[Change]:
    """Every change between this run's tables and the baseline runs' (see `history.repeat_tables`).

    `base_repeats` and `base_status` hold every baseline run; `newest` names the newest of them, the
    one statuses, deterministic values and missing metrics are compared with.
    """
    base_status = base_status[base_status["run_id"] == newest]
    changes = _status_changes(cur_status, base_status)
    # This run and the one it is most directly set against; an older unstable night is already
    # part of the run-to-run spread a history measures.
    latest = base_repeats[base_repeats["run_id"] == newest]
    unstable = _unstable(pd.concat([cur_repeats, latest]), declarations)
    keys = ["experiment_id", "suite", "vendor", "metric"]
    then_groups = {k: g for k, g in base_repeats.groupby(keys, sort=True)}
    ok_then = set(base_status.loc[base_status["status"] == "ok", "experiment_id"])
    for key, cur in cur_repeats.groupby(keys, sort=True):
        experiment, suite, vendor, metric = key
        cur = cur.sort_values("repeat")
        common = dict(case_id=str(cur["case_id"].iloc[0]), suite=suite, vendor=vendor, metric=metric,
                      unit=str(cur["unit"].iloc[0]), n_current=len(cur), case_ids=tuple(cur["case_id"]))
        base = then_groups.get(key)
        if base is None:
            if experiment in ok_then:
                changes.append(Change(**common, kind="new", n_baseline=0, baseline=None,
                                      current=float(cur["median"].mean()), change=None, p_value=None,
                                      note="metric new in this run"))
            continue
        declared = declarations.get(suite, metric)
        if declared is None:
            changes.append(Change(**common, kind="undeclared", n_baseline=len(base), baseline=None,
                                  current=None, change=None, p_value=None,
                                  note=f"suite {suite} declares no {metric}: not judged"))
        elif declared.deterministic:
            latest = base[base["run_id"] == newest]
            if latest.empty:  # not measured in the newest baseline run: its latest earlier value
                latest = base[base["run_id"] == base["run_id"].iloc[-1]]
            changes.append(_deterministic({**common, "n_baseline": len(latest)}, declared, cur, latest))
        else:
            why = unstable.get((experiment, metric)) if is_timing(declared) else None
            changes.append(_varying(common, declared, cur, base, policy, why))
    now_ok = set(cur_status.loc[cur_status["status"] == "ok", "experiment_id"])
    measured_now = set(cur_repeats.groupby(keys).groups)
    for key, base in base_repeats[base_repeats["run_id"] == newest].groupby(keys, sort=True):
        if key[0] in now_ok and key not in measured_now:
            changes.append(Change(case_id=str(base["case_id"].iloc[0]), suite=key[1], vendor=key[2],
                                  metric=key[3], unit=str(base["unit"].iloc[0]), kind="missing",
                                  n_baseline=len(base), n_current=0, baseline=float(base["median"].mean()),
                                  current=None, change=None, p_value=None,
                                  note="metric measured in the baseline, not in this run",
                                  case_ids=tuple(base["case_id"])))
    return changes


def compare_rows(current: pd.DataFrame, baseline: pd.DataFrame, policy: RegressionPolicy,
                 run_id: str = "current", baseline_run_id: str = "baseline",
                 declarations: Declarations | None = None) -> Comparison:
    """Compare rows held in memory; `baseline` may hold several runs (told apart by `run_id`)."""
    if declarations is None:
        declarations = Declarations.installed(sorted(set(current["suite"]) | set(baseline["suite"])))
    cur_repeats, cur_status = repeat_tables(current)
    base_repeats, base_status = repeat_tables(baseline)
    order = list(dict.fromkeys(baseline["run_id"]))  # oldest first
    changes = compare_tables(cur_repeats, cur_status, base_repeats, base_status, order[-1], policy,
                             declarations)
    return Comparison(run_id, baseline_run_id, policy, tuple(changes), tuple(order))


def _scenario_runs(run_dir: Path) -> list[Path]:
    """Earlier runs of the same scenario next to `run_dir`, oldest first (manifest start time, then name)."""
    run_dir = Path(run_dir).resolve()
    current = load(run_dir)
    name = current.scenario.name if current.scenario else None
    now = str(current.manifest.get("started") or "")
    index = runs(run_dir.parent)
    found = []
    for row in index.itertuples():
        other = Path(row.run_dir).resolve()
        if other == run_dir or (name is not None and row.scenario != name):
            continue
        if now and row.started > now:
            continue  # a later run is not a baseline for this one
        found.append((row.started, other.name, other))
    return [p for *_, p in sorted(found)]


def latest_baseline(run_dir: Path) -> Path:
    """The newest earlier run of the same scenario next to `run_dir`."""
    found = _scenario_runs(run_dir)
    if not found:
        raise RunDirError(f"no earlier run of this scenario next to {Path(run_dir).resolve()}")
    return found[-1]


def resolve_baseline(run_dir: Path, spec: str) -> list[Path]:
    """`latest`, `history`, `history:N` (the last N earlier runs of the scenario) or a run directory."""
    if spec == "latest":
        return [latest_baseline(run_dir)]
    if spec == "history" or spec.startswith("history:"):
        count = spec.partition(":")[2] or str(HISTORY_DEFAULT)
        if not count.isdigit() or int(count) < 1:
            raise RunDirError(f"--baseline {spec}: write history:N with N a whole number of runs ≥ 1")
        found = _scenario_runs(run_dir)[-int(count):]
        if not found:
            raise RunDirError(f"no earlier run of this scenario next to {Path(run_dir).resolve()}")
        return found
    return [Path(spec)]


def compare(current: RunData, baseline: RunData | Sequence[Path], policy: RegressionPolicy | None = None
            ) -> Comparison:
    """`baseline`: one run, or run directories oldest first (a history, read with DuckDB)."""
    if policy is None:
        policy = current.scenario.regression if current.scenario else RegressionPolicy()
    # Aggregated to repeats by DuckDB over the Parquet parts: memory grows with repeats, not samples.
    cur_repeats, cur_status = run_repeat_tables([current.run_dir])
    if isinstance(baseline, RunData):
        manifests = [baseline.manifest]
        order = [baseline.run_id]
        base_repeats, base_status = run_repeat_tables([baseline.run_dir])
    else:
        dirs = [Path(d) for d in baseline]
        if not dirs:
            raise RunDirError("no baseline runs to compare with")
        manifests = [RunStore(d).manifest for d in dirs]
        order = [str(m.get("run_id") or d.name) for m, d in zip(manifests, dirs, strict=True)]
        base_repeats, base_status = run_repeat_tables(dirs)
    label = order[0] if len(order) == 1 else f"history of {len(order)} runs ({order[0]} … {order[-1]})"
    suites = sorted(set(cur_status["suite"]) | set(base_status["suite"]))
    # What the run's own suites declared; a run older than declarations takes the newest baseline's.
    declarations = Declarations.of_run(current.manifest if current.manifest.get("metrics") else manifests[-1],
                                       suites)
    changes = compare_tables(cur_repeats, cur_status, base_repeats, base_status, order[-1], policy,
                             declarations)
    return Comparison(current.run_id, label, policy, tuple(changes), tuple(order))
