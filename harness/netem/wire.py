"""Count what a client puts on the wire and what comes back, flight by flight.

`FlightRecorder` wraps a connected client socket. A flight is a run of bytes in one direction
with nothing in the other in between; the client waiting for a server flight is one round trip
of the protocol. The first bytes of each server flight are kept so that a TLS 1.3
HelloRetryRequest (a ServerHello whose random is a fixed magic value, RFC 8446 §4.1.3) can be
recognised from the outside, for any TLS stack. Only lengths and the first record header of each
flight are kept; never payload beyond that, so no key material can leak into results.
"""

from __future__ import annotations

import hashlib
import socket
from dataclasses import dataclass, field
from typing import Any

HRR_RANDOM = hashlib.sha256(b"HelloRetryRequest").digest()
_TLS_HANDSHAKE, _SERVER_HELLO = 22, 2
_HEAD_BYTES = 43  # record header (5) + handshake header (4) + legacy_version (2) + random (32)


@dataclass
class Flight:
    from_client: bool
    bytes: int = 0
    head: bytes = b""  # first bytes, only of server flights


@dataclass
class FlightRecorder:
    """A socket look-alike (send, sendall, recv, and the rest delegated) that records flights."""

    sock: socket.socket
    flights: list[Flight] = field(default_factory=list)

    def _flight(self, from_client: bool) -> Flight:
        if not self.flights or self.flights[-1].from_client != from_client:
            self.flights.append(Flight(from_client))
        return self.flights[-1]

    def sendall(self, data: bytes) -> None:
        self.sock.sendall(data)
        if data:
            self._flight(True).bytes += len(data)

    def send(self, data: bytes) -> int:
        self.sendall(data)
        return len(data)

    def recv(self, size: int, *flags: int) -> bytes:
        data = self.sock.recv(size, *flags)
        if data:
            flight = self._flight(False)
            if len(flight.head) < _HEAD_BYTES:
                flight.head += data[: _HEAD_BYTES - len(flight.head)]
            flight.bytes += len(data)
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sock, name)

    def summary(self) -> WireSummary:
        return WireSummary.of(self.flights)


@dataclass(frozen=True)
class WireSummary:
    client_hello_bytes: int  # the client's first flight
    server_flight_bytes: int  # the server's last flight: the one that completed the handshake
    client_bytes: int
    server_bytes: int
    server_flights: int  # protocol round trips the client waited for
    hello_retry: bool

    @classmethod
    def of(cls, flights: list[Flight]) -> WireSummary:
        client = [f for f in flights if f.from_client]
        server = [f for f in flights if not f.from_client]
        return cls(
            client_hello_bytes=client[0].bytes if client else 0,
            server_flight_bytes=server[-1].bytes if server else 0,
            client_bytes=sum(f.bytes for f in client),
            server_bytes=sum(f.bytes for f in server),
            server_flights=len(server),
            hello_retry=bool(server) and is_hello_retry(server[0].head),
        )


def is_hello_retry(head: bytes) -> bool:
    """True when `head` starts with a TLS record carrying a HelloRetryRequest."""
    return (len(head) >= _HEAD_BYTES and head[0] == _TLS_HANDSHAKE and head[5] == _SERVER_HELLO
            and head[11:43] == HRR_RANDOM)
