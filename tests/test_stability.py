"""pyperf's stability rules on an experiment's repeats (10th percentiles), and the metrics they judge."""

from __future__ import annotations

import numpy as np

from harness.evaluation.history import repeat_tables
from harness.evaluation.stability import judge, rule_broken
from harness.metrics import Declarations
from harness.suite import Metric
from tests.evalkit import frame, repeated_rows


def test_the_standard_deviation_rule_and_the_outlier_rule():
    assert rule_broken(np.array([40.0, 41.0, 39.5, 40.5, 40.2])) is None
    spread = rule_broken(np.array([40.0, 50.0, 35.0, 46.0, 38.0]))
    assert spread is not None and "standard deviation is 15% of their mean" in spread
    # 99 steady repeats and one 60 % off: the spread stays under 10 %, the outlier rule fires.
    outlier = rule_broken(np.r_[np.full(99, 40.0), 64.0])
    assert outlier is not None and "one repeat is 59% away" in outlier
    assert rule_broken(np.array([40.0])) is None  # one repeat: nothing to judge


def test_only_timings_are_judged_and_single_repeats_are_counted_as_unjudged():
    declared = Declarations({"s": {"encaps_us": Metric("us", "lower"),
                                   "rate_bps": Metric("bit/s", "higher"),
                                   "ciphertext_bytes": Metric("bytes", "lower", deterministic=True)}})
    wild = [[v] * 3 for v in (10.0, 20.0, 30.0)]
    rows = (repeated_rows("r", "s", "a", {"group": "x"}, "encaps_us", "us", wild)
            + repeated_rows("r", "s", "a", {"group": "x"}, "rate_bps", "bit/s", wild)
            + repeated_rows("r", "s", "a", {"group": "x"}, "ciphertext_bytes", "bytes", wild)
            + repeated_rows("r", "s", "a", {"group": "y"}, "encaps_us", "us", [[10.0]]))
    repeats, _ = repeat_tables(frame(rows, {"group": "string"}))
    unstable, judged, unjudged = judge(repeats, declared)
    assert [(u.metric, u.vendor) for u in unstable] == [("encaps_us", "a")]
    assert (judged, unjudged) == (1, 1)
