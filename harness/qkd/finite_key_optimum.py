"""The protocol's optimum for given hardware: every free parameter of three-intensity decoy BB84.

Lim et al. 2014 optimise the signal and decoy intensities mu1, mu2, the three intensity
probabilities and the basis probability per distance and block size; the weakest decoy mu3 is
fixed by the hardware (2e-4 in their Fig. 1, the profile's here). The search works in a unit box
that maps onto valid settings only (mu1 > mu2 + mu3 > 2 mu3, probabilities > 0 summing to 1):

1. a scrambled Sobol sample of the box, evaluated at once (the rate is vectorised), plus the
   device's own settings and the old restricted optimum's kind of point (the device's decoys
   with mu1 and the basis probability varied), so the result never falls below those;
2. L-BFGS-B on -log(rate) in the box from the best few distinct points, its gradient by forward
   differences evaluated in one vectorised call.

Over most of the box the rate is exactly zero, so local methods alone, started at random, see no
slope at all; the dense first stage is what makes the search reliable near the end of the reach.
"""

from __future__ import annotations

import numpy as np

from harness.qkd.finite_key import FiniteKeyRate, ProtocolSettings, finite_key_rate, finite_key_rates
from harness.qkd.profiles import Profile

MU1_MAX = 1.5
#: Edges of the box, so no probability or intensity gap reaches zero (the bounds divide by them).
_P_MIN, _PZ_MIN, _PZ_MAX = 0.01, 0.05, 0.995
_SAMPLE_LOG2 = 11  # 2048 Sobol points
_STARTS = 2
_FD_STEP = 1e-7


def _settings_of(u: np.ndarray, mu3: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit box [..., 5] -> (intensities [..., 3], probabilities [..., 3], basis probability [...])."""
    u = np.clip(u, 0.0, 1.0)
    pz = _PZ_MIN + (_PZ_MAX - _PZ_MIN) * u[..., 0]
    p1 = _P_MIN + (1.0 - 3.0 * _P_MIN) * u[..., 1]
    share = _P_MIN + (1.0 - 2.0 * _P_MIN) * u[..., 2]
    p2 = (1.0 - p1) * share
    mu1_low = 2.0 * mu3 + 0.01
    mu1 = mu1_low + (MU1_MAX - mu1_low) * u[..., 3]
    mu2 = mu3 + (mu1 - 2.0 * mu3) * (0.005 + 0.99 * u[..., 4])
    mus = np.stack([mu1, mu2, np.full_like(mu1, mu3)], axis=-1)
    probs = np.stack([p1, p2, 1.0 - p1 - p2], axis=-1)
    return mus, probs, pz


def _box_of(s: ProtocolSettings) -> np.ndarray:
    """Inverse of _settings_of (clipped into the box) for a setting with the same mu3."""
    (mu1, mu2, mu3), (p1, p2, _) = s.intensities, s.intensity_probabilities
    mu1_low = 2.0 * mu3 + 0.01
    u = np.array([
        (s.basis_probability_key - _PZ_MIN) / (_PZ_MAX - _PZ_MIN),
        (p1 - _P_MIN) / (1.0 - 3.0 * _P_MIN),
        (p2 / (1.0 - p1) - _P_MIN) / (1.0 - 2.0 * _P_MIN),
        (mu1 - mu1_low) / (MU1_MAX - mu1_low),
        ((mu2 - mu3) / (mu1 - 2.0 * mu3) - 0.005) / 0.99,
    ])
    return np.clip(u, 0.0, 1.0)


def _device_family(profile: Profile) -> np.ndarray:
    """The device's decoys and probabilities with mu1 and the basis probability on a grid."""
    base = _box_of(ProtocolSettings.of(profile))
    grid = np.array([[pz, m] for pz in np.linspace(0.0, 1.0, 12) for m in np.linspace(0.0, 1.0, 24)])
    points = np.repeat(base[None, :], len(grid), axis=0)
    points[:, 0], points[:, 3] = grid[:, 0], grid[:, 1]
    return np.vstack([base[None, :], points])


def optimise_settings(profile: Profile, distance_km: float, block_size: int,
                      background: str | None = None) -> ProtocolSettings:
    """The settings that maximise the expected finite-key rate (the device's own if none gives key)."""
    mu3 = ProtocolSettings.of(profile).intensities[2]

    def rates(u: np.ndarray) -> np.ndarray:
        mus, probs, pz = _settings_of(u, mu3)
        return finite_key_rates(profile, distance_km, block_size, mus, probs, pz, background)[0]

    # scipy here, not at import: it costs about a second, and validating a scenario whose suites
    # import this module (`qsbench validate`) computes no optimum
    from scipy.optimize import minimize
    from scipy.stats import qmc

    sample = qmc.Sobol(5, scramble=True, seed=0).random_base2(_SAMPLE_LOG2)
    points = np.vstack([_device_family(profile), sample])
    values = rates(points)
    if not values.max() > 0.0:
        return ProtocolSettings.of(profile)
    best_u, best_rate = points[int(np.argmax(values))], float(values.max())
    order = np.argsort(values)[::-1]
    starts: list[np.ndarray] = []
    for i in order:
        if values[i] <= 0.0 or len(starts) == _STARTS:
            break
        if all(np.max(np.abs(points[i] - s)) > 0.1 for s in starts):
            starts.append(points[i])

    def objective(u: np.ndarray) -> tuple[float, np.ndarray]:
        # -log(rate) and its forward-difference gradient from one vectorised call of six points.
        steps = np.where(u + _FD_STEP <= 1.0, _FD_STEP, -_FD_STEP)
        pts = np.vstack([u, u + np.diag(steps)])
        r = rates(pts)
        f = -np.log(np.maximum(r, 1e-300))
        return float(f[0]), (f[1:] - f[0]) / steps

    for start in starts:
        res = minimize(objective, start, jac=True, method="L-BFGS-B", bounds=[(0.0, 1.0)] * 5,
                       options={"maxiter": 200, "ftol": 1e-12, "gtol": 1e-9})
        r = float(rates(res.x[None, :])[0])
        if r > best_rate:
            best_u, best_rate = res.x, r
    mus, probs, pz = _settings_of(best_u, mu3)
    return ProtocolSettings(tuple(float(x) for x in mus), tuple(float(x) for x in probs),  # type: ignore[arg-type]
                            float(pz))


def optimal_finite_key_rate(profile: Profile, distance_km: float, block_size: int | None = None,
                            background: str | None = None) -> FiniteKeyRate:
    """finite_key_rate at the protocol's optimum for this hardware: mu1, mu2, the three intensity
    probabilities and the basis probability optimised (mu3, the weakest decoy, stays the device's)."""
    n_key = profile.security.block_size if block_size is None else block_size
    if not (isinstance(n_key, int | np.integer) and n_key > 0):
        raise ValueError(f"block_size must be a positive integer, got {block_size!r}")
    best = optimise_settings(profile, distance_km, int(n_key), background)
    return finite_key_rate(profile, distance_km, int(n_key), best, background)
