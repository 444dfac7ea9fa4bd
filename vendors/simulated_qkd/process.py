"""The simulated device served by its own process: `qsbench kme serve` on a persistent store.

This is the device as a lab sees one: a separate process whose KMEs answer ETSI GS QKD 014
over HTTPS with mutual TLS on loopback, nothing else observable. The adapter starts
`qsbench kme serve --certs DIR --store FILE --seed N` in a private directory (a fresh test
PKI, the SQLite key store) and reaches it with the `etsi014` client.

Fault injection: the link's faults (fibre_cut, qber_rise, ...) through the device's control
endpoint (`/control/v1/faults`, the OPERATOR certificate), their durations turned into device
time by `time_scale`; and `kme_restart`: SIGKILL of the server's whole process group (the KMEs and
the worker running the QKD core's blocks, mid-request or mid-block), then, once the fault's
duration has passed, the same command again on the same store and seed, as a supervisor
restarting a crashed service would. Keys the master received before the kill are still held for
the slave after the restart; the seeded key stream continues where the store says it stopped.

Options: `profile`, `fibre_km`, `key_size`, `max_key_count`, `block_bits`, `seed` as for
`simulated_qkd` (seed default 0), and `time_scale` (device seconds per wall second, default 1).
The device has no telemetry here, so a suite's link time is wall time; `time_scale` only makes
the device distil faster.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from harness.adapters import (
    Adapter,
    Availability,
    Capability,
    Etsi014Endpoints,
    Fault,
    Key,
    Kind,
    KmeStatus,
    NotApplicable,
)
from harness.etsi014_pki import make_test_pki
from vendors.etsi014 import Etsi014Client, client_ssl_context
from vendors.simulated_qkd.link import FAULT_KINDS as LINK_FAULT_KINDS

# control.py and served.py (the KME app: starlette, uvicorn) are imported where a process is started
# or reached, not here: a scenario that names this adapter and is only validated needs neither.

READY = "KME_A (SAE_A) at"  # the line `qsbench kme serve` prints once both KMEs listen
START_TIMEOUT_S = 120.0
FAULT_KINDS = ("kme_restart", *LINK_FAULT_KINDS)


def _free_port_pair() -> int:
    """A port P with P and P + 1 free on loopback (KME A and KME B), found by binding both."""
    for _ in range(50):
        with socket.socket() as a:
            a.bind(("127.0.0.1", 0))
            port = a.getsockname()[1]
            if port >= 65535:
                continue
            with socket.socket() as b:
                try:
                    b.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
            return port
    raise RuntimeError("no two consecutive free ports on loopback")


class ServedProcess:
    """One `qsbench kme serve` process group: start, kill -9, start again on the same store."""

    def __init__(self, argv: list[str], log: Path) -> None:
        self.argv, self.log = argv, log
        self._proc: subprocess.Popen[bytes] | None = None
        self.lifetimes = 0

    def start(self, timeout_s: float = START_TIMEOUT_S) -> None:
        offset = self.log.stat().st_size if self.log.exists() else 0
        with open(self.log, "ab") as out:
            # A session of its own, so a kill reaches the block worker the server spawned too.
            self._proc = subprocess.Popen(self.argv, stdout=out, stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL, start_new_session=True,
                                          env={**os.environ, "PYTHONUNBUFFERED": "1"})
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            text = self.log.read_bytes()[offset:].decode("utf-8", "replace")
            if READY in text:
                self.lifetimes += 1
                return
            if self._proc.poll() is not None:
                raise RuntimeError(f"`qsbench kme serve` exited {self._proc.returncode}: {text[-500:]}")
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"`qsbench kme serve` did not listen within {timeout_s:g} s")

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    def kill(self) -> None:
        """SIGKILL to the whole process group, and reap it."""
        if self._proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._proc.pid, signal.SIGKILL)
        self._proc.wait(30)
        self._proc = None

    def stop(self) -> None:
        """Ctrl-C, as an operator stops it (the store closes cleanly); SIGKILL if it lingers."""
        if self._proc is None:
            return
        try:
            os.killpg(self._proc.pid, signal.SIGINT)
            self._proc.wait(15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
        self.kill()


class ServedProcessAdapter(Adapter):
    name: ClassVar[str] = "simulated_qkd_served"
    kind: ClassVar[Kind] = Kind.QKD
    capabilities: ClassVar[frozenset[Capability]] = frozenset({
        Capability.KEY_DELIVERY, Capability.ETSI014, Capability.FAULT_INJECTION})
    options_accepted: ClassVar[frozenset[str]] = frozenset({
        "profile", "key_size", "block_bits", "max_key_count", "fibre_km", "seed", "time_scale"})

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(options)
        o = self.options
        self._dir = tempfile.TemporaryDirectory(prefix="qsbench-served-kme-")
        work = Path(self._dir.name)
        from vendors.simulated_qkd.control import CLIENT_IDS

        self.pki = make_test_pki(work / "pki", sae_ids=CLIENT_IDS)
        self.port = _free_port_pair()
        self.time_scale = float(o.get("time_scale", 1.0))
        self.store_path = work / "keystore.sqlite"
        argv = [sys.executable, "-m", "harness", "kme", "serve", "--certs", str(work / "pki"),
                "--store", str(self.store_path), "--seed", str(int(o.get("seed", 0))),
                "--profile", str(o.get("profile", "gys-2004")),
                "--fibre-km", str(float(o.get("fibre_km", 25.0))),
                "--port", str(self.port), "--time-scale", str(self.time_scale),
                "--key-size", str(int(o.get("key_size", 256))),
                "--max-key-count", str(int(o.get("max_key_count", 1000)))]
        if o.get("block_bits"):
            argv += ["--block-bits", str(int(o["block_bits"]))]
        self.process = ServedProcess(argv, work / "kme.log")
        self._restart: threading.Thread | None = None
        self._restart_error: BaseException | None = None
        self._lock = threading.Lock()
        try:
            self.process.start()
        except BaseException:
            self._dir.cleanup()
            raise
        self._client = Etsi014Client(self.etsi014_endpoints(), timeout_s=5.0)

    @classmethod
    def availability(cls) -> Availability:
        try:
            import httpx  # noqa: F401
            import uvicorn  # noqa: F401
        except ImportError as exc:
            return Availability(False, f"serving needs httpx and uvicorn: {exc}")
        return Availability(True)

    @classmethod
    def version(cls) -> str:
        from importlib.metadata import version

        return f"qsbench {version('qsbench')} simulated QKD (served process)"

    def etsi014_endpoints(self) -> Etsi014Endpoints:
        # here, not at import: served.py loads the KME server (starlette, uvicorn), which naming this
        # adapter in a scenario that is only validated does not need
        from vendors.simulated_qkd.served import THIRD_SAE

        p, saes = self.pki, self.pki.saes
        return Etsi014Endpoints(
            master_kme_url=f"https://127.0.0.1:{self.port}",
            slave_kme_url=f"https://127.0.0.1:{self.port + 1}",
            ca_cert=str(p.ca_cert), master_sae_id="SAE_A", master_cert=str(saes["SAE_A"].cert),
            master_key=str(saes["SAE_A"].key), slave_sae_id="SAE_B", slave_cert=str(saes["SAE_B"].cert),
            slave_key=str(saes["SAE_B"].key), third_sae_id=THIRD_SAE, third_cert=str(saes[THIRD_SAE].cert),
            third_key=str(saes[THIRD_SAE].key))

    def _check_restarts(self) -> None:
        # A restart that failed is a harness fault, not a device that stays down: say so.
        if self._restart_error is not None:
            raise RuntimeError(f"restarting the served KME failed: {self._restart_error}")

    def status(self) -> KmeStatus:
        self._check_restarts()
        return self._client.status()

    def enc_keys(self, number: int = 1, size_bits: int | None = None) -> list[Key]:
        self._check_restarts()
        return self._client.enc_keys(number, size_bits)

    def dec_keys(self, key_ids: Sequence[str]) -> list[Key]:
        self._check_restarts()
        return self._client.dec_keys(key_ids)

    def fault_kinds(self) -> Sequence[str]:
        return FAULT_KINDS

    def inject(self, fault: Fault) -> None:
        if fault.kind not in FAULT_KINDS:
            raise NotApplicable(f"the served simulated device cannot inject {fault.kind!r}; "
                                f"it can: {FAULT_KINDS}")
        if fault.kind != "kme_restart":
            body: dict[str, Any] = {"kind": fault.kind, "magnitude": fault.magnitude}
            if fault.duration_s < float("inf"):
                body["duration_s"] = fault.duration_s * self.time_scale  # wall seconds -> device time
            self.control("POST", body)
            return
        if not 0 < fault.duration_s < float("inf"):
            raise ValueError(f"kme_restart needs a finite downtime > 0 s, got {fault.duration_s!r}")
        with self._lock:
            if self._restart is not None and self._restart.is_alive():
                raise RuntimeError("the served KME is already restarting")
            self.process.kill()
            self._restart = threading.Thread(target=self._start_after, args=(fault.duration_s,),
                                             name="kme-restart", daemon=True)
            self._restart.start()

    def _start_after(self, downtime_s: float) -> None:
        time.sleep(downtime_s)
        try:
            self.process.start()
        except BaseException as exc:
            self._restart_error = exc

    def control(self, method: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """One request to the device's control endpoint as its operator: the device's fault state."""
        import httpx

        from vendors.simulated_qkd.control import OPERATOR_ID

        operator = self.pki.saes[OPERATOR_ID]
        ctx = client_ssl_context(str(self.pki.ca_cert), str(operator.cert), str(operator.key))
        with httpx.Client(verify=ctx, timeout=10.0) as client:
            resp = client.request(method, f"https://127.0.0.1:{self.port}/control/v1/faults", json=body)
        if resp.status_code != 200:
            raise RuntimeError(f"the device's control endpoint answered {resp.status_code}: "
                               f"{resp.text[:300]}")
        return resp.json()

    def clear_faults(self) -> None:
        """Wait for a restart in progress to end, then clear the link's faults."""
        if self._restart is not None:
            self._restart.join(START_TIMEOUT_S)
        self.control("DELETE")

    def close(self) -> None:
        if self._restart is not None:
            self._restart.join(START_TIMEOUT_S)
        self._client.close()
        self.process.stop()
        self._dir.cleanup()
