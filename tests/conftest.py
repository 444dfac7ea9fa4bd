"""Shared fixtures: the test-only plugins on the path, and scenario helpers."""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path

import pytest

from harness import registry
from harness.metrics import row_problem

PLUGINS = Path(__file__).parent / "plugins"
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def test_plugins(monkeypatch: pytest.MonkeyPatch):
    """Make the test-only adapters and suite discoverable, in-process and in subprocesses."""
    monkeypatch.syspath_prepend(str(PLUGINS))
    path = [str(PLUGINS), os.environ.get("PYTHONPATH", "")]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in path if p))
    registry.adapter_class.cache_clear()
    registry.suite_class.cache_clear()
    yield
    registry.adapter_class.cache_clear()
    registry.suite_class.cache_clear()


def _checked(measure):
    def checked(self, adapter, params, case, ctx):
        rows = list(measure(self, adapter, params, case, ctx))
        for m in rows:
            problem = row_problem(type(self), m.metric, m.unit, m.labels)
            assert problem is None, problem
        return rows

    return checked


@pytest.fixture(autouse=True)
def suites_keep_their_declarations(monkeypatch: pytest.MonkeyPatch):
    """Every row a shipped suite emits in any test is checked against its declaration, as the
    worker checks it in a run: a suite test that calls `measure` directly catches a metric or a
    label its suite forgot to declare."""
    for name in registry.suite_names():
        cls = registry.suite_class(name)
        if cls.__module__.startswith("suites.") and "measure" in vars(cls):
            monkeypatch.setattr(cls, "measure", _checked(vars(cls)["measure"]))


@pytest.fixture
def write_scenario(tmp_path: Path):
    def write(text: str, name: str = "scenario.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text).lstrip())
        return path

    return write


def qsbench_cmd() -> list[str]:
    return [sys.executable, "-m", "harness"]


# --- PQC conformance: capabilities, not vendor names ------------------------------------------
# A test that takes `kem_case` or `signer_case` runs once per (adapter, algorithm) for every
# registered adapter with that capability (collected before the test-only plugins are on the
# path, so only real adapters take part). An adapter that cannot run here is one skipped case
# whose reason is the adapter's own.

def _pqc_params(capability: str) -> list:
    needs = pytest.mark.needs(capability)
    params = []
    for name in registry.adapter_names():
        info = registry.vendor_info(name)
        if capability not in info.capabilities:
            continue
        if not info.available:
            skip = pytest.mark.skip(reason=f"{name} unavailable: {info.reason}")
            params.append(pytest.param((name, None), id=f"{name}-unavailable", marks=[needs, skip]))
            continue
        adapter = registry.adapter_class(name)()
        algorithms = adapter.kem_algorithms() if capability == "kem" else adapter.signature_algorithms()
        adapter.close()
        params += [pytest.param((name, a), id=f"{name}-{a}", marks=needs) for a in algorithms]
    return params


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    for fixture, capability in (("kem_case", "kem"), ("signer_case", "signature")):
        if fixture in metafunc.fixturenames:
            metafunc.parametrize(fixture, _pqc_params(capability), indirect=True)


def _adapter_case(request: pytest.FixtureRequest, make):
    name, algorithm = request.param
    adapter = registry.adapter_class(name)()
    try:
        yield adapter, make(adapter, algorithm)
    finally:
        adapter.close()


@pytest.fixture
def kem_case(request: pytest.FixtureRequest):
    """(adapter, Kem) for one algorithm of one adapter with the `kem` capability."""
    yield from _adapter_case(request, lambda adapter, algorithm: adapter.kem(algorithm))


@pytest.fixture
def signer_case(request: pytest.FixtureRequest):
    """(adapter, Signer) for one algorithm of one adapter with the `signature` capability."""
    yield from _adapter_case(request, lambda adapter, algorithm: adapter.signer(algorithm))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # `tox -e slow` selects `-m slow`; a checkout with no slow test yet is not a failure.
    if exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED and session.config.getoption("markexpr") == "slow":
        session.exitstatus = pytest.ExitCode.OK
