"""The machine-readable evaluation (`results.json`), also the data the HTML and Markdown are drawn from."""

from __future__ import annotations

import math
from typing import Any

from harness.evaluation.compare import Comparison
from harness.evaluation.criteria import Verdict
from harness.evaluation.evaluate import Evaluation


def _num(x: float | None) -> float | None:
    return None if x is None or (isinstance(x, float) and not math.isfinite(x)) else float(x)


def _stated(crit) -> str:
    value, symbol = crit.threshold_quantity
    return f"{value:g} {symbol}" if symbol else f"{value:g}"


def verdict_dict(v: Verdict) -> dict[str, Any]:
    crit, ev = v.criterion, v.evidence
    return {
        "criterion": crit.id, "vendor": v.vendor, "outcome": v.outcome, "label": v.label,
        "marginal": v.marginal, "gate": crit.gate, "category": crit.category, "weight": crit.weight,
        "metric": crit.metric, "where": crit.where, "statistic": crit.statistic, "op": crit.op,
        "threshold": _num(v.threshold), "threshold_stated": _stated(crit),
        "value": _num(ev.value), "unit": ev.unit,
        "ci_low": _num(ev.ci[0]) if ev.ci else None, "ci_high": _num(ev.ci[1]) if ev.ci else None,
        "n": ev.n, "case_ids": list(ev.case_ids), "not_ok_cases": ev.not_ok, "reason": v.reason,
        "description": crit.description,
    }


def comparison_dict(c: Comparison) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for change in c.changes:
        counts[change.kind] = counts.get(change.kind, 0) + 1
    return {
        "baseline_run_id": c.baseline_run_id, "alpha": c.policy.alpha, "threshold": c.policy.threshold,
        "metric_thresholds": c.policy.metrics, "counts": counts,
        "changes": [{"case_id": x.case_id, "suite": x.suite, "vendor": x.vendor, "metric": x.metric,
                     "unit": x.unit, "kind": x.kind, "n_baseline": x.n_baseline, "n_current": x.n_current,
                     "baseline_level": _num(x.baseline), "current_level": _num(x.current),
                     "change": _num(x.change), "p_value": _num(x.p_value), "note": x.note}
                    for x in c.changes if x.kind != "unchanged"],
    }


def shared_runs(steps: list[dict[str, str]]) -> list[dict[str, Any]]:
    """Neighbours the data do not separate, as runs of one kind: a three-way tie is one run of
    three vendors ("tie": the same total; "overlap": overlapping score intervals)."""
    runs: list[dict[str, Any]] = []
    for st in steps:
        if st["by"] not in ("tie", "overlap"):
            continue
        if runs and runs[-1]["by"] == st["by"] and runs[-1]["vendors"][-1] == st["upper"]:
            runs[-1]["vendors"].append(st["lower"])
        else:
            runs.append({"by": st["by"], "vendors": [st["upper"], st["lower"]]})
    return runs


def results(ev: Evaluation, comparison: Comparison | None) -> dict[str, Any]:
    manifest = ev.run.manifest
    out: dict[str, Any] = {
        "run_id": ev.run.run_id,
        "scenario": (manifest.get("scenario") or {}).get("name"),
        "started": manifest.get("started"), "finished": manifest.get("finished"),
        "exit_code": ev.exit_code,
        "gate_failures": [{"criterion": v.criterion.id, "vendor": v.vendor, "outcome": v.outcome,
                           "reason": v.reason} for v in ev.gate_failures],
        "verdicts": [verdict_dict(v) for v in ev.verdicts],
        "scorecard": None, "comparison": None,
    }
    if ev.scorecard is not None:
        card = ev.scorecard
        steps = [{"upper": s.upper, "lower": s.lower, "by": s.by} for s in card.steps]
        out["scorecard"] = {
            "ranking": [{"vendor": s.vendor, "rank": s.rank, "total": s.total, "by_category": s.by_category,
                         "scores": s.scores, "failed_gates": list(s.failed_gates),
                         "total_interval": list(s.total_interval),
                         "intervals": {c: list(i) for c, i in s.intervals.items()}} for s in card.vendors],
            "steps": steps, "shared": shared_runs(steps),
            "weights_decide": card.weights_decide,
            "weights": card.weights, "categories": card.categories,
            "sensitivity": [{"perturbed": p.what, "factor": p.factor, "ranking": list(p.ranking),
                             "steps": list(p.steps), "changed": p.changed} for p in card.sensitivity],
            "decisive": list(card.decisive),
            "drivers": [{"upper": u, "lower": lo, "criteria": [{"criterion": c, "weighted_gap": g}
                                                               for c, g in gaps]}
                        for u, lo, gaps in card.drivers],
            "unscored": list(card.unscored),
        }
    if comparison is not None:
        out["comparison"] = comparison_dict(comparison)
    return out
