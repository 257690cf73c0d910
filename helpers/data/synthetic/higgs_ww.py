"""Synthetic twin of ``higgs-ww-vs-ttbar``: ``WW_vs_TT_dataset.h5``.

One HDF5 file with two datasets, ``Signal`` (gluon-fusion H->WW->lvlv) and ``Background``
(dileptonic ttbar -> b l nu b l nu), each an N-row compound array with the 26 fields of the real
file in order (float64, ``Njets`` int64), so ``pd.DataFrame(h5py.File(p)["Signal"][:])`` gives
named columns. Units: GeV and radians.

Columns: the four-momenta ``{lepton0,lepton1,jet0,jet1}_{px,py,pz,energy}`` (leptons ordered by
pT, jets too; a missing jet is all zeros); ``Njets`` (jets with pT > 20 GeV, |eta| < 2.5, all
of them, not only the two stored); ``HT_all`` (scalar sum of the pT of the two leptons and of all
jets); ``MissingEnergy`` (missing transverse energy); ``{lepton,jet}{0,1}_mass`` (lepton masses
are the electron's or the muon's; jet masses from the jet shower); ``combined_leptons_mass``
(invariant mass of the two leptons); ``angle_between_jets`` and ``angle_between_leptons``
(opening angles in 3D, 0 when there are fewer than two jets). Energies are computed from the
momenta and masses, the derived columns from the base ones.

Physics: the signal is the gluon-fusion H->WW->lvlv process of the ATLAS open-data twin
(:mod:`.atlas_hww`, calibrated on real ATLAS simulation): leptons close in angle from the
spin-0 decay, low dilepton mass, mostly 0 or 1 jet. The ttbar background has two b-jets (more
jets, heavier, higher HT), harder leptons, a broad dilepton mass and angle. The two classes
overlap on ``lepton0_energy`` alone (the tutorial's first lesson) and separate well on the full
event. Both classes are the same size (balanced, as the tutorial's accuracy and 0.5 threshold
assume). :func:`likelihood_ratio` is the exact density ratio of the generator.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from helpers.data.synthetic import _kinematics as kin
from helpers.data.synthetic import atlas_hww

#: Default number of events, half signal and half background.
DEFAULT_EVENTS = 40_000
#: File written by the twin.
FILES = ("WW_vs_TT_dataset.h5",)
#: Datasets of the file, signal first.
DATASETS = ("Signal", "Background")
#: The 26 fields in file order, with their dtypes.
FIELDS: dict[str, str] = {
    **{f"{o}_{c}": "<f8" for o in ("lepton0", "lepton1", "jet0", "jet1") for c in
       ("px", "py", "pz", "energy")},
    "Njets": "<i8",
    "HT_all": "<f8",
    "MissingEnergy": "<f8",
    "lepton0_mass": "<f8",
    "lepton1_mass": "<f8",
    "jet0_mass": "<f8",
    "jet1_mass": "<f8",
    "combined_leptons_mass": "<f8",
    "angle_between_jets": "<f8",
    "angle_between_leptons": "<f8",
}  # fmt: skip
SELECTION = atlas_hww.SELECTION
ELECTRON, MUON = 11, 13
LEPTON_MASS = atlas_hww.LEPTON_MASS

_GGF = atlas_hww.MODEL["processes"]["ggf"]
# No missing-ET azimuth is stored, so the missing-ET law must not depend on it (gamma = 0).
_SIGNAL_KIN = {**_GGF["kin"], "met": [[*row[:4], 0.0] for row in _GGF["kin"]["met"]]}

#: The two processes. Signal: the ggF H->WW model fitted on ATLAS simulation. Background:
#: dileptonic ttbar set by hand (harder leptons and jets, b-jet masses, broad angles).
MODEL: dict = {
    "Signal": {
        "flavour": _GGF["flavour"],
        "jet_n": _GGF["jet_n"],
        "extra_ht": [1.0, 3.0],  # Beta law of the extra jets' pT between threshold and jet 1
        "kin": _SIGNAL_KIN,
    },
    "Background": {
        "flavour": _GGF["flavour"],  # lepton universality: flavours carry no information
        "jet_n": {"head": [0.03, 0.14, 0.40, 0.26, 0.11], "ratio": 0.40},
        "extra_ht": [1.2, 2.5],
        "kin": {
            "pt0": [[1.6, 4.0, 42.0]] * 3,
            "eta": [1.15, 0.35, 1.15],
            "dphi": [[0.5, -0.35]] * 3,
            "mll": [[2.2, 3.0, 60.0, 0.5, 0.5]] * 3,
            "zpeak": [0.0, 91.19, 3.0],
            "met": [[2.2, 4.0, 70.0, 0.25, 0.0]] * 3,
            "dphi_met": [[0.3, -0.3]] * 3,
            "jpt0": [[1.4, 4.0, 40.0], [1.6, 5.0, 55.0]],
            "jeta0": [1.3],
            "jdphi0": [[0.4, -0.4]] * 2,
            "jpt1": [1.3, 1.6],
            "jeta1": [0.1, 1.4],
            "jdphi1": [0.4, -0.3],
            "jm": [-1.75, 0.5],  # b-jets are heavier than the light and gluon jets of ggF
        },
    },
}
FLAVOURS = atlas_hww.FLAVOURS


def _opening_angle(a: tuple, b: tuple) -> np.ndarray:
    """3D angle (rad) between momenta ``a = (px, py, pz)`` and ``b``; 0 if one is null."""
    dot = a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
    norm = np.sqrt((a[0] ** 2 + a[1] ** 2 + a[2] ** 2) * (b[0] ** 2 + b[1] ** 2 + b[2] ** 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(norm > 0, np.arccos(np.clip(dot / norm, -1.0, 1.0)), 0.0)


def _sample_class(rng: np.random.Generator, proc: dict, n: int) -> pd.DataFrame:
    """The 26 columns of ``n`` events of one class."""
    t0, t1 = np.array(FLAVOURS)[rng.choice(4, n, p=atlas_hww.normalised(proc["flavour"]))].T
    jet_n = kin.pmf_with_tail_sample(rng, proc["jet_n"]["head"], proc["jet_n"]["ratio"], n)
    lat = kin.sample_event(
        rng,
        proc["kin"],
        jet_n=jet_n,
        acc0=atlas_hww.lepton_acceptance(t0),
        acc1=atlas_hww.lepton_acceptance(t1),
        same_flavour=t0 == t1,
        sel=SELECTION,
    )
    m0 = np.where(t0 == ELECTRON, LEPTON_MASS[ELECTRON], LEPTON_MASS[MUON])
    m1 = np.where(t1 == ELECTRON, LEPTON_MASS[ELECTRON], LEPTON_MASS[MUON])
    lep0 = kin.ptetaphim_to_pxpypze(lat["pt0"], lat["eta0"], lat["phi0"], m0)
    lep1 = kin.ptetaphim_to_pxpypze(lat["pt1"], lat["eta1"], lat["phi1"], m1)
    jphi0 = kin.wrap_angle(lat["phill"] + lat["jdphi0"])
    jphi1 = kin.wrap_angle(jphi0 + lat["jdphi1"])
    has0, has1 = jet_n >= 1, jet_n >= 2
    jets = []
    for has, i, phi in ((has0, 0, jphi0), (has1, 1, jphi1)):
        pt, eta, m = (np.where(has, lat[f"j{v}{i}"], 0.0) for v in ("pt", "eta", "m"))
        phi = np.where(has, phi, 0.0)
        jets.append((kin.ptetaphim_to_pxpypze(pt, eta, phi, m), m, pt))
    a, b = proc["extra_ht"]
    n_extra = np.maximum(jet_n - 2, 0)
    per_jet = SELECTION.jet_thr + (jets[1][2] - SELECTION.jet_thr) * rng.beta(a, b, n)
    extra = np.where(n_extra > 0, n_extra * per_jet, 0.0)
    cols: dict[str, np.ndarray] = {}
    objects = {"lepton0": lep0, "lepton1": lep1, "jet0": jets[0][0], "jet1": jets[1][0]}
    for name, p4 in objects.items():
        for c, v in zip(("px", "py", "pz", "energy"), p4, strict=True):
            cols[f"{name}_{c}"] = v
    cols["Njets"] = jet_n
    cols["HT_all"] = lat["pt0"] + lat["pt1"] + jets[0][2] + jets[1][2] + extra
    cols["MissingEnergy"] = lat["met"]
    cols["lepton0_mass"], cols["lepton1_mass"] = m0, m1
    cols["jet0_mass"], cols["jet1_mass"] = jets[0][1], jets[1][1]
    ll = [cols[f"lepton0_{c}"] + cols[f"lepton1_{c}"] for c in ("px", "py", "pz", "energy")]
    cols["combined_leptons_mass"] = np.sqrt(
        np.maximum(ll[3] ** 2 - ll[0] ** 2 - ll[1] ** 2 - ll[2] ** 2, 0.0)
    )
    cols["angle_between_jets"] = _opening_angle(jets[0][0][:3], jets[1][0][:3])
    cols["angle_between_leptons"] = _opening_angle(lep0[:3], lep1[:3])
    return pd.DataFrame({k: np.asarray(cols[k]).astype(dt) for k, dt in FIELDS.items()})


def generate(events: int = DEFAULT_EVENTS, seed: int = 0) -> dict[str, pd.DataFrame]:
    """Generate the twin in memory.

    Parameters
    ----------
    events : int
        Number of events, split evenly (signal gets the odd one).
    seed : int
        Seed of ``numpy.random.default_rng``; the same seed gives the same events.

    Returns
    -------
    dict
        ``{"WW_vs_TT_dataset.h5": frame}``: the 26 columns, the rows of both datasets with a
        two-level index (dataset, row), so ``frame.loc["Signal"]`` is the ``Signal`` dataset.
    """
    rng = np.random.default_rng(seed)
    n_sig = (int(events) + 1) // 2
    frames = {
        "Signal": _sample_class(rng, MODEL["Signal"], n_sig),
        "Background": _sample_class(rng, MODEL["Background"], int(events) - n_sig),
    }
    return {FILES[0]: pd.concat(frames, names=["dataset", "row"])}


def write(
    out_dir: Path, *, events: int = DEFAULT_EVENTS, seed: int = 0, progress: bool = False
) -> dict[str, Path]:
    """Write ``WW_vs_TT_dataset.h5`` (datasets ``Signal`` and ``Background``); name -> path.

    The datasets hold the events of :func:`generate` with the same arguments as compound arrays,
    written in slices of 200,000 rows (a tqdm bar over the slices when ``progress``).
    """
    import h5py
    from tqdm.auto import tqdm

    frame = generate(events, seed)[FILES[0]]
    level = frame.index.get_level_values("dataset")
    parts = {key: frame[level == key] for key in DATASETS}
    dtype = np.dtype(list(FIELDS.items()))
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    path = Path(out_dir) / FILES[0]
    step = 200_000
    jobs = [(key, start) for key in DATASETS for start in range(0, len(parts[key]), step)]
    bar = tqdm(jobs, desc=FILES[0], unit="slice", disable=not progress or len(jobs) <= 2)
    with h5py.File(path, "w") as f:
        for key in DATASETS:
            f.create_dataset(key, shape=(len(parts[key]),), dtype=dtype)
        for key, start in bar:
            part = parts[key].iloc[start : start + step]
            rec = np.empty(len(part), dtype=dtype)
            for name in FIELDS:
                rec[name] = part[name].to_numpy()
            f[key][start : start + len(part)] = rec
    return {FILES[0]: path}


# --------------------------------------------------------------------------------------------
# Likelihood ratio
# --------------------------------------------------------------------------------------------


def latents(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """Recompute the generator's latents from the 26 columns (GeV, radians).

    Returns the continuous latents of :mod:`._kinematics` (jet entries NaN where absent), the
    lepton types ``type0``/``type1`` (from the mass columns), ``jet_n``, and ``extra_u``, the
    Beta-distributed position of the extra jets' mean pT (NaN when ``Njets <= 2``).
    """
    col = {k: frame[k].to_numpy() for k in FIELDS}
    pt0, eta0, phi0 = kin.pxpypz_to_ptetaphi(
        col["lepton0_px"], col["lepton0_py"], col["lepton0_pz"]
    )
    pt1, eta1, phi1 = kin.pxpypz_to_ptetaphi(
        col["lepton1_px"], col["lepton1_py"], col["lepton1_pz"]
    )
    dphi = kin.wrap_angle(phi1 - phi0)
    ptll, phill = kin.dilepton(pt0, pt1, phi0, phi1)
    jet_n = col["Njets"].astype(np.int64)
    jpt, jeta, jphi = [], [], []
    for i in (0, 1):
        pt, eta, phi = kin.pxpypz_to_ptetaphi(
            col[f"jet{i}_px"], col[f"jet{i}_py"], col[f"jet{i}_pz"]
        )
        has = jet_n > i
        jpt.append(np.where(has, pt, np.nan))
        jeta.append(np.where(has, eta, np.nan))
        jphi.append(np.where(has, phi, np.nan))
    n_extra = np.maximum(jet_n - 2, 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        visible = pt0 + pt1 + np.nan_to_num(jpt[0]) + np.nan_to_num(jpt[1])
        per_jet = (col["HT_all"] - visible) / n_extra
        extra_u = np.where(
            n_extra > 0, (per_jet - SELECTION.jet_thr) / (jpt[1] - SELECTION.jet_thr), np.nan
        )
    electron = np.abs(col["lepton0_mass"] - LEPTON_MASS[ELECTRON]) < 0.01
    electron1 = np.abs(col["lepton1_mass"] - LEPTON_MASS[ELECTRON]) < 0.01
    return {
        "pt0": pt0,
        "pt1": pt1,
        "eta0": eta0,
        "eta1": eta1,
        "phi0": phi0,
        "dphi": dphi,
        "mll": np.sqrt(2 * pt0 * pt1 * (np.cosh(eta0 - eta1) - np.cos(dphi))),
        "ptll": ptll,
        "phill": phill,
        "met": col["MissingEnergy"].astype(float),
        "dphi_met": np.zeros(len(pt0)),  # not stored; the missing-ET law does not use it
        "jpt0": jpt[0],
        "jeta0": jeta[0],
        "jdphi0": kin.wrap_angle(jphi[0] - phill),
        "jm0": np.where(jet_n >= 1, col["jet0_mass"], np.nan),
        "jpt1": jpt[1],
        "jeta1": jeta[1],
        "jdphi1": kin.wrap_angle(jphi[1] - jphi[0]),
        "jm1": np.where(jet_n >= 2, col["jet1_mass"], np.nan),
        "jet_n": jet_n,
        "type0": np.where(electron, ELECTRON, MUON),
        "type1": np.where(electron1, ELECTRON, MUON),
        "extra_u": extra_u,
    }


def _class_logpdf(lat: dict[str, np.ndarray], proc: dict) -> np.ndarray:
    """Log density of the 26 columns' latents under one class."""
    factors = [k for k in kin.FACTORS if k != "dphi_met"]
    lp = kin.event_logpdf(
        lat,
        proc["kin"],
        jet_n=lat["jet_n"],
        acc0=atlas_hww.lepton_acceptance(lat["type0"]),
        acc1=atlas_hww.lepton_acceptance(lat["type1"]),
        same_flavour=lat["type0"] == lat["type1"],
        sel=SELECTION,
        only=factors,
    )
    flavour = atlas_hww.pair_index(FLAVOURS, lat["type0"], lat["type1"])
    a, b = proc["extra_ht"]
    n_extra = np.maximum(lat["jet_n"] - 2, 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        lp = lp + np.log(atlas_hww.normalised(proc["flavour"])[flavour])
        lp = lp + np.log(
            kin.pmf_with_tail(proc["jet_n"]["head"], proc["jet_n"]["ratio"], lat["jet_n"])
        )
        # HT_all's extra part: n_extra * (thr + (jpt1 - thr) * u), u ~ Beta(a, b)
        span = n_extra * (lat["jpt1"] - SELECTION.jet_thr)
        extra = kin.beta_logpdf(lat["extra_u"], a, b) - np.log(span)
        lp = lp + np.where(n_extra > 0, extra, 0.0)
    return lp


def likelihood_ratio(frame: pd.DataFrame, *, log: bool = False) -> np.ndarray:
    """True likelihood ratio p(x | signal) / p(x | background) of each row of a twin frame.

    Parameters
    ----------
    frame : pandas.DataFrame, shape (n, 26)
        Rows of ``Signal`` or ``Background`` (or both) with the 26 columns.
    log : bool
        Return the natural log of the ratio instead.

    Returns
    -------
    ndarray, shape (n,)
        The exact density ratio of the generator (the Neyman-Pearson optimal discriminant).
    """
    lat = latents(frame)
    with np.errstate(invalid="ignore", over="ignore"):
        llr = _class_logpdf(lat, MODEL["Signal"]) - _class_logpdf(lat, MODEL["Background"])
        return llr if log else np.exp(llr)
