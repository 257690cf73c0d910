"""Synthetic twin of ``atlas-hww``: the ATLAS Open Data H->WW ntuple ``dataWW_d1.root``.

One ROOT file, ``dataWW_d1.root``, TTree ``tree_event``, with the 30 branches of the real file in
its order and types (int64 and double). Energies (``lep_E_*``, ``jet_E_*``) are in MeV, transverse
momenta and missing ET in GeV; a missing jet has every ``jet_*`` field set to -7; doubles carry
5 significant digits, as in the real file. Two thirds of the events are signal (label 1):
VBF H->WW->lvlv (channel 345323) and ggF H->WW->lvlv (345324); one third is the Sherpa
diboson ``llvv`` background (363492, label 0), with its negative and multi-valued ``mcWeight``.

Each process is a chain of closed-form conditional distributions (the event model of
:mod:`helpers.data.synthetic._kinematics`: leptons, dilepton mass, missing ET, up to two jets) and
discrete factors (``lep_n``, lepton flavours, charges, ``jet_n``), calibrated by maximum
likelihood on the real 10,000-event slice (:func:`calibrate`; the fitted numbers are
:data:`MODEL`). :func:`likelihood_ratio` recomputes the latents from the kinematic columns and
returns the exact signal/background density ratio, the signal density being the VBF + ggF mixture.
``mcWeight`` depends only on the process and, for the background, on ``jet_n`` (Sherpa's weights
grow with the jet multiplicity); it is not an input of the likelihood ratio.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy import special

from helpers.data.synthetic import _kinematics as kin

#: Default number of events (the real file has 600,000).
DEFAULT_EVENTS = 60_000
#: File written by the twin.
FILES = ("dataWW_d1.root",)
#: TTree name of the real file.
TREE = "tree_event"
#: Run number of every event (the mc16a campaign).
RUN_NUMBER = 284500
#: Branches in the real file's order, with their dtypes.
BRANCHES: dict[str, str] = {
    "index": "int64",
    "eventNumber": "int64",
    "label": "int64",
    "met_et": "float64",
    "met_phi": "float64",
    "lep_n": "int64",
    "lep_pt_0": "float64",
    "lep_pt_1": "float64",
    "lep_eta_0": "float64",
    "lep_eta_1": "float64",
    "lep_phi_0": "float64",
    "lep_phi_1": "float64",
    "lep_E_0": "float64",
    "lep_E_1": "float64",
    "lep_charge_0": "int64",
    "lep_charge_1": "int64",
    "lep_type_0": "int64",
    "lep_type_1": "int64",
    "jet_n": "int64",
    "jet_pt_0": "float64",
    "jet_pt_1": "float64",
    "jet_eta_0": "float64",
    "jet_eta_1": "float64",
    "jet_phi_0": "float64",
    "jet_phi_1": "float64",
    "jet_E_0": "float64",
    "jet_E_1": "float64",
    "mcWeight": "float64",
    "runNumber": "int64",
    "channelNumber": "int64",
}
#: Fill value of every ``jet_*`` field of a missing jet.
MISSING = -7.0
#: Object selection: leptons pT > 25 / 7 GeV and separated by dR > 0.2, jets pT > 20 GeV and
#: |eta| < 2.5.
SELECTION = kin.Selection(lep_thr=(25.0, 7.0), jet_thr=20.0, jet_eta_max=2.5, lep_dr_min=0.2)
#: Pseudorapidity acceptance by lepton type: electrons |eta| < 2.47 outside the 1.37-1.52
#: barrel-endcap crack, muons |eta| < 2.7 (padded to three intervals).
ACCEPTANCE = {
    11: np.array([[-2.47, -1.52], [-1.37, 1.37], [1.52, 2.47]]),
    13: np.array([[-2.7, 2.7], [2.7, 2.7], [2.7, 2.7]]),
}
LEPTON_MASS = {11: 0.000511, 13: 0.10566}  # GeV
#: Lepton-type pairs (type_0, type_1) and charge pairs (charge_0, charge_1), in pmf order.
FLAVOURS = ((11, 11), (11, 13), (13, 11), (13, 13))
CHARGES = ((-1, -1), (-1, 1), (1, -1), (1, 1))
SIGNAL_FRACTION = 2.0 / 3.0  # 400k signal / 200k background in the real file
#: Largest eventNumber per channel in the real sample (for plausible event numbers).
EVENT_NUMBER_RANGE = {345323: 1_200_000, 345324: 2_000_000, 363492: 1_540_000}
BACKGROUND_WEIGHTS = (0.001966, -0.001966, 0.0001966)  # the discrete Sherpa weights

# Fitted on dataWW_d1_last10k.root by calibrate(); see docs/twins_higgs_atlas.md.
MODEL: dict = {
    "processes": {
        "vbf": {
            "channel": 345323,
            "label": 1,
            "share": 0.5077,
            "lep_n3": 0.008316,
            "flavour": [0.2456, 0.3098, 0.2685, 0.1761],
            "charge": [0.005643, 0.4883, 0.5028, 0.003267],
            "jet_n": {"head": [0.1993, 0.436, 0.2376, 0.08643, 0.0297], "ratio": 0.26},
            "weight": {"values": [2.0068e-06, -2.0068e-06], "category": [[0.9994, 0.000594]]},
            "kin": {
                "pt0": [[1.332, 5.67, 25.18], [1.318, 5.762, 30.62], [1.268, 7.661, 34.41]],
                "eta": [1.363, 0.9095, 0.7602],
                "dphi": [[1.0, 0.4101], [1.0, 0.4716], [1.0, 0.4864]],
                "mll": [
                    [3.167, 8103.0, 37.67, 0.2081, 0.2384],
                    [3.172, 8103.0, 39.14, 0.253, 0.24],
                    [2.978, 8103.0, 47.58, 0.04176, 0.0792],
                ],
                "zpeak": [0.0, 91.19, 3.0],
                "met": [
                    [2.207, 11.39, 66.17, -0.1966, 0.288],
                    [2.007, 5.868, 66.95, -0.1926, 0.3753],
                    [1.962, 5.896, 69.38, -0.1594, 0.4301],
                ],
                "dphi_met": [[0.4442, -0.5014], [1.0, -0.01195], [1.0, 0.1462]],
                "jpt0": [[0.9721, 8103.0, 57.73], [1.489, 5.201, 80.52]],
                "jeta0": [8103.0],
                "jdphi0": [[1.0, -0.5025], [1.0, -0.5504]],
                "jpt1": [0.7073, 1.211],
                "jeta1": [-1.0, 8103.0],
                "jdphi1": [0.09661, 0.3426],
                "jm": [-1.976, 0.6593],
            },
        },
        "ggf": {
            "channel": 345324,
            "label": 1,
            "share": 0.4923,
            "lep_n3": 0.005513,
            "flavour": [0.2518, 0.2995, 0.264, 0.1847],
            "charge": [0.002757, 0.5112, 0.4833, 0.002757],
            "jet_n": {"head": [0.3859, 0.3366, 0.1755, 0.06738, 0.02205], "ratio": 0.3387},
            "weight": {"values": [2.9122e-05, -2.9122e-05], "category": [[0.9982, 0.001838]]},
            "kin": {
                "pt0": [[1.589, 5.558, 14.22], [1.435, 4.854, 19.78], [1.334, 3.424, 26.89]],
                "eta": [1.437, 0.8923, 0.8274],
                "dphi": [[1.0, 0.1713], [1.0, 0.3239], [1.0, 0.4134]],
                "mll": [
                    [4.362, 4.431, 29.76, 0.3594, 0.4316],
                    [3.445, 25.65, 35.23, 0.3068, 0.3008],
                    [3.411, 8103.0, 37.17, 0.3252, 0.2228],
                ],
                "zpeak": [0.0, 91.19, 3.0],
                "met": [
                    [4.518, 1.512, 35.94, 0.547, -0.1527],
                    [2.235, 7.946, 54.01, 0.03716, 0.1297],
                    [1.931, 8.978, 64.04, -0.03351, 0.341],
                ],
                "dphi_met": [[1.0, -0.8449], [1.0, -0.4257], [0.25, -0.2169]],
                "jpt0": [[0.8741, 3.801, 18.79], [1.153, 4.728, 51.97]],
                "jeta0": [2.65],
                "jdphi0": [[1.0, -0.4447], [1.0, -0.5179]],
                "jpt1": [0.7859, 1.224],
                "jeta1": [0.5626, 2.652],
                "jdphi1": [0.223, 0.3971],
                "jm": [-1.976, 0.6593],
            },
        },
        "diboson": {
            "channel": 363492,
            "label": 0,
            "share": 1.0,
            "lep_n3": 0.006532,
            "flavour": [0.2824, 0.2666, 0.2536, 0.1974],
            "charge": [0.006235, 0.5457, 0.4365, 0.01158],
            "jet_n": {"head": [0.2476, 0.2978, 0.2357, 0.122, 0.05523], "ratio": 0.3458},
            "weight": {
                "values": [0.001966, -0.001966, 0.0001966],
                "category": [
                    [0.6717, 0.119, 0.04007, 0.1693],
                    [0.3607, 0.1308, 0.09403, 0.4144],
                    [0.125, 0.04585, 0.2041, 0.625],
                    [0.03511, 0.023, 0.2506, 0.6913],
                    [0.01677, 0.004573, 0.3704, 0.6082],
                ],
                "continuum": {
                    "base": 0.0001966,
                    "mu": -1.178,
                    "sigma": 1.282,
                    "negative": 0.02731,
                    "max_ratio": 49.47,
                },
            },
            "kin": {
                "pt0": [[1.602, 2.602, 29.82], [1.582, 2.205, 36.71], [1.534, 2.265, 54.26]],
                "eta": [1.917, 0.7777, 1.543],
                "dphi": [[1.0, -0.3953], [1.0, -0.3195], [0.5616, -0.2781]],
                "mll": [
                    [4.595, 0.9483, 39.0, 0.6309, 0.6644],
                    [5.121, 0.174, 45.28, 0.5467, 0.5185],
                    [4.486, 0.2679, 45.89, 0.4275, 0.526],
                ],
                "zpeak": [0.04793, 91.4, 3.026],
                "met": [
                    [4.219, 1.23, 45.48, 0.8386, 0.09128],
                    [2.282, 2.252, 55.4, 0.336, 0.02003],
                    [1.832, 2.784, 72.6, 0.2193, 0.0985],
                ],
                "dphi_met": [[0.9722, -0.8368], [1.0, -0.4088], [0.09959, -0.5788]],
                "jpt0": [[0.8944, 2.419, 21.39], [1.192, 3.972, 88.83]],
                "jeta0": [1.757],
                "jdphi0": [[1.0, -0.3399], [1.0, -0.449]],
                "jpt1": [0.8104, 1.201],
                "jeta1": [0.2715, 2.091],
                "jdphi1": [0.1855, -0.4293],
                "jm": [-1.976, 0.6593],
            },
        },
    }
}


def pair_index(pairs: tuple, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Index of each ``(a, b)`` in ``pairs`` (-1 where absent)."""
    idx = np.full(len(a), -1)
    for k, (x, y) in enumerate(pairs):
        idx[(a == x) & (b == y)] = k
    return idx


def lepton_acceptance(types: np.ndarray) -> np.ndarray:
    """Pseudorapidity intervals, shape ``(n, 3, 2)``, of leptons of the given types (11, 13)."""
    return np.where((types == 11)[:, None, None], ACCEPTANCE[11], ACCEPTANCE[13])


def latents(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """Recompute the event-model latents of a frame with the ``dataWW_d1`` kinematic columns.

    Returns the continuous latents of :mod:`._kinematics` (GeV, radians; jet entries NaN where
    the jet is absent) and the discrete ones: ``jet_n``, ``lep_n``, ``flavour`` and ``charge``
    (indices into :data:`FLAVOURS` and :data:`CHARGES`, -1 if not a known pair).
    """
    col = {k: frame[k].to_numpy() for k in frame.columns}
    pt0, pt1 = col["lep_pt_0"].astype(float), col["lep_pt_1"].astype(float)
    eta0, eta1 = col["lep_eta_0"].astype(float), col["lep_eta_1"].astype(float)
    phi0, phi1 = col["lep_phi_0"].astype(float), col["lep_phi_1"].astype(float)
    dphi = kin.wrap_angle(phi1 - phi0)
    ptll, phill = kin.dilepton(pt0, pt1, phi0, phi1)
    jet_n = col["jet_n"].astype(np.int64)
    has0, has1 = jet_n >= 1, jet_n >= 2

    def jet(key: str, has: np.ndarray) -> np.ndarray:
        return np.where(has, col[key].astype(float), np.nan)

    jpt0, jpt1 = jet("jet_pt_0", has0), jet("jet_pt_1", has1)
    jeta0, jeta1 = jet("jet_eta_0", has0), jet("jet_eta_1", has1)
    jphi0, jphi1 = jet("jet_phi_0", has0), jet("jet_phi_1", has1)
    with np.errstate(invalid="ignore"):
        jm0 = np.sqrt(
            np.maximum((jet("jet_E_0", has0) / 1e3) ** 2 - (jpt0 * np.cosh(jeta0)) ** 2, 0)
        )
        jm1 = np.sqrt(
            np.maximum((jet("jet_E_1", has1) / 1e3) ** 2 - (jpt1 * np.cosh(jeta1)) ** 2, 0)
        )
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
        "met": col["met_et"].astype(float),
        "dphi_met": kin.wrap_angle(col["met_phi"] - phill),
        "jpt0": jpt0,
        "jeta0": jeta0,
        "jdphi0": kin.wrap_angle(jphi0 - phill),
        "jm0": jm0,
        "jpt1": jpt1,
        "jeta1": jeta1,
        "jdphi1": kin.wrap_angle(jphi1 - jphi0),
        "jm1": jm1,
        "jet_n": jet_n,
        "lep_n": col["lep_n"].astype(np.int64),
        "flavour": pair_index(FLAVOURS, col["lep_type_0"], col["lep_type_1"]),
        "charge": pair_index(CHARGES, col["lep_charge_0"], col["lep_charge_1"]),
        "type0": col["lep_type_0"].astype(np.int64),
        "type1": col["lep_type_1"].astype(np.int64),
    }


def _process_logpdf(lat: dict[str, np.ndarray], proc: dict) -> np.ndarray:
    """Log density of the kinematic columns under one process (discrete factors included)."""
    same = lat["type0"] == lat["type1"]
    lp = kin.event_logpdf(
        lat,
        proc["kin"],
        jet_n=lat["jet_n"],
        acc0=lepton_acceptance(lat["type0"]),
        acc1=lepton_acceptance(lat["type1"]),
        same_flavour=same,
        sel=SELECTION,
        jet_mass=False,  # common to all processes (fitted on all events together)
    )
    with np.errstate(divide="ignore"):
        p3 = proc["lep_n3"]
        lp = lp + np.log(np.where(lat["lep_n"] == 3, p3, np.where(lat["lep_n"] == 2, 1 - p3, 0)))
        for key in ("flavour", "charge"):
            pmf = np.append(proc[key], 0.0)  # index -1 -> probability 0
            lp = lp + np.log(pmf[lat[key]])
        head, ratio = proc["jet_n"]["head"], proc["jet_n"]["ratio"]
        lp = lp + np.log(kin.pmf_with_tail(head, ratio, lat["jet_n"]))
    return lp


def likelihood_ratio(frame: pd.DataFrame, *, log: bool = False) -> np.ndarray:
    """True likelihood ratio p(x | signal) / p(x | background) of each row of a twin frame.

    Parameters
    ----------
    frame : pandas.DataFrame, shape (n, >= 22)
        Rows with the kinematic columns of ``dataWW_d1`` (met, leptons, jets, multiplicities);
        ``label``, ``channelNumber``, ``mcWeight`` and the numbering columns are not used.
    log : bool
        Return the natural log of the ratio instead.

    Returns
    -------
    ndarray, shape (n,)
        The ratio of the signal density (VBF and ggF mixed in their proportions) to the
        background density. Values are recomputed from the 5-digit columns, so they agree with
        the generator's own to about 1e-4 relative.
    """
    lat = latents(frame)
    procs = MODEL["processes"]
    sig = [np.log(p["share"]) + _process_logpdf(lat, p) for p in procs.values() if p["label"]]
    bkg = [np.log(p["share"]) + _process_logpdf(lat, p) for p in procs.values() if not p["label"]]
    with np.errstate(invalid="ignore", over="ignore"):
        llr = np.logaddexp.reduce(sig, axis=0) - np.logaddexp.reduce(bkg, axis=0)
        return llr if log else np.exp(llr)


# --------------------------------------------------------------------------------------------
# Generation
# --------------------------------------------------------------------------------------------

#: The processes: name -> (channelNumber, label).
PROCESSES = {"vbf": (345323, 1), "ggf": (345324, 1), "diboson": (363492, 0)}


def normalised(p) -> np.ndarray:
    """Probabilities rescaled to sum to one."""
    p = np.asarray(p, dtype=np.float64)
    return p / p.sum()


def _sample_weights(rng: np.random.Generator, wmodel: dict, jet_n: np.ndarray) -> np.ndarray:
    """mcWeight: a discrete value or the continuum, with probabilities depending on jet_n."""
    n = len(jet_n)
    table = np.array([normalised(row) for row in wmodel["category"]])
    cum = np.cumsum(table[np.minimum(jet_n, len(table) - 1)], axis=1)
    cat = np.minimum((rng.random(n)[:, None] > cum).sum(axis=1), table.shape[1] - 1)
    values = np.append(wmodel["values"], np.nan)
    w = values[cat]
    cont = wmodel.get("continuum")
    if cont is not None:
        # log(log(|w| / base)) is normal, truncated at the largest weight of the real slice: the
        # double exponential has a tail far beyond any real Sherpa weight otherwise.
        top = (np.log(np.log(cont["max_ratio"])) - cont["mu"]) / cont["sigma"]
        z = special.ndtri(rng.random(n) * special.ndtr(top))
        size = cont["base"] * np.exp(np.exp(cont["mu"] + cont["sigma"] * z))
        sign = np.where(rng.random(n) < cont["negative"], -1.0, 1.0)
        w = np.where(np.isnan(w), sign * size, w)
    return w


def _sample_process(rng: np.random.Generator, proc: dict, n: int) -> dict[str, np.ndarray]:
    """Columns (before numbering and rounding) of ``n`` events of one process."""
    lep_n = np.where(rng.random(n) < proc["lep_n3"], 3, 2)
    t0, t1 = np.array(FLAVOURS)[rng.choice(4, n, p=normalised(proc["flavour"]))].T
    q0, q1 = np.array(CHARGES)[rng.choice(4, n, p=normalised(proc["charge"]))].T
    jet_n = kin.pmf_with_tail_sample(rng, proc["jet_n"]["head"], proc["jet_n"]["ratio"], n)
    lat = kin.sample_event(
        rng,
        proc["kin"],
        jet_n=jet_n,
        acc0=lepton_acceptance(t0),
        acc1=lepton_acceptance(t1),
        same_flavour=t0 == t1,
        sel=SELECTION,
    )
    m0 = np.where(t0 == 11, LEPTON_MASS[11], LEPTON_MASS[13])
    m1 = np.where(t1 == 11, LEPTON_MASS[11], LEPTON_MASS[13])
    cols: dict[str, np.ndarray] = {
        "met_et": lat["met"],
        "met_phi": kin.wrap_angle(lat["phill"] + lat["dphi_met"]),
        "lep_n": lep_n,
        "lep_pt_0": lat["pt0"],
        "lep_pt_1": lat["pt1"],
        "lep_eta_0": lat["eta0"],
        "lep_eta_1": lat["eta1"],
        "lep_phi_0": lat["phi0"],
        "lep_phi_1": lat["phi1"],
        "lep_E_0": 1e3 * kin.ptetaphim_to_pxpypze(lat["pt0"], lat["eta0"], 0.0, m0)[3],
        "lep_E_1": 1e3 * kin.ptetaphim_to_pxpypze(lat["pt1"], lat["eta1"], 0.0, m1)[3],
        "lep_charge_0": q0,
        "lep_charge_1": q1,
        "lep_type_0": t0,
        "lep_type_1": t1,
        "jet_n": jet_n,
    }
    jphi0 = kin.wrap_angle(lat["phill"] + lat["jdphi0"])
    jphi1 = kin.wrap_angle(jphi0 + lat["jdphi1"])
    for i, phi in ((0, jphi0), (1, jphi1)):
        pt, eta, m = lat[f"jpt{i}"], lat[f"jeta{i}"], lat[f"jm{i}"]
        has = jet_n > i
        cols[f"jet_pt_{i}"] = np.where(has, pt, MISSING)
        cols[f"jet_eta_{i}"] = np.where(has, eta, MISSING)
        cols[f"jet_phi_{i}"] = np.where(has, phi, MISSING)
        energy = 1e3 * np.sqrt((pt * np.cosh(eta)) ** 2 + m**2)
        cols[f"jet_E_{i}"] = np.where(has, energy, MISSING)
    cols["mcWeight"] = _sample_weights(rng, proc["weight"], jet_n)
    return cols


def _process_counts(events: int) -> dict[str, int]:
    """Events per process: two thirds signal, split VBF/ggF as in the real file."""
    n_sig = round(events * SIGNAL_FRACTION)
    procs = MODEL["processes"]
    n_vbf = round(n_sig * procs["vbf"]["share"])
    return {"vbf": n_vbf, "ggf": n_sig - n_vbf, "diboson": events - n_sig}


def generate(events: int = DEFAULT_EVENTS, seed: int = 0) -> dict[str, pd.DataFrame]:
    """Generate the twin in memory.

    Parameters
    ----------
    events : int
        Number of events (two thirds signal).
    seed : int
        Seed of ``numpy.random.default_rng``; the same seed gives the same events.

    Returns
    -------
    dict
        ``{"dataWW_d1.root": frame}``, the frame having the 30 branches of the real tree in order
        and with their dtypes, events shuffled and numbered by ``index``.
    """
    rng = np.random.default_rng(seed)
    parts = []
    for name, n in _process_counts(int(events)).items():
        channel, label = PROCESSES[name]
        cols = _sample_process(rng, MODEL["processes"][name], n)
        cols["label"] = np.full(n, label)
        cols["channelNumber"] = np.full(n, channel)
        top = max(EVENT_NUMBER_RANGE[channel], 2 * n)
        cols["eventNumber"] = rng.choice(top, size=n, replace=False) + 1
        parts.append(cols)
    order = rng.permutation(int(events))
    data = {}
    for key, dtype in BRANCHES.items():
        if key == "index":
            data[key] = np.arange(int(events), dtype=np.int64)
        elif key == "runNumber":
            data[key] = np.full(int(events), RUN_NUMBER, dtype=np.int64)
        else:
            joined = np.concatenate([p[key] for p in parts])[order]
            if dtype == "float64":
                joined = kin.round_significant(joined)
            data[key] = joined.astype(dtype)
    return {FILES[0]: pd.DataFrame(data)}


def write(
    out_dir: Path, *, events: int = DEFAULT_EVENTS, seed: int = 0, progress: bool = False
) -> dict[str, Path]:
    """Write ``dataWW_d1.root`` (TTree ``tree_event``) into ``out_dir``; return name -> path.

    The file holds the events of :func:`generate` with the same arguments, written in chunks of
    100,000 (a tqdm bar over the chunks when ``progress``).
    """
    import uproot
    from tqdm.auto import tqdm

    frame = generate(events, seed)[FILES[0]]
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    path = Path(out_dir) / FILES[0]
    chunk = 100_000
    starts = range(0, max(len(frame), 1), chunk)
    bar = tqdm(starts, desc=FILES[0], unit="chunk", disable=not progress or len(starts) < 2)
    with uproot.recreate(path) as f:
        tree = f.mktree(TREE, {k: np.dtype(v) for k, v in BRANCHES.items()})
        for start in bar:
            part = frame.iloc[start : start + chunk]
            tree.extend({k: part[k].to_numpy() for k in BRANCHES})
    return {FILES[0]: path}


# --------------------------------------------------------------------------------------------
# Calibration on the real slice
# --------------------------------------------------------------------------------------------

_START = {
    "pt0": [1.5, 2.5, 25.0] * 3,
    "eta": [1.2, 0.2, 1.2],
    "dphi": [0.5, 0.2] * 3,
    "mll": [2.0, 2.0, 20.0, 0.5, 0.5] * 3,
    "zpeak": [0.05, 91.19, 3.0],
    "met": [2.0, 2.0, 40.0, 0.3, 0.0] * 3,
    "dphi_met": [0.5, -0.3] * 3,
    "jpt0": [1.0, 3.0, 25.0] * 2,
    "jeta0": [1.5],
    "jdphi0": [0.5, -0.3] * 2,
    "jpt1": [1.0, 2.0],
    "jeta1": [0.0, 1.5],
    "jdphi1": [0.5, -0.3],
    "jm": [-2.0, 0.5],
}


def _sig4(x: float) -> float:
    return float(f"{x:.4g}")


def _weight_model(w: np.ndarray, jet_n: np.ndarray, signal: bool) -> dict:
    if signal:
        value = float(f"{np.median(np.abs(w)):.5g}")
        neg = float((w < 0).mean())
        return {"values": [value, -value], "category": [[_sig4(1 - neg), _sig4(neg)]]}
    values = np.array(BACKGROUND_WEIGHTS)
    cat = np.full(len(w), len(values))
    for k, v in enumerate(values):
        cat[np.isclose(w, v, rtol=1e-6, atol=0)] = k
    table = []
    for b in range(5):
        counts = np.bincount(cat[np.minimum(jet_n, 4) == b], minlength=len(values) + 1) + 0.5
        table.append([_sig4(c) for c in counts / counts.sum()])
    cont = w[cat == len(values)]
    ratio = np.abs(cont) / values[2]
    excess = np.log(np.log(ratio[ratio > 1]))
    return {
        "values": values.tolist(),
        "category": table,
        "continuum": {
            "base": float(values[2]),
            "mu": _sig4(excess.mean()),
            "sigma": _sig4(excess.std()),
            "negative": _sig4((cont < 0).mean()),
            "max_ratio": _sig4(ratio.max()),
        },
    }


def calibrate(frame: pd.DataFrame) -> dict:
    """Fit :data:`MODEL` by maximum likelihood on real ``dataWW_d1`` events.

    Discrete factors are the observed frequencies (``jet_n`` above 4 as a geometric tail), the
    continuous ones are fitted factor by factor with :func:`._kinematics.fit_event_model`
    (jet masses on all processes together), and ``mcWeight`` by its discrete values per
    ``jet_n`` plus a log-normal continuum. Returns a dict of the layout of :data:`MODEL`.
    """
    lat = latents(frame)
    channel = frame["channelNumber"].to_numpy()
    counts = {name: int((channel == ch).sum()) for name, (ch, _) in PROCESSES.items()}
    model: dict = {"processes": {}}
    sub_all = {}
    # the few real events with leptons closer than the twin's isolation (8 of 10,000) are left
    # out of the fit of the continuous factors
    isolated = np.hypot(lat["eta1"] - lat["eta0"], lat["dphi"]) >= SELECTION.lep_dr_min
    for name, (ch, lab) in PROCESSES.items():
        mine = channel == ch
        every = {k: v[mine] for k, v in lat.items()}
        sub = {k: v[mine & isolated] for k, v in lat.items()}
        sub_all[name] = sub
        jet_n = every["jet_n"]
        excess = jet_n[jet_n >= 5] - 5
        # signal processes have no Z peak
        start = {**_START, "zpeak": [0.0, 91.19, 3.0]} if lab else _START
        kin_params = kin.fit_event_model(
            sub,
            start,
            jet_n=sub["jet_n"],
            acc0=lepton_acceptance(sub["type0"]),
            acc1=lepton_acceptance(sub["type1"]),
            same_flavour=sub["type0"] == sub["type1"],
            sel=SELECTION,
            fixed=["jm", "zpeak"] if lab else ["jm"],
        )
        class_total = sum(counts[k] for k, (_, lb) in PROCESSES.items() if lb == lab)
        model["processes"][name] = {
            "channel": ch,
            "label": lab,
            "share": _sig4(counts[name] / class_total),
            "lep_n3": _sig4((every["lep_n"] == 3).mean()),
            "flavour": [_sig4((every["flavour"] == k).mean()) for k in range(4)],
            "charge": [_sig4((every["charge"] == k).mean()) for k in range(4)],
            "jet_n": {
                "head": [_sig4((jet_n == k).mean()) for k in range(5)],
                "ratio": _sig4(excess.mean() / (1 + excess.mean())) if len(excess) else 0.5,
            },
            "weight": _weight_model(frame["mcWeight"].to_numpy()[mine], jet_n, bool(lab)),
            "kin": kin_params,
        }
    # jet masses: one law for every process
    pooled = {k: np.concatenate([s[k] for s in sub_all.values()]) for k in lat}
    jm = kin.fit_event_model(
        pooled,
        _START,
        jet_n=pooled["jet_n"],
        acc0=lepton_acceptance(pooled["type0"]),
        acc1=lepton_acceptance(pooled["type1"]),
        same_flavour=pooled["type0"] == pooled["type1"],
        sel=SELECTION,
        fixed=[k for k in kin.PARAM_SHAPES if k != "jm"],
    )["jm"]
    for proc in model["processes"].values():
        proc["kin"]["jm"] = jm
    return model
