"""Small closed-form distribution helpers for the ttH multilepton twin.

Every conditional of the twin's generative chain is one of these families, each with a
vectorised sampler and log-density, so that the density of any event can be recomputed exactly
from its columns. All functions broadcast over NumPy arrays; angles are in radians.
"""

from __future__ import annotations

import numpy as np
from scipy import special

LOG_2PI = float(np.log(2.0 * np.pi))
HALF_LOG_2PI = 0.5 * LOG_2PI


def wrap(x: np.ndarray) -> np.ndarray:
    """Wrap angles to ``[-pi, pi)``."""
    return (np.asarray(x) + np.pi) % (2.0 * np.pi) - np.pi


def normal_logpdf(x: np.ndarray, mu: np.ndarray, sd: np.ndarray) -> np.ndarray:
    """Log-density of ``N(mu, sd**2)`` at ``x``."""
    z = (x - mu) / sd
    return -0.5 * z * z - np.log(sd) - HALF_LOG_2PI


def vonmises_logpdf(x: np.ndarray, mu: np.ndarray, kappa: np.ndarray) -> np.ndarray:
    """Log-density of the von Mises law on the circle (``x`` and ``mu`` in radians)."""
    kappa = np.asarray(kappa, dtype=float)
    return kappa * np.cos(x - mu) - LOG_2PI - np.log(special.i0e(kappa)) - kappa


def vonmises_sample(
    rng: np.random.Generator, mu: np.ndarray, kappa: np.ndarray, size: int
) -> np.ndarray:
    """Draw ``size`` angles in ``[-pi, pi)`` from the von Mises law."""
    mu = np.broadcast_to(np.asarray(mu, dtype=float), (size,))
    kappa = np.broadcast_to(np.asarray(kappa, dtype=float), (size,))
    return wrap(rng.vonmises(mu, kappa))


def log_interval_mass(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``log(Phi(b) - Phi(a))`` for standardised bounds ``a < b``, stable in both tails."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    upper = a > 0  # work in the tail that keeps precision
    lo = np.where(upper, -b, a)
    hi = np.where(upper, -a, b)
    log_hi = special.log_ndtr(hi)
    log_lo = special.log_ndtr(lo)
    with np.errstate(divide="ignore"):
        return log_hi + np.log1p(-np.exp(np.minimum(log_lo - log_hi, 0.0)))


def truncnorm_sample(
    rng: np.random.Generator, mu: np.ndarray, sd: np.ndarray, lo: np.ndarray, hi: np.ndarray
) -> np.ndarray:
    """Draw from ``N(mu, sd**2)`` truncated to ``[lo, hi]`` by inverting the CDF.

    The inversion is done in the tail nearer to the mean, which keeps it accurate as long as the
    interval holds a probability above about 1e-300 (the twin only draws from intervals whose
    probability is its own mixture weight, so far tails are never drawn in practice).
    """
    mu, sd, lo, hi = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (mu, sd, lo, hi)))
    a = (lo - mu) / sd
    b = (hi - mu) / sd
    upper = a > 0
    a2 = np.where(upper, -b, a)
    b2 = np.where(upper, -a, b)
    pa = special.ndtr(a2)
    pb = special.ndtr(b2)
    u = rng.random(mu.shape)
    x = special.ndtri(pa + u * (pb - pa))
    x = np.where(upper, -x, x)
    x = np.clip(np.nan_to_num(x, nan=0.0, posinf=b, neginf=a), a, b)
    return mu + sd * x


def truncated_poisson_logpmf(k: np.ndarray, lam: np.ndarray, kmax: int) -> np.ndarray:
    """Log-pmf of a Poisson law of mean ``lam`` restricted to ``0 <= k <= kmax``."""
    k = np.asarray(k, dtype=float)
    lam = np.asarray(lam, dtype=float)
    ks = np.arange(kmax + 1, dtype=float)
    log_terms = ks * np.log(lam)[..., None] - lam[..., None] - special.gammaln(ks + 1.0)
    log_norm = special.logsumexp(log_terms, axis=-1)
    out = k * np.log(lam) - lam - special.gammaln(k + 1.0) - log_norm
    return np.where((k >= 0) & (k <= kmax), out, -np.inf)


def truncated_poisson_sample(
    rng: np.random.Generator, lam: np.ndarray, kmax: int, size: int
) -> np.ndarray:
    """Draw ``size`` integers from the Poisson law of mean ``lam`` restricted to ``[0, kmax]``."""
    lam = np.broadcast_to(np.asarray(lam, dtype=float), (size,))
    ks = np.arange(kmax + 1)
    logp = truncated_poisson_logpmf(ks[None, :], lam[:, None], kmax)
    cdf = np.cumsum(np.exp(logp), axis=1)
    u = rng.random(size) * cdf[:, -1]
    return np.minimum((cdf < u[:, None]).sum(axis=1), kmax)


def gaussian_latent_integral(
    r: list[np.ndarray], b: list[np.ndarray], s: list[np.ndarray], prior_sd: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Integrate a normal latent out of a product of Gaussian factors linear in it.

    Computes ``log integral N(d; 0, prior_sd**2) prod_i N(r_i - b_i d; 0, s_i**2) dd`` and the
    Gaussian posterior of ``d`` (mean, variance). Factors with ``b_i = 0`` simply contribute their
    own normal log-density.

    Parameters
    ----------
    r, b, s : list of arrays
        Residuals, coefficients of the latent and widths of the factors (broadcastable).
    prior_sd : float
        Width of the zero-mean normal prior of the latent.

    Returns
    -------
    log_integral, post_mean, post_var : arrays
    """
    shape = np.broadcast_shapes(*(np.shape(v) for v in (*r, *b, *s)))
    log_terms = np.zeros(shape)
    precision = np.full(shape, 1.0 / prior_sd**2)
    weighted = np.zeros(shape)
    for ri, bi, si in zip(r, b, s, strict=True):
        log_terms = log_terms + normal_logpdf(ri, 0.0, si)
        precision = precision + (bi / si) ** 2
        weighted = weighted + bi * ri / si**2
    log_integral = (
        log_terms - np.log(prior_sd) - 0.5 * np.log(precision) + 0.5 * weighted**2 / precision
    )
    return log_integral, weighted / precision, 1.0 / precision
