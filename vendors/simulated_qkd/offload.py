"""Run a link's key source in a child process, so the KMEs serving it never wait for a block.

A block of the QKD core is seconds of numba and numpy work, much of it holding the GIL;
run in the serving process it stalled every request for as long (about 2.4 s per block).
`ProcessKeySource` wraps any picklable `KeySource`: each `block()` ships the source (so
countermeasure switches made since travel with it) and its arguments to one spawned
worker process and waits on a pipe, which releases the GIL. `close()` terminates the
worker at once, whatever it is doing, so a server stops in well under a second.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
from typing import Any

from harness.adapters import Attack
from vendors.simulated_qkd.link import BlockOutcome, KeySource


class KeySourceStopped(RuntimeError):
    """The worker was closed (or died) while a block was asked for."""


def _serve_blocks(conn: multiprocessing.connection.Connection) -> None:
    while True:
        try:
            source, args = conn.recv()
        except (EOFError, KeyboardInterrupt):
            return
        if args is None:  # the warm-up: unpickling the source has imported its modules
            conn.send((True, None))
            continue
        try:
            conn.send((True, source.block(*args)))
        except Exception as exc:  # handed back to the caller, who raises it there
            conn.send((False, exc))


class ProcessKeySource:
    def __init__(self, source: KeySource) -> None:
        self._source = source
        ctx = multiprocessing.get_context("spawn")  # never fork a process that runs server threads
        self._conn, child = ctx.Pipe()
        self._process = ctx.Process(target=_serve_blocks, args=(child,), name="qkd-key-source", daemon=True)
        self._process.start()
        child.close()
        # Wait until the worker has imported the source's code, so the first block is not
        # seconds behind a server that already answers.
        self._conn.send((source, None))
        if not self._conn.poll(120):
            self.close()
            raise KeySourceStopped("the key source's worker process did not start within 120 s")
        self._conn.recv()

    @property
    def inner(self) -> KeySource:
        return self._source

    def __getattr__(self, name: str) -> Any:  # countermeasures, set_countermeasure, base, ...
        return getattr(self._source, name)

    def block(self, fibre_km: float, attenuation_db: float, attack: Attack | None, seed: int) -> BlockOutcome:
        try:
            self._conn.send((self._source, (fibre_km, attenuation_db, attack, seed)))
            ok, result = self._conn.recv()
        except (EOFError, OSError, BrokenPipeError):
            raise KeySourceStopped("the key source's worker process is gone") from None
        if not ok:
            raise result
        return result

    def close(self) -> None:
        if self._process.is_alive():
            self._process.terminate()
        self._process.join(2)
        self._conn.close()
