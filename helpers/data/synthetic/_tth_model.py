"""Generative chain and exact density of the ttH multilepton twin (one process at a time).

An event of a process (``ttH``, ``ttW`` or ``DY``) is drawn as

1. discrete latents, all but two recoverable from the columns: the lepton category (two
   same-sign leptons, ``2lss``, or three leptons, ``3l``), the lepton flavours (seen through the
   lepton masses), the jet multiplicity ``n_jets`` (3..14; only ``n_jets > 5`` is seen, through
   the ``More5_Jets`` fill value) and whether the hadronic top was correctly reconstructed
   (``top_ok``, hidden: it shapes ``TopScore`` and the ``HadTop`` candidate);
2. for ttH only, the true Higgs pT: ``h = log(pT_H / GeV) ~ N(H_MEAN, H_SD**2)`` (hidden in the
   features; it is the regression target ``Hreco_HTXS_Higgs_pt``);
3. a chain of continuous conditionals, each a normal law in a fixed transform of one column
   (``log(pt - threshold)``, ``logit`` of a pT fraction, ``atanh(eta / eta_max)``, ``log`` of a
   mass, ...) or a von Mises law of an azimuthal difference. For ttH the means of six of them
   (the pT of both leptons, of the missing ET, of the jet sums and of the top candidate) move
   linearly with ``h``, so ``h`` is integrated out in closed form.

Drell-Yan's subleading-lepton pT is a mixture: with probability ``0.9 * P(Z peak allowed)`` the
dilepton mass (massless leptons, given the two directions and the leading pT) is normal around
the Z mass; the rest is the smooth law of the other processes.

Columns are in GeV and radians; the density is with respect to the raw column values (every
transform's Jacobian is included), so densities of different processes can be compared directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import special

from helpers.data.synthetic import _tth_dists as d

PROCESSES = ("ttH", "ttW", "DY")
MISSING = -99.0
E_MASS = 0.000511  # GeV
MU_MASS = 0.105658  # GeV
ETA_MAX = {0: 2.5, 1: 2.4}  # electrons, muons
FLAV_PAIRS = ((0, 0), (0, 1), (1, 0), (1, 1))  # 0 = electron, 1 = muon
LEP_THR = (25.0, 15.0, 10.0)  # GeV
N_JETS_MIN, N_JETS_MAX = 3, 14
Z_MASS, Z_WIDTH = 91.19, 3.5  # GeV, the reconstructed peak width
H_MEAN, H_SD = float(np.log(105.0)), 0.70  # log(pT_H / GeV) of ttH


@dataclass(frozen=True)
class Process:
    """Parameters of one process (see the module docstring for the meaning of each factor)."""

    p3l: float  # probability of the three-lepton category
    flav01: tuple[float, float, float, float]  # pmf of (flavour0, flavour1) in FLAV_PAIRS order
    pe2: float  # probability that the third lepton is an electron
    lam: tuple[float, float]  # Poisson mean of n_jets - 3 in 2lss and 3l
    ptop: tuple[float, float]  # probability of a correctly reconstructed top, 2lss and 3l
    pt0: tuple[float, float]  # mean, sd of log(pt0 - 25)
    eta: tuple[float, float]  # sd of atanh(eta / eta_max), correlation of lepton 1 with lepton 0
    dphi1: tuple[float, float]  # von Mises (mu, kappa) of phi1 - phi0
    pt1: tuple[float, float]  # mean, sd of logit((pt1 - 15) / (pt0 - 15))
    zpeak: float  # Z-peak fraction for same-flavour pairs
    met: tuple[float, float, float]  # mean, sd of log(met), slope in log(pt0 / 50)
    met_kappa: float  # von Mises kappa of met_phi - phi0 around pi
    lep2: tuple[float, float, float]  # kappa of phi2 - phi0, mean and sd of the pT2 logit
    all5: tuple[float, float, float, float]  # mean, slope in n5, sd of log(pt); kappa vs lepton
    all5_mass: float  # offset of log(mass) of the five-jet sum
    more5_pt: float  # mean of log(pt) of the sum of the jets beyond the fifth
    # slopes of the h-dependent means (ttH only): pt0, pt1 logit, met, All5 pt, More5 pt, HadTop pt
    h_slopes: tuple[float, ...] = field(default=(0.0,) * 6)


PARAMS: dict[str, Process] = {
    "ttH": Process(
        p3l=0.22,
        flav01=(0.21, 0.25, 0.25, 0.29),
        pe2=0.45,
        lam=(2.6, 1.7),
        ptop=(0.55, 0.35),
        pt0=(float(np.log(30.0)), 0.72),
        eta=(0.72, 0.20),
        dphi1=(0.0, 0.35),
        pt1=(-0.10, 1.10),
        zpeak=0.0,
        met=(float(np.log(58.0)), 0.55, 0.20),
        met_kappa=0.30,
        lep2=(0.20, -0.40, 1.10),
        all5=(float(np.log(82.0)), 0.10, 0.45, 0.60),
        all5_mass=0.0,
        more5_pt=float(np.log(45.0)),
        h_slopes=(0.28, 0.25, 0.30, 0.45, 0.25, 0.35),
    ),
    "ttW": Process(
        p3l=0.18,
        flav01=(0.20, 0.25, 0.25, 0.30),
        pe2=0.45,
        lam=(1.6, 1.1),
        ptop=(0.50, 0.30),
        pt0=(float(np.log(38.0)), 0.75),
        eta=(0.78, 0.15),
        dphi1=(np.pi, 0.25),
        pt1=(0.10, 1.00),
        zpeak=0.0,
        met=(float(np.log(64.0)), 0.55, 0.20),
        met_kappa=0.30,
        lep2=(0.20, -0.30, 1.10),
        all5=(float(np.log(78.0)), 0.10, 0.50, 0.60),
        all5_mass=0.0,
        more5_pt=float(np.log(42.0)),
    ),
    "DY": Process(
        p3l=0.03,
        flav01=(0.82, 0.06, 0.06, 0.06),
        pe2=0.60,
        lam=(0.45, 0.30),
        ptop=(0.0, 0.0),
        pt0=(float(np.log(24.0)), 0.40),
        eta=(0.85, 0.60),
        dphi1=(np.pi, 3.00),
        pt1=(-0.30, 1.00),
        zpeak=0.90,
        met=(float(np.log(22.0)), 0.60, 0.10),
        met_kappa=0.05,
        lep2=(0.10, -1.50, 1.00),
        all5=(float(np.log(55.0)), 0.10, 0.55, 1.00),
        all5_mass=-0.15,
        more5_pt=float(np.log(38.0)),
    ),
}


# ---------------------------------------------------------------------------------------------
# Shared conditional laws: each returns the parameters of one factor given its context, and is
# used both by the sampler and by the density, so that the two cannot drift apart.
# ---------------------------------------------------------------------------------------------


def _lepton_mass(flav: np.ndarray) -> np.ndarray:
    return np.where(flav == 0, E_MASS, MU_MASS)


def _eta_max(flav: np.ndarray) -> np.ndarray:
    return np.where(flav == 0, ETA_MAX[0], ETA_MAX[1])


def _met_mean(p: Process, pt0: np.ndarray) -> np.ndarray:
    return p.met[0] + p.met[2] * np.log(pt0 / 50.0)


def _all5_pt_mean(p: Process, n_jets: np.ndarray, pt0: np.ndarray) -> np.ndarray:
    n5 = np.minimum(n_jets, 5)
    return p.all5[0] + p.all5[1] * (n5 - 4) + 0.20 * np.log(pt0 / 50.0)


def _all5_mass_mean(p: Process, n_jets: np.ndarray, log_pt: np.ndarray) -> np.ndarray:
    n5 = np.minimum(n_jets, 5)
    return np.log(70.0) + 0.35 * n5 + 0.5 * (log_pt - np.log(90.0)) + p.all5_mass


def _more5_pt_mean(p: Process, n_jets: np.ndarray) -> np.ndarray:
    return p.more5_pt + 0.40 * np.log(np.maximum(n_jets - 5, 1))


def _more5_mass_mean(n_jets: np.ndarray, log_pt: np.ndarray) -> np.ndarray:
    return np.log(8.0) + 1.3 * np.log(np.maximum(n_jets - 5, 1)) + 0.6 * (log_pt - np.log(45.0))


def _score_law(top_ok: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and sd of atanh(TopScore)."""
    return np.where(top_ok == 1, 1.0, -0.45), np.where(top_ok == 1, 0.55, 0.60)


def _hadtop_pt_mean(log_all5_pt: np.ndarray) -> np.ndarray:
    return np.log(120.0) + 0.45 * (log_all5_pt - np.log(90.0))


def _hadtop_mass_law(top_ok: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.where(top_ok == 1, np.log(172.0), np.log(140.0)), np.where(top_ok == 1, 0.10, 0.45)


def _zpeak_bounds(pt0: np.ndarray, kin: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Dilepton-mass range allowed by 15 GeV < pt1 < pt0 (``kin = cosh deta - cos dphi``)."""
    return np.sqrt(2.0 * pt0 * LEP_THR[1] * kin), np.sqrt(2.0 * pt0 * pt0 * kin)


def _zpeak_weight(p: Process, flav0, flav1, pt0, kin) -> np.ndarray:
    lo, hi = _zpeak_bounds(pt0, kin)
    mass = np.exp(d.log_interval_mass((lo - Z_MASS) / Z_WIDTH, (hi - Z_MASS) / Z_WIDTH))
    return np.where(flav0 == flav1, p.zpeak, 0.0) * mass


# ---------------------------------------------------------------------------------------------
# Sampler
# ---------------------------------------------------------------------------------------------


def sample(proc: str, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Draw ``n`` events of process ``proc``.

    Returns
    -------
    dict
        Raw float64 arrays of shape ``(n,)``: ``pt0, eta0, phi0, m0, pt1, ..., m2`` (third lepton
        ``MISSING`` in 2lss), ``met, met_phi``, ``a5_pt, a5_eta, a5_phi, a5_m``, ``m5_*``
        (``MISSING`` when ``n_jets <= 5``), ``score``, ``ht_*`` (``MISSING`` when ``score <= 0``),
        ``higgs_pt`` (``MISSING`` unless ttH), and the latents ``three_lep``, ``n_jets``,
        ``top_ok``.
    """
    p = PARAMS[proc]
    slopes = np.asarray(p.h_slopes)
    delta = rng.normal(0.0, H_SD, n) if proc == "ttH" else np.zeros(n)
    three = (rng.random(n) < p.p3l).astype(int)
    pair = rng.choice(4, size=n, p=np.asarray(p.flav01))
    f0 = np.array([fp[0] for fp in FLAV_PAIRS])[pair]
    f1 = np.array([fp[1] for fp in FLAV_PAIRS])[pair]
    f2 = (rng.random(n) >= p.pe2).astype(int)
    lam = np.where(three == 1, p.lam[1], p.lam[0])
    n_jets = N_JETS_MIN + d.truncated_poisson_sample(rng, lam, N_JETS_MAX - N_JETS_MIN, n)
    top_ok = (rng.random(n) < np.where(three == 1, p.ptop[1], p.ptop[0])).astype(int)
    out: dict[str, np.ndarray] = {}

    # leptons 0 and 1
    pt0 = LEP_THR[0] + np.exp(rng.normal(p.pt0[0] + slopes[0] * delta, p.pt0[1]))
    eta0 = _eta_max(f0) * np.tanh(rng.normal(0.0, p.eta[0], n))
    phi0 = rng.uniform(-np.pi, np.pi, n)
    w0 = np.arctanh(eta0 / _eta_max(f0))
    eta1 = _eta_max(f1) * np.tanh(rng.normal(p.eta[1] * w0, p.eta[0]))
    dphi1 = d.vonmises_sample(rng, p.dphi1[0], p.dphi1[1], n)
    phi1 = d.wrap(phi0 + dphi1)
    kin = np.cosh(eta0 - eta1) - np.cos(dphi1)
    frac = special.expit(rng.normal(p.pt1[0] + slopes[1] * delta, p.pt1[1]))
    pt1 = LEP_THR[1] + frac * (pt0 - LEP_THR[1])
    use_z = rng.random(n) < _zpeak_weight(p, f0, f1, pt0, kin)
    if use_z.any():
        lo, hi = _zpeak_bounds(pt0[use_z], kin[use_z])
        mll = d.truncnorm_sample(rng, Z_MASS, Z_WIDTH, lo, hi)
        pt1_z = mll**2 / (2.0 * pt0[use_z] * kin[use_z])
        pt1[use_z] = np.clip(pt1_z, LEP_THR[1] * (1 + 1e-9), pt0[use_z] * (1 - 1e-9))
    out.update(pt0=pt0, eta0=eta0, phi0=phi0, m0=_lepton_mass(f0))
    out.update(pt1=pt1, eta1=eta1, phi1=phi1, m1=_lepton_mass(f1))

    # missing transverse momentum
    out["met"] = np.exp(rng.normal(_met_mean(p, pt0) + slopes[2] * delta, p.met[1]))
    out["met_phi"] = d.wrap(phi0 + np.pi + d.vonmises_sample(rng, 0.0, p.met_kappa, n))

    # third lepton (3l only)
    eta2 = _eta_max(f2) * np.tanh(rng.normal(0.0, p.eta[0], n))
    phi2 = d.wrap(phi0 + d.vonmises_sample(rng, 0.0, p.lep2[0], n))
    frac2 = special.expit(rng.normal(p.lep2[1], p.lep2[2], n))
    pt2 = LEP_THR[2] + frac2 * (pt1 - LEP_THR[2])
    has2 = three == 1
    for key, val in (("pt2", pt2), ("eta2", eta2), ("phi2", phi2), ("m2", _lepton_mass(f2))):
        out[key] = np.where(has2, val, MISSING)

    # sum of the (up to) five leading-b-tag jets
    log_a5 = rng.normal(_all5_pt_mean(p, n_jets, pt0) + slopes[3] * delta, p.all5[2])
    out["a5_pt"] = np.exp(log_a5)
    out["a5_eta"] = rng.normal(0.3 * eta0, 1.1)
    out["a5_phi"] = d.wrap(phi0 + np.pi + d.vonmises_sample(rng, 0.0, p.all5[3], n))
    out["a5_m"] = np.exp(rng.normal(_all5_mass_mean(p, n_jets, log_a5), 0.28))

    # sum of the jets beyond the fifth
    log_m5 = rng.normal(_more5_pt_mean(p, n_jets) + slopes[4] * delta, 0.55)
    has5 = n_jets > 5
    m5 = {
        "m5_pt": np.exp(log_m5),
        "m5_eta": rng.normal(0.0, 1.4, n),
        "m5_phi": d.wrap(out["a5_phi"] + d.vonmises_sample(rng, 0.0, 0.3, n)),
        "m5_m": np.exp(rng.normal(_more5_mass_mean(n_jets, log_m5), 0.40)),
    }
    for key, val in m5.items():
        out[key] = np.where(has5, val, MISSING)

    # hadronic-top reconstruction: BDT score and, when the score is positive, the candidate
    mu_s, sd_s = _score_law(top_ok)
    score = np.tanh(rng.normal(mu_s, sd_s))
    out["score"] = score
    log_ht = rng.normal(_hadtop_pt_mean(log_a5) + slopes[5] * delta, 0.45)
    mu_m, sd_m = _hadtop_mass_law(top_ok)
    ht = {
        "ht_pt": np.exp(log_ht),
        "ht_eta": rng.normal(0.5 * out["a5_eta"], 1.0),
        "ht_phi": d.wrap(
            out["a5_phi"] + d.vonmises_sample(rng, 0.0, np.where(top_ok == 1, 1.8, 0.7), n)
        ),
        "ht_m": np.exp(rng.normal(mu_m, sd_m)),
    }
    for key, val in ht.items():
        out[key] = np.where(score > 0, val, MISSING)

    # generator truth
    is_tth = proc == "ttH"
    out["higgs_pt"] = np.exp(H_MEAN + delta) if is_tth else np.full(n, MISSING)
    out["higgs_y"] = rng.normal(0.25 * out["a5_eta"], 1.05) if is_tth else np.full(n, MISSING)
    out.update(three_lep=three, n_jets=n_jets, top_ok=top_ok)
    return out


# ---------------------------------------------------------------------------------------------
# Density
# ---------------------------------------------------------------------------------------------


def _flavour(mass: np.ndarray) -> np.ndarray:
    return (mass > 0.01).astype(int)


def _atanh_eta_logpdf(eta, flav, mu, sd) -> tuple[np.ndarray, np.ndarray]:
    """Log-density of eta when ``atanh(eta / eta_max) ~ N(mu, sd)``; also returns the atanh."""
    emax = _eta_max(flav)
    x = np.clip(eta / emax, -1 + 1e-12, 1 - 1e-12)
    w = np.arctanh(x)
    return d.normal_logpdf(w, mu, sd) - np.log(emax) - np.log1p(-x * x), w


def _logit_frac_logpdf(pt, thr, upper, mu, sd) -> np.ndarray:
    """Log-density of pt when ``logit((pt - thr) / (upper - thr)) ~ N(mu, sd)``."""
    span = upper - thr
    f = np.clip((pt - thr) / span, 1e-12, 1 - 1e-12)
    return d.normal_logpdf(special.logit(f), mu, sd) - np.log(f * (1 - f) * span)


def _log_normal_logpdf(x, mu, sd) -> np.ndarray:
    """Log-density of x when ``log(x) ~ N(mu, sd)``."""
    lx = np.log(x)
    return d.normal_logpdf(lx, mu, sd) - lx


def log_density(
    proc: str, cols: dict[str, np.ndarray], *, lep2: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Log-density of each event under process ``proc``, and the posterior of the Higgs pT.

    Parameters
    ----------
    proc : str
        ``"ttH"``, ``"ttW"`` or ``"DY"``.
    cols : dict of arrays, shape (N,)
        Raw columns (same keys as :func:`sample`; the latents are not used).
    lep2 : bool
        Whether the third-lepton columns are used; if not, the lepton category is summed over.

    Returns
    -------
    logp : array (N,)
        ``log p(x | proc)`` with respect to the raw column values of the feature columns (the
        generator-truth columns ``higgs_*`` are not features and are not used).
    h_mean, h_var : arrays (N,)
        Mean and variance of ``log(pT_H / GeV)`` given the event under the ttH hypothesis (only
        meaningful for ``proc == "ttH"``; zeros otherwise).
    """
    p = PARAMS[proc]
    slopes = np.asarray(p.h_slopes)
    n_ev = len(cols["pt0"])
    f0, f1 = _flavour(cols["m0"]), _flavour(cols["m1"])
    pt0, pt1, eta0, eta1 = cols["pt0"], cols["pt1"], cols["eta0"], cols["eta1"]

    # factors that do not depend on the hidden latents
    fixed = np.log(np.asarray(p.flav01))[f0 * 2 + f1]
    lp_eta0, w0 = _atanh_eta_logpdf(eta0, f0, 0.0, p.eta[0])
    lp_eta1, _ = _atanh_eta_logpdf(eta1, f1, p.eta[1] * w0, p.eta[0])
    dphi1 = d.wrap(cols["phi1"] - cols["phi0"])
    fixed = fixed + lp_eta0 - d.LOG_2PI + lp_eta1 + d.vonmises_logpdf(dphi1, *p.dphi1)
    fixed = fixed - np.log(pt0 - LEP_THR[0]) - np.log(cols["met"])  # Jacobians of the h-factors
    dphi_met = d.wrap(cols["met_phi"] - cols["phi0"] - np.pi)
    fixed = fixed + d.vonmises_logpdf(dphi_met, 0.0, p.met_kappa)
    dphi_a5 = d.wrap(cols["a5_phi"] - cols["phi0"] - np.pi)
    fixed = fixed + d.vonmises_logpdf(dphi_a5, 0.0, p.all5[3]) - np.log(cols["a5_pt"])
    fixed = fixed + d.normal_logpdf(cols["a5_eta"], 0.3 * eta0, 1.1)

    # h-dependent factors present in every event (residuals r, slopes b, widths s)
    r = [np.log(pt0 - LEP_THR[0]) - p.pt0[0], None, np.log(cols["met"]) - _met_mean(p, pt0)]
    b = [slopes[0], slopes[1], slopes[2]]
    s = [p.pt0[1], p.pt1[1], p.met[1]]
    # subleading-lepton pT: logit law (h-dependent) mixed, for Drell-Yan, with the Z peak
    span = pt0 - LEP_THR[1]
    frac = np.clip((pt1 - LEP_THR[1]) / span, 1e-12, 1 - 1e-12)
    r[1] = special.logit(frac) - p.pt1[0]
    fixed = fixed - np.log(frac * (1 - frac) * span)
    kin = np.cosh(eta0 - eta1) - np.cos(dphi1)
    w_z = _zpeak_weight(p, f0, f1, pt0, kin)
    if np.any(w_z > 0):
        mll = np.sqrt(2.0 * pt0 * pt1 * kin)
        # density of pt1 from the Z peak relative to the logit-law density of pt1
        log_z = d.normal_logpdf(mll, Z_MASS, Z_WIDTH) + np.log(mll / (2.0 * pt1))
        log_l = d.normal_logpdf(r[1], 0.0, s[1]) - np.log(frac * (1 - frac) * span)
        # the Z component is the peak truncated to the allowed range, weighted by zpeak times the
        # range's probability: its density is zpeak * N(mll) * |dmll/dpt1|
        z_coef = np.where(f0 == f1, p.zpeak, 0.0)
        with np.errstate(divide="ignore"):
            mix = np.logaddexp(np.log(z_coef) + log_z, np.log1p(-w_z) + log_l)
        # replace the pt1 factor (h-independent for Drell-Yan) by the mixture
        fixed = fixed + mix + np.log(frac * (1 - frac) * span)
        r[1], b[1], s[1] = np.zeros(n_ev), 0.0, 1.0
        fixed = fixed - d.normal_logpdf(0.0, 0.0, 1.0)

    # the hidden latents: category (if lep2 is not used), n_jets, top_ok
    has5 = cols["m5_pt"] > MISSING + 1
    has_ht = cols["score"] > 0
    n_vals = np.arange(N_JETS_MIN, N_JETS_MAX + 1)[None, :]  # (1, K)
    # mixture weights over (category, n_jets, top_ok): shape (N, K, 2) per category
    cats = (0, 1)
    if lep2:
        three = (cols["pt2"] > MISSING + 1).astype(int)
        cat_weight = {c: np.where(three == c, 0.0, -np.inf) for c in cats}
    else:
        cat_weight = {c: np.zeros(n_ev) for c in cats}
    total = np.full(n_ev, -np.inf)
    h_terms = []
    for c in cats:
        log_pc = np.log(p.p3l) if c == 1 else np.log1p(-p.p3l)
        lp_cat = cat_weight[c] + log_pc
        if c == 1 and lep2:
            lp_cat = lp_cat + _lep2_logpdf(p, cols)
        with np.errstate(divide="ignore"):
            lp_n = d.truncated_poisson_logpmf(n_vals - N_JETS_MIN, np.array(p.lam[c]), 11)
            lp_n = np.where((n_vals > 5) == has5[:, None], lp_n, -np.inf)  # (N, K)
            pt_top = p.ptop[c]
            lp_t = np.log(np.array([1.0 - pt_top, pt_top]))[None, None, :]  # (1, 1, 2)
        log_a5 = np.log(cols["a5_pt"])[:, None]
        lp_a5m = _log_normal_logpdf(cols["a5_m"][:, None], _all5_mass_mean(p, n_vals, log_a5), 0.28)
        r_a5 = log_a5 - _all5_pt_mean(p, n_vals, pt0[:, None])
        lp_nk = lp_n + lp_a5m  # (N, K)
        # More5: all four columns present iff n_jets > 5
        log_m5 = np.log(np.where(has5, cols["m5_pt"], 1.0))[:, None]
        r_m5 = np.where(has5[:, None], log_m5 - _more5_pt_mean(p, n_vals), 0.0)
        m5_rest = (
            d.normal_logpdf(cols["m5_eta"], 0.0, 1.4)
            + d.vonmises_logpdf(d.wrap(cols["m5_phi"] - cols["a5_phi"]), 0.0, 0.3)
            - np.log(np.where(has5, cols["m5_pt"], 1.0))
        )[:, None] + _log_normal_logpdf(
            np.where(has5, cols["m5_m"], 1.0)[:, None], _more5_mass_mean(n_vals, log_m5), 0.40
        )
        lp_nk = lp_nk + np.where(has5[:, None], m5_rest, 0.0)
        # top score and candidate, for top_ok = 0, 1: shape (N, 1, 2)
        tk = np.array([0, 1])[None, None, :]
        mu_s, sd_s = _score_law(tk)
        score = np.clip(cols["score"], -1 + 1e-12, 1 - 1e-12)[:, None, None]
        lp_tt = lp_t + d.normal_logpdf(np.arctanh(score), mu_s, sd_s) - np.log1p(-(score**2))
        safe = np.where(has_ht, 1.0, 0.0)[:, None, None]
        ht_pt = np.where(has_ht, cols["ht_pt"], 1.0)[:, None, None]
        mu_m, sd_m = _hadtop_mass_law(tk)
        ht_rest = (
            d.normal_logpdf(cols["ht_eta"], 0.5 * cols["a5_eta"], 1.0)[:, None, None]
            + d.vonmises_logpdf(
                d.wrap(cols["ht_phi"] - cols["a5_phi"])[:, None, None],
                0.0,
                np.where(tk == 1, 1.8, 0.7),
            )
            - np.log(ht_pt)
            + _log_normal_logpdf(np.where(has_ht, cols["ht_m"], 1.0)[:, None, None], mu_m, sd_m)
        )
        lp_tt = lp_tt + safe * ht_rest
        r_ht = np.where(
            has_ht[:, None, None], np.log(ht_pt) - _hadtop_pt_mean(log_a5[:, :, None]), 0.0
        )
        # integrate h out for every (n_jets, top_ok)
        rr = [r[0][:, None, None], r[1][:, None, None], r[2][:, None, None]]
        rr += [r_a5[:, :, None], r_m5[:, :, None], r_ht]
        bb = [b[0], b[1], b[2], slopes[3], slopes[4] * has5[:, None, None], slopes[5] * safe]
        ss = [s[0], s[1], s[2], p.all5[2], 0.55, 0.45]
        log_int, h_mu, h_var = d.gaussian_latent_integral(rr, bb, ss, H_SD)
        # absent factors contributed N(0; 0, s) to log_int: remove them
        log_int = log_int - np.where(has5, 0.0, d.normal_logpdf(0.0, 0.0, 0.55))[:, None, None]
        log_int = log_int - np.where(has_ht, 0.0, d.normal_logpdf(0.0, 0.0, 0.45))[:, None, None]
        joint = lp_cat[:, None, None] + lp_nk[:, :, None] + lp_tt + log_int  # (N, K, 2)
        h_terms.append((joint, h_mu, h_var))
        total = np.logaddexp(total, special.logsumexp(joint.reshape(n_ev, -1), axis=1))
    logp = fixed + total
    # posterior of h: mixture over (category, n_jets, top_ok)
    h_mean = np.zeros(n_ev)
    h_sq = np.zeros(n_ev)
    for joint, h_mu, h_var in h_terms:
        with np.errstate(invalid="ignore"):
            w = np.exp(joint - total[:, None, None])
        w = np.nan_to_num(w)
        h_mean = h_mean + (w * h_mu).reshape(n_ev, -1).sum(axis=1)
        h_sq = h_sq + (w * (h_var + h_mu**2)).reshape(n_ev, -1).sum(axis=1)
    h_var_tot = np.maximum(h_sq - h_mean**2, 0.0)
    return logp, H_MEAN + h_mean, h_var_tot


def _lep2_logpdf(p: Process, cols: dict[str, np.ndarray]) -> np.ndarray:
    """Log-density of the third lepton's four columns (3l events; garbage elsewhere)."""
    three = cols["pt2"] > MISSING + 1
    f2 = _flavour(np.where(three, cols["m2"], E_MASS))
    eta2 = np.where(three, cols["eta2"], 0.0)
    pt2 = np.where(three, cols["pt2"], 0.5 * (LEP_THR[2] + cols["pt1"]))
    lp_f = np.where(f2 == 0, np.log(p.pe2), np.log1p(-p.pe2))
    lp_eta, _ = _atanh_eta_logpdf(eta2, f2, 0.0, p.eta[0])
    lp_phi = d.vonmises_logpdf(d.wrap(cols["phi2"] - cols["phi0"]), 0.0, p.lep2[0])
    lp_pt = _logit_frac_logpdf(pt2, LEP_THR[2], cols["pt1"], p.lep2[1], p.lep2[2])
    return lp_f + lp_eta + lp_phi + lp_pt
