"""What the ETSI GS QKD 014 checks share: the probe state they pass along and the verdict each returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from suites.etsi014_probe import Etsi014Probe, Exchange


@dataclass(frozen=True)
class Verdict:
    verdict: str
    evidence: str


@dataclass
class State:
    probe: Etsi014Probe
    status: dict[str, Any] = field(default_factory=dict)
    issued: list[dict[str, Any]] = field(default_factory=list)  # key containers' entries, kept in memory only
    errors: list[Exchange] = field(default_factory=list)
    exhaust_keys: bool = False
    tls: dict[str, dict[str, str]] = field(default_factory=dict)


def verdict_of(ok: bool, ex: Exchange | None, note: str = "") -> Verdict:
    text = (note + "; " if note else "") + (ex.describe() if ex else "")
    return Verdict("PASS" if ok else "FAIL", text)
