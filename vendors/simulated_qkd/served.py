"""A simulated link behind its two ETSI GS QKD 014 KMEs, with its device clock paced to wall time."""

from __future__ import annotations

import threading

from harness.adapters import Etsi014Endpoints
from harness.etsi014_pki import TestPki
from vendors.simulated_qkd.control import control_routes
from vendors.simulated_qkd.keystore import End
from vendors.simulated_qkd.kme_app import KmeLimits, LinkDirectory
from vendors.simulated_qkd.kme_server import LOOPBACK, KmeServer, KmeUrls
from vendors.simulated_qkd.link import SimulatedLink
from vendors.simulated_qkd.offload import KeySourceStopped, ProcessKeySource

DEFAULT_DIRECTORY = LinkDirectory(kme_ids={End.A: "KME_A", End.B: "KME_B"},
                                  sae_ids={End.A: "SAE_A", End.B: "SAE_B"})
THIRD_SAE = "SAE_C"  # in the test PKI, served by neither KME


class ServedLink:
    def __init__(self, link: SimulatedLink, pki: TestPki, directory: LinkDirectory = DEFAULT_DIRECTORY,
                 host: str = LOOPBACK, port: int = 0, time_scale: float = 1.0,
                 limits: KmeLimits | None = None, log_level: str = "warning") -> None:
        if not time_scale > 0:
            raise ValueError(f"time_scale={time_scale!r}: must be > 0")
        self.link, self.pki, self.directory, self.time_scale = link, pki, directory, time_scale
        self.server = KmeServer(link.store, pki, directory, link.unavailable_reason, limits, host, port,
                                log_level, control=control_routes(link))
        self._stop = threading.Event()
        self._clock: threading.Thread | None = None
        self._offloaded: ProcessKeySource | None = None
        self.urls: KmeUrls | None = None

    def start(self) -> KmeUrls:
        self.urls = self.server.start()
        # Blocks run in a worker process: computed here they would hold the GIL for seconds
        # and stall every request the KMEs are answering meanwhile.
        self._offloaded = ProcessKeySource(self.link.source)
        self.link.source = self._offloaded
        self._clock = threading.Thread(target=self._run_clock, name="qkd-device-clock", daemon=True)
        self._clock.start()
        return self.urls

    def _run_clock(self) -> None:
        try:
            self.link.run_paced(self._stop, self.time_scale)
        except KeySourceStopped:
            if not self._stop.is_set():
                raise

    def stop(self) -> None:
        self._stop.set()
        self.server.stop()
        if self._offloaded is not None:
            self._offloaded.close()  # ends a block in progress at once
            self.link.source = self._offloaded.inner
        if self._clock is not None:
            self._clock.join(5)

    def endpoints(self) -> Etsi014Endpoints:
        if self.urls is None:
            raise RuntimeError("the link is not served yet: call start() first")
        saes, d = self.pki.saes, self.directory
        master, slave = d.sae_ids[End.A], d.sae_ids[End.B]
        third = saes.get(THIRD_SAE)
        return Etsi014Endpoints(
            master_kme_url=self.urls.a, slave_kme_url=self.urls.b, ca_cert=str(self.pki.ca_cert),
            master_sae_id=master, master_cert=str(saes[master].cert), master_key=str(saes[master].key),
            slave_sae_id=slave, slave_cert=str(saes[slave].cert), slave_key=str(saes[slave].key),
            third_sae_id=THIRD_SAE if third else None, third_cert=str(third.cert) if third else None,
            third_key=str(third.key) if third else None)
