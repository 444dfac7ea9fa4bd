"""Scorecard: bounds from the criteria, vendor-independent scores, gates first, sensitivity."""

from __future__ import annotations

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
