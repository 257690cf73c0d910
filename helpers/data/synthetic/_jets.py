"""Jet generator, exact seed-level density and jet images of the top-tagging twin.

A jet of class ``top`` or ``qcd`` is made of

* three massless *seed* constituents, drawn as a sequential splitting ``S -> X + Y``,
  ``Y -> Z1 + Z2`` (for a top: ``t -> b W``, ``W -> q q'``), in the coordinates
  ``u = (pt_s, eta_s, phi_s, m_s, m_Y, cos1, phi1, cos2, phi2)``: ``S`` is the seed system,
  ``cos1`` the cosine of ``Y``'s direction in the rest frame of ``S`` relative to ``S``'s flight
  direction, ``cos2`` the same for ``Z1`` in the rest frame of ``Y``. Tops have ``m_s`` and
  ``m_Y / m_s`` peaked (at the top and W masses scaled down to the seeds' share of the jet),
  isotropic top decay and the W-helicity law; QCD jets have a broad, lighter ``m_s`` (collinear
  seeds: one prong), small pair masses and near-uniform splitting angles;
* ``n - 3`` soft constituents (``n`` from a negative binomial law, larger for QCD: gluon jets
  radiate more), shared among the seeds and spread around them. Given the seeds and ``n`` this
  step is the same for both classes, and every soft constituent is softer than the softest seed,
  so the seeds are always the three leading constituents.

Jets are kept when ``550 < pT < 650`` GeV, ``|eta| < 2``, every constituent lies within
``Delta R < 0.8`` of the jet axis and ``n <= 200`` (whole-jet rejection).

Because the class enters only through the seeds and ``n``, the likelihood ratio of the full
constituent list equals ``p(seeds, n | top) / p(seeds, n | qcd)`` times the ratio of the two
classes' acceptance of the cuts (a constant, estimated by Monte Carlo). The seed density is
computed exactly: the density of ``u`` divided by the Jacobian of the map from ``u`` to the nine
seed momentum components, summed over the six ways of labelling the three seeds.

Units: GeV and radians. Four-vectors are arrays ``(..., 4)`` ordered ``(E, px, py, pz)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

CLASSES = ("qcd", "top")  # index = is_signal_new
N_MAX = 200
JET_R = 0.8
PT_WINDOW = (550.0, 650.0)
ETA_MAX = 2.0
PT_SEED_RANGE = (220.0, 330.0)  # uniform law of the seed-system pT (both classes)
ETA_SEED_SD = 1.0
IMAGE_PIXELS = 40
IMAGE_HALF_WIDTH = 1.0  # the image spans [-1, 1] in both rotated coordinates
LOG_2PI = float(np.log(2.0 * np.pi))


@dataclass(frozen=True)
class JetClass:
    """Parameters of one jet class (masses in GeV)."""

    m_peak: tuple[float, float, float]  # weight, median, log-sd of the peaked seed-mass part
    m_broad: tuple[float, float]  # median, log-sd of the broad seed-mass part
    r_peak: tuple[float, float, float]  # weight, a, b of the peaked Beta law of m_Y / m_s
    r_broad: tuple[float, float]  # a, b of the broad Beta law of m_Y / m_s
    cos1: tuple[float, float]  # Beta (a, a) of (1 + cos1) / 2, or (0, w) for the W-helicity law
    cos2: tuple[float, float]
    n_soft: tuple[float, float]  # mean and shape of the negative binomial law of n - 3


PARAMS: dict[str, JetClass] = {
    "top": JetClass(
        m_peak=(0.75, 81.0, 0.09),
        m_broad=(58.0, 0.30),
        r_peak=(0.88, 86.0, 113.0),
        r_broad=(2.0, 2.5),
        cos1=(1.0, 1.0),
        cos2=(0.0, 0.7),
        n_soft=(44.0, 10.0),
    ),
    "qcd": JetClass(
        m_peak=(0.0, 1.0, 1.0),
        m_broad=(30.0, 0.60),
        r_peak=(0.0, 1.0, 1.0),
        r_broad=(1.1, 2.6),
        cos1=(1.2, 1.2),
        cos2=(1.2, 1.2),
        n_soft=(52.0, 10.0),
    ),
}


# ---------------------------------------------------------------------------------------------
# Four-vector helpers
# ---------------------------------------------------------------------------------------------


def p4_from_ptetaphim(pt, eta, phi, m) -> np.ndarray:
    """Four-vectors ``(E, px, py, pz)`` from pT, pseudorapidity, azimuth and mass."""
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    return np.stack([np.sqrt(px**2 + py**2 + pz**2 + m**2), px, py, pz], axis=-1)


def mass(p: np.ndarray) -> np.ndarray:
    """Invariant mass of four-vectors ``(..., 4)`` (zero when numerically negative)."""
    return np.sqrt(np.maximum(p[..., 0] ** 2 - (p[..., 1:] ** 2).sum(-1), 0.0))


def boost(p: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """Boost four-vectors ``p`` by velocity ``beta`` (``(..., 3)``), i.e. from the frame moving
    with ``beta`` to the frame in which it moves; use ``-beta`` for the inverse."""
    b2 = np.maximum((beta**2).sum(-1), 1e-300)
    gamma = 1.0 / np.sqrt(1.0 - b2)
    bp = (beta * p[..., 1:]).sum(-1)
    e = gamma * (p[..., 0] + bp)
    coef = (gamma - 1.0) * bp / b2 + gamma * p[..., 0]
    return np.concatenate([e[..., None], p[..., 1:] + coef[..., None] * beta], axis=-1)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _perp_basis(axis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two unit vectors orthogonal to ``axis`` (and to each other); ``axis`` never along z."""
    e1 = _unit(np.cross(np.array([0.0, 0.0, 1.0]), axis))
    return e1, np.cross(axis, e1)


# ---------------------------------------------------------------------------------------------
# Seeds: sampler, map, Jacobian and density
# ---------------------------------------------------------------------------------------------


def seed_momenta(u: dict[str, np.ndarray]) -> np.ndarray:
    """The labelled seeds ``(X, Z1, Z2)`` in the lab, ``(n, 3, 4)``, from coordinates ``u``."""
    s = p4_from_ptetaphim(u["pt_s"], u["eta_s"], u["phi_s"], u["m_s"])
    beta_s = s[:, 1:] / s[:, :1]
    axis = _unit(s[:, 1:])
    e1, e2 = _perp_basis(axis)
    sin1 = np.sqrt(1.0 - u["cos1"] ** 2)
    n1 = u["cos1"][:, None] * axis + sin1[:, None] * (
        np.cos(u["phi1"])[:, None] * e1 + np.sin(u["phi1"])[:, None] * e2
    )
    p1 = (u["m_s"] ** 2 - u["m_y"] ** 2) / (2.0 * u["m_s"])
    y_rest = np.concatenate([np.sqrt(p1**2 + u["m_y"] ** 2)[:, None], p1[:, None] * n1], axis=1)
    x_rest = np.concatenate([p1[:, None], -p1[:, None] * n1], axis=1)
    y_lab, x_lab = boost(y_rest, beta_s), boost(x_rest, beta_s)
    beta_y = y_lab[:, 1:] / y_lab[:, :1]
    axis_y = _unit(y_lab[:, 1:])
    f1, f2 = _perp_basis(axis_y)
    sin2 = np.sqrt(1.0 - u["cos2"] ** 2)
    n2 = u["cos2"][:, None] * axis_y + sin2[:, None] * (
        np.cos(u["phi2"])[:, None] * f1 + np.sin(u["phi2"])[:, None] * f2
    )
    p2 = (u["m_y"] / 2.0)[:, None]
    z1 = boost(np.concatenate([p2, p2 * n2], axis=1), beta_y)
    z2 = boost(np.concatenate([p2, -p2 * n2], axis=1), beta_y)
    # massless by construction: recompute E from the momentum against rounding
    out = np.stack([x_lab, z1, z2], axis=1)
    out[..., 0] = np.linalg.norm(out[..., 1:], axis=-1)
    return out


def _beta_logpdf(x, a, b):
    return (a - 1.0) * np.log(x) + (b - 1.0) * np.log1p(-x) - special.betaln(a, b)


def _cos_logpdf(c: np.ndarray, law: tuple[float, float]) -> np.ndarray:
    c = np.clip(c, -1.0 + 1e-12, 1.0 - 1e-12)
    if law[0] == 0.0:  # W helicity: a longitudinal fraction w and a left-handed rest
        w = law[1]
        return np.log(w * 0.75 * (1.0 - c**2) + (1.0 - w) * 0.375 * (1.0 - c) ** 2)
    x = np.clip((1.0 + c) / 2.0, 1e-12, 1 - 1e-12)
    return _beta_logpdf(x, law[0], law[1]) - np.log(2.0)


def _cos_sample(rng: np.random.Generator, law: tuple[float, float], n: int) -> np.ndarray:
    if law[0] == 0.0:
        w = law[1]
        longit = rng.random(n) < w
        # longitudinal: 3/4 (1 - c^2) by rejection; left-handed: 3/8 (1 - c)^2 by inversion
        c = np.empty(n)
        todo = np.flatnonzero(longit)
        while todo.size:
            x = rng.uniform(-1, 1, todo.size)
            keep = rng.random(todo.size) < 1.0 - x**2
            c[todo[keep]] = x[keep]
            todo = todo[~keep]
        left = ~longit
        c[left] = 1.0 - 2.0 * rng.random(left.sum()) ** (1.0 / 3.0)
        return c
    return 2.0 * rng.beta(law[0], law[1], n) - 1.0


def _mixture_lognormal_logpdf(m, p: JetClass) -> np.ndarray:
    w, med, sd = p.m_peak
    lm = np.log(m)
    broad = -0.5 * ((lm - np.log(p.m_broad[0])) / p.m_broad[1]) ** 2 - np.log(p.m_broad[1])
    peak = -0.5 * ((lm - np.log(med)) / sd) ** 2 - np.log(sd)
    with np.errstate(divide="ignore"):
        mix = np.logaddexp(np.log(w) + peak, np.log1p(-w) + broad)
    return mix - 0.5 * LOG_2PI - lm


def _ratio_logpdf(r, p: JetClass) -> np.ndarray:
    w, a, b = p.r_peak
    r = np.clip(r, 1e-12, 1 - 1e-12)
    with np.errstate(divide="ignore"):
        return np.logaddexp(
            np.log(w) + _beta_logpdf(r, a, b), np.log1p(-w) + _beta_logpdf(r, *p.r_broad)
        )


def sample_seed_coordinates(cls: str, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Draw the coordinates ``u`` of ``n`` seed triplets of class ``cls``."""
    p = PARAMS[cls]
    peak = rng.random(n) < p.m_peak[0]
    m_s = np.where(
        peak,
        p.m_peak[1] * np.exp(p.m_peak[2] * rng.standard_normal(n)),
        p.m_broad[0] * np.exp(p.m_broad[1] * rng.standard_normal(n)),
    )
    rpeak = rng.random(n) < p.r_peak[0]
    r = np.where(rpeak, rng.beta(p.r_peak[1], p.r_peak[2], n), rng.beta(*p.r_broad, n))
    return {
        "pt_s": rng.uniform(*PT_SEED_RANGE, n),
        "eta_s": rng.normal(0.0, ETA_SEED_SD, n),
        "phi_s": rng.uniform(-np.pi, np.pi, n),
        "m_s": m_s,
        "m_y": r * m_s,
        "cos1": _cos_sample(rng, p.cos1, n),
        "phi1": rng.uniform(0.0, 2.0 * np.pi, n),
        "cos2": _cos_sample(rng, p.cos2, n),
        "phi2": rng.uniform(0.0, 2.0 * np.pi, n),
    }


def log_jacobian(x: np.ndarray, z1: np.ndarray, z2: np.ndarray) -> np.ndarray:
    """``log |d(p_X, p_Z1, p_Z2) / du|`` for labelled massless seeds (momentum components).

    From ``prod_j d3p_j / (2 E_j) = d4S dm_Y^2 (p1 / 4 m_s) dOmega1 (p2 / 4 m_Y) dOmega2`` with
    ``d4S = pt^2 cosh(eta) (m_s / E_s) dpt deta dphi dm_s`` and ``p2 = m_Y / 2``.
    """
    s = x + z1 + z2
    y = z1 + z2
    m_s, m_y = mass(s), mass(y)
    pt = np.hypot(s[:, 1], s[:, 2])
    cosh_eta = np.sqrt(1.0 + (s[:, 3] / pt) ** 2)
    p1 = (m_s**2 - m_y**2) / (2.0 * m_s)
    return (
        np.log(x[:, 0] * z1[:, 0] * z2[:, 0])
        + 2.0 * np.log(pt)
        + np.log(cosh_eta)
        - np.log(s[:, 0])
        + np.log(m_y * p1 / 2.0)
    )


def seed_coordinates(x: np.ndarray, z1: np.ndarray, z2: np.ndarray) -> dict[str, np.ndarray]:
    """Inverse of :func:`seed_momenta` for the coordinates that carry a class density."""
    s = x + z1 + z2
    y = z1 + z2
    beta_s = s[:, 1:] / s[:, :1]
    y_rest = boost(y, -beta_s)
    cos1 = (_unit(y_rest[:, 1:]) * _unit(s[:, 1:])).sum(-1)
    beta_y = y[:, 1:] / y[:, :1]
    z_rest = boost(z1, -beta_y)
    cos2 = (_unit(z_rest[:, 1:]) * _unit(y[:, 1:])).sum(-1)
    pt = np.hypot(s[:, 1], s[:, 2])
    return {
        "pt_s": pt,
        "eta_s": np.arcsinh(s[:, 3] / pt),
        "m_s": mass(s),
        "m_y": mass(y),
        "cos1": np.clip(cos1, -1.0, 1.0),
        "cos2": np.clip(cos2, -1.0, 1.0),
    }


def seed_logpdf(cls: str, seeds: np.ndarray) -> np.ndarray:
    """Log-density of three unlabelled massless seeds (``(n, 3, 4)``) under class ``cls``.

    With respect to the nine momentum components of the seeds listed in any fixed order (e.g.
    by decreasing pT): the sum over the six labellings ``(X, Z1, Z2)`` of the labelled density.
    """
    p = PARAMS[cls]
    terms = []
    for ix, i1, i2 in ((0, 1, 2), (0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0)):
        x, z1, z2 = seeds[:, ix], seeds[:, i1], seeds[:, i2]
        u = seed_coordinates(x, z1, z2)
        inside = (u["pt_s"] > PT_SEED_RANGE[0]) & (u["pt_s"] < PT_SEED_RANGE[1])
        with np.errstate(divide="ignore"):
            log_u = (
                np.where(inside, -np.log(PT_SEED_RANGE[1] - PT_SEED_RANGE[0]), -np.inf)
                - 0.5 * (u["eta_s"] / ETA_SEED_SD) ** 2
                - np.log(ETA_SEED_SD)
                - 0.5 * LOG_2PI
                - 3.0 * LOG_2PI  # the three uniform azimuths
                + _mixture_lognormal_logpdf(u["m_s"], p)
                + _ratio_logpdf(u["m_y"] / u["m_s"], p)
                - np.log(u["m_s"])
                + _cos_logpdf(u["cos1"], p.cos1)
                + _cos_logpdf(u["cos2"], p.cos2)
            )
        terms.append(log_u - log_jacobian(x, z1, z2))
    return special.logsumexp(np.stack(terms), axis=0)


# ---------------------------------------------------------------------------------------------
# Multiplicity and soft clouds
# ---------------------------------------------------------------------------------------------


def multiplicity_logpmf(cls: str, n: np.ndarray) -> np.ndarray:
    """Log-pmf of the number of constituents ``n`` (``n - 3`` negative binomial)."""
    mean, k = PARAMS[cls].n_soft
    x = np.asarray(n, dtype=float) - 3.0
    out = (
        special.gammaln(k + x)
        - special.gammaln(k)
        - special.gammaln(x + 1.0)
        + k * np.log(k / (k + mean))
        + x * np.log(mean / (k + mean))
    )
    return np.where(x >= 0, out, -np.inf)


def sample_multiplicity(cls: str, n: int, rng: np.random.Generator) -> np.ndarray:
    mean, k = PARAMS[cls].n_soft
    return 3 + rng.negative_binomial(k, k / (k + mean), n)


def cloud_scales(n_jets: int, rng: np.random.Generator) -> np.ndarray:
    """Cloud pT of each seed in units of the seed pT, ``(n_jets, 3)``: about 1.3."""
    return 1.3 * np.exp(0.15 * rng.standard_normal((n_jets, 3)))


def max_jet_pt(seeds: np.ndarray, scales: np.ndarray, n_const: np.ndarray) -> np.ndarray:
    """An upper bound of the jet pT that :func:`soft_clouds` can give (GeV).

    Every soft particle's pT is at most its raw share (or the 0.05 GeV floor) and the raw shares
    of a seed's cloud add up to ``scale * seed pT``, so the jet pT never exceeds this bound.
    """
    seed_pt = np.hypot(seeds[..., 1], seeds[..., 2])
    return (seed_pt * (1.0 + scales)).sum(1) + SOFT_FLOOR * np.clip(n_const - 3, 0, None)


SOFT_FLOOR = 0.05  # GeV, the smallest raw pT of a soft particle


def soft_clouds(
    seeds: np.ndarray, scales: np.ndarray, n_const: np.ndarray, rng: np.random.Generator
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Soft constituents of every jet, as a flat list, and the jet of each.

    The ``n - 3`` soft particles of a jet are shared among its seeds with probabilities growing
    with the seed pT; each seed's share carries ``scale`` times its pT (Dirichlet-split), is
    compressed smoothly below 0.97 times the softest seed's pT (so the seeds stay the three
    leading constituents) and spreads around the seed (a 2D normal offset in eta-phi, clipped at
    0.7) with a width shrinking with the particle's and the seed's pT. Identical for both
    classes.

    Returns
    -------
    soft : dict of float32 arrays (K,)
        ``pt, eta, phi, px, py, pz, e`` of all soft particles (massless), jet after jet.
    jet_of : array (K,)
        Index of each particle's jet.
    """
    n_jets = len(seeds)
    n_soft = np.clip(n_const - 3, 0, N_MAX - 3)
    jet_of = np.repeat(np.arange(n_jets), n_soft)
    seed_pt = np.hypot(seeds[..., 1], seeds[..., 2])  # (n, 3)
    seed_eta = np.arcsinh(seeds[..., 3] / seed_pt)
    seed_phi = np.arctan2(seeds[..., 2], seeds[..., 1])
    w = seed_pt**0.8
    cum = np.cumsum(w / w.sum(1, keepdims=True), axis=1)
    u = rng.random(len(jet_of))
    parent = np.minimum((u > cum[jet_of, 0]).astype(np.int64) + (u > cum[jet_of, 1]), 2)
    flat = jet_of * 3 + parent
    g = rng.gamma(0.8, 1.0, len(jet_of))
    frac = g / np.bincount(flat, weights=g, minlength=3 * n_jets)[flat]
    raw = (scales * seed_pt).ravel()[flat] * frac
    cap = 0.97 * seed_pt.min(1)[jet_of]
    pt = cap * np.tanh(np.maximum(raw, SOFT_FLOOR) / cap)  # softer than the softest seed
    sigma = 0.08 * np.sqrt(np.sqrt((150.0 / seed_pt).ravel()[flat] / pt))
    offset = sigma[:, None] * rng.standard_normal((len(pt), 2))
    offset *= np.minimum(1.0, 0.7 / np.maximum(np.hypot(offset[:, 0], offset[:, 1]), 1e-12))[
        :, None
    ]
    eta = seed_eta.ravel()[flat] + offset[:, 0]
    phi = seed_phi.ravel()[flat] + offset[:, 1]
    pt, eta, phi = (v.astype(np.float32) for v in (pt, eta, phi))
    soft = {"pt": pt, "eta": eta, "phi": phi, "px": pt * np.cos(phi), "py": pt * np.sin(phi)}
    soft["pz"] = pt * np.sinh(eta)
    soft["e"] = pt * np.cosh(eta)
    return soft, jet_of


def passes_cuts(
    seeds: np.ndarray, soft: dict[str, np.ndarray], jet_of: np.ndarray, n_const: np.ndarray
) -> np.ndarray:
    """Jet selection: pT window, ``|eta| < 2``, every constituent within R of the axis, n <= 200."""
    n_jets = len(seeds)
    jet = seeds.sum(1)
    for k, key in enumerate(("e", "px", "py", "pz")):
        jet[:, k] += np.bincount(jet_of, weights=soft[key], minlength=n_jets)
    pt = np.hypot(jet[:, 1], jet[:, 2])
    eta = np.arcsinh(jet[:, 3] / pt)
    phi = np.arctan2(jet[:, 2], jet[:, 1])

    def outside(ceta, cphi, jets) -> np.ndarray:
        dphi = (cphi - phi[jets] + np.pi) % (2.0 * np.pi) - np.pi
        return (ceta - eta[jets]) ** 2 + dphi**2 >= JET_R**2

    seed_pt = np.hypot(seeds[..., 1], seeds[..., 2])
    seed_eta = np.arcsinh(seeds[..., 3] / seed_pt)
    seed_phi = np.arctan2(seeds[..., 2], seeds[..., 1])
    far = outside(seed_eta, seed_phi, np.arange(n_jets)[:, None]).any(1)
    far |= (
        np.bincount(jet_of, weights=outside(soft["eta"], soft["phi"], jet_of), minlength=n_jets) > 0
    )
    window = (pt > PT_WINDOW[0]) & (pt < PT_WINDOW[1]) & (np.abs(eta) < ETA_MAX)
    return window & ~far & (n_const <= N_MAX)


def _padded(seeds: np.ndarray, soft: dict[str, np.ndarray], jet_of: np.ndarray) -> np.ndarray:
    """Seeds then soft particles, pT-ordered and zero-padded to ``(n, N_MAX, 4)``."""
    n_jets = len(seeds)
    out = np.zeros((n_jets, N_MAX, 4), dtype=np.float32)
    seed_order = np.argsort(-np.hypot(seeds[..., 1], seeds[..., 2]), axis=1)
    out[:, :3] = np.take_along_axis(seeds, seed_order[..., None], axis=1)
    counts = np.bincount(jet_of, minlength=n_jets)
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    slot = np.arange(len(jet_of)) - first[jet_of]
    soft_pt = np.zeros((n_jets, N_MAX - 3), dtype=np.float32)
    soft_pt[jet_of, slot] = soft["pt"]
    order = np.argsort(-soft_pt, axis=1, kind="stable")  # the padding (pT 0) goes last
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(N_MAX - 3)[None, :], axis=1)
    dest = 3 + rank[jet_of, slot]
    for k, key in enumerate(("e", "px", "py", "pz")):
        out[jet_of, dest, k] = soft[key]
    return out


def sample_jets(cls: str, count: int, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """Draw ``count`` selected jets of class ``cls``.

    Jets are drawn in chunks of at most 4096; a jet whose pT bound (:func:`max_jet_pt`) is below
    the window is rejected before its soft particles are made (it could never pass).

    Returns
    -------
    constituents : array (count, N_MAX, 4), float32, pT-ordered and zero-padded
    attempts : int
        Jets generated before the selection (the acceptance is ``count / attempts``).
    """
    kept: list[np.ndarray] = []
    have = attempts = 0
    while have < count:
        batch = int(min(4096, max(256, 1.2 * (count - have) / 0.3)))
        seeds = seed_momenta(sample_seed_coordinates(cls, batch, rng))
        n_const = sample_multiplicity(cls, batch, rng)
        scales = cloud_scales(batch, rng)
        built = np.flatnonzero(
            (max_jet_pt(seeds, scales, n_const) > PT_WINDOW[0]) & (n_const <= N_MAX)
        )
        soft, jet_of = soft_clouds(seeds[built], scales[built], n_const[built], rng)
        passed = passes_cuts(seeds[built], soft, jet_of, n_const[built])
        take = np.flatnonzero(passed)[: count - have]  # positions among the built jets
        attempts += batch if len(take) < count - have else int(built[take[-1]]) + 1
        sel = np.zeros(len(built), dtype=bool)
        sel[take] = True
        keep_soft = sel[jet_of]
        remap = np.cumsum(sel) - 1
        soft = {k: v[keep_soft] for k, v in soft.items()}
        kept.append(_padded(seeds[built[take]], soft, remap[jet_of[keep_soft]]))
        have += len(take)
    return np.concatenate(kept), attempts


# ---------------------------------------------------------------------------------------------
# Likelihood ratio
# ---------------------------------------------------------------------------------------------

#: Acceptance of the jet selection per class (selected / generated jets), measured by Monte Carlo
#: (300,000 selected jets per class; statistical uncertainty 0.2 % relative) and re-measured by
#: ``bench/bench_synth_tth_top.py``. It sets the scale of the likelihood ratio, not its ranking.
ACCEPTANCE = {"qcd": 0.3027, "top": 0.2413}


def log_likelihood_ratio(constituents: np.ndarray) -> np.ndarray:
    """``log p(x | top) / p(x | qcd)`` of pT-ordered constituent lists ``(n, N_MAX, 4)``."""
    con = np.asarray(constituents, dtype=np.float64)
    seeds = con[:, :3].copy()
    seeds[..., 0] = np.linalg.norm(seeds[..., 1:], axis=-1)
    n_const = (con[..., 0] > 0).sum(1)
    llr = (
        seed_logpdf("top", seeds)
        - seed_logpdf("qcd", seeds)
        + multiplicity_logpmf("top", n_const)
        - multiplicity_logpmf("qcd", n_const)
    )
    return llr + np.log(ACCEPTANCE["qcd"] / ACCEPTANCE["top"])


# ---------------------------------------------------------------------------------------------
# Jet images
# ---------------------------------------------------------------------------------------------


def jet_images(constituents: np.ndarray) -> np.ndarray:
    """40 x 40 pT images (GeV per pixel), flattened row-major to ``(n, 1600)`` float32.

    :func:`helpers.physics.jet_images` (the one implementation of the course: centred on the
    pT-weighted centroid, principal axis rotated onto phi', flipped so that the harder half lies
    at eta' > 0 and phi' > 0) on the twin's grid: ``[-1, 1]`` in both rotated coordinates, pixels
    0.05 wide, constituents outside dropped, not normalised. Row ``i`` is the phi' bin ``i`` in
    ascending order and column ``j`` the eta' bin ``j``, so
    :func:`helpers.plotting.plot_jet_images` (``origin="lower"``) draws the harder half up and to
    the right.
    """
    from helpers import physics

    con = np.asarray(constituents, dtype=np.float64)
    edges = (-IMAGE_HALF_WIDTH, IMAGE_HALF_WIDTH)
    img = physics.jet_images(
        con,
        n_pixels=IMAGE_PIXELS,
        eta_range=edges,
        phi_range=edges,
        normalize=False,
        dtype=np.float64,
    )
    return img.reshape(len(con), IMAGE_PIXELS**2).astype(np.float32)
