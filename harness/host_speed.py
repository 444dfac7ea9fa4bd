"""How fast the host runs a fixed piece of work right now: the reference a run's timings are read against.

Interleaving repeats across a run spreads a busy moment over every case, but a
host that is slower for the whole run (a neighbour on the other hyperthread,
a lower clock, a thermal limit) slows every repeat alike, and no statistic
inside the run can see it: a run made during such a spell looks like a
regression of every timing. So each worker times a fixed CPU-bound loop just
before and just after its case, in the same process, and the run keeps one
reference per case (`reference_us`). A comparison then sees whether the host
itself ran slower (`harness.evaluation.compare`).

The loop is pure interpreter work of a fixed size (no memory traffic beyond the
cache, no system calls), timed `TIMINGS` times; its 10th percentile is kept for
the same reason a case's timing is (a busy host only adds time, so the fast
timings show the host's speed and the slow ones its neighbours).
"""

from __future__ import annotations

import time

LOOP_ITERATIONS = 10_000  # about a millisecond on a current core
TIMINGS = 15
LOW_QUANTILE = 0.10


def _loop(n: int) -> int:
    acc = 0
    for i in range(n):
        acc = (acc + i * i) & 0xFFFF
    return acc


def reference_us() -> float:
    """The 10th percentile of `TIMINGS` timings of the reference loop, in microseconds."""
    times = []
    for _ in range(TIMINGS):
        t0 = time.perf_counter_ns()
        _loop(LOOP_ITERATIONS)
        times.append(time.perf_counter_ns() - t0)
    times.sort()
    return times[int(LOW_QUANTILE * (len(times) - 1))] / 1000

DESCRIPTION = (f"10th percentile of {TIMINGS} timings of a {LOOP_ITERATIONS}-iteration interpreter loop, "
               "in the case's worker just before and after it (mean of the two), per case id")
