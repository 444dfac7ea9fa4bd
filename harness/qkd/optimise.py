"""One-dimensional searches over key-rate functions: best intensity, maximum distance."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

# scipy.optimize is imported where it is used: it costs about a second, and the suites that import
# these functions are also loaded just to validate a scenario (`qsbench validate`), which uses none.


def optimal_rate(rate_of_mu: Callable[[float], float], low: float, high: float) -> tuple[float, float]:
    """(best rate, best mu) of a one-parameter rate: a coarse log grid, then a bounded refinement."""
    grid = np.geomspace(low, high, 40)
    values = np.array([rate_of_mu(float(m)) for m in grid])
    best = int(np.argmax(values))
    if values[best] <= 0.0:
        return 0.0, float(grid[best])
    lo, hi = grid[max(best - 1, 0)], grid[min(best + 1, len(grid) - 1)]
    from scipy.optimize import minimize_scalar

    res = minimize_scalar(lambda m: -rate_of_mu(m), bounds=(lo, hi), method="bounded",
                          options={"xatol": 1e-5 * hi})
    if -res.fun > values[best]:
        return float(-res.fun), float(res.x)
    return float(values[best]), float(grid[best])


def max_distance_km(rate_at: Callable[[float], float], upper_km: float = 1000.0, first_step_km: float = 5.0,
                    tolerance_km: float = 0.01) -> float:
    """Largest distance with a positive rate: step out, doubling each step, until it vanishes; then bisect.

    ``rate_at(distance_km)`` is any rate function (already optimised over intensities if wanted)
    that is positive up to its reach and zero beyond, as a key rate over fibre is. Doubling needs
    about log2(reach / first_step_km) evaluations to bracket the reach, where fixed steps needed
    reach / first_step_km; each evaluation of a finite-key rate is a full optimisation.
    Returns 0.0 when there is no key even at 0 km and ``upper_km`` if the rate never vanishes.
    """
    from scipy.optimize import brentq

    if rate_at(0.0) <= 0.0:
        return 0.0
    d, step = 0.0, first_step_km
    while d < upper_km:
        nxt = min(d + step, upper_km)
        if rate_at(nxt) <= 0.0:
            return float(brentq(lambda x: 1.0 if rate_at(x) > 0.0 else -1.0, d, nxt, xtol=tolerance_km))
        d, step = nxt, 2.0 * step
    return upper_km
