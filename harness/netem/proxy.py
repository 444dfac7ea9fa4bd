"""A userspace TCP proxy on 127.0.0.1 that makes loopback behave like an emulated link.

The embedded default for network conditions where the kernel has no `netem` qdisc. Clients
connect to the proxy; it connects to the real server and forwards each direction, holding every
segment until the arrival time `harness.netem.model` gives it (delay, bandwidth, slow start,
loss as retransmission delay). Two threads per direction: a reader that timestamps and schedules
what it receives, a writer that sleeps until each arrival time and sends. Threads (not asyncio)
because `time.sleep` wakes within tens of microseconds, while epoll timeouts round up to 1 ms.
"""

from __future__ import annotations

import contextlib
import queue
import random
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from harness.acceptor import Acceptor
from harness.netem.model import Direction, DirectionStats, LinkConditions, connect_delay_s

_RECV_BYTES = 65536
_EOF = b""


@dataclass
class ConnectionStats:
    """What the proxy saw of one connection (client → server is `upstream`)."""

    client_address: tuple[str, int]
    connect_ms: float
    upstream: DirectionStats = field(default_factory=DirectionStats)
    downstream: DirectionStats = field(default_factory=DirectionStats)


class DelayProxy:
    """Forward 127.0.0.1:<port> to `upstream` under `conditions`; use as a context manager."""

    def __init__(self, upstream: tuple[str, int], conditions: LinkConditions, seed: int = 0) -> None:
        self.upstream = upstream
        self.conditions = conditions
        self._rng = random.Random(seed)
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=128)
        self._lock = threading.Lock()
        self._stats: dict[tuple[str, int], ConnectionStats] = {}
        self._sockets: set[socket.socket] = set()
        self._acceptor: Acceptor | None = None

    @property
    def address(self) -> tuple[str, int]:
        return self._listener.getsockname()

    def __enter__(self) -> DelayProxy:
        self._acceptor = Acceptor(self._listener, self._bridge, "netem-proxy", per_connection_thread=False)
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._acceptor is not None:
            self._acceptor.close()
        self._listener.close()
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.close()
            self._sockets.clear()

    def stats_for(self, client_address: tuple[str, int]) -> ConnectionStats | None:
        """Statistics of the connection whose client end is `client_address` (its getsockname())."""
        with self._lock:
            return self._stats.get(tuple(client_address))

    def _bridge(self, client: socket.socket, address: tuple) -> None:
        accepted = time.perf_counter()
        try:
            server = socket.create_connection(self.upstream, timeout=5)
        except OSError:
            client.close()
            return
        server.settimeout(None)
        for sock in (client, server):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            seeds = (self._rng.getrandbits(64), self._rng.getrandbits(64), self._rng.getrandbits(64))
            connect_s = connect_delay_s(self.conditions, random.Random(seeds[0]))
            up = Direction(self.conditions, random.Random(seeds[1]), not_before=accepted + connect_s)
            # The server can send only once the handshake's last ACK reached it, half a round trip
            # after the client saw the SYN-ACK: data it sends first (a banner) then arrives two
            # round trips after connect(), as over TCP, instead of skipping the handshake.
            down = Direction(self.conditions, random.Random(seeds[2]),
                             not_before=accepted + connect_s + self.conditions.one_way_s)
            self._stats[address] = ConnectionStats(address, connect_s * 1000, up.stats, down.stats)
            self._sockets.update((client, server))
        link = _Link(client, server, self._forget)
        _Pipe(client, server, up, link).start()
        _Pipe(server, client, down, link).start()

    def _forget(self, socks: tuple[socket.socket, ...]) -> None:
        with self._lock:
            self._sockets.difference_update(socks)


class _Link:
    """The two sockets of one proxied connection, closed once both directions are done."""

    def __init__(self, client: socket.socket, server: socket.socket,
                 forget: Callable[[tuple[socket.socket, ...]], None]) -> None:
        self.socks = (client, server)
        self.forget = forget
        self._open_directions = 2
        self._closed = False
        self._lock = threading.Lock()

    def direction_done(self, aborted: bool) -> None:
        """A direction finished; an aborted one (the peer reset) takes the whole connection down."""
        with self._lock:
            self._open_directions -= 1
            if self._closed or (self._open_directions > 0 and not aborted):
                return
            self._closed = True
        for sock in self.socks:
            with contextlib.suppress(OSError):
                sock.close()
        self.forget(self.socks)


class _Pipe:
    """One direction: read from `src`, deliver to `dst` at the scheduled times."""

    def __init__(self, src: socket.socket, dst: socket.socket, direction: Direction, link: _Link) -> None:
        self.src, self.dst, self.direction, self.link = src, dst, direction, link
        self.queue: queue.SimpleQueue[tuple[float, bytes]] = queue.SimpleQueue()

    def start(self) -> None:
        threading.Thread(target=self._read, name="netem-read", daemon=True).start()
        threading.Thread(target=self._write, name="netem-write", daemon=True).start()

    def _read(self) -> None:
        last_arrival = 0.0
        while True:
            try:
                data = self.src.recv(_RECV_BYTES)
            except OSError:
                data = _EOF
            now = time.perf_counter()
            if not data:
                # The FIN follows the data it closes, one propagation delay after it is sent.
                self.queue.put((max(last_arrival, now + self.direction.conditions.one_way_s), _EOF))
                return
            offset = 0
            for arrival, length in self.direction.schedule(now, len(data)):
                self.queue.put((arrival, data[offset:offset + length]))
                offset += length
                last_arrival = arrival

    def _write(self) -> None:
        head: tuple[float, bytes] | None = None
        while True:
            arrival, data = head or self.queue.get()
            head = None
            delay = arrival - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            if not data:
                with contextlib.suppress(OSError):
                    self.dst.shutdown(socket.SHUT_WR)
                self.link.direction_done(aborted=False)
                return
            # Segments due by now go out in one send, as a NIC would coalesce them.
            chunks = [data]
            now = time.perf_counter()
            while head is None:
                try:
                    item = self.queue.get_nowait()
                except queue.Empty:
                    break
                if item[1] and item[0] <= now:
                    chunks.append(item[1])
                else:
                    head = item
            try:
                self.dst.sendall(b"".join(chunks))
            except OSError:
                self.link.direction_done(aborted=True)
                return
