"""The same link in process and behind `kme serve` + the etsi014 adapter gives the same key rate.

In process the key_rate suite reads the device's telemetry on its own clock; served, it sees
only ETSI 014 key delivery on wall time, with the device clock paced at `time_scale` device
seconds per wall second, so the served rate divided by the time scale is the device rate.
The two estimates (different seeds) must agree within their statistical error.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from harness.suite import MeasureContext
from suites.key_rate import KeyRate, KeyRateParams
from vendors.etsi014 import Etsi014Adapter
from vendors.simulated_qkd.adapter import SimulatedQKDAdapter

PROFILE, KM, SCALE = "free-space-ground", 50.0, 5.0


def _rate(adapter, window_s, repeats, tmp_path):
    params = KeyRateParams(distances_km=[KM], window_s=window_s, repeats=repeats)
    ctx = MeasureContext(seed=1, work_dir=tmp_path, timeout_s=600)
    rows = list(KeyRate().measure(adapter, params, {"distance_km": KM}, ctx))
    samples = np.array([r.value for r in rows if r.metric == "secret_key_rate_bps"])
    return float(samples.mean()), float(samples.std(ddof=1) / math.sqrt(samples.size))


@pytest.mark.slow
def test_served_key_rate_matches_in_process(tmp_path):
    local = SimulatedQKDAdapter({"profile": PROFILE, "fibre_km": KM, "seed": 1})
    in_process, se_local = _rate(local, 60.0, 6, tmp_path)
    local.close()

    device = SimulatedQKDAdapter({"profile": PROFILE, "fibre_km": KM, "seed": 2, "time_scale": SCALE,
                                  "max_key_count": 100_000})
    try:
        e = device.etsi014_endpoints()
        client = Etsi014Adapter({**{k: v for k, v in vars(e).items() if v is not None},
                                 "fibre_km": KM, "declared_profile": PROFILE})
        try:
            wall, se_wall = _rate(client, 24.0, 3, tmp_path)
        finally:
            client.close()
    finally:
        device.close()
    served, se_served = wall / SCALE, se_wall / SCALE
    assert in_process > 0 and served > 0
    assert abs(served - in_process) <= 3 * math.hypot(se_local, se_served) + 0.05 * in_process
