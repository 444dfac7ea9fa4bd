"""Network conditions between a client and a server: RTT, loss and bandwidth on demand.

`network_path(conditions, backend)` gives a path object with `listen()` (the server's listening
socket), `connect(timeout)` (a client socket connected to that server across the emulated link)
and `connection_stats(client_sock)`. Backends:

* `loopback`: plain 127.0.0.1, used for RTT 0 with no loss and no rate limit.
* `proxy`: the userspace proxy (`harness.netem.proxy`), the embedded default.
* `netem`: two network namespaces + veth + `tc netem` (`harness.netem.netns`), where the kernel has it.

`auto` picks netem when it is available and the proxy otherwise; `environment()` says which,
for the run manifest.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from typing import Literal, Protocol

from harness.netem.model import LinkConditions
from harness.netem.netns import NetnsPath, netem_support
from harness.netem.proxy import ConnectionStats, DelayProxy

Backend = Literal["auto", "proxy", "netem"]

__all__ = ["Backend", "ConnectionStats", "LinkConditions", "NetworkPath", "environment", "network_path"]


class NetworkPath(Protocol):
    backend: str

    def listen(self) -> socket.socket: ...

    def connect(self, timeout: float) -> socket.socket: ...

    def connection_stats(self, sock: socket.socket) -> ConnectionStats | None: ...


class LoopbackPath:
    backend = "loopback"

    def __init__(self) -> None:
        self._listener: socket.socket | None = None

    def listen(self) -> socket.socket:
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=128)
        return self._listener

    def connect(self, timeout: float) -> socket.socket:
        if self._listener is None:
            raise RuntimeError("listen() first: the path connects to its server")
        return socket.create_connection(self._listener.getsockname(), timeout)

    def connection_stats(self, sock: socket.socket) -> ConnectionStats | None:
        return None

    def close(self) -> None:
        if self._listener is not None:
            self._listener.close()


class ProxyPath(LoopbackPath):
    backend = "proxy"

    def __init__(self, conditions: LinkConditions, seed: int) -> None:
        super().__init__()
        self.conditions, self.seed = conditions, seed
        self._proxy: DelayProxy | None = None

    def listen(self) -> socket.socket:
        listener = super().listen()
        self._proxy = DelayProxy(listener.getsockname(), self.conditions, self.seed).__enter__()
        return listener

    def connect(self, timeout: float) -> socket.socket:
        if self._proxy is None:
            raise RuntimeError("listen() first: the path connects to its server")
        sock = socket.create_connection(self._proxy.address, timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def connection_stats(self, sock: socket.socket) -> ConnectionStats | None:
        return self._proxy.stats_for(sock.getsockname()) if self._proxy else None

    def close(self) -> None:
        if self._proxy is not None:
            self._proxy.close()
        super().close()


def resolve_backend(conditions: LinkConditions, backend: Backend) -> str:
    """The backend `network_path` will use, or ValueError saying why the requested one cannot."""
    if backend == "netem":
        support = netem_support()
        if not support.available:
            raise ValueError(f"backend 'netem' requested but unavailable: {support.reason}")
        return "netem"
    if conditions.is_plain_loopback:
        return "loopback"
    if backend == "auto" and netem_support().available:
        return "netem"
    return "proxy"


@contextlib.contextmanager
def network_path(conditions: LinkConditions, backend: Backend = "auto",
                 seed: int = 0) -> Iterator[NetworkPath]:
    chosen = resolve_backend(conditions, backend)
    path = (NetnsPath(conditions).__enter__() if chosen == "netem" else
            LoopbackPath() if chosen == "loopback" else ProxyPath(conditions, seed))
    try:
        yield path
    finally:
        path.close()


def environment() -> dict[str, object]:
    """For the run manifest: which network emulation this host offers."""
    support = netem_support()
    return {"netem_available": support.available, "netem_reason": support.reason,
            "default_backend": "netem" if support.available else "proxy"}
