"""The run manifest: who ran what, where, with which versions and seed."""

from __future__ import annotations

import os
import platform
import secrets
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from harness import netem
from harness.registry import adapter_names, vendor_info
from harness.scenario import LoadedScenario


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def host() -> dict[str, Any]:
    return {"hostname": platform.node(), "cpu_model": cpu_model(), "cores": os.cpu_count(),
            "os": platform.platform(), "python": platform.python_version()}


def qsbench_version() -> str:
    try:
        return version("qsbench")
    except PackageNotFoundError:
        return "unknown (not installed)"


def new_run_id(scenario_name: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in scenario_name)[:40]
    return f"{stamp}-{safe}-{secrets.token_hex(2)}"


def new_manifest(loaded: LoadedScenario, run_id: str, seed: int, columns: dict[str, str],
                 param_columns: list[str], case_count: int) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "scenario": {"name": loaded.scenario.name, "source": loaded.source,
                     "sha256": loaded.sha256, "text": loaded.text},
        "seed": seed,
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "finished": None,
        "host": host(),
        "network_emulation": netem.environment(),
        "versions": {"qsbench": qsbench_version(),
                     **{f"adapter:{name}": vars(vendor_info(name)) for name in adapter_names()}},
        "user": os.environ.get("USER") or os.environ.get("LOGNAME") or "",
        "cases": case_count,
        "columns": columns,
        "param_columns": param_columns,
    }
