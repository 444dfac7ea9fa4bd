"""Procurement scorecard: criteria scores 0–100, weighted by category, gates first, and sensitivity.

Each criterion is scored against bounds fixed by the criterion itself, never by
the other vendors (SPOTIS-style): the threshold scores 0, the target scores
100, linear in between and clipped; a criterion without a target scores 100 for
pass and 0 for fail; n/a scores 0 (no evidence is no credit). Adding or removing
a vendor therefore never changes another vendor's score or their relative order.

Effective weight of a criterion = its category's share of the category weights
× its share of the weights within the category. Criteria judged for only some
vendors (`vendors:`) are left out of the scorecard, since they cannot compare.

Ranking: vendors that pass every mandatory gate first, by total score; vendors
that fail a gate after them, marked, never hidden. Equal totals (to 1e-9) are a tie,
listed alphabetically.

Uncertainty: a score carries the uncertainty of its statistic. The scoring
function is monotone in the statistic, so a criterion's score interval is the
score at each end of the statistic's 95 % interval (a pass/fail criterion whose
interval straddles the threshold scores anywhere in [0, 100]); a total's
interval is the weighted sum of those ends, i.e. the range the total takes with
every statistic anywhere in its interval. Two neighbours in the ranking whose
total intervals overlap, on the same side of the gates, are not separated by
the data: the scorecard says so (`Step.by == "overlap"`).

Ranks: neighbours not separated (a tie, or overlapping intervals) share a rank,
standard competition ranking (1, 1, 3): a vendor's rank is one more than the
number of vendors listed above it, unless the step from the one just above does
not separate them, when it takes that one's rank. Overlap is not transitive, so
a chain of overlapping neighbours shares one rank even where its ends are apart.

Sensitivity: every criterion weight and every category weight is moved by
±20 % with the others rescaled to keep the sum; a perturbation reorders the
ranking when it puts a vendor above one of a better rank (vendors sharing a
rank may come out in either order: that is no reordering). Reordering
perturbations are listed, and criteria whose perturbation reorders it
"decide" it.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from itertools import pairwise

from harness.evaluation import units
from harness.evaluation.criteria import Verdict
from harness.evaluation.criteria_spec import DEFAULT_CATEGORIES, Criterion

SENSITIVITY = 0.20
_OPS = {"<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt}


def _score_at(verdict: Verdict, threshold: float, statistic: float) -> float:
    """The score the verdict's criterion gives `statistic` against `threshold` (the evidence's unit)."""
    crit = verdict.criterion
    if crit.target_quantity is None:
        return 100.0 if _OPS[crit.op](statistic, threshold) else 0.0
    value, symbol = crit.target_quantity
    if symbol is not None and verdict.evidence.unit is not None and symbol != verdict.evidence.unit:
        value = units.convert(value, symbol, verdict.evidence.unit)
    fraction = (statistic - threshold) / (value - threshold)
    return float(min(max(fraction, 0.0), 1.0) * 100.0)


def criterion_score(verdict: Verdict) -> float:
    if verdict.outcome == "n/a":
        return 0.0
    if verdict.evidence.value is None or verdict.threshold is None:  # failed cases: the verdict alone
        return 100.0 if verdict.outcome == "pass" else 0.0
    return _score_at(verdict, verdict.threshold, verdict.evidence.value)


def score_interval(verdict: Verdict) -> tuple[float, float]:
    """The scores at the ends of the statistic's 95 % interval (and at the statistic itself, which a
    percentile interval need not contain); the score alone where there is no interval."""
    score = criterion_score(verdict)
    ci, threshold = verdict.evidence.ci, verdict.threshold
    if verdict.outcome == "n/a" or verdict.evidence.value is None or threshold is None or ci is None:
        return score, score
    ends = [score, *(_score_at(verdict, threshold, x) for x in ci)]
    return min(ends), max(ends)


@dataclass(frozen=True)
class VendorScore:
    vendor: str
    rank: int
    total: float
    by_category: dict[str, float]  # weighted contribution of each category to `total`
    scores: dict[str, float]  # criterion id → 0–100
    failed_gates: tuple[str, ...]  # criterion ids
    total_interval: tuple[float, float]  # `total` with every statistic at the ends of its interval
    intervals: dict[str, tuple[float, float]]  # criterion id → score interval


@dataclass(frozen=True)
class Step:
    """Two neighbours in the ranking and what puts the upper one first."""

    upper: str
    lower: str
    by: str  # "gates": the lower fails a gate the upper meets; "scores": disjoint total intervals;
    # "overlap": the total intervals overlap, so the data do not support this order;
    # "tie": the same total, listed alphabetically

    @property
    def separates(self) -> bool:
        """Whether the upper ranks above the lower (else they share a rank)."""
        return self.by in ("gates", "scores")


@dataclass(frozen=True)
class Perturbation:
    what: str  # "criterion tls_p95" or "category performance"
    factor: float  # 0.8 or 1.2
    ranking: tuple[str, ...]
    steps: tuple[str, ...]  # `Step.by` of each neighbouring pair of `ranking`
    changed: bool


@dataclass(frozen=True)
class Scorecard:
    vendors: tuple[VendorScore, ...]  # ranked
    weights: dict[str, float]  # criterion id → effective weight (sums to 1)
    categories: dict[str, str]  # criterion id → category
    sensitivity: tuple[Perturbation, ...]
    decisive: tuple[str, ...]  # criterion ids whose ±20 % reorders the ranking
    drivers: tuple[tuple[str, str, tuple[tuple[str, float], ...]], ...]  # (upper, lower, top contributions)
    unscored: tuple[str, ...]  # criterion ids left out, with vendor restrictions
    steps: tuple[Step, ...]  # one per neighbouring pair in the ranking

    @property
    def weights_decide(self) -> bool:
        """Whether any neighbour pair is ordered by the scores (so by the weights), not by the gates."""
        return any(s.by != "gates" for s in self.steps)

    @property
    def ranking(self) -> tuple[str, ...]:
        return tuple(v.vendor for v in self.vendors)


def effective_weights(criteria: list[Criterion], categories: dict[str, float] | None) -> dict[str, float]:
    cat_weights = categories if categories is not None else DEFAULT_CATEGORIES
    used = {c.category for c in criteria}
    cat_total = sum(cat_weights[c] for c in used)
    weights = {}
    for crit in criteria:
        inside = sum(c.weight for c in criteria if c.category == crit.category)
        share = cat_weights[crit.category] / cat_total if cat_total else 0.0
        weights[crit.id] = share * (crit.weight / inside if inside else 0.0)
    return weights


@dataclass(frozen=True)
class _Ranked:
    order: tuple[str, ...]
    totals: dict[str, float]
    intervals: dict[str, tuple[float, float]]  # vendor → total interval
    steps: tuple[Step, ...]


def _key(total: float, gated: tuple[str, ...]) -> tuple[bool, float]:
    """What orders vendors: the gates first, then the total, equal to 1e-9 a tie."""
    return bool(gated), -round(total, 9)


def _rank(scores: dict[str, dict[str, float]], intervals: dict[str, dict[str, tuple[float, float]]],
          weights: dict[str, float], gated: dict[str, tuple[str, ...]]) -> _Ranked:
    totals = {v: sum(weights[c] * s for c, s in per.items()) for v, per in scores.items()}
    spans = {v: (sum(weights[c] * lo for c, (lo, _) in mine.items()),
                 sum(weights[c] * hi for c, (_, hi) in mine.items())) for v, mine in intervals.items()}
    order = tuple(sorted(totals, key=lambda v: (*_key(totals[v], gated[v]), v)))
    steps = []
    for upper, lower in pairwise(order):
        if bool(gated[upper]) != bool(gated[lower]):
            by = "gates"
        elif _key(totals[upper], gated[upper]) == _key(totals[lower], gated[lower]):
            by = "tie"
        else:
            by = "scores" if spans[upper][0] > spans[lower][1] else "overlap"
        steps.append(Step(upper, lower, by))
    return _Ranked(order, totals, spans, tuple(steps))


def _ranks(ranked: _Ranked) -> dict[str, int]:
    """Standard competition ranks: a step that does not separate its pair keeps the upper's rank."""
    ranks = {ranked.order[0]: 1} if ranked.order else {}
    for i, step in enumerate(ranked.steps, start=2):
        ranks[step.lower] = i if step.separates else ranks[step.upper]
    return ranks


def _reorders(ranks: dict[str, int], new: _Ranked, gated: dict[str, tuple[str, ...]]) -> bool:
    """Whether `new` puts a vendor strictly above one that ranks better in `ranks`."""
    keys = {v: _key(new.totals[v], gated[v]) for v in new.order}
    return any(ranks[x] < ranks[y] and keys[y] < keys[x] for x in ranks for y in ranks)


def _perturbed(weights: dict[str, float], group: set[str], factor: float) -> dict[str, float] | None:
    inside = sum(weights[c] for c in group)
    if inside <= 0 or inside >= 1:
        return None  # the only group: rescaling the rest cannot keep the sum
    new_inside = min(inside * factor, 1.0)
    rest = (1 - new_inside) / (1 - inside)
    return {c: w * (new_inside / inside if c in group else rest) for c, w in weights.items()}


def build(verdicts: list[Verdict], categories: dict[str, float] | None) -> Scorecard:
    scored = [v for v in verdicts if v.criterion.vendors is None]
    unscored = tuple(dict.fromkeys(v.criterion.id for v in verdicts if v.criterion.vendors is not None))
    criteria = list({v.criterion.id: v.criterion for v in scored}.values())
    weights = effective_weights(criteria, categories)
    scores: dict[str, dict[str, float]] = {}
    intervals: dict[str, dict[str, tuple[float, float]]] = {}
    gated: dict[str, tuple[str, ...]] = {}
    for v in scored:
        scores.setdefault(v.vendor, {})[v.criterion.id] = criterion_score(v)
        intervals.setdefault(v.vendor, {})[v.criterion.id] = score_interval(v)
        gated.setdefault(v.vendor, ())
        if v.gate_failed:
            gated[v.vendor] += (v.criterion.id,)
    ranked = _rank(scores, intervals, weights, gated)
    ranks = _ranks(ranked)
    category_of = {c.id: c.category for c in criteria}

    vendors = []
    for vendor in ranked.order:
        by_cat: dict[str, float] = {}
        for cid, s in scores[vendor].items():
            by_cat[category_of[cid]] = by_cat.get(category_of[cid], 0.0) + weights[cid] * s
        vendors.append(VendorScore(vendor, ranks[vendor], ranked.totals[vendor], by_cat, scores[vendor],
                                   gated[vendor], ranked.intervals[vendor], intervals[vendor]))

    groups = [(f"criterion {c.id}", {c.id}) for c in criteria]
    groups += [(f"category {cat}", {c.id for c in criteria if c.category == cat})
               for cat in dict.fromkeys(c.category for c in criteria)]
    perturbations, decisive = [], []
    for what, group in groups:
        for factor in (1 - SENSITIVITY, 1 + SENSITIVITY):
            new = _perturbed(weights, group, factor)
            if new is None:
                continue
            moved = _rank(scores, intervals, new, gated)
            changed = _reorders(ranks, moved, gated)
            perturbations.append(Perturbation(what, factor, moved.order, tuple(s.by for s in moved.steps),
                                              changed))
            if changed and what.startswith("criterion ") and what[10:] not in decisive:
                decisive.append(what[10:])

    drivers = []
    for step in ranked.steps:
        if step.by == "tie":
            continue  # neither is ahead
        upper, lower = step.upper, step.lower
        gaps = sorted(((cid, weights[cid] * (scores[upper][cid] - scores[lower].get(cid, 0.0)))
                       for cid in scores[upper]), key=lambda item: -item[1])
        drivers.append((upper, lower, tuple((cid, gap) for cid, gap in gaps[:3] if gap > 0)))
    return Scorecard(tuple(vendors), weights, category_of, tuple(perturbations), tuple(decisive),
                     tuple(drivers), unscored, ranked.steps)
