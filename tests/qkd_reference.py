"""Slow, plain-Python references for the numba kernels of harness.qkd (the STUMPY naive.py pattern).

They consume the same xoshiro256+ stream in the same order as the kernels, so on a fixed seed
they must produce identical events; every step is written out long-hand for reading.
"""

from __future__ import annotations

import math

import numpy as np

MASK = (1 << 64) - 1


class Xoshiro256Plus:
    """xoshiro256+ seeded by splitmix64, as published by Blackman and Vigna."""

    def __init__(self, seed: int) -> None:
        z = seed & MASK
        self.s = []
        for _ in range(4):
            z = (z + 0x9E3779B97F4A7C15) & MASK
            x = z
            x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK
            x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK
            self.s.append(x ^ (x >> 31))

    def uniform(self) -> float:
        s0, s1, s2, s3 = self.s
        result = (s0 + s3) & MASK
        t = (s1 << 17) & MASK
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = ((s3 << 45) | (s3 >> 19)) & MASK
        self.s = [s0, s1, s2, s3]
        return (result >> 11) * (1.0 / 9007199254740992.0)


def first_index_above(cdf, u: float) -> int:
    """Smallest i with u < cdf[i] (the last index if none)."""
    for i, c in enumerate(cdf):
        if u < c:
            return i
    return len(cdf) - 1


def reference_events(seed: int, pulses: int, q: float, alias_threshold, alias_index, model,
                     p_key: float, misalignment: float) -> list[tuple[int, ...]]:
    """Events of one run: (slot, intensity, a_basis, a_bit, b_basis, b_bit, photons, clicks, eve)."""
    rng = Xoshiro256Plus(seed)
    inv_log1m_q = 1.0 / math.log1p(-q)
    n_photon_numbers = model.click.shape[0]
    p = model.dark_probability
    any_dark = 1.0 - (1.0 - p) * (1.0 - p)
    events = []
    slot = -1
    while True:
        gap = math.log(1.0 - rng.uniform()) * inv_log1m_q  # geometric gap to the next click
        if gap >= pulses - 1 - slot:
            return events
        slot += 1 + int(gap)
        # Alias method: column from the integer part, side from the fraction.
        x = rng.uniform() * len(alias_threshold)
        column = int(x)
        j = column if x - column < alias_threshold[column] else int(alias_index[column])
        k, rest = divmod(j, 2 * n_photon_numbers)
        n, path = divmod(rest, 2)
        a_basis = 0 if rng.uniform() < p_key else 1
        a_bit = 1 if rng.uniform() < 0.5 else 0
        b_basis = 0 if rng.uniform() < p_key else 1
        kind = model.kind[path]
        eve = 2
        if kind == 2:  # blinded: Bob clicks only in Eve's basis, on Eve's bit
            eve = a_bit if b_basis == a_basis else (1 if rng.uniform() < 0.5 else 0)
            events.append((slot, k, a_basis, a_bit, b_basis, eve, n, 1 << eve, eve))
            continue
        state_basis, state_bit = a_basis, a_bit
        if kind == 1:  # intercept-resend: Bob receives Eve's state
            state_basis = 0 if rng.uniform() < 0.5 else 1
            state_bit = a_bit if state_basis == a_basis else (1 if rng.uniform() < 0.5 else 0)
            eve = state_bit
        elif n >= 2 and path == 1:
            eve = a_bit
        photons, dark = 0, [False, False]
        if rng.uniform() < model.photon_click_share[n, path]:
            photons = 1
            if model.forwarded[n, path] > 1:
                photons = 1 + first_index_above(model.arrivals_cdf[n, path, 1:], rng.uniform())
            if rng.uniform() < any_dark:
                dark = dark_pair(rng.uniform() * any_dark, p)
        else:
            dark = dark_pair(rng.uniform() * any_dark, p)
        to_detector = [0, 0]
        for _ in range(photons):
            if b_basis == state_basis:
                # Detector 1 with probability 1 - e_d for bit 1, e_d for bit 0.
                p_one = 1.0 - misalignment if state_bit == 1 else misalignment
            else:
                p_one = 0.5
            to_detector[1 if rng.uniform() < p_one else 0] += 1
        c0 = dark[0] or to_detector[0] > 0
        c1 = dark[1] or to_detector[1] > 0
        clicks = int(c0) | (int(c1) << 1)
        b_bit = (1 if rng.uniform() < 0.5 else 0) if clicks == 3 else int(c1)
        events.append((slot, k, a_basis, a_bit, b_basis, b_bit, n, clicks, eve))


def dark_pair(u: float, p: float) -> list[bool]:
    single = p * (1.0 - p)
    if u < single:
        return [True, False]
    if u < 2.0 * single:
        return [False, True]
    return [True, True]


def reference_dead_time(seed: int, dead_slots: int, p_ap: float, empty_cdf, p_key: float,
                        total_slots: int, slots, clicks, bob_bits, intensities=None):
    """Dead time and afterpulses in time order; returns (clicks, bob_bits, afterpulse events).

    With ``intensities`` (the lim-2014 model) an afterpulse takes the intensity of the click
    that caused it and never afterpulses itself.
    """
    rng = Xoshiro256Plus(seed)
    inv_log1m_p = 1.0 / math.log1p(-p_ap) if p_ap > 0 else 0.0

    def clicks_to_next_afterpulse() -> int:
        # Geometric number of detector clicks up to the next one that afterpulses.
        if inv_log1m_p == 0.0:
            return 1 << 62
        return 1 + int(min(math.log(1.0 - rng.uniform()) * inv_log1m_p, 1e18))

    countdown = clicks_to_next_afterpulse()
    clicks = [int(c) for c in clicks]
    bob_bits = [int(b) for b in bob_bits]
    dead_until = [-1, -1]
    pending = [None, None]
    cause = [0, 0]
    afterpulses = []
    for i in range(len(slots) + 1):
        now = int(slots[i]) if i < len(slots) else total_slots
        while True:
            due = [d for d in (0, 1) if pending[d] is not None and pending[d] < now]
            if not due:
                break
            d = min(due, key=lambda x: (pending[x], x))
            at, pending[d] = pending[d], None
            if at >= total_slots:
                continue
            k = cause[d] if intensities is not None else first_index_above(empty_cdf, rng.uniform())
            a_basis = 0 if rng.uniform() < p_key else 1
            a_bit = 1 if rng.uniform() < 0.5 else 0
            b_basis = 0 if rng.uniform() < p_key else 1
            afterpulses.append((at, k, a_basis, a_bit, b_basis, d))
            dead_until[d] = at + dead_slots
            if intensities is None:
                countdown -= 1
            if countdown == 0:
                pending[d] = at + dead_slots + 1
                countdown = clicks_to_next_afterpulse()
        if i == len(slots):
            break
        fired = [bool(clicks[i] >> d & 1) for d in (0, 1)]
        for d in (0, 1):
            if pending[d] == now:
                pending[d] = None
                fired[d] = True
            if fired[d] and now <= dead_until[d]:
                fired[d] = False
        new = int(fired[0]) | (int(fired[1]) << 1)
        if new != clicks[i]:
            if new in (1, 2):
                bob_bits[i] = new >> 1
            elif new == 3:
                bob_bits[i] = 1 if rng.uniform() < 0.5 else 0
            clicks[i] = new
        for d in (0, 1):
            if fired[d]:
                dead_until[d] = now + dead_slots
                countdown -= 1
                if countdown == 0:
                    pending[d] = now + dead_slots + 1
                    if intensities is not None:
                        cause[d] = int(intensities[i])
                    countdown = clicks_to_next_afterpulse()
    return np.array(clicks), np.array(bob_bits), afterpulses
