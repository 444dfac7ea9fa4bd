"""Suite `recovery` against the simulated device served by its own `qsbench kme serve` process.

`kme_restart` really kills the serving process group (SIGKILL) and starts the same command again
on the same store. The real QKD core runs in the server (free-space-ground at 50 km, 15 s blocks,
time scale 20), so these tests take wall time: slow tier.
"""

from __future__ import annotations

import pytest

from harness.adapters import Fault
from harness.suite import MeasureContext
from suites.qkd_time import wait_for_keys
from suites.recovery import Recovery, RecoveryParams
from vendors.simulated_qkd.process import ServedProcessAdapter

pytestmark = pytest.mark.slow

OPTIONS = {"profile": "free-space-ground", "fibre_km": 50, "time_scale": 20, "seed": 4, "max_key_count": 400}
RESTART = {"kind": "kme_restart", "at_s": 4, "duration_s": 3}


def run_restart(adapter, tmp_path):
    assert wait_for_keys(adapter, 40, budget_s=90, step_s=0.5) >= 40
    p = RecoveryParams(case_s=25, tick_s=1, consumption_keys_per_s=4, keys_per_request=4, faults=[RESTART])
    suite = Recovery()
    (case,) = suite.cases(p)
    rows = list(suite.measure(adapter, p, case, MeasureContext(1, tmp_path, 120)))
    return {r.metric: r.value for r in rows if r.metric not in ("stored_key_count", "key_rate_bps",
                                                                  "fault_active")}


@pytest.mark.timeout(240)
def test_a_killed_and_restarted_kme_loses_no_key_in_flight_and_repeats_none(tmp_path):
    adapter = ServedProcessAdapter(OPTIONS)
    try:
        first_pid = adapter.process.pid
        m = run_restart(adapter, tmp_path)
        assert adapter.process.lifetimes == 2 and adapter.process.pid != first_pid  # really restarted
        # The link's own faults go through the control endpoint, in device time (time scale 20).
        adapter.inject(Fault("attenuation_step", 2.0, 3.0))
        (fault,) = adapter.control("GET")["faults"]
        assert fault["kind"] == "attenuation_step" and 0 < fault["remaining_s"] <= 40
        adapter.clear_faults()
        assert adapter.control("GET")["faults"] == []
    finally:
        adapter.close()
    assert m["fault_detected"] == 1 and m["time_to_detect_s"] == 1  # unreachable in the first tick
    assert m["recovered"] == 1 and m["time_to_recover_s"] <= 15
    assert m["keys_lost"] == 0 and m["key_mismatches"] == 0 and m["keys_repeated"] == 0
    assert 0 < m["availability"] < 1


class AmnesiacAdapter(ServedProcessAdapter):
    """A deliberately broken deployment: the KME comes back on a fresh store (same seed)."""

    def _start_after(self, downtime_s):
        for suffix in ("", "-wal", "-shm"):
            path = self.store_path.with_name(self.store_path.name + suffix)
            path.unlink(missing_ok=True)
        super()._start_after(downtime_s)


@pytest.mark.timeout(240)
def test_a_kme_restarted_without_its_store_is_caught_losing_and_repeating_keys(tmp_path):
    adapter = AmnesiacAdapter(OPTIONS)
    try:
        m = run_restart(adapter, tmp_path)
    finally:
        adapter.close()
    assert m["keys_lost"] == 4  # the request in flight at the kill: its slave copies are gone
    assert m["keys_repeated"] > 0  # the fresh store's seeded stream hands out the same bits again
