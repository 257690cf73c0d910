"""Closed-form densities and four-vector helpers shared by the H->WW twins.

The ``higgs-ww-vs-ttbar`` and ``atlas-hww`` twins draw every event from a chain of conditional
distributions whose densities are known in closed form, so the true likelihood ratio of any event
can be recomputed from its columns. This module is their import point; the code lives in:

:mod:`._distributions`
    The families used in the chain (each with a ``*_sample`` and a vectorised ``*_logpdf``) and
    the four-vector helpers.
:mod:`._event_model`
    The two-lepton + missing-energy + two-jet event model built from them (:func:`sample_event`,
    :func:`event_logpdf`; the latent variables in its module docstring, the parameter layout
    :data:`PARAM_SHAPES`).
:mod:`._event_fit`
    The model's maximum-likelihood calibration (:func:`fit_event_model`).

Units: GeV and radians throughout.
"""

from __future__ import annotations

from helpers.data.synthetic._distributions import (
    LOG_2PI,
    TWO_PI,
    beta_logpdf,
    burr_logpdf,
    burr_sample,
    circ_logpdf,
    circ_sample,
    dilepton,
    lognormal_ratio_logpdf,
    pmf_with_tail,
    pmf_with_tail_sample,
    ptetaphim_to_pxpypze,
    pxpypz_to_ptetaphi,
    round_significant,
    trunc_burr_logpdf,
    trunc_burr_sample,
    trunc_normal_logpdf,
    trunc_normal_sample,
    wrap_angle,
)
from helpers.data.synthetic._event_fit import fit_event_model
from helpers.data.synthetic._event_model import (
    FACTORS,
    PARAM_SHAPES,
    Selection,
    event_logpdf,
    mll_bounds,
    sample_event,
)

__all__ = [
    "FACTORS",
    "LOG_2PI",
    "PARAM_SHAPES",
    "TWO_PI",
    "Selection",
    "beta_logpdf",
    "burr_logpdf",
    "burr_sample",
    "circ_logpdf",
    "circ_sample",
    "dilepton",
    "event_logpdf",
    "fit_event_model",
    "lognormal_ratio_logpdf",
    "mll_bounds",
    "pmf_with_tail",
    "pmf_with_tail_sample",
    "ptetaphim_to_pxpypze",
    "pxpypz_to_ptetaphi",
    "round_significant",
    "sample_event",
    "trunc_burr_logpdf",
    "trunc_burr_sample",
    "trunc_normal_logpdf",
    "trunc_normal_sample",
    "wrap_angle",
]
