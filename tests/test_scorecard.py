"""Scorecard: bounds from the criteria, vendor-independent scores, gates first, sensitivity."""

from __future__ import annotations

import numpy as np
import pytest

from harness.evaluation.criteria import verdicts
from harness.evaluation.criteria_spec import Criterion
from harness.evaluation.scorecard import build
from tests.evalkit import case_rows, frame

PARAMS = {"group": "string"}


def _crit(cid: str, metric: str, op: str, threshold: str, target: str | None, **kw) -> Criterion:
    return Criterion(id=cid, metric=metric, statistic="median", op=op, threshold=threshold, target=target,
                     **kw)


LAT = _crit("lat", "handshake_ms", "<=", "100 ms", "20 ms", category="performance")
RATE = _crit("rate", "secret_key_rate_bps", ">=", "1 kbps", "10 kbps", category="performance")
OK = Criterion(id="ok", metric="interop_ok", statistic="rate", op=">=", threshold="90 %", gate=True,
               category="interoperability")


def _rows(vendors: dict[str, tuple[float, float, float]]):
    rows = []
    for v, (lat, rate, ok) in vendors.items():
        rows += case_rows("r", "s", v, {"group": "g"}, "handshake_ms", "ms", [lat] * 5)
        rows += case_rows("r", "s", v, {"group": "g"}, "secret_key_rate_bps", "bps", [rate] * 5, repeat=1)
        rows += case_rows("r", "s", v, {"group": "g"}, "interop_ok", "bool", [1.0] * int(ok * 10)
                          + [0.0] * (10 - int(ok * 10)), repeat=2)
    return frame(rows, PARAMS)


def _card(vendors, criteria=(LAT, RATE, OK), categories=None):
    return build(verdicts(_rows(vendors), list(criteria), list(vendors)), categories)


def test_scores_are_linear_between_threshold_and_target():
    card = _card({"a": (60.0, 5500.0, 1.0)})
    (a,) = card.vendors
    assert a.scores["lat"] == pytest.approx(50.0)  # halfway from 100 ms to 20 ms
    assert a.scores["rate"] == pytest.approx(50.0)
    assert a.scores["ok"] == 100.0  # no target: pass scores 100
    # two categories, equal weights; two criteria inside performance
    assert card.weights == pytest.approx({"lat": 0.25, "rate": 0.25, "ok": 0.5})
    assert a.total == pytest.approx(75.0)


def test_adding_or_removing_a_vendor_changes_no_other_score_or_order():
    base = {"a": (30.0, 2000.0, 1.0), "b": (50.0, 9000.0, 1.0), "c": (90.0, 4000.0, 1.0)}
    full = _card(base)
    for extra in ({"d": (10.0, 20000.0, 1.0)}, {"e": (500.0, 10.0, 1.0)}):
        more = _card({**base, **extra})
        assert [v for v in more.ranking if v in base] == list(full.ranking)
        for vs in full.vendors:
            other = next(x for x in more.vendors if x.vendor == vs.vendor)
            assert other.total == pytest.approx(vs.total)
    fewer = _card({k: base[k] for k in ("a", "c")})
    assert list(fewer.ranking) == [v for v in full.ranking if v != "b"]


def test_a_vendor_failing_a_gate_ranks_last_and_is_marked():
    card = _card({"fast": (20.0, 10000.0, 0.5), "slow": (90.0, 1500.0, 1.0)},
                 categories={"performance": 4, "interoperability": 1})
    assert card.ranking == ("slow", "fast")
    fast = card.vendors[1]
    assert fast.failed_gates == ("ok",) and fast.total > card.vendors[0].total


def test_sensitivity_names_the_deciding_criterion_only_when_the_ranking_is_close():
    close = _card({"a": (28.0, 4000.0, 1.0), "b": (60.0, 7000.0, 1.0)})
    # a wins on latency, b on rate, by nearly the same weighted margin: ±20 % on either flips it.
    assert set(close.decisive) == {"lat", "rate"}
    assert any(p.changed and p.what == "criterion lat" for p in close.sensitivity)
    upper, lower, gaps = close.drivers[0]
    assert (upper, lower) == close.ranking and gaps[0][0] in {"lat", "rate"}
    far = _card({"a": (20.0, 10000.0, 1.0), "b": (90.0, 1500.0, 1.0)})
    assert far.decisive == () and not any(p.changed for p in far.sensitivity)


def test_category_weights_shift_the_balance():
    vendors = {"a": (20.0, 1000.0, 1.0), "b": (100.0, 10000.0, 1.0)}
    lat = _crit("lat", "handshake_ms", "<=", "100 ms", "20 ms", category="performance")
    rate = _crit("rate", "secret_key_rate_bps", ">=", "1 kbps", "10 kbps", category="resilience")
    assert _card(vendors, (lat, rate), {"performance": 3, "resilience": 1}).ranking == ("a", "b")
    assert _card(vendors, (lat, rate), {"performance": 1, "resilience": 3}).ranking == ("b", "a")


def _spread_card(vendors: dict[str, list[float]], criteria=(LAT,)):
    rows = []
    for v, lat in vendors.items():
        rows += case_rows("r", "s", v, {"group": "g"}, "handshake_ms", "ms", lat)
    found = verdicts(frame(rows, PARAMS), list(criteria), list(vendors))
    return build(found, None), found


def test_a_score_carries_the_interval_of_its_statistic():
    lat = [40.0, 45.0, 52.0, 55.0, 60.0, 64.0, 70.0, 75.0, 80.0]
    card, (verdict,) = _spread_card({"a": lat})
    (a,) = card.vendors
    # 0 at 100 ms, 100 at 20 ms, linear: the median's interval ends map to the score's ends, reversed
    expected = sorted(100.0 * (100.0 - end) / 80.0 for end in verdict.evidence.ci)
    assert verdict.evidence.ci[0] < verdict.evidence.ci[1]
    assert a.intervals["lat"] == pytest.approx(tuple(expected))
    assert a.intervals["lat"][0] < a.scores["lat"] < a.intervals["lat"][1]
    assert a.total_interval == pytest.approx(a.intervals["lat"])  # the only criterion: weight 1
    # a constant statistic has no spread, so neither has its score
    steady, _ = _spread_card({"a": [60.0] * 9})
    assert steady.vendors[0].intervals["lat"] == (pytest.approx(50.0), pytest.approx(50.0))


def test_a_pass_fail_criterion_whose_interval_holds_the_threshold_scores_anywhere_from_0_to_100():
    card = _card({"a": (60.0, 5500.0, 0.9)})  # 9 of 10 interoperate; threshold 90 %: marginal pass
    (a,) = card.vendors
    assert a.scores["ok"] == 100.0 and a.intervals["ok"] == (0.0, 100.0)
    clear = _card({"a": (60.0, 5500.0, 1.0)}).vendors[0]  # 10 of 10, no spread
    assert clear.intervals["ok"] == (100.0, 100.0)
    # total: each criterion at its interval's ends, weighted (lat and rate constant at 50)
    assert a.total_interval == pytest.approx((25.0 + 0.5 * 0, 25.0 + 0.5 * 100))


def test_a_ranking_the_score_intervals_do_not_support_is_marked():
    rng = np.random.default_rng(7)
    wide = {v: list(m * np.exp(rng.normal(0, 0.4, 15))) for v, m in (("a", 55.0), ("b", 60.0))}
    card, _ = _spread_card(wide)
    (step,) = card.steps
    assert (step.upper, step.lower) == card.ranking and step.by == "overlap"
    upper, lower = card.vendors
    assert upper.total_interval[0] <= lower.total_interval[1]
    narrow = {"a": [55.0] * 15, "b": [60.0] * 15}  # the same medians, no spread: the order stands
    assert _spread_card(narrow)[0].steps[0].by == "scores"


def test_an_order_set_by_the_gates_is_not_credited_to_the_weights():
    card = _card({"fast": (20.0, 10000.0, 0.5), "slow": (90.0, 1500.0, 1.0)})
    assert [s.by for s in card.steps] == ["gates"] and not card.weights_decide
    three = _card({"fast": (20.0, 10000.0, 0.5), "slow": (90.0, 1500.0, 1.0), "mid": (50.0, 5000.0, 1.0)})
    assert three.ranking == ("mid", "slow", "fast")
    assert [s.by for s in three.steps] == ["scores", "gates"] and three.weights_decide


def test_tied_vendors_share_a_rank_and_the_next_one_counts_them():
    # a wins latency (75 vs 25), b the rate (25 vs 75) by as much: the same total, 75 each
    card = _card({"b": (80.0, 7750.0, 1.0), "a": (40.0, 3250.0, 1.0), "c": (90.0, 1500.0, 1.0)})
    assert card.vendors[0].total == card.vendors[1].total
    assert card.ranking == ("a", "b", "c")  # a tie listed alphabetically
    assert [v.rank for v in card.vendors] == [1, 1, 3]
    assert [s.by for s in card.steps] == ["tie", "scores"]
    assert [d[:2] for d in card.drivers] == [("b", "c")]  # nobody is ahead inside a tie


def test_swapping_tied_vendors_is_no_reordering():
    card = _card({"a": (40.0, 3250.0, 1.0), "b": (80.0, 7750.0, 1.0)})
    swapped = [p for p in card.sensitivity if p.ranking == ("b", "a")]
    assert swapped  # +20 % on rate (or -20 % on latency) puts b first...
    assert not any(p.changed for p in card.sensitivity) and card.decisive == ()  # ...which is no reorder
    assert {p.steps for p in swapped} == {("scores",)}
    # the same swap of vendors ranked apart is one
    apart = _card({"a": (28.0, 4000.0, 1.0), "b": (60.0, 7000.0, 1.0)})
    assert [v.rank for v in apart.vendors] == [1, 2] and apart.decisive


def test_neighbours_the_intervals_do_not_separate_share_a_rank():
    rng = np.random.default_rng(7)
    wide = {v: list(m * np.exp(rng.normal(0, 0.4, 15))) for v, m in (("a", 55.0), ("b", 60.0), ("c", 95.0))}
    wide["d"] = [30.0] * 15  # far ahead, no spread
    card, _ = _spread_card(wide)
    assert card.ranking == ("d", "b", "a", "c")  # b's median is the lower on this draw
    assert [s.by for s in card.steps] == ["scores", "overlap", "scores"]
    assert [v.rank for v in card.vendors] == [1, 2, 2, 4]
