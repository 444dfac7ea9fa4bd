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


@numba.njit(cache=True, error_model="numpy", inline="always", _nrt=False)
def _draw(st):
    """One xoshiro256+ step on a state held as a tuple, returned with the draw: it stays in registers
    across an event's draws instead of going through memory the outputs might alias."""
    s0, s1, s2, s3 = st
    result = s0 + s3
    t = s1 << _U(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = (s3 << _U(45)) | (s3 >> _U(19))
    return (result >> _U(11)) * (1.0 / 9007199254740992.0), (s0, s1, s2, s3)


@numba.njit(cache=True, error_model="numpy", _nrt=False)
def _uniform(st):
    """Next double in [0, 1): the top 53 bits of xoshiro256+, on a state held in an array."""
    x, (s0, s1, s2, s3) = _draw((st[0], st[1], st[2], st[3]))
    st[0], st[1], st[2], st[3] = s0, s1, s2, s3
    return x


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


@numba.njit(cache=True, error_model="numpy", inline="always", _nrt=False)
def _code(k, a_basis, a_bit, b_basis, b_bit):
    """Tally bin of an event: intensity, Alice's basis, sifted, error (see ``tally_from_codes``)."""
    return k * 8 + a_basis * 4 + (2 if a_basis == b_basis else 0) + (1 if a_bit != b_bit else 0)


# Inlined at the numba level: as a separate call it costs half the time of an event.
@numba.njit(cache=True, error_model="numpy", inline="always", _nrt=False)
def _one_event(st, e, alias_threshold, alias_index, outcome, kind, forwarded, share, arrivals_cdf, p_dark,
               p_key, misalignment, out_intensity, out_a_basis, out_a_bit, out_b_basis, out_b_bit,
               out_photons, out_clicks, out_eve):
    """Generate detection event e given that it clicked: (intensity, n, path) from the alias table.

    ``st`` is the generator state as a tuple (``_draw``); returns the state after the event."""
    u, st = _draw(st)
    j = _alias(alias_threshold, alias_index, u)
    k, n, path = outcome[j, 0], outcome[j, 1], outcome[j, 2]
    u, st = _draw(st)
    a_basis = 0 if u < p_key else 1
    u, st = _draw(st)
    a_bit = 1 if u < 0.5 else 0
    u, st = _draw(st)
    b_basis = 0 if u < p_key else 1
    kd = kind[path]
    eve = EVE_NO_INFORMATION
    if kd == KIND_BLINDED:
        # Eve's trigger clicks only when Bob's basis equals hers; she measured in that basis.
        if b_basis == a_basis:
            eve = a_bit
        else:
            u, st = _draw(st)
            eve = 1 if u < 0.5 else 0
        b_bit = eve
        clicks = 1 << b_bit
    else:
        s_basis, s_bit = a_basis, a_bit
        if kd == KIND_RESENT:
            u, st = _draw(st)
            s_basis = 0 if u < 0.5 else 1
            if s_basis != a_basis:
                u, st = _draw(st)
                s_bit = 1 if u < 0.5 else 0
            eve = s_bit
        elif n >= 2 and path == 1:
            eve = a_bit  # PNS: Eve holds a copy and learns the basis at sifting
        m = 0
        d0 = False
        d1 = False
        any_dark = 1.0 - (1.0 - p_dark) * (1.0 - p_dark)
        u, st = _draw(st)
        if u < share[n, path]:
            m = 1
            if forwarded[n, path] > 1:
                u, st = _draw(st)
                while m < arrivals_cdf.shape[2] - 1 and u >= arrivals_cdf[n, path, m]:
                    m += 1
            # Dark counts are independent of the photons here: one draw decides "none" (the
            # common case), a second one which, conditioned on at least one.
            u, st = _draw(st)
            if u < any_dark:
                u, st = _draw(st)
                d0, d1 = _dark_pair(u * any_dark, p_dark)
        else:
            # No photon detected: at least one dark count, (d0, d1) conditioned on that.
            u, st = _draw(st)
            d0, d1 = _dark_pair(u * any_dark, p_dark)
        # Each detected photon lands on detector 1 with this probability (arithmetic, not
        # branches: the outcome is random and would defeat the branch predictor).
        p_one = misalignment + s_bit * (1.0 - 2.0 * misalignment) if b_basis == s_basis else 0.5
        m1 = 0
        for _ in range(m):
            u, st = _draw(st)
            m1 += 1 if u < p_one else 0
        c0 = d0 or (m - m1) > 0
        c1 = d1 or m1 > 0
        clicks = (1 if c0 else 0) | (2 if c1 else 0)
        # A double click is squashed to a random bit.
        if clicks == 3:
            u, st = _draw(st)
            b_bit = 1 if u < 0.5 else 0
        else:
            b_bit = 1 if c1 else 0
    out_intensity[e] = k
    out_a_basis[e] = a_basis
    out_a_bit[e] = a_bit
    out_b_basis[e] = b_basis
    out_b_bit[e] = b_bit
    out_photons[e] = n
    out_clicks[e] = clicks
    out_eve[e] = eve
    return st


@numba.njit(cache=True, error_model="numpy", nogil=True, _nrt=False)
def _subblock(st, pulses, first_slot, start, capacity, inv_log1m_q, alias_threshold, alias_index,
              outcome, kind, forwarded, share, arrivals_cdf, p_dark, p_key, misalignment, out_slot,
              out_intensity, out_a_basis, out_a_bit, out_b_basis, out_b_bit, out_photons, out_clicks,
              out_eve, codes):
    """Walk one run of pulses by geometric gaps between clicks; return events written (-1: overflow).

    ``st`` is the run's generator state (from ``_seeded``); ``inv_log1m_q`` is 1/ln(1 - q) for
    the per-pulse click probability q (0 when q = 0). ``codes`` counts the events per ``_code``
    bin: the tally comes with the events instead of another pass over them.
    """
    if inv_log1m_q == 0.0:
        return 0
    pos = -1
    e = start
    state = (st[0], st[1], st[2], st[3])
    while True:
        # Geometric gap: 1 + floor(ln(U) / ln(1 - q)), U uniform on (0, 1]. Compared as a float
        # first: for a tiny q the gap can exceed any integer type.
        u, state = _draw(state)
        gap = math.log(1.0 - u) * inv_log1m_q
        if gap >= pulses - 1 - pos:
            break
        pos += 1 + int(gap)
        if e >= start + capacity:
            return -1
        out_slot[e] = first_slot + pos
        state = _one_event(state, e, alias_threshold, alias_index, outcome, kind, forwarded, share,
                           arrivals_cdf, p_dark, p_key, misalignment, out_intensity, out_a_basis,
                           out_a_bit, out_b_basis, out_b_bit, out_photons, out_clicks, out_eve)
        codes[_code(out_intensity[e], out_a_basis[e], out_a_bit[e], out_b_basis[e], out_b_bit[e])] += 1
        e += 1
    st[0], st[1], st[2], st[3] = state
    return e - start
