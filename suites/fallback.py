"""Keys when QKD fails, and hybrid keys: a link encryptor rekeying under a policy while faults hit the link.

The vendor under test is the QKD device (key delivery through ETSI GS QKD 014, faults from the
recovery suite's schedule and machinery). The encryptor is a pair of real TLS 1.3 stacks
(`tls_pairs`: client stack at the master SAE, server stack at the slave SAE, both on loopback).
Every `rekey_interval_s` of link time it rekeys:

1. the master end asks its KME for a key (`enc_keys`); the key's ID becomes the TLS external PSK
   identity and the key its secret;
2. a TLS 1.3 handshake with an X25519MLKEM768 key share: `psk_dhe_ke` keyed by that PSK (the
   server end fetches the same key with `dec_keys` by the ID in the ClientHello), or, with no QKD
   key, a certificate handshake on the key share alone (`cert_dhe`);
3. each end derives its session key (suites._hybrid_kdf: SP 800-56C Rev. 2 two-step KDF as
   HKDF-SHA-256) from the components its policy takes: the QKD key, the TLS exporter secret
   (the ML-KEM-derived one: X25519MLKEM768 carries ML-KEM-768 and X25519), or both.

Policies: `qkd_only` rekeys only with a QKD key both ends hold (fails closed otherwise);
`qkd_preferred` uses the QKD key when both ends hold it, else the exporter secret of a
certificate handshake; `hybrid` takes both, and fails closed when either is missing.

A key serves one interval. Definitions (README, "Fallback and hybrid keys"):
- seconds_without_key_s: link seconds the encryptor held no session key (refused rekeys x interval);
- availability: share of intervals with a session key;
- qkd_rekeys / pqc_rekeys / hybrid_rekeys: rekeys by the source of the key installed;
  refused_rekeys: rekeys that installed nothing (fail closed, or a failed handshake);
- handshake_ms: wall time of one rekey's handshake (TCP connect to both ends done, KME lookup at
  the server included), labelled by mode (psk_dhe_ke, cert_dhe);
- policy_violations: rekeys that an independent audit (`audit`) finds weaker than the policy:
  a source the policy forbids, a component the source needs missing at either end, a non-hybrid
  group under a PQC component, or a key that is not the KDF of exactly the source's components;
- key_mismatches: rekeys after which the two ends hold different session keys.
Key material stays in memory: rows carry counts, times and modes only.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field, field_validator, model_validator

from harness.adapters import Adapter, Capability, Key, KeyDelivery, KeyDeliveryError, NotApplicable
from harness.adapters_tls import (
    ExternalPsk,
    ExternalPskTls,
    PskTlsClient,
    PskTlsServer,
    TlsHandshakeFailed,
    TlsSession,
)
from harness.certs import make_chain
from harness.registry import UnknownPlugin, adapter_class
from harness.suite import MeasureContext, Measurement, Metric, Suite, SuiteParams
from suites._hybrid_kdf import Source, session_key
from suites.qkd_time import let_time_pass, wait_for_keys
from suites.recovery import FaultDriver, FaultStep, check_schedule

GROUP = "X25519MLKEM768"  # the hybrid share; a PQC component from any other group is a weakening
EXPORTER_LABEL = b"EXPORTER-qsbench-fallback-rekey"


class Policy(StrEnum):
    QKD_ONLY = "qkd_only"
    QKD_PREFERRED = "qkd_preferred"
    HYBRID = "hybrid"


# What each policy may install; the audit holds every rekey to this, whatever the encryptor did.
ALLOWED: dict[Policy, frozenset[str]] = {Policy.QKD_ONLY: frozenset({"qkd"}),
                                         Policy.QKD_PREFERRED: frozenset({"qkd", "pqc"}),
                                         Policy.HYBRID: frozenset({"hybrid"})}
NEEDS_QKD = frozenset({"qkd", "hybrid"})
NEEDS_PQC = frozenset({"pqc", "hybrid"})


class FallbackParams(SuiteParams):
    policies: list[Policy] = Field([Policy.QKD_ONLY, Policy.QKD_PREFERRED, Policy.HYBRID], min_length=1)
    faults: list[FaultStep] = Field(min_length=1, description="the fault schedule: one case per entry")
    tls_pairs: list[tuple[str, str]] = Field(
        [("openssl-tls", "tlslite"), ("tlslite", "openssl-tls")], min_length=1,
        description="(client stack at the master SAE, server stack at the slave SAE), registered adapters")
    case_s: float = Field(120.0, gt=0, le=86_400, description="link time per case")
    rekey_interval_s: float = Field(5.0, gt=0, le=3600, description="T: the encryptor rekeys every T s")
    handshake_timeout_s: float = Field(30.0, gt=0, le=600)
    hook_timeout_s: float = Field(60.0, gt=0, le=3600)

    @field_validator("tls_pairs")
    @classmethod
    def _stacks(cls, pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
        for name in {n for pair in pairs for n in pair}:
            try:
                caps = adapter_class(name).capabilities
            except UnknownPlugin as exc:
                raise ValueError(str(exc)) from None
            if Capability.TLS13_EXTERNAL_PSK not in caps:
                raise ValueError(f"{name} has no tls13_external_psk")
        return pairs

    @model_validator(mode="after")
    def _fits(self) -> FallbackParams:
        if self.case_s / self.rekey_interval_s > 10_000:
            raise ValueError("case_s / rekey_interval_s exceeds 10000 rekeys")
        check_schedule(self.faults, self.case_s, self.rekey_interval_s, "rekey")
        return self


@dataclass(frozen=True)
class Rekey:
    """One rekey at both ends. Components and keys are kept in memory for the audit, never printed."""

    policy: Policy
    source: Source | None  # what the encryptor says it installed; None: it installed nothing
    mode: str | None = None  # psk_dhe_ke | cert_dhe | None (no handshake)
    handshake_ms: float | None = None
    reason: str = ""
    key_id: str = ""
    groups: tuple[str, str] = ("", "")  # negotiated at the master and at the slave end
    qkd: tuple[bytes | None, bytes | None] = field(default=(None, None), repr=False)
    pqc: tuple[bytes | None, bytes | None] = field(default=(None, None), repr=False)
    keys: tuple[bytes | None, bytes | None] = field(default=(None, None), repr=False)


def audit(rekey: Rekey) -> str | None:
    """Why this rekey is weaker than its policy allows, or None. Independent of the encryptor's logic."""
    master_key, slave_key = rekey.keys
    if rekey.source is None:
        return None if master_key is None and slave_key is None else "a key was installed on a refused rekey"
    if rekey.source not in ALLOWED[rekey.policy]:
        return f"{rekey.policy} installed a {rekey.source} key"
    for end, i in (("master", 0), ("slave", 1)):
        qkd = rekey.qkd[i] if rekey.source in NEEDS_QKD else None
        pqc = rekey.pqc[i] if rekey.source in NEEDS_PQC else None
        if rekey.source in NEEDS_QKD and qkd is None:
            return f"{rekey.source} key at the {end} end without a QKD key there"
        if rekey.source in NEEDS_PQC and (pqc is None or rekey.groups[i] != GROUP):
            return f"{rekey.source} key at the {end} end without an {GROUP} secret there"
        if rekey.keys[i] != session_key(rekey.source, qkd=qkd, pqc=pqc, key_id=rekey.key_id):
            return f"the {end} end's key is not the {rekey.source} KDF of its components"
    return None


class Channel:
    """The encryptor's two TLS ends on loopback; the server end fetches QKD keys by the PSK identity."""

    def __init__(self, client_stack: ExternalPskTls, server_stack: ExternalPskTls, kd: KeyDelivery,
                 work_dir: Path, timeout_s: float) -> None:
        self.kd, self.timeout_s = kd, timeout_s
        self._fetched: dict[bytes, bytes] = {}  # identity → the slave end's copy of the key
        self.chain = make_chain("ECDSA-P256", work_dir)
        self._client: PskTlsClient = client_stack.psk_client(self.chain.root_pem, [GROUP], EXPORTER_LABEL)
        self._listener = socket.create_server(("127.0.0.1", 0))
        try:
            self._server: PskTlsServer = server_stack.psk_server(self._listener, self.chain, [GROUP],
                                                                 self._lookup, EXPORTER_LABEL)
        except BaseException:
            self._listener.close()
            raise

    def _lookup(self, identity: bytes) -> bytes | None:
        try:
            (key,) = self.kd.dec_keys([identity.decode("ascii")])
        except (KeyDeliveryError, UnicodeDecodeError, ValueError):
            return None  # the slave KME has no such key: the server end holds no PSK
        self._fetched[identity] = key.material
        return key.material

    def handshake(self, psk: ExternalPsk | None) -> tuple[TlsSession, TlsSession, bytes | None, float]:
        """(master end, slave end, the slave's copy of the QKD key, milliseconds)."""
        start = time.perf_counter()
        try:
            with socket.create_connection(self._listener.getsockname(), timeout=self.timeout_s) as sock:
                master = self._client.handshake(sock, self.chain.server_name, psk)
        except (TlsHandshakeFailed, OSError):
            # Collect the server's end of this connection too, so the next rekey reads its own.
            with contextlib.suppress(TlsHandshakeFailed):
                self._server.next_session(self.timeout_s)
            raise
        finally:
            copy = self._fetched.pop(psk.identity, None) if psk is not None else None
        slave = self._server.next_session(self.timeout_s)
        return master, slave, copy, (time.perf_counter() - start) * 1e3

    def close(self) -> None:
        self._server.close()
        self._listener.close()


class Encryptor:
    """Both ends of a link encryptor under one policy: decides, handshakes, derives (see module doc)."""

    def __init__(self, policy: Policy, kd: KeyDelivery, channel: Channel) -> None:
        self.policy, self.kd, self.channel = policy, kd, channel

    def _qkd_key(self) -> Key | None:
        try:
            keys = self.kd.enc_keys(1)
        except KeyDeliveryError:
            return None
        return keys[0] if keys else None

    def _wants_handshake(self, have_qkd: bool) -> bool:
        return have_qkd or self.policy is Policy.QKD_PREFERRED

    def _source(self, psk_both_ends: bool, groups: tuple[str, str]) -> Source | None:
        pq = groups == (GROUP, GROUP)
        if self.policy is Policy.QKD_ONLY:
            return "qkd" if psk_both_ends else None
        if self.policy is Policy.HYBRID:
            return "hybrid" if psk_both_ends and pq else None
        return "qkd" if psk_both_ends else "pqc" if pq else None

    def rekey(self) -> Rekey:
        key = self._qkd_key()
        if not self._wants_handshake(key is not None):
            return Rekey(self.policy, None, reason="no QKD key")
        psk = ExternalPsk(key.key_id.encode("ascii"), key.material) if key is not None else None
        try:
            master, slave, copy, ms = self.channel.handshake(psk)
        except (TlsHandshakeFailed, OSError) as exc:
            return Rekey(self.policy, None, "psk_dhe_ke" if psk else "cert_dhe", reason=str(exc)[:300])
        mode = "psk_dhe_ke" if psk is not None else "cert_dhe"
        groups = (master.group, slave.group)
        keyed = psk is not None and master.psk_identity == slave.psk_identity == psk.identity
        source = self._source(keyed, groups)
        qkd = (key.material if keyed and key else None, copy if keyed else None)
        pqc = (master.exporter, slave.exporter)
        common = {"mode": mode, "handshake_ms": ms, "key_id": key.key_id if key else "", "groups": groups,
                  "qkd": qkd, "pqc": pqc}
        if source is None:
            why = "the server end held no QKD key" if psk is not None and not keyed else f"group {groups}"
            return Rekey(self.policy, None, reason=why, **common)
        keys = tuple(self._derive(source, qkd[i], pqc[i], common["key_id"]) for i in (0, 1))
        return Rekey(self.policy, source, keys=keys, **common)  # type: ignore[arg-type]

    @staticmethod
    def _derive(source: Source, qkd: bytes | None, pqc: bytes | None, key_id: str) -> bytes:
        return session_key(source, qkd=qkd if source in NEEDS_QKD else None,
                           pqc=pqc if source in NEEDS_PQC else None, key_id=key_id)


class Fallback(Suite):
    name: ClassVar[str] = "fallback"
    requires: ClassVar[frozenset[Capability]] = frozenset({Capability.KEY_DELIVERY})
    Params: ClassVar[type[SuiteParams]] = FallbackParams
    label_columns: ClassVar[tuple[str, ...]] = ("mode",)
    metrics: ClassVar[dict[str, Metric]] = {
        "seconds_without_key_s": Metric("s", "lower", "link seconds the encryptor held no session key"),
        "availability": Metric("ratio", "higher", "share of rekey intervals with a session key"),
        "qkd_rekeys": Metric("count", "none", "rekeys that installed a key from the QKD key alone"),
        "pqc_rekeys": Metric("count", "none", "rekeys keyed by the ML-KEM hybrid share alone"),
        "hybrid_rekeys": Metric("count", "none", "rekeys that installed a key from both (SP 800-56C Z||T)"),
        "refused_rekeys": Metric("count", "lower", "rekeys that installed nothing (fail closed or failed)"),
        "handshake_ms": Metric("ms", "lower", "one rekey's TLS 1.3 handshake, by mode",
                               qualified_by=("mode",)),
        "policy_violations": Metric("count", "lower", "rekeys the audit finds weaker than their policy",
                                    deterministic=True),
        "key_mismatches": Metric("count", "lower", "rekeys after which the two ends hold different keys",
                                 deterministic=True),
        "usable_key": Metric("bool", "higher", "the encryptor held a session key in this interval",
                             timeline=True),
        # drawn as the windows behind the usable-key timelines: on its own it is the schedule, the same
        # in every case of a fault
        "fault_active": Metric("bool", "none", "the fault was active at this rekey", timeline=True,
                               shades=("usable_key",)),
        "rekey_interval_s": Metric("s", "none", "length of one timeline interval"),
    }

    def cases(self, params: SuiteParams) -> list[dict[str, Any]]:
        assert isinstance(params, FallbackParams)
        return [{"policy": str(policy), "fault_index": i, "fault": f.kind, "fault_at_s": f.at_s,
                 "fault_duration_s": f.duration_s, "tls_client": client, "tls_server": server}
                for policy in params.policies for i, f in enumerate(params.faults)
                for client, server in params.tls_pairs]

    def measure(self, adapter: Adapter, params: SuiteParams, case: Mapping[str, Any],
                ctx: MeasureContext) -> Iterable[Measurement]:
        assert isinstance(params, FallbackParams)
        step = params.faults[int(case["fault_index"])]
        fault = FaultDriver(adapter, step, params.hook_timeout_s)
        stacks = []
        for name in (case["tls_client"], case["tls_server"]):
            cls = adapter_class(name)
            if not (avail := cls.availability()).available:
                raise NotApplicable(f"{name} unavailable: {avail.reason}")
            stacks.append(cls())
        kd: KeyDelivery = adapter  # type: ignore[assignment]
        # The device starts with an empty store: let it distil before the schedule's clock starts.
        wait_for_keys(adapter, 1, budget_s=params.case_s)
        channel = Channel(stacks[0], stacks[1], kd, ctx.work_dir, params.handshake_timeout_s)  # type: ignore[arg-type]
        try:
            yield from _run(Encryptor(Policy(case["policy"]), kd, channel), adapter, fault, params)
        finally:
            channel.close()
            for stack in stacks:
                stack.close()


def _drain(kd: KeyDelivery, number: int) -> None:
    """key_exhaustion: another application on the same SAE takes `number` keys (bounded)."""
    for _ in range(min(number, 10_000)):
        try:
            kd.enc_keys(1)
        except KeyDeliveryError:
            return


def _run(encryptor: Encryptor, adapter: Adapter, fault: FaultDriver,
         params: FallbackParams) -> Iterable[Measurement]:
    interval, step = params.rekey_interval_s, fault.step
    counts = {"qkd": 0, "pqc": 0, "hybrid": 0, None: 0}
    violations = mismatches = 0
    samples: dict[str, int] = {}
    credit = 0.0
    for tick in range(round(params.case_s / interval)):
        active = fault.advance(tick * interval)
        if active and step.kind == "key_exhaustion":
            credit += step.exhaustion_keys_per_s * interval  # type: ignore[operator]
            _drain(encryptor.kd, int(credit))
            credit -= int(credit)
        rekey = encryptor.rekey()
        counts[rekey.source] += 1
        violations += audit(rekey) is not None
        mismatches += rekey.source is not None and rekey.keys[0] != rekey.keys[1]
        if rekey.handshake_ms is not None and rekey.mode is not None:
            sample = samples.get(rekey.mode, 0)
            samples[rekey.mode] = sample + 1
            yield Measurement("handshake_ms", rekey.handshake_ms, "ms", sample, {"mode": rekey.mode})
        yield Measurement("usable_key", float(rekey.source is not None), "bool", tick)
        yield Measurement("fault_active", float(active), "bool", tick)
        let_time_pass(adapter, interval)
    intervals = sum(counts.values())
    yield Measurement("rekey_interval_s", interval, "s")
    yield Measurement("seconds_without_key_s", counts[None] * interval, "s")
    yield Measurement("availability", 1 - counts[None] / intervals, "ratio")
    for source in ("qkd", "pqc", "hybrid"):
        yield Measurement(f"{source}_rekeys", counts[source], "count")
    yield Measurement("refused_rekeys", counts[None], "count")
    yield Measurement("policy_violations", violations, "count")
    yield Measurement("key_mismatches", mismatches, "count")
