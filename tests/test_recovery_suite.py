"""Suite `recovery`: scheduled faults on the simulated device, seen through its key-delivery API.

The fast tests use `FixedRateSource` (tests/qkd_helpers.py), a test double for the QKD core,
because what they test is the suite's clock, consumer and metrics; the slow ones run the real
core (free-space-ground at 50 km: 15 s blocks, about a second of wall time each).
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from harness.adapters import KeyDeliveryError, NotApplicable
from harness.suite import MeasureContext
from suites.recovery import Recovery, RecoveryParams
from tests.qkd_helpers import FixedRateSource
from vendors.simulated_qkd.adapter import SimulatedQKDAdapter

TIMELINES = ("stored_key_count", "key_rate_bps", "fault_active")


def run(adapter, tmp_path, **params):
    p = RecoveryParams(**{"case_s": 120, "tick_s": 5, "consumption_keys_per_s": 2, **params})
    suite = Recovery()
    out = []
    for case in suite.cases(p):
        rows = list(suite.measure(adapter, p, case, MeasureContext(1, tmp_path, 60)))
        for r in rows:
            assert suite.metrics[r.metric].unit == r.unit
        scalars = {r.metric: r.value for r in rows if r.metric not in TIMELINES}
        series = {m: [r.value for r in rows if r.metric == m] for m in TIMELINES}
        out.append((scalars, series))
    return out


def device(**options):
    return SimulatedQKDAdapter({"seed": 3, "max_key_count": 200, **options},
                               source=FixedRateSource(2000, 0.5))


def test_fibre_cut_is_detected_bridged_by_the_buffer_and_recovered(tmp_path):
    ((m, series),) = run(device(), tmp_path, faults=[{"kind": "fibre_cut", "at_s": 40, "duration_s": 30}])
    assert m["fault_detected"] == 1 and m["time_to_detect_s"] == 5
    assert m["recovered"] == 1 and m["time_to_recover_s"] == 5
    assert m["key_mismatches"] == 0 and m["keys_lost"] == 0
    assert m["availability"] == 1 and m["buffer_depleted"] == 0  # 2 keys/s for 30 s: the buffer held
    assert series["fault_active"] == [0.0] * 8 + [1.0] * 6 + [0.0] * 10
    rates, stored = series["key_rate_bps"], series["stored_key_count"]
    assert all(r == 0 for r in rates[8:14]) and all(r > 0 for r in rates[:8] + rates[14:])
    assert all(b - a == -10 for a, b in itertools.pairwise(stored[8:14]))  # drained, not refilled


def test_every_injectable_fault_kind_is_seen(tmp_path):
    faults = [{"kind": "classical_channel_down", "at_s": 40, "duration_s": 20},
              {"kind": "kme_unavailable", "at_s": 40, "duration_s": 20},
              {"kind": "attenuation_step", "at_s": 40, "duration_s": 20, "magnitude": 6.0}]
    cut, kme, step = run(device(), tmp_path, faults=faults)
    assert cut[0]["time_to_detect_s"] == 5 and cut[0]["recovered"] == 1
    # The KME refuses while down: the application is refused at once, nothing is lost.
    assert kme[0]["time_to_detect_s"] == 5 and kme[0]["buffer_depletion_s"] == 5
    assert kme[0]["availability"] < 1 and kme[0]["keys_lost"] == 0
    # The double ignores attenuation, so the device keeps delivering and shows nothing: not detected.
    assert step[0]["fault_detected"] == 0 and step[0]["availability"] == 1


def test_key_exhaustion_depletes_the_buffer_and_recovers_when_demand_falls(tmp_path):
    ((m, series),) = run(device(), tmp_path, faults=[
        {"kind": "key_exhaustion", "at_s": 40, "duration_s": 30, "exhaustion_keys_per_s": 100}])
    assert m["buffer_depleted"] == 1 and m["buffer_depletion_s"] == 5
    assert m["time_to_detect_s"] == 5 and m["recovered"] == 1 and m["time_to_recover_s"] == 5
    assert 0 < m["availability"] < 1
    assert min(series["stored_key_count"][8:14]) < 10


class MismatchingAdapter(SimulatedQKDAdapter):
    """A deliberately broken KME pair: the slave gets different bits under the right key ID."""

    def dec_keys(self, key_ids):
        return [type(k)(k.key_id, bytes(b ^ 1 for b in k.material)) for k in super().dec_keys(key_ids)]


class LosingAdapter(SimulatedQKDAdapter):
    """A deliberately broken KME pair: the slave cannot find every third key the master handed out."""

    calls = 0

    def dec_keys(self, key_ids):
        self.calls += 1
        if self.calls % 3 == 0:
            raise KeyDeliveryError(400, "one or more keys specified are not found on KME")
        return super().dec_keys(key_ids)


@pytest.mark.parametrize(("cls", "metric"), [(MismatchingAdapter, "key_mismatches"),
                                             (LosingAdapter, "keys_lost")])
def test_a_broken_kme_pair_is_caught(tmp_path, cls, metric):
    broken = cls({"seed": 3, "max_key_count": 200}, source=FixedRateSource(2000, 0.5))
    ((m, _),) = run(broken, tmp_path, faults=[{"kind": "fibre_cut", "at_s": 40, "duration_s": 20}])
    assert m[metric] > 0


HOOK = """\
import os, sys
with open(sys.argv[1], "a") as fh:
    fh.write(" ".join(os.environ[k] for k in ("QSBENCH_FAULT_PHASE", "QSBENCH_FAULT_KIND",
                                              "QSBENCH_FAULT_DURATION_S")) + "\\n")
sys.exit(int(os.environ.get("HOOK_EXIT", "0")))
"""


def test_lab_hooks_run_at_the_scheduled_times_and_a_failing_hook_fails_the_case(tmp_path, monkeypatch):
    script, log = tmp_path / "hook.py", tmp_path / "hook.log"
    script.write_text(HOOK)
    argv = [sys.executable, str(script), str(log)]
    fault = {"kind": "kme_restart", "at_s": 40, "duration_s": 20, "start_hook": argv, "clear_hook": argv}
    ((m, _),) = run(device(), tmp_path, faults=[fault])
    assert log.read_text().splitlines() == ["start kme_restart 20", "clear kme_restart 20"]
    assert m["key_mismatches"] == 0
    monkeypatch.setenv("HOOK_EXIT", "3")
    with pytest.raises(RuntimeError, match=r"start hook .* for kme_restart exited 3"):
        run(device(), tmp_path, faults=[fault])


class RestartingAdapter(SimulatedQKDAdapter):
    """A test double for a KME restart in process: down for the fault's duration (as kme_unavailable).

    `persistent=False` is a deliberately broken KME: its restart forgets the keys it held for the
    slave, as one without a persistent store would.
    """

    persistent = True

    def fault_kinds(self):
        return (*super().fault_kinds(), "kme_restart")

    def inject(self, fault):
        if fault.kind != "kme_restart":
            return super().inject(fault)
        if not self.persistent:
            with self.link.store._transaction() as db:
                db.execute("DELETE FROM held")
        super().inject(type(fault)("kme_unavailable", fault.duration_s))


@pytest.mark.parametrize("persistent", [True, False])
def test_keys_in_flight_when_the_kme_restarts_are_collected_after_it_or_counted_lost(tmp_path, persistent):
    restarting = RestartingAdapter({"seed": 3, "max_key_count": 200}, source=FixedRateSource(2000, 0.5))
    restarting.persistent = persistent
    ((m, _),) = run(restarting, tmp_path, keys_per_request=5,
                    faults=[{"kind": "kme_restart", "at_s": 40, "duration_s": 20}])
    assert m["fault_detected"] == 1 and m["recovered"] == 1 and m["key_mismatches"] == 0
    assert m["keys_repeated"] == 0
    # 2 keys/s in 5 s ticks, 5 keys a request: the last request before the restart was in flight.
    assert m["keys_lost"] == (0 if persistent else 5)


def test_the_in_process_device_cannot_restart_its_kme(tmp_path):
    with pytest.raises(NotApplicable, match="cannot inject kme_restart"):
        run(device(), tmp_path, faults=[{"kind": "kme_restart", "at_s": 40, "duration_s": 20}])


class RepeatingAdapter(SimulatedQKDAdapter):
    """A deliberately broken KME: every fifth request hands the master the previous request's keys again."""

    calls, last = 0, None

    def enc_keys(self, number=1, size_bits=None):
        self.calls += 1
        if self.calls % 5 == 0 and self.last is not None:
            return self.last
        self.last = super().enc_keys(number, size_bits)
        return self.last


def test_a_key_handed_out_twice_is_caught(tmp_path):
    broken = RepeatingAdapter({"seed": 3, "max_key_count": 200}, source=FixedRateSource(2000, 0.5))
    ((m, _),) = run(broken, tmp_path, faults=[{"kind": "fibre_cut", "at_s": 40, "duration_s": 20}])
    assert m["keys_repeated"] > 0
    ((m, _),) = run(device(), tmp_path, faults=[{"kind": "fibre_cut", "at_s": 40, "duration_s": 20}])
    assert m["keys_repeated"] == 0


def test_schedule_errors_are_refused():
    with pytest.raises(ValidationError, match="needs a magnitude"):
        RecoveryParams(faults=[{"kind": "qber_rise", "at_s": 10, "duration_s": 10}])
    with pytest.raises(ValidationError, match="case_s must leave"):
        RecoveryParams(case_s=60, tick_s=5, faults=[{"kind": "fibre_cut", "at_s": 30, "duration_s": 30}])
    with pytest.raises(ValidationError, match="exhaustion_keys_per_s"):
        RecoveryParams(faults=[{"kind": "key_exhaustion", "at_s": 10, "duration_s": 10}])


# --- the real QKD core ---------------------------------------------------------------------------
@pytest.mark.slow
def test_qber_rise_past_the_abort_point_fails_closed_and_recovers(tmp_path):
    core = SimulatedQKDAdapter({"profile": "free-space-ground", "fibre_km": 50, "seed": 3})
    ((m, series),) = run(core, tmp_path, case_s=120, faults=[
        {"kind": "qber_rise", "at_s": 45, "duration_s": 30, "magnitude": 0.08}])
    assert m["fault_detected"] == 1 and m["fail_closed"] == 1
    assert m["recovered"] == 1 and m["time_to_recover_s"] <= 30  # two 15 s blocks at most
    assert m["key_mismatches"] == 0
    assert all(r == 0 for r, on in zip(series["key_rate_bps"], series["fault_active"], strict=True) if on)


@pytest.mark.slow
@pytest.mark.parametrize("monitor", [False, True])
def test_detector_blinding_fails_open_without_the_monitor_and_closed_with_it(tmp_path, monitor):
    core = SimulatedQKDAdapter({"profile": "free-space-ground", "fibre_km": 50, "seed": 3})
    core.set_countermeasure("blinding_monitor", monitor)
    blinding = {"kind": "detector_blinding", "at_s": 30, "duration_s": 30}
    ((m, _),) = run(core, tmp_path, case_s=90, faults=[blinding])
    assert m["fail_closed"] == float(monitor) and m["fault_detected"] == float(monitor)
    assert m["key_mismatches"] == 0


def test_recovery_is_registered_and_runs_from_a_scenario(tmp_path):
    from harness.scenario import parse_scenario

    loaded = parse_scenario(Path("suites/scenarios/resilience.yaml").read_text(), "resilience.yaml")
    assert any(run.suite == "recovery" for run in loaded.scenario.suites)


@pytest.mark.slow
def test_the_resilience_pilot_meets_its_gates(tmp_path):
    """The shipped fault plan on the real core: every gate met (exit 0), blinding fails open."""
    import subprocess

    import pandas as pd

    from tests.conftest import qsbench_cmd

    done = subprocess.run([*qsbench_cmd(), "run", "suites/scenarios/resilience.yaml", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    df = pd.read_parquet(Path(done.stdout.strip().splitlines()[-1]) / "measurements")
    value = df.set_index(["fault", "metric"])["value"]
    assert value[("fibre_cut", "time_to_recover_s")].item() <= 60
    assert (df[df.metric == "key_mismatches"].value == 0).all()
    assert value[("qber_rise", "fail_closed")].item() == 1
    assert value[("detector_blinding", "fail_closed")].item() == 0  # this profile has no blinding monitor
