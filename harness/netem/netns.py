"""`tc netem` between two network namespaces, where the kernel has it (a lab Linux host, as root).

The set-up of Paquin, Stebila and Tamvada (PQCrypto 2020): a client namespace and a server
namespace joined by a veth pair, netem on both ends (each end adds half the RTT, the loss rate
and the rate limit to what it sends). Sockets are created inside a namespace by a short-lived
thread that `setns()`s into it: a network namespace is per thread, and a socket keeps the
namespace it was created in, so the rest of the process keeps running where it was.
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import os
import shutil
import socket
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import TypeVar

from harness.netem.model import LinkConditions

_CLONE_NEWNET = 0x40000000
_counter = itertools.count()
T = TypeVar("T")


@dataclass(frozen=True)
class NetemSupport:
    available: bool
    reason: str


def _run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=10, check=False)


@cache
def netem_support() -> NetemSupport:
    """Probe once per process: can we create a namespace and attach a netem qdisc in it?"""
    if os.geteuid() != 0:
        return NetemSupport(False, "netem needs root (network namespaces and tc)")
    missing = [tool for tool in ("ip", "tc") if shutil.which(tool) is None]
    if missing:
        return NetemSupport(False, f"missing {', '.join(missing)} (install iproute2)")
    name = f"qsb-probe-{os.getpid()}"
    made = _run("ip", "netns", "add", name)
    if made.returncode:
        return NetemSupport(False, f"cannot create a network namespace: {made.stderr.strip()}")
    try:
        probe = _run("ip", "netns", "exec", name, "tc", "qdisc", "add", "dev", "lo", "root", "netem",
                     "delay", "1ms")
    finally:
        _run("ip", "netns", "del", name)
    if probe.returncode:
        return NetemSupport(False, f"kernel has no netem qdisc ({probe.stderr.strip()}); "
                                   "load it with `modprobe sch_netem`")
    return NetemSupport(True, "tc netem in network namespaces")


def in_namespace(name: str, make: Callable[[], T]) -> T:
    """Call `make` (e.g. a socket constructor) inside network namespace `name`."""
    libc = ctypes.CDLL(None, use_errno=True)
    result: list[T] = []
    error: list[BaseException] = []

    def enter_and_make() -> None:
        try:
            fd = os.open(f"/run/netns/{name}", os.O_RDONLY)
            try:
                if libc.setns(fd, _CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), f"setns into {name} failed")
            finally:
                os.close(fd)
            result.append(make())
        except BaseException as exc:
            error.append(exc)

    thread = threading.Thread(target=enter_and_make)  # dies with the namespace it entered
    thread.start()
    thread.join()
    if error:
        raise error[0]
    return result[0]


def netem_args(conditions: LinkConditions) -> list[str]:
    """The netem options for one end of the veth pair (each end delays what it sends)."""
    args = ["delay", f"{conditions.rtt_ms / 2:g}ms"]
    if conditions.loss_pct:
        args += ["loss", f"{conditions.loss_pct:g}%"]
    if conditions.bandwidth_mbps:
        args += ["rate", f"{conditions.bandwidth_mbps:g}mbit"]
    return args


class NetnsPath:
    """Client and server namespaces joined by a veth pair with netem on both ends."""

    backend = "netem"

    def __init__(self, conditions: LinkConditions) -> None:
        self.conditions = conditions
        tag = f"{os.getpid()}-{next(_counter)}"
        self.client_ns, self.server_ns = f"qsb-c-{tag}", f"qsb-s-{tag}"
        self._veth = (f"qsbc{tag}"[:15], f"qsbs{tag}"[:15])
        self.server_ip, self.client_ip = "10.213.0.2", "10.213.0.1"
        self._listener: socket.socket | None = None

    def __enter__(self) -> NetnsPath:
        needs_netem = not self.conditions.is_plain_loopback
        if needs_netem and not netem_support().available:
            raise RuntimeError(f"netem backend unavailable: {netem_support().reason}")
        try:
            self._setup(needs_netem)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check(self, *cmd: str) -> None:
        done = _run(*cmd)
        if done.returncode:
            raise RuntimeError(f"`{' '.join(cmd)}` failed: {done.stderr.strip()}")

    def _setup(self, with_netem: bool) -> None:
        cveth, sveth = self._veth
        for ns in (self.client_ns, self.server_ns):
            self._check("ip", "netns", "add", ns)
            self._check("ip", "-n", ns, "link", "set", "lo", "up")
        self._check("ip", "link", "add", cveth, "netns", self.client_ns, "type", "veth",
                    "peer", "name", sveth, "netns", self.server_ns)
        for ns, dev, ip in ((self.client_ns, cveth, self.client_ip), (self.server_ns, sveth, self.server_ip)):
            self._check("ip", "-n", ns, "addr", "add", f"{ip}/24", "dev", dev)
            self._check("ip", "-n", ns, "link", "set", dev, "up")
            if with_netem:
                self._check("ip", "netns", "exec", ns, "tc", "qdisc", "add", "dev", dev, "root", "netem",
                            *netem_args(self.conditions))

    def listen(self) -> socket.socket:
        self._listener = in_namespace(self.server_ns, lambda: socket.create_server((self.server_ip, 0),
                                                                                   backlog=128))
        return self._listener

    def connect(self, timeout: float) -> socket.socket:
        if self._listener is None:
            raise RuntimeError("listen() first: the path connects to its server")
        port = self._listener.getsockname()[1]
        return in_namespace(self.client_ns, lambda: socket.create_connection((self.server_ip, port), timeout))

    def connection_stats(self, sock: socket.socket) -> None:
        return None  # the kernel does the work; nothing is counted in user space

    def close(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.close()
        for ns in (self.client_ns, self.server_ns):  # deleting a namespace deletes its veth end
            _run("ip", "netns", "del", ns)
