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
- other metrics: each repeat gives one statistic. For a timing (a declared unit
  of time) it is the repeat's 10th percentile: a busy host only ever adds time
  to a call, so the fast calls show the code and the slow ones the neighbours
  (the reason BenchmarkTools.jl compares minimums, Chen & Revels 2016); a
  slowdown of every call moves it as much as the median. Other metrics keep the
  median.
- a busy host slows whole processes too, and only ever slows them: measured on
  a shared 2-core VM, every call of a repeat, its fastest included, ran slower
  together, in steps of about 2.5 % (as a clock in 100 MHz bins near 4 GHz
  would; the VM does not show its frequency), and one run of the same code had
  7 of 10 repeats 8–14 % slow. So the fast repeats of a run show the code: from
  five repeats on, a timing's repeat slower than the run's second fastest by
  more than 3.5 robust standard deviations of undisturbed repeats is
  *disturbed*, set aside and counted in the note. The scale (1.4826 × MAD /
  median, at least 1 %) is pooled over every compared run's repeats, each from
  its own run's median: a run mostly slowed cannot show its own undisturbed
  spread, and pooled, the median deviation is an undisturbed one while fewer
  than half of all repeats are disturbed. A screen centred on the run's median
  (Iglewicz and Hoaglin's modified z-score, used before) kept that slow
  majority and set the fast repeats aside: the same code came out an 8.5 %
  regression, and a planted slowdown against that run was hidden. Non-timings
  keep every repeat: their spread (a Monte Carlo key rate) is the physics, not
  the host.
- against one or two baseline runs the kept repeats of both sides go into
  Welch's t-test; against a history of three runs or more the run's level (the
  mean of its kept repeats) is set against the earlier runs' levels (conbench's
  lookback z-score, as a t prediction interval with N−1 degrees of freedom), so
  the run-to-run variance measured on this host is the yardstick. Either gives
  the (1 − alpha) interval of the change.
- the change is judged on that interval against the threshold (10 %,
  per-metric override), not on p against zero: beyond it wholly (the interval's
  near end past +threshold or −threshold) it is a regression or improvement by
  the declared good direction (`better: none`: "change", reported, never
  flagged); wholly within ±threshold it is "unchanged"; holding the threshold it
  is neither. Why not p < alpha and the point change beyond the threshold: two
  runs' repeats measure the spread inside each run, never how far the host moved
  between the runs (a clock a bin or two lower for a whole run shifts every
  repeat alike: Welch's p < alpha in 5 of 28 pairs of runs of the same code
  measured here, by 1–2 %), so a shift just past the threshold was flagged
  about half the time. Asking the interval
  to clear the threshold makes the threshold the allowance for that shift: a
  shift up to it is flagged with probability at most alpha / 2. The price is
  resolution: a change must stand clear of the threshold by the interval's
  half-width (on this host, 10 repeats a side: 1–2 %). A history measures the
  shift itself, and its interval includes it.
- neither judged nor unchanged is "host unstable" where a history is that
  spread or a run's timing broke pyperf's stability rules
  (`harness.evaluation.stability`, this run or the newest baseline run), and
  "too few repeats" otherwise (more repeats narrow the interval); the note gives
  the interval. Instability is a warning, as in pyperf and asv, never a veto: a
  change whose interval clears the threshold is judged however unstable the
  host, and a 30 % slowdown on a host with 12 % spread is still a regression.
  Fewer than two repeats on a side with no history is "too few repeats", never
  "unchanged".
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
    baseline: float | None  # the baseline's level: the mean of its kept repeat statistics (10th
    #                         percentiles for timings, medians otherwise); deterministic: the value
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


DISTURBED_Z = 3.5  # robust standard deviations slower than the fast repeats: a disturbed repeat
DISTURBED_FLOOR = 0.01  # relative spread: repeats within 3.5 % of the fast ones are never disturbed
TRIM_FROM = 5  # repeats: fewer cannot tell a disturbed one from the rest


def _deviations(values: np.ndarray) -> np.ndarray:
    """|repeat − the run's median| / median; for an odd count less the median's own 0, which is
    no evidence of spread (with five repeats it would be a fifth of them)."""
    centre = float(np.median(values))
    found = np.sort(np.abs(values - centre)) / centre
    return found[1:] if values.size % 2 else found


def _spread(runs: Sequence[np.ndarray]) -> float | None:
    """1.4826 × the median relative deviation of repeats from their run's median, pooled over
    `runs`; None where no run has enough repeats to tell."""
    deviations = [_deviations(r) for r in runs if r.size >= TRIM_FROM and np.median(r) > 0]
    return 1.4826 * float(np.median(np.concatenate(deviations))) if deviations else None


def steady_spread(now: np.ndarray, runs_then: Sequence[np.ndarray]) -> float:
    """How far undisturbed repeats spread (relative), at least the floor.

    The compared runs are the same code, or code shifted as a whole: undisturbed, their repeats
    spread alike. Pooled over every compared run, the median deviation is an undisturbed one as
    long as fewer than half of all repeats were disturbed, even where most of one run's were: that
    run alone cannot show its undisturbed spread (its MAD is the busy spread's), and the steadier
    of two runs of five repeats is often the few that happen to agree.
    """
    pooled = _spread([now, *runs_then])
    return max(pooled if pooled is not None else DISTURBED_FLOOR, DISTURBED_FLOOR)


def undisturbed(values: np.ndarray, spread: float) -> np.ndarray:
    """One run's repeat timings less those a busy host slowed (see the docstring).

    A host only ever slows a process (a lower clock, lost time slices, shared caches), so the
    run's fast repeats show the code; one slower than the second fastest by more than
    `DISTURBED_Z` × `spread` (relative) is disturbed. The second fastest, not the fastest, so one
    process that a lucky memory layout made fast does not set the bar alone.
    """
    if values.size < TRIM_FROM:
        return values
    anchor = float(np.sort(values)[1])
    if anchor <= 0:
        return values
    return values[values <= anchor * (1 + DISTURBED_Z * spread)]


@dataclass(frozen=True)
class _Test:
    p: float | None  # None: too little to test
    centre: float  # the baseline's level
    low: float | None  # the (1 − alpha) interval of the change (current − baseline), in the metric's unit
    high: float | None
    how: str

    def relative(self) -> tuple[float, float]:
        """The interval of the change relative to the baseline's level (signed infinities from 0)."""
        assert self.low is not None and self.high is not None
        if self.centre != 0:
            return self.low / abs(self.centre), self.high / abs(self.centre)
        return float(np.sign(self.low) * np.inf), float(np.sign(self.high) * np.inf)


def _noise_test(cur: np.ndarray, runs_then: list[np.ndarray], alpha: float) -> _Test:
    level_now = float(cur.mean())
    if len(runs_then) >= HISTORY_RUNS:
        levels = np.array([r.mean() for r in runs_then])
        centre, spread = float(levels.mean()), float(levels.std(ddof=1))
        how = f"against {len(levels)} earlier runs' levels (run-to-run sd {spread:.3g})"
        scale = spread * np.sqrt(1 + 1 / len(levels))
        half = float(sps.t.ppf(1 - alpha / 2, len(levels) - 1) * scale)
        low, high = level_now - centre - half, level_now - centre + half
        if spread == 0:
            return _Test(1.0 if level_now == centre else 0.0, centre, low, high, how)
        t = (level_now - centre) / scale
        return _Test(float(2 * sps.t.sf(abs(t), len(levels) - 1)), centre, low, high, how)
    then = np.concatenate(runs_then)
    centre = float(then.mean())
    how = f"Welch's t over repeats, {then.size} vs {cur.size}"
    if then.size < 2 or cur.size < 2:
        return _Test(None, centre, None, None, how)
    if then.std() == 0 and cur.std() == 0:
        same = 1.0 if level_now == centre else 0.0
        return _Test(same, centre, level_now - centre, level_now - centre, how)
    result = sps.ttest_ind(cur, then, equal_var=False)
    low, high = result.confidence_interval(1 - alpha)
    return _Test(float(result.pvalue), centre, float(low), float(high), how)


def _varying(common: dict, declared: Metric, cur: pd.DataFrame, base: pd.DataFrame,
             policy: RegressionPolicy, unstable: str | None) -> Change:
    timing = is_timing(declared)
    column = "low" if timing else "median"
    now = cur[column].to_numpy(dtype=float)
    runs_then = [g[column].to_numpy(dtype=float) for _, g in base.groupby("run_id", sort=False)]
    set_aside = 0
    if timing:  # non-timings (a key rate from seeded Monte Carlo repeats) keep every repeat
        spread = steady_spread(now, runs_then)
        kept = [undisturbed(r, spread) for r in (now, *runs_then)]
        set_aside = sum(r.size - k.size for r, k in zip((now, *runs_then), kept, strict=True))
        now, runs_then = kept[0], kept[1:]
    test = _noise_test(now, runs_then, policy.alpha)
    level = float(now.mean())
    rel = _relative(test.centre, level)
    n_then = len(runs_then) if len(runs_then) >= HISTORY_RUNS else sum(r.size for r in runs_then)
    common = {**common, "n_baseline": n_then, "baseline": test.centre, "current": level, "change": rel,
              "p_value": test.p}
    what = "repeat 10th percentiles" if timing else "repeat medians"
    how = f"{what}; {test.how}" + (f"; {set_aside} disturbed repeat(s) set aside" if set_aside else "")
    if test.p is None:
        return Change(**common, kind="too few repeats",
                      note=f"{how}: a run-to-run variance needs two repeats a side or {HISTORY_RUNS} runs")
    limit = policy.threshold_for(common["metric"])
    low, high = test.relative()
    interval = (f"{1 - policy.alpha:.0%} interval of the change {low:+.1%} to {high:+.1%}"
                if np.isfinite(low) and np.isfinite(high) else "the baseline is 0")
    # A change is judged on its interval against the threshold, not on p against 0: two runs'
    # repeats measure the spread inside each run, never how far the host moved between them.
    if low > limit or high < -limit:
        kind = _direction(declared, test.centre, level)
        note = f"{interval}, beyond ±{limit:.0%}; p={test.p:.3g}; {how}"
        if kind == "change":
            note += f"; {common['metric']} declares no good direction"
        return Change(**common, kind=kind, note=note)
    if -limit <= low and high <= limit:
        return Change(**common, kind="unchanged", note=f"{interval}, within ±{limit:.0%}; {how}")
    # Neither: this comparison shows neither a change beyond the threshold nor its absence.
    seen = f"{interval} holds the ±{limit:.0%} threshold; {how}"
    if len(runs_then) >= HISTORY_RUNS:  # the spread is the host's from night to night
        return Change(**common, kind="host unstable", note=seen)
    if unstable is not None:
        return Change(**common, kind="host unstable", note=f"{seen}; {unstable}")
    return Change(**common, kind="too few repeats", note=f"{seen}: more repeats would resolve it")


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


def history_count(spec: str) -> int | None:
    """N of `history` (the default) or `history:N`; None for any other baseline. Raises ValueError."""
    if spec != "history" and not spec.startswith("history:"):
        return None
    count = spec.partition(":")[2] or str(HISTORY_DEFAULT)
    if not count.isdigit() or int(count) < 1:
        raise ValueError(f"--baseline {spec}: write history:N with N a whole number of runs ≥ 1")
    return int(count)


def resolve_baseline(run_dir: Path, spec: str) -> list[Path]:
    """`latest`, `history`, `history:N` (the last N earlier runs of the scenario) or a run directory."""
    if spec == "latest":
        return [latest_baseline(run_dir)]
    try:
        count = history_count(spec)
    except ValueError as exc:
        raise RunDirError(str(exc)) from None
    if count is not None:
        found = _scenario_runs(run_dir)[-count:]
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
