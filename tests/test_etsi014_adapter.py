"""The etsi014 client adapter against our KME: options, refusals as KeyDeliveryError, unreachable KMEs."""

from __future__ import annotations

import socket

import pytest

from harness.adapters import KeyDelivery, KeyDeliveryError
from tests.qkd_helpers import FixedRateSource
from vendors.etsi014 import Etsi014Adapter
from vendors.simulated_qkd.adapter import SimulatedQKDAdapter


@pytest.fixture(scope="module")
def served():
    device = SimulatedQKDAdapter({"time_scale": 5}, source=FixedRateSource(64_000, 0.2))
    options = {k: v for k, v in vars(device.etsi014_endpoints()).items() if v is not None}
    yield options
    device.close()


def test_keys_status_and_spec_refusals(served):
    client = Etsi014Adapter(served)
    try:
        assert isinstance(client, KeyDelivery)
        status = client.status()
        assert (status.master_SAE_ID, status.slave_SAE_ID, status.key_size) == ("SAE_A", "SAE_B", 256)
        keys = client.enc_keys(3, 512)
        assert [k.size_bits for k in keys] == [512] * 3
        assert [k.material for k in client.dec_keys([k.key_id for k in keys])] == [k.material for k in keys]
        with pytest.raises(KeyDeliveryError) as info:
            client.enc_keys(1, 100)
        assert (info.value.http_status, info.value.message) == (400, "size shall be a multiple of 8")
        with pytest.raises(KeyDeliveryError) as info:
            client.dec_keys([keys[0].key_id])
        assert info.value.http_status == 400
    finally:
        client.close()


def test_missing_options_and_files_are_named():
    with pytest.raises(ValueError, match=r"missing option.*master_kme_url"):
        Etsi014Adapter({})


def test_unreachable_kme_is_status_0(served):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]  # closed again when the block ends: nothing listens there
    client = Etsi014Adapter({**served, "master_kme_url": f"https://127.0.0.1:{dead}", "timeout_s": 2})
    try:
        with pytest.raises(KeyDeliveryError) as info:
            client.status()
        assert info.value.http_status == 0 and "unreachable" in info.value.message
    finally:
        client.close()
