"""The link model behind the userspace proxy: when does each byte of a TCP stream arrive?

The proxy forwards a byte stream, so it cannot drop packets; instead it charges every
segment the time a real TCP connection over the emulated link would have spent on it:

* **Propagation**: a fixed one-way delay per direction (half the RTT unless asked otherwise).
* **Bandwidth**: a FIFO link per direction; a segment occupies it for
  (payload + 52 header bytes) × 8 / rate, the 52 bytes being IPv4 + TCP + timestamps,
  so a 1448-byte MSS fills a 1500-byte MTU, as on Ethernet (netem's `rate` also counts headers).
* **Slow start**: a sender may have at most `initcwnd` (10, RFC 6928, the Linux default)
  unacknowledged segments at the start; every ACK grows the window by one segment. Segment k ≥ IW
  therefore waits for the ACK of segment (k − IW) // 2, which arrives one reverse delay after that
  segment did. This is what makes a server flight larger than ~14.5 kB cost an extra round trip.
* **Loss**: each segment (and each retransmission of it) is lost independently with probability p.
  A lost segment arrives one retransmission timeout later, the timeout doubling per repeated loss
  (RFC 6298 back-off). The timeout is Linux's for a connection with one RTT sample:
  srtt + max(4·rttvar, 200 ms) with srtt = RTT and rttvar = RTT/2, i.e. RTT + max(2·RTT, 200 ms).
  A lost SYN or SYN-ACK costs the initial timeout of 1 s (RFC 6298 §2.1), also doubling.
  TCP delivers in order, so every later byte waits behind a lost one (head-of-line blocking).

Simplifications, each erring towards a faster link than a real one: ACK loss is ignored (cumulative
ACKs hide it), a loss does not shrink the congestion window, fast retransmit and tail-loss probes
(which can recover in about 2 RTT instead of the RTO) are not modelled, delayed ACKs are not modelled.
For handshakes (a few segments per flight, then idle) the RTO path is what real stacks mostly take:
there are too few segments after a loss for three duplicate ACKs.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

HEADER_BYTES = 52
LINUX_MSS = 1448
INITIAL_CWND = 10
INITIAL_RTO_S = 1.0
MIN_RTO_S = 0.2


@dataclass(frozen=True)
class LinkConditions:
    """What a scenario asks of the path between client and server."""

    rtt_ms: float = 0.0
    loss_pct: float = 0.0
    bandwidth_mbps: float | None = None
    mss: int = LINUX_MSS
    initcwnd: int = INITIAL_CWND

    def __post_init__(self) -> None:
        if self.rtt_ms < 0:
            raise ValueError(f"rtt_ms must be ≥ 0, got {self.rtt_ms}")
        if not 0 <= self.loss_pct < 100:
            raise ValueError(f"loss_pct must be in [0, 100), got {self.loss_pct}")
        if self.bandwidth_mbps is not None and self.bandwidth_mbps <= 0:
            raise ValueError(f"bandwidth_mbps must be > 0 or None, got {self.bandwidth_mbps}")
        if self.mss < 64 or self.initcwnd < 1:
            raise ValueError(f"mss ≥ 64 and initcwnd ≥ 1 required, got {self.mss}, {self.initcwnd}")

    @property
    def one_way_s(self) -> float:
        return self.rtt_ms / 2000.0

    @property
    def loss(self) -> float:
        return self.loss_pct / 100.0

    @property
    def rto_s(self) -> float:
        rtt = self.rtt_ms / 1000.0
        return rtt + max(2 * rtt, MIN_RTO_S)

    @property
    def is_plain_loopback(self) -> bool:
        return self.rtt_ms == 0 and self.loss_pct == 0 and self.bandwidth_mbps is None


@dataclass
class DirectionStats:
    bytes: int = 0
    segments: int = 0
    lost_segments: int = 0  # counting every lost transmission, retransmissions included
    slow_start_rounds: int = 0  # most round trips any segment waited for the window to open


@dataclass
class Direction:
    """One direction of one TCP connection; `schedule` is called in stream order."""

    conditions: LinkConditions
    rng: random.Random
    not_before: float = 0.0  # the connection is not yet established before this time
    stats: DirectionStats = field(default_factory=DirectionStats)
    _link_free: float = 0.0
    _last_arrival: float = 0.0
    _ack_times: list[float] = field(default_factory=list)
    _rounds: list[int] = field(default_factory=list)

    def schedule(self, now: float, nbytes: int) -> list[tuple[float, int]]:
        """Arrival time (same clock as `now`) and length of each segment of `nbytes` written at `now`."""
        c = self.conditions
        out: list[tuple[float, int]] = []
        offset = 0
        while offset < nbytes:
            length = min(c.mss, nbytes - offset)
            offset += length
            ready = max(now, self.not_before)
            k = len(self._ack_times)
            rounds = 0
            if k >= c.initcwnd:
                ref = (k - c.initcwnd) // 2
                if self._ack_times[ref] > ready:
                    ready = self._ack_times[ref]
                    rounds = self._rounds[ref] + 1
            start = max(ready, self._link_free)
            tx = (length + HEADER_BYTES) * 8 / (c.bandwidth_mbps * 1e6) if c.bandwidth_mbps else 0.0
            self._link_free = start + tx
            arrival = start + tx + c.one_way_s
            rto = c.rto_s
            while c.loss and self.rng.random() < c.loss:
                arrival += rto
                rto *= 2
                self.stats.lost_segments += 1
            arrival = max(arrival, self._last_arrival)  # in-order delivery
            self._last_arrival = arrival
            self._ack_times.append(arrival + c.one_way_s)
            self._rounds.append(rounds)
            self.stats.segments += 1
            self.stats.bytes += length
            self.stats.slow_start_rounds = max(self.stats.slow_start_rounds, rounds)
            out.append((arrival, length))
        return out


def connect_delay_s(conditions: LinkConditions, rng: random.Random) -> float:
    """Time from connect() to the established connection: one RTT plus the cost of lost SYN/SYN-ACKs."""
    delay = conditions.rtt_ms / 1000.0
    for _ in range(2):  # the SYN, then the SYN-ACK
        rto = INITIAL_RTO_S
        while conditions.loss and rng.random() < conditions.loss:
            delay += rto
            rto *= 2
    return delay
