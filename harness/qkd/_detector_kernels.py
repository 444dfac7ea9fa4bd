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


#: Slots of ``DetectorPass.memory``: per detector the last blind slot and the slot of a pending
#: afterpulse (-1: none), clicks to the next afterpulsing one, the next output index, and per
#: detector the intensity of the click that the pending afterpulse inherits (lim-2014 model).
_DEAD0, _DEAD1, _PEND0, _PEND1, _COUNTDOWN, _OUT, _KIN0, _KIN1 = range(8)


class DetectorPass:
    """Per-detector dead time and afterpulsing in time order, joining the runs, one run at a time.

    The candidate events of each run sit in a stretch of the event arrays, runs in slot order and
    fed in that order (each as soon as it is generated: the pass overlaps the generation of
    later runs); the result (lost events dropped, afterpulse events merged in slot order) is
    written from index 0 of the same arrays, which never overtakes unread events while the
    afterpulses number at most the index of the first run. A click makes its detector blind for
    ``dead_slots`` gates; with probability ``p_afterpulse`` it clicks again at the first gate
    after that (an afterpulse: random bit relative to Alice, and it too starts a dead time).
    With ``inherit_intensity`` (the lim-2014 afterpulse model) the afterpulse is counted for the
    intensity of the click that caused it, not for the pulse sent in its gate, and does not
    afterpulse in turn, so that R_k = D_k (1 + p_ap) as Lim et al. count it.
    Candidate clicks on a dead detector are lost. ``codes`` (the tally bins of the candidates,
    from ``_code``) is updated to the result. ``st`` is the generator state.
    """

    def __init__(self, st: np.ndarray, dead_slots: int, p_afterpulse: float, empty_intensity_cdf: np.ndarray,
                 p_key: float, total_slots: int, arrays: list[np.ndarray], codes: np.ndarray,
                 inherit_intensity: bool = False) -> None:
        # Whether a click afterpulses is Bernoulli(p) per detector click, in click order;
        # drawing the number of clicks up to the next one that does (geometric) costs one draw
        # per afterpulse instead of one per click.
        inv_log1m_p = 1.0 / math.log1p(-p_afterpulse) if p_afterpulse > 0.0 else 0.0
        countdown = _clicks_to_next_afterpulse(st, inv_log1m_p)
        self.memory = np.array([-1, -1, -1, -1, countdown, 0, 0, 0], np.int64)
        self._args = (st, self.memory, dead_slots, inv_log1m_p, empty_intensity_cdf, p_key, total_slots,
                      inherit_intensity)
        self._arrays, self._codes = arrays, codes
        self.overflow = False

    def add_run(self, first: int, count: int) -> None:
        """Process the ``count`` events from index ``first``, the next run in slot order."""
        if not self.overflow and count > 0:
            self.overflow = not _detector_run(*self._args, first, count, *self._arrays, self._codes)

    def new_chunk(self) -> None:
        """Write the following runs' result from index 0 again (the caller has read the last)."""
        self.memory[_OUT] = 0

    def written(self) -> int:
        """Events written since the start or :meth:`new_chunk`, or -1 after an overflow. Afterpulses
        still pending go to the next chunk, in time order."""
        return -1 if self.overflow else int(self.memory[_OUT])

    def finish(self) -> int:
        """Fire the afterpulses still pending; the result's length, or -1 when the afterpulses
        outnumbered the room."""
        if not self.overflow:
            _detector_run(*self._args, 0, -1, *self._arrays, self._codes)
        return -1 if self.overflow else int(self.memory[_OUT])


@numba.njit(cache=True, error_model="numpy", nogil=True, _nrt=False)
def _detector_run(st, memory, dead_slots, inv_log1m_p, empty_intensity_cdf, p_key, total_slots, inherit,
                  first, count, slot, intensity, a_basis, a_bit, b_basis, b_bit, photons, clicks, eve, codes):
    """``DetectorPass`` on events ``first`` … ``first + count − 1``; ``count`` = −1: the end of the
    block. Returns False when an afterpulse would overwrite an unread event."""
    dead0, dead1 = memory[_DEAD0], memory[_DEAD1]
    pend0, pend1 = memory[_PEND0], memory[_PEND1]
    countdown, o = memory[_COUNTDOWN], memory[_OUT]
    kin0, kin1 = memory[_KIN0], memory[_KIN1]
    i = first
    stop = first + max(count, 0)
    ok = True
    while True:
        if i >= stop and count >= 0:
            break  # end of the run: its pending afterpulses fire before the next run's events
        t = slot[i] if i < stop else total_slots
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
            if i < stop and o >= i:
                ok = False
                break
            k = (kin0 if j == 0 else kin1) if inherit else _search(empty_intensity_cdf, _uniform(st))
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
            again = -1
            if not inherit:
                countdown -= 1
            if countdown == 0:
                again = s + dead_slots + 1
                countdown = _clicks_to_next_afterpulse(st, inv_log1m_p)
            if j == 0:
                dead0, pend0 = s + dead_slots, again
            else:
                dead1, pend1 = s + dead_slots, again
        if not ok or i >= stop:
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
                kin0 = intensity[i]
                countdown = _clicks_to_next_afterpulse(st, inv_log1m_p)
        if c1:
            dead1 = t + dead_slots
            countdown -= 1
            if countdown == 0:
                pend1 = t + dead_slots + 1
                kin1 = intensity[i]
                countdown = _clicks_to_next_afterpulse(st, inv_log1m_p)
        i += 1
    memory[_DEAD0], memory[_DEAD1], memory[_PEND0], memory[_PEND1] = dead0, dead1, pend0, pend1
    memory[_COUNTDOWN], memory[_OUT] = countdown, o
    memory[_KIN0], memory[_KIN1] = kin0, kin1
    return ok


def tally_from_codes(codes, n_intensities):
    """Per intensity from the ``_code`` bins: all detections, those in Alice's key basis, and
    sifted counts and errors by basis ([k, basis])."""
    c = np.asarray(codes, np.int64).reshape(n_intensities, 2, 2, 2)  # [k, a_basis, sifted, error]
    detections = c.sum(axis=(1, 2, 3))
    key = c[:, 0].sum(axis=(1, 2))
    sifted = c[:, :, 1].sum(axis=2)
    errors = c[:, :, 1, 1].copy()
    return detections, key, sifted, errors
