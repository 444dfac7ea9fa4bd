"""TLS 1.3 handshakes over an emulated network: classical, hybrid and pure ML-KEM key exchange,
classical and ML-DSA certificates.

One case per group × certificate type × RTT × loss (and, with `hello_retry_fallback`, one more
per group whose server accepts only the fallback group: the client's share is refused and the
HelloRetryRequest costs a round trip). Each case serves the stack's own server on the emulated
path and runs `handshakes` sequential handshakes after `warmup` untimed ones; every sample is
kept (sample = handshake index):

* `handshake_ms`: from the start of the TCP connect to the client's Finished being sent
  (Paquin et al. include the TCP connect as well). Not timed: certificate generation, server start.
* `client_hello_bytes`, `server_flight_bytes` (the flight that completed the handshake),
  `hello_retry` (0/1, seen on the wire), `handshake_ok` (0/1; a failure carries `failure_reason`).
* `round_trips`: network round trips the client waited for: the TCP handshake, one per server
  flight it needed, and the slow-start rounds the emulated path charged the server's flight
  (a flight beyond the TCP initial window, ~14.5 kB). The netem backend cannot count slow-start
  rounds in user space; there they show only in `handshake_ms`.
* Labels: `negotiated_group`, `signature_scheme`, `net_backend` (loopback, proxy, netem).
* Once per case: `server_failures` (handshakes the server saw fail).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import Field, field_validator

from harness.adapters import Adapter, Capability, NotApplicable
from harness.adapters_tls import TLS_CERT_TYPES, TLS_GROUPS, TlsHandshakeFailed
from harness.certs import make_chain
from harness.netem import network_path
from harness.netem.wire import FlightRecorder
from harness.suite import MeasureContext, Measurement, Metric, Suite
from suites._network import NetworkParams, conditions_of
from suites._params import known_names

# Leave room inside the case timeout for set-up and for writing results.
_TIME_BUDGET_FRACTION = 0.8


class TlsHandshakeParams(NetworkParams):
    groups: list[str] = Field(["X25519", "X25519MLKEM768"], min_length=1, description="TLS named groups")
    certs: list[str] = Field(["ECDSA-P256"], min_length=1, description="server certificate key types")
    handshakes: int = Field(50, ge=1, le=100_000, description="timed handshakes per case")
    warmup: int = Field(2, ge=0, le=1000, description="untimed handshakes first (imports, caches)")
    hello_retry_fallback: str | None = Field(
        None, description="also run each other group against a server accepting only this one (HRR)")

    @field_validator("groups")
    @classmethod
    def _groups(cls, value: list[str]) -> list[str]:
        return known_names(value, TLS_GROUPS, "TLS groups")

    @field_validator("certs")
    @classmethod
    def _certs(cls, value: list[str]) -> list[str]:
        return known_names(value, TLS_CERT_TYPES, "certificate types")

    @field_validator("hello_retry_fallback")
    @classmethod
    def _fallback(cls, value: str | None) -> str | None:
        if value is not None:
            known_names([value], TLS_GROUPS, "TLS group")
        return value


def _tls_stack(adapter: Adapter, case: Mapping[str, Any]) -> Any:
    if Capability.TLS13 not in adapter.capabilities:
        raise NotApplicable(f"{adapter.name} has no tls13")
    for group in {case["group"], case["server_group"]}:
        if group not in adapter.tls_groups():
            raise NotApplicable(f"{adapter.name} has no TLS group {group} (it offers: "
                                f"{', '.join(adapter.tls_groups())})")
    if case["cert"] not in adapter.tls_cert_types():
        raise NotApplicable(f"{adapter.name} cannot serve {case['cert']} certificates (it can: "
                            f"{', '.join(adapter.tls_cert_types())})")
    return adapter


def run_handshakes(client_stack: Any, server_stack: Any, params: TlsHandshakeParams,
                   case: Mapping[str, Any], ctx: MeasureContext, count: int, warmup: int
                   ) -> list[Measurement]:
    """Serve `server_stack` on the case's emulated path and time `client_stack`'s handshakes to it."""
    chain = make_chain(case["cert"], ctx.work_dir)
    # The client's share is for `group`; it also offers the server's group, so a refusal is a retry.
    client_groups = list(dict.fromkeys([case["group"], case["server_group"]]))
    deadline = time.monotonic() + _TIME_BUDGET_FRACTION * ctx.timeout_s
    rows: list[Measurement] = []
    with network_path(conditions_of(case), params.network, seed=ctx.seed) as path:
        listener = path.listen()
        server = server_stack.tls_server(listener, chain, [case["server_group"]])
        try:
            client = client_stack.tls_client(chain.root_pem, client_groups)
            for i in range(warmup + count):
                if time.monotonic() > deadline:
                    rows.append(Measurement("handshakes_not_run", warmup + count - i, "count"))
                    break
                sample = _one_handshake(path, client, chain.server_name, ctx.timeout_s)
                if i >= warmup:
                    rows.extend(_rows(sample, i - warmup, path.backend))
        finally:
            server.close()
        rows.append(Measurement("server_failures", len(server.failures()), "count"))
    return rows


def _one_handshake(path: Any, client: Any, server_name: str, timeout_s: float) -> dict[str, Any]:
    start = time.perf_counter()
    try:
        sock = path.connect(timeout_s)
    except OSError as exc:
        return {"ok": False, "reason": f"TCP connect failed: {exc}"}
    try:
        wire = FlightRecorder(sock)
        try:
            result = client.handshake(wire, server_name)
        except TlsHandshakeFailed as exc:
            return {"ok": False, "reason": str(exc)[:300]}
        elapsed_ms = (time.perf_counter() - start) * 1000
        stats = path.connection_stats(sock)
    finally:
        sock.close()
    return {"ok": True, "ms": elapsed_ms, "result": result, "wire": wire.summary(),
            "slow_start_rounds": stats.downstream.slow_start_rounds if stats else 0}


def _rows(sample: dict[str, Any], index: int, backend: str) -> list[Measurement]:
    if not sample["ok"]:
        return [Measurement("handshake_ok", 0, "bool", index,
                            {"failure_reason": sample["reason"], "net_backend": backend})]
    wire, result = sample["wire"], sample["result"]
    labels = {"negotiated_group": result.group, "signature_scheme": result.signature_scheme,
              "net_backend": backend}
    round_trips = 1 + wire.server_flights + sample["slow_start_rounds"]
    return [Measurement(metric, value, unit, index, labels) for metric, value, unit in (
        ("handshake_ok", 1, "bool"),
        ("handshake_ms", sample["ms"], "ms"),
        ("client_hello_bytes", wire.client_hello_bytes, "bytes"),
        ("server_flight_bytes", wire.server_flight_bytes, "bytes"),
        ("round_trips", round_trips, "count"),
        ("hello_retry", int(wire.hello_retry), "bool"),
    )]


class TlsHandshake(Suite):
    name: ClassVar[str] = "tls_handshake"
    requires: ClassVar[frozenset[Capability]] = frozenset({Capability.TLS13})
    Params: ClassVar[type[TlsHandshakeParams]] = TlsHandshakeParams
    label_columns: ClassVar[tuple[str, ...]] = ("negotiated_group", "signature_scheme", "net_backend",
                                                "failure_reason")
    metrics: ClassVar[dict[str, Metric]] = {
        "handshake_ok": Metric("bool", "higher", "the handshake completed", deterministic=True),
        "handshake_ms": Metric("ms", "lower", "TCP connect to Finished",
                               qualified_by=("negotiated_group", "signature_scheme", "net_backend")),
        "client_hello_bytes": Metric("bytes", "lower", "ClientHello on the wire", deterministic=True),
        "server_flight_bytes": Metric("bytes", "lower", "server's first flight on the wire",
                                      deterministic=True,
                                      qualified_by=("negotiated_group", "signature_scheme")),
        "round_trips": Metric("count", "lower", "network round trips until Finished",
                              qualified_by=("negotiated_group",)),  # a HelloRetryRequest adds one
        "hello_retry": Metric("bool", "lower", "the server sent a HelloRetryRequest", deterministic=True),
        "handshakes_not_run": Metric("count", "lower", "handshakes left when the time budget ran out"),
        "server_failures": Metric("count", "lower", "handshakes the server side reported failed"),
    }

    def cases(self, params: TlsHandshakeParams) -> list[dict[str, Any]]:
        pairs = [(g, g) for g in params.groups]
        if params.hello_retry_fallback:
            pairs += [(g, params.hello_retry_fallback) for g in params.groups
                      if g != params.hello_retry_fallback]
        return [{"group": group, "server_group": server_group, "cert": cert, **net}
                for (group, server_group), cert, net in itertools.product(
                    pairs, params.certs, params.network_cases())]

    def measure(self, adapter: Adapter, params: TlsHandshakeParams, case: Mapping[str, Any],
                ctx: MeasureContext) -> list[Measurement]:
        stack = _tls_stack(adapter, case)
        return run_handshakes(stack, stack, params, case, ctx, params.handshakes, params.warmup)
