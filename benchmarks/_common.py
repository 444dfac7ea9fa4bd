"""Shared helpers for the QKD post-processing benchmarks: timing, spread, machine context."""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any


def timed(call: Callable[[], Any]) -> tuple[Any, float, float]:
    """(result, wall seconds, CPU seconds of this process) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = call()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def spread(values: list[float]) -> dict[str, float]:
    """Median, quartiles, min and max of a sample."""
    q1, med, q3 = statistics.quantiles(values, n=4) if len(values) > 1 else (values[0],) * 3
    return {"median": med, "q1": q1, "q3": q3, "min": min(values), "max": max(values), "n": len(values)}


def machine() -> dict[str, Any]:
    """Where it ran: CPU, core count and the load average (a shared machine inflates wall times)."""
    return {"machine": platform.machine(), "processor": platform.processor() or _cpu_model(),
            "cpus": os.cpu_count(), "loadavg_1min": os.getloadavg()[0], "python": platform.python_version()}


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"
