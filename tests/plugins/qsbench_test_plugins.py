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
from harness.suite import MeasureContext, Measurement, Metric, Suite, SuiteParams


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
    options_accepted = frozenset({"keygen_sleep_s", "heal_file"})

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
    metrics = {"keygen_us": Metric("us", "lower", "one toy key generation")}

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


class BreaksDeclaration(KeygenTiming):
    """One case per kind of bad row, next to one well-declared case: `emit` says which."""

    name = "breaks_declaration"
    label_columns = ("shade",)

    def cases(self, params) -> list[dict[str, Any]]:
        return [{"algorithm": "TOY-KEM", "emit": e}
                for e in ("declared", "undeclared-metric", "undeclared-label", "wrong-unit", "unstorable")]

    def measure(self, adapter, params, case, ctx: MeasureContext):
        yield from super().measure(adapter, params, case, ctx)
        emit = case["emit"]
        if emit == "undeclared-metric":
            yield Measurement("keygen_joules", 1.0, "J")
        elif emit == "undeclared-label":
            yield Measurement("keygen_us", 1.0, "us", 99, {"colour": "blue"})
        elif emit == "wrong-unit":
            yield Measurement("keygen_us", 1.0, "ms", 99)
        elif emit == "unstorable":  # declared, but not text: only the store can tell
            yield Measurement("keygen_us", 1.0, "us", 99, {"shade": 5})  # type: ignore[dict-item]


class WorkerIdentity(Suite):
    """Reports which process measured the case, so tests can see how repeats were placed."""

    name = "worker_identity"
    requires = frozenset()
    metrics = {"worker_pid": Metric("count", "none", "process id of the worker")}

    class Params(SuiteParams):
        experiments: int = 2

    def cases(self, params: Params) -> list[dict[str, Any]]:
        return [{"experiment": i} for i in range(params.experiments)]

    def measure(self, adapter, params: Params, case, ctx: MeasureContext):
        yield Measurement("worker_pid", os.getpid(), "count")


class FlakyAdapter(ToyAdapter):
    """Aborts in key generation until the file named by option `heal_file` exists."""

    name = "flaky"

    def keygen_action(self) -> None:
        if not os.path.exists(self.options["heal_file"]):
            os.abort()


class SegfaultingAdapter(ToyAdapter):
    name = "segfaults"

    def keygen_action(self) -> None:
        import ctypes

        ctypes.string_at(0)  # reads address 0: SIGSEGV, as a C library's bug would


SPIN_ENV = "QSBENCH_TEST_ENCAPS_SPIN"


class _SlowerEncaps:
    """An openssl KEM whose encapsulation first spins a calibrated number of loop iterations.

    The slowdown comes from the environment, not from the vendor's options, so the case keeps its
    fingerprint: to the comparison it is the same case measured on new code, as a real regression is.
    """

    def __init__(self, kem: Any, spins: int) -> None:
        self._kem, self._spins = kem, spins

    def __getattr__(self, name: str) -> Any:
        return getattr(self._kem, name)

    def encaps(self, public_key: Any) -> Any:
        for _ in range(self._spins):  # CPU work, so it slows with the host as encapsulation does
            pass
        return self._kem.encaps(public_key)


class SlowedOpenSSL(Adapter):
    """The openssl adapter with a planted encapsulation slowdown (`QSBENCH_TEST_ENCAPS_SPIN`
    iterations of a busy loop per call; 0 or unset: none). For benchmarks/regression_noise.py."""

    name = "slowed-openssl"
    kind = Kind.PQC
    capabilities = frozenset({Capability.KEM})

    @classmethod
    def availability(cls) -> Availability:
        from vendors.openssl import OpenSSLAdapter

        return OpenSSLAdapter.availability()

    @classmethod
    def version(cls) -> str:
        from vendors.openssl import OpenSSLAdapter

        return OpenSSLAdapter.version() + " (test: planted encapsulation slowdown)"

    def __init__(self, options=None) -> None:
        from vendors.openssl import OpenSSLAdapter

        super().__init__(options)
        self._inner = OpenSSLAdapter()

    def kem_algorithms(self):
        return self._inner.kem_algorithms()

    def kem(self, algorithm: str) -> Any:
        return _SlowerEncaps(self._inner.kem(algorithm), int(os.environ.get(SPIN_ENV, "0")))
