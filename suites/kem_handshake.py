"""A small authenticated key exchange built from any adapter's KEM and signature, over the same
emulated network as tls_handshake, so every PQC library gets a handshake latency on equal terms.

The protocol (one round trip after TCP, like TLS 1.3's key exchange without the record layer):

    client → server   ek                          an ephemeral KEM public key
    server → client   ct, sig                     (ct, K) = Encaps(ek); sig = Sign(sk_S, transcript)
    client → server   confirm                     Verify(pk_S, transcript, sig); K = Decaps(dk, ct)

with transcript = SHA-256("qsbench kem_handshake v1" ‖ kem ‖ sig ‖ ek ‖ ct), session key =
HMAC-SHA256(K, "key" ‖ transcript) and confirm = HMAC-SHA256(session key, "client finished").
The server's long-term signature key is made once per case and known to the client in advance
(as a pinned certificate would be). The server checks `confirm` against its own key: both sides
derived the same key. Messages are length-prefixed (4 bytes, big-endian).

Per handshake (sample = index): `handshake_ms` (TCP connect to the client's confirm sent),
`client_bytes`, `server_bytes`, `round_trips` (as in tls_handshake), `handshake_ok` and
`key_confirmed` (0/1; the server's verdict, collected after the clock stops). Both ends use the
case's adapter; the server runs in a thread of the same process.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import queue
import socket
import struct
import time
from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import Field, field_validator

from harness.acceptor import Acceptor
from harness.adapters import KEM_ALGORITHMS, SIGNATURE_ALGORITHMS, Adapter, Capability, NotApplicable
from harness.netem import network_path
from harness.netem.wire import FlightRecorder
from harness.suite import MeasureContext, Measurement, Metric, Suite
from suites._network import NetworkParams, conditions_of
from suites._params import known_names

_LABEL = b"qsbench kem_handshake v1"
_MAX_MESSAGE = 1 << 20
_SERVER_WAIT_S = 30.0


class KemHandshakeParams(NetworkParams):
    kems: list[str] = Field(["ML-KEM-768"], min_length=1, description="KEM algorithms")
    signatures: list[str] = Field(["ML-DSA-65"], min_length=1, description="server signature algorithms")
    handshakes: int = Field(20, ge=1, le=100_000, description="timed handshakes per case")
    warmup: int = Field(1, ge=0, le=1000, description="untimed handshakes first")

    @field_validator("kems")
    @classmethod
    def _kems(cls, value: list[str]) -> list[str]:
        return known_names(value, KEM_ALGORITHMS, "KEM(s)")

    @field_validator("signatures")
    @classmethod
    def _signatures(cls, value: list[str]) -> list[str]:
        return known_names(value, SIGNATURE_ALGORITHMS, "signature(s)")


class ProtocolError(Exception):
    """The peer sent something the protocol does not allow (the message names what, never a key)."""


def _send(sock: Any, *messages: bytes) -> None:
    sock.sendall(b"".join(struct.pack(">I", len(m)) + m for m in messages))


def _recv_exact(sock: Any, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ProtocolError(f"connection closed after {len(buf)} of {n} bytes")
        buf += chunk
    return bytes(buf)


def _recv(sock: Any) -> bytes:
    (length,) = struct.unpack(">I", _recv_exact(sock, 4))
    if length > _MAX_MESSAGE:
        raise ProtocolError(f"message of {length} bytes exceeds the {_MAX_MESSAGE}-byte limit")
    return _recv_exact(sock, length)


def _transcript(kem: str, sig: str, ek: bytes, ct: bytes) -> bytes:
    return hashlib.sha256(b"\0".join((_LABEL, kem.encode(), sig.encode(), ek, ct))).digest()


def _confirmation(shared_secret: bytes, transcript: bytes) -> bytes:
    session_key = hmac.new(shared_secret, b"key" + transcript, hashlib.sha256).digest()
    return hmac.new(session_key, b"client finished", hashlib.sha256).digest()


class _Server:
    """Answers handshakes one connection at a time; each verdict goes to `verdicts`."""

    def __init__(self, listener: socket.socket, kem: Any, signer: Any, secret_key: Any) -> None:
        self.listener, self.kem, self.signer, self.secret_key = listener, kem, signer, secret_key
        self.verdicts: queue.SimpleQueue[tuple[bool, str]] = queue.SimpleQueue()
        self._acceptor = Acceptor(listener, self._serve, "kem-handshake-server", per_connection_thread=False)

    def close(self) -> None:
        self._acceptor.close(timeout_s=5)

    def _serve(self, sock: socket.socket, _address: tuple) -> None:
        with sock:
            sock.settimeout(_SERVER_WAIT_S)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.verdicts.put(self._answer(sock))

    def _answer(self, sock: socket.socket) -> tuple[bool, str]:
        try:
            ek = _recv(sock)
            ct, shared_secret = self.kem.encaps(self.kem.load_public_key(ek))
            transcript = _transcript(self.kem.algorithm, self.signer.algorithm, ek, ct)
            _send(sock, ct, self.signer.sign(self.secret_key, transcript))
            confirm = _recv(sock)
        except Exception as exc:  # recorded as the verdict; the next connection is served regardless
            return False, f"server: {type(exc).__name__}: {exc}"[:300]
        if not hmac.compare_digest(confirm, _confirmation(shared_secret, transcript)):
            return False, "server: key confirmation mismatch (the two sides derived different keys)"
        return True, ""


def _client_handshake(sock: Any, kem: Any, signer: Any, server_public_key: Any) -> None:
    ek, dk = kem.keygen()
    ek_bytes = kem.public_key_bytes(ek)
    _send(sock, ek_bytes)
    ct, signature = _recv(sock), _recv(sock)
    transcript = _transcript(kem.algorithm, signer.algorithm, ek_bytes, ct)
    if not signer.verify(server_public_key, transcript, signature):
        raise ProtocolError("the server's signature over the transcript does not verify")
    _send(sock, _confirmation(kem.decaps(dk, ct), transcript))


def _primitives(adapter: Adapter, case: Mapping[str, Any]) -> tuple[Any, Any]:
    missing = {Capability.KEM, Capability.SIGNATURE} - adapter.capabilities
    if missing:
        raise NotApplicable(f"{adapter.name} has no {', '.join(sorted(missing))}")
    return adapter.kem(case["kem"]), adapter.signer(case["signature"])


class KemHandshake(Suite):
    name: ClassVar[str] = "kem_handshake"
    requires: ClassVar[frozenset[Capability]] = frozenset({Capability.KEM, Capability.SIGNATURE})
    Params: ClassVar[type[KemHandshakeParams]] = KemHandshakeParams
    label_columns: ClassVar[tuple[str, ...]] = ("net_backend", "failure_reason")
    metrics: ClassVar[dict[str, Metric]] = {
        "handshake_ok": Metric("bool", "higher", "the exchange completed", deterministic=True),
        "key_confirmed": Metric("bool", "higher", "both sides derived the same key", deterministic=True),
        "handshake_ms": Metric("ms", "lower", "connect to key confirmation", qualified_by=("net_backend",)),
        "client_bytes": Metric("bytes", "lower", "client's bytes on the wire", deterministic=True),
        "server_bytes": Metric("bytes", "lower", "server's bytes on the wire", deterministic=True),
        "round_trips": Metric("count", "lower", "network round trips until confirmation"),
        "handshakes_not_run": Metric("count", "lower", "handshakes left when the time budget ran out"),
    }

    def cases(self, params: KemHandshakeParams) -> list[dict[str, Any]]:
        grid = itertools.product(params.kems, params.signatures, params.network_cases())
        return [{"kem": kem, "signature": sig, **net} for kem, sig, net in grid]

    def measure(self, adapter: Adapter, params: KemHandshakeParams, case: Mapping[str, Any],
                ctx: MeasureContext) -> list[Measurement]:
        client_kem, client_signer = _primitives(adapter, case)
        server_kem, server_signer = _primitives(adapter, case)
        public_key, secret_key = server_signer.keygen()
        pinned = client_signer.load_public_key(server_signer.public_key_bytes(public_key))
        rows: list[Measurement] = []
        deadline = time.monotonic() + 0.8 * ctx.timeout_s
        with network_path(conditions_of(case), params.network, seed=ctx.seed) as path:
            server = _Server(path.listen(), server_kem, server_signer, secret_key)
            try:
                for i in range(params.warmup + params.handshakes):
                    if time.monotonic() > deadline:
                        rows.append(Measurement("handshakes_not_run", params.warmup + params.handshakes - i,
                                                "count"))
                        break
                    sample = self._one(path, client_kem, client_signer, pinned, ctx.timeout_s)
                    ok, reason = server.verdicts.get(timeout=_SERVER_WAIT_S) if sample["connected"] else (
                        False, "")
                    if i >= params.warmup:
                        rows.extend(self._rows(sample, ok, reason, i - params.warmup, path.backend))
            finally:
                server.close()
        return rows

    @staticmethod
    def _one(path: Any, kem: Any, signer: Any, pinned: Any, timeout_s: float) -> dict[str, Any]:
        start = time.perf_counter()
        try:
            sock = path.connect(timeout_s)
        except OSError as exc:
            return {"connected": False, "error": f"TCP connect failed: {exc}"}
        try:
            wire = FlightRecorder(sock)
            try:
                _client_handshake(wire, kem, signer, pinned)
            except Exception as exc:
                return {"connected": True, "error": f"client: {type(exc).__name__}: {exc}"[:300]}
            elapsed_ms = (time.perf_counter() - start) * 1000
            stats = path.connection_stats(sock)
        finally:
            sock.close()
        return {"connected": True, "error": "", "ms": elapsed_ms, "wire": wire.summary(),
                "slow_start_rounds": stats.downstream.slow_start_rounds if stats else 0}

    @staticmethod
    def _rows(sample: dict[str, Any], key_confirmed: bool, server_reason: str, index: int,
              backend: str) -> list[Measurement]:
        if sample["error"]:
            reason = "; ".join(r for r in (sample["error"], server_reason) if r)
            return [Measurement("handshake_ok", 0, "bool", index, {"failure_reason": reason,
                                                                   "net_backend": backend})]
        labels = {"net_backend": backend, **({"failure_reason": server_reason} if server_reason else {})}
        wire = sample["wire"]
        return [Measurement(metric, value, unit, index, labels) for metric, value, unit in (
            ("handshake_ok", 1, "bool"),
            ("key_confirmed", int(key_confirmed), "bool"),
            ("handshake_ms", sample["ms"], "ms"),
            ("client_bytes", wire.client_bytes, "bytes"),
            ("server_bytes", wire.server_bytes, "bytes"),
            ("round_trips", 1 + wire.server_flights + sample["slow_start_rounds"], "count"),
        )]
