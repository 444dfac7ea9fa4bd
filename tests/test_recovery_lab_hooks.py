"""The lab-hook path: hooks drive the simulated device's control endpoint, the suite sees only ETSI 014.

The first tests check the control endpoint itself on an in-process served link (FixedRateSource,
a test double for the QKD core: what is under test is the endpoint). The slow one is the worked
example of examples/lab_hooks/: a `qsbench kme serve` process, `qsbench run` on the shipped
scenario (only its port and paths rewritten for the test's directory), the hook script started
by the suite at the scheduled times.
"""

from __future__ import annotations

import ssl
import subprocess
import sys
from pathlib import Path

import httpx
import pandas as pd
import pytest

from tests.conftest import qsbench_cmd
from tests.qkd_helpers import FixedRateSource
from vendors.simulated_qkd.adapter import SimulatedQKDAdapter
from vendors.simulated_qkd.process import ServedProcess, _free_port_pair

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "lab_hooks"


@pytest.fixture
def served():
    adapter = SimulatedQKDAdapter({"fibre_km": 10, "time_scale": 5},
                                  source=FixedRateSource(secret_bits_per_s=256 * 400, block_seconds=1.0))
    endpoints = adapter.etsi014_endpoints()
    pki = Path(endpoints.ca_cert).parent

    def client(identity):
        ctx = ssl.create_default_context(cafile=endpoints.ca_cert)
        ctx.load_cert_chain(str(pki / f"{identity}.pem"), str(pki / f"{identity}.key"))
        return httpx.Client(verify=ctx, timeout=10, base_url=endpoints.master_kme_url)

    try:
        yield adapter, client
    finally:
        adapter.close()


def test_the_operator_injects_and_clears_faults_and_nobody_else_can(served):
    adapter, client = served
    with client("OPERATOR") as op, client("SAE_A") as sae:
        r = op.post("/control/v1/faults", json={"kind": "attenuation_step", "magnitude": 3.0})
        assert r.status_code == 200, r.text
        assert r.json()["faults"] == [{"kind": "attenuation_step", "remaining_s": None, "magnitude": 3.0}]
        assert adapter.link.active_faults()["attenuation_step"][1] == 3.0
        r = op.post("/control/v1/faults", json={"kind": "fibre_cut", "duration_s": 30})
        assert 0 < next(f for f in r.json()["faults"] if f["kind"] == "fibre_cut")["remaining_s"] <= 30
        # An SAE's certificate reaches the ETSI 014 API but not the control endpoint.
        assert sae.get("/api/v1/keys/SAE_B/status").status_code == 200
        refused = sae.post("/control/v1/faults", json={"kind": "fibre_cut"})
        assert refused.status_code == 403 and "not the device operator" in refused.json()["message"]
        assert sae.delete("/control/v1/faults").status_code == 403
        assert set(adapter.link.active_faults()) == {"attenuation_step", "fibre_cut"}
        for bad, message in [({"kind": "earthquake"}, "kind shall be one of"),
                             ({"kind": "qber_rise"}, "needs a magnitude"),
                             ({"kind": "fibre_cut", "duration_s": "long"}, "finite number"),
                             ({"kind": "fibre_cut", "duration_s": -1}, "must be > 0"),
                             ({"kind": "fibre_cut", "colour": "red"}, "unknown field")]:
            r = op.post("/control/v1/faults", json=bad)
            assert r.status_code == 400 and message in r.json()["message"], (bad, r.text)
        assert op.delete("/control/v1/faults").json()["faults"] == []
        assert adapter.link.active_faults() == {}
        assert op.get("/control/v1/nothing").status_code == 404  # other paths: the ETSI 014 app's 404


def test_the_example_hook_refuses_to_run_outside_the_suite():
    done = subprocess.run([sys.executable, str(EXAMPLE / "simulated_device_hook.py"), "--kme",
                           "https://127.0.0.1:1", "--certs", "."], capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and "QSBENCH_FAULT_PHASE" in done.stderr


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_the_worked_example_runs_the_recovery_suite_through_hooks(tmp_path):
    subprocess.run([*qsbench_cmd(), "kme", "certs", str(tmp_path / "kme-pki")], check=True,
                   capture_output=True, timeout=60)
    port = _free_port_pair()
    server = ServedProcess([*qsbench_cmd(), "kme", "serve", "--certs", str(tmp_path / "kme-pki"),
                            "--port", str(port), "--profile", "free-space-ground", "--fibre-km", "50",
                            "--time-scale", "20", "--max-key-count", "400"], tmp_path / "kme.log")
    text = (EXAMPLE / "recovery-hooks.yaml").read_text()
    text = (text.replace("8443", str(port)).replace("8444", str(port + 1))
            .replace("examples/lab_hooks/simulated_device_hook.py", str(EXAMPLE / "simulated_device_hook.py"))
            .replace("python3,", f"{sys.executable},"))
    (tmp_path / "scenario.yaml").write_text(text)
    server.start()
    try:
        done = subprocess.run([*qsbench_cmd(), "run", "scenario.yaml", "--out", "results"], cwd=tmp_path,
                              capture_output=True, text=True, timeout=300)
    finally:
        server.stop()
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    df = pd.read_parquet(tmp_path / done.stdout.strip().splitlines()[-1] / "measurements")
    value = df[df["sample"] == 0].set_index(["fault", "metric"])["value"]
    for fault in ("fibre_cut", "classical_channel_down"):
        assert value[(fault, "fault_detected")] == 1 and value[(fault, "recovered")] == 1
        assert value[(fault, "keys_lost")] == 0 and value[(fault, "key_mismatches")] == 0
        assert value[(fault, "keys_repeated")] == 0
        rate = df[(df.fault == fault) & (df.metric == "key_rate_bps")].sort_values("sample").value.tolist()
        # The hooks really switched the device: keys arrive before 8 s and after 16 s; from the
        # second tick of the fault on, not one (the first may see a block that began before it).
        assert sum(rate[:4]) > 0 and sum(rate[5:8]) == 0 and sum(rate[8:]) > 0, rate
