"""numba kernel of the detector's memory: dead time and afterpulses, in time order over a block.
Private: call it through harness.qkd.channel. Same generator and conventions as
harness.qkd._channel_kernels, whose event tally bins (``_code``) it keeps up to date.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from harness.qkd._channel_kernels import EVE_NO_INFORMATION, _code, _search, _uniform

NEVER = 1 << 62


@numba.njit(cache=True, error_model="numpy", _nrt=False)
def _clicks_to_next_afterpulse(st, inv_log1m_p):
    """Geometric count (>= 1) of clicks up to and including the next one that afterpulses."""
    if inv_log1m_p == 0.0:
        return NEVER
    return 1 + int(min(math.log(1.0 - _uniform(st)) * inv_log1m_p, 1e18))


@numba.njit(cache=True, error_model="numpy", _nrt=False)
def _detector_pass(st, dead_slots, p_afterpulse, empty_intensity_cdf, p_key, total_slots, run_start,
                   run_written, slot, intensity, a_basis, a_bit, b_basis, b_bit, photons, clicks, eve,
                   codes):
    """Per-detector dead time and afterpulsing in time order, joining the runs, in one pass.

    The candidate events of run r sit at ``run_start[r]`` … ``+ run_written[r]`` of the event
    arrays, runs in slot order; the result (lost events dropped, afterpulse events merged in slot
    order) is written from index 0 of the same arrays, which never overtakes unread events while
    the afterpulses number at most ``run_start[0]``. A click makes its detector blind for
    ``dead_slots`` gates; with probability ``p_afterpulse`` it clicks again at the first gate
    after that (an afterpulse: random bit relative to Alice, and it too starts a dead time).
    Candidate clicks on a dead detector are lost. ``codes`` (the tally bins of the candidates,
    from ``_code``) is updated to the result. Returns the result's length, or -1 when the
    afterpulses outnumber the room. ``st`` is the generator state.
    """
    # Whether a click afterpulses is Bernoulli(p) per detector click, in click order; drawing
    # the number of clicks up to the next one that does (geometric) costs one draw per
    # afterpulse instead of one per click.
    inv_log1m_p = 1.0 / math.log1p(-p_afterpulse) if p_afterpulse > 0.0 else 0.0
    countdown = _clicks_to_next_afterpulse(st, inv_log1m_p)
    # Per detector: the last blind slot, and the slot of a pending afterpulse (-1: none).
    dead0, dead1 = -1, -1
    pend0, pend1 = -1, -1
    n_runs = run_start.shape[0]
    o = 0
    r = -1
    i = 0
    stop = 0
    while True:
        while i >= stop and r < n_runs:  # next event: skip the gaps between runs
            r += 1
            if r < n_runs:
                i = run_start[r]
                stop = i + run_written[r]
        t = slot[i] if r < n_runs else total_slots
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
            if r < n_runs and o >= i:
                return -1
            k = _search(empty_intensity_cdf, _uniform(st))
            ab = 0 if _uniform(st) < p_key else 1
            a = 1 if _uniform(st) < 0.5 else 0
            bb = 0 if _uniform(st) < p_key else 1
            slot[o] = s
            intensity[o] = k
            a_basis[o] = ab
            a_bit[o] = a
            b_basis[o] = bb
            b_bit[o] = j
            photons[o] = -1  # an afterpulse in an otherwise empty slot: no photon number
            clicks[o] = 1 << j
            eve[o] = EVE_NO_INFORMATION
            codes[_code(k, ab, a, bb, j)] += 1
            o += 1
            countdown -= 1
            again = -1
            if countdown == 0:
                again = s + dead_slots + 1
                countdown = _clicks_to_next_afterpulse(st, inv_log1m_p)
            if j == 0:
                dead0, pend0 = s + dead_slots, again
            else:
                dead1, pend1 = s + dead_slots, again
        if r >= n_runs:
            break
        old = clicks[i]
        bit = b_bit[i]
        if t > dead0 and t > dead1 and pend0 != t and pend1 != t and countdown > 2:
            # The common case: this event meets no dead time and no afterpulse, and no click of
            # it is the next to afterpulse. Selects, not branches: which detector clicked is random.
            slot[o] = t
            intensity[o] = intensity[i]
            a_basis[o] = a_basis[i]
            a_bit[o] = a_bit[i]
            b_basis[o] = b_basis[i]
            b_bit[o] = bit
            photons[o] = photons[i]
            clicks[o] = old
            eve[o] = eve[i]
            o += 1
            countdown -= (old & 1) + (old >> 1)
            dead0 = t + dead_slots if old & 1 else dead0
            dead1 = t + dead_slots if old & 2 else dead1
            i += 1
            continue
        c0 = (old & 1) != 0
        c1 = (old & 2) != 0
        if pend0 == t:  # an afterpulse lands on this event's gate: it adds a click
            pend0 = -1
            c0 = True
        if pend1 == t:
            pend1 = -1
            c1 = True
        c0 = c0 and t > dead0
        c1 = c1 and t > dead1
        c = (1 if c0 else 0) | (2 if c1 else 0)
        if c != old:
            codes[_code(intensity[i], a_basis[i], a_bit[i], b_basis[i], bit)] -= 1
            if c == 1 or c == 2:
                bit = c >> 1
            elif c == 3:
                bit = 1 if _uniform(st) < 0.5 else 0
            if c != 0:
                codes[_code(intensity[i], a_basis[i], a_bit[i], b_basis[i], bit)] += 1
        if c != 0:
            slot[o] = t
            intensity[o] = intensity[i]
            a_basis[o] = a_basis[i]
            a_bit[o] = a_bit[i]
            b_basis[o] = b_basis[i]
            photons[o] = photons[i]
            eve[o] = eve[i]
            b_bit[o] = bit
            clicks[o] = c
            o += 1
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
    return o


def tally_from_codes(codes, n_intensities):
    """Per intensity from the ``_code`` bins: all detections, those in Alice's key basis, and
    sifted counts and errors by basis ([k, basis])."""
    c = np.asarray(codes, np.int64).reshape(n_intensities, 2, 2, 2)  # [k, a_basis, sifted, error]
    detections = c.sum(axis=(1, 2, 3))
    key = c[:, 0].sum(axis=(1, 2))
    sifted = c[:, :, 1].sum(axis=2)
    errors = c[:, :, 1, 1].copy()
    return detections, key, sifted, errors
