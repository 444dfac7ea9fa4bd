"""The shell the TLS stack adapters' loopback servers share: accept in the background, one
handshake per connection (the stack's own `_handshake`), failures kept for the suite to read."""

from __future__ import annotations

import socket

from harness.acceptor import Acceptor


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
