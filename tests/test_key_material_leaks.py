"""Delivered key material never appears in results, the run directory or the logs.

Every key the store cuts is recorded here (test memory only); the QKD suites then run in
process and over ETSI 014 with logging at DEBUG, their rows are written to a run directory
the way the runner writes them, and every file and log line is searched for each key as raw
bytes, hex and Base64.
"""

from __future__ import annotations

import base64
import json
import logging

import pandas as pd

from harness.plan import param_columns
from harness.store import RunStore, row_columns
from harness.suite import MeasureContext
from suites.etsi014_conformance import ConformanceParams, Etsi014Conformance
from suites.key_delivery import KeyDeliveryParams, KeyDeliverySuite
from suites.key_quality import KeyQuality, KeyQualityParams
from tests.qkd_helpers import FixedRateSource
from vendors.etsi014 import Etsi014Adapter
from vendors.simulated_qkd.adapter import SimulatedQKDAdapter


def _record_keys(adapter: SimulatedQKDAdapter) -> list[bytes]:
    store, seen = adapter.link.store, []
    take = store.take

    def spying_take(*args, **kwargs):
        keys = take(*args, **kwargs)
        seen.extend(k.material for k in keys)
        return keys

    store.take = spying_take  # type: ignore[method-assign]
    return seen


def _patterns(material: bytes) -> list[bytes]:
    return [material, material.hex().encode(), base64.b64encode(material)]


def test_no_key_material_in_results_or_logs(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    device = SimulatedQKDAdapter({"max_key_count": 400, "time_scale": 20},
                                 source=FixedRateSource(64_000, 0.25))
    seen = _record_keys(device)
    ctx = MeasureContext(seed=5, work_dir=tmp_path / "work", timeout_s=60)
    runs = []
    try:
        client = Etsi014Adapter({k: v for k, v in vars(device.etsi014_endpoints()).items() if v is not None})
        try:
            for name, adapter in (("simulated", device), ("etsi014", client)):
                kd = KeyDeliveryParams(requests=10, consumption_keys_per_s=[4.0], dynamics_duration_s=1,
                                       key_wait_s=20)
                runs.append(("key_delivery", name, list(KeyDeliverySuite().measure(
                    adapter, kd, {"consumption_keys_per_s": 4.0}, ctx))))
                runs.append(("key_quality", name, list(KeyQuality().measure(
                    adapter, KeyQualityParams(bits=4096, key_wait_s=20), {"key_bits": 4096}, ctx))))
                runs.append(("etsi014_conformance", name, list(Etsi014Conformance().measure(
                    adapter, ConformanceParams(key_wait_s=10), {}, ctx))))
        finally:
            client.close()
    finally:
        device.close()
    assert len(seen) > 50  # the scan below is about real deliveries

    labels = sorted({k for _, _, rows in runs for r in rows for k in r.labels})
    store = RunStore.create(tmp_path / "run", {"columns": row_columns(param_columns([]), labels)})
    for i, (suite, vendor, rows) in enumerate(runs):
        store.write_case(f"case{i}", [{"run_id": "r", "case_id": f"case{i}", "suite": suite, "vendor": vendor,
                                       "adapter": vendor, "repeat": 0, "status": "ok", "reason": "",
                                       **r.labels, "metric": r.metric, "value": r.value, "unit": r.unit,
                                       "sample": r.sample} for r in rows])
    text = store.read().astype(str).to_csv().encode() + json.dumps(store.manifest).encode()
    files = [p.read_bytes() for p in (tmp_path / "run").rglob("*") if p.is_file()]
    blobs = [text, caplog.text.encode(), *files]
    assert isinstance(store.read(), pd.DataFrame) and len(store.read()) > 100
    leaks = [m.hex()[:8] for m in seen for pattern in _patterns(m) for blob in blobs if pattern in blob]
    assert not leaks, f"key material found for keys starting {sorted(set(leaks))[:5]}"
    # Control: the same scan does find a key once one is logged.
    logging.getLogger("leak-control").debug("oops %s", base64.b64encode(seen[-1]).decode())
    assert any(pattern in caplog.text.encode() for pattern in _patterns(seen[-1]))


def test_key_repr_and_errors_hide_material():
    from harness.adapters import Key, KeyDeliveryError

    key = Key("4b9c1a6e-0000-4000-8000-000000000000", bytes(range(32)))
    for text in (repr(key), str(key), str([key]), str(KeyDeliveryError(400, "bad"))):
        assert bytes(range(32)).hex() not in text and "\\x00\\x01" not in text
    assert "256 bits" in str(key)
