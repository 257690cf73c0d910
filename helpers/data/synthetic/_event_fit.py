"""Maximum-likelihood calibration of the event model of the H->WW twins.

:func:`fit_event_model` fits the parameters of one process of :mod:`._event_model` to its
latents (e.g. those of real events), factor by factor and bin by bin, in unconstrained
coordinates (logs, logits, artanh). Units: GeV and radians throughout.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from scipy import optimize, special

from helpers.data.synthetic._event_model import PARAM_SHAPES, Selection, event_logpdf

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
