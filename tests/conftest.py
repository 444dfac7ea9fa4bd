"""Shared fixtures: the test-only plugins on the path, and scenario helpers."""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path

import pytest

from harness import registry

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


@pytest.fixture
def write_scenario(tmp_path: Path):
    def write(text: str, name: str = "scenario.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text).lstrip())
        return path

    return write


def qsbench_cmd() -> list[str]:
    return [sys.executable, "-m", "harness"]
