"""Network parameters shared by the suites that run over an emulated path."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, field_validator

from harness.netem import LinkConditions
from harness.suite import SuiteParams


class NetworkParams(SuiteParams):
    """Base of a suite's Params: the RTT × loss grid, a rate cap and the emulation backend."""

    rtt_ms: list[float] = Field([0.0], min_length=1, description="round-trip times to emulate (0 = loopback)")
    loss_pct: list[float] = Field([0.0], min_length=1,
                                  description="segment loss rates in percent, per direction")
    bandwidth_mbps: float = Field(0.0, ge=0, description="link rate per direction in Mbit/s; 0 = no cap")
    network: Literal["auto", "proxy", "netem"] = Field(
        "auto", description="emulation backend: netem where the kernel has it, else the userspace proxy")

    @field_validator("rtt_ms")
    @classmethod
    def _rtt_non_negative(cls, value: list[float]) -> list[float]:
        if any(v < 0 for v in value):
            raise ValueError(f"RTTs must be ≥ 0 ms, got {value}")
        return value

    @field_validator("loss_pct")
    @classmethod
    def _loss_in_range(cls, value: list[float]) -> list[float]:
        if any(not 0 <= v < 100 for v in value):
            raise ValueError(f"loss rates must be in [0, 100) %, got {value}")
        return value

    def network_cases(self) -> list[dict[str, float]]:
        return [{"rtt_ms": float(r), "loss_pct": float(p), "bandwidth_mbps": float(self.bandwidth_mbps)}
                for r in self.rtt_ms for p in self.loss_pct]


def conditions_of(case: Mapping[str, Any]) -> LinkConditions:
    return LinkConditions(rtt_ms=case["rtt_ms"], loss_pct=case["loss_pct"],
                          bandwidth_mbps=case["bandwidth_mbps"] or None)
