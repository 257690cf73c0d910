"""Closed-form densities and four-vector helpers shared by the H->WW twins.

The ``higgs-ww-vs-ttbar`` and ``atlas-hww`` twins draw every event from a chain of conditional
distributions whose densities are known in closed form, so the true likelihood ratio of any event
can be recomputed from its columns. This module holds the families used in the chain (each with a
``*_sample`` and a vectorised ``*_logpdf``), the two-lepton + missing-energy + two-jet event model
built from them (:func:`sample_event`, :func:`event_logpdf`), its maximum-likelihood calibration
(:func:`fit_event_model`) and the four-vector helpers. Units: GeV and radians throughout.

The latent variables of one event (all arrays of shape ``(n,)``):

``pt0``       leading-lepton pT; ``pt0 - lep_thr[0]`` follows a Burr XII law
``eta0``      leading-lepton pseudorapidity, normal truncated to the lepton's acceptance
``eta1``      subleading-lepton pseudorapidity, normal around ``rho * eta0``, truncated
``phi0``      leading-lepton azimuth, uniform (no density: it is the same for every process)
``dphi``      azimuth of lepton 1 minus lepton 0: a wrapped-Cauchy peak (at 0 or pi) plus a flat
              part, truncated to the lepton separation ``dR >= lep_dr_min`` given ``eta1 - eta0``
``mll``       dilepton mass (massless leptons), Burr XII (scale a power law of pt0 and of
              ``cosh deta - cos dphi``) truncated to the range allowed by
              ``lep_thr[1] <= pt1 <= pt0`` given ``pt0``, ``eta0 - eta1`` and ``dphi``; an optional
              Gaussian Z peak for same-flavour pairs. ``pt1 = mll**2 / (2 pt0 (cosh deta - cos dphi))``
``met``       missing ET, Burr XII with a scale growing as a power of the dilepton pT and
              varying with ``cos(dphi_met)``
``dphi_met``  azimuth of the missing ET minus that of the dilepton system, peak plus flat
``jpt0``      leading-jet pT (if ``jet_n >= 1``), Burr XII above ``jet_thr``
``jeta0``     leading-jet pseudorapidity, truncated normal on ``|eta| <= jet_eta_max``
``jdphi0``    azimuth of the leading jet minus that of the dilepton system, peak plus flat
``jm0``       leading-jet mass, log-normal in ``m / pT``
``jpt1``      second-jet pT (if ``jet_n >= 2``), ``jet_thr + (jpt0 - jet_thr) * Beta``
``jeta1``     second-jet pseudorapidity, normal around ``rho * jeta0``, truncated
``jdphi1``    azimuth of jet 1 minus jet 0, peak plus flat
``jm1``       second-jet mass, log-normal in ``m / pT``

Parameters of one process are a plain dict of lists of floats (see :data:`PARAM_SHAPES`): the
lepton, missing-ET and dilepton factors depend on the jet bin ``min(jet_n, 2)``, the leading-jet
factors on ``min(jet_n, 2) - 1``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import optimize, special

TWO_PI = 2.0 * np.pi
LOG_2PI = float(np.log(TWO_PI))
_TOL = 1e-9  # boundary tolerance for values recomputed from columns
_ROUND_TOL = 5e-4  # ... and for the lepton separation recomputed from 5-digit columns

#: Shape of each parameter entry of a process: (number of bins, parameters per bin).
PARAM_SHAPES: dict[str, tuple[int, int]] = {
    "pt0": (3, 3),  # Burr XII (c, d, scale s) of pt0 - thr0, per jet bin
    "eta": (1, 3),  # sigma0, rho, sigma1
    "dphi": (3, 2),  # wrapped-Cauchy weight, signed rho (negative: peak at pi)
    # Burr XII (c, d, scale at pt0 = 40 GeV and 2 (cosh deta - cos dphi) = 1, exponents of both)
    "mll": (3, 5),
    "zpeak": (1, 3),  # fraction for same-flavour pairs, mean, width (GeV)
    # Burr XII (c, d, scale at ptll = 40 GeV, exponent of ptll / 40, coefficient of cos dphi_met)
    "met": (3, 5),
    "dphi_met": (3, 2),
    "jpt0": (2, 3),  # Burr XII of jpt0 - jet_thr, for jet_n == 1 and jet_n >= 2
    "jeta0": (1, 1),  # sigma
    "jdphi0": (2, 2),
    "jpt1": (1, 2),  # Beta (a, b) of (jpt1 - thr) / (jpt0 - thr)
    "jeta1": (1, 2),  # rho, sigma
    "jdphi1": (1, 2),
    "jm": (1, 2),  # mean and width of log(m / pT)
}


@dataclass(frozen=True)
class Selection:
    """Object selection of a twin (thresholds in GeV).

    Attributes
    ----------
    lep_thr : (float, float)
        pT thresholds of the leading and subleading lepton.
    jet_thr : float
        Jet pT threshold.
    jet_eta_max : float
        Jet acceptance ``|eta| <= jet_eta_max``.
    lep_dr_min : float
        Smallest separation ``dR = hypot(deta, dphi)`` of the two leptons (isolation).
    """

    lep_thr: tuple[float, float]
    jet_thr: float
    jet_eta_max: float
    lep_dr_min: float = 0.0


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


# --------------------------------------------------------------------------------------------
# The event model
# --------------------------------------------------------------------------------------------


def _par(params: Mapping[str, Sequence], key: str, index: np.ndarray | int = 0) -> list:
    """Per-event parameter columns of entry ``key`` for bin ``index``."""
    table = np.asarray(params[key], dtype=np.float64).reshape(PARAM_SHAPES[key])
    rows = table[index]
    return [rows[..., j] for j in range(table.shape[1])]


def mll_bounds(
    pt0: np.ndarray, deta: np.ndarray, dphi: np.ndarray, sel: Selection
) -> tuple[np.ndarray, np.ndarray]:
    """Range of the dilepton mass allowed by ``lep_thr[1] <= pt1 <= pt0`` (GeV)."""
    dd = 2.0 * pt0 * (np.cosh(deta) - np.cos(dphi))
    return np.sqrt(dd * sel.lep_thr[1]), np.sqrt(dd * pt0)


def _mll_scale(lat: Mapping[str, np.ndarray], scale, beta, gamma) -> np.ndarray:
    dd = 2.0 * (np.cosh(lat["eta0"] - lat["eta1"]) - np.cos(lat["dphi"]))
    return scale * (lat["pt0"] / 40.0) ** beta * dd**gamma


def _mll_logpdf(lat, params, jb, same_flavour, sel):
    c, d, scale, beta, gamma = _par(params, "mll", jb)
    scale = _mll_scale(lat, scale, beta, gamma)
    lo, hi = mll_bounds(lat["pt0"], lat["eta0"] - lat["eta1"], lat["dphi"], sel)
    f, mz, wz = _par(params, "zpeak")
    f = np.where(same_flavour, f, 0.0)
    m = lat["mll"]
    lb = burr_logpdf(m, c, d, scale)
    mass_b = np.exp(_log_diff_exp(_burr_logsf(lo, c, d, scale), _burr_logsf(hi, c, d, scale)))
    zlo, zhi = (lo - mz) / wz, (hi - mz) / wz
    mass_z = np.exp(_log_ndtr_diff(zlo, zhi))
    lz = -0.5 * ((m - mz) / wz) ** 2 - 0.5 * LOG_2PI - np.log(wz)
    num = np.logaddexp(np.log1p(-f) + lb, np.log(np.maximum(f, 1e-300)) + lz)
    inside = (m >= lo - _TOL * (1 + lo)) & (m <= hi + _TOL * (1 + hi))
    return np.where(inside, num - np.log((1 - f) * mass_b + f * mass_z), -np.inf)


def event_logpdf(
    lat: Mapping[str, np.ndarray],
    params: Mapping[str, Sequence],
    *,
    jet_n: np.ndarray,
    acc0: np.ndarray,
    acc1: np.ndarray,
    same_flavour: np.ndarray,
    sel: Selection,
    jet_mass: bool = True,
    only: Sequence[str] | None = None,
) -> np.ndarray:
    """Log density of the continuous latents of events under one process.

    Parameters
    ----------
    lat : mapping of str to ndarray, shape (n,)
        The latents (see the module docstring) and ``ptll``; jet entries are ignored where the
        jet is absent.
    params : mapping
        The process parameters (see :data:`PARAM_SHAPES`).
    jet_n : ndarray of int, shape (n,)
        Number of jets (the pmf of ``jet_n`` itself is not included).
    acc0, acc1 : ndarray, shape (n, k, 2)
        Pseudorapidity acceptance intervals of lepton 0 and lepton 1.
    same_flavour : ndarray of bool, shape (n,)
        Whether the two leptons have the same flavour (enables the Z peak).
    sel : Selection
        Thresholds.
    jet_mass : bool
        Include the jet-mass factors (leave out when masses are common to all processes and
        cannot be recovered exactly from the columns).
    only : sequence of str, optional
        Sum only these factors (names of :data:`FACTORS`).

    Returns
    -------
    ndarray, shape (n,)
        Log density (GeV and radians as units of the continuous latents).
    """
    names = list(FACTORS) if only is None else list(only)
    if not jet_mass:
        names = [k for k in names if k not in ("jm0", "jm1")]
    ctx = _Context(lat, params, np.asarray(jet_n), acc0, acc1, np.asarray(same_flavour), sel)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        total = np.zeros(len(ctx.jb))
        for name in names:
            total = total + FACTORS[name](ctx)
    return total


@dataclass
class _Context:
    lat: Mapping[str, np.ndarray]
    params: Mapping[str, Sequence]
    jet_n: np.ndarray
    acc0: np.ndarray
    acc1: np.ndarray
    same_flavour: np.ndarray
    sel: Selection

    @property
    def jb(self) -> np.ndarray:
        return np.minimum(self.jet_n, 2)

    @property
    def j0(self) -> np.ndarray:
        return np.clip(self.jb - 1, 0, 1)

    def jet_acc(self) -> np.ndarray:
        m = self.sel.jet_eta_max
        return np.broadcast_to(np.array([[[-m, m]]]), (len(self.jet_n), 1, 2))

    def jpt0(self) -> np.ndarray:
        return np.where(self.jet_n >= 1, self.lat["jpt0"], self.sel.jet_thr + 1.0)

    def jeta0(self) -> np.ndarray:
        return np.where(self.jet_n >= 1, self.lat["jeta0"], 0.0)


def _masked(cond: np.ndarray, value: np.ndarray) -> np.ndarray:
    return np.where(cond, value, 0.0)


def _f_pt0(x: _Context) -> np.ndarray:
    c, d, scale = _par(x.params, "pt0", x.jb)
    return burr_logpdf(x.lat["pt0"] - x.sel.lep_thr[0], c, d, scale)


def _f_eta0(x: _Context) -> np.ndarray:
    s0, _, _ = _par(x.params, "eta")
    return trunc_normal_logpdf(x.lat["eta0"], 0.0, s0, x.acc0)


def _f_eta1(x: _Context) -> np.ndarray:
    _, rho, s1 = _par(x.params, "eta")
    return trunc_normal_logpdf(x.lat["eta1"], rho * x.lat["eta0"], s1, x.acc1)


def _dphi_min(deta: np.ndarray, sel: Selection) -> np.ndarray:
    """Smallest |dphi| allowed by the lepton separation ``dR >= sel.lep_dr_min``."""
    return np.sqrt(np.maximum(sel.lep_dr_min**2 - np.square(deta), 0.0))


def _f_dphi(x: _Context) -> np.ndarray:
    w, k = _par(x.params, "dphi", x.jb)
    deta = x.lat["eta1"] - x.lat["eta0"]
    dens = circ_logpdf(x.lat["dphi"], w, k, _dphi_min(deta, x.sel), check=False)
    # support tested on dR, with room for columns rounded to 5 significant digits
    inside = np.hypot(deta, x.lat["dphi"]) >= x.sel.lep_dr_min - _ROUND_TOL
    return np.where(inside, dens, -np.inf)


def _f_mll(x: _Context) -> np.ndarray:
    return _mll_logpdf(x.lat, x.params, x.jb, x.same_flavour, x.sel)


def _met_scale(lat: Mapping[str, np.ndarray], scale, beta, gamma) -> np.ndarray:
    return scale * (lat["ptll"] / 40.0) ** beta * np.exp(gamma * np.cos(lat["dphi_met"]))


def _f_met(x: _Context) -> np.ndarray:
    c, d, scale, beta, gamma = _par(x.params, "met", x.jb)
    return burr_logpdf(x.lat["met"], c, d, _met_scale(x.lat, scale, beta, gamma))


def _f_dphi_met(x: _Context) -> np.ndarray:
    w, k = _par(x.params, "dphi_met", x.jb)
    return circ_logpdf(x.lat["dphi_met"], w, k)


def _f_jpt0(x: _Context) -> np.ndarray:
    c, d, scale = _par(x.params, "jpt0", x.j0)
    return _masked(x.jet_n >= 1, burr_logpdf(x.jpt0() - x.sel.jet_thr, c, d, scale))


def _f_jeta0(x: _Context) -> np.ndarray:
    (sj,) = _par(x.params, "jeta0")
    return _masked(x.jet_n >= 1, trunc_normal_logpdf(x.jeta0(), 0.0, sj, x.jet_acc()))


def _f_jdphi0(x: _Context) -> np.ndarray:
    w, k = _par(x.params, "jdphi0", x.j0)
    return _masked(x.jet_n >= 1, circ_logpdf(x.lat["jdphi0"], w, k))


def _f_jpt1(x: _Context) -> np.ndarray:
    a, b = _par(x.params, "jpt1")
    span = np.maximum(x.jpt0() - x.sel.jet_thr, _TOL)
    # the density of jpt1 itself: the Beta density of the fraction over the span
    frac = (x.lat["jpt1"] - x.sel.jet_thr) / span
    return _masked(x.jet_n >= 2, beta_logpdf(frac, a, b) - np.log(span))


def _f_jeta1(x: _Context) -> np.ndarray:
    rho, sj1 = _par(x.params, "jeta1")
    eta1 = np.where(x.jet_n >= 2, x.lat["jeta1"], 0.0)
    return _masked(x.jet_n >= 2, trunc_normal_logpdf(eta1, rho * x.jeta0(), sj1, x.jet_acc()))


def _f_jdphi1(x: _Context) -> np.ndarray:
    w, k = _par(x.params, "jdphi1")
    return _masked(x.jet_n >= 2, circ_logpdf(x.lat["jdphi1"], w, k))


def _f_jm0(x: _Context) -> np.ndarray:
    mu, s = _par(x.params, "jm")
    m = np.where(x.jet_n >= 1, x.lat["jm0"], 1.0)
    return _masked(x.jet_n >= 1, lognormal_ratio_logpdf(m, x.jpt0(), mu, s))


def _f_jm1(x: _Context) -> np.ndarray:
    mu, s = _par(x.params, "jm")
    has = x.jet_n >= 2
    m = np.where(has, x.lat["jm1"], 1.0)
    pt = np.where(has, x.lat["jpt1"], x.sel.jet_thr + 1.0)
    return _masked(has, lognormal_ratio_logpdf(m, pt, mu, s))


#: The factors of the event density, by latent name.
FACTORS = {
    "pt0": _f_pt0,
    "eta0": _f_eta0,
    "eta1": _f_eta1,
    "dphi": _f_dphi,
    "mll": _f_mll,
    "met": _f_met,
    "dphi_met": _f_dphi_met,
    "jpt0": _f_jpt0,
    "jeta0": _f_jeta0,
    "jdphi0": _f_jdphi0,
    "jpt1": _f_jpt1,
    "jeta1": _f_jeta1,
    "jdphi1": _f_jdphi1,
    "jm0": _f_jm0,
    "jm1": _f_jm1,
}


def sample_event(
    rng: np.random.Generator,
    params: Mapping[str, Sequence],
    *,
    jet_n: np.ndarray,
    acc0: np.ndarray,
    acc1: np.ndarray,
    same_flavour: np.ndarray,
    sel: Selection,
) -> dict[str, np.ndarray]:
    """Draw the continuous latents of ``n = len(jet_n)`` events of one process.

    Returns the latents of the module docstring plus the derived ``pt1``, ``phi1``, ``ptll``
    and ``phill``; jet entries are NaN where the jet is absent.
    """
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return _sample_event(rng, params, np.asarray(jet_n), acc0, acc1, same_flavour, sel)


def _sample_event(rng, params, jet_n, acc0, acc1, same_flavour, sel):
    n = len(jet_n)
    jb = np.minimum(jet_n, 2)
    lat: dict[str, np.ndarray] = {}
    c, d, scale = _par(params, "pt0", jb)
    lat["pt0"] = sel.lep_thr[0] + burr_sample(rng, c, d, scale, n)
    s0, rho, s1 = _par(params, "eta")
    lat["eta0"] = trunc_normal_sample(rng, 0.0, s0, acc0)
    lat["eta1"] = trunc_normal_sample(rng, rho * lat["eta0"], s1, acc1)
    lat["phi0"] = rng.uniform(-np.pi, np.pi, n)
    w, k = _par(params, "dphi", jb)
    lat["dphi"] = circ_sample(rng, w, k, n, _dphi_min(lat["eta1"] - lat["eta0"], sel))
    lat["mll"] = _sample_mll(rng, lat, params, jb, same_flavour, sel)
    dd = 2.0 * lat["pt0"] * (np.cosh(lat["eta0"] - lat["eta1"]) - np.cos(lat["dphi"]))
    lat["pt1"] = np.clip(lat["mll"] ** 2 / dd, sel.lep_thr[1], lat["pt0"])
    lat["phi1"] = wrap_angle(lat["phi0"] + lat["dphi"])
    lat["ptll"], lat["phill"] = dilepton(lat["pt0"], lat["pt1"], lat["phi0"], lat["phi1"])
    w, k = _par(params, "dphi_met", jb)
    lat["dphi_met"] = circ_sample(rng, w, k, n)
    c, d, scale, beta, gamma = _par(params, "met", jb)
    lat["met"] = burr_sample(rng, c, d, _met_scale(lat, scale, beta, gamma), n)

    has0, has1 = jet_n >= 1, jet_n >= 2
    j0 = np.clip(jb - 1, 0, 1)
    c, d, scale = _par(params, "jpt0", j0)
    jpt0 = sel.jet_thr + burr_sample(rng, c, d, scale, n)
    acc_j = np.broadcast_to(np.array([[[-sel.jet_eta_max, sel.jet_eta_max]]]), (n, 1, 2))
    (sj,) = _par(params, "jeta0")
    jeta0 = trunc_normal_sample(rng, 0.0, sj, acc_j)
    w, k = _par(params, "jdphi0", j0)
    jdphi0 = circ_sample(rng, w, k, n)
    a, b = _par(params, "jpt1")
    jpt1 = sel.jet_thr + (jpt0 - sel.jet_thr) * rng.beta(a, b, n)
    rho, sj1 = _par(params, "jeta1")
    jeta1 = trunc_normal_sample(rng, rho * jeta0, sj1, acc_j)
    w, k = _par(params, "jdphi1")
    jdphi1 = circ_sample(rng, w, k, n)
    mu, s = _par(params, "jm")
    jm0 = jpt0 * np.exp(mu + s * rng.standard_normal(n))
    jm1 = jpt1 * np.exp(mu + s * rng.standard_normal(n))
    for key, val, has in [
        ("jpt0", jpt0, has0),
        ("jeta0", jeta0, has0),
        ("jdphi0", jdphi0, has0),
        ("jm0", jm0, has0),
        ("jpt1", jpt1, has1),
        ("jeta1", jeta1, has1),
        ("jdphi1", jdphi1, has1),
        ("jm1", jm1, has1),
    ]:
        lat[key] = np.where(has, val, np.nan)
    return lat


def _sample_mll(rng, lat, params, jb, same_flavour, sel):
    n = len(jb)
    c, d, scale, beta, gamma = _par(params, "mll", jb)
    scale = _mll_scale(lat, scale, beta, gamma)
    lo, hi = mll_bounds(lat["pt0"], lat["eta0"] - lat["eta1"], lat["dphi"], sel)
    f, mz, wz = _par(params, "zpeak")
    f = np.where(same_flavour, f, 0.0)
    mass_b = np.exp(_log_diff_exp(_burr_logsf(lo, c, d, scale), _burr_logsf(hi, c, d, scale)))
    mass_z = np.exp(_log_ndtr_diff((lo - mz) / wz, (hi - mz) / wz))
    p_z = f * mass_z / np.maximum(f * mass_z + (1 - f) * mass_b, 1e-300)
    burr = trunc_burr_sample(rng, c, d, scale, lo, hi, n)
    u = rng.random(n)
    a, b = special.ndtr((lo - mz) / wz), special.ndtr((hi - mz) / wz)
    z = mz + wz * special.ndtri(np.clip(a + u * (b - a), 1e-300, 1 - 1e-16))
    return np.where(rng.random(n) < p_z, np.clip(z, lo, hi), burr)


# --------------------------------------------------------------------------------------------
# Maximum-likelihood calibration
# --------------------------------------------------------------------------------------------


_KINDS = {
    "pt0": "ppp",
    "eta": "prp",
    "dphi": "wr",
    "mll": "pppff",
    "zpeak": "wpp",
    "met": "pppff",
    "dphi_met": "wr",
    "jpt0": "ppp",
    "jeta0": "p",
    "jdphi0": "wr",
    "jpt1": "pp",
    "jeta1": "rp",
    "jdphi1": "wr",
    "jm": "fp",
}
_TO_FREE = {"p": np.log, "w": special.logit, "r": np.arctanh, "f": float}
# positive parameters are capped at e**9 ~ 8,100 (a Burr tail that long is a Weibull law, a
# truncated normal that wide is flat)
_FROM_FREE = {
    "p": lambda v: np.exp(np.clip(v, -20.0, 9.0)),
    "w": special.expit,
    "r": np.tanh,
    "f": float,
}


def _to_free(key: str, row: Sequence[float]) -> np.ndarray:
    """Unconstrained coordinates of one parameter row (logs, logits, artanh)."""
    return np.array([_TO_FREE[t](v) for v, t in zip(row, _KINDS[key], strict=True)])


def _from_free(key: str, x: Sequence[float]) -> list[float]:
    """Inverse of :func:`_to_free`."""
    return [float(_FROM_FREE[t](v)) for v, t in zip(x, _KINDS[key], strict=True)]


def fit_event_model(
    lat: Mapping[str, np.ndarray],
    start: Mapping[str, Sequence],
    *,
    jet_n: np.ndarray,
    acc0: np.ndarray,
    acc1: np.ndarray,
    same_flavour: np.ndarray,
    sel: Selection,
    fixed: Sequence[str] = (),
) -> dict[str, list[float]]:
    """Maximum-likelihood parameters of one process from its latents.

    Each factor of :func:`event_logpdf` has its own parameters, so the likelihood is maximised
    factor by factor, and bin by bin (Nelder-Mead from ``start``); the entries named in
    ``fixed`` keep their start values. Returns a parameter dict of the same layout as ``start``,
    values rounded to 4 significant digits.
    """
    params = {k: [float(v) for v in np.ravel(start[k])] for k in PARAM_SHAPES}  # flat while fitting
    jb = np.minimum(jet_n, 2)
    groups: dict[str, list[str]] = {
        "pt0": ["pt0"],
        "eta": ["eta0", "eta1"],
        "dphi": ["dphi"],
        "mll": ["mll"],
        "zpeak": ["mll"],
        "met": ["met"],
        "dphi_met": ["dphi_met"],
        "jpt0": ["jpt0"],
        "jeta0": ["jeta0"],
        "jdphi0": ["jdphi0"],
        "jpt1": ["jpt1"],
        "jeta1": ["jeta1"],
        "jdphi1": ["jdphi1"],
        "jm": ["jm0", "jm1"],
    }
    binned = {"pt0": jb, "dphi": jb, "mll": jb, "met": jb, "dphi_met": jb}
    binned |= {"jpt0": np.clip(jb - 1, 0, 1), "jdphi0": np.clip(jb - 1, 0, 1)}
    keys = [k for k in PARAM_SHAPES if k not in fixed]
    for key in keys:
        nbins, width = PARAM_SHAPES[key]
        for b in range(nbins):
            sel_rows = np.ones(len(jb), bool) if nbins == 1 else binned[key] == b
            if key.startswith("j") and key != "jm":
                sel_rows &= jet_n >= (2 if key in ("jpt1", "jeta1", "jdphi1") else 1)
            if key == "jm":
                sel_rows &= jet_n >= 1
            if key == "zpeak":
                sel_rows &= same_flavour
            if sel_rows.sum() < 20:
                continue
            sub = {k: np.asarray(v)[sel_rows] for k, v in lat.items()}
            kw = {
                "jet_n": jet_n[sel_rows],
                "acc0": acc0[sel_rows],
                "acc1": acc1[sel_rows],
                "same_flavour": same_flavour[sel_rows],
                "sel": sel,
                "only": groups[key],
            }
            row0 = params[key][b * width : (b + 1) * width]

            def nll(x, key=key, b=b, width=width, sub=sub, kw=kw):
                row = list(params[key])
                row[b * width : (b + 1) * width] = _from_free(key, x)
                total = -np.sum(event_logpdf(sub, {**params, key: row}, **kw))
                return total if np.isfinite(total) else 1e300

            opts = {"maxiter": 4000, "xatol": 1e-6, "fatol": 1e-7}
            x = optimize.minimize(nll, _to_free(key, row0), method="Nelder-Mead", options=opts).x
            best = [float(f"{v:.4g}") for v in _from_free(key, x)]
            params[key] = params[key][: b * width] + best + params[key][(b + 1) * width :]
    # one row per bin
    return {
        k: v if PARAM_SHAPES[k][0] == 1 else np.reshape(v, PARAM_SHAPES[k]).tolist()
        for k, v in params.items()
    }
