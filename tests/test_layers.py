"""The house rules a reader relies on: the engine names no vendor and no suite, vendors name no
suite, suites name no vendor, and plugin commands register like any other plugin."""

from __future__ import annotations

import ast
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO, qsbench_cmd


def _imported_packages(folder: str) -> dict[str, set[str]]:
    """Top-level packages each module under `folder` imports (any depth, lazy imports included)."""
    found: dict[str, set[str]] = {}
    for path in sorted((REPO / folder).rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        names = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(REPO))] = names
    return found


@pytest.mark.parametrize(("folder", "forbidden"), [
    ("harness", {"vendors", "suites"}),
    ("vendors", {"suites"}),
    ("suites", {"vendors"}),
])
def test_a_layer_imports_only_the_layers_below_it(folder: str, forbidden: set[str]) -> None:
    offenders = {module: sorted(names & forbidden)
                 for module, names in _imported_packages(folder).items() if names & forbidden}
    assert offenders == {}


def test_the_layer_check_catches_an_engine_module_that_imports_a_vendor(tmp_path, monkeypatch) -> None:
    (tmp_path / "harness").mkdir()
    (tmp_path / "harness" / "bad.py").write_text("def f():\n    from vendors.simulated_qkd import link\n")
    monkeypatch.setattr("tests.test_layers.REPO", tmp_path)
    assert _imported_packages("harness") == {"harness/bad.py": {"vendors"}}


def test_plugin_commands_register_and_a_broken_one_costs_only_its_own(tmp_path: Path) -> None:
    """A `qsbench.commands` entry point adds a command, exactly as the simulated device's `kme`
    does; one that fails to import (deliberately broken here) is named on stderr, and the CLI
    and every other command keep working."""
    dist = tmp_path / "qsbench_cmd_plugins-0.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: qsbench-cmd-plugins\nVersion: 0.0\n")
    (dist / "entry_points.txt").write_text(
        "[qsbench.commands]\nhello = qsbench_cmd_plugins:register\n"
        "broken = qsbench_cmd_plugins_missing:register\n")
    (tmp_path / "qsbench_cmd_plugins.py").write_text(
        "def register(app):\n"
        "    @app.command('hello')\n"
        "    def hello() -> None:\n"
        "        '''Say hello (a test plugin).'''\n"
        "        print('hello from a plugin')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(tmp_path),
                                                                    os.environ.get("PYTHONPATH")]))}

    def qsbench(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*qsbench_cmd(), *args], env=env, capture_output=True, text=True,
                              timeout=120)

    hello = qsbench("hello")
    assert hello.returncode == 0, hello.stderr
    assert hello.stdout.strip() == "hello from a plugin"
    assert "'broken'" in hello.stderr and "ModuleNotFoundError" in hello.stderr
    kme = qsbench("kme", "--help")
    assert kme.returncode == 0, kme.stderr
    assert "certs" in kme.stdout and "serve" in kme.stdout
