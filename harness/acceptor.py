"""Accept connections on a listening socket in a background thread until closed.

Shared by the loopback servers qsbench runs itself (TLS stacks under test, the KEM handshake
server, the network-emulation proxy). The listener polls with a short timeout so `close()`
returns promptly without closing a socket another thread may still be using.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable

_POLL_S = 0.2


class Acceptor:
    """Call `handle(sock, address)` for every accepted connection.

    With `per_connection_thread`, each connection gets its own daemon thread (servers that must
    overlap handshakes); otherwise connections are handled one at a time in the accept thread.
    """

    def __init__(self, listener: socket.socket, handle: Callable[[socket.socket, tuple], None],
                 name: str, per_connection_thread: bool = True) -> None:
        self._listener = listener
        self._handle = handle
        self._per_connection_thread = per_connection_thread
        self._stop = threading.Event()
        listener.settimeout(_POLL_S)
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def close(self, timeout_s: float = 2.0) -> None:
        self._stop.set()
        self._thread.join(timeout=timeout_s)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                sock, address = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:  # the listener was closed
                return
            if self._per_connection_thread:
                threading.Thread(target=self._handle, args=(sock, address), daemon=True).start()
            else:
                self._handle(sock, address)
