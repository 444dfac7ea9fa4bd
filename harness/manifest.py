"""The run manifest: who ran what, where, with which versions and seed, and what the host was doing.

`host_state()` is taken when the run starts and again when it finishes: load
averages, the number of other runnable processes, the CPU frequency governor
and current frequencies where the kernel shows them. A busy or throttling host
explains a noisy run; `harness.evaluation.stability` judges the run by its timings.
"""

from __future__ import annotations

import os
import platform
import secrets
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from harness import netem
from harness.metrics import snapshot
from harness.registry import adapter_names, suite_class, vendor_info
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


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _runnable_others() -> int | None:
    """Runnable threads on the host other than the one asking (/proc/stat procs_running)."""
    text = _read(Path("/proc/stat")) or ""
    for line in text.splitlines():
        if line.startswith("procs_running "):
            return max(0, int(line.split()[1]) - 1)
    return None


def _frequencies_mhz() -> list[float] | None:
    cpus = sorted(Path("/sys/devices/system/cpu").glob("cpu[0-9]*/cpufreq/scaling_cur_freq"),
                  key=lambda p: int(p.parent.parent.name[3:]))
    found = [float(v) / 1000 for p in cpus if (v := _read(p)) and v.isdigit()]
    if found:
        return found
    text = _read(Path("/proc/cpuinfo")) or ""  # virtual machines often show only this
    found = [float(line.split(":", 1)[1]) for line in text.splitlines() if line.startswith("cpu MHz")]
    return found or None


def host_state() -> dict[str, Any]:
    """What the host is doing now; fields the kernel does not show are None."""
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = None
    governors = sorted({g for p in Path("/sys/devices/system/cpu").glob("cpu[0-9]*/cpufreq/scaling_governor")
                        if (g := _read(p))})
    return {"time": datetime.now(UTC).isoformat(timespec="seconds"), "load_average": load,
            "runnable_others": _runnable_others(), "governor": governors or None,
            "frequencies_mhz": _frequencies_mhz()}


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
    suites = loaded.scenario.suites
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
        # What each metric meant when the run was made: comparisons judge by this, not by names.
        "metrics": snapshot(suite_class(name) for name in dict.fromkeys(r.suite for r in suites)),
        "host_state": {"start": host_state(), "end": None},
    }
