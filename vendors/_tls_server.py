"""The shell the TLS stack adapters' loopback servers share: accept in the background, one
handshake per connection (the stack's own `_handshake`), failures kept for the suite to read;
PSK servers also hand back each connection's server end."""

from __future__ import annotations

import queue
import socket
import struct

from harness.acceptor import Acceptor
from harness.adapters_tls import TlsHandshakeFailed, TlsSession

SERVER_IO_TIMEOUT_S = 30


def blocking(sock: socket.socket) -> None:
    """An accepted socket as both stacks' servers need it: blocking (OpenSSL needs a blocking
    descriptor; a Python timeout makes it non-blocking), a stalled client bounded by the kernel's
    receive timeout instead, no Nagle delay on handshake flights."""
    sock.settimeout(None)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", SERVER_IO_TIMEOUT_S, 0))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class TlsServerBase:
    def __init__(self, listener: socket.socket, name: str) -> None:
        self._listener = listener
        self._failures: list[str] = []
        self._acceptor = Acceptor(listener, self._handshake, name)

    def failures(self) -> list[str]:
        return list(self._failures)

    def close(self) -> None:
        self._acceptor.close()

    def _handshake(self, sock: socket.socket, _address: tuple) -> None:
        raise NotImplementedError


class PskServerBase(TlsServerBase):
    """A loopback server whose handshakes report their server end (a TlsSession) in accept order."""

    def __init__(self, listener: socket.socket, name: str) -> None:
        self._sessions: queue.Queue[TlsSession | str] = queue.Queue()
        super().__init__(listener, name)

    def _finished(self, outcome: TlsSession | str) -> None:
        """Hand the suite this connection's server end, or the reason its handshake failed."""
        if isinstance(outcome, str):
            self._failures.append(outcome)
        self._sessions.put(outcome)

    def next_session(self, timeout_s: float) -> TlsSession:
        try:
            outcome = self._sessions.get(timeout=timeout_s)
        except queue.Empty:
            raise TlsHandshakeFailed(f"the server finished no handshake within {timeout_s:g} s") from None
        if isinstance(outcome, str):
            raise TlsHandshakeFailed(f"server: {outcome}")
        return outcome
