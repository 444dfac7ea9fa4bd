"""Test-only plugins: adapters that misbehave on purpose and a tiny suite to drive them.

They exercise the engine (isolation, timeouts, n/a, resume) without depending on any
real library, and they reach qsbench through a dist-info folder on sys.path, exactly
the entry-point path a third-party adapter takes. The "toy" KEM is a test double: its
keys are random bytes and it has no security; it exists only to give the runner work.
"""

from __future__ import annotations

import os
import secrets
import time
from typing import Any, ClassVar

from harness.adapters import Adapter, Availability, Capability, Kind, NotApplicable
from harness.suite import MeasureContext, Measurement, Suite, SuiteParams


class _ToyKem:
    algorithm = "TOY-KEM"

    def __init__(self, keygen_action) -> None:
        self._keygen_action = keygen_action

    def keygen(self) -> tuple[Any, Any]:
        self._keygen_action()
        secret = secrets.token_bytes(32)
        return secret, secret


class ToyAdapter(Adapter):
    name: ClassVar[str] = "toy"
    kind = Kind.PQC
    capabilities = frozenset({Capability.KEM})

    @classmethod
    def availability(cls) -> Availability:
        return Availability(True)

    @classmethod
    def version(cls) -> str:
        return "0.0-test"

    def kem_algorithms(self) -> list[str]:
        return ["TOY-KEM"]

    def kem(self, algorithm: str) -> _ToyKem:
        if algorithm not in self.kem_algorithms():
            raise NotApplicable(f"{self.name} has no {algorithm}")
        return _ToyKem(self.keygen_action)

    def keygen_action(self) -> None:
        time.sleep(float(self.options.get("keygen_sleep_s", 0)))


class AbortingAdapter(ToyAdapter):
    name = "crashy"

    def keygen_action(self) -> None:
        os.abort()


class HangingAdapter(ToyAdapter):
    name = "hangs"

    def keygen_action(self) -> None:
        time.sleep(3600)


class AbsentAdapter(ToyAdapter):
    name = "absent"

    @classmethod
    def availability(cls) -> Availability:
        return Availability(False, "libabsent.so not found; install it with `apt install libabsent`")


class SignerOnlyAdapter(ToyAdapter):
    name = "signer-only"
    capabilities = frozenset({Capability.SIGNATURE})


class KeygenTiming(Suite):
    name = "keygen_timing"
    requires = frozenset({Capability.KEM})

    class Params(SuiteParams):
        algorithms: list[str] = ["TOY-KEM"]
        samples: int = 3

    def cases(self, params: Params) -> list[dict[str, Any]]:
        return [{"algorithm": a} for a in params.algorithms]

    def measure(self, adapter, params: Params, case, ctx: MeasureContext):
        kem = adapter.kem(case["algorithm"])
        for i in range(params.samples):
            start = time.perf_counter_ns()
            kem.keygen()
            yield Measurement("keygen_us", (time.perf_counter_ns() - start) / 1000, "us", i)
