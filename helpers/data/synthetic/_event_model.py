"""The event model of the H->WW twins: sampling and closed-form density.

The ``higgs-ww-vs-ttbar`` and ``atlas-hww`` twins draw every event from a chain of conditional
distributions whose densities are known in closed form, so the true likelihood ratio of any event
can be recomputed from its columns. This module holds the two-lepton + missing-energy + two-jet
event model built from the families of :mod:`._distributions` (:func:`sample_event`,
:func:`event_logpdf`); its maximum-likelihood calibration is in :mod:`._event_fit`. Units: GeV
and radians throughout.

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
from scipy import special

from helpers.data.synthetic._distributions import (
    _TOL,
    LOG_2PI,
    _burr_logsf,
    _log_diff_exp,
    _log_ndtr_diff,
    beta_logpdf,
    burr_logpdf,
    burr_sample,
    circ_logpdf,
    circ_sample,
    dilepton,
    lognormal_ratio_logpdf,
    trunc_burr_sample,
    trunc_normal_logpdf,
    trunc_normal_sample,
    wrap_angle,
)

_ROUND_TOL = 5e-4  # boundary tolerance for the lepton separation recomputed from 5-digit columns

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
