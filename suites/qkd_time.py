"""Letting time pass on a QKD link, whichever kind of device it is.

A device with telemetry runs its own clock (`observe`: a real one waits, the simulated
one runs its Monte Carlo as fast as it can); a device reached only through key delivery
runs on wall time, so the suite sleeps. Every suite that needs time to pass uses this.
"""

from __future__ import annotations

import time

from harness.adapters import Adapter, Capability, KeyDelivery, KeyDeliveryError, TelemetrySnapshot


def device_clock(adapter: Adapter) -> bool:
    return Capability.TELEMETRY in adapter.capabilities


def let_time_pass(adapter: Adapter, seconds: float) -> TelemetrySnapshot | None:
    """Advance the link by `seconds` of its own time; the telemetry of that window where there is one."""
    if device_clock(adapter):
        return adapter.observe(seconds)  # type: ignore[attr-defined]
    time.sleep(seconds)
    return None


def observe_window(adapter: Adapter, seconds: float, max_calls: int = 200) -> TelemetrySnapshot:
    """A telemetry window of at least `seconds` in which the device ran at least once.

    A device that distils in whole blocks reports whole blocks: a window is the fewest blocks
    that cover `seconds`, at least one, and its `window_s` is their link time. Its last block may
    run ahead of the clock; a request shorter than that comes back empty, so ask again, doubling
    the request, until a block lands in one (a far link's block may be hours of link time; the
    doubling reaches it in a few dozen calls, and the time it asks for is owed, never skipped).
    """
    request = seconds
    for _ in range(max_calls):
        snap = adapter.observe(request)  # type: ignore[attr-defined]
        if snap.window_s > 0:
            return snap
        request *= 2
    raise RuntimeError(f"{adapter.name} reported {max_calls} empty windows from {seconds} s up")


def stored_keys(kd: KeyDelivery) -> int:
    try:
        return kd.status().stored_key_count
    except KeyDeliveryError:
        return 0


def wait_for_keys(adapter: Adapter, count: int, budget_s: float, step_s: float = 0.25) -> int:
    """Let time pass in steps until `count` keys are stored or `budget_s` (link time) is spent."""
    spent, stored = 0.0, stored_keys(adapter)  # type: ignore[arg-type]
    while stored < count and spent < budget_s:
        let_time_pass(adapter, step_s)
        spent += step_s
        stored = stored_keys(adapter)  # type: ignore[arg-type]
    return stored
