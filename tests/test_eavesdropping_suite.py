"""The eavesdropping suite on the simulated device (real core, free-space-ground at 50 km)."""

from __future__ import annotations

import pytest

from harness.suite import MeasureContext
from suites.eavesdropping import Eavesdropping, EavesdroppingParams
from vendors.simulated_qkd.adapter import SimulatedQKDAdapter

# The fixture runs the real core through every attack for a whole window each: about three minutes on
# two cores, so the module is in the slow tier (tox -e slow, CI). The fast tier keeps only the
# scenario-level checks of this suite (tests/test_qkd_scenario.py); a shorter fixture whose
# statistics still separate the attacks is left to the suite's owner.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def verdicts(tmp_path_factory):
    adapter = SimulatedQKDAdapter({"profile": "free-space-ground", "seed": 3})
    params = EavesdroppingParams(fibre_km=50, window_s=15, windows=1, intercept_fractions=[0.0, 1.0])
    suite, out = Eavesdropping(), {}
    ctx = MeasureContext(seed=1, work_dir=tmp_path_factory.mktemp("eve"), timeout_s=120)
    for case in suite.cases(params):
        rows = list(suite.measure(adapter, params, case, ctx))
        out[(case["attack"], case["fraction"], case["defence"])] = (
            {r.metric: r.value for r in rows}, next(r.labels for r in rows if r.metric == "attack_detected"))
    adapter.close()
    return out


def test_intercept_resend_raises_qber_by_a_quarter_and_stops_the_key(verdicts):
    m, labels = verdicts[("intercept_resend", 1.0, "on")]
    assert m["qber_rise"] == pytest.approx(m["qber_rise_expected"], abs=0.03)
    assert labels["verdict"] == "detected" and m["secret_key_rate_attacked_bps"] == 0
    m0, labels0 = verdicts[("intercept_resend", 0.0, "on")]
    assert labels0["verdict"] == "undetected" and abs(m0["qber_rise"]) < 0.01


def test_pns_is_caught_by_decoys_and_invisible_without_them(verdicts):
    _, labels = verdicts[("pns", 1.0, "on")]
    assert labels["verdict"] == "detected" and labels["verdict_basis"] == "device"
    # Simulated: the device with decoy analysis switched off keeps delivering key under PNS.
    m, labels = verdicts[("pns", 1.0, "off")]
    assert labels["verdict"] == "undetected" and labels["verdict_basis"] == "device"
    assert "within noise" in labels["evidence"] and m["secret_key_rate_attacked_bps"] > 0


def test_blinding_is_caught_only_by_the_monitor(verdicts):
    m, labels = verdicts[("blinding", 1.0, "on")]
    assert labels["verdict"] == "detected" and m["alarms"] >= 1
    m, labels = verdicts[("blinding", 1.0, "off")]
    assert labels["verdict"] == "undetected" and m["secret_key_rate_attacked_bps"] > 0
