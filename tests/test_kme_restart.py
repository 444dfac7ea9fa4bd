"""`kill -9` a served KME pair at random moments under load, restart it on the same store, repeatedly.

Across every lifetime: each key the master SAE received is collected by the slave, bit for bit
(0 keys lost), and no key value is ever handed out twice. The server runs in its own process on
an SQLite store; a filler thread stands in for the QKD device (random bytes, the same at both ends),
because what is under test is the store and the server, not the physics.
"""

from __future__ import annotations

import base64
import os
import random
import signal
import subprocess
import sys
import threading
import time

import httpx
import pytest

from harness.etsi014_pki import make_test_pki

pytestmark = pytest.mark.slow  # kill -9 four times, ~15 s: runs in CI's slow tier

SERVER = """
import os, sys, threading, time
from harness.etsi014_pki import load_test_pki
from vendors.simulated_qkd.keystore import LinkKeyStore
from vendors.simulated_qkd.kme_server import KmeServer
from vendors.simulated_qkd.served import DEFAULT_DIRECTORY
store = LinkKeyStore(256, 400, sys.argv[2])
server = KmeServer(store, load_test_pki(sys.argv[1]), DEFAULT_DIRECTORY)
urls = server.start()
def fill():
    while True:
        if store.stored_key_count() < 300:
            m = os.urandom(32 * 20)
            store.deposit(m, m)
        time.sleep(0.005)
threading.Thread(target=fill, daemon=True).start()
print(urls.a, urls.b, flush=True)
threading.Event().wait()
"""


def _start(pki_dir, store_path):
    proc = subprocess.Popen([sys.executable, "-c", SERVER, str(pki_dir), str(store_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if not line:
        proc.kill()
        raise AssertionError(f"server did not start: {proc.stderr.read()}")
    return proc, line.split()


def _client(pki, sae):
    import ssl
    ctx = ssl.create_default_context(cafile=str(pki.ca_cert))
    ctx.load_cert_chain(str(pki.saes[sae].cert), str(pki.saes[sae].key))
    return httpx.Client(verify=ctx, timeout=5)


@pytest.mark.timeout(240)
def test_kill_9_at_random_moments_loses_no_received_key_and_repeats_none(tmp_path):
    pki = make_test_pki(tmp_path / "pki")
    store_path = tmp_path / "store.sqlite"
    rng = random.Random(20261201)
    received: dict[str, str] = {}  # key_ID -> key, as the master got it
    collected: dict[str, str] = {}  # key_ID -> key, as the slave got it
    pending: list[str] = []  # received by the master, not yet collected
    # Collections whose reply was cut off by the kill: the KME may have committed them (then the
    # key is gone, as single delivery demands: no protocol can both deliver once and resend).
    in_doubt: list[str] = []
    lock = threading.Lock()
    kills = 0
    for _ in range(4):
        proc, (url_a, url_b) = _start(tmp_path / "pki", store_path)
        stop = threading.Event()

        def load(url_a=url_a, url_b=url_b, stop=stop):
            master, slave = _client(pki, "SAE_A"), _client(pki, "SAE_B")
            with master, slave:
                while not stop.is_set():
                    try:
                        r = master.post(f"{url_a}/api/v1/keys/SAE_B/enc_keys", json={"number": 4})
                        if r.status_code == 200:
                            with lock:
                                for k in r.json()["keys"]:
                                    assert k["key_ID"] not in received
                                    received[k["key_ID"]] = k["key"]
                                    pending.append(k["key_ID"])
                        with lock:
                            ids, pending[:3] = pending[:3], []
                        if ids:
                            try:
                                r = slave.post(f"{url_b}/api/v1/keys/SAE_A/dec_keys",
                                               json={"key_IDs": [{"key_ID": i} for i in ids]})
                            except httpx.HTTPError:
                                with lock:
                                    in_doubt.extend(ids)
                                raise
                            with lock:
                                if r.status_code != 200:
                                    pending.extend(ids)
                                for k in r.json().get("keys", []):
                                    assert k["key_ID"] not in collected
                                    collected[k["key_ID"]] = k["key"]
                    except httpx.HTTPError:  # the server was killed mid-request: that reply never came
                        time.sleep(0.02)

        workers = [threading.Thread(target=load, daemon=True) for _ in range(2)]
        for w in workers:
            w.start()
        time.sleep(rng.uniform(0.3, 1.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        kills += 1
        stop.set()
        for w in workers:
            w.join(10)
        proc.stdout.close()
        proc.stderr.close()

    # One last lifetime: the slave collects whatever the master received and it has not.
    proc, (url_a, url_b) = _start(tmp_path / "pki", store_path)
    try:
        with _client(pki, "SAE_B") as slave:
            for i in range(0, len(pending), 100):
                ids = pending[i:i + 100]
                r = slave.post(f"{url_b}/api/v1/keys/SAE_A/dec_keys",
                               json={"key_IDs": [{"key_ID": k} for k in ids]})
                assert r.status_code == 200, r.text
                collected.update({k["key_ID"]: k["key"] for k in r.json()["keys"]})
            cut_off = 0
            for key_id in in_doubt:
                r = slave.post(f"{url_b}/api/v1/keys/SAE_A/dec_keys", json={"key_IDs": [{"key_ID": key_id}]})
                if r.status_code == 200:
                    collected[key_id] = r.json()["keys"][0]["key"]
                else:
                    assert r.status_code == 400, r.text
                    cut_off += 1
    finally:
        proc.kill()
        proc.wait(10)
        proc.stdout.close()
        proc.stderr.close()
    assert kills == 4 and len(received) > 100
    # 0 keys lost that the master received, each bit for bit; only a collection whose reply the
    # kill cut off (at most one batch of 3 per worker per kill) may be missing on the slave side.
    assert cut_off <= 2 * 3 * kills
    assert len(collected) + cut_off == len(received)
    assert all(received[k] == v for k, v in collected.items())
    values = [base64.b64decode(v) for v in received.values()]
    assert len(set(values)) == len(values)  # 0 key values delivered twice
    assert os.path.getsize(store_path) > 0


@pytest.mark.timeout(300)
def test_kme_serve_killed_and_restarted_on_its_store_keeps_held_keys_and_never_repeats(tmp_path):
    """The CLI as issue 11's `kme_restart` fault uses it: `kme serve --store F --seed N`, kill -9, again."""
    import socket

    from vendors.etsi014 import Etsi014Adapter

    pki_dir = tmp_path / "pki"
    make_test_pki(pki_dir)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1] if s.getsockname()[1] < 65000 else 47010
    cmd = [sys.executable, "-c", "from harness.cli.app import main; main()", "kme", "serve",
           "--certs", str(pki_dir), "--store", str(tmp_path / "store.sqlite"), "--seed", "5",
           "--profile", "free-space-ground",
           "--port", str(port), "--time-scale", "20"]
    options = {"master_kme_url": f"https://127.0.0.1:{port}",
               "slave_kme_url": f"https://127.0.0.1:{port + 1}",
               "ca_cert": str(pki_dir / "ca.pem"), "master_sae_id": "SAE_A",
               "master_cert": str(pki_dir / "SAE_A.pem"), "master_key": str(pki_dir / "SAE_A.key"),
               "slave_sae_id": "SAE_B", "slave_cert": str(pki_dir / "SAE_B.pem"),
               "slave_key": str(pki_dir / "SAE_B.key")}

    def lifetime():
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})
        for _ in range(50):
            line = proc.stdout.readline()
            if "KME_A (SAE_A) at" in line or not line:
                break
        assert "KME_A (SAE_A) at" in line, line
        client = Etsi014Adapter(options)
        deadline = time.monotonic() + 60
        while client.status().stored_key_count < 8 and time.monotonic() < deadline:
            time.sleep(0.2)
        return proc, client

    proc, client = lifetime()
    first = client.enc_keys(8)
    client.close()
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    proc.stdout.close()

    proc, client = lifetime()
    try:
        # Held for the slave across the kill, bit for bit; the new lifetime's keys are new bits.
        assert [k.material for k in client.dec_keys([k.key_id for k in first])] == [k.material for k in first]
        second = client.enc_keys(8)
        assert not {k.material for k in first} & {k.material for k in second}
    finally:
        client.close()
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
