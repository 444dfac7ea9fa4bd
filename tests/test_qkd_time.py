"""observe_window on a device that distils in blocks: each window is whole blocks, at least one."""

from __future__ import annotations

import pytest

from harness.adapters import Capability, TelemetrySnapshot
from suites.qkd_time import observe_window


class BlockDevice:
    """A clock that advances in indivisible blocks and owes time it ran ahead, like the simulated link."""

    name = "blocks"
    capabilities = frozenset({Capability.TELEMETRY})

    def __init__(self, block_s: float) -> None:
        self.block_s, self.ahead_s, self.calls = block_s, 0.0, 0

    def observe(self, duration_s: float) -> TelemetrySnapshot:
        self.calls += 1
        ran, target = 0.0, duration_s - self.ahead_s
        while ran < target:
            ran += self.block_s
        self.ahead_s = ran - target
        return TelemetrySnapshot(ran, 0.01, 1.0 if ran else 0.0, 0.0, 0.0, 0, True)


@pytest.mark.parametrize("block_s", [0.6, 3.0e4])  # a near link's block, a far one's (hours)
def test_a_window_shorter_than_a_block_is_one_block_every_time(block_s):
    device = BlockDevice(block_s)
    windows = [observe_window(device, 0.5) for _ in range(5)]
    assert [w.window_s for w in windows] == [block_s] * 5
    assert device.calls <= 5 * 20  # the doubling crosses 3e4 s of run-ahead in ~16 requests


def test_a_window_longer_than_a_block_is_the_fewest_blocks_that_cover_it():
    device = BlockDevice(0.6)
    assert [observe_window(device, 2.0).window_s for _ in range(3)] == pytest.approx([2.4, 1.8, 2.4])
