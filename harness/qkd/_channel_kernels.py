"""numba kernels of the event Monte Carlo. Private: call them through harness.qkd.channel.

Every random number is a uniform double from xoshiro256+ (Blackman and Vigna), seeded through
splitmix64: about 1 ns a draw against 7-8 ns for numba's Mersenne Twister, which matters at a
dozen draws per detection. Its state lives in a uint64[4] array, so the plain-Python references
in tests/qkd_reference.py reproduce these kernels draw for draw on fixed seeds.
"""

from __future__ import annotations

import math

import numba
import numpy as np

KIND_HONEST, KIND_RESENT, KIND_BLINDED = 0, 1, 2
EVE_NO_INFORMATION = 2


_U = np.uint64


@numba.njit(cache=True)
def _seeded(seed):
    """xoshiro256 state from a 64-bit seed via splitmix64 (the seeding its authors recommend)."""
    state = np.empty(4, np.uint64)
    z = _U(seed)
    for i in range(4):
        z += _U(0x9E3779B97F4A7C15)
        x = z
        x = (x ^ (x >> _U(30))) * _U(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> _U(27))) * _U(0x94D049BB133111EB)
        state[i] = x ^ (x >> _U(31))
    return state


@numba.njit(cache=True)
def _uniform(st):
    """Next double in [0, 1): the top 53 bits of xoshiro256+."""
    s0, s1, s2, s3 = st[0], st[1], st[2], st[3]
    result = s0 + s3
    t = s1 << _U(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = (s3 << _U(45)) | (s3 >> _U(19))
    st[0], st[1], st[2], st[3] = s0, s1, s2, s3
    return (result >> _U(11)) * (1.0 / 9007199254740992.0)


@numba.njit(cache=True)
def _search(cdf, u):
    # Linear search: the mass sits on the first few entries (small photon numbers).
    i = 0
    while i < cdf.shape[0] - 1 and u >= cdf[i]:
        i += 1
    return i


@numba.njit(cache=True)
def _search_row(cdf, row, u):
    # Same on one row, without taking a slice: slices cost reference counting per call.
    i = 0
    last = cdf.shape[1] - 1
    while i < last and u >= cdf[row, i]:
        i += 1
    return i


@numba.njit(cache=True)
def _dark_pair(u, p):
    """(d0, d1) given at least one dark count, from u uniform on [0, 1 - (1-p)^2)."""
    single = p * (1.0 - p)
    if u < single:
        return True, False
    if u < 2.0 * single:
        return False, True
    return True, True


# Inlined at the numba level: as a separate call it costs half the time of an event.
@numba.njit(cache=True, inline="always")
def _one_event(st, k, e, event_cdf, kind, forwarded, share, arrivals_cdf, p_dark, p_key,
               misalignment, out_intensity, out_a_basis, out_a_bit, out_b_basis, out_b_bit,
               out_photons, out_clicks, out_eve):
    """Generate detection event e at intensity k, given that it clicked."""
    a_basis = 0 if _uniform(st) < p_key else 1
    a_bit = 1 if _uniform(st) < 0.5 else 0
    b_basis = 0 if _uniform(st) < p_key else 1
    j = _search_row(event_cdf, k, _uniform(st))
    n, path = j // 2, j % 2
    kd = kind[path]
    eve = EVE_NO_INFORMATION
    if kd == KIND_BLINDED:
        # Eve's trigger clicks only when Bob's basis equals hers; she measured in that basis.
        eve = a_bit if b_basis == a_basis else (1 if _uniform(st) < 0.5 else 0)
        b_bit = eve
        clicks = 1 << b_bit
    else:
        s_basis, s_bit = a_basis, a_bit
        if kd == KIND_RESENT:
            s_basis = 0 if _uniform(st) < 0.5 else 1
            s_bit = a_bit if s_basis == a_basis else (1 if _uniform(st) < 0.5 else 0)
            eve = s_bit
        elif n >= 2 and path == 1:
            eve = a_bit  # PNS: Eve holds a copy and learns the basis at sifting
        m = 0
        d0 = False
        d1 = False
        any_dark = 1.0 - (1.0 - p_dark) * (1.0 - p_dark)
        if _uniform(st) < share[n, path]:
            m = 1
            if forwarded[n, path] > 1:
                u = _uniform(st)
                while m < arrivals_cdf.shape[2] - 1 and u >= arrivals_cdf[n, path, m]:
                    m += 1
            # Dark counts are independent of the photons here: one draw decides "none" (the
            # common case), a second one which, conditioned on at least one.
            if _uniform(st) < any_dark:
                d0, d1 = _dark_pair(_uniform(st) * any_dark, p_dark)
        else:
            # No photon detected: at least one dark count, (d0, d1) conditioned on that.
            d0, d1 = _dark_pair(_uniform(st) * any_dark, p_dark)
        m1 = 0
        for _ in range(m):
            if b_basis == s_basis:
                to_one = (s_bit == 1) != (_uniform(st) < misalignment)
            else:
                to_one = _uniform(st) < 0.5
            if to_one:
                m1 += 1
        c0 = d0 or (m - m1) > 0
        c1 = d1 or m1 > 0
        clicks = (1 if c0 else 0) | (2 if c1 else 0)
        # A double click is squashed to a random bit.
        b_bit = (1 if _uniform(st) < 0.5 else 0) if clicks == 3 else (1 if c1 else 0)
    out_intensity[e] = k
    out_a_basis[e] = a_basis
    out_a_bit[e] = a_bit
    out_b_basis[e] = b_basis
    out_b_bit[e] = b_bit
    out_photons[e] = n
    out_clicks[e] = clicks
    out_eve[e] = eve


@numba.njit(cache=True)
def _subblock(seed, pulses, first_slot, start, capacity, log1m_q, intensity_cdf, event_cdf, kind,
              forwarded, share, arrivals_cdf, p_dark, p_key, misalignment, out_slot, out_intensity,
              out_a_basis, out_a_bit, out_b_basis, out_b_bit, out_photons, out_clicks, out_eve):
    """Walk one run of pulses by geometric gaps between clicks; return events written (-1: overflow)."""
    st = _seeded(seed)
    if log1m_q == 0.0:
        return 0
    pos = -1
    e = start
    while True:
        pos += 1 + int(math.log(1.0 - _uniform(st)) / log1m_q)
        if pos >= pulses:
            break
        if e >= start + capacity:
            return -1
        out_slot[e] = first_slot + pos
        k = _search(intensity_cdf, _uniform(st))
        _one_event(st, k, e, event_cdf, kind, forwarded, share, arrivals_cdf, p_dark, p_key,
                   misalignment, out_intensity, out_a_basis, out_a_bit, out_b_basis, out_b_bit,
                   out_photons, out_clicks, out_eve)
        e += 1
    return e - start


@numba.njit(cache=True, parallel=True)
def _generate(seeds, pulses, first_slot, start, capacity, log1m_q, intensity_cdf, event_cdf, kind,
              forwarded, share, arrivals_cdf, p_dark, p_key, misalignment, out_slot, out_intensity,
              out_a_basis, out_a_bit, out_b_basis, out_b_bit, out_photons, out_clicks, out_eve, written):
    # Each run re-seeds its own generator, so the result does not depend on the thread count.
    for c in numba.prange(seeds.shape[0]):
        written[c] = _subblock(seeds[c], pulses[c], first_slot[c], start[c], capacity[c], log1m_q,
                               intensity_cdf, event_cdf, kind, forwarded, share, arrivals_cdf, p_dark, p_key,
                               misalignment, out_slot, out_intensity, out_a_basis, out_a_bit,
                               out_b_basis, out_b_bit, out_photons, out_clicks, out_eve)


@numba.njit(cache=True)
def _dead_time_afterpulse(seed, dead_slots, p_afterpulse, empty_intensity_cdf, p_key, total_slots,
                          slot, clicks, b_bit, ap_slot, ap_intensity, ap_a_basis, ap_a_bit, ap_b_basis,
                          ap_detector):
    """Apply per-detector dead time and afterpulsing in time order.

    A click makes its detector blind for ``dead_slots`` gates; with probability ``p_afterpulse``
    it clicks again at the first gate after that (an afterpulse: random bit relative to Alice,
    and it too starts a dead time). Candidate clicks on a dead detector are lost. Modifies
    ``clicks`` and ``b_bit`` in place (clicks 0 = event lost) and returns the afterpulse count,
    or -1 when the afterpulse arrays are too small.
    """
    st = _seeded(seed)
    dead_until = np.array([-1, -1], dtype=np.int64)  # last blind slot per detector
    pending = np.array([-1, -1], dtype=np.int64)  # afterpulse slot per detector, -1 none
    n_ap = 0
    n = slot.shape[0]
    i = 0
    while True:
        t = slot[i] if i < n else total_slots
        # Afterpulses due before this event fire first (they may chain).
        while True:
            j = -1
            for d in range(2):
                if pending[d] >= 0 and pending[d] < t and (j < 0 or pending[d] < pending[j]):
                    j = d
            if j < 0:
                break
            s = pending[j]
            pending[j] = -1
            if s >= total_slots:
                continue
            if n_ap >= ap_slot.shape[0]:
                return -1
            ap_slot[n_ap] = s
            ap_detector[n_ap] = j
            ap_intensity[n_ap] = _search(empty_intensity_cdf, _uniform(st))
            ap_a_basis[n_ap] = 0 if _uniform(st) < p_key else 1
            ap_a_bit[n_ap] = 1 if _uniform(st) < 0.5 else 0
            ap_b_basis[n_ap] = 0 if _uniform(st) < p_key else 1
            n_ap += 1
            dead_until[j] = s + dead_slots
            if _uniform(st) < p_afterpulse:
                pending[j] = s + dead_slots + 1
        if i >= n:
            break
        c = np.int64(clicks[i])
        for d in range(2):
            if pending[d] == t:  # an afterpulse lands on this event's gate: it adds a click
                pending[d] = -1
                c = c | (np.int64(1) << d)
            if (c >> d) & 1 and t <= dead_until[d]:
                c = c & ~(np.int64(1) << d)
        if c != clicks[i]:
            if c == 1 or c == 2:
                b_bit[i] = c >> 1
            elif c == 3:
                b_bit[i] = 1 if _uniform(st) < 0.5 else 0
            clicks[i] = c
        for d in range(2):
            if (c >> d) & 1:
                dead_until[d] = t + dead_slots
                if _uniform(st) < p_afterpulse:
                    pending[d] = t + dead_slots + 1
        i += 1
    return n_ap
