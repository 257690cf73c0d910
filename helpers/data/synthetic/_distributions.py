"""Closed-form distribution families and four-vector helpers of the H->WW twins.

The building blocks of the event model of :mod:`._event_model`: each family has a ``*_sample``
and a vectorised ``*_logpdf`` (Burr XII, Burr XII truncated to per-event bounds, a normal
truncated to a union of intervals, a wrapped-Cauchy-plus-flat law on the circle, Beta, a
log-normal mass ratio, and an integer pmf with a geometric tail), next to the four-vector
helpers (angle wrapping, Cartesian and collider coordinates, dilepton sum, significant-digit
rounding). Units: GeV and radians throughout.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import special

TWO_PI = 2.0 * np.pi
LOG_2PI = float(np.log(TWO_PI))
_TOL = 1e-9  # boundary tolerance for values recomputed from columns


# --------------------------------------------------------------------------------------------
# Four-vectors
# --------------------------------------------------------------------------------------------


def wrap_angle(x: np.ndarray) -> np.ndarray:
    """Map angles (radians) into [-pi, pi)."""
    return (np.asarray(x) + np.pi) % TWO_PI - np.pi


def ptetaphim_to_pxpypze(
    pt: np.ndarray, eta: np.ndarray, phi: np.ndarray, m: np.ndarray | float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Cartesian four-momentum ``(px, py, pz, E)`` of ``(pT, eta, phi, mass)``, same units."""
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    return px, py, pz, np.sqrt((pt * np.cosh(eta)) ** 2 + np.square(m))


def pxpypz_to_ptetaphi(
    px: np.ndarray, py: np.ndarray, pz: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(pT, eta, phi)`` of a momentum; shapes ``(n,)``."""
    pt = np.hypot(px, py)
    return pt, np.arcsinh(pz / np.where(pt > 0, pt, 1.0)), np.arctan2(py, px)


def dilepton(
    pt0: np.ndarray, pt1: np.ndarray, phi0: np.ndarray, phi1: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Transverse momentum (GeV) and azimuth of the sum of two leptons."""
    px = pt0 * np.cos(phi0) + pt1 * np.cos(phi1)
    py = pt0 * np.sin(phi0) + pt1 * np.sin(phi1)
    return np.hypot(px, py), np.arctan2(py, px)


def round_significant(x: np.ndarray, digits: int = 5) -> np.ndarray:
    """Round to ``digits`` significant digits (how the ATLAS open-data ntuples store doubles)."""
    x = np.asarray(x, dtype=np.float64)
    mag = np.floor(np.log10(np.where(x == 0, 1.0, np.abs(x))))
    scale = 10.0 ** (digits - 1 - mag)
    return np.round(x * scale) / scale


# --------------------------------------------------------------------------------------------
# Families: Burr XII, truncated normal on a union of intervals, circular mixture, Beta, pmf
# --------------------------------------------------------------------------------------------


def _burr_logsf(y: np.ndarray, c, d, s) -> np.ndarray:
    return -d * np.log1p((np.maximum(y, 0.0) / s) ** c / d)


def burr_logpdf(y: np.ndarray, c, d, s) -> np.ndarray:
    """Log density of the Burr XII law ``F(y) = 1 - (1 + (y/s)**c / d)**-d`` for ``y > 0``.

    ``c`` shapes the rise, ``d`` the power-law tail (``d -> inf`` is the Weibull law of shape
    ``c`` and scale ``s``), ``s`` is the scale in the units of ``y``.
    """
    y = np.asarray(y, dtype=np.float64)
    z = np.maximum(y, _TOL) / s
    out = np.log(c / s) + (c - 1) * np.log(z) - (d + 1) * np.log1p(z**c / d)
    return np.where(y >= -_TOL, out, -np.inf)


def burr_sample(rng: np.random.Generator, c, d, s, size: int) -> np.ndarray:
    """Draw from the Burr XII law of :func:`burr_logpdf` by inverting its CDF."""
    u = rng.random(size)
    return s * (d * np.expm1(-np.log1p(-u) / d)) ** (1.0 / c)


def _log_diff_exp(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """log(exp(a) - exp(b)) for a >= b."""
    return a + np.log1p(-np.exp(np.minimum(b - a, 0.0)) + 0.0)


def trunc_burr_logpdf(y: np.ndarray, c, d, scale, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Burr XII log density truncated to ``[lo, hi]`` (per-event bounds)."""
    lognorm = _log_diff_exp(_burr_logsf(lo, c, d, scale), _burr_logsf(hi, c, d, scale))
    inside = (y >= lo - _TOL * (1 + lo)) & (y <= hi + _TOL * (1 + hi))
    return np.where(inside, burr_logpdf(y, c, d, scale) - lognorm, -np.inf)


def trunc_burr_sample(rng: np.random.Generator, c, d, scale, lo, hi, size: int) -> np.ndarray:
    """Draw from Burr XII truncated to ``[lo, hi]`` by inverting its CDF in log space."""
    slo, shi = _burr_logsf(lo, c, d, scale), _burr_logsf(hi, c, d, scale)
    u = rng.random(size)
    logs = slo + np.log1p(-u * -np.expm1(shi - slo))
    return np.clip(scale * (d * np.expm1(-logs / d)) ** (1.0 / c), lo, hi)


def _log_ndtr_diff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """log(Phi(b) - Phi(a)) for a <= b, stable in both tails."""
    flip = a > 0
    lo = np.where(flip, -b, a)
    hi = np.where(flip, -a, b)
    return _log_diff_exp(special.log_ndtr(hi), special.log_ndtr(lo))


def trunc_normal_logpdf(x: np.ndarray, mu, sigma, intervals: np.ndarray) -> np.ndarray:
    """Normal(mu, sigma) log density truncated to a union of closed intervals.

    Parameters
    ----------
    x, mu, sigma : array_like, shape (n,)
    intervals : ndarray, shape (n, k, 2)
        Disjoint intervals per event (empty ones have ``lo == hi``).
    """
    x = np.asarray(x, dtype=np.float64)
    mu = np.broadcast_to(mu, x.shape)[:, None]
    sigma = np.broadcast_to(sigma, x.shape)[:, None]
    a = (intervals[..., 0] - mu) / sigma
    b = (intervals[..., 1] - mu) / sigma
    mass = np.exp(_log_ndtr_diff(a, b)).sum(axis=1)
    inside = (
        (x[:, None] >= intervals[..., 0] - _TOL)
        & (x[:, None] <= intervals[..., 1] + _TOL)
        & (intervals[..., 1] > intervals[..., 0])
    ).any(axis=1)
    z = (x - mu[:, 0]) / sigma[:, 0]
    out = -0.5 * z**2 - 0.5 * LOG_2PI - np.log(sigma[:, 0]) - np.log(mass)
    return np.where(inside, out, -np.inf)


def trunc_normal_sample(rng: np.random.Generator, mu, sigma, intervals: np.ndarray) -> np.ndarray:
    """Draw from Normal(mu, sigma) truncated to a union of intervals, shape ``(n, k, 2)``.

    The interval is chosen by its probability, then the CDF is inverted in log space on the
    side of the mean nearer the interval, so that far tails do not lose precision.
    """
    n = intervals.shape[0]
    mu = np.broadcast_to(mu, (n,)).astype(np.float64)[:, None]
    sigma = np.broadcast_to(sigma, (n,)).astype(np.float64)[:, None]
    za = (intervals[..., 0] - mu) / sigma
    zb = (intervals[..., 1] - mu) / sigma
    mass = np.exp(_log_ndtr_diff(za, zb))
    cum = np.cumsum(mass, axis=1)
    u = rng.random(n) * cum[:, -1]
    k = np.minimum((u[:, None] > cum).sum(axis=1), intervals.shape[1] - 1)
    rows = np.arange(n)
    za, zb = za[rows, k], zb[rows, k]
    flip = za > 0
    lo, hi = np.where(flip, -zb, za), np.where(flip, -za, zb)
    log_lo, log_hi = special.log_ndtr(lo), special.log_ndtr(hi)
    v = rng.random(n)
    logp = log_lo + np.log1p(v * np.expm1(log_hi - log_lo))
    z = special.ndtri_exp(np.minimum(logp, -1e-300))
    x = mu[:, 0] + sigma[:, 0] * np.where(flip, -z, z)
    return np.clip(x, intervals[rows, k, 0], intervals[rows, k, 1])


def _wc_abs_cdf(a: np.ndarray, rho) -> np.ndarray:
    """P(|x| <= a) for a wrapped Cauchy of signed concentration rho (0 <= a <= pi)."""
    c = (1 + rho) / (1 - rho)
    return (2 / np.pi) * np.arctan(c * np.tan(np.minimum(a, np.pi) / 2))


def circ_logpdf(x: np.ndarray, w, rho, amin=0.0, *, check: bool = True) -> np.ndarray:
    """Log density on the circle of ``w * WrappedCauchy(rho) + (1 - w) * Uniform``.

    ``rho`` in (-1, 1) is signed: positive puts the peak at 0, negative at pi. With ``amin``
    (per event, in [0, pi)) the law is truncated to ``|x| >= amin`` and renormalised; with
    ``check=False`` the caller tests the support itself.
    """
    x = np.asarray(x, dtype=np.float64)
    wc = np.log1p(-(rho**2)) - LOG_2PI - np.log1p(rho**2 - 2 * rho * np.cos(x))
    dens = np.logaddexp(np.log(w) + wc, np.log1p(-w) - LOG_2PI)
    amin = np.asarray(amin, dtype=np.float64)
    kept = w * (1 - _wc_abs_cdf(amin, rho)) + (1 - w) * (1 - amin / np.pi)
    inside = (np.abs(x) >= amin - _TOL) | (not check)
    return np.where(inside, dens - np.log(kept), -np.inf)


def circ_sample(rng: np.random.Generator, w, rho, size: int, amin=0.0) -> np.ndarray:
    """Draw angles in [-pi, pi) from the law of :func:`circ_logpdf`."""
    rho = np.broadcast_to(rho, (size,))
    amin = np.broadcast_to(np.asarray(amin, dtype=np.float64), (size,))
    wc_kept = w * (1 - _wc_abs_cdf(amin, rho))
    flat_kept = (1 - w) * (1 - amin / np.pi)
    peak = rng.random(size) * (wc_kept + flat_kept) < wc_kept
    u = rng.random(size)
    g0 = _wc_abs_cdf(amin, rho)
    g = g0 + u * (1 - g0)
    c = (1 + rho) / (1 - rho)
    t_wc = 2 * np.arctan(np.tan(np.pi * np.minimum(g, 1 - 1e-16) / 2) / c)
    t_flat = amin + u * (np.pi - amin)
    sign = np.where(rng.random(size) < 0.5, -1.0, 1.0)
    return wrap_angle(sign * np.clip(np.where(peak, t_wc, t_flat), amin, np.pi))


def beta_logpdf(u: np.ndarray, a, b) -> np.ndarray:
    """Log density of Beta(a, b) on [0, 1] (ends moved inside by a tiny tolerance)."""
    u = np.clip(u, _TOL, 1 - _TOL)
    return (a - 1) * np.log(u) + (b - 1) * np.log1p(-u) - special.betaln(a, b)


def lognormal_ratio_logpdf(m: np.ndarray, pt: np.ndarray, mu, s) -> np.ndarray:
    """Log density of a mass ``m`` whose ``log(m / pt)`` is Normal(mu, s) (Jacobian 1/m)."""
    m = np.maximum(m, _TOL)
    z = (np.log(m / pt) - mu) / s
    return -0.5 * z**2 - 0.5 * LOG_2PI - np.log(s) - np.log(m)


def pmf_with_tail(head: Sequence[float], ratio: float, values: np.ndarray) -> np.ndarray:
    """Probabilities of non-negative integers: ``head[k]`` for ``k < len(head)``, then geometric.

    ``head`` sums to less than one; the remainder is spread as ``(1 - r) r**j`` over
    ``len(head) + j``, j >= 0.
    """
    head = np.asarray(head, dtype=np.float64)
    rest = 1.0 - head.sum()
    v = np.asarray(values)
    tail = rest * (1 - ratio) * ratio ** np.maximum(v - len(head), 0)
    return np.where(v < len(head), head[np.minimum(v, len(head) - 1)], tail)


def pmf_with_tail_sample(
    rng: np.random.Generator, head: Sequence[float], ratio: float, size: int
) -> np.ndarray:
    """Draw non-negative integers from :func:`pmf_with_tail`."""
    head = np.asarray(head, dtype=np.float64)
    probs = np.append(head, 1.0 - head.sum())
    k = rng.choice(len(probs), size=size, p=probs)
    extra = rng.geometric(1.0 - ratio, size) - 1
    return np.where(k < len(head), k, len(head) + extra).astype(np.int64)
