"""numba kernels of the event Monte Carlo. Private: call them through harness.qkd.channel.

``error_model="numpy"`` drops Python's zero-division checks from the hot loops; the wrappers
guarantee the divisors. Every random number is a uniform double from xoshiro256+ (Blackman and
Vigna) seeded through splitmix64: about 1 ns a draw against 7-8 ns for numba's Mersenne
Twister, which matters at a dozen draws per detection. Its state lives in a uint64[4] array, so
the plain-Python references in tests/qkd_reference.py replay these kernels draw for draw.
"""

from __future__ import annotations

import math

import numba
import numpy as np

KIND_HONEST, KIND_RESENT, KIND_BLINDED = 0, 1, 2
EVE_NO_INFORMATION = 2


_U = np.uint64


@numba.njit(cache=True, error_model="numpy")
def _seeded_states(seeds):
    """One xoshiro256 state per seed, as rows of a (n, 4) uint64 array."""
    states = np.empty((seeds.shape[0], 4), np.uint64)
    for i in range(seeds.shape[0]):
        states[i] = _seeded(seeds[i])
    return states


@numba.njit(cache=True, error_model="numpy")
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


@numba.njit(cache=True, error_model="numpy", _nrt=False)
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


@numba.njit(cache=True, error_model="numpy", _nrt=False)
def _search(cdf, u):
    # Linear search: the mass sits on the first few entries (small photon numbers).
    i = 0
    while i < cdf.shape[0] - 1 and u >= cdf[i]:
        i += 1
    return i


@numba.njit(cache=True, error_model="numpy", _nrt=False)
def _alias(threshold, alias, u):
    """Walker's alias method: one uniform picks a column and, by its fraction, a side."""
    x = u * threshold.shape[0]
    i = int(x)
    return i if x - i < threshold[i] else alias[i]


@numba.njit(cache=True, error_model="numpy", _nrt=False)
def _dark_pair(u, p):
    """(d0, d1) given at least one dark count, from u uniform on [0, 1 - (1-p)^2)."""
    single = p * (1.0 - p)
    if u < single:
        return True, False
    if u < 2.0 * single:
        return False, True
    return True, True


# Inlined at the numba level: as a separate call it costs half the time of an event.
@numba.njit(cache=True, error_model="numpy", inline="always", _nrt=False)
def _one_event(st, e, alias_threshold, alias_index, outcome, kind, forwarded, share, arrivals_cdf, p_dark,
               p_key, misalignment, out_intensity, out_a_basis, out_a_bit, out_b_basis, out_b_bit,
               out_photons, out_clicks, out_eve):
    """Generate detection event e given that it clicked: (intensity, n, path) from the alias table."""
    j = _alias(alias_threshold, alias_index, _uniform(st))
    k, n, path = outcome[j, 0], outcome[j, 1], outcome[j, 2]
    a_basis = 0 if _uniform(st) < p_key else 1
    a_bit = 1 if _uniform(st) < 0.5 else 0
    b_basis = 0 if _uniform(st) < p_key else 1
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
        # Each detected photon lands on detector 1 with this probability (arithmetic, not
        # branches: the outcome is random and would defeat the branch predictor).
        p_one = misalignment + s_bit * (1.0 - 2.0 * misalignment) if b_basis == s_basis else 0.5
        m1 = 0
        for _ in range(m):
            m1 += 1 if _uniform(st) < p_one else 0
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


@numba.njit(cache=True, error_model="numpy", _nrt=False)
def _subblock(st, pulses, first_slot, start, capacity, inv_log1m_q, alias_threshold, alias_index,
              outcome, kind, forwarded, share, arrivals_cdf, p_dark, p_key, misalignment, out_slot,
              out_intensity, out_a_basis, out_a_bit, out_b_basis, out_b_bit, out_photons, out_clicks,
              out_eve):
    """Walk one run of pulses by geometric gaps between clicks; return events written (-1: overflow).

    ``st`` is the run's generator state (from ``_seeded``); ``inv_log1m_q`` is 1/ln(1 - q) for
    the per-pulse click probability q (0 when q = 0).
    """
    if inv_log1m_q == 0.0:
        return 0
    pos = -1
    e = start
    while True:
        # Geometric gap: 1 + floor(ln(U) / ln(1 - q)), U uniform on (0, 1]. Compared as a float
        # first: for a tiny q the gap can exceed any integer type.
        gap = math.log(1.0 - _uniform(st)) * inv_log1m_q
        if gap >= pulses - 1 - pos:
            break
        pos += 1 + int(gap)
        if e >= start + capacity:
            return -1
        out_slot[e] = first_slot + pos
        _one_event(st, e, alias_threshold, alias_index, outcome, kind, forwarded, share, arrivals_cdf, p_dark,
                   p_key, misalignment, out_intensity, out_a_basis, out_a_bit, out_b_basis, out_b_bit,
                   out_photons, out_clicks, out_eve)
        e += 1
    return e - start


@numba.njit(cache=True, error_model="numpy", parallel=True)
def _generate(states, pulses, first_slot, start, capacity, inv_log1m_q, alias_threshold, alias_index,
              outcome, kind, forwarded, share, arrivals_cdf, p_dark, p_key, misalignment, out_slot,
              out_intensity, out_a_basis, out_a_bit, out_b_basis, out_b_bit, out_photons, out_clicks,
              out_eve, written):
    # Each run re-seeds its own generator, so the result does not depend on the thread count.
    for c in numba.prange(states.shape[0]):
        written[c] = _subblock(states[c], pulses[c], first_slot[c], start[c], capacity[c], inv_log1m_q,
                               alias_threshold, alias_index, outcome, kind, forwarded, share,
                               arrivals_cdf, p_dark, p_key, misalignment, out_slot, out_intensity,
                               out_a_basis, out_a_bit, out_b_basis, out_b_bit, out_photons, out_clicks,
                               out_eve)


NEVER = 1 << 62


@numba.njit(cache=True, error_model="numpy", _nrt=False)
def _clicks_to_next_afterpulse(st, inv_log1m_p):
    """Geometric count (>= 1) of clicks up to and including the next one that afterpulses."""
    if inv_log1m_p == 0.0:
        return NEVER
    return 1 + int(min(math.log(1.0 - _uniform(st)) * inv_log1m_p, 1e18))


@numba.njit(cache=True, error_model="numpy", _nrt=False)
def _dead_time_afterpulse(st, dead_slots, p_afterpulse, empty_intensity_cdf, p_key, total_slots,
                          slot, clicks, b_bit, ap_slot, ap_intensity, ap_a_basis, ap_a_bit, ap_b_basis,
                          ap_detector):
    """Apply per-detector dead time and afterpulsing in time order.

    A click makes its detector blind for ``dead_slots`` gates; with probability ``p_afterpulse``
    it clicks again at the first gate after that (an afterpulse: random bit relative to Alice,
    and it too starts a dead time). Candidate clicks on a dead detector are lost. Modifies
    ``clicks`` and ``b_bit`` in place (clicks 0 = event lost) and returns the afterpulse count,
    or -1 when the afterpulse arrays are too small. ``st`` is the generator state.
    """
    # Whether a click afterpulses is Bernoulli(p) per detector click, in click order; drawing
    # the number of clicks up to the next one that does (geometric) costs one draw per
    # afterpulse instead of one per click.
    inv_log1m_p = 1.0 / math.log1p(-p_afterpulse) if p_afterpulse > 0.0 else 0.0
    countdown = _clicks_to_next_afterpulse(st, inv_log1m_p)
    # Per detector: the last blind slot, and the slot of a pending afterpulse (-1: none).
    dead0, dead1 = -1, -1
    pend0, pend1 = -1, -1
    n_ap = 0
    n = slot.shape[0]
    i = 0
    while True:
        t = slot[i] if i < n else total_slots
        # Afterpulses due before this event fire first, earliest first (they may chain).
        while (pend0 >= 0 and pend0 < t) or (pend1 >= 0 and pend1 < t):
            if pend0 >= 0 and pend0 < t and (pend1 < 0 or pend1 >= t or pend0 <= pend1):
                j, s = 0, pend0
                pend0 = -1
            else:
                j, s = 1, pend1
                pend1 = -1
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
            countdown -= 1
            again = -1
            if countdown == 0:
                again = s + dead_slots + 1
                countdown = _clicks_to_next_afterpulse(st, inv_log1m_p)
            if j == 0:
                dead0, pend0 = s + dead_slots, again
            else:
                dead1, pend1 = s + dead_slots, again
        if i >= n:
            break
        c0 = (clicks[i] & 1) != 0
        c1 = (clicks[i] & 2) != 0
        if pend0 == t:  # an afterpulse lands on this event's gate: it adds a click
            pend0 = -1
            c0 = True
        if pend1 == t:
            pend1 = -1
            c1 = True
        c0 = c0 and t > dead0
        c1 = c1 and t > dead1
        c = (1 if c0 else 0) | (2 if c1 else 0)
        if c != clicks[i]:
            if c == 1 or c == 2:
                b_bit[i] = c >> 1
            elif c == 3:
                b_bit[i] = 1 if _uniform(st) < 0.5 else 0
            clicks[i] = c
        if c0:
            dead0 = t + dead_slots
            countdown -= 1
            if countdown == 0:
                pend0 = t + dead_slots + 1
                countdown = _clicks_to_next_afterpulse(st, inv_log1m_p)
        if c1:
            dead1 = t + dead_slots
            countdown -= 1
            if countdown == 0:
                pend1 = t + dead_slots + 1
                countdown = _clicks_to_next_afterpulse(st, inv_log1m_p)
        i += 1
    return n_ap


@numba.njit(cache=True, error_model="numpy", _nrt=False)
def _merge_afterpulses(n, slot, intensity, a_basis, a_bit, b_basis, b_bit, photons, clicks, eve,
                       ap_slot, ap_intensity, ap_a_basis, ap_a_bit, ap_b_basis, ap_detector):
    """Merge, in place and in slot order, the first ``n`` events (dropping clicks == 0) with the
    afterpulse events. The event arrays must have room for the result; returns its length."""
    # Pass 1, forward: squeeze out the lost events (the write index never passes the read one).
    live = 0
    for i in range(n):
        if clicks[i] != 0:
            if live != i:
                slot[live] = slot[i]
                intensity[live] = intensity[i]
                a_basis[live] = a_basis[i]
                a_bit[live] = a_bit[i]
                b_basis[live] = b_basis[i]
                b_bit[live] = b_bit[i]
                photons[live] = photons[i]
                clicks[live] = clicks[i]
                eve[live] = eve[i]
            live += 1
    # Pass 2, backward: merge from the end, so every write lands at or after the unread events.
    i = live - 1
    j = ap_slot.shape[0] - 1
    o = live + ap_slot.shape[0] - 1
    while j >= 0:
        if i >= 0 and slot[i] > ap_slot[j]:
            slot[o] = slot[i]
            intensity[o] = intensity[i]
            a_basis[o] = a_basis[i]
            a_bit[o] = a_bit[i]
            b_basis[o] = b_basis[i]
            b_bit[o] = b_bit[i]
            photons[o] = photons[i]
            clicks[o] = clicks[i]
            eve[o] = eve[i]
            i -= 1
        else:
            slot[o] = ap_slot[j]
            intensity[o] = ap_intensity[j]
            a_basis[o] = ap_a_basis[j]
            a_bit[o] = ap_a_bit[j]
            b_basis[o] = ap_b_basis[j]
            b_bit[o] = ap_detector[j]
            photons[o] = -1  # an afterpulse in an otherwise empty slot: no photon number
            clicks[o] = 1 << ap_detector[j]
            eve[o] = EVE_NO_INFORMATION
            j -= 1
        o -= 1
    return live + ap_slot.shape[0]


@numba.njit(cache=True, error_model="numpy", parallel=True)
def _tally(intensity, a_basis, a_bit, b_basis, b_bit, n_intensities):
    """Per intensity: all detections, those in Alice's key basis, and sifted counts and errors by basis."""
    n = intensity.shape[0]
    chunks = 64
    # Partial counts per chunk, summed at the end: no shared writes between threads.
    part = np.zeros((chunks, n_intensities, 6), np.int64)
    for c in numba.prange(chunks):
        for e in range(c * n // chunks, (c + 1) * n // chunks):
            k = intensity[e]
            part[c, k, 0] += 1
            part[c, k, 1] += a_basis[e] == 0
            if a_basis[e] == b_basis[e]:
                part[c, k, 2 + a_basis[e]] += 1
                part[c, k, 4 + a_basis[e]] += a_bit[e] != b_bit[e]
    total = part.sum(axis=0)
    return total[:, 0].copy(), total[:, 1].copy(), total[:, 2:4].copy(), total[:, 4:6].copy()
